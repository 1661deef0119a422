//! Alert rules deployed onto EventBridge, so a deployed project alerts with no Medallion
//! running: each webhook or Slack target becomes an EventBridge **connection** and **API
//! destination** (EventBridge sends the message, retries it and keeps the URL), and each
//! (alert rule, target, outcome) an EventBridge **rule** on the state machine's "Step Functions
//! Execution Status Change" events whose target is that destination — or, for an SNS target,
//! the topic itself (an existing one; its policy lets EventBridge publish) — with the message
//! written by an input transformer, retried for a day, and what still cannot be delivered sent
//! to the project's dead-letter queue ([`super::queue`]). Connections and API destinations take no tags, so they are known as
//! the project's by a name under `medallion-<project>-` and [`owner_marker`] in their
//! description. The URL is a secret: it is never in a desired config (only its SHA-256) and
//! travels to `apply` as a [`SecretUrl`], whose `Debug` hides it. Pure; `apply` calls AWS.

use std::fmt;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::objects::hex;
use super::{Desired, ItemKind};
use crate::model::{AlertEventKind, AlertRule};

/// The header of the API-key authorization every connection carries. EventBridge requires an
/// authorization on a connection; the webhooks Medallion sends to carry their token in the URL,
/// so the key is the project's name, which is no secret.
pub const API_KEY_HEADER: &str = "X-Medallion-Project";

/// A rule target's ARN before its API destination exists: `apply` puts the ARN it gets back
/// in its place.
pub const PENDING_DESTINATION: &str = "pending:api-destination:";

/// A webhook's URL, as read from the keyring for one deploy. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(pub String);

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretUrl([secret])")
    }
}

/// How a deployed target formats its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The desktop's webhook document (`source`, `event`, `project`, `summary`, `details`).
    Webhook,
    /// A Slack incoming-webhook message (`text`).
    Slack,
}

/// What marks a connection or API destination as the project's, in its description.
pub fn owner_marker(project: &str) -> String {
    format!("{}={project}", super::PROJECT_TAG)
}

/// A name under `medallion-<project>-` of at most 64 characters; a longer one keeps its start
/// and ends in a short hash of the whole, so two long names stay apart.
pub fn bounded_name(project: &str, part: &str) -> String {
    let full = super::resource_name(project, Some(part), usize::MAX);
    if full.len() <= 64 {
        return full;
    }
    let hash = hex(&Sha256::digest(full.as_bytes()))[..8].to_owned();
    format!("{}-{hash}", &full[..55])
}

/// The SHA-256 of a URL, as a desired config compares it.
pub fn url_digest(url: &str) -> String {
    hex(&Sha256::digest(url.as_bytes()))
}

/// The connection of an alert target.
pub fn connection(project: &str, target: &str) -> Desired {
    Desired {
        kind: ItemKind::Connection,
        name: bounded_name(project, &format!("alert-{target}")),
        config: json!({ "authorization_type": "API_KEY", "description": description(project, target) }),
        summary: format!("EventBridge connection of alert target {target}"),
    }
}

fn description(project: &str, target: &str) -> String {
    format!(
        "Medallion alert target {target} of project {project} ({})",
        owner_marker(project)
    )
}

/// The API destination of an alert target: a POST to its URL (`shown`: scheme and host only).
pub fn destination(project: &str, target: &str, url: &SecretUrl, shown: &str) -> Desired {
    Desired {
        kind: ItemKind::ApiDestination,
        name: bounded_name(project, &format!("alert-{target}")),
        config: json!({
            "connection": bounded_name(project, &format!("alert-{target}")),
            "endpoint_sha256": url_digest(&url.0),
            "method": "POST",
            "rate_per_second": 1,
            "description": description(project, target),
        }),
        summary: format!("POST to {shown} (the URL from its secret; EventBridge retries for 24 h)"),
    }
}

/// The execution statuses an alert rule's events stand for, as (name suffix, statuses): a
/// failed, timed-out or aborted execution for run and blocking-check failures (a deployed
/// execution that a blocking check stops is FAILED), a succeeded one for run success.
/// Freshness and sensor errors are not execution events and give nothing.
pub fn outcomes(rule: &AlertRule) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out = Vec::new();
    if rule
        .events
        .iter()
        .any(|e| matches!(e, AlertEventKind::RunFailure | AlertEventKind::CheckFailure))
    {
        out.push(("failure", vec!["FAILED", "TIMED_OUT", "ABORTED"]));
    }
    if rule.events.contains(&AlertEventKind::RunSuccess) {
        out.push(("success", vec!["SUCCEEDED"]));
    }
    out
}

/// How many times EventBridge tries a deployed alert, and for how long (its most: 185 attempts
/// over 24 hours), before the event goes to the dead-letter queue.
pub const RETRY_ATTEMPTS: i32 = 185;
pub const RETRY_SECONDS: i32 = 86_400;

/// One deployed alert: a rule of the project, one of its targets, one outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSpec<'a> {
    pub project: &'a str,
    pub rule: &'a AlertRule,
    pub target: &'a str,
    pub format: Format,
    pub outcome: &'a str,
    pub statuses: &'a [&'a str],
    pub state_machine_arn: &'a str,
    /// The API destination's ARN (or [`PENDING_DESTINATION`] and its name), or an SNS topic's.
    pub destination_arn: &'a str,
    /// The role EventBridge invokes an API destination with; `None` for an SNS topic, whose
    /// own policy lets EventBridge publish.
    pub role_arn: Option<&'a str>,
    /// What the rule sends to, for the plan's line (`SNS topic arn:…`).
    pub shown: &'a str,
    /// The dead-letter queue's ARN (or [`super::queue::PENDING_QUEUE`] and its name).
    pub dead_letter_arn: &'a str,
}

/// The EventBridge rule of one deployed alert.
pub fn rule(s: &AlertSpec<'_>) -> Desired {
    let pattern = json!({
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "stateMachineArn": [s.state_machine_arn],
            "status": s.statuses,
        },
    });
    let event = if s.outcome == "success" {
        AlertEventKind::RunSuccess
    } else {
        AlertEventKind::RunFailure
    };
    Desired {
        kind: ItemKind::Rule,
        name: bounded_name(
            s.project,
            &format!("alert-{}-{}-{}", s.rule.name, s.target, s.outcome),
        ),
        summary: format!(
            "alert {} → {} ({}): executions {}{}",
            s.rule.name,
            s.target,
            s.shown,
            s.statuses.join(", "),
            if s.rule.enabled { "" } else { ", disabled" }
        ),
        config: json!({
            "event_pattern": pattern,
            "state": if s.rule.enabled { "ENABLED" } else { "DISABLED" },
            "target": s.destination_arn,
            "role_arn": s.role_arn,
            "input_paths": input_paths(),
            "input_template": template(s.project, s.format, event),
            "dead_letter_arn": s.dead_letter_arn,
            "retry_policy": {
                "maximum_retry_attempts": RETRY_ATTEMPTS,
                "maximum_event_age_in_seconds": RETRY_SECONDS,
            },
        }),
    }
}

/// What the input transformer reads from the status-change event.
fn input_paths() -> Value {
    json!({
        "execution": "$.detail.name",
        "execution_arn": "$.detail.executionArn",
        "status": "$.detail.status",
        "time": "$.time",
    })
}

/// The message, as an input template: the desktop's webhook document or a Slack message, with
/// the execution's name, ARN, status and time put in by EventBridge.
pub fn template(project: &str, format: Format, event: AlertEventKind) -> String {
    let summary = format!("Deployed run <execution> of {project}: <status>");
    match format {
        Format::Webhook => json!({
            "source": "medallion",
            "version": env!("CARGO_PKG_VERSION"),
            "event": event.as_str(),
            "project": project,
            "summary": summary,
            "raised_at": "<time>",
            "details": {
                "execution": "<execution>",
                "execution_arn": "<execution_arn>",
                "status": "<status>",
            },
        })
        .to_string(),
        Format::Slack => {
            let icon = if event == AlertEventKind::RunSuccess {
                ":white_check_mark:"
            } else {
                ":x:"
            };
            json!({ "text": format!("{icon} {summary}") }).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert_rule(events: &[AlertEventKind]) -> AlertRule {
        AlertRule {
            name: "oncall".to_owned(),
            events: events.to_vec(),
            targets: vec!["hook".to_owned()],
            selection: None,
            enabled: true,
        }
    }

    #[test]
    fn failures_and_success_map_to_execution_statuses_and_freshness_to_none() {
        let all = alert_rule(&AlertEventKind::ALL);
        let o = outcomes(&all);
        assert_eq!(o.len(), 2);
        assert_eq!(o[0], ("failure", vec!["FAILED", "TIMED_OUT", "ABORTED"]));
        assert_eq!(o[1], ("success", vec!["SUCCEEDED"]));
        let fresh = alert_rule(&[
            AlertEventKind::FreshnessOverdue,
            AlertEventKind::SensorError,
        ]);
        assert!(outcomes(&fresh).is_empty());
    }

    #[test]
    fn the_rule_matches_its_machines_statuses_and_its_message_is_json_after_substitution() {
        let r = alert_rule(&[AlertEventKind::RunFailure]);
        let d = rule(&AlertSpec {
            project: "shop",
            rule: &r,
            target: "hook",
            format: Format::Webhook,
            outcome: "failure",
            statuses: &["FAILED", "TIMED_OUT", "ABORTED"],
            state_machine_arn: "arn:aws:states:eu-west-1:1:stateMachine:medallion-shop",
            destination_arn: "arn:dest",
            role_arn: Some("arn:role"),
            shown: "POST to https://hooks.example",
            dead_letter_arn: "arn:aws:sqs:eu-west-1:1:medallion-shop-alerts-dlq",
        });
        assert_eq!(
            d.config["dead_letter_arn"],
            "arn:aws:sqs:eu-west-1:1:medallion-shop-alerts-dlq"
        );
        assert_eq!(d.config["retry_policy"]["maximum_retry_attempts"], 185);
        assert_eq!(d.name, "medallion-shop-alert-oncall-hook-failure");
        assert_eq!(
            d.config["event_pattern"]["detail"]["status"],
            json!(["FAILED", "TIMED_OUT", "ABORTED"])
        );
        // EventBridge replaces each <name> inside the quotes; the result must parse.
        let filled = d.config["input_template"]
            .as_str()
            .unwrap_or_default()
            .replace("<execution>", "run-1")
            .replace("<execution_arn>", "arn:x")
            .replace("<status>", "FAILED")
            .replace("<time>", "2026-12-06T10:00:00Z");
        let v: Value = serde_json::from_str(&filled).unwrap();
        assert_eq!(v["event"], "run_failure");
        assert_eq!(v["summary"], "Deployed run run-1 of shop: FAILED");
        let slack = template("shop", Format::Slack, AlertEventKind::RunSuccess);
        assert!(slack.contains(":white_check_mark: Deployed run <execution> of shop"));
    }

    #[test]
    fn long_names_stay_within_64_characters_and_apart() {
        let a = bounded_name("p", &"x".repeat(80));
        let b = bounded_name("p", &format!("{}y", "x".repeat(79)));
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(bounded_name("p", "alert-t"), "medallion-p-alert-t");
    }

    #[test]
    fn a_secret_url_is_not_shown_by_debug_and_only_its_digest_is_in_the_config() {
        let url = SecretUrl("https://hooks.example/T0/B0/token".to_owned());
        assert!(!format!("{url:?}").contains("token"));
        let d = destination("shop", "hook", &url, "https://hooks.example");
        assert!(!d.config.to_string().contains("token"));
        assert!(!d.summary.contains("token"));
        assert_eq!(d.config["endpoint_sha256"], url_digest(&url.0));
    }
}
