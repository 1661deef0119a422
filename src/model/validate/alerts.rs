//! Alert targets and rules: names, the fields each kind needs, and rules naming targets that
//! exist and selections that resolve.

use std::collections::BTreeSet;

use crate::model::alert::{AlertTargetKind, EmailTarget, SnsTarget, TopicArn};
use crate::model::asset::is_identifier;
use crate::model::diagnostic::{Diagnostic, DiagnosticCode as Code};
use crate::model::graph::AssetGraph;
use crate::model::project::Project;
use crate::model::resource::ResourceKind;
use crate::model::selection::AssetSelection;

pub(super) fn validate_alerts(project: &Project, graph: &AssetGraph, out: &mut Vec<Diagnostic>) {
    let mut names = BTreeSet::new();
    for t in &project.alerts.targets {
        let field = format!("alert_targets.{}", t.name);
        if !names.insert(t.name.as_str()) || !is_identifier(&t.name) {
            out.push(
                Diagnostic::error(
                    Code::InvalidName,
                    format!("alert target name `{}` must be a unique identifier", t.name),
                )
                .on_field(field.clone()),
            );
        }
        match &t.kind {
            AlertTargetKind::Email(e) => validate_email(&t.name, e, &field, out),
            AlertTargetKind::Sns(sns) => validate_sns(project, &t.name, sns, &field, out),
            AlertTargetKind::Webhook { .. } | AlertTargetKind::Slack { .. } => {}
        }
    }
    let mut rules = BTreeSet::new();
    for r in &project.alerts.rules {
        let field = format!("alert_rules.{}", r.name);
        let mut problem = |suffix: &str, code: Code, msg: String| {
            out.push(
                Diagnostic::error(code, format!("alert rule `{}`: {msg}", r.name))
                    .on_field(format!("{field}{suffix}")),
            );
        };
        if !rules.insert(r.name.as_str()) || !is_identifier(&r.name) {
            problem(
                "",
                Code::InvalidName,
                "the name must be a unique identifier".to_owned(),
            );
        }
        if r.events.is_empty() {
            problem(
                ".events",
                Code::InvalidAlert,
                "it names no event".to_owned(),
            );
        }
        if r.targets.is_empty() {
            problem(
                ".targets",
                Code::InvalidAlert,
                "it names no target".to_owned(),
            );
        }
        for name in &r.targets {
            if project.alerts.target(name).is_none() {
                problem(
                    ".targets",
                    Code::InvalidAlert,
                    format!("target `{name}` is not defined (add [alert_targets.{name}])"),
                );
            }
        }
        if let Some(sel) = &r.selection
            && let Err(e) = AssetSelection::parse(sel).and_then(|s| s.resolve(project, graph))
        {
            problem(".selection", Code::InvalidSelection, e.to_string());
        }
    }
}

fn validate_sns(
    project: &Project,
    name: &str,
    t: &SnsTarget,
    field: &str,
    out: &mut Vec<Diagnostic>,
) {
    let mut problem = |msg: String| {
        out.push(
            Diagnostic::error(Code::InvalidAlert, format!("alert target `{name}`: {msg}"))
                .on_field(field.to_owned()),
        );
    };
    if let Err(e) = TopicArn::parse(&t.topic_arn) {
        problem(format!("topic ARN `{}` {e}", t.topic_arn));
    }
    if let Some(r) = &t.resource {
        match project.resources.iter().find(|x| &x.name == r) {
            None => problem(format!(
                "resource `{r}` is not defined (add [resources.{r}] kind = \"aws\")"
            )),
            Some(x) if !matches!(x.kind, ResourceKind::Aws { .. }) => problem(format!(
                "resource `{r}` is a {} resource; an SNS topic is reached with an aws resource",
                x.kind.label()
            )),
            Some(_) => {}
        }
    }
}

fn validate_email(name: &str, e: &EmailTarget, field: &str, out: &mut Vec<Diagnostic>) {
    let mut problem = |msg: String| {
        out.push(
            Diagnostic::error(Code::InvalidAlert, format!("alert target `{name}`: {msg}"))
                .on_field(field.to_owned()),
        );
    };
    if e.host.trim().is_empty() {
        problem("host is empty".to_owned());
    }
    if e.port == 0 {
        problem("port 0 is not a port".to_owned());
    }
    if !is_address(&e.from) {
        problem(format!("from `{}` is not an e-mail address", e.from));
    }
    if e.to.is_empty() {
        problem("to names no recipient".to_owned());
    }
    for a in &e.to {
        if !is_address(a) {
            problem(format!("recipient `{a}` is not an e-mail address"));
        }
    }
    if e.password.is_some() && e.username.is_none() {
        problem("a password needs a username".to_owned());
    }
}

/// `local@domain`, with no spaces or angle brackets (enough to catch a typo; the server judges
/// the rest).
fn is_address(a: &str) -> bool {
    let Some((local, domain)) = a.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !a.contains(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';'))
}
