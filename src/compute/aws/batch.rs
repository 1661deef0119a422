//! AWS Batch: one job per step on the connection's job queue and job definition, the runner's
//! command, environment and size as container overrides; a partition backfill is one array job
//! whose children pick their partition by `AWS_BATCH_JOB_ARRAY_INDEX`. Logs come from each
//! child's own log stream (`DescribeJobs` names it once the child has started).

use aws_sdk_batch::types::{
    ArrayProperties, ContainerOverrides, JobTimeout, KeyValuePair, ResourceRequirement,
    ResourceType,
};

use super::{Aws, logs};
use crate::compute::error::{ComputeError, ErrorKind};
use crate::compute::launch::{LaunchSpec, Launcher, LogRead, RemotePhase, RemoteState};
use crate::compute::protocol::PLAN_ENV_VAR;
use crate::model::ComputeTier;

/// Runs steps as Batch jobs.
#[derive(Debug, Clone)]
pub struct Batch {
    pub aws: Aws,
}

/// The job id of an array child (the parent's id for a plain job).
pub fn child_job_id(job_id: &str, child: usize, array: bool) -> String {
    if array {
        format!("{job_id}:{child}")
    } else {
        job_id.to_owned()
    }
}

impl Batch {
    fn queue_and_definition(&self) -> Result<(String, String), ComputeError> {
        let s = &self.aws.settings;
        let missing = |what: &str| {
            ComputeError::invalid(format!(
                "resource `{}` sets no compute.{what}: Batch needs a job queue and a job definition",
                self.aws.resource
            ))
        };
        Ok((
            s.job_queue.clone().ok_or_else(|| missing("job_queue"))?,
            s.job_definition
                .clone()
                .ok_or_else(|| missing("job_definition"))?,
        ))
    }

    /// The description of one job, or `None` when Batch does not know it.
    fn describe(
        &self,
        job_id: &str,
    ) -> Result<Option<aws_sdk_batch::types::JobDetail>, ComputeError> {
        let client = self.aws.batch();
        let id = job_id.to_owned();
        self.aws.block(async move {
            let out =
                client.describe_jobs().jobs(&id).send().await.map_err(|e| {
                    ComputeError::from_sdk(format!("describing Batch job {id}"), &e)
                })?;
            Ok(out.jobs().first().cloned())
        })
    }
}

impl Launcher for Batch {
    fn tier(&self) -> ComputeTier {
        ComputeTier::Batch
    }

    fn submit(&self, spec: &LaunchSpec) -> Result<String, ComputeError> {
        let (queue, definition) = self.queue_and_definition()?;
        let env = [
            (PLAN_ENV_VAR.to_owned(), spec.plan_uri.clone()),
            ("AWS_REGION".to_owned(), self.aws.region()),
        ];
        let vcpu = spec.vcpu.max(0.25);
        let overrides = ContainerOverrides::builder()
            .set_command(Some(spec.command()))
            .set_environment(Some(
                env.into_iter()
                    .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
                    .collect(),
            ))
            .resource_requirements(
                ResourceRequirement::builder()
                    .r#type(ResourceType::Vcpu)
                    .value(format!("{vcpu}"))
                    .build(),
            )
            .resource_requirements(
                ResourceRequirement::builder()
                    .r#type(ResourceType::Memory)
                    .value(spec.memory_mb.to_string())
                    .build(),
            )
            .build();
        let client = self.aws.batch();
        let mut request = client
            .submit_job()
            .job_name(spec.display_name())
            .job_queue(&queue)
            .job_definition(&definition)
            .container_overrides(overrides)
            .propagate_tags(true);
        for (k, v) in spec.tags() {
            request = request.tags(k, v);
        }
        if spec.array_size > 1 {
            request = request.array_properties(
                ArrayProperties::builder()
                    .size(spec.array_size as i32)
                    .build(),
            );
        }
        if let Some(t) = spec.timeout_secs {
            // Batch refuses timeouts under 60 seconds.
            request = request.timeout(
                JobTimeout::builder()
                    .attempt_duration_seconds(t.max(60) as i32)
                    .build(),
            );
        }
        let name = spec.display_name();
        self.aws.block(async move {
            let out = request.send().await.map_err(|e| {
                ComputeError::from_sdk(format!("submitting Batch job {name} to {queue}"), &e)
            })?;
            out.job_id().map(str::to_owned).ok_or_else(|| {
                ComputeError::said(
                    ErrorKind::Transient,
                    format!("Batch returned no job id for {name}"),
                )
            })
        })
    }

    fn find_submitted(&self, spec: &LaunchSpec) -> Result<Option<String>, ComputeError> {
        let (queue, _) = self.queue_and_definition()?;
        let client = self.aws.batch();
        let name = spec.display_name();
        self.aws.block(async move {
            let out = client
                .list_jobs()
                .job_queue(&queue)
                .filters(
                    aws_sdk_batch::types::KeyValuesPair::builder()
                        .name("JOB_NAME")
                        .values(&name)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| {
                    ComputeError::from_sdk(format!("listing Batch jobs named {name}"), &e)
                })?;
            Ok(out
                .job_summary_list()
                .iter()
                .filter_map(|j| j.job_id())
                .find(|id| !id.contains(':'))
                .map(str::to_owned))
        })
    }

    fn status(&self, remote_id: &str) -> Result<RemoteState, ComputeError> {
        let job = self.describe(remote_id)?.ok_or_else(|| {
            // Batch lists a job a moment after `SubmitJob` answers: an unknown job is
            // worth asking about again, not proof that it is gone.
            ComputeError::said(
                ErrorKind::Transient,
                format!("Batch job {remote_id} is not known to Batch"),
            )
        })?;
        let status = job
            .status()
            .map_or_else(|| "UNKNOWN".to_owned(), |s| s.as_str().to_owned());
        let exit_code = job
            .container()
            .and_then(aws_sdk_batch::types::ContainerDetail::exit_code);
        let reason = job
            .status_reason()
            .map(str::to_owned)
            .or_else(|| job.container().and_then(|c| c.reason()).map(str::to_owned));
        let phase = match status.as_str() {
            "SUCCEEDED" => RemotePhase::Succeeded,
            "FAILED" => RemotePhase::Failed,
            "RUNNING" => RemotePhase::Running,
            _ => RemotePhase::Pending,
        };
        Ok(RemoteState {
            phase,
            status,
            exit_code,
            reason,
        })
    }

    fn read_logs(
        &self,
        remote_id: &str,
        child: usize,
        position: Option<&str>,
    ) -> Result<LogRead, ComputeError> {
        let parent = self.describe(remote_id)?;
        let array = parent
            .as_ref()
            .and_then(|j| j.array_properties())
            .and_then(aws_sdk_batch::types::ArrayPropertiesDetail::size)
            .is_some_and(|n| n > 1);
        let id = child_job_id(remote_id, child, array);
        let job = if array { self.describe(&id)? } else { parent };
        let stream = job.as_ref().and_then(|j| {
            j.container()
                .and_then(|c| c.log_stream_name())
                .or_else(|| {
                    j.attempts()
                        .last()
                        .and_then(|a| a.container())
                        .and_then(|c| c.log_stream_name())
                })
                .map(str::to_owned)
        });
        let Some(stream) = stream else {
            // Not started yet: no stream to read.
            return Ok(LogRead {
                lines: Vec::new(),
                position: position.map(str::to_owned),
            });
        };
        logs::read_stream(
            &self.aws,
            self.aws.settings.batch_log_group_or_default(),
            &stream,
            position,
        )
    }

    fn cancel(&self, remote_id: &str, reason: &str) -> Result<(), ComputeError> {
        let client = self.aws.batch();
        let (id, reason) = (remote_id.to_owned(), reason.to_owned());
        self.aws.block(async move {
            client
                .terminate_job()
                .job_id(&id)
                .reason(reason)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ComputeError::from_sdk(format!("terminating Batch job {id}"), &e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_children_have_indexed_ids() {
        assert_eq!(child_job_id("abc", 2, true), "abc:2");
        assert_eq!(child_job_id("abc", 0, false), "abc");
    }
}
