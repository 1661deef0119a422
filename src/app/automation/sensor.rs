//! A sensor's pass: when its minimum interval has passed, list what it watches — objects under
//! an S3 prefix, local files matching a glob, materializations of an asset — and request a run
//! per new item (or one per evaluation with `per = "batch"`). The cursor moves with each
//! request in the same transaction, so a restart neither loses nor repeats one. A failed
//! listing is a failed tick with the sentence (and a `sensor_error` alert where the project
//! has alert rules); nothing new is a skipped tick naming the cursor.

use chrono::{DateTime, Duration, Utc};

use super::Ctx;
use super::request::{Request, request};
use crate::app::AppError;
use crate::model::automation::{ItemCursor, ListedItem, sensor_due};
use crate::model::{
    AutomationKind, PartitionChoice, RequestPer, SensorDefinition, SensorKind, TickOutcome,
};
use crate::store::NewTick;

/// Why a sensor could not list what it watches; the tick fails with this sentence.
#[derive(Debug, thiserror::Error)]
enum SensorError {
    #[error("the key pattern is not a valid regular expression: {0}")]
    KeyPattern(#[source] regex::Error),
    #[error(transparent)]
    List(#[from] crate::compute::ComputeError),
    #[error("glob `{pattern}` is not valid: {message}")]
    Glob { pattern: String, message: String },
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read when {} changed: {source}", .path.display())]
    Modified {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// When a sensor may next be evaluated.
pub(super) fn next_evaluation(
    last: Option<DateTime<Utc>>,
    min_interval_secs: u64,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let next = last.map_or(now, |l| {
        l + Duration::seconds(i64::try_from(min_interval_secs).unwrap_or(i64::MAX / 4))
    });
    next.max(now)
}

pub(super) fn evaluate(ctx: &mut Ctx<'_>, s: &SensorDefinition) -> Result<(), AppError> {
    let now = ctx.opts.now;
    let project = ctx.project().to_owned();
    let (cursor, last) = ctx.ws.automation_cursor(&project, &s.name)?;
    if ctx.opts.only.is_none() && !sensor_due(last, s.min_interval_secs, now) {
        return Ok(());
    }
    let found = match &s.kind {
        SensorKind::AssetMaterialized {
            project: upstream,
            asset,
        } => materializations(ctx, upstream, asset, cursor.as_deref()),
        kind => list_items(ctx, kind).map(|items| {
            let start: ItemCursor = cursor
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .unwrap_or_default();
            item_requests(&start, &items)
        }),
    };
    let found = match found {
        Ok(f) => f,
        Err(e) => return failed(ctx, s, &e.to_string()),
    };
    if found.requests.is_empty() {
        let tick = NewTick {
            project: &project,
            automation: &s.name,
            kind: AutomationKind::Sensor,
            tick_at: now,
            evaluated_at: now,
            outcome: TickOutcome::Skipped,
            reason: format!("skipped: {}", found.nothing_new),
            run_id: None,
            run_key: None,
            holder: &ctx.opts.holder,
        };
        let id = ctx.ws.record_tick(&tick, found.start_cursor.as_deref())?;
        return ctx.remember(id, &s.name);
    }
    let groups: Vec<Vec<Found>> = match s.per {
        RequestPer::Object => found.requests.into_iter().map(|f| vec![f]).collect(),
        RequestPer::Batch => vec![found.requests],
    };
    for group in groups {
        request_group(ctx, s, &group)?;
    }
    Ok(())
}

/// Requests one run for a group of new items (one item, or all of them with `per = "batch"`).
fn request_group(ctx: &mut Ctx<'_>, s: &SensorDefinition, group: &[Found]) -> Result<(), AppError> {
    let now = ctx.opts.now;
    let (Some(first), Some(last)) = (group.first(), group.last()) else {
        return Ok(());
    };
    let (run_key, detail) = if group.len() == 1 {
        (first.key.clone(), format!(" for {}", first.what))
    } else {
        (
            format!("batch of {}: {} .. {}", group.len(), first.key, last.key),
            format!(
                " for {} new items ({} .. {})",
                group.len(),
                first.what,
                last.what
            ),
        )
    };
    let partition = match &s.partition {
        PartitionChoice::Upstream => last.partition.clone(),
        other => other.key_for(now, chrono_tz::UTC, None),
    };
    request(
        ctx,
        &Request {
            automation: &s.name,
            kind: AutomationKind::Sensor,
            tick_at: now,
            run_key,
            partition,
            selection: &s.selection,
            target: &s.target,
            cursor: Some(last.cursor_after.clone()),
            detail,
        },
    )
}

/// A new item and the cursor once it is requested.
struct Found {
    key: String,
    what: String,
    partition: Option<String>,
    cursor_after: String,
}

/// What an evaluation found: the new items, or what "nothing new" means.
struct Findings {
    requests: Vec<Found>,
    nothing_new: String,
    /// A cursor to write even when nothing is new (a first sight).
    start_cursor: Option<String>,
}

fn item_requests(start: &ItemCursor, items: &[ListedItem]) -> Findings {
    let (new, _) = start.advance(items);
    let mut cursor = start.clone();
    let requests = new
        .iter()
        .map(|item| {
            (_, cursor) = cursor.advance(std::slice::from_ref(item));
            Found {
                key: format!("{}@{}", item.name, item.modified_ns),
                what: item.name.clone(),
                partition: None,
                cursor_after: serde_json::to_string(&cursor).unwrap_or_default(),
            }
        })
        .collect();
    Findings {
        requests,
        nothing_new: format!(
            "no new objects since cursor {} ({} listed)",
            start.describe(),
            items.len()
        ),
        start_cursor: None,
    }
}

fn list_items(ctx: &Ctx<'_>, kind: &SensorKind) -> Result<Vec<ListedItem>, SensorError> {
    match kind {
        SensorKind::S3Objects {
            resource,
            prefix,
            pattern,
        } => {
            let pattern = pattern
                .as_deref()
                .map(regex::Regex::new)
                .transpose()
                .map_err(SensorError::KeyPattern)?;
            let runtime = crate::app::runtime::handle()?;
            let listed = crate::compute::sources::list_s3_objects(
                &runtime,
                resource,
                &ctx.stored.project.resources,
                prefix,
                &crate::app::connections::KeyringSecrets,
            )?;
            Ok(listed
                .into_iter()
                .filter(|o| pattern.as_ref().is_none_or(|p| p.is_match(&o.key)))
                .map(|o| ListedItem {
                    modified_ns: o.modified_ns,
                    name: o.key,
                })
                .collect())
        }
        SensorKind::Files { glob } => list_files(ctx, glob),
        SensorKind::AssetMaterialized { .. } => Ok(Vec::new()),
    }
}

fn list_files(ctx: &Ctx<'_>, pattern: &str) -> Result<Vec<ListedItem>, SensorError> {
    let base = ctx
        .stored
        .source_dir
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    let full = if std::path::Path::new(pattern).is_absolute() {
        pattern.to_owned()
    } else {
        base.join(pattern).to_string_lossy().into_owned()
    };
    let paths = glob::glob(&full).map_err(|e| SensorError::Glob {
        pattern: pattern.to_owned(),
        message: e.msg.to_owned(),
    })?;
    let mut out = Vec::new();
    for entry in paths {
        let path = entry.map_err(|e| SensorError::Read {
            path: e.path().to_owned(),
            source: e.into(),
        })?;
        let meta = std::fs::metadata(&path).map_err(|source| SensorError::Read {
            path: path.clone(),
            source,
        })?;
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().map_err(|source| SensorError::Modified {
            path: path.clone(),
            source,
        })?;
        let ns = modified
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        let name = path
            .strip_prefix(&base)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        out.push(ListedItem {
            modified_ns: ns,
            name,
        });
    }
    Ok(out)
}

fn materializations(
    ctx: &Ctx<'_>,
    upstream: &str,
    asset: &crate::model::AssetKey,
    cursor: Option<&str>,
) -> Result<Findings, SensorError> {
    let after: Option<i64> = cursor.and_then(|c| c.parse().ok());
    let all = ctx
        .ws
        .materializations_after(upstream, asset, after.unwrap_or(0))?;
    // First sight: only the latest existing materialization is new (no replay of history).
    let new = if after.is_none() {
        all.last().cloned().into_iter().collect::<Vec<_>>()
    } else {
        all
    };
    let requests = new
        .iter()
        .map(|m| Found {
            key: format!(
                "{upstream}/{asset}/{}/{}",
                m.run_id,
                m.partition.as_deref().unwrap_or("-")
            ),
            what: format!(
                "{upstream}/{asset} materialized by run {}{}",
                m.run_id,
                m.partition
                    .as_ref()
                    .map(|p| format!(" (partition {p})"))
                    .unwrap_or_default()
            ),
            partition: m.partition.clone(),
            cursor_after: m.id.to_string(),
        })
        .collect();
    Ok(Findings {
        requests,
        nothing_new: match after {
            Some(id) => format!("no new materializations of {upstream}/{asset} since cursor {id}"),
            None => format!("{upstream}/{asset} has no materializations yet"),
        },
        start_cursor: after.is_none().then(|| "0".to_owned()),
    })
}

fn failed(ctx: &mut Ctx<'_>, s: &SensorDefinition, message: &str) -> Result<(), AppError> {
    let project = ctx.project().to_owned();
    let now = ctx.opts.now;
    let tick = NewTick {
        project: &project,
        automation: &s.name,
        kind: AutomationKind::Sensor,
        tick_at: now,
        evaluated_at: now,
        outcome: TickOutcome::Failed,
        reason: format!("failed: {message}"),
        run_id: None,
        run_key: None,
        holder: &ctx.opts.holder,
    };
    let id = ctx.ws.record_tick(&tick, None)?;
    ctx.remember(id, &s.name)?;
    super::alert_sensor_error(ctx, &s.name, message);
    Ok(())
}
