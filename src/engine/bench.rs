//! The example workload written by hand as one polars lazy query — the yardstick the engine's
//! benchmark compares against (`medallion bench engine`). Nothing is persisted here.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::transform::{full_match_pattern, title_case, trim};

const EMAIL: &str = r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$";

fn csv(path: &Path, schema: &[(&str, DataType)]) -> PolarsResult<LazyFrame> {
    let overrides: Schema = schema
        .iter()
        .map(|(n, t)| Field::new((*n).into(), t.clone()))
        .collect();
    LazyCsvReader::new(PlRefPath::new(path.to_string_lossy().as_ref()))
        .with_has_header(true)
        .with_missing_is_null(true)
        .with_dtype_overwrite(Some(Arc::new(overrides)))
        .finish()
}

fn money(cents: Expr) -> Expr {
    (cents.cast(DataType::Decimal(38, 2)) / lit(100)).cast(DataType::Float64)
}

/// The two gold tables of the hand-written pipeline.
pub struct HandwrittenGold {
    pub customer_lifetime_value: DataFrame,
    pub daily_revenue: DataFrame,
}

impl HandwrittenGold {
    /// The SHA-256 of each gold table's canonical CSV (as `medallion export` writes it, floats
    /// with two decimals), `(customer_lifetime_value, daily_revenue)`: the same figures as
    /// Medallion's own gold tables when both sides compute the same rows.
    ///
    /// # Errors
    /// polars' error when a table cannot be written as CSV.
    pub fn checksums(&self) -> PolarsResult<(String, String)> {
        /// Hashes what is written, so a table of millions of rows is never whole as text.
        struct Hashing(sha2::Sha256);
        impl std::io::Write for Hashing {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                sha2::Digest::update(&mut self.0, buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sum = |df: &DataFrame| -> PolarsResult<String> {
            use sha2::Digest;
            let mut out = Hashing(sha2::Sha256::new());
            super::write_canonical_csv(&mut df.clone(), &mut out, Some(2))?;
            Ok(super::hex(&out.0.finalize()))
        };
        Ok((
            sum(&self.customer_lifetime_value)?,
            sum(&self.daily_revenue)?,
        ))
    }
}

/// Runs the whole SPEC pipeline and returns (`customer_lifetime_value`, `daily_revenue`).
pub fn handwritten(input: &Path) -> PolarsResult<(DataFrame, DataFrame)> {
    let (customers, orders) = inputs(input)?;
    let history = completed_orders(orders, cleaned_customers(customers));
    let clv = lifetime_values(history.clone());
    let daily = daily_revenue(history);
    let mut frames = LazyFrame::collect_all_with_engine(
        vec![clv.logical_plan, daily.logical_plan],
        Engine::Auto,
        OptFlags::default(),
    )?;
    let daily = frames.pop().unwrap_or_default();
    let clv = frames.pop().unwrap_or_default();
    Ok((clv, daily))
}

/// The two CSV files of the example's input, typed as the example's sources declare them.
fn inputs(input: &Path) -> PolarsResult<(LazyFrame, LazyFrame)> {
    // The timestamps are read as text and parsed with their known format: polars' CSV reader
    // would parse each with chrono (its `…%.f` patterns miss its fast parser), several times
    // slower. Medallion's sources get the same speed from a format inferred per batch.
    let customers = csv(
        &input.join("customers.csv"),
        &[
            ("customer_id", DataType::Int64),
            ("first_name", DataType::String),
            ("last_name", DataType::String),
            ("email", DataType::String),
            ("created_at", DataType::String),
            ("updated_at", DataType::String),
        ],
    )?
    .with_columns(["created_at", "updated_at"].map(|c| {
        col(c).str().to_datetime(
            Some(TimeUnit::Microseconds),
            None,
            StrptimeOptions {
                format: Some("%Y-%m-%dT%H:%M:%S".into()),
                strict: true,
                exact: true,
                cache: false,
            },
            lit("raise"),
        )
    }));
    let orders = csv(
        &input.join("orders.csv"),
        &[
            ("order_id", DataType::Int64),
            ("customer_id", DataType::Int64),
            ("order_date", DataType::Date),
            ("amount", DataType::Decimal(12, 2)),
            ("status", DataType::String),
        ],
    )?;
    Ok((customers, orders))
}

/// `cleaned_customer_data`: deduplicated, the latest row per customer, names trimmed and in title
/// case, emails trimmed, lower case and valid.
fn cleaned_customers(customers: LazyFrame) -> LazyFrame {
    let title = |e: Expr| {
        e.map(
            |c: Column| {
                Ok(c.str()?
                    .apply_into_string_amortized(title_case)
                    .into_column())
            },
            |_, f| Ok(f.clone()),
        )
    };
    customers
        .unique_stable(None, UniqueKeepStrategy::First)
        .sort(
            ["updated_at"],
            SortMultipleOptions::default()
                .with_order_descending(true)
                .with_maintain_order(true),
        )
        .unique_stable(
            Some(Selector::ByName {
                names: vec!["customer_id".into()].into(),
                strict: true,
            }),
            UniqueKeepStrategy::First,
        )
        .with_columns([
            title(trim(col("first_name"), " \t")),
            title(trim(col("last_name"), " \t")),
            trim(col("email"), " \t").str().to_lowercase(),
        ])
        .filter(
            col("email")
                .str()
                .contains(lit(full_match_pattern(EMAIL)), true)
                .fill_null(lit(false)),
        )
}

/// `order_history`: the completed orders of a positive amount by a known (cleaned) customer,
/// which both gold assets are built from.
fn completed_orders(orders: LazyFrame, cleaned: LazyFrame) -> LazyFrame {
    orders
        .filter(
            col("status")
                .eq(lit("completed"))
                .and(col("amount").cast(DataType::Float64).gt(lit(0.0))),
        )
        .join(
            cleaned.select([col("customer_id")]),
            [col("customer_id")],
            [col("customer_id")],
            JoinArgs::new(JoinType::Semi),
        )
        .cache()
}

/// An order's amount in whole cents.
fn cents() -> Expr {
    (col("amount") * lit(100)).cast(DataType::Int64)
}

/// `customer_lifetime_value`: per customer, orders, revenue, average order, tenure and CLV.
fn lifetime_values(history: LazyFrame) -> LazyFrame {
    history
        .group_by([col("customer_id")])
        .agg([
            len().cast(DataType::Int64).alias("order_count"),
            cents().sum().alias("cents"),
            col("order_date").min().alias("first_order_date"),
            col("order_date").max().alias("last_order_date"),
        ])
        .with_column(
            (col("last_order_date").cast(DataType::Int64)
                - col("first_order_date").cast(DataType::Int64))
            .alias("tenure_days"),
        )
        .select([
            col("customer_id"),
            col("order_count"),
            money(col("cents")).alias("total_revenue"),
            money(
                (lit(2) * col("cents") + col("order_count")).floor_div(lit(2) * col("order_count")),
            )
            .alias("avg_order_value"),
            col("first_order_date"),
            col("last_order_date"),
            col("tenure_days"),
            money(
                (lit(2) * col("cents") * (lit(365) + col("tenure_days")) + lit(365))
                    .floor_div(lit(730)),
            )
            .alias("clv"),
        ])
        .sort(["customer_id"], SortMultipleOptions::default())
}

/// `daily_revenue`: revenue and orders per day.
fn daily_revenue(history: LazyFrame) -> LazyFrame {
    history
        .group_by([col("order_date")])
        .agg([
            cents().sum().alias("cents"),
            len().cast(DataType::Int64).alias("order_count"),
        ])
        .select([
            col("order_date"),
            money(col("cents")).alias("revenue"),
            col("order_count"),
        ])
        .sort(["order_date"], SortMultipleOptions::default())
}

/// Two versions of an `rows`-row table for the diff benchmark (`medallion bench diff`), written
/// as Parquet files `a.parquet` and `b.parquet` into `dir`: B lacks A's first rows (one per
/// thousand), has as many new rows at the end, and one amount in a thousand changed.
///
/// # Errors
/// polars' or the file system's error when a file cannot be written.
pub fn diff_tables(dir: &Path, rows: usize) -> PolarsResult<(PathBuf, PathBuf)> {
    let table = |ids: Vec<i64>, changed: bool| -> PolarsResult<DataFrame> {
        let amount: Vec<f64> = ids
            .iter()
            .map(|&i| {
                let cents = f64::from(i32::try_from(i % 10_000).unwrap_or(0));
                let bump = if changed && i % 1000 == 7 { 1.0 } else { 0.0 };
                cents / 100.0 + bump
            })
            .collect();
        let status: Vec<&str> = ids
            .iter()
            .map(|&i| if i % 3 == 0 { "completed" } else { "pending" })
            .collect();
        df!("id" => ids, "amount" => amount, "status" => status)
    };
    let n = i64::try_from(rows).unwrap_or(i64::MAX);
    let few = (n / 1000).max(1);
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for (name, ids, changed) in [
        ("a.parquet", (0..n).collect::<Vec<i64>>(), false),
        ("b.parquet", (few..n + few).collect(), true),
    ] {
        let mut df = table(ids, changed)?;
        let path = dir.join(name);
        ParquetWriter::new(std::fs::File::create(&path)?).finish(&mut df)?;
        out.push(path);
    }
    let b = out.pop().unwrap_or_default();
    let a = out.pop().unwrap_or_default();
    Ok((a, b))
}

/// The studio preview's sort and filter on a generated `rows`-row preview of orders (id,
/// amount, status, note): `(what, milliseconds, rows shown)` for a sort by amount (numbers),
/// a sort by status (text, descending) and a filter on any column (`medallion bench
/// preview-order`).
///
/// # Errors
/// polars' error when the table cannot be built.
pub fn preview_order(rows: usize) -> PolarsResult<Vec<(String, f64, usize)>> {
    let n = i64::try_from(rows).unwrap_or(i64::MAX);
    let ids: Vec<i64> = (0..n).collect();
    // A scrambled amount (a multiplicative hash), so the sort has work to do.
    let amount: Vec<f64> = ids
        .iter()
        .map(|&i| {
            let h = (i.wrapping_mul(2_654_435_761) % 1_000_003).abs();
            f64::from(i32::try_from(h).unwrap_or(0)) / 100.0
        })
        .collect();
    let statuses = ["completed", "pending", "cancelled", "refunded"];
    let status: Vec<&str> = ids
        .iter()
        .map(|&i| statuses[usize::try_from(i.wrapping_mul(31) % 4).unwrap_or(0)])
        .collect();
    let note: Vec<String> = ids
        .iter()
        .map(|i| format!("order {i} of the day"))
        .collect();
    let df = df!("id" => ids, "amount" => amount, "status" => status, "note" => note)?;
    let table = super::preview::PreviewRows::from_frame(&df);
    let mut out = Vec::new();
    for (what, sort, filter) in [
        ("sort by amount (numbers)", Some((1, true, false)), ""),
        (
            "sort by status (text, descending)",
            Some((2, false, true)),
            "",
        ),
        ("filter 'CANCELLED' in any column", None, "CANCELLED"),
    ] {
        let started = std::time::Instant::now();
        let order = table.order(sort, filter, None);
        out.push((
            what.to_owned(),
            started.elapsed().as_secs_f64() * 1000.0,
            order.len(),
        ));
    }
    Ok(out)
}
