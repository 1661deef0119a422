//! What a step on EKS cost, by the planner's model ([`crate::compute::cost`]: one EC2 node per
//! pod at `ec2.<type>.hour`, or Fargate rates per pod without a node type, plus the cluster
//! hour's share): the run shape comes from the pods' requests and their measured start and end
//! times.

use crate::compute::cost::{CostBreakdown, CostError, RunShape, run_cost};
use crate::model::{ComputeTier, PriceTable};

use super::watch::PodUsage;

/// What one pod asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodRequest {
    pub vcpu: f64,
    pub memory_mb: f64,
}

/// One pod as it ran (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodSpan {
    pub request: PodRequest,
    pub started_at: f64,
    pub finished_at: f64,
}

/// The shape of a finished step for the cost model: each pod's measured seconds averaged (the
/// node hours stay the sum over pods), its requests, and the step's node type and Spot choice.
/// `None` when no pod has both a start and an end time.
pub fn actual_shape(pods: &[PodUsage], node_type: Option<&str>, spot: bool) -> Option<RunShape> {
    let spans: Vec<_> = pods.iter().filter_map(PodUsage::span).collect();
    let first = spans.first()?;
    let total_secs: f64 = spans
        .iter()
        .map(|s| (s.finished_at - s.started_at).max(0.0))
        .sum();
    let count = u32::try_from(spans.len()).unwrap_or(u32::MAX);
    let mut shape = RunShape::new(
        ComputeTier::Eks,
        first.request.vcpu,
        first.request.memory_mb.round() as u32,
        total_secs / f64::from(count),
    );
    shape.parallel = count;
    shape.node_type = node_type.map(str::to_owned);
    shape.spot = spot;
    Some(shape)
}

/// The actual cost of a finished step.
///
/// # Errors
/// A price the model needs is missing from the table (never guessed).
pub fn actual_cost(
    pods: &[PodUsage],
    node_type: Option<&str>,
    spot: bool,
    prices: &PriceTable,
) -> Option<Result<CostBreakdown, CostError>> {
    actual_shape(pods, node_type, spot).map(|shape| run_cost(&shape, prices))
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
    use crate::compute::cost::tests::prices;
    use crate::model::PriceRow;

    fn pod(name: &str, start: f64, end: Option<f64>) -> PodUsage {
        PodUsage {
            pod: name.into(),
            index: 0,
            request: PodRequest {
                vcpu: 2.0,
                memory_mb: 8192.0,
            },
            started_at: Some(start),
            finished_at: end,
        }
    }

    #[test]
    fn actual_cost_is_the_planner_model_over_measured_pod_times() {
        // Two pods of 1 h and 2 h on m6i.xlarge nodes: 3 node-hours; 1.5 h of the cluster.
        let pods = [
            pod("a", 1000.0, Some(4600.0)),
            pod("b", 1000.0, Some(8200.0)),
            pod("c", 1000.0, None),
        ];
        let shape = actual_shape(&pods, Some("m6i.xlarge"), false).unwrap();
        assert_eq!(shape.parallel, 2);
        assert!((shape.duration_secs - 5400.0).abs() < 1e-9);
        assert_eq!(shape.memory_mb, 8192);
        let mut table = prices();
        assert!(matches!(
            actual_cost(&pods, Some("m6i.xlarge"), false, &table),
            Some(Err(CostError::MissingPrice(_)))
        ));
        table.rows.insert(
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
        let cost = actual_cost(&pods, Some("m6i.xlarge"), false, &table)
            .unwrap()
            .unwrap();
        let expected = 2.0 * 1.5 * 0.192 + 1.5 * 0.10;
        assert!((cost.cost_usd - expected).abs() < 1e-9, "{cost:?}");
        assert!(actual_shape(&[pod("x", 1.0, None)], None, false).is_none());
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_cpu("250m"), Some(0.25));
        assert_eq!(parse_cpu("2"), Some(2.0));
        assert_eq!(parse_memory_mb("4Gi"), Some(4096.0));
        assert_eq!(parse_memory_mb("2048Mi"), Some(2048.0));
        assert_eq!(parse_memory_mb("1048576"), Some(1.0));
        assert_eq!(parse_memory_mb("x"), None);
    }
}
