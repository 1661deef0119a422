//! The first hour's start: what an empty workspace shows in place of the canvas, and what
//! "New project…" opens over it — open the bundled example, create a starter project (a
//! folder with a bronze source and its data, a silver transform with checks and a gold table),
//! or open a project folder. Folders come from the native dialog; where none can be shown the
//! path fields are typed in. The files are written and read by the workspace worker.

use std::path::PathBuf;

use egui::RichText;

use crate::app::backend::TaskRequest;
use crate::app::worker::WorkspaceRequest;
use crate::ui::Studio;

/// What the start page's fields hold.
#[derive(Debug, Clone)]
pub struct WelcomeState {
    /// The new project's name (its folder's name too).
    pub name: String,
    /// The folder the new project's folder goes in.
    pub parent: String,
    /// A project folder to open.
    pub folder: String,
    /// No native folder dialog could be shown: the fields are typed in.
    pub no_dialog: bool,
    /// Why the last button did nothing (a field left empty).
    pub problem: Option<String>,
}

impl Default for WelcomeState {
    fn default() -> Self {
        Self {
            name: "my_project".to_owned(),
            parent: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            folder: String::new(),
            no_dialog: false,
            problem: None,
        }
    }
}

/// What the start page asked for this frame.
enum Action {
    OpenExample,
    Create { parent: PathBuf, name: String },
    OpenFolder(PathBuf),
    Choose(TaskRequest),
}

/// The start page in place of the canvas (an empty workspace).
pub fn welcome_page_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let mut state = studio.windows.welcome.take().unwrap_or_default();
    let mut action = None;
    egui::ScrollArea::vertical()
        .id_salt("welcome_page")
        .show(ui, |ui| {
            let width = ui.available_width().min(620.0);
            let margin = ((ui.available_width() - width) / 2.0).max(0.0);
            ui.horizontal(|ui| {
                ui.add_space(margin);
                ui.vertical(|ui| {
                    ui.set_width(width);
                    ui.add_space(32.0);
                    ui.heading("Welcome to Medallion");
                    ui.label(
                        "Design pipelines of assets in bronze, silver and gold layers, preview \
                         them, check their quality and run them here or on AWS. Start with one of these:",
                    );
                    ui.add_space(12.0);
                    action = start_choices_ui(ui, &mut state);
                });
            });
        });
    studio.windows.welcome = Some(state);
    if let Some(action) = action {
        apply(studio, action);
    }
}

/// "New project…": the same choices in a window over the open project.
pub fn welcome_window_ui(ctx: &egui::Context, studio: &mut Studio) {
    if !studio.workspace.has_project {
        return;
    }
    let Some(mut state) = studio.windows.welcome.take() else {
        return;
    };
    let mut open = true;
    let mut action = None;
    egui::Window::new("New project")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .default_width(560.0)
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 80.0))
        .show(ctx, |ui| {
            action = start_choices_ui(ui, &mut state);
        });
    if open {
        studio.windows.welcome = Some(state);
    }
    if let Some(action) = action {
        apply(studio, action);
    }
}

/// The three ways to start; the one chosen, if any.
fn start_choices_ui(ui: &mut egui::Ui, state: &mut WelcomeState) -> Option<Action> {
    let mut action = None;
    ui.label(RichText::new("Start from the example").strong());
    ui.label(
        "customer_analytics: raw customers and orders, cleaned in silver, made into customer \
         lifetime value and daily revenue in gold, with checks and unit tests.",
    );
    if ui.button("Open the example").clicked() {
        action = Some(Action::OpenExample);
    }
    ui.separator();
    ui.label(RichText::new("Create a project").strong());
    ui.label(
        "A new folder with a bronze CSV source and its data, a silver SQL transform with checks \
         and a gold table: it validates and runs as it is.",
    );
    ui.horizontal(|ui| {
        ui.add_sized([64.0, 18.0], egui::Label::new("Name"));
        labelled_field(ui, &mut state.name, "Project name", 300.0, "my_project");
    });
    ui.horizontal(|ui| {
        ui.add_sized([64.0, 18.0], egui::Label::new("In folder"));
        labelled_field(
            ui,
            &mut state.parent,
            "Folder for the new project",
            300.0,
            "/path/to/projects",
        );
        if ui.button("Choose folder…").clicked() {
            action = Some(Action::Choose(TaskRequest::ChooseParentDir));
        }
    });
    if ui.button("Create project").clicked() {
        action = create_action(state);
    }
    ui.separator();
    ui.label(RichText::new("Open a project folder").strong());
    ui.label("A folder with a medallion.toml: it is imported into this workspace and opened.");
    ui.horizontal(|ui| {
        let field = labelled_field(
            ui,
            &mut state.folder,
            "Project folder",
            300.0,
            "/path/to/a/project",
        );
        if ui.button("Choose project folder…").clicked() {
            action = Some(Action::Choose(TaskRequest::ChooseImportDir));
        }
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("Open folder").clicked() || enter {
            action = open_folder_action(state);
        }
    });
    if state.no_dialog {
        ui.label(
            RichText::new("No folder dialog can be shown here: type the folder's path instead.")
                .color(crate::ui::theme::warning_color()),
        );
    }
    if let Some(problem) = &state.problem {
        ui.label(RichText::new(problem).color(crate::ui::theme::error_color()));
    }
    action
}

/// A one-line text field with an accessible name.
fn labelled_field(
    ui: &mut egui::Ui,
    text: &mut String,
    label: &str,
    width: f32,
    hint: &str,
) -> egui::Response {
    let response = ui.add(
        egui::TextEdit::singleline(text)
            .desired_width(width)
            .hint_text(hint),
    );
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, label));
    response
}

fn create_action(state: &mut WelcomeState) -> Option<Action> {
    let name = state.name.trim();
    let parent = state.parent.trim();
    state.problem = if name.is_empty() {
        Some("Give the project a name".to_owned())
    } else if parent.is_empty() {
        Some("Say which folder the project goes in".to_owned())
    } else {
        None
    };
    state.problem.is_none().then(|| Action::Create {
        parent: PathBuf::from(parent),
        name: name.to_owned(),
    })
}

fn open_folder_action(state: &mut WelcomeState) -> Option<Action> {
    let folder = state.folder.trim();
    if folder.is_empty() {
        state.problem = Some("Type the project folder's path, or choose it".to_owned());
        return None;
    }
    state.problem = None;
    Some(Action::OpenFolder(PathBuf::from(folder)))
}

fn apply(studio: &mut Studio, action: Action) {
    match action {
        Action::OpenExample => studio.request(WorkspaceRequest::OpenExample),
        Action::Create { parent, name } => {
            studio.save_now();
            studio.request(WorkspaceRequest::CreateStarter { parent, name });
        }
        Action::OpenFolder(dir) => studio.import_dir(dir),
        Action::Choose(task) => studio.run_task(task),
    }
}

/// The answer of a folder dialog the start page (or an import) asked for: the chosen path goes
/// into its field; a dialog that could not be shown leaves the fields to type in.
pub fn folder_chosen(studio: &mut Studio, for_import: bool, path: Option<PathBuf>, shown: bool) {
    match (path, for_import) {
        (Some(dir), true) => studio.import_dir(dir),
        (Some(dir), false) => {
            let state = studio.windows.welcome.get_or_insert_default();
            state.parent = dir.display().to_string();
            state.problem = None;
        }
        (None, _) if !shown => {
            // The import from the toolbar comes here too: its fallback is this page's field.
            studio.windows.welcome.get_or_insert_default().no_dialog = true;
        }
        (None, _) => {}
    }
}
