//! Edits: every change the studio makes to a project is an [`Edit`] applied through
//! [`Document::apply`], which validates it first and records how to undo it.
//!
//! An edit is planned against the current project as a list of primitive operations (insert,
//! remove or replace an asset, set a position, replace the schedules). Applying an operation
//! returns its exact inverse, so undo restores the identical project and redo replays the same
//! operations — no edit needs a hand-written inverse. History lives here, never in the project
//! and never on disk.

use std::collections::HashMap;

use super::alert::AlertSettings;
use super::asset::{AssetKey, AssetSpec};
use super::graph::{AssetGraph, SqlAnalyses};
use super::project::{CanvasNote, CanvasPos, Project};
use super::resource::Resource;
use super::sql;

mod duplicate;
mod op;
mod plan;

pub use duplicate::{duplicate, unique_key};
use op::Op;

/// How many changes undo remembers.
pub const UNDO_LIMIT: usize = 500;

/// A change to a project, as the user means it.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Add a new asset, optionally at a canvas position.
    AddAsset {
        spec: Box<AssetSpec>,
        pos: Option<CanvasPos>,
    },
    /// Remove assets, their positions, and the explicit deps other assets have on them.
    RemoveAssets { keys: Vec<AssetKey> },
    /// Rename an asset, updating deps, positions, schedules and the SQL of downstream assets.
    RenameAsset { from: AssetKey, to: AssetKey },
    /// Make `downstream` read `upstream` (an explicit dep). Refused if it would close a cycle
    /// or break a layer rule.
    Connect {
        upstream: AssetKey,
        downstream: AssetKey,
    },
    /// Remove the explicit dep of `downstream` on `upstream`.
    Disconnect {
        upstream: AssetKey,
        downstream: AssetKey,
    },
    /// Set canvas positions.
    MoveNodes { moves: Vec<(AssetKey, CanvasPos)> },
    /// Replace an asset's spec (same key; use `RenameAsset` to change the key).
    UpdateAsset { spec: Box<AssetSpec> },
    /// Replace the project's resources (the connections panel); kept sorted by name.
    SetResources { resources: Vec<Resource> },
    /// Replace the project's alert targets and rules (the alerts window); kept sorted by name.
    SetAlerts { alerts: AlertSettings },
    /// Collapse asset groups into one card each on the canvas, or expand them again.
    SetGroupsCollapsed {
        groups: Vec<String>,
        collapsed: bool,
    },
    /// Add a note to the canvas under a new id.
    AddNote { id: String, note: CanvasNote },
    /// Change a note's text.
    EditNote { id: String, text: String },
    /// Move a note.
    MoveNote { id: String, pos: CanvasPos },
    /// Remove a note.
    RemoveNote { id: String },
    /// Several edits applied and undone as one; if one is refused none is applied.
    Batch { label: String, edits: Vec<Edit> },
}

impl Edit {
    /// A short description for undo/redo menus, e.g. `rename raw_orders`.
    pub fn label(&self) -> String {
        match self {
            Edit::AddAsset { spec, .. } => format!("add {}", spec.key),
            Edit::RemoveAssets { keys } => match keys.as_slice() {
                [one] => format!("delete {one}"),
                _ => format!("delete {} assets", keys.len()),
            },
            Edit::RenameAsset { from, to } => format!("rename {from} to {to}"),
            Edit::Connect {
                upstream,
                downstream,
            } => format!("connect {upstream} to {downstream}"),
            Edit::Disconnect {
                upstream,
                downstream,
            } => format!("disconnect {upstream} from {downstream}"),
            Edit::MoveNodes { moves } => match moves.as_slice() {
                [(one, _)] => format!("move {one}"),
                _ => format!("move {} assets", moves.len()),
            },
            Edit::UpdateAsset { spec } => format!("edit {}", spec.key),
            Edit::SetResources { .. } => "edit resources".to_owned(),
            Edit::SetAlerts { .. } => "edit alerts".to_owned(),
            Edit::SetGroupsCollapsed { groups, collapsed } => format!(
                "{} {} {}",
                if *collapsed { "collapse" } else { "expand" },
                if groups.len() == 1 { "group" } else { "groups" },
                groups.join(", ")
            ),
            Edit::AddNote { .. } => "add note".to_owned(),
            Edit::EditNote { .. } => "edit note".to_owned(),
            Edit::MoveNote { .. } => "move note".to_owned(),
            Edit::RemoveNote { .. } => "delete note".to_owned(),
            Edit::Batch { label, .. } => label.clone(),
        }
    }
}

/// Why an edit was refused. Each message is a sentence the studio shows as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("there is no asset named `{key}`")]
    UnknownAsset { key: AssetKey },
    #[error("an asset named `{key}` already exists")]
    DuplicateKey { key: AssetKey },
    #[error(
        "`{key}` is not a valid asset key: use letters, digits and `_`, segments joined by `/`, not starting with a digit"
    )]
    InvalidKey { key: AssetKey },
    #[error("`{downstream}` cannot read `{upstream}`: {rule}")]
    LayerRule {
        upstream: AssetKey,
        downstream: AssetKey,
        rule: &'static str,
    },
    #[error("this would close the dependency cycle {}", path_text(.path))]
    Cycle { path: Vec<AssetKey> },
    #[error("`{downstream}` already reads `{upstream}`")]
    AlreadyConnected {
        upstream: AssetKey,
        downstream: AssetKey,
    },
    #[error("`{downstream}` does not list `{upstream}` in its deps")]
    NotConnected {
        upstream: AssetKey,
        downstream: AssetKey,
    },
    #[error("the SQL of `{downstream}` reads `{upstream}`; edit the SQL to remove this dependency")]
    ReadBySql {
        upstream: AssetKey,
        downstream: AssetKey,
    },
    #[error("an update cannot change the key `{from}` to `{to}`; rename the asset instead")]
    KeyChanged { from: AssetKey, to: AssetKey },
    #[error("a resource needs a name")]
    UnnamedResource,
    #[error("two resources are named `{name}`")]
    DuplicateResource { name: String },
    #[error("an alert target or rule needs a name")]
    UnnamedAlert,
    #[error("two alert targets or two alert rules are named `{name}`")]
    DuplicateAlert { name: String },
    #[error("no asset belongs to group `{group}`")]
    UnknownGroup { group: String },
    #[error("there is no note `{id}` on the canvas")]
    UnknownNote { id: String },
    #[error("a note `{id}` is already on the canvas")]
    DuplicateNote { id: String },
    #[error("nothing to do")]
    Empty,
}

fn path_text(path: &[AssetKey]) -> String {
    path.iter()
        .map(AssetKey::as_str)
        .collect::<Vec<_>>()
        .join(" → ")
}

/// One entry of the undo or redo history: the operations that undo it (on the undo stack) or
/// redo it (on the redo stack), in the order they run.
#[derive(Debug, Clone)]
struct Change {
    label: String,
    ops: Vec<Op>,
    structural: bool,
    /// Consecutive changes with the same tag undo as one (typing in one field).
    coalesce: Option<String>,
}

/// An open project with its undo history and a dependency graph kept in step with it.
#[derive(Debug, Clone)]
pub struct Document {
    project: Project,
    undo: Vec<Change>,
    redo: Vec<Change>,
    /// Changes on every applied edit, undo and redo.
    revision: u64,
    /// Changes when assets or schedules change (not on moves): the graph and validation
    /// depend only on these.
    structure_revision: u64,
    graph: AssetGraph,
    /// SQL analyses by SQL text, so rebuilding the graph after an edit parses only new SQL.
    sql_cache: HashMap<String, Result<sql::SqlAnalysis, sql::SqlError>>,
}

impl Document {
    pub fn new(project: Project) -> Self {
        let mut doc = Self {
            graph: AssetGraph::build_with(&project, &Vec::new()),
            project,
            undo: Vec::new(),
            redo: Vec::new(),
            revision: 0,
            structure_revision: 0,
            sql_cache: HashMap::new(),
        };
        doc.rebuild_graph();
        doc
    }

    pub fn project(&self) -> &Project {
        &self.project
    }

    /// The dependency graph of the current project.
    pub fn graph(&self) -> &AssetGraph {
        &self.graph
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn structure_revision(&self) -> u64 {
        self.structure_revision
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// What undo would undo, e.g. `rename a to b`.
    pub fn undo_label(&self) -> Option<&str> {
        self.undo.last().map(|c| c.label.as_str())
    }

    pub fn redo_label(&self) -> Option<&str> {
        self.redo.last().map(|c| c.label.as_str())
    }

    /// Replaces the whole project (opening another one) and forgets the history.
    pub fn replace_project(&mut self, project: Project) {
        // Revisions keep counting up: whatever was derived from an older project (canvas
        // geometry, validation, plans) is seen as stale, even if nothing was edited since.
        let (revision, structure_revision) = (self.revision, self.structure_revision);
        *self = Self::new(project);
        self.revision = revision + 1;
        self.structure_revision = structure_revision + 1;
    }

    /// Validates and applies an edit, recording it for undo. A refused edit changes nothing.
    pub fn apply(&mut self, edit: Edit) -> Result<(), EditError> {
        let label = edit.label();
        let cycles_before = self.graph.cycles().len();
        let mut backward = Vec::new();
        let mut forward = Vec::new();
        if let Err(e) = self.apply_inner(edit, &mut forward, &mut backward) {
            self.roll_back(backward);
            return Err(e);
        }
        if forward.is_empty() {
            return Err(EditError::Empty);
        }
        let structural = forward.iter().any(Op::is_structural);
        if structural {
            self.rebuild_graph();
            // A catch-all for cycles the per-edit checks cannot see (e.g. a new asset whose
            // name an existing SQL query already reads).
            let cycles = self.graph.cycles();
            if cycles.len() > cycles_before {
                let path = cycles.into_iter().next().unwrap_or_default();
                self.roll_back(backward);
                self.rebuild_graph();
                return Err(EditError::Cycle { path });
            }
        }
        backward.reverse();
        self.push_undo(Change {
            label,
            ops: backward,
            structural,
            coalesce: None,
        });
        self.redo.clear();
        self.bump(structural);
        Ok(())
    }

    /// Like [`Document::apply`], but merged into the previous change when that was applied
    /// with the same `tag` and nothing was undone since: typing in a field is one undo step.
    /// Only for edits that replace one asset (`UpdateAsset`), whose first inverse restores the
    /// state before the whole run of edits.
    pub fn apply_coalescing(&mut self, edit: Edit, tag: &str) -> Result<(), EditError> {
        let merge = matches!(edit, Edit::UpdateAsset { .. })
            && self.redo.is_empty()
            && self
                .undo
                .last()
                .is_some_and(|c| c.coalesce.as_deref() == Some(tag));
        self.apply(edit)?;
        if merge {
            if let Some(newest) = self.undo.pop()
                && let Some(first) = self.undo.last_mut()
            {
                first.structural |= newest.structural;
            }
        } else if let Some(top) = self.undo.last_mut() {
            top.coalesce = Some(tag.to_owned());
        }
        Ok(())
    }

    /// Undoes the last change; returns its label, or `None` when there is nothing to undo.
    pub fn undo(&mut self) -> Option<String> {
        let change = self.undo.pop()?;
        let label = change.label.clone();
        let ops = self.run_ops(change.ops);
        self.after_history_step(change.structural);
        self.redo.push(Change { ops, ..change });
        Some(label)
    }

    /// Redoes the last undone change; returns its label.
    pub fn redo(&mut self) -> Option<String> {
        let change = self.redo.pop()?;
        let label = change.label.clone();
        let ops = self.run_ops(change.ops);
        self.after_history_step(change.structural);
        self.push_undo(Change { ops, ..change });
        Some(label)
    }

    fn push_undo(&mut self, change: Change) {
        self.undo.push(change);
        if self.undo.len() > UNDO_LIMIT {
            let excess = self.undo.len() - UNDO_LIMIT;
            self.undo.drain(..excess);
        }
    }

    fn after_history_step(&mut self, structural: bool) {
        if structural {
            self.rebuild_graph();
        }
        self.bump(structural);
    }

    fn bump(&mut self, structural: bool) {
        self.revision += 1;
        if structural {
            self.structure_revision += 1;
        }
    }

    /// Runs operations in order and returns their inverses in undo order.
    fn run_ops(&mut self, ops: Vec<Op>) -> Vec<Op> {
        let mut inverses: Vec<Op> = ops
            .into_iter()
            .map(|op| op.apply(&mut self.project))
            .collect();
        inverses.reverse();
        inverses
    }

    fn roll_back(&mut self, backward: Vec<Op>) {
        // `backward` is in application order; undo from the last.
        for op in backward.into_iter().rev() {
            op.apply(&mut self.project);
        }
    }

    fn rebuild_graph(&mut self) {
        let mut cache = std::mem::take(&mut self.sql_cache);
        let mut fresh = HashMap::with_capacity(cache.len());
        let analyses: SqlAnalyses = self
            .project
            .assets
            .iter()
            .map(|a| {
                let text = a.transform().and_then(|t| t.sql.as_deref())?;
                let result = cache
                    .remove(text)
                    .or_else(|| fresh.get(text).cloned())
                    .unwrap_or_else(|| sql::analyze(text));
                fresh.insert(text.to_owned(), result.clone());
                Some(result)
            })
            .collect();
        self.graph = AssetGraph::build_with(&self.project, &analyses);
        self.sql_cache = fresh;
    }

    /// Plans one edit against the current project and applies it, appending the forward
    /// operations and their inverses (in application order) as it goes, so a later refusal in a
    /// batch can be rolled back.
    fn apply_inner(
        &mut self,
        edit: Edit,
        forward: &mut Vec<Op>,
        backward: &mut Vec<Op>,
    ) -> Result<(), EditError> {
        let ops = match edit {
            Edit::Batch { edits, .. } => {
                for e in edits {
                    self.apply_inner(e, forward, backward)?;
                    if forward.iter().any(Op::is_structural) {
                        // Later edits in the batch check cycles against the graph so far.
                        self.rebuild_graph();
                    }
                }
                return Ok(());
            }
            other => self.plan(other)?,
        };
        for op in ops {
            forward.push(op.clone());
            backward.push(op.apply(&mut self.project));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
