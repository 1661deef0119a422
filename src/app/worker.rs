//! The workspace worker: one named thread that owns the `SQLite` workspace for the studio, so
//! saving, listing, opening, importing and exporting never run on the UI thread.
//!
//! Requests go in over a bounded channel with a non-blocking `try_send`; results come back as
//! [`WorkspaceEvent`]s on a bounded channel, and the worker calls the `notify` hook (the studio
//! passes `request_repaint`) after each one. Saves are coalesced: when several are queued only
//! the newest is written.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;

use crate::model::Project;
use crate::store::{ProjectSummary, StoredProject, Workspace};

use super::{AppError, ImportReport};

/// Requests queued before the worker refuses more (the UI retries next frame).
const REQUEST_CAPACITY: usize = 16;
const EVENT_CAPACITY: usize = 64;

#[derive(Debug)]
pub enum WorkspaceRequest {
    /// Save the project; `revision` is the studio's document revision it was taken at.
    Save {
        project: Box<Project>,
        revision: u64,
    },
    ListProjects,
    Open {
        name: String,
    },
    /// Import a project directory (replacing a project of the same name), then open it.
    Import {
        dir: PathBuf,
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
    },
    SaveFailed {
        revision: u64,
        error: String,
    },
    Projects(Vec<ProjectSummary>),
    Opened(Box<StoredProject>),
    Imported {
        report: ImportReport,
        stored: Box<StoredProject>,
    },
    Exported {
        dir: PathBuf,
    },
    /// Any other request failed; `what` says which, in a few words.
    Failed {
        what: String,
        error: String,
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
        let (request_tx, event_rx, thread) = spawn_worker(
            "medallion-workspace",
            path,
            (REQUEST_CAPACITY, EVENT_CAPACITY),
            notify,
            |path, ends: WorkerEnds<WorkspaceRequest, WorkspaceEvent>| {
                run(path, &ends.requests, &ends.events, &*ends.notify);
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
    requests: &Receiver<WorkspaceRequest>,
    events: &SyncSender<WorkspaceEvent>,
    notify: &dyn Fn(),
) {
    let emit = |event: WorkspaceEvent| {
        // The studio drains events every frame; if it is gone, nobody is listening.
        let _ = events.send(event);
        notify();
    };
    let mut ws = match Workspace::open(path) {
        Ok(ws) => Some(ws),
        Err(e) => {
            tracing::error!(error = %e, "cannot open the workspace");
            emit(WorkspaceEvent::Failed {
                what: "open the workspace".to_owned(),
                error: e.to_string(),
            });
            None
        }
    };
    let mut pending: Option<WorkspaceRequest> = None;
    loop {
        let request = match pending.take() {
            Some(r) => r,
            None => match requests.recv() {
                Ok(r) => r,
                Err(_) => return,
            },
        };
        let request = match request {
            // Coalesce saves: only the newest queued save is written.
            WorkspaceRequest::Save { project, revision } => {
                let (mut project, mut revision) = (project, revision);
                while let Ok(next) = requests.try_recv() {
                    match next {
                        WorkspaceRequest::Save {
                            project: p,
                            revision: r,
                        } => (project, revision) = (p, r),
                        other => {
                            pending = Some(other);
                            break;
                        }
                    }
                }
                WorkspaceRequest::Save { project, revision }
            }
            other => other,
        };
        let Some(ws) = ws.as_mut() else {
            emit(WorkspaceEvent::Failed {
                what: "use the workspace".to_owned(),
                error: format!("the workspace {} could not be opened", path.display()),
            });
            continue;
        };
        emit(handle(ws, request));
    }
}

fn handle(ws: &mut Workspace, request: WorkspaceRequest) -> WorkspaceEvent {
    let failed = |what: &str, e: &dyn std::fmt::Display| WorkspaceEvent::Failed {
        what: what.to_owned(),
        error: e.to_string(),
    };
    match request {
        WorkspaceRequest::Save { project, revision } => match ws.save_project(&project, None) {
            Ok(_) => {
                tracing::debug!(project = %project.name, revision, "saved");
                WorkspaceEvent::Saved {
                    name: project.name,
                    revision,
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "save failed");
                WorkspaceEvent::SaveFailed {
                    revision,
                    error: e.to_string(),
                }
            }
        },
        WorkspaceRequest::ListProjects => match ws.list_projects() {
            Ok(list) => WorkspaceEvent::Projects(list),
            Err(e) => failed("list projects", &e),
        },
        WorkspaceRequest::Open { name } => match ws.load_project(&name) {
            Ok(stored) => WorkspaceEvent::Opened(Box::new(stored)),
            Err(e) => failed(&format!("open {name}"), &e),
        },
        WorkspaceRequest::Import { dir } => {
            match super::import_project(ws, &dir, true, true).and_then(|report| {
                let stored = ws.load_project(&report.name)?;
                Ok((report, stored))
            }) {
                Ok((report, stored)) => WorkspaceEvent::Imported {
                    report,
                    stored: Box::new(stored),
                },
                Err(e) => failed(&format!("import {}", dir.display()), &e),
            }
        }
        WorkspaceRequest::Export { project, dir } => match export_to(&project, &dir) {
            Ok(()) => WorkspaceEvent::Exported { dir },
            Err(e) => failed(&format!("export to {}", dir.display()), &e),
        },
    }
}

fn export_to(project: &Project, dir: &Path) -> Result<(), AppError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|source| AppError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let is_project = dir.join(crate::format::PROJECT_FILE).is_file();
        if entries.next().is_some() && !is_project {
            return Err(AppError::ExportTargetNotEmpty {
                path: dir.to_owned(),
            });
        }
    }
    crate::format::write_project(project, dir)?;
    Ok(())
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
        worker.send(WorkspaceRequest::Import { dir: out }).unwrap();
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
