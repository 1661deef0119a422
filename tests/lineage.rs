//! `medallion schema`, `lineage` and `impact` on the example, without running anything. The
//! expected columns, types and lineage were worked out by reading `sql/*.sql` and the steps of
//! `cleaned_customer_data` in `medallion.toml`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{self, json, text};

fn medallion(workspace: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(args)
        .env("MEDALLION_WORKSPACE", workspace)
        .env_remove("MEDALLION_LOG")
        .output()
        .expect("run medallion")
}

fn example_arg() -> String {
    common::example().to_str().unwrap().to_owned()
}

/// `(name, dtype)` of an asset in `medallion schema --format json`.
fn columns(doc: &Value, asset: &str) -> Vec<(String, String)> {
    let entry = doc["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["asset"] == asset)
        .unwrap_or_else(|| panic!("no {asset} in {doc}"));
    assert_eq!(entry["schema"]["state"], "known", "{entry}");
    entry["schema"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["dtype"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn schemas_of_the_example_are_inferred_without_running() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let out = medallion(&ws, &["schema", &example_arg(), "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let doc = json(&out);
    let orders = [
        ("order_id", "int64"),
        ("customer_id", "int64"),
        ("order_date", "date"),
        ("amount", "decimal(12,2)"),
        ("status", "string"),
    ];
    assert_eq!(columns(&doc, "raw_orders"), pairs(&orders));
    assert_eq!(columns(&doc, "order_history"), pairs(&orders));
    assert_eq!(
        columns(&doc, "cleaned_customer_data"),
        pairs(&[
            ("customer_id", "int64"),
            ("first_name", "string"),
            ("last_name", "string"),
            ("email", "string"),
            ("created_at", "datetime"),
            ("updated_at", "datetime"),
        ])
    );
    assert_eq!(
        columns(&doc, "customer_lifetime_value"),
        pairs(&[
            ("customer_id", "int64"),
            ("order_count", "int64"),
            ("total_revenue", "float64"),
            ("avg_order_value", "float64"),
            ("first_order_date", "date"),
            ("last_order_date", "date"),
            ("tenure_days", "int64"),
            ("clv", "float64"),
        ])
    );
    assert_eq!(
        columns(&doc, "daily_revenue"),
        pairs(&[
            ("order_date", "date"),
            ("revenue", "float64"),
            ("order_count", "int64"),
        ])
    );
    // Nothing ran: the workspace holds no run.
    let runs = medallion(&ws, &["runs", "--format", "json"]);
    assert!(runs.status.success(), "{}", text(&runs));
    assert_eq!(
        json(&runs).as_array().map(Vec::len),
        Some(0),
        "{}",
        text(&runs)
    );
}

#[test]
fn a_column_the_upstream_lacks_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let project = dir.path().join("customer_analytics");
    common::copy_dir(&common::example(), &project);
    let sql = project.join("sql/daily_revenue.sql");
    let text_before = std::fs::read_to_string(&sql).unwrap();
    std::fs::write(&sql, text_before.replace("SUM(amount)", "SUM(amountx)")).unwrap();
    let out = medallion(&ws, &["schema", project.to_str().unwrap(), "daily_revenue"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("sql/daily_revenue.sql:5:14: error[schema] daily_revenue (sql)"),
        "{said}"
    );
    assert!(said.contains("amountx"), "{said}");
}

/// The column names of a lineage graph's nodes, as `asset.column`.
fn nodes(doc: &Value) -> Vec<String> {
    doc["graph"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!(
                "{}.{}",
                n["column"]["asset"].as_str().unwrap(),
                n["column"]["column"].as_str().unwrap()
            )
        })
        .collect()
}

fn edges(doc: &Value) -> Vec<(String, String)> {
    let name = |c: &Value| {
        format!(
            "{}.{}",
            c["asset"].as_str().unwrap(),
            c["column"].as_str().unwrap()
        )
    };
    let mut out: Vec<(String, String)> = doc["graph"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (name(&e[0]), name(&e[1])))
        .collect();
    out.sort();
    out
}

#[test]
fn clv_comes_from_order_amounts_and_dates_down_to_raw_orders() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let out = medallion(
        &ws,
        &[
            "lineage",
            &example_arg(),
            "customer_lifetime_value.clv",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let doc = json(&out);
    // clv = f(cents, tenure_days); cents = SUM(amount) · 100; tenure_days = MAX(order_date) −
    // MIN(order_date); order_history copies raw_orders' columns.
    assert_eq!(
        edges(&doc),
        [
            ("order_history.amount", "customer_lifetime_value.clv"),
            ("order_history.order_date", "customer_lifetime_value.clv"),
            ("raw_orders.amount", "order_history.amount"),
            ("raw_orders.order_date", "order_history.order_date"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(doc["graph"]["nodes"][0]["kind"], "derived");
    assert_eq!(
        doc["rows_decided_by"],
        serde_json::json!(["order_history.customer_id"])
    );

    // order_count is COUNT(*): computed from no column.
    let out = medallion(
        &ws,
        &[
            "lineage",
            &example_arg(),
            "customer_lifetime_value.order_count",
            "--format",
            "json",
        ],
    );
    let doc = json(&out);
    assert_eq!(nodes(&doc), ["customer_lifetime_value.order_count"]);
    assert!(edges(&doc).is_empty());

    // customer_id is copied all the way from the source.
    let out = medallion(
        &ws,
        &[
            "lineage",
            &example_arg(),
            "customer_lifetime_value.customer_id",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .take(3)
            .collect::<Vec<_>>(),
        [
            "customer_lifetime_value.customer_id (copy)",
            "  ← order_history.customer_id (copy)",
            "    ← raw_orders.customer_id (source)",
        ]
    );
}

#[test]
fn steps_keep_values_and_filters_decide_rows() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let out = medallion(
        &ws,
        &[
            "lineage",
            &example_arg(),
            "cleaned_customer_data.email",
            "--format",
            "json",
        ],
    );
    let doc = json(&out);
    // trim and lower-case change the value: derived from the raw e-mail.
    assert_eq!(doc["graph"]["nodes"][0]["kind"], "derived");
    assert_eq!(
        edges(&doc),
        [(
            "raw_customer_data.email".to_owned(),
            "cleaned_customer_data.email".to_owned()
        )]
    );
    // dedupe on every column, keep_latest by customer_id and updated_at, the e-mail filter.
    let mut filters: Vec<String> = doc["rows_decided_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    filters.sort();
    assert_eq!(
        filters,
        [
            "created_at",
            "customer_id",
            "email",
            "first_name",
            "last_name",
            "updated_at"
        ]
        .map(|c| format!("raw_customer_data.{c}"))
    );

    // Downstream of raw_orders.amount: the amounts and every figure made from them.
    let out = medallion(
        &ws,
        &[
            "lineage",
            &example_arg(),
            "raw_orders.amount",
            "--downstream",
            "--format",
            "json",
        ],
    );
    let mut reached = nodes(&json(&out));
    reached.sort();
    assert_eq!(
        reached,
        [
            "customer_lifetime_value.avg_order_value",
            "customer_lifetime_value.clv",
            "customer_lifetime_value.total_revenue",
            "daily_revenue.revenue",
            "order_history.amount",
            "raw_orders.amount",
        ]
    );
}

#[test]
fn impact_lists_columns_assets_checks_and_schedules() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let out = medallion(
        &ws,
        &[
            "impact",
            &example_arg(),
            "raw_orders.amount",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let doc = json(&out);
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => format!(
                    "{}.{}",
                    other["asset"].as_str().unwrap(),
                    other["column"]
                        .as_str()
                        .or(other["check"].as_str())
                        .unwrap_or("")
                ),
            })
            .collect()
    };
    assert_eq!(
        list(&doc["columns"]).len(),
        5,
        "order_history.amount, three CLV figures and daily revenue: {doc}"
    );
    // order_history filters on amount > 0: its rows, and everything downstream, change.
    let assets: Vec<&str> = doc["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["asset"].as_str().unwrap())
        .collect();
    assert_eq!(
        assets,
        ["customer_lifetime_value", "daily_revenue", "order_history"]
    );
    assert!(
        doc["assets"][2]["reason"]
            .as_str()
            .unwrap()
            .contains("raw_orders.amount"),
        "{doc}"
    );
    assert_eq!(
        list(&doc["checks"]),
        [
            "customer_lifetime_value.customer_lifetime_value_clv_non_negative",
            "order_history.order_history_not_empty"
        ]
    );
    assert_eq!(list(&doc["schedules"]), ["nightly"]);

    // An e-mail feeds nothing downstream; only its own not-null check reads it.
    let out = medallion(
        &ws,
        &[
            "impact",
            &example_arg(),
            "cleaned_customer_data.email",
            "--format",
            "json",
        ],
    );
    let doc = json(&out);
    assert!(doc["columns"].as_array().unwrap().is_empty(), "{doc}");
    assert!(doc["assets"].as_array().unwrap().is_empty(), "{doc}");
    assert_eq!(
        list(&doc["checks"]),
        ["cleaned_customer_data.cleaned_customer_data_email_not_null"]
    );

    // A whole asset: everything downstream.
    let out = medallion(&ws, &["impact", &example_arg(), "cleaned_customer_data"]);
    let said = text(&out);
    assert!(
        said.contains("order_history — reads cleaned_customer_data"),
        "{said}"
    );
    assert!(
        said.contains("cleaned_customer_data.cleaned_customer_data_unique_customer_id"),
        "{said}"
    );

    let out = medallion(&ws, &["impact", &example_arg(), "raw_orders.nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("has no asset or column `raw_orders.nope`"),
        "{}",
        text(&out)
    );
}
