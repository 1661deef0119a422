//! The Automation window's "Alerts" tab: the project's alert targets (webhook, Slack, e-mail over
//! SMTP, an Amazon SNS topic) and rules — add, edit, delete — and "Send test" for each target. A webhook URL or an
//! SMTP password typed here goes straight to the OS keyring (the project keeps only
//! `{ keyring = "NAME" }`, as `[alert_targets.*]` in `medallion.toml` does), and the edit is
//! applied only once the keyring holds it. Keyring writes and tests are backend tasks; their
//! answers come back through the studio's `logic`.

use std::collections::BTreeSet;

use egui::RichText;

use super::connections::{DraftProblem, SecretInput, TypedSecrets, secret_name, secret_row};
use crate::app::AppError;
use crate::app::alerts::Delivery;
use crate::model::{
    AlertEventKind, AlertRule, AlertSettings, AlertTarget, AlertTargetKind, AssetSelection, Edit,
    EmailTarget, SecretRef, SmtpTls, SnsTarget, TopicArn,
};
use crate::ui::theme;

/// The form for one target being added or edited.
struct TargetDraft {
    /// The target's name when the draft was opened (`None` for a new one).
    original: Option<String>,
    name: String,
    /// The target as it was (a new one: blank), whose secret references stay when nothing is
    /// typed over them.
    kind: AlertTargetKind,
    /// The URL of a webhook or Slack target, or the SMTP password.
    secret: SecretInput,
    port_text: String,
    to_text: String,
}

/// The form for one rule being added or edited.
struct RuleDraft {
    original: Option<String>,
    name: String,
    events: BTreeSet<AlertEventKind>,
    targets: BTreeSet<String>,
    selection: String,
    enabled: bool,
}

/// The tab's state: at most one open form, the outcome of the last save, and the keyring write
/// and tests on their way.
#[derive(Default)]
pub struct AlertsEditor {
    target: Option<TargetDraft>,
    rule: Option<RuleDraft>,
    /// The outcome of the last save, delete or test: `(ok, message)`.
    pub status: Option<(bool, String)>,
    pending_store: Option<u64>,
    /// The save waiting for its secrets to reach the keyring.
    pending_edit: Option<Edit>,
    /// The test on its way: its id and the target's name.
    pending_test: Option<(u64, String)>,
}

impl std::fmt::Debug for AlertsEditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertsEditor")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// What a click in the tab asks the studio to do.
pub enum AlertIntent {
    /// Apply this edit now.
    Apply(Edit),
    /// Store these secrets, then apply the edit.
    StoreThenApply { secrets: TypedSecrets, edit: Edit },
    /// Send a test message to this target.
    Test(Box<AlertTarget>),
}

impl AlertsEditor {
    /// Whether `id` is a keyring write this tab is waiting for.
    pub fn waits_for(&self, id: u64) -> bool {
        self.pending_store == Some(id)
    }

    pub fn is_busy(&self) -> bool {
        self.pending_store.is_some() || self.pending_test.is_some()
    }

    /// The studio started the keyring write of a save.
    pub fn storing(&mut self, id: u64, edit: Edit) {
        self.pending_store = Some(id);
        self.pending_edit = Some(edit);
        self.status = Some((true, "Storing in the OS keyring…".to_owned()));
    }

    /// The studio started a test.
    pub fn testing(&mut self, id: u64, target: &str) {
        self.pending_test = Some((id, target.to_owned()));
        self.status = Some((true, format!("Sending a test message to `{target}`…")));
    }

    /// The keyring's answer to a save: the edit to apply now, or nothing (the keyring refused;
    /// nothing is saved and the form says why).
    pub fn on_secrets_stored(
        &mut self,
        id: u64,
        result: Result<Vec<String>, AppError>,
    ) -> Option<Edit> {
        if self.pending_store != Some(id) {
            return None;
        }
        self.pending_store = None;
        match result {
            Ok(names) => {
                self.status = Some((
                    true,
                    format!("Saved; stored {} in the OS keyring", names.join(", ")),
                ));
                self.close_forms();
                self.pending_edit.take()
            }
            Err(e) => {
                self.pending_edit = None;
                self.status = Some((
                    false,
                    format!(
                        "Not saved: the secret could not be stored in the OS keyring: {e}. Refer to an environment variable instead, or unlock the keyring and save again."
                    ),
                ));
                None
            }
        }
    }

    /// A test's answer, as one sentence: delivered and what the target answered, or failed
    /// and why.
    pub fn on_tested(&mut self, id: u64, result: Result<Delivery, AppError>) {
        let Some((pending, name)) = &self.pending_test else {
            return;
        };
        if *pending != id {
            return;
        }
        self.status = Some(match result {
            Ok(d) if d.delivered => (
                true,
                format!(
                    "Test message delivered to `{}` ({}); it answered {}",
                    d.target, d.target_kind, d.answer
                ),
            ),
            Ok(d) => (
                false,
                format!(
                    "Test message to `{}` ({}) failed after {} attempt(s): {}",
                    d.target, d.target_kind, d.attempts, d.answer
                ),
            ),
            Err(e) => (false, format!("Test message to `{name}` not sent: {e}")),
        });
        self.pending_test = None;
    }

    fn close_forms(&mut self) {
        self.target = None;
        self.rule = None;
    }
}

fn blank_kind(kind: &str) -> AlertTargetKind {
    let url = SecretRef::Keyring(String::new());
    match kind {
        "slack" => AlertTargetKind::Slack { url },
        "email" => AlertTargetKind::Email(EmailTarget {
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            from: String::new(),
            to: Vec::new(),
        }),
        "sns" => AlertTargetKind::Sns(SnsTarget {
            topic_arn: String::new(),
            resource: None,
        }),
        _ => AlertTargetKind::Webhook { url },
    }
}

fn target_draft(target: Option<&AlertTarget>, kind: &str, taken: &AlertSettings) -> TargetDraft {
    let (original, name, kind) = match target {
        Some(t) => (Some(t.name.clone()), t.name.clone(), t.kind.clone()),
        None => {
            let mut n = 1;
            while taken.target(&format!("{kind}_{n}")).is_some() {
                n += 1;
            }
            (None, format!("{kind}_{n}"), blank_kind(kind))
        }
    };
    let (secret, port_text, to_text) = match &kind {
        AlertTargetKind::Webhook { url } | AlertTargetKind::Slack { url } => {
            (SecretInput::of(Some(url)), String::new(), String::new())
        }
        AlertTargetKind::Email(e) => (
            SecretInput::of(e.password.as_ref()),
            e.port.to_string(),
            e.to.join(", "),
        ),
        AlertTargetKind::Sns(_) => (SecretInput::of(None), String::new(), String::new()),
    };
    TargetDraft {
        original,
        name,
        kind,
        secret,
        port_text,
        to_text,
    }
}

fn rule_draft(rule: Option<&AlertRule>, taken: &AlertSettings) -> RuleDraft {
    match rule {
        Some(r) => RuleDraft {
            original: Some(r.name.clone()),
            name: r.name.clone(),
            events: r.events.iter().copied().collect(),
            targets: r.targets.iter().cloned().collect(),
            selection: r.selection.clone().unwrap_or_default(),
            enabled: r.enabled,
        },
        None => {
            let mut n = 1;
            while taken.rules.iter().any(|r| r.name == format!("rule_{n}")) {
                n += 1;
            }
            RuleDraft {
                original: None,
                name: format!("rule_{n}"),
                events: [AlertEventKind::RunFailure, AlertEventKind::CheckFailure].into(),
                targets: taken.targets.iter().map(|t| t.name.clone()).collect(),
                selection: String::new(),
                enabled: true,
            }
        }
    }
}

/// What is wrong with a form; the tab shows its sentence.
#[derive(Debug, thiserror::Error)]
enum FormProblem {
    #[error("{0}")]
    Secret(#[from] DraftProblem),
    #[error("a {what} needs a name (letters, digits and `_`)")]
    NoName { what: &'static str },
    #[error("`{name}` is not a name: use letters, digits and `_`")]
    BadName { name: String },
    #[error("an alert {what} named `{name}` already exists")]
    NameTaken { what: &'static str, name: String },
    #[error(
        "type the {kind} URL (it is stored in the OS keyring), or name the environment variable that holds it"
    )]
    NoUrl { kind: &'static str },
    #[error("the e-mail target needs {field}")]
    Missing { field: &'static str },
    #[error("port `{text}` is not a number from 1 to 65535")]
    NotAPort { text: String },
    #[error("the SMTP password needs a username")]
    PasswordWithoutUser,
    #[error("type the SNS topic's ARN (arn:aws:sns:<region>:<account>:<topic>)")]
    NoTopic,
    #[error("topic ARN `{arn}` {detail}")]
    TopicArn { arn: String, detail: String },
    #[error("choose at least one event")]
    NoEvents,
    #[error("choose at least one target")]
    NoTargets,
    #[error("selection `{text}`: {detail}")]
    Selection { text: String, detail: String },
}

fn checked_name(name: &str, what: &'static str) -> Result<String, FormProblem> {
    let name = name.trim();
    if name.is_empty() {
        return Err(FormProblem::NoName { what });
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(FormProblem::BadName {
            name: name.to_owned(),
        });
    }
    Ok(name.to_owned())
}

fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The target a draft describes, and the secrets typed into it (to store in the keyring under
/// `PROJECT.alert-NAME.FIELD` before the target is saved).
fn target_of(
    project: &str,
    alerts: &AlertSettings,
    d: &mut TargetDraft,
) -> Result<(AlertTarget, TypedSecrets), FormProblem> {
    let name = checked_name(&d.name, "target")?;
    if d.original.as_deref() != Some(name.as_str()) && alerts.target(&name).is_some() {
        return Err(FormProblem::NameTaken {
            what: "target",
            name,
        });
    }
    let mut typed = Vec::new();
    let owner = format!("alert-{name}");
    let kind = match &d.kind {
        AlertTargetKind::Webhook { url } | AlertTargetKind::Slack { url } => {
            let label = d.kind.label();
            let url =
                match d
                    .secret
                    .reference("url", secret_name(project, &owner, "url"), &mut typed)?
                {
                    Some(r) => r,
                    None if d.original.is_some() => url.clone(),
                    None => return Err(FormProblem::NoUrl { kind: label }),
                };
            if label == "slack" {
                AlertTargetKind::Slack { url }
            } else {
                AlertTargetKind::Webhook { url }
            }
        }
        AlertTargetKind::Email(e) => {
            let mut e = e.clone();
            e.host = e.host.trim().to_owned();
            e.from = e.from.trim().to_owned();
            e.to = comma_list(&d.to_text);
            e.username = e
                .username
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty());
            for (empty, field) in [
                (e.host.is_empty(), "a host"),
                (e.from.is_empty(), "a from address"),
                (e.to.is_empty(), "at least one to address"),
            ] {
                if empty {
                    return Err(FormProblem::Missing { field });
                }
            }
            e.port = d
                .port_text
                .trim()
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| FormProblem::NotAPort {
                    text: d.port_text.clone(),
                })?;
            if let Some(r) = d.secret.reference(
                "password",
                secret_name(project, &owner, "password"),
                &mut typed,
            )? {
                e.password = Some(r);
            }
            if e.password.is_some() && e.username.is_none() {
                return Err(FormProblem::PasswordWithoutUser);
            }
            AlertTargetKind::Email(e)
        }
        AlertTargetKind::Sns(t) => {
            let topic_arn = t.topic_arn.trim().to_owned();
            if topic_arn.is_empty() {
                return Err(FormProblem::NoTopic);
            }
            if let Err(detail) = TopicArn::parse(&topic_arn) {
                return Err(FormProblem::TopicArn {
                    arn: topic_arn,
                    detail,
                });
            }
            AlertTargetKind::Sns(SnsTarget {
                topic_arn,
                resource: t
                    .resource
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned),
            })
        }
    };
    Ok((AlertTarget { name, kind }, typed))
}

/// The settings with `target` saved over the draft's original (rules that named the original
/// name the new one).
fn with_target(
    alerts: &AlertSettings,
    original: Option<&str>,
    target: AlertTarget,
) -> AlertSettings {
    let mut out = alerts.clone();
    out.targets.retain(|t| Some(t.name.as_str()) != original);
    if let Some(old) = original {
        for r in &mut out.rules {
            for t in &mut r.targets {
                if t == old {
                    t.clone_from(&target.name);
                }
            }
        }
    }
    out.targets.push(target);
    out.sort();
    out
}

fn rule_of(alerts: &AlertSettings, d: &RuleDraft) -> Result<AlertRule, FormProblem> {
    let name = checked_name(&d.name, "rule")?;
    if d.original.as_deref() != Some(name.as_str()) && alerts.rules.iter().any(|r| r.name == name) {
        return Err(FormProblem::NameTaken { what: "rule", name });
    }
    if d.events.is_empty() {
        return Err(FormProblem::NoEvents);
    }
    if d.targets.is_empty() {
        return Err(FormProblem::NoTargets);
    }
    let selection = d.selection.trim();
    if !selection.is_empty() {
        AssetSelection::parse(selection).map_err(|e| FormProblem::Selection {
            text: selection.to_owned(),
            detail: e.to_string(),
        })?;
    }
    Ok(AlertRule {
        name,
        events: d.events.iter().copied().collect(),
        targets: d.targets.iter().cloned().collect(),
        selection: (!selection.is_empty()).then(|| selection.to_owned()),
        enabled: d.enabled,
    })
}

/// A button whose accessible name says which row it acts on.
fn row_button(ui: &mut egui::Ui, text: &str, label: &str, enabled: bool) -> bool {
    let r = ui.add_enabled(enabled, egui::Button::new(text));
    r.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Button, enabled, label));
    r.clicked()
}

/// Where a target sends, in a few words (secret references by name, never a value).
fn target_summary(t: &AlertTarget) -> String {
    match &t.kind {
        AlertTargetKind::Webhook { url } | AlertTargetKind::Slack { url } => format!("URL: {url}"),
        AlertTargetKind::Email(e) => format!(
            "{}:{} ({}) → {}{}",
            e.host,
            e.port,
            e.tls.as_str(),
            e.to.join(", "),
            e.password
                .as_ref()
                .map_or_else(String::new, |p| format!("; password: {p}"))
        ),
        AlertTargetKind::Sns(t) => match &t.resource {
            Some(r) => format!("topic {} (with resource {r})", t.topic_arn),
            None => format!("topic {}", t.topic_arn),
        },
    }
}

/// The tab; returns what a click asked for.
pub fn alerts_tab(
    ui: &mut egui::Ui,
    ed: &mut AlertsEditor,
    project: &str,
    alerts: &AlertSettings,
) -> Option<AlertIntent> {
    let mut intent = None;
    ui.label(
        "Where alert messages go and when. Webhook URLs and SMTP passwords go to the OS keyring; the project keeps only their names. An SNS topic is one that exists (e.g. your operations team's), published to with the project's AWS account.",
    );
    // The outcome of the last save or test, at the top where it is seen without scrolling.
    status_line(ui, ed);
    ui.add_space(4.0);
    ui.label(RichText::new("Targets").strong());
    targets_list(ui, ed, alerts, &mut intent);
    if let Some(d) = &mut ed.target {
        ui.separator();
        ui.strong(match &d.original {
            Some(n) => format!("Edit target {n} ({})", d.kind.label()),
            None => format!("New {} target", d.kind.label()),
        });
        target_form(ui, d);
        let mut cancel = false;
        let storing = ed.pending_store.is_some();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!storing, egui::Button::new("Save target"))
                .clicked()
            {
                intent = save_target(project, alerts, d, &mut ed.status);
            }
            cancel = ui.button("Cancel").clicked();
        });
        if cancel || matches!(intent, Some(AlertIntent::Apply(_))) {
            ed.target = None;
        }
    }
    ui.separator();
    ui.label(RichText::new("Rules").strong());
    rules_list(ui, ed, alerts, &mut intent);
    if let Some(d) = &mut ed.rule {
        ui.separator();
        ui.strong(match &d.original {
            Some(n) => format!("Edit rule {n}"),
            None => "New rule".to_owned(),
        });
        rule_form(ui, d, alerts);
        let (mut save, mut cancel) = (false, false);
        ui.horizontal(|ui| {
            save = ui.button("Save rule").clicked();
            cancel = ui.button("Cancel").clicked();
        });
        if save {
            match rule_of(alerts, d) {
                Err(e) => ed.status = Some((false, e.to_string())),
                Ok(rule) => {
                    let mut out = alerts.clone();
                    out.rules.retain(|r| Some(&r.name) != d.original.as_ref());
                    ed.status = Some((true, format!("Saved rule `{}`", rule.name)));
                    out.rules.push(rule);
                    out.sort();
                    intent = Some(AlertIntent::Apply(Edit::SetAlerts { alerts: out }));
                    cancel = true;
                }
            }
        }
        if cancel {
            ed.rule = None;
        }
    }
    intent
}

fn status_line(ui: &mut egui::Ui, ed: &AlertsEditor) {
    if ed.status.is_none() && !ed.is_busy() {
        return;
    }
    ui.horizontal(|ui| {
        if ed.is_busy() {
            ui.spinner();
        }
        if let Some((ok, message)) = &ed.status {
            let color = if *ok {
                ui.visuals().text_color()
            } else {
                theme::error_color()
            };
            ui.add(egui::Label::new(RichText::new(message).color(color)).wrap());
        }
    });
}

fn save_target(
    project: &str,
    alerts: &AlertSettings,
    d: &mut TargetDraft,
    status: &mut Option<(bool, String)>,
) -> Option<AlertIntent> {
    match target_of(project, alerts, d) {
        Err(e) => {
            *status = Some((false, e.to_string()));
            None
        }
        Ok((target, secrets)) => {
            let name = target.name.clone();
            let out = with_target(alerts, d.original.as_deref(), target);
            let edit = Edit::SetAlerts { alerts: out };
            if secrets.is_empty() {
                *status = Some((true, format!("Saved target `{name}`")));
                Some(AlertIntent::Apply(edit))
            } else {
                Some(AlertIntent::StoreThenApply { secrets, edit })
            }
        }
    }
}

fn targets_list(
    ui: &mut egui::Ui,
    ed: &mut AlertsEditor,
    alerts: &AlertSettings,
    intent: &mut Option<AlertIntent>,
) {
    if alerts.targets.is_empty() {
        ui.weak("No alert targets yet.");
    }
    let testing = ed.pending_test.is_some();
    egui::Grid::new("alert_targets")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for t in &alerts.targets {
                ui.label(&t.name);
                ui.weak(t.kind.label());
                ui.label(target_summary(t));
                ui.horizontal(|ui| {
                    if row_button(ui, "Edit", &format!("Edit target {}", t.name), true) {
                        ed.target = Some(target_draft(Some(t), t.kind.label(), alerts));
                        ed.status = None;
                    }
                    if row_button(ui, "Delete", &format!("Delete target {}", t.name), true) {
                        let mut out = alerts.clone();
                        out.targets.retain(|x| x.name != t.name);
                        for r in &mut out.rules {
                            r.targets.retain(|x| *x != t.name);
                        }
                        if ed.target.as_ref().and_then(|d| d.original.as_ref()) == Some(&t.name) {
                            ed.target = None;
                        }
                        ed.status = Some((true, format!("Deleted target `{}`", t.name)));
                        *intent = Some(AlertIntent::Apply(Edit::SetAlerts { alerts: out }));
                    }
                    let label = format!("Send test to {}", t.name);
                    if row_button(ui, "Send test", &label, !testing) {
                        *intent = Some(AlertIntent::Test(Box::new(t.clone())));
                    }
                });
                ui.end_row();
            }
        });
    ui.horizontal(|ui| {
        for (kind, label) in [
            ("webhook", "Add webhook"),
            ("slack", "Add Slack"),
            ("email", "Add e-mail"),
            ("sns", "Add SNS topic"),
        ] {
            if ui.button(label).clicked() {
                ed.target = Some(target_draft(None, kind, alerts));
                ed.status = None;
            }
        }
    });
}

fn rules_list(
    ui: &mut egui::Ui,
    ed: &mut AlertsEditor,
    alerts: &AlertSettings,
    intent: &mut Option<AlertIntent>,
) {
    if alerts.rules.is_empty() {
        ui.weak("No alert rules yet: nothing is sent until a rule names a target.");
    }
    egui::Grid::new("alert_rules")
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            for r in &alerts.rules {
                ui.label(&r.name);
                ui.label(if r.enabled { "on" } else { "off" });
                let events: Vec<&str> = r.events.iter().map(|e| e.label()).collect();
                ui.label(events.join(", "));
                ui.label(format!(
                    "→ {}{}",
                    r.targets.join(", "),
                    r.selection
                        .as_ref()
                        .map_or_else(String::new, |s| format!(" · only {s}"))
                ));
                ui.horizontal(|ui| {
                    if row_button(ui, "Edit", &format!("Edit rule {}", r.name), true) {
                        ed.rule = Some(rule_draft(Some(r), alerts));
                        ed.status = None;
                    }
                    if row_button(ui, "Delete", &format!("Delete rule {}", r.name), true) {
                        let mut out = alerts.clone();
                        out.rules.retain(|x| x.name != r.name);
                        ed.status = Some((true, format!("Deleted rule `{}`", r.name)));
                        *intent = Some(AlertIntent::Apply(Edit::SetAlerts { alerts: out }));
                    }
                });
                ui.end_row();
            }
        });
    if ui.button("Add rule").clicked() {
        ed.rule = Some(rule_draft(None, alerts));
        ed.status = None;
    }
}

fn text_row(ui: &mut egui::Ui, label: &str, value: &mut String) {
    let l = ui.label(label);
    ui.add(egui::TextEdit::singleline(value).desired_width(320.0))
        .labelled_by(l.id);
    ui.end_row();
}

fn target_form(ui: &mut egui::Ui, d: &mut TargetDraft) {
    egui::Grid::new("alert_target_form")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            text_row(ui, "Name", &mut d.name);
            let existing = d.original.is_some();
            match &mut d.kind {
                AlertTargetKind::Webhook { url } | AlertTargetKind::Slack { url } => {
                    let current = existing.then_some(&*url);
                    secret_row(ui, "URL", current, &mut d.secret);
                }
                AlertTargetKind::Email(e) => {
                    text_row(ui, "SMTP host", &mut e.host);
                    text_row(ui, "Port", &mut d.port_text);
                    ui.label("TLS");
                    egui::ComboBox::from_id_salt("smtp_tls")
                        .selected_text(e.tls.as_str())
                        .show_ui(ui, |ui| {
                            for t in [SmtpTls::Starttls, SmtpTls::Tls, SmtpTls::None] {
                                ui.selectable_value(&mut e.tls, t, t.as_str());
                            }
                        });
                    ui.end_row();
                    let mut user = e.username.clone().unwrap_or_default();
                    text_row(ui, "Username", &mut user);
                    e.username = Some(user);
                    secret_row(ui, "Password", e.password.as_ref(), &mut d.secret);
                    text_row(ui, "From", &mut e.from);
                    text_row(ui, "To (comma-separated)", &mut d.to_text);
                }
                AlertTargetKind::Sns(t) => {
                    text_row(ui, "Topic ARN", &mut t.topic_arn);
                    let mut resource = t.resource.clone().unwrap_or_default();
                    let l = ui.label("AWS resource");
                    ui.add(
                        egui::TextEdit::singleline(&mut resource)
                            .desired_width(320.0)
                            .hint_text("the project's first aws resource"),
                    )
                    .labelled_by(l.id);
                    ui.end_row();
                    t.resource = Some(resource);
                }
            }
        });
}

fn rule_form(ui: &mut egui::Ui, d: &mut RuleDraft, alerts: &AlertSettings) {
    egui::Grid::new("alert_rule_form")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            text_row(ui, "Name", &mut d.name);
            ui.label("On");
            ui.checkbox(&mut d.enabled, "Send alerts for this rule");
            ui.end_row();
            ui.label("Events");
            ui.horizontal_wrapped(|ui| {
                for k in AlertEventKind::ALL {
                    let mut on = d.events.contains(&k);
                    if ui.checkbox(&mut on, k.label()).changed() {
                        if on {
                            d.events.insert(k);
                        } else {
                            d.events.remove(&k);
                        }
                    }
                }
            });
            ui.end_row();
            ui.label("Targets");
            ui.horizontal_wrapped(|ui| {
                if alerts.targets.is_empty() {
                    ui.weak("add a target first");
                }
                for t in &alerts.targets {
                    let mut on = d.targets.contains(&t.name);
                    let r = ui.checkbox(&mut on, &t.name);
                    let label = format!("Send to {}", t.name);
                    r.widget_info(|| {
                        egui::WidgetInfo::selected(egui::WidgetType::Checkbox, true, on, &label)
                    });
                    if r.changed() {
                        if on {
                            d.targets.insert(t.name.clone());
                        } else {
                            d.targets.remove(&t.name);
                        }
                    }
                }
            });
            ui.end_row();
            let l = ui.label("Only these assets");
            ui.add(
                egui::TextEdit::singleline(&mut d.selection)
                    .desired_width(320.0)
                    .hint_text("every asset (or a selection: +daily_revenue, layer:gold)"),
            )
            .labelled_by(l.id);
            ui.end_row();
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AlertSettings {
        AlertSettings {
            targets: vec![AlertTarget {
                name: "hook".to_owned(),
                kind: AlertTargetKind::Webhook {
                    url: SecretRef::Env("HOOK".to_owned()),
                },
            }],
            rules: vec![AlertRule {
                name: "runs".to_owned(),
                events: vec![AlertEventKind::RunFailure],
                targets: vec!["hook".to_owned()],
                selection: None,
                enabled: true,
            }],
        }
    }

    #[test]
    fn a_typed_url_goes_to_the_keyring_and_the_target_keeps_its_name() {
        let s = settings();
        let mut d = target_draft(None, "slack", &s);
        d.name = "team".to_owned();
        d.secret.text = "https://hooks.slack.com/services/T/B/x".to_owned();
        let (t, typed) = target_of("p", &s, &mut d).unwrap();
        assert_eq!(
            typed,
            [(
                "p.alert-team.url".to_owned(),
                "https://hooks.slack.com/services/T/B/x".to_owned()
            )]
        );
        assert_eq!(
            t.kind,
            AlertTargetKind::Slack {
                url: SecretRef::Keyring("p.alert-team.url".to_owned())
            }
        );
        assert!(
            d.secret.text.is_empty(),
            "the value is handed over, not kept"
        );
    }

    #[test]
    fn a_new_target_without_url_and_a_taken_name_are_refused() {
        let s = settings();
        let mut d = target_draft(None, "webhook", &s);
        let e = target_of("p", &s, &mut d).unwrap_err();
        assert!(e.to_string().starts_with("type the webhook URL"), "{e}");
        d.name = "hook".to_owned();
        d.secret.text = "https://x".to_owned();
        let e = target_of("p", &s, &mut d).unwrap_err();
        assert_eq!(e.to_string(), "an alert target named `hook` already exists");
    }

    #[test]
    fn renaming_a_target_renames_it_in_rules() {
        let s = settings();
        let mut d = target_draft(s.target("hook"), "webhook", &s);
        d.name = "ops".to_owned();
        let (t, typed) = target_of("p", &s, &mut d).unwrap();
        assert!(typed.is_empty());
        let out = with_target(&s, Some("hook"), t);
        assert_eq!(out.targets.len(), 1);
        assert_eq!(out.targets[0].name, "ops");
        assert_eq!(out.rules[0].targets, ["ops"]);
    }

    #[test]
    fn an_email_target_checks_its_fields() {
        let s = settings();
        let mut d = target_draft(None, "email", &s);
        assert_eq!(
            target_of("p", &s, &mut d).unwrap_err().to_string(),
            "the e-mail target needs a host"
        );
        if let AlertTargetKind::Email(e) = &mut d.kind {
            e.host = "smtp.example.com".to_owned();
            e.from = "m@example.com".to_owned();
        }
        d.to_text = "a@example.com, b@example.com".to_owned();
        d.secret.text = "pw".to_owned();
        assert_eq!(
            target_of("p", &s, &mut d).unwrap_err().to_string(),
            "the SMTP password needs a username"
        );
        d.secret.text = "pw".to_owned();
        if let AlertTargetKind::Email(e) = &mut d.kind {
            e.username = Some("ops".to_owned());
        }
        let (t, typed) = target_of("p", &s, &mut d).unwrap();
        let AlertTargetKind::Email(e) = t.kind else {
            panic!("{t:?}")
        };
        assert_eq!(e.to, ["a@example.com", "b@example.com"]);
        assert_eq!(e.port, 587);
        assert_eq!(
            e.password,
            Some(SecretRef::Keyring("p.alert-email_1.password".to_owned()))
        );
        assert_eq!(typed.len(), 1);
    }

    #[test]
    fn an_sns_target_needs_a_well_formed_topic_arn_and_keeps_no_secret() {
        let s = settings();
        let mut d = target_draft(None, "sns", &s);
        assert_eq!(d.name, "sns_1");
        assert!(
            target_of("p", &s, &mut d)
                .unwrap_err()
                .to_string()
                .starts_with("type the SNS topic's ARN")
        );
        if let AlertTargetKind::Sns(t) = &mut d.kind {
            t.topic_arn = "arn:aws:sns:eu-west-1:42:ops".to_owned();
        }
        assert!(
            target_of("p", &s, &mut d)
                .unwrap_err()
                .to_string()
                .contains("12-digit account")
        );
        if let AlertTargetKind::Sns(t) = &mut d.kind {
            t.topic_arn = " arn:aws:sns:eu-west-1:123456789012:ops ".to_owned();
            t.resource = Some(String::new());
        }
        let (t, typed) = target_of("p", &s, &mut d).unwrap();
        assert!(typed.is_empty());
        assert_eq!(
            t.kind,
            AlertTargetKind::Sns(SnsTarget {
                topic_arn: "arn:aws:sns:eu-west-1:123456789012:ops".to_owned(),
                resource: None,
            })
        );
        assert_eq!(
            target_summary(&t),
            "topic arn:aws:sns:eu-west-1:123456789012:ops"
        );
    }

    #[test]
    fn a_rule_needs_events_targets_and_a_readable_selection() {
        let s = settings();
        let mut d = rule_draft(None, &s);
        assert_eq!(d.name, "rule_1");
        d.selection = "+(".to_owned();
        assert!(
            rule_of(&s, &d)
                .unwrap_err()
                .to_string()
                .starts_with("selection `+(`")
        );
        d.selection = "+daily_revenue".to_owned();
        assert_eq!(rule_of(&s, &d).unwrap().targets, ["hook"]);
        d.targets.clear();
        assert_eq!(
            rule_of(&s, &d).unwrap_err().to_string(),
            "choose at least one target"
        );
        d.events.clear();
        assert_eq!(
            rule_of(&s, &d).unwrap_err().to_string(),
            "choose at least one event"
        );
    }
}
