//! Asset checks evaluated on a materialized frame: each gives passed/failed, the number of
//! failing rows and a small sample of them.

use std::time::SystemTime;

use polars::prelude::*;

use super::source::type_matches;
use super::transform::full_match_pattern;
use crate::model::clip::{bound_message, clip_value};
use crate::model::{AssetCheckResult, AssetCheckSpec, AssetKey, CheckKind};

/// How many failing rows a result keeps.
pub const FAILING_SAMPLE_ROWS: usize = 5;

/// Evaluates one check. Errors while evaluating (a missing column, a bad predicate) fail the
/// check with the error as its description, so a run never stops silently on a broken check.
pub fn evaluate(
    asset: &AssetKey,
    partition: Option<&str>,
    check: &AssetCheckSpec,
    df: &DataFrame,
    newest_input: Option<SystemTime>,
) -> AssetCheckResult {
    let description = if check.description.is_empty() {
        check.kind.default_description()
    } else {
        check.description.clone()
    };
    let mut result = AssetCheckResult {
        asset: asset.clone(),
        partition: partition.map(str::to_owned),
        check_name: check.name.clone(),
        passed: false,
        severity: check.severity,
        blocking: check.blocking,
        description,
        failing_count: 0,
        failing_sample: Vec::new(),
    };
    match run(check, df, newest_input) {
        Ok(Outcome::Rows(failing)) => {
            result.failing_count = failing.height() as u64;
            result.passed = failing.height() == 0;
            result.failing_sample = rows_as_json(&failing, FAILING_SAMPLE_ROWS);
        }
        Ok(Outcome::Table { passed, detail }) => {
            result.passed = passed;
            if !passed {
                result.description = format!("{}: {detail}", result.description);
            }
        }
        Err(e) => {
            result.description = format!(
                "{}: could not evaluate: {}",
                result.description,
                bound_message(&e.to_string())
            );
        }
    }
    result
}

enum Outcome {
    /// The rows that violate the check.
    Rows(DataFrame),
    /// A verdict on the whole table.
    Table { passed: bool, detail: String },
}

fn failing(df: &DataFrame, violates: Expr) -> PolarsResult<DataFrame> {
    df.clone().lazy().filter(violates).collect()
}

fn require_columns(df: &DataFrame, columns: &[&str]) -> PolarsResult<()> {
    for c in columns {
        if df.column(c).is_err() {
            polars_bail!(ColumnNotFound: "column `{c}` does not exist (columns: {})", df.get_column_names().iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "));
        }
    }
    Ok(())
}

fn run(
    check: &AssetCheckSpec,
    df: &DataFrame,
    newest_input: Option<SystemTime>,
) -> PolarsResult<Outcome> {
    if !matches!(check.kind, CheckKind::Schema { .. }) {
        require_columns(df, &check.kind.columns())?;
    }
    Ok(match &check.kind {
        CheckKind::NotNull { columns } => {
            let any_null = any_horizontal(
                columns
                    .iter()
                    .map(|c| col(c.as_str()).is_null())
                    .collect::<Vec<_>>(),
            )?;
            Outcome::Rows(failing(df, any_null)?)
        }
        CheckKind::Unique { columns } => {
            let key = match columns.as_slice() {
                [one] => col(one.as_str()),
                many => as_struct(many.iter().map(|c| col(c.as_str())).collect()),
            };
            Outcome::Rows(failing(df, key.is_duplicated())?)
        }
        CheckKind::RowCount { min, max } => {
            let n = df.height() as u64;
            let passed = min.is_none_or(|lo| n >= lo) && max.is_none_or(|hi| n <= hi);
            Outcome::Table {
                passed,
                detail: format!("{n} rows"),
            }
        }
        CheckKind::Schema { columns } => {
            let mut problems = Vec::new();
            for (name, expected) in columns {
                match df.column(name) {
                    Err(_) => problems.push(format!("`{name}` is missing")),
                    Ok(c) if !type_matches(c.dtype(), *expected) => {
                        problems.push(format!("`{name}` is {}, expected {expected}", c.dtype()));
                    }
                    Ok(_) => {}
                }
            }
            Outcome::Table {
                passed: problems.is_empty(),
                detail: problems.join("; "),
            }
        }
        CheckKind::Freshness { max_lag_minutes } => {
            let age_minutes = newest_input
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .map_or(0, |d| d.as_secs() / 60);
            Outcome::Table {
                passed: age_minutes <= *max_lag_minutes,
                detail: format!("the newest input is {age_minutes} minutes old"),
            }
        }
        CheckKind::Regex {
            column,
            pattern,
            full_match,
        } => {
            let pattern = if *full_match {
                full_match_pattern(pattern)
            } else {
                pattern.clone()
            };
            let c = col(column.as_str()).cast(DataType::String);
            let violates = c
                .clone()
                .is_not_null()
                .and(c.str().contains(lit(pattern), true).not());
            Outcome::Rows(failing(df, violates)?)
        }
        CheckKind::AcceptedValues { column, values } => {
            let accepted = Series::new("accepted".into(), values.clone());
            let c = col(column.as_str()).cast(DataType::String);
            let violates = c
                .clone()
                .is_not_null()
                .and(c.is_in(lit(accepted).implode(false), false).not());
            Outcome::Rows(failing(df, violates)?)
        }
        CheckKind::Expression { predicate } => {
            let expr = polars::sql::sql_expr(predicate)?;
            Outcome::Rows(failing(df, expr.not())?)
        }
    })
}

/// A JSON value for one cell.
pub fn any_to_json(v: &AnyValue<'_>) -> serde_json::Value {
    use serde_json::Value;
    match v {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::Int8(x) => Value::from(*x),
        AnyValue::Int16(x) => Value::from(*x),
        AnyValue::Int32(x) => Value::from(*x),
        AnyValue::Int64(x) => Value::from(*x),
        AnyValue::UInt8(x) => Value::from(*x),
        AnyValue::UInt16(x) => Value::from(*x),
        AnyValue::UInt32(x) => Value::from(*x),
        AnyValue::UInt64(x) => Value::from(*x),
        AnyValue::Float32(x) => {
            serde_json::Number::from_f64(f64::from(*x)).map_or(Value::Null, Value::Number)
        }
        AnyValue::Float64(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
        AnyValue::String(s) => Value::String(clip_value(s).into_owned()),
        AnyValue::StringOwned(s) => Value::String(clip_value(s).into_owned()),
        other => Value::String(display_value(other)),
    }
}

/// A cell as text, without the quotes polars puts around strings, at most
/// [`crate::model::clip::MAX_VALUE_CHARS`] characters: it goes into failing samples, profiles
/// and messages, never a 10 MB field whole.
pub fn display_value(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => clip_value(s).into_owned(),
        AnyValue::StringOwned(s) => clip_value(s).into_owned(),
        other => clip_value(&other.to_string()).into_owned(),
    }
}

/// The first `n` rows as JSON objects.
pub fn rows_as_json(df: &DataFrame, n: usize) -> Vec<serde_json::Value> {
    let n = n.min(df.height());
    (0..n)
        .map(|i| {
            let mut obj = serde_json::Map::new();
            for c in df.columns() {
                let v = c
                    .get(i)
                    .map_or(serde_json::Value::Null, |v| any_to_json(&v));
                obj.insert(c.name().to_string(), v);
            }
            serde_json::Value::Object(obj)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CheckSeverity, DataType as ModelType};

    fn frame() -> DataFrame {
        df!(
            "id" => [1i64, 2, 3, 3],
            "email" => [Some("a@x.io"), None, Some("b@x"), Some("c@y.org")],
            "status" => ["completed", "pending", "completed", "lost"],
            "amount" => [10.0f64, -1.0, 5.0, 0.0],
        )
        .unwrap()
    }

    fn spec(kind: CheckKind) -> AssetCheckSpec {
        AssetCheckSpec {
            name: "c".into(),
            description: String::new(),
            severity: CheckSeverity::Error,
            blocking: true,
            kind,
        }
    }

    fn eval(kind: CheckKind) -> AssetCheckResult {
        evaluate(&AssetKey::new("t"), None, &spec(kind), &frame(), None)
    }

    fn cols(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn every_check_kind_passes_and_fails() {
        let r = eval(CheckKind::NotNull {
            columns: cols(&["email"]),
        });
        assert!(!r.passed);
        assert_eq!(r.failing_count, 1);
        assert_eq!(r.failing_sample[0]["id"], 2);
        assert!(
            eval(CheckKind::NotNull {
                columns: cols(&["id", "status"])
            })
            .passed
        );

        let r = eval(CheckKind::Unique {
            columns: cols(&["id"]),
        });
        assert!(!r.passed);
        assert_eq!(r.failing_count, 2);
        assert!(
            eval(CheckKind::Unique {
                columns: cols(&["id", "status"])
            })
            .passed
        );

        assert!(
            eval(CheckKind::RowCount {
                min: Some(1),
                max: Some(4)
            })
            .passed
        );
        let r = eval(CheckKind::RowCount {
            min: Some(5),
            max: None,
        });
        assert!(!r.passed);
        assert!(r.description.contains("4 rows"), "{}", r.description);

        assert!(
            eval(CheckKind::Schema {
                columns: vec![
                    ("id".into(), ModelType::Int64),
                    ("amount".into(), ModelType::Float64)
                ]
            })
            .passed
        );
        let r = eval(CheckKind::Schema {
            columns: vec![
                ("id".into(), ModelType::String),
                ("nope".into(), ModelType::Int64),
            ],
        });
        assert!(!r.passed);
        assert!(
            r.description.contains("`id` is i64, expected string")
                && r.description.contains("`nope` is missing"),
            "{}",
            r.description
        );

        assert!(eval(CheckKind::Freshness { max_lag_minutes: 5 }).passed);
        let old = SystemTime::now() - std::time::Duration::from_hours(1);
        let r = evaluate(
            &AssetKey::new("t"),
            None,
            &spec(CheckKind::Freshness {
                max_lag_minutes: 30,
            }),
            &frame(),
            Some(old),
        );
        assert!(!r.passed);

        let email = r"^[a-z]+@[a-z]+\.[a-z]{2,}$";
        let r = eval(CheckKind::Regex {
            column: "email".into(),
            pattern: email.into(),
            full_match: true,
        });
        assert!(!r.passed);
        assert_eq!(r.failing_count, 1, "only b@x fails; nulls are not checked");
        assert!(
            eval(CheckKind::Regex {
                column: "email".into(),
                pattern: "@".into(),
                full_match: false
            })
            .passed
        );

        let r = eval(CheckKind::AcceptedValues {
            column: "status".into(),
            values: cols(&["completed", "pending"]),
        });
        assert!(!r.passed);
        assert_eq!(r.failing_sample[0]["status"], "lost");
        assert!(
            eval(CheckKind::AcceptedValues {
                column: "status".into(),
                values: cols(&["completed", "pending", "lost"])
            })
            .passed
        );

        let r = eval(CheckKind::Expression {
            predicate: "amount >= 0".into(),
        });
        assert!(!r.passed);
        assert_eq!(r.failing_count, 1);
        assert!(
            eval(CheckKind::Expression {
                predicate: "amount > -5 AND id < 10".into()
            })
            .passed
        );
    }

    #[test]
    fn a_broken_check_fails_with_the_reason() {
        let r = eval(CheckKind::NotNull {
            columns: cols(&["missing"]),
        });
        assert!(!r.passed);
        assert!(
            r.description.contains("column `missing` does not exist"),
            "{}",
            r.description
        );
        let r = eval(CheckKind::Expression {
            predicate: "no_such_column > 1".into(),
        });
        assert!(!r.passed);
        assert!(
            r.description.contains("could not evaluate"),
            "{}",
            r.description
        );
    }
}
