//! The memory budget (`MEDALLION_MEMORY_BUDGET_MB`), as a user meets it on the command line: a
//! malformed budget and a step that cannot fit are refused before any run starts; under a small
//! budget every step of the example streams through polars' streaming engine and the outputs do
//! not change; and under a cgroup memory limit of the budget plus the stated overhead a run that
//! needs more without the budget completes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{example, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

const BUDGET_VAR: &str = "MEDALLION_MEMORY_BUDGET_MB";

fn medallion(workspace: &Path, budget: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_medallion"));
    cmd.args(args)
        .env("MEDALLION_WORKSPACE", workspace)
        .env_remove("MEDALLION_LOG");
    match budget {
        Some(b) => cmd.env(BUDGET_VAR, b),
        None => cmd.env_remove(BUDGET_VAR),
    };
    cmd.output().expect("run medallion")
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    medallion::engine::hex(&Sha256::digest(&bytes))
}

/// The example's definitions in `dir`, reading `customers` generated customers (and ten times
/// as many orders) written by `medallion sample-data`.
fn example_with_customers(dir: &Path, customers: u64) -> PathBuf {
    let project = dir.join("customer_analytics");
    std::fs::create_dir_all(project.join("sql")).unwrap();
    std::fs::copy(
        example().join("medallion.toml"),
        project.join("medallion.toml"),
    )
    .unwrap();
    for e in std::fs::read_dir(example().join("sql")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, project.join("sql").join(p.file_name().unwrap())).unwrap();
    }
    let data = project.join("data");
    let o = medallion(
        &dir.join("unused.sqlite"),
        None,
        &[
            "sample-data",
            "--customers",
            &customers.to_string(),
            data.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    project
}

/// Runs in the workspace, as `medallion runs --format json` lists them.
fn recorded_runs(workspace: &Path) -> Vec<serde_json::Value> {
    if !workspace.exists() {
        return Vec::new();
    }
    let o = medallion(workspace, None, &["runs", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array()
        .cloned()
        .or_else(|| v["runs"].as_array().cloned())
        .unwrap_or_default()
}

#[test]
fn a_malformed_memory_budget_is_refused_before_any_run() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    for bad in [
        "abc",
        "0",
        "-256",
        "1.5",
        "256MB",
        "",
        "99999999999999999999",
    ] {
        let o = medallion(
            &ws,
            Some(bad),
            &["materialize", example().to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            err.trim(),
            format!(
                "error: MEDALLION_MEMORY_BUDGET_MB must be a positive whole number of MiB (e.g. 512), not {bad:?}"
            ),
            "{bad:?}: one sentence naming the variable and the value"
        );
        assert!(o.stdout.is_empty(), "{bad:?}: {}", text(&o));
    }
    assert!(
        recorded_runs(&ws).is_empty(),
        "no run was started: {:?}",
        recorded_runs(&ws)
    );
    // A good budget runs.
    let o = medallion(
        &ws,
        Some("512"),
        &["materialize", example().to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(recorded_runs(&ws).len(), 1);
}

/// A JSON document (not NDJSON) is parsed whole, so it cannot stream: when it would take more
/// than the budget, the run is refused before it starts, naming the asset and the budget.
#[test]
fn a_step_that_cannot_fit_the_budget_is_refused_before_the_run_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("events");
    std::fs::create_dir_all(project.join("data")).unwrap();
    // About 1.2 MB of JSON: about 5 MiB in memory, more than a 2 MiB budget.
    let records: Vec<String> = (0..20_000)
        .map(|i| format!(r#"{{"id": {i}, "kind": "click", "page": "/products/{i}"}}"#))
        .collect();
    std::fs::write(
        project.join("data/events.json"),
        format!("[{}]", records.join(",\n")),
    )
    .unwrap();
    std::fs::write(
        project.join("medallion.toml"),
        r#"[project]
name = "events"

[assets.raw_events]
layer = "bronze"

[assets.raw_events.source]
kind = "json"
path = "data/events.json"
"#,
    )
    .unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(&ws, Some("2"), &["materialize", project.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.trim().starts_with(
            "error: asset raw_events cannot run within the memory budget of 2 MiB (MEDALLION_MEMORY_BUDGET_MB): it is a JSON document of 2 MiB, which is read whole"
        ),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(recorded_runs(&ws).is_empty(), "no run was started");
    // With room for it, the same project runs.
    let o = medallion(&ws, Some("64"), &["materialize", project.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

const ASSETS: [&str; 6] = [
    "cleaned_customer_data",
    "customer_lifetime_value",
    "daily_revenue",
    "order_history",
    "raw_customer_data",
    "raw_orders",
];

/// Materializes `project` with every asset forced and the gold tables exported to `out`, and
/// returns the run's report (`medallion report RUN --json`).
fn run_report(ws: &Path, budget: Option<&str>, project: &Path, out: &Path) -> serde_json::Value {
    let o = medallion(
        ws,
        budget,
        &[
            "materialize",
            project.to_str().unwrap(),
            "--force",
            "--export-dir",
            out.to_str().unwrap(),
            "--float-precision",
            "2",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let run_id = summary["runs"][0]["run_id"].as_str().unwrap().to_owned();
    let file = out.join("report.json");
    let o = medallion(
        ws,
        None,
        &["report", &run_id, "--json", file.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap()
}

/// The assets whose step says, in the run's log, that it streamed into its Parquet file.
fn streamed_assets(report: &serde_json::Value) -> Vec<&'static str> {
    let logs: Vec<&str> = report["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_str)
        .filter(|l| l.contains("streamed straight into its Parquet file"))
        .collect();
    ASSETS
        .into_iter()
        .filter(|a| {
            logs.iter()
                .any(|l| l.contains(&format!("{a}: too big to hold in memory")))
        })
        .collect()
}

/// Under a budget far below the tables' size, every step of the example runs through polars'
/// streaming engine into its Parquet file (its checks and profile read that file lazily), and
/// the gold outputs, row counts, checks and the exact figures of the profiles equal those of a
/// run with no budget, where every step is collected in memory.
#[test]
fn under_a_small_budget_every_step_streams_and_the_outputs_are_exact() {
    let tmp = tempfile::tempdir().unwrap();
    // 20,000 customers: 206,000 orders, about 8 MB of CSV; every estimate is above 4 MiB.
    let project = example_with_customers(tmp.path(), 20_000);
    let (free_out, tight_out) = (tmp.path().join("free"), tmp.path().join("tight"));
    let free = run_report(&tmp.path().join("free.sqlite"), None, &project, &free_out);
    assert_eq!(streamed_assets(&free), Vec::<&str>::new());
    let tight = run_report(
        &tmp.path().join("tight.sqlite"),
        Some("8"),
        &project,
        &tight_out,
    );
    assert_eq!(streamed_assets(&tight), ASSETS);
    for table in ["customer_lifetime_value.csv", "daily_revenue.csv"] {
        assert_eq!(
            sha256(&tight_out.join(table)),
            sha256(&free_out.join(table)),
            "{table}"
        );
    }
    let rows = |r: &serde_json::Value| -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = r["materializations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["asset"].as_str().unwrap().to_owned(),
                    m["row_count"].as_u64().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(rows(&tight), rows(&free));
    assert_eq!(rows(&tight).len(), 6);
    // The verdicts, without which run's data each judged (the two runs differ in that).
    let checks = |r: &serde_json::Value| {
        let mut v = r["checks"].as_array().unwrap().clone();
        for c in &mut v {
            c.as_object_mut().unwrap().remove("materialization_run_id");
        }
        v.sort_by_key(ToString::to_string);
        v
    };
    assert_eq!(checks(&tight), checks(&free));
    assert_eq!(checks(&tight).len(), 4);
    assert!(checks(&tight).iter().all(|c| c["passed"] == true));
    // Profiles: the exact figures (rows, nulls, min, max) agree.
    let profiles = |r: &serde_json::Value| -> Vec<String> {
        let mut v: Vec<String> = r["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let columns: Vec<serde_json::Value> = p["columns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| serde_json::json!([c["name"], c["null_count"], c["min"], c["max"]]))
                    .collect();
                serde_json::json!([p["asset"], p["row_count"], columns]).to_string()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(profiles(&tight).len(), 6, "{:?}", profiles(&tight));
    assert_eq!(profiles(&tight), profiles(&free));
}

/// Customers in the cgroup test: 3,000,000 orders (about 120 MB of CSV), where a run without a
/// budget needs more than the limit. About 3 minutes in a debug build; at the issue's size
/// (500,000 customers, B = 256, a limit of 512 MiB) it passes too, in about 6 minutes.
const CGROUP_CUSTOMERS: u64 = 300_000;

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A memory cgroup of this process's own (nested under the one it runs in), removed on drop.
struct MemoryCgroup {
    dir: PathBuf,
}

impl MemoryCgroup {
    /// A new cgroup limited to `limit` bytes (none when `None`), or why there cannot be one.
    fn create(name: &str, limit: Option<u64>) -> Result<Self, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        // cgroup v1 with a memory hierarchy ("N:memory:/path"), else the v2 unified one.
        let (dir, v2) = if let Some(path) = own.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == "memory")
                .then(|| path.to_owned())
        }) {
            (
                Path::new("/sys/fs/cgroup/memory").join(path.trim_start_matches('/')),
                false,
            )
        } else if let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) {
            let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
            let controllers =
                std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
            if !controllers.split_whitespace().any(|c| c == "memory") {
                std::fs::write(dir.join("cgroup.subtree_control"), "+memory").map_err(|e| {
                    format!(
                        "cgroup v2 at {} does not delegate the memory controller ({e})",
                        dir.display()
                    )
                })?;
            }
            (dir, true)
        } else {
            return Err("this process is in no memory cgroup (neither v1 nor v2)".to_owned());
        };
        let dir = dir.join(format!("medallion-test-{}-{name}", std::process::id()));
        std::fs::create_dir(&dir)
            .map_err(|e| format!("cannot create the cgroup {}: {e}", dir.display()))?;
        let group = Self { dir };
        if let Some(limit) = limit {
            let file = if v2 {
                "memory.max"
            } else {
                "memory.limit_in_bytes"
            };
            std::fs::write(group.dir.join(file), limit.to_string())
                .map_err(|e| format!("cannot set {} of {}: {e}", file, group.dir.display()))?;
        }
        Ok(group)
    }

    /// Runs medallion inside the cgroup (the shell joins it, then becomes medallion).
    fn run(&self, workspace: &Path, budget: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(r#"echo $$ > "$0/cgroup.procs" && exec "$@""#)
            .arg(&self.dir)
            .arg(env!("CARGO_BIN_EXE_medallion"))
            .args(args)
            .env("MEDALLION_WORKSPACE", workspace)
            .env_remove("MEDALLION_LOG");
        match budget {
            Some(b) => cmd.env(BUDGET_VAR, b),
            None => cmd.env_remove(BUDGET_VAR),
        };
        cmd.output().expect("run medallion in a cgroup")
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Under a cgroup memory limit of the budget plus the overhead the README states (256 MiB),
/// the example materializes with exact outputs, on inputs that the same command without the
/// budget cannot run under that limit (the kernel kills it). Skipped, saying why, where the
/// machine gives no memory cgroup to create (not root, no delegated controller); with
/// `MEDALLION_TEST_PEERS=1` (CI, which runs as root) it fails instead.
#[test]
fn a_run_holds_a_cgroup_memory_limit_of_the_budget_plus_the_overhead() {
    const BUDGET_MIB: u64 = 64;
    const OVERHEAD_MIB: u64 = 256;
    let limit = (BUDGET_MIB + OVERHEAD_MIB) << 20;
    let limited = match MemoryCgroup::create("limited", Some(limit)) {
        Ok(g) => g,
        Err(why) => {
            assert!(
                std::env::var("MEDALLION_TEST_PEERS").as_deref() != Ok("1"),
                "MEDALLION_TEST_PEERS=1 but no memory cgroup can be made: {why}"
            );
            eprintln!("skipped: no memory cgroup can be made here: {why}");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let project = example_with_customers(tmp.path(), CGROUP_CUSTOMERS);
    let args = |out: &Path| -> Vec<String> {
        [
            "materialize",
            project.to_str().unwrap(),
            "--export-dir",
            out.to_str().unwrap(),
            "--float-precision",
            "2",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    // Without the budget, under the limit: killed (or failed) for lack of memory.
    let unbudgeted = limited.run(
        &tmp.path().join("unbudgeted.sqlite"),
        None,
        &strs(&args(&tmp.path().join("unbudgeted"))),
    );
    assert!(
        !unbudgeted.status.success(),
        "without a budget the run fit the limit of {} MiB, so these inputs show nothing; use more customers",
        limit >> 20
    );
    // With the budget, under the same limit: the run completes.
    let tight_out = tmp.path().join("tight");
    let tight = limited.run(
        &tmp.path().join("tight.sqlite"),
        Some(&BUDGET_MIB.to_string()),
        &strs(&args(&tight_out)),
    );
    assert_eq!(
        tight.status.code(),
        Some(0),
        "with {BUDGET_VAR}={BUDGET_MIB}, under a limit of {} MiB (exit {:?}): {}",
        limit >> 20,
        tight.status,
        text(&tight)
    );
    eprintln!(
        "{CGROUP_CUSTOMERS} customers under a cgroup limit of {} MiB: without a budget {:?}; with {BUDGET_VAR}={BUDGET_MIB} exit 0",
        limit >> 20,
        unbudgeted.status
    );
    // The outputs equal those of a run with no budget and no limit.
    let free_out = tmp.path().join("free");
    let free = medallion(
        &tmp.path().join("free.sqlite"),
        None,
        &strs(&args(&free_out)),
    );
    assert_eq!(free.status.code(), Some(0), "{}", text(&free));
    for table in ["customer_lifetime_value.csv", "daily_revenue.csv"] {
        assert_eq!(
            sha256(&tight_out.join(table)),
            sha256(&free_out.join(table)),
            "{table}"
        );
    }
}
