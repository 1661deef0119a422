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
        if start.elapsed() >= limit {
            eprintln!("{}", threads_now());
            panic!(
                "timed out waiting for {what}; notice: {:?}",
                h.state().notice.as_ref().map(|n| &n.text)
            );
        }
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(3);
}

/// Opens the Materialize dialog, picks every asset, waits for both answers (what will run;
/// where and at what cost — one arriving after the click would grow the dialog and move the
/// button) and clicks "Start run".
pub fn start_run_of_everything(h: &mut Harness<'_, Studio>) {
    use egui_kittest::kittest::Queryable;
    h.get_by_label("Materialize…").click();
    h.run_steps(2);
    h.get_by_label("All assets").click();
    h.run_steps(2);
    wait_until(h, "the plan", Duration::from_mins(3), |s| {
        s.workbench
            .launch
            .as_ref()
            .is_some_and(|l| matches!(l.plan, Some(Ok(_))) && l.compute.is_some())
    });
    h.get_by_label_contains("will run,");
    h.get_by_label("Start run").click();
    h.run_steps(2);
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

/// What this process's threads are doing, for a wait that timed out: each thread's name and
/// state from `/proc`, then — where `gdb` is installed and may attach — the stacks of the
/// studio's own threads (`medallion-*`), so a hang seen once in CI names where it hangs.
fn threads_now() -> String {
    use std::fmt::Write as _;
    let mut out = String::from("threads of this process:\n");
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let dir = task.path();
            let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            let stat = read("stat");
            let state = stat.rsplit(") ").next().and_then(|s| s.split(' ').next());
            let _ = writeln!(
                out,
                "  {} {} state {} wchan {}",
                task.file_name().to_string_lossy(),
                read("comm").trim(),
                state.unwrap_or("?"),
                read("wchan").trim()
            );
        }
    }
    let gdb = std::process::Command::new("timeout")
        .args([
            "60",
            "gdb",
            "-p",
            &std::process::id().to_string(),
            "-batch",
            "-nx",
        ])
        .args(["-ex", "thread apply all bt 25"])
        .output();
    match gdb {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            // Only the studio's threads: a block per thread, starting at its "Thread" line.
            let mut keep = false;
            for line in text.lines() {
                if line.starts_with("Thread ") {
                    keep = line.contains("medallion-");
                }
                if keep {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        Ok(o) => {
            let _ = writeln!(out, "(gdb could not attach: {})", o.status);
        }
        Err(e) => {
            let _ = writeln!(out, "(no stacks: {e})");
        }
    }
    out
}
