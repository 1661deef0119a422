//! The parts of [`super::Studio`]'s state, grouped by what they are for: saving the document,
//! validating it, the windows that may be open, what the frame queued, the workspace's view of
//! each asset, the open workspace itself and the selection query. Plain data: `Studio`'s
//! methods change it, panels draw it.

use std::collections::HashMap;
use std::time::Instant;

use crate::app::{self, SaveBase};
use crate::model::{AssetKey, CanvasPos, Diagnostic};

use super::canvas::{CanvasAction, CardBadges};
use super::commands::UICommand;
use super::conflict::{Conflict, ImportConfirmation, ReloadRequest};
use super::panels;
use super::runs::NodeStatus;

/// Where the open document stands with the workspace: what was written, what is on its way,
/// and what stands in the way (a refused save, a reload, an import to confirm).
#[derive(Debug, Default)]
pub struct Saving {
    /// The document revision last written to the workspace.
    pub(super) saved_revision: u64,
    /// The document revision of the save on its way.
    pub(super) in_flight: Option<u64>,
    pub(super) failed: bool,
    /// The stored revision the open project's edits started from (`None` until the
    /// workspace worker has said which).
    pub(super) base: Option<SaveBase>,
    /// A refused save, or an outside change over unsaved edits.
    pub conflict: Option<Conflict>,
    /// A reload on its way from the worker, and what for.
    pub(super) reload_requested: Option<ReloadRequest>,
    /// An import waiting for "Replace it" (it would replace edits made in the workspace).
    pub import_confirmation: Option<ImportConfirmation>,
    /// When the document was last edited (the autosave waits for a pause).
    pub(super) last_edit: Option<Instant>,
    /// How long the autosave waits after the last edit; `None`: [`super::AUTOSAVE_DELAY`].
    /// Tests that hold an edit unsaved on a loaded machine set a longer pause.
    pub autosave_delay: Option<std::time::Duration>,
}

/// The diagnostics of the open document and when they were computed.
#[derive(Debug, Default)]
pub struct Validation {
    pub diagnostics: Vec<Diagnostic>,
    /// The document revision the diagnostics are of.
    pub(super) revision: Option<u64>,
    /// When the graph's structure last changed (validation waits for the typing to pause).
    pub(super) last_structural_change: Option<Instant>,
}

/// The windows and palettes that may be open over the canvas (`None`: closed).
#[derive(Debug, Default)]
pub struct Windows {
    /// The add-asset palette, open for a new asset at this position.
    pub add_palette: Option<CanvasPos>,
    pub command_palette: Option<panels::command_palette::PaletteState>,
    pub find: Option<panels::find::FindState>,
    /// The connections window.
    pub connections: Option<panels::connections::ConnectionsState>,
    /// The price table window.
    pub prices: Option<panels::prices::PricesState>,
    /// The recorded-costs window.
    pub costs: Option<panels::costs::CostsState>,
    /// The project picker.
    pub picker_open: bool,
    /// The asset catalog beside the canvas, with its search, filters and sort.
    pub catalog: Option<panels::catalog::CatalogState>,
    /// The lineage window of one asset or column.
    pub lineage: Option<panels::lineage::LineageState>,
    /// "Compare with previous materialization" of one asset.
    pub compare: Option<panels::compare::CompareState>,
    /// A delete that breaks downstream assets, waiting for confirmation.
    pub confirm_delete: Option<panels::blast::DeleteConfirm>,
    /// A rename that would break what names the asset, waiting for confirmation.
    pub confirm_rename: Option<panels::blast::RenameConfirm>,
    /// A definition edit that removes or retypes used columns, waiting for confirmation.
    pub confirm_edit: Option<panels::blast::EditConfirm>,
    /// The path field of a report export where no file dialog can be shown.
    pub report_path: Option<panels::report_path::ReportPathState>,
    /// The Deployment window: the project on AWS Step Functions and EventBridge.
    pub deployment: Option<panels::deployment::DeploymentState>,
    /// The start page's fields: the page of an empty workspace, or the "New project" window.
    pub welcome: Option<panels::welcome::WelcomeState>,
    /// The guided tour, at its step.
    pub tour: Option<panels::tour::TourState>,
    /// The note being written or changed.
    pub note_editor: Option<panels::note_editor::NoteEditor>,
    /// Where this frame drew what the tour's steps name (the lanes, the inspector, Preview,
    /// Materialize…), so the tour can point at it.
    pub tour_targets: HashMap<panels::tour::TourTarget, egui::Rect>,
}

/// What the frame's drawing asked for, applied at the end of the frame in one place.
#[derive(Debug, Default)]
pub(super) struct Pending {
    pub(super) commands: Vec<UICommand>,
    pub(super) actions: Vec<CanvasAction>,
}

/// Each asset's state as the workspace and the last previews tell it: what the cards and Asset
/// details show.
#[derive(Debug, Default)]
pub struct AssetStates {
    /// What the cards draw besides the spec (problems, status, check verdicts).
    pub(super) badges: CardBadges,
    /// Each asset's state in the workspace as a card status (fresh, stale, failed, blocked,
    /// not materialized): the cards' base layer.
    pub(super) stale: HashMap<AssetKey, NodeStatus>,
    /// Each asset's state in the workspace, whole.
    pub assets: HashMap<AssetKey, app::status::AssetState>,
    /// The last preview error of each asset.
    pub(super) preview_errors: HashMap<AssetKey, String>,
    /// The id of the latest request for the states (older answers are dropped).
    pub(super) request_id: u64,
}

/// The open workspace as the studio knows it.
#[derive(Debug)]
pub struct WorkspaceInfo {
    /// How the status bar names the workspace.
    pub label: String,
    /// The workspace's projects (the picker lists them).
    pub projects: Vec<app::ProjectSummary>,
    /// Whether the document is a project (not the placeholder of an empty workspace).
    pub(super) has_project: bool,
    /// The next id for a request whose answer must be matched to it.
    pub(super) next_request_id: u64,
    /// Counts price edits, so plans made with older prices are asked for again.
    pub(super) prices_revision: u64,
    /// The sync from AWS asked for when the open project was opened, and the project's name.
    pub(super) sync_request: Option<(u64, String)>,
}

impl WorkspaceInfo {
    pub(super) fn new(label: String, has_project: bool) -> Self {
        Self {
            label,
            projects: Vec::new(),
            has_project,
            next_request_id: 1,
            prices_revision: 0,
            sync_request: None,
        }
    }
}

/// The toolbar's selection query and why it does not parse.
#[derive(Debug, Default)]
pub struct SelectionQuery {
    pub text: String,
    pub error: Option<String>,
}
