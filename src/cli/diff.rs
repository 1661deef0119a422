//! `medallion diff`: how an asset's data changed between two materializations.

use std::fmt::Write as _;
use std::path::Path;

use super::target::resolve_target;
use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, OutputFormat, print_json};
use crate::app::diff::{AssetDiff, DiffRequest, SchemaChange, diff_asset};
use crate::app::{self, AppError};
use crate::model::{AssetKey, RunId};

/// `medallion diff PROJECT ASSET [--runs A B] [--key COLS] [--partition P] [--format json]`
#[derive(Debug, clap::Args)]
pub struct DiffCommand {
    /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
    project: String,
    asset: String,
    /// The two runs to compare, older first (default: the asset's last two materializations)
    #[arg(long, num_args = 2, value_names = ["RUN_A", "RUN_B"])]
    runs: Option<Vec<String>>,
    /// Columns that identify a row, comma-separated (default: the asset's first unique check,
    /// else whole rows are compared)
    #[arg(long, value_delimiter = ',')]
    key: Option<Vec<String>>,
    /// The partition to compare (default: the newest materialization's)
    #[arg(long)]
    partition: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

pub fn diff(workspace: &Path, command: &DiffCommand) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    let stored = match resolve_target(&mut ws, &command.project)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let request = DiffRequest {
        runs: command.runs.as_ref().and_then(|r| {
            Some((
                RunId::from(r.first()?.as_str()),
                RunId::from(r.get(1)?.as_str()),
            ))
        }),
        partition: command.partition.clone(),
        key: command.key.clone(),
    };
    match diff_asset(&ws, &stored, &AssetKey::new(&command.asset), &request) {
        Ok(d) => {
            match command.format {
                OutputFormat::Json => print_json(&d)?,
                OutputFormat::Text => print!("{}", describe(&d)),
            }
            Ok(EXIT_OK)
        }
        Err(AppError::Diff(refusal)) => {
            eprintln!("error: {}", app::redact(&refusal.to_string()));
            Ok(EXIT_BAD_INPUT)
        }
        Err(e @ AppError::StoredOnS3 { .. }) => {
            eprintln!("error: {}", app::redact(&e.to_string()));
            Ok(EXIT_FAILED)
        }
        Err(e) => Err(e.into()),
    }
}

/// The diff as a person reads it.
fn describe(d: &AssetDiff) -> String {
    let t = &d.diff;
    let mut out = String::new();
    let part = d
        .partition
        .as_ref()
        .map(|p| format!(" [{p}]"))
        .unwrap_or_default();
    let key = if t.key.is_empty() {
        "whole rows compared (no --key given and no unique check declared)".to_owned()
    } else {
        format!("matched by {} ({})", t.key.join(", "), d.key_from)
    };
    let _ = writeln!(
        out,
        "{}{part}: run {} → run {}, {key}",
        d.asset, d.run_a, d.run_b
    );
    let _ = writeln!(
        out,
        "  rows: {} → {} · only in A {} · only in B {} · changed {} · unchanged {}",
        t.rows_a, t.rows_b, t.only_in_a, t.only_in_b, t.changed, t.unchanged
    );
    for change in &t.schema_changes {
        let line = match change {
            SchemaChange::Added { column, dtype } => format!("added column {column} ({dtype})"),
            SchemaChange::Removed { column, dtype } => {
                format!("removed column {column} ({dtype})")
            }
            SchemaChange::Retyped { column, from, to } => {
                format!("column {column} retyped {from} → {to}")
            }
        };
        let _ = writeln!(out, "  schema: {line}");
    }
    for c in t.columns.iter().filter(|c| c.changed > 0) {
        let _ = write!(out, "  {}: {} row(s) changed", c.column, c.changed);
        if let Some(e) = c.examples.first() {
            let key: Vec<String> = e.key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = write!(out, ", e.g. {}: {} → {}", key.join(", "), e.a, e.b);
        }
        out.push('\n');
    }
    for (label, rows) in [
        ("only in A", &t.examples_only_in_a),
        ("only in B", &t.examples_only_in_b),
    ] {
        for row in rows {
            let cells: Vec<String> = row.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(out, "  {label}: {}", cells.join(", "));
        }
    }
    if t.is_empty() {
        out.push_str("  no differences\n");
    }
    let _ = writeln!(out, "compared in {} ms", d.elapsed_ms);
    out
}
