//! Blast radius: what depends on an asset or one of its columns — the downstream columns
//! computed from it, the downstream assets (their rows or values), the checks that read what
//! changes, and the schedules, sensors and alert rules that run or watch those assets.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::asset::AssetKey;
use super::automation::SensorKind;
use super::check::{AssetCheckSpec, CheckKind};
use super::graph::AssetGraph;
use super::lineage::{ColumnRef, Direction, ProjectLineage, predicate_columns, trace};
use super::project::Project;
use super::selection::AssetSelection;

/// A downstream asset and why it is affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImpactedAsset {
    pub asset: AssetKey,
    pub reason: String,
}

/// A check that reads something affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImpactedCheck {
    pub asset: AssetKey,
    pub check: String,
    pub reason: String,
}

/// Everything that depends on the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Impact {
    /// `asset` or `asset.column`.
    pub target: String,
    /// Downstream columns whose values are computed from the target.
    pub columns: Vec<ColumnRef>,
    pub assets: Vec<ImpactedAsset>,
    pub checks: Vec<ImpactedCheck>,
    pub schedules: Vec<String>,
    pub sensors: Vec<String>,
    pub alert_rules: Vec<String>,
}

/// Whether an asset is affected in its rows (all of it) or only in some columns' values.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Affected {
    Rows(String),
    Columns(BTreeSet<String>),
}

/// What depends on `asset` (every column) or on `asset.column`.
pub fn impact(
    project: &Project,
    lineage: &ProjectLineage,
    asset: &AssetKey,
    column: Option<&str>,
) -> Impact {
    let graph = AssetGraph::build(project);
    let (columns, affected) = match column {
        None => (Vec::new(), whole_asset(&graph, asset)),
        Some(c) => column_impact(&graph, lineage, asset, c),
    };
    let mut hit: BTreeSet<AssetKey> = affected.keys().cloned().collect();
    hit.insert(asset.clone());
    let own = match column {
        Some(c) => Affected::Columns(BTreeSet::from([c.to_owned()])),
        None => Affected::Rows(String::new()),
    };
    let mut checks = Vec::new();
    for a in &project.assets {
        let how = if &a.key == asset {
            Some(&own)
        } else {
            affected.get(&a.key)
        };
        if let Some(how) = how {
            checks.extend(a.checks.iter().filter_map(|c| check_hit(&a.key, c, how)));
        }
    }
    let selects = |text: &str| {
        AssetSelection::parse(text)
            .and_then(|s| s.resolve(project, &graph))
            .is_ok_and(|keys| !keys.is_disjoint(&hit))
    };
    Impact {
        target: column.map_or_else(|| asset.to_string(), |c| format!("{asset}.{c}")),
        columns,
        assets: affected
            .into_iter()
            .map(|(asset, how)| ImpactedAsset {
                asset,
                reason: match how {
                    Affected::Rows(r) => r,
                    Affected::Columns(c) => format!(
                        "values of {} are computed from it",
                        c.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                },
            })
            .collect(),
        checks,
        schedules: project
            .schedules
            .iter()
            .filter(|s| selects(&s.selection))
            .map(|s| s.name.clone())
            .collect(),
        sensors: project
            .sensors
            .iter()
            .filter(|s| {
                selects(&s.selection)
                    || matches!(&s.kind, SensorKind::AssetMaterialized { project: p, asset: a }
                        if p == &project.name && hit.contains(a))
            })
            .map(|s| s.name.clone())
            .collect(),
        alert_rules: project
            .alerts
            .rules
            .iter()
            .filter(|r| r.selection.as_deref().is_none_or(selects))
            .map(|r| r.name.clone())
            .collect(),
    }
}

fn whole_asset(graph: &AssetGraph, asset: &AssetKey) -> BTreeMap<AssetKey, Affected> {
    let mut out = BTreeMap::new();
    for d in graph.with_downstream(asset) {
        if &d != asset {
            out.insert(
                d,
                Affected::Rows(format!("reads {asset}, directly or through other assets")),
            );
        }
    }
    out
}

fn column_impact(
    graph: &AssetGraph,
    lineage: &ProjectLineage,
    asset: &AssetKey,
    column: &str,
) -> (Vec<ColumnRef>, BTreeMap<AssetKey, Affected>) {
    let start = ColumnRef::new(asset, column);
    let reached = trace(lineage, std::slice::from_ref(&start), Direction::Downstream);
    let valued: Vec<ColumnRef> = reached
        .nodes
        .into_iter()
        .map(|n| n.column)
        .filter(|c| c != &start)
        .collect();
    let mut all: BTreeSet<ColumnRef> = valued.iter().cloned().collect();
    all.insert(start);
    let mut out: BTreeMap<AssetKey, Affected> = BTreeMap::new();
    // Assets whose rows depend on an affected column, and everything downstream of them.
    for (key, l) in lineage {
        if key == asset {
            continue;
        }
        let via = l.filters.iter().find(|f| all.contains(f));
        let unknown = l.columns.is_none()
            && graph
                .upstream(key)
                .iter()
                .any(|u| *u == asset || all.iter().any(|c| &c.asset == *u));
        let reason = match (via, unknown) {
            (Some(f), _) => format!("its rows depend on {f} (a filter, join or grouping)"),
            (None, true) => "its columns are unknown and it reads an affected asset".to_owned(),
            (None, false) => continue,
        };
        for d in graph.with_downstream(key) {
            let r = if &d == key {
                reason.clone()
            } else {
                format!("reads {key}, whose rows change")
            };
            out.entry(d).or_insert(Affected::Rows(r));
        }
    }
    for c in &valued {
        let entry = out
            .entry(c.asset.clone())
            .or_insert_with(|| Affected::Columns(BTreeSet::new()));
        if let Affected::Columns(cols) = entry {
            cols.insert(c.column.clone());
        }
    }
    (valued, out)
}

fn check_hit(asset: &AssetKey, check: &AssetCheckSpec, how: &Affected) -> Option<ImpactedCheck> {
    let reason = match how {
        Affected::Rows(_) => format!("runs on {asset}, whose rows change"),
        Affected::Columns(cols) => {
            let read: BTreeSet<String> = match &check.kind {
                CheckKind::Expression { predicate } => {
                    predicate_columns(predicate).unwrap_or_default()
                }
                other => other.columns().into_iter().map(str::to_owned).collect(),
            };
            let hit: Vec<&String> = read.intersection(cols).collect();
            if hit.is_empty() {
                return None;
            }
            format!(
                "reads {}",
                hit.iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    Some(ImpactedCheck {
        asset: asset.clone(),
        check: check.name.clone(),
        reason,
    })
}
