//! The primitive operations every edit is planned as, each returning its exact inverse when
//! applied — which is what makes undo and redo exact.

use crate::model::alert::AlertSettings;
use crate::model::asset::{AssetKey, AssetSpec};
use crate::model::project::{CanvasPos, Project, ScheduleDefinition};
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
}

impl Op {
    pub(super) fn is_structural(&self) -> bool {
        !matches!(self, Op::SetPosition { .. })
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
        }
    }
}
