//! Resources and secrets: each resource's settings make sense for its kind, and no secret value
//! is written into a project (only keyring and environment references).

use std::collections::BTreeSet;

use crate::model::asset::{AssetDefinition, AssetSpec, SourceSpec, is_identifier};
use crate::model::diagnostic::{Diagnostic, DiagnosticCode as Code};
use crate::model::project::Project;
use crate::model::resource::{Resource, ResourceKind};

pub(super) fn validate_resources(project: &Project, out: &mut Vec<Diagnostic>) {
    let mut names = BTreeSet::new();
    for r in &project.resources {
        let field = format!("resources.{}", r.name);
        if !names.insert(r.name.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateResource,
                    format!("resource `{}` is defined more than once", r.name),
                )
                .on_field(field.clone()),
            );
        }
        if !is_identifier(&r.name) {
            out.push(
                Diagnostic::error(
                    Code::InvalidName,
                    format!(
                        "resource name `{}` must be an identifier (letters, digits, `_`)",
                        r.name
                    ),
                )
                .on_field(field.clone()),
            );
        }
        for (secret_field, secret) in r.kind.secrets() {
            let (crate::model::resource::SecretRef::Keyring(name)
            | crate::model::resource::SecretRef::Env(name)) = secret;
            if name.trim().is_empty() {
                out.push(
                    Diagnostic::error(
                        Code::InvalidName,
                        format!(
                            "resource `{}`: {secret_field} names an empty secret",
                            r.name
                        ),
                    )
                    .on_field(format!("{field}.{secret_field}")),
                );
            }
        }
        if let Some(problem) = resource_problem(project, r) {
            out.push(
                Diagnostic::error(
                    Code::ResourceKind,
                    format!("resource `{}`: {problem}", r.name),
                )
                .on_field(field),
            );
        }
    }
}

/// What is wrong with a resource's settings for its kind, if anything.
pub(super) fn resource_problem(project: &Project, r: &Resource) -> Option<String> {
    match &r.kind {
        ResourceKind::Postgres {
            host,
            port,
            database,
            ..
        } => {
            if host.trim().is_empty() {
                Some("a postgres resource needs a host".to_owned())
            } else if *port == 0 {
                Some("port 0 is not a valid port".to_owned())
            } else if database.trim().is_empty() {
                Some("a postgres resource needs a database".to_owned())
            } else {
                None
            }
        }
        ResourceKind::S3 {
            bucket,
            aws,
            endpoint_url,
            ..
        } => s3_problem(project, bucket, endpoint_url.as_deref(), aws.as_deref()),
        ResourceKind::Http { base_url, .. } => (!is_http_url(base_url))
            .then(|| format!("base_url `{base_url}` must start with http:// or https://")),
        ResourceKind::Aws {
            endpoint_url,
            access_key_id,
            secret_access_key,
            compute,
            ..
        } => {
            if compute.as_ref().is_some_and(|c| c.bucket.trim().is_empty()) {
                Some("compute.bucket is empty: remote runs need a bucket".to_owned())
            } else if let Some(problem) = endpoint_problem(endpoint_url.as_deref()) {
                Some(problem)
            } else if access_key_id.is_some() != secret_access_key.is_some() {
                Some("access_key_id and secret_access_key must be set together".to_owned())
            } else {
                None
            }
        }
        ResourceKind::Eks {
            cluster,
            kubeconfig,
            context,
            endpoint_url,
            namespace,
            image,
            aws,
            ..
        } => eks_problem(
            project,
            cluster.as_deref(),
            kubeconfig.is_some() || context.is_some(),
            endpoint_url.as_deref(),
            namespace,
            image,
            aws.as_deref(),
        ),
    }
}

/// What is wrong with an `s3` resource, if anything.
fn s3_problem(
    project: &Project,
    bucket: &str,
    endpoint_url: Option<&str>,
    aws: Option<&str>,
) -> Option<String> {
    if bucket.trim().is_empty() {
        Some("an s3 resource needs a bucket".to_owned())
    } else if let Some(problem) = endpoint_problem(endpoint_url) {
        Some(problem)
    } else if let Some(aws) = aws {
        match project.resource(aws) {
            None => Some(format!("names aws resource `{aws}`, which is not defined")),
            Some(other) if !matches!(other.kind, ResourceKind::Aws { .. }) => Some(format!(
                "names `{aws}` as its aws resource, but that is a {} resource",
                other.kind.label()
            )),
            Some(_) => None,
        }
    } else {
        None
    }
}

/// An `endpoint_url` that is set but is not an HTTP(S) URL.
fn endpoint_problem(endpoint_url: Option<&str>) -> Option<String> {
    endpoint_url
        .filter(|u| !is_http_url(u))
        .map(|url| format!("endpoint_url `{url}` must start with http:// or https://"))
}

/// What is wrong with an `eks` resource, if anything.
pub(super) fn eks_problem(
    project: &Project,
    cluster: Option<&str>,
    uses_kubeconfig: bool,
    endpoint_url: Option<&str>,
    namespace: &str,
    image: &str,
    aws: Option<&str>,
) -> Option<String> {
    let dns_label = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    if cluster.is_some() && uses_kubeconfig {
        return Some(
            "name either an EKS `cluster` or a `kubeconfig`/`context`, not both".to_owned(),
        );
    }
    if cluster.is_some_and(|c| c.trim().is_empty()) {
        return Some("`cluster` is empty".to_owned());
    }
    if image.trim().is_empty() {
        return Some("an eks resource needs the runner `image`".to_owned());
    }
    if !dns_label(namespace) {
        return Some(format!(
            "namespace `{namespace}` is not a valid Kubernetes namespace (lowercase letters, digits, `-`)"
        ));
    }
    if let Some(url) = endpoint_url.filter(|u| !is_http_url(u)) {
        return Some(format!(
            "endpoint_url `{url}` must start with http:// or https://"
        ));
    }
    match aws.map(|a| (a, project.resource(a))) {
        Some((a, None)) => Some(format!("names aws resource `{a}`, which is not defined")),
        Some((a, Some(other))) if !matches!(other.kind, ResourceKind::Aws { .. }) => Some(format!(
            "names `{a}` as its aws resource, but that is a {} resource",
            other.kind.label()
        )),
        _ => None,
    }
}

/// Parameter names whose values are credentials: in a URL's query or an HTTP source's
/// `params`, a literal value is a secret written into the project.
const SECRET_PARAMS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth",
    "auth_token",
    "api_key",
    "apikey",
    "api-key",
    "x-api-key",
    "access_key",
    "secret_key",
    "signature",
    "sig",
    "x-amz-signature",
    "x-amz-security-token",
];

pub(super) fn is_secret_param(name: &str) -> bool {
    SECRET_PARAMS.contains(&name.trim().to_ascii_lowercase().as_str())
}

/// Whether a text holds a credential written as a value, and which kind (never the value): a
/// password in a URL (`scheme://user:password@host`) or a secret parameter in a URL's query
/// (`?token=…`).
pub fn embedded_secret(text: &str) -> Option<&'static str> {
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let after = &rest[i + 3..];
        let end = after
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(after.len());
        if has_password(&after[..end]) {
            return Some("a password in a URL (user:password@host)");
        }
        rest = after;
    }
    for (q, _) in text.match_indices('?') {
        let query = text[q + 1..]
            .split(|c: char| c.is_whitespace() || c == '#')
            .next()
            .unwrap_or_default();
        for pair in query.split('&') {
            if let Some((name, value)) = pair.split_once('=')
                && is_secret_param(name)
                && is_literal(value)
            {
                return Some("a secret parameter in a URL's query");
            }
        }
    }
    None
}

/// `user:password@host`: an `@` with a non-empty password before it.
pub(super) fn has_password(authority: &str) -> bool {
    authority.rfind('@').is_some_and(|at| {
        authority[..at]
            .split_once(':')
            .is_some_and(|(user, password)| !user.is_empty() && !password.is_empty())
    })
}

/// A value written out, not a placeholder such as `{partition}` or `${VAR}`.
pub(super) fn is_literal(value: &str) -> bool {
    let v = value.trim();
    let placeholder = (v.starts_with('{') && v.ends_with('}')) || v.starts_with("${");
    !v.is_empty() && !placeholder
}

/// How to keep a secret out of a project file, said after each value found written in one.
const SECRET_HOW: &str = "a secret is never written in a project file; store it in the OS keyring (`medallion secret set NAME`) or an environment variable and refer to it as { keyring = \"NAME\" } or { env = \"VAR\" }";

/// A secret is never written in a project: not in a URL (`user:password@`, `?token=`), not as
/// an HTTP parameter named like a credential. Nothing of the value is repeated.
pub(super) fn validate_no_secret_values(project: &Project, out: &mut Vec<Diagnostic>) {
    for r in &project.resources {
        secrets_in_resource(r, out);
    }
    for asset in &project.assets {
        secrets_in_asset(asset, out);
    }
}

/// Every string in a JSON value, with its path (`a.b[2].c`).
fn json_strings<'a>(value: &'a serde_json::Value, path: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        serde_json::Value::String(s) => out.push((path, s)),
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                json_strings(v, format!("{path}[{i}]"), out);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                json_strings(v, p, out);
            }
        }
        _ => {}
    }
}

/// Secrets written in any of a resource's settings.
fn secrets_in_resource(r: &Resource, out: &mut Vec<Diagnostic>) {
    let Ok(value) = serde_json::to_value(&r.kind) else {
        return;
    };
    let mut found = Vec::new();
    json_strings(&value, String::new(), &mut found);
    for (path, text) in found {
        let field = path.rsplit('.').next().unwrap_or(&path).to_owned();
        // A host written as user:password@host, without a scheme.
        let in_host = (field == "host" && has_password(text))
            .then_some("a password before the host name (user:password@host)");
        if let Some(what) = in_host.or_else(|| embedded_secret(text)) {
            out.push(
                Diagnostic::error(
                    Code::SecretValue,
                    format!("resource `{}`: {field} holds {what}; {SECRET_HOW}", r.name),
                )
                .on_field(format!("resources.{}.{field}", r.name)),
            );
        }
    }
}

/// Secrets written in an asset's description, source or SQL, and HTTP parameters named like
/// a credential that hold a literal value.
fn secrets_in_asset(asset: &AssetSpec, out: &mut Vec<Diagnostic>) {
    let mut texts: Vec<(String, &str)> = vec![("description".into(), &asset.description)];
    match &asset.definition {
        AssetDefinition::Source(SourceSpec::File { path, .. }) => {
            texts.push(("source.path".into(), path));
        }
        AssetDefinition::Source(SourceSpec::S3 { key, .. }) => {
            texts.push(("source.key".into(), key));
        }
        AssetDefinition::Source(SourceSpec::Postgres { query, .. }) => {
            texts.push(("source.query".into(), query));
        }
        AssetDefinition::Source(SourceSpec::Http { path, params, .. }) => {
            texts.push(("source.path".into(), path));
            for (name, value) in params {
                if is_secret_param(name) && is_literal(value) {
                    out.push(
                        Diagnostic::error(
                            Code::SecretValue,
                            format!(
                                "source parameter `{name}` is a credential written as a value; {SECRET_HOW} on the resource (auth_token)"
                            ),
                        )
                        .on_asset(&asset.key)
                        .on_field(format!("source.params.{name}")),
                    );
                }
                texts.push((format!("source.params.{name}"), value));
            }
        }
        AssetDefinition::Transform(t) => {
            if let Some(sql) = &t.sql {
                texts.push(("sql".into(), sql));
            }
        }
    }
    for (field, text) in texts {
        if let Some(what) = embedded_secret(text) {
            out.push(
                Diagnostic::error(
                    Code::SecretValue,
                    format!("{field} holds {what}; {SECRET_HOW}"),
                )
                .on_asset(&asset.key)
                .on_field(field),
            );
        }
    }
}

pub(super) fn is_http_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://")) && url.len() > "https://".len() - 1
}
