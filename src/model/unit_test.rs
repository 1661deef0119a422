//! SQL unit tests (`[[assets.X.tests]]`): given rows per upstream asset and the rows the asset's
//! SQL and steps must output from them. The definitions, their checks (with and without the
//! inferred schemas) and the comparison of expected with actual rows live here; the engine runs
//! a test and turns its tables into [`Cell`]s.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::diagnostic::{Diagnostic, DiagnosticCode};
use super::graph::AssetGraph;
use super::schema::ProjectSchemas;
use super::{AssetDefinition, AssetKey, AssetSpec, Project};

/// One cell as a test writes it. A column left out of a row is null.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TestValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl TestValue {
    /// The value as text, the form it is cast from to the column's type.
    pub fn as_text(&self) -> String {
        match self {
            TestValue::Bool(b) => b.to_string(),
            TestValue::Int(i) => i.to_string(),
            TestValue::Float(f) => format!("{f:?}"),
            TestValue::Text(s) => s.clone(),
        }
    }
}

/// Rows of a test: written inline (one map per row) or in a CSV file with a header, relative
/// to the project directory (by convention under `tests/`; an empty field is null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestRows {
    Inline(Vec<BTreeMap<String, TestValue>>),
    Csv(String),
}

impl TestRows {
    /// The columns named by inline rows (none known for a CSV file before it is read).
    pub fn inline_columns(&self) -> Option<BTreeSet<&str>> {
        match self {
            TestRows::Inline(rows) => Some(
                rows.iter()
                    .flat_map(|r| r.keys().map(String::as_str))
                    .collect(),
            ),
            TestRows::Csv(_) => None,
        }
    }
}

/// One unit test of an asset's SQL and steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitTest {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Rows per upstream asset; an upstream not given is an empty table with its columns.
    pub given: BTreeMap<AssetKey, TestRows>,
    /// The rows expected, compared on the columns they name.
    pub expect: TestRows,
    /// Compare rows in order (default: as a multiset, in any order).
    #[serde(default)]
    pub ordered: bool,
    /// The largest absolute difference for float cells to count as equal (default
    /// [`default_tolerance`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// The partition key the SQL's `{partition}` stands for (partitioned assets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

impl UnitTest {
    /// Where the test sits among its asset's fields (`tests.NAME`).
    pub fn field(&self) -> String {
        format!("tests.{}", self.name)
    }

    pub fn given_field(&self, upstream: &AssetKey) -> String {
        format!("tests.{}.given.{upstream}", self.name)
    }

    pub fn expect_field(&self) -> String {
        format!("tests.{}.expect", self.name)
    }
}

/// Floats equal when `|a - b| ≤ 1e-9 × max(1, |a|, |b|)`: one part in a billion, or 1e-9
/// below 1 — the rounding of a sum or an average, not a real difference.
#[allow(
    clippy::float_cmp,
    reason = "exactly equal floats (infinities too) are equal; the tolerance covers the rest"
)]
pub fn floats_equal(a: f64, b: f64, tolerance: Option<f64>) -> bool {
    if a == b || (a.is_nan() && b.is_nan()) {
        return true;
    }
    let diff = (a - b).abs();
    match tolerance {
        Some(t) => diff <= t,
        None => diff <= 1e-9 * 1f64.max(a.abs()).max(b.abs()),
    }
}

/// A cell compared by a test: null, a float (compared within the tolerance) or any other
/// value as text (exact: integers, decimals, dates, strings, booleans).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cell {
    Null,
    Float(f64),
    Text(String),
}

impl Cell {
    fn equals(&self, other: &Cell, tolerance: Option<f64>) -> bool {
        match (self, other) {
            (Cell::Float(a), Cell::Float(b)) => floats_equal(*a, *b, tolerance),
            (a, b) => a == b,
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Null => f.write_str("null"),
            Cell::Float(x) => write!(f, "{x}"),
            Cell::Text(s) => f.write_str(s),
        }
    }
}

/// An expected row matched to an actual one that differs in some cells.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangedRow {
    /// The row's 0-based position (ordered tests only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    pub expected: Vec<Cell>,
    pub actual: Vec<Cell>,
    /// The differing cells: column, expected, actual.
    pub cells: Vec<(String, Cell, Cell)>,
}

/// How the actual rows differ from the expected ones (on the expected columns).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RowDiff {
    pub columns: Vec<String>,
    /// Expected rows no actual row matches.
    pub missing: Vec<Vec<Cell>>,
    /// Actual rows no expected row matches.
    pub unexpected: Vec<Vec<Cell>>,
    pub changed: Vec<ChangedRow>,
}

impl RowDiff {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.changed.is_empty()
    }
}

fn rows_equal(a: &[Cell], b: &[Cell], tolerance: Option<f64>) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equals(y, tolerance))
}

fn changed_row(
    columns: &[String],
    position: Option<usize>,
    expected: &[Cell],
    actual: &[Cell],
    tolerance: Option<f64>,
) -> ChangedRow {
    let cells = columns
        .iter()
        .zip(expected.iter().zip(actual))
        .filter(|(_, (e, a))| !e.equals(a, tolerance))
        .map(|(c, (e, a))| (c.clone(), e.clone(), a.clone()))
        .collect();
    ChangedRow {
        position,
        expected: expected.to_vec(),
        actual: actual.to_vec(),
        cells,
    }
}

/// Compares expected with actual rows (both holding `columns`, in that order). Unordered, each
/// expected row takes the first equal actual row left; a missing row is then shown as changed
/// when an unexpected row shares a cell with it (the one sharing most), so a wrong value reads
/// as "column x: expected 1, got 2".
pub fn compare_rows(
    columns: &[String],
    expected: &[Vec<Cell>],
    actual: &[Vec<Cell>],
    ordered: bool,
    tolerance: Option<f64>,
) -> RowDiff {
    let mut diff = RowDiff {
        columns: columns.to_vec(),
        ..RowDiff::default()
    };
    if ordered {
        for i in 0..expected.len().max(actual.len()) {
            match (expected.get(i), actual.get(i)) {
                (Some(e), Some(a)) if !rows_equal(e, a, tolerance) => diff
                    .changed
                    .push(changed_row(columns, Some(i), e, a, tolerance)),
                (Some(e), None) => diff.missing.push(e.clone()),
                (None, Some(a)) => diff.unexpected.push(a.clone()),
                _ => {}
            }
        }
        return diff;
    }
    let mut used = vec![false; actual.len()];
    let mut missing = Vec::new();
    for e in expected {
        match (0..actual.len()).find(|&i| !used[i] && rows_equal(e, &actual[i], tolerance)) {
            Some(i) => used[i] = true,
            None => missing.push(e),
        }
    }
    let mut unexpected: Vec<&Vec<Cell>> = actual
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(a, _)| a)
        .collect();
    for e in missing {
        let best = unexpected
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let same = e
                    .iter()
                    .zip(a.iter())
                    .filter(|(x, y)| x.equals(y, tolerance))
                    .count();
                (same, i)
            })
            .max_by_key(|(same, i)| (*same, std::cmp::Reverse(*i)));
        match best {
            Some((same, i)) if same > 0 => {
                let a = unexpected.remove(i);
                diff.changed
                    .push(changed_row(columns, None, e, a, tolerance));
            }
            _ => diff.missing.push(e.clone()),
        }
    }
    diff.unexpected = unexpected.into_iter().cloned().collect();
    diff
}

/// The checks that need no schema: tests only on transforms, unique names, given rows only for
/// upstream assets, safe CSV paths, a partition for a partitioned asset.
pub fn validate_tests(project: &Project, graph: &AssetGraph, out: &mut Vec<Diagnostic>) {
    for asset in project.assets.iter().filter(|a| !a.tests.is_empty()) {
        let err = |field: String, message: String| {
            Diagnostic::error(DiagnosticCode::InvalidTest, message)
                .on_asset(&asset.key)
                .on_field(field)
        };
        if matches!(asset.definition, AssetDefinition::Source(_)) {
            out.push(err(
                "tests".to_owned(),
                format!(
                    "asset {} is a source: unit tests run a transform's SQL and steps on given rows; test its consumers instead",
                    asset.key
                ),
            ));
            continue;
        }
        let upstream: BTreeSet<&AssetKey> = graph.upstream(&asset.key).into_iter().collect();
        let mut names = BTreeSet::new();
        for t in &asset.tests {
            if t.name.trim().is_empty() {
                out.push(err(
                    "tests".to_owned(),
                    "a unit test needs a name".to_owned(),
                ));
            } else if !names.insert(t.name.as_str()) {
                out.push(err(
                    t.field(),
                    format!(
                        "unit test `{}` is defined twice on asset {}",
                        t.name, asset.key
                    ),
                ));
            }
            out.extend(
                test_problems(asset, t, &upstream)
                    .into_iter()
                    .map(|(f, m)| err(f, m)),
            );
        }
    }
}

fn test_problems(
    asset: &AssetSpec,
    t: &UnitTest,
    upstream: &BTreeSet<&AssetKey>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, rows) in &t.given {
        if !upstream.contains(key) {
            let names: Vec<String> = upstream.iter().map(ToString::to_string).collect();
            let names = if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            };
            out.push((
                t.given_field(key),
                format!(
                    "unit test `{}` gives rows for {key}, which is not an upstream of {} (its upstreams: {names})",
                    t.name, asset.key
                ),
            ));
        }
        if let Some(m) = csv_path_problem(rows) {
            out.push((t.given_field(key), format!("unit test `{}`: {m}", t.name)));
        }
    }
    if let Some(m) = csv_path_problem(&t.expect) {
        out.push((t.expect_field(), format!("unit test `{}`: {m}", t.name)));
    }
    if t.tolerance.is_some_and(|x| x.is_nan() || x < 0.0) {
        out.push((
            t.field(),
            format!("unit test `{}`: tolerance must be a number ≥ 0", t.name),
        ));
    }
    if asset.partitions.is_partitioned() && t.partition.is_none() {
        out.push((
            t.field(),
            format!(
                "unit test `{}`: asset {} is partitioned; give the test a partition = \"KEY\" for its SQL",
                t.name, asset.key
            ),
        ));
    }
    out
}

fn csv_path_problem(rows: &TestRows) -> Option<String> {
    let TestRows::Csv(path) = rows else {
        return None;
    };
    let p = std::path::Path::new(path);
    (p.is_absolute() || p.components().any(|c| c.as_os_str() == "..")).then(|| {
        format!(
            "CSV file {path} must be a path inside the project (e.g. tests/{})",
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        )
    })
}

/// The checks that need the inferred schemas: every column inline rows name exists in the
/// upstream (given) or in the asset's output (expect). CSV files are checked when read.
pub fn schema_diagnostics(project: &Project, schemas: &ProjectSchemas) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for asset in &project.assets {
        for t in &asset.tests {
            let mut check = |of: &AssetKey, rows: &TestRows, field: String, what: &str| {
                let (Some(named), Some(known)) = (
                    rows.inline_columns(),
                    schemas.get(of).and_then(|s| s.columns()),
                ) else {
                    return;
                };
                let known: Vec<&str> = known.iter().map(|c| c.name.as_str()).collect();
                for c in named.iter().filter(|c| !known.contains(*c)) {
                    out.push(
                        Diagnostic::error(
                            DiagnosticCode::InvalidTest,
                            format!(
                                "unit test `{}`: column `{c}` {what} {of}, whose columns are {}",
                                t.name,
                                known.join(", ")
                            ),
                        )
                        .on_asset(&asset.key)
                        .on_field(field.clone()),
                    );
                }
            };
            for (up, rows) in &t.given {
                check(up, rows, t.given_field(up), "is given for");
            }
            check(&asset.key, &t.expect, t.expect_field(), "is expected from");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }

    fn cols() -> Vec<String> {
        vec!["id".to_owned(), "total".to_owned()]
    }

    #[test]
    fn rows_in_any_order_match_and_floats_within_tolerance() {
        let expected = vec![vec![t("1"), Cell::Float(0.3)], vec![t("2"), Cell::Null]];
        let actual = vec![
            vec![t("2"), Cell::Null],
            vec![t("1"), Cell::Float(0.1 + 0.2)],
        ];
        assert!(compare_rows(&cols(), &expected, &actual, false, None).is_empty());
        // In order, the same rows differ.
        let d = compare_rows(&cols(), &expected, &actual, true, None);
        assert_eq!(d.changed.len(), 2);
        assert_eq!(d.changed[0].position, Some(0));
    }

    #[test]
    fn a_wrong_cell_is_named_and_extra_rows_are_listed() {
        let expected = vec![
            vec![t("1"), Cell::Float(10.0)],
            vec![t("3"), Cell::Float(1.0)],
        ];
        let actual = vec![
            vec![t("1"), Cell::Float(12.5)],
            vec![t("9"), Cell::Float(7.0)],
        ];
        let d = compare_rows(&cols(), &expected, &actual, false, None);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(
            d.changed[0].cells,
            vec![("total".to_owned(), Cell::Float(10.0), Cell::Float(12.5))]
        );
        assert_eq!(d.missing, vec![vec![t("3"), Cell::Float(1.0)]]);
        assert_eq!(d.unexpected, vec![vec![t("9"), Cell::Float(7.0)]]);
    }

    #[test]
    fn duplicates_count_and_tolerance_can_be_set() {
        let row = vec![t("1"), Cell::Float(1.0)];
        let d = compare_rows(
            &cols(),
            &[row.clone(), row.clone()],
            std::slice::from_ref(&row),
            false,
            None,
        );
        assert_eq!(d.missing.len() + d.changed.len(), 1);
        assert!(!floats_equal(1.0, 1.001, None));
        assert!(floats_equal(1.0, 1.001, Some(0.01)));
        assert!(floats_equal(1e12, 1e12 + 1e-4, None));
    }
}
