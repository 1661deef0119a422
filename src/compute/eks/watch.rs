//! Submitting, following, canceling and finding a step's Job.
//!
//! [`follow`] lists the Job's pods (`labelSelector=job-name=…`), then watches them from the
//! list's `resourceVersion` with bookmarks. A watch that ends (the server's timeout, a dropped
//! connection) is resumed from the last resourceVersion seen; a `410 Gone` (that version is too
//! old) relists. Each pod whose container has started gets a log follower ([`super::logs`]);
//! runner lines become run events ([`crate::compute::protocol::parse_line`]), deduplicated by
//! their `seq`, other lines become log lines. Pod failures become one sentence each.
//!
//! A [`ResumePoint`] (lines read per pod, next `seq` per completion index) lets a restarted app
//! reattach ([`find_jobs`]) and carry on without repeating or losing events.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, ResourceExt};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::api_error;
use super::connection::EksConnection;
use super::cost::{PodRequest, PodSpan, parse_cpu, parse_memory_mb};
use super::job::{
    ANNOTATION_PARTITIONS, ANNOTATION_RUN_ID, ANNOTATION_STEP_ID, CONTAINER, run_selector,
};
use super::logs::{LogMsg, follow_pod_log};
use crate::compute::error::ComputeError;
use crate::compute::protocol::{ParsedLine, parse_line};
use crate::model::{LogLevel, RunEvent, RunStatus};

/// How long one watch request may stay open (the server closes it then; we resume).
pub const WATCH_TIMEOUT_SECS: u32 = 290;
/// The annotation (and label) the Job controller puts on an Indexed Job's pods.
pub const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";

/// Waiting reasons that never resolve by themselves.
const FATAL_WAITING: [&str; 6] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// A submitted step's Job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRef {
    pub namespace: String,
    pub name: String,
    pub run_id: String,
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
            run_id: annotations.get(ANNOTATION_RUN_ID)?.clone(),
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

/// Where a follower has got to; store it to reattach later.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResumePoint {
    /// Log lines read, by pod name.
    pub lines: BTreeMap<String, u64>,
    /// The next runner event `seq` expected, by completion index.
    pub next_seq: BTreeMap<usize, u64>,
}

/// A run event from one pod.
#[derive(Debug, Clone, PartialEq)]
pub struct PodEvent {
    pub index: usize,
    pub partition: Option<String>,
    pub pod: String,
    /// The runner's `seq` for protocol events; `None` for plain log lines and pod messages.
    pub seq: Option<u64>,
    /// The line of the pod's log this event came from (from 1); 0 for messages about the pod.
    pub line: u64,
    pub event: RunEvent,
}

impl ResumePoint {
    /// Moves past an event the caller has kept (call it for every event persisted, so a
    /// reattach continues after it).
    pub fn advance(&mut self, event: &PodEvent) {
        if event.line > 0 {
            let lines = self.lines.entry(event.pod.clone()).or_insert(0);
            *lines = (*lines).max(event.line);
        }
        if let Some(seq) = event.seq {
            let next = self.next_seq.entry(event.index).or_insert(0);
            *next = (*next).max(seq + 1);
        }
    }
}

/// One pod's resources and run time (for the actual cost).
#[derive(Debug, Clone, PartialEq)]
pub struct PodUsage {
    pub pod: String,
    pub index: usize,
    pub request: PodRequest,
    /// Unix seconds.
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
}

impl PodUsage {
    pub fn span(&self) -> Option<PodSpan> {
        Some(PodSpan {
            request: self.request,
            started_at: self.started_at?,
            finished_at: self.finished_at?,
        })
    }
}

/// How a followed step ended.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowOutcome {
    pub status: RunStatus,
    /// The failures, one sentence each, joined.
    pub error: Option<String>,
    pub pods: Vec<PodUsage>,
    pub resume: ResumePoint,
    /// How many times the pod watch was resumed after ending or dropping, and relisted after
    /// `410 Gone` (for logs and tests).
    pub watch_resumes: u32,
    pub relists: u32,
}

/// Tunables for [`follow`] (tests shorten them).
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// How often the Job itself is checked (pods never created, Job deleted).
    pub job_check_every: Duration,
    /// Pause before re-opening a dropped watch or log.
    pub retry_after: Duration,
    /// Consecutive failed watch requests before giving up.
    pub max_watch_failures: u32,
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self {
            job_check_every: Duration::from_secs(15),
            retry_after: Duration::from_millis(500),
            max_watch_failures: 20,
        }
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
    run_id: &str,
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
        .filter(|j| j.run_id == run_id)
        .collect())
}

/// What a pod's status says, for the follower.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PodState {
    /// Not started yet; `note` is a reason worth one warning (unschedulable).
    Pending {
        note: Option<String>,
    },
    Running,
    Succeeded,
    /// Finished with a failure sentence; `ran` says whether the container ever ran (has a log).
    Failed {
        message: String,
        ran: bool,
    },
}

fn time_secs(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<f64> {
    t.map(|t| t.0.as_millisecond() as f64 / 1000.0)
}

pub(crate) fn pod_index(pod: &Pod) -> usize {
    let from = |m: Option<&BTreeMap<String, String>>| {
        m.and_then(|m| m.get(COMPLETION_INDEX_ANNOTATION))
            .and_then(|v| v.parse::<usize>().ok())
    };
    from(pod.metadata.annotations.as_ref())
        .or_else(|| from(pod.metadata.labels.as_ref()))
        .unwrap_or(0)
}

fn pod_request(pod: &Pod) -> PodRequest {
    let requests = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == CONTAINER))
        .and_then(|c| c.resources.as_ref())
        .and_then(|r| r.requests.as_ref());
    PodRequest {
        vcpu: requests
            .and_then(|r| r.get("cpu"))
            .and_then(|q| parse_cpu(&q.0))
            .unwrap_or(0.0),
        memory_mb: requests
            .and_then(|r| r.get("memory"))
            .and_then(|q| parse_memory_mb(&q.0))
            .unwrap_or(0.0),
    }
}

/// A pod's requests and its container's start and end (for the actual cost).
pub(crate) fn pod_usage(pod: &Pod) -> PodUsage {
    let status = pod.status.as_ref();
    let state = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == CONTAINER))
        .and_then(|c| c.state.as_ref());
    let started_at = state
        .and_then(|s| {
            s.running
                .as_ref()
                .and_then(|r| r.started_at.as_ref())
                .or_else(|| s.terminated.as_ref().and_then(|t| t.started_at.as_ref()))
        })
        .or_else(|| status.and_then(|s| s.start_time.as_ref()));
    let finished_at = state
        .and_then(|s| s.terminated.as_ref())
        .and_then(|t| t.finished_at.as_ref());
    PodUsage {
        pod: pod.name_any(),
        index: pod_index(pod),
        request: pod_request(pod),
        started_at: time_secs(started_at),
        finished_at: time_secs(finished_at),
    }
}

fn memory_limit(pod: &Pod) -> Option<String> {
    pod.spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == CONTAINER)?
        .resources
        .as_ref()?
        .limits
        .as_ref()?
        .get("memory")
        .map(|q| q.0.clone())
}

/// Reads a pod's status into a [`PodState`] with failures as one sentence each.
pub(crate) fn pod_state(pod: &Pod, job: &JobRef) -> PodState {
    let name = pod.name_any();
    let index = pod_index(pod);
    let who = match job.partition(index) {
        Some(p) => format!("pod {name} (partition {p})"),
        None if job.completions() > 1 => format!("pod {name} (completion index {index})"),
        None => format!("pod {name}"),
    };
    let status = pod.status.clone().unwrap_or_default();
    let container = status.container_statuses.as_ref().and_then(|cs| {
        cs.iter()
            .find(|c| c.name == CONTAINER)
            .or_else(|| cs.first())
    });
    if let Some(c) = container {
        let state = c.state.clone().unwrap_or_default();
        if let Some(t) = state.terminated {
            if t.exit_code == 0 {
                return PodState::Succeeded;
            }
            let reason = t.reason.unwrap_or_default();
            let message = if reason == "OOMKilled" {
                format!(
                    "{who} was OOMKilled: the runner needed more memory than its {} limit; raise memory_mb on the asset",
                    memory_limit(pod).unwrap_or_else(|| "container".to_owned())
                )
            } else {
                let detail = t
                    .message
                    .filter(|m| !m.trim().is_empty())
                    .map(|m| format!(": {}", m.trim()))
                    .unwrap_or_default();
                format!(
                    "{who} failed: the runner exited with code {}{}{detail}",
                    t.exit_code,
                    if reason.is_empty() || reason == "Error" {
                        String::new()
                    } else {
                        format!(" ({reason})")
                    }
                )
            };
            return PodState::Failed { message, ran: true };
        }
        if let Some(w) = state.waiting {
            let reason = w.reason.unwrap_or_default();
            if FATAL_WAITING.contains(&reason.as_str()) {
                let detail = w
                    .message
                    .map(|m| format!(": {}", m.trim()))
                    .unwrap_or_default();
                let message = if reason.contains("Image") {
                    format!(
                        "{who} cannot pull its image `{}` ({reason}){detail}",
                        c.image
                    )
                } else {
                    format!("{who} cannot start its container ({reason}){detail}")
                };
                return PodState::Failed {
                    message,
                    ran: false,
                };
            }
        }
        if state.running.is_some() {
            return PodState::Running;
        }
    }
    match status.phase.as_deref() {
        Some("Succeeded") => PodState::Succeeded,
        Some("Failed") => {
            let reason = status.reason.unwrap_or_default();
            let detail = status
                .message
                .map(|m| format!(": {}", m.trim()))
                .unwrap_or_default();
            let message = if reason == "Evicted" {
                format!("{who} was evicted from its node{detail}")
            } else if reason.is_empty() {
                format!("{who} failed{detail}")
            } else {
                format!("{who} failed ({reason}){detail}")
            };
            PodState::Failed {
                message,
                ran: container.is_some_and(|c| c.started.unwrap_or(false)),
            }
        }
        _ => {
            let note = status
                .conditions
                .unwrap_or_default()
                .into_iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
                .map(|c| {
                    format!(
                        "{who} is waiting for a node{}",
                        c.message.map(|m| format!(": {m}")).unwrap_or_default()
                    )
                });
            PodState::Pending { note }
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum LogFollow {
    #[default]
    NotStarted,
    Following,
    /// Waiting to be restarted after a dropped stream.
    Retry,
    Done,
}

#[derive(Debug)]
struct Tracked {
    index: usize,
    state: PodState,
    log: LogFollow,
    failure_reported: bool,
    note_reported: bool,
    deleted: bool,
    usage: PodUsage,
    log_failures: u32,
}

struct Follower<'a> {
    conn: &'a EksConnection,
    job: &'a JobRef,
    pods: BTreeMap<String, Tracked>,
    resume: ResumePoint,
    failures: Vec<String>,
    tx: mpsc::Sender<LogMsg>,
    options: FollowOptions,
}

impl Follower<'_> {
    fn emit(
        &self,
        sink: &mut (dyn FnMut(PodEvent) + Send),
        pod: &str,
        index: usize,
        seq: Option<u64>,
        line: u64,
        event: RunEvent,
    ) {
        sink(PodEvent {
            index,
            partition: self.job.partition(index).map(str::to_owned),
            pod: pod.to_owned(),
            seq,
            line,
            event,
        });
    }

    async fn start_log(&mut self, pod: &str, delay: Duration) {
        let Some(t) = self.pods.get_mut(pod) else {
            return;
        };
        t.log = LogFollow::Following;
        let began_after_finish = matches!(t.state, PodState::Succeeded | PodState::Failed { .. });
        let skip = self.resume.lines.get(pod).copied().unwrap_or(0);
        let api: Api<Pod> = match self.conn.client().await {
            Ok(c) => Api::namespaced(c, &self.job.namespace),
            Err(e) => {
                let _ = self
                    .tx
                    .send(LogMsg::Ended {
                        pod: pod.to_owned(),
                        error: Some(e.to_string()),
                        began_after_finish,
                    })
                    .await;
                return;
            }
        };
        let tx = self.tx.clone();
        let pod = pod.to_owned();
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            follow_pod_log(api, pod, skip, began_after_finish, tx).await;
        });
    }

    /// Takes in a pod from a list or watch event.
    async fn on_pod(&mut self, pod: &Pod, deleted: bool, sink: &mut (dyn FnMut(PodEvent) + Send)) {
        let name = pod.name_any();
        let index = pod_index(pod);
        let state = pod_state(pod, self.job);
        let usage = pod_usage(pod);
        let tracked = self.pods.entry(name.clone()).or_insert_with(|| Tracked {
            index,
            state: PodState::Pending { note: None },
            log: LogFollow::NotStarted,
            failure_reported: false,
            note_reported: false,
            deleted: false,
            usage: PodUsage {
                started_at: None,
                finished_at: None,
                ..usage.clone()
            },
            log_failures: 0,
        });
        // A deleted pod keeps the last state it was seen in; a finished pod stays finished.
        let finished_before =
            matches!(tracked.state, PodState::Succeeded | PodState::Failed { .. });
        if !finished_before {
            tracked.state = state;
        }
        if deleted && !matches!(tracked.state, PodState::Succeeded | PodState::Failed { .. }) {
            tracked.state = PodState::Failed {
                message: format!("pod {name} was deleted before it finished"),
                ran: tracked.log != LogFollow::NotStarted,
            };
        }
        tracked.deleted |= deleted;
        if let Some(t) = usage.started_at {
            tracked.usage.started_at.get_or_insert(t);
        }
        if let Some(t) = usage.finished_at {
            tracked.usage.finished_at = Some(t);
        }

        let mut to_emit = Vec::new();
        match &tracked.state {
            PodState::Pending { note: Some(note) } if !tracked.note_reported => {
                tracked.note_reported = true;
                to_emit.push((LogLevel::Warn, note.clone()));
            }
            PodState::Failed { message, .. } if !tracked.failure_reported => {
                tracked.failure_reported = true;
                to_emit.push((LogLevel::Error, message.clone()));
                self.failures.push(message.clone());
            }
            _ => {}
        }
        let start_log = tracked.log == LogFollow::NotStarted
            && !tracked.deleted
            && match &tracked.state {
                PodState::Running | PodState::Succeeded => true,
                PodState::Failed { ran, .. } => *ran,
                PodState::Pending { .. } => false,
            };
        if !start_log
            && tracked.log == LogFollow::NotStarted
            && matches!(tracked.state, PodState::Failed { ran: false, .. })
        {
            tracked.log = LogFollow::Done;
        }
        for (level, message) in to_emit {
            self.emit(
                sink,
                &name,
                index,
                None,
                0,
                RunEvent::Log {
                    level,
                    asset: None,
                    message,
                },
            );
        }
        if start_log {
            self.start_log(&name, Duration::ZERO).await;
        }
    }

    async fn on_log(&mut self, msg: LogMsg, sink: &mut (dyn FnMut(PodEvent) + Send)) {
        match msg {
            LogMsg::Line { pod, line } => {
                let line_no = {
                    let n = self.resume.lines.entry(pod.clone()).or_insert(0);
                    *n += 1;
                    *n
                };
                let index = self.pods.get(&pod).map_or(0, |t| t.index);
                if line.trim().is_empty() {
                    return;
                }
                match parse_line(&line) {
                    Ok(ParsedLine::Event(l)) => {
                        let next = self.resume.next_seq.entry(index).or_insert(0);
                        if l.seq < *next {
                            return;
                        }
                        *next = l.seq + 1;
                        self.emit(sink, &pod, index, Some(l.seq), line_no, l.event);
                    }
                    Ok(ParsedLine::Text(text)) => self.emit(
                        sink,
                        &pod,
                        index,
                        None,
                        line_no,
                        RunEvent::Log {
                            level: LogLevel::Info,
                            asset: None,
                            message: text,
                        },
                    ),
                    Err(e) => self.emit(
                        sink,
                        &pod,
                        index,
                        None,
                        line_no,
                        RunEvent::Log {
                            level: LogLevel::Warn,
                            asset: None,
                            message: format!("pod {pod}: {e}"),
                        },
                    ),
                }
            }
            LogMsg::Ended {
                pod,
                error,
                began_after_finish,
            } => {
                let retry_after = self.options.retry_after;
                let Some(t) = self.pods.get_mut(&pod) else {
                    return;
                };
                let finished = matches!(t.state, PodState::Succeeded | PodState::Failed { .. });
                if (error.is_none() && (began_after_finish || finished)) || t.deleted {
                    t.log = LogFollow::Done;
                    return;
                }
                if error.is_some() {
                    t.log_failures += 1;
                }
                if finished && t.log_failures > 5 {
                    t.log = LogFollow::Done;
                    let index = t.index;
                    self.emit(
                        sink,
                        &pod,
                        index,
                        None,
                        0,
                        RunEvent::Log {
                            level: LogLevel::Warn,
                            asset: None,
                            message: format!(
                                "the log of pod {pod} could not be read to its end: {}",
                                error.unwrap_or_default()
                            ),
                        },
                    );
                    return;
                }
                t.log = LogFollow::Retry;
                self.start_log(&pod, retry_after).await;
            }
        }
    }

    /// Whether the step is over: every completion index has a finished pod whose log has been
    /// read, or something failed and nothing is still running or being read.
    fn finished(&self) -> bool {
        let logs_busy = self
            .pods
            .values()
            .any(|t| matches!(t.log, LogFollow::Following | LogFollow::Retry));
        if logs_busy {
            return false;
        }
        if !self.failures.is_empty() {
            return !self.pods.values().any(|t| t.state == PodState::Running);
        }
        let succeeded: BTreeSet<usize> = self
            .pods
            .values()
            .filter(|t| t.state == PodState::Succeeded)
            .map(|t| t.index)
            .collect();
        (0..self.job.completions()).all(|i| succeeded.contains(&i))
    }

    /// Checks the Job itself: gone, or failed without pods to say why.
    async fn check_job(
        &mut self,
        sink: &mut (dyn FnMut(PodEvent) + Send),
    ) -> Result<(), ComputeError> {
        let client = self.conn.client().await?;
        let api: Api<Job> = Api::namespaced(client, &self.job.namespace);
        let job = api
            .get_opt(&self.job.name)
            .await
            .map_err(|e| api_error(self.conn, &format!("reading Job `{}`", self.job.name), &e))?;
        let message = match job {
            None => Some(format!(
                "Job {} was deleted before it finished",
                self.job.name
            )),
            Some(job) => job
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .into_iter()
                .find(|c| c.type_ == "Failed" && c.status == "True")
                .filter(|_| self.failures.is_empty())
                .map(|c| {
                    format!(
                        "Job {} failed{}{}",
                        self.job.name,
                        c.reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                        c.message.map(|m| format!(": {m}")).unwrap_or_default()
                    )
                }),
        };
        if let Some(message) = message {
            if !self.failures.contains(&message) {
                self.failures.push(message.clone());
                self.emit(
                    sink,
                    &self.job.name,
                    0,
                    None,
                    0,
                    RunEvent::Log {
                        level: LogLevel::Error,
                        asset: None,
                        message,
                    },
                );
            }
            // Nothing more will come from pods that are gone.
            for t in self.pods.values_mut() {
                if t.state != PodState::Running {
                    t.log = match t.log {
                        LogFollow::Following => LogFollow::Following,
                        _ => LogFollow::Done,
                    };
                }
            }
        }
        Ok(())
    }
}

/// Follows a step's Job to its end, passing every run event to `sink`. When `cancel` is set the
/// Job is deleted (foreground) and the outcome is `Canceled`.
///
/// # Errors
/// When the cluster cannot be reached for longer than the retries allow.
pub async fn follow(
    conn: &EksConnection,
    job: &JobRef,
    resume: ResumePoint,
    sink: &mut (dyn FnMut(PodEvent) + Send),
    cancel: Option<&AtomicBool>,
    options: FollowOptions,
) -> Result<FollowOutcome, ComputeError> {
    let (tx, mut rx) = mpsc::channel::<LogMsg>(1024);
    let mut f = Follower {
        conn,
        job,
        pods: BTreeMap::new(),
        resume,
        failures: Vec::new(),
        tx,
        options: options.clone(),
    };
    let selector = format!("job-name={}", job.name);
    let mut version: Option<String> = None;
    let mut stream: Option<BoxStream<'static, Result<WatchEvent<Pod>, kube::Error>>> = None;
    let mut watch_failures = 0u32;
    let mut watch_resumes = 0u32;
    let mut relists = 0u32;
    let mut last_job_check = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));

    loop {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            self::cancel(conn, job).await?;
            return Ok(outcome(f, RunStatus::Canceled, watch_resumes, relists));
        }
        if f.finished() && !f.pods.is_empty() {
            if f.failures.is_empty() {
                return Ok(outcome(f, RunStatus::Success, watch_resumes, relists));
            }
            // A pod stuck in ImagePullBackOff (or not started) would wait forever: end the Job.
            if f.pods.values().any(|t| {
                !matches!(
                    t.state,
                    PodState::Succeeded | PodState::Failed { ran: true, .. }
                )
            }) {
                self::cancel(conn, job).await?;
            }
            return Ok(outcome(f, RunStatus::Failure, watch_resumes, relists));
        }
        if last_job_check.elapsed() >= options.job_check_every {
            last_job_check = tokio::time::Instant::now();
            f.check_job(sink).await?;
            if !f.failures.is_empty() && f.finished() {
                return Ok(outcome(f, RunStatus::Failure, watch_resumes, relists));
            }
        }
        if stream.is_none() {
            let api: Api<Pod> = Api::namespaced(conn.client().await?, &job.namespace);
            let opened = async {
                if version.is_none() {
                    let list = api
                        .list(&ListParams::default().labels(&selector))
                        .await
                        .map_err(|e| (false, e))?;
                    for pod in &list.items {
                        f.on_pod(pod, false, sink).await;
                    }
                    version.clone_from(&list.metadata.resource_version);
                }
                let from = version.clone().unwrap_or_else(|| "0".to_owned());
                api.watch(
                    &WatchParams::default()
                        .labels(&selector)
                        .timeout(WATCH_TIMEOUT_SECS),
                    &from,
                )
                .await
                .map(StreamExt::boxed)
                .map_err(|e| (true, e))
            }
            .await;
            match opened {
                Ok(s) => {
                    stream = Some(s);
                    watch_failures = 0;
                }
                Err((_, kube::Error::Api(s))) if s.code == 410 => {
                    version = None;
                    relists += 1;
                    continue;
                }
                Err((_, e)) => {
                    watch_failures += 1;
                    if watch_failures > options.max_watch_failures {
                        return Err(api_error(conn, "watching the Job's pods", &e));
                    }
                    tokio::time::sleep(options.retry_after).await;
                    continue;
                }
            }
        }
        tokio::select! {
            item = async { match stream.as_mut() { Some(s) => s.next().await, None => None } } => {
                match item {
                    None | Some(Err(_)) => {
                        // The server closed the watch (timeout) or the connection dropped:
                        // resume from the last version seen.
                        stream = None;
                        watch_resumes += 1;
                    }
                    Some(Ok(WatchEvent::Added(p) | WatchEvent::Modified(p))) => {
                        version = p.metadata.resource_version.clone().or(version);
                        f.on_pod(&p, false, sink).await;
                    }
                    Some(Ok(WatchEvent::Deleted(p))) => {
                        version = p.metadata.resource_version.clone().or(version);
                        f.on_pod(&p, true, sink).await;
                    }
                    Some(Ok(WatchEvent::Bookmark(b))) => {
                        version = Some(b.metadata.resource_version);
                    }
                    Some(Ok(WatchEvent::Error(s))) => {
                        stream = None;
                        if s.code == 410 {
                            version = None;
                            relists += 1;
                        } else {
                            watch_resumes += 1;
                        }
                    }
                }
            }
            Some(msg) = rx.recv() => f.on_log(msg, sink).await,
            _ = tick.tick() => {}
        }
    }
}

fn outcome(f: Follower<'_>, status: RunStatus, watch_resumes: u32, relists: u32) -> FollowOutcome {
    FollowOutcome {
        status,
        error: (!f.failures.is_empty()).then(|| f.failures.join("; ")),
        pods: f.pods.into_values().map(|t| t.usage).collect(),
        resume: f.resume,
        watch_resumes,
        relists,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(partitions: &[&str]) -> JobRef {
        JobRef {
            namespace: "data".into(),
            name: "mdl-x".into(),
            run_id: "r".into(),
            step_id: "s".into(),
            partitions: partitions.iter().map(|p| (*p).to_owned()).collect(),
            completions: partitions.len().max(1),
        }
    }

    fn pod(index: usize, status: &serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("mdl-x-{index}-abcde"),
                "annotations": {COMPLETION_INDEX_ANNOTATION: index.to_string()}},
            "spec": {"containers": [{"name": "main", "image": "img:1",
                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                              "limits": {"memory": "1Gi"}}}]},
            "status": status,
        }))
        .unwrap()
    }

    fn container(state: &serde_json::Value) -> serde_json::Value {
        serde_json::json!([{"name": "main", "image": "img:1", "imageID": "", "ready": false,
            "restartCount": 0, "state": state}])
    }

    fn failed(p: &Pod, j: &JobRef) -> String {
        match pod_state(p, j) {
            PodState::Failed { message, .. } => message,
            other => panic!("not failed: {other:?}"),
        }
    }

    #[test]
    fn pod_failures_read_as_one_sentence() {
        let j = job(&["2024-01-01", "2024-01-02"]);
        let oom = pod(
            1,
            &serde_json::json!({"phase": "Failed", "containerStatuses": container(
                &serde_json::json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}))}),
        );
        assert_eq!(
            failed(&oom, &j),
            "pod mdl-x-1-abcde (partition 2024-01-02) was OOMKilled: the runner needed more memory than its 1Gi limit; raise memory_mb on the asset"
        );
        let exit = pod(
            0,
            &serde_json::json!({"phase": "Failed", "containerStatuses": container(
                &serde_json::json!({"terminated": {"exitCode": 3, "reason": "Error"}}))}),
        );
        assert_eq!(
            failed(&exit, &j),
            "pod mdl-x-0-abcde (partition 2024-01-01) failed: the runner exited with code 3"
        );
        let evicted = pod(
            0,
            &serde_json::json!({"phase": "Failed", "reason": "Evicted",
                "message": "The node was low on resource: ephemeral-storage."}),
        );
        assert_eq!(
            failed(&evicted, &j),
            "pod mdl-x-0-abcde (partition 2024-01-01) was evicted from its node: The node was low on resource: ephemeral-storage."
        );
        let pull = pod(
            0,
            &serde_json::json!({"phase": "Pending", "containerStatuses": container(
                &serde_json::json!({"waiting": {"reason": "ImagePullBackOff",
                    "message": "Back-off pulling image \"img:1\""}}))}),
        );
        assert!(failed(&pull, &j).contains("cannot pull its image `img:1` (ImagePullBackOff)"));
        let secret = pod(
            0,
            &serde_json::json!({"phase": "Pending", "containerStatuses": container(
                &serde_json::json!({"waiting": {"reason": "CreateContainerConfigError",
                    "message": "secret \"aws\" not found"}}))}),
        );
        assert!(failed(&secret, &j).contains(
            "cannot start its container (CreateContainerConfigError): secret \"aws\" not found"
        ));
    }

    #[test]
    fn pending_running_and_done_pods() {
        let j = job(&[]);
        let unschedulable = pod(
            0,
            &serde_json::json!({"phase": "Pending", "conditions": [{"type": "PodScheduled",
                "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient memory."}]}),
        );
        assert_eq!(
            pod_state(&unschedulable, &j),
            PodState::Pending {
                note: Some(
                    "pod mdl-x-0-abcde is waiting for a node: 0/3 nodes are available: 3 Insufficient memory."
                        .into()
                )
            }
        );
        let running = pod(
            0,
            &serde_json::json!({"phase": "Running", "containerStatuses": container(
                &serde_json::json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}}))}),
        );
        assert_eq!(pod_state(&running, &j), PodState::Running);
        let done = pod(
            0,
            &serde_json::json!({"phase": "Succeeded", "containerStatuses": container(
                &serde_json::json!({"terminated": {"exitCode": 0, "reason": "Completed"}}))}),
        );
        assert_eq!(pod_state(&done, &j), PodState::Succeeded);
        let req = pod_request(&done);
        assert!((req.vcpu - 0.5).abs() < 1e-9 && (req.memory_mb - 1024.0).abs() < 1e-9);
        assert_eq!(pod_index(&pod(7, &serde_json::json!({}))), 7);
    }

    #[test]
    fn resume_points_advance_past_kept_events() {
        let mut r = ResumePoint::default();
        let e = |seq: Option<u64>, line: u64| PodEvent {
            index: 1,
            partition: None,
            pod: "p".into(),
            seq,
            line,
            event: RunEvent::Log {
                level: LogLevel::Info,
                asset: None,
                message: String::new(),
            },
        };
        r.advance(&e(Some(4), 7));
        r.advance(&e(None, 9));
        r.advance(&e(Some(2), 3));
        assert_eq!(r.lines["p"], 9);
        assert_eq!(r.next_seq[&1], 5);
    }
}
