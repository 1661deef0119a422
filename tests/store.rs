//! The `SQLite` workspace against real files: migrations from every earlier version, refusal of
//! files it must not touch, locking, and crash safety under SIGKILL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names
)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use medallion::format;
use medallion::model::synthetic;
use medallion::store::{MIGRATIONS, StoreError, Workspace};

fn example_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics")
}

#[test]
fn migrates_from_an_empty_file_and_from_every_earlier_version() {
    let example = format::read_project(&example_dir()).unwrap().project;
    let full_tables = {
        let tmp = tempfile::tempdir().unwrap();
        Workspace::open(&tmp.path().join("w.sqlite"))
            .unwrap()
            .table_names()
            .unwrap()
    };
    for tables in [
        "runs",
        "run_events",
        "materializations",
        "check_evaluations",
        "projects",
        "assets",
        "checks",
        "dependencies",
        "resources",
        "layout",
    ] {
        assert!(
            full_tables.iter().any(|t| t == tables),
            "{tables} missing from {full_tables:?}"
        );
    }
    for start in 0..MIGRATIONS.len() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("w.sqlite");
        {
            let mut ws = Workspace::open_at_version(&path, start).unwrap();
            assert_eq!(ws.schema_version().unwrap(), start as i64);
            // Versions that already hold projects keep them through later migrations.
            if start >= 1 {
                ws.save_project(&example, None).unwrap();
            }
        }
        let ws = Workspace::open(&path).unwrap();
        assert_eq!(ws.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert_eq!(
            ws.table_names().unwrap(),
            full_tables,
            "from version {start}"
        );
        assert_eq!(ws.integrity_check().unwrap(), "ok");
        if start >= 1 {
            // A version before the unit-tests column (17) could not store them.
            let mut expected = example.clone();
            if start < 17 {
                for a in &mut expected.assets {
                    a.tests.clear();
                }
            }
            assert_eq!(
                ws.load_project("customer_analytics").unwrap().project,
                expected
            );
        }
    }
}

fn sha(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn a_newer_workspace_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("w.sqlite");
    drop(Workspace::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let before = sha(&path);
    let err = Workspace::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("newer Medallion"), "{err}");
    assert_eq!(sha(&path), before);
}

#[test]
fn corrupt_and_foreign_files_are_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let garbage = tmp.path().join("garbage.sqlite");
    let bytes: Vec<u8> = (0..16_384u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&garbage, &bytes).unwrap();
    let err = Workspace::open(&garbage).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("damaged"), "{err}");
    assert_eq!(std::fs::read(&garbage).unwrap(), bytes);

    let foreign = tmp.path().join("foreign.sqlite");
    {
        let conn = rusqlite::Connection::open(&foreign).unwrap();
        conn.execute_batch("CREATE TABLE invoices (id INTEGER); INSERT INTO invoices VALUES (1);")
            .unwrap();
    }
    let before = sha(&foreign);
    let err = Workspace::open(&foreign).unwrap_err();
    assert!(matches!(err, StoreError::NotAWorkspace { .. }), "{err}");
    assert_eq!(sha(&foreign), before);

    // A real workspace whose pages were damaged after the header.
    let damaged = tmp.path().join("damaged.sqlite");
    {
        let mut ws = Workspace::open(&damaged).unwrap();
        ws.save_project(&synthetic::generate("big", 300, 1), None)
            .unwrap();
        drop(ws);
        let conn = rusqlite::Connection::open(&damaged).unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let mut bytes = std::fs::read(&damaged).unwrap();
    for b in bytes.iter_mut().skip(4096 * 2).take(4096 * 4) {
        *b = 0xA5;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    let result = Workspace::open(&damaged).and_then(|ws| {
        let check = ws.integrity_check()?;
        ws.load_project("big").map(|_| check)
    });
    match result {
        Err(StoreError::Corrupt { .. } | StoreError::Decode { .. }) => {}
        Ok(check) => assert_ne!(check, "ok", "damage went unnoticed"),
        Err(other) => panic!("unexpected error for a damaged file: {other}"),
    }
}

#[test]
fn a_locked_workspace_gives_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("w.sqlite");
    let mut ws = Workspace::open(&path).unwrap();
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE; INSERT INTO projects (name, description, schedules, revision, updated_at) VALUES ('x', '', '[]', 1, 'now');").unwrap();
    let started = Instant::now();
    let err = ws
        .save_project(&synthetic::generate("p", 10, 1), None)
        .unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains("locked by another process"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    holder.execute_batch("ROLLBACK").unwrap();
    ws.save_project(&synthetic::generate("p", 10, 1), None)
        .unwrap();
}

/// Kills `medallion import` with SIGKILL at many points while it saves, alternating two
/// versions of a large project. After each kill the file must be sound and hold the old or the
/// new project, never a mix.
#[test]
fn sigkill_during_save_never_leaves_a_mix() {
    let tmp = tempfile::tempdir().unwrap();
    let ws_path = tmp.path().join("w.sqlite");
    let versions: Vec<_> = (1..=2u64)
        .map(|seed| {
            let project = synthetic::generate("crash", 1500, seed);
            let dir = tmp.path().join(format!("v{seed}"));
            format::write_project(&project, &dir).unwrap();
            // What the workspace should hold after importing this directory.
            format::read_project(&dir).unwrap().project
        })
        .collect();
    assert_ne!(versions[0], versions[1]);
    let import = |version: usize| {
        Command::new(env!("CARGO_BIN_EXE_medallion"))
            .args([
                "--workspace",
                ws_path.to_str().unwrap(),
                "import",
                "--replace",
            ])
            .arg(tmp.path().join(format!("v{}", version + 1)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long one whole replacing import takes (what every round below does), to spread the
    // kills over it; measured on a replace, since the first import into an empty workspace is
    // quicker and kills timed by it could all land before any replace commits.
    assert!(import(0).wait().unwrap().success());
    let t = Instant::now();
    assert!(import(1).wait().unwrap().success());
    let full = t.elapsed();
    let mut outcomes = [0usize; 3];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for round in 0..40 {
        let version = round % 2;
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = full.mul_f64((state % 1000) as f64 / 1000.0 * 1.5);
        let mut child = import(version);
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        let ws = Workspace::open(&ws_path).unwrap();
        assert_eq!(ws.integrity_check().unwrap(), "ok", "round {round}");
        let stored = ws.load_project("crash").unwrap().project;
        let which = versions.iter().position(|v| *v == stored);
        assert!(
            which.is_some(),
            "round {round}: the workspace holds a mix of two saves"
        );
        outcomes[which.unwrap()] += 1;
        if !status.success() {
            outcomes[2] += 1;
        }
    }
    eprintln!(
        "outcomes (old-or-new landed: v1, v2; killed): {outcomes:?}, one import took {full:?}"
    );
    // The kills must really have interrupted some saves, and both versions must have landed.
    assert!(
        outcomes[2] >= 10,
        "only {} of 40 imports were killed: {outcomes:?}",
        outcomes[2]
    );
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

#[test]
fn many_openers_of_a_new_workspace_migrate_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("w.sqlite");
    let results: Vec<Result<i64, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    Workspace::open(&path)
                        .and_then(|ws| ws.schema_version())
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in results {
        assert_eq!(r, Ok(MIGRATIONS.len() as i64));
    }
    assert_eq!(
        Workspace::open(&path).unwrap().integrity_check().unwrap(),
        "ok"
    );
}

/// Two handles on one workspace file, as two studio windows (or a window and the CLI) have:
/// the save that started from an older revision is refused, naming both revisions, and writes
/// nothing.
#[test]
fn a_save_based_on_an_older_revision_is_refused_with_both_revisions() {
    use medallion::store::SaveBase;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("w.sqlite");
    let mut first = Workspace::open(&path).unwrap();
    let mut second = Workspace::open(&path).unwrap();
    let example = format::read_project(&example_dir()).unwrap().project;
    assert_eq!(first.save_project_at(&example, SaveBase::New).unwrap(), 1);

    // Both load revision 1; the second window saves twice.
    let base = first.load_project("customer_analytics").unwrap().revision;
    let mut theirs = second.load_project("customer_analytics").unwrap().project;
    theirs.description = "theirs".into();
    assert_eq!(
        second
            .save_project_at(&theirs, SaveBase::Revision(1))
            .unwrap(),
        2
    );
    theirs.description = "theirs, again".into();
    assert_eq!(
        second
            .save_project_at(&theirs, SaveBase::Revision(2))
            .unwrap(),
        3
    );
    assert!(second.data_version().is_ok());

    let mut mine = example.clone();
    mine.description = "mine".into();
    let err = first
        .save_project_at(&mine, SaveBase::Revision(base))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                stored: 3,
                base: SaveBase::Revision(1),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "project customer_analytics was changed by another window or command (revision 3, yours is based on 1); reload or save as a copy"
    );
    let stored = first.load_project("customer_analytics").unwrap();
    assert_eq!(
        (stored.revision, stored.project.description.as_str()),
        (3, "theirs, again")
    );

    // A new project of a name another window created meanwhile is refused too.
    let err = first.save_project_at(&mine, SaveBase::New).unwrap_err();
    assert!(
        err.to_string().contains("(revision 3, yours is new)"),
        "{err}"
    );
    // Based on the newest revision, the save lands.
    assert_eq!(
        first.save_project_at(&mine, SaveBase::Revision(3)).unwrap(),
        4
    );
    assert_eq!(
        second.project_revision("customer_analytics").unwrap(),
        Some(4)
    );
}

/// `PRAGMA data_version` moves when another connection commits, not for this one's own.
#[test]
fn the_data_version_tells_outside_commits_from_our_own() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("w.sqlite");
    let mut mine = Workspace::open(&path).unwrap();
    let mut other = Workspace::open(&path).unwrap();
    let v0 = mine.data_version().unwrap();
    mine.save_project(&synthetic::generate("p", 5, 1), None)
        .unwrap();
    assert_eq!(mine.data_version().unwrap(), v0);
    other
        .save_project(&synthetic::generate("p", 5, 2), None)
        .unwrap();
    assert_ne!(mine.data_version().unwrap(), v0);
}

/// An import records the revision it wrote; an edit after it does not.
#[test]
fn imports_record_their_revision_and_edits_do_not() {
    use medallion::store::SaveBase;
    let tmp = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(&tmp.path().join("w.sqlite")).unwrap();
    let p = synthetic::generate("p", 5, 1);
    ws.save_project(&p, Some(tmp.path())).unwrap();
    let stored = ws.load_project("p").unwrap();
    assert_eq!((stored.revision, stored.imported_revision), (1, Some(1)));
    ws.save_project_at(&p, SaveBase::Revision(1)).unwrap();
    let stored = ws.load_project("p").unwrap();
    assert_eq!((stored.revision, stored.imported_revision), (2, Some(1)));
    // The directory found to match revision 2 (an import with nothing to change).
    ws.mark_imported("p", 2, tmp.path()).unwrap();
    assert_eq!(ws.load_project("p").unwrap().imported_revision, Some(2));
}
