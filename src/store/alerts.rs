//! Alerts in the workspace: the project's targets and rules, every alert raised with every
//! delivery attempt and its answer, the freshness episodes already alerted, and the queue of
//! finished runs (filled by the `runs_finished_to_alert_outbox` trigger of migration 9, so a
//! run that ends by any path is considered once).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

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
    pub raised_at: &'a str,
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
    pub attempted_at: &'a str,
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
    pub raised_at: String,
    pub rule: String,
    pub target: String,
    pub target_kind: String,
    pub attempt: u32,
    pub attempted_at: String,
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

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

const ATTEMPT_COLUMNS: &str =
    "e.id, e.project, e.kind, e.subject, e.summary, e.raised_at, d.rule, d.target,
    d.target_kind, d.attempt, d.attempted_at, d.ok, d.final, d.answer";

fn attempt_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AttemptRecord> {
    Ok(AttemptRecord {
        event_id: r.get(0)?,
        project: r.get(1)?,
        event: r.get(2)?,
        subject: r.get(3)?,
        summary: r.get(4)?,
        raised_at: r.get(5)?,
        rule: r.get(6)?,
        target: r.get(7)?,
        target_kind: r.get(8)?,
        attempt: r.get(9)?,
        attempted_at: r.get(10)?,
        ok: r.get(11)?,
        last: r.get(12)?,
        answer: r.get(13)?,
    })
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
                    e.raised_at
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
                    a.attempted_at,
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
        stmt.query_map(
            params![project, i64::try_from(limit).unwrap_or(i64::MAX)],
            attempt_from_row,
        )
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(err)
    }

    /// Every materialization of a project as (asset, created at, run id), oldest first: what
    /// freshness is judged from.
    pub fn materialization_times(
        &self,
        project: &str,
    ) -> Result<Vec<(AssetKey, String, String)>, StoreError> {
        let err = |e| classify(&self.path, "list materialization times", e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT m.asset_key, m.created_at, m.run_id FROM materializations m
                 JOIN runs r ON r.id = m.run_id JOIN projects p ON p.id = r.project_id
                 WHERE p.name = ?1 ORDER BY m.id",
            )
            .map_err(err)?;
        stmt.query_map([project], |r| {
            Ok((AssetKey::new(r.get::<_, String>(0)?), r.get(1)?, r.get(2)?))
        })
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(err)
    }

    /// Claims the overdue episode of an asset whose last materialization is `materialized_at`
    /// (`""`: none): true the first time only, so each episode is alerted once, whoever asks.
    pub fn claim_freshness_episode(
        &mut self,
        project: &str,
        asset: &str,
        materialized_at: &str,
        overdue_since: &str,
    ) -> Result<bool, StoreError> {
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
        let stale = (chrono::Utc::now() - chrono::Duration::seconds(stale_secs))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
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
