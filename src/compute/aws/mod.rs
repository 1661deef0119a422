//! AWS for remote runs: one configured connection ([`Aws`]) built from a project's `aws`
//! resource (region, endpoint, profile or keyring keys, and its `compute` settings), the S3
//! object helpers remote runs share, and the Fargate, Batch and log-tailing pieces.
//!
//! Every client retries throttling and transient errors with the SDK's standard retry mode
//! ([`MAX_ATTEMPTS`] attempts, exponential backoff with jitter).

pub mod batch;
pub mod fargate;
pub mod lambda;
pub mod logs;
pub mod setup;

use std::future::Future;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::error::ProvideErrorMetadata;

use tokio::runtime::Handle;

use super::connect::{CONNECT_TIMEOUT, REQUEST_TIMEOUT, SecretSource, block_on};
use super::error::{ComputeError, ErrorKind};
use super::protocol::ObjectStore;
use crate::model::{AwsCompute, Resource, ResourceKind};

/// Attempts per AWS call (the first one plus retries) for throttling and transient errors.
pub const MAX_ATTEMPTS: u32 = 6;

/// A configured AWS connection for remote runs, its calls on the process's runtime.
#[derive(Clone)]
pub struct Aws {
    runtime: Handle,
    config: aws_config::SdkConfig,
    /// The `aws` resource's name (for messages).
    pub resource: String,
    pub settings: AwsCompute,
    pub project: String,
}

impl std::fmt::Debug for Aws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aws")
            .field("resource", &self.resource)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The retry policy of every client: the SDK's standard mode, which retries throttling
/// (`ThrottlingException`, `TooManyRequestsException`, HTTP 429, …) and transient errors.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(20))
}

/// reqwest and the AWS SDK use rustls; `main` installs the provider, tests may not have.
fn install_tls_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The first `aws` resource of a project with `compute` settings (or the one named).
pub fn compute_resource<'a>(
    resources: &'a [Resource],
    name: Option<&str>,
) -> Result<&'a Resource, ComputeError> {
    let has_compute = |r: &&Resource| {
        matches!(
            &r.kind,
            ResourceKind::Aws {
                compute: Some(_),
                ..
            }
        )
    };
    match name {
        Some(n) => {
            let r = resources
                .iter()
                .find(|r| r.name == n)
                .ok_or_else(|| {
                    ComputeError::not_found(format!("the project has no resource named `{n}`"))
                })?;
            if has_compute(&r) {
                Ok(r)
            } else {
                Err(ComputeError::invalid(format!(
                    "resource `{n}` is not an aws resource with a [resources.{n}.compute] section"
                )))
            }
        }
        None => resources.iter().find(has_compute).ok_or_else(|| {
            ComputeError::invalid("remote runs need an aws resource with a compute section, e.g. [resources.aws] kind = \"aws\" and [resources.aws.compute] bucket = \"…\"")
        }),
    }
}

impl Aws {
    /// Connects with a project's `aws` resource: its region, endpoint, profile and keyring
    /// credentials, or the standard AWS chain for what it leaves out.
    pub fn connect(
        runtime: Handle,
        resource: &Resource,
        secrets: &dyn SecretSource,
        project: &str,
    ) -> Result<Self, ComputeError> {
        let ResourceKind::Aws { compute, .. } = &resource.kind else {
            return Err(ComputeError::invalid(format!(
                "resource `{}` is not an aws resource",
                resource.name
            )));
        };
        let settings = compute.as_deref().cloned().ok_or_else(|| {
            ComputeError::invalid(format!(
                "resource `{}` has no compute section (bucket, cluster, …)",
                resource.name
            ))
        })?;
        install_tls_provider();
        let config = block_on(
            &runtime,
            sdk_config(Some(resource), secrets, None, None, &resource.name),
        )?;
        Ok(Self {
            runtime,
            config,
            resource: resource.name.clone(),
            settings,
            project: project.to_owned(),
        })
    }

    /// Connects with the standard AWS chain only (environment, task role): the runner's view.
    pub fn from_environment(runtime: Handle) -> Self {
        install_tls_provider();
        let config = block_on(&runtime, loader().load());
        Self {
            runtime,
            config,
            resource: "environment".to_owned(),
            settings: AwsCompute::default(),
            project: String::new(),
        }
    }

    /// Runs a future on the process's runtime and waits for it; callable from any thread
    /// but a current-thread runtime's (see [`block_on`]).
    pub fn block<T>(&self, future: impl Future<Output = T>) -> T {
        block_on(&self.runtime, future)
    }

    /// The runtime this connection's calls run on.
    pub fn runtime(&self) -> &Handle {
        &self.runtime
    }

    pub fn endpoint(&self) -> Option<&str> {
        self.config.endpoint_url()
    }

    pub fn region(&self) -> String {
        self.config
            .region()
            .map_or_else(String::new, ToString::to_string)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let mut b = aws_sdk_s3::config::Builder::from(&self.config);
        if self.config.endpoint_url().is_some() {
            // Test servers and S3-compatible stores serve buckets as paths.
            b = b.force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(b.build())
    }

    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.config)
    }

    pub fn batch(&self) -> aws_sdk_batch::Client {
        aws_sdk_batch::Client::new(&self.config)
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.config)
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.config)
    }

    /// EKS, for the cluster a deployed project's EKS steps run on.
    pub fn eks(&self) -> aws_sdk_eks::Client {
        aws_sdk_eks::Client::new(&self.config)
    }

    /// Step Functions, for deployed projects' state machines.
    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.config)
    }

    /// EventBridge Scheduler, for deployed projects' schedules.
    pub fn scheduler(&self) -> aws_sdk_scheduler::Client {
        aws_sdk_scheduler::Client::new(&self.config)
    }

    /// The account these credentials act in (STS `GetCallerIdentity`), for audit entries of
    /// what is done on AWS. One quick attempt: a slow or failing answer is an error the caller
    /// records as "unknown", never a guess.
    pub fn account(&self) -> Result<String, ComputeError> {
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&self.config)
                .retry_config(RetryConfig::standard().with_max_attempts(2))
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(5))
                        .operation_timeout(Duration::from_secs(15))
                        .build(),
                )
                .build(),
        );
        self.block(async move {
            let out = sts
                .get_caller_identity()
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk("reading the AWS account (STS)", &e))?;
            out.account()
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ComputeError::invalid("STS GetCallerIdentity answered without an account")
                })
        })
    }

    /// EventBridge, for deployed projects' rules.
    pub fn events(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.config)
    }

    /// SNS in `region` (a topic's, from its ARN), for `check-aws`'s look at an alert topic.
    pub fn sns(&self, region: &str) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&self.config)
                .region(aws_config::Region::new(region.to_owned()))
                .build(),
        )
    }

    /// KMS in `region`, for `check-aws`'s look at the key of an encrypted alert topic.
    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&self.config)
                .region(aws_config::Region::new(region.to_owned()))
                .build(),
        )
    }

    /// SQS, for the dead-letter queue of deployed alert rules.
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.config)
    }

    /// Where this project's remote materializations live.
    pub fn store(&self) -> ObjectStore {
        ObjectStore {
            bucket: self.settings.bucket.clone(),
            prefix: self.settings.prefix_for(&self.project),
        }
    }

    /// `s3://bucket/prefix/<rest>`.
    pub fn uri(&self, rest: &str) -> String {
        let store = self.store();
        if store.prefix.is_empty() {
            format!("s3://{}/{rest}", store.bucket)
        } else {
            format!("s3://{}/{}/{rest}", store.bucket, store.prefix)
        }
    }

    /// Writes bytes to an `s3://` URI.
    pub fn put(&self, uri: &str, bytes: Vec<u8>) -> Result<(), ComputeError> {
        let (bucket, key) = split_uri(uri)?;
        let s3 = self.s3();
        let uri = uri.to_owned();
        self.block(async move {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(bytes.into())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ComputeError::from_sdk(format!("writing {uri}"), &e))
        })
    }

    /// Uploads a local file to an `s3://` URI, streaming it from disk: one `PutObject` up to
    /// [`MULTIPART_THRESHOLD`], a multipart upload above it (S3 refuses a single `PutObject`
    /// over 5 GB).
    pub fn put_file(&self, uri: &str, path: &std::path::Path) -> Result<(), ComputeError> {
        self.put_file_in_parts(uri, path, MULTIPART_THRESHOLD, MIN_PART_SIZE)
    }

    /// [`Aws::put_file`] with its threshold and smallest part size chosen (tests use small
    /// ones). Parts grow beyond `min_part` when a file would need more than 10,000 of them;
    /// a failed multipart upload is aborted so no parts are left behind.
    pub fn put_file_in_parts(
        &self,
        uri: &str,
        path: &std::path::Path,
        threshold: u64,
        min_part: u64,
    ) -> Result<(), ComputeError> {
        use aws_sdk_s3::primitives::ByteStream;
        let (bucket, key) = split_uri(uri)?;
        let s3 = self.s3();
        let (uri, path) = (uri.to_owned(), path.to_owned());
        let size = std::fs::metadata(&path)
            .map_err(|e| ComputeError::io(format!("cannot read {}: {e}", path.display())))?
            .len();
        self.block(async move {
            if size <= threshold {
                let body = ByteStream::from_path(&path).await.map_err(|e| {
                    ComputeError::io(format!("cannot read {}: {e}", path.display()))
                })?;
                return s3
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(body)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| ComputeError::from_sdk(format!("writing {uri}"), &e));
            }
            let created = s3
                .create_multipart_upload()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk(format!("starting the upload of {uri}"), &e))?;
            let upload_id = created
                .upload_id()
                .ok_or_else(|| {
                    ComputeError::said(
                        ErrorKind::Transient,
                        format!("starting the upload of {uri}: S3 gave no upload id"),
                    )
                })?
                .to_owned();
            let part_size = min_part.max(size.div_ceil(MAX_PARTS));
            let upload = Upload {
                s3: &s3,
                bucket: &bucket,
                key: &key,
                id: &upload_id,
                uri: &uri,
            };
            let parts = upload.parts(&path, size, part_size).await;
            if parts.is_err() {
                // Parts of an unfinished upload are stored (and billed) until aborted.
                let _ = s3
                    .abort_multipart_upload()
                    .bucket(&bucket)
                    .key(&key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
            }
            parts
        })
    }

    /// Downloads an `s3://` object into a local file chunk by chunk; false when the object
    /// does not exist.
    pub fn get_to_file(&self, uri: &str, path: &std::path::Path) -> Result<bool, ComputeError> {
        use std::io::Write as _;
        let (bucket, key) = split_uri(uri)?;
        let s3 = self.s3();
        let (uri, path) = (uri.to_owned(), path.to_owned());
        self.block(async move {
            let object = match s3.get_object().bucket(bucket).key(key).send().await {
                Ok(o) => o,
                Err(e) if e.code() == Some("NoSuchKey") => return Ok(false),
                Err(e) => return Err(ComputeError::from_sdk(format!("reading {uri}"), &e)),
            };
            let mut body = object.body;
            let mut file = std::fs::File::create(&path)
                .map_err(|e| ComputeError::io(format!("cannot write {}: {e}", path.display())))?;
            while let Some(chunk) = body.try_next().await.map_err(|e| {
                ComputeError::said(ErrorKind::Transient, format!("reading {uri}: {e}"))
            })? {
                file.write_all(&chunk).map_err(|e| {
                    ComputeError::io(format!("cannot write {}: {e}", path.display()))
                })?;
            }
            file.flush()
                .map_err(|e| ComputeError::io(format!("cannot write {}: {e}", path.display())))?;
            Ok(true)
        })
    }

    /// Reads an `s3://` URI; `None` when the object does not exist.
    pub fn get(&self, uri: &str) -> Result<Option<Vec<u8>>, ComputeError> {
        let (bucket, key) = split_uri(uri)?;
        let s3 = self.s3();
        let uri = uri.to_owned();
        self.block(async move {
            match s3.get_object().bucket(bucket).key(key).send().await {
                Ok(o) => o
                    .body
                    .collect()
                    .await
                    .map(|b| Some(b.into_bytes().to_vec()))
                    .map_err(|e| {
                        ComputeError::said(ErrorKind::Transient, format!("reading {uri}: {e}"))
                    }),
                Err(e) if e.code() == Some("NoSuchKey") => Ok(None),
                Err(e)
                    if e.raw_response().is_some_and(|r| r.status().as_u16() == 404)
                        && e.code() != Some("NoSuchBucket") =>
                {
                    Ok(None)
                }
                Err(e) => Err(ComputeError::from_sdk(format!("reading {uri}"), &e)),
            }
        })
    }

    /// Deletes an `s3://` object (S3 answers the same whether or not it existed).
    ///
    /// # Errors
    /// The SDK's error, worded with the object's URI.
    pub fn delete(&self, uri: &str) -> Result<(), ComputeError> {
        let (bucket, key) = split_uri(uri)?;
        let s3 = self.s3();
        let uri = uri.to_owned();
        self.block(async move {
            s3.delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ComputeError::from_sdk(format!("deleting {uri}"), &e))
        })
    }

    /// Whether an `s3://` object exists.
    pub fn exists(&self, uri: &str) -> Result<bool, ComputeError> {
        let (bucket, key) = split_uri(uri)?;
        let s3 = self.s3();
        let uri = uri.to_owned();
        self.block(async move {
            match s3.head_object().bucket(bucket).key(key).send().await {
                Ok(_) => Ok(true),
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
                Err(e) => Err(ComputeError::from_sdk(format!("checking {uri}"), &e)),
            }
        })
    }
}

/// One multipart upload in progress.
struct Upload<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    key: &'a str,
    id: &'a str,
    /// The object's `s3://` URI (for messages).
    uri: &'a str,
}

impl Upload<'_> {
    /// Uploads `path` (`size` bytes) in parts of `part_size` and completes the upload.
    async fn parts(
        &self,
        path: &std::path::Path,
        size: u64,
        part_size: u64,
    ) -> Result<(), ComputeError> {
        use aws_sdk_s3::primitives::{ByteStream, Length};
        let uri = self.uri;
        let mut done = Vec::new();
        let mut offset = 0u64;
        let mut number = 1i32;
        while offset < size {
            let length = part_size.min(size - offset);
            let body = ByteStream::read_from()
                .path(path)
                .offset(offset)
                .length(Length::Exact(length))
                .build()
                .await
                .map_err(|e| ComputeError::io(format!("cannot read {}: {e}", path.display())))?;
            let part = self
                .s3
                .upload_part()
                .bucket(self.bucket)
                .key(self.key)
                .upload_id(self.id)
                .part_number(number)
                .body(body)
                .send()
                .await
                .map_err(|e| {
                    ComputeError::from_sdk(format!("uploading part {number} of {uri}"), &e)
                })?;
            done.push(
                aws_sdk_s3::types::CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag().map(str::to_owned))
                    .build(),
            );
            offset += length;
            number += 1;
        }
        self.s3
            .complete_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(self.id)
            .multipart_upload(
                aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ComputeError::from_sdk(format!("completing the upload of {uri}"), &e))
    }
}

/// The AWS SDK settings for an `aws` resource — its profile, region, endpoint and keyring
/// credentials, each falling back to the standard chain (environment, profiles, SSO) — with the
/// standard retry policy and Medallion's timeouts. `region` and `endpoint` override the
/// resource's (an `s3` resource's own settings). The one place a resource becomes an SDK config:
/// S3 sources, remote runs and EKS all come through here.
///
/// # Errors
/// When `aws` is not an `aws` resource, sets only one half of a key pair, a keyring secret is
/// missing, or no region is known (`who` names the resource in that message).
pub(crate) async fn sdk_config(
    aws: Option<&Resource>,
    secrets: &dyn SecretSource,
    region: Option<String>,
    endpoint: Option<String>,
    who: &str,
) -> Result<aws_config::SdkConfig, ComputeError> {
    let mut loader = loader();
    let (mut region, mut endpoint) = (region, endpoint);
    if let Some(r) = aws {
        let ResourceKind::Aws {
            region: aws_region,
            profile,
            endpoint_url,
            access_key_id,
            secret_access_key,
            ..
        } = &r.kind
        else {
            return Err(ComputeError::invalid(format!(
                "resource `{}` is a {} resource, not aws",
                r.name,
                r.kind.label()
            )));
        };
        region = region.or_else(|| aws_region.clone());
        endpoint = endpoint.or_else(|| endpoint_url.clone());
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        match (access_key_id, secret_access_key) {
            (Some(id), Some(secret)) => {
                let id = secrets.secret(id).map_err(|e| {
                    e.context(format!("resource `{}` needs its access key id", r.name))
                })?;
                let secret = secrets.secret(secret).map_err(|e| {
                    e.context(format!("resource `{}` needs its secret access key", r.name))
                })?;
                loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                    id,
                    secret,
                    None,
                    None,
                    "medallion-keyring",
                ));
            }
            (None, None) => {}
            _ => {
                return Err(ComputeError::invalid(format!(
                    "resource `{}` sets only one of access_key_id and secret_access_key; set both or neither",
                    r.name
                )));
            }
        }
    }
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r));
    }
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(ComputeError::invalid(format!(
            "resource `{who}` has no AWS region: set `region` on it or AWS_REGION"
        )));
    }
    Ok(config)
}

/// Files up to this size go up in one `PutObject`; bigger ones in parts.
pub const MULTIPART_THRESHOLD: u64 = 256 << 20;
/// The smallest part of a multipart upload (S3's minimum is 5 MiB, except for the last part).
pub const MIN_PART_SIZE: u64 = 64 << 20;
/// S3's limit on the parts of one upload.
const MAX_PARTS: u64 = 10_000;

fn loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(REQUEST_TIMEOUT)
                .build(),
        )
}

/// `s3://bucket/key` → (bucket, key).
pub fn split_uri(uri: &str) -> Result<(String, String), ComputeError> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| ComputeError::invalid(format!("`{uri}` is not an s3:// URI")))?;
    match rest.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.to_owned(), k.to_owned())),
        _ => Err(ComputeError::invalid(format!(
            "`{uri}` names no object (expected s3://bucket/key)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_split_into_bucket_and_key() {
        assert_eq!(
            split_uri("s3://b/p/x.json").unwrap(),
            ("b".to_owned(), "p/x.json".to_owned())
        );
        let e = split_uri("s3://b").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(e.to_string().contains("names no object"));
        assert!(
            split_uri("/tmp/x")
                .unwrap_err()
                .to_string()
                .contains("not an s3:// URI")
        );
    }

    /// Secrets by name: `Keyring("id")` → "AKID", everything else missing.
    struct Keys;
    impl SecretSource for Keys {
        fn secret(&self, reference: &crate::model::SecretRef) -> Result<String, ComputeError> {
            match reference {
                crate::model::SecretRef::Keyring(n) if n == "id" => Ok("AKID".into()),
                other => Err(ComputeError::said(
                    ErrorKind::NoCredentials,
                    format!("{other} is not set"),
                )),
            }
        }
    }

    fn aws(region: Option<&str>, id: Option<&str>, secret: Option<&str>) -> Resource {
        let key = |n: Option<&str>| n.map(|n| crate::model::SecretRef::Keyring(n.to_owned()));
        Resource {
            name: "cloud".into(),
            description: String::new(),
            kind: ResourceKind::Aws {
                region: region.map(str::to_owned),
                profile: None,
                endpoint_url: None,
                access_key_id: key(id),
                secret_access_key: key(secret),
                compute: None,
            },
        }
    }

    /// S3 sources, remote runs and EKS all build their SDK settings here: the resource's region
    /// unless the caller's own overrides it, and precise errors naming the resource.
    #[test]
    fn one_place_turns_an_aws_resource_into_sdk_settings() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let load = |r: &Resource, region: Option<&str>| {
            rt.block_on(sdk_config(
                Some(r),
                &Keys,
                region.map(str::to_owned),
                None,
                "src",
            ))
        };
        let plain = aws(Some("eu-west-1"), None, None);
        let region = |c: aws_config::SdkConfig| c.region().map(ToString::to_string);
        assert_eq!(
            region(load(&plain, None).unwrap()).as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region(load(&plain, Some("us-east-2")).unwrap()).as_deref(),
            Some("us-east-2"),
            "an s3 resource's own region wins"
        );
        let half = load(&aws(Some("eu-west-1"), Some("id"), None), None)
            .unwrap_err()
            .to_string();
        assert!(
            half.contains("`cloud` sets only one of access_key_id"),
            "{half}"
        );
        let missing = load(&aws(Some("eu-west-1"), Some("id"), Some("gone")), None).unwrap_err();
        assert_eq!(missing.kind, ErrorKind::NoCredentials, "{missing}");
        let missing = missing.to_string();
        assert!(
            missing.contains("`cloud` needs its secret access key") && missing.contains("gone"),
            "{missing}"
        );
        let not_aws = Resource {
            name: "db".into(),
            description: String::new(),
            kind: ResourceKind::Http {
                base_url: "https://x".into(),
                auth_token: None,
            },
        };
        assert!(
            load(&not_aws, None)
                .unwrap_err()
                .to_string()
                .contains("`db` is a http resource, not aws")
        );
    }

    #[test]
    fn throttling_is_retried_with_backoff() {
        let r = retry_config();
        assert_eq!(r.max_attempts(), MAX_ATTEMPTS);
        assert_eq!(r.mode(), aws_config::retry::RetryMode::Standard);
        assert_eq!(r.initial_backoff(), Duration::from_millis(200));
    }
}
