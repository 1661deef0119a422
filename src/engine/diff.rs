//! Data diff: how two versions of one table differ (`medallion diff`), computed lazily with
//! polars on the two Parquet files, so millions of rows compare without loading either whole.
//!
//! With a key, rows are matched by it: rows only in A, only in B, changed rows, and per column
//! how many matched rows differ, with examples. Without a key, whole rows are compared as
//! multisets (a row that appears twice in A and once in B counts once as "only in A").
//! Nulls compare equal to nulls, as a data engineer reading a diff expects.

use std::path::Path;

use polars::prelude::*;
use serde::Serialize;

/// How many example rows are kept per kind of difference.
pub const EXAMPLES: usize = 5;

/// What two versions of a table have in common and where they differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableDiff {
    /// The columns rows are matched by; empty when whole rows were compared.
    pub key: Vec<String>,
    pub rows_a: u64,
    pub rows_b: u64,
    pub only_in_a: u64,
    pub only_in_b: u64,
    /// Rows matched by key whose other columns differ (always 0 without a key).
    pub changed: u64,
    /// Rows present in both with the same values.
    pub unchanged: u64,
    pub schema_changes: Vec<SchemaChange>,
    /// Per column in both versions (key columns excepted): matched rows where it differs.
    pub columns: Vec<ColumnChanges>,
    /// Up to [`EXAMPLES`] rows only in A, and only in B, as `column=value` lists.
    pub examples_only_in_a: Vec<Vec<(String, String)>>,
    pub examples_only_in_b: Vec<Vec<(String, String)>>,
}

impl TableDiff {
    /// No row and no column differs.
    pub fn is_empty(&self) -> bool {
        self.only_in_a == 0
            && self.only_in_b == 0
            && self.changed == 0
            && self.schema_changes.is_empty()
    }
}

/// A column added, removed or retyped between A and B.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum SchemaChange {
    Added {
        column: String,
        dtype: String,
    },
    Removed {
        column: String,
        dtype: String,
    },
    Retyped {
        column: String,
        from: String,
        to: String,
    },
}

/// How one column differs across rows matched by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnChanges {
    pub column: String,
    pub changed: u64,
    /// Up to [`EXAMPLES`]: the row's key as `column=value` pairs, the value in A, the value in B.
    pub examples: Vec<ValueChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueChange {
    pub key: Vec<(String, String)>,
    pub a: String,
    pub b: String,
}

/// Why two tables could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("key column `{column}` is not in {side}")]
    MissingKey { column: String, side: &'static str },
    #[error(
        "the key ({key}) does not identify rows: {duplicates} key value(s) repeat in {side}; choose another --key"
    )]
    KeyNotUnique {
        key: String,
        duplicates: u64,
        side: &'static str,
    },
    #[error(
        "column `{column}` of {side} is named like Medallion's own columns (`{RESERVED}…`, `…{B_SUFFIX}`); rename it to compare"
    )]
    Reserved { column: String, side: &'static str },
    #[error("comparing the tables failed: {0}")]
    Compute(String),
}

fn compute(e: &PolarsError) -> DiffError {
    DiffError::Compute(e.to_string())
}

/// Suffix polars gives B's copy of a column in the joined frame.
const B_SUFFIX: &str = "__medallion_b";

// The comparison's own working columns. Their names begin with `RESERVED`, and B's copies of
// columns end with `B_SUFFIX`, which the tables compared may not: no column of theirs takes
// one's place.
const N_COLUMN: &str = "__medallion_n";
const CHANGED: &str = "__medallion_changed";
const MATCHED: &str = "__medallion_matched";
const N_A: &str = "__medallion_n_a";
const N_B: &str = "__medallion_n_b";
const ONLY_A: &str = "__medallion_only_a";
const ONLY_B: &str = "__medallion_only_b";
const VALUE_A: &str = "__medallion_value_a";
const VALUE_B: &str = "__medallion_value_b";

/// How a compared table's column names may not begin.
const RESERVED: &str = "__medallion_";

/// Compares the Parquet files `a` and `b`, matching rows by `key` (whole rows when empty).
pub fn diff_parquet(a: &Path, b: &Path, key: &[String]) -> Result<TableDiff, DiffError> {
    let open = |p: &Path| {
        let read = |e: PolarsError| DiffError::Read {
            path: p.display().to_string(),
            message: e.to_string(),
        };
        let path = PlRefPath::new(p.to_string_lossy().as_ref());
        let mut lf = LazyFrame::scan_parquet(path, ScanArgsParquet::default()).map_err(read)?;
        let schema = lf.collect_schema().map_err(read)?;
        Ok::<_, DiffError>((lf, schema))
    };
    let (a, schema_a) = open(a)?;
    let (b, schema_b) = open(b)?;
    diff_frames(a, &schema_a, b, &schema_b, key)
}

/// Compares two lazy frames of the given schemas (see [`diff_parquet`]).
pub fn diff_frames(
    a: LazyFrame,
    schema_a: &Schema,
    b: LazyFrame,
    schema_b: &Schema,
    key: &[String],
) -> Result<TableDiff, DiffError> {
    for (schema, side) in [(schema_a, "A"), (schema_b, "B")] {
        let ours = |n: &&PlSmallStr| n.starts_with(RESERVED) || n.ends_with(B_SUFFIX);
        if let Some(name) = schema.iter_names().find(ours) {
            return Err(DiffError::Reserved {
                column: name.to_string(),
                side,
            });
        }
    }
    for column in key {
        for (schema, side) in [(schema_a, "A"), (schema_b, "B")] {
            if schema.get(column.as_str()).is_none() {
                return Err(DiffError::MissingKey {
                    column: column.clone(),
                    side,
                });
            }
        }
    }
    let schema_changes = schema_changes(schema_a, schema_b);
    // Columns in both, each compared as its own type, or as text when it was retyped.
    let common: Vec<(String, bool)> = schema_a
        .iter()
        .filter_map(|(name, dtype)| {
            let other = schema_b.get(name.as_str())?;
            Some((name.to_string(), other != dtype))
        })
        .collect();
    let aligned = |lf: LazyFrame| {
        lf.select(
            common
                .iter()
                .map(|(c, retyped)| {
                    if *retyped {
                        col(c.as_str()).cast(DataType::String)
                    } else {
                        col(c.as_str())
                    }
                })
                .collect::<Vec<_>>(),
        )
    };
    let (a, b) = (aligned(a), aligned(b));
    let rows_a = count(a.clone())?;
    let rows_b = count(b.clone())?;
    let mut diff = TableDiff {
        key: key.to_vec(),
        rows_a,
        rows_b,
        only_in_a: 0,
        only_in_b: 0,
        changed: 0,
        unchanged: 0,
        schema_changes,
        columns: Vec::new(),
        examples_only_in_a: Vec::new(),
        examples_only_in_b: Vec::new(),
    };
    let names: Vec<String> = common.into_iter().map(|(c, _)| c).collect();
    if key.is_empty() {
        compare_whole_rows(&a, &b, &names, &mut diff)?;
    } else {
        check_unique(&a, key, "A")?;
        check_unique(&b, key, "B")?;
        compare_by_key(&a, &b, key, &names, &mut diff)?;
    }
    Ok(diff)
}

fn schema_changes(a: &Schema, b: &Schema) -> Vec<SchemaChange> {
    let mut out = Vec::new();
    for (name, dtype) in a.iter() {
        match b.get(name.as_str()) {
            None => out.push(SchemaChange::Removed {
                column: name.to_string(),
                dtype: dtype.to_string(),
            }),
            Some(other) if other != dtype => out.push(SchemaChange::Retyped {
                column: name.to_string(),
                from: dtype.to_string(),
                to: other.to_string(),
            }),
            Some(_) => {}
        }
    }
    for (name, dtype) in b.iter() {
        if a.get(name.as_str()).is_none() {
            out.push(SchemaChange::Added {
                column: name.to_string(),
                dtype: dtype.to_string(),
            });
        }
    }
    out
}

fn count(lf: LazyFrame) -> Result<u64, DiffError> {
    let df = lf
        .select([len().cast(DataType::UInt64).alias("n")])
        .collect()
        .map_err(|e| compute(&e))?;
    first_u64(&df, "n")
}

fn first_u64(df: &DataFrame, column: &str) -> Result<u64, DiffError> {
    let value = df
        .column(column)
        .and_then(|c| c.get(0).map(AnyValue::into_static))
        .map_err(|e| compute(&e))?;
    Ok(value.extract::<u64>().unwrap_or(0))
}

fn exprs(names: &[String]) -> Vec<Expr> {
    names.iter().map(|c| col(c.as_str())).collect()
}

fn join_args(how: JoinType) -> JoinArgs {
    let mut args = JoinArgs::new(how);
    args.nulls_equal = true;
    args.suffix = Some(B_SUFFIX.into());
    args.coalesce = JoinCoalesce::CoalesceColumns;
    args
}

fn check_unique(lf: &LazyFrame, key: &[String], side: &'static str) -> Result<(), DiffError> {
    let repeated = lf
        .clone()
        .group_by(exprs(key))
        .agg([len().alias(N_COLUMN)])
        .filter(col(N_COLUMN).gt(lit(1)));
    let duplicates = count(repeated)?;
    if duplicates > 0 {
        return Err(DiffError::KeyNotUnique {
            key: key.join(", "),
            duplicates,
            side,
        });
    }
    Ok(())
}

fn compare_by_key(
    a: &LazyFrame,
    b: &LazyFrame,
    key: &[String],
    names: &[String],
    diff: &mut TableDiff,
) -> Result<(), DiffError> {
    let keys = exprs(key);
    let only = |x: &LazyFrame, y: &LazyFrame| {
        x.clone().join(
            y.clone().select(keys.clone()),
            keys.clone(),
            keys.clone(),
            join_args(JoinType::Anti),
        )
    };
    let only_a = only(a, b);
    let only_b = only(b, a);
    diff.only_in_a = count(only_a.clone())?;
    diff.only_in_b = count(only_b.clone())?;
    diff.examples_only_in_a = examples(only_a)?;
    diff.examples_only_in_b = examples(only_b)?;

    let values: Vec<&String> = names.iter().filter(|c| !key.contains(c)).collect();
    let joined = a
        .clone()
        .join(b.clone(), keys.clone(), keys, join_args(JoinType::Inner));
    let differs = |c: &str| col(c).neq_missing(col(format!("{c}{B_SUFFIX}").as_str()));
    let mut totals: Vec<Expr> = values
        .iter()
        .map(|c| differs(c).cast(DataType::UInt64).sum().alias(c.as_str()))
        .collect();
    let any = if values.is_empty() {
        lit(false)
    } else {
        any_horizontal(values.iter().map(|c| differs(c)).collect::<Vec<_>>())
            .map_err(|e| compute(&e))?
    };
    totals.push(any.cast(DataType::UInt64).sum().alias(CHANGED));
    totals.push(len().cast(DataType::UInt64).alias(MATCHED));
    let sums = joined
        .clone()
        .select(totals)
        .collect()
        .map_err(|e| compute(&e))?;
    diff.changed = first_u64(&sums, CHANGED)?;
    diff.unchanged = first_u64(&sums, MATCHED)?.saturating_sub(diff.changed);
    for c in values {
        let changed = first_u64(&sums, c)?;
        let examples = if changed == 0 {
            Vec::new()
        } else {
            value_examples(&joined, key, c, differs(c))?
        };
        diff.columns.push(ColumnChanges {
            column: c.clone(),
            changed,
            examples,
        });
    }
    Ok(())
}

/// Whole rows as multisets: each distinct row's count in A against its count in B.
fn compare_whole_rows(
    a: &LazyFrame,
    b: &LazyFrame,
    names: &[String],
    diff: &mut TableDiff,
) -> Result<(), DiffError> {
    if names.is_empty() {
        diff.only_in_a = diff.rows_a;
        diff.only_in_b = diff.rows_b;
        return Ok(());
    }
    let counted = |lf: &LazyFrame, n: &str| {
        lf.clone()
            .group_by(exprs(names))
            .agg([len().cast(DataType::Int64).alias(n)])
    };
    let joined = counted(a, N_A).join(
        counted(b, N_B),
        exprs(names),
        exprs(names),
        join_args(JoinType::Full),
    );
    let n_a = col(N_A).fill_null(lit(0i64));
    let n_b = col(N_B).fill_null(lit(0i64));
    let excess = |x: Expr, y: Expr| {
        let d = x - y;
        when(d.clone().gt(lit(0i64))).then(d).otherwise(lit(0i64))
    };
    let with_excess = joined.with_columns([
        excess(n_a.clone(), n_b.clone()).alias(ONLY_A),
        excess(n_b, n_a).alias(ONLY_B),
    ]);
    let sums = with_excess
        .clone()
        .select([
            col(ONLY_A).sum().cast(DataType::UInt64),
            col(ONLY_B).sum().cast(DataType::UInt64),
        ])
        .collect()
        .map_err(|e| compute(&e))?;
    diff.only_in_a = first_u64(&sums, ONLY_A)?;
    diff.only_in_b = first_u64(&sums, ONLY_B)?;
    diff.unchanged = diff.rows_a.saturating_sub(diff.only_in_a);
    let side = |flag: &str| {
        with_excess
            .clone()
            .filter(col(flag).gt(lit(0i64)))
            .select(exprs(names))
    };
    diff.examples_only_in_a = examples(side(ONLY_A))?;
    diff.examples_only_in_b = examples(side(ONLY_B))?;
    Ok(())
}

/// Up to [`EXAMPLES`] rows of `lf`, each as `column=value` pairs.
fn examples(lf: LazyFrame) -> Result<Vec<Vec<(String, String)>>, DiffError> {
    let df = lf
        .limit(EXAMPLES as IdxSize)
        .collect()
        .map_err(|e| compute(&e))?;
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut row = Vec::with_capacity(df.width());
        for c in df.columns() {
            row.push((c.name().to_string(), cell(c, i)?));
        }
        rows.push(row);
    }
    Ok(rows)
}

fn value_examples(
    joined: &LazyFrame,
    key: &[String],
    column: &str,
    differs: Expr,
) -> Result<Vec<ValueChange>, DiffError> {
    let b_name = format!("{column}{B_SUFFIX}");
    let mut select = exprs(key);
    select.push(col(column).alias(VALUE_A));
    select.push(col(b_name.as_str()).alias(VALUE_B));
    let df = joined
        .clone()
        .filter(differs)
        .select(select)
        .limit(EXAMPLES as IdxSize)
        .collect()
        .map_err(|e| compute(&e))?;
    let column_of = |name: &str| df.column(name).map_err(|e| compute(&e));
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut key_values = Vec::with_capacity(key.len());
        for k in key {
            key_values.push((k.clone(), cell(column_of(k)?, i)?));
        }
        out.push(ValueChange {
            key: key_values,
            a: cell(column_of(VALUE_A)?, i)?,
            b: cell(column_of(VALUE_B)?, i)?,
        });
    }
    Ok(out)
}

/// One cell as text: strings without quotes, nulls as `null`.
fn cell(column: &Column, row: usize) -> Result<String, DiffError> {
    let value = column.get(row).map_err(|e| compute(&e))?;
    Ok(match value {
        AnyValue::Null => "null".to_owned(),
        v => v.str_value().into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(df: DataFrame) -> (LazyFrame, Schema) {
        let schema = df.schema().as_ref().clone();
        (df.lazy(), schema)
    }

    fn diff(a: DataFrame, b: DataFrame, key: &[&str]) -> Result<TableDiff, DiffError> {
        let (a, sa) = frame(a);
        let (b, sb) = frame(b);
        let key: Vec<String> = key.iter().map(|k| (*k).to_owned()).collect();
        diff_frames(a, &sa, b, &sb, &key)
    }

    fn customers_a() -> DataFrame {
        df!(
            "id" => [1i64, 2, 3, 4],
            "name" => [Some("ann"), Some("bob"), None, Some("dan")],
            "spend" => [10.0f64, 20.0, 30.0, 40.0],
        )
        .unwrap()
    }

    #[test]
    fn by_key_counts_rows_only_in_each_side_changed_rows_and_changes_per_column() {
        // B: 1 unchanged, 2 renamed, 3 keeps its null name but spends more, 4 gone, 5 new.
        let b = df!(
            "id" => [1i64, 2, 3, 5],
            "name" => [Some("ann"), Some("robert"), None, Some("eve")],
            "spend" => [10.0f64, 20.0, 35.0, 50.0],
        )
        .unwrap();
        let d = diff(customers_a(), b, &["id"]).unwrap();
        assert_eq!((d.rows_a, d.rows_b), (4, 4));
        assert_eq!((d.only_in_a, d.only_in_b), (1, 1));
        assert_eq!((d.changed, d.unchanged), (2, 1));
        let by = |c: &str| d.columns.iter().find(|x| x.column == c).unwrap();
        assert_eq!(by("name").changed, 1, "null = null is no change");
        assert_eq!(by("spend").changed, 1);
        let ex = &by("name").examples[0];
        assert_eq!(ex.key, vec![("id".to_owned(), "2".to_owned())]);
        assert_eq!((ex.a.as_str(), ex.b.as_str()), ("bob", "robert"));
        assert_eq!(
            d.examples_only_in_a[0][0],
            ("id".to_owned(), "4".to_owned())
        );
        assert_eq!(
            d.examples_only_in_b[0][1],
            ("name".to_owned(), "eve".to_owned())
        );
        assert!(d.schema_changes.is_empty());
        assert!(!d.is_empty());
    }

    #[test]
    fn whole_rows_compare_as_multisets() {
        let a = df!("x" => [1i64, 1, 2, 3], "y" => ["a", "a", "b", "c"]).unwrap();
        let b = df!("x" => [1i64, 2, 2, 4], "y" => ["a", "b", "b", "d"]).unwrap();
        let d = diff(a, b, &[]).unwrap();
        // A has (1,a) twice and (3,c); B has (2,b) twice and (4,d).
        assert_eq!((d.only_in_a, d.only_in_b), (2, 2));
        assert_eq!(d.unchanged, 2);
        assert_eq!(d.changed, 0);
        let mut only_a: Vec<String> = d
            .examples_only_in_a
            .iter()
            .map(|r| format!("{}{}", r[0].1, r[1].1))
            .collect();
        only_a.sort();
        assert_eq!(only_a, ["1a", "3c"]);
    }

    #[test]
    fn columns_named_like_the_diffs_own_working_columns_compare_like_any_other() {
        // Names the comparison once used for its own counts, flags and values.
        let names = ["__n", "__changed", "__matched", "__a", "__b"];
        let table = |ids: [i64; 3], last: [i64; 3]| {
            let mut columns = vec![Column::new("__n_a".into(), ids)];
            for (i, n) in names.iter().enumerate() {
                let v: Vec<i64> = ids.iter().map(|x| x * 10 + i as i64).collect();
                columns.push(Column::new((*n).into(), v));
            }
            columns.push(Column::new("__only_a".into(), last));
            DataFrame::new(3, columns).unwrap()
        };
        let a = table([1, 2, 3], [7, 8, 9]);
        let b = table([1, 2, 4], [7, 0, 9]);
        // By a key named like the whole-row count, a value named like the unique-key count.
        let d = diff(a.clone(), b.clone(), &["__n_a"]).unwrap();
        assert_eq!(
            (d.only_in_a, d.only_in_b, d.changed, d.unchanged),
            (1, 1, 1, 1)
        );
        let changed: Vec<(&str, u64)> = d
            .columns
            .iter()
            .filter(|c| c.changed > 0)
            .map(|c| (c.column.as_str(), c.changed))
            .collect();
        assert_eq!(changed, [("__only_a", 1)]);
        assert_eq!(
            (
                d.columns[5].examples[0].a.as_str(),
                d.columns[5].examples[0].b.as_str()
            ),
            ("8", "0")
        );
        // Whole rows: 2 and 3 only in A, 2 (changed) and 4 only in B.
        let d = diff(a, b, &[]).unwrap();
        assert_eq!((d.only_in_a, d.only_in_b, d.unchanged), (2, 2, 1));
    }

    #[test]
    fn a_column_named_like_medallions_own_is_refused_in_one_sentence() {
        // `x` and `x__medallion_b` would both become B's copy of `x` in the join.
        let clash = df!("id" => [1i64], "x" => [2i64], "x__medallion_b" => [1i64]).unwrap();
        let message = diff(clash.clone(), clash, &["id"]).unwrap_err().to_string();
        assert_eq!(
            message,
            "column `x__medallion_b` of A is named like Medallion's own columns \
             (`__medallion_…`, `…__medallion_b`); rename it to compare"
        );
        let ours = df!("id" => [1i64], "__medallion_n" => [1i64]).unwrap();
        let message = diff(ours.clone(), ours, &[]).unwrap_err().to_string();
        assert!(
            message.starts_with("column `__medallion_n` of A is named like"),
            "{message}"
        );
        // Elsewhere in a name it takes no place of Medallion's own.
        let elsewhere = df!("id" => [1i64, 2], "n__medallion_count" => [1i64, 2]).unwrap();
        let same = diff(elsewhere.clone(), elsewhere, &["id"]).unwrap();
        assert_eq!((same.unchanged, same.changed), (2, 0));
    }

    #[test]
    fn identical_tables_have_an_empty_diff() {
        let d = diff(customers_a(), customers_a(), &["id"]).unwrap();
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(d.unchanged, 4);
        assert!(
            d.columns
                .iter()
                .all(|c| c.changed == 0 && c.examples.is_empty())
        );
    }

    #[test]
    fn schema_changes_are_named_and_a_retyped_column_compares_as_text() {
        let b = df!(
            "id" => [1i64, 2, 3, 4],
            "spend" => ["10.0", "20.0", "30.0", "41.0"],
            "tier" => ["a", "b", "c", "d"],
        )
        .unwrap();
        let d = diff(customers_a(), b, &["id"]).unwrap();
        assert_eq!(
            d.schema_changes,
            vec![
                SchemaChange::Removed {
                    column: "name".into(),
                    dtype: "str".into()
                },
                SchemaChange::Retyped {
                    column: "spend".into(),
                    from: "f64".into(),
                    to: "str".into()
                },
                SchemaChange::Added {
                    column: "tier".into(),
                    dtype: "str".into()
                },
            ]
        );
        let spend = d.columns.iter().find(|c| c.column == "spend").unwrap();
        assert_eq!(spend.changed, 1);
        assert_eq!(
            (spend.examples[0].a.as_str(), spend.examples[0].b.as_str()),
            ("40.0", "41.0")
        );
    }

    #[test]
    fn a_key_that_repeats_or_is_missing_is_refused_with_a_sentence() {
        let a = df!("id" => [1i64, 1, 2], "v" => [1i64, 2, 3]).unwrap();
        let e = diff(a.clone(), a.clone(), &["id"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the key (id) does not identify rows: 1 key value(s) repeat in A; choose another --key"
        );
        let e = diff(a.clone(), a, &["nope"]).unwrap_err();
        assert_eq!(e.to_string(), "key column `nope` is not in A");
    }
}
