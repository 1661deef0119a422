//! The workbench's partition strip: every partition of the selected partitioned asset (its
//! days or keys) as one strip coloured by where each stands in the workspace — materialized,
//! stale, failed, missing. Many partitions share a pixel column, drawn in the state that needs
//! attention most, so 10,000 partitions draw as fast as 100. Dragging across the strip picks a
//! range; "Backfill…" opens Materialize on it, which shows the plan and its cost (locally or on
//! AWS) before anything runs. While the backfill runs, the strip stays in view and colours each
//! partition from the run's own events as it goes — queued, running, materialized, failed —
//! over what the workspace holds; the strip is read again whenever the asset states are
//! (after every run), so what it shows after the backfill is what was stored.

use std::fmt::Write as _;

use egui::{Color32, Id, Rect, RichText, Sense, Stroke, pos2, vec2};

use crate::app::jobs::{JobError, JobRequest};
use crate::app::partitions::{PartitionState, PartitionStrip};
use crate::model::AssetKey;
use crate::ui::runs::{PartitionProgress, RunView};
use crate::ui::workbench_state::{LaunchScope, WorkbenchTab};
use crate::ui::{Studio, theme};

/// The strip's height.
const STRIP_HEIGHT: f32 = 28.0;
/// Cells at least this wide get an accessible element each (key and state).
const ACCESSIBLE_CELL: f32 = 4.0;
const MAX_ACCESSIBLE_CELLS: usize = 400;

/// The strip of one asset: what was asked, what arrived, what is picked.
#[derive(Debug, Default)]
pub struct PartitionsView {
    /// The asset the strip is (being) read for.
    pub asset: Option<AssetKey>,
    request_id: u64,
    /// The strip, or why it could not be read.
    pub strip: Option<Result<Box<PartitionStrip>, JobError>>,
    /// The asset states changed since (a run ended): read the strip again.
    pub stale: bool,
    /// The picked partitions, first and last index (inclusive).
    pub picked: Option<(usize, usize)>,
    /// Where a drag across the strip started.
    drag_from: Option<usize>,
    /// The state drawn in each pixel column, and the width, strip and live progress it was
    /// made for.
    columns: Vec<CellState>,
    columns_for: Option<(usize, usize, Option<u64>)>,
    /// Counts the strips received (the columns are made again for a new one).
    version: usize,
    /// Each partition with a backfill's live progress over it, and the strip version and run
    /// revision it was made for.
    live_cells: Vec<CellState>,
    live_for: Option<(usize, u64)>,
    /// The strip version in view when the live run was first seen finished: its progress is
    /// drawn until the strip is read again.
    run_done_at: Option<usize>,
}

/// What one cell of the strip shows: what the workspace holds, or a backfill's progress on it
/// (a partition materialized or failed in the run shows as such before the strip is read
/// again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellState {
    Stored(PartitionState),
    /// Asked for by the backfill, not started yet.
    Queued,
    Running,
}

impl CellState {
    pub fn as_str(self) -> &'static str {
        match self {
            CellState::Stored(s) => s.as_str(),
            CellState::Queued => "queued",
            CellState::Running => "running",
        }
    }

    /// Which of several partitions drawn as one shows.
    fn urgency(self) -> u8 {
        match self {
            CellState::Stored(PartitionState::Failed) => 5,
            CellState::Running => 4,
            CellState::Stored(PartitionState::Stale) => 3,
            CellState::Queued => 2,
            CellState::Stored(PartitionState::Missing) => 1,
            CellState::Stored(PartitionState::Materialized) => 0,
        }
    }
}

impl PartitionsView {
    /// A view showing `strip` (tests and the benchmark, without a workspace).
    pub fn showing(strip: PartitionStrip) -> Self {
        Self {
            asset: Some(strip.asset.clone()),
            strip: Some(Ok(Box::new(strip))),
            version: 1,
            ..Self::default()
        }
    }

    /// The job worker's answer to request `id`.
    pub fn on_strip(&mut self, id: u64, result: Result<Box<PartitionStrip>, JobError>) {
        if id != self.request_id {
            return;
        }
        // A pick stays while it still fits the partitions.
        let keys = result.as_ref().map_or(0, |s| s.keys.len());
        if self.picked.is_some_and(|(_, last)| last >= keys) {
            self.picked = None;
        }
        self.strip = Some(result);
        self.version += 1;
    }

    /// The state of each of `width` pixel columns: the most urgent of the partitions it covers
    /// (`live`: the revision of the live progress drawn over the strip).
    fn columns(&mut self, cells: &[CellState], width: usize, live: Option<u64>) -> &[CellState] {
        if self.columns_for != Some((width, self.version, live)) {
            self.columns = bin(
                cells,
                width,
                CellState::urgency,
                CellState::Stored(PartitionState::Missing),
            );
            self.columns_for = Some((width, self.version, live));
        }
        &self.columns
    }

    /// The strip's partitions with the live run's progress over them, when the run is a live
    /// one that touched this asset and its progress is newer than the strip.
    fn live(&mut self, run: Option<&RunView>, strip: &PartitionStrip) -> Option<Live> {
        let run = run.filter(|r| r.started.is_some())?;
        if run.done {
            if self.run_done_at.is_none() {
                self.run_done_at = Some(self.version);
            }
            if self.run_done_at != Some(self.version) {
                return None;
            }
        } else {
            self.run_done_at = None;
        }
        let progress = run.partition_progress.get(&strip.asset);
        let planned: &[String] = if run.plan.contains(&strip.asset) {
            &run.planned_partitions
        } else {
            &[]
        };
        if progress.is_none_or(std::collections::BTreeMap::is_empty) && planned.is_empty() {
            return None;
        }
        let empty = std::collections::BTreeMap::new();
        let progress = progress.unwrap_or(&empty);
        if self.live_for != Some((self.version, run.partition_revision)) {
            let index: std::collections::HashMap<&str, usize> = strip
                .keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.as_str(), i))
                .collect();
            let mut cells: Vec<CellState> =
                strip.states.iter().map(|s| CellState::Stored(*s)).collect();
            if !run.done {
                for p in planned {
                    if let Some(&i) = index.get(p.as_str()) {
                        cells[i] = CellState::Queued;
                    }
                }
            }
            for (p, state) in progress {
                if let Some(&i) = index.get(p.as_str()) {
                    cells[i] = match state {
                        PartitionProgress::Running if run.done => cells[i],
                        PartitionProgress::Running => CellState::Running,
                        PartitionProgress::Materialized => {
                            CellState::Stored(PartitionState::Materialized)
                        }
                        PartitionProgress::Failed => CellState::Stored(PartitionState::Failed),
                    };
                }
            }
            self.live_cells = cells;
            self.live_for = Some((self.version, run.partition_revision));
        }
        let count = |want: PartitionProgress| progress.values().filter(|p| **p == want).count();
        let (materialized, failed, running) = (
            count(PartitionProgress::Materialized),
            count(PartitionProgress::Failed),
            count(PartitionProgress::Running),
        );
        let total = planned.len().max(progress.len());
        let mut summary = if run.done {
            format!("Backfill finished: {materialized} materialized, {failed} failed")
        } else {
            format!(
                "Backfill in progress: {} of {total} partition{} done",
                materialized + failed,
                if total == 1 { "" } else { "s" }
            )
        };
        if !run.done {
            for (n, what) in [(running, "running"), (failed, "failed")] {
                if n > 0 {
                    let _ = write!(summary, " · {n} {what}");
                }
            }
        }
        if run.done && materialized + failed < total {
            let _ = write!(summary, " · {} not built", total - materialized - failed);
        }
        Some(Live {
            revision: run.partition_revision,
            summary,
        })
    }
}

/// A backfill's progress drawn over the strip: its revision and its summary line.
struct Live {
    revision: u64,
    summary: String,
}

/// `states` drawn in at most `width` columns: each column the state of the partitions it covers
/// that `urgency` ranks highest.
fn bin<T: Copy>(states: &[T], width: usize, urgency: fn(T) -> u8, empty: T) -> Vec<T> {
    let n = states.len();
    let columns = n.min(width.max(1));
    (0..columns)
        .map(|c| {
            let (a, b) = (
                c * n / columns,
                ((c + 1) * n / columns).max(c * n / columns + 1),
            );
            states[a..b.min(n)]
                .iter()
                .copied()
                .max_by_key(|s| urgency(*s))
                .unwrap_or(empty)
        })
        .collect()
}

/// The partitions `states` drawn in at most `width` columns: each column the most urgent state
/// of the partitions it covers.
pub fn bin_states(states: &[PartitionState], width: usize) -> Vec<PartitionState> {
    bin(
        states,
        width,
        PartitionState::urgency,
        PartitionState::Missing,
    )
}

fn cell_color(ui: &egui::Ui, cell: CellState) -> Color32 {
    match cell {
        CellState::Stored(s) => state_color(ui, s),
        CellState::Running => theme::running_color(),
        // The missing grey, lighter or darker: asked for, not started.
        CellState::Queued => {
            if ui.visuals().dark_mode {
                Color32::from_gray(130)
            } else {
                Color32::from_gray(160)
            }
        }
    }
}

fn state_color(ui: &egui::Ui, state: PartitionState) -> Color32 {
    match state {
        PartitionState::Materialized => theme::ok_color(),
        PartitionState::Stale => theme::warning_color(),
        PartitionState::Failed => theme::error_color(),
        // Grey that stands apart from the panel behind it, in both themes.
        PartitionState::Missing => {
            if ui.visuals().dark_mode {
                Color32::from_gray(88)
            } else {
                Color32::from_gray(196)
            }
        }
    }
}

impl Studio {
    /// Asks for the strip of the selected asset when the Partitions tab is in view and the
    /// asset changed, or the asset states did (a run ended).
    pub(crate) fn refresh_partitions(&mut self) {
        let in_view = self.workbench.open && self.workbench.tab == WorkbenchTab::Partitions;
        if !in_view || !self.backend.has_workspace() {
            return;
        }
        let selected = self
            .canvas
            .single_selection()
            .filter(|k| {
                self.project()
                    .asset(k)
                    .is_some_and(|a| a.partitions.is_partitioned())
            })
            .cloned();
        let view = &self.workbench.partitions;
        if selected == view.asset && !view.stale {
            return;
        }
        let Some(asset) = selected else {
            self.workbench.partitions = PartitionsView::default();
            return;
        };
        let id = self.next_request_id();
        let project = Box::new(self.project().clone());
        if self.send_job(JobRequest::PartitionStrip {
            id,
            project,
            asset: asset.clone(),
        }) {
            let view = &mut self.workbench.partitions;
            if view.asset.as_ref() != Some(&asset) {
                *view = PartitionsView::default();
            }
            view.asset = Some(asset);
            view.request_id = id;
            view.stale = false;
        }
    }

    /// "Backfill…": Materialize on the picked partitions of the asset, which shows the plan
    /// and what it costs before anything runs.
    fn backfill(&mut self, asset: AssetKey, from: String, to: String) {
        self.canvas.select([asset]);
        self.open_launch();
        if let Some(launch) = &mut self.workbench.launch {
            launch.scope = LaunchScope::Selected;
            launch.from = from;
            launch.to = to;
        }
    }
}

/// The Partitions tab.
pub fn partitions_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let view = &mut studio.workbench.partitions;
    let Some(asset) = view.asset.clone() else {
        ui.label(
            RichText::new(
                "Select a partitioned asset to see its partitions: each day or key coloured by what is stored.",
            )
            .weak(),
        );
        return;
    };
    // Taken out while drawn (a copy of 10,000 keys per frame would cost), put back below.
    let strip = match view.strip.take() {
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("Reading the partitions of {asset}…"));
            });
            return;
        }
        Some(Err(e)) => {
            ui.label(
                RichText::new(format!("Cannot read the partitions of {asset}: {e}"))
                    .color(theme::error_color()),
            );
            view.strip = Some(Err(e));
            return;
        }
        Some(Ok(strip)) => strip,
    };
    let live = view.live(studio.run.as_ref(), &strip);
    summary_ui(ui, &strip);
    let mut show_run = false;
    if let Some(live) = &live {
        ui.horizontal(|ui| {
            if !studio.run.as_ref().is_some_and(|r| r.done) {
                ui.spinner();
            }
            ui.label(RichText::new(&live.summary).strong());
            show_run = ui
                .small_button("Show run")
                .on_hover_text("The run view: its steps, logs and checks")
                .clicked();
        });
    }
    strip_ui(ui, view, &strip, live.as_ref().map(|l| l.revision));
    let backfill = picked_ui(ui, view, &strip);
    view.strip = Some(Ok(strip));
    if show_run {
        studio.workbench.tab = WorkbenchTab::Run;
    }
    if let Some((from, to)) = backfill {
        studio.backfill(asset, from, to);
    }
}

/// "Partitions of A: N · x materialized · …" and the legend.
fn summary_ui(ui: &mut egui::Ui, strip: &PartitionStrip) {
    let counts = strip.counts();
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(format!(
                "Partitions of {}: {}",
                strip.asset,
                crate::model::clip::group_digits(strip.keys.len())
            ))
            .strong(),
        );
        for state in PartitionState::ALL {
            let (dot, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
            ui.painter().rect_filled(dot, 2.0, state_color(ui, state));
            let n = counts.get(state.as_str()).copied().unwrap_or(0);
            ui.label(format!(
                "{} {}",
                crate::model::clip::group_digits(n),
                state.as_str()
            ));
        }
    });
}

/// The strip itself: drawn per pixel column; a drag picks a range, a click one partition.
fn strip_ui(
    ui: &mut egui::Ui,
    view: &mut PartitionsView,
    strip: &PartitionStrip,
    live: Option<u64>,
) {
    let n = strip.keys.len();
    if n == 0 {
        ui.label(RichText::new("The asset has no partitions yet.").weak());
        return;
    }
    let (rect, response) = ui.allocate_exact_size(
        vec2(ui.available_width(), STRIP_HEIGHT),
        Sense::click_and_drag(),
    );
    let label = format!("Partitions of {}", strip.asset);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Other, true, &label));
    let index_at = |x: f32| {
        (((x - rect.left()) / rect.width()) * n as f32)
            .floor()
            .clamp(0.0, (n - 1) as f32) as usize
    };
    let width = rect.width().max(1.0) as usize;
    let cells: Vec<CellState> = match live {
        Some(_) if view.live_cells.len() == n => std::mem::take(&mut view.live_cells),
        _ => strip.states.iter().map(|s| CellState::Stored(*s)).collect(),
    };
    let columns = view.columns(&cells, width, live).to_vec();
    let column_width = rect.width() / columns.len() as f32;
    let painter = ui.painter_at(rect);
    for (c, state) in columns.iter().enumerate() {
        let x = rect.left() + c as f32 * column_width;
        let cell = Rect::from_min_max(pos2(x, rect.top()), pos2(x + column_width, rect.bottom()));
        // A gap between wide cells keeps neighbours apart.
        let cell = if column_width >= 6.0 {
            cell.shrink2(vec2(1.0, 0.0))
        } else {
            cell
        };
        painter.rect_filled(cell, 0.0, cell_color(ui, *state));
    }
    if let Some((a, b)) = view.picked {
        let x = |i: usize| rect.left() + rect.width() * i as f32 / n as f32;
        let picked = Rect::from_min_max(pos2(x(a), rect.top()), pos2(x(b + 1), rect.bottom()));
        painter.rect_stroke(
            picked.expand(1.0),
            2.0,
            Stroke::new(2.0, ui.visuals().selection.stroke.color),
            egui::StrokeKind::Outside,
        );
    }
    // A drag starts where the button went down, not where it had moved to by then.
    if response.drag_started()
        && let Some(p) = ui.input(|i| i.pointer.press_origin())
    {
        view.drag_from = Some(index_at(p.x));
    }
    if let (Some(from), Some(p)) = (view.drag_from, response.interact_pointer_pos())
        && (response.dragged() || response.drag_stopped())
    {
        let to = index_at(p.x);
        view.picked = Some((from.min(to), from.max(to)));
        if response.drag_stopped() {
            view.drag_from = None;
        }
    }
    if response.clicked()
        && let Some(p) = response.interact_pointer_pos()
    {
        let i = index_at(p.x);
        view.picked = Some((i, i));
    }
    if let Some(p) = response.hover_pos() {
        let c = (((p.x - rect.left()) / column_width) as usize).min(columns.len() - 1);
        let (a, b) = (
            c * n / columns.len(),
            ((c + 1) * n / columns.len()).max(c * n / columns.len() + 1) - 1,
        );
        response.on_hover_text(hover_text(strip, &cells, a, b.min(n - 1)));
    }
    accessible_cells(ui, strip, &cells, rect);
    if live.is_some() {
        view.live_cells = cells;
    }
}

/// What the pointer is over: one partition and its state, or a range and its counts.
fn hover_text(strip: &PartitionStrip, cells: &[CellState], a: usize, b: usize) -> String {
    if a == b {
        return format!("{}: {}", strip.keys[a], cells[a].as_str());
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for c in &cells[a..=b] {
        match counts.iter_mut().find(|(s, _)| *s == c.as_str()) {
            Some((_, n)) => *n += 1,
            None => counts.push((c.as_str(), 1)),
        }
    }
    format!(
        "{} to {}: {}",
        strip.keys[a],
        strip.keys[b],
        counts
            .iter()
            .map(|(s, n)| format!("{} {s}", crate::model::clip::group_digits(*n)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn counts_text(states: &[PartitionState]) -> String {
    PartitionState::ALL
        .iter()
        .filter_map(|s| {
            let n = states.iter().filter(|x| *x == s).count();
            (n > 0).then(|| format!("{} {}", crate::model::clip::group_digits(n), s.as_str()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One accessible element per partition when the cells are wide enough to point at.
fn accessible_cells(ui: &egui::Ui, strip: &PartitionStrip, cells: &[CellState], rect: Rect) {
    let n = strip.keys.len();
    let cell = rect.width() / n as f32;
    if n > MAX_ACCESSIBLE_CELLS || cell < ACCESSIBLE_CELL {
        return;
    }
    for (i, key) in strip.keys.iter().enumerate() {
        let r = Rect::from_min_size(
            pos2(rect.left() + i as f32 * cell, rect.top()),
            vec2(cell, rect.height()),
        );
        let response = ui.interact(r, Id::new(("partition_cell", i)), Sense::hover());
        let text = format!("{key}: {}", cells[i].as_str());
        response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &text));
    }
}

/// The picked range with its counts and "Backfill…"; the range to backfill when clicked.
fn picked_ui(
    ui: &mut egui::Ui,
    view: &mut PartitionsView,
    strip: &PartitionStrip,
) -> Option<(String, String)> {
    let Some((a, b)) = view.picked else {
        ui.label(
            RichText::new("Drag across the strip to pick partitions to backfill; click for one.")
                .weak(),
        );
        return None;
    };
    let count = b - a + 1;
    let mut backfill = None;
    ui.horizontal(|ui| {
        let range = if a == b {
            strip.keys[a].clone()
        } else {
            format!("{} to {}", strip.keys[a], strip.keys[b])
        };
        ui.label(format!(
            "Picked {range}: {} ({})",
            if count == 1 {
                "1 partition".to_owned()
            } else {
                format!("{} partitions", crate::model::clip::group_digits(count))
            },
            counts_text(&strip.states[a..=b])
        ));
        let button = if count == 1 {
            "Backfill 1 partition…".to_owned()
        } else {
            format!("Backfill {count} partitions…")
        };
        if ui
            .button(button)
            .on_hover_text("Open Materialize on these partitions: the plan and its cost come first")
            .clicked()
        {
            let to = if a == b {
                String::new()
            } else {
                strip.keys[b].clone()
            };
            backfill = Some((strip.keys[a].clone(), to));
        }
        if ui.small_button("Clear").clicked() {
            view.picked = None;
        }
    });
    backfill
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::partitions::PartitionState::{Failed, Materialized, Missing, Stale};

    #[test]
    fn a_column_shows_the_most_urgent_state_it_covers() {
        let states = [
            Materialized,
            Missing,
            Materialized,
            Stale,
            Materialized,
            Failed,
        ];
        assert_eq!(bin_states(&states, 3), [Missing, Stale, Failed]);
        assert_eq!(bin_states(&states, 100), states);
        assert_eq!(bin_states(&states, 1), [Failed]);
        let many = vec![Materialized; 10_000];
        assert_eq!(bin_states(&many, 1200).len(), 1200);
    }
}
