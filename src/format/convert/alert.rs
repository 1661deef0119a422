//! `[alert_targets.*]` and `[alert_rules.*]` to the model and back.

use super::{
    ConvertError, FileProblem, Spans, no_span, refuse_all_but, required, secret, secret_file,
};
use crate::format::file::{AlertRuleFile, AlertTargetFile};
use crate::model::{
    AlertEventKind, AlertRule, AlertTarget, AlertTargetKind, EmailTarget, Project, SmtpTls,
    SnsTarget,
};

/// Reads the alert tables into `project`, recording spans and problems.
pub(super) fn alerts_from_file(
    targets: std::collections::BTreeMap<String, toml::Spanned<AlertTargetFile>>,
    rules: std::collections::BTreeMap<String, toml::Spanned<AlertRuleFile>>,
    project: &mut Project,
    spans: &mut Spans,
    problems: &mut Vec<FileProblem>,
) {
    for (name, spanned) in targets {
        let span = spanned.span();
        let field = format!("alert_targets.{name}");
        spans
            .fields
            .insert((String::new(), field.clone()), span.clone());
        match target_from_file(&name, spanned.into_inner()) {
            Ok(t) => project.alerts.targets.push(t),
            Err(e) => problems.push(FileProblem {
                span,
                asset: None,
                field,
                message: e.to_string(),
            }),
        }
    }
    for (name, spanned) in rules {
        let span = spanned.span();
        let field = format!("alert_rules.{name}");
        for suffix in ["", ".events", ".targets", ".selection"] {
            spans
                .fields
                .insert((String::new(), format!("{field}{suffix}")), span.clone());
        }
        match rule_from_file(&name, spanned.into_inner()) {
            Ok(r) => project.alerts.rules.push(r),
            Err(e) => problems.push(FileProblem {
                span,
                asset: None,
                field,
                message: e.to_string(),
            }),
        }
    }
}

fn target_from_file(name: &str, f: AlertTargetFile) -> Result<AlertTarget, ConvertError> {
    let all = [
        ("url", f.url.is_some()),
        ("host", f.host.is_some()),
        ("port", f.port.is_some()),
        ("tls", f.tls.is_some()),
        ("username", f.username.is_some()),
        ("password", f.password.is_some()),
        ("from", f.from.is_some()),
        ("to", f.to.is_some()),
        ("topic_arn", f.topic_arn.is_some()),
        ("resource", f.resource.is_some()),
    ];
    let what = format!("{} alert target", f.kind);
    let kind = match f.kind.as_str() {
        "webhook" | "slack" => {
            refuse_all_but(&what, &all, &["url"])?;
            let url = required(secret(f.url, "url")?, &what, "url")?;
            if f.kind == "slack" {
                AlertTargetKind::Slack { url }
            } else {
                AlertTargetKind::Webhook { url }
            }
        }
        "email" => {
            refuse_all_but(
                &what,
                &all,
                &["host", "port", "tls", "username", "password", "from", "to"],
            )?;
            let tls = match f.tls.as_deref() {
                None => SmtpTls::default(),
                Some(t) => SmtpTls::parse(t).ok_or_else(|| ConvertError::NotOneOf {
                    field: "tls",
                    value: t.to_owned(),
                    allowed: "starttls, tls or none".to_owned(),
                })?,
            };
            let port = f.port.unwrap_or(match tls {
                SmtpTls::Starttls => 587,
                SmtpTls::Tls => 465,
                SmtpTls::None => 25,
            });
            AlertTargetKind::Email(EmailTarget {
                host: required(f.host, &what, "host")?,
                port,
                tls,
                username: f.username,
                password: secret(f.password, "password")?,
                from: required(f.from, &what, "from")?,
                to: required(f.to, &what, "to")?,
            })
        }
        "sns" => {
            refuse_all_but(&what, &all, &["topic_arn", "resource"])?;
            AlertTargetKind::Sns(SnsTarget {
                topic_arn: required(f.topic_arn, &what, "topic_arn")?,
                resource: f.resource,
            })
        }
        other => {
            return Err(ConvertError::AlertTargetKind {
                name: name.to_owned(),
                kind: other.to_owned(),
            });
        }
    };
    Ok(AlertTarget {
        name: name.to_owned(),
        kind,
    })
}

fn rule_from_file(name: &str, f: AlertRuleFile) -> Result<AlertRule, ConvertError> {
    let mut events = Vec::new();
    for e in &f.events {
        let kind = AlertEventKind::parse(e).ok_or_else(|| ConvertError::AlertEvent {
            rule: name.to_owned(),
            event: e.clone(),
            allowed: AlertEventKind::ALL.map(AlertEventKind::as_str).join(", "),
        })?;
        if !events.contains(&kind) {
            events.push(kind);
        }
    }
    Ok(AlertRule {
        name: name.to_owned(),
        events,
        targets: f.targets,
        selection: f.selection,
        enabled: f.enabled,
    })
}

/// The alert tables of `project`, for writing.
pub(super) fn alerts_to_file(
    project: &Project,
) -> (
    std::collections::BTreeMap<String, toml::Spanned<AlertTargetFile>>,
    std::collections::BTreeMap<String, toml::Spanned<AlertRuleFile>>,
) {
    let targets = project
        .alerts
        .targets
        .iter()
        .map(|t| (t.name.clone(), no_span(target_to_file(t))))
        .collect();
    let rules = project
        .alerts
        .rules
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                no_span(AlertRuleFile {
                    events: r.events.iter().map(|e| e.as_str().to_owned()).collect(),
                    targets: r.targets.clone(),
                    selection: r.selection.clone(),
                    enabled: r.enabled,
                }),
            )
        })
        .collect();
    (targets, rules)
}

fn target_to_file(t: &AlertTarget) -> AlertTargetFile {
    let mut f = AlertTargetFile {
        kind: t.kind.label().to_owned(),
        url: None,
        host: None,
        port: None,
        tls: None,
        username: None,
        password: None,
        from: None,
        to: None,
        topic_arn: None,
        resource: None,
    };
    match &t.kind {
        AlertTargetKind::Webhook { url } | AlertTargetKind::Slack { url } => {
            f.url = secret_file(Some(url));
        }
        AlertTargetKind::Email(e) => {
            f.host = Some(e.host.clone());
            f.port = Some(e.port);
            f.tls = Some(e.tls.as_str().to_owned());
            f.username.clone_from(&e.username);
            f.password = secret_file(e.password.as_ref());
            f.from = Some(e.from.clone());
            f.to = Some(e.to.clone());
        }
        AlertTargetKind::Sns(t) => {
            f.topic_arn = Some(t.topic_arn.clone());
            f.resource.clone_from(&t.resource);
        }
    }
    f
}
