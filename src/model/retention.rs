//! Retention of run history (`[retention]` in `medallion.toml`): which finished runs' rows — the
//! run, its events, check evaluations, costs and the rows of its removed files — may go. A run
//! stays while it is among the newest `keep_runs`, younger than `keep_days` (`keep_failed_days`
//! for a failed or canceled run), unfinished, or needed by what is kept. The files of
//! materializations have their own rule (`medallion gc --keep`).

use chrono::{DateTime, Utc};

use super::run::RunId;

/// How long run history is kept. The defaults keep the newest 100 runs and everything from the
/// last 30 days, failed runs 90 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RunRetention {
    /// False keeps every run forever.
    pub enabled: bool,
    /// The newest runs of the project kept whatever their age (at least 1).
    pub keep_runs: u32,
    /// Runs younger than this many days are kept.
    pub keep_days: u32,
    /// A failed or canceled run is kept this many days (at least `keep_days`).
    pub keep_failed_days: u32,
}

impl Default for RunRetention {
    fn default() -> Self {
        Self {
            enabled: true,
            keep_runs: 100,
            keep_days: 30,
            keep_failed_days: 90,
        }
    }
}

impl RunRetention {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// What is wrong with the settings, as one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.keep_runs == 0 {
            out.push(
                "keep_runs must be at least 1 (the newest run is always kept); to keep every run, set enabled = false"
                    .to_owned(),
            );
        }
        if self.keep_failed_days < self.keep_days {
            out.push(format!(
                "keep_failed_days ({}) must be at least keep_days ({}): failed runs are kept longer, not shorter",
                self.keep_failed_days, self.keep_days
            ));
        }
        out
    }
}

/// What retention knows of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFacts {
    pub id: RunId,
    pub created_at: DateTime<Utc>,
    pub finished: bool,
    /// Ended failed or canceled.
    pub failed: bool,
    /// Why something kept needs it (a kept materialization file, the newest result of a
    /// check, an alert not yet sent); `None` when nothing does.
    pub needed_by: Option<String>,
}

/// A run whose history goes, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunExpiry {
    pub run_id: RunId,
    pub reason: String,
}

/// The runs (given newest first) whose history goes at `now`.
pub fn expired_runs(
    policy: &RunRetention,
    runs: &[RunFacts],
    now: DateTime<Utc>,
) -> Vec<RunExpiry> {
    if !policy.enabled {
        return Vec::new();
    }
    let keep_runs = usize::try_from(policy.keep_runs.max(1)).unwrap_or(usize::MAX);
    runs.iter()
        .skip(keep_runs)
        .filter(|r| r.finished && r.needed_by.is_none())
        .filter_map(|r| {
            let days = if r.failed {
                policy.keep_failed_days
            } else {
                policy.keep_days
            };
            let limit = chrono::Duration::days(i64::from(days));
            (now.signed_duration_since(r.created_at) >= limit).then(|| RunExpiry {
                run_id: r.id.clone(),
                reason: format!(
                    "older than {days} days{} and not among the newest {} runs",
                    if r.failed { " (failed runs)" } else { "" },
                    policy.keep_runs
                ),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, days_old: i64, finished: bool, failed: bool, needed: bool) -> RunFacts {
        let now = crate::model::time::parse("2026-12-06T12:00:00Z").unwrap();
        RunFacts {
            id: id.into(),
            created_at: now - chrono::Duration::days(days_old),
            finished,
            failed,
            needed_by: needed.then(|| "a kept file".to_owned()),
        }
    }

    #[test]
    fn count_age_failure_need_and_unfinished_each_keep_a_run() {
        let now = crate::model::time::parse("2026-12-06T12:00:00Z").unwrap();
        let policy = RunRetention {
            enabled: true,
            keep_runs: 2,
            keep_days: 30,
            keep_failed_days: 90,
        };
        let runs = [
            run("newest", 400, true, false, false),
            run("second", 400, true, false, false),
            run("young", 29, true, false, false),
            run("old", 31, true, false, false),
            run("failed-young", 60, true, true, false),
            run("failed-old", 91, true, true, false),
            run("needed", 400, true, false, true),
            run("open", 400, false, false, false),
        ];
        let gone: Vec<String> = expired_runs(&policy, &runs, now)
            .into_iter()
            .map(|e| e.run_id.to_string())
            .collect();
        assert_eq!(gone, ["old", "failed-old"]);
        let off = RunRetention {
            enabled: false,
            ..policy
        };
        assert!(expired_runs(&off, &runs, now).is_empty());
    }

    #[test]
    fn settings_that_make_no_sense_are_said() {
        let bad = RunRetention {
            keep_runs: 0,
            keep_failed_days: 7,
            ..RunRetention::default()
        };
        assert_eq!(bad.problems().len(), 2, "{:?}", bad.problems());
        assert!(RunRetention::default().problems().is_empty());
    }
}
