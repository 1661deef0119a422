//! "Compare with previous materialization" (Asset details): what `medallion diff` prints for
//! an asset's last two materializations — rows only in A, only in B and changed (matched by
//! the asset's unique check, else whole rows), how many rows each column changed in with an
//! example, schema changes — computed by the job worker (`app::diff::diff_asset`, with the
//! same masking as the CLI) and shown in a window. Its run pickers (A and B, any two of the
//! asset's materializations) and key picker (columns rows are matched by) ask again, as
//! `medallion diff --runs A B --key COLS` does.

use egui::RichText;

use crate::app::diff::{AssetDiff, DiffRequest, MaterializedRun, SchemaChange};
use crate::app::jobs::{JobError, JobRequest};
use crate::model::{AssetKey, RunId};
use crate::ui::{Studio, theme};

/// Open-window state; `None` on the studio when the window is closed.
#[derive(Debug)]
pub struct CompareState {
    pub asset: AssetKey,
    /// The id of the request whose answer is awaited or shown.
    pub(crate) request_id: u64,
    /// The diff, or why it could not be made; `None` while it is computed.
    pub result: Option<Result<Box<AssetDiff>, JobError>>,
    /// The materializations the pickers offer, oldest first.
    pub runs: Vec<MaterializedRun>,
    /// The runs chosen as A and B (the compared ones once an answer arrives).
    pub run_a: Option<RunId>,
    pub run_b: Option<RunId>,
    /// The key columns chosen (empty: the default — the unique check's, else whole rows).
    pub key: Vec<String>,
    /// Whether the key was chosen here (else the answer's default key is shown).
    key_chosen: bool,
    /// Every column of the last answer, for the key picker.
    columns: Vec<String>,
}

impl Studio {
    /// Opens the comparison window on `asset` and asks the job worker for the diff of its
    /// last two materializations.
    pub fn compare_with_previous(&mut self, asset: AssetKey) {
        self.windows.compare = Some(CompareState {
            asset,
            request_id: 0,
            result: None,
            runs: Vec::new(),
            run_a: None,
            run_b: None,
            key: Vec::new(),
            key_chosen: false,
            columns: Vec::new(),
        });
        self.ask_compare(DiffRequest::default());
    }

    /// Asks the job worker for the window's diff as `request` says.
    fn ask_compare(&mut self, request: DiffRequest) {
        let id = self.next_request_id();
        let Some(state) = &mut self.windows.compare else {
            return;
        };
        state.request_id = id;
        state.result = None;
        let asset = state.asset.clone();
        let project = Box::new(self.project().clone());
        self.send_job(JobRequest::Diff {
            id,
            project,
            asset,
            request: Box::new(request),
        });
    }

    /// The job worker's answer; an answer to an older request is dropped.
    pub(crate) fn on_diff(
        &mut self,
        id: u64,
        result: Result<Box<AssetDiff>, JobError>,
        runs: Vec<MaterializedRun>,
    ) {
        if let Some(state) = &mut self.windows.compare
            && state.request_id == id
        {
            if let Ok(d) = &result {
                state.run_a = Some(d.run_a.clone());
                state.run_b = Some(d.run_b.clone());
                if !state.key_chosen {
                    state.key.clone_from(&d.diff.key);
                }
                let mut columns = d.diff.key.clone();
                columns.extend(d.diff.columns.iter().map(|c| c.column.clone()));
                state.columns = columns;
            }
            state.runs = runs;
            state.result = Some(result);
        }
    }
}

/// A run picker: `label` with the chosen run; the offered runs with their row counts.
fn run_picker_ui(
    ui: &mut egui::Ui,
    label: &str,
    chosen: &mut Option<RunId>,
    runs: &[MaterializedRun],
) {
    ui.label(label);
    let shown = chosen
        .as_ref()
        .map_or_else(|| "choose a run".to_owned(), ToString::to_string);
    egui::ComboBox::from_id_salt(("compare_run", label))
        .selected_text(shown)
        .width(240.0)
        .show_ui(ui, |ui| {
            for r in runs.iter().rev() {
                let text = format!("{} · {} rows", r.run_id, r.rows);
                ui.selectable_value(chosen, Some(r.run_id.clone()), text);
            }
        })
        .response
        .widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::ComboBox, true, label));
}

/// The pickers above the diff: runs A and B, the key columns, and Compare. The request to
/// send when Compare was clicked.
fn pickers_ui(ui: &mut egui::Ui, state: &mut CompareState) -> Option<DiffRequest> {
    let mut ask = None;
    ui.horizontal_wrapped(|ui| {
        run_picker_ui(ui, "Run A", &mut state.run_a, &state.runs);
        run_picker_ui(ui, "Run B", &mut state.run_b, &state.runs);
        ui.label("Key");
        let shown = if state.key.is_empty() {
            "whole rows".to_owned()
        } else {
            state.key.join(", ")
        };
        let key_menu = ui.menu_button(shown, |ui| {
            if state.columns.is_empty() {
                ui.label(RichText::new("Columns are listed once a comparison succeeded").weak());
            }
            for c in &state.columns {
                let mut on = state.key.contains(c);
                if ui.checkbox(&mut on, c).changed() {
                    state.key_chosen = true;
                    if on {
                        state.key.push(c.clone());
                    } else {
                        state.key.retain(|k| k != c);
                    }
                }
            }
        });
        key_menu.response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::WidgetType::Button, true, "Key columns")
        });
        let ready = state.run_a.is_some() && state.run_b.is_some() && state.result.is_some();
        if ui
            .add_enabled(ready, egui::Button::new("Compare"))
            .on_hover_text(
                "Compare run A with run B, matching rows by the key columns (none: whole rows)",
            )
            .clicked()
            && let (Some(a), Some(b)) = (&state.run_a, &state.run_b)
        {
            ask = Some(DiffRequest {
                runs: Some((a.clone(), b.clone())),
                partition: state
                    .result
                    .as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .and_then(|d| d.partition.clone()),
                key: state.key_chosen.then(|| state.key.clone()),
            });
        }
    });
    ask
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
    let Some(state) = &mut studio.windows.compare else {
        return;
    };
    let mut open = true;
    let mut ask = None;
    egui::Window::new(format!("Compare {}", state.asset))
        .id(egui::Id::new("compare_materializations"))
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_size(egui::vec2(760.0, 460.0))
        .show(ctx, |ui| {
            if !state.runs.is_empty() {
                ask = pickers_ui(ui, state);
                ui.separator();
            }
            match &state.result {
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(format!("Comparing materializations of {}…", state.asset));
                    });
                }
                Some(Err(e)) => {
                    ui.label(
                        RichText::new(crate::app::redact(&e.to_string()))
                            .color(theme::error_color()),
                    );
                }
                Some(Ok(d)) => {
                    egui::ScrollArea::vertical()
                        .auto_shrink([false, false])
                        .show(ui, |ui| diff_ui(ui, d));
                }
            }
        });
    if !open {
        studio.windows.compare = None;
    } else if let Some(request) = ask {
        studio.ask_compare(request);
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
    ui.label(if t.key.is_empty() && d.key_from == "whole rows" {
        "Whole rows compared (no unique check declared)".to_owned()
    } else if t.key.is_empty() {
        "Whole rows compared (no key columns chosen)".to_owned()
    } else {
        let from = if d.key_from == "--key" {
            "chosen above"
        } else {
            d.key_from.as_str()
        };
        format!("Rows matched by {} ({from})", t.key.join(", "))
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
