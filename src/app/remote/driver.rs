//! The driver: the state machine that moves one remote run on, one pass at a time, under the
//! run's lease. A pass finds the first unfinished step and does the one thing its state asks
//! for — skip it after a failure, start it (plan, submit, or run a local step here), find a
//! submit lost to a restart, or poll it (`poll`) — then returns, so any process holding the
//! lease can take the next pass.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::{
    CANCEL_REASON, LEASE_SECS, LOCAL_INTERRUPTED, LOCAL_LEASE_SECS, RemoteStepRow, StepStatus,
    connect, driver_id, launcher_for, now, poll_interval,
};
use crate::app::{AppError, Refusal};
use crate::compute::aws::Aws;
use crate::compute::error::ComputeError;
use crate::compute::launch::{LaunchSpec, Launcher};
use crate::compute::protocol::{StepPlan, StepResult};
use crate::compute::runner;
use crate::compute::steps::tier_has_arrays;
use crate::model::RunId;
use crate::model::{AssetKey, ComputeTier, LogLevel, Project, RunEvent, RunStatus};
use crate::store::Workspace;

/// Drives one run, holding its lease.
pub(super) struct Driver<'w> {
    pub(super) ws: &'w mut Workspace,
    pub(super) aws: Aws,
    pub(super) project: Project,
    pub(super) project_dir: PathBuf,
    pub(super) run_id: RunId,
    pub(super) me: String,
    /// Stops the local steps this driver runs (the studio's Cancel).
    pub(super) cancel: Arc<AtomicBool>,
    /// Status checks that failed in a row, per step.
    pub(super) status_errors: BTreeMap<String, u32>,
    /// The project's masking on `remote`: sent with each step (without the key), and applied
    /// to the events that come back.
    pub(super) masking: crate::engine::mask::Masking,
}

impl<'w> Driver<'w> {
    pub(super) fn open(ws: &'w mut Workspace, run_id: &RunId) -> Result<Self, AppError> {
        let remote = ws
            .remote_run(run_id)?
            .ok_or_else(|| Refusal::NotRemote(run_id.clone()))?;
        let run = ws.run(run_id)?;
        let stored = ws.load_project(&run.project)?;
        let aws = connect(&stored.project, Some(&remote.aws_resource))?;
        let project_dir = stored
            .source_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        let masking = crate::app::masking::masking_for(
            &stored.project,
            Some(project_dir.as_path()),
            crate::model::masking::Environment::Remote,
        )?;
        Ok(Self {
            masking,
            ws,
            aws,
            project: stored.project,
            project_dir,
            run_id: run_id.to_owned(),
            me: driver_id(),
            cancel: Arc::default(),
            status_errors: BTreeMap::new(),
        })
    }

    /// Steps until the run ends (or, detached, until no step is about to be submitted here).
    pub(super) fn drive(
        &mut self,
        detach: bool,
        cancel: Option<&AtomicBool>,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<(), AppError> {
        let mut waiting_said = false;
        let mut cancel_sent = false;
        loop {
            if !cancel_sent && cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            {
                cancel_sent = true;
                self.ws.request_remote_cancel(&self.run_id)?;
                if let Err(e) = self.stop_remote_steps() {
                    self.log(LogLevel::Error, format!("{e:#}"), on_event)?;
                }
            }
            if !self
                .ws
                .take_remote_lease(&self.run_id, &self.me, LEASE_SECS)?
            {
                if !waiting_said {
                    tracing::info!(run = %self.run_id, "another process drives this run; waiting for its lease to end");
                    waiting_said = true;
                }
                std::thread::sleep(poll_interval());
                continue;
            }
            let finished = self.step(on_event);
            let finished = match finished {
                Ok(f) => f,
                Err(e) => {
                    let _ = self.ws.release_remote_lease(&self.run_id, &self.me);
                    return Err(e);
                }
            };
            if finished {
                return Ok(());
            }
            if detach
                && self
                    .ws
                    .remote_steps(&self.run_id)?
                    .iter()
                    .any(|s| s.status == StepStatus::Submitted)
            {
                self.ws.release_remote_lease(&self.run_id, &self.me)?;
                return Ok(());
            }
            std::thread::sleep(poll_interval());
        }
    }

    /// One pass under the lease (waits for another driver's lease to end first).
    pub(super) fn drive_once(
        &mut self,
        cancel: Option<&AtomicBool>,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<(), AppError> {
        if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            && !self
                .ws
                .remote_run(&self.run_id)?
                .is_some_and(|r| r.cancel_requested || r.finished)
        {
            self.ws.request_remote_cancel(&self.run_id)?;
            if let Err(e) = self.stop_remote_steps() {
                self.log(LogLevel::Error, format!("{e:#}"), on_event)?;
            }
        }
        if self
            .ws
            .take_remote_lease(&self.run_id, &self.me, LEASE_SECS)?
        {
            self.step(on_event)?;
        }
        Ok(())
    }

    pub(super) fn launcher(&self, tier: ComputeTier) -> Result<Box<dyn Launcher>, AppError> {
        Ok(launcher_for(&self.aws, &self.project, tier)?)
    }

    pub(super) fn emit(
        &mut self,
        events: &[RunEvent],
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<(), AppError> {
        let events: Vec<RunEvent> = events
            .iter()
            .cloned()
            .map(|e| {
                crate::app::connections::redact_event(crate::app::masking::mask_event(
                    &self.masking,
                    e,
                ))
            })
            .collect();
        self.ws.append_remote_run_events(&self.run_id, &events)?;
        for e in &events {
            on_event(&self.run_id, e);
        }
        Ok(())
    }

    pub(super) fn log(
        &mut self,
        level: LogLevel,
        message: String,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<(), AppError> {
        self.emit(
            &[RunEvent::Log {
                level,
                asset: None,
                message,
            }],
            on_event,
        )
    }

    /// Stops every submitted step on its platform; returns what was stopped.
    pub(super) fn stop_remote_steps(&mut self) -> Result<Vec<String>, AppError> {
        let mut stopped = Vec::new();
        let mut errors = Vec::new();
        for s in self.ws.remote_steps(&self.run_id)? {
            if s.status != StepStatus::Submitted {
                continue;
            }
            let Some(id) = &s.remote_id else { continue };
            match self.launcher(s.tier)?.cancel(id, CANCEL_REASON) {
                Ok(()) => stopped.push(id.clone()),
                Err(e) => errors.push((s.step_id.clone(), e)),
            }
        }
        if errors.is_empty() {
            Ok(stopped)
        } else {
            Err(AppError::NotStopped { failures: errors })
        }
    }

    /// One pass: returns whether the run has finished.
    pub(super) fn step(
        &mut self,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<bool, AppError> {
        let Some(remote) = self.ws.remote_run(&self.run_id)? else {
            return Err(Refusal::NotRemote(self.run_id.clone()).into());
        };
        if remote.finished {
            return Ok(true);
        }
        if remote.next_seq == 0 {
            let plan: Vec<AssetKey> = self
                .ws
                .remote_steps(&self.run_id)?
                .iter()
                .flat_map(|s| s.assets.clone())
                .collect();
            self.emit(&[RunEvent::RunStarted { plan }], on_event)?;
        }
        let steps = self.ws.remote_steps(&self.run_id)?;
        if remote.cancel_requested {
            return self.finish_canceled(steps, on_event);
        }
        let failed_before = steps.iter().any(|s| {
            matches!(
                s.status,
                StepStatus::Failure | StepStatus::Canceled | StepStatus::Skipped
            )
        });
        let Some(s) = steps.into_iter().find(|s| !s.status.is_finished()) else {
            return self.finish(on_event);
        };
        if failed_before {
            self.skip(s, on_event)?;
            return Ok(false);
        }
        match s.status {
            StepStatus::Pending => self.start(s, on_event)?,
            StepStatus::Submitting => self.resume_submitting(s, on_event)?,
            // A local step runs inside one call of `start`: found still submitted, the process
            // that ran it stopped before it ended.
            StepStatus::Submitted if s.tier == ComputeTier::Local => {
                self.fail_step(s, LOCAL_INTERRUPTED, on_event)?;
            }
            StepStatus::Submitted => self.poll(s, on_event)?,
            _ => {}
        }
        Ok(false)
    }

    /// Skips a step because an earlier one did not succeed, saying so for each of its assets.
    fn skip(
        &mut self,
        mut s: RemoteStepRow,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<(), AppError> {
        s.status = StepStatus::Skipped;
        s.error = Some("an earlier step did not succeed".to_owned());
        s.ended_at = Some(now());
        self.ws.save_remote_step(&self.run_id, &s)?;
        for asset in s.assets.clone() {
            self.emit(
                &[RunEvent::StepFinished {
                    asset,
                    partition: s.partitions.first().cloned(),
                    outcome: crate::model::StepOutcome::Skipped {
                        reason: format!(
                            "step {} was skipped: an earlier step did not succeed",
                            s.step_id
                        ),
                    },
                    duration_ms: 0,
                    duration_known: true,
                }],
                on_event,
            )?;
        }
        Ok(())
    }

    /// A step left half-submitted (by a restart): adopts the remote job when the launcher finds
    /// it was submitted after all, and submits it otherwise.
    fn resume_submitting(
        &mut self,
        mut s: RemoteStepRow,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<(), AppError> {
        let spec = self.spec(&s);
        let found = self.launcher(s.tier)?.find_submitted(&spec)?;
        match found {
            Some(id) => {
                s.remote_id = Some(id.clone());
                s.status = StepStatus::Submitted;
                self.ws.save_remote_step(&self.run_id, &s)?;
                self.log(
                    LogLevel::Info,
                    format!("step {}: found {id} submitted before a restart", s.step_id),
                    on_event,
                )?;
            }
            None => self.start(s, on_event)?,
        }
        Ok(())
    }

    pub(super) fn finish(
        &mut self,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<bool, AppError> {
        let steps = self.ws.remote_steps(&self.run_id)?;
        let status = if steps.iter().all(|s| s.status == StepStatus::Success) {
            RunStatus::Success
        } else if steps.iter().any(|s| s.status == StepStatus::Canceled) {
            RunStatus::Canceled
        } else {
            RunStatus::Failure
        };
        let error = steps
            .iter()
            .find(|s| matches!(s.status, StepStatus::Failure | StepStatus::Canceled))
            .map(|s| {
                format!(
                    "step {} ({}): {}",
                    s.step_id,
                    s.tier,
                    s.error
                        .clone()
                        .unwrap_or_else(|| s.status.as_str().to_owned())
                )
            });
        self.emit(
            &[RunEvent::RunFinished {
                status,
                error: error.clone(),
            }],
            on_event,
        )?;
        self.ws
            .finish_remote_run(&self.run_id, status, error.as_deref())?;
        crate::app::alerts::alert_run_or_log(self.ws, &self.run_id);
        Ok(true)
    }

    pub(super) fn finish_canceled(
        &mut self,
        steps: Vec<RemoteStepRow>,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<bool, AppError> {
        for mut s in steps {
            if s.status.is_finished() {
                continue;
            }
            if s.status == StepStatus::Submitted
                && let Some(id) = s.remote_id.clone()
            {
                let launcher = self.launcher(s.tier)?;
                // The cancel command stopped it already; stopping twice is harmless.
                if let Err(e) = launcher.cancel(&id, CANCEL_REASON) {
                    tracing::warn!(run = %self.run_id, step = %s.step_id, error = %e, "stopping the step again failed");
                }
                if let Ok(state) = launcher.status(&id) {
                    s.remote_status = Some(state.status);
                    s.exit_code = state.exit_code;
                    s.stop_reason = state.reason;
                }
            }
            s.status = StepStatus::Canceled;
            s.error = Some("canceled".to_owned());
            s.ended_at = Some(now());
            self.ws.save_remote_step(&self.run_id, &s)?;
            self.log(
                LogLevel::Warn,
                format!("step {} ({}) canceled", s.step_id, s.tier),
                on_event,
            )?;
        }
        let error = Some("canceled".to_owned());
        self.emit(
            &[RunEvent::RunFinished {
                status: RunStatus::Canceled,
                error: error.clone(),
            }],
            on_event,
        )?;
        self.ws
            .finish_remote_run(&self.run_id, RunStatus::Canceled, error.as_deref())?;
        crate::app::alerts::alert_run_or_log(self.ws, &self.run_id);
        Ok(true)
    }

    pub(super) fn children(s: &RemoteStepRow) -> usize {
        if tier_has_arrays(s.tier) {
            s.partitions.len().max(1)
        } else {
            1
        }
    }

    pub(super) fn spec(&self, s: &RemoteStepRow) -> LaunchSpec {
        let hints = s
            .assets
            .first()
            .and_then(|a| self.project.asset(a))
            .map(|a| &a.compute);
        LaunchSpec {
            run_id: self.run_id.clone(),
            step_id: s.step_id.clone(),
            project: self.project.name.clone(),
            assets: s.assets.clone(),
            plan_uri: s.plan_uri.clone().unwrap_or_else(|| {
                self.aws
                    .uri(&format!("_runs/{}/{}/plan.json", self.run_id, s.step_id))
            }),
            array_size: if Self::children(s) > 1 {
                Self::children(s)
            } else {
                0
            },
            vcpu: s.vcpu,
            memory_mb: s.memory_mb,
            spot: s.spot,
            timeout_secs: s.timeout_secs,
            node_type: hints.and_then(|h| h.node_type.clone()),
            max_nodes: hints.and_then(|h| h.max_nodes),
        }
    }

    /// Builds the step's plan (uploading inputs and local upstream data), writes it to S3 and
    /// submits it — or, for a local step, runs it here. A step that cannot get that far (no
    /// AWS credentials, a bucket that does not exist, an input that cannot be read) fails at
    /// once with the reason, and so does its run: nothing was submitted, so nothing on AWS
    /// could finish it later.
    pub(super) fn start(
        &mut self,
        mut s: RemoteStepRow,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<(), AppError> {
        let prepared = self.step_plan(&s).and_then(|plan| {
            let body = serde_json::to_vec(&plan).map_err(|source| AppError::Encode {
                what: "the step plan",
                source,
            })?;
            let plan_uri = self
                .aws
                .uri(&format!("_runs/{}/{}/plan.json", self.run_id, s.step_id));
            self.aws.put(&plan_uri, body)?;
            Ok((plan, plan_uri))
        });
        let (plan, plan_uri) = match prepared {
            Ok(p) => p,
            // The workspace itself failing is not the step's fault: the run stays as it is.
            Err(e @ AppError::Store(_)) => return Err(e),
            Err(e) => {
                let error = format!(
                    "could not be submitted: {}",
                    crate::app::redact(&format!("{e:#}"))
                );
                return self.fail_step(s, &error, on_event);
            }
        };
        s.plan_uri = Some(plan_uri);
        s.result_uri = Some(plan.result_uri.clone());
        if s.tier == ComputeTier::Local {
            return self.run_local(s, &plan, on_event);
        }
        s.status = StepStatus::Submitting;
        self.ws.save_remote_step(&self.run_id, &s)?;
        let spec = self.spec(&s);
        let launcher = self.launcher(s.tier)?;
        // A synchronous submit (Lambda) may take the step's whole timeout: hold the run that
        // long, so no other process submits the step again meanwhile.
        self.ws.take_remote_lease(
            &self.run_id,
            &self.me,
            LEASE_SECS + i64::from(spec.timeout_secs.unwrap_or(0)),
        )?;
        let submitted = launcher.submit(&spec);
        // Back to the normal lease: a driver killed from here on is replaced within seconds.
        self.ws
            .take_remote_lease(&self.run_id, &self.me, LEASE_SECS)?;
        match submitted {
            Ok(id) => {
                // Stored before anything else happens: from here on the run can be found again.
                s.remote_id = Some(id.clone());
                s.status = StepStatus::Submitted;
                s.submitted_at = Some(now());
                self.ws.save_remote_step(&self.run_id, &s)?;
                self.log(
                    LogLevel::Info,
                    format!(
                        "step {} submitted to {} ({}; {} vCPU, {} MiB{}): {id}",
                        s.step_id,
                        s.tier,
                        s.tier_reason,
                        s.vcpu,
                        s.memory_mb,
                        if s.spot { ", spot" } else { "" }
                    ),
                    on_event,
                )
            }
            Err(e) => {
                s.status = StepStatus::Failure;
                s.error = Some(e.to_string());
                s.ended_at = Some(now());
                self.ws.save_remote_step(&self.run_id, &s)?;
                self.log(
                    LogLevel::Error,
                    format!("step {} could not be submitted: {e}", s.step_id),
                    on_event,
                )
            }
        }
    }

    pub(super) fn run_local(
        &mut self,
        mut s: RemoteStepRow,
        plan: &StepPlan,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<(), AppError> {
        s.status = StepStatus::Submitted;
        s.submitted_at = Some(now());
        self.ws.save_remote_step(&self.run_id, &s)?;
        // Hold the run while the step runs here (its timeout, or an hour), so no other process
        // takes a local step still running for an interrupted one.
        self.ws.take_remote_lease(
            &self.run_id,
            &self.me,
            LEASE_SECS + i64::from(s.timeout_secs.unwrap_or(LOCAL_LEASE_SECS)),
        )?;
        let ran = self.run_local_children(&s, plan);
        self.ws
            .take_remote_lease(&self.run_id, &self.me, LEASE_SECS)?;
        match ran {
            Ok(results) => self.ingest_results(s, &results, on_event),
            Err(e) => self.fail_step(s, &e.to_string(), on_event),
        }
    }

    pub(super) fn run_local_children(
        &self,
        s: &RemoteStepRow,
        plan: &StepPlan,
    ) -> Result<Vec<StepResult>, ComputeError> {
        let cancel = Arc::clone(&self.cancel);
        let mut results = Vec::new();
        for child in 0..Self::children(s) {
            let index = (Self::children(s) > 1).then_some(child);
            results.push(runner::run_plan(
                &self.aws,
                plan,
                index,
                Some(&self.project_dir),
                &mut std::io::sink(),
                &cancel,
            )?);
        }
        Ok(results)
    }

    /// Ends a step as failed with `error` (the run goes on to its end as a failure). Its
    /// assets that no event has finished yet finish failed with the same reason, so the run
    /// view and the canvas show them failed, not queued.
    pub(super) fn fail_step(
        &mut self,
        mut s: RemoteStepRow,
        error: &str,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<(), AppError> {
        let message = format!("step {}: {error}", s.step_id);
        s.status = StepStatus::Failure;
        s.error = Some(error.to_owned());
        s.ended_at = Some(now());
        self.ws.save_remote_step(&self.run_id, &s)?;
        self.log(LogLevel::Error, message, on_event)?;
        let finished: BTreeSet<(AssetKey, Option<String>)> = self
            .ws
            .run_events(&self.run_id)?
            .into_iter()
            .filter_map(|e| match e {
                RunEvent::StepFinished {
                    asset, partition, ..
                } => Some((asset, partition)),
                _ => None,
            })
            .collect();
        let partitions: Vec<Option<String>> = if s.partitions.is_empty() {
            vec![None]
        } else {
            s.partitions.iter().cloned().map(Some).collect()
        };
        // Each asset gets the reason's first line (the whole of it is in the step's log line
        // and the run's error), so a long platform message is not repeated per asset.
        let mut short: String = error.lines().next().unwrap_or_default().to_owned();
        if short.chars().count() > 200 {
            short = short.chars().take(200).collect::<String>() + "…";
        }
        let short = format!("step {} failed: {short}", s.step_id);
        let mut events = Vec::new();
        for asset in &s.assets {
            for partition in &partitions {
                if !finished.contains(&(asset.clone(), partition.clone())) {
                    events.push(RunEvent::StepFinished {
                        asset: asset.clone(),
                        partition: partition.clone(),
                        outcome: crate::model::StepOutcome::Failed {
                            error: short.clone(),
                        },
                        duration_ms: 0,
                        duration_known: true,
                    });
                }
            }
        }
        if events.is_empty() {
            Ok(())
        } else {
            self.emit(&events, on_event)
        }
    }
}
