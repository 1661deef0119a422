//! The runner protocol: what a remote runner is asked to do and what it reports back.
//!
//! Every remote tier (Lambda, ECS Fargate, AWS Batch, EKS) runs the same binary,
//! `medallion runner --plan URI`, with the same two contracts:
//!
//! - **In**: a [`StepPlan`], stored as JSON at an `s3://` URI (Fargate, Batch, EKS) or carried in
//!   the Lambda invoke payload. It names the assets to run, the partition(s), where upstream
//!   materializations are and where to write new ones.
//! - **Out**: one JSON object per stdout line for every run event ([`RunnerLine`], versioned by
//!   [`PROTOCOL_VERSION`]), which the awslogs driver ships to `CloudWatch` Logs and Kubernetes keeps
//!   as the pod log; lines that are not protocol objects are plain log text. At the end the runner
//!   also writes a [`StepResult`] to [`StepPlan::result_uri`], so a delayed or lost log line never
//!   loses a result.
//!
//! Array jobs (a Batch array job, an EKS Indexed Job) run one child per partition: the plan lists
//! every partition and each child picks its own by the index its platform sets
//! ([`INDEX_ENV_VARS`]); `{index}` in `result_uri` is replaced by that index.

use serde::{Deserialize, Serialize};

use super::error::ComputeError;
use crate::model::RunId;
use crate::model::{AssetKey, AssetMaterialization, Project, RunEvent, RunStatus};

/// The version of the line and plan formats. A reader refuses a newer version with a clear error.
pub const PROTOCOL_VERSION: u32 = 1;

/// Environment variables that carry an array child's index, in the order they are consulted:
/// Kubernetes Indexed Jobs, then AWS Batch array jobs.
pub const INDEX_ENV_VARS: [&str; 2] = ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"];

/// The environment variable a launcher may set instead of passing `--plan URI`.
pub const PLAN_ENV_VAR: &str = "MEDALLION_PLAN_URI";
/// A deployed project's run id: its state machine sets it to the execution's name, and the
/// runner takes it over the plan's (a deployed plan serves every execution).
pub const RUN_ID_ENV_VAR: &str = "MEDALLION_RUN_ID";
/// A deployed project with daily partitions: its state machine gives every step the
/// execution's input as JSON, from which the runner takes the day to run
/// ([`StepPlan::for_execution_input`]).
pub const EXECUTION_INPUT_ENV_VAR: &str = "MEDALLION_EXECUTION_INPUT";

/// Where a remote run's materializations live:
/// `s3://{bucket}/{prefix}/{asset}/{partition or "_"}/{run_id}.parquet`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectStore {
    pub bucket: String,
    /// Without leading or trailing slashes; may be empty.
    pub prefix: String,
}

impl ObjectStore {
    /// The object key of an asset's materialization.
    pub fn materialization_key(
        &self,
        asset: &AssetKey,
        partition: Option<&str>,
        run_id: &RunId,
    ) -> String {
        let part = partition.map_or_else(|| "_".to_owned(), |p| p.replace(['/', '\\'], "_"));
        let prefix = self.prefix.trim_matches('/');
        if prefix.is_empty() {
            format!("{}/{part}/{run_id}.parquet", asset.as_str())
        } else {
            format!("{prefix}/{}/{part}/{run_id}.parquet", asset.as_str())
        }
    }

    /// The `s3://` URI of an asset's materialization.
    pub fn materialization_uri(
        &self,
        asset: &AssetKey,
        partition: Option<&str>,
        run_id: &RunId,
    ) -> String {
        format!(
            "s3://{}/{}",
            self.bucket,
            self.materialization_key(asset, partition, run_id)
        )
    }
}

/// One step of a remote run: the unit a launcher submits (one Lambda invocation, one ECS task,
/// one Batch job or array job, one Kubernetes Job).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepPlan {
    /// Always [`PROTOCOL_VERSION`] when written by this build.
    pub version: u32,
    pub run_id: RunId,
    /// Unique within the run, e.g. the asset key of the step's first asset.
    pub step_id: String,
    /// The project as it was when the run was launched.
    pub project: Project,
    /// The assets this step runs, in dependency order.
    pub assets: Vec<AssetKey>,
    /// Empty: unpartitioned. One: that partition. Several: an array step; each child runs the
    /// partition at its index (see [`INDEX_ENV_VARS`]).
    pub partitions: Vec<String>,
    pub force: bool,
    /// The latest materializations of upstream assets (and of these assets, for incremental
    /// runs), with `s3://` locations.
    pub previous: Vec<AssetMaterialization>,
    /// The latest evaluation of each check on the materializations in `previous`: data that
    /// failed a blocking check is not read by a downstream step.
    #[serde(default)]
    pub previous_checks: Vec<crate::model::CheckRecord>,
    /// Where this step writes materializations.
    pub store: ObjectStore,
    /// Where the runner writes its [`StepResult`] (`s3://…`, `{index}` replaced for arrays).
    pub result_uri: String,
    /// A deployed step's plan serves every execution, so it cannot list the materializations
    /// the steps before it make: it names their results instead (`{run}` is the execution),
    /// and the runner reads them into `previous` before it starts. Empty for a launch, whose
    /// driver lists `previous` itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream_results: Vec<String>,
    /// Which columns the step's outputs mask (policies bound to PII tags, for `remote`). No
    /// key travels with it: a `hash` of a remote output fails the step.
    #[serde(default)]
    pub masks: crate::model::masking::MaskPlan,
}

impl StepPlan {
    /// The partition an array child runs, from its index; `None` for an unpartitioned step.
    ///
    /// # Errors
    /// When the plan lists several partitions and the index is missing or out of range.
    pub fn partition_for(&self, index: Option<usize>) -> Result<Option<String>, ComputeError> {
        match (self.partitions.len(), index) {
            (0, _) => Ok(None),
            (1, None | Some(0)) => Ok(self.partitions.first().cloned()),
            (n, Some(i)) if i < n => Ok(self.partitions.get(i).cloned()),
            (n, Some(i)) => Err(ComputeError::invalid(format!(
                "array index {i} is out of range: the step has {n} partition(s)"
            ))),
            (n, None) => Err(ComputeError::invalid(format!(
                "the step has {n} partitions but no array index is set ({})",
                INDEX_ENV_VARS.join(" or ")
            ))),
        }
    }

    /// The plan of one execution of a deployed project whose assets are partitioned daily: the
    /// day comes from the execution's input (JSON) — `partition` (a manual start, e.g.
    /// `{"partition": "2026-01-31"}`), or `scheduled_time` with its schedule's `partition_rule`
    /// (`tick_date`, `previous_day`, `key:KEY`) read in its `timezone`, as a local schedule
    /// reads its tick. A plan that lists its partitions, or has no daily asset, is returned as
    /// it is.
    ///
    /// # Errors
    /// An input that names no day (one sentence saying how to start the execution), or a
    /// malformed time, rule or time zone.
    pub fn for_execution_input(mut self, input: Option<&str>) -> Result<Self, ComputeError> {
        use crate::model::automation::{PartitionChoice, parse_timezone};
        if !self.partitions.is_empty() {
            return Ok(self);
        }
        let daily: Vec<&str> = self
            .assets
            .iter()
            .filter(|k| {
                self.project.asset(k).is_some_and(|a| {
                    matches!(
                        a.partitions,
                        crate::model::PartitionsDefinition::Daily { .. }
                    )
                })
            })
            .map(AssetKey::as_str)
            .collect();
        if daily.is_empty() {
            return Ok(self);
        }
        let input: serde_json::Value = input
            .and_then(|i| serde_json::from_str(i).ok())
            .unwrap_or_default();
        let text = |field: &str| input.get(field).and_then(serde_json::Value::as_str);
        let day = if let Some(p) = text("partition") {
            Some(p.to_owned())
        } else if let (Some(time), Some(rule)) = (text("scheduled_time"), text("partition_rule")) {
            let tick = chrono::DateTime::parse_from_rfc3339(time)
                .map_err(|e| {
                    ComputeError::invalid(format!(
                        "the execution's scheduled_time `{time}` is not an RFC 3339 time: {e}"
                    ))
                })?
                .with_timezone(&chrono::Utc);
            let choice = PartitionChoice::parse(rule).map_err(|e| {
                ComputeError::invalid(format!("the execution's partition_rule: {e}"))
            })?;
            let tz = parse_timezone(text("timezone").unwrap_or("UTC"))
                .map_err(|e| ComputeError::invalid(format!("the execution's timezone: {e}")))?;
            choice.key_for(tick, tz, None)
        } else {
            None
        };
        match day {
            Some(day) => {
                self.partitions = vec![day];
                Ok(self)
            }
            None => Err(ComputeError::invalid(format!(
                "{} {} partitioned by day and this execution names no day: start it with the input {{\"partition\": \"YYYY-MM-DD\"}}, or from a deployed schedule that has a partition rule (tick_date or previous_day)",
                daily.join(", "),
                if daily.len() == 1 { "is" } else { "are" }
            ))),
        }
    }

    /// The plan of one execution of a deployed project: the run id is the execution's, and
    /// `{run}` in the result URI becomes it. `None` leaves the plan as it is.
    #[must_use]
    pub fn for_run(mut self, run: Option<RunId>) -> Self {
        if let Some(run) = run.filter(|r| !r.as_str().is_empty()) {
            self.result_uri = self.result_uri.replace("{run}", run.as_str());
            for u in &mut self.upstream_results {
                *u = u.replace("{run}", run.as_str());
            }
            self.run_id = run;
        }
        self
    }

    /// The result URI for an array child (or the plain one).
    pub fn result_uri_for(&self, index: Option<usize>) -> String {
        self.result_uri.replace(
            "{index}",
            &index.map_or_else(|| "0".to_owned(), |i| i.to_string()),
        )
    }
}

/// The final outcome of one runner process, written to [`StepPlan::result_uri`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub version: u32,
    pub run_id: RunId,
    pub step_id: String,
    pub partition: Option<String>,
    pub status: RunStatus,
    pub error: Option<String>,
    /// Every event the runner emitted, in order (the same ones it printed).
    pub events: Vec<RunEvent>,
    /// Wall-clock seconds the runner worked (for the actual cost).
    pub duration_secs: f64,
}

/// One protocol line on the runner's stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerLine {
    /// The protocol marker and version; a line without it is plain log text.
    pub medallion: u32,
    pub run_id: RunId,
    pub step_id: String,
    pub partition: Option<String>,
    /// Position of the event in this runner's output, from 0; lets a reader that resumes
    /// tailing skip what it has already seen.
    pub seq: u64,
    pub event: RunEvent,
}

impl RunnerLine {
    /// The line as printed (one JSON object, no newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What a line of runner output is.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedLine {
    /// A protocol event.
    Event(Box<RunnerLine>),
    /// Plain text (the runner's own or the platform's), kept as a log line.
    Text(String),
}

/// Reads one line of runner output.
///
/// # Errors
/// A protocol line (a JSON object with a `medallion` field) that is malformed or from a newer
/// protocol version.
pub fn parse_line(line: &str) -> Result<ParsedLine, ComputeError> {
    let trimmed = line.trim_end_matches(['\r', '\n']);
    let Ok(value) = serde_json::from_str::<serde_json::Value>(trimmed) else {
        return Ok(ParsedLine::Text(trimmed.to_owned()));
    };
    let Some(version) = value.get("medallion").and_then(serde_json::Value::as_u64) else {
        return Ok(ParsedLine::Text(trimmed.to_owned()));
    };
    if version > u64::from(PROTOCOL_VERSION) {
        return Err(ComputeError::invalid(format!(
            "runner output uses protocol version {version}; this build reads up to {PROTOCOL_VERSION} — update Medallion or the runner image"
        )));
    }
    serde_json::from_value::<RunnerLine>(value)
        .map(|l| ParsedLine::Event(Box::new(l)))
        .map_err(|e| ComputeError::invalid(format!("malformed runner event line: {e}")))
}

/// The array index set by the platform, if any.
///
/// # Errors
/// When an index variable is set but is not a non-negative integer.
pub fn index_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<usize>, ComputeError> {
    for var in INDEX_ENV_VARS {
        if let Some(v) = get(var) {
            return v
                .trim()
                .parse::<usize>()
                .map(Some)
                .map_err(|_| ComputeError::invalid(format!("{var}={v:?} is not an array index")));
        }
    }
    Ok(None)
}

/// What a Medallion Lambda function is invoked with: the plan itself when small, else its URI.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LambdaEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Box<StepPlan>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_uri: Option<String>,
    /// A deployed project's execution: the run id it runs as ([`StepPlan::for_run`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    /// A deployed project's execution: its input, for the day a daily partitioned plan runs
    /// ([`StepPlan::for_execution_input`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LogLevel, Project};

    fn plan(partitions: &[&str]) -> StepPlan {
        StepPlan {
            version: PROTOCOL_VERSION,
            run_id: "r1".into(),
            step_id: "s1".into(),
            project: Project::default(),
            assets: vec![AssetKey::new("orders")],
            partitions: partitions.iter().map(|p| (*p).to_owned()).collect(),
            force: false,
            previous: vec![],
            store: ObjectStore {
                bucket: "b".into(),
                prefix: "medallion/p".into(),
            },
            result_uri: "s3://b/medallion/p/_runs/r1/s1/{index}.json".into(),
            masks: crate::model::masking::MaskPlan::default(),
            previous_checks: vec![],
            upstream_results: vec![],
        }
    }

    #[test]
    fn lines_round_trip_and_text_stays_text() {
        let line = RunnerLine {
            medallion: PROTOCOL_VERSION,
            run_id: "r1".into(),
            step_id: "s1".into(),
            partition: Some("2024-01-01".into()),
            seq: 3,
            event: RunEvent::Log {
                level: LogLevel::Info,
                asset: Some(AssetKey::new("orders")),
                message: "hello".into(),
            },
        };
        let text = line.to_line();
        assert!(!text.contains('\n'));
        assert_eq!(
            parse_line(&format!("{text}\n")).unwrap(),
            ParsedLine::Event(Box::new(line))
        );
        assert_eq!(
            parse_line("START RequestId: 1").unwrap(),
            ParsedLine::Text("START RequestId: 1".into())
        );
        assert_eq!(
            parse_line(r#"{"level":"info"}"#).unwrap(),
            ParsedLine::Text(r#"{"level":"info"}"#.into())
        );
        assert!(
            parse_line(r#"{"medallion":1,"run_id":"r"}"#)
                .unwrap_err()
                .to_string()
                .contains("malformed")
        );
        assert!(
            parse_line(r#"{"medallion":99}"#)
                .unwrap_err()
                .to_string()
                .contains("version 99")
        );
    }

    #[test]
    fn array_children_pick_their_partition() {
        assert_eq!(plan(&[]).partition_for(Some(4)).unwrap(), None);
        assert_eq!(plan(&["a"]).partition_for(None).unwrap(), Some("a".into()));
        let p = plan(&["a", "b", "c"]);
        assert_eq!(p.partition_for(Some(2)).unwrap(), Some("c".into()));
        assert!(
            p.partition_for(Some(3))
                .unwrap_err()
                .to_string()
                .contains("out of range")
        );
        assert!(
            p.partition_for(None)
                .unwrap_err()
                .to_string()
                .contains("JOB_COMPLETION_INDEX")
        );
        assert_eq!(
            p.result_uri_for(Some(2)),
            "s3://b/medallion/p/_runs/r1/s1/2.json"
        );
    }

    #[test]
    fn index_comes_from_kubernetes_or_batch() {
        let env = |k: &str| (k == "AWS_BATCH_JOB_ARRAY_INDEX").then(|| "7".to_owned());
        assert_eq!(index_from_env(env).unwrap(), Some(7));
        assert_eq!(index_from_env(|_| None).unwrap(), None);
        let bad = |k: &str| (k == "JOB_COMPLETION_INDEX").then(|| "x".to_owned());
        assert!(
            index_from_env(bad)
                .unwrap_err()
                .to_string()
                .contains("JOB_COMPLETION_INDEX")
        );
    }

    #[test]
    fn materialization_keys_follow_the_layout() {
        let store = ObjectStore {
            bucket: "b".into(),
            prefix: "/medallion/p/".into(),
        };
        assert_eq!(
            store.materialization_uri(&AssetKey::new("orders"), Some("2024/01"), &"r1".into()),
            "s3://b/medallion/p/orders/2024_01/r1.parquet"
        );
        let bare = ObjectStore {
            bucket: "b".into(),
            prefix: String::new(),
        };
        assert_eq!(
            bare.materialization_key(&AssetKey::new("orders"), None, &"r1".into()),
            "orders/_/r1.parquet"
        );
    }
}
