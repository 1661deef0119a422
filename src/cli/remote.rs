//! Remote runs from the command line: `submit`, `logs`, `cancel`, `attach`, and `runner` (what
//! the container runs). Every command but `runner` first reconciles unfinished remote runs, so
//! a run left behind by a killed process moves on as soon as any command starts.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Subcommand;

use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, OutputFormat, print_json};
use crate::app::{self, remote::SubmitRequest};
use crate::model::RunId;
use crate::model::{ComputeTier, RunEvent, RunStatus};

#[derive(Debug, Subcommand)]
pub enum RemoteCommand {
    /// Run assets on AWS (Fargate, Batch, Lambda, EKS), each step on its tier, and follow it
    Submit {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        #[arg(long, default_value = "*")]
        select: String,
        /// A partition (repeat for several; several make a backfill)
        #[arg(long, value_name = "KEY")]
        partition: Vec<String>,
        /// Backfill partitions FROM..TO (inclusive)
        #[arg(long, value_name = "FROM..TO")]
        partition_range: Option<String>,
        /// Run every step on this tier (local, fargate, batch, lambda, eks) instead of the hints
        #[arg(long, value_name = "TIER")]
        tier: Option<String>,
        /// The aws resource to use (default: the first with a compute section)
        #[arg(long, value_name = "RESOURCE")]
        aws: Option<String>,
        #[arg(long)]
        force: bool,
        /// Return once the first remote step is submitted; `attach` follows it later
        #[arg(long)]
        detach: bool,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Print a run's log (events, check results, remote output)
    Logs {
        run_id: RunId,
        /// Keep printing until the run ends
        #[arg(long)]
        follow: bool,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Stop a remote run: its running steps are stopped on AWS
    Cancel {
        run_id: RunId,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Follow a remote run to its end (after a detached submit, or a crash)
    Attach {
        run_id: RunId,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Check that the AWS resources remote runs need exist; says precisely what is missing
    CheckAws {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        /// The aws resource to check (default: the first with a compute section)
        #[arg(long, value_name = "RESOURCE")]
        aws: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Run a step plan (inside a container; without --plan inside Lambda, it serves the Runtime API)
    Runner {
        /// The plan: s3://… or a local file
        #[arg(long, env = "MEDALLION_PLAN_URI", value_name = "URI")]
        plan: Option<String>,
    },
}

/// A `--tier` value that names no tier a run can be sent to.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a tier (local, lambda, fargate, batch, eks)")]
struct NotATier(String);

fn parse_tier(s: &str) -> Result<ComputeTier, NotATier> {
    ComputeTier::ALL
        .into_iter()
        .find(|t| t.as_str() == s && *t != ComputeTier::Auto)
        .ok_or_else(|| NotATier(s.to_owned()))
}

/// Reconciles unfinished remote runs; problems are warnings, never a reason to stop.
pub fn reconcile_quietly(ws: &mut app::Workspace) {
    match app::remote::reconcile(ws) {
        Ok(visited) => {
            for (run, error) in visited {
                if let Some(e) = error {
                    eprintln!("warning: run {run} could not be reconciled: {e}");
                }
            }
        }
        Err(e) => eprintln!("warning: cannot reconcile remote runs: {e:#}"),
    }
}

fn progress(format: OutputFormat) -> impl FnMut(&RunId, &RunEvent) {
    move |run: &RunId, e: &RunEvent| {
        if format == OutputFormat::Text {
            let line = format!("[{run}] {}", app::redact(&e.summary()));
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{line}");
        }
    }
}

fn finish(ws: &app::Workspace, run_id: &RunId, format: OutputFormat) -> anyhow::Result<u8> {
    let view = app::remote::view(ws, run_id)?
        .ok_or_else(|| anyhow::anyhow!("run {run_id} is not a remote run"))?;
    let events = ws_events(ws, run_id)?;
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "run_id": view.run.id,
            "status": view.run.status,
            "target": view.run.target,
            "error": view.run.error,
            "steps": view.steps,
            "checks": events.iter().filter_map(|e| match e { RunEvent::CheckEvaluation(c) => Some(c), _ => None }).collect::<Vec<_>>(),
            "materializations": events.iter().filter_map(|e| match e { RunEvent::Materialization(m) => Some(m), _ => None }).collect::<Vec<_>>(),
        }))?,
        OutputFormat::Text => {
            println!("run {} {}", view.run.id, view.run.status);
            for s in &view.steps {
                println!(
                    "  {:<14} {:<8} {:<9} {} vCPU {} MiB{}  {}{}",
                    s.step_id,
                    s.tier,
                    s.status.as_str(),
                    s.vcpu,
                    s.memory_mb,
                    if s.spot { " spot" } else { "" },
                    s.remote_id.as_deref().unwrap_or("-"),
                    s.duration_secs
                        .map(|d| format!("  {d:.1} s"))
                        .unwrap_or_default()
                );
                if let Some(e) = &s.error {
                    println!("      {}", app::redact(e));
                }
            }
        }
    }
    Ok(match view.run.status {
        RunStatus::Success => EXIT_OK,
        s if s.is_finished() => EXIT_FAILED,
        _ => EXIT_OK,
    })
}

fn ws_events(ws: &app::Workspace, run_id: &RunId) -> anyhow::Result<Vec<RunEvent>> {
    Ok(app::remote::events(ws, run_id)?)
}

pub fn run(workspace: Option<PathBuf>, command: RemoteCommand) -> anyhow::Result<u8> {
    // The runner needs no workspace (it runs in a container).
    if let RemoteCommand::Runner { plan } = command {
        return Ok(runner(plan.as_deref()));
    }
    let mut ws = app::open_workspace(&app::workspace_path(workspace)?)?;
    reconcile_quietly(&mut ws);
    match command {
        RemoteCommand::Submit {
            project,
            select,
            partition,
            partition_range,
            tier,
            aws,
            force,
            detach,
            format,
        } => submit(
            &mut ws,
            &project,
            SubmitArgs {
                select,
                partition,
                partition_range,
                tier,
                aws,
                force,
                detach,
            },
            format,
        ),
        RemoteCommand::Attach { run_id, format } => {
            app::remote::attach(&mut ws, &run_id, &mut progress(format))?;
            finish(&ws, &run_id, format)
        }
        RemoteCommand::Cancel { run_id, format } => cancel(&mut ws, &run_id, format),
        RemoteCommand::Logs {
            run_id,
            follow,
            format,
        } => logs(&mut ws, &run_id, follow, format),
        RemoteCommand::CheckAws {
            project,
            aws,
            format,
        } => check_aws(&mut ws, &project, aws.as_deref(), format),
        RemoteCommand::Runner { .. } => Ok(EXIT_BAD_INPUT),
    }
}

/// The options of `medallion remote submit`, as given.
struct SubmitArgs {
    select: String,
    partition: Vec<String>,
    partition_range: Option<String>,
    tier: Option<String>,
    aws: Option<String>,
    force: bool,
    detach: bool,
}

/// `medallion remote submit`: starts a remote run and follows it unless `--detach`.
fn submit(
    ws: &mut app::Workspace,
    project: &str,
    args: SubmitArgs,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let stored = match super::target::resolve_target(ws, project)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let tier = match args.tier.as_deref().map(parse_tier).transpose() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    let mut partitions = args.partition;
    if let Some(range) = args.partition_range {
        let Some((from, to)) = range.split_once("..") else {
            eprintln!("error: --partition-range takes FROM..TO");
            return Ok(EXIT_BAD_INPUT);
        };
        let selected = app::run::resolve_selection(&stored.project, &args.select)?;
        partitions.extend(app::run::partition_range(
            &stored.project,
            &selected,
            from,
            to,
        )?);
    }
    let request = SubmitRequest {
        selection: args.select,
        partitions,
        force: args.force,
        tier,
        overrides: std::collections::BTreeMap::new(),
        aws_resource: args.aws,
        trigger: "cli".to_owned(),
    };
    let run_id =
        match app::remote::submit(ws, &stored, &request, args.detach, &mut progress(format)) {
            Ok(id) => id,
            Err(e) if e.is_usage() => {
                eprintln!("error: {}", app::redact(&e.to_string()));
                return Ok(EXIT_BAD_INPUT);
            }
            Err(e) => return Err(e.into()),
        };
    if args.detach && format == OutputFormat::Text {
        println!("submitted run {run_id}; follow it with `medallion attach {run_id}`");
    }
    finish(ws, &run_id, format)
}

/// `medallion remote cancel`: stops a run's remote work and says what stopped.
fn cancel(ws: &mut app::Workspace, run_id: &RunId, format: OutputFormat) -> anyhow::Result<u8> {
    let stopped = app::remote::cancel(ws, run_id)?;
    let run = app::remote::run_record(ws, run_id)?;
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "run_id": run_id, "status": run.status, "stopped": stopped,
        }))?,
        OutputFormat::Text => {
            for s in &stopped {
                println!("stopped {s}");
            }
            println!("run {run_id} {}", run.status);
        }
    }
    Ok(EXIT_OK)
}

/// `medallion remote check-aws`: what the AWS account has and lacks; exit 1 when something is
/// missing.
fn check_aws(
    ws: &mut app::Workspace,
    project: &str,
    aws: Option<&str>,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let stored = match super::target::resolve_target(ws, project)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let checks = match app::remote::check_setup(&stored.project, aws) {
        Ok(c) => c,
        Err(e) if e.is_usage() => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
        Err(e) => return Err(e.into()),
    };
    let missing = checks
        .iter()
        .filter(|c| c.state == app::remote::CheckState::Missing)
        .count();
    match format {
        OutputFormat::Json => print_json(&checks)?,
        OutputFormat::Text => {
            for c in &checks {
                let mark = match c.state {
                    app::remote::CheckState::Ok => "ok",
                    app::remote::CheckState::Missing => "MISSING",
                    app::remote::CheckState::Skipped => "-",
                };
                println!("{mark:<8} {:<16} {}", c.item, c.detail);
            }
            if missing > 0 {
                println!("{missing} thing(s) missing");
            }
        }
    }
    Ok(if missing == 0 { EXIT_OK } else { EXIT_FAILED })
}

fn logs(
    ws: &mut app::Workspace,
    run_id: &RunId,
    follow: bool,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    // Only events numbered above the last one printed are read on each pass. The status is
    // read before the events: when it says finished, the events read after it include the last.
    let mut last: Option<i64> = None;
    loop {
        let run = app::remote::run_record(ws, run_id)?;
        let events = app::remote::events_after(ws, run_id, last)?;
        let mut out = std::io::stdout().lock();
        for (seq, e) in &events {
            last = Some(*seq);
            match format {
                OutputFormat::Json => {
                    super::check_stdout(writeln!(out, "{}", serde_json::to_string(e)?));
                }
                OutputFormat::Text => {
                    let level = match e {
                        RunEvent::Log { level, .. } => level.as_str(),
                        _ => e.kind(),
                    };
                    let line = app::redact(&e.summary());
                    super::check_stdout(writeln!(out, "{level:<16} {line}"));
                }
            }
        }
        super::check_stdout(out.flush());
        drop(out);
        if !follow || run.status.is_finished() {
            return Ok(match run.status {
                RunStatus::Failure | RunStatus::Canceled => EXIT_FAILED,
                _ => EXIT_OK,
            });
        }
        // As often as a driver polls (each pass may drive the run: logs, results, status).
        std::thread::sleep(app::remote::poll_interval());
        reconcile_quietly(ws);
    }
}

/// `medallion runner`: exit 0 when the step succeeded, 1 when it failed, 2 when the plan could
/// not be read.
fn runner(plan: Option<&str>) -> u8 {
    let mut out = std::io::stdout().lock();
    let Some(plan) = plan else {
        if let Some(api) = app::remote::lambda_runtime_api() {
            // Inside Lambda: the plans arrive as invocations.
            return match app::remote::serve_lambda(&api, &mut out) {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("error: {e}");
                    EXIT_FAILED
                }
            };
        }
        eprintln!("error: give --plan URI or set MEDALLION_PLAN_URI (or run inside Lambda)");
        return EXIT_BAD_INPUT;
    };
    match app::remote::run_runner(plan, &mut out) {
        Ok(RunStatus::Success) => EXIT_OK,
        Ok(_) => EXIT_FAILED,
        Err(e) => {
            // Once: in a container or Lambda (stdout is the platform's log, with stderr) as a
            // plain line among the protocol's; at a terminal as the usual error line.
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                eprintln!("error: {e}");
            } else {
                let _ = writeln!(out, "medallion runner: {e}");
            }
            EXIT_BAD_INPUT
        }
    }
}
