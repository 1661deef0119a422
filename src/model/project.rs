//! A project: a named set of assets, the resources they use, schedules and sensors, and the
//! canvas layout.

use std::collections::{BTreeMap, BTreeSet};

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

/// Canvas positions by asset (an asset without a position is placed by auto-layout), the
/// asset groups drawn as one card, and the free-text notes on the canvas. Kept with the
/// project (`layout.toml`, the workspace) so a team shares them through git.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CanvasLayout {
    pub positions: BTreeMap<AssetKey, CanvasPos>,
    /// Groups (the assets' `group`) collapsed into one card on the canvas.
    #[serde(default)]
    pub collapsed_groups: BTreeSet<String>,
    /// Notes on the canvas by id (`note_1`, …).
    #[serde(default)]
    pub notes: BTreeMap<String, CanvasNote>,
}

/// A free-text note on the canvas: its text, with its top-left corner at `pos`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanvasNote {
    pub pos: CanvasPos,
    pub text: String,
}

impl CanvasLayout {
    /// A note id not used yet: `note_1`, `note_2`, …
    pub fn new_note_id(&self) -> String {
        // One more than there are notes: some number up to that is free.
        (1..=self.notes.len() + 1)
            .map(|i| format!("note_{i}"))
            .find(|id| !self.notes.contains_key(id))
            .unwrap_or_default()
    }
}
