//! The latest truth about each asset, read from the workspace each time: its last
//! materialization, the verdict of its current checks on that data, its last attempt, and
//! whether it is fresh, stale, failed or blocked. The canvas, Asset details and
//! `medallion status` all show this one answer, so they agree — and since nothing is kept in
//! memory, a restart shows the same.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::AppError;
use super::run::{PlannedStatus, stored_state};
use crate::engine::gate::StoredChecks;
use crate::engine::{self, RunPlan};
use crate::model::RunId;
use crate::model::{
    AssetKey, AssetMaterialization, CheckRecord, CheckSeverity, RunEvent, StepOutcome,
};
use crate::store::{StoredProject, Workspace};

/// What an asset's data is, in one word and a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AssetStatus {
    /// Never materialized.
    Missing,
    /// Materialized; definition and inputs unchanged since; no Error check failing on it.
    Fresh,
    /// Materialized, but its definition, code version or an input changed since.
    Stale { reason: String },
    /// Its latest attempt failed (run `run_id`), or an Error check fails on its latest data.
    Failed { run_id: RunId, reason: String },
    /// It cannot be built: an upstream's data failed a blocking check, or its latest attempt
    /// was skipped because an upstream failed.
    Blocked { reason: String },
}

impl AssetStatus {
    pub fn label(&self) -> &'static str {
        match self {
            AssetStatus::Missing => "not materialized",
            AssetStatus::Fresh => "fresh",
            AssetStatus::Stale { .. } => "stale",
            AssetStatus::Failed { .. } => "failed",
            AssetStatus::Blocked { .. } => "blocked",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            AssetStatus::Stale { reason }
            | AssetStatus::Failed { reason, .. }
            | AssetStatus::Blocked { reason } => Some(reason),
            AssetStatus::Missing | AssetStatus::Fresh => None,
        }
    }
}

/// The verdict of an asset's current checks on its latest materialization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckBadge {
    pub passed: usize,
    /// Warn checks that failed.
    pub warned: usize,
    /// Error checks that failed.
    pub failed: usize,
    /// Checks with no result for their current definition on this data (new or edited since).
    pub not_run: usize,
}

impl CheckBadge {
    pub fn total(&self) -> usize {
        self.passed + self.warned + self.failed + self.not_run
    }

    /// "✔ 3  ⚠ 1  ✖ 1  ? 1": only the parts that are there.
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        for (n, sign) in [
            (self.passed, "✔"),
            (self.warned, "⚠"),
            (self.failed, "✖"),
            (self.not_run, "?"),
        ] {
            if n > 0 {
                parts.push(format!("{sign} {n}"));
            }
        }
        parts.join("  ")
    }
}

/// The last materialization of an asset, in brief.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastMaterialization {
    pub run_id: RunId,
    pub partition: Option<String>,
    #[serde(with = "crate::model::time")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub row_count: u64,
}

/// One check's latest verdict on the asset's latest data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckState {
    pub check_name: String,
    pub severity: CheckSeverity,
    pub blocking: bool,
    /// `None`: not evaluated with its current definition on this data.
    pub passed: Option<bool>,
    /// The run that evaluated it.
    pub run_id: Option<RunId>,
    pub description: Option<String>,
}

/// Everything the studio and `medallion status` say about one asset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetState {
    pub asset: AssetKey,
    pub status: AssetStatus,
    pub last_materialization: Option<LastMaterialization>,
    pub checks: CheckBadge,
    pub check_states: Vec<CheckState>,
    /// The latest finished step of the asset in any run: (run, outcome).
    pub last_attempt: Option<(RunId, StepOutcome)>,
    /// Against its freshness policy, now (`None`: it has no policy).
    pub freshness: Option<super::freshness::AssetFreshness>,
    /// The schema drift its latest attempt found (a source read with other columns or types
    /// than its previous materialization had).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<crate::model::contract::SchemaDrift>,
}

/// The state of every asset of a stored project, in project order, now.
pub fn asset_states(ws: &Workspace, stored: &StoredProject) -> Result<Vec<AssetState>, AppError> {
    asset_states_at(ws, stored, chrono::Utc::now())
}

/// [`asset_states`] with freshness judged at `now` (an injected clock in tests).
pub fn asset_states_at(
    ws: &Workspace,
    stored: &StoredProject,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<AssetState>, AppError> {
    let project = &stored.project;
    let (previous, records) = stored_state(ws, &project.name)?;
    let stored_checks = StoredChecks::new(&records);
    let latest = newest_materializations(&previous);
    // A project with a cycle has no order; its assets are then taken as listed.
    let order: Vec<AssetKey> = engine::ordered_steps(
        project,
        &project.assets.iter().map(|a| a.key.clone()).collect(),
    )
    .unwrap_or_else(|_| project.assets.iter().map(|a| a.key.clone()).collect());
    let planned = planned_statuses(ws, stored, &order, &previous, &records, &latest);
    let attempts: BTreeMap<AssetKey, (RunId, chrono::DateTime<chrono::Utc>, StepOutcome)> = ws
        .latest_step_outcomes(&project.name)?
        .into_iter()
        .filter_map(|(run, at, event)| match event {
            RunEvent::StepFinished { asset, outcome, .. } => Some((asset, (run, at, outcome))),
            _ => None,
        })
        .collect();

    // Drift found by the asset's latest attempt; an older one was followed by a clean read.
    let mut drifts: BTreeMap<AssetKey, crate::model::contract::SchemaDrift> = ws
        .latest_schema_drifts(&project.name)?
        .into_iter()
        .filter_map(|(run, _, event)| match event {
            RunEvent::SchemaDrift(d) if attempts.get(&d.asset).is_some_and(|a| a.0 == run) => {
                Some((d.asset.clone(), d))
            }
            _ => None,
        })
        .collect();
    let mut freshness: BTreeMap<AssetKey, super::freshness::AssetFreshness> =
        super::freshness::evaluate(ws, project, now)?
            .into_iter()
            .map(|f| (f.asset.clone(), f))
            .collect();
    let graph = crate::model::AssetGraph::build(project);
    // Upstream first, so an asset's status can look at its upstream assets' statuses.
    let mut states: BTreeMap<AssetKey, AssetState> = BTreeMap::new();
    for key in &order {
        let Some(asset) = project.asset(key) else {
            continue;
        };
        let m = latest.get(key).copied();
        let (badge, check_states, failing_error) = judge_checks(asset, m, &stored_checks);
        let attempt = attempts.get(key);
        // An attempt after the newest materialization (or with none) that did not build it.
        let later = attempt
            .filter(|(run, _, _)| m.is_none_or(|m| &m.run_id != run))
            .map(|(run, _, outcome)| (run, outcome));
        // An upstream that is failed or blocked now keeps a skipped attempt's reason true.
        let upstream_bad = graph.upstream(key).into_iter().any(|up| {
            states.get(up).is_some_and(|s| {
                matches!(
                    s.status,
                    AssetStatus::Failed { .. } | AssetStatus::Blocked { .. }
                )
            })
        });
        let verdict = decide(
            later,
            m.is_some(),
            failing_error,
            planned.get(key),
            upstream_bad,
        );
        states.insert(
            key.clone(),
            AssetState {
                asset: key.clone(),
                status: verdict,
                last_materialization: m.map(|m| LastMaterialization {
                    run_id: m.run_id.clone(),
                    partition: m.partition.clone(),
                    created_at: m.created_at,
                    row_count: m.row_count,
                }),
                checks: badge,
                check_states,
                last_attempt: attempt.map(|(run, _, outcome)| (run.clone(), outcome.clone())),
                freshness: freshness.remove(key),
                drift: drifts.remove(key),
            },
        );
    }
    Ok(project
        .assets
        .iter()
        .filter_map(|a| states.remove(&a.key))
        .collect())
}

/// The newest materialization of each asset (over partitions).
fn newest_materializations(
    previous: &[AssetMaterialization],
) -> BTreeMap<&AssetKey, &AssetMaterialization> {
    let mut latest: BTreeMap<&AssetKey, &AssetMaterialization> = BTreeMap::new();
    for m in previous {
        let newer = latest
            .get(&m.asset)
            .is_none_or(|old| (m.created_at, &m.run_id) > (old.created_at, &old.run_id));
        if newer {
            latest.insert(&m.asset, m);
        }
    }
    latest
}

/// What a run of everything would do now — per partition for partitioned assets (the
/// partition of their newest materialization).
fn planned_statuses(
    ws: &Workspace,
    stored: &StoredProject,
    order: &[AssetKey],
    previous: &[AssetMaterialization],
    records: &[CheckRecord],
    latest: &BTreeMap<&AssetKey, &AssetMaterialization>,
) -> BTreeMap<AssetKey, PlannedStatus> {
    let project = &stored.project;
    let mut planned: BTreeMap<AssetKey, PlannedStatus> = BTreeMap::new();
    let mut partitions: Vec<Option<String>> = vec![None];
    for m in latest.values() {
        if m.partition.is_some() && !partitions.contains(&m.partition) {
            partitions.push(m.partition.clone());
        }
    }
    let mask_plan = super::masking::plan_for(
        project,
        stored.source_dir.as_deref(),
        crate::model::masking::Environment::Local,
    );
    for partition in partitions {
        let plan = RunPlan {
            run_id: RunId::default(),
            project: project.clone(),
            project_dir: stored
                .source_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(".")),
            store_dir: super::run::store_dir(ws, &project.name),
            steps: order.to_vec(),
            partition: partition.clone(),
            force: false,
            previous: previous.to_vec(),
            previous_checks: records.to_vec(),
            allow_failed_upstream: false,
            checks_only: false,
            masking: engine::mask::Masking {
                plan: mask_plan.clone(),
                key: None,
            },
        };
        for step in engine::plan_status(&plan) {
            let own_partition = latest.get(&step.asset).and_then(|m| m.partition.clone());
            if step.partition.is_none() || step.partition == own_partition {
                planned.insert(step.asset, step.status);
            }
        }
    }
    planned
}

/// The badge and per-check states of an asset's newest data, and the first failing Error
/// check with the run that judged it.
fn judge_checks(
    asset: &crate::model::AssetSpec,
    m: Option<&AssetMaterialization>,
    stored_checks: &StoredChecks<'_>,
) -> (CheckBadge, Vec<CheckState>, Option<(String, RunId)>) {
    let mut badge = CheckBadge::default();
    let mut check_states = Vec::new();
    let mut failing_error: Option<(String, RunId)> = None;
    for check in &asset.checks {
        let hash = engine::check::definition_hash(check);
        let record = m
            .and_then(|m| stored_checks.latest(m, &check.name))
            .filter(|r| r.result.check_hash == hash);
        match record {
            // No data, no verdict: the badge stays empty until the asset is materialized.
            None if m.is_none() => {}
            None => badge.not_run += 1,
            Some(r) if r.result.passed => badge.passed += 1,
            Some(_) if check.severity == CheckSeverity::Warn => badge.warned += 1,
            Some(r) => {
                badge.failed += 1;
                failing_error.get_or_insert_with(|| (check.name.clone(), r.run_id.clone()));
            }
        }
        check_states.push(CheckState {
            check_name: check.name.clone(),
            severity: check.severity,
            blocking: check.blocking,
            passed: record.map(|r| r.result.passed),
            run_id: record.map(|r| r.run_id.clone()),
            description: record.map(|r| r.result.description.clone()),
        });
    }
    (badge, check_states, failing_error)
}

/// The status from what happened, most pressing first: a failed attempt since the data was
/// made, an Error check failing on the data, a blocking check failing upstream, an attempt
/// skipped or blocked for an upstream that is still failed or blocked; otherwise missing,
/// fresh or stale.
fn decide(
    later_attempt: Option<(&RunId, &StepOutcome)>,
    materialized: bool,
    failing_error: Option<(String, RunId)>,
    planned: Option<&PlannedStatus>,
    upstream_bad: bool,
) -> AssetStatus {
    if let Some((run, StepOutcome::Failed { error })) = later_attempt {
        return AssetStatus::Failed {
            run_id: run.clone(),
            reason: error.clone(),
        };
    }
    if let Some((check, run)) = failing_error {
        return AssetStatus::Failed {
            reason: format!("check {check} failed in run {run}"),
            run_id: run,
        };
    }
    if let Some(PlannedStatus::Blocked { reason }) = planned {
        return AssetStatus::Blocked {
            reason: reason.clone(),
        };
    }
    match later_attempt {
        Some((run, StepOutcome::Skipped { reason })) if upstream_bad => {
            return AssetStatus::Blocked {
                reason: format!("{reason} (run {run})"),
            };
        }
        Some((_, StepOutcome::Blocked { reason, .. })) if upstream_bad => {
            return AssetStatus::Blocked {
                reason: reason.clone(),
            };
        }
        _ => {}
    }
    if !materialized {
        return AssetStatus::Missing;
    }
    match planned {
        Some(PlannedStatus::UpToDate { .. }) => AssetStatus::Fresh,
        Some(PlannedStatus::WillRun { reason }) => AssetStatus::Stale {
            reason: reason.clone(),
        },
        _ => AssetStatus::Stale {
            reason: "unknown".to_owned(),
        },
    }
}
