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

/// Why a partition key is not one of an asset's partitions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionKeyError {
    #[error("the asset is not partitioned")]
    NotPartitioned,
    #[error("partition `{key}` is not a date (YYYY-MM-DD) of the daily partitions")]
    NotADate { key: String },
    #[error("partition {key} is before the partitions' start, {start}")]
    BeforeStart { key: String, start: String },
    #[error("partition {key} is after the partitions' end, {end}")]
    AfterEnd { key: String, end: String },
    #[error("`{key}` is not one of the partition keys ({keys})")]
    NotAKey { key: String, keys: String },
}

impl PartitionsDefinition {
    pub fn is_partitioned(&self) -> bool {
        !matches!(self, PartitionsDefinition::None)
    }

    /// Whether `key` is one of this set's partitions; the error says why not.
    pub fn check_key(&self, key: &str) -> Result<(), PartitionKeyError> {
        let key = key.to_owned();
        match self {
            PartitionsDefinition::None => Err(PartitionKeyError::NotPartitioned),
            PartitionsDefinition::Daily { start, end } => {
                let parse = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d");
                let Ok(day) = parse(&key) else {
                    return Err(PartitionKeyError::NotADate { key });
                };
                if parse(start).is_ok_and(|s| day < s) {
                    return Err(PartitionKeyError::BeforeStart {
                        key,
                        start: start.clone(),
                    });
                }
                if let Some(end) = end
                    && parse(end).is_ok_and(|e| day > e)
                {
                    return Err(PartitionKeyError::AfterEnd {
                        key,
                        end: end.clone(),
                    });
                }
                Ok(())
            }
            PartitionsDefinition::Static { keys } => {
                if keys.contains(&key) {
                    Ok(())
                } else {
                    Err(PartitionKeyError::NotAKey {
                        key,
                        keys: keys.join(", "),
                    })
                }
            }
        }
    }
}

/// The placeholder replaced by the partition key in source paths and SQL.
pub const PARTITION_PLACEHOLDER: &str = "{partition}";
