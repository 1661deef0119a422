//! The run view after a failed run (issue 20's polish), driven headless by accessible labels on
//! a temporary workspace with the example project at 1280×800: check names in full, the bar of
//! an asset whose data failed a check, the failure headline, and "Export HTML…" where no file
//! dialog can be shown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui::{Color32, Key, Modifiers, TextStyle, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use medallion::model::edit::Edit;
use medallion::model::{AssetKey, CheckKind, Project};
use medallion::ui::{Studio, frame_ui};

const WAIT: Duration = Duration::from_mins(3);

fn workspace(dir: &Path) -> (PathBuf, Project) {
    crate::common::studio::example_workspace(dir)
}

fn wait_until(h: &mut Harness<'_, Studio>, what: &str, done: impl Fn(&Studio) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for {what}; notice: {:?}",
            h.state().notice.as_ref().map(|n| &n.text)
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(3);
}

/// A studio at 1280×800 on the example whose `order_history_not_empty` (blocking) cannot pass,
/// after materializing everything.
fn failed_run(dir: &Path) -> Harness<'static, Studio> {
    let (path, project) = workspace(dir);
    let mut studio = Studio::with_workspace(Some(project), &path).unwrap();
    studio.workbench.height = 420.0;
    let mut h = Harness::builder()
        .with_size(vec2(1280.0, 800.0))
        .with_max_steps(40)
        .build_ui_state(|ui, studio: &mut Studio| frame_ui(ui, studio), studio);
    h.state_mut().validate_now();
    h.run_steps(3);
    let key = AssetKey::new("order_history");
    let mut spec = h.state().project().asset(&key).unwrap().clone();
    spec.checks[0].kind = CheckKind::RowCount {
        min: Some(1_000_000_000),
        max: None,
    };
    assert!(h.state_mut().apply(Edit::UpdateAsset {
        spec: Box::new(spec)
    }));
    crate::common::studio::start_run_of_everything(&mut h);
    wait_until(&mut h, "the run to finish", |s| {
        s.run.as_ref().is_some_and(|r| r.done)
    });
    h
}

#[test]
fn a_failed_runs_view_names_what_failed_in_full_and_paints_its_bar_red() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = failed_run(dir.path());
    h.run_steps(3);
    // The headline names the check and the asset.
    assert!(
        h.query_all_by_label_contains(
            "check order_history_not_empty of asset order_history failed"
        )
        .next()
        .is_some()
    );
    // The step materialized, then its data failed the check: its bar says so (and is red).
    h.get_by_label_contains("order_history: materialized, check order_history_not_empty failed");
    h.get_by_label_contains("customer_lifetime_value: blocked ·");
    // Check names are not cut to "cleaned…": each is as wide as its text.
    let font = TextStyle::Button.resolve(&h.ctx.global_style());
    for name in [
        "cleaned_customer_data_unique_customer_id",
        "order_history_not_empty",
    ] {
        let width = h.get_by_label(name).rect().width();
        let text = h.ctx.fonts_mut(|f| {
            f.layout_no_wrap(name.to_owned(), font.clone(), Color32::WHITE)
                .size()
                .x
        });
        assert!(
            width >= text,
            "the check {name} is drawn {width} wide, its text needs {text}"
        );
    }
}

/// Found under Xvfb: a second run, finding `order_history` up to date while its stored data
/// still fails its Error check, failed naming the check — yet its timeline bar was drawn
/// green ("up to date") and its card in the run said "up to date". Both say it failed.
#[test]
fn an_up_to_date_step_whose_stored_data_fails_a_check_is_drawn_failed() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = failed_run(dir.path());
    let first = h.state().run.as_ref().unwrap().run_id.clone().unwrap();
    crate::common::studio::start_run_of_everything(&mut h);
    wait_until(&mut h, "the second run to finish", |s| {
        s.run
            .as_ref()
            .is_some_and(|r| r.done && r.run_id.as_ref().is_some_and(|id| *id != first))
    });
    h.run_steps(3);
    let key = AssetKey::new("order_history");
    let run = h.state().run.as_ref().unwrap();
    assert_eq!(run.status, Some(medallion::model::RunStatus::Failure));
    let bar = run.steps.iter().find(|b| b.asset == key).unwrap();
    let (tone, words) = run.bar_verdict(bar);
    assert_eq!(tone, medallion::ui::runs::BarTone::Failed, "{words}");
    assert_eq!(run.nodes[&key].label(), "failed");
    // Running it again would build nothing and fail the same way: not offered as a re-run.
    assert!(!run.rerun_keys().contains(&key), "{:?}", run.rerun_keys());
    h.get_by_label_contains(
        "order_history: up to date, check order_history_not_empty failed on its stored data ·",
    );
    // The headline names the run that found it.
    assert!(
        h.query_all_by_label_contains(&format!(
            "check order_history_not_empty of asset order_history failed on its stored data in run {first}"
        ))
        .next()
        .is_some()
    );
}

#[test]
fn export_html_without_a_file_dialog_asks_for_a_path_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = failed_run(dir.path());
    h.get_by_label("Export HTML…").click();
    h.run_steps(2);
    // This machine has neither a file-chooser portal nor zenity: the path field appears.
    wait_until(&mut h, "the path field", |s| {
        s.windows.report_path.is_some()
    });
    let target = dir.path().join("failed-run.html");
    h.get_by_label("Report file").click();
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_label("Report file")
        .type_text(&target.display().to_string());
    h.run_steps(1);
    h.get_by_label("Export").click();
    h.run_steps(2);
    wait_until(&mut h, "the report file", |_| target.exists());
    let html = std::fs::read_to_string(&target).unwrap();
    assert!(html.contains("order_history_not_empty"), "{}", &html[..200]);
    assert!(h.state().windows.report_path.is_none());
}

/// "Re-run failed and skipped" runs exactly what the failed run did not build — the asset whose
/// data failed its blocking check and the two it blocked — reading the rest from stored
/// materializations, once the check can pass.
#[test]
fn re_run_failed_and_skipped_runs_exactly_those_assets() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = failed_run(dir.path());
    let first = h.state().run.as_ref().unwrap().run_id.clone();
    // The check is fixed: at least one row.
    let key = AssetKey::new("order_history");
    let mut spec = h.state().project().asset(&key).unwrap().clone();
    spec.checks[0].kind = CheckKind::RowCount {
        min: Some(1),
        max: None,
    };
    assert!(h.state_mut().apply(Edit::UpdateAsset {
        spec: Box::new(spec)
    }));
    h.run_steps(2);
    h.get_by_label("Re-run failed and skipped").click();
    h.run_steps(2);
    wait_until(&mut h, "the re-run to finish", |s| {
        s.run
            .as_ref()
            .is_some_and(|r| r.done && r.run_id.is_some() && r.run_id != first)
    });
    let run = h.state().run.as_ref().unwrap();
    let plan: Vec<&str> = run.plan.iter().map(AssetKey::as_str).collect();
    assert_eq!(
        plan,
        ["order_history", "customer_lifetime_value", "daily_revenue"],
        "the re-run's plan"
    );
    assert_eq!(run.status, Some(medallion::model::RunStatus::Success));
    // Nothing is left to re-run.
    h.run_steps(2);
    assert!(h.query_by_label("Re-run failed and skipped").is_none());
}

/// The run view's duration is the run's recorded one — what `medallion runs` and Run history
/// say — not the studio's own clock from the click (which also counts planning and the
/// worker's queue).
#[test]
fn a_finished_runs_duration_is_the_recorded_one() {
    let dir = tempfile::tempdir().unwrap();
    let h = failed_run(dir.path());
    let ws = medallion::app::open_workspace(&dir.path().join("ws.sqlite")).unwrap();
    let runs = medallion::app::run::list_runs(&ws, Some("customer_analytics"), 10).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let recorded = runs[0].duration_ms();
    assert!(recorded.is_some(), "{:?}", runs[0]);
    let view = h.state().run.as_ref().unwrap();
    assert_eq!(view.elapsed_ms(), recorded);
}
