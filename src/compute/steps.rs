//! The pure step grouping of a remote run: which assets share a step, on which tier, in
//! what order and with what size. It sits beside [`super::planner`] because it only turns
//! the planner's per-asset choices into steps — no I/O, no workspace, no AWS — so the app
//! (submit) and the launch dialog (through `app::remote::plan_remote`) group steps the same way.

use std::collections::BTreeMap;

use super::planner::AssetPlan;
use crate::model::{AssetGraph, AssetKey, ComputeTier, Project};

/// One step as planned: where it runs, why, and with what.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// The id of the step at `index` (from 0) of a run: `s1-lambda`, `s2-fargate`, …
pub fn step_id(index: usize, tier: ComputeTier) -> String {
    format!("s{}-{tier}", index + 1)
}

/// Whether a tier runs a backfill as one array job (one child per partition).
pub fn tier_has_arrays(tier: ComputeTier) -> bool {
    matches!(tier, ComputeTier::Batch | ComputeTier::Eks)
}

/// The most children one array job of a tier takes: AWS Batch's array sizes go up to 10,000;
/// a Kubernetes Indexed Job takes up to 100,000 completions.
pub fn max_array_children(tier: ComputeTier) -> usize {
    match tier {
        ComputeTier::Batch => 10_000,
        ComputeTier::Eks => 100_000,
        _ => 1,
    }
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

/// The planner's choices ([`crate::compute::planner`]) as step inputs. With
/// `forced` (`--tier`), the reason says so.
pub fn choices_from_plan(
    project: &Project,
    plans: &[AssetPlan],
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
    let graph = AssetGraph::build(project);
    let mut groups: Vec<PlannedRemoteStep> = Vec::new();
    let mut step_of: BTreeMap<AssetKey, usize> = BTreeMap::new();
    for key in ordered {
        let choice = choices
            .get(key)
            .cloned()
            .unwrap_or_else(TierChoice::unplanned);
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
                groups[i].join(key, &choice);
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
    split_backfills(groups)
}

impl TierChoice {
    /// An asset the planner did not plan: Fargate at the default size.
    fn unplanned() -> Self {
        TierChoice {
            tier: ComputeTier::Fargate,
            reason: "not planned: Fargate by default".to_owned(),
            vcpu: DEFAULT_VCPU,
            memory_mb: DEFAULT_MEMORY_MB,
            spot: false,
            timeout_secs: None,
        }
    }
}

impl PlannedRemoteStep {
    /// Adds an asset to this step: the step grows to the larger size, is Spot only when every
    /// asset may be, gets the sum of the timeouts, and gives each distinct reason.
    fn join(&mut self, key: &AssetKey, choice: &TierChoice) {
        self.assets.push(key.clone());
        self.vcpu = self.vcpu.max(choice.vcpu);
        self.memory_mb = self.memory_mb.max(choice.memory_mb);
        self.spot &= choice.spot;
        self.timeout_secs = match (self.timeout_secs, choice.timeout_secs) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        if !self.reason.contains(&choice.reason) {
            self.reason = format!("{}; {}", self.reason, choice.reason);
        }
    }
}

/// A backfill on a tier without array jobs becomes one step per partition; one bigger than a
/// tier's array job takes ([`max_array_children`]: 10,950 days on Batch, say) becomes array
/// jobs of at most that many partitions, one after the other.
fn split_backfills(groups: Vec<PlannedRemoteStep>) -> Vec<PlannedRemoteStep> {
    let mut steps = Vec::new();
    for g in groups {
        if g.partitions.len() > 1 {
            for chunk in g.partitions.chunks(max_array_children(g.tier)) {
                steps.push(PlannedRemoteStep {
                    partitions: chunk.to_vec(),
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
        && let Some((vcpu, memory_mb)) = super::cost::fargate_size(step.vcpu, step.memory_mb)
    {
        step.vcpu = vcpu;
        step.memory_mb = memory_mb;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AssetSpec, Layer};

    #[test]
    fn merged_step_sizes_round_up_to_a_valid_fargate_size() {
        // Two assets with no link between them: they share a step on one tier.
        let mut p = Project::new("p");
        p.assets.push(AssetSpec::new("a", Layer::Bronze));
        p.assets.push(AssetSpec::new("b", Layer::Bronze));
        let two = &[AssetKey::new("a"), AssetKey::new("b")];
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

    /// AWS Batch refuses an array job of more than 10,000 children: a longer backfill is
    /// planned as several array jobs; EKS takes 100,000 in one; a tier without arrays runs a
    /// step per partition.
    #[test]
    fn a_backfill_longer_than_an_array_job_takes_is_split_into_array_jobs() {
        let mut p = Project::new("p");
        let mut a = AssetSpec::new("a", Layer::Bronze);
        a.partitions = crate::model::PartitionsDefinition::Daily {
            start: "1990-01-01".into(),
            end: None,
        };
        p.assets.push(a);
        let days: Vec<String> = (0..10_950).map(|d| format!("day{d}")).collect();
        let key = [AssetKey::new("a")];
        let on = |tier| {
            let choice = TierChoice {
                tier,
                reason: "test".to_owned(),
                vcpu: 1.0,
                memory_mb: 2048,
                spot: false,
                timeout_secs: None,
            };
            plan_steps(&p, &key, &days, &BTreeMap::from([(key[0].clone(), choice)]))
        };
        let batch = on(ComputeTier::Batch);
        let sizes: Vec<usize> = batch.iter().map(|s| s.partitions.len()).collect();
        assert_eq!(sizes, [10_000, 950]);
        let together: Vec<&String> = batch.iter().flat_map(|s| &s.partitions).collect();
        assert_eq!(
            together,
            days.iter().collect::<Vec<_>>(),
            "every day once, in order"
        );
        assert_eq!(on(ComputeTier::Eks).len(), 1);
        assert_eq!(on(ComputeTier::Fargate).len(), 10_950);
    }
}
