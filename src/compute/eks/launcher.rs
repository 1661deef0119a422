//! EKS as a launcher: submit a step's Job, read its state and each pod's log from a position,
//! cancel it — the shape the run orchestration drives every remote tier through, and the only
//! way Medallion follows a Job: one pod watcher per Job (`super::pods`) feeds every status and
//! log read, and the orchestrator stores a position after every read, so it may restart
//! between reads and carry on.
//!
//! Calls block on the process's runtime, which the caller hands in (a kube client is bound to
//! the runtime it was made on, and the pod watches run on it); callers may be plain threads or
//! the runtime's blocking tasks.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;

use super::EksTarget;
use super::api::{JobRef, cancel, find_jobs, submit};
use super::connection::EksConnection;
use super::job::JobSettings;
use super::job::{CONTAINER, StepJob, build_job};
use super::logs::{LogMsg, follow_pod_log};
use super::pods::{PodState, SharedView, pod_index, pod_state, watch_job_pods};
use tokio::runtime::Handle;

use crate::compute::connect::{SecretSource, block_on};
use crate::compute::error::{ComputeError, ErrorKind};
use crate::compute::launch::{LaunchSpec, Launcher, LogRead, RemotePhase, RemoteState};
use crate::model::RunId;
use crate::model::{AssetKey, ComputeHints, ComputeTier, Resource, ResourceKind};

/// What the platform says about a step (mirrors the orchestration's remote phases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    /// The Job is gone (deleted: canceled, or cleaned up by its TTL).
    Stopped,
}

/// A step's Job as the cluster reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    pub phase: JobPhase,
    /// The Job's own words: `Active`, `Complete`, `Failed`, `Deleted`.
    pub status: String,
    pub exit_code: Option<i32>,
    /// One sentence per failed pod (`OOMKilled`, image pull errors, evictions, exit codes).
    pub reason: Option<String>,
}

/// New log lines of one pod, and where to continue (`pod-name:lines-read`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodLogRead {
    pub lines: Vec<String>,
    pub position: Option<String>,
}

/// The steps a launcher submits.
#[derive(Debug, Clone, PartialEq)]
pub struct EksStep {
    pub project: String,
    pub run_id: RunId,
    pub step_id: String,
    pub assets: Vec<AssetKey>,
    pub plan_uri: String,
    /// The partitions of an array step (their names, when known), else empty.
    pub partitions: Vec<String>,
    /// How many pods: 1, or one per partition.
    pub completions: usize,
    pub hints: ComputeHints,
}

pub struct EksLauncher {
    conn: Arc<EksConnection>,
    settings: JobSettings,
    /// The process's runtime: the pod watches and log streams run on it, and the kube client
    /// (bound to the runtime it was made on) was made on it.
    runtime: Handle,
    /// A watch of each followed Job's pods (and the flag that stops it), by Job id.
    views: Mutex<BTreeMap<String, (SharedView, Arc<AtomicBool>)>>,
    /// Pod logs streamed with `follow=true` in the background, by (Job id, completion index).
    live: Mutex<LiveLogs>,
    /// Jobs whose status has been read as ended and whose entries are not yet dropped.
    ended: Mutex<BTreeSet<String>>,
    /// The final position of the most recent fully read logs whose entries were dropped, so
    /// one more read at that position answers without the cluster (at most [`DONE_LOGS`]).
    done_logs: Mutex<VecDeque<((String, usize), String)>>,
    /// Watch resumes and relists of the pod views already dropped (see [`Self::watch_counts`]).
    retired_resumes: AtomicU32,
    retired_relists: AtomicU32,
}

/// How many final log positions of dropped Jobs are remembered.
const DONE_LOGS: usize = 1024;

/// The streamed logs by (Job id, completion index).
type LiveLogs = BTreeMap<(String, usize), Arc<Mutex<LiveLog>>>;

/// One pod's log as streamed so far.
#[derive(Debug, Default)]
struct LiveLog {
    pod: String,
    lines: Vec<String>,
    /// A follower is streaming (or about to).
    following: bool,
    /// The whole log has been read (the container ended and its stream closed cleanly).
    complete: bool,
    /// The last stream error, for the message when a finished pod's log cannot be read.
    error: Option<String>,
}

/// How long a first status or log read waits for the pod watch's first list.
const FIRST_LIST_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// How long a read waits for a finished pod's stream to deliver its last lines.
const FINAL_LOG_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl std::fmt::Debug for EksLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksLauncher")
            .field("connection", &self.conn)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// `namespace/name`, the identifier the orchestration stores.
pub fn remote_id(job: &JobRef) -> String {
    format!("{}/{}", job.namespace, job.name)
}

fn split_remote_id(remote_id: &str) -> Result<(&str, &str), ComputeError> {
    remote_id.split_once('/').ok_or_else(|| {
        ComputeError::invalid(format!(
            "`{remote_id}` is not an EKS Job id (namespace/name)"
        ))
    })
}

impl EksLauncher {
    /// A launcher for a connected target, its calls and watches on `runtime` (the process's).
    pub fn new(runtime: Handle, target: EksTarget) -> Self {
        let EksTarget {
            connection,
            settings,
        } = target;
        Self {
            conn: Arc::new(connection),
            settings,
            runtime,
            views: Mutex::new(BTreeMap::new()),
            live: Mutex::new(BTreeMap::new()),
            ended: Mutex::new(BTreeSet::new()),
            done_logs: Mutex::new(VecDeque::new()),
            retired_resumes: AtomicU32::new(0),
            retired_relists: AtomicU32::new(0),
        }
    }

    pub fn connection(&self) -> &EksConnection {
        &self.conn
    }

    /// The Job's pods as the background watch sees them (started on first use).
    fn pods_of(&self, remote: &str, namespace: &str, name: &str) -> Result<Vec<Pod>, ComputeError> {
        let view = {
            let mut map = self.views.lock().map_err(|_| poisoned("pod view"))?;
            map.entry(remote.to_owned())
                .or_insert_with(|| {
                    let view = SharedView::default();
                    let stop = Arc::new(AtomicBool::new(false));
                    self.runtime.spawn(watch_job_pods(
                        self.conn.clone(),
                        namespace.to_owned(),
                        name.to_owned(),
                        view.clone(),
                        stop.clone(),
                    ));
                    (view, stop)
                })
                .0
                .clone()
        };
        let deadline = std::time::Instant::now() + FIRST_LIST_WAIT;
        loop {
            {
                let v = view.lock().map_err(|_| poisoned("pod view"))?;
                if v.listed {
                    return Ok(v.pods.values().cloned().collect());
                }
                if std::time::Instant::now() >= deadline {
                    return Err(v.error.clone().unwrap_or_else(|| {
                        ComputeError::said(
                            ErrorKind::Timeout,
                            format!("the pods of Job `{name}` could not be listed in time"),
                        )
                    }));
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Stops watching a Job's pods (it has finished, or was canceled); its last view stays.
    fn stop_watching(&self, remote: &str) {
        if let Ok(map) = self.views.lock()
            && let Some((_, stop)) = map.get(remote)
        {
            stop.store(true, Ordering::Relaxed);
        }
    }

    /// How many times the pod watches resumed after ending or dropping, and listed again after
    /// `410 Gone`.
    pub fn watch_counts(&self) -> (u32, u32) {
        let retired = (
            self.retired_resumes.load(Ordering::Relaxed),
            self.retired_relists.load(Ordering::Relaxed),
        );
        self.views.lock().map_or(retired, |map| {
            map.values().fold(retired, |(r, l), (v, _)| {
                v.lock()
                    .map_or((r, l), |v| (r + v.watch_resumes, l + v.relists))
            })
        })
    }

    /// How many Jobs have a pod view and how many pod logs are buffered (what
    /// [`Self::forget_if_done`] drops).
    pub fn held(&self) -> (usize, usize) {
        (
            self.views.lock().map_or(0, |m| m.len()),
            self.live.lock().map_or(0, |m| m.len()),
        )
    }

    /// Drops what is kept for an ended Job (its status was read as finished): each pod log read
    /// to its end (remembering its final position), and — once no log of it is left — its pod
    /// view. A log still streaming stays until a later read completes it.
    fn forget_if_done(&self, remote: &str) {
        let Ok(mut ended) = self.ended.lock() else {
            return;
        };
        if !ended.contains(remote) {
            return;
        }
        let Ok(mut live) = self.live.lock() else {
            return;
        };
        let mine: Vec<(String, usize)> =
            live.keys().filter(|(r, _)| r == remote).cloned().collect();
        let mut left = 0;
        for key in mine {
            let done = live.get(&key).and_then(|l| {
                l.lock().ok().and_then(|l| {
                    (l.complete && !l.following).then(|| format!("{}:{}", l.pod, l.lines.len()))
                })
            });
            match done {
                Some(position) => {
                    live.remove(&key);
                    if let Ok(mut d) = self.done_logs.lock() {
                        d.retain(|(k, _)| *k != key);
                        d.push_back((key, position));
                        while d.len() > DONE_LOGS {
                            d.pop_front();
                        }
                    }
                }
                None => left += 1,
            }
        }
        if left == 0 {
            if let Ok(mut views) = self.views.lock()
                && let Some((view, stop)) = views.remove(remote)
            {
                stop.store(true, Ordering::Relaxed);
                if let Ok(v) = view.lock() {
                    self.retired_resumes
                        .fetch_add(v.watch_resumes, Ordering::Relaxed);
                    self.retired_relists.fetch_add(v.relists, Ordering::Relaxed);
                }
            }
            ended.remove(remote);
        }
    }

    /// Whether `position` is the final position of a log already read to its end and dropped.
    fn read_to_end(&self, remote: &str, child: usize, position: Option<&str>) -> bool {
        let Some(position) = position else {
            return false;
        };
        self.done_logs.lock().is_ok_and(|d| {
            d.iter()
                .any(|((r, c), p)| r == remote && *c == child && p == position)
        })
    }

    fn block<T>(
        &self,
        fut: impl Future<Output = Result<T, ComputeError>>,
    ) -> Result<T, ComputeError> {
        block_on(&self.runtime, fut)
    }

    /// Creates the step's Job; returns its id (`namespace/name`).
    ///
    /// # Errors
    /// When the cluster refuses the Job.
    pub fn submit(&self, step: &EksStep) -> Result<String, ComputeError> {
        let job = build_job(
            &self.settings,
            &StepJob {
                project: &step.project,
                run_id: &step.run_id,
                step_id: &step.step_id,
                assets: &step.assets,
                partitions: &step.partitions,
                completions: step.completions,
                plan_uri: &step.plan_uri,
                hints: &step.hints,
            },
        );
        self.block(async { submit(&self.conn, &job).await.map(|j| remote_id(&j)) })
    }

    /// The Job of a step submitted before a crash (or before an app restart), found by its
    /// labels (`medallion.dev/project`, `medallion.dev/run`) and its exact run and step
    /// annotations.
    ///
    /// # Errors
    /// When the cluster cannot be asked.
    pub fn find_submitted(
        &self,
        project: &str,
        run_id: &RunId,
        step_id: &str,
    ) -> Result<Option<String>, ComputeError> {
        let conn = &*self.conn;
        self.block(async {
            let jobs = find_jobs(conn, project, run_id).await?;
            Ok(jobs.iter().find(|j| j.step_id == step_id).map(remote_id))
        })
    }

    /// The Job's phase, with every failed pod's sentence as the reason.
    ///
    /// # Errors
    /// When the cluster cannot be asked.
    pub fn status(&self, remote: &str) -> Result<JobStatus, ComputeError> {
        let (namespace, name) = split_remote_id(remote)?;
        let conn = &*self.conn;
        let job = self.block(async {
            let client = conn.client().await?;
            let jobs: Api<Job> = Api::namespaced(client, namespace);
            jobs.get_opt(name).await.map_err(|e| {
                let e = ComputeError::from_kube("reading Job", &e);
                ComputeError::said(
                    e.kind,
                    format!("reading Job `{name}` on {}: {}", conn.label(), e.reason()),
                )
            })
        })?;
        let Some(job) = job else {
            self.stop_watching(remote);
            self.mark_ended(remote);
            return Ok(JobStatus {
                phase: JobPhase::Stopped,
                status: "Deleted".to_owned(),
                exit_code: None,
                reason: Some(format!("Job {name} no longer exists (deleted or expired)")),
            });
        };
        let pods = self.pods_of(remote, namespace, name)?;
        let status = job_status(&job, &pods, name)?;
        // A pod that cannot start (image pull errors, a missing secret) waits forever and
        // fails nothing by itself: once it decides the step's failure, end the Job.
        let job_ref = JobRef::from_job(&job);
        let stuck = status.phase == JobPhase::Failed
            && job_ref.as_ref().is_some_and(|j| {
                pods.iter()
                    .any(|p| matches!(pod_state(p, j), PodState::Failed { ran: false, .. }))
            });
        if stuck {
            self.cancel(remote)?;
        }
        if matches!(
            status.phase,
            JobPhase::Succeeded | JobPhase::Failed | JobPhase::Stopped
        ) {
            self.stop_watching(remote);
            self.mark_ended(remote);
        }
        Ok(status)
    }

    /// Notes that the Job has ended and drops what is no longer needed of it.
    fn mark_ended(&self, remote: &str) {
        if let Ok(mut ended) = self.ended.lock() {
            ended.insert(remote.to_owned());
        }
        self.forget_if_done(remote);
    }
}

/// The phase of a Job from its conditions and its pods' states.
fn job_status(job: &Job, pods: &[Pod], name: &str) -> Result<JobStatus, ComputeError> {
    let job_ref = JobRef::from_job(job).ok_or_else(|| {
        ComputeError::invalid(format!(
            "Job `{name}` was not made by Medallion (no medallion.dev annotations)"
        ))
    })?;
    let mut failures = Vec::new();
    let mut exit_code = None;
    let mut running = false;
    for pod in pods {
        match pod_state(pod, &job_ref) {
            PodState::Failed { message, .. } => {
                exit_code = exit_code.or_else(|| terminated_exit_code(pod));
                failures.push(message);
            }
            PodState::Running => running = true,
            PodState::Pending { .. } | PodState::Succeeded => {}
        }
    }
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let condition = |kind: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    let (phase, status) = if let Some(c) = condition("Failed") {
        if failures.is_empty() {
            failures.push(format!(
                "Job {name} failed{}{}",
                c.reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                c.message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
        }
        (JobPhase::Failed, "Failed")
    } else if !failures.is_empty() {
        (JobPhase::Failed, "Failed")
    } else if condition("Complete").is_some() {
        (JobPhase::Succeeded, "Complete")
    } else if running {
        (JobPhase::Running, "Active")
    } else {
        (JobPhase::Pending, "Active")
    };
    Ok(JobStatus {
        phase,
        status: status.to_owned(),
        exit_code: if phase == JobPhase::Succeeded {
            Some(0)
        } else {
            exit_code
        },
        reason: (!failures.is_empty()).then(|| failures.join("; ")),
    })
}

impl EksLauncher {
    /// New log lines of the pod at completion index `child` after `position`
    /// (`pod-name:lines-read`). The log is streamed with `follow=true` in the background from
    /// the first read on, so each read returns what arrived since; a dropped stream is resumed
    /// by line count. Once the pod has finished, a read waits (briefly) for the stream's end,
    /// so the last lines are never missed.
    ///
    /// # Errors
    /// When the cluster cannot be asked.
    pub fn read_logs(
        &self,
        remote: &str,
        child: usize,
        position: Option<&str>,
    ) -> Result<PodLogRead, ComputeError> {
        let (namespace, name) = split_remote_id(remote)?;
        if self.read_to_end(remote, child, position) {
            // Read to its end and dropped already: nothing new can come.
            return Ok(PodLogRead {
                lines: Vec::new(),
                position: position.map(str::to_owned),
            });
        }
        let (last_pod, read) = match position.and_then(|p| p.rsplit_once(':')) {
            Some((pod, n)) => (Some(pod.to_owned()), n.parse::<usize>().unwrap_or(0)),
            None => (None, 0),
        };
        // Which pod runs this index now, and whether its container has started or ended.
        let pods = self.pods_of(remote, namespace, name)?;
        let found: Option<(String, bool, bool)> = pods
            .iter()
            .filter(|p| pod_index(p) == child)
            .max_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .map(|pod| {
                let state = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .and_then(|cs| cs.iter().find(|c| c.name == CONTAINER))
                    .and_then(|c| c.state.clone())
                    .unwrap_or_default();
                (
                    pod.metadata.name.clone().unwrap_or_default(),
                    state.running.is_some() || state.terminated.is_some(),
                    state.terminated.is_some(),
                )
            });
        let unchanged = || PodLogRead {
            lines: Vec::new(),
            position: position.map(str::to_owned),
        };
        let Some((pod_name, started, finished)) = found else {
            return Ok(unchanged());
        };
        if !started {
            return Ok(unchanged());
        }
        let live = {
            let mut map = self.live.lock().map_err(|_| poisoned("log buffer"))?;
            map.entry((remote.to_owned(), child))
                .or_insert_with(|| Arc::new(Mutex::new(LiveLog::default())))
                .clone()
        };
        self.ensure_following(&live, namespace, &pod_name, finished)?;
        if finished {
            let deadline = std::time::Instant::now() + FINAL_LOG_WAIT;
            loop {
                let (complete, following) = live
                    .lock()
                    .map_or((true, false), |l| (l.complete, l.following));
                if complete || std::time::Instant::now() >= deadline {
                    break;
                }
                if !following {
                    self.ensure_following(&live, namespace, &pod_name, finished)?;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        let (out, complete) = {
            let l = live.lock().map_err(|_| poisoned("log buffer"))?;
            (after(&l, last_pod.as_deref(), read), l.complete)
        };
        if complete {
            self.forget_if_done(remote);
        }
        Ok(out)
    }

    /// Starts (or restarts after a dropped stream) the background follower of a pod's log.
    fn ensure_following(
        &self,
        live: &Arc<Mutex<LiveLog>>,
        namespace: &str,
        pod: &str,
        finished: bool,
    ) -> Result<(), ComputeError> {
        let skip = {
            let mut l = live.lock().map_err(|_| poisoned("log buffer"))?;
            if l.pod != pod {
                // A new pod for this index (or the first): its log starts from the beginning.
                *l = LiveLog {
                    pod: pod.to_owned(),
                    ..LiveLog::default()
                };
            }
            if l.following || l.complete {
                return Ok(());
            }
            l.following = true;
            l.lines.len() as u64
        };
        let conn = &*self.conn;
        let client = self.block(conn.client());
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                if let Ok(mut l) = live.lock() {
                    l.following = false;
                    l.error = Some(e.to_string());
                }
                return Err(e);
            }
        };
        let api: Api<Pod> = Api::namespaced(client, namespace);
        let live = live.clone();
        let pod = pod.to_owned();
        self.runtime.spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
            tokio::spawn(follow_pod_log(api, pod, skip, finished, tx));
            while let Some(msg) = rx.recv().await {
                let Ok(mut l) = live.lock() else { return };
                match msg {
                    LogMsg::Line { line, .. } => l.lines.push(line),
                    LogMsg::Ended {
                        error,
                        began_after_finish,
                        ..
                    } => {
                        l.following = false;
                        l.complete = error.is_none() && began_after_finish;
                        l.error = error;
                        return;
                    }
                }
            }
        });
        Ok(())
    }

    /// Deletes the Job with foreground propagation.
    ///
    /// # Errors
    /// When the cluster refuses.
    pub fn cancel(&self, remote: &str) -> Result<(), ComputeError> {
        let (namespace, name) = split_remote_id(remote)?;
        self.stop_watching(remote);
        let job = JobRef {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            run_id: RunId::default(),
            step_id: String::new(),
            partitions: Vec::new(),
            completions: 1,
        };
        self.block(cancel(&self.conn, &job))
    }
}

/// The lines of `l` after `read` lines of `last_pod`, and the position after them. For the same
/// pod the position never goes back: after a restart the buffer refills from the log's start,
/// and lines already read (the stored position) are not returned again.
fn after(l: &LiveLog, last_pod: Option<&str>, read: usize) -> PodLogRead {
    let skip = if last_pod == Some(l.pod.as_str()) {
        read
    } else {
        0
    };
    PodLogRead {
        lines: l
            .lines
            .get(skip..)
            .map(<[String]>::to_vec)
            .unwrap_or_default(),
        position: Some(format!("{}:{}", l.pod, l.lines.len().max(skip))),
    }
}

fn terminated_exit_code(pod: &Pod) -> Option<i32> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == CONTAINER)?
        .state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|t| t.exit_code)
}

impl EksLauncher {
    /// A launcher for an `eks` resource, on the process's runtime. `region` is the run's AWS
    /// region, given to the runner pods when the resource does not set one.
    ///
    /// # Errors
    /// See [`super::target`].
    pub fn connect(
        runtime: Handle,
        resource: &Resource,
        resources: &[Resource],
        secrets: &dyn SecretSource,
        region: Option<&str>,
    ) -> Result<Self, ComputeError> {
        let mut target = block_on(&runtime, super::target(resource, resources, secrets))?;
        if let Some(region) = region
            && !target.settings.env.iter().any(|(k, _)| k == "AWS_REGION")
        {
            target
                .settings
                .env
                .push(("AWS_REGION".to_owned(), region.to_owned()));
        }
        Ok(Self::new(runtime, target))
    }
}

/// The watches a launcher started stop with it (they run on the process's runtime, which
/// outlives it); its log streams end with their pods.
impl Drop for EksLauncher {
    fn drop(&mut self) {
        if let Ok(views) = self.views.get_mut() {
            for (_, stop) in views.values() {
                stop.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// The launcher the orchestration drives: one per `eks` resource definition for the life of
/// the process (a kube client, its token and `DescribeCluster`'s answer are reused).
#[derive(Debug, Clone)]
pub struct SharedEks(pub Arc<EksLauncher>);

/// The shared launcher for the project's (first) `eks` resource.
///
/// # Errors
/// When the project has no `eks` resource or it cannot be connected.
pub fn shared(
    runtime: &Handle,
    resources: &[Resource],
    secrets: &dyn SecretSource,
    region: &str,
) -> Result<SharedEks, ComputeError> {
    static CACHE: OnceLock<Mutex<BTreeMap<String, Arc<EksLauncher>>>> = OnceLock::new();
    let resource = resources
        .iter()
        .find(|r| matches!(r.kind, ResourceKind::Eks { .. }))
        .ok_or_else(|| {
            ComputeError::invalid("EKS runs need an eks resource, e.g. [resources.cluster] kind = \"eks\" with cluster = \"NAME\" (or a kubeconfig context), namespace and image")
        })?;
    let key = serde_json::to_string(&(resource, resources, region)).unwrap_or_default();
    let cache = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
    if let Some(l) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(SharedEks(l));
    }
    let launcher = Arc::new(EksLauncher::connect(
        runtime.clone(),
        resource,
        resources,
        secrets,
        Some(region),
    )?);
    if let Ok(mut c) = cache.lock() {
        c.insert(key, launcher.clone());
    }
    Ok(SharedEks(launcher))
}

impl Launcher for SharedEks {
    fn tier(&self) -> ComputeTier {
        ComputeTier::Eks
    }

    fn submit(&self, spec: &LaunchSpec) -> Result<String, ComputeError> {
        self.0.submit(&step_of(spec))
    }

    fn find_submitted(&self, spec: &LaunchSpec) -> Result<Option<String>, ComputeError> {
        self.0
            .find_submitted(&spec.project, &spec.run_id, &spec.step_id)
    }

    fn status(&self, remote_id: &str) -> Result<RemoteState, ComputeError> {
        let s = self.0.status(remote_id)?;
        Ok(RemoteState {
            phase: match s.phase {
                JobPhase::Pending => RemotePhase::Pending,
                JobPhase::Running => RemotePhase::Running,
                JobPhase::Succeeded => RemotePhase::Succeeded,
                JobPhase::Failed => RemotePhase::Failed,
                JobPhase::Stopped => RemotePhase::Stopped,
            },
            status: s.status,
            exit_code: s.exit_code,
            reason: s.reason,
        })
    }

    fn read_logs(
        &self,
        remote_id: &str,
        child: usize,
        position: Option<&str>,
    ) -> Result<LogRead, ComputeError> {
        let r = self.0.read_logs(remote_id, child, position)?;
        Ok(LogRead {
            lines: r.lines,
            position: r.position,
        })
    }

    fn cancel(&self, remote_id: &str, _reason: &str) -> Result<(), ComputeError> {
        self.0.cancel(remote_id)
    }
}

/// A launcher's shared state was left half-changed by a panic elsewhere.
fn poisoned(what: &str) -> ComputeError {
    ComputeError::said(ErrorKind::Other, format!("the EKS {what} is poisoned"))
}

/// The EKS step for a launch spec.
pub fn step_of(spec: &LaunchSpec) -> EksStep {
    EksStep {
        project: spec.project.clone(),
        run_id: spec.run_id.clone(),
        step_id: spec.step_id.clone(),
        assets: spec.assets.clone(),
        plan_uri: spec.plan_uri.clone(),
        partitions: Vec::new(),
        completions: spec.array_size.max(1),
        hints: ComputeHints {
            tier: ComputeTier::Eks,
            vcpu: Some(spec.vcpu),
            memory_mb: Some(spec.memory_mb),
            timeout_secs: spec.timeout_secs,
            spot: spec.spot.then_some(true),
            node_type: spec.node_type.clone(),
            min_nodes: None,
            max_nodes: spec.max_nodes,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::eks::connection::{ClusterOverrides, ClusterSource};

    /// A launcher whose cluster cannot be reached: anything that asks the cluster fails.
    fn offline() -> EksLauncher {
        EksLauncher::new(
            crate::compute::connect::test_runtime(),
            EksTarget {
                connection: EksConnection::new(
                    ClusterSource::Kubeconfig {
                        path: Some("/nonexistent/medallion-test/kubeconfig".into()),
                        context: None,
                    },
                    ClusterOverrides::default(),
                    "data",
                    None,
                ),
                settings: JobSettings::new("data", "runner:test"),
            },
        )
    }

    fn log(pod: &str, lines: usize, complete: bool) -> Arc<Mutex<LiveLog>> {
        Arc::new(Mutex::new(LiveLog {
            pod: pod.to_owned(),
            lines: (0..lines).map(|i| format!("line {i}")).collect(),
            following: !complete,
            complete,
            error: None,
        }))
    }

    #[test]
    fn a_restart_never_moves_the_log_position_back() {
        // After a reattach the buffer starts empty and refills from the log's start.
        let empty = log("pod-a", 0, false);
        let r = after(&empty.lock().unwrap(), Some("pod-a"), 500);
        assert!(r.lines.is_empty());
        assert_eq!(r.position.as_deref(), Some("pod-a:500"));
        let partly = log("pod-a", 300, false);
        let r = after(&partly.lock().unwrap(), Some("pod-a"), 500);
        assert!(r.lines.is_empty(), "{r:?}");
        assert_eq!(r.position.as_deref(), Some("pod-a:500"));
        // Once past the stored position, only the new lines come.
        let refilled = log("pod-a", 502, false);
        let r = after(&refilled.lock().unwrap(), Some("pod-a"), 500);
        assert_eq!(r.lines, vec!["line 500", "line 501"]);
        assert_eq!(r.position.as_deref(), Some("pod-a:502"));
        // A new pod for the index starts from its first line.
        let r = after(&refilled.lock().unwrap(), Some("pod-old"), 500);
        assert_eq!(r.lines.len(), 502);
        assert_eq!(r.position.as_deref(), Some("pod-a:502"));
        let r = after(&refilled.lock().unwrap(), None, 0);
        assert_eq!(r.lines.len(), 502);
    }

    #[test]
    fn an_ended_job_drops_its_pod_view_and_logs_once_read_to_the_end() {
        let l = offline();
        let job = "data/mdl-job";
        let view = SharedView::default();
        {
            let mut v = view.lock().unwrap();
            v.watch_resumes = 2;
            v.relists = 1;
        }
        let stop = Arc::new(AtomicBool::new(false));
        l.views
            .lock()
            .unwrap()
            .insert(job.to_owned(), (view, stop.clone()));
        {
            let mut live = l.live.lock().unwrap();
            live.insert((job.to_owned(), 0), log("pod-0", 3, true));
            live.insert((job.to_owned(), 1), log("pod-1", 5, false));
            live.insert(("data/other".to_owned(), 0), log("pod-x", 1, true));
        }
        assert_eq!(l.held(), (1, 3));
        // Not ended: a complete log alone is kept (the Job may still say more).
        l.forget_if_done(job);
        assert_eq!(l.held(), (1, 3));
        // Ended: the log read to its end goes; the one still streaming and the view stay.
        l.mark_ended(job);
        assert_eq!(l.held(), (1, 2));
        assert!(!stop.load(Ordering::Relaxed));
        // One more read at the final position answers without the cluster (it is offline).
        let again = l.read_logs(job, 0, Some("pod-0:3")).unwrap();
        assert!(again.lines.is_empty());
        assert_eq!(again.position.as_deref(), Some("pod-0:3"));
        // The last log completes: everything of the Job goes, its watch is stopped and its
        // counts are kept.
        {
            let live = l.live.lock().unwrap();
            let mut last = live[&(job.to_owned(), 1)].lock().unwrap();
            last.following = false;
            last.complete = true;
        }
        l.forget_if_done(job);
        assert_eq!(l.held(), (0, 1));
        assert!(stop.load(Ordering::Relaxed));
        assert_eq!(l.watch_counts(), (2, 1));
        assert!(l.ended.lock().unwrap().is_empty());
        assert!(
            l.live
                .lock()
                .unwrap()
                .contains_key(&("data/other".to_owned(), 0))
        );
    }
}
