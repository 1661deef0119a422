//! `medallion freshness` (each asset against its freshness policy) and `medallion alerts`
//! (the delivery log, a test message to a target).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Subcommand;

use super::target::resolve_target;
use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, OutputFormat, print_json};
use crate::app;
use crate::model::FreshnessState;

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Each asset with a freshness policy: fresh, stale, overdue or unknown, and why, from its
    /// last materialization (exit code 1 when an asset is overdue)
    Freshness {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        /// Judge at this moment instead of now (RFC 3339, e.g. 2026-01-02T06:00:00Z)
        #[arg(long, value_name = "RFC3339", value_parser = parse_now)]
        now: Option<DateTime<Utc>>,
        /// Also raise `freshness_overdue` for each overdue asset not alerted yet in this overdue
        /// episode (what the daemon does on each pass)
        #[arg(long)]
        alert: bool,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Alert deliveries: the log of every attempt, and a test message to a target
    Alerts {
        #[command(subcommand)]
        action: AlertsAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsAction {
    /// Every delivery attempt, newest first: when, which alert, which target, what it answered
    Log {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Send a test message to an alert target and say what it answered (exit code 1 when it
    /// could not be delivered)
    Test {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        /// The target's name (`[alert_targets.NAME]`)
        name: String,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
}

/// A `--now` that is not an RFC 3339 time (`detail`: what chrono found wrong).
#[derive(Debug, thiserror::Error)]
#[error("`{value}` is not an RFC 3339 time such as 2026-01-02T06:00:00Z ({detail})")]
struct NotATime {
    value: String,
    detail: chrono::ParseError,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, NotATime> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|detail| NotATime {
            value: s.to_owned(),
            detail,
        })
}

pub fn run(workspace: Option<PathBuf>, command: AlertsCommand) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(&app::workspace_path(workspace)?)?;
    match command {
        AlertsCommand::Freshness {
            project,
            now,
            alert,
            format,
        } => {
            let stored = match resolve_target(&mut ws, &project)? {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let now = now.unwrap_or_else(Utc::now);
            if !alert {
                let assets = app::freshness::evaluate(&ws, &stored.project, now)?;
                return freshness(&stored.project.name, &assets, &[], format);
            }
            let pass = app::freshness::evaluate_and_alert(&mut ws, &stored.project, now)?;
            freshness(&stored.project.name, &pass.assets, &pass.deliveries, format)
        }
        AlertsCommand::Alerts { action } => match action {
            AlertsAction::Log {
                project,
                limit,
                format,
            } => {
                let stored = match resolve_target(&mut ws, &project)? {
                    Ok(s) => s,
                    Err(code) => return Ok(code),
                };
                let log = app::alerts::log(&ws, &stored.project.name, limit)?;
                print_log(&stored.project.name, &log, format)
            }
            AlertsAction::Test {
                project,
                name,
                format,
            } => {
                let stored = match resolve_target(&mut ws, &project)? {
                    Ok(s) => s,
                    Err(code) => return Ok(code),
                };
                let d = match app::alerts::test_target(&mut ws, &stored.project, &name, Utc::now())
                {
                    Ok(d) => d,
                    Err(e) if e.is_usage() => {
                        eprintln!("error: {e}");
                        return Ok(EXIT_BAD_INPUT);
                    }
                    Err(e) => return Err(e.into()),
                };
                match format {
                    OutputFormat::Json => print_json(&d)?,
                    OutputFormat::Text if d.delivered => println!(
                        "test message delivered to `{}` ({}); it answered {}",
                        d.target, d.target_kind, d.answer
                    ),
                    OutputFormat::Text => eprintln!(
                        "error: test message to `{}` ({}) failed after {} attempt(s): {}",
                        d.target, d.target_kind, d.attempts, d.answer
                    ),
                }
                Ok(if d.delivered { EXIT_OK } else { EXIT_FAILED })
            }
        },
    }
}

fn freshness(
    project: &str,
    assets: &[app::freshness::AssetFreshness],
    deliveries: &[app::alerts::Delivery],
    format: OutputFormat,
) -> anyhow::Result<u8> {
    match format {
        OutputFormat::Json if deliveries.is_empty() => print_json(&assets)?,
        OutputFormat::Json => print_json(&serde_json::json!({
            "assets": assets,
            "alerts": deliveries,
        }))?,
        OutputFormat::Text => {
            if assets.is_empty() {
                println!(
                    "no asset of project `{project}` has a freshness policy (add [assets.NAME.freshness] with max_lag_minutes)"
                );
            }
            for a in assets {
                println!(
                    "{:<8} {:<32} {}",
                    a.state.as_str(),
                    a.asset.as_str(),
                    a.reason
                );
            }
            for d in deliveries {
                if d.delivered {
                    println!("{}", d.describe());
                } else {
                    eprintln!("warning: {}", d.describe());
                }
            }
        }
    }
    Ok(
        if assets.iter().any(|a| a.state == FreshnessState::Overdue) {
            EXIT_FAILED
        } else {
            EXIT_OK
        },
    )
}

fn print_log(
    project: &str,
    log: &[crate::app::AttemptRecord],
    format: OutputFormat,
) -> anyhow::Result<u8> {
    if format == OutputFormat::Json {
        print_json(&log)?;
        return Ok(EXIT_OK);
    }
    if log.is_empty() {
        println!("no alert of project `{project}` has been sent yet");
        return Ok(EXIT_OK);
    }
    for a in log {
        let verdict = if a.ok {
            "delivered"
        } else if a.last {
            "FAILED"
        } else {
            "retrying"
        };
        println!(
            "{}  {:<17} {:<10} #{} {:<9} to {} ({}): {}",
            crate::model::time::text(&a.attempted_at),
            a.event,
            a.subject,
            a.attempt,
            verdict,
            a.target,
            a.target_kind,
            a.answer
        );
    }
    let failures = log.iter().filter(|a| a.is_final_failure()).count();
    if failures > 0 {
        println!(
            "{failures} delivery(ies) failed for good; the alerts they carried were not received"
        );
    }
    Ok(EXIT_OK)
}
