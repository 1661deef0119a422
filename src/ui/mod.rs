//! The studio (eframe/egui): the asset canvas with its panels, over one [`Document`].
//!
//! Each frame has three parts, as in rerun's viewer: [`Studio::logic`] (`logic.rs`) drains
//! what the [`Backend`] answered (workspace, jobs, file dialogs, keyring) and runs the
//! validation and autosave debounces; [`studio_ui`] only draws, pushing [`UICommand`]s and
//! canvas actions; those are applied at the end of the frame in one place
//! (`command_handling.rs`), and work they need goes to the backend as a request. Nothing here touches `SQLite` or the file format, and nothing here starts a
//! thread: the backend's workers do the I/O on their own threads.
//!
//! [`Studio`]'s state is grouped in [`state`]; the workbench's (preview, run, history, launch
//! dialog) in [`workbench_state`], which `panels::workbench` draws.

pub mod bench;
pub mod canvas;
mod command_handling;
pub mod commands;
mod conflict;
mod logic;
pub mod panels;
pub mod runs;
pub mod state;
mod studio_plan;
mod studio_runs;
mod theme;
pub mod workbench_state;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::RichText;

use crate::app::{
    self,
    backend::{Backend, SendError, TaskRequest},
    jobs::{JobEvent, JobRequest},
    run::MaterializeRequest,
    worker::{WorkspaceEvent, WorkspaceRequest},
};
use crate::model::edit::{Document, Edit};
use crate::model::layout::{self, LayoutMode};
use crate::model::{AssetSpec, CanvasPos, Project};
use canvas::CanvasState;
pub use commands::UICommand;
pub use conflict::{Conflict, ImportConfirmation};

/// Autosave waits this long after the last edit.
pub const AUTOSAVE_DELAY: Duration = Duration::from_secs(1);
/// Validation waits this long after the last structural edit (typing SQL re-validates once
/// the typing pauses).
const VALIDATION_DELAY: Duration = Duration::from_millis(250);
const PREFERENCES_KEY: &str = "medallion.preferences";

/// Opens the studio window on the workspace at `workspace_path`. Blocks until the window closes.
pub fn run(workspace_path: &Path) -> anyhow::Result<()> {
    // The first project is loaded before the window exists; after that the backend's
    // workspace worker takes over the connection and does all workspace I/O off the UI thread.
    let mut opened = Backend::open(workspace_path)?;
    let stored = opened.first.take();
    let title = match &stored {
        Some(s) => format!("{} — Medallion", s.project.name),
        None => "Medallion".to_owned(),
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(&title)
            .with_app_id("medallion")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([640.0, 400.0]),
        ..Default::default()
    };
    let workspace_path = workspace_path.to_owned();
    eframe::run_native(
        "Medallion",
        options,
        Box::new(move |cc| {
            let prefs: Preferences = cc
                .storage
                .and_then(|s| eframe::get_value(s, PREFERENCES_KEY))
                .unwrap_or_default();
            let ctx = cc.egui_ctx.clone();
            let backend = Backend::start_with(opened, Arc::new(move || ctx.request_repaint()))?;
            let known = stored.as_ref().map(|s| s.revision);
            let mut studio = Studio::new(
                stored.map(|s| s.project),
                workspace_path.display().to_string(),
            );
            studio.restore_preferences(prefs);
            studio.offer_tour();
            studio.backend = backend;
            // The window evaluates automation on its clock; tests and benchmarks do not.
            studio.automation.evaluate_on_clock = true;
            studio.track_open_project(None, known);
            studio.request(WorkspaceRequest::ListProjects);
            studio.request_staleness();
            studio.refresh_alert_state();
            studio.sync_from_aws();
            Ok(Box::new(studio))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the studio window: {e}"))
}

/// Preferences kept in eframe storage between sessions (window size is kept by eframe).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Preferences {
    pub dark_mode: bool,
    pub inspector_width: f32,
    pub diagnostics_height: f32,
    pub show_inspector: bool,
    pub show_diagnostics: bool,
    /// Most recently opened first.
    pub recent_projects: Vec<String>,
    /// The workbench's height (its split with the canvas) and whether it is shown.
    pub workbench_height: f32,
    pub show_workbench: bool,
    /// The canvas's zoom and pan of each recent project, restored when it opens.
    pub views: std::collections::BTreeMap<String, CanvasView>,
    /// The guided tour was finished or skipped: it is not offered again.
    pub tour_done: bool,
}

/// Where the canvas looked: zoom and the screen offset of its origin.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CanvasView {
    pub zoom: f32,
    pub pan_x: f32,
    pub pan_y: f32,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            dark_mode: true,
            inspector_width: 360.0,
            diagnostics_height: 140.0,
            show_inspector: true,
            show_diagnostics: true,
            recent_projects: Vec::new(),
            workbench_height: 300.0,
            show_workbench: true,
            views: std::collections::BTreeMap::new(),
            tour_done: false,
        }
    }
}

impl Preferences {
    /// What a user decides once and expects kept even when the studio is killed before eframe's
    /// periodic save: the tour finished or skipped, and the theme. Written at once.
    fn decisions(&self) -> (bool, bool) {
        (self.tour_done, self.dark_mode)
    }

    fn remember(&mut self, project: &str) {
        self.recent_projects.retain(|p| p != project);
        self.recent_projects.insert(0, project.to_owned());
        self.recent_projects.truncate(8);
        // Views are kept for the recent projects only.
        let recent = &self.recent_projects;
        self.views.retain(|p, _| recent.contains(p));
    }
}

/// A message shown over the canvas until dismissed or replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub is_error: bool,
    pub at: Instant,
    /// Whether the whole text is shown (a long one starts clipped to a few lines).
    pub expanded: bool,
}

/// The most characters and lines a notice shows before "Show all".
const NOTICE_CHARS: usize = 300;
const NOTICE_LINES: usize = 4;

/// Where the studio stands with saving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveState {
    Saved,
    /// Edited since the last save; autosave is pending.
    Dirty,
    Saving,
    Failed,
    /// A save was refused (another window or command saved the project since): the banner
    /// offers reload or save as a copy.
    Conflict,
}

pub struct Studio {
    pub doc: Document,
    pub canvas: CanvasState,
    pub prefs: Preferences,
    /// The preferences' decisions (`Preferences::decisions`) last written to eframe's storage.
    prefs_written: Option<(bool, bool)>,
    /// Everything off the UI thread: workspace and job workers, connections, the runtime.
    backend: Backend,
    /// The open workspace: its label, its projects, request ids.
    pub workspace: state::WorkspaceInfo,
    /// Saving the document, and what stands in the way.
    pub saving: state::Saving,
    pub validation: state::Validation,
    /// The windows and palettes open over the canvas.
    pub windows: state::Windows,
    /// What this frame's drawing asked for (applied at its end).
    pending: state::Pending,
    /// Each asset's state in the workspace, as the cards and Asset details show it.
    pub states: state::AssetStates,
    pub selection_query: state::SelectionQuery,
    pub notice: Option<Notice>,
    pub inspector: panels::inspector::InspectorState,
    clipboard: Vec<(AssetSpec, Option<CanvasPos>)>,
    /// The run in the run view: live, or a past one read back from the workspace.
    pub run: Option<runs::RunView>,
    pub workbench: workbench_state::WorkbenchState,
    /// The Automation window and the studio's own evaluation clock.
    pub automation: panels::automation::AutomationPanel,
    /// The Audit window.
    pub audit: panels::audit::AuditPanel,
}

impl Studio {
    /// A studio on `project` (or an empty one) that saves nowhere until a worker is attached.
    pub fn new(project: Option<Project>, workspace_label: String) -> Self {
        let has_project = project.is_some();
        let mut project = project.unwrap_or_else(|| Project::new("untitled"));
        place_unplaced(&mut project);
        let mut prefs = Preferences::default();
        if has_project {
            prefs.remember(&project.name);
        }
        Self {
            doc: Document::new(project),
            canvas: CanvasState::new(),
            prefs,
            prefs_written: None,
            backend: Backend::detached(),
            workspace: state::WorkspaceInfo::new(workspace_label, has_project),
            saving: state::Saving::default(),
            validation: state::Validation::default(),
            windows: state::Windows::default(),
            pending: state::Pending::default(),
            states: state::AssetStates::default(),
            selection_query: state::SelectionQuery::default(),
            notice: None,
            inspector: panels::inspector::InspectorState::default(),
            clipboard: Vec::new(),
            run: None,
            workbench: workbench_state::WorkbenchState::default(),
            automation: panels::automation::AutomationPanel::default(),
            audit: panels::audit::AuditPanel::default(),
        }
    }

    /// A studio attached to a workspace worker on `workspace_path` (tests and the bench use
    /// this; the window attaches its worker with the repaint hook).
    pub fn with_workspace(project: Option<Project>, workspace_path: &Path) -> anyhow::Result<Self> {
        let given = project.clone();
        let mut studio = Self::new(project, workspace_path.display().to_string());
        studio.backend = Backend::start(workspace_path, Arc::new(|| {}))?;
        // Which stored revision the given project is: the worker compares it with the
        // workspace (the same content is that revision; otherwise it reloads or asks).
        studio.track_open_project(given, None);
        studio.request(WorkspaceRequest::ListProjects);
        studio.request_staleness();
        studio.refresh_alert_state();
        studio.sync_from_aws();
        Ok(studio)
    }

    pub fn project(&self) -> &Project {
        self.doc.project()
    }

    /// Takes the preferences read at start: theme, panels, the workbench split and the canvas
    /// view of the open project (which then is not fitted to the window).
    pub fn restore_preferences(&mut self, prefs: Preferences) {
        self.prefs = prefs;
        if self.workspace.has_project {
            self.prefs.remember(&self.doc.project().name);
        }
        self.workbench.height = self.prefs.workbench_height;
        self.workbench.open = self.prefs.show_workbench;
        self.restore_view();
    }

    /// The preferences to keep: with the workbench split and the open project's view.
    pub fn preferences(&mut self) -> Preferences {
        self.remember_view();
        self.prefs.clone()
    }

    fn remember_view(&mut self) {
        self.prefs.workbench_height = self.workbench.height;
        self.prefs.show_workbench = self.workbench.open;
        if self.workspace.has_project {
            let view = CanvasView {
                zoom: self.canvas.zoom,
                pan_x: self.canvas.pan.x,
                pan_y: self.canvas.pan.y,
            };
            let name = self.doc.project().name.clone();
            self.prefs.views.insert(name, view);
        }
    }

    fn restore_view(&mut self) {
        if !self.workspace.has_project {
            return;
        }
        if let Some(v) = self.prefs.views.get(&self.doc.project().name) {
            self.canvas.zoom = v.zoom.clamp(canvas::MIN_ZOOM, canvas::MAX_ZOOM);
            self.canvas.pan = egui::vec2(v.pan_x, v.pan_y);
            self.canvas.fit_requested = false;
        }
    }

    /// Tells the worker which project is open (`project`, or the document's), so it watches
    /// it for saves made elsewhere; `known` is the stored revision it was loaded at.
    fn track_open_project(&mut self, project: Option<Project>, known: Option<i64>) {
        if !self.workspace.has_project || !self.backend.has_workspace() {
            return;
        }
        let project = Box::new(project.unwrap_or_else(|| self.project().clone()));
        if let Some(revision) = known {
            self.saving.base = Some(app::SaveBase::Revision(revision));
        }
        self.request(WorkspaceRequest::Track { project, known });
    }

    pub fn save_state(&self) -> SaveState {
        if self
            .saving
            .conflict
            .as_ref()
            .is_some_and(|c| c.edits.is_none())
        {
            SaveState::Conflict
        } else if self.saving.in_flight.is_some() {
            SaveState::Saving
        } else if self.saving.failed {
            SaveState::Failed
        } else if self.doc.revision() != self.saving.saved_revision {
            SaveState::Dirty
        } else {
            SaveState::Saved
        }
    }

    /// Queues a command to run at the end of this frame.
    pub fn push_command(&mut self, command: UICommand) {
        self.pending.commands.push(command);
    }

    fn request(&mut self, request: WorkspaceRequest) {
        if let Err(e) = self.backend.send(request) {
            self.show_error(&e.to_string());
        }
    }

    /// Starts a background task (file dialog, keyring write, connection test); its answer
    /// arrives as a [`TaskEvent`].
    pub(crate) fn run_task(&mut self, task: TaskRequest) {
        // Tasks always start (one that cannot answers so).
        let _ = self.backend.send(task);
    }

    /// A fresh id for a request whose answer must be matched to it.
    pub(crate) fn next_request_id(&mut self) -> u64 {
        let id = self.workspace.next_request_id;
        self.workspace.next_request_id += 1;
        id
    }

    pub fn show_error(&mut self, text: &str) {
        self.notice = Some(Notice {
            text: text.to_owned(),
            is_error: true,
            at: Instant::now(),
            expanded: false,
        });
    }

    pub fn show_info(&mut self, text: &str) {
        self.notice = Some(Notice {
            text: text.to_owned(),
            is_error: false,
            at: Instant::now(),
            expanded: false,
        });
    }

    /// Applies an edit through the document; a refusal is shown with its reason.
    pub fn apply(&mut self, edit: Edit) -> bool {
        let before = self.doc.structure_revision();
        match self.doc.apply(edit) {
            Ok(()) => {
                self.after_change(before);
                true
            }
            Err(e) => {
                self.show_error(&capitalised(&e.to_string()));
                false
            }
        }
    }

    /// Applies an edit that merges with the previous one carrying the same `tag`.
    pub fn apply_coalescing(&mut self, edit: Edit, tag: &str) -> bool {
        let before = self.doc.structure_revision();
        match self.doc.apply_coalescing(edit, tag) {
            Ok(()) => {
                self.after_change(before);
                true
            }
            Err(e) => {
                self.show_error(&capitalised(&e.to_string()));
                false
            }
        }
    }

    fn after_change(&mut self, structure_before: u64) {
        self.saving.last_edit = Some(Instant::now());
        if self.doc.structure_revision() != structure_before {
            self.validation.last_structural_change = Some(Instant::now());
        }
    }

    /// Opens a project (from a test), keeping the current one saved; the worker finds which
    /// stored revision it is.
    pub fn open_project(&mut self, project: Project) {
        let given = project.clone();
        self.open_inner(project, None);
        self.track_open_project(Some(given), None);
    }

    /// Opens a stored project (the picker, an import), keeping the current one saved.
    fn open_stored(&mut self, stored: app::StoredProject) {
        self.open_inner(
            stored.project,
            Some(app::SaveBase::Revision(stored.revision)),
        );
    }

    fn open_inner(&mut self, mut project: Project, base: Option<app::SaveBase>) {
        self.save_now();
        self.remember_view();
        self.saving.base = base;
        // A conflict of the project left behind keeps its refused edits (still offered as a
        // copy); one about the open document's edits ends with it.
        if let Some(c) = &self.saving.conflict
            && c.edits.is_none()
        {
            self.saving.conflict = None;
        }
        self.saving.reload_requested = None;
        place_unplaced(&mut project);
        self.prefs.remember(&project.name);
        self.doc.replace_project(project);
        self.saving.saved_revision = self.doc.revision();
        self.saving.failed = false;
        self.validation.revision = None;
        self.validation.last_structural_change = None;
        self.canvas = CanvasState::new();
        self.inspector = panels::inspector::InspectorState::default();
        self.workspace.has_project = true;
        self.restore_view();
        self.windows.picker_open = false;
        self.windows.welcome = None;
        if !self.run.as_ref().is_some_and(runs::RunView::is_live) {
            self.run = None;
        }
        self.workbench.preview = workbench_state::PreviewState::default();
        self.workbench.asset_history = None;
        self.workbench.asset_requested = None;
        self.workbench.history.clear();
        self.states.preview_errors.clear();
        self.states.stale.clear();
        self.refresh_statuses();
        self.request_staleness();
        self.automation.view = None;
        self.refresh_alert_state();
        self.sync_from_aws();
    }

    /// Imports a project directory through the workspace (the dialog-free path).
    pub fn import_dir(&mut self, dir: PathBuf) {
        // What is unsaved lands first, so the import compares against it.
        self.save_now();
        self.request(WorkspaceRequest::Import {
            dir,
            confirmed: false,
        });
    }

    pub fn export_dir(&mut self, dir: PathBuf) {
        let project = Box::new(self.project().clone());
        self.request(WorkspaceRequest::Export { project, dir });
    }

    /// Opens a stored project by name through the workspace.
    pub fn open_by_name(&mut self, name: &str) {
        self.request(WorkspaceRequest::Open {
            name: name.to_owned(),
        });
    }

    fn revalidate(&mut self, ctx: &egui::Context) {
        if self.validation.revision == Some(self.doc.structure_revision()) {
            return;
        }
        if let Some(t) = self.validation.last_structural_change {
            let waited = t.elapsed();
            if waited < VALIDATION_DELAY && self.validation.revision.is_some() {
                ctx.request_repaint_after(VALIDATION_DELAY.saturating_sub(waited));
                return;
            }
        }
        self.validation.diagnostics = app::validate_project(self.project());
        self.validation.revision = Some(self.doc.structure_revision());
        self.request_staleness();
        self.states.badges.problems.clear();
        for d in &self.validation.diagnostics {
            if let Some(key) = &d.asset {
                let entry = self.states.badges.problems.entry(key.clone()).or_default();
                if d.is_error() {
                    entry.0 += 1;
                } else {
                    entry.1 += 1;
                }
            }
        }
    }

    /// Validates now, whatever the debounce says (tests).
    pub fn validate_now(&mut self) {
        self.validation.last_structural_change = None;
        self.validation.revision = None;
        self.revalidate(&egui::Context::default());
    }

    fn autosave(&mut self, ctx: &egui::Context) {
        if !self.backend.has_workspace()
            || self.doc.revision() == self.saving.saved_revision
            || self.saving.failed
            || self.saving.conflict.is_some()
            || self.saving.reload_requested.is_some()
        {
            return;
        }
        if self.saving.in_flight.is_some() {
            return;
        }
        let delay = self.saving.autosave_delay.unwrap_or(AUTOSAVE_DELAY);
        let waited = self.saving.last_edit.map_or(delay, |t| t.elapsed());
        if waited >= delay {
            self.save_now();
        } else {
            ctx.request_repaint_after(delay.saturating_sub(waited));
        }
    }

    /// Queues a save of the current revision (Ctrl+S, quitting, switching projects), based
    /// on the stored revision the edits started from.
    pub fn save_now(&mut self) {
        self.queue_save(false);
    }

    fn queue_save(&mut self, copy_on_conflict: bool) {
        if !self.workspace.has_project || self.doc.revision() == self.saving.saved_revision {
            return;
        }
        let revision = self.doc.revision();
        let project = Box::new(self.project().clone());
        self.saving.failed = false;
        self.saving.in_flight = Some(revision);
        self.request(WorkspaceRequest::Save {
            project,
            revision,
            base: self.saving.base,
            copy_on_conflict,
        });
    }

    /// Saves what is unsaved and waits for the worker to finish (the window is closing).
    pub fn shut_down(&mut self) {
        // A definition edit still held (being typed, or waiting for "Apply anyway") is the
        // user's work: applied and saved rather than lost; validation shows what it breaks.
        self.apply_held_definition();
        // No window is left to ask in: edits the workspace refuses become a new project.
        self.queue_save(true);
        // A local run lives in this process: closing the window stops it (recorded as
        // canceled). A remote run goes on on AWS: its driver lets go of it, and the next start
        // (or `medallion attach`) follows it to its end.
        if let Some(run) = &mut self.run {
            match &run.detach {
                Some(detach) => detach.store(true, std::sync::atomic::Ordering::Relaxed),
                None => run.cancel(),
            }
        }
        let backend = std::mem::replace(&mut self.backend, Backend::detached());
        for event in backend.shut_down() {
            match event {
                WorkspaceEvent::SaveFailed { error, .. } => {
                    tracing::error!(%error, "the last save before quitting failed");
                }
                WorkspaceEvent::CopySaved { from, stored, .. } => tracing::warn!(
                    "{from} was changed by another window or command: your unsaved edits were saved as project {}",
                    stored.project.name
                ),
                _ => {}
            }
        }
    }
}

impl eframe::App for Studio {
    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
        Studio::logic(self, ctx);
        // A decision (tour done, theme) is written when made, not only at eframe's next
        // periodic save (30 s) or a clean exit: a killed studio must not ask again.
        let decisions = self.prefs.decisions();
        if self.prefs_written != Some(decisions) {
            if self.prefs_written.is_some()
                && let Some(storage) = frame.storage_mut()
            {
                eframe::set_value(storage, PREFERENCES_KEY, &self.preferences());
                storage.flush();
            }
            self.prefs_written = Some(decisions);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        studio_ui(ui, self);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, PREFERENCES_KEY, &self.preferences());
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.shut_down();
    }
}

/// One whole frame without eframe: logic, then drawing (tests and the benchmark).
pub fn frame_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    studio.logic(ui.ctx());
    studio_ui(ui, studio);
}

/// Draws the whole window and runs the commands it produced.
pub fn studio_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let ctx = ui.ctx().clone();
    // Filled again as this frame draws them.
    studio.windows.tour_targets.clear();
    escape_closes_dialogs(&ctx, studio);
    studio
        .pending
        .commands
        .extend(UICommand::from_shortcuts(&ctx));
    panels::toolbar::toolbar_ui(ui, studio);
    conflict::conflict_banner_ui(ui, studio);
    status_bar_ui(ui, studio);
    if studio.prefs.show_diagnostics && !studio.validation.diagnostics.is_empty() {
        panels::diagnostics::diagnostics_ui(ui, studio);
    }
    if studio.prefs.show_inspector {
        panels::inspector::inspector_ui(ui, studio);
    }
    if studio.workbench.open && studio.workspace.has_project {
        panels::workbench::workbench_ui(ui, studio);
    }
    if studio.workspace.has_project {
        panels::catalog::catalog_ui(ui, studio);
    }
    egui::CentralPanel::default()
        .frame(egui::Frame::NONE)
        .show(ui, |ui| {
            if !studio.workspace.has_project {
                panels::welcome::welcome_page_ui(ui, studio);
                notice_ui(ui, studio);
                return;
            }
            studio.refresh_card_columns();
            let actions =
                canvas::canvas_ui(ui, &mut studio.canvas, &studio.doc, &studio.states.badges);
            studio.pending.actions.extend(actions);
            if let Some(lanes) = studio.canvas.lane_headers_rect() {
                studio
                    .windows
                    .tour_targets
                    .insert(panels::tour::TourTarget::Lanes, lanes);
            }
            notice_ui(ui, studio);
        });
    panels::add_palette_ui(&ctx, studio);
    panels::command_palette::command_palette_ui(&ctx, studio);
    panels::find::find_ui(&ctx, studio);
    panels::picker::picker_ui(&ctx, studio);
    panels::launch::launch_ui(&ctx, studio);
    panels::connections::connections_ui(&ctx, studio);
    panels::prices::prices_ui(&ctx, studio);
    panels::costs::costs_ui(&ctx, studio);
    panels::deployment::deployment_ui(&ctx, studio);
    panels::lineage::lineage_ui(&ctx, studio);
    panels::compare::compare_ui(&ctx, studio);
    panels::blast::confirm_delete_ui(&ctx, studio);
    panels::blast::confirm_rename_ui(&ctx, studio);
    panels::blast::confirm_edit_ui(&ctx, studio);
    panels::report_path::report_path_ui(&ctx, studio);
    panels::automation::automation_ui(&ctx, studio);
    panels::audit::audit_ui(&ctx, studio);
    conflict::import_confirmation_ui(&ctx, studio);
    panels::welcome::welcome_window_ui(&ctx, studio);
    panels::tour::tour_ui(&ctx, studio);
    panels::note_editor::note_editor_ui(&ctx, studio);
    studio.run_commands(&ctx);
}

/// The notice over the canvas: as wide as the window allows (at most 520 points), its text
/// wrapped and clipped to a few lines; "Show all" (or a click on the text) shows the rest in a
/// scrolling box, "Copy" puts the whole text on the clipboard, "Dismiss" closes it.
fn notice_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let Some(notice) = &studio.notice else { return };
    // Information fades after a few seconds; a refusal stays until dismissed or replaced.
    if !notice.is_error && !notice.expanded && notice.at.elapsed() > Duration::from_secs(4) {
        studio.notice = None;
        return;
    }
    // The window, not the canvas: side panels may leave the canvas narrow.
    let window = ui.ctx().content_rect();
    let rect = ui.max_rect();
    let width = (window.width() - 32.0).clamp(120.0, 520.0);
    let left =
        (rect.center().x - width / 2.0).clamp(window.left() + 16.0, window.right() - 16.0 - width);
    let (short, clipped) = clip_notice(&notice.text);
    let mut dismiss = false;
    let mut toggle = false;
    egui::Area::new(egui::Id::new("notice"))
        .fixed_pos(egui::pos2(left, rect.top() + 40.0))
        .order(egui::Order::Foreground)
        .show(ui.ctx(), |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.set_width(width);
                let max_height = (window.height() * 0.6).max(80.0);
                toggle = notice_text_ui(ui, notice, &short, clipped, max_height);
                let (toggled, dismissed) = notice_buttons_ui(ui, notice, clipped);
                toggle |= toggled;
                dismiss = dismissed;
            });
        });
    if !notice.is_error {
        ui.ctx().request_repaint_after(Duration::from_millis(500));
    }
    if dismiss {
        studio.notice = None;
    } else if toggle && let Some(n) = &mut studio.notice {
        n.expanded = !n.expanded;
    }
}

/// The notice's text: all of it in a scrolling box when expanded, else its first lines;
/// whether the clipped text was clicked (to show all).
fn notice_text_ui(
    ui: &mut egui::Ui,
    notice: &Notice,
    short: &str,
    clipped: bool,
    max_height: f32,
) -> bool {
    let color = if notice.is_error {
        theme::error_color()
    } else {
        ui.visuals().text_color()
    };
    if notice.expanded {
        egui::ScrollArea::vertical()
            .max_height(max_height)
            .show(ui, |ui| {
                ui.add(
                    egui::Label::new(RichText::new(&notice.text).color(color))
                        .wrap()
                        .selectable(true),
                );
            });
        false
    } else {
        let label = ui.add(
            egui::Label::new(RichText::new(short).color(color))
                .wrap()
                .sense(egui::Sense::click()),
        );
        clipped && label.on_hover_text("Click to show all").clicked()
    }
}

/// "Show all"/"Show less" (when clipped), "Copy" and "Dismiss": whether to toggle and whether
/// to dismiss.
fn notice_buttons_ui(ui: &mut egui::Ui, notice: &Notice, clipped: bool) -> (bool, bool) {
    let mut toggle = false;
    let mut dismiss = false;
    ui.horizontal(|ui| {
        if clipped
            && ui
                .small_button(if notice.expanded {
                    "Show less"
                } else {
                    "Show all"
                })
                .clicked()
        {
            toggle = true;
        }
        if ui
            .small_button("Copy")
            .on_hover_text("Copy the whole message")
            .clicked()
        {
            ui.ctx().copy_text(notice.text.clone());
        }
        if ui.small_button("Dismiss").clicked() {
            dismiss = true;
        }
    });
    (toggle, dismiss)
}

/// A notice's first lines, at most [`NOTICE_CHARS`] characters and [`NOTICE_LINES`] lines, and
/// whether anything was left out.
fn clip_notice(text: &str) -> (String, bool) {
    let mut out = String::new();
    let mut clipped = false;
    for (i, line) in text.lines().enumerate() {
        if i == NOTICE_LINES {
            clipped = true;
            break;
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
    }
    if let Some((cut, _)) = out.char_indices().nth(NOTICE_CHARS) {
        out.truncate(cut);
        clipped = true;
    }
    if clipped {
        out.push('…');
    }
    (out, clipped)
}

/// Escape closes the topmost open dialog — before the canvas, which would otherwise take the
/// key to clear its selection — or else dismisses the notice.
fn escape_closes_dialogs(ctx: &egui::Context, studio: &mut Studio) {
    let open = studio.windows.add_palette.is_some()
        || studio.windows.command_palette.is_some()
        || studio.windows.find.is_some()
        || studio.windows.picker_open
        || studio.windows.prices.is_some()
        || studio.windows.costs.is_some()
        || studio.windows.deployment.is_some()
        || studio.windows.lineage.is_some()
        || studio.windows.compare.is_some()
        || studio.windows.confirm_delete.is_some()
        || studio.windows.connections.is_some()
        || studio.windows.report_path.is_some()
        || studio.windows.note_editor.is_some()
        || (studio.windows.welcome.is_some() && studio.workspace.has_project)
        || studio.workbench.launch.is_some();
    if !open {
        if studio.notice.is_some() && ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
            studio.notice = None;
        }
        return;
    }
    if !ctx.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape)) {
        return;
    }
    // The small pickers first, then windows opened from others (Prices from the launch
    // dialog), then the rest.
    if studio.windows.add_palette.take().is_some()
        || studio.windows.command_palette.take().is_some()
        || studio.windows.find.take().is_some()
        || std::mem::take(&mut studio.windows.picker_open)
        || studio.windows.prices.take().is_some()
        || studio.windows.costs.take().is_some()
        || studio.windows.deployment.take().is_some()
        || studio.windows.lineage.take().is_some()
        || studio.windows.compare.take().is_some()
        || studio.windows.confirm_delete.take().is_some()
        || studio.windows.connections.take().is_some()
        || studio.windows.report_path.take().is_some()
        || studio.windows.note_editor.take().is_some()
        || (studio.workspace.has_project && studio.windows.welcome.take().is_some())
    {
        return;
    }
    studio.workbench.launch = None;
}

fn status_bar_ui(ui: &mut egui::Ui, studio: &Studio) {
    egui::Panel::bottom("status_bar").show(ui, |ui| {
        ui.horizontal(|ui| {
            let errors = studio
                .validation
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .count();
            let warnings = studio.validation.diagnostics.len() - errors;
            let (text, color) = if errors > 0 {
                (
                    format!("{errors} error(s), {warnings} warning(s)"),
                    theme::error_color(),
                )
            } else if warnings > 0 {
                (format!("{warnings} warning(s)"), theme::warning_color())
            } else {
                ("Valid".to_owned(), theme::ok_color())
            };
            ui.label(RichText::new(text).color(color))
                .on_hover_text("Validation of the open project");
            ui.separator();
            let (save_text, save_color) = match studio.save_state() {
                SaveState::Saved => ("Saved", ui.visuals().weak_text_color()),
                SaveState::Dirty => ("Unsaved changes", theme::warning_color()),
                SaveState::Saving => ("Saving…", ui.visuals().weak_text_color()),
                SaveState::Failed => ("Not saved", theme::error_color()),
                SaveState::Conflict => ("Not saved: changed elsewhere", theme::error_color()),
            };
            ui.label(RichText::new(save_text).color(save_color));
            ui.separator();
            let project = studio.project();
            ui.label(format!(
                "{} assets · {} selected · zoom {:.0} %",
                project.assets.len(),
                studio.canvas.selection.len(),
                studio.canvas.zoom * 100.0
            ));
            ui.separator();
            ui.label(RichText::new(format!("Workspace: {}", studio.workspace.label)).weak());
        });
    });
}

/// Gives every asset without a canvas position one (new-only auto-layout), never moving others.
fn place_unplaced(project: &mut Project) {
    if project
        .assets
        .iter()
        .all(|a| project.layout.positions.contains_key(&a.key))
    {
        return;
    }
    let graph = crate::model::AssetGraph::build(project);
    let placed = layout::auto_layout(project, &graph, LayoutMode::NewOnly);
    project.layout.positions.extend(placed);
}

pub(crate) fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}
