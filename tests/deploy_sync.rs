//! A deployed project's executions: the state machine run by moto's Step Functions
//! interpreter to its end, its `lambda:invoke` served by the REAL runner (through the Lambda
//! front test double), and the executions imported into run history by `medallion sync`.
//!
//! Moto's interpreter calls the services it integrates at `localhost:$MOTO_PORT`, so these tests
//! start their own moto server whose `MOTO_PORT` names the Lambda front: `Invoke` starts the
//! runner, every other call (S3, Step Functions) goes on to that moto.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::deploy::{aws_toml_at, json, lake_bucket, lake_object, medallion, workspace};
use crate::support::aws_executor::{runtime, sdk_config};
use crate::support::lambda_front::LambdaFront;

/// A moto server running executions, its interpreter's calls going through a Lambda front.
pub(crate) struct InterpretingMoto {
    /// Where the tests (and the app) reach moto.
    pub(crate) url: String,
    pub(crate) front: LambdaFront,
    child: Child,
}

impl Drop for InterpretingMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl InterpretingMoto {
    pub(crate) fn start() -> Option<Self> {
        crate::remote_aws::peers()?;
        let server = std::env::var("MEDALLION_TEST_MOTO_SERVER").unwrap_or_else(|_| {
            panic!(
                "MEDALLION_TEST_PEERS=1 but MEDALLION_TEST_MOTO_SERVER is not set: use tests/run"
            )
        });
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let front = LambdaFront::start(&url);
        let front_port = front.url.rsplit(':').next().unwrap().to_owned();
        // moto_server, started through the launcher that restores its interpreter's
        // PascalCase ↔ boto casing (tests/support/moto_sfn_casing.py says why).
        let python = Path::new(&server).with_file_name("python");
        let launcher =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_sfn_casing.py");
        let child = Command::new(python)
            .arg(launcher)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_PORT", front_port)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Self { url, front, child };
        let rt = runtime();
        let started = Instant::now();
        loop {
            let ready = rt.block_on(async {
                reqwest::get(format!("{}/moto-api/data.json", moto.url))
                    .await
                    .is_ok()
            });
            if ready {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        rt.block_on(async {
            let status = reqwest::Client::new()
                .post(format!("{}/moto-api/config", moto.url))
                .body(r#"{"stepfunctions":{"execute_state_machine":true}}"#)
                .send()
                .await
                .unwrap()
                .status();
            assert!(status.is_success(), "{status}");
        });
        lake_bucket(&moto.url);
        Some(moto)
    }
}

/// The example with every asset on Lambda (one step), deployed; returns the workspace, the
/// project's copy and the state machine's ARN.
fn deployed_on_lambda(
    dir: &Path,
    moto: &str,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let (ws, copy) = workspace(dir, name, &aws_toml_at(moto, true, &format!("lake/{name}")));
    let toml = copy.join("medallion.toml");
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace("tier = \"fargate\"", "tier = \"lambda\"")
        .replace("tier = \"eks\"", "tier = \"lambda\"");
    std::fs::write(&toml, text).unwrap();
    let out = medallion(&ws, &["deploy", copy.to_str().unwrap(), "--format", "json"]);
    let deployed = json(&out);
    let steps: Vec<&str> = deployed["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["s1-lambda"], "{deployed}");
    let arn = deployed["state_machine_arn"].as_str().unwrap().to_owned();
    (ws, copy, arn)
}

/// Starts an execution named `name` and waits for its end: (status, error, cause, states
/// entered).
pub(crate) fn execute(
    moto: &str,
    arn: &str,
    name: &str,
) -> (String, Option<String>, Option<String>, Vec<String>) {
    execute_with(moto, arn, name, r#"{"trigger":"test"}"#)
}

/// [`execute`] with the execution's input.
pub(crate) fn execute_with(
    moto: &str,
    arn: &str,
    name: &str,
    input: &str,
) -> (String, Option<String>, Option<String>, Vec<String>) {
    let rt = runtime();
    let sfn = aws_sdk_sfn::Client::new(&sdk_config(moto));
    rt.block_on(async {
        let exec = sfn
            .start_execution()
            .state_machine_arn(arn)
            .name(name)
            .input(input)
            .send()
            .await
            .unwrap();
        let started = Instant::now();
        loop {
            let d = sfn
                .describe_execution()
                .execution_arn(exec.execution_arn())
                .send()
                .await
                .unwrap();
            if d.status() != &aws_sdk_sfn::types::ExecutionStatus::Running
                || started.elapsed() > Duration::from_mins(4)
            {
                let history = sfn
                    .get_execution_history()
                    .execution_arn(exec.execution_arn())
                    .send()
                    .await
                    .unwrap();
                let entered = history
                    .events()
                    .iter()
                    .filter_map(|e| e.state_entered_event_details())
                    .map(|s| s.name().to_owned())
                    .collect();
                return (
                    d.status().as_str().to_owned(),
                    d.error().map(str::to_owned),
                    d.cause().map(str::to_owned),
                    entered,
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

/// The deployed example runs to SUCCEEDED in moto's interpreter: `lambda:invoke` starts the
/// real runner with the deployed plan and the execution's name as run id, the runner writes
/// its materializations and result under `_runs/<execution>/`, and the state machine reads the
/// result and succeeds. Redeployed with a blocking check that fails, the next execution fails
/// with the check's headline. `medallion sync` imports both, once, with what happened.
#[test]
fn deployed_executions_run_in_motos_interpreter_and_sync_into_history() {
    let Some(moto) = InterpretingMoto::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = format!("deployrun_{}", std::process::id());
    let (ws, copy, arn) = deployed_on_lambda(dir.path(), &moto.url, &name);

    // Nothing ran yet: a sync imports nothing.
    let none = json(&medallion(&ws, &["sync", &name, "--format", "json"]));
    assert_eq!(none["imported"], serde_json::json!([]), "{none}");
    assert_eq!(none["state_machine_arn"], arn.as_str());

    let (status, error, cause, entered) = execute(&moto.url, &arn, "nightly-1");
    assert_eq!(status, "SUCCEEDED", "{error:?} {cause:?} {entered:?}");
    assert_eq!(entered, ["Run s1-lambda", "Check s1-lambda", "Succeeded"]);
    let invocations = moto.front.invocations.lock().unwrap().clone();
    assert_eq!(invocations.len(), 1, "{invocations:?}");
    assert_eq!(invocations[0].function, "medallion-runner");
    assert!(!invocations[0].error, "{:?}", invocations[0]);

    // The runner ran as the execution: its result and data are under the execution's name.
    let key = format!("lake/{name}/_runs/nightly-1/s1-lambda/result-0.json");
    let result: Value =
        serde_json::from_slice(&lake_object(&moto.url, &key).expect("the step's result")).unwrap();
    assert_eq!(result["run_id"], "nightly-1");
    assert_eq!(result["status"], "success");
    assert!(
        lake_object(
            &moto.url,
            &format!("lake/{name}/daily_revenue/_/nightly-1.parquet")
        )
        .is_some(),
        "no daily_revenue materialization for the execution"
    );
    fail_then_sync(&moto, &ws, &copy, &name, &arn);
}

/// The rest of the test above: a failing execution, then the sync.
fn fail_then_sync(moto: &InterpretingMoto, ws: &Path, copy: &Path, name: &str, arn: &str) {
    // A blocking check that cannot pass: redeploying updates only the step's plan.
    let toml = copy.join("medallion.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replacen(
            "min = 1\ndescription = \"Row count > 0\"",
            "min = 1000000000\ndescription = \"Row count > 0\"",
            1,
        ),
    )
    .unwrap();
    let redeployed = json(&medallion(
        ws,
        &["deploy", copy.to_str().unwrap(), "--format", "json"],
    ));
    let changed: Vec<String> = redeployed["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "unchanged")
        .map(|c| {
            format!(
                "{} {}",
                c["action"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        changed,
        ["update _deploy/s1-lambda/plan.json"],
        "{redeployed}"
    );
    let (status, error, cause, entered) = execute(&moto.url, arn, "nightly-2");
    assert_eq!(status, "FAILED", "{entered:?}");
    assert_eq!(error.as_deref(), Some("Medallion.StepFailed"));
    let cause = cause.unwrap_or_default();
    assert!(cause.contains("order_history_not_empty"), "{cause}");
    assert_eq!(
        entered.last().map(String::as_str),
        Some("Blocked s1-lambda")
    );

    // The project changes after the deploy (an asset moves to Fargate) and is not deployed
    // again: the sync still reads and prices the executions by the steps as deployed
    // (`_deploy/steps.json`): one `s1-lambda` step, whose results are there.
    // It also gets a freshness policy, read below from the synced materializations.
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replacen("tier = \"lambda\"", "tier = \"fargate\"", 1)
            + "\n[assets.daily_revenue.freshness]\nmax_lag_minutes = 100000\n",
    )
    .unwrap();
    {
        let mut w = medallion::app::open_workspace(ws).unwrap();
        medallion::app::import_project(&mut w, copy, true, false).unwrap();
    }

    // The studio opening the project syncs it (off the UI thread) and says so in one line.
    studio_syncs_on_open(ws, name);
    let w = medallion::app::open_workspace(ws).unwrap();
    let ok = w.run(&"nightly-1".into()).unwrap();
    assert_eq!(ok.status, medallion::model::RunStatus::Success, "{ok:?}");
    assert!(ok.trigger.starts_with("aws:"), "{}", ok.trigger);
    assert!(ok.ended_at.unwrap() >= ok.started_at.unwrap());
    let failed = w.run(&"nightly-2".into()).unwrap();
    assert_eq!(failed.status, medallion::model::RunStatus::Failure);
    let why = failed.error.unwrap_or_default();
    assert!(why.contains("order_history_not_empty"), "{why}");
    // Checks, materializations and costs as a remote run records them.
    let checks = w.run_check_results(&"nightly-2".into()).unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c.check_name == "order_history_not_empty" && !c.passed),
        "{checks:?}"
    );
    let latest = w.latest_materializations(name).unwrap();
    let revenue = latest
        .iter()
        .find(|m| m.asset.as_str() == "daily_revenue")
        .expect("daily_revenue materialized");
    assert_eq!(revenue.run_id.as_str(), "nightly-1");
    assert!(
        revenue
            .location
            .ends_with("/daily_revenue/_/nightly-1.parquet"),
        "{}",
        revenue.location
    );
    let costs = medallion::app::plan::run_costs(&w, &"nightly-1".into()).unwrap();
    assert_eq!(costs.len(), 6, "{costs:?}");
    assert!(
        costs.iter().all(|c| c.actual_duration_secs.is_some()),
        "{costs:?}"
    );
    drop(w);

    // Again, from the CLI: nothing new. The cursor the studio's sync left lists only from the
    // newest execution on (nightly-1, older, is not listed again).
    let synced = medallion(ws, &["sync", name]);
    let text = crate::common::text(&synced);
    assert_eq!(synced.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with(&format!(
            "Synced 0 execution(s) of {name} from AWS, 1 already in history."
        )),
        "{text}"
    );
    let again = json(&medallion(ws, &["sync", name, "--format", "json"]));
    assert_eq!(again["imported"], serde_json::json!([]), "{again}");
    assert_eq!(again["already"], 1, "{again}");
    let from = again["listed_from"].as_str().unwrap_or_default();
    let second = medallion::model::time::parse(from).unwrap();
    assert_eq!(second, created(ws, "nightly-2"), "{again}");

    views_read_the_synced_executions(ws, name);

    // The synced runs' audit entries say they ran on AWS, in the account STS gives.
    let audit = json(&medallion(ws, &["audit", name, "--format", "json"]));
    let synced: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == "nightly-1" || e["subject"] == "nightly-2")
        .collect();
    assert_eq!(synced.len(), 4, "{audit:#}");
    for e in synced {
        assert_eq!(e["where"]["kind"], "aws", "{e}");
        assert_eq!(e["where"]["account"], "123456789012", "{e}");
        assert_eq!(e["where"]["tier"], "stepfunctions", "{e}");
    }
}

/// The views read a synced execution as they read a run launched by hand: freshness and the
/// assets' states from its materializations, the Gantt view's bars from its steps.
fn views_read_the_synced_executions(ws: &Path, name: &str) {
    let freshness = json(&medallion(ws, &["freshness", name, "--format", "json"]));
    assert_eq!(freshness[0]["asset"], "daily_revenue", "{freshness}");
    assert_eq!(freshness[0]["state"], "fresh", "{freshness}");
    assert_eq!(freshness[0]["last_run_id"], "nightly-1", "{freshness}");
    let status = json(&medallion(ws, &["status", name, "--format", "json"]));
    let state = |asset: &str| {
        status["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["asset"] == asset)
            .unwrap()
            .clone()
    };
    assert_eq!(
        state("daily_revenue")["last_materialization"]["run_id"],
        "nightly-1",
        "{status}"
    );
    assert_eq!(
        state("order_history")["status"]["status"],
        "failed",
        "{status}"
    );
    let report_file = ws.with_file_name("nightly-1.json");
    let o = medallion(
        ws,
        &[
            "report",
            "nightly-1",
            "--json",
            report_file.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", crate::common::text(&o));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 6, "{report}");
    for step in steps {
        assert_eq!(step["outcome"]["outcome"], "materialized", "{step}");
        assert!(step["duration_ms"].as_u64().is_some(), "{step}");
    }
}

/// When run `id` was created: for an imported execution, its start on AWS.
fn created(ws: &Path, id: &str) -> chrono::DateTime<chrono::Utc> {
    let w = medallion::app::open_workspace(ws).unwrap();
    w.run(&id.into()).unwrap().created_at
}

/// Set in the child process that runs the studio with AWS credentials in its environment:
/// `<workspace>|<project>`.
const STUDIO_CHILD: &str = "MEDALLION_TEST_STUDIO_SYNC";

/// The studio opening `project` syncs it: run in a child process of this binary whose
/// environment holds moto's credentials (a test cannot set them in its own process).
fn studio_syncs_on_open(ws: &Path, project: &str) {
    let name = crate::common::test_path(
        module_path!(),
        "the_studio_syncs_a_deployed_project_on_open",
    );
    crate::common::run_child_test(
        &name,
        [
            (STUDIO_CHILD, format!("{}|{project}", ws.display())),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ],
    );
}

/// The studio on a workspace whose project is deployed: opening it imports the executions AWS
/// ran, off the UI thread, and the status bar says how many. Run by the test above in a child
/// process (with AWS credentials); on its own it has nothing to open and returns.
#[test]
fn the_studio_syncs_a_deployed_project_on_open() {
    use crate::common::studio::{harness, wait_until};
    let Ok(spec) = std::env::var(STUDIO_CHILD) else {
        return;
    };
    let (ws, project) = spec.split_once('|').unwrap();
    let ws = Path::new(ws);
    let stored = {
        let w = medallion::app::open_workspace(ws).unwrap();
        medallion::app::load_project(&w, project).unwrap().project
    };
    let mut h = harness(medallion::ui::Studio::with_workspace(Some(stored), ws).unwrap());
    let expected = format!("Synced 2 execution(s) of {project} from AWS");
    wait_until(&mut h, "the sync from AWS", Duration::from_mins(1), |s| {
        s.notice
            .as_ref()
            .is_some_and(|n| n.text.starts_with(&expected))
    });
    assert!(!h.state().notice.as_ref().unwrap().is_error);
}

/// A project with daily partitions, deployed: an execution started with `{"partition": DAY}`
/// runs that day (its data under the day's key, imported by `sync` with that partition), one
/// that names no day fails in the runner's one sentence, and the deployed schedule gives each
/// execution its scheduled time, partition rule and time zone.
#[test]
fn a_daily_partitioned_deployment_runs_the_day_its_execution_names() {
    let Some(moto) = InterpretingMoto::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = format!("deployday_{}", std::process::id());
    let (ws, copy) = workspace(
        dir.path(),
        &name,
        &aws_toml_at(&moto.url, true, &format!("lake/{name}")),
    );
    let toml = copy.join("medallion.toml");
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace("tier = \"fargate\"", "tier = \"lambda\"")
        .replace("tier = \"eks\"", "tier = \"lambda\"")
        .replacen(
            "cron = \"0 6 * * *\"\n",
            "cron = \"0 6 * * *\"\npartition = \"previous_day\"\ntimezone = \"Europe/Berlin\"\n",
            1,
        )
        .replace(
            "name = \"revenue_per_order_date\"\n",
            "name = \"revenue_per_order_date\"\npartition = \"2026-01-02\"\n",
        );
    std::fs::write(
        &toml,
        format!("{text}\n[assets.daily_revenue.partitions]\nkind = \"daily\"\nstart = \"2026-01-01\"\n\n[resources.landing]\nkind = \"s3\"\nbucket = \"landing-bucket\"\n\n[sensors.new_orders]\nkind = \"s3_objects\"\nresource = \"landing\"\nprefix = \"orders/\"\nselection = \"*\"\nmin_interval_secs = 60\npartition = \"tick_date\"\n"),
    )
    .unwrap();
    let deployed = json(&medallion(
        &ws,
        &["deploy", copy.to_str().unwrap(), "--format", "json"],
    ));
    let arn = deployed["state_machine_arn"]
        .as_str()
        .unwrap_or_else(|| panic!("{deployed}"))
        .to_owned();
    redeploys_unchanged_with_the_sensors_day(&moto.url, &ws, &copy, &name);

    // The schedule's input: its time (filled in by Scheduler), rule and time zone.
    let group = format!("medallion-{name}");
    let rt = runtime();
    let scheduler = aws_sdk_scheduler::Client::new(&sdk_config(&moto.url));
    let schedule = rt
        .block_on(
            scheduler
                .get_schedule()
                .group_name(&group)
                .name(format!("{group}-nightly"))
                .send(),
        )
        .unwrap();
    let input: Value = serde_json::from_str(schedule.target().unwrap().input().unwrap()).unwrap();
    assert_eq!(
        input,
        serde_json::json!({
            "trigger": "schedule:nightly",
            "scheduled_time": "<aws.scheduler.scheduled-time>",
            "partition_rule": "previous_day",
            "timezone": "Europe/Berlin",
        })
    );

    // A day named by hand.
    let (status, error, cause, entered) = execute_with(
        &moto.url,
        &arn,
        "day-1",
        r#"{"trigger":"test","partition":"2026-03-04"}"#,
    );
    assert_eq!(status, "SUCCEEDED", "{error:?} {cause:?} {entered:?}");
    assert!(
        lake_object(
            &moto.url,
            &format!("lake/{name}/daily_revenue/2026-03-04/day-1.parquet")
        )
        .is_some(),
        "no daily_revenue materialization of 2026-03-04"
    );
    // A schedule's input as Scheduler fills it in: 05:00 UTC on 5 March is 06:00 in Berlin,
    // and the day before is 4 March.
    let (status, error, cause, entered) = execute_with(
        &moto.url,
        &arn,
        "day-2",
        &input
            .to_string()
            .replace("<aws.scheduler.scheduled-time>", "2026-03-05T05:00:00Z"),
    );
    assert_eq!(status, "SUCCEEDED", "{error:?} {cause:?} {entered:?}");
    assert!(
        lake_object(
            &moto.url,
            &format!("lake/{name}/daily_revenue/2026-03-04/day-2.parquet")
        )
        .is_some(),
        "no daily_revenue materialization of the day before the tick"
    );
    // No day: the runner's sentence is the execution's cause.
    let (status, error, cause, _) = execute_with(&moto.url, &arn, "day-3", r#"{"trigger":"test"}"#);
    assert_eq!(status, "FAILED");
    assert_eq!(error.as_deref(), Some("Medallion.StepFailed"));
    let cause = cause.unwrap_or_default();
    assert!(
        cause.contains("daily_revenue is partitioned by day and this execution names no day"),
        "{cause}"
    );

    // Imported with the day.
    let synced = medallion(&ws, &["sync", &name, "--format", "json"]);
    assert_eq!(
        synced.status.code(),
        Some(0),
        "{}",
        crate::common::text(&synced)
    );
    let w = medallion::app::open_workspace(&ws).unwrap();
    let ok = w.run(&"day-1".into()).unwrap();
    assert_eq!(ok.status, medallion::model::RunStatus::Success, "{ok:?}");
    let revenue: Vec<_> = w
        .latest_materializations(&name)
        .unwrap()
        .into_iter()
        .filter(|m| m.asset.as_str() == "daily_revenue")
        .map(|m| (m.partition.clone(), m.run_id.as_str().to_owned()))
        .collect();
    assert_eq!(
        revenue,
        [(Some("2026-03-04".to_owned()), "day-2".to_owned())],
        "the newest materialization of the day"
    );
    let failed = w.run(&"day-3".into()).unwrap();
    assert_eq!(failed.status, medallion::model::RunStatus::Failure);
}

/// The daily partitioned project deployed again changes nothing (the sensor's rule, with its
/// input transformer, reads back as deployed), and that rule gives each execution the event's
/// time and the sensor's partition rule.
fn redeploys_unchanged_with_the_sensors_day(moto: &str, ws: &Path, copy: &Path, name: &str) {
    let again = json(&medallion(
        ws,
        &["deploy", copy.to_str().unwrap(), "--format", "json"],
    ));
    let changed = crate::deploy::changes(&again);
    assert!(changed.is_empty(), "{changed:?}");
    // The sensor's rule gives the execution the event's time and the sensor's rule.
    let events = aws_sdk_eventbridge::Client::new(&sdk_config(moto));
    let targets = runtime()
        .block_on(
            events
                .list_targets_by_rule()
                .rule(format!("medallion-{name}-new_orders"))
                .send(),
        )
        .unwrap();
    let transformer = targets.targets()[0].input_transformer().unwrap();
    assert_eq!(
        transformer
            .input_paths_map()
            .unwrap()
            .get("time")
            .map(String::as_str),
        Some("$.time")
    );
    let filled: Value = serde_json::from_str(
        &transformer
            .input_template()
            .replace("<time>", "\"2026-03-05T23:30:00Z\""),
    )
    .unwrap();
    assert_eq!(filled["partition_rule"], "tick_date", "{filled}");
    assert_eq!(filled["trigger"], "sensor:new_orders", "{filled}");
}
