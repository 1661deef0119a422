//! Schema drift at run time: a source read with other columns or types than its previous
//! materialization had is a warning event (an error failing the step when its contract says
//! `on_drift = "error"`), kept with the run: in the report and in `status`, after the process
//! that ran it has gone.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{self, json, text};

fn medallion(workspace: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(args)
        .env("MEDALLION_WORKSPACE", workspace)
        // No clean-up after runs: a file a failed step leaves behind would stay (the step
        // itself must remove it).
        .env("MEDALLION_KEEP_MATERIALIZATIONS", "0")
        .env_remove("MEDALLION_LOG")
        .output()
        .expect("run medallion")
}

/// The example with `raw_orders` read without a declared schema (its types inferred from the
/// file), so the file alone decides its columns.
fn project(dir: &Path) -> PathBuf {
    let project = dir.join("customer_analytics");
    common::copy_dir(&common::example(), &project);
    let toml = project.join("medallion.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let declared = "[assets.raw_orders.source.schema]\norder_id = \"int64\"\ncustomer_id = \"int64\"\norder_date = \"date\"\namount = \"decimal(12,2)\"\nstatus = \"string\"\n";
    assert!(text.contains(declared));
    std::fs::write(&toml, text.replace(declared, "")).unwrap();
    project
}

/// Rewrites the orders file: a new `channel` column, and `customer_id` written as text.
fn drift_orders(project: &Path) {
    let path = project.join("data/orders.csv");
    let before = std::fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    for (i, line) in before.lines().enumerate() {
        let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        if i == 0 {
            cells.push("channel".to_owned());
        } else {
            cells[1] = format!("c{}", cells[1]);
            cells.push("web".to_owned());
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    std::fs::write(&path, out).unwrap();
}

fn run_raw_orders(ws: &Path) -> (Output, String) {
    let out = medallion(
        ws,
        &[
            "materialize",
            "customer_analytics",
            "--select",
            "raw_orders",
            "--format",
            "json",
        ],
    );
    let run_id = json(&out)["runs"][0]["run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no run id: {}", text(&out)))
        .to_owned();
    (out, run_id)
}

#[test]
fn a_drifted_source_is_a_warning_in_the_report_and_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let project = project(dir.path());
    let out = medallion(&ws, &["import", project.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let (out, first) = run_raw_orders(&ws);
    assert!(out.status.success(), "{}", text(&out));
    let report = medallion(&ws, &["report", &first]);
    assert!(!text(&report).contains("schema drift"), "{}", text(&report));

    drift_orders(&project);
    let (out, second) = run_raw_orders(&ws);
    assert!(
        out.status.success(),
        "a warning does not fail the run: {}",
        text(&out)
    );
    let report = medallion(&ws, &["report", &second]);
    let said = text(&report);
    assert!(
        said.contains(&format!(
            "Warning: raw_orders: schema drift since run {first}: new column channel (str); customer_id i64 → str"
        )),
        "{said}"
    );
    let status = medallion(&ws, &["status", "customer_analytics", "--format", "json"]);
    let doc = json(&status);
    let raw = doc
        .as_array()
        .or_else(|| doc["assets"].as_array())
        .unwrap()
        .iter()
        .find(|a| a["asset"] == "raw_orders")
        .unwrap()
        .clone();
    assert_eq!(raw["drift"]["error"], false, "{raw}");
    assert_eq!(raw["drift"]["added"][0]["name"], "channel", "{raw}");
    assert_eq!(raw["drift"]["retyped"][0]["name"], "customer_id", "{raw}");

    // The next run reads the same columns: the drift is history, no longer on the asset.
    let touched = project.join("data/orders.csv");
    let mut text_now = std::fs::read_to_string(&touched).unwrap();
    text_now.push_str("999999,c1,2024-01-01,1.00,completed,web\n");
    std::fs::write(&touched, text_now).unwrap();
    let (out, _) = run_raw_orders(&ws);
    assert!(out.status.success(), "{}", text(&out));
    let status = medallion(&ws, &["status", "customer_analytics"]);
    assert!(!text(&status).contains("schema drift"), "{}", text(&status));
}

#[test]
fn a_contract_that_fails_on_drift_fails_the_step_and_keeps_the_old_data() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let project = project(dir.path());
    let toml = project.join("medallion.toml");
    let mut t = std::fs::read_to_string(&toml).unwrap();
    t.push_str("\n[assets.raw_orders.contract]\non_drift = \"error\"\n");
    std::fs::write(&toml, t).unwrap();
    let out = medallion(&ws, &["import", project.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let (out, first) = run_raw_orders(&ws);
    assert!(out.status.success(), "{}", text(&out));

    drift_orders(&project);
    let (out, second) = run_raw_orders(&ws);
    assert!(!out.status.success(), "{}", text(&out));
    let report = text(&medallion(&ws, &["report", &second]));
    assert!(
        report.contains(&format!(
            "Error: raw_orders: schema drift since run {first}: new column channel (str); customer_id i64 → str — an error: its contract fails on drift"
        )),
        "{report}"
    );
    assert!(report.contains("on_drift = \"error\""), "{report}");
    let status = text(&medallion(&ws, &["status", "customer_analytics"]));
    assert!(status.contains("schema drift (error)"), "{status}");
    // The last good materialization is still the first run's.
    assert!(status.contains(&first), "{status}");
    // The failed run's Parquet file is removed at once, not left for gc; the first stays.
    let files = files_under(dir.path());
    let named = |run: &str| files.iter().any(|f| f.ends_with(&format!("{run}.parquet")));
    assert!(named(&first), "the first run's file is found: {files:?}");
    assert!(!named(&second), "the failed run's file is gone: {files:?}");
}

/// Every file under `dir`, by name.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    out
}
