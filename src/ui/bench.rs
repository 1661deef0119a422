//! `medallion bench ui`: CPU time per studio frame (egui pass + tessellation, no GPU) on a
//! generated project, for an idle view, panning and zooming; plus auto-layout time.

use std::time::Instant;

use crate::model::layout::{self, LayoutMode};
use crate::model::{AssetGraph, synthetic};

use super::{Studio, frame_ui};

/// Milliseconds per frame, median and 95th percentile.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct FrameStats {
    pub p50: f64,
    pub p95: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct UiBenchReport {
    pub assets: usize,
    pub frame_ms: FrameMs,
    /// The run materialized while `frame_ms.during_run` was measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunFigures>,
    pub layout_ms: f64,
    /// Vertices tessellated in the last idle frame.
    pub idle_vertices: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FrameMs {
    pub idle: FrameStats,
    pub pan: FrameStats,
    pub zoom: FrameStats,
    /// Frames of the example project's studio while it materializes in the background.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub during_run: Option<FrameStats>,
    /// The same view once the run has ended: the control for `during_run`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_run: Option<FrameStats>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunFigures {
    pub customers: u64,
    pub status: String,
    pub run_secs: f64,
    pub frames: usize,
    pub events: usize,
}

fn stats(mut ms: Vec<f64>) -> FrameStats {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        ms.get(((ms.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    FrameStats {
        p50: at(0.5),
        p95: at(0.95),
    }
}

/// Runs the studio headless on a generated project of `assets` assets; with `with_run`, also
/// measures frames of the example project while it materializes that many customers.
pub fn run(assets: usize, frames: usize, with_run: Option<u64>) -> anyhow::Result<UiBenchReport> {
    let project = synthetic::generate("bench", assets, 42);
    let graph = AssetGraph::build(&project);
    let t = Instant::now();
    let placed = layout::auto_layout(&project, &graph, LayoutMode::All);
    let layout_ms = t.elapsed().as_secs_f64() * 1000.0;
    drop(placed);

    let mut studio = Studio::new(Some(project), "bench".into());
    studio.prefs.show_diagnostics = false;
    let mut h = Headless::new();
    // Warm up: first frames build fonts, geometry and validation.
    for _ in 0..3 {
        h.frame(&mut studio);
    }
    let idle: Vec<f64> = (0..frames).map(|_| h.frame(&mut studio)).collect();
    let idle_vertices = h.vertices;
    // Pan at 100 % zoom, 12 px a frame.
    studio.canvas.zoom = 1.0;
    let pan: Vec<f64> = (0..frames)
        .map(|_| {
            studio.canvas.pan += egui::vec2(-12.0, -6.0);
            h.frame(&mut studio)
        })
        .collect();
    // Zoom out from 120 % to 5 % and back, about the centre.
    studio.canvas.fit_requested = true;
    h.frame(&mut studio);
    let zoom: Vec<f64> = (0..frames)
        .map(|i| {
            let phase = (i as f32 / frames.max(1) as f32) * std::f32::consts::TAU;
            studio.canvas.zoom = 0.05 + 1.15 * (0.5 + 0.5 * phase.cos());
            h.frame(&mut studio)
        })
        .collect();
    let (during_run, after_run, run) = match with_run {
        Some(customers) => {
            let (during, after, figures) = during_run(customers, frames)?;
            (Some(stats(during)), Some(stats(after)), Some(figures))
        }
        None => (None, None, None),
    };
    Ok(UiBenchReport {
        assets,
        frame_ms: FrameMs {
            idle: stats(idle),
            pan: stats(pan),
            zoom: stats(zoom),
            during_run,
            after_run,
        },
        run,
        layout_ms,
        idle_vertices,
    })
}

/// A headless egui context at 1600×1000 and a 60 Hz clock.
struct Headless {
    ctx: egui::Context,
    screen: egui::Rect,
    time: f64,
    /// The vertices the last frame tessellated.
    vertices: usize,
}

impl Headless {
    fn new() -> Self {
        Headless {
            ctx: egui::Context::default(),
            screen: egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1600.0, 1000.0)),
            time: 0.0,
            vertices: 0,
        }
    }

    /// One studio frame (egui pass + tessellation) 1/60 s after the last, in milliseconds.
    fn frame(&mut self, studio: &mut Studio) -> f64 {
        self.time += 1.0 / 60.0;
        let input = egui::RawInput {
            screen_rect: Some(self.screen),
            time: Some(self.time),
            ..Default::default()
        };
        let t = Instant::now();
        let mut output = self.ctx.run_ui(input, |ui| frame_ui(ui, studio));
        // No GPU here: the font atlas updates have nowhere to go.
        output.textures_delta.clear();
        let meshes = self.ctx.tessellate(output.shapes, output.pixels_per_point);
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        self.vertices = meshes
            .iter()
            .map(|m| match &m.primitive {
                egui::epaint::Primitive::Mesh(mesh) => mesh.vertices.len(),
                egui::epaint::Primitive::Callback(_) => 0,
            })
            .sum();
        ms
    }
}

/// Frames of the example project's studio, at a 60 Hz cadence, while it materializes
/// `customers` generated customers on the job worker.
fn during_run(customers: u64, frames: usize) -> anyhow::Result<(Vec<f64>, Vec<f64>, RunFigures)> {
    let dir = std::env::temp_dir().join(format!("medallion-bench-ui-{}", std::process::id()));
    let result = (|| {
        let project_dir =
            crate::app::example_copy_with_sample_data(&dir.join("project"), customers, 42)?;
        let ws_path = dir.join("ws.sqlite");
        let project = {
            let mut ws = crate::app::open_workspace(&ws_path)?;
            let report = crate::app::import_project(&mut ws, &project_dir, true, false)?;
            crate::app::load_project(&ws, &report.name)?.project
        };
        let mut studio = Studio::with_workspace(Some(project), &ws_path)?;
        let mut h = Headless::new();
        for _ in 0..3 {
            h.frame(&mut studio);
        }
        if !studio.materialize_all() {
            anyhow::bail!("the run did not start");
        }
        let started = Instant::now();
        let mut ms = Vec::new();
        let frame_budget = std::time::Duration::from_micros(16_667);
        while studio.run.as_ref().is_some_and(|r| !r.done) {
            let t = Instant::now();
            ms.push(h.frame(&mut studio));
            if let Some(rest) = frame_budget.checked_sub(t.elapsed()) {
                std::thread::sleep(rest);
            }
        }
        let run_secs = started.elapsed().as_secs_f64();
        let after: Vec<f64> = (0..frames).map(|_| h.frame(&mut studio)).collect();
        let view = studio.run.as_ref();
        let figures = RunFigures {
            customers,
            status: view
                .and_then(|r| r.status)
                .map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
            run_secs,
            frames: ms.len(),
            events: view.map_or(0, |r| r.logs.len()),
        };
        studio.shut_down();
        Ok((ms, after, figures))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
