//! The EventBridge connections and API destinations of deployed alert targets ([`super::alerts`]),
//! read and written. Neither takes tags: the project's are those named under
//! `medallion-<project>-` whose description holds [`alerts::owner_marker`].

use std::collections::BTreeMap;

use aws_sdk_eventbridge::types::{
    ApiDestinationHttpMethod, ConnectionAuthorizationType,
    CreateConnectionApiKeyAuthRequestParameters, CreateConnectionAuthRequestParameters,
    UpdateConnectionApiKeyAuthRequestParameters, UpdateConnectionAuthRequestParameters,
};
use serde_json::{Value, json};

use super::alerts::{self, API_KEY_HEADER, SecretUrl};
use super::{Action, Change, Current, ItemKind, resource_name};
use crate::compute::aws::Aws;
use crate::compute::error::ComputeError;

/// The project's connections and API destinations as AWS has them.
///
/// # Errors
/// A failed AWS call, naming what was read.
pub fn current(aws: &Aws, project: &str) -> Result<Vec<Current>, ComputeError> {
    let client = aws.events();
    let prefix = resource_name(project, None, 64);
    let marker = alerts::owner_marker(project);
    aws.block(async move {
        let mut out = Vec::new();
        let connections = client
            .list_connections()
            .name_prefix(&prefix)
            .send()
            .await
            .map_err(|e| ComputeError::from_sdk("listing EventBridge connections", &e))?;
        for c in connections.connections() {
            let Some(name) = c.name().filter(|n| n.starts_with(&prefix)) else {
                continue;
            };
            let d = client
                .describe_connection()
                .name(name)
                .send()
                .await
                .map_err(|e| ComputeError::from_sdk(format!("reading connection {name}"), &e))?;
            let description = d.description().unwrap_or_default();
            if !description.contains(&marker) {
                continue;
            }
            out.push(Current {
                kind: ItemKind::Connection,
                name: name.to_owned(),
                arn: c.connection_arn().unwrap_or_default().to_owned(),
                config: json!({
                    "authorization_type": c.authorization_type().map(|t| t.as_str().to_owned()),
                    "description": description,
                }),
            });
        }
        let destinations = client
            .list_api_destinations()
            .name_prefix(&prefix)
            .send()
            .await
            .map_err(|e| ComputeError::from_sdk("listing EventBridge API destinations", &e))?;
        for a in destinations.api_destinations() {
            let Some(name) = a.name().filter(|n| n.starts_with(&prefix)) else {
                continue;
            };
            let d = client
                .describe_api_destination()
                .name(name)
                .send()
                .await
                .map_err(|e| {
                    ComputeError::from_sdk(format!("reading API destination {name}"), &e)
                })?;
            let description = d.description().unwrap_or_default();
            if !description.contains(&marker) {
                continue;
            }
            out.push(Current {
                kind: ItemKind::ApiDestination,
                name: name.to_owned(),
                arn: a.api_destination_arn().unwrap_or_default().to_owned(),
                config: json!({
                    "connection": d.connection_arn().map(connection_name),
                    "endpoint_sha256": d.invocation_endpoint().map(alerts::url_digest),
                    "method": d.http_method().map(|m| m.as_str().to_owned()),
                    "rate_per_second": d.invocation_rate_limit_per_second(),
                    "description": description,
                }),
            });
        }
        Ok(out)
    })
}

/// A connection's name from its ARN (`arn:…:connection/NAME/UUID`).
fn connection_name(arn: &str) -> String {
    arn.split_once(":connection/")
        .map_or(arn, |(_, rest)| rest.split('/').next().unwrap_or(rest))
        .to_owned()
}

fn text(config: &Value, key: &str) -> String {
    config
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Creates, updates or deletes a connection; its ARN when it exists afterwards.
///
/// # Errors
/// A failed AWS call, naming the connection.
pub fn apply_connection(
    aws: &Aws,
    project: &str,
    c: &Change,
    config: &Value,
) -> Result<Option<String>, ComputeError> {
    let client = aws.events();
    let name = c.name.clone();
    let description = text(config, "description");
    let project = project.to_owned();
    match c.action {
        Action::Unchanged => Ok(c.arn.clone()),
        Action::Delete => aws.block(async move {
            client
                .delete_connection()
                .name(&name)
                .send()
                .await
                .map(|_| None)
                .map_err(|e| ComputeError::from_sdk(format!("deleting connection {name}"), &e))
        }),
        Action::Create => {
            let key = CreateConnectionApiKeyAuthRequestParameters::builder()
                .api_key_name(API_KEY_HEADER)
                .api_key_value(&project)
                .build()
                .map_err(|e| {
                    ComputeError::invalid(format!("the authorization of connection {name}: {e}"))
                })?;
            let auth = CreateConnectionAuthRequestParameters::builder()
                .api_key_auth_parameters(key)
                .build();
            aws.block(async move {
                let out = client
                    .create_connection()
                    .name(&name)
                    .description(description)
                    .authorization_type(ConnectionAuthorizationType::ApiKey)
                    .auth_parameters(auth)
                    .send()
                    .await
                    .map_err(|e| {
                        ComputeError::from_sdk(format!("creating connection {name}"), &e)
                    })?;
                Ok(out.connection_arn().map(str::to_owned))
            })
        }
        Action::Update => {
            let auth = UpdateConnectionAuthRequestParameters::builder()
                .api_key_auth_parameters(
                    UpdateConnectionApiKeyAuthRequestParameters::builder()
                        .api_key_name(API_KEY_HEADER)
                        .api_key_value(&project)
                        .build(),
                )
                .build();
            aws.block(async move {
                let out = client
                    .update_connection()
                    .name(&name)
                    .description(description)
                    .authorization_type(ConnectionAuthorizationType::ApiKey)
                    .auth_parameters(auth)
                    .send()
                    .await
                    .map_err(|e| {
                        ComputeError::from_sdk(format!("updating connection {name}"), &e)
                    })?;
                Ok(out.connection_arn().map(str::to_owned))
            })
        }
    }
}

/// Creates, updates or deletes an API destination; its ARN when it exists afterwards. The URL
/// comes from `urls` (by destination name), the connection's ARN from `arns` (by name).
///
/// # Errors
/// A failed AWS call, naming the destination; a destination without its URL or connection.
pub fn apply_destination(
    aws: &Aws,
    c: &Change,
    config: &Value,
    urls: &BTreeMap<String, SecretUrl>,
    arns: &BTreeMap<String, String>,
) -> Result<Option<String>, ComputeError> {
    let client = aws.events();
    let name = c.name.clone();
    match c.action {
        Action::Unchanged => return Ok(c.arn.clone()),
        Action::Delete => {
            return aws.block(async move {
                client
                    .delete_api_destination()
                    .name(&name)
                    .send()
                    .await
                    .map(|_| None)
                    .map_err(|e| {
                        ComputeError::from_sdk(format!("deleting API destination {name}"), &e)
                    })
            });
        }
        Action::Create | Action::Update => {}
    }
    let url = urls.get(&name).map(|u| u.0.clone()).ok_or_else(|| {
        ComputeError::invalid(format!(
            "the deployment has no URL for API destination {name}"
        ))
    })?;
    let connection = text(config, "connection");
    let connection_arn = arns.get(&connection).cloned().ok_or_else(|| {
        ComputeError::invalid(format!(
            "API destination {name} needs connection {connection}, which was not deployed"
        ))
    })?;
    let description = text(config, "description");
    let rate = config
        .get("rate_per_second")
        .and_then(Value::as_i64)
        .and_then(|r| i32::try_from(r).ok())
        .unwrap_or(1);
    let create = c.action == Action::Create;
    aws.block(async move {
        let arn = if create {
            client
                .create_api_destination()
                .name(&name)
                .description(description)
                .connection_arn(connection_arn)
                .invocation_endpoint(url)
                .http_method(ApiDestinationHttpMethod::Post)
                .invocation_rate_limit_per_second(rate)
                .send()
                .await
                .map_err(|e| {
                    ComputeError::from_sdk(format!("creating API destination {name}"), &e)
                })?
                .api_destination_arn()
                .map(str::to_owned)
        } else {
            client
                .update_api_destination()
                .name(&name)
                .description(description)
                .connection_arn(connection_arn)
                .invocation_endpoint(url)
                .http_method(ApiDestinationHttpMethod::Post)
                .invocation_rate_limit_per_second(rate)
                .send()
                .await
                .map_err(|e| {
                    ComputeError::from_sdk(format!("updating API destination {name}"), &e)
                })?
                .api_destination_arn()
                .map(str::to_owned)
        };
        Ok(arn)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_connection_is_named_from_its_arn() {
        assert_eq!(
            super::connection_name(
                "arn:aws:events:eu-west-1:123456789012:connection/medallion-p-alert-t/5f1a"
            ),
            "medallion-p-alert-t"
        );
        assert_eq!(super::connection_name("odd"), "odd");
    }
}
