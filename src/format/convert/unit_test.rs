//! An asset's SQL unit tests between `[[assets.KEY.tests]]` and [`UnitTest`]: inline rows or a
//! CSV file per upstream and for the expected rows, each part's place recorded.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::no_span;
use crate::format::file::{TestRowsFile, UnitTestFile};
use crate::model::AssetKey;
use crate::model::unit_test::{TestRows, TestValue, UnitTest};

/// A test read from its table, or the problems found (span, field, message); `mark` records
/// where each part sits.
pub(super) fn test_from_file(
    f: Spanned<UnitTestFile>,
    mark: &mut dyn FnMut(String, Range<usize>),
) -> Result<UnitTest, Vec<(Range<usize>, String, String)>> {
    let span = f.span();
    let f = f.into_inner();
    let field = format!("tests.{}", f.name);
    mark(field.clone(), span);
    let mut problems = Vec::new();
    let mut given = BTreeMap::new();
    for (key, rows) in f.given {
        let g_field = format!("{field}.given.{key}");
        let g_span = rows.span();
        mark(g_field.clone(), g_span.clone());
        match rows_from_file(rows.into_inner()) {
            Ok(r) => {
                given.insert(AssetKey::new(key), r);
            }
            Err(m) => problems.push((
                g_span,
                g_field,
                format!("unit test `{}`, rows given for {key}: {m}", f.name),
            )),
        }
    }
    let e_field = format!("{field}.expect");
    let e_span = f.expect.span();
    mark(e_field.clone(), e_span.clone());
    let expect = match rows_from_file(f.expect.into_inner()) {
        Ok(r) => Some(r),
        Err(m) => {
            problems.push((
                e_span,
                e_field,
                format!("unit test `{}`, expected rows: {m}", f.name),
            ));
            None
        }
    };
    match expect {
        Some(expect) if problems.is_empty() => Ok(UnitTest {
            name: f.name,
            description: f.description,
            given,
            expect,
            ordered: f.ordered,
            tolerance: f.tolerance,
            partition: f.partition,
        }),
        _ => Err(problems),
    }
}

fn rows_from_file(f: TestRowsFile) -> Result<TestRows, String> {
    match (f.rows, f.csv) {
        (Some(_), Some(_)) => Err("give either rows or csv, not both".to_owned()),
        (None, None) => Err(
            "give rows = [{ column = value, … }, …] or csv = \"tests/FILE.csv\" (rows = [] for none)"
                .to_owned(),
        ),
        (None, Some(path)) => Ok(TestRows::Csv(path)),
        (Some(rows), None) => rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                row.into_iter()
                    .map(|(column, value)| {
                        let v = value_from_toml(value).ok_or_else(|| {
                            format!(
                                "row {}, column `{column}`: a cell holds one value (a number, text, true/false or a date); leave the column out for null",
                                i + 1
                            )
                        })?;
                        Ok((column, v))
                    })
                    .collect::<Result<BTreeMap<_, _>, String>>()
            })
            .collect::<Result<Vec<_>, String>>()
            .map(TestRows::Inline),
    }
}

fn value_from_toml(v: toml::Value) -> Option<TestValue> {
    Some(match v {
        toml::Value::String(s) => TestValue::Text(s),
        toml::Value::Integer(i) => TestValue::Int(i),
        toml::Value::Float(f) => TestValue::Float(f),
        toml::Value::Boolean(b) => TestValue::Bool(b),
        toml::Value::Datetime(d) => TestValue::Text(d.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => return None,
    })
}

fn value_to_toml(v: &TestValue) -> toml::Value {
    match v {
        TestValue::Text(s) => toml::Value::String(s.clone()),
        TestValue::Int(i) => toml::Value::Integer(*i),
        TestValue::Float(f) => toml::Value::Float(*f),
        TestValue::Bool(b) => toml::Value::Boolean(*b),
    }
}

fn rows_to_file(rows: &TestRows) -> TestRowsFile {
    match rows {
        TestRows::Csv(path) => TestRowsFile {
            rows: None,
            csv: Some(path.clone()),
        },
        TestRows::Inline(rows) => TestRowsFile {
            rows: Some(
                rows.iter()
                    .map(|r| {
                        r.iter()
                            .map(|(c, v)| (c.clone(), value_to_toml(v)))
                            .collect()
                    })
                    .collect(),
            ),
            csv: None,
        },
    }
}

pub(super) fn test_to_file(t: &UnitTest) -> UnitTestFile {
    UnitTestFile {
        name: t.name.clone(),
        description: t.description.clone(),
        ordered: t.ordered,
        tolerance: t.tolerance,
        partition: t.partition.clone(),
        given: t
            .given
            .iter()
            .map(|(k, r)| (k.to_string(), no_span(rows_to_file(r))))
            .collect(),
        expect: no_span(rows_to_file(&t.expect)),
    }
}
