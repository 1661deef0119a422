//! The command palette (Ctrl+K): every command with its shortcut, filtered as you type.

use crate::ui::{Studio, UICommand};

#[derive(Debug, Default)]
pub struct PaletteState {
    pub query: String,
}

pub fn command_palette_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(state) = &mut studio.windows.command_palette else {
        return;
    };
    let mut chosen = None;
    let mut open = true;
    egui::Window::new("Commands")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 80.0))
        .show(ctx, |ui| {
            let edit = ui.add(
                egui::TextEdit::singleline(&mut state.query)
                    .hint_text("Type a command")
                    .desired_width(360.0),
            );
            edit.widget_info(|| {
                egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Command search")
            });
            edit.request_focus();
            let query = state.query.to_lowercase();
            let matches: Vec<UICommand> = UICommand::ALL
                .into_iter()
                .filter(|c| c.label().to_lowercase().contains(&query))
                .collect();
            if ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                chosen = matches.first().copied();
            }
            ui.separator();
            egui::Grid::new("commands").num_columns(2).show(ui, |ui| {
                for command in matches {
                    if ui.button(command.label()).clicked() {
                        chosen = Some(command);
                    }
                    ui.label(egui::RichText::new(command.shortcut_text(ctx)).weak());
                    ui.end_row();
                }
            });
        });
    if let Some(command) = chosen {
        studio.windows.command_palette = None;
        studio.push_command(command);
    } else if !open || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
        studio.windows.command_palette = None;
    }
}
