//! Alert targets, rules and failed deliveries in the studio's Automation window, driven by
//! accessible labels (`egui_kittest`) on a workspace the CLI set up: a webhook URL typed in the
//! editor goes to the OS keyring (with peers: GNOME Keyring, checked from outside with
//! `secret-tool`) and never into the workspace file, "Send test" reaches the local HTTP server
//! and says so, rules are added and follow a deleted target; deliveries that failed for good
//! are counted on the toolbar and listed, from the workspace, across a restart.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use medallion::model::{AlertTargetKind, SecretRef};
use medallion::ui::Studio;

use super::{ALERTS, Setup};
use crate::common::studio::harness;
use crate::common::{KEYRING, text};

const WAIT: Duration = Duration::from_mins(2);
const NAME: &str = "customer_analytics";

fn studio(ws: &Path) -> Harness<'static, Studio> {
    let project = medallion::app::load_project(&medallion::app::open_workspace(ws).unwrap(), NAME)
        .unwrap()
        .project;
    harness(Studio::with_workspace(Some(project), ws).unwrap())
}

fn wait_until(h: &mut Harness<'_, Studio>, what: &str, done: impl Fn(&Studio) -> bool) {
    crate::common::studio::wait_until(h, what, WAIT, done);
}

fn wait_for_label(h: &mut Harness<'_, Studio>, text: &str) {
    let start = std::time::Instant::now();
    while h.query_by_label_contains(text).is_none() {
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for a label with {text:?}"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(2);
}

fn open_alerts_tab(h: &mut Harness<'_, Studio>) {
    h.get_by_label("Automation…").click();
    h.run_steps(2);
    wait_until(h, "the automation view", |s| {
        matches!(s.automation.view, Some(Ok(_)))
    });
    h.get_by_label("Alert targets and rules").click();
    h.run_steps(2);
}

/// Replaces the text of the field labelled `label` with `value`.
fn retype(h: &mut Harness<'_, Studio>, role: Role, label: &str, value: &str) {
    h.get_by_role_and_label(role, label).focus();
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.key_press(Key::Backspace);
    h.get_by_role_and_label(role, label).type_text(value);
    h.run_steps(2);
}

fn secret_tool(args: &[&str]) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(args)
        .output()
        .expect("secret-tool (libsecret-tools) is installed by tests/run");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Every byte of the workspace's files (the database and its WAL), as text.
fn workspace_bytes(ws: &Path) -> String {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = format!("{}{suffix}", ws.display());
        if let Ok(b) = std::fs::read(p) {
            all.extend(b);
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn a_webhook_added_in_the_studio_keeps_its_url_in_the_keyring_and_send_test_delivers() {
    if std::env::var("MEDALLION_TEST_PEERS").as_deref() != Ok("1") {
        eprintln!(
            "peer test not run: tests/run starts the keyring and sets MEDALLION_TEST_PEERS=1"
        );
        return;
    }
    let _guard = KEYRING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let s = Setup::with(ALERTS);
    let url = s
        .server
        .url(&format!("/hooks/studio-{}-t0ken", std::process::id()));
    let secret = "customer_analytics.alert-ops_hook.url";
    let _ = secret_tool(&["clear", "service", "medallion", "username", secret]);
    let mut h = studio(&s.ws);
    open_alerts_tab(&mut h);
    h.get_by_label("Add webhook").click();
    h.run_steps(2);
    retype(&mut h, Role::TextInput, "Name", "ops_hook");
    retype(&mut h, Role::PasswordInput, "URL", &url);
    h.get_by_label("Save target").click();
    wait_for_label(
        &mut h,
        "Saved; stored customer_analytics.alert-ops_hook.url in the OS keyring",
    );

    // The keyring holds the URL; the project only its name.
    assert_eq!(
        secret_tool(&["lookup", "service", "medallion", "username", secret]).as_deref(),
        Some(url.as_str())
    );
    let target = h
        .state()
        .project()
        .alerts
        .target("ops_hook")
        .cloned()
        .unwrap();
    assert_eq!(
        target.kind,
        AlertTargetKind::Webhook {
            url: SecretRef::Keyring(secret.to_owned())
        }
    );
    h.get_by_label_contains("URL: keyring entry `customer_analytics.alert-ops_hook.url`");

    // "Send test" is a background task; the window says what the server answered.
    h.get_by_label("Send test to ops_hook").click();
    wait_for_label(
        &mut h,
        "Test message delivered to `ops_hook` (webhook); it answered HTTP 200",
    );
    let got = s.server.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(url.ends_with(&got[0].path), "{got:?}");

    // A rule: run failures to ops_hook only.
    h.get_by_label("Add rule").click();
    h.run_steps(2);
    for other in ["hook", "team"] {
        h.get_by_label(&format!("Send to {other}")).click();
        h.run_steps(1);
    }
    h.get_by_label("blocking check failure").click();
    h.get_by_label("Save rule").click();
    h.run_steps(3);
    let rule = h
        .state()
        .project()
        .alerts
        .rules
        .iter()
        .find(|r| r.name == "rule_1")
        .cloned();
    let rule = rule.unwrap_or_else(|| panic!("{:?}", h.state().project().alerts.rules));
    assert_eq!(rule.targets, ["ops_hook"]);
    assert_eq!(rule.events, [medallion::model::AlertEventKind::RunFailure]);

    // Saved to the workspace the way every studio edit is; the stored project refers to the
    // keyring and the workspace file never holds the URL.
    wait_until(&mut h, "the save", |st| {
        st.save_state() == medallion::ui::SaveState::Saved
    });
    let stored =
        medallion::app::load_project(&medallion::app::open_workspace(&s.ws).unwrap(), NAME)
            .unwrap()
            .project;
    assert_eq!(stored.alerts.target("ops_hook"), Some(&target));
    assert!(stored.alerts.rules.iter().any(|r| r.name == "rule_1"));
    let o = s.medallion(&[
        "export",
        NAME,
        s.ws.with_extension("export").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let toml =
        std::fs::read_to_string(s.ws.with_extension("export").join("medallion.toml")).unwrap();
    assert!(
        toml.contains(&format!(
            "[alert_targets.ops_hook.url]\nkeyring = \"{secret}\""
        )),
        "{toml}"
    );
    let bytes = workspace_bytes(&s.ws);
    assert!(bytes.contains(secret), "the reference is stored");
    assert!(
        !bytes.contains("t0ken"),
        "the URL leaked into the workspace file"
    );
    assert!(
        !toml.contains("t0ken"),
        "the URL leaked into the project file"
    );

    // Deleting the target takes it out of the rule.
    h.get_by_label("Delete target ops_hook").click();
    h.run_steps(3);
    let alerts = &h.state().project().alerts;
    assert!(alerts.target("ops_hook").is_none());
    assert!(
        alerts
            .rules
            .iter()
            .find(|r| r.name == "rule_1")
            .unwrap()
            .targets
            .is_empty(),
        "{alerts:?}"
    );
    let _ = secret_tool(&["clear", "service", "medallion", "username", secret]);
}

#[test]
fn failed_deliveries_are_counted_listed_and_survive_a_restart() {
    let extra = "
[alert_targets.unset]
kind = \"webhook\"
url = { env = \"MEDALLION_TEST_HOOK_NEVER_SET\" }
";
    let s = Setup::with(&format!("{ALERTS}{extra}"));
    // A test message to `hook` that the server refuses three times: a final failure.
    s.server.answer_next(&[500, 500, 500]);
    let o = s.medallion(&["alerts", "test", NAME, "hook"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    let mut h = studio(&s.ws);
    wait_until(&mut h, "the failed deliveries", |st| {
        st.automation.failed_count() == Some(1)
    });
    h.get_by_label("1 failed alert(s)").click();
    h.run_steps(2);
    wait_until(&mut h, "the automation view", |st| {
        matches!(st.automation.view, Some(Ok(_)))
    });
    h.get_by_label("Failed deliveries (1)");
    h.get_by_label("hook (webhook)");
    h.get_by_label("HTTP 500: upstream down");
    let Some(Ok(view)) = &h.state().automation.view else {
        unreachable!()
    };
    let failed = &view.failed_deliveries[0];
    assert_eq!(
        (
            failed.attempt,
            failed.event.as_str(),
            failed.target.as_str()
        ),
        (3, "test", "hook")
    );

    // "Send test" to a target whose URL cannot be read: one attempt, and one clear sentence.
    h.get_by_label("Alert targets and rules").click();
    h.run_steps(2);
    h.get_by_label("Send test to unset").click();
    wait_for_label(
        &mut h,
        "Test message to `unset` (webhook) failed after 1 attempt(s): the target's URL could not be read",
    );
    wait_until(&mut h, "the second failure", |st| {
        st.automation.failed_count() == Some(2)
    });
    h.get_by_label("2 failed alert(s)");
    drop(h);

    // A new studio on the same workspace reads them again.
    let mut h = studio(&s.ws);
    wait_until(&mut h, "the failed deliveries after a restart", |st| {
        st.automation.failed_count() == Some(2)
    });
    h.get_by_label("2 failed alert(s)").click();
    h.run_steps(2);
    wait_until(&mut h, "the automation view", |st| {
        matches!(st.automation.view, Some(Ok(_)))
    });
    h.get_by_label("Failed deliveries (2)");
    h.get_by_label("unset (webhook)");
    h.get_by_label("hook (webhook)");
}

/// An SNS topic target is added and edited in the Alerts tab like a webhook: a malformed ARN is
/// refused in one sentence and nothing is saved; a good one is saved with the resource left to
/// the default; editing it names a resource; no secret is asked for or stored.
#[test]
fn an_sns_target_is_added_and_edited_in_the_studio() {
    let s = Setup::with(ALERTS);
    let mut h = studio(&s.ws);
    open_alerts_tab(&mut h);
    h.get_by_label("Add SNS topic").click();
    h.run_steps(2);
    retype(&mut h, Role::TextInput, "Name", "ops");
    retype(
        &mut h,
        Role::TextInput,
        "Topic ARN",
        "arn:aws:sns:eu-west-1:12345:data-alerts",
    );
    h.get_by_label("Save target").click();
    wait_for_label(&mut h, "has no 12-digit account id");
    assert!(h.state().project().alerts.target("ops").is_none());

    let arn = "arn:aws:sns:eu-west-1:123456789012:data-alerts";
    retype(&mut h, Role::TextInput, "Topic ARN", arn);
    h.get_by_label("Save target").click();
    wait_for_label(&mut h, "Saved target `ops`");
    let kind = |h: &Harness<'_, Studio>| {
        h.state()
            .project()
            .alerts
            .target("ops")
            .map(|t| t.kind.clone())
    };
    assert_eq!(
        kind(&h),
        Some(AlertTargetKind::Sns(medallion::model::SnsTarget {
            topic_arn: arn.to_owned(),
            resource: None,
        }))
    );
    h.get_by_label_contains(&format!("topic {arn}"));

    h.get_by_label("Edit target ops").click();
    h.run_steps(2);
    retype(&mut h, Role::TextInput, "AWS resource", "ops_account");
    h.get_by_label("Save target").click();
    wait_for_label(&mut h, "(with resource ops_account)");
    assert_eq!(
        kind(&h),
        Some(AlertTargetKind::Sns(medallion::model::SnsTarget {
            topic_arn: arn.to_owned(),
            resource: Some("ops_account".to_owned()),
        }))
    );
}
