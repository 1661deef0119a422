//! Previews and diffs of materializations a remote run stored on S3 (moto, the real runner
//! behind the Lambda front): the engine reads local files, so the desktop copies the
//! objects it needs into its S3 cache first — a preview of a gold asset from stored upstreams,
//! a preview along an edge in the studio, and `medallion diff` of two remote runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use crate::remote_aws::{Setup, json, medallion, peers, text};
use crate::support::lambda_front::LambdaFront;

/// The studio's edge preview in a child test process that has moto's credentials in its
/// environment (the studio reads S3 in-process).
const CHILD: &str = "MEDALLION_TEST_S3_PREVIEW_CHILD";

fn submit(ws: &Path, moto: &str, dir: &Path) -> serde_json::Value {
    let o = medallion(
        ws,
        moto,
        &[
            "submit",
            dir.to_str().unwrap(),
            "--tier",
            "lambda",
            "--force",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["status"], "success", "{report:#}");
    report
}

#[test]
fn previews_and_diffs_read_materializations_a_remote_run_stored_on_s3() {
    if let Ok(ws) = std::env::var(CHILD) {
        edge_preview_in_the_studio(Path::new(&ws));
        return;
    }
    let Some(moto) = peers() else { return };
    let setup = Setup::new(&moto, "s3prev");
    let front = LambdaFront::start(&moto);
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup.copy_project_via(&crate::common::example(), tmp.path(), &front.url);
    let ws = tmp.path().join("ws.sqlite");
    let first = submit(&ws, &moto, &dir);
    let locations: Vec<&str> = first["materializations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["location"].as_str().unwrap())
        .collect();
    assert!(
        locations.iter().all(|l| l.starts_with("s3://")),
        "{locations:?}"
    );

    // A gold asset previewed from its stored upstreams, which are on S3.
    let o = medallion(
        &ws,
        &moto,
        &[
            "preview",
            "customer_analytics",
            "daily_revenue",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let preview = json(&o);
    assert!(
        !preview["rows"].as_array().unwrap().is_empty(),
        "{preview:#}"
    );
    let cache = tmp.path().join("s3-cache/customer_analytics");
    assert!(
        cache.join("order_history/_").is_dir(),
        "the upstream was copied into the S3 cache"
    );

    // Two remote runs of the same data: their materializations on S3 differ in nothing.
    let second = submit(&ws, &moto, &dir);
    let o = medallion(
        &ws,
        &moto,
        &[
            "diff",
            "customer_analytics",
            "cleaned_customer_data",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let diff = json(&o);
    assert_eq!(diff["only_in_a"], 0, "{diff:#}");
    assert_eq!(diff["only_in_b"], 0, "{diff:#}");
    assert_eq!(diff["changed"], 0, "{diff:#}");
    assert_eq!(diff["unchanged"], diff["rows_a"], "{diff:#}");

    // The studio previews along an edge from S3 (a child with moto's credentials).
    let child = crate::common::test_path(
        module_path!(),
        "previews_and_diffs_read_materializations_a_remote_run_stored_on_s3",
    );
    let mut envs = crate::support::aws_executor::container_env(&moto);
    envs.push((CHILD.to_owned(), ws.to_string_lossy().into_owned()));
    crate::common::run_child_test(&child, envs);

    // An object gone from the bucket (and not in the cache) is one sentence naming it.
    std::fs::remove_dir_all(&cache).unwrap();
    let last_run = second["run_id"].as_str().unwrap();
    let gone = second["materializations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["asset"] == "order_history")
        .unwrap()["location"]
        .as_str()
        .unwrap()
        .to_owned();
    delete_object(&moto, &gone);
    let o = medallion(
        &ws,
        &moto,
        &["preview", "customer_analytics", "daily_revenue"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let said = String::from_utf8_lossy(&o.stderr).trim().to_owned();
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.contains(&format!(
            "order_history from run {last_run} is on S3 ({gone})"
        )) && said.contains("no longer in the bucket"),
        "{said}"
    );
}

fn delete_object(moto: &str, uri: &str) {
    let (bucket, key) = uri.strip_prefix("s3://").unwrap().split_once('/').unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&crate::support::aws_executor::sdk_config(moto))
            .force_path_style(true)
            .build(),
    );
    let rt = crate::support::aws_executor::runtime();
    rt.block_on(s3.head_object().bucket(bucket).key(key).send())
        .unwrap_or_else(|e| panic!("{uri} is not there to delete: {e:?}"));
    rt.block_on(s3.delete_object().bucket(bucket).key(key).send())
        .unwrap();
}

fn edge_preview_in_the_studio(ws: &Path) {
    use medallion::model::AssetKey;
    let project = {
        let w = medallion::app::open_workspace(ws).unwrap();
        medallion::app::load_project(&w, "customer_analytics")
            .unwrap()
            .project
    };
    let mut h = crate::common::studio::harness(
        medallion::ui::Studio::with_workspace(Some(project), ws).unwrap(),
    );
    h.state_mut().preview_edge(
        &AssetKey::new("order_history"),
        &AssetKey::new("daily_revenue"),
    );
    crate::common::studio::wait_until(&mut h, "the edge preview", Duration::from_mins(1), |s| {
        let p = &s.workbench.preview;
        p.loading.is_none() && (p.data.is_some() || p.error.is_some())
    });
    let p = &h.state().workbench.preview;
    assert_eq!(p.error, None);
    let data = p.data.as_ref().unwrap();
    assert_eq!(data.asset, AssetKey::new("order_history"));
    assert!(!data.rows.is_empty(), "{}", data.note);
}
