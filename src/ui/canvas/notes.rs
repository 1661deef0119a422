//! Free-text notes on the canvas (KNIME's workflow annotations): drawn behind the cards as
//! pale boxes of wrapped text, moved by dragging, edited by a double-click or the context
//! menu, deleted with Delete. They are part of the project's layout (`layout.toml`), so every
//! change is an undoable edit and they travel with the project through git.

use std::sync::Arc;

use egui::{Color32, FontId, Galley, Id, Painter, Pos2, Rect, Sense, Stroke, vec2};

use super::{CanvasState, Drag};
use crate::model::Project;

/// A note's width, in canvas units.
pub const NOTE_WIDTH: f32 = 240.0;
const PAD: f32 = 10.0;

/// One note as drawn this frame.
pub struct NoteView {
    pub id: String,
    /// On screen, with a move in progress applied.
    pub rect: Rect,
    pub text: String,
    galley: Arc<Galley>,
}

/// The notes laid out for this frame (a handful: laid out every frame).
pub fn layout(
    painter: &Painter,
    state: &CanvasState,
    rect: Rect,
    project: &Project,
) -> Vec<NoteView> {
    let zoom = state.zoom;
    let font = FontId::proportional((13.0 * zoom).round().max(5.0));
    project
        .layout
        .notes
        .iter()
        .map(|(id, note)| {
            let mut pos = egui::pos2(note.pos.x, note.pos.y);
            if let Drag::MoveNote {
                id: moving, offset, ..
            } = &state.drag
                && moving == id
            {
                pos += *offset;
            }
            let shown = if note.text.trim().is_empty() {
                "(empty note)".to_owned()
            } else {
                note.text.clone()
            };
            let galley = painter.layout(
                shown,
                font.clone(),
                Color32::PLACEHOLDER,
                (NOTE_WIDTH - 2.0 * PAD) * zoom,
            );
            let min = state.to_screen(rect, pos);
            let size = vec2(NOTE_WIDTH * zoom, galley.size().y + 2.0 * PAD * zoom);
            NoteView {
                id: id.clone(),
                rect: Rect::from_min_size(min, size),
                text: note.text.clone(),
                galley,
            }
        })
        .collect()
}

/// The note under `p` (the last drawn is on top).
pub fn hit(notes: &[NoteView], p: Pos2) -> Option<usize> {
    notes.iter().rposition(|n| n.rect.contains(p))
}

fn fill(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode {
        Color32::from_rgb(62, 56, 30)
    } else {
        Color32::from_rgb(255, 246, 196)
    }
}

/// Draws the notes in view: a pale box, the text, the selected one outlined.
pub fn paint(painter: &Painter, visuals: &egui::Visuals, state: &CanvasState, notes: &[NoteView]) {
    let text = visuals.strong_text_color();
    for note in notes {
        if !note.rect.intersects(painter.clip_rect()) {
            continue;
        }
        let radius = (4.0 * state.zoom).round();
        painter.rect_filled(note.rect, radius, fill(visuals));
        let stroke = if state.selected_note.as_deref() == Some(note.id.as_str()) {
            Stroke::new(2.0, visuals.selection.stroke.color)
        } else {
            Stroke::new(1.0, fill(visuals).gamma_multiply(1.6))
        };
        painter.rect_stroke(note.rect, radius, stroke, egui::StrokeKind::Inside);
        painter.galley(
            note.rect.min + vec2(PAD, PAD) * state.zoom,
            Arc::clone(&note.galley),
            text,
        );
    }
}

/// The label of a note for screen readers and tests: `Note: ` and its text (its first 80
/// characters).
pub fn label(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = one_line.chars().take(80).collect();
    if one_line.chars().count() > 80 {
        short.push('…');
    }
    format!("Note: {short}")
}

/// Hover-only widgets over the notes in view, named by their text.
pub fn accessible(ui: &egui::Ui, notes: &[NoteView], rect: Rect) {
    for note in notes {
        let r = note.rect.intersect(rect);
        if r.is_negative() {
            continue;
        }
        let response = ui.interact(
            r,
            Id::new(("canvas_note", note.id.as_str())),
            Sense::hover(),
        );
        let label = label(&note.text);
        response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &label));
    }
}
