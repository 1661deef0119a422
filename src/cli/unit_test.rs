//! `medallion test`: the SQL unit tests of a project (`[[assets.X.tests]]`) run on given rows
//! only, with a readable diff for each failure; exit 0 when all pass, 1 when one fails, 2 when
//! a test cannot run as written.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, OutputFormat, print_diagnostics, print_json};
use crate::app::unit_test::{Cell, TestReport, TestResult, TestStatus, run_target};
use crate::app::{self, AppError};

/// `medallion test PROJECT [--select SEL] [--format json]`
#[derive(Debug, clap::Args)]
pub struct TestCommand {
    /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
    project: String,
    /// Only the tests of these assets (selection syntax: `name`, `+name`, `layer:gold`, …)
    #[arg(long)]
    select: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

pub fn test(workspace: Option<PathBuf>, command: &TestCommand) -> anyhow::Result<u8> {
    let report = match run_target(
        || app::workspace_path(workspace),
        &command.project,
        command.select.as_deref(),
    ) {
        Ok(r) => r,
        Err(AppError::Invalid {
            name,
            errors,
            diagnostics,
        }) => {
            print_diagnostics(&diagnostics);
            eprintln!("error: project `{name}` has {errors} error(s); fix them first");
            return Ok(EXIT_BAD_INPUT);
        }
        Err(e) => return Err(e.into()),
    };
    match command.format {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Text => {
            print_diagnostics(&report.problems);
            print!("{}", describe(&report));
        }
    }
    Ok(if !report.problems.is_empty() {
        EXIT_BAD_INPUT
    } else if report.count(TestStatus::Passed) < report.results.len() {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// The report as a person reads it: one line per test, a diff under each failure.
pub fn describe(report: &TestReport) -> String {
    let mut out = String::new();
    if report.results.is_empty() {
        let _ = writeln!(
            out,
            "{}: no unit tests in the selection (declare them as [[assets.NAME.tests]])",
            report.project
        );
        return out;
    }
    for r in &report.results {
        let label = match r.status {
            TestStatus::Passed => "ok     ",
            TestStatus::Failed => "FAILED ",
            TestStatus::Error => "ERROR  ",
            TestStatus::Invalid => "INVALID",
        };
        let _ = writeln!(
            out,
            "{label} {}.{} ({:.1} ms)",
            r.asset, r.name, r.elapsed_ms
        );
        if let Some(m) = &r.message {
            let _ = writeln!(out, "        {}", app::redact(m));
        }
        if r.status == TestStatus::Failed {
            describe_diff(&mut out, r);
        }
    }
    let _ = writeln!(
        out,
        "{}: {} passed, {} failed, {} errors, {} invalid, in {:.1} ms",
        report.project,
        report.count(TestStatus::Passed),
        report.count(TestStatus::Failed),
        report.count(TestStatus::Error),
        report.count(TestStatus::Invalid),
        report.elapsed_ms
    );
    out
}

fn row(columns: &[String], cells: &[Cell]) -> String {
    columns
        .iter()
        .zip(cells)
        .map(|(c, v)| format!("{c}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_diff(out: &mut String, r: &TestResult) {
    let Some(d) = &r.diff else { return };
    let _ = writeln!(
        out,
        "        expected {} row(s), got {}; compared on {}",
        r.expected_rows,
        r.actual_rows,
        d.columns.join(", ")
    );
    for c in &d.changed {
        let same: Vec<String> = d
            .columns
            .iter()
            .zip(c.expected.iter().zip(&c.actual))
            .filter(|(name, _)| !c.cells.iter().any(|(n, _, _)| n == *name))
            .map(|(name, (v, _))| format!("{name}={v}"))
            .collect();
        let at = match c.position {
            Some(p) => format!("row {}", p + 1),
            None if same.is_empty() => "a row".to_owned(),
            None => format!("row with {}", same.join(", ")),
        };
        let cells: Vec<String> = c
            .cells
            .iter()
            .map(|(n, e, a)| format!("{n}: expected {e}, got {a}"))
            .collect();
        let _ = writeln!(out, "        ~ {at}: {}", cells.join("; "));
    }
    for m in &d.missing {
        let _ = writeln!(out, "        - missing row: {}", row(&d.columns, m));
    }
    for u in &d.unexpected {
        let _ = writeln!(out, "        + unexpected row: {}", row(&d.columns, u));
    }
}
