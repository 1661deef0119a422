//! What the studio's Automation panel shows and does: every schedule and sensor with its next
//! tick and switch, the tick history with reasons, who holds the lease — and a pass run on a
//! named thread of its own (the studio evaluates while it is open and holds the lease, and
//! "Evaluate now" runs one at once).

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::Serialize;

use super::{AutomationStatus, PassOptions, PassReport, holder_id};
use crate::app::AppError;
use crate::model::Tick;
use crate::store::{Lease, Workspace};

/// How many ticks the panel shows.
pub const PANEL_TICKS: usize = 200;
/// How many failed alert deliveries the panel lists (newest first).
pub const PANEL_FAILED_DELIVERIES: usize = 500;

/// The panel's picture of one project.
#[derive(Debug, Clone, Serialize)]
pub struct AutomationView {
    pub project: String,
    pub statuses: Vec<AutomationStatus>,
    /// Newest first.
    pub ticks: Vec<Tick>,
    /// The lease as stored (it may have expired).
    pub lease: Option<Lease>,
    /// Whether the lease is still running (`expires_ms` in the future).
    pub lease_live: bool,
    /// This studio's holder id, to tell "this studio" from others.
    pub me: String,
    /// The project's alert deliveries that failed for good, newest first (at most
    /// [`PANEL_FAILED_DELIVERIES`]), read from the workspace: they survive a restart.
    pub failed_deliveries: Vec<crate::store::AttemptRecord>,
}

/// The studio's holder id.
pub fn studio_holder() -> String {
    holder_id("studio")
}

/// Reads the panel's view of `project`.
pub fn view(ws: &Workspace, project: &str) -> Result<AutomationView, AppError> {
    let stored = crate::app::load_project(ws, project)?;
    let lease = ws.automation_lease(project)?;
    Ok(AutomationView {
        project: project.to_owned(),
        statuses: super::statuses(ws, &stored, Utc::now())?,
        ticks: ws.ticks(project, None, PANEL_TICKS)?,
        lease_live: lease
            .as_ref()
            .is_some_and(|l| l.expires_ms > Utc::now().timestamp_millis()),
        lease,
        me: studio_holder(),
        failed_deliveries: crate::app::alerts::failed_deliveries(
            ws,
            Some(project),
            PANEL_FAILED_DELIVERIES,
        )?,
    })
}

/// One pass by the studio at the current time, on its own workspace connection; `only`
/// narrows to one schedule or sensor ("Evaluate now" on a row).
pub fn studio_pass(
    path: &Path,
    project: &str,
    only: Option<String>,
) -> Result<PassReport, AppError> {
    let mut ws = Workspace::open(path)?;
    let opts = PassOptions {
        now: Utc::now(),
        holder: studio_holder(),
        only,
    };
    super::evaluate_project(&mut ws, project, &opts)
}

/// Gives back every lease this studio holds (the window closes).
pub fn release_studio_leases(ws: &mut Workspace) {
    if let Err(e) = ws.release_automation_leases_of(&studio_holder()) {
        tracing::warn!("cannot give back the studio's automation leases: {e}");
    }
}

/// What a studio pass hands back: its report (or why it failed) and the view after it.
pub type PassDone = Box<dyn FnOnce(Result<PassReport, AppError>, Option<AutomationView>) + Send>;

/// A pass on a named thread; its answer goes to `done`.
#[expect(
    clippy::disallowed_methods,
    reason = "an automation pass may run runs; it gets a named thread and a connection of its own"
)]
pub fn spawn_pass(
    path: &Path,
    project: String,
    only: Option<String>,
    done: PassDone,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let path: PathBuf = path.to_owned();
    std::thread::Builder::new()
        .name("medallion-automation".to_owned())
        .spawn(move || {
            let result = studio_pass(&path, &project, only);
            let view = Workspace::open(&path)
                .map_err(AppError::from)
                .and_then(|ws| view(&ws, &project))
                .ok();
            done(result, view);
        })
}
