//! Local copies of materializations stored on S3: a remote run writes its outputs to the
//! project's S3 prefix, and the engine reads local Parquet files only. Previews (from stored
//! upstreams, and along an edge) and diffs of such a materialization first download it, once,
//! into the workspace's S3 cache beside the local materializations
//! (`<workspace dir>/s3-cache/<project>/<asset>/<partition>/<run>.parquet`). A
//! materialization's object never changes after its run, so a copy is never stale; it is read
//! with the AWS account of the run that wrote it (its `[resources]` entry), or the project's
//! AWS resource for runs recorded without one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::compute::aws::Aws;
use crate::model::{AssetMaterialization, Project};
use crate::store::Workspace;

use super::AppError;

/// Where the S3 cache of `project` lives.
pub fn cache_dir(ws: &Workspace, project: &str) -> PathBuf {
    let base = ws
        .path()
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    base.join("s3-cache").join(project)
}

/// `materializations` with each `s3://` location for which `needed` holds replaced by its
/// local copy (downloaded when not yet cached). Other locations are left as they are.
///
/// # Errors
/// The project has no AWS resource to read with, the account refuses, the object is gone, or
/// the copy cannot be written: one sentence naming the materialization.
pub fn local_copies(
    ws: &Workspace,
    project: &Project,
    materializations: Vec<AssetMaterialization>,
    needed: impl Fn(&AssetMaterialization) -> bool,
) -> Result<Vec<AssetMaterialization>, AppError> {
    let mut accounts: BTreeMap<Option<String>, Aws> = BTreeMap::new();
    let mut out = Vec::with_capacity(materializations.len());
    for m in materializations {
        if !m.location.starts_with("s3://") || !needed(&m) {
            out.push(m);
            continue;
        }
        let local = cache_dir(ws, &project.name)
            .join(m.asset.as_str())
            .join(crate::engine::partition_dir(m.partition.as_deref()))
            .join(format!("{}.parquet", m.run_id));
        if !local.is_file() {
            let resource = ws.remote_run(&m.run_id)?.map(|r| r.aws_resource);
            let aws = match accounts.get(&resource) {
                Some(aws) => aws.clone(),
                None => {
                    let aws = super::remote::connect(project, resource.as_deref())
                        .map_err(|e| unreadable(&m, &e.to_string()))?;
                    accounts.insert(resource, aws.clone());
                    aws
                }
            };
            download(&aws, &m, &local)?;
        }
        out.push(AssetMaterialization {
            location: local.to_string_lossy().into_owned(),
            ..m
        });
    }
    Ok(out)
}

/// Downloads `m` to `local` through a temporary file, so a failed download leaves no copy.
fn download(aws: &Aws, m: &AssetMaterialization, local: &Path) -> Result<(), AppError> {
    let write_failed = |e: &std::io::Error| {
        unreadable(
            m,
            &format!("its local copy {} cannot be written: {e}", local.display()),
        )
    };
    if let Some(dir) = local.parent() {
        std::fs::create_dir_all(dir).map_err(|e| write_failed(&e))?;
    }
    let part = local.with_extension("parquet.part");
    match aws.get_to_file(&m.location, &part) {
        Ok(true) => std::fs::rename(&part, local).map_err(|e| write_failed(&e)),
        Ok(false) => {
            let _ = std::fs::remove_file(&part);
            Err(unreadable(m, "the object is no longer in the bucket"))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(unreadable(m, &e.to_string()))
        }
    }
}

fn unreadable(m: &AssetMaterialization, why: &str) -> AppError {
    AppError::StoredOnS3 {
        asset: m.asset.clone(),
        run: m.run_id.clone(),
        location: m.location.clone(),
        why: why.to_owned(),
    }
}
