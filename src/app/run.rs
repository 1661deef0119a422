//! Materializing: turn a selection into a run plan, record the run in the workspace, execute it
//! on a named background thread, and stream its events to the caller while persisting them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::Duration;

use chrono::NaiveDate;

use super::AppError;
use crate::engine::{self, RunPlan};
pub use crate::engine::{PlannedStatus, PlannedStep, Preview, PreviewColumn};
use crate::model::{
    AssetGraph, AssetKey, AssetSelection, PartitionsDefinition, Project, RunEvent, RunRecord,
    RunStatus,
};
use crate::store::{StoredProject, Workspace};

/// What to materialize.
#[derive(Debug, Clone)]
pub struct MaterializeRequest {
    pub selection: String,
    /// One run per entry; `None` for unpartitioned runs.
    pub partitions: Vec<Option<String>>,
    pub force: bool,
    /// Who asked: `cli`, `studio`, `schedule:NAME`, …
    pub trigger: String,
}

/// The outcome of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub run: RunRecord,
    pub events: Vec<RunEvent>,
}

/// Expands `A..B` (inclusive) into the partition keys of the selected assets' partitions
/// definition: days for daily partitions, the listed keys in order for static ones.
pub fn partition_range(
    project: &Project,
    selected: &[AssetKey],
    from: &str,
    to: &str,
) -> Result<Vec<String>, AppError> {
    let def = selected
        .iter()
        .filter_map(|k| project.asset(k))
        .map(|a| &a.partitions)
        .find(|p| p.is_partitioned())
        .ok_or_else(|| {
            AppError::BadRequest(
                "no selected asset is partitioned, so a partition range means nothing".into(),
            )
        })?;
    match def {
        PartitionsDefinition::Daily { .. } => {
            let parse = |s: &str| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|_| AppError::BadRequest(format!("`{s}` is not a date (YYYY-MM-DD)")))
            };
            let (a, b) = (parse(from)?, parse(to)?);
            if b < a {
                return Err(AppError::BadRequest(format!(
                    "the range {from}..{to} ends before it starts"
                )));
            }
            Ok(a.iter_days()
                .take_while(|d| *d <= b)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .collect())
        }
        PartitionsDefinition::Static { keys } => {
            let i = keys.iter().position(|k| k == from);
            let j = keys.iter().position(|k| k == to);
            match (i, j) {
                (Some(i), Some(j)) if i <= j => Ok(keys[i..=j].to_vec()),
                _ => Err(AppError::BadRequest(format!(
                    "{from}..{to} is not a range of the partition keys {}",
                    keys.join(", ")
                ))),
            }
        }
        PartitionsDefinition::None => Ok(Vec::new()),
    }
}

/// The directory where a project's materializations live, beside the workspace file.
/// How many materializations of each asset and partition keep their file after a run, unless
/// `MEDALLION_KEEP_MATERIALIZATIONS` says otherwise (0 keeps every file).
pub const DEFAULT_KEEP_MATERIALIZATIONS: usize = 5;

/// The retention setting: `MEDALLION_KEEP_MATERIALIZATIONS` or
/// [`DEFAULT_KEEP_MATERIALIZATIONS`]; `None` when files are kept forever (0).
pub fn keep_materializations() -> Result<Option<usize>, AppError> {
    let keep = match std::env::var("MEDALLION_KEEP_MATERIALIZATIONS") {
        Ok(v) => v.trim().parse::<usize>().map_err(|_| {
            AppError::BadRequest(format!(
                "MEDALLION_KEEP_MATERIALIZATIONS must be a whole number (0 keeps every file), not {v:?}"
            ))
        })?,
        Err(_) => DEFAULT_KEEP_MATERIALIZATIONS,
    };
    Ok((keep > 0).then_some(keep))
}

/// What a clean-up of old materialization files removed (or, for a dry run, would remove).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CleanupReport {
    pub project: String,
    /// Files kept per asset and partition (the newest ones).
    pub keep: usize,
    pub dry_run: bool,
    /// Files removed (or that would be), oldest first: asset, partition, run and bytes.
    pub removed: Vec<RemovedFile>,
    pub bytes: u64,
    /// Files left alone, with the reason (outside this workspace's store, or not removable).
    pub skipped: Vec<String>,
}

/// One removed materialization file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemovedFile {
    pub asset: AssetKey,
    pub partition: Option<String>,
    pub run_id: String,
    pub location: String,
    pub bytes: u64,
}

/// Removes the files of a project's materializations beyond the newest `keep` of each asset and
/// partition. The newest is never touched, so incremental runs and previews keep working; the
/// rows stay in the workspace (history, row counts over time, reports). Only files under this
/// workspace's materialization directory are removed — never a remote run's objects.
pub fn clean_up_materializations(
    ws: &mut Workspace,
    project: &str,
    keep: usize,
    dry_run: bool,
) -> Result<CleanupReport, AppError> {
    let keep = keep.max(1);
    let root = store_dir(ws, project);
    let mut report = CleanupReport {
        project: project.to_owned(),
        keep,
        dry_run,
        ..CleanupReport::default()
    };
    let mut purged = Vec::new();
    for file in ws.materializations_beyond(project, keep)? {
        let path = Path::new(&file.location);
        if !path.starts_with(&root) {
            report.skipped.push(format!(
                "{} ({}): not under {}",
                file.asset,
                file.location,
                root.display()
            ));
            continue;
        }
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        if !dry_run {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    report
                        .skipped
                        .push(format!("{} ({}): {e}", file.asset, file.location));
                    continue;
                }
            }
            // An emptied partition directory goes too; a non-empty one stays (remove_dir fails).
            if let Some(dir) = path.parent() {
                let _ = std::fs::remove_dir(dir);
            }
            purged.push(file.id);
        }
        report.bytes += bytes;
        report.removed.push(RemovedFile {
            asset: file.asset,
            partition: file.partition,
            run_id: file.run_id,
            location: file.location,
            bytes,
        });
    }
    if !purged.is_empty() {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        ws.mark_purged(&purged, &now)?;
    }
    Ok(report)
}

pub fn store_dir(ws: &Workspace, project: &str) -> PathBuf {
    let base = ws
        .path()
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    base.join("materializations").join(project)
}

pub(crate) fn new_run_id() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = chrono::Utc::now();
    let mut h = Sha256::new();
    h.update(now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    format!(
        "{}-{}",
        now.format("%Y%m%dT%H%M%S"),
        engine::hex(&h.finalize()[..3])
    )
}

/// The selected assets in dependency order.
pub fn resolve_selection(project: &Project, selection: &str) -> Result<Vec<AssetKey>, AppError> {
    let graph = AssetGraph::build(project);
    let selected = AssetSelection::parse(selection)
        .and_then(|s| s.resolve(project, &graph))
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    engine::ordered_steps(project, &selected).map_err(|e| AppError::BadRequest(e.to_string()))
}

/// Runs one materialization per requested partition, in order. Events reach `on_event` as they
/// happen and are stored in the workspace in small batches. `cancel` stops between steps.
pub fn materialize(
    ws: &mut Workspace,
    stored: &StoredProject,
    request: &MaterializeRequest,
    on_event: &mut dyn FnMut(&str, &RunEvent),
    cancel: &Arc<AtomicBool>,
) -> Result<Vec<RunSummary>, AppError> {
    let project = &stored.project;
    let diagnostics = crate::model::validate(project);
    if let Some(first) = diagnostics.iter().find(|d| d.is_error()) {
        return Err(AppError::BadRequest(format!(
            "the project has errors; fix them first: {first}"
        )));
    }
    let steps = resolve_selection(project, &request.selection)?;
    let project_dir = stored
        .source_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let mut summaries = Vec::new();
    let partitions = if request.partitions.is_empty() {
        vec![None]
    } else {
        request.partitions.clone()
    };
    // A malformed memory budget, or a step that cannot fit in it, is said before any run
    // starts (not by a run killed half-way for lack of memory).
    for partition in &partitions {
        engine::memory::check_fits(project, &project_dir, &steps, partition.as_deref())
            .map_err(|e| AppError::BadRequest(e.to_string()))?;
    }
    for partition in partitions {
        let run = RunRecord {
            id: new_run_id(),
            project: project.name.clone(),
            selection: request.selection.clone(),
            partition: partition.clone(),
            target: "local".to_owned(),
            status: RunStatus::Queued,
            trigger: request.trigger.clone(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            started_at: None,
            ended_at: None,
            error: None,
        };
        ws.create_run(&run)?;
        let plan = RunPlan {
            run_id: run.id.clone(),
            project: project.clone(),
            project_dir: project_dir.clone(),
            store_dir: store_dir(ws, &project.name),
            steps: steps.clone(),
            partition: partition.clone(),
            force: request.force,
            previous: ws.latest_materializations(&project.name)?,
        };
        let events = execute_recorded(ws, plan, on_event, cancel)?;
        summaries.push(RunSummary {
            run: ws.run(&run.id)?,
            events,
        });
    }
    // Retention: old files go once the run is recorded. A failed clean-up never fails the run.
    match keep_materializations() {
        Ok(Some(keep)) => match clean_up_materializations(ws, &project.name, keep, false) {
            Ok(r) if !r.removed.is_empty() => tracing::info!(
                project = %project.name,
                files = r.removed.len(),
                bytes = r.bytes,
                keep,
                "removed old materialization files"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(project = %project.name, "cleaning up old materializations failed: {e}");
            }
        },
        Ok(None) => {}
        Err(e) => tracing::warn!("{e}"),
    }
    Ok(summaries)
}

/// Executes a plan on a named thread; this thread persists and forwards its events.
fn execute_recorded(
    ws: &mut Workspace,
    plan: RunPlan,
    on_event: &mut dyn FnMut(&str, &RunEvent),
    cancel: &Arc<AtomicBool>,
) -> Result<Vec<RunEvent>, AppError> {
    let run_id = plan.run_id.clone();
    let (tx, rx) = mpsc::sync_channel::<RunEvent>(1024);
    let cancel_flag = Arc::clone(cancel);
    let fetcher = super::connections::fetcher();
    let worker = std::thread::Builder::new()
        .name(format!("medallion-run-{run_id}"))
        .spawn(move || {
            // Secrets are resolved on this thread; events are redacted before they leave it.
            let mut emit = |e: RunEvent| {
                let _ = tx.send(super::connections::redact_event(e));
            };
            engine::execute_with(&plan, fetcher.as_ref(), &mut emit, &cancel_flag)
        })
        .map_err(|e| AppError::BadRequest(format!("cannot start the run thread: {e}")))?;
    let mut all = Vec::new();
    let mut pending: Vec<RunEvent> = Vec::new();
    let mut seq = 0u64;
    let mut store_error = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(event) => {
                on_event(&run_id, &event);
                let finished = matches!(event, RunEvent::RunFinished { .. });
                pending.push(event);
                if finished || pending.len() >= 64 {
                    flush(
                        ws,
                        &run_id,
                        &mut seq,
                        &mut pending,
                        &mut all,
                        &mut store_error,
                    );
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => flush(
                ws,
                &run_id,
                &mut seq,
                &mut pending,
                &mut all,
                &mut store_error,
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    flush(
        ws,
        &run_id,
        &mut seq,
        &mut pending,
        &mut all,
        &mut store_error,
    );
    if worker.join().is_err() {
        ws.set_run_status(&run_id, RunStatus::Failure, Some("the run thread crashed"))?;
        return Err(AppError::BadRequest(format!("run {run_id} crashed")));
    }
    if let Some(e) = store_error {
        return Err(e);
    }
    Ok(all)
}

fn flush(
    ws: &mut Workspace,
    run_id: &str,
    seq: &mut u64,
    pending: &mut Vec<RunEvent>,
    all: &mut Vec<RunEvent>,
    store_error: &mut Option<AppError>,
) {
    if pending.is_empty() {
        return;
    }
    if store_error.is_none()
        && let Err(e) = ws.append_run_events(run_id, *seq, pending)
    {
        tracing::error!(run = run_id, error = %e, "could not record run events");
        *store_error = Some(e.into());
    }
    *seq += pending.len() as u64;
    all.append(pending);
}

/// The first rows of an asset, from stored upstream materializations where there are any.
pub fn preview(
    ws: &Workspace,
    stored: &StoredProject,
    asset: &AssetKey,
    limit: usize,
) -> Result<engine::Preview, AppError> {
    let previous = ws.latest_materializations(&stored.project.name)?;
    let dir = stored
        .source_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let fetcher = super::connections::fetcher();
    Ok(engine::preview_with(
        &stored.project,
        &dir,
        &previous,
        asset,
        limit,
        fetcher.as_ref(),
    )?)
}

/// Exports the latest materializations of `assets` as Parquet and CSV files into `dir`.
pub fn export_outputs(
    ws: &Workspace,
    project: &str,
    assets: &[AssetKey],
    dir: &Path,
    float_precision: Option<usize>,
) -> Result<Vec<PathBuf>, AppError> {
    let latest = ws.latest_materializations(project)?;
    let mut written = Vec::new();
    for key in assets {
        if let Some(m) = latest.iter().rev().find(|m| &m.asset == key) {
            let (p, c) = engine::export_materialization(m, dir, float_precision)?;
            written.push(p);
            written.push(c);
        }
    }
    Ok(written)
}

/// Runs, newest first, of one project or all.
pub fn list_runs(
    ws: &Workspace,
    project: Option<&str>,
    limit: usize,
) -> Result<Vec<RunRecord>, AppError> {
    Ok(ws.list_runs(project, limit)?)
}

/// What materializing `request` would do, step by step, for its first partition — decided from
/// definitions, source file metadata and stored materializations, without running anything.
pub fn plan(
    ws: &Workspace,
    stored: &StoredProject,
    request: &MaterializeRequest,
) -> Result<Vec<engine::PlannedStep>, AppError> {
    let project = &stored.project;
    let steps = resolve_selection(project, &request.selection)?;
    let plan = RunPlan {
        run_id: String::new(),
        project: project.clone(),
        project_dir: stored
            .source_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(".")),
        store_dir: store_dir(ws, &project.name),
        steps,
        partition: request.partitions.first().cloned().flatten(),
        force: request.force,
        previous: ws.latest_materializations(&project.name)?,
    };
    Ok(engine::plan_status(&plan))
}

/// An asset's past in the workspace: for the studio's asset details.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AssetHistory {
    pub asset: Option<AssetKey>,
    /// Oldest first.
    pub materializations: Vec<crate::model::AssetMaterialization>,
    /// Check evaluations with their run, oldest first.
    pub checks: Vec<(String, crate::model::AssetCheckResult)>,
    /// The profile recorded with the newest materialization.
    pub latest_profile: Option<crate::model::AssetProfile>,
}

/// Runs whose checks the asset history reads (the newest ones).
const HISTORY_RUNS: usize = 50;

pub fn asset_history(
    ws: &Workspace,
    project: &str,
    asset: &AssetKey,
) -> Result<AssetHistory, AppError> {
    let materializations = ws.asset_materializations(project, asset)?;
    let mut run_ids: Vec<&str> = Vec::new();
    for m in materializations.iter().rev() {
        if !run_ids.contains(&m.run_id.as_str()) {
            run_ids.push(&m.run_id);
        }
        if run_ids.len() >= HISTORY_RUNS {
            break;
        }
    }
    let mut checks = Vec::new();
    for run_id in run_ids.iter().rev() {
        for c in ws.run_check_results(run_id)? {
            if &c.asset == asset {
                checks.push(((*run_id).to_owned(), c));
            }
        }
    }
    let latest_profile = match materializations.last() {
        Some(m) => ws
            .run_events(&m.run_id)?
            .into_iter()
            .filter_map(|e| match e {
                RunEvent::Profile(p) if &p.asset == asset => Some(p),
                _ => None,
            })
            .next_back(),
        None => None,
    };
    Ok(AssetHistory {
        asset: Some(asset.clone()),
        materializations,
        checks,
        latest_profile,
    })
}
