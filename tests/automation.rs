//! Schedules and sensors through the `medallion` binary, with the clock injected by
//! `daemon --once --now`: a cron across a DST change in Berlin, an hourly cron across both, catch-up after a gap, run keys
//! that stay exactly-once across a daemon restart, the lease between two daemons, the files and
//! `asset_materialized` sensors, and (with peers) an S3 sensor against the moto server. Every
//! daemon pass is its own process, so each one is also a restart.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{json, text};

fn medallion(workspace: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(args)
        .env("MEDALLION_WORKSPACE", workspace)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("MEDALLION_LOG")
        .output()
        .expect("run medallion")
}

fn ok(o: &Output) -> &Output {
    assert!(o.status.success(), "{}", text(o));
    o
}

/// A small project: one CSV source and one silver asset over it, plus `extra` TOML.
fn project(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.join("data")).unwrap();
    std::fs::write(p.join("data/events.csv"), "id,amount\n1,2.5\n2,3.0\n").unwrap();
    std::fs::write(
        p.join("medallion.toml"),
        format!(
            r#"[project]
name = "{name}"

[assets.events]
layer = "bronze"
source = {{ kind = "csv", path = "data/events.csv", schema = {{ id = "int64", amount = "float64" }} }}

[assets.totals]
layer = "silver"
sql = "SELECT count(*) AS n, sum(amount) AS amount FROM events"

{extra}"#
        ),
    )
    .unwrap();
    p
}

fn import(ws: &Path, dir: &Path) {
    ok(&medallion(
        ws,
        &["import", dir.to_str().unwrap(), "--replace"],
    ));
}

fn pass(ws: &Path, project: &str, now: &str) -> serde_json::Value {
    let out = medallion(
        ws,
        &[
            "daemon", "--once", "--now", now, project, "--format", "json",
        ],
    );
    ok(&out);
    json(&out)
}

/// Ticks of a project, oldest first, as (name, `tick_at`, outcome, reason).
fn ticks(ws: &Path, project: &str) -> Vec<(String, String, String, String)> {
    let out = medallion(
        ws,
        &["ticks", project, "--format", "json", "--limit", "1000"],
    );
    let v = json(ok(&out));
    let mut t: Vec<_> = v["ticks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["automation"].as_str().unwrap().to_owned(),
                t["tick_at"].as_str().unwrap().to_owned(),
                t["outcome"].as_str().unwrap().to_owned(),
                t["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    t.reverse();
    t
}

/// Runs of a project as (trigger, status, partition).
fn runs(ws: &Path, project: &str) -> Vec<(String, String)> {
    let out = medallion(ws, &["runs", project, "--format", "json"]);
    let v = json(ok(&out));
    let mut r: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["trigger"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    r.reverse();
    r
}

fn requested(t: &[(String, String, String, String)]) -> Vec<(&str, &str)> {
    t.iter()
        .filter(|t| t.2 == "requested")
        .map(|t| (t.0.as_str(), t.1.as_str()))
        .collect()
}

#[test]
fn a_daily_cron_in_berlin_follows_the_dst_change() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let p = project(
        dir.path(),
        "berlin",
        "[schedules.morning]\ncron = \"0 6 * * *\"\ntimezone = \"Europe/Berlin\"\nselection = \"+totals\"\n",
    );
    import(&ws, &p);
    // 06:00 in Berlin is 05:00 UTC before 2026-03-29 and 04:00 UTC from then on.
    for now in [
        "2026-03-27T05:00:20Z",
        "2026-03-28T05:00:20Z",
        "2026-03-29T04:00:20Z",
        "2026-03-29T05:00:20Z",
        "2026-03-30T04:00:20Z",
    ] {
        pass(&ws, "berlin", now);
    }
    let t = ticks(&ws, "berlin");
    assert_eq!(
        requested(&t),
        [
            ("morning", "2026-03-27T05:00:00Z"),
            ("morning", "2026-03-28T05:00:00Z"),
            ("morning", "2026-03-29T04:00:00Z"),
            ("morning", "2026-03-30T04:00:00Z"),
        ],
        "{t:#?}"
    );
    assert_eq!(t.len(), 4, "no other tick: {t:#?}");
    let r = runs(&ws, "berlin");
    assert_eq!(r.len(), 4, "{r:?}");
    assert!(
        r.iter()
            .all(|(trigger, status)| trigger == "schedule:morning" && status == "success"),
        "{r:?}"
    );
}

/// An hourly schedule (`30 * * * *`) and a time-of-day one (`30 2 * * *`) in Berlin, evaluated
/// every half hour across a real DST change; the ticks each requested, as (name, `tick_at`).
fn across_dst(ws: &Path, dir: &Path, name: &str, passes: &[String]) -> Vec<(String, String)> {
    let p = project(
        dir,
        name,
        "[schedules.hourly]\ncron = \"30 * * * *\"\ntimezone = \"Europe/Berlin\"\nselection = \"events\"\n\n\
         [schedules.nightly]\ncron = \"30 2 * * *\"\ntimezone = \"Europe/Berlin\"\nselection = \"events\"\n",
    );
    import(ws, &p);
    for now in passes {
        pass(ws, name, now);
    }
    let t = ticks(ws, name);
    assert!(
        t.iter().all(|t| t.2 == "requested"),
        "only requests: {t:#?}"
    );
    let r = runs(ws, name);
    assert_eq!(r.len(), t.len(), "one run per tick: {r:?}");
    requested(&t)
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
}

fn half_hours(from: &str, count: i64) -> Vec<String> {
    let start = chrono::DateTime::parse_from_rfc3339(from).unwrap();
    (0..count)
        .map(|i| {
            (start + chrono::Duration::minutes(30 * i))
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .collect()
}

#[test]
fn an_hourly_cron_fires_every_real_hour_across_both_dst_changes_in_berlin() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let owned = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    // 2026-10-25 in Berlin: at 03:00 CEST (01:00 UTC) the clock goes back to 02:00 CET, so
    // 02:30 happens twice. The hourly schedule fires at both (every real hour, one hour
    // apart); the 02:30 schedule fires once, at the first.
    let autumn = across_dst(
        &ws,
        dir.path(),
        "autumn",
        &half_hours("2026-10-24T22:00:20Z", 11),
    );
    assert_eq!(
        autumn,
        owned(&[
            ("hourly", "2026-10-24T22:30:00Z"),
            ("hourly", "2026-10-24T23:30:00Z"),
            ("hourly", "2026-10-25T00:30:00Z"),
            ("nightly", "2026-10-25T00:30:00Z"),
            ("hourly", "2026-10-25T01:30:00Z"),
            ("hourly", "2026-10-25T02:30:00Z"),
        ]),
    );
    // 2026-03-29: at 02:00 CET (01:00 UTC) the clock jumps to 03:00 CEST; 02:30 does not
    // exist. The hourly schedule still fires one hour apart (nothing in place of 02:30); the
    // 02:30 schedule fires right after the gap, at 03:00 CEST.
    let spring = across_dst(
        &ws,
        dir.path(),
        "spring",
        &half_hours("2026-03-28T22:00:20Z", 11),
    );
    assert_eq!(
        spring,
        owned(&[
            ("hourly", "2026-03-28T22:30:00Z"),
            ("hourly", "2026-03-28T23:30:00Z"),
            ("hourly", "2026-03-29T00:30:00Z"),
            ("nightly", "2026-03-29T01:00:00Z"),
            ("hourly", "2026-03-29T01:30:00Z"),
            ("hourly", "2026-03-29T02:30:00Z"),
        ]),
    );
}

#[test]
fn catch_up_after_a_gap_runs_what_each_policy_says() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let p = project(
        dir.path(),
        "gap",
        r#"[schedules.each3]
cron = "0 * * * *"
selection = "events"
catch_up = "each"
catch_up_max = 3

[schedules.latest]
cron = "30 * * * *"
selection = "events"

[schedules.skip]
cron = "15 * * * *"
selection = "events"
catch_up = "skip"
"#,
    );
    import(&ws, &p);
    pass(&ws, "gap", "2026-01-10T00:00:10Z");
    // Nothing evaluated the project from 00:00:10 to 06:00:10.
    let report = pass(&ws, "gap", "2026-01-10T06:00:10Z");
    assert_eq!(report[0]["evaluated"], true, "{report}");
    let t = ticks(&ws, "gap");
    let each: Vec<_> = requested(&t)
        .into_iter()
        .filter(|(n, _)| *n == "each3")
        .map(|(_, at)| at)
        .collect();
    assert_eq!(
        each,
        [
            "2026-01-10T00:00:00Z",
            "2026-01-10T03:00:00Z",
            "2026-01-10T04:00:00Z",
            "2026-01-10T05:00:00Z",
            "2026-01-10T06:00:00Z"
        ],
        "{t:#?}"
    );
    let skipped = |name: &str| {
        t.iter()
            .filter(|x| x.0 == name && x.2 == "skipped")
            .map(|x| x.3.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        skipped("each3"),
        [
            "skipped: 2 missed tick(s) from 2026-01-10T01:00:00Z to 2026-01-10T02:00:00Z while nothing evaluated the schedule (catch_up = each (up to 3))"
        ]
    );
    let latest: Vec<_> = requested(&t)
        .into_iter()
        .filter(|(n, _)| *n == "latest")
        .map(|(_, at)| at)
        .collect();
    assert_eq!(latest, ["2026-01-10T05:30:00Z"], "{t:#?}");
    assert_eq!(
        skipped("latest"),
        [
            "skipped: 5 missed tick(s) from 2026-01-10T00:30:00Z to 2026-01-10T04:30:00Z while nothing evaluated the schedule (catch_up = latest)"
        ]
    );
    assert!(requested(&t).iter().all(|(n, _)| *n != "skip"), "{t:#?}");
    assert_eq!(
        skipped("skip"),
        [
            "skipped: 6 missed tick(s) from 2026-01-10T00:15:00Z to 2026-01-10T05:15:00Z while nothing evaluated the schedule (catch_up = skip)"
        ]
    );
    assert_eq!(runs(&ws, "gap").len(), 6);
}

#[test]
fn run_keys_stay_exactly_once_across_a_daemon_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let p = project(
        dir.path(),
        "keys",
        "[schedules.hourly]\ncron = \"0 * * * *\"\nselection = \"events\"\n",
    );
    import(&ws, &p);
    pass(&ws, "keys", "2026-02-01T10:00:05Z");
    // A daemon that stopped right after reserving the 11:00 request, before its run existed:
    // the key, its run id and the tick are in the workspace, the run is not.
    {
        let mut w = medallion::store::Workspace::open(&ws).unwrap();
        let tick = medallion::store::NewTick {
            project: "keys",
            automation: "hourly",
            kind: medallion::model::AutomationKind::Schedule,
            tick_at: "2026-02-01T11:00:00Z".parse().unwrap(),
            evaluated_at: "2026-02-01T11:00:05Z".parse().unwrap(),
            outcome: medallion::model::TickOutcome::Requested,
            reason: "requested run 20260201T110005-stopped (run key 2026-02-01T11:00:00Z)".into(),
            run_id: Some("20260201T110005-stopped".into()),
            run_key: Some("2026-02-01T11:00:00Z".into()),
            holder: "daemon pid 1 on a stopped host",
        };
        let outcome = w
            .request_run(
                &tick,
                "2026-02-01T11:00:00Z",
                "20260201T110005-stopped",
                None,
                Some("2026-02-01T11:00:00Z"),
            )
            .unwrap();
        assert!(matches!(
            outcome,
            medallion::store::RequestOutcome::Reserved { .. }
        ));
    }
    // The restarted daemon starts that run, with its reserved id, once.
    pass(&ws, "keys", "2026-02-01T11:00:30Z");
    pass(&ws, "keys", "2026-02-01T11:01:00Z");
    let out = medallion(&ws, &["runs", "keys", "--format", "json"]);
    let all = json(ok(&out));
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{all}");
    assert!(ids.contains(&"20260201T110005-stopped"), "{all}");
    // A cursor set back (e.g. a restored workspace) re-evaluates 11:00: its run key is known.
    {
        let mut w = medallion::store::Workspace::open(&ws).unwrap();
        w.set_automation_cursor(
            "keys",
            "hourly",
            "2026-02-01T10:30:00Z",
            "2026-02-01T10:30:00Z".parse().unwrap(),
        )
        .unwrap();
    }
    pass(&ws, "keys", "2026-02-01T11:01:30Z");
    let t = ticks(&ws, "keys");
    let last = t.last().unwrap();
    assert_eq!(last.2, "skipped", "{t:#?}");
    assert_eq!(
        last.3,
        "skipped: run key 2026-02-01T11:00:00Z already requested (run 20260201T110005-stopped)"
    );
    assert_eq!(runs(&ws, "keys").len(), 2);
}

#[test]
fn a_second_daemon_waits_for_the_lease_and_sigterm_gives_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let p = project(
        dir.path(),
        "lease",
        "[schedules.minutely]\ncron = \"* * * * *\"\nselection = \"events\"\n",
    );
    import(&ws, &p);
    let first = Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(["daemon", "lease", "--interval", "1"])
        .env("MEDALLION_WORKSPACE", &ws)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first daemon holds the lease.
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    loop {
        let v = json(ok(&medallion(&ws, &["ticks", "lease", "--format", "json"])));
        if v["lease"]["holder"]
            .as_str()
            .is_some_and(|h| h.starts_with("daemon"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon never took the lease"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let second = pass(&ws, "lease", "2026-05-01T12:00:00Z");
    assert_eq!(second[0]["evaluated"], false, "{second}");
    let holder = second[0]["lease_holder"].as_str().unwrap();
    assert!(holder.contains(&format!("pid {}", first.id())), "{holder}");
    // SIGTERM: the first daemon finishes its pass, gives the lease back and exits 0.
    let status = Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = first.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("stopped"), "{}", text(&out));
    let v = json(ok(&medallion(&ws, &["ticks", "lease", "--format", "json"])));
    assert!(v["lease"].is_null(), "{v}");
    let third = pass(&ws, "lease", "2026-05-01T12:00:00Z");
    assert_eq!(third[0]["evaluated"], true, "{third}");
}

/// A daemon or studio killed while it held the lease: the next pass takes the lease at once,
/// because the holder's process is gone — not after the lease's 120 s. A holder whose process
/// runs keeps it.
#[test]
fn a_lease_whose_holder_died_is_taken_over_at_once() {
    use medallion::app::liveness::{RunOwner, current_owner};
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let p = project(
        dir.path(),
        "orphan",
        "[schedules.minutely]\ncron = \"* * * * *\"\nselection = \"events\"\n",
    );
    import(&ws, &p);
    let hold = |holder: &str, owner: &RunOwner| {
        let mut w = medallion::store::Workspace::open(&ws).unwrap();
        w.release_automation_leases_of("studio pid (this test)")
            .unwrap();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let taken = w
            .acquire_automation_lease("orphan", holder, owner, now_ms, 120_000, &|_| false)
            .unwrap();
        assert!(taken.is_ok(), "{taken:?}");
    };
    // Held by a process that runs (this test's): refused.
    hold("studio pid (this test)", current_owner());
    let refused = pass(&ws, "orphan", "2026-05-01T12:00:00Z");
    assert_eq!(refused[0]["evaluated"], false, "{refused}");
    assert_eq!(refused[0]["lease_holder"], "studio pid (this test)");
    // Held by a process that has ended (killed, say), with 120 s of lease left: taken at once.
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let dead = RunOwner {
        host: current_owner().host.clone(),
        pid: gone.id(),
        start: "1".into(),
    };
    hold(&format!("studio pid {} on this machine", gone.id()), &dead);
    let taken = pass(&ws, "orphan", "2026-05-01T12:00:00Z");
    assert_eq!(taken[0]["evaluated"], true, "{taken}");
    let holder = taken[0]["lease_holder"].as_str().unwrap();
    assert!(holder.starts_with("daemon pid"), "{holder}");
}

#[test]
fn a_files_sensor_requests_one_run_per_new_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let p = project(
        dir.path(),
        "landing",
        "[sensors.arrivals]\nkind = \"files\"\nglob = \"landing/*.csv\"\nselection = \"+totals\"\nmin_interval_secs = 60\n",
    );
    std::fs::create_dir_all(p.join("landing")).unwrap();
    std::fs::write(p.join("landing/a.csv"), "x\n").unwrap();
    std::fs::write(p.join("landing/b.csv"), "x\n").unwrap();
    std::fs::write(p.join("landing/ignored.txt"), "x\n").unwrap();
    import(&ws, &p);
    pass(&ws, "landing", "2026-04-01T08:00:00Z");
    // Within the minimum interval: no evaluation, no tick.
    pass(&ws, "landing", "2026-04-01T08:00:30Z");
    pass(&ws, "landing", "2026-04-01T08:01:00Z");
    std::fs::write(p.join("landing/c.csv"), "x\n").unwrap();
    pass(&ws, "landing", "2026-04-01T08:02:00Z");
    let t = ticks(&ws, "landing");
    let outcomes: Vec<(&str, &str)> = t.iter().map(|x| (x.1.as_str(), x.2.as_str())).collect();
    assert_eq!(
        outcomes,
        [
            ("2026-04-01T08:00:00Z", "requested"),
            ("2026-04-01T08:00:00Z", "requested"),
            ("2026-04-01T08:01:00Z", "skipped"),
            ("2026-04-01T08:02:00Z", "requested"),
        ],
        "{t:#?}"
    );
    assert!(t[0].3.contains("for landing/a.csv"), "{}", t[0].3);
    assert!(t[1].3.contains("for landing/b.csv"), "{}", t[1].3);
    assert!(
        t[2].3.starts_with("skipped: no new objects since cursor"),
        "{}",
        t[2].3
    );
    assert!(t[3].3.contains("for landing/c.csv"), "{}", t[3].3);
    let r = runs(&ws, "landing");
    assert_eq!(r.len(), 3);
    assert!(
        r.iter()
            .all(|(tr, st)| tr == "sensor:arrivals" && st == "success"),
        "{r:?}"
    );
}

#[test]
fn an_asset_materialized_sensor_follows_another_project() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let up = project(dir.path(), "upstream", "");
    let down = project(
        dir.path(),
        "downstream",
        "[sensors.after_upstream]\nkind = \"asset_materialized\"\nproject = \"upstream\"\nasset = \"totals\"\nselection = \"*\"\nmin_interval_secs = 1\n",
    );
    import(&ws, &up);
    import(&ws, &down);
    pass(&ws, "downstream", "2026-04-02T09:00:00Z");
    ok(&medallion(&ws, &["materialize", "upstream", "--force"]));
    pass(&ws, "downstream", "2026-04-02T09:00:10Z");
    pass(&ws, "downstream", "2026-04-02T09:00:20Z");
    let t = ticks(&ws, "downstream");
    let outcomes: Vec<&str> = t.iter().map(|x| x.2.as_str()).collect();
    assert_eq!(outcomes, ["skipped", "requested", "skipped"], "{t:#?}");
    assert_eq!(
        t[0].3,
        "skipped: upstream/totals has no materializations yet"
    );
    assert!(
        t[1].3.contains("upstream/totals materialized by run"),
        "{}",
        t[1].3
    );
    assert_eq!(runs(&ws, "downstream").len(), 1);
}

#[test]
fn bad_automation_definitions_and_flags_are_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let p = project(
        dir.path(),
        "bad",
        "[schedules.nightly]\ncron = \"0 6 * * *\"\ntimezone = \"Europe/Atlantis\"\nselection = \"events\"\n\n[sensors.drop]\nkind = \"files\"\nselection = \"events\"\n",
    );
    let out = medallion(&ws, &["validate", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("medallion.toml:")
            && said.contains("`Europe/Atlantis` is not an IANA time zone name"),
        "{said}"
    );
    assert!(said.contains("a files sensor needs `glob`"), "{said}");
    let good = project(dir.path(), "good", "");
    import(&ws, &good);
    let out = medallion(&ws, &["daemon", "--once", "--now", "yesterday", "good"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: --now `yesterday` is not an RFC 3339 time (e.g. 2026-03-29T06:00:00+02:00)"
    );
    let out = medallion(&ws, &["daemon", "--once", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("no project named `nosuch`"),
        "{}",
        text(&out)
    );
}

#[test]
fn schedules_and_sensors_round_trip_through_export() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let p = project(
        dir.path(),
        "trip",
        r#"[resources.lake]
kind = "s3"
bucket = "b"

[schedules.nightly]
cron = "0 2 * * *"
timezone = "America/New_York"
selection = "+totals"
catch_up = "each"
catch_up_max = 4
enabled = false

[sensors.objects]
kind = "s3_objects"
resource = "lake"
prefix = "in/"
pattern = '\.csv$'
per = "batch"
selection = "events"
min_interval_secs = 120

[sensors.files]
kind = "files"
glob = "landing/*.csv"
selection = "events"
"#,
    );
    import(&ws, &p);
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    ok(&medallion(&ws, &["export", "trip", a.to_str().unwrap()]));
    import(&ws, &a);
    ok(&medallion(&ws, &["export", "trip", b.to_str().unwrap()]));
    let first = std::fs::read_to_string(a.join("medallion.toml")).unwrap();
    assert_eq!(
        first,
        std::fs::read_to_string(b.join("medallion.toml")).unwrap()
    );
    for line in [
        "timezone = \"America/New_York\"",
        "catch_up = \"each\"",
        "catch_up_max = 4",
        "enabled = false",
        "per = \"batch\"",
        "min_interval_secs = 120",
        "glob = \"landing/*.csv\"",
    ] {
        assert!(first.contains(line), "{line} missing from:\n{first}");
    }
}

// ------------------------------------------------------------ S3 sensor against moto

use crate::common::peers;

fn put_objects(moto: &str, bucket: &str, keys: &[&str]) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(moto)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(config);
        let _ = s3.create_bucket().bucket(bucket).send().await;
        for key in keys {
            s3.put_object()
                .bucket(bucket)
                .key(*key)
                .body(b"id\n1\n".to_vec().into())
                .send()
                .await
                .unwrap();
        }
    });
}

#[test]
fn an_s3_sensor_requests_one_run_per_new_object_once() {
    if !peers() {
        return;
    }
    let moto = std::env::var("MEDALLION_TEST_MOTO_URL")
        .expect("MEDALLION_TEST_PEERS=1 but MEDALLION_TEST_MOTO_URL is not set: run tests/run");
    let bucket = "medallion-test-sensor";
    put_objects(
        &moto,
        bucket,
        &[
            "landing/one.csv",
            "landing/two.csv",
            "landing/skip.json",
            "elsewhere/x.csv",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let p = project(
        dir.path(),
        "s3sense",
        &format!(
            "[resources.lake]\nkind = \"s3\"\nbucket = \"{bucket}\"\nregion = \"us-east-1\"\nendpoint_url = \"{moto}\"\n\n[sensors.landing]\nkind = \"s3_objects\"\nresource = \"lake\"\nprefix = \"landing/\"\npattern = '\\.csv$'\nselection = \"+totals\"\nmin_interval_secs = 30\n"
        ),
    );
    import(&ws, &p);
    pass(&ws, "s3sense", "2026-04-03T10:00:00Z");
    pass(&ws, "s3sense", "2026-04-03T10:00:30Z");
    put_objects(&moto, bucket, &["landing/three.csv"]);
    pass(&ws, "s3sense", "2026-04-03T10:01:00Z");
    pass(&ws, "s3sense", "2026-04-03T10:01:30Z");
    let t = ticks(&ws, "s3sense");
    let seen: Vec<(&str, &str)> = t.iter().map(|x| (x.1.as_str(), x.2.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("2026-04-03T10:00:00Z", "requested"),
            ("2026-04-03T10:00:00Z", "requested"),
            ("2026-04-03T10:00:30Z", "skipped"),
            ("2026-04-03T10:01:00Z", "requested"),
            ("2026-04-03T10:01:30Z", "skipped"),
        ],
        "{t:#?}"
    );
    assert!(t[0].3.contains("for landing/one.csv"), "{}", t[0].3);
    assert!(t[1].3.contains("for landing/two.csv"), "{}", t[1].3);
    assert!(t[3].3.contains("for landing/three.csv"), "{}", t[3].3);
    let r = runs(&ws, "s3sense");
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(
        r.iter()
            .all(|(tr, st)| tr == "sensor:landing" && st == "success"),
        "{r:?}"
    );
    // A sensor whose bucket is missing fails its tick with one sentence.
    let broken = project(
        dir.path(),
        "s3broken",
        &format!(
            "[resources.lake]\nkind = \"s3\"\nbucket = \"no-such-bucket-here\"\nregion = \"us-east-1\"\nendpoint_url = \"{moto}\"\n\n[sensors.landing]\nkind = \"s3_objects\"\nresource = \"lake\"\nprefix = \"landing/\"\nselection = \"events\"\n"
        ),
    );
    import(&ws, &broken);
    let out = medallion(
        &ws,
        &[
            "daemon",
            "--once",
            "--now",
            "2026-04-03T10:00:00Z",
            "s3broken",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = ticks(&ws, "s3broken");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].2, "failed");
    assert!(
        t[0].3.starts_with("failed: ") && t[0].3.contains("no-such-bucket-here"),
        "{}",
        t[0].3
    );
}

#[test]
fn each_pass_prunes_ticks_beyond_the_newest_thousand_older_than_30_days() {
    use chrono::{DateTime, Duration, SecondsFormat, Utc};
    use medallion::model::{AutomationKind, TickOutcome};
    let tmp = tempfile::tempdir().unwrap();
    let dir = project(tmp.path(), "prune", "");
    let ws = tmp.path().join("ws.sqlite");
    import(&ws, &dir);
    let now: DateTime<Utc> = "2026-06-01T12:00:00Z".parse().unwrap();
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    {
        let mut w = medallion::app::open_workspace(&ws).unwrap();
        let mut add = |name: &str, first: DateTime<Utc>, n: i64| {
            for i in 0..n {
                let at = first + Duration::seconds(i);
                let tick = medallion::store::NewTick {
                    project: "prune",
                    automation: name,
                    kind: AutomationKind::Sensor,
                    tick_at: at,
                    evaluated_at: at,
                    outcome: TickOutcome::Skipped,
                    reason: format!("skipped: nothing new ({i})"),
                    run_id: None,
                    run_key: None,
                    holder: "test",
                };
                w.record_tick(&tick, None).unwrap();
            }
        };
        // 40 days old and 1,010 of them: the 10 oldest go.
        add("old_sensor", now - Duration::days(40), 1010);
        // 1,005 from the last two days: all stay (younger than 30 days).
        add("busy_sensor", now - Duration::days(2), 1005);
        // Three from a year ago: all stay (within the newest 1,000 of their sensor).
        add("rare_sensor", now - Duration::days(365), 3);
    }
    pass(&ws, "prune", &stamp(now));
    let w = medallion::app::open_workspace(&ws).unwrap();
    let kept = |name: &str| w.ticks("prune", Some(name), 5000).unwrap();
    let old = kept("old_sensor");
    assert_eq!(old.len(), 1000);
    assert_eq!(
        stamp(old.last().unwrap().tick_at),
        stamp(now - Duration::days(40) + Duration::seconds(10)),
        "the oldest ten went"
    );
    assert_eq!(kept("busy_sensor").len(), 1005);
    assert_eq!(kept("rare_sensor").len(), 3);
}

/// Reported: "a daily schedule row doesn't say which day it runs". `medallion automation`
/// (and the studio's Automation window, from the same rows) says when each schedule fires in
/// words — daily, which weekday, which day of the month, several times a day, its time zone —
/// beside its cron.
#[test]
fn each_schedule_says_when_it_fires_in_words() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = project(
        tmp.path(),
        "words",
        r#"[schedules.daily]
cron = "0 6 * * *"
selection = "*"

[schedules.weekly]
cron = "30 4 * * 1"
selection = "*"
timezone = "Europe/Berlin"

[schedules.monthly]
cron = "0 3 1 * *"
selection = "*"
timezone = "America/New_York"

[schedules.twice]
cron = "0 6,18 * * *"
selection = "*"

[schedules.often]
cron = "*/15 * * * 1-5"
selection = "*"
"#,
    );
    ok(&medallion(&ws, &["import", dir.to_str().unwrap()]));
    let out = medallion(&ws, &["automation", "words"]);
    let said = text(ok(&out));
    for line in [
        "schedule daily `on` — every day at 06:00 (UTC) · cron 0 6 * * *;",
        "schedule weekly `on` — every Monday at 04:30 (Europe/Berlin) · cron 30 4 * * 1;",
        "schedule monthly `on` — on day 1 of the month at 03:00 (America/New_York) · cron 0 3 1 * *;",
        "schedule twice `on` — every day at 06:00 and 18:00 (UTC) · cron 0 6,18 * * *;",
        "schedule often `on` — every 15 minutes, every weekday (Monday to Friday) (UTC) · cron */15 * * * 1-5;",
    ] {
        assert!(said.contains(line), "no `{line}` in:\n{said}");
    }
}
