//! What can be wrong with one part of `medallion.toml` once it has parsed: a category and the
//! names it concerns. The reader turns each into a located diagnostic (its `Display` is the
//! sentence); nothing else reads the text.

use std::path::PathBuf;

use crate::format::FormatError;

/// A part of the file (a resource, source, step, check, partition set, alert target or rule)
/// that cannot become part of the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// A secret field that names neither or both of `keyring` and `env`.
    #[error(
        "{field} must name exactly one of keyring or env, e.g. {field} = {{ keyring = \"NAME\" }}"
    )]
    SecretRef { field: &'static str },
    /// A field this kind needs is absent.
    #[error("{} {what} needs `{field}`", article(.what))]
    Missing { what: String, field: &'static str },
    /// Fields this kind does not take are set.
    #[error("{} {what} does not take {}", article(.what), backticked(.fields))]
    NotTaken {
        what: String,
        fields: Vec<&'static str>,
    },
    /// A name outside its fixed set (a kind, a file format, a case, a severity).
    #[error("unknown {what} `{found}` (expected {expected})")]
    Unknown {
        what: &'static str,
        found: String,
        expected: &'static str,
    },
    /// A column type that does not exist.
    #[error("unknown data type `{name}`")]
    UnknownDataType { name: String },
    /// `field = "value"` where the value is not one of `allowed`.
    #[error("`{field} = \"{value}\"` is not one of {allowed}")]
    NotOneOf {
        field: &'static str,
        value: String,
        allowed: String,
    },
    /// A CSV option that takes one character.
    #[error("`{field}` must be a single character, not {value:?}")]
    NotOneChar { field: &'static str, value: String },
    /// `missing_fields` other than `error` or `null`.
    #[error("`missing_fields` is \"error\" or \"null\", not {value:?}")]
    MissingFieldsMode { value: String },
    /// A Parquet source with a `schema` (Parquet files carry their own).
    #[error("a parquet source takes its schema from the file; drop `schema`")]
    ParquetSchema,
    /// An alert target whose kind does not exist.
    #[error("alert target `{name}`: kind `{kind}` is not one of webhook, slack, email or sns")]
    AlertTargetKind { name: String, kind: String },
    /// An alert rule naming an event that does not exist.
    #[error("alert rule `{rule}`: event `{event}` is not one of {allowed}")]
    AlertEvent {
        rule: String,
        event: String,
        allowed: String,
    },
}

/// Why a SQL file named by `sql_file` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SqlFileError {
    /// An absolute path or one with `..`.
    #[error("the path must stay inside the project directory")]
    OutsideDirectory,
    #[error("the file is not valid UTF-8 text")]
    NotUtf8,
    #[error(
        "the file is a symbolic link to {}, outside the project directory; project files must live inside it",
        .target.display()
    )]
    LinkOutside { target: PathBuf },
    #[error(transparent)]
    Read(Box<FormatError>),
}

/// "an" before a vowel sound (`an eks resource`), "a" otherwise (`a unique check`).
pub(super) fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o']) {
        "an"
    } else {
        "a"
    }
}

fn backticked(fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
