//! Reading sources behind a resource: [`ResourceFetcher`] implements the engine's
//! [`SourceFetcher`] for S3 objects, Postgres queries and HTTP JSON APIs, and
//! [`test_connection`] checks a resource the way the studio's "Test connection" does.
//!
//! Every network call is bounded: connects give up after [`CONNECT_TIMEOUT`], whole requests
//! after [`REQUEST_TIMEOUT`]. Secret values come from a [`SecretSource`] (the app passes the
//! keyring), and no message built here contains one.

mod http;
mod pg_tls;
mod postgres;
mod s3;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::runtime::Handle;

use super::connect::{CONNECT_TIMEOUT, REQUEST_TIMEOUT, SecretSource};
use super::error::{ComputeError, ErrorKind};
use crate::engine::BackendError;
use crate::engine::fetch::{FetchRequest, FetchedSource, SourceFetcher};
use crate::model::{Resource, ResourceKind, SecretRef, SourceSpec};

/// The engine's fetcher for S3, Postgres and HTTP sources.
#[derive(Clone)]
pub struct ResourceFetcher {
    secrets: Arc<dyn SecretSource>,
    runtime: Handle,
}

impl std::fmt::Debug for ResourceFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceFetcher").finish_non_exhaustive()
    }
}

impl ResourceFetcher {
    /// A fetcher resolving secrets from `secrets`, its network calls on the process's
    /// runtime (`runtime`).
    pub fn new(secrets: Arc<dyn SecretSource>, runtime: Handle) -> Self {
        Self { secrets, runtime }
    }
}

/// Context a reader needs besides its resource.
struct Ctx<'a> {
    resource: &'a Resource,
    resources: &'a [Resource],
    secrets: &'a dyn SecretSource,
}

impl Ctx<'_> {
    fn secret(&self, field: &str, reference: &SecretRef) -> Result<String, ComputeError> {
        self.secrets.secret(reference).map_err(|e| {
            e.context(format!(
                "resource `{}` needs its {field}",
                self.resource.name
            ))
        })
    }
}

impl SourceFetcher for ResourceFetcher {
    fn fetch(&self, request: &FetchRequest<'_>) -> Result<FetchedSource, BackendError> {
        Ok(self.fetch_source(request)?)
    }
}

impl ResourceFetcher {
    /// Reads the source of `request` through its resource.
    ///
    /// # Errors
    /// The resource does not fit the source, or reading it failed ([`ComputeError`]).
    pub fn fetch_source(&self, request: &FetchRequest<'_>) -> Result<FetchedSource, ComputeError> {
        let ctx = Ctx {
            resource: request.resource,
            resources: request.resources,
            secrets: self.secrets.as_ref(),
        };
        let name = &request.resource.name;
        let mismatch = |wants: &str| {
            Err(ComputeError::invalid(format!(
                "resource `{name}` is a {} resource, but a {} source needs a {wants} resource",
                request.resource.kind.label(),
                request.source.kind_label()
            )))
        };
        match (request.source, &request.resource.kind) {
            (SourceSpec::S3 { key, .. }, ResourceKind::S3 { .. }) => run_async(
                &self.runtime,
                s3::fetch(&ctx, key, request.limit),
                request.cancel,
            ),
            (SourceSpec::S3 { .. }, _) => mismatch("s3"),
            (SourceSpec::Postgres { query, .. }, ResourceKind::Postgres { .. }) => run_async(
                &self.runtime,
                postgres::fetch(&ctx, query, request.limit),
                request.cancel,
            ),
            (SourceSpec::Postgres { .. }, _) => mismatch("postgres"),
            (
                SourceSpec::Http {
                    path,
                    params,
                    records_pointer,
                    ..
                },
                ResourceKind::Http { .. },
            ) => run_async(
                &self.runtime,
                http::fetch(&ctx, path, params, records_pointer, request.limit),
                request.cancel,
            ),
            (SourceSpec::Http { .. }, _) => mismatch("http"),
            (SourceSpec::File { .. }, _) => Err(ComputeError::invalid(
                "file sources are read by the engine, not fetched",
            )),
        }
    }
}

/// Checks that a resource answers: connects, authenticates and touches what sources read (the
/// database, the bucket, the API's base URL). Success says what was reached; failure says
/// precisely why (authentication, unreachable, timeout, bucket missing).
pub fn test_connection(
    runtime: &Handle,
    resource: &Resource,
    resources: &[Resource],
    secrets: &dyn SecretSource,
) -> Result<String, ComputeError> {
    let ctx = Ctx {
        resource,
        resources,
        secrets,
    };
    match &resource.kind {
        ResourceKind::Postgres { .. } => run_async(runtime, postgres::test(&ctx), None),
        ResourceKind::S3 { .. } | ResourceKind::Aws { .. } => {
            run_async(runtime, s3::test(&ctx), None)
        }
        ResourceKind::Http { .. } => run_async(runtime, http::test(&ctx), None),
        ResourceKind::Eks { .. } => run_async(
            runtime,
            crate::compute::eks::test(resource, resources, secrets),
            None,
        ),
    }
}

pub use s3::ListedObject;

/// Lists the objects under `prefix` of the `s3` resource named `resource` (the `s3_objects`
/// sensor): keys and last-modified times.
pub fn list_s3_objects(
    runtime: &Handle,
    resource: &str,
    resources: &[Resource],
    prefix: &str,
    secrets: &dyn SecretSource,
) -> Result<Vec<ListedObject>, ComputeError> {
    let r = resources
        .iter()
        .find(|r| r.name == resource)
        .ok_or_else(|| ComputeError::invalid(format!("resource `{resource}` is not defined")))?;
    if !matches!(r.kind, ResourceKind::S3 { .. }) {
        return Err(ComputeError::invalid(format!(
            "resource `{resource}` is a {} resource, not s3",
            r.kind.label()
        )));
    }
    let ctx = Ctx {
        resource: r,
        resources,
        secrets,
    };
    run_async(runtime, s3::list(&ctx, prefix), None)
}

/// How often a fetch in flight looks at the run's cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(100);

/// Runs a future to completion on the process's runtime (`runtime`), so callers may be plain
/// threads (a run's step) or the runtime's blocking tasks (the studio's "Test connection")
/// alike. When `cancel` is set the future is dropped (closing its connections) and an error
/// returned.
pub(crate) fn run_async<T>(
    runtime: &Handle,
    future: impl Future<Output = Result<T, ComputeError>>,
    cancel: Option<&AtomicBool>,
) -> Result<T, ComputeError> {
    // reqwest and the AWS SDK use rustls; without a process-wide provider the first client
    // panics. `main` installs one; tests and embedders may not have.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    super::connect::block_on(runtime, async {
        let Some(flag) = cancel else {
            return future.await;
        };
        let canceled = async {
            while !flag.load(Ordering::Relaxed) {
                tokio::time::sleep(CANCEL_POLL).await;
            }
        };
        tokio::select! {
            result = future => result,
            () = canceled => Err(ComputeError::said(
                ErrorKind::Other,
                "canceled while reading the source",
            )),
        }
    })
}

/// A short stable hash of some parts, for input versions.
fn version_of<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    crate::engine::hex(&h.finalize()[..8])
}
