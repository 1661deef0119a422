//! Remote runs on Amazon EKS (or any Kubernetes cluster) through the `kube` crate.
//!
//! One step of a run is one `batch/v1` Job running the runner image
//! (`medallion runner --plan s3://…`, see [`crate::compute::protocol`]); a partitioned step or a
//! backfill is an Indexed Job whose pods pick their partition by `JOB_COMPLETION_INDEX`.
//!
//! - [`connection`]: a cluster from a kubeconfig context (exec credential plugins included) or an
//!   EKS cluster name (`DescribeCluster` + the [`token`] EKS expects), with endpoint/CA overrides.
//! - [`job`]: the Job for a step: labels, Indexed completions, node selection, requests/limits.
//! - [`watch`]: follows the Job's pods (list + watch, resuming from the last resourceVersion,
//!   relisting on 410 Gone) and their logs ([`logs`]), turning runner lines into run events and
//!   pod failures into one-sentence messages; cancel and reattach.
//! - [`cost`]: node hours for the pods' requests plus the cluster hour's share.

pub mod connection;
pub mod cost;
pub mod job;
pub mod logs;
pub mod token;
pub mod watch;

pub use connection::{ClusterOverrides, ClusterSource, EksConnection};
pub use job::{JobSettings, StepJob, build_job};
pub use watch::{FollowOutcome, JobRef, PodEvent, PodUsage, ResumePoint};

/// What can go wrong talking to a cluster. Every message names what and where.
#[derive(Debug, thiserror::Error)]
pub enum EksError {
    /// The cluster could not be reached or authenticated against.
    #[error("cannot connect to {cluster}: {message}")]
    Connection { cluster: String, message: String },
    /// A Kubernetes API call failed.
    #[error("{action} failed on {cluster}: {message}")]
    Api {
        action: String,
        cluster: String,
        message: String,
    },
    /// The settings cannot make a valid Job.
    #[error("{0}")]
    Settings(String),
}

/// One sentence for a failed kube call: the API's own message for an API error (its `Status`),
/// the transport error otherwise.
pub(crate) fn describe_kube_error(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => {
            let reason = if status.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", status.reason)
            };
            format!("{}{reason}, HTTP {}", status.message, status.code)
        }
        other => format!("{other}"),
    }
}
