//! The job worker: one named thread with its own connection to the workspace that runs the
//! studio's long work — previews, run plans, materializations, run history, asset histories and
//! report exports — so the UI thread never waits on polars or `SQLite`.
//!
//! Requests go in with a non-blocking `try_send` on a bounded channel; results come back as
//! [`JobEvent`]s on a bounded channel and the `notify` hook (the studio passes
//! `request_repaint`) runs after each. A run's events are batched: the run never waits for the
//! UI to drain them, so a hidden window cannot stall a materialization. Cancel a run by setting
//! the `AtomicBool` passed with it; the engine stops between steps and records the run as
//! canceled.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::AppError;
use super::plan::{self as compute_plan, CostHistory};
use super::report::{self, RunReport};
use super::run::{self, AssetHistory, MaterializeRequest};
use crate::engine::{PlannedStep, Preview};
use crate::model::RunId;
use crate::model::{AssetKey, PriceTable, Project, RunEvent, RunRecord};
use crate::store::{StoredProject, Workspace};

const REQUEST_CAPACITY: usize = 32;
const EVENT_CAPACITY: usize = 256;
/// Runs listed in the history.
pub const HISTORY_LIMIT: usize = 500;

#[derive(Debug)]
pub enum JobRequest {
    /// The first `limit` rows of `asset` in `project` (the studio's current, maybe unsaved,
    /// definitions; source paths resolve against the stored project's directory).
    Preview {
        project: Box<Project>,
        asset: AssetKey,
        limit: usize,
        /// Without masking (the studio's explicit "Show unmasked"), recorded in the audit log
        /// before anything is read.
        unmasked: bool,
    },
    /// The first `limit` rows of `asset`'s latest stored materialization (what flows along its
    /// edges to downstream assets); answered as a preview.
    PreviewStored {
        project: Box<Project>,
        asset: AssetKey,
        limit: usize,
    },
    /// The partitions of `asset` and where each stands (the studio's partition strip); `id`
    /// comes back with the answer.
    PartitionStrip {
        id: u64,
        project: Box<Project>,
        asset: AssetKey,
    },
    /// What materializing would do; `id` comes back with the answer.
    Plan {
        id: u64,
        project: Box<Project>,
        request: MaterializeRequest,
    },
    /// The state of every asset (fresh, stale, failed, blocked; last materialization; check
    /// verdicts) under `project`'s current definitions; `id` comes back with the answer.
    AssetStates {
        id: u64,
        project: Box<Project>,
    },
    /// The launch dialog's plan of `request` (`app::remote::plan_remote`): where each asset
    /// would run and what it would cost, and the steps on AWS; `id` comes back with the answer.
    ComputePlan {
        id: u64,
        project: Box<Project>,
        request: Box<super::remote::SubmitRequest>,
    },
    /// The lineage window's graph of `asset`, or of one of its columns, under `project`'s
    /// current definitions (`app::lineage::lineage_view`); `id` comes back with the answer.
    Lineage {
        id: u64,
        project: Box<Project>,
        asset: AssetKey,
        column: Option<String>,
    },
    /// What an edit of one asset's definition breaks before it is applied: the columns of
    /// `before` that `after` removes or retypes and what uses them (`app::against::changes`,
    /// the `medallion impact` walk); `id` comes back with the answer.
    EditImpact {
        id: u64,
        before: Box<Project>,
        after: Box<Project>,
    },
    /// Every asset's columns inferred without running (`engine::schema::infer_schemas`), for
    /// the zoomed-in canvas cards; `id` comes back with the answer.
    CardColumns {
        id: u64,
        project: Box<Project>,
    },
    /// "Compare with previous materialization": the asset's last two materializations
    /// compared as `medallion diff` does (masked the same way).
    Diff {
        id: u64,
        project: Box<Project>,
        asset: AssetKey,
        /// Which runs and key (the studio's pickers); the default is the last two runs.
        request: Box<super::diff::DiffRequest>,
    },
    /// The price table with the workspace's overrides.
    LoadPrices,
    /// Sets (`Some`) or resets to the shipped figure (`None`) one price; answers with the table.
    SetPrice {
        id: String,
        usd: Option<f64>,
    },
    /// A project's recorded costs: per run step, per asset, per day.
    CostHistory {
        project: String,
    },
    Materialize {
        project: Box<Project>,
        request: MaterializeRequest,
        cancel: Arc<AtomicBool>,
        /// "Test first": run the selected assets' unit tests and refuse when one fails.
        test_first: bool,
    },
    ListRuns {
        project: String,
    },
    /// A past run, read back whole from the workspace.
    OpenRun {
        run_id: RunId,
    },
    AssetHistory {
        project: String,
        asset: AssetKey,
    },
    /// Writes the run's HTML quality report to `path`.
    ExportReport {
        run_id: RunId,
        path: PathBuf,
    },
    /// A remote run on AWS, followed to its end (events arrive as [`JobEvent::RunEvents`]).
    SubmitRemote {
        project: Box<Project>,
        request: Box<super::remote::SubmitRequest>,
        cancel: Arc<AtomicBool>,
        /// Set when the studio quits: the job lets go of the run without stopping it.
        detach: Arc<AtomicBool>,
        /// Run the selected assets' unit tests here first; a failing one refuses the launch
        /// before anything is uploaded.
        test_first: bool,
    },
    /// "Check AWS setup" for the project's `aws` resource.
    CheckAws {
        project: Box<Project>,
    },
    /// The Automation panel's view of a stored project.
    Automation {
        project: String,
    },
    /// Turns a schedule or sensor on or off in the workspace; answers with the view.
    SetAutomationEnabled {
        project: String,
        name: String,
        enabled: bool,
    },
    /// One automation pass by the studio (all, or `only` one schedule or sensor), on a thread
    /// of its own; a pass still going makes this one wait for the next request.
    EvaluateAutomation {
        project: String,
        only: Option<String>,
    },
    /// The Audit window's entries of a project (all kinds, or one), newest first.
    Audit {
        project: String,
        kind: Option<crate::model::AuditAction>,
    },
    /// "Verify chain": the audit log's hash chain walked from its first entry.
    VerifyAudit,
    /// The inspector's PII proposals for `asset` under `project`'s current definitions (the
    /// detectors over an unmasked sample that never leaves this process).
    PiiProposals {
        project: Box<Project>,
        asset: AssetKey,
    },
    /// The inspector's Dismiss: `column` of `asset` is not `kind`, remembered in the workspace.
    DismissPii {
        project: String,
        asset: AssetKey,
        column: String,
        kind: crate::model::pii::Detected,
    },
    /// The inspector's Propose again: the dismissal of `kind` for `column` is taken back.
    RestorePii {
        project: String,
        asset: AssetKey,
        column: String,
        kind: crate::model::pii::Detected,
    },
}

/// How many audit entries the studio's Audit window reads at once (the newest).
pub const AUDIT_ENTRIES: usize = 500;

/// Why a job failed: the app's error, shared so the studio can keep it in more than one place
/// (the launch dialog shows a plan's failure in its compute table and its AWS steps). The
/// studio makes the sentence when it shows it.
pub type JobError = Arc<AppError>;

#[derive(Debug)]
pub enum JobEvent {
    Preview(Box<Preview>),
    PreviewFailed {
        asset: AssetKey,
        error: JobError,
    },
    Plan {
        id: u64,
        result: Result<Vec<PlannedStep>, JobError>,
    },
    AssetStates {
        id: u64,
        result: Result<Vec<super::status::AssetState>, JobError>,
    },
    ComputePlan {
        id: u64,
        result: Result<Box<super::remote::RemotePlan>, JobError>,
    },
    /// The price table (after a load or an edit), or why it could not be read or changed.
    Prices {
        result: Result<Box<PriceTable>, JobError>,
        /// True when this answers an edit (plans should be asked for again).
        edited: bool,
    },
    CostHistory(Result<Box<CostHistory>, JobError>),
    Lineage {
        id: u64,
        view: Box<super::lineage::LineageView>,
    },
    /// The answer to [`JobRequest::EditImpact`]: each removed or retyped column that
    /// something uses, with what uses it (empty: the edit breaks nothing).
    EditImpact {
        id: u64,
        changes: Vec<super::against::ChangeImpact>,
    },
    /// The answer to [`JobRequest::CardColumns`]: the assets whose columns are known.
    CardColumns {
        id: u64,
        columns: std::collections::HashMap<AssetKey, Vec<crate::model::schema::SchemaColumn>>,
    },
    /// The answer to [`JobRequest::Diff`].
    Diff {
        id: u64,
        result: Result<Box<super::diff::AssetDiff>, JobError>,
        /// The materializations the run pickers offer, oldest first (empty when unreadable).
        runs: Vec<super::diff::MaterializedRun>,
    },
    PartitionStrip {
        id: u64,
        result: Result<Box<super::partitions::PartitionStrip>, JobError>,
    },
    /// Events of a run in progress, in order.
    RunEvents {
        run_id: RunId,
        events: Vec<RunEvent>,
    },
    /// A materialize request ended: the runs it recorded, or why it could not run.
    MaterializeFinished {
        result: Result<Vec<RunRecord>, JobError>,
    },
    Runs(Vec<RunRecord>),
    RunOpened {
        run: Box<RunRecord>,
        /// Each event with the time it was stored (`None` when that time does not parse).
        events: Vec<(Option<chrono::DateTime<chrono::Utc>>, RunEvent)>,
        report: Box<RunReport>,
    },
    AssetHistory(Box<AssetHistory>),
    ReportExported {
        path: PathBuf,
    },
    /// The steps of a remote run as they are now (tier, remote id, status, figures).
    RemoteSteps {
        run_id: RunId,
        steps: Vec<super::remote::RemoteStepRow>,
        /// Estimated and actual cost per asset of the run (`app::plan::run_costs`).
        costs: Vec<crate::store::StepCost>,
    },
    AwsSetup {
        result: Result<Vec<super::remote::SetupCheck>, JobError>,
    },
    /// The Automation panel's view, or why it could not be read.
    Automation(Result<Box<super::automation::studio::AutomationView>, JobError>),
    /// A studio pass ended: what it did, or why it failed.
    AutomationEvaluated(Result<Box<super::automation::PassReport>, JobError>),
    /// The Audit window's entries (at most [`AUDIT_ENTRIES`]), or why they could not be read.
    Audit(Result<Vec<crate::model::AuditEntry>, JobError>),
    /// What a walk over the audit chain found.
    AuditVerified(Result<crate::model::AuditVerdict, JobError>),
    /// The PII proposals of an asset's columns, or why its sample could not be read.
    PiiProposals {
        asset: AssetKey,
        result: Result<Vec<super::pii::ColumnProposal>, JobError>,
    },
    /// Another request failed; `what` says which, in a few words.
    Failed {
        what: String,
        error: JobError,
    },
}

impl From<super::remote::FollowUpdate> for JobEvent {
    fn from(update: super::remote::FollowUpdate) -> Self {
        match update {
            super::remote::FollowUpdate::Events { run_id, events } => {
                JobEvent::RunEvents { run_id, events }
            }
            super::remote::FollowUpdate::Steps {
                run_id,
                steps,
                costs,
            } => JobEvent::RemoteSteps {
                run_id,
                steps,
                costs,
            },
        }
    }
}

/// The job queue is full; try again later.
#[derive(Debug, thiserror::Error)]
#[error("the studio is busy; try again in a moment")]
pub struct JobsBusy(pub JobRequest);

/// The studio's handle on the job thread.
pub struct JobWorker {
    requests: Option<SyncSender<JobRequest>>,
    events: Receiver<JobEvent>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for JobWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobWorker").finish_non_exhaustive()
    }
}

impl JobWorker {
    /// Starts the worker on the workspace at `path` (opened on the worker thread).
    pub fn spawn(path: &Path, notify: Box<dyn Fn() + Send>) -> Result<Self, AppError> {
        let (request_tx, event_rx, thread) = super::worker::spawn_worker(
            "medallion-jobs",
            path,
            (REQUEST_CAPACITY, EVENT_CAPACITY),
            notify,
            |path, ends: super::worker::WorkerEnds<JobRequest, JobEvent>| {
                work(path, &ends.requests, &ends.events, ends.notify);
            },
        )?;
        Ok(Self {
            requests: Some(request_tx),
            events: event_rx,
            thread: Some(thread),
        })
    }

    /// Queues a request without blocking.
    pub fn send(&self, request: JobRequest) -> Result<(), JobsBusy> {
        super::worker::try_queue(self.requests.as_ref(), request).map_err(JobsBusy)
    }

    /// The next event that has arrived, without blocking.
    pub fn try_next(&self) -> Option<JobEvent> {
        self.events.try_recv().ok()
    }

    /// Stops taking requests and waits for the queued ones (a run in progress finishes or
    /// stops at its cancel flag). Blocks: call it when the window closes, after cancelling.
    pub fn finish(mut self) {
        self.requests = None;
        // Drain so a worker blocked on a full event channel can proceed.
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() {
                while self.events.try_recv().is_ok() {}
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            if thread.join().is_err() {
                tracing::error!("the job worker panicked");
            }
        }
    }
}

/// The repaint hook, shared by the worker and its run thread.
type SharedNotify = Arc<Mutex<Box<dyn Fn() + Send>>>;

fn work(
    path: &Path,
    requests: &Receiver<JobRequest>,
    events: &SyncSender<JobEvent>,
    notify: Box<dyn Fn() + Send>,
) {
    let notify: SharedNotify = Arc::new(Mutex::new(notify));
    let notify_here = || {
        if let Ok(f) = notify.lock() {
            f();
        }
    };
    let emit = |event: JobEvent| {
        // Blocking send: the studio drains every frame; if it is gone, nobody listens.
        let _ = events.send(event);
        notify_here();
    };
    let mut ws = match Workspace::open(path) {
        Ok(mut ws) => {
            // Runs left unfinished by a process that is gone end as failed before the studio
            // shows any run.
            super::liveness::end_dead_runs_quietly(&mut ws);
            Some(ws)
        }
        Err(e) => {
            tracing::error!(error = %e, "the job worker cannot open the workspace");
            emit(JobEvent::Failed {
                what: "open the workspace for runs".to_owned(),
                error: JobError::new(e.into()),
            });
            None
        }
    };
    // Runs (local or remote) go to a thread of their own with its own workspace connection, so
    // previews, plans, prices and history stay answered while a run goes on — a remote run
    // can take hours. The studio starts one run at a time.
    let mut run_thread: Option<JoinHandle<()>> = None;
    let mut automation_thread: Option<JoinHandle<()>> = None;
    while let Ok(request) = requests.recv() {
        let Some(ws) = ws.as_mut() else {
            emit(JobEvent::Failed {
                what: "run a job".to_owned(),
                error: JobError::new(AppError::NoWorkspace {
                    path: path.to_owned(),
                }),
            });
            continue;
        };
        if matches!(
            request,
            JobRequest::Materialize { .. } | JobRequest::SubmitRemote { .. }
        ) {
            if let Some(previous) = run_thread.take() {
                let _ = previous.join();
            }
            match spawn_run(path, request, events.clone(), Arc::clone(&notify)) {
                Ok(thread) => run_thread = Some(thread),
                Err(e) => emit(JobEvent::MaterializeFinished {
                    result: Err(JobError::new(AppError::Thread {
                        what: "the run thread",
                        source: e,
                    })),
                }),
            }
            continue;
        }
        if let JobRequest::EvaluateAutomation { project, only } = request {
            automation_pass(path, project, only, &mut automation_thread, events, &notify);
            continue;
        }
        handle(ws, request, events, &notify_here);
    }
    if let Some(thread) = automation_thread.take() {
        let _ = thread.join();
    }
    if let Some(ws) = ws.as_mut() {
        super::automation::studio::release_studio_leases(ws);
    }
    // The studio is closing: a run in progress finishes or stops at its cancel flag.
    if let Some(thread) = run_thread.take() {
        let _ = thread.join();
    }
}

/// The inspector's Dismiss and Propose again, remembered in the workspace; the failure to
/// show, if any.
fn pii_decision_job(ws: &mut Workspace, request: JobRequest) -> Option<JobEvent> {
    let (project, asset, column, kind, dismissed) = match request {
        JobRequest::DismissPii {
            project,
            asset,
            column,
            kind,
        } => (project, asset, column, kind, true),
        JobRequest::RestorePii {
            project,
            asset,
            column,
            kind,
        } => (project, asset, column, kind, false),
        _ => return None,
    };
    let what = if dismissed {
        "remember the dismissed proposal"
    } else {
        "propose the dismissed column again"
    };
    super::pii::set_dismissed(ws, &project, &asset, &column, kind, dismissed)
        .err()
        .map(|e| failed(what, e))
}

/// The Automation panel's view, after switching a schedule or sensor when asked.
fn automation_job(ws: &mut Workspace, request: JobRequest) -> Option<JobEvent> {
    let (project, switch) = match request {
        JobRequest::Automation { project } => (project, None),
        JobRequest::SetAutomationEnabled {
            project,
            name,
            enabled,
        } => (project, Some((name, enabled))),
        // A pass is started by `work` on a thread of its own.
        _ => return None,
    };
    let view = match switch {
        Some((name, enabled)) => super::load_project(ws, &project)
            .and_then(|stored| super::automation::set_enabled(ws, &stored, &name, enabled)),
        None => Ok(()),
    }
    .and_then(|()| super::automation::studio::view(ws, &project));
    Some(JobEvent::Automation(
        view.map(Box::new).map_err(JobError::new),
    ))
}

/// Starts a studio automation pass unless one is still going.
fn automation_pass(
    path: &Path,
    project: String,
    only: Option<String>,
    thread: &mut Option<JoinHandle<()>>,
    events: &SyncSender<JobEvent>,
    notify: &SharedNotify,
) {
    if thread.as_ref().is_some_and(|t| !t.is_finished()) {
        return;
    }
    if let Some(t) = thread.take() {
        let _ = t.join();
    }
    let (events, notify) = (events.clone(), Arc::clone(notify));
    let done = Box::new(
        move |result: Result<super::automation::PassReport, AppError>, view| {
            let _ = events.send(JobEvent::AutomationEvaluated(
                result.map(Box::new).map_err(JobError::new),
            ));
            if let Some(view) = view {
                let _ = events.send(JobEvent::Automation(Ok(Box::new(view))));
            }
            if let Ok(f) = notify.lock() {
                f();
            }
        },
    );
    match super::automation::studio::spawn_pass(path, project, only, done) {
        Ok(t) => *thread = Some(t),
        Err(e) => tracing::warn!("cannot start an automation pass: {e}"),
    }
}

/// Runs a materialize or remote-run request on its own named thread and workspace connection.
#[expect(
    clippy::disallowed_methods,
    reason = "a run gets a named thread of its own, owned by the job worker"
)]
fn spawn_run(
    path: &Path,
    request: JobRequest,
    events: SyncSender<JobEvent>,
    notify: SharedNotify,
) -> std::io::Result<JoinHandle<()>> {
    let path = path.to_owned();
    std::thread::Builder::new()
        .name("medallion-run-job".to_owned())
        .spawn(move || {
            let notify = || {
                if let Ok(f) = notify.lock() {
                    f();
                }
            };
            match Workspace::open(&path) {
                Ok(mut ws) => {
                    // A panic must still end the run in the studio, or it would wait forever.
                    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        handle(&mut ws, request, &events, &notify);
                    }));
                    if handled.is_err() {
                        let _ = events.send(JobEvent::MaterializeFinished {
                            result: Err(JobError::new(AppError::RunPanicked)),
                        });
                        notify();
                    }
                }
                Err(e) => {
                    let _ = events.send(JobEvent::MaterializeFinished {
                        result: Err(JobError::new(AppError::RunWorkspace(e))),
                    });
                    notify();
                }
            }
        })
}

/// The stored project with the studio's current definitions: they may be newer than the
/// stored ones, but source paths resolve against the directory the project came from.
fn stored_with(ws: &Workspace, project: Project) -> StoredProject {
    match ws.load_project(&project.name) {
        Ok(mut stored) => {
            stored.project = project;
            stored
        }
        Err(_) => StoredProject {
            project,
            source_dir: None,
            revision: 0,
            imported_revision: None,
            updated_at: None,
        },
    }
}

/// What an edit from `before` to `after` breaks: the changes that something uses.
fn edit_impact(ws: &Workspace, id: u64, before: Project, after: &Project) -> JobEvent {
    let stored = stored_with(ws, before);
    let dir = stored.source_dir.as_deref();
    let old = super::lineage::analyze(&stored.project, dir);
    let new = super::lineage::analyze(after, dir);
    let changes = super::against::changes(&old, &new)
        .into_iter()
        .filter(|c| c.impact.breaks_something())
        .collect();
    JobEvent::EditImpact { id, changes }
}

/// Every asset's known columns, inferred without running.
fn card_columns(ws: &Workspace, id: u64, project: Project) -> JobEvent {
    let stored = stored_with(ws, project);
    let schemas =
        crate::engine::schema::infer_schemas(&stored.project, stored.source_dir.as_deref());
    let columns = schemas
        .into_iter()
        .filter_map(|(k, s)| s.columns().map(|c| (k.clone(), c.to_vec())))
        .collect();
    JobEvent::CardColumns { id, columns }
}

/// The compare window's diff, with the materializations its run pickers offer.
fn diff(
    ws: &Workspace,
    id: u64,
    project: Project,
    asset: &AssetKey,
    request: &super::diff::DiffRequest,
) -> JobEvent {
    let stored = stored_with(ws, project);
    let result = super::diff::diff_asset(ws, &stored, asset, request)
        .map(Box::new)
        .map_err(JobError::new);
    let partition = match &result {
        Ok(d) => d.partition.clone(),
        Err(_) => request.partition.clone(),
    };
    let runs =
        super::diff::materialized_runs(ws, &stored.project.name, asset, partition.as_deref())
            .unwrap_or_default();
    JobEvent::Diff { id, result, runs }
}

/// Runs one request and sends its answer: most requests answer with one event; a
/// materialization, a remote run and an opened run send several.
fn handle(
    ws: &mut Workspace,
    request: JobRequest,
    events: &SyncSender<JobEvent>,
    notify: &dyn Fn(),
) {
    let emit = |event: JobEvent| {
        let _ = events.send(event);
        notify();
    };
    match request {
        JobRequest::Preview {
            project,
            asset,
            limit,
            unmasked,
        } => emit(preview(ws, *project, asset, limit, unmasked)),
        JobRequest::PreviewStored {
            project,
            asset,
            limit,
        } => emit(preview_stored(ws, *project, asset, limit)),
        JobRequest::PartitionStrip { id, project, asset } => {
            emit(partition_strip(ws, id, *project, &asset));
        }
        JobRequest::Plan {
            id,
            project,
            request,
        } => emit(plan(ws, id, *project, &request)),
        JobRequest::AssetStates { id, project } => emit(asset_states(ws, id, *project)),
        JobRequest::ComputePlan {
            id,
            project,
            request,
        } => emit(remote_plan(ws, id, *project, &request)),
        JobRequest::Lineage {
            id,
            project,
            asset,
            column,
        } => {
            let stored = stored_with(ws, *project);
            let view = super::lineage::lineage_view(
                &stored.project,
                stored.source_dir.as_deref(),
                &asset,
                column.as_deref(),
            );
            emit(JobEvent::Lineage {
                id,
                view: Box::new(view),
            });
        }
        JobRequest::EditImpact { id, before, after } => {
            emit(edit_impact(ws, id, *before, &after));
        }
        JobRequest::CardColumns { id, project } => emit(card_columns(ws, id, *project)),
        JobRequest::Diff {
            id,
            project,
            asset,
            request,
        } => emit(diff(ws, id, *project, &asset, &request)),
        JobRequest::LoadPrices => emit(prices(compute_plan::load_prices(ws), false)),
        JobRequest::SetPrice { id, usd } => emit(set_price(ws, &id, usd)),
        JobRequest::CostHistory { project } => emit(cost_history(ws, &project)),
        JobRequest::Materialize {
            project,
            request,
            cancel,
            test_first,
        } => {
            let stored = stored_with(ws, *project);
            let tested = if test_first {
                super::unit_test::require_passing(
                    &stored.project,
                    stored.source_dir.as_deref(),
                    &request.selection,
                )
                .map(|_| ())
            } else {
                Ok(())
            };
            let result = tested
                .and_then(|()| materialize_batched(ws, &stored, &request, &cancel, events, notify));
            emit(JobEvent::MaterializeFinished {
                result: result
                    .map(|runs| runs.into_iter().map(|s| s.run).collect())
                    .map_err(JobError::new),
            });
        }
        JobRequest::ListRuns { project } => emit(list_runs(ws, &project)),
        JobRequest::OpenRun { run_id } => open_run(ws, run_id, &emit),
        JobRequest::AssetHistory { project, asset } => emit(asset_history(ws, &project, &asset)),
        JobRequest::ExportReport { run_id, path } => emit(export_report(ws, &run_id, &path)),
        JobRequest::SubmitRemote {
            project,
            request,
            cancel,
            detach,
            test_first,
        } => {
            let stored = stored_with(ws, *project);
            let tested = if test_first {
                super::unit_test::require_passing(
                    &stored.project,
                    stored.source_dir.as_deref(),
                    &request.selection,
                )
                .map(|_| ())
            } else {
                Ok(())
            };
            let result = tested.and_then(|()| {
                super::remote::follow_in_studio(ws, &stored, &request, &cancel, &detach, &emit)
            });
            emit(JobEvent::MaterializeFinished {
                result: result.map(|run| vec![run]).map_err(JobError::new),
            });
        }
        JobRequest::CheckAws { project } => {
            let result = super::remote::check_setup(&project, None).map_err(JobError::new);
            emit(JobEvent::AwsSetup { result });
        }
        JobRequest::Audit { project, kind } => emit(audit_entries(ws, &project, kind)),
        JobRequest::PiiProposals { project, asset } => {
            let stored = stored_with(ws, *project);
            let result = super::pii::scan(ws, &stored, &asset, super::pii::SAMPLE_ROWS)
                .map_err(JobError::new);
            emit(JobEvent::PiiProposals { asset, result });
        }
        request @ (JobRequest::DismissPii { .. } | JobRequest::RestorePii { .. }) => {
            if let Some(event) = pii_decision_job(ws, request) {
                emit(event);
            }
        }
        JobRequest::VerifyAudit => emit(JobEvent::AuditVerified(
            super::audit::verify(ws, None).map_err(JobError::new),
        )),
        request @ (JobRequest::Automation { .. }
        | JobRequest::SetAutomationEnabled { .. }
        | JobRequest::EvaluateAutomation { .. }) => {
            if let Some(event) = automation_job(ws, request) {
                emit(event);
            }
        }
    }
}

/// The Audit window's entries: the newest [`AUDIT_ENTRIES`] of a project, of one kind or all.
fn audit_entries(
    ws: &Workspace,
    project: &str,
    kind: Option<crate::model::AuditAction>,
) -> JobEvent {
    let filter = super::audit::AuditFilter {
        project: Some(project),
        action: kind,
        limit: Some(AUDIT_ENTRIES),
        ..Default::default()
    };
    JobEvent::Audit(super::audit::entries(ws, &filter).map_err(JobError::new))
}

/// A request that failed, told as what was being done and why it failed.
fn failed(what: &str, e: AppError) -> JobEvent {
    JobEvent::Failed {
        what: what.to_owned(),
        error: JobError::new(e),
    }
}

fn preview(
    ws: &mut Workspace,
    project: Project,
    asset: AssetKey,
    limit: usize,
    unmasked: bool,
) -> JobEvent {
    let stored = stored_with(ws, project);
    let result = if unmasked {
        let entry = crate::model::NewAuditEntry::local(
            crate::model::AuditAction::UnmaskedShown,
            Some(&stored.project.name),
            asset.to_string(),
            serde_json::json!({ "where": "studio preview", "rows": limit }),
        );
        super::audit::record(ws, &entry)
            .and_then(|()| run::preview_for_detection(ws, &stored, &asset, limit))
    } else {
        run::preview(ws, &stored, &asset, limit)
    };
    match result {
        Ok(p) => JobEvent::Preview(Box::new(p)),
        Err(e) => JobEvent::PreviewFailed {
            asset,
            error: JobError::new(e),
        },
    }
}

fn partition_strip(ws: &mut Workspace, id: u64, project: Project, asset: &AssetKey) -> JobEvent {
    let stored = stored_with(ws, project);
    let today = chrono::Utc::now().date_naive();
    let result = super::partitions::partition_strip(ws, &stored, asset, today)
        .map(Box::new)
        .map_err(JobError::new);
    JobEvent::PartitionStrip { id, result }
}

fn preview_stored(ws: &mut Workspace, project: Project, asset: AssetKey, limit: usize) -> JobEvent {
    let stored = stored_with(ws, project);
    match run::preview_stored(ws, &stored, &asset, limit) {
        Ok(p) => JobEvent::Preview(Box::new(p)),
        Err(e) => JobEvent::PreviewFailed {
            asset,
            error: JobError::new(e),
        },
    }
}

fn plan(ws: &mut Workspace, id: u64, project: Project, request: &MaterializeRequest) -> JobEvent {
    let stored = stored_with(ws, project);
    let result = run::plan(ws, &stored, request).map_err(JobError::new);
    JobEvent::Plan { id, result }
}

fn asset_states(ws: &mut Workspace, id: u64, project: Project) -> JobEvent {
    let stored = stored_with(ws, project);
    let result = super::status::asset_states(ws, &stored).map_err(JobError::new);
    JobEvent::AssetStates { id, result }
}

fn remote_plan(
    ws: &mut Workspace,
    id: u64,
    project: Project,
    request: &super::remote::SubmitRequest,
) -> JobEvent {
    let stored = stored_with(ws, project);
    let result = super::remote::plan_remote(ws, &stored, request)
        .map(Box::new)
        .map_err(JobError::new);
    JobEvent::ComputePlan { id, result }
}

/// The price table after loading it (`edited` false) or changing one price (`edited` true).
fn prices(result: Result<PriceTable, AppError>, edited: bool) -> JobEvent {
    JobEvent::Prices {
        result: result.map(Box::new).map_err(JobError::new),
        edited,
    }
}

fn set_price(ws: &mut Workspace, id: &str, usd: Option<f64>) -> JobEvent {
    let result = match usd {
        Some(usd) => compute_plan::set_price(ws, id, usd),
        None => compute_plan::reset_price(ws, id),
    };
    prices(result, true)
}

fn cost_history(ws: &mut Workspace, project: &str) -> JobEvent {
    JobEvent::CostHistory(
        compute_plan::cost_history(ws, project)
            .map(Box::new)
            .map_err(JobError::new),
    )
}

fn list_runs(ws: &mut Workspace, project: &str) -> JobEvent {
    super::liveness::end_dead_runs_quietly(ws);
    match run::list_runs(ws, Some(project), HISTORY_LIMIT) {
        Ok(runs) => JobEvent::Runs(runs),
        Err(e) => failed("list runs", e),
    }
}

/// A past run read back whole, then its remote steps and their costs when it ran on AWS.
fn open_run(ws: &mut Workspace, run_id: RunId, emit: &dyn Fn(JobEvent)) {
    let opened = report::build(ws, &run_id).and_then(|report| {
        let events = ws
            .run_events_stamped(&run_id)?
            .into_iter()
            .map(|(at, e)| (Some(at), e))
            .collect::<Vec<_>>();
        Ok((report, events))
    });
    emit(match opened {
        Ok((report, events)) => JobEvent::RunOpened {
            run: Box::new(report.run.clone()),
            events,
            report: Box::new(report),
        },
        Err(e) => failed(&format!("open run {run_id}"), e),
    });
    if let Ok(Some(view)) = super::remote::view(ws, &run_id) {
        emit(JobEvent::RemoteSteps {
            costs: super::plan::run_costs(ws, &run_id).unwrap_or_default(),
            run_id,
            steps: view.steps,
        });
    }
}

fn asset_history(ws: &mut Workspace, project: &str, asset: &AssetKey) -> JobEvent {
    match run::asset_history(ws, project, asset) {
        Ok(h) => JobEvent::AssetHistory(Box::new(h)),
        Err(e) => failed(&format!("load the history of {asset}"), e),
    }
}

fn export_report(ws: &mut Workspace, run_id: &RunId, path: &Path) -> JobEvent {
    match report::export_html(ws, run_id, path) {
        Ok(path) => JobEvent::ReportExported { path },
        Err(e) => failed(&format!("export the report of run {run_id}"), e),
    }
}

/// Materializes, handing events to the studio in batches without ever waiting for it.
fn materialize_batched(
    ws: &mut Workspace,
    stored: &StoredProject,
    request: &MaterializeRequest,
    cancel: &Arc<AtomicBool>,
    events: &SyncSender<JobEvent>,
    notify: &dyn Fn(),
) -> Result<Vec<run::RunSummary>, AppError> {
    let mut pending: Vec<RunEvent> = Vec::new();
    let mut pending_run = RunId::default();
    let offer = |pending: &mut Vec<RunEvent>, pending_run: &RunId| {
        if pending.is_empty() {
            return;
        }
        let batch = JobEvent::RunEvents {
            run_id: pending_run.clone(),
            events: std::mem::take(pending),
        };
        match events.try_send(batch) {
            Ok(()) => notify(),
            // The studio is behind: keep the batch and offer it with the next event.
            Err(TrySendError::Full(JobEvent::RunEvents { events, .. })) => *pending = events,
            Err(_) => {}
        }
    };
    let result = {
        let mut on_event = |run_id: &RunId, event: &RunEvent| {
            if pending_run != *run_id {
                // A new run (next partition): hand over the previous run's events first.
                if !pending.is_empty() {
                    let batch = JobEvent::RunEvents {
                        run_id: pending_run.clone(),
                        events: std::mem::take(&mut pending),
                    };
                    let _ = events.send(batch);
                    notify();
                }
                pending_run.clone_from(run_id);
            }
            pending.push(event.clone());
            offer(&mut pending, &pending_run);
        };
        run::materialize(ws, stored, request, &mut on_event, cancel)
    };
    if !pending.is_empty() {
        let _ = events.send(JobEvent::RunEvents {
            run_id: pending_run,
            events: pending,
        });
        notify();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn example_workspace() -> (tempfile::TempDir, PathBuf, Project) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ws.sqlite");
        let mut ws = Workspace::open(&path).unwrap();
        let example = super::super::example_project_dir().unwrap();
        super::super::import_project(&mut ws, &example, false, false).unwrap();
        let project = ws.load_project("customer_analytics").unwrap().project;
        (dir, path, project)
    }

    fn next(worker: &JobWorker) -> JobEvent {
        let start = Instant::now();
        while start.elapsed() < Duration::from_mins(2) {
            if let Some(e) = worker.try_next() {
                return e;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("no job event in time");
    }

    #[test]
    fn the_plan_names_what_changed_without_running_anything() {
        use crate::engine::PlannedStatus;
        use crate::model::{AssetDefinition, AssetKey, TransformStep};
        let (_dir, path, project) = example_workspace();
        let mut ws = Workspace::open(&path).unwrap();
        let stored = ws.load_project("customer_analytics").unwrap();
        let request = MaterializeRequest {
            selection: "*".into(),
            partitions: vec![],
            force: false,
            trigger: "test".into(),
            allow_failed_upstream: false,
            checks_only: false,
        };
        run::materialize(
            &mut ws,
            &stored,
            &request,
            &mut |_, _| {},
            &Arc::new(AtomicBool::new(false)),
        )
        .unwrap();
        let status_of = |project: &Project, key: &str| {
            let stored = StoredProject {
                project: project.clone(),
                ..stored.clone()
            };
            run::plan(&ws, &stored, &request)
                .unwrap()
                .into_iter()
                .find(|s| s.asset.as_str() == key)
                .unwrap()
                .status
        };
        let will_run = |reason: &str| PlannedStatus::WillRun {
            reason: reason.to_owned(),
        };
        // A description is not part of the definition: still up to date.
        let mut edited = project.clone();
        let cleaned = AssetKey::new("cleaned_customer_data");
        let asset = edited.assets.iter_mut().find(|a| a.key == cleaned).unwrap();
        asset.description = "reworded".into();
        assert!(matches!(
            status_of(&edited, "cleaned_customer_data"),
            PlannedStatus::UpToDate { .. }
        ));
        // A changed step: the asset's definition changed, its downstream's input did.
        let asset = edited.assets.iter_mut().find(|a| a.key == cleaned).unwrap();
        let AssetDefinition::Transform(t) = &mut asset.definition else {
            panic!("cleaned_customer_data is a transform");
        };
        t.steps.push(TransformStep::Deduplicate { columns: vec![] });
        assert_eq!(
            status_of(&edited, "cleaned_customer_data"),
            will_run("definition changed")
        );
        assert_eq!(
            status_of(&edited, "order_history"),
            will_run("inputs changed")
        );
        assert!(matches!(
            status_of(&edited, "raw_orders"),
            PlannedStatus::UpToDate { .. }
        ));
        // Force runs everything.
        let forced = MaterializeRequest {
            force: true,
            ..request.clone()
        };
        let steps = run::plan(&ws, &stored, &forced).unwrap();
        assert!(steps.iter().all(|s| s.status == will_run("forced")));
    }

    /// A run goes on its own thread: a preview asked for after it is answered before the run
    /// ends (it used to wait behind the whole run — for a remote run, possibly hours).
    #[test]
    fn a_preview_is_answered_while_a_run_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let example = super::super::example_project_dir().unwrap();
        let project_dir = dir.path().join("customer_analytics");
        std::fs::create_dir_all(project_dir.join("sql")).unwrap();
        std::fs::copy(
            example.join("medallion.toml"),
            project_dir.join("medallion.toml"),
        )
        .unwrap();
        for e in std::fs::read_dir(example.join("sql")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, project_dir.join("sql").join(p.file_name().unwrap())).unwrap();
        }
        // 20,000 customers and 200,000 orders: the run takes a while in a debug build.
        super::super::write_sample_data(&project_dir.join("data"), 20_000, 7).unwrap();
        let path = dir.path().join("ws.sqlite");
        let mut ws = Workspace::open(&path).unwrap();
        super::super::import_project(&mut ws, &project_dir, false, false).unwrap();
        let project = ws.load_project("customer_analytics").unwrap().project;
        drop(ws);

        let worker = JobWorker::spawn(&path, Box::new(|| {})).unwrap();
        worker
            .send(JobRequest::Materialize {
                project: Box::new(project.clone()),
                request: MaterializeRequest {
                    selection: "*".into(),
                    partitions: vec![],
                    force: true,
                    trigger: "test".into(),
                    allow_failed_upstream: false,
                    checks_only: false,
                },
                cancel: Arc::new(AtomicBool::new(false)),
                test_first: false,
            })
            .unwrap();
        worker
            .send(JobRequest::Preview {
                project: Box::new(project),
                asset: AssetKey::new("raw_customer_data"),
                limit: 5,
                unmasked: false,
            })
            .unwrap();
        let mut order = Vec::new();
        while order.len() < 2 {
            match next(&worker) {
                JobEvent::RunEvents { .. } => {}
                JobEvent::Preview(p) => {
                    assert_eq!(p.rows.len(), 5);
                    order.push("preview");
                }
                JobEvent::MaterializeFinished { result } => {
                    assert_eq!(result.unwrap()[0].status, crate::model::RunStatus::Success);
                    order.push("run");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(order, ["preview", "run"], "the preview waited for the run");
        worker.finish();
    }

    #[test]
    fn a_run_streams_its_events_and_the_plan_then_says_up_to_date() {
        let (_dir, path, project) = example_workspace();
        let worker = JobWorker::spawn(&path, Box::new(|| {})).unwrap();
        let request = MaterializeRequest {
            selection: "*".into(),
            partitions: vec![],
            force: false,
            trigger: "test".into(),
            allow_failed_upstream: false,
            checks_only: false,
        };
        worker
            .send(JobRequest::Plan {
                id: 1,
                project: Box::new(project.clone()),
                request: request.clone(),
            })
            .unwrap();
        match next(&worker) {
            JobEvent::Plan { id: 1, result } => {
                let steps = result.unwrap();
                assert_eq!(steps.len(), 6);
                assert!(
                    steps
                        .iter()
                        .all(|s| matches!(s.status, crate::engine::PlannedStatus::WillRun { .. }))
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        worker
            .send(JobRequest::Materialize {
                project: Box::new(project.clone()),
                request: request.clone(),
                cancel: Arc::new(AtomicBool::new(false)),
                test_first: false,
            })
            .unwrap();
        let mut streamed = Vec::new();
        let runs = loop {
            match next(&worker) {
                JobEvent::RunEvents { events, .. } => streamed.extend(events),
                JobEvent::MaterializeFinished { result } => break result.unwrap(),
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, crate::model::RunStatus::Success);
        assert!(matches!(
            streamed.first(),
            Some(RunEvent::RunStarted { .. })
        ));
        assert!(matches!(
            streamed.last(),
            Some(RunEvent::RunFinished { .. })
        ));
        worker
            .send(JobRequest::Plan {
                id: 2,
                project: Box::new(project),
                request,
            })
            .unwrap();
        match next(&worker) {
            JobEvent::Plan { id: 2, result } => {
                let steps = result.unwrap();
                assert!(
                    steps
                        .iter()
                        .all(|s| matches!(s.status, crate::engine::PlannedStatus::UpToDate { .. })),
                    "{steps:?}"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        worker.finish();
    }
}
