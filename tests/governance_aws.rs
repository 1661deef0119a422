//! Governance on AWS, against moto with the Lambda front (`support/lambda_front.rs`) running
//! the real runner: a remote run with masking policies for `remote` outputs writes masked
//! values to S3 and stores masked events; `hash` on a remote output fails the step in one
//! sentence (the key never leaves the keyring); and every audit entry of a remote run names
//! the AWS account STS gives (moto's 123456789012), or says it is unknown when STS refuses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use crate::remote_aws::{Setup, json, medallion, peers, text};
use crate::support::lambda_front::LambdaFront;

/// Moto's account for every caller.
const MOTO_ACCOUNT: &str = "123456789012";

/// A check that fails on every row, so whole rows are stored as failing samples.
const FAILING_CHECK: &str = r#"
[[assets.cleaned_customer_data.checks]]
name = "every_row_fails"
kind = "expression"
predicate = "customer_id < 0"
severity = "warn"
"#;

/// The example on Lambda behind `front`, with `masking` appended to its project file.
fn project(setup: &Setup, front: &LambdaFront, tmp: &Path, masking: &str) -> PathBuf {
    let dir = setup.copy_project_via(&crate::common::example(), tmp, &front.url);
    let toml = dir.join("medallion.toml");
    let mut text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace("timeout_secs = 300", "timeout_secs = 60");
    text.push_str(masking);
    text.push_str(FAILING_CHECK);
    std::fs::write(&toml, text).unwrap();
    dir
}

fn submit(ws: &Path, moto: &str, dir: &Path) -> (Option<i32>, serde_json::Value, String) {
    let o = medallion(
        ws,
        moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--tier",
            "lambda",
            "--format",
            "json",
        ],
    );
    (o.status.code(), json(&o), text(&o))
}

/// The example's raw e-mails, as written and trimmed.
fn raw_emails() -> BTreeSet<String> {
    let csv = std::fs::read_to_string(crate::common::example().join("data/customers.csv")).unwrap();
    let mut out = BTreeSet::new();
    for line in csv.lines().skip(1) {
        let email = line.split(',').nth(3).unwrap().trim();
        if email.contains('@') {
            out.insert(email.to_owned());
            out.insert(email.to_lowercase());
        }
    }
    assert!(out.len() > 500, "{} e-mails", out.len());
    out
}

/// The run's two audit entries (started, finished) as JSON.
fn run_entries(ws: &Path, moto: &str, run_id: &str) -> Vec<serde_json::Value> {
    let all = json(&medallion(
        ws,
        moto,
        &["audit", "customer_analytics", "--format", "json"],
    ));
    let entries: Vec<serde_json::Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == run_id)
        .cloned()
        .collect();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["run_finished", "run_started"], "{all:#}");
    entries
}

/// Every file of the workspace (`ws.sqlite` and its companions) as text.
fn workspace_text(ws: &Path) -> String {
    let stem = ws.file_name().unwrap().to_string_lossy().into_owned();
    let mut out = String::new();
    for e in std::fs::read_dir(ws.parent().unwrap()).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with(&stem) {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    out
}

/// The CSV of a materialization of the run, read back from S3.
fn output_csv(setup: &Setup, report: &serde_json::Value, asset: &str, tmp: &Path) -> String {
    let m = report["materializations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["asset"] == asset)
        .unwrap_or_else(|| panic!("no materialization of {asset}: {report:#}"))
        .clone();
    let location = m["location"].as_str().unwrap().to_owned();
    assert!(location.starts_with("s3://"), "{location}");
    let local = tmp.join(format!("{asset}.download.parquet"));
    std::fs::write(&local, setup.get(&location)).unwrap();
    let mut m: medallion::model::AssetMaterialization = serde_json::from_value(m).unwrap();
    m.location = local.to_string_lossy().into_owned();
    let (_, csv) = medallion::engine::export_materialization(&m, &tmp.join("out"), None).unwrap();
    std::fs::read_to_string(csv).unwrap()
}

/// Every message in moto's `/aws/lambda/…` log groups, one per line.
fn cloudwatch_text(moto: &str) -> String {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&crate::support::aws_executor::sdk_config(moto));
    let rt = crate::support::aws_executor::runtime();
    let groups = rt
        .block_on(
            logs.describe_log_groups()
                .log_group_name_prefix("/aws/lambda/")
                .send(),
        )
        .unwrap();
    let mut out = String::new();
    for g in groups.log_groups() {
        let name = g.log_group_name().unwrap();
        let mut token = None;
        loop {
            let page = rt
                .block_on(
                    logs.filter_log_events()
                        .log_group_name(name)
                        .set_next_token(token.clone())
                        .send(),
                )
                .unwrap();
            for e in page.events() {
                out.push_str(e.message().unwrap_or_default());
                out.push('\n');
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() || page.events().is_empty() {
                break;
            }
        }
    }
    out
}

#[test]
fn a_remote_run_writes_masked_outputs_stores_masked_events_and_names_the_account() {
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "govmask");
    let front = LambdaFront::start(&moto);
    let tmp = tempfile::tempdir().unwrap();
    let masking = r#"
[masking.email]
policy = "partial"
outputs = ["remote"]

[masking.name]
policy = "redact"
outputs = ["remote"]
"#;
    let dir = project(&setup, &front, tmp.path(), masking);
    let ws = tmp.path().join("ws.sqlite");
    let (code, report, out) = submit(&ws, &moto, &dir);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(report["status"], "success", "{report:#}");
    let raw = raw_emails();

    // The silver output in S3 holds masked values only; the bronze output stays raw
    // (no `bronze = true`), which shows the check can find raw values.
    let silver = output_csv(&setup, &report, "cleaned_customer_data", tmp.path());
    let mut lines = silver.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let email = header.iter().position(|c| *c == "email").unwrap();
    let first = header.iter().position(|c| *c == "first_name").unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 100, "{} rows", rows.len());
    for r in &rows {
        assert!(
            r[email].is_empty() || r[email].starts_with("***@"),
            "{}",
            r[email]
        );
        assert!(
            r[first].is_empty() || r[first] == "[redacted]",
            "{}",
            r[first]
        );
    }
    assert!(rows.iter().any(|r| r[first] == "[redacted]"));
    assert!(raw.iter().all(|e| !silver.contains(e.as_str())));
    let bronze = output_csv(&setup, &report, "raw_customer_data", tmp.path());
    assert!(
        raw.iter().any(|e| bronze.contains(e.as_str())),
        "bronze is stored raw"
    );

    // Stored events (profiles, the failing check's sample rows) are masked.
    let run_id = report["run_id"].as_str().unwrap();
    let samples = text(&medallion(&ws, &moto, &["logs", run_id]));
    let stored = workspace_text(&ws);
    assert!(stored.contains("***@"), "masked values are stored");
    for e in &raw {
        assert!(!stored.contains(e.as_str()), "{e} is in the workspace");
        assert!(!samples.contains(e.as_str()), "{e} is in the logs");
    }

    // What the runner printed, which Lambda (like ECS, Batch and EKS) ships to CloudWatch
    // Logs in the account, is masked too: the bronze profile's minimum and maximum e-mail
    // and the failing samples are masked in the runner, before they are written.
    let shipped = cloudwatch_text(&moto);
    assert!(
        shipped.contains("\"profile\""),
        "the runner's lines reached CloudWatch"
    );
    assert!(
        shipped.contains("***@"),
        "masked values are in the runner's lines"
    );
    for e in &raw {
        assert!(!shipped.contains(e.as_str()), "{e} is in CloudWatch Logs");
    }

    // The audit entries name where it ran: the account from STS.
    assert!(front.sts_calls.load(Ordering::SeqCst) >= 1);
    let entries = run_entries(&ws, &moto, run_id);
    // Costs: the run's start has the estimate (recorded with the run), its end the same
    // estimate and what its steps measured.
    assert!(entries[1]["actual_usd"].is_null(), "{}", entries[1]);
    let (estimated, actual) = (
        entries[0]["estimated_usd"].as_f64(),
        entries[0]["actual_usd"].as_f64(),
    );
    assert!(estimated.is_some_and(|c| c > 0.0), "{}", entries[0]);
    assert_eq!(
        entries[1]["estimated_usd"].as_f64(),
        estimated,
        "{}",
        entries[1]
    );
    assert!(actual.is_some_and(|c| c > 0.0), "{}", entries[0]);
    assert_eq!(entries[0]["detail"]["status"], "success", "{}", entries[0]);
    for e in entries {
        let place = &e["where"];
        assert_eq!(place["kind"], "aws", "{e}");
        assert_eq!(place["account"], MOTO_ACCOUNT, "{e}");
        assert_eq!(place["resource"], "aws", "{e}");
        assert_eq!(place["region"], "us-east-1", "{e}");
        assert_eq!(place["tier"], "lambda", "{e}");
    }
    let listing = text(&medallion(&ws, &moto, &["audit", "customer_analytics"]));
    assert!(
        listing.contains(&format!("account {MOTO_ACCOUNT}")),
        "{listing}"
    );
}

#[test]
fn hash_on_a_remote_output_fails_the_step_and_a_refused_sts_leaves_the_account_unknown() {
    let Some(moto) = peers() else { return };
    // The hash key is read from (or made in) the keyring before anything is recorded.
    let _guard = crate::common::KEYRING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let setup = Setup::new(&moto, "govhash");
    let front = LambdaFront::start(&moto);
    front.refuse_sts.store(true, Ordering::SeqCst);
    let tmp = tempfile::tempdir().unwrap();
    let masking = r#"
[masking.email]
policy = "hash"
outputs = ["remote"]
"#;
    let dir = project(&setup, &front, tmp.path(), masking);
    let ws = tmp.path().join("ws.sqlite");
    let (code, report, out) = submit(&ws, &moto, &dir);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(report["status"], "failure", "{report:#}");
    let error = report["error"].as_str().unwrap();
    assert!(
        error.contains("a remote output cannot be hashed"),
        "{error}"
    );
    assert!(error.contains("cleaned_customer_data"), "{error}");
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(!out.contains("NoKey"), "{out}");

    // STS said no: the entries say the account is unknown, never a guess.
    assert!(front.sts_calls.load(Ordering::SeqCst) >= 1);
    let run_id = report["run_id"].as_str().unwrap();
    for e in run_entries(&ws, &moto, run_id) {
        assert_eq!(e["where"]["kind"], "aws", "{e}");
        assert!(e["where"]["account"].is_null(), "{e}");
    }
    let listing = text(&medallion(&ws, &moto, &["audit", "customer_analytics"]));
    assert!(listing.contains("account unknown"), "{listing}");
    assert!(!listing.contains(MOTO_ACCOUNT), "{listing}");
    clear_masking_key();
}

/// Removes the example's masking key from the test keyring (made on first use above).
fn clear_masking_key() {
    let _ = std::process::Command::new("secret-tool")
        .args([
            "clear",
            "service",
            "medallion",
            "username",
            "medallion.masking.customer_analytics",
        ])
        .status();
}
