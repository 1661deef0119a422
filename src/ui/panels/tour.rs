//! The short guided tour on first start: five steps naming the lanes, the inspector, preview,
//! materialize and the plan. It waits for a project to be open, can be skipped at any step,
//! and once finished or skipped is not offered again (the preferences remember it across
//! restarts); "Take the tour" starts it again on request. Each step outlines what it names on
//! screen: the lanes, the inspector, Preview, Materialize….

use egui::RichText;

use crate::ui::Studio;

/// What a step of the tour names, outlined on screen while the step is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TourTarget {
    Lanes,
    Inspector,
    Preview,
    Materialize,
}

impl TourTarget {
    fn name(self) -> &'static str {
        match self {
            TourTarget::Lanes => "the lanes",
            TourTarget::Inspector => "the inspector",
            TourTarget::Preview => "Preview",
            TourTarget::Materialize => "Materialize…",
        }
    }
}

/// What each step points at (the plan is shown by Materialize…).
pub const TARGETS: [TourTarget; 5] = [
    TourTarget::Lanes,
    TourTarget::Inspector,
    TourTarget::Preview,
    TourTarget::Materialize,
    TourTarget::Materialize,
];

/// Which card of the tour is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TourState {
    pub step: usize,
}

/// Each card: its title and what it says.
pub const STEPS: [(&str, &str); 5] = [
    (
        "The lanes",
        "Each card on the canvas is an asset, in its layer's lane: bronze reads raw data, silver \
         cleans it, gold makes the tables people use. An edge says which asset reads which: drag \
         from a card's right side to another card to add one.",
    ),
    (
        "The inspector",
        "On the right, the inspector shows the selected asset: its source or SQL, columns, checks \
         and compute. Edits are saved as you go and undone with Ctrl+Z.",
    ),
    (
        "Preview the data",
        "Select a card and press Preview (Ctrl+P): its first rows appear in the workbench below, \
         computed in the background from the upstream data already stored.",
    ),
    (
        "Materialize assets",
        "Materialize… (Ctrl+M) runs the selected assets, with their upstream or downstream if you \
         like, here or on AWS once an AWS account is added in Connections…. Every run is kept in \
         Run history.",
    ),
    (
        "The plan",
        "Before anything runs, the Materialize dialog shows the plan: which steps compute and \
         which are up to date, where each asset would run (local, Lambda, Fargate, Batch or EKS), \
         why, and what it would cost.",
    ),
];

impl Studio {
    /// Starts the tour unless it was finished or skipped before (the window calls this once
    /// at start, after reading the preferences).
    pub fn offer_tour(&mut self) {
        if !self.prefs.tour_done {
            self.windows.tour = Some(TourState::default());
        }
    }

    /// Ends the tour (finished or skipped): it is not offered again.
    pub fn end_tour(&mut self) {
        self.windows.tour = None;
        self.prefs.tour_done = true;
    }
}

/// The tour's card, over the inspector's top, once a project is open.
pub fn tour_ui(ctx: &egui::Context, studio: &mut Studio) {
    if !studio.workspace.has_project {
        return;
    }
    let Some(mut tour) = studio.windows.tour else {
        return;
    };
    let step = tour.step.min(STEPS.len() - 1);
    let (title, text) = STEPS[step];
    highlight_ui(ctx, studio, TARGETS[step]);
    let mut end = false;
    egui::Window::new("Tour")
        .id(egui::Id::new("tour"))
        .title_bar(false)
        .collapsible(false)
        .resizable(false)
        // One size for every step: the buttons stay where they were.
        .fixed_size(egui::vec2(330.0, 250.0))
        // Over the inspector's top, empty until a card is selected: the cards stay in view.
        .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-12.0, 84.0))
        .order(egui::Order::Foreground)
        .show(ctx, |ui| {
            ui.label(RichText::new(format!("Tour · {} of {}", step + 1, STEPS.len())).weak());
            ui.heading(title);
            // The text takes the same room at every step, so the buttons do not move.
            ui.allocate_ui_with_layout(
                egui::vec2(ui.available_width(), 140.0),
                egui::Layout::top_down(egui::Align::LEFT),
                |ui| {
                    ui.set_min_height(140.0);
                    ui.add(egui::Label::new(text).wrap());
                },
            );
            ui.horizontal(|ui| {
                if step > 0 && ui.button("Back").clicked() {
                    tour.step = step - 1;
                }
                let last = step + 1 == STEPS.len();
                if ui.button(if last { "Done" } else { "Next" }).clicked() {
                    if last {
                        end = true;
                    } else {
                        tour.step = step + 1;
                    }
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui
                        .button("Skip tour")
                        .on_hover_text("Close the tour; it will not open again")
                        .clicked()
                    {
                        end = true;
                    }
                });
            });
        });
    if end {
        studio.end_tour();
    } else {
        studio.windows.tour = Some(tour);
    }
}

/// Outlines what the step names, where this frame drew it, over everything but the tour's card;
/// an accessible element (`Tour highlight: Preview`) says what is outlined.
fn highlight_ui(ctx: &egui::Context, studio: &Studio, target: TourTarget) {
    let Some(rect) = studio.windows.tour_targets.get(&target).copied() else {
        return;
    };
    let rect = rect.expand(3.0);
    let color = crate::ui::theme::highlight_color();
    egui::Area::new(egui::Id::new(("tour_highlight", target)))
        .fixed_pos(rect.min)
        .constrain(false)
        .order(egui::Order::Foreground)
        .interactable(false)
        .show(ctx, |ui| {
            let (area, response) = ui.allocate_exact_size(rect.size(), egui::Sense::hover());
            ui.painter().rect_stroke(
                area,
                6.0,
                egui::Stroke::new(3.0, color),
                egui::StrokeKind::Outside,
            );
            let label = format!("Tour highlight: {}", target.name());
            response
                .widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Other, true, &label));
        });
}
