//! Alerts: where a message goes (targets: a webhook, a Slack incoming webhook, an e-mail over
//! SMTP, an Amazon SNS topic) and when (rules: which events, for which assets, to which targets). Every URL or
//! password is a [`SecretRef`], never a value. Dagster's per-op `@success_hook` /
//! `@failure_hook` are rules whose selection names the asset.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::resource::SecretRef;

/// The alert targets and rules of a project (`[alert_targets.*]`, `[alert_rules.*]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AlertSettings {
    #[serde(default)]
    pub targets: Vec<AlertTarget>,
    #[serde(default)]
    pub rules: Vec<AlertRule>,
}

impl AlertSettings {
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.rules.is_empty()
    }

    pub fn target(&self, name: &str) -> Option<&AlertTarget> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// Targets and rules in name order, the canonical order of files and the workspace.
    pub fn sort(&mut self) {
        self.targets.sort_by(|a, b| a.name.cmp(&b.name));
        self.rules.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// Where alert messages go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertTarget {
    pub name: String,
    pub kind: AlertTargetKind,
}

/// How a target is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertTargetKind {
    /// A JSON document sent by POST to a URL (the URL often carries a token, so it is a secret).
    Webhook { url: SecretRef },
    /// A Slack incoming webhook: a message with blocks.
    Slack { url: SecretRef },
    /// An e-mail over SMTP.
    Email(EmailTarget),
    /// An Amazon SNS topic that exists already (typically the operations team's): the webhook's
    /// JSON document is published to it.
    Sns(SnsTarget),
}

/// An SNS topic by ARN, and the `aws` resource whose credentials publish to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnsTarget {
    /// `arn:aws:sns:<region>:<account>:<topic>`.
    pub topic_arn: String,
    /// The `aws` resource to publish with (its profile, keys and endpoint); `None`: the project's
    /// first `aws` resource, or the standard AWS chain when it has none.
    #[serde(default)]
    pub resource: Option<String>,
}

/// The parts of an SNS topic ARN: (partition, region, account, topic name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
}

impl<'a> TopicArn<'a> {
    /// Reads `arn:<partition>:sns:<region>:<12-digit account>:<name>`, where the name is 1 to
    /// 256 letters, digits, `-` and `_` (a FIFO topic's ending in `.fifo`).
    ///
    /// # Errors
    /// What is wrong with it, in words that follow "topic ARN `…` ".
    pub fn parse(arn: &'a str) -> Result<Self, String> {
        let parts: Vec<&str> = arn.split(':').collect();
        let [arn_word, partition, service, region, account, name] = parts.as_slice() else {
            return Err(
                "is not arn:aws:sns:<region>:<account>:<topic> (six parts separated by `:`)"
                    .to_owned(),
            );
        };
        if *arn_word != "arn" || !partition.starts_with("aws") {
            return Err("does not start with arn:aws".to_owned());
        }
        if *service != "sns" {
            return Err(format!("names service `{service}`, not sns"));
        }
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!("has no valid region (`{region}`)"));
        }
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("has no 12-digit account id (`{account}`)"));
        }
        let base = name.strip_suffix(".fifo").unwrap_or(name);
        if base.is_empty()
            || name.len() > 256
            || !base
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "has no valid topic name (`{name}`: 1 to 256 letters, digits, `-` and `_`)"
            ));
        }
        Ok(Self {
            partition,
            region,
            account,
            name,
        })
    }
}

impl AlertTargetKind {
    pub fn label(&self) -> &'static str {
        match self {
            AlertTargetKind::Webhook { .. } => "webhook",
            AlertTargetKind::Slack { .. } => "slack",
            AlertTargetKind::Email(_) => "email",
            AlertTargetKind::Sns(_) => "sns",
        }
    }
}

/// An SMTP server and the envelope of the messages sent through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailTarget {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretRef>,
    pub from: String,
    pub to: Vec<String>,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS (a local relay; never across a network).
    None,
}

impl SmtpTls {
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::Starttls => "starttls",
            SmtpTls::Tls => "tls",
            SmtpTls::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "starttls" => Some(SmtpTls::Starttls),
            "tls" => Some(SmtpTls::Tls),
            "none" => Some(SmtpTls::None),
            _ => None,
        }
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEventKind {
    RunFailure,
    RunSuccess,
    /// A blocking check failed.
    CheckFailure,
    FreshnessOverdue,
    SensorError,
}

impl AlertEventKind {
    pub const ALL: [AlertEventKind; 5] = [
        AlertEventKind::RunFailure,
        AlertEventKind::RunSuccess,
        AlertEventKind::CheckFailure,
        AlertEventKind::FreshnessOverdue,
        AlertEventKind::SensorError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertEventKind::RunFailure => "run_failure",
            AlertEventKind::RunSuccess => "run_success",
            AlertEventKind::CheckFailure => "check_failure",
            AlertEventKind::FreshnessOverdue => "freshness_overdue",
            AlertEventKind::SensorError => "sensor_error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Words for people: "run failure".
    pub fn label(self) -> &'static str {
        match self {
            AlertEventKind::RunFailure => "run failure",
            AlertEventKind::RunSuccess => "run success",
            AlertEventKind::CheckFailure => "blocking check failure",
            AlertEventKind::FreshnessOverdue => "freshness overdue",
            AlertEventKind::SensorError => "sensor error",
        }
    }
}

impl fmt::Display for AlertEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When to send what to whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRule {
    pub name: String,
    pub events: Vec<AlertEventKind>,
    /// Target names.
    pub targets: Vec<String>,
    /// Only events about these assets (selection syntax); `None`: every asset. Sensor errors
    /// are about no asset and always match.
    pub selection: Option<String>,
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_round_trip_their_names() {
        for k in AlertEventKind::ALL {
            assert_eq!(AlertEventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(AlertEventKind::parse("run_failed"), None);
    }

    #[test]
    fn topic_arns_are_read_and_malformed_ones_refused_with_what_is_wrong() {
        let t = TopicArn::parse("arn:aws:sns:eu-west-1:123456789012:data-alerts").unwrap();
        assert_eq!(
            (t.partition, t.region, t.account, t.name),
            ("aws", "eu-west-1", "123456789012", "data-alerts")
        );
        assert!(TopicArn::parse("arn:aws:sns:us-east-1:123456789012:ops.fifo").is_ok());
        for (arn, said) in [
            ("data-alerts", "six parts"),
            (
                "arn:aws:sqs:eu-west-1:123456789012:q",
                "names service `sqs`",
            ),
            ("arn:aws:sns:eu-west-1:1234:t", "12-digit account"),
            ("arn:aws:sns::123456789012:t", "no valid region"),
            (
                "arn:aws:sns:eu-west-1:123456789012:a b",
                "no valid topic name",
            ),
            ("urn:aws:sns:eu-west-1:123456789012:t", "arn:aws"),
        ] {
            let e = TopicArn::parse(arn).unwrap_err();
            assert!(e.contains(said), "{arn}: {e}");
        }
    }
}
