//! `medallion test` and the launch dialog's "test first": the SQL unit tests of the selected
//! assets run on the engine over their given rows only (`engine::unit_test`), each compared
//! with its expected rows (`model::unit_test::compare_rows`). No source is read and no stored
//! materialization touched: upstream schemas come from the sources' declared schemas.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::{AppError, ProjectArg, Refusal};
use crate::engine::unit_test::{UnitTestError, run_unit_test};
use crate::model::unit_test::{RowDiff, compare_rows, schema_diagnostics};
use crate::model::{AssetGraph, AssetKey, AssetSelection, Diagnostic, DiagnosticCode, Project};

pub use crate::model::unit_test::{Cell, UnitTest};

/// How one test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    Passed,
    /// The output differs from the expected rows.
    Failed,
    /// The SQL or steps failed on the given rows.
    Error,
    /// The test cannot run as written (its problem is in the report's `problems`).
    Invalid,
}

/// One test's result.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub asset: AssetKey,
    pub name: String,
    pub status: TestStatus,
    /// Wall time of building the frames, running the SQL and steps, and comparing.
    pub elapsed_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<RowDiff>,
    pub expected_rows: usize,
    pub actual_rows: usize,
}

/// The tests of a selection, run.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub project: String,
    pub results: Vec<TestResult>,
    /// Tests that cannot run as written, located in the project files when read from them.
    pub problems: Vec<Diagnostic>,
    pub elapsed_ms: f64,
}

impl TestReport {
    pub fn count(&self, status: TestStatus) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }

    /// The tests that did not pass, as `asset.test` names.
    pub fn not_passed(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| r.status != TestStatus::Passed)
            .map(|r| format!("{}.{}", r.asset, r.name))
            .collect()
    }
}

/// The assets a selection names (all assets without one).
pub fn selected_assets(
    project: &Project,
    selection: Option<&str>,
) -> Result<BTreeSet<AssetKey>, AppError> {
    let graph = AssetGraph::build(project);
    match selection {
        None => Ok(project.assets.iter().map(|a| a.key.clone()).collect()),
        Some(text) => AssetSelection::parse(text)
            .and_then(|s| s.resolve(project, &graph))
            .map_err(|e| AppError::Refused(Refusal::Selection(e))),
    }
}

/// Runs the unit tests of the `selected` assets of `project`, CSV files resolved in `dir`.
pub fn run_unit_tests(
    project: &Project,
    dir: Option<&Path>,
    selected: &BTreeSet<AssetKey>,
) -> TestReport {
    let start = Instant::now();
    let graph = AssetGraph::build(project);
    // Declared schemas only: a test reads nothing but its own rows.
    let schemas = crate::engine::schema::infer_schemas(project, None);
    let mut problems: Vec<Diagnostic> = schema_diagnostics(project, &schemas)
        .into_iter()
        .filter(|d| d.asset.as_ref().is_some_and(|a| selected.contains(a)))
        .collect();
    let mut results = Vec::new();
    for asset in project.assets.iter().filter(|a| selected.contains(&a.key)) {
        for test in &asset.tests {
            let field = test.field();
            let invalid = problems.iter().any(|d| {
                d.asset.as_ref() == Some(&asset.key)
                    && d.field
                        .as_deref()
                        .is_some_and(|f| f == field || f.starts_with(&format!("{field}.")))
            });
            let t0 = Instant::now();
            let mut result = TestResult {
                asset: asset.key.clone(),
                name: test.name.clone(),
                status: TestStatus::Invalid,
                elapsed_ms: 0.0,
                message: None,
                diff: None,
                expected_rows: 0,
                actual_rows: 0,
            };
            if !invalid {
                match run_unit_test(&graph, asset, test, &schemas, dir) {
                    Ok(tables) => {
                        let diff = compare_rows(
                            &tables.columns,
                            &tables.expected,
                            &tables.actual,
                            test.ordered,
                            test.tolerance,
                        );
                        result.expected_rows = tables.expected.len();
                        result.actual_rows = tables.actual.len();
                        result.status = if diff.is_empty() {
                            TestStatus::Passed
                        } else {
                            TestStatus::Failed
                        };
                        result.diff = Some(diff);
                    }
                    Err(UnitTestError::Failed(m)) => {
                        result.status = TestStatus::Error;
                        result.message = Some(m);
                    }
                    Err(UnitTestError::BadInput { field, message }) => {
                        result.message = Some(message.clone());
                        problems.push(
                            Diagnostic::error(
                                DiagnosticCode::InvalidTest,
                                format!("unit test `{}`: {message}", test.name),
                            )
                            .on_asset(&asset.key)
                            .on_field(field),
                        );
                    }
                }
            }
            result.elapsed_ms = t0.elapsed().as_secs_f64() * 1000.0;
            results.push(result);
        }
    }
    TestReport {
        project: project.name.clone(),
        results,
        problems,
        elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
    }
}

/// Runs the tests of a project argument: a directory is read (not imported) and problems are
/// located in its files; a name is the stored project, its CSV files read where it was
/// imported from. A directory with errors is refused with its diagnostics.
pub fn run_target(
    workspace: impl FnOnce() -> Result<PathBuf, AppError>,
    target: &str,
    selection: Option<&str>,
) -> Result<TestReport, AppError> {
    match ProjectArg::parse(target) {
        ProjectArg::Dir(path) => {
            let loaded = super::validate_dir(path)?;
            let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
            if errors > 0 {
                return Err(AppError::Invalid {
                    name: loaded.project.name.clone(),
                    errors,
                    diagnostics: loaded.diagnostics,
                });
            }
            let selected = selected_assets(&loaded.project, selection)?;
            let mut report = run_unit_tests(&loaded.project, Some(&loaded.dir), &selected);
            loaded.locate(&mut report.problems);
            Ok(report)
        }
        ProjectArg::Name(name) => {
            let ws = super::open_workspace(&workspace()?)?;
            let stored = super::load_named(&ws, name)?;
            let selected = selected_assets(&stored.project, selection)?;
            Ok(run_unit_tests(
                &stored.project,
                stored.source_dir.as_deref(),
                &selected,
            ))
        }
    }
}

/// "Test first": runs the unit tests of the assets `selection` names and refuses when one
/// does not pass, naming it and why. The report when all pass (or there are none).
pub fn require_passing(
    project: &Project,
    dir: Option<&Path>,
    selection: &str,
) -> Result<TestReport, AppError> {
    let selected: BTreeSet<AssetKey> = super::run::resolve_selection(project, selection)?
        .into_iter()
        .collect();
    let report = run_unit_tests(project, dir, &selected);
    let tests = report.not_passed();
    let Some(first) = report
        .results
        .iter()
        .find(|r| r.status != TestStatus::Passed)
    else {
        return Ok(report);
    };
    Err(Refusal::UnitTestsFailed {
        tests,
        first: why(first),
    }
    .into())
}

/// Why a test did not pass, in a few words: its first differing cell, its row counts, or its
/// message.
pub fn why(r: &TestResult) -> String {
    if let Some(m) = &r.message {
        return crate::model::clip::bound_message(m).into_owned();
    }
    let Some(d) = &r.diff else {
        return "unknown".to_owned();
    };
    if let Some((column, expected, actual)) = d.changed.first().and_then(|c| c.cells.first()) {
        return format!("{column}: expected {expected}, got {actual}");
    }
    format!(
        "{} expected row(s) missing, {} unexpected",
        d.missing.len(),
        d.unexpected.len()
    )
}
