//! `medallion deploy`: the example's state machine against its reviewed snapshot, the
//! generated ASL checked state by state (EKS `runJob`, which moto cannot execute, included),
//! and against moto: deploy, redeploy with no change, a changed cron (one update), undeploy
//! (nothing tagged left), each recorded in the audit log.

use std::path::{Path, PathBuf};
use std::process::Output;

use medallion::app;
use medallion::compute::deploy::asl::EksTarget;
use serde_json::Value;

use crate::support::aws_executor::{runtime, sdk_config};

const SNAPSHOT: &str = "tests/snapshots/customer_analytics.asl.json";

fn aws_toml(endpoint: &str, roles: bool) -> String {
    aws_toml_at(endpoint, roles, "lake/ca")
}

/// The `aws` resource with its objects under `prefix` of bucket `medallion-lake` (tests
/// sharing moto give each project its own prefix: a deployment owns `<prefix>/_deploy/`).
pub(crate) fn aws_toml_at(endpoint: &str, roles: bool, prefix: &str) -> String {
    let roles = if roles {
        "states_role_arn = \"arn:aws:iam::123456789012:role/medallion-states\"\nevents_role_arn = \"arn:aws:iam::123456789012:role/medallion-events\"\n"
    } else {
        ""
    };
    format!(
        r#"
[resources.aws]
kind = "aws"
region = "us-east-1"
endpoint_url = "{endpoint}"

[resources.aws.compute]
bucket = "medallion-lake"
prefix = "{prefix}"
image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/medallion-runner:1"
cluster = "medallion"
subnets = ["subnet-0a1b2c3d"]
security_groups = ["sg-0a1b2c3d"]
execution_role_arn = "arn:aws:iam::123456789012:role/medallion-exec"
task_role_arn = "arn:aws:iam::123456789012:role/medallion-task"
job_queue = "medallion-queue"
job_definition = "medallion-runner"
lambda_function = "medallion-runner"
{roles}"#
    )
}

/// An `eks` resource reaching its cluster by endpoint and CA file (moto has no EKS).
pub(crate) fn eks_toml(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    format!(
        "\n[resources.k8s]\nkind = \"eks\"\ncluster = \"analytics\"\nendpoint_url = \"https://127.0.0.1:6443\"\nca_file = \"{}\"\nnamespace = \"data\"\nimage = \"medallion-runner:1\"\n",
        ca.display()
    )
}

/// The example (renamed `name`) with `extra` appended, imported into a new workspace.
pub(crate) fn workspace(dir: &Path, name: &str, extra: &str) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let copy = dir.join(name);
    crate::common::copy_dir(&crate::common::example(), &copy);
    let toml = copy.join("medallion.toml");
    let text = std::fs::read_to_string(&toml).unwrap().replacen(
        "name = \"customer_analytics\"",
        &format!("name = \"{name}\""),
        1,
    );
    std::fs::write(&toml, format!("{text}{extra}")).unwrap();
    let ws = dir.join("ws.sqlite");
    let mut w = app::open_workspace(&ws).unwrap();
    app::import_project(&mut w, &copy, true, false).unwrap();
    (ws, copy)
}

fn eks() -> EksTarget {
    EksTarget {
        cluster: "analytics".to_owned(),
        endpoint: "https://ABCDEF.gr7.us-east-1.eks.amazonaws.com".to_owned(),
        certificate_authority: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t".to_owned(),
        namespace: "data".to_owned(),
        service_account: Some("medallion-runner".to_owned()),
        image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/medallion-runner:1".to_owned(),
    }
}

fn example_definition() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (ws, _) = workspace(
        dir.path(),
        "customer_analytics",
        &aws_toml("http://127.0.0.1:9", true),
    );
    let w = app::open_workspace(&ws).unwrap();
    let stored = app::load_project(&w, "customer_analytics").unwrap();
    app::deploy::definition(&w, &stored, None, "us-east-1", Some(&eks()))
        .unwrap()
        .0
}

/// The example's state machine is the reviewed snapshot (regenerate with
/// `MEDALLION_UPDATE_SNAPSHOTS=1` and review the diff).
#[test]
fn the_example_compiles_to_the_reviewed_snapshot() {
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&example_definition()).unwrap()
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    if std::env::var("MEDALLION_UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::write(&path, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, expected, "the generated ASL differs from {SNAPSHOT}");
}

/// Every transition names a state that exists, every state is reachable from `StartAt`, Task
/// states have a resource, and only Succeed/Fail states end — in the example, and in the
/// example with `daily_revenue` partitioned by two static keys (its array job's Map, whose
/// own states are checked the same way).
#[test]
fn the_definition_is_well_formed_asl() {
    let d = example_definition();
    assert_well_formed(&d);
    // No secret or credential setting enters the definition.
    let text = d.to_string();
    for word in ["keyring", "secret_access_key", "access_key_id", "password"] {
        assert!(!text.contains(word), "the definition mentions {word}");
    }
    let partitioned = partitioned_definition();
    assert!(
        partitioned["States"]
            .as_object()
            .unwrap()
            .values()
            .any(|s| s["Type"] == "Map"),
        "{partitioned}"
    );
    assert_well_formed(&partitioned);
}

/// The example with `daily_revenue` partitioned by two static keys, its EKS assets on Batch.
fn partitioned_definition() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (ws, copy) = workspace(
        dir.path(),
        "customer_analytics",
        &aws_toml("http://127.0.0.1:9", true),
    );
    let toml = copy.join("medallion.toml");
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace("tier = \"eks\"", "tier = \"batch\"")
        .replace(
            "name = \"revenue_per_order_date\"\n",
            "name = \"revenue_per_order_date\"\npartition = \"eu\"\n",
        );
    std::fs::write(
        &toml,
        format!("{text}\n[assets.daily_revenue.partitions]\nkind = \"static\"\nkeys = [\"eu\", \"us\"]\n"),
    )
    .unwrap();
    let mut w = app::open_workspace(&ws).unwrap();
    app::import_project(&mut w, &copy, true, false).unwrap();
    let stored = app::load_project(&w, "customer_analytics").unwrap();
    app::deploy::definition(&w, &stored, None, "us-east-1", None)
        .unwrap()
        .0
}

fn assert_well_formed(d: &Value) {
    let states = d["States"].as_object().unwrap();
    let mut targets = vec![d["StartAt"].as_str().unwrap().to_owned()];
    for (name, s) in states {
        let kind = s["Type"].as_str().unwrap();
        let mut next: Vec<&str> = Vec::new();
        next.extend(s.get("Next").and_then(Value::as_str));
        next.extend(s.get("Default").and_then(Value::as_str));
        for c in s
            .get("Choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            next.extend(c["Next"].as_str());
        }
        for c in s
            .get("Catch")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            next.extend(c["Next"].as_str());
        }
        match kind {
            "Succeed" | "Fail" => assert!(next.is_empty(), "{name} ends but has a next state"),
            "Task" => {
                assert!(
                    s["Resource"]
                        .as_str()
                        .unwrap()
                        .starts_with("arn:aws:states:::"),
                    "{name}"
                );
                assert!(s.get("Next").is_some(), "{name} has no Next");
            }
            "Choice" => assert!(s.get("Default").is_some(), "{name} has no Default"),
            "Pass" => assert!(s.get("Next").is_some(), "{name} has no Next"),
            "Map" => {
                assert!(s.get("Next").is_some(), "{name} has no Next");
                assert!(s["ItemsPath"].as_str().is_some(), "{name} has no ItemsPath");
                let inner = &s["ItemProcessor"];
                for n in inner["States"].as_object().unwrap().keys() {
                    assert!(
                        !states.contains_key(n),
                        "{n} in {name} is also a state outside it"
                    );
                }
                assert_well_formed(inner);
            }
            other => panic!("unexpected state type {other} in {name}"),
        }
        if kind == "Fail" {
            assert!(s["Error"].as_str().is_some_and(|e| !e.is_empty()), "{name}");
            assert!(s.get("CausePath").is_some(), "{name} must carry the cause");
        }
        for n in &next {
            assert!(
                states.contains_key(*n),
                "{name} goes to {n}, which does not exist"
            );
        }
        targets.extend(next.iter().map(|s| (*s).to_owned()));
    }
    for name in states.keys() {
        assert!(targets.contains(name), "{name} is unreachable");
    }
}

/// What moto's interpreter cannot execute (`eks:runJob`) is checked here: the cluster, the
/// Job's runner container (the launch's image, `runner --plan URI`, the plan and run id in its
/// environment), a fresh Job name per execution, throttling retries and a Catch.
#[test]
fn the_eks_step_runs_the_runner_as_a_launch_does() {
    let d = example_definition();
    let s = &d["States"]["Run s3-eks"];
    assert_eq!(s["Resource"], "arn:aws:states:::eks:runJob.sync");
    let p = &s["Parameters"];
    assert_eq!(p["ClusterName"], "analytics");
    assert_eq!(p["Endpoint"], eks().endpoint);
    assert_eq!(p["CertificateAuthority"], eks().certificate_authority);
    assert_eq!(p["Namespace"], "data");
    let job = &p["Job"];
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    assert!(job["metadata"].get("name").is_none());
    assert!(
        job["metadata"]["generateName"]
            .as_str()
            .unwrap()
            .starts_with("medallion-s3-eks")
    );
    assert_eq!(job["spec"]["backoffLimit"], 0);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "medallion-runner");
    assert_eq!(pod["restartPolicy"], "Never");
    let c = &pod["containers"][0];
    assert_eq!(c["image"], eks().image);
    let plan = "s3://medallion-lake/lake/ca/_deploy/s3-eks/plan.json";
    assert_eq!(c["args"], serde_json::json!(["runner", "--plan", plan]));
    let env = c["env"].as_array().unwrap();
    assert!(env.contains(&serde_json::json!({"name": "MEDALLION_PLAN_URI", "value": plan})));
    assert!(env.contains(
        &serde_json::json!({"name": "MEDALLION_RUN_ID", "value.$": "$$.Execution.Name"})
    ));
    assert_eq!(
        c["resources"]["limits"]["memory"],
        c["resources"]["requests"]["memory"]
    );
    assert!(
        s["Retry"][0]["ErrorEquals"]
            .as_array()
            .unwrap()
            .contains(&"EKS.ThrottlingException".into())
    );
    // A failed Job (the runner exits non-zero after a failed check) still has its result read.
    assert_eq!(s["Catch"][0]["Next"], "Result s3-eks");
    assert_eq!(s["Catch"][0]["ResultPath"], "$.errors.s3_eks");
}

/// A step that ends without success (a failed blocking check: the runner's headline is
/// `check X of asset Y failed: …`) fails the execution with that headline as its cause.
#[test]
fn a_step_without_success_fails_the_execution_with_the_runners_headline() {
    let d = example_definition();
    let states = &d["States"];
    let read = &states["Result s2-fargate"];
    assert_eq!(read["Resource"], "arn:aws:states:::aws-sdk:s3:getObject");
    assert_eq!(read["Parameters"]["Bucket"], "medallion-lake");
    assert_eq!(
        read["Parameters"]["Key.$"],
        "States.Format('lake/ca/_runs/{}/s2-fargate/result-0.json', $$.Execution.Name)"
    );
    let check = &states["Check s2-fargate"];
    assert_eq!(check["Choices"][0]["Not"]["StringEquals"], "success");
    assert_eq!(check["Choices"][0]["Next"], "Blocked s2-fargate");
    // A task that failed and left a result saying success still fails, with its own error.
    assert_eq!(check["Choices"][1]["Variable"], "$.errors.s2_fargate");
    assert_eq!(check["Choices"][1]["Next"], "Failed s2-fargate");
    assert_eq!(check["Default"], "Run s3-eks");
    // A failed task's result is read too; one that cannot be read ends in the task's error,
    // or S3's when the task did not fail.
    assert_eq!(
        states["Run s2-fargate"]["Catch"][0]["Next"],
        "Result s2-fargate"
    );
    assert_eq!(read["Catch"][0]["Next"], "Unread s2-fargate");
    let unread = &states["Unread s2-fargate"];
    assert_eq!(unread["Choices"][0]["Next"], "Failed s2-fargate");
    assert_eq!(unread["Default"], "No result s2-fargate");
    assert_eq!(
        states["No result s2-fargate"]["CausePath"],
        "$.unread.Cause"
    );
    let blocked = &states["Blocked s2-fargate"];
    assert_eq!(blocked["Type"], "Fail");
    assert_eq!(blocked["CausePath"], "$.results.s2_fargate.result.error");
    // A Lambda invocation answers with the runner's result: it is checked as it comes back.
    assert!(states.get("Result s1-lambda").is_none());
    let lambda = &states["Run s1-lambda"];
    assert_eq!(lambda["ResultSelector"]["result.$"], "$.Payload");
    assert_eq!(lambda["ResultPath"], "$.results.s1_lambda");
    assert_eq!(lambda["Next"], "Check s1-lambda");
    assert_eq!(
        states["Blocked s1-lambda"]["CausePath"],
        "$.results.s1_lambda.result.error"
    );
    // The Fargate task itself: the launch's cluster, size, network and runner command.
    let run = &states["Run s2-fargate"];
    assert_eq!(run["Resource"], "arn:aws:states:::ecs:runTask.sync");
    let p = &run["Parameters"];
    assert_eq!(p["Cluster"], "medallion");
    assert_eq!(p["LaunchType"], "FARGATE");
    assert_eq!(
        (
            p["Overrides"]["Cpu"].as_str(),
            p["Overrides"]["Memory"].as_str()
        ),
        (Some("2048"), Some("8192"))
    );
    assert_eq!(
        p["Overrides"]["ContainerOverrides"][0]["Command"],
        serde_json::json!([
            "runner",
            "--plan",
            "s3://medallion-lake/lake/ca/_deploy/s2-fargate/plan.json"
        ])
    );
}

// ---- against moto ----------------------------------------------------------------------

pub(crate) fn medallion(ws: &Path, args: &[&str]) -> Output {
    medallion_command(ws, args).output().unwrap()
}

/// The `medallion` command on workspace `ws` with moto's test credentials (no instance
/// metadata, no log setting of the caller's), for a test to add its own environment to.
pub(crate) fn medallion_command(ws: &Path, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_medallion"));
    c.args(args)
        .env("MEDALLION_WORKSPACE", ws)
        .env_remove("MEDALLION_LOG")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

/// The deployed schedule's next fire time, read from its deployed expression (UTC here):
/// 06:00, within the next day, in the JSON plan and the text one.
fn the_deployed_schedules_next_fire_is_shown(ws: &Path, name: &str, again: &Value) {
    let nightly = again["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "schedule")
        .unwrap();
    let next: chrono::DateTime<chrono::Utc> = nightly["next_fire"]
        .as_str()
        .unwrap_or_else(|| panic!("{nightly}"))
        .parse()
        .unwrap();
    let now = chrono::Utc::now();
    assert!(
        next > now && next - now <= chrono::Duration::days(1),
        "{next}"
    );
    assert_eq!(next.format("%H:%M").to_string(), "06:00", "{next}");
    let text_plan = crate::common::text(&medallion(ws, &["deploy", name, "--dry-run"]));
    assert!(
        text_plan.contains(&format!(
            "next fire (as deployed): {}",
            next.format("%Y-%m-%d %H:%M UTC")
        )),
        "{text_plan}"
    );
}

/// The changes of a `deploy --format json` answer other than `unchanged`.
pub(crate) fn changes(deployed: &Value) -> Vec<&Value> {
    deployed["plan"]["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("{deployed}"))
        .iter()
        .filter(|c| c["action"] != "unchanged")
        .collect()
}

pub(crate) fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", crate::common::text(o)))
}

/// The changes of a plan but its objects (step plans and inputs, see [`objects`]).
fn actions(plan: &Value) -> Vec<(String, String, String)> {
    plan["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] != "object")
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_owned(),
                c["name"].as_str().unwrap().to_owned(),
                c["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The object changes of a plan: (name, action).
fn objects(plan: &Value) -> Vec<(String, String)> {
    plan["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "object")
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Creates the bucket the tests' `aws` resource names (once; moto keeps it).
pub(crate) fn lake_bucket(moto: &str) {
    let rt = runtime();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config(moto))
            .force_path_style(true)
            .build(),
    );
    let _ = rt.block_on(s3.create_bucket().bucket("medallion-lake").send());
}

/// The object `key` of bucket `medallion-lake`, if it exists.
pub(crate) fn lake_object(moto: &str, key: &str) -> Option<Vec<u8>> {
    let rt = runtime();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config(moto))
            .force_path_style(true)
            .build(),
    );
    rt.block_on(async {
        let o = s3
            .get_object()
            .bucket("medallion-lake")
            .key(key)
            .send()
            .await
            .ok()?;
        Some(o.body.collect().await.unwrap().into_bytes().to_vec())
    })
}

/// What moto holds tagged for `project`: state machines, schedule groups, rules.
fn tagged(moto: &str, project: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let rt = runtime();
    let config = sdk_config(moto);
    let sfn = aws_sdk_sfn::Client::new(&config);
    let scheduler = aws_sdk_scheduler::Client::new(&config);
    let events = aws_sdk_eventbridge::Client::new(&config);
    rt.block_on(async {
        let mut machines = Vec::new();
        for m in sfn
            .list_state_machines()
            .send()
            .await
            .unwrap()
            .state_machines()
        {
            let tags = sfn
                .list_tags_for_resource()
                .resource_arn(m.state_machine_arn())
                .send()
                .await
                .unwrap();
            if tags
                .tags()
                .iter()
                .any(|t| t.key() == Some("medallion:project") && t.value() == Some(project))
            {
                machines.push(m.name().to_owned());
            }
        }
        let mut groups = Vec::new();
        for g in scheduler
            .list_schedule_groups()
            .send()
            .await
            .unwrap()
            .schedule_groups()
        {
            let tags = scheduler
                .list_tags_for_resource()
                .resource_arn(g.arn().unwrap())
                .send()
                .await
                .unwrap();
            if tags
                .tags()
                .iter()
                .any(|t| t.key() == "medallion:project" && t.value() == project)
            {
                groups.push(g.name().unwrap().to_owned());
            }
        }
        let mut rules = Vec::new();
        for r in events.list_rules().send().await.unwrap().rules() {
            let tags = events
                .list_tags_for_resource()
                .resource_arn(r.arn().unwrap())
                .send()
                .await
                .unwrap();
            if tags
                .tags()
                .iter()
                .any(|t| t.key() == "medallion:project" && t.value() == project)
            {
                rules.push(r.name().unwrap().to_owned());
            }
        }
        (machines, groups, rules)
    })
}

fn schedule_expression(moto: &str, group: &str, name: &str) -> String {
    let rt = runtime();
    let scheduler = aws_sdk_scheduler::Client::new(&sdk_config(moto));
    rt.block_on(scheduler.get_schedule().group_name(group).name(name).send())
        .unwrap()
        .schedule_expression()
        .unwrap()
        .to_owned()
}

const SENSOR: &str = r#"
[resources.landing]
kind = "s3"
bucket = "landing-bucket"

[sensors.new_orders]
kind = "s3_objects"
resource = "landing"
prefix = "orders/"
selection = "*"
min_interval_secs = 60
"#;

/// The step plans deploy wrote are in S3 in the runner's format, with the execution's run id
/// and the results of the steps before each step filled in at run time; the input files are
/// the project's.
fn assert_plans_in_s3(moto: &str, name: &str, copy: &Path) {
    // The plans are in S3 in the runner's format: the execution's run id and the results of
    // the steps before each step filled in at run time.
    for (i, step) in ["s1-lambda", "s2-fargate", "s3-eks"].iter().enumerate() {
        let key = format!("lake/{name}/_deploy/{step}/plan.json");
        let bytes = lake_object(moto, &key).unwrap_or_else(|| panic!("{key} missing"));
        let plan = medallion::compute::runner::parse_plan(&bytes, &key).unwrap();
        assert_eq!(plan.step_id, *step);
        assert_eq!(
            plan.result_uri,
            format!("s3://medallion-lake/lake/{name}/_runs/{{run}}/{step}/result-{{index}}.json")
        );
        assert_eq!(plan.upstream_results.len(), i, "{key}");
        let run = plan.for_run(Some("exec-7".into()));
        assert_eq!(run.run_id.as_str(), "exec-7");
        assert!(
            run.upstream_results
                .iter()
                .all(|u| u.contains("/_runs/exec-7/")),
            "{:?}",
            run.upstream_results
        );
        if *step == "s1-lambda" {
            // File sources read the uploaded copy; no credential travels.
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                text.contains(&format!("lake/{name}/_deploy/_inputs/raw_orders/_/")),
                "{text}"
            );
            assert!(!text.contains("data/orders.csv"), "{text}");
        }
    }
    let uploaded = lake_object(
        moto,
        &format!("lake/{name}/_deploy/_inputs/raw_orders/_/orders.csv"),
    )
    .expect("the input file was uploaded");
    assert_eq!(
        uploaded,
        std::fs::read(copy.join("data/orders.csv")).unwrap()
    );
}

/// A dry run says what it would create (the state machine and its triggers after the step
/// plans and inputs they read) and creates nothing.
fn dry_run_creates_nothing(moto: &str, ws: &Path, name: &str, dir_arg: &str) {
    let moto = moto.to_owned();
    // A dry run says what it would create and creates nothing.
    let dry = medallion(ws, &["deploy", dir_arg, "--dry-run", "--format", "json"]);
    assert_eq!(dry.status.code(), Some(0), "{}", crate::common::text(&dry));
    let planned = json(&dry);
    assert_eq!(planned["applied"], false);
    let group = format!("medallion-{name}");
    assert_eq!(
        actions(&planned),
        vec![
            ("state_machine".into(), group.clone(), "create".into()),
            ("schedule_group".into(), group.clone(), "create".into()),
            (
                "schedule".into(),
                format!("{group}-nightly"),
                "create".into()
            ),
            (
                "rule".into(),
                format!("{group}-new_orders"),
                "create".into()
            ),
        ]
    );
    // Each step's plan and the input files they read, to be written first.
    let plans_and_inputs = vec![
        (
            "_deploy/_inputs/raw_customer_data/_/customers.csv".to_owned(),
            "create".to_owned(),
        ),
        (
            "_deploy/_inputs/raw_orders/_/orders.csv".into(),
            "create".into(),
        ),
        ("_deploy/s1-lambda/plan.json".into(), "create".into()),
        ("_deploy/s2-fargate/plan.json".into(), "create".into()),
        ("_deploy/s3-eks/plan.json".into(), "create".into()),
        ("_deploy/steps.json".into(), "create".into()),
    ];
    let mut planned_objects = objects(&planned);
    planned_objects.sort();
    assert_eq!(planned_objects, plans_and_inputs);
    assert_eq!(planned["plan"]["changes"][0]["kind"], "object");
    assert_eq!(tagged(&moto, name), (vec![], vec![], vec![]));
    assert_eq!(
        lake_object(&moto, &format!("lake/{name}/_deploy/s1-lambda/plan.json")),
        None
    );
}

#[test]
fn deploy_redeploy_change_a_cron_and_undeploy_against_moto() {
    let Some(moto) = crate::remote_aws::peers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = format!("deploy_{}", std::process::id());
    lake_bucket(&moto);
    let (ws, copy) = workspace(
        dir.path(),
        &name,
        &format!(
            "{}{}{}",
            aws_toml_at(&moto, true, &format!("lake/{name}")),
            SENSOR,
            eks_toml(dir.path())
        ),
    );
    let toml = copy.join("medallion.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let dir_arg = copy.to_str().unwrap().to_owned();

    dry_run_creates_nothing(&moto, &ws, &name, &dir_arg);
    let group = format!("medallion-{name}");

    // Deploy: everything created and tagged; the cron as Scheduler takes it.
    let first = medallion(&ws, &["deploy", &name]);
    let out = crate::common::text(&first);
    assert_eq!(first.status.code(), Some(0), "{out}");
    assert!(out.contains("+ state machine"), "{out}");
    assert!(
        out.contains("Plan: 10 to create, 0 to update, 0 to delete, 0 unchanged. Applied."),
        "{out}"
    );
    assert!(
        out.contains("+ object _deploy/s1-lambda/plan.json (create)"),
        "{out}"
    );
    assert_plans_in_s3(&moto, &name, &copy);
    assert_eq!(
        tagged(&moto, &name),
        (
            vec![group.clone()],
            vec![group.clone()],
            vec![format!("{group}-new_orders")]
        )
    );
    assert_eq!(
        schedule_expression(&moto, &group, &format!("{group}-nightly")),
        "cron(0 6 * * ? *)"
    );

    // Again: nothing changes.
    let again = json(&medallion(&ws, &["deploy", &name, "--format", "json"]));
    assert!(
        actions(&again).iter().all(|(_, _, a)| a == "unchanged"),
        "{again}"
    );
    assert!(
        objects(&again).len() == 6 && objects(&again).iter().all(|(_, a)| a == "unchanged"),
        "{again}"
    );
    the_deployed_schedules_next_fire_is_shown(&ws, &name, &again);

    // A changed cron: exactly one update, saying what differs.
    std::fs::write(
        &toml,
        text.replace("cron = \"0 6 * * *\"", "cron = \"0 5 * * 1-5\""),
    )
    .unwrap();
    let changed = json(&medallion(&ws, &["deploy", &dir_arg, "--format", "json"]));
    assert!(
        objects(&changed).iter().all(|(_, a)| a == "unchanged"),
        "{changed}"
    );
    let updates: Vec<_> = actions(&changed)
        .into_iter()
        .filter(|(_, _, a)| a != "unchanged")
        .collect();
    assert_eq!(
        updates,
        vec![(
            "schedule".into(),
            format!("{group}-nightly"),
            "update".into()
        )]
    );
    let schedule = changed["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "schedule")
        .unwrap();
    let diffs = schedule["differences"].to_string();
    assert!(
        diffs.contains("expression: cron(0 6 * * ? *) → cron(0 5 ? * 2-6 *) (0 6 * * * deployed, 0 5 * * 1-5 in the project)"),
        "{diffs}"
    );
    assert_eq!(
        schedule_expression(&moto, &group, &format!("{group}-nightly")),
        "cron(0 5 ? * 2-6 *)"
    );

    // Undeploy: nothing tagged is left.
    let gone = medallion(&ws, &["undeploy", &name, "--format", "json"]);
    assert_eq!(
        gone.status.code(),
        Some(0),
        "{}",
        crate::common::text(&gone)
    );
    assert_eq!(
        actions(&json(&gone))
            .iter()
            .filter(|(_, _, a)| a == "delete")
            .count(),
        4
    );
    assert_eq!(
        objects(&json(&gone))
            .iter()
            .filter(|(_, a)| a == "delete")
            .count(),
        6
    );
    assert_eq!(tagged(&moto, &name), (vec![], vec![], vec![]));
    assert_eq!(
        lake_object(&moto, &format!("lake/{name}/_deploy/steps.json")),
        None
    );
    assert_eq!(
        lake_object(&moto, &format!("lake/{name}/_deploy/s1-lambda/plan.json")),
        None
    );

    // Each apply is in the audit log.
    let audit = medallion(&ws, &["audit", &name, "--format", "json"]);
    let text = crate::common::text(&audit);
    assert_eq!(text.matches("\"deployed\"").count(), 3, "{text}");
    assert_eq!(text.matches("\"undeployed\"").count(), 1, "{text}");
    // Each names the AWS account STS gives (moto's).
    for e in json(&audit).as_array().unwrap() {
        if e["action"] == "deployed" || e["action"] == "undeployed" {
            assert_eq!(e["where"]["kind"], "aws", "{e}");
            assert_eq!(e["where"]["account"], "123456789012", "{e}");
        }
    }
}

#[test]
fn deploy_without_roles_or_aws_says_so_in_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9: a failed AWS call is exit 1 and one sentence.
    let (ws, _) = workspace(
        dir.path(),
        "unreachable",
        &format!(
            "{}{}",
            aws_toml("http://127.0.0.1:9", true),
            eks_toml(dir.path())
        ),
    );
    let o = medallion(&ws, &["deploy", "unreachable", "--dry-run"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: deploy failed: "), "{err}");
    assert!(!err.contains("DispatchFailure"), "{err}");
    let Some(moto) = crate::remote_aws::peers() else {
        return;
    };
    let (ws, _) = workspace(
        &dir.path().join("m"),
        "noroles",
        &format!("{}{}", aws_toml(&moto, false), eks_toml(dir.path())),
    );
    let o = medallion(&ws, &["deploy", "noroles"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("compute.states_role_arn"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// A project with daily partitions deploys (each execution runs the day its input names), but
/// a schedule of it without a partition rule would start executions that name no day: deploy
/// refuses it in one sentence, exit 2, before any AWS call.
#[test]
fn a_daily_partitioned_projects_schedule_without_a_partition_rule_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, _) = workspace(
        dir.path(),
        "parted",
        &format!(
            "{}{}\n[assets.raw_orders.partitions]\nkind = \"daily\"\nstart = \"2026-01-01\"\n",
            aws_toml("http://127.0.0.1:9", true),
            eks_toml(dir.path())
        ),
    );
    let o = medallion(&ws, &["deploy", "parted", "--dry-run"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "schedule nightly starts a project with daily partitions but has no partition rule"
        ),
        "{err}"
    );
}

/// With moto's ASL interpreter on, an execution of the deployed state machine runs its first
/// Task: moto has no runner function to invoke (its Lambda needs Docker), so the Catch takes
/// the error to `Failed s1-lambda` and the execution fails as `Medallion.StepFailed` with the
/// service's error as its cause. Steps running to success are in `deploy_sync` (Lambda) and
/// `deploy_containers` (Fargate and Batch); moto cannot run `eks:runJob`.
#[test]
fn an_execution_that_cannot_run_its_first_step_fails_in_that_steps_fail_state() {
    let Some(moto) = crate::remote_aws::peers() else {
        return;
    };
    let rt = runtime();
    rt.block_on(async {
        let status = reqwest::Client::new()
            .post(format!("{moto}/moto-api/config"))
            .body(r#"{"stepfunctions":{"execute_state_machine":true}}"#)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "{status}");
    });
    let dir = tempfile::tempdir().unwrap();
    let name = format!("exec_{}", std::process::id());
    lake_bucket(&moto);
    let (ws, _) = workspace(
        dir.path(),
        &name,
        &format!(
            "{}{}",
            aws_toml_at(&moto, true, &format!("lake/{name}")),
            eks_toml(dir.path())
        ),
    );
    let deployed = json(&medallion(&ws, &["deploy", &name, "--format", "json"]));
    let arn = deployed["state_machine_arn"].as_str().unwrap().to_owned();
    let sfn = aws_sdk_sfn::Client::new(&sdk_config(&moto));
    let (status, error, failed_in) = rt.block_on(async {
        let exec = sfn
            .start_execution()
            .state_machine_arn(&arn)
            .name("exec-1")
            .input(r#"{"trigger":"test"}"#)
            .send()
            .await
            .unwrap();
        let started = std::time::Instant::now();
        loop {
            let d = sfn
                .describe_execution()
                .execution_arn(exec.execution_arn())
                .send()
                .await
                .unwrap();
            if d.status() != &aws_sdk_sfn::types::ExecutionStatus::Running
                || started.elapsed() > std::time::Duration::from_mins(1)
            {
                let history = sfn
                    .get_execution_history()
                    .execution_arn(exec.execution_arn())
                    .send()
                    .await
                    .unwrap();
                let entered: Vec<String> = history
                    .events()
                    .iter()
                    .filter_map(|e| e.state_entered_event_details())
                    .map(|s| s.name().to_owned())
                    .collect();
                return (
                    d.status().as_str().to_owned(),
                    d.error().map(str::to_owned),
                    entered,
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
    assert_eq!(status, "FAILED", "{failed_in:?}");
    assert_eq!(error.as_deref(), Some("Medallion.StepFailed"));
    assert_eq!(
        failed_in,
        vec!["Run s1-lambda".to_owned(), "Failed s1-lambda".to_owned()]
    );
    let gone = medallion(&ws, &["undeploy", &name]);
    assert_eq!(
        gone.status.code(),
        Some(0),
        "{}",
        crate::common::text(&gone)
    );
}

/// `check-aws` names the bucket of an `s3_objects` sensor that does not send its events to
/// EventBridge (a deployed sensor's rule would never fire), with the fix.
#[test]
fn check_aws_says_when_a_sensors_bucket_sends_no_events_to_eventbridge() {
    let Some(moto) = crate::remote_aws::peers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = format!("events_{}", std::process::id());
    let landing = format!("landing-{}", std::process::id());
    lake_bucket(&moto);
    let (ws, _) = workspace(
        dir.path(),
        &name,
        &format!(
            "{}{}",
            aws_toml_at(&moto, true, &format!("lake/{name}")),
            SENSOR.replace("landing-bucket", &landing)
        ),
    );
    let rt = runtime();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config(&moto))
            .force_path_style(true)
            .build(),
    );
    rt.block_on(s3.create_bucket().bucket(&landing).send())
        .unwrap();
    let line = |ws: &Path| -> Value {
        let o = medallion(ws, &["check-aws", &name, "--format", "json"]);
        let checks = json(&o);
        checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["item"] == "sensor new_orders events")
            .cloned()
            .unwrap_or_else(|| panic!("no sensor line: {checks}"))
    };
    let missing = line(&ws);
    assert_eq!(missing["state"], "missing", "{missing}");
    let detail = missing["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "bucket {landing} does not send its events to EventBridge"
        )),
        "{detail}"
    );
    assert!(detail.contains("EventBridgeConfiguration"), "{detail}");
    // Moto (5.2.6) stores an EventBridgeConfiguration but never returns it from
    // GetBucketNotificationConfiguration, so the "ok" line cannot be shown against it.
}

/// The example with `daily_revenue` partitioned by `keys` static keys (its unit test names the
/// first), its EKS assets on Batch when `batch`; imported into a new workspace.
fn many_partitions(dir: &Path, name: &str, keys: usize, batch: bool, extra: &str) -> PathBuf {
    let (ws, copy) = workspace(dir, name, extra);
    let toml = copy.join("medallion.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap().replace(
        "name = \"revenue_per_order_date\"\n",
        "name = \"revenue_per_order_date\"\npartition = \"k0000\"\n",
    );
    if batch {
        text = text.replace("tier = \"eks\"", "tier = \"batch\"");
    }
    let keys: Vec<String> = (0..keys).map(|i| format!("\"k{i:04}\"")).collect();
    std::fs::write(
        &toml,
        format!(
            "{text}\n[assets.daily_revenue.partitions]\nkind = \"static\"\nkeys = [{}]\n",
            keys.join(", ")
        ),
    )
    .unwrap();
    let mut w = app::open_workspace(&ws).unwrap();
    app::import_project(&mut w, &copy, true, false).unwrap();
    ws
}

/// A static partition set too large for one Step Functions execution (25,000 history events;
/// a Batch array job's Map records about 10 per partition, other tiers run a step per
/// partition) would deploy and then fail at run time: the definition, and so `deploy`, its
/// dry run and the Deployment window's plan, refuse it in one sentence naming the asset, the
/// partition count, the limit and what to do — exit 2, nothing created.
#[test]
fn a_partition_set_too_large_for_step_functions_is_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let refusal = |ws: &Path, eks_target: Option<&EksTarget>| {
        let w = app::open_workspace(ws).unwrap();
        let stored = app::load_project(&w, "many").unwrap();
        app::deploy::definition(&w, &stored, None, "us-east-1", eks_target)
            .unwrap_err()
            .to_string()
    };
    // On Batch: one array job of 3,000 children.
    let batch = many_partitions(
        &dir.path().join("b"),
        "many",
        3000,
        true,
        &aws_toml("http://127.0.0.1:9", true),
    );
    let said = refusal(&batch, None);
    assert!(
        said.contains("asset daily_revenue has 3000 partitions")
            && said.contains("one Batch array job")
            && said.contains("over Step Functions' limit of 25000")
            && said.contains("fewer partition keys (at most about 24"),
        "{said}"
    );
    // On EKS: a step per partition; the sentence says to use a Batch tier.
    let eks_ws = many_partitions(
        &dir.path().join("e"),
        "many",
        3000,
        false,
        &aws_toml("http://127.0.0.1:9", true),
    );
    let said = refusal(&eks_ws, Some(&eks()));
    assert!(
        said.contains("asset daily_revenue has 3000 partitions, run as one eks step per partition")
            && said.contains("over Step Functions' limit of")
            && said.contains("run it on a Batch tier"),
        "{said}"
    );
    // A set that fits deploys as before.
    let fits = many_partitions(
        &dir.path().join("f"),
        "many",
        500,
        true,
        &aws_toml("http://127.0.0.1:9", true),
    );
    let w = app::open_workspace(&fits).unwrap();
    let stored = app::load_project(&w, "many").unwrap();
    assert!(app::deploy::definition(&w, &stored, None, "us-east-1", None).is_ok());

    // Against moto: deploy and its dry run refuse, exit 2, one line, nothing created.
    let Some(moto) = crate::remote_aws::peers() else {
        return;
    };
    let ws = many_partitions(
        &dir.path().join("m"),
        "many",
        3000,
        true,
        &aws_toml(&moto, true),
    );
    for args in [vec!["deploy", "many", "--dry-run"], vec!["deploy", "many"]] {
        let o = medallion(&ws, &args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("asset daily_revenue has 3000 partitions"),
            "{err}"
        );
    }
    let (machines, groups, rules) = tagged(&moto, "many");
    assert!(
        machines.is_empty() && groups.is_empty() && rules.is_empty(),
        "{machines:?} {groups:?} {rules:?}"
    );
}
