//! The memory budget of a run: how much memory the tables of a run may take at once, how each
//! step runs within it (collected in memory, or streamed by polars' streaming engine straight
//! into its Parquet file), and the check made before a run starts that every step can fit.
//!
//! The budget is `MEDALLION_MEMORY_BUDGET_MB` when set, else half of what the system has
//! available. A step whose estimated in-memory size is above half the budget is streamed: it
//! runs alone, its table never sits whole in memory, downstream steps read it back from its
//! Parquet file, and its checks and profile are lazy queries over that file. Smaller steps are
//! collected and handed to their downstream steps in memory while the tables kept for them fit
//! in half the budget.

use std::path::Path;

use super::EngineError;
use super::source;
use crate::model::{AssetDefinition, AssetKey, AssetMaterialization, AssetSpec, FileFormat};

/// The environment variable that sets the budget, in MiB.
pub const BUDGET_VAR: &str = "MEDALLION_MEMORY_BUDGET_MB";

/// The largest budget accepted (1 PiB in MiB): anything above is a typo.
const MAX_BUDGET_MIB: u64 = 1 << 30;

/// A JSON document (not NDJSON) is parsed whole: about this many times its file size in memory.
const JSON_FACTOR: u64 = 4;

/// How much memory the tables of a run may take at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    pub bytes: u64,
    /// Set by `MEDALLION_MEMORY_BUDGET_MB` (else derived from the available memory).
    pub explicit: bool,
}

/// A `MEDALLION_MEMORY_BUDGET_MB` that cannot be a budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadBudget {
    /// Not a positive whole number (`shown`: the value's first 40 characters).
    #[error("{BUDGET_VAR} must be a positive whole number of MiB (e.g. 512), not {shown:?}")]
    NotMib { shown: String },
    /// More than any machine has (MiB given as bytes, most likely).
    #[error(
        "{BUDGET_VAR} is {mib} MiB, more than any machine has; give the budget in MiB (e.g. 512)"
    )]
    TooLarge { mib: u64 },
}

impl MemoryBudget {
    /// The budget from `MEDALLION_MEMORY_BUDGET_MB`, else half of the available memory.
    ///
    /// # Errors
    /// [`EngineError::Budget`] when the variable is set but is not a positive whole number.
    pub fn from_env() -> Result<Self, EngineError> {
        match std::env::var(BUDGET_VAR) {
            Ok(v) => Self::parse(&v),
            Err(std::env::VarError::NotPresent) => Ok(Self::available()),
            Err(std::env::VarError::NotUnicode(v)) => Self::parse(&v.to_string_lossy()),
        }
    }

    /// Parses a value of `MEDALLION_MEMORY_BUDGET_MB`.
    ///
    /// # Errors
    /// [`EngineError::Budget`] naming the variable and the value.
    pub fn parse(value: &str) -> Result<Self, EngineError> {
        let bad = || BadBudget::NotMib {
            shown: value.chars().take(40).collect(),
        };
        let mib = value.trim().parse::<u64>().map_err(|_| bad())?;
        if mib == 0 {
            return Err(bad().into());
        }
        if mib > MAX_BUDGET_MIB {
            return Err(BadBudget::TooLarge { mib }.into());
        }
        Ok(Self {
            bytes: mib << 20,
            explicit: true,
        })
    }

    /// Half of what the system has available (Linux `MemAvailable`), or 4 GiB when unknown.
    fn available() -> Self {
        let available = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
                line.split_whitespace()
                    .nth(1)?
                    .parse::<u64>()
                    .ok()
                    .map(|kib| kib * 1024)
            });
        Self {
            bytes: available.unwrap_or(8 << 30) / 2,
            explicit: false,
        }
    }

    pub fn mib(&self) -> u64 {
        self.bytes >> 20
    }

    /// "the memory budget of 256 MiB (`MEDALLION_MEMORY_BUDGET_MB`)", for messages.
    pub fn describe(&self) -> String {
        if self.explicit {
            format!("the memory budget of {} MiB ({BUDGET_VAR})", self.mib())
        } else {
            format!(
                "the memory budget of {} MiB (half of the available memory; set {BUDGET_VAR} to change it)",
                self.mib()
            )
        }
    }

    /// Whether a step of this estimated in-memory size streams instead of being collected.
    pub fn streams(&self, estimate: u64) -> bool {
        estimate > self.bytes / 2
    }

    /// Whether a collected table of `bytes` may be kept in memory for downstream steps beside
    /// the `kept` bytes already kept (else downstream steps read its Parquet file).
    pub fn may_keep(&self, kept: u64, bytes: u64) -> bool {
        kept.saturating_add(bytes) <= self.bytes / 2
    }
}

/// A rough in-memory size of a step: its inputs' stored bytes times a decompression factor.
pub fn estimated_bytes(
    asset: &AssetSpec,
    project_dir: &Path,
    partition: Option<&str>,
    upstream: &[&AssetMaterialization],
) -> u64 {
    match &asset.definition {
        AssetDefinition::Source(crate::model::SourceSpec::File { path, .. }) => {
            source_file_bytes(&asset.key, project_dir, path, partition) * 4
        }
        AssetDefinition::Source(_) => 0,
        AssetDefinition::Transform(_) => upstream.iter().map(|m| m.byte_count * 10).sum(),
    }
}

fn source_file_bytes(
    key: &AssetKey,
    project_dir: &Path,
    path: &str,
    partition: Option<&str>,
) -> u64 {
    let full = source::resolve_path(project_dir, path, partition);
    source::matching_files(key, &full).map_or(0, |files| {
        files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum()
    })
}

/// Checks, before a run starts, that every step of it can run within the budget: a step that
/// must be held whole in memory (a JSON document, which is parsed whole) and is bigger than the
/// budget cannot stream, so the run is refused with a sentence naming the asset and the budget
/// instead of being killed for lack of memory half-way.
///
/// # Errors
/// [`EngineError::Budget`] for a malformed `MEDALLION_MEMORY_BUDGET_MB`,
/// [`EngineError::DoesNotFit`] for the first step that cannot fit.
pub fn check_fits(
    project: &crate::model::Project,
    project_dir: &Path,
    steps: &[AssetKey],
    partition: Option<&str>,
) -> Result<MemoryBudget, EngineError> {
    let budget = MemoryBudget::from_env()?;
    for key in steps {
        let Some(asset) = project.asset(key) else {
            continue;
        };
        let partition = asset
            .partitions
            .is_partitioned()
            .then_some(partition)
            .flatten();
        if let AssetDefinition::Source(crate::model::SourceSpec::File {
            path,
            format: FileFormat::Json,
        }) = &asset.definition
        {
            let file = source_file_bytes(key, project_dir, path, partition);
            let need = file.saturating_mul(JSON_FACTOR);
            if need > budget.bytes {
                return Err(EngineError::DoesNotFit {
                    asset: key.clone(),
                    budget: budget.describe(),
                    reason: format!(
                        "it is a JSON document of {} MiB, which is read whole (about {} MiB in memory); store it as NDJSON (one record a line) so it can stream, or raise the budget",
                        file.div_ceil(1 << 20),
                        need.div_ceil(1 << 20)
                    ),
                });
            }
        }
    }
    Ok(budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_a_positive_whole_number_of_mib() {
        let b = MemoryBudget::parse(" 256 ").unwrap();
        assert_eq!(b.bytes, 256 << 20);
        assert!(b.explicit);
        assert!(b.streams(129 << 20));
        assert!(!b.streams(128 << 20));
        for bad in ["", "0", "-5", "1.5", "256MB", "abc", "1e3"] {
            let e = MemoryBudget::parse(bad).unwrap_err().to_string();
            assert!(
                e.starts_with("MEDALLION_MEMORY_BUDGET_MB must be a positive whole number of MiB"),
                "{bad}: {e}"
            );
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
        let e = MemoryBudget::parse("99999999999999")
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than any machine has"), "{e}");
        let long = "x".repeat(10_000);
        assert!(MemoryBudget::parse(&long).unwrap_err().to_string().len() < 200);
    }
}
