//! A schedule's pass: the cron ticks in its time zone between its cursor and `now`. Ticks at
//! most [`LATE_AFTER_SECS`] old are on time and each requests a run; older ones were missed
//! (nothing evaluated the schedule then) and its `catch_up` decides: none, the latest, or each
//! up to a bound — the rest are one skipped tick that says how many and from when to when.
//! A schedule seen for the first time starts a minute before `now` (no backfill from the past).

use chrono::{DateTime, Duration, Utc};

use super::request::{Request, request};
use super::{Ctx, LATE_AFTER_SECS, stamp};
use crate::app::AppError;
use crate::model::automation::{CatchUp, CronSchedule, catch_up_ticks};
use crate::model::{AutomationKind, ScheduleDefinition, TickOutcome};
use crate::store::NewTick;

/// The most ticks one pass looks at (older ones are counted as skipped).
const MAX_TICKS: usize = 1000;

pub(super) fn evaluate(ctx: &mut Ctx<'_>, s: &ScheduleDefinition) -> Result<(), AppError> {
    let now = ctx.opts.now;
    let project = ctx.project().to_owned();
    let cron = match CronSchedule::new(&s.cron, &s.timezone) {
        Ok(c) => c,
        Err(e) => return failed(ctx, s, now, &e.to_string()),
    };
    let (cursor, _) = ctx.ws.automation_cursor(&project, &s.name)?;
    let after = match cursor.as_deref().map(DateTime::parse_from_rfc3339) {
        Some(Ok(t)) => t.with_timezone(&Utc),
        // First sight (or an unreadable cursor): start a minute ago.
        _ => now - Duration::seconds(60),
    };
    if now <= after {
        return Ok(());
    }
    let (ticks, older) = cron.ticks_between(after, now, MAX_TICKS);
    let Some(&last) = ticks.last() else {
        if cursor.is_none() {
            ctx.ws
                .set_automation_cursor(&project, &s.name, &stamp(now), now)?;
        }
        return Ok(());
    };
    let late = now - Duration::seconds(LATE_AFTER_SECS);
    let (missed, on_time): (Vec<_>, Vec<_>) = ticks.iter().partition(|t| **t < late);
    let policy = match s.catch_up {
        // The latest missed tick is not needed when an on-time tick runs anyway.
        CatchUp::Latest if !on_time.is_empty() => CatchUp::Skip,
        other => other,
    };
    let (run_missed, skipped) = catch_up_ticks(&missed, policy);
    let skipped_count = skipped.len() as u64 + older;
    if skipped_count > 0 {
        record_skipped(ctx, s, &skipped, skipped_count, after)?;
    }
    for t in run_missed.into_iter().chain(on_time) {
        let partition = s.partition.key_for(t, cron.timezone(), None);
        let detail = if t < late {
            format!(" (a missed tick, run by catch_up = {})", s.catch_up.label())
        } else {
            String::new()
        };
        request(
            ctx,
            &Request {
                automation: &s.name,
                kind: AutomationKind::Schedule,
                tick_at: t,
                run_key: stamp(t),
                partition,
                selection: &s.selection,
                target: &s.target,
                cursor: Some(stamp(t)),
                detail,
            },
        )?;
    }
    debug_assert!(last <= now);
    Ok(())
}

/// Records the ticks `catch_up` does not run (and those beyond [`MAX_TICKS`]) as one skipped
/// tick that says how many and from when to when.
fn record_skipped(
    ctx: &mut Ctx<'_>,
    s: &ScheduleDefinition,
    skipped: &[DateTime<Utc>],
    skipped_count: u64,
    after: DateTime<Utc>,
) -> Result<(), AppError> {
    let now = ctx.opts.now;
    let project = ctx.project().to_owned();
    let first = skipped.first().copied();
    let last_skipped = skipped.last().copied().unwrap_or(after);
    let range = match first {
        Some(f) if f != last_skipped => {
            format!(" from {} to {}", stamp(f), stamp(last_skipped))
        }
        Some(f) => format!(" at {}", stamp(f)),
        None => String::new(),
    };
    let tick = NewTick {
        project: &project,
        automation: &s.name,
        kind: AutomationKind::Schedule,
        tick_at: last_skipped,
        evaluated_at: now,
        outcome: TickOutcome::Skipped,
        reason: format!(
            "skipped: {skipped_count} missed tick(s){range} while nothing evaluated the schedule (catch_up = {})",
            s.catch_up.label()
        ),
        run_id: None,
        run_key: None,
        holder: &ctx.opts.holder,
    };
    let cursor = stamp(last_skipped);
    let id = ctx.ws.record_tick(&tick, Some(&cursor))?;
    ctx.remember(id, &s.name)?;
    Ok(())
}

fn failed(
    ctx: &mut Ctx<'_>,
    s: &ScheduleDefinition,
    now: DateTime<Utc>,
    message: &str,
) -> Result<(), AppError> {
    let project = ctx.project().to_owned();
    let tick = NewTick {
        project: &project,
        automation: &s.name,
        kind: AutomationKind::Schedule,
        tick_at: now,
        evaluated_at: now,
        outcome: TickOutcome::Failed,
        reason: format!("failed: {message}"),
        run_id: None,
        run_key: None,
        holder: &ctx.opts.holder,
    };
    let id = ctx.ws.record_tick(&tick, None)?;
    ctx.remember(id, &s.name)
}
