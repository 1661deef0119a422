//! Sources behind resources against real peers: `PostgreSQL`, S3 on a moto server, an HTTP API
//! served by this test, and the OS keyring (GNOME Keyring's Secret Service), each driven
//! through the `medallion` binary as a user would. `tests/run` starts the servers and sets
//! `MEDALLION_TEST_PEERS=1`; then a missing server is a failure. Without it (a plain
//! `cargo test` on a dev box) the peer tests return early and say so; the HTTP test always runs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::KEYRING;

use crate::common::peers;

fn peer_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("MEDALLION_TEST_PEERS=1 but {name} is not set: run the suite with tests/run")
    })
}

/// Runs the binary with the AWS test credentials in its environment; an `env` entry with an
/// empty value removes that variable instead.
fn medallion(workspace: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_medallion"));
    cmd.args(args)
        .env("MEDALLION_WORKSPACE", workspace)
        .env("MEDALLION_LOG", "medallion=debug")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn().expect("run medallion");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().expect("wait for medallion")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Filled<'a> {
    pg_port: &'a str,
    pg_sslmode: &'a str,
    pg_secret: &'a str,
    bucket: &'a str,
    moto_url: &'a str,
    api_url: &'a str,
}

/// The fixture project with its placeholders filled in, in a fresh directory.
fn project(dir: &Path, f: &Filled<'_>) -> PathBuf {
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resources/medallion.toml.in"),
    )
    .unwrap();
    let text = template
        .replace("@PG_PORT@", f.pg_port)
        .replace("@PG_SECRET@", f.pg_secret)
        .replace("@PG_SSLMODE@", f.pg_sslmode)
        .replace("@BUCKET@", f.bucket)
        .replace("@MOTO_URL@", f.moto_url)
        .replace("@API_URL@", f.api_url);
    let p = dir.join("project");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("medallion.toml"), text).unwrap();
    p
}

fn defaults() -> Filled<'static> {
    Filled {
        pg_port: "1",
        pg_sslmode: "prefer",
        pg_secret: "unused_secret",
        bucket: "unused-bucket",
        moto_url: "http://127.0.0.1:1",
        api_url: "http://127.0.0.1:1/",
    }
}

fn preview_json(ws: &Path, project: &Path, asset: &str, env: &[(&str, &str)]) -> serde_json::Value {
    let out = medallion(
        ws,
        &[
            "preview",
            project.to_str().unwrap(),
            asset,
            "--limit",
            "5",
            "--format",
            "json",
        ],
        None,
        env,
    );
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn dtypes(preview: &serde_json::Value) -> Vec<(String, String)> {
    preview["columns"]
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

/// Every file under `dir`, recursively.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn assert_absent(secret: &str, files: &[PathBuf], captured: &str) {
    assert!(
        !captured.contains(secret),
        "the secret leaked into output: {captured}"
    );
    for f in files {
        let bytes = std::fs::read(f).unwrap();
        let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "the secret leaked into {}", f.display());
    }
}

// ---------------------------------------------------------------- HTTP (always runs)

/// A tiny JSON API: `/api/orders?status=open` in three pages — page 1 links page 2 with a
/// `next` body field, page 2 fails once with 503 and then links page 3 with a `Link` header.
fn serve_api(token: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let failed_once = Arc::new(Mutex::new(false));
    std::thread::Builder::new()
        .name("test-api".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::Relaxed);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut authorized = false;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                    if line.to_ascii_lowercase().starts_with("authorization:")
                        && line.trim_end().ends_with(&format!("Bearer {token}"))
                    {
                        authorized = true;
                    }
                }
                let target = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, extra, body) = if !authorized {
                    ("401 Unauthorized", String::new(), r#"{"error":"no"}"#.to_owned())
                } else if !target.contains("status=open") {
                    ("400 Bad Request", String::new(), r#"{"error":"status"}"#.to_owned())
                } else if target.contains("page=3") {
                    ("200 OK", String::new(), r#"{"data":{"items":[{"id":5,"amount":5.0}]}}"#.to_owned())
                } else if target.contains("page=2") {
                    let mut failed = failed_once.lock().unwrap();
                    if *failed {
                        (
                            "200 OK",
                            format!("Link: <http://127.0.0.1:{port}/api/orders?status=open&page=3>; rel=\"next\"\r\n"),
                            r#"{"data":{"items":[{"id":3,"amount":3.0},{"id":4,"amount":4.0}]}}"#.to_owned(),
                        )
                    } else {
                        *failed = true;
                        ("503 Service Unavailable", "Retry-After: 0\r\n".to_owned(), "{}".to_owned())
                    }
                } else {
                    (
                        "200 OK",
                        String::new(),
                        r#"{"data":{"items":[{"id":1,"amount":1.5},{"id":2,"amount":2.5}]},"next":"/api/orders?status=open&page=2"}"#.to_owned(),
                    )
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
                    body.len()
                );
            }
        })
        .unwrap();
    (format!("http://127.0.0.1:{port}/api/"), hits)
}

#[test]
fn http_source_follows_pages_retries_and_sends_the_token() {
    const TOKEN: &str = "tok-3a9f-distinctive";
    let dir = tempfile::tempdir().unwrap();
    let (api_url, hits) = serve_api(TOKEN);
    let project = project(
        dir.path(),
        &Filled {
            api_url: &api_url,
            ..defaults()
        },
    );
    let ws = dir.path().join("ws.sqlite");
    let env = [("MEDALLION_TEST_API_TOKEN", TOKEN)];
    let out = medallion(
        &ws,
        &[
            "materialize",
            project.to_str().unwrap(),
            "--select",
            "api_orders+",
            "--format",
            "json",
        ],
        None,
        &env,
    );
    let captured = text(&out);
    assert!(out.status.success(), "{captured}");
    assert!(
        hits.load(Ordering::Relaxed) >= 4,
        "three pages and one retry"
    );
    let p = preview_json(&ws, &project, "api_totals", &env);
    assert_eq!(p["rows"][0][0], "5", "{p}");
    assert_eq!(p["rows"][0][1], "16.0", "{p}");
    let p = preview_json(&ws, &project, "api_orders", &env);
    assert_eq!(
        dtypes(&p),
        [("id".into(), "i64".into()), ("amount".into(), "f64".into())]
    );

    // A wrong token: authentication failed, named, without the token.
    let out = medallion(
        &ws,
        &[
            "materialize",
            project.to_str().unwrap(),
            "--select",
            "api_orders",
            "--force",
        ],
        None,
        &[("MEDALLION_TEST_API_TOKEN", "wrong-token-77")],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("authentication failed for resource `api`"),
        "{t}"
    );
    assert!(!t.contains("wrong-token-77"), "{t}");

    // A missing env secret says which.
    let out = Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(["resource", "test", project.to_str().unwrap(), "api"])
        .env("MEDALLION_WORKSPACE", &ws)
        .env_remove("MEDALLION_TEST_API_TOKEN")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("environment variable `MEDALLION_TEST_API_TOKEN` is not set"),
        "{t}"
    );

    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    assert_absent(TOKEN, &files, &captured);
}

#[test]
fn an_unreachable_api_fails_within_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: connection refused, retried with backoff, then a clear error.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let project = project(
        dir.path(),
        &Filled {
            api_url: &url,
            ..defaults()
        },
    );
    let started = std::time::Instant::now();
    let out = medallion(
        &dir.path().join("ws.sqlite"),
        &["preview", project.to_str().unwrap(), "api_orders"],
        None,
        &[("MEDALLION_TEST_API_TOKEN", "x-token-123")],
    );
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("cannot reach"), "{t}");
    assert!(t.contains("gave up after 4 retries"), "{t}");
    assert!(
        started.elapsed().as_secs() < 60,
        "took {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------- PostgreSQL

#[test]
fn postgres_source_feeds_downstream_assets_and_never_leaks_the_password() {
    if !peers() {
        return;
    }
    let _guard = KEYRING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let port = peer_env("MEDALLION_TEST_PG_PORT");
    let password = peer_env("MEDALLION_TEST_PG_PASSWORD");
    let dir = tempfile::tempdir().unwrap();
    let secret = "medallion_test_pg_password";
    let project = project(
        dir.path(),
        &Filled {
            pg_port: &port,
            pg_secret: secret,
            ..defaults()
        },
    );
    let ws = dir.path().join("ws.sqlite");
    let p = project.to_str().unwrap();
    let mut captured = String::new();

    // Not yet in the keyring: the error says which secret and how to set it.
    let _ = medallion(&ws, &["secret", "delete", secret], None, &[]);
    let out = medallion(&ws, &["resource", "test", p, "warehouse"], None, &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains(&format!("medallion secret set {secret}")), "{t}");

    let out = medallion(&ws, &["resource", "list", p, "--format", "json"], None, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warehouse = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "warehouse")
        .unwrap();
    assert_eq!(warehouse["secrets"][0]["available"], false, "{listed}");

    let wrong = "wrong-pw-5531-distinct";
    pg_wrong_password(&ws, p, secret, wrong, &mut captured);

    // The right one, through stdin with a trailing newline.
    let out = medallion(
        &ws,
        &["secret", "set", secret],
        Some(&format!("{password}\n")),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = medallion(
        &ws,
        &["resource", "test", p, "warehouse", "--format", "json"],
        None,
        &[],
    );
    let t = text(&out);
    captured.push_str(&t);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("connected to database `medallion_test` as `medallion` over TLS"),
        "{t}"
    );

    let export_outputs = dir.path().join("outputs");
    let out = medallion(
        &ws,
        &[
            "materialize",
            p,
            "--select",
            "pg_orders+",
            "--format",
            "json",
            "--export-dir",
            export_outputs.to_str().unwrap(),
        ],
        None,
        &[],
    );
    let t = text(&out);
    captured.push_str(&t);
    assert!(out.status.success(), "{t}");

    // Unchanged data: the query runs again, its data version matches, nothing is rewritten.
    let out = medallion(&ws, &["materialize", p, "--select", "pg_orders"], None, &[]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("up to date"), "{t}");

    pg_types_and_every_row(&ws, &project);

    pg_tls_modes(dir.path(), &ws, &port, secret);

    // An unreachable server fails within a bounded time.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let other = project_at(
        dir.path(),
        "closed",
        &Filled {
            pg_port: &closed,
            pg_secret: secret,
            ..defaults()
        },
    );
    let started = std::time::Instant::now();
    let out = medallion(
        &ws,
        &["resource", "test", other.to_str().unwrap(), "warehouse"],
        None,
        &[],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("cannot reach postgres at 127.0.0.1"), "{t}");
    assert!(started.elapsed().as_secs() < 30);

    pg_ctrl_c_cancels_a_long_query(&ws, p, &mut captured);

    // Export the project, write a report, then scan everything for the password.
    let export = dir.path().join("export");
    let out = medallion(
        &ws,
        &["export", "resources", export.to_str().unwrap()],
        None,
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let runs = medallion(&ws, &["runs", "--format", "json"], None, &[]);
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    for run in runs.as_array().unwrap() {
        let id = run["id"].as_str().unwrap();
        let html = dir.path().join(format!("report-{id}.html"));
        let json = dir.path().join(format!("report-{id}.json"));
        let out = medallion(
            &ws,
            &[
                "report",
                id,
                "--html",
                html.to_str().unwrap(),
                "--json",
                json.to_str().unwrap(),
            ],
            None,
            &[],
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().ends_with("ws.sqlite"))
    );
    assert_absent(&password, &files, &captured);
    assert_absent(wrong, &files, &captured);
    let _ = medallion(&ws, &["secret", "delete", secret], None, &[]);
}

/// A wrong password: authentication failed, without the password.
fn pg_wrong_password(ws: &Path, p: &str, secret: &str, wrong: &str, captured: &mut String) {
    let out = medallion(ws, &["secret", "set", secret], Some(wrong), &[]);
    assert!(out.status.success(), "{}", text(&out));
    let out = medallion(ws, &["resource", "test", p, "warehouse"], None, &[]);
    let t = text(&out);
    captured.push_str(&t);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("authentication failed for resource `warehouse`"),
        "{t}"
    );
    let out = medallion(ws, &["materialize", p, "--select", "pg_orders"], None, &[]);
    let t = text(&out);
    captured.push_str(&t);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("authentication failed for resource `warehouse`"),
        "{t}"
    );

    let out = medallion(ws, &["resource", "list", p], None, &[]);
    let t = text(&out);
    assert!(
        t.contains(&format!("password: keyring entry `{secret}` (set)")),
        "{t}"
    );
    assert!(!t.contains(wrong), "{t}");
}

/// The types Postgres columns arrive as, and all 25,000 rows (three cursor batches).
fn pg_types_and_every_row(ws: &Path, project: &Path) {
    let orders = preview_json(ws, project, "pg_orders", &[]);
    assert_eq!(
        dtypes(&orders),
        [
            ("id", "i64"),
            ("customer", "str"),
            ("qty", "i32"),
            ("units", "i32"),
            ("amount", "decimal[38,2]"),
            ("ratio", "f32"),
            ("score", "f64"),
            ("paid", "bool"),
            ("order_day", "date"),
            ("created_at", "datetime[μs]"),
            ("updated_at", "datetime[μs]"),
            ("note", "str"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(orders["rows"][0][4], "1.25", "{orders}");
    assert_eq!(orders["rows"][0][8], "2024-01-02", "{orders}");
    assert_eq!(orders["rows"][0][11], serde_json::Value::Null, "{orders}");
    // All 25,000 rows (three cursor batches) arrived: 2/3 of them are paid.
    let summary = preview_json(ws, project, "pg_summary", &[]);
    assert_eq!(
        summary["rows"][0],
        serde_json::json!(["10", "16667"]),
        "{summary}"
    );
}

/// sslmode: verify-full trusts the server only with its CA; disable goes without TLS.
fn pg_tls_modes(dir: &Path, ws: &Path, port: &str, secret: &str) {
    let ca = peer_env("MEDALLION_TEST_PG_CA");
    let verify = project_at(
        dir,
        "verify",
        &Filled {
            pg_port: port,
            pg_secret: secret,
            pg_sslmode: "verify-full",
            ..defaults()
        },
    );
    let v = verify.to_str().unwrap();
    let bundle = "/etc/ssl/certs/ca-certificates.crt";
    let other_roots = if Path::new(bundle).is_file() {
        bundle
    } else {
        "/nonexistent/ca.pem"
    };
    let out = medallion(
        ws,
        &["resource", "test", v, "warehouse"],
        None,
        &[("SSL_CERT_FILE", &ca)],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("over TLS"), "{t}");
    let out = medallion(
        ws,
        &["resource", "test", v, "warehouse"],
        None,
        &[
            // Other roots (the system's bundle when there is one): the server is not trusted.
            ("SSL_CERT_FILE", other_roots),
            ("SSL_CERT_DIR", "/nonexistent"),
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("verify-full"), "{t}");
    if other_roots == bundle {
        assert!(t.contains("is not trusted"), "{t}");
    }
    let plain = project_at(
        dir,
        "plain",
        &Filled {
            pg_port: port,
            pg_secret: secret,
            pg_sslmode: "disable",
            ..defaults()
        },
    );
    let out = medallion(
        ws,
        &["resource", "test", plain.to_str().unwrap(), "warehouse"],
        None,
        &[],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("without TLS"), "{t}");
}

/// Ctrl-C during a long query stops it now, not when the query ends.
fn pg_ctrl_c_cancels_a_long_query(ws: &Path, p: &str, captured: &mut String) {
    let child = Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(["materialize", p, "--select", "pg_slow"])
        .env("MEDALLION_WORKSPACE", ws)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let started = std::time::Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let t = text(&out);
    captured.push_str(&t);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "cancel took {:?}: {t}",
        started.elapsed()
    );
    assert_ne!(out.status.code(), Some(0), "{t}");
    let runs = medallion(ws, &["runs", "--format", "json", "--limit", "1"], None, &[]);
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(runs[0]["status"], "canceled", "{runs}");
}

fn project_at(dir: &Path, name: &str, f: &Filled<'_>) -> PathBuf {
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).unwrap();
    project(&sub, f)
}

// ---------------------------------------------------------------- S3 on moto

fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[test]
fn s3_source_reads_every_object_under_a_prefix() {
    if !peers() {
        return;
    }
    let moto = peer_env("MEDALLION_TEST_MOTO_URL");
    let bucket = "medallion-test-lake";
    put_lake_objects(&moto, bucket);
    let dir = tempfile::tempdir().unwrap();
    let project = project(
        dir.path(),
        &Filled {
            bucket,
            moto_url: &moto,
            ..defaults()
        },
    );
    let ws = dir.path().join("ws.sqlite");
    let p = project.to_str().unwrap();
    let out = medallion(
        &ws,
        &[
            "materialize",
            p,
            "--select",
            "s3_events+,s3_single,s3_parquet",
        ],
        None,
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let totals = preview_json(&ws, &project, "s3_totals", &[]);
    assert_eq!(
        totals["rows"][0],
        serde_json::json!(["3", "4.5"]),
        "{totals}"
    );
    let pq = preview_json(&ws, &project, "s3_parquet", &[]);
    assert_eq!(
        dtypes(&pq),
        [("id".into(), "i64".into()), ("name".into(), "str".into())]
    );
    assert_eq!(pq["rows"].as_array().unwrap().len(), 3, "{pq}");
    let users = preview_json(&ws, &project, "s3_single", &[]);
    assert_eq!(users["rows"].as_array().unwrap().len(), 2, "{users}");

    let out = medallion(&ws, &["resource", "test", p, "lake"], None, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("bucket `medallion-test-lake` is readable"));

    keyring_aws_credentials(dir.path(), &ws, p);

    // A missing bucket says so.
    let other = project_at(
        dir.path(),
        "nobucket",
        &Filled {
            bucket: "no-such-bucket-x",
            moto_url: &moto,
            ..defaults()
        },
    );
    let out = medallion(
        &ws,
        &["resource", "test", other.to_str().unwrap(), "lake"],
        None,
        &[],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("bucket `no-such-bucket-x` does not exist"),
        "{t}"
    );
    let out = medallion(
        &ws,
        &[
            "materialize",
            other.to_str().unwrap(),
            "--select",
            "s3_events",
        ],
        None,
        &[],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("bucket `no-such-bucket-x` does not exist"),
        "{t}"
    );
}

/// The objects the S3 sources read: a Parquet file, two CSV days under a prefix (and the
/// prefix's own empty "folder" object) and one NDJSON file.
fn put_lake_objects(moto: &str, bucket: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let parquet = {
        use polars::prelude::*;
        let mut df = df!("id" => [1i64, 2, 3], "name" => ["a", "b", "c"]).unwrap();
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf).finish(&mut df).unwrap();
        buf
    };
    rt.block_on(async {
        let s3 = s3_client(moto);
        let _ = s3.create_bucket().bucket(bucket).send().await;
        s3.put_object()
            .bucket(bucket)
            .key("pq/data.parquet")
            .body(parquet.into())
            .send()
            .await
            .unwrap();
        for (key, body) in [
            ("events/2024-01-01.csv", "id,amount\n1,1.5\n2,\n"),
            ("events/2024-01-02.csv", "id,amount\n3,3.0\n"),
            ("events/", ""),
            (
                "one/users.ndjson",
                "{\"name\":\"ada\"}\n{\"name\":\"grace\"}\n",
            ),
        ] {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(body.as_bytes().to_vec().into())
                .send()
                .await
                .unwrap();
        }
    });
}

/// Credentials from an `aws` resource whose key pair lives in the keyring (and no AWS
/// variables in the environment): the standard chain is not what made this work.
fn keyring_aws_credentials(dir: &Path, ws: &Path, p: &str) {
    let _guard = KEYRING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let key_secret = "aws-secret-7f3e-distinctive";
    for (name, value) in [
        ("medallion_test_aws_key_id", "AKIATESTKEYRING01"),
        ("medallion_test_aws_secret", key_secret),
    ] {
        let out = medallion(ws, &["secret", "set", name], Some(value), &[]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let no_env = [("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")];
    let out = medallion(ws, &["resource", "test", p, "aws_keys"], None, &no_env);
    let mut captured = text(&out);
    assert!(out.status.success(), "{captured}");
    assert!(captured.contains("bucket(s)"), "{captured}");
    let out = medallion(
        ws,
        &["materialize", p, "--select", "s3_keyed"],
        None,
        &no_env,
    );
    captured.push_str(&text(&out));
    assert!(out.status.success(), "{captured}");
    let mut files = Vec::new();
    files_under(dir, &mut files);
    assert_absent(key_secret, &files, &captured);
    for name in ["medallion_test_aws_key_id", "medallion_test_aws_secret"] {
        let _ = medallion(ws, &["secret", "delete", name], None, &[]);
    }
    // Without them, the error names the missing secret and how to set it.
    let out = medallion(
        ws,
        &["materialize", p, "--select", "s3_keyed", "--force"],
        None,
        &no_env,
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("medallion secret set medallion_test_aws_key_id"),
        "{t}"
    );
}

// ---------------------------------------------------------------- the keyring

fn secret_tool_lookup(name: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "medallion", "username", name])
        .output()
        .expect("secret-tool (libsecret-tools) is installed by tests/run");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn keyring_round_trip_is_visible_from_outside() {
    if !peers() {
        return;
    }
    let _guard = KEYRING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.sqlite");
    let name = "medallion_test_round_trip";
    let value = "päss wörd \"quoted\" 9c1e";
    let out = medallion(&ws, &["secret", "set", name], Some(value), &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(value));
    assert_eq!(secret_tool_lookup(name).as_deref(), Some(value));

    let out = medallion(&ws, &["secret", "list", "--format", "json"], None, &[]);
    let names: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(names.contains(&name.to_owned()), "{names:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(value));

    let out = medallion(&ws, &["secret", "delete", name], None, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(secret_tool_lookup(name), None);
    let out = medallion(&ws, &["secret", "list", "--format", "json"], None, &[]);
    let names: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!names.contains(&name.to_owned()), "{names:?}");
    let out = medallion(&ws, &["secret", "delete", name], None, &[]);
    assert_eq!(out.status.code(), Some(1));

    // Never from the command line, and never empty.
    let out = medallion(&ws, &["secret", "set", name, "value-on-argv"], None, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = medallion(&ws, &["secret", "set", name], Some(""), &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("is empty"));
}

/// The studio's connections window: a password typed there lands in the OS keyring (checked
/// from outside with `secret-tool`), and only its reference is kept in the project.
#[test]
fn a_password_typed_in_the_studio_goes_to_the_keyring() {
    use std::time::{Duration, Instant};

    use egui::accesskit::Role;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use medallion::model::{ResourceKind, SecretRef};
    use medallion::ui::{Studio, frame_ui};

    if !peers() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics");
    let project = medallion::format::read_project(&dir).unwrap().project;
    let studio = Studio::new(Some(project), "test.sqlite".into());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_max_steps(40)
        .build_ui_state(|ui, studio: &mut Studio| frame_ui(ui, studio), studio);
    h.state_mut().windows.connections =
        Some(medallion::ui::panels::connections::ConnectionsState::default());
    h.run_ok();
    h.get_by_label("Add Postgres").click();
    h.run_ok();
    let value = format!("typed-in-studio-{}", std::process::id());
    h.get_by_role_and_label(Role::PasswordInput, "Password")
        .focus();
    h.run_ok();
    h.get_by_role_and_label(Role::PasswordInput, "Password")
        .type_text(&value);
    h.run_ok();
    h.get_by_label("Save resource").click();
    h.run_ok();
    let name = "customer_analytics.postgres_1.password";
    let started = Instant::now();
    // "Storing in the OS keyring…" shows at once; the resource is saved only once the
    // keyring has the value ("Saved; stored … in the OS keyring").
    while h.query_by_label_contains("Saved; stored").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the keyring never answered"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        secret_tool_lookup(name).as_deref().map(str::trim),
        Some(value.as_str())
    );
    match &h.state().project().resource("postgres_1").unwrap().kind {
        ResourceKind::Postgres { password, .. } => {
            assert_eq!(password, &Some(SecretRef::Keyring(name.to_owned())));
        }
        other => panic!("saved as {other:?}"),
    }
    let toml = medallion::format::render_project(h.state().project()).unwrap();
    assert!(
        toml.iter().all(|(_, text)| !text.contains(&value)),
        "the value leaked into the project files"
    );
    // Clean up the entry.
    let _ = Command::new("secret-tool")
        .args(["clear", "service", "medallion", "username", name])
        .status();
}
