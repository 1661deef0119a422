//! The studio's `logic` half: what the [`Backend`](crate::app::backend::Backend) answered —
//! workspace events (saves, conflicts, imports), job events (in `studio_runs`) and task events
//! (file dialogs, keyring, connection tests) — applied once per frame, before anything is
//! drawn.

use std::time::{Duration, Instant};

use crate::app::{
    self,
    backend::{BackendEvent, TaskEvent},
    worker::{WorkspaceEvent, WorkspaceRequest},
};

use super::{ImportConfirmation, Studio, capitalised, runs};

/// Time `logic` may spend applying backend events per frame; the rest waits for the next frame.
const EVENT_BUDGET: Duration = Duration::from_millis(4);
/// How often a live run repaints when nothing arrives (elapsed time, the growing bar).
const LIVE_RUN_REPAINT: Duration = Duration::from_millis(100);
/// A dialog answered faster than this was most likely never shown.
const DIALOG_NEVER_SHOWN: Duration = Duration::from_millis(300);

impl Studio {
    /// Per-frame work that draws nothing: worker events, validation and the autosave debounce.
    pub fn logic(&mut self, ctx: &egui::Context) {
        super::theme::install_fonts(ctx);
        self.drain_backend(ctx);
        self.refresh_launch_plan();
        self.refresh_launch_compute_plan();
        self.refresh_asset_details();
        self.follow_preview(ctx);
        self.refresh_partitions();
        if self.run.as_ref().is_some_and(runs::RunView::is_live) {
            ctx.request_repaint_after(LIVE_RUN_REPAINT);
        }
        self.revalidate(ctx);
        self.autosave(ctx);
        self.automation_clock(ctx);
        ctx.set_visuals(if self.prefs.dark_mode {
            egui::Visuals::dark()
        } else {
            egui::Visuals::light()
        });
    }

    /// Applies what the backend answered until the frame's budget is spent; the rest waits a
    /// frame.
    pub(super) fn drain_backend(&mut self, ctx: &egui::Context) {
        let start = Instant::now();
        let mut statuses_changed = false;
        while let Some(event) = self.backend.try_next() {
            match event {
                BackendEvent::Workspace(e) => self.apply_workspace_event(e),
                BackendEvent::Job(e) => statuses_changed |= self.apply_job_event(e),
                BackendEvent::Task(e) => self.apply_task_event(e),
            }
            if start.elapsed() >= EVENT_BUDGET {
                ctx.request_repaint();
                break;
            }
        }
        if statuses_changed {
            self.refresh_statuses();
        }
    }

    fn apply_workspace_event(&mut self, event: WorkspaceEvent) {
        match event {
            WorkspaceEvent::Saved {
                name,
                revision,
                stored_revision,
            } => self.on_saved(&name, revision, stored_revision),
            WorkspaceEvent::SaveConflict {
                revision,
                name,
                stored_revision,
                message,
                project,
            } => {
                self.save_answered(revision);
                self.on_save_conflict(&name, stored_revision, message, project);
            }
            WorkspaceEvent::CopySaved {
                from,
                revision,
                stored,
            } => self.on_copy_saved(&from, revision, *stored),
            WorkspaceEvent::CopyFailed { error } => self.on_copy_failed(&error.to_string()),
            WorkspaceEvent::Tracking {
                name,
                base,
                differs,
            } => self.on_tracking(&name, base, differs),
            WorkspaceEvent::ReloadFailed { error } => {
                self.saving.reload_requested = None;
                self.show_error(&capitalised(&error.to_string()));
            }
            WorkspaceEvent::ChangedOutside { name, revision } => {
                self.on_changed_outside(&name, revision);
            }
            WorkspaceEvent::RunsChanged { name } => self.on_runs_changed(&name),
            WorkspaceEvent::Reloaded(stored) => self.on_reloaded(*stored),
            WorkspaceEvent::ImportNeedsConfirmation { dir, message } => {
                self.saving.import_confirmation = Some(ImportConfirmation { dir, message });
            }
            WorkspaceEvent::SaveFailed { revision, error } => {
                self.save_answered(revision);
                self.saving.failed = true;
                self.show_error(&format!("Saving failed: {error}"));
            }
            WorkspaceEvent::Projects(list) => self.workspace.projects = list,
            WorkspaceEvent::Opened(stored) => self.open_stored(*stored),
            WorkspaceEvent::Imported { report, stored } => self.on_imported(&report, *stored),
            WorkspaceEvent::Exported {
                dir,
                missing_test_files,
            } => {
                if missing_test_files.is_empty() {
                    self.show_info(&format!("Exported to {}", dir.display()));
                } else {
                    self.show_error(&format!(
                        "Exported to {}, but without these unit test files, so those tests cannot run there: {}",
                        dir.display(),
                        missing_test_files.join("; ")
                    ));
                }
            }
            WorkspaceEvent::Failed { what, error } => {
                self.show_error(&format!("Could not {what}: {error}"));
            }
        }
    }

    /// The save of `revision` was answered: no save is in flight any more.
    fn save_answered(&mut self, revision: u64) {
        if self.saving.in_flight == Some(revision) {
            self.saving.in_flight = None;
        }
    }

    fn on_saved(&mut self, name: &str, revision: u64, stored_revision: i64) {
        self.save_answered(revision);
        if self.workspace.has_project && name == self.project().name {
            self.saving.saved_revision = self.saving.saved_revision.max(revision);
            self.saving.failed = false;
            self.saving.base = Some(app::SaveBase::Revision(stored_revision));
        }
    }

    fn on_tracking(&mut self, name: &str, base: app::SaveBase, differs: bool) {
        if self.workspace.has_project && name == self.project().name {
            self.saving.base = Some(base);
            if differs {
                // The project this studio was given is an edit of the stored
                // revision: it is saved (based on that revision) like any edit.
                self.mark_unsaved();
            }
        }
    }

    fn on_imported(&mut self, report: &app::ImportReport, stored: app::StoredProject) {
        self.open_stored(stored);
        let diagnostics = match report.diagnostics.len() {
            0 => String::new(),
            n => format!(" ({n} diagnostics)"),
        };
        self.show_info(&format!("{}{diagnostics}", capitalised(&report.summary())));
        self.request(WorkspaceRequest::ListProjects);
    }

    fn apply_task_event(&mut self, event: TaskEvent) {
        match event {
            TaskEvent::ImportDirChosen { path, open_for } => {
                let shown = open_for >= DIALOG_NEVER_SHOWN;
                super::panels::welcome::folder_chosen(self, true, path, shown);
            }
            TaskEvent::ParentDirChosen { path, open_for } => {
                let shown = open_for >= DIALOG_NEVER_SHOWN;
                super::panels::welcome::folder_chosen(self, false, path, shown);
            }
            TaskEvent::ExportDirChosen(Some(dir)) => self.export_dir(dir),
            TaskEvent::ReportFileChosen {
                run_id,
                path: Some(path),
                ..
            } => self.export_report(&run_id, path),
            // No dialog could be shown (no file-chooser portal, no zenity): ask for a path.
            TaskEvent::ReportFileChosen {
                run_id,
                path: None,
                open_for,
            } if open_for < DIALOG_NEVER_SHOWN => {
                self.windows.report_path =
                    Some(super::panels::report_path::ReportPathState::new(run_id));
            }
            TaskEvent::ExportDirChosen(None) | TaskEvent::ReportFileChosen { path: None, .. } => {}
            TaskEvent::DialogFailed { error } => {
                self.show_error(&format!("Cannot open the file dialog: {error}"));
            }
            TaskEvent::SecretsStored { id, result } if self.automation.alerts.waits_for(id) => {
                if let Some(edit) = self.automation.alerts.on_secrets_stored(id, result) {
                    self.apply(edit);
                }
            }
            TaskEvent::SecretsStored { id, result } => {
                if let Some(edit) = self
                    .windows
                    .connections
                    .as_mut()
                    .and_then(|c| c.on_secrets_stored(id, result))
                {
                    self.apply(edit);
                }
            }
            TaskEvent::AlertTested { id, result } => {
                self.automation.alerts.on_tested(id, result);
                // The attempts are stored: a failure joins the failed deliveries.
                self.refresh_alert_state();
            }
            TaskEvent::Synced { id, result } => self.on_synced(id, result),
            TaskEvent::Deployment { id, result } => {
                let result = result
                    .map_err(|e| format!("Deployment of {} failed: {e}", self.project().name));
                super::panels::deployment::on_answer(self, id, result);
            }
            TaskEvent::ConnectionTested { id, result } => {
                if let Some(c) = &mut self.windows.connections {
                    c.on_tested(id, result);
                }
            }
        }
    }
}
