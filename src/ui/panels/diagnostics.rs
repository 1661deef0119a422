//! The diagnostics panel: live validation; clicking a diagnostic selects its asset, reveals it
//! on the canvas and opens the inspector on the field.

use egui::RichText;

use crate::ui::{Studio, theme};

pub fn diagnostics_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let response = egui::Panel::bottom("diagnostics")
        .resizable(true)
        .default_size(studio.prefs.diagnostics_height)
        .show(ui, |ui| {
            ui.label(RichText::new("Diagnostics").strong());
            let mut clicked = None;
            egui::ScrollArea::vertical()
                .auto_shrink(false)
                .show(ui, |ui| {
                    for (i, d) in studio.validation.diagnostics.iter().enumerate() {
                        let color = if d.is_error() {
                            theme::error_color()
                        } else {
                            theme::warning_color()
                        };
                        let text = RichText::new(d.to_string()).color(color);
                        if d.asset.is_some() {
                            if ui.link(text).on_hover_text("Select this asset").clicked() {
                                clicked = Some(i);
                            }
                        } else {
                            ui.label(text);
                        }
                    }
                });
            clicked
        });
    studio.prefs.diagnostics_height = response.response.rect.height();
    if let Some(i) = response.inner
        && let Some(d) = studio.validation.diagnostics.get(i).cloned()
        && let Some(key) = d.asset
    {
        studio.canvas.select([key.clone()]);
        studio.canvas.reveal = Some(key);
        studio.prefs.show_inspector = true;
        studio.inspector.focus_field.clone_from(&d.field);
    }
}
