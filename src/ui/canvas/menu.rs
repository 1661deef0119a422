//! The canvas's context menu: on a card, what a Dagster or KNIME user reaches for on a node
//! (preview, materialize it alone or with its upstream or downstream, run its checks, see its
//! lineage, copy its key) and the edits (inspect, rename, duplicate, delete); on the background, adding an asset.
//! Every entry is a [`UICommand`] on the selection, with the same shortcut as elsewhere.

use super::{CanvasAction, CanvasState, snap};
use crate::model::CanvasPos;
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

pub(super) fn context_menu(
    state: &mut CanvasState,
    response: &egui::Response,
    actions: &mut Vec<CanvasAction>,
) {
    let target = state.context_target;
    let at = response
        .interact_pointer_pos()
        .map(|p| state.to_canvas(state.last_rect, p));
    response.context_menu(|ui| {
        if target.is_some() {
            for entry in CARD_ENTRIES {
                let Some(command) = entry else {
                    ui.separator();
                    continue;
                };
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
        } else if ui.button("Add asset here…").clicked() {
            let pos = at.map_or_else(
                || state.view_center(),
                |c| CanvasPos {
                    x: snap(c.x),
                    y: snap(c.y),
                },
            );
            actions.push(CanvasAction::OpenPalette(pos));
            ui.close();
        }
    });
}
