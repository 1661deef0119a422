//! The studio window, driven headless by accessible labels (`egui_kittest`, no GPU).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names
)]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use medallion::format;
use medallion::model::validate;
use medallion::ui::{StudioState, studio_ui};

#[test]
fn the_first_window_lists_the_example_assets_by_layer() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics");
    let project = format::read_project(&dir).unwrap().project;
    let diagnostics = validate(&project);
    let state = StudioState {
        project: Some(project),
        diagnostics,
        workspace: "test.sqlite".into(),
    };
    let mut harness = Harness::new_ui(move |ui| studio_ui(ui, &state));
    harness.run();
    for label in [
        "raw_customer_data",
        "raw_orders",
        "cleaned_customer_data",
        "order_history",
        "customer_lifetime_value",
        "daily_revenue",
        "Bronze (2)",
        "Silver (2)",
        "Gold (2)",
        "Valid",
    ] {
        harness.get_by_label(label);
    }
    assert!(harness.query_by_label("Diagnostics").is_none());
}

#[test]
fn diagnostics_show_in_the_window() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken_projects/cycle");
    let project = format::read_project(&dir).unwrap().project;
    let diagnostics = validate(&project);
    let state = StudioState {
        project: Some(project),
        diagnostics,
        workspace: "test.sqlite".into(),
    };
    let mut harness = Harness::new_ui(move |ui| studio_ui(ui, &state));
    harness.run();
    harness.get_by_label("Diagnostics");
    harness.get_by_label("1 error(s), 0 warning(s)");
    harness.get_by_label_contains("dependency cycle: a → b → a");
}
