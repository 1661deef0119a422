//! The CLI, run as a user runs it: over every example in `projects/`, over the corpus of broken
//! projects in `tests/broken_projects/`, and with bad usage.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names
)]

use crate::common;

use common::text;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn medallion(workspace: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(args)
        .env("MEDALLION_WORKSPACE", workspace)
        .env_remove("MEDALLION_LOG")
        .output()
        .expect("run medallion")
}

fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("projects");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("projects/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("medallion.toml").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no example projects found");
    dirs
}

fn read_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_example_validates_imports_lists_and_exports_stably() {
    for dir in examples() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws.sqlite");
        let d = dir.to_str().unwrap();

        let o = medallion(&ws, &["validate", d]);
        assert_eq!(o.status.code(), Some(0), "validate {d}: {}", text(&o));
        let o = medallion(&ws, &["validate", d, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("validate JSON");
        assert_eq!(v["errors"], 0, "{v}");
        let name = v["project"].as_str().unwrap().to_owned();

        let o = medallion(&ws, &["import", d]);
        assert_eq!(o.status.code(), Some(0), "import: {}", text(&o));
        // A second import without --replace is refused and changes nothing.
        let o = medallion(&ws, &["import", d]);
        assert_eq!(o.status.code(), Some(2));
        assert!(text(&o).contains("--replace"), "{}", text(&o));

        let o = medallion(&ws, &["list", "--format", "json"]);
        let list: serde_json::Value = serde_json::from_slice(&o.stdout).expect("list JSON");
        assert_eq!(list[0]["name"], name.as_str());
        assert_eq!(list[0]["revision"], 1);

        // export → import → export gives identical bytes.
        let first = tmp.path().join("first");
        let o = medallion(&ws, &["export", &name, first.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "export: {}", text(&o));
        let o = medallion(&ws, &["import", "--replace", first.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "re-import: {}", text(&o));
        let second = tmp.path().join("second");
        let o = medallion(&ws, &["export", &name, second.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0));
        let (a, b) = (read_tree(&first), read_tree(&second));
        assert!(a.len() >= 2, "export wrote {a:?}");
        assert_eq!(a, b, "export → import → export changed bytes");

        let o = medallion(&ws, &["validate", first.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "exported project validates: {}",
            text(&o)
        );
    }
}

#[test]
fn broken_projects_produce_their_diagnostics() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken_projects");
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "corpus too small: {}", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let expected = std::fs::read_to_string(case.join("expected.txt")).expect("expected.txt");
        let o = medallion(&ws, &["validate", case.to_str().unwrap()]);
        let out = text(&o);
        if o.status.code() != Some(2) {
            failures.push(format!(
                "{}: exit {:?}, want 2\n{out}",
                case.display(),
                o.status.code()
            ));
        }
        if out.contains("panicked") || out.contains("RUST_BACKTRACE") {
            failures.push(format!("{}: panicked\n{out}", case.display()));
        }
        for line in expected.lines().filter(|l| !l.is_empty()) {
            let ok = match line.strip_prefix('!') {
                Some(forbidden) => !out.contains(forbidden),
                None => out.contains(line),
            };
            if !ok {
                failures.push(format!("{}: expected {line:?} in:\n{out}", case.display()));
            }
        }
        // A broken project is never imported.
        let o = medallion(&ws, &["import", case.to_str().unwrap()]);
        if o.status.code() != Some(2) {
            failures.push(format!(
                "{}: import exit {:?}, want 2",
                case.display(),
                o.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let o = medallion(&ws, &["list", "--format", "json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
}

#[test]
fn bad_usage_and_missing_paths_exit_2_with_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(&ws, &["validate"]);
    assert_eq!(o.status.code(), Some(2));
    let o = medallion(&ws, &["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    let o = medallion(&ws, &["validate", "/no/such/project"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim(),
        "error: /no/such/project: no such project directory"
    );
    let o = medallion(&ws, &["validate", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("not a Medallion project (no medallion.toml)"),
        "{}",
        text(&o)
    );
    let o = medallion(
        &ws,
        &[
            "export",
            "nothing",
            tmp.path().join("out").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("no project named `nothing`"),
        "{}",
        text(&o)
    );
    // A file where a project directory is meant says so.
    let file = tmp.path().join("notes.txt");
    std::fs::write(&file, "not a project").unwrap();
    let o = medallion(&ws, &["import", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim(),
        format!("error: {}: a file, not a project directory", file.display())
    );
    // A runner without AWS settings (no region: the SDK asks the instance metadata service)
    // and a missing plan: one sentence, none of the SDK's internal warnings.
    let o = Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(["runner", "--plan", "/no/such/plan.json"])
        .env_remove("MEDALLION_LOG")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let all = text(&o);
    assert_eq!(all.trim().lines().count(), 1, "{all}");
    assert!(
        all.contains("cannot read the run plan /no/such/plan.json"),
        "{all}"
    );
    let o = medallion(&ws, &["--help"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn export_refuses_a_directory_that_is_not_a_project() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let example = examples().remove(0);
    assert_eq!(
        medallion(&ws, &["import", example.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let target = tmp.path().join("precious");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("notes.txt"), "keep me").unwrap();
    let o = medallion(
        &ws,
        &["export", "customer_analytics", target.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(target.join("notes.txt")).unwrap(),
        "keep me"
    );
    assert!(!target.join("medallion.toml").exists());
}

#[test]
fn workspace_flag_overrides_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let env_ws = tmp.path().join("env.sqlite");
    let flag_ws = tmp.path().join("flag.sqlite");
    let example = examples().remove(0);
    let o = medallion(
        &env_ws,
        &[
            "--workspace",
            flag_ws.to_str().unwrap(),
            "import",
            example.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(flag_ws.exists());
    assert!(!env_ws.exists());
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

#[test]
fn plan_prints_tier_reason_size_duration_cost_and_price_date_per_asset() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics");
    let o = medallion(
        &ws,
        &["plan", example.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let plans = json(&o);
    let plans = plans.as_array().unwrap();
    assert_eq!(plans.len(), 6);
    for p in plans {
        for field in [
            "asset",
            "tier",
            "reason",
            "vcpu",
            "memory_mb",
            "est_duration_secs",
            "est_cost_usd",
            "prices_as_of",
        ] {
            assert!(p.get(field).is_some(), "{field} missing in {p}");
        }
        assert_eq!(p["prices_as_of"], "2026-11-26");
        assert!(p["reason"].as_str().unwrap().ends_with('.'), "{p}");
    }
    let by = |k: &str| plans.iter().find(|p| p["asset"] == k).unwrap();
    assert_eq!(by("raw_orders")["tier"], "lambda");
    assert!(by("raw_orders")["est_cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(by("order_history")["tier"], "fargate");
    assert_eq!(by("order_history")["memory_mb"], 8192);
    // The example's plan has a price for every asset: its EKS assets run on m6i Spot nodes,
    // whose on-demand price and Spot discount ship with the table.
    for p in plans {
        assert!(p["missing_price"].is_null(), "{p}");
        assert!(p["est_cost_usd"].as_f64().unwrap() > 0.0, "{p}");
    }
    // m6i.large on Spot, each node priced at (1 − 0.65) of its on-demand $0.096 an hour.
    assert_eq!(by("daily_revenue")["tier"], "eks");

    // By name, with a selection; the text form shows the reason and the total.
    let o = medallion(
        &ws,
        &["plan", "customer_analytics", "--select", "+order_history"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("prices as of 2026-11-26"), "{out}");
    assert!(
        out.contains("Fargate: the asset's compute hint asks for it"),
        "{out}"
    );
    assert!(out.contains("total $"), "{out}");
    assert!(!out.contains("daily_revenue"), "{out}");

    // After a local run, estimates come from history.
    let o = medallion(&ws, &["materialize", "customer_analytics"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = medallion(&ws, &["plan", "customer_analytics", "--format", "json"]);
    let plans = json(&o);
    assert!(
        plans
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["confidence"] == "history" && p["history_runs"] == 1),
        "{plans}"
    );

    // Bad input: an unknown project or selection.
    let o = medallion(&ws, &["plan", "no_such_project"]);
    assert_ne!(o.status.code(), Some(0));
    let o = medallion(&ws, &["plan", "customer_analytics", "--select", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn plan_refuses_a_hint_that_breaks_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let project = dir.path().join("p");
    std::fs::create_dir_all(project.join("data")).unwrap();
    std::fs::write(project.join("data/x.csv"), "a\n1\n").unwrap();
    std::fs::write(
        project.join("medallion.toml"),
        "[project]\nname = \"big\"\n\n[assets.x]\nlayer = \"bronze\"\n\n[assets.x.source]\nkind = \"csv\"\npath = \"data/x.csv\"\n\n[assets.x.compute]\ntier = \"lambda\"\nmemory_mb = 20480\n",
    )
    .unwrap();
    // A fixed size over the limit is already a validation error.
    let o = medallion(&ws, &["plan", project.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("128–10240 MB, not 20480 MB"),
        "{}",
        text(&o)
    );
    // An estimate over the hint's timeout is the planner's to report, never silently moved.
    let toml = std::fs::read_to_string(project.join("medallion.toml")).unwrap();
    std::fs::write(
        project.join("medallion.toml"),
        toml.replace("memory_mb = 20480", "timeout_secs = 1"),
    )
    .unwrap();
    let o = medallion(
        &ws,
        &["plan", project.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let v = json(&o);
    assert_eq!(v[0]["tier"], "lambda");
    assert!(
        v[0]["problem"]
            .as_str()
            .unwrap()
            .contains("over the hint's timeout of 1 s"),
        "{v}"
    );
    assert!(text(&o).contains("error: x on Lambda"), "{}", text(&o));
}

#[test]
fn costs_show_estimate_and_actual_per_step_asset_and_day() {
    use medallion::app::plan::RunShape;
    use medallion::model::{AssetKey, ComputeTier, RunRecord, RunStatus};
    let dir = tempfile::tempdir().unwrap();
    let ws_path = dir.path().join("ws.sqlite");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics");
    {
        // What a remote run records: its estimates before, the actual costs after.
        let mut ws = medallion::app::open_workspace(&ws_path).unwrap();
        let stored = medallion::app::resolve_project(&mut ws, example.to_str().unwrap()).unwrap();
        ws.create_run(&RunRecord {
            id: "remote-1".into(),
            project: stored.project.name.clone(),
            selection: "order_history".into(),
            partition: None,
            target: "fargate".into(),
            status: RunStatus::Success,
            trigger: "test".into(),
            created_at: "2026-11-24T08:00:00.000Z".parse().unwrap(),
            started_at: None,
            ended_at: None,
            error: None,
            allow_failed_upstream: false,
            checks_only: false,
            end_known: true,
        })
        .unwrap();
        let report = medallion::app::plan::compute_plan(
            &ws,
            &stored,
            "order_history",
            1,
            &std::collections::BTreeMap::new(),
        )
        .unwrap();
        medallion::app::plan::record_estimates(&mut ws, &"remote-1".into(), None, &report.assets)
            .unwrap();
        medallion::app::plan::record_actual_cost(
            &mut ws,
            &"remote-1".into(),
            &AssetKey::new("order_history"),
            None,
            &RunShape::new(ComputeTier::Fargate, 2.0, 8192, 95.0),
        )
        .unwrap();
    }
    let o = medallion(
        &ws_path,
        &["costs", "customer_analytics", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = json(&o);
    let step = &v["steps"][0];
    assert_eq!(step["asset"], "order_history");
    assert!(step["est_cost_usd"].as_f64().unwrap() > 0.0);
    let actual = (2.0 * 0.04048 + 8.0 * 0.004_445) * 95.0 / 3600.0;
    assert!((step["actual_cost_usd"].as_f64().unwrap() - actual).abs() < 1e-12);
    assert_eq!(v["per_day"][0]["key"], "2026-11-24");
    assert_eq!(v["per_asset"][0]["key"], "order_history");
    let o = medallion(
        &ws_path,
        &["costs", "customer_analytics", "--run", "remote-1"],
    );
    let out = text(&o);
    assert!(
        out.contains("order_history") && out.contains("actual $0.003"),
        "{out}"
    );
    let o = medallion(&ws_path, &["costs", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn cost_prices_one_run_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let cost = |args: &[&str]| {
        let mut all = vec!["cost"];
        all.extend_from_slice(args);
        medallion(&ws, &all)
    };
    let o = cost(&[
        "--tier",
        "fargate",
        "--vcpu",
        "4",
        "--memory-mb",
        "16384",
        "--duration-secs",
        "1800",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = json(&o);
    assert_eq!(format!("{:.3}", v["cost_usd"].as_f64().unwrap()), "0.117");
    assert_eq!(v["prices_as_of"], "2026-11-26");
    let o = cost(&[
        "--tier",
        "lambda",
        "--memory-mb",
        "2048",
        "--duration-secs",
        "60",
        "--format",
        "json",
    ]);
    assert_eq!(
        format!("{:.4}", json(&o)["cost_usd"].as_f64().unwrap()),
        "0.0020"
    );
    // Spot takes the table's discount off.
    let o = cost(&[
        "--tier",
        "fargate",
        "--vcpu",
        "4",
        "--memory-mb",
        "16384",
        "--duration-secs",
        "1800",
        "--spot",
        "--format",
        "json",
    ]);
    assert!((json(&o)["cost_usd"].as_f64().unwrap() - 0.11652 * 0.3).abs() < 1e-6);
    // The text form names the lines, the 1-minute minimum and the date.
    let o = cost(&[
        "--tier",
        "batch",
        "--vcpu",
        "1",
        "--memory-mb",
        "2048",
        "--duration-secs",
        "30",
    ]);
    let out = text(&o);
    assert!(
        out.contains("at least 1 minute") && out.contains("prices as of 2026-11-26"),
        "{out}"
    );

    for (args, needle) in [
        (
            vec![
                "--tier",
                "gpu",
                "--vcpu",
                "1",
                "--memory-mb",
                "1",
                "--duration-secs",
                "1",
            ],
            "invalid value 'gpu'",
        ),
        (
            vec![
                "--tier",
                "fargate",
                "--vcpu",
                "1",
                "--memory-mb",
                "2048",
                "--duration-secs=-5",
            ],
            "not a number of seconds",
        ),
        (
            vec![
                "--tier",
                "fargate",
                "--vcpu=-2",
                "--memory-mb",
                "2048",
                "--duration-secs",
                "5",
            ],
            "not a number > 0",
        ),
        (
            vec![
                "--tier",
                "lambda",
                "--memory-mb",
                "20480",
                "--duration-secs",
                "60",
            ],
            "10240 MB",
        ),
        (
            vec![
                "--tier",
                "eks",
                "--vcpu",
                "2",
                "--memory-mb",
                "8192",
                "--duration-secs",
                "60",
                "--node-type",
                "x2iedn.xlarge",
            ],
            "missing price `ec2.x2iedn.xlarge.hour`",
        ),
        (
            vec![
                "--tier",
                "fargate",
                "--memory-mb",
                "2048",
                "--duration-secs",
                "60",
            ],
            "--vcpu is required",
        ),
    ] {
        let o = cost(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(needle), "{args:?}: {}", text(&o));
    }
}

/// `medallion` run in `cwd`.
fn medallion_in(cwd: &Path, workspace: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(args)
        .current_dir(cwd)
        .env("MEDALLION_WORKSPACE", workspace)
        .env_remove("MEDALLION_LOG")
        .output()
        .expect("run medallion")
}

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics")
}

/// Writes the example project without `daily_revenue` (same name) to `dir`.
fn example_without_daily_revenue(dir: &Path) {
    let mut project = medallion::format::read_project(&example_dir())
        .unwrap()
        .project;
    let key = medallion::model::AssetKey::new("daily_revenue");
    project.assets.retain(|a| a.key != key);
    project.layout.positions.remove(&key);
    medallion::format::write_project(&project, dir).unwrap();
}

fn stored_summary(ws: &Path, name: &str) -> (i64, i64) {
    let o = medallion(ws, &["list", "--format", "json"]);
    let list = json(&o);
    let p = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {list}"));
    (
        p["revision"].as_i64().unwrap(),
        p["assets"].as_i64().unwrap(),
    )
}

#[test]
fn a_bare_name_means_the_stored_project_even_beside_a_folder_of_that_name() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(&ws, &["import", example_dir().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(stored_summary(&ws, "customer_analytics"), (1, 6));
    // A folder of the same name, with different content, in the current directory.
    let cwd = tmp.path().join("cwd");
    example_without_daily_revenue(&cwd.join("customer_analytics"));

    for args in [
        &["plan", "customer_analytics", "--format", "json"][..],
        &["resource", "list", "customer_analytics"][..],
        &["gc", "customer_analytics", "--dry-run"][..],
        &[
            "preview",
            "customer_analytics",
            "raw_orders",
            "--limit",
            "1",
        ][..],
    ] {
        let o = medallion_in(&cwd, &ws, args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        assert_eq!(
            stored_summary(&ws, "customer_analytics"),
            (1, 6),
            "{args:?} imported the folder over the stored project: {}",
            text(&o)
        );
    }
    let o = medallion_in(
        &cwd,
        &ws,
        &["plan", "customer_analytics", "--format", "json"],
    );
    let planned = json(&o);
    assert_eq!(planned.as_array().unwrap().len(), 6, "{planned}");

    // `./NAME` is the folder: it is imported, and what changes is said.
    let o = medallion_in(
        &cwd,
        &ws,
        &["plan", "./customer_analytics", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json(&o).as_array().unwrap().len(), 5);
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("1 asset removed (daily_revenue)") && said.contains("revision 1 → 2"),
        "{said}"
    );
    assert_eq!(stored_summary(&ws, "customer_analytics"), (2, 5));
    // The same folder again changes nothing: no new revision.
    let o = medallion_in(&cwd, &ws, &["plan", "./customer_analytics"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(stored_summary(&ws, "customer_analytics"), (2, 5));
}

#[test]
fn a_bare_name_that_is_only_a_folder_is_refused_with_the_path_form() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let cwd = tmp.path().join("cwd");
    example_without_daily_revenue(&cwd.join("customer_analytics"));
    for args in [
        &["plan", "customer_analytics"][..],
        &["materialize", "customer_analytics"][..],
        &["preview", "customer_analytics", "raw_orders"][..],
        &["gc", "customer_analytics"][..],
        &["resource", "list", "customer_analytics"][..],
        &["costs", "customer_analytics"][..],
        &["submit", "customer_analytics"][..],
        &["check-aws", "customer_analytics"][..],
        &["runs", "customer_analytics"][..],
        &["export", "customer_analytics", "out"][..],
    ] {
        let o = medallion_in(&cwd, &ws, args);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}");
        assert!(
            out.contains("no project named `customer_analytics` in the workspace")
                && out.contains("./customer_analytics"),
            "{args:?}: {out}"
        );
        assert_eq!(out.lines().count(), 1, "{args:?}: {out}");
    }
    let o = medallion(&ws, &["list", "--format", "json"]);
    assert_eq!(json(&o), serde_json::json!([]), "nothing was imported");
    // As a path, `runs` reads the name from the directory and imports nothing.
    let o = medallion_in(
        &cwd,
        &ws,
        &["runs", "./customer_analytics", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json(&o), serde_json::json!([]));
    let o = medallion(&ws, &["list", "--format", "json"]);
    assert_eq!(json(&o), serde_json::json!([]), "nothing was imported");
}

#[test]
fn importing_over_a_stored_project_says_what_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(&ws, &["import", example_dir().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let smaller = tmp.path().join("smaller");
    example_without_daily_revenue(&smaller);
    let o = medallion(&ws, &["import", "--replace", smaller.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("1 asset removed (daily_revenue)") && out.contains("revision 1 → 2"),
        "{out}"
    );
    let o = medallion(
        &ws,
        &[
            "import",
            "--replace",
            example_dir().to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = json(&o);
    assert_eq!(
        v["changes"]["assets_added"],
        serde_json::json!(["daily_revenue"]),
        "{v}"
    );
    assert_eq!(v["changes"]["assets_removed"], serde_json::json!([]), "{v}");
    assert_eq!(v["previous_revision"], 2, "{v}");
    assert_eq!(v["revision"], 3, "{v}");
}

#[test]
fn running_a_folder_never_discards_edits_made_in_the_workspace_since_its_import() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = tmp.path().join("customer_analytics");
    example_without_daily_revenue(&dir);
    let o = medallion(&ws, &["import", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The studio (or another window) saves an edit: the stored project now has an asset the
    // folder does not.
    {
        let mut w = medallion::store::Workspace::open(&ws).unwrap();
        let stored = w.load_project("customer_analytics").unwrap();
        let mut project = stored.project;
        project.description = "edited in the studio".into();
        w.save_project(&project, None).unwrap();
    }
    let o = medallion(&ws, &["plan", dir.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("was changed in the workspace after it was imported")
            && out.contains("revision 2")
            && out.contains("medallion import --replace"),
        "{out}"
    );
    assert_eq!(stored_summary(&ws, "customer_analytics"), (2, 5));
    // An explicit import replaces it and says so.
    let o = medallion(&ws, &["import", "--replace", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("description changed"), "{}", text(&o));
    assert_eq!(stored_summary(&ws, "customer_analytics"), (3, 5));
}

#[test]
fn runs_has_column_headers_and_report_without_flags_prints_the_text_report() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = example_dir();
    let o = medallion(
        &ws,
        &["materialize", dir.to_str().unwrap(), "--format", "json"],
    );
    assert!(o.status.code().is_some(), "{}", text(&o));
    let run_id = json(&o)["runs"][0]["run_id"].as_str().unwrap().to_owned();

    let o = medallion(&ws, &["runs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    let header = out.lines().next().unwrap();
    for column in [
        "RUN",
        "STATUS",
        "DURATION",
        "TARGET",
        "PROJECT",
        "SELECTION",
        "CREATED",
    ] {
        assert!(header.contains(column), "{column} missing from: {out}");
    }
    assert!(out.lines().nth(1).unwrap().starts_with(&run_id), "{out}");

    let o = medallion(&ws, &["report", &run_id]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains(&format!("Run {run_id}")), "{out}");
    for line in [
        "Steps",
        "raw_orders",
        "materialized",
        "Checks",
        "Materializations",
    ] {
        assert!(out.contains(line), "{line} missing from: {out}");
    }
}
