//! The Kubernetes Job for one step of a run.
//!
//! - Labels `medallion.dev/project`, `medallion.dev/asset`, `medallion.dev/run` and
//!   `medallion.dev/step` (sanitised to valid label values) let a restarted app find its Jobs;
//!   the exact values travel as annotations.
//! - A step with several partitions is an Indexed Job: `completions` = partitions, the pod at
//!   completion index *i* runs partition *i* (`JOB_COMPLETION_INDEX`), `parallelism` from the
//!   asset's `max_nodes`.
//! - `backoffLimit: 0`: the runner's retries are Medallion's, not the Job controller's.
//! - `ttlSecondsAfterFinished` lets the cluster clean up finished Jobs and their pods.
//! - Requests come from the asset's `vcpu` / `memory_mb`; the memory limit equals the request so
//!   a pod that needs more is `OOMKilled` (reported as such) instead of starving its node.
//! - `node_type` selects `node.kubernetes.io/instance-type`; `spot` selects
//!   `eks.amazonaws.com/capacityType` (`SPOT` or `ON_DEMAND`) and tolerates a `SPOT` taint of
//!   the same key.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PodSpec, PodTemplateSpec, ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sha2::{Digest, Sha256};

use crate::compute::protocol::PLAN_ENV_VAR;
use crate::model::RunId;
use crate::model::{AssetKey, ComputeHints};

pub const LABEL_PROJECT: &str = "medallion.dev/project";
pub const LABEL_ASSET: &str = "medallion.dev/asset";
pub const LABEL_RUN: &str = "medallion.dev/run";
pub const LABEL_STEP: &str = "medallion.dev/step";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Exact (unsanitised) values, JSON where a list.
pub const ANNOTATION_RUN_ID: &str = "medallion.dev/run-id";
pub const ANNOTATION_STEP_ID: &str = "medallion.dev/step-id";
pub const ANNOTATION_ASSETS: &str = "medallion.dev/assets";
pub const ANNOTATION_PARTITIONS: &str = "medallion.dev/partitions";
pub const ANNOTATION_COMPLETIONS: &str = "medallion.dev/completions";
pub const ANNOTATION_PLAN: &str = "medallion.dev/plan";
/// The name of the runner container (what `kubectl logs -c` and the log requests name).
pub const CONTAINER: &str = "main";

/// Requests when the asset gives none.
pub const DEFAULT_VCPU: f64 = 1.0;
pub const DEFAULT_MEMORY_MB: u32 = 2048;
/// How long a finished Job stays for inspection before the cluster deletes it.
pub const DEFAULT_TTL_SECS: i32 = 24 * 3600;

/// Where and how the runner pods run: from the `eks` resource.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSettings {
    pub namespace: String,
    /// The runner image (the same image every tier runs).
    pub image: String,
    /// The program in the image; `medallion` unless the image puts it elsewhere.
    pub command: Vec<String>,
    pub service_account: Option<String>,
    pub ttl_secs: i32,
    /// Extra environment for the runner (e.g. `AWS_REGION`).
    pub env: Vec<(String, String)>,
}

impl JobSettings {
    pub fn new(namespace: impl Into<String>, image: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            image: image.into(),
            command: vec!["medallion".to_owned()],
            service_account: None,
            ttl_secs: DEFAULT_TTL_SECS,
            env: Vec::new(),
        }
    }
}

/// One step to run as a Job.
#[derive(Debug, Clone, PartialEq)]
pub struct StepJob<'a> {
    pub project: &'a str,
    pub run_id: &'a RunId,
    pub step_id: &'a str,
    pub assets: &'a [AssetKey],
    /// The partitions' names, in completion-index order (may be empty when unknown).
    pub partitions: &'a [String],
    /// How many pods must succeed: 1 for a plain Job; more: an Indexed Job, one pod per
    /// partition.
    pub completions: usize,
    /// The `s3://` URI of the step's [`crate::compute::protocol::StepPlan`].
    pub plan_uri: &'a str,
    pub hints: &'a ComputeHints,
}

/// A valid label value (at most 63 characters of `[A-Za-z0-9._-]`, starting and ending
/// alphanumeric): `/` becomes `.`, anything else invalid `_`; a value that had to be shortened
/// ends in a hash of the original so two long names do not collide.
pub fn label_value(raw: &str) -> String {
    let mapped: String = raw
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') => c,
            '/' => '.',
            _ => '_',
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if !trimmed.is_empty() && trimmed.len() <= 63 {
        return trimmed.to_owned();
    }
    let hash = short_hash(raw, 8);
    let head: String = trimmed.chars().take(63 - 9).collect();
    let head = head.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if head.is_empty() {
        hash
    } else {
        format!("{head}-{hash}")
    }
}

fn short_hash(s: &str, len: usize) -> String {
    let digest = Sha256::digest(s.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex.truncate(len);
    hex
}

/// The Job's name: `mdl-<step slug>-<hash of run and step>`, a DNS label short enough for the
/// pod names the Job controller derives from it (at most 52 characters).
pub fn job_name(run_id: &RunId, step_id: &str) -> String {
    let slug: String = step_id
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug: String = slug
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let slug: String = slug.chars().take(32).collect();
    let slug = slug.trim_end_matches('-');
    let hash = short_hash(&format!("{run_id}\u{0}{step_id}"), 10);
    if slug.is_empty() {
        format!("mdl-{hash}")
    } else {
        format!("mdl-{slug}-{hash}")
    }
}

/// The label selector of every Job (and pod) of a run.
pub fn run_selector(project: &str, run_id: &RunId) -> String {
    format!(
        "{LABEL_PROJECT}={},{LABEL_RUN}={}",
        label_value(project),
        label_value(run_id)
    )
}

/// A Kubernetes quantity for a number of vCPUs, in millicores.
pub fn cpu_quantity(vcpu: f64) -> Quantity {
    let milli = (vcpu * 1000.0).round().max(1.0) as u64;
    if milli.is_multiple_of(1000) {
        Quantity((milli / 1000).to_string())
    } else {
        Quantity(format!("{milli}m"))
    }
}

/// A Kubernetes quantity for mebibytes.
pub fn memory_quantity(memory_mb: u32) -> Quantity {
    Quantity(format!("{memory_mb}Mi"))
}

/// How many pods run at once: `max_nodes` when set (at least 1), all partitions otherwise.
pub fn parallelism(completions: i32, hints: &ComputeHints) -> i32 {
    hints.max_nodes.map_or(completions, |n| {
        (i32::try_from(n).unwrap_or(i32::MAX)).clamp(1, completions)
    })
}

/// The Job for a step.
pub fn build_job(settings: &JobSettings, step: &StepJob<'_>) -> Job {
    let labels = job_labels(step);
    let count = step.completions.max(step.partitions.len()).max(1);
    let annotations = job_annotations(step, count);
    let completions = i32::try_from(count).unwrap_or(i32::MAX);
    let indexed = count > 1;
    let hints = step.hints;
    let (node_selector, tolerations) = placement(hints);
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(step.run_id, step.step_id)),
            namespace: Some(settings.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            completions: Some(completions),
            parallelism: Some(parallelism(completions, hints)),
            completion_mode: Some(if indexed { "Indexed" } else { "NonIndexed" }.to_owned()),
            backoff_limit: Some(0),
            ttl_seconds_after_finished: Some(settings.ttl_secs),
            active_deadline_seconds: hints.timeout_secs.map(i64::from),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    service_account_name: settings.service_account.clone(),
                    node_selector: (!node_selector.is_empty()).then_some(node_selector),
                    tolerations: (!tolerations.is_empty()).then_some(tolerations),
                    containers: vec![runner_container(settings, step)],
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// The labels of the Job and its pods: project, first asset, run, step, and Medallion's mark.
fn job_labels(step: &StepJob<'_>) -> BTreeMap<String, String> {
    let first_asset = step.assets.first().map_or("", AssetKey::as_str);
    let mut labels = BTreeMap::new();
    labels.insert(LABEL_PROJECT.to_owned(), label_value(step.project));
    labels.insert(LABEL_ASSET.to_owned(), label_value(first_asset));
    labels.insert(LABEL_RUN.to_owned(), label_value(step.run_id));
    labels.insert(LABEL_STEP.to_owned(), label_value(step.step_id));
    labels.insert(LABEL_MANAGED_BY.to_owned(), "medallion".to_owned());
    labels
}

/// The annotations Medallion reads back from its Job: the exact run and step ids, assets,
/// partitions, plan and completion count (labels are shortened; these are not).
fn job_annotations(step: &StepJob<'_>, count: usize) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::new();
    annotations.insert(ANNOTATION_RUN_ID.to_owned(), step.run_id.to_string());
    annotations.insert(ANNOTATION_STEP_ID.to_owned(), step.step_id.to_owned());
    annotations.insert(
        ANNOTATION_ASSETS.to_owned(),
        serde_json::to_string(&step.assets.iter().map(AssetKey::as_str).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    annotations.insert(
        ANNOTATION_PARTITIONS.to_owned(),
        serde_json::to_string(step.partitions).unwrap_or_default(),
    );
    annotations.insert(ANNOTATION_PLAN.to_owned(), step.plan_uri.to_owned());
    annotations.insert(ANNOTATION_COMPLETIONS.to_owned(), count.to_string());
    annotations
}

/// Where the pods may run: the node type and Spot or on-demand capacity the hints ask for.
fn placement(hints: &ComputeHints) -> (BTreeMap<String, String>, Vec<Toleration>) {
    let mut node_selector = BTreeMap::new();
    if let Some(node_type) = hints.node_type.as_deref().filter(|t| !t.trim().is_empty()) {
        node_selector.insert(
            "node.kubernetes.io/instance-type".to_owned(),
            node_type.trim().to_owned(),
        );
    }
    let mut tolerations = Vec::new();
    match hints.spot {
        Some(true) => {
            node_selector.insert(
                "eks.amazonaws.com/capacityType".to_owned(),
                "SPOT".to_owned(),
            );
            tolerations.push(Toleration {
                key: Some("eks.amazonaws.com/capacityType".to_owned()),
                operator: Some("Equal".to_owned()),
                value: Some("SPOT".to_owned()),
                effect: Some("NoSchedule".to_owned()),
                ..Toleration::default()
            });
        }
        Some(false) => {
            node_selector.insert(
                "eks.amazonaws.com/capacityType".to_owned(),
                "ON_DEMAND".to_owned(),
            );
        }
        None => {}
    }
    (node_selector, tolerations)
}

/// The runner's container: the image, `runner --plan URI`, the plan and settings' environment,
/// and the step's CPU and memory requests (memory also its limit).
fn runner_container(settings: &JobSettings, step: &StepJob<'_>) -> Container {
    let hints = step.hints;
    let vcpu = hints.vcpu.unwrap_or(DEFAULT_VCPU);
    let memory_mb = hints.memory_mb.unwrap_or(DEFAULT_MEMORY_MB);
    let mut requests = BTreeMap::new();
    requests.insert("cpu".to_owned(), cpu_quantity(vcpu));
    requests.insert("memory".to_owned(), memory_quantity(memory_mb));
    let mut limits = BTreeMap::new();
    limits.insert("memory".to_owned(), memory_quantity(memory_mb));

    let mut env = vec![EnvVar {
        name: PLAN_ENV_VAR.to_owned(),
        value: Some(step.plan_uri.to_owned()),
        ..EnvVar::default()
    }];
    env.extend(settings.env.iter().map(|(k, v)| EnvVar {
        name: k.clone(),
        value: Some(v.clone()),
        ..EnvVar::default()
    }));

    Container {
        name: CONTAINER.to_owned(),
        image: Some(settings.image.clone()),
        command: Some(settings.command.clone()),
        args: Some(vec![
            "runner".to_owned(),
            "--plan".to_owned(),
            step.plan_uri.to_owned(),
        ]),
        env: Some(env),
        resources: Some(ResourceRequirements {
            requests: Some(requests),
            limits: Some(limits),
            ..ResourceRequirements::default()
        }),
        ..Container::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_valid_and_distinct() {
        let valid = regex::Regex::new(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$").unwrap();
        for raw in [
            "gold/daily_revenue",
            "customer_analytics",
            "2026-01-02T03:04:05Z#run",
            "_x_",
            "ünïcode name",
            &"a".repeat(100),
            &format!("{}b", "a".repeat(99)),
        ] {
            let v = label_value(raw);
            assert!(v.len() <= 63, "{v}");
            assert!(valid.is_match(&v), "{raw} -> {v}");
        }
        assert_eq!(label_value("gold/daily_revenue"), "gold.daily_revenue");
        assert_eq!(label_value("customer_analytics"), "customer_analytics");
        assert_ne!(
            label_value(&"a".repeat(100)),
            label_value(&format!("{}b", "a".repeat(99)))
        );
    }

    #[test]
    fn job_names_are_dns_labels_unique_per_run_and_step() {
        let dns = regex::Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").unwrap();
        let a = job_name(&"r1".into(), "gold/Daily_Revenue");
        assert!(dns.is_match(&a) && a.len() <= 52, "{a}");
        assert!(a.starts_with("mdl-gold-daily-revenue-"), "{a}");
        assert_ne!(a, job_name(&"r2".into(), "gold/Daily_Revenue"));
        let long = job_name(&"r1".into(), &"x/".repeat(80));
        assert!(dns.is_match(&long) && long.len() <= 52, "{long}");
    }

    #[test]
    fn quantities() {
        assert_eq!(cpu_quantity(2.0).0, "2");
        assert_eq!(cpu_quantity(0.25).0, "250m");
        assert_eq!(memory_quantity(3072).0, "3072Mi");
    }

    #[test]
    fn partitioned_step_is_an_indexed_job_on_spot_nodes() {
        let settings = JobSettings::new("data", "registry/medallion:1");
        let assets = [AssetKey::new("gold/daily_revenue")];
        let partitions: Vec<String> = (1..=3).map(|d| format!("2024-01-0{d}")).collect();
        let hints = ComputeHints {
            vcpu: Some(2.0),
            memory_mb: Some(4096),
            spot: Some(true),
            node_type: Some("m6i.xlarge".into()),
            max_nodes: Some(2),
            timeout_secs: Some(600),
            ..ComputeHints::default()
        };
        let job = build_job(
            &settings,
            &StepJob {
                project: "customer_analytics",
                run_id: &"r1".into(),
                step_id: "gold/daily_revenue",
                assets: &assets,
                partitions: &partitions,
                completions: 3,
                plan_uri: "s3://b/p/_runs/r1/plan.json",
                hints: &hints,
            },
        );
        let spec = job.spec.unwrap();
        assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
        assert_eq!(spec.completions, Some(3));
        assert_eq!(spec.parallelism, Some(2));
        assert_eq!(spec.backoff_limit, Some(0));
        assert_eq!(spec.active_deadline_seconds, Some(600));
        let labels = job.metadata.labels.unwrap();
        assert_eq!(labels[LABEL_ASSET], "gold.daily_revenue");
        assert_eq!(labels[LABEL_PROJECT], "customer_analytics");
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let ns = pod.node_selector.unwrap();
        assert_eq!(ns["node.kubernetes.io/instance-type"], "m6i.xlarge");
        assert_eq!(ns["eks.amazonaws.com/capacityType"], "SPOT");
        assert_eq!(pod.tolerations.unwrap().len(), 1);
        let c = &pod.containers[0];
        assert_eq!(
            c.args.as_deref().unwrap(),
            ["runner", "--plan", "s3://b/p/_runs/r1/plan.json"]
        );
        let res = c.resources.as_ref().unwrap();
        assert_eq!(res.requests.as_ref().unwrap()["cpu"].0, "2");
        assert_eq!(res.limits.as_ref().unwrap()["memory"].0, "4096Mi");
    }

    #[test]
    fn unpartitioned_step_is_one_pod() {
        let settings = JobSettings::new("default", "img");
        let assets = [AssetKey::new("bronze/orders")];
        let job = build_job(
            &settings,
            &StepJob {
                project: "p",
                run_id: &"r".into(),
                step_id: "bronze/orders",
                assets: &assets,
                partitions: &[],
                completions: 1,
                plan_uri: "s3://b/plan.json",
                hints: &ComputeHints::default(),
            },
        );
        let spec = job.spec.unwrap();
        assert_eq!(spec.completions, Some(1));
        assert_eq!(spec.parallelism, Some(1));
        assert_eq!(spec.completion_mode.as_deref(), Some("NonIndexed"));
        assert!(spec.template.spec.unwrap().node_selector.is_none());
    }
}
