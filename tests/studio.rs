//! The studio's workbench driven headless by accessible labels (`egui_kittest`): previews,
//! materializing through the launch dialog, failing checks, cancel and run history, each on a
//! temporary workspace with the example project. Background work is awaited with bounded step
//! loops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui::vec2;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use medallion::app;
use medallion::model::edit::Edit;
use medallion::model::{AssetKey, CheckKind, Project, RunStatus};
use medallion::ui::{Studio, frame_ui};

const EXAMPLE_ASSETS: [&str; 6] = [
    "raw_customer_data",
    "raw_orders",
    "cleaned_customer_data",
    "order_history",
    "customer_lifetime_value",
    "daily_revenue",
];

/// How long a test waits for background work before failing.
const WAIT: Duration = Duration::from_mins(3);

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics")
}

/// A workspace in `dir` holding the project at `project_dir`.
fn workspace(dir: &Path, project_dir: &Path) -> (PathBuf, Project) {
    let path = dir.join("ws.sqlite");
    let mut ws = app::open_workspace(&path).unwrap();
    let report = app::import_project(&mut ws, project_dir, true, false).unwrap();
    let project = app::load_project(&ws, &report.name).unwrap().project;
    (path, project)
}

fn harness(studio: Studio) -> Harness<'static, Studio> {
    harness_sized(studio, 900.0)
}

fn harness_sized(studio: Studio, height: f32) -> Harness<'static, Studio> {
    let mut h = Harness::builder()
        .with_size(vec2(1400.0, height))
        .with_max_steps(40)
        .build_ui_state(|ui, studio: &mut Studio| frame_ui(ui, studio), studio);
    h.state_mut().validate_now();
    h.run_steps(3);
    h
}

/// Steps frames until `done` holds, failing after [`WAIT`].
fn wait_until(h: &mut Harness<'_, Studio>, what: &str, done: impl Fn(&Studio) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for {what}; the studio's last notice: {:?}; run: {:?}",
            h.state().notice.as_ref().map(|n| &n.text),
            h.state()
                .run
                .as_ref()
                .map(|r| (&r.status, r.done, &r.error)),
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(3);
}

/// Fits the canvas to the window so every card (and its status) is on screen.
fn show_all_cards(h: &mut Harness<'_, Studio>) {
    h.state_mut()
        .push_command(medallion::ui::UICommand::FitToView);
    h.run_steps(3);
}

fn run_finished(s: &Studio) -> bool {
    s.run.as_ref().is_some_and(|r| r.done)
}

/// Materializes every asset through the launch dialog and waits for the run to end.
fn materialize_all(h: &mut Harness<'_, Studio>) {
    crate::common::studio::start_run_of_everything(h);
    wait_until(h, "the run to finish", run_finished);
    show_all_cards(h);
}

#[test]
fn previewing_an_asset_shows_its_rows_with_types_and_null_shares() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path(), &example_dir());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("cleaned_customer_data").click();
    h.run_steps(2);
    h.get_by_label("Preview").click();
    h.run_steps(2);
    wait_until(&mut h, "the preview", |s| {
        s.workbench.preview.data.is_some() || s.workbench.preview.error.is_some()
    });
    let preview = h.state().workbench.preview.data.as_ref().expect("rows");
    let rows = preview.rows.len();
    let columns = preview.columns.len();
    assert!(rows > 900, "{rows} rows");
    h.get_by_label("Preview of cleaned_customer_data");
    h.get_by_label(&format!("{rows} rows · {columns} columns"));
    h.get_by_label_contains("Complete: all");
    h.get_by_label("customer_id");
    h.get_by_label("i64 · 0 % null");
}

#[test]
fn a_preview_error_shows_on_the_node_and_in_the_panel() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut project) = workspace(dir.path(), &example_dir());
    // A source whose file is missing.
    let key = AssetKey::new("raw_orders");
    let asset = project.assets.iter_mut().find(|a| a.key == key).unwrap();
    if let medallion::model::AssetDefinition::Source(medallion::model::SourceSpec::File {
        path,
        ..
    }) = &mut asset.definition
    {
        *path = "data/missing.csv".to_owned();
    } else {
        panic!("raw_orders is a file source");
    }
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("raw_orders").click();
    h.run_steps(2);
    // The shortcut (Ctrl+P) previews the selected asset like the toolbar button.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::P);
    h.run_steps(2);
    wait_until(&mut h, "the preview error", |s| {
        s.workbench.preview.error.is_some()
    });
    h.get_by_label_contains("Preview of raw_orders failed:");
    h.get_by_label("raw_orders: failed");
}

#[test]
fn materializing_all_turns_every_node_to_success_with_four_checks_passed() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path(), &example_dir());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    materialize_all(&mut h);
    // Once the run has ended, each card shows its asset's state in the workspace.
    for key in EXAMPLE_ASSETS {
        wait_until(&mut h, "the assets' states", |s| {
            s.node_status(&AssetKey::new(key))
                .is_some_and(|st| st.label() == "fresh")
        });
        h.get_by_label(&format!("{key}: fresh"));
    }
    h.get_by_label("Success");
    h.get_by_label("Checks 4/4 passed");
    h.get_by_label("6/6 steps");
    // A second launch knows everything is up to date before running.
    h.get_by_label("Materialize…").click();
    h.run_steps(2);
    h.get_by_label("All assets").click();
    wait_until(&mut h, "the second plan", |s| {
        s.workbench.launch.as_ref().is_some_and(|l| {
            l.plan
                .as_ref()
                .is_some_and(|p| p.as_ref().is_ok_and(|steps| steps.len() == 6))
        })
    });
    h.get_by_label("0 will run, 6 up to date");
    h.get_by_label("Close").click();
    h.run_steps(2);

    // Editing a definition makes the asset and its downstream stale, without running.
    let key = AssetKey::new("cleaned_customer_data");
    let mut spec = h.state().project().asset(&key).unwrap().clone();
    let medallion::model::AssetDefinition::Transform(t) = &mut spec.definition else {
        panic!("cleaned_customer_data is a transform");
    };
    t.steps
        .push(medallion::model::TransformStep::Deduplicate { columns: vec![] });
    assert!(h.state_mut().apply(Edit::UpdateAsset {
        spec: Box::new(spec)
    }));
    wait_until(&mut h, "the stale status", |s| {
        s.node_status(&key).is_some_and(|st| st.label() == "stale")
    });
    h.get_by_label("cleaned_customer_data: stale");
    h.get_by_label("order_history: stale");
    h.get_by_label("raw_orders: fresh");
}

#[test]
fn a_failing_blocking_check_marks_the_asset_failed_and_skips_its_downstream() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path(), &example_dir());
    let mut studio = Studio::with_workspace(Some(project), &path).unwrap();
    // Tall enough for the check table and the failing rows below the timeline.
    studio.workbench.height = 620.0;
    let mut h = harness_sized(studio, 1300.0);
    let key = AssetKey::new("order_history");
    let mut spec = h.state().project().asset(&key).unwrap().clone();
    spec.checks[0].kind = CheckKind::RowCount {
        min: Some(1_000_000_000),
        max: None,
    };
    assert!(spec.checks[0].blocking);
    assert!(h.state_mut().apply(Edit::UpdateAsset {
        spec: Box::new(spec)
    }));
    // And a warning that fails on most rows, without blocking anything.
    let cleaned = AssetKey::new("cleaned_customer_data");
    let mut spec = h.state().project().asset(&cleaned).unwrap().clone();
    spec.checks[0].kind = CheckKind::Expression {
        predicate: "customer_id < 10".into(),
    };
    spec.checks[0].severity = medallion::model::CheckSeverity::Warn;
    spec.checks[0].blocking = false;
    assert!(h.state_mut().apply(Edit::UpdateAsset {
        spec: Box::new(spec)
    }));
    materialize_all(&mut h);
    wait_until(&mut h, "the assets' states", |s| {
        s.node_status(&AssetKey::new("daily_revenue"))
            .is_some_and(|st| st.label() == "blocked")
    });
    h.get_by_label("order_history: failed");
    h.get_by_label("customer_lifetime_value: blocked");
    h.get_by_label("daily_revenue: blocked");
    // Its warning failed (⚠), its error checks passed: the data is fresh.
    h.get_by_label("cleaned_customer_data: fresh");
    h.get_by_label("cleaned_customer_data checks: ✔ 1  ⚠ 1");
    h.get_by_label("Failure");
    // The skipped asset's check never ran; the warning did not stop its asset.
    h.get_by_label("Checks 1/3 passed");
    // A failing check's row opens its detail: a table-level check has no rows to show…
    h.get_by_label("order_history_not_empty").click();
    h.run_steps(2);
    h.get_by_label("order_history_not_empty: no failing rows to show");
    // …a row-level one shows a sample of the rows that fail it.
    h.get_by_label("cleaned_customer_data_unique_customer_id")
        .click();
    h.run_steps(2);
    h.get_by_label("Failing rows of cleaned_customer_data_unique_customer_id (a sample)");
    let sample = &h.state().run.as_ref().unwrap().checks[0].failing_sample;
    assert!(!sample.is_empty());
    h.get_by_label(&sample[0].to_string());
}

/// A copy of the example whose `order_history_not_empty` check (blocking) cannot pass.
fn example_with_failing_check(dir: &Path) -> PathBuf {
    let project_dir = dir.join("failing");
    for sub in ["sql", "data"] {
        std::fs::create_dir_all(project_dir.join(sub)).unwrap();
        for e in std::fs::read_dir(example_dir().join(sub)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, project_dir.join(sub).join(p.file_name().unwrap())).unwrap();
        }
    }
    for entry in ["medallion.toml", "layout.toml"] {
        std::fs::copy(example_dir().join(entry), project_dir.join(entry)).unwrap();
    }
    let toml = project_dir.join("medallion.toml");
    let text = std::fs::read_to_string(&toml).unwrap().replace(
        "kind = \"row_count\"\nmin = 1\n",
        "kind = \"row_count\"\nmin = 1000000\n",
    );
    assert!(text.contains("min = 1000000"));
    std::fs::write(&toml, text).unwrap();
    project_dir
}

/// Trust issue, finding 3: after a failed run, a restarted studio shows the failure on the
/// canvas (it once showed every card green "up to date"), Asset details says the same, and so
/// does `medallion status` (the same answer from the workspace).
#[test]
fn failures_stay_on_the_canvas_after_a_restart_and_agree_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let project_dir = example_with_failing_check(dir.path());
    let (path, project) = workspace(dir.path(), &project_dir);
    let run_id = {
        let mut h = harness(Studio::with_workspace(Some(project.clone()), &path).unwrap());
        materialize_all(&mut h);
        h.get_by_label("Failure");
        let id = h.state().run.as_ref().unwrap().run_id.clone().unwrap();
        h.state_mut().shut_down();
        id
    };
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    let history = AssetKey::new("order_history");
    wait_until(&mut h, "the assets' states", |s| {
        s.node_status(&history)
            .is_some_and(|st| st.label() == "failed")
    });
    show_all_cards(&mut h);
    h.get_by_label("order_history: failed");
    h.get_by_label("customer_lifetime_value: blocked");
    h.get_by_label("daily_revenue: blocked");
    for fresh in ["raw_customer_data", "raw_orders", "cleaned_customer_data"] {
        h.get_by_label(&format!("{fresh}: fresh"));
    }
    h.get_by_label("order_history checks: ✖ 1");
    h.get_by_label("cleaned_customer_data checks: ✔ 2");
    let blocked = h
        .state()
        .node_status(&AssetKey::new("daily_revenue"))
        .and_then(|s| s.detail().map(str::to_owned))
        .unwrap();
    assert_eq!(
        blocked,
        format!(
            "blocked: check order_history_not_empty of asset order_history failed in run {run_id}"
        )
    );
    // Asset details says the same.
    h.get_by_label("order_history").click();
    h.run_steps(2);
    h.get_by_label("Asset details").click();
    h.run_steps(2);
    wait_until(&mut h, "the asset history", |s| {
        s.workbench.asset_history.is_some()
    });
    h.get_by_label(&format!(
        "order_history: failed — check order_history_not_empty failed in run {run_id}"
    ));
    h.get_by_label("Checks on its latest data: ✖ 1");
    // And the workspace answers the same to the CLI.
    let ws = app::open_workspace(&path).unwrap();
    let stored = app::load_project(&ws, "customer_analytics").unwrap();
    let states = app::status::asset_states(&ws, &stored).unwrap();
    for state in states {
        let card = h.state().node_status(&state.asset).unwrap();
        assert_eq!(card.label(), state.status.label(), "{}", state.asset);
    }
}

#[test]
fn cancel_stops_a_run_and_records_it_as_canceled() {
    let dir = tempfile::tempdir().unwrap();
    // A bigger copy of the example so the run is still going when Cancel is pressed.
    let project_dir = dir.path().join("project");
    std::fs::create_dir_all(project_dir.join("sql")).unwrap();
    for file in ["medallion.toml", "layout.toml"] {
        std::fs::copy(example_dir().join(file), project_dir.join(file)).unwrap();
    }
    for e in std::fs::read_dir(example_dir().join("sql")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, project_dir.join("sql").join(p.file_name().unwrap())).unwrap();
    }
    app::write_sample_data(&project_dir.join("data"), 60_000, 7).unwrap();
    let (path, project) = workspace(dir.path(), &project_dir);
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.state_mut()
        .push_command(medallion::ui::UICommand::MaterializeAll);
    h.run_steps(2);
    wait_until(&mut h, "the first step", |s| {
        s.run.as_ref().is_some_and(|r| !r.steps.is_empty())
    });
    h.get_by_label("Cancel run").click();
    h.run_steps(2);
    wait_until(&mut h, "the run to stop", run_finished);
    show_all_cards(&mut h);
    h.get_by_label("Canceled");
    // Many frames of a live run later, the workbench has kept its height (it once grew a few
    // pixels a frame until the canvas was gone).
    assert!(
        h.state().workbench.height <= 320.0,
        "{}",
        h.state().workbench.height
    );
    // The run view says which steps were canceled…
    let canceled: Vec<&str> = EXAMPLE_ASSETS
        .iter()
        .copied()
        .filter(|k| {
            h.state().run.as_ref().is_some_and(|r| {
                r.nodes.get(&AssetKey::new(*k)) == Some(&medallion::ui::runs::NodeStatus::Canceled)
            })
        })
        .collect();
    assert!(
        !canceled.is_empty(),
        "some step is canceled: {:?}",
        h.state().run.as_ref().map(|r| &r.nodes),
    );
    // …and their cards show what the workspace holds: the canceled run made nothing of them.
    for key in canceled {
        wait_until(&mut h, "the assets' states", |s| {
            s.node_status(&AssetKey::new(key))
                .is_some_and(|st| st.label() == "not materialized")
        });
        h.get_by_label(&format!("{key}: not materialized"));
    }
    let ws = app::open_workspace(&path).unwrap();
    let runs = app::run::list_runs(&ws, Some("customer_analytics"), 10).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Canceled);
}

#[test]
fn a_past_run_reopens_after_restarting_the_studio() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path(), &example_dir());
    let run_id = {
        let mut h = harness(Studio::with_workspace(Some(project.clone()), &path).unwrap());
        materialize_all(&mut h);
        let id = h.state().run.as_ref().unwrap().run_id.clone().unwrap();
        h.state_mut().shut_down();
        id
    };
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    assert!(h.state().run.is_none());
    h.state_mut()
        .push_command(medallion::ui::UICommand::RunHistory);
    h.run_steps(2);
    wait_until(&mut h, "the run history", |s| {
        !s.workbench.history.is_empty()
    });
    h.get_by_label("1 run(s)");
    h.get_by_label(&run_id).click();
    h.run_steps(2);
    wait_until(&mut h, "the past run", |s| s.run.is_some());
    show_all_cards(&mut h);
    h.get_by_label("Success");
    h.get_by_label("Checks 4/4 passed");
    // The cards show each asset's state now, not the reopened run's outcome.
    for key in EXAMPLE_ASSETS {
        h.get_by_label(&format!("{key}: fresh"));
    }
    // The quality report: per asset, rows and checks.
    h.get_by_label("Quality report").click();
    h.run_steps(2);
    h.get_by_label_contains("Quality report of run");
    h.get_by_label_contains("customer_lifetime_value · ");
    h.get_by_label_contains("cleaned_customer_data · ");
    // Asset details: materializations, the row-count plot, the latest profile with histograms
    // and the check history, all read back from the workspace.
    h.get_by_label("cleaned_customer_data").click();
    h.run_steps(2);
    h.get_by_label("Asset details").click();
    h.run_steps(2);
    wait_until(&mut h, "the asset history", |s| {
        s.workbench.asset_history.is_some()
    });
    h.get_by_label("cleaned_customer_data: 1 materialization(s)");
    h.get_by_label_contains("Latest profile · ");
    h.get_by_label("Histogram of customer_id");
    h.get_by_label("cleaned_customer_data_email_not_null");
    // Its quality report exports without a dialog.
    let out = dir.path().join("report.html");
    h.state_mut().export_report(&run_id, out.clone());
    wait_until(&mut h, "the export", |_| out.is_file());
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("checks 4/4 passed"), "{html}");
}

fn compute_plan(s: &Studio) -> Option<&medallion::app::plan::PlanReport> {
    s.workbench
        .launch
        .as_ref()
        .and_then(|l| l.compute.as_ref())
        .and_then(|c| c.as_ref().ok())
        .map(AsRef::as_ref)
}

fn planned(s: &Studio, key: &str) -> Option<medallion::app::plan::AssetPlan> {
    compute_plan(s).and_then(|r| r.assets.iter().find(|a| a.asset.as_str() == key).cloned())
}

#[test]
fn the_launch_dialog_shows_where_each_asset_runs_and_an_override_reprices_it() {
    use medallion::model::ComputeTier;
    let dir = tempfile::tempdir().unwrap();
    // daily_revenue's nodes are of a type the shipped table does not price, so the missing
    // price and the user's own entry can be seen.
    let project_dir = dir.path().join("customer_analytics");
    crate::common::copy_dir(&example_dir(), &project_dir);
    let toml = project_dir.join("medallion.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(text.contains("node_type = \"m6i.large\""));
    std::fs::write(
        &toml,
        text.replace("node_type = \"m6i.large\"", "node_type = \"x2iedn.xlarge\""),
    )
    .unwrap();
    let (path, project) = workspace(dir.path(), &project_dir);
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("Materialize…").click();
    h.run_steps(2);
    h.get_by_label("All assets").click();
    h.run_steps(2);
    wait_until(&mut h, "the compute plan", |s| {
        compute_plan(s).is_some_and(|r| r.assets.len() == 6)
    });
    // Per asset: the tier, the reason and the cost; then the total with the prices' date.
    h.get_by_label("Tier of raw_orders");
    h.get_by_label_contains("Lambda: the asset's compute hint asks for it (2 GB for ~");
    h.get_by_label_contains("Fargate: the asset's compute hint asks for it (2 vCPU / 8 GB)");
    let raw = planned(h.state(), "raw_orders").unwrap();
    assert_eq!(raw.tier, ComputeTier::Lambda);
    h.get_by_label(&format!(
        "raw_orders: {}",
        medallion::app::plan::format_usd(raw.est_cost_usd.unwrap())
    ));
    h.get_by_label("daily_revenue: missing price ec2.x2iedn.xlarge.hour");
    // customer_lifetime_value runs on m6i.xlarge Spot nodes: priced from the shipped table.
    let clv = planned(h.state(), "customer_lifetime_value").unwrap();
    assert!(
        clv.missing_price.is_none() && clv.est_cost_usd.is_some(),
        "{clv:?}"
    );
    assert_eq!(h.get_all_by_label("modelled").count(), 6, "no run yet");
    let total = compute_plan(h.state()).unwrap().total_usd;
    h.get_by_label(&format!(
        "Estimated total {} (without 1 asset(s) lacking a price) · prices as of 2026-11-26",
        medallion::app::plan::format_usd(total)
    ));

    // Override raw_orders to Fargate: the estimate is asked for again off the UI thread.
    h.get_by_label("Tier of raw_orders").click();
    h.run_steps(2);
    h.get_by_label("Fargate").click();
    h.run_steps(2);
    wait_until(&mut h, "the repriced plan", |s| {
        planned(s, "raw_orders").is_some_and(|a| a.tier == ComputeTier::Fargate)
    });
    let fargate = planned(h.state(), "raw_orders").unwrap();
    h.get_by_label_contains("Fargate: chosen in the launch dialog");
    assert!(fargate.est_cost_usd.unwrap() > raw.est_cost_usd.unwrap());
    let repriced = compute_plan(h.state()).unwrap().total_usd;
    assert!(repriced > total, "{repriced} vs {total}");
    h.get_by_label(&format!(
        "raw_orders: {}",
        medallion::app::plan::format_usd(fargate.est_cost_usd.unwrap())
    ));

    // The Prices window, from the dialog: a node price entered by the user is used at once
    // (with the shipped EC2 Spot discount, as daily_revenue runs on Spot nodes).
    h.get_by_label("Prices…").click();
    h.run_steps(2);
    wait_until(&mut h, "the price table", |s| {
        s.windows
            .prices
            .as_ref()
            .is_some_and(|p| matches!(p.table, Some(Ok(_))))
    });
    // Each rate with its source and date.
    h.get_by_label("Fargate Linux/x86 vCPU");
    h.get_by_label("AWS containers blog on EKS extended support pricing");
    assert_eq!(
        h.get_by_label("Rate of fargate.vcpu_hour")
            .value()
            .as_deref(),
        Some("0.04048")
    );
    h.get_by_label("Instance type").click();
    h.get_by_label("Instance type").type_text("x2iedn.xlarge");
    h.get_by_label("Hourly price").click();
    h.get_by_label("Hourly price").type_text("0.834");
    h.run_steps(2);
    h.get_by_label("Save prices").click();
    h.run_steps(2);
    wait_until(&mut h, "the plan with the node price", |s| {
        planned(s, "daily_revenue")
            .is_some_and(|a| a.missing_price.is_none() && a.est_cost_usd.is_some())
    });
    h.get_by_label_contains("edited by you");
    // The edit is in the workspace, dated and marked as the user's.
    let ws = app::open_workspace(&path).unwrap();
    let prices = app::plan::load_prices(&ws).unwrap();
    let row = prices.get("ec2.x2iedn.xlarge.hour").unwrap();
    assert!((row.usd - 0.834).abs() < 1e-12);
    assert!(row.user_edited.is_some());
    drop(ws);
    // Reset goes back to the shipped table, where this node type has no price. The filter
    // finds its row among the shipped node prices.
    h.get_by_label("Filter prices").click();
    h.get_by_label("Filter prices").type_text("x2iedn");
    h.run_steps(2);
    h.get_by_label("1 of 113 prices");
    // (as assistive technology clicks it: a pointer click on the row the filter just
    // narrowed to is not delivered in this harness; the pointer path is the same button)
    h.get_by_label("Reset ec2.x2iedn.xlarge.hour")
        .click_accesskit();
    h.run_steps(2);
    wait_until(&mut h, "the plan without the node price", |s| {
        planned(s, "daily_revenue")
            .is_some_and(|a| a.missing_price.as_deref() == Some("ec2.x2iedn.xlarge.hour"))
    });
    // Editing a shipped rate reprices what uses it, and shows it as the user's.
    let before = planned(h.state(), "order_history")
        .unwrap()
        .est_cost_usd
        .unwrap();
    h.get_by_label("Filter prices").focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Filter prices").type_text("fargate");
    h.run_steps(2);
    h.get_by_label("Rate of fargate.vcpu_hour").focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Rate of fargate.vcpu_hour")
        .type_text("0.08");
    h.run_steps(2);
    h.get_by_label("Save prices").click();
    h.run_steps(2);
    wait_until(&mut h, "the plan with the edited rate", |s| {
        planned(s, "order_history").is_some_and(|a| a.est_cost_usd.unwrap() > before * 1.2)
    });
    h.get_by_label("Reset fargate.vcpu_hour");
    // Close the Prices window (it lies over the dialog's buttons).
    h.state_mut().windows.prices = None;
    h.run_steps(2);

    // Launching still runs locally, as before.
    h.get_by_label("Start run").click();
    h.run_steps(2);
    wait_until(&mut h, "the run to finish", run_finished);
    assert_eq!(
        h.state().run.as_ref().unwrap().status,
        Some(RunStatus::Success)
    );
    // The next plan's estimates come from that run.
    h.get_by_label("Materialize…").click();
    h.run_steps(2);
    h.get_by_label("All assets").click();
    h.run_steps(2);
    wait_until(&mut h, "a plan from history", |s| {
        compute_plan(s).is_some_and(|r| r.assets.iter().all(|a| a.history_runs == 1))
    });
    assert_eq!(h.get_all_by_label("from 1 past run(s)").count(), 6);
}

#[test]
fn the_costs_window_shows_estimate_and_actual_per_step_asset_and_day() {
    use medallion::app::plan::{RunShape, format_usd};
    use medallion::model::{ComputeTier, RunRecord};
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path(), &example_dir());
    {
        let mut ws = app::open_workspace(&path).unwrap();
        let stored = app::load_project(&ws, &project.name).unwrap();
        ws.create_run(&RunRecord {
            id: "remote-1".into(),
            project: project.name.clone(),
            selection: "order_history".into(),
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
        let report = app::plan::compute_plan(
            &ws,
            &stored,
            "order_history",
            1,
            &std::collections::BTreeMap::new(),
        )
        .unwrap();
        app::plan::record_estimates(&mut ws, &"remote-1".into(), None, &report.assets).unwrap();
        app::plan::record_actual_cost(
            &mut ws,
            &"remote-1".into(),
            &AssetKey::new("order_history"),
            None,
            &RunShape::new(ComputeTier::Fargate, 2.0, 8192, 95.0),
        )
        .unwrap();
    }
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.state_mut().push_command(medallion::ui::UICommand::Costs);
    h.run_steps(2);
    wait_until(&mut h, "the costs", |s| {
        s.windows
            .costs
            .as_ref()
            .is_some_and(|c| c.history.is_some())
    });
    let actual = format_usd((2.0 * 0.04048 + 8.0 * 0.004_445) * 95.0 / 3600.0);
    h.get_by_label(&format!("order_history: {actual}"));
    h.get_by_label(&format!("2026-11-24: {actual}"));
    h.get_by_label("remote-1");
    h.get_by_label(&format!("{actual} (95 s)"));
    h.get_by_label_contains("Project total: estimated $");
}

/// The tiers of the launch dialog's AWS steps, as (tier, assets) pairs.
fn aws_steps(s: &Studio) -> Vec<(String, Vec<String>)> {
    s.workbench
        .launch
        .as_ref()
        .and_then(|l| l.aws_plan.as_ref())
        .and_then(|p| p.as_ref().ok())
        .map(|steps| {
            steps
                .iter()
                .map(|st| {
                    (
                        st.tier.as_str().to_owned(),
                        st.assets.iter().map(|a| a.as_str().to_owned()).collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn on_aws_the_steps_follow_the_plan_and_a_tier_override() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path(), &example_dir());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("Materialize…").click();
    h.run_steps(2);
    h.get_by_label("All assets").click();
    h.run_steps(2);
    h.get_by_label("On AWS").click();
    h.run_steps(2);
    wait_until(&mut h, "the compute plan", |s| {
        compute_plan(s).is_some_and(|r| r.assets.len() == 6)
    });
    // The example's hints: bronze on Lambda, silver on Fargate, gold on EKS.
    wait_until(&mut h, "the AWS steps", |s| aws_steps(s).len() == 3);
    assert_eq!(aws_steps(h.state())[0].0, "lambda");
    h.get_by_label("3 step(s) on AWS");
    // Override raw_orders to Batch: once the new plan is in, the steps show it.
    h.get_by_label("Tier of raw_orders").click();
    h.run_steps(2);
    h.get_by_label("Batch").click();
    h.run_steps(2);
    wait_until(&mut h, "the steps of the overridden plan", |s| {
        aws_steps(s)
            .iter()
            .any(|(tier, assets)| tier == "batch" && assets == &["raw_orders".to_owned()])
    });
    let steps = aws_steps(h.state());
    h.get_by_label(&format!("{} step(s) on AWS", steps.len()));
    assert_eq!(
        steps.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        // Steps run one after another in dependency order. The Batch step of raw_orders (no
        // upstream) goes first, so order_history still shares cleaned_customer_data's
        // Fargate step.
        ["batch", "lambda", "fargate", "eks"],
        "{steps:?}"
    );
}
