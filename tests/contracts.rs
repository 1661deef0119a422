//! `medallion validate` with the schemas inferred without running: a SQL reference to a column
//! the upstream no longer has, checks on missing columns, and schema contracts
//! (`[assets.X.contract]`), each located in the project's files and naming the consumers.

use std::path::{Path, PathBuf};
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

/// A copy of the example in a temporary directory.
fn example_copy(dir: &Path) -> PathBuf {
    let project = dir.join("customer_analytics");
    common::copy_dir(&common::example(), &project);
    project
}

fn edit(path: &Path, from: &str, to: &str) {
    let before = std::fs::read_to_string(path).unwrap();
    assert!(before.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, before.replacen(from, to, 1)).unwrap();
}

fn validate(ws: &Path, project: &Path) -> Output {
    medallion(ws, &["validate", project.to_str().unwrap()])
}

#[test]
fn the_example_validates_clean_with_its_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let out = validate(&dir.path().join("ws.sqlite"), &common::example());
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("0 error(s), 0 warning(s)"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_dropped_upstream_column_fails_validate_at_each_consumer_line() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let project = example_copy(dir.path());
    // order_history stops passing `amount` on; both gold assets sum it.
    edit(
        &project.join("sql/order_history.sql"),
        ", o.amount, o.status",
        ", o.status",
    );
    let out = validate(&ws, &project);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains(
            "sql/customer_lifetime_value.sql:7:13: error[schema] customer_lifetime_value (sql)"
        ),
        "{said}"
    );
    assert!(
        said.contains("sql/daily_revenue.sql:5:14: error[schema] daily_revenue (sql)"),
        "{said}"
    );
    assert!(said.contains("\"amount\""), "{said}");
    // The example's unit tests that give or expect `amount` cannot run either.
    assert!(
        said.contains("error[invalid_test] customer_lifetime_value (tests.clv_exact_to_the_cent.given.order_history)"),
        "{said}"
    );
    assert!(said.contains("4 error(s)"), "{said}");

    // A column dropped one level higher: order_history itself fails, and says what it blocks.
    let project2 = dir.path().join("second");
    common::copy_dir(&common::example(), &project2);
    edit(
        &project2.join("sql/order_history.sql"),
        "AND o.amount > 0",
        "AND o.amount_cents > 0",
    );
    let out = validate(&ws, &project2);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("sql/order_history.sql:5:9: error[schema] order_history (sql)"),
        "{said}"
    );
    assert!(
        said.contains("downstream it blocks customer_lifetime_value, daily_revenue"),
        "{said}"
    );
}

#[test]
fn a_check_on_a_missing_column_is_an_error_at_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let project = example_copy(dir.path());
    edit(
        &project.join("medallion.toml"),
        "predicate = \"clv >= 0\"",
        "predicate = \"lifetime_value >= 0\"",
    );
    let out = validate(&dir.path().join("ws.sqlite"), &project);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("error[schema] customer_lifetime_value (checks.customer_lifetime_value_clv_non_negative): check `customer_lifetime_value_clv_non_negative` reads column `lifetime_value`"),
        "{said}"
    );
    assert!(said.contains("medallion.toml:"), "{said}");
}

const ORDER_HISTORY_CONTRACT: &str = r#"
[assets.order_history.contract]
allow_extra_columns = true

[assets.order_history.contract.columns]
order_id = { type = "int64" }
customer_id = { type = "int64" }
order_date = { type = "date" }
amount = { type = "decimal(12,2)" }
status = { type = "string", required = false }
"#;

fn with_contract(dir: &Path) -> PathBuf {
    let project = example_copy(dir);
    let toml = project.join("medallion.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(ORDER_HISTORY_CONTRACT);
    std::fs::write(&toml, text).unwrap();
    project
}

fn contract_line(project: &Path) -> usize {
    let text = std::fs::read_to_string(project.join("medallion.toml")).unwrap();
    text.lines()
        .position(|l| l == "[assets.order_history.contract]")
        .unwrap()
        + 1
}

#[test]
fn a_kept_contract_validates_and_survives_import_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let project = with_contract(dir.path());
    let out = validate(&ws, &project);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("0 error(s), 0 warning(s)"),
        "{}",
        text(&out)
    );

    let out = medallion(&ws, &["import", project.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let exported = dir.path().join("exported");
    let out = medallion(
        &ws,
        &["export", "customer_analytics", exported.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let written = std::fs::read_to_string(exported.join("medallion.toml")).unwrap();
    assert!(
        written.contains("[assets.order_history.contract"),
        "{written}"
    );
    assert!(written.contains("required = false"), "{written}");
    assert!(written.contains("decimal(12,2)"), "{written}");
    // The exported project still validates: the contract came back whole.
    let out = validate(&ws, &exported);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_removed_required_column_breaks_the_contract_naming_its_consumers() {
    let dir = tempfile::tempdir().unwrap();
    let project = with_contract(dir.path());
    edit(
        &project.join("sql/order_history.sql"),
        ", o.amount, o.status",
        ", o.status",
    );
    let out = validate(&dir.path().join("ws.sqlite"), &project);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    let line = contract_line(&project);
    let broken = said
        .lines()
        .find(|l| l.contains("error[contract]"))
        .unwrap_or_else(|| panic!("no contract error in {said}"));
    assert!(
        broken.starts_with(&format!("medallion.toml:{line}:")),
        "{broken}"
    );
    assert!(
        broken.contains("required column `amount` (decimal(12,2)) is missing"),
        "{broken}"
    );
    assert!(
        broken
            .contains("customer_lifetime_value (its SQL, line 7), daily_revenue (its SQL, line 5)"),
        "{broken}"
    );
}

#[test]
fn type_changes_are_judged_safe_or_unsafe_and_extra_columns_can_be_refused() {
    let dir = tempfile::tempdir().unwrap();
    let project = with_contract(dir.path());
    // Narrowing the promised decimal's digits is unsafe; the status turning int is too.
    edit(
        &project.join("sql/order_history.sql"),
        ", o.amount, o.status",
        ", CAST(o.amount AS DOUBLE) AS amount, o.status",
    );
    let out = validate(&dir.path().join("ws.sqlite"), &project);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains(
            "column `amount` is float64 where the contract promises decimal(12,2), an unsafe change; consumers: customer_lifetime_value (its SQL, line 7)"
        ),
        "{said}"
    );

    // A wider decimal is safe: a warning, not an error. Extra columns refused: an error.
    let project = dir.path().join("second");
    common::copy_dir(&with_contract(&dir.path().join("x")), &project);
    edit(
        &project.join("medallion.toml"),
        "amount = { type = \"decimal(12,2)\" }",
        "amount = { type = \"decimal(20,2)\" }",
    );
    edit(
        &project.join("medallion.toml"),
        "allow_extra_columns = true",
        "allow_extra_columns = false",
    );
    edit(
        &project.join("medallion.toml"),
        "status = { type = \"string\", required = false }",
        "",
    );
    let out = validate(&dir.path().join("ws.sqlite"), &project);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("warning[contract] order_history (contract): column `amount` is decimal(12,2) where the contract promises decimal(20,2) (it converts without loss)"),
        "{said}"
    );
    assert!(
        said.contains("error[contract] order_history (contract): order_history outputs column(s) the contract does not name and extra columns are not allowed: status"),
        "{said}"
    );
}

#[test]
fn a_bad_contract_is_one_sentence_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let project = with_contract(dir.path());
    edit(
        &project.join("medallion.toml"),
        "order_id = { type = \"int64\" }",
        "order_id = { type = \"int65\" }",
    );
    let line = contract_line(&project) + 4;
    let out = validate(&dir.path().join("ws.sqlite"), &project);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains(&format!("medallion.toml:{line}:")),
        "line {line}: {said}"
    );
    assert!(said.contains("unknown data type `int65`"), "{said}");
    assert_eq!(said.trim().lines().count(), 1, "{said}");

    let project = dir.path().join("second");
    common::copy_dir(&with_contract(&dir.path().join("x")), &project);
    edit(
        &project.join("medallion.toml"),
        "allow_extra_columns = true",
        "allow_extras = true",
    );
    let out = validate(&dir.path().join("ws.sqlite"), &project);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("unknown field `allow_extras`"), "{said}");
    assert!(
        said.contains(&format!("medallion.toml:{}:", contract_line(&project) + 1)),
        "{said}"
    );
}

#[test]
fn validate_json_lists_contract_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let project = with_contract(dir.path());
    edit(
        &project.join("sql/order_history.sql"),
        ", o.amount, o.status",
        ", o.status",
    );
    let out = medallion(
        &dir.path().join("ws.sqlite"),
        &["validate", project.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let doc = json(&out);
    let codes: Vec<&str> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"contract"), "{doc}");
    assert!(codes.contains(&"schema"), "{doc}");
}
