//! `medallion test`: SQL unit tests (`[[assets.X.tests]]`) run on given rows only — the
//! example's tests pass, a wrong expectation fails with a readable diff, bad tests are located
//! in the project file (exit 2), and fixtures with joins, aggregates, window functions, CTEs
//! and `SELECT *` pass.

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

/// A copy of the example without its data files: the tests must not need them.
fn example_copy(dir: &Path) -> PathBuf {
    let project = dir.join("customer_analytics");
    common::copy_dir(&common::example(), &project);
    std::fs::remove_dir_all(project.join("data")).unwrap();
    project
}

fn edit(path: &Path, from: &str, to: &str) {
    let before = std::fs::read_to_string(path).unwrap();
    assert!(before.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, before.replacen(from, to, 1)).unwrap();
}

fn test_dir(ws: &Path, project: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["test", project.to_str().unwrap()];
    args.extend_from_slice(extra);
    medallion(ws, &args)
}

/// The line of `medallion.toml` holding `needle`.
fn line_of(project: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(project.join("medallion.toml")).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn the_example_tests_pass_without_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let project = example_copy(dir.path());
    let ws = dir.path().join("ws.sqlite");
    let out = test_dir(&ws, &project, &[]);
    let t = text(&out);
    println!("{t}");
    assert_eq!(out.status.code(), Some(0), "{t}");
    for name in [
        "ok      cleaned_customer_data.latest_trimmed_valid_rows",
        "ok      order_history.completed_positive_known_customers",
        "ok      customer_lifetime_value.clv_exact_to_the_cent",
        "ok      daily_revenue.revenue_per_order_date",
    ] {
        assert!(t.contains(name), "{name} missing in {t}");
    }
    assert!(t.contains("4 passed, 0 failed, 0 errors, 0 invalid"), "{t}");
    // Nothing was stored: the workspace has no run.
    let out = test_dir(
        &ws,
        &project,
        &["--format", "json", "--select", "daily_revenue"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = json(&out);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{v}");
    assert_eq!(results[0]["asset"], "daily_revenue");
    assert_eq!(results[0]["status"], "passed");
    assert_eq!(results[0]["actual_rows"], 2);
    println!("daily_revenue test took {} ms", results[0]["elapsed_ms"]);
}

#[test]
fn a_wrong_expectation_fails_with_a_readable_diff() {
    let dir = tempfile::tempdir().unwrap();
    let project = example_copy(dir.path());
    let ws = dir.path().join("ws.sqlite");
    let toml = project.join("medallion.toml");
    // Ordered: the first row's clv is off by a cent.
    edit(
        &toml,
        "tenure_days = 60, clv = 69.86",
        "tenure_days = 60, clv = 69.87",
    );
    // In any order: one expected row has the wrong amount, one expected row does not exist.
    edit(
        &toml,
        "amount = 19.99, status = \"completed\" },\n    { order_id = 7, customer_id = 11, order_date = 2024-01-11, amount = 40.01, status = \"completed\" },\n]",
        "amount = 19.99, status = \"completed\" },\n    { order_id = 7, customer_id = 11, order_date = 2024-01-11, amount = 40.02, status = \"completed\" },\n    { order_id = 8, customer_id = 11, order_date = 2024-01-12, amount = 1.00, status = \"completed\" },\n]",
    );
    let out = test_dir(&ws, &project, &[]);
    let t = text(&out);
    println!("{t}");
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("FAILED  customer_lifetime_value.clv_exact_to_the_cent"),
        "{t}"
    );
    assert!(t.contains("~ row 1: clv: expected 69.87, got 69.86"), "{t}");
    assert!(
        t.contains("FAILED  order_history.completed_positive_known_customers"),
        "{t}"
    );
    assert!(
        t.contains("amount: expected 40.02, got 40.01"),
        "the changed cell is named: {t}"
    );
    assert!(
        t.contains("- missing row: order_id=8, customer_id=11, order_date=2024-01-12, amount=1.00, status=completed"),
        "{t}"
    );
    assert!(t.contains("2 passed, 2 failed"), "{t}");

    let out = test_dir(&ws, &project, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let clv = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["asset"] == "customer_lifetime_value")
        .unwrap();
    assert_eq!(clv["status"], "failed");
    assert_eq!(clv["diff"]["changed"][0]["cells"][0][0], "clv");
    assert_eq!(clv["diff"]["changed"][0]["cells"][0][1], 69.87);
    assert_eq!(clv["diff"]["changed"][0]["cells"][0][2], 69.86);
}

#[test]
fn bad_tests_are_located_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");

    // Rows given for an asset that is not an upstream.
    let project = example_copy(&dir.path().join("a"));
    let toml = project.join("medallion.toml");
    edit(
        &toml,
        "[assets.daily_revenue.tests.given.order_history]",
        "[assets.daily_revenue.tests.given.raw_orders]",
    );
    let out = test_dir(&ws, &project, &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    let line = line_of(&project, "[assets.daily_revenue.tests.given.raw_orders]");
    assert!(t.contains(&format!("medallion.toml:{line}")), "{t}");
    assert!(
        t.contains("gives rows for raw_orders, which is not an upstream of daily_revenue (its upstreams: order_history)"),
        "{t}"
    );

    // An expected column the output lacks, and a given column the upstream lacks.
    let project = example_copy(&dir.path().join("b"));
    let toml = project.join("medallion.toml");
    edit(
        &toml,
        "revenue = 20.0, order_count = 2",
        "revenue = 20.0, orders = 2",
    );
    edit(
        &toml,
        "rows = [{ customer_id = 10 }, { customer_id = 11 }]",
        "rows = [{ customer = 10 }]",
    );
    let out = test_dir(&ws, &project, &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    let line = line_of(&project, "[assets.daily_revenue.tests.expect]");
    assert!(t.contains(&format!("medallion.toml:{line}")), "{t}");
    assert!(t.contains("column `orders` is expected from daily_revenue, whose columns are order_date, revenue, order_count"), "{t}");
    assert!(
        t.contains("column `customer` is given for cleaned_customer_data"),
        "{t}"
    );
    // `validate` reports the same, located.
    let out = medallion(&ws, &["validate", project.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("column `orders` is expected"),
        "{}",
        text(&out)
    );

    // A missing CSV file and a value that is not of its column's type.
    let project = example_copy(&dir.path().join("c"));
    std::fs::remove_file(project.join("tests/order_history_two_days.csv")).unwrap();
    edit(
        &project.join("medallion.toml"),
        "{ order_id = 1, customer_id = 10, order_date = 2024-01-05, amount = 19.99, status = \"completed\" },\n    { order_id = 2, customer_id = 10, order_date = 2024-03-05",
        "{ order_id = \"one\", customer_id = 10, order_date = 2024-01-05, amount = 19.99, status = \"completed\" },\n    { order_id = 2, customer_id = 10, order_date = 2024-03-05",
    );
    let out = test_dir(&ws, &project, &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("order_history_two_days.csv does not exist"),
        "{t}"
    );
    assert!(
        t.contains("value \"one\" in column `order_id` is not a int64"),
        "{t}"
    );
    assert!(!t.contains("panicked"), "{t}");

    // A test on a source, in TOML that parses.
    let project = example_copy(&dir.path().join("d"));
    let toml = project.join("medallion.toml");
    let mut s = std::fs::read_to_string(&toml).unwrap();
    s.push_str("\n[[assets.raw_orders.tests]]\nname = \"nope\"\nexpect.rows = []\n");
    std::fs::write(&toml, s).unwrap();
    let out = test_dir(&ws, &project, &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("asset raw_orders is a source"), "{t}");
}

#[test]
fn a_stored_project_keeps_its_tests_and_runs_them() {
    let dir = tempfile::tempdir().unwrap();
    let project = example_copy(dir.path());
    let ws = dir.path().join("ws.sqlite");
    let out = medallion(&ws, &["import", project.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = medallion(&ws, &["test", "customer_analytics"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("4 passed"), "{}", text(&out));
    // Export writes them back; the exported file reads back with the same tests.
    let exported = dir.path().join("exported");
    let out = medallion(
        &ws,
        &["export", "customer_analytics", exported.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let toml = std::fs::read_to_string(exported.join("medallion.toml")).unwrap();
    assert!(toml.contains("[[assets.daily_revenue.tests]]"), "{toml}");
    assert!(
        toml.contains("csv = \"tests/order_history_two_days.csv\""),
        "{toml}"
    );
    // The CSV file of daily_revenue's test is copied with it: the export validates and its
    // tests pass elsewhere, in a directory that never saw the original.
    assert_eq!(
        std::fs::read(exported.join("tests/order_history_two_days.csv")).unwrap(),
        std::fs::read(project.join("tests/order_history_two_days.csv")).unwrap()
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = elsewhere.path().join("moved");
    common::copy_dir(&exported, &moved);
    std::fs::remove_dir_all(&project).unwrap();
    let out = medallion(&ws, &["validate", moved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = test_dir(&ws, &moved, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("4 passed"), "{}", text(&out));

    // With the original gone, a second export cannot copy the file and says so.
    let again = dir.path().join("again");
    let out = medallion(
        &ws,
        &["export", "customer_analytics", again.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("warning: not copied: tests/order_history_two_days.csv (unit test `revenue_per_order_date` of asset daily_revenue)"),
        "{}",
        text(&out)
    );
}

/// A unit test of a partitioned asset: its `partition` is what the SQL's `{partition}` stands
/// for, so only that day's given rows are summed; the wrong day fails with a diff.
#[test]
fn a_partitioned_asset_is_tested_on_its_partition() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let project = dir.path().join("partitioned");
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/partitioned"),
        &project,
    );
    std::fs::remove_dir_all(project.join("data")).unwrap();
    let toml = project.join("medallion.toml");
    let mut t = std::fs::read_to_string(&toml).unwrap();
    t.push_str(
        r#"
[[assets.daily_totals.tests]]
name = "only_its_day"
partition = "2024-01-02"
given.raw_events.rows = [
    { id = 1, amount = 10.0, day = 2024-01-01 },
    { id = 2, amount = 2.5, day = 2024-01-02 },
    { id = 3, amount = 4.0, day = 2024-01-02 },
]
expect.rows = [{ day = 2024-01-02, total = 6.5, events = 2 }]
"#,
    );
    std::fs::write(&toml, t).unwrap();
    let out = test_dir(&ws, &project, &[]);
    let said = text(&out);
    println!("{said}");
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("ok      daily_totals.only_its_day"), "{said}");

    // The other day: the SQL now keeps the first row only, and the test says which cells.
    edit(
        &toml,
        "partition = \"2024-01-02\"",
        "partition = \"2024-01-01\"",
    );
    let out = test_dir(&ws, &project, &[]);
    let said = text(&out);
    println!("{said}");
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("FAILED  daily_totals.only_its_day"), "{said}");
    assert!(said.contains("2024-01-01"), "{said}");

    // Without a partition the test cannot run as written: located, exit 2.
    edit(&toml, "partition = \"2024-01-01\"\n", "");
    let out = test_dir(&ws, &project, &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("give the test a partition = \"KEY\""),
        "{said}"
    );
}

const FIXTURE: &str = r#"
[project]
name = "fixtures"

[assets.orders]
layer = "bronze"
[assets.orders.source]
kind = "csv"
path = "data/orders.csv"
[assets.orders.source.schema]
order_id = "int64"
customer_id = "int64"
amount = "float64"

[assets.customers]
layer = "bronze"
[assets.customers.source]
kind = "csv"
path = "data/customers.csv"
[assets.customers.source.schema]
customer_id = "int64"
region = "string"

[assets.joined]
layer = "silver"
sql = "SELECT o.*, c.region FROM orders AS o JOIN customers AS c ON o.customer_id = c.customer_id"

[[assets.joined.tests]]
name = "inner_join_with_select_star"
given.orders.rows = [
    { order_id = 1, customer_id = 1, amount = 10.0 },
    { order_id = 2, customer_id = 2, amount = 5.5 },
    { order_id = 3, customer_id = 9, amount = 1.0 },
]
given.customers.rows = [{ customer_id = 1, region = "north" }, { customer_id = 2, region = "south" }]
expect.rows = [
    { order_id = 2, customer_id = 2, amount = 5.5, region = "south" },
    { order_id = 1, customer_id = 1, amount = 10.0, region = "north" },
]

[assets.region_totals]
layer = "gold"
sql = """
WITH per_region AS (
    SELECT region, SUM(amount) AS total, COUNT(*) AS n FROM joined GROUP BY region
)
SELECT region, total, n, total / n AS average FROM per_region ORDER BY region
"""

[[assets.region_totals.tests]]
name = "aggregate_in_a_cte"
ordered = true
given.joined.rows = [
    { order_id = 1, customer_id = 1, amount = 0.1, region = "north" },
    { order_id = 2, customer_id = 1, amount = 0.2, region = "north" },
    { order_id = 3, customer_id = 2, amount = 3.0, region = "south" },
]
expect.rows = [
    { region = "north", total = 0.3, n = 2, average = 0.15 },
    { region = "south", total = 3.0, n = 1, average = 3.0 },
]

[assets.ranked]
layer = "silver"
sql = """
SELECT order_id, customer_id,
       SUM(amount) OVER (PARTITION BY customer_id) AS customer_total,
       ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY amount DESC) AS rank_in_customer
FROM orders
"""

[[assets.ranked.tests]]
name = "window_functions"
given.orders.rows = [
    { order_id = 1, customer_id = 1, amount = 10.0 },
    { order_id = 2, customer_id = 1, amount = 30.0 },
    { order_id = 3, customer_id = 2, amount = 7.0 },
]
expect.rows = [
    { order_id = 1, customer_id = 1, customer_total = 40.0, rank_in_customer = 2 },
    { order_id = 2, customer_id = 1, customer_total = 40.0, rank_in_customer = 1 },
    { order_id = 3, customer_id = 2, customer_total = 7.0, rank_in_customer = 1 },
]

[assets.known_regions]
layer = "silver"
sql = "SELECT * FROM customers WHERE region IS NOT NULL"

[[assets.known_regions.tests]]
name = "select_star_keeps_every_column_and_nulls_filter"
given.customers.rows = [{ customer_id = 1, region = "north" }, { customer_id = 2 }]
expect.rows = [{ customer_id = 1, region = "north" }]
"#;

#[test]
fn fixtures_with_joins_aggregates_windows_ctes_and_select_star_pass() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("fixtures");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("medallion.toml"), FIXTURE).unwrap();
    let ws = dir.path().join("ws.sqlite");
    let out = test_dir(&ws, &project, &[]);
    let t = text(&out);
    println!("{t}");
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("4 passed, 0 failed"), "{t}");

    // Each can fail: a wrong window rank and a wrong aggregate are caught.
    let toml = project.join("medallion.toml");
    edit(
        &toml,
        "customer_total = 7.0, rank_in_customer = 1",
        "customer_total = 7.0, rank_in_customer = 2",
    );
    edit(&toml, "total = 0.3, n = 2", "total = 0.3, n = 3");
    edit(
        &toml,
        "region = \"south\" },\n    { order_id = 1",
        "region = \"west\" },\n    { order_id = 1",
    );
    edit(
        &toml,
        "expect.rows = [{ customer_id = 1, region = \"north\" }]",
        "expect.rows = [{ customer_id = 1, region = \"north\" }, { customer_id = 2 }]",
    );
    let out = test_dir(&ws, &project, &[]);
    let t = text(&out);
    println!("{t}");
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("rank_in_customer: expected 2, got 1"), "{t}");
    assert!(t.contains("~ row 1: n: expected 3, got 2"), "{t}");
    assert!(t.contains("region: expected west, got south"), "{t}");
    assert!(
        t.contains("- missing row: customer_id=2, region=null"),
        "{t}"
    );
    assert!(t.contains("0 passed, 4 failed"), "{t}");
}

/// A studio on the example (workspace in `dir`) whose CLV unit test now expects 1.0 for
/// customer 10, so it fails; the workspace's path and the harness.
fn studio_with_a_failing_clv_test(
    dir: &Path,
) -> (
    PathBuf,
    egui_kittest::Harness<'static, medallion::ui::Studio>,
) {
    use medallion::model::AssetKey;
    use medallion::model::edit::Edit;
    use medallion::model::unit_test::{TestRows, TestValue};

    let (path, project) = crate::common::studio::example_workspace(dir);
    let studio = medallion::ui::Studio::with_workspace(Some(project), &path).unwrap();
    let mut h = crate::common::studio::harness(studio);
    let key = AssetKey::new("customer_lifetime_value");
    let mut spec = h.state().project().asset(&key).unwrap().clone();
    spec.tests[0].expect = TestRows::Inline(vec![
        [
            ("customer_id".to_owned(), TestValue::Int(10)),
            ("clv".to_owned(), TestValue::Float(1.0)),
        ]
        .into_iter()
        .collect(),
    ]);
    assert!(h.state_mut().apply(Edit::UpdateAsset {
        spec: Box::new(spec)
    }));
    (path, h)
}

/// The launch dialog's "Test first": a failing unit test of the assets in scope refuses the
/// launch, naming the test and the cell, and no run is recorded.
#[test]
fn test_first_in_the_launch_dialog_refuses_a_run_when_a_test_fails() {
    use egui_kittest::kittest::Queryable;
    use medallion::app;

    let dir = tempfile::tempdir().unwrap();
    let (path, mut h) = studio_with_a_failing_clv_test(dir.path());
    h.get_by_label("Materialize…").click();
    h.run_steps(2);
    h.get_by_label("All assets").click();
    h.run_steps(2);
    h.get_by_label("Test first (4 unit tests)").click();
    h.run_steps(2);
    crate::common::studio::wait_until(&mut h, "the plan", std::time::Duration::from_mins(2), |s| {
        s.workbench
            .launch
            .as_ref()
            .is_some_and(|l| matches!(l.plan, Some(Ok(_))))
    });
    h.get_by_label("Start run").click();
    h.run_steps(2);
    assert!(
        h.state().run.is_some(),
        "the click on Start run started nothing"
    );
    crate::common::studio::wait_until(
        &mut h,
        "the refusal",
        std::time::Duration::from_mins(2),
        |s| s.run.as_ref().is_some_and(|r| r.done),
    );
    let notice = h
        .state()
        .notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default();
    assert!(
        notice.contains(
            "unit test customer_lifetime_value.clv_exact_to_the_cent did not pass (clv: expected 1, got 69.86)"
        ),
        "{notice}"
    );
    assert!(notice.contains("nothing was run"), "{notice}");
    // The run view says the run never started (not "Failure"), and offers no re-run: a re-run
    // would have skipped the tests that refused it.
    h.run_steps(2);
    h.get_by_label("Not started");
    assert!(h.query_by_label("Failure").is_none());
    assert!(h.query_by_label("Re-run failed and skipped").is_none());
    let ws = app::open_workspace(&path).unwrap();
    assert!(
        app::run::list_runs(&ws, Some("customer_analytics"), 10)
            .unwrap()
            .is_empty(),
        "no run was recorded"
    );
}

/// "Test first" on AWS: the unit tests run here before anything is submitted, so a failing
/// one refuses the launch (no run recorded, nothing uploaded). Without it, the same launch
/// gets as far as AWS — here, to the missing `aws` resource — which shows the tests decided.
#[test]
fn test_first_refuses_a_remote_launch_before_anything_is_uploaded() {
    use medallion::app;

    let dir = tempfile::tempdir().unwrap();
    let (path, mut h) = studio_with_a_failing_clv_test(dir.path());
    let request = || app::remote::SubmitRequest {
        selection: "*".to_owned(),
        partitions: Vec::new(),
        force: false,
        tier: None,
        overrides: std::collections::BTreeMap::new(),
        aws_resource: None,
        trigger: "studio".to_owned(),
    };
    let launch = |h: &mut egui_kittest::Harness<'_, medallion::ui::Studio>, test_first: bool| {
        assert!(h.state_mut().start_remote_run_with(request(), test_first));
        crate::common::studio::wait_until(
            h,
            "the launch to end",
            std::time::Duration::from_mins(2),
            |s| s.run.as_ref().is_some_and(|r| r.done),
        );
        let said = h
            .state()
            .notice
            .as_ref()
            .map(|n| n.text.clone())
            .unwrap_or_default();
        let error = h
            .state()
            .run
            .as_ref()
            .and_then(|r| r.error.clone())
            .unwrap_or_default();
        format!("{said} {error}")
    };
    let refused = launch(&mut h, true);
    assert!(
        refused.contains(
            "unit test customer_lifetime_value.clv_exact_to_the_cent did not pass (clv: expected 1, got 69.86)"
        ),
        "{refused}"
    );
    assert!(refused.contains("nothing was run"), "{refused}");
    let ws = app::open_workspace(&path).unwrap();
    assert!(
        app::run::list_runs(&ws, Some("customer_analytics"), 10)
            .unwrap()
            .is_empty(),
        "no run was recorded"
    );
    drop(ws);
    h.state_mut().notice = None;
    let submitted = launch(&mut h, false);
    assert!(!submitted.contains("did not pass"), "{submitted}");
    assert!(submitted.to_lowercase().contains("aws"), "{submitted}");
}

/// `materialize --test-first`: a failing unit test refuses the run in one sentence, exit 1,
/// and no run is recorded; with the tests passing the run goes ahead and is recorded.
#[test]
fn materialize_test_first_runs_nothing_when_a_test_fails() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("customer_analytics");
    common::copy_dir(&common::example(), &project);
    let ws = dir.path().join("ws.sqlite");
    let toml = project.join("medallion.toml");
    edit(
        &toml,
        "tenure_days = 60, clv = 69.86",
        "tenure_days = 60, clv = 69.87",
    );
    let p = project.to_str().unwrap();
    let out = medallion(&ws, &["materialize", p, "--test-first"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    println!("{}", text(&out));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        err.contains("unit test customer_lifetime_value.clv_exact_to_the_cent did not pass (clv: expected 69.87, got 69.86)"),
        "{err}"
    );
    assert!(err.contains("nothing was run"), "{err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "one sentence, no progress: {err}"
    );
    let runs = medallion(&ws, &["runs", "--format", "json"]);
    assert_eq!(runs.status.code(), Some(0), "{}", text(&runs));
    assert_eq!(
        json(&runs).as_array().unwrap().len(),
        0,
        "no run is recorded"
    );

    // A selection whose tests pass runs.
    let out = medallion(
        &ws,
        &[
            "materialize",
            p,
            "--test-first",
            "--select",
            "+daily_revenue",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = medallion(&ws, &["runs", "--format", "json"]);
    assert_eq!(json(&runs).as_array().unwrap().len(), 1, "{}", text(&runs));
}
