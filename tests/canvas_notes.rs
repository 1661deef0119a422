//! Free-text notes on the canvas (issue 20), driven headless by accessible labels: added from
//! the background's context menu, edited by a double-click, moved by dragging, deleted with
//! Delete, each step undone and redone; saved with the project (the workspace and the exported
//! `layout.toml`) and restored on reopen.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use egui::{Key, Modifiers, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use medallion::ui::{SaveState, Studio, UICommand};

use crate::common::studio::{harness, wait_until};

const WAIT: Duration = Duration::from_mins(3);

/// An empty spot of the canvas, below the example's cards.
fn background(h: &Harness<'_, Studio>) -> egui::Pos2 {
    let canvas = h.get_by_label("Asset canvas").rect();
    egui::pos2(
        canvas.left() + canvas.width() * 0.3,
        canvas.bottom() - 110.0,
    )
}

fn type_note(h: &mut Harness<'_, Studio>, text: &str) {
    h.get_by_label("Note text").focus();
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    h.get_by_label("Note text").type_text(text);
    h.run_steps(1);
    h.get_by_label("Save note").click();
    h.run_steps(2);
}

fn note_pos(h: &Harness<'_, Studio>) -> Option<(f32, f32)> {
    h.state()
        .project()
        .layout
        .notes
        .values()
        .next()
        .map(|n| (n.pos.x, n.pos.y))
}

/// Two clicks at `p` in one frame: a double-click (`Harness::event` would give each event a
/// frame of its own, a quarter second apart: too slow for a double-click). A second apart from
/// earlier clicks, which would make it a triple-click.
fn double_click(h: &mut Harness<'_, Studio>, p: egui::Pos2) {
    h.run_steps(4);
    let events = &mut h.input_mut().events;
    events.push(egui::Event::PointerMoved(p));
    for pressed in [true, false, true, false] {
        events.push(egui::Event::PointerButton {
            pos: p,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        });
    }
    h.run_steps(2);
}

#[test]
fn a_note_is_added_edited_moved_deleted_undone_and_saved_with_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = crate::common::studio::example_workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());

    // Add: the background's menu.
    let spot = background(&h);
    h.hover_at(spot);
    h.run_steps(1);
    h.event(egui::Event::PointerButton {
        pos: spot,
        button: egui::PointerButton::Secondary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    h.event(egui::Event::PointerButton {
        pos: spot,
        button: egui::PointerButton::Secondary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.run_steps(2);
    h.get_by_label("Add note here…").click();
    h.run_steps(2);
    type_note(&mut h, "Orders arrive late on Mondays");
    h.get_by_label("Note: Orders arrive late on Mondays");
    assert!(h.query_by_label("Note text").is_none(), "the editor closed");
    assert_eq!(h.state().project().layout.notes.len(), 1);

    // Edit: a double-click opens the editor on its text.
    let note = h.get_by_label("Note: Orders arrive late on Mondays").rect();
    double_click(&mut h, note.center());
    h.get_by_label("Edit note");
    type_note(&mut h, "Orders arrive late on Mondays and Fridays");
    h.get_by_label("Note: Orders arrive late on Mondays and Fridays");
    assert!(
        h.query_by_label("Note: Orders arrive late on Mondays")
            .is_none()
    );

    // Move: drag it.
    let before = note_pos(&h).unwrap();
    let from = note.center();
    let to = from + vec2(96.0, -48.0);
    h.drag_at(from);
    h.run_steps(1);
    h.hover_at(from + vec2(48.0, -24.0));
    h.run_steps(1);
    h.hover_at(to);
    h.run_steps(1);
    h.drop_at(to);
    h.run_steps(2);
    let moved = note_pos(&h).unwrap();
    assert!(
        moved.0 > before.0 + 40.0 && moved.1 < before.1 - 20.0,
        "{before:?} → {moved:?}"
    );

    // Undo puts it back, redo moves it again.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(note_pos(&h), Some(before));
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    h.run_steps(2);
    assert_eq!(note_pos(&h), Some(moved));

    // Delete: click it, press Delete; undo brings it back.
    h.get_by_label("Note: Orders arrive late on Mondays and Fridays")
        .click();
    h.run_steps(2);
    h.key_press(Key::Delete);
    h.run_steps(2);
    assert!(h.query_by_label_contains("Note: Orders").is_none());
    assert!(h.state().project().layout.notes.is_empty());
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    h.get_by_label("Note: Orders arrive late on Mondays and Fridays");

    // A second note from the command palette's command, at the view's centre.
    h.state_mut().push_command(UICommand::AddNote);
    h.run_steps(2);
    type_note(&mut h, "Ask \"finance\" before changing daily_revenue");
    h.get_by_label("Note: Ask \"finance\" before changing daily_revenue");

    // Saved with the project: reopened from the workspace, both notes are there.
    h.state_mut().save_now();
    wait_until(&mut h, "the save", WAIT, |s| {
        s.save_state() == SaveState::Saved
    });
    let ws = medallion::app::open_workspace(&path).unwrap();
    let stored = medallion::app::load_project(&ws, &h.state().project().name)
        .unwrap()
        .project;
    drop(ws);
    assert_eq!(stored.layout.notes, h.state().project().layout.notes);
    let reopened = harness(Studio::with_workspace(Some(stored.clone()), &path).unwrap());
    reopened.get_by_label("Note: Orders arrive late on Mondays and Fridays");
    reopened.get_by_label("Note: Ask \"finance\" before changing daily_revenue");

    // Exported with the positions (git-friendly) and read back the same.
    let out = dir.path().join("exported");
    medallion::format::write_project(&stored, &out).unwrap();
    let layout = std::fs::read_to_string(out.join("layout.toml")).unwrap();
    assert!(layout.contains("[notes.note_1]"), "{layout}");
    assert!(
        layout.contains("text = \"Ask \\\"finance\\\" before changing daily_revenue\""),
        "{layout}"
    );
    let read = medallion::format::read_project(&out).unwrap().project;
    assert_eq!(read.layout.notes, stored.layout.notes);
}

#[test]
fn escape_closes_the_note_editor_without_a_note() {
    let project = medallion::format::read_project(&crate::common::example())
        .unwrap()
        .project;
    let mut h = harness(Studio::new(Some(project), "test.sqlite".into()));
    h.state_mut().push_command(UICommand::AddNote);
    h.run_steps(2);
    h.get_by_label("Note text").type_text("never saved");
    h.run_steps(1);
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert!(h.query_by_label("Note text").is_none());
    assert!(h.state().project().layout.notes.is_empty());
}
