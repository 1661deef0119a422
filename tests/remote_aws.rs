//! Remote runs against a moto server, with the executor test double (`support/aws_executor.rs`)
//! playing AWS's compute: the example project on Fargate end to end with the SPEC §8
//! checksums read back from S3, a failing runner, cancel (`StopTask`), and a run that survives
//! its app process being killed. Each test uses its own bucket, cluster and log group, so tests
//! share one moto server without resets.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use sha2::{Digest, Sha256};
use support::aws_executor::{Executor, runtime, sdk_config};

fn peers() -> Option<String> {
    if std::env::var("MEDALLION_TEST_PEERS").as_deref() != Ok("1") {
        eprintln!("peer test not run: tests/run starts moto and sets MEDALLION_TEST_PEERS=1");
        return None;
    }
    Some(
        std::env::var("MEDALLION_TEST_MOTO_URL").unwrap_or_else(|_| {
            panic!("MEDALLION_TEST_PEERS=1 but MEDALLION_TEST_MOTO_URL is not set: use tests/run")
        }),
    )
}

fn unique(prefix: &str) -> String {
    let n = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    format!("{prefix}-{}-{}", std::process::id(), n % 1_000_000_000)
}

/// Where a test's AWS things live.
struct Setup {
    moto: String,
    bucket: String,
    cluster: String,
    log_group: String,
    subnet: String,
    security_group: String,
    job_queue: String,
    job_definition: String,
    batch_log_group: String,
}

/// A query-API call to moto (EC2, IAM: services the app has no SDK client for).
fn moto_query(moto: &str, service: &str, body: &str) -> String {
    let rt = runtime();
    rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{moto}/"))
            .header(
                "Authorization",
                format!("AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=x"),
            )
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
}

fn first_tag(body: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = body
        .find(&open)
        .unwrap_or_else(|| panic!("no {tag} in {body}"))
        + open.len();
    let end = body[start..].find('<').unwrap() + start;
    body[start..end].to_owned()
}

/// Finds the default VPC's first subnet and security group through moto's EC2 query API.
fn ec2_first(moto: &str, action: &str, tag: &str) -> String {
    first_tag(
        &moto_query(moto, "ec2", &format!("Action={action}&Version=2016-11-15")),
        tag,
    )
}

fn post_json(url: &str, body: &str) {
    let rt = runtime();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(url)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "{url}: {status}");
}

impl Setup {
    fn new(moto: &str, name: &str) -> Self {
        let s = Self {
            moto: moto.to_owned(),
            bucket: unique(&format!("medallion-{name}")),
            cluster: unique(&format!("cluster-{name}")),
            log_group: format!("/medallion/{}", unique(name)),
            subnet: ec2_first(moto, "DescribeSubnets", "subnetId"),
            security_group: ec2_first(moto, "DescribeSecurityGroups", "groupId"),
            job_queue: unique(&format!("queue-{name}")),
            job_definition: unique(&format!("jobdef-{name}")),
            batch_log_group: format!("/aws/batch/{}", unique(name)),
        };
        let rt = runtime();
        let config = sdk_config(moto);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        rt.block_on(s3.create_bucket().bucket(&s.bucket).send())
            .unwrap();
        rt.block_on(
            aws_sdk_ecs::Client::new(&config)
                .create_cluster()
                .cluster_name(&s.cluster)
                .send(),
        )
        .unwrap();
        rt.block_on(
            aws_sdk_cloudwatchlogs::Client::new(&config)
                .create_log_group()
                .log_group_name(&s.log_group)
                .send(),
        )
        .unwrap();
        rt.block_on(
            aws_sdk_cloudwatchlogs::Client::new(&config)
                .create_log_group()
                .log_group_name(&s.batch_log_group)
                .send(),
        )
        .unwrap();
        // Batch: jobs run nowhere (the executor plays them); a service role must exist.
        post_json(
            &format!("{moto}/moto-api/config"),
            r#"{"batch":{"use_docker":false}}"#,
        );
        let role = first_tag(
            &moto_query(
                moto,
                "iam",
                &format!(
                    "Action=CreateRole&Version=2010-05-08&RoleName={}&AssumeRolePolicyDocument=%7B%7D",
                    unique("batch-service")
                ),
            ),
            "Arn",
        );
        let batch = aws_sdk_batch::Client::new(&config);
        let ce = rt
            .block_on(
                batch
                    .create_compute_environment()
                    .compute_environment_name(unique(&format!("ce-{name}")))
                    .r#type(aws_sdk_batch::types::CeType::Unmanaged)
                    .state(aws_sdk_batch::types::CeState::Enabled)
                    .service_role(role)
                    .send(),
            )
            .unwrap();
        rt.block_on(
            batch
                .create_job_queue()
                .job_queue_name(&s.job_queue)
                .state(aws_sdk_batch::types::JqState::Enabled)
                .priority(1)
                .compute_environment_order(
                    aws_sdk_batch::types::ComputeEnvironmentOrder::builder()
                        .order(1)
                        .compute_environment(ce.compute_environment_arn().unwrap())
                        .build(),
                )
                .send(),
        )
        .unwrap();
        rt.block_on(
            batch
                .register_job_definition()
                .job_definition_name(&s.job_definition)
                .r#type(aws_sdk_batch::types::JobDefinitionType::Container)
                .container_properties(
                    aws_sdk_batch::types::ContainerProperties::builder()
                        .image("medallion-runner:test")
                        .resource_requirements(
                            aws_sdk_batch::types::ResourceRequirement::builder()
                                .r#type(aws_sdk_batch::types::ResourceType::Vcpu)
                                .value("1")
                                .build(),
                        )
                        .resource_requirements(
                            aws_sdk_batch::types::ResourceRequirement::builder()
                                .r#type(aws_sdk_batch::types::ResourceType::Memory)
                                .value("2048")
                                .build(),
                        )
                        .command("runner")
                        .build(),
                )
                .send(),
        )
        .unwrap();
        s
    }

    /// The `aws` resource of this setup, as project TOML.
    fn aws_toml(&self) -> String {
        format!(
            r#"
[resources.aws]
kind = "aws"
region = "us-east-1"
endpoint_url = "{moto}"

[resources.aws.compute]
bucket = "{bucket}"
prefix = "lake/ca"
image = "medallion-runner:test"
cluster = "{cluster}"
subnets = ["{subnet}"]
security_groups = ["{sg}"]
execution_role_arn = "arn:aws:iam::123456789012:role/medallion-exec"
task_role_arn = "arn:aws:iam::123456789012:role/medallion-task"
log_group = "{group}"
job_queue = "{queue}"
job_definition = "{jobdef}"
batch_log_group = "{batch_group}"
"#,
            moto = self.moto,
            bucket = self.bucket,
            cluster = self.cluster,
            subnet = self.subnet,
            sg = self.security_group,
            group = self.log_group,
            queue = self.job_queue,
            jobdef = self.job_definition,
            batch_group = self.batch_log_group,
        )
    }

    /// A copy of a project under `tests/fixtures` or `projects/` with this setup's resource.
    fn copy_project(&self, from: &Path, dir: &Path) -> PathBuf {
        let to = dir.join(from.file_name().unwrap());
        copy_dir(from, &to);
        let toml = to.join("medallion.toml");
        let mut text = std::fs::read_to_string(&toml).unwrap();
        text.push_str(&self.aws_toml());
        std::fs::write(&toml, text).unwrap();
        to
    }

    /// A copy of the example project with an `aws` resource pointing at this setup.
    fn project(&self, dir: &Path) -> PathBuf {
        self.copy_project(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics"),
            dir,
        )
    }

    fn get(&self, uri: &str) -> Vec<u8> {
        let (bucket, key) = uri.strip_prefix("s3://").unwrap().split_once('/').unwrap();
        let rt = runtime();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk_config(&self.moto))
                .force_path_style(true)
                .build(),
        );
        rt.block_on(async {
            s3.get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes()
                .to_vec()
        })
    }

    fn describe_task(&self, arn: &str) -> aws_sdk_ecs::types::Task {
        let rt = runtime();
        let ecs = aws_sdk_ecs::Client::new(&sdk_config(&self.moto));
        rt.block_on(
            ecs.describe_tasks()
                .cluster(&self.cluster)
                .tasks(arn)
                .include(aws_sdk_ecs::types::TaskField::Tags)
                .send(),
        )
        .unwrap()
        .tasks()[0]
            .clone()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn medallion_cmd(ws: &Path, moto: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_medallion"));
    c.args(args)
        .env("MEDALLION_WORKSPACE", ws)
        .env("MEDALLION_REMOTE_POLL_MS", "300")
        .env("MEDALLION_REMOTE_RESULT_GRACE_SECS", "120")
        .env_remove("MEDALLION_LOG")
        .envs(support::aws_executor::container_env(moto));
    c
}

fn medallion(ws: &Path, moto: &str, args: &[&str]) -> Output {
    medallion_cmd(ws, moto, args)
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

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn sha256(path: &Path) -> String {
    medallion::engine::hex(&Sha256::digest(std::fs::read(path).unwrap()))
}

/// The gold outputs of a run, read back from S3, have the SPEC §8 checksums.
fn assert_gold_checksums(setup: &Setup, report: &serde_json::Value, tmp: &Path) {
    let out = tmp.join("out");
    for (asset, expected) in [
        (
            "customer_lifetime_value",
            "c570c455363472f2fa7159acca9adb18f7ec2e065045d4cf29209653180f9760",
        ),
        (
            "daily_revenue",
            "cbfeec8f97f2ce17638a7b58a110711630fc4767f48acf10ca67e9277ecf86d7",
        ),
    ] {
        let m = report["materializations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["asset"] == asset)
            .unwrap_or_else(|| panic!("no materialization of {asset}"))
            .clone();
        let location = m["location"].as_str().unwrap().to_owned();
        assert!(
            location.starts_with(&format!("s3://{}/lake/ca/{asset}/_/", setup.bucket)),
            "{location}"
        );
        let local = tmp.join(format!("{asset}.download.parquet"));
        std::fs::write(&local, setup.get(&location)).unwrap();
        let mut m: medallion::model::AssetMaterialization = serde_json::from_value(m).unwrap();
        m.location = local.to_string_lossy().into_owned();
        let (_, csv) = medallion::engine::export_materialization(&m, &out, Some(2)).unwrap();
        assert_eq!(sha256(&csv), expected, "{asset}");
    }
}

#[test]
fn the_example_project_materializes_on_fargate_with_the_spec_checksums() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "e2e");
    let executor = Executor::fargate(&moto, &setup.cluster);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.project(tmp.path());
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(
        &ws,
        &moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--tier",
            "fargate",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "success", "{report:#}");
    assert_eq!(report["target"], "aws:fargate");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "consecutive Fargate assets share one task");
    let step = &steps[0];
    assert_eq!(step["status"], "success");
    let task_arn = step["remote_id"].as_str().unwrap();
    assert!(task_arn.contains(":task/"), "{task_arn}");
    // Measured figures for the actual cost.
    assert!(step["duration_secs"].as_f64().unwrap() > 0.0);
    assert_eq!(step["vcpu"], 2.0);
    assert_eq!(step["memory_mb"], 8192);
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 4, "{checks:?}");
    assert!(checks.iter().all(|c| c["passed"] == true), "{checks:?}");
    let ran = executor.wait_ran(1, Duration::from_secs(5));
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].id, task_arn);
    assert_eq!(ran[0].exit_code, Some(0));
    assert_eq!(
        ran[0].log_stream,
        format!("medallion/runner/{}", task_arn.rsplit('/').next().unwrap())
    );

    // The task carries the run's tags and ran with the plan in its environment.
    let task = setup.describe_task(task_arn);
    let tags: Vec<(String, String)> = task
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    assert!(
        tags.contains(&("medallion:project".into(), "customer_analytics".into())),
        "{tags:?}"
    );
    assert!(
        tags.iter()
            .any(|(k, v)| k == "medallion:asset" && v.contains("daily_revenue"))
    );
    assert!(
        tags.iter()
            .any(|(k, v)| k == "medallion:run" && v == report["run_id"].as_str().unwrap())
    );

    assert_gold_checksums(&setup, &report, tmp.path());

    // The run is in the history, and its log came through CloudWatch Logs (the fixture's own
    // line proves the stream was tailed, not only the result read).
    let run_id = report["run_id"].as_str().unwrap();
    let runs = medallion(&ws, &moto, &["runs", "--format", "json"]);
    let runs = json(&runs);
    let listed = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == run_id)
        .unwrap();
    assert_eq!(listed["status"], "success");
    assert_eq!(listed["target"], "aws:fargate");
    let logs = medallion(&ws, &moto, &["logs", run_id]);
    assert_eq!(logs.status.code(), Some(0), "{}", text(&logs));
    let logs = text(&logs);
    assert!(logs.contains("fixture: container started"), "{logs}");
    assert!(
        logs.contains("check cleaned_customer_data_unique_customer_id passed"),
        "{logs}"
    );
    assert!(logs.contains("submitted to fargate"), "{logs}");
    // Every event once: six materializations, no repeats from logs and result.
    let events = medallion(&ws, &moto, &["logs", run_id, "--format", "json"]);
    let materializations = String::from_utf8_lossy(&events.stdout)
        .lines()
        .filter(|l| l.contains(r#""event":"materialization""#))
        .count();
    assert_eq!(materializations, 6);
    // The quality report works on the remote run like on a local one.
    let html = tmp.path().join("report.html");
    let o = medallion(
        &ws,
        &moto,
        &["report", run_id, "--html", html.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_failing_runner_fails_the_run_with_its_logs() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "fail");
    let executor = Executor::fargate(&moto, &setup.cluster);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.project(tmp.path());
    std::fs::write(
        dir.join("sql/daily_revenue.sql"),
        "SELECT order_date, no_such_column AS revenue FROM order_history\n",
    )
    .unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(
        &ws,
        &moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--tier",
            "fargate",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "failure");
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("s1-fargate"), "{error}");
    let ran = executor.wait_ran(1, Duration::from_secs(5));
    assert_eq!(ran[0].exit_code, Some(1), "the runner exits non-zero");
    let run_id = report["run_id"].as_str().unwrap();
    let logs = medallion(&ws, &moto, &["logs", run_id]);
    assert_eq!(logs.status.code(), Some(1));
    let logs = text(&logs);
    assert!(logs.contains("no_such_column"), "{logs}");
    assert!(logs.contains("daily_revenue: failed"), "{logs}");
}

#[test]
fn cancel_stops_the_fargate_task_with_a_reason() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "cancel");
    let executor = Executor::fargate(&moto, &setup.cluster);
    executor
        .hold
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.project(tmp.path());
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(
        &ws,
        &moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--tier",
            "fargate",
            "--detach",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(report["status"], "started");
    let arn = report["steps"][0]["remote_id"].as_str().unwrap().to_owned();
    let o = medallion(&ws, &moto, &["cancel", run_id, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let cancel = json(&o);
    assert_eq!(cancel["status"], "canceled");
    assert_eq!(cancel["stopped"][0], arn.as_str());
    let task = setup.describe_task(&arn);
    assert_eq!(task.last_status(), Some("STOPPED"));
    assert_eq!(task.stopped_reason(), Some("Canceled from Medallion"));
    let o = medallion(&ws, &moto, &["attach", run_id, "--format", "json"]);
    let after = json(&o);
    assert_eq!(after["status"], "canceled");
    assert_eq!(after["steps"][0]["status"], "canceled");
}

#[test]
fn a_run_survives_its_app_being_killed_and_attach_finishes_it() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "attach");
    let executor = Executor::fargate(&moto, &setup.cluster);
    executor
        .hold
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.project(tmp.path());
    let ws = tmp.path().join("ws.sqlite");
    let mut child = medallion_cmd(
        &ws,
        &moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--tier",
            "fargate",
            "--format",
            "json",
        ],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    // Wait until the task ARN is in the workspace, then kill the app.
    let start = std::time::Instant::now();
    let (run_id, arn) = loop {
        assert!(
            start.elapsed() < Duration::from_mins(1),
            "no task was stored"
        );
        std::thread::sleep(Duration::from_millis(200));
        let Ok(ws) = medallion::app::open_workspace(&ws) else {
            continue;
        };
        let Ok(runs) = medallion::app::run::list_runs(&ws, None, 5) else {
            continue;
        };
        let Some(run) = runs.first() else { continue };
        let Ok(Some(view)) = medallion::app::remote::view(&ws, &run.id) else {
            continue;
        };
        if let Some(arn) = view.steps.first().and_then(|s| s.remote_id.clone()) {
            break (run.id.clone(), arn);
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    executor
        .hold
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let o = medallion(&ws, &moto, &["attach", &run_id, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "success", "{report:#}");
    assert_eq!(report["steps"][0]["remote_id"], arn.as_str());
    assert_eq!(report["materializations"].as_array().unwrap().len(), 6);
    let ran = executor.wait_ran(1, Duration::from_secs(5));
    assert_eq!(
        ran.len(),
        1,
        "the task ran once: attach did not submit it again"
    );
}

#[test]
fn one_run_runs_each_step_on_its_tier() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "tiers");
    let _fargate = Executor::fargate(&moto, &setup.cluster);
    let batch = Executor::batch(&moto, &setup.job_queue, &setup.batch_log_group);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.project(tmp.path());
    // Bronze locally, silver on Fargate (the example's hints), gold on Batch.
    let toml = dir.join("medallion.toml");
    let hinted = std::fs::read_to_string(&toml)
        .unwrap()
        .replace(r#"tier = "lambda""#, r#"tier = "local""#)
        .replace(r#"tier = "eks""#, r#"tier = "batch""#);
    std::fs::write(&toml, hinted).unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(
        &ws,
        &moto,
        &["submit", dir.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "success", "{report:#}");
    assert_eq!(report["target"], "aws:batch+fargate+local");
    let steps: Vec<(String, String, usize)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["tier"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
                s["assets"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            ("local".to_owned(), "success".to_owned(), 2),
            ("fargate".to_owned(), "success".to_owned(), 2),
            ("batch".to_owned(), "success".to_owned(), 2),
        ]
    );
    // Gold on Batch at 2 vCPU / 8 GiB spot, from the hints.
    assert_eq!(report["steps"][2]["spot"], true);
    let ran = batch.wait_ran(1, Duration::from_secs(5));
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].id, report["steps"][2]["remote_id"].as_str().unwrap());
    assert_gold_checksums(&setup, &report, tmp.path());
    // Local bronze output went to S3 too, so the remote steps could read it.
    let raw = report["materializations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["asset"] == "raw_orders")
        .unwrap();
    assert!(
        raw["location"].as_str().unwrap().starts_with("s3://"),
        "{raw}"
    );
}

#[test]
fn a_backfill_is_one_batch_array_job() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "array");
    let executor = Executor::batch(&moto, &setup.job_queue, &setup.batch_log_group);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.copy_project(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/partitioned"),
        tmp.path(),
    );
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(
        &ws,
        &moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--tier",
            "batch",
            "--partition-range",
            "2024-01-01..2024-01-02",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "success", "{report:#}");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "one array job for the whole backfill");
    assert_eq!(
        steps[0]["partitions"],
        serde_json::json!(["2024-01-01", "2024-01-02"])
    );
    let job = steps[0]["remote_id"].as_str().unwrap();
    let ran = executor.wait_ran(2, Duration::from_secs(5));
    let mut children: Vec<&str> = ran.iter().map(|r| r.id.as_str()).collect();
    children.sort_unstable();
    assert_eq!(children, vec![format!("{job}:0"), format!("{job}:1")]);
    assert!(ran.iter().all(|r| r.exit_code == Some(0)));
    let run_id = report["run_id"].as_str().unwrap();
    let mut found: Vec<(String, String, u64)> = report["materializations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let location = m["location"].as_str().unwrap();
            let asset = m["asset"].as_str().unwrap();
            let partition = m["partition"].as_str().unwrap();
            assert_eq!(
                location,
                format!(
                    "s3://{}/lake/ca/{asset}/{partition}/{run_id}.parquet",
                    setup.bucket
                )
            );
            (
                asset.to_owned(),
                partition.to_owned(),
                m["row_count"].as_u64().unwrap(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("daily_totals".to_owned(), "2024-01-01".to_owned(), 1),
            ("daily_totals".to_owned(), "2024-01-02".to_owned(), 1),
            ("raw_events".to_owned(), "2024-01-01".to_owned(), 2),
            ("raw_events".to_owned(), "2024-01-02".to_owned(), 3),
        ]
    );
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    assert!(checks.iter().all(|c| c["passed"] == true));
    // Both children's log streams were tailed.
    let logs = text(&medallion(&ws, &moto, &["logs", run_id]));
    assert_eq!(
        logs.matches("fixture: container started").count(),
        2,
        "{logs}"
    );
}

#[test]
fn cancel_terminates_the_batch_job() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "bcancel");
    let executor = Executor::batch(&moto, &setup.job_queue, &setup.batch_log_group);
    executor
        .hold
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.project(tmp.path());
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(
        &ws,
        &moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--tier",
            "batch",
            "--detach",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    let run_id = report["run_id"].as_str().unwrap();
    let job = report["steps"][0]["remote_id"].as_str().unwrap().to_owned();
    let o = medallion(&ws, &moto, &["cancel", run_id, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json(&o)["status"], "canceled");
    let rt = runtime();
    let batch = aws_sdk_batch::Client::new(&sdk_config(&moto));
    let described = rt
        .block_on(batch.describe_jobs().jobs(&job).send())
        .unwrap();
    assert_eq!(
        described.jobs()[0].status_reason(),
        Some("Canceled from Medallion"),
        "TerminateJob reached Batch with the reason"
    );
}
