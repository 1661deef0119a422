//! Remote runs on EKS against a Kubernetes API test double (`tests/support/kube_double.rs`,
//! the real wire protocol; no real API server can run here). The double runs each pod's
//! container command as a local process and serves its output as the pod log.
//!
//! The runner in these tests is a shell command that prints runner protocol lines prepared by
//! the test (one file per completion index), so each test controls exactly what a pod says.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names,
    clippy::disallowed_methods
)]

use crate::support::kube_double;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use kube_double::{Faults, KubeDouble};
use medallion::compute::ErrorKind;
use medallion::compute::eks::job::{LABEL_ASSET, LABEL_PROJECT, LABEL_RUN};
use medallion::compute::eks::{
    ClusterOverrides, ClusterSource, EksConnection, EksLauncher, EksStep, EksTarget, JobPhase,
    JobSettings, JobStatus,
};
use medallion::compute::protocol::{PROTOCOL_VERSION, ParsedLine, RunnerLine, parse_line};
use medallion::model::{AssetKey, ComputeHints, LogLevel, RunEvent, StepOutcome};
use sha2::Digest as _;

fn install_crypto() {
    // kube and the AWS SDK bring rustls; the process needs one provider (as main does).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

const EXEC_TOKEN: &str = "exec-token-7f3a";

/// A kubeconfig for the double whose user authenticates with an exec credential plugin (the
/// way `aws eks get-token` setups do).
fn kubeconfig(dir: &Path, url: &str) -> std::path::PathBuf {
    let cred = format!(
        r#"{{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{{"token":"{EXEC_TOKEN}"}}}}"#
    );
    let script = dir.join("get-token.sh");
    std::fs::write(&script, format!("#!/bin/sh\necho '{cred}'\n")).unwrap();
    let text = format!(
        r"apiVersion: v1
kind: Config
clusters:
- name: double
  cluster:
    server: {url}
users:
- name: tester
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: sh
      args: ['{}']
      interactiveMode: Never
contexts:
- name: test
  context:
    cluster: double
    user: tester
    namespace: data
current-context: test
",
        script.display()
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

fn connect(dir: &Path, double: &KubeDouble) -> EksConnection {
    EksConnection::new(
        ClusterSource::Kubeconfig {
            path: Some(kubeconfig(dir, &double.url)),
            context: Some("test".into()),
        },
        ClusterOverrides::default(),
        "data",
        None,
    )
}

/// The lines a fake runner prints for one partition: step started, a plain text line, `logs`
/// log events, step finished.
fn runner_lines(run: &str, step: &str, asset: &str, partition: &str, logs: usize) -> Vec<String> {
    let mut events = vec![RunEvent::StepStarted {
        asset: AssetKey::new(asset),
        partition: Some(partition.to_owned()),
        streamed: false,
    }];
    for i in 0..logs {
        events.push(RunEvent::Log {
            level: LogLevel::Info,
            asset: Some(AssetKey::new(asset)),
            message: format!("{partition}: working {i}"),
        });
    }
    events.push(RunEvent::StepFinished {
        asset: AssetKey::new(asset),
        partition: Some(partition.to_owned()),
        outcome: StepOutcome::Materialized,
        duration_ms: 5,
        duration_known: true,
    });
    let mut out: Vec<String> = events
        .into_iter()
        .enumerate()
        .map(|(seq, event)| {
            RunnerLine {
                medallion: PROTOCOL_VERSION,
                run_id: run.into(),
                step_id: step.into(),
                partition: Some(partition.to_owned()),
                seq: seq as u64,
                event,
            }
            .to_line()
        })
        .collect();
    out.insert(1, format!("plain text from {partition}"));
    out
}

/// Job settings whose "image" is a shell that prints `lines-$JOB_COMPLETION_INDEX.txt` from
/// `dir` (plus the plan argument it was given), pausing `pause` between lines, then exits with
/// `exit_code`.
fn fake_runner(dir: &Path, pause: &str, exit_code: i32) -> JobSettings {
    let script = format!(
        r#"echo "runner args: $1 $2 $3"; i="${{JOB_COMPLETION_INDEX:-0}}"; while IFS= read -r l; do echo "$l"; sleep {pause}; done < "{}/lines-$i.txt"; exit {exit_code}"#,
        dir.display()
    );
    let mut s = JobSettings::new("data", "registry.example/medallion:test");
    s.command = vec!["sh".into(), "-c".into(), script, "sh".into()];
    s
}

fn write_lines(dir: &Path, index: usize, lines: &[String]) {
    std::fs::write(
        dir.join(format!("lines-{index}.txt")),
        lines.join("\n") + "\n",
    )
    .unwrap();
}

/// What the run driver reads of a step through the launcher: each child's log lines from the
/// position it stored after the previous read, the Job's status, and the positions now.
#[derive(Debug, Default)]
struct Driven {
    lines: BTreeMap<usize, Vec<String>>,
    positions: BTreeMap<usize, Option<String>>,
    status: Option<JobStatus>,
}

impl Driven {
    /// Reads status, then each child's new lines, once (the driver's poll).
    fn poll(&mut self, l: &EksLauncher, id: &str, children: usize) -> JobStatus {
        let s = l.status(id).unwrap();
        for child in 0..children {
            let at = self.positions.get(&child).cloned().flatten();
            let read = l.read_logs(id, child, at.as_deref()).unwrap();
            self.lines.entry(child).or_default().extend(read.lines);
            self.positions.insert(child, read.position);
        }
        self.status = Some(s.clone());
        s
    }

    /// Polls until the Job has ended (a read after a finished status waits for each finished
    /// pod's log to end, so nothing is left to read).
    fn until_ended(mut self, l: &EksLauncher, id: &str, children: usize) -> Self {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.poll(l, id, children);
            if matches!(
                s.phase,
                JobPhase::Succeeded | JobPhase::Failed | JobPhase::Stopped
            ) {
                return self;
            }
            assert!(std::time::Instant::now() < deadline, "stuck at {s:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls until `enough` says so.
    fn until(
        mut self,
        l: &EksLauncher,
        id: &str,
        children: usize,
        enough: impl Fn(&Self) -> bool,
    ) -> Self {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !enough(&self) {
            let s = self.poll(l, id, children);
            assert!(std::time::Instant::now() < deadline, "stuck at {s:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        self
    }

    /// The runner's protocol lines of one child, parsed.
    fn events(&self, child: usize) -> Vec<RunnerLine> {
        self.lines
            .get(&child)
            .into_iter()
            .flatten()
            .filter_map(|line| match parse_line(line).unwrap() {
                ParsedLine::Event(l) => Some(*l),
                ParsedLine::Text(_) => None,
            })
            .collect()
    }

    /// The `seq` of every protocol line, by child, in the order read.
    fn seqs(&self) -> BTreeMap<usize, Vec<u64>> {
        self.lines
            .keys()
            .map(|&c| (c, self.events(c).iter().map(|e| e.seq).collect()))
            .filter(|(_, s): &(usize, Vec<u64>)| !s.is_empty())
            .collect()
    }

    /// Plain (non-protocol) lines starting with `prefix`, over all children.
    fn plain(&self, prefix: &str) -> usize {
        self.lines
            .values()
            .flatten()
            .filter(|line| {
                matches!(parse_line(line).unwrap(), ParsedLine::Text(t) if t.starts_with(prefix))
            })
            .count()
    }
}

/// The Job name of a launcher id (`namespace/name`).
fn job_name(id: &str) -> &str {
    id.split_once('/').unwrap().1
}

#[test]
fn indexed_job_runs_one_pod_per_partition_and_its_log_becomes_run_events() {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let double = KubeDouble::start();
    let partitions: Vec<String> = (1..=3).map(|d| format!("2024-01-0{d}")).collect();
    for (i, p) in partitions.iter().enumerate() {
        write_lines(
            dir.path(),
            i,
            &runner_lines("run-1", "gold/daily_revenue", "gold/daily_revenue", p, 2),
        );
    }
    let l = launcher(dir.path(), &double, fake_runner(dir.path(), "0", 0));
    let step = EksStep {
        project: "customer_analytics".into(),
        run_id: "run-1".into(),
        step_id: "gold/daily_revenue".into(),
        assets: vec![AssetKey::new("gold/daily_revenue")],
        plan_uri: "s3://bucket/medallion/_runs/plan.json".into(),
        partitions: partitions.clone(),
        completions: 3,
        hints: ComputeHints {
            max_nodes: Some(2),
            vcpu: Some(2.0),
            memory_mb: Some(4096),
            ..ComputeHints::default()
        },
    };
    let id = l.submit(&step).unwrap();
    let driven = Driven::default().until_ended(&l, &id, 3);
    let status = driven.status.clone().unwrap();
    assert_eq!(status.phase, JobPhase::Succeeded, "{status:?}");
    assert_eq!(status.exit_code, Some(0));

    // The Job as the API server received it.
    let jobs = double.jobs();
    assert_eq!(jobs.len(), 1);
    let j = &jobs[0];
    assert_eq!(j["metadata"]["labels"][LABEL_PROJECT], "customer_analytics");
    assert_eq!(j["metadata"]["labels"][LABEL_ASSET], "gold.daily_revenue");
    assert_eq!(j["metadata"]["labels"][LABEL_RUN], "run-1");
    assert_eq!(j["spec"]["completionMode"], "Indexed");
    assert_eq!(j["spec"]["completions"], 3);
    assert_eq!(j["spec"]["parallelism"], 2);
    assert_eq!(j["spec"]["backoffLimit"], 0);
    assert!(j["spec"]["ttlSecondsAfterFinished"].as_i64().unwrap() > 0);
    assert_eq!(j["status"]["succeeded"], 3);
    // Every request carried the exec plugin's token.
    let requests = double.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {EXEC_TOKEN}")))
    );
    let create = requests.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(create.path, "/apis/batch/v1/namespaces/data/jobs");
    assert!(requests.iter().any(|r| {
        r.path.ends_with("/log")
            && r.query.get("follow").map(String::as_str) == Some("true")
            && r.query.get("container").map(String::as_str) == Some("main")
    }));

    // One pod per partition, each with its completion index.
    let pods = double.pods();
    let indexes: BTreeSet<String> = pods
        .iter()
        .map(|p| {
            p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        indexes,
        BTreeSet::from(["0".into(), "1".into(), "2".into()])
    );

    // Each pod saw its own JOB_COMPLETION_INDEX: partition i's events came from child i.
    for (child, partition) in partitions.iter().enumerate() {
        let events = driven.events(child);
        assert!(!events.is_empty(), "child {child}: {driven:?}");
        for e in &events {
            assert_eq!(e.partition.as_deref(), Some(partition.as_str()));
            if let RunEvent::StepStarted { partition: p, .. } = &e.event {
                assert_eq!(p.as_deref(), Some(partition.as_str()));
            }
        }
    }
    // Every protocol event exactly once, in order, per child.
    let seqs = driven.seqs();
    assert_eq!(seqs.len(), 3);
    for s in seqs.values() {
        assert_eq!(s, &vec![0, 1, 2, 3]);
    }
    // Plain lines are log lines; the runner got `runner --plan URI`.
    assert_eq!(driven.plain("plain text from 2024-01-02"), 1);
    assert_eq!(
        driven.plain("runner args: runner --plan s3://bucket/medallion/_runs/plan.json"),
        3
    );
    // Submitting the same step again is refused by name, not duplicated.
    let err = l.submit(&step).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    let err = err.to_string();
    assert!(
        err.contains("already exists") && err.contains("409"),
        "{err}"
    );
    assert_eq!(double.jobs().len(), 1);
}

#[test]
fn an_oom_killed_pod_fails_the_step_with_a_clear_message() {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let double = KubeDouble::start();
    double.set_faults(Faults {
        oom_indexes: BTreeSet::from([1]),
        ..Faults::default()
    });
    let partitions: Vec<String> = vec!["east".into(), "west".into()];
    for (i, p) in partitions.iter().enumerate() {
        write_lines(dir.path(), i, &runner_lines("run-oom", "s", "gold/x", p, 3));
    }
    let l = launcher(dir.path(), &double, fake_runner(dir.path(), "0.1", 0));
    let mut oom = step("run-oom", &["east", "west"]);
    oom.hints.memory_mb = Some(512);
    let id = l.submit(&oom).unwrap();
    let driven = Driven::default().until_ended(&l, &id, 2);
    let status = driven.status.unwrap();
    assert_eq!(status.phase, JobPhase::Failed);
    assert_eq!(status.exit_code, Some(137));
    let error = status.reason.unwrap();
    assert!(error.contains("(partition west) was OOMKilled"), "{error}");
    assert!(error.contains("512Mi limit"), "{error}");
    assert!(error.contains("raise memory_mb"), "{error}");
}

#[test]
fn a_dropped_watch_and_410_gone_and_a_dropped_log_lose_and_repeat_nothing() {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let double = KubeDouble::start();
    double.set_faults(Faults {
        drop_first_watch_after: Some(2),
        gone_for_watch: BTreeSet::from([2]),
        drop_first_log_after: Some(3),
        start_delay: Duration::from_millis(200),
        ..Faults::default()
    });
    let partitions = ["a", "b"];
    for (i, p) in partitions.iter().enumerate() {
        write_lines(dir.path(), i, &runner_lines("run-w", "s", "gold/x", p, 6));
    }
    let l = launcher(dir.path(), &double, fake_runner(dir.path(), "0.05", 0));
    let id = l.submit(&step("run-w", &partitions)).unwrap();
    let driven = Driven::default().until_ended(&l, &id, 2);
    let status = driven.status.clone().unwrap();
    assert_eq!(status.phase, JobPhase::Succeeded, "{status:?}");
    assert_eq!(double.watches_dropped(), 1);
    let (resumes, relists) = l.watch_counts();
    assert!(resumes >= 1, "resumes {resumes}");
    assert!(relists >= 1, "relists {relists}");
    // The 410 made the watcher list again, then watch from the new version.
    let requests = double.requests();
    let pod_requests: Vec<_> = requests
        .iter()
        .filter(|r| r.path == "/api/v1/namespaces/data/pods")
        .collect();
    let lists = pod_requests
        .iter()
        .filter(|r| !r.query.contains_key("watch"))
        .count();
    assert!(lists >= 2, "one list at the start, one after 410 Gone");
    assert!(pod_requests.iter().any(|r| {
        r.query.get("watch").map(String::as_str) == Some("true")
            && r.query.get("allowWatchBookmarks").map(String::as_str) == Some("true")
            && r.query.get("labelSelector").map(String::as_str)
                == Some(&format!("job-name={}", job_name(&id)))
    }));
    // Each pod's log stream was cut once and resumed.
    let log_requests = requests.iter().filter(|r| r.path.ends_with("/log")).count();
    assert!(
        log_requests >= 4,
        "two pods, each followed twice: {log_requests}"
    );
    // Read by position, nothing is lost and nothing comes twice.
    let seqs = driven.seqs();
    for s in seqs.values() {
        assert_eq!(s, &(0..8).collect::<Vec<u64>>());
    }
    assert_eq!(seqs.len(), 2);
    assert_eq!(driven.plain("plain text"), 2, "plain lines once each");
}

#[test]
fn reattach_finds_the_job_by_labels_and_resumes_after_the_last_event() {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let double = KubeDouble::start();
    let partitions = ["a", "b"];
    for (i, p) in partitions.iter().enumerate() {
        write_lines(dir.path(), i, &runner_lines("run-r", "s", "gold/x", p, 8));
    }
    // An unrelated run's Job (the same step) must not be found.
    let other_dir = tempfile::tempdir().unwrap();
    write_lines(
        other_dir.path(),
        0,
        &runner_lines("run-other", "s", "gold/x", "a", 0),
    );
    let other = launcher(
        other_dir.path(),
        &double,
        fake_runner(other_dir.path(), "0", 0),
    );
    let other_id = other.submit(&step("run-other", &[])).unwrap();

    // First session: read (and keep the positions, as the run driver stores them) until a few
    // events have arrived, then the app "exits" mid-run.
    let first = launcher(dir.path(), &double, fake_runner(dir.path(), "0.1", 0));
    let id = first.submit(&step("run-r", &partitions)).unwrap();
    let before = Driven::default().until(&first, &id, 2, |d| {
        d.seqs().values().map(Vec::len).sum::<usize>() >= 4
    });
    drop(first);
    assert!(!before.lines.is_empty());

    // After the restart: a new launcher finds the step's Job by its labels and carries on
    // from the stored positions.
    let second = launcher(dir.path(), &double, fake_runner(dir.path(), "0.1", 0));
    assert_eq!(
        second
            .find_submitted("customer_analytics", &"run-r".into(), "s1-eks")
            .unwrap(),
        Some(id.clone())
    );
    assert_ne!(id, other_id);
    let list = double
        .requests()
        .into_iter()
        .find(|r| {
            r.method == "GET"
                && r.path == "/apis/batch/v1/namespaces/data/jobs"
                && r.query
                    .get("labelSelector")
                    .is_some_and(|s| s.ends_with("run=run-r"))
        })
        .unwrap();
    assert_eq!(
        list.query["labelSelector"],
        "medallion.dev/project=customer_analytics,medallion.dev/run=run-r"
    );
    let after = Driven {
        positions: before.positions.clone(),
        ..Driven::default()
    }
    .until_ended(&second, &id, 2);
    let status = after.status.clone().unwrap();
    assert_eq!(status.phase, JobPhase::Succeeded, "{status:?}");
    let mut all = before;
    for (child, lines) in after.lines {
        all.lines.entry(child).or_default().extend(lines);
    }
    let seqs = all.seqs();
    for s in seqs.values() {
        assert_eq!(
            s,
            &(0..10).collect::<Vec<u64>>(),
            "each event exactly once across sessions"
        );
    }
    assert_eq!(seqs.len(), 2);
    assert_eq!(all.plain("plain text"), 2);
}

fn write_project(dir: &Path, resources: &str) -> std::path::PathBuf {
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("medallion.toml"),
        format!("[project]\nname = \"k8s\"\ndescription = \"EKS connection\"\n\n{resources}"),
    )
    .unwrap();
    project
}

fn medallion_cli(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_medallion"));
    cmd.args(args)
        .env("MEDALLION_WORKSPACE", dir.join("workspace.medallion"))
        .env_remove("KUBECONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn an_eks_resource_round_trips_and_test_connection_reaches_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let double = KubeDouble::start();
    let config = kubeconfig(dir.path(), &double.url);
    let project = write_project(
        dir.path(),
        &format!(
            r#"[resources.k8s]
kind = "eks"
description = "The analytics cluster"
kubeconfig = "{config}"
context = "test"
namespace = "data"
service_account = "medallion-runner"
image = "registry.example/medallion:1"

[resources.wrong_context]
kind = "eks"
kubeconfig = "{config}"
context = "nope"
image = "registry.example/medallion:1"
"#,
            config = config.display()
        ),
    );
    // The format keeps every field; a second write reads back the same project.
    let loaded = medallion::format::read_project(&project).unwrap();
    let copy = dir.path().join("copy");
    medallion::format::write_project(&loaded.project, &copy).unwrap();
    let again = medallion::format::read_project(&copy).unwrap();
    assert_eq!(again.project, loaded.project);
    let k8s = loaded.project.resource("k8s").unwrap();
    assert!(
        matches!(&k8s.kind, medallion::model::ResourceKind::Eks { namespace, service_account: Some(sa), .. }
        if namespace == "data" && sa == "medallion-runner")
    );

    let p = project.to_str().unwrap();
    let out = medallion_cli(dir.path(), &["resource", "test", p, "k8s"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "connected to kubeconfig context `test`: namespace `data` holds 0 Medallion Job(s)"
        ),
        "{stdout}"
    );
    let list = double
        .requests()
        .into_iter()
        .find(|r| r.path == "/apis/batch/v1/namespaces/data/jobs")
        .unwrap();
    assert_eq!(
        list.authorization.as_deref(),
        Some(&*format!("Bearer {EXEC_TOKEN}"))
    );

    let out = medallion_cli(dir.path(), &["resource", "test", p, "wrong_context"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("kubeconfig context `nope`"), "{stderr}");
}

#[test]
fn bad_eks_resources_are_refused_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let project = write_project(
        dir.path(),
        r#"[resources.both]
kind = "eks"
cluster = "prod"
context = "dev"
image = "img"

[resources.no_ns]
kind = "eks"
cluster = "prod"
namespace = "Not_Valid"
image = "img"
"#,
    );
    let loaded = medallion::format::read_project(&project).unwrap();
    let text: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect();
    assert!(
        text.iter()
            .any(|m| m.contains("resource `both`") && m.contains("not both")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|m| m.contains("resource `no_ns`") && m.contains("namespace `Not_Valid`")),
        "{text:?}"
    );
    let missing_image = write_project(
        &dir.path().join("b"),
        "[resources.k]\nkind = \"eks\"\ncluster = \"prod\"\n",
    );
    let loaded = medallion::format::read_project(&missing_image).unwrap();
    let text: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect();
    assert!(
        text.iter()
            .any(|m| m.contains("an eks resource needs `image`")),
        "{text:?}"
    );
}

// ---------------------------------------------------------------- EKS by name, on moto

use crate::common::peers;

fn peer_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("MEDALLION_TEST_PEERS=1 but {name} is not set: run the suite with tests/run")
    })
}

/// One certificate from the system bundle: the CA override needs a well-formed PEM.
fn some_ca_pem() -> String {
    let bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap();
    let end = "-----END CERTIFICATE-----";
    let stop = bundle.find(end).unwrap() + end.len();
    let start = bundle[..stop].rfind("-----BEGIN CERTIFICATE-----").unwrap();
    format!("{}\n", &bundle[start..stop])
}

#[test]
fn an_eks_cluster_by_name_is_reached_with_describe_cluster_and_a_presigned_sts_token() {
    if !peers() {
        return;
    }
    install_crypto();
    let moto = peer_env("MEDALLION_TEST_MOTO_URL");
    let dir = tempfile::tempdir().unwrap();
    let double = KubeDouble::start();
    let cluster = format!("analytics-{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = aws_sdk_eks::Config::builder()
            .behavior_version(aws_sdk_eks::config::BehaviorVersion::latest())
            .region(aws_sdk_eks::config::Region::new("us-east-1"))
            .endpoint_url(&moto)
            .credentials_provider(aws_sdk_eks::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .build();
        aws_sdk_eks::Client::from_conf(config)
            .create_cluster()
            .name(&cluster)
            .role_arn("arn:aws:iam::123456789012:role/eks")
            .resources_vpc_config(
                aws_sdk_eks::types::VpcConfigRequest::builder()
                    .subnet_ids("subnet-1")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, some_ca_pem()).unwrap();
    let project = write_project(
        dir.path(),
        &format!(
            r#"[resources.aws_moto]
kind = "aws"
region = "us-east-1"
endpoint_url = "{moto}"

[resources.prod]
kind = "eks"
cluster = "{cluster}"
aws = "aws_moto"
endpoint_url = "{api}"
ca_file = "{ca}"
namespace = "data"
image = "registry.example/medallion:1"

[resources.missing]
kind = "eks"
cluster = "no-such-cluster"
aws = "aws_moto"
endpoint_url = "{api}"
image = "registry.example/medallion:1"
"#,
            api = double.url,
            ca = ca.display()
        ),
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let p = project.to_str().unwrap();
    let out = medallion_cli(dir.path(), &["resource", "test", p, "prod"], &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("connected to EKS cluster `{cluster}`")),
        "{stdout}"
    );
    // The API server got the token EKS expects: a presigned STS GetCallerIdentity URL.
    let auth = double.requests()[0].authorization.clone().unwrap();
    let token = auth.strip_prefix("Bearer k8s-aws-v1.").expect(&auth);
    let url = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .unwrap(),
    )
    .unwrap();
    assert!(
        url.starts_with(
            "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
        ),
        "{url}"
    );
    assert!(url.contains("X-Amz-Credential=testing%2F"), "{url}");
    assert!(url.contains("%2Fus-east-1%2Fsts%2Faws4_request"), "{url}");
    assert!(
        url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"),
        "{url}"
    );
    assert!(url.contains("X-Amz-Expires=60"), "{url}");

    let out = medallion_cli(dir.path(), &["resource", "test", p, "missing"], &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("EKS cluster `no-such-cluster`")
            && stderr.contains("DescribeCluster failed"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------- the polled launcher

fn launcher(dir: &Path, double: &KubeDouble, settings: JobSettings) -> EksLauncher {
    EksLauncher::new(
        medallion::app::runtime::handle().unwrap(),
        EksTarget {
            connection: connect(dir, double),
            settings,
        },
    )
}

fn wait_phase(l: &EksLauncher, id: &str, done: impl Fn(JobPhase) -> bool) -> JobStatus {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s = l.status(id).unwrap();
        if done(s.phase) {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "stuck at {s:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn step(run: &str, partitions: &[&str]) -> EksStep {
    EksStep {
        project: "customer_analytics".into(),
        run_id: run.into(),
        step_id: "s1-eks".into(),
        assets: vec![AssetKey::new("gold/x")],
        plan_uri: "s3://bucket/plan.json".into(),
        partitions: partitions.iter().map(|p| (*p).to_owned()).collect(),
        completions: partitions.len().max(1),
        hints: ComputeHints {
            memory_mb: Some(768),
            ..ComputeHints::default()
        },
    }
}

#[test]
fn the_polled_launcher_submits_reads_logs_by_position_and_reports_oom() {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let double = KubeDouble::start();
    for (i, p) in ["a", "b"].iter().enumerate() {
        write_lines(
            dir.path(),
            i,
            &runner_lines("run-l", "s1-eks", "gold/x", p, 2),
        );
    }
    // Each pod's first log stream is cut after two lines, the first pod watch after one
    // event, and the second watch is answered 410 Gone: the launcher resumes all of them.
    double.set_faults(Faults {
        drop_first_log_after: Some(2),
        drop_first_watch_after: Some(1),
        gone_for_watch: BTreeSet::from([2]),
        start_delay: Duration::from_millis(200),
        ..Faults::default()
    });
    let l = launcher(dir.path(), &double, fake_runner(dir.path(), "0", 0));
    let id = l.submit(&step("run-l", &["a", "b"])).unwrap();
    assert!(id.starts_with("data/mdl-s1-eks-"), "{id}");
    // After a crash between submit and storing the id: found again by its labels.
    assert_eq!(
        l.find_submitted("customer_analytics", &"run-l".into(), "s1-eks")
            .unwrap(),
        Some(id.clone())
    );
    assert_eq!(
        l.find_submitted("customer_analytics", &"run-l".into(), "s2-eks")
            .unwrap(),
        None
    );
    assert!(
        double
            .requests()
            .iter()
            .any(|r| r.path == "/apis/batch/v1/namespaces/data/jobs"
                && r.query.get("labelSelector").map(String::as_str)
                    == Some("medallion.dev/project=customer_analytics,medallion.dev/run=run-l"))
    );
    let s = wait_phase(&l, &id, |p| p == JobPhase::Succeeded);
    assert_eq!(s.exit_code, Some(0));
    let first = l.read_logs(&id, 1, None).unwrap();
    assert_eq!(first.lines.len(), 6, "{first:?}");
    assert!(first.lines.iter().any(|l| l == "plain text from b"));
    assert_eq!(
        first.lines[0],
        "runner args: runner --plan s3://bucket/plan.json"
    );
    let again = l.read_logs(&id, 1, first.position.as_deref()).unwrap();
    assert!(again.lines.is_empty(), "{again:?}");
    assert_eq!(again.position, first.position);
    let zero = l.read_logs(&id, 0, None).unwrap();
    assert!(
        zero.lines.iter().any(|l| l == "plain text from a"),
        "{zero:?}"
    );
    // Logs were streamed with follow=true, and the cut streams were resumed.
    let log_requests: Vec<_> = double
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/log"))
        .collect();
    assert!(
        log_requests
            .iter()
            .all(|r| r.query.get("follow").map(String::as_str) == Some("true"))
    );
    assert!(log_requests.len() >= 4, "{}", log_requests.len());
    let (resumes, relists) = l.watch_counts();
    assert!(
        resumes >= 1 && relists >= 1,
        "resumes {resumes}, relists {relists}"
    );
    assert_eq!(double.watches_dropped(), 1);

    // An OOMKilled child fails the step with the sentence and exit code 137.
    double.set_faults(Faults {
        oom_indexes: BTreeSet::from([0]),
        ..Faults::default()
    });
    let id = l.submit(&step("run-oom", &["a"])).unwrap();
    let s = wait_phase(&l, &id, |p| p == JobPhase::Failed);
    assert_eq!(s.exit_code, Some(137));
    let reason = s.reason.unwrap();
    assert!(
        reason.contains("was OOMKilled") && reason.contains("768Mi"),
        "{reason}"
    );
}

#[test]
fn the_polled_launcher_fails_an_image_pull_error_and_ends_the_job() {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let double = KubeDouble::start();
    double.set_faults(Faults {
        image_pull_error: true,
        ..Faults::default()
    });
    let l = launcher(dir.path(), &double, fake_runner(dir.path(), "0", 0));
    let id = l.submit(&step("run-pull", &[])).unwrap();
    let s = wait_phase(&l, &id, |p| p == JobPhase::Failed);
    let reason = s.reason.unwrap();
    assert!(
        reason.contains("cannot pull its image `registry.example/medallion:test`"),
        "{reason}"
    );
    assert!(double.requests().iter().any(|r| r.method == "DELETE"));
    assert!(double.jobs().is_empty());
}

#[test]
fn the_polled_launcher_cancels_with_foreground_deletion() {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let double = KubeDouble::start();
    write_lines(
        dir.path(),
        0,
        &runner_lines("run-lc", "s1-eks", "gold/x", "p", 50),
    );
    let l = launcher(dir.path(), &double, fake_runner(dir.path(), "0.2", 0));
    let id = l.submit(&step("run-lc", &[])).unwrap();
    wait_phase(&l, &id, |p| p == JobPhase::Running);
    // Canceled while the runner is mid-way: some events have been read.
    let driven = Driven::default().until(&l, &id, 1, |d| {
        d.seqs().values().map(Vec::len).sum::<usize>() >= 2
    });
    assert!(driven.seqs()[&0].len() < 52, "{driven:?}");
    l.cancel(&id).unwrap();
    let delete = double
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .expect("a DELETE request");
    assert_eq!(
        delete.path,
        format!("/apis/batch/v1/namespaces/data/jobs/{}", job_name(&id))
    );
    let body: serde_json::Value = serde_json::from_str(&delete.body).unwrap();
    assert_eq!(body["propagationPolicy"], "Foreground");
    assert!(double.jobs().is_empty());
    double.wait_for(10, "the pod to be gone", |_, pods| pods.is_empty());
    let s = l.status(&id).unwrap();
    assert_eq!(s.phase, JobPhase::Stopped);
    // Canceling a Job that is already gone is not an error.
    l.cancel(&id).unwrap();
}

// ---------------------------------------------------------------- end to end, real runner

fn moto_sdk(moto: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("testing", "testing", None, None, "test"),
            ),
        )
        .build()
}

fn moto_s3(moto: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&moto_sdk(moto))
            .force_path_style(true)
            .build(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The runner's environment inside a pod: what IRSA and the node would give it (moto here).
fn pod_env(moto: &str) -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_ENDPOINT_URL", moto),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// An EKS setup for the CLI: the double (running the real runner as pods' `medallion`), a
/// fresh bucket on moto, and a copy of `source` with an `aws` resource (the bucket) and an
/// `eks` resource (the double, through a kubeconfig with an exec plugin).
struct EksSetup {
    tmp: tempfile::TempDir,
    double: KubeDouble,
    moto: String,
    bucket: String,
    dir: std::path::PathBuf,
    rt: tokio::runtime::Runtime,
}

impl EksSetup {
    fn new(moto: &str, source: &str) -> Self {
        install_crypto();
        let tmp = tempfile::tempdir().unwrap();
        let double = KubeDouble::start();
        double.map_program("medallion", env!("CARGO_BIN_EXE_medallion"));
        double.set_pod_env(pod_env(moto));
        let bucket = format!(
            "medallion-eks-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_subsec_nanos()
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(moto_s3(moto).create_bucket().bucket(&bucket).send())
            .unwrap();
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join(source);
        let dir = tmp.path().join(from.file_name().unwrap());
        copy_dir(&from, &dir);
        let config = kubeconfig(tmp.path(), &double.url);
        let toml = dir.join("medallion.toml");
        let mut text = std::fs::read_to_string(&toml).unwrap();
        let _ = write!(
            text,
            r#"
[resources.aws]
kind = "aws"
region = "us-east-1"
endpoint_url = "{moto}"

[resources.aws.compute]
bucket = "{bucket}"
prefix = "lake/ca"

[resources.analytics]
kind = "eks"
kubeconfig = "{config}"
context = "test"
namespace = "data"
service_account = "medallion-runner"
image = "medallion-runner:test"
"#,
            config = config.display()
        );
        std::fs::write(&toml, text).unwrap();
        Self {
            tmp,
            double,
            moto: moto.to_owned(),
            bucket,
            dir,
            rt,
        }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.run_with(args, "120")
    }

    /// `grace_secs`: how long the app waits for a runner's result after its pod ended.
    fn run_with(&self, args: &[&str], grace_secs: &str) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_medallion"))
            .args(args)
            .env("MEDALLION_WORKSPACE", self.tmp.path().join("ws.sqlite"))
            .env("MEDALLION_REMOTE_POLL_MS", "300")
            .env("MEDALLION_REMOTE_RESULT_GRACE_SECS", grace_secs)
            .env_remove("MEDALLION_LOG")
            .env_remove("KUBECONFIG")
            .envs(pod_env(&self.moto))
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap()
    }
}

#[test]
fn the_example_project_materializes_on_eks_with_the_spec_checksums() {
    if !peers() {
        return;
    }
    let moto = peer_env("MEDALLION_TEST_MOTO_URL");
    let setup = EksSetup::new(&moto, "projects/customer_analytics");
    let (tmp, double, bucket, dir, rt) = (
        &setup.tmp,
        &setup.double,
        &setup.bucket,
        &setup.dir,
        &setup.rt,
    );
    let run = |args: &[&str]| setup.run(args);
    let out = run(&[
        "submit",
        dir.to_str().unwrap(),
        "--tier",
        "eks",
        "--format",
        "json",
    ]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "success", "{report:#}");
    let steps = report["steps"].as_array().unwrap();
    assert!(!steps.is_empty());
    for s in steps {
        assert_eq!(s["tier"], "eks", "{s}");
        assert_eq!(s["status"], "success", "{s}");
        assert!(
            s["remote_id"].as_str().unwrap().starts_with("data/mdl-"),
            "{s}"
        );
    }

    // The Jobs the API server got: labelled, running `medallion runner --plan s3://…`.
    let jobs = double.jobs();
    assert_eq!(jobs.len(), steps.len());
    let run_id = report["run_id"].as_str().unwrap();
    for j in &jobs {
        assert_eq!(j["metadata"]["labels"][LABEL_PROJECT], "customer_analytics");
        assert_eq!(j["metadata"]["labels"][LABEL_RUN], json_label(run_id));
        let c = &j["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "medallion-runner:test");
        assert_eq!(c["command"][0], "medallion");
        assert_eq!(c["args"][0], "runner");
        assert!(
            c["args"][2]
                .as_str()
                .unwrap()
                .starts_with(&format!("s3://{bucket}/"))
        );
        assert_eq!(
            j["spec"]["template"]["spec"]["serviceAccountName"],
            "medallion-runner"
        );
        assert_eq!(j["status"]["succeeded"], 1);
    }

    // The gold outputs, read back from S3, have the SPEC §8 checksums.
    for (asset, expected) in [
        (
            "customer_lifetime_value",
            "c570c455363472f2fa7159acca9adb18f7ec2e065045d4cf29209653180f9760",
        ),
        (
            "daily_revenue",
            "cbfeec8f97f2ce17638a7b58a110711630fc4767f48acf10ca67e9277ecf86d7",
        ),
    ] {
        let m = report["materializations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["asset"] == asset)
            .unwrap_or_else(|| panic!("no materialization of {asset}: {report:#}"))
            .clone();
        let location = m["location"].as_str().unwrap().to_owned();
        assert!(
            location.starts_with(&format!("s3://{bucket}/lake/ca/{asset}/_/")),
            "{location}"
        );
        let key = location
            .strip_prefix(&format!("s3://{bucket}/"))
            .unwrap()
            .to_owned();
        let bytes = rt.block_on(async {
            moto_s3(&moto)
                .get_object()
                .bucket(bucket.as_str())
                .key(&key)
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes()
                .to_vec()
        });
        let local = tmp.path().join(format!("{asset}.download.parquet"));
        std::fs::write(&local, bytes).unwrap();
        let mut m: medallion::model::AssetMaterialization = serde_json::from_value(m).unwrap();
        m.location = local.to_string_lossy().into_owned();
        let (_, csv) =
            medallion::engine::export_materialization(&m, &tmp.path().join("out"), Some(2))
                .unwrap();
        let sum = medallion::engine::hex(&sha2::Sha256::digest(std::fs::read(&csv).unwrap()));
        assert_eq!(sum, expected, "{asset}");
    }

    // The pod log came through: the run's logs show the runner's check lines.
    let logs = run(&["logs", run_id]);
    let logs = String::from_utf8_lossy(&logs.stdout).into_owned();
    assert!(
        logs.contains("check cleaned_customer_data_unique_customer_id passed"),
        "{logs}"
    );
}

fn json_label(run_id: &str) -> String {
    medallion::compute::eks::job::label_value(run_id)
}

#[test]
fn a_backfill_on_eks_is_one_indexed_job_with_a_pod_per_partition() {
    if !peers() {
        return;
    }
    let moto = peer_env("MEDALLION_TEST_MOTO_URL");
    let setup = EksSetup::new(&moto, "tests/fixtures/partitioned");
    let out = setup.run(&[
        "submit",
        setup.dir.to_str().unwrap(),
        "--tier",
        "eks",
        "--partition-range",
        "2024-01-01..2024-01-02",
        "--format",
        "json",
    ]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "success", "{report:#}");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "one Indexed Job for the whole backfill");
    assert_eq!(
        steps[0]["partitions"],
        serde_json::json!(["2024-01-01", "2024-01-02"])
    );
    let jobs = setup.double.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["spec"]["completionMode"], "Indexed");
    assert_eq!(jobs[0]["spec"]["completions"], 2);
    assert_eq!(jobs[0]["status"]["succeeded"], 2);
    let indexes: BTreeSet<String> = setup
        .double
        .pods()
        .iter()
        .map(|p| {
            p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(indexes, BTreeSet::from(["0".into(), "1".into()]));
    // Each pod ran its own partition (chosen by JOB_COMPLETION_INDEX).
    let run_id = report["run_id"].as_str().unwrap();
    let mut found: Vec<(String, String, u64)> = report["materializations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let asset = m["asset"].as_str().unwrap();
            let partition = m["partition"].as_str().unwrap();
            assert_eq!(
                m["location"].as_str().unwrap(),
                format!(
                    "s3://{}/lake/ca/{asset}/{partition}/{run_id}.parquet",
                    setup.bucket
                )
            );
            (
                asset.to_owned(),
                partition.to_owned(),
                m["row_count"].as_u64().unwrap(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("daily_totals".to_owned(), "2024-01-01".to_owned(), 1),
            ("daily_totals".to_owned(), "2024-01-02".to_owned(), 1),
            ("raw_events".to_owned(), "2024-01-01".to_owned(), 2),
            ("raw_events".to_owned(), "2024-01-02".to_owned(), 3),
        ]
    );
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn cancel_from_the_cli_deletes_the_job_in_the_foreground() {
    if !peers() {
        return;
    }
    let moto = peer_env("MEDALLION_TEST_MOTO_URL");
    let setup = EksSetup::new(&moto, "projects/customer_analytics");
    // Pods wait for a node long enough to be canceled first.
    setup.double.set_faults(Faults {
        start_delay: Duration::from_secs(30),
        ..Faults::default()
    });
    let p = setup.dir.to_str().unwrap();
    let report =
        json_of(&setup.run(&["submit", p, "--tier", "eks", "--detach", "--format", "json"]));
    assert_eq!(report["status"], "started", "{report:#}");
    let run_id = report["run_id"].as_str().unwrap().to_owned();
    let job = report["steps"][0]["remote_id"].as_str().unwrap().to_owned();
    let cancel = json_of(&setup.run(&["cancel", &run_id, "--format", "json"]));
    assert_eq!(cancel["status"], "canceled", "{cancel:#}");
    assert_eq!(cancel["stopped"][0], job.as_str());
    let delete = setup
        .double
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .expect("a DELETE of the Job");
    let name = job.split_once('/').unwrap().1;
    assert_eq!(
        delete.path,
        format!("/apis/batch/v1/namespaces/data/jobs/{name}")
    );
    assert!(
        delete.body.contains(r#""propagationPolicy":"Foreground""#),
        "{}",
        delete.body
    );
    assert!(setup.double.jobs().is_empty());
    let after = json_of(&setup.run(&["attach", &run_id, "--format", "json"]));
    assert_eq!(after["status"], "canceled", "{after:#}");
}

#[test]
fn a_detached_eks_run_is_reattached_and_finished() {
    if !peers() {
        return;
    }
    let moto = peer_env("MEDALLION_TEST_MOTO_URL");
    let setup = EksSetup::new(&moto, "projects/customer_analytics");
    setup.double.set_faults(Faults {
        start_delay: Duration::from_millis(500),
        ..Faults::default()
    });
    let p = setup.dir.to_str().unwrap();
    let report =
        json_of(&setup.run(&["submit", p, "--tier", "eks", "--detach", "--format", "json"]));
    assert_eq!(report["status"], "started", "{report:#}");
    let run_id = report["run_id"].as_str().unwrap().to_owned();
    // A new app process picks the run up from the workspace and follows the Job to its end.
    let after = json_of(&setup.run(&["attach", &run_id, "--format", "json"]));
    assert_eq!(after["status"], "success", "{after:#}");
    assert_eq!(
        setup.double.jobs().len(),
        1,
        "the Job was not submitted twice"
    );
    let materialized = after["materializations"].as_array().unwrap().len();
    assert_eq!(materialized, 6, "{after:#}");
}

#[test]
fn an_oom_killed_runner_fails_the_step_with_the_sentence() {
    if !peers() {
        return;
    }
    let moto = peer_env("MEDALLION_TEST_MOTO_URL");
    let setup = EksSetup::new(&moto, "projects/customer_analytics");
    setup.double.set_faults(Faults {
        oom_indexes: BTreeSet::from([0]),
        ..Faults::default()
    });
    let p = setup.dir.to_str().unwrap();
    let out = setup.run_with(&["submit", p, "--tier", "eks", "--format", "json"], "2");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    assert_eq!(report["status"], "failure", "{report:#}");
    let error = report["steps"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("was OOMKilled"), "{report:#}");
    assert!(error.contains("raise memory_mb"), "{error}");
    assert!(error.contains("exit code 137"), "{error}");
}
