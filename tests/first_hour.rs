//! The studio's first hour (issue 20), driven headless by accessible labels on real temporary
//! workspaces: an empty workspace offers the example, a new starter project (which validates
//! and runs) and a project folder (typed where no folder dialog can be shown); "Launch on AWS"
//! without an account leads to Connections; the guided tour names its five stops and, once
//! finished or skipped, stays away across restarts (the window's own preference storage).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use medallion::model::RunStatus;
use medallion::ui::panels::welcome::WelcomeState;
use medallion::ui::{Preferences, Studio, UICommand};

use crate::common::studio::{harness, wait_until};

const WAIT: Duration = Duration::from_mins(3);

fn empty_workspace(dir: &Path) -> Harness<'static, Studio> {
    let path = dir.join("ws.sqlite");
    harness(Studio::with_workspace(None, &path).unwrap())
}

fn opened(h: &mut Harness<'_, Studio>, name: &str) {
    wait_until(h, &format!("project {name} to open"), WAIT, |s| {
        s.project().name == name
    });
}

#[test]
fn an_empty_workspace_offers_the_example_a_new_project_and_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = empty_workspace(dir.path());
    h.get_by_label("Welcome to Medallion");
    h.get_by_label("Create project");
    h.get_by_label("Open folder");
    h.get_by_label("Open the example").click();
    h.run_steps(2);
    opened(&mut h, "customer_analytics");
    h.get_by_label("daily_revenue");
    assert!(h.query_by_label("Welcome to Medallion").is_none());
}

#[test]
fn a_created_project_has_a_layer_of_each_kind_validates_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = empty_workspace(dir.path());
    h.state_mut().windows.welcome = Some(WelcomeState {
        name: "first_steps".to_owned(),
        parent: dir.path().display().to_string(),
        ..WelcomeState::default()
    });
    h.run_steps(1);
    h.get_by_label("Create project").click();
    h.run_steps(2);
    opened(&mut h, "first_steps");
    assert!(dir.path().join("first_steps/medallion.toml").is_file());
    for card in ["raw_orders", "completed_orders", "daily_revenue"] {
        h.get_by_label(card);
    }
    h.state_mut().validate_now();
    let errors: Vec<_> = h
        .state()
        .validation
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    h.state_mut().push_command(UICommand::MaterializeAll);
    h.run_steps(2);
    wait_until(&mut h, "the run", WAIT, |s| {
        s.run.as_ref().is_some_and(|r| r.done)
    });
    let run = h.state().run.as_ref().unwrap();
    assert_eq!(
        run.status,
        Some(RunStatus::Success),
        "{:?}",
        h.state().notice
    );
    // The gold table has one row per day with completed, positive orders.
    h.state_mut()
        .preview_asset(&medallion::model::AssetKey::new("daily_revenue"));
    h.run_steps(2);
    wait_until(&mut h, "the preview", WAIT, |s| {
        s.workbench.preview.data.is_some() || s.workbench.preview.error.is_some()
    });
    let preview = h.state().workbench.preview.data.as_ref().expect("rows");
    assert_eq!(preview.rows.len(), 3);
}

#[test]
fn creating_over_an_existing_folder_is_refused_in_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    let mut h = empty_workspace(dir.path());
    h.state_mut().windows.welcome = Some(WelcomeState {
        name: "taken".to_owned(),
        parent: dir.path().display().to_string(),
        ..WelcomeState::default()
    });
    h.run_steps(1);
    h.get_by_label("Create project").click();
    h.run_steps(2);
    wait_until(&mut h, "the refusal", WAIT, |s| s.notice.is_some());
    h.get_by_label_contains("already exists; choose another name or folder");
    // Still on the start page, with what was typed.
    h.get_by_label("Create project");
}

#[test]
fn where_no_folder_dialog_opens_the_project_folder_is_typed() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy");
    crate::common::copy_dir(&crate::common::example(), &copy);
    let mut h = empty_workspace(dir.path());
    h.get_by_label("Choose project folder…").click();
    h.run_steps(2);
    // This machine has neither a file-chooser portal nor zenity: the field is the way.
    wait_until(&mut h, "the dialog's answer", WAIT, |s| {
        s.windows.welcome.as_ref().is_some_and(|w| w.no_dialog)
    });
    h.get_by_label_contains("No folder dialog can be shown here");
    h.get_by_label("Project folder").click();
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_label("Project folder")
        .type_text(&copy.display().to_string());
    h.run_steps(1);
    h.get_by_label("Open folder").click();
    h.run_steps(2);
    opened(&mut h, "customer_analytics");
}

#[test]
fn import_from_the_menu_without_a_folder_dialog_offers_the_path_field() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = crate::common::studio::example_workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.state_mut().push_command(UICommand::ImportProject);
    h.run_steps(2);
    wait_until(&mut h, "the dialog's answer", WAIT, |s| {
        s.windows.welcome.as_ref().is_some_and(|w| w.no_dialog)
    });
    h.get_by_label("New project");
    h.get_by_label("Project folder");
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert!(h.state().windows.welcome.is_none());
}

#[test]
fn launch_on_aws_without_an_account_explains_and_opens_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = crate::common::studio::example_workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("Materialize…").click();
    h.run_steps(2);
    h.get_by_label("All assets").click();
    h.run_steps(2);
    h.get_by_label("On AWS").click();
    h.run_steps(2);
    wait_until(&mut h, "the AWS steps", WAIT, |s| {
        s.workbench
            .launch
            .as_ref()
            .is_some_and(|l| matches!(l.aws_plan, Some(Ok(_))))
    });
    h.get_by_label("This project has no AWS account to run on yet");
    assert!(
        h.query_all_by_label_contains("[resources").next().is_none(),
        "the dialog quotes the project file"
    );
    h.get_by_label("Launch on AWS").click();
    h.run_steps(2);
    assert!(h.state().run.is_none(), "a run started without an account");
    assert!(h.state().windows.connections.is_some());
    assert!(h.state().workbench.launch.is_none());
    h.get_by_label("New aws resource");
    h.get_by_label("Run steps on AWS with this account");
    // The remote-run settings are open to fill in.
    assert!(h.query_all_by_label("Subnets").next().is_some());
    h.get_by_label("Save resource");
}

/// eframe's storage as the window has it, in memory: the preferences go through eframe's own
/// encoding, as between two starts of the window.
#[derive(Default)]
struct MemoryStorage(HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

fn example_studio() -> Studio {
    let project = medallion::format::read_project(&crate::common::example())
        .unwrap()
        .project;
    Studio::new(Some(project), "test.sqlite".into())
}

/// A new start of the window with the preferences `storage` kept.
fn restart(storage: &MemoryStorage) -> Harness<'static, Studio> {
    let prefs: Preferences =
        eframe::get_value(storage, "medallion.preferences").unwrap_or_default();
    let mut studio = example_studio();
    studio.restore_preferences(prefs);
    studio.offer_tour();
    harness(studio)
}

#[test]
fn the_tour_names_its_five_stops_and_once_done_stays_away_after_a_restart() {
    let mut storage = MemoryStorage::default();
    let mut h = restart(&storage);
    for (i, title) in [
        "The lanes",
        "The inspector",
        "Preview the data",
        "Materialize assets",
        "The plan",
    ]
    .iter()
    .enumerate()
    {
        h.get_by_label(&format!("Tour · {} of 5", i + 1));
        h.get_by_label(title);
        h.get_by_label(if i == 4 { "Done" } else { "Next" }).click();
        h.run_steps(2);
    }
    assert!(h.query_by_label_contains("Tour ·").is_none());
    eframe::App::save(h.state_mut(), &mut storage);
    let h = restart(&storage);
    assert!(h.state().windows.tour.is_none());
    assert!(h.query_by_label_contains("Tour ·").is_none());
}

/// Each step outlines what it names: the lanes, the inspector, Preview, Materialize… (and
/// Materialize… again for the plan it shows).
#[test]
fn each_tour_step_outlines_what_it_names() {
    let storage = MemoryStorage::default();
    let mut h = restart(&storage);
    let lanes = h
        .get_by_label("Bronze lane")
        .rect()
        .union(h.get_by_label("Gold lane").rect());
    let inspector = h.get_by_label("Inspector").rect();
    let topmost = |h: &Harness<'_, Studio>, label: &str| {
        h.get_all_by_label(label)
            .map(|n| n.rect())
            .min_by(|a, b| a.top().total_cmp(&b.top()))
            .unwrap()
    };
    let preview = topmost(&h, "Preview");
    let materialize = topmost(&h, "Materialize…");
    // (The inspector's heading is inside the outlined panel; the rest are outlined tightly.)
    for (step, name, target, tight) in [
        (1, "the lanes", lanes, true),
        (2, "the inspector", inspector, false),
        (3, "Preview", preview, true),
        (4, "Materialize…", materialize, true),
        (5, "Materialize…", materialize, true),
    ] {
        h.get_by_label(&format!("Tour · {step} of 5"));
        let outline = h.get_by_label(&format!("Tour highlight: {name}")).rect();
        assert!(
            outline.expand(1.0).contains_rect(target),
            "step {step}: the outline {outline:?} does not go round {name} at {target:?}"
        );
        assert!(
            !tight || outline.area() < target.expand(8.0).area(),
            "step {step}: the outline {outline:?} is much larger than {name} at {target:?}"
        );
        // Only what this step names is outlined.
        assert_eq!(h.query_all_by_label_contains("Tour highlight:").count(), 1);
        h.get_by_label(if step == 5 { "Done" } else { "Next" })
            .click();
        h.run_steps(2);
    }
    assert!(h.query_by_label_contains("Tour highlight:").is_none());
}

#[test]
fn a_skipped_tour_stays_away_after_a_restart_and_can_be_taken_again() {
    let mut storage = MemoryStorage::default();
    let mut h = restart(&storage);
    h.get_by_label("Next").click();
    h.run_steps(2);
    h.get_by_label("Tour · 2 of 5");
    h.get_by_label("Skip tour").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("Tour ·").is_none());
    eframe::App::save(h.state_mut(), &mut storage);
    let mut h = restart(&storage);
    assert!(h.query_by_label_contains("Tour ·").is_none());
    h.state_mut().push_command(UICommand::Tour);
    h.run_steps(2);
    h.get_by_label("Tour · 1 of 5");
}

#[test]
fn in_an_empty_workspace_the_tour_waits_for_a_project() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.sqlite");
    let mut studio = Studio::with_workspace(None, &path).unwrap();
    studio.offer_tour();
    let mut h = harness(studio);
    assert!(h.query_by_label_contains("Tour ·").is_none());
    h.get_by_label("Open the example").click();
    h.run_steps(2);
    opened(&mut h, "customer_analytics");
    h.get_by_label("Tour · 1 of 5");
}

/// A newcomer's first start (the README's `cargo run --release`): the studio's backend opens
/// an empty workspace on the bundled example, imported; the start page above is for a
/// workspace where no example can be found, and for Project → New project….
#[test]
fn the_first_start_opens_on_the_bundled_example() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.sqlite");
    let opened = medallion::app::backend::Backend::open(&path).unwrap();
    let first = opened.first.as_ref().map(|p| p.project.name.clone());
    assert_eq!(first.as_deref(), Some("customer_analytics"));
    drop(opened);
    let w = medallion::app::open_workspace(&path).unwrap();
    assert_eq!(medallion::app::list_projects(&w).unwrap().len(), 1);
}
