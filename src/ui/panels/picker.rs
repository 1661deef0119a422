//! The project picker: recent projects first, then every project in the workspace.

use crate::ui::{Studio, UICommand};

pub fn picker_ui(ctx: &egui::Context, studio: &mut Studio) {
    if !studio.windows.picker_open {
        return;
    }
    let mut open = true;
    let mut chosen: Option<String> = None;
    let mut import = false;
    egui::Window::new("Open project")
        .open(&mut open)
        .collapsible(false)
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 80.0))
        .show(ctx, |ui| {
            let stored: Vec<&str> = studio
                .workspace
                .projects
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            let recent: Vec<&String> = studio
                .prefs
                .recent_projects
                .iter()
                .filter(|r| stored.contains(&r.as_str()))
                .collect();
            if !recent.is_empty() {
                ui.label(egui::RichText::new("Recent").strong());
                for name in recent {
                    if ui.button(name.as_str()).clicked() {
                        chosen = Some(name.clone());
                    }
                }
                ui.separator();
            }
            ui.label(egui::RichText::new("In this workspace").strong());
            egui::Grid::new("projects")
                .num_columns(3)
                .striped(true)
                .show(ui, |ui| {
                    for p in &studio.workspace.projects {
                        if ui.button(&p.name).clicked() {
                            chosen = Some(p.name.clone());
                        }
                        ui.label(format!("{} assets", p.assets));
                        ui.label(
                            egui::RichText::new(crate::model::time::text(&p.updated_at)).weak(),
                        );
                        ui.end_row();
                    }
                });
            ui.separator();
            if ui.button(UICommand::ImportProject.label()).clicked() {
                import = true;
            }
        });
    if let Some(name) = chosen {
        studio.windows.picker_open = false;
        studio.open_by_name(&name);
    } else if import {
        studio.windows.picker_open = false;
        studio.push_command(UICommand::ImportProject);
    } else if !open {
        studio.windows.picker_open = false;
    }
}
