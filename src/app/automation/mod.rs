//! Automation: one evaluation pass over a project's schedules and sensors at an injected `now`.
//! Each due schedule tick or sensor evaluation is a tick stored with its outcome and reason;
//! requested runs are ordinary runs (`app::run::materialize_as`, or the remote submit path),
//! their `trigger` `schedule:NAME` / `sensor:NAME`, each reserved with its run key first so a
//! request is made exactly once — across restarts too. A lease in the workspace says which
//! process (the daemon or a studio) evaluates a project; the pass refuses to run without it.
//!
//! `schedule` evaluates cron ticks with catch-up, `sensor` lists what sensors watch, `request`
//! reserves run keys and starts runs, `lease` keeps the lease alive during a long run.

mod lease;
mod request;
mod schedule;
mod sensor;
pub mod studio;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::AppError;
use crate::model::{AutomationKind, Tick};
pub use crate::store::Lease;
use crate::store::{StoredProject, Workspace};
pub use lease::{LEASE_TTL_SECS, LeaseKeeper, holder_id};

/// Tick retention, applied by each pass: a schedule's or sensor's newest [`TICKS_KEPT`] ticks
/// stay, and so does every tick younger than [`TICKS_KEPT_DAYS`] days.
pub const TICKS_KEPT: usize = 1000;
pub const TICKS_KEPT_DAYS: i64 = 30;

/// The default time between two daemon passes.
pub const DEFAULT_INTERVAL_SECS: u64 = 30;
/// A schedule tick found more than this long after its time was missed (nothing evaluated the
/// schedule then): its schedule's `catch_up` decides whether it runs.
pub const LATE_AFTER_SECS: i64 = 120;

/// What one pass over one project did.
#[derive(Debug, Clone, Serialize)]
pub struct PassReport {
    pub project: String,
    /// Evaluated (this process holds the lease), or who holds it instead.
    pub evaluated: bool,
    pub lease_holder: Option<String>,
    /// The ticks this pass wrote, oldest first.
    pub ticks: Vec<Tick>,
    /// Problems outside any one schedule or sensor (e.g. a freshness evaluation that failed).
    pub problems: Vec<String>,
    /// The alerts of runs that ended without raising them (another process ended them), sent
    /// by this pass.
    pub alerts: Vec<crate::app::alerts::Delivery>,
    /// What the sync of the project's deployment imported (a project set up for `deploy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synced: Option<crate::app::remote::SyncOutcome>,
}

/// What a pass is asked to do.
#[derive(Debug, Clone)]
pub struct PassOptions {
    pub now: DateTime<Utc>,
    /// Who evaluates: [`holder_id`]`("daemon")` or `("studio")`.
    pub holder: String,
    /// Evaluate only this schedule or sensor (the studio's "evaluate now"), ignoring a sensor's
    /// minimum interval.
    pub only: Option<String>,
}

pub(crate) fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What a pass needs while it evaluates one project.
pub(crate) struct Ctx<'a> {
    pub ws: &'a mut Workspace,
    pub stored: &'a StoredProject,
    pub opts: &'a PassOptions,
    pub ticks: Vec<Tick>,
    pub problems: Vec<String>,
}

impl Ctx<'_> {
    pub(crate) fn project(&self) -> &str {
        &self.stored.project.name
    }

    pub(crate) fn wanted(&self, name: &str) -> bool {
        self.opts.only.as_deref().is_none_or(|o| o == name)
    }

    /// Reads back the tick just written, for the report.
    pub(crate) fn remember(&mut self, id: i64, name: &str) -> Result<(), AppError> {
        let project = self.project().to_owned();
        if let Some(t) = self
            .ws
            .ticks(&project, Some(name), 50)?
            .into_iter()
            .find(|t| t.id == id)
        {
            self.ticks.push(t);
        }
        Ok(())
    }
}

/// Whether the workspace's switch, or else the definition, has this automation on.
fn enabled(switches: &std::collections::BTreeMap<String, bool>, name: &str, default: bool) -> bool {
    switches.get(name).copied().unwrap_or(default)
}

/// One pass over a project at `opts.now`: takes (or renews) the lease, starts requests left
/// reserved by a process that stopped, then evaluates every schedule and sensor. Another
/// holder's live lease makes the pass evaluate nothing and say who holds it.
pub fn evaluate_project(
    ws: &mut Workspace,
    project: &str,
    opts: &PassOptions,
) -> Result<PassReport, AppError> {
    let mut report = PassReport {
        project: project.to_owned(),
        evaluated: false,
        lease_holder: None,
        ticks: Vec::new(),
        problems: Vec::new(),
        alerts: Vec::new(),
        synced: None,
    };
    match lease::acquire(ws, project, &opts.holder)? {
        Ok(()) => {}
        Err(lease::HeldBy(holder)) => {
            report.lease_holder = Some(holder);
            return Ok(report);
        }
    }
    report.evaluated = true;
    report.lease_holder = Some(opts.holder.clone());
    let stored = super::load_project(ws, project)?;
    let _keeper = LeaseKeeper::start(ws.path(), project, &opts.holder);
    let mut ctx = Ctx {
        ws,
        stored: &stored,
        opts,
        ticks: Vec::new(),
        problems: Vec::new(),
    };
    request::resume_pending(&mut ctx)?;
    // Executions AWS ran of the project's deployment join the history (their alerts with it).
    if crate::app::remote::is_deployable(&stored.project) {
        match crate::app::remote::sync_project(ctx.ws, &stored, None) {
            Ok(outcome) => report.synced = Some(outcome),
            Err(e) => ctx
                .problems
                .push(format!("the executions on AWS could not be synced: {e}")),
        }
    }
    let switches = ctx.ws.automation_switches(project)?;
    for s in &stored.project.schedules {
        if ctx.wanted(&s.name) && enabled(&switches, &s.name, s.enabled) {
            schedule::evaluate(&mut ctx, s)?;
        }
    }
    for s in &stored.project.sensors {
        if ctx.wanted(&s.name) && enabled(&switches, &s.name, s.enabled) {
            sensor::evaluate(&mut ctx, s)?;
        }
    }
    // Runs of this project that ended without raising their alerts (their process stopped
    // first, or another process ended them) are taken off the outbox once.
    match crate::app::alerts::alert_finished_runs(ctx.ws, Some(project)) {
        Ok(deliveries) => {
            note_failed_deliveries(&mut ctx.problems, &deliveries);
            report.alerts = deliveries;
        }
        Err(e) => ctx.problems.push(format!(
            "the alerts of finished runs could not be raised: {e}"
        )),
    }
    // Freshness once per project and pass: overdue assets raise one alert per episode.
    match crate::app::freshness::evaluate_and_alert(ctx.ws, &stored.project, opts.now) {
        Ok(pass) => note_failed_deliveries(&mut ctx.problems, &pass.deliveries),
        Err(e) => ctx
            .problems
            .push(format!("freshness could not be evaluated: {e}")),
    }
    let before = opts.now - chrono::Duration::days(TICKS_KEPT_DAYS);
    if let Err(e) = ctx.ws.prune_ticks(project, before, TICKS_KEPT) {
        ctx.problems
            .push(format!("old ticks could not be pruned: {e}"));
    }
    report.ticks = ctx.ticks;
    report.problems = ctx.problems;
    Ok(report)
}

/// A schedule or sensor as the studio's panel and `medallion ticks` show it.
#[derive(Debug, Clone, Serialize)]
pub struct AutomationStatus {
    pub name: String,
    pub kind: AutomationKind,
    /// `cron` in `timezone`, or the sensor kind and what it watches.
    pub description: String,
    pub selection: String,
    pub target: String,
    /// On in this workspace (the switch, or else the definition's `enabled`).
    pub enabled: bool,
    /// Whether the switch in the workspace overrides the definition.
    pub switched: bool,
    /// The next cron tick (schedules) or the earliest next evaluation (sensors).
    #[serde(with = "crate::model::time::secs::option")]
    pub next_tick: Option<DateTime<Utc>>,
    /// A schedule's time zone (its cron's hours are in it); `None` for a sensor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    pub cursor: Option<String>,
    #[serde(with = "crate::model::time::secs::option")]
    pub last_evaluated: Option<DateTime<Utc>>,
}

/// Every schedule and sensor of a project with its state at `now`.
pub fn statuses(
    ws: &Workspace,
    stored: &StoredProject,
    now: DateTime<Utc>,
) -> Result<Vec<AutomationStatus>, AppError> {
    let project = &stored.project;
    let switches = ws.automation_switches(&project.name)?;
    let mut out = Vec::new();
    for s in &project.schedules {
        let (cursor, last) = ws.automation_cursor(&project.name, &s.name)?;
        let next = crate::model::automation::CronSchedule::new(&s.cron, &s.timezone)
            .ok()
            .and_then(|c| c.next_after(now));
        out.push(AutomationStatus {
            name: s.name.clone(),
            kind: AutomationKind::Schedule,
            // "every day at 06:00 (UTC) · cron 0 6 * * *": when, in words, and the cron.
            description: format!(
                "{} · cron {}",
                crate::model::automation::cron_in_words(&s.cron, &s.timezone),
                s.cron
            ),
            selection: s.selection.clone(),
            target: s.target.label(),
            enabled: switches.get(&s.name).copied().unwrap_or(s.enabled),
            switched: switches.contains_key(&s.name),
            next_tick: next,
            timezone: Some(s.timezone.clone()),
            cursor,
            last_evaluated: last,
        });
    }
    for s in &project.sensors {
        let (cursor, last) = ws.automation_cursor(&project.name, &s.name)?;
        out.push(AutomationStatus {
            name: s.name.clone(),
            kind: AutomationKind::Sensor,
            description: format!("{}: {}", s.kind.label(), s.kind.watches()),
            selection: s.selection.clone(),
            target: s.target.label(),
            enabled: switches.get(&s.name).copied().unwrap_or(s.enabled),
            switched: switches.contains_key(&s.name),
            next_tick: Some(sensor::next_evaluation(last, s.min_interval_secs, now)),
            timezone: None,
            cursor,
            last_evaluated: last,
        });
    }
    Ok(out)
}

impl AutomationStatus {
    /// A schedule's own time zone when it is not UTC (its name and zone).
    pub fn own_zone(&self) -> Option<(&str, chrono_tz::Tz)> {
        self.timezone
            .as_deref()
            .filter(|z| !matches!(*z, "UTC" | "Etc/UTC"))
            .and_then(|z| {
                crate::model::automation::parse_timezone(z)
                    .ok()
                    .map(|tz| (z, tz))
            })
    }

    /// When the next tick is, for people: in UTC, and for a schedule in another time zone also
    /// there ("2026-12-08 09:00 Europe/Berlin, 08:00 UTC").
    pub fn next_tick_local(&self) -> Option<String> {
        let t = self.next_tick?;
        Some(match self.own_zone() {
            Some((name, tz)) => format!(
                "{} {name}, {}",
                t.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
                t.format("%H:%M UTC")
            ),
            None => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        })
    }
}

/// Turns a schedule or sensor on or off in this workspace.
pub fn set_enabled(
    ws: &mut Workspace,
    stored: &StoredProject,
    name: &str,
    enabled: bool,
) -> Result<(), AppError> {
    let p = &stored.project;
    if !p.schedules.iter().any(|s| s.name == name) && !p.sensors.iter().any(|s| s.name == name) {
        return Err(super::Refusal::UnknownAutomation {
            project: p.name.clone(),
            name: name.to_owned(),
        }
        .into());
    }
    ws.set_automation_switch(&p.name, name, enabled, Utc::now())?;
    Ok(())
}

/// Gives the project's lease back, when `holder` holds it (a daemon that stops, a studio that
/// closes), so another process can take over at once.
pub fn release(ws: &mut Workspace, project: &str, holder: &str) -> Result<(), AppError> {
    ws.release_automation_lease(project, holder)?;
    Ok(())
}

/// Raises `sensor_error` for the project's alert rules (the failed tick holds the sentence
/// either way); a delivery that finally fails is said in the pass's problems.
pub(crate) fn alert_sensor_error(ctx: &mut Ctx<'_>, sensor: &str, message: &str) {
    let event = crate::app::alerts::AlertEvent::SensorError {
        sensor: sensor.to_owned(),
        message: message.to_owned(),
    };
    match crate::app::alerts::raise(ctx.ws, &ctx.stored.project, event, ctx.opts.now) {
        Ok(deliveries) => note_failed_deliveries(&mut ctx.problems, &deliveries),
        Err(e) => ctx.problems.push(format!(
            "the sensor_error alert for {sensor} could not be raised: {e}"
        )),
    }
}

fn note_failed_deliveries(problems: &mut Vec<String>, deliveries: &[crate::app::alerts::Delivery]) {
    for d in deliveries.iter().filter(|d| !d.delivered) {
        problems.push(format!(
            "the {} alert to {} failed after {} attempt(s): {}",
            d.event, d.target, d.attempts, d.answer
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schedule's next tick reads in its own zone too (a 06:00 Berlin schedule is not "05:00"
    /// to its owner), with the date of that zone; UTC ones and sensors say UTC only.
    #[test]
    fn the_next_tick_is_shown_in_the_schedules_own_time_zone() {
        let status = |timezone: Option<&str>, at: &str| AutomationStatus {
            name: "s".into(),
            kind: AutomationKind::Schedule,
            description: String::new(),
            selection: "*".into(),
            target: "local".into(),
            enabled: true,
            switched: false,
            next_tick: Some(at.parse().unwrap()),
            timezone: timezone.map(str::to_owned),
            cursor: None,
            last_evaluated: None,
        };
        let shown = |tz, at| status(tz, at).next_tick_local().unwrap();
        assert_eq!(
            shown(Some("Europe/Berlin"), "2026-12-08T08:00:00Z"),
            "2026-12-08 09:00 Europe/Berlin, 08:00 UTC"
        );
        assert_eq!(
            shown(Some("America/Los_Angeles"), "2026-12-08T05:00:00Z"),
            "2026-12-07 21:00 America/Los_Angeles, 05:00 UTC"
        );
        assert_eq!(
            shown(Some("UTC"), "2026-12-08T08:00:00Z"),
            "2026-12-08 08:00 UTC"
        );
        assert_eq!(shown(None, "2026-12-08T08:00:00Z"), "2026-12-08 08:00 UTC");
    }
}
