//! The Prices window: the price table the estimates use — each rate with its unit, source and
//! as-of date — editable. An edit is stored in the workspace as the user's figure, dated and
//! marked as edited; "Reset" goes back to the shipped figure. EC2 node prices, which ship
//! missing, can be added here. Loads and saves go through the job worker.

use std::collections::BTreeMap;

use egui::RichText;

use crate::app::jobs::JobError;
use crate::model::PriceTable;
use crate::ui::{Studio, theme};

/// Open-window state; `None` on the studio when the window is closed.
#[derive(Debug, Default)]
pub struct PricesState {
    pub table: Option<Result<Box<PriceTable>, JobError>>,
    /// Rates as typed, by price id (only rows being edited).
    pub drafts: BTreeMap<String, String>,
    pub new_node_type: String,
    pub new_node_usd: String,
    /// The outcome of the last save: `(ok, message)`.
    pub status: Option<(bool, String)>,
    /// Saves sent and not answered yet.
    pub pending: usize,
}

impl PricesState {
    /// Takes the worker's answer to a load or an edit.
    pub fn apply(&mut self, result: Result<Box<PriceTable>, JobError>, edited: bool) {
        if edited {
            self.pending = self.pending.saturating_sub(1);
        }
        match result {
            Ok(table) => {
                if edited && self.pending == 0 {
                    self.drafts.clear();
                    self.status = Some((true, "Saved; estimates use the new prices".to_owned()));
                }
                self.table = Some(Ok(table));
            }
            Err(e) if edited => self.status = Some((false, e.to_string())),
            Err(e) => self.table = Some(Err(e)),
        }
    }
}

/// A typed rate that is not a number ≥ 0.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("`{0}` is not a price (a number ≥ 0)")]
struct NotAPrice(String);

/// A rate as the user typed it: a number ≥ 0.
fn parse_rate(text: &str) -> Result<f64, NotAPrice> {
    let t = text.trim().trim_start_matches('$');
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(NotAPrice(text.to_owned())),
    }
}

/// A save (`Some(usd)`) or a reset (`None`) of the price with this id.
type PriceEdit = (String, Option<f64>);

impl PricesState {
    /// "Save prices": adds the changed rates and the new node price to `edits`. A rate that
    /// does not parse saves nothing (`edits` is emptied) and the status says which and why.
    fn collect_edits(&mut self, table: &PriceTable, edits: &mut Vec<PriceEdit>) {
        let mut problems = Vec::new();
        for row in table.rows.values() {
            let Some(text) = self.drafts.get(&row.id) else {
                continue;
            };
            match parse_rate(text) {
                Ok(v) if (v - row.usd).abs() > f64::EPSILON * row.usd.max(1.0) => {
                    edits.push((row.id.clone(), Some(v)));
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("{}: {e}", row.id)),
            }
        }
        let node = self.new_node_type.trim();
        if !node.is_empty() {
            match parse_rate(&self.new_node_usd) {
                Ok(v) => edits.push((format!("ec2.{node}.hour"), Some(v))),
                Err(e) => problems.push(format!("{node}: {e}")),
            }
        }
        if !problems.is_empty() {
            edits.clear();
            self.status = Some((false, problems.join("; ")));
        } else if edits.is_empty() {
            self.status = Some((true, "Nothing changed".to_owned()));
        } else {
            self.new_node_type.clear();
            self.new_node_usd.clear();
        }
    }
}

pub fn prices_ui(ctx: &egui::Context, studio: &mut Studio) {
    if studio.windows.prices.is_none() {
        return;
    }
    let mut open = true;
    let mut edits: Vec<PriceEdit> = Vec::new();
    egui::Window::new("Prices")
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_width(720.0)
        .default_pos(ctx.content_rect().center() - egui::vec2(360.0, 200.0))
        .show(ctx, |ui| {
            let Some(state) = &mut studio.windows.prices else {
                return;
            };
            let table = match &state.table {
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Loading the price table…");
                    });
                    return;
                }
                Some(Err(e)) => {
                    ui.label(RichText::new(e.to_string()).color(theme::error_color()));
                    return;
                }
                Some(Ok(t)) => t.clone(),
            };
            ui.label(format!(
                "{} list prices in {} (table version {}), as of {}",
                table.region,
                table.currency,
                table.version,
                table.as_of().unwrap_or("—")
            ));
            ui.label(
                RichText::new(
                    "EC2 node prices are not shipped: an estimate that needs one says it is missing until you add it",
                )
                .weak(),
            );
            price_rows_ui(ui, state, &table, &mut edits);
            ui.separator();
            new_node_ui(ui, state);
            ui.separator();
            ui.horizontal(|ui| {
                if ui.button("Save prices").clicked() {
                    state.collect_edits(&table, &mut edits);
                }
                if state.pending > 0 {
                    ui.spinner();
                }
                if let Some((ok, message)) = &state.status {
                    let color = if *ok {
                        theme::ok_color()
                    } else {
                        theme::error_color()
                    };
                    ui.label(RichText::new(message).color(color));
                }
            });
        });
    if let Some(state) = &mut studio.windows.prices {
        state.pending += edits.len();
        if !edits.is_empty() {
            state.status = None;
        }
    }
    for (id, usd) in edits {
        studio.set_price(&id, usd);
    }
    if !open {
        studio.windows.prices = None;
    }
}

/// The table: each rate editable, with its unit, source and date; "Reset" on edited ones
/// pushes a reset to `edits`.
fn price_rows_ui(
    ui: &mut egui::Ui,
    state: &mut PricesState,
    table: &PriceTable,
    edits: &mut Vec<PriceEdit>,
) {
    egui::ScrollArea::vertical()
        .max_height(360.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            egui::Grid::new("price_rows")
                .striped(true)
                .num_columns(5)
                .show(ui, |ui| {
                    for h in ["Price", "Rate (USD)", "Unit", "Source", "As of"] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.label("");
                    ui.end_row();
                    for row in table.rows.values() {
                        price_row_ui(ui, state, row, edits);
                        ui.end_row();
                    }
                });
        });
}

fn price_row_ui(
    ui: &mut egui::Ui,
    state: &mut PricesState,
    row: &crate::model::PriceRow,
    edits: &mut Vec<PriceEdit>,
) {
    ui.label(&row.item).on_hover_text(&row.id);
    let draft = state
        .drafts
        .entry(row.id.clone())
        .or_insert_with(|| row.usd.to_string());
    let edit = ui.add(egui::TextEdit::singleline(draft).desired_width(110.0));
    let id = row.id.clone();
    edit.widget_info(|| {
        egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, format!("Rate of {id}"))
    });
    ui.label(&row.unit);
    let source = ui.label(RichText::new(&row.source).weak());
    if let Some(note) = &row.note {
        source.on_hover_text(note);
    }
    match &row.user_edited {
        Some(on) => {
            ui.label(RichText::new(format!("{on} · edited by you")).color(theme::running_color()));
        }
        None => {
            ui.label(&row.as_of);
        }
    }
    if row.user_edited.is_some() {
        let shipped = row.shipped_usd.map_or_else(
            || "remove it".to_owned(),
            |u| format!("go back to the shipped {u}"),
        );
        let reset = ui.button("Reset").on_hover_text(shipped);
        let id = row.id.clone();
        reset.widget_info(|| {
            egui::WidgetInfo::labeled(egui::WidgetType::Button, true, format!("Reset {id}"))
        });
        if reset.clicked() {
            edits.push((row.id.clone(), None));
        }
    } else {
        ui.label("");
    }
}

/// The fields for an EC2 node price the table does not ship.
fn new_node_ui(ui: &mut egui::Ui, state: &mut PricesState) {
    ui.horizontal(|ui| {
        ui.label("Add an EC2 node price: instance type");
        let t = ui.add(
            egui::TextEdit::singleline(&mut state.new_node_type)
                .hint_text("m6i.xlarge")
                .desired_width(110.0),
        );
        t.widget_info(|| {
            egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Instance type")
        });
        ui.label("$ per hour");
        let u = ui.add(egui::TextEdit::singleline(&mut state.new_node_usd).desired_width(80.0));
        u.widget_info(|| {
            egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Hourly price")
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_numbers_at_least_zero() {
        assert_eq!(parse_rate(" $0.05 "), Ok(0.05));
        assert_eq!(parse_rate("0"), Ok(0.0));
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("cheap").is_err());
        assert!(parse_rate("NaN").is_err());
    }
}
