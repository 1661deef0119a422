//! Alerts and freshness end to end: the example project with a webhook and a Slack target
//! pointing at a real HTTP server on loopback (a hand-written HTTP/1.1 listener that records
//! each request and answers with scripted statuses), run through the `medallion` binary; and
//! freshness judged with an injected clock. E-mail targets against a real SMTP server: `email`;
//! SNS topics against moto: `sns`.

mod email;
mod sns;
mod starttls;
mod studio;

use crate::common;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use common::{copy_dir, example, json, text};

/// One request the server received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    content_type: String,
    body: serde_json::Value,
}

/// An HTTP server on 127.0.0.1 that records requests and answers each with the next scripted
/// status (200 once the script is empty).
struct HookServer {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl HookServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let (r, s) = (Arc::clone(&received), Arc::clone(&script));
        std::thread::Builder::new()
            .name("hook-server".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { continue };
                    let Some(req) = read_request(&mut stream) else {
                        continue;
                    };
                    let status = s.lock().unwrap().pop_front().unwrap_or(200);
                    r.lock().unwrap().push(req);
                    let body = if status == 200 { "ok" } else { "upstream down" };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            })
            .unwrap();
        Self {
            port,
            received,
            script,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn answer_next(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses.iter().copied());
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.lines();
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let mut len = 0;
    let mut content_type = String::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().ok()?,
                "content-type" => v.trim().clone_into(&mut content_type),
                _ => {}
            }
        }
    }
    while buf.len() < header_end + len {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[header_end..header_end + len]).ok()?;
    Some(Received {
        path,
        content_type,
        body,
    })
}

const ALERTS: &str = r#"
[alert_targets.hook]
kind = "webhook"
url = { env = "ALERT_TEST_WEBHOOK" }

[alert_targets.team]
kind = "slack"
url = { env = "ALERT_TEST_SLACK" }

[alert_rules.runs]
events = ["run_success", "run_failure", "check_failure", "freshness_overdue"]
targets = ["hook", "team"]

[assets.daily_revenue.freshness]
max_lag_minutes = 60
"#;

/// The example project with alert targets pointing at `server`, imported into a new
/// workspace.
struct Setup {
    _tmp: tempfile::TempDir,
    ws: PathBuf,
    server: HookServer,
}

impl Setup {
    fn new() -> Self {
        Self::with(ALERTS)
    }

    /// The example with `alerts` (TOML tables) appended to its `medallion.toml`.
    fn with(alerts: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("customer_analytics");
        copy_dir(&example(), &dir);
        let toml = dir.join("medallion.toml");
        let mut toml_text = std::fs::read_to_string(&toml).unwrap();
        toml_text.push_str(alerts);
        std::fs::write(&toml, toml_text).unwrap();
        let ws = tmp.path().join("ws.sqlite");
        let server = HookServer::start();
        let s = Self {
            _tmp: tmp,
            ws,
            server,
        };
        let o = s.medallion(&["import", dir.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
        s
    }

    fn medallion(&self, args: &[&str]) -> Output {
        medallion_at(&self.ws, &self.server, args)
    }
}

fn medallion_at(ws: &Path, server: &HookServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(args)
        .env("MEDALLION_WORKSPACE", ws)
        .env("ALERT_TEST_WEBHOOK", server.url("/webhook/tok3n"))
        .env("ALERT_TEST_SLACK", server.url("/services/T0/B0/secret"))
        .env_remove("MEDALLION_LOG")
        .output()
        .unwrap()
}

#[test]
fn a_finished_run_posts_its_webhook_json_and_slack_message() {
    let s = Setup::new();
    let o = s.medallion(&["materialize", "customer_analytics", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = json(&o);
    let run = &out["runs"][0];
    let run_id = run["run_id"].as_str().unwrap();
    let alerts = run["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(alerts.iter().all(|a| a["delivered"] == true), "{alerts:?}");

    let got = s.server.received();
    assert_eq!(got.len(), 2, "{got:?}");
    let hook = got.iter().find(|r| r.path == "/webhook/tok3n").unwrap();
    assert_eq!(hook.content_type, "application/json");
    assert_eq!(hook.body["event"], "run_success");
    assert_eq!(hook.body["project"], "customer_analytics");
    assert_eq!(hook.body["details"]["run_id"], run_id);
    let materialized = hook.body["details"]["materialized"].as_array().unwrap();
    assert_eq!(materialized.len(), 6, "{}", hook.body);
    assert!(hook.body["details"]["duration_ms"].as_u64().is_some());
    assert_eq!(hook.body["details"]["cost_note"], "none (a local run)");

    let slack = got
        .iter()
        .find(|r| r.path.starts_with("/services/"))
        .unwrap();
    let text_line = slack.body["text"].as_str().unwrap();
    assert!(
        text_line.contains(&format!(
            "Run {run_id} of project customer_analytics succeeded"
        )),
        "{text_line}"
    );
    let fields: Vec<String> = slack.body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["fields"].as_array())
        .flatten()
        .map(|f| f["text"].as_str().unwrap().to_owned())
        .collect();
    for label in [
        "*Project*\ncustomer_analytics",
        "*Run*\n",
        "*Duration*\n",
        "*Cost*\nnone (a local run)",
        "*Assets materialized*\n",
        "*Failing checks*\nnone",
    ] {
        assert!(
            fields.iter().any(|f| f.starts_with(label)),
            "no {label:?} in {fields:?}"
        );
    }

    // The log has both deliveries; nothing is pending.
    let o = s.medallion(&["alerts", "log", "customer_analytics", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let log = json(&o);
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(
        log.iter()
            .all(|a| a["ok"] == true && a["event"] == "run_success")
    );
    // The URL's secret path is never stored or shown.
    let shown = text(&s.medallion(&["alerts", "log", "customer_analytics"]));
    assert!(
        !shown.contains("tok3n") && !shown.contains("secret"),
        "{shown}"
    );
}

#[test]
fn a_500_is_retried_and_then_delivered() {
    let s = Setup::new();
    s.server.answer_next(&[500]);
    let o = s.medallion(&["alerts", "test", "customer_analytics", "hook"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("delivered to `hook` (webhook); it answered HTTP 200"),
        "{}",
        text(&o)
    );
    assert_eq!(s.server.received().len(), 2);
    let log = json(&s.medallion(&["alerts", "log", "customer_analytics", "--format", "json"]));
    let log = log.as_array().unwrap();
    // Newest first: the delivered second attempt, then the 500.
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        (log[0]["attempt"].as_u64(), log[0]["ok"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(
        (log[1]["attempt"].as_u64(), log[1]["ok"].as_bool()),
        (Some(1), Some(false))
    );
    assert_eq!(log[1]["answer"], "HTTP 500: upstream down");
    assert_eq!(log[1]["last"], false);
}

#[test]
fn a_delivery_that_keeps_failing_is_shown_not_swallowed() {
    let s = Setup::new();
    s.server.answer_next(&[500, 500, 500, 503, 503, 503]);
    let o = s.medallion(&["alerts", "test", "customer_analytics", "team"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(
            "test message to `team` (slack) failed after 3 attempt(s): HTTP 500: upstream down"
        ),
        "{}",
        text(&o)
    );
    // A run whose alerts fail still succeeds, and says the alert failed.
    s.server.answer_next(&[503; 6]);
    let o = s.medallion(&["materialize", "customer_analytics"]);
    assert!(o.status.success(), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains(
            "warning: alert run_success to `hook` (webhook) failed after 3 attempt(s): HTTP 503"
        ),
        "{said}"
    );
    let log = json(&s.medallion(&["alerts", "log", "customer_analytics", "--format", "json"]));
    let finals: Vec<_> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["last"] == true && a["ok"] == false)
        .collect();
    assert_eq!(finals.len(), 3, "{log}");
    let shown = text(&s.medallion(&["alerts", "log", "customer_analytics"]));
    assert!(shown.contains("3 delivery(ies) failed for good"), "{shown}");
}

#[test]
fn a_missing_target_or_secret_is_one_sentence() {
    let s = Setup::new();
    let o = s.medallion(&["alerts", "test", "customer_analytics", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("has no alert target `nope`; its targets: hook, team"),
        "{}",
        text(&o)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(["alerts", "test", "customer_analytics", "hook"])
        .env("MEDALLION_WORKSPACE", &s.ws)
        .env_remove("ALERT_TEST_WEBHOOK")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("failed after 1 attempt(s): the target's URL could not be read: environment variable `ALERT_TEST_WEBHOOK` is not set"), "{}", text(&o));
}

fn materialized_at(ws: &Path) -> DateTime<Utc> {
    let conn = medallion::app::open_workspace(ws).unwrap();
    let times = conn.materialization_times("customer_analytics").unwrap();
    let (_, at, _) = times
        .iter()
        .find(|(k, _, _)| k.as_str() == "daily_revenue")
        .unwrap();
    *at
}

#[test]
fn freshness_with_an_injected_clock_is_overdue_and_alerts_once() {
    let s = Setup::new();
    // Before any run: unknown, and no alert.
    let o = s.medallion(&["freshness", "customer_analytics", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(json(&o)[0]["state"], "unknown");
    let o = s.medallion(&["materialize", "customer_analytics"]);
    assert!(o.status.success(), "{}", text(&o));
    let at = materialized_at(&s.ws);
    let soon = (at + Duration::minutes(30)).to_rfc3339();
    let o = s.medallion(&["freshness", "customer_analytics", "--now", &soon]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).starts_with("fresh    daily_revenue"),
        "{}",
        text(&o)
    );
    let later = at + Duration::days(2);
    let o = s.medallion(&[
        "freshness",
        "customer_analytics",
        "--now",
        &later.to_rfc3339(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v = json(&o);
    assert_eq!(v[0]["state"], "overdue", "{v}");
    assert!(v[0]["reason"].as_str().unwrap().contains("48 h"), "{v}");

    let before = s.server.received().len();
    let args = |at: DateTime<Utc>| at.to_rfc3339();
    let first = args(later);
    let o = s.medallion(&[
        "freshness",
        "customer_analytics",
        "--alert",
        "--now",
        &first,
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v = json(&o);
    let sent = v["alerts"].as_array().unwrap();
    assert_eq!(sent.len(), 2, "{v}");
    assert!(
        sent.iter()
            .all(|d| d["delivered"] == true && d["event"] == "freshness_overdue"),
        "{v}"
    );
    // The same episode, an hour later: no second alert.
    let again = args(later + Duration::hours(1));
    let o = s.medallion(&[
        "freshness",
        "customer_analytics",
        "--alert",
        "--now",
        &again,
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(json(&o)[0]["state"], "overdue", "{}", text(&o));
    let got = s.server.received();
    assert_eq!(got.len() - before, 2);
    let hook = got
        .iter()
        .rev()
        .find(|r| r.path == "/webhook/tok3n")
        .unwrap();
    assert_eq!(hook.body["event"], "freshness_overdue");
    assert_eq!(hook.body["details"]["asset"], "daily_revenue");
}

fn validate_with(extra: &str) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    copy_dir(&example(), &dir);
    let toml = dir.join("medallion.toml");
    let mut t = std::fs::read_to_string(&toml).unwrap();
    t.push_str(extra);
    std::fs::write(&toml, t).unwrap();
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(["validate", dir.to_str().unwrap()])
        .output()
        .unwrap()
}

#[test]
fn bad_alert_tables_are_located_diagnostics() {
    let o = validate_with(
        "\n[alert_targets.hook]\nkind = \"webhook\"\nurl = \"https://hooks.example.com/x\"\n",
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    // The `url` line: after the example's own lines, a blank line, the header and `kind`.
    let example_lines = std::fs::read_to_string(example().join("medallion.toml"))
        .unwrap()
        .lines()
        .count();
    let at = format!(
        "medallion.toml:{}:7: a secret is never written in a project file",
        example_lines + 4
    );
    assert!(said.contains(&at), "{at} in: {said}");
    assert!(!said.contains("hooks.example.com"), "{said}");

    let o = validate_with(concat!(
        "\n[alert_targets.hook]\nkind = \"webhook\"\nurl = { env = \"HOOK\" }\n",
        "\n[alert_rules.r]\nevents = [\"run_failed\"]\ntargets = [\"hook\"]\n",
        "\n[alert_rules.s]\nevents = [\"run_failure\"]\ntargets = [\"hook\", \"pager\"]\nselection = \"nosuch+\"\n",
    ));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains("event `run_failed` is not one of run_failure"),
        "{said}"
    );
    assert!(
        said.contains("alert rule `s`: target `pager` is not defined"),
        "{said}"
    );
    // The `[alert_rules.s]` line: after the example's lines and the two tables before it.
    let at = format!("medallion.toml:{}:", example_lines + 10);
    assert!(said.contains(&at), "{at} in: {said}");
}

#[test]
fn the_daemon_delivers_the_alert_of_a_run_another_process_ended_once() {
    use medallion::model::{RunId, RunRecord, RunStatus};
    let s = Setup::new();
    // A run that ended in another process, which stopped before raising its alerts: the test
    // ends it in the workspace directly (its trigger queues it on the alert outbox).
    let run_id = RunId::new("20260101T115500-0ther1");
    {
        let mut ws = medallion::app::open_workspace(&s.ws).unwrap();
        ws.create_run(&RunRecord {
            id: run_id.clone(),
            project: "customer_analytics".into(),
            selection: "*".into(),
            partition: None,
            target: "local".into(),
            status: RunStatus::Started,
            trigger: "cli".into(),
            created_at: Utc::now(),
            started_at: Some(Utc::now()),
            ended_at: None,
            error: None,
            allow_failed_upstream: false,
            checks_only: false,
            end_known: true,
        })
        .unwrap();
        ws.set_run_status(&run_id, RunStatus::Failure, Some("the runner stopped"))
            .unwrap();
    }
    assert!(s.server.received().is_empty());

    let pass = |now: &str| {
        let o = s.medallion(&[
            "daemon",
            "--once",
            "--now",
            now,
            "customer_analytics",
            "--format",
            "json",
        ]);
        assert!(o.status.success(), "{}", text(&o));
        json(&o)
    };
    let first = pass("2026-01-01T12:00:00Z");
    let alerts = first[0]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{first:#}");
    assert!(
        alerts
            .iter()
            .all(|a| a["delivered"] == true && a["event"] == "run_failure")
    );
    let got = s.server.received();
    assert_eq!(got.len(), 2, "{got:?}");
    let hook = got.iter().find(|r| r.path == "/webhook/tok3n").unwrap();
    assert_eq!(hook.body["event"], "run_failure");
    assert_eq!(hook.body["details"]["run_id"], run_id.as_str());

    // The next pass (another process, as every `--once` is) sends nothing again.
    let second = pass("2026-01-01T12:01:00Z");
    assert_eq!(
        second[0]["alerts"].as_array().unwrap().len(),
        0,
        "{second:#}"
    );
    assert_eq!(s.server.received().len(), 2);
    // The text output says what was sent.
    let run2 = RunId::new("20260101T120100-0ther2");
    {
        let mut ws = medallion::app::open_workspace(&s.ws).unwrap();
        let mut run = ws.run(&run_id).unwrap();
        run.id = run2.clone();
        run.status = RunStatus::Started;
        ws.create_run(&run).unwrap();
        ws.set_run_status(&run2, RunStatus::Success, None).unwrap();
    }
    let o = s.medallion(&["daemon", "--once", "--now", "2026-01-01T12:02:00Z"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("customer_analytics: alert run_success sent to `hook` (webhook)"),
        "{}",
        text(&o)
    );
}
