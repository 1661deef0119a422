//! Resources and their secrets for the studio and the CLI: the keyring (`medallion secret …`),
//! the fetcher the engine reads S3/Postgres/HTTP sources through, "Test connection", and the
//! redaction every text leaving the process goes through.

use std::sync::Arc;

use crate::compute::{self, ResourceFetcher, SecretSource};
use crate::engine::BackendError;
use crate::engine::fetch::{FetchRequest, FetchedSource, SourceFetcher};
use crate::model::{LogLevel, Project, Resource, RunEvent, SecretRef};
use crate::secrets;

use super::AppError;

/// Secret values from the OS keyring or the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyringSecrets;

impl SecretSource for KeyringSecrets {
    fn secret(&self, reference: &SecretRef) -> Result<String, compute::ComputeError> {
        secrets::resolve(reference).map_err(|e| {
            compute::ComputeError::said(compute::ErrorKind::NoCredentials, e.to_string())
        })
    }
}

/// The fetcher runs use for sources behind a resource: secrets from the keyring, network calls
/// on the process's runtime (started by the first fetch that needs it, so a run of file
/// sources starts none).
pub fn fetcher() -> Arc<dyn SourceFetcher> {
    Arc::new(KeyringFetcher)
}

/// [`ResourceFetcher`] with the keyring's secrets, on the process's runtime.
#[derive(Debug, Clone, Copy)]
struct KeyringFetcher;

impl SourceFetcher for KeyringFetcher {
    fn fetch(&self, request: &FetchRequest<'_>) -> Result<FetchedSource, BackendError> {
        let runtime = super::runtime::handle()?;
        ResourceFetcher::new(Arc::new(KeyringSecrets), runtime).fetch(request)
    }
}

/// `text` with every secret resolved in this process masked.
pub fn redact(text: &str) -> String {
    secrets::redact(text)
}

/// An event with every secret resolved in this process masked in its strings, and no data
/// value longer than [`crate::model::clip::MAX_VALUE_CHARS`] characters in them (an engine
/// error quoting a 10 MB field is stored and shown clipped).
pub fn redact_event(event: RunEvent) -> RunEvent {
    let event = bound_event(event);
    let redactor = secrets::redactor();
    if redactor.is_empty() {
        return event;
    }
    let Ok(mut value) = serde_json::to_value(&event) else {
        return withheld(&event);
    };
    redactor.redact_json(&mut value);
    serde_json::from_value(value).unwrap_or_else(|_| withheld(&event))
}

/// `event` with every long string bounded by [`crate::model::clip::bound_message`].
fn bound_event(event: RunEvent) -> RunEvent {
    fn bound(value: &mut serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => match crate::model::clip::bound_message(s) {
                std::borrow::Cow::Borrowed(_) => false,
                std::borrow::Cow::Owned(b) => {
                    *s = b;
                    true
                }
            },
            serde_json::Value::Array(items) => items.iter_mut().fold(false, |c, v| bound(v) | c),
            serde_json::Value::Object(map) => map.values_mut().fold(false, |c, v| bound(v) | c),
            _ => false,
        }
    }
    let Ok(mut value) = serde_json::to_value(&event) else {
        return event;
    };
    if !bound(&mut value) {
        return event;
    }
    serde_json::from_value(value).unwrap_or(event)
}

fn withheld(event: &RunEvent) -> RunEvent {
    let asset = match event {
        RunEvent::Log { asset, .. } => asset.clone(),
        _ => None,
    };
    RunEvent::Log {
        level: LogLevel::Warn,
        asset,
        message: "an event was withheld because it could not be checked for secrets".to_owned(),
    }
}

/// One resource with the state of each secret it refers to (never the values).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ResourceStatus {
    pub name: String,
    pub kind: &'static str,
    pub description: String,
    pub secrets: Vec<SecretStatus>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SecretStatus {
    pub field: &'static str,
    /// Where the secret lives, e.g. "keyring entry `warehouse_pw`".
    pub reference: String,
    pub available: bool,
    /// Why it is not available (missing, keyring unreachable), with how to fix it.
    pub problem: Option<String>,
}

/// The project's resources and whether each secret they need can be resolved here.
pub fn resource_statuses(project: &Project) -> Vec<ResourceStatus> {
    project
        .resources
        .iter()
        .map(|r| ResourceStatus {
            name: r.name.clone(),
            kind: r.kind.label(),
            description: r.description.clone(),
            secrets: r
                .kind
                .secrets()
                .into_iter()
                .map(|(field, reference)| {
                    let problem = secrets::resolve(reference).err().map(|e| e.to_string());
                    SecretStatus {
                        field,
                        reference: reference.to_string(),
                        available: problem.is_none(),
                        problem,
                    }
                })
                .collect(),
        })
        .collect()
}

/// Stores a secret in the OS keyring.
pub fn secret_set(name: &str, value: &str) -> Result<(), AppError> {
    Ok(secrets::set(name, value)?)
}

/// The names (never the values) of the secrets Medallion stored.
pub fn secret_list() -> Result<Vec<String>, AppError> {
    Ok(secrets::list()?)
}

/// Deletes a secret; `false` when there was none.
pub fn secret_delete(name: &str) -> Result<bool, AppError> {
    Ok(secrets::delete(name)?)
}

/// Whether `name` is a valid secret name (letters, digits, `_`, `-`, `.`).
pub fn is_valid_secret_name(name: &str) -> bool {
    secrets::is_valid_name(name)
}

/// Checks that a resource of `project` answers; the message says what was reached or
/// precisely what failed. Blocks for at most the connect and request timeouts: call it off
/// the UI thread (the studio runs it as a backend task).
pub fn test_connection(project: &Project, resource: &str) -> Result<String, ConnectionError> {
    let r = project
        .resource(resource)
        .ok_or_else(|| ConnectionError::UnknownResource {
            project: project.name.clone(),
            resource: resource.to_owned(),
        })?;
    test_resource(r, &project.resources)
}

/// [`test_connection`] for a resource that may not be saved yet (the connections panel).
pub fn test_resource(
    resource: &Resource,
    resources: &[Resource],
) -> Result<String, ConnectionError> {
    let runtime = super::runtime::handle().map_err(ConnectionError::Failed)?;
    compute::test_connection(&runtime, resource, resources, &KeyringSecrets)
        .map_err(ConnectionError::Failed)
        .map(|ok| redact(&ok))
}

/// Why a connection test did not reach its resource.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("resource `{resource}` is not defined in project `{project}`")]
    UnknownResource { project: String, resource: String },
    /// The resource did not answer; the error's kind says why. Its sentence is masked: a
    /// resolved secret never shows.
    #[error("{}", redact(&.0.to_string()))]
    Failed(compute::ComputeError),
    /// The test could not run at all.
    #[error(transparent)]
    Task(#[from] super::backend::TaskFailure),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AssetKey, StepOutcome};

    #[test]
    fn events_lose_resolved_secrets_but_keep_their_shape() {
        secrets::register("sekrit-for-events-1");
        let event = redact_event(RunEvent::StepFinished {
            asset: AssetKey::new("raw"),
            partition: None,
            outcome: StepOutcome::Failed {
                error: "login sekrit-for-events-1 refused".to_owned(),
            },
            duration_ms: 12,
        });
        let RunEvent::StepFinished {
            outcome: StepOutcome::Failed { error },
            duration_ms,
            ..
        } = event
        else {
            panic!("the event changed kind: {event:?}");
        };
        assert_eq!(error, format!("login {} refused", secrets::MASK));
        assert_eq!(duration_ms, 12);
        assert!(!redact("x sekrit-for-events-1 y").contains("sekrit"));
    }
}
