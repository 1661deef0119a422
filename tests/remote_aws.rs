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

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use sha2::{Digest, Sha256};
use support::aws_executor::{Executor, runtime, sdk_config};
use support::lambda_front::LambdaFront;

pub(crate) fn peers() -> Option<String> {
    crate::common::peers().then(|| {
        std::env::var("MEDALLION_TEST_MOTO_URL").unwrap_or_else(|_| {
            panic!("MEDALLION_TEST_PEERS=1 but MEDALLION_TEST_MOTO_URL is not set: use tests/run")
        })
    })
}

fn unique(prefix: &str) -> String {
    let n = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    format!("{prefix}-{}-{}", std::process::id(), n % 1_000_000_000)
}

/// Where a test's AWS things live.
pub(crate) struct Setup {
    moto: String,
    pub(crate) bucket: String,
    pub(crate) cluster: String,
    pub(crate) log_group: String,
    subnet: String,
    security_group: String,
    pub(crate) job_queue: String,
    job_definition: String,
    pub(crate) batch_log_group: String,
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
    pub(crate) fn new(moto: &str, name: &str) -> Self {
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
    pub(crate) fn aws_toml(&self, endpoint: &str) -> String {
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
lambda_function = "medallion-runner"
"#,
            moto = endpoint,
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
        self.copy_project_via(from, dir, &self.moto)
    }

    /// The same, with the AWS endpoint at `endpoint` (a test double in front of moto).
    pub(crate) fn copy_project_via(&self, from: &Path, dir: &Path, endpoint: &str) -> PathBuf {
        let to = dir.join(from.file_name().unwrap());
        copy_dir(from, &to);
        let toml = to.join("medallion.toml");
        let mut text = std::fs::read_to_string(&toml).unwrap();
        text.push_str(&self.aws_toml(endpoint));
        std::fs::write(&toml, text).unwrap();
        to
    }

    /// A copy of the example project with an `aws` resource pointing at this setup.
    pub(crate) fn project(&self, dir: &Path) -> PathBuf {
        self.copy_project(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics"),
            dir,
        )
    }

    pub(crate) fn get(&self, uri: &str) -> Vec<u8> {
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

pub(crate) fn medallion(ws: &Path, moto: &str, args: &[&str]) -> Output {
    medallion_cmd(ws, moto, args)
        .output()
        .expect("run medallion")
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub(crate) fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn sha256(path: &Path) -> String {
    medallion::engine::hex(&Sha256::digest(std::fs::read(path).unwrap()))
}

/// The gold outputs of a run, read back from S3, have the SPEC §8 checksums.
pub(crate) fn assert_gold_checksums(setup: &Setup, report: &serde_json::Value, tmp: &Path) {
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
    // Estimate (from the planner, at submit) and actual cost (measured seconds on the step's
    // size) sit side by side for every asset of the run.
    let costs = medallion(
        &ws,
        &moto,
        &[
            "costs",
            "customer_analytics",
            "--run",
            run_id,
            "--format",
            "json",
        ],
    );
    assert_eq!(costs.status.code(), Some(0), "{}", text(&costs));
    let costs = json(&costs);
    let rows = costs.as_array().unwrap();
    assert_eq!(rows.len(), 6, "{costs:#}");
    for row in rows {
        assert_eq!(row["tier"], "fargate", "{row:#}");
        let est = row["est_cost_usd"].as_f64().unwrap();
        let actual = row["actual_cost_usd"].as_f64().unwrap();
        assert!(est > 0.0 && actual > 0.0, "{row:#}");
        assert!(
            row["actual_duration_secs"].as_f64().unwrap() > 0.0,
            "{row:#}"
        );
    }
    assert!(
        logs.contains("cost $"),
        "the run's log says what the step cost: {logs}"
    );
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
fn a_hint_over_a_tier_limit_is_refused_before_anything_is_submitted() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "limit");
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.project(tmp.path());
    // order_history asks for Fargate; 200 GB is over Fargate's largest task (120 GB). The
    // project itself is valid: only the planner knows the tiers' sizes.
    let toml = dir.join("medallion.toml");
    let hinted = std::fs::read_to_string(&toml).unwrap().replacen(
        "memory_mb = 8192",
        "memory_mb = 204800",
        1,
    );
    std::fs::write(&toml, hinted).unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(&ws, &moto, &["submit", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("order_history") && out.contains("Fargate cannot run this"),
        "{out}"
    );
    let runs = json(&medallion(&ws, &moto, &["runs", "--format", "json"]));
    assert!(
        runs.as_array().unwrap().is_empty(),
        "nothing was recorded: {runs:#}"
    );
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

#[test]
fn the_example_project_materializes_on_lambda_synchronously() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "lambda");
    let front = LambdaFront::start(&moto);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.copy_project_via(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics"),
        tmp.path(),
        &front.url,
    );
    // Short timeouts: the step is invoked synchronously.
    let toml = dir.join("medallion.toml");
    let short = std::fs::read_to_string(&toml)
        .unwrap()
        .replace("timeout_secs = 300", "timeout_secs = 20");
    std::fs::write(&toml, short).unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(
        &ws,
        &moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--tier",
            "lambda",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "success", "{report:#}");
    let step = &report["steps"][0];
    let id = step["remote_id"].as_str().unwrap();
    let run_id = report["run_id"].as_str().unwrap();
    assert!(id.starts_with("sync:req-"), "{id}");
    assert!(id.ends_with(&format!(":ok|{run_id}|s1-lambda")), "{id}");
    let invocations = front.invocations.lock().unwrap().clone();
    assert_eq!(invocations.len(), 1);
    assert_eq!(invocations[0].function, "medallion-runner");
    assert!(!invocations[0].asynchronous);
    let response: serde_json::Value = serde_json::from_str(&invocations[0].response).unwrap();
    assert_eq!(response["status"], "success");
    assert_gold_checksums(&setup, &report, tmp.path());
    assert_eq!(report["checks"].as_array().unwrap().len(), 4);
}

#[test]
fn a_long_lambda_step_is_invoked_asynchronously_and_its_result_polled() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "lasync");
    let front = LambdaFront::start(&moto);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.copy_project_via(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/partitioned"),
        tmp.path(),
        &front.url,
    );
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(
        &ws,
        &moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--tier",
            "lambda",
            "--partition",
            "2024-01-02",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "success", "{report:#}");
    let id = report["steps"][0]["remote_id"].as_str().unwrap();
    assert!(id.starts_with("async:req-"), "{id}");
    let invocations = front.invocations.lock().unwrap().clone();
    assert_eq!(invocations.len(), 1);
    assert!(invocations[0].asynchronous);
    let rows: Vec<u64> = report["materializations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["row_count"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, vec![3, 1]);
    // The step's lines were tailed from the function's log group while it ran: a log
    // position was stored with them.
    let run_id = medallion::model::RunId::from(report["run_id"].as_str().unwrap());
    let w = medallion::app::open_workspace(&ws).unwrap();
    let log = w.remote_child_log(&run_id, 0, 0).unwrap();
    assert!(log.log_position.is_some(), "{log:?}");
    assert!(log.done);
    let events = medallion::app::remote::events(&w, &run_id).unwrap();
    let materializations = events
        .iter()
        .filter(|e| matches!(e, medallion::model::RunEvent::Materialization(_)))
        .count();
    assert_eq!(
        materializations, 2,
        "each event once, from the log or the result"
    );
}

#[test]
fn throttled_run_task_calls_are_retried() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "throttle");
    let executor = Executor::fargate(&moto, &setup.cluster);
    let front = LambdaFront::start(&moto);
    front
        .throttle_run_task
        .store(3, std::sync::atomic::Ordering::SeqCst);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.copy_project_via(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/partitioned"),
        tmp.path(),
        &front.url,
    );
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(
        &ws,
        &moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--tier",
            "fargate",
            "--partition",
            "2024-01-01",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json(&o)["status"], "success");
    assert_eq!(front.throttled.load(std::sync::atomic::Ordering::SeqCst), 3);
    let ran = executor.wait_ran(1, Duration::from_secs(5));
    assert_eq!(ran.len(), 1, "retries started exactly one task");
}

#[test]
fn check_aws_setup_says_precisely_what_is_missing() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "check");
    let exec_role = unique("medallion-exec");
    first_tag(
        &moto_query(
            &moto,
            "iam",
            &format!(
                "Action=CreateRole&Version=2010-05-08&RoleName={exec_role}&AssumeRolePolicyDocument=%7B%7D"
            ),
        ),
        "Arn",
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.project(tmp.path());
    let toml = dir.join("medallion.toml");
    let missing_group = unique("/medallion/missing");
    let edited = std::fs::read_to_string(&toml)
        .unwrap()
        .replace(
            &format!(r#"log_group = "{}""#, setup.log_group),
            &format!(r#"log_group = "{missing_group}""#),
        )
        .replace(
            &format!(r#"job_queue = "{}""#, setup.job_queue),
            r#"job_queue = "no-such-queue""#,
        )
        .replace("role/medallion-exec", &format!("role/{exec_role}"))
        .replace("role/medallion-task", "role/no-such-task-role")
        .replace(
            r#"image = "medallion-runner:test""#,
            r#"image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/medallion-runner:v1""#,
        );
    std::fs::write(&toml, edited).unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(
        &ws,
        &moto,
        &["check-aws", dir.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let checks = json(&o);
    let state = |item: &str| -> (String, String) {
        let c = checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["item"] == item)
            .unwrap_or_else(|| panic!("no check of {item}: {checks:#}"));
        (
            c["state"].as_str().unwrap().to_owned(),
            c["detail"].as_str().unwrap().to_owned(),
        )
    };
    let (s, d) = state("account");
    assert_eq!(s, "ok", "{checks:#}");
    assert!(d.starts_with("123456789012 "), "{d}");
    assert_eq!(state("bucket").0, "ok", "{checks:#}");
    assert_eq!(state("cluster").0, "ok", "{checks:#}");
    assert_eq!(state("execution role").0, "ok", "{checks:#}");
    assert_eq!(state("job definition").0, "ok", "{checks:#}");
    assert_eq!(state("batch log group").0, "ok", "{checks:#}");
    let (s, d) = state("log group");
    assert_eq!(s, "missing");
    assert!(
        d.contains(&missing_group) && d.contains("create-log-group"),
        "{d}"
    );
    let (s, d) = state("job queue");
    assert_eq!(s, "missing");
    assert!(d.contains("no-such-queue does not exist"), "{d}");
    let (s, d) = state("task role");
    assert_eq!(s, "missing");
    assert!(d.contains("no-such-task-role does not exist"), "{d}");
    let (s, d) = state("image");
    assert_eq!(s, "missing");
    assert!(
        d.contains("repository medallion-runner does not exist"),
        "{d}"
    );
    // It names the image it expects and the command that pushes the one build-image.sh built.
    assert!(
        d.contains("skopeo copy oci:medallion-runner.oci:latest docker://123456789012.dkr.ecr.us-east-1.amazonaws.com/medallion-runner:v1"),
        "{d}"
    );
    let (s, d) = state("lambda function");
    assert_eq!(s, "missing");
    assert!(d.contains("medallion-runner does not exist"), "{d}");
}

/// Stores a secret in the OS keyring through the CLI (the tests/run session's keyring).
fn store_secret(ws: &Path, name: &str, value: &str) {
    use std::io::Write as _;
    let _guard = crate::common::KEYRING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut child = Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(["secret", "set", name])
        .env("MEDALLION_WORKSPACE", ws)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// Gives the project in `dir` an `aws` resource whose keys live in the OS keyring (how a user's
/// studio reaches AWS: this test process has no AWS keys), applies `tweak` to its project file,
/// imports it into the workspace and returns it as stored.
fn import_with_keyring_keys(
    ws: &Path,
    dir: &Path,
    tweak: &dyn Fn(String) -> String,
) -> medallion::model::Project {
    let (id_name, secret_name) = (unique("aws-id"), unique("aws-secret"));
    store_secret(ws, &id_name, "testing");
    store_secret(ws, &secret_name, "testing");
    let toml = dir.join("medallion.toml");
    let edited = std::fs::read_to_string(&toml).unwrap().replace(
        "[resources.aws]\nkind = \"aws\"\n",
        &format!(
            "[resources.aws]\nkind = \"aws\"\naccess_key_id = {{ keyring = \"{id_name}\" }}\nsecret_access_key = {{ keyring = \"{secret_name}\" }}\n"
        ),
    );
    std::fs::write(&toml, tweak(edited)).unwrap();
    let mut w = medallion::app::open_workspace(ws).unwrap();
    let report = medallion::app::import_project(&mut w, dir, true, false).unwrap();
    medallion::app::load_project(&w, &report.name)
        .unwrap()
        .project
}

/// A Fargate remote run of the partitioned fixture's 2024-01-01, as the launch dialog would ask.
fn fargate_request() -> medallion::app::remote::SubmitRequest {
    medallion::app::remote::SubmitRequest {
        selection: "*".into(),
        partitions: vec!["2024-01-01".into()],
        force: false,
        tier: Some(medallion::model::ComputeTier::Fargate),
        overrides: std::collections::BTreeMap::new(),
        aws_resource: None,
        trigger: "studio".into(),
    }
}

/// The studio in a test harness.
fn studio_harness(
    studio: medallion::ui::Studio,
) -> egui_kittest::Harness<'static, medallion::ui::Studio> {
    egui_kittest::Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_max_steps(40)
        .build_ui_state(
            |ui, studio: &mut medallion::ui::Studio| medallion::ui::frame_ui(ui, studio),
            studio,
        )
}

#[test]
fn the_studio_launches_on_aws_with_a_tier_per_step_and_shows_the_remote_steps() {
    use egui_kittest::kittest::Queryable;
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "studio");
    let _executor = Executor::fargate(&moto, &setup.cluster);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.project(tmp.path());
    let ws = tmp.path().join("ws.sqlite");
    // The studio's own process reaches AWS with keys from the OS keyring. Silver and gold on
    // Fargate, bronze locally; the log group is missing at first.
    let project = import_with_keyring_keys(&ws, &dir, &|toml| {
        toml.replace(r#"tier = "lambda""#, r#"tier = "local""#)
            .replace(r#"tier = "eks""#, r#"tier = "fargate""#)
    });
    let mut h = studio_harness(medallion::ui::Studio::with_workspace(Some(project), &ws).unwrap());
    h.run_steps(3);
    let wait = |h: &mut egui_kittest::Harness<'_, medallion::ui::Studio>,
                what: &str,
                done: &dyn Fn(&medallion::ui::Studio) -> bool| {
        let start = std::time::Instant::now();
        while !done(h.state()) {
            assert!(
                start.elapsed() < Duration::from_mins(3),
                "timed out waiting for {what}"
            );
            h.step();
            std::thread::sleep(Duration::from_millis(20));
        }
        h.run_steps(3);
    };
    h.get_by_label("Materialize…").click();
    h.run_steps(2);
    h.get_by_label("All assets").click();
    h.run_steps(2);
    h.get_by_label("On AWS").click();
    h.run_steps(3);
    // The steps come with the dialog's plan from the job worker.
    wait(&mut h, "the AWS steps", &|s| {
        s.workbench
            .launch
            .as_ref()
            .is_some_and(|l| matches!(l.aws_plan, Some(Ok(_))))
    });
    // The tier of every step is shown before anything runs.
    h.get_by_label("2 step(s) on AWS");
    h.get_by_label("local");
    h.get_by_label("fargate");
    h.get_by_label("raw_customer_data, raw_orders");
    // Check AWS setup names what is missing.
    let rt = runtime();
    rt.block_on(
        aws_sdk_cloudwatchlogs::Client::new(&sdk_config(&moto))
            .delete_log_group()
            .log_group_name(&setup.log_group)
            .send(),
    )
    .unwrap();
    h.get_by_label("Check AWS setup…").click();
    h.run_steps(2);
    wait(&mut h, "the setup check", &|s| {
        s.workbench
            .launch
            .as_ref()
            .is_some_and(|l| l.aws_setup.is_some())
    });
    h.get_by_label_contains(&format!("log group {} does not exist", setup.log_group));
    rt.block_on(
        aws_sdk_cloudwatchlogs::Client::new(&sdk_config(&moto))
            .create_log_group()
            .log_group_name(&setup.log_group)
            .send(),
    )
    .unwrap();
    h.get_by_label("Launch on AWS").click();
    h.run_steps(2);
    wait(&mut h, "the remote run", &|s| {
        s.run.as_ref().is_some_and(|r| r.done)
    });
    let run = h.state().run.as_ref().unwrap();
    assert_eq!(
        run.status,
        Some(medallion::model::RunStatus::Success),
        "{:?}",
        run.error
    );
    assert_eq!(run.remote_steps.len(), 2);
    h.get_by_label("Success");
    h.get_by_label("Checks 4/4 passed");
    h.get_by_label("s2-fargate");
    assert!(
        h.query_all_by_label("success").count() >= 2,
        "both steps shown as succeeded"
    );
    // Estimated and actual cost per step: the local step costs nothing on AWS, the Fargate
    // step shows both figures.
    h.get_by_label("no AWS cost");
    h.get_by_label_contains("est $");
    h.get_by_label_contains(" · actual $");
}

#[test]
fn logs_follow_prints_a_detached_run_until_it_ends() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "follow");
    let _executor = Executor::fargate(&moto, &setup.cluster);
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
            "fargate",
            "--partition",
            "2024-01-01",
            "--detach",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run_id = json(&o)["run_id"].as_str().unwrap().to_owned();
    let o = medallion(&ws, &moto, &["logs", &run_id, "--follow"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let logs = text(&o);
    assert!(logs.contains("check one_row_per_day passed"), "{logs}");
    assert!(logs.trim_end().ends_with("run success"), "{logs}");
}

#[test]
fn the_runner_refuses_a_plan_it_cannot_read() {
    let tmp = tempfile::tempdir().unwrap();
    let runner = |plan: &Path| {
        Command::new(env!("CARGO_BIN_EXE_medallion"))
            .args(["runner", "--plan", plan.to_str().unwrap()])
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap()
    };
    let o = runner(&tmp.path().join("missing.json"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("cannot read the run plan"),
        "{}",
        text(&o)
    );
    let newer = tmp.path().join("newer.json");
    std::fs::write(&newer, r#"{"version": 99}"#).unwrap();
    let o = runner(&newer);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("protocol version 99"), "{}", text(&o));
    // The reason is on stdout too, where the platform's log driver picks it up.
    assert!(String::from_utf8_lossy(&o.stdout).contains("update the runner image"));
}

/// Makes a step look as if the app died between AWS accepting it and the id being stored.
fn forget_remote_id(ws: &Path, run_id: &str) {
    let conn = rusqlite::Connection::open(ws).unwrap();
    let changed = conn
        .execute(
            "UPDATE remote_steps SET status = 'submitting', remote_id = NULL WHERE run_id = ?1",
            [run_id],
        )
        .unwrap();
    assert_eq!(changed, 1);
}

#[test]
fn a_step_accepted_but_not_recorded_is_found_again_not_submitted_twice() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "lost");
    let fargate = Executor::fargate(&moto, &setup.cluster);
    let batch = Executor::batch(&moto, &setup.job_queue, &setup.batch_log_group);
    fargate
        .hold
        .store(true, std::sync::atomic::Ordering::Relaxed);
    batch.hold.store(true, std::sync::atomic::Ordering::Relaxed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.copy_project(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/partitioned"),
        tmp.path(),
    );
    let ws = tmp.path().join("ws.sqlite");
    for (tier, executor) in [("fargate", &fargate), ("batch", &batch)] {
        let o = medallion(
            &ws,
            &moto,
            &[
                "submit",
                dir.to_str().unwrap(),
                "--tier",
                tier,
                "--partition",
                "2024-01-02",
                "--detach",
                "--format",
                "json",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let report = json(&o);
        let run_id = report["run_id"].as_str().unwrap().to_owned();
        let original = report["steps"][0]["remote_id"].as_str().unwrap().to_owned();
        forget_remote_id(&ws, &run_id);
        executor
            .hold
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let o = medallion(&ws, &moto, &["attach", &run_id, "--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let after = json(&o);
        assert_eq!(after["status"], "success", "{after:#}");
        assert_eq!(after["steps"][0]["remote_id"], original.as_str(), "{tier}");
        let ran = executor.wait_ran(1, Duration::from_secs(5));
        assert_eq!(ran.len(), 1, "{tier}: one task/job, not two");
    }
}

#[test]
fn the_studio_reattaches_to_a_run_left_unfinished_and_finishes_it() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "reattach");
    let executor = Executor::fargate(&moto, &setup.cluster);
    executor
        .hold
        .store(true, std::sync::atomic::Ordering::Relaxed);
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
            "fargate",
            "--partition",
            "2024-01-01",
            "--detach",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run_id = medallion::model::RunId::from(json(&o)["run_id"].as_str().unwrap());
    executor
        .hold
        .store(false, std::sync::atomic::Ordering::Relaxed);
    // The studio runs in this test process, whose environment has no AWS keys: its resource
    // names keys in the OS keyring, as a user's would.
    import_with_keyring_keys(&ws, &dir, &|toml| toml);
    let studio = medallion::ui::Studio::with_workspace(None, &ws).unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        let w = medallion::app::open_workspace(&ws).unwrap();
        let run = medallion::app::remote::run_record(&w, &run_id).unwrap();
        if run.status.is_finished() {
            break run.status;
        }
        assert!(start.elapsed() < Duration::from_mins(2), "not reattached");
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(studio);
    assert_eq!(status, medallion::model::RunStatus::Success);
    assert_eq!(executor.wait_ran(1, Duration::from_secs(5)).len(), 1);
}

#[test]
fn cancel_in_the_studio_stops_the_remote_task() {
    use egui_kittest::kittest::Queryable;
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "scancel");
    let executor = Executor::fargate(&moto, &setup.cluster);
    executor
        .hold
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.copy_project(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/partitioned"),
        tmp.path(),
    );
    let ws = tmp.path().join("ws.sqlite");
    let project = import_with_keyring_keys(&ws, &dir, &|toml| toml);
    let mut studio = medallion::ui::Studio::with_workspace(Some(project), &ws).unwrap();
    // The partitioned project has no tier hints: the planner would pick Lambda for such small
    // data, so the run asks for Fargate (as the launch dialog's overrides would).
    assert!(studio.start_remote_run(fargate_request()));
    let mut h = studio_harness(studio);
    let wait = |h: &mut egui_kittest::Harness<'_, medallion::ui::Studio>,
                what: &str,
                done: &dyn Fn(&medallion::ui::Studio) -> bool| {
        let start = std::time::Instant::now();
        while !done(h.state()) {
            assert!(
                start.elapsed() < Duration::from_mins(2),
                "timed out waiting for {what}"
            );
            h.step();
            std::thread::sleep(Duration::from_millis(20));
        }
        h.run_steps(3);
    };
    wait(&mut h, "the task to be submitted", &|s| {
        s.run
            .as_ref()
            .is_some_and(|r| r.remote_steps.iter().any(|s| s.remote_id.is_some()))
    });
    let arn = h.state().run.as_ref().unwrap().remote_steps[0]
        .remote_id
        .clone()
        .unwrap();
    h.get_by_label(&arn);
    h.get_by_label("Cancel run").click();
    h.run_steps(2);
    wait(&mut h, "the run to end", &|s| {
        s.run.as_ref().is_some_and(|r| r.done)
    });
    assert_eq!(
        h.state().run.as_ref().unwrap().status,
        Some(medallion::model::RunStatus::Canceled)
    );
    let task = setup.describe_task(&arn);
    assert_eq!(task.last_status(), Some("STOPPED"));
    assert_eq!(task.stopped_reason(), Some("Canceled from Medallion"));
}

#[test]
fn upstream_data_materialized_locally_is_uploaded_for_a_remote_step() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "upstream");
    let executor = Executor::fargate(&moto, &setup.cluster);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.project(tmp.path());
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(
        &ws,
        &moto,
        &[
            "materialize",
            dir.to_str().unwrap(),
            "--select",
            "layer:bronze",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = medallion(
        &ws,
        &moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--select",
            "layer:silver,layer:gold",
            "--tier",
            "fargate",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "success", "{report:#}");
    assert_eq!(report["materializations"].as_array().unwrap().len(), 4);
    assert_eq!(executor.wait_ran(1, Duration::from_secs(5)).len(), 1);
    assert_gold_checksums(&setup, &report, tmp.path());
}

impl Setup {
    fn put(&self, uri: &str, body: &[u8]) {
        let (bucket, key) = uri.strip_prefix("s3://").unwrap().split_once('/').unwrap();
        let rt = runtime();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk_config(&self.moto))
                .force_path_style(true)
                .build(),
        );
        rt.block_on(
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(body.to_vec().into())
                .send(),
        )
        .unwrap();
    }
}

/// Submits the partitioned fixture on Fargate without waiting for it (`--detach`); the
/// executor holds its task. Returns the workspace, the project dir and the submit report.
fn detached_partitioned_run(
    setup: &Setup,
    moto: &str,
    tmp: &Path,
) -> (PathBuf, PathBuf, serde_json::Value) {
    let dir = setup.copy_project(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/partitioned"),
        tmp,
    );
    let ws = tmp.join("ws.sqlite");
    let o = medallion(
        &ws,
        moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--tier",
            "fargate",
            "--partition",
            "2024-01-01",
            "--detach",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    (ws, dir, report)
}

#[test]
fn a_malformed_result_fails_the_step_not_the_driver() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "malformed");
    let executor = Executor::fargate(&moto, &setup.cluster);
    executor
        .hold
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let tmp = tempfile::tempdir().unwrap();
    let (ws, _dir, report) = detached_partitioned_run(&setup, &moto, tmp.path());
    let run_id = report["run_id"].as_str().unwrap().to_owned();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{report:#}");
    let uri = steps[0]["result_uri"]
        .as_str()
        .unwrap()
        .replace("{index}", "0");
    setup.put(&uri, b"{ this is not a result");
    let o = medallion(&ws, &moto, &["attach", &run_id, "--format", "json"]);
    let report = json(&o);
    assert_eq!(report["status"], "failure", "{report:#}");
    let error = report["steps"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with(&format!("malformed result at {uri}: ")),
        "{report:#}"
    );
    assert_eq!(report["steps"][0]["status"], "failure", "{report:#}");
}

#[test]
fn a_task_the_platform_no_longer_knows_fails_the_step() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "missing");
    let executor = Executor::fargate(&moto, &setup.cluster);
    executor
        .hold
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let tmp = tempfile::tempdir().unwrap();
    let (ws, _dir, report) = detached_partitioned_run(&setup, &moto, tmp.path());
    let run_id = report["run_id"].as_str().unwrap().to_owned();
    // The state a task gone from ECS leaves: its stored ARN names nothing (ECS answers MISSING).
    let gone = format!(
        "arn:aws:ecs:us-east-1:123456789012:task/{}/00000000000000000000000000000000",
        setup.cluster
    );
    let db = rusqlite::Connection::open(&ws).unwrap();
    let changed = db
        .execute(
            "UPDATE remote_steps SET remote_id = ?1 WHERE run_id = ?2",
            rusqlite::params![gone, run_id],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    let o = medallion(&ws, &moto, &["attach", &run_id, "--format", "json"]);
    let report = json(&o);
    assert_eq!(report["status"], "failure", "{report:#}");
    let error = report["steps"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("fargate no longer knows {gone}")),
        "{report:#}"
    );
}

#[test]
fn an_interrupted_local_step_fails_instead_of_blocking_the_run() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "localint");
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
            "local",
            "--partition",
            "2024-01-01",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "success", "{report:#}");
    let run_id = report["run_id"].as_str().unwrap().to_owned();
    // The state a process killed while it ran the local step leaves behind: the step
    // submitted (it runs in that process), the run unfinished.
    let db = rusqlite::Connection::open(&ws).unwrap();
    db.execute(
        "UPDATE remote_steps SET status = 'submitted', ended_at = NULL, error = NULL WHERE run_id = ?1",
        [&run_id],
    )
    .unwrap();
    db.execute(
        "UPDATE remote_runs SET finished = 0, driver = NULL, lease_until = NULL WHERE run_id = ?1",
        [&run_id],
    )
    .unwrap();
    db.execute(
        "UPDATE runs SET status = 'started', ended_at = NULL WHERE id = ?1",
        [&run_id],
    )
    .unwrap();
    drop(db);
    let o = medallion(&ws, &moto, &["attach", &run_id, "--format", "json"]);
    let report = json(&o);
    assert_eq!(report["status"], "failure", "{report:#}");
    assert_eq!(
        report["steps"][0]["error"],
        medallion::app::remote::LOCAL_INTERRUPTED,
        "{report:#}"
    );
}

#[test]
fn a_backfill_on_fargate_pairs_estimate_and_actual_per_asset() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "bfcost");
    let _executor = Executor::fargate(&moto, &setup.cluster);
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
            "fargate",
            "--partition-range",
            "2024-01-01..2024-01-02",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "success", "{report:#}");
    assert_eq!(
        report["steps"].as_array().unwrap().len(),
        2,
        "one step per partition on Fargate: {report:#}"
    );
    let run_id = report["run_id"].as_str().unwrap();
    let costs = medallion(
        &ws,
        &moto,
        &["costs", "partitioned", "--run", run_id, "--format", "json"],
    );
    assert_eq!(costs.status.code(), Some(0), "{}", text(&costs));
    let costs = json(&costs);
    let rows = costs.as_array().unwrap();
    let mut assets: Vec<&str> = rows.iter().map(|r| r["asset"].as_str().unwrap()).collect();
    assets.sort_unstable();
    assert_eq!(assets, vec!["daily_totals", "raw_events"], "{costs:#}");
    for row in rows {
        let est = row["est_cost_usd"].as_f64().unwrap();
        let actual = row["actual_cost_usd"].as_f64().unwrap();
        assert!(est > 0.0 && actual > 0.0, "{row:#}");
    }
}

#[test]
fn closing_the_studio_leaves_a_remote_run_going_for_attach() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "sdetach");
    let executor = Executor::fargate(&moto, &setup.cluster);
    executor
        .hold
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.copy_project(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/partitioned"),
        tmp.path(),
    );
    let ws = tmp.path().join("ws.sqlite");
    let project = import_with_keyring_keys(&ws, &dir, &|toml| toml);
    let mut studio = medallion::ui::Studio::with_workspace(Some(project), &ws).unwrap();
    assert!(studio.start_remote_run(fargate_request()));
    let mut h = studio_harness(studio);
    let start = std::time::Instant::now();
    while !h
        .state()
        .run
        .as_ref()
        .is_some_and(|r| r.remote_steps.iter().any(|s| s.remote_id.is_some()))
    {
        assert!(
            start.elapsed() < Duration::from_mins(2),
            "timed out waiting for the task to be submitted"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    let arn = h.state().run.as_ref().unwrap().remote_steps[0]
        .remote_id
        .clone()
        .unwrap();
    // Quitting the studio (what closing the window does) while the task runs.
    h.state_mut().shut_down();
    drop(h);
    let task = setup.describe_task(&arn);
    // Not stopped: StopTask would have set the desired status and the reason.
    assert_eq!(task.desired_status(), Some("RUNNING"), "{task:?}");
    assert_ne!(
        task.stopped_reason(),
        Some("Canceled from Medallion"),
        "{task:?}"
    );
    let w = medallion::app::open_workspace(&ws).unwrap();
    let unfinished = w.unfinished_remote_runs().unwrap();
    assert_eq!(unfinished.len(), 1, "the run stays unfinished");
    let run_id = unfinished[0].clone();
    let view = medallion::app::remote::view(&w, &run_id).unwrap().unwrap();
    assert!(!view.cancel_requested);
    assert_ne!(view.run.status, medallion::model::RunStatus::Canceled);
    drop(w);
    // `medallion attach` finishes it.
    executor
        .hold
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let o = medallion(&ws, &moto, &["attach", &run_id, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "success", "{report:#}");
    assert_eq!(report["steps"][0]["remote_id"], arn.as_str(), "{report:#}");
}

/// Secrets for a test `aws` resource: moto accepts any keys.
struct MotoKeys;
impl medallion::compute::SecretSource for MotoKeys {
    fn secret(
        &self,
        _: &medallion::model::SecretRef,
    ) -> Result<String, medallion::compute::ComputeError> {
        Ok("testing".to_owned())
    }
}

/// Files above the threshold go up in parts (S3 refuses one `PutObject` over 5 GB); the object
/// reads back byte for byte, and a small file still goes up whole.
#[test]
fn a_large_file_is_uploaded_in_parts_and_reads_back_whole() {
    use medallion::model::{AwsCompute, Resource, ResourceKind, SecretRef};
    let Some(moto) = peers() else { return };
    let bucket = unique("medallion-multipart");
    let rt = runtime();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config(&moto))
            .force_path_style(true)
            .build(),
    );
    rt.block_on(s3.create_bucket().bucket(&bucket).send())
        .unwrap();
    let resource = Resource {
        name: "cloud".into(),
        description: String::new(),
        kind: ResourceKind::Aws {
            region: Some("us-east-1".into()),
            profile: None,
            endpoint_url: Some(moto.clone()),
            access_key_id: Some(SecretRef::Keyring("id".into())),
            secret_access_key: Some(SecretRef::Keyring("secret".into())),
            compute: Some(Box::new(AwsCompute {
                bucket: bucket.clone(),
                ..AwsCompute::default()
            })),
        },
    };
    let aws = medallion::compute::aws::Aws::connect(
        medallion::app::runtime::handle().unwrap(),
        &resource,
        &MotoKeys,
        "p",
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // 12 MiB of varied bytes: with 5 MiB parts, three parts (the last one short).
    let big = tmp.path().join("big.bin");
    let bytes: Vec<u8> = (0..12u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&big, &bytes).unwrap();
    let uri = format!("s3://{bucket}/data/big.bin");
    aws.put_file_in_parts(&uri, &big, 8 << 20, 5 << 20).unwrap();
    let head = rt
        .block_on(s3.head_object().bucket(&bucket).key("data/big.bin").send())
        .unwrap();
    assert!(
        head.e_tag().unwrap_or_default().ends_with("-3\""),
        "a three-part upload: {:?}",
        head.e_tag()
    );
    let back = tmp.path().join("back.bin");
    assert!(aws.get_to_file(&uri, &back).unwrap());
    assert!(
        std::fs::read(&back).unwrap() == bytes,
        "the object reads back byte for byte"
    );

    let small = tmp.path().join("small.bin");
    std::fs::write(&small, b"small").unwrap();
    let uri = format!("s3://{bucket}/data/small.bin");
    aws.put_file_in_parts(&uri, &small, 8 << 20, 5 << 20)
        .unwrap();
    let head = rt
        .block_on(
            s3.head_object()
                .bucket(&bucket)
                .key("data/small.bin")
                .send(),
        )
        .unwrap();
    assert!(
        !head.e_tag().unwrap_or_default().contains('-'),
        "one PutObject"
    );
}

impl Setup {
    /// The object keys under `prefix` in this setup's bucket.
    fn keys_under(&self, prefix: &str) -> Vec<String> {
        let rt = runtime();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk_config(&self.moto))
                .force_path_style(true)
                .build(),
        );
        let listed = rt
            .block_on(
                s3.list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .send(),
            )
            .unwrap();
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }
}

/// A source whose contract fails on drift, read by a remote run with other columns than its
/// last materialization: the step fails and the object it had already uploaded to S3 is
/// deleted at once (as a local run removes its file); the first run's object stays.
#[test]
fn a_schema_drift_error_in_a_remote_run_deletes_the_object_it_uploaded() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "drift");
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.project(tmp.path());
    // raw_orders runs here (a local step of the remote run, uploading to S3), its columns
    // read from the file, and its contract fails on drift.
    let toml = dir.join("medallion.toml");
    let declared = "[assets.raw_orders.source.schema]\norder_id = \"int64\"\ncustomer_id = \"int64\"\norder_date = \"date\"\namount = \"decimal(12,2)\"\nstatus = \"string\"\n";
    let text_before = std::fs::read_to_string(&toml).unwrap();
    assert!(text_before.contains(declared));
    let edited = text_before
        .replace(declared, "")
        .replace(r#"tier = "lambda""#, r#"tier = "local""#)
        + "\n[assets.raw_orders.contract]\non_drift = \"error\"\n";
    std::fs::write(&toml, edited).unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let submit = || {
        medallion(
            &ws,
            &moto,
            &[
                "submit",
                dir.to_str().unwrap(),
                "--select",
                "raw_orders",
                "--format",
                "json",
            ],
        )
    };
    let o = submit();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first = json(&o)["run_id"].as_str().unwrap().to_owned();
    let prefix = "lake/ca/raw_orders/";
    let before = setup.keys_under(prefix);
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(
        before[0].ends_with(&format!("{first}.parquet")),
        "{before:?}"
    );

    // A new column and customer_id as text.
    let orders = dir.join("data/orders.csv");
    let csv = std::fs::read_to_string(&orders).unwrap();
    let mut drifted = String::new();
    for (i, line) in csv.lines().enumerate() {
        let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        if i == 0 {
            cells.push("channel".to_owned());
        } else {
            cells[1] = format!("c{}", cells[1]);
            cells.push("web".to_owned());
        }
        drifted.push_str(&cells.join(","));
        drifted.push('\n');
    }
    std::fs::write(&orders, drifted).unwrap();
    let o = submit();
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("schema drift since run"), "{}", text(&o));
    let after = setup.keys_under(prefix);
    assert_eq!(
        after, before,
        "the failed run's object is deleted, the first stays"
    );
}
