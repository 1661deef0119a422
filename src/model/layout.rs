//! Layered auto-layout of the asset canvas.
//!
//! Lanes are fixed by layer, left to right: bronze, silver, gold. Inside a lane an asset's column
//! is its longest chain of same-layer upstream assets, so silver reading silver steps right.
//! Rows come from barycenter sweeps (each asset moves towards the mean height of its neighbours,
//! down the columns and back up), which removes most edge crossings; then assets are packed so
//! cards never overlap. [`LayoutMode::NewOnly`] keeps every existing position and places only
//! assets without one, so a position the user chose is never silently overwritten.

use std::collections::{BTreeMap, HashMap};

use super::asset::{AssetKey, Layer};
use super::graph::AssetGraph;
use super::project::{CanvasPos, Project};

/// Horizontal distance between columns, in canvas units.
pub const COLUMN_SPACING: f32 = 280.0;
/// Extra space between two lanes.
pub const LANE_GAP: f32 = 120.0;
/// Vertical distance between rows.
pub const ROW_SPACING: f32 = 96.0;
/// Node card size, for overlap checks (the canvas draws cards this size).
pub const NODE_WIDTH: f32 = 220.0;
pub const NODE_HEIGHT: f32 = 72.0;

/// Barycenter sweeps (down and back up count as two).
const SWEEPS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutMode {
    /// Arrange every asset (the user asked for it).
    All,
    /// Keep existing positions; place only assets that have none.
    NewOnly,
}

/// Positions that differ from the project's current ones, to apply as one move edit.
pub fn auto_layout(
    project: &Project,
    graph: &AssetGraph,
    mode: LayoutMode,
) -> BTreeMap<AssetKey, CanvasPos> {
    let n = project.assets.len();
    let index: HashMap<&AssetKey, usize> = project
        .assets
        .iter()
        .enumerate()
        .map(|(i, a)| (&a.key, i))
        .collect();
    let mut upstream: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut downstream: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (from, to) in graph.edges() {
        if let (Some(&f), Some(&t)) = (index.get(from), index.get(to)) {
            upstream[t].push(f);
            downstream[f].push(t);
        }
    }
    let layers: Vec<Layer> = project.assets.iter().map(|a| a.layer).collect();
    let depth = lane_depths(graph, &index, &layers, &upstream);
    let columns_x = column_origins(&layers, &depth);
    let x_of = |i: usize| columns_x[&(layers[i], depth[i])];

    let mut out = BTreeMap::new();
    match mode {
        LayoutMode::All => {
            let y = sweep_rows(&layers, &depth, &upstream, &downstream);
            for (i, asset) in project.assets.iter().enumerate() {
                let pos = CanvasPos {
                    x: x_of(i),
                    y: y[i],
                };
                if project.layout.positions.get(&asset.key) != Some(&pos) {
                    out.insert(asset.key.clone(), pos);
                }
            }
        }
        LayoutMode::NewOnly => {
            let mut placed: Vec<Option<CanvasPos>> = project
                .assets
                .iter()
                .map(|a| project.layout.positions.get(&a.key).copied())
                .collect();
            if placed.iter().all(Option::is_none) {
                return auto_layout(project, graph, LayoutMode::All);
            }
            // Place in dependency order so a new asset can follow a new upstream asset.
            let order: Vec<usize> = match graph.topological_order() {
                Ok(keys) => keys.iter().filter_map(|k| index.get(k).copied()).collect(),
                Err(_) => (0..n).collect(),
            };
            // Bucket placed cards by column so the overlap check stays cheap at 10,000 assets.
            let mut occupied: HashMap<i64, Vec<f32>> = HashMap::new();
            for p in placed.iter().flatten() {
                occupied.entry(column_bucket(p.x)).or_default().push(p.y);
            }
            for i in order {
                if placed[i].is_some() {
                    continue;
                }
                let x = x_of(i);
                let neighbours: Vec<f32> = upstream[i]
                    .iter()
                    .chain(&downstream[i])
                    .filter_map(|&j| placed[j].map(|p| p.y))
                    .collect();
                let y = free_row(&mut occupied, x, &neighbours);
                let pos = CanvasPos { x, y };
                placed[i] = Some(pos);
                out.insert(project.assets[i].key.clone(), pos);
            }
        }
    }
    out
}

/// The moves that put `key` in the lane of `layer` (its layer is changing): right of the
/// same-layer assets it reads, else at the lane's first column, or in a new lane beside its
/// neighbours; at the mean height of its neighbours, below any card it would cover. Lanes to
/// the right shift right when the card would reach into them. Other cards keep their places.
pub fn place_in_lane(
    project: &Project,
    graph: &AssetGraph,
    key: &AssetKey,
    layer: Layer,
) -> Vec<(AssetKey, CanvasPos)> {
    let pos_of = |k: &AssetKey| project.layout.positions.get(k).copied();
    let others: Vec<(&AssetKey, Layer, CanvasPos)> = project
        .assets
        .iter()
        .filter(|a| a.key != *key)
        .filter_map(|a| Some((&a.key, a.layer, pos_of(&a.key)?)))
        .collect();
    let upstream: Vec<&AssetKey> = graph
        .edges()
        .filter(|(_, to)| *to == key)
        .map(|(from, _)| from)
        .collect();
    let neighbours: Vec<&AssetKey> = graph
        .edges()
        .filter_map(|(from, to)| {
            (to == key)
                .then_some(from)
                .or_else(|| (from == key).then_some(to))
        })
        .collect();
    let (x, right) = lane_column(&others, &upstream, layer);
    let y = lane_row(&others, &neighbours, x, pos_of(key));
    let mut moves = vec![(key.clone(), CanvasPos { x, y })];
    if let Some(r) = right {
        let shift = x + COLUMN_SPACING + LANE_GAP - r;
        if shift > 0.0 {
            moves.extend(
                others
                    .iter()
                    .filter(|(_, l, _)| *l > layer)
                    .map(|(k, _, p)| {
                        (
                            (*k).clone(),
                            CanvasPos {
                                x: p.x + shift,
                                y: p.y,
                            },
                        )
                    }),
            );
        }
    }
    moves
}

/// A placed card other than the one moving: its key, layer and position.
type Placed<'a> = (&'a AssetKey, Layer, CanvasPos);

/// The column a card moving into `layer`'s lane goes to (right of its same-layer upstream, the
/// lane's first column, or a new lane beside its neighbours), and the left edge of the lanes
/// to its right.
fn lane_column(others: &[Placed<'_>], upstream: &[&AssetKey], layer: Layer) -> (f32, Option<f32>) {
    let xs = |pred: &dyn Fn(Layer) -> bool| {
        others
            .iter()
            .filter(|(_, l, _)| pred(*l))
            .map(|(_, _, p)| p.x)
            .collect::<Vec<f32>>()
    };
    let same_layer_upstream = others
        .iter()
        .filter(|(k, l, _)| *l == layer && upstream.contains(k))
        .map(|(_, _, p)| p.x)
        .reduce(f32::max);
    let lane = xs(&|l| l == layer);
    let left = xs(&|l| l < layer).into_iter().reduce(f32::max);
    let right = xs(&|l| l > layer).into_iter().reduce(f32::min);
    let x = match (same_layer_upstream, lane.iter().copied().reduce(f32::min)) {
        (Some(up), _) => up + COLUMN_SPACING,
        (None, Some(first)) => first,
        (None, None) => match (left, right) {
            (Some(l), _) => l + COLUMN_SPACING + LANE_GAP,
            (None, Some(r)) => r - COLUMN_SPACING - LANE_GAP,
            (None, None) => 0.0,
        },
    };
    (x, right)
}

/// The height of a card moving to column `x`: the mean of its neighbours' (else where it
/// was), moved down past any card it would cover.
fn lane_row(
    others: &[Placed<'_>],
    neighbours: &[&AssetKey],
    x: f32,
    was: Option<CanvasPos>,
) -> f32 {
    let ys: Vec<f32> = others
        .iter()
        .filter(|(k, _, _)| neighbours.contains(k))
        .map(|(_, _, p)| p.y)
        .collect();
    let mut y = if ys.is_empty() {
        was.map_or(0.0, |p| p.y)
    } else {
        snap(ys.iter().sum::<f32>() / ys.len() as f32)
    };
    while others
        .iter()
        .any(|(_, _, p)| (p.x - x).abs() < NODE_WIDTH + 8.0 && (p.y - y).abs() < NODE_HEIGHT + 8.0)
    {
        y += ROW_SPACING;
    }
    y
}

/// The column bucket of cards at `x`.
fn column_bucket(x: f32) -> i64 {
    (x / COLUMN_SPACING).floor() as i64
}

/// Where a new card in the column at `x` goes, and marks it taken: level with its placed
/// neighbours (or below the lowest card in its column), moved down past any card it overlaps.
fn free_row(occupied: &mut HashMap<i64, Vec<f32>>, x: f32, neighbours: &[f32]) -> f32 {
    let mut y = if neighbours.is_empty() {
        // Below the lowest card in this column.
        occupied
            .get(&column_bucket(x))
            .and_then(|ys| ys.iter().copied().reduce(f32::max))
            .map_or(0.0, |lowest| lowest + ROW_SPACING)
    } else {
        snap(neighbours.iter().sum::<f32>() / neighbours.len() as f32)
    };
    let column = occupied.entry(column_bucket(x)).or_default();
    while column
        .iter()
        .any(|&other| (other - y).abs() < NODE_HEIGHT + 8.0)
    {
        y += ROW_SPACING;
    }
    column.push(y);
    y
}

fn snap(y: f32) -> f32 {
    (y / (ROW_SPACING / 2.0)).round() * (ROW_SPACING / 2.0)
}

/// Each asset's column inside its lane: the longest chain of same-layer upstream assets.
fn lane_depths(
    graph: &AssetGraph,
    index: &HashMap<&AssetKey, usize>,
    layers: &[Layer],
    upstream: &[Vec<usize>],
) -> Vec<usize> {
    let n = layers.len();
    let mut depth = vec![0usize; n];
    // With a cycle there is no order; everything stays in column 0 (validation reports it).
    let Ok(order) = graph.topological_order() else {
        return depth;
    };
    for key in &order {
        let Some(&i) = index.get(key) else { continue };
        depth[i] = upstream[i]
            .iter()
            .filter(|&&u| layers[u] == layers[i])
            .map(|&u| depth[u] + 1)
            .max()
            .unwrap_or(0);
    }
    depth
}

/// The x of every (lane, column) pair: lanes left to right, each as wide as its columns.
fn column_origins(layers: &[Layer], depth: &[usize]) -> HashMap<(Layer, usize), f32> {
    let mut columns: BTreeMap<Layer, usize> = BTreeMap::new();
    for (&layer, &d) in layers.iter().zip(depth) {
        let c = columns.entry(layer).or_insert(0);
        *c = (*c).max(d + 1);
    }
    let mut out = HashMap::new();
    let mut x = 0.0;
    for layer in Layer::ALL {
        let count = columns.get(&layer).copied().unwrap_or(1);
        for d in 0..count {
            out.insert((layer, d), x + d as f32 * COLUMN_SPACING);
        }
        x += count as f32 * COLUMN_SPACING + LANE_GAP;
    }
    out
}

/// Rows by barycenter sweeps over the ranks (lane, column), then packed without overlap.
fn sweep_rows(
    layers: &[Layer],
    depth: &[usize],
    upstream: &[Vec<usize>],
    downstream: &[Vec<usize>],
) -> Vec<f32> {
    let n = layers.len();
    let mut ranks: BTreeMap<(Layer, usize), Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        ranks.entry((layers[i], depth[i])).or_default().push(i);
    }
    let mut ranks: Vec<Vec<usize>> = ranks.into_values().collect();
    // Start from the asset order of the project, spaced evenly.
    let mut y = vec![0.0f32; n];
    for rank in &ranks {
        for (row, &i) in rank.iter().enumerate() {
            y[i] = row as f32 * ROW_SPACING;
        }
    }
    for sweep in 0..SWEEPS {
        let down = sweep % 2 == 0;
        let neighbours = if down { upstream } else { downstream };
        let visit: Vec<usize> = if down {
            (0..ranks.len()).collect()
        } else {
            (0..ranks.len()).rev().collect()
        };
        for r in visit {
            let rank = &mut ranks[r];
            let key = |i: usize| {
                let ns = &neighbours[i];
                if ns.is_empty() {
                    y[i]
                } else {
                    ns.iter().map(|&j| y[j]).sum::<f32>() / ns.len() as f32
                }
            };
            let mut keyed: Vec<(f32, usize)> = rank.iter().map(|&i| (key(i), i)).collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            *rank = keyed.iter().map(|&(_, i)| i).collect();
            // Pack: as close to the wanted height as the order and spacing allow.
            let mut next_free = f32::NEG_INFINITY;
            for &(wanted, i) in &keyed {
                let at = snap(wanted).max(next_free);
                y[i] = at;
                next_free = at + ROW_SPACING;
            }
            // Packing only pushes down; shift the rank back so it stays centred on what its
            // assets wanted, or ranks drift apart sweep after sweep.
            if !keyed.is_empty() {
                let drift = keyed.iter().map(|&(w, i)| y[i] - w).sum::<f32>() / keyed.len() as f32;
                let shift = snap(drift);
                for &(_, i) in &keyed {
                    y[i] -= shift;
                }
            }
        }
    }
    // Move the whole drawing so its top row is at 0.
    let top = y.iter().copied().reduce(f32::min).unwrap_or(0.0);
    for v in &mut y {
        *v -= top;
    }
    y
}

/// How many pairs of edges cross when drawn as straight lines from the right side of the
/// upstream card to the left side of the downstream card. Quadratic: for tests and benchmarks.
pub fn count_crossings(project: &Project, graph: &AssetGraph) -> usize {
    let positions = &project.layout.positions;
    let segments: Vec<((f32, f32), (f32, f32))> = graph
        .edges()
        .filter_map(|(from, to)| {
            let a = positions.get(from)?;
            let b = positions.get(to)?;
            Some((
                (a.x + NODE_WIDTH, a.y + NODE_HEIGHT / 2.0),
                (b.x, b.y + NODE_HEIGHT / 2.0),
            ))
        })
        .collect();
    let mut count = 0;
    for (i, s) in segments.iter().enumerate() {
        for t in &segments[i + 1..] {
            if segments_cross(*s, *t) {
                count += 1;
            }
        }
    }
    count
}

fn segments_cross(s: ((f32, f32), (f32, f32)), t: ((f32, f32), (f32, f32))) -> bool {
    let orient = |a: (f32, f32), b: (f32, f32), c: (f32, f32)| {
        let v = (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0);
        if v.abs() < 1e-3 { 0 } else { v.signum() as i32 }
    };
    // Edges that share an end point meet there; that is not a crossing.
    if s.0 == t.0 || s.0 == t.1 || s.1 == t.0 || s.1 == t.1 {
        return false;
    }
    let (o1, o2) = (orient(s.0, s.1, t.0), orient(s.0, s.1, t.1));
    let (o3, o4) = (orient(t.0, t.1, s.0), orient(t.0, t.1, s.1));
    o1 * o2 < 0 && o3 * o4 < 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::asset::AssetSpec;
    use crate::model::synthetic;

    fn apply(project: &mut Project, positions: BTreeMap<AssetKey, CanvasPos>) {
        project.layout.positions.extend(positions);
    }

    #[test]
    fn lanes_are_ordered_by_layer_and_cards_never_overlap() {
        let mut p = synthetic::generate("l", 400, 11);
        p.layout.positions.clear();
        let g = AssetGraph::build(&p);
        let positions = auto_layout(&p, &g, LayoutMode::All);
        assert_eq!(positions.len(), 400);
        apply(&mut p, positions);
        let max_x = |layer: Layer| {
            p.assets
                .iter()
                .filter(|a| a.layer == layer)
                .map(|a| p.layout.positions[&a.key].x)
                .fold(f32::MIN, f32::max)
        };
        let min_x = |layer: Layer| {
            p.assets
                .iter()
                .filter(|a| a.layer == layer)
                .map(|a| p.layout.positions[&a.key].x)
                .fold(f32::MAX, f32::min)
        };
        assert!(max_x(Layer::Bronze) < min_x(Layer::Silver));
        assert!(max_x(Layer::Silver) < min_x(Layer::Gold));
        let all: Vec<CanvasPos> = p.layout.positions.values().copied().collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                let overlap = (a.x - b.x).abs() < NODE_WIDTH && (a.y - b.y).abs() < NODE_HEIGHT;
                assert!(!overlap, "{a:?} overlaps {b:?}");
            }
        }
        // Every edge points right (downstream is never left of upstream).
        for (from, to) in g.edges() {
            assert!(p.layout.positions[from].x < p.layout.positions[to].x);
        }
    }

    #[test]
    fn auto_layout_reduces_crossings() {
        for seed in [1, 2, 3] {
            let mut p = synthetic::generate("c", 300, seed);
            let g = AssetGraph::build(&p);
            // The generator's own positions stack each layer in creation order.
            let before = count_crossings(&p, &g);
            let positions = auto_layout(&p, &g, LayoutMode::All);
            apply(&mut p, positions);
            let after = count_crossings(&p, &g);
            println!("seed {seed}: {before} crossings before, {after} after");
            assert!(
                after * 10 < before * 6,
                "seed {seed}: {before} crossings before, {after} after"
            );
        }
    }

    #[test]
    fn new_only_never_moves_a_placed_asset() {
        let mut p = synthetic::generate("n", 200, 5);
        // Manual positions, deliberately odd.
        for (i, pos) in p.layout.positions.values_mut().enumerate() {
            pos.x += (i % 7) as f32 * 13.0;
            pos.y = -pos.y;
        }
        let mut fresh = AssetSpec::new("fresh_source", Layer::Bronze);
        fresh.description = "new".into();
        p.assets.push(fresh);
        let downstream_key = p.assets[150].key.clone();
        let before = p.layout.positions.clone();
        let g = AssetGraph::build(&p);
        let placed = auto_layout(&p, &g, LayoutMode::NewOnly);
        assert_eq!(
            placed.keys().collect::<Vec<_>>(),
            vec![&AssetKey::new("fresh_source")]
        );
        apply(&mut p, placed);
        for (key, pos) in &before {
            assert_eq!(p.layout.positions[key], *pos, "{key} moved");
        }
        let _ = downstream_key;
        let new = p.layout.positions[&AssetKey::new("fresh_source")];
        for (key, pos) in &before {
            let overlap = (new.x - pos.x).abs() < NODE_WIDTH && (new.y - pos.y).abs() < NODE_HEIGHT;
            assert!(!overlap, "the new asset overlaps {key}");
        }
    }

    #[test]
    fn new_only_places_near_upstream() {
        let mut p = synthetic::generate("u", 50, 9);
        let g0 = AssetGraph::build(&p);
        let positions = auto_layout(&p, &g0, LayoutMode::All);
        apply(&mut p, positions);
        let up = p.assets[3].key.clone();
        let mut child = AssetSpec::new("child", Layer::Silver);
        child.deps.push(up.clone());
        p.assets.push(child);
        let g = AssetGraph::build(&p);
        let placed = auto_layout(&p, &g, LayoutMode::NewOnly);
        let pos = placed[&AssetKey::new("child")];
        let up_pos = p.layout.positions[&up];
        assert!(pos.x > up_pos.x);
        assert!(
            (pos.y - up_pos.y).abs() < 20.0 * ROW_SPACING,
            "{pos:?} far from {up_pos:?}"
        );
    }

    #[test]
    fn cycles_do_not_break_layout() {
        let mut p = Project::new("c");
        let mut a = AssetSpec::new("a", Layer::Silver);
        a.deps.push("b".into());
        let mut b = AssetSpec::new("b", Layer::Silver);
        b.deps.push("a".into());
        p.assets.extend([a, b]);
        let g = AssetGraph::build(&p);
        assert_eq!(auto_layout(&p, &g, LayoutMode::All).len(), 2);
        assert!(auto_layout(&Project::new("empty"), &g, LayoutMode::NewOnly).is_empty());
    }
}
