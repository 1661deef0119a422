//! The inspector's Columns section: the selected asset's columns and types, inferred without
//! running, and — when one is chosen — the columns its values come from and feed, highlighted
//! on the canvas (the cards holding them are outlined and name the columns). Both are asked of
//! the job worker (`app::lineage::lineage_view`), never computed here.

use std::collections::{BTreeMap, BTreeSet};

use egui::RichText;

use crate::app::jobs::JobRequest;
use crate::app::lineage::LineageView;
use crate::model::AssetKey;
use crate::ui::{Studio, theme};

/// What the section asked for and what came back.
#[derive(Debug, Default)]
pub struct ColumnsState {
    /// The asset and document revision the columns were last asked for.
    asked: Option<(AssetKey, u64)>,
    request_id: u64,
    pending: bool,
    /// The asset's columns (the answer for the whole asset).
    pub view: Option<LineageView>,
    /// The chosen column, the asset it belongs to (the inspector's, or the previewed one's
    /// when traced from the preview's header) and the id of its lineage request.
    pub chosen: Option<String>,
    pub chosen_asset: Option<AssetKey>,
    chosen_request: u64,
    /// The chosen column's lineage, once answered.
    pub trace: Option<LineageView>,
}

impl Studio {
    /// The job worker's answer to one of the section's requests; false when it is not one.
    pub(crate) fn on_columns_lineage(&mut self, id: u64, view: LineageView) -> bool {
        let state = &mut self.inspector.columns;
        if state.asked.is_some() && id == state.request_id {
            state.pending = false;
            state.view = Some(view);
            return true;
        }
        if state.chosen.is_some() && id == state.chosen_request {
            self.canvas.column_lineage = highlight(&view);
            state.trace = Some(view);
            return true;
        }
        false
    }

    /// Chooses `column` of `asset` (its lineage is asked for and highlighted on the canvas),
    /// or clears the choice.
    pub fn choose_column(&mut self, asset: &AssetKey, column: Option<String>) {
        self.canvas.column_lineage.clear();
        self.inspector.columns.trace = None;
        self.inspector.columns.chosen.clone_from(&column);
        self.inspector.columns.chosen_asset = column.as_ref().map(|_| asset.clone());
        let Some(column) = column else {
            return;
        };
        if !self.backend.has_workspace() {
            return;
        }
        let id = self.next_request_id();
        self.inspector.columns.chosen_request = id;
        let project = Box::new(self.project().clone());
        self.send_job(JobRequest::Lineage {
            id,
            project,
            asset: asset.clone(),
            column: Some(column),
        });
    }

    /// Asks for every asset's columns when the canvas is zoomed in far enough to list them on
    /// the cards and they were not asked for under the current definitions (one request at a
    /// time; the cards keep the previous answer until the new one arrives).
    pub(crate) fn refresh_card_columns(&mut self) {
        use crate::ui::canvas::COLUMNS_FROM_ZOOM;
        let revision = self.doc.revision();
        let cached = &self.canvas.card_columns;
        let waiting = cached.asked.is_some() && !cached.answered;
        let fresh = cached.asked.is_some_and(|(r, _)| r == revision);
        if self.canvas.zoom < COLUMNS_FROM_ZOOM || fresh || waiting || !self.backend.has_workspace()
        {
            return;
        }
        let id = self.next_request_id();
        let project = Box::new(self.project().clone());
        if self.send_job(JobRequest::CardColumns { id, project }) {
            self.canvas.card_columns.asked = Some((revision, id));
            self.canvas.card_columns.answered = false;
        }
    }

    /// Asks for the asset's columns when they were not asked for under the current
    /// definitions (one request at a time).
    fn refresh_columns(&mut self, key: &AssetKey) {
        let revision = self.doc.revision();
        let current = &self.inspector.columns;
        let fresh = current.asked.as_ref() == Some(&(key.clone(), revision));
        if fresh || current.pending || !self.backend.has_workspace() {
            return;
        }
        let id = self.next_request_id();
        let state = &mut self.inspector.columns;
        state.asked = Some((key.clone(), revision));
        state.request_id = id;
        state.pending = true;
        let project = Box::new(self.project().clone());
        self.send_job(JobRequest::Lineage {
            id,
            project,
            asset: key.clone(),
            column: None,
        });
    }
}

/// The assets and columns of a column's lineage, for the canvas.
fn highlight(view: &LineageView) -> BTreeMap<AssetKey, BTreeSet<String>> {
    let mut out: BTreeMap<AssetKey, BTreeSet<String>> = BTreeMap::new();
    for n in &view.nodes {
        if let Some(c) = &n.column {
            out.entry(n.asset.clone()).or_default().insert(c.clone());
        }
    }
    out
}

/// The labels of the nodes that feed the target (`upstream`) or that it feeds, following
/// the view's edges.
fn side(view: &LineageView, upstream: bool) -> Vec<String> {
    let Some(start) = view.nodes.iter().position(|n| n.is_target) else {
        return Vec::new();
    };
    let mut seen = BTreeSet::from([start]);
    let mut todo = vec![start];
    while let Some(at) = todo.pop() {
        for &(from, to) in &view.edges {
            let next = if upstream {
                (to == at).then_some(from)
            } else {
                (from == at).then_some(to)
            };
            if let Some(n) = next
                && seen.insert(n)
            {
                todo.push(n);
            }
        }
    }
    seen.remove(&start);
    let mut labels: Vec<String> = seen
        .into_iter()
        .filter_map(|i| view.nodes.get(i))
        .map(crate::app::lineage::ViewNode::label)
        .collect();
    labels.sort();
    labels
}

/// The section: each column (click to trace it on the canvas, again to clear), then what
/// the chosen one comes from and feeds.
/// The completions of the SQL editor of `key`: its upstream assets' names and their inferred
/// columns (none until they are known).
pub fn completions(state: &ColumnsState, key: &AssetKey) -> Vec<super::sql_editor::Completion> {
    use super::sql_editor::Completion;
    let Some(view) = state.view.as_ref().filter(|v| &v.asset == key) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (asset, columns) in &view.upstream {
        out.push(Completion {
            word: asset.to_string(),
            table: None,
            detail: "upstream asset".to_owned(),
        });
        out.extend(columns.iter().map(|c| Completion {
            word: c.name.clone(),
            table: Some(asset.to_string()),
            detail: c.dtype.clone(),
        }));
    }
    out
}

/// The section (asked for when open, or when `wanted` for the SQL editor's completion).
pub fn columns_ui(ui: &mut egui::Ui, studio: &mut Studio, key: &AssetKey, wanted: bool) {
    // Another asset: its own columns, and no column traced.
    if studio
        .inspector
        .columns
        .asked
        .as_ref()
        .is_some_and(|(k, _)| k != key)
    {
        studio.choose_column(key, None);
        let state = &mut studio.inspector.columns;
        state.asked = None;
        state.pending = false;
        state.view = None;
    }
    let mut choice: Option<Option<String>> = None;
    let state = &studio.inspector.columns;
    let shown = egui::CollapsingHeader::new("Columns")
        .default_open(false)
        .show(ui, |ui| {
            let Some(view) = &state.view else {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Inferring its columns…");
                });
                return;
            };
            if let Some(note) = &view.note {
                ui.label(
                    RichText::new(format!("Columns unknown: {note}"))
                        .color(theme::warning_color()),
                );
                return;
            }
            let mine = state.chosen_asset.as_ref() == Some(key);
            for c in &view.columns {
                let chosen = mine && state.chosen.as_deref() == Some(c.name.as_str());
                if ui
                    .selectable_label(chosen, format!("{}: {}", c.name, c.dtype))
                    .on_hover_text(
                        "Trace this column: the cards it comes from and feeds are outlined on the canvas",
                    )
                    .clicked()
                {
                    choice = Some((!chosen).then(|| c.name.clone()));
                }
            }
            if let (Some(column), Some(trace), true) = (&state.chosen, &state.trace, mine) {
                trace_ui(ui, column, trace);
                if ui.small_button("Clear highlight").clicked() {
                    choice = Some(None);
                }
            }
        })
        .body_returned
        .is_some();
    if shown || wanted {
        studio.refresh_columns(key);
    }
    if let Some(column) = choice {
        studio.choose_column(key, column);
    }
}

/// What the chosen column comes from and feeds, as lines of `asset.column`.
fn trace_ui(ui: &mut egui::Ui, column: &str, trace: &LineageView) {
    if trace.column.as_deref() != Some(column) {
        return;
    }
    for (label, upstream) in [("Comes from", true), ("Feeds", false)] {
        let names = side(trace, upstream);
        let text = if names.is_empty() {
            format!("{label}: nothing")
        } else {
            format!("{label}: {}", names.join(", "))
        };
        ui.label(RichText::new(text).color(theme::highlight_color()));
    }
}
