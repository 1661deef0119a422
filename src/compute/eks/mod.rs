//! Remote runs on Amazon EKS (or any Kubernetes cluster) through the `kube` crate.
//!
//! One step of a run is one `batch/v1` Job running the runner image
//! (`medallion runner --plan s3://…`, see [`crate::compute::protocol`]); a partitioned step or a
//! backfill is an Indexed Job whose pods pick their partition by `JOB_COMPLETION_INDEX`.
//!
//! - [`connection`]: a cluster from a kubeconfig context (exec credential plugins included) or an
//!   EKS cluster name (`DescribeCluster` + the [`token`] EKS expects), with endpoint/CA overrides.
//! - [`job`]: the Job for a step: labels, Indexed completions, node selection, requests/limits.
//! - [`api`]: the Job API calls — create, delete (foreground), find a run's Jobs by labels.
//! - [`launcher`]: the one way the app drives a step on a cluster ([`EksLauncher`], behind the
//!   [`crate::compute::launch::Launcher`] trait): submit, status, each pod's log from a stored
//!   position, cancel. Its pod watcher and what a pod's status means are in `pods` (list +
//!   watch, resuming from the last resourceVersion, relisting on 410 Gone; failures as one
//!   sentence each); pod logs are streamed by [`logs`].

pub mod api;
pub mod connection;
pub mod job;
pub mod launcher;
pub mod logs;
mod pods;
pub mod token;

pub use api::JobRef;
pub use connection::{ClusterOverrides, ClusterSource, EksConnection};
pub use job::{JobSettings, StepJob, build_job};
pub use launcher::{EksLauncher, EksStep, JobPhase, JobStatus, PodLogRead};

use crate::compute::connect::SecretSource;
use crate::compute::error::{ComputeError, ErrorKind};
use crate::model::{Resource, ResourceKind};

/// A failed kube call as "`action` failed on <the cluster>: <why>", of the kind
/// [`ComputeError::from_kube`] finds (the API's `Status` for an API error, the transport's
/// cause otherwise).
pub(crate) fn api_error(conn: &EksConnection, action: &str, err: &kube::Error) -> ComputeError {
    let e = ComputeError::from_kube(action, err);
    ComputeError::said(
        e.kind,
        format!("{action} failed on {}: {}", conn.label(), e.reason()),
    )
}

/// A cluster and the settings of the Jobs run on it, from an `eks` resource.
#[derive(Debug)]
pub struct EksTarget {
    pub connection: EksConnection,
    pub settings: JobSettings,
}

/// The connection and Job settings an `eks` resource describes.
///
/// # Errors
/// When the resource is not an `eks` resource, its `aws` resource is missing, its CA file cannot
/// be read, or a secret is missing.
pub async fn target(
    resource: &Resource,
    resources: &[Resource],
    secrets: &dyn SecretSource,
) -> Result<EksTarget, ComputeError> {
    let ResourceKind::Eks {
        cluster,
        kubeconfig,
        context,
        endpoint_url,
        ca_file,
        namespace,
        service_account,
        image,
        aws,
    } = &resource.kind
    else {
        return Err(ComputeError::invalid(format!(
            "resource `{}` is a {} resource, not eks",
            resource.name,
            resource.kind.label()
        )));
    };
    let aws_resource = match aws {
        Some(a) => Some(resources.iter().find(|r| &r.name == a).ok_or_else(|| {
            ComputeError::invalid(format!(
                "resource `{}` names aws resource `{a}`, which is not defined",
                resource.name
            ))
        })?),
        None => None,
    };
    let ca_pem = read_ca_file(&resource.name, ca_file.as_deref())?;
    let (source, sdk) = match cluster {
        Some(cluster) => (
            ClusterSource::Eks {
                cluster: cluster.clone(),
            },
            Some(
                crate::compute::aws::sdk_config(aws_resource, secrets, None, None, &resource.name)
                    .await?,
            ),
        ),
        None => (
            ClusterSource::Kubeconfig {
                path: kubeconfig.as_ref().map(std::path::PathBuf::from),
                context: context.clone(),
            },
            None,
        ),
    };
    let mut settings = JobSettings::new(namespace.clone(), image.clone());
    settings.service_account.clone_from(service_account);
    if let Some(region) = region_of(sdk.as_ref(), aws_resource) {
        settings.env.push(("AWS_REGION".to_owned(), region));
    }
    Ok(EksTarget {
        connection: EksConnection::new(
            source,
            ClusterOverrides {
                endpoint: endpoint_url.clone(),
                ca_pem,
            },
            namespace.clone(),
            sdk,
        ),
        settings,
    })
}

/// The PEM text of the resource's CA file, when it names one.
fn read_ca_file(resource: &str, ca_file: Option<&str>) -> Result<Option<String>, ComputeError> {
    let Some(path) = ca_file else {
        return Ok(None);
    };
    std::fs::read_to_string(path).map(Some).map_err(|e| {
        ComputeError::said(
            ErrorKind::Io,
            format!("resource `{resource}`: cannot read the CA file {path}: {e}"),
        )
    })
}

/// The region the Job's pods are told: the SDK's, else the `aws` resource's.
fn region_of(
    sdk: Option<&aws_config::SdkConfig>,
    aws_resource: Option<&Resource>,
) -> Option<String> {
    sdk.and_then(|s| s.region().map(ToString::to_string))
        .or_else(|| match aws_resource.map(|r| &r.kind) {
            Some(ResourceKind::Aws { region, .. }) => region.clone(),
            _ => None,
        })
}

/// "Test connection" for an `eks` resource: authenticates and lists Medallion's Jobs in the
/// namespace.
///
/// # Errors
/// A sentence saying why the cluster could not be used.
pub async fn test(
    resource: &Resource,
    resources: &[Resource],
    secrets: &dyn SecretSource,
) -> Result<String, ComputeError> {
    let target = target(resource, resources, secrets).await?;
    let conn = &target.connection;
    let client = conn.client().await?;
    let api: kube::Api<k8s_openapi::api::batch::v1::Job> =
        kube::Api::namespaced(client, conn.namespace());
    let list = api
        .list(
            &kube::api::ListParams::default()
                .labels(&format!("{}=medallion", job::LABEL_MANAGED_BY)),
        )
        .await
        .map_err(|e| {
            let e = ComputeError::from_kube("listing Jobs", &e);
            ComputeError::said(
                e.kind,
                format!(
                    "listing Jobs in namespace `{}` of {} failed: {}",
                    conn.namespace(),
                    conn.label(),
                    e.reason()
                ),
            )
        })?;
    Ok(format!(
        "connected to {}: namespace `{}` holds {} Medallion Job(s)",
        conn.label(),
        conn.namespace(),
        list.items.len()
    ))
}
