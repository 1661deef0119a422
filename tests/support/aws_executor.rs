//! TEST DOUBLE — the AWS executor. Moto answers the ECS and Batch APIs but runs no container,
//! so this fixture plays AWS's compute side: a thread watches moto for tasks Medallion starts
//! (`ListTasks`/`DescribeTasks`, or Batch `ListJobs`/`DescribeJobs`), runs the REAL runner
//! binary with the submitted command and environment (S3 on moto), and writes the runner's
//! stdout into the task's `CloudWatch` Logs stream exactly as the awslogs driver would name it
//! (`<prefix>/<container>/<task-id>`), via `PutLogEvents`. The stream is created a second after
//! the task starts, so the app has to wait for a stream that does not exist yet.
//!
//! By default the runner is this build's binary on the host; [`Launch::Image`] runs it instead
//! inside an unpacked runner image's root filesystem, as the image's user, with the image's
//! entrypoint and environment — the way Fargate starts the container.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One container the executor ran.
#[derive(Debug, Clone)]
pub struct Ran {
    pub id: String,
    pub log_group: String,
    pub log_stream: String,
    pub exit_code: Option<i32>,
    pub lines: usize,
}

/// How the executor starts a container's process.
#[derive(Debug, Clone)]
pub enum Launch {
    /// This build's `medallion` binary on the host, with the task's command as its arguments.
    Host,
    /// Inside an unpacked image (see [`ImageRoot`]).
    Image(ImageRoot),
}

/// An unpacked OCI image, as a container runtime would start it: `entrypoint` followed by the
/// task's command (ECS's command override replaces the image's CMD), run in `rootfs` as
/// `uid:gid` in `cwd`, with the image's environment under the task's.
#[derive(Debug, Clone)]
pub struct ImageRoot {
    pub rootfs: PathBuf,
    pub entrypoint: Vec<String>,
    pub uid: u32,
    pub gid: u32,
    pub cwd: String,
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// The process to start for `command`, its output not yet redirected.
    fn command(&self, command: &[String]) -> Command {
        match self {
            Self::Host => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_medallion"));
                c.args(command).env_remove("MEDALLION_WORKSPACE");
                c
            }
            Self::Image(image) => {
                // A private mount and PID namespace with the image's root as `/` and its own
                // /proc, as a container has; the network is the host's (moto is on loopback).
                let mut c = Command::new("unshare");
                c.arg("--mount")
                    .arg("--pid")
                    .arg("--fork")
                    .arg(format!("--root={}", image.rootfs.display()))
                    .arg("--mount-proc")
                    .arg(format!("--setgid={}", image.gid))
                    .arg(format!("--setuid={}", image.uid))
                    .arg(format!("--wd={}", image.cwd))
                    .arg("--")
                    .args(&image.entrypoint)
                    .args(command)
                    .env_clear()
                    .envs(image.env.iter().cloned());
                c
            }
        }
    }
}

/// A running executor; stops when dropped.
pub struct Executor {
    stop: Arc<AtomicBool>,
    /// While set, new tasks are seen but not run (to cancel them, or to kill the app first).
    pub hold: Arc<AtomicBool>,
    /// When set, a Fargate task is stopped (`StopTask`) once its container has exited, as
    /// Fargate stops a task whose essential container ends: moto otherwise keeps it RUNNING,
    /// and Step Functions' `ecs:runTask.sync` waits for STOPPED.
    pub stop_tasks: Arc<AtomicBool>,
    pub ran: Arc<Mutex<Vec<Ran>>>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

pub fn sdk_config(moto: &str) -> aws_config::SdkConfig {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto)
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test"),
        ))
        .build()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The environment a container on moto gets besides the task's own.
pub fn container_env(moto: &str) -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", moto),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Runs the runner with `command` and `env`, started as `launch` says, shipping each stdout line
/// to the log `(group, stream)`. Returns the exit code and the number of lines.
pub fn run_container(
    rt: &tokio::runtime::Runtime,
    logs: &aws_sdk_cloudwatchlogs::Client,
    moto: &str,
    (command, env): (&[String], &[(String, String)]),
    (group, stream): (&str, &str),
    launch: &Launch,
) -> (Option<i32>, usize) {
    // The awslogs driver creates the stream when the container starts — a moment after the
    // app starts asking for it, so the app must wait for a stream that does not exist yet.
    std::thread::sleep(Duration::from_secs(1));
    rt.block_on(
        logs.create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send(),
    )
    .expect("create the log stream");
    let put = |line: String| {
        let event = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .timestamp(chrono::Utc::now().timestamp_millis())
            .message(line)
            .build()
            .unwrap();
        rt.block_on(
            logs.put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .log_events(event)
                .send(),
        )
        .expect("put a log event");
    };
    put("fixture: container started (awslogs test double)".to_owned());
    let mut child = launch
        .command(command)
        .envs(container_env(moto))
        .envs(env.iter().cloned())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the runner");
    let stdout = child.stdout.take().unwrap();
    let mut lines = 0usize;
    for line in std::io::BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        lines += 1;
        put(line);
    }
    let status = child.wait().expect("wait for the runner");
    (status.code(), lines)
}

impl Executor {
    /// Plays Fargate for the tasks of `cluster`.
    pub fn fargate(moto: &str, cluster: &str) -> Self {
        Self::fargate_with(moto, cluster, Launch::Host)
    }

    /// Plays Fargate for the tasks of `cluster`, starting each container as `launch` says.
    pub fn fargate_with(moto: &str, cluster: &str, launch: Launch) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let hold = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(Mutex::new(Vec::new()));
        let (moto, cluster) = (moto.to_owned(), cluster.to_owned());
        let stop_tasks = Arc::new(AtomicBool::new(false));
        let (s, h, r) = (stop.clone(), hold.clone(), ran.clone());
        let stopping = stop_tasks.clone();
        let handle = std::thread::Builder::new()
            .name("test-aws-executor".into())
            .spawn(move || fargate_loop(&moto, &cluster, &launch, (&s, &h, &stopping), &r))
            .unwrap();
        Self {
            stop,
            hold,
            stop_tasks,
            ran,
            handle: Some(handle),
        }
    }

    /// Waits until `n` containers have run.
    pub fn wait_ran(&self, n: usize, timeout: Duration) -> Vec<Ran> {
        let start = std::time::Instant::now();
        loop {
            let ran = self.ran.lock().unwrap().clone();
            if ran.len() >= n || start.elapsed() > timeout {
                return ran;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Executor {
    /// Plays AWS Batch for the jobs of `queue`, whose logs go to `log_group`. Moto marks jobs
    /// SUCCEEDED at once (with `{"batch":{"use_docker":false}}`); this runs each — every child
    /// of an array job with its `AWS_BATCH_JOB_ARRAY_INDEX` — and ships its output.
    pub fn batch(moto: &str, queue: &str, log_group: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let hold = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(Mutex::new(Vec::new()));
        let (moto, queue, group) = (moto.to_owned(), queue.to_owned(), log_group.to_owned());
        let (s, h, r) = (stop.clone(), hold.clone(), ran.clone());
        let handle = std::thread::Builder::new()
            .name("test-aws-executor-batch".into())
            .spawn(move || batch_loop(&moto, &queue, &group, &s, &h, &r))
            .unwrap();
        Self {
            stop,
            hold,
            stop_tasks: Arc::new(AtomicBool::new(false)),
            ran,
            handle: Some(handle),
        }
    }
}

fn batch_loop(
    moto: &str,
    queue: &str,
    group: &str,
    stop: &AtomicBool,
    hold: &AtomicBool,
    ran: &Mutex<Vec<Ran>>,
) {
    let rt = runtime();
    let config = sdk_config(moto);
    let batch = aws_sdk_batch::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let mut seen = BTreeSet::new();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(150));
        if hold.load(Ordering::Relaxed) {
            continue;
        }
        let mut ids = Vec::new();
        for status in [
            aws_sdk_batch::types::JobStatus::Succeeded,
            aws_sdk_batch::types::JobStatus::Running,
            aws_sdk_batch::types::JobStatus::Submitted,
        ] {
            if let Ok(list) =
                rt.block_on(batch.list_jobs().job_queue(queue).job_status(status).send())
            {
                ids.extend(
                    list.job_summary_list()
                        .iter()
                        .filter_map(|j| j.job_id().map(str::to_owned))
                        .filter(|id| !id.contains(':')),
                );
            }
        }
        for id in ids {
            if !seen.insert(id.clone()) {
                continue;
            }
            let describe = |job: &str| {
                rt.block_on(batch.describe_jobs().jobs(job).send())
                    .expect("describe the job")
                    .jobs()[0]
                    .clone()
            };
            let job = describe(&id);
            let container = job.container().unwrap().clone();
            let command = container.command().to_vec();
            let env: Vec<(String, String)> = container
                .environment()
                .iter()
                .map(|kv| {
                    (
                        kv.name().unwrap_or_default().to_owned(),
                        kv.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let size = job
                .array_properties()
                .and_then(aws_sdk_batch::types::ArrayPropertiesDetail::size)
                .unwrap_or(0);
            let children: Vec<(String, Option<usize>)> = if size > 1 {
                (0..size as usize)
                    .map(|i| (format!("{id}:{i}"), Some(i)))
                    .collect()
            } else {
                vec![(id.clone(), None)]
            };
            for (child, index) in children {
                let stream = describe(&child)
                    .container()
                    .and_then(|c| c.log_stream_name())
                    .map(str::to_owned)
                    .or_else(|| container.log_stream_name().map(str::to_owned))
                    .expect("a log stream name");
                let mut env = env.clone();
                if let Some(i) = index {
                    env.push(("AWS_BATCH_JOB_ARRAY_INDEX".to_owned(), i.to_string()));
                }
                let (exit_code, lines) = run_container(
                    &rt,
                    &logs,
                    moto,
                    (&command, &env),
                    (group, &stream),
                    &Launch::Host,
                );
                ran.lock().unwrap().push(Ran {
                    id: child,
                    log_group: group.to_owned(),
                    log_stream: stream,
                    exit_code,
                    lines,
                });
            }
        }
    }
}

fn fargate_loop(
    moto: &str,
    cluster: &str,
    launch: &Launch,
    (stop, hold, stop_tasks): (&AtomicBool, &AtomicBool, &AtomicBool),
    ran: &Mutex<Vec<Ran>>,
) {
    let rt = runtime();
    let config = sdk_config(moto);
    let ecs = aws_sdk_ecs::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let mut seen = BTreeSet::new();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(150));
        if hold.load(Ordering::Relaxed) {
            continue;
        }
        let Ok(list) = rt.block_on(ecs.list_tasks().cluster(cluster).send()) else {
            continue;
        };
        for arn in list.task_arns() {
            if !seen.insert(arn.clone()) {
                continue;
            }
            let described = rt
                .block_on(ecs.describe_tasks().cluster(cluster).tasks(arn).send())
                .expect("describe the task");
            let task = described.tasks().first().expect("the task").clone();
            let def = rt
                .block_on(
                    ecs.describe_task_definition()
                        .task_definition(task.task_definition_arn().unwrap())
                        .send(),
                )
                .expect("describe the task definition");
            let container = def.task_definition().unwrap().container_definitions()[0].clone();
            let name = container.name().unwrap().to_owned();
            let options = container
                .log_configuration()
                .and_then(|l| l.options())
                .cloned()
                .unwrap_or_default();
            let group = options["awslogs-group"].clone();
            let prefix = options["awslogs-stream-prefix"].clone();
            let task_id = arn.rsplit('/').next().unwrap().to_owned();
            let stream = format!("{prefix}/{name}/{task_id}");
            let overrides = task
                .overrides()
                .unwrap()
                .container_overrides()
                .iter()
                .find(|o| o.name() == Some(name.as_str()))
                .unwrap()
                .clone();
            let command = overrides.command().to_vec();
            let env: Vec<(String, String)> = overrides
                .environment()
                .iter()
                .map(|kv| {
                    (
                        kv.name().unwrap_or_default().to_owned(),
                        kv.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let (exit_code, lines) = run_container(
                &rt,
                &logs,
                moto,
                (&command, &env),
                (&group, &stream),
                launch,
            );
            if stop_tasks.load(Ordering::Relaxed) {
                rt.block_on(
                    ecs.stop_task()
                        .cluster(cluster)
                        .task(arn)
                        .reason("Essential container in task exited")
                        .send(),
                )
                .expect("stop the task");
            }
            ran.lock().unwrap().push(Ran {
                id: arn.clone(),
                log_group: group,
                log_stream: stream,
                exit_code,
                lines,
            });
        }
    }
}
