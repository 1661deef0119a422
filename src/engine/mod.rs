//! Local execution with polars: reads sources, runs SQL and built-in steps, writes each
//! materialization as Parquet (temporary name, then rename), evaluates checks and profiles, and
//! reports everything as [`RunEvent`]s. The input is a serializable [`RunPlan`], so the same code
//! runs inside a container for remote runs.
//!
//! This file holds the engine's public types and entry points; the work lives beside it:
//! `run` (the threads of a run) drives `scheduler` (which step starts when, what a finished
//! step means downstream), `step` (one step: compute, store, check), `io` (where tables are
//! stored), `plan` (what a run would do, predicted), and `preview` (rows for a view, exports).

pub mod bench;
pub mod check;
mod csv_scan;
pub mod explain;
pub mod fetch;
pub mod gate;
mod io;
pub mod memory;
mod plan;
mod preview;
pub mod profile;
mod run;
pub mod sample;
mod scheduler;
pub mod source;
pub mod staged;
mod step;
pub mod transform;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

pub use io::{
    IoManager, LocalIo, SinkError, StoreError, parquet_options, sink_parquet_atomically,
    write_parquet_atomically,
};
pub use plan::{PlannedStatus, PlannedStep, plan_status};
pub use preview::{
    Preview, PreviewColumn, PreviewRows, export_materialization, preview, preview_with,
};
pub use run::execute_io;

use crate::model::{
    AssetGraph, AssetKey, AssetMaterialization, AssetSpec, CheckRecord, Project, RunEvent,
    RunStatus,
};

/// The error of a backend the engine reaches through a trait it does not implement itself —
/// the object store of remote runs ([`staged::BlobStore`]), the connection behind a source
/// ([`fetch::SourceFetcher`]): the implementer's own typed error, boxed. Its `Display` is the
/// sentence a person reads; a caller that needs the category downcasts it to the
/// implementer's type.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("asset {asset}: {message}")]
    Source { asset: AssetKey, message: String },
    #[error("asset {asset}: SQL failed: {message}")]
    Sql { asset: AssetKey, message: String },
    #[error("asset {asset}: step {step} ({name}) failed: {message}")]
    Step {
        asset: AssetKey,
        step: usize,
        name: &'static str,
        message: String,
    },
    #[error("asset {asset}: {message}")]
    Definition { asset: AssetKey, message: String },
    #[error("asset {asset}: {message}")]
    Compute { asset: AssetKey, message: String },
    #[error("asset {asset}: cannot write its materialization to {path}: {message}")]
    Write {
        asset: AssetKey,
        path: PathBuf,
        message: String,
    },
    #[error("asset {asset} is not part of project {project}")]
    UnknownAsset { asset: AssetKey, project: String },
    #[error("the project has a dependency cycle: {0}")]
    Cycle(String),
    /// A malformed `MEDALLION_MEMORY_BUDGET_MB`.
    #[error("{0}")]
    Budget(String),
    /// A step that cannot run within the memory budget, found before the run starts.
    #[error("asset {asset} cannot run within {budget}: {reason}")]
    DoesNotFit {
        asset: AssetKey,
        budget: String,
        reason: String,
    },
    /// A partitioned asset run without a partition.
    #[error("asset {asset} is partitioned: choose a partition (--partition KEY)")]
    Partitioned { asset: AssetKey },
    /// A transform whose upstream asset has never been materialized.
    #[error(
        "upstream asset {upstream} has no materialization yet; materialize it first (select +{asset})"
    )]
    MissingUpstream { asset: AssetKey, upstream: AssetKey },
    /// The stored materialization of an upstream asset cannot be read.
    #[error("cannot read upstream {upstream} from {location}: {source}")]
    ReadUpstream {
        upstream: AssetKey,
        location: String,
        #[source]
        source: polars::error::PolarsError,
    },
    /// The stored materialization of the asset itself cannot be read (to check it).
    #[error("asset {asset}: cannot read {location}: {source}")]
    ReadStored {
        asset: AssetKey,
        location: String,
        #[source]
        source: polars::error::PolarsError,
    },
    /// A materialization just stored (streamed) cannot be read back.
    #[error("asset {asset}: cannot read back {location}: {source}")]
    ReadBack {
        asset: AssetKey,
        location: String,
        #[source]
        source: polars::error::PolarsError,
    },
    /// A step's table could not be stored.
    #[error("asset {asset}: cannot store its materialization: {source}")]
    Store {
        asset: AssetKey,
        #[source]
        source: StoreError,
    },
    /// The fetcher of a source behind a resource failed.
    #[error("asset {asset}: {source}")]
    Fetch {
        asset: AssetKey,
        #[source]
        source: BackendError,
    },
    /// A step panicked (inside polars, a store or the engine).
    #[error("asset {asset}: internal error: {message}")]
    Internal { asset: AssetKey, message: String },
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

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn sha(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex(&h.finalize()[..8])
}

/// A hash of what determines an asset's data: layer, definition, dependencies and partitions.
/// Descriptions, owners, checks and layout do not change it.
pub fn definition_hash(asset: &AssetSpec) -> String {
    let definition = serde_json::to_string(&(
        &asset.layer,
        &asset.definition,
        &asset.deps,
        &asset.partitions,
    ))
    .unwrap_or_default();
    sha(&[&definition])
}

/// Everything one run needs: serializable, so it can travel to a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunPlan {
    pub run_id: String,
    pub project: Project,
    /// The directory relative source paths resolve against.
    pub project_dir: PathBuf,
    /// Where materializations are written (`<root>/<asset>/<partition>/<run>.parquet`).
    pub store_dir: PathBuf,
    /// The assets to run, in dependency order.
    pub steps: Vec<AssetKey>,
    pub partition: Option<String>,
    /// Materialize even when definition and inputs are unchanged.
    pub force: bool,
    /// The latest stored materialization per asset (and partition), as known before the run.
    pub previous: Vec<AssetMaterialization>,
    /// The latest stored evaluation of each check on each materialization in `previous`
    /// (oldest first): what gates their data and which checks still need to run.
    #[serde(default)]
    pub previous_checks: Vec<CheckRecord>,
    /// Build downstream assets even from data that failed a blocking check (said in the log).
    #[serde(default)]
    pub allow_failed_upstream: bool,
    /// Compute nothing: evaluate every check of each step on its stored materialization.
    #[serde(default)]
    pub checks_only: bool,
}

/// The assets of `selection` in dependency order (upstream first).
pub fn ordered_steps(
    project: &Project,
    selection: &BTreeSet<AssetKey>,
) -> Result<Vec<AssetKey>, EngineError> {
    let graph = AssetGraph::build(project);
    let order = graph.topological_order().map_err(|cycles| {
        EngineError::Cycle(
            cycles
                .first()
                .map(|c| {
                    c.iter()
                        .map(AssetKey::as_str)
                        .collect::<Vec<_>>()
                        .join(" → ")
                })
                .unwrap_or_default(),
        )
    })?;
    Ok(order
        .into_iter()
        .filter(|k| selection.contains(k))
        .collect())
}

/// The directory of a partition's materializations under an asset's (`_` when unpartitioned).
pub fn partition_dir(partition: Option<&str>) -> String {
    partition.map_or_else(|| "_".to_owned(), |p| p.replace(['/', '\\'], "_"))
}

/// Where a run writes an asset's materialization.
pub fn materialization_path(
    store_dir: &Path,
    asset: &AssetKey,
    partition: Option<&str>,
    run_id: &str,
) -> PathBuf {
    store_dir
        .join(asset.as_str())
        .join(partition_dir(partition))
        .join(format!("{run_id}.parquet"))
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

/// The version of the data an asset would produce from `input_versions`: it changes whenever
/// the definition, the code version or an input changes.
fn data_version(
    definition_hash: &str,
    asset: &AssetSpec,
    input_versions: &BTreeMap<String, String>,
) -> String {
    let inputs: Vec<String> = input_versions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let code = asset.code_version.clone().unwrap_or_default();
    sha(&[definition_hash, &code, &inputs.join(",")])
}
