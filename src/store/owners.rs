//! Who runs a run: the process that owns it (its id, start time and where that id means
//! something), a heartbeat, and ending a run whose process is gone — so no run stays queued or
//! started forever after a kill, an out-of-memory kill or a crash. Deciding whether a process
//! is alive is `app`'s; this module keeps the facts and writes the ending in one transaction.

use rusqlite::{OptionalExtension, params};

use chrono::{DateTime, Utc};

use super::runs::write_stamped_events;
use super::times::{self, now, stored_time};
use super::{StoreError, Workspace, classify};
use crate::model::RunEvent;
use crate::model::RunId;

/// The process running a run, recorded with the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOwner {
    /// Where `pid` can be looked up (on Linux the boot id and PID namespace); `None` when
    /// another process cannot look it up, and only the heartbeat tells.
    pub host: Option<String>,
    pub pid: u32,
    /// The process's start time (on Linux `/proc/<pid>/stat` field 22), or a token unique to
    /// the process where the start time cannot be read.
    pub start: String,
}

/// A run not finished yet, with what tells whether its process still goes.
#[derive(Debug, Clone, PartialEq)]
pub struct UnfinishedRun {
    pub id: RunId,
    pub project: String,
    /// A remote run (its steps live in `remote_steps`).
    pub remote: bool,
    /// A remote run with a step past `pending`: something may be running on AWS, so the
    /// remote driver's lease and reattach decide, never its process.
    pub remote_progress: bool,
    pub owner: Option<RunOwner>,
    /// Times that show the run alive: created, started, last heartbeat, last event, a remote
    /// lease's end. The latest of them is the last sign of life.
    pub signs_of_life: Vec<DateTime<Utc>>,
}

const UNFINISHED: &str = "('queued', 'starting', 'started', 'canceling')";

type UnfinishedRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
    bool,
);

impl Workspace {
    /// Records which process runs `run_id` (and counts as its first heartbeat).
    pub fn set_run_owner(&mut self, run_id: &RunId, owner: &RunOwner) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET owner_host = ?2, owner_pid = ?3, owner_start = ?4, heartbeat_at = ?5
                 WHERE id = ?1",
                params![run_id, owner.host, owner.pid, owner.start, now()],
            )
            .map_err(|e| classify(&self.path, "record the run's process", e))?;
        Ok(())
    }

    /// Says the run's process is still at work.
    pub fn heartbeat_run(&mut self, run_id: &RunId) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET heartbeat_at = ?2 WHERE id = ?1",
                params![run_id, now()],
            )
            .map_err(|e| classify(&self.path, "record a run heartbeat", e))?;
        Ok(())
    }

    /// Every run not finished yet, oldest first, with its owner and signs of life.
    pub fn unfinished_runs(&self) -> Result<Vec<UnfinishedRun>, StoreError> {
        let path = &self.path;
        let sql = format!(
            "SELECT r.id, p.name, r.created_at, r.started_at, r.heartbeat_at,
                    r.owner_host, r.owner_pid, r.owner_start,
                    (SELECT max(e.timestamp) FROM run_events e WHERE e.run_id = r.id),
                    rr.run_id IS NOT NULL, rr.lease_until,
                    EXISTS (SELECT 1 FROM remote_steps s WHERE s.run_id = r.id AND s.status <> 'pending')
             FROM runs r JOIN projects p ON p.id = r.project_id
             LEFT JOIN remote_runs rr ON rr.run_id = r.id
             WHERE r.status IN {UNFINISHED}
             ORDER BY r.created_at, r.id"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| classify(path, "list unfinished runs", e))?;
        let rows: Vec<UnfinishedRow> = stmt
            .query_map([], |r| r.try_into())
            .and_then(Iterator::collect)
            .map_err(|e| classify(path, "list unfinished runs", e))?;
        rows.into_iter()
            .map(
                |(
                    id,
                    project,
                    created,
                    started,
                    heartbeat,
                    host,
                    pid,
                    start,
                    last_event,
                    remote,
                    lease,
                    progress,
                )| {
                    let owner = match (pid.and_then(|p| u32::try_from(p).ok()), start) {
                        (Some(pid), Some(start)) => Some(RunOwner { host, pid, start }),
                        _ => None,
                    };
                    let id: RunId = id.into();
                    let signs_of_life = [
                        ("created_at", Some(created)),
                        ("started_at", started),
                        ("heartbeat_at", heartbeat),
                        ("last event's time", last_event),
                        ("lease_until", lease),
                    ]
                    .into_iter()
                    .filter_map(|(what, text)| {
                        text.map(|t| stored_time(path, || format!("the {what} of run {id}"), &t))
                    })
                    .collect::<Result<_, _>>()?;
                    Ok(UnfinishedRun {
                        id,
                        project,
                        remote,
                        remote_progress: progress,
                        owner,
                        signs_of_life,
                    })
                },
            )
            .collect()
    }

    /// A run's events in order, each with the time it was stamped.
    pub fn run_events_stamped(
        &self,
        run_id: &RunId,
    ) -> Result<Vec<(DateTime<Utc>, RunEvent)>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT timestamp, payload FROM run_events WHERE run_id = ?1 ORDER BY seq",
            )
            .map_err(|e| classify(path, "load run events", e))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(|e| classify(path, "load run events", e))?;
        rows.into_iter()
            .map(|(at, payload)| {
                let at = stored_time(
                    path,
                    || format!("the time of an event of run {run_id}"),
                    &at,
                )?;
                serde_json::from_str(&payload)
                    .map(|e| (at, e))
                    .map_err(|e| StoreError::Decode {
                        path: path.clone(),
                        what: format!("an event of run {run_id}"),
                        detail: e.to_string(),
                    })
            })
            .collect()
    }

    /// Ends a run whose process is gone, in one transaction: appends `events` (stamped
    /// `ended_at`, numbered after the run's last; they should end with its `RunFinished`) and
    /// sets the run failed with `error`. A remote run's pending steps are marked skipped. Does
    /// nothing — and returns false — when the run has finished meanwhile, or when a remote
    /// run has a step past pending (its driver's reattach decides then).
    pub fn end_dead_run(
        &mut self,
        run_id: &RunId,
        events: &[RunEvent],
        error: &str,
        ended_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let ended_at_text = times::text(&ended_at);
        let path = self.path.clone();
        let sql = |e| classify(&path, "end a run whose process is gone", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let unfinished: Option<bool> = tx
            .query_row(
                &format!("SELECT status IN {UNFINISHED} FROM runs WHERE id = ?1"),
                [run_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        if unfinished != Some(true) {
            return Ok(false);
        }
        let remote_next: Option<i64> = tx
            .query_row(
                "SELECT next_seq FROM remote_runs WHERE run_id = ?1",
                [run_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        let first = match remote_next {
            Some(next) => {
                let progress: bool = tx
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM remote_steps WHERE run_id = ?1 AND status <> 'pending')",
                        [run_id],
                        |r| r.get(0),
                    )
                    .map_err(sql)?;
                if progress {
                    return Ok(false);
                }
                next
            }
            None => tx
                .query_row(
                    "SELECT coalesce(max(seq) + 1, 0) FROM run_events WHERE run_id = ?1",
                    [run_id],
                    |r| r.get(0),
                )
                .map_err(sql)?,
        };
        let first = u64::try_from(first).unwrap_or(0);
        let stamped: Vec<(DateTime<Utc>, &RunEvent)> =
            events.iter().map(|e| (ended_at, e)).collect();
        write_stamped_events(&tx, &path, run_id, first, &stamped)?;
        if remote_next.is_some() {
            tx.execute(
                "UPDATE remote_runs SET finished = 1, driver = NULL, lease_until = NULL, next_seq = ?2
                 WHERE run_id = ?1",
                params![run_id, (first + events.len() as u64) as i64],
            )
            .map_err(sql)?;
            tx.execute(
                "UPDATE remote_steps SET status = 'skipped', error = ?2, ended_at = ?3
                 WHERE run_id = ?1 AND status = 'pending'",
                params![run_id, error, ended_at_text],
            )
            .map_err(sql)?;
        }
        tx.execute(
            "UPDATE runs SET status = 'failure', error = ?2, ended_at = ?3, end_known = 0 WHERE id = ?1",
            params![run_id, error, ended_at_text],
        )
        .map_err(sql)?;
        super::audit::run_finished(&tx, &path, run_id.as_str())?;
        tx.commit().map_err(sql)?;
        Ok(true)
    }
}
