//! `daemon`, `ticks` and `automation`: schedules and sensors from the command line — the
//! headless daemon (one pass with `--once`, or passes until Ctrl-C or SIGTERM, finishing the
//! pass under way), the tick history with reasons, and the on/off switches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, OutputFormat, print_json};
use crate::app::automation::{self, PassOptions, PassReport};
use crate::app::{self, Workspace};
use crate::model::{RunStatus, TickOutcome, time};

/// `medallion daemon`, as given on the command line.
#[derive(Debug, clap::Args)]
pub struct DaemonCommand {
    /// Stored projects to evaluate (default: every project in the workspace)
    pub projects: Vec<String>,
    /// One pass, then exit (for cron)
    #[arg(long)]
    pub once: bool,
    /// The clock of that one pass, RFC 3339 (e.g. 2026-03-29T06:00:00+02:00); needs --once
    #[arg(long, value_name = "RFC3339", requires = "once")]
    pub now: Option<String>,
    /// Seconds between passes
    #[arg(long, default_value_t = automation::DEFAULT_INTERVAL_SECS,
          value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..))]
    pub interval: u64,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// `medallion automation PROJECT [--on NAME] [--off NAME]`.
#[derive(Debug, clap::Args)]
pub struct AutomationCommand {
    /// A stored project's name
    pub project: String,
    /// Turn this schedule or sensor on in the workspace
    #[arg(long, value_name = "NAME")]
    pub on: Option<String>,
    /// Turn this schedule or sensor off in the workspace
    #[arg(long, value_name = "NAME", conflicts_with = "on")]
    pub off: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// A `--now` that is not an RFC 3339 time.
#[derive(Debug, thiserror::Error)]
#[error("--now `{0}` is not an RFC 3339 time (e.g. 2026-03-29T06:00:00+02:00)")]
struct NotATime(String);

fn parse_now(now: Option<&str>) -> Result<Option<DateTime<Utc>>, NotATime> {
    now.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| NotATime(s.to_owned()))
    })
    .transpose()
}

pub fn daemon(workspace: &std::path::Path, cmd: &DaemonCommand) -> anyhow::Result<u8> {
    let fixed_now = match parse_now(cmd.now.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    let mut ws = app::open_workspace(workspace)?;
    for p in &cmd.projects {
        if !ws.project_exists(p)? {
            eprintln!(
                "error: no project named `{p}` in the workspace ({})",
                ws.path().display()
            );
            return Ok(EXIT_BAD_INPUT);
        }
    }
    let holder = automation::holder_id("daemon");
    if cmd.once {
        let reports = pass(
            &mut ws,
            &cmd.projects,
            fixed_now.unwrap_or_else(Utc::now),
            &holder,
        )?;
        let code = exit_code(&ws, &reports);
        print_reports(&reports, cmd.format)?;
        release_all(&mut ws, &reports, &holder);
        return Ok(code);
    }
    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(&stop)?;
    eprintln!(
        "medallion daemon: evaluating {} every {} s as {holder}; Ctrl-C or SIGTERM stops after the pass under way",
        if cmd.projects.is_empty() {
            "every project".to_owned()
        } else {
            cmd.projects.join(", ")
        },
        cmd.interval
    );
    let mut last: Vec<PassReport> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        match pass(&mut ws, &cmd.projects, Utc::now(), &holder) {
            Ok(reports) => {
                print_reports(&reports, cmd.format)?;
                last = reports;
            }
            Err(e) => eprintln!("error: this pass failed: {}", super::error_sentence(&e)),
        }
        let wait = Duration::from_secs(cmd.interval).saturating_sub(started.elapsed());
        let until = Instant::now() + wait;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    release_all(&mut ws, &last, &holder);
    eprintln!("medallion daemon: stopped");
    Ok(EXIT_OK)
}

/// One pass over the projects (every stored one when none is named): remote runs move on,
/// then each project's automation.
fn pass(
    ws: &mut Workspace,
    projects: &[String],
    now: DateTime<Utc>,
    holder: &str,
) -> anyhow::Result<Vec<PassReport>> {
    super::remote::reconcile_quietly(ws);
    let names: Vec<String> = if projects.is_empty() {
        app::list_projects(ws)?
            .into_iter()
            .map(|p| p.name)
            .collect()
    } else {
        projects.to_vec()
    };
    let opts = PassOptions {
        now,
        holder: holder.to_owned(),
        only: None,
    };
    let mut out = Vec::new();
    for name in names {
        match automation::evaluate_project(ws, &name, &opts) {
            Ok(report) => out.push(report),
            Err(e) => eprintln!("error: project `{name}`: {e}"),
        }
    }
    Ok(out)
}

fn release_all(ws: &mut Workspace, reports: &[PassReport], holder: &str) {
    for r in reports.iter().filter(|r| r.evaluated) {
        if let Err(e) = automation::release(ws, &r.project, holder) {
            eprintln!(
                "warning: cannot give back the lease of `{}`: {e}",
                r.project
            );
        }
    }
}

/// 1 when a tick failed, a run it requested failed, or something else went wrong (freshness,
/// an alert that could not be delivered), else 0.
fn exit_code(ws: &Workspace, reports: &[PassReport]) -> u8 {
    let ticks = reports.iter().flat_map(|r| &r.ticks);
    let bad = reports.iter().any(|r| !r.problems.is_empty())
        || ticks.clone().any(|t| t.outcome == TickOutcome::Failed)
        || ticks
            .filter(|t| t.outcome == TickOutcome::Requested)
            .filter_map(|t| t.run_id.as_deref())
            .any(|id| {
                ws.run(&crate::model::RunId::new(id))
                    .is_ok_and(|r| r.status == RunStatus::Failure)
            });
    if bad { EXIT_FAILED } else { EXIT_OK }
}

fn print_reports(reports: &[PassReport], format: OutputFormat) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        return print_json(&reports);
    }
    for r in reports {
        if !r.evaluated {
            println!(
                "{}: not evaluated; the automation lease is held by {}",
                r.project,
                r.lease_holder.as_deref().unwrap_or("another process")
            );
            continue;
        }
        for t in &r.ticks {
            let at = time::secs_text(&t.tick_at);
            println!("{at} {}/{}: {}", r.project, t.automation, t.reason);
        }
        if let Some(s) = r.synced.as_ref().filter(|s| !s.imported.is_empty()) {
            println!("{}: {}", r.project, s.headline());
        }
        for a in r.alerts.iter().filter(|a| a.delivered) {
            println!("{}: {}", r.project, a.describe());
        }
        for p in &r.problems {
            println!("{}: {p}", r.project);
        }
    }
    Ok(())
}

/// Sets `stop` on Ctrl-C or SIGTERM (the pass under way finishes first). The watcher is a
/// task of the process's runtime.
fn watch_signals(stop: &Arc<AtomicBool>) -> anyhow::Result<()> {
    let runtime = app::runtime::handle()?;
    let stop = Arc::clone(stop);
    // Register before returning, so a signal that comes at once is caught.
    let mut term = {
        let _entered = runtime.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?
    };
    drop(runtime.spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("medallion daemon: stopping after the pass under way");
        stop.store(true, Ordering::Relaxed);
    }));
    Ok(())
}

/// `medallion ticks`, as given on the command line.
#[derive(Debug, clap::Args)]
pub struct TicksArgs {
    /// A stored project's name
    project: String,
    /// Only this schedule or sensor
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: usize,
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

pub fn ticks(workspace: &std::path::Path, args: &TicksArgs) -> anyhow::Result<u8> {
    let (limit, name, format) = (args.limit, args.name.as_deref(), args.format);
    let ws = app::open_workspace(workspace)?;
    let project = app::project_name_of(&ws, &args.project)?;
    let stored = app::load_project(&ws, &project)?;
    let statuses = automation::statuses(&ws, &stored, Utc::now())?;
    let ticks = ws.ticks(&project, name, limit)?;
    let lease = ws.automation_lease(&project)?;
    if format == OutputFormat::Json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            project: &'a str,
            lease: Option<automation::Lease>,
            automations: Vec<automation::AutomationStatus>,
            ticks: Vec<crate::model::Tick>,
        }
        print_json(&Out {
            project: &project,
            lease,
            automations: statuses,
            ticks,
        })?;
        return Ok(EXIT_OK);
    }
    print_statuses(&statuses);
    if ticks.is_empty() {
        println!("\nno ticks yet; `medallion daemon --once {project}` evaluates once");
    } else {
        println!("\n{:<21} {:<10} {:<20} REASON", "TICK", "OUTCOME", "NAME");
        for t in &ticks {
            println!(
                "{:<21} {:<10} {:<20} {}",
                time::secs_text(&t.tick_at),
                t.outcome.as_str(),
                t.automation,
                t.reason
            );
        }
    }
    Ok(EXIT_OK)
}

fn print_statuses(statuses: &[automation::AutomationStatus]) {
    if statuses.is_empty() {
        println!(
            "no schedules or sensors; add [schedules.NAME] or [sensors.NAME] to medallion.toml"
        );
        return;
    }
    for s in statuses {
        println!(
            "{} {} `{}` — {}; selection {}; {}; {}; next {}",
            s.kind.as_str(),
            s.name,
            if s.enabled { "on" } else { "off" },
            s.description,
            s.selection,
            s.target,
            if s.switched {
                "switched in this workspace"
            } else {
                "as defined"
            },
            match (s.enabled, s.next_tick) {
                (false, _) => "never (off)".to_owned(),
                (true, Some(t)) => match (s.own_zone(), s.next_tick_local()) {
                    (Some(_), Some(local)) => format!("{} ({local})", time::secs_text(&t)),
                    _ => time::secs_text(&t),
                },
                (true, None) => "unknown".to_owned(),
            }
        );
    }
}

pub fn switch(workspace: &std::path::Path, cmd: &AutomationCommand) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    let project = app::project_name_of(&ws, &cmd.project)?;
    let stored = app::load_project(&ws, &project)?;
    let change = match (&cmd.on, &cmd.off) {
        (Some(n), _) => Some((n, true)),
        (_, Some(n)) => Some((n, false)),
        _ => None,
    };
    if let Some((name, on)) = change {
        match automation::set_enabled(&mut ws, &stored, name, on) {
            Ok(()) => eprintln!(
                "{name} is {} in this workspace",
                if on { "on" } else { "off" }
            ),
            Err(e) if e.is_usage() => {
                eprintln!("error: {e}");
                return Ok(EXIT_BAD_INPUT);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let statuses = automation::statuses(&ws, &stored, Utc::now())?;
    if cmd.format == OutputFormat::Json {
        print_json(&statuses)?;
    } else {
        print_statuses(&statuses);
    }
    Ok(EXIT_OK)
}
