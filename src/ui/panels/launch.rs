//! The launch dialog: what to materialize (selected, with upstream, all), which partitions,
//! whether to force — and, before anything runs, which steps will compute and which are up to
//! date (the plan comes from the job worker).

use egui::RichText;

use crate::app::run::PlannedStatus;
use crate::ui::workbench::LaunchScope;
use crate::ui::{Studio, theme};

pub fn launch_ui(ctx: &egui::Context, studio: &mut Studio) {
    if studio.workbench.launch.is_none() {
        return;
    }
    let mut open = true;
    let mut start = false;
    let mut close = false;
    let needs_partition = studio
        .workbench
        .launch
        .as_ref()
        .is_some_and(|l| l.needs_partition(studio.doc.project(), &studio.canvas.selection));
    let selected = studio.canvas.selection.len();
    egui::Window::new("Materialize")
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_width(460.0)
        .default_pos(ctx.content_rect().center() - egui::vec2(230.0, 220.0))
        .show(ctx, |ui| {
            let Some(launch) = &mut studio.workbench.launch else {
                return;
            };
            ui.label("What to materialize");
            ui.horizontal(|ui| {
                for scope in [
                    LaunchScope::Selected,
                    LaunchScope::WithUpstream,
                    LaunchScope::All,
                ] {
                    let enabled = scope == LaunchScope::All || selected > 0;
                    ui.add_enabled_ui(enabled, |ui| {
                        ui.radio_value(&mut launch.scope, scope, scope.label());
                    });
                }
            });
            if needs_partition {
                ui.add_space(4.0);
                ui.horizontal(|ui| {
                    ui.label("Partition");
                    let from = ui.add(
                        egui::TextEdit::singleline(&mut launch.from)
                            .hint_text("2024-01-01 or a key")
                            .desired_width(120.0),
                    );
                    from.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Partition")
                    });
                    ui.label("to");
                    let to = ui.add(
                        egui::TextEdit::singleline(&mut launch.to)
                            .hint_text("optional, for a range")
                            .desired_width(120.0),
                    );
                    to.widget_info(|| {
                        egui::WidgetInfo::labeled(
                            egui::WidgetType::TextEdit,
                            true,
                            "Last partition",
                        )
                    });
                });
            }
            ui.checkbox(&mut launch.force, "Force").on_hover_text(
                "Materialize even the assets whose definition and inputs are unchanged",
            );
            ui.separator();
            let mut runnable = false;
            match &launch.plan {
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Working out what will run…");
                    });
                }
                Some(Err(e)) => {
                    ui.label(RichText::new(e).color(theme::error_color()));
                }
                Some(Ok(steps)) => {
                    let will_run = steps
                        .iter()
                        .filter(|s| matches!(s.status, PlannedStatus::WillRun { .. }))
                        .count();
                    runnable = !steps.is_empty();
                    ui.label(
                        RichText::new(format!(
                            "{will_run} will run, {} up to date",
                            steps.len() - will_run
                        ))
                        .strong(),
                    );
                    egui::ScrollArea::vertical()
                        .max_height(260.0)
                        .auto_shrink([false, true])
                        .show(ui, |ui| {
                            egui::Grid::new("launch_plan")
                                .striped(true)
                                .num_columns(2)
                                .show(ui, |ui| {
                                    for step in steps {
                                        ui.label(step.asset.as_str());
                                        match &step.status {
                                            PlannedStatus::WillRun { reason } => ui.label(
                                                RichText::new(format!("will run: {reason}"))
                                                    .color(theme::running_color()),
                                            ),
                                            PlannedStatus::UpToDate { run_id } => ui
                                                .label(
                                                    RichText::new("up to date")
                                                        .color(theme::ok_color()),
                                                )
                                                .on_hover_text(format!(
                                                    "Unchanged since run {run_id}"
                                                )),
                                        };
                                        ui.end_row();
                                    }
                                });
                        });
                }
            }
            ui.separator();
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(runnable, egui::Button::new("Start run"))
                    .on_hover_text("Start the run; it continues in the background")
                    .clicked()
                {
                    start = true;
                }
                if ui.button("Close").clicked() {
                    close = true;
                }
            });
        });
    if start {
        let request = studio
            .workbench
            .launch
            .as_ref()
            .map(|l| l.request(studio.doc.project(), &studio.canvas.selection));
        match request {
            Some(Ok(request)) => {
                studio.start_run(request);
            }
            Some(Err(e)) => studio.show_error(&e),
            None => {}
        }
    }
    if close || !open || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
        studio.workbench.launch = None;
    }
}
