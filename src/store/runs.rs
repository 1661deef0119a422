//! Runs in the workspace: the run record, its events in order, and the materializations and
//! check evaluations they carry — enough to show any past run with no network.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::times::{self, now, stored_opt_time, stored_time};
use super::{RunOnAws, StoreError, Workspace, classify};
use crate::model::{
    AssetCheckResult, AssetKey, AssetMaterialization, CheckRecord, CheckSeverity, RunEvent,
    RunRecord, RunStatus,
};
use crate::model::{RunId, time};

type MaterializationRow = (
    String,
    Option<String>,
    RunId,
    String,
    i64,
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
);
/// The columns of a check evaluation, in this order.
const CHECK_COLUMNS: &str =
    "c.run_id, c.created_at, c.asset_key, c.partition_key, c.check_name, c.passed,
    c.severity, c.blocking, c.description, c.failing_count, c.failing_sample, c.check_hash,
    c.materialization_run_id";

fn check_from_row(
    path: &Path,
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<CheckRecord, StoreError>> {
    let severity: String = r.get(6)?;
    let failing: i64 = r.get(9)?;
    let sample: Option<String> = r.get(10)?;
    let run_id: RunId = r.get(0)?;
    let check_name: String = r.get(4)?;
    let created_at = match stored_time(
        path,
        || format!("the time of check {check_name}'s evaluation in run {run_id}"),
        &r.get::<_, String>(1)?,
    ) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(CheckRecord {
        run_id,
        created_at,
        result: AssetCheckResult {
            asset: AssetKey::new(r.get::<_, String>(2)?),
            partition: r.get(3)?,
            check_name,
            passed: r.get(5)?,
            severity: if severity == "warn" {
                CheckSeverity::Warn
            } else {
                CheckSeverity::Error
            },
            blocking: r.get(7)?,
            description: r.get(8)?,
            failing_count: failing.max(0) as u64,
            failing_sample: sample
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default(),
            check_hash: r.get(11)?,
            materialization_run_id: r.get(12)?,
        },
    }))
}

/// Stored events as read: `(run, timestamp, payload)` rows parsed, or the first that is not.
fn decode_events(
    path: &Path,
    rows: Vec<(RunId, String, String)>,
) -> Result<Vec<(RunId, DateTime<Utc>, RunEvent)>, StoreError> {
    rows.into_iter()
        .map(|(run, at, payload)| {
            let at = stored_time(path, || format!("the time of an event of run {run}"), &at)?;
            serde_json::from_str(&payload)
                .map(|e| (run.clone(), at, e))
                .map_err(|e| decode_err(path, &format!("an event of run {run}"), e))
        })
        .collect()
}

fn decode_err(path: &Path, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Decode {
        path: path.to_owned(),
        what: what.to_owned(),
        detail: e.to_string(),
    }
}

impl Workspace {
    /// Records a new run (status queued) of a stored project.
    pub fn create_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        self.create_run_on(run, None)
    }

    /// [`Self::create_run`] for a run that ran on AWS (one synced from a deployment): the
    /// resource and account are recorded with it, so its audit entries say where it ran.
    pub fn create_aws_run(&mut self, run: &RunRecord, on: &RunOnAws) -> Result<(), StoreError> {
        self.create_run_on(run, Some(on))
    }

    fn create_run_on(&mut self, run: &RunRecord, on: Option<&RunOnAws>) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "create run", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        insert_run(&tx, &path, run, "create run")?;
        if let Some(on) = on {
            super::audit::record_run_on_aws(&tx, &path, run.id.as_str(), on)?;
        }
        super::audit::run_started(&tx, &path, run.id.as_str())?;
        tx.commit().map_err(sql)?;
        Ok(())
    }

    /// Appends events (numbered from `first_seq`) in one transaction, with their
    /// materializations and check evaluations, and keeps the run's status in step. Each event
    /// is stamped with the time it is written; [`Self::append_stamped_run_events`] keeps the
    /// times the events happened.
    pub fn append_run_events(
        &mut self,
        run_id: &RunId,
        first_seq: u64,
        events: &[RunEvent],
    ) -> Result<(), StoreError> {
        let at = time::millis(Utc::now());
        let stamped: Vec<(DateTime<Utc>, &RunEvent)> = events.iter().map(|e| (at, e)).collect();
        self.append_stamped_run_events(run_id, first_seq, &stamped)
    }

    /// Appends events with the times they happened: the run's `started_at` and
    /// `ended_at` come from its `RunStarted` and `RunFinished` events' times, not from when a
    /// batch of events reached the workspace.
    pub fn append_stamped_run_events(
        &mut self,
        run_id: &RunId,
        first_seq: u64,
        events: &[(DateTime<Utc>, &RunEvent)],
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "record run events", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        write_stamped_events(&tx, &path, run_id, first_seq, events)?;
        tx.commit().map_err(sql)?;
        Ok(())
    }

    /// Sets a run's status directly (e.g. a run found unfinished after a crash).
    pub fn set_run_status(
        &mut self,
        run_id: &RunId,
        status: RunStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let ended = status.is_finished().then(now);
        let path = self.path.clone();
        let sql = |e| classify(&path, "update run", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        tx.execute(
            "UPDATE runs SET status = ?2, error = coalesce(?3, error), ended_at = coalesce(?4, ended_at) WHERE id = ?1",
            params![run_id, status.as_str(), error, ended],
        )
        .map_err(sql)?;
        if status.is_finished() {
            super::audit::run_finished(&tx, &path, run_id.as_str())?;
        }
        tx.commit().map_err(sql)
    }

    /// Runs, newest first, of one project or of all.
    pub fn list_runs(
        &self,
        project: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.id, p.name, r.selection, r.partition_key, r.target, r.status, r.trigger, r.created_at,
                        r.started_at, r.ended_at, r.error, r.allow_failed_upstream, r.checks_only, r.end_known
                 FROM runs r JOIN projects p ON p.id = r.project_id
                 WHERE ?1 IS NULL OR p.name = ?1
                 ORDER BY r.created_at DESC, r.id DESC LIMIT ?2",
            )
            .map_err(|e| classify(path, "list runs", e))?;
        let rows = stmt
            .query_map(params![project, limit as i64], |r| run_from_row(path, r))
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| classify(path, "list runs", e))?;
        rows.into_iter().collect()
    }

    pub fn run(&self, id: &RunId) -> Result<RunRecord, StoreError> {
        let path = &self.path;
        self.conn
            .query_row(
                "SELECT r.id, p.name, r.selection, r.partition_key, r.target, r.status, r.trigger, r.created_at,
                        r.started_at, r.ended_at, r.error, r.allow_failed_upstream, r.checks_only, r.end_known
                 FROM runs r JOIN projects p ON p.id = r.project_id WHERE r.id = ?1",
                [id],
                |r| run_from_row(path, r),
            )
            .optional()
            .map_err(|e| classify(path, "load run", e))?
            .ok_or_else(|| StoreError::NoSuchRun { id: id.clone() })?
    }

    /// A run's events in order.
    pub fn run_events(&self, id: &RunId) -> Result<Vec<RunEvent>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT payload FROM run_events WHERE run_id = ?1 ORDER BY seq")
            .map_err(|e| classify(path, "load run events", e))?;
        let payloads: Vec<String> = stmt
            .query_map([id], |r| r.get(0))
            .and_then(Iterator::collect)
            .map_err(|e| classify(path, "load run events", e))?;
        payloads
            .iter()
            .map(|p| {
                serde_json::from_str(p)
                    .map_err(|e| decode_err(path, &format!("an event of run {id}"), e))
            })
            .collect()
    }

    /// A run's events numbered above `after` (every event for `None`), in order, each with its
    /// number: a follower reads only what is new.
    pub fn run_events_after(
        &self,
        id: &RunId,
        after: Option<i64>,
    ) -> Result<Vec<(i64, RunEvent)>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, payload FROM run_events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq",
            )
            .map_err(|e| classify(path, "load run events", e))?;
        let rows: Vec<(i64, String)> = stmt
            .query_map(params![id, after.unwrap_or(i64::MIN)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .and_then(Iterator::collect)
            .map_err(|e| classify(path, "load run events", e))?;
        rows.into_iter()
            .map(|(seq, p)| {
                serde_json::from_str(&p)
                    .map(|e| (seq, e))
                    .map_err(|e| decode_err(path, &format!("an event of run {id}"), e))
            })
            .collect()
    }

    /// The newest materialization of each asset (and partition) of a project.
    pub fn latest_materializations(
        &self,
        project: &str,
    ) -> Result<Vec<AssetMaterialization>, StoreError> {
        self.materializations_where(
            "m.id IN (SELECT max(m2.id) FROM materializations m2 JOIN runs r2 ON r2.id = m2.run_id
                      JOIN projects p2 ON p2.id = r2.project_id WHERE p2.name = ?1
                      GROUP BY m2.asset_key, coalesce(m2.partition_key, ''))",
            project,
        )
    }

    /// Every materialization of one asset, oldest first.
    pub fn asset_materializations(
        &self,
        project: &str,
        asset: &AssetKey,
    ) -> Result<Vec<AssetMaterialization>, StoreError> {
        let mut all = self.materializations_where("p.name = ?1", project)?;
        all.retain(|m| &m.asset == asset);
        Ok(all)
    }

    fn materializations_where(
        &self,
        condition: &str,
        project: &str,
    ) -> Result<Vec<AssetMaterialization>, StoreError> {
        let path = &self.path;
        let sql = format!(
            "SELECT m.asset_key, m.partition_key, m.run_id, m.location, m.row_count, m.byte_count, m.schema,
                    m.definition_hash, m.code_version, m.input_versions, m.data_version, m.created_at
             FROM materializations m JOIN runs r ON r.id = m.run_id JOIN projects p ON p.id = r.project_id
             WHERE {condition} ORDER BY m.id"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(|e| classify(path, "load materializations", e))?;
        let rows: Vec<MaterializationRow> = stmt
            .query_map([project], |r| r.try_into())
            .and_then(Iterator::collect)
            .map_err(|e| classify(path, "load materializations", e))?;
        rows.into_iter()
            .map(
                |(
                    asset,
                    partition,
                    run_id,
                    location,
                    rows,
                    bytes,
                    schema,
                    hash,
                    code,
                    inputs,
                    version,
                    created,
                )| {
                    let created_at = stored_time(
                        path,
                        || format!("the time of the materialization of {asset} in run {run_id}"),
                        &created,
                    )?;
                    Ok(AssetMaterialization {
                        asset: AssetKey::new(asset),
                        partition,
                        run_id,
                        location,
                        row_count: rows.max(0) as u64,
                        byte_count: bytes.max(0) as u64,
                        schema: serde_json::from_str(&schema)
                            .map_err(|e| decode_err(path, "a materialization schema", e))?,
                        definition_hash: hash,
                        code_version: code,
                        input_versions: serde_json::from_str::<BTreeMap<String, String>>(&inputs)
                            .map_err(|e| {
                            decode_err(path, "materialization inputs", e)
                        })?,
                        data_version: version,
                        created_at,
                    })
                },
            )
            .collect()
    }

    /// Check evaluations of one run.
    pub fn run_check_results(&self, run_id: &RunId) -> Result<Vec<AssetCheckResult>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {CHECK_COLUMNS} FROM check_evaluations c WHERE c.run_id = ?1 ORDER BY c.id"
            ))
            .map_err(|e| classify(path, "load check results", e))?;
        let rows: Vec<Result<CheckRecord, StoreError>> = stmt
            .query_map([run_id], |r| check_from_row(path, r))
            .and_then(Iterator::collect)
            .map_err(|e| classify(path, "load check results", e))?;
        rows.into_iter().map(|r| r.map(|r| r.result)).collect()
    }

    /// The latest finished step of each asset of a project (any run but checks-only ones, any
    /// partition): the run
    /// id, when it was recorded, and the `StepFinished` event.
    pub fn latest_step_outcomes(
        &self,
        project: &str,
    ) -> Result<Vec<(RunId, DateTime<Utc>, RunEvent)>, StoreError> {
        self.latest_events_of_kind(project, "step_finished")
    }

    /// Every finished step of `asset` in a project's runs (checks-only runs aside), oldest
    /// first: the run id, when it was recorded, and the `StepFinished` event (with its
    /// partition).
    pub fn asset_step_outcomes(
        &self,
        project: &str,
        asset: &AssetKey,
    ) -> Result<Vec<(RunId, DateTime<Utc>, RunEvent)>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.run_id, e.timestamp, e.payload FROM run_events e
                 JOIN runs r ON r.id = e.run_id JOIN projects p ON p.id = r.project_id
                 WHERE p.name = ?1 AND e.kind = 'step_finished' AND e.asset_key = ?2
                   AND r.checks_only = 0
                 ORDER BY e.rowid",
            )
            .map_err(|e| classify(path, "load step outcomes", e))?;
        let rows: Vec<(RunId, String, String)> = stmt
            .query_map([project, asset.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .and_then(Iterator::collect)
            .map_err(|e| classify(path, "load step outcomes", e))?;
        decode_events(path, rows)
    }

    /// The latest schema drift event of each asset of a project (any run, any partition).
    pub fn latest_schema_drifts(
        &self,
        project: &str,
    ) -> Result<Vec<(RunId, DateTime<Utc>, RunEvent)>, StoreError> {
        self.latest_events_of_kind(project, "schema_drift")
    }

    fn latest_events_of_kind(
        &self,
        project: &str,
        kind: &str,
    ) -> Result<Vec<(RunId, DateTime<Utc>, RunEvent)>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.run_id, e.timestamp, e.payload FROM run_events e
                 WHERE e.rowid IN (
                     SELECT max(e2.rowid) FROM run_events e2
                     JOIN runs r2 ON r2.id = e2.run_id JOIN projects p2 ON p2.id = r2.project_id
                     WHERE p2.name = ?1 AND e2.kind = ?2 AND r2.checks_only = 0
                     GROUP BY e2.asset_key)",
            )
            .map_err(|e| classify(path, "load step outcomes", e))?;
        let rows: Vec<(RunId, String, String)> = stmt
            .query_map([project, kind], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(Iterator::collect)
            .map_err(|e| classify(path, "load step outcomes", e))?;
        decode_events(path, rows)
    }

    /// The latest evaluation of each check of a project on each materialization it judged,
    /// oldest first: what the stored data of each asset passed or failed.
    pub fn latest_check_records(&self, project: &str) -> Result<Vec<CheckRecord>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {CHECK_COLUMNS} FROM check_evaluations c
                 WHERE c.id IN (
                     SELECT max(c2.id) FROM check_evaluations c2
                     JOIN runs r2 ON r2.id = c2.run_id JOIN projects p2 ON p2.id = r2.project_id
                     WHERE p2.name = ?1
                     GROUP BY c2.asset_key, coalesce(c2.partition_key, ''), c2.check_name,
                              coalesce(c2.materialization_run_id, c2.run_id))
                 ORDER BY c.id"
            ))
            .map_err(|e| classify(path, "load check results", e))?;
        let rows: Vec<Result<CheckRecord, StoreError>> = stmt
            .query_map([project], |r| check_from_row(path, r))
            .and_then(Iterator::collect)
            .map_err(|e| classify(path, "load check results", e))?;
        rows.into_iter().collect()
    }
}

fn run_from_row(
    path: &Path,
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<RunRecord, StoreError>> {
    let id: RunId = r.get(0)?;
    let status: String = r.get(5)?;
    let Some(status) = RunStatus::parse(&status) else {
        return Ok(Err(StoreError::Decode {
            path: path.to_owned(),
            what: format!("the status of run {id}"),
            detail: format!("unknown status `{status}`"),
        }));
    };
    let created: String = r.get(7)?;
    let started: Option<String> = r.get(8)?;
    let ended: Option<String> = r.get(9)?;
    let times =
        stored_time(path, || format!("the created_at of run {id}"), &created).and_then(|created| {
            let started = stored_opt_time(
                path,
                || format!("the started_at of run {id}"),
                started.as_deref(),
            )?;
            let ended = stored_opt_time(
                path,
                || format!("the ended_at of run {id}"),
                ended.as_deref(),
            )?;
            Ok((created, started, ended))
        });
    let (created_at, started_at, ended_at) = match times {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(RunRecord {
        id,
        project: r.get(1)?,
        selection: r.get(2)?,
        partition: r.get(3)?,
        target: r.get(4)?,
        status,
        trigger: r.get(6)?,
        created_at,
        started_at,
        ended_at,
        error: r.get(10)?,
        allow_failed_upstream: r.get(11)?,
        checks_only: r.get(12)?,
        end_known: r.get(13)?,
    }))
}

/// Inserts events (numbered from `first_seq`) with their materializations and check
/// evaluations inside an open transaction, keeping the run's status in step; each is stamped
/// with the time it is written.
pub(super) fn write_events(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    run_id: &RunId,
    first_seq: u64,
    events: &[RunEvent],
) -> Result<(), StoreError> {
    let at = time::millis(Utc::now());
    let stamped: Vec<(DateTime<Utc>, &RunEvent)> = events.iter().map(|e| (at, e)).collect();
    write_stamped_events(tx, path, run_id, first_seq, &stamped)
}

/// [`write_events`] with the time each event happened.
pub(super) fn write_stamped_events(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    run_id: &RunId,
    first_seq: u64,
    events: &[(DateTime<Utc>, &RunEvent)],
) -> Result<(), StoreError> {
    let mut writer = EventWriter::prepare(tx, path, run_id)?;
    for (i, &(ts, event)) in events.iter().enumerate() {
        writer.write((first_seq + i as u64) as i64, &times::text(&ts), event)?;
    }
    Ok(())
}

/// Writes one run's events inside an open transaction: the event rows, the materializations
/// and check evaluations they carry, and the run's status as it starts and finishes.
struct EventWriter<'t, 'c> {
    tx: &'t rusqlite::Transaction<'c>,
    path: &'t Path,
    run_id: &'t str,
    insert_event: rusqlite::CachedStatement<'t>,
    insert_mat: rusqlite::CachedStatement<'t>,
    insert_check: rusqlite::CachedStatement<'t>,
}

impl<'t, 'c> EventWriter<'t, 'c> {
    fn prepare(
        tx: &'t rusqlite::Transaction<'c>,
        path: &'t Path,
        run_id: &'t str,
    ) -> Result<Self, StoreError> {
        let sql = |e| classify(path, "record run events", e);
        let insert_event = tx
                .prepare_cached(
                    "INSERT INTO run_events (run_id, seq, timestamp, asset_key, kind, level, message, payload)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(sql)?;
        let insert_mat = tx
                .prepare_cached(
                    "INSERT INTO materializations (run_id, asset_key, partition_key, location, row_count, byte_count, schema,
                        definition_hash, code_version, input_versions, data_version, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(sql)?;
        let insert_check = tx
                .prepare_cached(
                    "INSERT INTO check_evaluations (run_id, asset_key, partition_key, check_name, passed, severity, blocking,
                        description, failing_count, failing_sample, created_at, check_hash, materialization_run_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, coalesce(?13, ?1))",
                )
                .map_err(sql)?;
        Ok(Self {
            tx,
            path,
            run_id,
            insert_event,
            insert_mat,
            insert_check,
        })
    }

    fn sql(&self, e: rusqlite::Error) -> StoreError {
        classify(self.path, "record run events", e)
    }

    /// Stores event number `seq`, which happened at `ts`, and what it records.
    fn write(&mut self, seq: i64, ts: &str, event: &RunEvent) -> Result<(), StoreError> {
        let level = match event {
            RunEvent::Log { level, .. } => Some(level.as_str()),
            _ => None,
        };
        let payload =
            serde_json::to_string(event).map_err(|e| decode_err(self.path, "run event", e))?;
        let inserted = self.insert_event.execute(params![
            self.run_id,
            seq,
            ts,
            event.asset().map(AssetKey::as_str),
            event.kind(),
            level,
            event.summary(),
            payload
        ]);
        inserted.map_err(|e| self.sql(e))?;
        let recorded = match event {
            RunEvent::Materialization(m) => self.insert_mat.execute(params![
                self.run_id,
                m.asset.as_str(),
                m.partition,
                m.location,
                m.row_count as i64,
                m.byte_count as i64,
                serde_json::to_string(&m.schema).unwrap_or_default(),
                m.definition_hash,
                m.code_version,
                serde_json::to_string(&m.input_versions).unwrap_or_default(),
                m.data_version,
                times::text(&m.created_at)
            ]),
            RunEvent::CheckEvaluation(c) => self.insert_check.execute(params![
                self.run_id,
                c.asset.as_str(),
                c.partition,
                c.check_name,
                c.passed,
                c.severity.as_str(),
                c.blocking,
                c.description,
                c.failing_count as i64,
                serde_json::to_string(&c.failing_sample).unwrap_or_default(),
                ts,
                c.check_hash,
                c.materialization_run_id
            ]),
            RunEvent::RunStarted { .. } => self.tx.execute(
                "UPDATE runs SET status = 'started', started_at = ?2 WHERE id = ?1",
                params![self.run_id, ts],
            ),
            RunEvent::RunFinished { status, error } => self.tx.execute(
                "UPDATE runs SET status = ?2, ended_at = ?3, error = ?4 WHERE id = ?1",
                params![self.run_id, status.as_str(), ts, error],
            ),
            _ => Ok(0),
        };
        recorded.map_err(|e| self.sql(e))?;
        if matches!(event, RunEvent::RunFinished { .. }) {
            super::audit::run_finished(self.tx, self.path, self.run_id)?;
        }
        Ok(())
    }
}

/// Inserts a new run's row (of a stored project), in the caller's transaction.
pub(super) fn insert_run(
    tx: &rusqlite::Transaction<'_>,
    path: &std::path::Path,
    run: &RunRecord,
    doing: &'static str,
) -> Result<(), StoreError> {
    let sql = |e| classify(path, doing, e);
    let project_id: Option<i64> = tx
        .query_row(
            "SELECT id FROM projects WHERE name = ?1",
            [&run.project],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql)?;
    let project_id = project_id.ok_or_else(|| StoreError::NoSuchProject {
        name: run.project.clone(),
    })?;
    tx.execute(
        "INSERT INTO runs (id, project_id, selection, partition_key, target, status, trigger, created_at, started_at, ended_at, error,
            allow_failed_upstream, checks_only, end_known)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            run.id,
            project_id,
            run.selection,
            run.partition,
            run.target,
            run.status.as_str(),
            run.trigger,
            times::text(&run.created_at),
            run.started_at.as_ref().map(times::text),
            run.ended_at.as_ref().map(times::text),
            run.error,
            run.allow_failed_upstream,
            run.checks_only,
            run.end_known
        ],
    )
    .map_err(sql)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::synthetic;

    #[test]
    fn a_stored_time_is_read_back_as_written_and_a_bad_one_names_its_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("w.sqlite")).unwrap();
        ws.save_project(&synthetic::generate("gen", 3, 1), None)
            .unwrap();
        let created = time::parse("2026-11-26T00:00:00.250Z").unwrap();
        ws.create_run(&RunRecord {
            id: "r1".into(),
            project: "gen".into(),
            selection: "*".into(),
            partition: None,
            target: "local".into(),
            status: RunStatus::Queued,
            trigger: "test".into(),
            created_at: created,
            started_at: None,
            ended_at: None,
            error: None,
            allow_failed_upstream: false,
            checks_only: false,
            end_known: true,
        })
        .unwrap();
        let run = ws.run(&"r1".into()).unwrap();
        assert_eq!(run.created_at, created);
        let json = serde_json::to_value(&run).unwrap();
        assert_eq!(json["created_at"], "2026-11-26T00:00:00.250Z");
        assert_eq!(json["started_at"], serde_json::Value::Null);

        ws.conn
            .execute("UPDATE runs SET started_at = 'noon' WHERE id = 'r1'", [])
            .unwrap();
        let error = ws.run(&"r1".into()).unwrap_err().to_string();
        assert!(
            error.contains("the started_at of run r1") && error.contains("`noon`"),
            "{error}"
        );
        let listed = ws.list_runs(None, 10).unwrap_err().to_string();
        assert!(listed.contains("the started_at of run r1"), "{listed}");
    }
}
