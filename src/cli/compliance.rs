//! `medallion compliance`: every column holding personal data (tagged, or inheriting a tag
//! through column lineage), where its values flow, and the masking policy covering it — with
//! `--fail-on unmasked`, a one-line CI gate.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{EXIT_FAILED, EXIT_OK, OutputFormat, print_json};
use crate::app::masking::{ComplianceReport, TaggedColumn, compliance};

/// What makes `compliance` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// A tagged column reaches an output with no masking policy bound to its tag.
    Unmasked,
}

/// `medallion compliance PROJECT [--fail-on unmasked] [--format json]`
#[derive(Debug, clap::Args)]
pub struct ComplianceCommand {
    /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
    project: String,
    /// Exit 1 when this is found
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

pub fn run(workspace: Option<PathBuf>, command: &ComplianceCommand) -> anyhow::Result<u8> {
    let analysis = match super::lineage::load(workspace, &command.project)? {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let report = compliance(&analysis);
    let failing = command.fail_on == Some(FailOn::Unmasked) && !report.unmasked.is_empty();
    match command.format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "project": report.project,
            "columns": report.columns,
            "unmasked": report.unmasked,
            "warnings": report.warnings,
            "passed": !failing,
        }))?,
        OutputFormat::Text => print!("{}", describe(&report)),
    }
    if failing {
        eprintln!(
            "error: {} tagged column(s) reach an output without a masking policy: {}",
            report.unmasked.len(),
            report
                .unmasked
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(EXIT_FAILED);
    }
    Ok(EXIT_OK)
}

fn policy_words(c: &TaggedColumn) -> String {
    let Some(rule) = &c.policy else {
        return "NO POLICY".to_owned();
    };
    let mut out = rule.policy.as_str().to_owned();
    if let Some(k) = rule.keep {
        let _ = write!(out, " (keep {k})");
    }
    let masked: Vec<&str> = c
        .masked_output
        .iter()
        .filter(|(_, m)| **m)
        .map(|(e, _)| *e)
        .collect();
    if masked.is_empty() {
        out.push_str(" (shown masked; stored outputs raw)");
    } else {
        let _ = write!(
            out,
            " (shown masked; stored outputs masked on {})",
            masked.join(", ")
        );
    }
    out
}

fn describe(report: &ComplianceReport) -> String {
    let mut out = String::new();
    if report.columns.is_empty() {
        let _ = writeln!(
            out,
            "{}: no column is tagged as personal data (tag with pii = {{ column = \"kind\" }})",
            report.project
        );
    }
    for c in &report.columns {
        let origin = if c.from.is_empty() {
            c.origin.to_owned()
        } else {
            format!(
                "{} from {}",
                c.origin,
                c.from
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let _ = writeln!(
            out,
            "{}  {} ({origin}): {}",
            c.column,
            c.kind.as_str(),
            policy_words(c)
        );
        if !c.feeds.is_empty() {
            let _ = writeln!(
                out,
                "    flows to {}",
                c.feeds
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let _ = writeln!(
        out,
        "{} tagged column(s), {} without a masking policy",
        report.columns.len(),
        report.unmasked.len()
    );
    for w in &report.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}
