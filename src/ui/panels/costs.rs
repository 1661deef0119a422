//! The Costs window: what runs of this project were estimated to cost and what they did cost —
//! per run step side by side, per asset, and per day (cost over time). Read from the workspace
//! by the job worker; remote runs record the figures.

use egui::RichText;

use crate::app::jobs::JobError;
use crate::app::plan::{CostHistory, CostTotal, StepCost, format_duration, format_usd};
use crate::ui::{Studio, theme};

/// Open-window state; `None` on the studio when the window is closed.
#[derive(Debug, Default)]
pub struct CostsState {
    pub history: Option<Result<Box<CostHistory>, JobError>>,
}

fn usd(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_owned(), format_usd)
}

fn totals_ui(ui: &mut egui::Ui, id: &str, first: &str, totals: &[CostTotal]) {
    egui::Grid::new(id)
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for h in [first, "Steps", "Estimated", "Actual"] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for t in totals {
                ui.label(&t.key);
                ui.label(t.steps.to_string());
                ui.label(format_usd(t.est_cost_usd));
                let actual = ui.label(format!("{}: {}", t.key, format_usd(t.actual_cost_usd)));
                if t.unpriced_steps > 0 {
                    actual.on_hover_text(format!(
                        "{} step(s) have no actual cost (a missing price, or not run yet)",
                        t.unpriced_steps
                    ));
                }
                ui.end_row();
            }
        });
}

pub fn costs_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(state) = &studio.windows.costs else {
        return;
    };
    let mut open = true;
    egui::Window::new("Costs")
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_width(640.0)
        .default_pos(ctx.content_rect().center() - egui::vec2(320.0, 260.0))
        .show(ctx, |ui| {
            let history = match &state.history {
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Loading costs…");
                    });
                    return;
                }
                Some(Err(e)) => {
                    ui.label(RichText::new(e.to_string()).color(theme::error_color()));
                    return;
                }
                Some(Ok(h)) => h,
            };
            history_ui(ui, history);
        });
    if !open {
        studio.windows.costs = None;
    }
}

/// The project's totals, per asset, per day and per run step.
fn history_ui(ui: &mut egui::Ui, history: &CostHistory) {
    if history.steps.is_empty() {
        ui.label(
            "No recorded costs yet: remote runs record an estimate and an actual cost per step (local runs cost nothing on AWS)",
        );
        return;
    }
    ui.label(
        RichText::new(format!(
            "Project total: estimated {}, actual {}",
            format_usd(history.total.est_cost_usd),
            format_usd(history.total.actual_cost_usd)
        ))
        .strong(),
    );
    egui::ScrollArea::vertical()
        .max_height(420.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            ui.label(RichText::new("Per asset").strong());
            totals_ui(ui, "costs_per_asset", "Asset", &history.per_asset);
            ui.add_space(6.0);
            ui.label(RichText::new("Per day").strong());
            totals_ui(ui, "costs_per_day", "Day", &history.per_day);
            ui.add_space(6.0);
            ui.label(RichText::new("Run steps: estimate and actual").strong());
            steps_ui(ui, &history.steps);
        });
}

/// Each run step's estimate beside its actual cost, newest first.
fn steps_ui(ui: &mut egui::Ui, steps: &[StepCost]) {
    egui::Grid::new("costs_steps")
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            for h in ["Run", "Asset", "Tier", "Estimate", "Actual"] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for s in steps.iter().rev() {
                ui.label(s.run_id.as_str());
                ui.label(s.asset.as_str());
                ui.label(&s.tier);
                ui.label(format!(
                    "{}{}",
                    usd(s.est_cost_usd),
                    s.est_duration_secs
                        .map(|d| format!(" (~{})", format_duration(d)))
                        .unwrap_or_default()
                ));
                let actual = format!(
                    "{}{}",
                    usd(s.actual_cost_usd),
                    s.actual_duration_secs
                        .map(|d| format!(" ({})", format_duration(d)))
                        .unwrap_or_default()
                );
                match &s.missing_price {
                    Some(m) => ui.label(actual).on_hover_text(format!("missing price {m}")),
                    None => ui.label(actual),
                };
                ui.end_row();
            }
        });
}
