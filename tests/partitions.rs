//! The partition strip (issue 20), driven headless by accessible labels: each partition of a
//! daily asset coloured by what the workspace holds; a range dragged across the strip opens
//! Materialize on it (plan and cost first), and after the backfill the strip shows which
//! partitions were materialized and which failed. At 10,000 partitions the strip's frame time
//! is printed (a figure, not an assertion).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use egui::vec2;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use medallion::app::partitions::{PartitionState, PartitionStrip};
use medallion::model::AssetKey;
use medallion::ui::panels::partitions::PartitionsView;
use medallion::ui::workbench_state::WorkbenchTab;
use medallion::ui::{Studio, frame_ui};

use crate::common::studio::{harness, wait_until};

const WAIT: Duration = Duration::from_mins(3);

/// The partitioned fixture with ten days (data for the first two), imported into a workspace.
fn ten_days(dir: &Path) -> (std::path::PathBuf, medallion::model::Project) {
    let project_dir = dir.join("partitioned");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/partitioned");
    crate::common::copy_dir(&fixture, &project_dir);
    let toml = project_dir.join("medallion.toml");
    let text = std::fs::read_to_string(&toml).unwrap().replace(
        "start = \"2024-01-01\" }",
        "start = \"2024-01-01\", end = \"2024-01-10\" }",
    );
    std::fs::write(&toml, text).unwrap();
    let path = dir.join("ws.sqlite");
    let mut ws = medallion::app::open_workspace(&path).unwrap();
    let report = medallion::app::import_project(&mut ws, &project_dir, true, false).unwrap();
    let project = medallion::app::load_project(&ws, &report.name)
        .unwrap()
        .project;
    (path, project)
}

fn states(s: &Studio) -> Option<Vec<PartitionState>> {
    match &s.workbench.partitions.strip {
        Some(Ok(strip)) => Some(strip.states.clone()),
        _ => None,
    }
}

#[test]
fn a_dragged_range_is_backfilled_and_the_strip_shows_what_each_partition_became() {
    use PartitionState::{Failed, Materialized, Missing};
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = ten_days(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("raw_events").click();
    h.run_steps(2);
    // The tab (the inspector has a "Partitions" section too).
    h.state_mut().workbench.tab = WorkbenchTab::Partitions;
    h.run_steps(2);
    wait_until(&mut h, "the strip", WAIT, |s| states(s).is_some());
    assert_eq!(states(h.state()).unwrap(), vec![Missing; 10]);
    h.get_by_label("Partitions of raw_events");
    h.get_by_label("2024-01-01: missing");

    // Drag from the first day to the third.
    let from = h.get_by_label("2024-01-01: missing").rect().center();
    let to = h.get_by_label("2024-01-03: missing").rect().center();
    h.drag_at(from);
    h.run_steps(1);
    h.hover_at(to);
    h.run_steps(1);
    h.drop_at(to);
    h.run_steps(2);
    assert_eq!(h.state().workbench.partitions.picked, Some((0, 2)));
    h.get_by_label_contains("Picked 2024-01-01 to 2024-01-03: 3 partitions (3 missing)");
    h.get_by_label("Backfill 3 partitions…").click();
    h.run_steps(2);
    let launch = h
        .state()
        .workbench
        .launch
        .as_ref()
        .expect("Materialize opens");
    assert_eq!(
        (launch.from.as_str(), launch.to.as_str()),
        ("2024-01-01", "2024-01-03")
    );
    // The plan and its cost come before anything runs.
    wait_until(&mut h, "the plan", WAIT, |s| {
        s.workbench
            .launch
            .as_ref()
            .is_some_and(|l| l.plan.is_some() && l.compute.is_some())
    });
    h.get_by_label_contains("Estimated total");
    h.get_by_label("Start run").click();
    h.run_steps(2);
    // The strip stays in view to follow the backfill (the run view is a click away).
    assert_eq!(h.state().workbench.tab, WorkbenchTab::Partitions);
    h.get_by_label("Show run");
    wait_until(&mut h, "the backfill", WAIT, |s| {
        s.run.as_ref().is_some_and(|r| r.done)
    });
    // The third day has no data file: it failed; the first two are stored.
    wait_until(&mut h, "the strip after the backfill", WAIT, |s| {
        states(s).is_some_and(|v| v[0] != Missing)
    });
    let mut expected = vec![Missing; 10];
    expected[0] = Materialized;
    expected[1] = Materialized;
    expected[2] = Failed;
    assert_eq!(states(h.state()).unwrap(), expected);
    h.get_by_label("2024-01-01: materialized");
    h.get_by_label("2024-01-03: failed");
}

#[test]
fn ten_thousand_partitions_draw_smoothly() {
    let project = medallion::format::read_project(&crate::common::example())
        .unwrap()
        .project;
    let mut studio = Studio::new(Some(project), "test.sqlite".into());
    let n = 10_000;
    let states = [
        PartitionState::Materialized,
        PartitionState::Materialized,
        PartitionState::Stale,
        PartitionState::Missing,
        PartitionState::Failed,
    ];
    let strip = PartitionStrip {
        asset: AssetKey::new("big"),
        keys: (0..n).map(|i| format!("k{i:05}")).collect(),
        states: (0..n).map(|i| states[(i * 7 + i / 13) % 5]).collect(),
    };
    studio.workbench.partitions = PartitionsView::showing(strip);
    studio.workbench.open = true;
    studio.workbench.tab = WorkbenchTab::Partitions;
    let mut h = Harness::builder()
        .with_size(vec2(1280.0, 800.0))
        .build_ui_state(|ui, studio: &mut Studio| frame_ui(ui, studio), studio);
    h.run_steps(3);
    h.get_by_label_contains("Partitions of big: 10,000");
    let strip = h.get_by_label("Partitions of big").rect();
    let mut ms = Vec::new();
    for i in 0..60 {
        // The pointer sweeps the strip: every frame has a tooltip to lay out.
        let x = strip.left() + strip.width() * (i as f32 / 60.0);
        h.hover_at(egui::pos2(x, strip.center().y));
        let start = Instant::now();
        h.step();
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "partition strip, {n} partitions at 1280×800: {:.2} ms per frame (p50), {:.2} ms (p95)",
        ms[ms.len() / 2],
        ms[ms.len() * 95 / 100]
    );
    assert!(h.query_by_label_contains("Drag across the strip").is_some());
}

/// While a backfill runs, each partition of the strip is coloured from the run's events as
/// they arrive — queued, running, materialized, failed — with a line counting what is done;
/// after the run the strip keeps that until it is read again, then shows what was stored.
#[test]
fn the_strip_follows_a_backfill_partition_by_partition_while_it_runs() {
    use medallion::model::{RunEvent, RunId, StepOutcome};
    use medallion::ui::runs::RunView;
    let project = medallion::format::read_project(&crate::common::example())
        .unwrap()
        .project;
    let asset = AssetKey::new("events");
    let days: Vec<String> = (1..=5).map(|d| format!("2024-01-0{d}")).collect();
    let mut studio = Studio::new(Some(project), "test.sqlite".into());
    studio.workbench.partitions = PartitionsView::showing(PartitionStrip {
        asset: asset.clone(),
        keys: days.clone(),
        states: vec![PartitionState::Missing; 5],
    });
    studio.workbench.open = true;
    studio.workbench.tab = WorkbenchTab::Partitions;
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut run = RunView::live(std::slice::from_ref(&asset), cancel);
    run.planned_partitions = days[..3].to_vec();
    studio.run = Some(run);
    let mut h = Harness::builder()
        .with_size(vec2(1280.0, 800.0))
        .build_ui_state(|ui, studio: &mut Studio| frame_ui(ui, studio), studio);
    h.run_steps(2);
    h.get_by_label("2024-01-01: queued");
    h.get_by_label("2024-01-03: queued");
    h.get_by_label("2024-01-04: missing");
    h.get_by_label_contains("Backfill in progress: 0 of 3 partitions done");

    let event = |h: &mut Harness<'_, Studio>, run: &str, e: RunEvent| {
        h.state_mut()
            .run
            .as_mut()
            .unwrap()
            .apply(&RunId::new(run), e);
        h.run_steps(1);
    };
    let started = |day: &str| RunEvent::StepStarted {
        asset: asset.clone(),
        partition: Some(day.to_owned()),
        streamed: false,
    };
    let finished = |day: &str, outcome: StepOutcome| RunEvent::StepFinished {
        asset: asset.clone(),
        partition: Some(day.to_owned()),
        outcome,
        duration_ms: 5,
        duration_known: true,
    };
    // One run per partition, as a local backfill does.
    event(
        &mut h,
        "r1",
        RunEvent::RunStarted {
            plan: vec![asset.clone()],
        },
    );
    event(&mut h, "r1", started("2024-01-01"));
    h.get_by_label("2024-01-01: running");
    h.get_by_label("2024-01-02: queued");
    h.get_by_label_contains("0 of 3 partitions done · 1 running");
    event(
        &mut h,
        "r1",
        finished("2024-01-01", StepOutcome::Materialized),
    );
    h.get_by_label("2024-01-01: materialized");
    event(
        &mut h,
        "r2",
        RunEvent::RunStarted {
            plan: vec![asset.clone()],
        },
    );
    event(&mut h, "r2", started("2024-01-02"));
    event(
        &mut h,
        "r2",
        finished(
            "2024-01-02",
            StepOutcome::Failed {
                error: "no file for 2024-01-02".into(),
            },
        ),
    );
    h.get_by_label("2024-01-02: failed");
    h.get_by_label("2024-01-03: queued");
    h.get_by_label_contains("Backfill in progress: 2 of 3 partitions done · 1 failed");
    event(
        &mut h,
        "r3",
        RunEvent::RunStarted {
            plan: vec![asset.clone()],
        },
    );
    event(&mut h, "r3", started("2024-01-03"));
    event(
        &mut h,
        "r3",
        finished("2024-01-03", StepOutcome::Materialized),
    );

    // The backfill's job ended: its outcome stays on the strip until the strip is read again.
    h.state_mut().run.as_mut().unwrap().done = true;
    h.run_steps(2);
    h.get_by_label_contains("Backfill finished: 2 materialized, 1 failed");
    h.get_by_label("2024-01-03: materialized");
    let mut stored = vec![PartitionState::Missing; 5];
    stored[0] = PartitionState::Materialized;
    stored[1] = PartitionState::Failed;
    stored[2] = PartitionState::Stale;
    h.state_mut().workbench.partitions.on_strip(
        0,
        Ok(Box::new(PartitionStrip {
            asset: asset.clone(),
            keys: days,
            states: stored,
        })),
    );
    h.run_steps(2);
    // What the workspace holds now (a definition changed since day 3 ran: stale).
    h.get_by_label("2024-01-03: stale");
    assert!(h.query_by_label_contains("Backfill finished").is_none());
}
