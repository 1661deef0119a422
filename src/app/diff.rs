//! `medallion diff`: how an asset's data changed between two of its materializations (by
//! default the last two), read from the Parquet files the runs stored.
//!
//! Rows are matched by `--key` when given, else by the columns of the asset's first `unique`
//! check (the key the project already declares), else whole rows are compared.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::AppError;
use crate::engine::diff::diff_parquet;
pub use crate::engine::diff::{ColumnChanges, DiffError, SchemaChange, TableDiff, ValueChange};
use crate::model::{AssetKey, AssetMaterialization, CheckKind, RunId};
use crate::store::{StoredProject, Workspace};

/// What to compare.
#[derive(Debug, Clone, Default)]
pub struct DiffRequest {
    /// The runs whose materializations are A and B; the last two when `None`.
    pub runs: Option<(RunId, RunId)>,
    /// The partition compared; the newest materialization's when `None`.
    pub partition: Option<String>,
    /// Columns rows are matched by; see the module docs for the default.
    pub key: Option<Vec<String>>,
}

/// A diff of one asset between two runs.
#[derive(Debug, Clone, Serialize)]
pub struct AssetDiff {
    pub project: String,
    pub asset: AssetKey,
    pub partition: Option<String>,
    pub run_a: RunId,
    pub run_b: RunId,
    /// Where the key came from: `--key`, the named unique check, or `whole rows`.
    pub key_from: String,
    pub elapsed_ms: u64,
    #[serde(flatten)]
    pub diff: TableDiff,
}

/// Why a diff could not be made, in the user's terms.
#[derive(Debug, thiserror::Error)]
pub enum DiffRefusal {
    #[error("project {project} has no asset `{asset}`")]
    UnknownAsset { project: String, asset: AssetKey },
    #[error(
        "asset {asset}{part} has {count} materialization(s); a diff needs two (materialize it again)",
        part = part(.partition.as_deref())
    )]
    TooFew {
        asset: AssetKey,
        partition: Option<String>,
        count: usize,
    },
    #[error("run {run} has no materialization of asset {asset}{part}", part = part(.partition.as_deref()))]
    NoMaterialization {
        run: RunId,
        asset: AssetKey,
        partition: Option<String>,
    },
    #[error(
        "the materialization of {asset} in run {run} is not a local file ({location}); a diff reads local materializations"
    )]
    NotLocal {
        asset: AssetKey,
        run: RunId,
        location: String,
    },
    #[error(
        "the materialization of {asset} in run {run} is no longer on disk ({location}): old files are removed (MEDALLION_KEEP_MATERIALIZATIONS); choose newer runs with --runs"
    )]
    Removed {
        asset: AssetKey,
        run: RunId,
        location: String,
    },
    #[error("asset {asset}: {source}")]
    Compare {
        asset: AssetKey,
        #[source]
        source: DiffError,
    },
}

fn part(partition: Option<&str>) -> String {
    partition.map(|p| format!(" [{p}]")).unwrap_or_default()
}

/// Compares two materializations of `asset` (see [`DiffRequest`]).
pub fn diff_asset(
    ws: &Workspace,
    stored: &StoredProject,
    asset: &AssetKey,
    request: &DiffRequest,
) -> Result<AssetDiff, AppError> {
    let project = &stored.project;
    let Some(spec) = project.asset(asset) else {
        return Err(DiffRefusal::UnknownAsset {
            project: project.name.clone(),
            asset: asset.clone(),
        }
        .into());
    };
    let all = ws.asset_materializations(&project.name, asset)?;
    let partition = request
        .partition
        .clone()
        .or_else(|| all.last().and_then(|m| m.partition.clone()));
    let of_partition: Vec<&AssetMaterialization> =
        all.iter().filter(|m| m.partition == partition).collect();
    let (a, b) = pick(
        asset,
        partition.as_ref(),
        &of_partition,
        request.runs.as_ref(),
    )?;
    let (key, key_from) = match &request.key {
        Some(k) => (k.clone(), "--key".to_owned()),
        None => spec
            .checks
            .iter()
            .find_map(|c| match &c.kind {
                CheckKind::Unique { columns } => {
                    Some((columns.clone(), format!("unique check {}", c.name)))
                }
                _ => None,
            })
            .unwrap_or_else(|| (Vec::new(), "whole rows".to_owned())),
    };
    // Materializations a remote run stored on S3 are compared from local copies.
    let copies = super::s3cache::local_copies(ws, project, vec![a.clone(), b.clone()], |_| true)?;
    let (a, b) = match copies.as_slice() {
        [a, b] => (a, b),
        _ => (a, b),
    };
    let started = Instant::now();
    let mut diff = diff_parquet(local_file(a)?, local_file(b)?, &key).map_err(|source| {
        DiffRefusal::Compare {
            asset: asset.clone(),
            source,
        }
    })?;
    // Example values of tagged columns are shown masked, as in a preview.
    let masking = super::masking::masking_for(
        project,
        stored.source_dir.as_deref(),
        crate::model::masking::Environment::Local,
    )?;
    super::masking::mask_diff(&masking, asset, &mut diff);
    Ok(AssetDiff {
        project: project.name.clone(),
        asset: asset.clone(),
        partition,
        run_a: a.run_id.clone(),
        run_b: b.run_id.clone(),
        key_from,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        diff,
    })
}

/// One materialization a comparison can pick: its run and row count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaterializedRun {
    pub run_id: RunId,
    pub rows: u64,
}

/// The materializations of `asset` (of `partition`, else of the newest one's partition) a
/// comparison can pick from, oldest first: what the studio's run pickers offer.
pub fn materialized_runs(
    ws: &Workspace,
    project: &str,
    asset: &AssetKey,
    partition: Option<&str>,
) -> Result<Vec<MaterializedRun>, AppError> {
    let all = ws.asset_materializations(project, asset)?;
    let partition = partition
        .map(str::to_owned)
        .or_else(|| all.last().and_then(|m| m.partition.clone()));
    let mut out: Vec<MaterializedRun> = Vec::new();
    for m in all.iter().filter(|m| m.partition == partition) {
        // A run's last materialization of the asset is the one a diff of that run reads.
        out.retain(|r| r.run_id != m.run_id);
        out.push(MaterializedRun {
            run_id: m.run_id.clone(),
            rows: m.row_count,
        });
    }
    Ok(out)
}

/// The two materializations to compare: the given runs', or the last two.
fn pick<'a>(
    asset: &AssetKey,
    partition: Option<&String>,
    materializations: &[&'a AssetMaterialization],
    runs: Option<&(RunId, RunId)>,
) -> Result<(&'a AssetMaterialization, &'a AssetMaterialization), DiffRefusal> {
    let Some((run_a, run_b)) = runs else {
        return match materializations {
            [.., a, b] => Ok((a, b)),
            _ => Err(DiffRefusal::TooFew {
                asset: asset.clone(),
                partition: partition.cloned(),
                count: materializations.len(),
            }),
        };
    };
    let find = |run: &RunId| {
        materializations
            .iter()
            .rev()
            .find(|m| &m.run_id == run)
            .copied()
            .ok_or_else(|| DiffRefusal::NoMaterialization {
                run: run.clone(),
                asset: asset.clone(),
                partition: partition.cloned(),
            })
    };
    Ok((find(run_a)?, find(run_b)?))
}

fn local_file(m: &AssetMaterialization) -> Result<&Path, DiffRefusal> {
    if m.location.contains("://") {
        return Err(DiffRefusal::NotLocal {
            asset: m.asset.clone(),
            run: m.run_id.clone(),
            location: m.location.clone(),
        });
    }
    let path = Path::new(&m.location);
    if !path.is_file() {
        return Err(DiffRefusal::Removed {
            asset: m.asset.clone(),
            run: m.run_id.clone(),
            location: m.location.clone(),
        });
    }
    Ok(path)
}

/// The diff benchmark (`medallion bench diff`): two versions of a `rows`-row table written
/// into `dir`, compared by key `id`; the diff and how long the comparison alone took.
pub fn bench_diff(dir: &Path, rows: usize) -> Result<(TableDiff, std::time::Duration), AppError> {
    let (a, b) = crate::engine::bench::diff_tables(dir, rows)
        .map_err(|e| AppError::Benchmark(Box::new(e)))?;
    let started = Instant::now();
    let diff =
        diff_parquet(&a, &b, &["id".to_owned()]).map_err(|e| AppError::Benchmark(Box::new(e)))?;
    Ok((diff, started.elapsed()))
}
