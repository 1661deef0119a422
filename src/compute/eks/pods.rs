//! A step's pods: the one pod watcher of the EKS launcher, and what a pod's status means.
//!
//! [`watch_job_pods`] keeps a live view of one Job's pods: it lists them, then watches from the
//! list's `resourceVersion` (with bookmarks); a watch that ends or drops is resumed from the
//! last version seen, a `410 Gone` lists again. The launcher's status and log reads look at
//! this view instead of listing pods on every poll. [`pod_state`] turns a pod's status into a
//! [`PodState`], failures as one sentence each (`OOMKilled`, image pull errors, evictions, exit
//! codes).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStateWaiting, Pod, PodStatus};
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::{Api, ResourceExt};

use super::api::JobRef;
use super::connection::EksConnection;
use super::job::CONTAINER;
use crate::compute::error::ComputeError;

/// What the watcher has seen.
#[derive(Debug, Default)]
pub(crate) struct PodView {
    /// The Job's pods by name.
    pub pods: BTreeMap<String, Pod>,
    /// Whether a first list has arrived.
    pub listed: bool,
    /// The last error talking to the cluster (cleared by the next success).
    pub error: Option<ComputeError>,
    pub watch_resumes: u32,
    pub relists: u32,
}

pub(crate) type SharedView = Arc<Mutex<PodView>>;

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

/// How long to wait before retrying a failed list or watch request.
const RETRY_AFTER: Duration = Duration::from_millis(300);

/// "`what`: <why>", of the kind the kube error is.
fn kube_error(what: &str, e: &kube::Error) -> ComputeError {
    let e = ComputeError::from_kube(what, e);
    ComputeError::said(e.kind, format!("{what}: {}", e.reason()))
}

/// Keeps `view` current until `stop` is set.
pub(crate) async fn watch_job_pods(
    conn: Arc<EksConnection>,
    namespace: String,
    job: String,
    view: SharedView,
    stop: Arc<AtomicBool>,
) {
    let selector = format!("job-name={job}");
    let mut version: Option<String> = None;
    let set_error = |e: ComputeError| {
        if let Ok(mut v) = view.lock() {
            v.error = Some(e);
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let client = match conn.client().await {
            Ok(c) => c,
            Err(e) => {
                set_error(e);
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            }
        };
        let api: Api<Pod> = Api::namespaced(client, &namespace);
        if version.is_none() {
            match list_pods(&api, &selector, &view).await {
                Ok(listed_at) => version = listed_at,
                Err(e) => {
                    set_error(kube_error(&format!("listing the pods of Job `{job}`"), &e));
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            }
        }
        let from = version.clone().unwrap_or_else(|| "0".to_owned());
        let params = WatchParams::default()
            .labels(&selector)
            .timeout(WATCH_TIMEOUT_SECS);
        let mut stream = match api.watch(&params, &from).await {
            Ok(s) => s.boxed(),
            Err(kube::Error::Api(s)) if s.code == 410 => {
                version = None;
                continue;
            }
            Err(e) => {
                set_error(kube_error(&format!("watching the pods of Job `{job}`"), &e));
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            }
        };
        if !follow_watch(&mut stream, &view, &stop, &mut version).await {
            return;
        }
    }
}

/// Lists the Job's pods into the view; returns the list's version, to watch from.
async fn list_pods(
    api: &Api<Pod>,
    selector: &str,
    view: &SharedView,
) -> Result<Option<String>, kube::Error> {
    let list = api.list(&ListParams::default().labels(selector)).await?;
    let version = list.metadata.resource_version.clone();
    if let Ok(mut v) = view.lock() {
        if v.listed {
            v.relists += 1;
        }
        v.pods = list.items.into_iter().map(|p| (p.name_any(), p)).collect();
        v.listed = true;
        v.error = None;
    }
    Ok(version)
}

/// Applies one watch's events to the view until it ends: returns `false` when the watcher
/// must stop (`stop` set, or the view unusable), `true` to watch again from `version` (`None`:
/// list first).
async fn follow_watch(
    stream: &mut (impl futures::Stream<Item = Result<WatchEvent<Pod>, kube::Error>> + Unpin),
    view: &SharedView,
    stop: &AtomicBool,
    version: &mut Option<String>,
) -> bool {
    loop {
        let item = tokio::select! {
            item = stream.next() => item,
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                continue;
            }
        };
        let Ok(mut v) = view.lock() else {
            return false;
        };
        match item {
            Some(Ok(WatchEvent::Added(p) | WatchEvent::Modified(p))) => {
                *version = p.metadata.resource_version.clone().or(version.take());
                v.pods.insert(p.name_any(), p);
            }
            Some(Ok(WatchEvent::Deleted(p))) => {
                *version = p.metadata.resource_version.clone().or(version.take());
                v.pods.remove(&p.name_any());
            }
            Some(Ok(WatchEvent::Bookmark(b))) => {
                *version = Some(b.metadata.resource_version);
            }
            Some(Ok(WatchEvent::Error(s))) if s.code == 410 => {
                // Too old: list again, then watch from the new version.
                *version = None;
                return true;
            }
            Some(Ok(WatchEvent::Error(_)) | Err(_)) | None => {
                // Ended (the server's timeout) or dropped: resume from the last version.
                v.watch_resumes += 1;
                return true;
            }
        }
    }
}

/// What a pod's status says, for the launcher's status and log reads.
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

pub(crate) fn pod_index(pod: &Pod) -> usize {
    let from = |m: Option<&BTreeMap<String, String>>| {
        m.and_then(|m| m.get(COMPLETION_INDEX_ANNOTATION))
            .and_then(|v| v.parse::<usize>().ok())
    };
    from(pod.metadata.annotations.as_ref())
        .or_else(|| from(pod.metadata.labels.as_ref()))
        .unwrap_or(0)
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
            let message = terminated_message(&who, pod, t);
            return PodState::Failed { message, ran: true };
        }
        if let Some(message) = state.waiting.and_then(|w| fatal_waiting(&who, &c.image, w)) {
            return PodState::Failed {
                message,
                ran: false,
            };
        }
        if state.running.is_some() {
            return PodState::Running;
        }
    }
    let ran = container.is_some_and(|c| c.started.unwrap_or(false));
    phase_state(&who, status, ran)
}

/// A container that ended with a non-zero exit code, in one sentence (`OOMKilled` says which
/// limit it hit).
fn terminated_message(who: &str, pod: &Pod, t: ContainerStateTerminated) -> String {
    let reason = t.reason.unwrap_or_default();
    if reason == "OOMKilled" {
        return format!(
            "{who} was OOMKilled: the runner needed more memory than its {} limit; raise memory_mb on the asset",
            memory_limit(pod).unwrap_or_else(|| "container".to_owned())
        );
    }
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
}

/// A container waiting for a reason that never resolves by itself (an image it cannot pull, a
/// container it cannot create), in one sentence; `None` for any other wait.
fn fatal_waiting(who: &str, image: &str, w: ContainerStateWaiting) -> Option<String> {
    let reason = w.reason.unwrap_or_default();
    if !FATAL_WAITING.contains(&reason.as_str()) {
        return None;
    }
    let detail = w
        .message
        .map(|m| format!(": {}", m.trim()))
        .unwrap_or_default();
    Some(if reason.contains("Image") {
        format!("{who} cannot pull its image `{image}` ({reason}){detail}")
    } else {
        format!("{who} cannot start its container ({reason}){detail}")
    })
}

/// What the pod's phase says when its container does not (finished, evicted, or waiting for a
/// node); `ran`: whether the container ever started.
fn phase_state(who: &str, status: PodStatus, ran: bool) -> PodState {
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
            PodState::Failed { message, ran }
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
        let first_pull = pod(
            0,
            &serde_json::json!({"phase": "Pending", "containerStatuses": container(
                &serde_json::json!({"waiting": {"reason": "ErrImagePull",
                    "message": "failed to pull and unpack image \"img:1\": not found"}}))}),
        );
        assert!(
            failed(&first_pull, &j).contains("cannot pull its image `img:1` (ErrImagePull)"),
            "{}",
            failed(&first_pull, &j)
        );
        assert!(matches!(
            pod_state(&first_pull, &j),
            PodState::Failed { ran: false, .. }
        ));
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
        assert_eq!(pod_index(&pod(7, &serde_json::json!({}))), 7);
    }
}
