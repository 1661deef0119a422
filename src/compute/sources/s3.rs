//! S3 sources: one object, or every object under a prefix (a key ending in `/`).

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::compute::error::{ComputeError, ErrorKind};

use super::{Ctx, version_of};
use crate::engine::fetch::{Fetched, FetchedObject, FetchedSource};
use crate::model::ResourceKind;

/// The most objects one prefix may hold (a guard against reading a whole lake by mistake).
const MAX_OBJECTS: usize = 100_000;

struct Target {
    client: aws_sdk_s3::Client,
    /// Empty for an `aws` resource (which names no bucket).
    bucket: String,
    endpoint: String,
}

/// A client for an `s3` resource (or an `aws` resource): region, endpoint and credentials from
/// the resource, its `aws` resource, or the standard AWS chain (environment, profiles, SSO).
async fn target(ctx: &Ctx<'_>) -> Result<Target, ComputeError> {
    let name = &ctx.resource.name;
    let (bucket, s3_region, s3_endpoint, aws) = match &ctx.resource.kind {
        ResourceKind::S3 {
            bucket,
            region,
            endpoint_url,
            aws,
        } => {
            let aws = match aws {
                Some(a) => Some(ctx.resources.iter().find(|r| &r.name == a).ok_or_else(|| {
                    ComputeError::invalid(format!(
                        "resource `{name}` names aws resource `{a}`, which is not defined"
                    ))
                })?),
                None => None,
            };
            (bucket.clone(), region.clone(), endpoint_url.clone(), aws)
        }
        ResourceKind::Aws { .. } => (String::new(), None, None, Some(ctx.resource)),
        other => {
            return Err(ComputeError::invalid(format!(
                "resource `{name}` is a {} resource, not s3",
                other.label()
            )));
        }
    };
    let has_endpoint = s3_endpoint.is_some()
        || aws.is_some_and(|a| {
            matches!(
                &a.kind,
                ResourceKind::Aws {
                    endpoint_url: Some(_),
                    ..
                }
            )
        });
    let shared =
        crate::compute::aws::sdk_config(aws, ctx.secrets, s3_region, s3_endpoint, name).await?;
    let mut config = aws_sdk_s3::config::Builder::from(&shared);
    if has_endpoint || shared.endpoint_url().is_some() {
        // S3-compatible stores and local test servers serve buckets as paths, not host names.
        config = config.force_path_style(true);
    }
    let endpoint = shared
        .endpoint_url()
        .map_or_else(|| "AWS S3".to_owned(), str::to_owned);
    Ok(Target {
        client: aws_sdk_s3::Client::from_conf(config.build()),
        bucket,
        endpoint,
    })
}

/// One precise sentence for a failed S3 call, from its kind
/// ([`crate::compute::ComputeError::from_sdk`]), naming the resource and the endpoint.
fn describe<E>(
    resource: &str,
    t: &Target,
    what: &str,
    err: &SdkError<E, HttpResponse>,
) -> ComputeError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let e = ComputeError::from_sdk(what, err);
    let sentence = sentence(resource, t, what, err.code(), &e);
    ComputeError::said(e.kind, sentence)
}

/// [`describe`]'s sentence for an error of kind `e.kind` (`code`: the service's error code).
fn sentence(
    resource: &str,
    t: &Target,
    what: &str,
    code: Option<&str>,
    e: &ComputeError,
) -> String {
    let detail = if e.detail.is_empty() {
        String::new()
    } else {
        format!(": {}", e.detail)
    };
    match e.kind {
        ErrorKind::Timeout => format!(
            "timed out {what} on {} for resource `{resource}` (after {} s)",
            t.endpoint,
            super::CONNECT_TIMEOUT.as_secs()
        ),
        ErrorKind::Unreachable => {
            format!(
                "cannot reach {} for resource `{resource}`{detail}",
                t.endpoint
            )
        }
        ErrorKind::NoCredentials => format!("resource `{resource}`: {e}"),
        ErrorKind::NotFound if code == Some("NoSuchKey") => {
            format!("{what}: the object does not exist (resource `{resource}`)")
        }
        ErrorKind::NotFound if code == Some("NoSuchBucket") || what.starts_with("checking") => {
            format!(
                "bucket `{}` does not exist (resource `{resource}`, {})",
                t.bucket, t.endpoint
            )
        }
        ErrorKind::Denied => format!(
            "authentication failed for resource `{resource}` ({})",
            if e.detail.is_empty() {
                "access denied"
            } else {
                e.detail.as_str()
            }
        ),
        _ => format!("{what} failed for resource `{resource}`: {e}"),
    }
}

pub(super) async fn fetch(
    ctx: &Ctx<'_>,
    key: &str,
    limit: Option<usize>,
) -> Result<FetchedSource, ComputeError> {
    let name = &ctx.resource.name;
    let t = target(ctx).await?;
    let keys: Vec<(String, String)> = if key.is_empty() || key.ends_with('/') {
        list_keys(name, &t, key).await?
    } else {
        vec![(key.to_owned(), String::new())]
    };
    // A preview needs only the first object.
    let wanted = if limit.is_some() {
        &keys[..1]
    } else {
        &keys[..]
    };
    let mut objects = Vec::with_capacity(wanted.len());
    let mut tags = Vec::with_capacity(wanted.len());
    for (k, _) in wanted {
        let what = format!("reading s3://{}/{k}", t.bucket);
        let out = t
            .client
            .get_object()
            .bucket(&t.bucket)
            .key(k)
            .send()
            .await
            .map_err(|e| describe(name, &t, &what, &e))?;
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| {
                ComputeError::said(
                    ErrorKind::Transient,
                    format!("{what} for resource `{name}`: {e}"),
                )
            })?
            .into_bytes()
            .to_vec();
        tags.push(format!("{k}\u{0}{etag}\u{0}{}", bytes.len()));
        objects.push(FetchedObject {
            name: format!("s3://{}/{k}", t.bucket),
            bytes,
        });
    }
    let version = version_of(tags.iter().map(String::as_bytes));
    Ok(FetchedSource {
        data: Fetched::Objects(objects),
        version,
    })
}

/// Every object under `prefix`, page by page (folders' placeholder keys left out); more than
/// [`MAX_OBJECTS`] is an error.
async fn list_objects(
    name: &str,
    t: &Target,
    prefix: &str,
) -> Result<Vec<aws_sdk_s3::types::Object>, ComputeError> {
    let mut objects = Vec::new();
    let mut token = None;
    loop {
        let page = t
            .client
            .list_objects_v2()
            .bucket(&t.bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| describe(name, t, &format!("listing s3://{}/{prefix}", t.bucket), &e))?;
        objects.extend(
            page.contents()
                .iter()
                .filter(|o| o.key().is_some_and(|k| !k.ends_with('/')))
                .cloned(),
        );
        if objects.len() > MAX_OBJECTS {
            return Err(ComputeError::invalid(format!(
                "more than {MAX_OBJECTS} objects under s3://{}/{prefix}; narrow the prefix",
                t.bucket
            )));
        }
        match page.next_continuation_token() {
            Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(objects)
}

/// Every object under the prefix `key` (keys and entity tags, in key order); none, or more than
/// [`MAX_OBJECTS`], is an error.
async fn list_keys(
    name: &str,
    t: &Target,
    key: &str,
) -> Result<Vec<(String, String)>, ComputeError> {
    let mut keys: Vec<(String, String)> = list_objects(name, t, key)
        .await?
        .iter()
        .filter_map(|o| {
            Some((
                o.key()?.to_owned(),
                o.e_tag().unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    if keys.is_empty() {
        return Err(ComputeError::not_found(format!(
            "no objects under s3://{}/{key} (resource `{name}`)",
            t.bucket
        )));
    }
    keys.sort();
    Ok(keys)
}

pub(super) async fn test(ctx: &Ctx<'_>) -> Result<String, ComputeError> {
    let name = &ctx.resource.name;
    let t = target(ctx).await?;
    if t.bucket.is_empty() {
        let out = t
            .client
            .list_buckets()
            .send()
            .await
            .map_err(|e| describe(name, &t, "listing buckets", &e))?;
        return Ok(format!(
            "connected to {}: the credentials see {} bucket(s)",
            t.endpoint,
            out.buckets().len()
        ));
    }
    let what = format!("checking bucket `{}`", t.bucket);
    t.client
        .head_bucket()
        .bucket(&t.bucket)
        .send()
        .await
        .map_err(|e| describe(name, &t, &what, &e))?;
    let listed = t
        .client
        .list_objects_v2()
        .bucket(&t.bucket)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| describe(name, &t, &format!("listing bucket `{}`", t.bucket), &e))?;
    Ok(format!(
        "connected to {}: bucket `{}` is readable{}",
        t.endpoint,
        t.bucket,
        if listed.contents().is_empty() {
            " (and empty)"
        } else {
            ""
        }
    ))
}

/// An object under a prefix, for the `s3_objects` sensor: its key and last-modified time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    /// Nanoseconds since the epoch.
    pub modified_ns: i64,
}

/// Every object under `prefix` of an `s3` resource's bucket (folders' placeholder keys left
/// out), for sensors. Bounded like a prefix source ([`MAX_OBJECTS`]).
pub(super) async fn list(ctx: &Ctx<'_>, prefix: &str) -> Result<Vec<ListedObject>, ComputeError> {
    let name = &ctx.resource.name;
    let t = target(ctx).await?;
    let out = list_objects(name, &t, prefix)
        .await?
        .iter()
        .filter_map(|o| {
            let modified_ns = o.last_modified().map_or(0, |d| {
                d.secs() * 1_000_000_000 + i64::from(d.subsec_nanos())
            });
            Some(ListedObject {
                key: o.key()?.to_owned(),
                modified_ns,
            })
        })
        .collect();
    Ok(out)
}
