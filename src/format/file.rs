//! The serde shapes of `medallion.toml`: flat tables with every field optional where a default
//! makes sense, and unknown fields refused so that a typo is an error, not a silent default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::model::contract::DriftPolicy;
use crate::model::{DataType, Layer, PiiKind};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    pub project: ProjectHeader,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Spanned<RetentionFile>>,
    /// `[masking.TAG]`: how columns tagged TAG are masked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub masking: BTreeMap<String, Spanned<MaskingFile>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, Spanned<ResourceFile>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schedules: BTreeMap<String, Spanned<ScheduleFile>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sensors: BTreeMap<String, Spanned<SensorFile>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alert_targets: BTreeMap<String, Spanned<AlertTargetFile>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alert_rules: BTreeMap<String, Spanned<AlertRuleFile>>,
    #[serde(default)]
    pub assets: BTreeMap<String, Spanned<AssetFile>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectHeader {
    pub name: Spanned<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The format version, so later releases can read older files.
    #[serde(default = "format_version")]
    pub format_version: u32,
}

pub fn format_version() -> u32 {
    1
}

/// A reference to a secret: `{ keyring = "NAME" }` or `{ env = "VAR" }`. A plain value is
/// refused without repeating it, so a pasted password never reaches an error message.
#[derive(Debug, Serialize)]
pub struct SecretFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyring: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

const SECRET_VALUE_REFUSED: &str = "a secret is never written in a project file; refer to it instead: \
     { keyring = \"NAME\" } for an entry in the OS keyring, or { env = \"VAR\" } for an environment variable";

impl<'de> Deserialize<'de> for SecretFile {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;
        impl<'de> serde::de::Visitor<'de> for SecretVisitor {
            type Value = SecretFile;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("{ keyring = \"NAME\" } or { env = \"VAR\" }")
            }

            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<SecretFile, E> {
                Err(E::custom(SECRET_VALUE_REFUSED))
            }

            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<SecretFile, E> {
                Err(E::custom(SECRET_VALUE_REFUSED))
            }

            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<SecretFile, E> {
                Err(E::custom(SECRET_VALUE_REFUSED))
            }

            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<SecretFile, E> {
                Err(E::custom(SECRET_VALUE_REFUSED))
            }

            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<SecretFile, E> {
                Err(E::custom(SECRET_VALUE_REFUSED))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<SecretFile, A::Error> {
                Err(serde::de::Error::custom(SECRET_VALUE_REFUSED))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<SecretFile, A::Error> {
                let mut out = SecretFile {
                    keyring: None,
                    env: None,
                };
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "keyring" => out.keyring = Some(map.next_value()?),
                        "env" => out.env = Some(map.next_value()?),
                        other => {
                            return Err(serde::de::Error::custom(format!(
                                "unknown field `{other}` in a secret reference (expected keyring or env)"
                            )));
                        }
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_any(SecretVisitor)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceFile {
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretFile>,
    /// Postgres TLS: `disable`, `prefer` (the default), `require` or `verify-full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sslmode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<SecretFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<SecretFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<SecretFile>,
    /// `eks` resources: the EKS cluster name, or a kubeconfig file and context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `aws` resources: where remote runs execute (`[resources.NAME.compute]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<crate::model::AwsCompute>,
}

/// `[schedules.NAME]`: a cron schedule. Values are spanned so a problem names its line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    pub cron: Spanned<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Spanned<String>>,
    pub selection: Spanned<String>,
    /// `tick_date`, `previous_day` or `key:KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Spanned<String>>,
    /// `skip`, `latest` (the default) or `each`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<Spanned<String>>,
    /// The bound of `catch_up = "each"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up_max: Option<Spanned<u32>>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `local` (the default) or `remote`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Spanned<String>>,
    /// The `aws` resource of a remote target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<Spanned<String>>,
}

/// `[sensors.NAME]`: a sensor of one kind, with that kind's fields.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorFile {
    /// `s3_objects`, `files` or `asset_materialized`.
    pub kind: Spanned<String>,
    pub selection: Spanned<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glob: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<Spanned<String>>,
    /// `object` (the default: one run per new object) or `batch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval_secs: Option<Spanned<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Spanned<String>>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<Spanned<String>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetFile {
    pub layer: Layer,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
    /// Inline SQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<Spanned<String>>,
    /// SQL in a file, relative to the project directory (e.g. `sql/daily_revenue.sql`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_file: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pii: BTreeMap<String, PiiKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Spanned<SourceFile>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<Spanned<PartitionsFile>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Spanned<FreshnessFile>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<Spanned<ComputeFile>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Spanned<StepFile>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Spanned<CheckFile>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<Spanned<ContractFile>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<Spanned<UnitTestFile>>,
}

/// `[[assets.KEY.tests]]`: a SQL unit test — given rows per upstream, the rows expected.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitTestFile {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Compare rows in order (default: in any order).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ordered: bool,
    /// The largest absolute difference between equal float cells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub given: BTreeMap<String, Spanned<TestRowsFile>>,
    pub expect: Spanned<TestRowsFile>,
}

/// Rows of a unit test: `rows = [{ col = value, … }, …]` or `csv = "tests/FILE.csv"`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRowsFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<toml::Table>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<String>,
}

/// `[assets.KEY.contract]`: the columns and types the asset promises.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractFile {
    /// May the output hold columns the contract does not name? (default: yes)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_extra_columns: Option<bool>,
    /// `warn` (default) or `error`: what a source's schema drift at run time is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_drift: Option<DriftPolicy>,
    #[serde(default)]
    pub columns: BTreeMap<String, ContractColumnFile>,
}

/// `[assets.KEY.contract.columns] name = { type = "int64", required = true }`
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractColumnFile {
    #[serde(rename = "type")]
    pub dtype: DataType,
    /// Required unless `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    /// `csv`, `parquet`, `json`, `ndjson`, `s3`, `postgres` or `http`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// S3 object key or prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Format of S3 objects: `csv`, `parquet`, `json` or `ndjson`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_header: Option<bool>,
    /// Quote character; an empty string turns quoting off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_char: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_pointer: Option<String>,
    /// Column types, overriding inference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<BTreeMap<String, DataType>>,
    /// CSV: `error` (the default) or `null` — what a row with fewer fields than the header
    /// means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_fields: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    pub step: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chars: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_match: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_matching: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckFile {
    pub name: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `warn` or `error` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blocking: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// For `schema`: column name to type, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Vec<SchemaColumnFile>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lag_minutes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_match: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaColumnFile {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: DataType,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionsFile {
    /// `daily` or `static`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreshnessFile {
    pub max_lag_minutes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<crate::model::ComputeTier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_nodes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_nodes: Option<u32>,
}

/// `layout.toml`: canvas positions by asset key, the groups collapsed into one card, and the
/// notes on the canvas.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutFile {
    #[serde(default)]
    pub collapsed_groups: Vec<String>,
    #[serde(default)]
    pub positions: BTreeMap<String, PositionFile>,
    #[serde(default)]
    pub notes: BTreeMap<String, NoteFile>,
}

/// `[notes.ID]`: a note's top-left corner and its text.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteFile {
    pub x: f32,
    pub y: f32,
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PositionFile {
    pub x: f32,
    pub y: f32,
}

/// `[alert_targets.NAME]`: `kind` is `webhook` or `slack` (with `url`) or `email` (with the
/// SMTP fields). URLs and passwords are secret references.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTargetFile {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<SecretFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<String>>,
    /// An `sns` target's topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_arn: Option<String>,
    /// An `sns` target's `aws` resource (whose credentials publish).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// `[alert_rules.NAME]`: which events go to which targets, optionally only for a selection.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRuleFile {
    pub events: Vec<String>,
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<String>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_true(b: &bool) -> bool {
    *b
}

/// `[retention]`: how long run history is kept; a field left out keeps its default.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_runs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_failed_days: Option<u32>,
}

/// `[masking.email] policy = "partial"`: the masking of the columns tagged `email`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingFile {
    /// `redact`, `partial`, `hash` or `null`.
    pub policy: String,
    /// For `partial`: how many trailing characters are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<u32>,
    /// The environments (`local`, `remote`) whose materialized outputs are masked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
    /// Mask bronze outputs too (where `outputs` applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bronze: Option<bool>,
}
