//! The top bar: project name, file actions, edit actions, view actions and the selection box.

use egui::RichText;

use crate::model::AssetSelection;
use crate::ui::{Studio, UICommand};

pub fn toolbar_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    egui::Panel::top("top_bar").show(ui, |ui| {
        // The right-hand buttons are placed first, at the window's right edge; everything else
        // wraps in the width left of them, so nothing is drawn under them at any width.
        // Sized to one row, as `horizontal_wrapped` is: controls are centred in their row.
        let row = egui::vec2(ui.available_width(), ui.spacing().interact_size.y);
        ui.allocate_ui_with_layout(
            row,
            egui::Layout::right_to_left(egui::Align::Center),
            |ui| {
                let theme = if studio.prefs.dark_mode {
                    "Light theme"
                } else {
                    "Dark theme"
                };
                if ui.button(theme).clicked() {
                    studio.push_command(UICommand::ToggleTheme);
                }
                command_button_ui(ui, studio, UICommand::CommandPalette);
                ui.add_space(12.0);
                let rest = egui::vec2(ui.available_width(), ui.spacing().interact_size.y);
                ui.allocate_ui_with_layout(
                    rest,
                    egui::Layout::left_to_right(egui::Align::Center).with_main_wrap(true),
                    |ui| left_of_toolbar_ui(ui, studio),
                );
            },
        );
    });
}

/// The toolbar's controls left of the right-hand buttons, wrapping onto a second row when the
/// window is narrow.
fn left_of_toolbar_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    ui.heading("Medallion");
    ui.separator();
    let name = if studio.workspace.has_project {
        studio.project().name.clone()
    } else {
        "No project open".to_owned()
    };
    let dirty = studio.save_state() != crate::ui::SaveState::Saved;
    let title = if dirty { format!("{name} •") } else { name };
    ui.label(RichText::new(title).strong())
        .on_hover_text("The open project (• = unsaved changes)");
    ui.menu_button("Project", |ui| {
        for command in [
            UICommand::NewProject,
            UICommand::OpenProject,
            UICommand::Save,
            UICommand::ImportProject,
            UICommand::ExportProject,
            UICommand::Deployment,
            UICommand::AuditLog,
            UICommand::Tour,
        ] {
            command_button_ui(ui, studio, command);
        }
    });
    ui.separator();
    command_button_ui(ui, studio, UICommand::AddAsset);
    let undo = studio.doc.undo_label().map(|l| format!("Undo {l}"));
    let redo = studio.doc.redo_label().map(|l| format!("Redo {l}"));
    if ui
        .add_enabled(studio.doc.can_undo(), egui::Button::new("Undo"))
        .on_hover_text(undo.unwrap_or_else(|| "Nothing to undo".to_owned()))
        .clicked()
    {
        studio.push_command(UICommand::Undo);
    }
    if ui
        .add_enabled(studio.doc.can_redo(), egui::Button::new("Redo"))
        .on_hover_text(redo.unwrap_or_else(|| "Nothing to redo".to_owned()))
        .clicked()
    {
        studio.push_command(UICommand::Redo);
    }
    ui.separator();
    command_button_ui(ui, studio, UICommand::ToggleCatalog);
    command_button_ui(ui, studio, UICommand::FitToView);
    if ui
        .button("Auto-arrange")
        .on_hover_text("Arrange every asset in lanes (undoable)")
        .clicked()
    {
        studio.push_command(UICommand::ArrangeAll);
    }
    ui.separator();
    let preview = command_button_ui(ui, studio, UICommand::Preview);
    let materialize = command_button_ui(ui, studio, UICommand::Materialize);
    let targets = &mut studio.windows.tour_targets;
    targets.insert(super::tour::TourTarget::Preview, preview.rect);
    targets.insert(super::tour::TourTarget::Materialize, materialize.rect);
    command_button_ui(ui, studio, UICommand::RunChecks);
    command_button_ui(ui, studio, UICommand::Automation);
    failed_alerts_badge(ui, studio);
    if studio
        .run
        .as_ref()
        .is_some_and(crate::ui::runs::RunView::is_live)
    {
        ui.spinner();
    }
    ui.separator();
    selection_box_ui(ui, studio);
}

/// The count of the project's alert deliveries that failed for good (read from the workspace),
/// when there are any; a click opens them in the Automation window.
fn failed_alerts_badge(ui: &mut egui::Ui, studio: &mut Studio) {
    let Some(n) = studio.automation.failed_count().filter(|n| *n > 0) else {
        return;
    };
    let more = if n >= crate::app::automation::studio::PANEL_FAILED_DELIVERIES {
        "+"
    } else {
        ""
    };
    let text = format!("{n}{more} failed alert(s)");
    let badge = ui
        .add(egui::Button::new(
            RichText::new(&text).color(egui::Color32::WHITE).strong(),
        )
        .fill(crate::ui::theme::error_color()))
        .on_hover_text(
            "Alert deliveries that failed after every attempt: the alerts were not received. Click to see them.",
        );
    badge.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Button, true, &text));
    if badge.clicked() {
        studio.open_failed_deliveries();
    }
}

/// A button for a command, with its shortcut in the tooltip.
pub fn command_button_ui(
    ui: &mut egui::Ui,
    studio: &mut Studio,
    command: UICommand,
) -> egui::Response {
    let shortcut = command.shortcut_text(ui.ctx());
    let mut button = ui.button(command.label());
    if !shortcut.is_empty() {
        button = button.on_hover_text(shortcut);
    }
    if button.clicked() {
        studio.push_command(command);
        ui.close();
    }
    button
}

/// The selection-syntax box: highlights the assets a selection (`+key`, `key+`, `layer:gold`)
/// matches; Enter selects them.
fn selection_box_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let response = ui.add(
        egui::TextEdit::singleline(&mut studio.selection_query.text)
            .hint_text("Selection, e.g. +daily_revenue")
            .desired_width(220.0),
    );
    let response = response.on_hover_text(
        "Asset selection: key, +key, key+, layer:NAME, group:NAME, * — comma for a union",
    );
    let label = "Selection";
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, label));
    if response.changed() {
        update_highlight(studio);
    }
    if response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
        // The Enter is this field's; the canvas must not also read it (it would open the
        // inspector and move the focus there).
        ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Enter));
        update_highlight(studio);
        let keys: Vec<_> = studio.canvas.highlight.iter().cloned().collect();
        if !keys.is_empty() {
            studio.canvas.select(keys);
        }
    }
    // Whole words on one row (a label continuing across the wrap would span the toolbar);
    // a long error is cut, whole on hover.
    if let Some(error) = &studio.selection_query.error {
        ui.add(
            egui::Label::new(
                RichText::new(error)
                    .color(crate::ui::theme::error_color())
                    .small(),
            )
            .truncate(),
        )
        .on_hover_text(error);
    } else if !studio.selection_query.text.trim().is_empty() {
        ui.add(
            egui::Label::new(format!("{} match(es)", studio.canvas.highlight.len()))
                .wrap_mode(egui::TextWrapMode::Extend),
        );
    }
}

fn update_highlight(studio: &mut Studio) {
    let text = studio.selection_query.text.trim().to_owned();
    studio.selection_query.error = None;
    studio.canvas.highlight.clear();
    if text.is_empty() {
        return;
    }
    match AssetSelection::parse(&text)
        .and_then(|s| s.resolve(studio.doc.project(), studio.doc.graph()))
    {
        Ok(keys) => studio.canvas.highlight = keys,
        Err(e) => studio.selection_query.error = Some(e.to_string()),
    }
}
