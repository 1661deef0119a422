//! A project: a named set of assets, the resources they use, schedules and sensors, and the
//! canvas layout.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::alert::AlertSettings;
use super::asset::{AssetKey, AssetSpec};
pub use super::automation::{ScheduleDefinition, SensorDefinition};
use super::resource::Resource;
use super::retention::RunRetention;

/// A pipeline project. Canvas positions live in `layout`, apart from the asset specs, so moving a
/// node never changes a definition.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Project {
    pub name: String,
    pub description: String,
    pub assets: Vec<AssetSpec>,
    pub resources: Vec<Resource>,
    pub schedules: Vec<ScheduleDefinition>,
    #[serde(default)]
    pub sensors: Vec<SensorDefinition>,
    /// Alert targets and rules (`[alert_targets.*]`, `[alert_rules.*]`).
    pub alerts: AlertSettings,
    /// How long run history is kept (`[retention]`).
    #[serde(default)]
    pub retention: RunRetention,
    /// Masking policies bound to PII tags (`[masking.email]`).
    #[serde(default)]
    pub masking: super::masking::MaskingPolicies,
    pub layout: CanvasLayout,
}

impl Project {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    pub fn asset(&self, key: &AssetKey) -> Option<&AssetSpec> {
        self.assets.iter().find(|a| &a.key == key)
    }

    pub fn asset_mut(&mut self, key: &AssetKey) -> Option<&mut AssetSpec> {
        self.assets.iter_mut().find(|a| &a.key == key)
    }

    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name == name)
    }

    /// Puts assets, resources and schedules in key order, the canonical order of files and
    /// the workspace.
    pub fn sort(&mut self) {
        self.assets.sort_by(|a, b| a.key.cmp(&b.key));
        self.resources.sort_by(|a, b| a.name.cmp(&b.name));
        self.schedules.sort_by(|a, b| a.name.cmp(&b.name));
        self.sensors.sort_by(|a, b| a.name.cmp(&b.name));
        self.alerts.sort();
    }
}

/// A point on the canvas, in canvas units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CanvasPos {
    pub x: f32,
    pub y: f32,
}

/// Canvas positions by asset. An asset without a position is placed by auto-layout.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CanvasLayout {
    pub positions: BTreeMap<AssetKey, CanvasPos>,
}
