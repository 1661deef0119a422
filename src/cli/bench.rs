//! `medallion bench …`: benchmarks that print figures (never timing assertions).

use std::time::Instant;

use clap::Subcommand;

use super::{EXIT_OK, OutputFormat, print_json};
use crate::app;
use crate::model::synthetic;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Validate, save and load a generated project (figures in ms, median of several rounds)
    Core {
        /// Assets in the generated project
        #[arg(long, default_value_t = 2000)]
        assets: usize,
        /// Rounds to run; the median is reported
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Studio frame time (CPU: egui pass + tessellation) idle, panning and zooming, and
    /// auto-layout time, on a generated project
    Ui {
        /// Assets in the generated project
        #[arg(long, default_value_t = 2000)]
        assets: usize,
        /// Frames measured per scenario
        #[arg(long, default_value_t = 120)]
        frames: usize,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

pub fn run(which: &BenchCommand) -> anyhow::Result<u8> {
    match which {
        BenchCommand::Ui {
            assets,
            frames,
            format,
        } => {
            let report = crate::ui::bench::run(*assets, (*frames).max(1));
            match format {
                OutputFormat::Json => print_json(&report)?,
                OutputFormat::Text => {
                    let build = if cfg!(debug_assertions) {
                        "debug build"
                    } else {
                        "release build"
                    };
                    println!(
                        "studio frames on {assets} generated assets ({build}, CPU only, 1600×1000)"
                    );
                    for (name, s) in [
                        ("idle", report.frame_ms.idle),
                        ("pan", report.frame_ms.pan),
                        ("zoom", report.frame_ms.zoom),
                    ] {
                        println!(
                            "{name:<5} p50 {:7.2} ms   p95 {:7.2} ms   (goal p95 ≤ 8 ms at 2,000)",
                            s.p50, s.p95
                        );
                    }
                    println!(
                        "layout {:7.2} ms   (goal ≤ 200 ms at 2,000)",
                        report.layout_ms
                    );
                    println!("idle frame vertices: {}", report.idle_vertices);
                }
            }
            Ok(EXIT_OK)
        }
        BenchCommand::Core {
            assets,
            rounds,
            format,
        } => {
            let rounds = (*rounds).max(1);
            let project = synthetic::generate("bench", *assets, 42);
            let dir = std::env::temp_dir().join(format!("medallion-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let ws_path = dir.join("bench.sqlite");
            let mut ws = app::open_workspace(&ws_path)?;
            let (mut validate_ms, mut save_ms, mut load_ms) = (Vec::new(), Vec::new(), Vec::new());
            let mut diagnostics = 0;
            for _ in 0..rounds {
                let t = Instant::now();
                diagnostics = app::validate_project(&project).len();
                validate_ms.push(ms(t));
                let t = Instant::now();
                ws.save_project(&project, None)?;
                save_ms.push(ms(t));
                let t = Instant::now();
                let loaded = app::load_project(&ws, "bench")?;
                load_ms.push(ms(t));
                anyhow::ensure!(
                    loaded.project.assets.len() == *assets,
                    "loaded a different project"
                );
            }
            drop(ws);
            let _ = std::fs::remove_dir_all(&dir);
            let (v, s, l) = (median(validate_ms), median(save_ms), median(load_ms));
            match format {
                OutputFormat::Json => print_json(&serde_json::json!({
                    "assets": assets, "rounds": rounds, "diagnostics": diagnostics,
                    "validate_ms": v, "save_ms": s, "load_ms": l,
                }))?,
                OutputFormat::Text => {
                    println!(
                        "generated project: {assets} assets, {diagnostics} diagnostics, median of {rounds} rounds"
                    );
                    println!("validate  {v:8.2} ms   (goal ≤ 20 ms at 2,000 assets)");
                    println!("save      {s:8.2} ms   (goal ≤ 50 ms)");
                    println!("load      {l:8.2} ms   (goal ≤ 50 ms)");
                }
            }
            Ok(EXIT_OK)
        }
    }
}
