//! A connection to the cluster that runs the Jobs.
//!
//! Two ways in, both ending in a kube [`Kubeconfig`] so kube's own TLS, CA and auth handling
//! apply:
//! - **a kubeconfig context** (the file at `KUBECONFIG` / `~/.kube/config` or a given path),
//!   including exec credential plugins such as `aws eks get-token`;
//! - **an EKS cluster name**: `DescribeCluster` gives the endpoint and CA, and the bearer token
//!   is the presigned STS URL EKS expects ([`super::token`]), renewed before it expires.
//!
//! The endpoint and CA can be overridden (a private endpoint through a tunnel, a proxy, or a
//! test server); an override wins over what the kubeconfig or `DescribeCluster` says.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};

use super::token::{TOKEN_REUSE, token};
use crate::compute::error::{ComputeError, ErrorKind};

/// Where the cluster's address and credentials come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterSource {
    /// A kubeconfig file (`None`: `KUBECONFIG` or `~/.kube/config`) and context (`None`: its
    /// current context).
    Kubeconfig {
        path: Option<PathBuf>,
        context: Option<String>,
    },
    /// An EKS cluster by name, reached with the AWS credentials of the connection.
    Eks { cluster: String },
}

/// Replacements for the cluster's endpoint and CA.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterOverrides {
    /// The API server URL, e.g. `https://127.0.0.1:6443`.
    pub endpoint: Option<String>,
    /// The CA bundle (PEM text) that signed the API server's certificate.
    pub ca_pem: Option<String>,
}

struct Cached {
    client: kube::Client,
    made_at: Instant,
}

/// A cluster connection: makes kube clients, renewing EKS tokens before they expire.
pub struct EksConnection {
    source: ClusterSource,
    overrides: ClusterOverrides,
    namespace: String,
    aws: Option<aws_config::SdkConfig>,
    /// `DescribeCluster`'s endpoint and CA (base64 PEM), asked once.
    described: tokio::sync::Mutex<Option<(String, String)>>,
    cached: tokio::sync::Mutex<Option<Cached>>,
}

impl std::fmt::Debug for EksConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksConnection")
            .field("source", &self.source)
            .field("overrides", &self.overrides)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl EksConnection {
    /// `aws` is needed for an EKS cluster name (region and credentials); a kubeconfig context
    /// brings its own credentials.
    pub fn new(
        source: ClusterSource,
        overrides: ClusterOverrides,
        namespace: impl Into<String>,
        aws: Option<aws_config::SdkConfig>,
    ) -> Self {
        Self {
            source,
            overrides,
            namespace: namespace.into(),
            aws,
            described: tokio::sync::Mutex::new(None),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// What the connection is, for messages: "EKS cluster `prod`", "kubeconfig context `dev`".
    pub fn label(&self) -> String {
        match &self.source {
            ClusterSource::Eks { cluster } => format!("EKS cluster `{cluster}`"),
            ClusterSource::Kubeconfig {
                context: Some(c), ..
            } => format!("kubeconfig context `{c}`"),
            ClusterSource::Kubeconfig { path: Some(p), .. } => {
                format!("the current context of {}", p.display())
            }
            ClusterSource::Kubeconfig { .. } => "the current kubeconfig context".to_owned(),
        }
    }

    /// "cannot connect to <the cluster>: `message`", of `kind`.
    fn error(&self, kind: ErrorKind, message: impl std::fmt::Display) -> ComputeError {
        ComputeError::said(
            kind,
            format!("cannot connect to {}: {message}", self.label()),
        )
    }

    /// [`Self::error`] of kind [`ErrorKind::Invalid`]: the settings cannot reach a cluster.
    fn settings_error(&self, message: impl std::fmt::Display) -> ComputeError {
        self.error(ErrorKind::Invalid, message)
    }

    /// A client for the cluster; the same one until an EKS token is due for renewal.
    ///
    /// # Errors
    /// When the kubeconfig cannot be read, `DescribeCluster` fails, or no token can be made.
    pub async fn client(&self) -> Result<kube::Client, ComputeError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let token_based = matches!(self.source, ClusterSource::Eks { .. });
            if !token_based || c.made_at.elapsed() < TOKEN_REUSE {
                return Ok(c.client.clone());
            }
        }
        let client = self.make_client().await?;
        *cached = Some(Cached {
            client: client.clone(),
            made_at: Instant::now(),
        });
        Ok(client)
    }

    async fn make_client(&self) -> Result<kube::Client, ComputeError> {
        let (kubeconfig, options) = self.kubeconfig().await?;
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| self.settings_error(e))?;
        config.default_namespace.clone_from(&self.namespace);
        kube::Client::try_from(config).map_err(|e| {
            let e = ComputeError::from_kube("building the Kubernetes client", &e);
            self.error(e.kind, e.reason())
        })
    }

    /// The kubeconfig to build a client from, overrides applied.
    async fn kubeconfig(&self) -> Result<(Kubeconfig, KubeConfigOptions), ComputeError> {
        match &self.source {
            ClusterSource::Kubeconfig { path, context } => {
                let mut kubeconfig = match path {
                    Some(p) => Kubeconfig::read_from(p),
                    None => Kubeconfig::read(),
                }
                .map_err(|e| self.settings_error(format!("cannot read the kubeconfig: {e}")))?;
                let options = KubeConfigOptions {
                    context: context.clone(),
                    ..KubeConfigOptions::default()
                };
                self.apply_overrides(&mut kubeconfig, context.as_deref())?;
                Ok((kubeconfig, options))
            }
            ClusterSource::Eks { cluster } => {
                let (endpoint, ca_data) = self.describe(cluster).await?;
                let token = self.token(cluster).await?;
                let kubeconfig = Kubeconfig {
                    clusters: vec![NamedCluster {
                        name: cluster.clone(),
                        cluster: Some(Cluster {
                            server: Some(endpoint),
                            certificate_authority_data: Some(ca_data),
                            ..Cluster::default()
                        }),
                        ..NamedCluster::default()
                    }],
                    auth_infos: vec![NamedAuthInfo {
                        name: "medallion".to_owned(),
                        auth_info: Some(AuthInfo {
                            token: Some(token.into()),
                            ..AuthInfo::default()
                        }),
                        ..NamedAuthInfo::default()
                    }],
                    contexts: vec![NamedContext {
                        name: "medallion".to_owned(),
                        context: Some(Context {
                            cluster: cluster.clone(),
                            user: Some("medallion".to_owned()),
                            namespace: Some(self.namespace.clone()),
                            ..Context::default()
                        }),
                        ..NamedContext::default()
                    }],
                    current_context: Some("medallion".to_owned()),
                    ..Kubeconfig::default()
                };
                Ok((kubeconfig, KubeConfigOptions::default()))
            }
        }
    }

    /// Points the context's cluster at the overridden endpoint and CA.
    fn apply_overrides(
        &self,
        kubeconfig: &mut Kubeconfig,
        context: Option<&str>,
    ) -> Result<(), ComputeError> {
        if self.overrides.endpoint.is_none() && self.overrides.ca_pem.is_none() {
            return Ok(());
        }
        let context_name = context
            .map(str::to_owned)
            .or_else(|| kubeconfig.current_context.clone())
            .ok_or_else(|| {
                self.settings_error("the kubeconfig has no current context; name one")
            })?;
        let cluster_name = kubeconfig
            .contexts
            .iter()
            .find(|c| c.name == context_name)
            .and_then(|c| c.context.as_ref())
            .map(|c| c.cluster.clone())
            .ok_or_else(|| {
                self.settings_error(format!("the kubeconfig has no context `{context_name}`"))
            })?;
        let named = kubeconfig
            .clusters
            .iter_mut()
            .find(|c| c.name == cluster_name)
            .ok_or_else(|| {
                self.settings_error(format!("the kubeconfig has no cluster `{cluster_name}`"))
            })?;
        let cluster = named.cluster.get_or_insert_with(Cluster::default);
        if let Some(endpoint) = &self.overrides.endpoint {
            cluster.server = Some(endpoint.clone());
        }
        if let Some(pem) = &self.overrides.ca_pem {
            cluster.certificate_authority = None;
            cluster.certificate_authority_data = Some(STANDARD.encode(pem));
        }
        Ok(())
    }

    fn sdk(&self) -> Result<&aws_config::SdkConfig, ComputeError> {
        self.aws.as_ref().ok_or_else(|| {
            self.settings_error("an EKS cluster name needs AWS settings (an aws resource)")
        })
    }

    /// Endpoint and CA (base64 PEM) from `DescribeCluster` (asked once; it also proves the
    /// cluster exists and is active), overrides applied.
    async fn describe(&self, cluster: &str) -> Result<(String, String), ComputeError> {
        let override_ca = self.overrides.ca_pem.as_ref().map(|p| STANDARD.encode(p));
        let mut described = self.described.lock().await;
        if described.is_none() {
            let client = aws_sdk_eks::Client::new(self.sdk()?);
            let out = client
                .describe_cluster()
                .name(cluster)
                .send()
                .await
                .map_err(|e| {
                    let e = ComputeError::from_sdk("DescribeCluster", &e);
                    self.error(e.kind, e)
                })?;
            let info = out.cluster().ok_or_else(|| {
                self.error(ErrorKind::NotFound, "DescribeCluster returned no cluster")
            })?;
            if let Some(status) = info.status()
                && *status != aws_sdk_eks::types::ClusterStatus::Active
            {
                return Err(self.error(
                    ErrorKind::Transient,
                    format!("the cluster is {} (not ACTIVE)", status.as_str()),
                ));
            }
            let endpoint = self
                .overrides
                .endpoint
                .clone()
                .or_else(|| info.endpoint().map(str::to_owned))
                .ok_or_else(|| {
                    self.error(
                        ErrorKind::Transient,
                        "the cluster has no endpoint yet (is it still creating?)",
                    )
                })?;
            let ca = override_ca
                .clone()
                .or_else(|| {
                    info.certificate_authority()
                        .and_then(|c| c.data())
                        .map(str::to_owned)
                })
                .ok_or_else(|| {
                    self.error(
                        ErrorKind::Transient,
                        "the cluster has no certificate authority yet",
                    )
                })?;
            *described = Some((endpoint, ca));
        }
        let (endpoint, ca) = described.clone().ok_or_else(|| {
            self.error(ErrorKind::NotFound, "DescribeCluster returned no cluster")
        })?;
        Ok((
            self.overrides.endpoint.clone().unwrap_or(endpoint),
            override_ca.unwrap_or(ca),
        ))
    }

    async fn token(&self, cluster: &str) -> Result<String, ComputeError> {
        let sdk = self.sdk()?;
        let region = sdk
            .region()
            .ok_or_else(|| {
                self.settings_error("no AWS region: set `region` on the aws resource or AWS_REGION")
            })?
            .to_string();
        let provider = sdk.credentials_provider().ok_or_else(|| {
            self.error(
                ErrorKind::NoCredentials,
                "no AWS credentials provider is configured",
            )
        })?;
        let credentials = provider.provide_credentials().await.map_err(|e| {
            let e = ComputeError::new(
                ErrorKind::NoCredentials,
                "getting AWS credentials for the EKS token",
                crate::compute::error::root_cause(&e),
            );
            self.error(e.kind, e)
        })?;
        token(cluster, &region, &credentials, SystemTime::now()).map_err(|e| self.error(e.kind, e))
    }
}
