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

    /// Whether `key` is one of this set's partitions; the sentence says why not.
    pub fn check_key(&self, key: &str) -> Result<(), String> {
        match self {
            PartitionsDefinition::None => Err("the asset is not partitioned".to_owned()),
            PartitionsDefinition::Daily { start, end } => {
                let parse = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d");
                let day = parse(key).map_err(|_| {
                    format!("partition `{key}` is not a date (YYYY-MM-DD) of the daily partitions")
                })?;
                if parse(start).is_ok_and(|s| day < s) {
                    return Err(format!(
                        "partition {key} is before the partitions' start, {start}"
                    ));
                }
                if let Some(end) = end
                    && parse(end).is_ok_and(|e| day > e)
                {
                    return Err(format!(
                        "partition {key} is after the partitions' end, {end}"
                    ));
                }
                Ok(())
            }
            PartitionsDefinition::Static { keys } => {
                if keys.iter().any(|k| k == key) {
                    Ok(())
                } else {
                    Err(format!(
                        "`{key}` is not one of the partition keys ({})",
                        keys.join(", ")
                    ))
                }
            }
        }
    }
}

/// The placeholder replaced by the partition key in source paths and SQL.
pub const PARTITION_PLACEHOLDER: &str = "{partition}";
