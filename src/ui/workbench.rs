//! State of the workbench under the canvas (preview, run, history, asset details, quality) and
//! of the launch dialog. Plain data: panels draw it, the studio's `logic` fills it from job
//! events.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::app::run::{AssetHistory, MaterializeRequest, PlannedStep, Preview};
use crate::model::{AssetKey, LogLevel, Project, RunRecord};

/// Rows a preview asks for; the table is virtualized, so only visible rows are laid out.
pub const PREVIEW_LIMIT: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkbenchTab {
    #[default]
    Preview,
    Run,
    History,
    AssetDetails,
    Quality,
}

impl WorkbenchTab {
    pub const ALL: [WorkbenchTab; 5] = [
        WorkbenchTab::Preview,
        WorkbenchTab::Run,
        WorkbenchTab::History,
        WorkbenchTab::AssetDetails,
        WorkbenchTab::Quality,
    ];

    pub fn label(self) -> &'static str {
        match self {
            WorkbenchTab::Preview => "Data preview",
            WorkbenchTab::Run => "Run",
            WorkbenchTab::History => "Run history",
            WorkbenchTab::AssetDetails => "Asset details",
            WorkbenchTab::Quality => "Quality report",
        }
    }
}

#[derive(Debug, Default)]
pub struct PreviewState {
    pub asset: Option<AssetKey>,
    pub loading: Option<Instant>,
    pub data: Option<Box<Preview>>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LaunchScope {
    #[default]
    Selected,
    WithUpstream,
    All,
}

impl LaunchScope {
    pub fn label(self) -> &'static str {
        match self {
            LaunchScope::Selected => "Selected",
            LaunchScope::WithUpstream => "Selected with upstream",
            LaunchScope::All => "All assets",
        }
    }
}

/// The launch dialog's choices and the plan computed for them.
#[derive(Debug, Default)]
pub struct LaunchState {
    pub scope: LaunchScope,
    /// A partition key, or the first of a range.
    pub from: String,
    /// The last partition of a range (empty for one partition).
    pub to: String,
    pub force: bool,
    /// The request the shown plan is for (to know when to ask again).
    pub planned_for: Option<String>,
    pub plan_id: u64,
    pub plan: Option<Result<Vec<PlannedStep>, String>>,
}

impl LaunchState {
    /// The selection syntax for the chosen scope.
    pub fn selection(&self, selected: &BTreeSet<AssetKey>) -> Result<String, String> {
        if self.scope == LaunchScope::All {
            return Ok("*".to_owned());
        }
        if selected.is_empty() {
            return Err("Select assets on the canvas, or choose all assets".to_owned());
        }
        let prefix = if self.scope == LaunchScope::WithUpstream {
            "+"
        } else {
            ""
        };
        Ok(selected
            .iter()
            .map(|k| format!("{prefix}{k}"))
            .collect::<Vec<_>>()
            .join(","))
    }

    /// Whether any asset the scope covers is partitioned (the dialog then asks for partitions).
    pub fn needs_partition(&self, project: &Project, selected: &BTreeSet<AssetKey>) -> bool {
        let Ok(selection) = self.selection(selected) else {
            return false;
        };
        crate::app::run::resolve_selection(project, &selection).is_ok_and(|keys| {
            keys.iter()
                .filter_map(|k| project.asset(k))
                .any(|a| a.partitions.is_partitioned())
        })
    }

    /// The request the dialog describes, or what is wrong with it.
    pub fn request(
        &self,
        project: &Project,
        selected: &BTreeSet<AssetKey>,
    ) -> Result<MaterializeRequest, String> {
        let selection = self.selection(selected)?;
        let keys = crate::app::run::resolve_selection(project, &selection)
            .map_err(|e| format!("{e:#}"))?;
        let (from, to) = (self.from.trim(), self.to.trim());
        let partitions = if from.is_empty() {
            Vec::new()
        } else if to.is_empty() || to == from {
            vec![Some(from.to_owned())]
        } else {
            crate::app::run::partition_range(project, &keys, from, to)
                .map_err(|e| format!("{e:#}"))?
                .into_iter()
                .map(Some)
                .collect()
        };
        Ok(MaterializeRequest {
            selection,
            partitions,
            force: self.force,
            trigger: "studio".to_owned(),
        })
    }
}

/// Filters of the run log.
#[derive(Debug, Clone)]
pub struct LogFilter {
    pub min_level: LogLevel,
    pub asset: Option<AssetKey>,
    pub search: String,
    /// Keep the newest line in view.
    pub follow: bool,
}

impl Default for LogFilter {
    fn default() -> Self {
        Self {
            min_level: LogLevel::Info,
            asset: None,
            search: String::new(),
            follow: true,
        }
    }
}

#[derive(Debug)]
pub struct Workbench {
    pub open: bool,
    pub tab: WorkbenchTab,
    pub preview: PreviewState,
    pub launch: Option<LaunchState>,
    pub history: Vec<RunRecord>,
    pub history_loading: bool,
    pub asset_history: Option<Box<AssetHistory>>,
    pub asset_requested: Option<AssetKey>,
    pub log_filter: LogFilter,
    /// The check whose failing rows are shown (index into the run's checks).
    pub selected_check: Option<usize>,
    pub height: f32,
}

impl Default for Workbench {
    fn default() -> Self {
        Self {
            open: true,
            tab: WorkbenchTab::default(),
            preview: PreviewState::default(),
            launch: None,
            history: Vec::new(),
            history_loading: false,
            asset_history: None,
            asset_requested: None,
            log_filter: LogFilter::default(),
            selected_check: None,
            height: 300.0,
        }
    }
}
