//! The primitive operations every edit is planned as, each returning its exact inverse when
//! applied — which is what makes undo and redo exact.

use crate::model::alert::AlertSettings;
use crate::model::asset::{AssetKey, AssetSpec};
use crate::model::project::{CanvasNote, CanvasPos, Project, ScheduleDefinition};
use crate::model::resource::Resource;

/// A primitive change to a project. Applying one returns the operation that undoes it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Op {
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
    SetAlerts {
        alerts: AlertSettings,
    },
    /// Collapse (or expand) an asset group on the canvas.
    SetCollapsed {
        group: String,
        collapsed: bool,
    },
    /// Add, replace or (with `None`) remove a canvas note.
    SetNote {
        id: String,
        note: Option<CanvasNote>,
    },
}

impl Op {
    pub(super) fn is_structural(&self) -> bool {
        !matches!(
            self,
            Op::SetPosition { .. } | Op::SetCollapsed { .. } | Op::SetNote { .. }
        )
    }

    /// Applies the operation and returns its inverse. Operations are planned against the
    /// project they apply to, so indices are in range; an out-of-range index does nothing.
    pub(super) fn apply(self, project: &mut Project) -> Op {
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
            Op::SetAlerts { alerts } => Op::SetAlerts {
                alerts: std::mem::replace(&mut project.alerts, alerts),
            },
            Op::SetCollapsed { group, collapsed } => {
                let groups = &mut project.layout.collapsed_groups;
                let was = if collapsed {
                    !groups.insert(group.clone())
                } else {
                    groups.remove(&group)
                };
                Op::SetCollapsed {
                    group,
                    collapsed: was,
                }
            }
            Op::SetNote { id, note } => {
                let old = match note {
                    Some(n) => project.layout.notes.insert(id.clone(), n),
                    None => project.layout.notes.remove(&id),
                };
                Op::SetNote { id, note: old }
            }
        }
    }
}
