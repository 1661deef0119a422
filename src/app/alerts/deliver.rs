//! One delivery, the same for every kind of target (webhook, Slack, e-mail, SNS): attempts with
//! backoff until the target takes the message, refuses it for good (a 4xx HTTP or 5xx SMTP
//! answer, a missing secret, a bad URL or address), or the attempts run out. Every attempt is
//! recorded with what the target answered, secrets masked.

use std::time::Duration;

use super::Delivery;
use super::message::Message;
use crate::app::{AppError, redact};
use crate::compute::ErrorKind;
use crate::compute::notify;
use crate::compute::notify::smtp;
use crate::model::{AlertTarget, AlertTargetKind, EmailTarget, Resource, ResourceKind, SnsTarget};
use crate::secrets;
use crate::store::{NewAttempt, Workspace};

/// Attempts per delivery.
pub const MAX_ATTEMPTS: u32 = 3;
/// The wait before the second and the third attempt.
pub const BACKOFF: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];

/// How one attempt went.
struct Outcome {
    ok: bool,
    /// Trying again may help (a 5xx or 429 answer, no connection, a timeout).
    retry: bool,
    answer: String,
}

impl Outcome {
    fn refused(answer: impl Into<String>) -> Self {
        Self {
            ok: false,
            retry: false,
            answer: answer.into(),
        }
    }
}

/// Delivers `msg` to `target`, recording each attempt under alert `event_id`; `resources` are
/// the project's (an SNS target publishes with one of its `aws` resources).
pub(super) fn deliver(
    ws: &mut Workspace,
    event_id: i64,
    event: &str,
    rules: &[String],
    target: &AlertTarget,
    msg: &Message,
    resources: &[Resource],
) -> Result<Delivery, AppError> {
    let rule_names = rules.join(",");
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = send_once(target, msg, resources);
        let answer = redact(&outcome.answer);
        let last = outcome.ok || !outcome.retry || attempt >= MAX_ATTEMPTS;
        ws.record_delivery_attempt(&NewAttempt {
            event_id,
            rule: &rule_names,
            target: &target.name,
            target_kind: target.kind.label(),
            attempt,
            attempted_at: chrono::Utc::now(),
            ok: outcome.ok,
            last,
            answer: &answer,
        })?;
        if last {
            if !outcome.ok {
                // Callers show the failure (a warning, `alerts log`, the studio): logged once here
                // for `MEDALLION_LOG=info`, not printed twice.
                tracing::info!(target = %target.name, event, attempts = attempt, "alert delivery failed: {answer}");
            }
            return Ok(Delivery {
                event_id,
                event: event.to_owned(),
                rules: rules.to_vec(),
                target: target.name.clone(),
                target_kind: target.kind.label().to_owned(),
                attempts: attempt,
                delivered: outcome.ok,
                answer,
            });
        }
        let wait = BACKOFF
            .get(attempt as usize - 1)
            .copied()
            .unwrap_or(Duration::from_secs(5));
        tracing::info!(target = %target.name, attempt, "alert delivery failed ({answer}); trying again in {} s", wait.as_secs());
        std::thread::sleep(wait);
    }
}

fn send_once(target: &AlertTarget, msg: &Message, resources: &[Resource]) -> Outcome {
    match &target.kind {
        AlertTargetKind::Webhook { url } => post(url, &msg.webhook_body()),
        AlertTargetKind::Slack { url } => post(url, &msg.slack_body()),
        AlertTargetKind::Email(email) => mail(email, msg),
        AlertTargetKind::Sns(sns) => publish(sns, msg, resources),
    }
}

/// The `aws` resource an SNS target publishes with: the one it names, else the project's first
/// `aws` resource; `None`: the standard AWS chain.
fn sns_resource<'r>(
    target: &SnsTarget,
    resources: &'r [Resource],
) -> Result<Option<&'r Resource>, String> {
    let is_aws = |r: &&Resource| matches!(r.kind, ResourceKind::Aws { .. });
    match &target.resource {
        None => Ok(resources.iter().find(is_aws)),
        Some(name) => resources
            .iter()
            .filter(is_aws)
            .find(|r| &r.name == name)
            .map(Some)
            .ok_or_else(|| format!("the project has no aws resource named `{name}`")),
    }
}

/// Publishes the webhook's JSON document to the topic, with the e-mail's subject.
fn publish(target: &SnsTarget, msg: &Message, resources: &[Resource]) -> Outcome {
    let aws = match sns_resource(target, resources) {
        Ok(r) => r,
        Err(e) => return Outcome::refused(e),
    };
    let runtime = match crate::app::runtime::handle() {
        Ok(runtime) => runtime,
        Err(e) => return Outcome::refused(e.to_string()),
    };
    let message = msg.webhook_body().to_string();
    let subject = msg.email_subject();
    let p = notify::sns::Publish {
        topic_arn: &target.topic_arn,
        subject: &subject,
        message: &message,
    };
    answered(notify::sns::publish(
        &runtime,
        aws,
        &crate::app::connections::KeyringSecrets,
        p,
    ))
}

/// A target's answer, or its error (retried when trying again may help).
fn answered(result: Result<String, crate::compute::ComputeError>) -> Outcome {
    match result {
        Ok(answer) => Outcome {
            ok: true,
            retry: false,
            answer,
        },
        Err(e) => Outcome {
            ok: false,
            retry: retryable(&e),
            answer: e.to_string(),
        },
    }
}

/// Whether trying again may help after `e`.
fn retryable(e: &crate::compute::ComputeError) -> bool {
    matches!(
        e.kind,
        ErrorKind::Unreachable | ErrorKind::Timeout | ErrorKind::Transient | ErrorKind::Throttled
    )
}

fn mail(target: &EmailTarget, msg: &Message) -> Outcome {
    let password = match target.password.as_ref().map(secrets::resolve).transpose() {
        Ok(p) => p,
        Err(e) => return Outcome::refused(format!("the SMTP password could not be read: {e}")),
    };
    let subject = msg.email_subject();
    let body = msg.email_text();
    let mail = smtp::Mail {
        subject: &subject,
        body: &body,
    };
    answered(smtp::send_email(target, password.as_deref(), mail))
}

fn post(url: &crate::model::SecretRef, body: &serde_json::Value) -> Outcome {
    let url = match secrets::resolve(url) {
        Ok(u) => u,
        Err(e) => return Outcome::refused(format!("the target's URL could not be read: {e}")),
    };
    let runtime = match crate::app::runtime::handle() {
        Ok(runtime) => runtime,
        Err(e) => return Outcome::refused(e.to_string()),
    };
    match notify::post_json(&runtime, &url, body) {
        Ok(answer) => Outcome {
            ok: answer.is_success(),
            retry: answer.is_transient(),
            answer: answer.describe(),
        },
        Err(e) => Outcome {
            ok: false,
            retry: retryable(&e),
            answer: e.to_string(),
        },
    }
}
