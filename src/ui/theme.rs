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

pub const CARD_ROUNDING: u8 = 6;
