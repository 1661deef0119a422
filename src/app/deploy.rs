//! `medallion deploy` and `undeploy`: a project's remote plan (the same one a launch makes,
//! [`super::remote::plan_remote`]) compiled into a Step Functions state machine, its schedules
//! into EventBridge Scheduler schedules and its `s3_objects` sensors into EventBridge rules
//! ([`crate::compute::deploy`]); a plan of creates, updates and deletes against what AWS has
//! tagged for the project; applied unless it is a dry run; an audit entry per apply.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::AppError;
use super::remote::SubmitRequest;
use crate::compute::aws::{Aws, compute_resource};
use crate::compute::deploy::{
    self, Action, Change, Current, Desired, ScheduleSpec,
    alerts::{self as deployed_alerts, AlertSpec, SecretUrl},
    apply::{self as aws_apply, PENDING_STATE_MACHINE_ARN, Payload},
    asl::{self, AslTarget, DeployedStep, EksTarget},
    objects::{self, Content},
};
use crate::compute::{ComputeError, ErrorKind};
use crate::model::{
    AlertTargetKind, AuditAction, AuditPlace, NewAuditEntry, Project, ResourceKind, SensorKind,
};
use crate::store::{StoredProject, Workspace};

pub use crate::compute::deploy::{Action as DeployAction, Change as DeployChange, ItemKind};

/// An IAM role a deployment needs, and where the project names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleNeed {
    /// What assumes it.
    pub role: &'static str,
    /// The `compute` setting that names it.
    pub setting: &'static str,
    pub arn: Option<String>,
    /// What it must be allowed to do.
    pub needs: String,
}

/// One step of the deployed state machine, for the plan's listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView {
    pub id: String,
    pub tier: String,
    pub assets: Vec<String>,
    pub plan_uri: String,
}

/// What a deploy (or undeploy) would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployPlan {
    pub project: String,
    /// The `aws` resource used.
    pub resource: String,
    pub region: String,
    pub state_machine: String,
    pub steps: Vec<StepView>,
    pub changes: Vec<Change>,
    pub roles: Vec<RoleNeed>,
    /// What the deployment leaves out, and prerequisites, in sentences.
    pub notes: Vec<String>,
    #[serde(skip)]
    pub definition: Value,
    /// What each object under `_deploy/` holds, by name (written when created or changed).
    #[serde(skip)]
    pub contents: BTreeMap<String, Content>,
    /// The alert targets' URLs, by API destination name (read from the keyring; never shown).
    #[serde(skip)]
    pub urls: BTreeMap<String, SecretUrl>,
}

impl DeployPlan {
    /// How many resources each action touches: (create, update, delete, unchanged).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let n = |a: Action| self.changes.iter().filter(|c| c.action == a).count();
        (
            n(Action::Create),
            n(Action::Update),
            n(Action::Delete),
            n(Action::Unchanged),
        )
    }

    pub fn is_noop(&self) -> bool {
        self.changes.iter().all(|c| c.action == Action::Unchanged)
    }
}

impl DeployOutcome {
    /// What the deployment is, in one sentence, as the studio's Deployment window heads it:
    /// for a plan, whether AWS has the project as it is; for an apply, what was done.
    pub fn headline(&self) -> String {
        let (create, update, delete, same) = self.plan.counts();
        if self.applied {
            return if self.plan.changes.iter().all(|c| c.action == Action::Delete) {
                format!("Undeployed: {delete} resource(s) deleted from AWS")
            } else {
                format!(
                    "Deployed: {create} created, {update} updated, {delete} deleted, {same} unchanged"
                )
            };
        }
        if self.plan.changes.is_empty() {
            "Nothing is deployed, and the project has nothing to deploy".to_owned()
        } else if update + delete + same == 0 {
            format!("Not deployed: deploying creates {create} resource(s)")
        } else if create + update + delete == 0 {
            format!("Deployed and up to date: {same} resource(s) match the project")
        } else {
            format!(
                "Deployed, but AWS differs from the project: {create} to create, {update} to update, {delete} to delete ({same} unchanged)"
            )
        }
    }
}

/// What the studio's Deployment window asks of AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentAction {
    /// The plan against what AWS has: what is deployed, and how it differs (drift).
    Plan,
    Deploy,
    Undeploy,
}

/// The Deployment window's work for `project` of the workspace at `path`, with the project's
/// first `aws` resource: the same plan, apply and audit entry as `medallion deploy` and
/// `undeploy`.
///
/// # Errors
/// As [`deploy`] and [`undeploy`].
pub fn deployment_at(
    path: &std::path::Path,
    project: &str,
    action: DeploymentAction,
) -> Result<DeployOutcome, AppError> {
    let mut ws = super::open_workspace(path)?;
    let stored = super::load_project(&ws, project)?;
    match action {
        DeploymentAction::Plan => deploy(&mut ws, &stored, None, true),
        DeploymentAction::Deploy => deploy(&mut ws, &stored, None, false),
        DeploymentAction::Undeploy => undeploy(&mut ws, &stored, None, false),
    }
}

pub(crate) fn connect(project: &Project, resource: Option<&str>) -> Result<Aws, AppError> {
    let r = compute_resource(&project.resources, resource)?;
    Ok(Aws::connect(
        super::runtime::handle()?,
        r,
        &super::connections::KeyringSecrets,
        &project.name,
    )?)
}

/// The partitions a deployed execution runs: every key of the project's static partitions
/// (one Batch array job, or one step per key on a tier without arrays), none without
/// partitioned assets. Daily partitions are none here: each execution runs the day its input
/// names ([`has_daily_partitions`]).
///
/// # Errors
/// Static partitions whose keys differ between assets, static and daily partitions in one
/// project, or a schedule of a daily partitioned project without a partition rule: the runner
/// would fail every execution at such an asset.
fn deployed_partitions(project: &Project) -> Result<Vec<String>, AppError> {
    let mut keys: Option<(&str, &Vec<String>)> = None;
    let mut daily: Option<&str> = None;
    for a in &project.assets {
        match &a.partitions {
            crate::model::PartitionsDefinition::None => {}
            crate::model::PartitionsDefinition::Static { keys: k } => match keys {
                Some((other, known)) if known != k => {
                    return Err(ComputeError::invalid(format!(
                        "assets {other} and {} have different static partition keys ({} / {}), and a deployed execution runs one set of keys: give them the same keys, or run their partitions with `medallion submit --partition`",
                        a.key,
                        known.join(", "),
                        k.join(", ")
                    ))
                    .into());
                }
                Some(_) => {}
                None => keys = Some((a.key.as_str(), k)),
            },
            crate::model::PartitionsDefinition::Daily { .. } => {
                daily.get_or_insert(a.key.as_str());
            }
        }
    }
    if let (Some((fixed, _)), Some(day)) = (keys, daily) {
        return Err(ComputeError::invalid(format!(
            "asset {fixed} has static partitions and {day} daily ones, and a deployed execution runs either every static key or one day: deploy them as two projects, or run their partitions with `medallion submit --partition`"
        ))
        .into());
    }
    if daily.is_some()
        && let Some(sensor) = project.sensors.iter().find(|s| {
            matches!(s.kind, SensorKind::S3Objects { .. })
                && matches!(
                    s.partition,
                    crate::model::automation::PartitionChoice::None
                        | crate::model::automation::PartitionChoice::Upstream
                )
        })
    {
        return Err(ComputeError::invalid(format!(
            "sensor {} starts a project with daily partitions but has no partition rule that names a day, so its executions would name none: set its partition to tick_date or previous_day (the event's day in UTC)",
            sensor.name
        ))
        .into());
    }
    if daily.is_some()
        && let Some(sch) = project
            .schedules
            .iter()
            .find(|s| s.partition == crate::model::automation::PartitionChoice::None)
    {
        return Err(ComputeError::invalid(format!(
            "schedule {} starts a project with daily partitions but has no partition rule, so its executions would name no day: set its partition to previous_day or tick_date",
            sch.name
        ))
        .into());
    }
    Ok(keys.map(|(_, k)| k.clone()).unwrap_or_default())
}

/// Whether the project has daily partitioned assets: its executions then run the day their
/// input names (`{"partition": "YYYY-MM-DD"}`, or a schedule's time and partition rule).
fn has_daily_partitions(project: &Project) -> bool {
    project.assets.iter().any(|a| {
        matches!(
            a.partitions,
            crate::model::PartitionsDefinition::Daily { .. }
        )
    })
}

/// The deployed steps of a project: the whole project (`*`) planned as a launch plans it,
/// with every static partition key ([`deployed_partitions`]).
///
/// # Errors
/// Partitions a deployed execution cannot run; the plan's problems.
pub(crate) fn deployed_steps(
    ws: &Workspace,
    stored: &StoredProject,
    resource: Option<&str>,
) -> Result<Vec<DeployedStep>, AppError> {
    let request = SubmitRequest {
        selection: "*".to_owned(),
        partitions: deployed_partitions(&stored.project)?,
        force: false,
        tier: None,
        overrides: std::collections::BTreeMap::new(),
        aws_resource: resource.map(str::to_owned),
        trigger: "deploy".to_owned(),
    };
    let plan = super::remote::plan_remote(ws, stored, &request)?;
    if let Some(problem) = plan.problem() {
        return Err(problem.into());
    }
    Ok(asl::deployed_steps(&plan.steps))
}

/// The state machine's definition for a project: the launch's plan compiled to ASL, with the
/// EKS cluster given (`eks`) when the project has EKS steps.
///
/// # Errors
/// A selection or tier problem of the plan; a step the compiler refuses.
pub fn definition(
    ws: &Workspace,
    stored: &StoredProject,
    resource: Option<&str>,
    region: &str,
    eks: Option<&EksTarget>,
) -> Result<(Value, Vec<DeployedStep>), AppError> {
    let project = &stored.project;
    let r = compute_resource(&project.resources, resource)?;
    let ResourceKind::Aws {
        compute: Some(settings),
        ..
    } = &r.kind
    else {
        return Err(
            ComputeError::invalid(format!("resource `{}` has no compute section", r.name)).into(),
        );
    };
    let steps = deployed_steps(ws, stored, Some(&r.name))?;
    let target = AslTarget {
        project: &project.name,
        region,
        settings,
        eks,
        day_from_input: has_daily_partitions(project),
    };
    Ok((asl::compile(&target, &steps)?, steps))
}

/// The EKS cluster of the project's first `eks` resource, when a step runs on EKS.
fn eks_target(
    aws: &Aws,
    project: &Project,
    steps: &[DeployedStep],
) -> Result<Option<EksTarget>, AppError> {
    if !steps
        .iter()
        .any(|s| s.step.tier == crate::model::ComputeTier::Eks)
    {
        return Ok(None);
    }
    let Some(r) = project
        .resources
        .iter()
        .find(|r| matches!(r.kind, ResourceKind::Eks { .. }))
    else {
        return Ok(None);
    };
    Ok(Some(aws_apply::eks_target(aws, r)?))
}

/// Works out what `medallion deploy` would change, reading what AWS has for the project.
///
/// # Errors
/// The plan's problems, and a failed AWS call as one sentence.
pub fn plan_deploy(
    ws: &Workspace,
    stored: &StoredProject,
    resource: Option<&str>,
) -> Result<(Aws, DeployPlan), AppError> {
    let project = &stored.project;
    let aws = connect(project, resource)?;
    let region = aws.region();
    let planned = deployed_steps(ws, stored, Some(&aws.resource))?;
    let eks = eks_target(&aws, project, &planned)?;
    let (definition, steps) = definition(ws, stored, Some(&aws.resource), &region, eks.as_ref())?;
    let current = aws_apply::current(&aws, &project.name)?;
    let machine = deploy::resource_name(&project.name, None, 80);
    let machine_arn = current
        .iter()
        .find(|c| c.kind == ItemKind::StateMachine && c.name == machine)
        .map_or_else(|| PENDING_STATE_MACHINE_ARN.to_owned(), |c| c.arn.clone());
    let (contents, mut desired) = deployed_objects(&aws, stored, &steps)?;
    let (rest, mut notes) = self::desired(project, &aws, &definition, steps.len(), &machine_arn)?;
    desired.extend(rest);
    let (alerts, alert_notes, urls) = alert_items(project, &aws, &machine_arn, &current)?;
    desired.extend(alerts);
    notes.extend(alert_notes);
    if contents.keys().any(|k| k.contains("/_inputs/")) {
        notes.push(
            "file sources are uploaded to _deploy/_inputs/ now and every execution reads that copy: deploy again after the files change"
                .to_owned(),
        );
    }
    if steps
        .iter()
        .any(|s| s.step.tier == crate::model::ComputeTier::Fargate)
    {
        notes.push(format!(
            "Fargate steps run the latest revision of task definition {} (a Fargate launch of the project registers it) with each step's size",
            asl::task_family(&project.name)
        ));
    }
    let changes = deploy::diff(&desired, &current);
    let store = aws.store();
    Ok((
        aws.clone(),
        DeployPlan {
            project: project.name.clone(),
            resource: aws.resource.clone(),
            region,
            state_machine: machine,
            steps: steps
                .iter()
                .map(|s| StepView {
                    id: s.id.clone(),
                    tier: s.step.tier.to_string(),
                    assets: s
                        .step
                        .assets
                        .iter()
                        .map(|a| a.as_str().to_owned())
                        .collect(),
                    plan_uri: asl::plan_uri(&store, &s.id),
                })
                .collect(),
            changes,
            roles: roles(&aws, project),
            notes,
            definition,
            contents,
            urls,
        },
    ))
}

/// The step plans and input files the state machine's tasks read, as desired objects and
/// their contents by name.
fn deployed_objects(
    aws: &Aws,
    stored: &StoredProject,
    steps: &[DeployedStep],
) -> Result<(BTreeMap<String, Content>, Vec<Desired>), AppError> {
    let mut contents = BTreeMap::new();
    let mut desired = Vec::new();
    for o in super::remote::deployed_objects(aws, stored, steps)? {
        desired.push(objects::desired(&o.name, &o.content, o.summary)?);
        contents.insert(o.name, o.content);
    }
    Ok((contents, desired))
}

/// The roles a deployment needs, as the `compute` settings name them.
fn roles(aws: &Aws, project: &Project) -> Vec<RoleNeed> {
    let s = &aws.settings;
    let mut out = vec![RoleNeed {
        role: "Step Functions state machine",
        setting: "states_role_arn",
        arn: s.states_role_arn.clone(),
        needs: "ecs:RunTask, iam:PassRole (task and execution roles), batch:SubmitJob, lambda:InvokeFunction, eks:DescribeCluster, s3:GetObject on the bucket, events:PutRule/PutTargets (the .sync integrations)".to_owned(),
    }];
    // API destinations are invoked with the events role; an SNS topic's own policy lets
    // EventBridge publish, so SNS targets need no role.
    let alerts = project.alerts.rules.iter().any(|r| {
        !deployed_alerts::outcomes(r).is_empty()
            && r.targets.iter().any(|t| {
                project.alerts.target(t).is_some_and(|t| {
                    matches!(
                        t.kind,
                        AlertTargetKind::Webhook { .. } | AlertTargetKind::Slack { .. }
                    )
                })
            })
    });
    if !project.schedules.is_empty() || !project.sensors.is_empty() || alerts {
        out.push(RoleNeed {
            role: "EventBridge Scheduler and rules",
            setting: "events_role_arn",
            arn: s.events_role_arn.clone(),
            needs: if alerts {
                "states:StartExecution on the state machine; events:InvokeApiDestination on the alert targets' API destinations"
            } else {
                "states:StartExecution on the state machine"
            }
            .to_owned(),
        });
    }
    out
}

/// Everything the project wants deployed, and the notes on what it leaves out.
fn desired(
    project: &Project,
    aws: &Aws,
    definition: &Value,
    steps: usize,
    machine_arn: &str,
) -> Result<(Vec<Desired>, Vec<String>), AppError> {
    let s = &aws.settings;
    let unset = |field: &str| format!("(not set: compute.{field})");
    let states_role = s
        .states_role_arn
        .clone()
        .unwrap_or_else(|| unset("states_role_arn"));
    let events_role = s
        .events_role_arn
        .clone()
        .unwrap_or_else(|| unset("events_role_arn"));
    let mut out = vec![deploy::state_machine(
        &project.name,
        definition,
        &states_role,
        steps,
    )];
    let mut notes = Vec::new();
    if !project.schedules.is_empty() {
        out.push(deploy::schedule_group(&project.name));
    }
    let daily = has_daily_partitions(project);
    for sch in &project.schedules {
        // A daily partitioned project: the schedule gives each execution its time and rule,
        // from which the runner takes the day, as a local schedule does.
        // (A schedule without a rule is refused before: [`deployed_partitions`].)
        let partition_rule = daily.then(|| sch.partition.as_file()).flatten();
        out.push(deploy::schedule(&ScheduleSpec {
            partition_rule: partition_rule.as_deref(),
            project: &project.name,
            name: &sch.name,
            cron: &sch.cron,
            timezone: &sch.timezone,
            enabled: sch.enabled,
            state_machine_arn: machine_arn,
            role_arn: &events_role,
        })?);
        if sch.selection.trim() != "*" {
            notes.push(format!(
                "schedule {} selects `{}`, but the deployed state machine runs the whole project",
                sch.name, sch.selection
            ));
        }
    }
    for sensor in &project.sensors {
        match &sensor.kind {
            SensorKind::S3Objects {
                resource, prefix, ..
            } => {
                let bucket = project
                    .resources
                    .iter()
                    .find(|r| &r.name == resource)
                    .and_then(|r| match &r.kind {
                        ResourceKind::S3 { bucket, .. } => Some(bucket.clone()),
                        _ => None,
                    })
                    .ok_or_else(|| {
                        ComputeError::invalid(format!(
                            "sensor {} watches resource `{resource}`, which is not an s3 resource of the project",
                            sensor.name
                        ))
                    })?;
                out.push(deploy::sensor_rule(
                    &project.name,
                    &sensor.name,
                    &bucket,
                    prefix,
                    machine_arn,
                    &events_role,
                    sensor.enabled,
                    // (A sensor without a day's rule is refused before: [`deployed_partitions`].)
                    daily
                        .then(|| sensor.partition.as_file())
                        .flatten()
                        .as_deref(),
                ));
                notes.push(format!(
                    "sensor {}: bucket {bucket} must send its events to EventBridge (S3 event notifications → Amazon EventBridge on)",
                    sensor.name
                ));
            }
            other => notes.push(format!(
                "sensor {} ({}) is not deployed: only s3_objects sensors become EventBridge rules",
                sensor.name,
                other.label()
            )),
        }
    }
    Ok((out, notes))
}

/// What a deployed alert is made of (connections, API destinations, rules), the notes on what
/// is not deployed, and the targets' URLs read from the keyring.
type AlertItems = (Vec<Desired>, Vec<String>, BTreeMap<String, SecretUrl>);

/// The project's alert rules as EventBridge deploys them: a connection and an API destination
/// per webhook or Slack target a rule uses, a rule per (alert rule, target, outcome) on the
/// state machine's execution status changes whose target is that destination or an SNS topic
/// ([`deployed_alerts`]), and the dead-letter queue of those rules' targets.
///
/// # Errors
/// A target's URL that cannot be read from the keyring.
fn alert_items(
    project: &Project,
    aws: &Aws,
    machine_arn: &str,
    current: &[Current],
) -> Result<AlertItems, AppError> {
    let events_role = aws
        .settings
        .events_role_arn
        .clone()
        .unwrap_or_else(|| "(not set: compute.events_role_arn)".to_owned());
    let (mut out, mut notes, mut urls) = (Vec::new(), Vec::new(), BTreeMap::new());
    let mut shown_urls: BTreeMap<String, String> = BTreeMap::new();
    let queue = deploy::queue::name(&project.name);
    let dead_letter_arn = current
        .iter()
        .find(|c| c.kind == ItemKind::Queue && c.name == queue)
        .map_or_else(
            || format!("{}{queue}", deploy::queue::PENDING_QUEUE),
            |c| c.arn.clone(),
        );
    let mut alert_rules: Vec<String> = Vec::new();
    for rule in &project.alerts.rules {
        let outcomes = deployed_alerts::outcomes(rule);
        if outcomes.is_empty() {
            notes.push(format!(
                "alert rule {} is not deployed: freshness and sensor alerts are raised by a running Medallion (the daemon)",
                rule.name
            ));
            continue;
        }
        if rule.selection.as_deref().is_some_and(|s| s.trim() != "*") {
            notes.push(format!(
                "alert rule {} selects assets, but a deployed execution runs the whole project: it alerts on every execution",
                rule.name
            ));
        }
        for name in &rule.targets {
            let Some(target) = project.alerts.target(name) else {
                continue;
            };
            let (url, format) = match &target.kind {
                AlertTargetKind::Webhook { url } => (url, deployed_alerts::Format::Webhook),
                AlertTargetKind::Slack { url } => (url, deployed_alerts::Format::Slack),
                AlertTargetKind::Sns(sns) => {
                    let shown = format!("SNS topic {}", sns.topic_arn);
                    for (outcome, statuses) in &outcomes {
                        let d = deployed_alerts::rule(&AlertSpec {
                            project: &project.name,
                            rule,
                            target: name,
                            format: deployed_alerts::Format::Webhook,
                            outcome,
                            statuses,
                            state_machine_arn: machine_arn,
                            destination_arn: &sns.topic_arn,
                            role_arn: None,
                            shown: &shown,
                            dead_letter_arn: &dead_letter_arn,
                        });
                        alert_rules.push(d.name.clone());
                        out.push(d);
                    }
                    let note = format!(
                        "alert target {name}: SNS topic {} is used as it is (deploy neither creates it nor changes its policy); its access policy must let events.amazonaws.com publish (medallion check-aws verifies)",
                        sns.topic_arn
                    );
                    if !notes.contains(&note) {
                        notes.push(note);
                    }
                    continue;
                }
                AlertTargetKind::Email(_) => {
                    notes.push(format!(
                        "alert target {name} (e-mail over SMTP) is not deployed: EventBridge sends to webhooks; deployed executions reach it through `medallion sync` and the daemon"
                    ));
                    continue;
                }
            };
            let destination =
                deployed_alerts::bounded_name(&project.name, &format!("alert-{name}"));
            if !urls.contains_key(&destination) {
                let value = crate::secrets::resolve(url).map_err(|e| {
                    ComputeError::invalid(format!(
                        "alert target {name}: its URL cannot be read ({e})"
                    ))
                })?;
                let url = SecretUrl(value);
                let shown = crate::compute::notify::shown_url(&url.0);
                shown_urls.insert(destination.clone(), shown.clone());
                out.push(deployed_alerts::connection(&project.name, name));
                out.push(deployed_alerts::destination(
                    &project.name,
                    name,
                    &url,
                    &shown,
                ));
                urls.insert(destination.clone(), url);
            }
            let destination_arn = current
                .iter()
                .find(|c| c.kind == ItemKind::ApiDestination && c.name == destination)
                .map_or_else(
                    || format!("{}{destination}", deployed_alerts::PENDING_DESTINATION),
                    |c| c.arn.clone(),
                );
            let shown = format!(
                "POST to {}",
                shown_urls.get(&destination).map_or("?", String::as_str)
            );
            for (outcome, statuses) in &outcomes {
                let d = deployed_alerts::rule(&AlertSpec {
                    project: &project.name,
                    rule,
                    target: name,
                    format,
                    outcome,
                    statuses,
                    state_machine_arn: machine_arn,
                    destination_arn: &destination_arn,
                    role_arn: Some(&events_role),
                    shown: &shown,
                    dead_letter_arn: &dead_letter_arn,
                });
                alert_rules.push(d.name.clone());
                out.push(d);
            }
        }
    }
    if !alert_rules.is_empty() {
        out.push(deploy::queue::desired(&project.name, &alert_rules));
    }
    Ok((out, notes, urls))
}

/// What a deploy did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployOutcome {
    pub plan: DeployPlan,
    pub applied: bool,
    pub state_machine_arn: Option<String>,
}

/// Refuses to apply a plan whose roles are not named.
fn check_roles(plan: &DeployPlan) -> Result<(), AppError> {
    if let Some(r) = plan.roles.iter().find(|r| r.arn.is_none()) {
        return Err(ComputeError::invalid(format!(
            "the aws resource `{}` names no role for the {} (set compute.{} to an IAM role ARN; it needs {})",
            plan.resource, r.role, r.setting, r.needs
        ))
        .into());
    }
    Ok(())
}

/// `medallion deploy`: the plan, and unless `dry_run` the plan applied and audited.
///
/// # Errors
/// See [`plan_deploy`]; a missing role; a failed AWS call while applying.
pub fn deploy(
    ws: &mut Workspace,
    stored: &StoredProject,
    resource: Option<&str>,
    dry_run: bool,
) -> Result<DeployOutcome, AppError> {
    let (aws, plan) = plan_deploy(ws, stored, resource)?;
    if dry_run {
        return Ok(DeployOutcome {
            plan,
            applied: false,
            state_machine_arn: None,
        });
    }
    check_roles(&plan)?;
    let arn = apply(&aws, &plan)?;
    audit(ws, &aws, &plan, AuditAction::Deployed, arn.as_deref())?;
    Ok(DeployOutcome {
        plan,
        applied: true,
        state_machine_arn: arn,
    })
}

/// Carries out a plan's changes with what it writes; the state machine's ARN when it has one.
fn apply(aws: &Aws, plan: &DeployPlan) -> Result<Option<String>, AppError> {
    let payload = Payload {
        contents: &plan.contents,
        urls: &plan.urls,
    };
    Ok(aws_apply::apply(
        aws,
        &plan.project,
        &plan.changes,
        payload,
    )?)
}

/// `medallion undeploy`: everything tagged for the project deleted (unless `dry_run`).
///
/// # Errors
/// A failed AWS call, as one sentence.
pub fn undeploy(
    ws: &mut Workspace,
    stored: &StoredProject,
    resource: Option<&str>,
    dry_run: bool,
) -> Result<DeployOutcome, AppError> {
    let project = &stored.project;
    let aws = connect(project, resource)?;
    let current = aws_apply::current(&aws, &project.name)?;
    let plan = DeployPlan {
        project: project.name.clone(),
        resource: aws.resource.clone(),
        region: aws.region(),
        state_machine: deploy::resource_name(&project.name, None, 80),
        steps: Vec::new(),
        changes: deploy::diff(&[], &current),
        roles: Vec::new(),
        notes: Vec::new(),
        definition: Value::Null,
        contents: BTreeMap::new(),
        urls: BTreeMap::new(),
    };
    if dry_run {
        return Ok(DeployOutcome {
            plan,
            applied: false,
            state_machine_arn: None,
        });
    }
    apply(&aws, &plan)?;
    audit(ws, &aws, &plan, AuditAction::Undeployed, None)?;
    Ok(DeployOutcome {
        plan,
        applied: true,
        state_machine_arn: None,
    })
}

fn audit(
    ws: &mut Workspace,
    aws: &Aws,
    plan: &DeployPlan,
    action: AuditAction,
    arn: Option<&str>,
) -> Result<(), AppError> {
    let (created, updated, deleted, unchanged) = plan.counts();
    let mut tiers: Vec<&str> = plan.steps.iter().map(|s| s.tier.as_str()).collect();
    tiers.sort_unstable();
    tiers.dedup();
    let changed: Vec<Value> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Unchanged)
        .map(|c| serde_json::json!({ "kind": c.kind, "name": c.name, "action": c.action }))
        .collect();
    super::audit::record(
        ws,
        &NewAuditEntry {
            action,
            project: Some(plan.project.clone()),
            subject: arn.map_or_else(|| plan.state_machine.clone(), str::to_owned),
            place: AuditPlace::Aws {
                resource: aws.resource.clone(),
                region: Some(plan.region.clone()).filter(|r| !r.is_empty()),
                account: super::audit::aws_account(aws),
                tier: if tiers.is_empty() {
                    "stepfunctions".to_owned()
                } else {
                    tiers.join("+")
                },
            },
            estimated_usd: None,
            actual_usd: None,
            detail: serde_json::json!({
                "created": created, "updated": updated, "deleted": deleted,
                "unchanged": unchanged, "changes": changed,
            }),
        },
    )
}

/// Whether an error came from AWS (exit 1) rather than the project or the request (exit 2).
pub fn is_remote_failure(e: &AppError) -> bool {
    match e {
        AppError::Compute(c) => !matches!(c.kind, ErrorKind::Invalid | ErrorKind::NotFound),
        _ => false,
    }
}
