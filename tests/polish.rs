//! The first-hour polish of the studio (issue 20), each driven headless by accessible labels
//! (`egui_kittest`) on the example project: keys that close dialogs and redo, focus that tabs
//! past the toolbar, glyphs the font has, new cards in view, layer changes that move the card,
//! the minimap, hints, and the launch dialog with nothing selected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use egui::{FontId, Key, Modifiers, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use medallion::format;
use medallion::model::{AssetKey, Project};
use medallion::ui::{Studio, UICommand, frame_ui};

fn example() -> Project {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics");
    format::read_project(&dir).unwrap().project
}

fn harness_sized(studio: Studio, size: egui::Vec2) -> Harness<'static, Studio> {
    let mut h = Harness::builder()
        .with_size(size)
        .with_max_steps(40)
        .build_ui_state(|ui, studio: &mut Studio| frame_ui(ui, studio), studio);
    h.state_mut().validate_now();
    h.run_ok();
    h
}

fn harness(studio: Studio) -> Harness<'static, Studio> {
    harness_sized(studio, vec2(1400.0, 900.0))
}

fn studio_on(project: Project) -> Studio {
    Studio::new(Some(project), "test.sqlite".into())
}

fn command(h: &mut Harness<'_, Studio>, command: UICommand) {
    h.state_mut().push_command(command);
    h.run_ok();
}

fn has_asset(h: &Harness<'_, Studio>, key: &str) -> bool {
    h.state().project().asset(&AssetKey::new(key)).is_some()
}

#[test]
fn ctrl_y_redoes_what_ctrl_z_undid() {
    let mut h = harness(studio_on(example()));
    h.get_by_label("daily_revenue").click();
    h.run_ok();
    h.key_press(Key::Delete);
    h.run_ok();
    assert!(!has_asset(&h, "daily_revenue"));
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_ok();
    assert!(has_asset(&h, "daily_revenue"));
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    h.run_ok();
    assert!(!has_asset(&h, "daily_revenue"), "Ctrl+Y redid the delete");
}

#[test]
fn escape_closes_the_add_asset_palette_the_command_palette_and_materialize() {
    let mut h = harness(studio_on(example()));
    h.get_by_label("Add asset…").click();
    h.run_ok();
    h.get_by_label("Gold: SQL transform");
    h.key_press(Key::Escape);
    h.run_ok();
    assert!(h.state().windows.add_palette.is_none());
    assert!(h.query_by_label("Gold: SQL transform").is_none());

    h.get_by_label("Command palette…").click();
    h.run_ok();
    assert!(h.state().windows.command_palette.is_some());
    h.key_press(Key::Escape);
    h.run_ok();
    assert!(h.state().windows.command_palette.is_none());

    h.get_by_label("daily_revenue").click();
    h.run_ok();
    h.get_by_label("Materialize…").click();
    h.run_ok();
    h.get_by_label("Selected with upstream");
    h.key_press(Key::Escape);
    h.run_ok();
    assert!(h.state().workbench.launch.is_none());
    assert!(h.query_by_label("Selected with upstream").is_none());
    // The selection the dialog was opened for is kept.
    assert_eq!(h.state().canvas.selection.len(), 1);
}

#[test]
fn tab_moves_focus_past_the_toolbar_to_the_canvas() {
    let mut h = harness(studio_on(example()));
    let canvas = egui::Id::new("asset_canvas");
    let mut focused = Vec::new();
    for _ in 0..60 {
        h.key_press(Key::Tab);
        h.run_ok();
        let now = h.ctx.memory(egui::Memory::focused);
        if now == Some(canvas) {
            return;
        }
        focused.push(now);
    }
    panic!("Tab never reached the canvas; focus went through {focused:?}");
}

#[test]
fn the_canvas_hints_at_drag_select_and_space_drag_pan() {
    let h = harness(studio_on(example()));
    h.get_by_label_contains("Drag on the background to select");
    h.get_by_label_contains("Space+drag");
}

#[test]
fn the_cycle_refusal_is_drawn_with_glyphs_the_font_has() {
    let mut h = harness(studio_on(example()));
    let before = h.state().project().clone();
    let from = h.get_by_label("order_history").rect().right_center();
    let to = h.get_by_label("cleaned_customer_data").rect().center();
    h.drag_at(from);
    h.run_ok();
    h.hover_at(to);
    h.run_ok();
    h.drop_at(to);
    h.run_ok();
    assert_eq!(h.state().project(), &before);
    let node = h
        .get_by_label_contains("would close the dependency cycle")
        .accesskit_node();
    let label = node.label().or_else(|| node.value()).unwrap();
    assert!(label.contains("cleaned_customer_data"), "{label}");
    for c in label.chars() {
        assert!(
            h.ctx
                .fonts_mut(|f| f.has_glyph(&FontId::proportional(14.0), c)),
            "the notice {label:?} draws {c:?}, which the font lacks"
        );
    }
}

#[test]
fn the_minimap_shows_whenever_the_graph_does_not_fit() {
    let mut h = harness(studio_on(example()));
    assert!(
        h.query_by_label("Minimap").is_none(),
        "the example fits: no minimap"
    );
    for _ in 0..6 {
        command(&mut h, UICommand::ZoomIn);
    }
    h.get_by_label("Minimap");
    command(&mut h, UICommand::FitToView);
    h.run_ok();
    assert!(h.query_by_label("Minimap").is_none());
}

#[test]
fn materialize_with_nothing_selected_says_so_instead_of_estimating() {
    let mut h = harness(studio_on(example()));
    h.get_by_label("daily_revenue").click();
    h.run_ok();
    h.get_by_label("Materialize…").click();
    h.run_ok();
    // The selection goes while the dialog is open (a click on the background).
    h.state_mut().canvas.selection.clear();
    h.run_ok();
    assert!(
        !h.query_all_by_label_contains("Select assets on the canvas")
            .collect::<Vec<_>>()
            .is_empty()
    );
    assert!(h.query_by_label("Estimating tiers and costs…").is_none());
}

#[test]
fn changing_the_layer_in_the_inspector_moves_the_card_to_its_lane() {
    let mut h = harness(studio_on(example()));
    let before = h.state().project().clone();
    h.get_by_label("daily_revenue").click();
    h.run_ok();
    h.get_by_label("Asset layer").click();
    h.run_ok();
    h.get_by_label("silver").click();
    h.run_ok();
    assert_eq!(
        h.state()
            .project()
            .asset(&AssetKey::new("daily_revenue"))
            .unwrap()
            .layer
            .as_str(),
        "silver"
    );
    command(&mut h, UICommand::FitToView);
    let card = h.get_by_label("daily_revenue").rect();
    let silver = h.get_by_label("Silver lane").rect();
    let x_of = |k: &str| h.state().project().layout.positions[&AssetKey::new(k)].x;
    assert!(
        card.left() >= silver.left() && card.right() <= silver.right(),
        "card {card:?} in the silver lane {silver:?}"
    );
    // Right of the silver asset it reads, left of every gold card (in canvas units: the gold
    // lane's header is not always on screen after fitting on a loaded machine).
    assert!(
        x_of("daily_revenue") > x_of("order_history")
            && x_of("daily_revenue") < x_of("customer_lifetime_value"),
        "daily_revenue at x {} right of order_history ({}), left of gold customer_lifetime_value ({})",
        x_of("daily_revenue"),
        x_of("order_history"),
        x_of("customer_lifetime_value")
    );
    // One undo puts it back, layer and place.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_ok();
    assert_eq!(h.state().project(), &before);
}

/// A primary-button drag from `from` to `to` in small steps.
fn drag(h: &mut Harness<'_, Studio>, from: egui::Pos2, to: egui::Pos2) {
    h.event(egui::Event::PointerMoved(from));
    h.run_ok();
    h.event(egui::Event::PointerButton {
        pos: from,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    h.run_ok();
    for step in 1..=6 {
        let t = step as f32 / 6.0;
        h.event(egui::Event::PointerMoved(from + (to - from) * t));
        h.step();
    }
    h.event(egui::Event::PointerButton {
        pos: to,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.run_ok();
}

#[test]
fn the_workbench_split_and_the_canvas_view_are_restored_on_reopen() {
    let mut h = harness(studio_on(example()));
    command(&mut h, UICommand::ZoomIn);
    command(&mut h, UICommand::ZoomIn);
    // The workbench's top edge is the canvas's bottom: drag it 150 points up.
    let canvas = h.get_by_label("Asset canvas").rect();
    let edge = egui::pos2(canvas.center().x, canvas.bottom() + 1.0);
    drag(&mut h, edge, edge - vec2(0.0, 150.0));
    let canvas = h.get_by_label("Asset canvas").rect();
    let (zoom, pan) = (h.state().canvas.zoom, h.state().canvas.pan);
    assert!(zoom > 1.0, "{zoom}");

    // What eframe stores when the window closes, read back on the next start.
    let stored = serde_json::to_string(&h.state_mut().preferences()).unwrap();
    let prefs: medallion::ui::Preferences = serde_json::from_str(&stored).unwrap();
    let mut reopened = studio_on(example());
    reopened.restore_preferences(prefs);
    let h2 = harness(reopened);
    let canvas2 = h2.get_by_label("Asset canvas").rect();
    assert!(
        (canvas2.bottom() - canvas.bottom()).abs() < 2.0,
        "workbench split {canvas2:?}, was {canvas:?}"
    );
    assert!((h2.state().canvas.zoom - zoom).abs() < 1e-4);
    assert!((h2.state().canvas.pan - pan).length() < 0.5);
}

/// At 1280×800 the AWS account form with its compute settings scrolls inside the window, and
/// "Test connection" and its answer stay on screen.
#[test]
fn the_aws_account_form_fits_1280_by_800_and_the_test_result_is_on_screen() {
    let mut h = harness_sized(studio_on(example()), vec2(1280.0, 800.0));
    h.state_mut().windows.connections =
        Some(medallion::ui::panels::connections::ConnectionsState::default());
    h.run_ok();
    h.get_by_label("Add AWS account").click();
    h.run_ok();
    h.get_by_label("Run steps on AWS with this account").click();
    h.run_ok();
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, vec2(1280.0, 800.0));
    let test = h.get_by_label("Test connection").rect();
    assert!(screen.contains_rect(test), "Test connection at {test:?}");
    h.get_by_label("Test connection").click();
    h.run_ok();
    // The answer (or the refusal of an incomplete form) is drawn where it can be read.
    let status = h
        .state()
        .windows
        .connections
        .as_ref()
        .and_then(|c| c.status.clone())
        .expect("Test connection says something");
    let shown = h.get_by_label(&status.1).rect();
    assert!(
        screen.contains_rect(shown),
        "{:?} drawn at {shown:?}",
        status.1
    );
}

/// At 1280×800 (and 1600×1000) no two of the toolbar's controls overlap and none runs off the
/// window: the selection box was partly under "Command palette…" at 1280.
#[test]
fn the_toolbar_controls_do_not_overlap_at_1280_by_800() {
    for size in [vec2(1280.0, 800.0), vec2(1600.0, 1000.0)] {
        let mut h = harness_sized(studio_on(example()), size);
        h.get_by_label("Selection").focus();
        h.run_ok();
        h.get_by_label("Selection").type_text("+daily_revenue");
        h.run_ok();
        let labels = [
            "Project",
            "Add asset…",
            "Undo",
            "Redo",
            "Catalog",
            "Fit to view",
            "Auto-arrange",
            "Preview",
            "Materialize…",
            "Run checks",
            "Automation…",
            "Selection",
            "Command palette…",
            "Light theme",
        ];
        // The toolbar's own control of each name: the topmost.
        let rects: Vec<(&str, egui::Rect)> = labels
            .iter()
            .map(|l| {
                let rect = h
                    .get_all_by_label(l)
                    .map(|n| n.rect())
                    .min_by(|a, b| a.top().total_cmp(&b.top()))
                    .unwrap();
                (*l, rect)
            })
            .collect();
        // The count beside the box (the smallest node naming it, not a container).
        let matches = h
            .get_all_by_label_contains("match(es)")
            .map(|n| n.rect())
            .min_by(|a, b| a.width().total_cmp(&b.width()))
            .unwrap();
        let rects: Vec<(&str, egui::Rect)> =
            rects.into_iter().chain([("matches", matches)]).collect();
        for (i, (a, ra)) in rects.iter().enumerate() {
            assert!(
                ra.right() <= size.x + 0.5 && ra.left() >= -0.5,
                "{a} at {ra:?} runs off the {size:?} window"
            );
            for (b, rb) in &rects[i + 1..] {
                assert!(
                    !ra.shrink(0.5).intersects(rb.shrink(0.5)),
                    "at {size:?}, {a} {ra:?} overlaps {b} {rb:?}"
                );
            }
        }
    }
}
