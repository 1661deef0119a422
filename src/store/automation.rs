//! Automation state in the workspace: ticks with their outcome and reason, schedule and sensor
//! cursors, run keys (a request is made once: the key, its run id and the requested tick are
//! written in one transaction before the run starts), the lease that says which process
//! evaluates a project's automation, and the on/off switches set from the studio or the CLI.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::times::{self, stored_opt_time, stored_time};
use super::{RunOwner, StoreError, Workspace, classify};
use crate::model::{AssetKey, AutomationKind, Tick, TickOutcome};

/// A tick about to be written (its id comes from the workspace).
#[derive(Debug, Clone)]
pub struct NewTick<'a> {
    pub project: &'a str,
    pub automation: &'a str,
    pub kind: AutomationKind,
    pub tick_at: DateTime<Utc>,
    pub evaluated_at: DateTime<Utc>,
    pub outcome: TickOutcome,
    pub reason: String,
    pub run_id: Option<String>,
    pub run_key: Option<String>,
    pub holder: &'a str,
}

/// What asking for a run key gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOutcome {
    /// The key was new: it is reserved for this run id, with the requested tick.
    Reserved { tick_id: i64 },
    /// The key was requested before, for this run.
    AlreadyRequested { run_id: String, state: String },
}

/// A run key reserved whose run was never recorded (the process stopped between the two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub automation: String,
    pub run_key: String,
    pub run_id: String,
    pub partition: Option<String>,
    pub tick_id: i64,
}

/// Who evaluates a project's automation, until when (ms since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lease {
    pub holder: String,
    pub expires_ms: i64,
    /// The holder's process (`None` for a lease taken before the workspace recorded it).
    #[serde(skip)]
    pub owner: Option<RunOwner>,
}

/// The lease is held by someone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRefused(pub Lease);

/// A materialization of an upstream asset, with its row id (an `asset_materialized` cursor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamMaterialization {
    pub id: i64,
    pub run_id: String,
    pub partition: Option<String>,
    pub created_at: DateTime<Utc>,
}

const TICK_COLUMNS: &str = "id, project, automation, kind, tick_at, evaluated_at, outcome, reason, run_id, run_key, holder";

fn insert_tick(tx: &rusqlite::Connection, t: &NewTick<'_>) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO automation_ticks (project, automation, kind, tick_at, evaluated_at, outcome,
                                       reason, run_id, run_key, holder)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            t.project,
            t.automation,
            t.kind.as_str(),
            times::text(&t.tick_at),
            times::text(&t.evaluated_at),
            t.outcome.as_str(),
            t.reason,
            t.run_id,
            t.run_key,
            t.holder
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

fn upsert_cursor(
    tx: &rusqlite::Connection,
    project: &str,
    automation: &str,
    cursor: Option<&str>,
    evaluated_at: DateTime<Utc>,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO automation_cursors (project, automation, cursor, evaluated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (project, automation) DO UPDATE
            SET cursor = coalesce(excluded.cursor, cursor), evaluated_at = excluded.evaluated_at",
        params![project, automation, cursor, times::text(&evaluated_at)],
    )?;
    Ok(())
}

/// A tick and the cursor after it (`None` keeps the cursor; the evaluation time is the
/// tick's), inside the caller's transaction; returns the tick's id.
fn insert_tick_and_cursor(
    tx: &rusqlite::Connection,
    tick: &NewTick<'_>,
    cursor: Option<&str>,
) -> rusqlite::Result<i64> {
    let id = insert_tick(tx, tick)?;
    upsert_cursor(tx, tick.project, tick.automation, cursor, tick.evaluated_at)?;
    Ok(id)
}

impl Workspace {
    /// Writes a tick, and (when given) the cursor after it, in one transaction.
    pub fn record_tick(
        &mut self,
        tick: &NewTick<'_>,
        cursor: Option<&str>,
    ) -> Result<i64, StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "record an automation tick", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let id = insert_tick_and_cursor(&tx, tick, cursor).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(id)
    }

    /// Reserves `run_key` for `run_id` with the requested tick and the cursor after it — or,
    /// when the key was requested before, says for which run (and writes nothing).
    pub fn request_run(
        &mut self,
        tick: &NewTick<'_>,
        run_key: &str,
        run_id: &str,
        partition: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<RequestOutcome, StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "request an automation run", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let existing: Option<(String, String)> = tx
            .query_row(
                "SELECT run_id, state FROM automation_run_keys
                 WHERE project = ?1 AND automation = ?2 AND run_key = ?3",
                params![tick.project, tick.automation, run_key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql)?;
        if let Some((run_id, state)) = existing {
            return Ok(RequestOutcome::AlreadyRequested { run_id, state });
        }
        let tick_id = insert_tick_and_cursor(&tx, tick, cursor).map_err(sql)?;
        tx.execute(
            "INSERT INTO automation_run_keys (project, automation, run_key, run_id, partition_key,
                                              tick_id, state, requested_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'reserved', ?7)",
            params![
                tick.project,
                tick.automation,
                run_key,
                run_id,
                partition,
                tick_id,
                times::text(&tick.evaluated_at)
            ],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(RequestOutcome::Reserved { tick_id })
    }

    /// Marks a reserved run key launched (its run is recorded) or failed (it never could be);
    /// a failure also turns its tick into a failed one with the reason.
    pub fn finish_request(&mut self, run_id: &str, error: Option<&str>) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "record an automation request", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let state = if error.is_some() {
            "failed"
        } else {
            "launched"
        };
        tx.execute(
            "UPDATE automation_run_keys SET state = ?2, error = ?3 WHERE run_id = ?1",
            params![run_id, state, error],
        )
        .map_err(sql)?;
        if let Some(error) = error {
            tx.execute(
                "UPDATE automation_ticks SET outcome = 'failed', reason = ?2
                 WHERE id = (SELECT tick_id FROM automation_run_keys WHERE run_id = ?1)",
                params![run_id, format!("failed: the run could not start: {error}")],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// Run keys reserved in a project whose run was never recorded.
    pub fn pending_requests(&self, project: &str) -> Result<Vec<PendingRequest>, StoreError> {
        let sql = |e| classify(&self.path, "read automation requests", e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT k.automation, k.run_key, k.run_id, k.partition_key, k.tick_id
                 FROM automation_run_keys k
                 WHERE k.project = ?1 AND k.state = 'reserved'
                   AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = k.run_id)
                 ORDER BY k.tick_id",
            )
            .map_err(sql)?;
        stmt.query_map([project], |r| {
            Ok(PendingRequest {
                automation: r.get(0)?,
                run_key: r.get(1)?,
                run_id: r.get(2)?,
                partition: r.get(3)?,
                tick_id: r.get(4)?,
            })
        })
        .and_then(Iterator::collect)
        .map_err(sql)
    }

    /// The cursor of a schedule or sensor and when it was last evaluated.
    pub fn automation_cursor(
        &self,
        project: &str,
        automation: &str,
    ) -> Result<(Option<String>, Option<DateTime<Utc>>), StoreError> {
        let (cursor, evaluated_at): (Option<String>, Option<String>) = self
            .conn
            .query_row(
                "SELECT cursor, evaluated_at FROM automation_cursors
                 WHERE project = ?1 AND automation = ?2",
                params![project, automation],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(|e| classify(&self.path, "read an automation cursor", e))?;
        let what =
            || format!("the evaluated_at of the automation_cursors row of {project}/{automation}");
        let evaluated_at = stored_opt_time(&self.path, what, evaluated_at.as_deref())?;
        Ok((cursor, evaluated_at))
    }

    /// Sets a cursor without a tick (a schedule's start).
    pub fn set_automation_cursor(
        &mut self,
        project: &str,
        automation: &str,
        cursor: &str,
        evaluated_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        upsert_cursor(&self.conn, project, automation, Some(cursor), evaluated_at)
            .map_err(|e| classify(&self.path, "write an automation cursor", e))
    }

    /// Deletes the project's ticks evaluated before `before`
    /// that are not among the newest `keep` of their schedule or sensor. The tick of a request
    /// still reserved stays (the next pass starts its run); run keys are never deleted, so
    /// pruning never makes a request repeat. Returns how many ticks went.
    pub fn prune_ticks(
        &mut self,
        project: &str,
        before: DateTime<Utc>,
        keep: usize,
    ) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "DELETE FROM automation_ticks WHERE id IN (
                     SELECT id FROM (
                         SELECT id, evaluated_at, row_number() OVER (
                             PARTITION BY automation ORDER BY id DESC) AS newer
                         FROM automation_ticks WHERE project = ?1)
                     WHERE newer > ?3 AND evaluated_at < ?2)
                 AND id NOT IN (
                     SELECT tick_id FROM automation_run_keys
                     WHERE project = ?1 AND state = 'reserved')",
                params![project, times::text(&before), keep as i64],
            )
            .map_err(|e| classify(&self.path, "prune automation ticks", e))
    }

    /// A project's ticks, newest first; `automation` narrows to one schedule or sensor.
    pub fn ticks(
        &self,
        project: &str,
        automation: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Tick>, StoreError> {
        let sql = |e| classify(&self.path, "read automation ticks", e);
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {TICK_COLUMNS} FROM automation_ticks
                 WHERE project = ?1 AND (?2 IS NULL OR automation = ?2)
                 ORDER BY id DESC LIMIT ?3"
            ))
            .map_err(sql)?;
        let rows: Vec<Result<Tick, StoreError>> = stmt
            .query_map(params![project, automation, limit as i64], |r| {
                tick_from_row(&self.path, r)
            })
            .and_then(Iterator::collect)
            .map_err(sql)?;
        rows.into_iter().collect()
    }

    /// Takes or renews the automation lease of a project for `holder` (process `owner`) until
    /// `now_ms + ttl_ms`, unless another holder's lease has not expired and `gone` does not
    /// say its process has ended.
    pub fn acquire_automation_lease(
        &mut self,
        project: &str,
        holder: &str,
        owner: &RunOwner,
        now_ms: i64,
        ttl_ms: i64,
        gone: &dyn Fn(&RunOwner) -> bool,
    ) -> Result<Result<Lease, LeaseRefused>, StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "take the automation lease", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let current = read_lease(&tx, project).map_err(sql)?;
        if let Some(lease) = current
            && lease.holder != holder
            && lease.expires_ms > now_ms
            && !lease.owner.as_ref().is_some_and(gone)
        {
            return Ok(Err(LeaseRefused(lease)));
        }
        tx.execute(
            "INSERT INTO automation_leases (project, holder, acquired_ms, expires_ms,
                                            owner_host, owner_pid, owner_start)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (project) DO UPDATE SET holder = excluded.holder,
                acquired_ms = CASE WHEN holder = excluded.holder THEN acquired_ms
                                   ELSE excluded.acquired_ms END,
                expires_ms = excluded.expires_ms, owner_host = excluded.owner_host,
                owner_pid = excluded.owner_pid, owner_start = excluded.owner_start",
            params![
                project,
                holder,
                now_ms,
                now_ms + ttl_ms,
                owner.host,
                owner.pid,
                owner.start
            ],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(Ok(Lease {
            holder: holder.to_owned(),
            expires_ms: now_ms + ttl_ms,
            owner: Some(owner.clone()),
        }))
    }

    /// Gives the lease back (only when `holder` holds it).
    pub fn release_automation_lease(
        &mut self,
        project: &str,
        holder: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "DELETE FROM automation_leases WHERE project = ?1 AND holder = ?2",
                params![project, holder],
            )
            .map(|_| ())
            .map_err(|e| classify(&self.path, "release the automation lease", e))
    }

    /// The lease of a project, expired or not.
    pub fn automation_lease(&self, project: &str) -> Result<Option<Lease>, StoreError> {
        read_lease(&self.conn, project)
            .map_err(|e| classify(&self.path, "read the automation lease", e))
    }

    /// Turns a schedule or sensor on or off in this workspace (wins over its `enabled`).
    pub fn set_automation_switch(
        &mut self,
        project: &str,
        automation: &str,
        enabled: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO automation_switches (project, automation, enabled, changed_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (project, automation) DO UPDATE
                    SET enabled = excluded.enabled, changed_at = excluded.changed_at",
                params![project, automation, enabled, times::text(&at)],
            )
            .map(|_| ())
            .map_err(|e| classify(&self.path, "switch an automation on or off", e))
    }

    /// The on/off switches set in this workspace, by name.
    pub fn automation_switches(&self, project: &str) -> Result<BTreeMap<String, bool>, StoreError> {
        let sql = |e| classify(&self.path, "read automation switches", e);
        let mut stmt = self
            .conn
            .prepare("SELECT automation, enabled FROM automation_switches WHERE project = ?1")
            .map_err(sql)?;
        stmt.query_map([project], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(sql)
    }

    /// Materializations of `asset` in `project` with a row id above `after`, oldest first.
    pub fn materializations_after(
        &self,
        project: &str,
        asset: &AssetKey,
        after: i64,
    ) -> Result<Vec<UpstreamMaterialization>, StoreError> {
        let sql = |e| classify(&self.path, "read upstream materializations", e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT m.id, m.run_id, m.partition_key, m.created_at FROM materializations m
                 JOIN runs r ON r.id = m.run_id JOIN projects p ON p.id = r.project_id
                 WHERE p.name = ?1 AND m.asset_key = ?2 AND m.id > ?3 ORDER BY m.id",
            )
            .map_err(sql)?;
        let rows: Vec<(i64, String, Option<String>, String)> = stmt
            .query_map(params![project, asset.as_str(), after], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .and_then(Iterator::collect)
            .map_err(sql)?;
        rows.into_iter()
            .map(|(id, run_id, partition, created_at)| {
                let what = || format!("the created_at of materialization {id} (materializations)");
                Ok(UpstreamMaterialization {
                    created_at: stored_time(&self.path, what, &created_at)?,
                    id,
                    run_id,
                    partition,
                })
            })
            .collect()
    }
}

impl Workspace {
    /// Gives back every automation lease `holder` holds.
    pub fn release_automation_leases_of(&mut self, holder: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM automation_leases WHERE holder = ?1", [holder])
            .map(|_| ())
            .map_err(|e| classify(&self.path, "release automation leases", e))
    }
}

/// A tick row; a bad stored time, kind or outcome is an error naming the tick.
fn tick_from_row(
    path: &std::path::Path,
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<Tick, StoreError>> {
    let id: i64 = r.get(0)?;
    let kind: String = r.get(3)?;
    let tick_at: String = r.get(4)?;
    let evaluated_at: String = r.get(5)?;
    let outcome: String = r.get(6)?;
    let decode = |what: &str, detail: String| StoreError::Decode {
        path: path.to_owned(),
        what: format!("the {what} of tick {id} (automation_ticks)"),
        detail,
    };
    let tick_at = stored_time(
        path,
        || format!("the tick_at of tick {id} (automation_ticks)"),
        &tick_at,
    );
    let evaluated_at = stored_time(
        path,
        || format!("the evaluated_at of tick {id} (automation_ticks)"),
        &evaluated_at,
    );
    let (tick_at, evaluated_at) = match (tick_at, evaluated_at) {
        (Ok(t), Ok(e)) => (t, e),
        (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
    };
    let Some(outcome) = TickOutcome::parse(&outcome) else {
        let detail = format!("`{outcome}` is not requested, skipped or failed");
        return Ok(Err(decode("outcome", detail)));
    };
    Ok(Ok(Tick {
        id,
        project: r.get(1)?,
        automation: r.get(2)?,
        kind: if kind == "sensor" {
            AutomationKind::Sensor
        } else {
            AutomationKind::Schedule
        },
        tick_at,
        evaluated_at,
        outcome,
        reason: r.get(7)?,
        run_id: r.get(8)?,
        run_key: r.get(9)?,
        holder: r.get(10)?,
    }))
}

/// The lease row of `project`, if any (inside a transaction or not).
fn read_lease(conn: &rusqlite::Connection, project: &str) -> rusqlite::Result<Option<Lease>> {
    conn.query_row(
        "SELECT holder, expires_ms, owner_host, owner_pid, owner_start
         FROM automation_leases WHERE project = ?1",
        [project],
        |r| {
            let host: Option<String> = r.get(2)?;
            let pid: Option<u32> = r.get(3)?;
            let start: Option<String> = r.get(4)?;
            Ok(Lease {
                holder: r.get(0)?,
                expires_ms: r.get(1)?,
                owner: pid
                    .zip(start)
                    .map(|(pid, start)| RunOwner { host, pid, start }),
            })
        },
    )
    .optional()
}
