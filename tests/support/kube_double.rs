//! **Test double of a Kubernetes API server** — no real API server can be installed here, so
//! this one speaks the real wire protocol (HTTP/1.1, JSON, chunked streams) for exactly the
//! requests a `kube` 5 client makes to run and follow a Job (measured with a real client, see
//! `../shared/notes/test-peers.md`):
//!
//! - `POST /apis/batch/v1/namespaces/{ns}/jobs` → 201 with `uid`, `resourceVersion`,
//!   `creationTimestamp`; 409 `Status` on a name clash.
//! - `GET /apis/batch/v1/namespaces/{ns}/jobs[?labelSelector=…]`, `GET|DELETE …/jobs/{name}`
//!   (404 `Status` when missing; the delete body's `propagationPolicy` is recorded).
//! - `GET /api/v1/namespaces/{ns}/pods?labelSelector=…` → `PodList` with
//!   `metadata.resourceVersion`; with `watch=true&resourceVersion=N` → chunked JSON lines
//!   (`ADDED`/`MODIFIED`/`DELETED`/`BOOKMARK`), closed at `timeoutSeconds`; a compacted
//!   (stale) version gets an `ERROR` event with a 410 `Status`.
//! - `GET …/pods/{pod}/log?container=main&follow=true` → chunked `text/plain` until the
//!   container ends.
//!
//! The Job controller and kubelet are played too: an Indexed Job gets one pod per completion
//! index (`batch.kubernetes.io/job-completion-index` annotation and label, `JOB_COMPLETION_INDEX`
//! in the container env), at most `parallelism` at a time. Each pod **runs its container's
//! command and args as a local process** with the pod's env; its stdout and stderr are the pod
//! log; its exit sets the container's `terminated` state (`Completed` / `Error`) and the pod
//! phase. Pods go Pending → Running → Succeeded/Failed with `containerStatuses`.
//!
//! Faults a test can inject: `OOMKilled` for a completion index (the process is killed after its
//! first log line, exit 137), image pull errors (`ErrImagePull` then `ImagePullBackOff`, never
//! runs), a dropped watch (the connection is cut mid-stream after N events), a compaction (the
//! next watch from an old version gets 410 Gone), a dropped log stream (cut after N lines).

// Test doubles serve on threads of their own.
#![allow(clippy::disallowed_methods)]
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One request as the double saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub authorization: Option<String>,
    pub body: String,
}

/// Faults to inject.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Completion indexes whose pod is `OOMKilled`.
    pub oom_indexes: BTreeSet<usize>,
    /// Every pod's image cannot be pulled.
    pub image_pull_error: bool,
    /// Cut the first watch stream after this many object events.
    pub drop_first_watch_after: Option<usize>,
    /// Cut each pod's first log stream after this many lines.
    pub drop_first_log_after: Option<usize>,
    /// Hold every pod in Pending this long before it runs.
    pub start_delay: Duration,
    /// Watch requests (counted from 1) answered with a 410 Gone `ERROR` event, as for a
    /// resourceVersion compacted away.
    pub gone_for_watch: BTreeSet<usize>,
}

#[derive(Debug, Clone)]
struct Event {
    rv: u64,
    kind: &'static str,
    pod: Value,
}

#[derive(Default)]
struct PodLog {
    text: Vec<u8>,
    done: bool,
}

#[derive(Default)]
struct State {
    rv: u64,
    uid: u64,
    jobs: BTreeMap<(String, String), Value>,
    pods: BTreeMap<(String, String), Value>,
    /// Every pod change, for watches.
    events: Vec<Event>,
    /// Watches from a version below this get 410 Gone.
    compacted_below: u64,
    watch_requests: usize,
    logs: BTreeMap<(String, String), PodLog>,
    requests: Vec<Recorded>,
    faults: Faults,
    watches_dropped: usize,
    logs_dropped: BTreeSet<String>,
    /// Running processes by (namespace, pod): their pid, to kill on delete.
    pids: BTreeMap<(String, String), u32>,
    /// Pods killed by a Job deletion (their exit is not reported as a normal end).
    killed: BTreeSet<(String, String)>,
    /// Extra environment for every pod's process (what IRSA or a node would give).
    pod_env: Vec<(String, String)>,
    /// Programs of the image mapped to local paths (`medallion` → the built binary).
    programs: BTreeMap<String, String>,
}

/// A running double; dropped at the end of the test.
pub struct KubeDouble {
    pub url: String,
    state: Arc<Mutex<State>>,
    changed: watch::Sender<u64>,
    _thread: std::thread::JoinHandle<()>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
           "message":message,"reason":reason,"code":code})
}

fn label_matches(obj: &Value, selector: Option<&String>) -> bool {
    let Some(selector) = selector.filter(|s| !s.is_empty()) else {
        return true;
    };
    let labels = &obj["metadata"]["labels"];
    selector.split(',').all(|term| match term.split_once('=') {
        Some((k, v)) => labels[k.trim()].as_str() == Some(v.trim()),
        None => labels.get(term.trim()).is_some(),
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                if let Ok(b) = u8::from_str_radix(hex, 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl KubeDouble {
    /// Starts the double on a loopback port in its own thread and runtime.
    pub fn start() -> Self {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", std_listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            rv: 100,
            uid: 0,
            ..State::default()
        }));
        let (changed, _) = watch::channel(0u64);
        let thread_state = state.clone();
        let thread_changed = changed.clone();
        let thread = std::thread::Builder::new()
            .name("kube-double".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("kube-double-worker")
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let listener = TcpListener::from_std(std_listener).unwrap();
                    loop {
                        let Ok((socket, _)) = listener.accept().await else {
                            continue;
                        };
                        let server = Server {
                            state: thread_state.clone(),
                            changed: thread_changed.clone(),
                        };
                        tokio::spawn(async move {
                            let _ = server.handle(socket).await;
                        });
                    }
                });
            })
            .unwrap();
        Self {
            url,
            state,
            changed,
            _thread: thread,
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state.lock().unwrap().faults = faults;
    }

    /// Environment every pod's process gets besides its container env.
    pub fn set_pod_env(&self, env: Vec<(String, String)>) {
        self.state.lock().unwrap().pod_env = env;
    }

    /// Runs `path` when a container's command is `program` (the image's entry point).
    pub fn map_program(&self, program: &str, path: &str) {
        self.state
            .lock()
            .unwrap()
            .programs
            .insert(program.to_owned(), path.to_owned());
    }

    /// Forgets the pod history: a watch from any version seen so far gets 410 Gone.
    pub fn compact(&self) {
        let mut s = self.state.lock().unwrap();
        s.compacted_below = s.rv;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn jobs(&self) -> Vec<Value> {
        self.state.lock().unwrap().jobs.values().cloned().collect()
    }

    pub fn pods(&self) -> Vec<Value> {
        self.state.lock().unwrap().pods.values().cloned().collect()
    }

    pub fn watches_dropped(&self) -> usize {
        self.state.lock().unwrap().watches_dropped
    }

    /// Waits until `f` holds for the state (polling), or panics after `secs`.
    pub fn wait_for(&self, secs: u64, what: &str, f: impl Fn(&[Value], &[Value]) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            {
                let s = self.state.lock().unwrap();
                let jobs: Vec<Value> = s.jobs.values().cloned().collect();
                let pods: Vec<Value> = s.pods.values().cloned().collect();
                if f(&jobs, &pods) {
                    return;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[derive(Clone)]
struct Server {
    state: Arc<Mutex<State>>,
    changed: watch::Sender<u64>,
}

struct Request {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    body: String,
}

impl Server {
    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    async fn handle(&self, socket: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(socket);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            head.push_str(&line);
        }
        let mut lines = head.lines();
        let request_line = lines.next().unwrap_or_default().to_owned();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut headers = BTreeMap::new();
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let mut body = Vec::new();
        if let Some(len) = headers
            .get("content-length")
            .and_then(|l| l.parse::<usize>().ok())
        {
            body.resize(len, 0);
            reader.read_exact(&mut body).await?;
        } else if headers
            .get("transfer-encoding")
            .is_some_and(|t| t.contains("chunked"))
        {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size).await?;
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                reader.read_exact(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        }
        let (path, query_str) = target.split_once('?').unwrap_or((&target, ""));
        let query: BTreeMap<String, String> = query_str
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        let req = Request {
            method,
            path: path.to_owned(),
            query,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        self.state.lock().unwrap().requests.push(Recorded {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            authorization: headers.get("authorization").cloned(),
            body: req.body.clone(),
        });
        let mut socket = reader.into_inner();
        self.route(&req, &mut socket).await
    }

    async fn route(&self, req: &Request, socket: &mut TcpStream) -> std::io::Result<()> {
        let segs: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        match (req.method.as_str(), segs.as_slice()) {
            ("POST", ["apis", "batch", "v1", "namespaces", ns, "jobs"]) => {
                let (code, body) = self.create_job(ns, &req.body);
                respond(socket, code, &body).await
            }
            ("GET", ["apis", "batch", "v1", "namespaces", ns, "jobs"]) => {
                let body = {
                    let s = self.state.lock().unwrap();
                    let items: Vec<Value> = s
                        .jobs
                        .iter()
                        .filter(|((n, _), j)| {
                            n == ns && label_matches(j, req.query.get("labelSelector"))
                        })
                        .map(|(_, j)| j.clone())
                        .collect();
                    json!({"kind":"JobList","apiVersion":"batch/v1",
                        "metadata":{"resourceVersion":s.rv.to_string()},"items":items})
                };
                respond(socket, 200, &body).await
            }
            ("GET", ["apis", "batch", "v1", "namespaces", ns, "jobs", name]) => {
                let job = self
                    .state
                    .lock()
                    .unwrap()
                    .jobs
                    .get(&((*ns).to_owned(), (*name).to_owned()))
                    .cloned();
                match job {
                    Some(j) => respond(socket, 200, &j).await,
                    None => {
                        let msg = format!("jobs.batch \"{name}\" not found");
                        respond(socket, 404, &status(404, "NotFound", &msg)).await
                    }
                }
            }
            ("DELETE", ["apis", "batch", "v1", "namespaces", ns, "jobs", name]) => {
                let (code, body) = self.delete_job(ns, name);
                respond(socket, code, &body).await
            }
            ("GET", ["api", "v1", "namespaces", ns, "pods"]) => {
                if req.query.get("watch").map(String::as_str) == Some("true") {
                    self.watch_pods(ns, req, socket).await
                } else {
                    let body = {
                        let s = self.state.lock().unwrap();
                        let items: Vec<Value> = s
                            .pods
                            .iter()
                            .filter(|((n, _), p)| {
                                n == ns && label_matches(p, req.query.get("labelSelector"))
                            })
                            .map(|(_, p)| p.clone())
                            .collect();
                        json!({"kind":"PodList","apiVersion":"v1",
                            "metadata":{"resourceVersion":s.rv.to_string()},"items":items})
                    };
                    respond(socket, 200, &body).await
                }
            }
            ("GET", ["api", "v1", "namespaces", ns, "pods", pod, "log"]) => {
                self.pod_log(ns, pod, req, socket).await
            }
            _ => {
                let msg = format!(
                    "the server could not find the requested resource ({} {})",
                    req.method, req.path
                );
                respond(socket, 404, &status(404, "NotFound", &msg)).await
            }
        }
    }

    fn next_rv(s: &mut State) -> u64 {
        s.rv += 1;
        s.rv
    }

    fn record_pod(s: &mut State, kind: &'static str, ns: &str, mut pod: Value) {
        let rv = Self::next_rv(s);
        pod["metadata"]["resourceVersion"] = json!(rv.to_string());
        let name = pod["metadata"]["name"].as_str().unwrap().to_owned();
        if kind == "DELETED" {
            s.pods.remove(&(ns.to_owned(), name));
        } else {
            s.pods.insert((ns.to_owned(), name), pod.clone());
        }
        s.events.push(Event { rv, kind, pod });
    }

    fn create_job(&self, ns: &str, body: &str) -> (u16, Value) {
        let Ok(mut job) = serde_json::from_str::<Value>(body) else {
            return (
                400,
                status(400, "BadRequest", "the request body is not JSON"),
            );
        };
        let name = job["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut s = self.state.lock().unwrap();
        if s.jobs.contains_key(&(ns.to_owned(), name.clone())) {
            let msg = format!("jobs.batch \"{name}\" already exists");
            return (409, status(409, "AlreadyExists", &msg));
        }
        s.uid += 1;
        let uid = format!("00000000-0000-4000-8000-{:012}", s.uid);
        let rv = Self::next_rv(&mut s);
        job["metadata"]["namespace"] = json!(ns);
        job["metadata"]["uid"] = json!(uid);
        job["metadata"]["resourceVersion"] = json!(rv.to_string());
        job["metadata"]["creationTimestamp"] = json!(now());
        job["status"] = json!({"startTime": now(), "active": 0});
        s.jobs.insert((ns.to_owned(), name.clone()), job.clone());
        drop(s);
        let server = self.clone();
        let ns = ns.to_owned();
        tokio::spawn(async move { server.run_job(ns, name).await });
        self.bump();
        (201, job)
    }

    fn delete_job(&self, ns: &str, name: &str) -> (u16, Value) {
        let mut s = self.state.lock().unwrap();
        let Some(mut job) = s.jobs.remove(&(ns.to_owned(), name.to_owned())) else {
            let msg = format!("jobs.batch \"{name}\" not found");
            return (404, status(404, "NotFound", &msg));
        };
        let owned: Vec<(String, String)> = s
            .pods
            .iter()
            .filter(|((n, _), p)| n == ns && p["metadata"]["labels"]["job-name"] == json!(name))
            .map(|(k, _)| k.clone())
            .collect();
        for key in owned {
            if let Some(pid) = s.pids.remove(&key) {
                s.killed.insert(key.clone());
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            if let Some(log) = s.logs.get_mut(&key) {
                log.done = true;
            }
            if let Some(pod) = s.pods.get(&key).cloned() {
                Self::record_pod(&mut s, "DELETED", ns, pod);
            }
        }
        job["metadata"]["deletionTimestamp"] = json!(now());
        job["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
        drop(s);
        self.bump();
        (200, job)
    }

    /// The Job controller: creates pods (at most `parallelism` at once) until every
    /// completion index has succeeded, or one failed (backoffLimit 0).
    async fn run_job(&self, ns: String, name: String) {
        let (job, uid) = {
            let s = self.state.lock().unwrap();
            let Some(job) = s.jobs.get(&(ns.clone(), name.clone())).cloned() else {
                return;
            };
            let uid = job["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (job, uid)
        };
        let completions = job["spec"]["completions"].as_u64().unwrap_or(1) as usize;
        let parallelism = job["spec"]["parallelism"].as_u64().unwrap_or(1).max(1) as usize;
        let indexed = job["spec"]["completionMode"].as_str() == Some("Indexed");
        let mut next = 0usize;
        let mut running: Vec<tokio::task::JoinHandle<bool>> = Vec::new();
        let mut succeeded = 0usize;
        let mut failed = false;
        while (next < completions || !running.is_empty()) && !failed {
            while next < completions && running.len() < parallelism && !failed {
                let server = self.clone();
                let (ns2, name2, uid2, job2) = (ns.clone(), name.clone(), uid.clone(), job.clone());
                let index = next;
                running.push(tokio::spawn(async move {
                    server
                        .run_pod(&ns2, &name2, &uid2, &job2, index, indexed)
                        .await
                }));
                next += 1;
                self.set_job_status(&ns, &name, running.len(), succeeded, 0, None);
            }
            let (done, _, rest) = futures::future::select_all(running).await;
            running = rest;
            match done {
                Ok(true) => succeeded += 1,
                _ => failed = true,
            }
            if !self
                .state
                .lock()
                .unwrap()
                .jobs
                .contains_key(&(ns.clone(), name.clone()))
            {
                return;
            }
            self.set_job_status(
                &ns,
                &name,
                running.len(),
                succeeded,
                usize::from(failed),
                None,
            );
        }
        if failed {
            // backoffLimit 0: the Job fails and its other pods are ended.
            for handle in &running {
                handle.abort();
            }
            self.kill_job_pods(&ns, &name);
            self.set_job_status(
                &ns,
                &name,
                0,
                succeeded,
                1,
                Some((
                    "Failed",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                )),
            );
        } else {
            self.set_job_status(&ns, &name, 0, succeeded, 0, Some(("Complete", "", "")));
        }
    }

    fn kill_job_pods(&self, ns: &str, name: &str) {
        let mut s = self.state.lock().unwrap();
        let keys: Vec<(String, String)> = s
            .pods
            .iter()
            .filter(|((n, _), p)| {
                n == ns
                    && p["metadata"]["labels"]["job-name"] == json!(name)
                    && !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(pid) = s.pids.remove(&key) {
                s.killed.insert(key.clone());
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            if let Some(log) = s.logs.get_mut(&key) {
                log.done = true;
            }
            if let Some(pod) = s.pods.get(&key).cloned() {
                Self::record_pod(&mut s, "DELETED", ns, pod);
            }
        }
        drop(s);
        self.bump();
    }

    fn set_job_status(
        &self,
        ns: &str,
        name: &str,
        active: usize,
        succeeded: usize,
        failed: usize,
        condition: Option<(&str, &str, &str)>,
    ) {
        let mut s = self.state.lock().unwrap();
        let rv = Self::next_rv(&mut s);
        let Some(job) = s.jobs.get_mut(&(ns.to_owned(), name.to_owned())) else {
            return;
        };
        job["metadata"]["resourceVersion"] = json!(rv.to_string());
        job["status"]["active"] = json!(active);
        job["status"]["succeeded"] = json!(succeeded);
        job["status"]["failed"] = json!(failed);
        if let Some((kind, reason, message)) = condition {
            if kind == "Complete" {
                job["status"]["completionTime"] = json!(now());
            }
            job["status"]["conditions"] = json!([{"type":kind,"status":"True","reason":reason,
                "message":message,"lastProbeTime":now(),"lastTransitionTime":now()}]);
        }
        drop(s);
        self.bump();
    }

    /// The kubelet: one pod through Pending → Running → Succeeded/Failed, its container run as
    /// a local process. Returns whether it succeeded.
    async fn run_pod(
        &self,
        ns: &str,
        job_name: &str,
        job_uid: &str,
        job: &Value,
        index: usize,
        indexed: bool,
    ) -> bool {
        let (mut pod, container) = self.new_pod(ns, job_name, job_uid, job, index, indexed);
        let pod_name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let image = container["image"].as_str().unwrap_or_default().to_owned();
        let container_status = |state: Value, ready: bool, started: bool| {
            json!([{"name": container["name"], "image": image, "imageID": "", "ready": ready,
                    "restartCount": 0, "started": started, "state": state}])
        };
        let key = (ns.to_owned(), pod_name.clone());
        let faults = {
            let mut s = self.state.lock().unwrap();
            s.logs.insert(key.clone(), PodLog::default());
            Self::record_pod(&mut s, "ADDED", ns, pod.clone());
            s.faults.clone()
        };
        self.bump();
        tokio::time::sleep(Duration::from_millis(30) + faults.start_delay).await;

        if faults.image_pull_error {
            return self
                .image_pull_back_off(ns, &mut pod, &key, &image, &container_status)
                .await;
        }
        self.run_container(
            ns,
            &mut pod,
            key,
            &container,
            index,
            faults.oom_indexes.contains(&index),
            &container_status,
        )
        .await
    }

    /// The pod a Job's template makes (Pending, its container creating) and its first container.
    fn new_pod(
        &self,
        ns: &str,
        job_name: &str,
        job_uid: &str,
        job: &Value,
        index: usize,
        indexed: bool,
    ) -> (Value, Value) {
        let template = &job["spec"]["template"];
        let suffix: String = format!("{:05x}", (index as u64 * 7919 + 12345) % 0xfffff);
        let pod_name = if indexed {
            format!("{job_name}-{index}-{suffix}")
        } else {
            format!("{job_name}-{suffix}")
        };
        let mut labels = template["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        labels["job-name"] = json!(job_name);
        labels["batch.kubernetes.io/job-name"] = json!(job_name);
        labels["controller-uid"] = json!(job_uid);
        labels["batch.kubernetes.io/controller-uid"] = json!(job_uid);
        let mut annotations = json!({});
        let mut spec = template["spec"].clone();
        if indexed {
            labels["batch.kubernetes.io/job-completion-index"] = json!(index.to_string());
            annotations["batch.kubernetes.io/job-completion-index"] = json!(index.to_string());
            if let Some(containers) = spec["containers"].as_array_mut() {
                for c in containers {
                    let env = c["env"].as_array().cloned().unwrap_or_default();
                    let mut env = env;
                    env.push(json!({"name":"JOB_COMPLETION_INDEX","valueFrom":{"fieldRef":{
                        "fieldPath":"metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}));
                    c["env"] = json!(env);
                }
            }
        }
        let container = spec["containers"][0].clone();
        let image = container["image"].as_str().unwrap_or_default().to_owned();
        let container_status = |state: Value, ready: bool, started: bool| {
            json!([{"name": container["name"], "image": image, "imageID": "", "ready": ready,
                    "restartCount": 0, "started": started, "state": state}])
        };
        let uid = {
            let mut s = self.state.lock().unwrap();
            s.uid += 1;
            format!("00000000-0000-4000-9000-{:012}", s.uid)
        };
        let pod = json!({
            "apiVersion":"v1","kind":"Pod",
            "metadata":{"name":pod_name,"namespace":ns,"uid":uid,"creationTimestamp":now(),
                "labels":labels,"annotations":annotations,
                "ownerReferences":[{"apiVersion":"batch/v1","kind":"Job","name":job_name,
                    "uid":job_uid,"controller":true,"blockOwnerDeletion":true}]},
            "spec":spec,
            "status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"True"}],
                "containerStatuses": container_status(json!({"waiting":{"reason":"ContainerCreating"}}), false, false),
                "startTime": now()}
        });
        (pod, container)
    }

    /// An image that cannot be pulled: `ErrImagePull`, then `ImagePullBackOff` until the Job is
    /// deleted.
    async fn image_pull_back_off(
        &self,
        ns: &str,
        pod: &mut Value,
        key: &(String, String),
        image: &str,
        container_status: &(dyn Fn(Value, bool, bool) -> Value + Sync),
    ) -> bool {
        for (reason, message) in [
            (
                "ErrImagePull",
                format!("failed to pull and unpack image \"{image}\": not found"),
            ),
            (
                "ImagePullBackOff",
                format!("Back-off pulling image \"{image}\""),
            ),
        ] {
            pod["status"]["containerStatuses"] = container_status(
                json!({"waiting":{"reason":reason,"message":message}}),
                false,
                false,
            );
            if !self.update_pod(ns, pod) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Stays in ImagePullBackOff until the Job is deleted.
        loop {
            if !self.state.lock().unwrap().pods.contains_key(key) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs the pod's container as a local process (command + args with the pod's env), streams
    /// its output to the pod log and ends the pod Succeeded or Failed. Returns whether it succeeded.
    #[allow(clippy::too_many_arguments)]
    async fn run_container(
        &self,
        ns: &str,
        pod: &mut Value,
        key: (String, String),
        container: &Value,
        index: usize,
        oom: bool,
        container_status: &(dyn Fn(Value, bool, bool) -> Value + Sync),
    ) -> bool {
        let mut argv: Vec<String> = container["command"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(container["args"].as_array().into_iter().flatten())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        if argv.is_empty() {
            argv.push("true".into());
        }
        if let Some(path) = self.state.lock().unwrap().programs.get(&argv[0]) {
            argv[0].clone_from(path);
        }
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in self.state.lock().unwrap().pod_env.clone() {
            cmd.env(k, v);
        }
        for e in container["env"].as_array().into_iter().flatten() {
            let name = e["name"].as_str().unwrap_or_default();
            if let Some(v) = e["value"].as_str() {
                cmd.env(name, v);
            } else if e["valueFrom"].is_object() && name == "JOB_COMPLETION_INDEX" {
                cmd.env(name, index.to_string());
            }
        }
        let started_at = now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                pod["status"]["phase"] = json!("Failed");
                pod["status"]["containerStatuses"] = container_status(
                    json!({"terminated":{"exitCode":128,"reason":"StartError","message":e.to_string(),
                        "startedAt":started_at,"finishedAt":now()}}),
                    false,
                    false,
                );
                self.update_pod(ns, pod);
                return false;
            }
        };
        if let Some(pid) = child.id() {
            self.state.lock().unwrap().pids.insert(key.clone(), pid);
        }
        pod["status"]["phase"] = json!("Running");
        pod["status"]["containerStatuses"] =
            container_status(json!({"running":{"startedAt":started_at}}), true, true);
        if !self.update_pod(ns, pod) {
            return false;
        }
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let out_task = {
            let server = self.clone();
            let key = key.clone();
            tokio::spawn(async move { server.pump(stdout, key, oom).await })
        };
        let err_task = {
            let server = self.clone();
            let key = key.clone();
            tokio::spawn(async move { server.pump(stderr, key, false).await })
        };
        let exit = child.wait().await;
        let _ = out_task.await;
        let _ = err_task.await;
        let killed_by_delete = {
            let mut s = self.state.lock().unwrap();
            s.pids.remove(&key);
            if let Some(log) = s.logs.get_mut(&key) {
                log.done = true;
            }
            s.killed.contains(&key)
        };
        self.bump();
        if killed_by_delete {
            return false;
        }
        let code = exit.ok().and_then(|s| s.code()).unwrap_or(137);
        let (code, reason) = if oom {
            (137, "OOMKilled")
        } else if code == 0 {
            (0, "Completed")
        } else {
            (code, "Error")
        };
        pod["status"]["phase"] = json!(if code == 0 { "Succeeded" } else { "Failed" });
        pod["status"]["containerStatuses"] = container_status(
            json!({"terminated":{"exitCode":code,"reason":reason,"startedAt":started_at,
                "finishedAt":now()}}),
            false,
            true,
        );
        self.update_pod(ns, pod);
        code == 0
    }

    /// Appends a process's output to the pod log; for an `OOMKilled` index, kills the process
    /// after its first line (as the kernel would at the memory limit).
    async fn pump(&self, out: impl tokio::io::AsyncRead + Unpin, key: (String, String), oom: bool) {
        let mut lines = BufReader::new(out).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            {
                let mut s = self.state.lock().unwrap();
                if let Some(log) = s.logs.get_mut(&key) {
                    log.text.extend_from_slice(line.as_bytes());
                    log.text.push(b'\n');
                }
                if oom && let Some(pid) = s.pids.remove(&key) {
                    let _ = std::process::Command::new("kill")
                        .args(["-9", &pid.to_string()])
                        .stderr(Stdio::null())
                        .status();
                }
            }
            self.bump();
        }
    }

    /// Records a pod change unless the pod was deleted meanwhile.
    fn update_pod(&self, ns: &str, pod: &Value) -> bool {
        let mut s = self.state.lock().unwrap();
        let name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if !s.pods.contains_key(&(ns.to_owned(), name)) {
            return false;
        }
        Self::record_pod(&mut s, "MODIFIED", ns, pod.clone());
        drop(s);
        self.bump();
        true
    }

    async fn watch_pods(
        &self,
        ns: &str,
        req: &Request,
        socket: &mut TcpStream,
    ) -> std::io::Result<()> {
        let from: u64 = req
            .query
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let timeout = req
            .query
            .get("timeoutSeconds")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(290);
        let bookmarks = req.query.get("allowWatchBookmarks").map(String::as_str) == Some("true");
        let selector = req.query.get("labelSelector").cloned();
        start_chunked(socket, "application/json").await?;
        let (gone, drop_after) = {
            let mut s = self.state.lock().unwrap();
            s.watch_requests += 1;
            let n = s.watch_requests;
            let gone = from < s.compacted_below || s.faults.gone_for_watch.contains(&n);
            let drop_after = if s.watches_dropped == 0 && !gone {
                s.faults.drop_first_watch_after
            } else {
                None
            };
            if drop_after.is_some() {
                s.watches_dropped += 1;
            }
            (gone, drop_after)
        };
        if gone {
            let line = json!({"type":"ERROR","object":status(410, "Expired",
                &format!("too old resource version: {from}"))});
            send_chunk(socket, format!("{line}\n").as_bytes()).await?;
            return end_chunked(socket).await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        let mut rx = self.changed.subscribe();
        let mut sent_rv = from;
        let mut sent_objects = 0usize;
        let mut last_bookmark = tokio::time::Instant::now();
        loop {
            let (pending, current_rv): (Vec<Event>, u64) = {
                let s = self.state.lock().unwrap();
                (
                    s.events
                        .iter()
                        .filter(|e| e.rv > sent_rv)
                        .filter(|e| e.pod["metadata"]["namespace"] == json!(ns))
                        .filter(|e| label_matches(&e.pod, selector.as_ref()))
                        .cloned()
                        .collect(),
                    s.rv,
                )
            };
            for e in pending {
                if drop_after.is_some_and(|n| sent_objects >= n) {
                    // Cut the connection mid-stream: no terminating chunk.
                    let _ = socket.shutdown().await;
                    return Ok(());
                }
                let line = json!({"type": e.kind, "object": e.pod});
                send_chunk(socket, format!("{line}\n").as_bytes()).await?;
                sent_rv = e.rv;
                sent_objects += 1;
            }
            if bookmarks
                && last_bookmark.elapsed() > Duration::from_millis(300)
                && current_rv > sent_rv
            {
                let line = json!({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1",
                    "metadata":{"resourceVersion": current_rv.to_string(),
                    "annotations":{"k8s.io/initial-events-end":"true"}}}});
                send_chunk(socket, format!("{line}\n").as_bytes()).await?;
                sent_rv = current_rv;
                last_bookmark = tokio::time::Instant::now();
            }
            let wait = tokio::time::timeout_at(
                deadline.min(tokio::time::Instant::now() + Duration::from_millis(300)),
                rx.changed(),
            )
            .await;
            if tokio::time::Instant::now() >= deadline {
                return end_chunked(socket).await;
            }
            if let Ok(Err(_)) = wait {
                return end_chunked(socket).await;
            }
        }
    }

    async fn pod_log(
        &self,
        ns: &str,
        pod: &str,
        req: &Request,
        socket: &mut TcpStream,
    ) -> std::io::Result<()> {
        let key = (ns.to_owned(), pod.to_owned());
        let follow = req.query.get("follow").map(String::as_str) == Some("true");
        let refusal = {
            let s = self.state.lock().unwrap();
            match s.pods.get(&key) {
                None => Some((
                    404,
                    status(404, "NotFound", &format!("pods \"{pod}\" not found")),
                )),
                Some(p) if p["status"]["containerStatuses"][0]["state"]["waiting"].is_object() => {
                    let container = req.query.get("container").cloned().unwrap_or_default();
                    let msg = format!(
                        "container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating"
                    );
                    Some((400, status(400, "BadRequest", &msg)))
                }
                Some(_) => None,
            }
        };
        if let Some((code, body)) = refusal {
            return respond(socket, code, &body).await;
        }
        let drop_after = {
            let mut s = self.state.lock().unwrap();
            let limit = s.faults.drop_first_log_after;
            match limit {
                Some(n) if s.logs_dropped.insert(pod.to_owned()) => Some(n),
                _ => None,
            }
        };
        start_chunked(socket, "text/plain").await?;
        let mut rx = self.changed.subscribe();
        let mut sent = 0usize;
        let mut sent_lines = 0usize;
        loop {
            let current = {
                let s = self.state.lock().unwrap();
                s.logs
                    .get(&key)
                    .map(|log| (log.text[sent..].to_vec(), log.done))
            };
            let Some((chunk, done)) = current else {
                return end_chunked(socket).await;
            };
            if !chunk.is_empty() {
                // Whole lines only, so a cut lands between lines like a real dropped stream
                // that the client reads line by line.
                let upto = chunk.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                let mut start = 0;
                for (i, b) in chunk[..upto].iter().enumerate() {
                    if *b == b'\n' {
                        if drop_after.is_some_and(|n| sent_lines >= n) {
                            let _ = socket.shutdown().await;
                            return Ok(());
                        }
                        send_chunk(socket, &chunk[start..=i]).await?;
                        sent_lines += 1;
                        start = i + 1;
                    }
                }
                sent += upto;
            }
            if done || !follow {
                let rest = {
                    let s = self.state.lock().unwrap();
                    s.logs.get(&key).map_or(0, |l| l.text.len())
                };
                if rest == sent {
                    return end_chunked(socket).await;
                }
                continue;
            }
            let _ = tokio::time::timeout(Duration::from_millis(300), rx.changed()).await;
        }
    }
}

async fn respond(socket: &mut TcpStream, code: u16, body: &Value) -> std::io::Result<()> {
    let text = body.to_string();
    let reason = match code {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        410 => "Gone",
        _ => "Status",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(text.as_bytes()).await?;
    socket.flush().await?;
    let _ = socket.shutdown().await;
    Ok(())
}

async fn start_chunked(socket: &mut TcpStream, content_type: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await?;
    socket.flush().await
}

async fn send_chunk(socket: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    socket
        .write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    socket.write_all(data).await?;
    socket.write_all(b"\r\n").await?;
    socket.flush().await
}

async fn end_chunked(socket: &mut TcpStream) -> std::io::Result<()> {
    socket.write_all(b"0\r\n\r\n").await?;
    socket.flush().await?;
    let _ = socket.shutdown().await;
    Ok(())
}
