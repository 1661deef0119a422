//! The workbench's data preview: the rows of the previewed asset, sorted by a click on a column
//! header (again for descending, a third time for the computed order), filtered by a text in
//! one column or any, and any cell opened in full below the table (long values are cut in the
//! grid, whole on hover and in the cell viewer).
//!
//! The preview follows its asset: a rename carries it to the new key, a deletion says so, and a
//! change to the asset's definition (a column renamed or dropped, new SQL) previews it again
//! once the editing pauses, so the header shows the columns the asset has now.

use std::time::{Duration, Instant};

use egui::{RichText, Sense};
use egui_extras::{Column, TableBuilder};

use crate::app::jobs::JobRequest;
use crate::app::run::{Preview, PreviewColumn};
use crate::model::{AssetKey, AssetSpec, Project};
use crate::ui::workbench_state::{PREVIEW_LIMIT, PreviewState, WorkbenchTab};
use crate::ui::{Studio, theme};

const ROW_HEIGHT: f32 = 18.0;
/// A changed definition is previewed again once edits pause this long.
const REFRESH_AFTER: Duration = Duration::from_millis(500);
/// Cells longer than this get their whole value on hover.
const LONG_CELL: usize = 24;

/// How the preview's rows are shown: the sort and filter (by column name, so they hold across
/// a new preview of the same columns), the cell opened in full, and the rows in that order.
#[derive(Debug, Default)]
pub struct PreviewTable {
    /// The column sorted by, and whether descending.
    pub sort: Option<(String, bool)>,
    /// Rows containing this text (ignoring case) are shown; empty shows all.
    pub filter: String,
    /// The column the filter looks in (`None`: any column).
    pub filter_column: Option<String>,
    /// The cell shown in full: (row of the data, column).
    pub cell: Option<(usize, usize)>,
    /// Counts the previews received, so the rows' order is made again for new data.
    pub data_version: u64,
    /// The data's rows in the order shown, and what that order was made for.
    order: Vec<usize>,
    order_for: Option<OrderKey>,
    /// An order being made off the UI thread (a large preview), and what for.
    pending: Option<(OrderKey, std::sync::mpsc::Receiver<Vec<usize>>)>,
    /// How many orders were made off the UI thread.
    off_thread: u64,
}

/// Rows from which a sort or filter is made off the UI thread: a million rows take longer than
/// a frame.
pub const ORDER_OFF_THREAD_ROWS: usize = 20_000;

type OrderKey = (u64, Option<(String, bool)>, String, Option<String>);

impl PreviewTable {
    /// New rows arrived: the open cell closes, the order is made again.
    pub fn new_data(&mut self) {
        self.data_version += 1;
        self.cell = None;
    }

    /// The rows of `data` to show, in order (made again only when something changed). From
    /// [`ORDER_OFF_THREAD_ROWS`] rows the order is made on a thread of its own: the last order
    /// of the same data (or the computed order) stays shown meanwhile, and `ctx` is asked to
    /// repaint when the new one is ready.
    pub fn rows(&mut self, data: &Preview, ctx: &egui::Context) -> &[usize] {
        let key = (
            self.data_version,
            self.sort.clone(),
            self.filter.clone(),
            self.filter_column.clone(),
        );
        if let Some((made_for, answer)) = &self.pending {
            match answer.try_recv() {
                Ok(order) => {
                    self.order_for = Some(made_for.clone());
                    self.order = order;
                    self.pending = None;
                }
                Err(std::sync::mpsc::TryRecvError::Disconnected) => self.pending = None,
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
            }
        }
        let asked = self.pending.as_ref().is_some_and(|(k, _)| k == &key);
        if self.order_for.as_ref() != Some(&key) && !asked {
            let index = |name: &str| data.columns.iter().position(|c| c.name == name);
            let sort = self.sort.as_ref().and_then(|(name, desc)| {
                let i = index(name)?;
                Some((i, numeric(&data.columns[i].dtype), *desc))
            });
            let filter_column = self.filter_column.as_deref().and_then(index);
            if data.rows.len() < ORDER_OFF_THREAD_ROWS
                || !self.order_off_thread(&key, data, sort, filter_column, ctx)
            {
                self.order = data.rows.order(sort, &self.filter, filter_column);
                self.order_for = Some(key);
                self.pending = None;
            }
        }
        // New data while its order is made: shown in the computed order.
        if self
            .order_for
            .as_ref()
            .is_none_or(|k| k.0 != self.data_version)
        {
            self.order = (0..data.rows.len()).collect();
            self.order_for = Some((self.data_version, None, String::new(), None));
        }
        &self.order
    }

    /// Starts making the order for `key` on a thread of its own; false when no thread could
    /// be started (the caller makes it here).
    fn order_off_thread(
        &mut self,
        key: &OrderKey,
        data: &Preview,
        sort: Option<(usize, bool, bool)>,
        filter_column: Option<usize>,
        ctx: &egui::Context,
    ) -> bool {
        let (tell, answer) = std::sync::mpsc::channel();
        let rows = data.rows.clone();
        let filter = self.filter.clone();
        let ctx = ctx.clone();
        #[expect(
            clippy::disallowed_methods,
            reason = "CPU only, on rows already in memory: a short thread of its own, so a sort never waits behind the job worker's long jobs (a run, a preview)"
        )]
        let started = std::thread::Builder::new()
            .name("preview-order".to_owned())
            .spawn(move || {
                let _ = tell.send(rows.order(sort, &filter, filter_column));
                ctx.request_repaint();
            });
        if started.is_err() {
            return false;
        }
        self.pending = Some((key.clone(), answer));
        self.off_thread += 1;
        true
    }

    /// How many orders (sorts, filters) were made off the UI thread so far.
    pub fn orders_off_thread(&self) -> u64 {
        self.off_thread
    }

    /// Whether a sort or filter is being made off the UI thread.
    pub fn ordering(&self) -> bool {
        self.pending.is_some()
    }

    /// A click on column `name`'s header: ascending, then descending, then the computed order.
    pub fn click_header(&mut self, name: &str) {
        self.sort = match self.sort.take() {
            Some((n, false)) if n == name => Some((n, true)),
            Some((n, true)) if n == name => None,
            _ => Some((name.to_owned(), false)),
        };
    }
}

/// Whether a polars type's cells sort as numbers.
fn numeric(dtype: &str) -> bool {
    dtype.starts_with('i')
        || dtype.starts_with('u')
        || dtype.starts_with('f')
        || dtype.starts_with("decimal")
}

/// Where the previewed asset went since the preview was asked for.
#[derive(Debug, PartialEq)]
pub enum Whereabouts {
    /// Still there, as it was.
    Same,
    /// Still there, with another definition.
    Changed,
    /// Renamed to this key (the one asset that is the same but for its key).
    Renamed(AssetKey),
    Deleted,
}

/// Where the asset `then` (as it was previewed) is in `project` now.
pub fn whereabouts(project: &Project, then: &AssetSpec) -> Whereabouts {
    if let Some(now) = project.asset(&then.key) {
        return if now == then {
            Whereabouts::Same
        } else {
            Whereabouts::Changed
        };
    }
    let mut same_but_key = project.assets.iter().filter(|a| {
        let mut renamed = then.clone();
        renamed.key = a.key.clone();
        **a == renamed
    });
    match (same_but_key.next(), same_but_key.next()) {
        (Some(a), None) => Whereabouts::Renamed(a.key.clone()),
        _ => Whereabouts::Deleted,
    }
}

impl Studio {
    /// Previews the data flowing along the edge from `upstream` to `downstream`: the
    /// upstream's latest stored materialization, as the downstream reads it.
    pub fn preview_edge(&mut self, upstream: &AssetKey, downstream: &AssetKey) {
        let project = Box::new(self.project().clone());
        self.workbench.open = true;
        self.workbench.tab = WorkbenchTab::Preview;
        if self.send_job(JobRequest::PreviewStored {
            project,
            asset: upstream.clone(),
            limit: PREVIEW_LIMIT,
        }) {
            let preview = &mut self.workbench.preview;
            if preview.asset.as_ref() != Some(upstream) || preview.along.is_none() {
                preview.table = PreviewTable::default();
            }
            preview.asset = Some(upstream.clone());
            preview.along = Some(downstream.clone());
            preview.spec = None;
            preview.deleted = false;
            preview.unmasked = false;
            preview.confirm_unmasked = false;
            preview.loading = Some(Instant::now());
            preview.error = None;
        }
    }

    /// Keeps the preview with its asset: follows a rename, notes a deletion, and previews a
    /// changed definition again once editing pauses (masked previews only, and only while the
    /// preview is in view; an unmasked one is asked for again by hand).
    pub(crate) fn follow_preview(&mut self, ctx: &egui::Context) {
        let Some(then) = self.workbench.preview.spec.as_ref() else {
            return;
        };
        match whereabouts(self.doc.project(), then) {
            Whereabouts::Same => {}
            Whereabouts::Renamed(key) => {
                let preview = &mut self.workbench.preview;
                if let Some(spec) = &mut preview.spec {
                    spec.key = key.clone();
                }
                if let Some(data) = &mut preview.data {
                    data.asset = key.clone();
                }
                preview.asset = Some(key);
            }
            Whereabouts::Deleted => {
                let preview = &mut self.workbench.preview;
                preview.spec = None;
                preview.data = None;
                preview.error = None;
                preview.loading = None;
                preview.deleted = true;
            }
            Whereabouts::Changed => self.preview_again_after_a_pause(ctx),
        }
    }

    fn preview_again_after_a_pause(&mut self, ctx: &egui::Context) {
        let preview = &self.workbench.preview;
        let in_view = self.workbench.open && self.workbench.tab == WorkbenchTab::Preview;
        if preview.loading.is_some() || preview.unmasked || !in_view {
            return;
        }
        let waited = self.saving.last_edit.map_or(REFRESH_AFTER, |t| t.elapsed());
        if waited < REFRESH_AFTER {
            ctx.request_repaint_after(REFRESH_AFTER.saturating_sub(waited));
            return;
        }
        if let Some(key) = preview.asset.clone() {
            self.preview_asset_as(&key, false);
        }
    }
}

/// A header menu's choice: trace the column on the canvas, or clear the trace.
enum Trace {
    Column(String),
    Clear,
}

fn weak(ui: &mut egui::Ui, text: impl Into<String>) {
    ui.label(RichText::new(text.into()).weak());
}

/// The preview tab: what is previewed, its state, the filter and the rows.
pub fn preview_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let preview = &studio.workbench.preview;
    let Some(asset) = preview.asset.clone() else {
        weak(
            ui,
            "Select an asset and press Preview to see its first rows (computed in the background).",
        );
        return;
    };
    if preview.deleted {
        weak(ui, format!("{asset} was deleted, and its preview with it."));
        return;
    }
    if preview.loading.is_some() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!("Previewing {asset}…"));
        });
    }
    if let Some(error) = &preview.error {
        ui.label(
            RichText::new(format!("Preview of {asset} failed: {error}"))
                .color(theme::error_color()),
        );
        return;
    }
    if studio.workbench.preview.along.is_none() {
        super::unmask::unmask_ui(ui, studio);
    }
    let changed = studio
        .workbench
        .preview
        .spec
        .as_ref()
        .is_some_and(|s| whereabouts(studio.doc.project(), s) == Whereabouts::Changed);
    let PreviewState {
        data, table, along, ..
    } = &mut studio.workbench.preview;
    let Some(data) = data else {
        return;
    };
    let again = preview_header_ui(ui, data, table, changed, along.as_ref());
    let columns = &studio.inspector.columns;
    let traced = columns
        .chosen
        .as_deref()
        .filter(|_| columns.chosen_asset.as_ref() == Some(&data.asset));
    let trace = preview_table_ui(ui, data, table, traced);
    cell_viewer_ui(ui, data, table);
    let previewed = data.asset.clone();
    if again {
        studio.preview_asset(&asset);
    }
    match trace {
        Some(Trace::Column(c)) => studio.choose_column(&previewed, Some(c)),
        Some(Trace::Clear) => studio.choose_column(&previewed, None),
        None => {}
    }
}

/// The line over the rows: the asset, the counts, where the rows came from, a note when the
/// asset changed since; then the filter. Whether "Preview again" was clicked.
fn preview_header_ui(
    ui: &mut egui::Ui,
    data: &Preview,
    table: &mut PreviewTable,
    changed: bool,
    along: Option<&AssetKey>,
) -> bool {
    let shown = table.rows(data, ui.ctx()).len();
    let total = data.rows.len();
    let mut again = false;
    ui.horizontal(|ui| {
        let title = match along {
            Some(down) => format!("Data from {} to {down}", data.asset),
            None => format!("Preview of {}", data.asset),
        };
        ui.label(RichText::new(title).strong());
        let rows = if shown == total {
            format!("{total} rows")
        } else {
            format!("{shown} of {total} rows")
        };
        ui.label(format!("{rows} · {} columns", data.columns.len()));
        if table.ordering() {
            ui.spinner();
            weak(ui, "sorting and filtering…");
        }
        if data.is_sample {
            ui.label(RichText::new(format!("Sample: {}", data.note)).color(theme::warning_color()));
        } else {
            weak(ui, format!("Complete: {}", data.note));
        }
        if changed {
            ui.label(
                RichText::new(format!("{} changed since this preview", data.asset))
                    .color(theme::warning_color()),
            );
            again = ui.small_button("Preview again").clicked();
        }
    });
    ui.horizontal(|ui| {
        let field = ui.add(
            egui::TextEdit::singleline(&mut table.filter)
                .hint_text("Filter rows")
                .desired_width(220.0),
        );
        field.widget_info(|| {
            egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Filter rows")
        });
        ui.label("in");
        let shown_column = table.filter_column.as_deref().unwrap_or("any column");
        egui::ComboBox::from_id_salt("preview_filter_column")
            .selected_text(shown_column)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut table.filter_column, None, "any column");
                for c in &data.columns {
                    ui.selectable_value(&mut table.filter_column, Some(c.name.clone()), &c.name);
                }
            });
        if !table.filter.is_empty() && ui.small_button("Clear filter").clicked() {
            table.filter.clear();
        }
    });
    again
}

/// The header cell of one column: its name (a click sorts by it, again for descending, a
/// third time for the computed order; its context menu traces it on the canvas, as the
/// inspector's Columns section does) with its type and nulls. What its menu asked for.
fn column_header_ui(
    ui: &mut egui::Ui,
    column: &PreviewColumn,
    rows: usize,
    table: &mut PreviewTable,
    traced: bool,
) -> Option<Trace> {
    let mark = match &table.sort {
        Some((name, false)) if *name == column.name => " ▲",
        Some((name, true)) if *name == column.name => " ▼",
        _ => "",
    };
    let mut trace = None;
    ui.vertical(|ui| {
        let mut text = RichText::new(format!("{}{mark}", column.name)).strong();
        if traced {
            text = text.color(theme::highlight_color());
        }
        let name = ui
            .add(egui::Button::new(text).frame(false))
            .on_hover_text(
                "Sort by this column (click again for descending, then unsorted); right-click to trace it on the canvas",
            );
        if name.clicked() {
            table.click_header(&column.name);
        }
        name.context_menu(|ui| {
            if traced {
                if ui.button("Clear trace").clicked() {
                    trace = Some(Trace::Clear);
                    ui.close();
                }
            } else if ui
                .button("Trace column")
                .on_hover_text(
                    "Outline the cards this column's values come from and feed, naming the columns on the way",
                )
                .clicked()
            {
                trace = Some(Trace::Column(column.name.clone()));
                ui.close();
            }
        });
        let nulls = if rows == 0 {
            0.0
        } else {
            column.null_count as f64 * 100.0 / rows as f64
        };
        ui.label(
            RichText::new(format!("{} · {nulls:.0} % null", column.dtype))
                .small()
                .color(if column.null_count > 0 {
                    theme::warning_color()
                } else {
                    ui.visuals().weak_text_color()
                }),
        )
        .on_hover_text(format!("{} of {rows} rows are null", column.null_count));
    });
    trace
}

/// The rows in the order shown: a header per column, only the rows in view laid out; a click
/// on a cell opens it in the cell viewer. A trace asked for from a header's menu.
fn preview_table_ui(
    ui: &mut egui::Ui,
    data: &Preview,
    table: &mut PreviewTable,
    traced: Option<&str>,
) -> Option<Trace> {
    let mut trace = None;
    let total = data.rows.len();
    table.rows(data, ui.ctx());
    // Taken out while the header may change the sort (put back below; a new sort makes it
    // again next frame).
    let order = std::mem::take(&mut table.order);
    let mut opened = None;
    // The cell viewer keeps a few lines under the table.
    let height = (ui.available_height() - if table.cell.is_some() { 96.0 } else { 0.0 }).max(80.0);
    egui::ScrollArea::horizontal()
        .id_salt("preview_h")
        .show(ui, |ui| {
            let mut builder = TableBuilder::new(ui)
                .id_salt(("preview", data.asset.as_str()))
                .striped(true)
                .resizable(true)
                .auto_shrink([false, false])
                .max_scroll_height(height)
                .column(Column::auto().at_least(48.0));
            for _ in &data.columns {
                builder = builder.column(Column::initial(140.0).at_least(60.0).clip(true));
            }
            builder
                .header(36.0, |mut header| {
                    header.col(|ui| weak(ui, "#"));
                    for c in &data.columns {
                        header.col(|ui| {
                            let is = traced == Some(c.name.as_str());
                            if let Some(t) = column_header_ui(ui, c, total, table, is) {
                                trace = Some(t);
                            }
                        });
                    }
                })
                .body(|body| {
                    // Only the rows in view are laid out: a million rows scroll like ten.
                    body.rows(ROW_HEIGHT, order.len(), |mut row| {
                        let i = order[row.index()];
                        row.col(|ui| weak(ui, (i + 1).to_string()));
                        for c in 0..data.columns.len() {
                            row.col(|ui| {
                                if cell_ui(ui, data.rows.cell(i, c)) {
                                    opened = Some((i, c));
                                }
                            });
                        }
                    });
                });
        });
    table.order = order;
    if opened.is_some() {
        table.cell = opened;
    }
    trace
}

/// One cell, cut to its column; the whole value on hover when long. Whether it was clicked.
fn cell_ui(ui: &mut egui::Ui, value: Option<&str>) -> bool {
    let response = match value {
        Some(v) => {
            let r = ui.add(egui::Label::new(v).truncate().sense(Sense::click()));
            if v.chars().count() > LONG_CELL {
                r.on_hover_text(v)
            } else {
                r
            }
        }
        None => {
            ui.add(egui::Label::new(RichText::new("null").weak().italics()).sense(Sense::click()))
        }
    };
    response.clicked()
}

/// The cell opened in full under the table: its row and column, the whole value wrapped (to
/// select and copy), and Close.
fn cell_viewer_ui(ui: &mut egui::Ui, data: &Preview, table: &mut PreviewTable) {
    let Some((row, column)) = table.cell else {
        return;
    };
    let Some(name) = data.columns.get(column).map(|c| c.name.as_str()) else {
        table.cell = None;
        return;
    };
    let value = data.rows.cell(row, column);
    ui.separator();
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("Row {} · {name}", row + 1)).strong());
        if let Some(v) = value {
            weak(ui, format!("{} characters", v.chars().count()));
            if ui.small_button("Copy value").clicked() {
                ui.ctx().copy_text(v.to_owned());
            }
        }
        if ui.small_button("Close").clicked() {
            table.cell = None;
        }
    });
    // Read-only: the text can be selected and copied, not changed.
    let mut text: &str = value.unwrap_or("null");
    egui::ScrollArea::vertical()
        .id_salt("preview_cell")
        .max_height(64.0)
        .show(ui, |ui| {
            let viewer = ui.add(
                egui::TextEdit::multiline(&mut text)
                    .desired_rows(1)
                    .desired_width(f32::INFINITY)
                    .interactive(true),
            );
            viewer.widget_info(|| {
                egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Cell value")
            });
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_click_sorts_up_then_down_then_not() {
        let mut t = PreviewTable::default();
        t.click_header("amount");
        assert_eq!(t.sort, Some(("amount".to_owned(), false)));
        t.click_header("amount");
        assert_eq!(t.sort, Some(("amount".to_owned(), true)));
        t.click_header("amount");
        assert_eq!(t.sort, None);
        t.click_header("amount");
        t.click_header("status");
        assert_eq!(t.sort, Some(("status".to_owned(), false)));
    }

    #[test]
    fn the_preview_follows_a_rename_and_notes_a_change_or_a_deletion() {
        use crate::model::{Layer, edit::Document, edit::Edit};
        let mut project = Project::new("p");
        project
            .assets
            .push(AssetSpec::new(AssetKey::new("a"), Layer::Bronze));
        let then = project.assets[0].clone();
        let mut doc = Document::new(project);
        assert_eq!(whereabouts(doc.project(), &then), Whereabouts::Same);
        doc.apply(Edit::RenameAsset {
            from: AssetKey::new("a"),
            to: AssetKey::new("b"),
        })
        .unwrap();
        assert_eq!(
            whereabouts(doc.project(), &then),
            Whereabouts::Renamed(AssetKey::new("b"))
        );
        let mut spec = doc.project().assets[0].clone();
        spec.description = "changed".to_owned();
        doc.apply(Edit::UpdateAsset {
            spec: Box::new(spec),
        })
        .unwrap();
        let mut renamed = then.clone();
        renamed.key = AssetKey::new("b");
        assert_eq!(whereabouts(doc.project(), &renamed), Whereabouts::Changed);
        doc.apply(Edit::RemoveAssets {
            keys: vec![AssetKey::new("b")],
        })
        .unwrap();
        assert_eq!(whereabouts(doc.project(), &renamed), Whereabouts::Deleted);
    }
}
