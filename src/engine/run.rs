//! Running a plan: the loop that starts the steps the [`Scheduler`] offers, each on its own
//! (scoped) thread, and hands their events and results back to it. Everything a run decides is
//! the scheduler's; everything a step does is [`super::step`]'s; this file is only the threads
//! and the channel between them.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::time::Instant;

use polars::prelude::DataFrame;

use super::fetch::{self, SourceFetcher};
use super::io::{IoManager, LocalIo};
use super::scheduler::{Finished, Launch, RunContext, Scheduler};
use super::step::{Inputs, Step, panic_message};
use super::{EngineError, RunPlan, memory};
use crate::model::{AssetKey, LogLevel, RunEvent, RunStatus, StepOutcome};

/// What a step's thread sends the run loop.
enum Message {
    /// Both boxed: a message is moved through the channel, and these are large.
    Event(Box<RunEvent>),
    Finished(Box<Finished>),
    /// A step's profile is done (its event, or a warning, was sent before); `streamed`: of a
    /// streamed step's file.
    Profiled {
        streamed: bool,
    },
}

/// [`super::execute_with`] reading and writing materializations through `io`, with at most
/// `max_parallel` steps at once (1 = one after another).
pub fn execute_io(
    plan: &RunPlan,
    io: &dyn IoManager,
    fetcher: &dyn SourceFetcher,
    emit: &mut dyn FnMut(RunEvent),
    cancel: &AtomicBool,
    max_parallel: usize,
) -> RunStatus {
    route_polars_warnings();
    // A fetch in flight gives up when the run is canceled.
    let cancelable = fetch::Cancelable {
        inner: fetcher,
        cancel,
    };
    emit(RunEvent::RunStarted {
        plan: plan.steps.clone(),
    });
    // A malformed budget, or a step that cannot fit in it, ends the run before any step starts.
    let budget = match memory::check_fits(
        &plan.project,
        &plan.project_dir,
        &plan.steps,
        plan.partition.as_deref(),
    ) {
        Ok(budget) => budget,
        Err(e) => return refuse_run(plan, &e.to_string(), emit),
    };
    let ctx = RunContext::new(plan, budget, cancel);
    let mut scheduler = Scheduler::new(&ctx, max_parallel);
    let (tx, rx) = std::sync::mpsc::channel::<Message>();
    std::thread::scope(|scope| {
        loop {
            while let Some(launch) = scheduler.ready(emit) {
                let frames = scheduler.start(&launch, emit);
                let (ctx, fetcher, tx) = (&ctx, &cancelable, tx.clone());
                scope.spawn(move || run_launch(ctx, io, fetcher, &launch, frames, &tx));
            }
            scheduler.release_tables();
            if scheduler.idle() {
                break;
            }
            let Ok(message) = rx.recv() else { break };
            match message {
                Message::Event(e) => {
                    scheduler.on_event(&e);
                    emit(*e);
                }
                Message::Profiled { streamed } => scheduler.on_profiled(streamed),
                Message::Finished(done) => scheduler.on_finished(*done, emit),
            }
        }
    });
    scheduler.finish(emit)
}

/// A step's thread: runs the step, reports it finished, then profiles its table (not on the
/// critical path: downstream steps start meanwhile).
fn run_launch(
    ctx: &RunContext<'_>,
    io: &dyn IoManager,
    fetcher: &dyn SourceFetcher,
    launch: &Launch<'_>,
    frames: BTreeMap<AssetKey, DataFrame>,
    tx: &Sender<Message>,
) {
    let started = Instant::now();
    let events = tx.clone();
    let mut send = move |e: RunEvent| {
        let _ = events.send(Message::Event(Box::new(e)));
    };
    let asset = launch.asset;
    let partition = launch.partition.as_deref();
    let step = Step {
        plan: ctx.plan,
        io,
        fetcher,
        graph: &ctx.graph,
        asset,
        partition,
        inputs: Inputs {
            current: &launch.inputs,
            previous: &ctx.previous,
            frames: &frames,
            checks: &ctx.stored_checks,
        },
        heavy: launch.heavy,
    };
    // A panic inside polars or a step fails the step, never the run loop.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step.run(&mut send)))
        .unwrap_or_else(|panic| {
            Err(EngineError::Internal {
                asset: asset.key.clone(),
                message: panic_message(panic.as_ref()),
            })
        });
    drop(frames);
    let (result, deferred) = match outcome {
        Ok((result, deferred)) => (Ok(result), deferred),
        Err(e) => (Err(e), None),
    };
    let _ = tx.send(Message::Finished(Box::new(Finished {
        key: asset.key.clone(),
        partition: launch.partition.clone(),
        result,
        duration_ms: started.elapsed().as_millis() as u64,
        heavy: launch.heavy,
        frame: deferred.as_ref().and_then(|d| d.frame.clone()),
        profiling: deferred.is_some(),
    })));
    if let Some(deferred) = deferred {
        deferred.profile(&asset.key, partition, &mut send);
        let _ = tx.send(Message::Profiled {
            streamed: launch.heavy,
        });
    }
}

/// Ends a run that cannot start (a malformed memory budget, a step that cannot fit): every
/// step is skipped with the reason, and the run fails with it.
fn refuse_run(plan: &RunPlan, reason: &str, emit: &mut dyn FnMut(RunEvent)) -> RunStatus {
    emit(RunEvent::Log {
        level: LogLevel::Error,
        asset: None,
        message: reason.to_owned(),
    });
    for key in &plan.steps {
        emit(RunEvent::StepFinished {
            asset: key.clone(),
            partition: plan.partition.clone(),
            outcome: StepOutcome::Skipped {
                reason: reason.to_owned(),
            },
            duration_ms: 0,
            duration_known: true,
        });
    }
    emit(RunEvent::RunFinished {
        status: RunStatus::Failure,
        error: Some(reason.to_owned()),
    });
    RunStatus::Failure
}

/// How many independent steps run at once by default: polars already uses every core inside a
/// step, so a little concurrency covers I/O and single-threaded parts without multiplying memory.
pub fn default_parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4))
}

/// Runs a plan, reporting every event through `emit`. Independent steps run concurrently (up to
/// [`default_parallelism`]) unless a step's estimated size would not fit beside others, in which
/// case it runs alone. Cancellation is checked before each step starts; a canceled step leaves
/// no materialization behind.
pub fn execute(plan: &RunPlan, emit: &mut dyn FnMut(RunEvent), cancel: &AtomicBool) -> RunStatus {
    execute_with(plan, &fetch::NoFetcher, emit, cancel)
}

/// [`execute`] reading sources behind a resource (S3, Postgres, HTTP) through `fetcher`.
pub fn execute_with(
    plan: &RunPlan,
    fetcher: &dyn fetch::SourceFetcher,
    emit: &mut dyn FnMut(RunEvent),
    cancel: &AtomicBool,
) -> RunStatus {
    let io = LocalIo {
        root: plan.store_dir.clone(),
    };
    execute_io(plan, &io, fetcher, emit, cancel, default_parallelism())
}

/// polars prints its warnings straight to stderr. A deprecation inside polars itself (its SQL
/// layer casts a `DATE '…'` literal from a string, which polars has deprecated) is no business of
/// the user's terminal: deprecations go to the debug log (`-vv`), other polars warnings to the
/// warning log, both through `tracing` like the rest of Medallion's output.
pub fn route_polars_warnings() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        polars::error::set_warning_function(|message, kind| match kind {
            polars::error::PolarsWarning::Deprecation => {
                tracing::debug!(target: "medallion::engine::polars", "polars deprecation: {message}");
            }
            other => tracing::warn!(target: "medallion::engine::polars", "polars {other:?}: {message}"),
        });
    });
}
