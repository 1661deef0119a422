//! The studio (eframe/egui). This first window opens the workspace's project — the bundled
//! example on first start — and lists its assets by layer with their diagnostics. The canvas
//! editor replaces the asset lists.

mod theme;

use std::path::Path;

use egui::{Color32, RichText};

use crate::app;
use crate::model::{AssetSpec, Diagnostic, Layer, Project};

/// Opens the studio window on the workspace at `workspace_path`. Blocks until the window closes.
pub fn run(workspace_path: &Path) -> anyhow::Result<()> {
    // Loading happens once before the window exists, so the UI thread never waits on SQLite.
    let mut ws = app::open_workspace(workspace_path)?;
    let stored = app::project_to_open(&mut ws)?;
    let state = match stored {
        Some(stored) => {
            let diagnostics = app::validate_project(&stored.project);
            StudioState {
                project: Some(stored.project),
                diagnostics,
                workspace: workspace_path.display().to_string(),
            }
        }
        None => StudioState {
            project: None,
            diagnostics: Vec::new(),
            workspace: workspace_path.display().to_string(),
        },
    };
    let title = match &state.project {
        Some(p) => format!("{} — Medallion", p.name),
        None => "Medallion".to_owned(),
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(&title)
            .with_app_id("medallion")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([640.0, 400.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Medallion",
        options,
        Box::new(|_cc| Ok(Box::new(Studio { state }))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the studio window: {e}"))
}

/// Everything the window shows, loaded before the first frame.
pub struct StudioState {
    pub project: Option<Project>,
    pub diagnostics: Vec<Diagnostic>,
    pub workspace: String,
}

pub struct Studio {
    pub state: StudioState,
}

impl Studio {
    pub fn new(state: StudioState) -> Self {
        Self { state }
    }
}

impl eframe::App for Studio {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        studio_ui(ui, &self.state);
    }
}

/// Draws the whole window from `state`.
pub fn studio_ui(ui: &mut egui::Ui, state: &StudioState) {
    egui::Panel::top("top_bar").show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.heading("Medallion");
            if let Some(p) = &state.project {
                ui.separator();
                ui.label(RichText::new(&p.name).strong());
                if !p.description.is_empty() {
                    ui.label(RichText::new(&p.description).weak());
                }
            }
        });
    });
    egui::Panel::bottom("status_bar").show(ui, |ui| {
        ui.horizontal(|ui| {
            let errors = state.diagnostics.iter().filter(|d| d.is_error()).count();
            let warnings = state.diagnostics.len() - errors;
            let (text, color) = if errors > 0 {
                (
                    format!("{errors} error(s), {warnings} warning(s)"),
                    theme::error_color(),
                )
            } else if warnings > 0 {
                (format!("{warnings} warning(s)"), theme::warning_color())
            } else {
                ("Valid".to_owned(), theme::ok_color())
            };
            ui.label(RichText::new(text).color(color))
                .on_hover_text("Validation of the open project");
            ui.separator();
            ui.label(RichText::new(format!("Workspace: {}", state.workspace)).weak());
        });
    });
    if !state.diagnostics.is_empty() {
        egui::Panel::bottom("diagnostics")
            .resizable(true)
            .show(ui, |ui| {
                ui.label(RichText::new("Diagnostics").strong());
                egui::ScrollArea::vertical()
                    .max_height(160.0)
                    .show(ui, |ui| {
                        for d in &state.diagnostics {
                            let color = if d.is_error() {
                                theme::error_color()
                            } else {
                                theme::warning_color()
                            };
                            ui.label(RichText::new(d.to_string()).color(color));
                        }
                    });
            });
    }
    egui::CentralPanel::default().show(ui, |ui| {
        let Some(project) = &state.project else {
            ui.centered_and_justified(|ui| {
                ui.label("No project yet. Import one with `medallion import PATH`.");
            });
            return;
        };
        ui.columns(3, |columns| {
            for (column, layer) in columns.iter_mut().zip(Layer::ALL) {
                layer_column_ui(column, project, layer);
            }
        });
    });
}

fn layer_column_ui(ui: &mut egui::Ui, project: &Project, layer: Layer) {
    let assets: Vec<&AssetSpec> = project.assets.iter().filter(|a| a.layer == layer).collect();
    ui.horizontal(|ui| {
        let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
        ui.painter()
            .circle_filled(rect.center(), 6.0, theme::layer_color(layer));
        ui.heading(format!("{} ({})", title_case(layer.as_str()), assets.len()));
    });
    ui.add_space(4.0);
    egui::ScrollArea::vertical()
        .id_salt(layer.as_str())
        .show(ui, |ui| {
            for asset in assets {
                asset_card_ui(ui, asset);
            }
        });
}

fn asset_card_ui(ui: &mut egui::Ui, asset: &AssetSpec) {
    egui::Frame::group(ui.style())
        .corner_radius(theme::CARD_ROUNDING)
        .stroke(egui::Stroke::new(1.5, theme::layer_color(asset.layer)))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new(asset.key.as_str()).strong().size(15.0));
            ui.horizontal(|ui| {
                ui.label(RichText::new(asset.kind_label()).monospace());
                if !asset.checks.is_empty() {
                    ui.label(format!("{} check(s)", asset.checks.len()));
                }
                ui.label(RichText::new(format!("compute: {}", asset.compute.tier)).weak());
            });
            if !asset.description.is_empty() {
                ui.label(RichText::new(&asset.description).color(Color32::GRAY));
            }
        });
    ui.add_space(6.0);
}

fn title_case(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}
