//! The studio, driven headless by accessible labels (`egui_kittest`, no GPU).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names
)]

use std::time::{Duration, Instant};

use crate::support::kube_double;

use egui::{Event, Key, Modifiers, PointerButton, Pos2, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use medallion::app;
use medallion::format;
use medallion::model::{AssetKey, CanvasPos, Project};
use medallion::ui::{SaveState, Studio, frame_ui};

fn example() -> Project {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics");
    format::read_project(&dir).unwrap().project
}

fn harness(studio: Studio) -> Harness<'static, Studio> {
    let mut h = Harness::builder()
        .with_size(vec2(1400.0, 900.0))
        .with_max_steps(40)
        .build_ui_state(|ui, studio: &mut Studio| frame_ui(ui, studio), studio);
    h.state_mut().validate_now();
    h.run_ok();
    h
}

fn studio_on(project: Project) -> Studio {
    Studio::new(Some(project), "test.sqlite".into())
}

fn card(h: &Harness<'_, Studio>, key: &str) -> egui::Rect {
    h.get_by_label(key).rect()
}

/// A primary-button drag from `from` to `to` in small steps, with `modifiers` held.
fn drag(h: &mut Harness<'_, Studio>, from: Pos2, to: Pos2, modifiers: Modifiers) {
    h.event(Event::PointerMoved(from));
    h.run_ok();
    h.event(Event::PointerButton {
        pos: from,
        button: PointerButton::Primary,
        pressed: true,
        modifiers,
    });
    h.run_ok();
    for step in 1..=6 {
        let t = step as f32 / 6.0;
        h.event(Event::PointerMoved(from + (to - from) * t));
        h.step();
    }
    h.event(Event::PointerButton {
        pos: to,
        button: PointerButton::Primary,
        pressed: false,
        modifiers,
    });
    h.run_ok();
    h.event(Event::PointerGone);
    h.run_ok();
}

fn click_card(h: &mut Harness<'_, Studio>, key: &str) {
    h.get_by_label(key).click();
    h.run_ok();
}

fn position(h: &Harness<'_, Studio>, key: &str) -> CanvasPos {
    h.state().project().layout.positions[&AssetKey::new(key)]
}

fn deps(h: &Harness<'_, Studio>, key: &str) -> Vec<String> {
    h.state()
        .project()
        .asset(&AssetKey::new(key))
        .unwrap()
        .deps
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_canvas_shows_lanes_and_every_example_asset() {
    let h = harness(studio_on(example()));
    for label in [
        "raw_customer_data",
        "raw_orders",
        "cleaned_customer_data",
        "order_history",
        "customer_lifetime_value",
        "daily_revenue",
        "Bronze lane",
        "Silver lane",
        "Gold lane",
        "Valid",
        "Asset canvas",
    ] {
        h.get_by_label(label);
    }
    assert!(h.query_by_label("Diagnostics").is_none());
}

#[test]
fn diagnostics_show_and_select_their_asset() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken_projects/cycle");
    let project = format::read_project(&dir).unwrap().project;
    let mut h = harness(studio_on(project));
    h.get_by_label("Diagnostics");
    h.get_by_label("1 error(s), 0 warning(s)");
    h.get_by_label_contains("dependency cycle: a → b → a")
        .click();
    h.run_ok();
    assert_eq!(
        h.state()
            .canvas
            .selection
            .iter()
            .next()
            .map(AssetKey::as_str),
        Some("a")
    );
}

#[test]
fn add_an_asset_from_the_palette_then_undo_and_redo() {
    let mut h = harness(studio_on(example()));
    let before = h.state().project().clone();
    h.get_by_label("Add asset…").click();
    h.run_ok();
    h.get_by_label("Gold: SQL transform").click();
    h.run_ok();
    let key = AssetKey::new("new_gold");
    assert!(h.state().project().asset(&key).is_some());
    assert!(h.state().canvas.selection.contains(&key));
    h.get_by_label("new_gold");
    // The inspector shows the new asset.
    assert_eq!(
        h.get_by_label("Asset key").value().as_deref(),
        Some("new_gold")
    );

    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_ok();
    assert_eq!(h.state().project(), &before);
    assert!(h.query_by_label("new_gold").is_none());
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    h.run_ok();
    assert!(h.state().project().asset(&key).is_some());
}

#[test]
fn connect_two_assets_by_dragging_from_the_output_port() {
    let mut h = harness(studio_on(example()));
    assert!(!deps(&h, "daily_revenue").contains(&"cleaned_customer_data".to_owned()));
    let from = card(&h, "cleaned_customer_data").right_center();
    let to = card(&h, "daily_revenue").center();
    drag(&mut h, from, to, Modifiers::NONE);
    assert!(
        deps(&h, "daily_revenue").contains(&"cleaned_customer_data".to_owned()),
        "{:?}",
        h.state().notice
    );
    assert_eq!(
        h.state().doc.undo_label(),
        Some("connect cleaned_customer_data to daily_revenue")
    );
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_ok();
    assert!(!deps(&h, "daily_revenue").contains(&"cleaned_customer_data".to_owned()));
}

#[test]
fn a_cycle_is_refused_with_its_reason_on_screen() {
    let mut h = harness(studio_on(example()));
    let before = h.state().project().clone();
    // order_history's SQL reads cleaned_customer_data, so feeding order_history back into
    // cleaned_customer_data would close a cycle.
    let from = card(&h, "order_history").right_center();
    let to = card(&h, "cleaned_customer_data").center();
    drag(&mut h, from, to, Modifiers::NONE);
    h.get_by_label_contains(
        "This would close the dependency cycle cleaned_customer_data → order_history → cleaned_customer_data",
    );
    assert_eq!(h.state().project(), &before);
    assert!(!h.state().doc.can_undo());
    // A layer rule is refused too.
    let from = card(&h, "daily_revenue").right_center();
    let to = card(&h, "order_history").center();
    drag(&mut h, from, to, Modifiers::NONE);
    h.get_by_label_contains("silver assets read bronze or silver assets");
    assert_eq!(h.state().project(), &before);
}

#[test]
fn rename_from_the_inspector_updates_downstream_sql() {
    let mut h = harness(studio_on(example()));
    click_card(&mut h, "order_history");
    let field = h.get_by_label("Asset key");
    field.focus();
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_label("Asset key").type_text("orders_by_customer");
    h.run_ok();
    h.key_press(Key::Enter);
    h.run_ok();
    let project = h.state().project();
    assert!(project.asset(&"order_history".into()).is_none());
    let clv = project.asset(&"customer_lifetime_value".into()).unwrap();
    let sql = clv.transform().unwrap().sql.as_deref().unwrap();
    assert!(sql.contains("orders_by_customer"), "{sql}");
    assert!(!sql.contains("order_history"), "{sql}");
    h.get_by_label("orders_by_customer");
    h.get_by_label("Valid");
}

#[test]
fn delete_with_the_delete_key_and_undo() {
    let mut h = harness(studio_on(example()));
    let before = h.state().project().clone();
    click_card(&mut h, "daily_revenue");
    h.key_press(Key::Delete);
    h.run_ok();
    assert!(h.state().project().asset(&"daily_revenue".into()).is_none());
    assert!(h.query_by_label("daily_revenue").is_none());
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_ok();
    assert_eq!(h.state().project(), &before);
}

#[test]
fn shift_click_two_cards_and_move_them_as_one_edit() {
    let mut h = harness(studio_on(example()));
    let a0 = position(&h, "raw_orders");
    let b0 = position(&h, "order_history");
    let c0 = position(&h, "daily_revenue");
    click_card(&mut h, "raw_orders");
    h.get_by_label("order_history")
        .click_modifiers(Modifiers::SHIFT);
    h.run_ok();
    assert_eq!(h.state().canvas.selection.len(), 2);
    let grab = card(&h, "order_history").center() + vec2(-30.0, 0.0);
    drag(&mut h, grab, grab + vec2(0.0, 120.0), Modifiers::NONE);
    let (a1, b1) = (position(&h, "raw_orders"), position(&h, "order_history"));
    assert!(b1.y > b0.y + 20.0, "{b0:?} → {b1:?}");
    assert!(
        ((a1.y - a0.y) - (b1.y - b0.y)).abs() < 0.01,
        "moved together"
    );
    assert_eq!(position(&h, "daily_revenue"), c0, "unselected stays");
    assert_eq!(h.state().doc.undo_label(), Some("move 2 assets"));
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_ok();
    assert_eq!(position(&h, "raw_orders"), a0);
    assert_eq!(position(&h, "order_history"), b0);
}

#[test]
fn rectangle_select_on_empty_space() {
    let mut h = harness(studio_on(example()));
    let a = card(&h, "raw_customer_data");
    let b = card(&h, "raw_orders");
    let from = a.left_top() - vec2(16.0, 16.0);
    let to = b.right_bottom() + vec2(4.0, 4.0);
    drag(&mut h, from, to, Modifiers::NONE);
    let selection: Vec<&str> = h
        .state()
        .canvas
        .selection
        .iter()
        .map(AssetKey::as_str)
        .collect();
    assert_eq!(selection, vec!["raw_customer_data", "raw_orders"]);
}

#[test]
fn keyboard_moves_focus_and_copy_paste_duplicates() {
    let mut h = harness(studio_on(example()));
    click_card(&mut h, "raw_customer_data");
    h.key_press(Key::ArrowRight);
    h.run_ok();
    let focused = h.state().canvas.focus.clone().unwrap();
    assert_eq!(focused.as_str(), "cleaned_customer_data");
    h.key_press_modifiers(Modifiers::COMMAND, Key::C);
    h.key_press_modifiers(Modifiers::COMMAND, Key::V);
    h.run_ok();
    let copy = AssetKey::new("cleaned_customer_data_2");
    assert!(h.state().project().asset(&copy).is_some());
    assert!(h.state().canvas.selection.contains(&copy));
}

#[test]
fn command_palette_lists_commands_with_shortcuts() {
    let mut h = harness(studio_on(example()));
    h.key_press_modifiers(Modifiers::COMMAND, Key::K);
    h.run_ok();
    h.get_by_label("Command search");
    // The toolbar button and the palette entry.
    assert_eq!(h.get_all_by_label("Fit to view").count(), 2);
    h.get_by_label("Auto-arrange all").click();
    h.run_ok();
    assert!(h.query_by_label("Command search").is_none());
}

#[test]
fn find_jumps_to_an_asset() {
    let mut h = harness(studio_on(example()));
    h.key_press_modifiers(Modifiers::COMMAND, Key::F);
    h.run_ok();
    h.get_by_label("Find").type_text("lifetime");
    h.run_ok();
    // The result button, not the card of the same name.
    h.get_all_by_label("customer_lifetime_value")
        .min_by_key(|n| n.rect().height() as i32)
        .unwrap()
        .click();
    h.run_ok();
    let selected: Vec<&str> = h
        .state()
        .canvas
        .selection
        .iter()
        .map(AssetKey::as_str)
        .collect();
    assert_eq!(selected, vec!["customer_lifetime_value"]);
}

#[test]
fn selection_syntax_highlights_matches() {
    let mut h = harness(studio_on(example()));
    h.get_by_label("Selection").focus();
    h.run_ok();
    h.get_by_label("Selection").type_text("+order_history");
    h.run_ok();
    let highlighted: Vec<&str> = h
        .state()
        .canvas
        .highlight
        .iter()
        .map(AssetKey::as_str)
        .collect();
    assert_eq!(
        highlighted,
        vec![
            "cleaned_customer_data",
            "order_history",
            "raw_customer_data",
            "raw_orders"
        ]
    );
    h.get_by_label("4 match(es)");
}

fn wait_saved(h: &mut Harness<'_, Studio>) {
    let start = Instant::now();
    while h.state().save_state() != SaveState::Saved {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never saved: {:?}",
            h.state().save_state()
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
}

#[test]
fn save_and_reopen_preserves_every_edit() {
    let dir = tempfile::tempdir().unwrap();
    let ws_path = dir.path().join("ws.sqlite");
    {
        let mut ws = app::open_workspace(&ws_path).unwrap();
        let example_dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics");
        app::import_project(&mut ws, &example_dir, false, false).unwrap();
    }
    let stored = app::load_project(
        &app::open_workspace(&ws_path).unwrap(),
        "customer_analytics",
    )
    .unwrap()
    .project;
    let studio = Studio::with_workspace(Some(stored), &ws_path).unwrap();
    let mut h = harness(studio);
    // Saved by Ctrl+S below, not by the autosave however slow the machine.
    h.state_mut().saving.autosave_delay = Some(Duration::from_hours(1));
    // Add, connect, move, rename.
    h.get_by_label("Add asset…").click();
    h.run_ok();
    h.get_by_label("Silver: SQL transform").click();
    h.run_ok();
    let from = card(&h, "raw_orders").right_center();
    let to = card(&h, "new_silver").center();
    drag(&mut h, from, to, Modifiers::NONE);
    assert_eq!(
        deps(&h, "new_silver"),
        vec!["raw_orders"],
        "{:?} {from:?} {to:?} {:?} {:?}",
        h.state().notice,
        h.state().doc.undo_label(),
        h.state().canvas.selection
    );
    let grab = card(&h, "daily_revenue").center();
    drag(&mut h, grab, grab + vec2(40.0, 80.0), Modifiers::NONE);
    assert_eq!(h.state().save_state(), SaveState::Dirty);
    h.get_by_label("customer_analytics •");
    h.key_press_modifiers(Modifiers::COMMAND, Key::S);
    h.run_ok();
    wait_saved(&mut h);
    h.get_by_label("customer_analytics");
    let edited = h.state().project().clone();

    // Reopen from the workspace file.
    let reopened = app::load_project(
        &app::open_workspace(&ws_path).unwrap(),
        "customer_analytics",
    )
    .unwrap()
    .project;
    assert_eq!(reopened, edited);
    let h2 = harness(studio_on(reopened));
    h2.get_by_label("new_silver");
    assert_eq!(
        position(&h2, "daily_revenue"),
        position(&h, "daily_revenue")
    );

    // Autosave: an edit with no explicit save lands after the debounce.
    h.state_mut().saving.autosave_delay = None;
    click_card(&mut h, "new_silver");
    h.key_press(Key::Delete);
    h.run_ok();
    wait_saved(&mut h);
    let reopened = app::load_project(
        &app::open_workspace(&ws_path).unwrap(),
        "customer_analytics",
    )
    .unwrap()
    .project;
    assert!(reopened.asset(&"new_silver".into()).is_none());
    // Quitting saves what is pending.
    let grab = card(&h, "raw_orders").center();
    drag(&mut h, grab, grab + vec2(0.0, 60.0), Modifiers::NONE);
    let moved = position(&h, "raw_orders");
    h.state_mut().shut_down();
    let reopened = app::load_project(
        &app::open_workspace(&ws_path).unwrap(),
        "customer_analytics",
    )
    .unwrap()
    .project;
    assert_eq!(
        reopened.layout.positions[&AssetKey::new("raw_orders")],
        moved
    );
}

#[test]
fn connect_a_new_asset_right_after_adding_it() {
    let mut h = harness(studio_on(example()));
    h.get_by_label("Add asset…").click();
    h.run_ok();
    h.get_by_label("Silver: SQL transform").click();
    h.run_ok();
    let from = card(&h, "raw_orders").right_center();
    let to = card(&h, "new_silver").center();
    drag(&mut h, from, to, Modifiers::NONE);
    assert_eq!(
        deps(&h, "new_silver"),
        vec!["raw_orders"],
        "{:?}",
        h.state().doc.undo_label()
    );
}

#[test]
fn connections_add_test_and_delete_a_postgres_resource() {
    use egui::accesskit::Role;
    let mut h = harness(studio_on(example()));
    h.state_mut().windows.connections =
        Some(medallion::ui::panels::connections::ConnectionsState::default());
    h.run_ok();
    h.get_by_label("Add Postgres").click();
    h.run_ok();
    // A port nobody listens on, so the test fails fast and precisely.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    h.get_by_role_and_label(Role::TextInput, "Host").focus();
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_role_and_label(Role::TextInput, "Host")
        .type_text("127.0.0.1");
    h.run_ok();
    h.get_by_role_and_label(Role::TextInput, "Port").focus();
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_role_and_label(Role::TextInput, "Port")
        .type_text(&closed.to_string());
    h.run_ok();
    h.get_by_label("Save resource").click();
    h.run_ok();
    let saved = h.state().project().resource("postgres_1").cloned().unwrap();
    match &saved.kind {
        medallion::model::ResourceKind::Postgres { host, port, .. } => {
            assert_eq!((host.as_str(), *port), ("127.0.0.1", closed));
        }
        other => panic!("saved as {other:?}"),
    }

    h.get_by_label("Test connection").click();
    let started = Instant::now();
    while h.query_by_label_contains("cannot reach postgres").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no answer from the connection test"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }

    // A second resource may not take the first one's name.
    h.get_by_label("Add Postgres").click();
    h.run_ok();
    h.get_by_role_and_label(Role::TextInput, "Name").focus();
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_role_and_label(Role::TextInput, "Name")
        .type_text("postgres_1");
    h.run_ok();
    h.get_by_label("Save resource").click();
    h.run_ok();
    h.get_by_label("a resource named `postgres_1` already exists");
    assert_eq!(h.state().project().resources.len(), 1);

    h.get_by_label("Delete postgres_1").click();
    h.run_ok();
    assert!(h.state().project().resource("postgres_1").is_none());
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_ok();
    assert!(h.state().project().resource("postgres_1").is_some());
}

#[test]
fn add_edit_reorder_and_remove_a_transform_step_in_the_inspector() {
    use medallion::model::TransformStep;
    let steps = |h: &Harness<'_, Studio>| {
        h.state()
            .project()
            .asset(&"cleaned_customer_data".into())
            .unwrap()
            .transform()
            .unwrap()
            .steps
            .clone()
    };
    let mut h = harness(studio_on(example()));
    click_card(&mut h, "cleaned_customer_data");
    assert_eq!(steps(&h).len(), 6);
    // (Low in the inspector: scrolled into view as a user would.)
    h.get_by_label("Add step").scroll_to_me();
    h.run_ok();
    h.get_by_label("Add step").click();
    h.run_ok();
    h.get_by_label("drop_nulls").click();
    h.run_ok();
    assert_eq!(
        steps(&h).last(),
        Some(&TransformStep::DropNulls { columns: vec![] })
    );
    // Its columns are editable.
    // The row has a label and a text field with the same accessible name; the field comes last.
    h.get_all_by_label("Columns (empty = any)")
        .last()
        .unwrap()
        .focus();
    h.run_ok();
    h.get_all_by_label("Columns (empty = any)")
        .last()
        .unwrap()
        .type_text("email, first_name");
    h.run_ok();
    assert_eq!(
        steps(&h).last(),
        Some(&TransformStep::DropNulls {
            columns: vec!["email".into(), "first_name".into()]
        })
    );
    // Move it above the regex filter, then remove it; undo brings it back.
    h.get_all_by_label("Move up").last().unwrap().click();
    h.run_ok();
    assert!(
        matches!(steps(&h)[5], TransformStep::DropNulls { .. }),
        "{:?}",
        steps(&h)
    );
    assert!(matches!(steps(&h)[6], TransformStep::RegexFilter { .. }));
    assert!(h.get_all_by_label("Remove").count() >= 7);
    // The steps come first in the inspector: the sixth "Remove" is the moved step's.
    h.get_all_by_label("Remove").nth(5).unwrap().click();
    h.run_ok();
    assert_eq!(steps(&h).len(), 6);
    assert!(
        steps(&h)
            .iter()
            .all(|s| !matches!(s, TransformStep::DropNulls { .. }))
    );
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_ok();
    assert_eq!(steps(&h).len(), 7);
}

#[test]
fn clicking_a_diagnostic_opens_the_section_of_its_field() {
    let mut project = example();
    project
        .asset_mut(&"order_history".into())
        .unwrap()
        .compute
        .vcpu = Some(0.0);
    let mut h = harness(studio_on(project));
    // Show order_history in the inspector and fold its compute hints away.
    click_card(&mut h, "order_history");
    h.get_by_label("Compute hints").scroll_to_me();
    h.run_ok();
    h.get_by_label("Compute hints").click();
    h.run_ok();
    assert!(
        h.query_by_label("vCPU").is_none(),
        "the section should be folded"
    );
    // The message shows in the diagnostics panel (bottom, from the left edge) and in the
    // inspector (right); click the panel's entry.
    let entries: Vec<egui::Rect> = h
        .get_all_by_label_contains("vcpu must be more than 0")
        .map(|n| n.rect())
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let leftmost = entries
        .iter()
        .min_by(|a, b| a.min.x.total_cmp(&b.min.x))
        .unwrap()
        .center();
    h.get_all_by_label_contains("vcpu must be more than 0")
        .find(|n| n.rect().center() == leftmost)
        .unwrap()
        .click();
    h.run_ok();
    h.run_ok();
    assert_eq!(
        h.state()
            .canvas
            .selection
            .iter()
            .next()
            .map(AssetKey::as_str),
        Some("order_history")
    );
    assert!(
        h.query_all_by_label("vCPU").count() > 0,
        "the compute hints section opened"
    );
}

#[test]
fn export_and_import_directories_through_the_studio() {
    let dir = tempfile::tempdir().unwrap();
    let ws_path = dir.path().join("ws.sqlite");
    let studio = Studio::with_workspace(Some(example()), &ws_path).unwrap();
    let mut h = harness(studio);
    // The code path behind "Export project…" (the native dialog only chooses the directory).
    let out = dir.path().join("exported");
    h.state_mut().export_dir(out.clone());
    let start = Instant::now();
    // Wait for the worker to report the export done (files appear one by one before that).
    while !h
        .state()
        .notice
        .as_ref()
        .is_some_and(|n| n.text.starts_with("Exported to"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never exported: {:?}",
            h.state().notice
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    let exported = format::read_project(&out).unwrap();
    assert_eq!(exported.project.assets.len(), 6);
    assert!(
        exported.diagnostics.is_empty(),
        "{:?}",
        exported.diagnostics
    );

    // "Import project…": another project directory becomes the open project.
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/partitioned");
    h.state_mut().import_dir(fixture);
    let start = Instant::now();
    while h.state().project().name != "partitioned" {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never imported: {:?}",
            h.state().notice
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    h.run_ok();
    h.get_by_label("raw_events");
    h.get_by_label("daily_totals");
    let names: Vec<String> = app::list_projects(&app::open_workspace(&ws_path).unwrap())
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(names.contains(&"partitioned".to_owned()), "{names:?}");
}

#[test]
fn an_aws_account_takes_the_settings_of_remote_runs() {
    use egui::accesskit::Role;
    let mut h = harness(studio_on(example()));
    h.state_mut().windows.connections =
        Some(medallion::ui::panels::connections::ConnectionsState::default());
    h.run_ok();
    h.get_by_label("Add AWS account").click();
    h.run_ok();
    h.get_by_label("Run steps on AWS with this account").click();
    h.run_ok();
    for (field, text) in [
        ("Bucket", "acme-lake"),
        ("ECS cluster", "data"),
        ("Subnets", "subnet-a, subnet-b"),
        ("Security groups", "sg-1"),
        ("Batch job queue", "medallion"),
    ] {
        h.get_by_role_and_label(Role::TextInput, field).focus();
        h.run_ok();
        h.get_by_role_and_label(Role::TextInput, field)
            .type_text(text);
        h.run_ok();
    }
    h.get_by_label("Save resource").click();
    h.run_ok();
    let saved = h.state().project().resource("aws_1").cloned().unwrap();
    let medallion::model::ResourceKind::Aws {
        compute: Some(c), ..
    } = &saved.kind
    else {
        panic!("saved as {:?}", saved.kind)
    };
    assert_eq!(c.bucket, "acme-lake");
    assert_eq!(c.cluster.as_deref(), Some("data"));
    assert_eq!(
        c.subnets,
        vec!["subnet-a".to_owned(), "subnet-b".to_owned()]
    );
    assert_eq!(c.security_groups, vec!["sg-1".to_owned()]);
    assert_eq!(c.job_queue.as_deref(), Some("medallion"));
}

#[test]
fn connections_add_an_eks_cluster_and_test_it() {
    use egui::accesskit::Role;
    // The connection test builds a kube client (rustls): the process needs a provider, as main.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let double = kube_double::KubeDouble::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kubeconfig");
    std::fs::write(
        &config,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\nusers:\n- name: u\n  user:\n    token: t0k3n\ncontexts:\n- name: dev\n  context:\n    cluster: c\n    user: u\ncurrent-context: dev\n",
            double.url
        ),
    )
    .unwrap();
    let mut h = harness(studio_on(example()));
    h.state_mut().windows.connections =
        Some(medallion::ui::panels::connections::ConnectionsState::default());
    h.run_ok();
    h.get_by_label("Add EKS cluster").click();
    h.run_ok();
    for (field, value) in [
        ("Kubeconfig file", config.to_str().unwrap()),
        ("Kubeconfig context", "dev"),
        ("Runner image", "registry.example/medallion:1"),
    ] {
        h.get_by_role_and_label(Role::TextInput, field).focus();
        h.run_ok();
        h.get_by_role_and_label(Role::TextInput, field)
            .type_text(value);
        h.run_ok();
    }
    h.get_by_role_and_label(Role::TextInput, "Namespace")
        .focus();
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_role_and_label(Role::TextInput, "Namespace")
        .type_text("data");
    h.run_ok();
    h.get_by_label("Save resource").click();
    h.run_ok();
    let saved = h.state().project().resource("eks_1").cloned().unwrap();
    match &saved.kind {
        medallion::model::ResourceKind::Eks {
            kubeconfig,
            context,
            namespace,
            image,
            cluster,
            ..
        } => {
            assert_eq!(kubeconfig.as_deref(), config.to_str());
            assert_eq!(context.as_deref(), Some("dev"));
            assert_eq!(namespace, "data");
            assert_eq!(image, "registry.example/medallion:1");
            assert!(cluster.is_none());
        }
        other => panic!("saved as {other:?}"),
    }
    h.get_by_label("Test connection").click();
    let started = Instant::now();
    while h
        .query_by_label_contains("connected to kubeconfig context `dev`")
        .is_none()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no answer from the connection test"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    let list = double
        .requests()
        .into_iter()
        .find(|r| r.path == "/apis/batch/v1/namespaces/data/jobs")
        .unwrap();
    assert_eq!(list.authorization.as_deref(), Some("Bearer t0k3n"));
}

/// Steps frames until `done` holds (background work of the studio's workers), failing after
/// 20 s with `what`.
fn wait_for(h: &mut Harness<'_, Studio>, what: &str, done: impl Fn(&Studio) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}; notice: {:?}",
            h.state().notice
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    h.run_ok();
}

/// Steps frames until a widget labelled `label` shows, failing after 20 s.
fn wait_for_label(h: &mut Harness<'_, Studio>, label: &str) {
    let start = Instant::now();
    while h.query_by_label(label).is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for `{label}`; notice: {:?}, stored: {:?}",
            h.state().notice,
            h.state().save_state()
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    h.run_ok();
}

/// A workspace in `dir` holding the example project (revision 1), and that stored project.
fn example_workspace(dir: &std::path::Path) -> (std::path::PathBuf, Project) {
    let ws_path = dir.join("ws.sqlite");
    let mut ws = app::open_workspace(&ws_path).unwrap();
    let example_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics");
    app::import_project(&mut ws, &example_dir, false, false).unwrap();
    let stored = app::load_project(&ws, "customer_analytics").unwrap();
    assert_eq!(stored.revision, 1);
    (ws_path, stored.project)
}

/// What another command does: `medallion import --replace` of the example without
/// `daily_revenue` (revision 2 of the stored project).
fn import_smaller_example_elsewhere(dir: &std::path::Path, ws_path: &std::path::Path) {
    let mut project = example();
    let key = AssetKey::new("daily_revenue");
    project.assets.retain(|a| a.key != key);
    project.layout.positions.remove(&key);
    let smaller = dir.join("smaller");
    format::write_project(&project, &smaller).unwrap();
    let mut ws = app::open_workspace(ws_path).unwrap();
    let report = app::import_project(&mut ws, &smaller, true, false).unwrap();
    assert_eq!(report.revision, 2);
}

fn stored(ws_path: &std::path::Path, name: &str) -> app::StoredProject {
    app::load_project(&app::open_workspace(ws_path).unwrap(), name).unwrap()
}

#[test]
fn a_window_without_unsaved_edits_reloads_what_another_window_saved() {
    let dir = tempfile::tempdir().unwrap();
    let (ws_path, project) = example_workspace(dir.path());
    let mut a = harness(Studio::with_workspace(Some(project.clone()), &ws_path).unwrap());
    let mut b = harness(Studio::with_workspace(Some(project), &ws_path).unwrap());
    // Window B has a selection and a zoom of its own.
    click_card(&mut b, "order_history");
    b.state_mut().canvas.zoom = 0.8;
    // Window A moves a card and saves.
    let grab = card(&a, "raw_orders").center();
    drag(&mut a, grab, grab + vec2(0.0, 60.0), Modifiers::NONE);
    a.key_press_modifiers(Modifiers::COMMAND, Key::S);
    a.run_ok();
    wait_saved(&mut a);
    let moved = position(&a, "raw_orders");
    assert_eq!(stored(&ws_path, "customer_analytics").revision, 2);

    // Window B notices and reloads, keeping its selection and zoom.
    wait_for(&mut b, "window B to reload", |s| {
        s.project()
            .layout
            .positions
            .get(&AssetKey::new("raw_orders"))
            == Some(&moved)
    });
    b.get_by_label_contains("Reloaded customer_analytics");
    assert_eq!(b.state().save_state(), SaveState::Saved);
    assert!(
        b.state()
            .canvas
            .selection
            .contains(&AssetKey::new("order_history"))
    );
    assert!((b.state().canvas.zoom - 0.8).abs() < 1e-6);
    assert!(b.query_by_label("Reload and discard my edits").is_none());

    // Now B edits and saves on top of A's revision, and A follows: no conflict either way.
    let grab = card(&b, "daily_revenue").center();
    drag(&mut b, grab, grab + vec2(30.0, 40.0), Modifiers::NONE);
    b.key_press_modifiers(Modifiers::COMMAND, Key::S);
    b.run_ok();
    wait_saved(&mut b);
    assert!(b.query_by_label("Reload and discard my edits").is_none());
    let daily = position(&b, "daily_revenue");
    wait_for(&mut a, "window A to reload", |s| {
        s.project()
            .layout
            .positions
            .get(&AssetKey::new("daily_revenue"))
            == Some(&daily)
    });
    let now = stored(&ws_path, "customer_analytics");
    assert_eq!(now.revision, 3);
    assert_eq!(
        now.project.layout.positions[&AssetKey::new("raw_orders")],
        moved
    );
    assert_eq!(
        now.project.layout.positions[&AssetKey::new("daily_revenue")],
        daily
    );
}

#[test]
fn unsaved_edits_over_an_outside_import_show_the_conflict_and_save_as_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (ws_path, project) = example_workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &ws_path).unwrap());
    // An unsaved edit in the studio (held unsaved however slow the machine)…
    h.state_mut().saving.autosave_delay = Some(Duration::from_hours(1));
    let grab = card(&h, "daily_revenue").center();
    drag(&mut h, grab, grab + vec2(40.0, 80.0), Modifiers::NONE);
    let moved = position(&h, "daily_revenue");
    assert_eq!(h.state().save_state(), SaveState::Dirty);
    // …while another command imports a directory over the same project.
    import_smaller_example_elsewhere(dir.path(), &ws_path);

    wait_for_label(&mut h, "Reload and discard my edits");
    h.state_mut().saving.autosave_delay = None;
    h.get_by_label_contains(
        "project customer_analytics was changed by another window or command (revision 2, yours is based on 1)",
    );
    h.get_by_label("Reload and discard my edits");
    // Nothing was written over the other command's import, not even after the autosave delay.
    std::thread::sleep(app_autosave_delay());
    h.run_ok();
    let other = stored(&ws_path, "customer_analytics");
    assert_eq!((other.revision, other.project.assets.len()), (2, 5));

    // Save as a copy: a new project with the studio's edits; the import stays as it is.
    h.get_by_label("Save as a copy…").click();
    h.run_ok();
    h.get_by_label("Save copy").click();
    h.run_ok();
    wait_for(&mut h, "the copy to be saved", |s| {
        s.project().name == "customer_analytics_copy" && s.save_state() == SaveState::Saved
    });
    h.get_by_label_contains("Saved your edits as project customer_analytics_copy");
    assert!(h.query_by_label("Reload and discard my edits").is_none());
    let copy = stored(&ws_path, "customer_analytics_copy");
    assert_eq!(copy.project.assets.len(), 6);
    assert_eq!(
        copy.project.layout.positions[&AssetKey::new("daily_revenue")],
        moved
    );
    // The copy keeps the original's directory, so its relative source paths still resolve.
    assert_eq!(copy.source_dir, other.source_dir);
    let other = stored(&ws_path, "customer_analytics");
    assert_eq!((other.revision, other.project.assets.len()), (2, 5));
}

#[test]
fn reload_discards_unsaved_edits_after_saying_so_and_dismiss_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let (ws_path, project) = example_workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &ws_path).unwrap());
    // The edit stays unsaved until the import, however slow the machine.
    h.state_mut().saving.autosave_delay = Some(Duration::from_hours(1));
    let grab = card(&h, "raw_orders").center();
    drag(&mut h, grab, grab + vec2(0.0, 70.0), Modifiers::NONE);
    import_smaller_example_elsewhere(dir.path(), &ws_path);
    wait_for_label(&mut h, "Reload and discard my edits");
    h.state_mut().saving.autosave_delay = None;
    // Dismissed, the banner goes but the edits stay, unsaved, and say so.
    h.get_by_label("Dismiss for now").click();
    h.run_ok();
    assert!(h.query_by_label("Reload and discard my edits").is_none());
    h.get_by_label("Not saved: changed elsewhere");
    assert_eq!(h.state().project().assets.len(), 6);
    // Saving again is refused again, with the choice again.
    h.key_press_modifiers(Modifiers::COMMAND, Key::S);
    h.run_ok();
    wait_for_label(&mut h, "Reload and discard my edits");
    h.get_by_label("Reload and discard my edits").click();
    h.run_ok();
    wait_for(&mut h, "the reload", |s| s.project().assets.len() == 5);
    h.get_by_label_contains("your unsaved edits were discarded");
    assert_eq!(h.state().save_state(), SaveState::Saved);
    let other = stored(&ws_path, "customer_analytics");
    assert_eq!((other.revision, other.project.assets.len()), (2, 5));
}

fn app_autosave_delay() -> Duration {
    medallion::ui::AUTOSAVE_DELAY + Duration::from_millis(300)
}

/// The studio's "Import project…" over a project edited in the workspace after its last import
/// asks first, and then says what the import changed.
#[test]
fn a_studio_import_over_edits_made_since_the_last_import_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let (ws_path, project) = example_workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &ws_path).unwrap());
    let grab = card(&h, "raw_orders").center();
    drag(&mut h, grab, grab + vec2(0.0, 60.0), Modifiers::NONE);
    h.key_press_modifiers(Modifiers::COMMAND, Key::S);
    h.run_ok();
    wait_saved(&mut h);
    assert_eq!(stored(&ws_path, "customer_analytics").revision, 2);

    let example_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics");
    h.state_mut().import_dir(example_dir.clone());
    wait_for_label(&mut h, "Replace it");
    h.get_by_label_contains("was changed in the workspace after it was imported (revision 2; the last import was revision 1)");
    // Cancel leaves everything as it was.
    h.get_by_label("Cancel").click();
    h.run_ok();
    assert!(h.query_by_label("Replace it").is_none());
    assert_eq!(stored(&ws_path, "customer_analytics").revision, 2);

    h.state_mut().import_dir(example_dir);
    wait_for_label(&mut h, "Replace it");
    h.get_by_label("Replace it").click();
    h.run_ok();
    wait_for(&mut h, "the import", |s| {
        s.notice
            .as_ref()
            .is_some_and(|n| n.text.starts_with("Replaced project"))
    });
    h.get_by_label_contains("(6 assets, revision 2 → 3): 1 asset moved on the canvas (raw_orders)");
    assert_eq!(
        position(&h, "raw_orders"),
        example().layout.positions[&AssetKey::new("raw_orders")]
    );
    assert_eq!(h.state().save_state(), SaveState::Saved);
}

/// Finding 6 of issue 14, end to end with the real binary: with the studio open on a project,
/// `medallion plan NAME` beside a folder NAME uses the stored project (nothing is imported, and
/// the studio's next save is not refused); `./NAME` is the folder, and it does not discard the
/// studio's saved edits unless `import --replace` says so — after which the studio reloads.
#[test]
fn the_studio_and_the_cli_on_one_project_never_overwrite_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let (ws_path, project) = example_workspace(dir.path());
    let cwd = dir.path().join("cwd");
    let mut smaller = example();
    let key = AssetKey::new("daily_revenue");
    smaller.assets.retain(|a| a.key != key);
    smaller.layout.positions.remove(&key);
    format::write_project(&smaller, &cwd.join("customer_analytics")).unwrap();
    let medallion = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_medallion"))
            .args(args)
            .current_dir(&cwd)
            .env("MEDALLION_WORKSPACE", &ws_path)
            .env_remove("MEDALLION_LOG")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.code(), text)
    };

    let mut h = harness(Studio::with_workspace(Some(project), &ws_path).unwrap());
    let grab = card(&h, "daily_revenue").center();
    drag(&mut h, grab, grab + vec2(30.0, 50.0), Modifiers::NONE);
    let moved = position(&h, "daily_revenue");
    let (code, out) = medallion(&["plan", "customer_analytics"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("customer_analytics: 6 asset(s)"), "{out}");
    // The studio's edit lands on top of the untouched stored project.
    h.key_press_modifiers(Modifiers::COMMAND, Key::S);
    h.run_ok();
    wait_saved(&mut h);
    let now = stored(&ws_path, "customer_analytics");
    assert_eq!((now.revision, now.project.assets.len()), (2, 6));
    assert_eq!(now.project.layout.positions[&key], moved);

    // The folder, as a path, would discard the studio's edit: refused.
    let (code, out) = medallion(&["plan", "./customer_analytics"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("was changed in the workspace after it was imported"),
        "{out}"
    );
    assert_eq!(stored(&ws_path, "customer_analytics").revision, 2);

    // Replaced on purpose: the CLI says what changes, the studio follows.
    let (code, out) = medallion(&["import", "--replace", "./customer_analytics"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("revision 2 → 3): 1 asset removed (daily_revenue)"),
        "{out}"
    );
    wait_for(&mut h, "the studio to reload", |s| {
        s.project().assets.len() == 5
    });
    h.get_by_label_contains(
        "Reloaded customer_analytics: another window or command saved revision 3",
    );
    assert!(h.query_by_label("Reload and discard my edits").is_none());
}
