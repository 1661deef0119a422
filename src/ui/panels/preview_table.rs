//! The preview's table: a header per column (its name, type and share of nulls; a click on
//! the name traces the column on the canvas) and only the rows in view laid out, so a million
//! rows scroll like ten.

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use super::workbench::{ROW_HEIGHT, percent, weak};
use crate::app::run::Preview;
use crate::ui::theme;

/// The preview's rows: a header per column with its type and nulls, only the rows in view
/// laid out. Returns the column whose name was clicked.
pub fn preview_table_ui(ui: &mut egui::Ui, data: &Preview) -> Option<String> {
    let rows = data.rows.len();
    let mut clicked = None;
    egui::ScrollArea::horizontal()
        .id_salt("preview_h")
        .show(ui, |ui| {
            let mut table = TableBuilder::new(ui)
                .id_salt(("preview", data.asset.as_str()))
                .striped(true)
                .resizable(true)
                .auto_shrink([false, false])
                .column(Column::auto().at_least(48.0));
            for _ in &data.columns {
                table = table.column(Column::initial(140.0).at_least(60.0).clip(true));
            }
            table
                .header(36.0, |mut header| {
                    header.col(|ui| {
                        weak(ui, "#");
                    });
                    for c in &data.columns {
                        header.col(|ui| {
                            ui.vertical(|ui| {
                                if ui
                                    .add(
                                        egui::Label::new(RichText::new(&c.name).strong())
                                            .sense(egui::Sense::click()),
                                    )
                                    .on_hover_text("Click to trace this column on the canvas")
                                    .clicked()
                                {
                                    clicked = Some(c.name.clone());
                                }
                                let nulls = percent(c.null_count, rows);
                                ui.label(
                                    RichText::new(format!("{} · {nulls:.0} % null", c.dtype))
                                        .small()
                                        .color(if c.null_count > 0 {
                                            theme::warning_color()
                                        } else {
                                            ui.visuals().weak_text_color()
                                        }),
                                )
                                .on_hover_text(format!("{} of {rows} rows are null", c.null_count));
                            });
                        });
                    }
                })
                .body(|body| {
                    // Only the rows in view are laid out: a million rows scroll like ten.
                    body.rows(ROW_HEIGHT, rows, |mut row| {
                        let i = row.index();
                        row.col(|ui| {
                            weak(ui, (i + 1).to_string());
                        });
                        for c in 0..data.columns.len() {
                            row.col(|ui| match data.rows.cell(i, c) {
                                Some(v) => {
                                    ui.add(egui::Label::new(v).truncate());
                                }
                                None => {
                                    ui.label(RichText::new("null").weak().italics());
                                }
                            });
                        }
                    });
                });
        });
    clicked
}
