//! Runs one SQL unit test: the given rows become typed frames of the upstream assets (their
//! inferred schemas, without reading any source), the asset's SQL and steps run on them as in a
//! run ([`transform::apply`]), and the output and the expected rows become [`Cell`]s for
//! `model::unit_test::compare_rows`. Nothing is read but the test's own rows and CSV files.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use super::source::polars_type;
use super::transform;
use crate::model::schema::ProjectSchemas;
use crate::model::unit_test::{Cell, TestRows, UnitTest};
use crate::model::{AssetDefinition, AssetGraph, AssetKey, AssetSpec, DataType as ModelType};

/// Why a unit test did not produce a comparison.
#[derive(Debug, thiserror::Error)]
pub enum UnitTestError {
    /// The test cannot run as written (a CSV file missing, a value not of its column's type, a
    /// column the table lacks); `field` is where in the asset (`tests.NAME.given.UP`).
    #[error("{message}")]
    BadInput { field: String, message: String },
    /// The asset's SQL or steps failed on the given rows.
    #[error("{0}")]
    Failed(String),
}

/// The expected and actual rows of a test, as cells on the expected columns.
#[derive(Debug, Clone)]
pub struct TestTables {
    pub columns: Vec<String>,
    pub expected: Vec<Vec<Cell>>,
    pub actual: Vec<Vec<Cell>>,
}

/// Runs `test` of `asset`: the upstream frames from its given rows (typed by `schemas`, CSV
/// files resolved in `dir`), the SQL and steps, and the cells to compare.
pub fn run_unit_test(
    graph: &AssetGraph,
    asset: &AssetSpec,
    test: &UnitTest,
    schemas: &ProjectSchemas,
    dir: Option<&Path>,
) -> Result<TestTables, UnitTestError> {
    let AssetDefinition::Transform(spec) = &asset.definition else {
        return Err(bad(
            test.field(),
            format!("asset {} is a source", asset.key),
        ));
    };
    let mut upstream = BTreeMap::new();
    for up in graph.upstream(&asset.key) {
        let field = test.given_field(up);
        let schema = known_schema(schemas, up);
        let frame = match test.given.get(up) {
            Some(rows) => {
                let given = text_frame(rows, dir).map_err(|m| bad(field.clone(), m))?;
                typed_frame(&given, schema.as_ref(), up).map_err(|m| bad(field.clone(), m))?
            }
            None => match &schema {
                Some(s) => DataFrame::empty_with_schema(s),
                None => {
                    return Err(bad(
                        test.field(),
                        format!(
                            "the columns of upstream {up} are unknown without reading it; give rows for it (given.{up}) or declare its source's schema"
                        ),
                    ));
                }
            },
        };
        upstream.insert(up.clone(), frame.lazy());
    }
    let partition = test.partition.as_deref();
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        transform::apply(&asset.key, spec, &upstream, partition)
            .map_err(|e| match e {
                super::EngineError::Sql { message, .. } => format!("SQL failed: {message}"),
                other => other.to_string(),
            })?
            .collect()
            .map_err(|e| e.to_string())
    }));
    let actual = match ran {
        Ok(Ok(df)) => df,
        Ok(Err(m)) => return Err(UnitTestError::Failed(first_line(&m))),
        Err(panic) => {
            return Err(UnitTestError::Failed(super::step::panic_message(
                panic.as_ref(),
            )));
        }
    };
    compare_tables(test, &actual, dir)
}

fn bad(field: String, message: String) -> UnitTestError {
    UnitTestError::BadInput { field, message }
}

fn first_line(m: &str) -> String {
    m.lines().next().unwrap_or_default().trim().to_owned()
}

/// The expected rows typed as the output's columns, and both as cells.
fn compare_tables(
    test: &UnitTest,
    actual: &DataFrame,
    dir: Option<&Path>,
) -> Result<TestTables, UnitTestError> {
    let field = test.expect_field();
    let wanted = text_frame(&test.expect, dir).map_err(|m| bad(field.clone(), m))?;
    let output = actual.schema();
    let out_names: Vec<String> = output.iter_names().map(ToString::to_string).collect();
    let columns: Vec<String> = out_names
        .iter()
        .filter(|n| wanted.column(n.as_str()).is_ok())
        .cloned()
        .collect();
    if let Some(extra) = wanted
        .get_column_names()
        .into_iter()
        .find(|n| !out_names.iter().any(|o| o == n.as_str()))
    {
        return Err(bad(
            field,
            format!(
                "column `{extra}` is expected, but the output's columns are {}",
                out_names.join(", ")
            ),
        ));
    }
    let mut expected = Vec::new();
    let mut got = Vec::new();
    for name in &columns {
        let dtype = output
            .get(name.as_str())
            .cloned()
            .unwrap_or(DataType::String);
        let e = wanted
            .column(name)
            .map_err(|e| bad(field.clone(), e.to_string()))?;
        expected.push(cast_column(e, &dtype).map_err(|m| bad(field.clone(), m))?);
        got.push(
            actual
                .column(name)
                .map_err(|e| UnitTestError::Failed(e.to_string()))?
                .clone(),
        );
    }
    Ok(TestTables {
        expected: cells(&expected, wanted.height()),
        actual: cells(&got, actual.height()),
        columns,
    })
}

/// Rows of cells, one per row, from columns of equal length.
fn cells(columns: &[Column], height: usize) -> Vec<Vec<Cell>> {
    (0..height)
        .map(|i| {
            columns
                .iter()
                .map(|c| match c.get(i) {
                    Ok(AnyValue::Null) | Err(_) => Cell::Null,
                    Ok(AnyValue::Float64(f)) => Cell::Float(f),
                    Ok(AnyValue::Float32(f)) => Cell::Float(f64::from(f)),
                    Ok(v) => Cell::Text(v.str_value().into_owned()),
                })
                .collect()
        })
        .collect()
}

/// An upstream's schema as polars types, when every column's type is known.
fn known_schema(schemas: &ProjectSchemas, key: &AssetKey) -> Option<Schema> {
    let columns = schemas.get(key)?.columns()?;
    columns
        .iter()
        .map(|c| {
            ModelType::parse(&c.dtype).map(|t| Field::new(c.name.as_str().into(), polars_type(t)))
        })
        .collect()
}

/// Rows as a frame of text columns (null where a row leaves a column out or a CSV field is
/// empty).
fn text_frame(rows: &TestRows, dir: Option<&Path>) -> Result<DataFrame, String> {
    match rows {
        TestRows::Inline(rows) => {
            let mut names: Vec<&String> = rows.iter().flat_map(|r| r.keys()).collect();
            names.sort();
            names.dedup();
            let columns: Vec<Column> = names
                .iter()
                .map(|n| {
                    let values: Vec<Option<String>> = rows
                        .iter()
                        .map(|r| r.get(*n).map(crate::model::unit_test::TestValue::as_text))
                        .collect();
                    Column::new(n.as_str().into(), values)
                })
                .collect();
            DataFrame::new(rows.len(), columns).map_err(|e| e.to_string())
        }
        TestRows::Csv(path) => {
            let Some(dir) = dir else {
                return Err(format!(
                    "CSV file {path} cannot be found: the project has no directory (import it from one)"
                ));
            };
            let full = dir.join(path);
            if !full.is_file() {
                return Err(format!("CSV file {} does not exist", full.display()));
            }
            LazyCsvReader::new(PlRefPath::new(full.to_string_lossy().as_ref()))
                .with_has_header(true)
                .with_missing_is_null(true)
                .with_infer_schema_length(Some(0))
                .finish()
                .and_then(LazyFrame::collect)
                .map_err(|e| {
                    format!(
                        "CSV file {path} cannot be read: {}",
                        first_line(&e.to_string())
                    )
                })
        }
    }
}

/// Text columns typed as the upstream's schema (its columns not given are null); without a
/// schema each column takes the narrowest of int64, float64 and text that holds its values.
fn typed_frame(
    text: &DataFrame,
    schema: Option<&Schema>,
    upstream: &AssetKey,
) -> Result<DataFrame, String> {
    let height = text.height();
    let Some(schema) = schema else {
        let columns = text
            .columns()
            .iter()
            .map(|c| {
                [DataType::Int64, DataType::Float64]
                    .iter()
                    .find_map(|t| c.strict_cast(t).ok())
                    .unwrap_or_else(|| c.clone())
            })
            .collect();
        return DataFrame::new(height, columns).map_err(|e| e.to_string());
    };
    if let Some(extra) = text
        .get_column_names()
        .into_iter()
        .find(|n| schema.get(n.as_str()).is_none())
    {
        let names: Vec<String> = schema.iter_names().map(ToString::to_string).collect();
        return Err(format!(
            "column `{extra}` is not a column of {upstream} ({})",
            names.join(", ")
        ));
    }
    let mut columns = Vec::new();
    for (name, dtype) in schema.iter() {
        columns.push(match text.column(name.as_str()) {
            Ok(c) => cast_column(c, dtype)?,
            Err(_) => Column::full_null(name.clone(), height, dtype),
        });
    }
    DataFrame::new(height, columns).map_err(|e| e.to_string())
}

/// A text column cast to `dtype`, or a sentence naming the first value that is not one.
fn cast_column(c: &Column, dtype: &DataType) -> Result<Column, String> {
    let refuse = |value: &str| {
        format!(
            "value {value:?} in column `{}` is not a {}",
            c.name(),
            super::schema::spell(dtype)
        )
    };
    if matches!(dtype, DataType::Boolean) {
        let text = c.str().map_err(|e| e.to_string())?;
        let mut values = Vec::with_capacity(text.len());
        for v in text.iter() {
            values.push(match v.map(str::to_ascii_lowercase).as_deref() {
                None => None,
                Some("true" | "1") => Some(true),
                Some("false" | "0") => Some(false),
                Some(other) => return Err(refuse(other)),
            });
        }
        return Ok(Column::new(c.name().clone(), values));
    }
    if let Ok(cast) = c.strict_cast(dtype) {
        return Ok(cast);
    }
    // A strict cast fails as a whole: a loose one turns the bad values into nulls, the first
    // of which is named.
    let first_bad = match (c.str(), c.cast(dtype)) {
        (Ok(text), Ok(loose)) => {
            let nulls = loose.is_null();
            text.iter()
                .zip(nulls.iter())
                .find_map(|(v, null)| if null == Some(true) { v } else { None })
                .map(str::to_owned)
        }
        _ => None,
    };
    Err(match first_bad {
        Some(v) => refuse(&v),
        None => format!(
            "column `{}` cannot be read as {}",
            c.name(),
            super::schema::spell(dtype)
        ),
    })
}
