//! The workspace worker: one named thread that owns the `SQLite` workspace for the studio, so
//! saving, listing, opening, importing and exporting never run on the UI thread.
//!
//! Requests go in over a bounded channel with a non-blocking `try_send`; results come back as
//! [`WorkspaceEvent`]s on a bounded channel, and the worker calls the `notify` hook (the studio
//! passes `request_repaint`) after each one. Saves are coalesced: when several are queued only
//! the newest is written.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::model::Project;
use crate::store::{
    ProjectSummary, SaveBase, SaveOptions, StoreError, StoredProject, Workspace, conflict_message,
};

use super::{AppError, ImportReport, Refusal, Replace};

/// Requests queued before the worker refuses more (the UI retries next frame).
const REQUEST_CAPACITY: usize = 16;
const EVENT_CAPACITY: usize = 64;
/// How often the worker looks for saves other windows or commands made to the open project
/// (one `PRAGMA data_version`, and one indexed row when it moved).
pub const POLL_INTERVAL: Duration = Duration::from_millis(400);
/// How often, while the open project has an unfinished run, the worker looks whether that
/// run's process is gone (`app::liveness`): a killed process writes nothing more, so no change
/// of the workspace would ever tell the studio.
pub const DEAD_RUN_LOOK_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub enum WorkspaceRequest {
    /// Save the project. `revision` is the studio's document revision it was taken at; `base`
    /// the stored revision its edits started from (`None`: the one `Track` found). A save over
    /// a newer stored revision is refused with `SaveConflict`, unless `copy_on_conflict` (the
    /// window is closing): then the edits are saved as a new project.
    Save {
        project: Box<Project>,
        revision: u64,
        base: Option<SaveBase>,
        copy_on_conflict: bool,
    },
    /// Save the studio's edits as a new project `name`, with the directory of project `from`
    /// (so relative source paths still resolve).
    SaveCopy {
        project: Box<Project>,
        from: String,
        name: String,
        revision: u64,
    },
    /// The studio shows `project`: watch it for outside changes. `known` is the stored
    /// revision it was loaded at; `None` asks the worker to find it (the stored revision, when
    /// the stored content is the same).
    Track {
        project: Box<Project>,
        known: Option<i64>,
    },
    /// Load the open project again (it changed outside).
    Reload {
        name: String,
    },
    ListProjects,
    Open {
        name: String,
    },
    /// Import a project directory (replacing a project of the same name), then open it.
    /// Unless `confirmed`, a stored project with edits made after its last import is not
    /// replaced: `ImportNeedsConfirmation` asks first.
    Import {
        dir: PathBuf,
        confirmed: bool,
    },
    /// Import the bundled example project and open it (open it when it is already stored).
    OpenExample,
    /// Write a starter project into the new folder `parent/name`, then import and open it.
    CreateStarter {
        parent: PathBuf,
        name: String,
    },
    /// Write a project to a directory in the project file format.
    Export {
        project: Box<Project>,
        dir: PathBuf,
    },
}

#[derive(Debug)]
pub enum WorkspaceEvent {
    Saved {
        name: String,
        revision: u64,
        /// The stored revision the save wrote.
        stored_revision: i64,
    },
    SaveFailed {
        revision: u64,
        error: AppError,
    },
    /// A save was refused: another window or command saved the project since the revision
    /// the edits started from. `project` holds the refused edits; nothing was written.
    SaveConflict {
        revision: u64,
        name: String,
        stored_revision: i64,
        message: String,
        project: Box<Project>,
    },
    /// Edits were saved as a new project (save as a copy, or a conflict while closing).
    CopySaved {
        from: String,
        revision: u64,
        stored: Box<StoredProject>,
    },
    CopyFailed {
        error: AppError,
    },
    /// What `Track` found: the stored revision the studio's project starts from (`New`: not
    /// stored). `differs`: the studio's project is not that revision's content, so it holds
    /// edits of it that are not saved yet.
    Tracking {
        name: String,
        base: SaveBase,
        differs: bool,
    },
    /// Another window or command saved the watched project (`revision` 0: it was removed).
    ChangedOutside {
        name: String,
        revision: i64,
    },
    /// A run of the watched project was recorded, started, ended or deleted by another
    /// window, the CLI or the daemon (or by this studio's own job worker): the cards'
    /// states and the run history are to be read again.
    RunsChanged {
        name: String,
    },
    Reloaded(Box<StoredProject>),
    ReloadFailed {
        error: AppError,
    },
    Projects(Vec<ProjectSummary>),
    Opened(Box<StoredProject>),
    Imported {
        report: Box<ImportReport>,
        stored: Box<StoredProject>,
    },
    /// The import would replace edits made in the workspace after the project's last import;
    /// `message` says which (send `Import` again with `confirmed` to go ahead).
    ImportNeedsConfirmation {
        dir: PathBuf,
        message: String,
    },
    /// The project was written to `dir`; its unit tests' CSV files that could not be copied
    /// are listed.
    Exported {
        dir: PathBuf,
        missing_test_files: Vec<String>,
    },
    /// Any other request failed; `what` says which, in a few words.
    Failed {
        what: String,
        error: AppError,
    },
}

/// What a background thread of the studio is started with: the channel it reads requests from,
/// the channel it sends events on, and the repaint callback.
pub(super) struct WorkerEnds<Req, Ev> {
    pub requests: Receiver<Req>,
    pub events: SyncSender<Ev>,
    pub notify: Box<dyn Fn() + Send>,
}

/// The studio's ends of a worker: where it queues requests, where events arrive, the thread.
pub(super) type StudioEnds<Req, Ev> = (SyncSender<Req>, Receiver<Ev>, JoinHandle<()>);

/// Starts a named background thread over bounded channels (shared by the workspace and job
/// workers) and returns the studio's ends of them.
#[expect(
    clippy::disallowed_methods,
    reason = "the backend's named worker threads start here"
)]
pub(super) fn spawn_worker<Req: Send + 'static, Ev: Send + 'static>(
    name: &str,
    path: &Path,
    capacity: (usize, usize),
    notify: Box<dyn Fn() + Send>,
    body: impl FnOnce(&Path, WorkerEnds<Req, Ev>) + Send + 'static,
) -> Result<StudioEnds<Req, Ev>, AppError> {
    let (request_tx, request_rx) = mpsc::sync_channel(capacity.0);
    let (event_tx, event_rx) = mpsc::sync_channel(capacity.1);
    let thread_path = path.to_owned();
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            body(
                &thread_path,
                WorkerEnds {
                    requests: request_rx,
                    events: event_tx,
                    notify,
                },
            );
        })
        .map_err(|source| AppError::Io {
            path: path.to_owned(),
            source,
        })?;
    Ok((request_tx, event_rx, thread))
}

/// Queues a request without blocking; a full or closed queue hands the request back.
pub(super) fn try_queue<Req>(requests: Option<&SyncSender<Req>>, request: Req) -> Result<(), Req> {
    let Some(tx) = requests else {
        return Err(request);
    };
    match tx.try_send(request) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(r) | TrySendError::Disconnected(r)) => Err(r),
    }
}

/// The studio's handle on the worker thread.
pub struct WorkspaceWorker {
    requests: Option<SyncSender<WorkspaceRequest>>,
    events: Receiver<WorkspaceEvent>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl std::fmt::Debug for WorkspaceWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceWorker")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The worker queue is full; try again later.
#[derive(Debug, thiserror::Error)]
#[error("the workspace is busy; the request will be retried")]
pub struct Busy(pub WorkspaceRequest);

impl WorkspaceWorker {
    /// Starts the worker on the workspace at `path` (opened on the worker thread).
    pub fn spawn(path: &Path, notify: Box<dyn Fn() + Send>) -> Result<Self, AppError> {
        Self::start(path, None, notify)
    }

    /// Starts the worker on a workspace already open (the studio's first load): the worker
    /// thread takes over its connection.
    pub fn spawn_with(ws: Workspace, notify: Box<dyn Fn() + Send>) -> Result<Self, AppError> {
        let path = ws.path().to_owned();
        Self::start(&path, Some(ws), notify)
    }

    fn start(
        path: &Path,
        ws: Option<Workspace>,
        notify: Box<dyn Fn() + Send>,
    ) -> Result<Self, AppError> {
        let (request_tx, event_rx, thread) = spawn_worker(
            "medallion-workspace",
            path,
            (REQUEST_CAPACITY, EVENT_CAPACITY),
            notify,
            move |path, ends: WorkerEnds<WorkspaceRequest, WorkspaceEvent>| {
                run(path, ws, &ends.requests, &ends.events, &*ends.notify);
            },
        )?;
        Ok(Self {
            requests: Some(request_tx),
            events: event_rx,
            thread: Some(thread),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a request without blocking.
    pub fn send(&self, request: WorkspaceRequest) -> Result<(), Busy> {
        try_queue(self.requests.as_ref(), request).map_err(Busy)
    }

    /// The next event that has arrived, without blocking.
    pub fn try_next(&self) -> Option<WorkspaceEvent> {
        self.events.try_recv().ok()
    }

    /// Events that have arrived, without blocking.
    pub fn poll(&self) -> Vec<WorkspaceEvent> {
        let mut out = Vec::new();
        loop {
            match self.events.try_recv() {
                Ok(e) => out.push(e),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return out,
            }
        }
    }

    /// Stops taking requests, lets the worker finish what is queued (the last save included),
    /// and returns the events it produced. Blocks: call it when the window closes.
    pub fn finish(mut self) -> Vec<WorkspaceEvent> {
        self.requests = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the workspace worker panicked");
        }
        self.poll()
    }
}

fn run(
    path: &Path,
    opened: Option<Workspace>,
    requests: &Receiver<WorkspaceRequest>,
    events: &SyncSender<WorkspaceEvent>,
    notify: &dyn Fn(),
) {
    let emit = |event: WorkspaceEvent| {
        // The studio drains events every frame; if it is gone, nobody is listening.
        let _ = events.send(event);
        notify();
    };
    let mut ws = open_or_tell(path, opened, &emit);
    let mut state = State::default();
    let mut pending: Option<WorkspaceRequest> = None;
    let mut last_poll = Instant::now();
    loop {
        if last_poll.elapsed() >= POLL_INTERVAL {
            last_poll = Instant::now();
            if let Some(event) = ws.as_mut().and_then(|ws| state.poll(ws)) {
                emit(event);
            }
        }
        let request = match pending.take() {
            Some(r) => r,
            None => {
                match requests.recv_timeout(POLL_INTERVAL.saturating_sub(last_poll.elapsed())) {
                    Ok(r) => r,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        };
        let request = coalesce_saves(request, requests, &mut pending);
        let Some(ws) = ws.as_mut() else {
            emit(WorkspaceEvent::Failed {
                what: "use the workspace".to_owned(),
                error: AppError::NoWorkspace {
                    path: path.to_owned(),
                },
            });
            continue;
        };
        emit(handle(ws, &mut state, request));
    }
}

/// The workspace the studio handed over, or the one at `path`; `None` (and the studio told)
/// when it cannot be opened.
fn open_or_tell(
    path: &Path,
    opened: Option<Workspace>,
    emit: &dyn Fn(WorkspaceEvent),
) -> Option<Workspace> {
    let opened = match opened {
        Some(ws) => Ok(ws),
        None => Workspace::open(path),
    };
    match opened {
        Ok(ws) => Some(ws),
        Err(e) => {
            tracing::error!(error = %e, "cannot open the workspace");
            emit(WorkspaceEvent::Failed {
                what: "open the workspace".to_owned(),
                error: e.into(),
            });
            None
        }
    }
}

/// Coalesces saves: a save followed by queued saves of the same project becomes the newest
/// of them (all carry the same base). The first other request taken off the queue is kept in
/// `pending` for the next turn.
fn coalesce_saves(
    request: WorkspaceRequest,
    requests: &Receiver<WorkspaceRequest>,
    pending: &mut Option<WorkspaceRequest>,
) -> WorkspaceRequest {
    let WorkspaceRequest::Save {
        mut project,
        mut revision,
        mut base,
        copy_on_conflict: mut copy,
    } = request
    else {
        return request;
    };
    while let Ok(next) = requests.try_recv() {
        match next {
            WorkspaceRequest::Save {
                project: p,
                revision: r,
                base: b,
                copy_on_conflict: c,
            } if p.name == project.name => {
                (project, revision, base) = (p, r, b);
                copy |= c;
            }
            other => {
                *pending = Some(other);
                break;
            }
        }
    }
    WorkspaceRequest::Save {
        project,
        revision,
        base,
        copy_on_conflict: copy,
    }
}

/// What the worker remembers between requests about the studio's open project.
#[derive(Debug, Default)]
struct State {
    /// The project the studio shows, and the newest stored revision the studio has heard of
    /// (0: not stored).
    watch: Option<(String, i64)>,
    /// `PRAGMA data_version` at the last look: unchanged means nobody else wrote.
    data_version: Option<i64>,
    /// The watched project's runs at the last look.
    runs: Option<crate::store::RunsMark>,
    /// What `Track` found for a project; a save sent without a base uses it.
    tracked: Option<(String, SaveBase)>,
    /// This studio's last save: its project, the base it was sent with, the revision written.
    /// A save sent before the studio heard of that one carries the same base, and continues
    /// from the revision written (its edits include that save's).
    lineage: Option<(String, Option<SaveBase>, i64)>,
    /// When the worker last looked for dead runs.
    dead_runs_looked: Option<Instant>,
}

impl State {
    fn watch(&mut self, name: &str, revision: i64) {
        if self.watch.as_ref().is_none_or(|(n, _)| n != name) {
            self.runs = None;
        }
        self.watch = Some((name.to_owned(), revision));
    }

    /// A save of `name` wrote `revision`: the studio knows of it.
    fn saved(&mut self, name: &str, sent: Option<SaveBase>, revision: i64) {
        self.lineage = Some((name.to_owned(), sent, revision));
        if let Some((watched, known)) = &mut self.watch
            && watched == name
        {
            *known = revision;
        }
    }

    /// The base a save of `name` sent with `sent` really starts from.
    fn base_of(&self, name: &str, sent: Option<SaveBase>) -> SaveBase {
        if let Some((n, s, written)) = &self.lineage
            && n == name
            && *s == sent
        {
            return SaveBase::Revision(*written);
        }
        match (sent, &self.tracked) {
            (Some(base), _) => base,
            (None, Some((n, base))) if n == name => *base,
            // Nothing known about it: only a new project may be written.
            (None, _) => SaveBase::New,
        }
    }

    /// While the watched project has an unfinished run, every [`DEAD_RUN_LOOK_EVERY`]: ends
    /// the runs whose process is gone (as the CLI and the job worker do); whether one of them
    /// was the watched project's.
    fn end_dead_runs(&mut self, ws: &mut Workspace) -> bool {
        let Some((name, _)) = &self.watch else {
            return false;
        };
        if !self
            .runs
            .as_ref()
            .is_some_and(crate::store::RunsMark::has_unfinished)
            || self
                .dead_runs_looked
                .is_some_and(|t| t.elapsed() < DEAD_RUN_LOOK_EVERY)
        {
            return false;
        }
        self.dead_runs_looked = Some(Instant::now());
        match super::liveness::end_dead_runs(ws) {
            Ok(ended) => ended.iter().any(|r| r.project == *name),
            Err(e) => {
                tracing::debug!(error = %e, "cannot look for runs whose process ended");
                false
            }
        }
    }

    /// Another window's or command's save of the watched project, if there was one; or its
    /// runs moved (recorded, ended — also a dead one ended here).
    fn poll(&mut self, ws: &mut Workspace) -> Option<WorkspaceEvent> {
        // This connection's own writes leave `data_version` as it was: said here.
        let ended_here = self.end_dead_runs(ws);
        let (name, known) = self.watch.as_mut()?;
        let version = match ws.data_version() {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the workspace's data version");
                return None;
            }
        };
        if self.data_version == Some(version) {
            if ended_here {
                self.runs = ws.runs_mark(name).ok();
                return Some(WorkspaceEvent::RunsChanged { name: name.clone() });
            }
            return None;
        }
        self.data_version = Some(version);
        let revision = match ws.project_revision(name) {
            Ok(r) => r.unwrap_or(0),
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the open project's revision");
                return None;
            }
        };
        let runs = ws.runs_mark(name).ok();
        let runs_moved = ended_here || (runs.is_some() && self.runs.is_some() && runs != self.runs);
        if runs.is_some() {
            self.runs = runs;
        }
        if revision == *known {
            return runs_moved.then(|| WorkspaceEvent::RunsChanged { name: name.clone() });
        }
        *known = revision;
        tracing::info!(project = %name, revision, "the open project changed outside the studio");
        Some(WorkspaceEvent::ChangedOutside {
            name: name.clone(),
            revision,
        })
    }
}

fn handle(ws: &mut Workspace, state: &mut State, request: WorkspaceRequest) -> WorkspaceEvent {
    match request {
        WorkspaceRequest::Save {
            project,
            revision,
            base: sent,
            copy_on_conflict,
        } => save(ws, state, *project, revision, sent, copy_on_conflict),
        WorkspaceRequest::SaveCopy {
            project,
            from,
            name,
            revision,
        } => {
            // The studio sends `Track` when it goes on with the copy.
            save_copy(ws, *project, &from, &name, revision)
        }
        WorkspaceRequest::Track { project, known } => track(ws, state, &project, known),
        WorkspaceRequest::Reload { name } => match ws.load_project(&name) {
            Ok(stored) => {
                state.watch(&name, stored.revision);
                WorkspaceEvent::Reloaded(Box::new(stored))
            }
            Err(e) => WorkspaceEvent::ReloadFailed {
                error: AppError::Reload {
                    name,
                    source: Box::new(e),
                },
            },
        },
        WorkspaceRequest::ListProjects => match ws.list_projects() {
            Ok(list) => WorkspaceEvent::Projects(list),
            Err(e) => failed("list projects", e),
        },
        WorkspaceRequest::Open { name } => match ws.load_project(&name) {
            Ok(stored) => {
                state.watch(&name, stored.revision);
                WorkspaceEvent::Opened(Box::new(stored))
            }
            Err(e) => failed(&format!("open {name}"), e),
        },
        WorkspaceRequest::Import { dir, confirmed } => import(ws, state, dir, confirmed),
        WorkspaceRequest::OpenExample => open_example(ws, state),
        WorkspaceRequest::CreateStarter { parent, name } => {
            match super::starter::create(&parent, &name) {
                Ok(dir) => import(ws, state, dir, false),
                Err(e) => failed("create the project", e),
            }
        }
        WorkspaceRequest::Export { project, dir } => {
            let source_dir = ws
                .load_project(&project.name)
                .ok()
                .and_then(|s| s.source_dir);
            match super::write_export(&project, source_dir.as_deref(), &dir) {
                Ok(missing_test_files) => WorkspaceEvent::Exported {
                    dir,
                    missing_test_files,
                },
                Err(e) => failed(&format!("export to {}", dir.display()), e),
            }
        }
    }
}

/// A request that failed, told as what was being done and why it failed.
fn failed(what: &str, e: impl Into<AppError>) -> WorkspaceEvent {
    WorkspaceEvent::Failed {
        what: what.to_owned(),
        error: e.into(),
    }
}

/// Saves `project` over the base the studio's edits really start from; on a conflict, either
/// saves the edits as a copy (`copy_on_conflict`) or hands the conflict back to the studio.
fn save(
    ws: &mut Workspace,
    state: &mut State,
    project: Project,
    revision: u64,
    sent: Option<SaveBase>,
    copy_on_conflict: bool,
) -> WorkspaceEvent {
    let base = state.base_of(&project.name, sent);
    match ws.save_project_at(&project, base) {
        Ok(stored_revision) => {
            tracing::debug!(project = %project.name, revision, stored_revision, "saved");
            state.saved(&project.name, sent, stored_revision);
            WorkspaceEvent::Saved {
                name: project.name,
                revision,
                stored_revision,
            }
        }
        Err(StoreError::Conflict { name, stored, base }) if copy_on_conflict => {
            let copy = free_copy_name(ws, &name);
            tracing::warn!(
                "{}; saving the edits as project {copy}",
                conflict_message(&name, stored, base)
            );
            save_copy(ws, project, &name, &copy, revision)
        }
        Err(StoreError::Conflict { name, stored, base }) => {
            tracing::warn!("{}", conflict_message(&name, stored, base));
            WorkspaceEvent::SaveConflict {
                revision,
                message: conflict_message(&name, stored, base),
                name,
                stored_revision: stored,
                project: Box::new(project),
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "save failed");
            WorkspaceEvent::SaveFailed {
                revision,
                error: e.into(),
            }
        }
    }
}

/// Starts watching `project`: from the revision the studio knows, or else the stored one
/// (telling whether the studio's copy differs from it).
fn track(
    ws: &mut Workspace,
    state: &mut State,
    project: &Project,
    known: Option<i64>,
) -> WorkspaceEvent {
    let name = project.name.clone();
    let (base, differs) = match known {
        Some(revision) => (SaveBase::Revision(revision), false),
        None => match ws.load_project(&name) {
            Ok(stored) => (
                SaveBase::Revision(stored.revision),
                stored.project != *project,
            ),
            Err(StoreError::NoSuchProject { .. }) => (SaveBase::New, false),
            Err(e) => return failed(&format!("open {name}"), e),
        },
    };
    state.tracked = Some((name.clone(), base));
    let stored_revision = match base {
        SaveBase::Revision(r) => r,
        SaveBase::New => 0,
    };
    state.watch(&name, stored_revision);
    // Look at once rather than at the next poll.
    state.data_version = None;
    WorkspaceEvent::Tracking {
        name,
        base,
        differs,
    }
}

/// Imports the project in `dir`; replacing one edited since its import needs `confirmed`.
fn import(ws: &mut Workspace, state: &mut State, dir: PathBuf, confirmed: bool) -> WorkspaceEvent {
    let replace = if confirmed {
        Replace::Yes
    } else {
        Replace::Unedited
    };
    match super::import_project_with(ws, &dir, replace, true).and_then(|report| {
        let stored = ws.load_project(&report.name)?;
        Ok((report, stored))
    }) {
        Ok((report, stored)) => {
            state.watch(&stored.project.name, stored.revision);
            WorkspaceEvent::Imported {
                report: Box::new(report),
                stored: Box::new(stored),
            }
        }
        Err(e @ AppError::EditedSinceImport { .. }) => WorkspaceEvent::ImportNeedsConfirmation {
            dir,
            message: e.to_string(),
        },
        Err(e) => failed(&format!("import {}", dir.display()), e),
    }
}

/// The bundled example: the stored one when the workspace has it, else imported.
fn open_example(ws: &mut Workspace, state: &mut State) -> WorkspaceEvent {
    let name = super::EXAMPLE_PROJECT;
    match ws.project_exists(name) {
        Ok(true) => match ws.load_project(name) {
            Ok(stored) => {
                state.watch(name, stored.revision);
                WorkspaceEvent::Opened(Box::new(stored))
            }
            Err(e) => failed(&format!("open {name}"), e),
        },
        Ok(false) => match super::example_project_dir() {
            Some(dir) => import(ws, state, dir, false),
            None => failed("open the example", AppError::NoExample),
        },
        Err(e) => failed("open the example", e),
    }
}

/// The first of `NAME_copy`, `NAME_copy_2`, … that no stored project has.
pub fn free_copy_name(ws: &Workspace, name: &str) -> String {
    let taken = |candidate: &str| ws.project_exists(candidate).unwrap_or(true);
    let first = format!("{name}_copy");
    if !taken(&first) {
        return first;
    }
    (2..1000)
        .map(|i| format!("{name}_copy_{i}"))
        .find(|c| !taken(c))
        .unwrap_or_else(|| format!("{name}_copy_{}", std::process::id()))
}

/// Saves `project` as the new project `name` with `from`'s directory.
fn save_copy(
    ws: &mut Workspace,
    mut project: Project,
    from: &str,
    name: &str,
    revision: u64,
) -> WorkspaceEvent {
    if !crate::model::validate::is_project_name(name) {
        return WorkspaceEvent::CopyFailed {
            error: Refusal::NotAProjectName {
                name: name.to_owned(),
            }
            .into(),
        };
    }
    let source_dir = ws.load_project(from).ok().and_then(|s| s.source_dir);
    name.clone_into(&mut project.name);
    let saved = ws.save_project_with(
        &project,
        &SaveOptions {
            source_dir: source_dir.as_deref(),
            base: Some(SaveBase::New),
            imported: false,
        },
    );
    match saved.and_then(|_| ws.load_project(name)) {
        Ok(stored) => WorkspaceEvent::CopySaved {
            from: from.to_owned(),
            revision,
            stored: Box::new(stored),
        },
        Err(StoreError::Conflict { .. }) => WorkspaceEvent::CopyFailed {
            error: Refusal::ProjectNameTaken {
                name: name.to_owned(),
            }
            .into(),
        },
        Err(e) => WorkspaceEvent::CopyFailed { error: e.into() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::synthetic;
    use std::time::{Duration, Instant};

    fn wait_for(worker: &WorkspaceWorker, mut done: impl FnMut(&WorkspaceEvent) -> bool) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if worker.poll().iter().any(&mut done) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("no matching workspace event");
    }

    #[test]
    fn saves_are_written_off_thread_and_the_newest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ws.sqlite");
        let worker = WorkspaceWorker::spawn(&path, Box::new(|| {})).unwrap();
        let mut project = synthetic::generate("p", 20, 1);
        for revision in 1..=5 {
            project.description = format!("revision {revision}");
            worker
                .send(WorkspaceRequest::Save {
                    project: Box::new(project.clone()),
                    revision,
                    base: None,
                    copy_on_conflict: false,
                })
                .unwrap();
        }
        let events = worker.finish();
        let saved: Vec<u64> = events
            .iter()
            .filter_map(|e| match e {
                WorkspaceEvent::Saved { revision, .. } => Some(*revision),
                _ => None,
            })
            .collect();
        assert_eq!(saved.last(), Some(&5), "{events:?}");
        let ws = Workspace::open(&path).unwrap();
        assert_eq!(
            ws.load_project("p").unwrap().project.description,
            "revision 5"
        );
    }

    #[test]
    fn saves_in_flight_continue_from_their_own_and_outside_saves_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ws.sqlite");
        let mut project = synthetic::generate("p", 8, 1);
        Workspace::open(&path)
            .unwrap()
            .save_project(&project, None)
            .unwrap();
        let worker = WorkspaceWorker::spawn(&path, Box::new(|| {})).unwrap();
        worker
            .send(WorkspaceRequest::Track {
                project: Box::new(project.clone()),
                known: Some(1),
            })
            .unwrap();
        // Two saves sent before the first one's answer: both carry base 1. A request between
        // them keeps them from being coalesced.
        for (revision, words) in [(1, "first"), (2, "second")] {
            project.description = words.into();
            worker
                .send(WorkspaceRequest::Save {
                    project: Box::new(project.clone()),
                    revision,
                    base: Some(SaveBase::Revision(1)),
                    copy_on_conflict: false,
                })
                .unwrap();
            worker.send(WorkspaceRequest::ListProjects).unwrap();
        }
        let mut saved = Vec::new();
        wait_for(&worker, |e| {
            if let WorkspaceEvent::Saved {
                stored_revision, ..
            } = e
            {
                saved.push(*stored_revision);
            }
            assert!(
                !matches!(e, WorkspaceEvent::SaveConflict { .. }),
                "its own save is not a conflict: {e:?}"
            );
            saved.len() == 2
        });
        assert_eq!(saved, [2, 3]);

        // Another connection saves: the worker notices without being asked.
        let mut other = Workspace::open(&path).unwrap();
        project.description = "elsewhere".into();
        assert_eq!(
            other
                .save_project_at(&project, SaveBase::Revision(3))
                .unwrap(),
            4
        );
        wait_for(
            &worker,
            |e| matches!(e, WorkspaceEvent::ChangedOutside { name, revision: 4 } if name == "p"),
        );
        // A save still based on 3 is refused, naming both revisions; nothing is written.
        project.description = "stale".into();
        worker
            .send(WorkspaceRequest::Save {
                project: Box::new(project.clone()),
                revision: 3,
                base: Some(SaveBase::Revision(3)),
                copy_on_conflict: false,
            })
            .unwrap();
        wait_for(&worker, |e| match e {
            WorkspaceEvent::SaveConflict { message, .. } => {
                assert!(
                    message.contains("(revision 4, yours is based on 3)"),
                    "{message}"
                );
                true
            }
            _ => false,
        });
        assert_eq!(
            other.load_project("p").unwrap().project.description,
            "elsewhere"
        );
        // Closing over a conflict keeps the edits as a copy.
        worker
            .send(WorkspaceRequest::Save {
                project: Box::new(project),
                revision: 4,
                base: Some(SaveBase::Revision(3)),
                copy_on_conflict: true,
            })
            .unwrap();
        let events = worker.finish();
        assert!(
            events.iter().any(|e| matches!(e,
                WorkspaceEvent::CopySaved { stored, .. } if stored.project.name == "p_copy"
                    && stored.project.description == "stale")),
            "{events:?}"
        );
    }

    #[test]
    fn export_and_import_round_trip_through_the_worker() {
        let dir = tempfile::tempdir().unwrap();
        let worker =
            WorkspaceWorker::spawn(&dir.path().join("ws.sqlite"), Box::new(|| {})).unwrap();
        let project = synthetic::generate("round", 12, 4);
        let out = dir.path().join("export");
        worker
            .send(WorkspaceRequest::Export {
                project: Box::new(project.clone()),
                dir: out.clone(),
            })
            .unwrap();
        wait_for(&worker, |e| matches!(e, WorkspaceEvent::Exported { .. }));
        worker
            .send(WorkspaceRequest::Import {
                dir: out,
                confirmed: false,
            })
            .unwrap();
        wait_for(&worker, |e| match e {
            WorkspaceEvent::Imported { stored, .. } => {
                assert_eq!(stored.project.assets.len(), 12);
                true
            }
            _ => false,
        });
        worker
            .send(WorkspaceRequest::Open {
                name: "nope".into(),
            })
            .unwrap();
        wait_for(&worker, |e| matches!(e, WorkspaceEvent::Failed { .. }));
    }
}
