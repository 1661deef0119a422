//! The objects a deployment keeps under the project's S3 prefix, in `_deploy/`: each step's
//! plan (`_deploy/<step>/plan.json`, what the state machine's tasks run) and the input files
//! the plans read (`_deploy/_inputs/…`). Each is written with its SHA-256 in the object's
//! metadata, so a deploy compares content without downloading it and writes only what changed.

use std::path::{Path, PathBuf};

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::{Current, Desired, ItemKind};
use crate::compute::aws::{Aws, split_uri};
use crate::compute::error::ComputeError;

/// The folder, under the project's prefix, that holds a deployment's objects.
pub const DEPLOY_DIR: &str = "_deploy";
/// The object metadata key holding the content's SHA-256 (hex).
const SHA_KEY: &str = "medallion-sha256";

/// What an object of the deployment holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl Content {
    /// The content's SHA-256, hex.
    ///
    /// # Errors
    /// A file that cannot be read.
    pub fn sha256(&self) -> Result<String, ComputeError> {
        let mut h = Sha256::new();
        match self {
            Content::Bytes(b) => h.update(b),
            Content::File(p) => {
                let mut f = std::fs::File::open(p).map_err(|e| read_error(p, &e))?;
                std::io::copy(&mut f, &mut h).map_err(|e| read_error(p, &e))?;
            }
        }
        Ok(hex(&h.finalize()))
    }
}

fn read_error(p: &Path, e: &std::io::Error) -> ComputeError {
    ComputeError::io(format!("cannot read {}: {e}", p.display()))
}

/// Bytes as lowercase hexadecimal.
pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// An object the deployment wants: `name` is its key under the project's prefix.
///
/// # Errors
/// A file that cannot be read.
pub fn desired(name: &str, content: &Content, summary: String) -> Result<Desired, ComputeError> {
    Ok(Desired {
        kind: ItemKind::Object,
        name: name.to_owned(),
        config: json!({ "sha256": content.sha256()? }),
        summary,
    })
}

/// The objects under `_deploy/`, with the SHA-256 each was written with (none for an object
/// written otherwise, which a deploy then rewrites).
///
/// # Errors
/// A failed S3 call, as one sentence.
pub fn current(aws: &Aws) -> Result<Vec<Current>, ComputeError> {
    let (bucket, key) = split_uri(&aws.uri(&format!("{DEPLOY_DIR}/")))?;
    let strip = key.len() - DEPLOY_DIR.len() - 1;
    let s3 = aws.s3();
    aws.block(async move {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = s3
                .list_objects_v2()
                .bucket(&bucket)
                .prefix(&key)
                .set_continuation_token(token.take())
                .send()
                .await;
            let page = match page {
                Ok(p) => p,
                // No bucket: nothing deployed there (undeploy still removes the rest).
                Err(e) if e.code() == Some("NoSuchBucket") => return Ok(Vec::new()),
                Err(e) => {
                    return Err(ComputeError::from_sdk(
                        format!("listing s3://{bucket}/{key}"),
                        &e,
                    ));
                }
            };
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .map(str::to_owned),
            );
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let head = s3
                .head_object()
                .bucket(&bucket)
                .key(&k)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk(format!("reading s3://{bucket}/{k}"), &e))?;
            let sha = head.metadata().and_then(|m| m.get(SHA_KEY)).cloned();
            out.push(Current {
                kind: ItemKind::Object,
                name: k[strip..].to_owned(),
                arn: format!("s3://{bucket}/{k}"),
                config: json!({ "sha256": sha }),
            });
        }
        Ok(out)
    })
}

/// Writes one object (`name` under the project's prefix) with its SHA-256 in its metadata.
///
/// # Errors
/// An unreadable file, a failed S3 call.
pub fn put(aws: &Aws, name: &str, content: &Content) -> Result<(), ComputeError> {
    let uri = aws.uri(name);
    let (bucket, key) = split_uri(&uri)?;
    let sha = content.sha256()?;
    let s3 = aws.s3();
    let content = content.clone();
    aws.block(async move {
        let body = match content {
            Content::Bytes(b) => aws_sdk_s3::primitives::ByteStream::from(b),
            Content::File(p) => aws_sdk_s3::primitives::ByteStream::from_path(&p)
                .await
                .map_err(|e| ComputeError::io(format!("cannot read {}: {e}", p.display())))?,
        };
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .metadata(SHA_KEY, sha)
            .body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ComputeError::from_sdk(format!("writing {uri}"), &e))
    })
}

/// Deletes one object (`name` under the project's prefix).
///
/// # Errors
/// A failed S3 call.
pub fn delete(aws: &Aws, name: &str) -> Result<(), ComputeError> {
    let uri = aws.uri(name);
    let (bucket, key) = split_uri(&uri)?;
    let s3 = aws.s3();
    aws.block(async move {
        s3.delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ComputeError::from_sdk(format!("deleting {uri}"), &e))
    })
}
