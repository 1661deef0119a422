//! The Prices window: the price table the estimates use — each rate with its unit, source and
//! as-of date — editable. An edit is stored in the workspace as the user's figure, dated and
//! marked as edited; "Reset" goes back to the shipped figure. EC2 node prices ship for the common
//! families (listed after the service rates, with a filter); other instance types can be added
//! here. Loads and saves go through the job worker.

use std::collections::BTreeMap;

use egui::RichText;

use crate::app::jobs::JobError;
use crate::model::PriceTable;
use crate::model::pricing::{ids, is_addable_price_id};
use crate::ui::{Studio, theme};

/// Open-window state; `None` on the studio when the window is closed.
#[derive(Debug, Default)]
pub struct PricesState {
    pub table: Option<Result<Box<PriceTable>, JobError>>,
    /// Rates as typed, by price id (only rows being edited).
    pub drafts: BTreeMap<String, String>,
    pub new_node_type: String,
    pub new_node_usd: String,
    /// Shows only the rows whose id or item contains this (case-insensitive).
    pub filter: String,
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

/// The width of the Source column; longer sources are cut with "…".
const SOURCE_WIDTH: f32 = 260.0;

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
    // Opened from the launch dialog, it stays in front of it (a child of that dialog), never
    // behind it where its rows cannot be clicked.
    egui::Window::new("Prices")
        .order(egui::Order::Foreground)
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_width(960.0)
        .default_pos(ctx.content_rect().center() - egui::vec2(480.0, 200.0))
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
                    "EC2 node prices ship for the m, c and r families (x86 and Graviton); another instance type says it is missing until you add it below",
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
    let rows = shown_rows(table, &state.filter);
    ui.horizontal(|ui| {
        ui.label("Filter");
        let f = ui.add(
            egui::TextEdit::singleline(&mut state.filter)
                .hint_text("m6i, fargate, spot…")
                .desired_width(160.0),
        );
        f.widget_info(|| {
            egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Filter prices")
        });
        ui.label(RichText::new(format!("{} of {} prices", rows.len(), table.rows.len())).weak());
    });
    egui::ScrollArea::vertical()
        .max_height(360.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            egui::Grid::new("price_rows")
                .striped(true)
                .num_columns(6)
                .show(ui, |ui| {
                    for h in ["Price", "Rate (USD)", "", "Unit", "Source", "As of"] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for row in rows {
                        price_row_ui(ui, state, row, edits);
                        ui.end_row();
                    }
                });
        });
}

/// The rows to list: those matching `filter` (in id or item, any case), the service rates first
/// and the EC2 node prices after them, each group by id.
fn shown_rows<'t>(table: &'t PriceTable, filter: &str) -> Vec<&'t crate::model::PriceRow> {
    let needle = filter.trim().to_lowercase();
    let mut rows: Vec<_> = table
        .rows
        .values()
        .filter(|r| {
            needle.is_empty()
                || r.id.to_lowercase().contains(&needle)
                || r.item.to_lowercase().contains(&needle)
        })
        .collect();
    rows.sort_by_key(|r| (is_node_price(&r.id), r.id.as_str()));
    rows
}

/// An EC2 instance type's hourly price (`ec2.m6i.large.hour`).
fn is_node_price(id: &str) -> bool {
    id != ids::EC2_SPOT_DISCOUNT && is_addable_price_id(id)
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
    // Reset sits beside the rate it resets, where it is always in view.
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
    ui.label(&row.unit);
    // Long sources are cut to one short line (the whole text and the note on hover).
    let hover = match &row.note {
        Some(note) => format!("{}\n\n{note}", row.source),
        None => row.source.clone(),
    };
    ui.scope(|ui| {
        ui.set_max_width(SOURCE_WIDTH);
        ui.add(egui::Label::new(RichText::new(&row.source).weak()).truncate())
            .on_hover_text(hover);
    });
    match &row.user_edited {
        Some(on) => {
            ui.label(RichText::new(format!("{on} · edited by you")).color(theme::running_color()));
        }
        None => {
            ui.label(&row.as_of);
        }
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
    fn service_rates_come_before_node_prices_and_the_filter_narrows_them() {
        let shipped = crate::app::plan::shipped_prices().unwrap();
        let all = shown_rows(&shipped, "");
        assert_eq!(all.len(), shipped.rows.len());
        let first_node = all.iter().position(|r| is_node_price(&r.id)).unwrap();
        assert!(
            all[..first_node]
                .iter()
                .any(|r| r.id == "fargate.vcpu_hour")
        );
        assert!(all[first_node..].iter().all(|r| is_node_price(&r.id)));
        let m6i: Vec<_> = shown_rows(&shipped, " M6I ")
            .iter()
            .map(|r| r.id.clone())
            .collect();
        assert_eq!(m6i.len(), 7, "{m6i:?}");
        assert!(m6i.iter().all(|id| id.starts_with("ec2.m6i.")));
        assert!(shown_rows(&shipped, "graviton").len() >= 6 * 7);
        assert!(shown_rows(&shipped, "no such price").is_empty());
    }

    #[test]
    fn rates_are_numbers_at_least_zero() {
        assert_eq!(parse_rate(" $0.05 "), Ok(0.05));
        assert_eq!(parse_rate("0"), Ok(0.0));
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("cheap").is_err());
        assert!(parse_rate("NaN").is_err());
    }
}
