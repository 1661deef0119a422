//! Alerts in the workspace: the project's targets and rules, every alert raised with every
//! delivery attempt and its answer, the freshness episodes already alerted, and the queue of
//! finished runs (filled by the `runs_finished_to_alert_outbox` trigger of migration 9, so a
//! run that ends by any path is considered once).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use chrono::{DateTime, Utc};

use super::times::{self, now, stored_time};
use super::{StoreError, Workspace, classify, decode};
use crate::model::{AlertSettings, AssetKey, Project};

/// An alert about to be stored ([`crate::model::AlertEventKind`] names its kind).
#[derive(Debug, Clone)]
pub struct NewAlertEvent<'a> {
    pub project: &'a str,
    /// An event kind's name, or `test`.
    pub kind: &'a str,
    /// What it is about: a run id, an asset key, a sensor name, or `test`.
    pub subject: &'a str,
    pub summary: &'a str,
    /// The event as JSON.
    pub payload: &'a str,
    pub raised_at: DateTime<Utc>,
}

/// One delivery attempt about to be stored.
#[derive(Debug, Clone)]
pub struct NewAttempt<'a> {
    pub event_id: i64,
    pub rule: &'a str,
    pub target: &'a str,
    pub target_kind: &'a str,
    /// 1 for the first try.
    pub attempt: u32,
    pub attempted_at: DateTime<Utc>,
    pub ok: bool,
    /// No attempt follows this one (delivered, or given up).
    pub last: bool,
    /// What the target answered ("HTTP 200", "HTTP 500: …", "connection refused …").
    pub answer: &'a str,
}

/// A stored delivery attempt with its alert.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttemptRecord {
    pub event_id: i64,
    pub project: String,
    pub event: String,
    pub subject: String,
    pub summary: String,
    #[serde(with = "crate::model::time")]
    pub raised_at: DateTime<Utc>,
    pub rule: String,
    pub target: String,
    pub target_kind: String,
    pub attempt: u32,
    #[serde(with = "crate::model::time")]
    pub attempted_at: DateTime<Utc>,
    pub ok: bool,
    /// The last attempt of its delivery: with `ok` false, a final failure.
    pub last: bool,
    pub answer: String,
}

impl AttemptRecord {
    pub fn is_final_failure(&self) -> bool {
        self.last && !self.ok
    }
}

/// The schema version that added the alert tables (migration 9).
const ALERTS_MIGRATION: i64 = 9;

const ATTEMPT_COLUMNS: &str =
    "e.id, e.project, e.kind, e.subject, e.summary, e.raised_at, d.rule, d.target,
    d.target_kind, d.attempt, d.attempted_at, d.ok, d.final, d.answer";

/// A delivery attempt row; a bad stored time is an error naming the alert and attempt.
fn attempt_from_row(
    path: &Path,
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<AttemptRecord, StoreError>> {
    let event_id: i64 = r.get(0)?;
    let attempt: u32 = r.get(9)?;
    let raised: String = r.get(5)?;
    let attempted: String = r.get(10)?;
    let what = |column: &str| {
        format!(
            "the {column} of alert {event_id} attempt {attempt} (alert_events/alert_deliveries)"
        )
    };
    let raised_at = match stored_time(path, || what("raised_at"), &raised) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let attempted_at = match stored_time(path, || what("attempted_at"), &attempted) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(AttemptRecord {
        event_id,
        project: r.get(1)?,
        event: r.get(2)?,
        subject: r.get(3)?,
        summary: r.get(4)?,
        raised_at,
        rule: r.get(6)?,
        target: r.get(7)?,
        target_kind: r.get(8)?,
        attempt,
        attempted_at,
        ok: r.get(11)?,
        last: r.get(12)?,
        answer: r.get(13)?,
    }))
}

/// Writes a project's alert settings (inside the save's transaction).
pub(super) fn write_alert_settings(
    tx: &Connection,
    path: &Path,
    project_id: i64,
    project: &Project,
) -> Result<(), StoreError> {
    // A workspace held at an older schema (tests of the migrations) has no `alerts` column;
    // a project without alerts has nothing to write there.
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| classify(path, "save alert settings", e))?;
    if version < ALERTS_MIGRATION && project.alerts.is_empty() {
        return Ok(());
    }
    let text = serde_json::to_string(&project.alerts).map_err(|e| StoreError::Decode {
        path: path.to_owned(),
        what: format!("alert settings of project {}", project.name),
        detail: e.to_string(),
    })?;
    tx.execute(
        "UPDATE projects SET alerts = ?2 WHERE id = ?1",
        params![project_id, text],
    )
    .map_err(|e| classify(path, "save alert settings", e))?;
    Ok(())
}

/// Reads a project's alert settings.
pub(super) fn read_alert_settings(
    conn: &Connection,
    path: &Path,
    project_id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    let text: String = conn
        .query_row(
            "SELECT alerts FROM projects WHERE id = ?1",
            [project_id],
            |r| r.get(0),
        )
        .map_err(|e| classify(path, "load alert settings", e))?;
    project.alerts = decode::<AlertSettings>(
        path,
        || format!("alert settings of project {}", project.name),
        &text,
    )?;
    Ok(())
}

impl Workspace {
    /// Stores an alert raised; its id numbers the delivery attempts.
    pub fn record_alert_event(&mut self, e: &NewAlertEvent<'_>) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO alert_events (project, kind, subject, summary, payload, raised_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    e.project,
                    e.kind,
                    e.subject,
                    e.summary,
                    e.payload,
                    times::text(&e.raised_at)
                ],
            )
            .map_err(|err| classify(&self.path, "record an alert", err))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Stores one delivery attempt.
    pub fn record_delivery_attempt(&mut self, a: &NewAttempt<'_>) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO alert_deliveries (event_id, rule, target, target_kind, attempt, attempted_at, ok, final, answer)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    a.event_id,
                    a.rule,
                    a.target,
                    a.target_kind,
                    a.attempt,
                    times::text(&a.attempted_at),
                    a.ok,
                    a.last,
                    a.answer
                ],
            )
            .map_err(|e| classify(&self.path, "record a delivery attempt", e))?;
        Ok(())
    }

    /// Delivery attempts of a project (or of all), newest first.
    pub fn alert_attempts(
        &self,
        project: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        self.attempts_where("?1 IS NULL OR e.project = ?1", project, limit)
    }

    /// Deliveries that finally failed, newest first.
    pub fn failed_deliveries(
        &self,
        project: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        self.attempts_where(
            "(?1 IS NULL OR e.project = ?1) AND d.final = 1 AND d.ok = 0",
            project,
            limit,
        )
    }

    fn attempts_where(
        &self,
        condition: &str,
        project: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS} FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id
             WHERE {condition} ORDER BY d.id DESC LIMIT ?2"
        );
        let err = |e| classify(&self.path, "list alert deliveries", e);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err)?;
        let rows: Vec<Result<AttemptRecord, StoreError>> = stmt
            .query_map(
                params![project, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| attempt_from_row(&self.path, r),
            )
            .and_then(Iterator::collect)
            .map_err(err)?;
        rows.into_iter().collect()
    }

    /// Every materialization of a project as (asset, created at, run id), oldest first: what
    /// freshness is judged from.
    pub fn materialization_times(
        &self,
        project: &str,
    ) -> Result<Vec<(AssetKey, DateTime<Utc>, String)>, StoreError> {
        let err = |e| classify(&self.path, "list materialization times", e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT m.asset_key, m.created_at, m.run_id FROM materializations m
                 JOIN runs r ON r.id = m.run_id JOIN projects p ON p.id = r.project_id
                 WHERE p.name = ?1 ORDER BY m.id",
            )
            .map_err(err)?;
        let rows: Vec<(AssetKey, String, String)> = stmt
            .query_map([project], |r| {
                Ok((AssetKey::new(r.get::<_, String>(0)?), r.get(1)?, r.get(2)?))
            })
            .and_then(Iterator::collect)
            .map_err(err)?;
        rows.into_iter()
            .map(|(asset, at, run)| {
                let what = || {
                    format!(
                        "the created_at of materialization {asset} of run {run} (materializations)"
                    )
                };
                Ok((asset.clone(), stored_time(&self.path, what, &at)?, run))
            })
            .collect()
    }

    /// Claims the overdue episode of an asset whose last materialization is `materialized_at`
    /// (`None`: none): true the first time only, so each episode is alerted once, whoever asks.
    pub fn claim_freshness_episode(
        &mut self,
        project: &str,
        asset: &str,
        materialized_at: Option<DateTime<Utc>>,
        overdue_since: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        // The episode's key column holds `""` for an asset never materialized.
        let materialized_at = materialized_at
            .as_ref()
            .map(times::text)
            .unwrap_or_default();
        let overdue_since = overdue_since.as_ref().map(times::text).unwrap_or_default();
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO freshness_alerts (project, asset_key, materialized_at, overdue_since, alerted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![project, asset, materialized_at, overdue_since, now()],
            )
            .map_err(|e| classify(&self.path, "record a freshness alert", e))?;
        Ok(n == 1)
    }

    /// Claims finished runs not yet considered for alerts (and claims left by a process that
    /// stopped more than `stale_secs` ago), of `project` or of every project: the run ids,
    /// oldest first.
    pub fn claim_finished_runs(
        &mut self,
        stale_secs: i64,
        project: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, "claim finished runs for alerts", e);
        let at = now();
        let stale = times::text(&(chrono::Utc::now() - chrono::Duration::seconds(stale_secs)));
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let ids: Vec<String> = {
            let mut stmt = tx
                .prepare(
                    "SELECT run_id FROM alert_run_outbox
                     WHERE done_at IS NULL AND (claimed_at IS NULL OR claimed_at < ?1)
                       AND (?2 IS NULL OR run_id IN (
                            SELECT r.id FROM runs r JOIN projects p ON p.id = r.project_id
                            WHERE p.name = ?2))
                     ORDER BY queued_at, run_id",
                )
                .map_err(err)?;
            stmt.query_map(params![stale, project], |r| r.get(0))
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(err)?
        };
        for id in &ids {
            tx.execute(
                "UPDATE alert_run_outbox SET claimed_at = ?2 WHERE run_id = ?1",
                params![id, at],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(ids)
    }

    /// Claims one finished run for its alerts: false when it is not queued, handled already,
    /// or claimed by another process.
    pub fn claim_finished_run(&mut self, run_id: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE alert_run_outbox SET claimed_at = ?2
                 WHERE run_id = ?1 AND done_at IS NULL AND claimed_at IS NULL",
                params![run_id, now()],
            )
            .map_err(|e| classify(&self.path, "claim a finished run for alerts", e))?;
        Ok(n == 1)
    }

    /// Marks a finished run's alerts as handled.
    pub fn finish_run_alerts(&mut self, run_id: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE alert_run_outbox SET done_at = ?2 WHERE run_id = ?1",
                params![run_id, now()],
            )
            .map_err(|e| classify(&self.path, "mark run alerts handled", e))?;
        Ok(())
    }

    /// Whether a finished run waits in the alert queue (tests and diagnostics).
    pub fn run_alerts_pending(&self, run_id: &str) -> Result<Option<bool>, StoreError> {
        self.conn
            .query_row(
                "SELECT done_at IS NULL FROM alert_run_outbox WHERE run_id = ?1",
                [run_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| classify(&self.path, "read the alert queue", e))
    }
}
