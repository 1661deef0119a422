//! `medallion diff` on the example: a customer whose e-mail changed and a new customer between
//! two materializations of `cleaned_customer_data`, matched by the asset's unique check; and the
//! sentences for a diff that cannot be made.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{self, json, text};

fn medallion(workspace: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(args)
        .env("MEDALLION_WORKSPACE", workspace)
        .env_remove("MEDALLION_LOG")
        .output()
        .expect("run medallion")
}

#[test]
fn a_diff_of_two_materializations_names_changed_and_new_rows_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let project = dir.path().join("customer_analytics");
    common::copy_dir(&common::example(), &project);
    let target = project.to_str().unwrap();
    let out = medallion(&ws, &["materialize", target]);
    assert!(out.status.success(), "{}", text(&out));

    // Only one materialization yet: nothing to compare with.
    let out = medallion(&ws, &["diff", target, "cleaned_customer_data"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(
            "asset cleaned_customer_data has 1 materialization(s); a diff needs two (materialize it again)"
        ),
        "{}",
        text(&out)
    );

    let csv = project.join("data/customers.csv");
    let before = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(
        before
            .matches("donna.garcia880@corp-mail.example.io")
            .count(),
        1
    );
    let after = before.replace(
        "donna.garcia880@corp-mail.example.io",
        "donna.garcia880@new-mail.example.io",
    ) + "99999,Zoe,Quinn,zoe.quinn@mail.example.org,2024-01-01T00:00:00,2024-01-01T00:00:00\n";
    std::fs::write(&csv, after).unwrap();
    let out = medallion(&ws, &["materialize", target]);
    assert!(out.status.success(), "{}", text(&out));

    let out = medallion(
        &ws,
        &["diff", target, "cleaned_customer_data", "--format", "json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let d = json(&out);
    assert_eq!(d["key"], serde_json::json!(["customer_id"]));
    assert_eq!(
        d["key_from"],
        "unique check cleaned_customer_data_unique_customer_id"
    );
    assert_eq!(
        d["rows_b"].as_u64().unwrap(),
        d["rows_a"].as_u64().unwrap() + 1
    );
    assert_eq!(
        (d["only_in_a"].as_u64(), d["only_in_b"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(d["changed"], 1);
    let email = d["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "email")
        .unwrap();
    assert_eq!(email["changed"], 1);
    assert_eq!(
        email["examples"][0],
        serde_json::json!({
            "key": [["customer_id", "880"]],
            "a": "donna.garcia880@corp-mail.example.io",
            "b": "donna.garcia880@new-mail.example.io"
        })
    );
    let new_row = &d["examples_only_in_b"][0];
    assert!(
        new_row
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(["customer_id", "99999"])),
        "{new_row}"
    );
    let runs = medallion(&ws, &["runs", "--format", "json"]);
    let runs = json(&runs);
    // The default compares the last two runs, older first (runs are listed newest first).
    assert_eq!(d["run_a"], runs[1]["id"]);
    assert_eq!(d["run_b"], runs[0]["id"]);

    // The same two runs named explicitly, in text.
    let (a, b) = (
        runs[1]["id"].as_str().unwrap(),
        runs[0]["id"].as_str().unwrap(),
    );
    let out = medallion(
        &ws,
        &["diff", target, "cleaned_customer_data", "--runs", a, b],
    );
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("email: 1 row(s) changed, e.g. customer_id=880: donna.garcia880@corp-mail.example.io → donna.garcia880@new-mail.example.io"),
        "{t}"
    );
    assert!(t.contains("only in A 0 · only in B 1 · changed 1"), "{t}");
    assert!(t.contains("compared in "), "{t}");

    // Reversed, the new customer is only in A.
    let out = medallion(
        &ws,
        &[
            "diff",
            target,
            "cleaned_customer_data",
            "--runs",
            b,
            a,
            "--format",
            "json",
        ],
    );
    assert_eq!(json(&out)["only_in_a"], 1);

    // A key that is not a column, and a run without the asset, are refused in one sentence.
    let out = medallion(
        &ws,
        &["diff", target, "cleaned_customer_data", "--key", "nope"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: asset cleaned_customer_data: key column `nope` is not in A"
    );
    let out = medallion(
        &ws,
        &[
            "diff",
            target,
            "cleaned_customer_data",
            "--runs",
            a,
            "no-such-run",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: run no-such-run has no materialization of asset cleaned_customer_data"
    );
    let out = medallion(&ws, &["diff", target, "nothing_here"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("has no asset `nothing_here`"),
        "{}",
        text(&out)
    );
}

/// The studio's "Compare with previous materialization" in Asset details: the same counts,
/// changed column with its example and new row as `medallion diff`, computed by the job
/// worker (the window shows a spinner until the answer arrives).
#[test]
fn asset_details_compares_with_the_previous_materialization_as_the_cli_does() {
    use egui_kittest::kittest::Queryable;
    use medallion::ui::Studio;

    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let project = dir.path().join("customer_analytics");
    common::copy_dir(&common::example(), &project);
    let target = project.to_str().unwrap();
    let out = medallion(&ws, &["materialize", target]);
    assert!(out.status.success(), "{}", text(&out));
    let stored = || {
        let w = medallion::app::open_workspace(&ws).unwrap();
        medallion::app::load_project(&w, "customer_analytics")
            .unwrap()
            .project
    };
    // One materialization: the button is there but cannot compare yet.
    {
        let mut h =
            crate::common::studio::harness(Studio::with_workspace(Some(stored()), &ws).unwrap());
        open_details(&mut h);
        h.get_by_label("Compare with previous materialization")
            .click();
        h.run_steps(2);
        assert!(h.state().windows.compare.is_none());
        h.state_mut().shut_down();
    }
    let csv = project.join("data/customers.csv");
    let before = std::fs::read_to_string(&csv).unwrap();
    let after = before.replace(
        "donna.garcia880@corp-mail.example.io",
        "donna.garcia880@new-mail.example.io",
    ) + "99999,Zoe,Quinn,zoe.quinn@mail.example.org,2024-01-01T00:00:00,2024-01-01T00:00:00\n";
    std::fs::write(&csv, after).unwrap();
    let out = medallion(&ws, &["materialize", target]);
    assert!(out.status.success(), "{}", text(&out));
    let cli = text(&medallion(&ws, &["diff", target, "cleaned_customer_data"]));

    let mut h =
        crate::common::studio::harness(Studio::with_workspace(Some(stored()), &ws).unwrap());
    open_details(&mut h);
    h.get_by_label("Compare with previous materialization")
        .click();
    h.run_steps(2);
    crate::common::studio::wait_until(&mut h, "the diff", std::time::Duration::from_mins(1), |s| {
        s.windows
            .compare
            .as_ref()
            .is_some_and(|c| c.result.is_some())
    });
    let d = match &h.state().windows.compare.as_ref().unwrap().result {
        Some(Ok(d)) => d.clone(),
        other => panic!("no diff: {other:?}"),
    };
    // The figures the window shows are the CLI's.
    assert!(
        cli.contains(&format!(
            "only in A {} · only in B {} · changed {}",
            d.diff.only_in_a, d.diff.only_in_b, d.diff.changed
        )),
        "{cli}"
    );
    assert!(
        cli.contains(&format!("run {} → run {}", d.run_a, d.run_b)),
        "{cli}"
    );
    h.get_by_label("Only in A: 0");
    h.get_by_label("Only in B: 1");
    h.get_by_label("Changed: 1");
    h.get_by_label_contains("Rows matched by customer_id");
    h.get_by_label("Changed columns");
    h.get_by_label(
        "customer_id=880: donna.garcia880@corp-mail.example.io → donna.garcia880@new-mail.example.io",
    );
    h.get_by_label_contains("customer_id=99999");
    h.get_by_label_contains("Compared in ");
}

/// Selects `cleaned_customer_data` and opens Asset details once its history has arrived.
fn open_details(h: &mut egui_kittest::Harness<'_, medallion::ui::Studio>) {
    use egui_kittest::kittest::Queryable;
    h.get_by_label("cleaned_customer_data").click();
    h.run_steps(2);
    h.get_by_label("Asset details").click();
    h.run_steps(2);
    crate::common::studio::wait_until(
        h,
        "the asset history",
        std::time::Duration::from_mins(1),
        |s| s.workbench.asset_history.is_some(),
    );
}

/// `medallion bench diff`: the figure for a table of many rows (printed, never asserted on
/// time); the counts it reports are the generated differences.
#[test]
fn bench_diff_prints_its_time_and_finds_the_generated_differences() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let out = medallion(
        &ws,
        &["bench", "diff", "--rows", "10000", "--format", "json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let v = json(&out);
    println!("{v}");
    // B lacks ids 0–9, adds 10000–10009, and bumps the amount of ids ending in 007 (1007 … 9007).
    assert_eq!(v["diff"]["only_in_a"], 10, "{v}");
    assert_eq!(v["diff"]["only_in_b"], 10, "{v}");
    assert_eq!(v["diff"]["changed"], 9, "{v}");
    assert_eq!(v["diff"]["unchanged"], 10_000 - 10 - 9, "{v}");
    assert!(v["ms"].as_f64().is_some(), "{v}");
    let out = medallion(&ws, &["bench", "diff", "--rows", "2000"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("compared in "), "{}", text(&out));
}

/// The compare window's pickers: any two of the asset's materializations (Run A, Run B) and
/// the key columns, as `medallion diff --runs A B --key COLS` — the same counts as the CLI.
#[test]
fn the_compare_window_picks_the_runs_and_the_key() {
    use egui_kittest::kittest::Queryable;
    use medallion::ui::Studio;

    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let project = dir.path().join("customer_analytics");
    common::copy_dir(&common::example(), &project);
    let target = project.to_str().unwrap();
    let csv = project.join("data/customers.csv");
    let v1 = std::fs::read_to_string(&csv).unwrap();
    let v2 = v1.replace(
        "donna.garcia880@corp-mail.example.io",
        "donna.garcia880@new-mail.example.io",
    );
    let v3 = v2.clone()
        + "99999,Zoe,Quinn,zoe.quinn@mail.example.org,2024-01-01T00:00:00,2024-01-01T00:00:00\n";
    for version in [&v1, &v2, &v3] {
        std::fs::write(&csv, version).unwrap();
        let out = medallion(&ws, &["materialize", target]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let stored = {
        let w = medallion::app::open_workspace(&ws).unwrap();
        medallion::app::load_project(&w, "customer_analytics")
            .unwrap()
            .project
    };
    let mut h = crate::common::studio::harness(Studio::with_workspace(Some(stored), &ws).unwrap());
    open_details(&mut h);
    h.get_by_label("Compare with previous materialization")
        .click();
    h.run_steps(2);
    let answered = |h: &mut egui_kittest::Harness<'_, Studio>| {
        crate::common::studio::wait_until(h, "the diff", std::time::Duration::from_mins(1), |s| {
            s.windows
                .compare
                .as_ref()
                .is_some_and(|c| c.result.is_some())
        });
        match &h.state().windows.compare.as_ref().unwrap().result {
            Some(Ok(d)) => d.clone(),
            other => panic!("no diff: {other:?}"),
        }
    };
    let d = answered(&mut h);
    let runs = h.state().windows.compare.as_ref().unwrap().runs.clone();
    assert_eq!(runs.len(), 3, "{runs:?}");
    // The default: the last two runs, by the unique check's key.
    assert_eq!((&d.run_a, &d.run_b), (&runs[1].run_id, &runs[2].run_id));
    assert_eq!((d.diff.only_in_b, d.diff.changed), (1, 0));

    // Run A: the first run.
    h.get_by_role_and_label(egui::accesskit::Role::ComboBox, "Run A")
        .click();
    h.run_steps(2);
    h.get_by_label(&format!("{} · {} rows", runs[0].run_id, runs[0].rows))
        .click();
    h.run_steps(2);
    h.get_by_label("Compare").click();
    h.run_steps(2);
    let d = answered(&mut h);
    assert_eq!((&d.run_a, &d.run_b), (&runs[0].run_id, &runs[2].run_id));
    assert_eq!(
        (d.diff.only_in_a, d.diff.only_in_b, d.diff.changed),
        (0, 1, 1)
    );
    let cli = text(&medallion(
        &ws,
        &[
            "diff",
            target,
            "cleaned_customer_data",
            "--runs",
            runs[0].run_id.as_str(),
            runs[2].run_id.as_str(),
        ],
    ));
    assert!(
        cli.contains("only in A 0 · only in B 1 · changed 1"),
        "{cli}"
    );

    // The key: without customer_id, whole rows are compared.
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Key columns")
        .click();
    h.run_steps(2);
    h.get_by_role_and_label(egui::accesskit::Role::CheckBox, "customer_id")
        .click();
    h.run_steps(2);
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Key columns")
        .click();
    h.run_steps(2);
    h.get_by_label("Compare").click();
    h.run_steps(2);
    let d = answered(&mut h);
    assert!(d.diff.key.is_empty(), "{:?}", d.diff.key);
    assert_eq!(
        (d.diff.only_in_a, d.diff.only_in_b, d.diff.changed),
        (1, 2, 0)
    );
    h.get_by_label_contains("Whole rows compared");
}
