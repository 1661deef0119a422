//! `medallion impact PROJECT --against OLD`: a whole change compared with an earlier version
//! (a directory or a git revision), each removed or retyped column listed with what depended
//! on it; a bad revision or a project outside git is one sentence, exit 2.

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

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
}

/// The example with `amount` no longer passed on by `order_history`.
fn drop_amount(project: &Path) {
    let sql = project.join("sql/order_history.sql");
    let before = std::fs::read_to_string(&sql).unwrap();
    assert!(before.contains(", o.amount, o.status"));
    std::fs::write(
        &sql,
        before.replacen(", o.amount, o.status", ", o.status", 1),
    )
    .unwrap();
}

/// A contract on `customer_lifetime_value` promising `clv`, computed from `amount`.
fn promise_clv(project: &Path) {
    let toml = project.join("medallion.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(
        "\n[assets.customer_lifetime_value.contract.columns]\nclv = { type = \"float64\" }\n",
    );
    std::fs::write(&toml, text).unwrap();
}

#[test]
fn a_dropped_column_is_listed_with_its_consumers_against_a_directory_and_a_git_revision() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let old = dir.path().join("old");
    let repo = dir.path().join("repo");
    let new = repo.join("customer_analytics");
    common::copy_dir(&common::example(), &old);
    common::copy_dir(&common::example(), &new);
    for project in [&old, &new] {
        promise_clv(project);
    }
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "example"]);
    drop_amount(&new);

    for against in [old.to_str().unwrap(), "HEAD"] {
        let out = medallion(
            &ws,
            &["impact", new.to_str().unwrap(), "--against", against],
        );
        let t = text(&out);
        println!("{t}");
        assert_eq!(out.status.code(), Some(0), "{t}");
        assert!(t.contains("order_history.amount removed"), "{t}");
        assert!(t.contains("daily_revenue.revenue"), "{t}");
        assert!(t.contains("customer_lifetime_value.clv"), "{t}");
        // The contract promising a column computed from it, and the unit tests whose rows
        // name it (inline, and in the CSV file of daily_revenue's test); not the test whose
        // rows do not.
        assert!(t.contains("customer_lifetime_value — promises clv"), "{t}");
        for test in [
            "order_history.completed_positive_known_customers — expects order_history.amount",
            "customer_lifetime_value.clv_exact_to_the_cent — gives order_history.amount",
            "daily_revenue.revenue_per_order_date — gives order_history.amount",
        ] {
            assert!(t.contains(test), "{test} missing in {t}");
        }
        assert!(!t.contains("latest_trimmed_valid_rows"), "{t}");
    }
    let out = medallion(
        &ws,
        &[
            "impact",
            new.to_str().unwrap(),
            "--against",
            "HEAD",
            "--format",
            "json",
        ],
    );
    let v = json(&out);
    assert_eq!(v[0]["change"], "order_history.amount removed", "{v}");
    assert_eq!(
        v[0]["impact"]["contracts"][0]["asset"], "customer_lifetime_value",
        "{v}"
    );
    assert_eq!(
        v[0]["impact"]["unit_tests"].as_array().map(Vec::len),
        Some(3),
        "{v}"
    );

    // Unchanged: nothing is listed.
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "drop amount"]);
    let out = medallion(&ws, &["impact", new.to_str().unwrap(), "--against", "HEAD"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("no column or asset of HEAD is removed or retyped"),
        "{}",
        text(&out)
    );

    // A revision the repository does not have, and a project outside any repository.
    let out = medallion(
        &ws,
        &[
            "impact",
            new.to_str().unwrap(),
            "--against",
            "no-such-branch",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(
            "`no-such-branch` is neither a directory nor a revision of the git repository at"
        ),
        "{}",
        text(&out)
    );
    let out = medallion(&ws, &["impact", old.to_str().unwrap(), "--against", "main"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out)
            .contains("is not in a git repository, so --against main must be a project directory"),
        "{}",
        text(&out)
    );
    assert_eq!(text(&out).lines().count(), 1, "{}", text(&out));
}
