//! What went wrong talking to AWS, a Kubernetes API server or an HTTP API, in categories a
//! caller can match on and a sentence a person can read — never a debug dump such as
//! `DispatchFailure(ConnectorError { … })`. Every SDK, kube and reqwest error is classified here,
//! where it is caught: [`ComputeError::from_sdk`], [`ComputeError::from_kube`],
//! [`ComputeError::from_reqwest`], [`ComputeError::from_status`].

use std::error::Error as StdError;
use std::fmt;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

/// The category of a failure: what a caller (retry, the studio's hint, a test) decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The endpoint could not be reached: DNS, refused connection, TLS, no route.
    Unreachable,
    /// Reached, but no answer in time.
    Timeout,
    /// No credentials were found to sign or authenticate with.
    NoCredentials,
    /// The credentials were refused, or lack the permission.
    Denied,
    /// The service asks to slow down.
    Throttled,
    /// What was named (bucket, cluster, task, queue, object) does not exist.
    NotFound,
    /// The request itself is wrong (a bad parameter, a conflict, a value the service refuses).
    Invalid,
    /// A temporary failure on the service's side (5xx, a broken response); trying again may
    /// work.
    Transient,
    /// A local file could not be read or written (a download's target, an upload's source).
    Io,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Whether trying the same call again later may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Unreachable
                | ErrorKind::Timeout
                | ErrorKind::Throttled
                | ErrorKind::Transient
        )
    }

    fn phrase(self) -> &'static str {
        match self {
            ErrorKind::Unreachable => "cannot reach the service",
            ErrorKind::Timeout => "timed out",
            ErrorKind::NoCredentials => "no credentials were found",
            ErrorKind::Denied => "access denied",
            ErrorKind::Throttled => "the service is throttling requests; try again later",
            ErrorKind::NotFound => "not found",
            ErrorKind::Invalid => "the request was refused",
            ErrorKind::Transient => "a temporary failure of the service; try again",
            ErrorKind::Io => "a local file could not be read or written",
            ErrorKind::Other => "failed",
        }
    }
}

/// A failure at the compute boundary — a call to AWS, a cluster, a database or an HTTP API, or
/// a check Medallion makes before one (a missing setting, a malformed URI): its kind, what was
/// being done, and the service's own words (its error code and message, or the innermost
/// transport cause). Callers decide on [`ComputeError::kind`]; the sentence is for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeError {
    pub kind: ErrorKind,
    /// What was being done, e.g. "`RunTask` on cluster `medallion`".
    pub action: String,
    /// The service's code and message, or the transport's cause; may be empty. For an error
    /// Medallion states itself ([`ComputeError::said`]), the whole sentence.
    pub detail: String,
    /// `detail` is the whole sentence (no "… failed: " around it).
    whole: bool,
}

impl fmt::Display for ComputeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.whole {
            f.write_str(&self.detail)
        } else {
            write!(f, "{} failed: {}", self.action, self.reason())
        }
    }
}

impl StdError for ComputeError {}

impl ComputeError {
    pub fn new(kind: ErrorKind, action: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            action: action.into(),
            detail: detail.into(),
            whole: false,
        }
    }

    /// A failure Medallion states itself in one whole sentence (a missing setting, an answer
    /// that makes no sense), of the given kind.
    pub fn said(kind: ErrorKind, sentence: impl Into<String>) -> Self {
        Self {
            kind,
            action: String::new(),
            detail: sentence.into(),
            whole: true,
        }
    }

    /// [`ComputeError::said`] of kind [`ErrorKind::Invalid`]: the input or a setting is wrong.
    pub fn invalid(sentence: impl Into<String>) -> Self {
        Self::said(ErrorKind::Invalid, sentence)
    }

    /// [`ComputeError::said`] of kind [`ErrorKind::Io`]: a local file or thread failed.
    pub fn io(sentence: impl Into<String>) -> Self {
        Self::said(ErrorKind::Io, sentence)
    }

    /// [`ComputeError::said`] of kind [`ErrorKind::NotFound`].
    pub fn not_found(sentence: impl Into<String>) -> Self {
        Self::said(ErrorKind::NotFound, sentence)
    }

    /// The same failure (same kind) as "`prefix`: the sentence".
    #[must_use]
    pub fn context(self, prefix: impl fmt::Display) -> Self {
        let sentence = format!("{prefix}: {self}");
        Self::said(self.kind, sentence)
    }

    /// The same failure (same kind) as "the sentence `suffix`".
    #[must_use]
    pub fn context_after(self, suffix: impl fmt::Display) -> Self {
        let sentence = format!("{self} {suffix}");
        Self::said(self.kind, sentence)
    }

    /// What went wrong, without the action: the kind in words and the service's own.
    pub fn reason(&self) -> String {
        if self.whole {
            return self.detail.clone();
        }
        let mut out = self.kind.phrase().to_owned();
        if !self.detail.is_empty() {
            out.push_str(" (");
            out.push_str(&self.detail);
            out.push(')');
        }
        if self.kind == ErrorKind::NoCredentials {
            out.push_str(
                "; set the resource's access keys (in the keyring), a profile, or the standard AWS variables (AWS_PROFILE, AWS_ACCESS_KEY_ID …)",
            );
        }
        out
    }

    /// An AWS SDK error: a dispatch failure (unreachable, timeout, no credentials), the
    /// service's error code, or the HTTP status.
    pub fn from_sdk<E>(action: impl Into<String>, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        let action = action.into();
        if chain_mentions_credentials(err) {
            return Self::new(ErrorKind::NoCredentials, action, root_cause(err));
        }
        match err {
            SdkError::DispatchFailure(d) => {
                let kind = if d.is_timeout() {
                    ErrorKind::Timeout
                } else if d.is_user() {
                    ErrorKind::Invalid
                } else {
                    ErrorKind::Unreachable
                };
                Self::new(kind, action, root_cause(err))
            }
            SdkError::TimeoutError(_) => Self::new(ErrorKind::Timeout, action, String::new()),
            SdkError::ConstructionFailure(_) => {
                Self::new(ErrorKind::Invalid, action, root_cause(err))
            }
            SdkError::ResponseError(_) => Self::new(ErrorKind::Transient, action, root_cause(err)),
            _ => {
                let code = err.code().unwrap_or_default();
                let status = err.raw_response().map(|r| r.status().as_u16());
                let detail = match (err.code(), err.message()) {
                    (Some(c), Some(m)) if !m.is_empty() => format!("{c}: {m}"),
                    (Some(c), _) => c.to_owned(),
                    (None, Some(m)) => m.to_owned(),
                    (None, None) => status.map_or_else(|| root_cause(err), |s| format!("HTTP {s}")),
                };
                let kind = kind_of_code(code)
                    .unwrap_or_else(|| status.map_or(ErrorKind::Other, kind_of_status));
                Self::new(kind, action, detail)
            }
        }
    }

    /// A Kubernetes API error: its `Status` (code, reason, message) for an API error, the
    /// transport's cause otherwise.
    pub fn from_kube(action: impl Into<String>, err: &kube::Error) -> Self {
        let action = action.into();
        match err {
            kube::Error::Api(status) => {
                let mut detail = status.message.clone();
                if !status.reason.is_empty() {
                    detail = format!("{detail} ({})", status.reason);
                }
                detail = format!("{detail}, HTTP {}", status.code);
                let kind = match status.code {
                    409 | 410 => ErrorKind::Invalid,
                    code => kind_of_status(code),
                };
                Self::new(kind, action, detail)
            }
            kube::Error::Auth(_) => Self::new(ErrorKind::NoCredentials, action, root_cause(err)),
            kube::Error::HyperError(_) | kube::Error::Service(_) => {
                let cause = root_cause(err);
                let kind = if cause.to_ascii_lowercase().contains("timed out")
                    || cause.to_ascii_lowercase().contains("elapsed")
                {
                    ErrorKind::Timeout
                } else {
                    ErrorKind::Unreachable
                };
                Self::new(kind, action, cause)
            }
            kube::Error::InferConfig(_) | kube::Error::BuildRequest(_) => {
                Self::new(ErrorKind::Invalid, action, root_cause(err))
            }
            _ => Self::new(ErrorKind::Other, action, root_cause(err)),
        }
    }

    /// A reqwest error: connection, timeout, the HTTP status, or the body.
    pub fn from_reqwest(action: impl Into<String>, err: &reqwest::Error) -> Self {
        let action = action.into();
        let kind = if err.is_timeout() {
            ErrorKind::Timeout
        } else if err.is_connect() {
            ErrorKind::Unreachable
        } else if let Some(status) = err.status() {
            kind_of_status(status.as_u16())
        } else if err.is_decode() || err.is_body() {
            ErrorKind::Transient
        } else if err.is_builder() || err.is_request() {
            ErrorKind::Invalid
        } else {
            ErrorKind::Other
        };
        let detail = match err.status() {
            Some(s) => format!("HTTP {s}"),
            None => root_cause(err),
        };
        Self::new(kind, action, detail)
    }

    /// An HTTP answer that is not a success.
    pub fn from_status(action: impl Into<String>, status: u16, detail: impl Into<String>) -> Self {
        Self::new(kind_of_status(status), action, detail)
    }
}

/// The kind an AWS error code means, when it is one Medallion knows.
fn kind_of_code(code: &str) -> Option<ErrorKind> {
    Some(match code {
        "" => return None,
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnauthorizedException"
        | "AuthFailure"
        | "InvalidAccessKeyId"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "InvalidToken"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "UnrecognizedClientException"
        | "AccountProblem"
        | "AllAccessDisabled"
        | "OptInRequired" => ErrorKind::Denied,
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "ProvisionedThroughputExceededException"
        | "SlowDown"
        | "PriorRequestNotComplete"
        | "LimitExceededException" => ErrorKind::Throttled,
        "InternalError"
        | "InternalFailure"
        | "InternalServerError"
        | "InternalServiceError"
        | "InternalServerException"
        | "ServerException"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "ServiceException"
        | "RequestTimeout"
        | "RequestTimeoutException" => ErrorKind::Transient,
        c if c.starts_with("NoSuch")
            || c.ends_with("NotFound")
            || c.ends_with("NotFoundException")
            || c.ends_with("NotFoundFault") =>
        {
            ErrorKind::NotFound
        }
        c if c.starts_with("Invalid")
            || c.starts_with("Malformed")
            || c.starts_with("Validation")
            || c.ends_with("ValidationException")
            || c == "ClientException"
            || c == "BadRequest"
            || c == "BadRequestException"
            || c.ends_with("AlreadyExists")
            || c.ends_with("AlreadyExistsException")
            || c.ends_with("ConflictException")
            || c == "EntityAlreadyExists"
            || c == "ResourceConflictException"
            || c == "ResourceInUseException"
            || c == "PlatformUnknownException"
            || c == "UnsupportedFeatureException" =>
        {
            ErrorKind::Invalid
        }
        _ => return None,
    })
}

/// The kind an HTTP status means.
pub fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Denied,
        404 => ErrorKind::NotFound,
        408 => ErrorKind::Timeout,
        429 => ErrorKind::Throttled,
        400..=499 => ErrorKind::Invalid,
        500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

/// Whether an error's chain says credentials could not be found.
fn chain_mentions_credentials(err: &(dyn StdError + 'static)) -> bool {
    let mut e: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(cur) = e {
        if cur
            .downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        let text = cur.to_string().to_ascii_lowercase();
        if text.contains("no providers in chain provided credentials")
            || text.contains("credential provider was not enabled")
            || text.contains("failed to load credentials")
            || text.contains("no credentials")
        {
            return true;
        }
        e = cur.source();
    }
    false
}

/// The innermost cause of an error, as its own words (e.g. "Connection refused (os error 111)"):
/// what a person can act on, without the wrappers' names.
pub fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut last = err;
    let mut words = err.to_string();
    while let Some(next) = last.source() {
        let text = next.to_string();
        if !text.trim().is_empty() {
            words = text;
        }
        last = next;
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_codes_and_statuses_fall_into_kinds() {
        assert_eq!(kind_of_code("AccessDenied"), Some(ErrorKind::Denied));
        assert_eq!(
            kind_of_code("InvalidClientTokenId"),
            Some(ErrorKind::Denied)
        );
        assert_eq!(
            kind_of_code("ThrottlingException"),
            Some(ErrorKind::Throttled)
        );
        assert_eq!(kind_of_code("NoSuchBucket"), Some(ErrorKind::NotFound));
        assert_eq!(
            kind_of_code("ClusterNotFoundException"),
            Some(ErrorKind::NotFound)
        );
        assert_eq!(
            kind_of_code("ResourceNotFoundException"),
            Some(ErrorKind::NotFound)
        );
        assert_eq!(
            kind_of_code("InvalidParameterException"),
            Some(ErrorKind::Invalid)
        );
        assert_eq!(kind_of_code("ClientException"), Some(ErrorKind::Invalid));
        assert_eq!(
            kind_of_code("ServiceUnavailable"),
            Some(ErrorKind::Transient)
        );
        assert_eq!(kind_of_code("SomethingNew"), None);
        assert_eq!(kind_of_status(403), ErrorKind::Denied);
        assert_eq!(kind_of_status(404), ErrorKind::NotFound);
        assert_eq!(kind_of_status(429), ErrorKind::Throttled);
        assert_eq!(kind_of_status(503), ErrorKind::Transient);
        assert_eq!(kind_of_status(422), ErrorKind::Invalid);
    }

    /// A one-shot HTTP server on loopback that answers every request with `response`.
    #[expect(clippy::disallowed_methods, reason = "a test server on its own thread")]
    fn answering(response: &'static str) -> String {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut buf = vec![0u8; 65536];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(response.as_bytes());
            }
        });
        format!("http://{addr}")
    }

    /// A port nothing listens on.
    fn closed_port() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}")
    }

    /// What the standard credential chain answers on a machine with no credentials.
    #[derive(Debug)]
    struct NoCredentials;

    impl aws_credential_types::provider::ProvideCredentials for NoCredentials {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            aws_credential_types::provider::future::ProvideCredentials::ready(Err(
                aws_credential_types::provider::error::CredentialsError::not_loaded(
                    "no providers in chain provided credentials",
                ),
            ))
        }
    }

    fn s3(endpoint: &str, credentials: bool) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled());
        let config = if credentials {
            config.credentials_provider(aws_sdk_s3::config::Credentials::new(
                "AKID", "secret", None, None, "test",
            ))
        } else {
            config.credentials_provider(NoCredentials)
        };
        aws_sdk_s3::Client::from_conf(config.build())
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn real_sdk_failures_are_classified_where_they_are_caught() {
        let rt = rt();
        let head = |client: aws_sdk_s3::Client| {
            rt.block_on(async move { client.head_bucket().bucket("b").send().await })
                .unwrap_err()
        };
        let list = |client: aws_sdk_s3::Client| {
            rt.block_on(async move { client.list_objects_v2().bucket("b").send().await })
                .unwrap_err()
        };
        let e = ComputeError::from_sdk("checking bucket b", &head(s3(&closed_port(), true)));
        assert_eq!(e.kind, ErrorKind::Unreachable, "{e}");
        assert!(e.detail.contains("refused"), "{e}");
        assert!(!e.to_string().contains("DispatchFailure"), "{e}");
        assert!(!e.to_string().contains("ConnectorError"), "{e}");

        let e = ComputeError::from_sdk("listing b", &list(s3(&closed_port(), false)));
        assert_eq!(e.kind, ErrorKind::NoCredentials, "{e}");

        let denied = answering(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: 77\r\nConnection: close\r\n\r\n<Error><Code>AccessDenied</Code><Message>Access Denied here</Message></Error>",
        );
        let e = ComputeError::from_sdk("listing b", &list(s3(&denied, true)));
        assert_eq!(e.kind, ErrorKind::Denied, "{e}");
        assert_eq!(e.detail, "AccessDenied: Access Denied here");
        assert_eq!(
            e.to_string(),
            "listing b failed: access denied (AccessDenied: Access Denied here)"
        );

        let slow = answering(
            "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: 71\r\nConnection: close\r\n\r\n<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>",
        );
        let e = ComputeError::from_sdk("listing b", &list(s3(&slow, true)));
        assert_eq!(e.kind, ErrorKind::Throttled, "{e}");

        let missing =
            answering("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let e = ComputeError::from_sdk("checking bucket b", &head(s3(&missing, true)));
        assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    }

    #[test]
    fn real_http_and_kube_failures_are_classified() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let rt = rt();
        // kube's client spawns its buffer task on the runtime it is built in.
        let _inside = rt.enter();
        let client = reqwest::Client::new();
        let url = closed_port();
        let err = rt
            .block_on(async { client.get(&url).send().await })
            .unwrap_err();
        let e = ComputeError::from_reqwest("reaching the API", &err);
        assert_eq!(e.kind, ErrorKind::Unreachable, "{e}");
        assert!(!e.to_string().contains("reqwest::Error"), "{e}");

        let config = kube::Config::new(closed_port().parse().unwrap());
        let kube_client = kube::Client::try_from(config).unwrap();
        let err = rt
            .block_on(async {
                let jobs: kube::Api<k8s_openapi::api::batch::v1::Job> =
                    kube::Api::namespaced(kube_client, "default");
                jobs.list(&kube::api::ListParams::default()).await
            })
            .unwrap_err();
        let e = ComputeError::from_kube("listing Jobs", &err);
        assert_eq!(e.kind, ErrorKind::Unreachable, "{e}");
        assert!(!e.to_string().contains("HyperError"), "{e}");

        let forbidden = answering(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 127\r\nConnection: close\r\n\r\n{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"jobs is forbidden for user x\",\"reason\":\"Forbidden\",\"code\":403}",
        );
        let kube_client =
            kube::Client::try_from(kube::Config::new(forbidden.parse().unwrap())).unwrap();
        let err = rt
            .block_on(async {
                let jobs: kube::Api<k8s_openapi::api::batch::v1::Job> =
                    kube::Api::namespaced(kube_client, "default");
                jobs.list(&kube::api::ListParams::default()).await
            })
            .unwrap_err();
        let e = ComputeError::from_kube("listing Jobs", &err);
        assert_eq!(e.kind, ErrorKind::Denied, "{e}");
        assert_eq!(
            e.to_string(),
            "listing Jobs failed: access denied (jobs is forbidden for user x (Forbidden), HTTP 403)"
        );
    }

    #[test]
    fn the_sentence_has_no_debug_dump() {
        let e = ComputeError::new(
            ErrorKind::Unreachable,
            "RunTask on cluster `medallion`",
            "Connection refused (os error 111)",
        );
        assert_eq!(
            e.to_string(),
            "RunTask on cluster `medallion` failed: cannot reach the service (Connection refused (os error 111))"
        );
        let e = ComputeError::new(ErrorKind::NoCredentials, "ListBuckets", "");
        assert!(
            e.to_string()
                .contains("no credentials were found; set the resource's access keys")
        );
        assert!(ErrorKind::Throttled.is_retryable());
        assert!(!ErrorKind::Denied.is_retryable());
    }
}
