//! The workbench under the canvas: data preview, the run view (log, timeline, checks), run
//! history, asset details and the quality report. It only reads state and pushes commands;
//! the data arrives from the job worker through the studio's `logic`.

use egui::{Align2, Color32, FontId, RichText, Sense, Stroke, StrokeKind, pos2, vec2};
use egui_extras::{Column, TableBuilder};

use crate::app::run::AssetHistory;
use crate::model::{
    AssetCheckResult, AssetKey, CheckSeverity, ColumnProfile, LogLevel, RunId, RunRecord,
};
use crate::ui::runs::{BarTone, RunView, format_ms};
use crate::ui::workbench_state::{LogFilter, WorkbenchTab};
use crate::ui::{Studio, UICommand, theme};

const ROW_HEIGHT: f32 = 18.0;

pub fn workbench_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    // The canvas always keeps some room, whatever the content asks for.
    let max_height = (ui.available_height() - 160.0).max(160.0);
    let response = egui::Panel::bottom("workbench")
        .resizable(true)
        .default_size(studio.workbench.height.min(max_height))
        .min_size(140.0)
        .max_size(max_height)
        .show(ui, |ui| {
            // A panel fits its content: claim the whole height so a short tab does not shrink it.
            ui.set_min_height(ui.available_height());
            ui.add_space(2.0);
            ui.horizontal(|ui| {
                for tab in WorkbenchTab::ALL {
                    let selected = studio.workbench.tab == tab;
                    if ui.selectable_label(selected, tab.label()).clicked() && !selected {
                        studio.workbench.tab = tab;
                        if tab == WorkbenchTab::History {
                            studio.push_command(UICommand::RunHistory);
                        }
                    }
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui
                        .small_button("Hide")
                        .on_hover_text(UICommand::ToggleWorkbench.shortcut_text(ui.ctx()))
                        .clicked()
                    {
                        studio.push_command(UICommand::ToggleWorkbench);
                    }
                });
            });
            ui.separator();
            match studio.workbench.tab {
                WorkbenchTab::Preview => super::preview::preview_ui(ui, studio),
                WorkbenchTab::Run => run_ui(ui, studio),
                WorkbenchTab::History => history_ui(ui, studio),
                WorkbenchTab::AssetDetails => asset_details_ui(ui, studio),
                WorkbenchTab::Quality => quality_ui(ui, studio),
                WorkbenchTab::Partitions => super::partitions::partitions_ui(ui, studio),
            }
        });
    studio.workbench.height = response.response.rect.height();
}

fn weak(ui: &mut egui::Ui, text: impl Into<String>) {
    ui.label(RichText::new(text.into()).weak());
}

fn percent(part: u64, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

// ---------------------------------------------------------------------------------------------
// Run view

/// The run's line: status, id, selection, progress, time, checks, and the Cancel and Export
/// buttons (whether each was clicked).
fn run_header_ui(ui: &mut egui::Ui, run: &RunView) -> (bool, bool, bool) {
    let live = run.is_live();
    let mut cancel = false;
    let mut export = false;
    let mut rerun = false;
    ui.horizontal(|ui| {
        let status = run.status_label();
        ui.label(
            RichText::new(crate::ui::capitalised(status))
                .strong()
                .color(run.status_color(ui.visuals())),
        );
        if let Some(id) = &run.run_id {
            ui.label(RichText::new(id.as_str()).monospace());
        }
        if let Some(r) = &run.record {
            let part = r
                .partition
                .as_ref()
                .map(|p| format!(" · partition {p}"))
                .unwrap_or_default();
            weak(ui, format!("{}{part} · {}", r.selection, r.trigger));
        }
        let (done, planned) = run.progress();
        let fraction = if planned == 0 {
            0.0
        } else {
            done as f32 / planned as f32
        };
        ui.add(
            egui::ProgressBar::new(fraction)
                .desired_width(160.0)
                .text(format!("{done}/{planned} steps")),
        );
        ui.label(run.elapsed_ms().map_or_else(
            || {
                if run.status.is_some_and(crate::model::RunStatus::is_finished) {
                    "duration unknown".to_owned()
                } else {
                    String::new()
                }
            },
            format_ms,
        ));
        if !run.checks.is_empty() {
            let passed = run.checks_passed();
            let color = if passed == run.checks.len() {
                theme::ok_color()
            } else {
                theme::error_color()
            };
            ui.label(
                RichText::new(format!("Checks {passed}/{} passed", run.checks.len())).color(color),
            );
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .add_enabled(live, egui::Button::new("Cancel run"))
                .on_hover_text("Stop after the step in progress; the run is recorded as canceled")
                .clicked()
            {
                cancel = true;
            }
            if ui
                .add_enabled(
                    !live && run.run_id.is_some(),
                    egui::Button::new(UICommand::ExportReport.label()),
                )
                .on_hover_text("Save this run's quality report as one HTML file")
                .clicked()
            {
                export = true;
            }
            let again = run.rerun_keys();
            if !again.is_empty() {
                let names: Vec<&str> = again.iter().map(AssetKey::as_str).collect();
                rerun = ui
                    .button("Re-run failed and skipped")
                    .on_hover_text(format!(
                        "Run {} again, reading the rest from stored materializations",
                        names.join(", ")
                    ))
                    .clicked();
            }
        });
    });
    (cancel, export, rerun)
}

fn run_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let Some(run) = &studio.run else {
        weak(
            ui,
            "No run yet. Materialize… starts one; Run history opens past ones.",
        );
        return;
    };
    let (cancel, export, rerun) = run_header_ui(ui, run);
    if !run.remote_steps.is_empty() {
        remote_steps_ui(ui, &run.remote_steps, &run.remote_costs);
    }
    if let Some(error) = &run.error
        && run.status != Some(crate::model::RunStatus::Canceled)
    {
        ui.label(RichText::new(error).color(theme::error_color()));
    }
    ui.separator();
    let available = ui.available_size();
    let left_width = (available.x * 0.42).max(200.0);
    ui.horizontal_top(|ui| {
        ui.allocate_ui_with_layout(
            vec2(left_width, available.y),
            egui::Layout::top_down(egui::Align::Min),
            |ui| log_ui(ui, studio),
        );
        ui.separator();
        ui.allocate_ui_with_layout(
            vec2(ui.available_width(), available.y),
            egui::Layout::top_down(egui::Align::Min),
            |ui| {
                egui::ScrollArea::both()
                    .id_salt("run_right")
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        if let Some(run) = &studio.run {
                            timeline_ui(ui, run);
                        }
                        ui.add_space(6.0);
                        checks_ui(ui, studio);
                    });
            },
        );
    });
    if cancel {
        studio.push_command(UICommand::CancelRun);
    }
    if export {
        studio.push_command(UICommand::ExportReport);
    }
    if rerun {
        studio.rerun_failed();
    }
}

/// The log's filters: level, asset (one of the run's plan), search text, follow.
fn log_filter_ui(ui: &mut egui::Ui, filter: &mut LogFilter, plan: &[AssetKey]) {
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("log_level")
            .selected_text(format!("Level: {}", filter.min_level.as_str()))
            .show_ui(ui, |ui| {
                for level in [
                    LogLevel::Debug,
                    LogLevel::Info,
                    LogLevel::Warn,
                    LogLevel::Error,
                ] {
                    ui.selectable_value(&mut filter.min_level, level, level.as_str());
                }
            })
            .response
            .on_hover_text("Show lines at this level and above");
        let asset_text = filter
            .asset
            .as_ref()
            .map_or_else(|| "All assets".to_owned(), ToString::to_string);
        egui::ComboBox::from_id_salt("log_asset")
            .selected_text(asset_text)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut filter.asset, None, "All assets");
                for key in plan {
                    ui.selectable_value(&mut filter.asset, Some(key.clone()), key.as_str());
                }
            });
        let search = ui.add(
            egui::TextEdit::singleline(&mut filter.search)
                .hint_text("Search the log")
                .desired_width(140.0),
        );
        search.widget_info(|| {
            egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Search the log")
        });
        ui.checkbox(&mut filter.follow, "Follow");
    });
}

fn log_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let Some(run) = &studio.run else { return };
    let filter = &mut studio.workbench.log_filter;
    log_filter_ui(ui, filter, &run.plan);
    let needle = filter.search.to_lowercase();
    let lines: Vec<usize> = run
        .logs
        .iter()
        .enumerate()
        .filter(|(_, l)| filter.matches(l, &needle))
        .map(|(i, _)| i)
        .collect();
    let visuals = ui.visuals().clone();
    // The log's background, painted under the scroll area (a frame's margin would make the
    // panel grow with every frame).
    ui.painter().rect_filled(
        ui.available_rect_before_wrap(),
        2.0,
        visuals.extreme_bg_color,
    );
    egui::ScrollArea::vertical()
        .id_salt("run_log")
        .auto_shrink([false, false])
        .stick_to_bottom(filter.follow)
        .show_rows(ui, ROW_HEIGHT, lines.len(), |ui, range| {
            for &i in &lines[range] {
                let line = &run.logs[i];
                ui.horizontal(|ui| {
                    ui.label(
                        RichText::new(format!("{:<5}", line.level.as_str()))
                            .monospace()
                            .color(theme::level_color(line.level, &visuals)),
                    );
                    ui.add(
                        egui::Label::new(
                            RichText::new(&line.text)
                                .monospace()
                                .color(theme::level_color(line.level, &visuals)),
                        )
                        .truncate(),
                    );
                });
            }
        });
}

/// The step timeline: one bar per step, laid out one after another as the engine runs them.
fn timeline_ui(ui: &mut egui::Ui, run: &RunView) {
    ui.label(RichText::new("Timeline").strong());
    if run.steps.is_empty() {
        weak(ui, "No step has started yet.");
        return;
    }
    let now_ms = |bar: &crate::ui::runs::StepBar| {
        bar.duration_ms
            .or_else(|| bar.started.map(|t| t.elapsed().as_millis() as u64))
            .unwrap_or(0)
    };
    let total_ms = run
        .steps
        .iter()
        .map(|b| b.start_ms + now_ms(b))
        .max()
        .unwrap_or(0)
        .max(1);
    let label_width = 170.0;
    let row = 20.0;
    let width = ui.available_width().max(label_width + 100.0);
    let (rect, _) = ui.allocate_exact_size(
        vec2(width, row * run.steps.len() as f32 + 16.0),
        Sense::hover(),
    );
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals();
    let track = rect.left() + label_width..=rect.right() - 8.0;
    let scale = (track.end() - track.start()) / total_ms as f32;
    let font = FontId::proportional(12.0);
    for (i, bar) in run.steps.iter().enumerate() {
        let y = rect.top() + i as f32 * row;
        painter.text(
            pos2(rect.left(), y + row / 2.0),
            Align2::LEFT_CENTER,
            bar.asset.as_str(),
            font.clone(),
            visuals.text_color(),
        );
        let x0 = track.start() + bar.start_ms as f32 * scale;
        let w = (now_ms(bar) as f32 * scale).max(3.0);
        let (tone, words) = run.bar_verdict(bar);
        let color = match tone {
            BarTone::Running => theme::running_color(),
            BarTone::Ok => theme::ok_color(),
            BarTone::Faded => theme::ok_color().gamma_multiply(0.5),
            BarTone::Failed => theme::error_color(),
            BarTone::Warning => theme::warning_color(),
        };
        let bar_rect = egui::Rect::from_min_size(pos2(x0, y + 3.0), vec2(w, row - 6.0));
        painter.rect_filled(bar_rect, 3.0, color);
        let text = match &bar.outcome {
            None => words,
            Some(_) => format!(
                "{words} · {}",
                bar.duration_ms
                    .map_or_else(|| "unknown".to_owned(), format_ms)
            ),
        };
        // The row is one labelled element: readers (and tests) hear what the bar shows.
        let row_rect = egui::Rect::from_min_size(pos2(rect.left(), y), vec2(rect.width(), row));
        let label = format!("{}: {text}", bar.asset);
        let response = ui.interact(row_rect, ui.id().with(("step_bar", i)), Sense::hover());
        response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &label));
        response.on_hover_text(&label);
        // Beside the bar when there is room on its right, else inside it when it is wide
        // enough, else on its left (never over the asset labels).
        let font = FontId::proportional(11.0);
        let text_width = painter
            .layout_no_wrap(text.clone(), font.clone(), Color32::WHITE)
            .size()
            .x;
        let middle = y + row / 2.0;
        let (pos, align, color) = if bar_rect.right() + text_width + 12.0 < rect.right() {
            (
                pos2(bar_rect.right() + 6.0, middle),
                Align2::LEFT_CENTER,
                visuals.weak_text_color(),
            )
        } else if bar_rect.width() > text_width + 12.0 {
            (
                pos2(bar_rect.right() - 6.0, middle),
                Align2::RIGHT_CENTER,
                Color32::from_black_alpha(220),
            )
        } else {
            (
                pos2(bar_rect.left() - 6.0, middle),
                Align2::RIGHT_CENTER,
                visuals.weak_text_color(),
            )
        };
        painter
            .with_clip_rect(rect.with_min_x(*track.start()))
            .text(pos, align, text, font, color);
    }
    let axis_y = rect.top() + row * run.steps.len() as f32 + 2.0;
    painter.line_segment(
        [pos2(*track.start(), axis_y), pos2(*track.end(), axis_y)],
        Stroke::new(1.0, visuals.weak_text_color()),
    );
    painter.text(
        pos2(*track.end(), axis_y + 2.0),
        Align2::RIGHT_TOP,
        format_ms(total_ms),
        FontId::proportional(10.0),
        visuals.weak_text_color(),
    );
}

fn check_result_text(c: &AssetCheckResult) -> (String, Color32) {
    match (c.passed, c.severity) {
        (true, _) => ("passed".to_owned(), theme::ok_color()),
        (false, CheckSeverity::Warn) => ("failed".to_owned(), theme::warning_color()),
        (false, CheckSeverity::Error) => ("failed".to_owned(), theme::error_color()),
    }
}

fn checks_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let Some(run) = &studio.run else { return };
    ui.label(RichText::new("Checks").strong());
    if run.checks.is_empty() {
        weak(
            ui,
            if run.done {
                "No check ran in this run."
            } else {
                "No check has run yet."
            },
        );
        return;
    }
    let clicked = checks_table_ui(ui, run, studio.workbench.selected_check);
    if let Some(i) = clicked {
        studio.workbench.selected_check = Some(i);
    }
    if let Some(c) = studio
        .workbench
        .selected_check
        .and_then(|i| run.checks.get(i))
    {
        ui.add_space(4.0);
        if c.failing_sample.is_empty() {
            weak(ui, format!("{}: no failing rows to show", c.check_name));
        } else {
            ui.label(format!("Failing rows of {} (a sample)", c.check_name));
            for row in &c.failing_sample {
                ui.label(RichText::new(row.to_string()).monospace().small());
            }
        }
    } else if run.checks.iter().any(|c| !c.passed) {
        weak(ui, "Click a failed check to see its failing rows.");
    }
}

/// The width of the widest of `names` in `style`, with a button's padding.
fn widest<'a>(ui: &egui::Ui, names: impl Iterator<Item = &'a str>, style: &egui::TextStyle) -> f32 {
    let font = style.resolve(ui.style());
    let padding = ui.spacing().button_padding.x * 2.0 + 4.0;
    let widest = ui.ctx().fonts_mut(|f| {
        names
            .map(|n| {
                f.layout_no_wrap(n.to_owned(), font.clone(), Color32::WHITE)
                    .size()
                    .x
            })
            .fold(0.0, f32::max)
    });
    widest + padding
}

fn checks_table_ui(ui: &mut egui::Ui, run: &RunView, selected: Option<usize>) -> Option<usize> {
    let mut clicked = None;
    // Asset and check names are shown in full (a truncated "cleaned…" names nothing): their
    // columns are as wide as the longest name; the description takes what is left (in full in
    // its tooltip), and the run view scrolls sideways when even that does not fit.
    let asset_width = widest(
        ui,
        std::iter::once("Asset").chain(run.checks.iter().map(|c| c.asset.as_str())),
        &egui::TextStyle::Body,
    );
    let check_width = widest(
        ui,
        std::iter::once("Check").chain(run.checks.iter().map(|c| c.check_name.as_str())),
        &egui::TextStyle::Button,
    );
    TableBuilder::new(ui)
        .id_salt("run_checks")
        .striped(true)
        .sense(Sense::click())
        .vscroll(false)
        .column(Column::exact(asset_width))
        .column(Column::exact(check_width))
        .column(Column::exact(52.0))
        .column(Column::exact(96.0).clip(true))
        .column(Column::exact(72.0))
        .column(Column::remainder().at_least(160.0).clip(true))
        .header(20.0, |mut h| {
            for title in [
                "Asset",
                "Check",
                "Result",
                "Severity",
                "Failing rows",
                "Description",
            ] {
                h.col(|ui| {
                    ui.label(RichText::new(title).strong());
                });
            }
        })
        .body(|mut body| {
            for (i, c) in run.checks.iter().enumerate() {
                body.row(ROW_HEIGHT, |mut row| {
                    row.set_selected(selected == Some(i));
                    row.col(|ui| {
                        ui.label(c.asset.as_str());
                    });
                    let selected = selected == Some(i);
                    row.col(|ui| {
                        if ui
                            .selectable_label(selected, &c.check_name)
                            .on_hover_text(format!("{}: show its failing rows", c.description))
                            .clicked()
                        {
                            clicked = Some(i);
                        }
                    });
                    let (text, color) = check_result_text(c);
                    row.col(|ui| {
                        ui.label(RichText::new(text).color(color));
                    });
                    row.col(|ui| {
                        let blocking = if c.blocking { ", blocking" } else { "" };
                        ui.label(format!("{}{blocking}", c.severity));
                    });
                    row.col(|ui| {
                        ui.label(c.failing_count.to_string());
                    });
                    row.col(|ui| {
                        ui.label(&c.description).on_hover_text(&c.description);
                    });
                    if row.response().clicked() {
                        clicked = Some(i);
                    }
                });
            }
        });
    clicked
}

// ---------------------------------------------------------------------------------------------
// History

/// One row per recorded run; the run whose id was clicked.
fn history_table_ui(ui: &mut egui::Ui, runs: &[RunRecord]) -> Option<RunId> {
    let mut open = None;
    TableBuilder::new(ui)
        .id_salt("run_history")
        .striped(true)
        .auto_shrink([false, false])
        .column(Column::exact(72.0))
        .column(Column::exact(210.0).clip(true))
        .column(Column::exact(190.0).clip(true))
        .column(Column::exact(72.0))
        .column(Column::exact(100.0).clip(true))
        .column(Column::exact(90.0).clip(true))
        .column(Column::remainder().clip(true))
        .header(20.0, |mut h| {
            for title in [
                "Status",
                "Run",
                "Created",
                "Duration",
                "Partition",
                "Trigger",
                "Selection",
            ] {
                h.col(|ui| {
                    ui.label(RichText::new(title).strong());
                });
            }
        })
        .body(|body| {
            body.rows(ROW_HEIGHT, runs.len(), |mut row| {
                let Some(r) = runs.get(row.index()) else {
                    return;
                };
                let color = match r.status {
                    crate::model::RunStatus::Success => theme::ok_color(),
                    crate::model::RunStatus::Failure => theme::error_color(),
                    crate::model::RunStatus::Canceled => theme::warning_color(),
                    _ => theme::running_color(),
                };
                row.col(|ui| {
                    ui.label(RichText::new(r.status.as_str()).color(color));
                });
                row.col(|ui| {
                    if ui
                        .link(RichText::new(r.id.as_str()).monospace())
                        .on_hover_text("Open this run")
                        .clicked()
                    {
                        open = Some(r.id.clone());
                    }
                });
                row.col(|ui| {
                    ui.label(crate::model::time::text(&r.created_at).replace('T', " "));
                });
                row.col(|ui| {
                    ui.label(crate::model::duration_text(r));
                });
                row.col(|ui| {
                    ui.label(r.partition.as_deref().unwrap_or("—"));
                });
                row.col(|ui| {
                    ui.label(&r.trigger);
                });
                row.col(|ui| {
                    ui.label(&r.selection);
                });
            });
        });
    open
}

fn history_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    ui.horizontal(|ui| {
        ui.label(format!("{} run(s)", studio.workbench.history.len()));
        if studio.workbench.history_loading {
            ui.spinner();
        }
        if ui.button("Refresh").clicked() {
            studio.push_command(UICommand::RunHistory);
        }
    });
    if studio.workbench.history.is_empty() {
        weak(ui, "No runs recorded for this project yet.");
        return;
    }
    if let Some(id) = history_table_ui(ui, &studio.workbench.history) {
        studio.open_run(&id);
    }
}

// ---------------------------------------------------------------------------------------------
// Asset details

fn asset_details_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let Some(key) = studio.canvas.single_selection().cloned() else {
        weak(
            ui,
            "Select one asset to see its materializations, profile and checks.",
        );
        return;
    };
    let Some(history) = studio
        .workbench
        .asset_history
        .as_ref()
        .filter(|h| h.asset.as_ref() == Some(&key))
    else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!("Loading the history of {key}…"));
        });
        return;
    };
    // The same state the card shows, from the same answer.
    if let Some(state) = studio.states.assets.get(&key) {
        asset_state_ui(ui, &key, state);
    }
    if history.materializations.is_empty() {
        weak(ui, format!("{key} has not been materialized yet."));
        return;
    }
    let compare = super::compare::button_ui(ui, history.materializations.len());
    let available = ui.available_size();
    ui.horizontal_top(|ui| {
        ui.allocate_ui_with_layout(
            vec2(available.x * 0.45, available.y),
            egui::Layout::top_down(egui::Align::Min),
            |ui| asset_history_ui(ui, &key, history),
        );
        ui.separator();
        ui.allocate_ui_with_layout(
            vec2(ui.available_width(), available.y),
            egui::Layout::top_down(egui::Align::Min),
            |ui| {
                egui::ScrollArea::both()
                    .id_salt("asset_profile")
                    .auto_shrink([false, false])
                    .show(ui, |ui| match &history.latest_profile {
                        Some(p) => {
                            ui.label(
                                RichText::new(format!("Latest profile · {} rows", p.row_count))
                                    .strong(),
                            );
                            profile_grid_ui(ui, &p.columns, p.row_count, "latest_profile");
                        }
                        None => weak(ui, "No profile recorded."),
                    });
            },
        );
    });
    if compare {
        studio.compare_with_previous(key);
    }
}

/// "KEY: status — reason" in the status's colour, and the verdict of its checks.
fn asset_state_ui(ui: &mut egui::Ui, key: &AssetKey, state: &crate::app::status::AssetState) {
    let color = match state.status {
        crate::app::status::AssetStatus::Failed { .. }
        | crate::app::status::AssetStatus::Blocked { .. } => theme::error_color(),
        crate::app::status::AssetStatus::Stale { .. } => theme::warning_color(),
        crate::app::status::AssetStatus::Fresh => theme::ok_color(),
        crate::app::status::AssetStatus::Missing => ui.visuals().weak_text_color(),
    };
    let mut line = format!("{key}: {}", state.status.label());
    if let Some(reason) = state.status.reason() {
        line.push_str(" — ");
        line.push_str(reason);
    }
    ui.label(RichText::new(line).color(color).strong());
    if state.checks.total() > 0 {
        ui.label(format!(
            "Checks on its latest data: {}",
            state.checks.text()
        ));
    }
}

/// The asset's materializations (row counts over time, then each one) and its check history.
fn asset_history_ui(ui: &mut egui::Ui, key: &AssetKey, history: &AssetHistory) {
    ui.label(
        RichText::new(format!(
            "{key}: {} materialization(s)",
            history.materializations.len()
        ))
        .strong(),
    );
    row_count_plot_ui(ui, key, history);
    egui::ScrollArea::vertical()
        .id_salt("asset_materializations")
        .max_height(ui.available_height() * 0.5)
        .show(ui, |ui| {
            egui::Grid::new("materializations")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for t in ["Run", "Created", "Rows", "Bytes"] {
                        ui.label(RichText::new(t).strong());
                    }
                    ui.end_row();
                    for m in history.materializations.iter().rev() {
                        ui.label(RichText::new(m.run_id.as_str()).monospace());
                        ui.label(crate::model::time::text(&m.created_at).replace('T', " "));
                        ui.label(m.row_count.to_string());
                        ui.label(m.byte_count.to_string());
                        ui.end_row();
                    }
                });
        });
    ui.label(RichText::new("Check history").strong());
    egui::ScrollArea::vertical()
        .id_salt("asset_checks")
        .show(ui, |ui| {
            if history.checks.is_empty() {
                weak(ui, "No checks recorded.");
            }
            egui::Grid::new("check_history")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for (run_id, c) in history.checks.iter().rev() {
                        ui.label(RichText::new(run_id.as_str()).monospace());
                        ui.label(&c.check_name);
                        let (text, color) = check_result_text(c);
                        ui.label(RichText::new(text).color(color));
                        ui.label(format!("{} failing", c.failing_count));
                        ui.end_row();
                    }
                });
        });
}

/// Row count by when each materialization was made.
fn row_count_plot_ui(ui: &mut egui::Ui, key: &AssetKey, history: &AssetHistory) {
    // x: when each materialization was made (seconds since the epoch, UTC).
    let points: Vec<[f64; 2]> = history
        .materializations
        .iter()
        .map(|m| [m.created_at.timestamp() as f64, m.row_count as f64])
        .collect();
    egui_plot::Plot::new(("row_count_plot", key.as_str()))
        .height(120.0)
        .allow_scroll(false)
        .x_axis_formatter(|mark, _| {
            chrono::DateTime::from_timestamp(mark.value as i64, 0)
                .map(|t| t.format("%m-%d %H:%M").to_string())
                .unwrap_or_default()
        })
        .label_formatter(|hover| {
            // Only a materialization has a meaning here, not the space between.
            let egui_plot::HoverPosition::NearDataPoint { position, .. } = hover else {
                return None;
            };
            let t = chrono::DateTime::from_timestamp(position.x as i64, 0)?;
            Some(format!(
                "{} rows\n{}",
                position.y.round(),
                t.format("%Y-%m-%d %H:%M:%S UTC")
            ))
        })
        .x_axis_label("materialized at (UTC)")
        .y_axis_label("rows")
        .show(ui, |plot| {
            plot.line(egui_plot::Line::new("Row count", points.clone()));
            plot.points(egui_plot::Points::new("Row count", points).radius(3.0));
        });
}

/// Column profiles with a histogram (numbers) or the top values (text) per column.
fn profile_grid_ui(ui: &mut egui::Ui, columns: &[ColumnProfile], rows: u64, id: &str) {
    egui::Grid::new(id)
        .striped(true)
        .num_columns(7)
        .show(ui, |ui| {
            for t in [
                "Column",
                "Type",
                "Nulls",
                "Distinct",
                "Min",
                "Max",
                "Distribution",
            ] {
                ui.label(RichText::new(t).strong());
            }
            ui.end_row();
            for c in columns {
                ui.label(&c.name);
                weak(ui, &c.dtype);
                ui.label(format!(
                    "{} ({:.0} %)",
                    c.null_count,
                    percent(c.null_count, usize::try_from(rows).unwrap_or(usize::MAX))
                ));
                ui.label(c.distinct_label());
                ui.add(egui::Label::new(c.min.clone().unwrap_or_default()).truncate());
                ui.add(egui::Label::new(c.max.clone().unwrap_or_default()).truncate());
                if c.histogram.is_empty() {
                    ui.add(egui::Label::new(c.top_values_label(3)).truncate());
                } else {
                    histogram_ui(ui, c);
                }
                ui.end_row();
            }
        });
}

fn histogram_ui(ui: &mut egui::Ui, c: &ColumnProfile) {
    let (rect, response) = ui.allocate_exact_size(vec2(140.0, 22.0), Sense::hover());
    let max = c
        .histogram
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0)
        .max(1);
    let bar = rect.width() / c.histogram.len().max(1) as f32;
    let painter = ui.painter_at(rect);
    painter.rect_stroke(
        rect,
        2.0,
        Stroke::new(1.0, ui.visuals().faint_bg_color),
        StrokeKind::Inside,
    );
    for (i, (_, n)) in c.histogram.iter().enumerate() {
        let h = (*n as f32 / max as f32) * (rect.height() - 2.0);
        painter.rect_filled(
            egui::Rect::from_min_size(
                pos2(rect.left() + i as f32 * bar, rect.bottom() - h),
                vec2((bar - 1.0).max(1.0), h),
            ),
            0.0,
            theme::running_color(),
        );
    }
    let label = format!("Histogram of {}", c.name);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Other, true, &label));
    response.on_hover_ui(|ui| {
        ui.label(&label);
        for (lower, n) in &c.histogram {
            ui.label(format!("≥ {lower:.2}: {}", c.count_label(*n)));
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Quality report

fn quality_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let Some(run) = &studio.run else {
        weak(
            ui,
            "Open a run (from the run history or by materializing) to see its quality report.",
        );
        return;
    };
    let mut export = false;
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(format!(
                "Quality report of run {}",
                run.run_id.as_deref().unwrap_or("…")
            ))
            .strong(),
        );
        ui.label(format!(
            "checks {}/{} passed",
            run.checks_passed(),
            run.checks.len()
        ));
        if ui
            .add_enabled(
                !run.is_live() && run.run_id.is_some(),
                egui::Button::new(UICommand::ExportReport.label()),
            )
            .clicked()
        {
            export = true;
        }
    });
    egui::ScrollArea::both()
        .id_salt("quality")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for key in &run.plan {
                quality_asset_ui(ui, run, key);
            }
        });
    if export {
        studio.push_command(UICommand::ExportReport);
    }
}

/// One asset of the quality report: rows written and checks passed in its title; each check
/// and the asset's profile inside (open when a check failed).
fn quality_asset_ui(ui: &mut egui::Ui, run: &RunView, key: &AssetKey) {
    let checks: Vec<&AssetCheckResult> = run.checks.iter().filter(|c| &c.asset == key).collect();
    let profile = run.profiles.iter().rev().find(|p| &p.asset == key);
    let rows = run
        .materializations
        .iter()
        .rev()
        .find(|m| &m.asset == key)
        .map(|m| m.row_count);
    let passed = checks.iter().filter(|c| c.passed).count();
    let checks_text = if checks.is_empty() {
        "no checks".to_owned()
    } else {
        format!("checks {passed}/{} passed", checks.len())
    };
    let title = format!(
        "{key} · {} · {checks_text}",
        rows.map_or_else(|| "not materialized".to_owned(), |r| format!("{r} rows")),
    );
    egui::CollapsingHeader::new(title)
        .id_salt(("quality_asset", key.as_str()))
        .default_open(checks.iter().any(|c| !c.passed))
        .show(ui, |ui| {
            for c in &checks {
                let (text, color) = check_result_text(c);
                ui.horizontal(|ui| {
                    ui.label(RichText::new(text).color(color));
                    ui.label(&c.check_name);
                    weak(ui, format!("{} · {}", c.severity, c.description));
                    if c.failing_count > 0 {
                        ui.label(format!("{} failing rows", c.failing_count));
                    }
                });
            }
            if let Some(p) = profile {
                profile_grid_ui(
                    ui,
                    &p.columns,
                    p.row_count,
                    &format!("quality_profile_{key}"),
                );
            }
        });
}

/// The steps of a remote run: where each runs, its remote id, state and measured figures
/// (duration × size is what the actual cost is computed from).
fn remote_steps_ui(
    ui: &mut egui::Ui,
    steps: &[crate::app::remote::RemoteStepRow],
    costs: &[crate::app::plan::StepCost],
) {
    egui::Grid::new("remote_steps")
        .striped(true)
        .num_columns(7)
        .show(ui, |ui| {
            for s in steps {
                ui.label(RichText::new(&s.step_id).monospace());
                ui.label(RichText::new(s.tier.as_str()).strong())
                    .on_hover_text(&s.tier_reason);
                let color = match s.status {
                    crate::app::remote::StepStatus::Success => theme::ok_color(),
                    crate::app::remote::StepStatus::Failure
                    | crate::app::remote::StepStatus::Canceled => theme::error_color(),
                    _ => theme::running_color(),
                };
                ui.label(RichText::new(s.status.as_str()).color(color));
                let never = if s.status.is_finished() {
                    "never submitted"
                } else {
                    "not submitted yet"
                };
                ui.label(
                    RichText::new(s.remote_id.as_deref().unwrap_or(never))
                        .monospace()
                        .weak(),
                );
                let size = format!(
                    "{} · {}{}",
                    crate::app::plan::format_vcpu(s.vcpu),
                    crate::app::plan::format_memory(s.memory_mb),
                    if s.spot { " · spot" } else { "" }
                );
                let measured = s.duration_secs.map_or_else(String::new, |d| {
                    format!(" · {d:.1} s · {:.1} vCPU·s", d * s.vcpu)
                });
                ui.label(format!("{size}{measured}"));
                let platform = [
                    s.remote_status.clone(),
                    s.exit_code.map(|c| format!("exit {c}")),
                    s.stop_reason.clone(),
                    s.error.clone(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ");
                weak(ui, platform);
                ui.label(step_cost_text(s, costs));
                ui.end_row();
            }
        });
}

/// "est $0.0012 · actual $0.0009" for a remote step: the sum over its assets' cost rows.
fn step_cost_text(
    step: &crate::app::remote::RemoteStepRow,
    costs: &[crate::app::plan::StepCost],
) -> String {
    let rows: Vec<&crate::app::plan::StepCost> = costs
        .iter()
        .filter(|c| step.assets.contains(&c.asset))
        .collect();
    let sum = |f: fn(&crate::app::plan::StepCost) -> Option<f64>| -> Option<f64> {
        let values: Vec<f64> = rows.iter().filter_map(|c| f(c)).collect();
        (!values.is_empty()).then(|| values.iter().sum())
    };
    let money = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), crate::app::plan::format_usd);
    if step.tier == crate::model::ComputeTier::Local {
        return "no AWS cost".to_owned();
    }
    format!(
        "est {} · actual {}",
        money(sum(|c| c.est_cost_usd)),
        money(sum(|c| c.actual_cost_usd))
    )
}
