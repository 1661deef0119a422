//! The Amazon States Language definition of a deployed project, compiled from the same remote
//! plan a launch uses ([`crate::compute::steps::plan_steps`]: tiers, sizes, step grouping).
//! Pure: no AWS call, no clock — the same plan always gives the same bytes, so the example's
//! definition is a reviewed snapshot.
//!
//! Per step, in the launch's order:
//! - `Run <step>`: a Task with the tier's native integration — `ecs:runTask.sync` (Fargate),
//!   `batch:submitJob.sync` (Batch; an array job when the step has several partitions),
//!   `lambda:invoke`, `eks:runJob.sync` (EKS) — running the runner image with
//!   `runner --plan <uri>` and the plan URI in `MEDALLION_PLAN_URI`, as launches do; the run id
//!   is the execution's name (`MEDALLION_RUN_ID`); a project with daily partitions also gets
//!   the execution's input (`MEDALLION_EXECUTION_INPUT`, the Lambda payload's `input`), from
//!   which the runner takes the day. Retries throttling; a Catch records the error under
//!   `$.errors.<step>` — and, for a container (whose task fails when the runner exits non-zero after a
//!   failed check, as Batch and EKS do), goes on to read the result anyway; for Lambda it goes
//!   to `Failed <step>`.
//! - `Result <step>`: reads the step's result object (`aws-sdk:s3:getObject`), the runner's
//!   own word on the step (`ecs:runTask.sync` succeeds whatever the container's exit code,
//!   and moto's Batch marks every job succeeded). A Lambda step has none:
//!   the invocation's response is the runner's result (status, error).
//! - `Check <step>`: success goes on; anything else goes to `Blocked <step>`, a Fail state whose
//!   cause is the runner's headline (`check X of asset Y failed: …` for a failed check). A
//!   container whose task failed with a successful result ends in `Failed <step>` (the task's
//!   error); one whose result cannot be read in `Unread <step>` → `Failed <step>` after a
//!   failed task, else `No result <step>` (S3's error).
//!
//! A step with several partitions is one Batch array job with one result per child:
//! `Children <step>` lists the child indexes and `Results <step>`, a Map, reads each child's
//! result; the first without success fails the Map, and the execution ends in `Blocked <step>`
//! with the child's partition and headline (`partition us (child 1): check X …`). No secret
//! enters the definition: the
//! runner reaches AWS through its role and resolves `{ env = … }` references at run time.

use serde_json::{Value, json};

use crate::compute::eks::job::{self, JobSettings, StepJob};
use crate::compute::error::ComputeError;
use crate::compute::launch::LaunchSpec;
use crate::compute::protocol::{
    EXECUTION_INPUT_ENV_VAR, ObjectStore, PLAN_ENV_VAR, RUN_ID_ENV_VAR,
};
use crate::compute::steps::PlannedRemoteStep;
use crate::model::{AwsCompute, ComputeHints, ComputeTier, RunId};

/// Where the EKS steps of a deployed project run: the cluster as `eks:runJob` names it.
#[derive(Debug, Clone, PartialEq)]
pub struct EksTarget {
    pub cluster: String,
    /// The API server's URL.
    pub endpoint: String,
    /// The cluster's CA certificate, base64 (as `DescribeCluster` gives it).
    pub certificate_authority: String,
    pub namespace: String,
    pub service_account: Option<String>,
    pub image: String,
}

/// What the compiler needs besides the steps.
#[derive(Debug, Clone, PartialEq)]
pub struct AslTarget<'a> {
    pub project: &'a str,
    pub region: &'a str,
    pub settings: &'a AwsCompute,
    pub eks: Option<&'a EksTarget>,
    /// The project has daily partitioned assets: every step gets the execution's input, from
    /// which the runner takes the day ([`EXECUTION_INPUT_ENV_VAR`]).
    pub day_from_input: bool,
}

impl AslTarget<'_> {
    fn store(&self) -> ObjectStore {
        ObjectStore {
            bucket: self.settings.bucket.clone(),
            prefix: self.settings.prefix_for(self.project),
        }
    }
}

/// A step of the deployed state machine: its id (as a launch names it) and the plan.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeployedStep {
    pub id: String,
    pub step: PlannedRemoteStep,
}

/// The steps of a remote plan with a launch's ids (`s1-lambda`, `s2-fargate`, …).
pub fn deployed_steps(steps: &[PlannedRemoteStep]) -> Vec<DeployedStep> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| DeployedStep {
            id: crate::compute::steps::step_id(i, s.tier),
            step: s.clone(),
        })
        .collect()
}

/// Where a deployed step's plan lives: written at deploy time, read by every execution.
pub fn plan_uri(store: &ObjectStore, step_id: &str) -> String {
    format!(
        "s3://{}/{}/_deploy/{step_id}/plan.json",
        store.bucket, store.prefix
    )
}

/// Where deploy writes the deployed steps (ids, tiers, sizes, assets), under the project's
/// prefix: `sync` reads the executions' results and prices their steps by them, whatever the
/// project has become since.
pub const STEPS_OBJECT: &str = "_deploy/steps.json";

/// The result object a deployed step writes (`{run}` is the execution's name).
pub fn result_uri(store: &ObjectStore, step_id: &str) -> String {
    format!(
        "s3://{}/{}/_runs/{{run}}/{step_id}/result-{{index}}.json",
        store.bucket, store.prefix
    )
}

/// The runner's command, as a launch gives it ([`LaunchSpec::command`]).
pub fn runner_command(plan_uri: &str) -> Vec<String> {
    vec![
        "runner".to_owned(),
        "--plan".to_owned(),
        plan_uri.to_owned(),
    ]
}

/// The state machine's definition for `steps`.
///
/// # Errors
/// A step on a tier a deployment cannot run (local, auto), or a tier whose settings are
/// missing (no cluster for Fargate, no queue for Batch, no function for Lambda, no EKS
/// cluster for EKS).
pub fn compile(target: &AslTarget<'_>, steps: &[DeployedStep]) -> Result<Value, ComputeError> {
    if steps.is_empty() {
        return Err(ComputeError::invalid(format!(
            "project {} has no asset to deploy",
            target.project
        )));
    }
    let mut states = serde_json::Map::new();
    for (i, s) in steps.iter().enumerate() {
        let next = steps
            .get(i + 1)
            .map_or_else(|| "Succeeded".to_owned(), |n| run_state(&n.id));
        for (name, state) in step_states(target, s, &next)? {
            states.insert(name, state);
        }
    }
    states.insert("Succeeded".to_owned(), json!({ "Type": "Succeed" }));
    let definition = json!({
        "Comment": format!("Medallion project {}: {} step(s), compiled by `medallion deploy`", target.project, steps.len()),
        "StartAt": run_state(&steps[0].id),
        "States": Value::Object(states),
    });
    check_limits(target.project, steps, &definition)?;
    Ok(definition)
}

/// Step Functions' limit on the events of one execution's history.
pub const MAX_HISTORY_EVENTS: usize = 25_000;
/// Step Functions' limit on a state machine's definition (1 MB).
pub const MAX_DEFINITION_BYTES: usize = 1_048_576;
/// History events of one child of a Batch array step's `Results` Map — its iteration's start
/// and end, the `getObject` task's entered, scheduled, started, succeeded and exited, the
/// choice's entered and exited — counted high (8 to 10 in practice).
pub const EVENTS_PER_CHILD: usize = 10;
/// History events of one step outside a Map: its task (entered, scheduled, started,
/// submitted, succeeded, exited), its result's read (five) and its check (two), counted high.
const EVENTS_PER_STEP: usize = 14;
/// The array step's own events around its Map: its job, the children list, the Map's start
/// and end, the check.
const EVENTS_PER_ARRAY_STEP: usize = 14;

/// How many history events one execution of these steps records, counted high.
pub fn history_events(steps: &[DeployedStep]) -> usize {
    2 + steps
        .iter()
        .map(|s| match s.step.partitions.len() {
            n if n > 1 => EVENTS_PER_ARRAY_STEP + EVENTS_PER_CHILD * n,
            _ => EVENTS_PER_STEP,
        })
        .sum::<usize>()
}

/// Refuses, in one sentence naming the asset, its partition count, the limit and what to do, a
/// state machine whose executions would outgrow Step Functions' history limit (25,000 events)
/// or whose definition is over 1 MB: it would be created and then fail at run time.
fn check_limits(
    project: &str,
    steps: &[DeployedStep],
    definition: &Value,
) -> Result<(), ComputeError> {
    let events = history_events(steps);
    let bytes = serde_json::to_vec(definition).map_or(0, |v| v.len());
    if events <= MAX_HISTORY_EVENTS && bytes <= MAX_DEFINITION_BYTES {
        return Ok(());
    }
    // The asset with the most partitions, and the tier it runs on.
    let mut per_asset: std::collections::BTreeMap<&crate::model::AssetKey, (usize, ComputeTier)> =
        std::collections::BTreeMap::new();
    for s in steps {
        for a in &s.step.assets {
            let e = per_asset.entry(a).or_insert((0, s.step.tier));
            e.0 += s.step.partitions.len().max(1);
        }
    }
    let Some((asset, (count, tier))) = per_asset.into_iter().max_by_key(|(_, (n, _))| *n) else {
        return Ok(());
    };
    let over = if events > MAX_HISTORY_EVENTS {
        format!(
            "one execution would record about {events} history events, over Step Functions' limit of {MAX_HISTORY_EVENTS}"
        )
    } else {
        format!(
            "its state machine's definition would be {bytes} bytes, over Step Functions' limit of {MAX_DEFINITION_BYTES} (1 MB)"
        )
    };
    let (how, fix) = if tier == ComputeTier::Batch {
        let others = events.saturating_sub(EVENTS_PER_CHILD * count);
        let fit = MAX_HISTORY_EVENTS.saturating_sub(others) / EVENTS_PER_CHILD;
        (
            format!(
                "one Batch array job whose results a Map reads at about {EVENTS_PER_CHILD} events per partition"
            ),
            format!(
                "give it fewer partition keys (at most about {fit} fit in one execution), e.g. split the key set across projects"
            ),
        )
    } else {
        (
            format!("one {tier} step per partition"),
            "run it on a Batch tier (`tier = \"batch\"` in its compute section: one array job for every partition) or give it fewer partition keys".to_owned(),
        )
    };
    Err(ComputeError::invalid(format!(
        "cannot deploy project {project}: asset {asset} has {count} partitions, run as {how}, and {over}; {fix}"
    )))
}

fn run_state(step: &str) -> String {
    format!("Run {step}")
}

/// The states of one step: run it, read its result(s) back, judge them, and the Fail states.
fn step_states(
    target: &AslTarget<'_>,
    s: &DeployedStep,
    next: &str,
) -> Result<Vec<(String, Value)>, ComputeError> {
    let store = target.store();
    let plan = plan_uri(&store, &s.id);
    let (resource, parameters) = task(target, s, &plan)?;
    let array = s.step.partitions.len() > 1;
    // A Lambda invocation answers with the runner's result itself: no need to read it back.
    let answered = s.step.tier == ComputeTier::Lambda && !array;
    let failed = format!("Failed {}", s.id);
    // A container that failed may still have left its result: a Batch job or an EKS Job
    // fails when the runner exits non-zero after a failed check, and the result names the
    // check. So a failed container goes on to read it too; a Lambda error has no result.
    let after_run = if answered {
        format!("Check {}", s.id)
    } else if array {
        format!("Children {}", s.id)
    } else {
        format!("Result {}", s.id)
    };
    let caught = if answered {
        failed.clone()
    } else {
        after_run.clone()
    };
    let assets = s
        .step
        .assets
        .iter()
        .map(crate::model::AssetKey::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let mut run = json!({
        "Type": "Task",
        "Comment": format!("{} on {}: {}", s.id, s.step.tier, assets),
        "Resource": resource,
        "Parameters": parameters,
        "ResultPath": Value::Null,
        "Retry": [throttling_retry(s.step.tier)],
        "Catch": [{ "ErrorEquals": ["States.ALL"], "ResultPath": error_path(&s.id), "Next": caught }],
        "Next": after_run,
    });
    if answered {
        run["ResultSelector"] = json!({ "result.$": "$.Payload" });
        run["ResultPath"] = json!(result_path(&s.id));
    }
    let mut out = vec![(run_state(&s.id), run)];
    if answered {
        out.extend(checked_states(s, next, &failed, false));
    } else if array {
        out.extend(children_states(&store, s, next, &failed));
    } else {
        out.push(read_result_state(&store, s));
        out.extend(checked_states(s, next, &failed, true));
    }
    out.push((
        failed,
        json!({
            "Type": "Fail",
            "Comment": format!("{} did not run to its end", s.id),
            "Error": "Medallion.StepFailed",
            "CausePath": format!("{}.Cause", error_path(&s.id)),
        }),
    ));
    Ok(out)
}

/// The S3 key of a step's result, as a `States.Format` template whose arguments are the run
/// (the execution's name) and, with `index` `None`, the child's index.
fn result_key_template(store: &ObjectStore, s: &DeployedStep, index: Option<usize>) -> String {
    let index = index.map_or_else(|| "{}".to_owned(), |i| i.to_string());
    format!(
        "{}/_runs/{{}}/{}/result-{index}.json",
        intrinsic_literal(&store.prefix),
        intrinsic_literal(&s.id)
    )
}

/// S3's transient errors, retried with backoff when a result is read.
fn s3_retry() -> Value {
    json!({
        "ErrorEquals": ["S3.SlowDownException", "S3.S3Exception"],
        "IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 2.0
    })
}

/// `Result <step>`: the runner's result read back (`aws-sdk:s3:getObject`). A result that
/// cannot be read goes to `Unread <step>`.
fn read_result_state(store: &ObjectStore, s: &DeployedStep) -> (String, Value) {
    let key = result_key_template(store, s, Some(0));
    (
        format!("Result {}", s.id),
        json!({
            "Type": "Task",
            "Comment": format!("the runner's result of {}", s.id),
            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {
                "Bucket": store.bucket,
                "Key.$": format!("States.Format('{key}', $$.Execution.Name)"),
            },
            "ResultSelector": { "result.$": "States.StringToJson($.Body)" },
            "ResultPath": result_path(&s.id),
            "Retry": [s3_retry()],
            "Catch": [{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.unread", "Next": format!("Unread {}", s.id) }],
            "Next": format!("Check {}", s.id),
        }),
    )
}

/// `Check <step>` and `Blocked <step>`: the result judged — anything but success ends in
/// `Blocked <step>` with the runner's headline (`check X of asset Y failed: …`); with
/// `after_failure` (a container, whose failure leads here too) a step whose task failed ends
/// in `Failed <step>` even when its result says success, and a result that could not be read
/// in `Unread <step>`.
fn checked_states(
    s: &DeployedStep,
    next: &str,
    failed: &str,
    after_failure: bool,
) -> Vec<(String, Value)> {
    let result_path = result_path(&s.id);
    let blocked = format!("Blocked {}", s.id);
    let status = format!("{result_path}.result.status");
    let check = if after_failure {
        json!({
            "Type": "Choice",
            "Choices": [
                { "Not": { "Variable": status, "StringEquals": "success" }, "Next": blocked },
                { "Variable": error_path(&s.id), "IsPresent": true, "Next": failed },
            ],
            "Default": next,
        })
    } else {
        json!({
            "Type": "Choice",
            "Choices": [{ "Variable": status, "StringEquals": "success", "Next": next }],
            "Default": blocked,
        })
    };
    let mut out = vec![
        (format!("Check {}", s.id), check),
        (
            blocked,
            json!({
                "Type": "Fail",
                "Comment": format!("{} ended without success, e.g. a failed blocking check; the cause is the runner's headline", s.id),
                "Error": "Medallion.StepFailed",
                "CausePath": format!("{result_path}.result.error"),
            }),
        ),
    ];
    if after_failure {
        out.extend(unread_states(s, failed));
    }
    out
}

/// `Unread <step>`: a result that could not be read. After a failed task the task's error is
/// the cause (`Failed <step>`); else `No result <step>` with S3's.
fn unread_states(s: &DeployedStep, failed: &str) -> Vec<(String, Value)> {
    let none = format!("No result {}", s.id);
    vec![
        (
            format!("Unread {}", s.id),
            json!({
                "Type": "Choice",
                "Choices": [{ "Variable": error_path(&s.id), "IsPresent": true, "Next": failed }],
                "Default": none,
            }),
        ),
        (
            none,
            json!({
                "Type": "Fail",
                "Comment": format!("{} left no result that could be read", s.id),
                "Error": "Medallion.StepFailed",
                "CausePath": "$.unread.Cause",
            }),
        ),
    ]
}

/// The states after an array job: `Children <step>` lists the child indexes, `Results <step>`
/// (a Map) reads each child's result and fails on the first without success with its
/// partition and headline (`partition us (child 1): check X of asset Y failed: …`), which
/// `Blocked <step>` gives as the execution's cause. Reached both when the job succeeded (moto's
/// Batch marks every job succeeded) and when it failed (on AWS a child exiting non-zero fails
/// the array): the children's results name the check either way.
fn children_states(
    store: &ObjectStore,
    s: &DeployedStep,
    next: &str,
    failed: &str,
) -> Vec<(String, Value)> {
    let key = result_key_template(store, s, None);
    let results = format!("Results {}", s.id);
    let blocked = format!("Blocked {}", s.id);
    let children_path = format!("$.children.{}", state_key(&s.id));
    let child_result = format!("Child result {}", s.id);
    let child_check = format!("Child check {}", s.id);
    let child_ok = format!("Child succeeded {}", s.id);
    let child_cause = format!("Child cause {}", s.id);
    let child_blocked = format!("Child blocked {}", s.id);
    let indexes: Vec<usize> = (0..s.step.partitions.len()).collect();
    let mut out = vec![
        (
            format!("Children {}", s.id),
            json!({
                "Type": "Pass",
                "Comment": format!("the {} children of {}, one per partition", indexes.len(), s.id),
                "Result": indexes,
                "ResultPath": children_path,
                "Next": results,
            }),
        ),
        (
            results,
            json!({
                "Type": "Map",
                "Comment": format!("each child's result of {}, read back and judged", s.id),
                "ItemsPath": children_path,
                "ItemSelector": { "index.$": "$$.Map.Item.Value", "run.$": "$$.Execution.Name" },
                "MaxConcurrency": 10,
                "ItemProcessor": {
                    "ProcessorConfig": { "Mode": "INLINE" },
                    "StartAt": child_result,
                    "States": {
                        child_result.clone(): {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                            "Parameters": {
                                "Bucket": store.bucket,
                                "Key.$": format!("States.Format('{key}', $.run, $.index)"),
                            },
                            "ResultSelector": { "result.$": "States.StringToJson($.Body)" },
                            "ResultPath": "$.child",
                            "Retry": [s3_retry()],
                            "Next": child_check,
                        },
                        child_check.clone(): {
                            "Type": "Choice",
                            "Choices": [{ "Variable": "$.child.result.status", "StringEquals": "success", "Next": child_ok }],
                            "Default": child_cause,
                        },
                        child_ok.clone(): { "Type": "Succeed" },
                        child_cause.clone(): {
                            "Type": "Pass",
                            "Parameters": {
                                "cause.$": "States.Format('partition {} (child {}): {}', $.child.result.partition, $.index, $.child.result.error)",
                            },
                            "Next": child_blocked,
                        },
                        child_blocked.clone(): {
                            "Type": "Fail",
                            "Error": "Medallion.StepFailed",
                            "CausePath": "$.cause",
                        },
                    },
                },
                "ResultPath": Value::Null,
                "Catch": [
                    { "ErrorEquals": ["Medallion.StepFailed"], "ResultPath": "$.blocked", "Next": blocked },
                    { "ErrorEquals": ["States.ALL"], "ResultPath": "$.unread", "Next": format!("Unread {}", s.id) },
                ],
                "Next": format!("Check {}", s.id),
            }),
        ),
        (
            format!("Check {}", s.id),
            json!({
                "Type": "Choice",
                "Comment": format!("every child of {} succeeded; the job itself may still have failed", s.id),
                "Choices": [{ "Variable": error_path(&s.id), "IsPresent": true, "Next": failed }],
                "Default": next,
            }),
        ),
        (
            blocked,
            json!({
                "Type": "Fail",
                "Comment": format!("a child of {} ended without success, e.g. a failed blocking check; the cause names its partition and the runner's headline", s.id),
                "Error": "Medallion.StepFailed",
                "CausePath": "$.blocked.Cause",
            }),
        ),
    ];
    out.extend(unread_states(s, failed));
    out
}

/// Where a step's result goes in the execution's state.
fn result_path(step: &str) -> String {
    format!("$.results.{}", state_key(step))
}

/// Where a step's Catch puts the error it caught. Per step, beside the results: a key of the
/// execution's own input (`{"error": …}` in a hand-started execution) is never taken for it.
fn error_path(step: &str) -> String {
    format!("$.errors.{}", state_key(step))
}

/// A step id as a JSON path key (`s1-lambda` → `s1_lambda`).
fn state_key(step: &str) -> String {
    step.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A string as a literal inside an intrinsic function (`'`, `{`, `}` and `\` escaped).
fn intrinsic_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\'' | '\\' | '{' | '}') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Throttling and the service's transient errors, retried with backoff.
fn throttling_retry(tier: ComputeTier) -> Value {
    let errors: &[&str] = match tier {
        ComputeTier::Lambda => &[
            "Lambda.TooManyRequestsException",
            "Lambda.ServiceException",
            "Lambda.SdkClientException",
        ],
        ComputeTier::Batch => &["Batch.TooManyRequestsException", "Batch.AWSBatchException"],
        ComputeTier::Eks => &["EKS.ThrottlingException", "EKS.AmazonEKSException"],
        // `AmazonECS.Unknown` is how Step Functions reports a `RunTask` (`.sync`) answered with
        // a non-empty `failures` list, e.g. no Fargate Spot capacity at the moment.
        _ => &[
            "ECS.ThrottlingException",
            "ECS.AmazonECSException",
            "AmazonECS.Unknown",
        ],
    };
    json!({ "ErrorEquals": errors, "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2.0 })
}

/// The Task's resource and parameters for the step's tier.
fn task(
    target: &AslTarget<'_>,
    s: &DeployedStep,
    plan: &str,
) -> Result<(&'static str, Value), ComputeError> {
    match s.step.tier {
        ComputeTier::Fargate => Ok((
            "arn:aws:states:::ecs:runTask.sync",
            fargate(target, s, plan)?,
        )),
        ComputeTier::Batch => Ok((
            "arn:aws:states:::batch:submitJob.sync",
            batch(target, s, plan)?,
        )),
        ComputeTier::Lambda => Ok(("arn:aws:states:::lambda:invoke", lambda(target, plan)?)),
        ComputeTier::Eks => Ok(("arn:aws:states:::eks:runJob.sync", eks(target, s, plan)?)),
        other => Err(ComputeError::invalid(format!(
            "step {} runs on {other}: a deployed project runs every step on AWS (lambda, fargate, batch or eks); give its assets a compute tier hint",
            s.id
        ))),
    }
}

fn missing(target: &AslTarget<'_>, field: &str, tier: &str) -> ComputeError {
    ComputeError::invalid(format!(
        "the aws resource of project {} sets no compute.{field}, which {tier} steps need",
        target.project
    ))
}

/// The runner's environment: the plan, the region and the run id (the execution's name).
fn environment(target: &AslTarget<'_>, plan: &str) -> Value {
    let mut env = json!([
        { "Name": PLAN_ENV_VAR, "Value": plan },
        { "Name": "AWS_REGION", "Value": target.region },
        { "Name": RUN_ID_ENV_VAR, "Value.$": "$$.Execution.Name" },
    ]);
    if target.day_from_input
        && let Some(list) = env.as_array_mut()
    {
        list.push(json!({ "Name": EXECUTION_INPUT_ENV_VAR, "Value.$": "States.JsonToString($$.Execution.Input)" }));
    }
    env
}

fn project_tags(target: &AslTarget<'_>, s: &DeployedStep) -> Vec<(String, String)> {
    let spec = LaunchSpec {
        run_id: RunId::new("deployed"),
        step_id: s.id.clone(),
        project: target.project.to_owned(),
        assets: s.step.assets.clone(),
        plan_uri: String::new(),
        array_size: 0,
        vcpu: s.step.vcpu,
        memory_mb: s.step.memory_mb,
        spot: s.step.spot,
        timeout_secs: s.step.timeout_secs,
        node_type: None,
        max_nodes: None,
    };
    spec.tags()
        .into_iter()
        .filter(|(k, _)| k != "medallion:run")
        .collect()
}

fn fargate(target: &AslTarget<'_>, s: &DeployedStep, plan: &str) -> Result<Value, ComputeError> {
    let cfg = target.settings;
    let cluster = cfg
        .cluster
        .as_deref()
        .ok_or_else(|| missing(target, "cluster", "Fargate"))?;
    let (cpu, memory) = crate::compute::aws::fargate::task_size(s.step.vcpu, s.step.memory_mb)
        .ok_or_else(|| {
            ComputeError::invalid(format!(
                "step {} needs {} vCPU / {} MiB, more than Fargate's largest task",
                s.id, s.step.vcpu, s.step.memory_mb
            ))
        })?;
    let mut tags: Vec<Value> = project_tags(target, s)
        .into_iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    tags.push(json!({ "Key": "medallion:run", "Value.$": "$$.Execution.Name" }));
    let mut p = json!({
        "Cluster": cluster,
        "TaskDefinition": task_family(target.project),
        "NetworkConfiguration": { "AwsvpcConfiguration": {
            "Subnets": cfg.subnets,
            "SecurityGroups": cfg.security_groups,
            "AssignPublicIp": if cfg.assign_public_ip { "ENABLED" } else { "DISABLED" },
        }},
        "Overrides": {
            "Cpu": cpu.to_string(),
            "Memory": memory.to_string(),
            "ContainerOverrides": [{
                "Name": crate::compute::aws::fargate::CONTAINER,
                "Command": runner_command(plan),
                "Environment": environment(target, plan),
            }],
        },
        "Tags": tags,
    });
    if s.step.spot {
        p["CapacityProviderStrategy"] =
            json!([{ "CapacityProvider": "FARGATE_SPOT", "Weight": 1 }]);
    } else {
        p["LaunchType"] = json!("FARGATE");
    }
    Ok(p)
}

/// The task definition family a deployed project's Fargate steps run (registered by deploy).
pub fn task_family(project: &str) -> String {
    format!("medallion-{project}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(255)
        .collect()
}

fn batch(target: &AslTarget<'_>, s: &DeployedStep, plan: &str) -> Result<Value, ComputeError> {
    let cfg = target.settings;
    let queue = cfg
        .job_queue
        .as_deref()
        .ok_or_else(|| missing(target, "job_queue", "Batch"))?;
    let definition = cfg
        .job_definition
        .as_deref()
        .ok_or_else(|| missing(target, "job_definition", "Batch"))?;
    let tags: serde_json::Map<String, Value> = project_tags(target, s)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let mut p = json!({
        "JobName": task_family(&format!("{}-{}", target.project, s.id)).chars().take(128).collect::<String>(),
        "JobQueue": queue,
        "JobDefinition": definition,
        "ContainerOverrides": {
            "Command": runner_command(plan),
            "Environment": environment(target, plan),
            "ResourceRequirements": [
                { "Type": "VCPU", "Value": format!("{}", s.step.vcpu.max(0.25)) },
                { "Type": "MEMORY", "Value": s.step.memory_mb.to_string() },
            ],
        },
        "PropagateTags": true,
        "Tags": Value::Object(tags),
    });
    if s.step.partitions.len() > 1 {
        p["ArrayProperties"] = json!({ "Size": s.step.partitions.len() });
    }
    if let Some(t) = s.step.timeout_secs {
        p["Timeout"] = json!({ "AttemptDurationSeconds": t.max(60) });
    }
    Ok(p)
}

fn lambda(target: &AslTarget<'_>, plan: &str) -> Result<Value, ComputeError> {
    let function = target
        .settings
        .lambda_function
        .as_deref()
        .ok_or_else(|| missing(target, "lambda_function", "Lambda"))?;
    let mut payload = json!({ "plan_uri": plan, "run_id.$": "$$.Execution.Name" });
    if target.day_from_input {
        payload["input.$"] = json!("$$.Execution.Input");
    }
    Ok(json!({ "FunctionName": function, "Payload": payload }))
}

fn eks(target: &AslTarget<'_>, s: &DeployedStep, plan: &str) -> Result<Value, ComputeError> {
    let e = target.eks.ok_or_else(|| {
        ComputeError::invalid(format!(
            "step {} runs on EKS but project {} has no eks resource naming a cluster",
            s.id, target.project
        ))
    })?;
    let mut settings = JobSettings::new(&e.namespace, &e.image);
    settings.service_account.clone_from(&e.service_account);
    settings.env = vec![("AWS_REGION".to_owned(), target.region.to_owned())];
    let hints = ComputeHints {
        vcpu: Some(s.step.vcpu),
        memory_mb: Some(s.step.memory_mb),
        timeout_secs: s.step.timeout_secs,
        spot: s.step.spot.then_some(true),
        ..ComputeHints::default()
    };
    let run = RunId::new("deployed");
    let manifest = job::build_job(
        &settings,
        &StepJob {
            project: target.project,
            run_id: &run,
            step_id: &s.id,
            assets: &s.step.assets,
            partitions: &s.step.partitions,
            completions: s.step.partitions.len().max(1),
            plan_uri: plan,
            hints: &hints,
        },
    );
    let mut manifest = serde_json::to_value(&manifest)
        .map_err(|e| ComputeError::invalid(format!("cannot encode the Job of {}: {e}", s.id)))?;
    deployed_job(&mut manifest, &s.id, target.day_from_input);
    Ok(json!({
        "ClusterName": e.cluster,
        "CertificateAuthority": e.certificate_authority,
        "Endpoint": e.endpoint,
        "Namespace": e.namespace,
        "Job": manifest,
    }))
}

/// A launch's Job made an execution's: a generated name, the run id from the execution.
fn deployed_job(manifest: &mut Value, step_id: &str, day_from_input: bool) {
    if let Some(meta) = manifest.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("name");
        meta.insert(
            "generateName".to_owned(),
            Value::String(format!(
                "medallion-{}-",
                job::label_value(step_id).to_lowercase()
            )),
        );
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove(job::ANNOTATION_RUN_ID);
        }
    }
    for at in ["/metadata/labels", "/spec/template/metadata/labels"] {
        if let Some(l) = manifest.pointer_mut(at).and_then(Value::as_object_mut) {
            l.remove(job::LABEL_RUN);
        }
    }
    if let Some(env) = manifest
        .pointer_mut("/spec/template/spec/containers/0/env")
        .and_then(Value::as_array_mut)
    {
        env.push(json!({ "name": RUN_ID_ENV_VAR, "value.$": "$$.Execution.Name" }));
        if day_from_input {
            env.push(json!({ "name": EXECUTION_INPUT_ENV_VAR, "value.$": "States.JsonToString($$.Execution.Input)" }));
        }
    }
}
