//! The studio's view of runs: plain state built from [`RunEvent`]s — the same code for a run
//! streaming in from the job worker and for a past run read back from the workspace — plus the
//! status each canvas card shows.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::app::report::RunReport;
use crate::app::status::AssetStatus;
use crate::model::RunId;
use crate::model::{
    AssetCheckResult, AssetKey, AssetMaterialization, AssetProfile, LogLevel, RunEvent, RunRecord,
    RunStatus, StepOutcome,
};

/// What a canvas card shows in its status slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeStatus {
    Queued,
    Running,
    Success,
    /// Definition and inputs unchanged: the stored materialization stands.
    UpToDate,
    Failed {
        error: String,
    },
    Skipped {
        reason: String,
    },
    Canceled,
    /// Its definition or inputs changed since its materialization.
    Stale {
        reason: String,
    },
    /// Materialized; definition and inputs unchanged; no Error check failing on its data.
    Fresh,
    /// Never materialized.
    Missing,
    /// Not built: an upstream's data failed a blocking check (or an upstream step failed).
    Blocked {
        reason: String,
    },
    /// A checks-only run evaluated its checks (all Error checks passed).
    Checked,
}

impl NodeStatus {
    pub fn label(&self) -> &'static str {
        match self {
            NodeStatus::Queued => "queued",
            NodeStatus::Running => "running",
            NodeStatus::Success => "success",
            NodeStatus::UpToDate => "up to date",
            NodeStatus::Failed { .. } => "failed",
            NodeStatus::Skipped { .. } => "skipped",
            NodeStatus::Canceled => "canceled",
            NodeStatus::Stale { .. } => "stale",
            NodeStatus::Fresh => "fresh",
            NodeStatus::Missing => "not materialized",
            NodeStatus::Blocked { .. } => "blocked",
            NodeStatus::Checked => "checked",
        }
    }

    /// The card status of an asset's state in the workspace.
    pub fn from_state(status: &AssetStatus) -> Self {
        match status {
            AssetStatus::Missing => NodeStatus::Missing,
            AssetStatus::Fresh => NodeStatus::Fresh,
            AssetStatus::Stale { reason } => NodeStatus::Stale {
                reason: reason.clone(),
            },
            AssetStatus::Failed { reason, .. } => NodeStatus::Failed {
                error: reason.clone(),
            },
            AssetStatus::Blocked { reason } => NodeStatus::Blocked {
                reason: reason.clone(),
            },
        }
    }

    /// The reason or error, if the status has one.
    pub fn detail(&self) -> Option<&str> {
        match self {
            NodeStatus::Failed { error } => Some(error),
            NodeStatus::Skipped { reason }
            | NodeStatus::Stale { reason }
            | NodeStatus::Blocked { reason } => Some(reason),
            _ => None,
        }
    }
}

/// One line of the run log: every event, with a level.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub level: LogLevel,
    pub asset: Option<AssetKey>,
    pub text: String,
    /// Lower-cased text, for search.
    pub lower: String,
}

/// One bar of the step timeline. Steps run side by side (up to the engine's parallelism), so
/// a bar starts when its step started: for a past run from its stored event's time, for a
/// live run from the clock when the event arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct StepBar {
    pub asset: AssetKey,
    pub start_ms: u64,
    pub duration_ms: Option<u64>,
    pub outcome: Option<StepOutcome>,
    /// When the step started, for a live run (the bar grows while it runs).
    pub started: Option<Instant>,
}

/// How a step's bar on the timeline is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarTone {
    Running,
    Ok,
    /// Up to date: nothing was built.
    Faded,
    Failed,
    Warning,
}

/// A run as the run view shows it.
#[derive(Debug, Default)]
pub struct RunView {
    pub run_id: Option<RunId>,
    pub record: Option<RunRecord>,
    pub plan: Vec<AssetKey>,
    pub status: Option<RunStatus>,
    pub error: Option<String>,
    pub logs: Vec<LogLine>,
    pub steps: Vec<StepBar>,
    pub checks: Vec<AssetCheckResult>,
    pub profiles: Vec<AssetProfile>,
    pub materializations: Vec<AssetMaterialization>,
    pub nodes: HashMap<AssetKey, NodeStatus>,
    /// Set while the run is live: Cancel sets it, the engine stops between steps.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Set for a live remote run: quitting the studio sets it, and the run is left to go on
    /// on AWS (reattached on the next start, or by `medallion attach`) instead of canceled.
    pub detach: Option<Arc<AtomicBool>>,
    pub started: Option<Instant>,
    pub finished_after_ms: Option<u64>,
    /// The report of a past run (for the quality view and the HTML export).
    pub report: Option<Box<RunReport>>,
    /// The job that ran it has ended (or it is a past run): nothing more will arrive.
    pub done: bool,
    /// The steps of a remote run (tier, remote id, status, measured figures).
    pub remote_steps: Vec<crate::app::remote::RemoteStepRow>,
    /// Estimated and actual cost per asset of a remote run.
    pub remote_costs: Vec<crate::app::plan::StepCost>,
    /// When a past run started: its events' stored times are placed on the timeline from here.
    origin: Option<DateTime<Utc>>,
    /// Where the next bar starts when no time is known (events without a stored time).
    sequential_ms: u64,
    /// Each partition's progress in this run (a backfill runs one run per partition), from
    /// its step and check events, by asset.
    pub partition_progress:
        HashMap<AssetKey, std::collections::BTreeMap<String, PartitionProgress>>,
    /// The partitions the launch asked for (a backfill), in order.
    pub planned_partitions: Vec<String>,
    /// Counts changes to `partition_progress` (the strip makes its columns again on one).
    pub partition_revision: u64,
}

/// Where one partition of a backfill stands, as its run's events tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionProgress {
    Running,
    Materialized,
    Failed,
}

impl RunView {
    /// A run about to start: the planned assets are queued.
    pub fn live(plan: &[AssetKey], cancel: Arc<AtomicBool>) -> Self {
        Self {
            nodes: plan
                .iter()
                .map(|k| (k.clone(), NodeStatus::Queued))
                .collect(),
            plan: plan.to_vec(),
            status: Some(RunStatus::Starting),
            cancel: Some(cancel),
            started: Some(Instant::now()),
            ..Self::default()
        }
    }

    /// A past run, rebuilt from its stored events and the times they were stored.
    pub fn past(
        run: RunRecord,
        events: Vec<(Option<DateTime<Utc>>, RunEvent)>,
        report: Box<RunReport>,
    ) -> Self {
        let mut view = Self {
            run_id: Some(run.id.clone()),
            status: Some(run.status),
            error: run.error.clone(),
            origin: Some(run.started_at.unwrap_or(run.created_at)),
            ..Self::default()
        };
        for (at, e) in events {
            view.apply_at(&run.id, at, e);
        }
        // A run that stopped without its last event (a crash) still shows what was stored.
        view.status = Some(run.status);
        view.finished_after_ms = duration_ms(&run);
        view.record = Some(run);
        view.report = Some(report);
        view.done = true;
        view
    }

    pub fn is_live(&self) -> bool {
        self.cancel.is_some() && !self.status.is_some_and(RunStatus::is_finished)
    }

    pub fn cancel(&mut self) {
        if let Some(flag) = &self.cancel {
            flag.store(true, Ordering::Relaxed);
            if self.is_live() {
                self.status = Some(RunStatus::Canceling);
            }
        }
    }

    /// Steps finished out of steps planned.
    pub fn progress(&self) -> (usize, usize) {
        let done = self.steps.iter().filter(|s| s.outcome.is_some()).count();
        (done, self.plan.len().max(done))
    }

    /// A bar's tone and words: its step's outcome and, when the data it built or checked then
    /// failed an Error check, that check — the asset failed, so its bar is red as its card is.
    /// A failed warning is named but leaves the bar as it was (the card stays fresh too).
    pub fn bar_verdict(&self, bar: &StepBar) -> (BarTone, String) {
        let Some(outcome) = &bar.outcome else {
            return (BarTone::Running, "running".to_owned());
        };
        let mut failed = self
            .checks
            .iter()
            .filter(|c| c.asset == bar.asset && !c.passed);
        let first_error = failed
            .clone()
            .find(|c| c.severity == crate::model::CheckSeverity::Error);
        let label = outcome.label();
        match outcome {
            // Nothing was built, and the data that stands failed an Error check: the step
            // failed (the run fails for it), so its bar is red as its card is.
            // (The run that found it is in the run's headline; the bar's words stay short.)
            StepOutcome::UpToDate { failing: Some(f) } => (
                BarTone::Failed,
                format!("up to date, check {} failed on its stored data", f.check),
            ),
            StepOutcome::Materialized
            | StepOutcome::Checked { .. }
            | StepOutcome::UpToDate { failing: None } => {
                if let Some(c) = first_error {
                    (
                        BarTone::Failed,
                        format!("{label}, check {} failed", c.check_name),
                    )
                } else {
                    let tone = if matches!(outcome, StepOutcome::UpToDate { .. }) {
                        BarTone::Faded
                    } else {
                        BarTone::Ok
                    };
                    match failed.next() {
                        Some(c) => (tone, format!("{label}, check {} warned", c.check_name)),
                        None => (tone, label.to_owned()),
                    }
                }
            }
            StepOutcome::Failed { .. } | StepOutcome::Blocked { .. } => {
                (BarTone::Failed, label.to_owned())
            }
            StepOutcome::Skipped { .. } | StepOutcome::Canceled => {
                (BarTone::Warning, label.to_owned())
            }
        }
    }

    /// What "Re-run failed and skipped" runs: the planned assets of a finished run that failed,
    /// were skipped, blocked or canceled, in plan order (empty while it runs or when all went
    /// well). Not one found up to date with its stored data failing a check: running it again
    /// would build nothing and fail the same way.
    pub fn rerun_keys(&self) -> Vec<AssetKey> {
        if !self.done || self.is_live() || self.never_started() {
            return Vec::new();
        }
        self.plan
            .iter()
            .filter(|k| {
                !self.steps.iter().any(|s| {
                    s.asset == **k && s.outcome.as_ref().is_some_and(StepOutcome::is_failing)
                })
            })
            .filter(|k| {
                matches!(
                    self.nodes.get(*k),
                    Some(
                        NodeStatus::Failed { .. }
                            | NodeStatus::Skipped { .. }
                            | NodeStatus::Blocked { .. }
                            | NodeStatus::Canceled
                    )
                )
            })
            .cloned()
            .collect()
    }

    /// The launch was refused before the run began (e.g. "Test first" found a failing unit
    /// test): no event arrived and nothing was recorded.
    pub fn never_started(&self) -> bool {
        self.done && self.run_id.is_none() && self.record.is_none()
    }

    /// The run's status as its header says it: "not started" for a refused launch, "queued"
    /// before the first event.
    pub fn status_label(&self) -> &'static str {
        if self.never_started() {
            return "not started";
        }
        self.status.map_or("queued", |s| s.as_str())
    }

    /// The colour of the run's status in its header.
    pub fn status_color(&self, visuals: &egui::Visuals) -> egui::Color32 {
        use crate::ui::theme;
        match self.status {
            _ if self.never_started() => theme::warning_color(),
            Some(RunStatus::Success) => theme::ok_color(),
            Some(RunStatus::Failure) => theme::error_color(),
            Some(RunStatus::Canceled | RunStatus::Canceling) => theme::warning_color(),
            Some(RunStatus::Started | RunStatus::Starting) => theme::running_color(),
            _ => visuals.weak_text_color(),
        }
    }

    pub fn checks_passed(&self) -> usize {
        self.checks.iter().filter(|c| c.passed).count()
    }

    /// A live event: it happened now.
    pub fn apply(&mut self, run_id: &RunId, event: RunEvent) {
        self.apply_at(run_id, None, event);
    }

    /// Milliseconds from the run's start to `at` (a stored event's time), or to now for a
    /// live run; else where the previous step ended.
    fn offset_ms(&self, at: Option<DateTime<Utc>>) -> u64 {
        match (at, self.origin, self.started) {
            (Some(at), Some(origin), _) => {
                u64::try_from((at - origin).num_milliseconds()).unwrap_or(0)
            }
            (_, _, Some(started)) => {
                u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
            }
            _ => self.sequential_ms,
        }
    }

    /// An event, with the time it was stored when it is a past run's.
    pub fn apply_at(&mut self, run_id: &RunId, at: Option<DateTime<Utc>>, event: RunEvent) {
        if self.run_id.as_deref() != Some(run_id) {
            self.run_id = Some(run_id.to_owned());
        }
        let (level, text) = log_of(&event);
        self.logs.push(LogLine {
            level,
            asset: event.asset().cloned(),
            lower: text.to_lowercase(),
            text,
        });
        match event {
            RunEvent::RunStarted { plan } => {
                // A live run starts now, not when it was asked for: its timeline and elapsed
                // time leave out planning and the queue, as its recorded duration does.
                if at.is_none() && self.started.is_some() {
                    self.started = Some(Instant::now());
                }
                for k in &plan {
                    self.nodes.insert(k.clone(), NodeStatus::Queued);
                }
                self.plan = plan;
                if !self.status.is_some_and(|s| s == RunStatus::Canceling) {
                    self.status = Some(RunStatus::Started);
                }
            }
            RunEvent::StepStarted {
                asset, partition, ..
            } => {
                if let Some(p) = partition {
                    self.set_partition(&asset, p, Some(PartitionProgress::Running));
                }
                self.nodes.insert(asset.clone(), NodeStatus::Running);
                self.steps.push(StepBar {
                    asset,
                    start_ms: self.offset_ms(at),
                    duration_ms: None,
                    outcome: None,
                    started: self.cancel.is_some().then(Instant::now),
                });
            }
            RunEvent::StepFinished {
                asset,
                partition,
                outcome,
                duration_ms,
                duration_known,
            } => {
                if let Some(p) = partition {
                    self.partition_finished(&asset, p, &outcome);
                }
                self.step_finished(
                    at,
                    asset,
                    outcome,
                    duration_known.then_some(duration_ms),
                    duration_ms,
                );
            }
            RunEvent::Materialization(m) => self.materializations.push(m),
            RunEvent::CheckEvaluation(c) => {
                if !c.passed && c.severity == crate::model::CheckSeverity::Error {
                    if let Some(p) = &c.partition {
                        self.set_partition(&c.asset, p.clone(), Some(PartitionProgress::Failed));
                    }
                    self.nodes.insert(
                        c.asset.clone(),
                        NodeStatus::Failed {
                            error: format!("check {} failed: {}", c.check_name, c.description),
                        },
                    );
                }
                self.checks.push(c);
            }
            RunEvent::Profile(p) => self.profiles.push(p),
            RunEvent::RunFinished { status, error } => {
                self.status = Some(status);
                self.error = error;
                self.finished_after_ms = self.started.map(|t| t.elapsed().as_millis() as u64);
                self.cancel = None;
                for s in &mut self.steps {
                    s.started = None;
                }
            }
            RunEvent::Log { .. } | RunEvent::SchemaDrift(_) => {}
        }
    }

    fn set_partition(
        &mut self,
        asset: &AssetKey,
        partition: String,
        progress: Option<PartitionProgress>,
    ) {
        let of_asset = self.partition_progress.entry(asset.clone()).or_default();
        match progress {
            Some(p) => {
                of_asset.insert(partition, p);
            }
            None => {
                of_asset.remove(&partition);
            }
        }
        self.partition_revision += 1;
    }

    /// A partition's step ended: materialized (or already up to date), failed, or not built
    /// (skipped, blocked, canceled: it stands as it was). A failed Error check on it has
    /// already marked it failed.
    fn partition_finished(&mut self, asset: &AssetKey, partition: String, outcome: &StepOutcome) {
        let failed_check = self
            .partition_progress
            .get(asset)
            .and_then(|m| m.get(&partition))
            == Some(&PartitionProgress::Failed);
        let progress = match outcome {
            _ if failed_check => Some(PartitionProgress::Failed),
            StepOutcome::Materialized | StepOutcome::UpToDate { failing: None } => {
                Some(PartitionProgress::Materialized)
            }
            StepOutcome::Failed { .. } | StepOutcome::UpToDate { failing: Some(_) } => {
                Some(PartitionProgress::Failed)
            }
            StepOutcome::Skipped { .. }
            | StepOutcome::Canceled
            | StepOutcome::Blocked { .. }
            | StepOutcome::Checked { .. } => None,
        };
        self.set_partition(asset, partition, progress);
    }

    /// A step finished: its card's status, its bar's duration and outcome, the clock.
    fn step_finished(
        &mut self,
        at: Option<DateTime<Utc>>,
        asset: AssetKey,
        outcome: StepOutcome,
        took: Option<u64>,
        duration_ms: u64,
    ) {
        let status = self.finished_status(&asset, &outcome);
        self.nodes.insert(asset.clone(), status);
        match self
            .steps
            .iter_mut()
            .rev()
            .find(|s| s.asset == asset && s.outcome.is_none())
        {
            Some(bar) => {
                bar.duration_ms = took;
                bar.outcome = Some(outcome);
                bar.started = None;
            }
            None => self.steps.push(StepBar {
                asset,
                start_ms: self.offset_ms(at).saturating_sub(duration_ms),
                duration_ms: took,
                outcome: Some(outcome),
                started: None,
            }),
        }
        self.sequential_ms += duration_ms;
    }

    /// The card status a finished step shows (a failed check has already marked it failed).
    fn finished_status(&self, asset: &AssetKey, outcome: &StepOutcome) -> NodeStatus {
        match outcome {
            StepOutcome::Materialized | StepOutcome::Checked { .. } => {
                // A failed check has already marked it failed.
                if matches!(self.nodes.get(asset), Some(NodeStatus::Failed { .. })) {
                    self.nodes
                        .get(asset)
                        .cloned()
                        .unwrap_or(NodeStatus::Success)
                } else if matches!(outcome, StepOutcome::Checked { .. }) {
                    NodeStatus::Checked
                } else {
                    NodeStatus::Success
                }
            }
            StepOutcome::UpToDate { failing: None } => NodeStatus::UpToDate,
            StepOutcome::UpToDate { failing: Some(f) } => NodeStatus::Failed {
                error: f.sentence(),
            },
            StepOutcome::Skipped { reason } => NodeStatus::Skipped {
                reason: reason.clone(),
            },
            StepOutcome::Failed { error } => NodeStatus::Failed {
                error: error.clone(),
            },
            StepOutcome::Canceled => NodeStatus::Canceled,
            StepOutcome::Blocked { reason, .. } => NodeStatus::Blocked {
                reason: reason.clone(),
            },
        }
    }

    /// The job that ran it has ended: nothing more will arrive. The clock stops (at the
    /// record's duration when there is one), and when the run did not succeed, assets still
    /// queued or running show the run's error — a launch that failed before anything ran
    /// leaves no card "queued".
    pub fn settle(&mut self) {
        for s in &mut self.steps {
            s.started = None;
        }
        if self.finished_after_ms.is_none() {
            self.finished_after_ms = self
                .record
                .as_ref()
                .and_then(RunRecord::duration_ms)
                .or_else(|| self.started.map(|t| t.elapsed().as_millis() as u64));
        }
        if self.status == Some(RunStatus::Success) {
            return;
        }
        let error = self
            .error
            .clone()
            .unwrap_or_else(|| "the run ended before this asset ran".to_owned());
        let canceled = self.status == Some(RunStatus::Canceled);
        for status in self.nodes.values_mut() {
            if matches!(status, NodeStatus::Queued | NodeStatus::Running) {
                *status = if canceled {
                    NodeStatus::Canceled
                } else {
                    NodeStatus::Failed {
                        error: error.clone(),
                    }
                };
            }
        }
    }

    /// Milliseconds since the run started (live) or its whole duration (finished); `None`
    /// when that is unknown (a run whose process died).
    pub fn elapsed_ms(&self) -> Option<u64> {
        self.finished_after_ms
            .or_else(|| self.started.map(|t| t.elapsed().as_millis() as u64))
    }
}

fn log_of(event: &RunEvent) -> (LogLevel, String) {
    let level = match event {
        RunEvent::Log { level, .. } => *level,
        RunEvent::StepFinished {
            outcome: StepOutcome::Failed { .. } | StepOutcome::Blocked { .. },
            ..
        }
        | RunEvent::RunFinished {
            status: RunStatus::Failure,
            ..
        } => LogLevel::Error,
        RunEvent::StepFinished {
            outcome: StepOutcome::Skipped { .. } | StepOutcome::Canceled,
            ..
        } => LogLevel::Warn,
        RunEvent::CheckEvaluation(c) if !c.passed => match c.severity {
            crate::model::CheckSeverity::Warn => LogLevel::Warn,
            crate::model::CheckSeverity::Error => LogLevel::Error,
        },
        RunEvent::Materialization(_) | RunEvent::Profile(_) => LogLevel::Debug,
        RunEvent::SchemaDrift(d) => {
            if d.error {
                LogLevel::Error
            } else {
                LogLevel::Warn
            }
        }
        _ => LogLevel::Info,
    };
    (level, event.summary())
}

/// A finished run's duration from its record's timestamps.
pub fn duration_ms(run: &RunRecord) -> Option<u64> {
    run.duration_ms()
}

/// `1.2 s`, `340 ms`, `2 min 3 s`.
pub fn format_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found under Xvfb: a live run's timeline counted from the click on "Start run", so
    /// planning and the worker's queue sat before the first bar and its axis said 137 ms for a
    /// run recorded as 70 ms. The run starts at its `RunStarted` event, as the recorded
    /// duration does.
    #[test]
    fn a_live_runs_timeline_starts_when_the_run_starts() {
        let a = AssetKey::new("a");
        let mut view = RunView::live(std::slice::from_ref(&a), Arc::new(AtomicBool::new(false)));
        // Planning and the queue before the engine starts the run.
        std::thread::sleep(std::time::Duration::from_millis(300));
        view.apply(
            &"r1".into(),
            RunEvent::RunStarted {
                plan: vec![a.clone()],
            },
        );
        view.apply(
            &"r1".into(),
            RunEvent::StepStarted {
                asset: a.clone(),
                partition: None,
                streamed: false,
            },
        );
        assert!(
            view.steps[0].start_ms < 300,
            "the first step starts {} ms into the run",
            view.steps[0].start_ms
        );
        assert!(view.elapsed_ms().is_some_and(|ms| ms < 300));
    }

    #[test]
    fn a_blocking_failure_marks_the_asset_failed_and_its_downstream_skipped() {
        let a = AssetKey::new("a");
        let b = AssetKey::new("b");
        let mut view = RunView::live(&[a.clone(), b.clone()], Arc::new(AtomicBool::new(false)));
        let events = vec![
            RunEvent::RunStarted {
                plan: vec![a.clone(), b.clone()],
            },
            RunEvent::StepStarted {
                asset: a.clone(),
                partition: None,
                streamed: false,
            },
            RunEvent::CheckEvaluation(AssetCheckResult {
                asset: a.clone(),
                partition: None,
                check_name: "a_unique".into(),
                passed: false,
                severity: crate::model::CheckSeverity::Error,
                blocking: true,
                description: "unique".into(),
                failing_count: 2,
                failing_sample: vec![],
                check_hash: String::new(),
                materialization_run_id: None,
            }),
            RunEvent::StepFinished {
                asset: a.clone(),
                partition: None,
                outcome: StepOutcome::Materialized,
                duration_ms: 40,
                duration_known: true,
            },
            RunEvent::StepFinished {
                asset: b.clone(),
                partition: None,
                outcome: StepOutcome::Skipped {
                    reason: "upstream a failed blocking check a_unique".into(),
                },
                duration_ms: 0,
                duration_known: true,
            },
            RunEvent::RunFinished {
                status: RunStatus::Failure,
                error: None,
            },
        ];
        for e in events {
            view.apply(&"r1".into(), e);
        }
        assert_eq!(view.nodes[&a].label(), "failed");
        assert_eq!(view.nodes[&b].label(), "skipped");
        // The step materialized, then its data failed a blocking check: its bar is red.
        let (tone, words) = view.bar_verdict(&view.steps[0]);
        assert_eq!(tone, BarTone::Failed);
        assert_eq!(words, "materialized, check a_unique failed");
        assert_eq!(view.bar_verdict(&view.steps[1]).0, BarTone::Warning);

        assert_eq!(view.status, Some(RunStatus::Failure));
        assert_eq!(view.steps.len(), 2);
        // Live, a bar starts when its event arrived (here at once), not after the bars before.
        let since_start = view.started.map(|t| t.elapsed().as_millis() as u64);
        assert!(since_start.is_some_and(|ms| view.steps[1].start_ms <= ms));
        assert_eq!(view.progress(), (2, 2));
        assert!(!view.is_live());
    }

    fn at(ms: i64) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp_millis(1_780_000_000_000 + ms)
    }

    fn past_record(end_known: bool) -> RunRecord {
        RunRecord {
            id: "r2".into(),
            project: "p".into(),
            selection: "*".into(),
            partition: None,
            target: "local".into(),
            status: RunStatus::Success,
            trigger: "manual".into(),
            created_at: at(0).unwrap(),
            started_at: at(0),
            ended_at: at(130),
            error: None,
            allow_failed_upstream: false,
            checks_only: false,
            end_known,
        }
    }

    fn report_of(run: &RunRecord) -> Box<RunReport> {
        Box::new(RunReport {
            run: run.clone(),
            duration_ms: run.duration_ms(),
            steps: vec![],
            materializations: vec![],
            checks: vec![],
            profiles: vec![],
            drifts: vec![],
            logs: vec![],
        })
    }

    #[test]
    fn a_past_runs_timeline_places_parallel_steps_where_they_ran() {
        let (a, b, c) = (AssetKey::new("a"), AssetKey::new("b"), AssetKey::new("c"));
        let finished = |asset: &AssetKey, duration_ms| RunEvent::StepFinished {
            asset: asset.clone(),
            partition: None,
            outcome: StepOutcome::Materialized,
            duration_ms,
            duration_known: true,
        };
        let started = |asset: &AssetKey| RunEvent::StepStarted {
            asset: asset.clone(),
            partition: None,
            streamed: false,
        };
        // a and b ran side by side; c started when both were done.
        let events = vec![
            (
                at(0),
                RunEvent::RunStarted {
                    plan: vec![a.clone(), b.clone(), c.clone()],
                },
            ),
            (at(5), started(&a)),
            (at(10), started(&b)),
            (at(105), finished(&a, 100)),
            (at(110), finished(&b, 100)),
            (at(112), started(&c)),
            (at(130), finished(&c, 18)),
            (
                at(130),
                RunEvent::RunFinished {
                    status: RunStatus::Success,
                    error: None,
                },
            ),
        ];
        let record = past_record(true);
        let view = RunView::past(record.clone(), events, report_of(&record));
        let starts: Vec<u64> = view.steps.iter().map(|s| s.start_ms).collect();
        assert_eq!(starts, vec![5, 10, 112]);
        assert_eq!(view.elapsed_ms(), Some(130));
    }

    #[test]
    fn a_run_whose_end_is_unknown_has_no_duration() {
        let a = AssetKey::new("a");
        let events = vec![
            (
                at(0),
                RunEvent::RunStarted {
                    plan: vec![a.clone()],
                },
            ),
            (
                at(5),
                RunEvent::StepStarted {
                    asset: a.clone(),
                    partition: None,
                    streamed: false,
                },
            ),
            (
                at(130),
                RunEvent::StepFinished {
                    asset: a,
                    partition: None,
                    outcome: StepOutcome::Failed {
                        error: "gone".into(),
                    },
                    duration_ms: 125,
                    duration_known: false,
                },
            ),
        ];
        let mut record = past_record(false);
        record.status = RunStatus::Failure;
        assert_eq!(record.duration_ms(), None);
        let report = report_of(&record);
        let view = RunView::past(record, events, report);
        assert_eq!(view.elapsed_ms(), None);
        assert_eq!(
            view.steps[0].duration_ms, None,
            "the step's own time is unknown too"
        );
        assert_eq!(view.steps[0].start_ms, 5);
    }
}
