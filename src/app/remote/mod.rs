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
//!
//! The module is split by role: [`operations`] holds what callers do with a run (submit,
//! attach, reconcile, cancel, view); [`plan`] works out a run's steps once ([`plan_remote`])
//! for both submit and the launch dialog; `driver` is the state machine that moves one run on
//! a pass at a time, `poll` its reading of a submitted step's logs, results and status, and
//! `step_plan` what a step is sent (inputs uploaded, [`StepPlan`]), and `deployed` the same for
//! the steps of a deployed state machine (`medallion deploy`).

mod deployed;
mod driver;
mod operations;
mod plan;
mod poll;
mod step_plan;
mod sync;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::AppError;
pub use crate::compute::aws::setup::{CheckState, SetupCheck};
use crate::compute::aws::{self, Aws};
use crate::compute::error::ComputeError;
use crate::compute::launch::Launcher;
pub use crate::compute::protocol::StepPlan;
pub use crate::compute::steps::{PlannedRemoteStep, TierChoice, choices_from_plan, plan_steps};
use crate::model::{AssetKey, ComputeTier, Project, RunRecord};
pub use crate::store::{RemoteStepRow, StepStatus};
pub use deployed::{DEPLOYED_RUN, DeployObject, deployed_objects};
pub use operations::{
    FollowUpdate, attach, cancel, check_setup, events, events_after, follow_in_studio,
    lambda_runtime_api, reconcile, run_record, run_runner, serve_lambda, spawn_reattach, submit,
    submit_as, view,
};
pub use plan::{RemotePlan, plan_remote};
pub use sync::{
    SyncOutcome, SyncedRun, has_compute_account, is_deployable, sync_on_open, sync_project,
};

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
            aws.runtime(),
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

/// The AWS account of `resource` (the project's AWS resource when `None`).
pub(crate) fn connect(project: &Project, resource: Option<&str>) -> Result<Aws, AppError> {
    let r = aws::compute_resource(&project.resources, resource)?;
    Ok(Aws::connect(
        super::runtime::handle()?,
        r,
        &super::connections::KeyringSecrets,
        &project.name,
    )?)
}

/// Now, to the millisecond a stored time keeps.
fn now() -> chrono::DateTime<chrono::Utc> {
    crate::model::time::millis(chrono::Utc::now())
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
    ID.get_or_init(|| {
        format!(
            "pid{}-{}",
            std::process::id(),
            crate::model::time::text(&now())
        )
    })
    .clone()
}

/// The partition a run's cost rows are kept under: the one partition, or none for a backfill
/// (its estimate covers every partition, pods side by side).
fn cost_partition(partitions: &[String]) -> Option<&str> {
    match partitions {
        [one] => Some(one.as_str()),
        _ => None,
    }
}
