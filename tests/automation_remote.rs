//! A schedule whose target is remote (with peers: the moto server and the executor test double
//! playing ECS, as in `remote_aws`): `daemon --once --now` requests the run through the same
//! remote-run path as `medallion submit`, the run is an ordinary remote run whose trigger names
//! the schedule, and the next pass does not request it again.

use std::path::Path;
use std::time::Duration;

use crate::common::{json, text};
use crate::remote_aws::{Setup, medallion, peers};
use crate::support::aws_executor::Executor;

/// Every asset's compute hint becomes Fargate (the executor plays ECS), and the example's
/// nightly schedule targets the setup's `aws` resource.
fn remote_nightly(dir: &Path) {
    let toml = dir.join("medallion.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let mut out = String::new();
    let mut in_compute = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_compute = line.starts_with("[assets.") && line.ends_with(".compute]");
            out.push_str(line);
            out.push('\n');
            if in_compute {
                out.push_str("tier = \"fargate\"\n");
            }
            continue;
        }
        if in_compute && !line.trim().is_empty() {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    let nightly = "[schedules.nightly]\ncron = \"0 6 * * *\"\nselection = \"*\"\n";
    assert!(out.contains(nightly), "{out}");
    let out = out.replace(
        nightly,
        &format!("{nightly}target = \"remote\"\naws = \"aws\"\n"),
    );
    std::fs::write(&toml, out).unwrap();
}

#[test]
fn a_remote_schedule_requests_one_ordinary_remote_run() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "schedule");
    let executor = Executor::fargate(&moto, &setup.cluster);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.project(tmp.path());
    remote_nightly(&dir);
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(&ws, &moto, &["import", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    let pass = |now: &str| {
        let o = medallion(
            &ws,
            &moto,
            &[
                "daemon",
                "--once",
                "--now",
                now,
                "customer_analytics",
                "--format",
                "json",
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
        json(&o)
    };
    let first = pass("2026-12-06T06:00:30Z");
    let ticks = first[0]["ticks"].as_array().unwrap();
    assert_eq!(ticks.len(), 1, "{first:#}");
    assert_eq!(ticks[0]["outcome"], "requested", "{first:#}");
    let run_id = ticks[0]["run_id"].as_str().unwrap().to_owned();

    // An ordinary remote run: attach follows it to its end on Fargate.
    let o = medallion(&ws, &moto, &["attach", &run_id, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "success", "{report:#}");
    assert_eq!(report["target"], "aws:fargate", "{report:#}");
    assert!(
        report["steps"][0]["remote_id"]
            .as_str()
            .unwrap()
            .contains(":task/"),
        "{report:#}"
    );

    // The next pass requests nothing again.
    let second = pass("2026-12-06T06:01:30Z");
    assert!(
        second[0]["ticks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["outcome"] != "requested"),
        "{second:#}"
    );
    let o = medallion(&ws, &moto, &["runs", "--format", "json"]);
    let runs = json(&o);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["id"], run_id.as_str(), "{runs:#?}");
    assert_eq!(runs[0]["trigger"], "schedule:nightly", "{runs:#?}");
    let ran = executor.wait_ran(1, Duration::from_secs(5));
    assert_eq!(ran.len(), 1, "one task ran: the schedule's run, once");
}
