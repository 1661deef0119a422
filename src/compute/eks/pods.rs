//! A live view of one Job's pods for the polled launcher: list them, then watch from the
//! list's `resourceVersion` (with bookmarks); a watch that ends or drops is resumed from the
//! last version seen, a `410 Gone` lists again. The launcher's status and log reads look at
//! this view instead of listing pods on every poll.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::{Api, ResourceExt};

use super::connection::EksConnection;
use super::watch::WATCH_TIMEOUT_SECS;
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
            match api.list(&ListParams::default().labels(&selector)).await {
                Ok(list) => {
                    version.clone_from(&list.metadata.resource_version);
                    if let Ok(mut v) = view.lock() {
                        if v.listed {
                            v.relists += 1;
                        }
                        v.pods = list.items.into_iter().map(|p| (p.name_any(), p)).collect();
                        v.listed = true;
                        v.error = None;
                    }
                }
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
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                () = tokio::time::sleep(Duration::from_millis(500)) => {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    continue;
                }
            };
            let Ok(mut v) = view.lock() else { return };
            match item {
                Some(Ok(WatchEvent::Added(p) | WatchEvent::Modified(p))) => {
                    version = p.metadata.resource_version.clone().or(version);
                    v.pods.insert(p.name_any(), p);
                }
                Some(Ok(WatchEvent::Deleted(p))) => {
                    version = p.metadata.resource_version.clone().or(version);
                    v.pods.remove(&p.name_any());
                }
                Some(Ok(WatchEvent::Bookmark(b))) => {
                    version = Some(b.metadata.resource_version);
                }
                Some(Ok(WatchEvent::Error(s))) if s.code == 410 => {
                    // Too old: list again, then watch from the new version.
                    version = None;
                    break;
                }
                Some(Ok(WatchEvent::Error(_)) | Err(_)) | None => {
                    // Ended (the server's timeout) or dropped: resume from the last version.
                    v.watch_resumes += 1;
                    break;
                }
            }
        }
    }
}
