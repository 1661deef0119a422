//! Where to save a run's HTML report when no file dialog can be shown (no file-chooser portal
//! and no zenity): a path field instead of an error.

use std::path::PathBuf;

use crate::model::RunId;
use crate::ui::Studio;

/// The path field of one run's report export.
#[derive(Debug)]
pub struct ReportPathState {
    pub run_id: RunId,
    pub path: String,
}

impl ReportPathState {
    /// A field holding `report-RUN.html` in the current directory.
    pub fn new(run_id: RunId) -> Self {
        let file = format!("report-{run_id}.html");
        let path = std::env::current_dir()
            .map(|d| d.join(&file).display().to_string())
            .unwrap_or(file);
        Self { run_id, path }
    }
}

pub fn report_path_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(state) = &mut studio.windows.report_path else {
        return;
    };
    let mut open = true;
    let mut export = false;
    let mut cancel = false;
    egui::Window::new("Export HTML report")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 80.0))
        .show(ctx, |ui| {
            ui.label(format!(
                "No file dialog can be shown on this desktop. Type where to save the report of run {}:",
                state.run_id
            ));
            let edit = ui.add(egui::TextEdit::singleline(&mut state.path).desired_width(460.0));
            edit.widget_info(|| {
                egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Report file")
            });
            let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.horizontal(|ui| {
                let ready = !state.path.trim().is_empty();
                export = ui.add_enabled(ready, egui::Button::new("Export")).clicked()
                    || (ready && entered);
                cancel = ui.button("Cancel").clicked();
            });
        });
    if export {
        let run_id = state.run_id.clone();
        let path = PathBuf::from(state.path.trim());
        studio.windows.report_path = None;
        studio.export_report(&run_id, path);
    } else if cancel || !open {
        studio.windows.report_path = None;
    }
}
