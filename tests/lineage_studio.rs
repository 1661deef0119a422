//! The studio's Lineage window (issue 19), driven headless by accessible labels
//! (`egui_kittest`): opened from a card's menu on the example, it shows the asset's upstream
//! and downstream assets; choosing a column shows the columns its values come from.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::studio::harness;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use medallion::app;
use medallion::model::Project;
use medallion::ui::Studio;

const WAIT: Duration = Duration::from_mins(1);

fn workspace(dir: &Path) -> (PathBuf, Project) {
    crate::common::studio::example_workspace(dir)
}

/// The labels of the window's nodes, once its answer for `column` arrived.
fn shown(h: &mut Harness<'_, Studio>, column: Option<&str>) -> (BTreeSet<String>, usize) {
    crate::common::studio::wait_until(h, "the lineage view", WAIT, |s| {
        s.windows.lineage.as_ref().is_some_and(|l| {
            l.view
                .as_ref()
                .is_some_and(|v| v.column.as_deref() == column)
        })
    });
    let view = h
        .state()
        .windows
        .lineage
        .as_ref()
        .unwrap()
        .view
        .as_ref()
        .unwrap();
    (
        view.nodes
            .iter()
            .map(app::lineage::ViewNode::label)
            .collect(),
        view.edges.len(),
    )
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn the_card_menu_opens_lineage_and_a_column_traces_to_raw_orders() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("customer_lifetime_value").click_secondary();
    h.run_steps(2);
    // The menu is drawn last (the inspector of the selected card has a "Lineage…" too).
    h.get_all_by_label("Lineage…").last().unwrap().click();
    h.run_steps(2);

    let (nodes, edges) = shown(&mut h, None);
    assert_eq!(
        nodes,
        set(&[
            "raw_customer_data",
            "raw_orders",
            "cleaned_customer_data",
            "order_history",
            "customer_lifetime_value",
        ])
    );
    // raw → cleaned, cleaned → history, raw_orders → history, history → CLV.
    assert_eq!(edges, 4);

    // Choose the column in the window's picker.
    h.get_by_label("Column").click();
    h.run_steps(2);
    h.get_by_label("clv · float64").click();
    h.run_steps(2);
    let (nodes, edges) = shown(&mut h, Some("clv"));
    assert_eq!(
        nodes,
        set(&[
            "customer_lifetime_value.clv",
            "order_history.amount",
            "order_history.order_date",
            "raw_orders.amount",
            "raw_orders.order_date",
        ])
    );
    assert_eq!(edges, 4);

    // Escape closes it.
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(h.state().windows.lineage.is_none());
}

/// A column chosen in the inspector's Columns section is traced on the canvas: the cards it
/// comes from and feeds are highlighted with their columns on the way, and the section says
/// which; choosing it again clears the highlight.
#[test]
fn a_column_chosen_in_the_inspector_is_highlighted_on_the_canvas() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("order_history").click();
    h.run_steps(2);
    // The section is the inspector's last (perhaps scrolled out of view): opened through
    // accessibility, as a screen reader would.
    h.get_by_label("Columns").click_accesskit();
    h.run_steps(2);
    crate::common::studio::wait_until(&mut h, "the inferred columns", WAIT, |s| {
        s.inspector.columns.view.is_some()
    });
    h.get_by_label("amount: decimal(12,2)").click_accesskit();
    h.run_steps(2);
    crate::common::studio::wait_until(&mut h, "the column's lineage", WAIT, |s| {
        !s.canvas.column_lineage.is_empty()
    });
    let lit: BTreeSet<String> = h
        .state()
        .canvas
        .column_lineage
        .iter()
        .flat_map(|(a, cols)| cols.iter().map(move |c| format!("{a}.{c}")))
        .collect();
    // From raw_orders.amount; into revenue and the CLV columns computed from it.
    assert!(lit.contains("raw_orders.amount"), "{lit:?}");
    assert!(lit.contains("order_history.amount"), "{lit:?}");
    assert!(lit.contains("daily_revenue.revenue"), "{lit:?}");
    assert!(lit.contains("customer_lifetime_value.clv"), "{lit:?}");
    assert!(
        !h.state()
            .canvas
            .column_lineage
            .contains_key(&medallion::model::AssetKey::new("raw_customer_data")),
        "{lit:?}"
    );
    h.get_by_label("Comes from: raw_orders.amount");
    h.get_by_label_contains("Feeds: customer_lifetime_value.");
    // Again: cleared.
    h.get_by_label("amount: decimal(12,2)").click_accesskit();
    h.run_steps(2);
    assert!(h.state().canvas.column_lineage.is_empty());
}

/// Deleting an asset others read first lists what it breaks and asks; Cancel keeps it,
/// "Delete anyway" deletes it (and Undo brings it back). A leaf goes at once.
#[test]
fn deleting_an_asset_others_read_lists_what_breaks_and_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    let exists =
        |h: &Harness<'_, Studio>, key: &str| h.state().project().asset(&key.into()).is_some();
    h.get_by_label("order_history").click();
    h.run_steps(2);
    h.key_press(egui::Key::Delete);
    h.run_steps(2);
    assert!(exists(&h, "order_history"), "not deleted before confirming");
    h.get_by_label("Deleting order_history breaks what reads it:");
    h.get_by_label("Downstream assets (2)");
    h.get_by_label_contains("customer_lifetime_value — reads order_history");
    h.get_by_label_contains("daily_revenue — reads order_history");
    h.get_by_label("Unit tests (2)");
    h.get_by_label_contains(
        "customer_lifetime_value.clv_exact_to_the_cent — gives rows for order_history",
    );
    h.get_by_label("Cancel").click();
    h.run_steps(2);
    assert!(exists(&h, "order_history"));
    assert!(h.state().windows.confirm_delete.is_none());

    h.key_press(egui::Key::Delete);
    h.run_steps(2);
    h.get_by_label("Delete anyway").click();
    h.run_steps(2);
    assert!(!exists(&h, "order_history"));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert!(exists(&h, "order_history"));

    // Nothing reads daily_revenue: no question.
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    h.get_by_label("daily_revenue").click();
    h.run_steps(2);
    h.key_press(egui::Key::Delete);
    h.run_steps(2);
    assert!(!exists(&h, "daily_revenue"));
    assert!(h.state().windows.confirm_delete.is_none());
}

/// The SQL editor completes the word being typed from the upstream assets' names and their
/// inferred columns: after `raw_orders.am` it offers `amount`, and a click completes it.
#[test]
fn the_sql_editor_completes_upstream_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("order_history").click();
    h.run_steps(2);
    crate::common::studio::wait_until(&mut h, "the upstream columns", WAIT, |s| {
        s.inspector
            .columns
            .view
            .as_ref()
            .is_some_and(|v| !v.upstream.is_empty())
    });
    h.get_by_label("SQL").focus();
    h.run_steps(2);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::End);
    h.run_steps(2);
    h.get_by_label("SQL").type_text("\n-- raw_orders.am");
    h.run_steps(3);
    h.get_by_label("amount (raw_orders)").click();
    h.run_steps(3);
    let sql = h
        .state()
        .project()
        .asset(&"order_history".into())
        .and_then(|a| a.transform())
        .and_then(|t| t.sql.clone())
        .unwrap();
    assert!(sql.ends_with("-- raw_orders.amount"), "{sql}");
    // An asset's name is offered too (beside its card's label).
    let before = h.get_all_by_label("cleaned_customer_data").count();
    h.get_by_label("SQL").type_text(" cleaned_cust");
    h.run_steps(3);
    assert_eq!(
        h.get_all_by_label("cleaned_customer_data").count(),
        before + 1
    );
}
