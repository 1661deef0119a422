//! Compute hints: where and with what resources an asset would like to run.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A place an asset can run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum ComputeTier {
    /// Let the planner choose.
    #[default]
    Auto,
    Local,
    Lambda,
    Fargate,
    Batch,
    Eks,
}

impl ComputeTier {
    pub const ALL: [ComputeTier; 6] = [
        ComputeTier::Auto,
        ComputeTier::Local,
        ComputeTier::Lambda,
        ComputeTier::Fargate,
        ComputeTier::Batch,
        ComputeTier::Eks,
    ];

    /// The tier a name (`fargate`, …) stands for, as [`Self::as_str`] writes it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ComputeTier::Auto => "auto",
            ComputeTier::Local => "local",
            ComputeTier::Lambda => "lambda",
            ComputeTier::Fargate => "fargate",
            ComputeTier::Batch => "batch",
            ComputeTier::Eks => "eks",
        }
    }
}

impl fmt::Display for ComputeTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Resource hints for an asset; unset fields are left to the planner.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ComputeHints {
    pub tier: ComputeTier,
    pub vcpu: Option<f64>,
    pub memory_mb: Option<u32>,
    pub timeout_secs: Option<u32>,
    pub spot: Option<bool>,
    /// EC2 instance type for EKS/Batch nodes, e.g. `m6i.xlarge`.
    pub node_type: Option<String>,
    pub min_nodes: Option<u32>,
    pub max_nodes: Option<u32>,
}

impl ComputeHints {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Lambda's memory sizes (MB) and longest run (s): AWS Lambda quotas.
pub const LAMBDA_MAX_MEMORY_MB: u32 = 10_240;
pub const LAMBDA_MIN_MEMORY_MB: u32 = 128;
pub const LAMBDA_MAX_TIMEOUT_SECS: u32 = 900;

/// Fargate's largest task.
pub const FARGATE_MAX_VCPU: f64 = 16.0;
pub const FARGATE_MAX_MEMORY_MB: u32 = 120 * 1024;

/// The vCPU sizes Fargate offers and, for each, the memory (GB) it can have.
pub fn fargate_sizes() -> Vec<(f64, Vec<u32>)> {
    vec![
        (0.25, vec![1, 2]), // and 0.5 GB, below
        (0.5, (1..=4).collect()),
        (1.0, (2..=8).collect()),
        (2.0, (4..=16).collect()),
        (4.0, (8..=30).collect()),
        (8.0, (16..=60).step_by(4).collect()),
        (16.0, (32..=120).step_by(8).collect()),
    ]
}

/// The smallest valid Fargate size (vCPU, memory MB) with at least `vcpu` and `memory_mb`, or
/// `None` when nothing is that big. Smallest vCPU first, then smallest memory — which is also
/// the cheapest, since a larger vCPU size only allows more memory.
pub fn fargate_size(vcpu: f64, memory_mb: u32) -> Option<(f64, u32)> {
    if vcpu <= 0.25 && memory_mb <= 512 {
        return Some((0.25, 512));
    }
    fargate_sizes()
        .into_iter()
        .filter(|(cpu, _)| *cpu + 1e-9 >= vcpu)
        .find_map(|(cpu, gbs)| {
            gbs.into_iter()
                .map(|gb| gb * 1024)
                .find(|mb| *mb >= memory_mb)
                .map(|mb| (cpu, mb))
        })
}

/// Why no tier could run an asset with these hints, if so: the limits the planner and the
/// launchers would refuse later, checked when the project is validated. `(field, sentence)`.
pub fn hint_problems(hints: &ComputeHints) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mb = hints.memory_mb;
    let vcpu = hints.vcpu.filter(|v| v.is_finite() && *v > 0.0);
    match hints.tier {
        ComputeTier::Lambda => {
            if let Some(m) = mb
                && !(LAMBDA_MIN_MEMORY_MB..=LAMBDA_MAX_MEMORY_MB).contains(&m)
            {
                out.push((
                    "memory_mb",
                    format!(
                        "Lambda functions take {LAMBDA_MIN_MEMORY_MB}–{LAMBDA_MAX_MEMORY_MB} MB, not {m} MB"
                    ),
                ));
            }
            if let Some(t) = hints.timeout_secs
                && t > LAMBDA_MAX_TIMEOUT_SECS
            {
                out.push((
                    "timeout_secs",
                    format!("Lambda functions run at most {LAMBDA_MAX_TIMEOUT_SECS} s, not {t} s"),
                ));
            }
        }
        // Batch on EC2 nodes (a node type) is not bound by Fargate's sizes; EKS pods may run
        // on nodes of any size.
        ComputeTier::Fargate | ComputeTier::Batch
            if hints.tier == ComputeTier::Fargate || hints.node_type.is_none() =>
        {
            if let Some(problem) = over_fargate(vcpu, mb) {
                let tier = if hints.tier == ComputeTier::Fargate {
                    "Fargate"
                } else {
                    "Batch on Fargate (no node_type)"
                };
                out.push((problem.0, format!("{tier} cannot run this: {}", problem.1)));
            }
        }
        ComputeTier::Auto if hints.node_type.is_none() => {
            if let Some(problem) = over_fargate(vcpu, mb) {
                out.push((
                    problem.0,
                    format!(
                        "{}; only EKS nodes that big could run it: set a node_type hint (e.g. \"r6i.8xlarge\") or tier = \"eks\"",
                        problem.1
                    ),
                ));
            }
        }
        _ => {}
    }
    if hints.max_nodes == Some(0) {
        out.push(("max_nodes", "max_nodes must be at least 1".to_owned()));
    }
    out
}

/// Whether a vCPU and memory hint are over Fargate's largest task: `(field, sentence)`.
fn over_fargate(vcpu: Option<f64>, memory_mb: Option<u32>) -> Option<(&'static str, String)> {
    let largest = format!(
        "Fargate's largest task ({} vCPU / {} GB)",
        FARGATE_MAX_VCPU,
        FARGATE_MAX_MEMORY_MB / 1024
    );
    if let Some(v) = vcpu
        && v > FARGATE_MAX_VCPU
    {
        return Some(("vcpu", format!("{v} vCPU is over {largest}")));
    }
    if let Some(m) = memory_mb
        && m > FARGATE_MAX_MEMORY_MB
    {
        return Some(("memory_mb", format!("{m} MB is over {largest}")));
    }
    None
}
