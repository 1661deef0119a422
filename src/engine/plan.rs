//! Plan building: what a run of a plan would do with each step (up to date, will run and why,
//! blocked by a failed check), predicted from file metadata and the stored materializations
//! without reading or writing any data. It mirrors the decisions of a run step by step, so the
//! CLI's `plan`, the launch dialog and the run itself agree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use super::gate::{self, Block};
use super::{EngineError, RunPlan, data_version, definition_hash, source};
use crate::model::RunId;
use crate::model::{
    AssetDefinition, AssetGraph, AssetKey, AssetMaterialization, AssetSpec, Project,
};

/// What a run of a plan would do with one asset, decided without reading any data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PlannedStatus {
    /// Definition and inputs unchanged since this run's materialization. `checks` are new or
    /// edited checks that will be evaluated on the stored data.
    UpToDate {
        run_id: RunId,
        checks: Vec<String>,
        /// An Error check failed on this data in an earlier run: the run will fail for it.
        #[serde(skip_serializing_if = "Option::is_none")]
        failed: Option<StoredFailure>,
    },
    /// The step will compute, for this reason.
    WillRun { reason: String },
    /// The step will not run: an upstream's stored data failed a blocking check
    /// ("blocked: check C of asset A failed in run R").
    Blocked { reason: String },
}

/// An Error check that failed on a materialization in an earlier run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredFailure {
    pub check: String,
    /// The run that found the failure.
    pub run_id: RunId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    pub asset: AssetKey,
    pub partition: Option<String>,
    pub status: PlannedStatus,
}

/// Predicts, step by step, what [`super::execute`] will decide: the same data versions are
/// computed from source file metadata and the stored materializations, so nothing is read or
/// written. A step whose upstream fails or is blocked at run time is skipped then; that cannot be
/// known here.
pub fn plan_status(plan: &RunPlan) -> Vec<PlannedStep> {
    let mut planner = Planner::new(plan);
    plan.steps.iter().map(|key| planner.step(key)).collect()
}

/// What plan building knows so far: the stored state, and what it predicted for the steps
/// before the current one.
struct Planner<'p> {
    plan: &'p RunPlan,
    graph: AssetGraph,
    previous: BTreeMap<&'p AssetKey, &'p AssetMaterialization>,
    stored_checks: gate::StoredChecks<'p>,
    /// What blocks downstream steps: stored failures outside the run, and those of up-to-date
    /// steps (a step that will compute cannot be judged before it runs).
    blocks: BTreeMap<AssetKey, Block>,
    /// The data version each planned step will have, when it can be known in advance.
    predicted: BTreeMap<AssetKey, Option<String>>,
}

impl<'p> Planner<'p> {
    fn new(plan: &'p RunPlan) -> Self {
        let previous: BTreeMap<&AssetKey, &AssetMaterialization> = plan
            .previous
            .iter()
            .filter(|m| m.partition.is_none() || m.partition == plan.partition)
            .map(|m| (&m.asset, m))
            .collect();
        let stored_checks = gate::StoredChecks::new(&plan.previous_checks);
        let in_plan: BTreeSet<&AssetKey> = plan.steps.iter().collect();
        let mut blocks: BTreeMap<AssetKey, Block> = BTreeMap::new();
        if !plan.checks_only {
            for (k, m) in &previous {
                if !in_plan.contains(k)
                    && let Some(asset) = plan.project.asset(k)
                    && let Some(b) = gate::stored_block(asset, m, &stored_checks)
                {
                    blocks.insert((*k).clone(), b);
                }
            }
        }
        Self {
            plan,
            graph: AssetGraph::build(&plan.project),
            previous,
            stored_checks,
            blocks,
            predicted: BTreeMap::new(),
        }
    }

    /// What the run will do with the step of `key` (the steps before it already planned).
    fn step(&mut self, key: &AssetKey) -> PlannedStep {
        let plan = self.plan;
        let Some(asset) = plan.project.asset(key) else {
            return PlannedStep {
                asset: key.clone(),
                partition: None,
                status: will_run("not in the project"),
            };
        };
        let partition = asset
            .partitions
            .is_partitioned()
            .then(|| plan.partition.clone())
            .flatten();
        let (status, version) = match self.inputs(asset, partition.as_deref()) {
            Err(reason) => (will_run(&reason.to_string()), None),
            Ok(inputs) => {
                let version = data_version(
                    &definition_hash(asset),
                    asset,
                    &inputs,
                    plan.masking.plan.output(&asset.key),
                );
                (
                    self.status(asset, partition.as_deref(), &version),
                    Some(version),
                )
            }
        };
        let upstream_block = self.graph.upstream(key).into_iter().find_map(|up| {
            self.blocks
                .get(up)
                .filter(|b| !(plan.allow_failed_upstream && matches!(b, Block::Check { .. })))
                .map(|b| (up.clone(), b.clone()))
        });
        let status = match upstream_block {
            Some((up, block)) if !plan.checks_only => {
                let reason = block
                    .downstream_outcome(&up)
                    .detail()
                    .unwrap_or_default()
                    .to_owned();
                self.blocks.insert(key.clone(), block.passed_on());
                PlannedStatus::Blocked { reason }
            }
            _ => status,
        };
        self.predicted.insert(key.clone(), version);
        PlannedStep {
            asset: key.clone(),
            partition,
            status,
        }
    }

    /// Whether a step whose data will have `version` is up to date, or why it will run. An
    /// up-to-date step whose stored data failed a blocking check blocks its downstream steps.
    fn status(
        &mut self,
        asset: &AssetSpec,
        partition: Option<&str>,
        version: &str,
    ) -> PlannedStatus {
        let key = &asset.key;
        let prev = self
            .previous
            .get(key)
            .filter(|p| p.partition.as_deref() == partition && Path::new(&p.location).is_file());
        match prev {
            _ if self.plan.force => will_run("forced"),
            None => will_run("never materialized"),
            Some(p) if p.data_version == version => {
                let verdict = self.stored_checks.verdict(asset, p);
                let failed = verdict
                    .failed_error
                    .clone()
                    .map(|(check, run_id)| StoredFailure { check, run_id });
                if let Some((check, run_id)) = verdict.failed_blocking {
                    self.blocks.insert(
                        key.clone(),
                        Block::Check {
                            upstream: key.clone(),
                            check,
                            run_id,
                        },
                    );
                }
                PlannedStatus::UpToDate {
                    run_id: p.run_id.clone(),
                    checks: verdict.unevaluated.iter().map(|c| c.name.clone()).collect(),
                    failed,
                }
            }
            Some(p) if p.definition_hash != definition_hash(asset) => {
                will_run("definition changed")
            }
            Some(p) if p.code_version != asset.code_version => will_run("code version changed"),
            Some(_) => will_run("inputs changed"),
        }
    }

    /// The input versions a step will see, or why they cannot be known before the run.
    fn inputs(
        &self,
        asset: &AssetSpec,
        partition: Option<&str>,
    ) -> Result<BTreeMap<String, String>, Unpredictable> {
        let key = &asset.key;
        if asset.partitions.is_partitioned() && partition.is_none() {
            return Err(Unpredictable::NoPartition);
        }
        match &asset.definition {
            AssetDefinition::Source(s) => {
                let crate::model::SourceSpec::File { path, .. } = s else {
                    return Err(Unpredictable::NotLocal {
                        kind: s.kind_label(),
                    });
                };
                let full = source::resolve_path(&self.plan.project_dir, path, partition);
                let files = source::matching_files(key, &full)?;
                Ok(BTreeMap::from([(
                    format!("source:{}", s.kind_label()),
                    source::file_version(&files),
                )]))
            }
            AssetDefinition::Transform(_) => {
                let mut versions = BTreeMap::new();
                for up in self.graph.upstream(key) {
                    let version = match self.predicted.get(up) {
                        Some(Some(v)) => v.clone(),
                        Some(None) => {
                            return Err(Unpredictable::UpstreamRuns {
                                upstream: up.clone(),
                            });
                        }
                        None => self
                            .previous
                            .get(up)
                            .map(|m| m.data_version.clone())
                            .ok_or_else(|| Unpredictable::UpstreamMissing {
                                upstream: up.clone(),
                            })?,
                    };
                    versions.insert(up.to_string(), version);
                }
                Ok(versions)
            }
        }
    }
}

fn will_run(reason: &str) -> PlannedStatus {
    PlannedStatus::WillRun {
        reason: reason.to_owned(),
    }
}

/// Why a step's input versions cannot be known before the run: the step will run, for this
/// reason.
#[derive(Debug, thiserror::Error)]
enum Unpredictable {
    #[error("partitioned: choose a partition")]
    NoPartition,
    #[error("{kind} sources do not run locally yet")]
    NotLocal { kind: &'static str },
    /// The source's files cannot be listed.
    #[error(transparent)]
    Files(#[from] EngineError),
    #[error("upstream {upstream} will run first")]
    UpstreamRuns { upstream: AssetKey },
    #[error("upstream {upstream} has no materialization")]
    UpstreamMissing { upstream: AssetKey },
}

/// The assets of `selection` in dependency order (upstream first).
pub fn ordered_steps(
    project: &Project,
    selection: &BTreeSet<AssetKey>,
) -> Result<Vec<AssetKey>, EngineError> {
    let graph = AssetGraph::build(project);
    let order = graph.topological_order().map_err(|cycles| {
        EngineError::Cycle(
            cycles
                .first()
                .map(|c| {
                    c.iter()
                        .map(AssetKey::as_str)
                        .collect::<Vec<_>>()
                        .join(" → ")
                })
                .unwrap_or_default(),
        )
    })?;
    Ok(order
        .into_iter()
        .filter(|k| selection.contains(k))
        .collect())
}
