//! `medallion deploy`: a project running on AWS's own orchestration. `asl` compiles the remote
//! plan into a Step Functions state machine; this module says what a deployment consists of
//! ([`Desired`]: the objects under `_deploy/` — step plans and inputs — the state machine, a
//! Scheduler schedule per schedule, an EventBridge rule per `s3_objects` sensor, and for alerts
//! connections, API destinations, rules and a dead-letter queue) and what
//! applying it changes against what AWS has ([`diff`]); `apply` reads and writes AWS, and
//! `objects` the objects in S3. Everything else here is pure.

pub mod alerts;
pub mod apply;
pub mod asl;
pub mod destinations;
pub mod executions;
pub mod objects;
pub mod queue;

use serde::Serialize;
use serde_json::{Value, json};

use crate::compute::error::ComputeError;

/// The tag every deployed resource carries, its value the project's name.
pub const PROJECT_TAG: &str = "medallion:project";

/// What kind of AWS resource a deployment item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// An object under `_deploy/` (a step's plan, an input file): written before the state
    /// machine that reads it.
    Object,
    StateMachine,
    /// An EventBridge connection of an alert target (before the destination that uses it).
    Connection,
    /// An EventBridge API destination: an alert target's URL.
    ApiDestination,
    /// The SQS dead-letter queue of the alert rules' targets (before the rules that name it).
    Queue,
    ScheduleGroup,
    Schedule,
    Rule,
}

impl ItemKind {
    pub fn label(self) -> &'static str {
        match self {
            ItemKind::Object => "object",
            ItemKind::StateMachine => "state machine",
            ItemKind::Connection => "connection",
            ItemKind::ApiDestination => "api destination",
            ItemKind::Queue => "queue",
            ItemKind::ScheduleGroup => "schedule group",
            ItemKind::Schedule => "schedule",
            ItemKind::Rule => "rule",
        }
    }
}

/// One resource as the project wants it: its kind, name, the settings compared with AWS's
/// (`config`) and a line saying what it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Desired {
    pub kind: ItemKind,
    pub name: String,
    pub config: Value,
    pub summary: String,
}

/// One resource as AWS has it (found by its tag).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Current {
    pub kind: ItemKind,
    pub name: String,
    pub arn: String,
    pub config: Value,
}

/// What applying does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
    Unchanged,
}

impl Action {
    pub fn sign(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Delete => "-",
            Action::Unchanged => " ",
        }
    }
}

/// One line of a deployment plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub kind: ItemKind,
    pub name: String,
    pub action: Action,
    /// AWS's ARN when the resource exists.
    pub arn: Option<String>,
    pub summary: String,
    /// For an update, each setting that differs: `field: deployed → project`.
    pub differences: Vec<String>,
    /// The desired settings (none for a delete).
    #[serde(skip)]
    pub desired: Option<Value>,
    /// A deployed schedule's next fire time, from its deployed expression and time zone (none
    /// before it exists, when disabled, or when the expression cannot be read back).
    pub next_fire: Option<chrono::DateTime<chrono::Utc>>,
    /// The deployed schedule's time zone, with `next_fire`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_fire_timezone: Option<String>,
}

impl Change {
    /// [`Self::next_fire`] as [`next_fire_text`] says it.
    pub fn next_fire_text(&self) -> Option<String> {
        self.next_fire
            .map(|at| next_fire_text(at, self.next_fire_timezone.as_deref().unwrap_or("UTC")))
    }
}

/// What applying `desired` changes against `current`: creates, updates (with the settings that
/// differ), deletes of tagged resources the project no longer has, and the rest unchanged.
/// Ordered as applied: the state machine first (the rest point at it), deletes last.
pub fn diff(desired: &[Desired], current: &[Current]) -> Vec<Change> {
    let mut out: Vec<Change> = desired
        .iter()
        .map(|d| {
            let found = current
                .iter()
                .find(|c| c.kind == d.kind && c.name == d.name);
            let differences = found.map(|c| {
                let mut v = differences(&c.config, &d.config, "");
                if d.kind == ItemKind::Schedule {
                    cron_in_project_terms(&mut v, &c.config, &d.config);
                }
                v
            });
            let action = match &differences {
                None => Action::Create,
                Some(v) if v.is_empty() => Action::Unchanged,
                Some(_) => Action::Update,
            };
            Change {
                kind: d.kind,
                name: d.name.clone(),
                action,
                arn: found.map(|c| c.arn.clone()),
                summary: d.summary.clone(),
                differences: differences.unwrap_or_default(),
                desired: Some(d.config.clone()),
                next_fire: found.and_then(|c| deployed_next_fire(c, chrono::Utc::now())),
                next_fire_timezone: found
                    .and_then(|c| c.config["timezone"].as_str())
                    .map(str::to_owned),
            }
        })
        .collect();
    out.sort_by_key(|c| c.kind);
    let mut gone: Vec<Change> = current
        .iter()
        .filter(|c| !desired.iter().any(|d| d.kind == c.kind && d.name == c.name))
        .map(|c| Change {
            kind: c.kind,
            name: c.name.clone(),
            action: Action::Delete,
            arn: Some(c.arn.clone()),
            summary: format!("{} no longer in the project", c.kind.label()),
            differences: Vec::new(),
            desired: None,
            next_fire: None,
            next_fire_timezone: None,
        })
        .collect();
    // Delete what points at the state machine before the state machine itself.
    gone.sort_by_key(|c| std::cmp::Reverse(c.kind));
    out.extend(gone);
    out
}

/// A schedule's changed expression also said as the project writes crons: `expression:
/// cron(0 6 * * ? *) → cron(0 5 ? * 2-6 *) (0 6 * * * deployed, 0 5 * * 1-5 in the project)`.
fn cron_in_project_terms(differences: &mut [String], deployed: &Value, wanted: &Value) {
    let five = |v: &Value| v["expression"].as_str().and_then(five_field_cron);
    let (Some(was), Some(now)) = (five(deployed), five(wanted)) else {
        return;
    };
    for d in differences.iter_mut() {
        if d.starts_with("expression: ") {
            *d = format!("{d} ({was} deployed, {now} in the project)");
        }
    }
}

/// The settings that differ between `deployed` and `wanted`, as `path: old → new` (long
/// values, such as a whole definition, as a count of changed states).
fn differences(deployed: &Value, wanted: &Value, at: &str) -> Vec<String> {
    match (deployed, wanted) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .flat_map(|k| {
                    let path = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    let (x, y) = (
                        a.get(k).unwrap_or(&Value::Null),
                        b.get(k).unwrap_or(&Value::Null),
                    );
                    if path == "definition" {
                        return (x != y)
                            .then(|| "definition: the states differ".to_owned())
                            .into_iter()
                            .collect::<Vec<_>>();
                    }
                    differences(x, y, &path)
                })
                .collect()
        }
        (a, b) if a == b => Vec::new(),
        // A list of names (the rules a queue takes dead letters from): what joins and leaves.
        (Value::Array(a), Value::Array(b))
            if a.iter().chain(b).all(Value::is_string) && !(a.is_empty() && b.is_empty()) =>
        {
            let gone = a
                .iter()
                .filter(|v| !b.contains(v))
                .map(|v| format!("- {}", short(v)));
            let new = b
                .iter()
                .filter(|v| !a.contains(v))
                .map(|v| format!("+ {}", short(v)));
            let changes: Vec<String> = new.chain(gone).collect();
            if changes.is_empty() {
                vec![format!("{at}: reordered")]
            } else {
                vec![format!("{at}: {}", changes.join(", "))]
            }
        }
        (a, b) => vec![format!("{at}: {} → {}", short(a), short(b))],
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".to_owned(),
        other => other.to_string(),
    };
    crate::model::clip::clip_value(&s).into_owned()
}

/// A five-field cron expression (`0 6 * * 1-5`) as EventBridge Scheduler takes it
/// (`cron(0 6 ? * 2-6 *)`): six fields, `?` in one of day-of-month and day-of-week, and days of
/// the week counted from 1 (Sunday) instead of 0.
///
/// # Errors
/// Not five fields, or both a day of the month and a day of the week (EventBridge cannot say
/// "either").
pub fn scheduler_cron(cron: &str) -> Result<String, ComputeError> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields.as_slice() else {
        return Err(ComputeError::invalid(format!(
            "cron `{cron}` does not have five fields (minute hour day-of-month month day-of-week)"
        )));
    };
    let (dom, dow) = match (*dom, *dow) {
        (d, "*") => (d.to_owned(), "?".to_owned()),
        ("*", w) => ("?".to_owned(), aws_weekdays(w)?),
        _ => {
            return Err(ComputeError::invalid(format!(
                "cron `{cron}` names both a day of the month and a day of the week; EventBridge Scheduler takes only one of them"
            )));
        }
    };
    Ok(format!("cron({minute} {hour} {dom} {month} {dow} *)"))
}

/// Day-of-week numbers from cron's 0–7 (0 and 7 Sunday) to EventBridge's 1–7 (1 Sunday);
/// names (`MON`), `*`, ranges, lists and steps keep their shape.
fn aws_weekdays(field: &str) -> Result<String, ComputeError> {
    let shift = |n: &str| -> Result<String, ComputeError> {
        if n.chars().all(|c| c.is_ascii_alphabetic()) || n == "*" {
            return Ok(n.to_owned());
        }
        let v: u8 = n.parse().map_err(|_| {
            ComputeError::invalid(format!(
                "day of the week `{n}` in `{field}` is not 0–7 or a name"
            ))
        })?;
        if v > 7 {
            return Err(ComputeError::invalid(format!(
                "day of the week `{v}` in `{field}` is not 0–7"
            )));
        }
        Ok(((v % 7) + 1).to_string())
    };
    field
        .split(',')
        .map(|part| {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            let range = match range.split_once('-') {
                Some((a, b)) => format!("{}-{}", shift(a)?, shift(b)?),
                None => shift(range)?,
            };
            Ok(match step {
                Some(s) => format!("{range}/{s}"),
                None => range,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|v| v.join(","))
}

/// The next time after `after` a deployed schedule fires: its Scheduler expression read back
/// as the five-field cron it was made from, in its time zone. None for another kind, a
/// disabled schedule, or an expression this cannot read back (`rate(…)`, a year).
pub fn deployed_next_fire(
    c: &Current,
    after: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    if c.kind != ItemKind::Schedule || c.config["state"].as_str() == Some("DISABLED") {
        return None;
    }
    let cron = five_field_cron(c.config["expression"].as_str()?)?;
    let timezone = c.config["timezone"].as_str().unwrap_or("UTC");
    crate::model::automation::CronSchedule::new(&cron, timezone)
        .ok()?
        .next_after(after)
}

/// A next fire time as the plan and the Deployment window say it: in UTC, and in the
/// schedule's time zone when that is another (with its date when the day differs there).
pub fn next_fire_text(at: chrono::DateTime<chrono::Utc>, timezone: &str) -> String {
    let utc = at.format("%Y-%m-%d %H:%M UTC").to_string();
    let Ok(tz) = timezone.parse::<chrono_tz::Tz>() else {
        return utc;
    };
    if tz == chrono_tz::UTC {
        return utc;
    }
    let local = at.with_timezone(&tz);
    let format = if local.date_naive() == at.date_naive() {
        "%H:%M"
    } else {
        "%Y-%m-%d %H:%M"
    };
    format!("{utc} ({} {timezone})", local.format(format))
}

/// A Scheduler cron expression (`cron(0 5 ? * 2-6 *)`) as the five-field cron it was made from
/// (`0 5 * * 1-5`): the inverse of [`scheduler_cron`]. None for anything else (`rate(…)`, a
/// year other than `*`, a day of the week out of 1–7).
pub fn five_field_cron(expression: &str) -> Option<String> {
    let inner = expression.strip_prefix("cron(")?.strip_suffix(')')?;
    let fields: Vec<&str> = inner.split_whitespace().collect();
    let [minute, hour, dom, month, dow, "*"] = fields.as_slice() else {
        return None;
    };
    let dom = if *dom == "?" { "*" } else { dom };
    let dow = if *dow == "?" {
        "*".to_owned()
    } else {
        let back = |n: &str| -> Option<String> {
            if n == "*" || n.chars().all(|c| c.is_ascii_alphabetic()) {
                return Some(n.to_owned());
            }
            let v: u8 = n.parse().ok()?;
            (1..=7).contains(&v).then(|| (v - 1).to_string())
        };
        dow.split(',')
            .map(|part| {
                let (range, step) = match part.split_once('/') {
                    Some((r, s)) => (r, Some(s)),
                    None => (part, None),
                };
                let range = match range.split_once('-') {
                    Some((a, b)) => format!("{}-{}", back(a)?, back(b)?),
                    None => back(range)?,
                };
                Some(match step {
                    Some(s) => format!("{range}/{s}"),
                    None => range,
                })
            })
            .collect::<Option<Vec<_>>>()?
            .join(",")
    };
    Some(format!("{minute} {hour} {dom} {month} {dow}"))
}

/// Every item of a listing AWS pages by token: `page(token)` reads one page — its items and
/// the next token — and pages are read until there is no next token.
///
/// # Errors
/// The first page that could not be read.
pub(crate) async fn every_page<T, F, Fut>(mut page: F) -> Result<Vec<T>, ComputeError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), ComputeError>>,
{
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let (items, next) = page(token).await?;
        out.extend(items);
        match next {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

/// The name of a deployed resource: `medallion-<project>[-<part>]`, in the characters AWS
/// names allow (letters, digits, `-`, `_`), at most `max` long.
pub fn resource_name(project: &str, part: Option<&str>, max: usize) -> String {
    let raw = match part {
        Some(p) => format!("medallion-{project}-{p}"),
        None => format!("medallion-{project}"),
    };
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(max)
        .collect()
}

/// The state machine's desired settings.
pub fn state_machine(project: &str, definition: &Value, role_arn: &str, steps: usize) -> Desired {
    Desired {
        kind: ItemKind::StateMachine,
        name: resource_name(project, None, 80),
        config: json!({ "definition": definition, "role_arn": role_arn }),
        summary: format!("{steps} step(s), role {role_arn}"),
    }
}

/// The schedule group that holds (and tags, for undeploy) the project's schedules.
pub fn schedule_group(project: &str) -> Desired {
    Desired {
        kind: ItemKind::ScheduleGroup,
        name: resource_name(project, None, 64),
        config: json!({}),
        summary: "holds the project's schedules".to_owned(),
    }
}

/// A schedule as Scheduler takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec<'a> {
    pub project: &'a str,
    pub name: &'a str,
    pub cron: &'a str,
    pub timezone: &'a str,
    pub enabled: bool,
    pub state_machine_arn: &'a str,
    pub role_arn: &'a str,
    /// For a project with daily partitions: the schedule's partition rule (`previous_day`,
    /// `tick_date`, `key:KEY`), given to each execution with its scheduled time.
    pub partition_rule: Option<&'a str>,
}

/// A schedule's desired settings.
///
/// # Errors
/// A cron expression Scheduler cannot take ([`scheduler_cron`]).
pub fn schedule(s: &ScheduleSpec<'_>) -> Result<Desired, ComputeError> {
    let expression = scheduler_cron(s.cron)?;
    Ok(Desired {
        kind: ItemKind::Schedule,
        name: resource_name(s.project, Some(s.name), 64),
        // "every day at 06:00 (Europe/Berlin) · cron(0 6 * * ? *)"
        summary: format!(
            "{} · {expression}{}",
            crate::model::automation::cron_in_words(s.cron, s.timezone),
            if s.enabled { "" } else { ", disabled" }
        ),
        config: json!({
            "expression": expression,
            "timezone": s.timezone,
            "state": if s.enabled { "ENABLED" } else { "DISABLED" },
            "target": s.state_machine_arn,
            "role_arn": s.role_arn,
            "input": match s.partition_rule {
                None => start_input(&format!("schedule:{}", s.name)),
                Some(rule) => json!({
                    "trigger": format!("schedule:{}", s.name),
                    "scheduled_time": SCHEDULED_TIME,
                    "partition_rule": rule,
                    "timezone": s.timezone,
                })
                .to_string(),
            },
        }),
    })
}

/// EventBridge Scheduler's context attribute for the time a schedule fired, replaced in the
/// target's input on every invocation.
pub const SCHEDULED_TIME: &str = "<aws.scheduler.scheduled-time>";

/// What an execution started by a schedule or rule is given: its trigger.
pub fn start_input(trigger: &str) -> String {
    json!({ "trigger": trigger }).to_string()
}

/// An `s3_objects` sensor's rule: S3 "Object Created" events for the prefix of the bucket.
#[expect(
    clippy::too_many_arguments,
    reason = "each is one setting of the rule, named at the one caller"
)]
pub fn sensor_rule(
    project: &str,
    sensor: &str,
    bucket: &str,
    prefix: &str,
    state_machine_arn: &str,
    role_arn: &str,
    enabled: bool,
    partition_rule: Option<&str>,
) -> Desired {
    let pattern = json!({
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": { "name": [bucket] },
            "object": { "key": [{ "prefix": prefix }] },
        },
    });
    Desired {
        kind: ItemKind::Rule,
        name: resource_name(project, Some(sensor), 64),
        summary: format!(
            "S3 Object Created in s3://{bucket}/{prefix}* (needs the bucket's EventBridge notifications){}",
            if enabled { "" } else { ", disabled" }
        ),
        config: match partition_rule {
            None => json!({
                "event_pattern": pattern,
                "state": if enabled { "ENABLED" } else { "DISABLED" },
                "target": state_machine_arn,
                "role_arn": role_arn,
                "input": start_input(&format!("sensor:{sensor}")),
            }),
            // A daily partitioned project: the execution's input carries the event's time and
            // the sensor's partition rule (read in UTC), from which the runner takes the day.
            Some(rule) => json!({
                "event_pattern": pattern,
                "state": if enabled { "ENABLED" } else { "DISABLED" },
                "target": state_machine_arn,
                "role_arn": role_arn,
                "input_paths": { "time": "$.time" },
                "input_template": format!(
                    "{{\"trigger\": {}, \"scheduled_time\": <time>, \"partition_rule\": {}, \"timezone\": \"UTC\"}}",
                    json!(format!("sensor:{sensor}")),
                    json!(rule)
                ),
                "retry_policy": {
                    "maximum_retry_attempts": alerts::RETRY_ATTEMPTS,
                    "maximum_event_age_in_seconds": alerts::RETRY_SECONDS,
                },
            }),
        },
    }
}

#[cfg(test)]
mod tests;
