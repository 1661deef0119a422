//! The runner inside AWS Lambda: the runner image doubles as a container-image function, and
//! there it serves the Lambda Runtime API (three HTTP calls — next invocation, response, error —
//! spoken with the reqwest already in the tree rather than a framework crate), running each
//! invocation's [`LambdaEvent`] plan with [`runner::run_plan`]. The launcher side (invoking the
//! function) is [`crate::compute::aws::lambda`].

use std::io::Write;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use super::aws::Aws;
use super::error::{ComputeError, ErrorKind};
use super::protocol::{LambdaEvent, StepResult};
use super::runner;
use crate::model::RunStatus;

/// The environment variable Lambda sets to the Runtime API's `host:port`.
pub const RUNTIME_API_ENV: &str = "AWS_LAMBDA_RUNTIME_API";

/// What a Medallion function returns (the full result is in S3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LambdaResponse {
    pub status: RunStatus,
    pub error: Option<String>,
    pub duration_secs: f64,
    pub events: usize,
}

/// Serves the Lambda Runtime API at `api` (`host:port`) until the environment ends.
pub fn serve_runtime(aws: &Aws, api: &str, out: &mut dyn Write) -> Result<(), ComputeError> {
    let base = format!("http://{api}/2018-06-01/runtime/invocation");
    let http = reqwest::Client::new();
    loop {
        let (request_id, body) = {
            let (http, url) = (http.clone(), format!("{base}/next"));
            aws.block(async move {
                let r = http.get(&url).send().await.map_err(|e| {
                    ComputeError::from_reqwest("reaching the Lambda Runtime API", &e)
                })?;
                let id = r
                    .headers()
                    .get("Lambda-Runtime-Aws-Request-Id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        ComputeError::said(
                            ErrorKind::Transient,
                            "the Lambda Runtime API sent no request id",
                        )
                    })?;
                let body = r
                    .bytes()
                    .await
                    .map_err(|e| ComputeError::from_reqwest("reading the invocation", &e))?;
                Ok::<_, ComputeError>((id, body.to_vec()))
            })?
        };
        let outcome = invoke(aws, &body, out);
        let (url, payload) = match outcome {
            Ok(r) => (
                format!("{base}/{request_id}/response"),
                serde_json::to_vec(&r).unwrap_or_default(),
            ),
            Err(e) => (
                format!("{base}/{request_id}/error"),
                serde_json::to_vec(&serde_json::json!({
                    "errorMessage": e.to_string(), "errorType": "MedallionRunnerError",
                }))
                .unwrap_or_default(),
            ),
        };
        let http = http.clone();
        aws.block(async move {
            http.post(&url)
                .body(payload)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ComputeError::from_reqwest("answering the Lambda Runtime API", &e))
        })?;
    }
}

fn invoke(aws: &Aws, body: &[u8], out: &mut dyn Write) -> Result<LambdaResponse, ComputeError> {
    let event: LambdaEvent = serde_json::from_slice(body).map_err(|e| {
        ComputeError::invalid(format!("the invocation is not a Medallion event: {e}"))
    })?;
    let plan = match (event.plan, event.plan_uri) {
        (Some(p), _) => *p,
        (None, Some(uri)) => runner::load_plan(aws, &uri)?,
        (None, None) => return Err(ComputeError::invalid("the invocation names no plan")),
    }
    .for_run(event.run_id)
    .for_execution_input(event.input.map(|i| i.to_string()).as_deref())?;
    let plan = runner::with_upstream(aws, plan)?;
    let result: StepResult =
        runner::run_plan(aws, &plan, None, None, out, &AtomicBool::new(false))?;
    Ok(LambdaResponse {
        status: result.status,
        error: result.error,
        duration_secs: result.duration_secs,
        events: result.events.len(),
    })
}
