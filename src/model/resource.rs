//! Resources: the external systems sources read from and runs execute on. Secret fields are
//! references ([`SecretRef`]) and never values.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a secret lives: an OS keyring entry or an environment variable (like Dagster's
/// `EnvVar`). Never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretRef {
    Keyring(String),
    Env(String),
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Keyring(name) => write!(f, "keyring entry `{name}`"),
            SecretRef::Env(var) => write!(f, "environment variable `{var}`"),
        }
    }
}

/// How a Postgres connection uses TLS — libpq's `sslmode` values and meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Plain connections only.
    Disable,
    /// TLS when the server offers it, without checking its certificate (libpq's default).
    #[default]
    Prefer,
    /// TLS always, without checking the certificate.
    Require,
    /// TLS always, with a certificate trusted by the system (or `SSL_CERT_FILE`) for the host.
    VerifyFull,
}

impl SslMode {
    pub const ALL: [SslMode; 4] = [
        SslMode::Disable,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyFull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyFull => "verify-full",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// A named external system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub name: String,
    pub description: String,
    pub kind: ResourceKind,
}

/// The kinds of resources and their settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResourceKind {
    Postgres {
        host: String,
        port: u16,
        database: String,
        user: String,
        password: Option<SecretRef>,
        #[serde(default)]
        sslmode: SslMode,
    },
    S3 {
        bucket: String,
        region: Option<String>,
        /// For S3-compatible stores and local testing.
        endpoint_url: Option<String>,
        /// An `aws` resource whose credentials to use; the default credential chain otherwise.
        aws: Option<String>,
    },
    Http {
        base_url: String,
        auth_token: Option<SecretRef>,
    },
    Aws {
        region: Option<String>,
        profile: Option<String>,
        endpoint_url: Option<String>,
        access_key_id: Option<SecretRef>,
        secret_access_key: Option<SecretRef>,
        /// Where remote runs execute and store their data (`[resources.NAME.compute]`).
        #[serde(default)]
        compute: Option<Box<AwsCompute>>,
    },
    /// A Kubernetes cluster that runs EKS-tier steps as Jobs: an EKS cluster by name (region
    /// and credentials from its `aws` resource or the standard chain) or a kubeconfig context.
    Eks {
        /// The EKS cluster name (`DescribeCluster` gives endpoint and CA).
        cluster: Option<String>,
        /// A kubeconfig file; `KUBECONFIG` / `~/.kube/config` when unset.
        kubeconfig: Option<String>,
        /// A kubeconfig context; the current one when unset.
        context: Option<String>,
        /// Overrides the API server URL (a tunnel, a proxy, a private endpoint).
        endpoint_url: Option<String>,
        /// Overrides the CA bundle (a PEM file) the API server's certificate is checked with.
        ca_file: Option<String>,
        namespace: String,
        service_account: Option<String>,
        /// The runner image (the one every remote tier runs).
        image: String,
        /// An `aws` resource for the region and credentials of a cluster given by name.
        aws: Option<String>,
    },
}

/// The namespace of an `eks` resource that names none.
pub const DEFAULT_NAMESPACE: &str = "default";
/// The AWS settings remote runs need: where materializations and run files live, and what
/// Fargate, Batch and Lambda run on. Names and ARNs only — never credentials.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsCompute {
    /// The bucket for materializations, run plans, results and uploaded inputs.
    pub bucket: String,
    /// Key prefix under the bucket (default `medallion/<project>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The runner image (`packaging/runner/build-image.sh` or its Dockerfile), for Fargate and Batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The ECS cluster Fargate tasks run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Give Fargate tasks a public IP (needed in public subnets without a NAT gateway).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub assign_public_ip: bool,
    /// The role the runner's code assumes (reads and writes the bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    /// The role ECS uses to pull the image and write logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    /// The `CloudWatch` Logs group of Fargate tasks (default `/medallion/runner`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    /// The AWS Batch job queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_queue: Option<String>,
    /// The AWS Batch job definition (its container runs the runner image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_definition: Option<String>,
    /// The `CloudWatch` Logs group of Batch jobs (default `/aws/batch/job`, Batch's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_log_group: Option<String>,
    /// The Lambda function (a container image of the runner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_function: Option<String>,
    /// The function's log group (default `/aws/lambda/<function>`, Lambda's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_log_group: Option<String>,
    /// `medallion deploy`: the role the project's Step Functions state machine runs as (it
    /// starts the ECS tasks, Batch jobs, Lambda invocations and EKS Jobs, and reads results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub states_role_arn: Option<String>,
    /// `medallion deploy`: the role EventBridge Scheduler and rules use to start executions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_role_arn: Option<String>,
}

impl AwsCompute {
    /// The key prefix, without slashes at either end.
    pub fn prefix_for(&self, project: &str) -> String {
        self.prefix.as_deref().map_or_else(
            || format!("medallion/{project}"),
            |p| p.trim_matches('/').to_owned(),
        )
    }

    pub fn log_group_or_default(&self) -> &str {
        self.log_group.as_deref().unwrap_or("/medallion/runner")
    }

    pub fn batch_log_group_or_default(&self) -> &str {
        self.batch_log_group.as_deref().unwrap_or("/aws/batch/job")
    }
}

impl ResourceKind {
    pub fn label(&self) -> &'static str {
        match self {
            ResourceKind::Postgres { .. } => "postgres",
            ResourceKind::S3 { .. } => "s3",
            ResourceKind::Http { .. } => "http",
            ResourceKind::Aws { .. } => "aws",
            ResourceKind::Eks { .. } => "eks",
        }
    }

    /// Every secret this resource refers to, with the field it belongs to.
    pub fn secrets(&self) -> Vec<(&'static str, &SecretRef)> {
        let mut out = Vec::new();
        match self {
            ResourceKind::Postgres { password, .. } => {
                out.extend(password.iter().map(|s| ("password", s)));
            }
            ResourceKind::S3 { .. } | ResourceKind::Eks { .. } => {}
            ResourceKind::Http { auth_token, .. } => {
                out.extend(auth_token.iter().map(|s| ("auth_token", s)));
            }
            ResourceKind::Aws {
                access_key_id,
                secret_access_key,
                ..
            } => {
                out.extend(access_key_id.iter().map(|s| ("access_key_id", s)));
                out.extend(secret_access_key.iter().map(|s| ("secret_access_key", s)));
            }
        }
        out
    }
}
