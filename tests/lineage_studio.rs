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
