//! State of the workbench under the canvas (preview, run, history, asset details, quality) and
//! of the launch dialog. Plain data: panels draw it, the studio's `logic` fills it from job
//! events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::app::AppError;
use crate::app::jobs::JobError;
use crate::app::plan::PlanReport;
use crate::app::remote::{PlannedRemoteStep, SetupCheck, SubmitRequest};
use crate::app::run::{AssetHistory, MaterializeRequest, PlannedStep, Preview};
use crate::model::{AssetKey, ComputeTier, LogLevel, PartitionsDefinition, Project, RunRecord};

/// Rows a preview asks for; the table is virtualized (only visible rows are laid out) and the
/// cells are kept compactly as text, so a million rows scroll like ten.
pub const PREVIEW_LIMIT: usize = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkbenchTab {
    #[default]
    Preview,
    Run,
    History,
    AssetDetails,
    Quality,
    Partitions,
}

impl WorkbenchTab {
    pub const ALL: [WorkbenchTab; 6] = [
        WorkbenchTab::Preview,
        WorkbenchTab::Run,
        WorkbenchTab::History,
        WorkbenchTab::AssetDetails,
        WorkbenchTab::Quality,
        WorkbenchTab::Partitions,
    ];

    pub fn label(self) -> &'static str {
        match self {
            WorkbenchTab::Preview => "Data preview",
            WorkbenchTab::Run => "Run",
            WorkbenchTab::History => "Run history",
            WorkbenchTab::AssetDetails => "Asset details",
            WorkbenchTab::Quality => "Quality report",
            WorkbenchTab::Partitions => "Partitions",
        }
    }
}

#[derive(Debug, Default)]
pub struct PreviewState {
    pub asset: Option<AssetKey>,
    pub loading: Option<Instant>,
    pub data: Option<Box<Preview>>,
    pub error: Option<String>,
    /// The preview asked for is unmasked (after "Show unmasked" was confirmed).
    pub unmasked: bool,
    /// "Show unmasked…" was pressed and waits for its confirmation.
    pub confirm_unmasked: bool,
    /// The asset's definition when the preview was asked for: a rename is followed, a change
    /// previews again.
    pub spec: Option<crate::model::AssetSpec>,
    /// The asset was deleted after it was previewed.
    pub deleted: bool,
    /// The preview is of the asset's stored data along its edge to this downstream asset
    /// (`None`: the asset computed now).
    pub along: Option<AssetKey>,
    /// The rows' sort, filter and open cell.
    pub table: crate::ui::panels::preview::PreviewTable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LaunchScope {
    #[default]
    Selected,
    WithUpstream,
    WithDownstream,
    All,
}

impl LaunchScope {
    pub fn label(self) -> &'static str {
        match self {
            LaunchScope::Selected => "Selected",
            LaunchScope::WithUpstream => "Selected with upstream",
            LaunchScope::WithDownstream => "Selected with downstream",
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
    /// Build downstream assets even from upstream data that failed a blocking check.
    pub allow_failed_upstream: bool,
    /// Run the unit tests of the assets in scope first; refuse to launch when one fails.
    pub test_first: bool,
    /// The request the shown plan is for (to know when to ask again).
    pub planned_for: Option<String>,
    pub plan_id: u64,
    pub plan: Option<Result<Vec<PlannedStep>, LaunchProblem>>,
    /// The partitions of the assets in scope (refreshed with the plan).
    pub partitions: Option<PartitionsDefinition>,
    /// Where each asset would run and what it would cost (from the job worker).
    pub compute: Option<Result<Box<PlanReport>, LaunchProblem>>,
    pub compute_id: u64,
    /// What the shown compute plan was asked for (choices, overrides, prices).
    pub compute_for: Option<String>,
    /// Tiers the user picked per asset in the dialog; they beat hints and the planner.
    pub overrides: BTreeMap<AssetKey, ComputeTier>,
    /// Launch on AWS (each step on its tier) instead of locally.
    pub on_aws: bool,
    /// The remote steps shown: the steps of the plan in `compute` (from the job worker).
    pub aws_plan: Option<Result<Vec<PlannedRemoteStep>, LaunchProblem>>,
    /// The last "Check AWS setup" answer.
    pub aws_setup: Option<Result<Vec<SetupCheck>, LaunchProblem>>,
    pub aws_checking: bool,
}

/// Why the launch dialog has no plan or request: its choices, or what the app answered (a
/// refused selection or partition range, a plan that failed). Shown as its sentence.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LaunchProblem {
    #[error("Select assets on the canvas, or choose all assets")]
    NothingSelected,
    #[error(transparent)]
    App(JobError),
}

impl From<AppError> for LaunchProblem {
    fn from(e: AppError) -> Self {
        LaunchProblem::App(JobError::new(e))
    }
}

impl LaunchState {
    /// The unit tests of the assets in scope (none when the scope does not resolve).
    pub fn unit_tests_in_scope(&self, project: &Project, selected: &BTreeSet<AssetKey>) -> usize {
        self.selection(selected)
            .ok()
            .and_then(|s| crate::app::run::resolve_selection(project, &s).ok())
            .map_or(0, |keys| {
                keys.iter()
                    .filter_map(|k| project.asset(k))
                    .map(|a| a.tests.len())
                    .sum()
            })
    }

    /// The selection syntax for the chosen scope.
    pub fn selection(&self, selected: &BTreeSet<AssetKey>) -> Result<String, LaunchProblem> {
        if self.scope == LaunchScope::All {
            return Ok("*".to_owned());
        }
        if selected.is_empty() {
            return Err(LaunchProblem::NothingSelected);
        }
        let (prefix, suffix) = match self.scope {
            LaunchScope::WithUpstream => ("+", ""),
            LaunchScope::WithDownstream => ("", "+"),
            LaunchScope::Selected | LaunchScope::All => ("", ""),
        };
        Ok(selected
            .iter()
            .map(|k| format!("{prefix}{k}{suffix}"))
            .collect::<Vec<_>>()
            .join(","))
    }

    /// The partitions definition of the first partitioned asset the scope covers, if any (the
    /// dialog then asks for partitions).
    pub fn partitions_of(
        &self,
        project: &Project,
        selected: &BTreeSet<AssetKey>,
    ) -> Option<PartitionsDefinition> {
        let selection = self.selection(selected).ok()?;
        let keys = crate::app::run::resolve_selection(project, &selection).ok()?;
        keys.iter()
            .filter_map(|k| project.asset(k))
            .map(|a| &a.partitions)
            .find(|p| p.is_partitioned())
            .cloned()
    }

    /// What the shown plan depends on: when it changes, the plan is asked for again.
    pub fn plan_key(&self, selected: &BTreeSet<AssetKey>, revision: u64) -> String {
        format!(
            "{:?}|{}|{}|{}|{}|{selected:?}|{revision}",
            self.scope, self.from, self.to, self.force, self.allow_failed_upstream
        )
    }

    /// The request the dialog describes, or what is wrong with it.
    pub fn request(
        &self,
        project: &Project,
        selected: &BTreeSet<AssetKey>,
    ) -> Result<MaterializeRequest, LaunchProblem> {
        let selection = self.selection(selected)?;
        let keys = crate::app::run::resolve_selection(project, &selection)?;
        let (from, to) = (self.from.trim(), self.to.trim());
        let partitions = if from.is_empty() {
            Vec::new()
        } else if to.is_empty() || to == from {
            vec![Some(from.to_owned())]
        } else {
            crate::app::run::partition_range(project, &keys, from, to)?
                .into_iter()
                .map(Some)
                .collect()
        };
        Ok(MaterializeRequest {
            selection,
            partitions,
            force: self.force,
            trigger: "studio".to_owned(),
            allow_failed_upstream: self.allow_failed_upstream,
            checks_only: false,
        })
    }
}

impl LaunchState {
    /// The remote run the dialog describes, or what is wrong with it.
    pub fn remote_request(
        &self,
        project: &Project,
        selected: &BTreeSet<AssetKey>,
    ) -> Result<SubmitRequest, LaunchProblem> {
        let local = self.request(project, selected)?;
        Ok(SubmitRequest {
            selection: local.selection,
            partitions: local.partitions.into_iter().flatten().collect(),
            force: local.force,
            tier: None,
            overrides: self.overrides.clone(),
            aws_resource: None,
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

impl LogFilter {
    /// Whether a log line passes the level, asset and search filters (`needle` is the search
    /// text lower-cased once per frame).
    pub fn matches(&self, line: &crate::ui::runs::LogLine, needle: &str) -> bool {
        line.level >= self.min_level
            && self
                .asset
                .as_ref()
                .is_none_or(|a| line.asset.as_ref() == Some(a))
            && (needle.is_empty() || line.lower.contains(needle))
    }
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
pub struct WorkbenchState {
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
    /// The partition strip of the selected partitioned asset.
    pub partitions: crate::ui::panels::partitions::PartitionsView,
}

impl Default for WorkbenchState {
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
            partitions: crate::ui::panels::partitions::PartitionsView::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AssetSpec, Layer};

    fn project() -> Project {
        let mut project = Project::new("p");
        let mut daily = AssetSpec::new("events", Layer::Bronze);
        daily.partitions = PartitionsDefinition::Daily {
            start: "2024-01-01".into(),
            end: None,
        };
        project.assets.push(daily);
        project.assets.push(AssetSpec::new("plain", Layer::Bronze));
        project
    }

    #[test]
    fn the_launch_request_follows_scope_partitions_and_force() {
        let project = project();
        let events: BTreeSet<AssetKey> = [AssetKey::new("events")].into();
        let plain: BTreeSet<AssetKey> = [AssetKey::new("plain")].into();
        let mut launch = LaunchState::default();
        assert!(launch.partitions_of(&project, &events).is_some());
        assert!(launch.partitions_of(&project, &plain).is_none());
        assert!(launch.request(&project, &BTreeSet::new()).is_err());

        launch.from = "2024-01-30".into();
        launch.to = "2024-02-02".into();
        launch.force = true;
        let request = launch.request(&project, &events).unwrap();
        assert_eq!(request.selection, "events");
        assert!(request.force);
        assert_eq!(request.partitions.len(), 4);
        assert_eq!(request.partitions[3].as_deref(), Some("2024-02-02"));

        launch.scope = LaunchScope::WithUpstream;
        launch.to.clear();
        let request = launch.request(&project, &events).unwrap();
        assert_eq!(request.selection, "+events");
        assert_eq!(request.partitions, vec![Some("2024-01-30".to_owned())]);

        launch.to = "2024-01-01".into();
        let error = launch.request(&project, &events).unwrap_err();
        assert!(
            error.to_string().contains("ends before it starts"),
            "{error}"
        );

        launch.scope = LaunchScope::All;
        launch.from.clear();
        assert_eq!(launch.request(&project, &plain).unwrap().selection, "*");
    }

    #[test]
    fn the_log_filter_combines_level_asset_and_search() {
        let line = |level, asset: Option<&str>, text: &str| crate::ui::runs::LogLine {
            level,
            asset: asset.map(AssetKey::new),
            text: text.to_owned(),
            lower: text.to_lowercase(),
        };
        let lines = [
            line(LogLevel::Debug, Some("a"), "a: 10 rows"),
            line(LogLevel::Info, Some("a"), "a: started"),
            line(LogLevel::Error, Some("b"), "b: check Unique FAILED"),
            line(LogLevel::Info, None, "run started"),
        ];
        let count = |f: &LogFilter| {
            let needle = f.search.to_lowercase();
            lines.iter().filter(|l| f.matches(l, &needle)).count()
        };
        let mut filter = LogFilter::default();
        assert_eq!(count(&filter), 3, "info and above");
        filter.min_level = LogLevel::Debug;
        assert_eq!(count(&filter), 4);
        filter.asset = Some(AssetKey::new("a"));
        assert_eq!(count(&filter), 2);
        filter.asset = None;
        filter.search = "unique".into();
        assert_eq!(count(&filter), 1, "search ignores case");
        filter.min_level = LogLevel::Error;
        filter.search.clear();
        assert_eq!(count(&filter), 1);
    }
}
