//! What flows along the canvas's edges (issue 20), driven headless by accessible labels on a
//! real temporary workspace with the example: after a run each edge shows the row count of its
//! upstream's stored materialization, as the workspace recorded it, again after a restart; a
//! click on it previews those stored rows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use medallion::model::{AssetKey, RunStatus};
use medallion::ui::{Studio, UICommand};

use crate::common::studio::{example_workspace, harness, wait_until};

const WAIT: Duration = Duration::from_mins(3);

/// The rows of `asset`'s latest stored materialization, read from the workspace file.
fn stored_rows(path: &Path, asset: &str) -> u64 {
    let ws = medallion::app::open_workspace(path).unwrap();
    let stored = medallion::app::load_project(&ws, "customer_analytics").unwrap();
    medallion::app::status::asset_states(&ws, &stored)
        .unwrap()
        .into_iter()
        .find(|s| s.asset.as_str() == asset)
        .and_then(|s| s.last_materialization)
        .map(|m| m.row_count)
        .expect("a stored materialization")
}

fn edge_label(path: &Path, from: &str, to: &str) -> String {
    let rows = stored_rows(path, from);
    let rows = usize::try_from(rows).unwrap();
    format!(
        "{from} to {to}: {} rows",
        medallion::model::clip::group_digits(rows)
    )
}

/// Steps until an element labelled `label` is drawn.
fn wait_for_label(h: &mut Harness<'_, Studio>, label: &str) {
    let start = Instant::now();
    while h.query_by_label(label).is_none() {
        assert!(start.elapsed() < WAIT, "{label:?} never appeared");
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn materialize_all(h: &mut Harness<'_, Studio>) {
    h.state_mut().push_command(UICommand::MaterializeAll);
    h.run_steps(2);
    wait_until(h, "the run", WAIT, |s| {
        s.run.as_ref().is_some_and(|r| r.done)
    });
    assert_eq!(
        h.state().run.as_ref().unwrap().status,
        Some(RunStatus::Success)
    );
}

#[test]
fn after_a_run_each_edge_shows_the_stored_rows_also_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = example_workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project.clone()), &path).unwrap());
    h.run_steps(5);
    assert!(
        h.query_by_label_contains("raw_orders to order_history")
            .is_none(),
        "a count before anything ran"
    );
    materialize_all(&mut h);
    let labels = [
        edge_label(&path, "raw_orders", "order_history"),
        edge_label(&path, "cleaned_customer_data", "order_history"),
        edge_label(&path, "order_history", "daily_revenue"),
    ];
    assert!(labels[0].ends_with("10,000 rows"), "{}", labels[0]);
    for label in &labels {
        wait_for_label(&mut h, label);
    }
    drop(h);
    // A new window on the same workspace: the counts come from what was recorded.
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    for label in &labels {
        wait_for_label(&mut h, label);
    }
}

#[test]
fn a_click_on_an_edge_previews_the_stored_rows_flowing_along_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = example_workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    materialize_all(&mut h);
    let label = edge_label(&path, "order_history", "daily_revenue");
    wait_for_label(&mut h, &label);
    h.get_by_label(&label).click();
    h.run_steps(2);
    wait_until(&mut h, "the edge's preview", WAIT, |s| {
        s.workbench.preview.loading.is_none() && s.workbench.preview.data.is_some()
    });
    let preview = &h.state().workbench.preview;
    assert_eq!(preview.asset, Some(AssetKey::new("order_history")));
    assert_eq!(preview.along, Some(AssetKey::new("daily_revenue")));
    let rows = stored_rows(&path, "order_history");
    assert_eq!(preview.data.as_ref().unwrap().rows.len() as u64, rows);
    h.get_by_label("Data from order_history to daily_revenue");
    h.get_by_label_contains(&format!("all {rows} stored rows of order_history"));
}
