//! Materializations in an object store, through a local staging directory: each write goes to
//! a local Parquet file first (atomically, like [`LocalIo`]) and is then uploaded; each read of a
//! remote location downloads the object once and scans the local copy.
//!
//! The object store itself is behind [`BlobStore`], a polars-free trait that `compute` implements
//! with the AWS SDK — so remote runs use the same engine code as local ones.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::{BackendError, IoManager, LocalIo, StoreError};
use crate::model::AssetKey;
use crate::model::RunId;

/// Whole-object access to the store materializations live in (S3 for remote runs).
pub trait BlobStore: Sync {
    /// Uploads a finished local file as the materialization of `asset`/`partition` from
    /// `run_id`; returns its location (an `s3://` URI).
    ///
    /// # Errors
    /// The store's own error when the upload fails.
    fn upload(
        &self,
        asset: &AssetKey,
        partition: Option<&str>,
        run_id: &RunId,
        local: &Path,
    ) -> Result<String, BackendError>;
    /// Downloads the object at `location` into `to`.
    ///
    /// # Errors
    /// The store's own error when the object is missing or the download fails.
    fn download(&self, location: &str, to: &Path) -> Result<(), BackendError>;
    /// Whether the object at `location` exists.
    fn exists(&self, location: &str) -> bool;
    /// Deletes the object at `location` (one this run uploaded but will not record).
    ///
    /// # Errors
    /// The store's own error when the delete fails.
    fn delete(&self, location: &str) -> Result<(), BackendError>;
    /// Whether `location` is one of this store's (else it is a local path).
    fn owns(&self, location: &str) -> bool;
}

/// Numbers the partial files of downloads in flight.
static NEXT_DOWNLOAD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// An [`IoManager`] over a [`BlobStore`], staging files under `cache_dir`.
pub struct StagedIo<'a> {
    pub blobs: &'a dyn BlobStore,
    pub cache_dir: PathBuf,
}

impl StagedIo<'_> {
    /// The local copy of a remote location (a stable name per location).
    fn cached(&self, location: &str) -> PathBuf {
        let name = super::sha(&[location]);
        self.cache_dir
            .join("downloads")
            .join(format!("{name}.parquet"))
    }
}

impl IoManager for StagedIo<'_> {
    fn write(
        &self,
        asset: &AssetKey,
        partition: Option<&str>,
        run_id: &RunId,
        df: &mut DataFrame,
    ) -> Result<(String, u64), StoreError> {
        let local = LocalIo {
            root: self.cache_dir.join("outputs"),
        };
        let (path, bytes) = local.write(asset, partition, run_id, df)?;
        let location = self
            .blobs
            .upload(asset, partition, run_id, Path::new(&path))
            .map_err(|source| StoreError::Upload {
                asset: asset.clone(),
                source,
            })?;
        // The staged copy doubles as the download cache for downstream steps of this process.
        let cached = self.cached(&location);
        let staging = |source| StoreError::Staging {
            path: cached.clone(),
            source,
        };
        if let Some(parent) = cached.parent() {
            std::fs::create_dir_all(parent).map_err(staging)?;
        }
        std::fs::rename(&path, &cached).map_err(staging)?;
        Ok((location, bytes))
    }

    fn scan(&self, location: &str) -> PolarsResult<LazyFrame> {
        if !self.blobs.owns(location) {
            return LocalIo {
                root: self.cache_dir.clone(),
            }
            .scan(location);
        }
        let cached = self.cached(location);
        if !cached.is_file() {
            if let Some(parent) = cached.parent() {
                std::fs::create_dir_all(parent).map_err(|e| polars_err!(ComputeError: "{e}"))?;
            }
            // Steps running side by side may fetch the same upstream at once: each downloads
            // to its own partial file, and the first complete copy wins the rename.
            let n = NEXT_DOWNLOAD.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let partial = cached.with_extension(format!("parquet.{n}.partial"));
            let fetched = self.blobs.download(location, &partial);
            if let Err(e) = fetched {
                let _ = std::fs::remove_file(&partial);
                return Err(polars_err!(ComputeError: "{e}"));
            }
            std::fs::rename(&partial, &cached).map_err(|e| polars_err!(ComputeError: "{e}"))?;
        }
        LazyFrame::scan_parquet(
            PlRefPath::new(cached.to_string_lossy().as_ref()),
            ScanArgsParquet::default(),
        )
    }

    fn exists(&self, location: &str) -> bool {
        if self.blobs.owns(location) {
            self.cached(location).is_file() || self.blobs.exists(location)
        } else {
            Path::new(location).is_file()
        }
    }

    /// A remote table this run uploaded but will not record (a schema drift error) is deleted
    /// from the store, and its staged copy with it, as a local run removes its file.
    fn discard(&self, location: &str) -> std::io::Result<()> {
        if !self.blobs.owns(location) {
            return std::fs::remove_file(location);
        }
        let _ = std::fs::remove_file(self.cached(location));
        self.blobs
            .delete(location)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}
