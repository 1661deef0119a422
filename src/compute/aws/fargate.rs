//! ECS Fargate: one task per step. Medallion registers the task definition from the `aws`
//! resource's compute settings (image, roles, awslogs to the log group, cpu/memory of the step),
//! runs it with the runner's command and environment as overrides, on `FARGATE` or `FARGATE_SPOT`,
//! tagged with project, run, step and assets for cost attribution.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, Compatibility,
    ContainerDefinition, ContainerOverride, KeyValuePair, LaunchType, LogConfiguration, LogDriver,
    NetworkConfiguration, NetworkMode, Tag, TaskOverride,
};

use super::{Aws, logs};
use crate::compute::cost;
use crate::compute::error::{ComputeError, ErrorKind};
use crate::compute::launch::{LaunchSpec, Launcher, LogRead, RemotePhase, RemoteState};
use crate::compute::protocol::PLAN_ENV_VAR;
use crate::model::ComputeTier;

/// The container name in Medallion's task definitions.
pub const CONTAINER: &str = "runner";
/// The awslogs stream prefix: streams are `medallion/runner/<task-id>`.
pub const STREAM_PREFIX: &str = "medallion";

/// The smallest valid Fargate task size with at least `vcpu` and `memory_mb`, as ECS takes it:
/// (cpu units of 1/1024 vCPU, memory MiB), from [`cost::fargate_size`] — the one table of
/// Fargate's combinations. `None` when no task is that big.
pub fn task_size(vcpu: f64, memory_mb: u32) -> Option<(u32, u32)> {
    let (cpu, mb) = cost::fargate_size(vcpu, memory_mb)?;
    // Table values (0.25 … 16 vCPU) are exact multiples of 1/1024.
    let units = (cpu * 1024.0).round() as u32;
    Some((units, mb))
}

/// The task id at the end of a task ARN.
pub fn task_id(task_arn: &str) -> &str {
    task_arn.rsplit('/').next().unwrap_or(task_arn)
}

/// The log stream the awslogs driver writes a task's runner output to.
pub fn log_stream(task_arn: &str) -> String {
    format!("{STREAM_PREFIX}/{CONTAINER}/{}", task_id(task_arn))
}

/// `startedBy` for a step (at most 36 characters): finds a task again after a crash.
pub fn started_by(spec: &LaunchSpec) -> String {
    let h = crate::engine::hex(&{
        use sha2::{Digest, Sha256};
        Sha256::digest(format!("{}/{}", spec.run_id, spec.step_id).as_bytes())
    });
    format!("medallion-{}", &h[..24])
}

/// Runs steps as Fargate tasks.
#[derive(Debug, Clone)]
pub struct Fargate {
    pub aws: Aws,
}

impl Fargate {
    fn cluster(&self) -> Result<String, ComputeError> {
        self.aws.settings.cluster.clone().ok_or_else(|| {
            ComputeError::invalid(format!(
                "resource `{}` sets no compute.cluster: Fargate needs an ECS cluster",
                self.aws.resource
            ))
        })
    }

    /// Registers (a new revision of) the step's task definition; returns its ARN.
    fn register(&self, spec: &LaunchSpec) -> Result<String, ComputeError> {
        let s = &self.aws.settings;
        let image = s.image.clone().ok_or_else(|| {
            ComputeError::invalid(format!(
                "resource `{}` sets no compute.image: Fargate needs the runner image (packaging/runner/build-image.sh)",
                self.aws.resource
            ))
        })?;
        let (cpu, memory) = task_size(spec.vcpu, spec.memory_mb).ok_or_else(|| {
            ComputeError::invalid(format!(
                "step {} needs {} vCPU / {} MiB, more than Fargate's largest task ({} vCPU / {} MiB)",
                spec.step_id,
                spec.vcpu,
                spec.memory_mb,
                cost::FARGATE_MAX_VCPU,
                cost::FARGATE_MAX_MEMORY_MB
            ))
        })?;
        let family: String = format!("medallion-{}", spec.project)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(255)
            .collect();
        let logs = LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options("awslogs-group", s.log_group_or_default())
            .options("awslogs-region", self.aws.region())
            .options("awslogs-stream-prefix", STREAM_PREFIX)
            .build()
            .map_err(|e| ComputeError::invalid(format!("bad log configuration: {e}")))?;
        let container = ContainerDefinition::builder()
            .name(CONTAINER)
            .image(image)
            .essential(true)
            .memory(memory as i32)
            .log_configuration(logs)
            .build();
        let client = self.aws.ecs();
        let (task_role, exec_role) = (s.task_role_arn.clone(), s.execution_role_arn.clone());
        self.aws.block(async move {
            let out = client
                .register_task_definition()
                .family(&family)
                .network_mode(NetworkMode::Awsvpc)
                .requires_compatibilities(Compatibility::Fargate)
                .cpu(cpu.to_string())
                .memory(memory.to_string())
                .set_task_role_arn(task_role)
                .set_execution_role_arn(exec_role)
                .container_definitions(container)
                .send()
                .await
                .map_err(|e| {
                    ComputeError::from_sdk(format!("registering task definition {family}"), &e)
                })?;
            out.task_definition()
                .and_then(|t| t.task_definition_arn())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ComputeError::said(
                        ErrorKind::Transient,
                        format!("registering task definition {family} returned no ARN"),
                    )
                })
        })
    }
}

impl Fargate {
    /// The task's network: the resource's subnets and security groups, with or without a
    /// public IP.
    fn network(&self) -> Result<NetworkConfiguration, ComputeError> {
        let s = &self.aws.settings;
        Ok(NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .set_subnets(Some(s.subnets.clone()))
                    .set_security_groups(Some(s.security_groups.clone()))
                    .assign_public_ip(if s.assign_public_ip {
                        AssignPublicIp::Enabled
                    } else {
                        AssignPublicIp::Disabled
                    })
                    .build()
                    .map_err(|e| {
                        ComputeError::invalid(format!("bad network configuration: {e}"))
                    })?,
            )
            .build())
    }

    /// The runner container's command and environment (the plan's URI, the region).
    fn overrides(&self, spec: &LaunchSpec) -> TaskOverride {
        let env = [
            (PLAN_ENV_VAR.to_owned(), spec.plan_uri.clone()),
            ("AWS_REGION".to_owned(), self.aws.region()),
        ];
        TaskOverride::builder()
            .container_overrides(
                ContainerOverride::builder()
                    .name(CONTAINER)
                    .set_command(Some(spec.command()))
                    .set_environment(Some(
                        env.into_iter()
                            .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
                            .collect(),
                    ))
                    .build(),
            )
            .build()
    }
}

impl Launcher for Fargate {
    fn tier(&self) -> ComputeTier {
        ComputeTier::Fargate
    }

    fn submit(&self, spec: &LaunchSpec) -> Result<String, ComputeError> {
        let cluster = self.cluster()?;
        let s = &self.aws.settings;
        if s.subnets.is_empty() {
            return Err(ComputeError::invalid(format!(
                "resource `{}` sets no compute.subnets: Fargate tasks need at least one subnet",
                self.aws.resource
            )));
        }
        let task_definition = self.register(spec)?;
        let network = self.network()?;
        let overrides = self.overrides(spec);
        let tags: Vec<Tag> = spec
            .tags()
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let client = self.aws.ecs();
        let mut request = client
            .run_task()
            .cluster(&cluster)
            .task_definition(&task_definition)
            .count(1)
            .network_configuration(network)
            .overrides(overrides)
            .set_tags(Some(tags))
            .started_by(started_by(spec));
        request = if spec.spot {
            request.capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE_SPOT")
                    .weight(1)
                    .build()
                    .map_err(|e| {
                        ComputeError::invalid(format!("bad capacity provider strategy: {e}"))
                    })?,
            )
        } else {
            request.launch_type(LaunchType::Fargate)
        };
        let name = spec.display_name();
        self.aws.block(async move {
            let out = request.send().await.map_err(|e| {
                ComputeError::from_sdk(format!("starting Fargate task for {name}"), &e)
            })?;
            if let Some(task) = out.tasks().first().and_then(|t| t.task_arn()) {
                return Ok(task.to_owned());
            }
            let reasons: Vec<String> = out
                .failures()
                .iter()
                .map(|f| {
                    format!(
                        "{} ({})",
                        f.reason().unwrap_or("unknown reason"),
                        f.detail().or(f.arn()).unwrap_or_default()
                    )
                })
                .collect();
            // ECS answered but placed nothing (no capacity, a resource it could not find):
            // a refusal of this request, not a failure of the call.
            Err(ComputeError::invalid(format!(
                "ECS did not start a task for {name} on cluster {cluster}: {}",
                if reasons.is_empty() {
                    "no reason given".to_owned()
                } else {
                    reasons.join("; ")
                }
            )))
        })
    }

    fn find_submitted(&self, spec: &LaunchSpec) -> Result<Option<String>, ComputeError> {
        let cluster = self.cluster()?;
        let client = self.aws.ecs();
        let by = started_by(spec);
        self.aws.block(async move {
            for desired in [
                aws_sdk_ecs::types::DesiredStatus::Running,
                aws_sdk_ecs::types::DesiredStatus::Stopped,
            ] {
                let out = client
                    .list_tasks()
                    .cluster(&cluster)
                    .started_by(&by)
                    .desired_status(desired)
                    .send()
                    .await
                    .map_err(|e| ComputeError::from_sdk("listing Fargate tasks", &e))?;
                if let Some(arn) = out.task_arns().first() {
                    return Ok(Some(arn.clone()));
                }
            }
            Ok(None)
        })
    }

    fn status(&self, remote_id: &str) -> Result<RemoteState, ComputeError> {
        let cluster = self.cluster()?;
        let client = self.aws.ecs();
        let arn = remote_id.to_owned();
        self.aws.block(async move {
            let out = client
                .describe_tasks()
                .cluster(&cluster)
                .tasks(&arn)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk(format!("describing task {arn}"), &e))?;
            let Some(task) = out.tasks().first() else {
                // ECS answers a task it does not know with a failure `MISSING`.
                let why = out
                    .failures()
                    .first()
                    .and_then(|f| f.reason())
                    .unwrap_or("not found");
                let kind = if why.eq_ignore_ascii_case("missing") || why == "not found" {
                    ErrorKind::NotFound
                } else {
                    ErrorKind::Other
                };
                return Err(ComputeError::said(
                    kind,
                    format!("task {arn} on cluster {cluster}: {why}"),
                ));
            };
            let status = task.last_status().unwrap_or("UNKNOWN").to_owned();
            let exit_code = task
                .containers()
                .iter()
                .find(|c| c.name() == Some(CONTAINER))
                .or_else(|| task.containers().first())
                .and_then(aws_sdk_ecs::types::Container::exit_code);
            let reason = task
                .stopped_reason()
                .map(str::to_owned)
                .or_else(|| task.stop_code().map(|c| c.as_str().to_owned()));
            let phase = match status.as_str() {
                "PROVISIONING" | "PENDING" | "ACTIVATING" => RemotePhase::Pending,
                "STOPPED" | "DELETED" => match exit_code {
                    Some(0) => RemotePhase::Succeeded,
                    Some(_) => RemotePhase::Failed,
                    None => RemotePhase::Stopped,
                },
                _ => RemotePhase::Running,
            };
            Ok(RemoteState {
                phase,
                status,
                exit_code,
                reason,
            })
        })
    }

    fn read_logs(
        &self,
        remote_id: &str,
        _child: usize,
        position: Option<&str>,
    ) -> Result<LogRead, ComputeError> {
        logs::read_stream(
            &self.aws,
            self.aws.settings.log_group_or_default(),
            &log_stream(remote_id),
            position,
        )
    }

    fn cancel(&self, remote_id: &str, reason: &str) -> Result<(), ComputeError> {
        let cluster = self.cluster()?;
        let client = self.aws.ecs();
        let (arn, reason) = (remote_id.to_owned(), reason.to_owned());
        self.aws.block(async move {
            client
                .stop_task()
                .cluster(&cluster)
                .task(&arn)
                .reason(reason)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ComputeError::from_sdk(format!("stopping task {arn}"), &e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_to_valid_fargate_combinations() {
        // AWS's table of task sizes:
        // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
        assert_eq!(task_size(0.25, 512), Some((256, 512)));
        assert_eq!(task_size(1.0, 4096), Some((1024, 4096)));
        assert_eq!(task_size(1.0, 1000), Some((1024, 2048)));
        assert_eq!(task_size(2.0, 8192), Some((2048, 8192)));
        // Too much memory for the CPU asked: the CPU grows.
        assert_eq!(task_size(0.5, 9000), Some((2048, 9216)));
        // 8 vCPU takes 16–60 GB in 4-GB steps, 16 vCPU 32–120 GB in 8-GB steps.
        assert_eq!(task_size(8.0, 17 * 1024), Some((8192, 20 * 1024)));
        assert_eq!(task_size(8.0, 30 * 1024), Some((8192, 32 * 1024)));
        assert_eq!(task_size(16.0, 33 * 1024), Some((16384, 40 * 1024)));
        assert_eq!(task_size(16.0, 120 * 1024), Some((16384, 120 * 1024)));
        // Nothing is bigger than 16 vCPU / 120 GB: no size rather than a rejected one.
        assert_eq!(task_size(64.0, 1), None);
        assert_eq!(task_size(1.0, 121 * 1024), None);
    }

    #[test]
    fn streams_follow_the_awslogs_naming() {
        let arn = "arn:aws:ecs:us-east-1:123:task/cluster/abc123";
        assert_eq!(task_id(arn), "abc123");
        assert_eq!(log_stream(arn), "medallion/runner/abc123");
    }
}
