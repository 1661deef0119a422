//! Masking at the boundaries: the plan of which columns are masked where (tags declared and
//! inherited through column lineage, bound to the project's policies), the project's key from
//! the keyring when a policy hashes, run events masked before they are stored or forwarded,
//! and the compliance report (`medallion compliance`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::engine::mask::{MaskKey, Masking};
use crate::model::lineage::{ColumnRef, consumers};
use crate::model::masking::{
    ColumnTag, Environment, MaskPlan, MaskingRule, mask_plan, tagged_columns,
};
use crate::model::{AssetKey, PiiKind, Project, RunEvent};

use super::AppError;

/// The masking of `project` in `env`: nothing to compute when the project has no policy; the
/// key is read from (or created in) the OS keyring only when a policy hashes.
pub fn masking_for(
    project: &Project,
    dir: Option<&Path>,
    env: Environment,
) -> Result<Masking, AppError> {
    let plan = plan_for(project, dir, env);
    let key = if plan.needs_key() {
        Some(MaskKey::new(crate::secrets::masking_key(&project.name)?))
    } else {
        None
    };
    Ok(Masking { plan, key })
}

/// Which columns are masked where in `env`, without the key (what a plan of a run needs to
/// tell whether an output is up to date).
pub fn plan_for(project: &Project, dir: Option<&Path>, env: Environment) -> MaskPlan {
    if project.masking.is_empty() {
        return MaskPlan::default();
    }
    let analysis = super::lineage::analyze(project, dir);
    let tags = tagged_columns(project, &analysis.lineage, &analysis.schemas);
    mask_plan(project, &tags, env)
}

/// `event` with the values of tagged columns masked (see [`Masking::mask_event`]).
pub fn mask_event(masking: &Masking, event: RunEvent) -> RunEvent {
    masking.mask_event(event)
}

/// `diff`'s example values of tagged columns masked (the stored values of columns whose
/// output is masked already are).
pub fn mask_diff(masking: &Masking, asset: &AssetKey, diff: &mut crate::engine::diff::TableDiff) {
    let masks = masking.plan.reported(asset);
    if masks.is_empty() {
        return;
    }
    let key = masking.key.as_ref().map(MaskKey::bytes);
    let mask_pairs = |pairs: &mut Vec<(String, String)>| {
        for (column, value) in pairs.iter_mut() {
            if let Some(m) = masks.iter().find(|m| &m.column == column) {
                *value = crate::engine::mask::masked_text(m, key, value)
                    .unwrap_or_else(|| "null".to_owned());
            }
        }
    };
    for row in diff
        .examples_only_in_a
        .iter_mut()
        .chain(diff.examples_only_in_b.iter_mut())
    {
        mask_pairs(row);
    }
    for c in &mut diff.columns {
        let this = masks.iter().find(|m| m.column == c.column);
        for e in &mut c.examples {
            mask_pairs(&mut e.key);
            if let Some(m) = this {
                e.a = crate::engine::mask::masked_text(m, key, &e.a)
                    .unwrap_or_else(|| "null".to_owned());
                e.b = crate::engine::mask::masked_text(m, key, &e.b)
                    .unwrap_or_else(|| "null".to_owned());
            }
        }
    }
}

/// A tagged column in the compliance report.
#[derive(Debug, Clone, Serialize)]
pub struct TaggedColumn {
    pub column: ColumnRef,
    pub kind: PiiKind,
    /// `declared` in the project, or `inherited` through lineage.
    pub origin: &'static str,
    /// The tagged columns it inherits from.
    pub from: Vec<ColumnRef>,
    /// The policy bound to its tag, if any.
    pub policy: Option<MaskingRule>,
    /// Downstream columns its values feed (directly).
    pub feeds: Vec<ColumnRef>,
    /// Whether its asset's materialized output holds it (every asset is materialized).
    pub reaches_output: bool,
    /// Whether the output holds it masked, per environment.
    pub masked_output: BTreeMap<&'static str, bool>,
}

/// `medallion compliance`: every tagged column, where it flows, and what covers it.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceReport {
    pub project: String,
    pub columns: Vec<TaggedColumn>,
    /// Tagged columns that reach an output with no policy bound to their tag.
    pub unmasked: Vec<ColumnRef>,
    /// Problems lineage met (a tag may not flow past them).
    pub warnings: Vec<String>,
}

/// The compliance report of an analyzed project (`app::lineage::analyze_target`).
pub fn compliance(analysis: &super::lineage::Analysis) -> ComplianceReport {
    let project = &analysis.project;
    let tags = tagged_columns(project, &analysis.lineage, &analysis.schemas);
    let fed = consumers(&analysis.lineage);
    let plans: Vec<(Environment, MaskPlan)> = [Environment::Local, Environment::Remote]
        .into_iter()
        .map(|e| (e, mask_plan(project, &tags, e)))
        .collect();
    let mut columns = Vec::new();
    let mut unmasked = Vec::new();
    for (col, tag) in &tags {
        let policy = project.masking.get(&tag.kind).cloned();
        let masked_output = plans
            .iter()
            .map(|(e, plan)| (e.as_str(), stored_masked(plan, &tags, col)))
            .collect();
        if policy.is_none() {
            unmasked.push(col.clone());
        }
        columns.push(TaggedColumn {
            column: col.clone(),
            kind: tag.kind,
            origin: if tag.declared {
                "declared"
            } else {
                "inherited"
            },
            from: tag.from.iter().cloned().collect(),
            policy,
            feeds: fed
                .get(col)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default(),
            reaches_output: true,
            masked_output,
        });
    }
    let warnings = analysis
        .diagnostics
        .iter()
        .map(|d| match &d.asset {
            Some(a) => format!("{a}: {}", d.message),
            None => d.message.clone(),
        })
        .collect();
    ComplianceReport {
        project: project.name.clone(),
        columns,
        unmasked,
        warnings,
    }
}

/// Whether `col`'s stored values are masked under `plan`: masked in its own output, or
/// inherited from a column whose stored values are.
fn stored_masked(plan: &MaskPlan, tags: &BTreeMap<ColumnRef, ColumnTag>, col: &ColumnRef) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![col.clone()];
    while let Some(c) = todo.pop() {
        if !seen.insert(c.clone()) {
            continue;
        }
        if plan.output(&c.asset).iter().any(|m| m.column == c.column) {
            return true;
        }
        if let Some(t) = tags.get(&c) {
            todo.extend(t.from.iter().cloned());
        }
    }
    false
}
