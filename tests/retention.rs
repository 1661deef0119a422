//! Retention of run history, through the binary and a real workspace file: `[retention]` in
//! `medallion.toml` decides which old runs go, `gc` applies it, a run that a kept
//! materialization or an open remote run needs survives whatever its age, a failed run is kept
//! longer, and each deletion is in the audit log. Bad settings are refused with `medallion.toml:LINE`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{copy_dir, example, json, text};

fn medallion(workspace: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(args)
        .env("MEDALLION_WORKSPACE", workspace)
        .env("MEDALLION_KEEP_MATERIALIZATIONS", "0")
        .env_remove("MEDALLION_LOG")
        .output()
        .expect("run medallion")
}

/// A copy of the example whose `medallion.toml` ends with `extra`.
fn example_with(tmp: &Path, extra: &str) -> PathBuf {
    let dir = tmp.join("customer_analytics");
    copy_dir(&example(), &dir);
    let toml = dir.join("medallion.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{text}\n{extra}")).unwrap();
    dir
}

fn run_ids(ws: &Path) -> Vec<String> {
    let runs = json(&medallion(ws, &["runs", "--format", "json"]));
    runs.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A run row written as the workspace would, `hours` old.
fn insert_run(conn: &rusqlite::Connection, id: &str, status: &str, target: &str, hours: i64) {
    let at = chrono::Utc::now() - chrono::Duration::hours(hours);
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    conn.execute(
        "INSERT INTO runs (id, project_id, selection, target, status, trigger, created_at, started_at, ended_at)
         VALUES (?1, (SELECT id FROM projects WHERE name = 'customer_analytics'), '*', ?2, ?3, 'manual', ?4, ?4,
                 CASE WHEN ?3 IN ('success', 'failure') THEN ?4 END)",
        rusqlite::params![id, target, status, at],
    )
    .unwrap();
}

fn backdate(conn: &rusqlite::Connection, id: &str, days: i64) {
    let at = chrono::Utc::now() - chrono::Duration::days(days);
    conn.execute(
        "UPDATE runs SET created_at = ?2 WHERE id = ?1",
        rusqlite::params![id, at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)],
    )
    .unwrap();
}

#[test]
fn gc_deletes_old_runs_and_keeps_what_is_needed_newest_open_and_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = example_with(
        tmp.path(),
        "[retention]\nkeep_runs = 1\nkeep_days = 1\nkeep_failed_days = 2\n",
    );
    let ws = tmp.path().join("ws.sqlite");
    let p = dir.to_str().unwrap();
    for _ in 0..3 {
        let out = medallion(&ws, &["materialize", p, "--force"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    // Newest first: C, B, A. Files: only the newest two of each asset stay, so A's go.
    let ids = run_ids(&ws);
    let (c, b, a) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    let out = medallion(&ws, &["gc", "customer_analytics", "--keep", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    // Nothing is old yet: every run stays.
    assert_eq!(run_ids(&ws).len(), 3, "{}", text(&out));

    {
        let conn = rusqlite::Connection::open(&ws).unwrap();
        backdate(&conn, &a, 10);
        backdate(&conn, &b, 10);
        // An open remote run from ten days ago, a step submitted and still going.
        insert_run(&conn, "open-remote", "started", "aws:fargate", 240);
        conn.execute(
            "INSERT INTO remote_runs (run_id, aws_resource, request) VALUES ('open-remote', 'aws', '{}')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO remote_steps (run_id, position, step_id, tier, tier_reason, assets, partitions, vcpu,
                memory_mb, spot, status) VALUES ('open-remote', 0, 's1-fargate', 'fargate', 'test', '[]', '[]',
                1.0, 2048, 0, 'submitted')",
            [],
        )
        .unwrap();
        // A day and a half old: a failed run (kept two days) and a successful one (one day).
        insert_run(&conn, "failed-young", "failure", "local", 36);
        insert_run(&conn, "success-old", "success", "local", 36);
    }

    let out = medallion(
        &ws,
        &["gc", "customer_analytics", "--keep", "2", "--dry-run"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(run_ids(&ws).len(), 6, "a dry run deletes nothing");

    let out = medallion(
        &ws,
        &[
            "gc",
            "customer_analytics",
            "--keep",
            "2",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report = json(&out);
    let mut deleted: Vec<String> = report["history"]["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["run_id"].as_str().unwrap().to_owned())
        .collect();
    deleted.sort();
    let mut expected = vec![a.clone(), "success-old".to_owned()];
    expected.sort();
    assert_eq!(deleted, expected, "{report:#}");

    let left = run_ids(&ws);
    // B keeps its files (a kept materialization), C is the newest, the remote run is open,
    // the failed run is younger than two days.
    for kept in [&c, &b, "open-remote", "failed-young"] {
        assert!(
            left.iter().any(|id| id == kept),
            "{kept} was deleted: {left:?}"
        );
    }
    assert_eq!(left.len(), 4, "{left:?}");
    // The rows went with the run (events cascade), and each deletion is audited.
    let conn = rusqlite::Connection::open(&ws).unwrap();
    let events: i64 = conn
        .query_row(
            "SELECT count(*) FROM run_events WHERE run_id = ?1",
            [&a],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 0);
    let out = medallion(
        &ws,
        &[
            "audit",
            "customer_analytics",
            "--kind",
            "retention_deleted",
            "--format",
            "json",
        ],
    );
    let entries = json(&out);
    let runs: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["detail"]["what"] == "run history")
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(runs.len(), 2, "{entries:#}");
    assert!(
        runs.contains(&a.as_str()) && runs.contains(&"success-old"),
        "{runs:?}"
    );
    let out = medallion(&ws, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_local_run_applies_retention_by_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = example_with(tmp.path(), "[retention]\nkeep_runs = 1\nkeep_days = 1\n");
    let ws = tmp.path().join("ws.sqlite");
    let p = dir.to_str().unwrap();
    let out = medallion(&ws, &["materialize", p]);
    assert!(out.status.success(), "{}", text(&out));
    {
        let conn = rusqlite::Connection::open(&ws).unwrap();
        insert_run(&conn, "old-success", "success", "local", 72);
    }
    assert_eq!(run_ids(&ws).len(), 2);
    let out = medallion(&ws, &["materialize", p]);
    assert!(out.status.success(), "{}", text(&out));
    let left = run_ids(&ws);
    assert!(!left.iter().any(|id| id == "old-success"), "{left:?}");
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn retention_settings_round_trip_and_bad_ones_are_located() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = example_with(
        tmp.path(),
        "[retention]\nkeep_runs = 0\nkeep_days = 30\nkeep_failed_days = 7\n",
    );
    let ws = tmp.path().join("ws.sqlite");
    let out = medallion(&ws, &["validate", dir.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("medallion.toml:") && t.contains("keep_runs must be at least 1"),
        "{t}"
    );
    assert!(
        t.contains("keep_failed_days (7) must be at least keep_days (30)"),
        "{t}"
    );

    let good = tmp.path().join("good");
    let dir = example_with(&good, "[retention]\nkeep_runs = 20\nkeep_days = 7\n");
    let out = medallion(&ws, &["import", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let exported = tmp.path().join("exported");
    let out = medallion(
        &ws,
        &["export", "customer_analytics", exported.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let toml = std::fs::read_to_string(exported.join("medallion.toml")).unwrap();
    assert!(
        toml.contains("[retention]\nkeep_runs = 20\nkeep_days = 7\n"),
        "{toml}"
    );
    // The change of rules is in the audit log.
    let out = medallion(
        &ws,
        &["audit", "customer_analytics", "--kind", "retention_changed"],
    );
    assert!(text(&out).contains("retention_changed"), "{}", text(&out));
}
