//! The bearer token Amazon EKS accepts, made the way `aws eks get-token` and
//! aws-iam-authenticator make it: `k8s-aws-v1.` followed by the unpadded base64url of a
//! presigned STS `GetCallerIdentity` URL whose signature covers an `x-k8s-aws-id: <cluster>`
//! header. The API server replays the URL against STS to learn who is calling, so nothing
//! secret beyond a short-lived signature leaves the machine.
//!
//! The signature is made by `aws-sigv4` (the AWS SDK's own signer), never by hand.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::compute::error::ComputeError;

/// What every EKS token starts with.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The signed header naming the cluster the token is for.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// How long the presigned URL is valid (what EKS expects; the API server accepts the token for
/// up to 15 minutes after signing).
pub const PRESIGN_EXPIRY: Duration = Duration::from_mins(1);
/// How long a token may be reused before a new one is made (EKS refuses it after 15 minutes).
pub const TOKEN_REUSE: Duration = Duration::from_mins(10);

/// The presigned STS `GetCallerIdentity` URL for a cluster, signed at `now`.
///
/// # Errors
/// When the credentials or region cannot sign a request.
pub fn presigned_url(
    cluster: &str,
    region: &str,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<String, ComputeError> {
    let url =
        format!("https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
    let identity: Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN_EXPIRY);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| ComputeError::invalid(format!("cannot sign the EKS token request: {e}")))?
        .into();
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        [(CLUSTER_ID_HEADER, cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| ComputeError::invalid(format!("cannot sign the EKS token request: {e}")))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| ComputeError::invalid(format!("cannot sign the EKS token request: {e}")))?
        .into_parts();
    let mut request = http::Request::builder()
        .method("GET")
        .uri(url.as_str())
        .body(())
        .map_err(|e| ComputeError::invalid(format!("cannot build the EKS token request: {e}")))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(request.uri().to_string())
}

/// The bearer token for a cluster: [`TOKEN_PREFIX`] + base64url (no padding) of
/// [`presigned_url`].
///
/// # Errors
/// When the credentials or region cannot sign a request.
pub fn token(
    cluster: &str,
    region: &str,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<String, ComputeError> {
    let url = presigned_url(cluster, region, credentials, now)?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        )
    }

    fn fixed_time() -> SystemTime {
        // 2026-01-02T03:04:05Z
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_323_045)
    }

    fn query(url: &str) -> Vec<(String, String)> {
        let q = url.split_once('?').unwrap().1;
        q.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    fn param<'a>(q: &'a [(String, String)], k: &str) -> &'a str {
        &q.iter().find(|(key, _)| key == k).unwrap().1
    }

    #[test]
    fn presigned_url_has_the_shape_eks_checks() {
        let url = presigned_url("prod", "eu-west-2", &creds(), fixed_time()).unwrap();
        assert!(
            url.starts_with("https://sts.eu-west-2.amazonaws.com/?"),
            "{url}"
        );
        let q = query(&url);
        assert_eq!(param(&q, "Action"), "GetCallerIdentity");
        assert_eq!(param(&q, "Version"), "2011-06-15");
        assert_eq!(param(&q, "X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
        assert_eq!(
            param(&q, "X-Amz-Credential"),
            "AKIDEXAMPLE%2F20260102%2Feu-west-2%2Fsts%2Faws4_request"
        );
        assert_eq!(param(&q, "X-Amz-Date"), "20260102T030405Z");
        assert_eq!(param(&q, "X-Amz-Expires"), "60");
        assert_eq!(param(&q, "X-Amz-SignedHeaders"), "host%3Bx-k8s-aws-id");
        let sig = param(&q, "X-Amz-Signature");
        assert_eq!(sig.len(), 64);
        // Computed independently (Python hmac/hashlib following the SigV4 spec: canonical
        // request with `host` and `x-k8s-aws-id` headers, empty payload hash).
        assert_eq!(
            sig,
            "3910def2f4df10ab820a235ff9c688fba2ae7b7e5ec553155fd214c0efbf12f1"
        );
        assert!(
            sig.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(
            !url.contains("wJalrXUtnFEMI"),
            "the secret key never appears"
        );
    }

    #[test]
    fn token_is_deterministic_and_decodes_to_the_url() {
        let a = token("prod", "eu-west-2", &creds(), fixed_time()).unwrap();
        let b = token("prod", "eu-west-2", &creds(), fixed_time()).unwrap();
        assert_eq!(a, b);
        let body = a.strip_prefix(TOKEN_PREFIX).unwrap();
        assert!(!body.contains('=') && !body.contains('+') && !body.contains('/'));
        let url = String::from_utf8(URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap();
        assert_eq!(
            url,
            presigned_url("prod", "eu-west-2", &creds(), fixed_time()).unwrap()
        );
        // Another cluster, another signature: the cluster name is signed.
        let other = token("staging", "eu-west-2", &creds(), fixed_time()).unwrap();
        assert_ne!(a, other);
        // A session token travels as X-Amz-Security-Token.
        let session = Credentials::new("AKID", "secret", Some("SESSION".into()), None, "t");
        let url = presigned_url("prod", "us-east-1", &session, fixed_time()).unwrap();
        assert_eq!(param(&query(&url), "X-Amz-Security-Token"), "SESSION");
    }
}
