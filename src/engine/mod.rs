//! Local execution with polars: reads sources, runs SQL and built-in steps, writes each
//! materialization as Parquet (temporary name, then rename), evaluates checks and profiles, and
//! reports everything as [`RunEvent`]s. The input is a serializable [`RunPlan`], so the same code
//! runs inside a container for remote runs.
//!
//! This file holds the engine's public types and re-exports its entry points; the work lives
//! beside it: `run` (the threads of a run) drives `scheduler` (which step starts when, what a
//! finished step means downstream), `step` (one step: compute, store, check), `io` (where
//! tables are stored), `version` (when a step is up to date), `plan` (the order of a run's
//! steps, and what a run would do, predicted), and `preview` (rows for a view, exports).

pub mod bench;
pub mod check;
mod csv_scan;
mod dense_group;
mod dense_latest;
pub mod diff;
pub mod explain;
pub mod fetch;
pub mod gate;
mod io;
pub mod mask;
pub mod memory;
mod plan;
mod preview;
pub mod profile;
mod run;
pub mod sample;
mod scheduler;
pub mod schema;
pub mod source;
pub mod staged;
mod step;
pub mod transform;
pub mod unit_test;
mod version;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use io::{
    IoManager, LocalIo, SinkError, StoreError, materialization_path, parquet_options,
    partition_dir, sink_parquet_atomically, write_parquet_atomically,
};
pub use plan::{PlannedStatus, PlannedStep, ordered_steps, plan_status};
pub use preview::{
    Preview, PreviewColumn, PreviewRows, export_materialization, preview, preview_stored,
    preview_with, row_order, write_canonical_csv,
};
pub use run::{default_parallelism, execute, execute_io, execute_with, route_polars_warnings};
use version::{data_version, sha};
pub use version::{definition_hash, hex};

use crate::model::RunId;
use crate::model::{AssetKey, AssetMaterialization, CheckRecord, Project};

/// The error of a backend the engine reaches through a trait it does not implement itself —
/// the object store of remote runs ([`staged::BlobStore`]), the connection behind a source
/// ([`fetch::SourceFetcher`]): the implementer's own typed error, boxed. Its `Display` is the
/// sentence a person reads; a caller that needs the category downcasts it to the
/// implementer's type.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

/// Why the engine could not run, check, preview or export an asset. Each variant's `Display`
/// is the sentence a person reads (it names the asset); callers match on the variant.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A masking policy could not be applied.
    #[error("asset {asset}: {source}")]
    Masking {
        asset: AssetKey,
        source: crate::model::masking::NoKey,
    },
    /// A source could not be read (a file, or data a fetcher returned).
    #[error("asset {asset}: {message}")]
    Source { asset: AssetKey, message: String },
    /// polars could not plan the asset's SQL.
    #[error("asset {asset}: SQL failed: {message}")]
    Sql { asset: AssetKey, message: String },
    /// The asset's definition cannot be run as written.
    #[error("asset {asset}: {message}")]
    Definition { asset: AssetKey, message: String },
    /// Computing the asset's table failed (said in the words of its source when it is one).
    #[error("asset {asset}: {message}")]
    Compute { asset: AssetKey, message: String },
    /// An export of a stored materialization into `path` failed.
    #[error("asset {asset}: cannot write its materialization to {path}: {message}")]
    Write {
        asset: AssetKey,
        path: PathBuf,
        message: String,
    },
    /// A preview or export named an asset the project does not have.
    #[error("asset {asset} is not part of project {project}")]
    UnknownAsset { asset: AssetKey, project: String },
    /// The assets' dependencies form a cycle (shown as a path).
    #[error("the project has a dependency cycle: {0}")]
    Cycle(String),
    /// A source's columns or types changed since its last materialization, and its contract
    /// fails on drift.
    #[error(
        "asset {asset}: schema drift since run {since_run}: {changes}; its contract fails on drift (on_drift = \"error\"): update the contract or the source"
    )]
    SchemaDrift {
        asset: AssetKey,
        since_run: String,
        changes: String,
    },
    /// A malformed `MEDALLION_MEMORY_BUDGET_MB`.
    #[error(transparent)]
    Budget(#[from] memory::BadBudget),
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

/// Everything one run needs: serializable, so it can travel to a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunPlan {
    pub run_id: RunId,
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
    /// Which columns of each output are masked (policies bound to PII tags), and the key.
    #[serde(default)]
    pub masking: mask::Masking,
}
