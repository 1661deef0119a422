//! What the canvas draws, derived from the project once per document revision (not per frame):
//! card positions and texts, edges as index pairs, lane extents and the minimap.

use std::collections::HashMap;

use egui::{Pos2, Rect, Vec2, pos2, vec2};

use crate::model::layout::{NODE_HEIGHT, NODE_WIDTH};
use crate::model::{AssetGraph, AssetKey, AssetSpec, Layer, Project};

/// One card.
#[derive(Debug, Clone)]
pub struct NodeView {
    pub key: AssetKey,
    pub layer: Layer,
    /// Top-left corner in canvas units.
    pub pos: Pos2,
    /// `csv`, `postgres`, `sql`, `sql + 2 steps`, …
    pub kind: String,
    /// `2 checks`, `1 check · blocking`, or empty.
    pub checks: String,
}

/// A lane's horizontal extent, in canvas units.
#[derive(Debug, Clone)]
pub struct Lane {
    pub layer: Layer,
    pub min_x: f32,
    pub max_x: f32,
    pub count: usize,
}

/// Minimap dots for one bounding box.
type MinimapCache = (Rect, Vec<(Pos2, Layer)>);

#[derive(Debug, Default)]
pub struct Geometry {
    pub nodes: Vec<NodeView>,
    pub index: HashMap<AssetKey, usize>,
    /// `(upstream, downstream)` card indices.
    pub edges: Vec<(usize, usize)>,
    /// Bounding box of every card, in canvas units.
    pub bounds: Option<Rect>,
    pub lanes: Vec<Lane>,
    edges_revision: Option<u64>,
    minimap: std::cell::RefCell<Option<MinimapCache>>,
}

pub fn kind_text(asset: &AssetSpec) -> String {
    match asset.transform() {
        Some(t) if t.steps.is_empty() && t.sql.as_deref().is_none_or(|s| s.trim().is_empty()) => {
            "sql (empty)".to_owned()
        }
        _ => asset.kind_label(),
    }
}

fn checks_text(asset: &AssetSpec) -> String {
    let n = asset.checks.len();
    let blocking = asset.checks.iter().filter(|c| c.blocking).count();
    match (n, blocking) {
        (0, _) => String::new(),
        (1, 0) => "1 check".to_owned(),
        (n, 0) => format!("{n} checks"),
        (n, b) => format!("{n} check{} · {b} blocking", if n == 1 { "" } else { "s" }),
    }
}

impl Geometry {
    /// Rebuilds from the project. Edges are rebuilt only when `structure_revision` changed.
    pub fn rebuild(&mut self, project: &Project, graph: &AssetGraph, structure_revision: u64) {
        let mut fallback_row = 0.0;
        self.nodes = project
            .assets
            .iter()
            .map(|a| {
                let pos = project.layout.positions.get(&a.key).map_or_else(
                    || {
                        // Unplaced assets (rare: the studio places new ones) stack on the left.
                        fallback_row += NODE_HEIGHT * 1.5;
                        pos2(-NODE_WIDTH * 1.5, fallback_row)
                    },
                    |p| pos2(p.x, p.y),
                );
                NodeView {
                    key: a.key.clone(),
                    layer: a.layer,
                    pos,
                    kind: kind_text(a),
                    checks: checks_text(a),
                }
            })
            .collect();
        let index_changed = self.index.len() != self.nodes.len()
            || self
                .nodes
                .iter()
                .enumerate()
                .any(|(i, n)| self.index.get(&n.key) != Some(&i));
        if index_changed {
            self.index = self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (n.key.clone(), i))
                .collect();
        }
        if index_changed || self.edges_revision != Some(structure_revision) {
            self.edges = graph
                .edges()
                .filter_map(|(from, to)| Some((*self.index.get(from)?, *self.index.get(to)?)))
                .collect();
            self.edges_revision = Some(structure_revision);
        }
        self.bounds = self
            .nodes
            .iter()
            .map(|n| Rect::from_min_size(n.pos, vec2(NODE_WIDTH, NODE_HEIGHT)))
            .reduce(Rect::union);
        self.lanes = Layer::ALL
            .into_iter()
            .filter_map(|layer| {
                let xs = self
                    .nodes
                    .iter()
                    .filter(|n| n.layer == layer)
                    .map(|n| n.pos.x);
                let (min_x, max_x, count) = xs.fold((f32::MAX, f32::MIN, 0), |(lo, hi, c), x| {
                    (lo.min(x), hi.max(x), c + 1)
                });
                (count > 0).then_some(Lane {
                    layer,
                    min_x: min_x - 24.0,
                    max_x: max_x + NODE_WIDTH + 24.0,
                    count,
                })
            })
            .collect();
        self.minimap.replace(None);
    }

    /// The nearest card from `from` whose centre lies in `direction` (within a 45° cone).
    pub fn nearest_in_direction(&self, from: usize, direction: Vec2) -> Option<usize> {
        let origin = self.nodes.get(from)?.pos;
        self.nodes
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != from)
            .filter_map(|(i, n)| {
                let d = n.pos - origin;
                let along = d.dot(direction);
                let across = (d - direction * along).length();
                (along > 1.0 && across <= along).then_some((i, along + 2.0 * across))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    }

    /// The card nearest the top-left corner, where keyboard navigation starts.
    pub fn top_left(&self) -> Option<usize> {
        self.nodes
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1.pos.x + a.1.pos.y).total_cmp(&(b.1.pos.x + b.1.pos.y)))
            .map(|(i, _)| i)
    }

    /// Cards binned into 2-pixel minimap cells (one dot per occupied cell), cached until the
    /// next rebuild: at 10,000 assets the minimap draws at most a few thousand dots.
    pub fn minimap_cells(&self, bounds: Rect, scale: f32) -> Vec<(Pos2, Layer)> {
        if let Some((b, cells)) = &*self.minimap.borrow()
            && *b == bounds
        {
            return cells.clone();
        }
        let mut seen: HashMap<(i32, i32), Layer> = HashMap::new();
        for n in &self.nodes {
            let c = (n.pos - bounds.min) * scale / 2.0;
            seen.entry((c.x as i32, c.y as i32)).or_insert(n.layer);
        }
        let cells: Vec<(Pos2, Layer)> = seen
            .into_iter()
            .map(|((x, y), layer)| {
                (
                    bounds.min + vec2(x as f32 * 2.0, y as f32 * 2.0) / scale,
                    layer,
                )
            })
            .collect();
        self.minimap.replace(Some((bounds, cells.clone())));
        cells
    }
}
