//! Alerts for finished runs. The workspace queues every run that reaches a finished status
//! (migration 9's trigger on `runs`); this takes runs from the queue once each, reads what
//! happened from the stored record and events (status, assets, failing checks, duration,
//! cost) and raises `run_success`, `run_failure` and `check_failure`. Canceled runs raise
//! nothing: someone stopped them on purpose.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{AlertEvent, Delivery, raise};
use crate::app::AppError;
use crate::model::{AssetKey, CheckSeverity, RunEvent, RunId, RunRecord, RunStatus, StepOutcome};
use crate::store::{StoreError, Workspace};

/// A claim older than this (its process stopped mid-delivery) is taken again.
const STALE_CLAIM_SECS: i64 = 600;

/// A finished run as an alert tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunAlert {
    pub run_id: RunId,
    pub status: String,
    pub trigger: String,
    /// `local`, or the remote target.
    pub target: String,
    pub selection: String,
    pub partition: Option<String>,
    #[serde(with = "crate::model::time::option")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::model::time::option")]
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    /// The measured cost of the run's remote steps, when every step's is known.
    pub cost_usd: Option<f64>,
    /// Why there is no cost: a local run, or a price missing.
    pub cost_note: Option<String>,
    /// Every asset the run had a step for.
    pub assets: Vec<AssetKey>,
    pub materialized: Vec<AssetKey>,
    pub failed: Vec<FailedStep>,
    pub failing_checks: Vec<FailingCheck>,
    pub error: Option<String>,
}

impl RunAlert {
    pub fn cost_text(&self) -> String {
        match (self.cost_usd, &self.cost_note) {
            (Some(c), _) => format!("${c:.4}"),
            (None, Some(note)) => note.clone(),
            (None, None) => "unknown".to_owned(),
        }
    }
}

/// A step that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedStep {
    pub asset: AssetKey,
    pub reason: String,
}

/// A check that failed in the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailingCheck {
    pub asset: AssetKey,
    pub check: String,
    pub severity: String,
    pub blocking: bool,
    pub description: String,
    pub failing_count: u64,
}

fn push_unique(v: &mut Vec<AssetKey>, k: &AssetKey) {
    if !v.contains(k) {
        v.push(k.clone());
    }
}

/// What the stored record and events of a finished run say.
pub(crate) fn run_alert(ws: &Workspace, run: &RunRecord) -> Result<RunAlert, StoreError> {
    let events = ws.run_events(&run.id)?;
    let mut alert = RunAlert {
        run_id: run.id.clone(),
        status: run.status.as_str().to_owned(),
        trigger: run.trigger.clone(),
        target: run.target.clone(),
        selection: run.selection.clone(),
        partition: run.partition.clone(),
        started_at: run.started_at,
        ended_at: run.ended_at,
        duration_ms: run.duration_ms(),
        cost_usd: None,
        cost_note: None,
        assets: Vec::new(),
        materialized: Vec::new(),
        failed: Vec::new(),
        failing_checks: Vec::new(),
        error: run.error.clone(),
    };
    for e in &events {
        match e {
            RunEvent::RunStarted { plan } => {
                for k in plan {
                    push_unique(&mut alert.assets, k);
                }
            }
            RunEvent::StepStarted { asset, .. } => push_unique(&mut alert.assets, asset),
            RunEvent::StepFinished { asset, outcome, .. } => {
                push_unique(&mut alert.assets, asset);
                let reason = match outcome {
                    StepOutcome::Materialized => {
                        push_unique(&mut alert.materialized, asset);
                        None
                    }
                    StepOutcome::Failed { error } => Some(error.clone()),
                    StepOutcome::Skipped { reason } | StepOutcome::Blocked { reason, .. } => {
                        Some(reason.clone())
                    }
                    StepOutcome::Canceled => Some("canceled".to_owned()),
                    StepOutcome::UpToDate { failing: Some(f) } => Some(f.sentence()),
                    StepOutcome::UpToDate { failing: None } | StepOutcome::Checked { .. } => None,
                };
                if let Some(reason) = reason {
                    alert.failed.push(FailedStep {
                        asset: asset.clone(),
                        reason,
                    });
                }
            }
            RunEvent::CheckEvaluation(c) if !c.passed => alert.failing_checks.push(FailingCheck {
                asset: c.asset.clone(),
                check: c.check_name.clone(),
                severity: c.severity.as_str().to_owned(),
                blocking: c.blocking && c.severity == CheckSeverity::Error,
                description: c.description.clone(),
                failing_count: c.failing_count,
            }),
            _ => {}
        }
    }
    let costs = ws.run_costs(&run.id)?;
    if costs.is_empty() {
        alert.cost_note = Some(if run.target == "local" {
            "none (a local run)".to_owned()
        } else {
            "unknown (no cost recorded)".to_owned()
        });
    } else if let Some(missing) = costs.iter().find(|c| c.actual_cost_usd.is_none()) {
        alert.cost_note = Some(match &missing.missing_price {
            Some(p) => format!("unknown (price `{p}` missing)"),
            None => format!("unknown (step {} has no measured cost)", missing.asset),
        });
    } else {
        alert.cost_usd = Some(costs.iter().filter_map(|c| c.actual_cost_usd).sum());
    }
    Ok(alert)
}

/// The alert events a finished run raises.
fn events_of(run: &RunRecord, alert: &RunAlert) -> Vec<AlertEvent> {
    let mut out = Vec::new();
    match run.status {
        RunStatus::Success => out.push(AlertEvent::RunSuccess(alert.clone())),
        RunStatus::Failure => out.push(AlertEvent::RunFailure(alert.clone())),
        _ => {}
    }
    if alert.failing_checks.iter().any(|c| c.blocking) {
        out.push(AlertEvent::CheckFailure(alert.clone()));
    }
    out
}

/// Raises the alerts of one queued run (claimed first, so no other process sends them too).
fn deliver_claimed(ws: &mut Workspace, run_id: &RunId) -> Result<Vec<Delivery>, AppError> {
    let run = ws.run(run_id)?;
    let project = match ws.load_project(&run.project) {
        Ok(p) => p.project,
        Err(StoreError::NoSuchProject { .. }) => {
            ws.finish_run_alerts(run_id)?;
            return Ok(Vec::new());
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    if !project.alerts.rules.is_empty() {
        let alert = run_alert(ws, &run)?;
        let at = run.ended_at.unwrap_or_else(Utc::now);
        for event in events_of(&run, &alert) {
            out.extend(raise(ws, &project, event, at)?);
        }
    }
    ws.finish_run_alerts(run_id)?;
    Ok(out)
}

/// Raises the alerts of run `run_id` if it is finished and nobody has yet. Called where a run
/// is waited for (a local run, a remote run driven to its end), so the caller can show the
/// deliveries; [`alert_finished_runs`] catches every other run.
pub fn alert_run(ws: &mut Workspace, run_id: &RunId) -> Result<Vec<Delivery>, AppError> {
    if !ws.claim_finished_run(run_id)? {
        return Ok(Vec::new());
    }
    deliver_claimed(ws, run_id)
}

/// [`alert_run`] where a run's end must not fail because of its alerts: a failure to raise them
/// is logged (the run stays queued, and the next sweep tries again).
pub fn alert_run_or_log(ws: &mut Workspace, run_id: &RunId) -> Vec<Delivery> {
    alert_run(ws, run_id).unwrap_or_else(|e| {
        tracing::warn!(run = %run_id, "the run's alerts could not be raised yet: {e}");
        Vec::new()
    })
}

/// Raises the alerts of every finished run of `project` (or of every project) still queued:
/// runs ended by another process, by the liveness sweep, or whose process stopped before
/// alerting. Each automation pass calls it for its project.
pub fn alert_finished_runs(
    ws: &mut Workspace,
    project: Option<&str>,
) -> Result<Vec<Delivery>, AppError> {
    let mut out = Vec::new();
    for id in ws.claim_finished_runs(STALE_CLAIM_SECS, project)? {
        out.extend(deliver_claimed(ws, &RunId::new(id))?);
    }
    Ok(out)
}
