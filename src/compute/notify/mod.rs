//! Sending alert messages: a JSON POST to a webhook (Slack's incoming webhooks are one) with
//! reqwest on the rustls already in the tree, an e-mail over SMTP (`smtp`), and a message to an
//! Amazon SNS topic (`sns`). One call is one
//! attempt; retries and what is recorded are the caller's (`app::alerts`). A URL may carry a
//! token, so it never appears in an answer or an error: only its scheme and host do.

pub mod smtp;
pub mod sns;

use std::time::Duration;

use super::error::{ComputeError, ErrorKind};
use super::sources::run_async;

/// How long one attempt may take, connection included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of an answer's body is kept.
const BODY_KEPT: usize = 300;

/// What an HTTP target answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    /// The start of the body, as text.
    pub body: String,
}

impl HttpAnswer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Whether trying again may help: a server error or a rate limit.
    pub fn is_transient(&self) -> bool {
        self.status >= 500 || self.status == 429 || self.status == 408
    }

    /// "HTTP 500: upstream down".
    pub fn describe(&self) -> String {
        let body = self.body.trim();
        if body.is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {}: {body}", self.status)
        }
    }
}

/// The scheme and host of a URL, safe to show (`https://hooks.slack.com`).
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            _ => format!("{}:", u.scheme()),
        },
        Err(_) => "an unreadable URL".to_owned(),
    }
}

fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(BODY_KEPT).collect();
    if text.chars().count() > BODY_KEPT {
        out.push('…');
    }
    out.replace(['\n', '\r'], " ")
}

/// POSTs `body` as JSON to `url`, once. An answer of any status is `Ok`; a request that got
/// no answer (refused, timed out, bad URL) is `Err` with a kind the caller can decide on.
/// The request runs on `runtime`, the process's.
pub fn post_json(
    runtime: &tokio::runtime::Handle,
    url: &str,
    body: &serde_json::Value,
) -> Result<HttpAnswer, ComputeError> {
    let shown = shown_url(url);
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        ComputeError::said(
            ErrorKind::Invalid,
            format!("the webhook URL is not a valid URL ({e})"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ComputeError::said(
            ErrorKind::Invalid,
            format!(
                "the webhook URL must start with https:// or http://, not {}",
                parsed.scheme()
            ),
        ));
    }
    let body = serde_json::to_vec(body).map_err(|e| {
        ComputeError::said(
            ErrorKind::Invalid,
            format!("the alert could not be written as JSON ({e})"),
        )
    })?;
    run_async(
        runtime,
        async move {
            let action = format!("posting to {shown}");
            let client = reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(ATTEMPT_TIMEOUT)
                .user_agent(concat!("medallion/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| ComputeError::from_reqwest("building an HTTP client", &e))?;
            let response = client
                .post(parsed)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| ComputeError::from_reqwest(action.clone(), &e.without_url()))?;
            let status = response.status().as_u16();
            let text = response
                .text()
                .await
                .map_err(|e| ComputeError::from_reqwest(action, &e.without_url()))?;
            Ok(HttpAnswer {
                status,
                body: clip(&text),
            })
        },
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_path() {
        assert_eq!(
            shown_url("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com"
        );
        assert_eq!(
            shown_url("http://127.0.0.1:8080/x?token=1"),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn a_bad_url_is_refused_without_a_request() {
        let e = post_json(
            &crate::compute::connect::test_runtime(),
            "ftp://x/y",
            &serde_json::json!({}),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(e.to_string().contains("https://"), "{e}");
    }
}
