//! The studio's data preview (issue 20), driven headless by accessible labels on real temporary
//! workspaces: sorting by a clicked header and filtering rows, a long value read in full in the
//! cell viewer, and a header that follows its asset's rename, a changed column and a deletion.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use egui::FontId;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use medallion::model::edit::Edit;
use medallion::model::{AssetDefinition, AssetKey};
use medallion::ui::Studio;

use crate::common::studio::{example_workspace, harness, wait_until};

const WAIT: Duration = Duration::from_mins(3);

fn previewed(h: &mut Harness<'_, Studio>, key: &str) {
    h.state_mut().preview_asset(&AssetKey::new(key));
    h.run_steps(2);
    wait_until(h, &format!("the preview of {key}"), WAIT, |s| {
        s.workbench.preview.loading.is_none()
            && (s.workbench.preview.data.is_some() || s.workbench.preview.error.is_some())
    });
    assert!(
        h.state().workbench.preview.error.is_none(),
        "{:?}",
        h.state().workbench.preview.error
    );
}

/// The cells of column `name` in the order the preview shows its rows.
fn shown(h: &mut Harness<'_, Studio>, name: &str) -> Vec<Option<String>> {
    let ctx = h.ctx.clone();
    let preview = &mut h.state_mut().workbench.preview;
    let data = preview.data.as_ref().unwrap();
    let column = data.columns.iter().position(|c| c.name == name).unwrap();
    preview
        .table
        .rows(data, &ctx)
        .iter()
        .map(|r| data.rows.cell(*r, column).map(str::to_owned))
        .collect()
}

fn amounts(h: &mut Harness<'_, Studio>) -> Vec<f64> {
    shown(h, "amount")
        .into_iter()
        .map(|v| v.unwrap().parse().unwrap())
        .collect()
}

#[test]
fn a_header_click_sorts_the_rows_and_the_filter_keeps_the_matching_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = example_workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    previewed(&mut h, "raw_orders");
    let total = h
        .state()
        .workbench
        .preview
        .data
        .as_ref()
        .unwrap()
        .rows
        .len();
    assert!(total > 10);
    let unsorted = amounts(&mut h);
    assert!(
        !unsorted.is_sorted_by(|a, b| a <= b),
        "the data is sorted already"
    );

    h.get_by_label("amount").click();
    h.run_steps(2);
    let up = amounts(&mut h);
    assert!(up.is_sorted_by(|a, b| a <= b), "{:?}", &up[..10]);
    let header = h.get_by_label("amount ▲");
    let label = header.accesskit_node().label().unwrap();
    for c in label.chars() {
        assert!(
            h.ctx
                .fonts_mut(|f| f.has_glyph(&FontId::proportional(14.0), c)),
            "the header {label:?} draws {c:?}, which the font lacks"
        );
    }
    h.get_by_label("amount ▲").click();
    h.run_steps(2);
    let down = amounts(&mut h);
    assert!(down.is_sorted_by(|a, b| a >= b), "{:?}", &down[..10]);
    h.get_by_label("amount ▼").click();
    h.run_steps(2);
    assert_eq!(amounts(&mut h), unsorted);

    h.get_by_label("Filter rows").click();
    h.run_steps(1);
    h.get_by_label("Filter rows").type_text("CANCELLED");
    h.run_steps(2);
    let statuses = shown(&mut h, "status");
    assert!(!statuses.is_empty() && statuses.len() < total);
    assert!(
        statuses.iter().all(|s| s.as_deref() == Some("cancelled")),
        "{statuses:?}"
    );
    h.get_by_label_contains(&format!("{} of {total} rows", statuses.len()));
}

fn notes_project(dir: &Path, note: &str) -> std::path::PathBuf {
    let project = dir.join("notes");
    std::fs::create_dir_all(project.join("data")).unwrap();
    std::fs::write(
        project.join("medallion.toml"),
        "[project]\nname = \"notes\"\n\n[assets.notes]\nlayer = \"bronze\"\n\n\
         [assets.notes.source]\nkind = \"csv\"\npath = \"data/notes.csv\"\ndelimiter = \",\"\n\
         has_header = true\n",
    )
    .unwrap();
    std::fs::write(
        project.join("data/notes.csv"),
        format!("id,note\n1,short\n2,\"{note}\"\n"),
    )
    .unwrap();
    project
}

#[test]
fn a_long_value_is_read_in_full_in_the_cell_viewer() {
    let dir = tempfile::tempdir().unwrap();
    let note = format!(
        "A very long note: {}the end",
        "lorem ipsum dolor sit amet ".repeat(25)
    );
    let project_dir = notes_project(dir.path(), &note);
    let path = dir.path().join("ws.sqlite");
    let mut ws = medallion::app::open_workspace(&path).unwrap();
    let report = medallion::app::import_project(&mut ws, &project_dir, true, false).unwrap();
    let project = medallion::app::load_project(&ws, &report.name)
        .unwrap()
        .project;
    drop(ws);
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    previewed(&mut h, "notes");
    assert!(h.query_by_label("Cell value").is_none());
    h.get_by_label_contains("A very long note").click();
    h.run_steps(2);
    h.get_by_label_contains("Row 2 · note");
    let viewer = h.get_by_label("Cell value");
    assert_eq!(
        viewer.accesskit_node().value().as_deref(),
        Some(note.as_str())
    );
    // Wrapped over several lines, not cut to the column.
    assert!(viewer.rect().height() > 30.0, "{:?}", viewer.rect());
    h.get_by_label("Close").click();
    h.run_steps(2);
    assert!(h.query_by_label("Cell value").is_none());
}

#[test]
fn the_header_follows_a_rename_a_changed_column_and_a_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = example_workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    previewed(&mut h, "daily_revenue");
    h.get_by_label("Preview of daily_revenue");
    h.get_by_label("revenue");

    assert!(h.state_mut().apply(Edit::RenameAsset {
        from: AssetKey::new("daily_revenue"),
        to: AssetKey::new("revenue_per_day"),
    }));
    h.run_steps(2);
    h.get_by_label("Preview of revenue_per_day");
    assert!(h.query_by_label("Preview of daily_revenue").is_none());

    // A column renamed in the SQL: the preview is made again and its header shows it.
    let key = AssetKey::new("revenue_per_day");
    let mut spec = h.state().project().asset(&key).unwrap().clone();
    let AssetDefinition::Transform(t) = &mut spec.definition else {
        panic!("daily_revenue is a transform");
    };
    t.sql = Some(
        t.sql
            .as_deref()
            .unwrap()
            .replace("AS revenue", "AS total_revenue"),
    );
    assert!(h.state_mut().apply(Edit::UpdateAsset {
        spec: Box::new(spec)
    }));
    h.run_steps(2);
    wait_until(&mut h, "the new preview", WAIT, |s| {
        s.workbench
            .preview
            .data
            .as_ref()
            .is_some_and(|d| d.columns.iter().any(|c| c.name == "total_revenue"))
    });
    h.get_by_label("total_revenue");
    assert!(h.query_by_label("revenue").is_none());

    assert!(h.state_mut().apply(Edit::RemoveAssets { keys: vec![key] }));
    h.run_steps(2);
    h.get_by_label_contains("revenue_per_day was deleted");
    assert!(h.query_by_label("total_revenue").is_none());
}

/// A preview of tens of thousands of rows is sorted and filtered on a thread of its own (the
/// table counts the orders it made off the UI thread), and the sorted and filtered rows
/// arrive.
#[test]
fn a_large_preview_is_sorted_and_filtered_off_the_ui_thread() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("customer_analytics");
    crate::common::copy_dir(&crate::common::example(), &copy);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(["sample-data", "--customers", "3000"])
        .arg(copy.join("data"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", crate::common::text(&o));
    let path = dir.path().join("ws.sqlite");
    let project = {
        let mut ws = medallion::app::open_workspace(&path).unwrap();
        let report = medallion::app::import_project(&mut ws, &copy, true, false).unwrap();
        medallion::app::load_project(&ws, &report.name)
            .unwrap()
            .project
    };
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    previewed(&mut h, "raw_orders");
    let total = h
        .state()
        .workbench
        .preview
        .data
        .as_ref()
        .unwrap()
        .rows
        .len();
    assert!(
        total >= medallion::ui::panels::preview::ORDER_OFF_THREAD_ROWS,
        "{total} rows"
    );

    let off = |h: &Harness<'_, Studio>| h.state().workbench.preview.table.orders_off_thread();
    let before = off(&h);
    h.get_by_label("amount").click();
    wait_until(&mut h, "the sort asked for off the UI thread", WAIT, |s| {
        s.workbench.preview.table.orders_off_thread() > before
    });
    wait_until(&mut h, "the sorted rows", WAIT, |s| {
        !s.workbench.preview.table.ordering()
    });
    assert_eq!(off(&h), before + 1, "one order for one click");
    let up = amounts(&mut h);
    assert_eq!(up.len(), total);
    assert!(up.is_sorted_by(|a, b| a <= b), "{:?}", &up[..10]);

    h.get_by_label("Filter rows").click();
    h.run_steps(1);
    let before = off(&h);
    h.get_by_label("Filter rows").type_text("CANCELLED");
    wait_until(
        &mut h,
        "the filter asked for off the UI thread",
        WAIT,
        |s| s.workbench.preview.table.orders_off_thread() > before,
    );
    wait_until(&mut h, "the filtered rows", WAIT, |s| {
        !s.workbench.preview.table.ordering()
    });
    let statuses = shown(&mut h, "status");
    assert!(!statuses.is_empty() && statuses.len() < total);
    assert!(
        statuses.iter().all(|s| s.as_deref() == Some("cancelled")),
        "{statuses:?}"
    );
}

/// `medallion bench preview-order` prints the sort and filter times and what they kept.
#[test]
fn the_preview_order_benchmark_prints_its_figures() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args([
            "bench",
            "preview-order",
            "--rows",
            "1000",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", crate::common::text(&o));
    let figures: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let shown: Vec<u64> = figures["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(f["ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{f}");
            f["rows_shown"].as_u64().unwrap()
        })
        .collect();
    // Two sorts keep every row; one status in four is "cancelled".
    assert_eq!(shown, [1000, 1000, 250], "{figures:#}");
}
