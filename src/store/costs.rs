//! Costs in the workspace: the estimate made before a run step and the actual cost after it
//! (measured duration × the same rates), side by side per run step; and the user's price
//! overrides, which replace shipped figures (or add missing ones) for every project.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::times::{now, stored_time};
use super::{StoreError, Workspace, classify};
use crate::model::RunId;
use crate::model::{AssetKey, ComputeTier, PriceOverride};

/// One side (estimate or actual) of a run step's cost, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepCostRecord {
    pub run_id: RunId,
    pub asset: AssetKey,
    pub partition: Option<String>,
    pub tier: ComputeTier,
    pub vcpu: f64,
    pub memory_mb: u32,
    pub spot: bool,
    pub duration_secs: f64,
    /// `None` when a price was missing (named in `missing_price`).
    pub cost_usd: Option<f64>,
    pub prices_as_of: Option<String>,
    pub missing_price: Option<String>,
}

/// A run step's estimate and actual cost together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepCost {
    pub run_id: RunId,
    pub project: String,
    /// When the run was created (for cost over time).
    #[serde(with = "crate::model::time")]
    pub run_created_at: DateTime<Utc>,
    pub asset: AssetKey,
    pub partition: Option<String>,
    pub tier: ComputeTier,
    pub vcpu: f64,
    pub memory_mb: u32,
    pub spot: bool,
    pub est_duration_secs: Option<f64>,
    pub est_cost_usd: Option<f64>,
    pub actual_duration_secs: Option<f64>,
    pub actual_cost_usd: Option<f64>,
    pub prices_as_of: Option<String>,
    pub missing_price: Option<String>,
}

const STEP_COST_COLUMNS: &str = "c.run_id, p.name, r.created_at, c.asset_key, c.partition_key, c.tier, c.vcpu,
    c.memory_mb, c.spot, c.est_duration_secs, c.est_cost_usd, c.actual_duration_secs, c.actual_cost_usd,
    c.prices_as_of, c.missing_price";

/// A cost row; a bad stored time or tier is an error naming the run and asset.
fn step_cost_from_row(
    path: &Path,
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<StepCost, StoreError>> {
    let partition: String = r.get(4)?;
    let memory_mb: i64 = r.get(7)?;
    let run_id: RunId = r.get(0)?;
    let asset = AssetKey::new(r.get::<_, String>(3)?);
    let created: String = r.get(2)?;
    let run_created_at = match stored_time(
        path,
        || format!("the created_at of run {run_id} (costs of {asset})"),
        &created,
    ) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let tier_name: String = r.get(5)?;
    let Some(tier) = ComputeTier::parse(&tier_name) else {
        return Ok(Err(StoreError::Decode {
            path: path.to_owned(),
            what: format!("the tier of {asset}'s cost in run {run_id}"),
            detail: format!("unknown tier `{tier_name}`"),
        }));
    };
    Ok(Ok(StepCost {
        run_id,
        project: r.get(1)?,
        run_created_at,
        asset,
        partition: (!partition.is_empty()).then_some(partition),
        tier,
        vcpu: r.get(6)?,
        memory_mb: u32::try_from(memory_mb.max(0)).unwrap_or(u32::MAX),
        spot: r.get(8)?,
        est_duration_secs: r.get(9)?,
        est_cost_usd: r.get(10)?,
        actual_duration_secs: r.get(11)?,
        actual_cost_usd: r.get(12)?,
        prices_as_of: r.get(13)?,
        missing_price: r.get(14)?,
    }))
}

/// Records the estimate of a run step (before it runs) through `conn` (a transaction that
/// records the run, so its `run_started` audit entry can carry the estimate); an actual cost
/// already recorded stays.
pub(super) fn record_estimate(
    conn: &rusqlite::Connection,
    path: &Path,
    e: &StepCostRecord,
) -> Result<(), StoreError> {
    upsert_cost(
        conn,
        path,
        e,
        "est_duration_secs, est_cost_usd",
        "est_duration_secs = excluded.est_duration_secs, est_cost_usd = excluded.est_cost_usd,
         missing_price = coalesce(cost_run_steps.missing_price, excluded.missing_price),
         updated_at = excluded.updated_at",
        "record an estimated cost",
    )
}

/// Writes a step's cost row: the record's duration and cost into `measures` (the estimate's
/// columns or the actual ones); a row already there is updated by `on_conflict`.
fn upsert_cost(
    conn: &rusqlite::Connection,
    path: &Path,
    r: &StepCostRecord,
    measures: &str,
    on_conflict: &str,
    what: &'static str,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO cost_run_steps (run_id, asset_key, partition_key, tier, vcpu, memory_mb,
            spot, {measures}, prices_as_of, missing_price, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (run_id, asset_key, partition_key) DO UPDATE SET {on_conflict}"
    );
    conn.execute(
        &sql,
        params![
            r.run_id,
            r.asset.as_str(),
            r.partition.as_deref().unwrap_or(""),
            r.tier.as_str(),
            r.vcpu,
            i64::from(r.memory_mb),
            r.spot,
            r.duration_secs,
            r.cost_usd,
            r.prices_as_of,
            r.missing_price,
            now()
        ],
    )
    .map_err(|err| classify(path, what, err))?;
    Ok(())
}

impl Workspace {
    /// Records the estimate of a run step (before it runs); an actual cost already recorded
    /// stays.
    pub fn record_estimated_cost(&mut self, e: &StepCostRecord) -> Result<(), StoreError> {
        record_estimate(&self.conn, &self.path, e)
    }

    /// Records what a run step actually cost: its measured duration priced at the rates of the
    /// tier it ran on. The estimate made before it stays beside it.
    pub fn record_actual_cost(&mut self, a: &StepCostRecord) -> Result<(), StoreError> {
        self.upsert_cost(
            a,
            "actual_duration_secs, actual_cost_usd",
            "tier = excluded.tier, vcpu = excluded.vcpu, memory_mb = excluded.memory_mb,
             spot = excluded.spot, actual_duration_secs = excluded.actual_duration_secs,
             actual_cost_usd = excluded.actual_cost_usd, prices_as_of = excluded.prices_as_of,
             missing_price = excluded.missing_price, updated_at = excluded.updated_at",
            "record an actual cost",
        )
    }

    /// Adds a part of a run step's actual cost (one partition of a backfill run as its own
    /// step) to what is recorded under the same key; a part without a price leaves the sum
    /// as it is and names the missing price.
    pub fn add_actual_cost(&mut self, a: &StepCostRecord) -> Result<(), StoreError> {
        self.upsert_cost(
            a,
            "actual_duration_secs, actual_cost_usd",
            "tier = excluded.tier, vcpu = excluded.vcpu, memory_mb = excluded.memory_mb,
             spot = excluded.spot,
             actual_duration_secs = coalesce(cost_run_steps.actual_duration_secs, 0)
                 + excluded.actual_duration_secs,
             actual_cost_usd = CASE WHEN excluded.actual_cost_usd IS NULL
                 THEN cost_run_steps.actual_cost_usd
                 ELSE coalesce(cost_run_steps.actual_cost_usd, 0) + excluded.actual_cost_usd END,
             prices_as_of = excluded.prices_as_of,
             missing_price = coalesce(excluded.missing_price, cost_run_steps.missing_price),
             updated_at = excluded.updated_at",
            "add to an actual cost",
        )
    }

    /// Writes a step's cost row: the record's duration and cost into `measures` (the estimate's
    /// columns or the actual ones); a row already there is updated by `on_conflict`.
    fn upsert_cost(
        &mut self,
        r: &StepCostRecord,
        measures: &str,
        on_conflict: &str,
        what: &'static str,
    ) -> Result<(), StoreError> {
        upsert_cost(&self.conn, &self.path, r, measures, on_conflict, what)
    }

    /// The costs of one run's steps.
    pub fn run_costs(&self, run_id: &RunId) -> Result<Vec<StepCost>, StoreError> {
        self.step_costs("c.run_id = ?1", run_id)
    }

    /// Every recorded step cost of a project, oldest run first (cost over time).
    pub fn project_costs(&self, project: &str) -> Result<Vec<StepCost>, StoreError> {
        self.step_costs("p.name = ?1", project)
    }

    fn step_costs(&self, condition: &str, value: &str) -> Result<Vec<StepCost>, StoreError> {
        let sql = format!(
            "SELECT {STEP_COST_COLUMNS} FROM cost_run_steps c JOIN runs r ON r.id = c.run_id
             JOIN projects p ON p.id = r.project_id WHERE {condition}
             ORDER BY r.created_at, c.run_id, c.asset_key, c.partition_key"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(|e| classify(&self.path, "load costs", e))?;
        let rows: Vec<Result<StepCost, StoreError>> = stmt
            .query_map([value], |r| step_cost_from_row(&self.path, r))
            .and_then(Iterator::collect)
            .map_err(|e| classify(&self.path, "load costs", e))?;
        rows.into_iter().collect()
    }

    /// The user's price overrides, by id.
    pub fn price_overrides(&self) -> Result<Vec<PriceOverride>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT price_id, usd, edited_on, item FROM price_overrides ORDER BY price_id",
            )
            .map_err(|e| classify(&self.path, "load price overrides", e))?;
        stmt.query_map([], |r| {
            Ok(PriceOverride {
                id: r.get(0)?,
                usd: r.get(1)?,
                edited_on: r.get(2)?,
                item: r.get(3)?,
            })
        })
        .and_then(Iterator::collect)
        .map_err(|e| classify(&self.path, "load price overrides", e))
    }

    /// Stores (or replaces) the user's figure for one price.
    pub fn set_price_override(&mut self, o: &PriceOverride) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO price_overrides (price_id, usd, item, edited_on) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (price_id) DO UPDATE SET usd = excluded.usd, item = coalesce(excluded.item, price_overrides.item),
                    edited_on = excluded.edited_on",
                params![o.id, o.usd, o.item, o.edited_on],
            )
            .map_err(|e| classify(&self.path, "save a price", e))?;
        Ok(())
    }

    /// Goes back to the shipped figure; false when there was no override.
    pub fn clear_price_override(&mut self, id: &str) -> Result<bool, StoreError> {
        let existed: Option<i64> = self
            .conn
            .query_row(
                "SELECT 1 FROM price_overrides WHERE price_id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| classify(&self.path, "reset a price", e))?;
        self.conn
            .execute("DELETE FROM price_overrides WHERE price_id = ?1", [id])
            .map_err(|e| classify(&self.path, "reset a price", e))?;
        Ok(existed.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Project, RunRecord, RunStatus};

    fn workspace() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("ws.sqlite")).unwrap();
        ws.save_project(&Project::new("p"), None).unwrap();
        for (id, at) in [
            ("r1", "2026-11-01T00:00:00Z"),
            ("r2", "2026-11-02T00:00:00Z"),
        ] {
            ws.create_run(&RunRecord {
                id: id.into(),
                project: "p".into(),
                selection: "*".into(),
                partition: None,
                target: "fargate".into(),
                status: RunStatus::Success,
                trigger: "test".into(),
                created_at: at.parse().unwrap(),
                started_at: None,
                ended_at: None,
                error: None,
                allow_failed_upstream: false,
                checks_only: false,
                end_known: true,
            })
            .unwrap();
        }
        (dir, ws)
    }

    fn record(run: &str, secs: f64, usd: Option<f64>) -> StepCostRecord {
        StepCostRecord {
            run_id: run.into(),
            asset: AssetKey::new("a"),
            partition: None,
            tier: ComputeTier::Fargate,
            vcpu: 1.0,
            memory_mb: 2048,
            spot: false,
            duration_secs: secs,
            cost_usd: usd,
            prices_as_of: Some("2026-11-26".into()),
            missing_price: None,
        }
    }

    #[test]
    fn parts_of_a_backfill_add_up_beside_its_estimate() {
        let (_dir, mut ws) = workspace();
        ws.record_estimated_cost(&record("r1", 100.0, Some(0.01)))
            .unwrap();
        ws.add_actual_cost(&record("r1", 40.0, Some(0.004)))
            .unwrap();
        ws.add_actual_cost(&record("r1", 60.0, Some(0.006)))
            .unwrap();
        let costs = ws.run_costs(&"r1".into()).unwrap();
        assert_eq!(costs.len(), 1);
        let c = &costs[0];
        assert_eq!(c.est_cost_usd, Some(0.01));
        assert_eq!(c.actual_duration_secs, Some(100.0));
        assert!((c.actual_cost_usd.unwrap() - 0.01).abs() < 1e-12);
    }

    #[test]
    fn estimate_and_actual_sit_side_by_side_per_run_step() {
        let (_dir, mut ws) = workspace();
        ws.record_estimated_cost(&record("r1", 100.0, Some(0.01)))
            .unwrap();
        ws.record_actual_cost(&record("r1", 150.0, Some(0.015)))
            .unwrap();
        // Estimating again later does not lose the actual.
        ws.record_estimated_cost(&record("r1", 90.0, Some(0.009)))
            .unwrap();
        let mut missing = record("r2", 10.0, None);
        missing.tier = ComputeTier::Eks;
        missing.missing_price = Some("ec2.m6i.large.hour".into());
        ws.record_actual_cost(&missing).unwrap();
        let costs = ws.run_costs(&"r1".into()).unwrap();
        assert_eq!(costs.len(), 1);
        let c = &costs[0];
        assert_eq!(c.est_duration_secs, Some(90.0));
        assert_eq!(c.est_cost_usd, Some(0.009));
        assert_eq!(c.actual_duration_secs, Some(150.0));
        assert_eq!(c.actual_cost_usd, Some(0.015));
        let all = ws.project_costs("p").unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].run_id, "r1", "oldest first");
        assert_eq!(all[1].tier, ComputeTier::Eks);
        assert_eq!(all[1].actual_cost_usd, None);
        assert_eq!(all[1].missing_price.as_deref(), Some("ec2.m6i.large.hour"));
    }

    #[test]
    fn price_overrides_are_kept_replaced_and_reset() {
        let (_dir, mut ws) = workspace();
        assert!(ws.price_overrides().unwrap().is_empty());
        let o = PriceOverride {
            id: "fargate.vcpu_hour".into(),
            usd: 0.05,
            edited_on: "2026-11-26".into(),
            item: None,
        };
        ws.set_price_override(&o).unwrap();
        ws.set_price_override(&PriceOverride {
            usd: 0.06,
            ..o.clone()
        })
        .unwrap();
        let all = ws.price_overrides().unwrap();
        assert_eq!(all.len(), 1);
        assert!((all[0].usd - 0.06).abs() < 1e-12);
        assert!(ws.clear_price_override("fargate.vcpu_hour").unwrap());
        assert!(!ws.clear_price_override("fargate.vcpu_hour").unwrap());
        // A negative figure never reaches the table.
        assert!(
            ws.set_price_override(&PriceOverride { usd: -1.0, ..o })
                .is_err()
        );
    }
}
