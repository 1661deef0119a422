//! Schemas without running: each asset's output columns and types, planned with polars over
//! empty frames of its upstream schemas. A file source's schema comes from its first file's
//! header or metadata (a sample of rows for CSV types, the declared types winning); a source
//! that cannot be read here has its declared schema, or none.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use super::source::{frame_for_files, matching_files, resolve_path};
use super::transform;
use crate::model::partition::PARTITION_PLACEHOLDER;
use crate::model::schema::{AssetSchema, ProjectSchemas, SchemaColumn, SchemaOrigin, find_word};
use crate::model::{AssetDefinition, AssetGraph, AssetSpec, FileFormat, Project, SourceSpec};

/// Every asset's schema, inferred without reading more than the sources' headers (and the rows
/// polars samples for CSV types). `project_dir` is where relative source paths resolve; without
/// it file sources fall back to their declared schema.
pub fn infer_schemas(project: &Project, project_dir: Option<&Path>) -> ProjectSchemas {
    super::route_polars_warnings();
    let graph = AssetGraph::build(project);
    let mut out = ProjectSchemas::new();
    let Ok(order) = graph.topological_order() else {
        for a in &project.assets {
            out.insert(
                a.key.clone(),
                AssetSchema::Unknown {
                    reason: "the project has a dependency cycle".to_owned(),
                },
            );
        }
        return out;
    };
    let mut frames: BTreeMap<_, Schema> = BTreeMap::new();
    for key in order {
        let Some(asset) = project.asset(&key) else {
            continue;
        };
        let planned = match &asset.definition {
            AssetDefinition::Source(s) => source_schema(s, project_dir),
            AssetDefinition::Transform(_) => transform_schema(asset, &graph, &frames, &out),
        };
        let schema = match planned {
            Ok((origin, schema)) => {
                let columns = schema
                    .iter()
                    .map(|(name, dtype)| SchemaColumn {
                        name: name.to_string(),
                        dtype: spell(dtype),
                    })
                    .collect();
                frames.insert(key.clone(), schema);
                AssetSchema::Known { origin, columns }
            }
            Err(unknown) => unknown,
        };
        out.insert(key, schema);
    }
    out
}

/// A type as project files spell it, else as polars names it.
pub fn spell(dtype: &DataType) -> String {
    match dtype {
        DataType::Boolean => "boolean".to_owned(),
        DataType::Int32 => "int32".to_owned(),
        DataType::Int64 => "int64".to_owned(),
        DataType::Float32 => "float32".to_owned(),
        DataType::Float64 => "float64".to_owned(),
        DataType::String => "string".to_owned(),
        DataType::Date => "date".to_owned(),
        DataType::Datetime(_, None) => "datetime".to_owned(),
        DataType::Decimal(p, s) => format!("decimal({p},{s})"),
        other => other.to_string(),
    }
}

type Planned = Result<(SchemaOrigin, Schema), AssetSchema>;

fn declared(format: &FileFormat) -> Option<Schema> {
    match format {
        FileFormat::Csv(o) if !o.schema.is_empty() => Some(
            o.schema
                .iter()
                .map(|(n, t)| Field::new(n.as_str().into(), super::source::polars_type(*t)))
                .collect(),
        ),
        _ => None,
    }
}

fn source_schema(source: &SourceSpec, project_dir: Option<&Path>) -> Planned {
    let unknown = |reason: String| AssetSchema::Unknown { reason };
    match source {
        SourceSpec::File { path, format } => {
            let read = match project_dir {
                Some(dir) => read_file_schema(dir, path, format),
                None => Err("the project has no directory to read it from".to_owned()),
            };
            match (read, declared(format)) {
                (Ok(schema), _) => Ok((SchemaOrigin::File, schema)),
                (Err(_), Some(schema)) => Ok((SchemaOrigin::Declared, schema)),
                (Err(why), None) => Err(unknown(format!("cannot read {path}: {why}"))),
            }
        }
        SourceSpec::S3 { format, .. } => declared(format)
            .map(|s| (SchemaOrigin::Declared, s))
            .ok_or_else(|| {
                unknown("an S3 source's columns are known once it is read; declare a schema".into())
            }),
        SourceSpec::Postgres { .. } | SourceSpec::Http { .. } => Err(unknown(format!(
            "a {} source's columns are known once it is read (preview or materialize it)",
            source.kind_label()
        ))),
    }
}

/// The schema of a file source's first file (a partitioned path: any partition's file).
fn read_file_schema(dir: &Path, path: &str, format: &FileFormat) -> Result<Schema, String> {
    let pattern = path.replace(PARTITION_PLACEHOLDER, "*");
    let full = resolve_path(dir, &pattern, None);
    let key = crate::model::AssetKey::new("source");
    let files = matching_files(&key, &full).map_err(|e| match e {
        super::EngineError::Source { message, .. } => message,
        other => other.to_string(),
    })?;
    let first: Vec<_> = files.into_iter().take(1).collect();
    let mut lf = frame_for_files(&first, format, Some(0)).map_err(|e| e.to_string())?;
    lf.collect_schema()
        .map(|s| s.as_ref().clone())
        .map_err(|e| e.to_string())
}

fn transform_schema(
    asset: &AssetSpec,
    graph: &AssetGraph,
    frames: &BTreeMap<crate::model::AssetKey, Schema>,
    known: &ProjectSchemas,
) -> Planned {
    let AssetDefinition::Transform(spec) = &asset.definition else {
        return Err(AssetSchema::Unknown {
            reason: "not a transform".to_owned(),
        });
    };
    let mut upstream = BTreeMap::new();
    for up in graph.upstream(&asset.key) {
        let Some(schema) = frames.get(up) else {
            let why = match known.get(up) {
                Some(AssetSchema::Failed { .. }) => "fails to plan",
                _ => "has unknown columns",
            };
            return Err(AssetSchema::Unknown {
                reason: format!("upstream {up} {why}"),
            });
        };
        upstream.insert(up.clone(), DataFrame::empty_with_schema(schema).lazy());
    }
    // A partitioned SQL names its partition; any key plans the same columns.
    let partition = asset.partitions.is_partitioned().then_some("1970-01-01");
    let planned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut lf = transform::apply(&asset.key, spec, &upstream, partition)
            .map_err(|e| plain_message(&e))?;
        lf.collect_schema()
            .map(|s| s.as_ref().clone())
            .map_err(|e| e.to_string())
    }));
    let message = match planned {
        Ok(Ok(schema)) => return Ok((SchemaOrigin::Inferred, schema)),
        Ok(Err(message)) => message,
        Err(panic) => super::step::panic_message(panic.as_ref()),
    };
    let message = message.lines().next().unwrap_or_default().trim();
    // polars names its error kind first ("not found: unable to find column …").
    let message = message
        .strip_prefix("not found: ")
        .unwrap_or(message)
        .to_owned();
    let sql = spec.sql.as_deref().unwrap_or_default();
    let (field, position) = match quoted_name(&message).and_then(|w| find_word(sql, &w)) {
        Some(p) => ("sql", Some(p)),
        None if spec.sql.is_some() => ("sql", None),
        None => ("steps", None),
    };
    Err(AssetSchema::Failed {
        field: field.to_owned(),
        message: crate::model::clip::bound_message(&message).into_owned(),
        position,
    })
}

fn plain_message(e: &super::EngineError) -> String {
    match e {
        super::EngineError::Sql { message, .. }
        | super::EngineError::Definition { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The first name quoted in a polars message (`"x"`, `'x'` or `` `x` ``).
fn quoted_name(message: &str) -> Option<String> {
    let start = message.find(['"', '\'', '`'])?;
    let quote = message[start..].chars().next()?;
    let rest = &message[start + 1..];
    let end = rest.find(quote)?;
    let name = &rest[..end];
    (!name.is_empty()).then(|| name.to_owned())
}
