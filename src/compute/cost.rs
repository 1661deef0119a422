//! The cost model: what one run of a given shape costs on a tier, line by line, from the price
//! table. The same formulas price estimates (before a run) and actual costs (measured
//! durations after it).
//!
//! - **Lambda**: GB-seconds (memory in GB × duration, billed per 1 ms) + one request.
//! - **Fargate**: (vCPU × vCPU-hour rate + GB × GB-hour rate) × hours, billed per second with a
//!   1-minute minimum, at the smallest valid Fargate size that fits; Spot takes the table's
//!   discount off.
//! - **Batch**: no charge of its own — its Fargate (no node type) or EC2 nodes (a node type).
//! - **EKS**: pod or node hours — Fargate rates per pod without a node type, else one EC2 node
//!   per pod at the `ec2.<type>.hour` price — plus the run's share of the cluster hour
//!   (duration × the control-plane rate).
//!
//! A price the formula needs but the table lacks is [`CostError::MissingPrice`], never a guess.

use serde::Serialize;

use crate::model::pricing::ids;
use crate::model::{ComputeTier, PriceTable};

/// The tiers' limits live in the model, where validation checks hints against them too.
pub use crate::model::compute::{
    FARGATE_MAX_MEMORY_MB, FARGATE_MAX_VCPU, LAMBDA_MAX_MEMORY_MB, LAMBDA_MIN_MEMORY_MB,
    fargate_size, fargate_sizes,
};

/// Lambda's longest run (s): `model::compute::LAMBDA_MAX_TIMEOUT_SECS` as seconds.
pub const LAMBDA_MAX_DURATION_SECS: f64 = 900.0;
/// Fargate (and pods on EKS Fargate) bill at least a minute per task.
pub const FARGATE_MINIMUM_BILLED_SECS: f64 = 60.0;
/// EC2 Linux instances bill per second with a 1-minute minimum.
pub const EC2_MINIMUM_BILLED_SECS: f64 = 60.0;
pub const MB_PER_GB: f64 = 1024.0;

/// The shape of one run to price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunShape {
    pub tier: ComputeTier,
    pub vcpu: f64,
    pub memory_mb: u32,
    /// Billed wall time of one task or pod, seconds.
    pub duration_secs: f64,
    pub spot: bool,
    /// EC2 instance type of EKS/Batch nodes; `None` runs them on Fargate.
    pub node_type: Option<String>,
    /// Tasks or pods running side by side (one per partition when fanned out).
    pub parallel: u32,
}

impl RunShape {
    pub fn new(tier: ComputeTier, vcpu: f64, memory_mb: u32, duration_secs: f64) -> Self {
        Self {
            tier,
            vcpu,
            memory_mb,
            duration_secs,
            spot: false,
            node_type: None,
            parallel: 1,
        }
    }
}

/// One line of a cost: quantity × rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostLine {
    pub item: String,
    pub quantity: f64,
    pub unit: String,
    pub rate_usd: f64,
    pub amount_usd: f64,
    pub price_id: String,
}

/// The cost of one run, with how it was computed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostBreakdown {
    pub tier: ComputeTier,
    pub cost_usd: f64,
    pub lines: Vec<CostLine>,
    /// The oldest as-of date of the prices used.
    pub prices_as_of: String,
    /// The size actually billed (Fargate rounds up to a valid size).
    pub billed_vcpu: f64,
    pub billed_memory_mb: u32,
    pub notes: Vec<String>,
}

/// A price the formula needs that the table does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error(
    "missing price `{id}` ({what}): the price table has no figure for it; enter one in the studio's Prices window"
)]
pub struct MissingPrice {
    pub id: String,
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CostError {
    #[error(transparent)]
    MissingPrice(#[from] MissingPrice),
    /// A shape no tier (or not this tier) can price.
    #[error(transparent)]
    Invalid(#[from] BadShape),
}

/// What is wrong with a run's shape, with the figures it concerns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadShape {
    #[error("choose a tier (lambda, fargate, batch or eks) to price")]
    NoTier,
    #[error("duration {secs} s is not a number of seconds ≥ 0")]
    Duration { secs: f64 },
    #[error("{vcpu} vCPU is not a number > 0")]
    Vcpu { vcpu: f64 },
    #[error("memory must be more than 0 MB")]
    NoMemory,
    #[error("at least one task or pod must run")]
    NoTasks,
    #[error("Lambda has no Spot pricing; drop --spot")]
    LambdaSpot,
    #[error(
        "Lambda memory is {LAMBDA_MIN_MEMORY_MB}–{LAMBDA_MAX_MEMORY_MB} MB, not {memory_mb} MB"
    )]
    LambdaMemory { memory_mb: u32 },
    #[error("a Lambda invocation runs at most {LAMBDA_MAX_DURATION_SECS} s, not {secs} s")]
    LambdaDuration { secs: f64 },
    #[error(
        "{vcpu} vCPU / {memory_mb} MB is over Fargate's largest size ({FARGATE_MAX_VCPU} vCPU / {} GB)",
        FARGATE_MAX_MEMORY_MB / 1024
    )]
    OverFargate { vcpu: f64, memory_mb: u32 },
}

/// Accumulates lines and the prices they used.
struct Bill<'a> {
    prices: &'a PriceTable,
    lines: Vec<CostLine>,
    as_of: Option<String>,
}

impl<'a> Bill<'a> {
    fn new(prices: &'a PriceTable) -> Self {
        Self {
            prices,
            lines: Vec::new(),
            as_of: None,
        }
    }

    fn rate(&mut self, id: &str, what: &str) -> Result<f64, MissingPrice> {
        let row = self.prices.get(id).ok_or_else(|| MissingPrice {
            id: id.to_owned(),
            what: what.to_owned(),
        })?;
        if self.as_of.as_ref().is_none_or(|a| row.as_of < *a) {
            self.as_of = Some(row.as_of.clone());
        }
        Ok(row.usd)
    }

    fn line(&mut self, id: &str, item: String, quantity: f64, unit: &str, rate: f64) {
        self.lines.push(CostLine {
            item,
            quantity,
            unit: unit.to_owned(),
            rate_usd: rate,
            amount_usd: quantity * rate,
            price_id: id.to_owned(),
        });
    }

    fn total(&self) -> f64 {
        self.lines.iter().map(|l| l.amount_usd).sum()
    }
}

/// Prices one run. Bad shapes (negative numbers, Lambda over its limits, Spot on Lambda) are
/// [`CostError::Invalid`] with the reason.
pub fn run_cost(shape: &RunShape, prices: &PriceTable) -> Result<CostBreakdown, CostError> {
    check_shape(shape)?;
    let mut bill = Bill::new(prices);
    let mut notes = Vec::new();
    let (mut billed_vcpu, mut billed_memory_mb) = (shape.vcpu, shape.memory_mb);
    match shape.tier {
        ComputeTier::Auto => {
            return Err(BadShape::NoTier.into());
        }
        ComputeTier::Local => {
            notes.push("runs on this machine: no AWS charge".to_owned());
        }
        ComputeTier::Lambda => {
            lambda_bill(shape, &mut bill, &mut notes)?;
            billed_vcpu = f64::from(shape.memory_mb) / 1769.0;
        }
        ComputeTier::Fargate => {
            let (cpu, mb) = fargate_bill(shape, &mut bill, &mut notes, "Fargate", true)?;
            (billed_vcpu, billed_memory_mb) = (cpu, mb);
        }
        ComputeTier::Batch => match &shape.node_type {
            None => {
                let (cpu, mb) =
                    fargate_bill(shape, &mut bill, &mut notes, "Batch on Fargate", true)?;
                (billed_vcpu, billed_memory_mb) = (cpu, mb);
                notes.push("Batch itself is free: this is the Fargate it runs on".to_owned());
            }
            Some(node) => {
                ec2_bill(shape, node, &mut bill, &mut notes)?;
                notes.push("Batch itself is free: this is the EC2 it runs on".to_owned());
            }
        },
        ComputeTier::Eks => {
            if let Some((cpu, mb)) = eks_bill(shape, &mut bill, &mut notes)? {
                (billed_vcpu, billed_memory_mb) = (cpu, mb);
            }
        }
    }
    Ok(CostBreakdown {
        tier: shape.tier,
        cost_usd: bill.total(),
        prices_as_of: bill.as_of.clone().unwrap_or_default(),
        lines: bill.lines,
        billed_vcpu,
        billed_memory_mb,
        notes,
    })
}

/// A shape every tier can price: a duration ≥ 0, some vCPU and memory, at least one task.
fn check_shape(shape: &RunShape) -> Result<(), CostError> {
    if !shape.duration_secs.is_finite() || shape.duration_secs < 0.0 {
        return Err(BadShape::Duration {
            secs: shape.duration_secs,
        }
        .into());
    }
    if !shape.vcpu.is_finite() || shape.vcpu <= 0.0 {
        return Err(BadShape::Vcpu { vcpu: shape.vcpu }.into());
    }
    if shape.memory_mb == 0 {
        return Err(BadShape::NoMemory.into());
    }
    if shape.parallel == 0 {
        return Err(BadShape::NoTasks.into());
    }
    Ok(())
}

/// Lambda duration and request lines, within Lambda's limits (no Spot, its memory range, its
/// longest invocation).
fn lambda_bill(
    shape: &RunShape,
    bill: &mut Bill<'_>,
    notes: &mut Vec<String>,
) -> Result<(), CostError> {
    if shape.spot {
        return Err(BadShape::LambdaSpot.into());
    }
    if !(LAMBDA_MIN_MEMORY_MB..=LAMBDA_MAX_MEMORY_MB).contains(&shape.memory_mb) {
        return Err(BadShape::LambdaMemory {
            memory_mb: shape.memory_mb,
        }
        .into());
    }
    if shape.duration_secs > LAMBDA_MAX_DURATION_SECS {
        return Err(BadShape::LambdaDuration {
            secs: shape.duration_secs,
        }
        .into());
    }
    let tasks = f64::from(shape.parallel);
    let billed_secs = (shape.duration_secs * 1000.0).ceil() / 1000.0;
    let gb_s = f64::from(shape.memory_mb) / MB_PER_GB * billed_secs * tasks;
    let rate = bill.rate(ids::LAMBDA_GB_SECOND, "Lambda duration per GB-second")?;
    bill.line(
        ids::LAMBDA_GB_SECOND,
        "Lambda duration".to_owned(),
        gb_s,
        "GB-s",
        rate,
    );
    let rate = bill.rate(
        ids::LAMBDA_REQUESTS_PER_MILLION,
        "Lambda requests per million",
    )?;
    bill.line(
        ids::LAMBDA_REQUESTS_PER_MILLION,
        "Lambda requests".to_owned(),
        tasks / 1e6,
        "M requests",
        rate,
    );
    notes.push("Lambda allocates vCPU in proportion to memory".to_owned());
    Ok(())
}

/// EKS lines: pods on Fargate (no Spot there) or EC2 nodes, plus a share of the cluster's
/// hourly charge. Returns the billed size when the pods run on Fargate.
fn eks_bill(
    shape: &RunShape,
    bill: &mut Bill<'_>,
    notes: &mut Vec<String>,
) -> Result<Option<(f64, u32)>, CostError> {
    let billed = match &shape.node_type {
        None => {
            if shape.spot {
                notes.push("EKS pods on Fargate have no Spot: priced on demand".to_owned());
            }
            Some(fargate_bill(
                shape,
                bill,
                notes,
                "EKS pods on Fargate",
                false,
            )?)
        }
        Some(node) => {
            ec2_bill(shape, node, bill, notes)?;
            None
        }
    };
    let hours = shape.duration_secs / 3600.0;
    let rate = bill.rate(ids::EKS_CLUSTER_HOUR, "EKS control plane per cluster-hour")?;
    bill.line(
        ids::EKS_CLUSTER_HOUR,
        "EKS cluster-hour share".to_owned(),
        hours,
        "cluster-hours",
        rate,
    );
    Ok(billed)
}

/// Fargate task (or pod) lines at the smallest valid size; returns the billed size.
fn fargate_bill(
    shape: &RunShape,
    bill: &mut Bill<'_>,
    notes: &mut Vec<String>,
    label: &str,
    spot_allowed: bool,
) -> Result<(f64, u32), CostError> {
    let Some((cpu, mb)) = fargate_size(shape.vcpu, shape.memory_mb) else {
        return Err(BadShape::OverFargate {
            vcpu: shape.vcpu,
            memory_mb: shape.memory_mb,
        }
        .into());
    };
    if (cpu - shape.vcpu).abs() > 1e-9 || mb != shape.memory_mb {
        notes.push(format!(
            "billed as {} / {}, the smallest Fargate size that fits",
            format_vcpu(cpu),
            format_memory(mb)
        ));
    }
    let billed_secs = shape.duration_secs.max(FARGATE_MINIMUM_BILLED_SECS).ceil();
    if shape.duration_secs < FARGATE_MINIMUM_BILLED_SECS {
        notes.push("Fargate bills at least 1 minute per task".to_owned());
    }
    let task_hours = billed_secs / 3600.0 * f64::from(shape.parallel);
    let discount = if shape.spot && spot_allowed {
        bill.rate(ids::FARGATE_SPOT_DISCOUNT, "Fargate Spot discount")?
    } else {
        0.0
    };
    let spot = if discount > 0.0 { " (Spot)" } else { "" };
    let vcpu_rate = bill.rate(ids::FARGATE_VCPU_HOUR, "Fargate per vCPU-hour")? * (1.0 - discount);
    bill.line(
        ids::FARGATE_VCPU_HOUR,
        format!("{label} vCPU{spot}"),
        cpu * task_hours,
        "vCPU-hours",
        vcpu_rate,
    );
    let gb_rate = bill.rate(ids::FARGATE_GB_HOUR, "Fargate per GB-hour")? * (1.0 - discount);
    bill.line(
        ids::FARGATE_GB_HOUR,
        format!("{label} memory{spot}"),
        f64::from(mb) / MB_PER_GB * task_hours,
        "GB-hours",
        gb_rate,
    );
    Ok((cpu, mb))
}

/// EC2 node lines: one node per task or pod for the run's duration.
fn ec2_bill(
    shape: &RunShape,
    node: &str,
    bill: &mut Bill<'_>,
    notes: &mut Vec<String>,
) -> Result<(), CostError> {
    let id = ids::ec2_hour(node);
    let rate = bill.rate(&id, &format!("EC2 {node} on-demand per hour"))?;
    let discount = if shape.spot {
        bill.rate(ids::EC2_SPOT_DISCOUNT, "EC2 Spot discount")?
    } else {
        0.0
    };
    let billed_secs = shape.duration_secs.max(EC2_MINIMUM_BILLED_SECS).ceil();
    let node_hours = billed_secs / 3600.0 * f64::from(shape.parallel);
    let spot = if shape.spot { " (Spot)" } else { "" };
    bill.line(
        &id,
        format!("{node} nodes{spot}"),
        node_hours,
        "node-hours",
        rate * (1.0 - discount),
    );
    notes.push(format!("one {node} node per task or pod"));
    Ok(())
}

pub fn format_vcpu(vcpu: f64) -> String {
    format!("{} vCPU", (vcpu * 100.0).round() / 100.0)
}

/// Memory in MB under 1 GB, else in GB.
pub fn format_memory(mb: u32) -> String {
    if mb < 1024 {
        format!("{mb} MB")
    } else {
        let gb = f64::from(mb) / MB_PER_GB;
        if (gb - gb.round()).abs() < 1e-9 {
            format!("{gb:.0} GB")
        } else {
            format!("{gb:.1} GB")
        }
    }
}

/// Dollars with enough digits to see a small cost.
pub fn format_usd(usd: f64) -> String {
    if usd == 0.0 {
        "$0".to_owned()
    } else if usd < 0.01 {
        format!("${usd:.6}")
    } else if usd < 100.0 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::PriceRow;

    /// The figures of `assets/prices.toml` (the app's tests check the shipped file itself).
    pub(crate) fn prices() -> PriceTable {
        let rows = [
            (ids::LAMBDA_REQUESTS_PER_MILLION, 0.20),
            (ids::LAMBDA_GB_SECOND, 0.000_016_666_7),
            (ids::FARGATE_VCPU_HOUR, 0.04048),
            (ids::FARGATE_GB_HOUR, 0.004_445),
            (ids::FARGATE_SPOT_DISCOUNT, 0.70),
            (ids::EKS_CLUSTER_HOUR, 0.10),
        ];
        PriceTable {
            version: 1,
            region: "us-east-1".into(),
            currency: "USD".into(),
            rows: rows
                .into_iter()
                .map(|(id, usd)| {
                    (
                        id.to_owned(),
                        PriceRow {
                            id: id.to_owned(),
                            item: id.to_owned(),
                            usd,
                            unit: "u".into(),
                            source: "pricing.md".into(),
                            as_of: "2026-11-26".into(),
                            note: None,
                            user_edited: None,
                            shipped_usd: None,
                        },
                    )
                })
                .collect(),
        }
    }

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn fargate_4_vcpu_16_gb_for_30_minutes_is_about_0_117() {
        let c = run_cost(
            &RunShape::new(ComputeTier::Fargate, 4.0, 16 * 1024, 1800.0),
            &prices(),
        )
        .unwrap();
        assert!(close(c.cost_usd, 0.11652, 1e-6), "{c:?}");
        assert_eq!(format!("{:.3}", c.cost_usd), "0.117");
        assert_eq!(c.lines.len(), 2);
        assert_eq!(c.prices_as_of, "2026-11-26");
        // The notes' 8 vCPU / 32 GB × 2 h ≈ $0.93.
        let c = run_cost(
            &RunShape::new(ComputeTier::Fargate, 8.0, 32 * 1024, 7200.0),
            &prices(),
        )
        .unwrap();
        assert_eq!(format!("{:.2}", c.cost_usd), "0.93");
    }

    #[test]
    fn lambda_2_gb_for_60_seconds_is_about_0_0020() {
        let c = run_cost(
            &RunShape::new(ComputeTier::Lambda, 1.0, 2048, 60.0),
            &prices(),
        )
        .unwrap();
        // 120 GB-s × $0.0000166667 + one request at $0.20 per million.
        assert!(close(c.cost_usd, 120.0 * 0.000_016_666_7 + 0.2e-6, 1e-12));
        assert_eq!(format!("{:.4}", c.cost_usd), "0.0020");
    }

    #[test]
    fn lambda_limits_and_spot_are_refused() {
        let p = prices();
        let over_memory = RunShape::new(ComputeTier::Lambda, 1.0, 20 * 1024, 10.0);
        let e = run_cost(&over_memory, &p).unwrap_err().to_string();
        assert!(e.contains("10240 MB"), "{e}");
        let over_time = RunShape::new(ComputeTier::Lambda, 1.0, 1024, 901.0);
        assert!(run_cost(&over_time, &p).is_err());
        let at_limit = RunShape::new(ComputeTier::Lambda, 1.0, LAMBDA_MAX_MEMORY_MB, 900.0);
        assert!(run_cost(&at_limit, &p).is_ok());
        let mut spot = RunShape::new(ComputeTier::Lambda, 1.0, 1024, 10.0);
        spot.spot = true;
        assert!(
            run_cost(&spot, &p)
                .unwrap_err()
                .to_string()
                .contains("Spot")
        );
        let negative = RunShape::new(ComputeTier::Fargate, 1.0, 2048, -1.0);
        assert!(matches!(
            run_cost(&negative, &p),
            Err(CostError::Invalid(_))
        ));
    }

    #[test]
    fn spot_takes_the_tables_discount_off_fargate() {
        let p = prices();
        let mut shape = RunShape::new(ComputeTier::Fargate, 4.0, 16 * 1024, 1800.0);
        let on_demand = run_cost(&shape, &p).unwrap().cost_usd;
        shape.spot = true;
        let spot = run_cost(&shape, &p).unwrap();
        assert!(close(spot.cost_usd, on_demand * 0.3, 1e-9), "{spot:?}");
        assert!(spot.lines[0].item.contains("Spot"));
        // An edited discount is used as entered.
        let mut edited = p.clone();
        edited.rows.get_mut(ids::FARGATE_SPOT_DISCOUNT).unwrap().usd = 0.5;
        let half = run_cost(&shape, &edited).unwrap().cost_usd;
        assert!(close(half, on_demand * 0.5, 1e-9));
    }

    #[test]
    fn fargate_bills_at_least_one_minute_at_a_valid_size() {
        let p = prices();
        let ten_secs = run_cost(&RunShape::new(ComputeTier::Fargate, 1.0, 2048, 10.0), &p).unwrap();
        let one_min = run_cost(&RunShape::new(ComputeTier::Fargate, 1.0, 2048, 60.0), &p).unwrap();
        assert!(close(ten_secs.cost_usd, one_min.cost_usd, 1e-15));
        assert!(close(
            one_min.cost_usd,
            (0.04048 + 2.0 * 0.004_445) / 60.0,
            1e-12
        ));
        // 1 vCPU with 5,000 MB is billed as 1 vCPU / 5 GB.
        let rounded = run_cost(&RunShape::new(ComputeTier::Fargate, 1.0, 5000, 600.0), &p).unwrap();
        assert_eq!((rounded.billed_vcpu, rounded.billed_memory_mb), (1.0, 5120));
        assert!(
            rounded
                .notes
                .iter()
                .any(|n| n.contains("smallest Fargate size"))
        );
        let too_big = RunShape::new(ComputeTier::Fargate, 32.0, 1024, 600.0);
        assert!(run_cost(&too_big, &p).is_err());
    }

    #[test]
    fn fargate_sizes_round_up_to_the_smallest_valid_combination() {
        assert_eq!(fargate_size(0.1, 300), Some((0.25, 512)));
        assert_eq!(fargate_size(0.25, 1500), Some((0.25, 2048)));
        assert_eq!(fargate_size(0.25, 3000), Some((0.5, 3072)));
        assert_eq!(fargate_size(0.25, 6 * 1024), Some((1.0, 6 * 1024)));
        assert_eq!(fargate_size(1.0, 1024), Some((1.0, 2048)));
        assert_eq!(fargate_size(3.0, 8 * 1024), Some((4.0, 8 * 1024)));
        assert_eq!(fargate_size(4.0, 31 * 1024), Some((8.0, 32 * 1024)));
        assert_eq!(fargate_size(8.0, 61 * 1024), Some((16.0, 64 * 1024)));
        assert_eq!(fargate_size(1.0, 120 * 1024), Some((16.0, 120 * 1024)));
        assert_eq!(fargate_size(1.0, 121 * 1024), None);
        assert_eq!(fargate_size(17.0, 1024), None);
    }

    #[test]
    fn eks_is_node_hours_plus_the_cluster_hour_share() {
        let mut p = prices();
        let mut shape = RunShape::new(ComputeTier::Eks, 2.0, 8192, 1800.0);
        shape.node_type = Some("m6i.xlarge".into());
        shape.parallel = 3;
        // No EC2 price ships: missing, never invented.
        let e = run_cost(&shape, &p).unwrap_err();
        assert!(
            matches!(&e, CostError::MissingPrice(m) if m.id == "ec2.m6i.xlarge.hour"),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("missing price `ec2.m6i.xlarge.hour`")
        );
        p.rows.insert(
            "ec2.m6i.xlarge.hour".into(),
            PriceRow {
                id: "ec2.m6i.xlarge.hour".into(),
                item: "m6i.xlarge".into(),
                usd: 0.192,
                unit: "per instance-hour".into(),
                source: "test".into(),
                as_of: "2026-01-02".into(),
                note: None,
                user_edited: None,
                shipped_usd: None,
            },
        );
        let c = run_cost(&shape, &p).unwrap();
        // 3 nodes × 0.5 h × $0.192 + 0.5 cluster-hours × $0.10.
        assert!(
            close(c.cost_usd, 3.0 * 0.5 * 0.192 + 0.5 * 0.10, 1e-12),
            "{c:?}"
        );
        assert_eq!(c.prices_as_of, "2026-01-02", "the oldest price used");
        // Spot on EC2 needs a discount the table does not ship.
        shape.spot = true;
        assert!(matches!(
            run_cost(&shape, &p),
            Err(CostError::MissingPrice(m)) if m.id == ids::EC2_SPOT_DISCOUNT
        ));
        // Without a node type, pods run on Fargate.
        let mut pods = RunShape::new(ComputeTier::Eks, 1.0, 2048, 3600.0);
        pods.parallel = 4;
        let c = run_cost(&pods, &p).unwrap();
        assert!(close(
            c.cost_usd,
            4.0 * (0.04048 + 2.0 * 0.004_445) + 0.10,
            1e-12
        ));
    }

    #[test]
    fn batch_is_priced_as_the_compute_it_runs_on() {
        let p = prices();
        let fargate =
            run_cost(&RunShape::new(ComputeTier::Fargate, 2.0, 4096, 7200.0), &p).unwrap();
        let batch = run_cost(&RunShape::new(ComputeTier::Batch, 2.0, 4096, 7200.0), &p).unwrap();
        assert!(close(fargate.cost_usd, batch.cost_usd, 1e-15));
        let mut ec2 = RunShape::new(ComputeTier::Batch, 2.0, 4096, 7200.0);
        ec2.node_type = Some("c6i.large".into());
        assert!(matches!(
            run_cost(&ec2, &p),
            Err(CostError::MissingPrice(_))
        ));
    }

    #[test]
    fn formatting_is_readable() {
        assert_eq!(format_memory(512), "512 MB");
        assert_eq!(format_memory(6144), "6 GB");
        assert_eq!(format_memory(1536), "1.5 GB");
        assert_eq!(format_usd(0.000_123_4), "$0.000123");
        assert_eq!(format_usd(0.1165), "$0.1165");
        assert_eq!(format_vcpu(0.25), "0.25 vCPU");
    }
}
