//! The headless studio the studio tests drive by accessible labels (`egui_kittest`): one
//! harness at 1400×900 with the project validated, and a bounded wait for background work.

use std::time::{Duration, Instant};

use egui::vec2;
use egui_kittest::Harness;
use medallion::ui::{Studio, frame_ui};

/// The studio in a 1400×900 window, its project validated and a few frames drawn.
pub fn harness(studio: Studio) -> Harness<'static, Studio> {
    let mut h = Harness::builder()
        .with_size(vec2(1400.0, 900.0))
        .with_max_steps(40)
        .build_ui_state(|ui, studio: &mut Studio| frame_ui(ui, studio), studio);
    h.state_mut().validate_now();
    h.run_steps(3);
    h
}

/// Steps the studio until `done` holds (background work answers between frames), failing
/// with `what` and the studio's notice after `limit`.
pub fn wait_until(
    h: &mut Harness<'_, Studio>,
    what: &str,
    limit: Duration,
    done: impl Fn(&Studio) -> bool,
) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < limit,
            "timed out waiting for {what}; notice: {:?}",
            h.state().notice.as_ref().map(|n| &n.text)
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(3);
}

/// A workspace file in `dir` with the example project imported: its path and the project.
pub fn example_workspace(dir: &std::path::Path) -> (std::path::PathBuf, medallion::model::Project) {
    let path = dir.join("ws.sqlite");
    let mut ws = medallion::app::open_workspace(&path).unwrap();
    let report = medallion::app::import_project(&mut ws, &super::example(), true, false).unwrap();
    let project = medallion::app::load_project(&ws, &report.name)
        .unwrap()
        .project;
    (path, project)
}
