//! polars' errors turned into Medallion's sentences at the engine's edge: the file, line and
//! column of a bad CSV value or JSON syntax error, Medallion's own options instead of the ones
//! polars' Python API would suggest (`schema_overrides`, `ignore_errors`,
//! `truncate_ragged_lines`, `infer_schema_length`, `strict=False`), and no data value longer
//! than [`crate::model::clip::MAX_VALUE_CHARS`] characters.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use super::csv_scan::{self, Dialect, ShapeProblem};
use crate::model::clip::{bound_message, clip_value};
use crate::model::{CsvOptions, DataType as ModelType, FileFormat, MissingFields};

/// Phrases of polars' hints that name options of another API; a line holding one is dropped.
const FOREIGN_HINTS: &[&str] = &[
    "infer_schema_length",
    "schema_overrides",
    "ignore_errors",
    "truncate_ragged_lines",
    "strict=False",
    "`strict`",
    "try_parse_dates",
    "rechunk",
    "polars[rt64]",
    "bigidx",
    "RUST_BACKTRACE",
];

/// A failure because the disk is full (`ENOSPC`, which polars' Parquet writer reports as "File
/// out of specification: underlying IO error: No space left on device (os error 28)"), said as
/// one sentence; `None` for any other failure.
pub fn disk_full(message: &str) -> Option<String> {
    (message.contains("No space left on device") || message.contains("os error 28")).then(|| {
        "the disk is full: there was no space left to write its table (os error 28); free some space and run again".to_owned()
    })
}

/// A polars error message made fit for a person: hints that name polars' Python options
/// dropped (with Medallion's own option said instead where one exists), `Original error:`
/// kept as a parenthesis, byte offsets and blank lines dropped, data values clipped.
pub fn sanitize(message: &str) -> String {
    let mut kept: Vec<String> = Vec::new();
    let mut original = None;
    let mut in_hints = false;
    let mut wants_schema_hint = false;
    for raw in message.lines() {
        let line = raw.trim();
        if line.is_empty() {
            in_hints = false;
            continue;
        }
        if line.starts_with("You might want to try") {
            in_hints = true;
            wants_schema_hint |= line.contains("schema") || message.contains("schema_overrides");
            continue;
        }
        if let Some(rest) = line.strip_prefix("Original error:") {
            original = Some(rest.trim().trim_matches('`').to_owned());
            continue;
        }
        if line.starts_with("The current offset in the file is")
            || line.starts_with("This error occurred with the following context stack")
            || (line.starts_with('[') && line.contains("] '"))
        {
            continue;
        }
        if FOREIGN_HINTS.iter().any(|h| line.contains(h)) {
            wants_schema_hint |= line.contains("schema");
            continue;
        }
        if in_hints && line.starts_with('-') {
            continue;
        }
        kept.push(line.to_owned());
    }
    let mut text = kept.join(" ");
    if let Some(o) = original.filter(|o| !o.is_empty() && !text.contains(o.as_str())) {
        text = format!("{text} ({o})");
    }
    if wants_schema_hint {
        text.push_str("; declare the column's type in the source's `schema`");
    }
    if text.is_empty() {
        "the engine failed without saying why".clone_into(&mut text);
    }
    bound_message(&text).into_owned()
}

/// Why a file source could not be read, in a sentence that names the file and, where the
/// error allows, the line and column: `path` is the source's path as written (a glob maybe),
/// `files` the files it matched.
pub fn file_source_error(
    path: &str,
    project_dir: &Path,
    files: &[PathBuf],
    format: &FileFormat,
    message: &str,
) -> String {
    let shown = |f: &Path| {
        f.strip_prefix(project_dir)
            .unwrap_or(f)
            .display()
            .to_string()
    };
    match format {
        FileFormat::Csv(o) => {
            if let Some(text) = csv_value_error(o, files, message, &shown) {
                return text;
            }
            if message.contains("invalid utf-8") || message.contains("invalid UTF-8") {
                for f in files {
                    if let Some(line) = csv_scan::first_invalid_utf8_line(f) {
                        return format!(
                            "{} line {line}: the text is not valid UTF-8; save the file as UTF-8",
                            shown(f)
                        );
                    }
                }
            }
            if message.contains("more fields than defined") {
                // The shape check runs before polars reads; run it again to name the line.
                for f in files {
                    if let Some(problem) = shape_error(f, o, &shown(f), None) {
                        return problem;
                    }
                }
            }
        }
        FileFormat::Json | FileFormat::Ndjson => {
            let ndjson = matches!(format, FileFormat::Ndjson);
            for f in files {
                if let Some(text) = json_syntax_error(f, ndjson) {
                    return format!("{} {text}", shown(f));
                }
            }
        }
        FileFormat::Parquet => {}
    }
    format!("cannot read {path}: {}", sanitize(message))
}

/// polars' "could not parse `V` as dtype `T` at column 'C'": the line of the value, found by
/// scanning the files with the reader's rules.
fn csv_value_error(
    o: &CsvOptions,
    files: &[PathBuf],
    message: &str,
    shown: &dyn Fn(&Path) -> String,
) -> Option<String> {
    let rest = message.split_once("could not parse `")?.1;
    let (value, rest) = rest.split_once("` as dtype `")?;
    let (dtype, rest) = rest.split_once('`')?;
    let column = rest.split_once("at column '")?.1.split_once('\'')?.0;
    let number: Option<usize> = rest
        .split_once("(column number ")
        .and_then(|(_, n)| n.split_once(')'))
        .and_then(|(n, _)| n.trim().parse().ok());
    let dialect = dialect(o)?;
    let expected = o
        .schema
        .get(column)
        .map_or_else(|| polars_dtype_name(dtype), ToString::to_string);
    let shown_value = clip_value(value);
    let advice = format!(
        "fix the value, declare `{column}` as another type in the source's `schema`, or list the value in `null_values` to read it as null"
    );
    for f in files {
        let shape = csv_scan::check_shape(f, dialect, true, Some(1));
        let index = if o.has_header {
            shape.first_row.iter().position(|n| n == column)
        } else {
            column
                .strip_prefix("column_")
                .and_then(|n| n.parse::<usize>().ok())
                .map(|n| n.saturating_sub(1))
        }
        .or_else(|| number.map(|n| n.saturating_sub(1)));
        let Some(index) = index else { continue };
        if let Some(line) = csv_scan::find_value(f, dialect, o.has_header, index, value.as_bytes())
        {
            return Some(format!(
                "{} line {line}, column `{column}`: `{shown_value}` is not a valid {expected}; {advice}",
                shown(f)
            ));
        }
    }
    let file = files.first().map(|f| shown(f)).unwrap_or_default();
    Some(format!(
        "{file}: column `{column}` holds `{shown_value}`, which is not a valid {expected}; {advice}"
    ))
}

/// The reader's single-byte options, or `None` when they are not single bytes (validation
/// refuses those).
pub fn dialect(o: &CsvOptions) -> Option<Dialect> {
    let delimiter = u8::try_from(o.delimiter).ok()?;
    let quote = match o.quote_char {
        Some(q) => Some(u8::try_from(q).ok()?),
        None => None,
    };
    Some(Dialect { delimiter, quote })
}

/// A row of the wrong length, an unclosed quote, or a `schema` column the file does not have,
/// in a sentence naming the file (as `shown`) and line; `None` when the file is sound.
/// `max_records` stops after that many rows.
pub fn shape_error(
    file: &Path,
    o: &CsvOptions,
    shown: &str,
    max_records: Option<u64>,
) -> Option<String> {
    let dialect = dialect(o)?;
    let allow_missing = o.missing_fields == MissingFields::Null;
    let shape = csv_scan::check_shape(file, dialect, allow_missing, max_records);
    let names: Vec<String> = if o.has_header {
        shape
            .first_row
            .iter()
            .map(|n| clip_value(n).into_owned())
            .collect()
    } else {
        (1..=shape.first_row.len())
            .map(|i| format!("column_{i}"))
            .collect()
    };
    let listed = list_names(&names);
    let against = if o.has_header {
        format!("the header has {} ({listed})", names.len())
    } else {
        format!("the first row has {}", names.len())
    };
    match shape.problem {
        Some(ShapeProblem::Fields {
            line,
            found,
            expected,
        }) if found < expected => {
            let what = if found == 1 {
                "is empty or has 1 field".to_owned()
            } else {
                format!("has {found} fields")
            };
            return Some(format!(
                "{shown} line {line} {what}, but {against}; fix the row, or set missing_fields = \"null\" on the source to read missing fields as null"
            ));
        }
        Some(ShapeProblem::Fields { line, found, .. }) => {
            let quote = o
                .quote_char
                .map(|q| format!(" in quotes ({q})"))
                .unwrap_or_default();
            return Some(format!(
                "{shown} line {line} has {found} fields, but {against}; a value that holds the delimiter {:?} must be{quote} — or the delimiter is not {:?}",
                o.delimiter, o.delimiter
            ));
        }
        Some(ShapeProblem::UnclosedQuote { line }) => {
            return Some(format!(
                "{shown} line {line}: a quoted value is never closed (no closing {:?} before the end of the file)",
                o.quote_char.unwrap_or('"')
            ));
        }
        Some(ShapeProblem::Io(e)) => return Some(format!("cannot read {shown}: {e}")),
        None => {}
    }
    let missing: Vec<&String> = o.schema.keys().filter(|k| !names.contains(k)).collect();
    if !missing.is_empty() {
        let which = missing
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let (verb, noun) = if missing.len() == 1 {
            ("is", "column")
        } else {
            ("are", "columns")
        };
        return Some(format!(
            "{which} {verb} declared in the source's `schema`, but {shown} has no such {noun} ({} has {listed})",
            if o.has_header { "its header" } else { "it" }
        ));
    }
    None
}

fn list_names(names: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut out = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        out.push_str(", … ");
        out.push_str(&(names.len() - SHOWN).to_string());
        out.push_str(" more");
    }
    out
}

/// The first JSON syntax error in a file: `line L, column C: what was expected`.
fn json_syntax_error(file: &Path, ndjson: bool) -> Option<String> {
    let describe = |line: usize, e: &serde_json::Error| {
        let text = e.to_string();
        let what = text
            .rfind(" at line ")
            .map_or(text.as_str(), |i| &text[..i])
            .to_owned();
        format!(
            "line {line}, column {}: {}",
            e.column(),
            json_expectation(&what)
        )
    };
    let f = std::fs::File::open(file).ok()?;
    if ndjson {
        let mut reader = std::io::BufReader::new(f);
        let mut buf = Vec::new();
        let mut line = 0usize;
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf).ok()? == 0 {
                return None;
            }
            line += 1;
            let text = String::from_utf8_lossy(&buf);
            if text.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(&text) {
                Err(e) => return Some(describe(line, &e)),
                Ok(v) if !v.is_object() => {
                    return Some(format!(
                        "line {line}: each line of an NDJSON file is one JSON object, not {}",
                        json_kind(&v)
                    ));
                }
                Ok(_) => {}
            }
        }
    }
    let reader = std::io::BufReader::new(f);
    match serde_json::from_reader::<_, serde::de::IgnoredAny>(reader) {
        Err(e) if e.is_syntax() || e.is_eof() => Some(describe(e.line(), &e)),
        _ => None,
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// `serde_json`'s phrases as what the file should have held.
fn json_expectation(what: &str) -> String {
    match what {
        "EOF while parsing a value"
        | "EOF while parsing an object"
        | "EOF while parsing a list"
        | "EOF while parsing a string" => {
            format!("the JSON ends too early ({what}); a value, `}}` or `]` is missing")
        }
        "key must be a string" => "expected a key in double quotes".to_owned(),
        "trailing comma" => "a comma before `}` or `]` (expected another value)".to_owned(),
        other => other.to_owned(),
    }
}

/// polars' short type names in Medallion's words.
fn polars_dtype_name(dtype: &str) -> String {
    let t = dtype.trim();
    let parsed = match t {
        "i64" => Some(ModelType::Int64),
        "i32" => Some(ModelType::Int32),
        "f64" => Some(ModelType::Float64),
        "f32" => Some(ModelType::Float32),
        "str" => Some(ModelType::String),
        "bool" => Some(ModelType::Boolean),
        "date" => Some(ModelType::Date),
        _ if t.starts_with("datetime") => Some(ModelType::Datetime),
        _ => t
            .strip_prefix("decimal[")
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|ps| ModelType::parse(&format!("decimal({ps})"))),
    };
    parsed.map_or_else(|| t.to_owned(), |p| p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polars_hints_become_medallions_options() {
        let value = "X".repeat(1_000_000);
        let m = format!(
            "could not parse `{value}` as dtype `decimal[12,2]` at column 'amount' (column number 4)\n\nThe current offset in the file is 148 bytes.\n\nYou might want to try:\n- increasing `infer_schema_length` (e.g. `infer_schema_length=10000`),\n- specifying correct dtype with the `schema_overrides` argument\n- setting `ignore_errors` to `True`,\n- adding `{value}` to the `null_values` list.\n\nOriginal error: ```invalid decimal value found during CSV parsing```"
        );
        let s = sanitize(&m);
        for foreign in [
            "schema_overrides",
            "ignore_errors",
            "infer_schema_length",
            "offset",
        ] {
            assert!(!s.contains(foreign), "{s}");
        }
        assert!(
            s.contains("(invalid decimal value found during CSV parsing)"),
            "{s}"
        );
        assert!(s.contains("the source's `schema`"), "{s}");
        assert!(s.len() < 1_000, "{}", s.len());
        let s = sanitize(
            "found more fields than defined in 'Schema'\n\nConsider setting 'truncate_ragged_lines=true'.",
        );
        assert_eq!(s, "found more fields than defined in 'Schema'");
    }

    #[test]
    fn polars_types_read_as_medallions() {
        assert_eq!(polars_dtype_name("decimal[12,2]"), "decimal(12,2)");
        assert_eq!(polars_dtype_name("i64"), "int64");
        assert_eq!(polars_dtype_name("datetime[μs]"), "datetime");
        assert_eq!(polars_dtype_name("list[i64]"), "list[i64]");
    }

    #[test]
    fn a_full_disk_is_one_sentence() {
        let m = "parquet: File out of specification: underlying IO error: No space left on device (os error 28)";
        let said = disk_full(m).unwrap_or_default();
        assert!(said.starts_with("the disk is full"), "{said}");
        assert!(!said.contains("specification"), "{said}");
        assert_eq!(disk_full("could not parse `x` as dtype `i64`"), None);
    }
}
