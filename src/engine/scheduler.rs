//! The scheduler of a run: which steps may start now, what a finished step means for the
//! steps after it, and how the run ends. It owns every piece of a run's bookkeeping — the steps
//! still pending, those finished, running or still profiling, the blocks passed downstream
//! (a failed step, a failed blocking check), the tables kept in memory for downstream steps,
//! and the run's headline — and runs no thread and reads no data itself, so each decision can
//! be tested on its own. [`super::execute_io`] is a short loop that starts what
//! [`Scheduler::ready`] offers on threads and feeds their results to
//! [`Scheduler::on_finished`].
//!
//! The rules: a step starts once every upstream step of the run has finished; at most
//! `max_parallel` steps run at once; a step too big to sit beside others (see [`memory`]) runs
//! alone, after every other step and every profile of a table in memory is done (the profile
//! of an earlier streamed step, read from its file by the streaming engine, may go on beside
//! it) — except that streamed file sources (CSV, NDJSON, Parquet: read in batches straight into
//! their Parquet files, holding little memory) run beside each other; a step whose upstream
//! failed, was
//! skipped or is blocked by a failed blocking check does not run, and says why; after a cancel
//! nothing new starts. A table kept in memory is dropped once every step of the run that reads
//! it has finished.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

use polars::prelude::DataFrame;

use super::gate::{self, Block};
use super::memory::{self, MemoryBudget};
use super::step::StepResult;
use super::{EngineError, RunPlan};
use crate::model::{
    AssetGraph, AssetKey, AssetMaterialization, AssetSpec, CheckSeverity, LogLevel, RunEvent,
    RunStatus, StepOutcome,
};

/// What a run knows before it starts and never changes, shared by the scheduler and the
/// threads of its steps.
pub(super) struct RunContext<'p> {
    pub plan: &'p RunPlan,
    pub graph: AssetGraph,
    /// The latest stored materialization of each asset (in the run's partition).
    pub previous: BTreeMap<AssetKey, &'p AssetMaterialization>,
    /// Stored check results on the materializations in `previous`.
    pub stored_checks: gate::StoredChecks<'p>,
    pub budget: MemoryBudget,
    pub cancel: &'p AtomicBool,
}

impl<'p> RunContext<'p> {
    pub(super) fn new(plan: &'p RunPlan, budget: MemoryBudget, cancel: &'p AtomicBool) -> Self {
        Self {
            plan,
            graph: AssetGraph::build(&plan.project),
            previous: plan
                .previous
                .iter()
                .filter(|m| m.partition.is_none() || m.partition == plan.partition)
                .map(|m| (m.asset.clone(), m))
                .collect(),
            stored_checks: gate::StoredChecks::new(&plan.previous_checks),
            budget,
            cancel,
        }
    }

    fn cancel_requested(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// A step that may start now, with the materializations it reads.
pub(super) struct Launch<'c> {
    pub asset: &'c AssetSpec,
    pub partition: Option<String>,
    /// Too big to sit beside other steps: it runs alone and streams.
    pub heavy: bool,
    /// The materializations of its upstream assets: this run's, else the stored ones.
    pub inputs: BTreeMap<AssetKey, AssetMaterialization>,
    /// Upstream assets whose data failed a blocking check but may be read anyway
    /// (`--allow-failed-upstream`): said in the log when the step starts.
    overrides: Vec<(AssetKey, Block)>,
}

/// What a step's thread reports when the step is done (its profile may still be running).
pub(super) struct Finished {
    pub key: AssetKey,
    pub partition: Option<String>,
    pub result: Result<StepResult, EngineError>,
    pub duration_ms: u64,
    pub heavy: bool,
    /// The step's table, still in memory, for its downstream steps in this run.
    pub frame: Option<DataFrame>,
    /// The step's thread goes on to profile it; [`Scheduler::on_profiled`] follows.
    pub profiling: bool,
}

/// What [`Scheduler::ready`] decided about one pending step.
enum Decision<'c> {
    /// It will never run and has been reported (missing, canceled, blocked).
    Settled,
    /// It may run, but not yet (an upstream is unfinished, or the limits are reached).
    Wait,
    Start(Launch<'c>),
}

/// Tables still in memory, handed to downstream steps of this run instead of reading their
/// stored files back; each is dropped once every consumer in the plan has finished. They take
/// at most half the memory budget: a table that does not fit beside them is read back from its
/// file instead.
#[derive(Default)]
struct Tables {
    frames: BTreeMap<AssetKey, DataFrame>,
    bytes: u64,
    /// The steps of the run that read each asset of the run.
    consumers: BTreeMap<AssetKey, Vec<AssetKey>>,
}

/// Whether a heavy (streamed) step of `asset` may run beside other streamed steps like it: a
/// file source polars reads in batches (CSV, NDJSON, Parquet) straight into its Parquet file
/// holds a few batches in memory, not its table. (A JSON document is parsed whole.) The two
/// sources of a run at N = 10,000,000 then share the two cores instead of taking turns.
fn streams_beside(asset: &AssetSpec) -> bool {
    matches!(
        &asset.definition,
        crate::model::AssetDefinition::Source(crate::model::SourceSpec::File {
            format: crate::model::FileFormat::Csv(_)
                | crate::model::FileFormat::Ndjson
                | crate::model::FileFormat::Parquet,
            ..
        })
    )
}

/// The bookkeeping of one run. See the module documentation for the rules it applies.
pub(super) struct Scheduler<'c> {
    ctx: &'c RunContext<'c>,
    max_parallel: usize,
    in_plan: BTreeSet<&'c AssetKey>,
    /// Assets outside the run whose stored data failed a blocking check: their downstream
    /// steps in this run are blocked (checks-only runs compute nothing, so nothing is gated).
    outside: BTreeMap<AssetKey, Block>,
    /// Steps not yet started or settled, in plan order.
    pending: Vec<&'c AssetKey>,
    /// Where the current scan of `pending` stands; a scan restarts from the top after a step
    /// finishes.
    cursor: usize,
    finished: BTreeSet<AssetKey>,
    /// Why each step that cannot feed its downstream steps cannot.
    blocked: BTreeMap<AssetKey, Block>,
    /// This run's materializations.
    current: BTreeMap<AssetKey, AssetMaterialization>,
    tables: Tables,
    running: usize,
    /// A heavy step is running: nothing else starts.
    exclusive: bool,
    /// Streamed file sources running (see [`streams_beside`]): only another may start.
    streamed_sources: usize,
    /// Steps whose thread is still profiling a table in memory: the run ends when they are
    /// done, and a heavy step waits for them (the table is still held).
    profiling: usize,
    /// Streamed steps whose thread is still profiling their file (with the streaming engine,
    /// never whole in memory): the run ends when they are done, but a heavy step may start.
    profiling_streamed: usize,
    failed: bool,
    canceled: bool,
    /// The first thing that went wrong: the run's failure headline.
    headline: Option<String>,
    /// Running steps that read upstream data which failed a blocking check
    /// (`--allow-failed-upstream`): what their log says if they are built.
    overridden: BTreeMap<AssetKey, Vec<String>>,
}

impl<'c> Scheduler<'c> {
    /// A scheduler for the plan of `ctx`, running at most `max_parallel` steps at once.
    pub(super) fn new(ctx: &'c RunContext<'c>, max_parallel: usize) -> Self {
        let plan = ctx.plan;
        let in_plan: BTreeSet<&AssetKey> = plan.steps.iter().collect();
        let outside = if plan.checks_only {
            BTreeMap::new()
        } else {
            ctx.previous
                .iter()
                .filter(|(k, _)| !in_plan.contains(k))
                .filter_map(|(k, m)| {
                    let asset = plan.project.asset(k)?;
                    gate::stored_block(asset, m, &ctx.stored_checks).map(|b| (k.clone(), b))
                })
                .collect()
        };
        let mut consumers: BTreeMap<AssetKey, Vec<AssetKey>> = BTreeMap::new();
        for step in &plan.steps {
            for up in ctx.graph.upstream(step) {
                if in_plan.contains(up) {
                    consumers.entry(up.clone()).or_default().push(step.clone());
                }
            }
        }
        Self {
            ctx,
            max_parallel: max_parallel.max(1),
            in_plan,
            outside,
            pending: plan.steps.iter().collect(),
            cursor: 0,
            finished: BTreeSet::new(),
            blocked: BTreeMap::new(),
            current: BTreeMap::new(),
            tables: Tables {
                consumers,
                ..Tables::default()
            },
            running: 0,
            exclusive: false,
            streamed_sources: 0,
            profiling: 0,
            profiling_streamed: 0,
            failed: false,
            canceled: false,
            headline: None,
            overridden: BTreeMap::new(),
        }
    }

    /// The next step that may start now, in plan order, or `None` when none may. Steps found
    /// on the way that will never run (missing from the project, canceled, downstream of a
    /// failure or a failed blocking check) are reported through `emit` and settled. Offers the
    /// same step again until it is [started](Self::start).
    pub(super) fn ready(&mut self, emit: &mut dyn FnMut(RunEvent)) -> Option<Launch<'c>> {
        while self.cursor < self.pending.len() {
            let key = self.pending[self.cursor];
            match self.decide(key, emit) {
                Decision::Settled => {
                    self.pending.remove(self.cursor);
                }
                Decision::Wait => self.cursor += 1,
                Decision::Start(launch) => return Some(launch),
            }
        }
        self.cursor = 0;
        None
    }

    /// Whether `key` may start now, will never run (reported and settled), or waits.
    fn decide(&mut self, key: &'c AssetKey, emit: &mut dyn FnMut(RunEvent)) -> Decision<'c> {
        let ctx = self.ctx;
        let plan = ctx.plan;
        let upstream = ctx.graph.upstream(key);
        if upstream
            .iter()
            .any(|u| self.in_plan.contains(u) && !self.finished.contains(*u))
        {
            return Decision::Wait;
        }
        let Some(asset) = plan.project.asset(key) else {
            self.failed = true;
            emit(RunEvent::Log {
                level: LogLevel::Error,
                asset: Some(key.clone()),
                message: format!("asset {key} is not in the project"),
            });
            self.blocked
                .insert(key.clone(), Block::Reason("is missing".to_owned()));
            self.finished.insert(key.clone());
            return Decision::Settled;
        };
        let partition = asset
            .partitions
            .is_partitioned()
            .then(|| plan.partition.clone())
            .flatten();
        if self.canceled || ctx.cancel_requested() {
            self.canceled = true;
            self.settle(key, partition, StepOutcome::Canceled, emit);
            return Decision::Settled;
        }
        if let Some((up, block)) = self.block_on(&upstream, false).into_iter().next() {
            let outcome = block.downstream_outcome(&up);
            if matches!(block, Block::Check { .. }) {
                // Something selected could not be built: the run fails.
                self.failed = true;
                if self.headline.is_none() {
                    self.headline = outcome.detail().map(|d| format!("{key} {d}"));
                }
            }
            self.blocked.insert(key.clone(), block.passed_on());
            self.settle(key, partition, outcome, emit);
            return Decision::Settled;
        }
        let overrides = self.block_on(&upstream, true);
        let inputs: BTreeMap<AssetKey, AssetMaterialization> = upstream
            .iter()
            .filter_map(|u| {
                self.current
                    .get(*u)
                    .cloned()
                    .or_else(|| ctx.previous.get(*u).map(|m| (*m).clone()))
                    .map(|m| ((*u).clone(), m))
            })
            .collect();
        // A step too big to sit beside others runs alone and streams.
        let heavy = ctx.budget.streams(memory::estimated_bytes(
            asset,
            &plan.project_dir,
            partition.as_deref(),
            &inputs.values().collect::<Vec<_>>(),
        ));
        let busy = if heavy && streams_beside(asset) {
            // Beside other streamed sources only.
            self.running > self.streamed_sources || self.profiling > 0
        } else if heavy {
            self.running > 0 || self.profiling > 0
        } else {
            self.streamed_sources > 0
        };
        if self.running >= self.max_parallel || self.exclusive || busy {
            return Decision::Wait;
        }
        Decision::Start(Launch {
            asset,
            partition,
            heavy,
            inputs,
            overrides,
        })
    }

    /// The blocks on `upstream` assets: those that keep a step from running (`overridden` =
    /// false; the first decides), or those `--allow-failed-upstream` lets it read anyway. A
    /// failed check does not block with `--allow-failed-upstream`; a failed or skipped upstream
    /// step always does.
    fn block_on(&self, upstream: &[&AssetKey], overridden: bool) -> Vec<(AssetKey, Block)> {
        let allow = self.ctx.plan.allow_failed_upstream;
        upstream
            .iter()
            .filter_map(|up| {
                self.blocked
                    .get(*up)
                    .or_else(|| self.outside.get(*up))
                    .filter(|b| (allow && matches!(b, Block::Check { .. })) == overridden)
                    .map(|b| ((*up).clone(), b.clone()))
            })
            .collect()
    }

    /// Reports a step that never ran as finished with `outcome`.
    fn settle(
        &mut self,
        key: &AssetKey,
        partition: Option<String>,
        outcome: StepOutcome,
        emit: &mut dyn FnMut(RunEvent),
    ) {
        emit(RunEvent::StepFinished {
            asset: key.clone(),
            partition,
            outcome,
            duration_ms: 0,
            duration_known: true,
        });
        self.finished.insert(key.clone());
    }

    /// Starts a step [`ready`](Self::ready) offered: reports it and counts it as running.
    /// Returns the tables of its upstream steps still in memory, for it to read.
    pub(super) fn start(
        &mut self,
        launch: &Launch<'c>,
        emit: &mut dyn FnMut(RunEvent),
    ) -> BTreeMap<AssetKey, DataFrame> {
        let key = &launch.asset.key;
        if let Some(i) = self.pending.iter().position(|k| *k == key) {
            self.pending.remove(i);
            if i < self.cursor {
                self.cursor -= 1;
            }
        }
        // Said when the step is built: one found up to date is not built from anything.
        let overrides: Vec<String> = launch
            .overrides
            .iter()
            .filter_map(|(up, block)| match block {
                Block::Check { check, run_id, .. } => Some(format!(
                    "{key}: built from {up}, whose data failed blocking check {check} in run {run_id} (--allow-failed-upstream)"
                )),
                Block::Reason(_) => None,
            })
            .collect();
        if !overrides.is_empty() {
            self.overridden.insert(key.clone(), overrides);
        }
        emit(RunEvent::StepStarted {
            asset: key.clone(),
            partition: launch.partition.clone(),
            streamed: launch.heavy,
        });
        self.running += 1;
        if launch.heavy && streams_beside(launch.asset) {
            self.streamed_sources += 1;
        } else {
            self.exclusive = launch.heavy;
        }
        self.ctx
            .graph
            .upstream(key)
            .into_iter()
            .filter_map(|u| self.tables.frames.get(u).map(|df| (u.clone(), df.clone())))
            .collect()
    }

    /// Drops the tables no step of this run will read again (every consumer finished, was
    /// skipped or canceled).
    pub(super) fn release_tables(&mut self) {
        let Tables {
            frames,
            bytes,
            consumers,
        } = &mut self.tables;
        let finished = &self.finished;
        frames.retain(|k, df| {
            let keep = consumers
                .get(k)
                .is_some_and(|cs| cs.iter().any(|c| !finished.contains(c)));
            if !keep {
                *bytes = bytes.saturating_sub(df.estimated_size() as u64);
            }
            keep
        });
    }

    /// Notes an event a step sent: the first failed Error check is the run's headline.
    pub(super) fn on_event(&mut self, event: &RunEvent) {
        if let RunEvent::CheckEvaluation(c) = event
            && !c.passed
            && c.severity == CheckSeverity::Error
        {
            self.headline.get_or_insert_with(|| {
                format!(
                    "check {} of asset {} failed: {}",
                    c.check_name, c.asset, c.description
                )
            });
        }
    }

    /// A step's profile is done (`streamed`: of a streamed step's file).
    pub(super) fn on_profiled(&mut self, streamed: bool) {
        if streamed {
            self.profiling_streamed = self.profiling_streamed.saturating_sub(1);
        } else {
            self.profiling = self.profiling.saturating_sub(1);
        }
        self.cursor = 0;
    }

    /// A step is done: keeps its table for its downstream steps (when it fits), records its
    /// materialization and what blocks its downstream steps, and reports its outcome.
    pub(super) fn on_finished(&mut self, done: Finished, emit: &mut dyn FnMut(RunEvent)) {
        let Finished {
            key,
            partition,
            result,
            duration_ms,
            heavy,
            frame,
            profiling,
        } = done;
        self.cursor = 0;
        self.running -= 1;
        if heavy {
            let beside = self
                .ctx
                .plan
                .project
                .asset(&key)
                .is_some_and(streams_beside);
            if beside {
                self.streamed_sources = self.streamed_sources.saturating_sub(1);
            } else {
                self.exclusive = false;
            }
        }
        if profiling && heavy {
            self.profiling_streamed += 1;
        } else if profiling {
            self.profiling += 1;
        }
        self.finished.insert(key.clone());
        if let Some(df) = frame
            && self.tables.consumers.contains_key(&key)
        {
            let bytes = df.estimated_size() as u64;
            if self.ctx.budget.may_keep(self.tables.bytes, bytes) {
                self.tables.bytes += bytes;
                self.tables.frames.insert(key.clone(), df);
            }
        }
        let overridden = self.overridden.remove(&key).unwrap_or_default();
        let outcome = match result {
            Ok(result) => self.on_result(&key, result),
            Err(_) if self.ctx.cancel_requested() => {
                // The step stopped because the run was canceled (a fetch in flight gave up).
                self.canceled = true;
                StepOutcome::Canceled
            }
            Err(error) => {
                let error = error.to_string();
                self.failed = true;
                self.headline.get_or_insert_with(|| error.clone());
                self.blocked
                    .insert(key.clone(), Block::Reason("failed".to_owned()));
                emit(RunEvent::Log {
                    level: LogLevel::Error,
                    asset: Some(key.clone()),
                    message: error.clone(),
                });
                StepOutcome::Failed { error }
            }
        };
        if matches!(outcome, StepOutcome::Materialized) {
            for message in overridden {
                emit(RunEvent::Log {
                    level: LogLevel::Warn,
                    asset: Some(key.clone()),
                    message,
                });
            }
        }
        emit(RunEvent::StepFinished {
            asset: key,
            partition,
            outcome,
            duration_ms,
            duration_known: true,
        });
    }

    /// The outcome of a step that ran to its end. A failed Error check fails the run (its
    /// evaluation, with its cause, already set the headline); a failed blocking one blocks the
    /// step's downstream steps.
    fn on_result(&mut self, key: &AssetKey, result: StepResult) -> StepOutcome {
        let (materialization, blocking, error_failure, outcome) = match result {
            StepResult::UpToDate {
                materialization,
                blocking_failure,
                error_failure,
                stored_failure,
            } => {
                // Its data failed an Error check in an earlier run and is unchanged: this run
                // fails for it too, whether or not anything downstream is in the run.
                let failing = stored_failure.map(|(check, run_id)| {
                    self.failed = true;
                    self.headline.get_or_insert_with(|| {
                        format!(
                            "check {check} of asset {key} failed on its stored data in run {run_id}"
                        )
                    });
                    crate::model::StoredFailure { check, run_id }
                });
                (
                    Some(materialization),
                    blocking_failure,
                    error_failure,
                    StepOutcome::UpToDate { failing },
                )
            }
            StepResult::Checked {
                materialization,
                error_failure,
            } => (
                None,
                None,
                error_failure,
                StepOutcome::Checked {
                    run_id: materialization.run_id,
                },
            ),
            StepResult::NothingToCheck(reason) => {
                (None, None, None, StepOutcome::Skipped { reason })
            }
            StepResult::Materialized {
                materialization,
                blocking_failure,
                error_failure,
            } => (
                Some(materialization),
                blocking_failure.map(|check| (check, self.ctx.plan.run_id.clone())),
                error_failure,
                StepOutcome::Materialized,
            ),
        };
        if let Some(m) = materialization {
            self.current.insert(key.clone(), m);
        }
        self.failed |= error_failure.is_some();
        if let Some((check, run_id)) = blocking {
            self.blocked.insert(
                key.clone(),
                Block::Check {
                    upstream: key.clone(),
                    check,
                    run_id,
                },
            );
        }
        outcome
    }

    /// Whether nothing is running or profiling: with nothing [`ready`](Self::ready), the run
    /// is over.
    pub(super) fn idle(&self) -> bool {
        self.running == 0 && self.profiling == 0 && self.profiling_streamed == 0
    }

    /// Ends the run: a step still pending could never start (it waits on itself through a
    /// cycle); reports the run's status and headline, and returns the status.
    pub(super) fn finish(self, emit: &mut dyn FnMut(RunEvent)) -> RunStatus {
        let mut failed = self.failed;
        for key in self.pending {
            failed = true;
            emit(RunEvent::StepFinished {
                asset: key.clone(),
                partition: None,
                outcome: StepOutcome::Skipped {
                    reason: "its upstream assets never finished".to_owned(),
                },
                duration_ms: 0,
                duration_known: true,
            });
        }
        let status = if self.canceled {
            RunStatus::Canceled
        } else if failed {
            RunStatus::Failure
        } else {
            RunStatus::Success
        };
        let error = match status {
            RunStatus::Failure => Some(
                self.headline
                    .unwrap_or_else(|| "a step or an error check failed".to_owned()),
            ),
            RunStatus::Canceled => Some("canceled".to_owned()),
            _ => None,
        };
        emit(RunEvent::RunFinished { status, error });
        status
    }

    /// Whether the table of `key` is kept in memory.
    #[cfg(test)]
    fn holds_table(&self, key: &str) -> bool {
        self.tables.frames.contains_key(&AssetKey::new(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Layer, Project, RunId};
    use polars::prelude::df;

    /// A project of transforms (no source files to look at): `(key, upstream keys)`.
    fn plan(assets: &[(&str, &[&str])], steps: &[&str]) -> RunPlan {
        let assets = assets
            .iter()
            .map(|(key, deps)| {
                let mut a = AssetSpec::new(*key, Layer::Silver);
                a.deps = deps.iter().map(|d| AssetKey::new(*d)).collect();
                a
            })
            .collect();
        RunPlan {
            run_id: "r1".into(),
            project: Project {
                assets,
                ..Project::new("t")
            },
            project_dir: std::env::temp_dir(),
            store_dir: std::env::temp_dir(),
            steps: steps.iter().map(|s| AssetKey::new(*s)).collect(),
            partition: None,
            force: false,
            previous: Vec::new(),
            previous_checks: Vec::new(),
            allow_failed_upstream: false,
            checks_only: false,
            masking: crate::engine::mask::Masking::default(),
        }
    }

    fn budget(mib: u64) -> MemoryBudget {
        MemoryBudget {
            bytes: mib << 20,
            explicit: true,
        }
    }

    fn stored(key: &str, run_id: &RunId, byte_count: u64) -> AssetMaterialization {
        AssetMaterialization {
            asset: AssetKey::new(key),
            partition: None,
            run_id: run_id.to_owned(),
            location: format!("/nowhere/{key}.parquet"),
            row_count: 1,
            byte_count,
            schema: Vec::new(),
            definition_hash: String::new(),
            code_version: None,
            input_versions: BTreeMap::new(),
            data_version: format!("v-{key}"),
            created_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn materialized(key: &str, frame: bool) -> Finished {
        Finished {
            key: AssetKey::new(key),
            partition: None,
            result: Ok(StepResult::Materialized {
                materialization: stored(key, &"r1".into(), 10),
                blocking_failure: None,
                error_failure: None,
            }),
            duration_ms: 5,
            heavy: false,
            frame: frame.then(|| df!("id" => [1i64, 2]).unwrap()),
            profiling: false,
        }
    }

    /// Starts every step the scheduler offers now; returns their keys in order.
    fn start_ready(s: &mut Scheduler<'_>, events: &mut Vec<RunEvent>) -> Vec<String> {
        let mut emit = |e: RunEvent| events.push(e);
        let mut started = Vec::new();
        while let Some(launch) = s.ready(&mut emit) {
            s.start(&launch, &mut emit);
            started.push(launch.asset.key.to_string());
        }
        s.release_tables();
        started
    }

    fn outcome_of<'e>(events: &'e [RunEvent], key: &str) -> Option<&'e StepOutcome> {
        events.iter().find_map(|e| match e {
            RunEvent::StepFinished { asset, outcome, .. } if asset.as_str() == key => Some(outcome),
            _ => None,
        })
    }

    #[test]
    fn a_step_starts_when_its_upstream_steps_finish_and_tables_go_when_read() {
        let plan = plan(
            &[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])],
            &["a", "b", "c", "d"],
        );
        let cancel = AtomicBool::new(false);
        let ctx = RunContext::new(&plan, budget(1024), &cancel);
        let mut s = Scheduler::new(&ctx, 4);
        let mut events = Vec::new();
        assert_eq!(start_ready(&mut s, &mut events), ["a"]);
        assert!(!s.idle());
        s.on_finished(materialized("a", true), &mut |e| events.push(e));
        assert!(s.holds_table("a"), "b and c read a's table");
        assert_eq!(start_ready(&mut s, &mut events), ["b", "c"]);
        s.on_finished(materialized("b", true), &mut |e| events.push(e));
        assert_eq!(start_ready(&mut s, &mut events), Vec::<String>::new());
        assert!(s.holds_table("a"), "c still reads a's table");
        s.on_finished(materialized("c", true), &mut |e| events.push(e));
        // d reads the tables of b and c, handed over when it starts.
        let mut emit = |e: RunEvent| events.push(e);
        let launch = s.ready(&mut emit).expect("d may start");
        let frames = s.start(&launch, &mut emit);
        assert_eq!(
            frames.keys().map(AssetKey::as_str).collect::<Vec<_>>(),
            ["b", "c"]
        );
        s.release_tables();
        assert!(!s.holds_table("a"), "every reader of a finished");
        assert!(s.holds_table("b") && s.holds_table("c"));
        s.on_finished(materialized("d", false), &mut emit);
        s.release_tables();
        assert!(!s.holds_table("b") && !s.holds_table("c"));
        assert!(s.ready(&mut emit).is_none());
        assert!(s.idle());
        assert_eq!(s.finish(&mut emit), RunStatus::Success);
        assert_eq!(outcome_of(&events, "d"), Some(&StepOutcome::Materialized));
        assert!(matches!(
            events.last(),
            Some(RunEvent::RunFinished {
                status: RunStatus::Success,
                error: None
            })
        ));
    }

    #[test]
    fn no_more_steps_run_at_once_than_allowed() {
        let plan = plan(&[("a", &[]), ("b", &[]), ("c", &[])], &["a", "b", "c"]);
        let cancel = AtomicBool::new(false);
        let ctx = RunContext::new(&plan, budget(1024), &cancel);
        let mut s = Scheduler::new(&ctx, 2);
        let mut events = Vec::new();
        assert_eq!(start_ready(&mut s, &mut events), ["a", "b"]);
        s.on_finished(materialized("b", false), &mut |e| events.push(e));
        assert_eq!(start_ready(&mut s, &mut events), ["c"]);
        // A step offered but not started is offered again.
        let plan = plan_one();
        let ctx = RunContext::new(&plan, budget(1024), &cancel);
        let mut s = Scheduler::new(&ctx, 1);
        let mut emit = |_| {};
        assert!(s.ready(&mut emit).is_some());
        assert!(s.ready(&mut emit).is_some());
    }

    fn plan_one() -> RunPlan {
        plan(&[("a", &[])], &["a"])
    }

    #[test]
    fn a_step_too_big_to_share_memory_runs_alone() {
        // `big` reads a stored table of 100 MiB (about 1 GiB in memory): above half the budget.
        let mut plan = plan(
            &[
                ("small", &[]),
                ("up", &[]),
                ("big", &["up"]),
                ("after", &[]),
            ],
            &["small", "big", "after"],
        );
        plan.previous = vec![stored("up", &"r0".into(), 100 << 20)];
        let cancel = AtomicBool::new(false);
        let ctx = RunContext::new(&plan, budget(1024), &cancel);
        let mut s = Scheduler::new(&ctx, 4);
        let mut events = Vec::new();
        assert_eq!(start_ready(&mut s, &mut events), ["small", "after"]);
        s.on_finished(materialized("small", false), &mut |e| events.push(e));
        assert_eq!(start_ready(&mut s, &mut events), Vec::<String>::new());
        s.on_finished(materialized("after", false), &mut |e| events.push(e));
        let mut emit = |e: RunEvent| events.push(e);
        let launch = s.ready(&mut emit).expect("big may start once alone");
        assert!(launch.heavy);
        assert_eq!(launch.inputs[&AssetKey::new("up")].run_id, "r0");
        s.start(&launch, &mut emit);
        assert!(s.ready(&mut emit).is_none());
    }

    /// A heavy step waits for the profile of a table in memory (the table is still held), not
    /// for the profile of an earlier streamed step, which reads its file with the streaming
    /// engine; the run ends only when every profile is done.
    #[test]
    fn a_heavy_step_starts_beside_a_streamed_profile_but_not_an_in_memory_one() {
        let mut plan = plan(
            &[
                ("small", &[]),
                ("up", &[]),
                ("big", &["up", "small"]),
                ("bigger", &["up", "big"]),
            ],
            &["small", "big", "bigger"],
        );
        plan.previous = vec![stored("up", &"r0".into(), 100 << 20)];
        let cancel = AtomicBool::new(false);
        let ctx = RunContext::new(&plan, budget(1024), &cancel);
        let mut s = Scheduler::new(&ctx, 4);
        let mut events = Vec::new();
        assert_eq!(start_ready(&mut s, &mut events), ["small"]);
        let mut small = materialized("small", true);
        small.profiling = true;
        s.on_finished(small, &mut |e| events.push(e));
        assert_eq!(
            start_ready(&mut s, &mut events),
            Vec::<String>::new(),
            "small's table is still being profiled in memory"
        );
        s.on_profiled(false);
        assert_eq!(start_ready(&mut s, &mut events), ["big"]);
        let mut big = materialized("big", false);
        big.heavy = true;
        big.profiling = true;
        s.on_finished(big, &mut |e| events.push(e));
        assert_eq!(
            start_ready(&mut s, &mut events),
            ["bigger"],
            "big's profile reads its file with the streaming engine"
        );
        let mut bigger = materialized("bigger", false);
        bigger.heavy = true;
        s.on_finished(bigger, &mut |e| events.push(e));
        assert!(!s.idle(), "big's profile is still running");
        s.on_profiled(true);
        assert!(s.idle());
    }

    /// Streamed file sources hold little memory: they run beside each other, but nothing else
    /// runs beside them, and a heavy transform still runs alone.
    #[test]
    fn streamed_file_sources_run_beside_each_other_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = plan(
            &[
                ("c1", &[]),
                ("c2", &[]),
                ("small", &[]),
                ("up", &[]),
                ("big", &["up"]),
            ],
            &["c1", "c2", "small", "big"],
        );
        plan.project_dir = dir.path().to_owned();
        for key in ["c1", "c2"] {
            // 200 KiB of CSV: about 800 KiB in memory, above half of the 1 MiB budget.
            std::fs::write(
                dir.path().join(format!("{key}.csv")),
                "x\n".repeat(100 << 10),
            )
            .unwrap();
            let asset = plan
                .project
                .assets
                .iter_mut()
                .find(|a| a.key.as_str() == key)
                .unwrap();
            asset.definition =
                crate::model::AssetDefinition::Source(crate::model::SourceSpec::File {
                    path: format!("{key}.csv"),
                    format: crate::model::FileFormat::Csv(crate::model::CsvOptions::default()),
                });
        }
        plan.previous = vec![stored("up", &"r0".into(), 100 << 20)];
        let cancel = AtomicBool::new(false);
        let ctx = RunContext::new(&plan, budget(1), &cancel);
        let mut s = Scheduler::new(&ctx, 4);
        let mut events = Vec::new();
        assert_eq!(start_ready(&mut s, &mut events), ["c1", "c2"]);
        let streamed = |events: &[RunEvent]| {
            events
                .iter()
                .filter(|e| matches!(e, RunEvent::StepStarted { streamed: true, .. }))
                .count()
        };
        assert_eq!(streamed(&events), 2);
        let heavy = |key: &str| Finished {
            heavy: true,
            ..materialized(key, false)
        };
        s.on_finished(heavy("c1"), &mut |e| events.push(e));
        assert_eq!(
            start_ready(&mut s, &mut events),
            Vec::<String>::new(),
            "c2 still streams: neither small nor big starts beside it"
        );
        s.on_finished(heavy("c2"), &mut |e| events.push(e));
        assert_eq!(start_ready(&mut s, &mut events), ["small"]);
        s.on_finished(materialized("small", false), &mut |e| events.push(e));
        assert_eq!(start_ready(&mut s, &mut events), ["big"]);
        assert!(s.exclusive, "a heavy transform runs alone");
    }

    #[test]
    fn a_failed_step_skips_its_downstream_steps_and_fails_the_run() {
        let plan = plan(
            &[("a", &[]), ("b", &["a"]), ("c", &["b"]), ("x", &[])],
            &["a", "b", "c", "x"],
        );
        let cancel = AtomicBool::new(false);
        let ctx = RunContext::new(&plan, budget(1024), &cancel);
        let mut s = Scheduler::new(&ctx, 1);
        let mut events = Vec::new();
        assert_eq!(start_ready(&mut s, &mut events), ["a"]);
        let error = EngineError::Internal {
            asset: AssetKey::new("a"),
            message: "boom".to_owned(),
        };
        let failed = Finished {
            result: Err(error),
            ..materialized("a", false)
        };
        s.on_finished(failed, &mut |e| events.push(e));
        assert_eq!(start_ready(&mut s, &mut events), ["x"]);
        assert_eq!(
            outcome_of(&events, "a"),
            Some(&StepOutcome::Failed {
                error: "asset a: internal error: boom".to_owned()
            })
        );
        assert_eq!(
            outcome_of(&events, "b"),
            Some(&StepOutcome::Skipped {
                reason: "upstream a failed".to_owned()
            })
        );
        assert_eq!(
            outcome_of(&events, "c"),
            Some(&StepOutcome::Skipped {
                reason: "upstream b was skipped".to_owned()
            })
        );
        let mut emit = |e: RunEvent| events.push(e);
        s.on_finished(materialized("x", false), &mut emit);
        assert!(s.ready(&mut emit).is_none() && s.idle());
        assert_eq!(s.finish(&mut emit), RunStatus::Failure);
        assert!(matches!(
            events.last(),
            Some(RunEvent::RunFinished { error: Some(e), .. }) if e == "asset a: internal error: boom"
        ));
    }

    #[test]
    fn after_a_cancel_nothing_new_starts() {
        let plan = plan(&[("a", &[]), ("b", &["a"]), ("c", &[])], &["a", "b", "c"]);
        let cancel = AtomicBool::new(false);
        let ctx = RunContext::new(&plan, budget(1024), &cancel);
        let mut s = Scheduler::new(&ctx, 1);
        let mut events = Vec::new();
        assert_eq!(start_ready(&mut s, &mut events), ["a"]);
        cancel.store(true, Ordering::Relaxed);
        s.on_finished(materialized("a", false), &mut |e| events.push(e));
        assert_eq!(start_ready(&mut s, &mut events), Vec::<String>::new());
        assert_eq!(outcome_of(&events, "b"), Some(&StepOutcome::Canceled));
        assert_eq!(outcome_of(&events, "c"), Some(&StepOutcome::Canceled));
        assert_eq!(s.finish(&mut |e| events.push(e)), RunStatus::Canceled);
    }

    #[test]
    fn a_step_that_can_never_start_is_skipped_at_the_end() {
        // a and b wait on each other: neither is ever offered.
        let plan = plan(&[("a", &["b"]), ("b", &["a"])], &["a", "b"]);
        let cancel = AtomicBool::new(false);
        let ctx = RunContext::new(&plan, budget(1024), &cancel);
        let mut s = Scheduler::new(&ctx, 2);
        let mut events = Vec::new();
        assert_eq!(start_ready(&mut s, &mut events), Vec::<String>::new());
        assert!(s.idle());
        assert_eq!(s.finish(&mut |e| events.push(e)), RunStatus::Failure);
        assert_eq!(
            outcome_of(&events, "a"),
            Some(&StepOutcome::Skipped {
                reason: "its upstream assets never finished".to_owned()
            })
        );
    }
}
