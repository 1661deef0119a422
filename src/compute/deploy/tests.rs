use serde_json::json;

use super::*;

#[test]
fn five_field_crons_become_scheduler_expressions() {
    let ok = |c: &str| scheduler_cron(c).unwrap();
    assert_eq!(ok("0 6 * * *"), "cron(0 6 * * ? *)");
    assert_eq!(ok("*/15 * * * *"), "cron(*/15 * * * ? *)");
    assert_eq!(ok("30 2 1 * *"), "cron(30 2 1 * ? *)");
    // Days of the week count from 1 (Sunday) on EventBridge; 0 and 7 are both Sunday.
    assert_eq!(ok("0 5 * * 1-5"), "cron(0 5 ? * 2-6 *)");
    assert_eq!(ok("0 5 * * 0,6"), "cron(0 5 ? * 1,7 *)");
    assert_eq!(ok("0 5 * * 7"), "cron(0 5 ? * 1 *)");
    assert_eq!(ok("0 5 * * MON-FRI"), "cron(0 5 ? * MON-FRI *)");
    assert_eq!(ok("0 5 * * 1-5/2"), "cron(0 5 ? * 2-6/2 *)");
    let err = |c: &str| scheduler_cron(c).unwrap_err().to_string();
    assert!(err("0 6 * *").contains("five fields"), "{}", err("0 6 * *"));
    assert!(err("0 6 1 * 1").contains("both a day of the month and a day of the week"));
    assert!(err("0 6 * * 8").contains("not 0–7"));
}

fn item(kind: ItemKind, name: &str, config: serde_json::Value) -> (Desired, Current) {
    (
        Desired {
            kind,
            name: name.to_owned(),
            config: config.clone(),
            summary: String::new(),
        },
        Current {
            kind,
            name: name.to_owned(),
            arn: format!("arn:{name}"),
            config,
        },
    )
}

#[test]
fn a_plan_creates_updates_deletes_and_leaves_the_rest() {
    let (m, m_now) = item(
        ItemKind::StateMachine,
        "m",
        json!({"definition": {"a": 1}, "role_arn": "r"}),
    );
    let (s, mut s_now) = item(
        ItemKind::Schedule,
        "m-nightly",
        json!({"expression": "cron(0 5 * * ? *)"}),
    );
    s_now.config = json!({"expression": "cron(0 6 * * ? *)"});
    let (g, _) = item(ItemKind::ScheduleGroup, "m", json!({}));
    let (_, old_rule) = item(ItemKind::Rule, "m-old", json!({}));
    let plan = diff(&[s, g, m], &[old_rule, s_now, m_now]);
    let got: Vec<(ItemKind, &str, Action)> = plan
        .iter()
        .map(|c| (c.kind, c.name.as_str(), c.action))
        .collect();
    assert_eq!(
        got,
        vec![
            (ItemKind::StateMachine, "m", Action::Unchanged),
            (ItemKind::ScheduleGroup, "m", Action::Create),
            (ItemKind::Schedule, "m-nightly", Action::Update),
            (ItemKind::Rule, "m-old", Action::Delete),
        ]
    );
    assert_eq!(
        plan[2].differences,
        vec!["expression: cron(0 6 * * ? *) → cron(0 5 * * ? *)".to_owned()]
    );
    assert_eq!(plan[0].arn.as_deref(), Some("arn:m"));
    assert_eq!(plan[1].arn, None);
}

#[test]
fn a_changed_definition_is_one_difference_not_a_dump() {
    let (m, mut now) = item(
        ItemKind::StateMachine,
        "m",
        json!({"definition": {"States": {"a": 1}}, "role_arn": "r"}),
    );
    now.config = json!({"definition": {"States": {"a": 2}}, "role_arn": "r"});
    let plan = diff(&[m], &[now]);
    assert_eq!(plan[0].action, Action::Update);
    assert_eq!(
        plan[0].differences,
        vec!["definition: the states differ".to_owned()]
    );
}

#[test]
fn undeploy_deletes_what_points_at_the_state_machine_first() {
    let (_, m) = item(ItemKind::StateMachine, "m", json!({}));
    let (_, g) = item(ItemKind::ScheduleGroup, "m", json!({}));
    let (_, s) = item(ItemKind::Schedule, "m-s", json!({}));
    let (_, r) = item(ItemKind::Rule, "m-r", json!({}));
    let plan = diff(&[], &[m, g, s, r]);
    let kinds: Vec<ItemKind> = plan.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ItemKind::Rule,
            ItemKind::Schedule,
            ItemKind::ScheduleGroup,
            ItemKind::StateMachine
        ]
    );
    assert!(plan.iter().all(|c| c.action == Action::Delete));
}

#[test]
fn names_keep_to_what_aws_allows() {
    assert_eq!(
        resource_name("customer analytics", Some("nightly"), 64),
        "medallion-customer-analytics-nightly"
    );
    assert_eq!(resource_name(&"x".repeat(100), None, 64).len(), 64);
}

#[test]
fn a_partitioned_batch_step_is_an_array_job_without_a_result_read() {
    use crate::compute::steps::PlannedRemoteStep;
    use crate::model::{AssetKey, AwsCompute, ComputeTier};
    let settings = AwsCompute {
        bucket: "b".into(),
        job_queue: Some("q".into()),
        job_definition: Some("d".into()),
        ..AwsCompute::default()
    };
    let target = asl::AslTarget {
        project: "p",
        region: "us-east-1",
        settings: &settings,
        eks: None,
    };
    let steps = asl::deployed_steps(&[PlannedRemoteStep {
        tier: ComputeTier::Batch,
        reason: String::new(),
        assets: vec![AssetKey::new("a")],
        partitions: vec!["2026-01-01".into(), "2026-01-02".into()],
        vcpu: 2.0,
        memory_mb: 4096,
        spot: false,
        timeout_secs: Some(30),
    }]);
    let d = asl::compile(&target, &steps).unwrap();
    let run = &d["States"]["Run s1-batch"];
    assert_eq!(run["Resource"], "arn:aws:states:::batch:submitJob.sync");
    assert_eq!(run["Parameters"]["ArrayProperties"]["Size"], 2);
    // Batch refuses timeouts under a minute.
    assert_eq!(run["Parameters"]["Timeout"]["AttemptDurationSeconds"], 60);
    assert_eq!(run["Next"], "Succeeded");
    assert!(d["States"].get("Result s1-batch").is_none());
    assert_eq!(run["Parameters"]["Tags"]["medallion:project"], "p");
    // A step on a tier a deployment cannot run is refused with a sentence.
    let mut local = steps[0].clone();
    local.step.tier = ComputeTier::Local;
    let err = asl::compile(&target, &[local]).unwrap_err().to_string();
    assert!(
        err.contains("a deployed project runs every step on AWS"),
        "{err}"
    );
    // A missing setting is named.
    let mut lambda = steps[0].clone();
    lambda.step.tier = ComputeTier::Lambda;
    let err = asl::compile(&target, &[lambda]).unwrap_err().to_string();
    assert!(err.contains("compute.lambda_function"), "{err}");
}

#[test]
fn a_deployed_plan_takes_the_executions_run_id() {
    use crate::compute::protocol::{ObjectStore, PROTOCOL_VERSION, StepPlan};
    use crate::model::{Project, RunId};
    let store = ObjectStore {
        bucket: "b".into(),
        prefix: "p".into(),
    };
    let plan = StepPlan {
        version: PROTOCOL_VERSION,
        run_id: RunId::new("deployed"),
        step_id: "s1-lambda".into(),
        project: Project::default(),
        assets: Vec::new(),
        partitions: Vec::new(),
        force: false,
        previous: Vec::new(),
        previous_checks: Vec::new(),
        store: store.clone(),
        result_uri: asl::result_uri(&store, "s1-lambda"),
        masks: crate::model::masking::MaskPlan::default(),
    };
    let run = plan.clone().for_run(Some(RunId::new("exec-1")));
    assert_eq!(run.run_id.as_str(), "exec-1");
    assert_eq!(
        run.result_uri_for(None),
        "s3://b/p/_runs/exec-1/s1-lambda/result-0.json"
    );
    assert_eq!(plan.clone().for_run(None), plan);
}
