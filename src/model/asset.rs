//! Asset specifications: what an asset is, where its data comes from, and how it is computed.
//!
//! The vocabulary follows Dagster (`AssetKey`, `AssetSpec`, `AssetDep`) so data engineers recognise
//! it; `Layer` is Medallion's own.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::check::AssetCheckSpec;
use super::compute::ComputeHints;
use super::datatype::DataType;
use super::partition::PartitionsDefinition;

/// The unique name of an asset, e.g. `raw_orders` or `sales/orders`.
///
/// Segments are identifiers (`[A-Za-z_][A-Za-z0-9_]*`) joined by `/`. Construction does not reject
/// bad names so that a project file with a bad key can still be loaded and reported on; validation
/// reports keys that are not well formed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssetKey(String);

impl AssetKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the key is made of identifier segments joined by `/`.
    pub fn is_well_formed(&self) -> bool {
        !self.0.is_empty() && self.0.split('/').all(is_identifier)
    }

    /// The name the asset has in SQL: the key itself (quote it when it contains `/`).
    pub fn sql_name(&self) -> &str {
        &self.0
    }
}

/// Whether `s` is an identifier: a letter or underscore, then letters, digits or underscores.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl fmt::Display for AssetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for AssetKey {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

/// The medallion layer an asset belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Raw ingestion: sources, no upstream assets.
    Bronze,
    /// Cleaned and validated: reads bronze or silver.
    Silver,
    /// Business metrics: reads silver or gold.
    Gold,
}

impl Layer {
    pub const ALL: [Layer; 3] = [Layer::Bronze, Layer::Silver, Layer::Gold];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Bronze => "bronze",
            Layer::Silver => "silver",
            Layer::Gold => "gold",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Whether an asset in this layer may read an asset in `upstream`.
    pub fn may_read(self, upstream: Layer) -> bool {
        match self {
            Layer::Bronze => false,
            Layer::Silver => matches!(upstream, Layer::Bronze | Layer::Silver),
            Layer::Gold => matches!(upstream, Layer::Silver | Layer::Gold),
        }
    }

    /// The sentence that explains what this layer may read.
    pub fn read_rule(self) -> &'static str {
        match self {
            Layer::Bronze => "bronze assets are sources and read no upstream asset",
            Layer::Silver => "silver assets read bronze or silver assets",
            Layer::Gold => "gold assets read silver or gold assets",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything Medallion knows about one asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetSpec {
    pub key: AssetKey,
    pub layer: Layer,
    pub description: String,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub code_version: Option<String>,
    pub definition: AssetDefinition,
    /// Upstream assets named explicitly. Those read by the SQL are added implicitly; a mismatch
    /// is reported by validation.
    pub deps: Vec<AssetKey>,
    pub checks: Vec<AssetCheckSpec>,
    pub partitions: PartitionsDefinition,
    pub freshness: Option<FreshnessPolicy>,
    pub compute: ComputeHints,
    /// Columns that hold personal data, and what kind.
    pub pii: BTreeMap<String, PiiKind>,
    /// The columns and types the asset promises its consumers.
    pub contract: Option<super::contract::Contract>,
    /// SQL unit tests: given rows per upstream and the rows expected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<super::unit_test::UnitTest>,
}

impl AssetSpec {
    /// A new asset with an empty definition suitable for its layer.
    pub fn new(key: impl Into<AssetKey>, layer: Layer) -> Self {
        let key = key.into();
        let definition = match layer {
            Layer::Bronze => AssetDefinition::Source(SourceSpec::File {
                path: format!("data/{}.csv", key.as_str().replace('/', "_")),
                format: FileFormat::Csv(CsvOptions::default()),
            }),
            Layer::Silver | Layer::Gold => AssetDefinition::Transform(TransformSpec::default()),
        };
        Self {
            key,
            layer,
            description: String::new(),
            owner: None,
            group: None,
            tags: BTreeMap::new(),
            code_version: None,
            definition,
            deps: Vec::new(),
            checks: Vec::new(),
            partitions: PartitionsDefinition::None,
            freshness: None,
            compute: ComputeHints::default(),
            pii: BTreeMap::new(),
            contract: None,
            tests: Vec::new(),
        }
    }

    pub fn source(&self) -> Option<&SourceSpec> {
        match &self.definition {
            AssetDefinition::Source(s) => Some(s),
            AssetDefinition::Transform(_) => None,
        }
    }

    pub fn transform(&self) -> Option<&TransformSpec> {
        match &self.definition {
            AssetDefinition::Transform(t) => Some(t),
            AssetDefinition::Source(_) => None,
        }
    }

    /// A short human word for the kind of definition: `csv`, `postgres`, `sql`, `sql + 3 steps`.
    pub fn kind_label(&self) -> String {
        match &self.definition {
            AssetDefinition::Source(s) => s.kind_label().to_owned(),
            AssetDefinition::Transform(t) => match (t.sql.is_some(), t.steps.len()) {
                (true, 0) => "sql".to_owned(),
                (true, n) => format!("sql + {n} steps"),
                (false, n) => format!("{n} steps"),
            },
        }
    }
}

/// How an asset's data is produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetDefinition {
    /// A bronze source: data read from outside.
    Source(SourceSpec),
    /// A silver or gold transform over upstream assets.
    Transform(TransformSpec),
}

/// Where a bronze asset reads its data from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceSpec {
    /// A local file, or every file matching a glob, relative to the project directory.
    File {
        path: String,
        #[serde(flatten)]
        format: FileFormat,
    },
    /// An S3 object, or every object under a prefix (a key ending in `/`).
    S3 {
        resource: String,
        key: String,
        #[serde(flatten)]
        format: FileFormat,
    },
    /// The result of a query on a Postgres resource.
    Postgres { resource: String, query: String },
    /// Records from an HTTP JSON API.
    Http {
        resource: String,
        path: String,
        params: BTreeMap<String, String>,
        /// JSON pointer (RFC 6901) to the array of records, e.g. `/data/items`; empty = the body.
        records_pointer: String,
    },
}

impl SourceSpec {
    pub fn kind_label(&self) -> &'static str {
        match self {
            SourceSpec::File { format, .. } => format.label(),
            SourceSpec::S3 { .. } => "s3",
            SourceSpec::Postgres { .. } => "postgres",
            SourceSpec::Http { .. } => "http",
        }
    }

    /// The resource this source needs, if any.
    pub fn resource(&self) -> Option<&str> {
        match self {
            SourceSpec::File { .. } => None,
            SourceSpec::S3 { resource, .. }
            | SourceSpec::Postgres { resource, .. }
            | SourceSpec::Http { resource, .. } => Some(resource),
        }
    }
}

/// A file format, with the options that belong to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum FileFormat {
    Csv(CsvOptions),
    Parquet,
    Json,
    Ndjson,
}

impl FileFormat {
    pub fn label(&self) -> &'static str {
        match self {
            FileFormat::Csv(_) => "csv",
            FileFormat::Parquet => "parquet",
            FileFormat::Json => "json",
            FileFormat::Ndjson => "ndjson",
        }
    }
}

/// CSV reading options. Explicit on purpose: a reader's defaults (null tokens, trimming) silently
/// change data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CsvOptions {
    pub delimiter: char,
    pub has_header: bool,
    pub quote_char: Option<char>,
    /// Field values read as null. Empty means no token is null; `[""]` means an empty field is.
    pub null_values: Vec<String>,
    /// Column types that override inference, in column order where it matters.
    pub schema: BTreeMap<String, DataType>,
    /// What a row with fewer fields than the header means: an error naming the file and line
    /// (the default), or nulls in the missing fields when the source opts in.
    pub missing_fields: MissingFields,
}

/// What a CSV row with fewer fields than the header means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingFields {
    /// An error naming the file and line: data is never filled in silently.
    #[default]
    Error,
    /// The missing fields read as null (`missing_fields = "null"`).
    Null,
}

impl MissingFields {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingFields::Error => "error",
            MissingFields::Null => "null",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "error" => Some(MissingFields::Error),
            "null" => Some(MissingFields::Null),
            _ => None,
        }
    }
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: ',',
            has_header: true,
            quote_char: Some('"'),
            null_values: vec![String::new()],
            schema: BTreeMap::new(),
            missing_fields: MissingFields::Error,
        }
    }
}

/// A silver or gold computation: SQL over upstream assets, then built-in steps in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TransformSpec {
    /// SQL over upstream assets by name. Without SQL the steps apply to the single upstream asset.
    pub sql: Option<String>,
    pub steps: Vec<TransformStep>,
}

/// A built-in transform step, applied after the SQL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum TransformStep {
    /// Remove rows equal to an earlier row in the given columns (all columns when empty).
    Deduplicate { columns: Vec<String> },
    /// Keep, for each key, the row with the greatest `order_by` value.
    KeepLatest { key: Vec<String>, order_by: String },
    /// Remove leading and trailing `chars` from string columns.
    Trim { columns: Vec<String>, chars: String },
    /// Change the letter case of string columns.
    ChangeCase {
        columns: Vec<String>,
        case: LetterCase,
    },
    /// Add a boolean column telling whether `column` matches `pattern`.
    RegexFlag {
        column: String,
        pattern: String,
        output: String,
        full_match: bool,
    },
    /// Keep only rows whose `column` matches `pattern` (or does not, with `keep_matching = false`).
    RegexFilter {
        column: String,
        pattern: String,
        full_match: bool,
        keep_matching: bool,
    },
    /// Change a column's type.
    Cast { column: String, to: DataType },
    /// Rename a column.
    Rename { from: String, to: String },
    /// Drop rows with a null in any of the columns (any column when empty).
    DropNulls { columns: Vec<String> },
}

impl TransformStep {
    pub fn label(&self) -> &'static str {
        match self {
            TransformStep::Deduplicate { .. } => "deduplicate",
            TransformStep::KeepLatest { .. } => "keep_latest",
            TransformStep::Trim { .. } => "trim",
            TransformStep::ChangeCase { .. } => "change_case",
            TransformStep::RegexFlag { .. } => "regex_flag",
            TransformStep::RegexFilter { .. } => "regex_filter",
            TransformStep::Cast { .. } => "cast",
            TransformStep::Rename { .. } => "rename",
            TransformStep::DropNulls { .. } => "drop_nulls",
        }
    }

    /// The regular expression this step uses, if any.
    pub fn pattern(&self) -> Option<&str> {
        match self {
            TransformStep::RegexFlag { pattern, .. }
            | TransformStep::RegexFilter { pattern, .. } => Some(pattern),
            _ => None,
        }
    }
}

/// Letter case for [`TransformStep::ChangeCase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterCase {
    Lower,
    Upper,
    /// Upper-case the first letter of every run of ASCII letters, lower-case the rest.
    Title,
}

/// How fresh an asset must be (Dagster's `FreshnessPolicy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FreshnessPolicy {
    /// The data may be at most this many minutes old.
    pub max_lag_minutes: u64,
    /// Optional cron schedule by which the data must be fresh.
    pub cron: Option<String>,
}

/// The kind of personal data a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Email,
    Name,
    Phone,
    Address,
    BirthDate,
    NationalId,
    Financial,
    Other,
}

impl PiiKind {
    pub const ALL: [PiiKind; 8] = [
        Self::Email,
        Self::Name,
        Self::Phone,
        Self::Address,
        Self::BirthDate,
        Self::NationalId,
        Self::Financial,
        Self::Other,
    ];

    /// The tag as written in project files (`birth_date`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Name => "name",
            Self::Phone => "phone",
            Self::Address => "address",
            Self::BirthDate => "birth_date",
            Self::NationalId => "national_id",
            Self::Financial => "financial",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_for_shape() {
        assert!(AssetKey::new("raw_orders").is_well_formed());
        assert!(AssetKey::new("sales/orders_2").is_well_formed());
        assert!(!AssetKey::new("").is_well_formed());
        assert!(!AssetKey::new("sales//orders").is_well_formed());
        assert!(!AssetKey::new("1orders").is_well_formed());
        assert!(!AssetKey::new("raw orders").is_well_formed());
    }

    #[test]
    fn layer_rules() {
        assert!(!Layer::Bronze.may_read(Layer::Bronze));
        assert!(Layer::Silver.may_read(Layer::Bronze));
        assert!(Layer::Silver.may_read(Layer::Silver));
        assert!(!Layer::Silver.may_read(Layer::Gold));
        assert!(!Layer::Gold.may_read(Layer::Bronze));
        assert!(Layer::Gold.may_read(Layer::Silver));
        assert!(Layer::Gold.may_read(Layer::Gold));
    }
}
