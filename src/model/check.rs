//! Asset checks (Dagster's `AssetCheckSpec`): data-quality rules evaluated after an asset is
//! materialized.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::datatype::DataType;

/// How bad a failed check is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum CheckSeverity {
    Warn,
    #[default]
    Error,
}

impl CheckSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckSeverity::Warn => "warn",
            CheckSeverity::Error => "error",
        }
    }
}

impl fmt::Display for CheckSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One data-quality rule on an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetCheckSpec {
    /// Unique within the asset, e.g. `order_history_not_empty`.
    pub name: String,
    pub description: String,
    pub severity: CheckSeverity,
    /// A failed blocking check with severity Error skips the asset's downstream assets.
    pub blocking: bool,
    pub kind: CheckKind,
}

/// What a check verifies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckKind {
    /// No null in any of the columns.
    NotNull { columns: Vec<String> },
    /// No two rows share the same values in the columns.
    Unique { columns: Vec<String> },
    /// The row count lies within the bounds (inclusive).
    RowCount { min: Option<u64>, max: Option<u64> },
    /// The asset has these columns with these types (other columns are allowed).
    Schema { columns: Vec<(String, DataType)> },
    /// The latest materialization is at most this old.
    Freshness { max_lag_minutes: u64 },
    /// Every non-null value of the column matches the pattern.
    Regex {
        column: String,
        pattern: String,
        full_match: bool,
    },
    /// Every non-null value of the column is one of the values.
    AcceptedValues { column: String, values: Vec<String> },
    /// A SQL predicate that must hold on every row, e.g. `clv >= 0`.
    Expression { predicate: String },
}

impl CheckKind {
    pub fn label(&self) -> &'static str {
        match self {
            CheckKind::NotNull { .. } => "not_null",
            CheckKind::Unique { .. } => "unique",
            CheckKind::RowCount { .. } => "row_count",
            CheckKind::Schema { .. } => "schema",
            CheckKind::Freshness { .. } => "freshness",
            CheckKind::Regex { .. } => "regex",
            CheckKind::AcceptedValues { .. } => "accepted_values",
            CheckKind::Expression { .. } => "expression",
        }
    }

    /// The columns the check reads, for validation against known schemas.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            CheckKind::NotNull { columns } | CheckKind::Unique { columns } => {
                columns.iter().map(String::as_str).collect()
            }
            CheckKind::Schema { columns } => columns.iter().map(|(c, _)| c.as_str()).collect(),
            CheckKind::Regex { column, .. } | CheckKind::AcceptedValues { column, .. } => {
                vec![column.as_str()]
            }
            CheckKind::RowCount { .. }
            | CheckKind::Freshness { .. }
            | CheckKind::Expression { .. } => Vec::new(),
        }
    }

    /// A sentence describing what passes, used when a check has no description.
    pub fn default_description(&self) -> String {
        match self {
            CheckKind::NotNull { columns } => format!("no null in {}", columns.join(", ")),
            CheckKind::Unique { columns } => format!("{} is unique", columns.join(", ")),
            CheckKind::RowCount { min, max } => match (min, max) {
                (Some(lo), Some(hi)) => format!("row count between {lo} and {hi}"),
                (Some(lo), None) => format!("at least {lo} rows"),
                (None, Some(hi)) => format!("at most {hi} rows"),
                (None, None) => "any row count".to_owned(),
            },
            CheckKind::Schema { columns } => format!("has columns {}", {
                let cols: Vec<String> = columns.iter().map(|(c, t)| format!("{c} {t}")).collect();
                cols.join(", ")
            }),
            CheckKind::Freshness { max_lag_minutes } => {
                format!("materialized within the last {max_lag_minutes} minutes")
            }
            CheckKind::Regex {
                column,
                pattern,
                full_match,
            } => {
                let how = if *full_match {
                    "fully matches"
                } else {
                    "matches"
                };
                format!("{column} {how} {pattern}")
            }
            CheckKind::AcceptedValues { column, values } => {
                format!("{column} is one of {}", values.join(", "))
            }
            CheckKind::Expression { predicate } => format!("every row satisfies {predicate}"),
        }
    }
}
