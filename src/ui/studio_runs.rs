//! The studio's side of previews and runs: sending jobs, applying their events (under a time
//! budget, from `logic`), and keeping the cards' statuses current.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::runs::{NodeStatus, RunView};
use super::workbench_state::{LaunchProblem, LaunchState, PREVIEW_LIMIT, WorkbenchTab};
use super::{JobEvent, JobRequest, MaterializeRequest, SendError, Studio, TaskRequest};
use crate::model::AssetKey;
use crate::model::RunId;

impl Studio {
    /// Queues a job; tells the user when it cannot.
    pub(super) fn send_job(&mut self, request: JobRequest) -> bool {
        match self.backend.send(request) {
            Ok(()) => true,
            Err(SendError::NoWorkspace) => {
                self.show_error("No workspace is open: previews and runs need one");
                false
            }
            Err(busy) => {
                self.show_error(&busy.to_string());
                false
            }
        }
    }

    /// Previews the one selected asset.
    pub fn preview_selected(&mut self) {
        match self.canvas.single_selection().cloned() {
            Some(key) => self.preview_asset(&key),
            None => self.show_info("Select one asset to preview it"),
        }
    }

    pub fn preview_asset(&mut self, key: &AssetKey) {
        self.preview_asset_as(key, false);
    }

    /// A preview, masked or (after an explicit confirmation, recorded in the audit log) not.
    pub fn preview_asset_as(&mut self, key: &AssetKey, unmasked: bool) {
        let project = Box::new(self.project().clone());
        self.workbench.open = true;
        self.workbench.tab = WorkbenchTab::Preview;
        if self.send_job(JobRequest::Preview {
            project,
            asset: key.clone(),
            limit: PREVIEW_LIMIT,
            unmasked,
        }) {
            let spec = self.doc.project().asset(key).cloned();
            let preview = &mut self.workbench.preview;
            if preview.asset.as_ref() != Some(key) {
                preview.table = super::panels::preview::PreviewTable::default();
            }
            preview.spec = spec;
            preview.deleted = false;
            preview.along = None;
            preview.unmasked = unmasked;
            preview.confirm_unmasked = false;
            preview.asset = Some(key.clone());
            preview.loading = Some(Instant::now());
            preview.error = None;
            self.states.preview_errors.remove(key);
            self.refresh_statuses();
        }
    }

    /// Opens the launch dialog (materialize selected, with upstream, or all).
    pub fn open_launch(&mut self) {
        let mut launch = LaunchState::default();
        if self.canvas.selection.is_empty() {
            launch.scope = super::workbench_state::LaunchScope::All;
        }
        self.workbench.launch = Some(launch);
    }

    /// Materializes the selection at once (the card's menu, `M`): alone, with its upstream or
    /// with its downstream, reading what it does not run from stored materializations. A
    /// selection holding a partitioned asset opens the launch dialog instead, to pick the
    /// partitions.
    pub fn materialize_selected(&mut self, scope: super::workbench_state::LaunchScope) -> bool {
        if self.canvas.selection.is_empty() {
            self.show_info("Select assets to materialize them");
            return false;
        }
        let launch = LaunchState {
            scope,
            ..LaunchState::default()
        };
        let request = launch.request(self.project(), &self.canvas.selection);
        let partitioned = launch
            .partitions_of(self.project(), &self.canvas.selection)
            .is_some();
        match request {
            Ok(_) if partitioned => {
                self.workbench.launch = Some(launch);
                false
            }
            Ok(request) => self.start_run(request),
            Err(e) => {
                self.show_error(&e.to_string());
                false
            }
        }
    }

    /// Re-runs what the shown run did not build (failed, skipped, blocked, canceled), alone:
    /// everything else is read from stored materializations, and the engine builds nothing
    /// from stored data that failed a blocking check.
    pub fn rerun_failed(&mut self) -> bool {
        let keys: BTreeSet<AssetKey> = self
            .run
            .as_ref()
            .map(|r| r.rerun_keys().into_iter().collect())
            .unwrap_or_default();
        if keys.is_empty() {
            self.show_info("Nothing to re-run: every asset of this run was built");
            return false;
        }
        let launch = LaunchState::default();
        if launch.partitions_of(self.project(), &keys).is_some() {
            self.show_info("This run built partitions: choose them in Materialize… to re-run");
            return false;
        }
        match launch.request(self.project(), &keys) {
            Ok(request) => self.start_run(request),
            Err(e) => {
                self.show_error(&e.to_string());
                false
            }
        }
    }

    /// Starts materializing; false (with a notice) when it cannot start.
    pub fn start_run(&mut self, request: MaterializeRequest) -> bool {
        self.start_run_with(request, false)
    }

    /// [`Self::start_run`], running the selected assets' unit tests first when `test_first`
    /// (the run is refused, naming the test, when one fails).
    pub fn start_run_with(&mut self, request: MaterializeRequest, test_first: bool) -> bool {
        if self.run.as_ref().is_some_and(RunView::is_live) {
            self.show_error("A run is in progress: wait for it or cancel it first");
            return false;
        }
        let plan = match crate::app::run::resolve_selection(self.project(), &request.selection) {
            Ok(plan) => plan,
            Err(e) => {
                self.show_error(&format!("Cannot materialize: {e:#}"));
                return false;
            }
        };
        let cancel = Arc::new(AtomicBool::new(false));
        let project = Box::new(self.project().clone());
        let partitions: Vec<String> = request.partitions.iter().flatten().cloned().collect();
        if !self.send_job(JobRequest::Materialize {
            project,
            request,
            cancel: Arc::clone(&cancel),
            test_first,
        }) {
            return false;
        }
        let mut view = RunView::live(&plan, cancel);
        view.planned_partitions = partitions;
        self.run = Some(view);
        self.show_run_tab();
        self.workbench.selected_check = None;
        self.workbench.launch = None;
        self.refresh_statuses();
        true
    }

    /// A run started: the workbench shows it — unless the partition strip is in view and the
    /// run is a backfill, whose progress the strip then shows partition by partition.
    fn show_run_tab(&mut self) {
        let backfill = self
            .run
            .as_ref()
            .is_some_and(|r| !r.planned_partitions.is_empty());
        let on_strip = self.workbench.open && self.workbench.tab == WorkbenchTab::Partitions;
        self.workbench.open = true;
        if !(backfill && on_strip) {
            self.workbench.tab = WorkbenchTab::Run;
        }
    }

    /// Starts a remote run on AWS; false (with a notice) when it cannot start.
    pub fn start_remote_run(&mut self, request: crate::app::remote::SubmitRequest) -> bool {
        self.start_remote_run_with(request, false)
    }

    /// [`Self::start_remote_run`], running the selected assets' unit tests locally first when
    /// `test_first` (the launch is refused, naming the test, before anything is uploaded).
    pub fn start_remote_run_with(
        &mut self,
        request: crate::app::remote::SubmitRequest,
        test_first: bool,
    ) -> bool {
        if self.run.as_ref().is_some_and(RunView::is_live) {
            self.show_error("A run is in progress: wait for it or cancel it first");
            return false;
        }
        let plan = match crate::app::run::resolve_selection(self.project(), &request.selection) {
            Ok(plan) => plan,
            Err(e) => {
                self.show_error(&format!("Cannot launch: {e:#}"));
                return false;
            }
        };
        let cancel = Arc::new(AtomicBool::new(false));
        let detach = Arc::new(AtomicBool::new(false));
        let project = Box::new(self.project().clone());
        let partitions = request.partitions.clone();
        if !self.send_job(JobRequest::SubmitRemote {
            project,
            request: Box::new(request),
            cancel: Arc::clone(&cancel),
            detach: Arc::clone(&detach),
            test_first,
        }) {
            return false;
        }
        let mut view = RunView::live(&plan, cancel);
        view.detach = Some(detach);
        view.planned_partitions = partitions;
        self.run = Some(view);
        self.show_run_tab();
        self.workbench.selected_check = None;
        self.workbench.launch = None;
        self.refresh_statuses();
        true
    }

    /// "Check AWS setup": the answer appears in the launch dialog.
    pub fn check_aws_setup(&mut self) {
        let project = Box::new(self.project().clone());
        if self.send_job(JobRequest::CheckAws { project })
            && let Some(launch) = &mut self.workbench.launch
        {
            launch.aws_checking = true;
            launch.aws_setup = None;
        }
    }

    /// Materializes every asset (the command palette's quick path).
    pub fn materialize_all(&mut self) -> bool {
        self.start_run(MaterializeRequest {
            selection: "*".to_owned(),
            partitions: Vec::new(),
            force: false,
            trigger: "studio".to_owned(),
            allow_failed_upstream: false,
            checks_only: false,
        })
    }

    /// Evaluates the checks of the selected assets (every asset when none is selected) on
    /// their stored data, without materializing: a run of its own ("checks only").
    pub fn run_checks(&mut self) -> bool {
        let selection = if self.canvas.selection.is_empty() {
            "*".to_owned()
        } else {
            self.canvas
                .selection
                .iter()
                .map(AssetKey::as_str)
                .collect::<Vec<_>>()
                .join(",")
        };
        self.start_run(MaterializeRequest {
            selection,
            partitions: Vec::new(),
            force: false,
            trigger: "studio".to_owned(),
            allow_failed_upstream: false,
            checks_only: true,
        })
    }

    pub fn cancel_run(&mut self) {
        match &mut self.run {
            Some(run) if run.is_live() => run.cancel(),
            _ => self.show_info("No run is in progress"),
        }
    }

    /// Imports the executions AWS ran of the open project's deployment, off the UI thread;
    /// the answer is one line in the status bar (nothing for a project not set up for
    /// deployment).
    pub(super) fn sync_from_aws(&mut self) {
        if !self.workspace.has_project || !crate::app::remote::is_deployable(self.project()) {
            return;
        }
        let id = self.next_request_id();
        let project = self.project().name.clone();
        self.workspace.sync_request = Some((id, project.clone()));
        self.run_task(TaskRequest::SyncFromAws { id, project });
    }

    /// What the sync from AWS did, said in the status bar; the history shows imported runs.
    pub(super) fn on_synced(
        &mut self,
        id: u64,
        result: Result<Option<crate::app::remote::SyncOutcome>, crate::app::AppError>,
    ) {
        let Some((_, project)) = self.workspace.sync_request.take_if(|(a, _)| *a == id) else {
            return;
        };
        match result {
            Ok(None) => {}
            Ok(Some(outcome)) => {
                self.show_info(&super::capitalised(&outcome.headline()));
                if !outcome.imported.is_empty() && self.project().name == project {
                    self.refresh_history();
                }
            }
            Err(e) => self.show_error(&format!("Sync of {project} from AWS failed: {e}")),
        }
    }

    pub fn refresh_history(&mut self) {
        let project = self.project().name.clone();
        if self.send_job(JobRequest::ListRuns { project }) {
            self.workbench.history_loading = true;
        }
    }

    /// Opens a past run from the workspace in the run view.
    pub fn open_run(&mut self, run_id: &RunId) {
        if self.run.as_ref().is_some_and(RunView::is_live) {
            self.show_error("A run is in progress: wait for it or cancel it first");
            return;
        }
        self.send_job(JobRequest::OpenRun {
            run_id: run_id.to_owned(),
        });
    }

    /// Writes the HTML quality report of `run_id` to `path` (the dialog-free path).
    pub fn export_report(&mut self, run_id: &RunId, path: PathBuf) {
        self.send_job(JobRequest::ExportReport {
            run_id: run_id.to_owned(),
            path,
        });
    }

    /// Asks where to save the shown run's HTML report (a native dialog, on the backend).
    pub fn export_report_dialog(&mut self) {
        let Some(run_id) = self.run.as_ref().and_then(|r| r.run_id.clone()) else {
            self.show_info("Open a run first: its quality report is what gets exported");
            return;
        };
        self.run_task(TaskRequest::ChooseReportFile { run_id });
    }

    /// Asks for every asset's state in the workspace (fresh, stale, failed, blocked, check
    /// verdicts) under the current definitions: the cards' base layer.
    pub(super) fn request_staleness(&mut self) {
        if !self.backend.has_workspace() || !self.workspace.has_project {
            return;
        }
        let id = self.next_request_id();
        self.states.request_id = id;
        let project = Box::new(self.project().clone());
        // A full queue only delays the badges until the next change.
        let _ = self.backend.send(JobRequest::AssetStates { id, project });
    }

    /// Asks for the launch dialog's plan again when its choices changed.
    pub(super) fn refresh_launch_plan(&mut self) {
        let Some(launch) = &self.workbench.launch else {
            return;
        };
        // Cheap to compare every frame; the selection is resolved only when it changed.
        let key = launch.plan_key(&self.canvas.selection, self.doc.revision());
        if launch.planned_for.as_deref() == Some(key.as_str()) {
            return;
        }
        let request = launch.request(self.project(), &self.canvas.selection);
        let partitions = launch.partitions_of(self.project(), &self.canvas.selection);
        let id = self.next_request_id();
        let project = Box::new(self.project().clone());
        let sent = match request {
            Ok(request) => self
                .backend
                .send(JobRequest::Plan {
                    id,
                    project,
                    request,
                })
                .is_ok(),
            Err(e) => {
                if let Some(launch) = &mut self.workbench.launch {
                    launch.plan = Some(Err(e));
                    launch.planned_for = Some(key);
                    launch.partitions = partitions;
                }
                return;
            }
        };
        if let Some(launch) = &mut self.workbench.launch {
            launch.partitions = partitions;
            if sent {
                launch.plan_id = id;
                launch.planned_for = Some(key);
            }
        }
    }

    /// Loads the asset details of the selected asset when that tab shows.
    pub(super) fn refresh_asset_details(&mut self) {
        if !self.workbench.open || self.workbench.tab != WorkbenchTab::AssetDetails {
            return;
        }
        let Some(key) = self.canvas.single_selection().cloned() else {
            return;
        };
        if self.workbench.asset_requested.as_ref() == Some(&key) {
            return;
        }
        let project = self.project().name.clone();
        if self.send_job(JobRequest::AssetHistory {
            project,
            asset: key.clone(),
        }) {
            self.workbench.asset_requested = Some(key);
        }
    }

    /// A preview (of an asset, or of stored data along an edge), its failure, or a partition
    /// strip arrived; whether the cards' statuses changed.
    fn apply_preview_event(&mut self, event: JobEvent) -> bool {
        match event {
            JobEvent::Preview(preview) => {
                if self.workbench.preview.asset.as_ref() == Some(&preview.asset) {
                    self.workbench.preview.loading = None;
                    self.workbench.preview.error = None;
                    self.workbench.preview.data = Some(preview);
                    self.workbench.preview.table.new_data();
                }
                false
            }
            JobEvent::PreviewFailed { asset, error } => {
                let error = error.to_string();
                let preview = &mut self.workbench.preview;
                if preview.asset.as_ref() == Some(&asset) {
                    preview.loading = None;
                    preview.data = None;
                    preview.error = Some(error.clone());
                    if preview.along.is_some() {
                        // Stored data that is not there is no problem of the asset's.
                        return false;
                    }
                }
                self.states.preview_errors.insert(asset, error);
                true
            }
            JobEvent::PartitionStrip { id, result } => {
                self.workbench.partitions.on_strip(id, result);
                false
            }
            _ => false,
        }
    }

    /// Applies one job event; true when card statuses may have changed.
    pub(super) fn apply_job_event(&mut self, event: JobEvent) -> bool {
        match event {
            event @ (JobEvent::Preview(_)
            | JobEvent::PreviewFailed { .. }
            | JobEvent::PartitionStrip { .. }) => self.apply_preview_event(event),
            JobEvent::AssetStates { id, result } => self.on_asset_states(id, result),
            JobEvent::Plan { id, result } => {
                if let Some(launch) = &mut self.workbench.launch
                    && launch.plan_id == id
                {
                    launch.plan = Some(result.map_err(LaunchProblem::App));
                }
                false
            }
            event @ (JobEvent::ComputePlan { .. }
            | JobEvent::Prices { .. }
            | JobEvent::CostHistory(_)) => {
                self.apply_compute_event(event);
                false
            }
            JobEvent::RemoteSteps {
                run_id,
                steps,
                costs,
            } => {
                if let Some(run) = &mut self.run
                    && run.run_id.as_ref().is_none_or(|id| *id == run_id)
                {
                    run.remote_steps = steps;
                    run.remote_costs = costs;
                }
                false
            }
            JobEvent::Lineage { id, view } => {
                self.on_lineage(id, *view);
                false
            }
            JobEvent::CardColumns { id, columns } => {
                let cached = &mut self.canvas.card_columns;
                if cached.asked.is_some_and(|(_, asked)| asked == id) {
                    cached.columns = columns;
                    cached.answered = true;
                }
                false
            }
            JobEvent::EditImpact { id, changes } => {
                self.on_edit_impact(id, changes);
                false
            }
            JobEvent::Diff { id, result, runs } => {
                self.on_diff(id, result, runs);
                false
            }
            JobEvent::Automation(view) => {
                self.automation.view = Some(view);
                false
            }
            JobEvent::Audit(entries) => {
                self.audit.entries = Some(entries);
                false
            }
            JobEvent::PiiProposals { asset, result } => {
                self.on_pii_proposals(asset, result);
                false
            }
            JobEvent::AuditVerified(verdict) => {
                self.audit.verifying = false;
                self.audit.verdict = Some(verdict);
                false
            }
            JobEvent::AutomationEvaluated(result) => {
                self.automation.evaluating = false;
                // Runs the pass requested change the cards and the history.
                let ran = result
                    .as_ref()
                    .is_ok_and(|r| r.ticks.iter().any(|t| t.run_id.is_some()));
                self.automation.last_pass = Some(result);
                if ran {
                    self.refresh_history();
                }
                ran
            }
            JobEvent::AwsSetup { result } => {
                if let Some(launch) = &mut self.workbench.launch {
                    launch.aws_checking = false;
                    launch.aws_setup = Some(result.map_err(LaunchProblem::App));
                }
                false
            }
            JobEvent::RunEvents { run_id, events } => {
                if let Some(run) = &mut self.run {
                    for e in events {
                        run.apply(&run_id, e);
                    }
                }
                true
            }
            JobEvent::MaterializeFinished { result } => {
                self.on_run_finished(result);
                true
            }
            JobEvent::Runs(runs) => {
                self.workbench.history = runs;
                self.workbench.history_loading = false;
                false
            }
            JobEvent::RunOpened {
                run,
                events,
                report,
            } => {
                self.run = Some(RunView::past(*run, events, report));
                self.workbench.open = true;
                self.workbench.tab = WorkbenchTab::Run;
                self.workbench.selected_check = None;
                true
            }
            JobEvent::AssetHistory(history) => {
                if history.asset == self.workbench.asset_requested {
                    self.workbench.asset_history = Some(history);
                }
                false
            }
            JobEvent::ReportExported { path } => {
                self.show_info(&format!(
                    "Exported the quality report to {}",
                    path.display()
                ));
                false
            }
            JobEvent::Failed { what, error } => {
                self.workbench.history_loading = false;
                self.show_error(&format!("Could not {what}: {error}"));
                false
            }
        }
    }

    /// The workspace's answer to [`Self::request_staleness`] (an older one is dropped); true
    /// when card statuses may have changed.
    pub(crate) fn on_asset_states(
        &mut self,
        id: u64,
        result: Result<Vec<crate::app::status::AssetState>, crate::app::jobs::JobError>,
    ) -> bool {
        if id != self.states.request_id {
            return false;
        }
        self.states.stale.clear();
        self.states.badges.checks.clear();
        self.states.badges.freshness.clear();
        self.states.badges.drift.clear();
        self.states.badges.rows.clear();
        // The partitions' states changed with the assets' (a run ended, a definition changed).
        self.workbench.partitions.stale = true;
        self.states.assets.clear();
        match result {
            Ok(states) => {
                for state in states {
                    self.states
                        .stale
                        .insert(state.asset.clone(), NodeStatus::from_state(&state.status));
                    if let Some(m) = &state.last_materialization {
                        self.states
                            .badges
                            .rows
                            .insert(state.asset.clone(), (m.row_count, m.partition.clone()));
                    }
                    if state.checks.total() > 0 {
                        self.states
                            .badges
                            .checks
                            .insert(state.asset.clone(), state.checks.clone());
                    }
                    if let Some(f) = &state.freshness {
                        self.states
                            .badges
                            .freshness
                            .insert(state.asset.clone(), (f.state, f.reason.clone()));
                    }
                    if let Some(d) = &state.drift {
                        self.states
                            .badges
                            .drift
                            .insert(state.asset.clone(), (d.error, d.summary()));
                    }
                    self.states.assets.insert(state.asset.clone(), state);
                }
            }
            // Unknown is said as such, never as success.
            Err(e) => tracing::warn!("could not read the assets' states: {e}"),
        }
        true
    }

    /// The run ended (or could not start): its record is the truth from now on.
    fn on_run_finished(
        &mut self,
        result: Result<Vec<crate::model::RunRecord>, crate::app::jobs::JobError>,
    ) {
        if let Some(run) = &mut self.run {
            run.done = true;
        }
        // A run records costs: the catalog asks for them again.
        if let Some(catalog) = &mut self.windows.catalog {
            catalog.costs_asked = false;
        }
        match result {
            Ok(runs) => {
                if let Some(last) = runs.last()
                    && let Some(run) = &mut self.run
                {
                    run.record = Some(last.clone());
                    run.status = Some(last.status);
                    // The recorded duration (from the run's own start and end events), as
                    // `medallion runs` and Run history say, not the studio's clock from the
                    // click, which also counts planning and the worker's queue.
                    if let Some(ms) = last.duration_ms() {
                        run.finished_after_ms = Some(ms);
                    }
                    if last.error.is_some() {
                        run.error.clone_from(&last.error);
                    }
                    run.cancel = None;
                }
            }
            Err(error) => {
                if let Some(run) = &mut self.run {
                    run.status = Some(crate::model::RunStatus::Failure);
                    run.error = Some(error.to_string());
                    run.cancel = None;
                }
                self.show_error(&format!("The run could not start: {error}"));
            }
        }
        // Nothing more arrives: the clock stops, and a card still queued or running (the run
        // failed before it got there) shows why instead.
        if let Some(run) = &mut self.run {
            run.settle();
        }
        self.request_staleness();
        self.refresh_history();
        // The run's alerts are delivered by now: a failure joins the failed deliveries.
        self.refresh_alert_state();
        // An open Audit window shows the run's entries without a Refresh.
        if self.audit.open {
            self.request_audit_entries();
        }
        self.workbench.asset_requested = None;
    }

    /// Runs of the open project were recorded or ended outside this studio's live run (the
    /// CLI, the daemon, another window): the cards, the history, the alert state and an
    /// open Audit window are read again, as at the end of a run here. While this studio's
    /// own run is live its events paint the cards, and its end reads everything again.
    pub(super) fn on_runs_changed(&mut self, name: &str) {
        if name != self.project().name
            || self.run.as_ref().is_some_and(super::runs::RunView::is_live)
        {
            return;
        }
        self.request_staleness();
        self.refresh_history();
        self.refresh_alert_state();
        if self.audit.open {
            self.request_audit_entries();
        }
    }

    /// Card statuses: each asset's state in the workspace, then preview errors, then a live
    /// run on top. A finished (or reopened past) run does not paint the cards: once it has
    /// ended, the workspace's state — asked for again at its end — is the truth.
    pub(super) fn refresh_statuses(&mut self) {
        let mut status = self.states.stale.clone();
        for (key, error) in &self.states.preview_errors {
            status.insert(
                key.clone(),
                NodeStatus::Failed {
                    error: format!("preview failed: {error}"),
                },
            );
        }
        if let Some(run) = &self.run
            && run.is_live()
        {
            for (key, s) in &run.nodes {
                status.insert(key.clone(), s.clone());
            }
        }
        self.states.badges.status = status;
    }

    /// The status a card shows (tests and the bench read it).
    pub fn node_status(&self, key: &AssetKey) -> Option<&NodeStatus> {
        self.states.badges.status.get(key)
    }
}
