//! Column lineage: for each asset's output column, the upstream columns its values come from
//! (through SQL in `sql`, then through the built-in steps here), and the columns that decide
//! which rows there are (filters, joins, groupings, dedup keys). Built from the assets'
//! definitions and their known schemas, without data.

mod sql;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::asset::{AssetDefinition, AssetKey, AssetSpec, TransformStep};
use super::graph::AssetGraph;
use super::project::Project;
use super::schema::{AssetSchema, ProjectSchemas};
pub use sql::predicate_columns;

/// A column of an asset.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ColumnRef {
    pub asset: AssetKey,
    pub column: String,
}

impl ColumnRef {
    pub fn new(asset: &AssetKey, column: &str) -> Self {
        Self {
            asset: asset.clone(),
            column: column.to_owned(),
        }
    }
}

impl std::fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.asset, self.column)
    }
}

/// How a column's value relates to its sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineageKind {
    /// Read by a source from outside: no upstream column.
    Source,
    /// An upstream column's value, unchanged (perhaps renamed).
    Copy,
    /// Computed from its sources (an expression, an aggregate, a step that changes values).
    Derived,
}

impl LineageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineageKind::Source => "source",
            LineageKind::Copy => "copy",
            LineageKind::Derived => "derived",
        }
    }
}

/// One output column and the upstream columns (of the asset's direct upstream assets) its
/// values come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnLineage {
    pub column: String,
    pub kind: LineageKind,
    pub sources: BTreeSet<ColumnRef>,
}

/// Something lineage could not follow, with where in the SQL when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageProblem {
    /// `sql` or `steps`.
    pub field: String,
    pub message: String,
    pub position: Option<(usize, usize)>,
}

/// One asset's column lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetLineage {
    pub asset: AssetKey,
    /// `None` when the asset's columns are unknown.
    pub columns: Option<Vec<ColumnLineage>>,
    /// Upstream columns that decide which rows there are: filters, join keys, groupings,
    /// the keys of dedup steps.
    pub filters: BTreeSet<ColumnRef>,
    pub problems: Vec<LineageProblem>,
}

impl AssetLineage {
    pub fn column(&self, name: &str) -> Option<&ColumnLineage> {
        self.columns.as_ref()?.iter().find(|c| c.column == name)
    }
}

/// Every asset's lineage, by key.
pub type ProjectLineage = BTreeMap<AssetKey, AssetLineage>;

/// The lineage of every asset, from its definition and the schemas known without running.
pub fn project_lineage(project: &Project, schemas: &ProjectSchemas) -> ProjectLineage {
    let graph = AssetGraph::build(project);
    project
        .assets
        .iter()
        .map(|a| (a.key.clone(), asset_lineage(a, &graph, schemas)))
        .collect()
}

fn asset_lineage(asset: &AssetSpec, graph: &AssetGraph, schemas: &ProjectSchemas) -> AssetLineage {
    let known = schemas.get(&asset.key).and_then(AssetSchema::column_names);
    let mut out = AssetLineage {
        asset: asset.key.clone(),
        columns: None,
        filters: BTreeSet::new(),
        problems: Vec::new(),
    };
    let spec = match &asset.definition {
        AssetDefinition::Source(_) => {
            out.columns = known.map(|names| {
                names
                    .into_iter()
                    .map(|column| ColumnLineage {
                        column,
                        kind: LineageKind::Source,
                        sources: BTreeSet::new(),
                    })
                    .collect()
            });
            return out;
        }
        AssetDefinition::Transform(t) => t,
    };
    let inputs: BTreeMap<AssetKey, Option<Vec<String>>> = graph
        .upstream(&asset.key)
        .into_iter()
        .map(|up| {
            (
                up.clone(),
                schemas.get(up).and_then(AssetSchema::column_names),
            )
        })
        .collect();
    let mut cols = match &spec.sql {
        Some(text) => {
            let walked = sql::sql_lineage(text, &inputs);
            out.filters = walked.filters;
            out.problems = walked.problems;
            walked.columns
        }
        None => match inputs.iter().next() {
            Some((key, Some(names))) if inputs.len() == 1 => names
                .iter()
                .map(|n| sql::Col {
                    name: n.clone(),
                    sources: BTreeSet::from([ColumnRef::new(key, n)]),
                    direct: true,
                })
                .collect(),
            _ => Vec::new(),
        },
    };
    // An unaliased expression is named by polars; the inferred schema knows its name.
    if let Some(names) = &known
        && spec.steps.is_empty()
        && names.len() == cols.len()
    {
        for (c, n) in cols.iter_mut().zip(names) {
            c.name.clone_from(n);
        }
    }
    for step in &spec.steps {
        apply_step(&mut cols, &mut out.filters, step);
    }
    if known.is_some() || !cols.is_empty() {
        out.columns = Some(
            cols.into_iter()
                .map(|c| ColumnLineage {
                    kind: if c.direct {
                        LineageKind::Copy
                    } else {
                        LineageKind::Derived
                    },
                    column: c.name,
                    sources: c.sources,
                })
                .collect(),
        );
    }
    out
}

fn sources_of(cols: &[sql::Col], names: &[String]) -> BTreeSet<ColumnRef> {
    cols.iter()
        .filter(|c| names.is_empty() || names.contains(&c.name))
        .flat_map(|c| c.sources.iter().cloned())
        .collect()
}

fn apply_step(cols: &mut Vec<sql::Col>, filters: &mut BTreeSet<ColumnRef>, step: &TransformStep) {
    let changed = |names: &[String], cols: &mut Vec<sql::Col>| {
        for c in cols.iter_mut().filter(|c| names.contains(&c.name)) {
            c.direct = false;
        }
    };
    match step {
        TransformStep::Deduplicate { columns } | TransformStep::DropNulls { columns } => {
            filters.extend(sources_of(cols, columns));
        }
        TransformStep::KeepLatest { key, order_by } => {
            let mut names = key.clone();
            names.push(order_by.clone());
            filters.extend(sources_of(cols, &names));
        }
        TransformStep::RegexFilter { column, .. } => {
            filters.extend(sources_of(cols, std::slice::from_ref(column)));
        }
        TransformStep::Trim { columns, .. } | TransformStep::ChangeCase { columns, .. } => {
            changed(columns, cols);
        }
        TransformStep::Cast { column, .. } => changed(std::slice::from_ref(column), cols),
        TransformStep::Rename { from, to } => {
            for c in cols.iter_mut().filter(|c| &c.name == from) {
                c.name.clone_from(to);
            }
        }
        TransformStep::RegexFlag { column, output, .. } => {
            let sources = sources_of(cols, std::slice::from_ref(column));
            let flag = sql::Col {
                name: output.clone(),
                sources,
                direct: false,
            };
            match cols.iter_mut().find(|c| &c.name == output) {
                Some(c) => *c = flag,
                None => cols.push(flag),
            }
        }
    }
}

/// Which way to follow lineage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Upstream,
    Downstream,
}

/// A column in a lineage graph, with how its value is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageNode {
    pub column: ColumnRef,
    pub kind: Option<LineageKind>,
}

/// Columns and the value edges between them (`from` feeds `to`), reached from some columns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageGraph {
    pub nodes: Vec<LineageNode>,
    pub edges: Vec<(ColumnRef, ColumnRef)>,
}

/// For each column, the downstream columns whose values it feeds.
pub fn consumers(lineage: &ProjectLineage) -> BTreeMap<ColumnRef, BTreeSet<ColumnRef>> {
    let mut out: BTreeMap<ColumnRef, BTreeSet<ColumnRef>> = BTreeMap::new();
    for (key, l) in lineage {
        for c in l.columns.iter().flatten() {
            for s in &c.sources {
                out.entry(s.clone())
                    .or_default()
                    .insert(ColumnRef::new(key, &c.column));
            }
        }
    }
    out
}

/// The graph of every column reached from `start` following values upstream or downstream,
/// breadth first (the start columns first).
pub fn trace(lineage: &ProjectLineage, start: &[ColumnRef], direction: Direction) -> LineageGraph {
    let fed = consumers(lineage);
    let kind = |c: &ColumnRef| {
        lineage
            .get(&c.asset)
            .and_then(|l| l.column(&c.column))
            .map(|l| l.kind)
    };
    let mut seen: BTreeSet<ColumnRef> = BTreeSet::new();
    let mut queue: VecDeque<ColumnRef> = start.iter().cloned().collect();
    let mut graph = LineageGraph::default();
    while let Some(c) = queue.pop_front() {
        if !seen.insert(c.clone()) {
            continue;
        }
        graph.nodes.push(LineageNode {
            kind: kind(&c),
            column: c.clone(),
        });
        let next: Vec<ColumnRef> = match direction {
            Direction::Upstream => lineage
                .get(&c.asset)
                .and_then(|l| l.column(&c.column))
                .map(|l| l.sources.iter().cloned().collect())
                .unwrap_or_default(),
            Direction::Downstream => fed
                .get(&c)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default(),
        };
        for n in next {
            let edge = match direction {
                Direction::Upstream => (n.clone(), c.clone()),
                Direction::Downstream => (c.clone(), n.clone()),
            };
            graph.edges.push(edge);
            queue.push_back(n);
        }
    }
    graph
}

#[cfg(test)]
mod tests;
