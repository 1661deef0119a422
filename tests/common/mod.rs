//! Helpers shared by the integration tests that drive the `medallion` binary: its output as
//! text or JSON, the example project, and copying a project directory.
//!
//! Each test binary includes this with `mod common;` and uses only some of it.

#![allow(dead_code, clippy::unwrap_used)]

pub mod studio;

use std::path::{Path, PathBuf};
use std::process::Output;

/// Standard output then standard error, as one text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Standard output as JSON; a test fails with the whole output when it is not.
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

/// The example project shipped in `projects/`.
pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/customer_analytics")
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

/// Tests touching the OS keyring run one at a time, across every test module of this binary
/// (the names index is read-modify-write).
pub static KEYRING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The name the test harness knows test `name` of module `module` by (`module_path!()`, whose
/// first segment is the crate), for running one test alone in a child process with `--exact`.
pub fn test_path(module: &str, name: &str) -> String {
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    if module.is_empty() {
        name.to_owned()
    } else {
        format!("{module}::{name}")
    }
}

/// Runs the test `name` of this test binary alone, in a child process with `envs` added to its
/// environment (AWS credentials a studio reads in-process, the child's arguments), and fails
/// unless it ran and passed.
pub fn run_child_test<K, V>(name: &str, envs: impl IntoIterator<Item = (K, V)>)
where
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    let o = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .envs(envs)
        .output()
        .unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("1 passed"), "the child ran no test:\n{out}");
}

/// Whether the peer servers (moto, `PostgreSQL`, the SMTP sink…) are up: `tests/run` starts
/// them and sets `MEDALLION_TEST_PEERS=1`. A plain `cargo test` says so on stderr and the peer
/// tests return early.
pub fn peers() -> bool {
    let on = std::env::var("MEDALLION_TEST_PEERS").as_deref() == Ok("1");
    if !on {
        eprintln!(
            "peer test not run: tests/run starts the servers and sets MEDALLION_TEST_PEERS=1"
        );
    }
    on
}
