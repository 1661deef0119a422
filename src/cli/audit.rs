//! `medallion audit PROJECT` (the audit log's entries, newest first) and `medallion audit
//! verify [PROJECT]` (the hash chain walked; exit 1 naming the first broken entry).

use std::path::Path;

use clap::{Args, Subcommand};

use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, OutputFormat, print_json};
use crate::app;
use crate::model::audit::parse_since;
use crate::model::{AuditAction, AuditEntry, AuditVerdict};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct AuditCommand {
    #[command(subcommand)]
    action: Option<AuditSubcommand>,
    /// A project's name (entries outlive the project), or a project directory as a path; the
    /// machine's own entries (keyring secrets, which belong to no project) are listed too
    #[arg(required = true)]
    project: Option<String>,
    /// Only entries from this date (2026-12-01), time (RFC 3339) or this long ago (30m, 12h,
    /// 7d, 2w) on
    #[arg(long, value_name = "DATE|DURATION")]
    since: Option<String>,
    /// Only entries of this kind (`run_started`, `run_finished`, `secret_set`, …)
    #[arg(long, value_name = "KIND")]
    kind: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

#[derive(Debug, Subcommand)]
enum AuditSubcommand {
    /// Walk the hash chain: exit 0 with the count when every entry is as written, exit 1
    /// naming the first entry edited, deleted or moved
    Verify {
        /// Count only this project's entries (the chain itself is one for the workspace)
        project: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
}

pub fn run(workspace: &Path, command: &AuditCommand) -> anyhow::Result<u8> {
    let ws = app::open_workspace(workspace)?;
    if let Some(AuditSubcommand::Verify { project, format }) = &command.action {
        let project = project
            .as_deref()
            .map(|p| app::project_name_of(&ws, p))
            .transpose()?;
        let verdict = app::audit::verify(&ws, project.as_deref())?;
        match format {
            OutputFormat::Json => print_json(&verdict)?,
            OutputFormat::Text if matches!(verdict, AuditVerdict::Intact { .. }) => {
                println!("{}", verdict.sentence());
            }
            OutputFormat::Text => eprintln!("error: {}", verdict.sentence()),
        }
        return Ok(match verdict {
            AuditVerdict::Intact { .. } => EXIT_OK,
            AuditVerdict::Broken { .. } => EXIT_FAILED,
        });
    }
    let Some(target) = command.project.as_deref() else {
        eprintln!("error: name a project: `medallion audit PROJECT` or `medallion audit verify`");
        return Ok(EXIT_BAD_INPUT);
    };
    let project = app::project_name_of(&ws, target)?;
    let since = match command.since.as_deref() {
        Some(s) => match parse_since(s, chrono::Utc::now()) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: --since {e}");
                return Ok(EXIT_BAD_INPUT);
            }
        },
        None => None,
    };
    let action = match command.kind.as_deref() {
        Some(k) => match AuditAction::parse(k) {
            Some(a) => Some(a),
            None => {
                let kinds: Vec<&str> = AuditAction::ALL
                    .into_iter()
                    .map(AuditAction::as_str)
                    .collect();
                eprintln!(
                    "error: --kind `{k}` is not a kind of audit entry; use one of {}",
                    kinds.join(", ")
                );
                return Ok(EXIT_BAD_INPUT);
            }
        },
        None => None,
    };
    let filter = app::audit::AuditFilter {
        project: Some(&project),
        since,
        action,
        limit: None,
    };
    let entries = app::audit::entries(&ws, &filter)?;
    let own = entries
        .iter()
        .any(|e| e.project.as_deref() == Some(project.as_str()));
    if !own && !ws.project_exists(&project)? {
        eprintln!("error: no project named `{project}` and no audit entries for one");
        return Ok(EXIT_BAD_INPUT);
    }
    match command.format {
        OutputFormat::Json => print_json(&entries)?,
        OutputFormat::Text => print_entries(&project, &entries),
    }
    Ok(EXIT_OK)
}

fn print_entries(project: &str, entries: &[AuditEntry]) {
    if entries.is_empty() {
        println!("no audit entries for project `{project}` in this window");
    }
    for e in entries {
        println!("{}", entry_line(e));
    }
}

/// One entry on one line: number, time, who, kind, subject, where, costs, detail.
pub fn entry_line(e: &AuditEntry) -> String {
    let money = |v: Option<f64>| v.map_or_else(|| "unknown".to_owned(), |v| format!("${v:.4}"));
    let costs = if e.estimated_usd.is_some() || e.actual_usd.is_some() {
        format!(
            "  est {} actual {}",
            money(e.estimated_usd),
            money(e.actual_usd)
        )
    } else {
        String::new()
    };
    format!(
        "#{:<5} {}  {:<10} {:<17} {}  [{}]{costs}  {}",
        e.seq,
        crate::model::time::text(&e.at),
        e.who,
        e.action.as_str(),
        e.subject,
        e.place,
        e.detail
    )
}
