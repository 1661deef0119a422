//! Remote runs: one run, many steps, each on its compute tier, driven step by step in
//! dependency order. Everything a run needs to continue lives in the workspace — each remote
//! identifier is stored the moment the platform returns it, log positions with the events read
//! up to them — so any process can pick a run up again ([`attach`], [`reconcile`]).
//!
//! The life of a step: `pending` → (inputs uploaded, plan written to S3) `submitting` →
//! (identifier stored) `submitted` → the runner's lines are tailed from the platform's logs →
//! the runner's [`StepResult`] in S3 decides the outcome (platforms may report exit 0 for a
//! failed runner, or lose log lines) → `success` / `failure` / `canceled`. A step with a failed
//! step before it is `skipped`. Local steps run in this process with the same runner code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::AppError;
use crate::compute::aws::{self, Aws};
use crate::compute::error::{ComputeError, ErrorKind};
use crate::compute::launch::{LaunchSpec, Launcher};
use crate::compute::protocol::{PROTOCOL_VERSION, ParsedLine, StepPlan, StepResult, parse_line};
use crate::compute::runner;
use crate::engine::source;
use crate::model::{
    AssetKey, AssetMaterialization, ComputeTier, LogLevel, Project, Resource, ResourceKind,
    RunEvent, RunRecord, RunStatus, SourceSpec,
};
pub use crate::store::{RemoteStepRow, StepStatus};
use crate::store::{StoredProject, Workspace};

/// The resource a run's uploaded inputs are read through inside the runner.
pub const INPUTS_RESOURCE: &str = "_medallion_inputs";
/// How long a driver's lease on a run lasts without renewal.
const LEASE_SECS: i64 = 10;
/// How many status checks of a step may fail in a row before the step fails.
const STATUS_ATTEMPTS: u32 = 5;
/// Why a local step found unfinished after its process stopped failed.
pub const LOCAL_INTERRUPTED: &str =
    "interrupted: the process running this local step stopped; submit again";
/// How long a local step without a timeout holds its run.
const LOCAL_LEASE_SECS: u32 = 3600;
/// What a canceled task is told.
pub const CANCEL_REASON: &str = "Canceled from Medallion";

/// What to run remotely.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitRequest {
    pub selection: String,
    /// Empty: unpartitioned. Several: a backfill (one array step on tiers that have arrays).
    pub partitions: Vec<String>,
    pub force: bool,
    /// Run every step on this tier instead of the planner's choice.
    pub tier: Option<ComputeTier>,
    /// Tiers chosen per asset (the launch dialog's overrides); they beat hints and the planner.
    #[serde(default)]
    pub overrides: BTreeMap<AssetKey, ComputeTier>,
    /// The `aws` resource to use (default: the first with a compute section).
    pub aws_resource: Option<String>,
    pub trigger: String,
}

/// A remote run with its steps, for the CLI and the studio.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteRunView {
    pub run: RunRecord,
    pub steps: Vec<RemoteStepRow>,
    pub cancel_requested: bool,
}

/// One step as planned: where it runs, why, and with what.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRemoteStep {
    pub tier: ComputeTier,
    pub reason: String,
    pub assets: Vec<AssetKey>,
    pub partitions: Vec<String>,
    pub vcpu: f64,
    pub memory_mb: u32,
    pub spot: bool,
    pub timeout_secs: Option<u32>,
}

/// Default size of a step whose assets give no hint.
const DEFAULT_VCPU: f64 = 1.0;
const DEFAULT_MEMORY_MB: u32 = 2048;

fn tier_has_arrays(tier: ComputeTier) -> bool {
    matches!(tier, ComputeTier::Batch | ComputeTier::Eks)
}

/// Where one asset runs and with what, as the compute planner chose it.
#[derive(Debug, Clone, PartialEq)]
pub struct TierChoice {
    pub tier: ComputeTier,
    pub reason: String,
    pub vcpu: f64,
    pub memory_mb: u32,
    pub spot: bool,
    pub timeout_secs: Option<u32>,
}

/// The planner's choices (`compute::planner` through `app::plan`) as step inputs. With
/// `forced` (`--tier`), the reason says so.
pub fn choices_from_plan(
    project: &Project,
    plans: &[crate::compute::planner::AssetPlan],
    forced: Option<ComputeTier>,
) -> BTreeMap<AssetKey, TierChoice> {
    plans
        .iter()
        .map(|a| {
            let hints = project
                .asset(&a.asset)
                .map(|x| x.compute.clone())
                .unwrap_or_default();
            let reason = match forced {
                Some(t) => format!("--tier {t}"),
                None => a.reason.clone(),
            };
            (
                a.asset.clone(),
                TierChoice {
                    tier: a.tier,
                    reason,
                    vcpu: a.vcpu,
                    memory_mb: a.memory_mb,
                    spot: a.spot,
                    timeout_secs: hints.timeout_secs,
                },
            )
        })
        .collect()
}

/// The planner's choices for `ordered` from the model alone (no run history): what the studio
/// shows before its plan with history arrives, and what tests use.
pub fn model_choices(
    project: &Project,
    ordered: &[AssetKey],
    partitions: usize,
    forced: Option<ComputeTier>,
) -> Result<BTreeMap<AssetKey, TierChoice>, AppError> {
    let prices = super::plan::shipped_prices()?;
    let options = crate::compute::planner::PlanOptions {
        overrides: forced
            .map(|t| ordered.iter().map(|k| (k.clone(), t)).collect())
            .unwrap_or_default(),
        partitions: partitions.max(1),
    };
    let plans =
        crate::compute::planner::plan(project, ordered, &BTreeMap::new(), &prices, &options);
    Ok(choices_from_plan(project, &plans, forced))
}

/// Splits ordered assets into steps that run one after another: an asset joins the earliest
/// step of its tier that comes after every step holding one of its upstream assets (the same
/// step is fine when it is on the same tier), so assets of one tier share a step wherever the
/// graph allows. When there is none, its new step goes at that earliest place, not at the end:
/// nothing placed so far depends on it (the assets come in dependency order), and a later
/// asset of a tier already planned can then still join that tier's step. A backfill on a tier
/// without array jobs becomes one step per partition.
pub fn plan_steps(
    project: &Project,
    ordered: &[AssetKey],
    partitions: &[String],
    choices: &BTreeMap<AssetKey, TierChoice>,
) -> Vec<PlannedRemoteStep> {
    let graph = crate::model::AssetGraph::build(project);
    let mut groups: Vec<PlannedRemoteStep> = Vec::new();
    let mut step_of: BTreeMap<AssetKey, usize> = BTreeMap::new();
    for key in ordered {
        let choice = choices.get(key).cloned().unwrap_or_else(|| TierChoice {
            tier: ComputeTier::Fargate,
            reason: "not planned: Fargate by default".to_owned(),
            vcpu: DEFAULT_VCPU,
            memory_mb: DEFAULT_MEMORY_MB,
            spot: false,
            timeout_secs: None,
        });
        let (tier, reason) = (choice.tier, choice.reason.clone());
        let partitioned = project
            .asset(key)
            .is_some_and(|a| a.partitions.is_partitioned());
        let parts = if partitioned {
            partitions.to_vec()
        } else {
            Vec::new()
        };
        let earliest = graph
            .upstream(key)
            .into_iter()
            .filter_map(|u| step_of.get(u))
            .map(|&i| if groups[i].tier == tier { i } else { i + 1 })
            .max()
            .unwrap_or(0);
        // A new step must come after every upstream step, even one of its own tier that it
        // could not join (other partitions).
        let after_upstream = graph
            .upstream(key)
            .into_iter()
            .filter_map(|u| step_of.get(u))
            .map(|&i| i + 1)
            .max()
            .unwrap_or(0);
        let slot = (earliest..groups.len())
            .find(|&i| groups[i].tier == tier && groups[i].partitions == parts);
        match slot {
            Some(i) => {
                let g = &mut groups[i];
                g.assets.push(key.clone());
                g.vcpu = g.vcpu.max(choice.vcpu);
                g.memory_mb = g.memory_mb.max(choice.memory_mb);
                g.spot &= choice.spot;
                g.timeout_secs = match (g.timeout_secs, choice.timeout_secs) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
                if !g.reason.contains(&reason) {
                    g.reason = format!("{}; {reason}", g.reason);
                }
                step_of.insert(key.clone(), i);
            }
            None => {
                let at = after_upstream.min(groups.len());
                for i in step_of.values_mut() {
                    if *i >= at {
                        *i += 1;
                    }
                }
                step_of.insert(key.clone(), at);
                groups.insert(
                    at,
                    PlannedRemoteStep {
                        tier,
                        reason,
                        assets: vec![key.clone()],
                        partitions: parts,
                        vcpu: choice.vcpu,
                        memory_mb: choice.memory_mb,
                        spot: choice.spot,
                        timeout_secs: choice.timeout_secs,
                    },
                );
            }
        }
    }
    for g in &mut groups {
        round_to_fargate_size(project, g);
    }
    let mut steps = Vec::new();
    for g in groups {
        if g.partitions.len() > 1 && !tier_has_arrays(g.tier) {
            for p in &g.partitions {
                steps.push(PlannedRemoteStep {
                    partitions: vec![p.clone()],
                    ..g.clone()
                });
            }
        } else {
            steps.push(g);
        }
    }
    steps
}

/// A step's size merged from its assets (max vCPU, max memory) can be a combination no asset
/// was planned with and Fargate refuses (8 vCPU with 30 GB, say): a Fargate step, or a Batch
/// step whose assets name no EC2 node type (Batch on Fargate), is raised to the smallest valid
/// Fargate size. When nothing is that big the size stays as merged — the planner has already
/// reported that asset as over Fargate's largest task.
fn round_to_fargate_size(project: &Project, step: &mut PlannedRemoteStep) {
    let on_ec2 = step.assets.iter().any(|k| {
        project
            .asset(k)
            .and_then(|a| a.compute.node_type.as_deref())
            .is_some_and(|t| !t.trim().is_empty())
    });
    let on_fargate = match step.tier {
        ComputeTier::Fargate => true,
        ComputeTier::Batch => !on_ec2,
        _ => false,
    };
    if on_fargate
        && let Some((vcpu, memory_mb)) =
            crate::compute::cost::fargate_size(step.vcpu, step.memory_mb)
    {
        step.vcpu = vcpu;
        step.memory_mb = memory_mb;
    }
}

/// The launcher of a tier, or why there is none. EKS runs on the project's `eks` resource.
pub fn launcher_for(
    aws: &Aws,
    project: &Project,
    tier: ComputeTier,
) -> Result<Box<dyn Launcher>, ComputeError> {
    match tier {
        ComputeTier::Fargate => Ok(Box::new(aws::fargate::Fargate { aws: aws.clone() })),
        ComputeTier::Batch => Ok(Box::new(aws::batch::Batch { aws: aws.clone() })),
        ComputeTier::Lambda => Ok(Box::new(aws::lambda::Lambda { aws: aws.clone() })),
        ComputeTier::Eks => crate::compute::eks::launcher::shared(
            &project.resources,
            &super::connections::KeyringSecrets,
            &aws.region(),
        )
        .map(|l| Box::new(l) as Box<dyn Launcher>),
        other => Err(ComputeError::invalid(format!(
            "remote runs on {other} are not available in this build; use --tier fargate, batch, lambda or local"
        ))),
    }
}

fn connect(project: &Project, resource: Option<&str>) -> Result<Aws, AppError> {
    let r = aws::compute_resource(&project.resources, resource)?;
    Ok(Aws::connect(
        r,
        &super::connections::KeyringSecrets,
        &project.name,
    )?)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How often a driver looks at its remote steps (`MEDALLION_REMOTE_POLL_MS`, default 2 s).
pub fn poll_interval() -> Duration {
    Duration::from_millis(
        std::env::var("MEDALLION_REMOTE_POLL_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000),
    )
}

/// How long to wait for a runner's result after its platform reports it ended
/// (`MEDALLION_REMOTE_RESULT_GRACE_SECS`, default 60 s).
fn result_grace() -> Duration {
    Duration::from_secs(
        std::env::var("MEDALLION_REMOTE_RESULT_GRACE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60),
    )
}

fn driver_id() -> String {
    use std::sync::OnceLock;
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| format!("pid{}-{}", std::process::id(), now()))
        .clone()
}

/// Submits a remote run: records it with its planned steps, then drives it — to the end, or
/// (with `detach`) until its first remote step is submitted.
pub fn submit(
    ws: &mut Workspace,
    stored: &StoredProject,
    request: &SubmitRequest,
    detach: bool,
    on_event: &mut dyn FnMut(&str, &RunEvent),
) -> Result<String, AppError> {
    submit_with(ws, stored, request, detach, None, on_event)
}

/// [`submit`], with the flag that stops local steps (the studio's Cancel).
fn submit_with(
    ws: &mut Workspace,
    stored: &StoredProject,
    request: &SubmitRequest,
    detach: bool,
    cancel: Option<&Arc<AtomicBool>>,
    on_event: &mut dyn FnMut(&str, &RunEvent),
) -> Result<String, AppError> {
    let project = &stored.project;
    if let Some(first) = crate::model::validate(project)
        .iter()
        .find(|d| d.is_error())
    {
        return Err(AppError::BadRequest(format!(
            "the project has errors; fix them first: {first}"
        )));
    }
    let ordered = super::run::resolve_selection(project, &request.selection)?;
    if ordered.is_empty() {
        return Err(AppError::BadRequest(format!(
            "the selection `{}` matches no asset",
            request.selection
        )));
    }
    for key in &request.partitions {
        super::run::check_partition(project, &ordered, key)?;
    }
    let aws = connect(project, request.aws_resource.as_deref())?;
    // The compute planner (with this workspace's run history and prices) picks each asset's
    // tier and size; the dialog's overrides and --tier beat it.
    let mut overrides = request.overrides.clone();
    if let Some(t) = request.tier {
        overrides.extend(ordered.iter().map(|k| (k.clone(), t)));
    }
    let report = super::plan::compute_plan(
        ws,
        stored,
        &request.selection,
        request.partitions.len().max(1),
        &overrides,
    )?;
    if let Some(a) = report.assets.iter().find(|a| a.problem.is_some()) {
        return Err(AppError::BadRequest(format!(
            "{}: {} — choose another tier (--tier, or in the launch dialog) or change its compute hints",
            a.asset,
            a.problem.as_deref().unwrap_or_default()
        )));
    }
    let choices = choices_from_plan(project, &report.assets, request.tier);
    let planned = plan_steps(project, &ordered, &request.partitions, &choices);
    // Every tier must have a launcher before anything is recorded.
    for s in &planned {
        if s.tier != ComputeTier::Local {
            launcher_for(&aws, project, s.tier)?;
        }
    }
    let tiers: BTreeSet<&str> = planned.iter().map(|s| s.tier.as_str()).collect();
    let run = RunRecord {
        id: super::run::new_run_id(),
        project: project.name.clone(),
        selection: request.selection.clone(),
        partition: match request.partitions.as_slice() {
            [one] => Some(one.clone()),
            [first, .., last] => Some(format!("{first}..{last}")),
            [] => None,
        },
        target: format!("aws:{}", tiers.into_iter().collect::<Vec<_>>().join("+")),
        status: RunStatus::Queued,
        trigger: request.trigger.clone(),
        created_at: now(),
        started_at: None,
        ended_at: None,
        error: None,
        allow_failed_upstream: false,
        checks_only: false,
    };
    let steps: Vec<RemoteStepRow> = planned
        .iter()
        .enumerate()
        .map(|(i, s)| RemoteStepRow {
            position: i as u32,
            step_id: format!("s{}-{}", i + 1, s.tier),
            tier: s.tier.as_str().to_owned(),
            tier_reason: s.reason.clone(),
            assets: s.assets.clone(),
            partitions: s.partitions.clone(),
            vcpu: s.vcpu,
            memory_mb: s.memory_mb,
            spot: s.spot,
            timeout_secs: s.timeout_secs,
            status: StepStatus::Pending,
            remote_id: None,
            plan_uri: None,
            result_uri: None,
            remote_status: None,
            exit_code: None,
            stop_reason: None,
            submitted_at: None,
            ended_at: None,
            duration_secs: None,
            error: None,
        })
        .collect();
    let request_json = serde_json::to_string(request)
        .map_err(|e| AppError::BadRequest(format!("cannot encode the request: {e}")))?;
    ws.create_remote_run(&run, &aws.resource, &request_json, &steps)?;
    ws.set_run_owner(&run.id, super::liveness::current_owner())?;
    super::plan::record_estimates(
        ws,
        &run.id,
        cost_partition(&request.partitions),
        &report.assets,
    )?;
    let mut driver = Driver {
        ws,
        aws,
        project: project.clone(),
        project_dir: stored
            .source_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(".")),
        run_id: run.id.clone(),
        me: driver_id(),
        cancel: cancel.map_or_else(Arc::default, Arc::clone),
        status_errors: BTreeMap::new(),
    };
    driver.drive(detach, None, on_event)?;
    Ok(run.id)
}

/// Drives a run to its end from wherever it is (after a crash, or a detached submit).
pub fn attach(
    ws: &mut Workspace,
    run_id: &str,
    on_event: &mut dyn FnMut(&str, &RunEvent),
) -> Result<(), AppError> {
    let mut driver = Driver::open(ws, run_id)?;
    driver.drive(false, None, on_event)
}

/// One pass over every unfinished remote run: tails logs, records finished steps, submits the
/// next ones, carries out cancels. Runs another process drives are left alone. Returns the runs
/// visited, with the error of each that could not be reconciled.
pub fn reconcile(ws: &mut Workspace) -> Result<Vec<(String, Option<String>)>, AppError> {
    super::liveness::end_dead_runs_quietly(ws);
    let mut out = Vec::new();
    for run_id in ws.unfinished_remote_runs()? {
        let me = driver_id();
        if !ws.take_remote_lease(&run_id, &me, LEASE_SECS)? {
            continue;
        }
        let result = Driver::open(ws, &run_id).and_then(|mut d| d.step(&mut |_, _| {}).map(|_| ()));
        ws.release_remote_lease(&run_id, &me)?;
        out.push((run_id, result.err().map(|e| format!("{e:#}"))));
    }
    Ok(out)
}

/// The studio's reattach on start: a named thread with its own workspace connection follows
/// every remote run left unfinished (by a crash, a killed process or a detached submit) to its
/// end. The lease keeps it from driving a run another process drives.
#[expect(
    clippy::disallowed_methods,
    reason = "the reattach thread follows remote runs for as long as they take"
)]
pub fn spawn_reattach(path: &Path) -> std::io::Result<std::thread::JoinHandle<()>> {
    let path = path.to_owned();
    std::thread::Builder::new()
        .name("medallion-reattach".to_owned())
        .spawn(move || {
            let mut ws = match Workspace::open(&path) {
                Ok(ws) => ws,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reattach remote runs");
                    return;
                }
            };
            // Runs whose process is gone end first (a launch that never submitted is not
            // reopened), then the remote runs still going are followed.
            super::liveness::end_dead_runs_quietly(&mut ws);
            let runs = match ws.unfinished_remote_runs() {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list unfinished remote runs");
                    return;
                }
            };
            for run_id in runs {
                tracing::info!(run = %run_id, "reattaching to a remote run");
                if let Err(e) = attach(&mut ws, &run_id, &mut |_, _| {}) {
                    tracing::error!(run = %run_id, error = %format!("{e:#}"), "reattaching failed");
                }
            }
        })
}

/// Asks a run to stop: its submitted steps are stopped on their platform at once (`StopTask`,
/// `TerminateJob`), and the run is recorded as canceled.
pub fn cancel(ws: &mut Workspace, run_id: &str) -> Result<Vec<String>, AppError> {
    let remote = ws
        .remote_run(run_id)?
        .ok_or_else(|| AppError::BadRequest(format!("run {run_id} is not a remote run")))?;
    if remote.finished {
        return Err(AppError::BadRequest(format!(
            "run {run_id} has already finished ({})",
            ws.run(run_id)?.status
        )));
    }
    ws.request_remote_cancel(run_id)?;
    let mut driver = Driver::open(ws, run_id)?;
    let stopped = driver.stop_remote_steps()?;
    // Finish the bookkeeping now unless another process drives the run (it will).
    let me = driver.me.clone();
    if driver.ws.take_remote_lease(run_id, &me, LEASE_SECS)? {
        driver.step(&mut |_, _| {})?;
        driver.ws.release_remote_lease(run_id, &me)?;
    }
    Ok(stopped)
}

/// A remote run with its steps.
pub fn view(ws: &Workspace, run_id: &str) -> Result<Option<RemoteRunView>, AppError> {
    let Some(remote) = ws.remote_run(run_id)? else {
        return Ok(None);
    };
    Ok(Some(RemoteRunView {
        run: ws.run(run_id)?,
        steps: ws.remote_steps(run_id)?,
        cancel_requested: remote.cancel_requested,
    }))
}

/// Drives one run, holding its lease.
struct Driver<'w> {
    ws: &'w mut Workspace,
    aws: Aws,
    project: Project,
    project_dir: PathBuf,
    run_id: String,
    me: String,
    /// Stops the local steps this driver runs (the studio's Cancel).
    cancel: Arc<AtomicBool>,
    /// Status checks that failed in a row, per step.
    status_errors: BTreeMap<String, u32>,
}

impl<'w> Driver<'w> {
    fn open(ws: &'w mut Workspace, run_id: &str) -> Result<Self, AppError> {
        let remote = ws
            .remote_run(run_id)?
            .ok_or_else(|| AppError::BadRequest(format!("run {run_id} is not a remote run")))?;
        let run = ws.run(run_id)?;
        let stored = ws.load_project(&run.project)?;
        let aws = connect(&stored.project, Some(&remote.aws_resource))?;
        let project_dir = stored
            .source_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Self {
            ws,
            aws,
            project: stored.project,
            project_dir,
            run_id: run_id.to_owned(),
            me: driver_id(),
            cancel: Arc::default(),
            status_errors: BTreeMap::new(),
        })
    }

    /// Steps until the run ends (or, detached, until no step is about to be submitted here).
    fn drive(
        &mut self,
        detach: bool,
        cancel: Option<&AtomicBool>,
        on_event: &mut dyn FnMut(&str, &RunEvent),
    ) -> Result<(), AppError> {
        let mut waiting_said = false;
        let mut cancel_sent = false;
        loop {
            if !cancel_sent && cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            {
                cancel_sent = true;
                self.ws.request_remote_cancel(&self.run_id)?;
                if let Err(e) = self.stop_remote_steps() {
                    self.log(LogLevel::Error, format!("{e:#}"), on_event)?;
                }
            }
            if !self
                .ws
                .take_remote_lease(&self.run_id, &self.me, LEASE_SECS)?
            {
                if !waiting_said {
                    tracing::info!(run = %self.run_id, "another process drives this run; waiting for its lease to end");
                    waiting_said = true;
                }
                std::thread::sleep(poll_interval());
                continue;
            }
            let finished = self.step(on_event);
            let finished = match finished {
                Ok(f) => f,
                Err(e) => {
                    let _ = self.ws.release_remote_lease(&self.run_id, &self.me);
                    return Err(e);
                }
            };
            if finished {
                return Ok(());
            }
            if detach
                && self
                    .ws
                    .remote_steps(&self.run_id)?
                    .iter()
                    .any(|s| s.status == StepStatus::Submitted)
            {
                self.ws.release_remote_lease(&self.run_id, &self.me)?;
                return Ok(());
            }
            std::thread::sleep(poll_interval());
        }
    }

    /// One pass under the lease (waits for another driver's lease to end first).
    fn drive_once(
        &mut self,
        cancel: Option<&AtomicBool>,
        on_event: &mut dyn FnMut(&str, &RunEvent),
    ) -> Result<(), AppError> {
        if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            && !self
                .ws
                .remote_run(&self.run_id)?
                .is_some_and(|r| r.cancel_requested || r.finished)
        {
            self.ws.request_remote_cancel(&self.run_id)?;
            if let Err(e) = self.stop_remote_steps() {
                self.log(LogLevel::Error, format!("{e:#}"), on_event)?;
            }
        }
        if self
            .ws
            .take_remote_lease(&self.run_id, &self.me, LEASE_SECS)?
        {
            self.step(on_event)?;
        }
        Ok(())
    }

    fn launcher(&self, tier: &str) -> Result<Box<dyn Launcher>, AppError> {
        let tier = ComputeTier::ALL
            .into_iter()
            .find(|t| t.as_str() == tier)
            .ok_or_else(|| AppError::BadRequest(format!("unknown tier `{tier}`")))?;
        Ok(launcher_for(&self.aws, &self.project, tier)?)
    }

    fn emit(
        &mut self,
        events: &[RunEvent],
        on_event: &mut dyn FnMut(&str, &RunEvent),
    ) -> Result<(), AppError> {
        let events: Vec<RunEvent> = events
            .iter()
            .cloned()
            .map(super::connections::redact_event)
            .collect();
        self.ws.append_remote_run_events(&self.run_id, &events)?;
        for e in &events {
            on_event(&self.run_id, e);
        }
        Ok(())
    }

    fn log(
        &mut self,
        level: LogLevel,
        message: String,
        on_event: &mut dyn FnMut(&str, &RunEvent),
    ) -> Result<(), AppError> {
        self.emit(
            &[RunEvent::Log {
                level,
                asset: None,
                message,
            }],
            on_event,
        )
    }

    /// Stops every submitted step on its platform; returns what was stopped.
    fn stop_remote_steps(&mut self) -> Result<Vec<String>, AppError> {
        let mut stopped = Vec::new();
        let mut errors = Vec::new();
        for s in self.ws.remote_steps(&self.run_id)? {
            if s.status != StepStatus::Submitted {
                continue;
            }
            let Some(id) = &s.remote_id else { continue };
            match self.launcher(&s.tier)?.cancel(id, CANCEL_REASON) {
                Ok(()) => stopped.push(id.clone()),
                Err(e) => errors.push(format!("step {}: {e}", s.step_id)),
            }
        }
        if errors.is_empty() {
            Ok(stopped)
        } else {
            Err(AppError::BadRequest(format!(
                "could not stop every remote step: {}",
                errors.join("; ")
            )))
        }
    }

    /// One pass: returns whether the run has finished.
    fn step(&mut self, on_event: &mut dyn FnMut(&str, &RunEvent)) -> Result<bool, AppError> {
        let Some(remote) = self.ws.remote_run(&self.run_id)? else {
            return Err(AppError::BadRequest(format!(
                "run {} is not a remote run",
                self.run_id
            )));
        };
        if remote.finished {
            return Ok(true);
        }
        if remote.next_seq == 0 {
            let plan: Vec<AssetKey> = self
                .ws
                .remote_steps(&self.run_id)?
                .iter()
                .flat_map(|s| s.assets.clone())
                .collect();
            self.emit(&[RunEvent::RunStarted { plan }], on_event)?;
        }
        let steps = self.ws.remote_steps(&self.run_id)?;
        if remote.cancel_requested {
            return self.finish_canceled(steps, on_event);
        }
        let failed_before = steps.iter().any(|s| {
            matches!(
                s.status,
                StepStatus::Failure | StepStatus::Canceled | StepStatus::Skipped
            )
        });
        let Some(mut s) = steps.into_iter().find(|s| !s.status.is_finished()) else {
            return self.finish(on_event);
        };
        if failed_before {
            s.status = StepStatus::Skipped;
            s.error = Some("an earlier step did not succeed".to_owned());
            s.ended_at = Some(now());
            self.ws.save_remote_step(&self.run_id, &s)?;
            for asset in s.assets.clone() {
                self.emit(
                    &[RunEvent::StepFinished {
                        asset,
                        partition: s.partitions.first().cloned(),
                        outcome: crate::model::StepOutcome::Skipped {
                            reason: format!(
                                "step {} was skipped: an earlier step did not succeed",
                                s.step_id
                            ),
                        },
                        duration_ms: 0,
                    }],
                    on_event,
                )?;
            }
            return Ok(false);
        }
        match s.status {
            StepStatus::Pending => self.start(s, on_event)?,
            StepStatus::Submitting => {
                let spec = self.spec(&s);
                let found = self.launcher(&s.tier)?.find_submitted(&spec)?;
                match found {
                    Some(id) => {
                        s.remote_id = Some(id.clone());
                        s.status = StepStatus::Submitted;
                        self.ws.save_remote_step(&self.run_id, &s)?;
                        self.log(
                            LogLevel::Info,
                            format!("step {}: found {id} submitted before a restart", s.step_id),
                            on_event,
                        )?;
                    }
                    None => self.start(s, on_event)?,
                }
            }
            // A local step runs inside one call of `start`: found still submitted, the process
            // that ran it stopped before it ended.
            StepStatus::Submitted if s.tier == ComputeTier::Local.as_str() => {
                self.fail_step(s, LOCAL_INTERRUPTED, on_event)?;
            }
            StepStatus::Submitted => self.poll(s, on_event)?,
            _ => {}
        }
        Ok(false)
    }

    fn finish(&mut self, on_event: &mut dyn FnMut(&str, &RunEvent)) -> Result<bool, AppError> {
        let steps = self.ws.remote_steps(&self.run_id)?;
        let status = if steps.iter().all(|s| s.status == StepStatus::Success) {
            RunStatus::Success
        } else if steps.iter().any(|s| s.status == StepStatus::Canceled) {
            RunStatus::Canceled
        } else {
            RunStatus::Failure
        };
        let error = steps
            .iter()
            .find(|s| matches!(s.status, StepStatus::Failure | StepStatus::Canceled))
            .map(|s| {
                format!(
                    "step {} ({}): {}",
                    s.step_id,
                    s.tier,
                    s.error
                        .clone()
                        .unwrap_or_else(|| s.status.as_str().to_owned())
                )
            });
        self.emit(
            &[RunEvent::RunFinished {
                status,
                error: error.clone(),
            }],
            on_event,
        )?;
        self.ws
            .finish_remote_run(&self.run_id, status, error.as_deref())?;
        Ok(true)
    }

    fn finish_canceled(
        &mut self,
        steps: Vec<RemoteStepRow>,
        on_event: &mut dyn FnMut(&str, &RunEvent),
    ) -> Result<bool, AppError> {
        for mut s in steps {
            if s.status.is_finished() {
                continue;
            }
            if s.status == StepStatus::Submitted
                && let Some(id) = s.remote_id.clone()
            {
                let launcher = self.launcher(&s.tier)?;
                // The cancel command stopped it already; stopping twice is harmless.
                if let Err(e) = launcher.cancel(&id, CANCEL_REASON) {
                    tracing::warn!(run = %self.run_id, step = %s.step_id, error = %e, "stopping the step again failed");
                }
                if let Ok(state) = launcher.status(&id) {
                    s.remote_status = Some(state.status);
                    s.exit_code = state.exit_code;
                    s.stop_reason = state.reason;
                }
            }
            s.status = StepStatus::Canceled;
            s.error = Some("canceled".to_owned());
            s.ended_at = Some(now());
            self.ws.save_remote_step(&self.run_id, &s)?;
            self.log(
                LogLevel::Warn,
                format!("step {} ({}) canceled", s.step_id, s.tier),
                on_event,
            )?;
        }
        let error = Some("canceled".to_owned());
        self.emit(
            &[RunEvent::RunFinished {
                status: RunStatus::Canceled,
                error: error.clone(),
            }],
            on_event,
        )?;
        self.ws
            .finish_remote_run(&self.run_id, RunStatus::Canceled, error.as_deref())?;
        Ok(true)
    }

    fn children(s: &RemoteStepRow) -> usize {
        let tier_arrays = ComputeTier::ALL
            .into_iter()
            .find(|t| t.as_str() == s.tier)
            .is_some_and(tier_has_arrays);
        if tier_arrays {
            s.partitions.len().max(1)
        } else {
            1
        }
    }

    fn spec(&self, s: &RemoteStepRow) -> LaunchSpec {
        let hints = s
            .assets
            .first()
            .and_then(|a| self.project.asset(a))
            .map(|a| &a.compute);
        LaunchSpec {
            run_id: self.run_id.clone(),
            step_id: s.step_id.clone(),
            project: self.project.name.clone(),
            assets: s.assets.clone(),
            plan_uri: s.plan_uri.clone().unwrap_or_else(|| {
                self.aws
                    .uri(&format!("_runs/{}/{}/plan.json", self.run_id, s.step_id))
            }),
            array_size: if Self::children(s) > 1 {
                Self::children(s)
            } else {
                0
            },
            vcpu: s.vcpu,
            memory_mb: s.memory_mb,
            spot: s.spot,
            timeout_secs: s.timeout_secs,
            node_type: hints.and_then(|h| h.node_type.clone()),
            max_nodes: hints.and_then(|h| h.max_nodes),
        }
    }

    /// Builds the step's plan (uploading inputs and local upstream data), writes it to S3 and
    /// submits it — or, for a local step, runs it here. A step that cannot get that far (no
    /// AWS credentials, a bucket that does not exist, an input that cannot be read) fails at
    /// once with the reason, and so does its run: nothing was submitted, so nothing on AWS
    /// could finish it later.
    fn start(
        &mut self,
        mut s: RemoteStepRow,
        on_event: &mut dyn FnMut(&str, &RunEvent),
    ) -> Result<(), AppError> {
        let prepared = self.step_plan(&s).and_then(|plan| {
            let body = serde_json::to_vec(&plan)
                .map_err(|e| AppError::BadRequest(format!("cannot encode the step plan: {e}")))?;
            let plan_uri = self
                .aws
                .uri(&format!("_runs/{}/{}/plan.json", self.run_id, s.step_id));
            self.aws.put(&plan_uri, body)?;
            Ok((plan, plan_uri))
        });
        let (plan, plan_uri) = match prepared {
            Ok(p) => p,
            // The workspace itself failing is not the step's fault: the run stays as it is.
            Err(e @ AppError::Store(_)) => return Err(e),
            Err(e) => {
                let error = format!(
                    "could not be submitted: {}",
                    super::redact(&format!("{e:#}"))
                );
                return self.fail_step(s, &error, on_event);
            }
        };
        s.plan_uri = Some(plan_uri);
        s.result_uri = Some(plan.result_uri.clone());
        if s.tier == ComputeTier::Local.as_str() {
            return self.run_local(s, &plan, on_event);
        }
        s.status = StepStatus::Submitting;
        self.ws.save_remote_step(&self.run_id, &s)?;
        let spec = self.spec(&s);
        let launcher = self.launcher(&s.tier)?;
        // A synchronous submit (Lambda) may take the step's whole timeout: hold the run that
        // long, so no other process submits the step again meanwhile.
        self.ws.take_remote_lease(
            &self.run_id,
            &self.me,
            LEASE_SECS + i64::from(spec.timeout_secs.unwrap_or(0)),
        )?;
        let submitted = launcher.submit(&spec);
        // Back to the normal lease: a driver killed from here on is replaced within seconds.
        self.ws
            .take_remote_lease(&self.run_id, &self.me, LEASE_SECS)?;
        match submitted {
            Ok(id) => {
                // Stored before anything else happens: from here on the run can be found again.
                s.remote_id = Some(id.clone());
                s.status = StepStatus::Submitted;
                s.submitted_at = Some(now());
                self.ws.save_remote_step(&self.run_id, &s)?;
                self.log(
                    LogLevel::Info,
                    format!(
                        "step {} submitted to {} ({}; {} vCPU, {} MiB{}): {id}",
                        s.step_id,
                        s.tier,
                        s.tier_reason,
                        s.vcpu,
                        s.memory_mb,
                        if s.spot { ", spot" } else { "" }
                    ),
                    on_event,
                )
            }
            Err(e) => {
                s.status = StepStatus::Failure;
                s.error = Some(e.to_string());
                s.ended_at = Some(now());
                self.ws.save_remote_step(&self.run_id, &s)?;
                self.log(
                    LogLevel::Error,
                    format!("step {} could not be submitted: {e}", s.step_id),
                    on_event,
                )
            }
        }
    }

    fn run_local(
        &mut self,
        mut s: RemoteStepRow,
        plan: &StepPlan,
        on_event: &mut dyn FnMut(&str, &RunEvent),
    ) -> Result<(), AppError> {
        s.status = StepStatus::Submitted;
        s.submitted_at = Some(now());
        self.ws.save_remote_step(&self.run_id, &s)?;
        // Hold the run while the step runs here (its timeout, or an hour), so no other process
        // takes a local step still running for an interrupted one.
        self.ws.take_remote_lease(
            &self.run_id,
            &self.me,
            LEASE_SECS + i64::from(s.timeout_secs.unwrap_or(LOCAL_LEASE_SECS)),
        )?;
        let ran = self.run_local_children(&s, plan);
        self.ws
            .take_remote_lease(&self.run_id, &self.me, LEASE_SECS)?;
        match ran {
            Ok(results) => self.ingest_results(s, &results, on_event),
            Err(e) => self.fail_step(s, &e.to_string(), on_event),
        }
    }

    fn run_local_children(
        &self,
        s: &RemoteStepRow,
        plan: &StepPlan,
    ) -> Result<Vec<StepResult>, ComputeError> {
        let cancel = Arc::clone(&self.cancel);
        let mut results = Vec::new();
        for child in 0..Self::children(s) {
            let index = (Self::children(s) > 1).then_some(child);
            results.push(runner::run_plan(
                &self.aws,
                plan,
                index,
                Some(&self.project_dir),
                &mut std::io::sink(),
                &cancel,
            )?);
        }
        Ok(results)
    }

    /// Ends a step as failed with `error` (the run goes on to its end as a failure). Its
    /// assets that no event has finished yet finish failed with the same reason, so the run
    /// view and the canvas show them failed, not queued.
    fn fail_step(
        &mut self,
        mut s: RemoteStepRow,
        error: &str,
        on_event: &mut dyn FnMut(&str, &RunEvent),
    ) -> Result<(), AppError> {
        let message = format!("step {}: {error}", s.step_id);
        s.status = StepStatus::Failure;
        s.error = Some(error.to_owned());
        s.ended_at = Some(now());
        self.ws.save_remote_step(&self.run_id, &s)?;
        self.log(LogLevel::Error, message, on_event)?;
        let finished: BTreeSet<(AssetKey, Option<String>)> = self
            .ws
            .run_events(&self.run_id)?
            .into_iter()
            .filter_map(|e| match e {
                RunEvent::StepFinished {
                    asset, partition, ..
                } => Some((asset, partition)),
                _ => None,
            })
            .collect();
        let partitions: Vec<Option<String>> = if s.partitions.is_empty() {
            vec![None]
        } else {
            s.partitions.iter().cloned().map(Some).collect()
        };
        // Each asset gets the reason's first line (the whole of it is in the step's log line
        // and the run's error), so a long platform message is not repeated per asset.
        let mut short: String = error.lines().next().unwrap_or_default().to_owned();
        if short.chars().count() > 200 {
            short = short.chars().take(200).collect::<String>() + "…";
        }
        let short = format!("step {} failed: {short}", s.step_id);
        let mut events = Vec::new();
        for asset in &s.assets {
            for partition in &partitions {
                if !finished.contains(&(asset.clone(), partition.clone())) {
                    events.push(RunEvent::StepFinished {
                        asset: asset.clone(),
                        partition: partition.clone(),
                        outcome: crate::model::StepOutcome::Failed {
                            error: short.clone(),
                        },
                        duration_ms: 0,
                    });
                }
            }
        }
        if events.is_empty() {
            Ok(())
        } else {
            self.emit(&events, on_event)
        }
    }

    /// Reads new log lines of every child, then the results; finishes the step when every
    /// child's result is there (or the platform ended it without one).
    fn poll(
        &mut self,
        mut s: RemoteStepRow,
        on_event: &mut dyn FnMut(&str, &RunEvent),
    ) -> Result<(), AppError> {
        let launcher = self.launcher(&s.tier)?;
        let Some(id) = s.remote_id.clone() else {
            return Err(AppError::BadRequest(format!(
                "step {} has no remote id",
                s.step_id
            )));
        };
        let children = Self::children(&s);
        let mut last_lines = Vec::new();
        for child in 0..children {
            let mut log = self
                .ws
                .remote_child_log(&self.run_id, s.position, child as u32)?;
            let read = match launcher.read_logs(&id, child, log.log_position.as_deref()) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(run = %self.run_id, step = %s.step_id, error = %e, "reading logs failed; will retry");
                    continue;
                }
            };
            let mut events = Vec::new();
            for line in &read.lines {
                match parse_line(line) {
                    Ok(ParsedLine::Event(l)) => {
                        if l.seq >= log.next_event {
                            log.next_event = l.seq + 1;
                            events.push(convert(&s, l.event));
                        }
                    }
                    Ok(ParsedLine::Text(t)) if !t.trim().is_empty() => {
                        last_lines.push(t.clone());
                        events.push(RunEvent::Log {
                            level: LogLevel::Info,
                            asset: None,
                            message: format!("[{}] {t}", s.step_id),
                        });
                    }
                    Ok(ParsedLine::Text(_)) => {}
                    Err(e) => events.push(RunEvent::Log {
                        level: LogLevel::Warn,
                        asset: None,
                        message: format!("[{}] {e}", s.step_id),
                    }),
                }
            }
            if read.position != log.log_position || !events.is_empty() {
                log.log_position = read.position;
                let events: Vec<RunEvent> = events
                    .into_iter()
                    .map(super::connections::redact_event)
                    .collect();
                self.ws.record_remote_events(
                    &self.run_id,
                    s.position,
                    child as u32,
                    &log,
                    &events,
                )?;
                for e in &events {
                    on_event(&self.run_id, e);
                }
            }
        }
        // The results decide.
        let mut results = Vec::new();
        for child in 0..children {
            let uri = s
                .result_uri
                .clone()
                .unwrap_or_default()
                .replace("{index}", &child.to_string());
            match self.aws.get(&uri) {
                Ok(Some(bytes)) => match serde_json::from_slice::<StepResult>(&bytes) {
                    Ok(r) => results.push(r),
                    Err(e) => {
                        // The step failed; the driver carries on with the rest of the run.
                        if let Ok(state) = launcher.status(&id) {
                            s.remote_status = Some(state.status);
                            s.exit_code = state.exit_code;
                            s.stop_reason = state.reason;
                        }
                        return self.fail_step(
                            s,
                            &format!("malformed result at {uri}: {e}"),
                            on_event,
                        );
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(run = %self.run_id, error = %e, "reading the step result failed; will retry");
                    break;
                }
            }
        }
        if results.len() == children {
            if let Ok(state) = launcher.status(&id) {
                s.remote_status = Some(state.status);
                s.exit_code = state.exit_code;
                s.stop_reason = state.reason;
            }
            return self.ingest_results(s, &results, on_event);
        }
        let state = match launcher.status(&id) {
            Ok(state) => {
                self.status_errors.remove(&s.step_id);
                state
            }
            Err(e) => {
                // Like a failed log read: try again on the next pass, unless the platform says
                // the task is gone or it keeps failing.
                let failures = self.status_errors.entry(s.step_id.clone()).or_default();
                *failures += 1;
                let failures = *failures;
                if e.kind == ErrorKind::NotFound {
                    self.status_errors.remove(&s.step_id);
                    let error = format!("{} no longer knows {id}: {e}", s.tier);
                    return self.fail_step(s, &error, on_event);
                }
                if failures >= STATUS_ATTEMPTS {
                    self.status_errors.remove(&s.step_id);
                    return self.fail_step(
                        s,
                        &format!(
                            "the status of {id} could not be read {failures} times in a row: {e}"
                        ),
                        on_event,
                    );
                }
                tracing::warn!(run = %self.run_id, step = %s.step_id, error = %e, "reading the step status failed; will retry");
                return Ok(());
            }
        };
        let changed = s.remote_status.as_deref() != Some(state.status.as_str());
        s.remote_status = Some(state.status.clone());
        s.exit_code = state.exit_code;
        s.stop_reason.clone_from(&state.reason);
        if changed {
            self.ws.save_remote_step(&self.run_id, &s)?;
            self.log(
                LogLevel::Debug,
                format!("step {}: {} is {}", s.step_id, id, state.status),
                on_event,
            )?;
        }
        if state.phase.is_finished() {
            let since = s.ended_at.get_or_insert_with(now).clone();
            self.ws.save_remote_step(&self.run_id, &s)?;
            let waited = chrono::DateTime::parse_from_rfc3339(&since)
                .map(|t| {
                    chrono::Utc::now()
                        .signed_duration_since(t)
                        .to_std()
                        .unwrap_or_default()
                })
                .unwrap_or_default();
            if waited >= result_grace() {
                let tail = last_lines
                    .iter()
                    .rev()
                    .take(5)
                    .rev()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" | ");
                let error = format!(
                    "the runner wrote no result ({} {}, exit code {}, reason: {}){}",
                    s.tier,
                    state.status,
                    state
                        .exit_code
                        .map_or_else(|| "unknown".to_owned(), |c| c.to_string()),
                    state.reason.as_deref().unwrap_or("none given"),
                    if tail.is_empty() {
                        String::new()
                    } else {
                        format!("; last output: {tail}")
                    }
                );
                s.status = StepStatus::Failure;
                s.error = Some(error.clone());
                self.ws.save_remote_step(&self.run_id, &s)?;
                self.log(
                    LogLevel::Error,
                    format!("step {}: {error}", s.step_id),
                    on_event,
                )?;
            }
        }
        Ok(())
    }

    /// Stores what the results hold beyond the events already read from the logs, and ends
    /// the step with their status.
    fn ingest_results(
        &mut self,
        mut s: RemoteStepRow,
        results: &[StepResult],
        on_event: &mut dyn FnMut(&str, &RunEvent),
    ) -> Result<(), AppError> {
        for (child, r) in results.iter().enumerate() {
            let mut log = self
                .ws
                .remote_child_log(&self.run_id, s.position, child as u32)?;
            let start = usize::try_from(log.next_event).unwrap_or(usize::MAX);
            let events: Vec<RunEvent> = r
                .events
                .iter()
                .skip(start)
                .cloned()
                .map(|e| super::connections::redact_event(convert(&s, e)))
                .collect();
            log.next_event = r.events.len() as u64;
            log.done = true;
            self.ws
                .record_remote_events(&self.run_id, s.position, child as u32, &log, &events)?;
            for e in &events {
                on_event(&self.run_id, e);
            }
        }
        let statuses: Vec<RunStatus> = results.iter().map(|r| r.status).collect();
        s.status = if statuses.iter().all(|x| *x == RunStatus::Success) {
            StepStatus::Success
        } else if statuses.contains(&RunStatus::Canceled) {
            StepStatus::Canceled
        } else {
            StepStatus::Failure
        };
        s.error = (s.status != StepStatus::Success)
            .then(|| results.iter().find_map(first_failure))
            .flatten();
        s.duration_secs = results.iter().map(|r| r.duration_secs).reduce(f64::max);
        s.ended_at = Some(now());
        self.ws.save_remote_step(&self.run_id, &s)?;
        self.record_actual_costs(&s, results, on_event)?;
        let exit = s
            .exit_code
            .map_or_else(String::new, |c| format!(", exit code {c}"));
        let reason = s
            .stop_reason
            .as_deref()
            .map_or_else(String::new, |r| format!(", stop reason: {r}"));
        self.log(
            if s.status == StepStatus::Success {
                LogLevel::Info
            } else {
                LogLevel::Error
            },
            format!(
                "step {} on {} finished: {} in {:.1} s{exit}{reason}",
                s.step_id,
                s.tier,
                s.status.as_str(),
                s.duration_secs.unwrap_or_default()
            ),
            on_event,
        )
    }

    /// Prices a finished step with what it measured and stores it beside the estimate, per
    /// asset: each asset's own seconds (its `StepFinished` events) plus an even share of the
    /// step's other seconds (start-up, transfers), on the step's size; an array step counts
    /// its children side by side. Local steps cost nothing on AWS and are not priced.
    fn record_actual_costs(
        &mut self,
        s: &RemoteStepRow,
        results: &[StepResult],
        on_event: &mut dyn FnMut(&str, &RunEvent),
    ) -> Result<(), AppError> {
        let Some(tier) = ComputeTier::ALL
            .into_iter()
            .find(|t| t.as_str() == s.tier && *t != ComputeTier::Local)
        else {
            return Ok(());
        };
        if results.is_empty() || s.assets.is_empty() {
            return Ok(());
        }
        let node_type = s.assets.iter().find_map(|k| {
            self.project
                .asset(k)
                .and_then(|a| a.compute.node_type.clone())
        });
        let children = results.len() as f64;
        let mut own: BTreeMap<&AssetKey, f64> = BTreeMap::new();
        let mut total = 0.0;
        for r in results {
            total += r.duration_secs;
            for e in &r.events {
                if let RunEvent::StepFinished {
                    asset, duration_ms, ..
                } = e
                {
                    *own.entry(asset).or_default() += *duration_ms as f64 / 1000.0;
                }
            }
        }
        let measured: f64 = own.values().sum();
        let rest = (total - measured).max(0.0) / s.assets.len() as f64;
        // Actuals sit beside the estimate, under the run's cost partition: a step that ran part
        // of a backfill (one partition on a tier without arrays) adds its share to it.
        let run_partitions = self
            .ws
            .remote_run(&self.run_id)?
            .and_then(|r| serde_json::from_str::<SubmitRequest>(&r.request).ok())
            .map(|r| r.partitions);
        let (partition, accumulate) = match &run_partitions {
            Some(run) if *run != s.partitions => (cost_partition(run).map(str::to_owned), true),
            _ => (cost_partition(&s.partitions).map(str::to_owned), false),
        };
        let mut priced = 0.0;
        let mut missing = None;
        for key in &s.assets {
            let seconds = own.get(key).copied().unwrap_or_default() + rest;
            let shape = crate::compute::cost::RunShape {
                tier,
                vcpu: s.vcpu,
                memory_mb: s.memory_mb,
                duration_secs: seconds / children,
                spot: s.spot,
                node_type: node_type.clone(),
                parallel: u32::try_from(results.len()).unwrap_or(u32::MAX),
            };
            let record = if accumulate {
                super::plan::add_actual_cost(
                    self.ws,
                    &self.run_id,
                    key,
                    partition.as_deref(),
                    &shape,
                )?
            } else {
                super::plan::record_actual_cost(
                    self.ws,
                    &self.run_id,
                    key,
                    partition.as_deref(),
                    &shape,
                )?
            };
            match record.cost_usd {
                Some(c) => priced += c,
                None => missing = record.missing_price,
            }
        }
        let text = match missing {
            Some(id) => format!(
                "step {} cost ${priced:.6} on {} (without assets whose price `{id}` is missing)",
                s.step_id, s.tier
            ),
            None => format!("step {} cost ${priced:.6} on {}", s.step_id, s.tier),
        };
        self.log(LogLevel::Info, text, on_event)
    }

    /// The plan of a step: the project (file inputs uploaded and rewritten to S3), previous
    /// materializations in S3 (local ones of upstream assets uploaded first).
    fn step_plan(&mut self, s: &RemoteStepRow) -> Result<StepPlan, AppError> {
        let mut project = self.project.clone();
        let step_assets: BTreeSet<&AssetKey> = s.assets.iter().collect();
        let local = s.tier == ComputeTier::Local.as_str();
        // Inputs: upload the files of this step's file sources.
        for key in &s.assets {
            let Some(asset) = project.assets.iter_mut().find(|a| &a.key == key) else {
                continue;
            };
            let crate::model::AssetDefinition::Source(SourceSpec::File { path, format }) =
                &asset.definition
            else {
                continue;
            };
            if local && Path::new(&self.project_dir).is_dir() {
                // A local step reads its files in place.
                continue;
            }
            let parts: Vec<Option<String>> = if s.partitions.is_empty() {
                vec![None]
            } else {
                s.partitions.iter().cloned().map(Some).collect()
            };
            for p in &parts {
                let full = source::resolve_path(&self.project_dir, path, p.as_deref());
                let files = source::matching_files(key, &full)
                    .map_err(|e| AppError::BadRequest(e.to_string()))?;
                for f in files {
                    let name = f
                        .file_name()
                        .map_or_else(|| "input".to_owned(), |n| n.to_string_lossy().into_owned());
                    let uri = self.aws.uri(&format!(
                        "_inputs/{}/{}/{}/{name}",
                        self.run_id,
                        key.as_str(),
                        p.as_deref().unwrap_or("_")
                    ));
                    self.aws.put_file(&uri, &f)?;
                }
            }
            let store = self.aws.store();
            let dir = if s.partitions.is_empty() {
                "_"
            } else {
                "{partition}"
            };
            let prefix = if store.prefix.is_empty() {
                String::new()
            } else {
                format!("{}/", store.prefix)
            };
            asset.definition = crate::model::AssetDefinition::Source(SourceSpec::S3 {
                resource: INPUTS_RESOURCE.to_owned(),
                key: format!("{prefix}_inputs/{}/{}/{dir}/", self.run_id, key.as_str()),
                format: format.clone(),
            });
        }
        // The runner reaches AWS through its role: no profile or keyring keys travel.
        for r in &mut project.resources {
            if let ResourceKind::Aws {
                profile,
                access_key_id,
                secret_access_key,
                ..
            } = &mut r.kind
            {
                *profile = None;
                *access_key_id = None;
                *secret_access_key = None;
            }
        }
        project.resources.push(Resource {
            name: INPUTS_RESOURCE.to_owned(),
            description: "input files uploaded by Medallion for this run".to_owned(),
            kind: ResourceKind::S3 {
                bucket: self.aws.settings.bucket.clone(),
                region: Some(self.aws.region()),
                endpoint_url: None,
                aws: Some(self.aws.resource.clone()),
            },
        });
        // Previous materializations: S3 ones as they are; local ones of assets this step reads
        // are uploaded under the layout first.
        let graph = crate::model::AssetGraph::build(&self.project);
        let needed: BTreeSet<AssetKey> = s
            .assets
            .iter()
            .flat_map(|k| graph.upstream(k).into_iter().cloned().collect::<Vec<_>>())
            .filter(|k| !step_assets.contains(k))
            .collect();
        let store = self.aws.store();
        let mut previous = Vec::new();
        for m in self.ws.latest_materializations(&self.project.name)? {
            if m.location.starts_with("s3://") {
                previous.push(m);
            } else if needed.contains(&m.asset) && Path::new(&m.location).is_file() {
                let uri = store.materialization_uri(&m.asset, m.partition.as_deref(), &m.run_id);
                self.aws.put_file(&uri, Path::new(&m.location))?;
                previous.push(AssetMaterialization { location: uri, ..m });
            }
        }
        let request: SubmitRequest = self
            .ws
            .remote_run(&self.run_id)?
            .and_then(|r| serde_json::from_str(&r.request).ok())
            .ok_or_else(|| {
                AppError::BadRequest(format!("run {} has no readable request", self.run_id))
            })?;
        let dedup: BTreeMap<(AssetKey, Option<String>), AssetMaterialization> = previous
            .into_iter()
            .map(|m| ((m.asset.clone(), m.partition.clone()), m))
            .collect();
        // What those materializations passed and failed: a step never reads data that failed
        // a blocking check (the runner's engine blocks its downstream assets).
        let (_, stored_checks) = super::run::stored_state(self.ws, &self.project.name)?;
        let previous_checks = stored_checks
            .into_iter()
            .filter(|r| {
                dedup
                    .get(&(r.result.asset.clone(), r.result.partition.clone()))
                    .is_some_and(|m| m.run_id == r.materialization_run_id())
            })
            .collect();
        Ok(StepPlan {
            version: PROTOCOL_VERSION,
            run_id: self.run_id.clone(),
            step_id: s.step_id.clone(),
            project,
            assets: s.assets.clone(),
            partitions: s.partitions.clone(),
            force: request.force,
            previous: dedup.into_values().collect(),
            previous_checks,
            store,
            result_uri: self.aws.uri(&format!(
                "_runs/{}/{}/result-{{index}}.json",
                self.run_id, s.step_id
            )),
        })
    }
}

/// The first thing that went wrong in a runner's result, in words.
fn first_failure(r: &StepResult) -> Option<String> {
    let failed_step = r.events.iter().find_map(|e| match e {
        RunEvent::StepFinished {
            asset,
            outcome: crate::model::StepOutcome::Failed { error },
            ..
        } => Some(format!("{asset}: {error}")),
        _ => None,
    });
    let failed_check = || {
        r.events.iter().find_map(|e| match e {
            RunEvent::CheckEvaluation(c)
                if !c.passed && c.severity == crate::model::CheckSeverity::Error =>
            {
                Some(format!("{}: check {} failed", c.asset, c.check_name))
            }
            _ => None,
        })
    };
    failed_step
        .or_else(failed_check)
        .or_else(|| r.error.clone())
}

/// A runner's event as the run records it: its own run start and end become log lines of the
/// step (the run's start and end belong to the whole remote run).
fn convert(s: &RemoteStepRow, event: RunEvent) -> RunEvent {
    match event {
        RunEvent::RunStarted { plan } => RunEvent::Log {
            level: LogLevel::Info,
            asset: None,
            message: format!(
                "step {} started on {}: {} asset(s)",
                s.step_id,
                s.tier,
                plan.len()
            ),
        },
        RunEvent::RunFinished { status, error } => RunEvent::Log {
            level: if status == RunStatus::Success {
                LogLevel::Info
            } else {
                LogLevel::Error
            },
            asset: None,
            message: match error {
                Some(e) => format!("step {} runner {status}: {e}", s.step_id),
                None => format!("step {} runner {status}", s.step_id),
            },
        },
        other => other,
    }
}

/// A run's events in order.
pub fn events(ws: &Workspace, run_id: &str) -> Result<Vec<RunEvent>, AppError> {
    Ok(ws.run_events(run_id)?)
}

/// A run's events numbered above `after` (all for `None`), each with its number.
pub fn events_after(
    ws: &Workspace,
    run_id: &str,
    after: Option<i64>,
) -> Result<Vec<(i64, RunEvent)>, AppError> {
    Ok(ws.run_events_after(run_id, after)?)
}

/// A run's record.
pub fn run_record(ws: &Workspace, run_id: &str) -> Result<RunRecord, AppError> {
    Ok(ws.run(run_id)?)
}

/// `medallion runner --plan URI`: runs a step plan, printing protocol lines to `out`.
pub fn run_runner(plan_uri: &str, out: &mut dyn std::io::Write) -> Result<RunStatus, ComputeError> {
    runner::run_from_uri(plan_uri, out)
}

pub use crate::compute::aws::setup::{CheckState, SetupCheck};

/// The steps a remote run of `selection` would have, with tier, reason and size — decided from
/// the definitions alone (no I/O), for the launch dialog.
pub fn preview_steps(
    project: &Project,
    selection: &str,
    partitions: &[String],
    plans: Option<&[crate::compute::planner::AssetPlan]>,
) -> Result<Vec<PlannedRemoteStep>, AppError> {
    let ordered = super::run::resolve_selection(project, selection)?;
    let choices = match plans {
        Some(plans) => choices_from_plan(project, plans, None),
        None => model_choices(project, &ordered, partitions.len(), None)?,
    };
    Ok(plan_steps(project, &ordered, partitions, &choices))
}

/// The partition a run's cost rows are kept under: the one partition, or none for a backfill
/// (its estimate covers every partition, pods side by side).
fn cost_partition(partitions: &[String]) -> Option<&str> {
    match partitions {
        [one] => Some(one.as_str()),
        _ => None,
    }
}

/// The studio's remote run, on the job thread: submits, then follows the run to its end,
/// handing its events and step states to `emit`. `cancel` stops the remote steps; `detach`
/// (the studio quitting) lets go of the run without stopping anything: it stays unfinished in
/// the workspace for the next start's reattach or `medallion attach`.
pub(super) fn run_job(
    ws: &mut Workspace,
    stored: &StoredProject,
    request: &SubmitRequest,
    cancel: &Arc<AtomicBool>,
    detach: &AtomicBool,
    emit: &dyn Fn(super::jobs::JobEvent),
) -> Result<RunRecord, AppError> {
    use super::jobs::JobEvent;
    let mut forward = |run_id: &str, event: &RunEvent| {
        emit(JobEvent::RunEvents {
            run_id: run_id.to_owned(),
            events: vec![event.clone()],
        });
    };
    let run_id = submit_with(ws, stored, request, true, Some(cancel), &mut forward)?;
    let steps = |ws: &Workspace| ws.remote_steps(&run_id).unwrap_or_default();
    let costs = |ws: &Workspace| super::plan::run_costs(ws, &run_id).unwrap_or_default();
    emit(JobEvent::RemoteSteps {
        run_id: run_id.clone(),
        steps: steps(ws),
        costs: costs(ws),
    });
    let mut driver = Driver::open(ws, &run_id)?;
    driver.cancel = Arc::clone(cancel);
    let mut on_event = |id: &str, event: &RunEvent| {
        forward(id, event);
    };
    // Follow step by step, refreshing the step table after each pass.
    loop {
        if detach.load(Ordering::Relaxed) && !cancel.load(Ordering::Relaxed) {
            let me = driver.me.clone();
            driver.ws.release_remote_lease(&run_id, &me)?;
            tracing::info!(run = %run_id, "left the remote run to go on without this studio");
            break;
        }
        driver.drive_once(Some(cancel), &mut on_event)?;
        emit(JobEvent::RemoteSteps {
            run_id: run_id.clone(),
            steps: steps(driver.ws),
            costs: costs(driver.ws),
        });
        if driver.ws.remote_run(&run_id)?.is_some_and(|r| r.finished) {
            break;
        }
        std::thread::sleep(poll_interval());
    }
    Ok(ws.run(&run_id)?)
}

/// "Check AWS setup": whether everything the project's `aws` resource names exists, and
/// precisely what is missing.
pub fn check_setup(project: &Project, resource: Option<&str>) -> Result<Vec<SetupCheck>, AppError> {
    let aws = connect(project, resource)?;
    Ok(aws::setup::check(&aws))
}

/// The Lambda Runtime API's address when running inside Lambda.
pub fn lambda_runtime_api() -> Option<String> {
    std::env::var(aws::lambda::RUNTIME_API_ENV).ok()
}

/// `medallion runner` inside Lambda: serves invocations until the environment ends.
pub fn serve_lambda(api: &str, out: &mut dyn std::io::Write) -> Result<(), ComputeError> {
    let aws = Aws::from_environment()?;
    aws::lambda::serve_runtime(&aws, api, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Project {
        crate::format::read_project(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics"),
        )
        .unwrap()
        .project
    }

    fn summary(steps: &[PlannedRemoteStep]) -> Vec<(ComputeTier, Vec<&str>)> {
        steps
            .iter()
            .map(|s| (s.tier, s.assets.iter().map(AssetKey::as_str).collect()))
            .collect()
    }

    #[test]
    fn assets_of_one_tier_share_a_step_in_dependency_order() {
        let p = example();
        let ordered = super::super::run::resolve_selection(&p, "*").unwrap();
        let steps = plan_steps(
            &p,
            &ordered,
            &[],
            &model_choices(&p, &ordered, 1, None).unwrap(),
        );
        let tiers: Vec<(ComputeTier, usize)> = summary(&steps)
            .into_iter()
            .map(|(t, a)| (t, a.len()))
            .collect();
        assert_eq!(
            tiers,
            vec![
                (ComputeTier::Lambda, 2),
                (ComputeTier::Fargate, 2),
                (ComputeTier::Eks, 2)
            ]
        );
        // Sizes: the largest hint of the step; spot only when every asset asks for it.
        assert_eq!((steps[1].vcpu, steps[1].memory_mb), (2.0, 8192));
        assert!(steps[2].spot && !steps[1].spot);
        assert!(
            steps[1]
                .reason
                .starts_with("Fargate: the asset's compute hint asks for it")
                && steps[1]
                    .reason
                    .contains("; Fargate: the asset's compute hint"),
            "{}",
            steps[1].reason
        );
        let forced = plan_steps(
            &p,
            &ordered,
            &[],
            &model_choices(&p, &ordered, 1, Some(ComputeTier::Fargate)).unwrap(),
        );
        assert_eq!(forced.len(), 1);
        assert_eq!(forced[0].reason, "--tier fargate");
    }

    /// Overriding `raw_orders` to Batch used to give five steps (lambda, fargate, batch,
    /// fargate, eks): its new step went last, so `order_history` could not join
    /// `cleaned_customer_data`'s Fargate step.
    #[test]
    fn an_independent_asset_on_another_tier_does_not_split_a_later_step() {
        let p = example();
        let ordered = super::super::run::resolve_selection(&p, "*").unwrap();
        let mut choices = model_choices(&p, &ordered, 1, None).unwrap();
        if let Some(c) = choices.get_mut(&AssetKey::new("raw_orders")) {
            c.tier = ComputeTier::Batch;
        }
        let steps = plan_steps(&p, &ordered, &[], &choices);
        assert_eq!(
            summary(&steps),
            vec![
                (ComputeTier::Batch, vec!["raw_orders"]),
                (ComputeTier::Lambda, vec!["raw_customer_data"]),
                (
                    ComputeTier::Fargate,
                    vec!["cleaned_customer_data", "order_history"]
                ),
                (
                    ComputeTier::Eks,
                    vec!["customer_lifetime_value", "daily_revenue"]
                ),
            ]
        );
        // Every step comes after the steps of its assets' upstream assets.
        let graph = crate::model::AssetGraph::build(&p);
        let step_of = |k: &AssetKey| steps.iter().position(|s| s.assets.contains(k)).unwrap();
        for k in &ordered {
            for up in graph.upstream(k) {
                assert!(step_of(up) <= step_of(k), "{up} after {k}");
            }
        }
    }

    /// A partitioned asset fed by an unpartitioned one on the same tier cannot share its step
    /// (other partitions); its own step must still come after it.
    #[test]
    fn a_step_that_cannot_join_its_upstreams_step_still_comes_after_it() {
        let mut p = example();
        for a in &mut p.assets {
            if ["raw_orders", "order_history"].contains(&a.key.as_str()) {
                a.partitions = crate::model::PartitionsDefinition::Static {
                    keys: vec!["a".into()],
                };
            }
        }
        let ordered = super::super::run::resolve_selection(&p, "*").unwrap();
        let steps = plan_steps(
            &p,
            &ordered,
            &["a".to_owned()],
            &model_choices(&p, &ordered, 1, Some(ComputeTier::Fargate)).unwrap(),
        );
        let graph = crate::model::AssetGraph::build(&p);
        let step_of = |k: &AssetKey| steps.iter().position(|s| s.assets.contains(k)).unwrap();
        for k in &ordered {
            for up in graph.upstream(k) {
                assert!(
                    step_of(up) <= step_of(k),
                    "{up} after {k}: {:?}",
                    summary(&steps)
                );
            }
        }
        assert_eq!(
            steps[step_of(&AssetKey::new("raw_orders"))].partitions,
            vec!["a".to_owned()]
        );
    }

    #[test]
    fn a_backfill_is_one_array_step_only_where_arrays_exist() {
        let mut p = example();
        for a in &mut p.assets {
            a.partitions = crate::model::PartitionsDefinition::Static {
                keys: vec!["a".into(), "b".into()],
            };
        }
        let ordered = super::super::run::resolve_selection(&p, "*").unwrap();
        let parts = vec!["a".to_owned(), "b".to_owned()];
        let batch = plan_steps(
            &p,
            &ordered,
            &parts,
            &model_choices(&p, &ordered, 2, Some(ComputeTier::Batch)).unwrap(),
        );
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].partitions, parts);
        let fargate = plan_steps(
            &p,
            &ordered,
            &parts,
            &model_choices(&p, &ordered, 2, Some(ComputeTier::Fargate)).unwrap(),
        );
        assert_eq!(fargate.len(), 2);
        assert_eq!(fargate[1].partitions, vec!["b".to_owned()]);
    }

    #[test]
    fn merged_step_sizes_round_up_to_a_valid_fargate_size() {
        let mut p = example();
        let ordered = super::super::run::resolve_selection(&p, "*").unwrap();
        let two = &ordered[..2];
        let choose = |tier: ComputeTier, sizes: [(f64, u32); 2]| {
            two.iter()
                .zip(sizes)
                .map(|(k, (vcpu, memory_mb))| {
                    (
                        k.clone(),
                        TierChoice {
                            tier,
                            reason: "test".to_owned(),
                            vcpu,
                            memory_mb,
                            spot: false,
                            timeout_secs: None,
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>()
        };
        let size = |steps: &[PlannedRemoteStep]| {
            assert_eq!(steps.len(), 1, "{steps:?}");
            (steps[0].vcpu, steps[0].memory_mb)
        };
        // 8 vCPU / 16 GB and 4 vCPU / 30 GB merge to 8 vCPU / 30 GB, which Fargate refuses
        // (8 vCPU takes 16–60 GB in 4-GB steps): 8 vCPU / 32 GB.
        let sizes = [(8.0, 16 * 1024), (4.0, 30 * 1024)];
        let fargate = plan_steps(&p, two, &[], &choose(ComputeTier::Fargate, sizes));
        assert_eq!(size(&fargate), (8.0, 32 * 1024));
        // Batch without a node type runs on Fargate: the same.
        let batch = plan_steps(&p, two, &[], &choose(ComputeTier::Batch, sizes));
        assert_eq!(size(&batch), (8.0, 32 * 1024));
        // Nothing fits 17 vCPU: the merged size stays for the planner's problem to report.
        let over = [(17.0, 2048), (1.0, 4096)];
        let fargate = plan_steps(&p, two, &[], &choose(ComputeTier::Fargate, over));
        assert_eq!(size(&fargate), (17.0, 4096));
        // Batch on EC2 nodes is not bound by Fargate's sizes.
        p.assets
            .iter_mut()
            .find(|a| a.key == two[1])
            .unwrap()
            .compute
            .node_type = Some("r6i.2xlarge".into());
        let batch = plan_steps(&p, two, &[], &choose(ComputeTier::Batch, sizes));
        assert_eq!(size(&batch), (8.0, 30 * 1024));
    }
}
