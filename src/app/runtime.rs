//! The process's one tokio runtime. Every async client the app drives — the AWS SDK, kube,
//! reqwest, tokio-postgres — runs on it, whichever face the process has: the studio (its
//! `Backend` runs blocking tasks on it), a CLI command, the remote runner, the automation
//! daemon. It is built the first time something needs it (a command that never touches the
//! network never builds it) and lives as long as the process, so a client made on it (a kube
//! client, an SDK connection pool) never outlives it. `compute` builds none: it receives this
//! runtime's [`Handle`] and blocks on it with `compute::connect::block_on`.

use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};

use crate::compute::ComputeError;

/// Workers for the async tasks (watches, connection pools); blocking callers drive their own
/// futures, so two are plenty.
const WORKERS: usize = 2;
/// Threads the blocking pool may start at once: the studio's tasks (file dialogs can stay open
/// for long, keyring writes, connection tests) and tokio's own blocking work (DNS lookups).
const MAX_BLOCKING_THREADS: usize = 32;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The process's runtime, built on first use.
///
/// # Errors
/// When its threads cannot be started.
pub fn handle() -> Result<Handle, ComputeError> {
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime.handle().clone());
    }
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .thread_name("medallion-rt")
        .enable_all()
        .build()
        .map_err(|e| ComputeError::io(format!("cannot start the async runtime: {e}")))?;
    if let Err(second) = RUNTIME.set(built) {
        // Another thread built one at the same moment; its runtime is the process's.
        second.shutdown_background();
    }
    RUNTIME
        .get()
        .map(|runtime| runtime.handle().clone())
        .ok_or_else(|| ComputeError::io("the async runtime was not kept"))
}
