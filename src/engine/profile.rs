//! Column profiles of a materialization: type, nulls, distinct values, min/max, mean/stddev,
//! top values for strings and a histogram for numbers.

use polars::prelude::*;

use super::check::display_value;
use crate::model::{AssetKey, AssetProfile, ColumnProfile};

/// Buckets in a numeric histogram.
pub const HISTOGRAM_BUCKETS: usize = 10;
/// Values listed for a string column.
pub const TOP_VALUES: usize = 5;

pub fn profile(
    asset: &AssetKey,
    partition: Option<&str>,
    df: &DataFrame,
) -> PolarsResult<AssetProfile> {
    let mut columns = Vec::with_capacity(df.width());
    for c in df.columns() {
        columns.push(profile_column(c)?);
    }
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
        p.histogram = histogram(f);
    }
    if dtype == DataType::String {
        let counts = DataFrame::new(series.len(), vec![c.clone()])?
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
            p.top_values.push((v, n.get(i).unwrap_or(0)));
        }
    }
    Ok(p)
}

fn histogram(values: &Float64Chunked) -> Vec<(f64, u64)> {
    let (Some(lo), Some(hi)) = (values.min(), values.max()) else {
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
