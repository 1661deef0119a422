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
