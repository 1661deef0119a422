//! How the driver follows a submitted step: [`Driver::poll`] reads the new log lines of each
//! child ([`Driver::read_logs`]), then the runner's results in S3 ([`Driver::read_results`]),
//! which decide the outcome; without them, the platform's status ([`Driver::read_status`])
//! says whether to wait, retry or give up. A finished step's results are stored and priced
//! here too ([`Driver::ingest_results`]).

use std::collections::BTreeMap;

use super::driver::Driver;
use super::{
    RemoteStepRow, STATUS_ATTEMPTS, StepStatus, SubmitRequest, cost_partition, now, result_grace,
};
use crate::app::AppError;
use crate::compute::error::ErrorKind;
use crate::compute::launch::{Launcher, RemoteState};
use crate::compute::protocol::{ParsedLine, StepResult, parse_line};
use crate::model::{AssetKey, ComputeTier, LogLevel, RunEvent, RunId, RunStatus};

/// What the results in S3 say so far.
enum Results {
    /// Every child's result is there.
    All(Vec<StepResult>),
    /// Some are still missing (or could not be read this time).
    Waiting,
    /// One is not a result: the step fails with this reason.
    Malformed(String),
}

impl Driver<'_> {
    /// Reads new log lines of every child, then the results; finishes the step when every
    /// child's result is there (or the platform ended it without one).
    pub(super) fn poll(
        &mut self,
        mut s: RemoteStepRow,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<(), AppError> {
        let launcher = self.launcher(s.tier)?;
        let Some(id) = s.remote_id.clone() else {
            return Err(AppError::NoRemoteId {
                step: s.step_id.clone(),
            });
        };
        let last_lines = self.read_logs(&s, launcher.as_ref(), &id, on_event)?;
        // The results decide.
        match self.read_results(&s) {
            Results::All(results) => {
                if let Ok(state) = launcher.status(&id) {
                    s.remote_status = Some(state.status);
                    s.exit_code = state.exit_code;
                    s.stop_reason = state.reason;
                }
                return self.ingest_results(s, &results, on_event);
            }
            Results::Malformed(error) => {
                // The step failed; the driver carries on with the rest of the run.
                if let Ok(state) = launcher.status(&id) {
                    s.remote_status = Some(state.status);
                    s.exit_code = state.exit_code;
                    s.stop_reason = state.reason;
                }
                return self.fail_step(s, &error, on_event);
            }
            Results::Waiting => {}
        }
        let Some(state) = self.read_status(&mut s, launcher.as_ref(), &id, on_event)? else {
            return Ok(());
        };
        if state.phase.is_finished() {
            self.end_without_result(s, &state, &last_lines, on_event)?;
        }
        Ok(())
    }

    /// Reads and records the new log lines of every child (a failed read is tried again on
    /// the next pass); returns the plain text lines read, for a failure's "last output".
    fn read_logs(
        &mut self,
        s: &RemoteStepRow,
        launcher: &dyn Launcher,
        id: &str,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<Vec<String>, AppError> {
        let mut last_lines = Vec::new();
        for child in 0..Self::children(s) {
            let mut log = self
                .ws
                .remote_child_log(&self.run_id, s.position, child as u32)?;
            let read = match launcher.read_logs(id, child, log.log_position.as_deref()) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(run = %self.run_id, step = %s.step_id, error = %e, "reading logs failed; will retry");
                    continue;
                }
            };
            let mut events = Vec::new();
            for line in &read.lines {
                match parse_line(line) {
                    Ok(ParsedLine::Event(l)) => {
                        if l.seq >= log.next_event {
                            log.next_event = l.seq + 1;
                            events.push(convert(&s.step_id, s.tier, l.event));
                        }
                    }
                    Ok(ParsedLine::Text(t)) if !t.trim().is_empty() => {
                        last_lines.push(t.clone());
                        events.push(RunEvent::Log {
                            level: LogLevel::Info,
                            asset: None,
                            message: format!("[{}] {t}", s.step_id),
                        });
                    }
                    Ok(ParsedLine::Text(_)) => {}
                    Err(e) => events.push(RunEvent::Log {
                        level: LogLevel::Warn,
                        asset: None,
                        message: format!("[{}] {e}", s.step_id),
                    }),
                }
            }
            if read.position != log.log_position || !events.is_empty() {
                log.log_position = read.position;
                let events: Vec<RunEvent> = events
                    .into_iter()
                    .map(|e| {
                        crate::app::connections::redact_event(crate::app::masking::mask_event(
                            &self.masking,
                            e,
                        ))
                    })
                    .collect();
                self.ws.record_remote_events(
                    &self.run_id,
                    s.position,
                    child as u32,
                    &log,
                    &events,
                )?;
                for e in &events {
                    on_event(&self.run_id, e);
                }
            }
        }
        Ok(last_lines)
    }

    /// The runners' results in S3, child by child, as far as they are there.
    fn read_results(&self, s: &RemoteStepRow) -> Results {
        let mut results = Vec::new();
        for child in 0..Self::children(s) {
            let uri = s
                .result_uri
                .clone()
                .unwrap_or_default()
                .replace("{index}", &child.to_string());
            match self.aws.get(&uri) {
                Ok(Some(bytes)) => match serde_json::from_slice::<StepResult>(&bytes) {
                    Ok(r) => results.push(r),
                    Err(e) => return Results::Malformed(format!("malformed result at {uri}: {e}")),
                },
                Ok(None) => return Results::Waiting,
                Err(e) => {
                    tracing::warn!(run = %self.run_id, error = %e, "reading the step result failed; will retry");
                    return Results::Waiting;
                }
            }
        }
        Results::All(results)
    }

    /// The step's state on its platform, stored (and logged) when it changed. `None`: no
    /// state this pass — the read failed and is tried again, or the step has failed (the
    /// platform no longer knows it, or the status could not be read too many times in a row).
    fn read_status(
        &mut self,
        s: &mut RemoteStepRow,
        launcher: &dyn Launcher,
        id: &str,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<Option<RemoteState>, AppError> {
        let state = match launcher.status(id) {
            Ok(state) => {
                self.status_errors.remove(&s.step_id);
                state
            }
            Err(e) => {
                // Like a failed log read: try again on the next pass, unless the platform says
                // the task is gone or it keeps failing.
                let failures = self.status_errors.entry(s.step_id.clone()).or_default();
                *failures += 1;
                let failures = *failures;
                if e.kind == ErrorKind::NotFound {
                    self.status_errors.remove(&s.step_id);
                    let error = format!("{} no longer knows {id}: {e}", s.tier);
                    self.fail_step(s.clone(), &error, on_event)?;
                    return Ok(None);
                }
                if failures >= STATUS_ATTEMPTS {
                    self.status_errors.remove(&s.step_id);
                    self.fail_step(
                        s.clone(),
                        &format!(
                            "the status of {id} could not be read {failures} times in a row: {e}"
                        ),
                        on_event,
                    )?;
                    return Ok(None);
                }
                tracing::warn!(run = %self.run_id, step = %s.step_id, error = %e, "reading the step status failed; will retry");
                return Ok(None);
            }
        };
        let changed = s.remote_status.as_deref() != Some(state.status.as_str());
        s.remote_status = Some(state.status.clone());
        s.exit_code = state.exit_code;
        s.stop_reason.clone_from(&state.reason);
        if changed {
            self.ws.save_remote_step(&self.run_id, s)?;
            self.log(
                LogLevel::Debug,
                format!("step {}: {} is {}", s.step_id, id, state.status),
                on_event,
            )?;
        }
        Ok(Some(state))
    }

    /// The platform says the step ended but no result is there: wait up to the grace period
    /// (from when the end was first seen) for it, then fail the step with what is known.
    fn end_without_result(
        &mut self,
        mut s: RemoteStepRow,
        state: &RemoteState,
        last_lines: &[String],
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<(), AppError> {
        let since = *s.ended_at.get_or_insert_with(now);
        self.ws.save_remote_step(&self.run_id, &s)?;
        let waited = chrono::Utc::now()
            .signed_duration_since(since)
            .to_std()
            .unwrap_or_default();
        if waited < result_grace() {
            return Ok(());
        }
        let tail = last_lines
            .iter()
            .rev()
            .take(5)
            .rev()
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ");
        let error = format!(
            "the runner wrote no result ({} {}, exit code {}, reason: {}){}",
            s.tier,
            state.status,
            state
                .exit_code
                .map_or_else(|| "unknown".to_owned(), |c| c.to_string()),
            state.reason.as_deref().unwrap_or("none given"),
            if tail.is_empty() {
                String::new()
            } else {
                format!("; last output: {tail}")
            }
        );
        s.status = StepStatus::Failure;
        s.error = Some(error.clone());
        self.ws.save_remote_step(&self.run_id, &s)?;
        self.log(
            LogLevel::Error,
            format!("step {}: {error}", s.step_id),
            on_event,
        )
    }

    /// Stores what the results hold beyond the events already read from the logs, and ends
    /// the step with their status.
    pub(super) fn ingest_results(
        &mut self,
        mut s: RemoteStepRow,
        results: &[StepResult],
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<(), AppError> {
        for (child, r) in results.iter().enumerate() {
            let mut log = self
                .ws
                .remote_child_log(&self.run_id, s.position, child as u32)?;
            let start = usize::try_from(log.next_event).unwrap_or(usize::MAX);
            let events: Vec<RunEvent> = r
                .events
                .iter()
                .skip(start)
                .cloned()
                .map(|e| {
                    crate::app::connections::redact_event(crate::app::masking::mask_event(
                        &self.masking,
                        convert(&s.step_id, s.tier, e),
                    ))
                })
                .collect();
            log.next_event = r.events.len() as u64;
            log.done = true;
            self.ws
                .record_remote_events(&self.run_id, s.position, child as u32, &log, &events)?;
            for e in &events {
                on_event(&self.run_id, e);
            }
        }
        let statuses: Vec<RunStatus> = results.iter().map(|r| r.status).collect();
        s.status = if statuses.iter().all(|x| *x == RunStatus::Success) {
            StepStatus::Success
        } else if statuses.contains(&RunStatus::Canceled) {
            StepStatus::Canceled
        } else {
            StepStatus::Failure
        };
        s.error = (s.status != StepStatus::Success)
            .then(|| results.iter().find_map(first_failure))
            .flatten();
        s.duration_secs = results.iter().map(|r| r.duration_secs).reduce(f64::max);
        s.ended_at = Some(now());
        self.ws.save_remote_step(&self.run_id, &s)?;
        self.record_actual_costs(&s, results, on_event)?;
        let exit = s
            .exit_code
            .map_or_else(String::new, |c| format!(", exit code {c}"));
        let reason = s
            .stop_reason
            .as_deref()
            .map_or_else(String::new, |r| format!(", stop reason: {r}"));
        self.log(
            if s.status == StepStatus::Success {
                LogLevel::Info
            } else {
                LogLevel::Error
            },
            format!(
                "step {} on {} finished: {} in {:.1} s{exit}{reason}",
                s.step_id,
                s.tier,
                s.status.as_str(),
                s.duration_secs.unwrap_or_default()
            ),
            on_event,
        )
    }

    /// Prices a finished step with what it measured and stores it beside the estimate, per
    /// asset: each asset's own seconds (its `StepFinished` events) plus an even share of the
    /// step's other seconds (start-up, transfers), on the step's size; an array step counts
    /// its children side by side. Local steps cost nothing on AWS and are not priced.
    pub(super) fn record_actual_costs(
        &mut self,
        s: &RemoteStepRow,
        results: &[StepResult],
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Result<(), AppError> {
        let tier = s.tier;
        if tier == ComputeTier::Local || results.is_empty() || s.assets.is_empty() {
            return Ok(());
        }
        let node_type = s.assets.iter().find_map(|k| {
            self.project
                .asset(k)
                .and_then(|a| a.compute.node_type.clone())
        });
        let step = crate::compute::steps::PlannedRemoteStep {
            tier,
            reason: String::new(),
            assets: s.assets.clone(),
            partitions: s.partitions.clone(),
            vcpu: s.vcpu,
            memory_mb: s.memory_mb,
            spot: s.spot,
            timeout_secs: s.timeout_secs,
        };
        let (partition, accumulate) = self.actuals_partition(s)?;
        let mut priced = 0.0;
        let mut missing = None;
        for (key, shape) in measured_shapes(&step, node_type.as_deref(), results) {
            let key = &key;
            let record = if accumulate {
                crate::app::plan::add_actual_cost(
                    self.ws,
                    &self.run_id,
                    key,
                    partition.as_deref(),
                    &shape,
                )?
            } else {
                crate::app::plan::record_actual_cost(
                    self.ws,
                    &self.run_id,
                    key,
                    partition.as_deref(),
                    &shape,
                )?
            };
            match record.cost_usd {
                Some(c) => priced += c,
                None => missing = record.missing_price,
            }
        }
        let text = match missing {
            Some(id) => format!(
                "step {} cost ${priced:.6} on {} (without assets whose price `{id}` is missing)",
                s.step_id, s.tier
            ),
            None => format!("step {} cost ${priced:.6} on {}", s.step_id, s.tier),
        };
        self.log(LogLevel::Info, text, on_event)
    }

    /// The cost partition a step's actuals go under, and whether they add to what is there.
    /// Actuals sit beside the estimate, under the run's cost partition: a step that ran part of
    /// a backfill (one partition on a tier without arrays) adds its share to it.
    fn actuals_partition(&self, s: &RemoteStepRow) -> Result<(Option<String>, bool), AppError> {
        let run_partitions = self
            .ws
            .remote_run(&self.run_id)?
            .and_then(|r| serde_json::from_str::<SubmitRequest>(&r.request).ok())
            .map(|r| r.partitions);
        Ok(match &run_partitions {
            Some(run) if *run != s.partitions => (cost_partition(run).map(str::to_owned), true),
            _ => (cost_partition(&s.partitions).map(str::to_owned), false),
        })
    }
}

/// What each asset of a finished step ran as, to be priced: its own seconds (its
/// `StepFinished` events) plus an even share of the step's other seconds (start-up,
/// transfers), on the step's size; an array step counts its children side by side. Launches
/// and `medallion sync` price steps with it.
pub(super) fn measured_shapes(
    s: &crate::compute::steps::PlannedRemoteStep,
    node_type: Option<&str>,
    results: &[StepResult],
) -> Vec<(AssetKey, crate::compute::cost::RunShape)> {
    if results.is_empty() || s.assets.is_empty() {
        return Vec::new();
    }
    let children = results.len() as f64;
    let (own, total) = asset_seconds(results);
    let measured: f64 = own.values().sum();
    let rest = (total - measured).max(0.0) / s.assets.len() as f64;
    s.assets
        .iter()
        .map(|key| {
            let seconds = own.get(key).copied().unwrap_or_default() + rest;
            let shape = crate::compute::cost::RunShape {
                tier: s.tier,
                vcpu: s.vcpu,
                memory_mb: s.memory_mb,
                duration_secs: seconds / children,
                spot: s.spot,
                node_type: node_type.map(str::to_owned),
                parallel: u32::try_from(results.len()).unwrap_or(u32::MAX),
            };
            (key.clone(), shape)
        })
        .collect()
}

/// Each asset's own seconds in a step's results (its `StepFinished` events), and the results'
/// seconds in all.
fn asset_seconds(results: &[StepResult]) -> (BTreeMap<&AssetKey, f64>, f64) {
    let mut own: BTreeMap<&AssetKey, f64> = BTreeMap::new();
    let mut total = 0.0;
    for r in results {
        total += r.duration_secs;
        for e in &r.events {
            if let RunEvent::StepFinished {
                asset, duration_ms, ..
            } = e
            {
                *own.entry(asset).or_default() += *duration_ms as f64 / 1000.0;
            }
        }
    }
    (own, total)
}

/// The first thing that went wrong in a runner's result, in words.
pub(super) fn first_failure(r: &StepResult) -> Option<String> {
    let failed_step = r.events.iter().find_map(|e| match e {
        RunEvent::StepFinished {
            asset,
            outcome: crate::model::StepOutcome::Failed { error },
            ..
        } => Some(format!("{asset}: {error}")),
        _ => None,
    });
    let failed_check = || {
        r.events.iter().find_map(|e| match e {
            RunEvent::CheckEvaluation(c)
                if !c.passed && c.severity == crate::model::CheckSeverity::Error =>
            {
                Some(format!("{}: check {} failed", c.asset, c.check_name))
            }
            _ => None,
        })
    };
    failed_step
        .or_else(failed_check)
        .or_else(|| r.error.clone())
}

/// A runner's event as the run records it: its own run start and end become log lines of the
/// step (the run's start and end belong to the whole remote run).
pub(super) fn convert(step_id: &str, tier: ComputeTier, event: RunEvent) -> RunEvent {
    match event {
        RunEvent::RunStarted { plan } => RunEvent::Log {
            level: LogLevel::Info,
            asset: None,
            message: format!("step {step_id} started on {tier}: {} asset(s)", plan.len()),
        },
        RunEvent::RunFinished { status, error } => RunEvent::Log {
            level: if status == RunStatus::Success {
                LogLevel::Info
            } else {
                LogLevel::Error
            },
            asset: None,
            message: match error {
                Some(e) => format!("step {step_id} runner {status}: {e}"),
                None => format!("step {step_id} runner {status}"),
            },
        },
        other => other,
    }
}
