//! HTTP JSON sources: `GET base_url + path` with the source's query parameters and, when the
//! resource has a token, `Authorization: Bearer <token>`; the records are the array at the
//! source's JSON pointer.
//!
//! Pagination follows the next page's URL from, in this order, an RFC 8288 `Link` header with
//! `rel="next"`, or a top-level string field `next` in the body (absolute or relative to the
//! page); a missing, null or empty link ends it. Next links must stay on the base URL's origin,
//! so the token is never sent elsewhere. 429 and 5xx answers and connection failures are
//! retried with exponential backoff (honouring `Retry-After`).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Url;

use super::{CONNECT_TIMEOUT, Ctx, version_of};
use crate::compute::error::{ComputeError, ErrorKind, kind_of_status};
use crate::engine::fetch::{Fetched, FetchedSource};
use crate::model::ResourceKind;

/// How long one page may take.
const PAGE_TIMEOUT: Duration = Duration::from_mins(1);
/// Retries after the first attempt of one page.
const MAX_RETRIES: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A guard against pagination loops.
const MAX_PAGES: usize = 10_000;

struct Api {
    client: reqwest::Client,
    base: Url,
    token: Option<String>,
}

fn api(ctx: &Ctx<'_>) -> Result<Api, ComputeError> {
    let name = &ctx.resource.name;
    let ResourceKind::Http {
        base_url,
        auth_token,
    } = &ctx.resource.kind
    else {
        return Err(ComputeError::invalid(format!(
            "resource `{name}` is not an http resource"
        )));
    };
    let mut base = Url::parse(base_url).map_err(|e| {
        ComputeError::invalid(format!(
            "resource `{name}`: base_url `{base_url}` is not a URL: {e}"
        ))
    })?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(ComputeError::invalid(format!(
            "resource `{name}`: base_url `{base_url}` must start with http:// or https://"
        )));
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    let token = match auth_token {
        Some(t) => Some(ctx.secret("auth token", t)?),
        None => None,
    };
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(PAGE_TIMEOUT)
        .user_agent(concat!("medallion/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ComputeError::from_reqwest("building an HTTP client", &e))?;
    Ok(Api {
        client,
        base,
        token,
    })
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The URL a link in a header or body points at.
fn next_from_link_header(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().to_ascii_lowercase();
            p == "rel=\"next\"" || p == "rel=next"
        });
        let url = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_owned())
    })
}

/// The wait before retry `attempt` (1-based): `Retry-After` seconds when given, else
/// exponential backoff; never more than [`MAX_BACKOFF`].
fn backoff(attempt: u32, retry_after: Option<&str>) -> Duration {
    let computed = FIRST_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1));
    retry_after
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(computed, Duration::from_secs)
        .min(MAX_BACKOFF)
}

/// Why one attempt at a page failed: worth another try (with the answer's `Retry-After`), or
/// not.
enum Failed {
    Retry(ComputeError, Option<String>),
    Final(ComputeError),
}

/// One GET with retries; the body parsed as JSON and the next page's URL.
async fn get_page(
    api: &Api,
    name: &str,
    url: &Url,
) -> Result<(serde_json::Value, Option<String>), ComputeError> {
    let shown = {
        let mut u = url.clone();
        u.set_query(None);
        u.to_string()
    };
    let mut attempt = 0;
    loop {
        match try_page(api, name, url, &shown).await {
            Ok(page) => return Ok(page),
            Err(Failed::Final(e)) => return Err(e),
            Err(Failed::Retry(why, after)) => {
                attempt += 1;
                if attempt > MAX_RETRIES {
                    return Err(why.context_after(format!("(gave up after {MAX_RETRIES} retries)")));
                }
                let wait = backoff(attempt, after.as_deref());
                tracing::info!(
                    resource = name,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "retrying: {why}"
                );
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// One attempt at a page (`shown`: its URL without the query, for messages).
async fn try_page(
    api: &Api,
    name: &str,
    url: &Url,
    shown: &str,
) -> Result<(serde_json::Value, Option<String>), Failed> {
    let mut request = api
        .client
        .get(url.clone())
        .header("Accept", "application/json");
    if let Some(t) = &api.token {
        request = request.bearer_auth(t);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            let failure =
                ComputeError::from_reqwest(format!("requesting {shown} for resource `{name}`"), &e);
            let sentence = match failure.kind {
                ErrorKind::Timeout => {
                    format!("timed out requesting {shown} for resource `{name}`")
                }
                ErrorKind::Unreachable => format!(
                    "cannot reach {shown} for resource `{name}`: {}",
                    failure.detail
                ),
                _ => return Err(Failed::Final(failure)),
            };
            return Err(Failed::Retry(
                ComputeError::said(failure.kind, sentence),
                None,
            ));
        }
    };
    let status = response.status();
    if !status.is_success() {
        let kind = kind_of_status(status.as_u16());
        if matches!(kind, ErrorKind::Throttled | ErrorKind::Transient) {
            let after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let why = format!("{shown} answered {status} for resource `{name}`");
            return Err(Failed::Retry(ComputeError::said(kind, why), after));
        }
        let sentence = if kind == ErrorKind::Denied {
            format!("authentication failed for resource `{name}` ({shown} answered {status})")
        } else {
            format!("{shown} answered {status} for resource `{name}`")
        };
        return Err(Failed::Final(ComputeError::said(kind, sentence)));
    }
    let link = response
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .and_then(next_from_link_header);
    let bytes = response.bytes().await.map_err(|e| {
        Failed::Final(ComputeError::said(
            ErrorKind::Transient,
            format!(
                "cannot read the answer of {shown} for resource `{name}`: {}",
                crate::compute::error::root_cause(&e)
            ),
        ))
    })?;
    let body: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        Failed::Final(ComputeError::invalid(format!(
            "{shown} did not answer JSON for resource `{name}`: {e}"
        )))
    })?;
    let next = link.or_else(|| {
        body.get("next")
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    });
    Ok((body, next))
}

pub(super) async fn fetch(
    ctx: &Ctx<'_>,
    path: &str,
    params: &BTreeMap<String, String>,
    records_pointer: &str,
    limit: Option<usize>,
) -> Result<FetchedSource, ComputeError> {
    let name = &ctx.resource.name;
    let api = api(ctx)?;
    let mut url = api.base.join(path.trim_start_matches('/')).map_err(|e| {
        ComputeError::invalid(format!(
            "path `{path}` does not make a URL with the base of resource `{name}`: {e}"
        ))
    })?;
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params.iter());
    }
    let mut records = Vec::new();
    let mut pages = 0usize;
    loop {
        let (body, next) = get_page(&api, name, &url).await?;
        pages += 1;
        let found = if records_pointer.is_empty() {
            Some(&body)
        } else {
            body.pointer(records_pointer)
        };
        match found {
            Some(serde_json::Value::Array(items)) => records.extend(items.iter().cloned()),
            Some(other) => {
                return Err(ComputeError::invalid(format!(
                    "page {pages} of resource `{name}`: at records_pointer `{records_pointer}` there is {}, not an array of records",
                    kind_of(other)
                )));
            }
            None => {
                return Err(ComputeError::invalid(format!(
                    "page {pages} of resource `{name}`: nothing at records_pointer `{records_pointer}`"
                )));
            }
        }
        if limit.is_some_and(|l| records.len() >= l) {
            break;
        }
        let Some(next) = next else { break };
        let next_url = url.join(&next).map_err(|e| {
            ComputeError::invalid(format!(
                "page {pages} of resource `{name}`: bad next link `{next}`: {e}"
            ))
        })?;
        if !same_origin(&next_url, &api.base) {
            return Err(ComputeError::invalid(format!(
                "page {pages} of resource `{name}` links to {next_url}, outside {}; Medallion follows next links only on the resource's own host",
                api.base
            )));
        }
        if pages >= MAX_PAGES {
            return Err(ComputeError::invalid(format!(
                "resource `{name}` returned more than {MAX_PAGES} pages; stopping"
            )));
        }
        url = next_url;
    }
    let text = serde_json::to_string(&records).unwrap_or_default();
    Ok(FetchedSource {
        version: version_of([text.as_bytes()]),
        data: Fetched::Records(records),
    })
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

pub(super) async fn test(ctx: &Ctx<'_>) -> Result<String, ComputeError> {
    let name = &ctx.resource.name;
    let api = api(ctx)?;
    let mut request = api.client.get(api.base.clone());
    if let Some(t) = &api.token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.map_err(|e| {
        let failure = ComputeError::from_reqwest(format!("reaching {}", api.base), &e);
        let sentence = match failure.kind {
            ErrorKind::Timeout => {
                format!("timed out reaching {} for resource `{name}`", api.base)
            }
            ErrorKind::Unreachable => format!(
                "cannot reach {} for resource `{name}`: {}",
                api.base, failure.detail
            ),
            _ => format!("resource `{name}`: {failure}"),
        };
        ComputeError::said(failure.kind, sentence)
    })?;
    let status = response.status();
    if kind_of_status(status.as_u16()) == ErrorKind::Denied {
        return Err(ComputeError::said(
            ErrorKind::Denied,
            format!(
                "authentication failed for resource `{name}` ({} answered {status})",
                api.base
            ),
        ));
    }
    Ok(format!("reached {} (HTTP {status})", api.base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_give_the_next_page() {
        assert_eq!(
            next_from_link_header(
                r#"<https://a/x?page=2>; rel="next", <https://a/x?page=9>; rel="last""#
            ),
            Some("https://a/x?page=2".to_owned())
        );
        assert_eq!(
            next_from_link_header(r#"<https://a/x?page=1>; rel="prev""#),
            None
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1, None), Duration::from_millis(500));
        assert_eq!(backoff(3, None), Duration::from_secs(2));
        assert_eq!(backoff(2, Some("1")), Duration::from_secs(1));
        assert_eq!(backoff(2, Some("3600")), MAX_BACKOFF);
    }
}
