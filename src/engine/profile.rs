//! Column profiles of a materialization: type, nulls, distinct values, min/max, mean/stddev,
//! top values for strings and a histogram for numbers.

use polars::prelude::*;

use super::check::display_value;
use crate::model::{AssetKey, AssetProfile, ColumnProfile};

/// Buckets in a numeric histogram.
pub const HISTOGRAM_BUCKETS: usize = 10;
/// Values listed for a string column.
pub const TOP_VALUES: usize = 5;
/// Above this many rows, top values, histograms, mean and stddev come from a pseudo-random
/// sample of about this many rows, and distinct values are a `HyperLogLog` estimate (within a
/// few %); row counts, nulls, min and max stay exact (an outlier is never missed). Exact
/// distinct counts over tens of millions of rows were a third of a run's time on the example at
/// N = 1,000,000.
pub const SAMPLE_ROWS: usize = 250_000;

/// Profiles an in-memory frame (see [`profile_stored`]): the statistics in one aggregate query,
/// and the sample for top values and histograms picked straight from memory.
pub fn profile(
    asset: &AssetKey,
    partition: Option<&str>,
    df: &DataFrame,
) -> PolarsResult<AssetProfile> {
    let schema = df.schema().clone();
    let rows = df.height();
    let step = rows.div_ceil(SAMPLE_ROWS).max(1);
    let stats = df
        .clone()
        .lazy()
        .select(aggregates(&schema, rows))
        .collect()?;
    let sample = if step > 1 {
        df.take(&IdxCa::from_vec(
            "sample".into(),
            sample_indices(rows, step),
        ))?
    } else {
        df.clone()
    };
    assemble(asset, partition, &schema, rows, step, &stats, &sample)
}

/// Profiles a stored materialization (a scan of its file) with polars' streaming engine, so the
/// table is never whole in memory: one aggregate pass gives the exact counts, nulls, distinct
/// values (an estimate above [`SAMPLE_ROWS`] rows), min/max, mean and stddev of every column,
/// and top values and histograms come from a hashed sample of about [`SAMPLE_ROWS`] rows.
pub fn profile_stored(
    asset: &AssetKey,
    partition: Option<&str>,
    lf: LazyFrame,
) -> PolarsResult<AssetProfile> {
    let schema = lf.clone().collect_schema()?;
    let rows = lf
        .clone()
        .select([len()])
        .collect()?
        .column("len")?
        .get(0)?
        .extract::<u64>()
        .unwrap_or(0);
    let row_count = usize::try_from(rows).unwrap_or(usize::MAX);
    let step = row_count.div_ceil(SAMPLE_ROWS).max(1);
    let sample = if step > 1 {
        sample_plan(&lf, step)
    } else {
        lf.clone()
    };
    // One query for both, so a stored table is read once.
    let mut frames = LazyFrame::collect_all_with_engine(
        vec![
            lf.select(aggregates(&schema, row_count)).logical_plan,
            sample.logical_plan,
        ],
        Engine::Streaming,
        OptFlags::default(),
    )?;
    let sample = frames.pop().unwrap_or_default();
    let stats = frames.pop().unwrap_or_default();
    assemble(asset, partition, &schema, row_count, step, &stats, &sample)
}

/// The one-row aggregate query of a profile over the whole table: per column nulls, distinct
/// values (a `HyperLogLog` estimate above [`SAMPLE_ROWS`] rows) and min/max; for numbers of a
/// table small enough not to be sampled, mean and stddev too.
fn aggregates(schema: &Schema, rows: usize) -> Vec<Expr> {
    let approximate = rows > SAMPLE_ROWS;
    let mut aggs = vec![len().alias("__rows")];
    for (i, (name, dtype)) in schema.iter().enumerate() {
        let c = col(name.clone());
        aggs.push(c.clone().null_count().alias(format!("{i}_nulls")));
        // polars' estimate takes no nested column (a list, an array, a struct): those are
        // counted exactly.
        let distinct = if approximate && !dtype.is_nested() {
            c.clone().approx_n_unique()
        } else {
            c.clone().n_unique()
        };
        aggs.push(distinct.alias(format!("{i}_distinct")));
        if has_min_max(dtype) {
            aggs.push(c.clone().min().alias(format!("{i}_min")));
            aggs.push(c.clone().max().alias(format!("{i}_max")));
        }
        if is_number(dtype) && !approximate {
            let f = c.cast(DataType::Float64);
            aggs.push(f.clone().mean().alias(format!("{i}_mean")));
            aggs.push(f.std(1).alias(format!("{i}_std")));
        }
    }
    aggs
}

/// A profile from its aggregate row and its sample (one row in `step`).
fn assemble(
    asset: &AssetKey,
    partition: Option<&str>,
    schema: &Schema,
    rows: usize,
    step: usize,
    stats: &DataFrame,
    sample: &DataFrame,
) -> PolarsResult<AssetProfile> {
    let approximate = rows > SAMPLE_ROWS;
    let get = |name: &str| -> Option<AnyValue<'static>> {
        stats
            .column(name)
            .ok()
            .and_then(|c| c.get(0).ok())
            .map(AnyValue::into_static)
            .filter(|v| !v.is_null())
    };
    let to_count = |v: Option<AnyValue<'static>>| v.and_then(|v| v.extract::<u64>()).unwrap_or(0);
    let to_float = |v: Option<AnyValue<'static>>| v.and_then(|v| v.extract::<f64>());
    let scale = |n: u64| n * step as u64;
    let mut columns = Vec::with_capacity(schema.len());
    for (i, (name, dtype)) in schema.iter().enumerate() {
        let null_count = to_count(get(&format!("{i}_nulls")));
        // An estimate can overshoot by a few %; there are never more distinct values than
        // non-null rows (and null, which counts as one value).
        let most = (rows as u64).saturating_sub(null_count) + u64::from(null_count > 0);
        let mut p = ColumnProfile {
            name: name.to_string(),
            dtype: dtype.to_string(),
            null_count,
            distinct_count: to_count(get(&format!("{i}_distinct"))).min(most),
            min: get(&format!("{i}_min")).map(|v| display_value(&v)),
            max: get(&format!("{i}_max")).map(|v| display_value(&v)),
            mean: to_float(get(&format!("{i}_mean"))),
            std: to_float(get(&format!("{i}_std"))),
            top_values: Vec::new(),
            histogram: Vec::new(),
            sampled: step > 1,
            distinct_approx: approximate,
        };
        let values = sample.column(name)?.as_materialized_series();
        if is_number(dtype) {
            let sampled = values.cast(&DataType::Float64)?;
            let sampled = sampled.f64()?;
            if step > 1 {
                p.mean = sampled.mean();
                p.std = sampled.std(1);
            }
            // The buckets span the exact range, so an outlier left out of the sample still
            // shows where the data ends.
            p.histogram = histogram(
                sampled,
                to_float(get(&format!("{i}_min"))),
                to_float(get(&format!("{i}_max"))),
            )
            .into_iter()
            .map(|(lo, n)| (lo, scale(n)))
            .collect();
        }
        if *dtype == DataType::String {
            // A value seen once in a sample tells nothing of how often it occurs (scaled up,
            // a unique e-mail would read "occurs `step` times"): only repeated ones are listed.
            p.top_values = top_values(values)?
                .into_iter()
                .filter(|(_, n)| step == 1 || *n > 1)
                .map(|(v, n)| (v, scale(n)))
                .collect();
        }
        columns.push(p);
    }
    Ok(AssetProfile {
        asset: asset.clone(),
        partition: partition.map(str::to_owned),
        row_count: rows as u64,
        columns,
    })
}

fn has_min_max(dtype: &DataType) -> bool {
    dtype.is_primitive_numeric()
        || dtype.is_temporal()
        || dtype.is_decimal()
        || *dtype == DataType::String
}

fn is_number(dtype: &DataType) -> bool {
    dtype.is_primitive_numeric() || dtype.is_decimal()
}

/// The most frequent values of a (sampled) string column with their counts.
fn top_values(values: &Series) -> PolarsResult<Vec<(String, u64)>> {
    let name = values.name().clone();
    let counts = DataFrame::new(values.len(), vec![values.clone().into_column()])?
        .lazy()
        .group_by([col(name.clone())])
        .agg([len().alias("count")])
        // Equal counts in the values' order, so the same data lists the same values.
        .sort(
            ["count", name.as_str()],
            SortMultipleOptions::default()
                .with_order_descending_multi([true, false])
                .with_nulls_last(true)
                .with_maintain_order(true),
        )
        .limit(TOP_VALUES as IdxSize)
        .collect()?;
    let keys = counts.column(&name)?;
    let n = counts.column("count")?.cast(&DataType::UInt64)?;
    let n = n.u64()?;
    let mut out = Vec::with_capacity(counts.height());
    for i in 0..counts.height() {
        let v = keys.get(i).map(|v| {
            if v.is_null() {
                "(null)".to_owned()
            } else {
                display_value(&v)
            }
        })?;
        out.push((v, n.get(i).unwrap_or(0)));
    }
    Ok(out)
}

/// The multiplier of the sample's hash: 2^64 divided by the golden ratio (Fibonacci hashing).
const SAMPLE_HASH: u64 = 0x9E37_79B9_7F4A_7C15;

/// The rows of a lazy frame that [`sample_indices`] picks, as a query: the same arithmetic on
/// each row's number, a few vectorized operations per row (the list of picked rows it replaced
/// cost a hash-table probe per row: 1.4 s of CPU over 100,000,000 rows).
fn sample_plan(lf: &LazyFrame, step: usize) -> LazyFrame {
    const ROW: &str = "__medallion_row";
    let step = lit(step.max(1) as u64);
    let row = col(ROW).cast(DataType::UInt64);
    let block = row.clone().floor_div(step.clone());
    let place = (block * lit(SAMPLE_HASH)).floor_div(lit(1u64 << 32)) % step.clone();
    lf.clone()
        .with_row_index(ROW, None)
        .filter((row % step).eq(place))
        .drop(Selector::ByName {
            names: vec![ROW.into()].into(),
            strict: true,
        })
}

/// One row from each block of `step` rows, its place in the block chosen by hashing the block
/// number (the upper half of a multiplicative hash, modulo `step`): deterministic, and unlike
/// every `step`-th row it cannot line up with a pattern in the data. [`sample_plan`] picks the
/// same rows.
fn sample_indices(rows: usize, step: usize) -> Vec<IdxSize> {
    let step = step.max(1) as u64;
    (0..(rows as u64).div_ceil(step))
        .map(|block| block * step + (block.wrapping_mul(SAMPLE_HASH) >> 32) % step)
        .filter(|i| *i < rows as u64)
        .filter_map(|i| IdxSize::try_from(i).ok())
        .collect()
}

/// A profile gathered while a streamed table is written, so its file is never read back for it:
/// polars' streaming engine hands each batch of rows to [`Streamed::tap`]'s map on its way to
/// the Parquet sink, on every core. Row and null counts, min and max are exact; distinct values
/// are a `HyperLogLog` estimate (registers merged across batches); the sample keeps the rows
/// whose hash (the row's values and its place in its batch) falls under a threshold halved
/// whenever more than [`SAMPLE_ROWS`] are kept, so it is a one-in-2^k sample of the whole table
/// wherever its batches were cut. A table of at most [`SAMPLE_ROWS`] rows is kept whole and
/// profiled exactly, as [`profile`] does.
#[derive(Default)]
pub struct Streamed {
    gathered: std::sync::Mutex<Gathered>,
    /// Set when a batch could not be observed (a type that cannot be hashed, an internal
    /// error): the profile is then made by reading the stored file ([`profile_stored`]).
    failed: std::sync::atomic::AtomicBool,
}

/// What [`Streamed`] has seen so far.
#[derive(Default)]
struct Gathered {
    rows: u64,
    columns: Vec<Seen>,
    /// The sample keeps rows whose sample hash has at least this many leading zero bits.
    level: u32,
    sample: Vec<DataFrame>,
    sample_rows: usize,
}

/// One column's counts across batches.
struct Seen {
    nulls: u64,
    registers: Box<[u8; HLL_REGISTERS]>,
    mins: Vec<AnyValue<'static>>,
    maxs: Vec<AnyValue<'static>>,
}

/// `HyperLogLog` with 2^14 registers (polars' precision: about 0.8 % standard error).
const HLL_BITS: u32 = 14;
const HLL_REGISTERS: usize = 1 << HLL_BITS;
/// The sample's hash column (dropped before profiling).
const SAMPLE_HASH_COLUMN: &str = "__medallion_sample_hash";

impl Streamed {
    /// The lazy frame with this profile watching every batch on its way out (nothing else
    /// changes: the map hands each batch on as it came).
    pub fn tap(self: &std::sync::Arc<Self>, lf: LazyFrame) -> LazyFrame {
        let me = std::sync::Arc::clone(self);
        lf.map(
            move |df| {
                me.observe(&df);
                Ok(df)
            },
            OptFlags::STREAMING,
            None,
            Some("profile"),
        )
    }

    /// Adds one batch. Never fails the query: a batch it cannot take marks the profile failed.
    fn observe(&self, df: &DataFrame) {
        use std::sync::atomic::Ordering;
        if self.failed.load(Ordering::Relaxed) || df.height() == 0 {
            return;
        }
        let level = self.gathered.lock().map_or(0, |g| g.level);
        let batch = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Batch::of(df, level)));
        let merged = match batch {
            Ok(Ok(batch)) => self
                .gathered
                .lock()
                .map_err(|_| ())
                .and_then(|mut g| g.merge(batch).map_err(|_| ())),
            _ => Err(()),
        };
        if merged.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
    }

    /// The profile of everything observed: `None` when a batch could not be observed, an
    /// error when the profile could not be assembled.
    pub fn finish(
        &self,
        asset: &AssetKey,
        partition: Option<&str>,
        schema: &Schema,
    ) -> Option<PolarsResult<AssetProfile>> {
        if self.failed.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let g = std::mem::take(&mut *self.gathered.lock().ok()?);
        Some(g.profile(asset, partition, schema))
    }
}

/// What one batch adds: its rows, per column nulls, registers, min and max, and its rows
/// picked for the sample (with their hashes).
struct Batch {
    rows: u64,
    columns: Vec<Seen>,
    sample: DataFrame,
}

impl Batch {
    fn of(df: &DataFrame, level: u32) -> PolarsResult<Self> {
        // A column of the table with the sample hash's name would be replaced in the sample:
        // such a table is profiled from its file instead.
        if df.schema().contains(SAMPLE_HASH_COLUMN) {
            polars_bail!(Duplicate: "{SAMPLE_HASH_COLUMN}");
        }
        let height = df.height();
        let state = PlSeedableRandomStateQuality::fixed();
        let mut row_hashes = vec![0u64; height];
        let mut columns = Vec::with_capacity(df.width());
        let mut hashes = Vec::with_capacity(height);
        for c in df.columns() {
            let s = c.as_materialized_series();
            hashes.clear();
            s.vec_hash(state.clone(), &mut hashes)?;
            let mut registers = Box::new([0u8; HLL_REGISTERS]);
            for (row, &h) in row_hashes.iter_mut().zip(&hashes) {
                let h = mix(h);
                hll_add(&mut registers, h);
                // The row's hash: its columns' (mixed) hashes combined in order, mixed once
                // below.
                *row = row.rotate_left(23) ^ h;
            }
            let (mins, maxs) = if has_min_max(s.dtype()) {
                let value = |v: Scalar| v.into_value().into_static();
                (vec![value(s.min_reduce()?)], vec![value(s.max_reduce()?)])
            } else {
                (Vec::new(), Vec::new())
            };
            columns.push(Seen {
                nulls: s.null_count() as u64,
                registers,
                mins,
                maxs,
            });
        }
        // The row's place in its batch counts too: equal rows are picked independently.
        for (i, h) in row_hashes.iter_mut().enumerate() {
            *h = mix(*h ^ (i as u64).wrapping_mul(SAMPLE_HASH));
        }
        // The rows the sample keeps at this level (all at level 0), taken with their hashes.
        let (mut sample, row_hashes) = if level == 0 {
            (df.clone(), row_hashes)
        } else {
            let kept = kept_rows(row_hashes.iter().copied(), level);
            let hashes = kept.iter().map(|&i| row_hashes[i as usize]).collect();
            (df.take(&IdxCa::from_vec(PlSmallStr::EMPTY, kept))?, hashes)
        };
        let hashes = UInt64Chunked::from_vec(SAMPLE_HASH_COLUMN.into(), row_hashes);
        sample.with_column(hashes.into_series().into_column())?;
        Ok(Self {
            rows: height as u64,
            columns,
            sample,
        })
    }
}

impl Gathered {
    fn merge(&mut self, batch: Batch) -> PolarsResult<()> {
        self.rows += batch.rows;
        if self.columns.is_empty() {
            self.columns = batch.columns;
        } else {
            for (seen, more) in self.columns.iter_mut().zip(batch.columns) {
                seen.nulls += more.nulls;
                for (r, m) in seen.registers.iter_mut().zip(more.registers.iter()) {
                    *r = (*r).max(*m);
                }
                seen.mins.extend(more.mins);
                seen.maxs.extend(more.maxs);
            }
        }
        // A batch picked under an older (lower) level is thinned to the current one.
        let sample = under_level(&batch.sample, self.level)?;
        if sample.height() > 0 {
            self.sample_rows += sample.height();
            self.sample.push(sample);
        }
        while self.sample_rows > SAMPLE_ROWS {
            self.level += 1;
            let level = self.level;
            self.sample = self
                .sample
                .iter()
                .map(|df| under_level(df, level))
                .filter(|df| df.as_ref().map_or(true, |df| df.height() > 0))
                .collect::<PolarsResult<_>>()?;
            self.sample_rows = self.sample.iter().map(DataFrame::height).sum();
        }
        Ok(())
    }

    fn profile(
        self,
        asset: &AssetKey,
        partition: Option<&str>,
        schema: &Schema,
    ) -> PolarsResult<AssetProfile> {
        let mut sample = DataFrame::empty_with_schema(schema);
        sample.with_column(
            Series::new_empty(SAMPLE_HASH_COLUMN.into(), &DataType::UInt64).into_column(),
        )?;
        for df in &self.sample {
            sample.vstack_mut(df)?;
        }
        // Batches arrive in any order: in the hashes' order, the same rows sum to the same
        // mean and stddev, to the last digit.
        let sample = sample
            .sort([SAMPLE_HASH_COLUMN], SortMultipleOptions::default())?
            .drop(SAMPLE_HASH_COLUMN)?;
        if self.level == 0 {
            // Every row was kept: the table itself, profiled exactly.
            return profile(asset, partition, &sample);
        }
        let rows = usize::try_from(self.rows).unwrap_or(usize::MAX);
        let mut stats = vec![Column::new("__rows".into(), [self.rows])];
        for (i, ((name, dtype), seen)) in schema.iter().zip(&self.columns).enumerate() {
            stats.push(Column::new(format!("{i}_nulls").into(), [seen.nulls]));
            let distinct = hll_estimate(&seen.registers) as u64;
            stats.push(Column::new(format!("{i}_distinct").into(), [distinct]));
            if has_min_max(dtype) {
                for (what, values) in [("min", &seen.mins), ("max", &seen.maxs)] {
                    let all =
                        Series::from_any_values_and_dtype(name.clone(), values, dtype, false)?;
                    let one = if what == "min" {
                        all.min_reduce()?
                    } else {
                        all.max_reduce()?
                    };
                    stats.push(one.into_column(format!("{i}_{what}").into()));
                }
            }
        }
        let stats = DataFrame::new(1, stats)?;
        assemble(
            asset,
            partition,
            schema,
            rows,
            1 << self.level,
            &stats,
            &sample,
        )
    }
}

/// The rows of a sample frame whose hash has at least `level` leading zero bits.
fn under_level(df: &DataFrame, level: u32) -> PolarsResult<DataFrame> {
    if level == 0 {
        return Ok(df.clone());
    }
    let hashes = df.column(SAMPLE_HASH_COLUMN)?.u64()?;
    let kept = kept_rows(hashes.into_no_null_iter(), level);
    df.take(&IdxCa::from_vec(PlSmallStr::EMPTY, kept))
}

/// The rows whose sample hash has at least `level` leading zero bits: those the sample keeps.
fn kept_rows(hashes: impl Iterator<Item = u64>, level: u32) -> Vec<IdxSize> {
    hashes
        .zip(0..)
        .filter_map(|(h, i)| (h.leading_zeros() >= level).then_some(i))
        .collect()
}

/// A 64-bit finalizer (`MurmurHash3`'s), so every bit of a hash depends on every bit of its input.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Adds a (mixed) hash to `HyperLogLog` registers: its top bits pick the register, which keeps
/// the most leading zeros (plus one) seen in the rest.
fn hll_add(registers: &mut [u8; HLL_REGISTERS], h: u64) {
    let slot = (h >> (64 - HLL_BITS)) as usize;
    let rank = ((h << HLL_BITS) | (1 << (HLL_BITS - 1))).leading_zeros() as u8 + 1;
    registers[slot] = registers[slot].max(rank);
}

/// The distinct-value estimate of `HyperLogLog` registers: Ertl's improved raw estimator
/// ("New cardinality estimation algorithms for `HyperLogLog` sketches", arXiv:1702.01284), as
/// polars computes `approx_n_unique`.
fn hll_estimate(registers: &[u8; HLL_REGISTERS]) -> f64 {
    const Q: usize = 64 - HLL_BITS as usize;
    let mut histogram = [0u32; Q + 2];
    for r in registers {
        histogram[usize::from(*r).min(Q + 1)] += 1;
    }
    let m = HLL_REGISTERS as f64;
    let mut z = m * hll_tau((m - f64::from(histogram[Q + 1])) / m);
    for count in histogram[1..=Q].iter().rev() {
        z += f64::from(*count);
        z *= 0.5;
    }
    z += m * hll_sigma(f64::from(histogram[0]) / m);
    (0.5 / std::f64::consts::LN_2 * m * m / z).round()
}

// The series are summed until a term no longer changes the sum: exact comparison is the point.
#[allow(clippy::float_cmp)]
fn hll_sigma(x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut x, mut y, mut z) = (x, 1.0, x);
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if previous == z {
            return z;
        }
    }
}

#[allow(clippy::float_cmp)]
fn hll_tau(x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut x, mut y, mut z) = (x, 1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if previous == z {
            return z / 3.0;
        }
    }
}

fn histogram(values: &Float64Chunked, lo: Option<f64>, hi: Option<f64>) -> Vec<(f64, u64)> {
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Vec::new();
    };
    if !lo.is_finite() || !hi.is_finite() {
        return Vec::new();
    }
    let width = (hi - lo) / HISTOGRAM_BUCKETS as f64;
    let mut counts = vec![0u64; HISTOGRAM_BUCKETS];
    for v in values.iter().flatten() {
        if !v.is_finite() {
            continue;
        }
        let i = if width > 0.0 {
            (((v - lo) / width) as usize).min(HISTOGRAM_BUCKETS - 1)
        } else {
            0
        };
        counts[i] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, n)| (lo + width * i as f64, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_estimated_distinct_count_never_exceeds_the_rows_that_could_hold_it() {
        // HyperLogLog estimates within a few %, either way: the example's 985,053 unique
        // customer ids read "≈994,009 distinct".
        for n in [300_001i64, 600_000, 985_053] {
            let ids: Vec<Option<i64>> = (1..=n)
                .map(|i| if i % 100 == 0 { None } else { Some(i) })
                .collect();
            let df = df!("id" => ids).unwrap();
            let p = profile(&AssetKey::new("t"), None, &df).unwrap();
            let id = &p.columns[0];
            assert!(id.distinct_approx);
            let nulls = (n / 100) as u64;
            // The non-null values, and null counted as one value as polars counts it.
            let most = n as u64 - nulls + 1;
            assert!(
                id.distinct_count <= most,
                "{n} rows: ≈{} distinct, at most {most}",
                id.distinct_count
            );
        }
    }

    #[test]
    fn a_sampled_column_lists_no_value_it_saw_only_once() {
        // 600,000 rows, sampled one row in three: e-mails all distinct but one, which fills a
        // tenth of the rows. A value seen once in the sample says nothing about how often it
        // occurs: scaled up it would read "occurs 3 times" for values that occur once.
        let n = 600_000usize;
        let emails: Vec<String> = (0..n)
            .map(|i| {
                if i % 10 == 0 {
                    "unknown@example.com".to_owned()
                } else {
                    format!("user{i}@example.com")
                }
            })
            .collect();
        let df = df!("email" => emails).unwrap();
        let p = profile(&AssetKey::new("t"), None, &df).unwrap();
        let email = &p.columns[0];
        assert!(email.sampled);
        assert_eq!(
            email.top_values.len(),
            1,
            "only the repeated value: {:?}",
            email.top_values
        );
        assert_eq!(email.top_values[0].0, "unknown@example.com");
        assert!(email.top_values[0].1.abs_diff(60_000) <= 3_000);
        assert!(email.count_label(email.top_values[0].1).starts_with('≈'));
        // A small table is counted exactly: every value, and no ≈.
        let small = df!("email" => ["a", "b", "b"]).unwrap();
        let p = profile(&AssetKey::new("t"), None, &small).unwrap();
        let email = &p.columns[0];
        assert_eq!(
            email.top_values,
            vec![("b".to_owned(), 2), ("a".to_owned(), 1)]
        );
        assert_eq!(email.count_label(2), "2");
    }

    #[test]
    fn large_columns_are_exact_where_cheap_and_sampled_for_shapes() {
        let n = 600_000usize;
        let ids: Vec<i64> = (0..n as i64).collect();
        let kinds: Vec<&str> = (0..n).map(|i| if i % 3 == 0 { "a" } else { "b" }).collect();
        let df = df!("id" => ids, "kind" => kinds).unwrap();
        let p = profile(&AssetKey::new("t"), None, &df).unwrap();
        let id = &p.columns[0];
        assert!(id.distinct_approx, "large tables estimate distinct values");
        assert!(
            id.distinct_count.abs_diff(n as u64) <= n as u64 * 3 / 100,
            "estimate within 3 %: {}",
            id.distinct_count
        );
        assert_eq!(id.null_count, 0);
        assert!(
            (id.mean.unwrap() - 299_999.5).abs() < 3_000.0,
            "a sampled mean is within 1 %: {:?}",
            id.mean
        );
        let uniform_std = 600_000.0 / 12f64.sqrt();
        assert!(
            (id.std.unwrap() - uniform_std).abs() < uniform_std / 100.0,
            "a sampled stddev is within 1 %: {:?}",
            id.std
        );
        assert_eq!(
            (id.min.as_deref(), id.max.as_deref()),
            (Some("0"), Some("599999"))
        );
        assert!(id.sampled);
        // Scaled sample counts: within 2 % of the truth.
        let total: u64 = id.histogram.iter().map(|(_, c)| c).sum();
        assert!(
            total.abs_diff(n as u64) <= 12_000,
            "scaled histogram total {total}"
        );
        let kind = &p.columns[1];
        assert_eq!(
            kind.top_values[0].0, "b",
            "a periodic pattern must not fool the sample"
        );
        assert!(
            kind.top_values[0].1.abs_diff(400_000) <= 8_000,
            "{:?}",
            kind.top_values
        );
        assert!(
            kind.top_values[1].1.abs_diff(200_000) <= 8_000,
            "{:?}",
            kind.top_values
        );

        // The same table stored and profiled by the streaming engine gives the same profile.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut stored = df.clone();
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .finish(&mut stored)
            .unwrap();
        let lf = LazyFrame::scan_parquet(
            PlRefPath::new(path.to_str().unwrap()),
            ScanArgsParquet::default(),
        )
        .unwrap();
        let mut from_file = profile_stored(&AssetKey::new("t"), None, lf).unwrap();
        // The distinct-value estimate and the sampled stddev may differ in their last digits
        // (partial sketches and sums are merged in another order); the rest is the same.
        for (a, b) in from_file.columns.iter_mut().zip(&p.columns) {
            assert!(
                a.distinct_count.abs_diff(b.distinct_count) <= n as u64 * 3 / 100,
                "{} vs {}",
                a.distinct_count,
                b.distinct_count
            );
            a.distinct_count = b.distinct_count;
            let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
                (Some(x), Some(y)) => (x - y).abs() <= y.abs() * 1e-12,
                (x, y) => x == y,
            };
            assert!(
                close(a.std, b.std) && close(a.mean, b.mean),
                "{a:?} vs {b:?}"
            );
            (a.std, a.mean) = (b.std, b.mean);
        }
        assert_eq!(from_file, p);

        let small = df!("id" => [1i64, 2, 2]).unwrap();
        let p = profile(&AssetKey::new("t"), None, &small).unwrap();
        assert!(!p.columns[0].sampled);
        assert_eq!(p.columns[0].distinct_count, 2);
        assert!(!p.columns[0].distinct_approx, "small tables count exactly");
    }

    /// Streams `df` into a Parquet file through [`Streamed::tap`] and returns what it gathered.
    fn streamed(df: &DataFrame) -> AssetProfile {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let gathered = std::sync::Arc::new(Streamed::default());
        crate::engine::io::sink_parquet_atomically(gathered.tap(df.clone().lazy()), &path).unwrap();
        gathered
            .finish(&AssetKey::new("t"), None, df.schema())
            .expect("every batch observed")
            .unwrap()
    }

    /// `df` profiled while streamed and in memory, after checking that their exact figures
    /// (rows; per column name, type, nulls, min and max) are the same whatever the batches.
    fn both_ways(df: &DataFrame) -> (AssetProfile, AssetProfile) {
        let memory = profile(&AssetKey::new("t"), None, df).unwrap();
        let gathered = streamed(df);
        assert_eq!(gathered.row_count, df.height() as u64);
        for (g, m) in gathered.columns.iter().zip(&memory.columns) {
            assert_eq!(
                (&g.name, &g.dtype, g.null_count, &g.min, &g.max),
                (&m.name, &m.dtype, m.null_count, &m.min, &m.max)
            );
        }
        (gathered, memory)
    }

    #[test]
    fn a_profile_gathered_while_streaming_agrees_with_one_made_in_memory() {
        let n = 1_000_000usize;
        let ids: Vec<Option<i64>> = (0..n as i64).map(|i| (i % 50 != 7).then_some(i)).collect();
        let kinds: Vec<&str> = (0..n).map(|i| ["a", "b", "b", "c"][i % 4]).collect();
        let amounts: Vec<f64> = (0..n).map(|i| (i % 1000) as f64 / 10.0).collect();
        let df = df!("id" => ids, "kind" => kinds, "amount" => amounts).unwrap();
        let (gathered, memory) = both_ways(&df);
        for (g, m) in gathered.columns.iter().zip(&memory.columns) {
            assert!(g.sampled && g.distinct_approx, "{g:?}");
            assert!(
                g.distinct_count.abs_diff(m.distinct_count) <= m.distinct_count * 3 / 100,
                "{}: ≈{} distinct streamed, ≈{} in memory",
                g.name,
                g.distinct_count,
                m.distinct_count
            );
        }
        // The sample: about SAMPLE_ROWS rows, scaled back to the table's size.
        let id = &gathered.columns[0];
        let total: u64 = id.histogram.iter().map(|(_, c)| c).sum();
        let non_null = (n - n / 50) as u64;
        assert!(
            total.abs_diff(non_null) <= non_null / 50,
            "scaled histogram total {total} of {non_null}"
        );
        assert!(
            (id.mean.unwrap() - 499_999.5).abs() < 5_000.0,
            "{:?}",
            id.mean
        );
        let kind = &gathered.columns[1];
        assert_eq!(kind.top_values.len(), 3, "{:?}", kind.top_values);
        for (value, count) in &kind.top_values {
            let truth = if value == "b" { 500_000u64 } else { 250_000 };
            assert!(count.abs_diff(truth) <= truth / 20, "{:?}", kind.top_values);
        }
        assert_eq!(kind.top_values[0].0, "b");
        // The same rows give the same profile.
        assert_eq!(streamed(&df), gathered);
    }

    #[test]
    fn a_small_streamed_table_is_profiled_exactly() {
        let df = df!(
            "id" => [Some(3i64), None, Some(1), Some(3)],
            "name" => ["x", "y", "y", "z"]
        )
        .unwrap();
        let p = streamed(&df);
        let mut memory = profile(&AssetKey::new("t"), None, &df).unwrap();
        // The stddev may differ in its last digit (the rows are summed in other chunks).
        let id = &mut memory.columns[0];
        assert!((id.std.unwrap() - p.columns[0].std.unwrap()).abs() < 1e-12);
        id.std = p.columns[0].std;
        assert_eq!(p, memory);
        assert_eq!(p.columns[0].distinct_count, 3);
        assert!(!p.columns[0].sampled && !p.columns[0].distinct_approx);
        assert_eq!(
            p.columns[1].top_values,
            vec![
                ("y".to_owned(), 2),
                ("x".to_owned(), 1),
                ("z".to_owned(), 1)
            ]
        );
    }

    #[test]
    fn the_distinct_estimate_is_within_a_few_percent() {
        for n in [1u64, 10, 1_000, 50_000, 2_000_000] {
            let mut registers = Box::new([0u8; HLL_REGISTERS]);
            for v in 0..n {
                hll_add(&mut registers, mix(v.wrapping_mul(0x2545_f491_4f6c_dd1d)));
            }
            let estimate = hll_estimate(&registers);
            assert!(
                (estimate - n as f64).abs() <= (n as f64 * 0.03).max(1.0),
                "{n} distinct estimated as {estimate}"
            );
        }
    }

    /// Every column type a Parquet file holds is observed on the way in (none makes the
    /// profile fall back to reading the file), with the exact figures of the in-memory profile;
    /// an empty table is profiled too.
    #[test]
    fn a_streamed_profile_takes_every_stored_type_and_an_empty_table() {
        let n = 300_000usize;
        let df = df!(
            "flag" => (0..n).map(|i| i % 3 == 0).collect::<Vec<_>>(),
            "ratio" => (0..n).map(|i| if i % 7 == 0 { f64::NAN } else { i as f64 / 3.0 }).collect::<Vec<_>>(),
            "nothing" => vec![None::<i32>; n],
            "bytes" => (0..n).map(|i| vec![(i % 5) as u8]).collect::<Vec<_>>(),
        )
        .unwrap()
        .lazy()
        .with_columns([
            (col("ratio") * lit(1000.0))
                .cast(DataType::Int64)
                .cast(DataType::Datetime(
                    TimeUnit::Milliseconds,
                    TimeZone::opt_try_new(Some("Europe/Berlin")).unwrap(),
                ))
                .alias("at"),
            col("ratio").cast(DataType::Decimal(18, 3)).alias("money"),
            concat_list([col("ratio"), col("ratio")]).unwrap().alias("pair"),
            as_struct(vec![col("flag"), col("ratio")]).alias("both"),
            col("flag").cast(DataType::String).cast(DataType::from_categories(Categories::global())).alias("kind"),
        ])
        .collect()
        .unwrap();
        both_ways(&df);
        let empty = df.clear();
        let p = streamed(&empty);
        assert_eq!(p.row_count, 0);
        assert_eq!(p.columns.len(), df.width());
    }

    /// A table with a column named like the sample's hash is not profiled on the way in (its
    /// values would be replaced in the sample): `finish` says so and the file is read instead.
    #[test]
    fn a_column_named_like_the_sample_hash_is_left_to_the_file() {
        let df = df!(SAMPLE_HASH_COLUMN => [1i64, 2, 3]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let gathered = std::sync::Arc::new(Streamed::default());
        crate::engine::io::sink_parquet_atomically(
            gathered.tap(df.clone().lazy()),
            &dir.path().join("t.parquet"),
        )
        .unwrap();
        assert!(
            gathered
                .finish(&AssetKey::new("t"), None, df.schema())
                .is_none()
        );
    }
}
