//! The local engine on the example project, as a user runs it: the SPEC §8 checksums of the
//! gold outputs at N = 1,000, exact money doubles (§5.1), the four checks, and the CLI's exit
//! codes, preview and incremental runs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names,
    clippy::disallowed_methods
)]

use crate::common;

use common::{example, json, text};
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

/// The gold CSVs exported to `out` (`--float-precision 2`) match SPEC §8 at N = 1,000.
fn assert_spec_checksums(out: &Path) {
    assert_eq!(
        sha256(&out.join("customer_lifetime_value.csv")),
        "c570c455363472f2fa7159acca9adb18f7ec2e065045d4cf29209653180f9760"
    );
    assert_eq!(
        sha256(&out.join("daily_revenue.csv")),
        "cbfeec8f97f2ce17638a7b58a110711630fc4767f48acf10ca67e9277ecf86d7"
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
    assert_spec_checksums(&out);
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

/// With a tight memory budget (`MEDALLION_MEMORY_BUDGET_MB`), a big file source streams from
/// CSV straight into Parquet instead of being held in memory, and the results do not change.
#[test]
fn a_tight_memory_budget_streams_big_sources_with_the_same_results() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args([
            "materialize",
            example().to_str().unwrap(),
            "--export-dir",
            out.to_str().unwrap(),
            "--float-precision",
            "2",
        ])
        .env("MEDALLION_WORKSPACE", tmp.path().join("ws.sqlite"))
        .env("MEDALLION_MEMORY_BUDGET_MB", "1")
        .env_remove("MEDALLION_LOG")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let log = text(&o);
    assert!(
        log.contains("raw_orders: too big to hold in memory beside other steps; streamed"),
        "{log}"
    );
    assert!(
        !log.contains("raw_customer_data: too big"),
        "the small source (about 100 KB) stays in memory: {log}"
    );
    assert_spec_checksums(&out);
}

/// A plan for every asset of the example project, writing under `store_dir`.
fn example_plan(run_id: &str, store_dir: &Path) -> medallion::engine::RunPlan {
    let loaded = medallion::format::read_project(&example()).unwrap();
    let all = loaded
        .project
        .assets
        .iter()
        .map(|a| a.key.clone())
        .collect();
    medallion::engine::RunPlan {
        run_id: run_id.into(),
        steps: medallion::engine::ordered_steps(&loaded.project, &all).unwrap(),
        project: loaded.project,
        project_dir: example(),
        store_dir: store_dir.to_owned(),
        partition: None,
        force: false,
        previous: vec![],
        previous_checks: vec![],
        allow_failed_upstream: false,
        checks_only: false,
        masking: medallion::engine::mask::Masking::default(),
    }
}

/// A copy of the example project in a temporary directory, to edit freely.
fn copy_example(to: &Path) -> PathBuf {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            let target = to.join(p.file_name().unwrap());
            if p.is_dir() {
                copy_dir(&p, &target);
            } else {
                std::fs::copy(&p, &target).unwrap();
            }
        }
    }
    let dir = to.join("customer_analytics");
    copy_dir(&example(), &dir);
    dir
}

fn outcomes(report: &serde_json::Value) -> Vec<(String, String)> {
    report["runs"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["asset"].as_str().unwrap().to_owned(),
                s["outcome"]["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn unchanged_assets_are_up_to_date_until_forced_or_their_inputs_change() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let d = dir.to_str().unwrap();
    assert_eq!(medallion(&ws, &["materialize", d]).status.code(), Some(0));
    let second = json(&medallion(&ws, &["materialize", d, "--format", "json"]));
    assert!(
        outcomes(&second).iter().all(|(_, o)| o == "up_to_date"),
        "{:?}",
        outcomes(&second)
    );
    let forced = json(&medallion(
        &ws,
        &["materialize", d, "--force", "--format", "json"],
    ));
    assert!(
        outcomes(&forced).iter().all(|(_, o)| o == "materialized"),
        "{:?}",
        outcomes(&forced)
    );

    // New orders: the orders branch and the gold assets rerun, the customers branch does not.
    let orders = dir.join("data/orders.csv");
    let mut text = std::fs::read_to_string(&orders).unwrap();
    text.push_str("10001,1,2024-12-31,12.34,completed\n");
    std::fs::write(&orders, text).unwrap();
    let after = json(&medallion(&ws, &["materialize", d, "--format", "json"]));
    let by_asset: std::collections::BTreeMap<_, _> = outcomes(&after).into_iter().collect();
    assert_eq!(by_asset["raw_customer_data"], "up_to_date");
    assert_eq!(by_asset["cleaned_customer_data"], "up_to_date");
    for rerun in [
        "raw_orders",
        "order_history",
        "customer_lifetime_value",
        "daily_revenue",
    ] {
        assert_eq!(by_asset[rerun], "materialized", "{rerun}: {by_asset:?}");
    }
    // Editing SQL changes the definition: that asset reruns.
    let sql = dir.join("sql/daily_revenue.sql");
    let edited = std::fs::read_to_string(&sql)
        .unwrap()
        .replace("ORDER BY order_date", "ORDER BY order_date ASC");
    std::fs::write(&sql, edited).unwrap();
    let after = json(&medallion(
        &ws,
        &[
            "materialize",
            d,
            "--select",
            "daily_revenue",
            "--format",
            "json",
        ],
    ));
    assert_eq!(
        outcomes(&after),
        vec![("daily_revenue".to_owned(), "materialized".to_owned())]
    );
}

#[test]
fn a_failed_blocking_check_skips_downstream_and_fails_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let toml = dir.join("medallion.toml");
    let original = std::fs::read_to_string(&toml).unwrap();
    // order_history must now have at least a million rows: it has 7,845.
    std::fs::write(
        &toml,
        original.replace(
            "kind = \"row_count\"\nmin = 1",
            "kind = \"row_count\"\nmin = 1000000",
        ),
    )
    .unwrap();
    let o = medallion(
        &ws,
        &["materialize", dir.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "failure");
    let steps = &report["runs"][0]["steps"];
    let step = |asset: &str| {
        steps
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["asset"] == asset)
            .unwrap()
            .clone()
    };
    assert_eq!(step("order_history")["outcome"]["outcome"], "materialized");
    let run_id = report["runs"][0]["run_id"].as_str().unwrap();
    for downstream in ["customer_lifetime_value", "daily_revenue"] {
        assert_eq!(
            step(downstream)["outcome"]["outcome"],
            "blocked",
            "{downstream}"
        );
        assert_eq!(
            step(downstream)["outcome"]["reason"],
            format!(
                "blocked: check order_history_not_empty of asset order_history failed in run {run_id}"
            )
        );
    }
    let failed: Vec<_> = report["runs"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["description"]
            .as_str()
            .unwrap()
            .contains("7845 rows"),
        "{}",
        failed[0]
    );

    // The same check as a non-blocking warning: downstream runs and the run succeeds.
    let warn = original.replace(
        "kind = \"row_count\"\nmin = 1\ndescription = \"Row count > 0\"\nseverity = \"error\"\nblocking = true",
        "kind = \"row_count\"\nmin = 1000000\ndescription = \"Row count > 0\"\nseverity = \"warn\"\nblocking = false",
    );
    assert_ne!(warn, original);
    std::fs::write(&toml, warn).unwrap();
    let o = medallion(
        &ws,
        &["materialize", dir.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let by_asset: std::collections::BTreeMap<_, _> = outcomes(&json(&o)).into_iter().collect();
    assert_eq!(by_asset["daily_revenue"], "materialized");
}

/// Trust: an asset with nothing downstream whose stored data failed an Error check. Running
/// again finds it up to date, and the run must still fail, naming the check and the run that
/// found the failure, as the run that found it did: whether a check ran in this run or an
/// earlier one on the same data must not change the verdict. So must a run with
/// `--allow-failed-upstream` (it builds from failing data; it does not make the data pass), and
/// the same holds for a non-blocking Error check.
#[test]
fn a_leaf_whose_stored_data_failed_an_error_check_fails_every_later_run() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let d = dir.to_str().unwrap();
    let toml = dir.join("medallion.toml");
    let (_, strict, first_run) = failing_first_run(
        &ws,
        &dir,
        "predicate = \"clv >= 0\"",
        "predicate = \"clv >= 100000\"",
    );
    for args in [
        vec!["materialize", d, "--format", "json"],
        vec![
            "materialize",
            d,
            "--allow-failed-upstream",
            "--format",
            "json",
        ],
    ] {
        let again = medallion(&ws, &args);
        assert_eq!(again.status.code(), Some(1), "{args:?}: {}", text(&again));
        let report = json(&again);
        assert_eq!(report["status"], "failure", "{args:?}");
        let step = step_of(&report, "customer_lifetime_value");
        assert_eq!(step["outcome"]["outcome"], "up_to_date");
        // The step says what failed it, not a plain "up to date" (the timeline drew it green).
        assert_eq!(
            step["outcome"]["failing"]["check"], "customer_lifetime_value_clv_non_negative",
            "{args:?}: {step}"
        );
        assert_eq!(
            step["outcome"]["failing"]["run_id"],
            first_run.as_str(),
            "{step}"
        );
        // An up-to-date step whose data passes says nothing more.
        assert!(
            step_of(&report, "daily_revenue")["outcome"]
                .get("failing")
                .is_none()
        );
        let error = report["runs"][0]["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("customer_lifetime_value_clv_non_negative")
                && error.contains(&first_run),
            "{args:?}: the run's error names the check and the run that found it: {report}"
        );
    }
    let o = medallion(&ws, &["materialize", d]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("run failure"), "{}", text(&o));
    // The step's line and the run's counts say which step failed it.
    assert!(
        text(&o).contains(&format!(
            "customer_lifetime_value: up to date, failing (check customer_lifetime_value_clv_non_negative failed on its stored data in run {first_run}) in"
        )),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("6 up to date (1 failing an Error check on its stored data)"),
        "{}",
        text(&o)
    );
    // The dry run says so beforehand, as the launch dialog does.
    let o = medallion(&ws, &["materialize", d, "--dry-run", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let plan = json(&o);
    let clv = planned_step(&plan, "customer_lifetime_value");
    assert_eq!(clv["status"]["status"], "up_to_date", "{plan}");
    assert_eq!(
        clv["status"]["failed"]["check"], "customer_lifetime_value_clv_non_negative",
        "{plan}"
    );
    assert_eq!(
        clv["status"]["failed"]["run_id"],
        first_run.as_str(),
        "{plan}"
    );
    assert!(
        plan["summary"]
            .as_str()
            .unwrap()
            .contains("the run will fail"),
        "{plan}"
    );
    let o = medallion(&ws, &["materialize", d, "--dry-run"]);
    assert!(
        text(&o).contains("its data failed check customer_lifetime_value_clv_non_negative"),
        "{}",
        text(&o)
    );
    // Nothing says success for this data anywhere: `runs` lists the later runs as failures.
    let listed = json(&medallion(&ws, &["runs", "--format", "json"]));
    let statuses: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failure"; 4], "{listed}");

    // A non-blocking Error check: the same, it fails every run on this data.
    let non_blocking = strict.replace(
        "predicate = \"clv >= 100000\"\ndescription = \"Every clv ≥ 0\"\nseverity = \"error\"\nblocking = true",
        "predicate = \"clv >= 100000\"\ndescription = \"Every clv ≥ 0\"\nseverity = \"error\"\nblocking = false",
    );
    assert_ne!(non_blocking, strict);
    std::fs::write(&toml, &non_blocking).unwrap();
    let o = medallion(&ws, &["materialize", d, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = medallion(&ws, &["materialize", d, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(json(&o)["status"], "failure");
}

fn step_of(report: &serde_json::Value, asset: &str) -> serde_json::Value {
    report["runs"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["asset"] == asset)
        .unwrap_or_else(|| panic!("no step {asset} in {report}"))
        .clone()
}

/// `--allow-failed-upstream` after `order_history` failed its blocking check: gold is built,
/// the run, its report and `runs` say so, and its log names each asset built from the failing
/// data — and a second override, finding gold up to date, says nothing was built.
fn override_builds_gold_and_says_so(ws: &Path, d: &str, tmp: &Path) {
    let ws = ws.to_path_buf();
    // The explicit override builds gold, and says so on the run and in its report. The run
    // still fails: order_history's data fails its check whatever is built from it.
    let o = medallion(
        &ws,
        &[
            "materialize",
            d,
            "--allow-failed-upstream",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "failure");
    assert_eq!(report["runs"][0]["allow_failed_upstream"], true);
    for gold in ["customer_lifetime_value", "daily_revenue"] {
        assert_eq!(
            step_of(&report, gold)["outcome"]["outcome"],
            "materialized",
            "{gold}"
        );
    }
    let run_id = report["runs"][0]["run_id"].as_str().unwrap().to_owned();
    let file = tmp.join("report.json");
    let o = medallion(&ws, &["report", &run_id, "--json", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["run"]["allow_failed_upstream"], true, "{saved}");
    let listed = json(&medallion(&ws, &["runs", "--format", "json"]));
    let listed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == run_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(listed["allow_failed_upstream"], true, "{listed}");
    // Its log names each asset built from the failing data.
    let log = text(&medallion(&ws, &["logs", &run_id]));
    for gold in ["customer_lifetime_value", "daily_revenue"] {
        assert!(
            log.contains(&format!(
                "{gold}: built from order_history, whose data failed"
            )),
            "{log}"
        );
    }
    // The override again: gold is up to date now, so nothing is built from anything, and
    // the log must not say it was.
    let o = medallion(&ws, &["materialize", d, "--allow-failed-upstream"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("0 materialized"), "{}", text(&o));
    assert!(
        !text(&o).contains("built from order_history"),
        "{}",
        text(&o)
    );
}

/// Makes a check of the example copy in `dir` fail (`from` replaced by `to` in its
/// `medallion.toml`) and materializes it, which fails: (the file before, after, the run).
fn failing_first_run(ws: &Path, dir: &Path, from: &str, to: &str) -> (String, String, String) {
    let toml = dir.join("medallion.toml");
    let original = std::fs::read_to_string(&toml).unwrap();
    let strict = original.replace(from, to);
    assert_ne!(strict, original);
    std::fs::write(&toml, &strict).unwrap();
    let first = medallion(
        ws,
        &["materialize", dir.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    let first_run = json(&first)["runs"][0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (original, strict, first_run)
}

/// The step of `asset` in a `--dry-run --format json` plan.
fn planned_step(plan: &serde_json::Value, asset: &str) -> serde_json::Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["asset"] == asset)
        .unwrap_or_else(|| panic!("no step {asset} in {plan}"))
        .clone()
}

fn checks_of(report: &serde_json::Value) -> Vec<(String, bool)> {
    report["runs"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check_name"].as_str().unwrap().to_owned(),
                c["passed"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Trust issue, finding 1: running again must not build gold from `order_history` data that
/// failed its blocking check. The gate holds on every later run until the asset passes; an
/// explicit override runs anyway and is recorded on the run and in its report.
#[test]
fn a_failed_blocking_check_keeps_blocking_downstream_on_later_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let d = dir.to_str().unwrap();
    let toml = dir.join("medallion.toml");
    let (original, _, first_run) = failing_first_run(
        &ws,
        &dir,
        "kind = \"row_count\"\nmin = 1\n",
        "kind = \"row_count\"\nmin = 1000000\n",
    );
    let reason = format!(
        "blocked: check order_history_not_empty of asset order_history failed in run {first_run}"
    );

    // The same command again: order_history is unchanged (up to date) and still failing.
    let second = medallion(&ws, &["materialize", d, "--format", "json"]);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    let report = json(&second);
    assert_eq!(report["status"], "failure");
    assert_eq!(
        step_of(&report, "order_history")["outcome"]["outcome"],
        "up_to_date"
    );
    for gold in ["customer_lifetime_value", "daily_revenue"] {
        let step = step_of(&report, gold);
        assert_eq!(step["outcome"]["outcome"], "blocked", "{gold}: {step}");
        assert_eq!(step["outcome"]["reason"], reason.as_str(), "{gold}");
    }
    assert!(
        report["runs"][0]["materializations"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing is built from failing data: {report}"
    );
    // Text output names the cause.
    let o = medallion(&ws, &["materialize", d]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains(&reason), "{}", text(&o));
    // No check ran in it, and the summary says so rather than "checks 0/0 passed".
    assert!(text(&o).contains("; no check ran"), "{}", text(&o));
    assert!(!text(&o).contains("0/0"), "{}", text(&o));
    // `medallion status` says the same as the runs: order_history failed, gold blocked.
    let asset_states = |ws: &Path| -> std::collections::BTreeMap<String, serde_json::Value> {
        let o = medallion(ws, &["status", "customer_analytics", "--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        json(&o)["assets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["asset"].as_str().unwrap().to_owned(), a.clone()))
            .collect()
    };
    let states = asset_states(&ws);
    assert_eq!(states["order_history"]["status"]["status"], "failed");
    assert_eq!(states["order_history"]["checks"]["failed"], 1);
    for gold in ["customer_lifetime_value", "daily_revenue"] {
        assert_eq!(states[gold]["status"]["status"], "blocked", "{gold}");
        assert_eq!(states[gold]["status"]["reason"], reason.as_str(), "{gold}");
    }
    assert_eq!(states["raw_orders"]["status"]["status"], "fresh");
    // Selecting only gold does not get around the gate either.
    let o = medallion(
        &ws,
        &[
            "materialize",
            d,
            "--select",
            "daily_revenue",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(
        step_of(&json(&o), "daily_revenue")["outcome"]["outcome"],
        "blocked"
    );

    override_builds_gold_and_says_so(&ws, d, tmp.path());

    // Put the check back: until it runs, its verdict on the stored data is unknown ("not
    // run"), which blocks nothing; it is evaluated again on the stored order_history (a check
    // is a definition too), passes, and nothing is blocked any more.
    std::fs::write(&toml, &original).unwrap();
    let o = medallion(&ws, &["import", d, "--replace"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let states = asset_states(&ws);
    assert_eq!(states["order_history"]["status"]["status"], "fresh");
    assert_eq!(states["order_history"]["checks"]["not_run"], 1);
    assert_eq!(states["order_history"]["checks"]["failed"], 0);
    let o = medallion(&ws, &["materialize", d, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(
        step_of(&report, "order_history")["outcome"]["outcome"],
        "up_to_date"
    );
    assert!(
        checks_of(&report).contains(&("order_history_not_empty".to_owned(), true)),
        "{:?}",
        checks_of(&report)
    );
}

/// Trust issue, finding 2: an edited check runs against the latest materialization without
/// rematerializing — on the next `materialize`, and on its own with `medallion check`.
#[test]
fn an_edited_check_runs_on_the_stored_data_without_rematerializing() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let d = dir.to_str().unwrap();
    assert_eq!(medallion(&ws, &["materialize", d]).status.code(), Some(0));
    let toml = dir.join("medallion.toml");
    let original = std::fs::read_to_string(&toml).unwrap();
    let broken = original.replace("predicate = \"clv >= 0\"", "predicate = \"clv < 0\"");
    assert_ne!(broken, original);
    std::fs::write(&toml, &broken).unwrap();

    // The dry run says the changed check will run on stored data.
    let o = medallion(&ws, &["materialize", d, "--dry-run", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let plan = json(&o);
    let clv = planned_step(&plan, "customer_lifetime_value");
    assert_eq!(clv["status"]["status"], "up_to_date", "{clv}");
    assert_eq!(
        clv["status"]["checks"],
        serde_json::json!(["customer_lifetime_value_clv_non_negative"]),
        "{clv}"
    );
    let o = medallion(&ws, &["materialize", d, "--dry-run"]);
    assert!(
        text(&o).contains("1 check changed: it will run"),
        "{}",
        text(&o)
    );

    let o = medallion(&ws, &["materialize", d, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report = json(&o);
    assert_eq!(
        step_of(&report, "customer_lifetime_value")["outcome"]["outcome"],
        "up_to_date"
    );
    assert_eq!(
        checks_of(&report),
        vec![("customer_lifetime_value_clv_non_negative".to_owned(), false)],
        "only the changed check runs"
    );
    assert!(
        report["runs"][0]["materializations"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // `medallion check` runs every check of the selection on the stored data.
    let o = medallion(&ws, &["check", d, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report = json(&o);
    let checks = checks_of(&report);
    assert_eq!(checks.len(), 4, "{checks:?}");
    assert!(checks.contains(&("customer_lifetime_value_clv_non_negative".to_owned(), false)));
    assert!(
        report["runs"][0]["materializations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let o = medallion(&ws, &["check", d, "--select", "order_history"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("order_history_not_empty"), "{}", text(&o));

    // Fixed again: `check` passes, and the next materialize has nothing to run.
    std::fs::write(&toml, &original).unwrap();
    let o = medallion(&ws, &["check", d, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(checks_of(&json(&o)).iter().all(|(_, passed)| *passed));
    let o = medallion(&ws, &["materialize", d, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(checks_of(&json(&o)).is_empty(), "{}", text(&o));
}

#[test]
fn bad_inputs_fail_the_step_with_the_asset_and_cause_and_keep_earlier_data() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let d = dir.to_str().unwrap();
    assert_eq!(medallion(&ws, &["materialize", d]).status.code(), Some(0));
    let orders = dir.join("data/orders.csv");
    let good = std::fs::read(&orders).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("missing file", Vec::new(), "does not exist"),
        ("ragged row", b"order_id,customer_id,order_date,amount,status\n1,2,2024-01-01,1.00,completed,extra,more\n".to_vec(), "raw_orders"),
        ("mistyped value", b"order_id,customer_id,order_date,amount,status\nabc,2,2024-01-01,1.00,completed\n".to_vec(), "raw_orders"),
        ("non-UTF-8 bytes", b"order_id,customer_id,order_date,amount,status\n1,2,2024-01-01,1.00,compl\xe9ted\n".to_vec(), "raw_orders"),
    ];
    for (what, bytes, needle) in cases {
        if bytes.is_empty() {
            std::fs::remove_file(&orders).unwrap();
        } else {
            std::fs::write(&orders, &bytes).unwrap();
        }
        let o = medallion(&ws, &["materialize", d, "--force", "--format", "json"]);
        let out = text(&o);
        assert!(!out.contains("panicked"), "{what}: {out}");
        if what == "non-UTF-8 bytes" && o.status.code() == Some(0) {
            // polars reads invalid UTF-8 lossily; the run must still be consistent.
            continue;
        }
        assert_eq!(o.status.code(), Some(1), "{what}: {out}");
        let report = json(&o);
        let steps = report["runs"][0]["steps"].as_array().unwrap().clone();
        let raw = steps.iter().find(|s| s["asset"] == "raw_orders").unwrap();
        assert_eq!(raw["outcome"]["outcome"], "failed", "{what}");
        let error = raw["outcome"]["error"].as_str().unwrap();
        assert!(
            error.contains("raw_orders") && error.contains(needle),
            "{what}: {error}"
        );
        let downstream = steps
            .iter()
            .find(|s| s["asset"] == "order_history")
            .unwrap();
        assert_eq!(
            downstream["outcome"]["reason"], "upstream raw_orders failed",
            "{what}"
        );
    }
    std::fs::write(&orders, good).unwrap();
    // Earlier materializations are intact: the upstream that did not change is still readable.
    let o = medallion(
        &ws,
        &[
            "preview",
            d,
            "cleaned_customer_data",
            "--limit",
            "3",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // SQL naming an unknown column fails that asset with the cause.
    let sql = dir.join("sql/daily_revenue.sql");
    std::fs::write(
        &sql,
        "SELECT order_date, SUM(no_such_column) AS revenue FROM order_history GROUP BY order_date",
    )
    .unwrap();
    let o = medallion(
        &ws,
        &[
            "materialize",
            d,
            "--select",
            "daily_revenue",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report = json(&o);
    let error = report["runs"][0]["steps"][0]["outcome"]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.contains("daily_revenue") && error.contains("no_such_column"),
        "{error}"
    );

    // An empty input (header only) materializes zero rows; the not-empty check then fails.
    std::fs::write(&orders, "order_id,customer_id,order_date,amount,status\n").unwrap();
    std::fs::write(
        &sql,
        std::fs::read_to_string(example().join("sql/daily_revenue.sql")).unwrap(),
    )
    .unwrap();
    let o = medallion(&ws, &["materialize", d, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report = json(&o);
    let check = report["runs"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check_name"] == "order_history_not_empty")
        .unwrap()
        .clone();
    assert_eq!(check["passed"], false);
}

#[test]
fn preview_shows_typed_columns_and_says_it_is_a_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(
        &ws,
        &[
            "preview",
            example().to_str().unwrap(),
            "cleaned_customer_data",
            "--limit",
            "5",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let p = json(&o);
    assert_eq!(p["rows"].as_array().unwrap().len(), 5);
    assert_eq!(p["is_sample"], true);
    let cols: Vec<(String, String)> = p["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["dtype"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(cols[0], ("customer_id".to_owned(), "i64".to_owned()));
    assert_eq!(cols.len(), 6);
    let o = medallion(
        &ws,
        &[
            "preview",
            example().to_str().unwrap(),
            "daily_revenue",
            "--limit",
            "100000",
            "--format",
            "json",
        ],
    );
    let p = json(&o);
    assert_eq!(p["rows"].as_array().unwrap().len(), 1458);
    assert_eq!(p["is_sample"], false);
    let o = medallion(&ws, &["preview", example().to_str().unwrap(), "nope"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn reports_open_offline_and_sample_data_runs_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let o = medallion(
        &ws,
        &[
            "sample-data",
            "--customers",
            "2000",
            dir.join("data").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = medallion(
        &ws,
        &["materialize", dir.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    let run_id = report["runs"][0]["run_id"].as_str().unwrap().to_owned();
    let rows = |asset: &str| {
        report["runs"][0]["materializations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["asset"] == asset)
            .unwrap()["row_count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(rows("raw_orders"), 20_000);
    let raw = rows("raw_customer_data");
    assert!(
        (2050..2090).contains(&raw),
        "{raw} raw customer rows for 2,000 customers"
    );
    let cleaned = rows("cleaned_customer_data");
    assert!(
        (1900..2000).contains(&cleaned),
        "{cleaned} cleaned customers"
    );

    let html = tmp.path().join("report.html");
    let json_path = tmp.path().join("report.json");
    let o = medallion(
        &ws,
        &[
            "report",
            &run_id,
            "--html",
            html.to_str().unwrap(),
            "--json",
            json_path.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    for needle in [
        "cleaned_customer_data_unique_customer_id",
        "order_history_not_empty",
        "<svg",
        "Profiles",
    ] {
        assert!(page.contains(needle), "{needle} missing from the report");
    }
    assert!(
        !page.contains("<script") && !page.contains("http://") && !page.contains("https://"),
        "the report must open offline"
    );
    let parsed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(parsed["checks"].as_array().unwrap().len(), 4);
    assert_eq!(parsed["profiles"].as_array().unwrap().len(), 6);
    let o = medallion(
        &ws,
        &[
            "report",
            "no-such-run",
            "--json",
            json_path.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn partitions_run_one_key_or_a_backfill_range() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/partitioned");
    let d = dir.to_str().unwrap();
    // A partitioned asset needs a partition.
    let o = medallion(&ws, &["materialize", d, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("is partitioned: choose a partition"),
        "{}",
        text(&o)
    );

    let o = medallion(
        &ws,
        &[
            "materialize",
            d,
            "--partition",
            "2024-01-02",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The fixture's SQL has a `DATE '…'` literal, which polars casts from a string and warns
    // about as deprecated; that goes to the debug log, not to the user's terminal.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("Deprecation"), "{stderr}");
    let report = json(&o);
    let m = &report["runs"][0]["materializations"];
    assert_eq!(m[0]["partition"], "2024-01-02");
    assert_eq!(m[0]["row_count"], 3);
    assert_eq!(m[1]["row_count"], 1);
    assert_eq!(report["runs"][0]["checks"][0]["partition"], "2024-01-02");

    let o = medallion(
        &ws,
        &[
            "materialize",
            d,
            "--partition-range",
            "2024-01-01..2024-01-02",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["partition"], "2024-01-01");
    assert_eq!(runs[0]["materializations"][0]["row_count"], 2);
    // 2024-01-02 was materialized above with the same inputs: up to date.
    assert!(
        runs[1]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["outcome"]["outcome"] == "up_to_date"),
        "{}",
        runs[1]
    );

    // A partition with no file fails with the path.
    let o = medallion(
        &ws,
        &[
            "materialize",
            d,
            "--partition",
            "2024-01-03",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("2024-01-03.csv does not exist"),
        "{}",
        text(&o)
    );
    let o = medallion(
        &ws,
        &[
            "materialize",
            d,
            "--partition-range",
            "2024-01-05..2024-01-01",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Retention counts per asset and partition: each partition's only file stays.
    let o = medallion(
        &ws,
        &["gc", d, "--keep", "1", "--dry-run", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json(&o)["removed"], serde_json::json!([]), "{}", text(&o));
}

#[test]
fn cancel_stops_the_run_between_steps_and_records_it_as_canceled() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use medallion::app;
    use medallion::model::{RunEvent, RunStatus, StepOutcome};

    let tmp = tempfile::tempdir().unwrap();
    let (ws_path, mut ws, stored) = example_workspace(tmp.path());
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let mut finished_steps = 0;
    let mut on_event = |_: &medallion::model::RunId, e: &RunEvent| {
        if let RunEvent::StepFinished { .. } = e {
            finished_steps += 1;
            if finished_steps == 2 {
                flag.store(true, Ordering::Relaxed);
            }
        }
    };
    let summaries =
        app::run::materialize(&mut ws, &stored, &everything(false), &mut on_event, &cancel)
            .unwrap();
    let run = &summaries[0].run;
    assert_eq!(run.status, RunStatus::Canceled);
    let outcomes: Vec<&StepOutcome> = summaries[0]
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::StepFinished { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    // Events reach the caller through a channel, so the engine may finish a step or two more
    // before it sees the flag; every step is either done or canceled, and some are canceled.
    assert_eq!(outcomes.len(), 6);
    let done = outcomes
        .iter()
        .filter(|o| ***o == StepOutcome::Materialized)
        .count();
    let canceled = outcomes
        .iter()
        .filter(|o| ***o == StepOutcome::Canceled)
        .count();
    assert!(
        done >= 2 && canceled >= 1 && done + canceled == 6,
        "{outcomes:?}"
    );
    // The record survives a reopen, and the store holds exactly the two finished outputs.
    drop(ws);
    let ws = app::open_workspace(&ws_path).unwrap();
    let runs = app::run::list_runs(&ws, None, 10).unwrap();
    assert_eq!(runs[0].status, RunStatus::Canceled);
    let store = app::run::store_dir(&ws, "customer_analytics");
    let mut files = Vec::new();
    for e in walk(&store) {
        files.push(e);
    }
    assert_eq!(files.len(), done, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.extension().is_some_and(|x| x == "parquet")),
        "{files:?}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn independent_assets_run_concurrently_up_to_the_limit() {
    use std::sync::atomic::AtomicBool;

    use medallion::engine;
    use medallion::model::{RunEvent, RunStatus};

    let run = |max_parallel: usize| {
        let tmp = tempfile::tempdir().unwrap();
        let plan = example_plan(&format!("par{max_parallel}"), tmp.path());
        let steps = plan.steps.clone();
        let mut events = Vec::new();
        let io = engine::LocalIo {
            root: tmp.path().to_owned(),
        };
        let status = engine::execute_io(
            &plan,
            &io,
            &engine::fetch::NoFetcher,
            &mut |e| events.push(e),
            &AtomicBool::new(false),
            max_parallel,
        );
        assert_eq!(status, RunStatus::Success);
        // Profiles are made after a step is reported (off the critical path), but every
        // materialization still gets one before the run ends.
        let profiles = events
            .iter()
            .filter(|e| matches!(e, RunEvent::Profile(_)))
            .count();
        assert_eq!(profiles, steps.len(), "one profile per materialization");
        assert!(
            matches!(events.last(), Some(RunEvent::RunFinished { .. })),
            "the run ends after its last profile"
        );
        // How many steps were running at the busiest moment.
        let (mut now, mut most) = (0i32, 0i32);
        for e in &events {
            match e {
                RunEvent::StepStarted { .. } => {
                    now += 1;
                    most = most.max(now);
                }
                RunEvent::StepFinished { .. } => now -= 1,
                _ => {}
            }
        }
        most
    };
    assert_eq!(run(1), 1);
    assert_eq!(
        run(2),
        2,
        "the two bronze sources are independent and should overlap"
    );
}

#[test]
fn every_read_and_write_of_a_run_goes_through_the_io_manager() {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;

    use medallion::engine::{self, IoManager, LocalIo, RunPlan};
    use medallion::model::{AssetKey, RunStatus};

    /// Stores under another root and records what it was asked, as an object store would.
    struct Recording {
        inner: LocalIo,
        log: Mutex<Vec<String>>,
    }
    impl IoManager for Recording {
        fn write(
            &self,
            asset: &AssetKey,
            partition: Option<&str>,
            run_id: &medallion::model::RunId,
            df: &mut DataFrame,
        ) -> Result<(String, u64), engine::StoreError> {
            self.log.lock().unwrap().push(format!("write {asset}"));
            self.inner.write(asset, partition, run_id, df)
        }
        fn scan(&self, location: &str) -> PolarsResult<LazyFrame> {
            self.log.lock().unwrap().push(format!("scan {location}"));
            self.inner.scan(location)
        }
        fn exists(&self, location: &str) -> bool {
            self.inner.exists(location)
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    let io = Recording {
        inner: LocalIo {
            root: tmp.path().join("objects"),
        },
        log: Mutex::new(Vec::new()),
    };
    let plan = example_plan("io", &tmp.path().join("unused"));
    let mut stored = Vec::new();
    let status = engine::execute_io(
        &plan,
        &io,
        &engine::fetch::NoFetcher,
        &mut |e| {
            if let medallion::model::RunEvent::Materialization(m) = e {
                stored.push(m);
            }
        },
        &AtomicBool::new(false),
        2,
    );
    assert_eq!(status, RunStatus::Success);
    let log = std::mem::take(&mut *io.log.lock().unwrap());
    assert_eq!(
        log.iter().filter(|l| l.starts_with("write")).count(),
        6,
        "{log:?}"
    );
    // Within one run, a step's table is handed to its downstream steps in memory: nothing
    // written by this run is read back.
    assert_eq!(
        log.iter().filter(|l| l.starts_with("scan")).count(),
        0,
        "{log:?}"
    );

    // A later run of one asset reads its upstream materializations through the IO manager.
    let again = RunPlan {
        run_id: "io2".into(),
        steps: vec![AssetKey::new("order_history")],
        force: true,
        previous: stored,
        ..plan
    };
    let status = engine::execute_io(
        &again,
        &io,
        &engine::fetch::NoFetcher,
        &mut |_| {},
        &AtomicBool::new(false),
        2,
    );
    assert_eq!(status, RunStatus::Success);
    let log = io.log.into_inner().unwrap();
    let scans: Vec<&String> = log.iter().filter(|l| l.starts_with("scan")).collect();
    assert_eq!(
        scans.len(),
        2,
        "raw_orders and cleaned_customer_data: {log:?}"
    );
    assert!(
        scans.iter().all(|s| s.contains("objects")),
        "read from the IO manager's store: {scans:?}"
    );
    assert!(
        !tmp.path().join("unused").exists(),
        "nothing may bypass the IO manager"
    );
}

/// Runs keep the newest files of each asset (`MEDALLION_KEEP_MATERIALIZATIONS`), `gc` removes
/// more on request, and the newest always stays: incremental runs, history and reports keep
/// working.
#[test]
fn old_materialization_files_go_and_the_newest_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let store = tmp
        .path()
        .join("materializations")
        .join("customer_analytics");
    let d = example();
    let d = d.to_str().unwrap();
    let run = |keep: &str, force: bool| {
        let mut args = vec!["materialize", d, "--format", "json"];
        if force {
            args.push("--force");
        }
        let o = Command::new(env!("CARGO_BIN_EXE_medallion"))
            .args(&args)
            .env("MEDALLION_WORKSPACE", &ws)
            .env("MEDALLION_KEEP_MATERIALIZATIONS", keep)
            .env_remove("MEDALLION_LOG")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        json(&o)
    };
    let parquet_files = || {
        walk(&store)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .count()
    };
    let first = run("2", true);
    let first_run = first["runs"][0]["run_id"].as_str().unwrap().to_owned();
    run("2", true);
    run("2", true);
    assert_eq!(parquet_files(), 6 * 2, "two files per asset stay");
    run("0", true);
    assert_eq!(parquet_files(), 6 * 3, "0 keeps every file");

    let o = medallion(
        &ws,
        &["gc", d, "--keep", "1", "--dry-run", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dry = json(&o);
    assert_eq!(dry["removed"].as_array().unwrap().len(), 6 * 2);
    assert_eq!(parquet_files(), 6 * 3, "a dry run removes nothing");

    let o = medallion(&ws, &["gc", d, "--keep", "1", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let done = json(&o);
    assert_eq!(done["removed"].as_array().unwrap().len(), 6 * 2);
    assert!(done["bytes"].as_u64().unwrap() > 0);
    assert_eq!(parquet_files(), 6, "the newest file of each asset stays");
    let o = medallion(&ws, &["gc", d, "--keep", "1", "--format", "json"]);
    assert_eq!(
        json(&o)["removed"].as_array().unwrap().len(),
        0,
        "nothing is removed twice"
    );

    // The newest files are what incremental runs read: everything is up to date.
    let again = run("2", false);
    assert!(
        outcomes(&again).iter().all(|(_, o)| o == "up_to_date"),
        "{:?}",
        outcomes(&again)
    );
    // `gc --keep 0` is refused (0 means "keep every file" for runs, never "remove all").
    let o = medallion(&ws, &["gc", d, "--keep", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // A run still going protects what was newest when it began: it may read those files.
    let conn = rusqlite::Connection::open(&ws).unwrap();
    conn.execute(
        "INSERT INTO runs (id, project_id, selection, target, status, trigger, created_at)
         SELECT 'live', project_id, '*', 'local', 'started', 'test',
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         FROM runs LIMIT 1",
        [],
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    run("0", true);
    assert_eq!(parquet_files(), 6 * 2);
    let o = medallion(&ws, &["gc", d, "--keep", "1", "--format", "json"]);
    assert_eq!(
        json(&o)["removed"].as_array().unwrap().len(),
        0,
        "the live run's inputs stay"
    );
    conn.execute("UPDATE runs SET status = 'failure' WHERE id = 'live'", [])
        .unwrap();
    let o = medallion(&ws, &["gc", d, "--keep", "1", "--format", "json"]);
    assert_eq!(json(&o)["removed"].as_array().unwrap().len(), 6);
    assert_eq!(parquet_files(), 6);

    // The first run's rows and report survive its files.
    let report = tmp.path().join("first.json");
    let o = medallion(
        &ws,
        &["report", &first_run, "--json", report.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["profiles"].as_array().unwrap().len(), 6);
}

/// A panic inside a step (here: the store) fails that step with "internal error" and skips its
/// downstream; the run ends as a failure instead of waiting forever for the step.
#[test]
fn a_panicking_step_fails_instead_of_hanging_the_run() {
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc;

    use medallion::engine::{self, IoManager, LocalIo};
    use medallion::model::{AssetKey, RunEvent, RunStatus, StepOutcome};

    struct Panicking(LocalIo);
    impl IoManager for Panicking {
        fn write(
            &self,
            asset: &AssetKey,
            partition: Option<&str>,
            run_id: &medallion::model::RunId,
            df: &mut DataFrame,
        ) -> Result<(String, u64), engine::StoreError> {
            assert_ne!(asset.as_str(), "raw_orders", "the store broke");
            self.0.write(asset, partition, run_id, df)
        }
        fn scan(&self, location: &str) -> PolarsResult<LazyFrame> {
            self.0.scan(location)
        }
        fn exists(&self, location: &str) -> bool {
            self.0.exists(location)
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    let plan = example_plan("panic", tmp.path());
    let root = tmp.path().to_owned();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let io = Panicking(LocalIo { root });
        let mut events = Vec::new();
        let status = engine::execute_io(
            &plan,
            &io,
            &engine::fetch::NoFetcher,
            &mut |e| events.push(e),
            &AtomicBool::new(false),
            2,
        );
        let _ = done_tx.send((status, events));
    });
    let (status, events) = done_rx
        .recv_timeout(std::time::Duration::from_mins(2))
        .expect("the run must end");
    assert_eq!(status, RunStatus::Failure);
    let outcome = |asset: &str| {
        events.iter().find_map(|e| match e {
            RunEvent::StepFinished {
                asset: a, outcome, ..
            } if a.as_str() == asset => Some(outcome.clone()),
            _ => None,
        })
    };
    match outcome("raw_orders") {
        Some(StepOutcome::Failed { error }) => {
            assert!(
                error.contains("internal error") && error.contains("the store broke"),
                "{error}"
            );
        }
        other => panic!("raw_orders: {other:?}"),
    }
    assert!(matches!(
        outcome("order_history"),
        Some(StepOutcome::Skipped { .. })
    ));
    assert!(matches!(
        outcome("raw_customer_data"),
        Some(StepOutcome::Materialized)
    ));
}

/// What a run tells its watchers (the CLI's lines, the studio's cards) about a step — started,
/// materialized, a check's result, finished — is already in the workspace when they hear it:
/// a process killed right after printing "materialized" does not leave the workspace saying
/// the step never finished (seen: `kill -9` 0.2 s after both sources printed "materialized in
/// 1778 ms" left them "failed" and the step that had started "never ran").
#[test]
fn what_a_run_says_about_a_step_is_already_recorded() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use medallion::app;
    use medallion::model::RunEvent;

    let tmp = tempfile::tempdir().unwrap();
    let (ws_path, mut ws, stored) = example_workspace(tmp.path());
    let cancel = Arc::new(AtomicBool::new(false));
    let reader =
        rusqlite::Connection::open_with_flags(&ws_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut heard = Vec::new();
    let mut missing = Vec::new();
    let mut on_event = |run: &medallion::model::RunId, e: &RunEvent| {
        let kind = match e {
            RunEvent::StepStarted { .. } => "step_started",
            RunEvent::StepFinished { .. } => "step_finished",
            RunEvent::Materialization(_) => "materialization",
            RunEvent::CheckEvaluation(_) => "check_evaluation",
            _ => return,
        };
        let asset = e.asset().map(ToString::to_string).unwrap_or_default();
        let stored: i64 = reader
            .query_row(
                "SELECT count(*) FROM run_events WHERE run_id = ?1 AND kind = ?2 AND asset_key = ?3",
                rusqlite::params![run.to_string(), kind, asset],
                |r| r.get(0),
            )
            .unwrap();
        heard.push((kind, asset.clone()));
        if stored == 0 {
            missing.push((kind, asset));
        }
    };
    app::run::materialize(&mut ws, &stored, &everything(true), &mut on_event, &cancel).unwrap();
    assert!(heard.len() >= 6 * 3, "too few events heard: {heard:?}");
    assert!(
        missing.is_empty(),
        "heard before they were recorded: {missing:?}"
    );
}

/// A workspace (its path) with the example imported, and the stored project.
fn example_workspace(
    dir: &Path,
) -> (
    PathBuf,
    medallion::store::Workspace,
    medallion::app::StoredProject,
) {
    let ws_path = dir.join("ws.sqlite");
    let mut ws = medallion::app::open_workspace(&ws_path).unwrap();
    let report = medallion::app::import_project(&mut ws, &example(), false, false).unwrap();
    let stored = medallion::app::load_project(&ws, &report.name).unwrap();
    (ws_path, ws, stored)
}

/// A request to materialize every asset (`force`: even those up to date).
fn everything(force: bool) -> medallion::app::run::MaterializeRequest {
    medallion::app::run::MaterializeRequest {
        selection: "*".into(),
        partitions: vec![],
        force,
        trigger: "test".into(),
        allow_failed_upstream: false,
        checks_only: false,
    }
}
