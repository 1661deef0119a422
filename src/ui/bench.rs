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
    pub layout_ms: f64,
    /// Vertices tessellated in the last idle frame.
    pub idle_vertices: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FrameMs {
    pub idle: FrameStats,
    pub pan: FrameStats,
    pub zoom: FrameStats,
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

/// Runs the studio headless on a generated project of `assets` assets.
pub fn run(assets: usize, frames: usize) -> UiBenchReport {
    let project = synthetic::generate("bench", assets, 42);
    let graph = AssetGraph::build(&project);
    let t = Instant::now();
    let placed = layout::auto_layout(&project, &graph, LayoutMode::All);
    let layout_ms = t.elapsed().as_secs_f64() * 1000.0;
    drop(placed);

    let ctx = egui::Context::default();
    let mut studio = Studio::new(Some(project), "bench".into());
    studio.prefs.show_diagnostics = false;
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1600.0, 1000.0));
    let mut time = 0.0;
    let mut frame = |studio: &mut Studio, vertices: &mut usize| {
        time += 1.0 / 60.0;
        let input = egui::RawInput {
            screen_rect: Some(screen),
            time: Some(time),
            ..Default::default()
        };
        let t = Instant::now();
        let mut output = ctx.run_ui(input, |ui| frame_ui(ui, studio));
        // No GPU here: the font atlas updates have nowhere to go.
        output.textures_delta.clear();
        let meshes = ctx.tessellate(output.shapes, output.pixels_per_point);
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        *vertices = meshes
            .iter()
            .map(|m| match &m.primitive {
                egui::epaint::Primitive::Mesh(mesh) => mesh.vertices.len(),
                egui::epaint::Primitive::Callback(_) => 0,
            })
            .sum();
        ms
    };
    let mut vertices = 0;
    // Warm up: first frames build fonts, geometry and validation.
    for _ in 0..3 {
        frame(&mut studio, &mut vertices);
    }
    let idle: Vec<f64> = (0..frames)
        .map(|_| frame(&mut studio, &mut vertices))
        .collect();
    let idle_vertices = vertices;
    // Pan at 100 % zoom, 12 px a frame.
    studio.canvas.zoom = 1.0;
    let pan: Vec<f64> = (0..frames)
        .map(|_| {
            studio.canvas.pan += egui::vec2(-12.0, -6.0);
            frame(&mut studio, &mut vertices)
        })
        .collect();
    // Zoom out from 120 % to 5 % and back, about the centre.
    studio.canvas.fit_requested = true;
    frame(&mut studio, &mut vertices);
    let zoom: Vec<f64> = (0..frames)
        .map(|i| {
            let phase = (i as f32 / frames.max(1) as f32) * std::f32::consts::TAU;
            studio.canvas.zoom = 0.05 + 1.15 * (0.5 + 0.5 * phase.cos());
            frame(&mut studio, &mut vertices)
        })
        .collect();
    UiBenchReport {
        assets,
        frame_ms: FrameMs {
            idle: stats(idle),
            pan: stats(pan),
            zoom: stats(zoom),
        },
        layout_ms,
        idle_vertices,
    }
}
