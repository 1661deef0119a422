//! The Automation window: the project's schedules and sensors with their next tick, an on/off
//! switch each and "Evaluate now", who evaluates the project (this studio, a daemon, nobody),
//! and the tick history with reasons. Everything shown is read back from the workspace by the
//! job worker after each change or pass; while it is open the studio also evaluates the stored
//! project every [`EVALUATE_EVERY`] when it can hold the lease. Two more tabs: the alert targets
//! and rules (`panels::alerts`), and the alert deliveries that failed for good, read from the
//! workspace (the toolbar shows their count).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use egui::RichText;

use super::alerts::{AlertIntent, AlertsEditor};
use crate::app::automation::studio::AutomationView;
use crate::app::automation::{AutomationStatus, PassReport};
use crate::app::backend::TaskRequest;
use crate::app::jobs::{JobError, JobRequest};
use crate::model::{Tick, TickOutcome, time};
use crate::ui::{Studio, theme};

/// How often the open studio evaluates its project's automation.
pub const EVALUATE_EVERY: Duration = Duration::from_secs(30);

/// The panel's state; the window is open when `open`.
#[derive(Debug, Default)]
pub struct AutomationPanel {
    pub open: bool,
    pub view: Option<Result<Box<AutomationView>, JobError>>,
    /// The last pass this studio ran, or why it failed.
    pub last_pass: Option<Result<Box<PassReport>, JobError>>,
    /// When this studio last asked for a pass (`None`: never).
    pub last_evaluation: Option<Instant>,
    pub evaluating: bool,
    /// Whether the studio evaluates its project on its own every [`EVALUATE_EVERY`]. Off
    /// unless the window turns it on (`ui::run`), so a studio opened by a test or a benchmark
    /// never requests a run because its clock passed a schedule's time; "Evaluate now" works
    /// either way.
    pub evaluate_on_clock: bool,
    pub tab: AutomationTab,
    pub alerts: AlertsEditor,
}

/// The window's tabs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AutomationTab {
    #[default]
    Schedules,
    Alerts,
    FailedDeliveries,
}

impl AutomationPanel {
    /// How many alert deliveries of the project failed for good, as last read from the
    /// workspace (`None`: not read yet).
    pub fn failed_count(&self) -> Option<usize> {
        match &self.view {
            Some(Ok(v)) => Some(v.failed_deliveries.len()),
            _ => None,
        }
    }
}

impl Studio {
    /// Opens the Automation window and reads its view.
    pub fn open_automation(&mut self) {
        self.automation.open = true;
        self.request_automation_view();
    }

    pub(crate) fn request_automation_view(&mut self) {
        let project = self.project().name.clone();
        self.send_job(JobRequest::Automation { project });
    }

    /// Reads the Automation view (and with it the failed deliveries the toolbar counts) without
    /// opening the window; quiet when there is no stored project or the queue is full.
    pub(crate) fn refresh_alert_state(&mut self) {
        if !self.backend.has_workspace() || !self.workspace.has_project {
            return;
        }
        let project = self.project().name.clone();
        let _ = self.backend.send(JobRequest::Automation { project });
    }

    /// Opens the window on the failed deliveries (the toolbar's badge).
    pub fn open_failed_deliveries(&mut self) {
        self.automation.tab = AutomationTab::FailedDeliveries;
        self.open_automation();
    }

    fn alert_intent(&mut self, intent: AlertIntent) {
        match intent {
            AlertIntent::Apply(edit) => {
                self.apply(edit);
            }
            AlertIntent::StoreThenApply { secrets, edit } => {
                let id = self.next_request_id();
                self.automation.alerts.storing(id, edit);
                self.run_task(TaskRequest::StoreSecrets { id, secrets });
            }
            AlertIntent::Test(target) => {
                let id = self.next_request_id();
                self.automation.alerts.testing(id, &target.name);
                let project = self.project().name.clone();
                self.run_task(TaskRequest::TestAlertTarget {
                    id,
                    project,
                    target,
                });
            }
        }
    }

    /// Asks for a pass now (all, or one schedule or sensor).
    pub fn evaluate_automation(&mut self, only: Option<String>) {
        let project = self.project().name.clone();
        if self.send_job(JobRequest::EvaluateAutomation { project, only }) {
            self.automation.evaluating = true;
            self.automation.last_evaluation = Some(Instant::now());
        }
    }

    /// The studio's own schedule: a pass every [`EVALUATE_EVERY`] while a stored project with
    /// schedules or sensors is open (the pass evaluates nothing when a daemon holds the lease).
    pub(crate) fn automation_clock(&mut self, ctx: &egui::Context) {
        let p = self.project();
        if !self.automation.evaluate_on_clock
            || !self.backend.has_workspace()
            || !self.workspace.has_project
            || (p.schedules.is_empty() && p.sensors.is_empty())
        {
            return;
        }
        let due = self
            .automation
            .last_evaluation
            .is_none_or(|t| t.elapsed() >= EVALUATE_EVERY);
        if due && !self.automation.evaluating {
            self.evaluate_automation(None);
        }
        ctx.request_repaint_after(EVALUATE_EVERY);
    }
}

fn outcome_color(outcome: TickOutcome, visuals: &egui::Visuals) -> egui::Color32 {
    match outcome {
        TickOutcome::Requested => theme::ok_color(),
        TickOutcome::Failed => theme::error_color(),
        TickOutcome::Skipped => visuals.weak_text_color(),
    }
}

fn lease_line(view: &AutomationView) -> String {
    match &view.lease {
        Some(l) if view.lease_live && l.holder == view.me => {
            "Evaluated by this studio while it is open.".to_owned()
        }
        Some(l) if view.lease_live => format!(
            "Evaluated by {} — this studio leaves the project to it.",
            l.holder
        ),
        _ => "Nobody evaluates this project right now: start `medallion daemon`, or keep the studio open.".to_owned(),
    }
}

/// What a click in the window asked for.
enum Action {
    Switch(String, bool),
    Evaluate(Option<String>),
    OpenRun(String),
}

pub fn automation_ui(ctx: &egui::Context, studio: &mut Studio) {
    if !studio.automation.open {
        return;
    }
    let mut open = true;
    let mut action = None;
    let mut intent = None;
    let project = studio.project().name.clone();
    let alerts = studio.project().alerts.clone();
    egui::Window::new("Automation")
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_width(1150.0)
        .default_height(560.0)
        .default_pos(ctx.content_rect().center() - egui::vec2(575.0, 280.0))
        .show(ctx, |ui| {
            tabs_ui(ui, &mut studio.automation);
            ui.separator();
            match studio.automation.tab {
                AutomationTab::Schedules => action = window_body(ui, &studio.automation),
                AutomationTab::Alerts => {
                    egui::ScrollArea::vertical()
                        .auto_shrink([false, true])
                        .max_height(620.0)
                        .show(ui, |ui| {
                            intent = super::alerts::alerts_tab(
                                ui,
                                &mut studio.automation.alerts,
                                &project,
                                &alerts,
                            );
                        });
                }
                AutomationTab::FailedDeliveries => {
                    action = failed_deliveries_ui(ui, &studio.automation);
                }
            }
        });
    if let Some(intent) = intent {
        studio.alert_intent(intent);
    }
    if !open {
        studio.automation.open = false;
    }
    match action {
        Some(Action::Switch(name, enabled)) => {
            let project = studio.project().name.clone();
            studio.send_job(JobRequest::SetAutomationEnabled {
                project,
                name,
                enabled,
            });
        }
        Some(Action::Evaluate(only)) => studio.evaluate_automation(only),
        Some(Action::OpenRun(run_id)) => {
            studio.send_job(JobRequest::OpenRun {
                run_id: crate::model::RunId::new(run_id),
            });
        }
        None => {}
    }
}

fn tabs_ui(ui: &mut egui::Ui, panel: &mut AutomationPanel) {
    let failed = match panel.failed_count() {
        Some(n) if n >= crate::app::automation::studio::PANEL_FAILED_DELIVERIES => {
            format!("Failed deliveries ({n}+)")
        }
        Some(n) => format!("Failed deliveries ({n})"),
        None => "Failed deliveries".to_owned(),
    };
    ui.horizontal(|ui| {
        for (tab, label) in [
            (AutomationTab::Schedules, "Schedules and sensors".to_owned()),
            (AutomationTab::Alerts, "Alert targets and rules".to_owned()),
            (AutomationTab::FailedDeliveries, failed),
        ] {
            let text = if tab == AutomationTab::FailedDeliveries
                && panel.failed_count().is_some_and(|n| n > 0)
            {
                RichText::new(label).color(theme::error_color())
            } else {
                RichText::new(label)
            };
            ui.selectable_value(&mut panel.tab, tab, text);
        }
    });
}

/// Every alert delivery of the project that failed for good, newest first: when, which
/// alert (its run, asset or sensor), which target, how many attempts, and what the target
/// answered last.
fn failed_deliveries_ui(ui: &mut egui::Ui, panel: &AutomationPanel) -> Option<Action> {
    let view = match &panel.view {
        Some(Ok(view)) => view,
        Some(Err(e)) => {
            ui.colored_label(
                theme::error_color(),
                format!("Could not read the deliveries: {e}"),
            );
            return None;
        }
        None => {
            ui.spinner();
            return None;
        }
    };
    if view.failed_deliveries.is_empty() {
        ui.label("No alert delivery has failed: every alert sent reached its target.");
        return None;
    }
    ui.label(
        "Alerts that did not reach their target after every attempt (also in `medallion alerts log`). The alert itself was not received.",
    );
    let mut action = None;
    let reason_width = (ui.available_width() - 760.0).max(MIN_REASON_WIDTH);
    egui::ScrollArea::vertical()
        .auto_shrink([false, true])
        .max_height(520.0)
        .show(ui, |ui| {
            egui::Grid::new("failed_deliveries")
                .striped(true)
                .num_columns(6)
                .show(ui, |ui| {
                    for h in [
                        "Last attempt",
                        "Alert",
                        "About",
                        "Target",
                        "Attempts",
                        "Error",
                    ] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for d in &view.failed_deliveries {
                        ui.label(time::text(&d.attempted_at))
                            .on_hover_text(format!("raised at {}", time::text(&d.raised_at)));
                        ui.label(d.event.replace('_', " "));
                        if d.event.starts_with("run_") || d.event == "check_failure" {
                            if ui.link(&d.subject).on_hover_text("Open this run").clicked() {
                                action = Some(Action::OpenRun(d.subject.clone()));
                            }
                        } else {
                            ui.label(&d.subject);
                        }
                        ui.label(format!("{} ({})", d.target, d.target_kind));
                        ui.label(d.attempt.to_string());
                        let galley = egui::WidgetText::from(d.answer.as_str()).into_galley(
                            ui,
                            Some(egui::TextWrapMode::Wrap),
                            reason_width,
                            egui::TextStyle::Body,
                        );
                        ui.add(egui::Label::new(galley).selectable(true));
                        ui.end_row();
                    }
                });
        });
    action
}

fn window_body(ui: &mut egui::Ui, panel: &AutomationPanel) -> Option<Action> {
    let view = match &panel.view {
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading schedules, sensors and ticks…");
            });
            return None;
        }
        Some(Err(e)) => {
            ui.colored_label(
                theme::error_color(),
                format!("Could not read automation: {e}"),
            );
            return None;
        }
        Some(Ok(view)) => view,
    };
    let mut action = None;
    ui.horizontal(|ui| {
        ui.label(lease_line(view));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if panel.evaluating {
                ui.spinner();
            }
            if ui
                .add_enabled(!panel.evaluating, egui::Button::new("Evaluate now"))
                .on_hover_text("Evaluate every schedule and sensor of the stored project now")
                .clicked()
            {
                action = Some(Action::Evaluate(None));
            }
        });
    });
    if let Some(Err(e)) = &panel.last_pass {
        ui.colored_label(theme::error_color(), format!("The last pass failed: {e}"));
    }
    ui.separator();
    if view.statuses.is_empty() {
        ui.label("This project has no schedules or sensors. Add [schedules.NAME] or [sensors.NAME] to medallion.toml.");
        return action;
    }
    definitions_ui(ui, view, panel.evaluating, &mut action);
    ui.separator();
    ui.label(RichText::new(format!("Ticks (newest first, {} shown)", view.ticks.len())).strong());
    ticks_ui(ui, view, &mut action);
    action
}

fn definitions_ui(
    ui: &mut egui::Ui,
    view: &AutomationView,
    busy: bool,
    action: &mut Option<Action>,
) {
    let now = chrono::Utc::now();
    egui::Grid::new("automation_definitions")
        .striped(true)
        .num_columns(7)
        .show(ui, |ui| {
            for h in [
                "On",
                "Name",
                "Kind",
                "When / what",
                "Selection · target",
                "Next tick",
                "",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for s in &view.statuses {
                let mut on = s.enabled;
                let hover = if s.switched {
                    "Switched in this workspace (the project file's `enabled` is the default)"
                } else {
                    "As the project file says; switching is kept in this workspace"
                };
                let switch = ui.checkbox(&mut on, "").on_hover_text(hover);
                let name = format!("Switch {}", s.name);
                switch.widget_info(|| {
                    egui::WidgetInfo::selected(egui::WidgetType::Checkbox, true, s.enabled, &name)
                });
                if switch.changed() {
                    *action = Some(Action::Switch(s.name.clone(), on));
                }
                ui.label(&s.name);
                ui.label(s.kind.as_str());
                ui.label(&s.description);
                ui.label(format!("{} · {}", s.selection, s.target));
                ui.label(next_tick_text(s, now))
                    .on_hover_text(state_hover(s));
                let evaluate = ui
                    .add_enabled(!busy && s.enabled, egui::Button::new("Evaluate now"))
                    .on_hover_text(format!("Evaluate only {} now", s.name));
                let label = format!("Evaluate {} now", s.name);
                evaluate.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::WidgetType::Button, !busy && s.enabled, &label)
                });
                if evaluate.clicked() {
                    *action = Some(Action::Evaluate(Some(s.name.clone())));
                }
                ui.end_row();
            }
        });
}

/// "2026-12-07 06:00 UTC (in 19 h)", "2026-12-08 09:00 Europe/Berlin, 08:00 UTC (in 19 h)",
/// "off", or "unknown" (a cron that never fires again).
fn next_tick_text(s: &AutomationStatus, now: chrono::DateTime<chrono::Utc>) -> String {
    if !s.enabled {
        return "off".to_owned();
    }
    let (Some(t), Some(when)) = (s.next_tick, s.next_tick_local()) else {
        return "unknown".to_owned();
    };
    format!("{when} ({})", until(t - now))
}

fn until(d: chrono::TimeDelta) -> String {
    let secs = d.num_seconds();
    match secs {
        ..=0 => "due at the next pass".to_owned(),
        1..60 => format!("in {secs} s"),
        60..3600 => format!("in {} min", secs / 60),
        3600..172_800 => format!("in {} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("in {} days", secs / 86_400),
    }
}

fn state_hover(s: &AutomationStatus) -> String {
    format!(
        "Last evaluated: {}\nCursor: {}",
        s.last_evaluated
            .as_ref()
            .map_or_else(|| "never".to_owned(), time::secs_text),
        s.cursor.as_deref().unwrap_or("none yet")
    )
}

/// The width the reason column wraps at: what the other columns leave, but never so little
/// that a reason becomes a column of single words.
const TICK_COLUMNS_WIDTH: f32 = 500.0;
const MIN_REASON_WIDTH: f32 = 320.0;

fn ticks_ui(ui: &mut egui::Ui, view: &AutomationView, action: &mut Option<Action>) {
    if view.ticks.is_empty() {
        ui.label("No ticks yet: nothing has evaluated this project's automation.");
        return;
    }
    let visuals = ui.visuals().clone();
    let reason_width = (ui.available_width() - TICK_COLUMNS_WIDTH).max(MIN_REASON_WIDTH);
    egui::ScrollArea::vertical()
        .auto_shrink([false, true])
        .max_height(360.0)
        .show(ui, |ui| {
            egui::Grid::new("automation_ticks")
                .striped(true)
                .num_columns(5)
                .show(ui, |ui| {
                    for h in ["Tick", "Name", "Outcome", "Run", "Reason"] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for (t, n, oldest) in tick_rows(&view.ticks) {
                        let hover = if n > 1 {
                            format!(
                                "{n} ticks from {} to {}, each skipped for this reason; the newest evaluated at {} by {}",
                                time::secs_text(&oldest),
                                time::secs_text(&t.tick_at),
                                time::secs_text(&t.evaluated_at),
                                t.holder
                            )
                        } else {
                            let at = time::secs_text(&t.evaluated_at);
                            format!("evaluated at {at} by {}", t.holder)
                        };
                        ui.label(time::secs_text(&t.tick_at)).on_hover_text(hover);
                        ui.label(&t.automation);
                        let outcome = if n > 1 {
                            format!("{} ×{n}", t.outcome.as_str())
                        } else {
                            t.outcome.as_str().to_owned()
                        };
                        ui.colored_label(outcome_color(t.outcome, &visuals), outcome);
                        match &t.run_id {
                            Some(run) if ui.link(run).on_hover_text("Open this run").clicked() => {
                                *action = Some(Action::OpenRun(run.clone()));
                            }
                            Some(_) => {}
                            None => {
                                ui.label("—");
                            }
                        }
                        // Laid out at the column's width here: a wrapping label in a grid
                        // wraps at last frame's column width, which starts at a few letters.
                        let galley = egui::WidgetText::from(t.reason.as_str()).into_galley(
                            ui,
                            Some(egui::TextWrapMode::Wrap),
                            reason_width,
                            egui::TextStyle::Body,
                        );
                        ui.add(egui::Label::new(galley));
                        ui.end_row();
                    }
                });
        });
}

/// The ticks as rows, newest first: consecutive skipped ticks of one schedule or sensor with the
/// same reason (a sensor finding nothing new each minute) are one row — the newest tick, how
/// many, and the oldest one's time.
fn tick_rows(ticks: &[Tick]) -> Vec<(&Tick, usize, DateTime<Utc>)> {
    let mut rows: Vec<(&Tick, usize, DateTime<Utc>)> = Vec::new();
    for t in ticks {
        if let Some((newest, n, oldest)) = rows.last_mut()
            && t.outcome == TickOutcome::Skipped
            && newest.outcome == TickOutcome::Skipped
            && newest.automation == t.automation
            && newest.reason == t.reason
            && t.run_id.is_none()
            && newest.run_id.is_none()
        {
            *n += 1;
            *oldest = t.tick_at;
            continue;
        }
        rows.push((t, 1, t.tick_at));
    }
    rows
}
