//! The audit log, through the binary and a real workspace file: a run, an export and a report
//! leave entries with who, what, where and costs; `audit verify` passes on the untouched chain
//! and fails — naming the right entry — after a past row is edited, deleted or reordered with
//! rusqlite, or the newest rows are deleted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{copy_dir, example, json, text};

fn medallion(workspace: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(args)
        .env("MEDALLION_WORKSPACE", workspace)
        .env("USER", "auditor")
        .env_remove("MEDALLION_LOG")
        .output()
        .expect("run medallion")
}

/// A workspace with the example imported, run once, exported and its report written.
fn workspace_with_history(tmp: &Path) -> PathBuf {
    let dir = tmp.join("customer_analytics");
    copy_dir(&example(), &dir);
    let ws = tmp.join("ws.sqlite");
    let p = dir.to_str().unwrap();
    let out = medallion(&ws, &["materialize", p, "--select", "*"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = medallion(
        &ws,
        &[
            "export",
            "customer_analytics",
            tmp.join("exported").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let runs = json(&medallion(&ws, &["runs", "--format", "json"]));
    let run_id = runs[0]["id"].as_str().unwrap().to_owned();
    let html = tmp.join("report.html");
    let out = medallion(&ws, &["report", &run_id, "--html", html.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    ws
}

/// A standalone copy of the workspace (its WAL folded in) to tamper with.
fn copy_of(ws: &Path, name: &str) -> PathBuf {
    let to = ws.with_file_name(name);
    let conn = rusqlite::Connection::open(ws).unwrap();
    conn.execute("VACUUM INTO ?1", [to.to_str().unwrap()])
        .unwrap();
    to
}

fn verify(ws: &Path) -> (Option<i32>, String) {
    let out = medallion(ws, &["audit", "verify"]);
    (out.status.code(), text(&out))
}

fn entry_count(ws: &Path) -> i64 {
    let conn = rusqlite::Connection::open(ws).unwrap();
    conn.query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_run_an_export_and_a_report_are_recorded_and_the_chain_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace_with_history(tmp.path());
    let out = medallion(&ws, &["audit", "customer_analytics", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let entries = json(&out);
    let entries = entries.as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first: the report, the export, the run's end and start.
    assert_eq!(
        &kinds[..4],
        &[
            "report_exported",
            "project_exported",
            "run_finished",
            "run_started"
        ],
        "{entries:#?}"
    );
    let finished = &entries[2];
    assert_eq!(finished["who"], "auditor");
    assert_eq!(finished["where"]["kind"], "local");
    assert_eq!(finished["detail"]["status"], "success", "{finished}");
    assert_eq!(finished["subject"], entries[3]["subject"]);
    assert!(
        entries[0]["subject"]
            .as_str()
            .unwrap()
            .ends_with("report.html"),
        "{}",
        entries[0]
    );
    // Each entry holds a hash; seq numbers rise in the order written.
    let seqs: Vec<i64> = entries.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");

    // Text output, a kind filter and a window that excludes everything.
    let out = medallion(
        &ws,
        &["audit", "customer_analytics", "--kind", "run_finished"],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(t.lines().count(), 1, "{t}");
    assert!(
        t.contains("run_finished") && t.contains("auditor") && t.contains("[local]"),
        "{t}"
    );
    let out = medallion(
        &ws,
        &["audit", "customer_analytics", "--since", "2099-01-01"],
    );
    assert!(text(&out).contains("no audit entries"), "{}", text(&out));
    let out = medallion(
        &ws,
        &[
            "audit",
            "customer_analytics",
            "--since",
            "7d",
            "--format",
            "json",
        ],
    );
    assert_eq!(json(&out).as_array().unwrap().len(), entries.len());

    let (code, t) = verify(&ws);
    assert_eq!(code, Some(0), "{t}");
    assert!(
        t.contains(&format!("{} entries verified", entry_count(&ws))),
        "{t}"
    );
}

#[test]
fn verify_names_the_entry_edited_deleted_or_reordered() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace_with_history(tmp.path());
    let n = entry_count(&ws);
    assert!(n >= 4, "{n} entries");

    // An edited past row: its own hash no longer matches.
    let edited = copy_of(&ws, "edited.sqlite");
    rusqlite::Connection::open(&edited)
        .unwrap()
        .execute(
            "UPDATE audit_log SET who = 'someone-else' WHERE seq = 2",
            [],
        )
        .unwrap();
    let (code, t) = verify(&edited);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("entry 2:") && t.contains("edited"), "{t}");
    assert_eq!(t.lines().count(), 1, "{t}");

    // A changed cost is an edit too.
    let costed = copy_of(&ws, "costed.sqlite");
    rusqlite::Connection::open(&costed)
        .unwrap()
        .execute("UPDATE audit_log SET actual_usd = 0.01 WHERE seq = 3", [])
        .unwrap();
    let (code, t) = verify(&costed);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("entry 3:") && t.contains("edited"), "{t}");

    // A deleted past row: the next one follows another.
    let deleted = copy_of(&ws, "deleted.sqlite");
    rusqlite::Connection::open(&deleted)
        .unwrap()
        .execute("DELETE FROM audit_log WHERE seq = 2", [])
        .unwrap();
    let (code, t) = verify(&deleted);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("entry 2:") && t.contains("missing"), "{t}");

    // Two past rows swapped (each keeps its number, the contents change places).
    let reordered = copy_of(&ws, "reordered.sqlite");
    {
        let conn = rusqlite::Connection::open(&reordered).unwrap();
        let cols = "at, who, action, project, subject, place, estimated_usd, actual_usd, detail, prev_hash, hash";
        conn.execute_batch(&format!(
            "CREATE TEMP TABLE a AS SELECT {cols} FROM audit_log WHERE seq = 2;
             CREATE TEMP TABLE b AS SELECT {cols} FROM audit_log WHERE seq = 3;
             DELETE FROM audit_log WHERE seq IN (2, 3);
             INSERT INTO audit_log (seq, {cols}) SELECT 2, * FROM b;
             INSERT INTO audit_log (seq, {cols}) SELECT 3, * FROM a;"
        ))
        .unwrap();
    }
    let (code, t) = verify(&reordered);
    assert_eq!(code, Some(1), "{t}");
    assert!(
        t.contains("entry 2:") && t.contains("does not follow entry 1"),
        "{t}"
    );

    // A deleted row with the later ones renumbered to close the gap.
    let renumbered = copy_of(&ws, "renumbered.sqlite");
    rusqlite::Connection::open(&renumbered)
        .unwrap()
        .execute_batch(
            "DELETE FROM audit_log WHERE seq = 2;
             UPDATE audit_log SET seq = seq - 1 WHERE seq > 2;",
        )
        .unwrap();
    let (code, t) = verify(&renumbered);
    assert_eq!(code, Some(1), "{t}");
    assert!(
        t.contains("entry 2:") && t.contains("does not follow entry 1"),
        "{t}"
    );

    // The newest row deleted: the workspace remembers the highest number it gave.
    let tail = copy_of(&ws, "tail.sqlite");
    rusqlite::Connection::open(&tail)
        .unwrap()
        .execute("DELETE FROM audit_log WHERE seq = ?1", [n])
        .unwrap();
    let (code, t) = verify(&tail);
    assert_eq!(code, Some(1), "{t}");
    assert!(
        t.contains(&format!("entry {n}:")) && t.contains("missing"),
        "{t}"
    );

    // The original is untouched and still verifies; JSON names the break too.
    assert_eq!(verify(&ws).0, Some(0));
    let out = medallion(&deleted, &["audit", "verify", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["verdict"], "broken");
    assert_eq!(v["seq"], 2);
}

#[test]
fn without_user_in_the_environment_the_entry_names_the_process_account() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("customer_analytics");
    copy_dir(&example(), &dir);
    let ws = tmp.path().join("ws.sqlite");
    let out = Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args([
            "materialize",
            dir.to_str().unwrap(),
            "--select",
            "raw_orders",
        ])
        .env("MEDALLION_WORKSPACE", &ws)
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("USERNAME")
        .env_remove("MEDALLION_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let account = Command::new("id").arg("-un").output().unwrap();
    let account = String::from_utf8_lossy(&account.stdout).trim().to_owned();
    assert!(!account.is_empty());
    let entries = json(&medallion(
        &ws,
        &["audit", "customer_analytics", "--format", "json"],
    ));
    let whos: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().is_some_and(|a| a.starts_with("run_")))
        .map(|e| e["who"].as_str().unwrap())
        .collect();
    assert!(!whos.is_empty(), "{entries}");
    assert!(whos.iter().all(|w| *w == account), "{whos:?} vs {account}");
}

#[test]
fn bad_audit_arguments_are_one_sentence_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    for (args, says) in [
        (vec!["audit", "nope"], "no project named `nope`"),
        (
            vec!["audit", "nope", "--since", "yesterday"],
            "--since `yesterday` is not a date",
        ),
        (
            vec!["audit", "nope", "--kind", "deploy"],
            "--kind `deploy` is not a kind",
        ),
    ] {
        let out = medallion(&ws, &args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(says), "{args:?}: {t}");
        assert_eq!(t.lines().count(), 1, "{args:?}: {t}");
    }
    // An empty workspace's chain is intact.
    let out = medallion(&ws, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("0 entries verified"), "{}", text(&out));
}

/// A workspace with history in `tmp`, and the studio on it with the Audit window opened from
/// the Project menu and its entries read.
fn studio_with_audit_open(
    tmp: &Path,
) -> (
    PathBuf,
    egui_kittest::Harness<'static, medallion::ui::Studio>,
) {
    use crate::common::studio::{harness, wait_until};
    use egui_kittest::kittest::Queryable;
    use medallion::ui::Studio;

    let ws = workspace_with_history(tmp);
    let project = {
        let w = medallion::app::open_workspace(&ws).unwrap();
        medallion::app::load_project(&w, "customer_analytics")
            .unwrap()
            .project
    };
    let mut h = harness(Studio::with_workspace(Some(project), &ws).unwrap());
    h.get_by_label("Project").click();
    h.run_steps(2);
    h.get_by_label("Audit log…").click();
    h.run_steps(2);
    wait_until(
        &mut h,
        "the audit entries",
        std::time::Duration::from_mins(2),
        |s| matches!(s.audit.entries, Some(Ok(_))),
    );
    (ws, h)
}

/// The studio's Audit window, opened from the Project menu: the project's entries newest
/// first, a kind filter, and "Verify chain" on the job worker — intact, then broken after a
/// row is edited in the file.
#[test]
fn the_studio_audit_window_lists_filters_and_verifies() {
    use crate::common::studio::wait_until;
    use egui_kittest::kittest::Queryable;

    let tmp = tempfile::tempdir().unwrap();
    let (ws, mut h) = studio_with_audit_open(tmp.path());
    let limit = std::time::Duration::from_mins(2);
    let n = match &h.state().audit.entries {
        Some(Ok(e)) => e.len(),
        _ => 0,
    };
    h.get_by_label(&format!("Entries (newest first, {n} shown)"));
    // Newest first: the report export heads the list.
    match &h.state().audit.entries {
        Some(Ok(e)) => assert_eq!(e[0].action.as_str(), "report_exported"),
        other => panic!("{other:?}"),
    }
    h.get_by_label("run_finished");
    h.get_by_label("run_started");

    // The kind filter asks the worker for that kind only (no secret was set here).
    h.get_by_label("Kind filter").click();
    h.run_steps(2);
    h.get_all_by_label("secret_set").last().unwrap().click();
    h.run_steps(2);
    wait_until(
        &mut h,
        "the filtered entries",
        limit,
        |s| matches!(&s.audit.entries, Some(Ok(e)) if e.is_empty()),
    );
    h.get_by_label("No secret_set entries for this project.");

    h.get_by_label("Verify chain").click();
    h.run_steps(2);
    wait_until(&mut h, "the verdict", limit, |s| {
        !s.audit.verifying && s.audit.verdict.is_some()
    });
    h.get_by_label_contains("audit log intact");

    rusqlite::Connection::open(&ws)
        .unwrap()
        .execute(
            "UPDATE audit_log SET subject = 'elsewhere' WHERE seq = 2",
            [],
        )
        .unwrap();
    h.get_by_label("Verify chain").click();
    h.run_steps(2);
    wait_until(&mut h, "the second verdict", limit, |s| {
        !s.audit.verifying
            && matches!(
                s.audit.verdict,
                Some(Ok(medallion::model::AuditVerdict::Broken { .. }))
            )
    });
    h.get_by_label_contains("audit log broken at entry 2:");
}

/// The Audit window shows what happened while it was open: a run started and finished in the
/// studio appears without pressing Refresh.
#[test]
fn the_open_audit_window_shows_a_run_that_ends_without_refresh() {
    use crate::common::studio::wait_until;
    use egui_kittest::kittest::Queryable;
    use medallion::ui::Studio;

    let tmp = tempfile::tempdir().unwrap();
    let (_ws, mut h) = studio_with_audit_open(tmp.path());
    let limit = std::time::Duration::from_mins(2);
    let finished = |s: &Studio| match &s.audit.entries {
        Some(Ok(e)) => e
            .iter()
            .filter(|e| e.action.as_str() == "run_finished")
            .count(),
        _ => 0,
    };
    let before = finished(h.state());
    assert_eq!(before, 1, "the CLI's run");
    assert!(h.state_mut().materialize_all());
    wait_until(&mut h, "the studio's run to end", limit, |s| {
        s.run.as_ref().is_some_and(|r| r.done)
    });
    wait_until(&mut h, "the run's entries in the open window", limit, |s| {
        finished(s) == before + 1
    });
    let n = match &h.state().audit.entries {
        Some(Ok(e)) => e.len(),
        _ => 0,
    };
    h.run_steps(2);
    h.get_by_label(&format!("Entries (newest first, {n} shown)"));
}

/// Every file of the workspace (`ws.sqlite` and its `-wal`/`-shm` companions) as bytes.
fn workspace_bytes(ws: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = ws.parent().unwrap();
    let stem = ws.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&stem))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// With a real OS keyring: `secret set` and `secret delete` each leave an entry naming the
/// secret (listed with any project's entries, since a keyring secret belongs to the machine),
/// the chain verifies, and the value is nowhere in the audit log or the workspace file.
#[test]
fn secret_set_and_delete_are_audited_by_name_never_by_value() {
    if std::env::var("MEDALLION_TEST_PEERS").as_deref() != Ok("1") {
        eprintln!(
            "peer test not run: tests/run starts the keyring and sets MEDALLION_TEST_PEERS=1"
        );
        return;
    }
    let _guard = crate::common::KEYRING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("customer_analytics");
    copy_dir(&example(), &dir);
    let ws = tmp.path().join("ws.sqlite");
    let out = medallion(&ws, &["import", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let name = "medallion_test_audited_secret";
    let value = "audit-me-not-4b1d9e7c";
    let set = Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(["secret", "set", name])
        .env("MEDALLION_WORKSPACE", &ws)
        .env("USER", "auditor")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = set.stdin.as_ref().unwrap();
        stdin.write_all(value.as_bytes()).unwrap();
    }
    let out = set.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = medallion(&ws, &["secret", "delete", name]);
    assert!(out.status.success(), "{}", text(&out));
    // Deleting what is not there records nothing.
    let out = medallion(&ws, &["secret", "delete", name]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    let listed = medallion(&ws, &["audit", "customer_analytics", "--format", "json"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let entries = json(&listed);
    let secrets: Vec<(&str, &str)> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("secret_"))
        .map(|e| {
            assert_eq!(e["who"], "auditor", "{e}");
            assert_eq!(e["where"]["kind"], "local", "{e}");
            assert!(e["project"].is_null(), "{e}");
            (
                e["action"].as_str().unwrap(),
                e["subject"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        secrets,
        vec![("secret_deleted", name), ("secret_set", name)],
        "{entries:#}"
    );
    let text_listing = text(&medallion(&ws, &["audit", "customer_analytics"]));
    assert!(text_listing.contains("secret_set"), "{text_listing}");
    let out = medallion(&ws, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let mut seen = String::from_utf8_lossy(&listed.stdout).into_owned();
    seen.push_str(&text_listing);
    assert!(!seen.contains(value), "the value is in the audit listing");
    let files = workspace_bytes(&ws);
    assert!(!files.is_empty());
    for (path, bytes) in files {
        assert!(
            !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
            "the value is in {}",
            path.display()
        );
    }
}

/// Outputs written with `materialize --export-dir` are an `outputs_exported` entry naming the
/// directory.
#[test]
fn exported_outputs_are_recorded_with_their_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("customer_analytics");
    copy_dir(&example(), &dir);
    let ws = tmp.path().join("ws.sqlite");
    let out_dir = tmp.path().join("outputs");
    let out = medallion(
        &ws,
        &[
            "materialize",
            dir.to_str().unwrap(),
            "--select",
            "raw_orders",
            "--export-dir",
            out_dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let entries = json(&medallion(
        &ws,
        &[
            "audit",
            "customer_analytics",
            "--kind",
            "outputs_exported",
            "--format",
            "json",
        ],
    ));
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert_eq!(
        entries[0]["subject"],
        out_dir.to_str().unwrap(),
        "{}",
        entries[0]
    );
    assert_eq!(entries[0]["who"], "auditor");
}
