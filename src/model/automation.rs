//! Automation definitions: cron schedules and sensors that request runs without a person pressing
//! a button (Dagster's `ScheduleDefinition` and `SensorDefinition`), and the pure rules that
//! evaluate them — the cron ticks due between two instants in a time zone, which missed ticks a
//! catch-up policy runs, which partition a tick asks for, and which listed items are new since a
//! sensor's cursor. No I/O: the app reads the world and the workspace, and asks these rules.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::asset::AssetKey;

/// Why an automation setting cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AutomationError {
    #[error("`{0}` is not an IANA time zone name (e.g. UTC, Europe/Berlin, America/New_York)")]
    TimeZone(String),
    #[error(transparent)]
    Cron(#[from] super::validate::CronError),
    #[error("partition `{0}` is not one of tick_date, previous_day, upstream or key:KEY")]
    Partition(String),
}

/// The default minimum interval between two evaluations of a sensor, in seconds.
pub const DEFAULT_MIN_INTERVAL_SECS: u64 = 30;
/// The default bound of `catch_up = "each"`.
pub const DEFAULT_CATCH_UP_MAX: u32 = 10;

/// A cron schedule that requests runs of a selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleDefinition {
    pub name: String,
    /// Five-field cron expression, e.g. `0 6 * * *`.
    pub cron: String,
    /// Asset selection in the selection syntax, e.g. `layer:gold` or `+daily_revenue`.
    pub selection: String,
    /// Whether the schedule runs when the workspace has not said otherwise (the studio's on/off
    /// switch is kept in the workspace and wins over this default).
    pub enabled: bool,
    /// The IANA time zone the cron expression is read in, e.g. `Europe/Berlin`.
    #[serde(default = "utc_name")]
    pub timezone: String,
    #[serde(default)]
    pub partition: PartitionChoice,
    #[serde(default)]
    pub catch_up: CatchUp,
    #[serde(default)]
    pub target: RunTarget,
}

fn utc_name() -> String {
    "UTC".to_owned()
}

impl ScheduleDefinition {
    /// An enabled schedule in UTC that runs the latest missed tick, locally, unpartitioned.
    pub fn new(name: &str, cron: &str, selection: &str) -> Self {
        Self {
            name: name.to_owned(),
            cron: cron.to_owned(),
            selection: selection.to_owned(),
            enabled: true,
            timezone: utc_name(),
            partition: PartitionChoice::default(),
            catch_up: CatchUp::default(),
            target: RunTarget::default(),
        }
    }
}

/// Which partition a requested run materializes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionChoice {
    /// No partition: an unpartitioned run.
    #[default]
    None,
    /// The daily partition of the tick's date (in the schedule's time zone).
    TickDate,
    /// The daily partition of the day before the tick (a nightly run for the day that ended).
    PreviousDay,
    /// Always this partition key.
    Key(String),
    /// The partition the upstream materialization wrote (`asset_materialized` sensors only).
    Upstream,
}

impl PartitionChoice {
    /// The file form: `tick_date`, `previous_day`, `upstream`, or `key:KEY`.
    pub fn as_file(&self) -> Option<String> {
        match self {
            PartitionChoice::None => None,
            PartitionChoice::TickDate => Some("tick_date".into()),
            PartitionChoice::PreviousDay => Some("previous_day".into()),
            PartitionChoice::Upstream => Some("upstream".into()),
            PartitionChoice::Key(k) => Some(format!("key:{k}")),
        }
    }

    pub fn parse(s: &str) -> Result<Self, AutomationError> {
        match s {
            "tick_date" => Ok(PartitionChoice::TickDate),
            "previous_day" => Ok(PartitionChoice::PreviousDay),
            "upstream" => Ok(PartitionChoice::Upstream),
            other => match other.strip_prefix("key:") {
                Some(k) if !k.is_empty() => Ok(PartitionChoice::Key(k.to_owned())),
                _ => Err(AutomationError::Partition(other.to_owned())),
            },
        }
    }

    /// The partition key for a tick at `tick` in `tz`; `upstream` is the partition of the
    /// materialization that triggered the request.
    pub fn key_for(&self, tick: DateTime<Utc>, tz: Tz, upstream: Option<&str>) -> Option<String> {
        let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
        let local = tick.with_timezone(&tz).date_naive();
        match self {
            PartitionChoice::None => None,
            PartitionChoice::TickDate => Some(day(local)),
            PartitionChoice::PreviousDay => local.pred_opt().map(day),
            PartitionChoice::Key(k) => Some(k.clone()),
            PartitionChoice::Upstream => upstream.map(str::to_owned),
        }
    }
}

/// What a schedule does about ticks it missed while nothing evaluated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Run none of the missed ticks; wait for the next one.
    Skip,
    /// Run only the latest missed tick (Dagster's default).
    #[default]
    Latest,
    /// Run each missed tick, oldest first, up to this many (the most recent ones).
    Each { max: u32 },
}

impl CatchUp {
    pub fn label(self) -> String {
        match self {
            CatchUp::Skip => "skip".into(),
            CatchUp::Latest => "latest".into(),
            CatchUp::Each { max } => format!("each (up to {max})"),
        }
    }
}

/// Where a requested run runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunTarget {
    /// The local engine, like `medallion materialize`.
    #[default]
    Local,
    /// On AWS through the remote-run path, with this `aws` resource (or the first with a
    /// compute section).
    Remote { resource: Option<String> },
}

impl RunTarget {
    pub fn label(&self) -> String {
        match self {
            RunTarget::Local => "local".into(),
            RunTarget::Remote { resource: None } => "remote".into(),
            RunTarget::Remote { resource: Some(r) } => format!("remote ({r})"),
        }
    }
}

/// A sensor: looks at the world every `min_interval_secs` at most and requests runs for what
/// is new since its cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorDefinition {
    pub name: String,
    pub kind: SensorKind,
    pub selection: String,
    pub min_interval_secs: u64,
    pub enabled: bool,
    /// One run per new item, or one run for all new items of an evaluation.
    pub per: RequestPer,
    pub partition: PartitionChoice,
    pub target: RunTarget,
}

/// One run per new object, or one per evaluation that found new objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestPer {
    #[default]
    Object,
    Batch,
}

/// What a sensor watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorKind {
    /// Objects under a prefix of an `s3` resource's bucket, optionally matching a regex.
    S3Objects {
        resource: String,
        prefix: String,
        pattern: Option<String>,
    },
    /// Local files matching a glob (relative to the project directory).
    Files { glob: String },
    /// New materializations of an asset of a project (often another project's).
    AssetMaterialized { project: String, asset: AssetKey },
}

impl SensorKind {
    pub fn label(&self) -> &'static str {
        match self {
            SensorKind::S3Objects { .. } => "s3_objects",
            SensorKind::Files { .. } => "files",
            SensorKind::AssetMaterialized { .. } => "asset_materialized",
        }
    }

    /// What it watches, in a few words.
    pub fn watches(&self) -> String {
        match self {
            SensorKind::S3Objects {
                resource,
                prefix,
                pattern,
            } => format!(
                "objects under `{prefix}` of resource `{resource}`{}",
                pattern
                    .as_ref()
                    .map(|p| format!(" matching `{p}`"))
                    .unwrap_or_default()
            ),
            SensorKind::Files { glob } => format!("files matching `{glob}`"),
            SensorKind::AssetMaterialized { project, asset } => {
                format!("materializations of {project}/{asset}")
            }
        }
    }
}

/// Whether a tick belongs to a schedule or a sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutomationKind {
    Schedule,
    Sensor,
}

impl AutomationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AutomationKind::Schedule => "schedule",
            AutomationKind::Sensor => "sensor",
        }
    }
}

/// What a tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TickOutcome {
    /// A run was requested (its run key was new).
    Requested,
    /// Nothing to do, with the reason.
    Skipped,
    /// The evaluation or the request failed, with the reason.
    Failed,
}

impl TickOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            TickOutcome::Requested => "requested",
            TickOutcome::Skipped => "skipped",
            TickOutcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "requested" => Some(TickOutcome::Requested),
            "skipped" => Some(TickOutcome::Skipped),
            "failed" => Some(TickOutcome::Failed),
            _ => None,
        }
    }
}

/// One evaluation of a schedule or sensor, as stored in the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tick {
    pub id: i64,
    pub project: String,
    /// The schedule's or sensor's name.
    pub automation: String,
    pub kind: AutomationKind,
    /// The cron time of a schedule's tick; the evaluation time of a sensor's (shown to the second).
    #[serde(with = "crate::model::time::secs")]
    pub tick_at: DateTime<Utc>,
    #[serde(with = "crate::model::time::secs")]
    pub evaluated_at: DateTime<Utc>,
    pub outcome: TickOutcome,
    /// Always said: "requested run R (run key K)", "skipped: …", "failed: …".
    pub reason: String,
    pub run_id: Option<String>,
    pub run_key: Option<String>,
    /// Which process evaluated it (`daemon …` or `studio …`).
    pub holder: String,
}

/// Parses an IANA time zone name.
pub fn parse_timezone(name: &str) -> Result<Tz, AutomationError> {
    name.parse::<Tz>()
        .map_err(|_| AutomationError::TimeZone(name.to_owned()))
}

/// A parsed cron expression in a time zone.
pub struct CronSchedule {
    cron: croner::Cron,
    tz: Tz,
    /// The minute or hour field starts with `*` (`15 * * * *`, `*/5 * * * *`): the schedule is
    /// an interval on the clock, not a time of day, and daylight saving changes are read as
    /// Vixie cron reads them (see [`CronSchedule::next_after`]).
    interval: bool,
}

/// How far back a daylight-saving change may set the clock (one hour nearly everywhere; two in
/// the past' double summer times).
const LONGEST_FALL_BACK: Duration = Duration::hours(2);

impl CronSchedule {
    pub fn new(expr: &str, timezone: &str) -> Result<Self, AutomationError> {
        super::validate::check_cron(expr)?;
        let cron =
            croner::Cron::new(expr)
                .parse()
                .map_err(|e| super::validate::CronError::Invalid {
                    expr: expr.to_owned(),
                    detail: e.to_string(),
                })?;
        let mut fields = expr.split_whitespace();
        let interval = fields.next().is_some_and(|f| f.starts_with('*'))
            || fields.next().is_some_and(|f| f.starts_with('*'));
        Ok(Self {
            cron,
            tz: parse_timezone(timezone)?,
            interval,
        })
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first tick strictly after `after`, by the rules of Vixie cron (the cron of most
    /// Linux systems) for daylight-saving changes:
    /// - a schedule at a time of day (`30 1 * * *`, `0 6 * * *`): a local time that does not
    ///   exist (the spring gap) fires at the first instant after the gap; a local time that
    ///   exists twice (the autumn repeat) fires once, at the first;
    /// - an interval schedule, whose minute or hour field starts with `*` (`15 * * * *`,
    ///   `*/10 * * * *`): it follows the clock as it is — in the repeated hour it fires again
    ///   (an hourly schedule fires 25 times that day, one hour apart), and a time in the gap
    ///   simply does not happen (23 times on the spring day, still one hour apart).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut at = after;
        loop {
            let next = self
                .cron
                .find_next_occurrence(&at.with_timezone(&self.tz), false)
                .ok()
                .map(|t| t.with_timezone(&Utc));
            if self.interval
                && let Some(again) = self.repeated_between(after, next.filter(|t| *t > after))
            {
                return Some(again);
            }
            match next {
                // croner answers a repeated local time with its first instant, which may be
                // behind `after` when `after` is in the second pass: look further.
                Some(t) if t <= after => at = t,
                // croner moves a time in the gap to the gap's end; an interval skips it.
                Some(t) if self.interval && !self.matches(t) => at = t,
                other => return other,
            }
        }
    }

    fn matches(&self, t: DateTime<Utc>) -> bool {
        self.cron
            .is_time_matching(&t.with_timezone(&self.tz))
            .unwrap_or(false)
    }

    /// The first minute in `(after, next)` whose local time matches: the second pass through a
    /// repeated hour, which croner (reading local times) does not see. Looked for only when the
    /// clock goes back near `after`.
    fn repeated_between(
        &self,
        after: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        use chrono::Offset;
        let end = next.map_or(after + LONGEST_FALL_BACK, |n| {
            n.min(after + LONGEST_FALL_BACK)
        });
        let offset = |t: DateTime<Utc>| self.tz.offset_from_utc_datetime(&t.naive_utc()).fix();
        if offset(end).local_minus_utc() >= offset(after - LONGEST_FALL_BACK).local_minus_utc() {
            return None;
        }
        let minute = after.timestamp().div_euclid(60) * 60 + 60;
        let mut t = DateTime::from_timestamp(minute, 0)?;
        while t < end {
            if self.matches(t) {
                return Some(t);
            }
            t += Duration::minutes(1);
        }
        None
    }

    /// Every tick in `(after, until]`, oldest first, at most `limit` of the most recent ones,
    /// and how many older ones were left out.
    pub fn ticks_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> (Vec<DateTime<Utc>>, u64) {
        let mut kept = std::collections::VecDeque::new();
        let mut dropped = 0u64;
        let mut at = after;
        while let Some(next) = self.next_after(at) {
            if next > until {
                break;
            }
            if kept.len() == limit {
                kept.pop_front();
                dropped += 1;
            }
            kept.push_back(next);
            at = next;
        }
        (kept.into_iter().collect(), dropped)
    }
}

/// A five-field cron in words, with its time zone: "every day at 06:00 (Europe/Berlin)",
/// "every Monday at 04:30 (UTC)", "on day 1 of the month at 03:00 (UTC)", "every day at 06:00
/// and 18:00 (UTC)", "every 15 minutes (UTC)". A form it cannot say exactly (`L`, `W`, `#`, a
/// step that does not divide the hour) is given as the cron itself — never words that are
/// only nearly true. Both a day of the month and a day of the week: either fires, as cron does.
pub fn cron_in_words(expr: &str, timezone: &str) -> String {
    match words::describe(expr) {
        Some(w) => format!("{w} ({timezone})"),
        None => format!("on cron `{expr}` ({timezone})"),
    }
}

mod words {
    const DAYS: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];

    /// One field: every value (`*`, `?`), or these values; `step` when it is `*/n`.
    struct Field {
        any: bool,
        values: Vec<u32>,
        step: Option<u32>,
    }

    fn value(text: &str, names: &[&str], base: u32) -> Option<u32> {
        if let Ok(v) = text.parse() {
            return Some(v);
        }
        let lower = text.to_ascii_lowercase();
        names
            .iter()
            .position(|n| n[..3].eq_ignore_ascii_case(&lower))
            .and_then(|i| u32::try_from(i).ok())
            .map(|i| i + base)
    }

    fn field(text: &str, min: u32, max: u32, names: &[&str], base: u32) -> Option<Field> {
        if text == "*" || text == "?" {
            return Some(Field {
                any: true,
                values: (min..=max).collect(),
                step: None,
            });
        }
        let mut values = Vec::new();
        let mut step_of_any = None;
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s.parse::<u32>().ok().filter(|s| *s > 0)?)),
                None => (part, None),
            };
            let (from, to) = if range == "*" {
                if part == text {
                    step_of_any = step;
                }
                (min, max)
            } else if let Some((a, b)) = range.split_once('-') {
                (value(a, names, base)?, value(b, names, base)?)
            } else {
                let v = value(range, names, base)?;
                (v, if step.is_some() { max } else { v })
            };
            if from < min || to > max || from > to {
                return None;
            }
            values.extend((from..=to).step_by(step.unwrap_or(1) as usize));
        }
        values.sort_unstable();
        values.dedup();
        Some(Field {
            any: false,
            values,
            step: step_of_any,
        })
    }

    /// "a", "a and b", "a, b and c".
    fn list(items: &[String]) -> String {
        match items {
            [] => String::new(),
            [one] => one.clone(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        }
    }

    pub(super) fn describe(expr: &str) -> Option<String> {
        let [minute, hour, dom, month, dow] = expr.split_whitespace().collect::<Vec<_>>()[..]
        else {
            return None;
        };
        let minute = field(minute, 0, 59, &[], 0)?;
        let hour = field(hour, 0, 23, &[], 0)?;
        let dom = field(dom, 1, 31, &[], 0)?;
        let month = field(month, 1, 12, &MONTHS, 1)?;
        let mut dow = field(dow, 0, 7, &DAYS, 0)?;
        // 7 is Sunday too.
        if !dow.any {
            for v in &mut dow.values {
                *v %= 7;
            }
            dow.values.sort_unstable();
            dow.values.dedup();
            if dow.values.len() == 7 {
                dow.any = true;
            }
        }
        let time = time_words(&minute, &hour)?;
        let day = day_words(&dom, &dow);
        let months = (!month.any).then(|| {
            list(
                &month
                    .values
                    .iter()
                    .map(|m| MONTHS[*m as usize - 1].to_owned())
                    .collect::<Vec<_>>(),
            )
        });
        let when = match (time, day, months) {
            (Time::At(at), day, None) => format!("{day} at {at}"),
            (Time::At(at), day, Some(m)) => format!("{day} in {m} at {at}"),
            (Time::Every(every), day, months) => {
                let mut w = every;
                if day != "every day" {
                    w = format!("{w}, {day}");
                }
                if let Some(m) = months {
                    w = format!("{w}, in {m}");
                }
                w
            }
        };
        Some(when)
    }

    enum Time {
        /// At these times of day: "06:00 and 18:00".
        At(String),
        /// Through the day: "every 15 minutes".
        Every(String),
    }

    fn time_words(minute: &Field, hour: &Field) -> Option<Time> {
        let minutes = |f: &Field| -> String {
            list(&f.values.iter().map(ToString::to_string).collect::<Vec<_>>())
        };
        if hour.any {
            return Some(Time::Every(match (minute.any, minute.step) {
                (true, _) => "every minute".to_owned(),
                (false, Some(n)) if 60 % n == 0 => format!("every {n} minutes"),
                (false, _) if minute.values.len() == 1 => {
                    format!("every hour at minute {}", minutes(minute))
                }
                (false, _) => format!("every hour at minutes {}", minutes(minute)),
            }));
        }
        if minute.any || minute.step.is_some() && 60 % minute.step.unwrap_or(1) == 0 {
            let every = if minute.any {
                "every minute".to_owned()
            } else {
                format!("every {} minutes", minute.step.unwrap_or(1))
            };
            return match hour.values[..] {
                [h] => Some(Time::Every(format!("{every} from {h:02}:00 to {h:02}:59"))),
                ref hs if hs.len() <= 3 => {
                    let hours: Vec<String> =
                        hs.iter().map(|h| format!("{h:02}:00–{h:02}:59")).collect();
                    Some(Time::Every(format!(
                        "{every} in the hours {}",
                        list(&hours)
                    )))
                }
                _ => None,
            };
        }
        let times: Vec<String> = hour
            .values
            .iter()
            .flat_map(|h| minute.values.iter().map(move |m| format!("{h:02}:{m:02}")))
            .collect();
        if times.len() <= 12 {
            return Some(Time::At(list(&times)));
        }
        None
    }

    fn day_words(dom: &Field, dow: &Field) -> String {
        let weekdays = || -> String {
            if dow.values == [1, 2, 3, 4, 5] {
                return "every weekday (Monday to Friday)".to_owned();
            }
            format!(
                "every {}",
                list(
                    &dow.values
                        .iter()
                        .map(|d| DAYS[*d as usize].to_owned())
                        .collect::<Vec<_>>()
                )
            )
        };
        let days_of_month = || -> String {
            let days: Vec<String> = dom.values.iter().map(ToString::to_string).collect();
            if days.len() == 1 {
                format!("on day {} of the month", days[0])
            } else {
                format!("on days {} of the month", list(&days))
            }
        };
        match (dom.any, dow.any) {
            (true, true) => "every day".to_owned(),
            (true, false) => weekdays(),
            (false, true) => days_of_month(),
            // Cron fires when either matches.
            (false, false) => format!("{} and {}", days_of_month(), weekdays()),
        }
    }
}

/// Which of the missed ticks a catch-up policy runs, and which it skips: `(run, skipped)`.
pub fn catch_up_ticks(
    ticks: &[DateTime<Utc>],
    policy: CatchUp,
) -> (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) {
    let keep = match policy {
        CatchUp::Skip => 0,
        CatchUp::Latest => 1,
        CatchUp::Each { max } => max as usize,
    };
    let split = ticks.len().saturating_sub(keep);
    (ticks[split..].to_vec(), ticks[..split].to_vec())
}

/// Something a sensor lists: a name and when it last changed (nanoseconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListedItem {
    pub modified_ns: i64,
    pub name: String,
}

/// A sensor's cursor over listed items: the newest modification time seen and the names seen
/// at exactly that time (so two objects written in the same instant are both picked up, once).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ItemCursor {
    pub modified_ns: i64,
    pub names: BTreeSet<String>,
}

impl ItemCursor {
    /// The items that are new since this cursor, oldest first, and the cursor after them.
    pub fn advance(&self, listed: &[ListedItem]) -> (Vec<ListedItem>, ItemCursor) {
        let mut new: Vec<ListedItem> = listed
            .iter()
            .filter(|i| {
                i.modified_ns > self.modified_ns
                    || (i.modified_ns == self.modified_ns && !self.names.contains(&i.name))
            })
            .cloned()
            .collect();
        new.sort();
        let mut next = self.clone();
        for item in &new {
            if item.modified_ns > next.modified_ns {
                next.modified_ns = item.modified_ns;
                next.names.clear();
            }
            next.names.insert(item.name.clone());
        }
        (new, next)
    }

    /// A short description for tick reasons.
    pub fn describe(&self) -> String {
        if self.names.is_empty() && self.modified_ns == 0 {
            return "the start".into();
        }
        let at = Utc.timestamp_nanos(self.modified_ns);
        format!(
            "{} ({} item(s) at that time)",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.names.len()
        )
    }
}

/// Whether a sensor may be evaluated at `now`, given when it last was.
pub fn sensor_due(last: Option<DateTime<Utc>>, min_interval_secs: u64, now: DateTime<Utc>) -> bool {
    let interval = Duration::seconds(i64::try_from(min_interval_secs).unwrap_or(i64::MAX / 2));
    last.is_none_or(|l| now - l >= interval || now < l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Reported: "a daily schedule row doesn't say which day it runs". Every form is said in
    /// words that are true for it — and a form that cannot be said exactly is given as is.
    #[test]
    fn every_cron_form_is_said_in_true_words() {
        let cases = [
            ("0 6 * * *", "every day at 06:00 (UTC)"),
            ("30 4 * * 1", "every Monday at 04:30 (UTC)"),
            ("30 4 * * 7", "every Sunday at 04:30 (UTC)"),
            ("30 4 * * sun", "every Sunday at 04:30 (UTC)"),
            (
                "0 5 * * 1-5",
                "every weekday (Monday to Friday) at 05:00 (UTC)",
            ),
            (
                "0 5 * * 1,3,5",
                "every Monday, Wednesday and Friday at 05:00 (UTC)",
            ),
            ("0 5 * * 0,6", "every Sunday and Saturday at 05:00 (UTC)"),
            ("0 3 1 * *", "on day 1 of the month at 03:00 (UTC)"),
            (
                "0 3 1,15 * *",
                "on days 1 and 15 of the month at 03:00 (UTC)",
            ),
            (
                "0 3 1 1,7 *",
                "on day 1 of the month in January and July at 03:00 (UTC)",
            ),
            (
                "0 3 1 * 1",
                "on day 1 of the month and every Monday at 03:00 (UTC)",
            ),
            ("0 6,18 * * *", "every day at 06:00 and 18:00 (UTC)"),
            (
                "0 */6 * * *",
                "every day at 00:00, 06:00, 12:00 and 18:00 (UTC)",
            ),
            ("15,45 9 * * *", "every day at 09:15 and 09:45 (UTC)"),
            ("*/15 * * * *", "every 15 minutes (UTC)"),
            ("* * * * *", "every minute (UTC)"),
            ("15 * * * *", "every hour at minute 15 (UTC)"),
            (
                "0,30 * * * 1",
                "every hour at minutes 0 and 30, every Monday (UTC)",
            ),
            ("*/10 9 * * *", "every 10 minutes from 09:00 to 09:59 (UTC)"),
            (
                "* 9,17 * * *",
                "every minute in the hours 09:00–09:59 and 17:00–17:59 (UTC)",
            ),
            // Not "every 7 minutes": it starts again at each hour.
            (
                "*/7 * * * *",
                "every hour at minutes 0, 7, 14, 21, 28, 35, 42, 49 and 56 (UTC)",
            ),
            // Not said in words: given as the cron, never nearly true words.
            ("0 3 L * *", "on cron `0 3 L * *` (UTC)"),
            ("0 3 * * 1#2", "on cron `0 3 * * 1#2` (UTC)"),
            ("*/5 */2 * * *", "on cron `*/5 */2 * * *` (UTC)"),
        ];
        for (cron, words) in cases {
            assert_eq!(cron_in_words(cron, "UTC"), words, "{cron}");
        }
        assert_eq!(
            cron_in_words("0 6 * * *", "Europe/Berlin"),
            "every day at 06:00 (Europe/Berlin)"
        );
    }

    /// The words agree with when the schedule fires: a day of the month and a day of the
    /// week both set fire on either (so "… and every Monday" is true).
    #[test]
    fn a_day_of_the_month_and_a_weekday_fire_on_either() {
        let s = CronSchedule::new("0 3 1 * 1", "UTC").unwrap();
        let (ticks, _) =
            s.ticks_between(utc("2026-12-01T00:00:00Z"), utc("2027-01-02T00:00:00Z"), 20);
        let days: Vec<String> = ticks
            .iter()
            .map(|t| t.format("%m-%d %a").to_string())
            .collect();
        assert_eq!(
            days,
            [
                "12-01 Tue",
                "12-07 Mon",
                "12-14 Mon",
                "12-21 Mon",
                "12-28 Mon",
                "01-01 Fri"
            ]
        );
    }

    #[test]
    fn daily_cron_in_berlin_follows_the_spring_dst_change() {
        // 2026-03-29: Berlin moves from UTC+1 to UTC+2 at 02:00 local.
        let s = CronSchedule::new("0 6 * * *", "Europe/Berlin").unwrap();
        let (ticks, dropped) =
            s.ticks_between(utc("2026-03-27T12:00:00Z"), utc("2026-03-30T12:00:00Z"), 10);
        assert_eq!(dropped, 0);
        assert_eq!(
            ticks,
            [
                utc("2026-03-28T05:00:00Z"),
                utc("2026-03-29T04:00:00Z"),
                utc("2026-03-30T04:00:00Z")
            ]
        );
    }

    #[test]
    fn a_local_time_in_the_gap_fires_after_it_and_a_repeated_one_fires_once() {
        // New York: 2026-03-08 02:00 → 03:00 (gap); 2026-11-01 02:00 → 01:00 (01:30 twice).
        let gap = CronSchedule::new("30 2 * * *", "America/New_York").unwrap();
        let (ticks, _) =
            gap.ticks_between(utc("2026-03-07T12:00:00Z"), utc("2026-03-09T12:00:00Z"), 10);
        assert_eq!(
            ticks,
            [utc("2026-03-08T07:00:00Z"), utc("2026-03-09T06:30:00Z")]
        );
        let twice = CronSchedule::new("30 1 * * *", "America/New_York").unwrap();
        let (ticks, _) =
            twice.ticks_between(utc("2026-10-31T12:00:00Z"), utc("2026-11-02T12:00:00Z"), 10);
        assert_eq!(
            ticks,
            [utc("2026-11-01T05:30:00Z"), utc("2026-11-02T06:30:00Z")]
        );
    }

    #[test]
    fn an_hourly_schedule_fires_every_real_hour_across_both_dst_changes() {
        // New York, 2026-11-01: 02:00 EDT → 01:00 EST, so 01:15 happens twice — an hourly
        // schedule fires at both, one hour apart (25 runs that day).
        let hourly = CronSchedule::new("15 * * * *", "America/New_York").unwrap();
        let (ticks, _) =
            hourly.ticks_between(utc("2026-11-01T03:00:00Z"), utc("2026-11-01T09:00:00Z"), 10);
        let hours: Vec<_> = (3..=8)
            .map(|h| utc(&format!("2026-11-01T0{h}:15:00Z")))
            .collect();
        assert_eq!(ticks, hours);
        let (day, _) = hourly.ticks_between(
            utc("2026-11-01T04:00:00Z"),
            utc("2026-11-02T05:00:00Z"),
            100,
        );
        assert_eq!(day.len(), 25, "{day:?}");
        // 2026-03-08: 02:00 EST → 03:00 EDT; 02:15 does not exist and nothing fires in its
        // place (no extra run at 03:00): 23 runs, still one hour apart.
        let (ticks, _) =
            hourly.ticks_between(utc("2026-03-08T04:00:00Z"), utc("2026-03-08T10:00:00Z"), 10);
        let hours: Vec<_> = (4..=9)
            .map(|h| utc(&format!("2026-03-08T0{h}:15:00Z")))
            .collect();
        assert_eq!(ticks, hours);
        let (day, _) = hourly.ticks_between(
            utc("2026-03-08T05:00:00Z"),
            utc("2026-03-09T04:00:00Z"),
            100,
        );
        assert_eq!(day.len(), 23, "{day:?}");
    }

    #[test]
    fn a_cursor_in_the_second_pass_of_the_repeated_hour_never_goes_back() {
        // 06:00Z is 01:00 EST, the second 01:00 of 2026-11-01 in New York.
        let minutely = CronSchedule::new("* * * * *", "America/New_York").unwrap();
        let (ticks, _) = minutely.ticks_between(
            utc("2026-11-01T06:00:00Z"),
            utc("2026-11-01T07:00:00Z"),
            100,
        );
        assert_eq!(ticks.len(), 60, "{ticks:?}");
        assert_eq!(ticks[0], utc("2026-11-01T06:01:00Z"));
        let every_ten = CronSchedule::new("*/10 * * * *", "America/New_York").unwrap();
        let (ticks, _) =
            every_ten.ticks_between(utc("2026-11-01T05:55:00Z"), utc("2026-11-01T06:25:00Z"), 10);
        assert_eq!(
            ticks,
            [
                utc("2026-11-01T06:00:00Z"),
                utc("2026-11-01T06:10:00Z"),
                utc("2026-11-01T06:20:00Z")
            ]
        );
        // A time of day already fired in the first pass does not fire again, nor in the past.
        let daily = CronSchedule::new("30 1 * * *", "America/New_York").unwrap();
        let (ticks, _) =
            daily.ticks_between(utc("2026-11-01T06:10:00Z"), utc("2026-11-02T12:00:00Z"), 10);
        assert_eq!(ticks, [utc("2026-11-02T06:30:00Z")]);
    }

    #[test]
    fn catch_up_policies() {
        let t: Vec<_> = (1..=5)
            .map(|h| utc(&format!("2026-01-01T0{h}:00:00Z")))
            .collect();
        assert_eq!(catch_up_ticks(&t, CatchUp::Skip), (vec![], t.clone()));
        assert_eq!(
            catch_up_ticks(&t, CatchUp::Latest),
            (vec![t[4]], t[..4].to_vec())
        );
        assert_eq!(
            catch_up_ticks(&t, CatchUp::Each { max: 3 }),
            (t[2..].to_vec(), t[..2].to_vec())
        );
        assert_eq!(catch_up_ticks(&t[..0], CatchUp::Latest), (vec![], vec![]));
    }

    #[test]
    fn partitions_of_a_tick_are_read_in_the_schedule_time_zone() {
        let tz = parse_timezone("America/New_York").unwrap();
        // 03:00 UTC on the 2nd is still the 1st in New York.
        let tick = utc("2026-06-02T03:00:00Z");
        assert_eq!(
            PartitionChoice::TickDate.key_for(tick, tz, None).as_deref(),
            Some("2026-06-01")
        );
        assert_eq!(
            PartitionChoice::PreviousDay
                .key_for(tick, tz, None)
                .as_deref(),
            Some("2026-05-31")
        );
        assert!(parse_timezone("Mars/Olympus").is_err());
    }

    #[test]
    fn the_item_cursor_picks_up_each_item_once() {
        let item = |t, n: &str| ListedItem {
            modified_ns: t,
            name: n.into(),
        };
        let (new, c1) = ItemCursor::default().advance(&[item(5, "b"), item(5, "a"), item(3, "c")]);
        assert_eq!(new, [item(3, "c"), item(5, "a"), item(5, "b")]);
        let (new, c2) = c1.advance(&[item(5, "b"), item(5, "a"), item(3, "c"), item(5, "d")]);
        assert_eq!(new, [item(5, "d")]);
        let (new, _) = c2.advance(&[item(5, "a"), item(5, "b"), item(5, "d"), item(3, "c")]);
        assert!(new.is_empty());
    }

    #[test]
    fn sensors_wait_their_minimum_interval() {
        let t = utc("2026-01-01T00:00:00Z");
        assert!(sensor_due(None, 30, t));
        assert!(!sensor_due(Some(t), 30, t + Duration::seconds(29)));
        assert!(sensor_due(Some(t), 30, t + Duration::seconds(30)));
    }
}
