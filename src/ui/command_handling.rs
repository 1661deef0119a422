//! The studio's command handling: the commands the frame queued (menus, shortcuts, the
//! command palette) and the canvas's actions, applied at the end of the frame in one place.
//! Work a command needs off the UI thread goes to the backend as a request.

use crate::app::backend::TaskRequest;
use crate::app::worker::WorkspaceRequest;
use crate::model::edit::{self, Edit};
use crate::model::layout::{self, LayoutMode};
use crate::model::{AssetKey, AssetSpec, CanvasPos};

use super::canvas::{self, CanvasAction};
use super::{Studio, UICommand, panels, workbench_state};

impl Studio {
    pub(super) fn run_commands(&mut self, ctx: &egui::Context) {
        let commands = std::mem::take(&mut self.pending.commands);
        for command in commands {
            self.run_command(ctx, command);
        }
        let actions = std::mem::take(&mut self.pending.actions);
        for action in actions {
            match action {
                CanvasAction::Apply(edit) => {
                    self.apply(edit);
                }
                CanvasAction::OpenInspector => {
                    self.prefs.show_inspector = true;
                    self.inspector.focus_requested = true;
                }
                CanvasAction::OpenPalette(pos) => self.windows.add_palette = Some(pos),
                CanvasAction::Command(command) => self.run_command(ctx, command),
                CanvasAction::EditNote { id, pos } => self.open_note_editor(id, pos),
                CanvasAction::PreviewEdge {
                    upstream,
                    downstream,
                } => self.preview_edge(&upstream, &downstream),
            }
        }
    }

    pub fn run_command(&mut self, ctx: &egui::Context, command: UICommand) {
        match command {
            UICommand::Undo
            | UICommand::Redo
            | UICommand::Save
            | UICommand::AddAsset
            | UICommand::Delete
            | UICommand::Rename
            | UICommand::Copy
            | UICommand::Paste
            | UICommand::Duplicate
            | UICommand::SelectAll => self.run_edit_command(ctx, command),
            UICommand::FitToView
            | UICommand::ZoomIn
            | UICommand::ZoomOut
            | UICommand::ArrangeAll
            | UICommand::ToggleTheme
            | UICommand::ToggleInspector
            | UICommand::ToggleDiagnostics
            | UICommand::Inspect
            | UICommand::ShowInCatalog
            | UICommand::ToggleCatalog => self.run_view_command(command),
            UICommand::Lineage => match self.canvas.single_selection() {
                Some(key) => {
                    let key = key.clone();
                    self.open_lineage(key, None);
                }
                None => self.show_info("Select one asset to see its lineage"),
            },
            UICommand::Preview
            | UICommand::Materialize
            | UICommand::MaterializeSelected
            | UICommand::MaterializeWithUpstream
            | UICommand::MaterializeWithDownstream
            | UICommand::MaterializeAll
            | UICommand::RunChecks
            | UICommand::CancelRun
            | UICommand::RunHistory
            | UICommand::ExportReport => self.run_run_command(command),
            UICommand::Find => self.windows.find = Some(panels::find::FindState::default()),
            UICommand::CommandPalette => {
                self.windows.command_palette =
                    Some(panels::command_palette::PaletteState::default());
            }
            UICommand::OpenProject => {
                self.windows.picker_open = true;
                self.request(WorkspaceRequest::ListProjects);
            }
            UICommand::ImportProject => self.open_dialog(true),
            UICommand::NewProject => {
                self.windows.welcome = Some(panels::welcome::WelcomeState::default());
            }
            UICommand::Tour => self.windows.tour = Some(panels::tour::TourState::default()),
            UICommand::ExportProject => self.open_dialog(false),
            UICommand::CopyKey => match self.canvas.single_selection() {
                Some(key) => {
                    ctx.copy_text(key.to_string());
                    self.show_info(&format!("Copied {key}"));
                }
                None => self.show_info("Select one asset to copy its key"),
            },
            UICommand::ToggleWorkbench => self.workbench.open = !self.workbench.open,
            UICommand::Connections => {
                self.windows.connections = Some(panels::connections::ConnectionsState::default());
            }
            UICommand::Prices => self.open_prices(),
            UICommand::Costs => self.open_costs(),
            UICommand::Deployment => super::panels::deployment::open(self),
            UICommand::Automation => self.open_automation(),
            UICommand::AuditLog => self.open_audit(),
            UICommand::CollapseGroups => self.collapse_selected_groups(),
            UICommand::ExpandGroups => {
                let groups: Vec<String> = self
                    .project()
                    .layout
                    .collapsed_groups
                    .iter()
                    .filter(|g| {
                        self.project()
                            .assets
                            .iter()
                            .any(|a| a.group.as_deref() == Some(g.as_str()))
                    })
                    .cloned()
                    .collect();
                if groups.is_empty() {
                    self.show_info("No group is collapsed");
                } else {
                    self.apply(Edit::SetGroupsCollapsed {
                        groups,
                        collapsed: false,
                    });
                }
            }
            UICommand::AddNote => {
                let pos = self.canvas.view_center();
                self.open_note_editor(None, pos);
            }
        }
    }

    /// The commands that change the view: zoom, arrangement, theme and side panels.
    fn run_view_command(&mut self, command: UICommand) {
        match command {
            UICommand::FitToView => self.canvas.fit_requested = true,
            UICommand::ZoomIn => self.canvas.zoom = (self.canvas.zoom * 1.25).min(canvas::MAX_ZOOM),
            UICommand::ZoomOut => {
                self.canvas.zoom = (self.canvas.zoom / 1.25).max(canvas::MIN_ZOOM);
            }
            UICommand::ArrangeAll => {
                let moves = layout::auto_layout(self.project(), self.doc.graph(), LayoutMode::All);
                if moves.is_empty() {
                    self.show_info("The canvas is already arranged");
                } else if self.apply(Edit::MoveNodes {
                    moves: moves.into_iter().collect(),
                }) {
                    self.canvas.fit_requested = true;
                }
            }
            UICommand::ToggleTheme => self.prefs.dark_mode = !self.prefs.dark_mode,
            UICommand::ToggleInspector => self.prefs.show_inspector = !self.prefs.show_inspector,
            UICommand::ToggleDiagnostics => {
                self.prefs.show_diagnostics = !self.prefs.show_diagnostics;
            }
            UICommand::Inspect => {
                self.prefs.show_inspector = true;
                self.inspector.focus_requested = true;
            }
            UICommand::ShowInCatalog => {
                let catalog = self.windows.catalog.get_or_insert_default();
                catalog.reveal = self.canvas.selection.iter().next().cloned();
            }
            UICommand::ToggleCatalog => {
                let was_open = self.windows.catalog.take().is_some();
                if !was_open {
                    self.windows.catalog = Some(panels::catalog::CatalogState::default());
                }
            }
            _ => {}
        }
    }

    /// The commands that preview, run, cancel or report.
    fn run_run_command(&mut self, command: UICommand) {
        match command {
            UICommand::Preview => self.preview_selected(),
            UICommand::Materialize => self.open_launch(),
            UICommand::MaterializeSelected => {
                self.materialize_selected(workbench_state::LaunchScope::Selected);
            }
            UICommand::MaterializeWithUpstream => {
                self.materialize_selected(workbench_state::LaunchScope::WithUpstream);
            }
            UICommand::MaterializeWithDownstream => {
                self.materialize_selected(workbench_state::LaunchScope::WithDownstream);
            }
            UICommand::MaterializeAll => {
                self.materialize_all();
            }
            UICommand::RunChecks => {
                self.run_checks();
            }
            UICommand::CancelRun => self.cancel_run(),
            UICommand::RunHistory => {
                self.workbench.open = true;
                self.workbench.tab = workbench_state::WorkbenchTab::History;
                self.refresh_history();
            }
            UICommand::ExportReport => self.export_report_dialog(),
            _ => {}
        }
    }

    /// Undoes (or redoes) the last edit, keeping a renamed asset selected, and says what it did.
    fn undo_or_redo(&mut self, redo: bool) {
        let keys = self.asset_keys();
        let done = if redo {
            self.doc.redo()
        } else {
            self.doc.undo()
        };
        let (did, nothing) = if redo {
            ("Redid", "Nothing to redo")
        } else {
            ("Undid", "Nothing to undo")
        };
        match done {
            Some(label) => {
                self.follow_renamed_selection(&keys);
                self.after_change(u64::MAX);
                self.show_info(&format!("{did} {label}"));
            }
            None => self.show_info(nothing),
        }
    }

    /// The project's asset keys.
    fn asset_keys(&self) -> std::collections::BTreeSet<AssetKey> {
        self.project()
            .assets
            .iter()
            .map(|a| a.key.clone())
            .collect()
    }

    /// After an undo or redo that renamed one asset (one key gone, one new), a selection of
    /// the old key moves to the new one: the renamed asset stays selected, as after the rename
    /// itself.
    fn follow_renamed_selection(&mut self, before: &std::collections::BTreeSet<AssetKey>) {
        let after = self.asset_keys();
        let gone: Vec<&AssetKey> = before.difference(&after).collect();
        let new: Vec<&AssetKey> = after.difference(before).collect();
        if let ([gone], [new]) = (gone.as_slice(), new.as_slice())
            && self.canvas.selection.contains(*gone)
        {
            let mut keys = self.canvas.selection.clone();
            keys.remove(*gone);
            keys.insert((*new).clone());
            self.canvas.select(keys);
        }
    }

    /// The commands that edit the document, save it, or copy from it.
    fn run_edit_command(&mut self, ctx: &egui::Context, command: UICommand) {
        match command {
            UICommand::Undo => self.undo_or_redo(false),
            UICommand::Redo => self.undo_or_redo(true),
            UICommand::Save => {
                let unsaved = self.has_unsaved_edits();
                if let Some(c) = &mut self.saving.conflict
                    && !unsaved
                {
                    c.shown = true;
                } else if self.doc.revision() == self.saving.saved_revision {
                    self.show_info("Everything is saved");
                } else {
                    self.save_now();
                }
            }
            UICommand::AddAsset => self.windows.add_palette = Some(self.canvas.view_center()),
            UICommand::Delete => {
                // A clicked note (nothing else selected) is what Delete removes.
                if self.canvas.selection.is_empty()
                    && let Some(id) = self.canvas.selected_note.take()
                {
                    self.apply(Edit::RemoveNote { id });
                    return;
                }
                let keys: Vec<AssetKey> = self.canvas.selection.iter().cloned().collect();
                self.request_delete(keys);
            }
            UICommand::Rename => {
                if self.canvas.single_selection().is_some() {
                    self.prefs.show_inspector = true;
                    self.inspector.rename_requested = true;
                } else {
                    self.show_info("Select one asset to rename it");
                }
            }
            UICommand::Copy => {
                self.clipboard = self.selected_specs();
                let keys: Vec<&str> = self.clipboard.iter().map(|(s, _)| s.key.as_str()).collect();
                if !keys.is_empty() {
                    ctx.copy_text(keys.join("\n"));
                }
            }
            UICommand::Paste => {
                let specs = self.clipboard.clone();
                self.paste(&specs);
            }
            UICommand::Duplicate => {
                let specs = self.selected_specs();
                self.paste(&specs);
            }
            UICommand::SelectAll => {
                let keys: Vec<AssetKey> = self
                    .project()
                    .assets
                    .iter()
                    .map(|a| a.key.clone())
                    .collect();
                self.canvas.select(keys);
            }
            // The other commands do not edit (see `run_command`).
            _ => {}
        }
    }

    fn selected_specs(&self) -> Vec<(AssetSpec, Option<CanvasPos>)> {
        let project = self.project();
        project
            .assets
            .iter()
            .filter(|a| self.canvas.selection.contains(&a.key))
            .map(|a| (a.clone(), project.layout.positions.get(&a.key).copied()))
            .collect()
    }

    fn paste(&mut self, specs: &[(AssetSpec, Option<CanvasPos>)]) {
        if specs.is_empty() {
            self.show_info("Nothing to paste: copy assets first");
            return;
        }
        let offset = CanvasPos {
            x: 32.0,
            y: layout::ROW_SPACING,
        };
        let (edit, keys) = edit::duplicate(self.project(), specs, offset);
        if self.apply(edit) {
            self.canvas.select(keys);
        }
    }

    /// Adds an asset of `template` at `pos` and selects it.
    pub fn add_asset(&mut self, template: canvas::palette::AssetTemplate, pos: CanvasPos) {
        let key = edit::unique_key(self.project(), template.base_key());
        let spec = template.spec(key.clone());
        if self.apply(Edit::AddAsset {
            spec: Box::new(spec),
            pos: Some(pos),
        }) {
            self.canvas.select([key.clone()]);
            self.canvas.keep_in_view = Some(key);
        }
    }

    /// A native folder chooser, on the backend; the answer arrives as a task event.
    fn open_dialog(&mut self, import: bool) {
        let task = if import {
            TaskRequest::ChooseImportDir
        } else {
            TaskRequest::ChooseExportDir {
                name: self.project().name.clone(),
            }
        };
        self.run_task(task);
    }

    /// "Collapse the selection's groups": each group a selected asset belongs to becomes one
    /// card.
    fn collapse_selected_groups(&mut self) {
        let groups: Vec<String> = self
            .canvas
            .selection
            .iter()
            .filter_map(|k| self.project().asset(k)?.group.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if groups.is_empty() {
            self.show_info("Select assets that belong to a group to collapse it");
            return;
        }
        self.apply(Edit::SetGroupsCollapsed {
            groups,
            collapsed: true,
        });
    }

    /// Opens the note editor on note `id` (its text), or on a new note at `pos`.
    pub fn open_note_editor(&mut self, id: Option<String>, pos: CanvasPos) {
        let text = id
            .as_ref()
            .and_then(|id| self.project().layout.notes.get(id))
            .map(|n| n.text.clone());
        match (id, text) {
            (Some(id), Some(text)) => {
                self.windows.note_editor = Some(panels::note_editor::NoteEditor {
                    id: Some(id),
                    pos,
                    text,
                    focus: true,
                });
            }
            (Some(id), None) => self.show_error(&format!("There is no note {id} on the canvas")),
            (None, _) => {
                self.windows.note_editor = Some(panels::note_editor::NoteEditor {
                    id: None,
                    pos,
                    text: String::new(),
                    focus: true,
                });
            }
        }
    }
}
