//! A deployed project whose steps run on Fargate and Batch, executed by moto's Step Functions
//! interpreter: `ecs:runTask.sync` and `batch:submitJob.sync` start tasks and jobs in moto, the
//! AWS executor test double runs the REAL runner for each with the command and environment the
//! state machine gave it, `aws-sdk:s3:getObject` reads the runner's result back, and
//! `medallion sync` imports the executions into run history. A statically partitioned asset on
//! Batch runs as an array job, one child per key.
//!
//! Moto is started through `tests/support/moto_sfn_casing.py`, which restores the `PascalCase` ↔
//! boto casing of its interpreter's service integrations (without it moto 5.2.6 fails every
//! ECS and Batch state with `KeyError: 'Cluster'`; that file says why).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;

use crate::deploy::{json, medallion, workspace};
use crate::deploy_sync::{InterpretingMoto, execute, execute_with};
use crate::remote_aws::Setup;
use crate::support::aws_executor::{Executor, runtime, sdk_config};

/// Registers the task definition a Fargate launch of `project` registers (the deployed
/// state machine runs its latest revision), logging to `group`.
fn register_task_definition(moto: &str, project: &str, group: &str) {
    use aws_sdk_ecs::types::{
        Compatibility, ContainerDefinition, LogConfiguration, LogDriver, NetworkMode,
    };
    let ecs = aws_sdk_ecs::Client::new(&sdk_config(moto));
    let logs = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", group)
        .options("awslogs-region", "us-east-1")
        .options(
            "awslogs-stream-prefix",
            medallion::compute::aws::fargate::STREAM_PREFIX,
        )
        .build()
        .unwrap();
    let container = ContainerDefinition::builder()
        .name(medallion::compute::aws::fargate::CONTAINER)
        .image("medallion-runner:test")
        .essential(true)
        .memory(2048)
        .log_configuration(logs)
        .build();
    runtime()
        .block_on(
            ecs.register_task_definition()
                .family(medallion::compute::deploy::asl::task_family(project))
                .network_mode(NetworkMode::Awsvpc)
                .requires_compatibilities(Compatibility::Fargate)
                .cpu("1024")
                .memory("2048")
                .container_definitions(container)
                .send(),
        )
        .unwrap();
}

/// The example in moto's interpreter with its Lambda assets on Fargate and its EKS assets on
/// Batch: renamed `<tag>_<pid>`, its `medallion.toml` then passed through `edit`, imported into
/// a new workspace with the states and events roles, its task definition registered, ECS tasks
/// kept RUNNING until the executor stops them, and the Fargate and Batch executor doubles
/// running the real runner. The executors come first: they are dropped before moto.
struct OnContainers {
    fargate: Executor,
    batch: Executor,
    moto: InterpretingMoto,
    setup: Setup,
    _dir: tempfile::TempDir,
    name: String,
    ws: PathBuf,
    copy: PathBuf,
}

impl OnContainers {
    fn start(tag: &str, edit: impl FnOnce(String) -> String) -> Option<Self> {
        let moto = InterpretingMoto::start()?;
        let setup = Setup::new(&moto.url, tag);
        let dir = tempfile::tempdir().unwrap();
        let name = format!("{tag}_{}", std::process::id());
        let roles = "states_role_arn = \"arn:aws:iam::123456789012:role/medallion-states\"\nevents_role_arn = \"arn:aws:iam::123456789012:role/medallion-events\"\n";
        let (ws, copy) = workspace(
            dir.path(),
            &name,
            &format!("{}{roles}", setup.aws_toml(&moto.url)),
        );
        let toml = copy.join("medallion.toml");
        let text = std::fs::read_to_string(&toml)
            .unwrap()
            .replace("tier = \"lambda\"", "tier = \"fargate\"")
            .replace("tier = \"eks\"", "tier = \"batch\"");
        std::fs::write(&toml, edit(text)).unwrap();
        register_task_definition(&moto.url, &name, &setup.log_group);
        // Moto advances a task one state (RUNNING → DEACTIVATING → … → STOPPED) at every
        // DescribeTasks, so the interpreter's polling would stop it before its container ran:
        // here a task stays RUNNING until the executor stops it, as Fargate stops a task when
        // its container exits.
        runtime().block_on(async {
            let status = reqwest::Client::new()
                .post(format!("{}/moto-api/state-manager/set-transition", moto.url))
                .body(r#"{"model_name":"ecs::task","transition":{"progression":"manual","times":1000000}}"#)
                .send()
                .await
                .unwrap()
                .status();
            assert!(status.is_success(), "{status}");
        });
        let fargate = Executor::fargate(&moto.url, &setup.cluster);
        fargate.stop_tasks.store(true, Ordering::SeqCst);
        let batch = Executor::batch(&moto.url, &setup.job_queue, &setup.batch_log_group);
        *moto.front.batch_ran.lock().unwrap() = Some(batch.ran.clone());
        Some(Self {
            fargate,
            batch,
            moto,
            setup,
            _dir: dir,
            name,
            ws,
            copy,
        })
    }
}

/// The state names an execution entered, for a step that runs and is checked.
fn checked(step: &str) -> [String; 3] {
    [
        format!("Run {step}"),
        format!("Result {step}"),
        format!("Check {step}"),
    ]
}

/// The example with its Lambda assets on Fargate and its EKS assets on Batch, deployed into
/// moto; executions run the real runner in the executor doubles; a blocking check that fails
/// fails the next execution naming the check; `medallion sync` imports both.
#[test]
fn fargate_and_batch_steps_run_in_motos_interpreter_and_sync_into_history() {
    let Some(on) = OnContainers::start("deployct", |text| text) else {
        return;
    };
    let OnContainers {
        fargate,
        batch,
        moto,
        setup,
        _dir,
        name,
        ws,
        copy,
    } = on;

    let deployed = json(&medallion(
        &ws,
        &["deploy", copy.to_str().unwrap(), "--format", "json"],
    ));
    let steps: Vec<(&str, &str)> = deployed["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["tier"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [("s1-fargate", "fargate"), ("s2-batch", "batch")],
        "{deployed}"
    );
    let arn = deployed["state_machine_arn"].as_str().unwrap().to_owned();

    // An execution started by hand may carry any input: a key of the user's named `error`
    // must not be taken for a caught failure.
    let (status, error, cause, entered) = execute_with(
        &moto.url,
        &arn,
        "nightly-1",
        r#"{"trigger":"test","error":"a key of the user's"}"#,
    );
    assert_eq!(
        status,
        "SUCCEEDED",
        "{error:?} {cause:?} {entered:?}; Fargate ran {:?}, Batch ran {:?}; events: {}",
        fargate.ran.lock().unwrap(),
        batch.ran.lock().unwrap(),
        history(&moto.url, &arn, "nightly-1")
    );
    let mut expected: Vec<String> = checked("s1-fargate").into();
    expected.extend(checked("s2-batch"));
    expected.push("Succeeded".to_owned());
    assert_eq!(entered, expected);

    // Each step ran once, as the real runner, with the state machine's command.
    let tasks = fargate.wait_ran(1, Duration::from_secs(5));
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].exit_code, Some(0), "{tasks:?}");
    assert!(tasks[0].lines > 0, "{tasks:?}");
    let jobs = batch.wait_ran(1, Duration::from_secs(5));
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].exit_code, Some(0), "{jobs:?}");
    let prefix = "lake/ca";
    for step in ["s1-fargate", "s2-batch"] {
        let key = format!("{prefix}/_runs/nightly-1/{step}/result-0.json");
        let result: Value = serde_json::from_slice(
            &bucket_object(&moto.url, &setup.bucket, &key)
                .unwrap_or_else(|| panic!("no result of {step}")),
        )
        .unwrap();
        assert_eq!(result["run_id"], "nightly-1", "{result}");
        assert_eq!(result["status"], "success", "{result}");
    }
    assert!(
        bucket_object(
            &moto.url,
            &setup.bucket,
            &format!("{prefix}/daily_revenue/_/nightly-1.parquet")
        )
        .is_some(),
        "the Batch step wrote no daily_revenue for the execution"
    );

    fail_on_fargate_then_sync(&moto, &setup, (&ws, &copy), &name, &arn);
    a_running_execution_holds_the_cursor(&moto.url, &ws, &name, &arn, &fargate);
    drop((fargate, batch));
}

/// An execution still running when `sync` runs is listed as running and imported by a later
/// sync: the cursor stays at it. The sync during it lists from the newest execution before it
/// (nightly-2: `already` 1); the one after lists from it (`already` 0: nightly-1 and nightly-2
/// are not listed again).
fn a_running_execution_holds_the_cursor(
    moto: &str,
    ws: &Path,
    name: &str,
    arn: &str,
    fargate: &Executor,
) {
    let rt = runtime();
    let sfn = aws_sdk_sfn::Client::new(&sdk_config(moto));
    fargate.hold.store(true, Ordering::SeqCst);
    let started = rt
        .block_on(
            sfn.start_execution()
                .state_machine_arn(arn)
                .name("nightly-3")
                .input(r#"{"trigger":"test"}"#)
                .send(),
        )
        .unwrap();
    let during = json(&medallion(ws, &["sync", name, "--format", "json"]));
    assert_eq!(
        during["running"],
        serde_json::json!(["nightly-3"]),
        "{during}"
    );
    assert_eq!(during["imported"], serde_json::json!([]), "{during}");
    fargate.hold.store(false, Ordering::SeqCst);
    let waited = std::time::Instant::now();
    loop {
        let d = rt
            .block_on(
                sfn.describe_execution()
                    .execution_arn(started.execution_arn())
                    .send(),
            )
            .unwrap();
        if d.status() != &aws_sdk_sfn::types::ExecutionStatus::Running {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_mins(3),
            "nightly-3 never ended"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let after = json(&medallion(ws, &["sync", name, "--format", "json"]));
    let imported: Vec<&str> = after["imported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(imported, ["nightly-3"], "{after}");
    assert_eq!(after["already"], 0, "{after}");
    assert_eq!(during["already"], 1, "{during}");
    assert_ne!(during["listed_from"], Value::Null, "{during}");
    assert_ne!(after["listed_from"], during["listed_from"], "{after}");
}

/// The event types of execution `name` of state machine `arn` (for failure messages).
fn history(moto: &str, arn: &str, name: &str) -> String {
    let sfn = aws_sdk_sfn::Client::new(&sdk_config(moto));
    let execution = format!("{}:{name}", arn.replace(":stateMachine:", ":execution:"));
    let events = runtime()
        .block_on(sfn.get_execution_history().execution_arn(execution).send())
        .map(|h| h.events().to_vec())
        .unwrap_or_default();
    events
        .iter()
        .map(|e| format!("{:?}", e.r#type()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An object of `bucket` (the setup's own bucket, not the shared lake).
fn bucket_object(moto: &str, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config(moto))
            .force_path_style(true)
            .build(),
    );
    runtime().block_on(async {
        let o = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
        Some(o.body.collect().await.ok()?.into_bytes().to_vec())
    })
}

/// The rest of the test above: a blocking check of the Fargate step fails, then the sync.
fn fail_on_fargate_then_sync(
    moto: &InterpretingMoto,
    setup: &Setup,
    (ws, copy): (&Path, &Path),
    name: &str,
    arn: &str,
) {
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
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    // The step plans change (each carries the project's checks); nothing else does.
    assert!(
        changed.contains(&"_deploy/s1-fargate/plan.json".to_owned())
            && changed
                .iter()
                .all(|c| c.starts_with("_deploy/s") && c.ends_with("/plan.json")),
        "{changed:?}"
    );

    let (status, error, cause, entered) = execute(&moto.url, arn, "nightly-2");
    assert_eq!(status, "FAILED", "{entered:?}");
    assert_eq!(error.as_deref(), Some("Medallion.StepFailed"));
    let cause = cause.unwrap_or_default();
    assert!(cause.contains("order_history_not_empty"), "{cause}");
    let mut expected: Vec<String> = checked("s1-fargate").into();
    expected.push("Blocked s1-fargate".to_owned());
    assert_eq!(entered, expected);
    let failed: Value = serde_json::from_slice(
        &bucket_object(
            &moto.url,
            &setup.bucket,
            "lake/ca/_runs/nightly-2/s1-fargate/result-0.json",
        )
        .expect("the failed step's result"),
    )
    .unwrap();
    assert_eq!(failed["status"], "failure", "{failed}");

    let synced = json(&medallion(ws, &["sync", name, "--format", "json"]));
    let imported: Vec<(&str, &str)> = synced["imported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["run_id"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(imported.len(), 2, "{synced}");
    assert!(imported.contains(&("nightly-1", "success")), "{synced}");
    assert!(imported.contains(&("nightly-2", "failure")), "{synced}");

    let w = medallion::app::open_workspace(ws).unwrap();
    let ok = w.run(&"nightly-1".into()).unwrap();
    assert_eq!(ok.status, medallion::model::RunStatus::Success, "{ok:?}");
    let bad = w.run(&"nightly-2".into()).unwrap();
    assert_eq!(bad.status, medallion::model::RunStatus::Failure);
    let why = bad.error.unwrap_or_default();
    assert!(why.contains("order_history_not_empty"), "{why}");
    assert!(why.contains("s1-fargate"), "{why}");
    let checks = w.run_check_results(&"nightly-2".into()).unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c.check_name == "order_history_not_empty" && !c.passed),
        "{checks:?}"
    );
    // The Batch step's materializations are the first execution's (the second stopped before
    // it; order_history, whose check failed, was still written by the second).
    let latest = w.latest_materializations(name).unwrap();
    for asset in ["customer_lifetime_value", "daily_revenue"] {
        let m = latest
            .iter()
            .find(|m| m.asset.as_str() == asset)
            .unwrap_or_else(|| panic!("{asset} not materialized: {latest:?}"));
        assert_eq!(m.run_id.as_str(), "nightly-1", "{m:?}");
    }
    // Costs of every asset, from what the Fargate and Batch steps measured.
    let costs = medallion::app::plan::run_costs(&w, &"nightly-1".into()).unwrap();
    assert_eq!(costs.len(), 6, "{costs:?}");
    assert!(
        costs.iter().all(|c| c.actual_duration_secs.is_some()),
        "{costs:?}"
    );
}

/// A statically partitioned asset on Batch is deployed as an array job over every key: moto's
/// interpreter submits it with `ArrayProperties.Size` 2, the executor double runs the real
/// runner once per child (`AWS_BATCH_JOB_ARRAY_INDEX` 0 and 1), each child writes its partition
/// and its result, the execution succeeds, and `sync` imports it with both partitions.
#[test]
fn a_partitioned_batch_step_runs_as_an_array_job_in_motos_interpreter() {
    // daily_revenue partitioned by two static keys (its unit test then names one).
    let Some(on) = OnContainers::start("deployarr", |text| {
        format!(
            "{}\n[assets.daily_revenue.partitions]\nkind = \"static\"\nkeys = [\"eu\", \"us\"]\n",
            text.replace(
                "name = \"revenue_per_order_date\"\n",
                "name = \"revenue_per_order_date\"\npartition = \"eu\"\n",
            )
        )
    }) else {
        return;
    };
    let OnContainers {
        fargate,
        batch,
        moto,
        setup,
        _dir,
        name,
        ws,
        copy,
    } = on;
    let rt = runtime();

    let deployed = json(&medallion(
        &ws,
        &["deploy", copy.to_str().unwrap(), "--format", "json"],
    ));
    let steps: Vec<(&str, &str, Vec<&str>)> = deployed["plan"]["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("{deployed}"))
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap(),
                s["tier"].as_str().unwrap(),
                s["assets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    let step = steps
        .iter()
        .find(|s| s.2 == ["daily_revenue"])
        .unwrap_or_else(|| panic!("daily_revenue has no step of its own: {steps:?}"));
    assert_eq!(step.1, "batch", "{steps:?}");
    let step = step.0.to_owned();
    let arn = deployed["state_machine_arn"].as_str().unwrap().to_owned();
    let definition: Value = {
        let sfn = aws_sdk_sfn::Client::new(&sdk_config(&moto.url));
        let d = rt
            .block_on(sfn.describe_state_machine().state_machine_arn(&arn).send())
            .unwrap();
        serde_json::from_str(d.definition()).unwrap()
    };
    assert_eq!(
        definition["States"][format!("Run {step}")]["Parameters"]["ArrayProperties"]["Size"],
        2,
        "{definition}"
    );

    let (status, error, cause, entered) = execute(&moto.url, &arn, "nightly-1");
    assert_eq!(
        status,
        "SUCCEEDED",
        "{error:?} {cause:?} {entered:?}; Batch ran {:?}; events: {}",
        batch.ran.lock().unwrap(),
        history(&moto.url, &arn, "nightly-1")
    );
    assert!(entered.contains(&format!("Run {step}")), "{entered:?}");
    let jobs = batch.wait_ran(3, Duration::from_secs(5));
    let children: Vec<&str> = jobs
        .iter()
        .filter(|j| j.id.contains(':'))
        .map(|j| j.id.rsplit(':').next().unwrap())
        .collect();
    assert_eq!(children, ["0", "1"], "{jobs:?}");
    assert!(jobs.iter().all(|j| j.exit_code == Some(0)), "{jobs:?}");
    let prefix = "lake/ca";
    for (index, key) in [(0, "eu"), (1, "us")] {
        let result: Value = serde_json::from_slice(
            &bucket_object(
                &moto.url,
                &setup.bucket,
                &format!("{prefix}/_runs/nightly-1/{step}/result-{index}.json"),
            )
            .unwrap_or_else(|| panic!("no result of child {index}")),
        )
        .unwrap();
        assert_eq!(result["status"], "success", "{result}");
        assert!(
            bucket_object(
                &moto.url,
                &setup.bucket,
                &format!("{prefix}/daily_revenue/{key}/nightly-1.parquet")
            )
            .is_some(),
            "no daily_revenue partition {key}"
        );
    }

    let synced = json(&medallion(&ws, &["sync", &name, "--format", "json"]));
    let imported: Vec<(&str, &str)> = synced["imported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["run_id"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(imported, [("nightly-1", "success")], "{synced}");
    let w = medallion::app::open_workspace(&ws).unwrap();
    let latest = w.latest_materializations(&name).unwrap();
    let mut parts: Vec<Option<String>> = latest
        .iter()
        .filter(|m| m.asset.as_str() == "daily_revenue")
        .map(|m| m.partition.clone())
        .collect();
    parts.sort();
    assert_eq!(
        parts,
        [Some("eu".to_owned()), Some("us".to_owned())],
        "{latest:?}"
    );
    a_failing_partition_fails_the_execution(&moto.url, &setup, (&ws, &copy), &name, &arn, &step);
    drop((fargate, batch));
}

/// The rest of the test above: `daily_revenue` has rows only in partition `eu`, and a blocking
/// row-count check. Moto's Batch marks the array job succeeded whatever its children's exits,
/// so only the children's results can tell: the execution fails naming the check and the
/// partition (`us`, child 1), and `sync` imports it as failed with the check's result.
fn a_failing_partition_fails_the_execution(
    moto: &str,
    setup: &Setup,
    (ws, copy): (&Path, &Path),
    name: &str,
    arn: &str,
    step: &str,
) {
    let sql = copy.join("sql/daily_revenue.sql");
    let text = std::fs::read_to_string(&sql).unwrap();
    std::fs::write(
        &sql,
        text.replace(
            "FROM order_history\n",
            "FROM order_history\nWHERE '{partition}' = 'eu'\n",
        ),
    )
    .unwrap();
    let toml = copy.join("medallion.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!(
            "{text}\n[[assets.daily_revenue.checks]]\nname = \"daily_revenue_not_empty\"\nkind = \"row_count\"\nmin = 1\ndescription = \"Row count > 0\"\nseverity = \"error\"\nblocking = true\n"
        ),
    )
    .unwrap();
    let redeployed = json(&medallion(
        ws,
        &["deploy", copy.to_str().unwrap(), "--format", "json"],
    ));
    assert!(
        crate::deploy::changes(&redeployed)
            .iter()
            .any(|c| c["name"] == format!("_deploy/{step}/plan.json")),
        "{redeployed}"
    );

    let (status, error, cause, entered) = execute(moto, arn, "nightly-2");
    assert_eq!(
        status,
        "FAILED",
        "{error:?} {cause:?} {entered:?}; events: {}",
        history(moto, arn, "nightly-2")
    );
    assert_eq!(error.as_deref(), Some("Medallion.StepFailed"), "{cause:?}");
    let cause = cause.unwrap_or_default();
    assert!(cause.contains("daily_revenue_not_empty"), "{cause}");
    assert!(cause.contains("partition us"), "{cause}");
    assert!(entered.contains(&format!("Blocked {step}")), "{entered:?}");
    assert!(!entered.contains(&"Succeeded".to_owned()), "{entered:?}");
    for (index, expected) in [(0, "success"), (1, "failure")] {
        let result: Value = serde_json::from_slice(
            &bucket_object(
                moto,
                &setup.bucket,
                &format!("lake/ca/_runs/nightly-2/{step}/result-{index}.json"),
            )
            .unwrap_or_else(|| panic!("no result of child {index}")),
        )
        .unwrap();
        assert_eq!(result["status"], expected, "{result}");
    }

    let synced = json(&medallion(ws, &["sync", name, "--format", "json"]));
    let imported = synced["imported"].as_array().unwrap();
    assert_eq!(imported.len(), 1, "{synced}");
    assert_eq!(imported[0]["run_id"], "nightly-2", "{synced}");
    assert_eq!(imported[0]["status"], "failure", "{synced}");
    let why = imported[0]["error"].as_str().unwrap_or_default();
    assert!(why.contains("daily_revenue_not_empty"), "{why}");
    assert!(why.contains("partition us"), "{why}");
    assert!(why.contains(step), "{why}");
    let w = medallion::app::open_workspace(ws).unwrap();
    let checks = w.run_check_results(&"nightly-2".into()).unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c.check_name == "daily_revenue_not_empty" && !c.passed),
        "{checks:?}"
    );
    // The CLI's history shows it failed, never success.
    let runs = json(&medallion(ws, &["runs", name, "--format", "json"]));
    let listed: Vec<(&str, &str)> = runs
        .as_array()
        .unwrap_or_else(|| panic!("{runs}"))
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(listed.contains(&("nightly-2", "failure")), "{runs}");
    assert!(listed.contains(&("nightly-1", "success")), "{runs}");
}
