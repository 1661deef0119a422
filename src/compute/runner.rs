//! The runner: what `medallion runner --plan URI` does inside a container (Fargate, Batch, EKS)
//! or a Lambda function. It reads a [`StepPlan`], runs its assets with the same engine as local
//! runs — upstream materializations read from S3, new ones written to S3 — prints every run
//! event as a [`RunnerLine`] on stdout (flushed per line, so the log driver ships it at once;
//! masked first as the project's policies say, since it lands in the account's `CloudWatch` Logs)
//! and finally writes a [`StepResult`] to the plan's result URI.
//!
//! Sources: file sources never reach a runner as local paths — `submit` uploads a project's
//! input files to `s3://bucket/prefix/_inputs/<run>/…` and rewrites them into S3 sources of a
//! generated resource (see `app::remote`). Secrets inside the runner come from environment
//! references only; the keyring stays on the desktop, and AWS access comes from the task role.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::aws::Aws;
use super::connect::SecretSource;
use super::error::{ComputeError, ErrorKind};
use super::protocol::{
    PROTOCOL_VERSION, RUN_ID_ENV_VAR, RunnerLine, StepPlan, StepResult, index_from_env,
};
use super::s3io::S3Blobs;
use super::sources::ResourceFetcher;
use crate::engine::{self, RunPlan, staged::StagedIo};
use crate::model::{RunEvent, RunStatus, SecretRef};

/// Secrets inside a runner: environment variables only.
struct EnvSecrets;

impl SecretSource for EnvSecrets {
    fn secret(&self, reference: &SecretRef) -> Result<String, ComputeError> {
        match reference {
            SecretRef::Env(var) => std::env::var(var).map_err(|_| {
                ComputeError::said(
                    ErrorKind::NoCredentials,
                    format!("environment variable `{var}` is not set in the runner"),
                )
            }),
            SecretRef::Keyring(name) => Err(ComputeError::said(
                ErrorKind::NoCredentials,
                format!(
                    "keyring entry `{name}` is not available inside a remote runner; pass it as an {{ env = \"VAR\" }} reference set on the task, or use the task role"
                ),
            )),
        }
    }
}

/// Reads a plan from `s3://…` or a local file.
pub fn load_plan(aws: &Aws, uri: &str) -> Result<StepPlan, ComputeError> {
    let bytes = if uri.starts_with("s3://") {
        aws.get(uri)?
            .ok_or_else(|| ComputeError::not_found(format!("the run plan {uri} does not exist")))?
    } else {
        std::fs::read(uri)
            .map_err(|e| ComputeError::io(format!("cannot read the run plan {uri}: {e}")))?
    };
    parse_plan(&bytes, uri)
}

/// Parses a plan, refusing one from a newer protocol.
pub fn parse_plan(bytes: &[u8], from: &str) -> Result<StepPlan, ComputeError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ComputeError::invalid(format!("the run plan {from} is not JSON: {e}")))?;
    let version = value
        .get("version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_default();
    if version > u64::from(PROTOCOL_VERSION) {
        return Err(ComputeError::invalid(format!(
            "the run plan {from} uses protocol version {version}; this runner reads up to {PROTOCOL_VERSION} — update the runner image"
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| ComputeError::invalid(format!("the run plan {from} is malformed: {e}")))
}

/// Runs a plan (the child at `index` of an array step), writing protocol lines to `out`, and
/// stores the result. Returns the result. `project_dir` is where file sources are read from:
/// `None` inside a runner (its file sources were rewritten to S3), the project's directory for
/// a local step of a remote run.
pub fn run_plan(
    aws: &Aws,
    plan: &StepPlan,
    index: Option<usize>,
    project_dir: Option<&std::path::Path>,
    out: &mut dyn Write,
    cancel: &AtomicBool,
) -> Result<StepResult, ComputeError> {
    let started = Instant::now();
    let partition = plan.partition_for(index)?;
    // The process id too: two runners of the same run, step and index on one machine (two
    // deployed projects' executions of the same name, tests side by side) must not share, and
    // at the end remove, each other's staging directory.
    let work = std::env::temp_dir().join(format!(
        "medallion-runner-{}-{}-{}-{}",
        sanitize(&plan.run_id),
        sanitize(&plan.step_id),
        index.unwrap_or(0),
        std::process::id()
    ));
    let blobs = S3Blobs {
        aws: aws.clone(),
        store: plan.store.clone(),
    };
    let io = StagedIo {
        blobs: &blobs,
        cache_dir: work.clone(),
    };
    let run_plan = engine_plan(plan, partition.clone(), project_dir, &work);
    let fetcher = ResourceFetcher::new(Arc::new(EnvSecrets), aws.runtime().clone());
    let mut events = Vec::new();
    let mut seq = 0u64;
    // Masked before it is printed: this process's stdout goes to CloudWatch Logs.
    let masking = run_plan.masking.clone();
    let mut emit = |event: RunEvent| {
        let event = masking.mask_event(event);
        let line = RunnerLine {
            medallion: PROTOCOL_VERSION,
            run_id: plan.run_id.clone(),
            step_id: plan.step_id.clone(),
            partition: partition.clone(),
            seq,
            event,
        };
        seq += 1;
        // A closed stdout must not stop the run: the result object still gets written.
        let _ = writeln!(out, "{}", line.to_line());
        let _ = out.flush();
        events.push(line.event);
    };
    let status = engine::execute_io(
        &run_plan,
        &io,
        &fetcher,
        &mut emit,
        cancel,
        engine::default_parallelism(),
    );
    let error = events.iter().rev().find_map(|e| match e {
        RunEvent::RunFinished { error, .. } => error.clone(),
        _ => None,
    });
    let result = StepResult {
        version: PROTOCOL_VERSION,
        run_id: plan.run_id.clone(),
        step_id: plan.step_id.clone(),
        partition,
        status,
        error,
        events,
        duration_secs: started.elapsed().as_secs_f64(),
    };
    let _ = std::fs::remove_dir_all(&work);
    store_result(aws, &plan.result_uri_for(index), &result)?;
    Ok(result)
}

/// The engine's plan for one step (one partition of it), working in `work`.
fn engine_plan(
    plan: &StepPlan,
    partition: Option<String>,
    project_dir: Option<&std::path::Path>,
    work: &std::path::Path,
) -> RunPlan {
    RunPlan {
        run_id: plan.run_id.clone(),
        project: plan.project.clone(),
        project_dir: project_dir.map_or_else(|| work.join("project"), std::path::Path::to_path_buf),
        store_dir: work.to_path_buf(),
        steps: plan.assets.clone(),
        partition,
        force: plan.force,
        previous: plan.previous.clone(),
        previous_checks: plan.previous_checks.clone(),
        allow_failed_upstream: false,
        checks_only: false,
        masking: crate::engine::mask::Masking {
            plan: plan.masks.clone(),
            key: None,
        },
    }
}

/// Writes a step's result where the driver reads it: an S3 object or a local file.
fn store_result(aws: &Aws, uri: &str, result: &StepResult) -> Result<(), ComputeError> {
    let body = serde_json::to_vec(result)
        .map_err(|e| ComputeError::invalid(format!("cannot encode the result: {e}")))?;
    if uri.starts_with("s3://") {
        aws.put(uri, body)?;
    } else {
        std::fs::write(uri, body)
            .map_err(|e| ComputeError::io(format!("cannot write the result {uri}: {e}")))?;
    }
    Ok(())
}

/// `medallion runner --plan URI`: loads the plan, runs the array child named by the
/// environment, and returns whether the step succeeded.
/// `runtime` is the process's (built by the caller, the runner's edge).
pub fn run_from_uri(
    runtime: &tokio::runtime::Handle,
    uri: &str,
    out: &mut dyn Write,
) -> Result<RunStatus, ComputeError> {
    // First, so a SIGTERM while the plan loads cancels instead of killing.
    let cancel = Arc::new(AtomicBool::new(false));
    stop_on_sigterm(runtime, &cancel);
    let aws = Aws::from_environment(runtime.clone());
    let run = std::env::var(RUN_ID_ENV_VAR)
        .ok()
        .map(crate::model::RunId::new);
    let input = std::env::var(super::protocol::EXECUTION_INPUT_ENV_VAR).ok();
    let plan = load_plan(&aws, uri)?
        .for_run(run)
        .for_execution_input(input.as_deref())?;
    let plan = with_upstream(&aws, plan)?;
    let index = index_from_env(|k| std::env::var(k).ok())?;
    let result = run_plan(&aws, &plan, index, None, out, &cancel)?;
    Ok(result.status)
}

/// A deployed step's plan completed with what the steps before it made in this execution:
/// their results (`upstream_results`) read, their materializations and check evaluations added
/// to `previous`. A plan without upstream results is returned as it is.
///
/// # Errors
/// An upstream result that is missing or unreadable (the step before did not finish).
pub fn with_upstream(aws: &Aws, plan: StepPlan) -> Result<StepPlan, ComputeError> {
    if plan.upstream_results.is_empty() {
        return Ok(plan);
    }
    let mut results = Vec::with_capacity(plan.upstream_results.len());
    for uri in &plan.upstream_results {
        let bytes = aws.get(uri)?.ok_or_else(|| {
            ComputeError::not_found(format!(
                "the result of an earlier step, {uri}, does not exist: that step did not finish"
            ))
        })?;
        let result: StepResult = serde_json::from_slice(&bytes).map_err(|e| {
            ComputeError::invalid(format!("the earlier step's result {uri} is malformed: {e}"))
        })?;
        results.push(result);
    }
    Ok(merge_upstream(plan, &results, chrono::Utc::now()))
}

/// `plan` with the materializations and check evaluations of `results` in `previous` (a later
/// one of the same asset and partition replaces an earlier one).
pub fn merge_upstream(
    mut plan: StepPlan,
    results: &[StepResult],
    now: chrono::DateTime<chrono::Utc>,
) -> StepPlan {
    for r in results {
        for e in &r.events {
            match e {
                RunEvent::Materialization(m) => {
                    plan.previous
                        .retain(|p| (&p.asset, &p.partition) != (&m.asset, &m.partition));
                    plan.previous.push(m.clone());
                }
                RunEvent::CheckEvaluation(c) => {
                    plan.previous_checks.push(crate::model::CheckRecord {
                        run_id: r.run_id.clone(),
                        created_at: now,
                        result: c.clone(),
                    });
                }
                _ => {}
            }
        }
    }
    plan
}

/// ECS `StopTask`, `TerminateJob` and Kubernetes send SIGTERM before they kill: the run then
/// stops between steps and still writes a canceled result. The handler is in place when this
/// returns, so a SIGTERM that comes right away is not missed (it would kill the process); it
/// waits as a task of the process's runtime.
fn stop_on_sigterm(runtime: &tokio::runtime::Handle, cancel: &Arc<AtomicBool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = {
            let _entered = runtime.enter();
            signal(SignalKind::terminate())
        };
        let Ok(mut term) = term else { return };
        let cancel = Arc::clone(cancel);
        drop(runtime.spawn(async move {
            if term.recv().await.is_some() {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    #[cfg(not(unix))]
    let _ = (runtime, cancel);
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(all(test, unix))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    /// What ECS, Batch and Kubernetes do before they kill a task: SIGTERM. The runner must take
    /// it as a cancel (the run stops between steps and writes its result), not die. Without the
    /// handler this test's process would be killed.
    #[test]
    fn sigterm_cancels_the_run_instead_of_killing_the_runner() {
        let cancel = Arc::new(AtomicBool::new(false));
        super::stop_on_sigterm(&crate::compute::connect::test_runtime(), &cancel);
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let start = Instant::now();
        while !cancel.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            cancel.load(Ordering::Relaxed),
            "SIGTERM did not cancel the run"
        );
    }
}
