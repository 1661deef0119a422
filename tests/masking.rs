//! Masking of personal data through the binary: with policies bound to the example's PII
//! tags, no raw e-mail or name of the example's customers appears in previews, check samples,
//! profiles, reports (HTML and JSON), logs, run events or the workspace file — and the same
//! scan finds them when the policies are removed, so it can fail. Also the `compliance` gate's
//! exit codes, tags inherited through lineage, file errors and the audit entry of a change.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{copy_dir, example, json, text};

fn medallion(workspace: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(args)
        .env("MEDALLION_WORKSPACE", workspace)
        .env("MEDALLION_LOG", "debug")
        .output()
        .expect("run medallion")
}

const POLICIES: &str = r#"
[masking.email]
policy = "partial"

[masking.name]
policy = "redact"
"#;

/// A check that fails on every row, so samples of whole rows are stored.
const FAILING_CHECK: &str = r#"
[[assets.cleaned_customer_data.checks]]
name = "every_row_fails"
kind = "expression"
predicate = "customer_id < 0"
severity = "warn"
"#;

/// The example in `tmp/NAME`: the silver asset's own tags removed (its columns inherit them
/// through lineage), a failing warn check added, and the policies when asked.
fn project(tmp: &Path, name: &str, policies: bool) -> PathBuf {
    let dir = tmp.join(name);
    copy_dir(&example(), &dir);
    let file = dir.join("medallion.toml");
    let toml = std::fs::read_to_string(&file).unwrap();
    let declared = "pii = { email = \"email\", first_name = \"name\", last_name = \"name\" }\n";
    let (head, tail) = toml.split_once("[assets.cleaned_customer_data]").unwrap();
    let tail = tail.replacen(declared, "", 1);
    assert_ne!(
        tail,
        toml.split_once("[assets.cleaned_customer_data]").unwrap().1
    );
    let (project_header, rest) = head.split_once("\n\n").unwrap();
    let mut out = format!("{project_header}\n");
    if policies {
        out.push_str(POLICIES);
    }
    out.push('\n');
    out.push_str(rest);
    out.push_str("[assets.cleaned_customer_data]");
    out.push_str(&tail);
    out.push_str(FAILING_CHECK);
    std::fs::write(&file, out).unwrap();
    dir
}

/// Every raw e-mail (as written, trimmed and lower-cased) and every name of 6 or more letters
/// (as written and title-cased) of the example's customers.
fn raw_values() -> BTreeSet<String> {
    let csv = std::fs::read_to_string(example().join("data/customers.csv")).unwrap();
    let mut out = BTreeSet::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let email = f[3].trim();
        if email.contains('@') {
            out.insert(email.to_owned());
            out.insert(email.to_lowercase());
        }
        for name in &f[1..3] {
            let name = name.trim();
            if name.len() >= 6 && name.chars().all(char::is_alphabetic) {
                out.insert(name.to_owned());
                let mut t = name.to_lowercase();
                t[..1].make_ascii_uppercase();
                out.insert(t);
            }
        }
    }
    assert!(out.len() > 500, "only {} values", out.len());
    out
}

/// Runs the example, previews, reports and the run's events; returns every place (output or
/// file) and the raw values found in it.
fn leaks(tmp: &Path, policies: bool) -> Vec<String> {
    let dir = project(tmp, "customer_analytics", policies);
    let ws = tmp.join("ws.sqlite");
    let mut captured = Vec::new();
    let mut run = |args: &[&str]| {
        let out = medallion(&ws, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        captured.push((args.join(" "), text(&out)));
        out
    };
    run(&["materialize", dir.to_str().unwrap(), "--select", "*"]);
    for asset in ["raw_customer_data", "cleaned_customer_data"] {
        run(&["preview", "customer_analytics", asset, "--format", "json"]);
        run(&["preview", "customer_analytics", asset]);
    }
    let runs = json(&run(&["runs", "--format", "json"]));
    let run_id = runs[0]["id"].as_str().unwrap().to_owned();
    let (html, report) = (tmp.join("report.html"), tmp.join("report.json"));
    run(&[
        "report",
        &run_id,
        "--html",
        html.to_str().unwrap(),
        "--json",
        report.to_str().unwrap(),
    ]);
    // One customer's e-mail changes: the data diff's examples hold the old and new rows.
    let csv = dir.join("data/customers.csv");
    let data = std::fs::read_to_string(&csv).unwrap();
    let second = data.lines().nth(1).unwrap();
    let email = second.split(',').nth(3).unwrap();
    std::fs::write(&csv, data.replacen(email, "changed.person@example.org", 1)).unwrap();
    run(&[
        "materialize",
        "customer_analytics",
        "--select",
        "raw_customer_data",
    ]);
    let diff = run(&[
        "diff",
        "customer_analytics",
        "raw_customer_data",
        "--format",
        "json",
    ]);
    let shown = if policies {
        "***@example.org"
    } else {
        "changed.person@example.org"
    };
    assert!(
        String::from_utf8_lossy(&diff.stdout).contains(shown),
        "{}",
        text(&diff)
    );
    // The report holds failing samples of whole rows and the profiles' top values.
    let r = std::fs::read_to_string(&report).unwrap();
    assert!(r.contains("every_row_fails"), "{r}");
    let mut files = vec![html, report];
    for e in std::fs::read_dir(tmp).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().contains("ws.sqlite") {
            files.push(p);
        }
    }
    let values = raw_values();
    let mut found = Vec::new();
    for (what, out) in &captured {
        if let Some(v) = values.iter().find(|v| out.contains(v.as_str())) {
            found.push(format!("output of `{what}`: {v}"));
        }
    }
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        if let Some(v) = values
            .iter()
            .find(|v| bytes.windows(v.len()).any(|w| w == v.as_bytes()))
        {
            found.push(format!("{}: {v}", f.display()));
        }
    }
    found
}

#[test]
fn with_policies_no_raw_value_appears_anywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let found = leaks(tmp.path(), true);
    assert!(
        found.is_empty(),
        "raw personal data leaked:\n{}",
        found.join("\n")
    );
}

#[test]
fn without_policies_the_scan_finds_raw_values() {
    let tmp = tempfile::tempdir().unwrap();
    let found = leaks(tmp.path(), false);
    for place in [
        "preview customer_analytics raw_customer_data",
        "report.json",
        "ws.sqlite",
    ] {
        assert!(
            found.iter().any(|f| f.contains(place)),
            "the scan found nothing in {place}: {found:?}"
        );
    }
}

#[test]
fn previews_show_masked_values_and_partial_keeps_the_domain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = project(tmp.path(), "customer_analytics", true);
    let ws = tmp.path().join("ws.sqlite");
    let out = medallion(
        &ws,
        &[
            "preview",
            dir.to_str().unwrap(),
            "cleaned_customer_data",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let p = json(&out);
    let names: Vec<&str> = p["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let at = |n: &str| names.iter().position(|c| *c == n).unwrap();
    let row = &p["rows"][0];
    let email = row[at("email")].as_str().unwrap();
    assert!(
        email.starts_with("***@") && email.contains("example."),
        "{email}"
    );
    assert_eq!(row[at("first_name")], "[redacted]");
    assert_eq!(row[at("last_name")], "[redacted]");
    // Other columns are untouched.
    assert!(
        row[at("customer_id")]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
}

/// A transform that fails on an e-mail column: polars quotes the values it could not convert
/// (`… for 494 out of 494 values: ["jane@…", …]`). With policies, none of them may reach the
/// output, the run's events or the workspace, while the message still says what failed.
#[test]
fn a_failed_cast_of_a_tagged_column_quotes_no_raw_value() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = project(tmp.path(), "customer_analytics", true);
    let file = dir.join("medallion.toml");
    let mut toml = std::fs::read_to_string(&file).unwrap();
    toml.push_str(
        "\n[assets.bad_cast]\nlayer = \"gold\"\nsql = \"SELECT CAST(email AS BIGINT) AS e FROM cleaned_customer_data\"\n",
    );
    std::fs::write(&file, toml).unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let out = medallion(
        &ws,
        &["materialize", dir.to_str().unwrap(), "--select", "*"],
    );
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("conversion from `str` to `i64` failed in column 'email'"),
        "{said}"
    );
    assert!(said.contains("[value hidden]"), "{said}");
    let values = raw_values();
    if let Some(v) = values.iter().find(|v| said.contains(v.as_str())) {
        panic!("the output shows {v}: {said}");
    }
    for e in std::fs::read_dir(tmp.path()).unwrap() {
        let p = e.unwrap().path();
        if !p.to_string_lossy().contains("ws.sqlite") {
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        if let Some(v) = values
            .iter()
            .find(|v| bytes.windows(v.len()).any(|w| w == v.as_bytes()))
        {
            panic!("{} holds {v}", p.display());
        }
    }
}

fn compliance(ws: &Path, dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["compliance", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    medallion(ws, &args)
}

#[test]
fn compliance_exits_1_on_an_unmasked_tagged_column_and_0_when_covered() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let bare = project(tmp.path(), "bare", false);
    let out = compliance(&ws, &bare, &["--fail-on", "unmasked", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json(&out);
    let unmasked: Vec<&str> = report["unmasked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    assert!(unmasked.contains(&"email"), "{report}");
    assert!(
        text(&out).contains("without a masking policy"),
        "{}",
        text(&out)
    );
    // Without --fail-on the report is printed and the exit is 0.
    let out = compliance(&ws, &bare, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("NO POLICY"), "{}", text(&out));

    let covered = project(tmp.path(), "covered", true);
    let out = compliance(
        &ws,
        &covered,
        &["--fail-on", "unmasked", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = json(&out);
    assert_eq!(report["unmasked"], serde_json::json!([]));
    // The silver asset's columns are not tagged in the file: they inherit through lineage.
    let silver = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["column"]["asset"] == "cleaned_customer_data" && c["column"]["column"] == "email"
        })
        .unwrap_or_else(|| panic!("no inherited silver e-mail: {report}"));
    assert_eq!(silver["origin"], "inherited");
    assert_eq!(silver["from"][0]["asset"], "raw_customer_data");
    assert_eq!(silver["policy"]["policy"], "partial");
    let raw = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"]["asset"] == "raw_customer_data" && c["column"]["column"] == "email")
        .unwrap();
    assert!(
        raw["feeds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["asset"] == "cleaned_customer_data"),
        "{raw}"
    );
    // No tag flows into a count or a sum: the gold assets hold no personal data.
    assert!(
        !report["columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["column"]["asset"] == "customer_lifetime_value"),
        "{report}"
    );
}

#[test]
fn a_bad_masking_section_is_one_sentence_naming_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = project(tmp.path(), "bad", true);
    let file = dir.join("medallion.toml");
    let toml = std::fs::read_to_string(&file).unwrap().replace(
        "[masking.name]\npolicy = \"redact\"",
        "[masking.nmae]\npolicy = \"scramble\"",
    );
    std::fs::write(&file, toml).unwrap();
    let out = medallion(
        &tmp.path().join("ws.sqlite"),
        &["validate", dir.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("medallion.toml:"), "{t}");
    assert!(t.contains("`nmae` is not a PII tag"), "{t}");
    assert!(!t.contains("panicked"), "{t}");
}

#[test]
fn a_changed_masking_policy_is_in_the_audit_log() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = project(tmp.path(), "customer_analytics", true);
    let p = dir.to_str().unwrap();
    let out = medallion(&ws, &["import", p]);
    assert!(out.status.success(), "{}", text(&out));
    let file = dir.join("medallion.toml");
    let toml = std::fs::read_to_string(&file)
        .unwrap()
        .replace("policy = \"redact\"", "policy = \"null\"");
    std::fs::write(&file, toml).unwrap();
    let out = medallion(&ws, &["import", p, "--replace"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = medallion(
        &ws,
        &[
            "audit",
            "customer_analytics",
            "--kind",
            "masking_changed",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let entries = json(&out);
    let changes: Vec<(String, String)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["subject"].as_str().unwrap().to_owned(),
                e["detail"]["change"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        changes.contains(&("name".into(), "changed".into())),
        "{changes:?}"
    );
    assert!(
        changes.contains(&("email".into(), "added".into())),
        "{changes:?}"
    );
    let out = medallion(&ws, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

use crate::common::peers;

fn key_in_keyring(project: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            "medallion",
            "username",
            &format!("medallion.masking.{project}"),
        ])
        .output()
        .expect("run secret-tool");
    let key = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !key.is_empty()).then_some(key)
}

/// `hash` with masked outputs: the key is created in the OS keyring on first use (and is
/// nowhere else), equal values hash equally across assets and runs, so a join on hashed
/// e-mails finds its rows.
#[test]
fn hashed_outputs_use_a_keyring_key_made_on_first_use_and_still_join() {
    if !peers() {
        return;
    }
    let _guard = crate::common::KEYRING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tmp = tempfile::tempdir().unwrap();
    let name = format!("mask_hash_{}", std::process::id());
    let _ = Command::new("secret-tool")
        .args([
            "clear",
            "service",
            "medallion",
            "username",
            &format!("medallion.masking.{name}"),
        ])
        .status();
    assert_eq!(key_in_keyring(&name), None);
    let dir = project(tmp.path(), &name, false);
    let file = dir.join("medallion.toml");
    let toml = std::fs::read_to_string(&file)
        .unwrap()
        .replacen(
            "name = \"customer_analytics\"",
            &format!("name = \"{name}\""),
            1,
        )
        .replacen(
            "\n\n",
            "\n\n[masking.email]\npolicy = \"hash\"\noutputs = [\"local\"]\n\n",
            1,
        );
    let extra = r#"
[assets.contacts]
layer = "silver"
sql = "SELECT customer_id, lower(trim(email)) AS email FROM raw_customer_data"

[assets.matched]
layer = "gold"
sql = "SELECT c.customer_id FROM cleaned_customer_data AS c JOIN contacts AS k ON c.email = k.email AND c.customer_id = k.customer_id"
"#;
    std::fs::write(&file, format!("{toml}{extra}")).unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let out = medallion(
        &ws,
        &["materialize", dir.to_str().unwrap(), "--select", "*"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let key = key_in_keyring(&name).expect("the key was created in the keyring");
    assert_eq!(key.len(), 64);
    let ws_bytes = std::fs::read(&ws).unwrap();
    assert!(
        !ws_bytes.windows(key.len()).any(|w| w == key.as_bytes()),
        "the key is in the workspace"
    );
    let emails = |ws: &Path| -> Vec<String> {
        let p = json(&medallion(
            ws,
            &[
                "preview",
                &name,
                "cleaned_customer_data",
                "--limit",
                "5",
                "--format",
                "json",
            ],
        ));
        let at = p["columns"]
            .as_array()
            .unwrap()
            .iter()
            .position(|c| c["name"] == "email")
            .unwrap();
        p["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[at].as_str().unwrap().to_owned())
            .collect()
    };
    let first = emails(&ws);
    assert!(
        first
            .iter()
            .all(|e| e.len() == 64 && e.chars().all(|c| c.is_ascii_hexdigit())),
        "{first:?}"
    );
    let count = |asset: &str| {
        json(&medallion(
            &ws,
            &[
                "preview", &name, asset, "--limit", "100000", "--format", "json",
            ],
        ))["rows"]
            .as_array()
            .unwrap()
            .len()
    };
    let (cleaned, matched) = (count("cleaned_customer_data"), count("matched"));
    assert!(cleaned > 100, "{cleaned}");
    assert!(
        matched >= cleaned,
        "the join on hashed e-mails lost rows: {matched} < {cleaned}"
    );
    // Another run with the same key hashes the same way.
    let out = medallion(&ws, &["materialize", &name, "--select", "*", "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(emails(&ws), first);
    assert_eq!(key_in_keyring(&name).as_deref(), Some(key.as_str()));
}

/// The studio's preview of a masked project: "Show unmasked…" only asks; "Show unmasked"
/// shows raw values and is in the audit log; "Mask again" masks them again.
#[test]
fn the_studio_shows_unmasked_values_only_after_a_confirmation_recorded_in_the_audit_log() {
    use crate::common::studio::{harness, wait_until};
    use egui_kittest::kittest::Queryable as _;
    use medallion::ui::Studio;
    let tmp = tempfile::tempdir().unwrap();
    let dir = project(tmp.path(), "customer_analytics", true);
    let path = tmp.path().join("ws.sqlite");
    let mut ws = medallion::app::open_workspace(&path).unwrap();
    let report = medallion::app::import_project(&mut ws, &dir, true, false).unwrap();
    let project = medallion::app::load_project(&ws, &report.name)
        .unwrap()
        .project;
    drop(ws);
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    let limit = std::time::Duration::from_mins(3);
    let first_email = |s: &Studio| -> Option<String> {
        let p = s.workbench.preview.data.as_ref()?;
        let at = p.columns.iter().position(|c| c.name == "email")?;
        p.rows.cell(0, at).map(str::to_owned)
    };
    h.get_by_label("cleaned_customer_data").click();
    h.run_steps(2);
    h.get_by_label("Preview").click();
    h.run_steps(2);
    wait_until(&mut h, "the masked preview", limit, |s| {
        s.workbench.preview.loading.is_none() && s.workbench.preview.data.is_some()
    });
    let masked = first_email(h.state()).unwrap();
    assert!(masked.starts_with("***@"), "{masked}");
    let shown = |ws: &Path| {
        json(&medallion(
            ws,
            &[
                "audit",
                "customer_analytics",
                "--kind",
                "unmasked_shown",
                "--format",
                "json",
            ],
        ))
        .as_array()
        .unwrap()
        .len()
    };
    h.get_by_label("Show unmasked…").click();
    h.run_steps(3);
    // Asking is not showing: still masked, nothing recorded.
    assert_eq!(first_email(h.state()).as_deref(), Some(masked.as_str()));
    assert_eq!(shown(&path), 0);
    h.get_by_label("Show unmasked").click();
    h.run_steps(2);
    wait_until(&mut h, "the unmasked preview", limit, |s| {
        s.workbench.preview.loading.is_none()
            && first_email(s).is_some_and(|e| !e.starts_with("***"))
    });
    let raw = first_email(h.state()).unwrap();
    assert!(
        raw.contains('@') && raw.ends_with(&masked[4..]),
        "{raw} vs {masked}"
    );
    h.get_by_label_contains("UNMASKED");
    assert_eq!(shown(&path), 1);
    h.get_by_label("Mask again").click();
    h.run_steps(2);
    wait_until(&mut h, "the masked preview again", limit, |s| {
        s.workbench.preview.loading.is_none()
            && first_email(s).is_some_and(|e| e.starts_with("***@"))
    });
    assert_eq!(shown(&path), 1);
}
