//! The dead-letter queue of deployed alerts: one SQS queue `medallion-<project>-alerts-dlq`,
//! tagged `medallion:project` like the rest, which keeps for 14 days every alert EventBridge
//! could not deliver after its retries (an API destination that kept failing, an SNS topic
//! that refused the publish). Its access policy lets `events.amazonaws.com` send to it from the
//! project's alert rules only (`aws:SourceArn` is each rule's ARN). The desired settings name
//! the rules; the policy itself is written by `apply`, which knows the queue's ARN (and so the
//! account and region of the rules' ARNs) once the queue exists.

use std::collections::BTreeMap;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};

use super::{Action, Change, Current, Desired, ItemKind, PROJECT_TAG, every_page, resource_name};
use crate::compute::aws::Aws;
use crate::compute::error::ComputeError;

/// How long an undelivered alert is kept: SQS's longest, 14 days.
pub const RETENTION_SECONDS: u32 = 1_209_600;

/// A rule target's dead-letter ARN before the queue exists: `apply` puts the ARN in its place.
pub const PENDING_QUEUE: &str = "pending:sqs-queue:";

/// The sid of the policy statement that lets EventBridge send.
const SID: &str = "MedallionAlertRulesDeadLetters";

/// The queue's name.
pub fn name(project: &str) -> String {
    resource_name(project, Some("alerts-dlq"), 80)
}

/// The queue as the project wants it: kept 14 days, sent to by these alert rules.
pub fn desired(project: &str, rules: &[String]) -> Desired {
    let mut rules = rules.to_vec();
    rules.sort();
    rules.dedup();
    Desired {
        kind: ItemKind::Queue,
        name: name(project),
        summary: format!(
            "SQS dead-letter queue: keeps for 14 days what EventBridge could not deliver for {} alert rule(s)",
            rules.len()
        ),
        config: json!({
            "retention_seconds": RETENTION_SECONDS.to_string(),
            "send_from_rules": rules,
        }),
    }
}

/// The access policy of queue `queue_arn`: EventBridge may send from the rules named.
///
/// # Errors
/// A queue ARN that is not `arn:<partition>:sqs:<region>:<account>:<name>`.
pub fn policy(queue_arn: &str, rules: &[String]) -> Result<Value, ComputeError> {
    let parts: Vec<&str> = queue_arn.split(':').collect();
    let [_, partition, _, region, account, _] = parts.as_slice() else {
        return Err(ComputeError::invalid(format!(
            "SQS gave the queue an ARN Medallion cannot read: {queue_arn}"
        )));
    };
    let sources: Vec<String> = rules
        .iter()
        .map(|r| format!("arn:{partition}:events:{region}:{account}:rule/{r}"))
        .collect();
    Ok(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": SID,
            "Effect": "Allow",
            "Principal": { "Service": "events.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": { "ArnEquals": { "aws:SourceArn": sources } },
        }],
    }))
}

/// The rules a queue's policy lets send (by name), as its current settings compare them: empty
/// when the policy is not the one deploy writes.
fn rules_in_policy(policy: &str, queue_arn: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return Vec::new();
    };
    let Some(st) = doc["Statement"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["Sid"] == SID))
    else {
        return Vec::new();
    };
    if st["Effect"] != "Allow"
        || st["Principal"]["Service"] != "events.amazonaws.com"
        || st["Action"] != "sqs:SendMessage"
        || st["Resource"] != queue_arn
    {
        return Vec::new();
    }
    let sources = &st["Condition"]["ArnEquals"]["aws:SourceArn"];
    let arns: Vec<&str> = match sources {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = arns
        .iter()
        .filter_map(|a| a.split_once(":rule/").map(|(_, n)| n.to_owned()))
        .collect();
    out.sort();
    out
}

/// The project's queue as AWS has it (named under the project and tagged for it).
///
/// # Errors
/// A failed AWS call, naming what was read.
pub fn current(aws: &Aws, project: &str) -> Result<Vec<Current>, ComputeError> {
    let client = aws.sqs();
    let prefix = resource_name(project, None, 80);
    let project = project.to_owned();
    aws.block(async move {
        let urls = every_page(|token| {
            let list = client
                .list_queues()
                .queue_name_prefix(&prefix)
                .set_next_token(token);
            async move {
                let page = list
                    .send()
                    .await
                    .map_err(|e| ComputeError::from_sdk("listing SQS queues", &e))?;
                Ok((
                    page.queue_urls().to_vec(),
                    page.next_token().map(str::to_owned),
                ))
            }
        })
        .await?;
        let mut out = Vec::new();
        for url in &urls {
            let tags = client
                .list_queue_tags()
                .queue_url(url)
                .send()
                .await
                .map_err(|e| {
                    ComputeError::from_sdk(format!("reading the tags of queue {url}"), &e)
                })?;
            if tags.tags().and_then(|t| t.get(PROJECT_TAG)) != Some(&project) {
                continue;
            }
            let attrs = client
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk(format!("reading queue {url}"), &e))?;
            let get = |k: QueueAttributeName| {
                attrs
                    .attributes()
                    .and_then(|a| a.get(&k))
                    .cloned()
                    .unwrap_or_default()
            };
            let arn = get(QueueAttributeName::QueueArn);
            let name = arn.rsplit(':').next().unwrap_or_default().to_owned();
            out.push(Current {
                kind: ItemKind::Queue,
                name,
                config: json!({
                    "retention_seconds": get(QueueAttributeName::MessageRetentionPeriod),
                    "send_from_rules": rules_in_policy(&get(QueueAttributeName::Policy), &arn),
                }),
                arn,
            });
        }
        Ok(out)
    })
}

/// Creates, updates or deletes the queue; its ARN when created (for the rules' dead-letter
/// settings applied after it).
///
/// # Errors
/// A failed AWS call, naming the queue.
pub fn apply(
    aws: &Aws,
    project: &str,
    c: &Change,
    config: &Value,
) -> Result<Option<String>, ComputeError> {
    let client = aws.sqs();
    let (name, action, project) = (c.name.clone(), c.action, project.to_owned());
    let rules: Vec<String> = config["send_from_rules"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let retention = config["retention_seconds"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    aws.block(async move {
        let url = match action {
            Action::Create => client
                .create_queue()
                .queue_name(&name)
                .attributes(QueueAttributeName::MessageRetentionPeriod, &retention)
                .tags(PROJECT_TAG, &project)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk(format!("creating SQS queue {name}"), &e))?
                .queue_url()
                .unwrap_or_default()
                .to_owned(),
            Action::Update | Action::Delete => client
                .get_queue_url()
                .queue_name(&name)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk(format!("finding SQS queue {name}"), &e))?
                .queue_url()
                .unwrap_or_default()
                .to_owned(),
            Action::Unchanged => return Ok(None),
        };
        if action == Action::Delete {
            client
                .delete_queue()
                .queue_url(&url)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk(format!("deleting SQS queue {name}"), &e))?;
            return Ok(None);
        }
        let arn = client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| ComputeError::from_sdk(format!("reading SQS queue {name}"), &e))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        let policy = policy(&arn, &rules)?.to_string();
        let attributes: BTreeMap<QueueAttributeName, String> = [
            (QueueAttributeName::Policy, policy),
            (QueueAttributeName::MessageRetentionPeriod, retention),
        ]
        .into();
        client
            .set_queue_attributes()
            .queue_url(&url)
            .set_attributes(Some(attributes.into_iter().collect()))
            .send()
            .await
            .map_err(|e| {
                ComputeError::from_sdk(format!("setting the policy of SQS queue {name}"), &e)
            })?;
        Ok((action == Action::Create).then_some(arn))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_lets_eventbridge_send_from_the_named_rules_and_reads_back() {
        let arn = "arn:aws:sqs:eu-west-1:123456789012:medallion-shop-alerts-dlq";
        let rules = vec![
            "medallion-shop-alert-runs-ops-failure".to_owned(),
            "medallion-shop-alert-runs-hook-failure".to_owned(),
        ];
        let p = policy(arn, &rules).unwrap();
        let st = &p["Statement"][0];
        assert_eq!(st["Principal"]["Service"], "events.amazonaws.com");
        assert_eq!(
            st["Condition"]["ArnEquals"]["aws:SourceArn"][0],
            "arn:aws:events:eu-west-1:123456789012:rule/medallion-shop-alert-runs-ops-failure"
        );
        let mut sorted = rules.clone();
        sorted.sort();
        assert_eq!(rules_in_policy(&p.to_string(), arn), sorted);
        // Another queue's policy, or none, names no rule (an update rewrites it).
        assert!(rules_in_policy(&p.to_string(), "arn:aws:sqs:eu-west-1:1:x").is_empty());
        assert!(rules_in_policy("", arn).is_empty());
        assert!(policy("not-an-arn", &rules).is_err());
    }

    #[test]
    fn the_desired_queue_names_its_rules_in_order() {
        let d = desired("shop", &["b".to_owned(), "a".to_owned(), "a".to_owned()]);
        assert_eq!(d.name, "medallion-shop-alerts-dlq");
        assert_eq!(d.config["send_from_rules"], json!(["a", "b"]));
        assert_eq!(d.config["retention_seconds"], "1209600");
    }
}
