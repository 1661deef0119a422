//! A source asset's `source` table and [`SourceSpec`]: where the data is and how to read it
//! (file format and CSV options).

use toml::Spanned;

use super::{ConvertError, no_span, refuse_extra, required};
use crate::format::file::SourceFile;
use crate::model::{CsvOptions, FileFormat, MissingFields, SourceSpec};

pub(super) fn one_char(
    value: Option<String>,
    field: &'static str,
    default: Option<char>,
) -> Result<Option<char>, ConvertError> {
    match value {
        None => Ok(default),
        Some(s) if s.is_empty() && field == "quote_char" => Ok(None),
        Some(s) => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(Some(c)),
                _ => Err(ConvertError::NotOneChar { field, value: s }),
            }
        }
    }
}

pub(super) fn file_format(format: &str, s: &mut SourceFile) -> Result<FileFormat, ConvertError> {
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
                Some(m) => {
                    MissingFields::parse(&m).ok_or(ConvertError::MissingFieldsMode { value: m })?
                }
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
                return Err(ConvertError::ParquetSchema);
            }
            match format {
                "parquet" => FileFormat::Parquet,
                "json" => FileFormat::Json,
                _ => FileFormat::Ndjson,
            }
        }
        other => {
            return Err(ConvertError::Unknown {
                what: "file format",
                found: other.to_owned(),
                expected: "csv, parquet, json or ndjson",
            });
        }
    })
}

pub(super) fn source_from_file(mut s: SourceFile) -> Result<SourceSpec, ConvertError> {
    let kind = s.kind.clone();
    let what = format!("{kind} source");
    refuse_extra(&what, &fields_refused(&kind, &s))?;
    Ok(match kind.as_str() {
        "csv" | "parquet" | "json" | "ndjson" => {
            let path = required(s.path.take(), &what, "path")?;
            let format = file_format(&kind, &mut s)?;
            SourceSpec::File { path, format }
        }
        "s3" => {
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
        "postgres" => SourceSpec::Postgres {
            resource: required(s.resource, &what, "resource")?,
            query: required(s.query, &what, "query")?,
        },
        "http" => SourceSpec::Http {
            resource: required(s.resource, &what, "resource")?,
            path: s.path.unwrap_or_default(),
            params: s.params.unwrap_or_default(),
            records_pointer: s.records_pointer.unwrap_or_default(),
        },
        other => {
            return Err(ConvertError::Unknown {
                what: "source kind",
                found: other.to_owned(),
                expected: "csv, parquet, json, ndjson, s3, postgres or http",
            });
        }
    })
}

/// The fields a source kind does not take, each with whether this source sets it.
fn fields_refused(kind: &str, s: &SourceFile) -> Vec<(&'static str, bool)> {
    match kind {
        "csv" | "parquet" | "json" | "ndjson" => vec![
            ("resource", s.resource.is_some()),
            ("key", s.key.is_some()),
            ("format", s.format.is_some()),
            ("query", s.query.is_some()),
            ("params", s.params.is_some()),
            ("records_pointer", s.records_pointer.is_some()),
        ],
        "s3" => vec![
            ("path", s.path.is_some()),
            ("query", s.query.is_some()),
            ("params", s.params.is_some()),
            ("records_pointer", s.records_pointer.is_some()),
        ],
        "postgres" => vec![
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
        "http" => vec![
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
        _ => Vec::new(),
    }
}

pub(super) fn format_to_file(format: &FileFormat, f: &mut SourceFile) {
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

pub(super) fn source_to_file(s: &SourceSpec) -> SourceFile {
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
