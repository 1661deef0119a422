//! What an alert says: one summary line, labelled fields (project, run, trigger, assets, failing
//! checks, duration, cost …), and the event itself — laid out as a webhook's JSON document, a
//! Slack message (text + blocks) or an e-mail.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{AlertEvent, RunAlert};
use crate::model::{format_duration_ms, time};

/// Most assets or checks named in a message; the rest are counted.
const LISTED: usize = 10;

/// A message ready to be laid out for any target.
pub(super) struct Message {
    pub project: String,
    /// `run_failure`, … or `test`.
    pub kind: String,
    pub summary: String,
    pub raised_at: DateTime<Utc>,
    pub fields: Vec<(&'static str, String)>,
    pub details: Value,
}

/// One line for people.
pub(super) fn summary(project: &str, event: &AlertEvent) -> String {
    match event {
        AlertEvent::RunFailure(r) => format!(
            "Run {} of project {project} failed{}{}",
            r.run_id,
            r.duration_ms
                .map(|d| format!(" after {}", format_duration_ms(d)))
                .unwrap_or_default(),
            r.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
        AlertEvent::RunSuccess(r) => format!(
            "Run {} of project {project} succeeded{}: {} asset(s) materialized",
            r.run_id,
            r.duration_ms
                .map(|d| format!(" in {}", format_duration_ms(d)))
                .unwrap_or_default(),
            r.materialized.len()
        ),
        AlertEvent::CheckFailure(r) => {
            let blocking: Vec<String> = r
                .failing_checks
                .iter()
                .filter(|c| c.blocking)
                .map(|c| format!("`{}` on {}", c.check, c.asset))
                .collect();
            format!(
                "Run {} of project {project}: blocking check(s) failed: {}",
                r.run_id,
                list(&blocking)
            )
        }
        AlertEvent::FreshnessOverdue(a) => format!(
            "Asset {} of project {project} is overdue: {}",
            a.asset, a.reason
        ),
        AlertEvent::SensorError { sensor, message } => {
            format!("Sensor {sensor} of project {project} failed: {message}")
        }
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    let mut shown = items
        .iter()
        .take(LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > LISTED {
        let _ = write!(shown, " and {} more", items.len() - LISTED);
    }
    shown
}

fn run_fields(r: &RunAlert) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("Run", r.run_id.to_string()),
        ("Status", r.status.clone()),
        ("Trigger", r.trigger.clone()),
        ("Where", r.target.clone()),
        (
            "Duration",
            r.duration_ms
                .map_or_else(|| "unknown".to_owned(), format_duration_ms),
        ),
        ("Cost", r.cost_text()),
    ];
    if let Some(p) = &r.partition {
        f.push(("Partition", p.clone()));
    }
    let assets: Vec<String> = r.materialized.iter().map(ToString::to_string).collect();
    f.push(("Assets materialized", list(&assets)));
    if !r.failed.is_empty() {
        let failed: Vec<String> = r
            .failed
            .iter()
            .map(|s| format!("{} ({})", s.asset, s.reason))
            .collect();
        f.push(("Assets failed", list(&failed)));
    }
    let checks: Vec<String> = r
        .failing_checks
        .iter()
        .map(|c| {
            format!(
                "{} on {}: {} failing row(s){}",
                c.check,
                c.asset,
                c.failing_count,
                if c.blocking { ", blocking" } else { "" }
            )
        })
        .collect();
    f.push(("Failing checks", list(&checks)));
    if let Some(e) = &r.error {
        f.push(("Error", e.clone()));
    }
    f
}

impl Message {
    pub fn new(project: &str, event: AlertEvent, summary: &str, now: DateTime<Utc>) -> Self {
        let mut fields = vec![("Project", project.to_owned())];
        match &event {
            AlertEvent::RunFailure(r) | AlertEvent::RunSuccess(r) | AlertEvent::CheckFailure(r) => {
                fields.extend(run_fields(r));
            }
            AlertEvent::FreshnessOverdue(a) => {
                fields.push(("Asset", a.asset.to_string()));
                fields.push(("Freshness", a.state.as_str().to_owned()));
                fields.push(("Why", a.reason.clone()));
                fields.push((
                    "Last materialized",
                    a.last_materialized_at
                        .as_ref()
                        .map_or_else(|| "never".to_owned(), crate::model::time::text),
                ));
            }
            AlertEvent::SensorError { sensor, message } => {
                fields.push(("Sensor", sensor.clone()));
                fields.push(("Error", message.clone()));
            }
        }
        Self {
            project: project.to_owned(),
            kind: event.kind().as_str().to_owned(),
            summary: summary.to_owned(),
            raised_at: now,
            fields,
            details: serde_json::to_value(event).unwrap_or(Value::Null),
        }
    }

    pub fn test(project: &str, summary: &str, now: DateTime<Utc>) -> Self {
        Self {
            project: project.to_owned(),
            kind: "test".to_owned(),
            summary: summary.to_owned(),
            raised_at: now,
            fields: vec![("Project", project.to_owned())],
            details: json!({ "event": "test" }),
        }
    }

    /// The webhook document: stable top-level keys, the event in `details`.
    pub fn webhook_body(&self) -> Value {
        json!({
            "source": "medallion",
            "version": env!("CARGO_PKG_VERSION"),
            "event": self.kind,
            "project": self.project,
            "summary": self.summary,
            "raised_at": time::secs_text(&self.raised_at),
            "details": self.details,
        })
    }

    /// A Slack incoming-webhook message: `text` (notifications, fallback) and blocks.
    pub fn slack_body(&self) -> Value {
        let icon = match self.kind.as_str() {
            "run_success" => ":white_check_mark:",
            "test" => ":wave:",
            _ => ":rotating_light:",
        };
        let fields: Vec<Value> = self
            .fields
            .iter()
            .map(|(k, v)| json!({ "type": "mrkdwn", "text": format!("*{k}*\n{}", escape(v)) }))
            .collect();
        let mut blocks = vec![json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": format!("{icon} *{}*", escape(&self.summary)) }
        })];
        // Slack allows at most 10 fields per section block.
        for chunk in fields.chunks(10) {
            blocks.push(json!({ "type": "section", "fields": chunk }));
        }
        blocks.push(json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": format!("Medallion · {} · {}", self.kind, time::secs_text(&self.raised_at)) }]
        }));
        json!({ "text": format!("{icon} {}", self.summary), "blocks": blocks })
    }

    /// The e-mail's subject: "[Medallion] " and the summary, on one line.
    pub fn email_subject(&self) -> String {
        let line: String = self
            .summary
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!("[Medallion] {line}")
    }

    /// The e-mail's plain-text body: the summary, the labelled fields (the same as Slack's), and
    /// when and what it was.
    pub fn email_text(&self) -> String {
        let mut out = format!("{}\n\n", self.summary);
        let width = self.fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in &self.fields {
            let _ = writeln!(out, "{k:<width$}  {v}");
        }
        let at = time::secs_text(&self.raised_at);
        let _ = write!(out, "\nMedallion · {} · {at}\n", self.kind);
        out
    }
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
