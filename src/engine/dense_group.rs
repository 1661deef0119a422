//! `GROUP BY` one integer or date key whose values are dense (ids numbered from 1, days): the
//! groups' states sit in one array indexed by `key - min` (a "perfect hash" aggregation, as
//! `DuckDB` has) instead of a hash table. With millions of groups a hash table misses the CPU's
//! cache several times a row (its slot, then each aggregate's own vector); here a row touches
//! one cache line of states. The example's `customer_lifetime_value` at 10,000,000 customers
//! groups 78,000,000 orders into 9,800,000 customers.
//!
//! Only aggregates whose results are exact either way are taken — row counts, non-null counts,
//! and sums, minimums and maximums of integers, decimals, dates, datetimes and durations (not
//! floats, whose sums depend on the order of addition) — each optionally under casts, as
//! polars' SQL writes them (its `SUM` is null for a group without a non-null value). Anything
//! else, a sparse key or a key of another type leaves the grouping to polars.

use std::sync::{Arc, Mutex};

use polars::prelude::*;

/// Rows whose groups are looked up together (see [`accumulate`]).
const BLOCK: usize = 32;

/// The most memory the groups' states may take.
const MAX_STATE_BYTES: u64 = 1 << 30;

/// What an aggregate computes per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `len()`: rows of the group.
    Len,
    /// `count(c)`: non-null values.
    Count,
    /// `sum(c)`; `sql`: null for a group without a non-null value (polars: 0).
    Sum {
        sql: bool,
    },
    Min,
    Max,
}

/// One aggregate: what it computes, over which column (read as `i64` or `i128`), and where its
/// state sits in a group's words.
struct Agg {
    kind: Kind,
    column: Option<PlSmallStr>,
    wide: bool,
    /// Offset of its words: a non-null count, then the value (1 word, or 2 for `i128`).
    offset: usize,
    /// The expression polars would compute for it (for the output type).
    core: Expr,
    /// Its column in the aggregated frame.
    tmp: PlSmallStr,
    /// The original aggregate with `core` replaced by `col(tmp)`.
    output: Expr,
}

impl Agg {
    fn words(&self) -> usize {
        match self.kind {
            Kind::Len => 0,
            Kind::Count => 1,
            _ => 1 + if self.wide { 2 } else { 1 },
        }
    }
}

/// The aggregate at the heart of `e` (under aliases and casts), if it is one this computes.
fn core_of(e: &Expr) -> Option<(Kind, Option<PlSmallStr>, Expr)> {
    match e {
        Expr::Alias(inner, _) | Expr::Cast { expr: inner, .. } => core_of(inner),
        Expr::Len => Some((Kind::Len, None, e.clone())),
        Expr::Agg(agg) => {
            let (kind, input) = match agg {
                AggExpr::Count {
                    input,
                    include_nulls: false,
                } => (Kind::Count, input),
                AggExpr::Sum(input) => (Kind::Sum { sql: false }, input),
                AggExpr::Min { input, .. } => (Kind::Min, input),
                AggExpr::Max { input, .. } => (Kind::Max, input),
                _ => return None,
            };
            let Expr::Column(name) = input.as_ref() else {
                return None;
            };
            Some((kind, Some(name.clone()), e.clone()))
        }
        // polars' SQL `SUM(c)`: when(c.null_count() < c.len()).then(c.sum()).otherwise(null)
        Expr::Ternary {
            predicate,
            truthy,
            falsy,
        } => {
            let Expr::Agg(AggExpr::Sum(input)) = truthy.as_ref() else {
                return None;
            };
            let Expr::Column(name) = input.as_ref() else {
                return None;
            };
            let c = col(name.clone());
            let is_null = matches!(falsy.as_ref(), Expr::Literal(l) if l.is_null());
            (is_null && **predicate == c.clone().null_count().lt(c.len()))
                .then(|| (Kind::Sum { sql: true }, Some(name.clone()), e.clone()))
        }
        _ => None,
    }
}

/// Whether a column of this type is read as `Some(wide)` (`i128`: decimals) or `Some(false)`
/// (`i64`), or not at all.
pub(super) fn readable(dtype: &DataType) -> Option<bool> {
    use DataType::{
        Date, Datetime, Decimal, Duration, Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32,
    };
    match dtype {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | Date | Datetime(..)
        | Duration(_) => Some(false),
        Decimal(..) => Some(true),
        _ => None,
    }
}

/// A column of a batch, read as contiguous values and validity.
pub(super) enum Values {
    Narrow(Int64Chunked),
    Wide(Int128Chunked),
}

impl Values {
    pub(super) fn read(df: &DataFrame, name: &str, wide: bool) -> PolarsResult<Self> {
        let s = df.column(name)?.as_materialized_series().to_physical_repr();
        Ok(if wide {
            Self::Wide(s.i128()?.rechunk().into_owned())
        } else {
            Self::Narrow(s.cast(&DataType::Int64)?.i64()?.rechunk().into_owned())
        })
    }
}

/// Whether `plan` is a read of stored or in-memory data with at most row-by-row work over it
/// (projections, new columns, filters): the dense grouping reads its input twice (the key's
/// range, then the rows), which must not run a join, a sort or another grouping twice.
pub(super) fn read_twice_cheaply(plan: &DslPlan) -> bool {
    match plan {
        DslPlan::Scan { .. } | DslPlan::DataFrameScan { .. } => true,
        DslPlan::Select { input, .. }
        | DslPlan::HStack { input, .. }
        | DslPlan::Filter { input, .. }
        | DslPlan::MapFunction {
            input,
            function: polars_plan::plans::DslFunction::RowIndex { .. },
        } => read_twice_cheaply(input),
        DslPlan::IR { dsl, .. } => read_twice_cheaply(dsl),
        _ => false,
    }
}

/// `GROUP BY key` of `input` with `aggs` (as in polars' DSL), computed densely; `None` when it
/// does not apply (see the module's text), and polars should group.
///
/// # Errors
/// Those of reading `input`.
pub(super) fn aggregate(
    input: &LazyFrame,
    key: &PlSmallStr,
    aggs: &[Expr],
) -> PolarsResult<Option<LazyFrame>> {
    if !read_twice_cheaply(&input.logical_plan) {
        return Ok(None);
    }
    let schema = input.clone().collect_schema()?;
    let Some(key_dtype) = schema.get(key) else {
        return Ok(None);
    };
    if readable(key_dtype) != Some(false) {
        return Ok(None);
    }
    let mut planned = Vec::new();
    let mut offset = 1;
    for (i, e) in aggs.iter().enumerate() {
        let Expr::Alias(_, _) = e else {
            return Ok(None);
        };
        let Some((kind, column, core)) = core_of(e) else {
            return Ok(None);
        };
        let wide = match &column {
            Some(c) => match schema.get(c).and_then(readable) {
                Some(wide) => wide,
                None => return Ok(None),
            },
            None => false,
        };
        let tmp = PlSmallStr::from(format!("__medallion_dense_{i}"));
        let output = e
            .clone()
            .map_expr(|x| if x == core { col(tmp.clone()) } else { x });
        let agg = Agg {
            kind,
            column,
            wide,
            offset,
            core,
            tmp,
            output,
        };
        offset += agg.words();
        planned.push(agg);
    }
    let stride = offset;
    // The types polars gives each aggregate. A sum is taken when it keeps its column's 64-bit
    // integers (wrapping as polars' does) or decimals.
    let core_schema = input
        .clone()
        .group_by([col(key.clone())])
        .agg(
            planned
                .iter()
                .map(|a| a.core.clone().alias(a.tmp.clone()))
                .collect::<Vec<_>>(),
        )
        .collect_schema()?;
    for agg in &planned {
        let column = agg.column.as_ref().and_then(|c| schema.get(c));
        if matches!(agg.kind, Kind::Sum { .. })
            && !matches!(
                (column, core_schema.get(&agg.tmp)),
                (Some(DataType::Int64), Some(DataType::Int64))
                    | (Some(DataType::Decimal(..)), Some(DataType::Decimal(..)))
            )
        {
            return Ok(None);
        }
    }

    let timer = std::time::Instant::now();
    let Some((lo, span)) = dense_range(input, key, stride as u64 * 8)? else {
        return Ok(None);
    };
    let slots = span + 1; // and one for the null key
    let range_ms = timer.elapsed().as_millis();

    let plan = Arc::new(planned);
    let states = fill(input, key, &plan, stride, lo, span)?;
    let fill_ms = timer.elapsed().as_millis();

    // The groups with rows, in key order, the null key last.
    let used: Vec<usize> = (0..slots as usize)
        .filter(|s| states[s * stride] > 0)
        .collect();
    let keys: Int64Chunked = used
        .iter()
        .map(|&s| (s < span as usize).then(|| lo.wrapping_add(s as i64)))
        .collect();
    let key_col = keys
        .into_series()
        .with_name(key.clone())
        .cast(&key_dtype.to_physical())?
        .cast(key_dtype)?;
    let mut columns = vec![key_col.into_column()];
    for agg in plan.iter() {
        let dtype = core_schema
            .get(&agg.tmp)
            .ok_or_else(|| polars_err!(ColumnNotFound: "{}", agg.tmp))?;
        columns.push(output_column(agg, &states, stride, &used, dtype)?.into_column());
    }
    let df = DataFrame::new(used.len(), columns)?;
    tracing::debug!(
        %key,
        span,
        groups = used.len(),
        range_ms,
        fill_ms,
        built_ms = timer.elapsed().as_millis(),
        "dense grouping (cumulative)"
    );
    let mut out = vec![col(key.clone())];
    out.extend(plan.iter().map(|a| a.output.clone()));
    Ok(Some(df.lazy().select(out)))
}

/// The smallest value of integer column `key` of `input` and the span of its values
/// (max − min + 1), when they are dense enough for one state of `slot_bytes` per value (and one
/// for the null key): a span of at most twice the rows (or 65,536) and states of at most
/// 1 GiB. `None` for sparse values or a table without a non-null key. A stored table read whole
/// gives them from its Parquet footer (see [`footer_range`]); anything else is read for them.
///
/// # Errors
/// Those of reading `input`.
pub(super) fn dense_range(
    input: &LazyFrame,
    key: &PlSmallStr,
    slot_bytes: u64,
) -> PolarsResult<Option<(i64, u64)>> {
    // Signed integers and dates have the same order in the footer's statistics.
    let signed = matches!(
        input.clone().collect_schema()?.get(key),
        Some(DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::Date)
    );
    if signed && let Some((bounds, rows)) = footer_range(&input.logical_plan, key) {
        return Ok(bounds.and_then(|(lo, hi)| dense_enough(lo, hi, rows, slot_bytes)));
    }
    let physical = || col(key.clone()).to_physical().cast(DataType::Int64);
    let range = input
        .clone()
        .select([
            physical().min().alias("lo"),
            physical().max().alias("hi"),
            len().cast(DataType::UInt64).alias("rows"),
        ])
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    let (Some(lo), Some(hi), Some(rows)) = (
        range.column("lo")?.i64()?.get(0),
        range.column("hi")?.i64()?.get(0),
        range.column("rows")?.u64()?.get(0),
    ) else {
        return Ok(None);
    };
    Ok(dense_enough(lo, hi, rows, slot_bytes))
}

/// `(lo, span)` of values from `lo` to `hi` in `rows` rows, when dense enough (see
/// [`dense_range`]).
fn dense_enough(lo: i64, hi: i64, rows: u64, slot_bytes: u64) -> Option<(i64, u64)> {
    let span = u64::try_from(i128::from(hi) - i128::from(lo) + 1).unwrap_or(u64::MAX);
    let slots = span.saturating_add(1);
    if span > (2 * rows).max(1 << 16) || slots.saturating_mul(slot_bytes) > MAX_STATE_BYTES {
        return None;
    }
    Some((lo, span))
}

/// The local Parquet files `plan` reads whole, with `key` as stored: a scan of local paths (no
/// row index, file-path column, renaming, defaults or deletions, and no `name=value` in a path,
/// so no hive column), under projections that keep `key` as it is and row numbers. `None` for
/// anything else (a filter, a computed key, an in-memory table, a remote store).
fn scanned_files<'p>(plan: &'p DslPlan, key: &str) -> Option<&'p [PlRefPath]> {
    match plan {
        DslPlan::Scan {
            sources: ScanSources::Paths(paths),
            unified_scan_args: args,
            scan_type,
            ..
        } if matches!(**scan_type, FileScanDsl::Parquet { .. })
            && args.cloud_options.is_none()
            && args.row_index.is_none()
            && args.include_file_paths.is_none()
            && args.column_mapping.is_none()
            && args.default_values.is_none()
            && args.deletion_files.is_none()
            && paths.iter().all(|p| !p.as_str().contains('=')) =>
        {
            Some(paths.as_ref())
        }
        DslPlan::Select { input, expr, .. }
            if expr
                .iter()
                .any(|e| matches!(e, Expr::Column(c) if c.as_str() == key)) =>
        {
            scanned_files(input, key)
        }
        DslPlan::MapFunction {
            input,
            function: polars_plan::plans::DslFunction::RowIndex { name, .. },
        } if name.as_str() != key => scanned_files(input, key),
        DslPlan::IR { dsl, .. } => scanned_files(dsl, key),
        _ => None,
    }
}

/// The smallest and largest value of integer column `key` (`None` when every value is null)
/// and the rows of the local Parquet files `plan` reads whole (see [`scanned_files`]), from the
/// statistics of every row group in the files' footers (polars writes them), without reading
/// the column. `None` when `plan` reads anything else, or a row group's statistics are missing.
pub(super) fn footer_range(plan: &DslPlan, key: &str) -> Option<(Option<(i64, i64)>, u64)> {
    use polars_parquet::parquet::statistics::Statistics;
    let paths = scanned_files(plan, key)?;
    let (mut lo, mut hi, mut rows, mut any) = (i64::MAX, i64::MIN, 0u64, false);
    for path in paths {
        let file = std::fs::File::open(path.as_str()).ok()?;
        let metadata = ParquetReader::new(file).get_metadata().ok()?.clone();
        for group in &metadata.row_groups {
            let group_rows = group.num_rows();
            rows += group_rows as u64;
            let [column] = group.columns_idxs_under_root_iter(key)? else {
                return None;
            };
            let stats = group.parquet_columns()[*column]
                .statistics(&metadata.footer_buf)?
                .ok()?;
            let (min, max, nulls) = match stats {
                Statistics::Int64(s) => (s.min_value, s.max_value, s.null_count),
                Statistics::Int32(s) => (
                    s.min_value.map(i64::from),
                    s.max_value.map(i64::from),
                    s.null_count,
                ),
                _ => return None,
            };
            match (min, max) {
                (Some(a), Some(b)) => {
                    lo = lo.min(a);
                    hi = hi.max(b);
                    any = true;
                }
                // A row group of nulls only.
                (None, None) if nulls == i64::try_from(group_rows).ok() => {}
                _ => return None,
            }
        }
    }
    Some((any.then_some((lo, hi)), rows))
}

/// The groups' states after every row of `input`: `stride` words a group, the group of key
/// `k` at `(k - lo) * stride`, the null key's after the `span` others.
fn fill(
    input: &LazyFrame,
    key: &PlSmallStr,
    plan: &Arc<Vec<Agg>>,
    stride: usize,
    lo: i64,
    span: u64,
) -> PolarsResult<Vec<u64>> {
    let slots = span as usize + 1;
    // Zeroed pages from the system, written as groups are first seen (a minimum or maximum
    // takes a group's first value: see [`update`]).
    let states = vec![0u64; slots * stride];
    // The columns as the states read them (`i64`, or `i128` for decimals), converted by the
    // streaming engine on every core before the batches reach the one thread that fills the
    // states.
    let as_read = |c: &PlSmallStr, wide: bool| {
        let physical = col(c.clone()).to_physical();
        if wide {
            physical
        } else {
            physical.cast(DataType::Int64)
        }
        .alias(c.clone())
    };
    let mut names = vec![key.clone()];
    let mut needed = vec![as_read(key, false)];
    for agg in plan.iter() {
        if let Some(c) = &agg.column
            && !names.contains(c)
        {
            names.push(c.clone());
            needed.push(as_read(c, agg.wide));
        }
    }
    let poisoned = || polars_err!(ComputeError: "a dense grouping's state was poisoned");
    let shared = Arc::new(Mutex::new(states));
    let sink = Arc::clone(&shared);
    let in_sink = Arc::clone(plan);
    let key_name = key.clone();
    input
        .clone()
        .select(needed)
        .sink_batches(
            PlanCallback::new(move |df: DataFrame| {
                let mut states = sink.lock().map_err(|_| poisoned())?;
                accumulate(&mut states, stride, lo, span, &key_name, &in_sink, &df)?;
                Ok(false)
            }),
            false,
            None,
        )?
        .collect_with_engine(Engine::Streaming)?;
    let mut states = shared.lock().map_err(|_| poisoned())?;
    Ok(std::mem::take(&mut *states))
}

fn get(states: &[u64], at: usize, wide: bool) -> i128 {
    if wide {
        i128::from(states[at + 1]) << 64 | i128::from(states[at])
    } else {
        i128::from(states[at] as i64)
    }
}

fn put(states: &mut [u64], at: usize, wide: bool, v: i128) {
    if wide {
        states[at] = v as u64;
        states[at + 1] = (v >> 64) as u64;
    } else {
        states[at] = v as i64 as u64;
    }
}

/// A column's values and, when it has nulls, which rows are valid.
pub(super) type Part<'a, T> = (&'a [T], Option<Vec<bool>>);

/// A single-chunk column's values (whatever sits under a null) and, when it has nulls, which
/// rows are valid.
pub(super) fn parts<T: PolarsNumericType>(ca: &ChunkedArray<T>) -> Part<'_, T::Native> {
    let values = ca
        .downcast_iter()
        .next()
        .map_or(&[][..], |a| a.values().as_slice());
    let valid = (ca.null_count() > 0).then(|| {
        ca.is_not_null()
            .iter()
            .map(|v| v.unwrap_or(false))
            .collect()
    });
    (values, valid)
}

/// Adds a batch's rows to the groups' states.
fn accumulate(
    states: &mut [u64],
    stride: usize,
    lo: i64,
    span: u64,
    key: &str,
    plan: &[Agg],
    df: &DataFrame,
) -> PolarsResult<()> {
    let keys = Values::read(df, key, false)?;
    let Values::Narrow(keys) = keys else {
        return Ok(());
    };
    let values: Vec<Option<Values>> = plan
        .iter()
        .map(|a| {
            a.column
                .as_ref()
                .map(|c| Values::read(df, c, a.wide))
                .transpose()
        })
        .collect::<PolarsResult<_>>()?;
    let (keys, key_valid) = parts(&keys);
    let narrow: Vec<Option<Part<'_, i64>>> = values
        .iter()
        .map(|v| match v {
            Some(Values::Narrow(ca)) => Some(parts(ca)),
            _ => None,
        })
        .collect();
    let wide: Vec<Option<Part<'_, i128>>> = values
        .iter()
        .map(|v| match v {
            Some(Values::Wide(ca)) => Some(parts(ca)),
            _ => None,
        })
        .collect();
    let valid = |v: &Option<Vec<bool>>, row: usize| v.as_ref().is_none_or(|v| v[row]);
    by_slot_in_blocks(
        states,
        (keys, &key_valid),
        lo,
        span,
        |states, slot| states[slot * stride],
        |states, row, slot| update(states, slot * stride, row, plan, &narrow, &wide, &valid),
    )
}

/// Runs `update(states, row, slot)` for each row of a batch, a row's slot being its key minus
/// `lo` (the null key's, `span`): a block of [`BLOCK`] rows' slots first, each slot's state read
/// once by `peek` before any is updated, so the CPU waits for their cache misses at once instead
/// of one by one (each update depends on what it reads).
///
/// # Errors
/// A key outside `lo..lo + span` (the range was read before from the same input, so it cannot
/// happen unless the input changed between the two reads).
pub(super) fn by_slot_in_blocks<S: ?Sized>(
    states: &mut S,
    (keys, key_valid): (&[i64], &Option<Vec<bool>>),
    lo: i64,
    span: u64,
    peek: impl Fn(&S, usize) -> u64,
    mut update: impl FnMut(&mut S, usize, usize),
) -> PolarsResult<()> {
    let mut slots = [0usize; BLOCK];
    for start in (0..keys.len()).step_by(BLOCK) {
        let end = (start + BLOCK).min(keys.len());
        for (row, slot) in (start..end).zip(slots.iter_mut()) {
            *slot = if key_valid.as_ref().is_none_or(|v| v[row]) {
                let i = keys[row].wrapping_sub(lo) as u64;
                if i >= span {
                    return Err(polars_err!(ComputeError: "a key outside the range read before"));
                }
                i as usize
            } else {
                span as usize
            };
        }
        let mut touched = 0u64;
        for &slot in &slots[..end - start] {
            touched ^= peek(states, slot);
        }
        std::hint::black_box(touched);
        for (row, &slot) in (start..end).zip(slots.iter()) {
            update(states, row, slot);
        }
    }
    Ok(())
}

/// Adds row `row` to the state of its group at `base`.
#[inline]
fn update(
    states: &mut [u64],
    base: usize,
    row: usize,
    plan: &[Agg],
    narrow: &[Option<Part<'_, i64>>],
    wide: &[Option<Part<'_, i128>>],
    valid: &impl Fn(&Option<Vec<bool>>, usize) -> bool,
) {
    {
        states[base] += 1;
        for (j, agg) in plan.iter().enumerate() {
            let v = match (&narrow[j], &wide[j]) {
                (Some((a, v)), _) => valid(v, row).then(|| i128::from(a[row])),
                (_, Some((a, v))) => valid(v, row).then(|| a[row]),
                _ => None,
            };
            let Some(v) = v else {
                continue;
            };
            let at = base + agg.offset;
            states[at] += 1;
            let w = agg.wide;
            match agg.kind {
                Kind::Len | Kind::Count => {}
                Kind::Sum { .. } => {
                    let s = get(states, at + 1, w);
                    let s = if w {
                        s.wrapping_add(v)
                    } else {
                        i128::from((s as i64).wrapping_add(v as i64))
                    };
                    put(states, at + 1, w, s);
                }
                // The group's first value (its count is now 1), or a smaller or larger one.
                Kind::Min => {
                    if states[at] == 1 || v < get(states, at + 1, w) {
                        put(states, at + 1, w, v);
                    }
                }
                Kind::Max => {
                    if states[at] == 1 || v > get(states, at + 1, w) {
                        put(states, at + 1, w, v);
                    }
                }
            }
        }
    }
}

/// An aggregate's column for the groups `used`, of the type polars gives it.
fn output_column(
    agg: &Agg,
    states: &[u64],
    stride: usize,
    used: &[usize],
    dtype: &DataType,
) -> PolarsResult<Series> {
    let name = agg.tmp.clone();
    let at = |s: usize| s * stride + agg.offset;
    let series = match agg.kind {
        Kind::Len => Series::new(
            name,
            used.iter()
                .map(|&s| states[s * stride])
                .collect::<Vec<u64>>(),
        ),
        Kind::Count => Series::new(
            name,
            used.iter().map(|&s| states[at(s)]).collect::<Vec<u64>>(),
        ),
        kind => {
            let value = |s: usize| -> Option<i128> {
                let seen = states[at(s)] > 0;
                match kind {
                    // polars' own sum is 0 for a group without a value; SQL's is null.
                    Kind::Sum { sql: false } => Some(if seen {
                        get(states, at(s) + 1, agg.wide)
                    } else {
                        0
                    }),
                    _ => seen.then(|| get(states, at(s) + 1, agg.wide)),
                }
            };
            if let DataType::Decimal(precision, scale) = dtype {
                let ca: Int128Chunked = used.iter().map(|&s| value(s)).collect();
                return Ok(ca
                    .with_name(name)
                    .into_decimal(*precision, *scale)?
                    .into_series());
            }
            let ca: Int64Chunked = used.iter().map(|&s| value(s).map(|v| v as i64)).collect();
            ca.with_name(name).into_series()
        }
    };
    series.cast(&dtype.to_physical())?.cast(dtype)
}

#[cfg(test)]
mod tests {
    use polars::sql::SQLContext;

    use super::*;
    use crate::engine::transform::{prepare_for_memory, prepare_for_streaming};

    /// The query planned both ways and polars' own, compared; returns whether the plans for
    /// both engines lost their grouping (it was computed densely).
    fn same_rows(lf: &LazyFrame, what: &str) -> bool {
        let want = lf.clone().collect().unwrap();
        let memory = prepare_for_memory(lf.clone());
        let dense = !memory.clone().explain(false).unwrap().contains("AGGREGATE");
        let got = memory.collect().unwrap();
        assert!(
            got.equals_missing(&want),
            "{what} in memory: {got} vs {want}"
        );
        let streaming = prepare_for_streaming(lf.clone());
        let dense_too = !streaming
            .clone()
            .explain(false)
            .unwrap()
            .contains("AGGREGATE");
        let got = streaming
            .collect_with_engine(Engine::Streaming)
            .unwrap()
            .unwrap_single();
        assert!(
            got.equals_missing(&want),
            "{what} streamed: {got} vs {want}"
        );
        assert_eq!(dense, dense_too, "{what}");
        dense
    }

    /// The example's gold queries over a few orders: both groupings are dense, with the rows
    /// of polars' own grouping (the SQL orders them).
    #[test]
    fn the_example_gold_groupings_are_dense_with_the_same_rows() {
        let orders = df!(
            "order_id" => [1i64, 2, 3, 4, 5, 6, 7],
            "customer_id" => [10i64, 10, 12, 12, 12, 11, 13],
            "order_date" => [19_727i32, 19_787, 19_722, 19_723, 20_088, 19_754, 19_754],
            "amount" => [1999i64, 4001, 1000, 1000, 1001, 750, 1],
            "status" => ["completed"; 7],
        )
        .unwrap()
        .lazy()
        .with_columns([
            col("order_date").cast(DataType::Date),
            (col("amount").cast(DataType::Decimal(12, 0)) / lit(100))
                .cast(DataType::Decimal(12, 2)),
        ]);
        for file in ["customer_lifetime_value", "daily_revenue"] {
            let sql =
                std::fs::read_to_string(format!("projects/customer_analytics/sql/{file}.sql"))
                    .unwrap();
            let mut ctx = SQLContext::new();
            ctx.register("order_history", orders.clone());
            let lf = ctx.execute(&sql).unwrap();
            assert!(same_rows(&lf, file), "{file}: not grouped densely");
        }
    }

    /// Many batches: 600,000 rows in 12 chunks, keys over 200,000 groups (and null), with
    /// nulls among the values — the rows of polars' own grouping.
    #[test]
    fn many_batches_give_the_rows_of_polars_own() {
        let chunk = |c: i64| {
            let rows = 50_000i64;
            let ids = (0..rows).map(move |i| c * rows + i);
            df!(
                "k" => ids.clone().map(|i| (i % 997 != 0).then_some((i * 7_919) % 200_000)).collect::<Vec<_>>(),
                "v" => ids.clone().map(|i| (i % 13 != 0).then_some(i % 100_003 - 50_000)).collect::<Vec<_>>(),
                "d" => ids.map(|i| 18_000 + (i % 3_000) as i32).collect::<Vec<_>>(),
            )
            .unwrap()
        };
        let mut df = chunk(0);
        for c in 1..12 {
            df.vstack_mut(&chunk(c)).unwrap();
        }
        assert_eq!(df.first_col_n_chunks(), 12);
        let lf = df
            .lazy()
            .with_column(col("d").cast(DataType::Date))
            .group_by([col("k")])
            .agg([
                len().alias("n"),
                col("v").count().alias("c"),
                col("v").sum().alias("s"),
                col("v").min().alias("lo"),
                col("d").max().alias("hi"),
            ])
            .sort(["k"], SortMultipleOptions::default().with_nulls_last(true));
        assert!(
            same_rows(&lf, "600,000 rows in 12 chunks"),
            "not grouped densely"
        );
    }

    /// `df` stored as Parquet in `dir` (row groups of `group_rows`), and a scan of it.
    fn stored(
        dir: &std::path::Path,
        name: &str,
        df: &mut DataFrame,
        group_rows: usize,
    ) -> LazyFrame {
        let path = dir.join(format!("{name}.parquet"));
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .with_row_group_size(Some(group_rows))
            .finish(df)
            .unwrap();
        LazyFrame::scan_parquet(
            PlRefPath::new(path.to_str().unwrap()),
            ScanArgsParquet::default(),
        )
        .unwrap()
    }

    /// A stored table read whole gives its key's range from the footer: the minimum and maximum
    /// of polars' own over every row group (nulls and a row group of nulls only among them),
    /// and its rows; a filter, a computed key or a table in memory is read instead.
    #[test]
    fn a_stored_tables_key_range_comes_from_its_footer() {
        let dir = tempfile::tempdir().unwrap();
        // Row groups of 1,000 rows: the smallest key in the third, the largest in the ninth,
        // the fifth all null.
        let keys: Vec<Option<i64>> = (0..10_000i64)
            .map(|i| match i {
                2_500 => Some(-7),
                8_200 => Some(20_001),
                4_000..5_000 => None,
                _ => Some(1 + (i * 37) % 5_000),
            })
            .collect();
        let mut df = df!(
            "k" => keys,
            "d" => (0..10_000).map(|i| 18_000 + (i * 13) % 700).collect::<Vec<i32>>(),
            "v" => (0..10_000i64).collect::<Vec<_>>(),
        )
        .unwrap();
        df.with_column(df.column("d").unwrap().cast(&DataType::Date).unwrap())
            .unwrap();
        let lf = stored(dir.path(), "t", &mut df, 1_000);
        for key in ["k", "d"] {
            let physical = df.column(key).unwrap().to_physical_repr();
            let physical = physical.cast(&DataType::Int64).unwrap();
            let want = (
                physical.i64().unwrap().min().unwrap(),
                physical.i64().unwrap().max().unwrap(),
            );
            assert_eq!(
                footer_range(&lf.logical_plan, key),
                Some((Some(want), 10_000)),
                "{key}"
            );
            let projected = lf
                .clone()
                .select([col(key), col("v")])
                .with_row_index("r", None);
            assert_eq!(
                footer_range(&projected.logical_plan, key),
                Some((Some(want), 10_000)),
                "{key} under a projection and row numbers"
            );
        }
        let nulls = stored(
            dir.path(),
            "nulls",
            &mut df!("k" => [None::<i64>, None]).unwrap(),
            1,
        );
        assert_eq!(footer_range(&nulls.logical_plan, "k"), Some((None, 2)));
        for (lf, what) in [
            (lf.clone().filter(col("v").gt(lit(5))), "a filter"),
            (
                lf.clone().select([(col("k") + lit(1)).alias("k")]),
                "a computed key",
            ),
            (
                lf.clone().select([col("v").alias("k")]),
                "another column named k",
            ),
            (lf.clone().with_row_index("k", None), "row numbers named k"),
            (df.clone().lazy(), "a table in memory"),
        ] {
            assert_eq!(footer_range(&lf.logical_plan, "k"), None, "{what}");
        }
        // The dense grouping over the stored table: the rows of polars' own.
        let grouped = lf
            .group_by([col("k")])
            .agg([
                len().alias("n"),
                col("v").sum().alias("s"),
                col("d").max().alias("hi"),
            ])
            .sort(["k"], SortMultipleOptions::default().with_nulls_last(true));
        assert!(same_rows(&grouped, "a stored table"), "not grouped densely");
    }

    /// A grouping over a join (or any input that is more than a read with row-by-row work) is
    /// left to polars, which reads its input once: the dense grouping reads it twice.
    #[test]
    fn a_grouping_over_a_join_is_left_to_polars() {
        let mut ctx = SQLContext::new();
        ctx.register(
            "a",
            df!("k" => [1i64, 2, 2], "v" => [1i64, 2, 3])
                .unwrap()
                .lazy(),
        );
        ctx.register("b", df!("k" => [1i64, 2], "w" => [5i64, 6]).unwrap().lazy());
        let joined = ctx
            .execute("SELECT a.k, SUM(v) AS s FROM a JOIN b ON a.k = b.k GROUP BY a.k ORDER BY a.k")
            .unwrap();
        assert!(
            !same_rows(&joined, "over a join"),
            "a grouping over a join was dense"
        );
        let filtered = ctx
            .execute("SELECT k, SUM(v) AS s FROM a WHERE v > 1 GROUP BY k ORDER BY k")
            .unwrap();
        assert!(
            same_rows(&filtered, "over a filter"),
            "a grouping over a filter was not dense"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Random groupings — keys of several types, dense and sparse, with nulls; counts,
        /// sums (SQL's and polars' own), minimums and maximums of integers, decimals and dates
        /// with nulls — give polars' own rows, planned for either engine.
        #[test]
        fn dense_groupings_give_the_rows_of_polars_own(
            rows in proptest::collection::vec(
                (
                    proptest::option::weighted(0.9, -3i64..30),
                    proptest::option::weighted(0.8, -1_000i64..1_000),
                ),
                0..80,
            ),
            stretch in proptest::sample::select(vec![1i64, 1_000_003]),
            key_type in proptest::sample::select(vec![DataType::Int64, DataType::Int32, DataType::Date]),
        ) {
            let keys: Vec<Option<i64>> = rows.iter().map(|r| r.0.map(|k| k * stretch)).collect();
            let values: Vec<Option<i64>> = rows.iter().map(|r| r.1).collect();
            let frame = df!("k" => keys, "v" => values)
                .unwrap()
                .lazy()
                .with_columns([
                    col("k").cast(key_type.clone()),
                    col("v").cast(DataType::Decimal(12, 0)).alias("d"),
                    col("v").cast(DataType::Int32).cast(DataType::Date).alias("day"),
                ]);
            let mut ctx = SQLContext::new();
            ctx.register("t", frame.clone());
            let sql = "SELECT k, COUNT(*) AS n, COUNT(v) AS nv, SUM(v) AS sv, MIN(v) AS lo, \
                MAX(v) AS hi, SUM(d) AS sd, MAX(d) AS hd, MIN(day) AS first_day \
                FROM t GROUP BY k ORDER BY k";
            let lf = ctx.execute(sql).unwrap();
            let dense = same_rows(&lf, sql);
            // Keys over a small range are grouped densely (an empty input is left to polars).
            if stretch == 1 && !rows.is_empty() {
                proptest::prop_assert!(dense, "not dense: {rows:?}");
            }
            // polars' own sum (0 for a group without a value), count and len.
            let own = frame
                .group_by([col("k")])
                .agg([
                    col("v").sum().alias("s"),
                    col("d").sum().alias("sd"),
                    col("v").count().alias("c"),
                    len().alias("n"),
                    col("day").max().alias("last"),
                ])
                .sort(["k"], SortMultipleOptions::default());
            same_rows(&own, "polars' own aggregates");
        }
    }
}
