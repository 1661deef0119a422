//! Alerts to an Amazon SNS topic, delivered for real against moto: an SQS queue subscribed to
//! the topic receives what a finished run and `alerts test` publish (the webhook's JSON
//! document, with the e-mail's subject), published with the project's `aws` resource; a topic
//! that does not exist is one sentence naming it.

use std::fmt::Write as _;
use std::process::Command;

use serde_json::Value;

use crate::common::{copy_dir, example, json, text};
use crate::deploy::medallion;
use crate::support::aws_executor::{runtime, sdk_config};

/// A topic with an SQS queue subscribed to it: (topic ARN, queue URL).
fn topic_with_queue(moto: &str, name: &str) -> (String, String) {
    let config = sdk_config(moto);
    let (sns, sqs) = (
        aws_sdk_sns::Client::new(&config),
        aws_sdk_sqs::Client::new(&config),
    );
    runtime().block_on(async {
        let topic = sns
            .create_topic()
            .name(name)
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_owned();
        let url = sqs
            .create_queue()
            .queue_name(format!("{name}-inbox"))
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap();
        (topic, url)
    })
}

/// Every message the queue holds now: SNS's envelopes (`Subject`, `Message`, `TopicArn`).
fn received(moto: &str, url: &str) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(moto));
    runtime().block_on(async {
        let mut out = Vec::new();
        loop {
            let got = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            if got.messages().is_empty() {
                return out;
            }
            for m in got.messages() {
                out.push(serde_json::from_str(m.body().unwrap()).unwrap());
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    })
}

#[test]
fn a_finished_run_and_a_test_reach_an_sqs_queue_subscribed_to_the_topic() {
    let Some(moto) = crate::remote_aws::peers() else {
        return;
    };
    let pid = std::process::id();
    let (topic, inbox) = topic_with_queue(&moto, &format!("data-alerts-{pid}"));
    let missing = format!("arn:aws:sns:us-east-1:123456789012:no-such-topic-{pid}");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("customer_analytics");
    copy_dir(&example(), &dir);
    let toml = dir.join("medallion.toml");
    let mut t = std::fs::read_to_string(&toml).unwrap();
    write!(
        t,
        r#"
[resources.ops_aws]
kind = "aws"
region = "eu-west-1"
endpoint_url = "{moto}"

[alert_targets.ops]
kind = "sns"
topic_arn = "{topic}"
resource = "ops_aws"

[alert_targets.gone]
kind = "sns"
topic_arn = "{missing}"

[alert_rules.runs]
events = ["run_success"]
targets = ["ops"]
"#
    )
    .unwrap();
    std::fs::write(&toml, t).unwrap();
    let ws = tmp.path().join("ws.sqlite");
    let o = medallion(&ws, &["import", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    // A finished run: one delivery, which SNS accepted, and the queue holds the document.
    let o = medallion(
        &ws,
        &["materialize", "customer_analytics", "--format", "json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = json(&o);
    let run = &out["runs"][0];
    let alerts = run["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["delivered"], true, "{alerts:?}");
    assert_eq!(alerts[0]["target_kind"], "sns");
    assert!(
        alerts[0]["answer"]
            .as_str()
            .unwrap()
            .starts_with("SNS accepted message "),
        "{alerts:?}"
    );
    let got = received(&moto, &inbox);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["TopicArn"], topic.as_str());
    let subject = got[0]["Subject"].as_str().unwrap();
    assert!(subject.starts_with("[Medallion] "), "{subject}");
    let doc: Value = serde_json::from_str(got[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(doc["event"], "run_success");
    assert_eq!(doc["project"], "customer_analytics");
    assert_eq!(doc["details"]["run_id"], run["run_id"]);

    // `alerts test`: delivered, and it is the test message.
    let o = medallion(&ws, &["alerts", "test", "customer_analytics", "ops"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("delivered to `ops` (sns); it answered SNS accepted message"),
        "{}",
        text(&o)
    );
    let got = received(&moto, &inbox);
    assert_eq!(got.len(), 1, "{got:?}");
    let doc: Value = serde_json::from_str(got[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(doc["event"], "test", "{doc}");

    // A topic that does not exist: refused at once (not retried), in one sentence naming it.
    let o = medallion(&ws, &["alerts", "test", "customer_analytics", "gone"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains(&format!("publishing to SNS topic {missing} failed")),
        "{said}"
    );
    assert!(said.contains("NotFound"), "{said}");
    assert!(said.contains("(sns) failed after 1 attempt(s)"), "{said}");
    assert_eq!(said.trim().lines().count(), 1, "{said}");
}

#[test]
fn a_malformed_topic_arn_is_refused_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    copy_dir(&example(), &dir);
    let toml = dir.join("medallion.toml");
    let mut t = std::fs::read_to_string(&toml).unwrap();
    let lines = t.lines().count();
    t.push_str(
        "\n[alert_targets.ops]\nkind = \"sns\"\ntopic_arn = \"arn:aws:sns:eu-west-1:42:ops\"\n",
    );
    std::fs::write(&toml, t).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(["validate", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    // The `[alert_targets.ops]` line: after the example's lines and a blank one.
    let at = format!("medallion.toml:{}:", lines + 2);
    assert!(said.contains(&at), "{at} in: {said}");
    assert!(
        said.contains("alert target `ops`: topic ARN `arn:aws:sns:eu-west-1:42:ops` has no 12-digit account id"),
        "{said}"
    );
}
