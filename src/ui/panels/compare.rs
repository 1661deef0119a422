//! "Compare with previous materialization" (Asset details): what `medallion diff` prints for
//! an asset's last two materializations — rows only in A, only in B and changed (matched by
//! the asset's unique check, else whole rows), how many rows each column changed in with an
//! example, schema changes — computed by the job worker (`app::diff::diff_asset`, with the
//! same masking as the CLI) and shown in a window.

use egui::RichText;

use crate::app::diff::{AssetDiff, SchemaChange};
use crate::app::jobs::{JobError, JobRequest};
use crate::model::AssetKey;
use crate::ui::{Studio, theme};

/// Open-window state; `None` on the studio when the window is closed.
#[derive(Debug)]
pub struct CompareState {
    pub asset: AssetKey,
    /// The id of the request whose answer is awaited or shown.
    pub(crate) request_id: u64,
    /// The diff, or why it could not be made; `None` while it is computed.
    pub result: Option<Result<Box<AssetDiff>, JobError>>,
}

impl Studio {
    /// Opens the comparison window on `asset` and asks the job worker for the diff of its
    /// last two materializations.
    pub fn compare_with_previous(&mut self, asset: AssetKey) {
        let id = self.workspace.next_request_id;
        self.workspace.next_request_id += 1;
        self.windows.compare = Some(CompareState {
            asset: asset.clone(),
            request_id: id,
            result: None,
        });
        let project = Box::new(self.project().clone());
        self.send_job(JobRequest::Diff { id, project, asset });
    }

    /// The job worker's answer; an answer to an older request is dropped.
    pub(crate) fn on_diff(&mut self, id: u64, result: Result<Box<AssetDiff>, JobError>) {
        if let Some(state) = &mut self.windows.compare
            && state.request_id == id
        {
            state.result = Some(result);
        }
    }
}

/// The button in Asset details, usable from the second materialization; true when clicked.
pub fn button_ui(ui: &mut egui::Ui, materializations: usize) -> bool {
    ui.add_enabled(
        materializations >= 2,
        egui::Button::new("Compare with previous materialization"),
    )
    .on_hover_text(
        "Rows only in the previous or the latest materialization, rows changed (by the unique check's key) and columns added, removed or retyped — as medallion diff shows them",
    )
    .on_disabled_hover_text("A comparison needs two materializations: materialize it again")
    .clicked()
}

pub fn compare_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(state) = &studio.windows.compare else {
        return;
    };
    let mut open = true;
    egui::Window::new(format!("Compare {}", state.asset))
        .id(egui::Id::new("compare_materializations"))
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_size(egui::vec2(760.0, 460.0))
        .show(ctx, |ui| match &state.result {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!(
                        "Comparing the last two materializations of {}…",
                        state.asset
                    ));
                });
            }
            Some(Err(e)) => {
                ui.label(
                    RichText::new(crate::app::redact(&e.to_string())).color(theme::error_color()),
                );
            }
            Some(Ok(d)) => {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| diff_ui(ui, d));
            }
        });
    if !open {
        studio.windows.compare = None;
    }
}

/// The diff as `medallion diff` words it: the runs and key, the counts, the schema changes,
/// the columns that changed with an example, and example rows only in A or B.
fn diff_ui(ui: &mut egui::Ui, d: &AssetDiff) {
    let t = &d.diff;
    let part = d
        .partition
        .as_ref()
        .map(|p| format!(" [{p}]"))
        .unwrap_or_default();
    ui.label(
        RichText::new(format!(
            "{}{part}: run {} (A) → run {} (B)",
            d.asset, d.run_a, d.run_b
        ))
        .strong(),
    );
    ui.label(if t.key.is_empty() {
        "Whole rows compared (no unique check declared)".to_owned()
    } else {
        format!("Rows matched by {} ({})", t.key.join(", "), d.key_from)
    });
    egui::Grid::new("compare_counts")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (label, value) in [
                ("Rows", format!("{} → {}", t.rows_a, t.rows_b)),
                ("Only in A", t.only_in_a.to_string()),
                ("Only in B", t.only_in_b.to_string()),
                ("Changed", t.changed.to_string()),
                ("Unchanged", t.unchanged.to_string()),
            ] {
                ui.label(format!("{label}: {value}"));
                ui.end_row();
            }
        });
    if t.is_empty() {
        ui.label(RichText::new("No differences").color(theme::ok_color()));
    }
    for change in &t.schema_changes {
        let line = match change {
            SchemaChange::Added { column, dtype } => format!("Added column {column} ({dtype})"),
            SchemaChange::Removed { column, dtype } => {
                format!("Removed column {column} ({dtype})")
            }
            SchemaChange::Retyped { column, from, to } => {
                format!("Column {column} retyped {from} → {to}")
            }
        };
        ui.label(RichText::new(line).color(theme::warning_color()));
    }
    columns_ui(ui, d);
    for (side, rows) in [("A", &t.examples_only_in_a), ("B", &t.examples_only_in_b)] {
        if rows.is_empty() {
            continue;
        }
        ui.label(RichText::new(format!("Example rows only in {side}")).strong());
        for row in rows {
            let cells: Vec<String> = row.iter().map(|(k, v)| format!("{k}={v}")).collect();
            ui.label(RichText::new(cells.join(", ")).monospace());
        }
    }
    ui.label(RichText::new(format!("Compared in {} ms", d.elapsed_ms)).weak());
}

/// Each column that changed: in how many matched rows, and one example.
fn columns_ui(ui: &mut egui::Ui, d: &AssetDiff) {
    let changed: Vec<_> = d.diff.columns.iter().filter(|c| c.changed > 0).collect();
    if changed.is_empty() {
        return;
    }
    ui.label(RichText::new("Changed columns").strong());
    egui::Grid::new("compare_columns")
        .num_columns(3)
        .striped(true)
        .show(ui, |ui| {
            for h in ["Column", "Rows changed", "Example (key: A → B)"] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for c in changed {
                ui.label(&c.column);
                ui.label(c.changed.to_string());
                match c.examples.first() {
                    Some(e) => {
                        let key: Vec<String> =
                            e.key.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        ui.label(format!("{}: {} → {}", key.join(", "), e.a, e.b));
                    }
                    None => {
                        ui.label("");
                    }
                }
                ui.end_row();
            }
        });
}
