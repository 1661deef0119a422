//! The compute plan of a run and its costs: gathers what the workspace and the file system know
//! about each asset (source file sizes, stored materializations, past step durations), loads
//! the price table (shipped, with the user's overrides), and asks `compute::planner`.
//!
//! Remote runs record costs here: [`record_estimates`] before a run starts, and
//! [`record_actual_cost`] when each step has finished (measured duration × the same rates).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{AppError, Refusal};
use crate::compute::cost::{self, CostError};
pub use crate::compute::cost::{
    CostBreakdown, CostLine, RunShape, format_memory, format_usd, format_vcpu,
};
use crate::compute::planner::{self, AssetFacts, PastStep, PlanOptions};
pub use crate::compute::planner::{
    AssetPlan, ChosenBy, Confidence, format_bytes, format_duration, tier_name,
};
use crate::engine::source;
use crate::model::RunId;
use crate::model::pricing::is_addable_price_id;
use crate::model::{
    AssetDefinition, AssetKey, ComputeTier, PriceOverride, PriceTable, Project, RunEvent,
    SourceSpec, StepOutcome,
};
pub use crate::store::StepCost;
use crate::store::{StepCostRecord, StoredProject, Workspace};

/// The price table shipped with this build.
pub const SHIPPED_PRICES: &str = include_str!("../../assets/prices.toml");

/// Past runs read for durations, newest first.
const HISTORY_RUN_LIMIT: usize = 50;

/// A whole plan: every selected asset, the total and the price table's date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    pub project: String,
    pub assets: Vec<AssetPlan>,
    /// The sum of the assets' estimates that have one.
    pub total_usd: f64,
    /// False when some asset's price is missing or its tier breaks a limit.
    pub complete: bool,
    pub prices_as_of: String,
    pub prices_version: u32,
    pub region: String,
}

/// The shipped price table.
pub fn shipped_prices() -> Result<PriceTable, AppError> {
    Ok(crate::format::parse_prices(
        Path::new("assets/prices.toml"),
        SHIPPED_PRICES,
    )?)
}

/// The shipped table with the workspace's overrides.
pub fn load_prices(ws: &Workspace) -> Result<PriceTable, AppError> {
    Ok(shipped_prices()?.with_overrides(&ws.price_overrides()?))
}

/// Sets the user's figure for a price (a shipped row, or an EC2 node price `ec2.TYPE.hour`).
pub fn set_price(ws: &mut Workspace, id: &str, usd: f64) -> Result<PriceTable, AppError> {
    let shipped = shipped_prices()?;
    if shipped.get(id).is_none() && !is_addable_price_id(id) {
        return Err(Refusal::UnknownPrice { id: id.to_owned() }.into());
    }
    let o = PriceOverride {
        id: id.to_owned(),
        usd,
        edited_on: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        item: shipped.get(id).is_none().then(|| {
            match id
                .strip_prefix("ec2.")
                .and_then(|t| t.strip_suffix(".hour"))
            {
                Some(node) => format!("EC2 {node} on-demand"),
                None => "EC2 Spot discount off on-demand".to_owned(),
            }
        }),
    };
    let candidate = shipped.with_overrides(std::slice::from_ref(&o));
    if let Some(p) = candidate.problems().into_iter().find(|p| p.id == id) {
        return Err(Refusal::Price(p).into());
    }
    ws.set_price_override(&o)?;
    load_prices(ws)
}

/// Goes back to the shipped figure (or removes a price the user added).
pub fn reset_price(ws: &mut Workspace, id: &str) -> Result<PriceTable, AppError> {
    ws.clear_price_override(id)?;
    load_prices(ws)
}

/// Plans `selection` of a stored project for `partitions` partitions, with the user's tier
/// overrides.
pub fn compute_plan(
    ws: &Workspace,
    stored: &StoredProject,
    selection: &str,
    partitions: usize,
    overrides: &BTreeMap<AssetKey, ComputeTier>,
) -> Result<PlanReport, AppError> {
    let keys = super::run::resolve_selection(&stored.project, selection)?;
    plan_assets(ws, stored, &keys, partitions, overrides)
}

/// [`compute_plan`] of assets already resolved, in dependency order (`app::remote::plan_remote`
/// resolves its selection once).
pub fn plan_assets(
    ws: &Workspace,
    stored: &StoredProject,
    keys: &[AssetKey],
    partitions: usize,
    overrides: &BTreeMap<AssetKey, ComputeTier>,
) -> Result<PlanReport, AppError> {
    let prices = load_prices(ws)?;
    let facts = gather_facts(ws, stored)?;
    let options = PlanOptions {
        overrides: overrides.clone(),
        partitions: partitions.max(1),
    };
    let assets = planner::plan(&stored.project, keys, &facts, &prices, &options);
    let (total_usd, complete) = planner::total_cost(&assets);
    Ok(PlanReport {
        project: stored.project.name.clone(),
        total_usd,
        complete: complete && assets.iter().all(|a| a.problem.is_none()),
        prices_as_of: prices.as_of().unwrap_or_default().to_owned(),
        prices_version: prices.version,
        region: prices.region.clone(),
        assets,
    })
}

/// What the workspace and the files say about each asset of the project.
pub fn gather_facts(
    ws: &Workspace,
    stored: &StoredProject,
) -> Result<BTreeMap<AssetKey, AssetFacts>, AppError> {
    let project = &stored.project;
    let dir = stored
        .source_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let mut facts: BTreeMap<AssetKey, AssetFacts> = BTreeMap::new();
    let source_versions = size_file_sources(project, &dir, &mut facts);
    for m in ws.latest_materializations(&project.name)? {
        if let Some(f) = facts.get_mut(&m.asset) {
            f.latest_rows = Some(m.row_count);
            f.latest_bytes = Some(m.byte_count);
        }
    }
    // Past steps: durations from StepFinished, input sizes from the materializations' inputs.
    let mut bytes_by_version: HashMap<String, u64> = HashMap::new();
    for asset in &project.assets {
        for m in ws.asset_materializations(&project.name, &asset.key)? {
            bytes_by_version.insert(m.data_version.clone(), m.byte_count);
        }
    }
    for run in ws.list_runs(Some(&project.name), HISTORY_RUN_LIMIT)? {
        if !run.status.is_finished() {
            continue;
        }
        let events = ws.run_events(&run.id)?;
        let inputs = input_bytes(&events, &facts, &source_versions, &bytes_by_version);
        for e in &events {
            if let RunEvent::StepFinished {
                asset,
                outcome: StepOutcome::Materialized,
                duration_ms,
                ..
            } = e
                && let Some(f) = facts.get_mut(asset)
            {
                f.history.push(PastStep {
                    run_id: run.id.clone(),
                    target: run.target.clone(),
                    duration_secs: *duration_ms as f64 / 1000.0,
                    input_bytes: inputs.get(asset).copied().flatten(),
                });
            }
        }
    }
    Ok(facts)
}

/// Every asset gets its facts; file sources get their current size (partitioned paths: the
/// first partition that exists, if any). Returns the current version of each sized source.
fn size_file_sources(
    project: &Project,
    dir: &Path,
    facts: &mut BTreeMap<AssetKey, AssetFacts>,
) -> HashMap<AssetKey, String> {
    let mut source_versions: HashMap<AssetKey, String> = HashMap::new();
    for asset in &project.assets {
        let entry = facts.entry(asset.key.clone()).or_default();
        if let AssetDefinition::Source(SourceSpec::File { path, .. }) = &asset.definition {
            // Partitioned paths are sized for the first partition that exists, if any.
            let full = source::resolve_path(dir, path, None);
            if let Ok(files) = source::matching_files(&asset.key, &full) {
                entry.source_bytes = Some(
                    files
                        .iter()
                        .filter_map(|f| std::fs::metadata(f).ok())
                        .map(|m| m.len())
                        .sum(),
                );
                source_versions.insert(asset.key.clone(), source::file_version(&files));
            }
        }
    }
    source_versions
}

/// The bytes each asset a past run materialized read, when every input's size is known: a
/// source input counts when it is still the current version, another asset's by its version.
fn input_bytes(
    events: &[RunEvent],
    facts: &BTreeMap<AssetKey, AssetFacts>,
    source_versions: &HashMap<AssetKey, String>,
    bytes_by_version: &HashMap<String, u64>,
) -> HashMap<AssetKey, Option<u64>> {
    let mut inputs: HashMap<AssetKey, Option<u64>> = HashMap::new();
    for e in events {
        if let RunEvent::Materialization(m) = e {
            let mut total = Some(0u64);
            for (input, version) in &m.input_versions {
                let bytes = if input.starts_with("source:") {
                    (source_versions.get(&m.asset) == Some(version))
                        .then(|| facts.get(&m.asset).and_then(|f| f.source_bytes))
                        .flatten()
                } else {
                    bytes_by_version.get(version).copied()
                };
                total = total.zip(bytes).map(|(a, b)| a + b);
            }
            inputs.insert(
                m.asset.clone(),
                total.filter(|_| !m.input_versions.is_empty()),
            );
        }
    }
    inputs
}

/// The cost of one run of a given shape with the workspace's prices (the `cost` command).
pub fn run_cost(ws: &Workspace, shape: &RunShape) -> Result<CostBreakdown, AppError> {
    let prices = load_prices(ws)?;
    cost::run_cost(shape, &prices).map_err(|e| Refusal::Cost(e).into())
}

/// Records a plan's estimates against a run (one row per asset and partition).
pub fn record_estimates(
    ws: &mut Workspace,
    run_id: &RunId,
    partition: Option<&str>,
    plans: &[AssetPlan],
) -> Result<(), AppError> {
    for e in estimate_records(run_id, partition, plans) {
        ws.record_estimated_cost(&e)?;
    }
    Ok(())
}

/// The estimate records of a run's planned assets (what [`record_estimates`] stores).
pub fn estimate_records(
    run_id: &RunId,
    partition: Option<&str>,
    plans: &[AssetPlan],
) -> Vec<StepCostRecord> {
    plans
        .iter()
        .map(|p| StepCostRecord {
            run_id: run_id.to_owned(),
            asset: p.asset.clone(),
            partition: partition.map(str::to_owned),
            tier: p.tier,
            vcpu: p.vcpu,
            memory_mb: p.memory_mb,
            spot: p.spot,
            duration_secs: p.est_duration_secs,
            cost_usd: p.est_cost_usd,
            prices_as_of: Some(p.prices_as_of.clone()),
            missing_price: p.missing_price.clone(),
        })
        .collect()
}

/// Prices a finished run step — its measured duration on the shape it ran with — and stores it
/// beside the step's estimate. A missing price is stored as such (no cost) and returned in the
/// record. This is what remote runs call for every finished step.
pub fn record_actual_cost(
    ws: &mut Workspace,
    run_id: &RunId,
    asset: &AssetKey,
    partition: Option<&str>,
    shape: &RunShape,
) -> Result<StepCostRecord, AppError> {
    actual_cost(ws, run_id, asset, partition, shape, false)
}

/// [`record_actual_cost`] for a part of a run step (one partition of a backfill that runs as
/// a step of its own): added to what the step's other parts recorded.
pub fn add_actual_cost(
    ws: &mut Workspace,
    run_id: &RunId,
    asset: &AssetKey,
    partition: Option<&str>,
    shape: &RunShape,
) -> Result<StepCostRecord, AppError> {
    actual_cost(ws, run_id, asset, partition, shape, true)
}

fn actual_cost(
    ws: &mut Workspace,
    run_id: &RunId,
    asset: &AssetKey,
    partition: Option<&str>,
    shape: &RunShape,
    add: bool,
) -> Result<StepCostRecord, AppError> {
    let prices = load_prices(ws)?;
    let (cost_usd, as_of, missing) = match cost::run_cost(shape, &prices) {
        Ok(c) => (Some(c.cost_usd), Some(c.prices_as_of), None),
        Err(CostError::MissingPrice(m)) => (None, prices.as_of().map(str::to_owned), Some(m.id)),
        Err(e @ CostError::Invalid(_)) => return Err(Refusal::Cost(e).into()),
    };
    let record = StepCostRecord {
        run_id: run_id.to_owned(),
        asset: asset.clone(),
        partition: partition.map(str::to_owned),
        tier: shape.tier,
        vcpu: shape.vcpu,
        memory_mb: shape.memory_mb,
        spot: shape.spot,
        duration_secs: shape.duration_secs,
        cost_usd,
        prices_as_of: as_of,
        missing_price: missing,
    };
    if add {
        ws.add_actual_cost(&record)?;
    } else {
        ws.record_actual_cost(&record)?;
    }
    Ok(record)
}

/// Estimate and actual per step of one run.
pub fn run_costs(ws: &Workspace, run_id: &RunId) -> Result<Vec<StepCost>, AppError> {
    Ok(ws.run_costs(run_id)?)
}

/// Cost totals of one key (an asset, or a day).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostTotal {
    pub key: String,
    pub steps: usize,
    pub est_cost_usd: f64,
    pub actual_cost_usd: f64,
    /// Steps whose actual cost is unknown (missing price, or not run yet).
    pub unpriced_steps: usize,
}

/// A project's costs over time: every step, per asset, per day.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostHistory {
    pub steps: Vec<StepCost>,
    pub per_asset: Vec<CostTotal>,
    /// By the day the run was created (`YYYY-MM-DD`), oldest first.
    pub per_day: Vec<CostTotal>,
    pub total: CostTotal,
}

pub fn cost_history(ws: &Workspace, project: &str) -> Result<CostHistory, AppError> {
    let steps = ws.project_costs(project)?;
    let mut per_asset: BTreeMap<String, CostTotal> = BTreeMap::new();
    let mut per_day: BTreeMap<String, CostTotal> = BTreeMap::new();
    let mut total = CostTotal {
        key: project.to_owned(),
        ..CostTotal::default()
    };
    for s in &steps {
        let day = s.run_created_at.format("%Y-%m-%d").to_string();
        for t in [
            per_asset.entry(s.asset.to_string()).or_default(),
            per_day.entry(day.clone()).or_default(),
            &mut total,
        ] {
            t.steps += 1;
            t.est_cost_usd += s.est_cost_usd.unwrap_or(0.0);
            match s.actual_cost_usd {
                Some(a) => t.actual_cost_usd += a,
                None => t.unpriced_steps += 1,
            }
        }
    }
    let named = |m: BTreeMap<String, CostTotal>| {
        m.into_iter()
            .map(|(key, t)| CostTotal { key, ..t })
            .collect()
    };
    Ok(CostHistory {
        steps,
        per_asset: named(per_asset),
        per_day: named(per_day),
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::run::{MaterializeRequest, materialize};
    use crate::compute::planner::Confidence;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    fn example() -> (tempfile::TempDir, Workspace, StoredProject) {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("ws.sqlite")).unwrap();
        let example = super::super::example_project_dir().unwrap();
        super::super::import_project(&mut ws, &example, false, false).unwrap();
        let stored = ws.load_project("customer_analytics").unwrap();
        (dir, ws, stored)
    }

    #[test]
    fn the_shipped_table_prices_the_worked_examples() {
        let p = shipped_prices().unwrap();
        let fargate = cost::run_cost(
            &RunShape::new(ComputeTier::Fargate, 4.0, 16 * 1024, 1800.0),
            &p,
        )
        .unwrap();
        assert_eq!(format!("{:.3}", fargate.cost_usd), "0.117");
        let lambda =
            cost::run_cost(&RunShape::new(ComputeTier::Lambda, 1.0, 2048, 60.0), &p).unwrap();
        assert_eq!(format!("{:.4}", lambda.cost_usd), "0.0020");
        assert_eq!(p.as_of(), Some("2026-11-26"));
    }

    #[test]
    fn estimates_come_from_history_after_a_real_local_run() {
        let (_dir, mut ws, stored) = example();
        let before = compute_plan(&ws, &stored, "*", 1, &BTreeMap::new()).unwrap();
        assert_eq!(before.assets.len(), 6);
        assert!(
            before
                .assets
                .iter()
                .all(|a| a.confidence == Confidence::Modelled)
        );
        let raw = AssetKey::new("raw_orders");
        let modelled = before.assets.iter().find(|a| a.asset == raw).unwrap();
        assert!(modelled.input_bytes.unwrap() > 100_000, "the CSV's size");

        let summaries = materialize(
            &mut ws,
            &stored,
            &MaterializeRequest {
                selection: "*".into(),
                partitions: vec![],
                force: false,
                trigger: "test".into(),
                allow_failed_upstream: false,
                checks_only: false,
            },
            &mut |_, _| {},
            &Arc::new(AtomicBool::new(false)),
        )
        .unwrap();
        let measured_ms = summaries[0]
            .events
            .iter()
            .find_map(|e| match e {
                RunEvent::StepFinished {
                    asset, duration_ms, ..
                } if *asset == raw => Some(*duration_ms),
                _ => None,
            })
            .unwrap();

        let after = compute_plan(&ws, &stored, "*", 1, &BTreeMap::new()).unwrap();
        for a in &after.assets {
            assert_eq!(a.confidence, Confidence::History, "{a:?}");
            assert_eq!(a.history_runs, 1);
        }
        let planned = after.assets.iter().find(|a| a.asset == raw).unwrap();
        // The file is unchanged, so the one past duration is the estimate as measured.
        assert!(
            (planned.est_duration_secs - measured_ms as f64 / 1000.0).abs() < 1e-9,
            "{} vs {measured_ms} ms",
            planned.est_duration_secs
        );
        assert!(
            planned.input_rows.is_some(),
            "rows from the materialization"
        );
        // A transform's input is now its upstreams' stored Parquet.
        let gold = after
            .assets
            .iter()
            .find(|a| a.asset.as_str() == "daily_revenue")
            .unwrap();
        assert!(gold.input_bytes.is_some());
    }

    #[test]
    fn the_example_honours_its_hints_and_reports_missing_node_prices() {
        let (_dir, mut ws, mut stored) = example();
        let report = compute_plan(&ws, &stored, "*", 1, &BTreeMap::new()).unwrap();
        let by = |k: &str| {
            report
                .assets
                .iter()
                .find(|a| a.asset.as_str() == k)
                .unwrap()
        };
        assert_eq!(by("raw_orders").tier, ComputeTier::Lambda);
        assert_eq!(by("cleaned_customer_data").tier, ComputeTier::Fargate);
        let clv = by("customer_lifetime_value");
        assert_eq!(clv.tier, ComputeTier::Eks);
        // The example's m6i Spot nodes are priced from the shipped table: the plan is whole.
        assert_eq!(clv.missing_price, None);
        assert!(report.complete, "{report:?}");
        // A node type the table does not ship is missing, by name, until the user enters it.
        let clv_key = AssetKey::new("customer_lifetime_value");
        if let Some(a) = stored.project.assets.iter_mut().find(|a| a.key == clv_key) {
            a.compute.node_type = Some("x2iedn.xlarge".into());
        }
        let report = compute_plan(&ws, &stored, "*", 1, &BTreeMap::new()).unwrap();
        let clv = report.assets.iter().find(|a| a.asset == clv_key).unwrap();
        assert_eq!(clv.missing_price.as_deref(), Some("ec2.x2iedn.xlarge.hour"));
        assert!(!report.complete);
        set_price(&mut ws, "ec2.x2iedn.xlarge.hour", 0.834).unwrap();
        let e = set_price(&mut ws, "ec2.m6i.xlarge", 0.6).unwrap_err();
        assert!(e.to_string().contains("not a price in the table"), "{e}");
        assert!(set_price(&mut ws, "fargate.vcpu_hour", -1.0).is_err());
        assert!(set_price(&mut ws, "fargate.spot_discount", 1.2).is_err());
        let report = compute_plan(&ws, &stored, "*", 1, &BTreeMap::new()).unwrap();
        assert!(report.complete, "{report:?}");
        assert!(report.total_usd > 0.0);
        // An override to Fargate prices it.
        let overrides = [(
            AssetKey::new("customer_lifetime_value"),
            ComputeTier::Fargate,
        )]
        .into();
        let report = compute_plan(&ws, &stored, "*", 1, &overrides).unwrap();
        let clv = report
            .assets
            .iter()
            .find(|a| a.asset.as_str() == "customer_lifetime_value")
            .unwrap();
        assert_eq!(clv.tier, ComputeTier::Fargate);
        assert!(clv.est_cost_usd.is_some());
        assert!(clv.reason.contains("launch dialog"), "{}", clv.reason);
        // A user-edited rate changes the estimate and the table's date.
        let before = by("cleaned_customer_data").est_cost_usd.unwrap();
        let table = set_price(&mut ws, "fargate.vcpu_hour", 0.08).unwrap();
        let row = table.get("fargate.vcpu_hour").unwrap();
        assert!(row.user_edited.is_some());
        assert_eq!(row.shipped_usd, Some(0.04048));
        let report = compute_plan(&ws, &stored, "*", 1, &BTreeMap::new()).unwrap();
        let after = report
            .assets
            .iter()
            .find(|a| a.asset.as_str() == "cleaned_customer_data")
            .unwrap()
            .est_cost_usd
            .unwrap();
        assert!(after > before);
        reset_price(&mut ws, "fargate.vcpu_hour").unwrap();
        assert!(
            load_prices(&ws)
                .unwrap()
                .get("fargate.vcpu_hour")
                .unwrap()
                .user_edited
                .is_none()
        );
    }

    #[test]
    fn actual_costs_sit_beside_estimates_and_add_up_over_time() {
        let (_dir, mut ws, stored) = example();
        // A run record to hang the costs on (remote runs create theirs the same way).
        let run = crate::model::RunRecord {
            id: "run-1".into(),
            project: stored.project.name.clone(),
            selection: "*".into(),
            partition: None,
            target: "fargate".into(),
            status: crate::model::RunStatus::Success,
            trigger: "test".into(),
            created_at: "2026-11-20T10:00:00Z".parse().unwrap(),
            started_at: None,
            ended_at: None,
            error: None,
            allow_failed_upstream: false,
            checks_only: false,
            end_known: true,
        };
        ws.create_run(&run).unwrap();
        let report =
            compute_plan(&ws, &stored, "cleaned_customer_data", 1, &BTreeMap::new()).unwrap();
        record_estimates(&mut ws, &"run-1".into(), None, &report.assets).unwrap();
        let key = AssetKey::new("cleaned_customer_data");
        let shape = RunShape::new(ComputeTier::Fargate, 4.0, 16 * 1024, 1800.0);
        let actual = record_actual_cost(&mut ws, &"run-1".into(), &key, None, &shape).unwrap();
        assert_eq!(format!("{:.3}", actual.cost_usd.unwrap()), "0.117");
        let mut eks = RunShape::new(ComputeTier::Eks, 2.0, 8192, 600.0);
        eks.node_type = Some("x2iedn.xlarge".into());
        let missing = record_actual_cost(
            &mut ws,
            &"run-1".into(),
            &AssetKey::new("daily_revenue"),
            None,
            &eks,
        )
        .unwrap();
        assert_eq!(missing.cost_usd, None);
        assert_eq!(
            missing.missing_price.as_deref(),
            Some("ec2.x2iedn.xlarge.hour")
        );

        let costs = run_costs(&ws, &"run-1".into()).unwrap();
        let step = costs.iter().find(|c| c.asset == key).unwrap();
        assert_eq!(step.est_cost_usd, report.assets[0].est_cost_usd);
        assert_eq!(step.actual_duration_secs, Some(1800.0));
        let history = cost_history(&ws, &stored.project.name).unwrap();
        assert_eq!(history.per_day.len(), 1);
        assert_eq!(history.per_day[0].key, "2026-11-20");
        assert_eq!(history.per_asset.len(), 2);
        assert_eq!(history.total.steps, 2);
        assert_eq!(history.total.unpriced_steps, 1);
        assert!((history.total.actual_cost_usd - actual.cost_usd.unwrap()).abs() < 1e-12);
    }
}
