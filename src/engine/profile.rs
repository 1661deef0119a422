//! Column profiles of a materialization: type, nulls, distinct values, min/max, mean/stddev,
//! top values for strings and a histogram for numbers.

use polars::prelude::*;

use super::check::display_value;
use crate::model::{AssetKey, AssetProfile, ColumnProfile};

/// Buckets in a numeric histogram.
pub const HISTOGRAM_BUCKETS: usize = 10;
/// Values listed for a string column.
pub const TOP_VALUES: usize = 5;
/// Above this many rows, top values and histograms come from a pseudo-random sample of about
/// this many rows (counts, nulls, distinct values, min/max, mean and stddev stay exact).
pub const SAMPLE_ROWS: usize = 250_000;

pub fn profile(
    asset: &AssetKey,
    partition: Option<&str>,
    df: &DataFrame,
) -> PolarsResult<AssetProfile> {
    // Columns are independent: profile them side by side.
    let columns = std::thread::scope(|scope| {
        let handles: Vec<_> = df
            .columns()
            .iter()
            .map(|c| {
                std::thread::Builder::new()
                    .name(format!("medallion-profile-{}", c.name()))
                    .spawn_scoped(scope, move || profile_column(c))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(handle) => handle.join().unwrap_or_else(|_| {
                    Err(polars_err!(ComputeError: "profiling a column crashed"))
                }),
                Err(e) => Err(polars_err!(ComputeError: "cannot start a profiling thread: {e}")),
            })
            .collect::<PolarsResult<Vec<_>>>()
    })?;
    Ok(AssetProfile {
        asset: asset.clone(),
        partition: partition.map(str::to_owned),
        row_count: df.height() as u64,
        columns,
    })
}

fn scalar_text(s: PolarsResult<Scalar>) -> Option<String> {
    s.ok()
        .map(Scalar::into_value)
        .filter(|v| !v.is_null())
        .map(|v| display_value(&v))
}

fn profile_column(c: &Column) -> PolarsResult<ColumnProfile> {
    let series = c.as_materialized_series();
    let dtype = series.dtype().clone();
    let step = series.len().div_ceil(SAMPLE_ROWS).max(1);
    let sample = if step > 1 {
        sample_rows(series, step)?
    } else {
        series.clone()
    };
    let scale = |n: u64| n * step as u64;
    let mut p = ColumnProfile {
        name: c.name().to_string(),
        dtype: dtype.to_string(),
        null_count: series.null_count() as u64,
        distinct_count: series.n_unique().map_or(0, |n| n as u64),
        min: None,
        max: None,
        mean: None,
        std: None,
        top_values: Vec::new(),
        histogram: Vec::new(),
        sampled: step > 1,
    };
    if dtype.is_primitive_numeric()
        || dtype.is_temporal()
        || dtype.is_decimal()
        || dtype == DataType::String
    {
        p.min = scalar_text(series.min_reduce());
        p.max = scalar_text(series.max_reduce());
    }
    if dtype.is_primitive_numeric() || dtype.is_decimal() {
        let floats = series.cast(&DataType::Float64)?;
        let f = floats.f64()?;
        p.mean = f.mean();
        p.std = f.std(1);
        let sampled = sample.cast(&DataType::Float64)?;
        p.histogram = histogram(sampled.f64()?, f.min(), f.max())
            .into_iter()
            .map(|(lo, n)| (lo, scale(n)))
            .collect();
    }
    if dtype == DataType::String {
        let counts = DataFrame::new(sample.len(), vec![sample.clone().into_column()])?
            .lazy()
            .group_by([col(c.name().clone())])
            .agg([len().alias("count")])
            .sort(
                ["count"],
                SortMultipleOptions::default()
                    .with_order_descending(true)
                    .with_maintain_order(true),
            )
            .limit(TOP_VALUES as IdxSize)
            .collect()?;
        let values = counts.column(c.name())?;
        let n = counts.column("count")?.cast(&DataType::UInt64)?;
        let n = n.u64()?;
        for i in 0..counts.height() {
            let v = values.get(i).map(|v| {
                if v.is_null() {
                    "(null)".to_owned()
                } else {
                    display_value(&v)
                }
            })?;
            p.top_values.push((v, scale(n.get(i).unwrap_or(0))));
        }
    }
    Ok(p)
}

/// About one row in `step`, chosen by hashing the row number: deterministic, and unlike every
/// `step`-th row it cannot line up with a pattern in the data.
fn sample_rows(series: &Series, step: usize) -> PolarsResult<Series> {
    let mix = |i: u64| {
        let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let step = step as u64;
    let rows: Vec<IdxSize> = (0..series.len() as u64)
        .filter(|i| mix(*i) % step == 0)
        .filter_map(|i| IdxSize::try_from(i).ok())
        .collect();
    series.take(&IdxCa::from_vec("rows".into(), rows))
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
    fn large_columns_are_exact_where_cheap_and_sampled_for_shapes() {
        let n = 600_000usize;
        let ids: Vec<i64> = (0..n as i64).collect();
        let kinds: Vec<&str> = (0..n).map(|i| if i % 3 == 0 { "a" } else { "b" }).collect();
        let df = df!("id" => ids, "kind" => kinds).unwrap();
        let p = profile(&AssetKey::new("t"), None, &df).unwrap();
        let id = &p.columns[0];
        assert_eq!(id.distinct_count, n as u64, "distinct counts stay exact");
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

        let small = df!("id" => [1i64, 2, 2]).unwrap();
        let p = profile(&AssetKey::new("t"), None, &small).unwrap();
        assert!(!p.columns[0].sampled);
        assert_eq!(p.columns[0].distinct_count, 2);
    }
}
