//! Find (Ctrl+F): type part of a key, pick a match, and the canvas jumps to it.

use crate::model::AssetKey;
use crate::ui::Studio;

const MAX_RESULTS: usize = 30;

#[derive(Debug, Default)]
pub struct FindState {
    pub query: String,
}

pub fn find_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(state) = &mut studio.windows.find else {
        return;
    };
    let mut chosen: Option<AssetKey> = None;
    let mut open = true;
    egui::Window::new("Find asset")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 80.0))
        .show(ctx, |ui| {
            let edit = ui.add(
                egui::TextEdit::singleline(&mut state.query)
                    .hint_text("Part of an asset key")
                    .desired_width(320.0),
            );
            edit.widget_info(|| {
                egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Find")
            });
            edit.request_focus();
            let query = state.query.to_lowercase();
            let project = studio.doc.project();
            let matches: Vec<&AssetKey> = project
                .assets
                .iter()
                .map(|a| &a.key)
                .filter(|k| !query.is_empty() && k.as_str().to_lowercase().contains(&query))
                .take(MAX_RESULTS)
                .collect();
            if ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                chosen = matches.first().map(|k| (*k).clone());
            }
            for key in matches {
                if ui.button(key.as_str()).clicked() {
                    chosen = Some(key.clone());
                }
            }
        });
    if let Some(key) = chosen {
        studio.canvas.select([key.clone()]);
        studio.canvas.reveal = Some(key);
        studio.windows.find = None;
    } else if !open || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
        studio.windows.find = None;
    }
}
