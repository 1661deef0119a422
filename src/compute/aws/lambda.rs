//! AWS Lambda: the runner image doubles as a container-image function (inside it, the runner
//! serves the Lambda Runtime API: `compute::lambda_runtime`), the step plan arriving
//! in the invoke payload ([`LambdaEvent`]: inline when small, else its S3 URI).
//!
//! Short steps (timeout up to [`SYNC_MAX_SECS`]) are invoked synchronously; longer ones
//! asynchronously, and the driver polls for the step's result object. Live logs come from the
//! function's log group (`/aws/lambda/<function>`): its streams are per execution environment,
//! not per invocation, so the step's lines are found with `FilterLogEvents` on the run id and
//! kept when they name the step; the position is the newest timestamp read (lines read twice at
//! that millisecond are dropped by their `seq`). A Lambda invocation cannot be stopped from
//! outside: cancel records the step canceled and the function runs on to its end (its outputs
//! are then ignored).

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata as _;
use aws_sdk_lambda::operation::RequestId as _;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::Aws;
use crate::compute::error::ComputeError;
use crate::compute::launch::{LaunchSpec, Launcher, LogRead, RemotePhase, RemoteState};
use crate::compute::protocol::LambdaEvent;
use crate::model::ComputeTier;

/// Steps with a timeout up to this many seconds are invoked synchronously.
pub const SYNC_MAX_SECS: u32 = 60;
/// Plans up to this size travel inline (the asynchronous payload limit is 256 KB).
const INLINE_PLAN_BYTES: usize = 200 * 1024;
/// Lambda's own limit on a function's run time.
const MAX_TIMEOUT_SECS: u32 = 900;

/// Runs steps as Lambda invocations.
#[derive(Debug, Clone)]
pub struct Lambda {
    pub aws: Aws,
}

impl Lambda {
    fn function(&self) -> Result<String, ComputeError> {
        self.aws.settings.lambda_function.clone().ok_or_else(|| {
            ComputeError::invalid(format!(
                "resource `{}` sets no compute.lambda_function: Lambda steps need the runner function",
                self.aws.resource
            ))
        })
    }
}

impl Launcher for Lambda {
    fn tier(&self) -> ComputeTier {
        ComputeTier::Lambda
    }

    /// The identifier is `sync:<request id>:ok` (or `:error:<kind>`) for a synchronous
    /// invocation (it has ended when this returns) and `async:<request id>:<deadline, unix
    /// seconds>` else, followed by `|<run id>|<step id>` (what its log lines are found by).
    fn submit(&self, spec: &LaunchSpec) -> Result<String, ComputeError> {
        let function = self.function()?;
        let plan = self.aws.get(&spec.plan_uri)?;
        let event = match plan.filter(|p| p.len() <= INLINE_PLAN_BYTES) {
            Some(bytes) => LambdaEvent {
                plan: Some(Box::new(serde_json::from_slice(&bytes).map_err(|e| {
                    ComputeError::invalid(format!("the plan {} is malformed: {e}", spec.plan_uri))
                })?)),
                plan_uri: None,
                run_id: None,
                input: None,
            },
            None => LambdaEvent {
                plan: None,
                plan_uri: Some(spec.plan_uri.clone()),
                run_id: None,
                input: None,
            },
        };
        let payload = serde_json::to_vec(&event)
            .map_err(|e| ComputeError::invalid(format!("cannot encode the event: {e}")))?;
        let timeout = spec
            .timeout_secs
            .unwrap_or(MAX_TIMEOUT_SECS)
            .min(MAX_TIMEOUT_SECS);
        let sync = timeout <= SYNC_MAX_SECS;
        let client = self.aws.lambda();
        let name = spec.display_name();
        let (run_id, step_id) = (spec.run_id.clone(), spec.step_id.clone());
        self.aws.block(async move {
            let out = client
                .invoke()
                .function_name(&function)
                .invocation_type(if sync {
                    InvocationType::RequestResponse
                } else {
                    InvocationType::Event
                })
                .payload(Blob::new(payload))
                .send()
                .await
                .map_err(|e| {
                    ComputeError::from_sdk(format!("invoking {function} for {name}"), &e)
                })?;
            let request = out.request_id().unwrap_or("unknown").to_owned();
            let id = if sync {
                match out.function_error() {
                    Some(kind) => format!("sync:{request}:error:{kind}"),
                    None => format!("sync:{request}:ok"),
                }
            } else {
                let deadline = chrono::Utc::now().timestamp() + i64::from(timeout) + 60;
                format!("async:{request}:{deadline}")
            };
            Ok(format!("{id}|{run_id}|{step_id}"))
        })
    }

    fn status(&self, remote_id: &str) -> Result<RemoteState, ComputeError> {
        let invocation = remote_id.split('|').next().unwrap_or_default();
        let parts: Vec<&str> = invocation.splitn(3, ':').collect();
        let (phase, status, reason) = match parts.as_slice() {
            ["sync", _, "ok"] => (RemotePhase::Succeeded, "RETURNED", None),
            ["sync", _, error] => (
                RemotePhase::Failed,
                "FUNCTION_ERROR",
                Some(error.trim_start_matches("error:").to_owned()),
            ),
            ["async", _, deadline] => {
                let deadline: i64 = deadline.parse().unwrap_or(i64::MAX);
                if chrono::Utc::now().timestamp() > deadline {
                    (
                        RemotePhase::Failed,
                        "TIMED_OUT",
                        Some("no result within the function's timeout".to_owned()),
                    )
                } else {
                    (RemotePhase::Running, "INVOKED", None)
                }
            }
            _ => {
                return Err(ComputeError::invalid(format!(
                    "`{remote_id}` is not a Medallion Lambda invocation"
                )));
            }
        };
        Ok(RemoteState {
            phase,
            status: status.to_owned(),
            exit_code: None,
            reason,
        })
    }

    fn read_logs(
        &self,
        remote_id: &str,
        _child: usize,
        position: Option<&str>,
    ) -> Result<LogRead, ComputeError> {
        let mut parts = remote_id.split('|').skip(1);
        let (Some(run_id), Some(step_id)) = (parts.next(), parts.next()) else {
            return Ok(LogRead {
                lines: Vec::new(),
                position: position.map(str::to_owned),
            });
        };
        let group = self
            .aws
            .settings
            .lambda_log_group
            .clone()
            .unwrap_or_else(|| format!("/aws/lambda/{}", self.function().unwrap_or_default()));
        let client = self.aws.logs();
        let start: Option<i64> = position.and_then(|p| p.parse().ok());
        let pattern = format!("\"{run_id}\"");
        let step_marker = format!("\"step_id\":\"{step_id}\"");
        self.aws.block(async move {
            let mut lines = Vec::new();
            let mut newest = start;
            let mut token: Option<String> = None;
            for _ in 0..20 {
                let page = client
                    .filter_log_events()
                    .log_group_name(&group)
                    .filter_pattern(&pattern)
                    .set_start_time(start)
                    .set_next_token(token.take())
                    .send()
                    .await;
                let page = match page {
                    Ok(p) => p,
                    // The function has not logged yet: its group may not exist.
                    Err(e) if e.code() == Some("ResourceNotFoundException") => break,
                    Err(e) => {
                        return Err(ComputeError::from_sdk(
                            format!("reading log group {group}"),
                            &e,
                        ));
                    }
                };
                for event in page.events() {
                    let Some(m) = event.message() else { continue };
                    if m.contains(&step_marker) {
                        lines.push(m.trim_end().to_owned());
                    }
                    newest = newest.max(event.timestamp());
                }
                match page.next_token() {
                    Some(t) if !page.events().is_empty() => token = Some(t.to_owned()),
                    _ => break,
                }
            }
            Ok(LogRead {
                lines,
                position: newest.map(|t| t.to_string()),
            })
        })
    }

    fn cancel(&self, _remote_id: &str, _reason: &str) -> Result<(), ComputeError> {
        // Lambda has no API to stop an invocation in flight.
        Ok(())
    }
}
