//! The asset canvas: a custom widget on egui's `Painter` over the document's project.
//!
//! Why custom: `egui_graphs` 0.32 has no rectangle selection, multi-select, group move or
//! drag-to-connect, visits every node each frame and repaints when idle; a painter canvas that
//! culls and simplifies was 1.2–2× faster at 2,000–10,000 assets (docs/canvas.md).
//!
//! View state (zoom, pan, selection, drags) lives here, never in the model. The widget reads the
//! [`Document`] and returns [`CanvasAction`]s; edits are applied by the studio after the frame.
//! One canvas widget takes every click and drag and hit-tests the cards itself; each visible
//! card also registers a hover-only widget carrying its key as the accessible label.

mod edges;
mod geometry;
pub mod groups;
mod menu;
pub mod notes;
mod paint;
pub mod palette;

use std::collections::{BTreeSet, HashMap};

use egui::{Id, Key, Modifiers, PointerButton, Pos2, Rect, Sense, Vec2, pos2, vec2};

use crate::model::edit::{Document, Edit};
use crate::model::layout::{NODE_HEIGHT, NODE_WIDTH};
use crate::model::{AssetKey, CanvasPos};
use crate::ui::runs::NodeStatus;

pub use geometry::Geometry;

/// Below this zoom, cards are flat boxes without text or ports.
pub const SIMPLIFY_BELOW_ZOOM: f32 = 0.45;
/// From this zoom on, cards list their inferred columns under their other lines.
pub const COLUMNS_FROM_ZOOM: f32 = 1.5;
/// Past this zoom a card's text stops growing, so a zoomed-in card has room for its columns.
const TEXT_ZOOM_CAP: f32 = 1.3;

/// The zoom a card's text and badges are laid out at.
pub fn text_zoom(zoom: f32) -> f32 {
    zoom.min(TEXT_ZOOM_CAP)
}

/// Each asset's inferred columns for the cards (asked of the job worker once per document
/// revision while the canvas is zoomed in to [`COLUMNS_FROM_ZOOM`]).
#[derive(Debug, Default)]
pub struct CardColumns {
    /// The known columns by asset (assets whose columns are unknown are absent).
    pub columns: std::collections::HashMap<AssetKey, Vec<crate::model::schema::SchemaColumn>>,
    /// The document revision the columns were last asked for, and that request's id.
    pub asked: Option<(u64, u64)>,
    /// Whether that request has been answered.
    pub answered: bool,
}
pub const MIN_ZOOM: f32 = 0.02;
pub const MAX_ZOOM: f32 = 2.5;
/// Above this many visible cards, cards get no accessibility widget (they are too small to
/// read anyway; the find box reaches every asset).
const MAX_ACCESSIBLE_CARDS: usize = 400;
/// Moves snap to this grid, in canvas units.
const SNAP: f32 = 8.0;

/// What the canvas asks the studio to do after this frame.
#[derive(Debug, Clone, PartialEq)]
pub enum CanvasAction {
    Apply(Edit),
    /// Show the inspector for the selection (Enter, double-click on a card).
    OpenInspector,
    /// Open the add-asset palette for a new asset at this canvas position.
    OpenPalette(CanvasPos),
    /// A studio command on the selection (the card's context menu: preview, materialize,
    /// run checks, copy key, rename, duplicate, delete).
    Command(crate::ui::UICommand),
    /// Open the note editor: on the note `id`, or (`None`) for a new note at `pos`.
    EditNote {
        id: Option<String>,
        pos: CanvasPos,
    },
    /// Preview what flows along an edge: the upstream's latest stored materialization.
    PreviewEdge {
        upstream: AssetKey,
        downstream: AssetKey,
    },
}

#[derive(Debug, Clone, Default)]
enum Drag {
    #[default]
    None,
    Pan,
    /// Moving the selected cards; `offset` in canvas units.
    Move {
        nodes: Vec<usize>,
        offset: Vec2,
    },
    /// Dragging a new dependency out of `from`'s output port.
    Connect {
        from: usize,
    },
    /// Rectangle selection, screen coordinates of where it started.
    Rect {
        start: Pos2,
    },
    /// Moving a note from `from`; both in canvas units.
    MoveNote {
        id: String,
        from: Pos2,
        offset: Vec2,
    },
}

/// Everything about the canvas that is view, not data.
#[derive(Debug)]
pub struct CanvasState {
    pub zoom: f32,
    /// Screen offset of the canvas origin from the widget's top-left corner.
    pub pan: Vec2,
    pub selection: BTreeSet<AssetKey>,
    /// The card arrow keys move from.
    pub focus: Option<AssetKey>,
    /// Assets matched by the selection-syntax box, outlined.
    pub highlight: BTreeSet<AssetKey>,
    /// The lineage of the column chosen in the inspector: each asset on it, outlined, with
    /// its columns on the way named above its card.
    pub column_lineage: std::collections::BTreeMap<AssetKey, BTreeSet<String>>,
    /// The cards' columns, listed when zoomed in.
    pub card_columns: CardColumns,
    /// Fit the whole project into view on the next frame.
    pub fit_requested: bool,
    /// Centre this asset on the next frame (find).
    pub reveal: Option<AssetKey>,
    /// Keep this (new) card in view while it stays selected and the user does not move the
    /// view: a panel opening at the same moment (Diagnostics) must not cover it.
    pub keep_in_view: Option<AssetKey>,
    drag: Drag,
    geometry: Geometry,
    geometry_revision: Option<u64>,
    /// The last widget rectangle, for placing new assets in the middle of the view.
    last_rect: Rect,
    /// Card under the pointer when the context menu opened.
    context_target: Option<usize>,
    /// The note clicked last (Delete removes it), by id.
    pub selected_note: Option<String>,
    /// Note under the pointer when the context menu opened.
    context_note: Option<String>,
    /// Where the context menu was opened, in canvas units (what it adds goes there).
    context_pos: Option<Pos2>,
}

impl Default for CanvasState {
    fn default() -> Self {
        Self::new()
    }
}

impl CanvasState {
    pub fn new() -> Self {
        Self {
            zoom: 1.0,
            pan: Vec2::ZERO,
            selection: BTreeSet::new(),
            focus: None,
            highlight: BTreeSet::new(),
            column_lineage: std::collections::BTreeMap::new(),
            card_columns: CardColumns::default(),
            fit_requested: true,
            reveal: None,
            keep_in_view: None,
            drag: Drag::None,
            geometry: Geometry::default(),
            geometry_revision: None,
            last_rect: Rect::from_min_size(Pos2::ZERO, vec2(1280.0, 800.0)),
            context_target: None,
            selected_note: None,
            context_note: None,
            context_pos: None,
        }
    }

    /// Selects exactly `keys`.
    pub fn select(&mut self, keys: impl IntoIterator<Item = AssetKey>) {
        self.selection = keys.into_iter().collect();
        self.focus = self.selection.iter().next().cloned();
    }

    /// The edges drawn in the last frame, by card: an asset's key, or `group NAME` for a
    /// collapsed group's card.
    pub fn drawn_edges(&self) -> Vec<(String, String)> {
        let name = |i: usize| {
            let n = &self.geometry.nodes[i];
            match &n.group {
                Some(g) => format!("group {}", g.name),
                None => n.key.to_string(),
            }
        };
        self.geometry
            .edges
            .iter()
            .map(|&(a, b)| (name(a), name(b)))
            .collect()
    }

    /// The lane headers on screen in the last frame (the tour points at them).
    pub fn lane_headers_rect(&self) -> Option<Rect> {
        let rect = self.last_rect;
        self.geometry
            .lanes
            .iter()
            .map(|lane| {
                let left = self.to_screen(rect, pos2(lane.min_x, 0.0)).x;
                let right = self.to_screen(rect, pos2(lane.max_x, 0.0)).x;
                Rect::from_min_max(pos2(left, rect.top()), pos2(right, rect.top() + 28.0))
                    .intersect(rect)
            })
            .filter(Rect::is_positive)
            .reduce(Rect::union)
    }

    /// The single selected asset, if exactly one is selected.
    pub fn single_selection(&self) -> Option<&AssetKey> {
        if self.selection.len() == 1 {
            self.selection.iter().next()
        } else {
            None
        }
    }

    /// The canvas position at the centre of the view.
    pub fn view_center(&self) -> CanvasPos {
        let zoom = self.zoom.max(MIN_ZOOM);
        let c = (self.last_rect.center() - self.last_rect.min - self.pan) / zoom;
        CanvasPos {
            x: snap(c.x - NODE_WIDTH / 2.0),
            y: snap(c.y - NODE_HEIGHT / 2.0),
        }
    }

    /// Drops selected keys that no longer exist.
    fn prune(&mut self, geometry: &Geometry) {
        self.selection.retain(|k| geometry.index.contains_key(k));
        if self
            .focus
            .as_ref()
            .is_some_and(|k| !geometry.index.contains_key(k))
        {
            self.focus = None;
        }
    }

    fn origin(&self, rect: Rect) -> Pos2 {
        rect.min + self.pan
    }

    fn to_screen(&self, rect: Rect, p: Pos2) -> Pos2 {
        self.origin(rect) + p.to_vec2() * self.zoom
    }

    fn to_canvas(&self, rect: Rect, p: Pos2) -> Pos2 {
        ((p - self.origin(rect)) / self.zoom).to_pos2()
    }

    /// A card's rectangle on screen, including the offset of a move in progress.
    fn card_rect(&self, rect: Rect, geometry: &Geometry, i: usize, moving: &[bool]) -> Rect {
        let mut p = geometry.nodes[i].pos;
        if moving.get(i).copied().unwrap_or(false)
            && let Drag::Move { offset, .. } = &self.drag
        {
            p += *offset;
        }
        Rect::from_min_size(
            self.to_screen(rect, p),
            vec2(NODE_WIDTH, NODE_HEIGHT) * self.zoom,
        )
    }

    fn fit(&mut self, rect: Rect, bounds: Option<Rect>) {
        let Some(bounds) = bounds else {
            self.zoom = 1.0;
            self.pan = vec2(40.0, 60.0);
            return;
        };
        let margin = 48.0;
        let avail = (rect.size() - vec2(margin, margin) * 2.0).max(vec2(50.0, 50.0));
        self.zoom = (avail.x / bounds.width())
            .min(avail.y / bounds.height())
            .clamp(MIN_ZOOM, 1.0);
        self.center_on(rect, bounds.center());
    }

    /// Whether every card is inside the view `rect` (no minimap needed).
    fn graph_fits(&self, rect: Rect) -> bool {
        self.geometry.bounds.is_none_or(|b| {
            rect.expand(1.0).contains_rect(Rect::from_min_max(
                self.to_screen(rect, b.min),
                self.to_screen(rect, b.max),
            ))
        })
    }

    fn center_on(&mut self, rect: Rect, canvas_point: Pos2) {
        self.pan = rect.size() / 2.0 - canvas_point.to_vec2() * self.zoom;
    }

    fn zoom_about(&mut self, rect: Rect, screen_point: Pos2, factor: f32) {
        let new_zoom = (self.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        let origin = self.origin(rect);
        let new_origin = screen_point - (screen_point - origin) * (new_zoom / self.zoom);
        self.pan = new_origin - rect.min;
        self.zoom = new_zoom;
    }
}

fn snap(v: f32) -> f32 {
    (v / SNAP).round() * SNAP
}

/// Per-asset facts drawn on the cards besides the spec: validation and run status.
#[derive(Debug, Default, Clone)]
pub struct CardBadges {
    /// Errors and warnings by asset.
    pub problems: HashMap<AssetKey, (usize, usize)>,
    /// Run status, staleness or a preview error by asset.
    pub status: HashMap<AssetKey, crate::ui::runs::NodeStatus>,
    /// The verdict of each asset's checks on its latest data (assets with checks only).
    pub checks: HashMap<AssetKey, crate::app::status::CheckBadge>,
    /// Each asset with a freshness policy: its state now and why.
    pub freshness: HashMap<AssetKey, (crate::model::FreshnessState, String)>,
    /// Schema drift found by the asset's latest attempt: (an error?, what changed).
    pub drift: HashMap<AssetKey, (bool, String)>,
    /// The rows of each asset's latest stored materialization, and its partition (drawn on
    /// its outgoing edges).
    pub rows: HashMap<AssetKey, (u64, Option<String>)>,
}

/// Draws the canvas filling `ui` and returns what the user asked for.
pub fn canvas_ui(
    ui: &mut egui::Ui,
    state: &mut CanvasState,
    doc: &Document,
    badges: &CardBadges,
) -> Vec<CanvasAction> {
    let mut actions = Vec::new();
    if state.geometry_revision != Some(doc.revision()) {
        state
            .geometry
            .rebuild(doc.project(), doc.graph(), doc.structure_revision());
        state.geometry_revision = Some(doc.revision());
        let geometry = std::mem::take(&mut state.geometry);
        state.prune(&geometry);
        state.geometry = geometry;
    }
    let rect = ui.available_rect_before_wrap();
    ui.advance_cursor_after_rect(rect);
    let response = ui.interact(rect, Id::new("asset_canvas"), Sense::click_and_drag());
    // A drag whose pointer release egui never reported (e.g. the window lost focus) ends here
    // instead of sticking.
    if !matches!(state.drag, Drag::None) && !response.dragged() && !response.drag_stopped() {
        state.drag = Drag::None;
    }
    state.last_rect = rect;
    response
        .widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Other, true, "Asset canvas"));
    if state.fit_requested {
        state.fit(rect, state.geometry.bounds);
        state.fit_requested = false;
    }
    if let Some(key) = state.reveal.take()
        && let Some(&i) = state.geometry.index.get(&key)
    {
        if state.zoom < 0.8 {
            state.zoom = 1.0;
        }
        let center = state.geometry.nodes[i].pos + vec2(NODE_WIDTH, NODE_HEIGHT) / 2.0;
        state.center_on(rect, center);
    }

    keep_card_in_view(ui, state, rect, &response);

    let pointer = ui.input(|i| i.pointer.interact_pos());
    let hovered_card = pointer
        .filter(|p| rect.contains(*p))
        .and_then(|p| hit_card(state, rect, p));

    handle_zoom_and_pan(ui, state, rect, &response);
    let canvas_painter = ui.painter_at(rect);
    let notes = notes::layout(&canvas_painter, state, rect, doc.project());
    handle_pointer(
        ui,
        state,
        rect,
        &response,
        hovered_card,
        &notes,
        &mut actions,
    );
    if response.has_focus() || !ui.ctx().text_edit_focused() {
        handle_keys(ui, state, rect, &response, &mut actions);
    }
    menu::context_menu(state, &response, &mut actions);
    if state
        .selected_note
        .as_ref()
        .is_some_and(|id| !doc.project().layout.notes.contains_key(id))
    {
        state.selected_note = None;
    }

    // The notes move with a drag in progress: laid out again after the pointer moved them.
    let notes = if matches!(state.drag, Drag::MoveNote { .. }) {
        notes::layout(&canvas_painter, state, rect, doc.project())
    } else {
        notes
    };
    let drawn = paint::paint(
        ui,
        &canvas_painter,
        state,
        rect,
        badges,
        hovered_card,
        &notes,
    );
    edges::paint_and_interact(ui, &canvas_painter, state, rect, badges, &mut actions);
    notes::accessible(ui, &notes, rect);
    accessible_cards(ui, state, badges, rect, &drawn.visible);
    if !state.graph_fits(rect) {
        minimap_ui(ui, state, rect);
    }
    hint_ui(ui, rect);
    lane_headers(ui, state, rect);
    actions
}

/// Pans just enough to show the whole of the card [`CanvasState::keep_in_view`] names, until
/// it is deselected or the user presses on the canvas or scrolls.
fn keep_card_in_view(
    ui: &egui::Ui,
    state: &mut CanvasState,
    rect: Rect,
    response: &egui::Response,
) {
    let Some(key) = state.keep_in_view.clone() else {
        return;
    };
    let user_moves = response.is_pointer_button_down_on()
        || (response.hovered() && ui.input(|i| i.smooth_scroll_delta != Vec2::ZERO));
    let Some(&i) = state.geometry.index.get(&key) else {
        state.keep_in_view = None;
        return;
    };
    if user_moves || state.single_selection() != Some(&key) {
        state.keep_in_view = None;
        return;
    }
    let card = state.card_rect(rect, &state.geometry, i, &[]);
    let inner = rect.shrink(16.0);
    let shift = |lo: f32, hi: f32, min: f32, max: f32| {
        if hi - lo > max - min || lo < min {
            min - lo
        } else if hi > max {
            max - hi
        } else {
            0.0
        }
    };
    state.pan += vec2(
        shift(card.left(), card.right(), inner.left(), inner.right()),
        shift(card.top(), card.bottom(), inner.top(), inner.bottom()),
    );
}

fn hit_card(state: &CanvasState, rect: Rect, p: Pos2) -> Option<usize> {
    let c = state.to_canvas(rect, p);
    // Last drawn is on top.
    state
        .geometry
        .nodes
        .iter()
        .enumerate()
        .rev()
        .find(|(_, n)| Rect::from_min_size(n.pos, vec2(NODE_WIDTH, NODE_HEIGHT)).contains(c))
        .map(|(i, _)| i)
}

/// The output port (right edge, middle) of card `i` on screen.
fn output_port(state: &CanvasState, rect: Rect, i: usize) -> Pos2 {
    let n = &state.geometry.nodes[i];
    state.to_screen(rect, n.pos + vec2(NODE_WIDTH, NODE_HEIGHT / 2.0))
}

/// The card whose output port is under `p` (ports stick out of the card's right edge).
fn hit_port(state: &CanvasState, rect: Rect, p: Pos2) -> Option<usize> {
    if state.zoom < SIMPLIFY_BELOW_ZOOM {
        return None;
    }
    // A collapsed group has no port: expand it to connect one of its assets.
    (0..state.geometry.nodes.len()).rev().find(|&i| {
        state.geometry.nodes[i].group.is_none() && output_port(state, rect, i).distance(p) <= 12.0
    })
}

fn handle_zoom_and_pan(
    ui: &egui::Ui,
    state: &mut CanvasState,
    rect: Rect,
    response: &egui::Response,
) {
    if let Some(hover) = response.hover_pos() {
        let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta, i.zoom_delta()));
        let mut factor = pinch;
        if scroll.y != 0.0 {
            factor *= (scroll.y * 0.0025).exp();
        }
        if (factor - 1.0).abs() > f32::EPSILON {
            state.zoom_about(rect, hover, factor);
        }
    }
    let space = ui.input(|i| i.key_down(Key::Space)) && !ui.ctx().text_edit_focused();
    if response.drag_started_by(PointerButton::Middle)
        || (space && response.drag_started_by(PointerButton::Primary))
    {
        state.drag = Drag::Pan;
    }
    if matches!(state.drag, Drag::Pan) {
        state.pan += response.drag_delta();
        if response.drag_stopped() {
            state.drag = Drag::None;
        }
    }
}

fn handle_pointer(
    ui: &egui::Ui,
    state: &mut CanvasState,
    rect: Rect,
    response: &egui::Response,
    hovered: Option<usize>,
    notes: &[notes::NoteView],
    actions: &mut Vec<CanvasAction>,
) {
    let modifiers = ui.input(|i| i.modifiers);
    let additive = modifiers.shift || modifiers.command;
    if response.drag_started_by(PointerButton::Primary) && matches!(state.drag, Drag::None) {
        response.request_focus();
        let origin = ui
            .input(|i| i.pointer.press_origin())
            .unwrap_or(rect.center());
        match (hit_port(state, rect, origin), hit_card(state, rect, origin)) {
            (Some(i), _) => state.drag = Drag::Connect { from: i },
            (None, Some(i)) => {
                let node = &state.geometry.nodes[i];
                let key = node.key.clone();
                let keys = node.keys();
                if !keys.iter().all(|k| state.selection.contains(k)) {
                    if !additive {
                        state.selection.clear();
                    }
                    state.selection.extend(keys);
                }
                state.focus = Some(key);
                // A collapsed group's members share its card: each card moves once.
                let cards = state
                    .selection
                    .iter()
                    .filter_map(|k| state.geometry.index.get(k).copied())
                    .collect::<BTreeSet<usize>>()
                    .into_iter()
                    .collect();
                state.drag = Drag::Move {
                    nodes: cards,
                    offset: Vec2::ZERO,
                };
            }
            (None, None) => match notes::hit(notes, origin) {
                Some(n) => {
                    state.selected_note = Some(notes[n].id.clone());
                    state.drag = Drag::MoveNote {
                        id: notes[n].id.clone(),
                        from: state.to_canvas(rect, notes[n].rect.min),
                        offset: Vec2::ZERO,
                    };
                }
                None => state.drag = Drag::Rect { start: origin },
            },
        }
    }
    drag_ui(ui, state, rect, response, additive, actions);
    let note = response
        .interact_pointer_pos()
        .filter(|_| hovered.is_none())
        .and_then(|p| notes::hit(notes, p))
        .map(|n| &notes[n]);
    if let Some(note) = note {
        note_clicks_ui(state, rect, response, note, actions);
    } else {
        if response.clicked() || response.secondary_clicked() {
            state.selected_note = None;
            state.context_note = None;
        }
        clicks_ui(state, rect, response, hovered, additive, actions);
    }
}

/// A drag under way: moving cards, connecting two, or a selection rectangle; its end makes
/// the edit (or the selection).
fn drag_ui(
    ui: &egui::Ui,
    state: &mut CanvasState,
    rect: Rect,
    response: &egui::Response,
    additive: bool,
    actions: &mut Vec<CanvasAction>,
) {
    match &mut state.drag {
        Drag::Move { offset, nodes } => {
            *offset += response.drag_delta() / state.zoom;
            if response.drag_stopped() {
                let at = |key: &AssetKey, p: Pos2| {
                    (
                        key.clone(),
                        CanvasPos {
                            x: snap(p.x),
                            y: snap(p.y),
                        },
                    )
                };
                // A collapsed group's card moves all its members by the same (snapped)
                // offset, keeping their arrangement exactly.
                let step = vec2(snap(offset.x), snap(offset.y));
                let moves: Vec<(AssetKey, CanvasPos)> = nodes
                    .iter()
                    .flat_map(|&i| {
                        let n = &state.geometry.nodes[i];
                        match &n.group {
                            Some(g) => g
                                .members
                                .iter()
                                .map(|m| {
                                    (
                                        m.key.clone(),
                                        CanvasPos {
                                            x: m.pos.x + step.x,
                                            y: m.pos.y + step.y,
                                        },
                                    )
                                })
                                .collect::<Vec<_>>(),
                            None => vec![at(&n.key, n.pos + *offset)],
                        }
                    })
                    .collect();
                if offset.length() > 0.5 {
                    actions.push(CanvasAction::Apply(Edit::MoveNodes { moves }));
                }
                state.drag = Drag::None;
            }
        }
        Drag::Connect { from } => {
            if response.drag_stopped() {
                let from = *from;
                if let Some(to) = ui
                    .input(|i| i.pointer.interact_pos())
                    .and_then(|p| hit_card(state, rect, p))
                    .filter(|&to| to != from && state.geometry.nodes[to].group.is_none())
                {
                    actions.push(CanvasAction::Apply(Edit::Connect {
                        upstream: state.geometry.nodes[from].key.clone(),
                        downstream: state.geometry.nodes[to].key.clone(),
                    }));
                }
                state.drag = Drag::None;
            }
        }
        Drag::Rect { start } => {
            if response.drag_stopped() {
                let end = ui.input(|i| i.pointer.interact_pos()).unwrap_or(*start);
                let area = Rect::from_two_pos(*start, end);
                if !additive {
                    state.selection.clear();
                }
                let moving = Vec::new();
                for i in 0..state.geometry.nodes.len() {
                    if state
                        .card_rect(rect, &state.geometry, i, &moving)
                        .intersects(area)
                    {
                        state.selection.extend(state.geometry.nodes[i].keys());
                    }
                }
                state.focus = state.selection.iter().next().cloned();
                state.drag = Drag::None;
            }
        }
        Drag::MoveNote { id, from, offset } => {
            *offset += response.drag_delta() / state.zoom;
            if response.drag_stopped() {
                if offset.length() > 0.5 {
                    let p = *from + *offset;
                    actions.push(CanvasAction::Apply(Edit::MoveNote {
                        id: id.clone(),
                        pos: CanvasPos {
                            x: snap(p.x),
                            y: snap(p.y),
                        },
                    }));
                }
                state.drag = Drag::None;
            }
        }
        Drag::Pan | Drag::None => {}
    }
}

/// Clicks on a note: select it, double-click to edit it, right-click for its menu.
fn note_clicks_ui(
    state: &mut CanvasState,
    rect: Rect,
    response: &egui::Response,
    note: &notes::NoteView,
    actions: &mut Vec<CanvasAction>,
) {
    if response.clicked() || response.secondary_clicked() {
        response.request_focus();
        state.selection.clear();
        state.selected_note = Some(note.id.clone());
    }
    if response.secondary_clicked() {
        state.context_target = None;
        state.context_note = Some(note.id.clone());
    }
    if response.double_clicked() {
        let c = state.to_canvas(rect, note.rect.min);
        actions.push(CanvasAction::EditNote {
            id: Some(note.id.clone()),
            pos: CanvasPos { x: c.x, y: c.y },
        });
    }
}

/// Clicks: select (or toggle with Shift/Ctrl), double-click to inspect or add an asset,
/// right-click to target the context menu.
fn clicks_ui(
    state: &mut CanvasState,
    rect: Rect,
    response: &egui::Response,
    hovered: Option<usize>,
    additive: bool,
    actions: &mut Vec<CanvasAction>,
) {
    if response.clicked() {
        response.request_focus();
        match hovered {
            Some(i) => {
                let node = &state.geometry.nodes[i];
                let key = node.key.clone();
                let keys = node.keys();
                if additive {
                    if node.stands_for(&state.selection) {
                        for k in &keys {
                            state.selection.remove(k);
                        }
                    } else {
                        state.selection.extend(keys);
                    }
                } else {
                    state.selection = keys.into_iter().collect();
                }
                state.focus = Some(key);
            }
            None if !additive => {
                state.selection.clear();
                // A click on an edge previews the data flowing along it.
                if let Some(action) = response
                    .interact_pointer_pos()
                    .and_then(|p| edges::hit_edge(state, rect, p))
                    .and_then(|i| edges::preview_action(state, i))
                {
                    actions.push(action);
                }
            }
            None => {}
        }
    }
    if response.double_clicked() {
        match hovered {
            // A double-click on a collapsed group expands it.
            Some(i) => match &state.geometry.nodes[i].group {
                Some(g) => actions.push(CanvasAction::Apply(Edit::SetGroupsCollapsed {
                    groups: vec![g.name.clone()],
                    collapsed: false,
                })),
                None => actions.push(CanvasAction::OpenInspector),
            },
            None => {
                if let Some(p) = response.interact_pointer_pos() {
                    let c = state.to_canvas(rect, p);
                    actions.push(CanvasAction::OpenPalette(CanvasPos {
                        x: snap(c.x - NODE_WIDTH / 2.0),
                        y: snap(c.y - NODE_HEIGHT / 2.0),
                    }));
                }
            }
        }
    }
    if response.secondary_clicked() {
        state.context_target = hovered;
        state.context_pos = response
            .interact_pointer_pos()
            .map(|p| state.to_canvas(rect, p));
        if let Some(i) = hovered {
            let node = &state.geometry.nodes[i];
            let key = node.key.clone();
            // A card outside the selection (or a group not wholly in it) becomes the selection.
            let keys = node.keys();
            if !keys.iter().all(|k| state.selection.contains(k)) {
                state.selection = keys.into_iter().collect();
            }
            state.focus = Some(key);
        }
    }
}

fn handle_keys(
    ui: &egui::Ui,
    state: &mut CanvasState,
    rect: Rect,
    response: &egui::Response,
    actions: &mut Vec<CanvasAction>,
) {
    // Arrow keys belong to the canvas while it has focus instead of moving egui's focus.
    if response.has_focus() {
        ui.memory_mut(|m| {
            m.set_focus_lock_filter(
                response.id,
                egui::EventFilter {
                    horizontal_arrows: true,
                    vertical_arrows: true,
                    ..Default::default()
                },
            );
        });
    }
    let direction = ui.input_mut(|i| {
        [
            (Key::ArrowLeft, vec2(-1.0, 0.0)),
            (Key::ArrowRight, vec2(1.0, 0.0)),
            (Key::ArrowUp, vec2(0.0, -1.0)),
            (Key::ArrowDown, vec2(0.0, 1.0)),
        ]
        .into_iter()
        .find(|(k, _)| i.consume_key(Modifiers::NONE, *k))
        .map(|(_, d)| d)
    });
    if let Some(direction) = direction {
        let next = match state
            .focus
            .as_ref()
            .and_then(|k| state.geometry.index.get(k))
        {
            Some(&from) => state.geometry.nearest_in_direction(from, direction),
            None => state.geometry.top_left(),
        };
        if let Some(i) = next {
            let key = state.geometry.nodes[i].key.clone();
            state.selection = state.geometry.nodes[i].keys().into_iter().collect();
            state.focus = Some(key);
            // Keep the focused card in view.
            let card = state.card_rect(rect, &state.geometry, i, &[]);
            if !rect.shrink(24.0).contains_rect(card) {
                let center = state.geometry.nodes[i].pos + vec2(NODE_WIDTH, NODE_HEIGHT) / 2.0;
                state.center_on(rect, center);
            }
        }
    }
    if ui.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Enter)) && !state.selection.is_empty() {
        actions.push(CanvasAction::OpenInspector);
    }
    if ui.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Escape)) {
        state.selection.clear();
        state.drag = Drag::None;
    }
}

/// Hover-only widgets over the visible cards so screen readers and tests find them by key.
fn accessible_cards(
    ui: &egui::Ui,
    state: &CanvasState,
    badges: &CardBadges,
    rect: Rect,
    visible: &[usize],
) {
    if state.zoom < SIMPLIFY_BELOW_ZOOM || visible.len() > MAX_ACCESSIBLE_CARDS {
        return;
    }
    let tz = text_zoom(state.zoom);
    for &i in visible {
        let node = &state.geometry.nodes[i];
        let full = state.card_rect(rect, &state.geometry, i, &[]);
        let card = full.intersect(rect);
        if let Some(group) = &node.group {
            accessible_group(ui, state, badges, node, group, full, rect);
            continue;
        }
        let id = Id::new(("asset_card", node.key.as_str()));
        let response = ui.interact(card, id, Sense::hover());
        let selected = state.selection.contains(&node.key);
        let label = node.key.to_string();
        response.widget_info(|| {
            egui::WidgetInfo::selected(egui::WidgetType::Button, true, selected, &label)
        });
        if let Some(status) = badges.status.get(&node.key) {
            // The status slot: its own label for screen readers and a tooltip with the reason.
            let dot = Rect::from_center_size(
                pos2(full.right() - 14.0 * tz, full.top() + 16.0 * tz),
                vec2(14.0, 14.0) * tz,
            );
            let id = Id::new(("asset_status", node.key.as_str()));
            let response = ui.interact(dot.intersect(rect), id, Sense::hover());
            let text = format!("{}: {}", node.key, status.label());
            response
                .widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &text));
            let detail = status.detail().map(str::to_owned);
            response.on_hover_ui(|ui| {
                ui.label(&text);
                if let Some(detail) = &detail {
                    ui.label(detail);
                }
            });
        }
        if let Some((fresh, reason)) = badges.freshness.get(&node.key) {
            // The freshness badge, bottom right.
            let slot = Rect::from_min_size(
                full.min + vec2(full.width() * 0.62, 50.0 * tz),
                vec2(full.width() * 0.38, 14.0 * tz),
            );
            let id = Id::new(("asset_freshness", node.key.as_str()));
            let response = ui.interact(slot.intersect(rect), id, Sense::hover());
            let text = format!("{} freshness: {}", node.key, fresh.as_str());
            response
                .widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &text));
            response.on_hover_text(format!("{text}\n{reason}"));
        }
        if let Some(checks) = badges.checks.get(&node.key) {
            // The footer line: the checks' verdict on the asset's latest data.
            let footer = Rect::from_min_size(
                full.min + vec2(14.0, 50.0) * tz,
                vec2(full.width() * 0.6, 14.0 * tz),
            );
            let id = Id::new(("asset_checks", node.key.as_str()));
            let response = ui.interact(footer.intersect(rect), id, Sense::hover());
            let text = format!("{} checks: {}", node.key, checks.text());
            response
                .widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &text));
            response.on_hover_text(format!(
                "{text}\n✔ passed  ⚠ warning failed  ✖ error failed  ? not run since the check changed"
            ));
        }
    }
}

/// A collapsed group's card for screen readers and tests: `Group NAME (N assets)`, its status
/// (`Group NAME: failed`, or `unknown`) and its checks (`Group NAME checks: ✔ 3`).
fn accessible_group(
    ui: &egui::Ui,
    state: &CanvasState,
    badges: &CardBadges,
    node: &geometry::NodeView,
    group: &geometry::GroupCard,
    full: Rect,
    rect: Rect,
) {
    let n = group.members.len();
    let label = format!(
        "Group {} ({n} asset{})",
        group.name,
        if n == 1 { "" } else { "s" }
    );
    let selected = node.stands_for(&state.selection);
    let response = ui.interact(
        full.intersect(rect),
        Id::new(("group_card", group.name.as_str())),
        Sense::hover(),
    );
    response.widget_info(|| {
        egui::WidgetInfo::selected(egui::WidgetType::Button, true, selected, &label)
    });
    response.on_hover_text(format!(
        "{label}: {}. Double-click or right-click → Expand group to show its assets.",
        group
            .members
            .iter()
            .map(|m| m.key.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let status = groups::group_status(group, badges);
    let dot = Rect::from_center_size(
        pos2(
            full.right() - 14.0 * state.zoom,
            full.top() + 16.0 * state.zoom,
        ),
        vec2(14.0, 14.0) * state.zoom,
    );
    let text = format!(
        "Group {}: {}",
        group.name,
        status.as_ref().map_or("unknown", NodeStatus::label)
    );
    let response = ui.interact(
        dot.intersect(rect),
        Id::new(("group_status", group.name.as_str())),
        Sense::hover(),
    );
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &text));
    response.on_hover_text(match &status {
        Some(_) => format!("{text}: the member status that needs attention most"),
        None => format!("{text}: some members' status is not known yet"),
    });
    if let Some(checks) = groups::group_checks(group, badges) {
        let footer = Rect::from_min_size(
            full.min + vec2(14.0, 50.0) * state.zoom,
            vec2(full.width() * 0.6, 14.0 * state.zoom),
        );
        let text = format!("Group {} checks: {}", group.name, checks.text());
        let response = ui.interact(
            footer.intersect(rect),
            Id::new(("group_checks", group.name.as_str())),
            Sense::hover(),
        );
        response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &text));
    }
}

fn lane_headers(ui: &egui::Ui, state: &CanvasState, rect: Rect) {
    for lane in &state.geometry.lanes {
        let left = state.to_screen(rect, pos2(lane.min_x, 0.0)).x;
        let right = state.to_screen(rect, pos2(lane.max_x, 0.0)).x;
        let header = Rect::from_min_max(pos2(left, rect.top()), pos2(right, rect.top() + 28.0));
        if !header.intersects(rect) {
            continue;
        }
        let header = header.intersect(rect);
        let text = format!(
            "{} · {}",
            paint::title_case(lane.layer.as_str()),
            lane.count
        );
        let painter = ui.painter_at(rect);
        painter.rect_filled(
            header,
            0.0,
            crate::ui::theme::layer_color(lane.layer).gamma_multiply(0.35),
        );
        painter.text(
            header.left_center() + vec2(10.0, 0.0),
            egui::Align2::LEFT_CENTER,
            &text,
            egui::FontId::proportional(14.0),
            ui.visuals().strong_text_color(),
        );
        let response = ui.interact(
            header,
            Id::new(("lane", lane.layer.as_str())),
            Sense::hover(),
        );
        let label = format!("{} lane", paint::title_case(lane.layer.as_str()));
        response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &label));
    }
}

/// How to select and pan, in a weak line at the bottom-left of the canvas (what KNIME and
/// Dagster users try first differs: a left-drag on the background selects here).
fn hint_ui(ui: &egui::Ui, rect: Rect) {
    const HINT: &str = "Drag on the background to select · Space+drag or middle-drag to pan · \
                        scroll to zoom · double-click to add an asset";
    let painter = ui.painter_at(rect);
    let at = rect.left_bottom() + vec2(10.0, -8.0);
    let galley = painter.layout_no_wrap(
        HINT.to_owned(),
        egui::FontId::proportional(12.0),
        ui.visuals().weak_text_color(),
    );
    let area = egui::Align2::LEFT_BOTTOM.anchor_size(at, galley.size());
    painter.galley(area.min, galley, ui.visuals().weak_text_color());
    let response = ui.interact(area.intersect(rect), Id::new("canvas_hint"), Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, HINT));
}

/// A small overview in the bottom-right corner; click or drag in it to move the view. It takes
/// at most a third of the canvas's width and height, and is left out when the canvas is too
/// small for a readable one (a side panel narrows it).
fn minimap_ui(ui: &egui::Ui, state: &mut CanvasState, rect: Rect) {
    let Some(bounds) = state.geometry.bounds else {
        return;
    };
    let size = vec2(
        220.0_f32.min(rect.width() / 3.0 - 12.0),
        140.0_f32.min(rect.height() / 3.0 - 12.0),
    );
    if size.x < 80.0 || size.y < 50.0 {
        return;
    }
    let map = Rect::from_min_size(rect.max - size - vec2(12.0, 12.0), size);
    let response = ui.interact(map, Id::new("minimap"), Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Other, true, "Minimap"));
    let scale = ((map.width() - 8.0) / bounds.width()).min((map.height() - 8.0) / bounds.height());
    let to_map = |p: Pos2| map.min + vec2(4.0, 4.0) + (p - bounds.min) * scale;
    let painter = ui.painter_at(rect);
    painter.rect_filled(map, 4.0, ui.visuals().extreme_bg_color.gamma_multiply(0.92));
    painter.rect_stroke(
        map,
        4.0,
        ui.visuals().widgets.noninteractive.bg_stroke,
        egui::StrokeKind::Inside,
    );
    for cell in &state.geometry.minimap_cells(bounds, scale) {
        painter.rect_filled(
            Rect::from_min_size(to_map(cell.0), Vec2::splat(2.0)),
            0.0,
            crate::ui::theme::layer_color(cell.1),
        );
    }
    let view = Rect::from_min_max(
        state.to_canvas(rect, rect.min),
        state.to_canvas(rect, rect.max),
    );
    let view_on_map = Rect::from_min_max(to_map(view.min), to_map(view.max)).intersect(map);
    painter.rect_stroke(
        view_on_map,
        0.0,
        egui::Stroke::new(1.5, ui.visuals().selection.stroke.color),
        egui::StrokeKind::Inside,
    );
    if (response.clicked() || response.dragged())
        && let Some(p) = response.interact_pointer_pos()
    {
        let canvas_point = bounds.min + (p - map.min - vec2(4.0, 4.0)) / scale;
        state.center_on(rect, canvas_point);
    }
}
