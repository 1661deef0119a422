//! Runs and what they produce (Dagster's `Run`, `AssetMaterialization`, `AssetCheckResult`):
//! plain values shared by the engine that emits them, the store that keeps them and the views
//! that show them.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::asset::AssetKey;
use super::check::CheckSeverity;

/// The id of a run (`20240101T000000-1a2b3c`): the key of its row, its events, its
/// materializations and its remote steps. Stored and serialized as the plain string; it
/// dereferences to `&str`, so it goes wherever a borrowed string is read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    pub fn new(id: impl Into<String>) -> Self {
        RunId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Deref for RunId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for RunId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for RunId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<String> for RunId {
    fn from(id: String) -> Self {
        RunId(id)
    }
}

impl From<&str> for RunId {
    fn from(id: &str) -> Self {
        RunId(id.to_owned())
    }
}

impl From<&RunId> for RunId {
    fn from(id: &RunId) -> Self {
        id.clone()
    }
}

impl From<RunId> for String {
    fn from(id: RunId) -> Self {
        id.0
    }
}

impl PartialEq<str> for RunId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RunId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for RunId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<RunId> for str {
    fn eq(&self, other: &RunId) -> bool {
        self == other.0
    }
}

impl PartialEq<RunId> for &str {
    fn eq(&self, other: &RunId) -> bool {
        *self == other.0
    }
}

impl PartialEq<RunId> for String {
    fn eq(&self, other: &RunId) -> bool {
        *self == other.0
    }
}

/// The life of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Starting,
    Started,
    Success,
    Failure,
    Canceling,
    Canceled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Queued,
        RunStatus::Starting,
        RunStatus::Started,
        RunStatus::Success,
        RunStatus::Failure,
        RunStatus::Canceling,
        RunStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Starting => "starting",
            RunStatus::Started => "started",
            RunStatus::Success => "success",
            RunStatus::Failure => "failure",
            RunStatus::Canceling => "canceling",
            RunStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Success | RunStatus::Failure | RunStatus::Canceled
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to one asset in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepOutcome {
    Materialized,
    /// Definition and inputs unchanged since the last materialization. `failing` is set when
    /// that stored data failed an Error check (in an earlier run): nothing was built, and the
    /// asset — and this run — failed for it.
    UpToDate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failing: Option<StoredFailure>,
    },
    Skipped {
        reason: String,
    },
    Failed {
        error: String,
    },
    Canceled,
    /// Not run: the materialization of an upstream asset (`upstream`, made by run `run_id`)
    /// failed the blocking Error check `check`, so nothing is built from it. `reason` is the
    /// sentence shown: "blocked: check C of asset A failed in run R".
    Blocked {
        upstream: AssetKey,
        check: String,
        run_id: RunId,
        reason: String,
    },
    /// A checks-only run evaluated the asset's checks on its stored materialization (of run
    /// `run_id`); nothing was computed.
    Checked {
        run_id: RunId,
    },
}

/// An Error check that an asset's stored (unchanged) data failed, and the run that found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFailure {
    pub check: String,
    pub run_id: RunId,
}

impl StoredFailure {
    /// "check C failed on its stored data in run R"
    pub fn sentence(&self) -> String {
        format!(
            "check {} failed on its stored data in run {}",
            self.check, self.run_id
        )
    }
}

impl StepOutcome {
    /// Up to date, its stored data passing its Error checks.
    pub const UP_TO_DATE: StepOutcome = StepOutcome::UpToDate { failing: None };

    /// Up to date but its stored data failing an Error check: the step failed.
    pub fn is_failing(&self) -> bool {
        matches!(self, StepOutcome::UpToDate { failing: Some(_) })
    }

    pub fn label(&self) -> &'static str {
        match self {
            StepOutcome::Materialized => "materialized",
            StepOutcome::UpToDate { failing: None } => "up to date",
            StepOutcome::UpToDate { failing: Some(_) } => "up to date, failing",
            StepOutcome::Skipped { .. } => "skipped",
            StepOutcome::Failed { .. } => "failed",
            StepOutcome::Canceled => "canceled",
            StepOutcome::Blocked { .. } => "blocked",
            StepOutcome::Checked { .. } => "checked",
        }
    }

    /// The outcome of an asset whose upstream's materialization failed a blocking check.
    pub fn blocked(upstream: &AssetKey, check: &str, run_id: &RunId) -> Self {
        StepOutcome::Blocked {
            upstream: upstream.clone(),
            check: check.to_owned(),
            run_id: run_id.clone(),
            reason: format!("blocked: check {check} of asset {upstream} failed in run {run_id}"),
        }
    }

    /// The reason or error of an outcome that has one.
    pub fn detail(&self) -> Option<&str> {
        match self {
            StepOutcome::Skipped { reason } | StepOutcome::Blocked { reason, .. } => Some(reason),
            StepOutcome::Failed { error } => Some(error),
            _ => None,
        }
    }
}

/// Log levels of run log lines (run data, not tracing output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// A column in a materialization's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSchema {
    pub name: String,
    pub dtype: String,
}

/// A stored output of one asset (and partition) from one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetMaterialization {
    pub asset: AssetKey,
    pub partition: Option<String>,
    pub run_id: RunId,
    /// Where the data is (a local path or an object URI).
    pub location: String,
    pub row_count: u64,
    pub byte_count: u64,
    pub schema: Vec<ColumnSchema>,
    /// Hash of the asset's definition when it ran.
    pub definition_hash: String,
    pub code_version: Option<String>,
    /// Data versions of the inputs it was computed from, by asset key (or source path).
    pub input_versions: BTreeMap<String, String>,
    /// A version of this output: changes whenever the definition or an input changes.
    pub data_version: String,
    #[serde(with = "super::time")]
    pub created_at: DateTime<Utc>,
}

/// The evaluation of one check on one materialization (Dagster's `AssetCheckResult`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetCheckResult {
    pub asset: AssetKey,
    pub partition: Option<String>,
    pub check_name: String,
    pub passed: bool,
    pub severity: CheckSeverity,
    pub blocking: bool,
    pub description: String,
    /// Rows that violate the check (0 for checks on the whole table).
    pub failing_count: u64,
    /// A few failing rows as JSON objects.
    pub failing_sample: Vec<serde_json::Value>,
    /// A hash of the check's definition when it was evaluated (kind, severity, blocking): a
    /// result stands for the check only while the hash matches. Empty in records made before
    /// checks had one, which therefore count as "not evaluated".
    #[serde(default)]
    pub check_hash: String,
    /// The run whose materialization was evaluated: the run itself, or an earlier one when a
    /// changed check or a checks-only run looked at stored data.
    #[serde(default)]
    pub materialization_run_id: Option<RunId>,
}

/// A stored check evaluation with the run that made it (`check_evaluations` in the workspace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// The run that evaluated the check.
    pub run_id: RunId,
    #[serde(with = "super::time")]
    pub created_at: DateTime<Utc>,
    pub result: AssetCheckResult,
}

impl CheckRecord {
    /// The run whose materialization was evaluated (older records: the evaluating run).
    pub fn materialization_run_id(&self) -> &RunId {
        self.result
            .materialization_run_id
            .as_ref()
            .unwrap_or(&self.run_id)
    }
}

/// A profile of one column of a materialization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    pub dtype: String,
    pub null_count: u64,
    pub distinct_count: u64,
    pub min: Option<String>,
    pub max: Option<String>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    /// Most frequent values with their counts (string columns).
    pub top_values: Vec<(String, u64)>,
    /// Equal-width histogram over [min, max] (numeric columns): bucket lower bounds and counts.
    pub histogram: Vec<(f64, u64)>,
    /// Whether the top values, the histogram, the mean and the stddev were estimated from a
    /// sample spread over the whole table (large tables; counts are scaled up to the whole
    /// table). Nulls, min and max are always exact.
    #[serde(default)]
    pub sampled: bool,
    /// Whether `distinct_count` is an estimate (`HyperLogLog`, large tables).
    #[serde(default)]
    pub distinct_approx: bool,
}

impl ColumnProfile {
    /// A mean or stddev as shown: `≈` marks an estimate from a sample.
    pub fn moment_label(&self, value: Option<f64>) -> String {
        match value {
            Some(v) if self.sampled => format!("≈{v:.4}"),
            Some(v) => format!("{v:.4}"),
            None => String::new(),
        }
    }

    /// The first `max` top values as shown, `value (count)`. A sampled text column that lists
    /// none had no value twice in its sample, and says so rather than showing nothing.
    pub fn top_values_label(&self, max: usize) -> String {
        if self.top_values.is_empty() && self.sampled && self.dtype == "str" {
            return "no value repeats in the sample".to_owned();
        }
        self.top_values
            .iter()
            .take(max)
            .map(|(v, n)| format!("{v} ({})", self.count_label(*n)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A count of rows (a top value's or a histogram bucket's) as shown: `≈` marks one scaled
    /// up from a sample.
    pub fn count_label(&self, n: u64) -> String {
        if self.sampled {
            format!("≈{n}")
        } else {
            n.to_string()
        }
    }

    /// The distinct count as shown: `≈` marks an estimate.
    pub fn distinct_label(&self) -> String {
        if self.distinct_approx {
            format!("≈{}", self.distinct_count)
        } else {
            self.distinct_count.to_string()
        }
    }
}

/// The profile of a whole materialization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetProfile {
    pub asset: AssetKey,
    pub partition: Option<String>,
    pub row_count: u64,
    pub columns: Vec<ColumnProfile>,
}

/// Something that happened in a run, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    RunStarted {
        plan: Vec<AssetKey>,
    },
    Log {
        level: LogLevel,
        asset: Option<AssetKey>,
        message: String,
    },
    StepStarted {
        asset: AssetKey,
        partition: Option<String>,
        /// Too big to sit beside other steps: streamed by polars straight into its Parquet
        /// file instead of collected in memory.
        #[serde(default, skip_serializing_if = "is_false")]
        streamed: bool,
    },
    StepFinished {
        asset: AssetKey,
        partition: Option<String>,
        outcome: StepOutcome,
        duration_ms: u64,
        /// False when the step's process died while it ran: a later process closed it, and
        /// how long it ran is unknown (`duration_ms` is then only up to its last sign of life).
        #[serde(default = "known", skip_serializing_if = "is_known")]
        duration_known: bool,
    },
    Materialization(AssetMaterialization),
    CheckEvaluation(AssetCheckResult),
    Profile(AssetProfile),
    /// A source read with other columns or types than its last materialization had.
    SchemaDrift(super::contract::SchemaDrift),
    RunFinished {
        status: RunStatus,
        error: Option<String>,
    },
}

impl RunEvent {
    /// The asset an event concerns, if any.
    pub fn asset(&self) -> Option<&AssetKey> {
        match self {
            RunEvent::Log { asset, .. } => asset.as_ref(),
            RunEvent::StepStarted { asset, .. } | RunEvent::StepFinished { asset, .. } => {
                Some(asset)
            }
            RunEvent::Materialization(m) => Some(&m.asset),
            RunEvent::CheckEvaluation(c) => Some(&c.asset),
            RunEvent::Profile(p) => Some(&p.asset),
            RunEvent::SchemaDrift(d) => Some(&d.asset),
            RunEvent::RunStarted { .. } | RunEvent::RunFinished { .. } => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            RunEvent::RunStarted { .. } => "run_started",
            RunEvent::Log { .. } => "log",
            RunEvent::StepStarted { .. } => "step_started",
            RunEvent::StepFinished { .. } => "step_finished",
            RunEvent::Materialization(_) => "materialization",
            RunEvent::CheckEvaluation(_) => "check_evaluation",
            RunEvent::Profile(_) => "profile",
            RunEvent::SchemaDrift(_) => "schema_drift",
            RunEvent::RunFinished { .. } => "run_finished",
        }
    }

    /// A one-line human summary, used for log views and plain-text progress.
    pub fn summary(&self) -> String {
        match self {
            RunEvent::RunStarted { plan } => format!("run started: {} asset(s)", plan.len()),
            RunEvent::Log { message, .. } => message.clone(),
            RunEvent::StepStarted {
                asset, partition, ..
            } => {
                format!("{asset}{}: started", part(partition.as_ref()))
            }
            RunEvent::StepFinished {
                asset,
                partition,
                outcome,
                duration_ms,
                duration_known,
            } => {
                if let StepOutcome::Blocked { reason, .. } = outcome {
                    // "daily_revenue: blocked: check C of asset A failed in run R"
                    return format!("{asset}{}: {reason}", part(partition.as_ref()));
                }
                let detail = match outcome {
                    StepOutcome::Skipped { reason } => format!(" ({reason})"),
                    StepOutcome::Failed { error } => format!(": {error}"),
                    StepOutcome::Checked { run_id } => {
                        format!(" (checks on the data of run {run_id})")
                    }
                    StepOutcome::UpToDate { failing: Some(f) } => format!(" ({})", f.sentence()),
                    _ => String::new(),
                };
                let took = if *duration_known {
                    format!("in {duration_ms} ms")
                } else {
                    "after an unknown time".to_owned()
                };
                format!(
                    "{asset}{}: {}{detail} {took}",
                    part(partition.as_ref()),
                    outcome.label()
                )
            }
            RunEvent::SchemaDrift(d) => d.summary(),
            RunEvent::Materialization(m) => {
                format!(
                    "{}{}: {} rows, {} bytes",
                    m.asset,
                    part(m.partition.as_ref()),
                    m.row_count,
                    m.byte_count
                )
            }
            RunEvent::CheckEvaluation(c) => format!(
                "{}: check {} {} ({}{}){}",
                c.asset,
                c.check_name,
                if c.passed { "passed" } else { "FAILED" },
                c.severity,
                if c.passed || c.failing_count == 0 {
                    String::new()
                } else {
                    format!(", {} failing rows", c.failing_count)
                },
                // A failed check says why: its description carries the cause (the rows
                // counted, or why it could not be evaluated, e.g. a missing column).
                if c.passed {
                    String::new()
                } else {
                    format!(": {}", c.description)
                }
            ),
            RunEvent::Profile(p) => format!("{}: profiled {} columns", p.asset, p.columns.len()),
            RunEvent::RunFinished { status, error } => match error {
                Some(e) => format!("run {status}: {e}"),
                None => format!("run {status}"),
            },
        }
    }
}

fn part(partition: Option<&String>) -> String {
    partition.map(|p| format!("[{p}]")).unwrap_or_default()
}

/// A run as listed in history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: RunId,
    pub project: String,
    pub selection: String,
    pub partition: Option<String>,
    pub target: String,
    pub status: RunStatus,
    pub trigger: String,
    #[serde(with = "super::time")]
    pub created_at: DateTime<Utc>,
    #[serde(default, with = "super::time::option")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, with = "super::time::option")]
    pub ended_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// Downstream steps ran on upstream data that failed a blocking check
    /// (`--allow-failed-upstream`): said on the run, its report and in history.
    #[serde(default)]
    pub allow_failed_upstream: bool,
    /// Only checks ran, on stored materializations (`medallion check`, "Run checks").
    #[serde(default)]
    pub checks_only: bool,
    /// False when the run's process died and a later process ended the run: its `ended_at`
    /// is then the last sign of life, and when it really stopped is unknown.
    #[serde(default = "known")]
    pub end_known: bool,
}

fn known() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_known(known: &bool) -> bool {
    *known
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(b: &bool) -> bool {
    !*b
}

impl RunRecord {
    /// How long the run took, from its start (its creation when it never started) to its end;
    /// `None` while it goes, and when its end is unknown (its process died).
    pub fn duration_ms(&self) -> Option<u64> {
        if !self.end_known {
            return None;
        }
        let start = self.started_at.unwrap_or(self.created_at);
        let end = self.ended_at?;
        u64::try_from((end - start).num_milliseconds()).ok()
    }
}

/// A run's duration as history, reports and alerts print it: the time, `running` while it
/// goes, `unknown` when it finished without a known end.
pub fn duration_text(run: &RunRecord) -> String {
    match run.duration_ms() {
        Some(ms) => format_duration_ms(ms),
        None if run.status.is_finished() => "unknown".to_owned(),
        None => "running".to_owned(),
    }
}

/// `340 ms`, `1.2 s`, `2 min 3 s`, `1 h 4 min`.
pub fn format_duration_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    } else {
        format!("{} h {} min", ms / 3_600_000, (ms % 3_600_000) / 60_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_values_read_as_estimates_when_sampled_and_say_when_none_repeats() {
        let mut c = ColumnProfile {
            name: "email".into(),
            dtype: "str".into(),
            null_count: 0,
            distinct_count: 10,
            min: None,
            max: None,
            mean: None,
            std: None,
            top_values: vec![("a".into(), 6), ("b".into(), 4)],
            histogram: Vec::new(),
            sampled: false,
            distinct_approx: false,
        };
        assert_eq!(c.top_values_label(5), "a (6), b (4)");
        assert_eq!(c.top_values_label(1), "a (6)");
        c.sampled = true;
        assert_eq!(c.top_values_label(5), "a (≈6), b (≈4)");
        c.top_values.clear();
        assert_eq!(c.top_values_label(5), "no value repeats in the sample");
        c.dtype = "date".into();
        assert_eq!(c.top_values_label(5), "");
    }

    /// Runs stored before an up-to-date step said what failed it read back as plain "up to
    /// date"; one failing an Error check on its stored data is written with its check and run.
    #[test]
    fn an_up_to_date_outcome_reads_old_events_and_writes_its_failing_check() {
        let old: StepOutcome = serde_json::from_str(r#"{"outcome":"up_to_date"}"#).unwrap();
        assert_eq!(old, StepOutcome::UP_TO_DATE);
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            r#"{"outcome":"up_to_date"}"#
        );
        let failing = StepOutcome::UpToDate {
            failing: Some(StoredFailure {
                check: "c".into(),
                run_id: "r1".into(),
            }),
        };
        let json = serde_json::to_string(&failing).unwrap();
        assert_eq!(
            json,
            r#"{"outcome":"up_to_date","failing":{"check":"c","run_id":"r1"}}"#
        );
        assert_eq!(serde_json::from_str::<StepOutcome>(&json).unwrap(), failing);
        assert!(failing.is_failing() && !old.is_failing());
    }
}
