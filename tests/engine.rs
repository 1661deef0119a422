//! The local engine on the example project, as a user runs it: the SPEC §8 checksums of the
//! gold outputs at N = 1,000, exact money doubles (§5.1), the four checks, and the CLI's exit
//! codes, preview and incremental runs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polars::prelude::*;
use sha2::{Digest, Sha256};

fn medallion(workspace: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(args)
        .env("MEDALLION_WORKSPACE", workspace)
        .env_remove("MEDALLION_LOG")
        .output()
        .expect("run medallion")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics")
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    medallion::engine::hex(&Sha256::digest(&bytes))
}

/// SPEC §5.1/§5.3: the Parquet schema is exact, and every money value is the double nearest to
/// its cent value — the one that parsing its two-decimal text gives.
fn check_parquet(path: &Path, schema: &[(&str, DataType)], money: &[&str]) {
    let df = LazyFrame::scan_parquet(
        PlRefPath::new(path.to_str().unwrap()),
        ScanArgsParquet::default(),
    )
    .unwrap()
    .collect()
    .unwrap();
    let actual: Vec<(String, DataType)> = df
        .schema()
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    let expected: Vec<(String, DataType)> = schema
        .iter()
        .map(|(n, t)| ((*n).to_owned(), t.clone()))
        .collect();
    assert_eq!(actual, expected, "{}", path.display());
    for name in money {
        let col = df.column(name).unwrap().f64().unwrap().clone();
        for v in col.iter().flatten() {
            let nearest: f64 = format!("{v:.2}").parse().unwrap();
            assert_eq!(
                v.to_bits(),
                nearest.to_bits(),
                "{name}: {v:?} is not the double nearest to {v:.2}"
            );
        }
    }
    assert!(
        df.columns().iter().all(|c| c.null_count() == 0),
        "nulls in {}",
        path.display()
    );
}

#[test]
fn the_example_project_matches_the_spec_checksums() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let out = tmp.path().join("out");
    let o = medallion(
        &ws,
        &[
            "materialize",
            example().to_str().unwrap(),
            "--export-dir",
            out.to_str().unwrap(),
            "--float-precision",
            "2",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["status"], "success");
    let checks = report["runs"][0]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 4, "{checks:?}");
    assert!(checks.iter().all(|c| c["passed"] == true), "{checks:?}");
    let rows = |asset: &str| {
        report["runs"][0]["materializations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["asset"] == asset)
            .map(|m| m["row_count"].as_u64().unwrap())
    };
    for (asset, n) in [
        ("raw_customer_data", 1030),
        ("raw_orders", 10_000),
        ("cleaned_customer_data", 993),
        ("order_history", 7845),
        ("customer_lifetime_value", 992),
        ("daily_revenue", 1458),
    ] {
        assert_eq!(rows(asset), Some(n), "{asset}");
    }
    assert_eq!(
        sha256(&out.join("customer_lifetime_value.csv")),
        "c570c455363472f2fa7159acca9adb18f7ec2e065045d4cf29209653180f9760"
    );
    assert_eq!(
        sha256(&out.join("daily_revenue.csv")),
        "cbfeec8f97f2ce17638a7b58a110711630fc4767f48acf10ca67e9277ecf86d7"
    );
    check_parquet(
        &out.join("customer_lifetime_value.parquet"),
        &[
            ("customer_id", DataType::Int64),
            ("order_count", DataType::Int64),
            ("total_revenue", DataType::Float64),
            ("avg_order_value", DataType::Float64),
            ("first_order_date", DataType::Date),
            ("last_order_date", DataType::Date),
            ("tenure_days", DataType::Int64),
            ("clv", DataType::Float64),
        ],
        &["total_revenue", "avg_order_value", "clv"],
    );
    check_parquet(
        &out.join("daily_revenue.parquet"),
        &[
            ("order_date", DataType::Date),
            ("revenue", DataType::Float64),
            ("order_count", DataType::Int64),
        ],
        &["revenue"],
    );
}
