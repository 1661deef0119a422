//! The blast radius before a delete: removing assets that others read first lists what it
//! breaks — the downstream assets, their checks, contracts and unit tests, and the schedules,
//! sensors and alert rules that select a removed asset (`model::impact::removal_impact`, the
//! same walk as `medallion impact`) — and asks to confirm. Removing assets nothing reads
//! happens at once, as before.

use egui::RichText;

use crate::model::AssetKey;
use crate::model::edit::Edit;
use crate::model::impact::{Impact, removal_impact};
use crate::ui::{Studio, theme};

/// A delete waiting for confirmation, with what it breaks.
#[derive(Debug)]
pub struct DeleteConfirm {
    pub keys: Vec<AssetKey>,
    pub impact: Impact,
}

impl Studio {
    /// Deletes `keys`, or — when other assets read them — opens the confirmation listing
    /// what the delete breaks.
    pub fn request_delete(&mut self, keys: Vec<AssetKey>) {
        if keys.is_empty() {
            return;
        }
        let impact = removal_impact(self.project(), &keys);
        if impact.assets.is_empty() {
            self.apply(Edit::RemoveAssets { keys });
        } else {
            self.windows.confirm_delete = Some(DeleteConfirm { keys, impact });
        }
    }
}

pub fn confirm_delete_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(confirm) = &studio.windows.confirm_delete else {
        return;
    };
    let mut open = true;
    let (mut delete, mut cancel) = (false, false);
    let names: Vec<&str> = confirm.keys.iter().map(AssetKey::as_str).collect();
    egui::Window::new("Delete and break downstream?")
        .id(egui::Id::new("confirm_delete"))
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_size(egui::vec2(560.0, 380.0))
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            ui.label(
                RichText::new(format!(
                    "Deleting {} breaks what reads it:",
                    names.join(", ")
                ))
                .strong()
                .color(theme::warning_color()),
            );
            egui::ScrollArea::vertical()
                .max_height(260.0)
                .show(ui, |ui| impact_ui(ui, &confirm.impact));
            ui.separator();
            ui.horizontal(|ui| {
                delete = ui
                    .button("Delete anyway")
                    .on_hover_text("Delete; Undo (Ctrl+Z) brings it back")
                    .clicked();
                cancel = ui.button("Cancel").clicked();
            });
        });
    if delete && let Some(confirm) = studio.windows.confirm_delete.take() {
        studio.apply(Edit::RemoveAssets { keys: confirm.keys });
    }
    if cancel || !open {
        studio.windows.confirm_delete = None;
    }
}

/// One heading and line per kind of thing broken, as `medallion impact` lists them.
fn impact_ui(ui: &mut egui::Ui, i: &Impact) {
    let mut section = |title: &str, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        ui.label(RichText::new(format!("{title} ({})", lines.len())).strong());
        for line in lines {
            ui.label(line);
        }
    };
    section(
        "Downstream assets",
        i.assets
            .iter()
            .map(|a| format!("{} — {}", a.asset, a.reason))
            .collect(),
    );
    section(
        "Checks",
        i.checks
            .iter()
            .map(|c| format!("{}.{}", c.asset, c.check))
            .collect(),
    );
    section(
        "Contracts",
        i.contracts
            .iter()
            .map(|c| format!("{} — {}", c.asset, c.reason))
            .collect(),
    );
    section(
        "Unit tests",
        i.unit_tests
            .iter()
            .map(|t| format!("{}.{} — {}", t.asset, t.test, t.reason))
            .collect(),
    );
    section("Schedules", i.schedules.clone());
    section("Sensors", i.sensors.clone());
    section("Alert rules", i.alert_rules.clone());
}
