//! A deployment read from and written to AWS: what is deployed for a project (everything
//! tagged `medallion:project` with its name — the state machine, the schedule group whose
//! schedules are the project's, the rules) and the changes of a plan carried out in order.

use std::collections::BTreeMap;

use serde_json::Value;

use super::alerts::{PENDING_DESTINATION, SecretUrl};
use super::objects::Content;
use super::{Action, Change, Current, ItemKind, PROJECT_TAG, every_page, resource_name};
use crate::compute::aws::Aws;
use crate::compute::error::{ComputeError, ErrorKind};

/// In a plan made before the state machine exists, where its ARN goes (replaced on apply).
pub const PENDING_STATE_MACHINE_ARN: &str = "(the state machine's ARN, once created)";

fn said(action: &str, what: impl std::fmt::Display) -> ComputeError {
    ComputeError::said(ErrorKind::Transient, format!("{action}: {what}"))
}

/// Everything deployed for `project`: the objects under its `_deploy/` folder, the rest found
/// by its tag (schedules through their tagged group).
///
/// # Errors
/// A failed AWS call, as one sentence.
pub fn current(aws: &Aws, project: &str) -> Result<Vec<Current>, ComputeError> {
    let mut out = super::objects::current(aws)?;
    out.extend(state_machines(aws, project)?);
    out.extend(schedules(aws, project)?);
    out.extend(rules(aws, project)?);
    out.extend(super::destinations::current(aws, project)?);
    out.extend(super::queue::current(aws, project)?);
    Ok(out)
}

fn state_machines(aws: &Aws, project: &str) -> Result<Vec<Current>, ComputeError> {
    let sfn = aws.sfn();
    let project = project.to_owned();
    aws.block(async move {
        let machines = every_page(|token| {
            let list = sfn.list_state_machines().set_next_token(token);
            async move {
                let page = list.send().await.map_err(|e| {
                    ComputeError::from_sdk("listing Step Functions state machines", &e)
                })?;
                Ok((
                    page.state_machines().to_vec(),
                    page.next_token().map(str::to_owned),
                ))
            }
        })
        .await?;
        let mut out = Vec::new();
        for m in &machines {
            let arn = m.state_machine_arn();
            let tags = sfn
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk(format!("reading the tags of {arn}"), &e))?;
            let ours = tags
                .tags()
                .iter()
                .any(|t| t.key() == Some(PROJECT_TAG) && t.value() == Some(project.as_str()));
            if !ours {
                continue;
            }
            let d = sfn
                .describe_state_machine()
                .state_machine_arn(arn)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk(format!("describing {arn}"), &e))?;
            let definition: Value = serde_json::from_str(d.definition()).unwrap_or(Value::Null);
            out.push(Current {
                kind: ItemKind::StateMachine,
                name: m.name().to_owned(),
                arn: arn.to_owned(),
                config: serde_json::json!({ "definition": definition, "role_arn": d.role_arn() }),
            });
        }
        Ok(out)
    })
}

/// The project's schedule group (when tagged for it) and every schedule in it.
fn schedules(aws: &Aws, project: &str) -> Result<Vec<Current>, ComputeError> {
    let client = aws.scheduler();
    let group = resource_name(project, None, 64);
    let project = project.to_owned();
    aws.block(async move {
        let groups = client
            .list_schedule_groups()
            .name_prefix(&group)
            .send()
            .await
            .map_err(|e| {
                ComputeError::from_sdk("listing EventBridge Scheduler schedule groups", &e)
            })?;
        let Some(g) = groups
            .schedule_groups()
            .iter()
            .find(|g| g.name() == Some(group.as_str()))
        else {
            return Ok(Vec::new());
        };
        let arn = g.arn().unwrap_or_default().to_owned();
        let tags = client
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| ComputeError::from_sdk(format!("reading the tags of {arn}"), &e))?;
        if !tags
            .tags()
            .iter()
            .any(|t| t.key() == PROJECT_TAG && t.value() == project)
        {
            return Ok(Vec::new());
        }
        let mut out = vec![Current {
            kind: ItemKind::ScheduleGroup,
            name: group.clone(),
            arn,
            config: serde_json::json!({}),
        }];
        let schedules = every_page(|token| {
            let list = client
                .list_schedules()
                .group_name(&group)
                .set_next_token(token);
            let group = &group;
            async move {
                let page = list.send().await.map_err(|e| {
                    ComputeError::from_sdk(format!("listing the schedules of {group}"), &e)
                })?;
                Ok((
                    page.schedules().to_vec(),
                    page.next_token().map(str::to_owned),
                ))
            }
        })
        .await?;
        for s in &schedules {
            let name = s.name().unwrap_or_default();
            let d = client
                .get_schedule()
                .group_name(&group)
                .name(name)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk(format!("reading schedule {name}"), &e))?;
            let target = d.target();
            out.push(Current {
                kind: ItemKind::Schedule,
                name: name.to_owned(),
                arn: d.arn().unwrap_or_default().to_owned(),
                config: serde_json::json!({
                    "expression": d.schedule_expression(),
                    "timezone": d.schedule_expression_timezone().unwrap_or("UTC"),
                    "state": d.state().map(|s| s.as_str().to_owned()),
                    "target": target.map(aws_sdk_scheduler::types::Target::arn),
                    "role_arn": target.map(aws_sdk_scheduler::types::Target::role_arn),
                    "input": target.and_then(|t| t.input()),
                }),
            });
        }
        Ok(out)
    })
}

/// The rules named for the project and tagged for it, with their one target.
fn rules(aws: &Aws, project: &str) -> Result<Vec<Current>, ComputeError> {
    let client = aws.events();
    let prefix = resource_name(project, None, 64);
    let project = project.to_owned();
    aws.block(async move {
        let listed = every_page(|token| {
            let list = client
                .list_rules()
                .name_prefix(&prefix)
                .set_next_token(token);
            async move {
                let page = list
                    .send()
                    .await
                    .map_err(|e| ComputeError::from_sdk("listing EventBridge rules", &e))?;
                Ok((page.rules().to_vec(), page.next_token().map(str::to_owned)))
            }
        })
        .await?;
        let mut out = Vec::new();
        for r in &listed {
            let (Some(name), Some(arn)) = (r.name(), r.arn()) else {
                continue;
            };
            let tags = client
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk(format!("reading the tags of {arn}"), &e))?;
            if !tags
                .tags()
                .iter()
                .any(|t| t.key() == PROJECT_TAG && t.value() == project)
            {
                continue;
            }
            let targets = client
                .list_targets_by_rule()
                .rule(name)
                .send()
                .await
                .map_err(|e| {
                    ComputeError::from_sdk(format!("reading the targets of rule {name}"), &e)
                })?;
            let t = targets.targets().first();
            let pattern: Value = r
                .event_pattern()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or(Value::Null);
            out.push(Current {
                kind: ItemKind::Rule,
                name: name.to_owned(),
                arn: arn.to_owned(),
                config: serde_json::json!({
                    "event_pattern": pattern,
                    "state": r.state().map(|s| s.as_str().to_owned()),
                    "target": t.map(aws_sdk_eventbridge::types::Target::arn),
                    "role_arn": t.and_then(|t| t.role_arn()),
                    "input": t.and_then(|t| t.input()),
                    "input_paths": t
                        .and_then(|t| t.input_transformer())
                        .and_then(|x| x.input_paths_map())
                        .map(|m| m.iter().collect::<BTreeMap<_, _>>()),
                    "input_template": t
                        .and_then(|t| t.input_transformer())
                        .map(aws_sdk_eventbridge::types::InputTransformer::input_template),
                    "dead_letter_arn": t
                        .and_then(|t| t.dead_letter_config())
                        .and_then(aws_sdk_eventbridge::types::DeadLetterConfig::arn),
                    "retry_policy": t.and_then(|t| t.retry_policy()).map(|r| serde_json::json!({
                        "maximum_retry_attempts": r.maximum_retry_attempts(),
                        "maximum_event_age_in_seconds": r.maximum_event_age_in_seconds(),
                    })),
                }),
            });
        }
        Ok(out)
    })
}

/// What a plan writes besides its settings: the objects' contents and the alert targets'
/// URLs, by name.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    pub contents: &'a BTreeMap<String, Content>,
    pub urls: &'a BTreeMap<String, SecretUrl>,
}

/// Carries out `changes` in order (an object created or updated is written from its content,
/// an API destination pointed at its URL, by name); returns the state machine's ARN when the
/// plan has one. ARNs known only once created (the state machine's, the API destinations')
/// are put in place of their placeholders in later settings. Stops at the first failure (what
/// was done stays done: a second deploy finishes the rest).
///
/// # Errors
/// A failed AWS call, naming the resource; an object without content.
pub fn apply(
    aws: &Aws,
    project: &str,
    changes: &[Change],
    payload: Payload<'_>,
) -> Result<Option<String>, ComputeError> {
    let mut machine_arn = changes
        .iter()
        .find(|c| c.kind == ItemKind::StateMachine && c.action != Action::Delete)
        .and_then(|c| c.arn.clone());
    // Connections, destinations and the queue by name, for what is created after them.
    let mut arns: BTreeMap<String, String> = changes
        .iter()
        .filter(|c| {
            matches!(
                c.kind,
                ItemKind::Connection | ItemKind::ApiDestination | ItemKind::Queue
            )
        })
        .filter_map(|c| Some((c.name.clone(), c.arn.clone()?)))
        .collect();
    for c in changes {
        if c.action == Action::Unchanged {
            continue;
        }
        let mut config = c.desired.clone().unwrap_or(Value::Null);
        resolve(&mut config, machine_arn.as_deref(), &arns);
        let created = match c.kind {
            ItemKind::Object => apply_object(aws, c, payload.contents).map(|()| None)?,
            ItemKind::StateMachine => {
                if let Some(arn) = apply_state_machine(aws, project, c, &config)? {
                    machine_arn = Some(arn);
                }
                None
            }
            ItemKind::Connection => {
                super::destinations::apply_connection(aws, project, c, &config)?
            }
            ItemKind::ApiDestination => {
                super::destinations::apply_destination(aws, c, &config, payload.urls, &arns)?
            }
            ItemKind::Queue => super::queue::apply(aws, project, c, &config)?,
            ItemKind::ScheduleGroup => apply_group(aws, project, c).map(|()| None)?,
            ItemKind::Schedule => apply_schedule(aws, project, c, &config).map(|()| None)?,
            ItemKind::Rule => apply_rule(aws, project, c, &config).map(|()| None)?,
        };
        if let Some(arn) = created {
            arns.insert(c.name.clone(), arn);
        }
    }
    Ok(machine_arn)
}

/// Puts the ARNs known by now in place of their placeholders, in every string of `config`.
fn resolve(config: &mut Value, machine: Option<&str>, arns: &BTreeMap<String, String>) {
    match config {
        Value::String(s) => {
            if let (Some(arn), true) = (machine, s.as_str() == PENDING_STATE_MACHINE_ARN) {
                arn.clone_into(s);
            } else if let Some(arn) = s
                .strip_prefix(PENDING_DESTINATION)
                .or_else(|| s.strip_prefix(super::queue::PENDING_QUEUE))
                .and_then(|name| arns.get(name))
            {
                *s = arn.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| resolve(v, machine, arns)),
        Value::Object(map) => map.values_mut().for_each(|v| resolve(v, machine, arns)),
        _ => {}
    }
}

fn apply_object(
    aws: &Aws,
    c: &Change,
    contents: &BTreeMap<String, Content>,
) -> Result<(), ComputeError> {
    if c.action == Action::Delete {
        return super::objects::delete(aws, &c.name);
    }
    let content = contents.get(&c.name).ok_or_else(|| {
        ComputeError::invalid(format!("the deployment has no content for {}", c.name))
    })?;
    super::objects::put(aws, &c.name, content)
}

fn text(config: &Value, key: &str) -> String {
    match config.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn apply_state_machine(
    aws: &Aws,
    project: &str,
    c: &Change,
    config: &Value,
) -> Result<Option<String>, ComputeError> {
    let sfn = aws.sfn();
    let definition = config
        .get("definition")
        .map(Value::to_string)
        .unwrap_or_default();
    let role = text(config, "role_arn");
    let (name, arn, action, project) =
        (c.name.clone(), c.arn.clone(), c.action, project.to_owned());
    aws.block(async move {
        match (action, arn) {
            (Action::Create, _) => {
                let out = sfn
                    .create_state_machine()
                    .name(&name)
                    .definition(definition)
                    .role_arn(role)
                    .tags(
                        aws_sdk_sfn::types::Tag::builder()
                            .key(PROJECT_TAG)
                            .value(&project)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| {
                        ComputeError::from_sdk(format!("creating state machine {name}"), &e)
                    })?;
                Ok(Some(out.state_machine_arn().to_owned()))
            }
            (Action::Update, Some(arn)) => {
                sfn.update_state_machine()
                    .state_machine_arn(&arn)
                    .definition(definition)
                    .role_arn(role)
                    .send()
                    .await
                    .map_err(|e| {
                        ComputeError::from_sdk(format!("updating state machine {name}"), &e)
                    })?;
                Ok(Some(arn))
            }
            (Action::Delete, Some(arn)) => {
                sfn.delete_state_machine()
                    .state_machine_arn(&arn)
                    .send()
                    .await
                    .map_err(|e| {
                        ComputeError::from_sdk(format!("deleting state machine {name}"), &e)
                    })?;
                Ok(None)
            }
            _ => Ok(None),
        }
    })
}

fn apply_group(aws: &Aws, project: &str, c: &Change) -> Result<(), ComputeError> {
    let client = aws.scheduler();
    let (name, action) = (c.name.clone(), c.action);
    let tag = aws_sdk_scheduler::types::Tag::builder()
        .key(PROJECT_TAG)
        .value(project)
        .build()
        .map_err(|e| said("tagging the schedule group", e))?;
    aws.block(async move {
        match action {
            Action::Create => client
                .create_schedule_group()
                .name(&name)
                .tags(tag)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ComputeError::from_sdk(format!("creating schedule group {name}"), &e)),
            Action::Delete => client
                .delete_schedule_group()
                .name(&name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ComputeError::from_sdk(format!("deleting schedule group {name}"), &e)),
            _ => Ok(()),
        }
    })
}

fn apply_schedule(
    aws: &Aws,
    project: &str,
    c: &Change,
    config: &Value,
) -> Result<(), ComputeError> {
    use aws_sdk_scheduler::types::{
        FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target,
    };
    let client = aws.scheduler();
    let group = resource_name(project, None, 64);
    let (name, action) = (c.name.clone(), c.action);
    if action == Action::Delete {
        return aws.block(async move {
            client
                .delete_schedule()
                .group_name(&group)
                .name(&name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ComputeError::from_sdk(format!("deleting schedule {name}"), &e))
        });
    }
    let target = Target::builder()
        .arn(text(config, "target"))
        .role_arn(text(config, "role_arn"))
        .input(text(config, "input"))
        .build()
        .map_err(|e| said(&format!("the target of schedule {name}"), e))?;
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| said(&format!("the time window of schedule {name}"), e))?;
    let state = ScheduleState::from(text(config, "state").as_str());
    let (expression, timezone) = (text(config, "expression"), text(config, "timezone"));
    aws.block(async move {
        if action == Action::Create {
            client
                .create_schedule()
                .group_name(&group)
                .name(&name)
                .schedule_expression(expression)
                .schedule_expression_timezone(timezone)
                .state(state)
                .flexible_time_window(window)
                .target(target)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ComputeError::from_sdk(format!("creating schedule {name}"), &e))
        } else {
            client
                .update_schedule()
                .group_name(&group)
                .name(&name)
                .schedule_expression(expression)
                .schedule_expression_timezone(timezone)
                .state(state)
                .flexible_time_window(window)
                .target(target)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ComputeError::from_sdk(format!("updating schedule {name}"), &e))
        }
    })
}

fn apply_rule(aws: &Aws, project: &str, c: &Change, config: &Value) -> Result<(), ComputeError> {
    use aws_sdk_eventbridge::types::{RuleState, Tag};
    let client = aws.events();
    let (name, action) = (c.name.clone(), c.action);
    if action == Action::Delete {
        return aws.block(async move {
            client
                .remove_targets()
                .rule(&name)
                .ids(RULE_TARGET_ID)
                .send()
                .await
                .map_err(|e| {
                    ComputeError::from_sdk(format!("removing the target of rule {name}"), &e)
                })?;
            client
                .delete_rule()
                .name(&name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ComputeError::from_sdk(format!("deleting rule {name}"), &e))
        });
    }
    let pattern = config
        .get("event_pattern")
        .map(Value::to_string)
        .unwrap_or_default();
    let state = RuleState::from(text(config, "state").as_str());
    let target = rule_target(config).map_err(|e| said(&format!("the target of rule {name}"), e))?;
    let tag = Tag::builder()
        .key(PROJECT_TAG)
        .value(project)
        .build()
        .map_err(|e| said(&format!("tagging rule {name}"), e))?;
    aws.block(async move {
        let mut put = client
            .put_rule()
            .name(&name)
            .event_pattern(pattern)
            .state(state);
        if action == Action::Create {
            put = put.tags(tag);
        }
        put.send()
            .await
            .map_err(|e| ComputeError::from_sdk(format!("writing rule {name}"), &e))?;
        let out = client
            .put_targets()
            .rule(&name)
            .targets(target)
            .send()
            .await
            .map_err(|e| {
                ComputeError::from_sdk(format!("setting the target of rule {name}"), &e)
            })?;
        if out.failed_entry_count() > 0 {
            return Err(ComputeError::invalid(format!(
                "EventBridge refused the target of rule {name}"
            )));
        }
        Ok(())
    })
}

/// A rule's one target: the state machine started with a fixed input (schedules' and sensors'
/// rules), or an alert's API destination or SNS topic given the message an input transformer
/// writes, retried by EventBridge for a day, then sent to the dead-letter queue.
fn rule_target(
    config: &Value,
) -> Result<aws_sdk_eventbridge::types::Target, aws_sdk_eventbridge::error::BuildError> {
    use aws_sdk_eventbridge::types::{DeadLetterConfig, InputTransformer, RetryPolicy, Target};
    let role = text(config, "role_arn");
    let target = Target::builder()
        .id(RULE_TARGET_ID)
        .arn(text(config, "target"))
        .set_role_arn((!role.is_empty()).then_some(role));
    let Some(template) = config.get("input_template").and_then(Value::as_str) else {
        return target.input(text(config, "input")).build();
    };
    let paths = config
        .get("input_paths")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    target
        .input_transformer(
            InputTransformer::builder()
                .set_input_paths_map(Some(paths))
                .input_template(template)
                .build()?,
        )
        .retry_policy(
            RetryPolicy::builder()
                .maximum_retry_attempts(super::alerts::RETRY_ATTEMPTS)
                .maximum_event_age_in_seconds(super::alerts::RETRY_SECONDS)
                .build(),
        )
        .set_dead_letter_config(
            Some(text(config, "dead_letter_arn"))
                .filter(|a| !a.is_empty())
                .map(|arn| DeadLetterConfig::builder().arn(arn).build()),
        )
        .build()
}

/// The id of the one target of a deployed rule.
const RULE_TARGET_ID: &str = "medallion";

/// The cluster a deployed project's EKS steps run on, as `eks:runJob` names it: the `eks`
/// resource's `endpoint_url` and `ca_file` when it sets both, else `DescribeCluster`.
///
/// # Errors
/// Not an `eks` resource naming a cluster, an unreadable CA file, a failed `DescribeCluster`.
pub fn eks_target(
    aws: &Aws,
    resource: &crate::model::Resource,
) -> Result<super::asl::EksTarget, ComputeError> {
    use base64::Engine as _;
    let crate::model::ResourceKind::Eks {
        cluster,
        endpoint_url,
        ca_file,
        namespace,
        service_account,
        image,
        ..
    } = &resource.kind
    else {
        return Err(ComputeError::invalid(format!(
            "resource `{}` is not an eks resource",
            resource.name
        )));
    };
    let Some(cluster) = cluster.clone() else {
        return Err(ComputeError::invalid(format!(
            "resource `{}` names no EKS cluster: Step Functions' eks:runJob needs a cluster name (a kubeconfig context cannot be deployed)",
            resource.name
        )));
    };
    let (endpoint, ca) = if let (Some(e), Some(f)) = (endpoint_url, ca_file) {
        let pem = std::fs::read(f)
            .map_err(|e| ComputeError::io(format!("cannot read the CA file {f}: {e}")))?;
        (
            e.clone(),
            base64::engine::general_purpose::STANDARD.encode(pem),
        )
    } else {
        let client = aws.eks();
        let name = cluster.clone();
        aws.block(async move {
            let out = client
                .describe_cluster()
                .name(&name)
                .send()
                .await
                .map_err(|e| {
                    ComputeError::from_sdk(format!("describing EKS cluster {name}"), &e)
                })?;
            let info = out.cluster();
            let endpoint = info.and_then(|c| c.endpoint()).map(str::to_owned);
            let ca = info
                .and_then(|c| c.certificate_authority())
                .and_then(|c| c.data())
                .map(str::to_owned);
            match (endpoint, ca) {
                (Some(e), Some(c)) => Ok((e, c)),
                _ => Err(ComputeError::said(
                    ErrorKind::Transient,
                    format!("EKS cluster {name} has no endpoint or CA yet (is it still creating?)"),
                )),
            }
        })?
    };
    Ok(super::asl::EksTarget {
        cluster,
        endpoint: endpoint_url.clone().unwrap_or(endpoint),
        certificate_authority: ca,
        namespace: namespace.clone(),
        service_account: service_account.clone(),
        image: image.clone(),
    })
}
