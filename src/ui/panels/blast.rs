//! The blast radius before an edit.
//!
//! - A delete: removing assets that others read first lists what it breaks — the downstream
//!   assets, their checks, contracts and unit tests, and the schedules, sensors and alert rules
//!   that select a removed asset (`model::impact::removal_impact`, the same walk as
//!   `medallion impact`) — and asks to confirm. Removing assets nothing reads happens at once.
//! - A rename: what it rewrites and what would break (`model::impact::rename_impact`); asked
//!   only when something would break.
//! - A definition edit (SQL, built-in steps, a source's path, format or query): the inspector
//!   keeps it as a draft while a text field of it has the keyboard focus; it is committed when
//!   the focus leaves that field (at once for a click on a button, checkbox or menu). The job
//!   worker then compares the project's inferred schemas before and after the edit
//!   (`JobRequest::EditImpact`); when a removed or retyped column is used downstream, by a
//!   check, a contract or a unit test, the edit waits for "Apply anyway" or "Cancel" (which
//!   drops it); otherwise it is applied. Without a workspace there is no job worker: edits
//!   apply as they are typed, unchecked.

use egui::RichText;

use crate::app::against::ChangeImpact;
use crate::app::jobs::JobRequest;
use crate::model::edit::Edit;
use crate::model::impact::{Impact, RenameImpact, removal_impact, rename_impact};
use crate::model::{AssetDefinition, AssetKey, AssetSpec};
use crate::ui::{Studio, theme};

/// A delete waiting for confirmation, with what it breaks.
#[derive(Debug)]
pub struct DeleteConfirm {
    pub keys: Vec<AssetKey>,
    pub impact: Impact,
}

/// A rename waiting for confirmation, with what it rewrites and what it would break.
#[derive(Debug)]
pub struct RenameConfirm {
    pub from: AssetKey,
    pub to: AssetKey,
    pub impact: RenameImpact,
}

/// An edit of an asset's definition not applied yet.
#[derive(Debug, Clone)]
pub struct DefinitionDraft {
    pub key: AssetKey,
    pub definition: AssetDefinition,
    /// The text field being typed in when the draft began: the draft is committed when the
    /// keyboard focus leaves it (`None`: at once).
    typing: Option<egui::Id>,
    /// The request asking what the committed draft breaks, and the definition it was asked for.
    checking: Option<(u64, AssetDefinition)>,
}

/// An edit of an asset's definition that removes or retypes columns others use, waiting for
/// confirmation.
#[derive(Debug)]
pub struct EditConfirm {
    pub key: AssetKey,
    pub definition: AssetDefinition,
    pub changes: Vec<ChangeImpact>,
}

impl Studio {
    /// Keeps the inspector's edit of `original`'s definition (in `spec`) as a draft instead
    /// of applying it, and commits the draft when `typing` (the focused text field) is no
    /// longer the field it began in and no click is in progress (`clicking`). `spec` keeps the applied definition, so its other fields
    /// still apply at once. Without a workspace nothing is held back.
    pub(crate) fn track_definition(
        &mut self,
        original: &AssetSpec,
        spec: &mut AssetSpec,
        typing: Option<egui::Id>,
        clicking: bool,
    ) {
        if !self.backend.has_workspace() {
            return;
        }
        if spec.definition == original.definition {
            // Typed back to what is applied.
            if self
                .inspector
                .draft
                .as_ref()
                .is_some_and(|d| d.key == original.key)
            {
                self.inspector.draft = None;
            }
        } else {
            let same = self
                .inspector
                .draft
                .as_ref()
                .is_some_and(|d| d.key == original.key && d.definition == spec.definition);
            if !same {
                self.inspector.draft = Some(DefinitionDraft {
                    key: original.key.clone(),
                    definition: spec.definition.clone(),
                    typing,
                    checking: None,
                });
            }
            spec.definition = original.definition.clone();
        }
        let leave = !clicking
            && self
                .inspector
                .draft
                .as_ref()
                .is_some_and(|d| d.typing.is_none() || d.typing != typing);
        if leave {
            self.commit_draft();
        }
    }

    /// Asks the job worker what the draft breaks (once per drafted definition).
    pub(crate) fn commit_draft(&mut self) {
        let Some(draft) = self.inspector.draft.as_ref() else {
            return;
        };
        let asked = draft
            .checking
            .as_ref()
            .is_some_and(|(_, d)| d == &draft.definition);
        if asked {
            return;
        }
        let Some(mut spec) = self.project().asset(&draft.key).cloned() else {
            self.inspector.draft = None;
            return;
        };
        spec.definition = draft.definition.clone();
        let before = Box::new(self.project().clone());
        let mut after = before.clone();
        if let Some(a) = after.assets.iter_mut().find(|a| a.key == spec.key) {
            *a = spec;
        }
        let definition = draft.definition.clone();
        let id = self.next_request_id();
        if self.send_job(JobRequest::EditImpact { id, before, after })
            && let Some(d) = self.inspector.draft.as_mut()
        {
            d.checking = Some((id, definition));
        }
    }

    /// The worker's answer about a committed draft: applied when it breaks nothing, else the
    /// confirmation opens. An answer about an older draft is dropped.
    pub(crate) fn on_edit_impact(&mut self, id: u64, changes: Vec<ChangeImpact>) {
        let Some(draft) = self.inspector.draft.as_ref() else {
            return;
        };
        let current = draft
            .checking
            .as_ref()
            .is_some_and(|(i, d)| *i == id && d == &draft.definition);
        if !current {
            return;
        }
        let (key, definition) = (draft.key.clone(), draft.definition.clone());
        if changes.is_empty() {
            self.inspector.draft = None;
            self.apply_definition(&key, definition);
        } else {
            self.windows.confirm_edit = Some(EditConfirm {
                key,
                definition,
                changes,
            });
        }
    }

    /// Applies `definition` to `key` as one edit.
    /// Applies the definition edit held back, if any (the window is closing: no one is left
    /// to ask, and typed work is never dropped).
    pub(crate) fn apply_held_definition(&mut self) {
        let held = match self.windows.confirm_edit.take() {
            Some(confirm) => Some((confirm.key, confirm.definition)),
            None => self.inspector.draft.take().map(|d| (d.key, d.definition)),
        };
        self.inspector.draft = None;
        if let Some((key, definition)) = held {
            tracing::warn!(asset = %key, "applied a held definition edit as the studio closed");
            self.apply_definition(&key, definition);
        }
    }

    fn apply_definition(&mut self, key: &AssetKey, definition: AssetDefinition) {
        if let Some(mut spec) = self.project().asset(key).cloned() {
            spec.definition = definition;
            self.apply(Edit::UpdateAsset {
                spec: Box::new(spec),
            });
        }
    }

    /// Renames `from` to `to` at once when that breaks nothing (true when applied), or opens
    /// the confirmation listing what the rename rewrites and what it would break.
    pub fn request_rename(&mut self, from: AssetKey, to: AssetKey) -> bool {
        let impact = rename_impact(self.project(), &from, &to);
        if impact.broken.is_empty() || self.project().asset(&to).is_some() {
            return self.renamed(&from, &to);
        }
        self.windows.confirm_rename = Some(RenameConfirm { from, to, impact });
        false
    }

    /// Applies the rename and keeps the renamed asset selected.
    fn renamed(&mut self, from: &AssetKey, to: &AssetKey) -> bool {
        let applied = self.apply(Edit::RenameAsset {
            from: from.clone(),
            to: to.clone(),
        });
        if applied {
            // A definition edit of the renamed asset follows it (checked again under the
            // new name when committed).
            if let Some(d) = self.inspector.draft.as_mut().filter(|d| &d.key == from) {
                d.key = to.clone();
                d.checking = None;
            }
            self.canvas.select([to.clone()]);
            self.inspector.set_key(to);
        }
        applied
    }

    /// Deletes `keys`, or — when other assets read them — opens the confirmation listing
    /// what the delete breaks.
    pub fn request_delete(&mut self, keys: Vec<AssetKey>) {
        if keys.is_empty() {
            return;
        }
        let impact = removal_impact(self.project(), &keys);
        if impact.assets.is_empty() {
            self.apply(Edit::RemoveAssets { keys });
        } else {
            self.windows.confirm_delete = Some(DeleteConfirm { keys, impact });
        }
    }
}

pub fn confirm_delete_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(confirm) = &studio.windows.confirm_delete else {
        return;
    };
    let mut open = true;
    let (mut delete, mut cancel) = (false, false);
    let names: Vec<&str> = confirm.keys.iter().map(AssetKey::as_str).collect();
    confirm_window("Delete and break downstream?", "confirm_delete", &mut open).show(ctx, |ui| {
        ui.label(
            RichText::new(format!(
                "Deleting {} breaks what reads it:",
                names.join(", ")
            ))
            .strong()
            .color(theme::warning_color()),
        );
        egui::ScrollArea::vertical()
            .max_height(260.0)
            .show(ui, |ui| impact_ui(ui, &confirm.impact));
        ui.separator();
        ui.horizontal(|ui| {
            delete = ui
                .button("Delete anyway")
                .on_hover_text("Delete; Undo (Ctrl+Z) brings it back")
                .clicked();
            cancel = ui.button("Cancel").clicked();
        });
    });
    if delete && let Some(confirm) = studio.windows.confirm_delete.take() {
        studio.apply(Edit::RemoveAssets { keys: confirm.keys });
    }
    if cancel || !open {
        studio.windows.confirm_delete = None;
    }
}

/// One heading and line per kind of thing broken, as `medallion impact` lists them.
fn impact_ui(ui: &mut egui::Ui, i: &Impact) {
    let mut section = |title: &str, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        ui.label(RichText::new(format!("{title} ({})", lines.len())).strong());
        for line in lines {
            ui.label(line);
        }
    };
    section(
        "Downstream assets",
        i.assets
            .iter()
            .map(|a| format!("{} — {}", a.asset, a.reason))
            .collect(),
    );
    section(
        "Checks",
        i.checks
            .iter()
            .map(|c| format!("{}.{}", c.asset, c.check))
            .collect(),
    );
    section(
        "Contracts",
        i.contracts
            .iter()
            .map(|c| format!("{} — {}", c.asset, c.reason))
            .collect(),
    );
    section(
        "Unit tests",
        i.unit_tests
            .iter()
            .map(|t| format!("{}.{} — {}", t.asset, t.test, t.reason))
            .collect(),
    );
    section("Schedules", i.schedules.clone());
    section("Sensors", i.sensors.clone());
    section("Alert rules", i.alert_rules.clone());
}

pub fn confirm_rename_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(confirm) = &studio.windows.confirm_rename else {
        return;
    };
    let mut open = true;
    let (mut rename, mut cancel) = (false, false);
    confirm_window(
        "Rename and break what names it?",
        "confirm_rename",
        &mut open,
    )
    .show(ctx, |ui| {
        let i = &confirm.impact;
        ui.label(
            RichText::new(format!(
                "Renaming {} to {} breaks what names it:",
                i.from, i.to
            ))
            .strong()
            .color(theme::warning_color()),
        );
        egui::ScrollArea::vertical()
            .max_height(260.0)
            .show(ui, |ui| {
                ui.label(RichText::new(format!("Would break ({})", i.broken.len())).strong());
                for line in &i.broken {
                    ui.label(line);
                }
                if !i.rewritten.is_empty() {
                    ui.label(
                        RichText::new(format!("Rewritten by the rename ({})", i.rewritten.len()))
                            .strong(),
                    );
                    for line in &i.rewritten {
                        ui.label(line);
                    }
                }
            });
        ui.separator();
        ui.horizontal(|ui| {
            rename = ui
                .button("Rename")
                .on_hover_text("Rename; Undo (Ctrl+Z) brings the old name back")
                .clicked();
            cancel = ui.button("Cancel").clicked();
        });
    });
    if rename && let Some(confirm) = studio.windows.confirm_rename.take() {
        studio.renamed(&confirm.from, &confirm.to);
    }
    if (cancel || !open)
        && let Some(confirm) = studio.windows.confirm_rename.take()
    {
        // The key field shows the name kept.
        studio.inspector.set_key(&confirm.from);
    }
}

/// Under the definition: that the edit is not applied yet, or is being checked.
pub fn draft_note_ui(ui: &mut egui::Ui, studio: &Studio, key: &AssetKey) {
    let Some(d) = studio.inspector.draft.as_ref().filter(|d| &d.key == key) else {
        return;
    };
    let asking = studio
        .windows
        .confirm_edit
        .as_ref()
        .is_some_and(|c| &c.key == key);
    ui.horizontal(|ui| {
        if asking {
            ui.label(
                RichText::new("Not applied: it breaks what is listed — Apply anyway or Cancel")
                    .color(theme::warning_color()),
            );
        } else if d.checking.is_some() {
            ui.spinner();
            ui.label(RichText::new("Checking what this edit breaks…").weak());
        } else {
            ui.label(RichText::new("Not applied yet: applied when you leave the field").weak());
        }
    });
}

pub fn confirm_edit_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(confirm) = &studio.windows.confirm_edit else {
        return;
    };
    let mut open = true;
    let (mut apply, mut cancel) = (false, false);
    confirm_window("Apply and break downstream?", "confirm_edit", &mut open).show(ctx, |ui| {
        ui.label(
            RichText::new(format!(
                "This edit of {} removes or retypes columns that are used:",
                confirm.key
            ))
            .strong()
            .color(theme::warning_color()),
        );
        egui::ScrollArea::vertical()
            .max_height(260.0)
            .show(ui, |ui| {
                for c in &confirm.changes {
                    ui.label(
                        RichText::new(&c.change)
                            .strong()
                            .color(theme::error_color()),
                    );
                    ui.indent(("change", &c.change), |ui| {
                        if !c.impact.columns.is_empty() {
                            let cols: Vec<String> =
                                c.impact.columns.iter().map(ToString::to_string).collect();
                            ui.label(
                                RichText::new(format!("Downstream columns ({})", cols.len()))
                                    .strong(),
                            );
                            ui.label(cols.join(", "));
                        }
                        impact_ui(ui, &c.impact);
                    });
                }
            });
        ui.separator();
        ui.horizontal(|ui| {
            apply = ui
                .button("Apply anyway")
                .on_hover_text("Apply the edit; Undo (Ctrl+Z) brings the old definition back")
                .clicked();
            cancel = ui
                .button("Cancel")
                .on_hover_text("Drop the edit: the definition stays as it was")
                .clicked();
        });
    });
    if apply && let Some(confirm) = studio.windows.confirm_edit.take() {
        studio.inspector.draft = None;
        studio.apply_definition(&confirm.key, confirm.definition);
    }
    if (cancel || !open) && studio.windows.confirm_edit.take().is_some() {
        studio.inspector.draft = None;
    }
}

/// The window every blast-radius confirmation opens in: centred, resizable, its own id.
fn confirm_window<'a>(title: &str, id: &str, open: &'a mut bool) -> egui::Window<'a> {
    egui::Window::new(title)
        .id(egui::Id::new(id))
        .open(open)
        .collapsible(false)
        .resizable(true)
        .default_size(egui::vec2(560.0, 380.0))
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
}
