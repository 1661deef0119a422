//! E-mail alerts over SMTP: a real SMTP server (Python's `aiosmtpd`, started by the test on a
//! free loopback port, storing what it receives in a maildir) receives the test message and a
//! run's alert, read back with Python's `email` parser; and a server that is not there is tried
//! three times, each attempt stored, the final failure shown by `alerts log`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{ALERTS, Setup};
use crate::common::{json, text};

use crate::common::peers;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `[alert_targets.mail]` on `port` (no TLS: a loopback server) and a rule sending run
/// successes to it.
fn email_tables(port: u16) -> String {
    format!(
        r#"{ALERTS}
[alert_targets.mail]
kind = "email"
host = "127.0.0.1"
port = {port}
tls = "none"
from = "medallion@example.com"
to = ["oncall@example.com", "data-team@example.com"]

[alert_rules.mail_runs]
events = ["run_success"]
targets = ["mail"]
"#
    )
}

/// An `aiosmtpd` server delivering into a maildir; stopped on drop.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    fn start() -> Self {
        let bin = std::env::var("MEDALLION_TEST_AIOSMTPD")
            .expect("MEDALLION_TEST_PEERS=1 but MEDALLION_TEST_AIOSMTPD is not set: run tests/run");
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let port = free_port();
        let child = Command::new(&bin)
            .args(["-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin} could not start: {e}"));
        let server = Self {
            child,
            port,
            maildir,
            _dir: dir,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "aiosmtpd did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// The messages received so far, oldest first, each as Python's `email` parser reads it.
    fn messages(&self) -> Vec<Mail> {
        let new = self.maildir.join("new");
        let Ok(entries) = std::fs::read_dir(&new) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .map(|e| {
                let p = e.unwrap().path();
                (p.metadata().unwrap().modified().unwrap(), p)
            })
            .collect();
        files.sort();
        files.into_iter().map(|(_, p)| Mail::read(&p)).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One received message: headers decoded, the body as text.
#[derive(Debug)]
struct Mail {
    subject: String,
    from: String,
    /// The envelope's recipients, as the server recorded them.
    rcpt_to: String,
    body: String,
}

const PARSE: &str = r"
import sys, email, email.policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
print(m['Subject']); print(m['From']); print(m['X-RcptTo']); print(m.get_content_type())
sys.stdout.write(m.get_content())
";

impl Mail {
    fn read(path: &Path) -> Self {
        let o = Command::new("python3")
            .args(["-c", PARSE])
            .arg(path)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let out = String::from_utf8(o.stdout).unwrap();
        let mut lines = out.splitn(5, '\n');
        let mut next = || lines.next().unwrap_or_default().to_owned();
        let (subject, from, rcpt_to, content_type) = (next(), next(), next(), next());
        assert_eq!(content_type, "text/plain", "{out}");
        Self {
            subject,
            from,
            rcpt_to,
            body: next(),
        }
    }
}

#[test]
fn email_alerts_reach_a_real_smtp_server() {
    if !peers() {
        return;
    }
    let server = SmtpServer::start();
    let s = Setup::with(&email_tables(server.port));

    let o = s.medallion(&["alerts", "test", "customer_analytics", "mail"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("test message delivered to `mail` (email); it answered SMTP 250"),
        "{}",
        text(&o)
    );
    let got = server.messages();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].subject,
        "[Medallion] Test message from Medallion for project customer_analytics (target `mail`)"
    );
    assert_eq!(got[0].from, "medallion@example.com");
    assert!(
        got[0].rcpt_to.contains("oncall@example.com")
            && got[0].rcpt_to.contains("data-team@example.com"),
        "{got:?}"
    );

    let o = s.medallion(&["materialize", "customer_analytics", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = json(&o);
    let run_id = out["runs"][0]["run_id"].as_str().unwrap().to_owned();
    let alerts = out["runs"][0]["alerts"].as_array().unwrap();
    let mail = alerts.iter().find(|a| a["target"] == "mail").unwrap();
    assert_eq!(mail["delivered"], true, "{alerts:?}");
    assert!(
        mail["answer"].as_str().unwrap().starts_with("SMTP 250"),
        "{mail}"
    );

    let got = server.messages();
    assert_eq!(got.len(), 2, "{got:?}");
    let run_mail = &got[1];
    assert!(
        run_mail.subject.starts_with(&format!(
            "[Medallion] Run {run_id} of project customer_analytics succeeded in "
        )),
        "{run_mail:?}"
    );
    let lines: Vec<&str> = run_mail.body.lines().collect();
    let field = |label: &str| {
        lines
            .iter()
            .find_map(|l| {
                // "Label<padding>  value": the labels are padded to one width.
                let (k, v) = l.split_once("  ")?;
                (k.trim() == label).then(|| v.trim())
            })
            .unwrap_or_else(|| panic!("no {label:?} line in:\n{}", run_mail.body))
            .to_owned()
    };
    assert_eq!(field("Project"), "customer_analytics");
    assert_eq!(field("Run"), run_id);
    assert_eq!(field("Status"), "success");
    assert_eq!(field("Cost"), "none (a local run)");
    assert_eq!(field("Failing checks"), "none");
    assert!(!field("Duration").is_empty());
    assert!(field("Duration") != "unknown", "{}", run_mail.body);
    assert!(
        field("Assets materialized").contains("daily_revenue"),
        "{}",
        run_mail.body
    );
}

#[test]
fn an_smtp_server_that_is_not_there_is_tried_three_times_and_shown() {
    let port = free_port();
    let s = Setup::with(&email_tables(port));
    let o = s.medallion(&["alerts", "test", "customer_analytics", "mail"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains(&format!(
            "error: test message to `mail` (email) failed after 3 attempt(s): sending e-mail through 127.0.0.1:{port} (none) failed: cannot reach the service"
        )),
        "{said}"
    );
    assert!(said.contains("refused"), "{said}");
    assert_eq!(said.lines().count(), 1, "{said}");

    let log = json(&s.medallion(&["alerts", "log", "customer_analytics", "--format", "json"]));
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 3, "{log:?}");
    for (i, a) in log.iter().enumerate() {
        assert_eq!(a["target"], "mail");
        assert_eq!(a["target_kind"], "email");
        assert_eq!(a["ok"], false);
        // Newest first.
        assert_eq!(a["attempt"].as_u64(), Some(3 - i as u64), "{log:?}");
        assert_eq!(a["last"], i == 0, "{log:?}");
    }
    let shown = text(&s.medallion(&["alerts", "log", "customer_analytics"]));
    assert!(shown.contains("#3 FAILED    to mail (email)"), "{shown}");
    assert!(shown.contains("1 delivery(ies) failed for good"), "{shown}");
}
