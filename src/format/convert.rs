//! Conversion between the file shapes of `file.rs` and the domain model, in both directions.
//! Reading collects every problem as a located diagnostic and keeps going.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::file::{
    AssetFile, CheckFile, ComputeFile, FreshnessFile, PartitionsFile, ProjectFile, ProjectHeader,
    ResourceFile, ScheduleFile, SchemaColumnFile, SecretFile, SourceFile, StepFile,
};
use crate::model::{
    AssetCheckSpec, AssetDefinition, AssetKey, AssetSpec, CheckKind, CheckSeverity, ComputeHints,
    CsvOptions, FileFormat, FreshnessPolicy, LetterCase, MissingFields, PartitionsDefinition,
    Project, Resource, ResourceKind, ScheduleDefinition, SecretRef, SourceSpec, SslMode,
    TransformSpec, TransformStep,
};

/// A problem found while turning a file into the model, with the byte range it concerns.
#[derive(Debug, Clone)]
pub struct FileProblem {
    pub span: Range<usize>,
    pub asset: Option<AssetKey>,
    pub field: String,
    pub message: String,
}

/// Where each part of the project sits in `medallion.toml`, for locating diagnostics.
#[derive(Debug, Clone, Default)]
pub struct Spans {
    /// `(asset key or "", field path)` → byte range.
    pub fields: BTreeMap<(String, String), Range<usize>>,
    /// SQL read from a file: asset key → path relative to the project directory.
    pub sql_files: BTreeMap<String, String>,
}

/// What reading needs from outside: the SQL files, looked up by relative path.
pub trait SqlFiles {
    /// The text of a SQL file, or `None` when it does not exist.
    fn read(&self, relative_path: &str) -> Result<Option<String>, String>;
}

pub fn project_from_file(
    file: ProjectFile,
    sql_files: &dyn SqlFiles,
) -> (Project, Spans, Vec<FileProblem>) {
    let mut spans = Spans::default();
    let mut problems = Vec::new();
    let mut project = Project::new(file.project.name.get_ref().clone());
    spans.fields.insert(
        (String::new(), "project.name".into()),
        file.project.name.span(),
    );
    project.description = file.project.description;
    if file.project.format_version > super::file::format_version() {
        problems.push(FileProblem {
            span: file.project.name.span(),
            asset: None,
            field: "project.format_version".into(),
            message: format!(
                "this project uses format version {}, newer than this Medallion understands ({}); update Medallion",
                file.project.format_version,
                super::file::format_version()
            ),
        });
    }

    for (name, spanned) in file.resources {
        let span = spanned.span();
        spans
            .fields
            .insert((String::new(), format!("resources.{name}")), span.clone());
        match resource_from_file(&name, spanned.into_inner()) {
            Ok(r) => project.resources.push(r),
            Err(message) => problems.push(FileProblem {
                span,
                asset: None,
                field: format!("resources.{name}"),
                message,
            }),
        }
    }
    for (name, spanned) in file.schedules {
        let span = spanned.span();
        for suffix in ["", ".cron", ".selection"] {
            spans.fields.insert(
                (String::new(), format!("schedules.{name}{suffix}")),
                span.clone(),
            );
        }
        let s: ScheduleFile = spanned.into_inner();
        project.schedules.push(ScheduleDefinition {
            name,
            cron: s.cron,
            selection: s.selection,
            enabled: s.enabled,
        });
    }
    for (key, spanned) in file.assets {
        let span = spanned.span();
        spans
            .fields
            .insert((key.clone(), String::new()), span.clone());
        let asset = asset_from_file(
            &key,
            spanned.into_inner(),
            span,
            sql_files,
            &mut spans,
            &mut problems,
        );
        project.assets.push(asset);
    }
    (project, spans, problems)
}

fn secret(s: Option<SecretFile>, field: &str) -> Result<Option<SecretRef>, String> {
    match s {
        None => Ok(None),
        Some(SecretFile {
            keyring: Some(k),
            env: None,
        }) => Ok(Some(SecretRef::Keyring(k))),
        Some(SecretFile {
            keyring: None,
            env: Some(e),
        }) => Ok(Some(SecretRef::Env(e))),
        Some(_) => Err(format!(
            "{field} must name exactly one of keyring or env, e.g. {field} = {{ keyring = \"NAME\" }}"
        )),
    }
}

fn secret_file(s: Option<&SecretRef>) -> Option<SecretFile> {
    s.map(|s| match s {
        SecretRef::Keyring(k) => SecretFile {
            keyring: Some(k.clone()),
            env: None,
        },
        SecretRef::Env(e) => SecretFile {
            keyring: None,
            env: Some(e.clone()),
        },
    })
}

fn required<T>(value: Option<T>, what: &str, field: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("{} {what} needs `{field}`", article(what)))
}

/// "an" before a vowel sound (`an eks resource`), "a" otherwise (`a unique check`).
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o']) {
        "an"
    } else {
        "a"
    }
}

/// Names the fields that are set but mean nothing for this kind.
fn refuse_extra(what: &str, fields: &[(&str, bool)]) -> Result<(), String> {
    let extra: Vec<&str> = fields
        .iter()
        .filter(|(_, set)| *set)
        .map(|(n, _)| *n)
        .collect();
    if extra.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} {what} does not take {}",
            article(what),
            extra
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

fn resource_from_file(name: &str, r: ResourceFile) -> Result<Resource, String> {
    let what = format!("{} resource", r.kind);
    // Fields only an eks resource takes; every other kind refuses them.
    let eks_only = [
        ("cluster", r.cluster.is_some()),
        ("kubeconfig", r.kubeconfig.is_some()),
        ("context", r.context.is_some()),
        ("ca_file", r.ca_file.is_some()),
        ("namespace", r.namespace.is_some()),
        ("service_account", r.service_account.is_some()),
        ("image", r.image.is_some()),
    ];
    let kind = match r.kind.as_str() {
        "postgres" => {
            refuse_extra(
                &what,
                &[
                    &eks_only[..],
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
            ResourceKind::Postgres {
                host: required(r.host, &what, "host")?,
                port: r.port.unwrap_or(5432),
                database: required(r.database, &what, "database")?,
                user: required(r.user, &what, "user")?,
                password: secret(r.password, "password")?,
                sslmode: match r.sslmode.as_deref() {
                    None => SslMode::default(),
                    Some(m) => SslMode::parse(m).ok_or_else(|| {
                        format!(
                            "`sslmode = \"{m}\"` is not one of {}",
                            SslMode::ALL.map(SslMode::as_str).join(", ")
                        )
                    })?,
                },
            }
        }
        "s3" => {
            refuse_extra(
                &what,
                &[
                    &eks_only[..],
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
            ResourceKind::S3 {
                bucket: required(r.bucket, &what, "bucket")?,
                region: r.region,
                endpoint_url: r.endpoint_url,
                aws: r.aws,
            }
        }
        "http" => {
            refuse_extra(
                &what,
                &[
                    &eks_only[..],
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
            ResourceKind::Http {
                base_url: required(r.base_url, &what, "base_url")?,
                auth_token: secret(r.auth_token, "auth_token")?,
            }
        }
        "aws" => {
            refuse_extra(
                &what,
                &[
                    &eks_only[..],
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
            ResourceKind::Aws {
                region: r.region,
                profile: r.profile,
                endpoint_url: r.endpoint_url,
                access_key_id: secret(r.access_key_id, "access_key_id")?,
                secret_access_key: secret(r.secret_access_key, "secret_access_key")?,
                compute: r.compute.map(Box::new),
            }
        }
        "eks" => {
            refuse_extra(
                &what,
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
            ResourceKind::Eks {
                cluster: r.cluster,
                kubeconfig: r.kubeconfig,
                context: r.context,
                endpoint_url: r.endpoint_url,
                ca_file: r.ca_file,
                namespace: r
                    .namespace
                    .unwrap_or_else(|| crate::model::resource::DEFAULT_NAMESPACE.to_owned()),
                service_account: r.service_account,
                image: required(r.image, &what, "image")?,
                aws: r.aws,
            }
        }
        other => {
            return Err(format!(
                "unknown resource kind `{other}` (expected postgres, s3, http, aws or eks)"
            ));
        }
    };
    Ok(Resource {
        name: name.to_owned(),
        description: r.description,
        kind,
    })
}

fn resource_to_file(r: &Resource) -> ResourceFile {
    let mut f = ResourceFile {
        kind: r.kind.label().to_owned(),
        description: r.description.clone(),
        host: None,
        port: None,
        database: None,
        user: None,
        password: None,
        sslmode: None,
        bucket: None,
        region: None,
        endpoint_url: None,
        aws: None,
        base_url: None,
        auth_token: None,
        profile: None,
        access_key_id: None,
        secret_access_key: None,
        cluster: None,
        kubeconfig: None,
        context: None,
        ca_file: None,
        namespace: None,
        service_account: None,
        image: None,
        compute: None,
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

fn asset_from_file(
    key: &str,
    f: AssetFile,
    span: Range<usize>,
    sql_files: &dyn SqlFiles,
    spans: &mut Spans,
    problems: &mut Vec<FileProblem>,
) -> AssetSpec {
    let asset_key = AssetKey::new(key);
    let mut problem = |span: Range<usize>, field: &str, message: String| {
        problems.push(FileProblem {
            span,
            asset: Some(asset_key.clone()),
            field: field.to_owned(),
            message,
        });
    };
    let mut mark = |field: &str, span: Range<usize>| {
        spans
            .fields
            .insert((key.to_owned(), field.to_owned()), span);
    };
    let mut asset = AssetSpec::new(key, f.layer);
    asset.description = f.description;
    asset.owner = f.owner;
    asset.group = f.group;
    asset.code_version = f.code_version;
    asset.tags = f.tags;
    asset.pii = f.pii;
    asset.deps = f.deps.into_iter().map(AssetKey::new).collect();

    // SQL: inline, from sql_file, or from the conventional sql/<key>.sql.
    let mut sql_text = None;
    match (f.sql, f.sql_file) {
        (Some(_), Some(file)) => problem(
            file.span(),
            "sql_file",
            "give either sql or sql_file, not both".into(),
        ),
        (Some(inline), None) => {
            mark("sql", inline.span());
            sql_text = Some(inline.into_inner());
        }
        (None, Some(file)) => {
            let path = file.get_ref().clone();
            match sql_files.read(&path) {
                Ok(Some(text)) => {
                    spans.sql_files.insert(key.to_owned(), path);
                    sql_text = Some(text.trim_end().to_owned());
                }
                Ok(None) => problem(
                    file.span(),
                    "sql_file",
                    format!("SQL file `{path}` does not exist"),
                ),
                Err(e) => problem(
                    file.span(),
                    "sql_file",
                    format!("cannot read SQL file `{path}`: {e}"),
                ),
            }
            mark("sql", file.span());
        }
        (None, None) => {
            let path = format!("sql/{key}.sql");
            if f.source.is_none()
                && let Ok(Some(text)) = sql_files.read(&path)
            {
                spans.sql_files.insert(key.to_owned(), path);
                sql_text = Some(text.trim_end().to_owned());
            }
            mark("sql", span.clone());
        }
    }

    let mut steps = Vec::new();
    for (i, s) in f.steps.into_iter().enumerate() {
        let field = format!("steps[{i}]");
        mark(&field, s.span());
        let step_span = s.span();
        match step_from_file(s.into_inner()) {
            Ok(step) => steps.push(step),
            Err(e) => problem(step_span, &field, format!("step {}: {e}", i + 1)),
        }
    }

    match f.source {
        Some(source) => {
            let source_span = source.span();
            mark("source", source_span.clone());
            // The CSV options validation checks, located on their own lines.
            for (field, value) in [
                ("source.delimiter", &source.get_ref().delimiter),
                ("source.quote_char", &source.get_ref().quote_char),
            ] {
                if let Some(v) = value {
                    mark(field, v.span());
                }
            }
            if sql_text.is_some() || !steps.is_empty() {
                problem(
                    source_span.clone(),
                    "source",
                    "an asset is either a source or a transform (sql/steps), not both".into(),
                );
            }
            match source_from_file(source.into_inner()) {
                Ok(s) => asset.definition = AssetDefinition::Source(s),
                Err(e) => problem(source_span, "source", format!("source: {e}")),
            }
        }
        None => {
            asset.definition = AssetDefinition::Transform(TransformSpec {
                sql: sql_text,
                steps,
            });
        }
    }

    for c in f.checks {
        let cspan = c.span();
        let check = c.into_inner();
        let field = format!("checks.{}", check.name);
        mark(&field, cspan.clone());
        let name = check.name.clone();
        match check_from_file(check) {
            Ok(c) => asset.checks.push(c),
            Err(e) => problem(cspan, &field, format!("check `{name}`: {e}")),
        }
    }
    if let Some(p) = f.partitions {
        let pspan = p.span();
        mark("partitions", pspan.clone());
        match partitions_from_file(p.into_inner()) {
            Ok(p) => asset.partitions = p,
            Err(e) => problem(pspan, "partitions", format!("partitions: {e}")),
        }
    }
    if let Some(fr) = f.freshness {
        mark("freshness", fr.span());
        let FreshnessFile {
            max_lag_minutes,
            cron,
        } = fr.into_inner();
        asset.freshness = Some(FreshnessPolicy {
            max_lag_minutes,
            cron,
        });
    }
    if let Some(c) = f.compute {
        mark("compute", c.span());
        let c = c.into_inner();
        asset.compute = ComputeHints {
            tier: c.tier.unwrap_or_default(),
            vcpu: c.vcpu,
            memory_mb: c.memory_mb,
            timeout_secs: c.timeout_secs,
            spot: c.spot,
            node_type: c.node_type,
            min_nodes: c.min_nodes,
            max_nodes: c.max_nodes,
        };
    }
    asset
}

fn one_char(
    value: Option<String>,
    field: &str,
    default: Option<char>,
) -> Result<Option<char>, String> {
    match value {
        None => Ok(default),
        Some(s) if s.is_empty() && field == "quote_char" => Ok(None),
        Some(s) => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(Some(c)),
                _ => Err(format!("`{field}` must be a single character, not {s:?}")),
            }
        }
    }
}

fn file_format(format: &str, s: &mut SourceFile) -> Result<FileFormat, String> {
    let csv_fields = [
        ("delimiter", s.delimiter.is_some()),
        ("has_header", s.has_header.is_some()),
        ("quote_char", s.quote_char.is_some()),
        ("null_values", s.null_values.is_some()),
        ("missing_fields", s.missing_fields.is_some()),
    ];
    Ok(match format {
        "csv" => {
            let defaults = CsvOptions::default();
            let missing_fields = match s.missing_fields.take() {
                None => defaults.missing_fields,
                Some(m) => MissingFields::parse(&m).ok_or_else(|| {
                    format!("`missing_fields` is \"error\" or \"null\", not {m:?}")
                })?,
            };
            FileFormat::Csv(CsvOptions {
                delimiter: one_char(
                    s.delimiter.take().map(Spanned::into_inner),
                    "delimiter",
                    Some(defaults.delimiter),
                )?
                .unwrap_or(','),
                has_header: s.has_header.take().unwrap_or(defaults.has_header),
                quote_char: one_char(
                    s.quote_char.take().map(Spanned::into_inner),
                    "quote_char",
                    defaults.quote_char,
                )?,
                null_values: s.null_values.take().unwrap_or(defaults.null_values),
                schema: s.schema.take().unwrap_or_default(),
                missing_fields,
            })
        }
        "parquet" | "json" | "ndjson" => {
            refuse_extra(&format!("{format} source"), &csv_fields)?;
            if s.schema.is_some() && format == "parquet" {
                return Err(
                    "a parquet source takes its schema from the file; drop `schema`".into(),
                );
            }
            match format {
                "parquet" => FileFormat::Parquet,
                "json" => FileFormat::Json,
                _ => FileFormat::Ndjson,
            }
        }
        other => {
            return Err(format!(
                "unknown file format `{other}` (expected csv, parquet, json or ndjson)"
            ));
        }
    })
}

fn source_from_file(mut s: SourceFile) -> Result<SourceSpec, String> {
    let kind = s.kind.clone();
    let what = format!("{kind} source");
    Ok(match kind.as_str() {
        "csv" | "parquet" | "json" | "ndjson" => {
            refuse_extra(
                &what,
                &[
                    ("resource", s.resource.is_some()),
                    ("key", s.key.is_some()),
                    ("format", s.format.is_some()),
                    ("query", s.query.is_some()),
                    ("params", s.params.is_some()),
                    ("records_pointer", s.records_pointer.is_some()),
                ],
            )?;
            let path = required(s.path.take(), &what, "path")?;
            let format = file_format(&kind, &mut s)?;
            SourceSpec::File { path, format }
        }
        "s3" => {
            refuse_extra(
                &what,
                &[
                    ("path", s.path.is_some()),
                    ("query", s.query.is_some()),
                    ("params", s.params.is_some()),
                    ("records_pointer", s.records_pointer.is_some()),
                ],
            )?;
            let resource = required(s.resource.take(), &what, "resource")?;
            let key = required(s.key.take(), &what, "key")?;
            let fmt = s.format.take().unwrap_or_else(|| "parquet".into());
            let format = file_format(&fmt, &mut s)?;
            SourceSpec::S3 {
                resource,
                key,
                format,
            }
        }
        "postgres" => {
            refuse_extra(
                &what,
                &[
                    ("path", s.path.is_some()),
                    ("key", s.key.is_some()),
                    ("format", s.format.is_some()),
                    ("delimiter", s.delimiter.is_some()),
                    ("has_header", s.has_header.is_some()),
                    ("quote_char", s.quote_char.is_some()),
                    ("null_values", s.null_values.is_some()),
                    ("missing_fields", s.missing_fields.is_some()),
                    ("params", s.params.is_some()),
                    ("records_pointer", s.records_pointer.is_some()),
                    ("schema", s.schema.is_some()),
                ],
            )?;
            SourceSpec::Postgres {
                resource: required(s.resource, &what, "resource")?,
                query: required(s.query, &what, "query")?,
            }
        }
        "http" => {
            refuse_extra(
                &what,
                &[
                    ("key", s.key.is_some()),
                    ("format", s.format.is_some()),
                    ("delimiter", s.delimiter.is_some()),
                    ("has_header", s.has_header.is_some()),
                    ("quote_char", s.quote_char.is_some()),
                    ("null_values", s.null_values.is_some()),
                    ("missing_fields", s.missing_fields.is_some()),
                    ("query", s.query.is_some()),
                    ("schema", s.schema.is_some()),
                ],
            )?;
            SourceSpec::Http {
                resource: required(s.resource, &what, "resource")?,
                path: s.path.unwrap_or_default(),
                params: s.params.unwrap_or_default(),
                records_pointer: s.records_pointer.unwrap_or_default(),
            }
        }
        other => {
            return Err(format!(
                "unknown source kind `{other}` (expected csv, parquet, json, ndjson, s3, postgres or http)"
            ));
        }
    })
}

fn format_to_file(format: &FileFormat, f: &mut SourceFile) {
    if let FileFormat::Csv(o) = format {
        f.delimiter = Some(no_span(o.delimiter.to_string()));
        f.has_header = Some(o.has_header);
        f.quote_char = Some(no_span(o.quote_char.map(String::from).unwrap_or_default()));
        f.null_values = Some(o.null_values.clone());
        f.schema = (!o.schema.is_empty()).then(|| o.schema.clone());
        f.missing_fields = (o.missing_fields != MissingFields::default())
            .then(|| o.missing_fields.as_str().to_owned());
    }
}

fn source_to_file(s: &SourceSpec) -> SourceFile {
    let mut f = SourceFile {
        kind: s.kind_label().to_owned(),
        ..SourceFile::default()
    };
    match s {
        SourceSpec::File { path, format } => {
            f.path = Some(path.clone());
            format_to_file(format, &mut f);
        }
        SourceSpec::S3 {
            resource,
            key,
            format,
        } => {
            f.resource = Some(resource.clone());
            f.key = Some(key.clone());
            f.format = Some(format.label().to_owned());
            format_to_file(format, &mut f);
        }
        SourceSpec::Postgres { resource, query } => {
            f.resource = Some(resource.clone());
            f.query = Some(query.clone());
        }
        SourceSpec::Http {
            resource,
            path,
            params,
            records_pointer,
        } => {
            f.resource = Some(resource.clone());
            f.path = Some(path.clone());
            f.params = (!params.is_empty()).then(|| params.clone());
            f.records_pointer = Some(records_pointer.clone());
        }
    }
    f
}

fn step_from_file(s: StepFile) -> Result<TransformStep, String> {
    let what = format!("{} step", s.step);
    let all: [(&str, bool); 12] = [
        ("columns", s.columns.is_some()),
        ("key", s.key.is_some()),
        ("order_by", s.order_by.is_some()),
        ("chars", s.chars.is_some()),
        ("case", s.case.is_some()),
        ("column", s.column.is_some()),
        ("pattern", s.pattern.is_some()),
        ("output", s.output.is_some()),
        ("full_match", s.full_match.is_some()),
        ("keep_matching", s.keep_matching.is_some()),
        ("to", s.to.is_some()),
        ("from", s.from.is_some()),
    ];
    let only = |allowed: &[&str]| {
        let extra: Vec<(&str, bool)> = all
            .iter()
            .copied()
            .filter(|(n, _)| !allowed.contains(n))
            .collect();
        refuse_extra(&what, &extra)
    };
    Ok(match s.step.as_str() {
        "deduplicate" => {
            only(&["columns"])?;
            TransformStep::Deduplicate {
                columns: s.columns.unwrap_or_default(),
            }
        }
        "keep_latest" => {
            only(&["key", "order_by"])?;
            TransformStep::KeepLatest {
                key: required(s.key, &what, "key")?,
                order_by: required(s.order_by, &what, "order_by")?,
            }
        }
        "trim" => {
            only(&["columns", "chars"])?;
            TransformStep::Trim {
                columns: required(s.columns, &what, "columns")?,
                chars: s.chars.unwrap_or_else(|| " \t".into()),
            }
        }
        "change_case" => {
            only(&["columns", "case"])?;
            let case = match required(s.case, &what, "case")?.as_str() {
                "lower" => LetterCase::Lower,
                "upper" => LetterCase::Upper,
                "title" => LetterCase::Title,
                other => {
                    return Err(format!(
                        "unknown case `{other}` (expected lower, upper or title)"
                    ));
                }
            };
            TransformStep::ChangeCase {
                columns: required(s.columns, &what, "columns")?,
                case,
            }
        }
        "regex_flag" => {
            only(&["column", "pattern", "output", "full_match"])?;
            TransformStep::RegexFlag {
                column: required(s.column, &what, "column")?,
                pattern: required(s.pattern, &what, "pattern")?,
                output: required(s.output, &what, "output")?,
                full_match: s.full_match.unwrap_or(true),
            }
        }
        "regex_filter" => {
            only(&["column", "pattern", "full_match", "keep_matching"])?;
            TransformStep::RegexFilter {
                column: required(s.column, &what, "column")?,
                pattern: required(s.pattern, &what, "pattern")?,
                full_match: s.full_match.unwrap_or(true),
                keep_matching: s.keep_matching.unwrap_or(true),
            }
        }
        "cast" => {
            only(&["column", "to"])?;
            let to = required(s.to, &what, "to")?;
            TransformStep::Cast {
                column: required(s.column, &what, "column")?,
                to: crate::model::DataType::parse(&to)
                    .ok_or_else(|| format!("unknown data type `{to}`"))?,
            }
        }
        "rename" => {
            only(&["from", "to"])?;
            TransformStep::Rename {
                from: required(s.from, &what, "from")?,
                to: required(s.to, &what, "to")?,
            }
        }
        "drop_nulls" => {
            only(&["columns"])?;
            TransformStep::DropNulls {
                columns: s.columns.unwrap_or_default(),
            }
        }
        other => {
            return Err(format!(
                "unknown step `{other}` (expected deduplicate, keep_latest, trim, change_case, regex_flag, regex_filter, cast, rename or drop_nulls)"
            ));
        }
    })
}

fn step_to_file(step: &TransformStep) -> StepFile {
    let mut f = StepFile {
        step: step.label().to_owned(),
        ..StepFile::default()
    };
    match step {
        TransformStep::Deduplicate { columns } | TransformStep::DropNulls { columns } => {
            f.columns = Some(columns.clone());
        }
        TransformStep::KeepLatest { key, order_by } => {
            f.key = Some(key.clone());
            f.order_by = Some(order_by.clone());
        }
        TransformStep::Trim { columns, chars } => {
            f.columns = Some(columns.clone());
            f.chars = Some(chars.clone());
        }
        TransformStep::ChangeCase { columns, case } => {
            f.columns = Some(columns.clone());
            f.case = Some(
                match case {
                    LetterCase::Lower => "lower",
                    LetterCase::Upper => "upper",
                    LetterCase::Title => "title",
                }
                .to_owned(),
            );
        }
        TransformStep::RegexFlag {
            column,
            pattern,
            output,
            full_match,
        } => {
            f.column = Some(column.clone());
            f.pattern = Some(pattern.clone());
            f.output = Some(output.clone());
            f.full_match = Some(*full_match);
        }
        TransformStep::RegexFilter {
            column,
            pattern,
            full_match,
            keep_matching,
        } => {
            f.column = Some(column.clone());
            f.pattern = Some(pattern.clone());
            f.full_match = Some(*full_match);
            f.keep_matching = Some(*keep_matching);
        }
        TransformStep::Cast { column, to } => {
            f.column = Some(column.clone());
            f.to = Some(to.to_string());
        }
        TransformStep::Rename { from, to } => {
            f.from = Some(from.clone());
            f.to = Some(to.clone());
        }
    }
    f
}

fn check_from_file(c: CheckFile) -> Result<AssetCheckSpec, String> {
    let what = format!("{} check", c.kind);
    let all: [(&str, bool); 10] = [
        ("columns", c.columns.is_some()),
        ("column", c.column.is_some()),
        ("min", c.min.is_some()),
        ("max", c.max.is_some()),
        ("schema", c.schema.is_some()),
        ("max_lag_minutes", c.max_lag_minutes.is_some()),
        ("pattern", c.pattern.is_some()),
        ("full_match", c.full_match.is_some()),
        ("values", c.values.is_some()),
        ("predicate", c.predicate.is_some()),
    ];
    let only = |allowed: &[&str]| {
        let extra: Vec<(&str, bool)> = all
            .iter()
            .copied()
            .filter(|(n, _)| !allowed.contains(n))
            .collect();
        refuse_extra(&what, &extra)
    };
    let severity = match c.severity.as_deref() {
        None | Some("error") => CheckSeverity::Error,
        Some("warn" | "warning") => CheckSeverity::Warn,
        Some(other) => {
            return Err(format!(
                "unknown severity `{other}` (expected warn or error)"
            ));
        }
    };
    let kind = match c.kind.as_str() {
        "not_null" => {
            only(&["columns"])?;
            CheckKind::NotNull {
                columns: required(c.columns, &what, "columns")?,
            }
        }
        "unique" => {
            only(&["columns"])?;
            CheckKind::Unique {
                columns: required(c.columns, &what, "columns")?,
            }
        }
        "row_count" => {
            only(&["min", "max"])?;
            CheckKind::RowCount {
                min: c.min,
                max: c.max,
            }
        }
        "schema" => {
            only(&["schema"])?;
            CheckKind::Schema {
                columns: required(c.schema, &what, "schema")?
                    .into_iter()
                    .map(|SchemaColumnFile { name, data_type }| (name, data_type))
                    .collect(),
            }
        }
        "freshness" => {
            only(&["max_lag_minutes"])?;
            CheckKind::Freshness {
                max_lag_minutes: required(c.max_lag_minutes, &what, "max_lag_minutes")?,
            }
        }
        "regex" => {
            only(&["column", "pattern", "full_match"])?;
            CheckKind::Regex {
                column: required(c.column, &what, "column")?,
                pattern: required(c.pattern, &what, "pattern")?,
                full_match: c.full_match.unwrap_or(true),
            }
        }
        "accepted_values" => {
            only(&["column", "values"])?;
            CheckKind::AcceptedValues {
                column: required(c.column, &what, "column")?,
                values: required(c.values, &what, "values")?,
            }
        }
        "expression" => {
            only(&["predicate"])?;
            CheckKind::Expression {
                predicate: required(c.predicate, &what, "predicate")?,
            }
        }
        other => {
            return Err(format!(
                "unknown check kind `{other}` (expected not_null, unique, row_count, schema, freshness, regex, accepted_values or expression)"
            ));
        }
    };
    Ok(AssetCheckSpec {
        name: c.name,
        description: c.description,
        severity,
        blocking: c.blocking,
        kind,
    })
}

fn check_to_file(c: &AssetCheckSpec) -> CheckFile {
    let mut f = CheckFile {
        name: c.name.clone(),
        kind: c.kind.label().to_owned(),
        description: c.description.clone(),
        severity: Some(c.severity.as_str().to_owned()),
        blocking: c.blocking,
        ..CheckFile::default()
    };
    match &c.kind {
        CheckKind::NotNull { columns } | CheckKind::Unique { columns } => {
            f.columns = Some(columns.clone());
        }
        CheckKind::RowCount { min, max } => {
            f.min = *min;
            f.max = *max;
        }
        CheckKind::Schema { columns } => {
            f.schema = Some(
                columns
                    .iter()
                    .map(|(name, t)| SchemaColumnFile {
                        name: name.clone(),
                        data_type: *t,
                    })
                    .collect(),
            );
        }
        CheckKind::Freshness { max_lag_minutes } => f.max_lag_minutes = Some(*max_lag_minutes),
        CheckKind::Regex {
            column,
            pattern,
            full_match,
        } => {
            f.column = Some(column.clone());
            f.pattern = Some(pattern.clone());
            f.full_match = Some(*full_match);
        }
        CheckKind::AcceptedValues { column, values } => {
            f.column = Some(column.clone());
            f.values = Some(values.clone());
        }
        CheckKind::Expression { predicate } => f.predicate = Some(predicate.clone()),
    }
    f
}

fn partitions_from_file(p: PartitionsFile) -> Result<PartitionsDefinition, String> {
    match p.kind.as_str() {
        "daily" => {
            refuse_extra("daily partition set", &[("keys", p.keys.is_some())])?;
            Ok(PartitionsDefinition::Daily {
                start: required(p.start, "daily partition set", "start")?,
                end: p.end,
            })
        }
        "static" => {
            refuse_extra(
                "static partition set",
                &[("start", p.start.is_some()), ("end", p.end.is_some())],
            )?;
            Ok(PartitionsDefinition::Static {
                keys: required(p.keys, "static partition set", "keys")?,
            })
        }
        other => Err(format!(
            "unknown partitions kind `{other}` (expected daily or static)"
        )),
    }
}

fn partitions_to_file(p: &PartitionsDefinition) -> Option<PartitionsFile> {
    match p {
        PartitionsDefinition::None => None,
        PartitionsDefinition::Daily { start, end } => Some(PartitionsFile {
            kind: "daily".into(),
            start: Some(start.clone()),
            end: end.clone(),
            keys: None,
        }),
        PartitionsDefinition::Static { keys } => Some(PartitionsFile {
            kind: "static".into(),
            start: None,
            end: None,
            keys: Some(keys.clone()),
        }),
    }
}

fn no_span<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

/// The file form of a project. SQL is not inline: each transform's SQL goes to
/// `sql/<key>.sql`, returned alongside.
pub fn project_to_file(project: &Project) -> (ProjectFile, BTreeMap<String, String>) {
    let mut sql_files = BTreeMap::new();
    let mut assets = BTreeMap::new();
    for a in &project.assets {
        let mut f = AssetFile {
            layer: a.layer,
            description: a.description.clone(),
            owner: a.owner.clone(),
            group: a.group.clone(),
            code_version: a.code_version.clone(),
            deps: a.deps.iter().map(ToString::to_string).collect(),
            sql: None,
            sql_file: None,
            tags: a.tags.clone(),
            pii: a.pii.clone(),
            source: None,
            partitions: partitions_to_file(&a.partitions).map(no_span),
            freshness: a.freshness.as_ref().map(|fr| {
                no_span(FreshnessFile {
                    max_lag_minutes: fr.max_lag_minutes,
                    cron: fr.cron.clone(),
                })
            }),
            compute: (!a.compute.is_default()).then(|| {
                let c = &a.compute;
                no_span(ComputeFile {
                    tier: Some(c.tier),
                    vcpu: c.vcpu,
                    memory_mb: c.memory_mb,
                    timeout_secs: c.timeout_secs,
                    spot: c.spot,
                    node_type: c.node_type.clone(),
                    min_nodes: c.min_nodes,
                    max_nodes: c.max_nodes,
                })
            }),
            steps: Vec::new(),
            checks: a.checks.iter().map(|c| no_span(check_to_file(c))).collect(),
        };
        match &a.definition {
            AssetDefinition::Source(s) => f.source = Some(no_span(source_to_file(s))),
            AssetDefinition::Transform(t) => {
                if let Some(sql) = &t.sql {
                    let path = format!("sql/{}.sql", a.key);
                    let mut text = sql.trim_end().to_owned();
                    text.push('\n');
                    sql_files.insert(path.clone(), text);
                    f.sql_file = Some(no_span(path));
                }
                f.steps = t.steps.iter().map(|s| no_span(step_to_file(s))).collect();
            }
        }
        assets.insert(a.key.to_string(), no_span(f));
    }
    let file = ProjectFile {
        project: ProjectHeader {
            name: no_span(project.name.clone()),
            description: project.description.clone(),
            format_version: super::file::format_version(),
        },
        resources: project
            .resources
            .iter()
            .map(|r| (r.name.clone(), no_span(resource_to_file(r))))
            .collect(),
        schedules: project
            .schedules
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    no_span(ScheduleFile {
                        cron: s.cron.clone(),
                        selection: s.selection.clone(),
                        enabled: s.enabled,
                    }),
                )
            })
            .collect(),
        assets,
    };
    (file, sql_files)
}
