//! The canvas's context menu: on a card, what a Dagster or KNIME user reaches for on a node
//! (preview, materialize it alone or with its upstream or downstream, run its checks, see its
//! lineage, copy its key) and the edits (inspect, rename, duplicate, delete); on the background, adding an asset.
//! Every entry is a [`UICommand`] on the selection, with the same shortcut as elsewhere.

use super::{CanvasAction, CanvasState, snap};
use crate::model::CanvasPos;
use crate::model::edit::Edit;
use crate::ui::UICommand;

/// The node actions, in menu order; a `None` is a separator.
const CARD_ENTRIES: [Option<UICommand>; 15] = [
    Some(UICommand::Preview),
    Some(UICommand::MaterializeSelected),
    Some(UICommand::MaterializeWithUpstream),
    Some(UICommand::MaterializeWithDownstream),
    Some(UICommand::RunChecks),
    None,
    Some(UICommand::ShowInCatalog),
    Some(UICommand::Lineage),
    Some(UICommand::CopyKey),
    None,
    Some(UICommand::Inspect),
    Some(UICommand::Rename),
    Some(UICommand::Duplicate),
    None,
    Some(UICommand::Delete),
];

/// What a collapsed group's card offers: expanding it, and the node actions on all its assets.
const GROUP_ENTRIES: [UICommand; 4] = [
    UICommand::MaterializeSelected,
    UICommand::MaterializeWithUpstream,
    UICommand::MaterializeWithDownstream,
    UICommand::RunChecks,
];

pub(super) fn context_menu(
    state: &mut CanvasState,
    response: &egui::Response,
    actions: &mut Vec<CanvasAction>,
) {
    let target = state.context_target;
    let note_id = state.context_note.clone();
    // Where the menu was opened (the pointer has moved on to the menu since).
    let at = state.context_pos;
    let card = target.and_then(|i| state.geometry.nodes.get(i));
    let group = card.and_then(|n| n.group.as_ref()).map(|g| g.name.clone());
    let member_of = card
        .filter(|n| n.group.is_none())
        .and_then(|n| n.member_of.clone());
    let collapsed_any = || state.geometry.nodes.iter().any(|n| n.group.is_some());
    response.context_menu(|ui| {
        if let Some(id) = &note_id {
            if ui.button("Edit note…").clicked() {
                // The editor reads the note's text and place from the project.
                actions.push(CanvasAction::EditNote {
                    id: Some(id.clone()),
                    pos: state.view_center(),
                });
                ui.close();
            }
            if ui.button("Delete note").clicked() {
                actions.push(CanvasAction::Apply(Edit::RemoveNote { id: id.clone() }));
                ui.close();
            }
        } else if let Some(name) = &group {
            if ui.button("Expand group").clicked() {
                actions.push(CanvasAction::Apply(Edit::SetGroupsCollapsed {
                    groups: vec![name.clone()],
                    collapsed: false,
                }));
                ui.close();
            }
            ui.separator();
            for command in GROUP_ENTRIES {
                command_entry(ui, command, actions);
            }
        } else if target.is_some() {
            for entry in CARD_ENTRIES {
                let Some(command) = entry else {
                    ui.separator();
                    continue;
                };
                command_entry(ui, command, actions);
            }
            if let Some(name) = &member_of {
                ui.separator();
                let label = format!("Collapse group {name}");
                if ui
                    .button(&label)
                    .on_hover_text("Draw the group's assets as one card (undoable)")
                    .clicked()
                {
                    actions.push(CanvasAction::Apply(Edit::SetGroupsCollapsed {
                        groups: vec![name.clone()],
                        collapsed: true,
                    }));
                    ui.close();
                }
            }
        } else {
            let pos = at.map_or_else(
                || state.view_center(),
                |c| CanvasPos {
                    x: snap(c.x),
                    y: snap(c.y),
                },
            );
            if ui.button("Add asset here…").clicked() {
                actions.push(CanvasAction::OpenPalette(pos));
                ui.close();
            }
            if ui.button("Add note here…").clicked() {
                actions.push(CanvasAction::EditNote { id: None, pos });
                ui.close();
            }
            if collapsed_any() && ui.button("Expand all groups").clicked() {
                actions.push(CanvasAction::Command(UICommand::ExpandGroups));
                ui.close();
            }
        }
    });
}

/// One command as a menu entry: its label, shortcut and tooltip.
fn command_entry(ui: &mut egui::Ui, command: UICommand, actions: &mut Vec<CanvasAction>) {
    let mut button = egui::Button::new(command.menu_label());
    let shortcut = command.shortcut_text(ui.ctx());
    if !shortcut.is_empty() {
        button = button.shortcut_text(shortcut);
    }
    let response = ui.add(button);
    // The entry's name alone, without its shortcut, for screen readers and tests.
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::WidgetType::Button, true, command.menu_label())
    });
    let response = match command.tooltip() {
        Some(tip) => response.on_hover_text(tip),
        None => response,
    };
    if response.clicked() {
        actions.push(CanvasAction::Command(command));
        ui.close();
    }
}
