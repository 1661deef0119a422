//! The launch dialog: what to materialize (selected, with upstream, all), which partitions,
//! whether to force — and, before anything runs, which steps will compute and which are up to
//! date (the plan comes from the job worker).

use egui::RichText;

use crate::app::run::PlannedStatus;
use crate::model::PartitionsDefinition;
use crate::ui::workbench::LaunchScope;
use crate::ui::{Studio, theme};

pub fn launch_ui(ctx: &egui::Context, studio: &mut Studio) {
    if studio.workbench.launch.is_none() {
        return;
    }
    let mut open = true;
    let mut start = false;
    let mut close = false;

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
            match launch.partitions.clone() {
                Some(PartitionsDefinition::Static { keys }) => {
                    ui.add_space(4.0);
                    ui.horizontal(|ui| {
                        ui.label("Partition");
                        partition_combo_ui(
                            ui,
                            "launch_from",
                            &mut launch.from,
                            &keys,
                            "No partition",
                        );
                        ui.label("to");
                        partition_combo_ui(ui, "launch_to", &mut launch.to, &keys, "Only this one");
                    });
                }
                Some(PartitionsDefinition::Daily { start, end }) => {
                    ui.add_space(4.0);
                    ui.horizontal(|ui| {
                        ui.label("Partition");
                        let from = ui.add(
                            egui::TextEdit::singleline(&mut launch.from)
                                .hint_text("YYYY-MM-DD")
                                .desired_width(110.0),
                        );
                        from.widget_info(|| {
                            egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Partition")
                        });
                        ui.label("to");
                        let to = ui.add(
                            egui::TextEdit::singleline(&mut launch.to)
                                .hint_text("optional, for a range")
                                .desired_width(110.0),
                        );
                        to.widget_info(|| {
                            egui::WidgetInfo::labeled(
                                egui::WidgetType::TextEdit,
                                true,
                                "Last partition",
                            )
                        });
                    });
                    ui.label(
                        RichText::new(format!(
                            "Daily partitions from {start}{}",
                            end.map(|e| format!(" to {e}")).unwrap_or_default()
                        ))
                        .weak(),
                    );
                }
                Some(PartitionsDefinition::None) | None => {}
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

/// A partition key picked from a static partitions definition (empty = none chosen).
fn partition_combo_ui(
    ui: &mut egui::Ui,
    id: &str,
    value: &mut String,
    keys: &[String],
    none: &str,
) {
    let shown = if value.is_empty() {
        none.to_owned()
    } else {
        value.clone()
    };
    egui::ComboBox::from_id_salt(id)
        .selected_text(shown)
        .show_ui(ui, |ui| {
            ui.selectable_value(value, String::new(), none);
            for key in keys {
                ui.selectable_value(value, key.clone(), key);
            }
        });
}
