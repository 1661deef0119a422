//! The automation lease: one process at a time evaluates a project's automation. The lease is
//! taken for [`LEASE_TTL_SECS`] of wall-clock time (never the injected `now`, which may be
//! fixed), renewed by every pass, and kept alive by a [`LeaseKeeper`] while a pass runs a long
//! run. The lease records its holder's process: when that process is gone (looked up the way
//! [`crate::app::liveness`] judges a run's process), the next process takes the lease at once;
//! where it cannot be looked up (another machine), the lease lapses after its time to live.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::app::AppError;
use crate::app::liveness;
use crate::store::{Lease, LeaseRefused, Workspace};

/// How long a lease lasts without being renewed.
pub const LEASE_TTL_SECS: i64 = 120;

/// Who a process is, for the lease and for ticks: `daemon pid 123 on host`.
pub fn holder_id(role: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this machine".to_owned());
    format!("{role} pid {} on {host}", std::process::id())
}

fn wall_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Another process holds a project's automation lease: who.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HeldBy(pub String);

/// Takes or renews the lease; `Err(HeldBy(holder))` when another process holds it.
pub(super) fn acquire(
    ws: &mut Workspace,
    project: &str,
    holder: &str,
) -> Result<Result<(), HeldBy>, AppError> {
    Ok(take(ws, project, holder)?
        .map(|_| ())
        .map_err(|refused| HeldBy(refused.0.holder)))
}

/// Takes or renews the lease for this process; another holder's lease is refused only while
/// it lasts and its process is not known to be gone.
fn take(
    ws: &mut Workspace,
    project: &str,
    holder: &str,
) -> Result<Result<Lease, LeaseRefused>, crate::store::StoreError> {
    ws.acquire_automation_lease(
        project,
        holder,
        liveness::current_owner(),
        wall_ms(),
        LEASE_TTL_SECS * 1000,
        &liveness::is_process_gone,
    )
}

/// Renews a lease every third of its time-to-live on its own connection, until dropped.
pub struct LeaseKeeper {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LeaseKeeper {
    /// Starts renewing; a keeper that cannot start logs why and renews nothing (the pass has
    /// just taken the lease, which lasts [`LEASE_TTL_SECS`]).
    #[expect(
        clippy::disallowed_methods,
        reason = "the lease must stay renewed while a pass runs a long run on this thread"
    )]
    pub fn start(path: &Path, project: &str, holder: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (path, project, holder): (PathBuf, String, String) =
            (path.to_owned(), project.to_owned(), holder.to_owned());
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("medallion-lease".to_owned())
            .spawn(move || keep(&path, &project, &holder, &flag))
            .map_err(|e| tracing::warn!("cannot start the automation lease keeper: {e}"))
            .ok();
        Self { stop, thread }
    }
}

fn keep(path: &Path, project: &str, holder: &str, stop: &AtomicBool) {
    let nap = Duration::from_millis(200);
    let every = Duration::from_secs((LEASE_TTL_SECS / 3).unsigned_abs());
    let mut waited = Duration::ZERO;
    let mut ws = None;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(nap);
        waited += nap;
        if waited < every {
            continue;
        }
        waited = Duration::ZERO;
        if ws.is_none() {
            ws = Workspace::open(path)
                .map_err(|e| tracing::warn!("the lease keeper cannot open the workspace: {e}"))
                .ok();
        }
        if let Some(ws) = ws.as_mut()
            && let Err(e) = take(ws, project, holder)
        {
            tracing::warn!("cannot renew the automation lease of {project}: {e}");
        }
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
