//! What flows along the edges: after a run, each edge carries the row count of its upstream's
//! latest stored materialization — what the downstream asset reads (for a partitioned
//! upstream, its newest partition, named) — read from the workspace, so it is the same after a
//! restart. A click on an edge (its line or its count) asks to
//! preview that stored data.

use egui::{Align2, FontId, Id, Painter, Pos2, Rect, Sense, Stroke, vec2};

use super::geometry::{Cubic, cubic_point, edge_route};
use super::{CanvasAction, CanvasState, CardBadges, MAX_ACCESSIBLE_CARDS, SIMPLIFY_BELOW_ZOOM};
use crate::ui::theme;

/// How near (in points) a click must be to an edge's line to be on it.
const REACH: f32 = 6.0;

/// Where an edge's row count sits: the middle of its route.
pub fn label_pos(route: &[Cubic]) -> Pos2 {
    match route {
        [one] => cubic_point(one, 0.5),
        [first, ..] => first[3],
        [] => Pos2::ZERO,
    }
}

/// `1 row`, `12,345 rows`.
pub fn rows_text(n: u64) -> String {
    if n == 1 {
        "1 row".to_owned()
    } else {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        format!("{} rows", crate::model::clip::group_digits(n))
    }
}

/// The shortest distance from `p` to the route, sampled along each curve.
pub fn distance_to_route(route: &[Cubic], p: Pos2) -> f32 {
    const SAMPLES: usize = 24;
    let mut best = f32::INFINITY;
    for cubic in route {
        let mut prev = cubic[0];
        for s in 1..=SAMPLES {
            let next = cubic_point(cubic, s as f32 / SAMPLES as f32);
            best = best.min(distance_to_segment(prev, next, p));
            prev = next;
        }
    }
    best
}

fn distance_to_segment(a: Pos2, b: Pos2, p: Pos2) -> f32 {
    let ab = b - a;
    let len = ab.length_sq();
    if len <= f32::EPSILON {
        return a.distance(p);
    }
    let t = ((p - a).dot(ab) / len).clamp(0.0, 1.0);
    (a + ab * t).distance(p)
}

/// The routes of every edge on screen, with the cards where they are now.
fn routes(state: &CanvasState, rect: Rect) -> Vec<Vec<Cubic>> {
    let geometry = &state.geometry;
    let cards: Vec<Rect> = (0..geometry.nodes.len())
        .map(|i| state.card_rect(rect, geometry, i, &[]))
        .collect();
    geometry
        .edges
        .iter()
        .map(|&(from, to)| edge_route(cards[from], cards[to], state.zoom))
        .collect()
}

/// The edge (its index in the geometry's edges) whose line passes within reach of `p`.
pub fn hit_edge(state: &CanvasState, rect: Rect, p: Pos2) -> Option<usize> {
    if state.zoom < SIMPLIFY_BELOW_ZOOM {
        return None;
    }
    routes(state, rect)
        .iter()
        .enumerate()
        .filter(|(_, route)| {
            route
                .iter()
                .map(|c| Rect::from_points(c))
                .fold(Rect::NOTHING, Rect::union)
                .expand(REACH)
                .contains(p)
        })
        .map(|(i, route)| (i, distance_to_route(route, p)))
        .filter(|(_, d)| *d <= REACH)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// The action a click on edge `i` asks for: preview what flows along it.
pub fn preview_action(state: &CanvasState, i: usize) -> Option<CanvasAction> {
    let &(from, to) = state.geometry.edges.get(i)?;
    // An edge to or from a collapsed group stands for several: expand it to pick one.
    if state.geometry.nodes[from].group.is_some() || state.geometry.nodes[to].group.is_some() {
        return None;
    }
    Some(CanvasAction::PreviewEdge {
        upstream: state.geometry.nodes[from].key.clone(),
        downstream: state.geometry.nodes[to].key.clone(),
    })
}

/// One edge's row count as drawn: its box on screen and its text.
struct Label {
    edge: usize,
    rect: Rect,
    text: String,
}

/// The row counts of the visible edges whose upstream has stored data.
fn labels(painter: &Painter, state: &CanvasState, rect: Rect, badges: &CardBadges) -> Vec<Label> {
    if state.zoom < SIMPLIFY_BELOW_ZOOM || badges.rows.is_empty() {
        return Vec::new();
    }
    let font = FontId::proportional((11.0 * state.zoom).clamp(9.0, 13.0));
    let geometry = &state.geometry;
    let mut out = Vec::new();
    for (i, route) in routes(state, rect).iter().enumerate() {
        let (from, to) = geometry.edges[i];
        if geometry.nodes[from].group.is_some() || geometry.nodes[to].group.is_some() {
            continue;
        }
        let Some((rows, partition)) = badges.rows.get(&geometry.nodes[from].key) else {
            continue;
        };
        let center = label_pos(route);
        if !rect.contains(center) {
            continue;
        }
        // A partitioned asset's newest partition: say which.
        let text = match partition {
            Some(p) => format!("{} · {p}", rows_text(*rows)),
            None => rows_text(*rows),
        };
        let size = painter
            .layout_no_wrap(text.clone(), font.clone(), egui::Color32::WHITE)
            .size();
        out.push(Label {
            edge: i,
            rect: Rect::from_center_size(center, size + vec2(10.0, 4.0)),
            text,
        });
    }
    out
}

/// Draws the row counts on the edges, and registers each as a clickable element named after
/// its edge (`raw_orders to order_history: 1,000 rows`); a click asks to preview the data.
pub fn paint_and_interact(
    ui: &egui::Ui,
    painter: &Painter,
    state: &CanvasState,
    rect: Rect,
    badges: &CardBadges,
    actions: &mut Vec<CanvasAction>,
) {
    let labels = labels(painter, state, rect, badges);
    let visuals = ui.visuals();
    let font = FontId::proportional((11.0 * state.zoom).clamp(9.0, 13.0));
    for label in &labels {
        painter.rect(
            label.rect,
            label.rect.height() / 2.0,
            theme::canvas_background(visuals),
            Stroke::new(1.0, theme::edge_color(visuals)),
            egui::StrokeKind::Inside,
        );
        painter.text(
            label.rect.center(),
            Align2::CENTER_CENTER,
            &label.text,
            font.clone(),
            visuals.text_color(),
        );
    }
    if labels.len() > MAX_ACCESSIBLE_CARDS {
        return;
    }
    let geometry = &state.geometry;
    for label in &labels {
        let (from, to) = geometry.edges[label.edge];
        let (up, down) = (&geometry.nodes[from].key, &geometry.nodes[to].key);
        let id = Id::new(("edge_rows", up.as_str(), down.as_str()));
        let response = ui.interact(label.rect.intersect(rect), id, Sense::click());
        let name = format!("{up} to {down}: {}", label.text);
        response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Button, true, &name));
        let clicked = response
            .on_hover_text(format!(
                "{up}'s stored data holds {}, read by {down}. Click to preview it.",
                label.text
            ))
            .clicked();
        if clicked && let Some(action) = preview_action(state, label.edge) {
            actions.push(action);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::pos2;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(rows_text(0), "0 rows");
        assert_eq!(rows_text(1), "1 row");
        assert_eq!(rows_text(999), "999 rows");
        assert_eq!(rows_text(1_000), "1,000 rows");
        assert_eq!(rows_text(1_234_567), "1,234,567 rows");
    }

    #[test]
    fn a_point_on_the_line_is_on_the_edge_and_one_beside_it_is_not() {
        let from = Rect::from_min_size(pos2(0.0, 0.0), vec2(180.0, 60.0));
        let to = Rect::from_min_size(pos2(380.0, 160.0), vec2(180.0, 60.0));
        let route = edge_route(from, to, 1.0);
        let middle = label_pos(&route);
        assert!(distance_to_route(&route, middle) < 0.5);
        assert!(distance_to_route(&route, middle + vec2(0.0, 20.0)) > REACH);
        assert!(distance_to_route(&route, from.right_center()) < 0.5);
    }
}
