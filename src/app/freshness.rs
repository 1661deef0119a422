//! Freshness of a project's assets at a given moment: each asset with a freshness policy is
//! fresh, stale, overdue or unknown, judged from its last materialization recorded in the
//! workspace (`model::freshness::judge` says how). `evaluate` only reads; `evaluate_and_alert`
//! also raises `freshness_overdue` once per overdue episode — the daemon's pass and the studio
//! call it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::AppError;
use super::alerts::{self, AlertEvent, Delivery};
use crate::model::freshness::judge;
use crate::model::{AssetKey, FreshnessState, Project};
use crate::store::Workspace;

/// One asset against its freshness policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetFreshness {
    pub asset: AssetKey,
    pub state: FreshnessState,
    /// One sentence: why.
    pub reason: String,
    pub max_lag_minutes: u64,
    pub cron: Option<String>,
    /// The last materialization at or before the evaluation's clock.
    #[serde(with = "crate::model::time::option")]
    pub last_materialized_at: Option<DateTime<Utc>>,
    pub last_run_id: Option<String>,
    pub overdue_since: Option<DateTime<Utc>>,
    pub next_deadline: Option<DateTime<Utc>>,
}

/// What [`evaluate_and_alert`] found and sent.
#[derive(Debug, Clone, Serialize)]
pub struct FreshnessPass {
    pub assets: Vec<AssetFreshness>,
    /// Deliveries of the overdue alerts raised in this pass (new episodes only).
    pub deliveries: Vec<Delivery>,
}

/// The freshness of every asset of `project` that has a policy, in key order, at `now`.
/// Materializations recorded after `now` are not seen (so a clock set in the past tells what
/// was true then).
pub fn evaluate(
    ws: &Workspace,
    project: &Project,
    now: DateTime<Utc>,
) -> Result<Vec<AssetFreshness>, AppError> {
    let mut last: BTreeMap<AssetKey, (DateTime<Utc>, String)> = BTreeMap::new();
    for (asset, at, run_id) in ws.materialization_times(&project.name)? {
        if at > now {
            continue;
        }
        match last.get(&asset) {
            Some((seen, _)) if *seen >= at => {}
            _ => {
                last.insert(asset, (at, run_id));
            }
        }
    }
    let mut out = Vec::new();
    for asset in &project.assets {
        let Some(policy) = &asset.freshness else {
            continue;
        };
        let found = last.get(&asset.key);
        let verdict = judge(policy, found.map(|(at, _)| *at), now);
        out.push(AssetFreshness {
            asset: asset.key.clone(),
            state: verdict.state,
            reason: verdict.reason,
            max_lag_minutes: policy.max_lag_minutes,
            cron: policy.cron.clone(),
            last_materialized_at: found.map(|(at, _)| *at),
            last_run_id: found.map(|(_, run)| run.clone()),
            overdue_since: verdict.overdue_since,
            next_deadline: verdict.next_deadline,
        });
    }
    out.sort_by(|a, b| a.asset.cmp(&b.asset));
    Ok(out)
}

/// Evaluates freshness at `now` and raises `freshness_overdue` for each asset whose overdue
/// episode (its last materialization being too old) has not been alerted yet. The episode is
/// claimed in the workspace first, so the daemon and the studio never alert it twice; a new
/// materialization starts a new episode.
pub fn evaluate_and_alert(
    ws: &mut Workspace,
    project: &Project,
    now: DateTime<Utc>,
) -> Result<FreshnessPass, AppError> {
    let assets = evaluate(ws, project, now)?;
    let mut deliveries = Vec::new();
    for a in &assets {
        if a.state != FreshnessState::Overdue {
            continue;
        }
        let episode = a.last_materialized_at;
        if !ws.claim_freshness_episode(&project.name, a.asset.as_str(), episode, a.overdue_since)? {
            continue;
        }
        deliveries.extend(alerts::raise(
            ws,
            project,
            AlertEvent::FreshnessOverdue(a.clone()),
            now,
        )?);
    }
    Ok(FreshnessPass { assets, deliveries })
}
