//! The studio's panels and pop-ups, one file each. Panels read the studio and push commands or
//! edits; nothing here writes to disk.

pub mod alerts;
pub mod audit;
pub mod automation;
pub mod blast;
pub mod catalog;
pub mod columns;
pub mod command_palette;
pub mod compare;
pub mod connections;
pub mod costs;
pub mod deployment;
pub mod diagnostics;
pub mod find;
pub mod inspector;
pub mod launch;
pub mod lineage;
pub mod note_editor;
pub mod partitions;
pub mod picker;
pub mod pii_proposals;
pub mod preview;
pub mod prices;
pub mod report_path;
pub mod sql_editor;
pub mod toolbar;
pub mod tour;
pub mod unmask;
pub mod welcome;
pub mod workbench;

use super::Studio;
use super::canvas::palette::AssetTemplate;

/// The add-asset palette: one button per kind of asset, adding it where it was opened.
pub fn add_palette_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(pos) = studio.windows.add_palette else {
        return;
    };
    let mut open = true;
    let mut chosen = None;
    egui::Window::new("Add asset")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .default_pos(ctx.content_rect().center() - egui::vec2(120.0, 160.0))
        .show(ctx, |ui| {
            ui.label("Choose what the new asset is:");
            ui.add_space(4.0);
            for template in AssetTemplate::ALL {
                let color = super::theme::layer_color(template.layer());
                ui.horizontal(|ui| {
                    let (dot, _) =
                        ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                    ui.painter().circle_filled(dot.center(), 5.0, color);
                    if ui.button(template.label()).clicked() {
                        chosen = Some(template);
                    }
                });
            }
        });
    if let Some(template) = chosen {
        studio.add_asset(template, pos);
        studio.windows.add_palette = None;
    } else if !open || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
        studio.windows.add_palette = None;
    }
}
