//! Bad input, as a user meets it: each class ends in one sentence naming what and where, exit 1
//! or 2 — never a panic, a flood of text, a library's internal error name or an option of
//! another API. Runs the real binary on copies of the example project.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names
)]

use crate::common;

use common::{copy_dir, example, json, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn medallion(workspace: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(args)
        .env("MEDALLION_WORKSPACE", workspace)
        .env_remove("MEDALLION_LOG")
        .output()
        .expect("run medallion")
}

fn copy_example(to: &Path) -> PathBuf {
    let dir = to.join("customer_analytics");
    copy_dir(&example(), &dir);
    dir
}

/// Replaces `from` (which must occur) in a file.
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// Nothing a person reads may look like a crash or a library's insides.
fn assert_plain(out: &str) {
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "InternalError",
        "TapeError",
        "schema_overrides",
        "ignore_errors",
        "truncate_ragged_lines",
        "infer_schema_length",
        "DispatchFailure",
        "ConnectorError",
    ] {
        assert!(!out.contains(bad), "{bad:?} in:\n{out}");
    }
}

fn step_error(report: &serde_json::Value, asset: &str) -> String {
    report["runs"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["asset"] == asset)
        .unwrap_or_else(|| panic!("no step {asset} in {report}"))["outcome"]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{asset} did not fail: {report}"))
        .to_owned()
}

#[test]
fn csv_options_the_reader_cannot_honour_are_refused_by_validate() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let toml = dir.join("medallion.toml");
    edit(&toml, "delimiter = \",\"", "delimiter = \"€\"");
    let o = medallion(&ws, &["validate", dir.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains(
            "medallion.toml:20:13: error[invalid_source] raw_customer_data (source.delimiter)"
        ),
        "{out}"
    );
    assert!(
        out.contains("the CSV delimiter '€' is 3 bytes in UTF-8"),
        "{out}"
    );
    std::fs::copy(example().join("medallion.toml"), &toml).unwrap();
    edit(&toml, "quote_char = '\"'", "quote_char = 'é'");
    let o = medallion(&ws, &["validate", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("the CSV quote character 'é' is 2 bytes"),
        "{}",
        text(&o)
    );
}

#[test]
fn csv_rows_with_missing_or_extra_fields_name_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let d = dir.to_str().unwrap();
    let customers = dir.join("data/customers.csv");
    let good = std::fs::read_to_string(&customers).unwrap();
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    // Line 3 loses its last three fields.
    let third: Vec<&str> = lines[2].split(',').collect();
    lines[2] = third[..3].join(",");
    std::fs::write(&customers, lines.join("\n") + "\n").unwrap();
    let select = ["--select", "raw_customer_data", "--format", "json"];
    let o = medallion(&ws, &[&["materialize", d][..], &select[..]].concat());
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert_plain(&out);
    let error = step_error(&json(&o), "raw_customer_data");
    assert!(
        error.contains("data/customers.csv line 3 has 3 fields, but the header has 6 (customer_id, first_name, last_name, email, created_at, updated_at)"),
        "{error}"
    );
    assert!(error.contains("missing_fields = \"null\""), "{error}");
    // The preview says the same instead of showing nulls.
    let o = medallion(&ws, &["preview", d, "raw_customer_data", "--limit", "5"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("line 3 has 3 fields"), "{}", text(&o));

    // The source opts in: the missing fields are null.
    edit(
        &dir.join("medallion.toml"),
        "null_values = [\"\"]\n\n[assets.raw_customer_data.source.schema]",
        "null_values = [\"\"]\nmissing_fields = \"null\"\n\n[assets.raw_customer_data.source.schema]",
    );
    let o = medallion(&ws, &[&["materialize", d][..], &select[..]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = medallion(
        &ws,
        &[
            "preview",
            d,
            "raw_customer_data",
            "--limit",
            "3",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = json(&o)["rows"].clone();
    assert_eq!(rows[1][3], serde_json::Value::Null, "{rows}");
    assert_eq!(rows[1][5], serde_json::Value::Null, "{rows}");

    // Extra fields are an error even so, on their own line.
    lines[2] = format!("{},extra,more", good.lines().nth(2).unwrap());
    std::fs::write(&customers, lines.join("\n") + "\n").unwrap();
    let o = medallion(&ws, &[&["materialize", d][..], &select[..]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_plain(&text(&o));
    let error = step_error(&json(&o), "raw_customer_data");
    assert!(
        error.contains("data/customers.csv line 3 has 8 fields, but the header has 6"),
        "{error}"
    );

    // missing_fields survives export → import → export.
    let o = medallion(
        &ws,
        &[
            "export",
            "customer_analytics",
            tmp.path().join("out").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let exported = std::fs::read_to_string(tmp.path().join("out/medallion.toml")).unwrap();
    assert!(exported.contains("missing_fields = \"null\""), "{exported}");
    assert_eq!(
        exported.matches("missing_fields").count(),
        1,
        "only the source that opts in says it"
    );
}

#[test]
fn a_schema_column_absent_from_the_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let d = dir.to_str().unwrap();
    edit(
        &dir.join("medallion.toml"),
        "status = \"string\"",
        "status = \"string\"\nshipping = \"string\"",
    );
    let o = medallion(
        &ws,
        &[
            "materialize",
            d,
            "--select",
            "raw_orders",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let error = step_error(&json(&o), "raw_orders");
    assert!(
        error.contains("`shipping` is declared in the source's `schema`, but data/orders.csv has no such column (its header has order_id, customer_id, order_date, amount, status)"),
        "{error}"
    );
}

#[test]
fn a_ten_megabyte_field_never_floods_a_message_or_the_workspace() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let d = dir.to_str().unwrap();
    let orders = dir.join("data/orders.csv");
    let mut lines: Vec<String> = std::fs::read_to_string(&orders)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut fields: Vec<String> = lines[6].split(',').map(str::to_owned).collect();
    fields[3] = "X".repeat(10_000_000);
    lines[6] = fields.join(",");
    std::fs::write(&orders, lines.join("\n") + "\n").unwrap();
    for format in ["text", "json"] {
        let o = medallion(&ws, &["materialize", d, "--format", format]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{}", &out[..out.len().min(2000)]);
        assert!(
            out.len() < 40_000,
            "{format}: {} bytes of output",
            out.len()
        );
        assert_plain(&out);
        assert!(
            out.contains("data/orders.csv line 7, column `amount`: `XXXX"),
            "{out}"
        );
        assert!(
            out.contains("(10,000,000 characters)` is not a valid decimal(12,2)"),
            "{out}"
        );
        let longest = out.split(|c| c != 'X').map(str::len).max().unwrap_or(0);
        assert!(longest <= 200, "{longest} characters of the value");
    }
    // The workspace keeps the messages clipped too (the file was 80 MB).
    let size = std::fs::metadata(&ws).unwrap().len()
        + std::fs::metadata(ws.with_extension("sqlite-wal")).map_or(0, |m| m.len());
    assert!(size < 8_000_000, "workspace is {size} bytes");
    // And a 10 MB string value that does parse stays out of check samples and profiles.
    let o = medallion(&ws, &["runs", "--format", "json", "--limit", "1"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn json_syntax_errors_name_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = tmp.path().join("events");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("medallion.toml"),
        "[project]\nname = \"events\"\n\n[assets.events]\nlayer = \"bronze\"\nsource = { kind = \"ndjson\", path = \"data/events.ndjson\" }\n\n[assets.docs]\nlayer = \"bronze\"\nsource = { kind = \"json\", path = \"data/docs.json\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("data/events.ndjson"),
        "{\"a\":1,\"b\":\"x\"}\n{\"a\":2,\"b\":\"y\"}\n{\"a\":3,\"b\":}\n",
    )
    .unwrap();
    std::fs::write(dir.join("data/docs.json"), "[{\"a\":1},\n {\"a\":2,}\n]").unwrap();
    let d = dir.to_str().unwrap();
    let o = medallion(&ws, &["materialize", d, "--format", "json"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert_plain(&out);
    let report = json(&o);
    let events = step_error(&report, "events");
    assert!(
        events.contains("data/events.ndjson line 3, column 12: expected value"),
        "{events}"
    );
    let docs = step_error(&report, "docs");
    assert!(
        docs.contains("data/docs.json line 2, column 9: expected a key in double quotes"),
        "{docs}"
    );
    for asset in ["events", "docs"] {
        let o = medallion(&ws, &["preview", d, asset]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert_plain(&text(&o));
        assert!(text(&o).contains(" line "), "{}", text(&o));
    }
}

/// `validate DIR`: exit code and output.
fn validate(ws: &Path, dir: &Path) -> (Option<i32>, String) {
    let o = medallion(ws, &["validate", dir.to_str().unwrap()]);
    let out = text(&o);
    assert_plain(&out);
    (o.status.code(), out)
}

#[test]
fn validate_refuses_compute_hints_over_any_tiers_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let toml = dir.join("medallion.toml");
    // order_history asks for Fargate: 2 vCPU, 8 GB. Fargate's largest task is 16 vCPU / 120 GB.
    edit(
        &toml,
        "tier = \"fargate\"\nvcpu = 2.0",
        "tier = \"fargate\"\nvcpu = 32.0",
    );
    let (code, out) = validate(&ws, &dir);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("error[invalid_compute] order_history (compute.vcpu): Fargate cannot run this: 32 vCPU is over Fargate's largest task (16 vCPU / 120 GB)"),
        "{out}"
    );
    std::fs::copy(example().join("medallion.toml"), &toml).unwrap();
    edit(
        &toml,
        "tier = \"fargate\"\nvcpu = 2.0\nmemory_mb = 8192",
        "tier = \"fargate\"\nvcpu = 2.0\nmemory_mb = 200000",
    );
    let (code, out) = validate(&ws, &dir);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("200000 MB is over Fargate's largest task"),
        "{out}"
    );
    // Auto tier with no node type: only EKS nodes that big could run it.
    std::fs::copy(example().join("medallion.toml"), &toml).unwrap();
    edit(
        &toml,
        "tier = \"fargate\"\nvcpu = 2.0\nmemory_mb = 8192",
        "vcpu = 2.0\nmemory_mb = 200000",
    );
    let (code, out) = validate(&ws, &dir);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("set a node_type hint"), "{out}");
    // Lambda's own limits are still refused.
    std::fs::copy(example().join("medallion.toml"), &toml).unwrap();
    edit(
        &toml,
        "tier = \"lambda\"\nmemory_mb = 1024\ntimeout_secs = 300",
        "tier = \"lambda\"\nmemory_mb = 1024\ntimeout_secs = 3000",
    );
    let (code, out) = validate(&ws, &dir);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("Lambda functions run at most 900 s, not 3000 s"),
        "{out}"
    );
}

#[test]
fn validate_refuses_a_partition_placeholder_in_an_unpartitioned_asset() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    edit(
        &dir.join("medallion.toml"),
        "path = \"data/orders.csv\"",
        "path = \"data/{partition}.csv\"",
    );
    edit(
        &dir.join("sql/daily_revenue.sql"),
        "FROM order_history",
        "FROM order_history WHERE order_date = '{partition}'",
    );
    let (code, out) = validate(&ws, &dir);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("error[invalid_partition] raw_orders (source.path): source.path uses {partition}, but asset `raw_orders` has no partitions"),
        "{out}"
    );
    assert!(
        out.contains("sql/daily_revenue.sql:")
            && out.contains("daily_revenue (sql): sql uses {partition}"),
        "{out}"
    );
}

#[test]
fn validate_refuses_a_secret_written_as_a_value_anywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = tmp.path().join("leaky");
    std::fs::create_dir_all(&dir).unwrap();
    let secret = "hunter2-do-not-print";
    std::fs::write(
        dir.join("medallion.toml"),
        format!(
            r#"[project]
name = "leaky"

[resources.api]
kind = "http"
base_url = "https://etl:{secret}@api.example.com/v1"

[resources.store]
kind = "s3"
bucket = "data"
endpoint_url = "https://s3.example.com/?X-Amz-Signature={secret}"

[resources.db]
kind = "postgres"
host = "etl:{secret}@db.internal"
database = "sales"
user = "etl"

[assets.remote]
layer = "bronze"
source = {{ kind = "http", resource = "api", path = "/orders", params = {{ api_key = "{secret}" }} }}

[assets.rows]
layer = "bronze"
source = {{ kind = "postgres", resource = "db", query = "SELECT * FROM dblink('postgresql://etl:{secret}@other/sales', 'SELECT 1')" }}
"#
        ),
    )
    .unwrap();
    let (code, out) = validate(&ws, &dir);
    assert_eq!(code, Some(2), "{out}");
    assert!(!out.contains(secret), "the secret was echoed:\n{out}");
    for expected in [
        "resource `api`: base_url holds a password in a URL (user:password@host)",
        "resource `store`: endpoint_url holds a secret parameter in a URL's query",
        "resource `db`: host holds a password before the host name",
        "remote (source.params.api_key): source parameter `api_key` is a credential written as a value",
        "rows (source.query): source.query holds a password in a URL",
    ] {
        assert!(out.contains(expected), "{expected:?} not in:\n{out}");
    }
    assert!(out.contains("{ keyring = \"NAME\" }"), "{out}");
}

#[test]
fn project_files_through_a_symlink_out_of_the_project_are_refused_and_a_bom_is_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    // A UTF-8 byte order mark (Windows editors) in front of SQL and TOML is fine.
    for f in ["sql/daily_revenue.sql", "medallion.toml", "layout.toml"] {
        let path = dir.join(f);
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(std::fs::read(&path).unwrap());
        std::fs::write(&path, bytes).unwrap();
    }
    let (code, out) = validate(&ws, &dir);
    assert_eq!(code, Some(0), "{out}");
    // An SQL file that is a link to a file outside the project directory.
    let outside = tmp.path().join("outside.sql");
    std::fs::write(&outside, "SELECT * FROM order_history").unwrap();
    let sql = dir.join("sql/daily_revenue.sql");
    std::fs::remove_file(&sql).unwrap();
    std::os::unix::fs::symlink(&outside, &sql).unwrap();
    let (code, out) = validate(&ws, &dir);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("sql/daily_revenue.sql")
            && out.contains("is a symbolic link to")
            && out.contains("outside the project directory"),
        "{out}"
    );
    // A link inside the project is fine.
    std::fs::remove_file(&sql).unwrap();
    std::fs::write(
        dir.join("sql/real.sql"),
        std::fs::read(example().join("sql/daily_revenue.sql")).unwrap(),
    )
    .unwrap();
    std::os::unix::fs::symlink(dir.join("sql/real.sql"), &sql).unwrap();
    let (code, out) = validate(&ws, &dir);
    assert_eq!(code, Some(0), "{out}");
    // medallion.toml itself, linked from elsewhere.
    let toml = dir.join("medallion.toml");
    std::fs::rename(&toml, tmp.path().join("elsewhere.toml")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("elsewhere.toml"), &toml).unwrap();
    let (code, out) = validate(&ws, &dir);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("outside the project directory"), "{out}");
}

#[test]
fn out_of_range_cli_values_exit_2_without_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let d = dir.to_str().unwrap();
    let out_dir = tmp.path().join("out");
    let o = medallion(
        &ws,
        &[
            "materialize",
            d,
            "--export-dir",
            out_dir.to_str().unwrap(),
            "--float-precision",
            "65536",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_plain(&text(&o));
    assert!(text(&o).contains("65536 is not in 0..=32"), "{}", text(&o));
    let o = medallion(
        &ws,
        &[
            "sample-data",
            "--customers",
            "18446744073709551615",
            tmp.path().join("sample").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_plain(&text(&o));
    // The largest precision still works.
    let o = medallion(
        &ws,
        &[
            "materialize",
            d,
            "--export-dir",
            out_dir.to_str().unwrap(),
            "--float-precision",
            "32",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_partition_the_selection_does_not_have_is_refused_before_running() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let example = copy_example(tmp.path());
    let partitioned = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/partitioned");
    let cases: [(&Path, &[&str], &str); 5] = [
        (
            &example,
            &["--partition", "2024-01-01"],
            "no selected asset is partitioned, so partition `2024-01-01` means nothing",
        ),
        (
            &example,
            &["--select", "raw_orders", "--partition", "2024-01-01"],
            "asset raw_orders is not partitioned",
        ),
        (
            &partitioned,
            &["--partition", "2023-12-31"],
            "partition 2023-12-31 is before the partitions' start, 2024-01-01",
        ),
        (
            &partitioned,
            &["--partition", "yesterday"],
            "partition `yesterday` is not a date (YYYY-MM-DD)",
        ),
        (
            &partitioned,
            &["--partition-range", "2023-12-30..2024-01-02"],
            "partition 2023-12-30 is before the partitions' start",
        ),
    ];
    for (dir, args, expected) in cases {
        let o = medallion(
            &ws,
            &[&["materialize", dir.to_str().unwrap()][..], args].concat(),
        );
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}");
        assert!(out.contains(expected), "{args:?}: {out}");
        assert!(!out.contains("run started"), "{args:?} ran: {out}");
    }
    // Nothing ran, so no run was recorded.
    let o = medallion(&ws, &["runs", "--format", "json"]);
    assert_eq!(json(&o), serde_json::json!([]), "{}", text(&o));
}

#[test]
fn a_workspace_error_is_said_once() {
    let tmp = tempfile::tempdir().unwrap();
    let o = medallion(tmp.path(), &["list"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("it is a directory"), "{err}");
    // A file SQLite cannot open: its reason appears once.
    let o = medallion(Path::new("/proc/medallion-ws.sqlite"), &["list"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(
        err.matches("unable to open database file").count(),
        1,
        "{err}"
    );
    assert!(!err.contains("Error code"), "{err}");
}

#[test]
fn a_full_disk_is_said_plainly() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let d = dir.to_str().unwrap();
    let o = medallion(&ws, &["materialize", d, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run_id = json(&o)["runs"][0]["run_id"].as_str().unwrap().to_owned();
    // /dev/full answers every write with ENOSPC, as a full disk does.
    let o = medallion(&ws, &["report", &run_id, "--html", "/dev/full"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(
        err.trim(),
        "error: the disk is full: cannot write /dev/full"
    );
    // An export whose file lands on a full device.
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink("/dev/full", out.join("daily_revenue.csv.partial")).unwrap();
    let o = medallion(
        &ws,
        &[
            "materialize",
            d,
            "--select",
            "daily_revenue",
            "--export-dir",
            out.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(err.contains("the disk is full"), "{err}");
    assert!(!err.contains("os error 28"), "{err}");
}

#[test]
fn a_failed_check_says_its_cause_and_the_headline_names_asset_and_check() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    edit(
        &dir.join("medallion.toml"),
        "kind = \"not_null\"\ncolumns = [\"email\"]",
        "kind = \"not_null\"\ncolumns = [\"e_mail\"]",
    );
    let o = medallion(&ws, &["materialize", dir.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("cleaned_customer_data: check cleaned_customer_data_email_not_null FAILED (error): No null e-mail: could not evaluate: not found: column `e_mail` does not exist"),
        "{out}"
    );
    assert!(
        out.contains("run failure: check cleaned_customer_data_email_not_null of asset cleaned_customer_data failed: No null e-mail: could not evaluate: not found: column `e_mail` does not exist"),
        "{out}"
    );
}

// ------------------------------------------------------------------ mutated inputs (proptest)

mod mutated {
    use std::panic::AssertUnwindSafe;
    use std::path::Path;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex, Once};

    use medallion::app;
    use proptest::prelude::*;

    /// Every panic in this process, on any thread (polars' workers too), with its message.
    static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

    /// Set in the child process that runs one in-process property test alone, so the panics
    /// recorded are that test's (another test's failed assertion is a panic too).
    const ISOLATED: &str = "MEDALLION_TEST_ISOLATED";

    fn in_child() -> bool {
        std::env::var_os(ISOLATED).is_some()
    }

    /// Runs the test `name` of this binary alone in a child process; it must pass.
    fn run_alone(name: &str) {
        let name = crate::common::test_path(module_path!(), name);
        let o = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &name, "--nocapture", "--test-threads", "1"])
            .env(ISOLATED, "1")
            .output()
            .unwrap();
        let out = super::text(&o);
        assert!(o.status.success(), "{out}");
        assert!(out.contains("1 passed"), "the child ran no test:\n{out}");
    }

    #[test]
    fn mutated_project_files_and_inputs_never_panic_in_process() {
        run_alone("mutated_project_files_and_inputs_never_panic");
    }

    #[test]
    fn preview_never_panics_whatever_a_string_column_holds_in_process() {
        run_alone("preview_never_panics_whatever_a_string_column_holds");
    }

    fn record_panics() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let thread = std::thread::current().name().unwrap_or("?").to_owned();
                if let Ok(mut p) = PANICS.lock() {
                    p.push(format!("[{thread}] {info}"));
                }
                default(info);
            }));
        });
    }

    /// The example's files, its CSV inputs cut to their first rows so a case runs quickly.
    fn base_files() -> Vec<(String, Vec<u8>)> {
        let root = super::example();
        let mut files = Vec::new();
        for rel in [
            "medallion.toml",
            "layout.toml",
            "sql/order_history.sql",
            "sql/customer_lifetime_value.sql",
            "sql/daily_revenue.sql",
        ] {
            files.push((rel.to_owned(), std::fs::read(root.join(rel)).unwrap()));
        }
        for rel in ["data/customers.csv", "data/orders.csv"] {
            let text = std::fs::read_to_string(root.join(rel)).unwrap();
            let head: Vec<&str> = text.lines().take(60).collect();
            files.push((rel.to_owned(), (head.join("\n") + "\n").into_bytes()));
        }
        files
    }

    /// Bytes a user, an editor or a broken export might put anywhere.
    const SNIPPETS: &[&[u8]] = &[
        b"\"",
        b",",
        b"\n",
        b"\r\n",
        b"'",
        b"=",
        b"[",
        b"]]",
        b"{partition}",
        "€".as_bytes(),
        b"\xEF\xBB\xBF",
        b"\xff\xfe",
        b"\x00",
        b"\t",
        b"NaN",
        b"-1",
        b"99999999999999999999999",
        b"1e308",
        b"null",
        b"SELECT",
        b"--",
        b"/*",
        b";",
        b"\\",
        "é\u{301}😀".as_bytes(),
        b"[assets.x]\nlayer = \"bronze\"\n",
        b"delimiter = \"\xe2\x82\xac\"\n",
        b"missing_fields = \"null\"\n",
    ];

    #[derive(Debug, Clone)]
    enum Mutation {
        Insert { at: usize, snippet: usize },
        Delete { at: usize, len: usize },
        Truncate { at: usize },
        DuplicateLine { line: usize },
        Byte { at: usize, byte: u8 },
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), 0..SNIPPETS.len())
                .prop_map(|(at, snippet)| Mutation::Insert { at, snippet }),
            (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
            any::<usize>().prop_map(|at| Mutation::Truncate { at }),
            any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
            (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Byte { at, byte }),
        ]
    }

    fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
        let n = bytes.len().max(1);
        match *m {
            Mutation::Insert { at, snippet } => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, SNIPPETS[snippet].iter().copied());
            }
            Mutation::Delete { at, len } => {
                let at = at % n;
                let end = (at + len).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Mutation::Truncate { at } => bytes.truncate(at % n),
            Mutation::DuplicateLine { line } => {
                let text = bytes.clone();
                let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
                let i = line % lines.len().max(1);
                if let Some(l) = lines.get(i) {
                    let start: usize = lines[..i].iter().map(|l| l.len() + 1).sum();
                    let mut dup = l.to_vec();
                    dup.push(b'\n');
                    let start = start.min(bytes.len());
                    bytes.splice(start..start, dup);
                }
            }
            Mutation::Byte { at, byte } => {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    bytes[at] = byte;
                }
            }
        }
    }

    fn write(dir: &Path, files: &[(String, Vec<u8>)]) {
        for (rel, bytes) in files {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
    }

    /// validate, import, materialize and preview in-process: each returns a result, none
    /// panics.
    fn exercise(dir: &Path, ws_path: &Path) {
        let Ok(loaded) = app::validate_dir(dir) else {
            return;
        };
        let keys: Vec<_> = loaded
            .project
            .assets
            .iter()
            .map(|a| a.key.clone())
            .collect();
        let Ok(mut ws) = app::open_workspace(ws_path) else {
            return;
        };
        let Ok(report) = app::import_project(&mut ws, dir, true, false) else {
            return;
        };
        let Ok(stored) = ws.load_project(&report.name) else {
            return;
        };
        let request = app::run::MaterializeRequest {
            selection: "*".into(),
            partitions: vec![],
            force: false,
            trigger: "proptest".into(),
            ..Default::default()
        };
        let cancel = Arc::new(AtomicBool::new(false));
        let _ = app::run::materialize(&mut ws, &stored, &request, &mut |_, _| {}, &cancel);
        for key in keys.iter().take(3) {
            let _ = app::run::preview(&ws, &stored, key, 5);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 24,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Mutated project files and CSV inputs never make validate, materialize or preview
        /// panic; they answer with a result (exit 0, 1 or 2 on the command line).
        #[test]
        fn mutated_project_files_and_inputs_never_panic(
            edits in proptest::collection::vec((0usize..7, mutation()), 1..4)
        ) {
            if !in_child() {
                // Run by `…_in_process` in a process of its own.
                return Ok(());
            }
            record_panics();
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("p");
            let mut files = base_files();
            for (file, m) in &edits {
                let i = file % files.len();
                apply(&mut files[i].1, m);
            }
            write(&dir, &files);
            let before = PANICS.lock().unwrap().len();
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                exercise(&dir, &tmp.path().join("ws.sqlite"));
            }));
            let panics: Vec<String> = PANICS.lock().unwrap()[before..].to_vec();
            prop_assert!(outcome.is_ok() && panics.is_empty(), "{edits:?}: {panics:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 32,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Whatever bytes a string column holds — broken UTF-8, combining marks, wide and
        /// zero-width characters, line breaks, 10,000-character cells — a preview answers
        /// with rows or an error, never a panic.
        #[test]
        fn preview_never_panics_whatever_a_string_column_holds(
            cells in proptest::collection::vec(
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..60),
                    ".{0,40}".prop_map(String::into_bytes),
                    (0usize..10_000).prop_map(|n| "é\u{301}".repeat(n).into_bytes()),
                ],
                1..12,
            )
        ) {
            if !in_child() {
                return Ok(());
            }
            record_panics();
            let tmp = tempfile::tempdir().unwrap();
            let mut csv = b"id,s\n".to_vec();
            for (i, cell) in cells.iter().enumerate() {
                csv.extend_from_slice(format!("{i},\"").as_bytes());
                for b in cell {
                    if *b == b'"' {
                        csv.push(b'"');
                    }
                    csv.push(*b);
                }
                csv.extend_from_slice(b"\"\n");
            }
            std::fs::write(tmp.path().join("t.csv"), &csv).unwrap();
            let mut project = medallion::model::Project::new("cells");
            let mut asset = medallion::model::AssetSpec::new("t", medallion::model::Layer::Bronze);
            asset.definition = medallion::model::AssetDefinition::Source(
                medallion::model::SourceSpec::File {
                    path: "t.csv".into(),
                    format: medallion::model::FileFormat::Csv(medallion::model::CsvOptions::default()),
                },
            );
            project.assets.push(asset);
            let key = medallion::model::AssetKey::new("t");
            let before = PANICS.lock().unwrap().len();
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                if let Ok(p) = medallion::engine::preview(&project, tmp.path(), &[], &key, 20) {
                    let _ = serde_json::to_string(&p).unwrap();
                    for row in 0..p.rows.len() {
                        let _ = p.rows.get(row);
                    }
                    let _ = p.text.len();
                }
            }));
            let panics: Vec<String> = PANICS.lock().unwrap()[before..].to_vec();
            prop_assert!(outcome.is_ok() && panics.is_empty(), "{panics:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 4,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The same through the command line: exit 0, 1 or 2, never a panic.
        #[test]
        fn mutated_projects_exit_0_1_or_2_on_the_command_line(
            edits in proptest::collection::vec((0usize..7, mutation()), 1..3)
        ) {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("p");
            let mut files = base_files();
            for (file, m) in &edits {
                let i = file % files.len();
                apply(&mut files[i].1, m);
            }
            write(&dir, &files);
            let ws = tmp.path().join("ws.sqlite");
            let d = dir.to_str().unwrap();
            for args in [
                vec!["validate", d],
                vec!["materialize", d],
                vec!["preview", d, "raw_orders", "--limit", "5"],
            ] {
                let o = super::medallion(&ws, &args);
                let out = super::text(&o);
                prop_assert!(
                    matches!(o.status.code(), Some(0..=2)),
                    "{args:?} after {edits:?}: exit {:?}\n{out}",
                    o.status.code()
                );
                prop_assert!(!out.contains("panicked"), "{args:?} after {edits:?}:\n{out}");
            }
        }
    }
}

// ------------------------------------------------------------------ the studio

mod studio {
    use egui::accesskit::Role;
    use egui::{Key, vec2};
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use medallion::format;
    use medallion::ui::{Studio, UICommand, frame_ui};

    fn harness(width: f32) -> Harness<'static, Studio> {
        let project = format::read_project(&super::example()).unwrap().project;
        let studio = Studio::new(Some(project), "test.sqlite".into());
        let mut h = Harness::builder()
            .with_size(vec2(width, 700.0))
            .with_max_steps(40)
            .build_ui_state(|ui, studio: &mut Studio| frame_ui(ui, studio), studio);
        h.run_ok();
        h
    }

    #[test]
    fn a_long_notice_fits_the_window_shows_all_on_request_copies_and_dismisses() {
        for width in [1400.0, 420.0] {
            let mut h = harness(width);
            let long = format!(
                "asset raw_orders: cannot read data/orders.csv: {}\nsecond line\nthird\nfourth\nfifth line is hidden",
                "a very long sentence about what went wrong ".repeat(60)
            );
            h.state_mut().show_error(&long);
            h.run_ok();
            let shown = h
                .get_by_label_contains("asset raw_orders: cannot read")
                .rect();
            assert!(
                shown.left() >= 0.0 && shown.right() <= width,
                "the notice {shown:?} leaves a {width}-wide window"
            );
            assert!(shown.height() < 200.0, "clipped to a few lines: {shown:?}");
            assert!(h.query_by_label_contains("fifth line is hidden").is_none());
            h.get_by_label("Show all").click();
            h.run_ok();
            assert!(h.state().notice.as_ref().unwrap().expanded);
            h.get_by_label_contains("fifth line is hidden");
            h.get_by_label("Copy").click_accesskit();
            let mut copied = false;
            for _ in 0..4 {
                h.step();
                copied |= h
                    .output()
                    .platform_output
                    .commands
                    .iter()
                    .any(|c| matches!(c, egui::OutputCommand::CopyText(t) if *t == long));
            }
            assert!(copied, "the whole text went to the clipboard");
            h.run_ok();
            let dismiss = h.get_by_label("Dismiss").rect();
            assert!(
                dismiss.right() <= width && dismiss.bottom() <= 700.0,
                "Dismiss at {dismiss:?} is outside the {width}-wide window"
            );
            h.get_by_label("Dismiss").click_accesskit();
            h.run_ok();
            assert!(h.state().notice.is_none(), "{width}: not dismissed");
        }
        // Escape dismisses a notice too.
        let mut h = harness(1000.0);
        h.state_mut().show_error("something failed");
        h.run_ok();
        h.key_press(Key::Escape);
        h.run_ok();
        assert!(h.state().notice.is_none());
    }

    #[test]
    fn escape_closes_every_dialog() {
        let cases: [(UICommand, &str); 7] = [
            (UICommand::CommandPalette, "Commands"),
            (UICommand::Find, "Find asset"),
            (UICommand::OpenProject, "Open project"),
            (UICommand::Materialize, "Materialize"),
            (UICommand::Connections, "Connections"),
            (UICommand::Prices, "Prices"),
            (UICommand::Costs, "Costs"),
        ];
        for (command, title) in cases {
            let mut h = harness(1400.0);
            // A selected card: Escape closes the dialog first, the selection stays.
            h.get_by_label("raw_orders").click();
            h.run_ok();
            let ctx = h.ctx.clone();
            h.state_mut().run_command(&ctx, command);
            h.run_ok();
            assert!(
                h.query_by_label(title).is_some(),
                "{command:?} opened no window titled {title}"
            );
            h.key_press(Key::Escape);
            h.run_ok();
            assert!(
                h.query_by_label(title).is_none(),
                "Escape did not close {title}"
            );
            assert!(
                !h.state().canvas.selection.is_empty(),
                "Escape on {title} also cleared the canvas selection"
            );
        }
        // The add-asset palette.
        let mut h = harness(1400.0);
        h.get_by_label("Add asset…").click();
        h.run_ok();
        assert!(h.query_by_label("Add asset").is_some());
        h.key_press(Key::Escape);
        h.run_ok();
        assert!(h.state().windows.add_palette.is_none());
    }

    /// With no keyring (no D-Bus session to reach a Secret Service), saving a password stores
    /// no reference to it; the form offers an environment variable instead, which saves.
    /// Runs in a child process with the keyring made unreachable.
    #[test]
    fn without_a_keyring_connections_saves_no_reference_and_offers_an_env_var() {
        const CHILD: &str = "MEDALLION_TEST_NO_KEYRING_CHILD";
        if std::env::var_os(CHILD).is_none() {
            let o = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    &crate::common::test_path(
                        module_path!(),
                        "without_a_keyring_connections_saves_no_reference_and_offers_an_env_var",
                    ),
                    "--nocapture",
                ])
                .env(CHILD, "1")
                .env(
                    "DBUS_SESSION_BUS_ADDRESS",
                    "unix:path=/nonexistent/medallion-test-bus",
                )
                .env_remove("XDG_RUNTIME_DIR")
                .output()
                .unwrap();
            let out = super::text(&o);
            assert!(o.status.success(), "{out}");
            assert!(out.contains("1 passed"), "the child ran no test:\n{out}");
            return;
        }
        let mut h = harness(1400.0);
        h.state_mut().windows.connections =
            Some(medallion::ui::panels::connections::ConnectionsState::default());
        h.run_ok();
        h.get_by_label("Add Postgres").click();
        h.run_ok();
        h.get_by_role_and_label(Role::TextInput, "Database").focus();
        h.run_ok();
        h.get_by_role_and_label(Role::TextInput, "Database")
            .type_text("sales");
        h.run_ok();
        h.get_by_role_and_label(Role::PasswordInput, "Password")
            .focus();
        h.run_ok();
        h.get_by_role_and_label(Role::PasswordInput, "Password")
            .type_text("hunter2-typed");
        h.run_ok();
        h.get_by_label("Save resource").click();
        let started = std::time::Instant::now();
        while h.query_by_label_contains("Not saved").is_none() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "no answer from the keyring"
            );
            h.step();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        h.run_ok();
        assert!(
            h.state().project().resource("postgres_1").is_none(),
            "a reference to a secret that was never stored was saved"
        );
        let offer = "MEDALLION_CUSTOMER_ANALYTICS_POSTGRES_1_PASSWORD";
        h.get_by_label_contains(offer);
        // The same form now names the variable; saving refers to it.
        assert_eq!(
            h.get_by_role_and_label(Role::TextInput, "Password")
                .value()
                .as_deref(),
            Some(offer)
        );
        h.get_by_label("Save resource").click();
        h.run_ok();
        let saved = h.state().project().resource("postgres_1").cloned().unwrap();
        match saved.kind {
            medallion::model::ResourceKind::Postgres { password, .. } => assert_eq!(
                password,
                Some(medallion::model::SecretRef::Env(offer.to_owned()))
            ),
            other => panic!("saved as {other:?}"),
        }
    }
}

/// A workspace with project `gen` and `n` finished runs (no run executes).
fn workspace_with_runs(dir: &Path, n: usize) -> PathBuf {
    let ws = dir.join("ws.sqlite");
    let mut w = medallion::store::Workspace::open(&ws).unwrap();
    w.save_project(&medallion::model::synthetic::generate("gen", 3, 1), None)
        .unwrap();
    let at = medallion::model::time::parse("2026-11-26T00:00:00.000Z").unwrap();
    for i in 0..n {
        w.create_run(&medallion::model::RunRecord {
            id: format!("20261126T000000-{i:05}").into(),
            project: "gen".into(),
            selection: "*".into(),
            partition: None,
            target: "local".into(),
            status: medallion::model::RunStatus::Success,
            trigger: "test".into(),
            created_at: at + chrono::Duration::seconds(i as i64),
            started_at: Some(at + chrono::Duration::seconds(i as i64)),
            ended_at: Some(at + chrono::Duration::seconds(i as i64 + 1)),
            error: None,
            allow_failed_upstream: false,
            checks_only: false,
            end_known: true,
        })
        .unwrap();
    }
    ws
}

/// `medallion runs gen | head -1`: the reader goes away after one line (or before any); the
/// command stops quietly with success, as `ls | head -1` does — no panic, no message.
#[test]
fn output_into_a_closed_pipe_ends_quietly_not_in_a_panic() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    // 2,000 runs print well over a pipe's 64 KiB buffer, so the writer meets the closed pipe.
    let ws = workspace_with_runs(tmp.path(), 2000);
    // Standard error goes to a file, so nothing the command says there can block it.
    let stderr = tmp.path().join("stderr.txt");
    let spawn = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_medallion"))
            .args(args)
            .env("MEDALLION_WORKSPACE", &ws)
            .env_remove("MEDALLION_LOG")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap()
    };
    let finish = |mut child: std::process::Child, what: &str| {
        let status = child.wait().unwrap();
        let err = std::fs::read_to_string(&stderr).unwrap();
        assert_eq!(status.code(), Some(0), "{what}: {status:?}\n{err}");
        assert!(err.is_empty(), "{what}: {err}");
    };
    for args in [
        &["runs", "gen", "--limit", "5000"][..],
        &["runs", "gen", "--limit", "5000", "--format", "json"][..],
    ] {
        // `| head -1`: one line read, then the pipe closed.
        let mut child = spawn(args);
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty(), "{args:?} printed nothing");
        finish(child, &format!("{args:?} | head -1"));
        // `| true`: the reader is gone before the first line.
        let mut child = spawn(args);
        drop(child.stdout.take());
        finish(child, &format!("{args:?} | true"));
    }
}

/// A column named like Medallion's own (`__medallion_…`: row numbers, dense groupings' states)
/// ends the step that meets it with one sentence naming the column, not polars' duplicate-column
/// error with its plan: a source whose file has one, and a transform reading a stored table that
/// has one (stored before the rule, or by another tool).
#[test]
fn a_column_named_like_medallions_own_is_refused_in_one_sentence() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let dir = copy_example(tmp.path());
    let d = dir.to_str().unwrap();
    let customers = dir.join("data/customers.csv");
    edit(
        &customers,
        "customer_id,first_name,last_name,",
        "customer_id,first_name,__medallion_keep_latest_row,",
    );
    edit(
        &dir.join("medallion.toml"),
        "last_name = \"string\"",
        "__medallion_keep_latest_row = \"string\"",
    );
    let o = medallion(&ws, &["materialize", d, "--format", "json"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert_plain(&out);
    for bad in ["duplicate", "Resolved plan", "FAILED HERE"] {
        assert!(!out.contains(bad), "{bad:?} in:\n{out}");
    }
    let error = step_error(&json(&o), "raw_customer_data");
    assert_eq!(
        error,
        "asset raw_customer_data: its source has a column named `__medallion_keep_latest_row`, \
         but names beginning with `__medallion_` are reserved for Medallion's own columns; \
         rename it"
    );
    // The preview says the same.
    let o = medallion(&ws, &["preview", d, "raw_customer_data", "--limit", "5"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("reserved for Medallion's own columns"),
        "{}",
        text(&o)
    );
}
