//! The preview's "Show unmasked" control: when the project masks personal data, its raw values
//! are shown only after an explicit confirmation, and each showing is recorded in the audit
//! log (`unmasked_shown`) before anything is read.

use egui::RichText;

use crate::ui::{Studio, theme};

/// The control above the preview's rows; nothing when the project has no masking policy.
pub fn unmask_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let Some(asset) = studio.workbench.preview.asset.clone() else {
        return;
    };
    if studio.project().masking.is_empty() || studio.workbench.preview.data.is_none() {
        return;
    }
    let state = &mut studio.workbench.preview;
    let mut ask = None;
    ui.horizontal(|ui| {
        if state.unmasked {
            ui.label(
                RichText::new("Showing UNMASKED personal data (this showing is in the audit log)")
                    .color(theme::error_color()),
            );
            if ui.button("Mask again").clicked() {
                ask = Some(false);
            }
        } else if state.confirm_unmasked {
            ui.label(
                RichText::new(format!(
                    "Show the raw personal data of {asset}? It is recorded in the audit log."
                ))
                .color(theme::warning_color()),
            );
            if ui.button("Show unmasked").clicked() {
                ask = Some(true);
            }
            if ui.button("Cancel").clicked() {
                state.confirm_unmasked = false;
            }
        } else {
            ui.label(RichText::new("Tagged columns are masked by the project's policies.").weak());
            if ui
                .button("Show unmasked…")
                .on_hover_text("Asks for a confirmation; each showing is recorded in the audit log")
                .clicked()
            {
                state.confirm_unmasked = true;
            }
        }
    });
    if let Some(unmasked) = ask {
        studio.preview_asset_as(&asset, unmasked);
    }
}
