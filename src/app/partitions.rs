//! The partitions of one asset and where each stands, read from the workspace: materialized
//! (with the asset's current definition, from its upstreams' current data), stale
//! (materialized with an earlier definition, or from upstream data that has been materialized
//! anew since), failed
//! (its latest attempt failed after its last materialization, or with none) or missing (never
//! materialized). The studio's partition strip draws this, and backfills what is picked.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::AppError;
use super::refusal::Refusal;
use crate::model::{
    AssetKey, AssetMaterialization, PartitionsDefinition, RunEvent, RunId, StepOutcome,
};
use crate::store::{StoredProject, Workspace};

/// The most partitions a strip lists (a daily set of 270 years).
pub const MAX_PARTITIONS: usize = 100_000;

/// Where one partition stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionState {
    Materialized,
    Stale,
    Failed,
    Missing,
}

impl PartitionState {
    pub const ALL: [PartitionState; 4] = [
        PartitionState::Materialized,
        PartitionState::Stale,
        PartitionState::Failed,
        PartitionState::Missing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PartitionState::Materialized => "materialized",
            PartitionState::Stale => "stale",
            PartitionState::Failed => "failed",
            PartitionState::Missing => "missing",
        }
    }

    /// Which of several partitions drawn as one shows: the one that needs attention most.
    pub fn urgency(self) -> u8 {
        match self {
            PartitionState::Failed => 3,
            PartitionState::Stale => 2,
            PartitionState::Missing => 1,
            PartitionState::Materialized => 0,
        }
    }
}

/// Every partition of an asset, in order, with its state.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PartitionStrip {
    pub asset: AssetKey,
    pub keys: Vec<String>,
    pub states: Vec<PartitionState>,
}

impl PartitionStrip {
    /// How many partitions are in each state.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for s in &self.states {
            *out.entry(s.as_str()).or_insert(0) += 1;
        }
        out
    }
}

/// The partition keys of a definition, in order: the days from its start to its end (or to
/// `today`), or its listed keys.
pub fn partition_keys(
    def: &PartitionsDefinition,
    today: NaiveDate,
) -> Result<Vec<String>, AppError> {
    match def {
        PartitionsDefinition::None => Ok(Vec::new()),
        PartitionsDefinition::Static { keys } => Ok(keys.clone()),
        PartitionsDefinition::Daily { start, end } => {
            let parse = |s: &str| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| Refusal::NotADate {
                    value: s.to_owned(),
                })
            };
            let first = parse(start)?;
            let last = match end {
                Some(e) => parse(e)?,
                None => today,
            };
            Ok(first
                .iter_days()
                .take_while(|d| *d <= last)
                .take(MAX_PARTITIONS)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .collect())
        }
    }
}

/// The state of each of `keys`, from the asset's latest materialization per partition, its
/// finished steps (oldest first), its current definition hash and `upstream_moved` (whether
/// an upstream's data changed since the materialization was computed from it).
pub fn partition_states(
    keys: &[String],
    materializations: &[&AssetMaterialization],
    steps: &[(RunId, chrono::DateTime<chrono::Utc>, RunEvent)],
    current_hash: &str,
    upstream_moved: impl Fn(&AssetMaterialization) -> bool,
) -> Vec<PartitionState> {
    let latest: BTreeMap<&str, &AssetMaterialization> = materializations
        .iter()
        .filter_map(|m| m.partition.as_deref().map(|p| (p, *m)))
        .collect();
    // The latest finished step of each partition (steps come oldest first).
    let mut attempts: BTreeMap<&str, (&RunId, chrono::DateTime<chrono::Utc>, &StepOutcome)> =
        BTreeMap::new();
    for (run, at, event) in steps {
        if let RunEvent::StepFinished {
            partition: Some(p),
            outcome,
            ..
        } = event
        {
            attempts.insert(p.as_str(), (run, *at, outcome));
        }
    }
    keys.iter()
        .map(|key| {
            let m = latest.get(key.as_str());
            let failed_later = attempts
                .get(key.as_str())
                .is_some_and(|(run, at, outcome)| {
                    matches!(outcome, StepOutcome::Failed { .. })
                        && m.is_none_or(|m| m.run_id != **run && m.created_at <= *at)
                });
            match m {
                _ if failed_later => PartitionState::Failed,
                Some(m) if m.definition_hash == current_hash && !upstream_moved(m) => {
                    PartitionState::Materialized
                }
                Some(_) => PartitionState::Stale,
                None => PartitionState::Missing,
            }
        })
        .collect()
}

/// The partitions of `asset` in `stored`'s project and where each stands, with daily sets
/// running to `today` when they have no end.
pub fn partition_strip(
    ws: &Workspace,
    stored: &StoredProject,
    asset: &AssetKey,
    today: NaiveDate,
) -> Result<PartitionStrip, AppError> {
    let project = &stored.project;
    let spec = project
        .asset(asset)
        .ok_or_else(|| Refusal::EmptySelection {
            selection: asset.to_string(),
        })?;
    let keys = partition_keys(&spec.partitions, today)?;
    let all = ws.latest_materializations(&project.name)?;
    let mine: Vec<&AssetMaterialization> = all.iter().filter(|m| &m.asset == asset).collect();
    let steps = ws.asset_step_outcomes(&project.name, asset)?;
    let hash = crate::engine::definition_hash(spec);
    // The data version of each upstream's latest materialization, per partition.
    let graph = crate::model::AssetGraph::build(project);
    let upstream = graph.upstream(asset);
    let current: BTreeMap<(&str, Option<&str>), &str> = all
        .iter()
        .filter(|m| upstream.contains(&&m.asset))
        .map(|m| {
            (
                (m.asset.as_str(), m.partition.as_deref()),
                m.data_version.as_str(),
            )
        })
        .collect();
    let states = partition_states(&keys, &mine, &steps, &hash, |m| upstream_moved(m, &current));
    Ok(PartitionStrip {
        asset: asset.clone(),
        keys,
        states,
    })
}

/// Whether an upstream asset `m` was computed from has a newer materialization (of the same
/// partition, or unpartitioned) than the one it read. An input not materialized any more, or a
/// source file, does not count here (the cards' full plan judges sources).
fn upstream_moved(
    m: &AssetMaterialization,
    current: &BTreeMap<(&str, Option<&str>), &str>,
) -> bool {
    m.input_versions.iter().any(|(input, version)| {
        current
            .get(&(input.as_str(), m.partition.as_deref()))
            .or_else(|| current.get(&(input.as_str(), None)))
            .is_some_and(|now| now != version)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn daily_keys_run_from_the_start_to_the_end_or_today() {
        let def = PartitionsDefinition::Daily {
            start: "2026-02-27".to_owned(),
            end: None,
        };
        assert_eq!(
            partition_keys(&def, day("2026-03-02")).unwrap(),
            ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]
        );
        let def = PartitionsDefinition::Daily {
            start: "2000-01-01".to_owned(),
            end: Some("2027-05-18".to_owned()),
        };
        assert_eq!(
            partition_keys(&def, day("2026-01-01")).unwrap().len(),
            10_000
        );
        let bad = PartitionsDefinition::Daily {
            start: "soon".to_owned(),
            end: None,
        };
        assert!(partition_keys(&bad, day("2026-01-01")).is_err());
    }

    fn materialization(partition: &str, run: &str, hash: &str, at: &str) -> AssetMaterialization {
        let mut m: AssetMaterialization = serde_json::from_value(serde_json::json!({
            "asset": "a",
            "partition": partition,
            "run_id": run,
            "location": "/nowhere",
            "row_count": 1,
            "byte_count": 1,
            "schema": [],
            "definition_hash": hash,
            "code_version": null,
            "input_versions": {},
            "data_version": "v",
            "created_at": at,
        }))
        .unwrap();
        m.partition = Some(partition.to_owned());
        m
    }

    fn finished(
        partition: &str,
        run: &str,
        at: &str,
        failed: bool,
    ) -> (RunId, chrono::DateTime<chrono::Utc>, RunEvent) {
        let outcome = if failed {
            StepOutcome::Failed {
                error: "boom".to_owned(),
            }
        } else {
            StepOutcome::Materialized
        };
        (
            RunId::new(run),
            at.parse().unwrap(),
            RunEvent::StepFinished {
                asset: AssetKey::new("a"),
                partition: Some(partition.to_owned()),
                outcome,
                duration_ms: 1,
                duration_known: true,
            },
        )
    }

    #[test]
    fn each_partition_is_materialized_stale_failed_or_missing() {
        let keys: Vec<String> = ["eu", "us", "apac", "latam", "africa"]
            .map(str::to_owned)
            .to_vec();
        let ms = [
            materialization("eu", "r1", "now", "2026-01-01T00:00:00Z"),
            materialization("us", "r1", "before", "2026-01-01T00:00:00Z"),
            // Failed after it was materialized: failed.
            materialization("latam", "r1", "now", "2026-01-01T00:00:00Z"),
        ];
        let refs: Vec<&AssetMaterialization> = ms.iter().collect();
        let steps = [
            finished("eu", "r1", "2026-01-01T00:00:00Z", false),
            finished("apac", "r2", "2026-01-02T00:00:00Z", true),
            finished("latam", "r2", "2026-01-02T00:00:00Z", true),
        ];
        assert_eq!(
            partition_states(&keys, &refs, &steps, "now", |_| false),
            [
                PartitionState::Materialized,
                PartitionState::Stale,
                PartitionState::Failed,
                PartitionState::Failed,
                PartitionState::Missing,
            ]
        );
    }

    /// A partition computed from an upstream partition that was materialized again since is
    /// stale; one computed from the upstream's current data is not.
    #[test]
    fn a_partition_whose_upstream_data_moved_is_stale() {
        let keys: Vec<String> = ["eu", "us"].map(str::to_owned).to_vec();
        let mut eu = materialization("eu", "r1", "now", "2026-01-01T00:00:00Z");
        eu.input_versions
            .insert("raw".to_owned(), "raw-eu-1".to_owned());
        let mut us = materialization("us", "r1", "now", "2026-01-01T00:00:00Z");
        us.input_versions
            .insert("raw".to_owned(), "raw-us-1".to_owned());
        let current: BTreeMap<(&str, Option<&str>), &str> = [
            (("raw", Some("eu")), "raw-eu-2"),
            (("raw", Some("us")), "raw-us-1"),
        ]
        .into();
        let refs = [&eu, &us];
        assert_eq!(
            partition_states(&keys, &refs, &[], "now", |m| upstream_moved(m, &current)),
            [PartitionState::Stale, PartitionState::Materialized]
        );
        // An unpartitioned upstream counts for every partition.
        let whole: BTreeMap<(&str, Option<&str>), &str> = [(("raw", None), "raw-all")].into();
        assert_eq!(
            partition_states(&keys, &refs, &[], "now", |m| upstream_moved(m, &whole)),
            [PartitionState::Stale, PartitionState::Stale]
        );
    }
}
