//! The Job API calls of a step: create its Job, delete it (foreground, so its pods go first),
//! and find a run's Jobs again by their labels after a restart. [`JobRef`] is what Medallion
//! reads back from a Job it made (its annotations).

use k8s_openapi::api::batch::v1::Job;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use serde::{Deserialize, Serialize};

use super::api_error;
use super::connection::EksConnection;
use super::job::{ANNOTATION_PARTITIONS, ANNOTATION_RUN_ID, ANNOTATION_STEP_ID, run_selector};
use crate::compute::error::ComputeError;
use crate::model::RunId;

/// A submitted step's Job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRef {
    pub namespace: String,
    pub name: String,
    pub run_id: RunId,
    pub step_id: String,
    /// The partition of each completion index, when known.
    pub partitions: Vec<String>,
    /// How many pods must succeed (one per completion index).
    pub completions: usize,
}

impl JobRef {
    /// The reference to a Job Medallion made, from its annotations.
    pub fn from_job(job: &Job) -> Option<Self> {
        let annotations = job.metadata.annotations.as_ref()?;
        Some(Self {
            namespace: job.metadata.namespace.clone()?,
            name: job.metadata.name.clone()?,
            run_id: annotations.get(ANNOTATION_RUN_ID)?.clone().into(),
            step_id: annotations.get(ANNOTATION_STEP_ID)?.clone(),
            partitions: annotations
                .get(ANNOTATION_PARTITIONS)
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default(),
            completions: job
                .spec
                .as_ref()
                .and_then(|s| s.completions)
                .and_then(|c| usize::try_from(c).ok())
                .unwrap_or(1),
        })
    }

    /// How many pods must succeed.
    pub fn completions(&self) -> usize {
        self.completions.max(1)
    }

    /// The partition at a completion index.
    pub fn partition(&self, index: usize) -> Option<&str> {
        self.partitions.get(index).map(String::as_str)
    }
}

/// Creates the Job. A Job of the same name (the same run and step, already submitted) is
/// reported as such rather than replaced.
///
/// # Errors
/// When the API refuses the Job.
pub async fn submit(conn: &EksConnection, job: &Job) -> Result<JobRef, ComputeError> {
    let client = conn.client().await?;
    let api: Api<Job> = Api::namespaced(client, conn.namespace());
    let created = api.create(&PostParams::default(), job).await.map_err(|e| {
        let name = job.metadata.name.as_deref().unwrap_or("?");
        api_error(conn, &format!("creating Job `{name}`"), &e)
    })?;
    JobRef::from_job(&created)
        .ok_or_else(|| ComputeError::invalid("the created Job lacks Medallion's annotations"))
}

/// Deletes the Job and, with foreground propagation, its pods before the Job itself goes.
/// A Job that is already gone counts as deleted.
///
/// # Errors
/// When the API refuses the deletion.
pub async fn cancel(conn: &EksConnection, job: &JobRef) -> Result<(), ComputeError> {
    let client = conn.client().await?;
    let api: Api<Job> = Api::namespaced(client, &job.namespace);
    match api.delete(&job.name, &DeleteParams::foreground()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(e) => Err(api_error(conn, &format!("deleting Job `{}`", job.name), &e)),
    }
}

/// The Jobs of a run, found by their labels (after an app restart).
///
/// # Errors
/// When the API cannot list Jobs.
pub async fn find_jobs(
    conn: &EksConnection,
    project: &str,
    run_id: &RunId,
) -> Result<Vec<JobRef>, ComputeError> {
    let client = conn.client().await?;
    let api: Api<Job> = Api::namespaced(client, conn.namespace());
    let list = api
        .list(&ListParams::default().labels(&run_selector(project, run_id)))
        .await
        .map_err(|e| api_error(conn, "listing Jobs", &e))?;
    Ok(list
        .items
        .iter()
        .filter_map(JobRef::from_job)
        .filter(|j| j.run_id == *run_id)
        .collect())
}
