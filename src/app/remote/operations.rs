//! What callers do with a remote run: [`submit`] it, [`attach`] to it, [`reconcile`] every
//! unfinished one, [`cancel`] it, [`view`] it — and the studio's [`follow_in_studio`]. Each
//! operation opens a [`Driver`] on the run and lets it do the work; nothing here knows how a
//! step is submitted or read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::driver::Driver;
use super::{
    LEASE_SECS, PlannedRemoteStep, RemoteRunView, RemoteStepRow, StepStatus, SubmitRequest,
    connect, cost_partition, driver_id, launcher_for, plan_remote, poll_interval,
};
use crate::app::{AppError, Refusal};
use crate::compute::aws::{self, Aws, setup::SetupCheck};
use crate::compute::error::ComputeError;
use crate::compute::runner;
use crate::model::RunId;
use crate::model::{ComputeTier, Project, RunEvent, RunRecord, RunStatus};
use crate::store::{StoredProject, Workspace};

/// Submits a remote run: records it with its planned steps, then drives it — to the end, or
/// (with `detach`) until its first remote step is submitted.
pub fn submit(
    ws: &mut Workspace,
    stored: &StoredProject,
    request: &SubmitRequest,
    detach: bool,
    on_event: &mut dyn FnMut(&RunId, &RunEvent),
) -> Result<RunId, AppError> {
    submit_with(ws, stored, request, detach, None, None, on_event)
}

/// [`submit`] with the run id chosen beforehand (automation reserves it with the run key).
pub fn submit_as(
    ws: &mut Workspace,
    stored: &StoredProject,
    request: &SubmitRequest,
    run_id: RunId,
    detach: bool,
    on_event: &mut dyn FnMut(&RunId, &RunEvent),
) -> Result<RunId, AppError> {
    submit_with(ws, stored, request, detach, None, Some(run_id), on_event)
}

/// [`submit`], with the flag that stops local steps (the studio's Cancel).
fn submit_with(
    ws: &mut Workspace,
    stored: &StoredProject,
    request: &SubmitRequest,
    detach: bool,
    cancel: Option<&Arc<AtomicBool>>,
    run_id: Option<RunId>,
    on_event: &mut dyn FnMut(&RunId, &RunEvent),
) -> Result<RunId, AppError> {
    let project = &stored.project;
    if let Some(first) = crate::model::validate(project)
        .iter()
        .find(|d| d.is_error())
    {
        return Err(Refusal::ProjectHasErrors {
            first: Box::new(first.clone()),
        }
        .into());
    }
    let plan = plan_remote(ws, stored, request)?;
    let aws = connect(project, request.aws_resource.as_deref())?;
    // Masking is decided (and a hash key read from the keyring) before anything is recorded.
    let project_dir = stored
        .source_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let masking = crate::app::masking::masking_for(
        project,
        Some(project_dir.as_path()),
        crate::model::masking::Environment::Remote,
    )?;
    if let Some(problem) = plan.problem() {
        return Err(problem.into());
    }
    let planned = plan.steps;
    // Every tier must have a launcher before anything is recorded.
    for s in &planned {
        if s.tier != ComputeTier::Local {
            launcher_for(&aws, project, s.tier)?;
        }
    }
    let mut run = queued_remote_run(project, request, &planned);
    if let Some(id) = run_id {
        run.id = id;
    }
    let steps = pending_steps(&planned);
    let request_json = serde_json::to_string(request).map_err(|source| AppError::Encode {
        what: "the request",
        source,
    })?;
    let on = crate::app::audit::run_on(&aws);
    let estimates = crate::app::plan::estimate_records(
        &run.id,
        cost_partition(&request.partitions),
        &plan.report.assets,
    );
    ws.create_remote_run(&run, &on, &request_json, &steps, &estimates)?;
    ws.set_run_owner(&run.id, crate::app::liveness::current_owner())?;
    let mut driver = Driver {
        masking,
        ws,
        aws,
        project: project.clone(),
        project_dir,
        run_id: run.id.clone(),
        me: driver_id(),
        cancel: cancel.map_or_else(Arc::default, Arc::clone),
        status_errors: BTreeMap::new(),
    };
    driver.drive(detach, None, on_event)?;
    Ok(run.id)
}

/// The record of a remote run of `request`, before anything is submitted; its target names
/// the tiers its steps run on (`aws:lambda+fargate`).
fn queued_remote_run(
    project: &Project,
    request: &SubmitRequest,
    planned: &[PlannedRemoteStep],
) -> RunRecord {
    let tiers: BTreeSet<&str> = planned.iter().map(|s| s.tier.as_str()).collect();
    RunRecord {
        id: crate::app::run::new_run_id(),
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
        created_at: crate::model::time::millis(chrono::Utc::now()),
        started_at: None,
        ended_at: None,
        error: None,
        allow_failed_upstream: false,
        checks_only: false,
        end_known: true,
    }
}

/// The rows of the planned steps, none of them started.
fn pending_steps(planned: &[PlannedRemoteStep]) -> Vec<RemoteStepRow> {
    planned
        .iter()
        .enumerate()
        .map(|(i, s)| RemoteStepRow {
            position: i as u32,
            step_id: crate::compute::steps::step_id(i, s.tier),
            tier: s.tier,
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
        .collect()
}

/// Drives a run to its end from wherever it is (after a crash, or a detached submit).
pub fn attach(
    ws: &mut Workspace,
    run_id: &RunId,
    on_event: &mut dyn FnMut(&RunId, &RunEvent),
) -> Result<(), AppError> {
    let mut driver = Driver::open(ws, run_id)?;
    driver.drive(false, None, on_event)
}

/// One pass over every unfinished remote run: tails logs, records finished steps, submits the
/// next ones, carries out cancels. Runs another process drives are left alone. Returns the runs
/// visited, with the error of each that could not be reconciled.
pub fn reconcile(ws: &mut Workspace) -> Result<Vec<(RunId, Option<String>)>, AppError> {
    crate::app::liveness::end_dead_runs_quietly(ws);
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
            crate::app::liveness::end_dead_runs_quietly(&mut ws);
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
pub fn cancel(ws: &mut Workspace, run_id: &RunId) -> Result<Vec<String>, AppError> {
    let remote = ws
        .remote_run(run_id)?
        .ok_or_else(|| Refusal::NotRemote(run_id.clone()))?;
    if remote.finished {
        return Err(Refusal::AlreadyFinished {
            run_id: run_id.clone(),
            status: ws.run(run_id)?.status,
        }
        .into());
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
pub fn view(ws: &Workspace, run_id: &RunId) -> Result<Option<RemoteRunView>, AppError> {
    let Some(remote) = ws.remote_run(run_id)? else {
        return Ok(None);
    };
    Ok(Some(RemoteRunView {
        run: ws.run(run_id)?,
        steps: ws.remote_steps(run_id)?,
        cancel_requested: remote.cancel_requested,
    }))
}

/// A run's events in order.
pub fn events(ws: &Workspace, run_id: &RunId) -> Result<Vec<RunEvent>, AppError> {
    Ok(ws.run_events(run_id)?)
}

/// A run's events numbered above `after` (all for `None`), each with its number.
pub fn events_after(
    ws: &Workspace,
    run_id: &RunId,
    after: Option<i64>,
) -> Result<Vec<(i64, RunEvent)>, AppError> {
    Ok(ws.run_events_after(run_id, after)?)
}

/// A run's record.
pub fn run_record(ws: &Workspace, run_id: &RunId) -> Result<RunRecord, AppError> {
    Ok(ws.run(run_id)?)
}

/// `medallion runner --plan URI`: runs a step plan, printing protocol lines to `out`.
pub fn run_runner(plan_uri: &str, out: &mut dyn std::io::Write) -> Result<RunStatus, ComputeError> {
    runner::run_from_uri(&crate::app::runtime::handle()?, plan_uri, out)
}

/// What [`follow_in_studio`] hands the studio as the run goes on.
#[derive(Debug)]
pub enum FollowUpdate {
    /// Events of the run, in order, as they are recorded.
    Events {
        run_id: RunId,
        events: Vec<RunEvent>,
    },
    /// The steps as they are now, with the run's estimated and actual cost per asset.
    Steps {
        run_id: RunId,
        steps: Vec<RemoteStepRow>,
        costs: Vec<crate::store::StepCost>,
    },
}

/// The studio's remote run, on the job thread: submits, then follows the run to its end,
/// handing its events and step states to `emit` (as the caller's own event type). `cancel` stops the remote steps; `detach`
/// (the studio quitting) lets go of the run without stopping anything: it stays unfinished in
/// the workspace for the next start's reattach or `medallion attach`.
pub fn follow_in_studio<E: From<FollowUpdate>>(
    ws: &mut Workspace,
    stored: &StoredProject,
    request: &SubmitRequest,
    cancel: &Arc<AtomicBool>,
    detach: &AtomicBool,
    emit: &dyn Fn(E),
) -> Result<RunRecord, AppError> {
    let emit = |update: FollowUpdate| emit(update.into());
    let mut forward = |run_id: &RunId, event: &RunEvent| {
        emit(FollowUpdate::Events {
            run_id: run_id.clone(),
            events: vec![event.clone()],
        });
    };
    let run_id = submit_with(ws, stored, request, true, Some(cancel), None, &mut forward)?;
    let steps = |ws: &Workspace| FollowUpdate::Steps {
        run_id: run_id.clone(),
        steps: ws.remote_steps(&run_id).unwrap_or_default(),
        costs: crate::app::plan::run_costs(ws, &run_id).unwrap_or_default(),
    };
    emit(steps(ws));
    let mut driver = Driver::open(ws, &run_id)?;
    driver.cancel = Arc::clone(cancel);
    // Follow step by step, refreshing the step table after each pass.
    loop {
        if detach.load(Ordering::Relaxed) && !cancel.load(Ordering::Relaxed) {
            let me = driver.me.clone();
            driver.ws.release_remote_lease(&run_id, &me)?;
            tracing::info!(run = %run_id, "left the remote run to go on without this studio");
            break;
        }
        driver.drive_once(Some(cancel), &mut forward)?;
        emit(steps(driver.ws));
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
    let mut out = aws::setup::check(&aws);
    // A deployed `s3_objects` sensor is an EventBridge rule: its bucket must send events.
    for sensor in &project.sensors {
        if let crate::model::SensorKind::S3Objects { resource, .. } = &sensor.kind
            && let Some(crate::model::ResourceKind::S3 { bucket, .. }) =
                project.resource(resource).map(|r| &r.kind)
        {
            out.push(aws::setup::eventbridge_notifications(
                &aws,
                &sensor.name,
                bucket,
            ));
        }
    }
    // A deployed alert to an SNS topic is published by EventBridge: the topic must exist and
    // its policy let events.amazonaws.com publish.
    for t in &project.alerts.targets {
        if let crate::model::AlertTargetKind::Sns(sns) = &t.kind
            && project
                .alerts
                .rules
                .iter()
                .any(|r| r.targets.contains(&t.name))
        {
            out.extend(aws::setup::sns_topic(&aws, &t.name, &sns.topic_arn));
        }
    }
    Ok(out)
}

/// The Lambda Runtime API's address when running inside Lambda.
pub fn lambda_runtime_api() -> Option<String> {
    std::env::var(crate::compute::lambda_runtime::RUNTIME_API_ENV).ok()
}

/// `medallion runner` inside Lambda: serves invocations until the environment ends.
pub fn serve_lambda(api: &str, out: &mut dyn std::io::Write) -> Result<(), ComputeError> {
    let aws = Aws::from_environment(crate::app::runtime::handle()?);
    crate::compute::lambda_runtime::serve_runtime(&aws, api, out)
}
