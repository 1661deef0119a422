//! The executions of a deployed project's state machine, as Step Functions reports them
//! (`ListExecutions`, `DescribeExecution`, `GetExecutionHistory`): what `medallion sync`
//! imports into run history.

use chrono::{DateTime, Utc};

use crate::compute::aws::Aws;
use crate::compute::error::ComputeError;

/// How an execution ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    /// A status this build does not know (a newer service): never taken as success.
    Other,
}

impl ExecutionStatus {
    fn from_sfn(s: &aws_sdk_sfn::types::ExecutionStatus) -> Self {
        use aws_sdk_sfn::types::ExecutionStatus as S;
        match s {
            S::Running | S::PendingRedrive => ExecutionStatus::Running,
            S::Succeeded => ExecutionStatus::Succeeded,
            S::Failed => ExecutionStatus::Failed,
            S::TimedOut => ExecutionStatus::TimedOut,
            S::Aborted => ExecutionStatus::Aborted,
            _ => ExecutionStatus::Other,
        }
    }
}

/// A state the execution entered, with when it entered and left it.
#[derive(Debug, Clone, PartialEq)]
pub struct StateSpan {
    pub name: String,
    pub entered: DateTime<Utc>,
    pub exited: Option<DateTime<Utc>>,
}

/// One execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The execution's name: the run id its runners used (`MEDALLION_RUN_ID`).
    pub name: String,
    pub arn: String,
    pub status: ExecutionStatus,
    pub started: DateTime<Utc>,
    pub stopped: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// What started it (`schedule:<name>`, `sensor:<name>`), from its input.
    pub trigger: Option<String>,
    /// The states it entered, in order (empty until [`history`] is read).
    pub states: Vec<StateSpan>,
}

fn time(t: &aws_sdk_sfn::primitives::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.to_millis().unwrap_or_default()).unwrap_or_default()
}

/// The state machine named `name`, if it exists.
///
/// # Errors
/// A failed AWS call.
pub fn state_machine_arn(aws: &Aws, name: &str) -> Result<Option<String>, ComputeError> {
    let sfn = aws.sfn();
    let name = name.to_owned();
    aws.block(async move {
        let mut token = None;
        loop {
            let page = sfn
                .list_state_machines()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk("listing Step Functions state machines", &e))?;
            if let Some(m) = page.state_machines().iter().find(|m| m.name() == name) {
                return Ok(Some(m.state_machine_arn().to_owned()));
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(None);
            }
        }
    })
}

/// The executions of the state machine that started at or after `since` (every one without
/// it), oldest first, as listed (name, status, times); [`describe`] adds the cause and
/// trigger, [`history`] the states. Step Functions lists the most recent first, so listing
/// stops at the first page reaching before `since`.
///
/// # Errors
/// A failed AWS call, as one sentence.
pub fn executions(
    aws: &Aws,
    machine_arn: &str,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<Execution>, ComputeError> {
    let sfn = aws.sfn();
    let machine = machine_arn.to_owned();
    aws.block(async move {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = sfn
                .list_executions()
                .state_machine_arn(&machine)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| {
                    ComputeError::from_sdk(format!("listing the executions of {machine}"), &e)
                })?;
            out.extend(page.executions().iter().map(|e| Execution {
                name: e.name().to_owned(),
                arn: e.execution_arn().to_owned(),
                status: ExecutionStatus::from_sfn(e.status()),
                started: time(e.start_date()),
                stopped: e.stop_date().map(time),
                error: None,
                cause: None,
                trigger: None,
                states: Vec::new(),
            }));
            token = page.next_token().map(str::to_owned);
            let reached = since.is_some_and(|t| out.iter().any(|e| e.started < t));
            if token.is_none() || reached {
                break;
            }
        }
        if let Some(t) = since {
            out.retain(|e| e.started >= t);
        }
        out.sort_by(|a, b| a.started.cmp(&b.started).then(a.name.cmp(&b.name)));
        Ok(out)
    })
}

/// An execution with its error, cause and trigger (`DescribeExecution`).
///
/// # Errors
/// A failed AWS call.
pub fn describe(aws: &Aws, mut e: Execution) -> Result<Execution, ComputeError> {
    let sfn = aws.sfn();
    let arn = e.arn.clone();
    let d = aws.block(async move {
        sfn.describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .map_err(|err| ComputeError::from_sdk(format!("describing execution {arn}"), &err))
    })?;
    e.trigger = d
        .input()
        .and_then(|i| serde_json::from_str::<serde_json::Value>(i).ok())
        .and_then(|v| v.get("trigger").and_then(|t| t.as_str()).map(str::to_owned));
    e.status = ExecutionStatus::from_sfn(d.status());
    e.stopped = d.stop_date().map(time);
    e.error = d.error().map(str::to_owned);
    e.cause = d.cause().map(str::to_owned);
    Ok(e)
}

/// The states an execution entered, with their times (`GetExecutionHistory`).
///
/// # Errors
/// A failed AWS call.
pub fn history(aws: &Aws, execution_arn: &str) -> Result<Vec<StateSpan>, ComputeError> {
    let sfn = aws.sfn();
    let arn = execution_arn.to_owned();
    aws.block(async move {
        let mut spans: Vec<StateSpan> = Vec::new();
        let mut token = None;
        loop {
            let page = sfn
                .get_execution_history()
                .execution_arn(&arn)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk(format!("reading the history of {arn}"), &e))?;
            for e in page.events() {
                let at = time(e.timestamp());
                if let Some(s) = e.state_entered_event_details() {
                    spans.push(StateSpan {
                        name: s.name().to_owned(),
                        entered: at,
                        exited: None,
                    });
                } else if let Some(s) = e.state_exited_event_details()
                    && let Some(span) = spans
                        .iter_mut()
                        .rev()
                        .find(|x| x.name == s.name() && x.exited.is_none())
                {
                    span.exited = Some(at);
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(spans);
            }
        }
    })
}
