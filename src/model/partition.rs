//! Partitions (Dagster's `PartitionsDefinition`): how an asset's data is split into
//! independently materialized slices.

use serde::{Deserialize, Serialize};

/// How an asset is partitioned. Dates are kept as written so validation can report bad ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PartitionsDefinition {
    #[default]
    None,
    /// One partition per day from `start` (`YYYY-MM-DD`) to `end` inclusive, or to today.
    Daily { start: String, end: Option<String> },
    /// A fixed list of partition keys.
    Static { keys: Vec<String> },
}

impl PartitionsDefinition {
    pub fn is_partitioned(&self) -> bool {
        !matches!(self, PartitionsDefinition::None)
    }
}

/// The placeholder replaced by the partition key in source paths and SQL.
pub const PARTITION_PLACEHOLDER: &str = "{partition}";
