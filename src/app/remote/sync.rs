//! `medallion sync`: the executions of a deployed project's state machine imported into run
//! history — run by AWS while no Medallion was running. The run id is the execution's name
//! (the runners wrote under it); each step's events, materializations and check evaluations
//! come from the runner's result in S3 (`_runs/<execution>/<step>/result-<i>.json`), its cost
//! from what it measured (the steps as deployed, from `_deploy/steps.json`), and the run's status from what happened: a run is a success only
//! when the execution succeeded and every step's result says success. An execution still
//! running is left for a later sync (nothing is recorded that could later turn out wrong).
//! Importing twice imports once: an execution already in the history is skipped. A cursor per
//! state machine in the workspace (the oldest execution still running, else the newest
//! listed) makes the next sync list only executions from there on.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::poll::{convert, first_failure, measured_shapes};
use crate::app::AppError;
use crate::compute::aws::Aws;
use crate::compute::deploy::asl::{self, DeployedStep};
use crate::compute::deploy::executions::{self, Execution, ExecutionStatus};
use crate::compute::deploy::resource_name;
use crate::compute::protocol::StepResult;
use crate::model::{AssetKey, ComputeTier, LogLevel, RunEvent, RunId, RunRecord, RunStatus};
use crate::store::{StoreError, StoredProject, Workspace};

/// One execution imported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncedRun {
    pub run_id: String,
    pub status: RunStatus,
    pub error: Option<String>,
    pub trigger: String,
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SyncOutcome {
    pub project: String,
    /// The state machine, when the project is deployed.
    pub state_machine_arn: Option<String>,
    pub imported: Vec<SyncedRun>,
    /// Executions already in the run history.
    pub already: usize,
    /// Executions still running on AWS (imported once they end).
    pub running: Vec<String>,
    /// The start time from which executions were listed (the cursor the last sync left):
    /// every earlier one was already in the history. `None`: the first sync, all listed.
    pub listed_from: Option<DateTime<Utc>>,
}

impl SyncOutcome {
    /// The one line the studio and the daemon show.
    pub fn headline(&self) -> String {
        if self.state_machine_arn.is_none() {
            return format!("{} is not deployed on AWS: nothing to sync", self.project);
        }
        let mut s = format!(
            "synced {} execution(s) of {} from AWS",
            self.imported.len(),
            self.project
        );
        if self.already > 0 {
            let _ = write!(s, ", {} already in history", self.already);
        }
        if !self.running.is_empty() {
            let _ = write!(s, ", {} still running", self.running.len());
        }
        s
    }
}

/// Imports the ended executions of the project's state machine not in the run history yet.
///
/// # Errors
/// No `aws` resource with a compute section; a failed AWS call (one sentence); the workspace.
pub fn sync_project(
    ws: &mut Workspace,
    stored: &StoredProject,
    resource: Option<&str>,
) -> Result<SyncOutcome, AppError> {
    let project = &stored.project;
    let aws = crate::app::deploy::connect(project, resource)?;
    let mut out = SyncOutcome {
        project: project.name.clone(),
        ..SyncOutcome::default()
    };
    let machine = resource_name(&project.name, None, 80);
    let Some(arn) = executions::state_machine_arn(&aws, &machine)? else {
        return Ok(out);
    };
    out.state_machine_arn = Some(arn.clone());
    let mut steps: Option<Vec<DeployedStep>> = None;
    let mut masking: Option<crate::engine::mask::Masking> = None;
    let mut on: Option<crate::store::RunOnAws> = None;
    out.listed_from = ws.deploy_sync_cursor(&arn)?;
    let listed = executions::executions(&aws, &arn, out.listed_from)?;
    // The next sync lists from the oldest execution still running, else from the newest
    // listed (listed again then, and skipped as already in the history).
    let mut next_from = listed.last().map(|e| e.started).or(out.listed_from);
    let mut oldest_running: Option<DateTime<Utc>> = None;
    for e in listed {
        let id = RunId::new(e.name.clone());
        match ws.run(&id) {
            Ok(_) => {
                out.already += 1;
                continue;
            }
            Err(StoreError::NoSuchRun { .. }) => {}
            Err(other) => return Err(other.into()),
        }
        if e.status == ExecutionStatus::Running {
            oldest_running = oldest_running.or(Some(e.started));
            out.running.push(e.name.clone());
            continue;
        }
        if masking.is_none() {
            // The events are masked as a launch's are (a check's failing rows included).
            masking = Some(crate::app::masking::masking_for(
                project,
                stored.source_dir.as_deref(),
                crate::model::masking::Environment::Remote,
            )?);
        }
        if on.is_none() {
            on = Some(crate::app::audit::run_on(&aws));
        }
        if steps.is_none() {
            steps = Some(steps_deployed(ws, stored, &aws)?);
        }
        let mut e = executions::describe(&aws, e)?;
        if e.status == ExecutionStatus::Running {
            oldest_running = oldest_running.or(Some(e.started));
            out.running.push(e.name.clone());
            continue;
        }
        e.states = executions::history(&aws, &e.arn)?;
        let steps = steps.as_deref().unwrap_or_default();
        let (Some(masking), Some(on)) = (masking.as_ref(), on.as_ref()) else {
            continue;
        };
        out.imported
            .push(import(ws, (&aws, on), &project.name, (steps, masking), &e)?);
    }
    if oldest_running.is_some() {
        next_from = oldest_running;
    }
    if let Some(from) = next_from
        && Some(from) != out.listed_from
    {
        ws.set_deploy_sync_cursor(&project.name, &arn, &from)?;
    }
    Ok(out)
}

/// The steps as deployed (`_deploy/steps.json`, written by deploy), else — a deployment
/// older than that object — the project's steps planned now.
fn steps_deployed(
    ws: &Workspace,
    stored: &StoredProject,
    aws: &Aws,
) -> Result<Vec<DeployedStep>, AppError> {
    let written = aws
        .get(&aws.uri(asl::STEPS_OBJECT))?
        .and_then(|bytes| serde_json::from_slice::<Vec<DeployedStep>>(&bytes).ok());
    match written {
        Some(steps) if !steps.is_empty() => Ok(steps),
        _ => crate::app::deploy::deployed_steps(ws, stored, Some(&aws.resource)),
    }
}

/// One step of an execution: its results (one per child), and the state's times.
struct StepRun<'a> {
    step: &'a DeployedStep,
    results: Vec<StepResult>,
    entered: Option<DateTime<Utc>>,
    exited: Option<DateTime<Utc>>,
}

fn read_results<'a>(
    aws: &Aws,
    e: &Execution,
    steps: &'a [DeployedStep],
) -> Result<Vec<StepRun<'a>>, AppError> {
    let store = aws.store();
    let mut out = Vec::with_capacity(steps.len());
    for s in steps {
        let uri = asl::result_uri(&store, &s.id).replace("{run}", &e.name);
        let mut results = Vec::new();
        for i in 0..s.step.partitions.len().max(1) {
            let at = uri.replace("{index}", &i.to_string());
            if let Some(bytes) = aws.get(&at)? {
                // A result that cannot be read counts as missing: never as success.
                if let Ok(r) = serde_json::from_slice::<StepResult>(&bytes) {
                    results.push(r);
                }
            }
        }
        let span = e.states.iter().find(|x| x.name == format!("Run {}", s.id));
        out.push(StepRun {
            step: s,
            results,
            entered: span.map(|x| x.entered),
            exited: span.and_then(|x| x.exited),
        });
    }
    Ok(out)
}

/// The run's status and error from the execution and its steps' results.
fn outcome(e: &Execution, runs: &[StepRun<'_>]) -> (RunStatus, Option<String>) {
    let failed_step = runs.iter().find(|r| {
        r.results.iter().any(|x| x.status != RunStatus::Success)
            || (r.results.is_empty() && r.entered.is_some())
    });
    let step_error = failed_step.map(|r| {
        // The child that failed first, then any (a result can carry a failed check that did
        // not block); a child of an array step is named by its partition.
        let failing = r.results.iter().filter(|x| x.status != RunStatus::Success);
        let why = failing
            .chain(r.results.iter())
            .find_map(|x| {
                let said = first_failure(x)?;
                Some(match &x.partition {
                    Some(p) if r.step.step.partitions.len() > 1 => format!("partition {p}: {said}"),
                    _ => said,
                })
            })
            .or_else(|| e.cause.clone())
            .unwrap_or_else(|| "left no result".to_owned());
        format!("step {} ({}): {why}", r.step.id, r.step.step.tier)
    });
    let cause = || {
        e.cause
            .clone()
            .or_else(|| e.error.clone())
            .unwrap_or_else(|| "no cause given".to_owned())
    };
    match e.status {
        ExecutionStatus::Succeeded => {
            let missing = runs
                .iter()
                .find(|r| r.results.len() < r.step.step.partitions.len().max(1));
            match (step_error, missing) {
                (Some(err), _) => (RunStatus::Failure, Some(err)),
                (None, Some(m)) => (
                    RunStatus::Failure,
                    Some(format!(
                        "the execution succeeded on AWS but step {} left no result",
                        m.step.id
                    )),
                ),
                (None, None) => (RunStatus::Success, None),
            }
        }
        ExecutionStatus::Aborted => (
            RunStatus::Canceled,
            Some(format!("aborted on AWS: {}", cause())),
        ),
        ExecutionStatus::TimedOut => (
            RunStatus::Failure,
            Some(step_error.unwrap_or_else(|| "the execution timed out on AWS".to_owned())),
        ),
        ExecutionStatus::Failed | ExecutionStatus::Other | ExecutionStatus::Running => {
            (RunStatus::Failure, Some(step_error.unwrap_or_else(cause)))
        }
    }
}

/// The events of one step stamped in time: from when its state was entered, each asset's
/// events after the ones before it by their measured durations (never past the state's end).
fn stamped_step_events(r: &StepRun<'_>, fallback: DateTime<Utc>) -> Vec<(DateTime<Utc>, RunEvent)> {
    let start = r.entered.unwrap_or(fallback);
    let end = r.exited.unwrap_or(start).max(start);
    let mut out = Vec::new();
    for res in &r.results {
        let mut clock = start;
        for ev in &res.events {
            if let RunEvent::StepFinished { duration_ms, .. } = ev {
                let d = chrono::Duration::milliseconds(i64::try_from(*duration_ms).unwrap_or(0));
                clock = (clock + d).min(end.max(clock));
            }
            let ev = convert(&r.step.id, r.step.step.tier, ev.clone());
            out.push((clock, crate::app::connections::redact_event(ev)));
        }
    }
    out
}

fn import(
    ws: &mut Workspace,
    (aws, on): (&Aws, &crate::store::RunOnAws),
    project: &str,
    (steps, masking): (&[DeployedStep], &crate::engine::mask::Masking),
    e: &Execution,
) -> Result<SyncedRun, AppError> {
    let runs = read_results(aws, e, steps)?;
    let (status, error) = outcome(e, &runs);
    let id = RunId::new(e.name.clone());
    let trigger = format!("aws:{}", e.trigger.as_deref().unwrap_or("execution"));
    ws.create_aws_run(
        &RunRecord {
            id: id.clone(),
            project: project.to_owned(),
            selection: "*".to_owned(),
            partition: None,
            target: "aws".to_owned(),
            status: RunStatus::Queued,
            trigger: trigger.clone(),
            created_at: e.started,
            started_at: None,
            ended_at: None,
            error: None,
            allow_failed_upstream: false,
            checks_only: false,
            end_known: e.stopped.is_some(),
        },
        on,
    )?;
    let plan: Vec<AssetKey> = steps.iter().flat_map(|s| s.step.assets.clone()).collect();
    let mut events: Vec<(DateTime<Utc>, RunEvent)> = vec![
        (e.started, RunEvent::RunStarted { plan }),
        (
            e.started,
            RunEvent::Log {
                level: LogLevel::Info,
                asset: None,
                message: format!(
                    "execution {} of the deployed state machine, imported from AWS (started by {})",
                    e.name,
                    e.trigger.as_deref().unwrap_or("a StartExecution call")
                ),
            },
        ),
    ];
    for r in &runs {
        events.extend(
            stamped_step_events(r, e.started)
                .into_iter()
                .map(|(t, ev)| (t, crate::app::masking::mask_event(masking, ev))),
        );
    }
    let ended = e.stopped.unwrap_or(e.started);
    events.push((
        ended,
        RunEvent::RunFinished {
            status,
            error: error.clone(),
        },
    ));
    let stamped: Vec<(DateTime<Utc>, &RunEvent)> = events.iter().map(|(t, ev)| (*t, ev)).collect();
    ws.append_stamped_run_events(&id, 0, &stamped)?;
    record_costs(ws, &id, &runs)?;
    crate::app::alerts::alert_run_or_log(ws, &id);
    Ok(SyncedRun {
        run_id: e.name.clone(),
        status,
        error,
        trigger,
    })
}

/// Each step's actual cost from what it measured, as a launch records it.
fn record_costs(ws: &mut Workspace, id: &RunId, runs: &[StepRun<'_>]) -> Result<(), AppError> {
    for r in runs {
        if r.step.step.tier == ComputeTier::Local {
            continue;
        }
        for (key, shape) in measured_shapes(&r.step.step, None, &r.results) {
            crate::app::plan::record_actual_cost(ws, id, &key, None, &shape)?;
        }
    }
    Ok(())
}

/// Whether a project has an AWS account to run on: an `aws` resource with a compute section
/// (the studio otherwise explains what to set up instead of launching).
pub fn has_compute_account(project: &crate::model::Project) -> bool {
    crate::compute::aws::compute_resource(&project.resources, None).is_ok()
}

/// Whether a project is set up for deployment: an `aws` resource with a compute section that
/// names the state machine's role (deploy refuses to apply without it).
pub fn is_deployable(project: &crate::model::Project) -> bool {
    crate::compute::aws::compute_resource(&project.resources, None).is_ok_and(|r| {
        matches!(
            &r.kind,
            crate::model::ResourceKind::Aws { compute: Some(c), .. } if c.states_role_arn.is_some()
        )
    })
}

/// The studio's sync when a project opens, on its own connection: `None` when the project is
/// not set up for deployment.
///
/// # Errors
/// See [`sync_project`].
pub fn sync_on_open(
    path: &std::path::Path,
    project: &str,
) -> Result<Option<SyncOutcome>, AppError> {
    let mut ws = crate::app::open_workspace(path)?;
    let stored = crate::app::load_project(&ws, project)?;
    if !is_deployable(&stored.project) {
        return Ok(None);
    }
    sync_project(&mut ws, &stored, None).map(Some)
}
