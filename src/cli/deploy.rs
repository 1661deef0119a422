//! `medallion deploy` and `undeploy`: the plan printed like Terraform's (`+` create, `~` update,
//! `-` delete), applied unless `--dry-run`; `medallion sync`: the deployed project's executions
//! imported into run history.

use std::fmt::Write as _;
use std::path::Path;

use super::target::resolve_target;
use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, OutputFormat, print_json};
use crate::app::deploy::{DeployAction, DeployOutcome, DeployPlan};
use crate::app::{self, AppError};

/// `medallion deploy PROJECT [--aws RESOURCE] [--dry-run] [--format json]`
#[derive(Debug, clap::Args)]
pub struct DeployCommand {
    /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
    project: String,
    /// The `aws` resource to deploy with (default: the first with a compute section)
    #[arg(long = "aws", value_name = "RESOURCE")]
    aws: Option<String>,
    /// Print the plan only; change nothing
    #[arg(long)]
    dry_run: bool,
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

/// `medallion undeploy PROJECT [--aws RESOURCE] [--dry-run] [--format json]`
#[derive(Debug, clap::Args)]
pub struct UndeployCommand {
    /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
    project: String,
    /// The `aws` resource the project was deployed with
    #[arg(long = "aws", value_name = "RESOURCE")]
    aws: Option<String>,
    /// Print what would be deleted; change nothing
    #[arg(long)]
    dry_run: bool,
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

/// `medallion sync PROJECT [--aws RESOURCE] [--format json]`
#[derive(Debug, clap::Args)]
pub struct SyncCommand {
    /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
    project: String,
    /// The `aws` resource the project was deployed with
    #[arg(long = "aws", value_name = "RESOURCE")]
    aws: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

pub fn sync(workspace: &Path, c: &SyncCommand) -> anyhow::Result<u8> {
    let ws = &mut app::open_workspace(workspace)?;
    let stored = match resolve_target(ws, &c.project)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let outcome = match app::remote::sync_project(ws, &stored, c.aws.as_deref()) {
        Ok(o) => o,
        Err(e) => return Ok(failed(e, "sync")),
    };
    match c.format {
        OutputFormat::Json => print_json(&outcome)?,
        OutputFormat::Text => {
            let mut out = format!("{}.\n", capitalized(&outcome.headline()));
            for r in &outcome.imported {
                let _ = writeln!(
                    out,
                    "  {} {} ({}){}",
                    r.run_id,
                    r.status,
                    r.trigger,
                    r.error
                        .as_deref()
                        .map_or_else(String::new, |e| format!(": {e}"))
                );
            }
            for r in &outcome.running {
                let _ = writeln!(out, "  {r} still running on AWS: imported once it ends");
            }
            print!("{out}");
        }
    }
    Ok(EXIT_OK)
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

pub fn deploy(workspace: &Path, c: &DeployCommand) -> anyhow::Result<u8> {
    let ws = &mut app::open_workspace(workspace)?;
    let stored = match resolve_target(ws, &c.project)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let outcome = app::deploy::deploy(ws, &stored, c.aws.as_deref(), c.dry_run);
    finish(outcome, c.format, "deploy")
}

pub fn undeploy(workspace: &Path, c: &UndeployCommand) -> anyhow::Result<u8> {
    let ws = &mut app::open_workspace(workspace)?;
    let stored = match resolve_target(ws, &c.project)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let outcome = app::deploy::undeploy(ws, &stored, c.aws.as_deref(), c.dry_run);
    finish(outcome, c.format, "undeploy")
}

/// Says why `what` failed, in one sentence; exit 1 when AWS refused or failed, 2 for bad input.
fn failed(e: AppError, what: &str) -> u8 {
    let code = if app::deploy::is_remote_failure(&e) {
        EXIT_FAILED
    } else {
        EXIT_BAD_INPUT
    };
    eprintln!(
        "error: {what} failed: {}",
        super::error_sentence(&anyhow::Error::new(e))
    );
    code
}

fn finish(
    outcome: Result<DeployOutcome, AppError>,
    format: OutputFormat,
    what: &str,
) -> anyhow::Result<u8> {
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => return Ok(failed(e, what)),
    };
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "project": outcome.plan.project,
            "applied": outcome.applied,
            "state_machine_arn": outcome.state_machine_arn,
            "plan": outcome.plan,
        }))?,
        OutputFormat::Text => print!("{}", describe(&outcome)),
    }
    Ok(EXIT_OK)
}

/// The plan as text: one line per resource, its differences, the roles and notes, a summary.
fn describe(o: &DeployOutcome) -> String {
    let p: &DeployPlan = &o.plan;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Project {} on AWS (resource {}, region {})",
        p.project,
        p.resource,
        if p.region.is_empty() {
            "default"
        } else {
            &p.region
        }
    );
    for s in &p.steps {
        let _ = writeln!(
            out,
            "  step {} on {}: {}",
            s.id,
            s.tier,
            s.assets.join(", ")
        );
    }
    let _ = writeln!(out);
    for c in &p.changes {
        let verb = match c.action {
            DeployAction::Create => "create",
            DeployAction::Update => "update",
            DeployAction::Delete => "delete",
            DeployAction::Unchanged => "unchanged",
        };
        let _ = writeln!(
            out,
            "{} {} {} ({verb}): {}",
            c.action.sign(),
            c.kind.label(),
            c.name,
            c.summary
        );
        if let Some(arn) = &c.arn {
            let _ = writeln!(out, "      arn: {arn}");
        }
        if let Some(at) = c.next_fire_text() {
            let _ = writeln!(out, "      next fire (as deployed): {at}");
        }
        for d in &c.differences {
            let _ = writeln!(out, "      {d}");
        }
    }
    if !p.roles.is_empty() {
        let _ = writeln!(out, "\nIAM roles needed:");
        for r in &p.roles {
            let _ = writeln!(
                out,
                "  {} (compute.{}): {} — needs {}",
                r.role,
                r.setting,
                r.arn.as_deref().unwrap_or("NOT SET"),
                r.needs
            );
        }
    }
    for n in &p.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let (create, update, delete, unchanged) = p.counts();
    let _ = writeln!(
        out,
        "\nPlan: {create} to create, {update} to update, {delete} to delete, {unchanged} unchanged.{}",
        if o.applied {
            " Applied."
        } else {
            " Dry run: nothing was changed."
        }
    );
    out
}
