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
    /// A collapsed group: the card stands for all its members (`key` is its first member's).
    pub group: Option<GroupCard>,
    /// The group an asset's card belongs to (not collapsed).
    pub member_of: Option<String>,
}

/// The members of a group drawn as one card.
#[derive(Debug, Clone)]
pub struct GroupCard {
    pub name: String,
    pub members: Vec<Member>,
}

/// One asset of a collapsed group: where its own card would be, and whether it declares checks.
#[derive(Debug, Clone)]
pub struct Member {
    pub key: AssetKey,
    pub layer: Layer,
    pub pos: Pos2,
    pub has_checks: bool,
}

impl NodeView {
    /// The assets the card stands for: its own key, or every member of its group.
    pub fn keys(&self) -> Vec<AssetKey> {
        match &self.group {
            Some(g) => g.members.iter().map(|m| m.key.clone()).collect(),
            None => vec![self.key.clone()],
        }
    }

    /// Whether the card stands for an asset of `selection`.
    pub fn stands_for(&self, selection: &std::collections::BTreeSet<AssetKey>) -> bool {
        match &self.group {
            Some(g) => g.members.iter().any(|m| selection.contains(&m.key)),
            None => selection.contains(&self.key),
        }
    }
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
        let collapsed = &project.layout.collapsed_groups;
        let mut groups: std::collections::BTreeMap<&str, (Layer, Vec<Member>)> =
            std::collections::BTreeMap::new();
        let mut nodes = Vec::with_capacity(project.assets.len());
        for a in &project.assets {
            let pos = project.layout.positions.get(&a.key).map_or_else(
                || {
                    // Unplaced assets (rare: the studio places new ones) stack on the left.
                    fallback_row += NODE_HEIGHT * 1.5;
                    pos2(-NODE_WIDTH * 1.5, fallback_row)
                },
                |p| pos2(p.x, p.y),
            );
            if let Some(group) = a.group.as_deref().filter(|g| collapsed.contains(*g)) {
                groups
                    .entry(group)
                    .or_insert_with(|| (a.layer, Vec::new()))
                    .1
                    .push(Member {
                        key: a.key.clone(),
                        layer: a.layer,
                        pos,
                        has_checks: !a.checks.is_empty(),
                    });
                continue;
            }
            nodes.push(NodeView {
                key: a.key.clone(),
                layer: a.layer,
                pos,
                kind: kind_text(a),
                checks: checks_text(a),
                group: None,
                member_of: a.group.clone(),
            });
        }
        // A collapsed group's card takes the place of its leftmost (then topmost) member's
        // card: a free slot, and a different one for every group.
        // It is drawn in that member's layer (the lane it sits in).
        for (name, (first_layer, members)) in groups {
            let (pos, layer) = members
                .iter()
                .map(|m| (m.pos, m.layer))
                .min_by(|a, b| a.0.x.total_cmp(&b.0.x).then(a.0.y.total_cmp(&b.0.y)))
                .unwrap_or((Pos2::ZERO, first_layer));
            let n = members.len();
            nodes.push(NodeView {
                key: members[0].key.clone(),
                layer,
                pos,
                kind: format!("group of {n}"),
                checks: String::new(),
                group: Some(GroupCard {
                    name: name.to_owned(),
                    members,
                }),
                member_of: Some(name.to_owned()),
            });
        }
        self.nodes = nodes;
        // Every asset maps to its card (a collapsed group's members to the group's).
        let index_changed = self.index.len() != project.assets.len()
            || self.nodes.iter().enumerate().any(|(i, n)| match &n.group {
                Some(g) => g.members.iter().any(|m| self.index.get(&m.key) != Some(&i)),
                None => self.index.get(&n.key) != Some(&i),
            });
        if index_changed {
            self.index = self
                .nodes
                .iter()
                .enumerate()
                .flat_map(|(i, n)| n.keys().into_iter().map(move |k| (k, i)))
                .collect();
        }
        if index_changed || self.edges_revision != Some(structure_revision) {
            // Edges inside a collapsed group vanish; several into or out of it become one.
            let mut seen = std::collections::HashSet::new();
            self.edges = graph
                .edges()
                .filter_map(|(from, to)| Some((*self.index.get(from)?, *self.index.get(to)?)))
                .filter(|&(a, b)| a != b && seen.insert((a, b)))
                .collect();
            self.edges_revision = Some(structure_revision);
        }
        self.bounds = self
            .nodes
            .iter()
            .map(|n| Rect::from_min_size(n.pos, vec2(NODE_WIDTH, NODE_HEIGHT)))
            .reduce(Rect::union);
        // Lanes span every asset, a collapsed group's members too (counted, where they are).
        self.lanes = Layer::ALL
            .into_iter()
            .filter_map(|layer| {
                let mut xs = Vec::new();
                for n in &self.nodes {
                    match &n.group {
                        Some(g) => xs.extend(
                            g.members
                                .iter()
                                .filter(|m| m.layer == layer)
                                .map(|m| m.pos.x),
                        ),
                        None if n.layer == layer => xs.push(n.pos.x),
                        None => {}
                    }
                }
                let (min_x, max_x, count) = xs
                    .into_iter()
                    .fold((f32::MAX, f32::MIN, 0), |(lo, hi, c), x| {
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

/// One cubic bezier: start, two control points, end.
pub type Cubic = [Pos2; 4];

/// The point at `t` in `0..=1` on a cubic bezier.
pub fn cubic_point(c: &Cubic, t: f32) -> Pos2 {
    let u = 1.0 - t;
    let w = [u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t];
    pos2(
        w[0] * c[0].x + w[1] * c[1].x + w[2] * c[2].x + w[3] * c[3].x,
        w[0] * c[0].y + w[1] * c[1].y + w[2] * c[2].y + w[3] * c[3].y,
    )
}

/// The path of an edge from `from`'s output port (right middle) to `to`'s input port (left
/// middle), on screen. When the target lies to the right, one S-curve. Otherwise (two cards of
/// one lane, or an edge running backwards) one S-curve would cut through both cards, so the
/// edge leaves to the right, turns back through the gap between the cards (or below both when
/// they share a row) and enters the target from the left: two curves meeting in that gap.
pub fn edge_route(from: Rect, to: Rect, zoom: f32) -> Vec<Cubic> {
    let a = from.right_center();
    let b = to.left_center();
    if b.x >= a.x + 20.0 * zoom {
        let dx = ((b.x - a.x) * 0.5).max(40.0 * zoom);
        return vec![[a, a + vec2(dx, 0.0), b - vec2(dx, 0.0), b]];
    }
    let mid_y = if to.top() >= from.bottom() {
        (from.bottom() + to.top()) * 0.5
    } else if to.bottom() <= from.top() {
        (to.bottom() + from.top()) * 0.5
    } else {
        from.bottom().max(to.bottom()) + 24.0 * zoom
    };
    let mid = pos2((a.x + b.x) * 0.5, mid_y);
    let reach = (from.width().max(to.width()) * 0.35).max(40.0 * zoom);
    vec![
        [
            a,
            a + vec2(reach, 0.0),
            pos2(a.x.max(mid.x) + reach, mid_y),
            mid,
        ],
        [
            mid,
            pos2(b.x.min(mid.x) - reach, mid_y),
            b - vec2(reach, 0.0),
            b,
        ],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether any sampled point of the route, apart from its two ends, lies inside a card.
    fn crosses(route: &[Cubic], cards: &[Rect]) -> Option<Pos2> {
        route.iter().find_map(|c| {
            (1..100)
                .map(|s| cubic_point(c, s as f32 / 100.0))
                .find(|p| cards.iter().any(|card| card.shrink(2.0).contains(*p)))
        })
    }

    fn card(x: f32, y: f32) -> Rect {
        Rect::from_min_size(pos2(x, y), vec2(182.0, 60.0))
    }

    #[test]
    fn an_edge_between_two_cards_of_one_lane_goes_around_them() {
        // The example at 84 %: cleaned_customer_data above order_history in the silver lane.
        let (upper, lower) = (card(369.0, 305.0), card(369.0, 438.0));
        for (from, to) in [(upper, lower), (lower, upper)] {
            let route = edge_route(from, to, 0.84);
            assert_eq!(crosses(&route, &[from, to]), None, "{route:?}");
            assert_eq!(route[0][0], from.right_center());
            assert_eq!(route[route.len() - 1][3], to.left_center());
        }
    }

    #[test]
    fn an_edge_running_backwards_in_one_row_passes_below_both_cards() {
        let (right, left) = (card(700.0, 305.0), card(369.0, 305.0));
        let route = edge_route(right, left, 1.0);
        assert_eq!(crosses(&route, &[right, left]), None, "{route:?}");
    }

    #[test]
    fn an_edge_to_a_card_just_below_and_to_the_left_goes_around_both() {
        for (from, to) in [
            (card(369.0, 100.0), card(369.0, 175.0)),
            (card(369.0, 100.0), card(300.0, 175.0)),
            (card(369.0, 100.0), card(369.0, 900.0)),
        ] {
            assert_eq!(crosses(&edge_route(from, to, 1.0), &[from, to]), None);
        }
    }

    #[test]
    fn an_edge_to_the_next_lane_is_one_curve_that_touches_neither_card() {
        let (from, to) = (card(369.0, 438.0), card(688.0, 305.0));
        let route = edge_route(from, to, 0.84);
        assert_eq!(route.len(), 1);
        assert_eq!(crosses(&route, &[from, to]), None);
    }
}
