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
    let mut result = unevaluated(asset, partition, check);
    assemble(&mut result, run(check, df, newest_input));
    result
}

/// Evaluates one check on a stored table (a scan of its Parquet file) with polars' streaming
/// engine, so the table is never whole in memory: failing rows are counted, and only the first
/// [`FAILING_SAMPLE_ROWS`] of them are kept. Gives the same result as [`evaluate`] on the same
/// rows.
pub fn evaluate_stored(
    asset: &AssetKey,
    partition: Option<&str>,
    check: &AssetCheckSpec,
    lf: &LazyFrame,
    newest_input: Option<SystemTime>,
) -> AssetCheckResult {
    let mut result = unevaluated(asset, partition, check);
    assemble(&mut result, run_stored(check, lf, newest_input));
    result
}

/// A result for `check` before it is evaluated: failed, nothing counted.
fn unevaluated(
    asset: &AssetKey,
    partition: Option<&str>,
    check: &AssetCheckSpec,
) -> AssetCheckResult {
    let description = if check.description.is_empty() {
        check.kind.default_description()
    } else {
        check.description.clone()
    };
    AssetCheckResult {
        asset: asset.clone(),
        partition: partition.map(str::to_owned),
        check_name: check.name.clone(),
        passed: false,
        severity: check.severity,
        blocking: check.blocking,
        description,
        failing_count: 0,
        failing_sample: Vec::new(),
        check_hash: definition_hash(check),
        materialization_run_id: None,
    }
}

fn assemble(result: &mut AssetCheckResult, outcome: PolarsResult<Outcome>) {
    match outcome {
        Ok(Outcome::Rows(failing)) => {
            result.failing_count = failing.height() as u64;
            result.passed = failing.height() == 0;
            result.failing_sample = rows_as_json(&failing, FAILING_SAMPLE_ROWS);
        }
        Ok(Outcome::Counted { count, sample }) => {
            result.failing_count = count;
            result.passed = count == 0;
            result.failing_sample = rows_as_json(&sample, FAILING_SAMPLE_ROWS);
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
}

/// A hash of what decides a check's verdict and its consequences — kind and parameters,
/// severity, blocking — but not its description. A stored result stands for the check only
/// while this hash matches; an edited check is evaluated again on the stored data.
pub fn definition_hash(check: &AssetCheckSpec) -> String {
    let definition =
        serde_json::to_string(&(&check.kind, check.severity, check.blocking)).unwrap_or_default();
    super::sha(&["check", &check.name, &definition])
}

enum Outcome {
    /// The rows that violate the check.
    Rows(DataFrame),
    /// How many rows violate the check, and the first of them.
    Counted { count: u64, sample: DataFrame },
    /// A verdict on the whole table.
    Table { passed: bool, detail: String },
}

fn failing(df: &DataFrame, violates: Expr) -> PolarsResult<DataFrame> {
    df.clone().lazy().filter(violates).collect()
}

/// The values of one integer column seen more than once, when they are dense (their span at
/// most 32 times the rows, or 65,536): two bitmaps over the span (seen, seen again) instead of
/// a hash table of every value, which at millions of keys misses the CPU's cache on every row.
/// Nulls are equal to each other, as in polars' `is_duplicated`.
struct Duplicates {
    lo: i64,
    span: u64,
    again: Vec<u64>,
    null_again: bool,
}

impl Duplicates {
    fn of(keys: &Series) -> PolarsResult<Option<Self>> {
        if !keys.dtype().is_integer() || keys.dtype() == &DataType::UInt64 {
            return Ok(None);
        }
        let keys = keys.cast(&DataType::Int64)?;
        let keys = keys.i64()?;
        let (Some(lo), Some(hi)) = (keys.min(), keys.max()) else {
            return Ok(None);
        };
        let span = u64::try_from(i128::from(hi) - i128::from(lo) + 1).unwrap_or(u64::MAX);
        if span > (32 * keys.len() as u64).max(1 << 16) {
            return Ok(None);
        }
        let words = span.div_ceil(64) as usize;
        let mut seen = vec![0u64; words];
        let mut again = vec![0u64; words];
        for v in keys.iter().flatten() {
            let i = v.wrapping_sub(lo) as u64;
            let (w, bit) = ((i >> 6) as usize, 1u64 << (i & 63));
            again[w] |= seen[w] & bit;
            seen[w] |= bit;
        }
        Ok(Some(Self {
            lo,
            span,
            again,
            null_again: keys.null_count() > 1,
        }))
    }

    /// Which of `keys` are duplicated.
    fn mask(&self, keys: &Series) -> PolarsResult<BooleanChunked> {
        let keys = keys.cast(&DataType::Int64)?;
        Ok(keys
            .i64()?
            .iter()
            .map(|v| {
                Some(v.map_or(self.null_again, |v| {
                    let i = v.wrapping_sub(self.lo) as u64;
                    i < self.span && (self.again[(i >> 6) as usize] >> (i & 63)) & 1 == 1
                }))
            })
            .collect::<BooleanChunked>()
            .with_name(keys.name().clone()))
    }
}

/// Fails with a sentence when a column the check names is not in the table.
fn require_columns(schema: &Schema, columns: &[&str]) -> PolarsResult<()> {
    for c in columns {
        if schema.get(c).is_none() {
            polars_bail!(ColumnNotFound: "column `{c}` does not exist (columns: {})", schema.iter_names().map(PlSmallStr::as_str).collect::<Vec<_>>().join(", "));
        }
    }
    Ok(())
}

fn run(
    check: &AssetCheckSpec,
    df: &DataFrame,
    newest_input: Option<SystemTime>,
) -> PolarsResult<Outcome> {
    let schema = df.schema();
    if !matches!(check.kind, CheckKind::Schema { .. }) {
        require_columns(schema, &check.kind.columns())?;
    }
    if let Some(verdict) = verdict(&check.kind, schema, df.height() as u64, newest_input) {
        return Ok(verdict);
    }
    Ok(match &check.kind {
        CheckKind::Unique { columns } => {
            if let [one] = columns.as_slice()
                && let Some(dups) = Duplicates::of(df.column(one)?.as_materialized_series())?
            {
                let mask = dups.mask(df.column(one)?.as_materialized_series())?;
                return Ok(Outcome::Rows(df.filter(&mask)?));
            }
            let key = match columns.as_slice() {
                [one] => col(one.as_str()),
                many => as_struct(many.iter().map(|c| col(c.as_str())).collect()),
            };
            Outcome::Rows(failing(df, key.is_duplicated())?)
        }
        kind => Outcome::Rows(failing(df, violation(kind)?)?),
    })
}

/// The verdict of a check on the whole table (row count, schema, freshness), from its schema
/// and row count alone; `None` for checks that look at rows.
fn verdict(
    kind: &CheckKind,
    schema: &Schema,
    rows: u64,
    newest_input: Option<SystemTime>,
) -> Option<Outcome> {
    Some(match kind {
        CheckKind::RowCount { min, max } => {
            let passed = min.is_none_or(|lo| rows >= lo) && max.is_none_or(|hi| rows <= hi);
            Outcome::Table {
                passed,
                detail: format!("{rows} rows"),
            }
        }
        CheckKind::Schema { columns } => {
            let mut problems = Vec::new();
            for (name, expected) in columns {
                match schema.get(name) {
                    None => problems.push(format!("`{name}` is missing")),
                    Some(dtype) if !type_matches(dtype, *expected) => {
                        problems.push(format!("`{name}` is {dtype}, expected {expected}"));
                    }
                    Some(_) => {}
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
        _ => return None,
    })
}

/// The predicate a row violates, for checks that judge rows one by one.
fn violation(kind: &CheckKind) -> PolarsResult<Expr> {
    Ok(match kind {
        CheckKind::NotNull { columns } => any_horizontal(
            columns
                .iter()
                .map(|c| col(c.as_str()).is_null())
                .collect::<Vec<_>>(),
        )?,
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
            c.clone()
                .is_not_null()
                .and(c.str().contains(lit(pattern), true).not())
        }
        CheckKind::AcceptedValues { column, values } => {
            let accepted = Series::new("accepted".into(), values.clone());
            let c = col(column.as_str()).cast(DataType::String);
            c.clone()
                .is_not_null()
                .and(c.is_in(lit(accepted).implode(false), false).not())
        }
        CheckKind::Expression { predicate } => polars::sql::sql_expr(predicate)?.not(),
        CheckKind::Unique { .. }
        | CheckKind::RowCount { .. }
        | CheckKind::Schema { .. }
        | CheckKind::Freshness { .. } => {
            polars_bail!(InvalidOperation: "{} is not a row-by-row check", kind.default_description())
        }
    })
}

/// The column a count comes back in.
const COUNT: &str = "__medallion_count";

/// Runs a one-row count query (column [`COUNT`]) and a query for the first failing rows
/// together, with the streaming engine (one pass where polars can share the scan).
fn counted(count: LazyFrame, sample: LazyFrame) -> PolarsResult<Outcome> {
    let mut frames = LazyFrame::collect_all_with_engine(
        vec![count.logical_plan, sample.logical_plan],
        Engine::Streaming,
        OptFlags::default(),
    )?;
    let sample = frames.pop().unwrap_or_default();
    let count = frames
        .pop()
        .and_then(|df| df.column(COUNT).ok()?.get(0).ok()?.extract::<u64>())
        .unwrap_or(0);
    Ok(Outcome::Counted { count, sample })
}

/// [`run`] on a stored table: lazy queries run by the streaming engine.
fn run_stored(
    check: &AssetCheckSpec,
    lf: &LazyFrame,
    newest_input: Option<SystemTime>,
) -> PolarsResult<Outcome> {
    let schema = lf.clone().collect_schema()?;
    if !matches!(check.kind, CheckKind::Schema { .. }) {
        require_columns(&schema, &check.kind.columns())?;
    }
    if matches!(
        check.kind,
        CheckKind::RowCount { .. } | CheckKind::Schema { .. } | CheckKind::Freshness { .. }
    ) {
        // A Parquet scan counts its rows from the file's metadata.
        let rows = lf
            .clone()
            .select([len().alias(COUNT)])
            .collect()?
            .column(COUNT)?
            .get(0)?
            .extract::<u64>()
            .unwrap_or(0);
        if let Some(verdict) = verdict(&check.kind, &schema, rows, newest_input) {
            return Ok(verdict);
        }
    }
    if let CheckKind::Unique { columns } = &check.kind
        && let [one] = columns.as_slice()
        && matches!(schema.get(one.as_str()), Some(dtype) if dtype.is_integer())
    {
        let keys = lf
            .clone()
            .select([col(one.as_str())])
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single();
        let keys = keys.column(one)?.as_materialized_series();
        if let Some(dups) = Duplicates::of(keys)? {
            let count = dups.mask(keys)?.sum().unwrap_or(0);
            let dups = std::sync::Arc::new(dups);
            let sample = lf
                .clone()
                .filter(col(one.as_str()).map(
                    move |c: Column| Ok(dups.mask(c.as_materialized_series())?.into_column()),
                    |_, f| Ok(Field::new(f.name().clone(), DataType::Boolean)),
                ))
                .limit(FAILING_SAMPLE_ROWS as IdxSize)
                .collect_with_engine(Engine::Streaming)?
                .unwrap_single();
            return Ok(Outcome::Counted {
                count: u64::from(count),
                sample,
            });
        }
    }
    if let CheckKind::Unique { columns } = &check.kind {
        // Keys seen more than once, from a streaming group-by; their rows are counted from the
        // group sizes, and the first of them found with a semi-join that keeps table order.
        // Nulls are equal to each other, as in `is_duplicated`.
        let keys: Vec<Expr> = columns.iter().map(|c| col(c.as_str())).collect();
        let duplicated = lf
            .clone()
            .group_by(keys.clone())
            .agg([len().alias(COUNT)])
            .filter(col(COUNT).gt(lit(1)));
        let mut args = JoinArgs::new(JoinType::Semi);
        args.nulls_equal = true;
        args.maintain_order = MaintainOrderJoin::Left;
        let sample = lf
            .clone()
            .join(
                duplicated.clone().select(keys.clone()),
                keys.clone(),
                keys,
                args,
            )
            .limit(FAILING_SAMPLE_ROWS as IdxSize);
        return counted(
            duplicated.select([col(COUNT).sum().cast(DataType::UInt64).alias(COUNT)]),
            sample,
        );
    }
    let failing = lf.clone().filter(violation(&check.kind)?);
    counted(
        failing
            .clone()
            .select([len().cast(DataType::UInt64).alias(COUNT)]),
        failing.limit(FAILING_SAMPLE_ROWS as IdxSize),
    )
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

    /// Every kind of check gives the same result on a stored table, read lazily by the
    /// streaming engine, as on the same rows in memory: passed, counts, samples, sentences.
    #[test]
    fn a_stored_table_is_checked_like_one_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        // Enough rows for several morsels, with nulls and duplicate keys far apart.
        let n = 300_000i64;
        let ids: Vec<i64> = (0..n)
            .map(|i| if i % 100_000 == 7 { 5 } else { i })
            .collect();
        let email: Vec<Option<String>> = (0..n)
            .map(|i| (i % 70_001 != 3).then(|| format!("u{i}@x.io")))
            .collect();
        let pair: Vec<Option<i64>> = (0..n)
            .map(|i| (i % 150_000 != 9).then_some(i % 3))
            .collect();
        let mut df = df!("id" => ids, "email" => email, "pair" => pair).unwrap();
        let file = std::fs::File::create(&path).unwrap();
        ParquetWriter::new(file).finish(&mut df).unwrap();
        let lf = LazyFrame::scan_parquet(
            PlRefPath::new(path.to_str().unwrap()),
            ScanArgsParquet::default(),
        )
        .unwrap();
        let kinds = [
            CheckKind::NotNull {
                columns: cols(&["email"]),
            },
            CheckKind::NotNull {
                columns: cols(&["id", "email", "pair"]),
            },
            CheckKind::NotNull {
                columns: cols(&["id"]),
            },
            CheckKind::Unique {
                columns: cols(&["id"]),
            },
            CheckKind::Unique {
                columns: cols(&["email"]),
            },
            CheckKind::Unique {
                columns: cols(&["pair", "id"]),
            },
            CheckKind::RowCount {
                min: Some(1),
                max: Some(10),
            },
            CheckKind::Schema {
                columns: vec![
                    ("id".into(), ModelType::Int64),
                    ("nope".into(), ModelType::Int64),
                ],
            },
            CheckKind::Freshness { max_lag_minutes: 5 },
            CheckKind::Regex {
                column: "email".into(),
                pattern: r"^u[0-9]*1@".into(),
                full_match: false,
            },
            CheckKind::AcceptedValues {
                column: "pair".into(),
                values: cols(&["0", "1"]),
            },
            CheckKind::Expression {
                predicate: "id < 299990".into(),
            },
            CheckKind::Expression {
                predicate: "no_such_column > 1".into(),
            },
            CheckKind::NotNull {
                columns: cols(&["missing"]),
            },
        ];
        let key = AssetKey::new("t");
        let mut failed = 0;
        for kind in kinds {
            let spec = spec(kind);
            let mut memory = evaluate(&key, None, &spec, &df, None);
            let mut stored = evaluate_stored(&key, None, &spec, &lf, None);
            // polars appends the plan it failed on, which differs between engines.
            for r in [&mut memory, &mut stored] {
                r.description = r.description.lines().next().unwrap_or_default().to_owned();
            }
            assert_eq!(stored, memory, "{:?}", spec.kind);
            failed += usize::from(!memory.passed);
        }
        assert_eq!(
            failed, 12,
            "most of these checks fail, so counts and samples are compared"
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// A unique check on one integer column — dense or sparse values, nulls, several
        /// types — fails the rows polars' `is_duplicated` finds, in memory and on a stored
        /// table alike (count and first rows).
        #[test]
        fn unique_on_an_integer_column_fails_the_rows_is_duplicated_finds(
            ids in proptest::collection::vec(proptest::option::weighted(0.9, -4i64..40), 0..60),
            stretch in proptest::sample::select(vec![1i64, 1_000_000_007]),
            dtype in proptest::sample::select(vec![DataType::Int64, DataType::Int32, DataType::UInt32, DataType::UInt64]),
        ) {
            let ids: Vec<Option<i64>> = ids.iter().map(|v| v.map(|v| v * stretch)).collect();
            let n = ids.len() as i64;
            let df = df!("id" => ids, "n" => (0..n).collect::<Vec<_>>())
                .unwrap()
                .lazy()
                .with_columns([col("id").cast(dtype)])
                .collect()
                .unwrap();
            let want = df.clone().lazy().filter(col("id").is_duplicated()).collect().unwrap();
            let spec = spec(CheckKind::Unique { columns: cols(&["id"]) });
            let key = AssetKey::new("t");
            let memory = evaluate(&key, None, &spec, &df, None);
            proptest::prop_assert_eq!(memory.failing_count, want.height() as u64);
            proptest::prop_assert_eq!(&memory.failing_sample, &rows_as_json(&want, FAILING_SAMPLE_ROWS));
            let stored = evaluate_stored(&key, None, &spec, &df.clone().lazy(), None);
            proptest::prop_assert_eq!(stored, memory);
        }
    }
}
