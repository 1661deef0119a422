//! What a step is sent: its [`StepPlan`]. Building one moves the step's inputs where the
//! runner can read them — file sources uploaded to S3 and rewritten to read from there, local
//! materializations of upstream assets uploaded under the store's layout — and strips the
//! credentials the runner must not carry (it reaches AWS through its role).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::driver::Driver;
use super::{INPUTS_RESOURCE, RemoteStepRow, SubmitRequest};
use crate::app::AppError;
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
        let mut project = self.project.clone();
        self.upload_inputs(s, &mut project)?;
        self.runner_resources(&mut project);
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
            masks: self.masking.plan.clone(),
        })
    }

    /// Inputs: uploads the files of this step's file sources and points those sources at the
    /// upload (a local step reads its files in place).
    fn upload_inputs(&self, s: &RemoteStepRow, project: &mut Project) -> Result<(), AppError> {
        let local = s.tier == ComputeTier::Local;
        for key in &s.assets {
            let Some(asset) = project.assets.iter_mut().find(|a| &a.key == key) else {
                continue;
            };
            let AssetDefinition::Source(SourceSpec::File { path, format }) = &asset.definition
            else {
                continue;
            };
            if local && Path::new(&self.project_dir).is_dir() {
                // A local step reads its files in place.
                continue;
            }
            let parts: Vec<Option<String>> = if s.partitions.is_empty() {
                vec![None]
            } else {
                s.partitions.iter().cloned().map(Some).collect()
            };
            for p in &parts {
                let full = source::resolve_path(&self.project_dir, path, p.as_deref());
                let files = source::matching_files(key, &full)?;
                for f in files {
                    let name = f
                        .file_name()
                        .map_or_else(|| "input".to_owned(), |n| n.to_string_lossy().into_owned());
                    let uri = self.aws.uri(&format!(
                        "_inputs/{}/{}/{}/{name}",
                        self.run_id,
                        key.as_str(),
                        p.as_deref().unwrap_or("_")
                    ));
                    self.aws.put_file(&uri, &f)?;
                }
            }
            let store = self.aws.store();
            let dir = if s.partitions.is_empty() {
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
                key: format!("{prefix}_inputs/{}/{}/{dir}/", self.run_id, key.as_str()),
                format: format.clone(),
            });
        }
        Ok(())
    }

    /// The runner reaches AWS through its role: no profile or keyring keys travel. It reads
    /// the uploaded inputs through [`INPUTS_RESOURCE`].
    fn runner_resources(&self, project: &mut Project) {
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
                bucket: self.aws.settings.bucket.clone(),
                region: Some(self.aws.region()),
                endpoint_url: None,
                aws: Some(self.aws.resource.clone()),
            },
        });
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
