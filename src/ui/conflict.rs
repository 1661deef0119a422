//! Two windows (or a window and the CLI) on one project: following outside changes, the
//! conflict banner with its choice (reload, or save as a copy), and confirming an import that
//! would replace edits. Every save carries the stored revision its edits started from; the
//! workspace worker refuses a save over a newer one and watches the open project for saves made
//! elsewhere (all I/O stays on the worker thread).

use egui::RichText;

use crate::app::{SaveBase, StoredProject, conflict_message, worker::WorkspaceRequest};
use crate::model::{AssetKey, Project};

use super::{Studio, capitalised, theme};

/// A save that was refused, or an outside change over unsaved edits: the banner's choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub name: String,
    /// The refusal, naming both revisions.
    pub message: String,
    pub stored_revision: i64,
    /// Refused edits of a project that is no longer open (`None`: the open document's).
    pub edits: Option<Box<Project>>,
    /// Whether the banner shows; "Dismiss" hides it, the next refused save shows it again.
    pub shown: bool,
    /// The copy's name while "Save as a copy…" is open.
    pub copy_name: Option<String>,
    pub copy_error: Option<String>,
}

/// An import that would replace edits made in the workspace after the project's last import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportConfirmation {
    pub dir: std::path::PathBuf,
    pub message: String,
}

/// What a reload asked of the worker is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReloadRequest {
    /// Outside changes, with no unsaved edits here.
    Follow,
    /// The banner's "Reload": unsaved edits are discarded.
    Discard,
}

impl Studio {
    /// Treats the document as edited since its last save (autosave writes it).
    pub(super) fn mark_unsaved(&mut self) {
        self.saving.saved_revision = self.doc.revision().wrapping_sub(1);
        self.saving.last_edit = Some(std::time::Instant::now());
    }

    /// Whether the open project has edits that are not in the workspace yet.
    pub(super) fn has_unsaved_edits(&self) -> bool {
        self.saving.in_flight.is_some() || self.doc.revision() != self.saving.saved_revision
    }

    /// Another window or command saved the open project (seen by the worker's poll).
    pub(super) fn on_changed_outside(&mut self, name: &str, revision: i64) {
        if !self.workspace.has_project || name != self.project().name {
            return;
        }
        if revision == 0 {
            self.saving.base = Some(SaveBase::New);
            self.show_error(&format!(
                "Project {name} was removed from the workspace by another window or command; it stays open here and your next save stores it again"
            ));
            return;
        }
        if self.saving.base == Some(SaveBase::Revision(revision)) {
            return;
        }
        if self.has_unsaved_edits() {
            let base = self.saving.base.unwrap_or(SaveBase::New);
            self.set_conflict(name, revision, conflict_message(name, revision, base), None);
        } else if self.saving.reload_requested.is_none() {
            self.saving.reload_requested = Some(ReloadRequest::Follow);
            self.request(WorkspaceRequest::Reload {
                name: name.to_owned(),
            });
        }
    }

    /// The stored project, loaded again.
    pub(super) fn on_reloaded(&mut self, stored: StoredProject) {
        let request = self.saving.reload_requested.take();
        if !self.workspace.has_project || stored.project.name != self.project().name {
            return;
        }
        match request {
            Some(ReloadRequest::Discard) => self.reload_keeping_view(stored, true),
            // Edits made while the reload was on its way are not thrown away.
            _ if self.has_unsaved_edits() => {
                let base = self.saving.base.unwrap_or(SaveBase::New);
                let message = conflict_message(&stored.project.name, stored.revision, base);
                self.set_conflict(&stored.project.name, stored.revision, message, None);
            }
            _ => self.reload_keeping_view(stored, false),
        }
    }

    /// A save was refused: the stored project moved on since the revision it started from.
    pub(super) fn on_save_conflict(
        &mut self,
        name: &str,
        stored_revision: i64,
        message: String,
        project: Box<Project>,
    ) {
        let open = self.workspace.has_project && name == self.project().name;
        self.set_conflict(name, stored_revision, message, (!open).then_some(project));
    }

    fn set_conflict(
        &mut self,
        name: &str,
        stored_revision: i64,
        message: String,
        edits: Option<Box<Project>>,
    ) {
        match &mut self.saving.conflict {
            // The same conflict again (another refused save): show it, keep the copy form.
            Some(c) if c.name == name && c.edits.is_none() && edits.is_none() => {
                c.stored_revision = stored_revision;
                c.message = message;
                c.shown = true;
            }
            _ => {
                self.saving.conflict = Some(Conflict {
                    name: name.to_owned(),
                    message,
                    stored_revision,
                    edits,
                    shown: true,
                    copy_name: None,
                    copy_error: None,
                });
            }
        }
    }

    /// The banner's "Reload": loads the stored project, discarding the unsaved edits.
    pub fn reload_discarding_edits(&mut self) {
        let Some(conflict) = &self.saving.conflict else {
            return;
        };
        let name = conflict.name.clone();
        self.saving.reload_requested = Some(ReloadRequest::Discard);
        self.request(WorkspaceRequest::Reload { name });
    }

    /// The banner's "Save copy": the edits become a new project `name`.
    pub fn save_as_copy(&mut self, name: &str) {
        let Some(conflict) = &mut self.saving.conflict else {
            return;
        };
        let name = name.trim().to_owned();
        if name.is_empty() {
            conflict.copy_error = Some("Give the copy a name".to_owned());
            return;
        }
        conflict.copy_error = None;
        let from = conflict.name.clone();
        let (project, revision) = match &conflict.edits {
            Some(edits) => (edits.clone(), 0),
            None => (Box::new(self.project().clone()), self.doc.revision()),
        };
        self.request(WorkspaceRequest::SaveCopy {
            project,
            from,
            name,
            revision,
        });
    }

    /// The edits were saved as a new project.
    pub(super) fn on_copy_saved(&mut self, from: &str, revision: u64, stored: StoredProject) {
        let copy = stored.project.name.clone();
        let open_edits = self.workspace.has_project
            && self.project().name == from
            && self.conflict_is_about_open(from);
        if open_edits {
            // Go on editing the copy, with the view as it was.
            let stored_revision = stored.revision;
            let edited_since = self.doc.revision() != revision;
            let stored = if edited_since {
                StoredProject {
                    project: Project {
                        name: copy.clone(),
                        ..self.project().clone()
                    },
                    ..stored
                }
            } else {
                stored
            };
            self.reload_keeping_view(stored, false);
            if edited_since {
                // Edits made after the copy was taken are not in it yet: autosave writes them
                // on top of the copy.
                self.mark_unsaved();
            }
            let project = Box::new(self.project().clone());
            self.request(WorkspaceRequest::Track {
                project,
                known: Some(stored_revision),
            });
        }
        self.saving.conflict = None;
        self.show_info(&format!(
            "Saved your edits as project {copy}; {from} keeps the version saved by the other window or command"
        ));
        self.request(WorkspaceRequest::ListProjects);
    }

    pub(super) fn on_copy_failed(&mut self, error: &str) {
        match &mut self.saving.conflict {
            Some(c) => c.copy_error = Some(capitalised(error)),
            None => self.show_error(&format!("Could not save a copy: {error}")),
        }
    }

    fn conflict_is_about_open(&self, from: &str) -> bool {
        self.saving
            .conflict
            .as_ref()
            .is_some_and(|c| c.name == from && c.edits.is_none())
    }

    /// Replaces the document with the stored project, keeping zoom, pan and the selection of
    /// assets that still exist.
    fn reload_keeping_view(&mut self, stored: StoredProject, discarded: bool) {
        let mut project = stored.project;
        super::place_unplaced(&mut project);
        let exists = |k: &AssetKey| project.asset(k).is_some();
        let mut canvas = super::CanvasState::new();
        canvas.zoom = self.canvas.zoom;
        canvas.pan = self.canvas.pan;
        canvas.fit_requested = false;
        canvas.selection = self
            .canvas
            .selection
            .iter()
            .filter(|k| exists(k))
            .cloned()
            .collect();
        canvas.focus = self.canvas.focus.clone().filter(|k| exists(k));
        let name = project.name.clone();
        self.doc.replace_project(project);
        self.canvas = canvas;
        self.saving.saved_revision = self.doc.revision();
        self.saving.in_flight = None;
        self.saving.failed = false;
        self.saving.base = Some(SaveBase::Revision(stored.revision));
        self.saving.conflict = None;
        self.validation.revision = None;
        self.validation.last_structural_change = None;
        self.inspector = super::panels::inspector::InspectorState::default();
        self.states.preview_errors.clear();
        self.states.stale.clear();
        self.refresh_statuses();
        self.request_staleness();
        if discarded {
            self.show_info(&format!(
                "Reloaded {name} at revision {}; your unsaved edits were discarded",
                stored.revision
            ));
        } else {
            self.show_info(&format!(
                "Reloaded {name}: another window or command saved revision {}",
                stored.revision
            ));
        }
    }
}

/// What the conflict banner's buttons asked for this frame.
#[derive(Default)]
struct BannerClicks {
    reload: bool,
    discard_other: bool,
    dismiss: bool,
    copy_open: bool,
    save_copy: Option<String>,
    copy_cancel: bool,
}

/// The banner under the toolbar while a conflict is shown.
pub(super) fn conflict_banner_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let Some(conflict) = studio.saving.conflict.as_ref().filter(|c| c.shown) else {
        return;
    };
    let open = conflict.edits.is_none();
    let mut clicks = BannerClicks::default();
    let mut copy_name = conflict.copy_name.clone();
    egui::Panel::top("conflict_banner").show(ui, |ui| {
        ui.add_space(4.0);
        let text = if open {
            format!("Not saved: {}", conflict.message)
        } else {
            format!(
                "Your edits to {} were not saved: {}",
                conflict.name, conflict.message
            )
        };
        ui.label(RichText::new(text).color(theme::warning_color()).strong());
        banner_buttons_ui(ui, conflict, copy_name.is_none(), &mut clicks);
        if let Some(name) = &mut copy_name {
            copy_name_ui(ui, name, conflict.copy_error.as_deref(), &mut clicks);
        }
        ui.add_space(4.0);
    });
    apply_banner_clicks(studio, clicks, copy_name);
}

/// Reload (the studio's own edits) or discard (edits of another project), save as a copy,
/// dismiss.
fn banner_buttons_ui(
    ui: &mut egui::Ui,
    conflict: &Conflict,
    offer_copy: bool,
    clicks: &mut BannerClicks,
) {
    let open = conflict.edits.is_none();
    ui.horizontal_wrapped(|ui| {
        if open {
            clicks.reload = ui
                .button("Reload and discard my edits")
                .on_hover_text(format!(
                    "Loads revision {} of {}; your unsaved edits here are lost",
                    conflict.stored_revision, conflict.name
                ))
                .clicked();
        } else {
            clicks.discard_other = ui
                .button("Discard these edits")
                .on_hover_text("Forgets the edits that could not be saved")
                .clicked();
        }
        if offer_copy {
            clicks.copy_open = ui
                .button("Save as a copy…")
                .on_hover_text("Saves your edits as a new project; the other version stays")
                .clicked();
        }
        if open {
            clicks.dismiss = ui
                .button("Dismiss for now")
                .on_hover_text("Hides this; your edits stay here unsaved, and saving asks again")
                .clicked();
        }
    });
}

/// The copy's name, "Save copy" (or Enter) and "Cancel", and why the last copy failed.
fn copy_name_ui(
    ui: &mut egui::Ui,
    name: &mut String,
    copy_error: Option<&str>,
    clicks: &mut BannerClicks,
) {
    ui.horizontal(|ui| {
        ui.label("Name of the copy:");
        let response = ui.add(
            egui::TextEdit::singleline(name)
                .desired_width(240.0)
                .id_salt("copy_name"),
        );
        let enter = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("Save copy").clicked() || enter {
            clicks.save_copy = Some(name.clone());
        }
        clicks.copy_cancel = ui.button("Cancel").clicked();
    });
    if let Some(e) = copy_error {
        ui.label(RichText::new(e).color(theme::error_color()));
    }
}

fn apply_banner_clicks(studio: &mut Studio, clicks: BannerClicks, mut copy_name: Option<String>) {
    if clicks.copy_open {
        let base = studio
            .saving
            .conflict
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        copy_name = Some(suggest_copy_name(studio, &base));
    }
    if let Some(c) = &mut studio.saving.conflict {
        c.copy_name = if clicks.copy_cancel { None } else { copy_name };
        if clicks.dismiss {
            c.shown = false;
        }
    }
    if let Some(name) = clicks.save_copy {
        studio.save_as_copy(&name);
    }
    if clicks.reload {
        studio.reload_discarding_edits();
    }
    if clicks.discard_other {
        studio.saving.conflict = None;
        studio.show_info("The edits that could not be saved were discarded");
    }
}

/// `NAME_copy`, or `NAME_copy_2`, … when the project list already has it.
fn suggest_copy_name(studio: &Studio, name: &str) -> String {
    let taken = |c: &str| studio.workspace.projects.iter().any(|p| p.name == c);
    let first = format!("{name}_copy");
    if !taken(&first) {
        return first;
    }
    (2..=studio.workspace.projects.len() + 2)
        .map(|i| format!("{name}_copy_{i}"))
        .find(|c| !taken(c))
        .unwrap_or(first)
}

/// Asks before an import replaces edits made in the workspace after the project's last import.
pub(super) fn import_confirmation_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(confirm) = studio.saving.import_confirmation.clone() else {
        return;
    };
    let mut answer: Option<bool> = None;
    egui::Window::new("Replace the stored project?")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            ui.set_max_width(520.0);
            ui.label(capitalised(&confirm.message));
            ui.horizontal(|ui| {
                if ui.button("Replace it").clicked() {
                    answer = Some(true);
                }
                if ui.button("Cancel").clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                    answer = Some(false);
                }
            });
        });
    match answer {
        Some(true) => {
            studio.saving.import_confirmation = None;
            studio.request(WorkspaceRequest::Import {
                dir: confirm.dir,
                confirmed: true,
            });
        }
        Some(false) => studio.saving.import_confirmation = None,
        None => {}
    }
}
