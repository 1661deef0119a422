//! Judging an asset's freshness policy from its last successful materialization and a clock
//! (the clock is a parameter, so tests and `medallion daemon --now` can travel in time).
//!
//! - Without a cron: the data may be at most `max_lag_minutes` old; older is **overdue**.
//! - With a cron (UTC): at each cron tick `T` the data must have been materialized at or after
//!   `T - max_lag` (Dagster's legacy `FreshnessPolicy`). A tick missed is **overdue**; data older
//!   than the lag whose next tick has not come yet is **stale** — it becomes overdue at that tick
//!   unless it is materialized before.
//! - Never materialized (or a policy that cannot be read): **unknown**, never a guess.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::model::asset::FreshnessPolicy;
use crate::model::run::format_duration_ms;
use crate::model::validate::CronError;

/// The state of an asset against its freshness policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreshnessState {
    Fresh,
    Stale,
    Overdue,
    Unknown,
}

impl FreshnessState {
    pub fn as_str(self) -> &'static str {
        match self {
            FreshnessState::Fresh => "fresh",
            FreshnessState::Stale => "stale",
            FreshnessState::Overdue => "overdue",
            FreshnessState::Unknown => "unknown",
        }
    }
}

/// A state with its reason and the times that decide it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreshnessVerdict {
    pub state: FreshnessState,
    /// One sentence: why.
    pub reason: String,
    /// When it became overdue (the deadline missed).
    pub overdue_since: Option<DateTime<Utc>>,
    /// The next moment the data must be fresh by (a cron tick, or last materialization + lag).
    pub next_deadline: Option<DateTime<Utc>>,
}

fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let ms = (now - then).num_milliseconds().max(0);
    format_duration_ms(u64::try_from(ms).unwrap_or(0))
}

fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The first cron tick strictly after `after` (UTC).
fn next_tick(cron: &str, after: DateTime<Utc>) -> Result<DateTime<Utc>, CronError> {
    let parsed = croner::Cron::new(cron)
        .parse()
        .map_err(|e| CronError::Invalid {
            expr: cron.to_owned(),
            detail: e.to_string(),
        })?;
    parsed
        .find_next_occurrence(&after, false)
        .map_err(|e| CronError::NoNextTime {
            expr: cron.to_owned(),
            detail: e.to_string(),
        })
}

/// Judges `policy` at `now`, given the time of the last successful materialization.
pub fn judge(
    policy: &FreshnessPolicy,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> FreshnessVerdict {
    let lag_minutes = i64::try_from(policy.max_lag_minutes).unwrap_or(i64::MAX / 60_000);
    let lag = Duration::minutes(lag_minutes);
    let lag_text = format_duration_ms(policy.max_lag_minutes.saturating_mul(60_000));
    let Some(last) = last else {
        return FreshnessVerdict {
            state: FreshnessState::Unknown,
            reason: "never materialized successfully: there is no data to judge".to_owned(),
            overdue_since: None,
            next_deadline: None,
        };
    };
    let age = ago(now, last);
    let facts = Facts {
        last,
        now,
        lag,
        lag_text,
        age,
    };
    match &policy.cron {
        None => facts.by_lag(),
        Some(cron) => facts.by_cron(cron),
    }
}

/// What a verdict is made from: the last success, now, the allowed lag (and both as text).
struct Facts {
    last: DateTime<Utc>,
    now: DateTime<Utc>,
    lag: Duration,
    lag_text: String,
    age: String,
}

fn verdict(
    state: FreshnessState,
    reason: String,
    overdue_since: Option<DateTime<Utc>>,
    next_deadline: Option<DateTime<Utc>>,
) -> FreshnessVerdict {
    FreshnessVerdict {
        state,
        reason,
        overdue_since,
        next_deadline,
    }
}

impl Facts {
    /// Without a cron: overdue once the lag has passed since the last success.
    fn by_lag(&self) -> FreshnessVerdict {
        let Facts {
            last,
            now,
            lag,
            lag_text,
            age,
        } = self;
        let deadline = *last + *lag;
        if *now > deadline {
            verdict(
                FreshnessState::Overdue,
                format!(
                    "last materialized {age} ago ({}), more than the allowed {lag_text}; overdue since {}",
                    at(*last),
                    at(deadline)
                ),
                Some(deadline),
                None,
            )
        } else {
            verdict(
                FreshnessState::Fresh,
                format!("last materialized {age} ago, within {lag_text}"),
                None,
                Some(deadline),
            )
        }
    }

    /// With a cron: each tick wants data at most the lag old; overdue once a tick passed that
    /// the last success cannot satisfy, stale while older than the lag before that tick.
    fn by_cron(&self, cron: &str) -> FreshnessVerdict {
        let Facts {
            last,
            now,
            lag,
            lag_text,
            age,
        } = self;
        let (last, now, lag) = (*last, *now, *lag);
        // The first tick the last materialization cannot satisfy: any tick T with T - lag > last.
        let first_unmet = match next_tick(cron, last + lag) {
            Ok(t) => t,
            Err(e) => {
                return verdict(FreshnessState::Unknown, e.to_string(), None, None);
            }
        };
        if first_unmet <= now {
            verdict(
                FreshnessState::Overdue,
                format!(
                    "last materialized {age} ago ({}); the deadline {} (`{cron}`) wanted data from {} or later",
                    at(last),
                    at(first_unmet),
                    at(first_unmet - lag)
                ),
                Some(first_unmet),
                None,
            )
        } else if now - last > lag {
            verdict(
                FreshnessState::Stale,
                format!(
                    "last materialized {age} ago, more than {lag_text}; overdue at {} (`{cron}`) unless materialized before",
                    at(first_unmet)
                ),
                None,
                Some(first_unmet),
            )
        } else {
            verdict(
                FreshnessState::Fresh,
                format!(
                    "last materialized {age} ago, within {lag_text}; next deadline it must meet {}",
                    at(first_unmet)
                ),
                None,
                Some(first_unmet),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn policy(lag: u64, cron: Option<&str>) -> FreshnessPolicy {
        FreshnessPolicy {
            max_lag_minutes: lag,
            cron: cron.map(str::to_owned),
        }
    }

    #[test]
    fn max_lag_alone_is_fresh_then_overdue() {
        let p = policy(60, None);
        let last = t("2026-01-01T10:00:00Z");
        let v = judge(&p, Some(last), t("2026-01-01T10:59:00Z"));
        assert_eq!(v.state, FreshnessState::Fresh, "{}", v.reason);
        let v = judge(&p, Some(last), t("2026-01-01T11:01:00Z"));
        assert_eq!(v.state, FreshnessState::Overdue, "{}", v.reason);
        assert_eq!(v.overdue_since, Some(t("2026-01-01T11:00:00Z")));
        assert!(v.reason.contains("1 h 1 min ago"), "{}", v.reason);
    }

    #[test]
    fn a_cron_deadline_makes_late_data_stale_until_the_tick() {
        // Fresh by 06:00 UTC with at most an hour of lag: data from 05:00 or later.
        let p = policy(60, Some("0 6 * * *"));
        let last = t("2026-01-01T05:30:00Z");
        assert_eq!(
            judge(&p, Some(last), t("2026-01-01T06:10:00Z")).state,
            FreshnessState::Fresh
        );
        let v = judge(&p, Some(last), t("2026-01-01T12:00:00Z"));
        assert_eq!(v.state, FreshnessState::Stale, "{}", v.reason);
        assert_eq!(v.next_deadline, Some(t("2026-01-02T06:00:00Z")));
        let v = judge(&p, Some(last), t("2026-01-02T06:00:01Z"));
        assert_eq!(v.state, FreshnessState::Overdue, "{}", v.reason);
        assert_eq!(v.overdue_since, Some(t("2026-01-02T06:00:00Z")));
    }

    #[test]
    fn never_materialized_or_a_bad_cron_is_unknown() {
        let now = t("2026-01-01T00:00:00Z");
        assert_eq!(
            judge(&policy(5, None), None, now).state,
            FreshnessState::Unknown
        );
        let v = judge(&policy(5, Some("nonsense")), Some(now), now);
        assert_eq!(v.state, FreshnessState::Unknown);
        assert!(v.reason.contains("nonsense"), "{}", v.reason);
    }
}
