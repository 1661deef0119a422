//! What a deployed project's executions read: each step's plan at `_deploy/<step>/plan.json`
//! and the input files it reads under `_deploy/_inputs/`, built by the same code as a launch's
//! ([`super::step_plan::runner_project`]) but serving every execution: the run id and `{run}`
//! in the result URI are the execution's name (`MEDALLION_RUN_ID`), and instead of a list of
//! upstream materializations a step names the results of the steps before it, which the runner
//! reads when it starts ([`StepPlan::upstream_results`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::step_plan::{StepInputs, runner_project};
use crate::app::AppError;
use crate::compute::aws::Aws;
use crate::compute::deploy::asl::{self, DeployedStep};
use crate::compute::deploy::objects::{Content, DEPLOY_DIR};
use crate::compute::protocol::{PROTOCOL_VERSION, StepPlan};
use crate::model::{ComputeTier, RunId};
use crate::store::StoredProject;

/// The run id a deployed plan carries until the runner puts the execution's in its place.
pub const DEPLOYED_RUN: &str = "deployed";

/// One object a deployment writes: its key under the project's prefix, what it holds and a
/// line saying what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployObject {
    pub name: String,
    pub content: Content,
    pub summary: String,
}

/// The plans of `steps` and the input files they read, as objects to write under `_deploy/`.
///
/// # Errors
/// An input file that cannot be found or read; a plan that cannot be encoded.
pub fn deployed_objects(
    aws: &Aws,
    stored: &StoredProject,
    steps: &[DeployedStep],
) -> Result<Vec<DeployObject>, AppError> {
    let project_dir = stored
        .source_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let store = aws.store();
    let prefix = aws.uri("");
    let mut inputs: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut out = Vec::new();
    // Which columns the outputs mask on `remote` (no key travels: a `hash` fails the step).
    let masks = crate::app::masking::plan_for(
        &stored.project,
        Some(project_dir.as_path()),
        crate::model::masking::Environment::Remote,
    );
    for (i, s) in steps.iter().enumerate() {
        let step = StepInputs {
            assets: &s.step.assets,
            partitions: &s.step.partitions,
            local: s.step.tier == ComputeTier::Local,
            dir: format!("{DEPLOY_DIR}/_inputs"),
        };
        let mut project =
            runner_project(aws, &stored.project, &project_dir, &step, &mut |uri, f| {
                inputs.insert(uri.trim_start_matches(&prefix).to_owned(), f.to_path_buf());
                Ok(())
            })?;
        // What starts executions and where they alert is the deployment's, not the runner's:
        // a changed cron changes the schedule, not every step's plan.
        project.schedules.clear();
        project.sensors.clear();
        project.alerts = crate::model::AlertSettings::default();
        project.retention = crate::model::RunRetention::default();
        project.layout = crate::model::CanvasLayout::default();
        let plan = StepPlan {
            version: PROTOCOL_VERSION,
            run_id: RunId::new(DEPLOYED_RUN),
            step_id: s.id.clone(),
            project,
            assets: s.step.assets.clone(),
            partitions: s.step.partitions.clone(),
            force: false,
            previous: Vec::new(),
            previous_checks: Vec::new(),
            store: store.clone(),
            result_uri: asl::result_uri(&store, &s.id),
            upstream_results: upstream_results(&store, &steps[..i]),
            masks: masks.clone(),
        };
        let body = serde_json::to_vec_pretty(&plan).map_err(|source| AppError::Encode {
            what: "a deployed step's plan",
            source,
        })?;
        out.push(DeployObject {
            name: format!("{DEPLOY_DIR}/{}/plan.json", s.id),
            content: Content::Bytes(body),
            summary: format!(
                "the plan of step {} ({} asset(s))",
                s.id,
                s.step.assets.len()
            ),
        });
    }
    let body = serde_json::to_vec_pretty(steps).map_err(|source| AppError::Encode {
        what: "the deployed steps",
        source,
    })?;
    out.push(DeployObject {
        name: asl::STEPS_OBJECT.to_owned(),
        content: Content::Bytes(body),
        summary: format!(
            "the {} deployed step(s) with their tiers and sizes (sync reads and prices executions by them)",
            steps.len()
        ),
    });
    out.extend(inputs.into_iter().map(|(name, file)| DeployObject {
        summary: format!("input file {}", shown(&file, &project_dir)),
        name,
        content: Content::File(file),
    }));
    Ok(out)
}

/// The results of the steps before a step, one per partition of an array step.
fn upstream_results(
    store: &crate::compute::protocol::ObjectStore,
    before: &[DeployedStep],
) -> Vec<String> {
    before
        .iter()
        .flat_map(|s| {
            let uri = asl::result_uri(store, &s.id);
            (0..s.step.partitions.len().max(1)).map(move |n| uri.replace("{index}", &n.to_string()))
        })
        .collect()
}

fn shown(file: &Path, dir: &Path) -> String {
    file.strip_prefix(dir).unwrap_or(file).display().to_string()
}
