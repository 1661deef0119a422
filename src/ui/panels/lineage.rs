//! The Lineage window: one asset's upstream and downstream assets, or — when a column is
//! chosen — the columns its values come from and feed, as a small read-only graph drawn with
//! `egui_graphs` (what that widget is good at; the main canvas is custom, see `canvas`).
//! The graph is computed by the job worker (`app::lineage::lineage_view`), never here.

use egui::RichText;
use egui_graphs::{
    Graph, GraphView, LayoutHierarchical, LayoutStateHierarchical, SettingsInteraction,
    SettingsNavigation, SettingsStyle,
};

use crate::app::jobs::JobRequest;
use crate::app::lineage::{LineageKind, LineageView};
use crate::model::AssetKey;
use crate::ui::{Studio, theme};

/// The widget's graph: each node's payload is its index in the view's nodes.
type ViewGraph = Graph<usize, ()>;

/// Horizontal distance between levels, vertical between nodes of a level.
const LEVEL_DX: f32 = 260.0;
const ROW_DY: f32 = 70.0;

/// Open-window state; `None` on the studio when the window is closed.
#[derive(Debug)]
pub struct LineageState {
    pub asset: AssetKey,
    pub column: Option<String>,
    /// The id of the request whose answer is awaited or shown.
    pub(crate) request_id: u64,
    pub view: Option<LineageView>,
    graph: Option<ViewGraph>,
}

impl LineageState {
    fn new(asset: AssetKey, column: Option<String>, request_id: u64) -> Self {
        Self {
            asset,
            column,
            request_id,
            view: None,
            graph: None,
        }
    }
}

impl Studio {
    /// Opens the Lineage window on `asset` (or one of its columns) and asks the job worker
    /// for its graph under the current definitions.
    pub fn open_lineage(&mut self, asset: AssetKey, column: Option<String>) {
        let id = self.workspace.next_request_id;
        self.workspace.next_request_id += 1;
        self.windows.lineage = Some(LineageState::new(asset.clone(), column.clone(), id));
        let project = Box::new(self.project().clone());
        self.send_job(JobRequest::Lineage {
            id,
            project,
            asset,
            column,
        });
    }

    /// The job worker's answer; an answer to an older request is dropped.
    pub(crate) fn on_lineage(&mut self, id: u64, view: LineageView) {
        let for_window = self
            .windows
            .lineage
            .as_ref()
            .is_some_and(|s| s.request_id == id);
        if !for_window {
            self.on_columns_lineage(id, view);
            return;
        }
        if let Some(state) = &mut self.windows.lineage
            && state.request_id == id
        {
            state.graph = Some(build_graph(&view));
            state.view = Some(view);
        }
    }
}

/// The widget's graph, placed by level (left to right: upstream to downstream) and by name
/// within a level; the target is highlighted.
fn build_graph(view: &LineageView) -> ViewGraph {
    let mut g = ViewGraph::new();
    let mut order: Vec<usize> = (0..view.nodes.len()).collect();
    order.sort_by(|a, b| {
        let (na, nb) = (&view.nodes[*a], &view.nodes[*b]);
        (na.level, na.label()).cmp(&(nb.level, nb.label()))
    });
    let mut rows = std::collections::BTreeMap::<usize, usize>::new();
    let mut index = vec![None; view.nodes.len()];
    for i in order {
        let n = &view.nodes[i];
        let row = rows.entry(n.level).or_insert(0);
        #[expect(clippy::cast_precision_loss, reason = "a few dozen nodes")]
        let at = egui::pos2(n.level as f32 * LEVEL_DX, *row as f32 * ROW_DY);
        *row += 1;
        // Alternate levels sit half a row lower, so labels of neighbouring levels never share
        // a line; the labels are drawn by `labels_ui`, the widget's own are left empty.
        #[expect(clippy::cast_precision_loss, reason = "a few dozen nodes")]
        let at = at + egui::vec2(0.0, (n.level % 2) as f32 * ROW_DY / 2.0);
        let idx = g.add_node_with_label_and_location(i, String::new(), at);
        if let Some(node) = g.node_mut(idx) {
            node.set_color(node_color(n.is_target, n.kind));
        }
        index[i] = Some(idx);
    }
    for (from, to) in &view.edges {
        if let (Some(Some(f)), Some(Some(t))) = (index.get(*from), index.get(*to)) {
            // No edge label: the widget's default ("edge 3") means nothing here.
            g.add_edge_with_label(*f, *t, (), String::new());
        }
    }
    g
}

fn node_color(is_target: bool, kind: Option<LineageKind>) -> egui::Color32 {
    if is_target {
        return theme::highlight_color();
    }
    match kind {
        Some(LineageKind::Source) => egui::Color32::from_rgb(0xb0, 0x7a, 0x3c),
        Some(LineageKind::Copy) => egui::Color32::from_rgb(0x6a, 0x8c, 0xaf),
        Some(LineageKind::Derived) => egui::Color32::from_rgb(0x8a, 0x6f, 0xb8),
        None => egui::Color32::GRAY,
    }
}

/// What the window asks for after drawing: another column (or the whole asset).
enum Choice {
    Column(AssetKey, Option<String>),
}

pub fn lineage_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(state) = &mut studio.windows.lineage else {
        return;
    };
    let mut open = true;
    let mut choice = None;
    egui::Window::new("Lineage")
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_size(egui::vec2(900.0, 520.0))
        .default_pos(ctx.content_rect().center() - egui::vec2(450.0, 260.0))
        .show(ctx, |ui| {
            header_ui(ui, state, &mut choice);
            match &mut state.graph {
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Inferring schemas and lineage…");
                    });
                }
                Some(graph) => graph_ui(ui, graph, state.view.as_ref(), &mut choice),
            }
        });
    if !open {
        studio.windows.lineage = None;
    }
    if let Some(Choice::Column(asset, column)) = choice {
        studio.open_lineage(asset, column);
    }
}

fn header_ui(ui: &mut egui::Ui, state: &LineageState, choice: &mut Option<Choice>) {
    ui.horizontal(|ui| {
        ui.label(RichText::new(state.asset.as_str()).strong());
        let shown = state.column.as_deref().unwrap_or("(whole asset)");
        let columns = state
            .view
            .as_ref()
            .map(|v| v.columns.as_slice())
            .unwrap_or_default();
        egui::ComboBox::from_label("Column")
            .selected_text(shown)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(state.column.is_none(), "(whole asset)")
                    .clicked()
                {
                    *choice = Some(Choice::Column(state.asset.clone(), None));
                }
                for c in columns {
                    let selected = state.column.as_deref() == Some(c.name.as_str());
                    if ui
                        .selectable_label(selected, format!("{} · {}", c.name, c.dtype))
                        .clicked()
                    {
                        *choice = Some(Choice::Column(state.asset.clone(), Some(c.name.clone())));
                    }
                }
            });
    });
    if let Some(note) = state.view.as_ref().and_then(|v| v.note.as_ref()) {
        ui.label(RichText::new(format!("Columns unknown: {note}")).color(theme::warning_color()));
    }
    ui.label(
        RichText::new(if state.column.is_some() {
            "Left: the columns its values come from · right: the columns they feed. Click a column to follow it."
        } else {
            "Left: upstream assets · right: downstream assets. Choose a column to trace it."
        })
        .weak(),
    );
}

fn graph_ui(
    ui: &mut egui::Ui,
    graph: &mut ViewGraph,
    view: Option<&LineageView>,
    choice: &mut Option<Choice>,
) {
    if graph.node_count() == 0 {
        ui.label("Nothing to show: the column feeds nothing and comes from nothing known.");
        return;
    }
    // Positions are placed by level; the layout must not move them.
    egui_graphs::set_layout_state(
        ui,
        LayoutStateHierarchical {
            triggered: true,
            ..Default::default()
        },
        Some("lineage".to_owned()),
    );
    let response = GraphView::<LayoutStateHierarchical, LayoutHierarchical>::new()
        .with_id(Some("lineage".to_owned()))
        .with_interactions(
            &SettingsInteraction::new()
                .with_node_clicking_enabled(true)
                .with_dragging_enabled(true),
        )
        .with_navigations(
            &SettingsNavigation::new()
                .with_fit_to_screen_enabled(true)
                .with_fit_to_screen_padding(0.35)
                .with_zoom_and_pan_enabled(false),
        )
        .with_styles(&SettingsStyle::new().with_labels_always(false))
        .show(ui, graph);
    if let Some(view) = view {
        labels_ui(ui, graph, view, response.response.rect);
    }
    for change in response.changes {
        if let egui_graphs::GraphChange::NodeClicked { node } = change
            && let Some(view) = view
            && let Some(i) = graph.node(node).map(|n| *n.payload())
            && let Some(n) = view.nodes.get(i)
        {
            *choice = Some(Choice::Column(n.asset.clone(), n.column.clone()));
        }
    }
}

/// Each node's label above it, at a fixed readable size whatever the zoom: the column (or
/// asset) with its kind, and under it the asset a column belongs to; kept inside `area` so
/// the labels at the edges are not clipped.
fn labels_ui(ui: &egui::Ui, graph: &ViewGraph, view: &LineageView, area: egui::Rect) {
    let meta = egui_graphs::MetadataFrame::new(Some("lineage".to_owned())).load(ui);
    let painter = ui.painter_at(area);
    let visuals = ui.visuals();
    for (_, node) in graph.nodes_iter() {
        let Some(n) = view.nodes.get(*node.payload()) else {
            continue;
        };
        let center = meta.canvas_to_screen_pos(node.location()) + area.left_top().to_vec2();
        let (main, under) = match (&n.column, n.kind) {
            (Some(c), Some(k)) => (format!("{c} ({})", k.as_str()), Some(n.asset.as_str())),
            (Some(c), None) => (c.clone(), Some(n.asset.as_str())),
            (None, _) => (n.asset.to_string(), None),
        };
        let color = if n.is_target {
            theme::highlight_color()
        } else {
            visuals.strong_text_color()
        };
        let mut bottom = center.y - 7.0;
        if let Some(under) = under {
            let galley = painter.layout_no_wrap(
                under.to_owned(),
                egui::FontId::proportional(11.0),
                visuals.weak_text_color(),
            );
            let at = place_label(center.x, bottom, galley.size(), area);
            bottom = at.y - 1.0;
            painter.galley(at, galley, visuals.weak_text_color());
        }
        let galley = painter.layout_no_wrap(main, egui::FontId::proportional(14.0), color);
        let at = place_label(center.x, bottom, galley.size(), area);
        painter.galley(at, galley, color);
    }
}

/// Where a label of `size` goes: centred on `x`, its bottom at `bottom`, moved inside `area`.
fn place_label(x: f32, bottom: f32, size: egui::Vec2, area: egui::Rect) -> egui::Pos2 {
    let left = (x - size.x / 2.0).clamp(
        area.left() + 2.0,
        (area.right() - size.x - 2.0).max(area.left() + 2.0),
    );
    let top = (bottom - size.y).max(area.top() + 2.0);
    egui::pos2(left, top)
}

#[cfg(test)]
mod tests {
    use super::place_label;

    #[test]
    fn labels_at_the_edges_are_moved_inside() {
        let area = egui::Rect::from_min_size(egui::pos2(100.0, 50.0), egui::vec2(400.0, 300.0));
        let size = egui::vec2(120.0, 14.0);
        // In the middle: centred over the node.
        assert_eq!(
            place_label(300.0, 200.0, size, area),
            egui::pos2(240.0, 186.0)
        );
        // At the right edge: its right end stays inside (it was clipped before).
        let right = place_label(495.0, 200.0, size, area);
        assert!(right.x + size.x <= area.right(), "{right:?}");
        // At the left and top edges.
        let left = place_label(105.0, 55.0, size, area);
        assert!(left.x >= area.left() && left.y >= area.top(), "{left:?}");
    }
}
