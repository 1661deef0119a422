//! The note editor: a small window over the canvas to write a new note or change one. "Save
//! note" makes the edit (one undo step); "Delete note" removes an existing one; Escape or
//! Cancel leave the canvas as it was.

use crate::model::edit::Edit;
use crate::model::{CanvasNote, CanvasPos};
use crate::ui::Studio;

/// The note being written.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteEditor {
    /// The note changed, or `None` for a new one.
    pub id: Option<String>,
    /// Where a new note goes (top-left corner, canvas units).
    pub pos: CanvasPos,
    pub text: String,
    /// Put the keyboard in the text on the next frame.
    pub focus: bool,
}

pub fn note_editor_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(editor) = &mut studio.windows.note_editor else {
        return;
    };
    let mut open = true;
    let mut save = false;
    let mut delete = false;
    let mut cancel = false;
    let title = if editor.id.is_some() {
        "Edit note"
    } else {
        "New note"
    };
    egui::Window::new(title)
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .default_pos(ctx.content_rect().center() - egui::vec2(170.0, 120.0))
        .show(ctx, |ui| {
            let response = ui.add(
                egui::TextEdit::multiline(&mut editor.text)
                    .hint_text("What should readers of this canvas know?")
                    .desired_rows(5)
                    .desired_width(320.0),
            );
            response.widget_info(|| {
                egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Note text")
            });
            if editor.focus {
                response.request_focus();
                editor.focus = false;
            }
            ui.label(
                egui::RichText::new(
                    "Saved with the project's layout (layout.toml); Ctrl+Z undoes it.",
                )
                .weak()
                .small(),
            );
            ui.horizontal(|ui| {
                let empty = editor.text.trim().is_empty();
                if ui
                    .add_enabled(!empty, egui::Button::new("Save note"))
                    .on_disabled_hover_text("Write something first")
                    .clicked()
                {
                    save = true;
                }
                if ui.button("Cancel").clicked() {
                    cancel = true;
                }
                if editor.id.is_some() && ui.button("Delete note").clicked() {
                    delete = true;
                }
            });
        });
    let editor = editor.clone();
    if save {
        let edit = match editor.id {
            Some(id) => Edit::EditNote {
                id,
                text: editor.text,
            },
            None => Edit::AddNote {
                id: studio.project().layout.new_note_id(),
                note: CanvasNote {
                    pos: editor.pos,
                    text: editor.text,
                },
            },
        };
        let id = match &edit {
            Edit::EditNote { id, .. } | Edit::AddNote { id, .. } => Some(id.clone()),
            _ => None,
        };
        // An unchanged text is nothing to do: close without a notice.
        let unchanged = matches!(&edit, Edit::EditNote { id, text }
            if studio.project().layout.notes.get(id).is_some_and(|n| &n.text == text));
        if unchanged || studio.apply(edit) {
            studio.windows.note_editor = None;
            studio.canvas.selected_note = id;
        }
    } else if delete {
        if let Some(id) = editor.id
            && studio.apply(Edit::RemoveNote { id })
        {
            studio.windows.note_editor = None;
        }
    } else if cancel || !open {
        studio.windows.note_editor = None;
    }
}
