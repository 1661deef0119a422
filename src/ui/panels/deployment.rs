//! The Deployment window (Project → Deployment on AWS…): what `medallion deploy --dry-run` says
//! for the open project, read from AWS off the UI thread — whether it is deployed, and how AWS
//! differs from the project (drift: each resource to create, update with the settings that
//! differ, or delete) — with the roles and notes, and Deploy and Undeploy buttons that ask first
//! and then do what the CLI does (the same plan, apply and audit entry).

use egui::RichText;

use crate::app::backend::TaskRequest;
use crate::app::deploy::{DeployAction, DeployOutcome, DeploymentAction};
use crate::ui::{Studio, theme};

/// Open-window state; `None` on the studio when the window is closed.
#[derive(Debug, Default)]
pub struct DeploymentState {
    /// The request in flight, and what it asked.
    pub pending: Option<(u64, DeploymentAction)>,
    /// The last plan (or apply) and its project, or the one-sentence error.
    pub outcome: Option<Result<Box<DeployOutcome>, String>>,
    /// An apply waiting for the user's yes.
    pub confirm: Option<DeploymentAction>,
}

/// Opens the window and asks AWS for the plan.
pub fn open(studio: &mut Studio) {
    studio.windows.deployment = Some(DeploymentState::default());
    request(studio, DeploymentAction::Plan);
}

fn request(studio: &mut Studio, action: DeploymentAction) {
    let id = studio.next_request_id();
    let project = studio.project().name.clone();
    if let Some(state) = &mut studio.windows.deployment {
        state.pending = Some((id, action));
        state.confirm = None;
    }
    studio.run_task(TaskRequest::Deployment {
        id,
        project,
        action,
    });
}

/// An answer: shown when it is the one the window waits for. After a deploy or undeploy the
/// plan is read again, so the window shows what AWS has now.
pub fn on_answer(studio: &mut Studio, id: u64, result: Result<Box<DeployOutcome>, String>) {
    let Some(state) = &mut studio.windows.deployment else {
        return;
    };
    let Some((_, action)) = state.pending.take_if(|(p, _)| *p == id) else {
        return;
    };
    let applied = result
        .as_ref()
        .ok()
        .filter(|_| action != DeploymentAction::Plan)
        .map(|o| o.headline());
    state.outcome = Some(result);
    if let Some(headline) = applied {
        studio.show_info(&headline);
        request(studio, DeploymentAction::Plan);
    }
}

pub fn deployment_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(state) = &studio.windows.deployment else {
        return;
    };
    let mut open = true;
    let mut asked = None;
    egui::Window::new("Deployment on AWS")
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_width(940.0)
        // Long rows (a rule's summary with its topic ARN) wrap instead of widening the window
        // past the studio's edge.
        .max_width((ctx.content_rect().width() - 32.0).max(420.0))
        .default_pos(ctx.content_rect().center() - egui::vec2(470.0, 280.0))
        .show(ctx, |ui| {
            ui.label(
                "The project on AWS Step Functions and EventBridge, as medallion deploy plans it: \
                 runs, schedules, sensors and alerts that need no Medallion running.",
            );
            ui.add_space(4.0);
            if let Some((_, action)) = state.pending {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(match action {
                        DeploymentAction::Plan => "Reading what AWS has for the project…",
                        DeploymentAction::Deploy => "Deploying…",
                        DeploymentAction::Undeploy => "Undeploying…",
                    });
                });
            }
            match &state.outcome {
                None => {}
                Some(Err(e)) => {
                    ui.label(RichText::new(e).color(theme::error_color()));
                    if state.pending.is_none() && ui.button("Try again").clicked() {
                        asked = Some(DeploymentAction::Plan);
                    }
                }
                Some(Ok(outcome)) => {
                    asked = outcome_ui(ui, outcome, state);
                }
            }
        });
    if !open {
        studio.windows.deployment = None;
        return;
    }
    let Some(a) = asked else { return };
    let confirmed = studio
        .windows
        .deployment
        .as_ref()
        .is_some_and(|s| s.confirm == Some(a));
    match a {
        DeploymentAction::Deploy | DeploymentAction::Undeploy if !confirmed => {
            if let Some(s) = &mut studio.windows.deployment {
                s.confirm = Some(a);
            }
        }
        _ => request(studio, a),
    }
}

/// The plan: its headline, the changes, roles and notes, and the buttons. Returns what was
/// clicked (Deploy and Undeploy a second time, once confirmed).
fn outcome_ui(
    ui: &mut egui::Ui,
    outcome: &DeployOutcome,
    state: &DeploymentState,
) -> Option<DeploymentAction> {
    let plan = &outcome.plan;
    let drift = !outcome.applied && !plan.is_noop();
    let headline = RichText::new(outcome.headline()).strong();
    ui.label(if drift {
        headline.color(theme::warning_color())
    } else if plan.is_noop() && !plan.changes.is_empty() {
        headline.color(theme::ok_color())
    } else {
        headline
    });
    ui.label(format!(
        "State machine {} · resource {} · region {}",
        plan.state_machine, plan.resource, plan.region
    ));
    ui.add_space(4.0);
    egui::ScrollArea::vertical()
        .max_height(320.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            egui::Grid::new("deployment_changes")
                .striped(true)
                .num_columns(3)
                .show(ui, |ui| {
                    for c in &plan.changes {
                        let sign = RichText::new(c.action.sign()).monospace().strong();
                        ui.label(match c.action {
                            DeployAction::Create => sign.color(theme::ok_color()),
                            DeployAction::Update => sign.color(theme::warning_color()),
                            DeployAction::Delete => sign.color(theme::error_color()),
                            DeployAction::Unchanged => sign,
                        });
                        ui.label(format!("{} {}", c.kind.label(), c.name));
                        let mut detail = c.summary.clone();
                        for d in &c.differences {
                            detail.push_str("\n  ");
                            detail.push_str(d);
                        }
                        if let Some(at) = c.next_fire_text() {
                            detail.push_str("\n  next fire (as deployed): ");
                            detail.push_str(&at);
                        }
                        ui.add(egui::Label::new(RichText::new(detail).weak()).wrap());
                        ui.end_row();
                    }
                });
            for r in &plan.roles {
                let arn = r.arn.as_deref().unwrap_or("not set");
                ui.label(format!(
                    "Role for the {} (compute.{}): {arn} — needs {}",
                    r.role, r.setting, r.needs
                ));
            }
            for n in &plan.notes {
                ui.label(RichText::new(format!("Note: {n}")).weak());
            }
        });
    ui.separator();
    buttons_ui(ui, outcome, state)
}

fn buttons_ui(
    ui: &mut egui::Ui,
    outcome: &DeployOutcome,
    state: &DeploymentState,
) -> Option<DeploymentAction> {
    let busy = state.pending.is_some();
    let (create, update, delete, same) = outcome.plan.counts();
    let mut asked = None;
    if let Some(a) = state.confirm {
        let question = match a {
            DeploymentAction::Deploy => format!(
                "Apply this plan to AWS: {create} to create, {update} to update, {delete} to delete?"
            ),
            _ => format!(
                "Delete everything deployed for {} from AWS ({} resource(s))?",
                outcome.plan.project,
                update + delete + same
            ),
        };
        ui.label(RichText::new(question).strong());
        ui.horizontal(|ui| {
            let yes = if a == DeploymentAction::Deploy {
                "Yes, deploy"
            } else {
                "Yes, undeploy"
            };
            if ui.add_enabled(!busy, egui::Button::new(yes)).clicked() {
                asked = Some(a);
            }
            if ui.button("Cancel").clicked() {
                asked = Some(DeploymentAction::Plan);
            }
        });
        return asked;
    }
    ui.horizontal(|ui| {
        if ui
            .add_enabled(!busy, egui::Button::new("Refresh"))
            .on_hover_text("Read again what AWS has for the project")
            .clicked()
        {
            asked = Some(DeploymentAction::Plan);
        }
        let can_deploy = !busy && !outcome.applied && !outcome.plan.is_noop();
        if ui
            .add_enabled(can_deploy, egui::Button::new("Deploy…"))
            .on_hover_text("Apply the plan above to AWS (asks first)")
            .clicked()
        {
            asked = Some(DeploymentAction::Deploy);
        }
        let deployed = outcome
            .plan
            .changes
            .iter()
            .any(|c| c.action != DeployAction::Create);
        if ui
            .add_enabled(!busy && deployed, egui::Button::new("Undeploy…"))
            .on_hover_text("Delete everything deployed for the project (asks first)")
            .clicked()
        {
            asked = Some(DeploymentAction::Undeploy);
        }
    });
    asked
}
