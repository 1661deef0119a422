//! Painting the canvas: lanes, edges as flattened and culled polylines, cards (full or
//! simplified by zoom), and the overlays of drags in progress.

use std::fmt::Write as _;

use egui::epaint::{CubicBezierShape, PathShape};
use egui::{Align2, Color32, FontId, Painter, Pos2, Rect, Shape, Stroke, StrokeKind, pos2, vec2};

use super::geometry::{Cubic, cubic_point, edge_route};
use super::{
    COLUMNS_FROM_ZOOM, CanvasState, CardBadges, Drag, SIMPLIFY_BELOW_ZOOM, output_port, text_zoom,
};
use crate::ui::theme;

pub struct PaintStats {
    /// Cards drawn this frame (on screen).
    pub visible: Vec<usize>,
}

pub fn title_case(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

pub fn paint(
    ui: &egui::Ui,
    painter: &Painter,
    state: &CanvasState,
    rect: Rect,
    badges: &CardBadges,
    hovered: Option<usize>,
    notes: &[super::notes::NoteView],
) -> PaintStats {
    let visuals = ui.visuals();
    let geometry = &state.geometry;
    let zoom = state.zoom;
    let simplified = zoom < SIMPLIFY_BELOW_ZOOM;
    painter.rect_filled(rect, 0.0, theme::canvas_background(visuals));

    paint_lanes(painter, state, rect);
    if !simplified {
        dot_grid(painter, state, rect, visuals);
    }

    let moving: Vec<bool> = match &state.drag {
        Drag::Move { nodes, .. } => {
            let mut m = vec![false; geometry.nodes.len()];
            for &i in nodes {
                if let Some(slot) = m.get_mut(i) {
                    *slot = true;
                }
            }
            m
        }
        _ => Vec::new(),
    };
    let cards: Vec<Rect> = (0..geometry.nodes.len())
        .map(|i| state.card_rect(rect, geometry, i, &moving))
        .collect();
    let view = rect.expand(4.0);

    // Notes lie under the edges and cards: they never hide an asset.
    super::notes::paint(painter, visuals, state, notes);
    paint_edges(painter, visuals, state, &cards, view);

    // Cards.
    let mut visible = Vec::new();
    for (i, node) in geometry.nodes.iter().enumerate() {
        let card = cards[i];
        if !card.intersects(view) {
            continue;
        }
        visible.push(i);
        if let Some(group) = &node.group {
            let problems = group.members.iter().fold((0, 0), |acc, m| {
                let p = badges.problems.get(&m.key).copied().unwrap_or((0, 0));
                (acc.0 + p.0, acc.1 + p.1)
            });
            let status = super::groups::group_status(group, badges);
            let look = CardLook {
                selected: node.stands_for(&state.selection),
                highlighted: node.stands_for(&state.highlight),
                hovered: hovered == Some(i),
                problems,
                layer: theme::layer_color(node.layer),
                status: status.as_ref(),
                checks: None,
            };
            if simplified {
                card_simplified(painter, visuals, card, &look);
            } else {
                let checks = super::groups::group_checks(group, badges);
                group_card(painter, visuals, zoom, node, card, &look, checks.as_ref());
            }
            continue;
        }
        let look = CardLook {
            selected: state.selection.contains(&node.key),
            highlighted: state.highlight.contains(&node.key)
                || state.column_lineage.contains_key(&node.key),
            hovered: hovered == Some(i),
            problems: badges.problems.get(&node.key).copied().unwrap_or((0, 0)),
            layer: theme::layer_color(node.layer),
            status: badges.status.get(&node.key),
            checks: badges.checks.get(&node.key),
        };
        if simplified {
            card_simplified(painter, visuals, card, &look);
            continue;
        }
        let tz = text_zoom(zoom);
        card_full(painter, visuals, tz, node, card, &look);
        if zoom >= COLUMNS_FROM_ZOOM
            && let Some(columns) = state.card_columns.columns.get(&node.key)
        {
            card_columns(painter, visuals, tz, card, columns);
        }
        if let Some(columns) = state.column_lineage.get(&node.key) {
            column_tag(painter, card, state.zoom, columns);
        }
        if let Some((fresh, _)) = badges.freshness.get(&node.key) {
            freshness_badge(painter, visuals, card, tz, *fresh);
        }
        if let Some((error, _)) = badges.drift.get(&node.key) {
            drift_badge(painter, card, tz, *error);
        }
    }

    paint_drag(ui, painter, state, rect);
    PaintStats { visible }
}

/// A zoomed-in card's columns (`name type`) in the room under its other lines, wrapped to
/// the card; what does not fit ends in "…". Only visible cards are painted, so this costs a
/// few text layouts a frame whatever the project's size.
fn card_columns(
    painter: &Painter,
    visuals: &egui::Visuals,
    tz: f32,
    card: Rect,
    columns: &[crate::model::schema::SchemaColumn],
) {
    let pad = 14.0 * tz;
    let top = card.top() + 66.0 * tz;
    let room = Rect::from_min_max(pos2(card.left() + pad, top), card.max - vec2(pad, 4.0));
    if room.height() < 8.0 || columns.is_empty() {
        return;
    }
    let size = (10.0 * tz).round().max(6.0);
    let mut job = egui::text::LayoutJob::default();
    let name = egui::TextFormat::simple(FontId::monospace(size), visuals.text_color());
    let dtype = egui::TextFormat::simple(FontId::monospace(size), visuals.weak_text_color());
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            job.append("   ", 0.0, dtype.clone());
        }
        job.append(&c.name, 0.0, name.clone());
        job.append(&format!("\u{a0}{}", c.dtype), 0.0, dtype.clone());
    }
    job.wrap.max_width = room.width();
    let line = painter.fonts_mut(|f| f.row_height(&FontId::monospace(size)));
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a small positive count of lines"
    )]
    let rows = (room.height() / line).floor().max(1.0) as usize;
    job.wrap.max_rows = rows;
    job.wrap.break_anywhere = false;
    let galley = painter.layout_job(job);
    painter
        .with_clip_rect(room.intersect(painter.clip_rect()))
        .galley(room.min, galley, visuals.text_color());
}

/// The columns of a traced column's lineage on this card, in the highlight colour above it.
fn column_tag(
    painter: &Painter,
    card: Rect,
    zoom: f32,
    columns: &std::collections::BTreeSet<String>,
) {
    let text = columns.iter().cloned().collect::<Vec<_>>().join(", ");
    painter.text(
        card.left_top() + vec2(2.0 * zoom, -3.0 * zoom),
        Align2::LEFT_BOTTOM,
        text,
        FontId::proportional((12.0 * zoom).round().max(6.0)),
        theme::highlight_color(),
    );
}

/// Lanes: faint full-height bands behind the cards.
fn paint_lanes(painter: &Painter, state: &CanvasState, rect: Rect) {
    for lane in &state.geometry.lanes {
        let left = state.to_screen(rect, pos2(lane.min_x, 0.0)).x;
        let right = state.to_screen(rect, pos2(lane.max_x, 0.0)).x;
        let band = Rect::from_x_y_ranges(left..=right, rect.y_range());
        if band.intersects(rect) {
            painter.rect_filled(
                band,
                0.0,
                theme::layer_color(lane.layer).gamma_multiply(0.07),
            );
        }
    }
}

/// Edges between the cards, those touching the selection stronger; only the visible ones.
fn paint_edges(
    painter: &Painter,
    visuals: &egui::Visuals,
    state: &CanvasState,
    cards: &[Rect],
    view: Rect,
) {
    let geometry = &state.geometry;
    let zoom = state.zoom;
    let edge_color = theme::edge_color(visuals);
    let selected_edge = visuals.selection.stroke.color;
    let width = (1.6 * zoom.sqrt()).clamp(0.6, 2.0);
    for &(from, to) in &geometry.edges {
        let route = edge_route(cards[from], cards[to], zoom);
        let bbox = route
            .iter()
            .map(|c| Rect::from_points(c))
            .fold(Rect::NOTHING, Rect::union);
        if !bbox.intersects(view) {
            continue;
        }
        let touches_selection = geometry.nodes[from].stands_for(&state.selection)
            || geometry.nodes[to].stands_for(&state.selection);
        let stroke = if touches_selection {
            Stroke::new(width + 0.8, selected_edge)
        } else {
            Stroke::new(width, edge_color)
        };
        for cubic in &route {
            painter.add(flattened_edge(cubic, view, stroke));
        }
    }
}

/// What a drag draws over the canvas: the edge being connected, the selection rectangle.
fn paint_drag(ui: &egui::Ui, painter: &Painter, state: &CanvasState, rect: Rect) {
    let visuals = ui.visuals();
    match &state.drag {
        Drag::Connect { from } => {
            if let Some(p) = ui.input(|i| i.pointer.interact_pos()) {
                let a = output_port(state, rect, *from);
                let dx = ((p.x - a.x).abs() * 0.5).max(30.0);
                painter.add(CubicBezierShape::from_points_stroke(
                    [a, a + vec2(dx, 0.0), p - vec2(dx, 0.0), p],
                    false,
                    Color32::TRANSPARENT,
                    Stroke::new(2.0, visuals.selection.stroke.color),
                ));
            }
        }
        Drag::Rect { start } => {
            if let Some(p) = ui.input(|i| i.pointer.interact_pos()) {
                let area = Rect::from_two_pos(*start, p);
                painter.rect_filled(area, 0.0, visuals.selection.bg_fill.gamma_multiply(0.25));
                painter.rect_stroke(
                    area,
                    0.0,
                    Stroke::new(1.0, visuals.selection.stroke.color),
                    StrokeKind::Inside,
                );
            }
        }
        _ => {}
    }
}

/// How one card is drawn this frame: its state and badges.
struct CardLook<'a> {
    selected: bool,
    highlighted: bool,
    hovered: bool,
    /// Validation errors and warnings.
    problems: (usize, usize),
    layer: Color32,
    status: Option<&'a crate::ui::runs::NodeStatus>,
    checks: Option<&'a crate::app::status::CheckBadge>,
}

/// A card zoomed out: a block in its layer's colour, red on top with errors, outlined when
/// highlighted.
fn card_simplified(painter: &Painter, visuals: &egui::Visuals, card: Rect, look: &CardLook<'_>) {
    let fill = if look.selected {
        visuals.selection.bg_fill
    } else {
        look.layer.gamma_multiply(0.8)
    };
    painter.rect_filled(card, 0.0, fill);
    if look.problems.0 > 0 {
        painter.rect_filled(
            Rect::from_min_size(card.min, card.size() * vec2(1.0, 0.3)),
            0.0,
            theme::error_color(),
        );
    }
    if look.highlighted {
        painter.rect_stroke(
            card,
            0.0,
            Stroke::new(1.5, theme::highlight_color()),
            StrokeKind::Outside,
        );
    }
}

/// A card at reading zoom: its body, key, kind, footer, status slot and ports.
fn card_full(
    painter: &Painter,
    visuals: &egui::Visuals,
    zoom: f32,
    node: &super::geometry::NodeView,
    card: Rect,
    look: &CardLook<'_>,
) {
    card_body(painter, visuals, zoom, card, look);
    // Whole-pixel font sizes keep the glyph cache small while zooming.
    let title = FontId::proportional((14.0 * zoom).round().max(6.0));
    let small = FontId::monospace((11.0 * zoom).round().max(5.0));
    let pad = 14.0 * zoom;
    let text_rect = Rect::from_min_max(card.min + vec2(pad, 0.0), card.max - vec2(pad, 0.0));
    let clip = painter.with_clip_rect(text_rect.intersect(painter.clip_rect()));
    clip.text(
        card.min + vec2(pad, 10.0 * zoom),
        Align2::LEFT_TOP,
        node.key.as_str(),
        title,
        visuals.strong_text_color(),
    );
    clip.text(
        card.min + vec2(pad, 32.0 * zoom),
        Align2::LEFT_TOP,
        &node.kind,
        small.clone(),
        look.layer,
    );
    if let Some((footer, color)) = card_footer(&node.checks, look.checks, look.problems, visuals) {
        clip.text(
            card.min + vec2(pad, 50.0 * zoom),
            Align2::LEFT_TOP,
            footer,
            small.clone(),
            color,
        );
    }
    status_slot(painter, visuals, card, zoom, small, look.status);
    // Ports.
    let port_r = 4.5 * zoom.max(0.8);
    painter.circle(
        card.right_center(),
        port_r,
        theme::card_fill(visuals),
        Stroke::new(1.5, look.layer),
    );
    painter.circle_filled(
        card.left_center(),
        port_r * 0.7,
        theme::card_border(visuals),
    );
}

/// A collapsed group at reading zoom: a stack of cards with the group's name, how many assets
/// it holds, the worst status of its members ("unknown" when unsure) and their checks.
fn group_card(
    painter: &Painter,
    visuals: &egui::Visuals,
    zoom: f32,
    node: &super::geometry::NodeView,
    card: Rect,
    look: &CardLook<'_>,
    checks: Option<&super::groups::GroupChecks>,
) {
    // The cards under the top one.
    for k in [2.0, 1.0] {
        let under = card.translate(vec2(5.0, 5.0) * k * zoom);
        painter.rect_filled(under, (6.0 * zoom).round(), theme::card_fill(visuals));
        painter.rect_stroke(
            under,
            (6.0 * zoom).round(),
            Stroke::new(1.0, theme::card_border(visuals)),
            StrokeKind::Inside,
        );
    }
    card_body(painter, visuals, zoom, card, look);
    let title = FontId::proportional((14.0 * zoom).round().max(6.0));
    let small = FontId::monospace((11.0 * zoom).round().max(5.0));
    let pad = 14.0 * zoom;
    let text_rect = Rect::from_min_max(card.min + vec2(pad, 0.0), card.max - vec2(pad, 0.0));
    let clip = painter.with_clip_rect(text_rect.intersect(painter.clip_rect()));
    let name = node.group.as_ref().map_or("", |g| g.name.as_str());
    clip.text(
        card.min + vec2(pad, 10.0 * zoom),
        Align2::LEFT_TOP,
        name,
        title,
        visuals.strong_text_color(),
    );
    clip.text(
        card.min + vec2(pad, 32.0 * zoom),
        Align2::LEFT_TOP,
        &node.kind,
        small.clone(),
        look.layer,
    );
    let mut footer = checks.map(|c| {
        let color = if c.failed() {
            theme::error_color()
        } else if c.all_passed() {
            theme::ok_color()
        } else {
            theme::warning_color()
        };
        (format!("checks: {}", c.text()), color)
    });
    if look.problems.0 > 0 {
        footer = Some((
            format!("✖ {} problem(s)", look.problems.0),
            theme::error_color(),
        ));
    }
    if let Some((text, color)) = footer {
        clip.text(
            card.min + vec2(pad, 50.0 * zoom),
            Align2::LEFT_TOP,
            text,
            small.clone(),
            color,
        );
    }
    match look.status {
        Some(_) => status_slot(painter, visuals, card, zoom, small, look.status),
        None => {
            let weak = visuals.weak_text_color();
            painter.circle_stroke(
                pos2(card.right() - 14.0 * zoom, card.top() + 16.0 * zoom),
                4.5 * zoom,
                Stroke::new(1.5 * zoom.max(0.6), weak),
            );
            painter.text(
                pos2(card.right() - pad, card.top() + 32.0 * zoom),
                Align2::RIGHT_TOP,
                "unknown",
                small,
                weak,
            );
        }
    }
}

/// The card's shadow, fill, layer stripe and border (selected, highlighted, hovered or plain).
fn card_body(
    painter: &Painter,
    visuals: &egui::Visuals,
    zoom: f32,
    card: Rect,
    look: &CardLook<'_>,
) {
    let radius = (6.0 * zoom).round();
    painter.rect_filled(
        card.translate(vec2(0.0, 2.0 * zoom)),
        radius,
        Color32::from_black_alpha(40),
    );
    painter.rect_filled(card, radius, theme::card_fill(visuals));
    // Layer stripe on the left.
    let stripe = Rect::from_min_size(card.min, vec2(6.0 * zoom, card.height()));
    painter.rect_filled(
        stripe,
        egui::CornerRadius {
            nw: radius as u8,
            sw: radius as u8,
            ne: 0,
            se: 0,
        },
        look.layer,
    );
    let border = if look.selected {
        Stroke::new(2.0, visuals.selection.stroke.color)
    } else if look.highlighted {
        Stroke::new(2.0, theme::highlight_color())
    } else if look.hovered {
        Stroke::new(1.0, visuals.widgets.hovered.bg_stroke.color)
    } else {
        Stroke::new(1.0, theme::card_border(visuals))
    };
    painter.rect_stroke(card, radius, border, StrokeKind::Inside);
}

/// The card's last line and its colour: the checks' latest verdict on the stored data
/// ("✔ 2  ✖ 1", else how many checks there are), then the validation problems.
fn card_footer(
    declared_checks: &str,
    checks: Option<&crate::app::status::CheckBadge>,
    problems: (usize, usize),
    visuals: &egui::Visuals,
) -> Option<(String, Color32)> {
    let verdict = checks.filter(|c| c.total() > 0);
    let mut footer = verdict.map_or_else(
        || declared_checks.to_owned(),
        crate::app::status::CheckBadge::text,
    );
    if problems.0 > 0 || problems.1 > 0 {
        if !footer.is_empty() {
            footer.push_str("  ");
        }
        match problems {
            (0, w) => {
                let _ = write!(footer, "⚠ {w}");
            }
            (e, _) => {
                let _ = write!(footer, "✖ {e}");
            }
        }
    }
    if footer.is_empty() {
        return None;
    }
    let color = if problems.0 > 0 || verdict.is_some_and(|c| c.failed > 0) {
        theme::error_color()
    } else if problems.1 > 0 || verdict.is_some_and(|c| c.warned > 0 || c.not_run > 0) {
        theme::warning_color()
    } else if verdict.is_some() {
        theme::ok_color()
    } else {
        visuals.weak_text_color()
    };
    Some((footer, color))
}

/// The freshness badge (bottom right): the asset against its freshness policy now.
fn freshness_badge(
    painter: &Painter,
    visuals: &egui::Visuals,
    card: Rect,
    zoom: f32,
    fresh: crate::model::FreshnessState,
) {
    use crate::model::FreshnessState;
    let color = match fresh {
        FreshnessState::Fresh => theme::ok_color(),
        FreshnessState::Stale => theme::warning_color(),
        FreshnessState::Overdue => theme::error_color(),
        FreshnessState::Unknown => visuals.weak_text_color(),
    };
    painter.text(
        pos2(card.right() - 14.0 * zoom, card.top() + 50.0 * zoom),
        Align2::RIGHT_TOP,
        fresh.as_str(),
        FontId::monospace((11.0 * zoom).round().max(5.0)),
        color,
    );
}

/// The schema drift badge (bottom left): the asset's latest read found other columns or types
/// than its previous materialization had.
fn drift_badge(painter: &Painter, card: Rect, zoom: f32, error: bool) {
    let color = if error {
        theme::error_color()
    } else {
        theme::warning_color()
    };
    painter.text(
        pos2(card.left() + 14.0 * zoom, card.top() + 50.0 * zoom),
        Align2::LEFT_TOP,
        "schema drift",
        FontId::monospace((11.0 * zoom).round().max(5.0)),
        color,
    );
}

/// The run status slot (top right): hollow until a run or a plan gives the asset a status.
fn status_slot(
    painter: &Painter,
    visuals: &egui::Visuals,
    card: Rect,
    zoom: f32,
    small: FontId,
    status: Option<&crate::ui::runs::NodeStatus>,
) {
    let pad = 14.0 * zoom;
    let dot = pos2(card.right() - 14.0 * zoom, card.top() + 16.0 * zoom);
    match status {
        None => {
            painter.circle_stroke(
                dot,
                4.5 * zoom,
                Stroke::new(1.5 * zoom.max(0.6), visuals.weak_text_color()),
            );
        }
        Some(status) => {
            let color = theme::status_color(status, visuals);
            if theme::status_is_hollow(status) {
                painter.circle_stroke(dot, 4.5 * zoom, Stroke::new(2.0 * zoom.max(0.6), color));
            } else {
                painter.circle_filled(dot, 5.0 * zoom, color);
            }
            painter.text(
                pos2(card.right() - pad, card.top() + 32.0 * zoom),
                Align2::RIGHT_TOP,
                status.label(),
                small,
                color,
            );
        }
    }
}

fn dot_grid(painter: &Painter, state: &CanvasState, rect: Rect, visuals: &egui::Visuals) {
    let step = 32.0 * state.zoom;
    if step < 12.0 {
        return;
    }
    let origin = state.origin(rect);
    let start_x = origin.x + ((rect.left() - origin.x) / step).ceil() * step;
    let start_y = origin.y + ((rect.top() - origin.y) / step).ceil() * step;
    let color = theme::grid_color(visuals);
    let mut shapes = Vec::new();
    let mut y = start_y;
    while y < rect.bottom() {
        let mut x = start_x;
        while x < rect.right() {
            shapes.push(Shape::rect_filled(
                Rect::from_center_size(pos2(x, y), vec2(1.5, 1.5)),
                0.0,
                color,
            ));
            x += step;
        }
        y += step;
    }
    painter.extend(shapes);
}

/// A cubic bezier flattened into a polyline with as many segments as its length on screen
/// needs, and clipped to the view: handing epaint raw beziers measured 6× more vertices.
fn flattened_edge(cubic: &Cubic, view: Rect, stroke: Stroke) -> Shape {
    let [a, c1, c2, b] = *cubic;
    let approx_len = a.distance(c1) + c1.distance(c2) + c2.distance(b);
    let segments = ((approx_len / 14.0).ceil() as usize).clamp(1, 32);
    let point = |t: f32| cubic_point(cubic, t);
    // Keep only the runs of points near the view (plus one point either side so lines still
    // leave the screen); far-off parts of long edges are never tessellated.
    let points: Vec<Pos2> = (0..=segments)
        .map(|s| point(s as f32 / segments as f32))
        .collect();
    let mut runs: Vec<Shape> = Vec::new();
    let mut current: Vec<Pos2> = Vec::new();
    for (k, p) in points.iter().enumerate() {
        let inside = view.contains(*p)
            || points
                .get(k + 1)
                .is_some_and(|q| view.intersects(Rect::from_two_pos(*p, *q)))
            || k.checked_sub(1)
                .and_then(|j| points.get(j))
                .is_some_and(|q| view.intersects(Rect::from_two_pos(*q, *p)));
        if inside {
            current.push(*p);
        } else if current.len() >= 2 {
            runs.push(Shape::Path(PathShape::line(
                std::mem::take(&mut current),
                stroke,
            )));
        } else {
            current.clear();
        }
    }
    if current.len() >= 2 {
        runs.push(Shape::Path(PathShape::line(current, stroke)));
    }
    match runs.len() {
        1 => runs.pop().unwrap_or(Shape::Noop),
        _ => Shape::Vec(runs),
    }
}
