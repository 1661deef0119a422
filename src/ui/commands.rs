//! Commands are data: every action the studio offers is a [`UICommand`] with a label and an
//! optional shortcut. Shortcuts, menus and the command palette push commands; the studio drains
//! them once per frame in one place.

use egui::{Key, KeyboardShortcut, Modifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UICommand {
    Undo,
    Redo,
    Save,
    AddAsset,
    Delete,
    Rename,
    Copy,
    Paste,
    Duplicate,
    SelectAll,
    FitToView,
    ZoomIn,
    ZoomOut,
    ArrangeAll,
    Find,
    CommandPalette,
    OpenProject,
    ImportProject,
    ExportProject,
    ToggleTheme,
    ToggleInspector,
    ToggleDiagnostics,
    Preview,
    Materialize,
    MaterializeSelected,
    MaterializeWithUpstream,
    MaterializeWithDownstream,
    MaterializeAll,
    RunChecks,
    CancelRun,
    RunHistory,
    ExportReport,
    ToggleWorkbench,
    Connections,
    Prices,
    Costs,
    Inspect,
    CopyKey,
    ShowInCatalog,
    ToggleCatalog,
    Automation,
    AuditLog,
    Lineage,
    Deployment,
    NewProject,
    Tour,
    CollapseGroups,
    ExpandGroups,
    AddNote,
}

impl UICommand {
    pub const ALL: [UICommand; 49] = [
        UICommand::Undo,
        UICommand::Redo,
        UICommand::Save,
        UICommand::AddAsset,
        UICommand::Delete,
        UICommand::Rename,
        UICommand::Copy,
        UICommand::Paste,
        UICommand::Duplicate,
        UICommand::SelectAll,
        UICommand::FitToView,
        UICommand::ZoomIn,
        UICommand::ZoomOut,
        UICommand::ArrangeAll,
        UICommand::Find,
        UICommand::CommandPalette,
        UICommand::OpenProject,
        UICommand::ImportProject,
        UICommand::ExportProject,
        UICommand::ToggleTheme,
        UICommand::ToggleInspector,
        UICommand::ToggleDiagnostics,
        UICommand::Preview,
        UICommand::Materialize,
        UICommand::MaterializeSelected,
        UICommand::MaterializeWithUpstream,
        UICommand::MaterializeWithDownstream,
        UICommand::MaterializeAll,
        UICommand::RunChecks,
        UICommand::CancelRun,
        UICommand::RunHistory,
        UICommand::ExportReport,
        UICommand::ToggleWorkbench,
        UICommand::Connections,
        UICommand::Prices,
        UICommand::Costs,
        UICommand::Inspect,
        UICommand::CopyKey,
        UICommand::ShowInCatalog,
        UICommand::ToggleCatalog,
        UICommand::Automation,
        UICommand::AuditLog,
        UICommand::Lineage,
        UICommand::Deployment,
        UICommand::NewProject,
        UICommand::Tour,
        UICommand::CollapseGroups,
        UICommand::ExpandGroups,
        UICommand::AddNote,
    ];

    /// Sentence case; `…` when the command opens a dialog.
    pub fn label(self) -> &'static str {
        match self {
            UICommand::Undo => "Undo",
            UICommand::Redo => "Redo",
            UICommand::Save => "Save",
            UICommand::AddAsset => "Add asset…",
            UICommand::Delete => "Delete selection",
            UICommand::Rename => "Rename asset…",
            UICommand::Copy => "Copy",
            UICommand::Paste => "Paste",
            UICommand::Duplicate => "Duplicate",
            UICommand::SelectAll => "Select all",
            UICommand::FitToView => "Fit to view",
            UICommand::ZoomIn => "Zoom in",
            UICommand::ZoomOut => "Zoom out",
            UICommand::ArrangeAll => "Auto-arrange all",
            UICommand::Find => "Find asset…",
            UICommand::CommandPalette => "Command palette…",
            UICommand::OpenProject => "Open project…",
            UICommand::ImportProject => "Import project directory…",
            UICommand::ExportProject => "Export project directory…",
            UICommand::ToggleTheme => "Switch dark/light theme",
            UICommand::ToggleInspector => "Show or hide the inspector",
            UICommand::ToggleDiagnostics => "Show or hide diagnostics",
            UICommand::Preview => "Preview",
            UICommand::Materialize => "Materialize…",
            UICommand::MaterializeSelected => "Materialize selected",
            UICommand::MaterializeWithUpstream => "Materialize selected with upstream",
            UICommand::MaterializeWithDownstream => "Materialize selected with downstream",
            UICommand::MaterializeAll => "Materialize all",
            UICommand::RunChecks => "Run checks",
            UICommand::CancelRun => "Cancel run",
            UICommand::RunHistory => "Run history",
            UICommand::ExportReport => "Export HTML…",
            UICommand::ToggleWorkbench => "Show or hide the workbench",
            UICommand::Connections => "Connections…",
            UICommand::Prices => "Prices…",
            UICommand::Costs => "Costs…",
            UICommand::Inspect => "Inspect",
            UICommand::CopyKey => "Copy key",
            UICommand::ShowInCatalog => "Show in catalog",
            UICommand::ToggleCatalog => "Catalog",
            UICommand::Automation => "Automation…",
            UICommand::AuditLog => "Audit log…",
            UICommand::Lineage => "Lineage…",
            UICommand::Deployment => "Deployment on AWS…",
            UICommand::NewProject => "New project…",
            UICommand::Tour => "Take the tour",
            UICommand::CollapseGroups => "Collapse the selection's groups",
            UICommand::ExpandGroups => "Expand all groups",
            UICommand::AddNote => "Add note…",
        }
    }

    /// The label in a card's context menu, where the selection is the card.
    pub fn menu_label(self) -> &'static str {
        match self {
            UICommand::MaterializeSelected => "Materialize this",
            UICommand::MaterializeWithUpstream => "Materialize with upstream",
            UICommand::MaterializeWithDownstream => "Materialize with downstream",
            UICommand::Delete => "Delete",
            UICommand::Rename => "Rename…",
            other => other.label(),
        }
    }

    /// What a command does, where its label does not say it all.
    pub fn tooltip(self) -> Option<&'static str> {
        match self {
            UICommand::Preview => Some("The first rows, computed from stored upstream data"),
            UICommand::MaterializeSelected => Some(
                "Run the selected assets now, reading their upstream from stored materializations",
            ),
            UICommand::MaterializeWithUpstream => {
                Some("Run the selected assets and everything they read")
            }
            UICommand::MaterializeWithDownstream => {
                Some("Run the selected assets and everything that reads them")
            }
            UICommand::RunChecks => {
                Some("Evaluate the checks on the stored data, without materializing")
            }
            UICommand::CopyKey => Some("Put the asset's key on the clipboard"),
            UICommand::ShowInCatalog => Some("The asset's row in the catalog list"),
            UICommand::Lineage => Some(
                "Where the asset's columns come from and what they feed, inferred without running",
            ),
            UICommand::ToggleCatalog => {
                Some("Every asset as a list: search, filter and sort; a row selects its card")
            }
            UICommand::Deployment => Some(
                "The project on AWS Step Functions and EventBridge: what is deployed, how it differs, Deploy and Undeploy",
            ),
            UICommand::NewProject => {
                Some("Open the example, create a starter project or open a project folder")
            }
            UICommand::Tour => Some("The lanes, the inspector, preview, materialize and the plan"),
            UICommand::CollapseGroups => {
                Some("Draw each group of the selected assets as one card (undoable)")
            }
            UICommand::ExpandGroups => Some("Show every asset of the collapsed groups again"),
            UICommand::AddNote => Some("A free-text note on the canvas, saved with the layout"),
            _ => None,
        }
    }

    pub fn shortcut(self) -> Option<KeyboardShortcut> {
        let cmd = Modifiers::COMMAND;
        let cmd_shift = Modifiers::COMMAND | Modifiers::SHIFT;
        let none = Modifiers::NONE;
        let (modifiers, key) = match self {
            UICommand::Undo => (cmd, Key::Z),
            UICommand::Redo => (cmd_shift, Key::Z),
            UICommand::Save => (cmd, Key::S),
            UICommand::AddAsset => (none, Key::A),
            UICommand::Delete => (none, Key::Delete),
            UICommand::Rename => (none, Key::F2),
            UICommand::Copy => (cmd, Key::C),
            UICommand::Paste => (cmd, Key::V),
            UICommand::Duplicate => (cmd, Key::D),
            UICommand::SelectAll => (cmd, Key::A),
            UICommand::FitToView => (none, Key::F),
            UICommand::ZoomIn => (cmd, Key::Plus),
            UICommand::ZoomOut => (cmd, Key::Minus),
            UICommand::ArrangeAll => (cmd_shift, Key::L),
            UICommand::Find => (cmd, Key::F),
            UICommand::CommandPalette => (cmd, Key::K),
            UICommand::OpenProject => (cmd, Key::O),
            UICommand::NewProject => (cmd, Key::N),
            UICommand::Preview => (cmd, Key::P),
            UICommand::Materialize => (cmd, Key::M),
            UICommand::MaterializeSelected => (none, Key::M),
            UICommand::MaterializeWithUpstream => (Modifiers::SHIFT, Key::M),
            UICommand::MaterializeWithDownstream => (Modifiers::ALT, Key::M),
            UICommand::RunChecks => (Modifiers::SHIFT, Key::C),
            UICommand::CopyKey => (cmd_shift, Key::C),
            UICommand::RunHistory => (cmd, Key::H),
            UICommand::ToggleWorkbench => (cmd, Key::J),
            UICommand::ToggleCatalog => (cmd_shift, Key::K),
            UICommand::MaterializeAll
            | UICommand::Inspect
            | UICommand::ShowInCatalog
            | UICommand::CancelRun
            | UICommand::ExportReport
            | UICommand::ImportProject
            | UICommand::ExportProject
            | UICommand::ToggleTheme
            | UICommand::ToggleInspector
            | UICommand::ToggleDiagnostics
            | UICommand::Connections
            | UICommand::Prices
            | UICommand::Costs
            | UICommand::Automation
            | UICommand::AuditLog
            | UICommand::Lineage
            | UICommand::Deployment
            | UICommand::Tour
            | UICommand::CollapseGroups
            | UICommand::ExpandGroups
            | UICommand::AddNote => return None,
        };
        Some(KeyboardShortcut::new(modifiers, key))
    }

    /// A second shortcut some users expect (Ctrl+Y for redo, as on Windows and in KNIME).
    pub fn alternative_shortcut(self) -> Option<KeyboardShortcut> {
        match self {
            UICommand::Redo => Some(KeyboardShortcut::new(Modifiers::COMMAND, Key::Y)),
            _ => None,
        }
    }

    /// Whether the shortcut also fires while a text field has the keyboard (otherwise `A`,
    /// `Delete` or `Ctrl+Z` would be stolen from the text being typed).
    fn fires_while_typing(self) -> bool {
        matches!(
            self,
            UICommand::Save | UICommand::Find | UICommand::CommandPalette | UICommand::OpenProject
        )
    }

    pub fn shortcut_text(self, ctx: &egui::Context) -> String {
        [self.shortcut(), self.alternative_shortcut()]
            .into_iter()
            .flatten()
            .map(|s| ctx.format_shortcut(&s))
            .collect::<Vec<_>>()
            .join(" or ")
    }

    /// Commands whose shortcuts were pressed this frame (the keys are consumed). Longer
    /// modifier combinations are checked first so `Ctrl+Shift+Z` is not read as `Ctrl+Z`.
    pub fn from_shortcuts(ctx: &egui::Context) -> Vec<UICommand> {
        let typing = ctx.text_edit_focused();
        let mut commands: Vec<UICommand> = Self::ALL
            .into_iter()
            .filter(|c| c.shortcut().is_some() && (!typing || c.fires_while_typing()))
            .collect();
        commands.sort_by_key(|c| {
            std::cmp::Reverse(c.shortcut().map_or(0, |s| {
                u8::from(s.modifiers.shift)
                    + u8::from(s.modifiers.alt)
                    + u8::from(s.modifiers.command || s.modifiers.ctrl)
            }))
        });
        let mut out = Vec::new();
        ctx.input_mut(|i| {
            for c in commands {
                let pressed = [c.shortcut(), c.alternative_shortcut()]
                    .into_iter()
                    .flatten()
                    .any(|s| i.consume_shortcut(&s));
                if pressed && !out.contains(&c) {
                    out.push(c);
                }
            }
            if !typing {
                // egui-winit turns Ctrl+C / Ctrl+V into clipboard events instead of keys.
                for e in &i.events {
                    match e {
                        egui::Event::Copy if !out.contains(&UICommand::Copy) => {
                            out.push(UICommand::Copy);
                        }
                        egui::Event::Paste(_) if !out.contains(&UICommand::Paste) => {
                            out.push(UICommand::Paste);
                        }
                        _ => {}
                    }
                }
            }
        });
        out
    }
}
