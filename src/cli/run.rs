//! `materialize`, `check`, `preview`, `runs`, `status`, `gc` and `report`: the local engine and
//! its records from the command line.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::target::resolve_target;
use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, OutputFormat, print_json};
use crate::app::{self, AppError, run::MaterializeRequest};
use crate::app::{StoredProject, Workspace};
use crate::model::RunId;
use crate::model::{AssetKey, RunEvent, RunStatus, StepOutcome};

/// `medallion materialize`, as given on the command line.
#[derive(Debug, clap::Args)]
pub struct MaterializeCommand {
    /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
    pub project: String,
    /// Which assets (key, +key, key+, *, layer:NAME, group:NAME, comma for union)
    #[arg(long, default_value = "*")]
    pub select: String,
    /// Run one partition
    #[arg(long, value_name = "KEY")]
    pub partition: Option<String>,
    /// Backfill partitions FROM..TO (inclusive), one run each
    #[arg(long, value_name = "FROM..TO")]
    pub partition_range: Option<String>,
    /// Rematerialize even assets whose definition and inputs are unchanged
    #[arg(long)]
    pub force: bool,
    /// Also write each selected asset as <asset>.parquet and <asset>.csv into DIR
    #[arg(long, value_name = "DIR")]
    pub export_dir: Option<PathBuf>,
    /// Decimals for floating-point numbers in exported CSV, 0 to 32 (default: as many as
    /// needed)
    #[arg(long, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=32))]
    pub float_precision: Option<usize>,
    /// Build downstream assets even from upstream data that failed a blocking check (the
    /// run records that it did, and its report says so)
    #[arg(long)]
    pub allow_failed_upstream: bool,
    /// Only say what would happen to each asset — will run, up to date, checks that will
    /// run on stored data, blocked — without running anything
    #[arg(long)]
    pub dry_run: bool,
    /// Run the selected assets' SQL unit tests first; when one does not pass, nothing runs,
    /// no run is recorded and the exit code is 1
    #[arg(long)]
    pub test_first: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

impl MaterializeCommand {
    pub fn args(&self) -> MaterializeArgs<'_> {
        MaterializeArgs {
            target: &self.project,
            select: &self.select,
            partition: self.partition.as_deref(),
            partition_range: self.partition_range.as_deref(),
            force: self.force,
            export_dir: self.export_dir.as_deref(),
            float_precision: self.float_precision,
            allow_failed_upstream: self.allow_failed_upstream,
            checks_only: false,
            dry_run: self.dry_run,
            test_first: self.test_first,
            format: self.format,
        }
    }
}

/// `medallion check`, as given on the command line.
#[derive(Debug, clap::Args)]
pub struct CheckCommand {
    /// A project directory or the name of a project in the workspace
    pub project: String,
    /// Which assets (key, +key, key+, *, layer:NAME, group:NAME, comma for union)
    #[arg(long, default_value = "*")]
    pub select: String,
    /// Check the stored data of one partition
    #[arg(long, value_name = "KEY")]
    pub partition: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

impl CheckCommand {
    /// A checks-only materialization: no partition range, no export, nothing forced.
    pub fn args(&self) -> MaterializeArgs<'_> {
        MaterializeArgs {
            target: &self.project,
            select: &self.select,
            partition: self.partition.as_deref(),
            partition_range: None,
            force: false,
            export_dir: None,
            float_precision: None,
            allow_failed_upstream: false,
            checks_only: true,
            dry_run: false,
            test_first: false,
            format: self.format,
        }
    }
}

pub struct MaterializeArgs<'a> {
    pub target: &'a str,
    pub select: &'a str,
    pub partition: Option<&'a str>,
    pub partition_range: Option<&'a str>,
    pub force: bool,
    pub export_dir: Option<&'a Path>,
    pub float_precision: Option<usize>,
    pub allow_failed_upstream: bool,
    /// `medallion check`: evaluate checks on stored data, compute nothing.
    pub checks_only: bool,
    /// Say what would happen without running.
    pub dry_run: bool,
    /// Run the selected assets' SQL unit tests before anything; refuse when one fails.
    pub test_first: bool,
    pub format: OutputFormat,
}

pub fn materialize(workspace: &Path, args: &MaterializeArgs<'_>) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    let stored = match resolve_target(&mut ws, args.target)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let steps = match app::run::resolve_selection(&stored.project, args.select) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    if args.test_first
        && let Err(e) = app::unit_test::require_passing(
            &stored.project,
            stored.source_dir.as_deref(),
            args.select,
        )
    {
        eprintln!("error: {}", app::redact(&e.to_string()));
        // A test that did not pass fails the command; anything else is bad input.
        let failed = matches!(
            e,
            AppError::Refused(app::refusal::Refusal::UnitTestsFailed { .. })
        );
        return Ok(if failed || !e.is_usage() {
            EXIT_FAILED
        } else {
            EXIT_BAD_INPUT
        });
    }
    let request = MaterializeRequest {
        selection: args.select.to_owned(),
        partitions: partitions(&stored, &steps, args)?,
        force: args.force,
        trigger: "cli".to_owned(),
        allow_failed_upstream: args.allow_failed_upstream,
        checks_only: args.checks_only,
    };
    if args.dry_run {
        return dry_run(&ws, &stored, &request, args.format);
    }
    let cancel = Arc::new(AtomicBool::new(false));
    install_ctrl_c(&cancel);
    let progress = Progress::new(args.format, steps.len() * request.partitions.len());
    let mut on_event = |run_id: &RunId, e: &RunEvent| progress.on_event(run_id, e);
    let summaries = match app::run::materialize(&mut ws, &stored, &request, &mut on_event, &cancel)
    {
        Ok(s) => s,
        Err(e) if e.is_usage() => {
            progress.finish();
            eprintln!("error: {}", app::redact(&e.to_string()));
            return Ok(EXIT_BAD_INPUT);
        }
        Err(e) => return Err(e.into()),
    };
    progress.finish();
    let mut exported = Vec::new();
    if let Some(dir) = args.export_dir {
        exported = app::run::export_outputs(
            &mut ws,
            &stored.project.name,
            &steps,
            dir,
            args.float_precision,
        )?;
    }
    let worst = worst_status(&summaries);
    match args.format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "project": stored.project.name,
            "status": worst,
            "runs": summaries.iter().map(run_json).collect::<Vec<_>>(),
            "exported": exported,
        }))?,
        OutputFormat::Text => {
            for s in &summaries {
                print_run_summary(s);
            }
            for p in &exported {
                println!("wrote {}", p.display());
            }
        }
    }
    Ok(match worst {
        RunStatus::Success => EXIT_OK,
        _ => EXIT_FAILED,
    })
}

/// How a run's events reach the terminal: a progress bar on an interactive terminal (events
/// printed above it), one line per event in text output elsewhere, nothing for JSON.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    text: bool,
}

impl Progress {
    /// `steps`: the steps to run, all runs together.
    fn new(format: OutputFormat, steps: usize) -> Self {
        let text = format == OutputFormat::Text;
        let interactive = std::io::stderr().is_terminal() && text;
        Self {
            bar: interactive.then(|| progress_bar(steps)),
            text,
        }
    }

    fn on_event(&self, run_id: &RunId, e: &RunEvent) {
        if let Some(bar) = &self.bar {
            if let RunEvent::StepStarted { asset, .. } = e {
                bar.set_message(format!("{asset}…"));
            }
            if matches!(e, RunEvent::StepFinished { .. }) {
                bar.inc(1);
            }
            if !matches!(e, RunEvent::Profile(_) | RunEvent::StepStarted { .. }) {
                bar.println(e.summary());
            }
        } else if self.text && !matches!(e, RunEvent::Profile(_)) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "[{run_id}] {}", e.summary());
        }
    }

    /// Clears the bar before the summary (or an error) is printed.
    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The partitions to run, one run each: `--partition`, the keys of `--partition-range`, or
/// one unpartitioned run.
fn partitions(
    stored: &StoredProject,
    steps: &[AssetKey],
    args: &MaterializeArgs<'_>,
) -> anyhow::Result<Vec<Option<String>>> {
    Ok(match (args.partition, args.partition_range) {
        (Some(_), Some(_)) => anyhow::bail!("give --partition or --partition-range, not both"),
        (Some(p), None) => vec![Some(p.to_owned())],
        (None, Some(range)) => {
            let (from, to) = range.split_once("..").ok_or_else(|| {
                anyhow::anyhow!("--partition-range takes FROM..TO, not `{range}`")
            })?;
            app::run::partition_range(&stored.project, steps, from, to)?
                .into_iter()
                .map(Some)
                .collect()
        }
        (None, None) => vec![None],
    })
}

/// The progress bar an interactive terminal shows, one tick per step and partition.
fn progress_bar(len: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}") {
        bar.set_style(style);
    }
    bar
}

/// The status of a backfill as a whole: canceled over failed over success.
fn worst_status(summaries: &[app::run::RunSummary]) -> RunStatus {
    summaries
        .iter()
        .map(|s| s.run.status)
        .fold(RunStatus::Success, |acc, s| match (acc, s) {
            (RunStatus::Canceled, _) | (_, RunStatus::Canceled) => RunStatus::Canceled,
            (RunStatus::Failure, _) | (_, RunStatus::Failure) => RunStatus::Failure,
            _ => RunStatus::Success,
        })
}

/// One run's closing lines: its steps by outcome, its checks, and its error when the last
/// event did not already say it.
fn print_run_summary(s: &app::run::RunSummary) {
    let (mut done, mut up_to_date, mut skipped, mut failed) = (0, 0, 0, 0);
    let (mut blocked, mut checked, mut failing) = (0, 0, 0);
    for e in &s.events {
        if let RunEvent::StepFinished { outcome, .. } = e {
            match outcome {
                StepOutcome::Materialized => done += 1,
                StepOutcome::UpToDate { failing: None } => up_to_date += 1,
                StepOutcome::UpToDate { failing: Some(_) } => {
                    up_to_date += 1;
                    failing += 1;
                }
                StepOutcome::Skipped { .. } | StepOutcome::Canceled => skipped += 1,
                StepOutcome::Failed { .. } => failed += 1,
                StepOutcome::Blocked { .. } => blocked += 1,
                StepOutcome::Checked { .. } => checked += 1,
            }
        }
    }
    let checks: Vec<_> = s
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::CheckEvaluation(c) => Some(c),
            _ => None,
        })
        .collect();
    let passed = checks.iter().filter(|c| c.passed).count();
    let steps = if s.run.checks_only {
        format!("{checked} checked, {skipped} skipped, {failed} failed")
    } else {
        let blocked = if blocked > 0 {
            format!(", {blocked} blocked")
        } else {
            String::new()
        };
        // An up-to-date step whose stored data fails an Error check failed the run: said.
        let failing = if failing > 0 {
            format!(" ({failing} failing an Error check on its stored data)")
        } else {
            String::new()
        };
        format!(
            "{done} materialized, {up_to_date} up to date{failing}{blocked}, {skipped} skipped, {failed} failed"
        )
    };
    let checks = if checks.is_empty() {
        "no check ran".to_owned()
    } else {
        format!("checks {passed}/{} passed", checks.len())
    };
    println!(
        "run {} {}: {steps}; {checks}{}",
        s.run.id,
        s.run.status,
        if s.run.allow_failed_upstream {
            " (--allow-failed-upstream: the log names each asset built from data that failed a blocking check)"
        } else {
            ""
        }
    );
    // The run's error, when its last event did not already say it.
    let said = s.events.iter().rev().find_map(|e| match e {
        RunEvent::RunFinished { error, .. } => Some(error.clone()),
        _ => None,
    });
    if let Some(error) = &s.run.error
        && said.flatten().as_ref() != Some(error)
    {
        println!("  {}", app::redact(error));
    }
    for d in &s.alerts {
        if d.delivered {
            println!("  {}", d.describe());
        } else {
            eprintln!("warning: {}", d.describe());
        }
    }
}

fn run_json(s: &app::run::RunSummary) -> serde_json::Value {
    let steps: Vec<_> = s
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::StepFinished {
                asset,
                partition,
                outcome,
                duration_ms,
                duration_known,
            } => Some(serde_json::json!({
                "asset": asset, "partition": partition, "outcome": outcome,
                "duration_ms": duration_known.then_some(duration_ms),
            })),
            _ => None,
        })
        .collect();
    let checks: Vec<_> = s
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::CheckEvaluation(c) => Some(c),
            _ => None,
        })
        .collect();
    let materializations: Vec<_> = s
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Materialization(m) => Some(m),
            _ => None,
        })
        .collect();
    serde_json::json!({
        "run_id": s.run.id, "status": s.run.status, "error": s.run.error, "partition": s.run.partition,
        "allow_failed_upstream": s.run.allow_failed_upstream, "checks_only": s.run.checks_only,
        "steps": steps, "checks": checks, "materializations": materializations,
        "alerts": s.alerts,
    })
}

/// `materialize --dry-run`: what each step would do, from definitions, file metadata and the
/// workspace — nothing runs and nothing is recorded.
fn dry_run(
    ws: &Workspace,
    stored: &StoredProject,
    request: &MaterializeRequest,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let steps = match app::run::plan(ws, stored, request) {
        Ok(s) => s,
        Err(e) if e.is_usage() => {
            eprintln!("error: {}", app::redact(&e.to_string()));
            return Ok(EXIT_BAD_INPUT);
        }
        Err(e) => return Err(e.into()),
    };
    let summary = app::run::plan_summary(&steps);
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "project": stored.project.name,
            "summary": summary,
            "steps": steps,
        }))?,
        OutputFormat::Text => {
            println!("{}: {summary}", stored.project.name);
            for step in &steps {
                let part = step
                    .partition
                    .as_deref()
                    .map(|p| format!("[{p}]"))
                    .unwrap_or_default();
                let what = match &step.status {
                    app::run::PlannedStatus::UpToDate {
                        run_id,
                        checks,
                        failed,
                    } => {
                        let mut what = format!("up to date (run {run_id})");
                        if !checks.is_empty() {
                            let _ = write!(
                                what,
                                "; checks to run on its stored data: {}",
                                checks.join(", ")
                            );
                        }
                        if let Some(f) = failed {
                            let _ = write!(
                                what,
                                "; its data failed check {} in run {}: the run will fail",
                                f.check, f.run_id
                            );
                        }
                        what
                    }
                    app::run::PlannedStatus::WillRun { reason } => format!("will run: {reason}"),
                    app::run::PlannedStatus::Blocked { reason } => reason.clone(),
                };
                println!("  {}{part}  {what}", step.asset);
            }
        }
    }
    Ok(EXIT_OK)
}

/// Ctrl-C asks the run to stop after the current step (a second Ctrl-C exits at once). The
/// listener is a task of the process's runtime.
fn install_ctrl_c(cancel: &Arc<AtomicBool>) {
    let Ok(runtime) = app::runtime::handle() else {
        return;
    };
    let cancel = Arc::clone(cancel);
    drop(runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("canceling after the current step… (Ctrl-C again to quit now)");
            cancel.store(true, Ordering::Relaxed);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    }));
}

pub fn preview(
    workspace: &Path,
    target: &str,
    asset: &str,
    limit: usize,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    let stored = match resolve_target(&mut ws, target)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let key = AssetKey::new(asset);
    if stored.project.asset(&key).is_none() {
        eprintln!(
            "error: project {} has no asset `{asset}`",
            stored.project.name
        );
        return Ok(EXIT_BAD_INPUT);
    }
    let preview = match app::run::preview(&ws, &stored, &key, limit) {
        Ok(p) => p,
        Err(AppError::Engine(e)) => {
            eprintln!("error: {}", app::redact(&e.to_string()));
            return Ok(EXIT_FAILED);
        }
        // An upstream a remote run stored on S3 could not be fetched: the run's data, not the
        // command, is at fault.
        Err(e @ AppError::StoredOnS3 { .. }) => {
            eprintln!("error: {}", app::redact(&e.to_string()));
            return Ok(EXIT_FAILED);
        }
        Err(e) => return Err(e.into()),
    };
    match format {
        OutputFormat::Json => print_json(&preview)?,
        OutputFormat::Text => {
            println!("{}", preview.text);
            println!("{}", preview.note);
        }
    }
    Ok(EXIT_OK)
}

/// `medallion gc`: removes old materialization files and says what went.
pub fn gc(
    workspace: &Path,
    target: &str,
    keep: usize,
    dry_run: bool,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    let stored = match resolve_target(&mut ws, target)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let report = app::run::clean_up_materializations(&mut ws, &stored.project.name, keep, dry_run)?;
    let history = app::retention::expire_run_history(
        &mut ws,
        &stored.project.name,
        &stored.project.retention,
        dry_run,
        chrono::Utc::now(),
    )?;
    match format {
        OutputFormat::Json => {
            let mut value = serde_json::to_value(&report)?;
            value["history"] = serde_json::to_value(&history)?;
            print_json(&value)?;
        }
        OutputFormat::Text => {
            let verb = if dry_run { "would remove" } else { "removed" };
            for f in &report.removed {
                println!(
                    "{verb} {} {}run {} ({} bytes)",
                    f.asset,
                    f.partition
                        .as_deref()
                        .map(|p| format!("partition {p} "))
                        .unwrap_or_default(),
                    f.run_id,
                    f.bytes
                );
            }
            for f in &report.leftovers {
                println!(
                    "{verb} {} {}run {}: {} ({} bytes)",
                    f.asset,
                    f.partition
                        .as_deref()
                        .map(|p| format!("partition {p} "))
                        .unwrap_or_default(),
                    f.run_id,
                    if f.location.ends_with(".partial") {
                        "a temporary file left by a run that ended"
                    } else {
                        "a file no materialization names, of a run that ended"
                    },
                    f.bytes
                );
            }
            for s in &report.skipped {
                println!("left alone: {s}");
            }
            println!(
                "{}: {verb} {} file(s), {:.1} MB; the newest {} of each asset and partition stay",
                report.project,
                report.removed.len() + report.leftovers.len(),
                report.bytes as f64 / 1e6,
                report.keep
            );
            print_history(&report.project, &history);
        }
    }
    Ok(EXIT_OK)
}

/// What run-history retention deleted, and the rules it followed.
fn print_history(project: &str, h: &app::retention::HistoryReport) {
    let verb = if h.dry_run { "would delete" } else { "deleted" };
    for e in &h.deleted {
        println!("{verb} run {} from history: {}", e.run_id, e.reason);
    }
    let p = &h.policy;
    if p.enabled {
        println!(
            "{project}: {verb} {} run(s) from history; kept: the newest {} runs, runs of the last {} days (failed: {} days), and {} run(s) something kept needs",
            h.deleted.len(),
            p.keep_runs,
            p.keep_days,
            p.keep_failed_days,
            h.kept_needed
        );
    } else {
        println!("{project}: run history is kept forever ([retention] enabled = false)");
    }
}

pub fn runs(
    workspace: &Path,
    project: Option<&str>,
    limit: usize,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    super::remote::reconcile_quietly(&mut ws);
    let project = project.map(|p| app::project_name_of(&ws, p)).transpose()?;
    let runs = app::run::list_runs(&ws, project.as_deref(), limit)?;
    match format {
        OutputFormat::Json => {
            /// A run with its duration (from its start and end, when it has both).
            #[derive(serde::Serialize)]
            struct Line<'a> {
                #[serde(flatten)]
                run: &'a crate::model::RunRecord,
                duration_ms: Option<u64>,
            }
            let lines: Vec<Line<'_>> = runs
                .iter()
                .map(|run| Line {
                    run,
                    duration_ms: run.duration_ms(),
                })
                .collect();
            print_json(&lines)?;
        }
        OutputFormat::Text => {
            if runs.is_empty() {
                println!("no runs yet; start one with `medallion materialize PROJECT`");
            } else if let Some(first) = runs.first() {
                println!(
                    "{:<id$}  {:<9} {:>9} {:<14} {:<20} {:<24} CREATED",
                    "RUN",
                    "STATUS",
                    "DURATION",
                    "TARGET",
                    "PROJECT",
                    "SELECTION",
                    id = first.id.len()
                );
            }
            for r in runs {
                println!(
                    "{}  {:<9} {:>9} {:<14} {:<20} {:<24} {}{}{}{}{}",
                    r.id,
                    r.status.as_str(),
                    crate::model::duration_text(&r),
                    r.target,
                    r.project,
                    r.selection,
                    crate::model::time::text(&r.created_at),
                    r.partition
                        .as_ref()
                        .map(|p| format!("  partition {p}"))
                        .unwrap_or_default(),
                    if r.checks_only { "  checks only" } else { "" },
                    if r.allow_failed_upstream {
                        "  --allow-failed-upstream"
                    } else {
                        ""
                    },
                    r.error
                        .as_ref()
                        .filter(|_| r.status == RunStatus::Failure)
                        .map(|e| format!("\n    {}", app::redact(e)))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(EXIT_OK)
}

/// `medallion status`: each asset's state, as the studio's cards show it.
pub fn status(workspace: &Path, target: &str, format: OutputFormat) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    let stored = match resolve_target(&mut ws, target)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let states = app::status::asset_states(&ws, &stored)?;
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "project": stored.project.name,
            "assets": states,
        }))?,
        OutputFormat::Text => {
            let width = states
                .iter()
                .map(|s| s.asset.as_str().len())
                .max()
                .unwrap_or(0);
            for s in &states {
                let made = s.last_materialization.as_ref().map_or_else(
                    || "never materialized".to_owned(),
                    |m| {
                        format!(
                            "{} rows at {}{} (run {})",
                            m.row_count,
                            crate::model::time::text(&m.created_at),
                            m.partition
                                .as_deref()
                                .map(|p| format!(" [{p}]"))
                                .unwrap_or_default(),
                            m.run_id
                        )
                    },
                );
                let checks = if s.checks.total() == 0 {
                    String::new()
                } else {
                    format!("  checks {}", s.checks.text())
                };
                println!(
                    "{:<width$}  {:<16} {made}{checks}",
                    s.asset.as_str(),
                    s.status.label()
                );
                if let Some(reason) = s.status.reason() {
                    println!("{:<width$}  {reason}", "");
                }
                if let Some(f) = &s.freshness {
                    println!(
                        "{:<width$}  freshness {}: {}",
                        "",
                        f.state.as_str(),
                        f.reason
                    );
                }
                if let Some(d) = &s.drift {
                    println!(
                        "{:<width$}  {}: {}",
                        "",
                        if d.error {
                            "schema drift (error)"
                        } else {
                            "schema drift"
                        },
                        d.summary()
                    );
                }
            }
        }
    }
    Ok(EXIT_OK)
}

/// `medallion report`: a run's report as a self-contained HTML file, JSON, or both; as text
/// on standard output when neither is asked for.
pub fn report(
    workspace: &Path,
    run_id: &RunId,
    html: Option<&Path>,
    json: Option<&Path>,
) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    let report = app::report::build(&ws, run_id)?;
    if html.is_none() && json.is_none() {
        print!("{}", app::redact(&app::report::to_text(&report)));
        return Ok(EXIT_OK);
    }
    if let Some(path) = html {
        std::fs::write(path, app::report::to_html(&report))
            .map_err(|e| anyhow::anyhow!("{}", crate::model::clip::write_failure(path, &e)))?;
        app::report::record_export(&mut ws, &report, path, "html")?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")
            .map_err(|e| anyhow::anyhow!("{}", crate::model::clip::write_failure(path, &e)))?;
        app::report::record_export(&mut ws, &report, path, "json")?;
        println!("wrote {}", path.display());
    }
    Ok(EXIT_OK)
}
