//! Retention of run history: the project's `[retention]` rules (`model::retention`) applied to
//! its runs, after every local run and by `medallion gc`; each run deleted is recorded in the
//! audit log in the same transaction (`store::history`).

use chrono::{DateTime, Utc};

use super::AppError;
use crate::model::retention::expired_runs;
use crate::model::{RunExpiry, RunRetention};
use crate::store::Workspace;

/// What a pass of run-history retention deleted (or, for a dry run, would delete).
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryReport {
    pub policy: RunRetention,
    pub dry_run: bool,
    /// Runs whose rows went, oldest last, each with why.
    pub deleted: Vec<RunExpiry>,
    /// Runs that something kept needs (never deleted, whatever their age).
    pub kept_needed: usize,
}

/// Applies `policy` to the runs of `project` at `now`. A run that is unfinished or needed by a
/// kept materialization, the newest result of a check or an alert not yet sent always stays.
pub fn expire_run_history(
    ws: &mut Workspace,
    project: &str,
    policy: &RunRetention,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<HistoryReport, AppError> {
    let facts = ws.run_history_facts(project)?;
    let expired = expired_runs(policy, &facts, now);
    let kept_needed = facts.iter().filter(|f| f.needed_by.is_some()).count();
    let deleted = if dry_run || expired.is_empty() {
        expired
    } else {
        ws.delete_run_history(project, &expired)?
    };
    Ok(HistoryReport {
        policy: *policy,
        dry_run,
        deleted,
        kept_needed,
    })
}

/// After runs: history retention that never fails a run (a failure is logged).
pub fn expire_quietly(ws: &mut Workspace, project: &str, policy: &RunRetention) {
    match expire_run_history(ws, project, policy, false, Utc::now()) {
        Ok(r) if !r.deleted.is_empty() => tracing::info!(
            project = %project,
            runs = r.deleted.len(),
            "deleted old run history"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(project = %project, "deleting old run history failed: {e}"),
    }
}
