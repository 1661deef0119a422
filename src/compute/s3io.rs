//! The engine's materialization store on S3: [`S3Blobs`] implements
//! [`crate::engine::staged::BlobStore`], so a runner (or a local step of a remote run) writes
//! Parquet under the documented layout `s3://bucket/prefix/<asset>/<partition|_>/<run>.parquet`
//! and reads upstream materializations from there.

use std::path::Path;

use super::aws::{Aws, split_uri};
use super::error::ComputeError;
use super::protocol::ObjectStore;
use crate::engine::BackendError;
use crate::engine::staged::BlobStore;
use crate::model::AssetKey;
use crate::model::RunId;

/// Objects of one [`ObjectStore`] through an [`Aws`] connection.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    pub aws: Aws,
    pub store: ObjectStore,
}

impl BlobStore for S3Blobs {
    fn upload(
        &self,
        asset: &AssetKey,
        partition: Option<&str>,
        run_id: &RunId,
        local: &Path,
    ) -> Result<String, BackendError> {
        let uri = self.store.materialization_uri(asset, partition, run_id);
        self.aws.put_file(&uri, local)?;
        Ok(uri)
    }

    fn download(&self, location: &str, to: &Path) -> Result<(), BackendError> {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                ComputeError::io(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        if self.aws.get_to_file(location, to)? {
            Ok(())
        } else {
            Err(ComputeError::not_found(format!("{location} does not exist")).into())
        }
    }

    fn exists(&self, location: &str) -> bool {
        self.aws.exists(location).unwrap_or(false)
    }

    fn delete(&self, location: &str) -> Result<(), BackendError> {
        Ok(self.aws.delete(location)?)
    }

    fn owns(&self, location: &str) -> bool {
        split_uri(location).is_ok()
    }
}
