//! The asset catalog beside the canvas (issue 20): at 1280×800 every asset name is shown in
//! full, and assets can be sorted by what their recorded runs cost. Driven headless by
//! accessible labels on a temporary workspace with the example project.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use egui::{Color32, TextStyle, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use medallion::app;
use medallion::app::plan::{RunShape, format_usd};
use medallion::model::{AssetKey, ComputeTier, Project, RunRecord, RunStatus};
use medallion::ui::{Studio, frame_ui};

const WAIT: Duration = Duration::from_mins(1);

fn workspace(dir: &Path) -> (PathBuf, Project) {
    crate::common::studio::example_workspace(dir)
}

/// One remote run of `asset` on Fargate with 2 vCPU and 8 GiB for `secs` seconds: its estimate
/// and its actual cost, as a remote run records them.
fn record_run(path: &Path, project: &Project, id: &str, asset: &str, secs: f64) {
    let mut ws = app::open_workspace(path).unwrap();
    let stored = app::load_project(&ws, &project.name).unwrap();
    ws.create_run(&RunRecord {
        id: id.into(),
        project: project.name.clone(),
        selection: asset.into(),
        partition: None,
        target: "fargate".into(),
        status: RunStatus::Success,
        trigger: "test".into(),
        created_at: "2026-11-24T08:00:00.000Z".parse().unwrap(),
        started_at: None,
        ended_at: None,
        error: None,
        allow_failed_upstream: false,
        checks_only: false,
        end_known: true,
    })
    .unwrap();
    let report =
        app::plan::compute_plan(&ws, &stored, asset, 1, &std::collections::BTreeMap::new())
            .unwrap();
    let own: Vec<_> = report
        .assets
        .into_iter()
        .filter(|a| a.asset.as_str() == asset)
        .collect();
    app::plan::record_estimates(&mut ws, &id.into(), None, &own).unwrap();
    app::plan::record_actual_cost(
        &mut ws,
        &id.into(),
        &AssetKey::new(asset),
        None,
        &RunShape::new(ComputeTier::Fargate, 2.0, 8192, secs),
    )
    .unwrap();
}

fn harness(studio: Studio) -> Harness<'static, Studio> {
    let mut h = Harness::builder()
        .with_size(vec2(1280.0, 800.0))
        .with_max_steps(40)
        .build_ui_state(|ui, studio: &mut Studio| frame_ui(ui, studio), studio);
    h.state_mut().validate_now();
    h.run_steps(3);
    h
}

/// The catalog's rows, top to bottom.
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

#[test]
fn at_1280_by_800_the_catalog_shows_every_asset_name_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project.clone()), &path).unwrap());
    h.get_by_label("Catalog").click();
    h.run_steps(3);
    let font = TextStyle::Body.resolve(&h.ctx.global_style());
    assert_eq!(catalog_rows(&h).len(), 6);
    for asset in &project.assets {
        let name = asset.key.as_str();
        let width = h
            .get_by_label(&format!("Catalog row {name}"))
            .rect()
            .width();
        let text = h.ctx.fonts_mut(|f| {
            f.layout_no_wrap(name.to_owned(), font.clone(), Color32::WHITE)
                .size()
                .x
        });
        assert!(
            width >= text,
            "the catalog draws {name} {width} wide, its text needs {text}"
        );
    }
}

#[test]
fn the_catalog_sorts_by_recorded_cost_and_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    // order_history ran twice (600 s and 300 s), daily_revenue once (60 s); the rest never ran
    // remotely and have no cost.
    record_run(&path, &project, "remote-1", "order_history", 600.0);
    record_run(&path, &project, "remote-2", "order_history", 300.0);
    record_run(&path, &project, "remote-3", "daily_revenue", 60.0);
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("Catalog").click();
    h.run_steps(2);
    h.get_by_label("Sort filter").click();
    h.run_steps(2);
    h.get_all_by_label("Cost").last().unwrap().click();
    h.run_steps(2);
    crate::common::studio::wait_until(&mut h, "the recorded costs", WAIT, |s| {
        s.windows
            .catalog
            .as_ref()
            .is_some_and(|c| c.costs.as_ref().is_some_and(Result::is_ok))
    });
    let rows = catalog_rows(&h);
    assert_eq!(&rows[..2], ["order_history", "daily_revenue"], "{rows:?}");
    let rate = 2.0 * 0.04048 + 8.0 * 0.004_445;
    h.get_by_label(&format!(
        "Cost of order_history {}",
        format_usd(rate * 900.0 / 3600.0)
    ));
    h.get_by_label(&format!(
        "Cost of daily_revenue {}",
        format_usd(rate * 60.0 / 3600.0)
    ));
    h.get_by_label("Cost of raw_orders unknown: never run on AWS");
}

/// With the catalog open at 1280×800 the canvas is narrow: the minimap, when shown, covers at
/// most a third of the canvas's width and height (it covered all of it, as an opaque box).
#[test]
fn with_the_catalog_open_the_minimap_leaves_the_cards_visible() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("Catalog").click();
    h.run_steps(3);
    let canvas = h.get_by_label("Asset canvas").rect();
    assert!(
        canvas.width() < 500.0,
        "the catalog narrows the canvas: {canvas:?}"
    );
    if let Some(map) = h.query_by_label("Minimap") {
        let map = map.rect();
        assert!(
            map.width() <= canvas.width() / 3.0 + 0.5
                && map.height() <= canvas.height() / 3.0 + 0.5,
            "the minimap {map:?} covers too much of the canvas {canvas:?}"
        );
    }
    // A card is visible (not under the minimap).
    h.get_by_label("raw_orders");
}
