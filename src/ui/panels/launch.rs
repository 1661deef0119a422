//! The launch dialog: what to materialize (selected, with upstream, all), which partitions,
//! whether to force — and, before anything runs, which steps will compute and which are up to
//! date, and where each asset would run on AWS (tier, reason, cost, with a per-asset tier
//! override) and the total with the price table's date. Both plans come from the job worker.

use egui::RichText;

use crate::app::plan::{PlanReport, format_duration, format_memory, format_usd, tier_name};
use crate::app::run::PlannedStatus;
use crate::model::{AssetKey, ComputeTier, PartitionsDefinition};
use crate::ui::workbench_state::{LaunchScope, LaunchState};
use crate::ui::{Studio, theme};
use std::collections::BTreeMap;

/// What the launch dialog's buttons asked for this frame (applied after drawing).
#[derive(Debug, Default)]
struct Clicked {
    start: bool,
    start_aws: bool,
    check_aws: bool,
    close: bool,
    open_prices: bool,
    /// "Connections…" (or "Launch on AWS" without an AWS account).
    open_connections: bool,
}

pub fn launch_ui(ctx: &egui::Context, studio: &mut Studio) {
    if studio.workbench.launch.is_none() {
        return;
    }
    let mut open = true;
    let mut clicked = Clicked::default();

    let selected = studio.canvas.selection.len();
    let tests = studio.workbench.launch.as_ref().map_or(0, |l| {
        l.unit_tests_in_scope(studio.doc.project(), &studio.canvas.selection)
    });
    let has_account = crate::app::remote::has_compute_account(studio.doc.project());
    egui::Window::new("Materialize")
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_width(600.0)
        .default_pos(ctx.content_rect().center() - egui::vec2(300.0, 420.0))
        .show(ctx, |ui| {
            let Some(launch) = &mut studio.workbench.launch else {
                return;
            };
            choices_ui(ui, launch, selected, tests);
            ui.separator();
            if launch.on_aws {
                clicked.open_prices = compute_plan_ui(ui, launch);
                ui.separator();
                (clicked.start_aws, clicked.check_aws) = aws_plan_ui(ui, launch);
                if !has_account {
                    clicked.open_connections = no_account_ui(ui);
                    // Without an account, "Launch on AWS" and "Check AWS setup…" lead to
                    // setting one up.
                    clicked.open_connections |= std::mem::take(&mut clicked.start_aws)
                        | std::mem::take(&mut clicked.check_aws);
                }
                clicked.close = ui.button("Close").clicked();
                return;
            }
            let runnable = local_plan_ui(ui, launch);
            ui.separator();
            clicked.open_prices = compute_plan_ui(ui, launch);
            ui.separator();
            // Fixed ids: the plan and the costs above arrive from the background and would
            // move automatic ones, so a click sent by id (accessibility, tests) could miss.
            // (A row in a scope of a fixed id: a scope laid out left to right itself would take
            // the window's whole height and centre the buttons in it.)
            let actions = egui::UiBuilder::new().id(egui::Id::new("launch-actions"));
            ui.scope_builder(actions, |ui| {
                ui.horizontal(|ui| {
                    clicked.start = ui
                        .add_enabled(runnable, egui::Button::new("Start run"))
                        .on_hover_text("Start the run; it continues in the background")
                        .clicked();
                    clicked.close = ui.button("Close").clicked();
                });
            });
        });
    clicked.close |= !open || ctx.input(|i| i.key_pressed(egui::Key::Escape));
    apply_clicked(studio, &clicked);
}

/// Starts the dialog's run here or on AWS (`remote`), or says why its request is not valid.
fn start_from_dialog(studio: &mut Studio, remote: bool) {
    let Some(launch) = studio.workbench.launch.as_ref() else {
        return;
    };
    let test_first = launch.test_first;
    let (project, selection) = (studio.doc.project(), &studio.canvas.selection);
    let started = if remote {
        launch
            .remote_request(project, selection)
            .map(|r| studio.start_remote_run_with(r, test_first))
    } else {
        launch
            .request(project, selection)
            .map(|r| studio.start_run_with(r, test_first))
    };
    if let Err(e) = started {
        studio.show_error(&e.to_string());
    }
}

/// Does what the dialog's buttons asked for.
fn apply_clicked(studio: &mut Studio, clicked: &Clicked) {
    if clicked.start {
        start_from_dialog(studio, false);
    }
    if clicked.open_prices {
        studio.open_prices();
    }
    if clicked.start_aws {
        start_from_dialog(studio, true);
    }
    if clicked.check_aws {
        studio.check_aws_setup();
    }
    if clicked.open_connections {
        // Connections takes the dialog's place (the plan is made again when it reopens).
        studio.workbench.launch = None;
        studio.windows.connections = Some(
            crate::ui::panels::connections::ConnectionsState::new_aws_account(studio.doc.project()),
        );
    }
    if clicked.close {
        studio.workbench.launch = None;
    }
}

/// What to materialize, which partitions, whether to force, and where.
fn choices_ui(ui: &mut egui::Ui, launch: &mut LaunchState, selected: usize, tests: usize) {
    ui.label("What to materialize");
    ui.horizontal(|ui| {
        for scope in [
            LaunchScope::Selected,
            LaunchScope::WithUpstream,
            LaunchScope::WithDownstream,
            LaunchScope::All,
        ] {
            let enabled = scope == LaunchScope::All || selected > 0;
            ui.add_enabled_ui(enabled, |ui| {
                ui.radio_value(&mut launch.scope, scope, scope.label());
            });
        }
    });
    partitions_ui(ui, launch);
    ui.checkbox(&mut launch.force, "Force")
        .on_hover_text("Materialize even the assets whose definition and inputs are unchanged");
    let label = match tests {
        1 => "Test first (1 unit test)".to_owned(),
        n => format!("Test first ({n} unit tests)"),
    };
    ui.checkbox(&mut launch.test_first, label).on_hover_text(
        "Run the unit tests of the assets in scope on their given rows here first, and refuse to launch (locally or on AWS, before anything is uploaded) when one fails",
    );
    ui.horizontal(|ui| {
        ui.label("Where");
        ui.radio_value(&mut launch.on_aws, false, "Locally");
        ui.radio_value(&mut launch.on_aws, true, "On AWS")
            .on_hover_text(
                "Each step on its compute tier (Lambda, Fargate, Batch; local steps here)",
            );
    });
}

/// The partition (or range) to materialize, for a partitioned selection.
fn partitions_ui(ui: &mut egui::Ui, launch: &mut LaunchState) {
    match launch.partitions.clone() {
        Some(PartitionsDefinition::Static { keys }) => {
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                ui.label("Partition");
                partition_combo_ui(ui, "launch_from", &mut launch.from, &keys, "No partition");
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
                    egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Last partition")
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
}

/// Which steps will compute and which are up to date. True when something would run.
fn local_plan_ui(ui: &mut egui::Ui, launch: &mut LaunchState) -> bool {
    match &launch.plan {
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Working out what will run…");
            });
            false
        }
        Some(Err(e)) => {
            ui.label(RichText::new(e.to_string()).color(theme::error_color()));
            false
        }
        Some(Ok(steps)) => {
            ui.label(RichText::new(crate::app::run::plan_summary(steps)).strong());
            let blocked = steps
                .iter()
                .any(|s| matches!(s.status, PlannedStatus::Blocked { .. }));
            if blocked || launch.allow_failed_upstream {
                ui.checkbox(
                    &mut launch.allow_failed_upstream,
                    "Build anyway from data that failed a blocking check",
                )
                .on_hover_text(
                    "--allow-failed-upstream: the run records the override and its report says so",
                );
            }
            egui::ScrollArea::vertical()
                .max_height(150.0)
                .auto_shrink([false, true])
                .show(ui, |ui| {
                    egui::Grid::new("launch_plan")
                        .striped(true)
                        .num_columns(2)
                        .show(ui, |ui| {
                            for step in steps {
                                ui.label(step.asset.as_str());
                                planned_status_ui(ui, &step.status);
                                ui.end_row();
                            }
                        });
                });
            !steps.is_empty()
        }
    }
}

/// One step's line in the plan: will run (why), up to date (since which run), or blocked.
fn planned_status_ui(ui: &mut egui::Ui, status: &PlannedStatus) {
    match status {
        PlannedStatus::WillRun { reason } => {
            ui.label(RichText::new(format!("will run: {reason}")).color(theme::running_color()));
        }
        PlannedStatus::UpToDate {
            run_id,
            failed: Some(f),
            ..
        } => {
            ui.label(
                RichText::new(format!(
                    "up to date, failing check {}: the run will fail",
                    f.check
                ))
                .color(theme::error_color()),
            )
            .on_hover_text(format!(
                "Data unchanged since run {run_id}; check {} failed on it in run {}. Fix the \
                 data or the check, or force a new materialization.",
                f.check, f.run_id
            ));
        }
        PlannedStatus::UpToDate { run_id, checks, .. } if checks.is_empty() => {
            ui.label(RichText::new("up to date").color(theme::ok_color()))
                .on_hover_text(format!("Unchanged since run {run_id}"));
        }
        PlannedStatus::UpToDate { run_id, checks, .. } => {
            ui.label(
                RichText::new(format!(
                    "up to date; checks will run: {}",
                    checks.join(", ")
                ))
                .color(theme::ok_color()),
            )
            .on_hover_text(format!(
                "Data unchanged since run {run_id}; new or edited checks run on it"
            ));
        }
        PlannedStatus::Blocked { reason } => {
            ui.label(RichText::new(reason).color(theme::error_color()));
        }
    }
}

/// Where each asset would run: tier (with an override), reason and estimated cost, then the
/// total and the price table's date. True when "Prices…" was clicked.
fn compute_plan_ui(ui: &mut egui::Ui, launch: &mut LaunchState) -> bool {
    ui.label(RichText::new("Where it would run on AWS").strong());
    let report = match &launch.compute {
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Estimating tiers and costs…");
            });
            return false;
        }
        Some(Err(e)) => {
            ui.label(RichText::new(format!("No compute plan: {e}")).color(theme::error_color()));
            return false;
        }
        Some(Ok(report)) => report.clone(),
    };
    egui::ScrollArea::vertical()
        .id_salt("compute_plan_scroll")
        .max_height(230.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            for a in &report.assets {
                ui.horizontal(|ui| {
                    ui.add_sized(
                        [190.0, 18.0],
                        egui::Label::new(RichText::new(a.asset.as_str()).strong()).truncate(),
                    );
                    tier_combo_ui(ui, &a.asset, a.tier, &mut launch.overrides);
                    match (a.est_cost_usd, &a.missing_price) {
                        (Some(c), _) => {
                            ui.label(format!("{}: {}", a.asset, format_usd(c)));
                        }
                        (None, Some(id)) => {
                            ui.label(
                                RichText::new(format!("{}: missing price {id}", a.asset))
                                    .color(theme::error_color()),
                            );
                        }
                        (None, None) => {
                            ui.label(format!("{}: no estimate", a.asset));
                        }
                    }
                    let confidence = if a.history_runs > 0 {
                        format!("from {} past run(s)", a.history_runs)
                    } else {
                        "modelled".to_owned()
                    };
                    ui.label(RichText::new(confidence).weak())
                        .on_hover_text(&a.basis);
                });
                ui.label(RichText::new(&a.reason).weak())
                    .on_hover_text(format!(
                        "{} / {} for ~{} · estimate {} ({})",
                        crate::app::plan::format_vcpu(a.vcpu),
                        format_memory(a.memory_mb),
                        format_duration(a.est_duration_secs),
                        a.confidence.as_str(),
                        a.basis
                    ));
                if let Some(p) = &a.problem {
                    ui.label(RichText::new(p).color(theme::error_color()));
                }
                ui.add_space(2.0);
            }
        });
    ui.horizontal(|ui| {
        ui.label(RichText::new(total_text(&report)).strong());
        ui.button("Prices…")
            .on_hover_text("See and edit the rates, their sources and dates")
            .clicked()
    })
    .inner
}

/// "Estimated total $0.0123 · prices as of 2026-11-26", with what it leaves out.
pub fn total_text(report: &PlanReport) -> String {
    let missing = report
        .assets
        .iter()
        .filter(|a| a.est_cost_usd.is_none() && a.tier != ComputeTier::Local)
        .count();
    format!(
        "Estimated total {}{} · prices as of {}",
        format_usd(report.total_usd),
        if missing > 0 {
            format!(" (without {missing} asset(s) lacking a price)")
        } else {
            String::new()
        },
        report.prices_as_of
    )
}

/// The tier an asset runs on, with "Auto" going back to the hint or the planner.
fn tier_combo_ui(
    ui: &mut egui::Ui,
    asset: &AssetKey,
    planned: ComputeTier,
    overrides: &mut BTreeMap<AssetKey, ComputeTier>,
) {
    let mut chosen = overrides.get(asset).copied().unwrap_or(ComputeTier::Auto);
    let shown = if chosen == ComputeTier::Auto {
        tier_name(planned).to_owned()
    } else {
        format!("{} (yours)", tier_name(chosen))
    };
    let combo = egui::ComboBox::from_id_salt(("tier_override", asset.as_str()))
        .selected_text(shown)
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut chosen, ComputeTier::Auto, "As planned");
            for tier in ComputeTier::ALL {
                if tier != ComputeTier::Auto {
                    ui.selectable_value(&mut chosen, tier, tier_name(tier));
                }
            }
        });
    let label = format!("Tier of {asset}");
    combo
        .response
        .widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::ComboBox, true, &label));
    if chosen == ComputeTier::Auto {
        overrides.remove(asset);
    } else {
        overrides.insert(asset.clone(), chosen);
    }
}

/// The remote steps (tier per step, with the reason and size) and the AWS actions; returns
/// whether "Launch on AWS" and "Check AWS setup…" were clicked.
fn aws_plan_ui(ui: &mut egui::Ui, launch: &mut LaunchState) -> (bool, bool) {
    let mut runnable = false;
    match launch.aws_plan.as_ref() {
        None => {
            ui.spinner();
        }
        Some(Err(e)) => {
            ui.label(RichText::new(e.to_string()).color(theme::error_color()));
        }
        Some(Ok(steps)) => {
            runnable = !steps.is_empty();
            ui.label(RichText::new(format!("{} step(s) on AWS", steps.len())).strong());
            aws_steps_ui(ui, steps);
        }
    }
    let mut start = false;
    let mut check = false;
    // Fixed ids, as for "Start run": the AWS plan above arrives from the background.
    let actions = egui::UiBuilder::new().id(egui::Id::new("launch-aws-actions"));
    ui.scope_builder(actions, |ui| {
        ui.horizontal(|ui| {
            if ui
                .add_enabled(runnable, egui::Button::new("Launch on AWS"))
                .on_hover_text("Submit the run; follow it in the run view")
                .clicked()
            {
                start = true;
            }
            if ui
                .add_enabled(!launch.aws_checking, egui::Button::new("Check AWS setup…"))
                .on_hover_text(
                    "Ask AWS whether the bucket, cluster, queue, roles, log groups and image exist",
                )
                .clicked()
            {
                check = true;
            }
            if launch.aws_checking {
                ui.spinner();
            }
        })
    });
    match &launch.aws_setup {
        None => {}
        Some(Err(e)) => {
            ui.label(RichText::new(e.to_string()).color(theme::error_color()));
        }
        Some(Ok(checks)) => aws_setup_ui(ui, checks),
    }
    (start, check)
}

/// What a run on AWS needs when the project has no AWS account yet; whether "Connections…"
/// was clicked.
fn no_account_ui(ui: &mut egui::Ui) -> bool {
    ui.separator();
    ui.label(RichText::new("This project has no AWS account to run on yet").strong());
    ui.add(
        egui::Label::new(
            "A run on AWS needs an AWS account in Connections: its region and how to sign in \
             (a profile, or keys kept in the OS keyring), and with \"Run steps on AWS with this \
             account\" the S3 bucket for the data and the subnets and security groups the steps \
             run in. Check AWS setup then tells you what is missing on AWS itself.",
        )
        .wrap(),
    );
    ui.button("Connections…")
        .on_hover_text("Add an AWS account to this project")
        .clicked()
}

/// The planned remote steps: number, tier (the reason on hover), assets, size.
fn aws_steps_ui(ui: &mut egui::Ui, steps: &[crate::app::remote::PlannedRemoteStep]) {
    egui::ScrollArea::vertical()
        .id_salt("launch_aws_steps")
        .max_height(220.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            egui::Grid::new("launch_aws_plan")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for (i, step) in steps.iter().enumerate() {
                        ui.label(format!("{}", i + 1));
                        ui.label(RichText::new(step.tier.as_str()).strong())
                            .on_hover_text(&step.reason);
                        ui.label(
                            step.assets
                                .iter()
                                .map(crate::model::AssetKey::as_str)
                                .collect::<Vec<_>>()
                                .join(", "),
                        );
                        ui.label(
                            RichText::new(format!(
                                "{} · {}{}{}",
                                crate::app::plan::format_vcpu(step.vcpu),
                                format_memory(step.memory_mb),
                                if step.spot { " · spot" } else { "" },
                                if step.partitions.len() > 1 {
                                    format!(" · {} partitions", step.partitions.len())
                                } else {
                                    String::new()
                                }
                            ))
                            .weak(),
                        );
                        ui.end_row();
                    }
                });
        });
}

/// What "Check AWS setup…" found, one line per item.
fn aws_setup_ui(ui: &mut egui::Ui, checks: &[crate::app::remote::SetupCheck]) {
    egui::Grid::new("launch_aws_setup")
        .striped(true)
        .num_columns(3)
        .show(ui, |ui| {
            for c in checks {
                let (mark, color) = match c.state {
                    crate::app::remote::CheckState::Ok => ("ok", theme::ok_color()),
                    crate::app::remote::CheckState::Missing => ("missing", theme::error_color()),
                    crate::app::remote::CheckState::Skipped => {
                        ("-", ui.visuals().weak_text_color())
                    }
                };
                ui.label(RichText::new(mark).color(color));
                ui.label(&c.item);
                ui.label(&c.detail);
                ui.end_row();
            }
        });
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
