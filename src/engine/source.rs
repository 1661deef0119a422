//! Bronze sources: reading files (CSV with explicit options, Parquet, JSON, NDJSON; a path or a
//! glob, relative to the project directory) into lazy frames.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::EngineError;
use crate::model::{AssetKey, CsvOptions, DataType as ModelType, FileFormat, SourceSpec};

/// The polars type for a project-file type.
pub fn polars_type(t: ModelType) -> DataType {
    match t {
        ModelType::Boolean => DataType::Boolean,
        ModelType::Int32 => DataType::Int32,
        ModelType::Int64 => DataType::Int64,
        ModelType::Float32 => DataType::Float32,
        ModelType::Float64 => DataType::Float64,
        ModelType::String => DataType::String,
        ModelType::Date => DataType::Date,
        ModelType::Datetime => DataType::Datetime(TimeUnit::Microseconds, None),
        ModelType::Decimal { precision, scale } => {
            DataType::Decimal(usize::from(precision), usize::from(scale))
        }
    }
}

/// Whether a polars type is what a project-file type promises.
pub fn type_matches(actual: &DataType, expected: ModelType) -> bool {
    match (actual, expected) {
        (DataType::Datetime(_, None), ModelType::Datetime) => true,
        (a, e) => *a == polars_type(e),
    }
}

/// Resolves a source path against the project directory and substitutes the partition key.
pub fn resolve_path(project_dir: &Path, path: &str, partition: Option<&str>) -> PathBuf {
    let path = match partition {
        Some(p) => path.replace(crate::model::partition::PARTITION_PLACEHOLDER, p),
        None => path.to_owned(),
    };
    let p = Path::new(&path);
    if p.is_absolute() {
        p.to_owned()
    } else {
        project_dir.join(p)
    }
}

fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// The files a path or glob names, sorted; an error naming the path when there are none.
pub fn matching_files(asset: &AssetKey, path: &Path) -> Result<Vec<PathBuf>, EngineError> {
    let text = path.to_string_lossy();
    if !is_glob(&text) {
        if path.is_file() {
            return Ok(vec![path.to_owned()]);
        }
        return Err(EngineError::Source {
            asset: asset.clone(),
            message: format!("file {} does not exist", path.display()),
        });
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let pattern = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let re = glob_regex(&pattern).map_err(|e| EngineError::Source {
        asset: asset.clone(),
        message: format!("bad file pattern {pattern}: {e}"),
    })?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| EngineError::Source {
            asset: asset.clone(),
            message: format!("cannot list {}: {e}", dir.display()),
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| re.is_match(&n.to_string_lossy()))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(EngineError::Source {
            asset: asset.clone(),
            message: format!("no file matches {}", path.display()),
        });
    }
    Ok(files)
}

/// A regex for a file-name glob (`*`, `?`, `[...]`); globs apply to the last path segment.
fn glob_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    let mut re = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' | ']' => re.push(c),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re)
}

/// A version of a source's input: the files' paths, sizes and modification times.
pub fn file_version(files: &[PathBuf]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for f in files {
        h.update(f.to_string_lossy().as_bytes());
        if let Ok(meta) = std::fs::metadata(f) {
            h.update(meta.len().to_le_bytes());
            if let Ok(modified) = meta.modified()
                && let Ok(d) = modified.duration_since(std::time::UNIX_EPOCH)
            {
                h.update(d.as_nanos().to_le_bytes());
            }
        }
    }
    super::hex(&h.finalize()[..8])
}

fn csv_frame(files: &[PathBuf], o: &CsvOptions, limit: Option<usize>) -> PolarsResult<LazyFrame> {
    let separator = u8::try_from(o.delimiter).map_err(|_| {
        polars_err!(ComputeError: "the delimiter {:?} is not a single-byte character", o.delimiter)
    })?;
    let quote = match o.quote_char {
        Some(q) => Some(u8::try_from(q).map_err(|_| {
            polars_err!(ComputeError: "the quote character {:?} is not a single-byte character", q)
        })?),
        None => None,
    };
    let empty_is_null = o.null_values.iter().any(String::is_empty);
    let tokens: Vec<PlSmallStr> = o
        .null_values
        .iter()
        .filter(|v| !v.is_empty())
        .map(|v| PlSmallStr::from(v.as_str()))
        .collect();
    let overrides: Schema = o
        .schema
        .iter()
        .map(|(name, t)| Field::new(PlSmallStr::from(name.as_str()), polars_type(*t)))
        .collect();
    let paths: Vec<PlRefPath> = files
        .iter()
        .map(|f| PlRefPath::new(f.to_string_lossy().as_ref()))
        .collect();
    LazyCsvReader::new_paths(paths.into())
        .with_has_header(o.has_header)
        .with_separator(separator)
        .with_quote_char(quote)
        .with_missing_is_null(empty_is_null)
        .with_null_values((!tokens.is_empty()).then(|| NullValues::AllColumns(tokens)))
        .with_dtype_overwrite((!overrides.is_empty()).then(|| Arc::new(overrides)))
        .with_infer_schema_length(Some(10_000))
        .with_n_rows(limit)
        .with_glob(false)
        .finish()
}

fn json_frame(files: &[PathBuf], ndjson: bool, limit: Option<usize>) -> PolarsResult<LazyFrame> {
    if ndjson {
        let paths: Vec<PlRefPath> = files
            .iter()
            .map(|f| PlRefPath::new(f.to_string_lossy().as_ref()))
            .collect();
        return LazyJsonLineReader::new_paths(paths.into())
            .with_n_rows(limit)
            .finish();
    }
    let mut frames = Vec::new();
    for f in files {
        let file = std::fs::File::open(f)
            .map_err(|e| polars_err!(ComputeError: "cannot open {}: {e}", f.display()))?;
        let df = JsonReader::new(file).finish()?;
        frames.push(df.lazy());
    }
    let lf = concat(frames, UnionArgs::default())?;
    Ok(match limit {
        Some(n) => lf.limit(IdxSize::try_from(n).unwrap_or(IdxSize::MAX)),
        None => lf,
    })
}

/// A lazy frame over local files of one format, with the format's options; `limit` rows at most.
pub fn frame_for_files(
    files: &[PathBuf],
    format: &FileFormat,
    limit: Option<usize>,
) -> PolarsResult<LazyFrame> {
    match format {
        FileFormat::Csv(o) => csv_frame(files, o, limit),
        FileFormat::Parquet => {
            let paths: Vec<PlRefPath> = files
                .iter()
                .map(|f| PlRefPath::new(f.to_string_lossy().as_ref()))
                .collect();
            LazyFrame::scan_parquet_sources(
                ScanSources::Paths(paths.into()),
                ScanArgsParquet::default(),
            )
            .map(|lf| match limit {
                Some(n) => lf.limit(IdxSize::try_from(n).unwrap_or(IdxSize::MAX)),
                None => lf,
            })
        }
        FileFormat::Json => json_frame(files, false, limit),
        FileFormat::Ndjson => json_frame(files, true, limit),
    }
}

/// A lazy frame over a local file source, with its input version.
pub fn read_file_source(
    asset: &AssetKey,
    source: &SourceSpec,
    project_dir: &Path,
    partition: Option<&str>,
    limit: Option<usize>,
) -> Result<(LazyFrame, String), EngineError> {
    let SourceSpec::File { path, format } = source else {
        return Err(EngineError::Source {
            asset: asset.clone(),
            message: format!(
                "{} sources need their resource connected (credentials); only file sources run locally yet",
                source.kind_label()
            ),
        });
    };
    let full = resolve_path(project_dir, path, partition);
    let files = matching_files(asset, &full)?;
    let version = file_version(&files);
    let lf = frame_for_files(&files, format, limit).map_err(|e| EngineError::Source {
        asset: asset.clone(),
        message: super::explain::file_source_error(
            path,
            project_dir,
            &files,
            format,
            &e.to_string(),
        ),
    })?;
    Ok((lf, version))
}

/// Checks what polars would read silently wrong before a file source is read: a CSV row with
/// missing fields (filled with nulls unless the source sets `missing_fields = "null"`) or extra
/// ones, an unclosed quote, a `schema` column the file does not have. `limit` rows at most are
/// looked at (a preview). Other formats and sources pass.
pub fn verify_file_source(
    asset: &AssetKey,
    source: &SourceSpec,
    project_dir: &Path,
    partition: Option<&str>,
    limit: Option<usize>,
) -> Result<(), EngineError> {
    let SourceSpec::File {
        path,
        format: FileFormat::Csv(o),
    } = source
    else {
        return Ok(());
    };
    let full = resolve_path(project_dir, path, partition);
    for f in matching_files(asset, &full)? {
        let shown = f
            .strip_prefix(project_dir)
            .unwrap_or(&f)
            .display()
            .to_string();
        let rows = limit.map(|n| n as u64 + u64::from(o.has_header));
        if let Some(message) = super::explain::shape_error(&f, o, &shown, rows) {
            return Err(EngineError::Source {
                asset: asset.clone(),
                message,
            });
        }
    }
    Ok(())
}

/// Why reading a source's frame failed, as a sentence: for a file source, the file and where
/// possible the line and column; polars' hints in Medallion's words.
pub fn describe_read_failure(
    source: Option<&SourceSpec>,
    project_dir: &Path,
    partition: Option<&str>,
    message: &str,
) -> String {
    match source {
        Some(SourceSpec::File { path, format }) => {
            let full = resolve_path(project_dir, path, partition);
            let files = matching_files(&AssetKey::new(""), &full).unwrap_or_default();
            super::explain::file_source_error(path, project_dir, &files, format, message)
        }
        _ => super::explain::sanitize(message),
    }
}
