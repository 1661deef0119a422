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
        vec![
            "expression: cron(0 6 * * ? *) → cron(0 5 * * ? *) (0 6 * * * deployed, 0 5 * * * in the project)"
                .to_owned()
        ]
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
fn a_partitioned_batch_step_is_an_array_job_whose_children_results_are_read() {
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
        day_from_input: false,
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
    // Whether the job succeeded or failed (on AWS a child exiting non-zero fails the array),
    // each child's result is read back: a failed check in one partition fails the execution
    // naming the check and the partition.
    assert_eq!(run["Next"], "Children s1-batch");
    assert_eq!(run["Catch"][0]["Next"], "Children s1-batch");
    assert_eq!(run["Catch"][0]["ResultPath"], "$.errors.s1_batch");
    let states = &d["States"];
    assert_eq!(
        states["Children s1-batch"]["Result"],
        serde_json::json!([0, 1])
    );
    let map = &states["Results s1-batch"];
    assert_eq!(map["Type"], "Map");
    assert_eq!(map["ItemsPath"], "$.children.s1_batch");
    let inner = &map["ItemProcessor"]["States"];
    assert_eq!(
        inner["Child result s1-batch"]["Parameters"]["Key.$"],
        "States.Format('medallion/p/_runs/{}/s1-batch/result-{}.json', $.run, $.index)"
    );
    assert_eq!(inner["Child blocked s1-batch"]["Type"], "Fail");
    assert_eq!(map["Catch"][0]["ErrorEquals"][0], "Medallion.StepFailed");
    assert_eq!(map["Catch"][0]["Next"], "Blocked s1-batch");
    assert_eq!(states["Blocked s1-batch"]["CausePath"], "$.blocked.Cause");
    assert_eq!(map["Catch"][1]["Next"], "Unread s1-batch");
    // Every child succeeded: on, unless the job itself failed.
    let check = &states["Check s1-batch"];
    assert_eq!(check["Choices"][0]["Next"], "Failed s1-batch");
    assert_eq!(check["Default"], "Succeeded");
    assert!(states.get("Result s1-batch").is_none());
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

/// The object store of the plans below.
fn test_store() -> crate::compute::protocol::ObjectStore {
    crate::compute::protocol::ObjectStore {
        bucket: "b".into(),
        prefix: "p".into(),
    }
}

/// A deployed step's plan (`s1-lambda`) of `assets` of `project`, as deploy writes it.
fn deployed_plan(
    project: crate::model::Project,
    assets: Vec<crate::model::AssetKey>,
) -> crate::compute::protocol::StepPlan {
    let store = test_store();
    crate::compute::protocol::StepPlan {
        version: crate::compute::protocol::PROTOCOL_VERSION,
        run_id: crate::model::RunId::new("deployed"),
        step_id: "s1-lambda".into(),
        project,
        assets,
        partitions: Vec::new(),
        force: false,
        previous: Vec::new(),
        previous_checks: Vec::new(),
        result_uri: asl::result_uri(&store, "s1-lambda"),
        store,
        upstream_results: Vec::new(),
        masks: crate::model::masking::MaskPlan::default(),
    }
}

#[test]
fn a_deployed_plan_takes_the_executions_run_id() {
    use crate::compute::protocol::StepPlan;
    use crate::model::{Project, RunId};
    let store = test_store();
    let plan = StepPlan {
        upstream_results: vec![asl::result_uri(&store, "s0-fargate").replace("{index}", "0")],
        ..deployed_plan(Project::default(), Vec::new())
    };
    let run = plan.clone().for_run(Some(RunId::new("exec-1")));
    assert_eq!(run.run_id.as_str(), "exec-1");
    assert_eq!(
        run.result_uri_for(None),
        "s3://b/p/_runs/exec-1/s1-lambda/result-0.json"
    );
    assert_eq!(
        run.upstream_results,
        vec!["s3://b/p/_runs/exec-1/s0-fargate/result-0.json".to_owned()]
    );
    assert_eq!(plan.clone().for_run(None), plan);
}

/// A deployed step's plan names the results of the steps before it; the runner reads their
/// materializations (replacing older ones of the same asset) and check evaluations.
#[test]
fn a_deployed_step_reads_what_the_steps_before_it_made() {
    use crate::compute::protocol::{ObjectStore, PROTOCOL_VERSION, StepPlan, StepResult};
    use crate::compute::runner::merge_upstream;
    use crate::model::{
        AssetCheckResult, AssetKey, AssetMaterialization, CheckSeverity, Project, RunEvent, RunId,
        RunStatus,
    };
    let now = chrono::Utc::now();
    let made = |run: &str| AssetMaterialization {
        asset: AssetKey::new("raw_orders"),
        partition: None,
        run_id: RunId::new(run),
        location: format!("s3://b/p/raw_orders/_/{run}.parquet"),
        row_count: 3,
        byte_count: 10,
        schema: Vec::new(),
        definition_hash: "h".into(),
        code_version: None,
        input_versions: std::collections::BTreeMap::new(),
        data_version: run.into(),
        created_at: now,
    };
    let check = AssetCheckResult {
        asset: AssetKey::new("raw_orders"),
        partition: None,
        check_name: "ids_unique".into(),
        passed: true,
        severity: CheckSeverity::Error,
        blocking: true,
        description: String::new(),
        failing_count: 0,
        failing_sample: Vec::new(),
        check_hash: "c".into(),
        materialization_run_id: Some(RunId::new("exec-1")),
    };
    let store = ObjectStore {
        bucket: "b".into(),
        prefix: "p".into(),
    };
    let plan = StepPlan {
        version: PROTOCOL_VERSION,
        run_id: RunId::new("exec-1"),
        step_id: "s2-fargate".into(),
        project: Project::default(),
        assets: Vec::new(),
        partitions: Vec::new(),
        force: false,
        previous: vec![made("older")],
        previous_checks: Vec::new(),
        store,
        result_uri: String::new(),
        upstream_results: vec!["s3://b/p/_runs/exec-1/s1-lambda/result-0.json".into()],
        masks: crate::model::masking::MaskPlan::default(),
    };
    let before = StepResult {
        version: PROTOCOL_VERSION,
        run_id: RunId::new("exec-1"),
        step_id: "s1-lambda".into(),
        partition: None,
        status: RunStatus::Success,
        error: None,
        events: vec![
            RunEvent::Materialization(made("exec-1")),
            RunEvent::CheckEvaluation(check.clone()),
        ],
        duration_secs: 1.0,
    };
    let merged = merge_upstream(plan, &[before], now);
    assert_eq!(merged.previous, vec![made("exec-1")]);
    assert_eq!(merged.previous_checks.len(), 1);
    assert_eq!(merged.previous_checks[0].result, check);
    assert_eq!(merged.previous_checks[0].run_id.as_str(), "exec-1");
}

/// A Lambda step's invocation answers with the runner's result: it is checked as it comes
/// back, without reading the result object.
#[test]
fn a_lambda_step_checks_the_invocations_answer() {
    use crate::compute::steps::PlannedRemoteStep;
    use crate::model::{AssetKey, AwsCompute, ComputeTier};
    let settings = AwsCompute {
        bucket: "b".into(),
        lambda_function: Some("f".into()),
        ..AwsCompute::default()
    };
    let target = asl::AslTarget {
        project: "p",
        region: "us-east-1",
        settings: &settings,
        eks: None,
        day_from_input: false,
    };
    let steps = asl::deployed_steps(&[PlannedRemoteStep {
        tier: ComputeTier::Lambda,
        reason: String::new(),
        assets: vec![AssetKey::new("a")],
        partitions: Vec::new(),
        vcpu: 1.0,
        memory_mb: 1024,
        spot: false,
        timeout_secs: None,
    }]);
    let d = asl::compile(&target, &steps).unwrap();
    let run = &d["States"]["Run s1-lambda"];
    assert_eq!(run["ResultSelector"]["result.$"], "$.Payload");
    assert_eq!(run["ResultPath"], "$.results.s1_lambda");
    assert_eq!(run["Next"], "Check s1-lambda");
    assert!(d["States"].get("Result s1-lambda").is_none());
    assert_eq!(
        d["States"]["Check s1-lambda"]["Choices"][0]["Variable"],
        "$.results.s1_lambda.result.status"
    );
}

#[test]
fn a_changed_list_of_names_says_what_joined_and_left() {
    let (mut want, have) = item(
        ItemKind::Queue,
        "medallion-p-alerts-dlq",
        json!({ "send_from_rules": ["r-a", "r-b"] }),
    );
    want.config = json!({ "send_from_rules": ["r-b", "r-c"] });
    let changes = diff(&[want], &[have]);
    assert_eq!(changes[0].action, Action::Update);
    assert_eq!(changes[0].differences, ["send_from_rules: + r-c, - r-a"]);
}

/// A deployed project with daily partitions: each execution's plan runs the day its input
/// names — a manual start's `partition`, or a schedule's time read by its rule in its time
/// zone — and an input that names no day is refused in one sentence.
#[test]
fn a_daily_partitioned_plan_takes_the_day_from_the_executions_input() {
    use crate::model::{AssetKey, AssetSpec, Layer, PartitionsDefinition, Project};
    let mut project = Project::default();
    let mut daily = AssetSpec::new("events", Layer::Bronze);
    daily.partitions = PartitionsDefinition::Daily {
        start: "2026-01-01".into(),
        end: None,
    };
    project.assets.push(daily);
    project.assets.push(AssetSpec::new("totals", Layer::Silver));
    let plan = deployed_plan(
        project,
        vec![AssetKey::new("events"), AssetKey::new("totals")],
    );
    let day = |input: &str| {
        plan.clone()
            .for_execution_input(Some(input))
            .map(|p| p.partitions)
    };
    assert_eq!(
        day(r#"{"partition": "2026-03-04"}"#).unwrap(),
        ["2026-03-04"]
    );
    // 01:30 UTC on 5 March is still 4 March in New York: the day before is 3 March.
    let scheduled = |rule: &str, tz: &str| {
        day(&format!(
            r#"{{"trigger": "schedule:nightly", "scheduled_time": "2026-03-05T01:30:00Z", "partition_rule": "{rule}", "timezone": "{tz}"}}"#
        ))
    };
    assert_eq!(scheduled("previous_day", "UTC").unwrap(), ["2026-03-04"]);
    assert_eq!(
        scheduled("previous_day", "America/New_York").unwrap(),
        ["2026-03-03"]
    );
    assert_eq!(scheduled("tick_date", "UTC").unwrap(), ["2026-03-05"]);
    let err = day(r#"{"trigger": "manual"}"#).unwrap_err().to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("events is partitioned by day and this execution names no day: start it with the input {\"partition\": \"YYYY-MM-DD\"}"),
        "{err}"
    );
    assert!(plan.clone().for_execution_input(None).is_err());
    let err = scheduled("previous_day", "Mars/Olympus")
        .unwrap_err()
        .to_string();
    assert!(err.contains("the execution's timezone"), "{err}");
    // A plan that lists its partitions, or has no daily asset, is left as it is.
    let mut listed = plan.clone();
    listed.partitions = vec!["2026-01-02".into()];
    assert_eq!(listed.clone().for_execution_input(None).unwrap(), listed);
    let mut undated = plan.clone();
    undated.assets = vec![AssetKey::new("totals")];
    assert_eq!(undated.clone().for_execution_input(None).unwrap(), undated);
}

/// The state machine of a daily partitioned project gives every step the execution's input
/// (containers: an environment variable; Lambda: the payload), and its schedules give each
/// execution the scheduled time, the partition rule and the time zone.
#[test]
fn a_daily_partitioned_project_passes_the_executions_input_to_every_step() {
    use crate::model::ComputeTier;
    let settings = crate::model::AwsCompute {
        bucket: "lake".into(),
        cluster: Some("c".into()),
        job_queue: Some("q".into()),
        job_definition: Some("d".into()),
        lambda_function: Some("f".into()),
        ..crate::model::AwsCompute::default()
    };
    let step = |tier| asl::DeployedStep {
        id: crate::compute::steps::step_id(0, tier),
        step: crate::compute::steps::PlannedRemoteStep {
            tier,
            reason: String::new(),
            assets: vec![crate::model::AssetKey::new("events")],
            partitions: Vec::new(),
            vcpu: 1.0,
            memory_mb: 2048,
            spot: false,
            timeout_secs: None,
        },
    };
    for day_from_input in [false, true] {
        let target = asl::AslTarget {
            project: "p",
            region: "eu-west-1",
            settings: &settings,
            eks: None,
            day_from_input,
        };
        for tier in [
            ComputeTier::Fargate,
            ComputeTier::Batch,
            ComputeTier::Lambda,
        ] {
            let s = step(tier);
            let definition = asl::compile(&target, std::slice::from_ref(&s)).unwrap();
            let text = definition["States"][format!("Run {}", s.id)]["Parameters"].to_string();
            let has = text.contains("$$.Execution.Input");
            assert_eq!(has, day_from_input, "{tier}: {text}");
            if day_from_input && tier != ComputeTier::Lambda {
                assert!(text.contains("MEDALLION_EXECUTION_INPUT"), "{text}");
            }
        }
    }
    let spec = |rule| ScheduleSpec {
        project: "p",
        name: "nightly",
        cron: "0 6 * * *",
        timezone: "Europe/Berlin",
        enabled: true,
        state_machine_arn: "arn:sm",
        role_arn: "arn:role",
        partition_rule: rule,
    };
    let input = |rule| -> serde_json::Value {
        serde_json::from_str(
            schedule(&spec(rule)).unwrap().config["input"]
                .as_str()
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(input(None), json!({ "trigger": "schedule:nightly" }));
    assert_eq!(
        input(Some("previous_day")),
        json!({
            "trigger": "schedule:nightly",
            "scheduled_time": "<aws.scheduler.scheduled-time>",
            "partition_rule": "previous_day",
            "timezone": "Europe/Berlin",
        })
    );
}

/// An `s3_objects` sensor of a daily partitioned project: its rule's input transformer writes
/// the event's time and the sensor's rule, which the runner reads as a schedule's (in UTC).
#[test]
fn a_daily_partitioned_projects_sensor_gives_the_event_time_and_its_rule() {
    let plain = sensor_rule(
        "p", "arrivals", "b", "in/", "arn:sm", "arn:role", true, None,
    );
    assert_eq!(plain.config["input"], json!(start_input("sensor:arrivals")));
    assert!(plain.config.get("input_template").is_none());
    let dated = sensor_rule(
        "p",
        "arrivals",
        "b",
        "in/",
        "arn:sm",
        "arn:role",
        true,
        Some("previous_day"),
    );
    assert_eq!(dated.config["input_paths"], json!({ "time": "$.time" }));
    // EventBridge puts a string value in as a JSON string.
    let filled = dated.config["input_template"]
        .as_str()
        .unwrap()
        .replace("<time>", "\"2026-03-05T23:30:00Z\"");
    let input: serde_json::Value = serde_json::from_str(&filled).unwrap();
    assert_eq!(
        input,
        json!({
            "trigger": "sensor:arrivals",
            "scheduled_time": "2026-03-05T23:30:00Z",
            "partition_rule": "previous_day",
            "timezone": "UTC",
        })
    );
}

#[test]
fn a_deployed_schedules_expression_reads_back_and_gives_its_next_fire() {
    use chrono::TimeZone;
    for cron in [
        "0 6 * * *",
        "0 5 * * 1-5",
        "30 2 1 * *",
        "0 7 * * 0,6",
        "*/15 * * * MON",
    ] {
        let deployed = scheduler_cron(cron).unwrap();
        assert_eq!(
            five_field_cron(&deployed).as_deref(),
            Some(cron),
            "{deployed}"
        );
    }
    assert_eq!(five_field_cron("rate(5 minutes)"), None);
    assert_eq!(five_field_cron("cron(0 6 * * ? 2027)"), None);
    let schedule = |expression: &str, state: &str| Current {
        kind: ItemKind::Schedule,
        name: "medallion-p-nightly".into(),
        arn: "arn:aws:scheduler:us-east-1:123456789012:schedule/medallion-p/medallion-p-nightly"
            .into(),
        config: json!({ "expression": expression, "timezone": "Europe/Berlin", "state": state }),
    };
    // Monday 2026-12-07 10:00 UTC: the next weekday 05:00 in Berlin (CET, UTC+1) is Tuesday's.
    let after = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
    assert_eq!(
        deployed_next_fire(&schedule("cron(0 5 ? * 2-6 *)", "ENABLED"), after),
        Some(chrono::Utc.with_ymd_and_hms(2026, 12, 8, 4, 0, 0).unwrap())
    );
    assert_eq!(
        deployed_next_fire(&schedule("cron(0 5 ? * 2-6 *)", "DISABLED"), after),
        None
    );
    let mut rule = schedule("cron(0 5 ? * 2-6 *)", "ENABLED");
    rule.kind = ItemKind::Rule;
    assert_eq!(deployed_next_fire(&rule, after), None);
}

/// The next fire time reads in UTC and in the schedule's own time zone, with the date when it
/// is another day there.
#[test]
fn a_next_fire_time_is_said_in_utc_and_in_the_schedules_time_zone() {
    use chrono::TimeZone;
    let at = chrono::Utc.with_ymd_and_hms(2026, 12, 8, 4, 0, 0).unwrap();
    assert_eq!(
        next_fire_text(at, "Europe/Berlin"),
        "2026-12-08 04:00 UTC (05:00 Europe/Berlin)"
    );
    assert_eq!(next_fire_text(at, "UTC"), "2026-12-08 04:00 UTC");
    assert_eq!(next_fire_text(at, "Not/AZone"), "2026-12-08 04:00 UTC");
    let late = chrono::Utc
        .with_ymd_and_hms(2026, 12, 7, 23, 30, 0)
        .unwrap();
    assert_eq!(
        next_fire_text(late, "Asia/Tokyo"),
        "2026-12-07 23:30 UTC (2026-12-08 08:30 Asia/Tokyo)"
    );
}

/// The plan (and the Deployment window, which shows the same summary) says when a schedule
/// fires in words — which weekday, which day of the month, which time zone — beside the
/// expression Scheduler gets.
#[test]
fn a_schedules_summary_says_when_it_fires_in_words() {
    let summary = |cron: &str, timezone: &str, enabled: bool| {
        schedule(&ScheduleSpec {
            project: "shop",
            name: "nightly",
            cron,
            timezone,
            enabled,
            state_machine_arn: "arn:aws:states:eu-west-1:1:stateMachine:m",
            role_arn: "arn:aws:iam::1:role/r",
            partition_rule: None,
        })
        .unwrap()
        .summary
    };
    assert_eq!(
        summary("0 6 * * *", "UTC", true),
        "every day at 06:00 (UTC) · cron(0 6 * * ? *)"
    );
    assert_eq!(
        summary("30 4 * * 1", "Europe/Berlin", true),
        "every Monday at 04:30 (Europe/Berlin) · cron(30 4 ? * 2 *)"
    );
    assert_eq!(
        summary("0 3 1 * *", "America/New_York", false),
        "on day 1 of the month at 03:00 (America/New_York) · cron(0 3 1 * ? *), disabled"
    );
    assert_eq!(
        summary("0 6,18 * * *", "UTC", true),
        "every day at 06:00 and 18:00 (UTC) · cron(0 6,18 * * ? *)"
    );
}
