//! The dependency graph of a project's assets: effective dependencies (explicit plus those the
//! SQL reads), topological order, cycles, and up/downstream closures.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use petgraph::Direction;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use super::asset::{AssetKey, AssetSpec};
use super::project::Project;
use super::sql;

/// The dependencies of one asset, split by where they come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetDeps {
    /// Named in the asset's `deps`.
    pub explicit: BTreeSet<AssetKey>,
    /// Read by the SQL (only names that are assets of the project).
    pub from_sql: BTreeSet<AssetKey>,
}

impl AssetDeps {
    pub fn all(&self) -> BTreeSet<AssetKey> {
        self.explicit.union(&self.from_sql).cloned().collect()
    }
}

/// The analysis of each asset's transform SQL, index-aligned with `project.assets` (`None` for
/// assets without SQL). Parsing is the costly part of validation, so it is done once and shared.
pub type SqlAnalyses = Vec<Option<Result<sql::SqlAnalysis, sql::SqlError>>>;

pub fn analyze_sql(project: &Project) -> SqlAnalyses {
    project
        .assets
        .iter()
        .map(|a| {
            a.transform()
                .and_then(|t| t.sql.as_deref())
                .map(sql::analyze)
        })
        .collect()
}

/// Dependencies of an asset as declared and as implied by its SQL (`analysis`).
pub fn asset_deps(
    asset: &AssetSpec,
    analysis: Option<&Result<sql::SqlAnalysis, sql::SqlError>>,
    known: &dyn Fn(&str) -> bool,
) -> AssetDeps {
    let explicit = asset.deps.iter().cloned().collect();
    let from_sql = match analysis {
        Some(Ok(a)) => a
            .tables
            .iter()
            .filter(|t| known(t))
            .map(|t| AssetKey::new(t.as_str()))
            .collect(),
        _ => BTreeSet::new(),
    };
    AssetDeps { explicit, from_sql }
}

/// A project's asset graph. Edges point from upstream to downstream. Unknown upstream keys are
/// left out (validation reports them).
#[derive(Debug, Clone)]
pub struct AssetGraph {
    graph: DiGraph<AssetKey, ()>,
    index: HashMap<AssetKey, NodeIndex>,
}

impl AssetGraph {
    pub fn build(project: &Project) -> Self {
        Self::build_with(project, &analyze_sql(project))
    }

    /// Builds the graph from SQL already analysed with [`analyze_sql`].
    pub fn build_with(project: &Project, analyses: &SqlAnalyses) -> Self {
        let mut graph = DiGraph::with_capacity(project.assets.len(), project.assets.len() * 2);
        let mut index = HashMap::with_capacity(project.assets.len());
        for asset in &project.assets {
            index
                .entry(asset.key.clone())
                .or_insert_with(|| graph.add_node(asset.key.clone()));
        }
        let known = |name: &str| index.contains_key(&AssetKey::new(name));
        let mut edges = Vec::new();
        for (i, asset) in project.assets.iter().enumerate() {
            let Some(&to) = index.get(&asset.key) else {
                continue;
            };
            let sql_result = analyses.get(i).and_then(Option::as_ref);
            for dep in asset_deps(asset, sql_result, &known).all() {
                if let Some(&from) = index.get(&dep) {
                    edges.push((from, to));
                }
            }
        }
        edges.sort_unstable();
        edges.dedup();
        for (from, to) in edges {
            graph.add_edge(from, to, ());
        }
        Self { graph, index }
    }

    pub fn contains(&self, key: &AssetKey) -> bool {
        self.index.contains_key(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &AssetKey> {
        self.graph.node_weights()
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Every edge as `(upstream, downstream)`.
    pub fn edges(&self) -> impl Iterator<Item = (&AssetKey, &AssetKey)> {
        self.graph
            .edge_references()
            .map(|e| (&self.graph[e.source()], &self.graph[e.target()]))
    }

    /// Direct upstream assets of `key`, in key order.
    pub fn upstream(&self, key: &AssetKey) -> Vec<&AssetKey> {
        self.neighbors(key, Direction::Incoming)
    }

    /// Direct downstream assets of `key`, in key order.
    pub fn downstream(&self, key: &AssetKey) -> Vec<&AssetKey> {
        self.neighbors(key, Direction::Outgoing)
    }

    fn neighbors(&self, key: &AssetKey, dir: Direction) -> Vec<&AssetKey> {
        let Some(&ix) = self.index.get(key) else {
            return Vec::new();
        };
        let mut out: Vec<&AssetKey> = self
            .graph
            .neighbors_directed(ix, dir)
            .map(|n| &self.graph[n])
            .collect();
        out.sort();
        out
    }

    /// `key` and everything it depends on, transitively.
    pub fn with_upstream(&self, key: &AssetKey) -> BTreeSet<AssetKey> {
        self.closure(key, Direction::Incoming)
    }

    /// `key` and everything that depends on it, transitively.
    pub fn with_downstream(&self, key: &AssetKey) -> BTreeSet<AssetKey> {
        self.closure(key, Direction::Outgoing)
    }

    fn closure(&self, key: &AssetKey, dir: Direction) -> BTreeSet<AssetKey> {
        let mut out = BTreeSet::new();
        let Some(&start) = self.index.get(key) else {
            return out;
        };
        let mut stack = vec![start];
        let mut seen = vec![false; self.graph.node_count()];
        while let Some(n) = stack.pop() {
            if std::mem::replace(&mut seen[n.index()], true) {
                continue;
            }
            out.insert(self.graph[n].clone());
            stack.extend(self.graph.neighbors_directed(n, dir));
        }
        out
    }

    /// Every cycle, each as a path of keys that starts and ends at the same asset
    /// (`a → b → c → a`), smallest key first. Self-loops are cycles of one.
    pub fn cycles(&self) -> Vec<Vec<AssetKey>> {
        let mut out = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            let is_cycle = scc.len() > 1
                || scc
                    .first()
                    .is_some_and(|&n| self.graph.find_edge(n, n).is_some());
            if !is_cycle {
                continue;
            }
            let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
            let Some(&start) = scc
                .iter()
                .min_by(|a, b| self.graph[**a].cmp(&self.graph[**b]))
            else {
                continue;
            };
            out.push(self.cycle_path(start, &members));
        }
        out.sort();
        out
    }

    /// A shortest path from `start` back to itself inside one strongly connected component.
    fn cycle_path(&self, start: NodeIndex, members: &BTreeSet<NodeIndex>) -> Vec<AssetKey> {
        let mut parent: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut end = None;
        'search: while let Some(n) = queue.pop_front() {
            let mut next: Vec<NodeIndex> = self
                .graph
                .edges_directed(n, Direction::Outgoing)
                .map(|e| e.target())
                .filter(|t| members.contains(t))
                .collect();
            next.sort_by(|a, b| self.graph[*a].cmp(&self.graph[*b]));
            for t in next {
                if t == start {
                    end = Some(n);
                    break 'search;
                }
                if let std::collections::btree_map::Entry::Vacant(e) = parent.entry(t) {
                    e.insert(n);
                    queue.push_back(t);
                }
            }
        }
        let mut path = vec![self.graph[start].clone()];
        let mut n = end.unwrap_or(start);
        let mut back = Vec::new();
        while n != start {
            back.push(self.graph[n].clone());
            match parent.get(&n) {
                Some(&p) => n = p,
                None => break,
            }
        }
        back.reverse();
        path.extend(back);
        path.push(self.graph[start].clone());
        path
    }

    /// Assets in dependency order (upstream first, ties by key), or the cycles that prevent one.
    pub fn topological_order(&self) -> Result<Vec<AssetKey>, Vec<Vec<AssetKey>>> {
        let mut indegree: Vec<usize> = self
            .graph
            .node_indices()
            .map(|n| {
                self.graph
                    .neighbors_directed(n, Direction::Incoming)
                    .count()
            })
            .collect();
        let mut ready: BTreeSet<(&AssetKey, NodeIndex)> = self
            .graph
            .node_indices()
            .filter(|n| indegree[n.index()] == 0)
            .map(|n| (&self.graph[n], n))
            .collect();
        let mut order = Vec::with_capacity(self.graph.node_count());
        while let Some((key, n)) = ready.pop_first() {
            order.push(key.clone());
            for m in self.graph.neighbors_directed(n, Direction::Outgoing) {
                indegree[m.index()] -= 1;
                if indegree[m.index()] == 0 {
                    ready.insert((&self.graph[m], m));
                }
            }
        }
        if order.len() == self.graph.node_count() {
            Ok(order)
        } else {
            Err(self.cycles())
        }
    }

    /// Whether adding an edge `from → to` would close a cycle, and if so the path it would close.
    pub fn would_cycle(&self, from: &AssetKey, to: &AssetKey) -> Option<Vec<AssetKey>> {
        if from == to {
            return Some(vec![from.clone(), to.clone()]);
        }
        // A cycle appears when `from` is already downstream of `to`.
        let (&start, &goal) = (self.index.get(to)?, self.index.get(from)?);
        let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            if n == goal {
                let mut path = vec![self.graph[n].clone()];
                let mut cur = n;
                while let Some(&p) = parent.get(&cur) {
                    path.push(self.graph[p].clone());
                    cur = p;
                }
                path.reverse();
                path.push(to.clone());
                return Some(path);
            }
            for m in self.graph.neighbors_directed(n, Direction::Outgoing) {
                if m != start && !parent.contains_key(&m) {
                    parent.insert(m, n);
                    queue.push_back(m);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::asset::{AssetDefinition, Layer, TransformSpec};

    fn asset(key: &str, layer: Layer, deps: &[&str]) -> AssetSpec {
        let mut a = AssetSpec::new(key, layer);
        a.deps = deps.iter().map(|d| AssetKey::new(*d)).collect();
        a
    }

    fn project(assets: Vec<AssetSpec>) -> Project {
        Project {
            assets,
            ..Project::new("t")
        }
    }

    fn keys(v: &[AssetKey]) -> Vec<&str> {
        v.iter().map(AssetKey::as_str).collect()
    }

    #[test]
    fn sql_implies_dependencies() {
        let mut gold = AssetSpec::new("g", Layer::Gold);
        gold.definition = AssetDefinition::Transform(TransformSpec {
            sql: Some("SELECT * FROM s JOIN not_an_asset USING (id)".into()),
            steps: vec![],
        });
        let p = project(vec![
            asset("b", Layer::Bronze, &[]),
            asset("s", Layer::Silver, &["b"]),
            gold,
        ]);
        let g = AssetGraph::build(&p);
        assert_eq!(g.upstream(&"g".into()), vec![&AssetKey::new("s")]);
        assert_eq!(keys(&g.topological_order().unwrap()), vec!["b", "s", "g"]);
        assert_eq!(g.with_upstream(&"g".into()).len(), 3);
        assert_eq!(g.with_downstream(&"s".into()).len(), 2);
    }

    #[test]
    fn cycles_are_named_as_paths() {
        let p = project(vec![
            asset("a", Layer::Silver, &["c"]),
            asset("b", Layer::Silver, &["a"]),
            asset("c", Layer::Silver, &["b"]),
            asset("d", Layer::Silver, &["d"]),
            asset("e", Layer::Silver, &["a"]),
        ]);
        let g = AssetGraph::build(&p);
        let cycles = g.cycles();
        assert_eq!(cycles.len(), 2);
        assert_eq!(keys(&cycles[0]), vec!["a", "b", "c", "a"]);
        assert_eq!(keys(&cycles[1]), vec!["d", "d"]);
        assert!(g.topological_order().is_err());
    }

    #[test]
    fn would_cycle_reports_the_path() {
        let p = project(vec![
            asset("a", Layer::Bronze, &[]),
            asset("b", Layer::Silver, &["a"]),
            asset("c", Layer::Silver, &["b"]),
        ]);
        let g = AssetGraph::build(&p);
        assert_eq!(
            keys(&g.would_cycle(&"c".into(), &"a".into()).unwrap()),
            vec!["a", "b", "c", "a"]
        );
        assert!(g.would_cycle(&"a".into(), &"c".into()).is_none());
    }
}
