//! The studio's Automation window (issue 16), driven headless by accessible labels
//! (`egui_kittest`) on a temporary workspace with the example project plus an hourly schedule
//! and a files sensor: schedules and sensors with their next tick, the on/off switch, the tick
//! history with reasons and the run each requested, "Evaluate now" — and a studio opened this
//! way (as every test and benchmark opens it) never evaluates automation by its own clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::studio::harness;
use chrono::{DateTime, Timelike, Utc};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use medallion::app::{self, automation};
use medallion::model::{Project, TickOutcome};
use medallion::ui::Studio;

const WAIT: Duration = Duration::from_mins(2);
const NAME: &str = "customer_analytics";

/// The example with `extra` appended to its `medallion.toml`, imported into a new workspace.
fn workspace(dir: &Path, extra: &str) -> (PathBuf, PathBuf, Project) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics");
    let copy = dir.join("customer_analytics");
    crate::common::copy_dir(&example, &copy);
    let toml = copy.join("medallion.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(extra);
    std::fs::write(&toml, text).unwrap();
    std::fs::create_dir_all(copy.join("landing")).unwrap();
    let path = dir.join("ws.sqlite");
    let mut ws = app::open_workspace(&path).unwrap();
    let report = app::import_project(&mut ws, &copy, true, false).unwrap();
    let project = app::load_project(&ws, &report.name).unwrap().project;
    (path, copy, project)
}

const HOURLY_AND_LANDING: &str = r#"
[schedules.hourly_orders]
cron = "15 * * * *"
timezone = "Europe/Berlin"
selection = "raw_orders"

[sensors.landing_files]
kind = "files"
glob = "landing/*.csv"
selection = "raw_orders"
min_interval_secs = 60
"#;

fn wait_until(h: &mut Harness<'_, Studio>, what: &str, done: impl Fn(&Studio) -> bool) {
    crate::common::studio::wait_until(h, what, WAIT, done);
}

/// Opens the Automation window from the toolbar and waits for its view.
fn open_window(h: &mut Harness<'_, Studio>) {
    h.get_by_label("Automation…").click();
    h.run_steps(2);
    wait_until(h, "the automation view", |s| {
        matches!(s.automation.view, Some(Ok(_)))
    });
}

fn view_ticks(s: &Studio) -> usize {
    match &s.automation.view {
        Some(Ok(v)) => v.ticks.len(),
        _ => 0,
    }
}

/// One daemon pass at `now`, through the same function `medallion daemon --once` calls.
/// `only` narrows the pass to one schedule or sensor.
fn daemon_pass(ws_path: &Path, now: DateTime<Utc>, only: Option<&str>) -> automation::PassReport {
    let mut ws = app::open_workspace(ws_path).unwrap();
    let holder = automation::holder_id("daemon");
    let opts = automation::PassOptions {
        now,
        holder: holder.clone(),
        only: only.map(str::to_owned),
    };
    let report = automation::evaluate_project(&mut ws, NAME, &opts).unwrap();
    automation::release(&mut ws, NAME, &holder).unwrap();
    assert!(report.evaluated, "{report:?}");
    report
}

/// The next 06:00 UTC after `t`, as the window writes it.
fn next_six(t: DateTime<Utc>) -> String {
    let day = if t.hour() < 6 {
        t.date_naive()
    } else {
        t.date_naive().succ_opt().unwrap()
    };
    format!("{} 06:00 UTC (in ", day.format("%Y-%m-%d"))
}

#[test]
fn the_window_shows_schedules_sensors_next_ticks_switches_and_ticks_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let (ws_path, copy, project) = workspace(dir.path(), HOURLY_AND_LANDING);
    // Real ticks first: a daemon pass an hour ago (the schedules' first sight; the sensor
    // requests a run for the file), and one now after a second file landed.
    std::fs::write(copy.join("landing/a.csv"), "id\n1\n").unwrap();
    let ago = |m| Utc::now() - chrono::Duration::minutes(m);
    let first = daemon_pass(&ws_path, ago(60), None);
    let sensor_ticks = |r: &automation::PassReport| {
        r.ticks
            .iter()
            .filter(|t| t.automation == "landing_files")
            .count()
    };
    assert_eq!(sensor_ticks(&first), 1, "{first:?}");
    // Two passes of the sensor alone (no schedule tick between them, whatever the time) that
    // find nothing new: one row "skipped ×2" in the window.
    for m in [50, 40] {
        let pass = daemon_pass(&ws_path, ago(m), Some("landing_files"));
        assert!(pass.ticks.iter().any(|t| t.outcome == TickOutcome::Skipped));
    }
    std::fs::write(copy.join("landing/b.csv"), "id\n2\n").unwrap();
    daemon_pass(&ws_path, Utc::now(), None);
    let ticks = app::open_workspace(&ws_path)
        .unwrap()
        .ticks(NAME, None, 50)
        .unwrap();
    assert!(ticks.len() >= 4, "{ticks:?}");

    let before = Utc::now();
    let mut h = harness(Studio::with_workspace(Some(project), &ws_path).unwrap());
    open_window(&mut h);
    // Nobody holds the lease (the daemon gave it back; this studio does not evaluate).
    h.get_by_label_contains("Nobody evaluates this project right now");
    // Every schedule and sensor, with its kind, what it watches and its next tick.
    for name in ["nightly", "hourly_orders", "landing_files"] {
        h.get_by_label(&format!("Switch {name}"));
        h.get_by_label(&format!("Evaluate {name} now"));
    }
    // When each fires, in words, and its cron.
    h.get_by_label("every day at 06:00 (UTC) · cron 0 6 * * *");
    h.get_by_label("every hour at minute 15 (Europe/Berlin) · cron 15 * * * *");
    h.get_by_label("files: files matching `landing/*.csv`");
    let after = Utc::now();
    let six = next_six(before);
    assert_eq!(six, next_six(after), "the test straddled 06:00 UTC");
    h.get_by_label_contains(&six);
    // The tick history: each tick's reason, outcome and run.
    for t in &ticks {
        assert!(!h.get_all_by_label(&t.reason).collect::<Vec<_>>().is_empty());
        if let Some(run) = &t.run_id {
            h.get_by_label(run);
        }
    }
    h.get_by_label("skipped ×2");
    assert!(
        ticks
            .iter()
            .filter(|t| t.outcome == TickOutcome::Requested)
            .count()
            >= 2
    );
    h.get_by_label(&format!("Ticks (newest first, {} shown)", ticks.len()));

    // The switch turns the schedule off in the workspace; the window reads it back.
    h.get_by_label("Switch nightly").click();
    h.run_steps(2);
    wait_until(&mut h, "nightly off", |s| match &s.automation.view {
        Some(Ok(v)) => v.statuses.iter().any(|a| a.name == "nightly" && !a.enabled),
        _ => false,
    });
    let switches = app::open_workspace(&ws_path)
        .unwrap()
        .automation_switches(NAME)
        .unwrap();
    assert_eq!(switches.get("nightly"), Some(&false));
    h.get_by_label("off");
    assert!(h.query_by_label_contains(&six).is_none());

    // A tick's run opens in the run view.
    let run = ticks.iter().find_map(|t| t.run_id.clone()).unwrap();
    h.get_by_label(&run).click();
    h.run_steps(2);
    wait_until(&mut h, "the run view", |s| {
        s.run
            .as_ref()
            .and_then(|r| r.record.as_ref())
            .is_some_and(|r| r.id.as_str() == run)
    });
}

#[test]
fn a_studio_opened_by_a_test_requests_nothing_until_evaluate_now_is_clicked() {
    let dir = tempfile::tempdir().unwrap();
    // A schedule due every minute: a studio evaluating on its clock would request a run at once.
    let (ws_path, _copy, project) = workspace(
        dir.path(),
        "\n[schedules.every_minute]\ncron = \"* * * * *\"\nselection = \"raw_orders\"\n",
    );
    let mut h = harness(Studio::with_workspace(Some(project), &ws_path).unwrap());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        h.state().automation.last_evaluation.is_none(),
        "the studio evaluated by its clock"
    );
    {
        let ws = app::open_workspace(&ws_path).unwrap();
        assert_eq!(ws.automation_lease(NAME).unwrap(), None);
        assert!(ws.ticks(NAME, None, 10).unwrap().is_empty());
        assert!(app::run::list_runs(&ws, None, 10).unwrap().is_empty());
    }

    // "Evaluate now" still evaluates, on the user's word.
    open_window(&mut h);
    h.get_by_label("No ticks yet: nothing has evaluated this project's automation.");
    h.get_by_label("Evaluate every_minute now").click();
    h.run_steps(2);
    wait_until(&mut h, "the pass", |s| {
        !s.automation.evaluating && view_ticks(s) > 0
    });
    let ws = app::open_workspace(&ws_path).unwrap();
    let ticks = ws.ticks(NAME, None, 10).unwrap();
    assert_eq!(ticks.len(), 1, "{ticks:?}");
    assert_eq!(ticks[0].automation, "every_minute");
    assert_eq!(ticks[0].outcome, TickOutcome::Requested, "{ticks:?}");
    h.get_by_label(&ticks[0].reason);
    let runs = app::run::list_runs(&ws, None, 10).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].trigger, "schedule:every_minute");
    // The pass holds the lease while the studio is open.
    assert!(
        ws.automation_lease(NAME)
            .unwrap()
            .is_some_and(|l| l.holder.starts_with("studio"))
    );
}
