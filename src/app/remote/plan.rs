//! A remote run worked out once from its request — the selection resolved, the partitions
//! checked, the compute planner asked (with this workspace's run history and prices) and the
//! steps grouped ([`crate::compute::steps`]) — into a [`RemotePlan`]. Submit records that plan;
//! the launch dialog shows the same one, so what it shows is what a launch does.

use super::{PlannedRemoteStep, SubmitRequest, choices_from_plan, plan_steps};
use crate::app::plan::PlanReport;
use crate::app::{AppError, Refusal};
use crate::model::AssetKey;
use crate::store::{StoredProject, Workspace};

/// A remote run as it would go: the parsed form of a [`SubmitRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct RemotePlan {
    /// The selected assets, in dependency order.
    pub ordered: Vec<AssetKey>,
    /// Where each asset runs, why, and what it costs (the dialog's compute table).
    pub report: PlanReport,
    /// The steps, in the order they run.
    pub steps: Vec<PlannedRemoteStep>,
}

impl RemotePlan {
    /// Why the run cannot go as planned: the first asset whose tier breaks a limit.
    pub fn problem(&self) -> Option<Refusal> {
        self.report.assets.iter().find_map(|a| {
            a.problem.as_ref().map(|p| Refusal::TierLimit {
                asset: a.asset.clone(),
                problem: p.clone(),
            })
        })
    }
}

/// Works out the remote run `request` asks for: resolves the selection (once), checks the
/// partitions, plans each asset's tier and size with the workspace's history and prices (the
/// request's overrides and `--tier` beat the planner) and groups the assets into steps.
pub fn plan_remote(
    ws: &Workspace,
    stored: &StoredProject,
    request: &SubmitRequest,
) -> Result<RemotePlan, AppError> {
    let project = &stored.project;
    let ordered = crate::app::run::resolve_selection(project, &request.selection)?;
    if ordered.is_empty() {
        return Err(Refusal::EmptySelection {
            selection: request.selection.clone(),
        }
        .into());
    }
    for key in &request.partitions {
        crate::app::run::check_partition(project, &ordered, key)?;
    }
    let mut overrides = request.overrides.clone();
    if let Some(t) = request.tier {
        overrides.extend(ordered.iter().map(|k| (k.clone(), t)));
    }
    let report = crate::app::plan::plan_assets(
        ws,
        stored,
        &ordered,
        request.partitions.len().max(1),
        &overrides,
    )?;
    let choices = choices_from_plan(project, &report.assets, request.tier);
    let steps = plan_steps(project, &ordered, &request.partitions, &choices);
    Ok(RemotePlan {
        ordered,
        report,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::compute::steps::TierChoice;
    use crate::model::{ComputeTier, Project};

    /// The planner's choices for `ordered` from the model alone (no run history).
    fn model_choices(
        project: &Project,
        ordered: &[AssetKey],
        partitions: usize,
        forced: Option<ComputeTier>,
    ) -> Result<BTreeMap<AssetKey, TierChoice>, AppError> {
        let prices = crate::app::plan::shipped_prices()?;
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
        let ordered = crate::app::run::resolve_selection(&p, "*").unwrap();
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
        let ordered = crate::app::run::resolve_selection(&p, "*").unwrap();
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
        let ordered = crate::app::run::resolve_selection(&p, "*").unwrap();
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
        let ordered = crate::app::run::resolve_selection(&p, "*").unwrap();
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
}
