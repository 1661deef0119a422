//! The studio's Deployment window against moto: opened from the Project menu it reads what AWS
//! has for the project off the UI thread and says how it differs (here: a schedule whose cron
//! changed since the deploy — drift), Deploy asks first and then applies (the window then says
//! the deployment is up to date), and Undeploy removes it all. The CLI then plans creates only,
//! and the audit log holds the studio's deploy and undeploy.

use std::path::Path;
use std::time::Duration;

use egui_kittest::kittest::Queryable;
use medallion::app::deploy::DeployOutcome;
use medallion::ui::Studio;

use crate::deploy::{aws_toml_at, eks_toml, json, lake_bucket, medallion, workspace};

/// The child's workspace and project, `<workspace>|<project>`.
const CHILD: &str = "MEDALLION_TEST_STUDIO_DEPLOYMENT";

fn headline(s: &Studio) -> Option<String> {
    match s.windows.deployment.as_ref()?.outcome.as_ref()? {
        Ok(o) if s.windows.deployment.as_ref()?.pending.is_none() => {
            Some(DeployOutcome::headline(o))
        }
        Ok(_) => None,
        Err(e) => Some(format!("error: {e}")),
    }
}

#[test]
fn the_deployment_window_shows_drift_deploys_and_undeploys() {
    let Some(moto) = crate::remote_aws::peers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = format!("studio_deploy_{}", std::process::id());
    lake_bucket(&moto);
    let (ws, copy) = workspace(
        dir.path(),
        &name,
        &format!(
            "{}{}",
            aws_toml_at(&moto, true, &format!("lake/{name}")),
            eks_toml(dir.path())
        ),
    );
    // Deployed from the CLI, then the cron changed in the project: AWS now differs.
    let first = medallion(&ws, &["deploy", &name]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        crate::common::text(&first)
    );
    let toml = copy.join("medallion.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replace("cron = \"0 6 * * *\"", "cron = \"0 5 * * 1-5\""),
    )
    .unwrap();
    let mut w = medallion::app::open_workspace(&ws).unwrap();
    medallion::app::import_project(&mut w, &copy, true, false).unwrap();
    drop(w);

    let child = crate::common::test_path(module_path!(), "the_deployment_window_in_a_child");
    crate::common::run_child_test(
        &child,
        [
            (CHILD, format!("{}|{name}", ws.display())),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ],
    );

    // What the studio did is what AWS has: nothing deployed is left.
    let plan = json(&medallion(
        &ws,
        &["deploy", &name, "--dry-run", "--format", "json"],
    ));
    let changes = plan["plan"]["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    assert!(changes.iter().all(|c| c["action"] == "create"), "{plan}");
    let audit = crate::common::text(&medallion(&ws, &["audit", &name, "--format", "json"]));
    assert_eq!(audit.matches("\"deployed\"").count(), 2, "{audit}");
    assert_eq!(audit.matches("\"undeployed\"").count(), 1, "{audit}");
}

/// Run by the test above in a child process with AWS credentials; on its own it returns.
#[test]
fn the_deployment_window_in_a_child() {
    use crate::common::studio::{harness, wait_until};
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let (ws, project) = spec.split_once('|').unwrap();
    let ws = Path::new(ws);
    let stored = {
        let w = medallion::app::open_workspace(ws).unwrap();
        medallion::app::load_project(&w, project).unwrap().project
    };
    let mut h = harness(Studio::with_workspace(Some(stored), ws).unwrap());
    let limit = Duration::from_mins(1);
    h.get_by_label("Project").click();
    h.run_steps(2);
    h.get_by_label("Deployment on AWS…").click();
    h.run_steps(2);
    wait_until(&mut h, "the deployment plan", limit, |s| {
        headline(s).is_some()
    });
    let said = headline(h.state()).unwrap();
    assert!(
        said.starts_with(
            "Deployed, but AWS differs from the project: 0 to create, 1 to update, 0 to delete"
        ),
        "{said}"
    );
    // The changed schedule, with what differs.
    h.get_by_label_contains("expression: cron(0 6 * * ? *) → cron(0 5 ? * 2-6 *)");
    // The deployed schedule's next fire time, from what is deployed (06:00 UTC daily).
    h.get_by_label_contains("next fire (as deployed): ");
    h.get_by_label_contains(" 06:00 UTC");

    // Deploy asks first; yes applies, and the window reads AWS again.
    h.get_by_label("Deploy…").click();
    h.run_steps(2);
    assert!(
        h.state()
            .windows
            .deployment
            .as_ref()
            .unwrap()
            .pending
            .is_none()
    );
    h.get_by_label_contains("Apply this plan to AWS: 0 to create, 1 to update, 0 to delete?");
    h.get_by_label("Yes, deploy").click();
    h.run_steps(2);
    wait_until(&mut h, "the deploy and the new plan", limit, |s| {
        headline(s).is_some_and(|t| t.starts_with("Deployed and up to date"))
    });
    let notice = h
        .state()
        .notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default();
    assert!(
        notice.starts_with("Deployed: 0 created, 1 updated, 0 deleted"),
        "{notice}"
    );

    // Undeploy, confirmed: nothing is deployed any more.
    h.get_by_label("Undeploy…").click();
    h.run_steps(2);
    h.get_by_label("Yes, undeploy").click();
    h.run_steps(2);
    wait_until(&mut h, "the undeploy and the new plan", limit, |s| {
        headline(s).is_some_and(|t| t.starts_with("Not deployed: deploying creates"))
    });
}
