//! `plan` and `cost`: where each asset would run, why, and for how much — before anything runs.

use std::collections::BTreeMap;
use std::path::Path;

use clap::ValueEnum;

use super::target::resolve_target;
use super::{EXIT_BAD_INPUT, EXIT_OK, OutputFormat, print_json};
use crate::app;
use crate::app::plan::{
    RunShape, format_duration, format_memory, format_usd, format_vcpu, tier_name,
};
use crate::model::{ComputeTier, RunId};

/// The tiers `cost` prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CostTier {
    Lambda,
    Fargate,
    Batch,
    Eks,
}

impl From<CostTier> for ComputeTier {
    fn from(t: CostTier) -> Self {
        match t {
            CostTier::Lambda => ComputeTier::Lambda,
            CostTier::Fargate => ComputeTier::Fargate,
            CostTier::Batch => ComputeTier::Batch,
            CostTier::Eks => ComputeTier::Eks,
        }
    }
}

/// `medallion plan`, as given on the command line.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
    pub project: String,
    /// Which assets (key, +key, key+, *, layer:NAME, group:NAME, comma for union)
    #[arg(long, default_value = "*")]
    pub select: String,
    /// Plan a backfill of partitions FROM..TO (partitioned assets fan out, one pod each)
    #[arg(long, value_name = "FROM..TO")]
    pub partition_range: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

pub fn plan(workspace: &Path, args: &PlanArgs) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    let stored = match resolve_target(&mut ws, &args.project)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let keys = match app::run::resolve_selection(&stored.project, &args.select) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    let partitions = match args.partition_range.as_deref() {
        None => 1,
        Some(range) => match partition_count(&stored.project, &keys, range) {
            Ok(n) => n,
            Err(message) => {
                eprintln!("error: {message}");
                return Ok(EXIT_BAD_INPUT);
            }
        },
    };
    let report =
        match app::plan::compute_plan(&ws, &stored, &args.select, partitions, &BTreeMap::new()) {
            Ok(r) => r,
            Err(e) if e.is_usage() => {
                eprintln!("error: {e}");
                return Ok(EXIT_BAD_INPUT);
            }
            Err(e) => return Err(e.into()),
        };
    match args.format {
        OutputFormat::Json => print_json(&report.assets)?,
        OutputFormat::Text => print_plan_text(&report),
    }
    let problems: Vec<_> = report
        .assets
        .iter()
        .filter_map(|a| a.problem.as_ref().map(|p| (a, p)))
        .collect();
    for (a, p) in &problems {
        eprintln!("error: {} on {}: {p}", a.asset, tier_name(a.tier));
    }
    Ok(if problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_BAD_INPUT
    })
}

/// How many partitions `FROM..TO` spans for the selected assets; the sentence to print when
/// the range is malformed or not one the assets know.
fn partition_count(
    project: &crate::model::Project,
    keys: &[crate::model::AssetKey],
    range: &str,
) -> anyhow::Result<usize> {
    let Some((from, to)) = range.split_once("..") else {
        anyhow::bail!("--partition-range takes FROM..TO, not `{range}`");
    };
    Ok(app::run::partition_range(project, keys, from, to)?.len())
}

/// The plan as text: one line per asset with its reason and problem, then the total.
fn print_plan_text(report: &app::plan::PlanReport) {
    println!(
        "{}: {} asset(s); prices as of {} ({}, table v{})",
        report.project,
        report.assets.len(),
        report.prices_as_of,
        report.region,
        report.prices_version
    );
    for a in &report.assets {
        let cost = match (a.est_cost_usd, &a.missing_price) {
            (Some(c), _) => format_usd(c),
            (None, Some(id)) => format!("missing price {id}"),
            (None, None) => "no estimate".to_owned(),
        };
        println!(
            "{:<28} {:<8} {:>9} {:>7}  ~{:<7} {:<24} {} ({})",
            a.asset.as_str(),
            a.tier.as_str(),
            format_vcpu(a.vcpu),
            format_memory(a.memory_mb),
            format_duration(a.est_duration_secs),
            cost,
            a.confidence.as_str(),
            a.basis
        );
        println!("    {}", a.reason);
        if let Some(p) = &a.problem {
            println!("    problem: {p}");
        }
    }
    let missing = report
        .assets
        .iter()
        .filter(|a| a.missing_price.is_some())
        .count();
    println!(
        "total {}{}",
        format_usd(report.total_usd),
        if missing > 0 {
            format!(
                " (without {missing} asset(s) whose price is missing: enter them in the studio's Prices window)"
            )
        } else {
            String::new()
        }
    );
}

/// `medallion cost`, as given on the command line.
#[derive(Debug, clap::Args)]
pub struct CostArgs {
    #[arg(long, value_enum)]
    pub tier: CostTier,
    /// vCPUs (Lambda sizes vCPU by memory, so it may be left out there)
    #[arg(long)]
    pub vcpu: Option<f64>,
    #[arg(long)]
    pub memory_mb: u32,
    #[arg(long)]
    pub duration_secs: f64,
    /// Spot capacity (Fargate Spot, or EC2 Spot nodes with --node-type)
    #[arg(long)]
    pub spot: bool,
    /// EC2 instance type of EKS or Batch nodes (else they run on Fargate)
    #[arg(long)]
    pub node_type: Option<String>,
    /// Tasks or pods side by side (one per partition)
    #[arg(long, default_value_t = 1)]
    pub parallel: u32,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

pub fn cost(workspace: &Path, args: &CostArgs) -> anyhow::Result<u8> {
    let tier = ComputeTier::from(args.tier);
    let vcpu = match (args.vcpu, tier) {
        (Some(v), _) => v,
        // Lambda sizes vCPU by memory.
        (None, ComputeTier::Lambda) => f64::from(args.memory_mb) / 1769.0,
        (None, _) => {
            eprintln!("error: --vcpu is required for {}", tier_name(tier));
            return Ok(EXIT_BAD_INPUT);
        }
    };
    let shape = RunShape {
        tier,
        vcpu,
        memory_mb: args.memory_mb,
        duration_secs: args.duration_secs,
        spot: args.spot,
        node_type: args.node_type.clone(),
        parallel: args.parallel,
    };
    let ws = app::open_workspace(workspace)?;
    let breakdown = match app::plan::run_cost(&ws, &shape) {
        Ok(b) => b,
        Err(e) if e.is_usage() => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
        Err(e) => return Err(e.into()),
    };
    match args.format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "tier": tier,
            "vcpu": vcpu,
            "memory_mb": args.memory_mb,
            "duration_secs": args.duration_secs,
            "spot": args.spot,
            "node_type": args.node_type,
            "parallel": args.parallel,
            "cost_usd": breakdown.cost_usd,
            "prices_as_of": breakdown.prices_as_of,
            "billed_vcpu": breakdown.billed_vcpu,
            "billed_memory_mb": breakdown.billed_memory_mb,
            "lines": breakdown.lines,
            "notes": breakdown.notes,
        }))?,
        OutputFormat::Text => {
            for l in &breakdown.lines {
                println!(
                    "{:<36} {:>14.6} {:<14} × ${:<12} = {}",
                    l.item,
                    l.quantity,
                    l.unit,
                    l.rate_usd,
                    format_usd(l.amount_usd)
                );
            }
            for n in &breakdown.notes {
                println!("note: {n}");
            }
            println!(
                "{}: {} (prices as of {})",
                tier_name(tier),
                format_usd(breakdown.cost_usd),
                breakdown.prices_as_of
            );
        }
    }
    Ok(EXIT_OK)
}

/// `costs PROJECT [--run ID]`: estimate and actual cost per run step, per asset and per day.
pub fn costs(
    workspace: &Path,
    project: &str,
    run: Option<&RunId>,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    if let Some(run_id) = run {
        let steps = app::plan::run_costs(&ws, run_id)?;
        match format {
            OutputFormat::Json => print_json(&steps)?,
            OutputFormat::Text => {
                if steps.is_empty() {
                    println!("run {run_id} has no recorded costs (local runs cost nothing on AWS)");
                }
                for s in &steps {
                    println!(
                        "{:<28} {:<8} estimate {:<12} actual {:<12}{}",
                        s.asset.as_str(),
                        s.tier,
                        money(s.est_cost_usd, s.est_duration_secs),
                        money(s.actual_cost_usd, s.actual_duration_secs),
                        s.missing_price
                            .as_ref()
                            .map(|m| format!("  missing price {m}"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        return Ok(EXIT_OK);
    }
    let project = match resolve_target(&mut ws, project)? {
        Ok(stored) => stored.project.name,
        Err(code) => return Ok(code),
    };
    let project = project.as_str();
    let history = app::plan::cost_history(&ws, project)?;
    match format {
        OutputFormat::Json => print_json(&history)?,
        OutputFormat::Text => {
            if history.steps.is_empty() {
                println!("no recorded costs for `{project}` yet (remote runs record them)");
            }
            println!("per asset:");
            for t in &history.per_asset {
                println!("  {}", total_line(t));
            }
            println!("per day:");
            for t in &history.per_day {
                println!("  {}", total_line(t));
            }
            println!("project: {}", total_line(&history.total));
        }
    }
    Ok(EXIT_OK)
}

fn money(usd: Option<f64>, secs: Option<f64>) -> String {
    match (usd, secs) {
        (Some(u), Some(s)) => format!("{} ({})", format_usd(u), format_duration(s)),
        (Some(u), None) => format_usd(u),
        (None, Some(s)) => format!("? ({})", format_duration(s)),
        (None, None) => "—".to_owned(),
    }
}

fn total_line(t: &app::plan::CostTotal) -> String {
    format!(
        "{:<28} {} step(s), estimated {}, actual {}{}",
        t.key,
        t.steps,
        format_usd(t.est_cost_usd),
        format_usd(t.actual_cost_usd),
        if t.unpriced_steps > 0 {
            format!(" ({} step(s) without an actual cost)", t.unpriced_steps)
        } else {
            String::new()
        }
    )
}
