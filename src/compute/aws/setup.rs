//! "Check AWS setup": asks AWS whether everything an `aws` resource's compute section names
//! exists — the bucket, the ECS cluster, the log groups, the runner roles, the image in ECR, the
//! Batch queue and job definition, the Lambda function, the SNS topics of alert targets — and says
//! precisely what is missing and how to create it.

use aws_sdk_s3::error::ProvideErrorMetadata;
use serde::Serialize;

use super::Aws;
use crate::compute::error::ComputeError;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Ok,
    /// Missing or unusable: `detail` says what and how to fix it.
    Missing,
    /// Not configured (that tier is not used) or not checkable here.
    Skipped,
}

/// One line of the setup check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupCheck {
    /// What was checked, e.g. `bucket`, `cluster`, `task role`.
    pub item: String,
    pub state: CheckState,
    pub detail: String,
}

fn line(item: &str, state: CheckState, detail: impl Into<String>) -> SetupCheck {
    SetupCheck {
        item: item.to_owned(),
        state,
        detail: detail.into(),
    }
}

/// The account the credentials act in (STS), which audit entries of runs and deploys name;
/// not knowing it blocks nothing (the entries then say "unknown").
fn account(aws: &Aws) -> SetupCheck {
    match aws.account() {
        Ok(id) => line(
            "account",
            CheckState::Ok,
            format!("{id} (STS GetCallerIdentity; audit entries name it)"),
        ),
        Err(e) => line(
            "account",
            CheckState::Skipped,
            format!("unknown ({e}); audit entries will say the account is unknown"),
        ),
    }
}

/// Every check, in a fixed order.
pub fn check(aws: &Aws) -> Vec<SetupCheck> {
    let s = aws.settings.clone();
    let mut out = vec![account(aws), bucket(aws, &s.bucket)];
    match &s.cluster {
        Some(cluster) => {
            out.push(ecs_cluster(aws, cluster));
            out.push(if s.subnets.is_empty() {
                line(
                    "subnets",
                    CheckState::Missing,
                    "compute.subnets is empty: Fargate tasks need at least one subnet",
                )
            } else {
                line(
                    "subnets",
                    CheckState::Skipped,
                    format!("{} set (not checked: no EC2 access)", s.subnets.join(", ")),
                )
            });
            out.push(log_group(aws, "log group", s.log_group_or_default()));
        }
        None => out.push(line(
            "cluster",
            CheckState::Skipped,
            "no compute.cluster: Fargate is not set up",
        )),
    }
    out.push(role(aws, "task role", s.task_role_arn.as_deref(), false));
    out.push(role(
        aws,
        "execution role",
        s.execution_role_arn.as_deref(),
        s.cluster.is_some(),
    ));
    out.push(image(aws, s.image.as_deref()));
    match (&s.job_queue, &s.job_definition) {
        (None, None) => out.push(line(
            "job queue",
            CheckState::Skipped,
            "no compute.job_queue: Batch is not set up",
        )),
        (queue, definition) => {
            out.push(match queue {
                Some(q) => job_queue(aws, q),
                None => line(
                    "job queue",
                    CheckState::Missing,
                    "compute.job_queue is not set, but compute.job_definition is",
                ),
            });
            out.push(match definition {
                Some(d) => job_definition(aws, d),
                None => line(
                    "job definition",
                    CheckState::Missing,
                    "compute.job_definition is not set, but compute.job_queue is",
                ),
            });
            out.push(log_group(
                aws,
                "batch log group",
                s.batch_log_group_or_default(),
            ));
        }
    }
    out.push(match &s.lambda_function {
        Some(f) => lambda_function(aws, f),
        None => line(
            "lambda function",
            CheckState::Skipped,
            "no compute.lambda_function: Lambda is not set up",
        ),
    });
    out
}

fn bucket(aws: &Aws, bucket: &str) -> SetupCheck {
    let client = aws.s3();
    let name = bucket.to_owned();
    aws.block(async move {
        match client.head_bucket().bucket(&name).send().await {
            Ok(_) => line(
                "bucket",
                CheckState::Ok,
                format!("s3://{name} is reachable"),
            ),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => line(
                "bucket",
                CheckState::Missing,
                format!("bucket {name} does not exist: create it (aws s3 mb s3://{name})"),
            ),
            Err(e) => line(
                "bucket",
                CheckState::Missing,
                ComputeError::from_sdk(format!("checking bucket {name}"), &e).to_string(),
            ),
        }
    })
}

fn ecs_cluster(aws: &Aws, cluster: &str) -> SetupCheck {
    let client = aws.ecs();
    let name = cluster.to_owned();
    aws.block(async move {
        match client.describe_clusters().clusters(&name).send().await {
            Ok(out) => match out.clusters().first() {
                Some(c) if c.status() == Some("ACTIVE") => {
                    line("cluster", CheckState::Ok, format!("ECS cluster {name} is active"))
                }
                Some(c) => line(
                    "cluster",
                    CheckState::Missing,
                    format!(
                        "ECS cluster {name} is {}, not ACTIVE",
                        c.status().unwrap_or("in an unknown state")
                    ),
                ),
                None => line(
                    "cluster",
                    CheckState::Missing,
                    format!(
                        "ECS cluster {name} does not exist: create it (aws ecs create-cluster --cluster-name {name})"
                    ),
                ),
            },
            Err(e) => line(
                "cluster",
                CheckState::Missing,
                ComputeError::from_sdk(format!("checking ECS cluster {name}"), &e).to_string(),
            ),
        }
    })
}

fn log_group(aws: &Aws, item: &'static str, group: &str) -> SetupCheck {
    let client = aws.logs();
    let name = group.to_owned();
    aws.block(async move {
        match client
            .describe_log_groups()
            .log_group_name_prefix(&name)
            .send()
            .await
        {
            Ok(out) if out.log_groups().iter().any(|g| g.log_group_name() == Some(&name)) => {
                line(item, CheckState::Ok, format!("log group {name} exists"))
            }
            Ok(_) => line(
                item,
                CheckState::Missing,
                format!(
                    "log group {name} does not exist: create it (aws logs create-log-group --log-group-name {name})"
                ),
            ),
            Err(e) => line(
                item,
                CheckState::Missing,
                ComputeError::from_sdk(format!("checking log group {name}"), &e).to_string(),
            ),
        }
    })
}

fn role(aws: &Aws, item: &'static str, arn: Option<&str>, required: bool) -> SetupCheck {
    let Some(arn) = arn else {
        return if required {
            line(
                item,
                CheckState::Missing,
                "compute.execution_role_arn is not set: Fargate needs it to pull the image and write logs",
            )
        } else {
            line(
                item,
                CheckState::Skipped,
                "not set: tasks run without a role",
            )
        };
    };
    let Some(name) = arn
        .rsplit('/')
        .next()
        .filter(|n| arn.contains(":role/") && !n.is_empty())
    else {
        return line(
            item,
            CheckState::Missing,
            format!("`{arn}` is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
        );
    };
    let client = aws_sdk_iam::Client::new(&aws.config);
    let (name, arn) = (name.to_owned(), arn.to_owned());
    aws.block(async move {
        match client.get_role().role_name(&name).send().await {
            Ok(_) => line(item, CheckState::Ok, format!("{arn} exists")),
            Err(e) if e.code() == Some("NoSuchEntity") => line(
                item,
                CheckState::Missing,
                format!("role {name} does not exist ({arn}): create it in IAM"),
            ),
            Err(e) => line(
                item,
                CheckState::Missing,
                ComputeError::from_sdk(format!("checking role {name}"), &e).to_string(),
            ),
        }
    })
}

/// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:TAG]` → (repository, tag).
pub fn ecr_repository(image: &str) -> Option<(String, String)> {
    let (host, rest) = image.split_once('/')?;
    if !host.contains(".dkr.ecr.") {
        return None;
    }
    let (repo, tag) = match rest.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (rest, "latest"),
    };
    Some((repo.to_owned(), tag.to_owned()))
}

fn image(aws: &Aws, image: Option<&str>) -> SetupCheck {
    let Some(image) = image else {
        return line(
            "image",
            CheckState::Missing,
            "compute.image is not set: build the runner image (packaging/runner/build-image.sh) and push it to ECR",
        );
    };
    let Some((repo, tag)) = ecr_repository(image) else {
        return line(
            "image",
            CheckState::Skipped,
            format!("{image} is not in ECR: not checked"),
        );
    };
    let client = aws_sdk_ecr::Client::new(&aws.config);
    let image = image.to_owned();
    // The image build-image.sh writes, pushed to the name the resource expects.
    let push = format!(
        "push the runner image (packaging/runner/build-image.sh, then skopeo copy oci:medallion-runner.oci:latest docker://{image})"
    );
    aws.block(async move {
        match client
            .describe_images()
            .repository_name(&repo)
            .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(&tag).build())
            .send()
            .await
        {
            Ok(out) if !out.image_details().is_empty() => {
                line("image", CheckState::Ok, format!("{image} is in ECR"))
            }
            Ok(_) => line(
                "image",
                CheckState::Missing,
                format!("{image}: ECR repository {repo} has no tag {tag}: {push}"),
            ),
            Err(e) if e.code() == Some("RepositoryNotFoundException") => line(
                "image",
                CheckState::Missing,
                format!(
                    "{image}: ECR repository {repo} does not exist: create it (aws ecr create-repository --repository-name {repo}) and {push}"
                ),
            ),
            Err(e) if e.code() == Some("ImageNotFoundException") => line(
                "image",
                CheckState::Missing,
                format!("{image}: ECR repository {repo} has no tag {tag}: {push}"),
            ),
            Err(e) => line(
                "image",
                CheckState::Missing,
                ComputeError::from_sdk(format!("checking image {image}"), &e).to_string(),
            ),
        }
    })
}

fn job_queue(aws: &Aws, queue: &str) -> SetupCheck {
    let client = aws.batch();
    let name = queue.to_owned();
    aws.block(async move {
        match client.describe_job_queues().job_queues(&name).send().await {
            Ok(out) => match out.job_queues().first() {
                Some(q) if q.state().is_some_and(|s| s.as_str() == "ENABLED") => line(
                    "job queue",
                    CheckState::Ok,
                    format!("Batch job queue {name} is enabled"),
                ),
                Some(_) => line(
                    "job queue",
                    CheckState::Missing,
                    format!("Batch job queue {name} is disabled: enable it"),
                ),
                None => line(
                    "job queue",
                    CheckState::Missing,
                    format!("Batch job queue {name} does not exist: create it"),
                ),
            },
            Err(e) => line(
                "job queue",
                CheckState::Missing,
                ComputeError::from_sdk(format!("checking Batch job queue {name}"), &e).to_string(),
            ),
        }
    })
}

fn job_definition(aws: &Aws, definition: &str) -> SetupCheck {
    let client = aws.batch();
    let name = definition.to_owned();
    aws.block(async move {
        let request = if name.starts_with("arn:") || name.contains(':') {
            client.describe_job_definitions().job_definitions(&name)
        } else {
            client
                .describe_job_definitions()
                .job_definition_name(&name)
                .status("ACTIVE")
        };
        match request.send().await {
            Ok(out) if !out.job_definitions().is_empty() => line(
                "job definition",
                CheckState::Ok,
                format!("Batch job definition {name} is active"),
            ),
            Ok(_) => line(
                "job definition",
                CheckState::Missing,
                format!(
                    "Batch job definition {name} does not exist: register one whose container runs the runner image"
                ),
            ),
            Err(e) => line(
                "job definition",
                CheckState::Missing,
                ComputeError::from_sdk(format!("checking Batch job definition {name}"), &e).to_string(),
            ),
        }
    })
}

fn lambda_function(aws: &Aws, function: &str) -> SetupCheck {
    let client = aws.lambda();
    let name = function.to_owned();
    aws.block(async move {
        match client.get_function().function_name(&name).send().await {
            Ok(_) => line(
                "lambda function",
                CheckState::Ok,
                format!("Lambda function {name} exists"),
            ),
            Err(e) if e.code() == Some("ResourceNotFoundException") => line(
                "lambda function",
                CheckState::Missing,
                format!(
                    "Lambda function {name} does not exist: create it from the runner image (package type Image)"
                ),
            ),
            Err(e) => line(
                "lambda function",
                CheckState::Missing,
                ComputeError::from_sdk(format!("checking Lambda function {name}"), &e).to_string(),
            ),
        }
    })
}

/// Whether bucket `bucket`, which `s3_objects` sensor `sensor` watches, sends its events to
/// EventBridge: a deployed sensor's rule hears nothing otherwise.
pub fn eventbridge_notifications(aws: &Aws, sensor: &str, bucket: &str) -> SetupCheck {
    let client = aws.s3();
    let item = format!("sensor {sensor} events");
    let name = bucket.to_owned();
    aws.block(async move {
        match client
            .get_bucket_notification_configuration()
            .bucket(&name)
            .send()
            .await
        {
            Ok(c) if c.event_bridge_configuration().is_some() => line(
                &item,
                CheckState::Ok,
                format!("bucket {name} sends its events to EventBridge"),
            ),
            Ok(_) => line(
                &item,
                CheckState::Missing,
                format!(
                    "bucket {name} does not send its events to EventBridge, so the deployed rule of sensor {sensor} never fires: turn it on (S3 → {name} → Properties → Event notifications → Amazon EventBridge, or aws s3api put-bucket-notification-configuration --bucket {name} --notification-configuration '{{\"EventBridgeConfiguration\": {{}}}}')"
                ),
            ),
            Err(e) => line(
                &item,
                CheckState::Missing,
                ComputeError::from_sdk(format!("reading the event notifications of bucket {name}"), &e)
                    .to_string(),
            ),
        }
    })
}

/// The statement an SNS topic's policy needs for EventBridge rules to publish to it.
pub fn events_publish_statement(topic_arn: &str) -> serde_json::Value {
    serde_json::json!({
        "Sid": "AllowEventBridgePublish",
        "Effect": "Allow",
        "Principal": { "Service": "events.amazonaws.com" },
        "Action": "sns:Publish",
        "Resource": topic_arn,
    })
}

/// Whether one value of a policy (a string or a list of strings) holds `wanted`.
fn holds(v: Option<&serde_json::Value>, wanted: &[&str]) -> bool {
    match v {
        Some(serde_json::Value::String(s)) => wanted.contains(&s.as_str()),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|s| wanted.contains(&s))),
        _ => false,
    }
}

/// The `Allow` statements of a policy (its JSON text) for EventBridge (`events.amazonaws.com`),
/// or for everyone without a condition.
fn statements_for_events(policy: &str) -> Vec<serde_json::Value> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return Vec::new();
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(items)) => items.clone(),
        Some(one @ serde_json::Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    statements
        .into_iter()
        .filter(|st| {
            let principal = st.get("Principal");
            let to_events = principal
                .and_then(|p| p.get("Service"))
                .is_some_and(|s| holds(Some(s), &["events.amazonaws.com"]));
            let to_all = st.get("Condition").is_none()
                && (principal.and_then(serde_json::Value::as_str) == Some("*")
                    || principal
                        .and_then(|p| p.get("AWS"))
                        .is_some_and(|a| holds(Some(a), &["*"])));
            st.get("Effect").and_then(serde_json::Value::as_str) == Some("Allow")
                && (to_events || to_all)
        })
        .collect()
}

/// Whether a topic policy (its JSON text) lets EventBridge (`events.amazonaws.com`) publish to
/// `topic_arn`: an `Allow` statement for that service principal (or for everyone, with no
/// condition) whose actions hold `sns:Publish` and whose resources hold the topic.
pub fn policy_lets_events_publish(policy: &str, topic_arn: &str) -> bool {
    statements_for_events(policy).iter().any(|st| {
        holds(st.get("Action"), &["sns:Publish", "sns:*", "*"])
            && holds(st.get("Resource"), &[topic_arn, "*"])
    })
}

/// The statement a KMS key's policy needs for EventBridge to publish to a topic encrypted with
/// the key (EventBridge encrypts what it publishes with it).
pub fn events_key_statement() -> serde_json::Value {
    serde_json::json!({
        "Sid": "AllowEventBridgeToUseTheKey",
        "Effect": "Allow",
        "Principal": { "Service": "events.amazonaws.com" },
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
    })
}

/// Whether a key policy (its JSON text) lets EventBridge use the key `key_arn` for a topic:
/// `Allow` statements for `events.amazonaws.com` (or for everyone, with no condition) that
/// between them hold `kms:Decrypt` and `kms:GenerateDataKey` on the key (`*` in a key policy).
pub fn key_policy_lets_events_use(policy: &str, key_arn: &str) -> bool {
    let on_key: Vec<serde_json::Value> = statements_for_events(policy)
        .into_iter()
        .filter(|st| holds(st.get("Resource"), &["*", key_arn]))
        .collect();
    let allows = |actions: &[&str]| on_key.iter().any(|st| holds(st.get("Action"), actions));
    allows(&["kms:Decrypt", "kms:*", "*"])
        && allows(&["kms:GenerateDataKey", "kms:GenerateDataKey*", "kms:*", "*"])
}

/// Whether the SNS topic of alert target `target` exists and lets EventBridge publish to it
/// (deploy uses the topic as it is: it neither creates it nor changes its policy); for a topic
/// encrypted with KMS (`KmsMasterKeyId`), a second line on whether the key lets EventBridge
/// use it.
pub fn sns_topic(aws: &Aws, target: &str, topic_arn: &str) -> Vec<SetupCheck> {
    let item = format!("alert target {target} (SNS topic)");
    let region = match crate::model::TopicArn::parse(topic_arn) {
        Ok(arn) => arn.region.to_owned(),
        Err(e) => {
            return vec![line(
                &item,
                CheckState::Missing,
                format!("topic ARN `{topic_arn}` {e}"),
            )];
        }
    };
    let client = aws.sns(&region);
    let topic = topic_arn.to_owned();
    let attributes = aws.block(async move {
        client
            .get_topic_attributes()
            .topic_arn(&topic)
            .send()
            .await
            .map(|out| out.attributes().cloned().unwrap_or_default())
    });
    let topic = topic_arn;
    let attributes = match attributes {
        Ok(a) => a,
        Err(e) if e.code() == Some("NotFound") => {
            return vec![line(
                &item,
                CheckState::Missing,
                format!(
                    "topic {topic} does not exist: create it (aws sns create-topic --name {}) or name an existing topic",
                    topic.rsplit(':').next().unwrap_or_default()
                ),
            )];
        }
        Err(e) => {
            return vec![line(
                &item,
                CheckState::Missing,
                ComputeError::from_sdk(format!("reading SNS topic {topic}"), &e).to_string(),
            )];
        }
    };
    let policy = attributes.get("Policy").cloned().unwrap_or_default();
    let mut out = vec![if policy_lets_events_publish(&policy, topic) {
        line(
            &item,
            CheckState::Ok,
            format!("{topic} exists and its policy lets events.amazonaws.com publish"),
        )
    } else {
        line(
            &item,
            CheckState::Missing,
            format!(
                "{topic} exists, but its access policy does not let EventBridge publish, so deployed alerts cannot reach it (they end in the dead-letter queue): add the statement {} to the topic's access policy (SNS → Topics → Edit → Access policy)",
                events_publish_statement(topic)
            ),
        )
    }];
    if let Some(key) = attributes
        .get("KmsMasterKeyId")
        .filter(|k| !k.trim().is_empty())
    {
        out.push(topic_key(aws, target, topic, &region, key));
    }
    out
}

/// Whether the KMS key `key` (an id, ARN or alias) an alert topic is encrypted with lets
/// EventBridge use it.
fn topic_key(aws: &Aws, target: &str, topic: &str, topic_region: &str, key: &str) -> SetupCheck {
    let item = format!("alert target {target} (SNS topic key)");
    // A key ARN names its region; an id or alias is in the topic's.
    let region = key
        .strip_prefix("arn:")
        .and_then(|rest| rest.split(':').nth(2))
        .filter(|r| !r.is_empty())
        .unwrap_or(topic_region);
    let client = aws.kms(region);
    let key_id = key.to_owned();
    let read = aws.block(async move {
        let described = client.describe_key().key_id(&key_id).send().await;
        let meta = match described {
            Ok(d) => d.key_metadata().cloned(),
            Err(e) => {
                return Err((
                    e.code().map(str::to_owned),
                    ComputeError::from_sdk(format!("describing KMS key {key_id}"), &e).to_string(),
                ));
            }
        };
        let Some(meta) = meta else {
            return Ok(None);
        };
        let policy = client
            .get_key_policy()
            .key_id(meta.key_id())
            .policy_name("default")
            .send()
            .await
            .map_err(|e| {
                (
                    e.code().map(str::to_owned),
                    ComputeError::from_sdk(format!("reading the policy of KMS key {key_id}"), &e)
                        .to_string(),
                )
            })?;
        Ok(Some((meta, policy.policy().unwrap_or_default().to_owned())))
    });
    let statement = events_key_statement();
    match read {
        Ok(Some((meta, policy))) => {
            let arn = meta.arn().unwrap_or(meta.key_id()).to_owned();
            if key_policy_lets_events_use(&policy, &arn) {
                line(
                    &item,
                    CheckState::Ok,
                    format!(
                        "{topic} is encrypted with KMS key {arn}, whose policy lets events.amazonaws.com use it (kms:Decrypt, kms:GenerateDataKey)"
                    ),
                )
            } else if meta.key_manager() == Some(&aws_sdk_kms::types::KeyManagerType::Aws) {
                line(
                    &item,
                    CheckState::Missing,
                    format!(
                        "{topic} is encrypted with the AWS managed key {key}, whose policy cannot be changed to let EventBridge use it, so deployed alerts cannot reach the topic: encrypt the topic with a customer managed key whose policy has the statement {statement}"
                    ),
                )
            } else {
                line(
                    &item,
                    CheckState::Missing,
                    format!(
                        "{topic} is encrypted with KMS key {arn}, whose key policy does not let EventBridge use it, so deployed alerts cannot reach the topic (they end in the dead-letter queue): add the statement {statement} to the key's policy (KMS → Customer managed keys → the key → Key policy)"
                    ),
                )
            }
        }
        Ok(None) => line(
            &item,
            CheckState::Skipped,
            format!(
                "KMS did not describe key {key} of {topic}: unknown whether EventBridge may use it; its policy needs the statement {statement}"
            ),
        ),
        Err((Some(code), _)) if code == "NotFoundException" => line(
            &item,
            CheckState::Missing,
            format!(
                "{topic} is encrypted with KMS key {key}, which does not exist, so nothing can publish to it: name an existing key in the topic's encryption settings"
            ),
        ),
        Err((Some(code), said)) if code == "AccessDeniedException" => line(
            &item,
            CheckState::Skipped,
            format!(
                "{said}; unknown whether EventBridge may use the key of {topic}: its policy needs the statement {statement}"
            ),
        ),
        Err((_, said)) => line(&item, CheckState::Missing, said),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_policy_lets_eventbridge_publish_only_with_a_matching_allow() {
        let arn = "arn:aws:sns:us-east-1:123456789012:ops";
        let ours = serde_json::json!({ "Statement": [events_publish_statement(arn)] });
        assert!(policy_lets_events_publish(&ours.to_string(), arn));
        // AWS's default policy: the owner account only, under a condition.
        let default = serde_json::json!({ "Statement": [{
            "Effect": "Allow", "Principal": { "AWS": "*" }, "Action": ["SNS:Publish", "sns:Publish"],
            "Resource": arn, "Condition": { "StringEquals": { "AWS:SourceOwner": "123456789012" } }
        }]});
        assert!(!policy_lets_events_publish(&default.to_string(), arn));
        let other = serde_json::json!({ "Statement": [events_publish_statement("arn:aws:sns:us-east-1:123456789012:x")] });
        assert!(!policy_lets_events_publish(&other.to_string(), arn));
        let denied = serde_json::json!({ "Statement": [{
            "Effect": "Deny", "Principal": { "Service": "events.amazonaws.com" }, "Action": "sns:Publish", "Resource": arn
        }]});
        assert!(!policy_lets_events_publish(&denied.to_string(), arn));
        assert!(!policy_lets_events_publish("", arn));
    }

    #[test]
    fn a_key_policy_lets_eventbridge_use_the_key_only_with_both_actions() {
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let policy = |statements: serde_json::Value| {
            serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
        };
        assert!(key_policy_lets_events_use(
            &policy(serde_json::json!([events_key_statement()])),
            key
        ));
        // KMS's default key policy: the account's root only.
        let root = serde_json::json!({
            "Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::123456789012:root" }, "Action": "kms:*", "Resource": "*"
        });
        assert!(!key_policy_lets_events_use(
            &policy(serde_json::json!([root])),
            key
        ));
        // Decrypt alone is not enough; the two actions may come in two statements.
        let decrypt = serde_json::json!({
            "Effect": "Allow", "Principal": { "Service": "events.amazonaws.com" },
            "Action": "kms:Decrypt", "Resource": "*"
        });
        assert!(!key_policy_lets_events_use(
            &policy(serde_json::json!([decrypt])),
            key
        ));
        let generate = serde_json::json!({
            "Effect": "Allow", "Principal": { "Service": "events.amazonaws.com" },
            "Action": "kms:GenerateDataKey*", "Resource": key
        });
        assert!(key_policy_lets_events_use(
            &policy(serde_json::json!([decrypt, generate])),
            key
        ));
        let elsewhere = serde_json::json!({
            "Effect": "Allow", "Principal": { "Service": "events.amazonaws.com" },
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "arn:aws:kms:us-east-1:123456789012:key/other"
        });
        assert!(!key_policy_lets_events_use(
            &policy(serde_json::json!([elsewhere])),
            key
        ));
        assert!(!key_policy_lets_events_use("", key));
    }

    #[test]
    fn ecr_image_names_split_into_repository_and_tag() {
        assert_eq!(
            ecr_repository("123.dkr.ecr.us-east-1.amazonaws.com/medallion/runner:v2"),
            Some(("medallion/runner".into(), "v2".into()))
        );
        assert_eq!(
            ecr_repository("123.dkr.ecr.us-east-1.amazonaws.com/runner"),
            Some(("runner".into(), "latest".into()))
        );
        assert_eq!(ecr_repository("ghcr.io/x/runner:1"), None);
    }
}
