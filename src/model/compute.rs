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
