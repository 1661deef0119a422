//! Checks gate data: a materialization whose blocking Error check failed is never an input to
//! a downstream step — in the run that found the failure or any later one — until the asset
//! is materialized again and passes (or the run says `--allow-failed-upstream`).
//!
//! A stored check result stands for a check only while the check's definition hash matches
//! ([`super::check::definition_hash`]); an edited or new check has no verdict on the stored
//! data until it is evaluated again, which an up-to-date step does on its stored file.

use std::collections::BTreeMap;

use crate::model::RunId;
use crate::model::{
    AssetCheckSpec, AssetKey, AssetMaterialization, AssetSpec, CheckRecord, CheckSeverity,
    StepOutcome,
};

/// Why an asset's data may not feed its downstream steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Block {
    /// A step of this run failed, was skipped or is missing: `.0` completes "upstream A …".
    Reason(String),
    /// The asset's materialization in use failed the blocking Error check `check`, found by
    /// run `run_id`.
    Check {
        upstream: AssetKey,
        check: String,
        run_id: RunId,
    },
}

impl Block {
    /// What a step downstream of `up` (blocked by `self`) reports.
    pub(crate) fn downstream_outcome(&self, up: &AssetKey) -> StepOutcome {
        match self {
            Block::Reason(why) => StepOutcome::Skipped {
                reason: format!("upstream {up} {why}"),
            },
            Block::Check {
                upstream,
                check,
                run_id,
            } => StepOutcome::blocked(upstream, check, run_id),
        }
    }

    /// What the downstream step passes on to its own downstream steps.
    pub(crate) fn passed_on(&self) -> Block {
        match self {
            Block::Reason(_) => Block::Reason("was skipped".to_owned()),
            check @ Block::Check { .. } => check.clone(),
        }
    }
}

/// The latest stored evaluation of each check on each materialization, for quick lookup.
#[derive(Debug, Default)]
pub struct StoredChecks<'a> {
    by_key: BTreeMap<(&'a AssetKey, Option<&'a str>, &'a str, &'a RunId), &'a CheckRecord>,
}

impl<'a> StoredChecks<'a> {
    /// Indexes `records` (later records win, so pass them oldest first).
    pub fn new(records: &'a [CheckRecord]) -> Self {
        let mut by_key = BTreeMap::new();
        for r in records {
            by_key.insert(
                (
                    &r.result.asset,
                    r.result.partition.as_deref(),
                    r.result.check_name.as_str(),
                    r.materialization_run_id(),
                ),
                r,
            );
        }
        Self { by_key }
    }

    /// The latest evaluation of `check` on materialization `m`, whatever its definition was.
    pub fn latest(&self, m: &AssetMaterialization, check: &str) -> Option<&'a CheckRecord> {
        self.by_key
            .get(&(&m.asset, m.partition.as_deref(), check, &m.run_id))
            .copied()
    }

    /// What the stored results say about materialization `m` of `asset` under the asset's
    /// current checks.
    pub fn verdict<'s>(&self, asset: &'s AssetSpec, m: &AssetMaterialization) -> Verdict<'s> {
        let mut verdict = Verdict::default();
        for check in &asset.checks {
            let hash = super::check::definition_hash(check);
            match self.latest(m, &check.name) {
                Some(r) if r.result.check_hash == hash => {
                    if !r.result.passed && gates(check) && verdict.failed_blocking.is_none() {
                        verdict.failed_blocking = Some((check.name.clone(), r.run_id.clone()));
                    }
                    if !r.result.passed
                        && check.severity == CheckSeverity::Error
                        && verdict.failed_error.is_none()
                    {
                        verdict.failed_error = Some((check.name.clone(), r.run_id.clone()));
                    }
                }
                other => {
                    // Edited since its last evaluation, or never evaluated on this data.
                    if let Some(r) = other
                        && !r.result.passed
                        && gates(check)
                        && verdict.failed_before_edit.is_none()
                    {
                        verdict.failed_before_edit = Some((check.name.clone(), r.run_id.clone()));
                    }
                    verdict.unevaluated.push(check);
                }
            }
        }
        verdict
    }
}

/// The stored verdict on one materialization.
#[derive(Debug, Default)]
pub struct Verdict<'s> {
    /// A blocking Error check (with its current definition) failed: (check, run that found it).
    pub failed_blocking: Option<(String, RunId)>,
    /// An Error check (with its current definition, blocking or not) failed: (check, run that
    /// found it). A run that finds this data up to date fails for it, as the run that found it
    /// did.
    pub failed_error: Option<(String, RunId)>,
    /// A blocking Error check failed under an earlier definition and has not been evaluated
    /// since it changed.
    pub failed_before_edit: Option<(String, RunId)>,
    /// Checks with no result for their current definition on this data.
    pub unevaluated: Vec<&'s AssetCheckSpec>,
}

/// Whether a failure of `check` keeps its asset's data from downstream steps.
pub fn gates(check: &AssetCheckSpec) -> bool {
    check.blocking && check.severity == CheckSeverity::Error
}

/// The block that the stored materialization `m` of an asset outside the run puts on its
/// downstream steps. Such an asset's edited checks are not evaluated here (it is not part of
/// the run), so a failure under the check's earlier definition still blocks — the cautious
/// reading — until its checks run again.
pub(crate) fn stored_block(
    asset: &AssetSpec,
    m: &AssetMaterialization,
    stored: &StoredChecks<'_>,
) -> Option<Block> {
    let verdict = stored.verdict(asset, m);
    verdict
        .failed_blocking
        .or(verdict.failed_before_edit)
        .map(|(check, run_id)| Block::Check {
            upstream: asset.key.clone(),
            check,
            run_id,
        })
}
