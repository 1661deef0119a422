//! Deployed alerts against moto: a webhook and a Slack target become EventBridge connections
//! and API destinations, an alert rule one EventBridge rule per target and outcome on the state
//! machine's execution status changes, with the message written by an input transformer; the
//! URLs go to EventBridge only (never in the plan, the output or the workspace); a redeploy
//! changes nothing, a changed URL updates only its destination, and undeploy removes them all.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::deploy::{aws_toml_at, eks_toml, lake_bucket, workspace};
use crate::support::aws_executor::{runtime, sdk_config};

const HOOK: &str = "http://127.0.0.1:9/hooks/T0/B0/hook-token-3f9a";
const HOOK_2: &str = "http://127.0.0.1:9/hooks/T0/B0/hook-token-77c1";
const SLACK: &str = "https://hooks.slack.example/services/T1/B1/slack-token-0d2e";

const ALERTS: &str = r#"
[alert_targets.hook]
kind = "webhook"
url = { env = "DEPLOY_ALERT_HOOK" }

[alert_targets.team]
kind = "slack"
url = { env = "DEPLOY_ALERT_SLACK" }

[alert_targets.mail]
kind = "email"
host = "127.0.0.1"
port = 2525
tls = "none"
from = "medallion@example.com"
to = ["oncall@example.com"]

[alert_rules.runs]
events = ["run_failure", "run_success", "freshness_overdue"]
targets = ["hook", "team", "mail"]

[alert_rules.late]
events = ["freshness_overdue"]
targets = ["hook"]
"#;

fn medallion(ws: &Path, hook: &str, args: &[&str]) -> Output {
    crate::deploy::medallion_command(ws, args)
        .env("DEPLOY_ALERT_HOOK", hook)
        .env("DEPLOY_ALERT_SLACK", SLACK)
        .output()
        .unwrap()
}

fn no_url(o: &Output) -> String {
    let text = crate::common::text(o);
    for token in ["hook-token", "slack-token"] {
        assert!(!text.contains(token), "a URL was shown: {text}");
    }
    text
}

/// The alert items of a plan: (kind, name, action), connections, destinations and alert rules.
fn alert_actions(plan: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = plan["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["kind"] == "connection"
                || c["kind"] == "api_destination"
                || c["name"].as_str().unwrap().contains("-alert-")
        })
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_owned(),
                c["name"].as_str().unwrap().to_owned(),
                c["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// What moto has under the project's names: (connections, destinations with their endpoints,
/// rules whose name holds `-alert-` with their targets' ARNs and input templates).
#[allow(clippy::type_complexity)]
fn deployed(
    moto: &str,
    project: &str,
) -> (
    Vec<String>,
    Vec<(String, String, String)>,
    Vec<(String, String, String, Value)>,
) {
    let events = aws_sdk_eventbridge::Client::new(&sdk_config(moto));
    let prefix = format!("medallion-{project}-");
    runtime().block_on(async {
        let connections = events
            .list_connections()
            .send()
            .await
            .unwrap()
            .connections()
            .iter()
            .filter_map(|c| c.name().filter(|n| n.starts_with(&prefix)))
            .map(str::to_owned)
            .collect();
        let destinations = events
            .list_api_destinations()
            .send()
            .await
            .unwrap()
            .api_destinations()
            .iter()
            .filter(|d| d.name().unwrap().starts_with(&prefix))
            .map(|d| {
                (
                    d.name().unwrap().to_owned(),
                    d.api_destination_arn().unwrap().to_owned(),
                    d.invocation_endpoint().unwrap().to_owned(),
                )
            })
            .collect();
        let mut rules = Vec::new();
        for r in events.list_rules().send().await.unwrap().rules() {
            let name = r.name().unwrap();
            if !name.starts_with(&prefix) || !name.contains("-alert-") {
                continue;
            }
            let targets = events
                .list_targets_by_rule()
                .rule(name)
                .send()
                .await
                .unwrap();
            let t = &targets.targets()[0];
            rules.push((
                name.to_owned(),
                t.arn().to_owned(),
                t.input_transformer()
                    .map(|x| x.input_template().to_owned())
                    .unwrap_or_default(),
                serde_json::from_str(r.event_pattern().unwrap()).unwrap(),
            ));
        }
        rules.sort_by(|a, b| a.0.cmp(&b.0));
        (connections, destinations, rules)
    })
}

#[test]
fn alert_targets_deploy_as_api_destinations_and_rules_on_execution_status() {
    let Some(moto) = crate::remote_aws::peers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = format!("alerts_{}", std::process::id());
    lake_bucket(&moto);
    let (ws, _) = workspace(
        dir.path(),
        &name,
        &format!(
            "{}{ALERTS}{}",
            aws_toml_at(&moto, true, &format!("lake/{name}")),
            eks_toml(dir.path())
        ),
    );
    let p = format!("medallion-{name}");
    let item = |kind: &str, n: &str, action: &str| {
        (kind.to_owned(), format!("{p}-{n}"), action.to_owned())
    };

    // The plan: a connection and a destination per webhook target, a rule per target and
    // outcome; the e-mail target and the freshness-only rule are named as not deployed.
    let dry = medallion(
        &ws,
        HOOK,
        &["deploy", &name, "--dry-run", "--format", "json"],
    );
    let said = no_url(&dry);
    assert_eq!(dry.status.code(), Some(0), "{said}");
    let plan: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(
        alert_actions(&plan),
        vec![
            item("api_destination", "alert-hook", "create"),
            item("api_destination", "alert-team", "create"),
            item("connection", "alert-hook", "create"),
            item("connection", "alert-team", "create"),
            item("rule", "alert-runs-hook-failure", "create"),
            item("rule", "alert-runs-hook-success", "create"),
            item("rule", "alert-runs-team-failure", "create"),
            item("rule", "alert-runs-team-success", "create"),
        ]
    );
    let notes = plan["plan"]["notes"].to_string();
    assert!(
        notes.contains("alert target mail (e-mail over SMTP) is not deployed"),
        "{notes}"
    );
    assert!(notes.contains("alert rule late is not deployed"), "{notes}");
    let needed = plan["plan"]["roles"].to_string();
    assert!(needed.contains("events:InvokeApiDestination"), "{needed}");
    let text = medallion(&ws, HOOK, &["deploy", &name, "--dry-run"]);
    no_url(&text);
    assert!(deployed(&moto, &name).0.is_empty());

    // Applied: the destinations hold the URLs, each rule targets its destination, matches the
    // state machine's statuses, and writes the desktop's webhook document or a Slack message.
    let first = medallion(&ws, HOOK, &["deploy", &name]);
    let said = no_url(&first);
    assert_eq!(first.status.code(), Some(0), "{said}");
    let (connections, destinations, rules) = deployed(&moto, &name);
    assert_eq!(connections.len(), 2, "{connections:?}");
    let endpoint = |n: &str| {
        destinations
            .iter()
            .find(|d| d.0 == format!("{p}-{n}"))
            .unwrap_or_else(|| panic!("{n} in {destinations:?}"))
            .clone()
    };
    assert_eq!(endpoint("alert-hook").2, HOOK);
    assert_eq!(endpoint("alert-team").2, SLACK);
    assert_eq!(rules.len(), 4, "{rules:?}");
    let (_, target, template, pattern) = &rules[0];
    assert_eq!(rules[0].0, format!("{p}-alert-runs-hook-failure"));
    assert_eq!(target, &endpoint("alert-hook").1);
    assert!(template.contains("\"event\":\"run_failure\""), "{template}");
    assert!(template.contains("<execution>"), "{template}");
    assert_eq!(pattern["source"], serde_json::json!(["aws.states"]));
    assert_eq!(
        pattern["detail"]["status"],
        serde_json::json!(["FAILED", "TIMED_OUT", "ABORTED"])
    );
    let machine = pattern["detail"]["stateMachineArn"][0].as_str().unwrap();
    assert!(
        machine.starts_with("arn:aws:states:") && machine.ends_with(&p),
        "{machine}"
    );
    let slack = &rules[3];
    assert_eq!(slack.0, format!("{p}-alert-runs-team-success"));
    assert_eq!(slack.1, endpoint("alert-team").1);
    assert!(slack.2.contains(":white_check_mark:"), "{}", slack.2);
    assert_eq!(
        slack.3["detail"]["status"],
        serde_json::json!(["SUCCEEDED"])
    );

    // Again: nothing changes.
    let again = medallion(&ws, HOOK, &["deploy", &name, "--format", "json"]);
    let plan: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(
        alert_actions(&plan)
            .iter()
            .all(|(_, _, a)| a == "unchanged"),
        "{plan}"
    );

    // A new URL in the keyring: only its destination changes, and the plan shows no URL.
    let moved = medallion(&ws, HOOK_2, &["deploy", &name, "--format", "json"]);
    no_url(&moved);
    let plan: Value = serde_json::from_slice(&moved.stdout).unwrap();
    let changed: Vec<_> = alert_actions(&plan)
        .into_iter()
        .filter(|(_, _, a)| a != "unchanged")
        .collect();
    assert_eq!(
        changed,
        vec![item("api_destination", "alert-hook", "update")]
    );
    assert_eq!(
        deployed(&moto, &name)
            .1
            .iter()
            .find(|d| d.0 == format!("{p}-alert-hook"))
            .unwrap()
            .2,
        HOOK_2
    );

    // Undeploy: no connection, destination or alert rule is left; the workspace never saw a URL.
    let gone = medallion(&ws, HOOK_2, &["undeploy", &name]);
    let said = no_url(&gone);
    assert_eq!(gone.status.code(), Some(0), "{said}");
    let (connections, destinations, rules) = deployed(&moto, &name);
    assert!(connections.is_empty() && destinations.is_empty() && rules.is_empty());
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            let bytes = std::fs::read(&f).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("hook-token") && !text.contains("slack-token"),
                "{}",
                f.display()
            );
        }
    }
}

const SNS_ALERTS: &str = r#"
[alert_targets.hook]
kind = "webhook"
url = { env = "DEPLOY_ALERT_HOOK" }

[alert_targets.ops]
kind = "sns"
topic_arn = "TOPIC_ARN"

[alert_rules.runs]
events = ["run_failure"]
targets = ["hook", "ops"]
"#;

/// An SNS topic in moto, with AWS's default access policy (the owner account only).
fn topic(moto: &str, name: &str) -> String {
    let sns = aws_sdk_sns::Client::new(&sdk_config(moto));
    runtime()
        .block_on(sns.create_topic().name(name).send())
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned()
}

/// The rule's one target as moto has it: (ARN, role, dead-letter ARN, retry attempts).
fn rule_target(moto: &str, rule: &str) -> (String, Option<String>, Option<String>, Option<i32>) {
    let events = aws_sdk_eventbridge::Client::new(&sdk_config(moto));
    let out = runtime()
        .block_on(events.list_targets_by_rule().rule(rule).send())
        .unwrap();
    let t = &out.targets()[0];
    (
        t.arn().to_owned(),
        t.role_arn().map(str::to_owned),
        t.dead_letter_config()
            .and_then(|d| d.arn())
            .map(str::to_owned),
        t.retry_policy()
            .and_then(aws_sdk_eventbridge::types::RetryPolicy::maximum_retry_attempts),
    )
}

/// The queues moto has under `prefix`, with their `medallion:project` tag and access policy.
fn queues(moto: &str, prefix: &str) -> Vec<(String, Option<String>, Value)> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(moto));
    runtime().block_on(async {
        let mut out = Vec::new();
        let listed = sqs
            .list_queues()
            .queue_name_prefix(prefix)
            .send()
            .await
            .unwrap();
        for url in listed.queue_urls() {
            let tags = sqs.list_queue_tags().queue_url(url).send().await.unwrap();
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .unwrap();
            let attrs = attrs.attributes().unwrap();
            out.push((
                attrs[&QueueAttributeName::QueueArn].clone(),
                tags.tags()
                    .and_then(|t| t.get("medallion:project"))
                    .cloned(),
                attrs
                    .get(&QueueAttributeName::Policy)
                    .map_or(Value::Null, |p| serde_json::from_str(p).unwrap()),
            ));
        }
        out
    })
}

/// The line of `check-aws PROJECT --format json` about `item`, if it has one.
fn check_aws_line(ws: &Path, name: &str, item: &str) -> Option<Value> {
    let o = medallion(ws, HOOK, &["check-aws", name, "--format", "json"]);
    let checks: Value = serde_json::from_slice(&o.stdout).unwrap();
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["item"] == item)
        .cloned()
}

/// `check-aws` on the SNS target's topic: it exists, but AWS's default policy does not let
/// EventBridge publish (missing, with the statement to add); with that statement added, ok.
fn check_aws_verifies_the_topic_policy(moto: &str, ws: &Path, name: &str, arn: &str) {
    // check-aws: the topic exists, but AWS's default policy does not let EventBridge publish.
    let check = |ws: &Path| -> Value {
        check_aws_line(ws, name, "alert target ops (SNS topic)").expect("no topic line")
    };
    let line = check(ws);
    assert_eq!(line["state"], "missing", "{line}");
    let detail = line["detail"].as_str().unwrap();
    assert!(
        detail.contains("its access policy does not let EventBridge publish")
            && detail.contains("events.amazonaws.com"),
        "{detail}"
    );
    let sns = aws_sdk_sns::Client::new(&sdk_config(moto));
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowEventBridgePublish", "Effect": "Allow",
            "Principal": { "Service": "events.amazonaws.com" },
            "Action": "sns:Publish", "Resource": arn,
        }],
    });
    runtime()
        .block_on(
            sns.set_topic_attributes()
                .topic_arn(arn)
                .attribute_name("Policy")
                .attribute_value(policy.to_string())
                .send(),
        )
        .unwrap();
    let line = check(ws);
    assert_eq!(line["state"], "ok", "{line}");
    check_aws_verifies_the_topic_key(moto, ws, name, arn);
}

/// `check-aws` on the key of a KMS-encrypted topic: an unencrypted topic has no key line; one
/// encrypted with a key whose policy is KMS's default (the account's root only) is `missing`
/// with the statement to add; with that statement in the key policy, `ok`.
fn check_aws_verifies_the_topic_key(moto: &str, ws: &Path, name: &str, arn: &str) {
    let key_line = |ws: &Path| check_aws_line(ws, name, "alert target ops (SNS topic key)");
    assert_eq!(
        key_line(ws),
        None,
        "an unencrypted topic has no key to check"
    );
    let config = sdk_config(moto);
    let (sns, kms) = (
        aws_sdk_sns::Client::new(&config),
        aws_sdk_kms::Client::new(&config),
    );
    let rt = runtime();
    let key = rt
        .block_on(kms.create_key().description("alert topic key").send())
        .unwrap();
    let key = key.key_metadata().unwrap();
    let (key_id, key_arn) = (key.key_id().to_owned(), key.arn().unwrap().to_owned());
    let encrypt = |key: &str| {
        rt.block_on(
            sns.set_topic_attributes()
                .topic_arn(arn)
                .attribute_name("KmsMasterKeyId")
                .attribute_value(key)
                .send(),
        )
        .unwrap();
    };
    encrypt(&key_id);
    let line = key_line(ws).expect("an encrypted topic's key is checked");
    assert_eq!(line["state"], "missing", "{line}");
    let detail = line["detail"].as_str().unwrap();
    assert!(
        detail.contains(&key_arn)
            && detail.contains("does not let EventBridge use it")
            && detail.contains(r#""Principal":{"Service":"events.amazonaws.com"}"#)
            && detail.contains(r#""Action":["kms:Decrypt","kms:GenerateDataKey"]"#),
        "{detail}"
    );
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions", "Effect": "Allow",
                "Principal": { "AWS": "arn:aws:iam::123456789012:root" },
                "Action": "kms:*", "Resource": "*",
            },
            {
                "Sid": "AllowEventBridgeToUseTheKey", "Effect": "Allow",
                "Principal": { "Service": "events.amazonaws.com" },
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
            },
        ],
    });
    rt.block_on(
        kms.put_key_policy()
            .key_id(&key_id)
            .policy_name("default")
            .policy(policy.to_string())
            .send(),
    )
    .unwrap();
    let line = key_line(ws).unwrap();
    assert_eq!(line["state"], "ok", "{line}");
    // A key that does not exist is named.
    encrypt("arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000");
    let line = key_line(ws).unwrap();
    assert_eq!(line["state"], "missing", "{line}");
    assert!(
        line["detail"]
            .as_str()
            .unwrap()
            .contains("which does not exist"),
        "{line}"
    );
    encrypt("");
}

/// An SNS target deploys as a rule whose target is the topic (no role: the topic's policy lets
/// EventBridge publish, which `check-aws` verifies), every alert rule's target gets the
/// project's dead-letter queue and a retry policy, the queue lets EventBridge send from exactly
/// those rules, a redeploy changes nothing, and undeploy removes the queue and the rules but not
/// the topic, which deploy did not create.
#[test]
fn an_sns_target_and_the_dead_letter_queue_deploy_check_and_undeploy() {
    let Some(moto) = crate::remote_aws::peers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = format!("sns_{}", std::process::id());
    lake_bucket(&moto);
    let arn = topic(&moto, &format!("ops-alerts-{}", std::process::id()));
    let (ws, _) = workspace(
        dir.path(),
        &name,
        &format!(
            "{}{}{}",
            aws_toml_at(&moto, true, &format!("lake/{name}")),
            SNS_ALERTS.replace("TOPIC_ARN", &arn),
            eks_toml(dir.path())
        ),
    );
    let p = format!("medallion-{name}");
    let item = |kind: &str, n: &str, action: &str| {
        (kind.to_owned(), format!("{p}-{n}"), action.to_owned())
    };

    check_aws_verifies_the_topic_policy(&moto, &ws, &name, &arn);

    // The plan: the SNS target is a rule (no connection or destination), the queue is created.
    let dry = medallion(
        &ws,
        HOOK,
        &["deploy", &name, "--dry-run", "--format", "json"],
    );
    assert_eq!(dry.status.code(), Some(0), "{}", no_url(&dry));
    let plan: Value = serde_json::from_slice(&dry.stdout).unwrap();
    let mut listed: Vec<_> = alert_actions(&plan);
    listed.extend(
        plan["plan"]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "queue")
            .map(|c| {
                (
                    "queue".to_owned(),
                    c["name"].as_str().unwrap().to_owned(),
                    c["action"].as_str().unwrap().to_owned(),
                )
            }),
    );
    assert_eq!(
        listed,
        vec![
            item("api_destination", "alert-hook", "create"),
            item("connection", "alert-hook", "create"),
            item("rule", "alert-runs-hook-failure", "create"),
            item("rule", "alert-runs-ops-failure", "create"),
            item("queue", "alerts-dlq", "create"),
        ]
    );
    let text = crate::common::text(&medallion(&ws, HOOK, &["deploy", &name, "--dry-run"]));
    assert!(text.contains(&format!("SNS topic {arn}")), "{text}");
    assert!(text.contains(&format!("queue {p}-alerts-dlq")), "{text}");
    assert!(queues(&moto, &format!("{p}-")).is_empty());

    // Applied.
    let first = medallion(&ws, HOOK, &["deploy", &name]);
    assert_eq!(first.status.code(), Some(0), "{}", no_url(&first));
    let q = queues(&moto, &format!("{p}-"));
    assert_eq!(q.len(), 1, "{q:?}");
    let (queue_arn, tag, policy) = &q[0];
    assert!(
        queue_arn.ends_with(&format!("{p}-alerts-dlq")),
        "{queue_arn}"
    );
    assert_eq!(tag.as_deref(), Some(name.as_str()));
    let st = &policy["Statement"][0];
    assert_eq!(
        st["Principal"]["Service"], "events.amazonaws.com",
        "{policy}"
    );
    assert_eq!(st["Action"], "sqs:SendMessage");
    assert_eq!(&st["Resource"], queue_arn);
    let mut sources: Vec<String> = st["Condition"]["ArnEquals"]["aws:SourceArn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    sources.sort();
    let account = queue_arn.split(':').nth(4).unwrap();
    assert_eq!(
        sources,
        [
            format!("arn:aws:events:us-east-1:{account}:rule/{p}-alert-runs-hook-failure"),
            format!("arn:aws:events:us-east-1:{account}:rule/{p}-alert-runs-ops-failure"),
        ]
    );
    let (target, role, dlq, retries) = rule_target(&moto, &format!("{p}-alert-runs-ops-failure"));
    assert_eq!(target, arn);
    assert_eq!(role, None, "an SNS target needs no role");
    assert_eq!(dlq.as_ref(), Some(queue_arn));
    assert_eq!(retries, Some(185));
    let (target, role, dlq, _) = rule_target(&moto, &format!("{p}-alert-runs-hook-failure"));
    assert!(target.contains(":api-destination/"), "{target}");
    assert!(role.is_some());
    assert_eq!(dlq.as_ref(), Some(queue_arn));

    // Again: nothing changes.
    let again = medallion(&ws, HOOK, &["deploy", &name, "--format", "json"]);
    let plan: Value = serde_json::from_slice(&again.stdout).unwrap();
    let changed = crate::deploy::changes(&plan);
    assert!(changed.is_empty(), "{changed:?}");

    // Undeploy: no queue and no rule is left; the topic, which deploy did not create, stays.
    let gone = medallion(&ws, HOOK, &["undeploy", &name]);
    assert_eq!(gone.status.code(), Some(0), "{}", no_url(&gone));
    assert!(queues(&moto, &format!("{p}-")).is_empty());
    assert!(deployed(&moto, &name).2.is_empty());
    let sns = aws_sdk_sns::Client::new(&sdk_config(&moto));
    runtime()
        .block_on(sns.get_topic_attributes().topic_arn(&arn).send())
        .unwrap();
}
