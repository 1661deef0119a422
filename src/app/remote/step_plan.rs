//! What a step is sent: its [`StepPlan`]. Building one moves the step's inputs where the
//! runner can read them — file sources uploaded to S3 and rewritten to read from there, local
//! materializations of upstream assets uploaded under the store's layout — and strips the
//! credentials the runner must not carry (it reaches AWS through its role).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::driver::Driver;
use super::{INPUTS_RESOURCE, RemoteStepRow, SubmitRequest};
use crate::app::AppError;
use crate::compute::aws::Aws;
use crate::compute::protocol::{PROTOCOL_VERSION, StepPlan};
use crate::engine::source;
use crate::model::{
    AssetDefinition, AssetGraph, AssetKey, AssetMaterialization, ComputeTier, Project, Resource,
    ResourceKind, SourceSpec,
};

impl Driver<'_> {
    /// The plan of a step: the project (file inputs uploaded and rewritten to S3), previous
    /// materializations in S3 (local ones of upstream assets uploaded first).
    pub(super) fn step_plan(&mut self, s: &RemoteStepRow) -> Result<StepPlan, AppError> {
        let inputs = StepInputs {
            assets: &s.assets,
            partitions: &s.partitions,
            local: s.tier == ComputeTier::Local,
            dir: format!("_inputs/{}", self.run_id),
        };
        let project = runner_project(
            &self.aws,
            &self.project,
            &self.project_dir,
            &inputs,
            &mut |uri, file| Ok(self.aws.put_file(uri, file)?),
        )?;
        let previous = self.previous_materializations(s)?;
        let request: SubmitRequest = self
            .ws
            .remote_run(&self.run_id)?
            .and_then(|r| serde_json::from_str(&r.request).ok())
            .ok_or_else(|| AppError::UnreadableRequest(self.run_id.clone()))?;
        let dedup: BTreeMap<(AssetKey, Option<String>), AssetMaterialization> = previous
            .into_iter()
            .map(|m| ((m.asset.clone(), m.partition.clone()), m))
            .collect();
        // What those materializations passed and failed: a step never reads data that failed
        // a blocking check (the runner's engine blocks its downstream assets).
        let (_, stored_checks) = crate::app::run::stored_state(self.ws, &self.project.name)?;
        let previous_checks = stored_checks
            .into_iter()
            .filter(|r| {
                dedup
                    .get(&(r.result.asset.clone(), r.result.partition.clone()))
                    .is_some_and(|m| &m.run_id == r.materialization_run_id())
            })
            .collect();
        Ok(StepPlan {
            version: PROTOCOL_VERSION,
            run_id: self.run_id.clone(),
            step_id: s.step_id.clone(),
            project,
            assets: s.assets.clone(),
            partitions: s.partitions.clone(),
            force: request.force,
            previous: dedup.into_values().collect(),
            previous_checks,
            store: self.aws.store(),
            result_uri: self.aws.uri(&format!(
                "_runs/{}/{}/result-{{index}}.json",
                self.run_id, s.step_id
            )),
            upstream_results: Vec::new(),
            masks: self.masking.plan.clone(),
        })
    }

    /// Previous materializations: S3 ones as they are; local ones of assets this step reads
    /// are uploaded under the layout first.
    fn previous_materializations(
        &mut self,
        s: &RemoteStepRow,
    ) -> Result<Vec<AssetMaterialization>, AppError> {
        let step_assets: BTreeSet<&AssetKey> = s.assets.iter().collect();
        let graph = AssetGraph::build(&self.project);
        let needed: BTreeSet<AssetKey> = s
            .assets
            .iter()
            .flat_map(|k| graph.upstream(k).into_iter().cloned().collect::<Vec<_>>())
            .filter(|k| !step_assets.contains(k))
            .collect();
        let store = self.aws.store();
        let mut previous = Vec::new();
        for m in self.ws.latest_materializations(&self.project.name)? {
            if m.location.starts_with("s3://") {
                previous.push(m);
            } else if needed.contains(&m.asset) && Path::new(&m.location).is_file() {
                let uri = store.materialization_uri(&m.asset, m.partition.as_deref(), &m.run_id);
                self.aws.put_file(&uri, Path::new(&m.location))?;
                previous.push(AssetMaterialization { location: uri, ..m });
            }
        }
        Ok(previous)
    }
}

/// The inputs of one step, and where their uploads go.
pub(crate) struct StepInputs<'a> {
    pub assets: &'a [AssetKey],
    pub partitions: &'a [String],
    /// A local step reads its files in place.
    pub local: bool,
    /// Under the store's prefix: `_inputs/<run>` for a launch, `_deploy/_inputs` for a
    /// deployment (whose plans serve every execution).
    pub dir: String,
}

/// The project as a step's runner gets it: the files of the step's file sources handed to
/// `upload` (`s3://` URI, local file) and the sources rewritten to read the uploads through
/// [`INPUTS_RESOURCE`]; no profile or keyring keys (the runner reaches AWS through its role).
/// Shared by launches (which upload each file) and `deploy` (which uploads what changed).
pub(crate) fn runner_project(
    aws: &Aws,
    project: &Project,
    project_dir: &Path,
    step: &StepInputs<'_>,
    upload: &mut dyn FnMut(&str, &Path) -> Result<(), AppError>,
) -> Result<Project, AppError> {
    let mut project = project.clone();
    upload_inputs(aws, &mut project, project_dir, step, upload)?;
    runner_resources(aws, &mut project);
    Ok(project)
}

/// Uploads the files of the step's file sources and points those sources at the upload.
fn upload_inputs(
    aws: &Aws,
    project: &mut Project,
    project_dir: &Path,
    step: &StepInputs<'_>,
    upload: &mut dyn FnMut(&str, &Path) -> Result<(), AppError>,
) -> Result<(), AppError> {
    for key in step.assets {
        let Some(asset) = project.assets.iter_mut().find(|a| &a.key == key) else {
            continue;
        };
        let AssetDefinition::Source(SourceSpec::File { path, format }) = &asset.definition else {
            continue;
        };
        if step.local && project_dir.is_dir() {
            continue;
        }
        let parts: Vec<Option<String>> = if step.partitions.is_empty() {
            vec![None]
        } else {
            step.partitions.iter().cloned().map(Some).collect()
        };
        for p in &parts {
            let full = source::resolve_path(project_dir, path, p.as_deref());
            for f in source::matching_files(key, &full)? {
                let name = f
                    .file_name()
                    .map_or_else(|| "input".to_owned(), |n| n.to_string_lossy().into_owned());
                let uri = aws.uri(&format!(
                    "{}/{}/{}/{name}",
                    step.dir,
                    key.as_str(),
                    p.as_deref().unwrap_or("_")
                ));
                upload(&uri, &f)?;
            }
        }
        let store = aws.store();
        let dir = if step.partitions.is_empty() {
            "_"
        } else {
            "{partition}"
        };
        let prefix = if store.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", store.prefix)
        };
        asset.definition = AssetDefinition::Source(SourceSpec::S3 {
            resource: INPUTS_RESOURCE.to_owned(),
            key: format!("{prefix}{}/{}/{dir}/", step.dir, key.as_str()),
            format: format.clone(),
        });
    }
    Ok(())
}

/// No credentials travel; the uploaded inputs are read through [`INPUTS_RESOURCE`].
fn runner_resources(aws: &Aws, project: &mut Project) {
    for r in &mut project.resources {
        if let ResourceKind::Aws {
            profile,
            access_key_id,
            secret_access_key,
            ..
        } = &mut r.kind
        {
            *profile = None;
            *access_key_id = None;
            *secret_access_key = None;
        }
    }
    project.resources.push(Resource {
        name: INPUTS_RESOURCE.to_owned(),
        description: "input files uploaded by Medallion for this run".to_owned(),
        kind: ResourceKind::S3 {
            bucket: aws.settings.bucket.clone(),
            region: Some(aws.region()),
            endpoint_url: None,
            aws: Some(aws.resource.clone()),
        },
    });
}
