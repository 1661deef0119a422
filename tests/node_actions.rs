//! Working from the node (issue 20): a card's context menu and keys preview, materialize it
//! alone or with its upstream or downstream, run its checks and copy its key — each driven
//! headless by accessible labels (`egui_kittest`) on a temporary workspace with the example
//! project, runs awaited with bounded step loops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::studio::harness;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use medallion::model::Project;
use medallion::ui::Studio;

const WAIT: Duration = Duration::from_mins(3);

fn workspace(dir: &Path) -> (PathBuf, Project) {
    crate::common::studio::example_workspace(dir)
}

fn wait_until(h: &mut Harness<'_, Studio>, what: &str, done: impl Fn(&Studio) -> bool) {
    crate::common::studio::wait_until(h, what, WAIT, done);
}

/// Opens the context menu of `key`'s card and clicks `entry`.
fn card_menu(h: &mut Harness<'_, Studio>, key: &str, entry: &str) {
    h.get_by_label(key).click_secondary();
    h.run_steps(2);
    // The menu is drawn last (the toolbar has a "Preview" too).
    h.get_all_by_label(entry).last().unwrap().click();
    h.run_steps(2);
}

/// Waits for the run that just started to end; its selection and the assets it stepped.
fn finished_run(h: &mut Harness<'_, Studio>) -> (String, BTreeSet<String>) {
    wait_until(h, "the run to finish", |s| {
        s.run.as_ref().is_some_and(|r| r.done && r.record.is_some())
    });
    let run = h.state().run.as_ref().unwrap();
    let record = run.record.as_ref().unwrap();
    (
        record.selection.clone(),
        run.steps.iter().map(|b| b.asset.to_string()).collect(),
    )
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

#[test]
fn the_card_menu_and_keys_materialize_a_card_alone_with_upstream_and_with_downstream() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    card_menu(&mut h, "cleaned_customer_data", "Materialize with upstream");
    let (selection, steps) = finished_run(&mut h);
    assert_eq!(selection, "+cleaned_customer_data");
    assert_eq!(steps, set(&["raw_customer_data", "cleaned_customer_data"]));

    card_menu(&mut h, "raw_orders", "Materialize this");
    let (selection, steps) = finished_run(&mut h);
    assert_eq!(selection, "raw_orders");
    assert_eq!(steps, set(&["raw_orders"]));

    card_menu(&mut h, "order_history", "Materialize with downstream");
    let (selection, steps) = finished_run(&mut h);
    assert_eq!(selection, "order_history+");
    assert_eq!(
        steps,
        set(&["order_history", "customer_lifetime_value", "daily_revenue"])
    );

    // The same from the keyboard on the selected card: M, Shift+M, Alt+M.
    h.get_by_label("daily_revenue").click();
    h.run_steps(2);
    h.key_press(Key::M);
    h.run_steps(2);
    let (selection, _) = finished_run(&mut h);
    assert_eq!(selection, "daily_revenue");
    h.key_press_modifiers(Modifiers::SHIFT, Key::M);
    h.run_steps(2);
    let (selection, steps) = finished_run(&mut h);
    assert_eq!(selection, "+daily_revenue");
    assert!(steps.contains("raw_orders"), "{steps:?}");
    h.get_by_label("raw_customer_data").click();
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::ALT, Key::M);
    h.run_steps(2);
    let (selection, steps) = finished_run(&mut h);
    assert_eq!(selection, "raw_customer_data+");
    assert!(steps.contains("customer_lifetime_value"), "{steps:?}");

    // Run checks from the menu: a checks-only run of that asset.
    card_menu(&mut h, "cleaned_customer_data", "Run checks");
    wait_until(&mut h, "the checks run", |s| {
        s.run
            .as_ref()
            .is_some_and(|r| r.done && r.record.as_ref().is_some_and(|r| r.checks_only))
    });
    assert_eq!(
        h.state()
            .run
            .as_ref()
            .unwrap()
            .record
            .as_ref()
            .unwrap()
            .selection,
        "cleaned_customer_data"
    );
}

#[test]
fn the_card_menu_previews_and_copies_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    card_menu(&mut h, "raw_orders", "Preview");
    wait_until(&mut h, "the preview", |s| {
        s.workbench.preview.data.is_some() || s.workbench.preview.error.is_some()
    });
    assert_eq!(
        h.state()
            .workbench
            .preview
            .asset
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("raw_orders")
    );
    assert!(h.state().workbench.preview.data.is_some());

    h.get_by_label("order_history").click_secondary();
    h.run_steps(2);
    for entry in [
        "Preview",
        "Materialize this",
        "Materialize with upstream",
        "Materialize with downstream",
        "Run checks",
        "Show in catalog",
        "Copy key",
    ] {
        assert!(h.get_all_by_label(entry).count() >= 1, "{entry}");
    }
    h.get_all_by_label("Copy key").last().unwrap().click();
    h.step();
    let copied = h
        .output()
        .platform_output
        .commands
        .iter()
        .any(|c| matches!(c, egui::OutputCommand::CopyText(t) if t == "order_history"));
    assert!(copied, "{:?}", h.output().platform_output.commands);
    h.run_steps(2);
    h.get_by_label_contains("Copied order_history");
}

fn catalog_rows(h: &Harness<'_, Studio>) -> Vec<String> {
    let mut rows: Vec<(f32, String)> = h
        .query_all_by_label_contains("Catalog row ")
        .map(|n| {
            let node = n.accesskit_node();
            let label = node.label().or_else(|| node.value()).unwrap_or_default();
            (
                n.rect().top(),
                label.trim_start_matches("Catalog row ").to_owned(),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    rows.into_iter().map(|(_, k)| k).collect()
}

/// Picks `option` in the catalog's combo box named `filter`.
fn choose(h: &mut Harness<'_, Studio>, filter: &str, option: &str) {
    h.get_by_label(&format!("{filter} filter")).click();
    h.run_steps(2);
    h.get_all_by_label(option).last().unwrap().click();
    h.run_steps(2);
}

#[test]
fn the_catalog_searches_filters_sorts_and_selects_the_card() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    card_menu(&mut h, "order_history", "Materialize with upstream");
    finished_run(&mut h);
    wait_until(&mut h, "the asset states", |s| {
        s.states.assets.len() == 6
            && s.states
                .assets
                .values()
                .filter(|a| a.last_materialization.is_some())
                .count()
                == 4
    });

    h.get_by_label("Catalog").click();
    h.run_steps(2);
    assert_eq!(catalog_rows(&h).len(), 6, "{:?}", catalog_rows(&h));

    h.get_by_label("Search the catalog").click();
    h.get_by_label("Search the catalog").type_text("lifetime");
    h.run_steps(2);
    assert_eq!(catalog_rows(&h), ["customer_lifetime_value"]);
    h.get_by_label("Search the catalog").click();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.key_press(Key::Backspace);
    h.run_steps(2);
    assert_eq!(catalog_rows(&h).len(), 6);

    choose(&mut h, "Layer", "silver");
    assert_eq!(catalog_rows(&h), ["cleaned_customer_data", "order_history"]);
    choose(&mut h, "Layer", "any");
    choose(&mut h, "Owner", "analytics");
    assert_eq!(
        catalog_rows(&h),
        ["customer_lifetime_value", "daily_revenue"]
    );
    // Gold was never materialized: the status filter says so.
    choose(&mut h, "Status", "fresh");
    assert!(catalog_rows(&h).is_empty(), "{:?}", catalog_rows(&h));
    choose(&mut h, "Owner", "any");
    choose(&mut h, "Status", "not materialized");
    assert_eq!(
        catalog_rows(&h),
        ["customer_lifetime_value", "daily_revenue"]
    );
    choose(&mut h, "Status", "any");
    choose(&mut h, "Group", "customers");
    assert_eq!(
        catalog_rows(&h),
        ["cleaned_customer_data", "raw_customer_data"]
    );
    choose(&mut h, "Group", "any");

    // Sorted by rows: most rows first, never materialized last.
    choose(&mut h, "Sort", "Rows");
    let rows = catalog_rows(&h);
    let count = |k: &str| {
        h.state().states.assets[&medallion::model::AssetKey::new(k)]
            .last_materialization
            .as_ref()
            .map(|m| m.row_count)
    };
    let counts: Vec<Option<u64>> = rows.iter().map(|k| count(k)).collect();
    let mut sorted = counts.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(counts, sorted, "{rows:?}");
    assert!(counts[0].unwrap() > 0 && counts[5].is_none(), "{counts:?}");

    // A row selects its card.
    h.get_by_label("Catalog row daily_revenue").click();
    h.run_steps(2);
    let selected: Vec<String> = h
        .state()
        .canvas
        .selection
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(selected, ["daily_revenue"]);

    // Show in catalog from a card's menu opens it on that card's row.
    h.get_by_label("Catalog").click();
    h.run_steps(2);
    assert!(h.query_by_label("Search the catalog").is_none());
    h.state_mut()
        .push_command(medallion::ui::UICommand::FitToView);
    h.run_steps(3);
    card_menu(&mut h, "raw_orders", "Show in catalog");
    h.get_by_label("Search the catalog");
    h.get_by_label("Catalog row raw_orders");
}
