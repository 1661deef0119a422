//! Materializing: turn a selection into a run plan, record the run in the workspace, execute it
//! on a named background thread, and stream its events to the caller while persisting them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};

use super::{AppError, Refusal};
use crate::engine::{self, RunPlan};
pub use crate::engine::{PlannedStatus, PlannedStep, Preview, PreviewColumn};
use crate::model::{
    AssetGraph, AssetKey, AssetMaterialization, AssetSelection, CheckRecord, PartitionsDefinition,
    Project, RunEvent, RunId, RunRecord, RunStatus,
};
use crate::store::{StoreError, StoredProject, Workspace};

/// The environment variable that sets the engine's memory budget (MiB).
pub const MEMORY_BUDGET_VAR: &str = crate::engine::memory::BUDGET_VAR;

/// What to materialize.
#[derive(Debug, Clone, Default)]
pub struct MaterializeRequest {
    pub selection: String,
    /// One run per entry; `None` for unpartitioned runs.
    pub partitions: Vec<Option<String>>,
    pub force: bool,
    /// Who asked: `cli`, `studio`, `schedule:NAME`, …
    pub trigger: String,
    /// Build downstream assets even from upstream data that failed a blocking check; recorded
    /// on the run and shown in its report.
    pub allow_failed_upstream: bool,
    /// Compute nothing: evaluate the selected assets' checks on their stored data.
    pub checks_only: bool,
}

/// The outcome of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub run: RunRecord,
    pub events: Vec<RunEvent>,
    /// The alerts the run's end raised, one per target, delivered or finally failed.
    pub alerts: Vec<super::alerts::Delivery>,
}

/// Refuses a partition key before anything runs: the selection must hold a partitioned asset,
/// and the key must be one of its partitions (a date on or after a daily set's start and not
/// after its end, or one of the static keys).
pub fn check_partition(
    project: &Project,
    selected: &[AssetKey],
    key: &str,
) -> Result<(), AppError> {
    let mut partitioned = selected
        .iter()
        .filter_map(|k| project.asset(k))
        .filter(|a| a.partitions.is_partitioned())
        .peekable();
    if partitioned.peek().is_none() {
        return Err(Refusal::NotPartitioned {
            asset: match selected {
                [one] => Some(one.clone()),
                _ => None,
            },
            key: key.to_owned(),
        }
        .into());
    }
    for asset in partitioned {
        asset
            .partitions
            .check_key(key)
            .map_err(|source| Refusal::PartitionKey {
                asset: asset.key.clone(),
                source,
            })?;
    }
    Ok(())
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
        .ok_or(Refusal::RangeNotPartitioned)?;
    match def {
        PartitionsDefinition::Daily { .. } => {
            let parse = |s: &str| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| Refusal::NotADate {
                    value: s.to_owned(),
                })
            };
            let (a, b) = (parse(from)?, parse(to)?);
            if b < a {
                return Err(Refusal::RangeBackwards {
                    from: from.to_owned(),
                    to: to.to_owned(),
                }
                .into());
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
                _ => Err(Refusal::NotAKeyRange {
                    from: from.to_owned(),
                    to: to.to_owned(),
                    keys: keys.clone(),
                }
                .into()),
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
        Ok(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| Refusal::KeepSetting { value: v })?,
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
    /// Files no materialization names, of runs that have ended (killed mid-run, or whose
    /// record could not be stored): temporary `.partial` files and unrecorded Parquet files.
    pub leftovers: Vec<RemovedFile>,
    /// Bytes of `removed` and `leftovers`.
    pub bytes: u64,
    /// Files left alone, with the reason (outside this workspace's store, or not removable).
    pub skipped: Vec<String>,
}

/// One removed materialization file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemovedFile {
    pub asset: AssetKey,
    pub partition: Option<String>,
    pub run_id: RunId,
    pub location: String,
    pub bytes: u64,
}

/// Removes the files of a project's materializations beyond the newest `keep` of each asset and
/// partition. The newest is never touched, so incremental runs and previews keep working; the
/// rows stay in the workspace (history, row counts over time, reports). Only files under this
/// workspace's materialization directory are removed — never a remote run's objects. Runs
/// whose process is gone are ended first, so they never hold files back; then the files of
/// ended runs that no materialization names (`.partial` files, unrecorded Parquet) go too.
pub fn clean_up_materializations(
    ws: &mut Workspace,
    project: &str,
    keep: usize,
    dry_run: bool,
) -> Result<CleanupReport, AppError> {
    super::liveness::end_dead_runs_quietly(ws);
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
            purged.push(file.clone());
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
        ws.mark_purged(project, &purged, &now)?;
    }
    remove_leftovers(ws, project, &root, &mut report)?;
    Ok(report)
}

/// A file under a project's store directory: `<asset>/<partition dir>/<run>.parquet`, or the
/// same with `.partial` while a run writes it.
struct StoreFile {
    asset: AssetKey,
    partition_dir: String,
    run_id: RunId,
    partial: bool,
    path: PathBuf,
}

fn store_files(root: &Path) -> Vec<StoreFile> {
    let dirs = |p: &Path| -> Vec<(String, PathBuf)> {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect()
    };
    let mut files = Vec::new();
    for (asset, asset_path) in dirs(root) {
        if !asset_path.is_dir() {
            continue;
        }
        for (partition_dir, partition_path) in dirs(&asset_path) {
            if !partition_path.is_dir() {
                continue;
            }
            for (name, path) in dirs(&partition_path) {
                let (run_id, partial) = if let Some(r) = name.strip_suffix(".parquet.partial") {
                    (r, true)
                } else if let Some(r) = name.strip_suffix(".parquet") {
                    (r, false)
                } else {
                    continue;
                };
                if path.is_file() {
                    files.push(StoreFile {
                        asset: AssetKey::new(asset.clone()),
                        partition_dir: partition_dir.clone(),
                        run_id: run_id.into(),
                        partial,
                        path,
                    });
                }
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// Removes (or, for a dry run, lists) the files of ended runs that no materialization names.
/// A file of a run still going stays (it may still write or record it), and so does a file of a
/// run this workspace does not know (another workspace in the same directory may own it).
fn remove_leftovers(
    ws: &Workspace,
    project: &str,
    root: &Path,
    report: &mut CleanupReport,
) -> Result<(), AppError> {
    let named: std::collections::BTreeSet<(AssetKey, String, RunId)> = ws
        .recorded_materializations(project)?
        .into_iter()
        .map(|(asset, partition, run)| (asset, engine::partition_dir(partition.as_deref()), run))
        .collect();
    let mut ended: std::collections::BTreeMap<RunId, bool> = std::collections::BTreeMap::new();
    for file in store_files(root) {
        if !file.partial
            && named.contains(&(
                file.asset.clone(),
                file.partition_dir.clone(),
                file.run_id.clone(),
            ))
        {
            continue;
        }
        let run_ended = match ended.get(&file.run_id) {
            Some(e) => *e,
            None => {
                let e = match ws.run(&file.run_id) {
                    Ok(run) => run.project == project && run.status.is_finished(),
                    Err(StoreError::NoSuchRun { .. }) => false,
                    Err(e) => return Err(e.into()),
                };
                ended.insert(file.run_id.clone(), e);
                e
            }
        };
        if !run_ended {
            continue;
        }
        let bytes = std::fs::metadata(&file.path).map_or(0, |m| m.len());
        if !report.dry_run {
            match std::fs::remove_file(&file.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    report
                        .skipped
                        .push(format!("{} ({}): {e}", file.asset, file.path.display()));
                    continue;
                }
            }
            if let Some(dir) = file.path.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
        report.bytes += bytes;
        report.leftovers.push(RemovedFile {
            asset: file.asset,
            partition: (file.partition_dir != "_").then_some(file.partition_dir),
            run_id: file.run_id,
            location: file.path.to_string_lossy().into_owned(),
            bytes,
        });
    }
    Ok(())
}

pub fn store_dir(ws: &Workspace, project: &str) -> PathBuf {
    let base = ws
        .path()
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    base.join("materializations").join(project)
}

pub fn new_run_id() -> RunId {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = chrono::Utc::now();
    let mut h = Sha256::new();
    h.update(now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    RunId::new(format!(
        "{}-{}",
        now.format("%Y%m%dT%H%M%S"),
        engine::hex(&h.finalize()[..3])
    ))
}

/// The selected assets in dependency order.
pub fn resolve_selection(project: &Project, selection: &str) -> Result<Vec<AssetKey>, AppError> {
    let graph = AssetGraph::build(project);
    let selected = AssetSelection::parse(selection)
        .and_then(|s| s.resolve(project, &graph))
        .map_err(Refusal::Selection)?;
    Ok(engine::ordered_steps(project, &selected).map_err(Refusal::Plan)?)
}

/// Runs one materialization per requested partition, in order. Events reach `on_event` as they
/// happen, each step event stored in the workspace before it is passed on (logs within 200 ms).
/// `cancel` stops between steps.
pub fn materialize(
    ws: &mut Workspace,
    stored: &StoredProject,
    request: &MaterializeRequest,
    on_event: &mut dyn FnMut(&RunId, &RunEvent),
    cancel: &Arc<AtomicBool>,
) -> Result<Vec<RunSummary>, AppError> {
    materialize_inner(ws, stored, request, None, on_event, cancel)
}

/// [`materialize`] with the run id chosen beforehand (automation reserves it with the run key,
/// so a request is made exactly once); for one partition or none.
pub fn materialize_as(
    ws: &mut Workspace,
    stored: &StoredProject,
    request: &MaterializeRequest,
    run_id: RunId,
    on_event: &mut dyn FnMut(&RunId, &RunEvent),
    cancel: &Arc<AtomicBool>,
) -> Result<Vec<RunSummary>, AppError> {
    materialize_inner(ws, stored, request, Some(run_id), on_event, cancel)
}

fn materialize_inner(
    ws: &mut Workspace,
    stored: &StoredProject,
    request: &MaterializeRequest,
    mut preset_id: Option<RunId>,
    on_event: &mut dyn FnMut(&RunId, &RunEvent),
    cancel: &Arc<AtomicBool>,
) -> Result<Vec<RunSummary>, AppError> {
    let project = &stored.project;
    let steps = checked_steps(project, request)?;
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
            .map_err(Refusal::Plan)?;
    }
    // Tagged columns are masked as the project's policies say for a local run.
    let masking = super::masking::masking_for(
        project,
        Some(project_dir.as_path()),
        crate::model::masking::Environment::Local,
    )?;
    let count = partitions.len();
    for (index, partition) in partitions.into_iter().enumerate() {
        let mut run = queued_run(project, request, partition.clone());
        if let Some(id) = preset_id.take() {
            run.id = id;
        }
        ws.create_run(&run)?;
        ws.set_run_owner(&run.id, super::liveness::current_owner())?;
        let (previous, previous_checks) = stored_state(ws, &project.name)?;
        let plan = RunPlan {
            run_id: run.id.clone(),
            project: project.clone(),
            project_dir: project_dir.clone(),
            store_dir: store_dir(ws, &project.name),
            steps: steps.clone(),
            partition: partition.clone(),
            force: request.force,
            previous,
            previous_checks,
            allow_failed_upstream: request.allow_failed_upstream,
            checks_only: request.checks_only,
            masking: masking.clone(),
        };
        let recorded = execute_recorded(ws, plan, on_event, cancel)?;
        let Some(error) = recorded.unrecorded else {
            let alerts = super::alerts::alert_run_or_log(ws, &run.id);
            summaries.push(RunSummary {
                run: ws.run(&run.id)?,
                events: recorded.events,
                alerts,
            });
            continue;
        };
        // The workspace cannot take the run's record: the run failed, whatever the stored row
        // says, and nothing more runs (or is cleaned up) until it can.
        let failed = unrecorded_failure(ws, run, error, count - index - 1);
        let alerts = super::alerts::alert_run_or_log(ws, &failed.id);
        summaries.push(RunSummary {
            run: failed,
            events: recorded.events,
            alerts,
        });
        return Ok(summaries);
    }
    clean_up_after_runs(ws, &project.name);
    super::retention::expire_quietly(ws, &project.name, &project.retention);
    Ok(summaries)
}

/// The steps `request` selects, once the project has no errors and each requested partition
/// is one the steps know.
fn checked_steps(
    project: &Project,
    request: &MaterializeRequest,
) -> Result<Vec<AssetKey>, AppError> {
    let diagnostics = crate::model::validate(project);
    if let Some(first) = diagnostics.iter().find(|d| d.is_error()) {
        return Err(Refusal::ProjectHasErrors {
            first: Box::new(first.clone()),
        }
        .into());
    }
    let steps = resolve_selection(project, &request.selection)?;
    for key in request.partitions.iter().flatten() {
        check_partition(project, &steps, key)?;
    }
    Ok(steps)
}

/// The record of a local run of `request` on one partition, before it starts.
fn queued_run(
    project: &Project,
    request: &MaterializeRequest,
    partition: Option<String>,
) -> RunRecord {
    RunRecord {
        id: new_run_id(),
        project: project.name.clone(),
        selection: request.selection.clone(),
        partition,
        target: "local".to_owned(),
        status: RunStatus::Queued,
        trigger: request.trigger.clone(),
        created_at: crate::model::time::millis(chrono::Utc::now()),
        started_at: None,
        ended_at: None,
        error: None,
        allow_failed_upstream: request.allow_failed_upstream,
        checks_only: request.checks_only,
        end_known: true,
    }
}

/// A run whose record the workspace could not take: failed with `error`, saying how many
/// partitions after it (`left`) were not run.
fn unrecorded_failure(ws: &Workspace, run: RunRecord, error: String, left: usize) -> RunRecord {
    let mut failed = ws.run(&run.id).unwrap_or(run);
    failed.status = RunStatus::Failure;
    failed.error = Some(if left > 0 {
        format!("{error}; the {left} partition(s) after this one were not run")
    } else {
        error
    });
    failed
        .ended_at
        .get_or_insert_with(|| crate::model::time::millis(chrono::Utc::now()));
    failed
}

/// Retention: old files go once the runs are recorded. A failed clean-up never fails a run.
fn clean_up_after_runs(ws: &mut Workspace, project: &str) {
    match keep_materializations() {
        Ok(Some(keep)) => match clean_up_materializations(ws, project, keep, false) {
            Ok(r) if !r.removed.is_empty() => tracing::info!(
                project = %project,
                files = r.removed.len(),
                bytes = r.bytes,
                keep,
                "removed old materialization files"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(project = %project, "cleaning up old materializations failed: {e}");
            }
        },
        Ok(None) => {}
        Err(e) => tracing::warn!("{e}"),
    }
}

/// The latest materialization of each asset and partition of a project, and the latest
/// evaluation of each check on them (oldest first): what a run starts from.
pub(crate) fn stored_state(
    ws: &Workspace,
    project: &str,
) -> Result<(Vec<AssetMaterialization>, Vec<CheckRecord>), AppError> {
    let previous = ws.latest_materializations(project)?;
    let judged: std::collections::BTreeSet<(&AssetKey, Option<&str>, &str)> = previous
        .iter()
        .map(|m| (&m.asset, m.partition.as_deref(), m.run_id.as_str()))
        .collect();
    let checks = ws
        .latest_check_records(project)?
        .into_iter()
        .filter(|r| {
            judged.contains(&(
                &r.result.asset,
                r.result.partition.as_deref(),
                r.materialization_run_id(),
            ))
        })
        .collect();
    Ok((previous, checks))
}

/// How long a run waits for a workspace that another process keeps locked before it gives up
/// recording and fails: `MEDALLION_RECORD_WAIT_SECS`, default 30 s. Each attempt also waits up
/// to `SQLite`'s busy timeout (3 s), so a lock held for a moment never fails a run.
pub fn record_patience() -> Duration {
    Duration::from_secs(
        std::env::var("MEDALLION_RECORD_WAIT_SECS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(30),
    )
}

/// The longest a log line or profile waits to be stored with others.
const BATCH_AGE: chrono::TimeDelta = chrono::TimeDelta::milliseconds(200);

/// What executing and recording one run gave.
struct Recorded {
    /// The events stored in the workspace, in order (with the run's final event).
    events: Vec<RunEvent>,
    /// Why the run's events could not all be stored: the run failed with this.
    unrecorded: Option<String>,
}

/// Stores a run's events in batches; waits out a locked workspace up to the patience, and
/// after that (or any other store error) stores nothing more.
struct Recorder<'w> {
    ws: &'w mut Workspace,
    run_id: RunId,
    seq: u64,
    /// Events not stored yet, each with the time it happened.
    pending: Vec<(DateTime<Utc>, RunEvent)>,
    recorded: Vec<RunEvent>,
    /// When the first attempt that found the workspace locked began (reset by a success).
    locked_since: Option<Instant>,
    patience: Duration,
    /// Why recording gave up.
    failed: Option<StoreError>,
    /// The wait for a lock was announced (once per wait).
    said_waiting: bool,
}

impl Recorder<'_> {
    fn flush(&mut self) {
        if self.pending.is_empty() || self.failed.is_some() {
            return;
        }
        let attempt = Instant::now();
        let stamped: Vec<(DateTime<Utc>, &RunEvent)> =
            self.pending.iter().map(|(t, e)| (*t, e)).collect();
        match self
            .ws
            .append_stamped_run_events(&self.run_id, self.seq, &stamped)
        {
            Ok(()) => {
                self.seq += self.pending.len() as u64;
                self.recorded.extend(self.pending.drain(..).map(|(_, e)| e));
                self.locked_since = None;
                self.said_waiting = false;
            }
            Err(StoreError::Locked { path })
                if self.locked_since.get_or_insert(attempt).elapsed() < self.patience =>
            {
                if !self.said_waiting {
                    self.said_waiting = true;
                    tracing::warn!(
                        "run {}: another process holds the workspace {} locked; waiting up to {} s to record the run",
                        self.run_id,
                        path.display(),
                        self.patience.as_secs()
                    );
                }
            }
            Err(e) => {
                tracing::debug!(run = %self.run_id, error = %e, "could not record run events");
                self.failed = Some(e);
            }
        }
    }

    /// Flushes until everything is stored or recording gives up.
    fn flush_all(&mut self) {
        loop {
            self.flush();
            if self.pending.is_empty() || self.failed.is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Why a run could not be recorded, in a sentence about the run (a store error alone says
/// "nothing was written", which is not so here: the run's record exists).
fn recording_failure(e: &StoreError, waited: Option<Duration>) -> String {
    match e {
        StoreError::Locked { path } => format!(
            "its events and materializations could not be recorded: another process kept the workspace {} locked for {} s",
            path.display(),
            waited.unwrap_or_default().as_secs()
        ),
        other => format!("its events and materializations could not be recorded: {other}"),
    }
}

/// Executes a plan on a named thread; this thread persists and forwards its events. The run's
/// last event (`RunFinished`) is forwarded only once it is stored: a run whose events cannot
/// be stored fails with that reason, and the files it wrote that no stored row names are
/// removed.
#[expect(
    clippy::disallowed_methods,
    reason = "the engine runs on a named thread of its own while this one records"
)]
fn execute_recorded(
    ws: &mut Workspace,
    plan: RunPlan,
    on_event: &mut dyn FnMut(&RunId, &RunEvent),
    cancel: &Arc<AtomicBool>,
) -> Result<Recorded, AppError> {
    let run_id = plan.run_id.clone();
    let store_root = plan.store_dir.clone();
    let (tx, rx) = mpsc::sync_channel::<(DateTime<Utc>, RunEvent)>(1024);
    // The engine stops at this flag: the caller's cancel, or recording that gave up.
    let stop = Arc::new(AtomicBool::new(cancel.load(Ordering::Relaxed)));
    let stop_flag = Arc::clone(&stop);
    let fetcher = super::connections::fetcher();
    let masking = plan.masking.clone();
    let worker = std::thread::Builder::new()
        .name(format!("medallion-run-{run_id}"))
        .spawn(move || {
            // Secrets are resolved on this thread; events are masked (tagged columns) and
            // redacted (secrets) before they leave it, and stamped with the time they happened.
            let mut emit = |e: RunEvent| {
                let e = super::masking::mask_event(&masking, e);
                let _ = tx.send((now(), super::connections::redact_event(e)));
            };
            engine::execute_with(&plan, fetcher.as_ref(), &mut emit, &stop_flag)
        })
        .map_err(|source| AppError::Thread {
            what: "the run thread",
            source,
        })?;
    let mut rec = Recorder {
        ws,
        run_id: run_id.clone(),
        seq: 0,
        pending: Vec::new(),
        recorded: Vec::new(),
        locked_since: None,
        patience: record_patience(),
        failed: None,
        said_waiting: false,
    };
    let finish = rec.record_until_done(&rx, cancel, &stop, on_event);
    rec.flush_all();
    if worker.join().is_err() {
        rec.ws
            .set_run_status(&run_id, RunStatus::Failure, Some("the run thread crashed"))?;
        return Err(AppError::RunCrashed(run_id));
    }
    let Some(error) = rec.failed.take() else {
        if let Some(event) = &finish {
            on_event(&run_id, event);
        }
        return Ok(Recorded {
            events: rec.recorded,
            unrecorded: None,
        });
    };
    Ok(rec.give_up(&error, &store_root, on_event))
}

impl Recorder<'_> {
    /// Stores and forwards the run's events until the engine's thread hangs up, beating the
    /// run's heartbeat and raising `stop` on a cancel or once recording gave up. Returns the
    /// run's last event (`RunFinished`), which is stored but not forwarded yet.
    fn record_until_done(
        &mut self,
        rx: &mpsc::Receiver<(DateTime<Utc>, RunEvent)>,
        cancel: &AtomicBool,
        stop: &AtomicBool,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Option<RunEvent> {
        let mut finish: Option<RunEvent> = None;
        let mut heartbeat = Instant::now();
        loop {
            if cancel.load(Ordering::Relaxed) || self.failed.is_some() {
                stop.store(true, Ordering::Relaxed);
            }
            if heartbeat.elapsed() >= super::liveness::HEARTBEAT_EVERY && self.failed.is_none() {
                heartbeat = Instant::now();
                if let Err(e) = self.ws.heartbeat_run(&self.run_id) {
                    tracing::debug!(run = %self.run_id, error = %e, "no heartbeat this time");
                }
            }
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok((at, event)) => {
                    let last = matches!(event, RunEvent::RunFinished { .. });
                    // What a step did (started, its table, a check's result, its end) is
                    // stored before anyone hears of it, so a process killed right after the
                    // CLI printed "materialized" or a card turned fresh leaves the workspace
                    // saying the same. Logs and profiles go in batches.
                    let state = matches!(
                        event,
                        RunEvent::StepStarted { .. }
                            | RunEvent::StepFinished { .. }
                            | RunEvent::Materialization(_)
                            | RunEvent::CheckEvaluation(_)
                    );
                    let overdue = self
                        .pending
                        .first()
                        .is_some_and(|(t, _)| now() - *t > BATCH_AGE);
                    if last {
                        finish = Some(event.clone());
                    } else if !state {
                        // Logs and profiles (which can be large) are passed on without a copy.
                        on_event(&self.run_id, &event);
                    }
                    let told = state.then(|| event.clone());
                    self.pending.push((at, event));
                    if last || state || overdue || self.pending.len() >= 64 {
                        self.flush();
                    }
                    if let Some(event) = told {
                        on_event(&self.run_id, &event);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => self.flush(),
                Err(mpsc::RecvTimeoutError::Disconnected) => return finish,
            }
        }
    }

    /// Recording gave up: removes what the run wrote that no stored row names, tries once to
    /// store the failure itself, and says so.
    fn give_up(
        mut self,
        error: &StoreError,
        store_root: &Path,
        on_event: &mut dyn FnMut(&RunId, &RunEvent),
    ) -> Recorded {
        let run_id = self.run_id.clone();
        let waited = self.locked_since.map(|t| t.elapsed());
        let (removed, kept) = remove_unrecorded_files(&self.pending, store_root, &run_id);
        let mut message = format!(
            "{}; the {removed} file(s) it wrote were removed",
            recording_failure(error, waited)
        );
        if !kept.is_empty() {
            message = format!(
                "{message}; {} could not be removed ({}): `medallion gc` removes them",
                kept.len(),
                kept.join(", ")
            );
        }
        let finished = RunEvent::RunFinished {
            status: RunStatus::Failure,
            error: Some(message.clone()),
        };
        let at = now();
        match self
            .ws
            .append_stamped_run_events(&run_id, self.seq, &[(at, &finished)])
        {
            Ok(()) => {}
            Err(e) => tracing::warn!(
                "run {run_id}: its failure could not be recorded either ({}); the next command that opens the workspace after this process has ended marks it failed",
                match e {
                    StoreError::Locked { .. } => "the workspace is still locked".to_owned(),
                    other => other.to_string(),
                }
            ),
        }
        on_event(&run_id, &finished);
        self.recorded.push(finished);
        Recorded {
            events: self.recorded,
            unrecorded: Some(message),
        }
    }
}

/// Removes the Parquet files of this run that its unstored materializations name: how many
/// went, and those that could not be removed (with why).
fn remove_unrecorded_files(
    pending: &[(DateTime<Utc>, RunEvent)],
    store_root: &Path,
    run_id: &RunId,
) -> (usize, Vec<String>) {
    let (mut removed, mut kept) = (0usize, Vec::new());
    for (_, event) in pending {
        let RunEvent::Materialization(m) = event else {
            continue;
        };
        let path = Path::new(&m.location);
        let own = path.starts_with(store_root)
            && path.file_name() == Some(std::ffi::OsStr::new(&format!("{run_id}.parquet")));
        if !own {
            continue;
        }
        match std::fs::remove_file(path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => kept.push(format!("{} ({e})", m.location)),
        }
    }
    (removed, kept)
}

/// Now, to the millisecond a stored time keeps.
fn now() -> DateTime<Utc> {
    crate::model::time::millis(Utc::now())
}

/// The first rows of an asset, from stored upstream materializations where there are any,
/// with tagged columns masked as the project's policies say.
pub fn preview(
    ws: &Workspace,
    stored: &StoredProject,
    asset: &AssetKey,
    limit: usize,
) -> Result<engine::Preview, AppError> {
    let dir = stored
        .source_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let masking = super::masking::masking_for(
        &stored.project,
        Some(dir.as_path()),
        crate::model::masking::Environment::Local,
    )?;
    preview_masked(ws, stored, asset, limit, &masking)
}

/// [`preview`] without masking: for the PII detectors (`medallion pii scan`), which look at
/// values on this machine and print none, and the studio's explicit "Show unmasked" (recorded
/// in the audit log by its caller).
pub fn preview_for_detection(
    ws: &Workspace,
    stored: &StoredProject,
    asset: &AssetKey,
    limit: usize,
) -> Result<engine::Preview, AppError> {
    preview_masked(ws, stored, asset, limit, &engine::mask::Masking::default())
}

fn preview_masked(
    ws: &Workspace,
    stored: &StoredProject,
    asset: &AssetKey,
    limit: usize,
    masking: &engine::mask::Masking,
) -> Result<engine::Preview, AppError> {
    // Upstreams a remote run stored on S3 are read from local copies.
    let upstream = crate::model::AssetGraph::build(&stored.project).with_upstream(asset);
    let previous = super::s3cache::local_copies(
        ws,
        &stored.project,
        ws.latest_materializations(&stored.project.name)?,
        |m| upstream.contains(&m.asset),
    )?;
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
        masking,
    )?)
}

/// The first `limit` rows of `asset`'s latest stored materialization: the data its downstream
/// assets read (the studio's preview of an edge), masked as a preview is.
pub fn preview_stored(
    ws: &Workspace,
    stored: &StoredProject,
    asset: &AssetKey,
    limit: usize,
) -> Result<engine::Preview, AppError> {
    let latest = ws.latest_materializations(&stored.project.name)?;
    let m = latest
        .iter()
        .rev()
        .find(|m| &m.asset == asset)
        .ok_or_else(|| AppError::NotMaterialized {
            asset: asset.clone(),
        })?;
    let dir = stored.source_dir.as_deref();
    let masking = super::masking::masking_for(
        &stored.project,
        dir,
        crate::model::masking::Environment::Local,
    )?;
    let local = super::s3cache::local_copies(ws, &stored.project, vec![m.clone()], |_| true)?;
    let m = local.first().unwrap_or(m);
    Ok(engine::preview_stored(m, limit, &masking)?)
}

/// Exports the latest materializations of `assets` as Parquet and CSV files into `dir`,
/// recorded in the audit log.
pub fn export_outputs(
    ws: &mut Workspace,
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
    if !written.is_empty() {
        super::audit::record_file(
            ws,
            crate::model::AuditAction::OutputsExported,
            project,
            dir,
            serde_json::json!({ "assets": assets.iter().map(AssetKey::as_str).collect::<Vec<_>>(), "files": written.len() }),
        )?;
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
    let (previous, previous_checks) = stored_state(ws, &project.name)?;
    let plan = RunPlan {
        run_id: RunId::default(),
        project: project.clone(),
        project_dir: stored
            .source_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(".")),
        store_dir: store_dir(ws, &project.name),
        steps,
        partition: request.partitions.first().cloned().flatten(),
        force: request.force,
        previous,
        previous_checks,
        allow_failed_upstream: request.allow_failed_upstream,
        checks_only: request.checks_only,
        masking: engine::mask::Masking {
            plan: super::masking::plan_for(
                project,
                stored.source_dir.as_deref(),
                crate::model::masking::Environment::Local,
            ),
            key: None,
        },
    };
    Ok(engine::plan_status(&plan))
}

/// One line on what a plan would do: "2 will run, 4 up to date; 1 check changed: it will run;
/// 2 blocked". The CLI's dry run and the studio's launch dialog say the same.
pub fn plan_summary(steps: &[engine::PlannedStep]) -> String {
    let (mut will_run, mut up_to_date, mut blocked, mut checks) = (0, 0, 0, 0);
    let mut failing = 0;
    for step in steps {
        match &step.status {
            PlannedStatus::WillRun { .. } => will_run += 1,
            PlannedStatus::UpToDate {
                checks: c, failed, ..
            } => {
                up_to_date += 1;
                checks += c.len();
                failing += usize::from(failed.is_some());
            }
            PlannedStatus::Blocked { .. } => blocked += 1,
        }
    }
    let mut out = format!("{will_run} will run, {up_to_date} up to date");
    match checks {
        0 => {}
        1 => out.push_str("; 1 check changed: it will run"),
        n => {
            let _ = write!(out, "; {n} checks changed: they will run");
        }
    }
    if blocked > 0 {
        let _ = write!(
            out,
            "; {blocked} blocked by a failed blocking check upstream"
        );
    }
    match failing {
        0 => {}
        1 => out.push_str("; 1 up to date but failing an Error check: the run will fail"),
        n => {
            let _ = write!(
                out,
                "; {n} up to date but failing an Error check: the run will fail"
            );
        }
    }
    out
}

/// An asset's past in the workspace: for the studio's asset details.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AssetHistory {
    pub asset: Option<AssetKey>,
    /// Oldest first.
    pub materializations: Vec<crate::model::AssetMaterialization>,
    /// Check evaluations with their run, oldest first.
    pub checks: Vec<(RunId, crate::model::AssetCheckResult)>,
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
    let mut run_ids: Vec<&RunId> = Vec::new();
    for m in materializations.iter().rev() {
        if !run_ids.contains(&&m.run_id) {
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
                checks.push(((*run_id).clone(), c));
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
