//! The compute planner: for each asset of a run, a workload estimate (input size, memory,
//! duration — from past runs when there are any, else from a throughput model) and the tier to
//! run it on, with a one-sentence reason and the estimated cost.
//!
//! Rules, in order:
//! 1. A tier chosen in the launch dialog (an override), else the asset's compute hint, is
//!    honoured — but a choice that breaks the tier's limits (Lambda over 10,240 MB or 900 s, a
//!    size over Fargate's largest, a duration over the hint's timeout) is reported as a
//!    `problem`, never silently changed. `local` only ever comes from a hint or an override.
//! 2. A partitioned asset run for several partitions fans out on EKS, one pod per partition.
//! 3. Work over Fargate's largest task (16 vCPU / 120 GB) goes to EKS nodes.
//! 4. Long-running work (over [`LONG_RUNNING_SECS`]) goes to Batch (on Fargate).
//! 5. Otherwise the cheaper of the tiers that fit: Lambda (with [`LAMBDA_HEADROOM`] on its 900 s
//!    and within 10,240 MB) or Fargate at its smallest valid size.
//!
//! The model's constants are below, each with where it comes from; README "Compute planner"
//! lists them too.

use std::collections::BTreeMap;

use serde::Serialize;

use super::cost::{
    self, CostError, FARGATE_MAX_MEMORY_MB, FARGATE_MAX_VCPU, LAMBDA_MAX_DURATION_SECS,
    LAMBDA_MAX_MEMORY_MB, LAMBDA_MIN_MEMORY_MB, RunShape, fargate_size, format_memory, format_usd,
    format_vcpu,
};
use crate::model::RunId;
use crate::model::{
    AssetDefinition, AssetGraph, AssetKey, ComputeTier, FileFormat, PriceTable, Project, SourceSpec,
};

/// Seconds every step spends besides reading its input: writing Parquet, checks, the profile.
/// The example's steps take 10–40 ms each locally at N = 1,000; a second covers a container's
/// slower disk.
pub const MODEL_FIXED_SECS: f64 = 1.0;
/// Bytes of CSV/JSON input one vCPU reads and transforms per second. The README's engine
/// benchmark reads ~540 MB of CSV at N = 1,000,000 in 6.1 s on 2 cores (~90 MB/s in all,
/// every asset persisted); 50 MB/s per step is that, rounded down.
pub const TEXT_BYTES_PER_SEC: f64 = 50e6;
/// Bytes of Parquet input per second per step: columnar and compressed, about 3× text.
pub const COLUMNAR_BYTES_PER_SEC: f64 = 150e6;
/// Peak memory per byte of CSV/JSON input (parsed columns, the SQL's intermediates).
pub const TEXT_MEMORY_EXPANSION: f64 = 3.0;
/// Peak memory per byte of Parquet input (decompressed, then worked on).
pub const COLUMNAR_MEMORY_EXPANSION: f64 = 8.0;
/// Memory every step needs before its data: the runner, polars' thread pool, buffers.
pub const BASE_MEMORY_MB: f64 = 512.0;
/// Stored Parquet size per byte of CSV/JSON source, for inputs not yet materialized (the
/// example's bronze tables store at ~0.3× their CSV).
pub const TEXT_TO_PARQUET: f64 = 0.35;
/// Memory (MB) per vCPU asked for when no hint names the vCPU: Fargate's middle ratio.
pub const MEMORY_MB_PER_VCPU: f64 = 4096.0;
/// Lambda is chosen automatically only when the estimate times this still fits in 900 s.
pub const LAMBDA_HEADROOM: f64 = 1.25;
/// Billed start-up of a Fargate task, an EKS pod on Fargate or a Batch job on Fargate (image
/// pull; `../shared/notes/pricing.md`: Fargate starts in 30–90 s).
pub const CONTAINER_STARTUP_SECS: f64 = 60.0;
/// Work longer than this goes to Batch, which queues and retries it.
pub const LONG_RUNNING_SECS: f64 = 3600.0;
/// Past runs an estimate reads, newest first.
pub const HISTORY_RUNS: usize = 5;

/// One past materialization of an asset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PastStep {
    pub run_id: RunId,
    /// `local`, or the tier it ran on remotely.
    pub target: String,
    pub duration_secs: f64,
    /// The input size it read, when known.
    pub input_bytes: Option<u64>,
}

/// What the workspace and the file system know about one asset (the app gathers it).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AssetFacts {
    /// For file sources: the size of the files (globs summed) now.
    pub source_bytes: Option<u64>,
    /// The newest materialization's rows and bytes.
    pub latest_rows: Option<u64>,
    pub latest_bytes: Option<u64>,
    /// Past materializations, newest first.
    pub history: Vec<PastStep>,
}

/// How an estimate was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// From past runs of the asset (scaled to the input size when both sizes are known).
    History,
    /// From the throughput model: no past run.
    Modelled,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::History => "history",
            Confidence::Modelled => "modelled",
        }
    }
}

/// Who chose the tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChosenBy {
    Planner,
    Hint,
    Override,
}

/// An asset's workload: how big, how long, how much memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadEstimate {
    pub input_bytes: Option<u64>,
    pub input_rows: Option<u64>,
    pub memory_mb: u32,
    pub duration_secs: f64,
    pub confidence: Confidence,
    pub history_runs: usize,
    /// How the duration was found, in a few words.
    pub basis: String,
}

/// Where and how one asset would run, and what it would cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetPlan {
    pub asset: AssetKey,
    pub tier: ComputeTier,
    pub reason: String,
    pub vcpu: f64,
    pub memory_mb: u32,
    pub est_duration_secs: f64,
    /// `None` when a price is missing or the choice breaks a limit.
    pub est_cost_usd: Option<f64>,
    pub prices_as_of: String,
    pub confidence: Confidence,
    pub history_runs: usize,
    pub basis: String,
    pub input_bytes: Option<u64>,
    pub input_rows: Option<u64>,
    /// Tasks or pods side by side (partitions fanned out).
    pub parallel: u32,
    pub spot: bool,
    pub node_type: Option<String>,
    pub chosen_by: ChosenBy,
    /// The price the estimate lacks, by id.
    pub missing_price: Option<String>,
    /// Why the chosen tier cannot run this asset as asked (a hint that breaks a limit).
    pub problem: Option<String>,
}

/// The planner's inputs besides the project.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Tiers chosen by the user for this run (the launch dialog), by asset.
    pub overrides: BTreeMap<AssetKey, ComputeTier>,
    /// Partitions the run covers (1 for an unpartitioned or single-partition run).
    pub partitions: usize,
}

/// Plans `selection` (in that order). `facts` may cover more assets than the selection: an
/// unselected upstream's size still feeds its downstream's estimate.
pub fn plan(
    project: &Project,
    selection: &[AssetKey],
    facts: &BTreeMap<AssetKey, AssetFacts>,
    prices: &PriceTable,
    options: &PlanOptions,
) -> Vec<AssetPlan> {
    let sizes = Sizes::new(project, facts);
    selection
        .iter()
        .filter_map(|key| {
            let estimate = sizes.estimate(key);
            project
                .asset(key)
                .map(|asset| choose(asset, &estimate, prices, options))
        })
        .collect()
}

/// The total estimated cost of a plan, and whether every asset has a price.
pub fn total_cost(plans: &[AssetPlan]) -> (f64, bool) {
    let total = plans.iter().filter_map(|p| p.est_cost_usd).sum();
    let complete = plans
        .iter()
        .all(|p| p.est_cost_usd.is_some() || p.tier == ComputeTier::Local);
    (total, complete)
}

/// Input and output sizes through the graph.
struct Sizes<'a> {
    project: &'a Project,
    graph: AssetGraph,
    facts: &'a BTreeMap<AssetKey, AssetFacts>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum InputKind {
    Text,
    Columnar,
}

impl<'a> Sizes<'a> {
    fn new(project: &'a Project, facts: &'a BTreeMap<AssetKey, AssetFacts>) -> Self {
        Self {
            project,
            graph: AssetGraph::build(project),
            facts,
        }
    }

    fn facts(&self, key: &AssetKey) -> Option<&AssetFacts> {
        self.facts.get(key)
    }

    fn kind(&self, key: &AssetKey) -> InputKind {
        match self.project.asset(key).map(|a| &a.definition) {
            Some(AssetDefinition::Source(
                SourceSpec::File { format, .. } | SourceSpec::S3 { format, .. },
            )) if !matches!(format, FileFormat::Parquet) => InputKind::Text,
            Some(AssetDefinition::Source(
                SourceSpec::Postgres { .. } | SourceSpec::Http { .. },
            )) => InputKind::Text,
            _ => InputKind::Columnar,
        }
    }

    /// Bytes the asset reads: its files for a source, its upstreams' outputs for a transform.
    fn input_bytes(&self, key: &AssetKey, depth: usize) -> Option<u64> {
        if depth > self.project.assets.len() {
            return None;
        }
        let asset = self.project.asset(key)?;
        match &asset.definition {
            AssetDefinition::Source(_) => {
                let f = self.facts(key)?;
                f.source_bytes.or_else(|| {
                    // A source behind a resource: what it stored last time, as text-ish size.
                    f.latest_bytes
                        .map(|b| (b as f64 / TEXT_TO_PARQUET).round() as u64)
                })
            }
            AssetDefinition::Transform(_) => {
                let ups = self.graph.upstream(key);
                if ups.is_empty() {
                    return None;
                }
                let mut total = 0u64;
                for up in ups {
                    total = total.saturating_add(self.output_bytes(up, depth + 1)?);
                }
                Some(total)
            }
        }
    }

    /// Bytes the asset stores: its newest materialization, else an estimate from its input.
    fn output_bytes(&self, key: &AssetKey, depth: usize) -> Option<u64> {
        if let Some(b) = self.facts(key).and_then(|f| f.latest_bytes) {
            return Some(b);
        }
        let input = self.input_bytes(key, depth)?;
        Some(match self.kind(key) {
            InputKind::Text => (input as f64 * TEXT_TO_PARQUET).round() as u64,
            InputKind::Columnar => input,
        })
    }

    fn input_rows(&self, key: &AssetKey) -> Option<u64> {
        let asset = self.project.asset(key)?;
        match &asset.definition {
            AssetDefinition::Source(_) => self.facts(key)?.latest_rows,
            AssetDefinition::Transform(_) => {
                let ups = self.graph.upstream(key);
                if ups.is_empty() {
                    return None;
                }
                ups.iter()
                    .map(|u| self.facts(u).and_then(|f| f.latest_rows))
                    .sum()
            }
        }
    }

    fn estimate(&self, key: &AssetKey) -> WorkloadEstimate {
        let input_bytes = self.input_bytes(key, 0);
        let kind = self.kind(key);
        let (throughput, expansion) = match kind {
            InputKind::Text => (TEXT_BYTES_PER_SEC, TEXT_MEMORY_EXPANSION),
            InputKind::Columnar => (COLUMNAR_BYTES_PER_SEC, COLUMNAR_MEMORY_EXPANSION),
        };
        let bytes = input_bytes.unwrap_or(0) as f64;
        let memory_mb = BASE_MEMORY_MB + bytes * expansion / 1_048_576.0;
        let memory_mb = ((memory_mb / 64.0).ceil() * 64.0) as u32;
        let history = self.facts(key).map_or(&[][..], |f| f.history.as_slice());
        let (duration_secs, confidence, history_runs, basis) =
            match duration_from_history(history, input_bytes) {
                Some((secs, runs, scaled)) => (
                    secs,
                    Confidence::History,
                    runs,
                    if scaled {
                        format!("median of {runs} past run(s), scaled to the input size")
                    } else {
                        format!("median of {runs} past run(s)")
                    },
                ),
                None => (
                    MODEL_FIXED_SECS + bytes / throughput,
                    Confidence::Modelled,
                    0,
                    match input_bytes {
                        Some(b) => format!(
                            "modelled: {} of {} input at {} MB/s",
                            format_bytes(b),
                            if kind == InputKind::Text {
                                "text"
                            } else {
                                "Parquet"
                            },
                            throughput / 1e6
                        ),
                        None => "modelled: input size unknown".to_owned(),
                    },
                ),
            };
        WorkloadEstimate {
            input_bytes,
            input_rows: self.input_rows(key),
            memory_mb,
            duration_secs,
            confidence,
            history_runs,
            basis,
        }
    }
}

/// The median of the newest past durations, each scaled by how the input grew or shrank since
/// (when both sizes are known); with the number of runs read and whether any was scaled.
pub fn duration_from_history(
    history: &[PastStep],
    input_bytes_now: Option<u64>,
) -> Option<(f64, usize, bool)> {
    let mut scaled_any = false;
    let mut durations: Vec<f64> = history
        .iter()
        .take(HISTORY_RUNS)
        .map(|p| match (p.input_bytes, input_bytes_now) {
            (Some(past), Some(now)) if past > 0 && past != now => {
                scaled_any = true;
                p.duration_secs * now as f64 / past as f64
            }
            _ => p.duration_secs,
        })
        .collect();
    if durations.is_empty() {
        return None;
    }
    durations.sort_by(f64::total_cmp);
    let n = durations.len();
    let median = if n % 2 == 1 {
        durations[n / 2]
    } else {
        f64::midpoint(durations[n / 2 - 1], durations[n / 2])
    };
    Some((median, n, scaled_any))
}

pub fn format_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 * 1024.0 {
        format!("{:.0} KB", (b / 1024.0).ceil())
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MB", b / 1_048_576.0)
    } else {
        format!("{:.1} GB", b / 1_073_741_824.0)
    }
}

pub fn format_duration(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.0} ms", (secs * 1000.0).max(1.0))
    } else if secs < 120.0 {
        format!("{secs:.0} s")
    } else if secs < 7200.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

/// A candidate tier with its shape and cost.
struct Priced {
    shape: RunShape,
    cost: Result<cost::CostBreakdown, CostError>,
}

fn price(shape: RunShape, prices: &PriceTable) -> Priced {
    let mut billed = shape.clone();
    if matches!(
        shape.tier,
        ComputeTier::Fargate | ComputeTier::Batch | ComputeTier::Eks
    ) {
        billed.duration_secs += CONTAINER_STARTUP_SECS;
    }
    Priced {
        cost: cost::run_cost(&billed, prices),
        shape,
    }
}

fn choose(
    asset: &crate::model::AssetSpec,
    estimate: &WorkloadEstimate,
    table: &PriceTable,
    options: &PlanOptions,
) -> AssetPlan {
    let hints = &asset.compute;
    let need_mb = hints.memory_mb.unwrap_or(estimate.memory_mb).max(1);
    let need_vcpu = hints
        .vcpu
        .unwrap_or_else(|| (f64::from(need_mb) / MEMORY_MB_PER_VCPU).clamp(0.25, FARGATE_MAX_VCPU));
    let spot = hints.spot.unwrap_or(false);
    let parallel = if asset.partitions.is_partitioned() {
        u32::try_from(options.partitions.max(1)).unwrap_or(u32::MAX)
    } else {
        1
    };
    let dur = estimate.duration_secs;
    let shape = |tier: ComputeTier, vcpu: f64, memory_mb: u32| RunShape {
        tier,
        vcpu,
        memory_mb,
        duration_secs: dur,
        spot: spot && tier != ComputeTier::Lambda,
        node_type: if matches!(tier, ComputeTier::Eks | ComputeTier::Batch) {
            hints.node_type.clone()
        } else {
            None
        },
        parallel,
    };
    let size = format!("~{} for ~{}", format_memory(need_mb), format_duration(dur));

    let (explicit, chosen_by) = match options.overrides.get(&asset.key) {
        Some(t) if *t != ComputeTier::Auto => (Some(*t), ChosenBy::Override),
        _ if hints.tier != ComputeTier::Auto => (Some(hints.tier), ChosenBy::Hint),
        _ => (None, ChosenBy::Planner),
    };

    let need = Need {
        vcpu: need_vcpu,
        memory_mb: need_mb,
        duration_secs: dur,
        parallel,
    };
    let (pick, reason, problem) = if let Some(tier) = explicit {
        explicit_choice(tier, chosen_by, hints, &need, table, &shape)
    } else {
        auto_choice(hints, &need, &size, table, &shape)
    };

    asset_plan(
        asset,
        estimate,
        Choice {
            pick,
            reason,
            problem,
            chosen_by,
        },
        parallel,
        table,
    )
}

/// The planner's own choice: EKS to fan partitions out or for work over Fargate's largest
/// task, Batch for long-running work, else the cheaper of Lambda and Fargate.
fn auto_choice(
    hints: &crate::model::ComputeHints,
    need: &Need,
    size: &str,
    table: &PriceTable,
    shape: &dyn Fn(ComputeTier, f64, u32) -> RunShape,
) -> (Priced, String, Option<String>) {
    let (need_vcpu, need_mb, dur, parallel) =
        (need.vcpu, need.memory_mb, need.duration_secs, need.parallel);
    if parallel > 1 {
        let pick = price(shape(ComputeTier::Eks, need_vcpu, need_mb), table);
        (
            pick,
            format!(
                "EKS: {parallel} partitions fan out as one pod each ({} / {} for ~{} per pod).",
                format_vcpu(need_vcpu),
                format_memory(need_mb),
                format_duration(dur)
            ),
            None,
        )
    } else if need_mb > FARGATE_MAX_MEMORY_MB || need_vcpu > FARGATE_MAX_VCPU {
        let pick = price(shape(ComputeTier::Eks, need_vcpu, need_mb), table);
        let problem = hints.node_type.is_none().then(|| {
            "this needs EKS nodes larger than a Fargate pod: set a node_type hint".to_owned()
        });
        (
            pick,
            format!(
                "EKS: needs {}, over Fargate's largest task ({} / {}).",
                size,
                format_vcpu(FARGATE_MAX_VCPU),
                format_memory(FARGATE_MAX_MEMORY_MB)
            ),
            problem,
        )
    } else if dur > LONG_RUNNING_SECS {
        let pick = price(shape(ComputeTier::Batch, need_vcpu, need_mb), table);
        let on = if hints.node_type.is_some() {
            "EC2"
        } else {
            "Fargate"
        };
        (
            pick,
            format!(
                "Batch: ~{} is long-running work, far over Lambda's {} s; Batch queues and retries it on {on}.",
                format_duration(dur),
                LAMBDA_MAX_DURATION_SECS
            ),
            None,
        )
    } else {
        auto_small(need_vcpu, need_mb, dur, size, table, shape)
    }
}

/// What an asset needs of its tier: its size, estimated duration and fan-out.
struct Need {
    vcpu: f64,
    memory_mb: u32,
    duration_secs: f64,
    parallel: u32,
}

/// The tier picked for an asset, why, what is wrong with it, and who chose it.
struct Choice {
    pick: Priced,
    reason: String,
    problem: Option<String>,
    chosen_by: ChosenBy,
}

/// The tier an override or a hint names: priced at the asset's size, with the problem when it
/// cannot run the asset (over the tier's limits, or over the hint's timeout).
fn explicit_choice(
    tier: ComputeTier,
    chosen_by: ChosenBy,
    hints: &crate::model::ComputeHints,
    need: &Need,
    table: &PriceTable,
    shape: &dyn Fn(ComputeTier, f64, u32) -> RunShape,
) -> (Priced, String, Option<String>) {
    let (need_vcpu, need_mb, dur) = (need.vcpu, need.memory_mb, need.duration_secs);
    let who = match chosen_by {
        ChosenBy::Override => "chosen in the launch dialog",
        _ => "the asset's compute hint asks for it",
    };
    // Batch on EC2 nodes is not bound by Fargate's sizes.
    let on_ec2 = tier == ComputeTier::Batch && hints.node_type.is_some();
    let mut problem = if on_ec2 {
        None
    } else {
        limit_problem(tier, need_vcpu, need_mb, dur)
    };
    if problem.is_none()
        && let Some(timeout) = hints.timeout_secs
        && dur > f64::from(timeout)
        && chosen_by == ChosenBy::Hint
    {
        problem = Some(format!(
            "the estimate ~{} is over the hint's timeout of {timeout} s",
            format_duration(dur)
        ));
    }
    let pick = price(shape(tier, need_vcpu, need_mb), table);
    let detail = match tier {
        ComputeTier::Lambda => {
            format!("{} for ~{}", format_memory(need_mb), format_duration(dur))
        }
        ComputeTier::Local => "runs on this machine".to_owned(),
        _ => sized(&pick, need.parallel),
    };
    (
        pick,
        format!("{}: {who} ({detail}).", tier_name(tier)),
        problem,
    )
}

/// The plan row of a choice: its cost (or the missing price) and the size billed.
fn asset_plan(
    asset: &crate::model::AssetSpec,
    estimate: &WorkloadEstimate,
    choice: Choice,
    parallel: u32,
    table: &PriceTable,
) -> AssetPlan {
    let Choice {
        pick,
        reason,
        problem,
        chosen_by,
    } = choice;
    let dur = estimate.duration_secs;
    let (est_cost_usd, missing_price, as_of, problem) = match &pick.cost {
        Ok(c) => (Some(c.cost_usd), None, c.prices_as_of.clone(), problem),
        Err(CostError::MissingPrice(m)) => (None, Some(m.id.clone()), table_as_of(table), problem),
        Err(CostError::Invalid(m)) => (
            None,
            None,
            table_as_of(table),
            problem.or_else(|| Some(m.to_string())),
        ),
    };
    // The size billed: Fargate rounds up to a valid size, Lambda's vCPU follows its memory.
    let (vcpu, memory_mb) = match (&pick.cost, pick.shape.tier) {
        (Ok(c), t) if t != ComputeTier::Local => (c.billed_vcpu, c.billed_memory_mb),
        _ => (pick.shape.vcpu, pick.shape.memory_mb),
    };
    AssetPlan {
        asset: asset.key.clone(),
        tier: pick.shape.tier,
        reason,
        vcpu,
        memory_mb,
        est_duration_secs: dur,
        est_cost_usd,
        prices_as_of: as_of,
        confidence: estimate.confidence,
        history_runs: estimate.history_runs,
        basis: estimate.basis.clone(),
        input_bytes: estimate.input_bytes,
        input_rows: estimate.input_rows,
        parallel,
        spot: pick.shape.spot,
        node_type: pick.shape.node_type.clone(),
        chosen_by,
        missing_price,
        problem,
    }
}

fn table_as_of(prices: &PriceTable) -> String {
    prices.as_of().unwrap_or_default().to_owned()
}

/// Lambda or Fargate, whichever fits and costs less.
fn auto_small(
    need_vcpu: f64,
    need_mb: u32,
    dur: f64,
    size: &str,
    prices: &PriceTable,
    shape: &dyn Fn(ComputeTier, f64, u32) -> RunShape,
) -> (Priced, String, Option<String>) {
    let fargate = price(shape(ComputeTier::Fargate, need_vcpu, need_mb), prices);
    let lambda_mb = need_mb.max(LAMBDA_MIN_MEMORY_MB);
    let lambda_blocker = if need_mb > LAMBDA_MAX_MEMORY_MB {
        Some(format!(
            "needs ~{}, over Lambda's {} MB",
            format_memory(need_mb),
            group_thousands(LAMBDA_MAX_MEMORY_MB)
        ))
    } else if dur * LAMBDA_HEADROOM > LAMBDA_MAX_DURATION_SECS {
        Some(format!(
            "~{} is too close to or over Lambda's 15-minute limit",
            format_duration(dur)
        ))
    } else {
        None
    };
    if let Some(blocker) = lambda_blocker {
        let reason = format!(
            "Fargate: {blocker}; {} is the smallest Fargate size that fits.",
            sized(&fargate, 1)
        );
        return (fargate, reason, None);
    }
    let lambda = price(shape(ComputeTier::Lambda, need_vcpu, lambda_mb), prices);
    let usd = |p: &Priced| p.cost.as_ref().ok().map(|c| c.cost_usd);
    match (usd(&lambda), usd(&fargate)) {
        (Some(l), Some(f)) if f < l => {
            let reason = format!(
                "Fargate: cheaper than Lambda for {size} ({} vs {} on Lambda) at {}.",
                format_usd(f),
                format_usd(l),
                sized(&fargate, 1)
            );
            (fargate, reason, None)
        }
        (Some(l), f) => {
            let vs = f.map_or_else(
                || "Fargate's price is missing".to_owned(),
                |f| format!("{} vs {} on Fargate", format_usd(l), format_usd(f)),
            );
            let reason = format!(
                "Lambda: {size} fits Lambda's {} MB and 900 s and costs least ({vs}).",
                group_thousands(LAMBDA_MAX_MEMORY_MB)
            );
            (lambda, reason, None)
        }
        (None, _) => {
            let reason = format!(
                "Lambda: {size} fits Lambda's limits; its price is missing, so the tiers could not be compared."
            );
            (lambda, reason, None)
        }
    }
}

/// A limit the tier cannot meet for this size and duration, in words.
fn limit_problem(tier: ComputeTier, vcpu: f64, memory_mb: u32, dur: f64) -> Option<String> {
    match tier {
        ComputeTier::Lambda if memory_mb > LAMBDA_MAX_MEMORY_MB => Some(format!(
            "Lambda cannot run this: it needs ~{}, over Lambda's {} MB limit",
            format_memory(memory_mb),
            group_thousands(LAMBDA_MAX_MEMORY_MB)
        )),
        ComputeTier::Lambda if dur > LAMBDA_MAX_DURATION_SECS => Some(format!(
            "Lambda cannot run this: ~{} is over Lambda's 900 s limit",
            format_duration(dur)
        )),
        ComputeTier::Fargate | ComputeTier::Batch if fargate_size(vcpu, memory_mb).is_none() => {
            Some(format!(
                "{} cannot run this: {} / {} is over Fargate's largest task ({} / {})",
                tier_name(tier),
                format_vcpu(vcpu),
                format_memory(memory_mb),
                format_vcpu(FARGATE_MAX_VCPU),
                format_memory(FARGATE_MAX_MEMORY_MB)
            ))
        }
        _ => None,
    }
}

/// The billed size of a priced container tier, for reasons.
fn sized(p: &Priced, parallel: u32) -> String {
    let (vcpu, mb) = match &p.cost {
        Ok(c) => (c.billed_vcpu, c.billed_memory_mb),
        Err(_) => (p.shape.vcpu, p.shape.memory_mb),
    };
    let each = if parallel > 1 {
        format!(" × {parallel}")
    } else {
        String::new()
    };
    let node = p
        .shape
        .node_type
        .as_ref()
        .map(|n| format!(" on {n}"))
        .unwrap_or_default();
    format!("{} / {}{each}{node}", format_vcpu(vcpu), format_memory(mb))
}

pub fn tier_name(tier: ComputeTier) -> &'static str {
    match tier {
        ComputeTier::Auto => "Auto",
        ComputeTier::Local => "Local",
        ComputeTier::Lambda => "Lambda",
        ComputeTier::Fargate => "Fargate",
        ComputeTier::Batch => "Batch",
        ComputeTier::Eks => "EKS",
    }
}

fn group_thousands(n: u32) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::cost::tests::prices;
    use crate::model::{AssetSpec, CsvOptions, Layer, PartitionsDefinition, TransformSpec};

    const MB: u64 = 1024 * 1024;

    /// A CSV source `src` and a transform `t` over it.
    fn project() -> Project {
        let mut p = Project::new("p");
        let mut src = AssetSpec::new("src", Layer::Bronze);
        src.definition = AssetDefinition::Source(SourceSpec::File {
            path: "data/x.csv".into(),
            format: FileFormat::Csv(CsvOptions::default()),
        });
        p.assets.push(src);
        let mut t = AssetSpec::new("t", Layer::Silver);
        t.definition = AssetDefinition::Transform(TransformSpec {
            sql: None,
            steps: vec![],
        });
        t.deps = vec![AssetKey::new("src")];
        p.assets.push(t);
        p
    }

    fn facts(source_bytes: u64) -> BTreeMap<AssetKey, AssetFacts> {
        [(
            AssetKey::new("src"),
            AssetFacts {
                source_bytes: Some(source_bytes),
                ..AssetFacts::default()
            },
        )]
        .into()
    }

    fn plan_one(p: &Project, key: &str, f: &BTreeMap<AssetKey, AssetFacts>) -> AssetPlan {
        plan_with(p, key, f, &PlanOptions::default())
    }

    fn plan_with(
        p: &Project,
        key: &str,
        f: &BTreeMap<AssetKey, AssetFacts>,
        o: &PlanOptions,
    ) -> AssetPlan {
        plan(p, &[AssetKey::new(key)], f, &prices(), o).remove(0)
    }

    fn asset_mut<'a>(p: &'a mut Project, key: &str) -> &'a mut AssetSpec {
        p.assets.iter_mut().find(|a| a.key.as_str() == key).unwrap()
    }

    #[test]
    fn a_small_asset_lands_on_lambda_with_its_reason_and_cost() {
        let p = project();
        let plan = plan_one(&p, "src", &facts(5 * MB));
        assert_eq!(plan.tier, ComputeTier::Lambda, "{plan:?}");
        assert_eq!(plan.chosen_by, ChosenBy::Planner);
        assert_eq!(plan.confidence, Confidence::Modelled);
        assert!(plan.reason.starts_with("Lambda: "), "{}", plan.reason);
        assert!(plan.reason.contains("costs least"), "{}", plan.reason);
        // 512 MB base + 3 × 5 MB, rounded up to 64 MB.
        assert_eq!(plan.memory_mb, 576);
        assert!((plan.est_duration_secs - (1.0 + 5.0 * MB as f64 / 50e6)).abs() < 1e-9);
        let cost = plan.est_cost_usd.unwrap();
        assert!(cost > 0.0 && cost < 0.001, "{cost}");
        assert_eq!(plan.prices_as_of, "2026-11-26");
        // The transform reads the source's estimated Parquet output.
        let t = plan_one(&p, "t", &facts(5 * MB));
        assert_eq!(
            t.input_bytes,
            Some((5.0 * MB as f64 * TEXT_TO_PARQUET).round() as u64)
        );
    }

    #[test]
    fn lambda_is_never_chosen_over_900_s_or_10240_mb() {
        let p = project();
        // Sizes from 1 MB to 40 GB of CSV: whenever Lambda is chosen, it fits.
        let mut saw = (false, false);
        for mb in [
            1, 10, 100, 1_000, 2_000, 3_000, 3_400, 5_000, 10_000, 40_000,
        ] {
            let plan = plan_one(&p, "src", &facts(mb * MB));
            if plan.tier == ComputeTier::Lambda {
                saw.0 = true;
                assert!(plan.memory_mb <= LAMBDA_MAX_MEMORY_MB, "{plan:?}");
                assert!(
                    plan.est_duration_secs <= LAMBDA_MAX_DURATION_SECS,
                    "{plan:?}"
                );
            } else {
                saw.1 = true;
            }
        }
        assert!(saw.0 && saw.1, "both sides of the limit were planned");
        // Memory: 4 GB of CSV needs ~12.5 GB, over Lambda's 10,240 MB, but runs in ~82 s.
        let plan = plan_one(&p, "src", &facts(4_000 * MB));
        assert_eq!(plan.tier, ComputeTier::Fargate);
        assert!(
            plan.reason.contains("over Lambda's 10,240 MB"),
            "{}",
            plan.reason
        );
        // Duration: a history of 850 s (× 1.25 headroom > 900 s) keeps it off Lambda even though
        // the memory is small.
        let mut f = facts(MB);
        f.get_mut(&AssetKey::new("src")).unwrap().history = vec![PastStep {
            run_id: "r".into(),
            target: "local".into(),
            duration_secs: 850.0,
            input_bytes: None,
        }];
        let plan = plan_one(&p, "src", &f);
        assert_eq!(plan.tier, ComputeTier::Fargate, "{plan:?}");
        assert!(plan.reason.contains("15-minute limit"), "{}", plan.reason);
    }

    #[test]
    fn fargate_gets_the_smallest_valid_size_that_fits() {
        let p = project();
        // ~6 GB needed: 1 vCPU / 6 GB would do; the auto vCPU is memory / 4 GB = 1.5 → 2 vCPU.
        let plan = plan_one(&p, "src", &facts(1_900 * MB));
        assert_eq!(plan.tier, ComputeTier::Fargate, "{plan:?}");
        assert_eq!(plan.memory_mb % 1024, 0, "a whole number of GB");
        assert!(fargate_size(plan.vcpu, plan.memory_mb) == Some((plan.vcpu, plan.memory_mb)));
        // A hint of 1 vCPU / 5,000 MB is billed as 1 vCPU / 5 GB.
        let mut p = project();
        let src = asset_mut(&mut p, "src");
        src.compute.tier = ComputeTier::Fargate;
        src.compute.vcpu = Some(1.0);
        src.compute.memory_mb = Some(5000);
        let plan = plan_one(&p, "src", &facts(MB));
        assert_eq!((plan.vcpu, plan.memory_mb), (1.0, 5120));
        assert!(plan.reason.contains("1 vCPU / 5 GB"), "{}", plan.reason);
    }

    #[test]
    fn partitions_fan_out_on_eks_one_pod_each() {
        let mut p = project();
        asset_mut(&mut p, "src").partitions = PartitionsDefinition::Static {
            keys: vec!["a".into(), "b".into(), "c".into()],
        };
        let options = PlanOptions {
            partitions: 3,
            ..PlanOptions::default()
        };
        let plan = plan_with(&p, "src", &facts(MB), &options);
        assert_eq!(plan.tier, ComputeTier::Eks);
        assert_eq!(plan.parallel, 3);
        assert!(
            plan.reason.contains("3 partitions fan out"),
            "{}",
            plan.reason
        );
        // Pods on Fargate (576 MB → 0.25 vCPU / 1 GB): 3 × the billed pod time (with the
        // start-up) + the cluster-hour share.
        let cost = plan.est_cost_usd.unwrap();
        let pod =
            (0.25 * 0.04048 + 1.0 * 0.004_445) * (plan.est_duration_secs + 60.0).ceil() / 3600.0;
        let share = 0.10 * (plan.est_duration_secs + 60.0) / 3600.0;
        assert!((cost - (3.0 * pod + share)).abs() < 1e-9, "{cost}");
        // One partition does not fan out; an unpartitioned asset never does.
        let one = plan_with(&p, "src", &facts(MB), &PlanOptions::default());
        assert_ne!(one.tier, ComputeTier::Eks);
        assert_eq!(plan_with(&p, "t", &facts(MB), &options).parallel, 1);
    }

    #[test]
    fn long_work_goes_to_batch_and_huge_work_to_eks() {
        let p = project();
        let mut f = facts(MB);
        f.get_mut(&AssetKey::new("src")).unwrap().history = vec![PastStep {
            run_id: "r".into(),
            target: "local".into(),
            duration_secs: 3.0 * 3600.0,
            input_bytes: None,
        }];
        let plan = plan_one(&p, "src", &f);
        assert_eq!(plan.tier, ComputeTier::Batch);
        assert!(plan.reason.contains("long-running"), "{}", plan.reason);
        assert!(plan.est_cost_usd.is_some());
        // 50 GB of CSV needs ~150 GB: over Fargate's largest; EKS nodes need a node type.
        let plan = plan_one(&p, "src", &facts(50_000 * MB));
        assert_eq!(plan.tier, ComputeTier::Eks);
        assert!(
            plan.reason.contains("over Fargate's largest"),
            "{}",
            plan.reason
        );
        assert!(plan.problem.as_deref().unwrap().contains("node_type"));
    }

    #[test]
    fn hints_are_honoured_and_refused_with_the_limit_they_break() {
        let mut p = project();
        let src = asset_mut(&mut p, "src");
        src.compute.tier = ComputeTier::Lambda;
        src.compute.memory_mb = Some(20 * 1024);
        let plan = plan_one(&p, "src", &facts(MB));
        assert_eq!(plan.tier, ComputeTier::Lambda, "never silently changed");
        assert_eq!(plan.chosen_by, ChosenBy::Hint);
        assert!(
            plan.problem
                .as_deref()
                .unwrap()
                .contains("over Lambda's 10,240 MB"),
            "{plan:?}"
        );
        assert_eq!(plan.est_cost_usd, None);
        // A fitting hint is honoured with its reason.
        asset_mut(&mut p, "src").compute.memory_mb = Some(1024);
        let plan = plan_one(&p, "src", &facts(MB));
        assert_eq!(plan.problem, None);
        assert!(
            plan.reason.contains("compute hint asks for it"),
            "{}",
            plan.reason
        );
        assert_eq!(plan.memory_mb, 1024);
        // A timeout shorter than the estimate is reported.
        asset_mut(&mut p, "src").compute.timeout_secs = Some(1);
        let plan = plan_one(&p, "src", &facts(100 * MB));
        assert!(
            plan.problem.as_deref().unwrap().contains("timeout"),
            "{plan:?}"
        );
        // A Fargate or Batch hint over Fargate's largest task is refused; on EC2 nodes it is not.
        let mut big = project();
        let src = asset_mut(&mut big, "src");
        src.compute.tier = ComputeTier::Batch;
        src.compute.vcpu = Some(32.0);
        let plan = plan_one(&big, "src", &facts(MB));
        assert!(
            plan.problem
                .as_deref()
                .unwrap()
                .contains("over Fargate's largest task"),
            "{plan:?}"
        );
        asset_mut(&mut big, "src").compute.node_type = Some("c6i.8xlarge".into());
        let plan = plan_one(&big, "src", &facts(MB));
        assert_eq!(plan.problem, None);
        assert_eq!(plan.missing_price.as_deref(), Some("ec2.c6i.8xlarge.hour"));
        // Local only from a hint or an override; never chosen by the planner.
        let auto = project();
        for mb in [1, 100, 10_000] {
            assert_ne!(
                plan_one(&auto, "src", &facts(mb * MB)).tier,
                ComputeTier::Local
            );
        }
        let options = PlanOptions {
            overrides: [(AssetKey::new("src"), ComputeTier::Local)].into(),
            partitions: 1,
        };
        let plan = plan_with(&auto, "src", &facts(MB), &options);
        assert_eq!(
            (plan.tier, plan.chosen_by),
            (ComputeTier::Local, ChosenBy::Override)
        );
        assert_eq!(plan.est_cost_usd, Some(0.0));
        // An override beats the hint, and a missing node price is reported, not invented.
        let options = PlanOptions {
            overrides: [(AssetKey::new("src"), ComputeTier::Eks)].into(),
            partitions: 1,
        };
        asset_mut(&mut p, "src").compute.node_type = Some("m6i.large".into());
        let plan = plan_with(&p, "src", &facts(MB), &options);
        assert_eq!(plan.tier, ComputeTier::Eks);
        assert_eq!(plan.missing_price.as_deref(), Some("ec2.m6i.large.hour"));
        assert_eq!(plan.est_cost_usd, None);
    }

    #[test]
    fn history_replaces_the_model_and_scales_with_the_input() {
        let p = project();
        let mut f = facts(20 * MB);
        let modelled = plan_one(&p, "src", &f);
        assert_eq!(modelled.confidence, Confidence::Modelled);
        f.get_mut(&AssetKey::new("src")).unwrap().history = vec![
            PastStep {
                run_id: "r3".into(),
                target: "local".into(),
                duration_secs: 4.0,
                input_bytes: Some(10 * MB),
            },
            PastStep {
                run_id: "r2".into(),
                target: "local".into(),
                duration_secs: 2.0,
                input_bytes: Some(10 * MB),
            },
            PastStep {
                run_id: "r1".into(),
                target: "lambda".into(),
                duration_secs: 3.0,
                input_bytes: None,
            },
        ];
        let plan = plan_one(&p, "src", &f);
        assert_eq!(plan.confidence, Confidence::History);
        assert_eq!(plan.history_runs, 3);
        // 4 s and 2 s at 10 MB become 8 s and 4 s at 20 MB; the unsized 3 s stays: median 4 s.
        assert!((plan.est_duration_secs - 4.0).abs() < 1e-9, "{plan:?}");
        assert!(plan.basis.contains("scaled"), "{}", plan.basis);
        assert_eq!(duration_from_history(&[], Some(1)), None);
    }
}
