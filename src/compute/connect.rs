//! What every connection to the outside world shares, whatever it reaches (AWS, a cluster, a
//! database, an HTTP API): where secret values come from ([`SecretSource`]), and how long
//! connecting and one request may take. It sits below `aws`, `eks` and `sources`, which all
//! use it, so none of them has to reach into another for it.

use std::time::Duration;

use super::error::ComputeError;
use crate::model::SecretRef;

/// How long connecting to a server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request (one query, one object, one page) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_mins(5);

/// Where secret values come from (the app resolves them from the keyring or the environment).
pub trait SecretSource: Send + Sync {
    /// The value, or an error saying which secret is missing and how to set it (of kind
    /// [`super::ErrorKind::NoCredentials`] when it is not set).
    ///
    /// # Errors
    /// The secret is not set where the reference points.
    fn secret(&self, reference: &SecretRef) -> Result<String, ComputeError>;
}

/// Runs `future` on the process's runtime and waits for it, from a plain thread, a task of the
/// runtime's blocking pool, or (through `block_in_place`, which hands the worker's other tasks
/// to another thread) one of its workers. The runtime is the caller's — one per process, built
/// at its edge (`app::runtime`); nothing under `compute` builds one. Not for use inside a
/// current-thread runtime, which cannot block (tokio panics saying so).
pub fn block_on<F: std::future::Future>(handle: &tokio::runtime::Handle, future: F) -> F::Output {
    tokio::task::block_in_place(|| handle.block_on(future))
}

/// For tests inside `compute`: a multi-thread runtime standing in for the process's (which
/// `app::runtime` builds), shared by the tests of one binary.
#[cfg(test)]
pub(crate) fn test_runtime() -> tokio::runtime::Handle {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
        })
        .handle()
        .clone()
}
