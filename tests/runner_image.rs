//! The runner image, built by `packaging/runner/build-image.sh` and run as Fargate runs it.
//!
//! The image is built from the debug binary this test suite already built (a release build takes
//! ~26 min on the CI machine); the script is the same one that packs a release binary. The image
//! is unpacked with umoci and the executor test double (`support/aws_executor.rs`) starts each
//! Fargate task inside its root filesystem — private mount and PID namespaces, the image's
//! user, entrypoint and environment, the task's command override — against moto: the plan is
//! read from S3, the step runs, and its results and logs go back to S3 and `CloudWatch` Logs,
//! where the app reads them. Needs root (namespaces, file owners), mmdebstrap and umoci, which
//! `tests/run` installs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::remote_aws::{Setup, assert_gold_checksums, json, medallion, peers, text};
use crate::support::aws_executor::{Executor, ImageRoot, Launch};

/// The image budget for the debug binary: its stripped debug build is about twice a stripped
/// release build. The script's own budget (packaging/README.md) is for release builds; the
/// Debian root's budget is checked as it is.
const DEBUG_BUDGET_MB: &str = "160";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn blob(layout: &Path, digest: &serde_json::Value) -> serde_json::Value {
    let hex = digest.as_str().unwrap().strip_prefix("sha256:").unwrap();
    read_json(&layout.join("blobs/sha256").join(hex))
}

/// The image configuration (`Entrypoint`, `Cmd`, `User`, `Env`…) of `tag` in an OCI layout.
fn image_config(layout: &Path, tag: &str) -> serde_json::Value {
    let index = read_json(&layout.join("index.json"));
    let manifest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no tag {tag} in {index:#}"));
    let manifest = blob(layout, &manifest["digest"]);
    blob(layout, &manifest["config"]["digest"])["config"].clone()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// The value of a Dockerfile instruction (`ENTRYPOINT`, `CMD`, `USER`, `ENV`), its last use.
fn dockerfile(instruction: &str) -> String {
    let text = std::fs::read_to_string(repo().join("packaging/runner/Dockerfile")).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("{instruction} ")))
        .next_back()
        .unwrap_or_else(|| panic!("no {instruction} in the Dockerfile"))
        .trim()
        .to_owned()
}

fn is_root() -> bool {
    let o = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim() == "0"
}

/// Builds the image from this suite's binary into `dir`, then unpacks it.
fn build_and_unpack(dir: &Path) -> (PathBuf, PathBuf, String) {
    let layout = dir.join("medallion-runner.oci");
    let started = Instant::now();
    let o = Command::new(repo().join("packaging/runner/build-image.sh"))
        .arg(env!("CARGO_BIN_EXE_medallion"))
        .arg("--out")
        .arg(&layout)
        .args(["--budget-mb", DEBUG_BUDGET_MB])
        .output()
        .unwrap();
    let out = text(&o);
    assert!(o.status.success(), "build-image.sh failed:\n{out}");
    eprintln!("{out}build-image.sh took {:.1?}", started.elapsed());
    let bundle = dir.join("bundle");
    let o = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:latest", layout.display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(o.status.success(), "umoci unpack: {}", text(&o));
    (layout, bundle, out)
}

/// How a container runtime starts the image: the entrypoint from the image, the user, working
/// directory and environment from the runtime spec umoci made of it (HOME from its passwd).
fn image_root(layout: &Path, bundle: &Path) -> ImageRoot {
    let config = image_config(layout, "latest");
    let spec = read_json(&bundle.join("config.json"));
    let process = &spec["process"];
    let env = strings(&process["env"])
        .into_iter()
        .filter(|kv| !kv.starts_with("TERM="))
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    ImageRoot {
        rootfs: bundle.join("rootfs"),
        entrypoint: strings(&config["Entrypoint"]),
        uid: u32::try_from(process["user"]["uid"].as_u64().unwrap()).unwrap(),
        gid: u32::try_from(process["user"]["gid"].as_u64().unwrap()).unwrap(),
        cwd: process["cwd"].as_str().unwrap().to_owned(),
        env,
    }
}

/// The image says what the Dockerfile says, holds what the runner needs, and names its
/// packages.
fn assert_image_matches_the_dockerfile(layout: &Path, root: &ImageRoot, build_output: &str) {
    let config = image_config(layout, "latest");
    let from_docker = |i: &str| serde_json::from_str::<serde_json::Value>(&dockerfile(i)).unwrap();
    assert_eq!(
        config["Entrypoint"],
        from_docker("ENTRYPOINT"),
        "{config:#}"
    );
    assert_eq!(config["Cmd"], from_docker("CMD"), "{config:#}");
    assert_eq!(config["User"], dockerfile("USER"), "{config:#}");
    let env = strings(&config["Env"]);
    assert!(env.contains(&dockerfile("ENV")), "{env:?}");
    assert_eq!((root.uid, root.gid), (1000, 1000));
    assert!(
        root.env
            .contains(&("HOME".to_owned(), "/home/medallion".to_owned())),
        "the image's user has a passwd entry: {:?}",
        root.env
    );
    // rustls reads the system's roots: real AWS endpoints need them.
    let bundle_certs = root.rootfs.join("etc/ssl/certs/ca-certificates.crt");
    assert!(
        std::fs::metadata(&bundle_certs).is_ok_and(|m| m.len() > 100_000),
        "{} holds the CA certificates",
        bundle_certs.display()
    );
    let shipped = std::fs::metadata(root.rootfs.join("usr/local/bin/medallion")).unwrap();
    let built = std::fs::metadata(env!("CARGO_BIN_EXE_medallion")).unwrap();
    assert!(
        shipped.len() < built.len(),
        "the shipped binary is stripped"
    );
    let packages = std::fs::read_to_string(layout.with_extension("oci.packages.txt")).unwrap();
    assert!(
        packages.lines().any(|l| l.starts_with("ca-certificates ")),
        "{packages}"
    );
    assert!(build_output.contains("MB compressed"), "{build_output}");
}

#[test]
fn the_runner_image_runs_a_fargate_step_from_its_own_root_filesystem() {
    let Some(moto) = peers() else { return };
    assert!(
        is_root(),
        "the runner image test needs root (mmdebstrap, umoci and namespaces): run tests/run as root"
    );
    let tmp = tempfile::tempdir().unwrap();
    let (layout, bundle, build_output) = build_and_unpack(tmp.path());
    let root = image_root(&layout, &bundle);
    assert_image_matches_the_dockerfile(&layout, &root, &build_output);

    let setup = Setup::new(&moto, "image");
    let executor = Executor::fargate_with(&moto, &setup.cluster, Launch::Image(root));
    let dir = setup.project(tmp.path());
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(
        &ws,
        &moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--tier",
            "fargate",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "success", "{report:#}");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{report:#}");
    assert_eq!(steps[0]["status"], "success");
    let ran = executor.wait_ran(1, Duration::from_secs(5));
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].id, steps[0]["remote_id"].as_str().unwrap());
    assert_eq!(ran[0].exit_code, Some(0), "the runner inside the image");
    assert!(ran[0].lines > 0, "the runner wrote its log");

    // The results came back through S3: the gold outputs read back have the SPEC checksums.
    assert_gold_checksums(&setup, &report, tmp.path());
    // And the logs through CloudWatch Logs, as the app shows them.
    let run_id = report["run_id"].as_str().unwrap();
    let logs = medallion(&ws, &moto, &["logs", run_id]);
    assert_eq!(logs.status.code(), Some(0), "{}", text(&logs));
    let logs = text(&logs);
    assert!(logs.contains("fixture: container started"), "{logs}");
    assert!(
        logs.contains("check cleaned_customer_data_unique_customer_id passed"),
        "{logs}"
    );
    let runs = json(&medallion(&ws, &moto, &["runs", "--format", "json"]));
    let listed = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == run_id)
        .unwrap();
    assert_eq!(listed["status"], "success");
    assert_eq!(listed["target"], "aws:fargate");
}
