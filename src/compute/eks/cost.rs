//! What a step on EKS costs: the node hours its pods' requests occupy at the node type's price,
//! plus the share of the cluster's control-plane hour while the step runs.
//!
//! - A pod occupies the fraction of a node its dominant request takes
//!   (`max(vcpu / node vcpu, memory / node memory)`), for as long as it runs.
//! - The control plane costs a flat price per cluster-hour whatever runs on it; a step is
//!   charged `cluster_share` of it for its wall-clock span (first pod start to last pod end).
//!
//! These formulas stay here until the planner's `compute::cost` (issue 5) lands; then the
//! prices come from its table (`ec2.<type>.hour`, `eks.cluster_hour`) and this module should
//! call its EKS formula instead of [`estimate_usd`] / [`actual_usd`].

/// The size of a node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeCapacity {
    pub vcpu: f64,
    pub memory_mb: f64,
}

/// Prices for one step on one node type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EksPrices {
    /// The node type's on-demand (or Spot) price per hour.
    pub node_hour_usd: f64,
    pub node: NodeCapacity,
    /// The control plane's price per cluster-hour ($0.10 on standard support).
    pub cluster_hour_usd: f64,
    /// The fraction of the control plane charged to this step while it runs (1.0: all of it).
    pub cluster_share: f64,
}

/// What one pod asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodRequest {
    pub vcpu: f64,
    pub memory_mb: f64,
}

/// The fraction of a node a pod occupies (by its dominant resource).
pub fn node_fraction(request: PodRequest, node: NodeCapacity) -> f64 {
    let cpu = if node.vcpu > 0.0 {
        request.vcpu / node.vcpu
    } else {
        1.0
    };
    let mem = if node.memory_mb > 0.0 {
        request.memory_mb / node.memory_mb
    } else {
        1.0
    };
    cpu.max(mem)
}

/// An estimate before the run: `pods` pods of `secs_per_pod` seconds each, `parallelism` at a
/// time (so the step's span is `ceil(pods / parallelism) × secs_per_pod`).
pub fn estimate_usd(
    request: PodRequest,
    pods: u32,
    parallelism: u32,
    secs_per_pod: f64,
    prices: &EksPrices,
) -> f64 {
    let parallelism = parallelism.clamp(1, pods.max(1));
    let waves = pods.div_ceil(parallelism);
    let node_hours = node_fraction(request, prices.node) * f64::from(pods) * secs_per_pod / 3600.0;
    let span_hours = f64::from(waves) * secs_per_pod / 3600.0;
    node_hours * prices.node_hour_usd + span_hours * prices.cluster_hour_usd * prices.cluster_share
}

/// One pod as it ran.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodSpan {
    pub request: PodRequest,
    /// Unix seconds.
    pub started_at: f64,
    pub finished_at: f64,
}

/// The actual cost from the pods' start and end times.
pub fn actual_usd(pods: &[PodSpan], prices: &EksPrices) -> f64 {
    let node_hours: f64 = pods
        .iter()
        .map(|p| {
            node_fraction(p.request, prices.node) * (p.finished_at - p.started_at).max(0.0) / 3600.0
        })
        .sum();
    let start = pods
        .iter()
        .map(|p| p.started_at)
        .fold(f64::INFINITY, f64::min);
    let end = pods
        .iter()
        .map(|p| p.finished_at)
        .fold(f64::NEG_INFINITY, f64::max);
    let span_hours = if pods.is_empty() {
        0.0
    } else {
        (end - start).max(0.0) / 3600.0
    };
    node_hours * prices.node_hour_usd + span_hours * prices.cluster_hour_usd * prices.cluster_share
}

/// An estimate for a step from the asset's hints: `pods` pods (1, or one per partition) of
/// `secs_per_pod` each on the hinted node type, `max_nodes` at a time. `node_hour_usd` is the
/// node type's price when the price table has it.
///
/// # Errors
/// When the node type is unknown or has no price (never guessed).
pub fn step_estimate_usd(
    hints: &crate::model::ComputeHints,
    pods: u32,
    secs_per_pod: f64,
    node_hour_usd: Option<f64>,
    cluster_hour_usd: f64,
) -> Result<f64, String> {
    let node_type = hints
        .node_type
        .as_deref()
        .ok_or("the asset names no node_type, so the node price is unknown")?;
    let node = node_capacity(node_type)
        .ok_or_else(|| format!("the size of node type `{node_type}` is not known"))?;
    let node_hour_usd = node_hour_usd
        .ok_or_else(|| format!("the price table has no price for `{node_type}` nodes"))?;
    let request = PodRequest {
        vcpu: hints.vcpu.unwrap_or(super::job::DEFAULT_VCPU),
        memory_mb: f64::from(hints.memory_mb.unwrap_or(super::job::DEFAULT_MEMORY_MB)),
    };
    let parallelism = hints.max_nodes.unwrap_or(pods).max(1);
    Ok(estimate_usd(
        request,
        pods,
        parallelism,
        secs_per_pod,
        &EksPrices {
            node_hour_usd,
            node,
            cluster_hour_usd,
            cluster_share: 1.0,
        },
    ))
}

/// The size of common general-purpose, compute and memory EC2 types from their name
/// (`m6i.xlarge` → 4 vCPU, 16 GiB): sizes double from `large` (2 vCPU) up; `m` families have
/// 4 GiB per vCPU, `c` 2 GiB, `r` 8 GiB. `None` for anything else (then the user gives it).
pub fn node_capacity(node_type: &str) -> Option<NodeCapacity> {
    let (family, size) = node_type.trim().split_once('.')?;
    let gib_per_vcpu = match family.chars().next()? {
        'm' => 4.0,
        'c' => 2.0,
        'r' => 8.0,
        _ => return None,
    };
    let vcpu = match size {
        "large" => 2.0,
        "xlarge" => 4.0,
        s => {
            let n: f64 = s.strip_suffix("xlarge")?.parse().ok()?;
            4.0 * n
        }
    };
    Some(NodeCapacity {
        vcpu,
        memory_mb: vcpu * gib_per_vcpu * 1024.0,
    })
}

/// A Kubernetes CPU quantity in vCPUs (`2`, `250m`, `1.5`).
pub fn parse_cpu(q: &str) -> Option<f64> {
    let q = q.trim();
    if let Some(m) = q.strip_suffix('m') {
        return m.parse::<f64>().ok().map(|v| v / 1000.0);
    }
    q.parse().ok()
}

/// A Kubernetes memory quantity in MiB (`4096Mi`, `4Gi`, `1G`, `512M`, bytes).
pub fn parse_memory_mb(q: &str) -> Option<f64> {
    let q = q.trim();
    let units: [(&str, f64); 8] = [
        ("Ki", 1.0 / 1024.0),
        ("Mi", 1.0),
        ("Gi", 1024.0),
        ("Ti", 1024.0 * 1024.0),
        ("k", 1000.0 / 1_048_576.0),
        ("M", 1_000_000.0 / 1_048_576.0),
        ("G", 1_000_000_000.0 / 1_048_576.0),
        ("T", 1_000_000_000_000.0 / 1_048_576.0),
    ];
    for (suffix, factor) in units {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|v| v * factor);
        }
    }
    q.parse::<f64>().ok().map(|b| b / 1_048_576.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices() -> EksPrices {
        EksPrices {
            node_hour_usd: 0.192,
            node: NodeCapacity {
                vcpu: 4.0,
                memory_mb: 16384.0,
            },
            cluster_hour_usd: 0.10,
            cluster_share: 1.0,
        }
    }

    #[test]
    fn dominant_resource_decides_the_node_fraction() {
        let node = prices().node;
        let cpu_heavy = PodRequest {
            vcpu: 2.0,
            memory_mb: 2048.0,
        };
        assert!((node_fraction(cpu_heavy, node) - 0.5).abs() < 1e-12);
        let mem_heavy = PodRequest {
            vcpu: 1.0,
            memory_mb: 12288.0,
        };
        assert!((node_fraction(mem_heavy, node) - 0.75).abs() < 1e-12);
    }

    #[test]
    fn estimate_is_node_hours_plus_cluster_share() {
        // 8 pods of half a node for 30 min, 4 at a time: 2 node-hours; span 1 h.
        let req = PodRequest {
            vcpu: 2.0,
            memory_mb: 4096.0,
        };
        let usd = estimate_usd(req, 8, 4, 1800.0, &prices());
        assert!((usd - (2.0 * 0.192 + 1.0 * 0.10)).abs() < 1e-12, "{usd}");
        let mut half = prices();
        half.cluster_share = 0.5;
        let usd = estimate_usd(req, 8, 4, 1800.0, &half);
        assert!((usd - (2.0 * 0.192 + 0.05)).abs() < 1e-12, "{usd}");
    }

    #[test]
    fn actual_uses_pod_start_and_end() {
        let req = PodRequest {
            vcpu: 4.0,
            memory_mb: 8192.0,
        };
        let pods = [
            PodSpan {
                request: req,
                started_at: 1000.0,
                finished_at: 4600.0,
            },
            PodSpan {
                request: req,
                started_at: 2800.0,
                finished_at: 8200.0,
            },
        ];
        // 1 h + 1.5 h of a whole node; span 2 h of the control plane.
        let usd = actual_usd(&pods, &prices());
        assert!((usd - (2.5 * 0.192 + 2.0 * 0.10)).abs() < 1e-12, "{usd}");
        assert!(actual_usd(&[], &prices()).abs() < 1e-12);
    }

    #[test]
    fn step_estimate_from_hints_names_what_is_missing() {
        let hints = crate::model::ComputeHints {
            vcpu: Some(2.0),
            memory_mb: Some(4096),
            node_type: Some("m5.xlarge".into()),
            max_nodes: Some(4),
            ..crate::model::ComputeHints::default()
        };
        // 8 pods of half an m5.xlarge for 30 min, 4 at a time: 2 node-hours + 1 h of cluster.
        let usd = step_estimate_usd(&hints, 8, 1800.0, Some(0.192), 0.10).unwrap();
        assert!((usd - (2.0 * 0.192 + 0.10)).abs() < 1e-12, "{usd}");
        let err = step_estimate_usd(&hints, 8, 1800.0, None, 0.10).unwrap_err();
        assert!(err.contains("no price for `m5.xlarge`"), "{err}");
        let none = crate::model::ComputeHints::default();
        assert!(
            step_estimate_usd(&none, 1, 60.0, Some(1.0), 0.1)
                .unwrap_err()
                .contains("no node_type")
        );
    }

    #[test]
    fn capacities_and_quantities() {
        assert_eq!(
            node_capacity("m6i.xlarge"),
            Some(NodeCapacity {
                vcpu: 4.0,
                memory_mb: 16384.0
            })
        );
        assert!((node_capacity("c5.2xlarge").unwrap().memory_mb - 16384.0).abs() < 1e-9);
        assert!((node_capacity("r5.large").unwrap().memory_mb - 16384.0).abs() < 1e-9);
        assert_eq!(node_capacity("p4d.24xlarge"), None);
        assert_eq!(parse_cpu("250m"), Some(0.25));
        assert_eq!(parse_cpu("2"), Some(2.0));
        assert_eq!(parse_memory_mb("4Gi"), Some(4096.0));
        assert_eq!(parse_memory_mb("2048Mi"), Some(2048.0));
        assert_eq!(parse_memory_mb("1048576"), Some(1.0));
        assert_eq!(parse_memory_mb("x"), None);
    }
}
