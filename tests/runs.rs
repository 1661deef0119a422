//! Every run reaches an honest end, with real processes and real workspace files: a run killed
//! mid-step is marked failed by the next command and `gc` removes what it left; a run whose
//! record cannot be stored (another process holds the workspace's write lock) fails and leaves
//! no orphaned file; durations are the run's real ones; a remote launch that cannot submit
//! fails at once, in the CLI and in the studio, and stays failed after a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use crate::common;

use common::{copy_dir, example, json, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The sentence a run whose process is gone fails with.
const DEAD: &str = "the process ended before the run finished (killed?)";

fn medallion_cmd(workspace: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_medallion"));
    c.args(args)
        .env("MEDALLION_WORKSPACE", workspace)
        .env_remove("MEDALLION_LOG");
    c
}

fn medallion(workspace: &Path, args: &[&str]) -> Output {
    medallion_cmd(workspace, args)
        .output()
        .expect("run medallion")
}

/// A copy of the example in `tmp`; with `customers`, its data generated at that size (orders
/// are ten times as many), so a run takes long enough to be caught in the middle.
fn example_copy(tmp: &Path, customers: Option<u64>) -> PathBuf {
    let dir = tmp.join("customer_analytics");
    copy_dir(&example(), &dir);
    if let Some(n) = customers {
        medallion::app::write_sample_data(&dir.join("data"), n, 7).unwrap();
    }
    dir
}

/// The example's materialization directory beside the workspace file.
fn store(ws: &Path) -> PathBuf {
    ws.parent()
        .unwrap()
        .join("materializations/customer_analytics")
}

/// Every file under the store: (asset, run id from the file name, whether `.partial`, path).
fn store_files(ws: &Path) -> Vec<(String, String, bool, PathBuf)> {
    let mut out = Vec::new();
    let Ok(assets) = std::fs::read_dir(store(ws)) else {
        return out;
    };
    for a in assets.flatten() {
        for p in std::fs::read_dir(a.path()).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(p.path()).into_iter().flatten().flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                let asset = a.file_name().to_string_lossy().into_owned();
                if let Some(run) = name.strip_suffix(".parquet.partial") {
                    out.push((asset, run.to_owned(), true, f.path()));
                } else if let Some(run) = name.strip_suffix(".parquet") {
                    out.push((asset, run.to_owned(), false, f.path()));
                }
            }
        }
    }
    out.sort();
    out
}

/// Whether a materialization row (whose file was not removed) names this asset's file of `run`.
fn recorded(ws: &Path, asset: &str, run: &str) -> bool {
    let conn = rusqlite::Connection::open(ws).unwrap();
    conn.query_row(
        "SELECT count(*) FROM materializations WHERE asset_key = ?1 AND run_id = ?2 AND purged_at IS NULL",
        [asset, run],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        > 0
}

fn run_json(ws: &Path, run_id: &str) -> serde_json::Value {
    let o = medallion(ws, &["runs", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    json(&o)
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == run_id)
        .unwrap_or_else(|| panic!("run {run_id} is not listed: {}", text(&o)))
        .clone()
}

/// Waits for `done` (polling), failing after `limit`.
fn wait_for<T>(what: &str, limit: Duration, mut done: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = done() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Found under Xvfb: a studio open while a CLI run was killed (kill -9) showed that run
/// "started" in its run history for as long as it stayed open — nothing wrote to the
/// workspace any more, so nothing told it to look again (a restart, or Refresh, ended it).
/// The studio's workspace worker looks for unfinished runs whose process is gone, ends them,
/// and says the runs changed, with no click.
#[test]
fn an_open_studio_sees_a_killed_cli_run_end_without_a_click() {
    use medallion::app::worker::{WorkspaceEvent, WorkspaceRequest, WorkspaceWorker};
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = example_copy(tmp.path(), Some(50_000));
    let o = medallion(&ws, &["import", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let project = medallion::store::Workspace::open(&ws)
        .unwrap()
        .load_project("customer_analytics")
        .unwrap()
        .project;
    // The studio's workspace worker, watching the project as an open window does.
    let worker = WorkspaceWorker::spawn(&ws, Box::new(|| {})).unwrap();
    worker
        .send(WorkspaceRequest::Track {
            project: Box::new(project),
            known: None,
        })
        .unwrap();
    let mut child = medallion_cmd(&ws, &["materialize", "customer_analytics"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let run_id = wait_for("a step writing its file", Duration::from_mins(3), || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before it could be killed mid-step");
        }
        let _ = worker.poll();
        store_files(&ws)
            .into_iter()
            .find(|f| f.2)
            .map(|(_, run, _, _)| run)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let status = |ws: &Path| {
        medallion::store::Workspace::open(ws)
            .unwrap()
            .run(&run_id.as_str().into())
            .unwrap()
            .status
    };
    // No command runs here (any would end the run itself): only the open worker looks.
    // Every event the worker sent since the kill counts, whichever poll took it: the worker
    // may end the run and say so before the loop's first poll (a poll right after the kill
    // threw that away, and the wait timed out twice in CI with the run already ended and no
    // event seen). A timeout says what it saw.
    let mut seen = Vec::new();
    let mut changed = false;
    let start = Instant::now();
    loop {
        let events = worker.poll();
        changed |= events.iter().any(
            |e| matches!(e, WorkspaceEvent::RunsChanged { name } if name == "customer_analytics"),
        );
        seen.extend(
            events
                .iter()
                .map(|e| format!("{e:?}").chars().take(120).collect::<String>()),
        );
        if changed && status(&ws) == medallion::model::RunStatus::Failure {
            break;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let unfinished = medallion::store::Workspace::open(&ws)
                .and_then(|w| w.unfinished_runs())
                .map(|runs| {
                    runs.iter()
                        .map(|r| {
                            format!(
                                "{} owner {:?} alive at {:?}",
                                r.id, r.owner, r.signs_of_life
                            )
                        })
                        .collect::<Vec<_>>()
                });
            panic!(
                "timed out waiting for the open studio to end the killed run and say so: run status {:?}; events seen {seen:?}; unfinished runs {unfinished:?}",
                status(&ws)
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let run = run_json(&ws, &run_id);
    assert_eq!(run["error"], DEAD, "{run}");
    assert_eq!(run["end_known"], false, "{run}");
}

#[test]
fn a_killed_run_is_marked_failed_and_never_holds_back_gc() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = example_copy(tmp.path(), Some(50_000));
    let d = dir.to_str().unwrap();
    let mut child = medallion_cmd(&ws, &["materialize", d])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed while a step writes its Parquet file: the run is in the middle of its work.
    let run_id = wait_for("a step writing its file", Duration::from_mins(3), || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before it could be killed mid-step");
        }
        store_files(&ws)
            .into_iter()
            .find(|f| f.2)
            .map(|(_, run, _, _)| run)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        store_files(&ws).iter().any(|f| f.2 && f.1 == run_id),
        "the killed run left its temporary file"
    );

    // The next command finds the run's process gone and says so, as plain text (stderr is
    // not a terminal here: no colour codes).
    let o = medallion(&ws, &["runs", "--format", "json"]);
    let warned = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        warned.contains("was left unfinished") && warned.contains(DEAD),
        "{warned}"
    );
    assert!(
        !warned.contains('\u{1b}'),
        "colour codes in a log: {warned:?}"
    );
    let run = run_json(&ws, &run_id);
    assert_eq!(run["status"], "failure", "{run}");
    assert_eq!(run["error"], DEAD, "{run}");
    assert!(run["ended_at"].is_string(), "{run}");
    // When it really stopped is unknown: no duration is made up from its last sign of life.
    assert_eq!(run["end_known"], false, "{run}");
    assert!(run["duration_ms"].is_null(), "{run}");
    // Its report agrees: the step it was in failed with the same sentence, none is left open.
    let report_path = tmp.path().join("report.json");
    let o = medallion(
        &ws,
        &["report", &run_id, "--json", report_path.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report["run"]["status"], "failure");
    assert!(report["duration_ms"].is_null(), "{report}");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 6, "every asset has an outcome: {steps:?}");
    assert!(
        steps.iter().any(|s| s["outcome"]["outcome"] == "failed"
            && s["outcome"]["error"] == DEAD
            && s["duration_ms"].is_null()),
        "the step it died in ran for an unknown time: {steps:?}"
    );
    let text_runs = text(&medallion(&ws, &["runs"]));
    assert!(text_runs.contains(DEAD), "{text_runs}");
    let line = text_runs
        .lines()
        .find(|l| l.starts_with(run_id.as_str()))
        .unwrap_or_else(|| panic!("no line for {run_id}: {text_runs}"));
    assert!(line.contains(" unknown "), "{line}");
    let report_text = text(&medallion(&ws, &["report", &run_id]));
    assert!(
        report_text.contains("unknown (last sign of life"),
        "{report_text}"
    );

    // gc removes what the dead run left: its temporary file, and any file it wrote but never
    // recorded.
    let o = medallion(&ws, &["gc", "customer_analytics", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let gc = json(&o);
    assert!(
        gc["leftovers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["run_id"] == run_id.as_str()
                && f["location"].as_str().unwrap().ends_with(".partial")),
        "{gc}"
    );
    for (asset, run, partial, path) in store_files(&ws) {
        assert!(!partial, "{} left", path.display());
        assert!(
            recorded(&ws, &asset, &run),
            "{} is named by no materialization",
            path.display()
        );
    }

    // Two good runs after it; keeping one file per asset removes the first good run's files:
    // the dead run does not hold them back.
    for _ in 0..2 {
        let o = medallion(&ws, &["materialize", d, "--force"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let o = medallion(
        &ws,
        &[
            "gc",
            "customer_analytics",
            "--keep",
            "1",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let files = store_files(&ws);
    assert!(
        !files.iter().any(|f| f.2),
        "temporary files left: {files:?}"
    );
    for (asset, run, _, path) in &files {
        assert!(
            recorded(&ws, asset, run),
            "{} is named by no materialization",
            path.display()
        );
    }
    let per_asset = |asset: &str| files.iter().filter(|f| f.0 == asset).count();
    for asset in ["raw_orders", "order_history", "daily_revenue"] {
        assert_eq!(per_asset(asset), 1, "{asset}: {files:?}");
    }
}

#[test]
fn a_run_whose_record_cannot_be_stored_fails_and_leaves_no_files() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = example_copy(tmp.path(), Some(50_000));
    let child = medallion_cmd(&ws, &["materialize", dir.to_str().unwrap()])
        .env("MEDALLION_RECORD_WAIT_SECS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = std::thread::spawn(move || child.wait_with_output().unwrap());
    // Once the run has started, another process takes the write lock and keeps it until the
    // run's process has exited.
    let run_id: String = wait_for("the run to start", Duration::from_mins(3), || {
        let conn = rusqlite::Connection::open(&ws).ok()?;
        conn.query_row("SELECT id FROM runs WHERE status = 'started'", [], |r| {
            r.get(0)
        })
        .ok()
    });
    let lock = rusqlite::Connection::open(&ws).unwrap();
    lock.busy_timeout(Duration::from_secs(30)).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let start = Instant::now();
    while !output.is_finished() {
        assert!(
            start.elapsed() < Duration::from_mins(3),
            "medallion (pid {pid}) did not give up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    lock.execute_batch("ROLLBACK").unwrap();
    let o = output.join().unwrap();
    let said = text(&o);
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(!said.contains("success"), "success was said: {said}");
    assert!(said.contains("could not be recorded"), "{said}");
    assert!(said.contains("locked"), "{said}");

    // The run is failed in the workspace too, and every file it wrote is gone or recorded.
    assert_eq!(run_json(&ws, &run_id)["status"], "failure");
    for (asset, run, partial, path) in store_files(&ws) {
        if run == run_id {
            assert!(!partial, "{} left", path.display());
            assert!(
                recorded(&ws, &asset, &run),
                "{} was left unrecorded",
                path.display()
            );
        }
    }
}

fn parse_ms(s: &serde_json::Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[test]
fn runs_and_reports_show_how_long_a_run_took() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = example_copy(tmp.path(), None);
    let o = medallion(
        &ws,
        &["materialize", dir.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = json(&o);
    let run_id = out["runs"][0]["run_id"].as_str().unwrap().to_owned();
    let step_ms = |asset: &str| {
        out["runs"][0]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["asset"] == asset)
            .unwrap()["duration_ms"]
            .as_u64()
            .unwrap()
    };
    // These three run one after another, so the run took at least as long as they did.
    let chain =
        step_ms("raw_orders") + step_ms("order_history") + step_ms("customer_lifetime_value");
    assert!(chain > 0, "{out}");
    let run = run_json(&ws, &run_id);
    let from_stamps = parse_ms(&run["ended_at"]) - parse_ms(&run["started_at"]);
    assert!(
        from_stamps >= chain as i64,
        "the run took {from_stamps} ms from start to end, but three of its steps in a row took {chain} ms: {run}"
    );
    let duration = run["duration_ms"].as_u64().unwrap();
    assert_eq!(duration as i64, from_stamps, "{run}");
    let label = medallion::model::format_duration_ms(duration);
    let listed = text(&medallion(&ws, &["runs"]));
    assert!(listed.contains(&label), "{label} not in {listed}");

    let (html, js) = (tmp.path().join("r.html"), tmp.path().join("r.json"));
    let o = medallion(
        &ws,
        &[
            "report",
            &run_id,
            "--html",
            html.to_str().unwrap(),
            "--json",
            js.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&js).unwrap()).unwrap();
    assert_eq!(report["duration_ms"], duration);
    assert_ne!(report["run"]["started_at"], report["run"]["ended_at"]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains(&format!("took {label}")),
        "no duration in the report"
    );
}

/// A copy of the example with an `aws` resource whose calls cannot succeed: the process has
/// no AWS credentials (see [`without_aws_credentials`]), and the endpoint is a closed port.
fn example_with_unreachable_aws(tmp: &Path) -> PathBuf {
    let dir = example_copy(tmp, None);
    let toml = dir.join("medallion.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(
        r#"
[resources.aws]
kind = "aws"
region = "us-east-1"
endpoint_url = "http://127.0.0.1:9"

[resources.aws.compute]
bucket = "medallion-unreachable"
prefix = "lake/ca"
image = "medallion-runner:test"
cluster = "c"
subnets = ["subnet-1"]
security_groups = ["sg-1"]
execution_role_arn = "arn:aws:iam::123456789012:role/medallion-exec"
task_role_arn = "arn:aws:iam::123456789012:role/medallion-task"
log_group = "/medallion/unreachable"
"#,
    );
    std::fs::write(&toml, text).unwrap();
    dir
}

/// No AWS credentials from anywhere the SDK looks.
fn without_aws_credentials(c: &mut Command, tmp: &Path) {
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        c.env_remove(var);
    }
    c.env("AWS_CONFIG_FILE", tmp.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            tmp.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

#[test]
fn a_remote_launch_without_credentials_fails_at_once_and_stays_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = example_with_unreachable_aws(tmp.path());
    let run = |args: &[&str]| {
        let mut c = medallion_cmd(&ws, args);
        without_aws_credentials(&mut c, tmp.path());
        c.output().unwrap()
    };
    let o = run(&[
        "submit",
        dir.to_str().unwrap(),
        "--tier",
        "fargate",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let submitted = json(&o);
    assert_eq!(submitted["status"], "failure", "{submitted}");
    let error = submitted["error"].as_str().unwrap();
    assert!(error.contains("could not be submitted"), "{error}");
    assert!(error.contains("credentials"), "{error}");
    let run_id = submitted["run_id"].as_str().unwrap().to_owned();
    let steps = submitted["steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| s["remote_id"].is_null()),
        "nothing was submitted: {steps:?}"
    );

    // Later commands see it failed and never try it again.
    for _ in 0..2 {
        let o = run(&["runs", "--format", "json"]);
        assert!(
            !text(&o).contains("could not be reconciled"),
            "{}",
            text(&o)
        );
        let listed = json(&o);
        let r = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == run_id.as_str())
            .unwrap();
        assert_eq!(r["status"], "failure", "{r}");
        assert!(r["ended_at"].is_string(), "{r}");
    }
    // Its report shows every asset's outcome, none left queued.
    let js = tmp.path().join("remote.json");
    let o = run(&["report", &run_id, "--json", js.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&js).unwrap()).unwrap();
    assert_eq!(report["steps"].as_array().unwrap().len(), 6, "{report}");
}

mod studio {
    use super::*;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use medallion::app;
    use medallion::model::{AssetKey, RunStatus};
    use medallion::ui::runs::NodeStatus;
    use medallion::ui::{Studio, frame_ui};

    fn harness(studio: Studio) -> Harness<'static, Studio> {
        let mut h = Harness::builder()
            .with_size(egui::vec2(1400.0, 900.0))
            .with_max_steps(40)
            .build_ui_state(|ui, studio: &mut Studio| frame_ui(ui, studio), studio);
        h.run_steps(3);
        h
    }

    fn wait_until(h: &mut Harness<'_, Studio>, what: &str, done: impl Fn(&Studio) -> bool) {
        let start = Instant::now();
        while !done(h.state()) {
            assert!(
                start.elapsed() < Duration::from_mins(3),
                "timed out waiting for {what}"
            );
            h.step();
            std::thread::sleep(Duration::from_millis(10));
        }
        h.run_steps(3);
    }

    const ASSETS: [&str; 6] = [
        "raw_customer_data",
        "raw_orders",
        "cleaned_customer_data",
        "order_history",
        "customer_lifetime_value",
        "daily_revenue",
    ];

    /// The studio's process may or may not have AWS credentials; either way nothing reaches
    /// the closed port, so the launch fails before anything is submitted.
    #[test]
    fn a_launch_that_cannot_submit_shows_failed_and_stays_failed_after_a_restart() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = example_with_unreachable_aws(tmp.path());
        let path = tmp.path().join("ws.sqlite");
        let project = {
            let mut ws = app::open_workspace(&path).unwrap();
            let report = app::import_project(&mut ws, &dir, true, false).unwrap();
            app::load_project(&ws, &report.name).unwrap().project
        };
        let mut h = harness(Studio::with_workspace(Some(project.clone()), &path).unwrap());
        assert!(h.state_mut().start_remote_run(app::remote::SubmitRequest {
            selection: "*".into(),
            partitions: vec![],
            force: false,
            tier: Some(medallion::model::ComputeTier::Fargate),
            overrides: std::collections::BTreeMap::new(),
            aws_resource: None,
            trigger: "studio".into(),
        }));
        wait_until(&mut h, "the launch to end", |s| {
            s.run.as_ref().is_some_and(|r| r.done)
        });
        let run = h.state().run.as_ref().unwrap();
        assert_eq!(run.status, Some(RunStatus::Failure), "{:?}", run.error);
        let error = run.error.clone().unwrap_or_default();
        assert!(error.contains("could not be submitted"), "{error}");
        let run_id = run.run_id.clone().unwrap();
        // The clock has stopped.
        let elapsed = run.elapsed_ms();
        std::thread::sleep(Duration::from_millis(300));
        h.run_steps(2);
        assert_eq!(h.state().run.as_ref().unwrap().elapsed_ms(), elapsed);
        // No card is left queued or running.
        for asset in ASSETS {
            let status = h.state().node_status(&AssetKey::new(asset)).cloned();
            assert!(
                matches!(status, Some(NodeStatus::Failed { .. })),
                "{asset}: {status:?}"
            );
        }
        wait_until(&mut h, "the remote steps", |s| {
            s.run.as_ref().is_some_and(|r| !r.remote_steps.is_empty())
        });
        h.get_by_label("never submitted");
        drop(h);

        // After a restart the run is failed in the history and opens as failed; nothing
        // reattaches to it.
        let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
        h.state_mut().refresh_history();
        wait_until(&mut h, "the run history", |s| {
            s.workbench.history.iter().any(|r| r.id == run_id)
        });
        let listed = h
            .state()
            .workbench
            .history
            .iter()
            .find(|r| r.id == run_id)
            .unwrap()
            .clone();
        assert_eq!(listed.status, RunStatus::Failure);
        assert!(listed.ended_at.is_some());
        h.state_mut().open_run(&run_id);
        wait_until(&mut h, "the run to open", |s| {
            s.run
                .as_ref()
                .is_some_and(|r| r.run_id.as_deref() == Some(run_id.as_str()) && r.done)
        });
        let opened = h.state().run.as_ref().unwrap();
        assert_eq!(opened.status, Some(RunStatus::Failure));
        for asset in ASSETS {
            assert!(
                matches!(
                    opened.nodes.get(&AssetKey::new(asset)),
                    Some(NodeStatus::Failed { .. })
                ),
                "{asset}: {:?}",
                opened.nodes.get(&AssetKey::new(asset))
            );
        }
        let w = medallion::app::open_workspace(&path).unwrap();
        let steps = medallion::app::remote::view(&w, &run_id)
            .unwrap()
            .unwrap()
            .steps;
        assert!(
            steps
                .iter()
                .all(|s| s.status.is_finished() && s.remote_id.is_none()),
            "{steps:?}"
        );
    }
}

/// A run made by another process (the CLI, the daemon, a second window) shows on the open
/// studio's cards and in its history without a restart: the cards of the example go from
/// "missing" to "fresh", and the run is listed, within a few polls.
#[test]
fn a_run_by_another_process_shows_on_the_open_studio() {
    use crate::common::studio::{example_workspace, harness, wait_until};
    use medallion::model::AssetKey;
    use medallion::ui::Studio;
    use medallion::ui::runs::NodeStatus;
    let tmp = tempfile::tempdir().unwrap();
    let (path, project) = example_workspace(tmp.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    let key = AssetKey::new("daily_revenue");
    wait_until(
        &mut h,
        "the first card states",
        Duration::from_secs(30),
        |s| matches!(s.node_status(&key), Some(NodeStatus::Missing)),
    );
    h.state_mut().refresh_history();
    h.run_steps(5);
    let o = medallion(&path, &["materialize", "customer_analytics"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run_id = text(&o)
        .lines()
        .find_map(|l| l.strip_prefix("run "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    wait_until(
        &mut h,
        "the other process's run on the cards",
        Duration::from_secs(30),
        |s| matches!(s.node_status(&key), Some(NodeStatus::Fresh)),
    );
    wait_until(
        &mut h,
        "the other process's run in the history",
        Duration::from_secs(30),
        |s| s.workbench.history.iter().any(|r| r.id == run_id),
    );
}
