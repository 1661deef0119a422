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

/// How polars reads a CSV source: its options in polars' terms, and the expressions that parse
/// its `datetime` columns (read as text; see [`datetime_column`]).
struct CsvRead {
    parse: CsvParseOptions,
    has_header: bool,
    overrides: Option<SchemaRef>,
    datetimes: Vec<Expr>,
}

impl CsvRead {
    fn new(o: &CsvOptions) -> PolarsResult<Self> {
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
        // Datetime columns are read as text and parsed afterwards (see `parse_datetimes`).
        let overrides: Schema = o
            .schema
            .iter()
            .map(|(name, t)| {
                let dtype = match t {
                    ModelType::Datetime => DataType::String,
                    t => polars_type(*t),
                };
                Field::new(PlSmallStr::from(name.as_str()), dtype)
            })
            .collect();
        let datetimes: Vec<Expr> = o
            .schema
            .iter()
            .filter(|(_, t)| **t == ModelType::Datetime)
            .map(|(name, _)| datetime_column(name))
            .collect();
        Ok(Self {
            parse: CsvParseOptions::default()
                .with_separator(separator)
                .with_quote_char(quote)
                .with_missing_is_null(empty_is_null)
                .with_null_values((!tokens.is_empty()).then(|| NullValues::AllColumns(tokens))),
            has_header: o.has_header,
            overrides: (!overrides.is_empty()).then(|| Arc::new(overrides)),
            datetimes,
        })
    }

    /// `lf` with the datetime columns parsed.
    fn finish(self, lf: LazyFrame) -> LazyFrame {
        if self.datetimes.is_empty() {
            lf
        } else {
            lf.with_columns(self.datetimes)
        }
    }
}

/// How many rows the CSV readers look at to infer the type of a column the schema leaves out.
const INFER_SCHEMA_ROWS: usize = 10_000;

fn csv_frame(files: &[PathBuf], o: &CsvOptions, limit: Option<usize>) -> PolarsResult<LazyFrame> {
    let read = CsvRead::new(o)?;
    let paths: Vec<PlRefPath> = files
        .iter()
        .map(|f| PlRefPath::new(f.to_string_lossy().as_ref()))
        .collect();
    let p = &read.parse;
    let lf = LazyCsvReader::new_paths(paths.into())
        .with_has_header(read.has_header)
        .with_separator(p.separator)
        .with_quote_char(p.quote_char)
        .with_missing_is_null(p.missing_is_null)
        .with_null_values(p.null_values.clone())
        .with_dtype_overwrite(read.overrides.clone())
        .with_infer_schema_length(Some(INFER_SCHEMA_ROWS))
        .with_n_rows(limit)
        .with_glob(false)
        .finish()?;
    Ok(read.finish(lf))
}

/// The one local CSV file of a file source, when it has exactly one (an unpartitioned source, or
/// one partition's file), with its options; `None` for other sources and several files.
pub fn single_csv_file<'a>(
    asset: &AssetKey,
    source: &'a SourceSpec,
    project_dir: &Path,
    partition: Option<&str>,
) -> Option<(PathBuf, &'a CsvOptions)> {
    let SourceSpec::File {
        path,
        format: FileFormat::Csv(o),
    } = source
    else {
        return None;
    };
    let mut files = matching_files(asset, &resolve_path(project_dir, path, partition)).ok()?;
    (files.len() == 1).then(|| (files.remove(0), o))
}

/// A CSV file read whole into memory with polars' eager reader, as a lazy frame over that
/// table: the same rows, types and nulls as [`csv_frame`]'s scan. The eager reader splits the
/// file among the cores without counting its lines first, so it takes about three quarters of
/// the CPU of the lazy scan and gives 30 chunks instead of 800 (the example's 10M-row
/// `orders.csv`: 1.46 → 1.14 s of CPU). For a table that is held in memory anyway; a table
/// too big for that is streamed from [`csv_frame`]'s scan.
///
/// # Errors
/// polars' error when the file cannot be read or a value cannot be parsed.
pub fn read_csv_whole(file: &Path, o: &CsvOptions) -> PolarsResult<LazyFrame> {
    let read = CsvRead::new(o)?;
    let df = CsvReadOptions::default()
        .with_has_header(read.has_header)
        .with_parse_options(read.parse.clone())
        .with_schema_overwrite(read.overrides.clone())
        .with_infer_schema_length(Some(INFER_SCHEMA_ROWS))
        .try_into_reader_with_file_path(Some(file.to_path_buf()))?
        .finish()?;
    Ok(read.finish(df.lazy()))
}

/// The datetime formats parsed by polars' fast parser, tried on the first value of each batch
/// of a CSV datetime column. polars' CSV reader would try its `…%.f` patterns first, which its
/// fast parser does not take, and so parse every value of such a column with chrono, format
/// string and all (about six times slower on the example's customers).
const FAST_DATETIME_FORMATS: [&str; 4] = [
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];

/// A CSV column declared `datetime`, read as text, as a datetime column: see
/// [`parse_datetimes`].
fn datetime_column(name: &str) -> Expr {
    let column = PlSmallStr::from(name);
    col(column.clone()).map(
        move |c: Column| parse_datetimes(&c, &column).map(IntoColumn::into_column),
        |_, field| {
            Ok(Field::new(
                field.name().clone(),
                DataType::Datetime(TimeUnit::Microseconds, None),
            ))
        },
    )
}

/// Parses a batch of a CSV datetime column as polars' CSV reader would — the same values,
/// nulls (an empty field is null) and errors (its "could not parse" sentence, which
/// [`super::explain`] turns into the line) — but with the format inferred once per batch: the
/// first value picks one of [`FAST_DATETIME_FORMATS`], and only values it does not parse (a
/// fraction of a second, another layout) go through polars' pattern inference.
fn parse_datetimes(c: &Column, name: &str) -> PolarsResult<DatetimeChunked> {
    let tu = TimeUnit::Microseconds;
    let ca = c.str()?;
    let ambiguous = StringChunked::from_slice(PlSmallStr::EMPTY, &["raise"]);
    let infer = |ca: &StringChunked| ca.as_datetime(None, tu, false, false, None, &ambiguous);
    let first = ca.iter().flatten().find(|v| !v.is_empty());
    let Some(first) = first else {
        return Ok(Int64Chunked::full_null(ca.name().clone(), ca.len()).into_datetime(tu, None));
    };
    let one = StringChunked::from_slice(PlSmallStr::EMPTY, &[first]);
    let format = FAST_DATETIME_FORMATS.iter().find(|f| {
        one.as_datetime(Some(f), tu, false, false, None, &ambiguous)
            .is_ok_and(|d| d.null_count() == 0)
    });
    let parsed = match format {
        Some(f) => ca.as_datetime(Some(f), tu, false, false, None, &ambiguous)?,
        None => infer(ca).unwrap_or_else(|_| {
            Int64Chunked::full_null(ca.name().clone(), ca.len()).into_datetime(tu, None)
        }),
    };
    let unparsed = |p: &DatetimeChunked| {
        ca.iter()
            .zip(p.physical().iter())
            .filter(|(v, d)| v.is_some_and(|v| !v.is_empty()) && d.is_none())
            .count()
    };
    if unparsed(&parsed) == 0 {
        return Ok(parsed);
    }
    // The values the format did not parse, with the pattern polars infers from them.
    let rest: StringChunked = ca
        .iter()
        .zip(parsed.physical().iter())
        .map(|(v, d)| {
            if d.is_some() {
                None
            } else {
                v.filter(|v| !v.is_empty())
            }
        })
        .collect();
    let inferred = infer(&rest).unwrap_or_else(|_| {
        Int64Chunked::full_null(ca.name().clone(), ca.len()).into_datetime(tu, None)
    });
    let mut values = Vec::with_capacity(ca.len());
    for ((v, d), i) in ca
        .iter()
        .zip(parsed.physical().iter())
        .zip(inferred.physical().iter())
    {
        values.push(match (d.or(i), v) {
            (Some(d), _) => Some(d),
            (None, None | Some("")) => None,
            // Its own pattern, as the reader's slow path infers it for a value it cannot parse.
            (None, Some(v)) => {
                let alone = StringChunked::from_slice(PlSmallStr::EMPTY, &[v]);
                match infer(&alone).ok().and_then(|d| d.physical().get(0)) {
                    Some(d) => Some(d),
                    None => polars_bail!(ComputeError:
                        "could not parse `{v}` as dtype `datetime[μs]` at column '{name}'"),
                }
            }
        });
    }
    Ok(
        Int64Chunked::from_iter_options(ca.name().clone(), values.into_iter())
            .into_datetime(tu, None),
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MissingFields;
    use std::collections::BTreeMap;

    fn options() -> CsvOptions {
        CsvOptions {
            delimiter: ',',
            has_header: true,
            quote_char: Some('"'),
            null_values: vec![String::new(), "NULL".to_owned()],
            schema: BTreeMap::from([
                ("id".to_owned(), ModelType::Int64),
                ("at".to_owned(), ModelType::Datetime),
            ]),
            missing_fields: MissingFields::Error,
        }
    }

    /// The file as polars' CSV reader reads it with `at` declared a datetime.
    fn as_polars_reads_it(path: &Path) -> DataFrame {
        let overrides: Schema = [
            Field::new("id".into(), DataType::Int64),
            Field::new(
                "at".into(),
                DataType::Datetime(TimeUnit::Microseconds, None),
            ),
        ]
        .into_iter()
        .collect();
        LazyCsvReader::new(PlRefPath::new(path.to_str().unwrap()))
            .with_has_header(true)
            .with_missing_is_null(true)
            .with_null_values(Some(NullValues::AllColumns(vec!["NULL".into()])))
            .with_dtype_overwrite(Some(Arc::new(overrides)))
            .finish()
            .unwrap()
            .collect()
            .unwrap()
    }

    /// Datetimes are parsed with a format inferred from the first value of each batch (polars'
    /// fast parser) instead of the reader's chrono fallback: the same values, nulls and errors.
    #[test]
    fn csv_datetimes_read_as_polars_csv_reader_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            // The fast layout first; then other layouts, a fraction, empty and null fields.
            "id,at\n1,2019-09-12T22:35:42\n2,2020-01-01 00:00:01\n3,2020-02-03T04:05:06.250\n4,\n5,2021-03-04T05:06\n6,NULL\n7,\"1999-12-31T23:59:59\"\n8,2024-02-29 12:00\n",
            // A fraction first: no fast format, polars' own inference for the batch.
            "id,at\n1,2020-02-03T04:05:06.5\n2,2019-09-12T22:35:42\n3,\n4,2019-09-12 22:35:42.123456\n",
            "id,at\n1,\n2,NULL\n",
            "id,at\n1,2019-09-12 22:35\n2,2019-09-12T22:35:42\n",
        ];
        for (i, text) in cases.iter().enumerate() {
            let path = dir.path().join(format!("t{i}.csv"));
            std::fs::write(&path, text).unwrap();
            let ours = frame_for_files(
                std::slice::from_ref(&path),
                &FileFormat::Csv(options()),
                None,
            )
            .unwrap()
            .collect()
            .unwrap();
            let theirs = as_polars_reads_it(&path);
            assert_eq!(
                ours.column("at").unwrap().dtype(),
                &DataType::Datetime(TimeUnit::Microseconds, None)
            );
            assert!(ours.equals_missing(&theirs), "{text}\n{ours}\n{theirs}");
        }
        // A value no pattern parses fails with the reader's sentence, which names the line.
        let bad = "id,at\n1,2019-09-12T22:35:42\n2,2021-13-45T02:31:48\n";
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, bad).unwrap();
        let err = frame_for_files(
            std::slice::from_ref(&path),
            &FileFormat::Csv(options()),
            None,
        )
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(
                "could not parse `2021-13-45T02:31:48` as dtype `datetime[μs]` at column 'at'"
            ),
            "{err}"
        );
        let source = SourceSpec::File {
            path: "bad.csv".to_owned(),
            format: FileFormat::Csv(options()),
        };
        let said = describe_read_failure(Some(&source), dir.path(), None, &err);
        assert!(
            said.starts_with(
                "bad.csv line 3, column `at`: `2021-13-45T02:31:48` is not a valid datetime"
            ),
            "{said}"
        );
    }

    /// The whole-file reader and the lazy scan of one file, each collected.
    fn both_readers(
        path: &Path,
        o: &CsvOptions,
    ) -> (PolarsResult<DataFrame>, PolarsResult<DataFrame>) {
        let whole = read_csv_whole(path, o).and_then(LazyFrame::collect);
        let lazy = frame_for_files(&[path.to_path_buf()], &FileFormat::Csv(o.clone()), None)
            .and_then(LazyFrame::collect);
        (whole, lazy)
    }

    #[test]
    fn a_csv_file_read_whole_is_the_table_the_lazy_scan_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut typed = options();
        typed.schema.insert(
            "amount".to_owned(),
            ModelType::Decimal {
                precision: 12,
                scale: 2,
            },
        );
        typed.schema.insert("day".to_owned(), ModelType::Date);
        let untyped = CsvOptions {
            schema: BTreeMap::new(),
            ..options()
        };
        let semicolons = CsvOptions {
            delimiter: ';',
            quote_char: Some('\''),
            ..untyped.clone()
        };
        let headless = CsvOptions {
            has_header: false,
            ..untyped.clone()
        };
        let cases: [(&str, &CsvOptions); 7] = [
            (
                "id,at,amount,day,name\n1,2019-09-12T22:35:42,12.50,2024-02-29,\"Smith, J\"\n2,,0.01,2024-03-01,NULL\n3,2020-01-01 00:00:01,,2024-03-02,\"say \"\"hi\"\"\"\n",
                &typed,
            ),
            // CRLF line ends, a quoted line break, no line end after the last row.
            (
                "id,at,name\r\n1,2019-09-12T22:35:42,\"two\nlines\"\r\n2,NULL,  padded  \r\n3,2020-02-03T04:05:06,x",
                &options(),
            ),
            // Types inferred: integers, floats, booleans, text.
            ("a,b,c,d\n1,1.5,true,x\n2,,false,\n-3,2e3,,y\n", &untyped),
            ("a;b\n'x;y';1\n'it''s';2\n;3\n", &semicolons),
            ("1,x\n2,y\n", &headless),
            ("id,at\n", &options()),
            ("a,b\n1,NULL\nNULL,2\n", &untyped),
        ];
        for (i, (text, o)) in cases.iter().enumerate() {
            let path = dir.path().join(format!("t{i}.csv"));
            std::fs::write(&path, text).unwrap();
            let (whole, lazy) = both_readers(&path, o);
            let (whole, lazy) = (whole.unwrap(), lazy.unwrap());
            assert_eq!(whole.schema(), lazy.schema(), "{text}");
            assert!(whole.equals_missing(&lazy), "{text}\n{whole}\n{lazy}");
        }
        // A value of the wrong type fails both ways.
        let path = dir.path().join("bad.csv");
        std::fs::write(
            &path,
            "id,at\n1,2019-09-12T22:35:42\nx,2019-09-12T22:35:42\n",
        )
        .unwrap();
        let (whole, lazy) = both_readers(&path, &options());
        assert!(whole.is_err() && lazy.is_err(), "{whole:?} {lazy:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// polars' line counting as patched in `vendor/polars-io` (64 bytes at a time): on
        /// random chunks of line ends, quotes, delimiters and letters, with and without quoting,
        /// the lines found from either starting state, the last line end and whether the chunk
        /// ends inside a quoted field are those of a byte-by-byte count.
        #[test]
        fn csv_line_counting_agrees_with_a_byte_by_byte_count(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b',', b'"', b'\n', b'\r', b'x']),
                0..400,
            ),
            quoting in proptest::bool::ANY,
        ) {
            use polars::io::csv::read::_csv_read_internal::CountLines;
            let counter = CountLines::new(quoting.then_some(b'"'), b'\n', None);
            let got = counter.analyze_chunk(&bytes);
            for (inside_at_start, stats) in [(false, got[0]), (true, got[1])] {
                let (mut inside, mut lines, mut last) = (inside_at_start, 0, 0);
                for (i, &c) in bytes.iter().enumerate() {
                    inside ^= quoting && c == b'"';
                    if c == b'\n' && !inside {
                        lines += 1;
                        last = i;
                    }
                }
                proptest::prop_assert_eq!(stats.newline_count, lines);
                if lines > 0 {
                    proptest::prop_assert_eq!(stats.last_newline_offset, last);
                }
                proptest::prop_assert_eq!(stats.end_inside_string, inside);
                // The in-memory reader's count: the lines of a chunk starting outside a field.
                if !inside_at_start {
                    let (count, at) = counter.count(&bytes);
                    proptest::prop_assert_eq!(count, lines);
                    if lines > 0 {
                        proptest::prop_assert_eq!(at, last);
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Random well-formed CSV files: fields of digits, letters, spaces, commas, quotes and
        /// line breaks (quoted where needed), empty fields, `NULL`s.
        #[test]
        fn random_csv_files_read_whole_as_the_lazy_scan_reads_them(
            rows in proptest::collection::vec(
                proptest::collection::vec("[0-9]{0,3}|[a-c ,\"\n]{0,4}|NULL", 3),
                0..40,
            ),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let quote = |f: &String| {
                if f.contains([',', '"', '\n']) {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f.clone()
                }
            };
            let mut text = String::from("a,b,c\n");
            for r in &rows {
                text.push_str(&r.iter().map(quote).collect::<Vec<_>>().join(","));
                text.push('\n');
            }
            let path = dir.path().join("r.csv");
            std::fs::write(&path, &text).unwrap();
            let o = CsvOptions {
                schema: BTreeMap::new(),
                ..options()
            };
            let (whole, lazy) = both_readers(&path, &o);
            match (whole, lazy) {
                (Ok(w), Ok(l)) => {
                    proptest::prop_assert_eq!(w.schema(), l.schema(), "{}", text);
                    proptest::prop_assert!(w.equals_missing(&l), "{}\n{}\n{}", text, w, l);
                }
                (Err(_), Err(_)) => {}
                (w, l) => proptest::prop_assert!(false, "{}\nwhole: {:?}\nlazy: {:?}", text, w, l),
            }
        }
    }
}
