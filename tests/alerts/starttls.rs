//! E-mail alerts through STARTTLS with a login, against a real SMTP server: `smtp_starttls.py`
//! (aiosmtpd) refuses mail before STARTTLS and logins before TLS, and serves a certificate for
//! 127.0.0.1 signed by a CA it makes at start. The password is in the OS keyring (set with
//! `medallion secret set`); the client trusts the test CA through `SSL_CERT_FILE`, the setting
//! the README documents — verification stays on, and without it the same send fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use super::ALERTS;
use crate::common::{KEYRING, copy_dir, example, text};

const USER: &str = "alerts@example.com";
const PASSWORD: &str = "smtp-pw-8841-distinct";
const SECRET: &str = "medallion_test_smtp_password";

/// The STARTTLS server; stopped (its stdin closed, then killed) on drop.
struct TlsSmtp {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl TlsSmtp {
    fn start() -> Self {
        let aiosmtpd = std::env::var("MEDALLION_TEST_AIOSMTPD")
            .expect("MEDALLION_TEST_PEERS=1 but MEDALLION_TEST_AIOSMTPD is not set: run tests/run");
        // The venv's python, next to its aiosmtpd script.
        let python = Path::new(&aiosmtpd).with_file_name("python");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_starttls.py");
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(dir.path())
            .env("SMTP_TEST_USER", USER)
            .env("SMTP_TEST_PASSWORD", PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{} could not start: {e}", python.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("smtp_starttls.py did not start: {line:?}"));
        Self { child, port, dir }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn logins(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logins")).unwrap_or_default()
    }

    fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.path().join("maildir/new")) else {
            return Vec::new();
        };
        entries
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }
}

impl Drop for TlsSmtp {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn medallion(ws: &Path, args: &[&str], stdin: Option<&str>, ca: Option<&Path>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_medallion"));
    cmd.args(args)
        .env("MEDALLION_WORKSPACE", ws)
        .env("ALERT_TEST_WEBHOOK", "http://127.0.0.1:9/unused")
        .env("ALERT_TEST_SLACK", "http://127.0.0.1:9/unused")
        .env_remove("MEDALLION_LOG")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(ca) = ca {
        cmd.env("SSL_CERT_FILE", ca);
    }
    let mut child = cmd.spawn().unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

#[test]
fn starttls_with_a_keyring_password_delivers_and_verification_stays_on() {
    if std::env::var("MEDALLION_TEST_PEERS").as_deref() != Ok("1") {
        eprintln!(
            "peer test not run: tests/run starts the keyring and sets MEDALLION_TEST_PEERS=1"
        );
        return;
    }
    let _guard = KEYRING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = TlsSmtp::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("customer_analytics");
    copy_dir(&example(), &dir);
    let toml = dir.join("medallion.toml");
    let existing = std::fs::read_to_string(&toml).unwrap();
    let t = format!(
        r#"{existing}{ALERTS}
[alert_targets.secure]
kind = "email"
host = "127.0.0.1"
port = {port}
tls = "starttls"
username = "{USER}"
password = {{ keyring = "{SECRET}" }}
from = "medallion@example.com"
to = ["oncall@example.com"]
"#,
        port = server.port
    );
    std::fs::write(&toml, t).unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(&ws, &["import", dir.to_str().unwrap()], None, None);
    assert!(o.status.success(), "{}", text(&o));
    let o = medallion(&ws, &["secret", "set", SECRET], Some(PASSWORD), None);
    assert!(o.status.success(), "{}", text(&o));
    let send = |ca: Option<&Path>| {
        medallion(
            &ws,
            &["alerts", "test", "customer_analytics", "secure"],
            None,
            ca,
        )
    };

    // Without the test CA trusted, the server's certificate is refused: nothing is sent and
    // no login happens (the password never leaves before TLS).
    let o = send(None);
    let said = text(&o);
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(said.contains("certificate"), "{said}");
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(server.messages().is_empty());
    assert_eq!(server.logins(), "", "no login before TLS");

    // With it: STARTTLS, the login with the keyring's password, the message delivered.
    let o = send(Some(&server.ca()));
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(
        said.contains("test message delivered to `secure` (email); it answered SMTP 250"),
        "{said}"
    );
    assert!(!said.contains(PASSWORD), "{said}");
    assert!(
        server.logins().starts_with(&format!("ok {USER} ")),
        "{}",
        server.logins()
    );
    let got = server.messages();
    assert_eq!(got.len(), 1, "{got:?}");
    // The header as received, unfolded.
    let unfolded = got[0].replace("\r\n ", " ").replace("\n ", " ");
    assert!(
        unfolded.contains(
            "Subject: [Medallion] Test message from Medallion for project customer_analytics (target `secure`)"
        ),
        "{}",
        got[0]
    );
    assert!(
        got[0].contains("X-RcptTo: oncall@example.com"),
        "{}",
        got[0]
    );

    // A wrong password is refused by the server (535), once: retrying cannot help.
    let o = medallion(
        &ws,
        &["secret", "set", SECRET],
        Some("not-the-password"),
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = send(Some(&server.ca()));
    let said = text(&o);
    let _ = medallion(&ws, &["secret", "delete", SECRET], None, None);
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(said.contains("failed after 1 attempt(s)"), "{said}");
    assert!(said.contains("SMTP 535"), "{said}");
    assert!(!said.contains("not-the-password"), "{said}");
    assert!(
        server
            .logins()
            .lines()
            .last()
            .unwrap()
            .starts_with("refused "),
        "{}",
        server.logins()
    );
    assert_eq!(server.messages().len(), 1);
}
