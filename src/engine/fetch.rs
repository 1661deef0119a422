//! Sources that live behind a resource (S3 objects, Postgres queries, HTTP JSON APIs).
//!
//! The engine owns polars but no network client, so reading such a source is split in two: a
//! [`SourceFetcher`] (implemented in `compute`, which owns the AWS SDK and the other network
//! clients) fetches raw data in a polars-free shape — object bytes, JSON records or typed
//! columns — and this module turns that into a lazy frame. The fetcher travels beside the
//! serializable run plan, never inside it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use polars::prelude::*;

use super::source;
use super::{BackendError, EngineError};
use crate::model::partition::PARTITION_PLACEHOLDER;
use crate::model::{AssetKey, FileFormat, Project, Resource, SourceSpec};

/// One fetch: the asset it is for, its resource, and the source with the partition key
/// already substituted into the key, query, path and parameters.
#[derive(Debug, Clone, Copy)]
pub struct FetchRequest<'a> {
    pub asset: &'a AssetKey,
    pub resource: &'a Resource,
    /// Every resource of the project (an S3 resource may name an `aws` resource).
    pub resources: &'a [Resource],
    pub source: &'a SourceSpec,
    /// At most this many rows are needed (a preview); fetchers push it down where they can.
    pub limit: Option<usize>,
    /// Set when the run is canceled: a fetch in flight should stop and return an error.
    pub cancel: Option<&'a AtomicBool>,
}

/// What a fetcher returns, with a version that changes when the data does.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedSource {
    pub data: Fetched,
    /// Changes when the fetched data changes (`ETag`s for objects, a content hash otherwise).
    pub version: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// Whole objects, parsed with the source's file format (and its options).
    Objects(Vec<FetchedObject>),
    /// JSON records, one object each (HTTP APIs).
    Records(Vec<serde_json::Value>),
    /// Typed columns (database queries).
    Table(Vec<TableColumn>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FetchedObject {
    /// Where it came from, for error messages (`s3://bucket/key`).
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableColumn {
    pub name: String,
    pub values: ColumnValues,
}

/// Column values in the types Medallion maps database types to.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    Boolean(Vec<Option<bool>>),
    Int32(Vec<Option<i32>>),
    Int64(Vec<Option<i64>>),
    Float32(Vec<Option<f32>>),
    Float64(Vec<Option<f64>>),
    /// Unscaled integers at `scale` decimals.
    Decimal {
        precision: usize,
        scale: usize,
        values: Vec<Option<i128>>,
    },
    String(Vec<Option<String>>),
    /// Days since 1970-01-01.
    Date(Vec<Option<i32>>),
    /// Microseconds since 1970-01-01 00:00 (UTC for time-zone-aware columns).
    Datetime(Vec<Option<i64>>),
}

/// Reads sources that need a resource. Implementations must be callable from any thread and
/// must bound how long a fetch can hang (connect and request timeouts).
pub trait SourceFetcher: Send + Sync {
    /// Fetches the data of one source.
    ///
    /// # Errors
    /// The implementer's own error (its `Display` is what the run reports after
    /// "asset A: ").
    fn fetch(&self, request: &FetchRequest<'_>) -> Result<FetchedSource, BackendError>;
}

/// Why the engine's own fetchers could not fetch a source.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The run has no connections (a tool or a test), but the source needs one.
    #[error(
        "{kind} sources need a connection to resource `{resource}`, and none is configured here"
    )]
    NoConnection {
        kind: &'static str,
        resource: String,
    },
}

/// A fetcher for runs that have no connections (tests of file-only projects, tools).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFetcher;

impl SourceFetcher for NoFetcher {
    fn fetch(&self, request: &FetchRequest<'_>) -> Result<FetchedSource, BackendError> {
        Err(Box::new(FetchError::NoConnection {
            kind: request.source.kind_label(),
            resource: request.resource.name.clone(),
        }))
    }
}

/// A fetcher that hands a run's cancel flag to every request, so a long query or download
/// stops when the run is canceled instead of after it finishes.
pub struct Cancelable<'a> {
    pub inner: &'a dyn SourceFetcher,
    pub cancel: &'a AtomicBool,
}

impl SourceFetcher for Cancelable<'_> {
    fn fetch(&self, request: &FetchRequest<'_>) -> Result<FetchedSource, BackendError> {
        self.inner.fetch(&FetchRequest {
            cancel: Some(self.cancel),
            ..*request
        })
    }
}

/// The source with the partition key put in place of the placeholder.
pub fn with_partition(source: &SourceSpec, partition: Option<&str>) -> SourceSpec {
    let Some(p) = partition else {
        return source.clone();
    };
    let sub = |s: &str| s.replace(PARTITION_PLACEHOLDER, p);
    match source {
        SourceSpec::File { path, format } => SourceSpec::File {
            path: sub(path),
            format: format.clone(),
        },
        SourceSpec::S3 {
            resource,
            key,
            format,
        } => SourceSpec::S3 {
            resource: resource.clone(),
            key: sub(key),
            format: format.clone(),
        },
        SourceSpec::Postgres { resource, query } => SourceSpec::Postgres {
            resource: resource.clone(),
            query: sub(query),
        },
        SourceSpec::Http {
            resource,
            path,
            params,
            records_pointer,
        } => SourceSpec::Http {
            resource: resource.clone(),
            path: sub(path),
            params: params.iter().map(|(k, v)| (k.clone(), sub(v))).collect(),
            records_pointer: records_pointer.clone(),
        },
    }
}

/// Fetches a resource-backed source and turns it into a (materialized, then lazy) frame with
/// its input version.
pub fn read_fetched_source(
    project: &Project,
    asset: &AssetKey,
    source: &SourceSpec,
    partition: Option<&str>,
    limit: Option<usize>,
    fetcher: &dyn SourceFetcher,
) -> Result<(LazyFrame, String), EngineError> {
    let err = |message: String| EngineError::Source {
        asset: asset.clone(),
        message,
    };
    let name = source
        .resource()
        .ok_or_else(|| err("a file source has no resource".to_owned()))?;
    let resource = project
        .resource(name)
        .ok_or_else(|| err(format!("resource `{name}` is not defined in the project")))?;
    let source = with_partition(source, partition);
    let result = fetcher.fetch(&FetchRequest {
        asset,
        resource,
        resources: &project.resources,
        source: &source,
        limit,
        cancel: None,
    });
    let source_data = result.map_err(|source| EngineError::Fetch {
        asset: asset.clone(),
        source,
    })?;
    let df = to_frame(&source, source_data.data, limit).map_err(|e| err(e.to_string()))?;
    Ok((df.lazy(), source_data.version))
}

/// Why fetched data could not be turned into a table. Each variant reads as the sentence a run
/// reports after "asset A: ".
#[derive(Debug, thiserror::Error)]
enum FrameError {
    #[error("objects were fetched for a source that is not S3")]
    NotS3,
    #[error("there are no objects to read")]
    NoObjects,
    #[error("cannot create scratch directory {}: {source}", dir.display())]
    Scratch {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot spool {name} to {}: {source}", path.display())]
    Spool {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A CSV object whose rows do not fit its header (the sentence of [`super::explain`]).
    #[error("{0}")]
    Shape(String),
    /// polars could not read the spooled objects (`names`: the first few).
    #[error("cannot read {names}: {message}")]
    Read { names: String, message: String },
    #[error("the API returned no records")]
    NoRecords,
    #[error(
        "record {index} is not a JSON object (records_pointer should point at an array of objects)"
    )]
    NotAnObject { index: usize },
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot turn the records into a table: {0}")]
    Records(PolarsError),
    #[error("column {column}: {source}")]
    Decimal { column: String, source: PolarsError },
    #[error("cannot build the result table: {0}")]
    Table(PolarsError),
}

fn to_frame(
    source: &SourceSpec,
    data: Fetched,
    limit: Option<usize>,
) -> Result<DataFrame, FrameError> {
    match data {
        Fetched::Objects(objects) => {
            let SourceSpec::S3 { format, .. } = source else {
                return Err(FrameError::NotS3);
            };
            objects_frame(&objects, format, limit)
        }
        Fetched::Records(records) => records_frame(&records, limit),
        Fetched::Table(columns) => table_frame(columns),
    }
}

/// A scratch directory removed when dropped.
struct Spool(PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Parses objects with exactly the readers (and options) of file sources: they are spooled to
/// a private scratch directory, read, and the directory removed.
fn objects_frame(
    objects: &[FetchedObject],
    format: &FileFormat,
    limit: Option<usize>,
) -> Result<DataFrame, FrameError> {
    static SPOOLS: AtomicU64 = AtomicU64::new(0);
    if objects.is_empty() {
        return Err(FrameError::NoObjects);
    }
    let dir = std::env::temp_dir().join(format!(
        "medallion-fetch-{}-{}",
        std::process::id(),
        SPOOLS.fetch_add(1, Ordering::Relaxed)
    ));
    if let Err(source) = std::fs::create_dir_all(&dir) {
        return Err(FrameError::Scratch { dir, source });
    }
    let spool = Spool(dir);
    let mut files = Vec::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        let path = spool.0.join(format!("{i:06}.{}", format.label()));
        if let Err(source) = std::fs::write(&path, &o.bytes) {
            return Err(FrameError::Spool {
                name: o.name.clone(),
                path,
                source,
            });
        }
        files.push(path);
    }
    if let FileFormat::Csv(o) = format {
        let rows = limit.map(|n| n as u64 + u64::from(o.has_header));
        for (path, object) in files.iter().zip(objects) {
            if let Some(problem) = super::explain::shape_error(path, o, &object.name, rows) {
                return Err(FrameError::Shape(problem));
            }
        }
    }
    let names: Vec<&str> = objects.iter().take(3).map(|o| o.name.as_str()).collect();
    let failed = |e: PolarsError| FrameError::Read {
        names: names.join(", "),
        message: super::explain::sanitize(&e.to_string()),
    };
    let lf = source::frame_for_files(&files, format, limit).map_err(failed)?;
    let df = lf.collect().map_err(failed)?;
    drop(spool);
    Ok(df)
}

fn records_frame(
    records: &[serde_json::Value],
    limit: Option<usize>,
) -> Result<DataFrame, FrameError> {
    let take = limit.unwrap_or(usize::MAX).min(records.len());
    if take == 0 {
        return Err(FrameError::NoRecords);
    }
    let mut ndjson = Vec::new();
    for (i, r) in records[..take].iter().enumerate() {
        if !r.is_object() {
            return Err(FrameError::NotAnObject { index: i });
        }
        serde_json::to_writer(&mut ndjson, r)?;
        ndjson.push(b'\n');
    }
    JsonReader::new(std::io::Cursor::new(ndjson))
        .with_json_format(JsonFormat::JsonLines)
        .infer_schema_len(None)
        .finish()
        .map_err(FrameError::Records)
}

fn table_frame(columns: Vec<TableColumn>) -> Result<DataFrame, FrameError> {
    let height = columns.first().map_or(0, |c| c.values.len());
    let mut out = Vec::with_capacity(columns.len());
    for c in columns {
        let name = PlSmallStr::from(c.name.as_str());
        let series = match c.values {
            ColumnValues::Boolean(v) => Series::new(name, v),
            ColumnValues::Int32(v) => Series::new(name, v),
            ColumnValues::Int64(v) => Series::new(name, v),
            ColumnValues::Float32(v) => Series::new(name, v),
            ColumnValues::Float64(v) => Series::new(name, v),
            ColumnValues::String(v) => Series::new(name, v),
            ColumnValues::Date(v) => Series::new(name, v).into_date(),
            ColumnValues::Datetime(v) => {
                Series::new(name, v).into_datetime(TimeUnit::Microseconds, None)
            }
            ColumnValues::Decimal {
                precision,
                scale,
                values,
            } => Int128Chunked::from_iter_options(name, values.into_iter())
                .into_decimal(precision, scale)
                .map_err(|source| FrameError::Decimal {
                    column: c.name.clone(),
                    source,
                })?
                .into_series(),
        };
        out.push(series.into_column());
    }
    DataFrame::new(height, out).map_err(FrameError::Table)
}

impl ColumnValues {
    pub fn len(&self) -> usize {
        match self {
            ColumnValues::Boolean(v) => v.len(),
            ColumnValues::Int32(v) | ColumnValues::Date(v) => v.len(),
            ColumnValues::Int64(v) | ColumnValues::Datetime(v) => v.len(),
            ColumnValues::Float32(v) => v.len(),
            ColumnValues::Float64(v) => v.len(),
            ColumnValues::Decimal { values, .. } => values.len(),
            ColumnValues::String(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_table_becomes_typed_columns() {
        let df = table_frame(vec![
            TableColumn {
                name: "id".into(),
                values: ColumnValues::Int64(vec![Some(1), None]),
            },
            TableColumn {
                name: "amount".into(),
                values: ColumnValues::Decimal {
                    precision: 38,
                    scale: 2,
                    values: vec![Some(1234), Some(-5)],
                },
            },
            TableColumn {
                name: "day".into(),
                values: ColumnValues::Date(vec![Some(19_723), None]),
            },
        ])
        .unwrap();
        assert_eq!(df.height(), 2);
        assert_eq!(
            df.column("amount").unwrap().dtype(),
            &DataType::Decimal(38, 2)
        );
        assert_eq!(df.column("day").unwrap().dtype(), &DataType::Date);
    }

    #[test]
    fn the_partition_key_reaches_keys_queries_paths_and_params() {
        let http = SourceSpec::Http {
            resource: "api".into(),
            path: "days/{partition}".into(),
            params: [("day".to_owned(), "{partition}".to_owned())].into(),
            records_pointer: String::new(),
        };
        let SourceSpec::Http { path, params, .. } = with_partition(&http, Some("2024-01-02"))
        else {
            panic!("with_partition keeps an http source http")
        };
        assert_eq!(path, "days/2024-01-02");
        assert_eq!(params["day"], "2024-01-02");
        let pg = SourceSpec::Postgres {
            resource: "db".into(),
            query: "SELECT * FROM t WHERE d = '{partition}'".into(),
        };
        assert_eq!(
            with_partition(&pg, Some("x")),
            SourceSpec::Postgres {
                resource: "db".into(),
                query: "SELECT * FROM t WHERE d = 'x'".into()
            }
        );
        assert_eq!(with_partition(&pg, None), pg);
    }

    #[test]
    fn records_need_objects_and_at_least_one() {
        let err = records_frame(&[], None).unwrap_err();
        assert!(matches!(err, FrameError::NoRecords), "{err:?}");
        assert!(err.to_string().contains("no records"));
        let err = records_frame(&[serde_json::json!(3)], None).unwrap_err();
        assert!(
            matches!(err, FrameError::NotAnObject { index: 0 }),
            "{err:?}"
        );
        assert!(err.to_string().contains("record 0"), "{err}");
        let df = records_frame(
            &[
                serde_json::json!({"a": 1}),
                serde_json::json!({"a": 2, "b": "x"}),
            ],
            Some(5),
        )
        .unwrap();
        assert_eq!(df.shape(), (2, 2));
    }
}
