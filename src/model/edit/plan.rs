//! Planning: an [`Edit`] becomes primitive operations against the current project, or is
//! refused with the reason.

use std::collections::BTreeSet;

use super::op::Op;
use super::{Document, Edit, EditError};
use crate::model::alert::AlertSettings;
use crate::model::asset::{AssetDefinition, AssetKey, AssetSpec};
use crate::model::project::{CanvasNote, CanvasPos, Project, ScheduleDefinition};
use crate::model::resource::Resource;
use crate::model::selection::{AssetSelection, SelectionTerm};

impl Document {
    pub(super) fn index_of(&self, key: &AssetKey) -> Result<usize, EditError> {
        self.project
            .assets
            .iter()
            .position(|a| &a.key == key)
            .ok_or_else(|| EditError::UnknownAsset { key: key.clone() })
    }

    /// Turns an edit (not a batch) into operations, refusing it with a reason if it is not
    /// allowed on the current project.
    pub(super) fn plan(&self, edit: Edit) -> Result<Vec<Op>, EditError> {
        let project = &self.project;
        match edit {
            Edit::AddAsset { spec, pos } => plan_add(project, spec, pos),
            Edit::RemoveAssets { keys } => self.plan_remove(&keys),
            Edit::RenameAsset { from, to } => self.plan_rename(&from, &to),
            Edit::Connect {
                upstream,
                downstream,
            } => self.plan_connect(&upstream, &downstream),
            Edit::Disconnect {
                upstream,
                downstream,
            } => self.plan_disconnect(upstream, downstream),
            Edit::MoveNodes { moves } => plan_moves(project, moves),
            Edit::UpdateAsset { spec } => {
                let index = self.index_of(&spec.key)?;
                if project.assets[index] == *spec {
                    return Ok(Vec::new());
                }
                Ok(vec![Op::Replace { index, spec }])
            }
            Edit::SetResources { resources } => plan_resources(project, resources),
            Edit::SetAlerts { alerts } => plan_alerts(project, alerts),
            Edit::SetGroupsCollapsed { groups, collapsed } => {
                plan_collapse(project, groups, collapsed)
            }
            Edit::AddNote { id, note } => {
                if project.layout.notes.contains_key(&id) {
                    return Err(EditError::DuplicateNote { id });
                }
                Ok(vec![Op::SetNote {
                    id,
                    note: Some(note),
                }])
            }
            Edit::EditNote { id, text } => {
                let note = existing_note(project, &id)?;
                if note.text == text {
                    return Ok(Vec::new());
                }
                let note = CanvasNote {
                    text,
                    ..note.clone()
                };
                Ok(vec![Op::SetNote {
                    id,
                    note: Some(note),
                }])
            }
            Edit::MoveNote { id, pos } => {
                let note = existing_note(project, &id)?;
                if note.pos == pos {
                    return Ok(Vec::new());
                }
                let note = CanvasNote {
                    pos,
                    ..note.clone()
                };
                Ok(vec![Op::SetNote {
                    id,
                    note: Some(note),
                }])
            }
            Edit::RemoveNote { id } => {
                existing_note(project, &id)?;
                Ok(vec![Op::SetNote { id, note: None }])
            }
            Edit::Batch { .. } => Err(EditError::Empty),
        }
    }

    /// Removes the assets, their positions, and every dependency on them.
    fn plan_remove(&self, keys: &[AssetKey]) -> Result<Vec<Op>, EditError> {
        let project = &self.project;
        let doomed: BTreeSet<&AssetKey> = keys.iter().collect();
        let mut indices = Vec::new();
        for key in &doomed {
            indices.push(self.index_of(key)?);
        }
        let mut ops = Vec::new();
        for (i, asset) in project.assets.iter().enumerate() {
            if doomed.contains(&asset.key) || !asset.deps.iter().any(|d| doomed.contains(d)) {
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

    /// Removes a declared dependency; one the SQL reads cannot be removed here.
    fn plan_disconnect(
        &self,
        upstream: AssetKey,
        downstream: AssetKey,
    ) -> Result<Vec<Op>, EditError> {
        let project = &self.project;
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
    if crate::model::asset::is_identifier(key.as_str()) {
        key.as_str().to_owned()
    } else {
        format!("\"{}\"", key.as_str())
    }
}

/// The asset with `from` renamed to `to` in its key (if `is_self`), deps, SQL and the given
/// rows of its unit tests; `None` if nothing in it changes.
pub(super) fn rename_references(
    asset: &AssetSpec,
    from: &AssetKey,
    to: &AssetKey,
    is_self: bool,
) -> Option<AssetSpec> {
    let mentions_dep = asset.deps.contains(from);
    let new_sql = asset
        .transform()
        .and_then(|t| t.sql.as_deref())
        .and_then(|s| crate::model::sql::rename_table(s, from.as_str(), to.as_str()));
    let mentions_test = asset.tests.iter().any(|t| t.given.contains_key(from));
    if !is_self && !mentions_dep && new_sql.is_none() && !mentions_test {
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
    for test in &mut spec.tests {
        if let Some(rows) = test.given.remove(from) {
            test.given.insert(to.clone(), rows);
        }
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

/// Inserts the asset at the end, with its position when one is given.
fn plan_add(
    project: &Project,
    spec: Box<AssetSpec>,
    pos: Option<CanvasPos>,
) -> Result<Vec<Op>, EditError> {
    check_new_key(project, &spec.key)?;
    let key = spec.key.clone();
    let mut ops = vec![Op::Insert {
        index: project.assets.len(),
        spec,
    }];
    if pos.is_some() {
        ops.push(Op::SetPosition { key, pos });
    }
    Ok(ops)
}

/// Moves the nodes whose position changes; an unknown key refuses the whole move.
fn plan_moves(project: &Project, moves: Vec<(AssetKey, CanvasPos)>) -> Result<Vec<Op>, EditError> {
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

/// Replaces the resources, sorted by name; unnamed or duplicate names are refused.
fn plan_resources(project: &Project, mut resources: Vec<Resource>) -> Result<Vec<Op>, EditError> {
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

/// Replaces the alert targets and rules, sorted; unnamed or duplicate names are refused.
fn plan_alerts(project: &Project, mut alerts: AlertSettings) -> Result<Vec<Op>, EditError> {
    alerts.sort();
    let names = |v: Vec<&str>| v.windows(2).find(|w| w[0] == w[1]).map(|w| w[0].to_owned());
    let duplicate = names(alerts.targets.iter().map(|t| t.name.as_str()).collect())
        .or_else(|| names(alerts.rules.iter().map(|r| r.name.as_str()).collect()));
    if let Some(name) = duplicate {
        return Err(EditError::DuplicateAlert { name });
    }
    if alerts.targets.iter().any(|t| t.name.trim().is_empty())
        || alerts.rules.iter().any(|r| r.name.trim().is_empty())
    {
        return Err(EditError::UnnamedAlert);
    }
    if alerts == project.alerts {
        return Ok(Vec::new());
    }
    Ok(vec![Op::SetAlerts { alerts }])
}

fn existing_note<'a>(project: &'a Project, id: &str) -> Result<&'a CanvasNote, EditError> {
    project
        .layout
        .notes
        .get(id)
        .ok_or_else(|| EditError::UnknownNote { id: id.to_owned() })
}

/// Collapses or expands the groups whose state changes; a group no asset belongs to is refused.
fn plan_collapse(
    project: &Project,
    groups: Vec<String>,
    collapsed: bool,
) -> Result<Vec<Op>, EditError> {
    let mut ops = Vec::new();
    for group in groups.into_iter().collect::<BTreeSet<_>>() {
        if !project
            .assets
            .iter()
            .any(|a| a.group.as_deref() == Some(group.as_str()))
        {
            return Err(EditError::UnknownGroup { group });
        }
        if project.layout.collapsed_groups.contains(&group) != collapsed {
            ops.push(Op::SetCollapsed { group, collapsed });
        }
    }
    Ok(ops)
}
