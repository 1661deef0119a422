//! `keep_latest` over one integer or date key whose values are dense (ids numbered from 1):
//! each key's latest row is found in one pass over the key, the order column and the row
//! number — a state per key in an array indexed by `key - min` — and a second pass keeps the
//! rows found, in their input order. polars' plan for the step (see
//! [`super::transform::keep_latest`]) sorts the whole table by the order column and back by
//! row number; at 10,000,000 customers that sort of every column of `raw_customer_data` (10.3M
//! rows) was the run's most expensive step. Here nothing is sorted and the table streams
//! through, so a table of any size keeps the same rows in the same order, either engine.
//!
//! A key of another type, sparse keys, an order column that is not an integer, date, datetime
//! or duration, or several key columns leave the step to polars' plan.

use std::sync::{Arc, Mutex};

use polars::prelude::*;

use super::dense_group::{
    Part, Values, by_slot_in_blocks, dense_range, parts, read_twice_cheaply, readable,
};

/// The row number [`super::transform::keep_latest`] adds before sorting (and drops after).
pub(super) const ROW: &str = "__medallion_keep_latest_row";

/// A key without a row yet.
const NONE: u64 = u64::MAX;

/// Marks a key's best row whose order value is null (row numbers stay far below 2^63).
const NULL_ORDER: u64 = 1 << 63;

/// The rows of `input` (which carries the row number [`ROW`]) that keep the latest row per
/// `key` by `order_by`, as polars' plan keeps them: the greatest order value, a non-null one
/// over null (nulls last), and the first row among equals (the stable sort) — with the row
/// number still in, in input order. `None` when it does not apply (see the module's text).
///
/// # Errors
/// Those of reading `input`.
pub(super) fn keep_latest(
    input: &LazyFrame,
    key: &PlSmallStr,
    order_by: &PlSmallStr,
) -> PolarsResult<Option<LazyFrame>> {
    if !read_twice_cheaply(&input.logical_plan) {
        return Ok(None);
    }
    let schema = input.clone().collect_schema()?;
    let (Some(key_type), Some(order_type)) = (schema.get(key), schema.get(order_by)) else {
        return Ok(None);
    };
    if readable(key_type) != Some(false)
        || readable(order_type) != Some(false)
        || schema.get(ROW).is_none()
    {
        return Ok(None);
    }
    // A state is an order value and a row number: 16 bytes a key.
    let Some((lo, span)) = dense_range(input, key, 16)? else {
        return Ok(None);
    };
    let winners: Arc<[u64]> = latest_rows(input, key, order_by, lo, span)?.into();
    let keep = map_multiple(
        move |columns: &mut [Column]| {
            let keys = columns[0].to_physical_repr().cast(&DataType::Int64)?;
            let rows = columns[1].cast(&DataType::UInt64)?;
            let kept: BooleanChunked = keys
                .i64()?
                .iter()
                .zip(rows.u64()?.iter())
                .map(|(k, row)| {
                    let slot = match k {
                        Some(k) => k.wrapping_sub(lo) as u64,
                        None => span,
                    };
                    // A key outside the range read before is never kept (it cannot occur:
                    // both passes read the same rows).
                    slot <= span && row.is_some_and(|r| winners[slot as usize] == r)
                })
                .collect();
            Ok(kept.into_column())
        },
        [col(key.clone()), col(ROW)],
        |_, fields| Ok(Field::new(fields[0].name().clone(), DataType::Boolean)),
    );
    Ok(Some(input.clone().filter(keep)))
}

/// Each key's latest row number (the null key's after the `span` others), [`NONE`] for a key
/// without rows.
fn latest_rows(
    input: &LazyFrame,
    key: &PlSmallStr,
    order_by: &PlSmallStr,
    lo: i64,
    span: u64,
) -> PolarsResult<Vec<u64>> {
    let best = vec![(0i64, NONE); span as usize + 1];
    let poisoned = || polars_err!(ComputeError: "a keep_latest state was poisoned");
    let shared = Arc::new(Mutex::new(best));
    let sink = Arc::clone(&shared);
    let (key_name, order_name) = (key.clone(), order_by.clone());
    input
        .clone()
        .select([col(key.clone()), col(order_by.clone()), col(ROW)])
        .sink_batches(
            PlanCallback::new(move |df: DataFrame| {
                let mut best = sink.lock().map_err(|_| poisoned())?;
                consider(&mut best, lo, span, &key_name, &order_name, &df)?;
                Ok(false)
            }),
            false,
            None,
        )?
        .collect_with_engine(Engine::Streaming)?;
    let mut best = shared.lock().map_err(|_| poisoned())?;
    Ok(std::mem::take(&mut *best)
        .into_iter()
        .map(|(_, row)| if row == NONE { NONE } else { row & !NULL_ORDER })
        .collect())
}

/// Whether a row (`order`, `row`) comes before a key's best so far in polars' plan: a greater
/// order value, a non-null over a null, and among equals the earlier row.
fn better((best_order, best_row): (i64, u64), order: Option<i64>, row: u64) -> bool {
    if best_row == NONE {
        return true;
    }
    let best_is_null = best_row & NULL_ORDER != 0;
    let best_row = best_row & !NULL_ORDER;
    match order {
        Some(o) => best_is_null || o > best_order || (o == best_order && row < best_row),
        None => best_is_null && row < best_row,
    }
}

/// Takes a batch's rows into the keys' best rows.
fn consider(
    best: &mut [(i64, u64)],
    lo: i64,
    span: u64,
    key: &str,
    order_by: &str,
    df: &DataFrame,
) -> PolarsResult<()> {
    let (Values::Narrow(keys), Values::Narrow(orders)) = (
        Values::read(df, key, false)?,
        Values::read(df, order_by, false)?,
    ) else {
        return Ok(());
    };
    let rows = df
        .column(ROW)?
        .cast(&DataType::UInt64)?
        .u64()?
        .rechunk()
        .into_owned();
    let (keys, key_valid): Part<'_, i64> = parts(&keys);
    let (orders, order_valid): Part<'_, i64> = parts(&orders);
    let (rows, _) = parts(&rows);
    let valid = |v: &Option<Vec<bool>>, i: usize| v.as_ref().is_none_or(|v| v[i]);
    // A block of rows' keys looked up together (as `dense_group` does).
    by_slot_in_blocks(
        best,
        (keys, &key_valid),
        lo,
        span,
        |best, s| best[s].1,
        |best, i, s| {
            let order = valid(&order_valid, i).then(|| orders[i]);
            if better(best[s], order, rows[i]) {
                best[s] = match order {
                    Some(o) => (o, rows[i]),
                    None => (0, rows[i] | NULL_ORDER),
                };
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::transform::{apply, prepare_for_memory, prepare_for_streaming};
    use crate::model::{AssetKey, TransformSpec, TransformStep};

    fn latest(key: &str) -> TransformSpec {
        TransformSpec {
            sql: None,
            steps: vec![TransformStep::KeepLatest {
                key: key.split(',').map(str::to_owned).collect(),
                order_by: "t".to_owned(),
            }],
        }
    }

    /// The step's lazy frame over `df` (`key`: columns joined by commas): polars' plan as
    /// written, and prepared for each engine.
    fn plans(df: &DataFrame, key: &str) -> (LazyFrame, LazyFrame, LazyFrame) {
        let upstream: BTreeMap<AssetKey, LazyFrame> = [(AssetKey::new("up"), df.clone().lazy())]
            .into_iter()
            .collect();
        let lf = apply(&AssetKey::new("a"), &latest(key), &upstream, None).unwrap();
        (
            lf.clone(),
            prepare_for_memory(lf.clone()),
            prepare_for_streaming(lf),
        )
    }

    /// Whether a plan still sorts (polars' own plan) or was computed densely.
    fn sorts(lf: &LazyFrame) -> bool {
        lf.describe_plan().unwrap().contains("SORT")
    }

    #[test]
    fn the_latest_row_per_key_in_input_order_nulls_last_and_first_among_equals() {
        let df = df!(
            "k" => [Some(2i64), Some(1), Some(2), Some(1), None, Some(3), None, Some(3), Some(4)],
            "t" => [Some(5i64), Some(7), Some(9), Some(7), Some(1), None, Some(2), None, None],
            "x" => ["a", "b", "c", "d", "e", "f", "g", "h", "i"],
        )
        .unwrap();
        let (written, memory, streaming) = plans(&df, "k");
        assert!(
            !sorts(&memory) && !sorts(&streaming),
            "dense keys are not sorted"
        );
        assert!(sorts(&written));
        // key 1: two rows at t = 7, the first (b); key 2: t = 9 (c); null key: t = 2 (g); key 3:
        // only nulls, the first (f); key 4: i. In input order.
        let streamed = streaming
            .collect_with_engine(Engine::Streaming)
            .unwrap()
            .unwrap_single();
        for out in [
            written.collect().unwrap(),
            memory.collect().unwrap(),
            streamed,
        ] {
            let x: Vec<&str> = out
                .column("x")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .flatten()
                .collect();
            assert_eq!(x, ["b", "c", "f", "g", "i"]);
            assert_eq!(out.get_column_names(), ["k", "t", "x"]);
        }
    }

    #[test]
    fn sparse_keys_and_other_types_are_left_to_polars() {
        let sparse = df!("k" => [1i64, 1_000_000_000, 1], "t" => [1i64, 2, 3]).unwrap();
        let text = df!("k" => ["a", "b", "a"], "t" => [1i64, 2, 3]).unwrap();
        let floats = df!("k" => [1i64, 2, 1], "t" => [1.0f64, 2.0, 3.0]).unwrap();
        let two =
            df!("k" => [1i64, 1, 2, 1], "j" => [1i64, 2, 1, 1], "t" => [1i64, 2, 3, 4]).unwrap();
        for (df, key) in [(sparse, "k"), (text, "k"), (floats, "k"), (two, "k,j")] {
            let (written, memory, streaming) = plans(&df, key);
            assert!(sorts(&memory) && sorts(&streaming), "{df}");
            let want = written.collect().unwrap();
            assert!(want.equals_missing(&memory.collect().unwrap()));
            let streamed = streaming
                .collect_with_engine(Engine::Streaming)
                .unwrap()
                .unwrap_single();
            assert!(want.equals_missing(&streamed), "{want} vs {streamed}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Random keys (dense and far apart, with nulls), order values with nulls and ties, of
        /// integer, date and datetime types: the dense step keeps polars' rows in polars'
        /// order, on both engines.
        #[test]
        fn dense_keep_latest_gives_the_rows_of_polars_own_plan(
            rows in proptest::collection::vec(
                (
                    proptest::option::weighted(0.9, -3i64..20),
                    proptest::option::weighted(0.8, -5i64..5),
                ),
                0..60,
            ),
            stretch in proptest::sample::select(vec![1i64, 1_000_003]),
            order_type in proptest::sample::select(vec![
                DataType::Int64,
                DataType::Date,
                DataType::Datetime(TimeUnit::Microseconds, None),
            ]),
            key_type in proptest::sample::select(vec![DataType::Int64, DataType::Int32]),
        ) {
            let n = rows.len();
            let df = df!(
                "k" => rows.iter().map(|r| r.0.map(|k| k * stretch)).collect::<Vec<_>>(),
                "t" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                "x" => (0..n as i64).collect::<Vec<_>>(),
            )
            .unwrap()
            .lazy()
            .with_columns([
                col("k").cast(key_type.clone()),
                if order_type == DataType::Date {
                    col("t").cast(DataType::Int32).cast(DataType::Date)
                } else {
                    col("t").cast(order_type.clone())
                },
            ])
            .collect()
            .unwrap();
            let (written, memory, streaming) = plans(&df, "k");
            let keys: Vec<i64> = rows.iter().filter_map(|r| r.0.map(|k| k * stretch)).collect();
            let dense = match (keys.iter().min(), keys.iter().max()) {
                (Some(lo), Some(hi)) => hi - lo < (2 * n as i64).max(1 << 16),
                _ => false,
            };
            proptest::prop_assert_eq!(!sorts(&memory), dense, "dense: {:?}", rows);
            let want = written.collect().unwrap();
            let got = memory.collect().unwrap();
            proptest::prop_assert!(got.equals_missing(&want), "{got} vs {want}");
            let got = streaming.collect_with_engine(Engine::Streaming).unwrap().unwrap_single();
            proptest::prop_assert!(got.equals_missing(&want), "{got} vs {want}");
        }
    }
}
