//! Colours and spacing in one place, so panels never hard-code them.

use egui::Color32;

use crate::model::Layer;

/// The colour that marks a layer: bronze, silver, gold.
pub fn layer_color(layer: Layer) -> Color32 {
    match layer {
        Layer::Bronze => Color32::from_rgb(0xB0, 0x6A, 0x2C),
        Layer::Silver => Color32::from_rgb(0x8E, 0x9A, 0xA6),
        Layer::Gold => Color32::from_rgb(0xD4, 0xA0, 0x17),
    }
}

pub fn error_color() -> Color32 {
    Color32::from_rgb(0xE0, 0x4F, 0x4F)
}

pub fn warning_color() -> Color32 {
    Color32::from_rgb(0xE0, 0xA0, 0x30)
}

pub fn ok_color() -> Color32 {
    Color32::from_rgb(0x4C, 0xAF, 0x50)
}

/// Behind the canvas: a touch darker (or lighter) than panels so cards stand out.
pub fn canvas_background(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode {
        Color32::from_rgb(0x1A, 0x1C, 0x20)
    } else {
        Color32::from_rgb(0xEE, 0xEF, 0xF2)
    }
}

pub fn card_fill(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode {
        Color32::from_rgb(0x2A, 0x2D, 0x33)
    } else {
        Color32::WHITE
    }
}

pub fn card_border(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode {
        Color32::from_rgb(0x44, 0x48, 0x50)
    } else {
        Color32::from_rgb(0xC8, 0xCC, 0xD2)
    }
}

pub fn edge_color(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode {
        Color32::from_rgb(0x70, 0x76, 0x80)
    } else {
        Color32::from_rgb(0x98, 0x9E, 0xA8)
    }
}

pub fn grid_color(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode {
        Color32::from_rgb(0x2C, 0x2F, 0x35)
    } else {
        Color32::from_rgb(0xD6, 0xD9, 0xDE)
    }
}

/// Outline of assets matched by the selection-syntax box.
pub fn highlight_color() -> Color32 {
    Color32::from_rgb(0x3F, 0xB9, 0xD6)
}

/// The colour of a card's run status.
pub fn status_color(status: &crate::ui::runs::NodeStatus, visuals: &egui::Visuals) -> Color32 {
    use crate::ui::runs::NodeStatus;
    match status {
        NodeStatus::Queued | NodeStatus::Canceled | NodeStatus::Missing => {
            visuals.weak_text_color()
        }
        NodeStatus::Running => running_color(),
        NodeStatus::Success | NodeStatus::UpToDate | NodeStatus::Fresh | NodeStatus::Checked => {
            ok_color()
        }
        NodeStatus::Failed { .. } | NodeStatus::Blocked { .. } => error_color(),
        NodeStatus::Skipped { .. } | NodeStatus::Stale { .. } => warning_color(),
    }
}

/// Statuses drawn as a ring (waiting, or data that is there but old) rather than a dot.
pub fn status_is_hollow(status: &crate::ui::runs::NodeStatus) -> bool {
    use crate::ui::runs::NodeStatus;
    matches!(
        status,
        NodeStatus::Queued
            | NodeStatus::UpToDate
            | NodeStatus::Stale { .. }
            | NodeStatus::Missing
            | NodeStatus::Blocked { .. }
    )
}

pub fn running_color() -> Color32 {
    Color32::from_rgb(0x4A, 0x90, 0xE2)
}

/// Colour of a run log level.
pub fn level_color(level: crate::model::LogLevel, visuals: &egui::Visuals) -> Color32 {
    match level {
        crate::model::LogLevel::Debug => visuals.weak_text_color(),
        crate::model::LogLevel::Info => visuals.text_color(),
        crate::model::LogLevel::Warn => warning_color(),
        crate::model::LogLevel::Error => error_color(),
    }
}

/// Adds the bundled monospace font (Hack) as the last fallback of the proportional family, once
/// per context: egui's proportional fonts lack arrows and shapes such as "→" (drawn as "□"),
/// which messages from the model use.
pub fn install_fonts(ctx: &egui::Context) {
    let id = egui::Id::new("medallion_fonts_installed");
    if ctx.data(|d| d.get_temp::<bool>(id)).unwrap_or(false) {
        return;
    }
    let mut fonts = egui::FontDefinitions::default();
    if let Some(list) = fonts.families.get_mut(&egui::FontFamily::Proportional) {
        list.push("Hack".to_owned());
    }
    ctx.set_fonts(fonts);
    ctx.data_mut(|d| d.insert_temp(id, true));
}
