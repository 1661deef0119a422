//! Edits: every change the studio makes to a project is an [`Edit`] applied through
//! [`Document::apply`], which validates it first and records how to undo it.
//!
//! An edit is planned against the current project as a list of primitive operations (insert,
//! remove or replace an asset, set a position, replace the schedules). Applying an operation
//! returns its exact inverse, so undo restores the identical project and redo replays the same
//! operations — no edit needs a hand-written inverse. History lives here, never in the project
//! and never on disk.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::asset::{AssetDefinition, AssetKey, AssetSpec};
use super::graph::{AssetGraph, SqlAnalyses};
use super::project::{CanvasPos, Project, ScheduleDefinition};
use super::resource::Resource;
use super::selection::{AssetSelection, SelectionTerm};
use super::sql;

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
    #[error("nothing to do")]
    Empty,
}

fn path_text(path: &[AssetKey]) -> String {
    path.iter()
        .map(AssetKey::as_str)
        .collect::<Vec<_>>()
        .join(" → ")
}

/// A primitive change to a project. Applying one returns the operation that undoes it.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Insert {
        index: usize,
        spec: Box<AssetSpec>,
    },
    Remove {
        index: usize,
    },
    Replace {
        index: usize,
        spec: Box<AssetSpec>,
    },
    SetPosition {
        key: AssetKey,
        pos: Option<CanvasPos>,
    },
    SetSchedules {
        schedules: Vec<ScheduleDefinition>,
    },
    SetResources {
        resources: Vec<Resource>,
    },
}

impl Op {
    fn is_structural(&self) -> bool {
        !matches!(self, Op::SetPosition { .. })
    }

    /// Applies the operation and returns its inverse. Operations are planned against the
    /// project they apply to, so indices are in range; an out-of-range index does nothing.
    fn apply(self, project: &mut Project) -> Op {
        match self {
            Op::Insert { index, spec } => {
                let index = index.min(project.assets.len());
                project.assets.insert(index, *spec);
                Op::Remove { index }
            }
            Op::Remove { index } => {
                if index < project.assets.len() {
                    let spec = project.assets.remove(index);
                    Op::Insert {
                        index,
                        spec: Box::new(spec),
                    }
                } else {
                    Op::Remove { index: usize::MAX }
                }
            }
            Op::Replace { index, spec } => match project.assets.get_mut(index) {
                Some(slot) => Op::Replace {
                    index,
                    spec: Box::new(std::mem::replace(slot, *spec)),
                },
                None => Op::Remove { index: usize::MAX },
            },
            Op::SetPosition { key, pos } => {
                let old = match pos {
                    Some(p) => project.layout.positions.insert(key.clone(), p),
                    None => project.layout.positions.remove(&key),
                };
                Op::SetPosition { key, pos: old }
            }
            Op::SetSchedules { schedules } => Op::SetSchedules {
                schedules: std::mem::replace(&mut project.schedules, schedules),
            },
            Op::SetResources { resources } => Op::SetResources {
                resources: std::mem::replace(&mut project.resources, resources),
            },
        }
    }
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

    fn index_of(&self, key: &AssetKey) -> Result<usize, EditError> {
        self.project
            .assets
            .iter()
            .position(|a| &a.key == key)
            .ok_or_else(|| EditError::UnknownAsset { key: key.clone() })
    }

    /// Turns an edit (not a batch) into operations, refusing it with a reason if it is not
    /// allowed on the current project.
    fn plan(&self, edit: Edit) -> Result<Vec<Op>, EditError> {
        let project = &self.project;
        match edit {
            Edit::AddAsset { spec, pos } => {
                check_new_key(project, &spec.key)?;
                let mut ops = vec![Op::SetPosition {
                    key: spec.key.clone(),
                    pos,
                }];
                if pos.is_none() {
                    ops.clear();
                }
                ops.insert(
                    0,
                    Op::Insert {
                        index: project.assets.len(),
                        spec,
                    },
                );
                Ok(ops)
            }
            Edit::RemoveAssets { keys } => {
                let doomed: BTreeSet<&AssetKey> = keys.iter().collect();
                let mut indices = Vec::new();
                for key in &doomed {
                    indices.push(self.index_of(key)?);
                }
                let mut ops = Vec::new();
                for (i, asset) in project.assets.iter().enumerate() {
                    if doomed.contains(&asset.key) || !asset.deps.iter().any(|d| doomed.contains(d))
                    {
                        continue;
                    }
                    let mut spec = asset.clone();
                    spec.deps.retain(|d| !doomed.contains(d));
                    ops.push(Op::Replace {
                        index: i,
                        spec: Box::new(spec),
                    });
                }
                for key in &doomed {
                    if project.layout.positions.contains_key(*key) {
                        ops.push(Op::SetPosition {
                            key: (*key).clone(),
                            pos: None,
                        });
                    }
                }
                // Highest index first, so earlier removals do not shift later ones.
                indices.sort_unstable_by(|a, b| b.cmp(a));
                ops.extend(indices.into_iter().map(|index| Op::Remove { index }));
                Ok(ops)
            }
            Edit::RenameAsset { from, to } => self.plan_rename(&from, &to),
            Edit::Connect {
                upstream,
                downstream,
            } => self.plan_connect(&upstream, &downstream),
            Edit::Disconnect {
                upstream,
                downstream,
            } => {
                let index = self.index_of(&downstream)?;
                self.index_of(&upstream)?;
                let asset = &project.assets[index];
                if !asset.deps.contains(&upstream) {
                    return Err(if self.graph.upstream(&downstream).contains(&&upstream) {
                        EditError::ReadBySql {
                            upstream,
                            downstream,
                        }
                    } else {
                        EditError::NotConnected {
                            upstream,
                            downstream,
                        }
                    });
                }
                let mut spec = asset.clone();
                spec.deps.retain(|d| d != &upstream);
                Ok(vec![Op::Replace {
                    index,
                    spec: Box::new(spec),
                }])
            }
            Edit::MoveNodes { moves } => {
                let known: BTreeSet<&AssetKey> = project.assets.iter().map(|a| &a.key).collect();
                let mut ops = Vec::with_capacity(moves.len());
                for (key, pos) in moves {
                    if !known.contains(&key) {
                        return Err(EditError::UnknownAsset { key });
                    }
                    if project.layout.positions.get(&key) != Some(&pos) {
                        ops.push(Op::SetPosition {
                            key,
                            pos: Some(pos),
                        });
                    }
                }
                Ok(ops)
            }
            Edit::UpdateAsset { spec } => {
                let index = self.index_of(&spec.key)?;
                if project.assets[index] == *spec {
                    return Ok(Vec::new());
                }
                Ok(vec![Op::Replace { index, spec }])
            }
            Edit::SetResources { mut resources } => {
                resources.sort_by(|a, b| a.name.cmp(&b.name));
                if resources.iter().any(|r| r.name.trim().is_empty()) {
                    return Err(EditError::UnnamedResource);
                }
                if let Some(w) = resources.windows(2).find(|w| w[0].name == w[1].name) {
                    return Err(EditError::DuplicateResource {
                        name: w[0].name.clone(),
                    });
                }
                if resources == project.resources {
                    return Ok(Vec::new());
                }
                Ok(vec![Op::SetResources { resources }])
            }
            Edit::Batch { .. } => Err(EditError::Empty),
        }
    }

    fn plan_connect(
        &self,
        upstream: &AssetKey,
        downstream: &AssetKey,
    ) -> Result<Vec<Op>, EditError> {
        let up_index = self.index_of(upstream)?;
        let index = self.index_of(downstream)?;
        let (up, down) = (&self.project.assets[up_index], &self.project.assets[index]);
        if !down.layer.may_read(up.layer) {
            return Err(EditError::LayerRule {
                upstream: upstream.clone(),
                downstream: downstream.clone(),
                rule: down.layer.read_rule(),
            });
        }
        if let Some(path) = self.graph.would_cycle(upstream, downstream) {
            return Err(EditError::Cycle { path });
        }
        if down.deps.contains(upstream) {
            return Err(EditError::AlreadyConnected {
                upstream: upstream.clone(),
                downstream: downstream.clone(),
            });
        }
        let mut spec = down.clone();
        spec.deps.push(upstream.clone());
        // A transform with nothing written yet starts by reading what it was connected to.
        if let AssetDefinition::Transform(t) = &mut spec.definition
            && t.steps.is_empty()
            && t.sql.as_deref().is_none_or(|s| s.trim().is_empty())
        {
            t.sql = Some(format!("SELECT *\nFROM {}", quoted_name(upstream)));
        }
        Ok(vec![Op::Replace {
            index,
            spec: Box::new(spec),
        }])
    }

    fn plan_rename(&self, from: &AssetKey, to: &AssetKey) -> Result<Vec<Op>, EditError> {
        let index = self.index_of(from)?;
        if from == to {
            return Ok(Vec::new());
        }
        check_new_key(&self.project, to)?;
        let mut ops = Vec::new();
        for (i, asset) in self.project.assets.iter().enumerate() {
            let renamed = rename_references(asset, from, to, i == index);
            if let Some(spec) = renamed {
                ops.push(Op::Replace {
                    index: i,
                    spec: Box::new(spec),
                });
            }
        }
        if let Some(&pos) = self.project.layout.positions.get(from) {
            ops.push(Op::SetPosition {
                key: from.clone(),
                pos: None,
            });
            ops.push(Op::SetPosition {
                key: to.clone(),
                pos: Some(pos),
            });
        }
        let schedules = rename_in_schedules(&self.project.schedules, from, to);
        if schedules != self.project.schedules {
            ops.push(Op::SetSchedules { schedules });
        }
        Ok(ops)
    }
}

fn check_new_key(project: &Project, key: &AssetKey) -> Result<(), EditError> {
    if !key.is_well_formed() {
        return Err(EditError::InvalidKey { key: key.clone() });
    }
    if project.asset(key).is_some() {
        return Err(EditError::DuplicateKey { key: key.clone() });
    }
    Ok(())
}

fn quoted_name(key: &AssetKey) -> String {
    if super::asset::is_identifier(key.as_str()) {
        key.as_str().to_owned()
    } else {
        format!("\"{}\"", key.as_str())
    }
}

/// The asset with `from` renamed to `to` in its key (if `is_self`), deps and SQL; `None` if
/// nothing in it changes.
fn rename_references(
    asset: &AssetSpec,
    from: &AssetKey,
    to: &AssetKey,
    is_self: bool,
) -> Option<AssetSpec> {
    let mentions_dep = asset.deps.contains(from);
    let new_sql = asset
        .transform()
        .and_then(|t| t.sql.as_deref())
        .and_then(|s| sql::rename_table(s, from.as_str(), to.as_str()));
    if !is_self && !mentions_dep && new_sql.is_none() {
        return None;
    }
    let mut spec = asset.clone();
    if is_self {
        spec.key = to.clone();
    }
    for dep in &mut spec.deps {
        if dep == from {
            *dep = to.clone();
        }
    }
    if let (Some(text), AssetDefinition::Transform(t)) = (new_sql, &mut spec.definition) {
        t.sql = Some(text);
    }
    Some(spec)
}

fn rename_in_schedules(
    schedules: &[ScheduleDefinition],
    from: &AssetKey,
    to: &AssetKey,
) -> Vec<ScheduleDefinition> {
    schedules
        .iter()
        .map(|s| {
            let Ok(mut selection) = AssetSelection::parse(&s.selection) else {
                return s.clone();
            };
            let mut changed = false;
            for term in &mut selection.terms {
                if let SelectionTerm::Key { key, .. } = term
                    && key == from
                {
                    *key = to.clone();
                    changed = true;
                }
            }
            let mut s = s.clone();
            if changed {
                s.selection = selection.to_string();
            }
            s
        })
        .collect()
}

/// A key based on `base` that no asset of `project` uses: `base`, else `base_2`, `base_3`, …
pub fn unique_key(project: &Project, base: &str) -> AssetKey {
    let taken: BTreeSet<&str> = project.assets.iter().map(|a| a.key.as_str()).collect();
    unique_key_among(&taken, base)
}

fn unique_key_among(taken: &BTreeSet<&str>, base: &str) -> AssetKey {
    if !taken.contains(base) {
        return AssetKey::new(base);
    }
    // Strip an existing `_N` suffix so copies of `a_2` become `a_3`, not `a_2_2`.
    let stem = match base.rsplit_once('_') {
        Some((stem, n)) if !stem.is_empty() && n.parse::<u32>().is_ok() => stem,
        _ => base,
    };
    // At most `taken.len()` suffixes can be taken, so this range always holds a free one.
    (2..=taken.len() + 2)
        .map(|n| format!("{stem}_{n}"))
        .find(|k| !taken.contains(k.as_str()))
        .map_or_else(|| AssetKey::new(base), AssetKey::new)
}

/// One edit that adds copies of `specs` (with their positions moved by `offset`) under new
/// keys. Deps and SQL references among the copied assets point to the copies; references to
/// assets outside the copy stay as they are.
pub fn duplicate(
    project: &Project,
    specs: &[(AssetSpec, Option<CanvasPos>)],
    offset: CanvasPos,
) -> (Edit, Vec<AssetKey>) {
    let mut taken: BTreeSet<String> = project.assets.iter().map(|a| a.key.to_string()).collect();
    let mut renames: BTreeMap<AssetKey, AssetKey> = BTreeMap::new();
    for (spec, _) in specs {
        let new = {
            let borrowed: BTreeSet<&str> = taken.iter().map(String::as_str).collect();
            unique_key_among(&borrowed, spec.key.as_str())
        };
        taken.insert(new.to_string());
        renames.insert(spec.key.clone(), new);
    }
    let mut edits = Vec::with_capacity(specs.len());
    let mut keys = Vec::with_capacity(specs.len());
    for (spec, pos) in specs {
        let mut copy = spec.clone();
        for (from, to) in &renames {
            if let Some(renamed) = rename_references(&copy, from, to, &copy.key == from) {
                copy = renamed;
            }
        }
        keys.push(copy.key.clone());
        edits.push(Edit::AddAsset {
            spec: Box::new(copy),
            pos: pos.map(|p| CanvasPos {
                x: p.x + offset.x,
                y: p.y + offset.y,
            }),
        });
    }
    let label = match keys.as_slice() {
        [one] => format!("duplicate as {one}"),
        _ => format!("duplicate {} assets", keys.len()),
    };
    (Edit::Batch { label, edits }, keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::asset::{Layer, TransformSpec};
    use crate::model::synthetic;

    fn sql_asset(key: &str, layer: Layer, sql: &str) -> AssetSpec {
        let mut a = AssetSpec::new(key, layer);
        a.definition = AssetDefinition::Transform(TransformSpec {
            sql: Some(sql.to_owned()),
            steps: vec![],
        });
        a
    }

    fn example() -> Project {
        let mut p = Project::new("t");
        p.assets.push(AssetSpec::new("raw", Layer::Bronze));
        p.assets.push(AssetSpec::new("raw_b", Layer::Bronze));
        let mut clean = sql_asset("clean", Layer::Silver, "SELECT * FROM raw");
        clean.deps.push("raw".into());
        p.assets.push(clean);
        p.assets.push(sql_asset(
            "metric",
            Layer::Gold,
            "SELECT count(*) AS n FROM clean c WHERE c.raw > 0",
        ));
        p.schedules.push(ScheduleDefinition {
            name: "daily".into(),
            cron: "0 6 * * *".into(),
            selection: "+clean,layer:gold".into(),
            enabled: true,
        });
        for (i, a) in p.assets.iter().enumerate() {
            p.layout.positions.insert(
                a.key.clone(),
                CanvasPos {
                    x: i as f32,
                    y: 0.0,
                },
            );
        }
        p
    }

    /// Applies `edit`, then checks undo gives back the identical project and redo the edited one.
    fn round_trip(project: &Project, edit: Edit) -> Project {
        let mut doc = Document::new(project.clone());
        doc.apply(edit).unwrap();
        let edited = doc.project().clone();
        assert_ne!(&edited, project, "the edit changed nothing");
        assert!(doc.undo().is_some());
        assert_eq!(doc.project(), project, "undo did not restore the project");
        assert!(doc.redo().is_some());
        assert_eq!(doc.project(), &edited, "redo did not replay the edit");
        assert!(doc.undo().is_some());
        assert_eq!(doc.project(), project, "second undo differs");
        edited
    }

    #[test]
    fn add_asset_round_trips() {
        let p = example();
        let edited = round_trip(
            &p,
            Edit::AddAsset {
                spec: Box::new(AssetSpec::new("new_source", Layer::Bronze)),
                pos: Some(CanvasPos { x: 5.0, y: 6.0 }),
            },
        );
        assert!(edited.asset(&"new_source".into()).is_some());
        assert_eq!(
            edited.layout.positions[&AssetKey::new("new_source")],
            CanvasPos { x: 5.0, y: 6.0 }
        );
    }

    #[test]
    fn add_asset_refuses_bad_and_taken_keys() {
        let mut doc = Document::new(example());
        let err = doc
            .apply(Edit::AddAsset {
                spec: Box::new(AssetSpec::new("raw", Layer::Bronze)),
                pos: None,
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "an asset named `raw` already exists");
        let err = doc
            .apply(Edit::AddAsset {
                spec: Box::new(AssetSpec::new("1bad key", Layer::Bronze)),
                pos: None,
            })
            .unwrap_err();
        assert!(matches!(err, EditError::InvalidKey { .. }));
        assert!(!doc.can_undo());
    }

    #[test]
    fn remove_assets_round_trips_and_drops_deps() {
        let p = example();
        let edited = round_trip(
            &p,
            Edit::RemoveAssets {
                keys: vec!["raw".into(), "metric".into()],
            },
        );
        assert_eq!(edited.assets.len(), 2);
        assert!(edited.asset(&"clean".into()).unwrap().deps.is_empty());
        assert!(!edited.layout.positions.contains_key(&AssetKey::new("raw")));
    }

    #[test]
    fn rename_round_trips_and_updates_references() {
        let p = example();
        let edited = round_trip(
            &p,
            Edit::RenameAsset {
                from: "clean".into(),
                to: "clean_orders".into(),
            },
        );
        assert!(edited.asset(&"clean".into()).is_none());
        let metric = edited.asset(&"metric".into()).unwrap();
        assert_eq!(
            metric.transform().unwrap().sql.as_deref(),
            Some("SELECT count(*) AS n FROM clean_orders c WHERE c.raw > 0")
        );
        assert_eq!(edited.schedules[0].selection, "+clean_orders,layer:gold");
        assert!(
            edited
                .layout
                .positions
                .contains_key(&AssetKey::new("clean_orders"))
        );
        // Renaming `raw` rewrites the SQL table but not the qualified column `c.raw`.
        let edited = round_trip(
            &p,
            Edit::RenameAsset {
                from: "raw".into(),
                to: "raw_orders".into(),
            },
        );
        let clean = edited.asset(&"clean".into()).unwrap();
        assert_eq!(clean.deps, vec![AssetKey::new("raw_orders")]);
        assert_eq!(
            clean.transform().unwrap().sql.as_deref(),
            Some("SELECT * FROM raw_orders")
        );
        assert!(
            edited
                .asset(&"metric".into())
                .unwrap()
                .transform()
                .unwrap()
                .sql
                .as_deref()
                .unwrap()
                .contains("c.raw > 0")
        );
        assert_eq!(crate::model::validate(&edited), crate::model::validate(&p));
    }

    #[test]
    fn rename_refuses_a_taken_key() {
        let mut doc = Document::new(example());
        let err = doc
            .apply(Edit::RenameAsset {
                from: "clean".into(),
                to: "raw".into(),
            })
            .unwrap_err();
        assert_eq!(err, EditError::DuplicateKey { key: "raw".into() });
    }

    #[test]
    fn connect_round_trips_and_seeds_empty_sql() {
        let mut p = example();
        p.assets.push(AssetSpec::new("fresh", Layer::Silver));
        let edited = round_trip(
            &p,
            Edit::Connect {
                upstream: "raw_b".into(),
                downstream: "fresh".into(),
            },
        );
        let fresh = edited.asset(&"fresh".into()).unwrap();
        assert_eq!(fresh.deps, vec![AssetKey::new("raw_b")]);
        assert_eq!(
            fresh.transform().unwrap().sql.as_deref(),
            Some("SELECT *\nFROM raw_b")
        );
        // An asset with SQL only gains the dep.
        let edited = round_trip(
            &p,
            Edit::Connect {
                upstream: "raw_b".into(),
                downstream: "clean".into(),
            },
        );
        let clean = edited.asset(&"clean".into()).unwrap();
        assert_eq!(
            clean.transform().unwrap().sql.as_deref(),
            Some("SELECT * FROM raw")
        );
    }

    #[test]
    fn connect_refuses_cycles_and_layer_rules_with_a_reason() {
        let mut p = example();
        p.assets
            .push(sql_asset("s2", Layer::Silver, "SELECT * FROM clean"));
        let mut doc = Document::new(p.clone());
        let err = doc
            .apply(Edit::Connect {
                upstream: "s2".into(),
                downstream: "clean".into(),
            })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "this would close the dependency cycle clean → s2 → clean"
        );
        let err = doc
            .apply(Edit::Connect {
                upstream: "metric".into(),
                downstream: "clean".into(),
            })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`clean` cannot read `metric`: silver assets read bronze or silver assets"
        );
        let err = doc
            .apply(Edit::Connect {
                upstream: "raw".into(),
                downstream: "raw_b".into(),
            })
            .unwrap_err();
        assert!(
            err.to_string().contains("bronze assets are sources"),
            "{err}"
        );
        assert_eq!(doc.project(), &p);
        assert!(!doc.can_undo());
    }

    #[test]
    fn disconnect_round_trips_and_explains_sql_deps() {
        let p = example();
        let edited = round_trip(
            &p,
            Edit::Disconnect {
                upstream: "raw".into(),
                downstream: "clean".into(),
            },
        );
        assert!(edited.asset(&"clean".into()).unwrap().deps.is_empty());
        let mut doc = Document::new(p);
        let err = doc
            .apply(Edit::Disconnect {
                upstream: "clean".into(),
                downstream: "metric".into(),
            })
            .unwrap_err();
        assert!(matches!(err, EditError::ReadBySql { .. }), "{err}");
    }

    #[test]
    fn move_nodes_round_trips_and_is_not_structural() {
        let p = example();
        let mut doc = Document::new(p.clone());
        let before = doc.structure_revision();
        doc.apply(Edit::MoveNodes {
            moves: vec![
                ("raw".into(), CanvasPos { x: 10.0, y: 20.0 }),
                ("metric".into(), CanvasPos { x: 30.0, y: 40.0 }),
            ],
        })
        .unwrap();
        assert_eq!(doc.structure_revision(), before);
        assert_eq!(doc.undo_label(), Some("move 2 assets"));
        round_trip(
            &p,
            Edit::MoveNodes {
                moves: vec![("raw".into(), CanvasPos { x: 10.0, y: 20.0 })],
            },
        );
        assert!(matches!(
            doc.apply(Edit::MoveNodes {
                moves: vec![("ghost".into(), CanvasPos { x: 0.0, y: 0.0 })]
            }),
            Err(EditError::UnknownAsset { .. })
        ));
    }

    #[test]
    fn update_asset_round_trips() {
        let p = example();
        let mut spec = p.asset(&"metric".into()).unwrap().clone();
        spec.description = "Orders per day".into();
        spec.pii
            .insert("email".into(), crate::model::PiiKind::Email);
        let edited = round_trip(
            &p,
            Edit::UpdateAsset {
                spec: Box::new(spec),
            },
        );
        assert_eq!(
            edited.asset(&"metric".into()).unwrap().description,
            "Orders per day"
        );
    }

    #[test]
    fn update_asset_cannot_create_a_cycle_through_sql() {
        let p = example();
        let mut spec = p.asset(&"clean".into()).unwrap().clone();
        spec.layer = Layer::Gold;
        spec.definition = AssetDefinition::Transform(TransformSpec {
            sql: Some("SELECT * FROM metric".into()),
            steps: vec![],
        });
        let mut doc = Document::new(p.clone());
        let err = doc
            .apply(Edit::UpdateAsset {
                spec: Box::new(spec),
            })
            .unwrap_err();
        assert!(matches!(err, EditError::Cycle { .. }), "{err}");
        assert_eq!(doc.project(), &p);
    }

    #[test]
    fn coalesced_updates_undo_as_one() {
        let p = example();
        let mut doc = Document::new(p.clone());
        let mut spec = p.asset(&"metric".into()).unwrap().clone();
        for text in ["O", "Or", "Ord"] {
            spec.description = text.into();
            doc.apply_coalescing(
                Edit::UpdateAsset {
                    spec: Box::new(spec.clone()),
                },
                "metric:description",
            )
            .unwrap();
        }
        spec.owner = Some("ana".into());
        doc.apply_coalescing(
            Edit::UpdateAsset {
                spec: Box::new(spec),
            },
            "metric:owner",
        )
        .unwrap();
        doc.undo().unwrap();
        assert_eq!(
            doc.project().asset(&"metric".into()).unwrap().description,
            "Ord"
        );
        doc.undo().unwrap();
        assert_eq!(doc.project(), &p);
        assert!(!doc.can_undo());
    }

    #[test]
    fn batch_is_all_or_nothing_and_round_trips() {
        let p = example();
        let edited = round_trip(
            &p,
            Edit::Batch {
                label: "two".into(),
                edits: vec![
                    Edit::AddAsset {
                        spec: Box::new(AssetSpec::new("s3", Layer::Silver)),
                        pos: None,
                    },
                    Edit::Connect {
                        upstream: "raw".into(),
                        downstream: "s3".into(),
                    },
                ],
            },
        );
        assert_eq!(
            edited.asset(&"s3".into()).unwrap().deps,
            vec![AssetKey::new("raw")]
        );
        let mut doc = Document::new(p.clone());
        let err = doc
            .apply(Edit::Batch {
                label: "bad".into(),
                edits: vec![
                    Edit::RemoveAssets {
                        keys: vec!["metric".into()],
                    },
                    Edit::Connect {
                        upstream: "clean".into(),
                        downstream: "raw".into(),
                    },
                ],
            })
            .unwrap_err();
        assert!(matches!(err, EditError::LayerRule { .. }));
        assert_eq!(doc.project(), &p);
    }

    #[test]
    fn duplicate_remaps_internal_references() {
        let p = example();
        let specs: Vec<(AssetSpec, Option<CanvasPos>)> = ["clean", "metric"]
            .iter()
            .map(|k| {
                let key = AssetKey::new(*k);
                (
                    p.asset(&key).unwrap().clone(),
                    p.layout.positions.get(&key).copied(),
                )
            })
            .collect();
        let (edit, keys) = duplicate(&p, &specs, CanvasPos { x: 0.0, y: 100.0 });
        assert_eq!(
            keys,
            vec![AssetKey::new("clean_2"), AssetKey::new("metric_2")]
        );
        let edited = round_trip(&p, edit);
        let copy = edited.asset(&"metric_2".into()).unwrap();
        assert!(
            copy.transform()
                .unwrap()
                .sql
                .as_deref()
                .unwrap()
                .contains("FROM clean_2 c")
        );
        // External upstream stays.
        assert_eq!(
            edited.asset(&"clean_2".into()).unwrap().deps,
            vec![AssetKey::new("raw")]
        );
        assert_eq!(crate::model::validate(&edited), vec![]);
    }

    #[test]
    fn undo_history_is_bounded_and_redo_clears_on_new_edit() {
        let mut doc = Document::new(example());
        for i in 0..(UNDO_LIMIT + 5) {
            doc.apply(Edit::MoveNodes {
                moves: vec![(
                    "raw".into(),
                    CanvasPos {
                        x: i as f32,
                        y: 1.0,
                    },
                )],
            })
            .unwrap();
        }
        let mut undone = 0;
        while doc.undo().is_some() {
            undone += 1;
        }
        assert_eq!(undone, UNDO_LIMIT);
        assert!(doc.can_redo());
        doc.apply(Edit::MoveNodes {
            moves: vec![("raw".into(), CanvasPos { x: -1.0, y: 1.0 })],
        })
        .unwrap();
        assert!(!doc.can_redo());
    }

    #[test]
    fn edits_on_a_large_project_round_trip() {
        let p = synthetic::generate("big", 300, 3);
        let victim = p.assets[100].key.clone();
        round_trip(
            &p,
            Edit::RemoveAssets {
                keys: vec![victim.clone()],
            },
        );
        round_trip(
            &p,
            Edit::RenameAsset {
                from: victim,
                to: "renamed".into(),
            },
        );
    }
}
