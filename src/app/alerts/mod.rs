//! Alerts: an event (a run finished, a blocking check failed, an asset is overdue, a sensor
//! failed) is matched against the project's rules, sent to each matching target with retries
//! and backoff, and every attempt is stored in the workspace. A delivery that finally fails is
//! recorded and returned — callers show it; nothing is swallowed.
//!
//! Runs raise their events from one place: the workspace queues every run that reaches a
//! finished status (a trigger on `runs`, whatever path ended it: the CLI, the studio, the
//! daemon, a remote driver, the liveness sweep), and [`alert_run`] / [`alert_finished_runs`]
//! take runs from that queue exactly once.

mod deliver;
mod message;
mod runs;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::AppError;
use super::freshness::AssetFreshness;
use crate::model::{
    AlertEventKind, AlertRule, AlertTarget, AssetGraph, AssetKey, AssetSelection, Project,
};
use crate::store::{NewAlertEvent, Workspace};

pub use deliver::{BACKOFF, MAX_ATTEMPTS};
pub use runs::{
    FailedStep, FailingCheck, RunAlert, alert_finished_runs, alert_run, alert_run_or_log,
};

/// Something worth telling someone.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AlertEvent {
    RunFailure(RunAlert),
    RunSuccess(RunAlert),
    /// A blocking check failed in the run (`failing_checks` names them).
    CheckFailure(RunAlert),
    FreshnessOverdue(AssetFreshness),
    SensorError {
        sensor: String,
        message: String,
    },
}

impl AlertEvent {
    pub fn kind(&self) -> AlertEventKind {
        match self {
            AlertEvent::RunFailure(_) => AlertEventKind::RunFailure,
            AlertEvent::RunSuccess(_) => AlertEventKind::RunSuccess,
            AlertEvent::CheckFailure(_) => AlertEventKind::CheckFailure,
            AlertEvent::FreshnessOverdue(_) => AlertEventKind::FreshnessOverdue,
            AlertEvent::SensorError { .. } => AlertEventKind::SensorError,
        }
    }

    /// What it is about: a run id, an asset key or a sensor name.
    pub fn subject(&self) -> String {
        match self {
            AlertEvent::RunFailure(r) | AlertEvent::RunSuccess(r) | AlertEvent::CheckFailure(r) => {
                r.run_id.to_string()
            }
            AlertEvent::FreshnessOverdue(a) => a.asset.to_string(),
            AlertEvent::SensorError { sensor, .. } => sensor.clone(),
        }
    }

    /// The assets a rule's selection is matched against; `None`: about no asset (matches
    /// every rule).
    fn assets(&self) -> Option<Vec<AssetKey>> {
        match self {
            AlertEvent::RunFailure(r) => Some(if r.failed.is_empty() {
                r.assets.clone()
            } else {
                r.failed.iter().map(|f| f.asset.clone()).collect()
            }),
            AlertEvent::RunSuccess(r) => Some(r.assets.clone()),
            AlertEvent::CheckFailure(r) => Some(
                r.failing_checks
                    .iter()
                    .filter(|c| c.blocking)
                    .map(|c| c.asset.clone())
                    .collect(),
            ),
            AlertEvent::FreshnessOverdue(a) => Some(vec![a.asset.clone()]),
            AlertEvent::SensorError { .. } => None,
        }
    }
}

/// One delivery of an alert to one target: its attempts and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The alert's id in the workspace (`medallion alerts log`).
    pub event_id: i64,
    /// The event's kind (`run_failure`, …), or `test`.
    pub event: String,
    /// The rules that sent it here (one delivery per target, however many rules match).
    pub rules: Vec<String>,
    pub target: String,
    pub target_kind: String,
    pub attempts: u32,
    pub delivered: bool,
    /// What the target answered last (or why it could not be reached).
    pub answer: String,
}

impl Delivery {
    /// "alert `run_failure` to `team` (slack) failed after 3 attempts: HTTP 500: …".
    pub fn describe(&self) -> String {
        if self.delivered {
            format!(
                "alert {} sent to `{}` ({}): {}",
                self.event, self.target, self.target_kind, self.answer
            )
        } else {
            format!(
                "alert {} to `{}` ({}) failed after {} attempt(s): {}",
                self.event, self.target, self.target_kind, self.attempts, self.answer
            )
        }
    }
}

/// Whether `rule` wants `event`.
fn rule_matches(
    project: &Project,
    graph: &AssetGraph,
    rule: &AlertRule,
    event: &AlertEvent,
) -> bool {
    if !rule.enabled || !rule.events.contains(&event.kind()) {
        return false;
    }
    let (Some(selection), Some(assets)) = (&rule.selection, event.assets()) else {
        return true;
    };
    match AssetSelection::parse(selection).and_then(|s| s.resolve(project, graph)) {
        Ok(selected) => assets.iter().any(|a| selected.contains(a)),
        Err(e) => {
            // Validation refuses such a rule; a stored one still alerts rather than hide.
            tracing::warn!(rule = %rule.name, "alert rule selection unreadable ({e}); matching every asset");
            true
        }
    }
}

/// The targets `event` goes to, each with the rules that send it there, in target order.
fn routes<'p>(project: &'p Project, event: &AlertEvent) -> Vec<(&'p AlertTarget, Vec<String>)> {
    let graph = AssetGraph::build(project);
    let mut out: Vec<(&AlertTarget, Vec<String>)> = Vec::new();
    for rule in &project.alerts.rules {
        if !rule_matches(project, &graph, rule, event) {
            continue;
        }
        for name in &rule.targets {
            let Some(target) = project.alerts.target(name) else {
                tracing::warn!(rule = %rule.name, target = %name, "alert rule names a target that does not exist");
                continue;
            };
            match out.iter_mut().find(|(t, _)| t.name == target.name) {
                Some((_, rules)) => rules.push(rule.name.clone()),
                None => out.push((target, vec![rule.name.clone()])),
            }
        }
    }
    out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    out
}

/// Raises `event` for `project` at `now`: matches the rules, delivers to each target with
/// retries and backoff, and records the alert and every attempt. Returns one [`Delivery`] per
/// target; a final failure is among them (`delivered: false`), never dropped. No matching rule:
/// nothing is sent or stored.
pub fn raise(
    ws: &mut Workspace,
    project: &Project,
    event: AlertEvent,
    now: DateTime<Utc>,
) -> Result<Vec<Delivery>, AppError> {
    let routes = routes(project, &event);
    if routes.is_empty() {
        return Ok(Vec::new());
    }
    let summary = message::summary(&project.name, &event);
    let payload = serde_json::to_string(&event).unwrap_or_default();
    let event_id = ws.record_alert_event(&NewAlertEvent {
        project: &project.name,
        kind: event.kind().as_str(),
        subject: &event.subject(),
        summary: &summary,
        payload: &payload,
        raised_at: now,
    })?;
    let kind = event.kind();
    let msg = message::Message::new(&project.name, event, &summary, now);
    let mut out = Vec::new();
    for (target, rules) in routes {
        out.push(deliver::deliver(
            ws,
            event_id,
            kind.as_str(),
            &rules,
            target,
            &msg,
            &project.resources,
        )?);
    }
    Ok(out)
}

/// Sends a test message to the target `name` of `project` (with the usual retries) and says
/// what it answered; the attempt is recorded like any other.
pub fn test_target(
    ws: &mut Workspace,
    project: &Project,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Delivery, AppError> {
    let Some(target) = project.alerts.target(name) else {
        return Err(super::Refusal::UnknownAlertTarget {
            project: project.name.clone(),
            name: name.to_owned(),
            known: project
                .alerts
                .targets
                .iter()
                .map(|t| t.name.clone())
                .collect(),
        }
        .into());
    };
    send_test(ws, project, target, now)
}

/// Sends a test message to `target` (saved or not: the studio's editor tests what it shows)
/// for project `project`, recording the attempts like any other; the workspace at `path` is
/// opened for it (and the project read from it, for the `aws` resource an SNS target publishes
/// with). Blocks for the attempts and their backoff: call it off the UI thread (the studio runs
/// it as a backend task).
pub fn test_target_at(
    path: &std::path::Path,
    project: &str,
    target: &AlertTarget,
) -> Result<Delivery, AppError> {
    let mut ws = Workspace::open(path)?;
    let stored = super::load_project(&ws, project)?;
    send_test(&mut ws, &stored.project, target, Utc::now())
}

fn send_test(
    ws: &mut Workspace,
    project: &Project,
    target: &AlertTarget,
    now: DateTime<Utc>,
) -> Result<Delivery, AppError> {
    let resources = &project.resources;
    let project = project.name.as_str();
    let name = &target.name;
    let summary = format!("Test message from Medallion for project {project} (target `{name}`)");
    let event_id = ws.record_alert_event(&NewAlertEvent {
        project,
        kind: "test",
        subject: name,
        summary: &summary,
        payload: "{}",
        raised_at: now,
    })?;
    let msg = message::Message::test(project, &summary, now);
    let mut d = deliver::deliver(
        ws,
        event_id,
        "test",
        &["test".to_owned()],
        target,
        &msg,
        resources,
    )?;
    d.rules = Vec::new();
    Ok(d)
}

/// Every recorded delivery attempt of `project`, newest first.
pub fn log(
    ws: &Workspace,
    project: &str,
    limit: usize,
) -> Result<Vec<crate::store::AttemptRecord>, AppError> {
    Ok(ws.alert_attempts(Some(project), limit)?)
}

/// Deliveries that finally failed (of one project, or of all), newest first.
pub fn failed_deliveries(
    ws: &Workspace,
    project: Option<&str>,
    limit: usize,
) -> Result<Vec<crate::store::AttemptRecord>, AppError> {
    Ok(ws.failed_deliveries(project, limit)?)
}
