//! Remote runs in the workspace: their steps with every remote identifier (stored the moment it
//! is known), log positions per child, measured duration and size (for the actual cost), and a
//! lease so one process at a time drives a run. Events arriving from a remote step are stored
//! together with the log position they were read up to, in one transaction — so resuming after
//! a crash neither loses nor repeats an event.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::runs::write_events;
use super::times::{self, now, stored_opt_time};
use super::{StoreError, Workspace, classify};
use crate::model::RunId;
use crate::model::{AssetKey, ComputeTier, RunEvent, RunRecord, RunStatus};

/// Where a step of a remote run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    /// About to be submitted: after a crash here, the platform is asked whether it has it.
    Submitting,
    Submitted,
    Success,
    Failure,
    Canceled,
    Skipped,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Submitting => "submitting",
            StepStatus::Submitted => "submitted",
            StepStatus::Success => "success",
            StepStatus::Failure => "failure",
            StepStatus::Canceled => "canceled",
            StepStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            StepStatus::Pending,
            StepStatus::Submitting,
            StepStatus::Submitted,
            StepStatus::Success,
            StepStatus::Failure,
            StepStatus::Canceled,
            StepStatus::Skipped,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            StepStatus::Success | StepStatus::Failure | StepStatus::Canceled | StepStatus::Skipped
        )
    }
}

/// A remote run's own row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RemoteRunRow {
    pub run_id: RunId,
    pub aws_resource: String,
    /// The submit request as JSON (selection, partitions, force, tier).
    pub request: String,
    pub finished: bool,
    pub cancel_requested: bool,
    pub next_seq: u64,
}

/// One step of a remote run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RemoteStepRow {
    pub position: u32,
    pub step_id: String,
    pub tier: ComputeTier,
    pub tier_reason: String,
    pub assets: Vec<AssetKey>,
    pub partitions: Vec<String>,
    pub vcpu: f64,
    pub memory_mb: u32,
    pub spot: bool,
    pub timeout_secs: Option<u32>,
    pub status: StepStatus,
    pub remote_id: Option<String>,
    pub plan_uri: Option<String>,
    pub result_uri: Option<String>,
    pub remote_status: Option<String>,
    pub exit_code: Option<i32>,
    pub stop_reason: Option<String>,
    #[serde(with = "crate::model::time::option")]
    pub submitted_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::model::time::option")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Wall-clock seconds the runner(s) worked (the longest child of an array).
    pub duration_secs: Option<f64>,
    pub error: Option<String>,
}

/// How far the logs of one child of a step have been read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChildLog {
    pub log_position: Option<String>,
    /// The runner's next event `seq` not yet stored.
    pub next_event: u64,
    pub done: bool,
}

type StepTuple = (
    u32,
    String,
    String,
    String,
    String,
    String,
    f64,
    u32,
    bool,
    Option<u32>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<f64>,
    Option<String>,
);

impl Workspace {
    /// Records a new remote run with its planned steps, in one transaction.
    pub fn create_remote_run(
        &mut self,
        run: &RunRecord,
        on: &super::RunOnAws,
        request: &str,
        steps: &[RemoteStepRow],
        estimates: &[super::costs::StepCostRecord],
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "create remote run", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        super::runs::insert_run(&tx, &path, run, "create remote run")?;
        tx.execute(
            "INSERT INTO remote_runs (run_id, aws_resource, request) VALUES (?1, ?2, ?3)",
            params![run.id, on.resource, request],
        )
        .map_err(sql)?;
        super::audit::record_run_on_aws(&tx, &path, run.id.as_str(), on)?;
        for s in steps {
            tx.execute(
                "INSERT INTO remote_steps (run_id, position, step_id, tier, tier_reason, assets, partitions, vcpu,
                    memory_mb, spot, timeout_secs, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    run.id,
                    s.position,
                    s.step_id,
                    s.tier.as_str(),
                    s.tier_reason,
                    serde_json::to_string(&s.assets).unwrap_or_default(),
                    serde_json::to_string(&s.partitions).unwrap_or_default(),
                    s.vcpu,
                    s.memory_mb,
                    s.spot,
                    s.timeout_secs,
                    s.status.as_str()
                ],
            )
            .map_err(sql)?;
        }
        // The estimates first, so the `run_started` audit entry carries them.
        for e in estimates {
            super::costs::record_estimate(&tx, &path, e)?;
        }
        super::audit::run_started(&tx, &path, run.id.as_str())?;
        tx.commit().map_err(sql)?;
        Ok(())
    }

    pub fn remote_run(&self, run_id: &RunId) -> Result<Option<RemoteRunRow>, StoreError> {
        self.conn
            .query_row(
                "SELECT run_id, aws_resource, request, finished, cancel_requested, next_seq
                 FROM remote_runs WHERE run_id = ?1",
                [run_id],
                |r| {
                    Ok(RemoteRunRow {
                        run_id: r.get(0)?,
                        aws_resource: r.get(1)?,
                        request: r.get(2)?,
                        finished: r.get(3)?,
                        cancel_requested: r.get(4)?,
                        next_seq: r.get::<_, i64>(5)? as u64,
                    })
                },
            )
            .optional()
            .map_err(|e| classify(&self.path, "load remote run", e))
    }

    /// Remote runs not finished yet, oldest first.
    pub fn unfinished_remote_runs(&self) -> Result<Vec<RunId>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT rr.run_id FROM remote_runs rr JOIN runs r ON r.id = rr.run_id
                 WHERE rr.finished = 0 ORDER BY r.created_at",
            )
            .map_err(|e| classify(&self.path, "list remote runs", e))?;
        stmt.query_map([], |r| r.get(0))
            .and_then(Iterator::collect)
            .map_err(|e| classify(&self.path, "list remote runs", e))
    }

    pub fn remote_steps(&self, run_id: &RunId) -> Result<Vec<RemoteStepRow>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT position, step_id, tier, tier_reason, assets, partitions, vcpu, memory_mb, spot,
                        timeout_secs, status, remote_id, plan_uri, result_uri, remote_status, exit_code,
                        stop_reason, submitted_at, ended_at, duration_secs, error
                 FROM remote_steps WHERE run_id = ?1 ORDER BY position",
            )
            .map_err(|e| classify(path, "load remote steps", e))?;
        let rows: Vec<StepTuple> = stmt
            .query_map([run_id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                    r.get(12)?,
                    r.get(13)?,
                    r.get(14)?,
                    r.get(15)?,
                    r.get(16)?,
                    r.get(17)?,
                    r.get(18)?,
                    r.get(19)?,
                    r.get(20)?,
                ))
            })
            .and_then(Iterator::collect)
            .map_err(|e| classify(path, "load remote steps", e))?;
        let decode = |what: &str, e: serde_json::Error| StoreError::Decode {
            path: path.clone(),
            what: format!("{what} of a step of run {run_id}"),
            detail: e.to_string(),
        };
        rows.into_iter()
            .map(|t| {
                let step = &t.1;
                let submitted_at = stored_opt_time(
                    path,
                    || format!("the submitted_at of step {step} of run {run_id}"),
                    t.17.as_deref(),
                )?;
                let ended_at = stored_opt_time(
                    path,
                    || format!("the ended_at of step {step} of run {run_id}"),
                    t.18.as_deref(),
                )?;
                Ok(RemoteStepRow {
                    position: t.0,
                    step_id: t.1,
                    tier: ComputeTier::parse(&t.2).ok_or_else(|| StoreError::Decode {
                        path: path.clone(),
                        what: format!("tier of a step of run {run_id}"),
                        detail: t.2.clone(),
                    })?,
                    tier_reason: t.3,
                    assets: serde_json::from_str(&t.4).map_err(|e| decode("assets", e))?,
                    partitions: serde_json::from_str(&t.5).map_err(|e| decode("partitions", e))?,
                    vcpu: t.6,
                    memory_mb: t.7,
                    spot: t.8,
                    timeout_secs: t.9,
                    status: StepStatus::parse(&t.10).ok_or_else(|| StoreError::Decode {
                        path: path.clone(),
                        what: format!("step status of run {run_id}"),
                        detail: t.10.clone(),
                    })?,
                    remote_id: t.11,
                    plan_uri: t.12,
                    result_uri: t.13,
                    remote_status: t.14,
                    exit_code: t.15,
                    stop_reason: t.16,
                    submitted_at,
                    ended_at,
                    duration_secs: t.19,
                    error: t.20,
                })
            })
            .collect()
    }

    /// Saves a step's changing fields (status, identifiers, figures).
    pub fn save_remote_step(
        &mut self,
        run_id: &RunId,
        s: &RemoteStepRow,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE remote_steps SET status = ?3, remote_id = ?4, plan_uri = ?5, result_uri = ?6,
                    remote_status = ?7, exit_code = ?8, stop_reason = ?9, submitted_at = ?10,
                    ended_at = ?11, duration_secs = ?12, error = ?13
                 WHERE run_id = ?1 AND position = ?2",
                params![
                    run_id,
                    s.position,
                    s.status.as_str(),
                    s.remote_id,
                    s.plan_uri,
                    s.result_uri,
                    s.remote_status,
                    s.exit_code,
                    s.stop_reason,
                    s.submitted_at.as_ref().map(times::text),
                    s.ended_at.as_ref().map(times::text),
                    s.duration_secs,
                    s.error
                ],
            )
            .map_err(|e| classify(&self.path, "save remote step", e))?;
        Ok(())
    }

    /// How far a child's logs have been read.
    pub fn remote_child_log(
        &self,
        run_id: &RunId,
        position: u32,
        child: u32,
    ) -> Result<ChildLog, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT log_position, next_event, done FROM remote_logs
                 WHERE run_id = ?1 AND position = ?2 AND child = ?3",
                params![run_id, position, child],
                |r| {
                    Ok(ChildLog {
                        log_position: r.get(0)?,
                        next_event: r.get::<_, i64>(1)? as u64,
                        done: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(|e| classify(&self.path, "load log position", e))?
            .unwrap_or_default())
    }

    /// Stores events of a remote run (numbered after its previous ones) together with how far
    /// the child's log has been read, in one transaction. Returns the events' first `seq`.
    pub fn record_remote_events(
        &mut self,
        run_id: &RunId,
        position: u32,
        child: u32,
        log: &ChildLog,
        events: &[RunEvent],
    ) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "record remote events", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let first = append_numbered(&tx, &path, run_id, events)?;
        tx.execute(
            "INSERT INTO remote_logs (run_id, position, child, log_position, next_event, done)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (run_id, position, child) DO UPDATE SET
                log_position = excluded.log_position, next_event = excluded.next_event, done = excluded.done",
            params![
                run_id,
                position,
                child,
                log.log_position,
                log.next_event as i64,
                log.done
            ],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(first)
    }

    /// Stores app-level events of a remote run (numbered after its previous ones).
    pub fn append_remote_run_events(
        &mut self,
        run_id: &RunId,
        events: &[RunEvent],
    ) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "record remote events", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let first = append_numbered(&tx, &path, run_id, events)?;
        tx.commit().map_err(sql)?;
        Ok(first)
    }

    /// Takes (or renews) the right to drive a run for `lease_secs`; false when another driver
    /// holds an unexpired lease.
    pub fn take_remote_lease(
        &mut self,
        run_id: &RunId,
        driver: &str,
        lease_secs: i64,
    ) -> Result<bool, StoreError> {
        let now = chrono::Utc::now();
        let until = times::text(&(now + chrono::Duration::seconds(lease_secs)));
        let changed = self
            .conn
            .execute(
                "UPDATE remote_runs SET driver = ?2, lease_until = ?3
                 WHERE run_id = ?1 AND (driver IS NULL OR driver = ?2 OR lease_until IS NULL OR lease_until < ?4)",
                params![
                    run_id,
                    driver,
                    until,
                    times::text(&now)
                ],
            )
            .map_err(|e| classify(&self.path, "take run lease", e))?;
        Ok(changed == 1)
    }

    pub fn release_remote_lease(&mut self, run_id: &RunId, driver: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE remote_runs SET driver = NULL, lease_until = NULL WHERE run_id = ?1 AND driver = ?2",
                params![run_id, driver],
            )
            .map_err(|e| classify(&self.path, "release run lease", e))?;
        Ok(())
    }

    pub fn request_remote_cancel(&mut self, run_id: &RunId) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE remote_runs SET cancel_requested = 1 WHERE run_id = ?1",
                [run_id],
            )
            .map_err(|e| classify(&self.path, "request cancel", e))?;
        Ok(())
    }

    /// Marks a remote run finished and sets the run's final status.
    pub fn finish_remote_run(
        &mut self,
        run_id: &RunId,
        status: RunStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "finish remote run", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        tx.execute(
            "UPDATE remote_runs SET finished = 1, driver = NULL, lease_until = NULL WHERE run_id = ?1",
            [run_id],
        )
        .map_err(sql)?;
        tx.execute(
            "UPDATE runs SET status = ?2, error = ?3, ended_at = coalesce(ended_at, ?4) WHERE id = ?1",
            params![run_id, status.as_str(), error, now()],
        )
        .map_err(sql)?;
        super::audit::run_finished(&tx, &path, run_id.as_str())?;
        tx.commit().map_err(sql)?;
        Ok(())
    }
}

/// Writes events of a remote run numbered after its previous ones (`remote_runs.next_seq`)
/// and advances the counter, inside the caller's transaction. Returns the first `seq`.
fn append_numbered(
    tx: &rusqlite::Transaction<'_>,
    path: &std::path::Path,
    run_id: &RunId,
    events: &[RunEvent],
) -> Result<u64, StoreError> {
    let sql = |e| classify(path, "record remote events", e);
    let first: i64 = tx
        .query_row(
            "SELECT next_seq FROM remote_runs WHERE run_id = ?1",
            [run_id],
            |r| r.get(0),
        )
        .map_err(sql)?;
    let first = first as u64;
    write_events(tx, path, run_id, first, events)?;
    tx.execute(
        "UPDATE remote_runs SET next_seq = ?2 WHERE run_id = ?1",
        params![run_id, (first + events.len() as u64) as i64],
    )
    .map_err(sql)?;
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LogLevel, Project};

    fn step(position: u32) -> RemoteStepRow {
        RemoteStepRow {
            position,
            step_id: format!("s{position}"),
            tier: ComputeTier::Fargate,
            tier_reason: "test".into(),
            assets: vec![AssetKey::new("a")],
            partitions: vec![],
            vcpu: 1.0,
            memory_mb: 2048,
            spot: false,
            timeout_secs: None,
            status: StepStatus::Pending,
            remote_id: None,
            plan_uri: None,
            result_uri: None,
            remote_status: None,
            exit_code: None,
            stop_reason: None,
            submitted_at: None,
            ended_at: None,
            duration_secs: None,
            error: None,
        }
    }

    fn record(id: &str) -> RunRecord {
        RunRecord {
            id: id.into(),
            project: "p".into(),
            selection: "*".into(),
            partition: None,
            target: "aws:fargate".into(),
            status: RunStatus::Queued,
            trigger: "test".into(),
            created_at: crate::model::time::millis(chrono::Utc::now()),
            started_at: None,
            ended_at: None,
            error: None,
            allow_failed_upstream: false,
            checks_only: false,
            end_known: true,
        }
    }

    /// A step's tier is stored as its name and read back as the tier; a name no tier has
    /// (a file written by something else) is an error naming it, not a guess.
    #[test]
    fn a_step_tier_is_read_back_as_the_tier_and_an_unknown_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("ws.sqlite")).unwrap();
        ws.save_project(&Project::new("p"), None).unwrap();
        let mut eks = step(1);
        eks.tier = ComputeTier::Eks;
        ws.create_remote_run(
            &record("r1"),
            &crate::store::RunOnAws::named("aws"),
            "{}",
            &[step(0), eks],
            &[],
        )
        .unwrap();
        let tiers: Vec<ComputeTier> = ws
            .remote_steps(&"r1".into())
            .unwrap()
            .iter()
            .map(|s| s.tier)
            .collect();
        assert_eq!(tiers, vec![ComputeTier::Fargate, ComputeTier::Eks]);
        let stored: String = ws
            .conn
            .query_row(
                "SELECT tier FROM remote_steps WHERE run_id = 'r1' AND position = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, "eks");
        ws.conn
            .execute(
                "UPDATE remote_steps SET tier = 'mainframe' WHERE run_id = 'r1'",
                [],
            )
            .unwrap();
        let error = ws.remote_steps(&"r1".into()).unwrap_err().to_string();
        assert!(error.contains("mainframe"), "{error}");
    }

    fn log(message: &str) -> RunEvent {
        RunEvent::Log {
            level: LogLevel::Info,
            asset: None,
            message: message.into(),
        }
    }

    #[test]
    fn events_and_log_positions_are_stored_together_and_leases_exclude() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("ws.sqlite")).unwrap();
        ws.save_project(&Project::new("p"), None).unwrap();
        ws.create_remote_run(
            &record("r1"),
            &crate::store::RunOnAws::named("aws"),
            "{}",
            &[step(0), step(1)],
            &[],
        )
        .unwrap();
        assert_eq!(ws.unfinished_remote_runs().unwrap(), vec!["r1".to_owned()]);
        let first = ws
            .append_remote_run_events(&"r1".into(), &[RunEvent::RunStarted { plan: vec![] }])
            .unwrap();
        assert_eq!(first, 0);
        let position = ChildLog {
            log_position: Some("f/123".into()),
            next_event: 2,
            done: false,
        };
        let first = ws
            .record_remote_events(&"r1".into(), 0, 0, &position, &[log("a"), log("b")])
            .unwrap();
        assert_eq!(first, 1, "numbered after the run's own events");
        assert_eq!(ws.remote_child_log(&"r1".into(), 0, 0).unwrap(), position);
        assert_eq!(
            ws.remote_child_log(&"r1".into(), 0, 1).unwrap(),
            ChildLog::default()
        );
        assert_eq!(ws.run_events(&"r1".into()).unwrap().len(), 3);
        assert_eq!(ws.run(&"r1".into()).unwrap().status, RunStatus::Started);

        let mut s = step(1);
        s.status = StepStatus::Submitted;
        s.remote_id = Some("arn:task/1".into());
        ws.save_remote_step(&"r1".into(), &s).unwrap();
        let steps = ws.remote_steps(&"r1".into()).unwrap();
        assert_eq!(steps[1].remote_id.as_deref(), Some("arn:task/1"));
        assert_eq!(steps[1].status, StepStatus::Submitted);

        assert!(ws.take_remote_lease(&"r1".into(), "a", 60).unwrap());
        assert!(
            ws.take_remote_lease(&"r1".into(), "a", 60).unwrap(),
            "renewed"
        );
        assert!(
            !ws.take_remote_lease(&"r1".into(), "b", 60).unwrap(),
            "held by a"
        );
        ws.release_remote_lease(&"r1".into(), "a").unwrap();
        assert!(ws.take_remote_lease(&"r1".into(), "b", -1).unwrap());
        assert!(
            ws.take_remote_lease(&"r1".into(), "a", 60).unwrap(),
            "b's lease lapsed"
        );

        ws.request_remote_cancel(&"r1".into()).unwrap();
        assert!(
            ws.remote_run(&"r1".into())
                .unwrap()
                .unwrap()
                .cancel_requested
        );
        ws.finish_remote_run(&"r1".into(), RunStatus::Canceled, Some("canceled"))
            .unwrap();
        assert!(ws.unfinished_remote_runs().unwrap().is_empty());
        assert_eq!(ws.run(&"r1".into()).unwrap().status, RunStatus::Canceled);
    }
}
