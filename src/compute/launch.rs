//! The launcher interface every remote tier implements (Fargate, Batch, Lambda here; EKS in
//! `compute::eks`): submit a step, read its state and logs, cancel it. The app stores every
//! identifier a launcher returns the moment it has it, and drives steps through this trait
//! only, so a tier slots in without touching the orchestration.
//!
//! Calls are blocking (each implementation blocks on the handle of the process's one runtime,
//! which `app::runtime` builds) so the app can call them from plain threads.

use super::error::ComputeError;
use crate::model::RunId;
use crate::model::{AssetKey, ComputeTier};

/// What one step asks of its platform.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    pub run_id: RunId,
    pub step_id: String,
    pub project: String,
    pub assets: Vec<AssetKey>,
    /// Where the runner reads its [`super::protocol::StepPlan`].
    pub plan_uri: String,
    /// 0 or 1: one process; more: an array job with one child per partition.
    pub array_size: usize,
    pub vcpu: f64,
    pub memory_mb: u32,
    pub spot: bool,
    pub timeout_secs: Option<u32>,
    /// EC2 instance type of the nodes (EKS node selection), from the step's hints.
    pub node_type: Option<String>,
    /// How many children run at once (EKS `parallelism`); all when `None`.
    pub max_nodes: Option<u32>,
}

impl LaunchSpec {
    /// A short name for the platform's own listings, e.g. `medallion-20260101T000000-abc-s1`.
    pub fn display_name(&self) -> String {
        let raw = format!("medallion-{}-{}", self.run_id, self.step_id);
        raw.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(128)
            .collect()
    }

    /// The command the runner image runs (its entry point is the `medallion` binary).
    pub fn command(&self) -> Vec<String> {
        vec![
            "runner".to_owned(),
            "--plan".to_owned(),
            self.plan_uri.clone(),
        ]
    }

    /// Tags for cost attribution.
    pub fn tags(&self) -> Vec<(String, String)> {
        let assets = self
            .assets
            .iter()
            .map(AssetKey::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        vec![
            ("medallion:project".to_owned(), self.project.clone()),
            ("medallion:run".to_owned(), self.run_id.to_string()),
            ("medallion:step".to_owned(), self.step_id.clone()),
            // Tag values are at most 256 characters.
            (
                "medallion:asset".to_owned(),
                assets.chars().take(256).collect(),
            ),
        ]
    }
}

/// Where a remote step is in its life, as its platform reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemotePhase {
    /// Accepted, not running yet (provisioning, queued, runnable).
    Pending,
    Running,
    /// Ended by itself with success.
    Succeeded,
    /// Ended by itself with an error.
    Failed,
    /// Stopped from outside (cancel, capacity, timeout).
    Stopped,
}

impl RemotePhase {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RemotePhase::Succeeded | RemotePhase::Failed | RemotePhase::Stopped
        )
    }
}

/// The platform's view of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteState {
    pub phase: RemotePhase,
    /// The platform's own status word (`RUNNING`, `STOPPED`, `SUCCEEDED`, …).
    pub status: String,
    pub exit_code: Option<i32>,
    /// Why it stopped (the platform's words).
    pub reason: Option<String>,
}

/// Log lines read from one position on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogRead {
    pub lines: Vec<String>,
    /// Where to continue next time (`None`: from the start).
    pub position: Option<String>,
}

/// One remote tier. Every failure is a [`ComputeError`]: callers decide on its kind (a step
/// whose platform no longer knows it fails at once, a throttled read is tried again).
pub trait Launcher: Send + Sync {
    fn tier(&self) -> ComputeTier;
    /// Submits the step; returns the platform's identifier (task ARN, job id, request id).
    fn submit(&self, spec: &LaunchSpec) -> Result<String, ComputeError>;
    /// After a crash between submitting and storing the identifier: the step's identifier if
    /// the platform already has it.
    fn find_submitted(&self, spec: &LaunchSpec) -> Result<Option<String>, ComputeError> {
        let _ = spec;
        Ok(None)
    }
    fn status(&self, remote_id: &str) -> Result<RemoteState, ComputeError>;
    /// New log lines of one child (0 for a step that is not an array) after `position`. A log
    /// stream that does not exist yet reads as no lines.
    fn read_logs(
        &self,
        remote_id: &str,
        child: usize,
        position: Option<&str>,
    ) -> Result<LogRead, ComputeError>;
    /// Stops the step on its platform with `reason`.
    fn cancel(&self, remote_id: &str, reason: &str) -> Result<(), ComputeError>;
}
