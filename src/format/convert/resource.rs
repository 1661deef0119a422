//! Resources (postgres, s3, http, aws, eks) between `[resources.NAME]` tables and
//! [`Resource`]: each kind takes its own fields and refuses the others by name.

use super::{ConvertError, refuse_extra, required, secret, secret_file};
use crate::format::file::ResourceFile;
use crate::model::{Resource, ResourceKind, SslMode};

pub(super) fn resource_from_file(
    name: &str,
    mut r: ResourceFile,
) -> Result<Resource, ConvertError> {
    let what = format!("{} resource", r.kind);
    let description = std::mem::take(&mut r.description);
    let kind = match r.kind.as_str() {
        "postgres" => postgres_from_file(&what, r)?,
        "s3" => s3_from_file(&what, r)?,
        "http" => http_from_file(&what, r)?,
        "aws" => aws_from_file(&what, r)?,
        "eks" => eks_from_file(&what, r)?,
        other => {
            return Err(ConvertError::Unknown {
                what: "resource kind",
                found: other.to_owned(),
                expected: "postgres, s3, http, aws or eks",
            });
        }
    };
    Ok(Resource {
        name: name.to_owned(),
        description,
        kind,
    })
}

/// Fields only an eks resource takes; every other kind refuses them.
fn eks_only(r: &ResourceFile) -> [(&'static str, bool); 7] {
    [
        ("cluster", r.cluster.is_some()),
        ("kubeconfig", r.kubeconfig.is_some()),
        ("context", r.context.is_some()),
        ("ca_file", r.ca_file.is_some()),
        ("namespace", r.namespace.is_some()),
        ("service_account", r.service_account.is_some()),
        ("image", r.image.is_some()),
    ]
}

fn postgres_from_file(what: &str, r: ResourceFile) -> Result<ResourceKind, ConvertError> {
    refuse_extra(
        what,
        &[
            &eks_only(&r)[..],
            &[
                ("bucket", r.bucket.is_some()),
                ("region", r.region.is_some()),
                ("endpoint_url", r.endpoint_url.is_some()),
                ("aws", r.aws.is_some()),
                ("base_url", r.base_url.is_some()),
                ("auth_token", r.auth_token.is_some()),
                ("profile", r.profile.is_some()),
                ("access_key_id", r.access_key_id.is_some()),
                ("secret_access_key", r.secret_access_key.is_some()),
                ("compute", r.compute.is_some()),
            ],
        ]
        .concat(),
    )?;
    Ok(ResourceKind::Postgres {
        host: required(r.host, what, "host")?,
        port: r.port.unwrap_or(5432),
        database: required(r.database, what, "database")?,
        user: required(r.user, what, "user")?,
        password: secret(r.password, "password")?,
        sslmode: match r.sslmode.as_deref() {
            None => SslMode::default(),
            Some(m) => SslMode::parse(m).ok_or_else(|| ConvertError::NotOneOf {
                field: "sslmode",
                value: m.to_owned(),
                allowed: SslMode::ALL.map(SslMode::as_str).join(", "),
            })?,
        },
    })
}

fn s3_from_file(what: &str, r: ResourceFile) -> Result<ResourceKind, ConvertError> {
    refuse_extra(
        what,
        &[
            &eks_only(&r)[..],
            &[
                ("host", r.host.is_some()),
                ("sslmode", r.sslmode.is_some()),
                ("port", r.port.is_some()),
                ("database", r.database.is_some()),
                ("user", r.user.is_some()),
                ("password", r.password.is_some()),
                ("base_url", r.base_url.is_some()),
                ("auth_token", r.auth_token.is_some()),
                ("profile", r.profile.is_some()),
                ("access_key_id", r.access_key_id.is_some()),
                ("secret_access_key", r.secret_access_key.is_some()),
                ("compute", r.compute.is_some()),
            ],
        ]
        .concat(),
    )?;
    Ok(ResourceKind::S3 {
        bucket: required(r.bucket, what, "bucket")?,
        region: r.region,
        endpoint_url: r.endpoint_url,
        aws: r.aws,
    })
}

fn http_from_file(what: &str, r: ResourceFile) -> Result<ResourceKind, ConvertError> {
    refuse_extra(
        what,
        &[
            &eks_only(&r)[..],
            &[
                ("host", r.host.is_some()),
                ("sslmode", r.sslmode.is_some()),
                ("port", r.port.is_some()),
                ("database", r.database.is_some()),
                ("user", r.user.is_some()),
                ("password", r.password.is_some()),
                ("bucket", r.bucket.is_some()),
                ("region", r.region.is_some()),
                ("endpoint_url", r.endpoint_url.is_some()),
                ("aws", r.aws.is_some()),
                ("profile", r.profile.is_some()),
                ("access_key_id", r.access_key_id.is_some()),
                ("secret_access_key", r.secret_access_key.is_some()),
                ("compute", r.compute.is_some()),
            ],
        ]
        .concat(),
    )?;
    Ok(ResourceKind::Http {
        base_url: required(r.base_url, what, "base_url")?,
        auth_token: secret(r.auth_token, "auth_token")?,
    })
}

fn aws_from_file(what: &str, r: ResourceFile) -> Result<ResourceKind, ConvertError> {
    refuse_extra(
        what,
        &[
            &eks_only(&r)[..],
            &[
                ("host", r.host.is_some()),
                ("sslmode", r.sslmode.is_some()),
                ("port", r.port.is_some()),
                ("database", r.database.is_some()),
                ("user", r.user.is_some()),
                ("password", r.password.is_some()),
                ("bucket", r.bucket.is_some()),
                ("aws", r.aws.is_some()),
                ("base_url", r.base_url.is_some()),
                ("auth_token", r.auth_token.is_some()),
            ],
        ]
        .concat(),
    )?;
    Ok(ResourceKind::Aws {
        region: r.region,
        profile: r.profile,
        endpoint_url: r.endpoint_url,
        access_key_id: secret(r.access_key_id, "access_key_id")?,
        secret_access_key: secret(r.secret_access_key, "secret_access_key")?,
        compute: r.compute.map(Box::new),
    })
}

fn eks_from_file(what: &str, r: ResourceFile) -> Result<ResourceKind, ConvertError> {
    refuse_extra(
        what,
        &[
            ("host", r.host.is_some()),
            ("sslmode", r.sslmode.is_some()),
            ("port", r.port.is_some()),
            ("database", r.database.is_some()),
            ("user", r.user.is_some()),
            ("password", r.password.is_some()),
            ("bucket", r.bucket.is_some()),
            ("region", r.region.is_some()),
            ("base_url", r.base_url.is_some()),
            ("auth_token", r.auth_token.is_some()),
            ("profile", r.profile.is_some()),
            ("access_key_id", r.access_key_id.is_some()),
            ("secret_access_key", r.secret_access_key.is_some()),
        ],
    )?;
    Ok(ResourceKind::Eks {
        cluster: r.cluster,
        kubeconfig: r.kubeconfig,
        context: r.context,
        endpoint_url: r.endpoint_url,
        ca_file: r.ca_file,
        namespace: r
            .namespace
            .unwrap_or_else(|| crate::model::resource::DEFAULT_NAMESPACE.to_owned()),
        service_account: r.service_account,
        image: required(r.image, what, "image")?,
        aws: r.aws,
    })
}

pub(super) fn resource_to_file(r: &Resource) -> ResourceFile {
    let mut f = ResourceFile {
        kind: r.kind.label().to_owned(),
        description: r.description.clone(),
        ..ResourceFile::default()
    };
    match &r.kind {
        ResourceKind::Postgres {
            host,
            port,
            database,
            user,
            password,
            sslmode,
        } => {
            // The default is left out, so projects that never set it export unchanged.
            f.sslmode = (*sslmode != SslMode::default()).then(|| sslmode.as_str().to_owned());
            f.host = Some(host.clone());
            f.port = Some(*port);
            f.database = Some(database.clone());
            f.user = Some(user.clone());
            f.password = secret_file(password.as_ref());
        }
        ResourceKind::S3 {
            bucket,
            region,
            endpoint_url,
            aws,
        } => {
            f.bucket = Some(bucket.clone());
            f.region.clone_from(region);
            f.endpoint_url.clone_from(endpoint_url);
            f.aws.clone_from(aws);
        }
        ResourceKind::Http {
            base_url,
            auth_token,
        } => {
            f.base_url = Some(base_url.clone());
            f.auth_token = secret_file(auth_token.as_ref());
        }
        ResourceKind::Aws {
            region,
            profile,
            endpoint_url,
            access_key_id,
            secret_access_key,
            compute,
        } => {
            f.compute = compute.as_deref().cloned();
            f.region.clone_from(region);
            f.profile.clone_from(profile);
            f.endpoint_url.clone_from(endpoint_url);
            f.access_key_id = secret_file(access_key_id.as_ref());
            f.secret_access_key = secret_file(secret_access_key.as_ref());
        }
        ResourceKind::Eks {
            cluster,
            kubeconfig,
            context,
            endpoint_url,
            ca_file,
            namespace,
            service_account,
            image,
            aws,
        } => {
            f.cluster.clone_from(cluster);
            f.kubeconfig.clone_from(kubeconfig);
            f.context.clone_from(context);
            f.endpoint_url.clone_from(endpoint_url);
            f.ca_file.clone_from(ca_file);
            f.namespace = Some(namespace.clone());
            f.service_account.clone_from(service_account);
            f.image = Some(image.clone());
            f.aws.clone_from(aws);
        }
    }
    f
}
