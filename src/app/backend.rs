//! The studio's backend: one handle that owns everything the studio does off the UI thread.
//!
//! - the **workspace worker** ([`super::worker`]): a named thread with the workspace connection
//!   that saves, loads, imports, exports and watches the open project for outside saves;
//! - the **job worker** ([`super::jobs`]): a named thread with its own connection for
//!   previews, plans, run history, prices and reports, which hands each run to a run thread
//!   with a connection of its own;
//! - the **reattach** thread ([`super::remote::spawn_reattach`]), which follows remote runs an
//!   earlier session left unfinished;
//! - the process's **one tokio runtime** ([`super::runtime`]), whose blocking pool runs the
//!   short tasks that would otherwise each want a thread: native file dialogs, keyring writes
//!   and connection tests ([`TaskRequest`]). The same runtime carries every network call the
//!   workers make (AWS, EKS, sources), so the studio process has exactly one.
//!
//! The studio sends [`Request`]s without blocking and drains [`BackendEvent`]s once per frame
//! ([`Backend::try_next`]); every answer calls the `notify` hook (the studio passes
//! `request_repaint`). This is the shape of rerun's viewer: `logic` drains what arrived,
//! commands are handled at the end of the frame, `ui` only draws. Nothing under `src/ui`
//! starts a thread (clippy's `disallowed-methods` enforces it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use super::AppError;
use super::jobs::{JobEvent, JobRequest, JobWorker};
use super::worker::{WorkspaceEvent, WorkspaceRequest, WorkspaceWorker};
use crate::model::RunId;
use crate::model::{AlertTarget, Resource};
use crate::store::{StoredProject, Workspace};

/// Called after every answer (the studio passes `request_repaint`).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// What the studio asks of its backend.
#[derive(Debug)]
pub enum Request {
    Workspace(WorkspaceRequest),
    Job(JobRequest),
    Task(TaskRequest),
}

impl From<WorkspaceRequest> for Request {
    fn from(r: WorkspaceRequest) -> Self {
        Request::Workspace(r)
    }
}

impl From<JobRequest> for Request {
    fn from(r: JobRequest) -> Self {
        Request::Job(r)
    }
}

impl From<TaskRequest> for Request {
    fn from(r: TaskRequest) -> Self {
        Request::Task(r)
    }
}

/// What the backend answers.
#[derive(Debug)]
pub enum BackendEvent {
    Workspace(WorkspaceEvent),
    Job(JobEvent),
    Task(TaskEvent),
}

/// A request the backend could not queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The backend was started without a workspace ([`Backend::detached`]).
    #[error("no workspace is open")]
    NoWorkspace,
    #[error("the workspace is busy; the request will be retried")]
    WorkspaceBusy,
    #[error("the studio is busy; try again in a moment")]
    JobsBusy,
}

/// Short blocking work run on the backend runtime's blocking pool; each answers with one
/// [`TaskEvent`].
pub enum TaskRequest {
    /// A native folder chooser for the project directory to import.
    ChooseImportDir,
    /// A native folder chooser for the folder a new project is created in.
    ChooseParentDir,
    /// A native folder chooser for where to export project `name`.
    ChooseExportDir { name: String },
    /// A native save dialog for run `run_id`'s HTML quality report.
    ChooseReportFile { run_id: RunId },
    /// Stores `(keyring name, value)` pairs in the OS keyring, in order, stopping at the first
    /// refusal (keyring calls can block on D-Bus). `id` comes back with the answer.
    StoreSecrets {
        id: u64,
        secrets: Vec<(String, String)>,
    },
    /// "Test connection" for a resource that may not be saved yet. `id` comes back with the
    /// answer.
    TestConnection {
        id: u64,
        resource: Box<Resource>,
        resources: Vec<Resource>,
    },
    /// "Send test" for an alert target of `project` that may not be saved yet: a test message
    /// with the usual retries, recorded in the workspace. `id` comes back with the answer.
    TestAlertTarget {
        id: u64,
        project: String,
        target: Box<AlertTarget>,
    },
    /// Imports the executions of `project`'s deployed state machine into run history (a
    /// project opened in the studio). `id` comes back with the answer.
    SyncFromAws { id: u64, project: String },
    /// The Deployment window: `project`'s deployment planned against AWS, applied or removed.
    /// `id` comes back with the answer.
    Deployment {
        id: u64,
        project: String,
        action: super::deploy::DeploymentAction,
    },
}

impl std::fmt::Debug for TaskRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskRequest::ChooseImportDir => f.write_str("ChooseImportDir"),
            TaskRequest::ChooseParentDir => f.write_str("ChooseParentDir"),
            TaskRequest::ChooseExportDir { name } => f
                .debug_struct("ChooseExportDir")
                .field("name", name)
                .finish(),
            TaskRequest::ChooseReportFile { run_id } => f
                .debug_struct("ChooseReportFile")
                .field("run_id", run_id)
                .finish(),
            // The values are secrets: only their names are shown.
            TaskRequest::StoreSecrets { id, secrets } => f
                .debug_struct("StoreSecrets")
                .field("id", id)
                .field("names", &secrets.iter().map(|(n, _)| n).collect::<Vec<_>>())
                .finish(),
            TaskRequest::TestConnection { id, resource, .. } => f
                .debug_struct("TestConnection")
                .field("id", id)
                .field("resource", &resource.name)
                .finish_non_exhaustive(),
            TaskRequest::TestAlertTarget {
                id,
                project,
                target,
            } => f
                .debug_struct("TestAlertTarget")
                .field("id", id)
                .field("project", project)
                .field("target", &target.name)
                .finish(),
            TaskRequest::Deployment {
                id,
                project,
                action,
            } => f
                .debug_struct("Deployment")
                .field("id", id)
                .field("project", project)
                .field("action", action)
                .finish(),
            TaskRequest::SyncFromAws { id, project } => f
                .debug_struct("SyncFromAws")
                .field("id", id)
                .field("project", project)
                .finish(),
        }
    }
}

/// A task's answer.
#[derive(Debug)]
pub enum TaskEvent {
    /// The directory chosen for an import (`None`: the dialog was canceled, or could not be
    /// shown when `open_for` is too short for a person).
    ImportDirChosen {
        path: Option<PathBuf>,
        open_for: Duration,
    },
    /// The folder chosen for a new project (as for an import).
    ParentDirChosen {
        path: Option<PathBuf>,
        open_for: Duration,
    },
    /// The directory chosen for an export (`None`: the dialog was canceled).
    ExportDirChosen(Option<PathBuf>),
    ReportFileChosen {
        run_id: RunId,
        path: Option<PathBuf>,
        /// How long the dialog was open: rfd answers "no file" at once when no dialog could
        /// be shown (no desktop portal and no zenity), which a person cannot do.
        open_for: Duration,
    },
    /// The keyring names stored, or why the keyring refused (nothing after the refusal was
    /// stored).
    SecretsStored {
        id: u64,
        result: Result<Vec<String>, AppError>,
    },
    /// What the connection test reached, or precisely what failed.
    ConnectionTested {
        id: u64,
        result: Result<String, super::connections::ConnectionError>,
    },
    /// How the test message to an alert target went (delivered or not, and what the target
    /// answered), or why it could not be sent at all.
    AlertTested {
        id: u64,
        result: Result<super::alerts::Delivery, AppError>,
    },
    /// What a sync from AWS imported (`None`: the project is not set up for deployment), or
    /// why it failed.
    Synced {
        id: u64,
        result: Result<Option<super::remote::SyncOutcome>, AppError>,
    },
    /// What the Deployment window asked: the plan, or what deploy or undeploy did.
    Deployment {
        id: u64,
        result: Result<Box<super::deploy::DeployOutcome>, AppError>,
    },
    /// A file dialog could not be opened.
    DialogFailed { error: TaskFailure },
}

/// Why a background task gave no answer of its own.
#[derive(Debug, thiserror::Error)]
pub enum TaskFailure {
    /// The runtime that runs the tasks could not be built.
    #[error("cannot start a background task: {0}")]
    NoRuntime(#[source] crate::compute::ComputeError),
    /// The task panicked.
    #[error("the background task stopped unexpectedly")]
    Panicked,
    /// The task needs the workspace and the studio was started without one.
    #[error("no workspace is open")]
    NoWorkspace,
}

/// A workspace opened before the window exists, with the project to show first.
#[derive(Debug)]
pub struct Opened {
    ws: Workspace,
    /// The newest stored project, or the bundled example imported into an empty workspace.
    pub first: Option<StoredProject>,
}

/// The studio's handle on its workers, connections and runtime.
pub struct Backend {
    workspace: Option<WorkspaceWorker>,
    jobs: Option<JobWorker>,
    task_tx: Sender<TaskEvent>,
    task_rx: Receiver<TaskEvent>,
    notify: Notify,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// Opens the workspace at `path` (ending runs whose process is gone) and finds the project
    /// to show first. Blocks: call it before the window exists; [`Backend::start_with`] then
    /// hands the connection to the workspace worker.
    pub fn open(path: &Path) -> Result<Opened, AppError> {
        let mut ws = super::open_workspace(path)?;
        let first = super::project_to_open(&mut ws)?;
        Ok(Opened { ws, first })
    }

    /// Starts the backend on an opened workspace; its connection becomes the workspace
    /// worker's.
    pub fn start_with(opened: Opened, notify: Notify) -> Result<Self, AppError> {
        let path = opened.ws.path().to_owned();
        Self::start_inner(&path, Some(opened.ws), notify)
    }

    /// Starts the backend on the workspace at `path`; each worker opens its connection on its
    /// own thread (a failure arrives as an event).
    pub fn start(path: &Path, notify: Notify) -> Result<Self, AppError> {
        Self::start_inner(path, None, notify)
    }

    /// A backend without a workspace (tests and the benchmark): tasks run, workspace and job
    /// requests are refused with [`SendError::NoWorkspace`].
    pub fn detached() -> Self {
        let (task_tx, task_rx) = mpsc::channel();
        Self {
            workspace: None,
            jobs: None,
            task_tx,
            task_rx,
            notify: Arc::new(|| {}),
            path: None,
        }
    }

    fn start_inner(path: &Path, ws: Option<Workspace>, notify: Notify) -> Result<Self, AppError> {
        let boxed = |n: &Notify| -> Box<dyn Fn() + Send> {
            let n = Arc::clone(n);
            Box::new(move || n())
        };
        let workspace = match ws {
            Some(ws) => WorkspaceWorker::spawn_with(ws, boxed(&notify))?,
            None => WorkspaceWorker::spawn(path, boxed(&notify))?,
        };
        let jobs = JobWorker::spawn(path, boxed(&notify))?;
        // Remote runs left unfinished by an earlier session continue in the background.
        if let Err(e) = super::remote::spawn_reattach(path) {
            tracing::warn!(error = %e, "cannot start reattaching remote runs");
        }
        Ok(Self {
            workspace: Some(workspace),
            jobs: Some(jobs),
            notify,
            path: Some(path.to_owned()),
            ..Self::detached()
        })
    }

    /// The workspace file (`None`: started without one).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether workspace and job requests have somewhere to go.
    pub fn has_workspace(&self) -> bool {
        self.workspace.is_some()
    }

    /// Queues a request without blocking. A task always starts (one that cannot answers so,
    /// by event).
    pub fn send(&mut self, request: impl Into<Request>) -> Result<(), SendError> {
        match request.into() {
            Request::Workspace(r) => self
                .workspace
                .as_ref()
                .ok_or(SendError::NoWorkspace)?
                .send(r)
                .map_err(|_| SendError::WorkspaceBusy),
            Request::Job(r) => self
                .jobs
                .as_ref()
                .ok_or(SendError::NoWorkspace)?
                .send(r)
                .map_err(|_| SendError::JobsBusy),
            Request::Task(t) => {
                self.run_task(t);
                Ok(())
            }
        }
    }

    /// The next answer that has arrived, without blocking: the workspace's first (saves and
    /// conflicts), then tasks', then jobs' (a run's event batches can be many).
    pub fn try_next(&self) -> Option<BackendEvent> {
        if let Some(e) = self.workspace.as_ref().and_then(WorkspaceWorker::try_next) {
            return Some(BackendEvent::Workspace(e));
        }
        if let Ok(e) = self.task_rx.try_recv() {
            return Some(BackendEvent::Task(e));
        }
        self.jobs
            .as_ref()
            .and_then(JobWorker::try_next)
            .map(BackendEvent::Job)
    }

    fn run_task(&mut self, task: TaskRequest) {
        let tx = self.task_tx.clone();
        let key = task.key();
        let notify = Arc::clone(&self.notify);
        let path = self.path.clone();
        let runtime = match super::runtime::handle() {
            Ok(runtime) => runtime,
            Err(e) => {
                let _ = tx.send(key.failed(TaskFailure::NoRuntime(e)));
                notify();
                return;
            }
        };
        // The task's own answer is its event; the join handle is not needed.
        drop(runtime.spawn_blocking(move || {
            // A panic still answers, or the studio would wait forever.
            let event = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_task(task, path.as_deref())
            }))
            .unwrap_or_else(|_| key.failed(TaskFailure::Panicked));
            // Nobody listens once the studio is gone.
            let _ = tx.send(event);
            notify();
        }));
    }

    /// Stops the workers: a run in progress finishes or stops at its cancel flag, the
    /// workspace worker writes what is queued (the last save included). Returns the workspace
    /// events that came after the studio stopped listening. Blocks: call it when the window
    /// closes, after cancelling or detaching the run.
    pub fn shut_down(mut self) -> Vec<WorkspaceEvent> {
        if let Some(jobs) = self.jobs.take() {
            jobs.finish();
        }
        // A task still running (a file dialog left open) is not waited for: the runtime is
        // the process's and ends with it.
        self.workspace
            .take()
            .map(WorkspaceWorker::finish)
            .unwrap_or_default()
    }
}

/// Which task an answer belongs to, kept apart so a task that fails still answers.
#[derive(Debug, Clone, Copy)]
enum TaskKey {
    Dialog,
    Secrets(u64),
    Test(u64),
    AlertTest(u64),
    Sync(u64),
    Deployment(u64),
}

impl TaskRequest {
    fn key(&self) -> TaskKey {
        match self {
            TaskRequest::ChooseImportDir
            | TaskRequest::ChooseParentDir
            | TaskRequest::ChooseExportDir { .. }
            | TaskRequest::ChooseReportFile { .. } => TaskKey::Dialog,
            TaskRequest::StoreSecrets { id, .. } => TaskKey::Secrets(*id),
            TaskRequest::TestConnection { id, .. } => TaskKey::Test(*id),
            TaskRequest::TestAlertTarget { id, .. } => TaskKey::AlertTest(*id),
            TaskRequest::SyncFromAws { id, .. } => TaskKey::Sync(*id),
            TaskRequest::Deployment { id, .. } => TaskKey::Deployment(*id),
        }
    }
}

impl TaskKey {
    /// The answer of a task that could not run.
    fn failed(self, error: TaskFailure) -> TaskEvent {
        match self {
            TaskKey::Dialog => TaskEvent::DialogFailed { error },
            TaskKey::Secrets(id) => TaskEvent::SecretsStored {
                id,
                result: Err(error.into()),
            },
            TaskKey::Test(id) => TaskEvent::ConnectionTested {
                id,
                result: Err(error.into()),
            },
            TaskKey::AlertTest(id) => TaskEvent::AlertTested {
                id,
                result: Err(error.into()),
            },
            TaskKey::Sync(id) => TaskEvent::Synced {
                id,
                result: Err(error.into()),
            },
            TaskKey::Deployment(id) => TaskEvent::Deployment {
                id,
                result: Err(error.into()),
            },
        }
    }
}

/// Records stored secrets (names only) in the workspace's audit log.
fn audit_secrets(workspace: Option<&Path>, names: &[String]) -> Result<(), AppError> {
    let Some(path) = workspace else {
        return Ok(());
    };
    let mut ws = super::open_workspace(path)?;
    for name in names {
        let entry = crate::model::NewAuditEntry::local(
            crate::model::AuditAction::SecretSet,
            None,
            name.clone(),
            serde_json::json!({ "store": "os keyring", "from": "studio" }),
        );
        super::audit::record(&mut ws, &entry)?;
    }
    Ok(())
}

/// Runs one task on a blocking thread; `path` is the workspace's.
fn run_task(task: TaskRequest, path: Option<&Path>) -> TaskEvent {
    match task {
        TaskRequest::ChooseImportDir => {
            let opened = Instant::now();
            let path = rfd::FileDialog::new()
                .set_title("Open project folder")
                .pick_folder();
            TaskEvent::ImportDirChosen {
                path,
                open_for: opened.elapsed(),
            }
        }
        TaskRequest::ChooseParentDir => {
            let opened = Instant::now();
            let path = rfd::FileDialog::new()
                .set_title("Folder for the new project")
                .pick_folder();
            TaskEvent::ParentDirChosen {
                path,
                open_for: opened.elapsed(),
            }
        }
        TaskRequest::ChooseExportDir { name } => TaskEvent::ExportDirChosen(
            rfd::FileDialog::new()
                .set_title("Export project directory")
                .set_file_name(&name)
                .pick_folder(),
        ),
        TaskRequest::ChooseReportFile { run_id } => {
            let opened = Instant::now();
            let path = rfd::FileDialog::new()
                .set_title("Export quality report")
                .set_file_name(format!("report-{run_id}.html"))
                .add_filter("HTML", &["html"])
                .save_file();
            TaskEvent::ReportFileChosen {
                run_id,
                path,
                open_for: opened.elapsed(),
            }
        }
        TaskRequest::StoreSecrets { id, secrets } => {
            let mut names = Vec::new();
            for (name, value) in &secrets {
                if let Err(e) = super::connections::secret_set(name, value) {
                    return TaskEvent::SecretsStored { id, result: Err(e) };
                }
                names.push(name.clone());
            }
            TaskEvent::SecretsStored {
                id,
                result: audit_secrets(path, &names).map(|()| names),
            }
        }
        TaskRequest::TestConnection {
            id,
            resource,
            resources,
        } => TaskEvent::ConnectionTested {
            id,
            result: super::connections::test_resource(&resource, &resources),
        },
        TaskRequest::TestAlertTarget {
            id,
            project,
            target,
        } => TaskEvent::AlertTested {
            id,
            result: match path {
                Some(path) => super::alerts::test_target_at(path, &project, &target),
                None => Err(TaskFailure::NoWorkspace.into()),
            },
        },
        TaskRequest::Deployment {
            id,
            project,
            action,
        } => TaskEvent::Deployment {
            id,
            result: match path {
                Some(path) => super::deploy::deployment_at(path, &project, action).map(Box::new),
                None => Err(TaskFailure::NoWorkspace.into()),
            },
        },
        TaskRequest::SyncFromAws { id, project } => TaskEvent::Synced {
            id,
            result: match path {
                Some(path) => super::remote::sync_on_open(path, &project),
                None => Err(TaskFailure::NoWorkspace.into()),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(backend: &Backend) -> BackendEvent {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Some(e) = backend.try_next() {
                return e;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("no backend event in time");
    }

    /// One handle answers the workspace, the jobs and the tasks, each by event.
    #[test]
    fn workspace_jobs_and_tasks_answer_through_one_handle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ws.sqlite");
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&woken);
        let mut backend = Backend::start(
            &path,
            Arc::new(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }),
        )
        .unwrap();
        backend.send(WorkspaceRequest::ListProjects).unwrap();
        backend
            .send(JobRequest::ListRuns {
                project: "nothing".into(),
            })
            .unwrap();
        // An HTTP resource on a closed port: the test fails, saying so.
        let resource = Resource {
            name: "api".into(),
            description: String::new(),
            kind: crate::model::ResourceKind::Http {
                base_url: "http://127.0.0.1:9/".into(),
                auth_token: None,
            },
        };
        backend
            .send(TaskRequest::TestConnection {
                id: 7,
                resource: Box::new(resource),
                resources: Vec::new(),
            })
            .unwrap();
        let (mut projects, mut runs, mut tested) = (false, false, false);
        while !(projects && runs && tested) {
            match next(&backend) {
                BackendEvent::Workspace(WorkspaceEvent::Projects(list)) => {
                    assert!(list.is_empty());
                    projects = true;
                }
                BackendEvent::Job(JobEvent::Runs(list)) => {
                    assert!(list.is_empty());
                    runs = true;
                }
                BackendEvent::Task(TaskEvent::ConnectionTested { id, result }) => {
                    assert_eq!(id, 7);
                    assert!(result.is_err(), "{result:?}");
                    tested = true;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(woken.load(std::sync::atomic::Ordering::Relaxed) >= 3);
        assert!(backend.shut_down().is_empty());
    }

    /// A request's debug form never shows a secret's value.
    #[test]
    fn secrets_stay_out_of_debug_output() {
        let request = TaskRequest::StoreSecrets {
            id: 1,
            secrets: vec![("p.r.password".into(), "hunter2".into())],
        };
        let shown = format!("{request:?}");
        assert!(
            shown.contains("p.r.password") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
