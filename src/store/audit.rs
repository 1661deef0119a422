//! The audit log: an append-only hash chain of entries. Each entry's hash is SHA-256 over its
//! own fields and the previous entry's hash, so an entry edited, deleted or moved after it was
//! written breaks the chain at that entry ([`Workspace::verify_audit`]). Entries for changes
//! the workspace stores are appended inside the transaction of the change itself
//! ([`append`]); those for changes elsewhere (the keyring, files) right after them.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{StoreError, Workspace, classify};
use crate::model::time;
use crate::model::{
    AuditAction, AuditBreak, AuditEntry, AuditPlace, AuditVerdict, NewAuditEntry, Project,
};

/// The schema version that created `audit_log`; a workspace held at an older one (tests of the
/// migrations) records nothing.
const AUDIT_MIGRATION: i64 = 13;
/// The migration that added `run_aws` (where on AWS a run ran).
const RUN_AWS_MIGRATION: i64 = 18;

/// What the first entry holds as its previous hash.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The OS user of this process, as the audit log names it: the login the environment names
/// (`USER`, `LOGNAME`, `USERNAME`), else the account of the process's user id (a daemon started
/// by systemd or cron often has no `USER`), else "unknown".
pub fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .or_else(|| whoami::username().ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// An entry's stored text, as hashed.
struct Fields<'a> {
    at: &'a str,
    who: &'a str,
    action: &'a str,
    project: Option<&'a str>,
    subject: &'a str,
    place: &'a str,
    estimated_usd: Option<f64>,
    actual_usd: Option<f64>,
    detail: &'a str,
    prev_hash: &'a str,
}

impl Fields<'_> {
    /// SHA-256 (hex) of the fields as one JSON array: unambiguous, and a number reads back as
    /// the text it was hashed from.
    fn hash(&self) -> String {
        let text = serde_json::json!([
            self.at,
            self.who,
            self.action,
            self.project,
            self.subject,
            self.place,
            self.estimated_usd,
            self.actual_usd,
            self.detail,
            self.prev_hash
        ])
        .to_string();
        let digest = Sha256::digest(text.as_bytes());
        let mut hex = String::with_capacity(64);
        for b in digest {
            let _ = std::fmt::Write::write_fmt(&mut hex, format_args!("{b:02x}"));
        }
        hex
    }
}

pub(super) fn has_audit_log(conn: &Connection, path: &Path) -> Result<bool, StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| classify(path, "record audit entry", e))?;
    Ok(version >= AUDIT_MIGRATION)
}

/// Appends an entry inside the caller's transaction (which must hold the write lock, e.g.
/// `BEGIN IMMEDIATE`, so no other entry lands between reading the last hash and writing).
/// Returns its number (0 on a workspace older than the audit log).
pub(super) fn append(
    conn: &Connection,
    path: &Path,
    entry: &NewAuditEntry,
) -> Result<i64, StoreError> {
    let sql = |e| classify(path, "record audit entry", e);
    if !has_audit_log(conn, path)? {
        return Ok(0);
    }
    let prev: Option<String> = conn
        .query_row(
            "SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql)?;
    let prev = prev.unwrap_or_else(|| GENESIS.to_owned());
    let at = time::text(&time::millis(Utc::now()));
    let who = os_user();
    let place = serde_json::to_string(&entry.place).map_err(|e| decode_err(path, 0, e))?;
    let detail = entry.detail.to_string();
    let fields = Fields {
        at: &at,
        who: &who,
        action: entry.action.as_str(),
        project: entry.project.as_deref(),
        subject: &entry.subject,
        place: &place,
        estimated_usd: entry.estimated_usd,
        actual_usd: entry.actual_usd,
        detail: &detail,
        prev_hash: &prev,
    };
    let hash = fields.hash();
    conn.execute(
        "INSERT INTO audit_log (at, who, action, project, subject, place, estimated_usd, actual_usd,
            detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            at,
            who,
            fields.action,
            fields.project,
            fields.subject,
            place,
            fields.estimated_usd,
            fields.actual_usd,
            detail,
            prev,
            hash
        ],
    )
    .map_err(sql)?;
    Ok(conn.last_insert_rowid())
}

fn decode_err(path: &Path, seq: i64, e: impl std::fmt::Display) -> StoreError {
    StoreError::Decode {
        path: path.to_owned(),
        what: format!("audit entry {seq}"),
        detail: e.to_string(),
    }
}

/// A stored row, as text (what verify hashes).
struct RawEntry {
    seq: i64,
    at: String,
    who: String,
    action: String,
    project: Option<String>,
    subject: String,
    place: String,
    estimated_usd: Option<f64>,
    actual_usd: Option<f64>,
    detail: String,
    prev_hash: String,
    hash: String,
}

impl RawEntry {
    const COLUMNS: &'static str = "seq, at, who, action, project, subject, place, estimated_usd, \
                                   actual_usd, detail, prev_hash, hash";

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: r.get(0)?,
            at: r.get(1)?,
            who: r.get(2)?,
            action: r.get(3)?,
            project: r.get(4)?,
            subject: r.get(5)?,
            place: r.get(6)?,
            estimated_usd: r.get(7)?,
            actual_usd: r.get(8)?,
            detail: r.get(9)?,
            prev_hash: r.get(10)?,
            hash: r.get(11)?,
        })
    }

    fn computed_hash(&self) -> String {
        Fields {
            at: &self.at,
            who: &self.who,
            action: &self.action,
            project: self.project.as_deref(),
            subject: &self.subject,
            place: &self.place,
            estimated_usd: self.estimated_usd,
            actual_usd: self.actual_usd,
            detail: &self.detail,
            prev_hash: &self.prev_hash,
        }
        .hash()
    }

    fn decode(self, path: &Path) -> Result<AuditEntry, StoreError> {
        let seq = self.seq;
        Ok(AuditEntry {
            seq,
            at: time::parse(&self.at).map_err(|e| decode_err(path, seq, e))?,
            who: self.who,
            action: AuditAction::parse(&self.action).ok_or_else(|| {
                decode_err(path, seq, format!("unknown action `{}`", self.action))
            })?,
            project: self.project,
            subject: self.subject,
            place: serde_json::from_str(&self.place).map_err(|e| decode_err(path, seq, e))?,
            estimated_usd: self.estimated_usd,
            actual_usd: self.actual_usd,
            detail: serde_json::from_str(&self.detail).map_err(|e| decode_err(path, seq, e))?,
            hash: self.hash,
        })
    }
}

/// Which entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter<'a> {
    pub project: Option<&'a str>,
    pub since: Option<DateTime<Utc>>,
    pub action: Option<AuditAction>,
    pub limit: Option<usize>,
}

impl Workspace {
    /// Appends one entry in its own transaction: for changes made outside the workspace (a
    /// keyring secret, a file written).
    pub fn record_audit(&mut self, entry: &NewAuditEntry) -> Result<i64, StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "record audit entry", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let seq = append(&tx, &path, entry)?;
        tx.commit().map_err(sql)?;
        Ok(seq)
    }

    /// Entries, newest first. A project's entries include the machine's own (keyring
    /// secrets), which belong to no project.
    pub fn audit_entries(&self, filter: &AuditFilter<'_>) -> Result<Vec<AuditEntry>, StoreError> {
        let path = &self.path;
        let sql = |e| classify(path, "list audit entries", e);
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {} FROM audit_log
                 WHERE (?1 IS NULL OR project = ?1 OR project IS NULL) AND (?2 IS NULL OR at >= ?2)
                   AND (?3 IS NULL OR action = ?3)
                 ORDER BY seq DESC LIMIT ?4",
                RawEntry::COLUMNS
            ))
            .map_err(sql)?;
        let limit = filter
            .limit
            .map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows: Vec<RawEntry> = stmt
            .query_map(
                params![
                    filter.project,
                    filter.since.as_ref().map(time::text),
                    filter.action.map(AuditAction::as_str),
                    limit
                ],
                RawEntry::from_row,
            )
            .and_then(Iterator::collect)
            .map_err(sql)?;
        rows.into_iter().map(|r| r.decode(path)).collect()
    }

    /// Walks the whole chain from its first entry and says where it first breaks: an entry
    /// edited (its hash), deleted (the next one follows another), reordered or renumbered (it
    /// does not follow the one before), or the newest ones deleted (`sqlite_sequence` remembers
    /// the highest number given). `project` only narrows the count; the chain is one.
    pub fn verify_audit(&self, project: Option<&str>) -> Result<AuditVerdict, StoreError> {
        let path = &self.path;
        let sql = |e| classify(path, "verify the audit log", e);
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {} FROM audit_log ORDER BY seq",
                RawEntry::COLUMNS
            ))
            .map_err(sql)?;
        let mut rows = stmt.query([]).map_err(sql)?;
        let mut prev_hash = GENESIS.to_owned();
        let mut last = 0_i64;
        let mut counted = 0_u64;
        while let Some(row) = rows.next().map_err(sql)? {
            let e = RawEntry::from_row(row).map_err(sql)?;
            if e.prev_hash != prev_hash {
                let (seq, problem) = if e.seq > last + 1 {
                    (last + 1, AuditBreak::Missing)
                } else {
                    (e.seq, AuditBreak::OutOfPlace { after: last })
                };
                return Ok(AuditVerdict::Broken { seq, problem });
            }
            if e.computed_hash() != e.hash {
                return Ok(AuditVerdict::Broken {
                    seq: e.seq,
                    problem: AuditBreak::Edited,
                });
            }
            if project.is_none() || e.project.as_deref() == project {
                counted += 1;
            }
            last = e.seq;
            prev_hash = e.hash;
        }
        let given: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        if given.is_some_and(|g| g > last) {
            return Ok(AuditVerdict::Broken {
                seq: last + 1,
                problem: AuditBreak::TailMissing { last },
            });
        }
        Ok(AuditVerdict::Intact {
            entries: counted,
            head: (last > 0).then_some(prev_hash),
        })
    }
}

/// The AWS resource a run ran through and the account it acted in (`None`: STS could not
/// tell), recorded with the run for its audit entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOnAws {
    pub resource: String,
    pub account: Option<String>,
}

impl RunOnAws {
    /// Through `resource`, in an account not known.
    pub fn named(resource: &str) -> Self {
        Self {
            resource: resource.to_owned(),
            account: None,
        }
    }
}

/// Records where on AWS a run ran, inside the transaction that records the run (before its
/// first audit entry).
pub(super) fn record_run_on_aws(
    conn: &Connection,
    path: &Path,
    run_id: &str,
    on: &RunOnAws,
) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| classify(path, "record where a run ran", e))?;
    if version < RUN_AWS_MIGRATION {
        return Ok(());
    }
    conn.execute(
        "INSERT OR REPLACE INTO run_aws (run_id, resource, account) VALUES (?1, ?2, ?3)",
        params![run_id, on.resource, on.account],
    )
    .map_err(|e| classify(path, "record where a run ran", e))?;
    Ok(())
}

/// Where a run ran: locally, or on AWS through the resource and account recorded with it (the
/// region from the project's resource). A remote launch's target names its tiers
/// (`aws:lambda+fargate`); a run synced from a deployment ran through Step Functions (`aws`).
fn run_place(conn: &Connection, run_id: &str, target: &str) -> rusqlite::Result<AuditPlace> {
    let tier = match target.strip_prefix("aws:") {
        Some(tiers) => tiers,
        None if target == "aws" => "stepfunctions",
        None => return Ok(AuditPlace::Local),
    };
    let found: Option<(Option<String>, Option<String>, Option<String>)> = conn
        .query_row(
            "SELECT COALESCE(ra.resource, rr.aws_resource), ra.account,
                    json_extract(res.config, '$.region')
             FROM runs r
             LEFT JOIN run_aws ra ON ra.run_id = r.id
             LEFT JOIN remote_runs rr ON rr.run_id = r.id
             LEFT JOIN resources res ON res.project_id = r.project_id
                  AND res.name = COALESCE(ra.resource, rr.aws_resource)
             WHERE r.id = ?1",
            [run_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2).ok().flatten())),
        )
        .optional()?;
    let (resource, account, region) = found.unwrap_or_default();
    let resource = resource.unwrap_or_else(|| "unknown".to_owned());
    Ok(AuditPlace::Aws {
        resource,
        region,
        account,
        tier: tier.to_owned(),
    })
}

/// A run's total estimated and actual cost: the sums over its steps when every step has one,
/// else unknown.
fn run_costs(conn: &Connection, run_id: &str) -> rusqlite::Result<(Option<f64>, Option<f64>)> {
    conn.query_row(
        "SELECT count(*), count(est_cost_usd), sum(est_cost_usd), count(actual_cost_usd),
                sum(actual_cost_usd)
         FROM cost_run_steps WHERE run_id = ?1",
        [run_id],
        |r| {
            let steps: i64 = r.get(0)?;
            let whole =
                |n: i64, sum: Option<f64>| (steps > 0 && n == steps).then_some(sum).flatten();
            Ok((whole(r.get(1)?, r.get(2)?), whole(r.get(3)?, r.get(4)?)))
        },
    )
}

/// Records that a run was recorded (started), inside the transaction that wrote its row.
pub(super) fn run_started(conn: &Connection, path: &Path, run_id: &str) -> Result<(), StoreError> {
    run_entry(conn, path, run_id, AuditAction::RunStarted)
}

/// Records a run's end once (a remote run's `RunFinished` event and its final status are two
/// writes), inside the transaction that set its final status.
pub(super) fn run_finished(conn: &Connection, path: &Path, run_id: &str) -> Result<(), StoreError> {
    if !has_audit_log(conn, path)? {
        return Ok(());
    }
    let recorded: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM audit_log WHERE subject = ?1 AND action = ?2)",
            params![run_id, AuditAction::RunFinished.as_str()],
            |r| r.get(0),
        )
        .map_err(|e| classify(path, "record audit entry", e))?;
    if recorded {
        return Ok(());
    }
    run_entry(conn, path, run_id, AuditAction::RunFinished)
}

fn run_entry(
    conn: &Connection,
    path: &Path,
    run_id: &str,
    action: AuditAction,
) -> Result<(), StoreError> {
    if !has_audit_log(conn, path)? {
        return Ok(());
    }
    let sql = |e| classify(path, "record audit entry", e);
    let row: Option<(String, String, String, String, Option<String>, String)> = conn
        .query_row(
            "SELECT p.name, r.target, r.status, r.selection, r.error, r.trigger
             FROM runs r JOIN projects p ON p.id = r.project_id WHERE r.id = ?1",
            [run_id],
            |r| r.try_into(),
        )
        .optional()
        .map_err(sql)?;
    let Some((project, target, status, selection, error, trigger)) = row else {
        return Ok(());
    };
    let place = run_place(conn, run_id, &target).map_err(sql)?;
    let (estimated_usd, actual_usd) = run_costs(conn, run_id).map_err(sql)?;
    let mut detail = serde_json::json!({
        "status": status,
        "selection": selection,
        "trigger": trigger,
    });
    if let Some(error) = error.filter(|_| action == AuditAction::RunFinished) {
        detail["error"] = crate::model::clip::bound_message(&error)
            .into_owned()
            .into();
    }
    append(
        conn,
        path,
        &NewAuditEntry {
            action,
            project: Some(project),
            subject: run_id.to_owned(),
            place,
            estimated_usd,
            actual_usd: if action == AuditAction::RunFinished {
                actual_usd
            } else {
                None
            },
            detail,
        },
    )?;
    Ok(())
}

/// The parts of a project the audit log follows, each as its JSON by (kind, name).
fn governed(project: &Project) -> BTreeMap<(AuditAction, &'static str, String), String> {
    let mut out = BTreeMap::new();
    if !project.retention.is_default() {
        out.insert(
            (
                AuditAction::RetentionChanged,
                "retention",
                "run history".to_owned(),
            ),
            super::json(&project.retention),
        );
    }
    for (kind, rule) in &project.masking {
        out.insert(
            (
                AuditAction::MaskingChanged,
                "masking policy",
                kind.as_str().to_owned(),
            ),
            super::json(rule),
        );
    }
    for a in &project.assets {
        for (column, kind) in &a.pii {
            out.insert(
                (
                    AuditAction::PiiTagChanged,
                    "PII tag",
                    format!("{}.{column}", a.key),
                ),
                kind.as_str().to_owned(),
            );
        }
    }
    for r in &project.resources {
        out.insert(
            (AuditAction::ResourceChanged, "resource", r.name.clone()),
            super::json(r),
        );
    }
    for s in &project.schedules {
        out.insert(
            (AuditAction::ScheduleChanged, "schedule", s.name.clone()),
            super::json(s),
        );
    }
    for s in &project.sensors {
        out.insert(
            (AuditAction::ScheduleChanged, "sensor", s.name.clone()),
            super::json(s),
        );
    }
    for t in &project.alerts.targets {
        out.insert(
            (AuditAction::AlertChanged, "alert target", t.name.clone()),
            super::json(t),
        );
    }
    for r in &project.alerts.rules {
        out.insert(
            (AuditAction::AlertChanged, "alert rule", r.name.clone()),
            super::json(r),
        );
    }
    out
}

/// The stored resources, schedules, sensors and alert settings of a project (what
/// [`project_changes`] compares), read inside the save's transaction before it writes.
pub(super) fn governed_parts(
    conn: &Connection,
    path: &Path,
    name: &str,
) -> Result<Project, StoreError> {
    let (id, schedules): (i64, String) = conn
        .query_row(
            "SELECT id, schedules FROM projects WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| classify(path, "save project", e))?;
    let mut project = Project::new(name);
    match super::decode::<super::AutomationColumn>(
        path,
        || format!("schedules and sensors of project {name}"),
        &schedules,
    )? {
        super::AutomationColumn::Schedules(s) => project.schedules = s,
        super::AutomationColumn::Both { schedules, sensors } => {
            project.schedules = schedules;
            project.sensors = sensors;
        }
    }
    super::read_resources(conn, path, id, &mut project)?;
    super::alerts::read_alert_settings(conn, path, id, &mut project)?;
    super::history::read_retention(conn, path, id, &mut project)?;
    super::masking::read_masking(conn, path, id, &mut project)?;
    read_pii_tags(conn, path, id, &mut project)?;
    Ok(project)
}

/// Each asset's PII tags (and nothing else of it), for [`governed`].
fn read_pii_tags(
    conn: &Connection,
    path: &Path,
    id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    let sql = |e| classify(path, "save project", e);
    let mut stmt = conn
        .prepare_cached("SELECT key, pii FROM assets WHERE project_id = ?1")
        .map_err(sql)?;
    let rows: Vec<(String, String)> = stmt
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(Iterator::collect)
        .map_err(sql)?;
    for (key, pii) in rows {
        let mut a = crate::model::AssetSpec::new(key.as_str(), crate::model::Layer::Bronze);
        a.pii = super::decode(path, || format!("pii of asset {key}"), &pii)?;
        project.assets.push(a);
    }
    Ok(())
}

/// Records what a save changes in the project's resources, schedules, sensors and alerts
/// (added, changed, removed), inside the save's transaction. `old` is the stored project before
/// the save (`None`: a new project).
pub(super) fn project_changes(
    conn: &Connection,
    path: &Path,
    old: Option<&Project>,
    new: &Project,
) -> Result<(), StoreError> {
    let before = old.map(governed).unwrap_or_default();
    let after = governed(new);
    let mut changes = Vec::new();
    for (key, text) in &after {
        match before.get(key) {
            None => changes.push((key, "added")),
            Some(old) if old != text => changes.push((key, "changed")),
            Some(_) => {}
        }
    }
    changes.extend(
        before
            .keys()
            .filter(|k| !after.contains_key(*k))
            .map(|k| (k, "removed")),
    );
    for ((action, what, name), change) in changes {
        let key = (*action, *what, name.clone());
        let mut detail = serde_json::json!({ "change": change, "what": what });
        if *action == AuditAction::PiiTagChanged {
            // The tag itself (`email`), not a secret: the new one, or the one removed.
            detail["tag"] = after.get(&key).or_else(|| before.get(&key)).cloned().into();
        }
        append(
            conn,
            path,
            &NewAuditEntry::local(*action, Some(&new.name), name.clone(), detail),
        )?;
    }
    Ok(())
}

/// Records a schedule or sensor switched on or off in this workspace, inside the switch's
/// transaction.
pub(super) fn automation_switched(
    conn: &Connection,
    path: &Path,
    project: &str,
    automation: &str,
    enabled: bool,
) -> Result<(), StoreError> {
    append(
        conn,
        path,
        &NewAuditEntry::local(
            AuditAction::ScheduleChanged,
            Some(project),
            automation,
            serde_json::json!({ "change": if enabled { "switched on" } else { "switched off" } }),
        ),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Resource, ResourceKind, RunStatus, synthetic};
    use crate::store::SaveBase;

    fn http(name: &str, url: &str) -> Resource {
        Resource {
            name: name.to_owned(),
            description: String::new(),
            kind: ResourceKind::Http {
                base_url: url.to_owned(),
                auth_token: None,
            },
        }
    }

    fn changes(ws: &Workspace) -> Vec<(String, String, String)> {
        let mut out: Vec<_> = ws
            .audit_entries(&AuditFilter::default())
            .unwrap()
            .into_iter()
            .map(|e| {
                (
                    e.action.as_str().to_owned(),
                    e.subject,
                    e.detail["change"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        out.reverse();
        out
    }

    #[test]
    fn a_save_records_what_it_changes_and_a_refused_save_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("w.sqlite")).unwrap();
        let mut p = synthetic::generate("gen", 3, 1);
        p.resources = vec![http("api", "http://a"), http("old", "http://o")];
        let rev = ws.save_project(&p, None).unwrap();
        p.resources = vec![http("api", "http://b")];
        ws.save_project_at(&p, SaveBase::Revision(rev)).unwrap();
        // The same again: nothing changed, nothing recorded.
        ws.save_project_at(&p, SaveBase::Revision(rev + 1)).unwrap();
        let rc = |s: &str, c: &str| ("resource_changed".to_owned(), s.to_owned(), c.to_owned());
        let expected = vec![
            rc("api", "added"),
            rc("old", "added"),
            rc("api", "changed"),
            rc("old", "removed"),
        ];
        assert_eq!(changes(&ws), expected);

        // A save over a stale revision is refused, and so is its entry.
        p.resources.clear();
        assert!(ws.save_project_at(&p, SaveBase::Revision(rev)).is_err());
        assert_eq!(changes(&ws), expected);
        assert!(matches!(
            ws.verify_audit(None).unwrap(),
            AuditVerdict::Intact { entries: 4, .. }
        ));
    }

    #[test]
    fn a_run_is_recorded_when_created_and_once_when_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("w.sqlite")).unwrap();
        ws.save_project(&synthetic::generate("gen", 3, 1), None)
            .unwrap();
        let run = crate::model::RunRecord {
            id: "r1".into(),
            project: "gen".into(),
            selection: "*".into(),
            partition: None,
            target: "local".into(),
            status: RunStatus::Queued,
            trigger: "manual".into(),
            created_at: time::millis(Utc::now()),
            started_at: None,
            ended_at: None,
            error: None,
            allow_failed_upstream: false,
            checks_only: false,
            end_known: true,
        };
        ws.create_run(&run).unwrap();
        ws.append_run_events(
            &run.id,
            0,
            &[crate::model::RunEvent::RunFinished {
                status: RunStatus::Failure,
                error: Some("boom".into()),
            }],
        )
        .unwrap();
        ws.set_run_status(&run.id, RunStatus::Failure, None)
            .unwrap();
        let entries = ws.audit_entries(&AuditFilter::default()).unwrap();
        let kinds: Vec<_> = entries.iter().map(|e| e.action).collect();
        assert_eq!(kinds, [AuditAction::RunFinished, AuditAction::RunStarted]);
        assert_eq!(entries[0].detail["status"], "failure");
        assert_eq!(entries[0].detail["error"], "boom");
        assert_eq!(entries[0].who, os_user());
        assert_eq!(entries[0].place, AuditPlace::Local);
    }

    #[test]
    fn pii_tags_and_schedules_changed_by_a_save_are_recorded_with_the_tag() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("w.sqlite")).unwrap();
        let mut p = synthetic::generate("gen", 3, 1);
        let rev = ws.save_project(&p, None).unwrap();
        let key = p.assets[0].key.clone();
        p.assets[0]
            .pii
            .insert("email".to_owned(), crate::model::PiiKind::Email);
        p.schedules.push(crate::model::ScheduleDefinition::new(
            "nightly",
            "0 6 * * *",
            "*",
        ));
        ws.save_project_at(&p, SaveBase::Revision(rev)).unwrap();
        p.assets[0].pii.clear();
        ws.save_project_at(&p, SaveBase::Revision(rev + 1)).unwrap();
        let subject = format!("{key}.email");
        assert_eq!(
            changes(&ws),
            vec![
                (
                    "schedule_changed".to_owned(),
                    "nightly".to_owned(),
                    "added".to_owned()
                ),
                (
                    "pii_tag_changed".to_owned(),
                    subject.clone(),
                    "added".to_owned()
                ),
                ("pii_tag_changed".to_owned(), subject, "removed".to_owned()),
            ]
        );
        let entries = ws.audit_entries(&AuditFilter::default()).unwrap();
        assert_eq!(entries[0].detail["tag"], "email", "{:?}", entries[0]);
    }

    #[test]
    fn a_run_on_aws_names_its_resource_and_account_or_says_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("w.sqlite")).unwrap();
        ws.save_project(&synthetic::generate("gen", 3, 1), None)
            .unwrap();
        let run = |id: &str| crate::model::RunRecord {
            id: id.into(),
            project: "gen".into(),
            selection: "*".into(),
            partition: None,
            target: "aws".into(),
            status: RunStatus::Queued,
            trigger: "aws:schedule".into(),
            created_at: time::millis(Utc::now()),
            started_at: None,
            ended_at: None,
            error: None,
            allow_failed_upstream: false,
            checks_only: false,
            end_known: true,
        };
        let known = RunOnAws {
            resource: "prod".to_owned(),
            account: Some("123456789012".to_owned()),
        };
        ws.create_aws_run(&run("synced"), &known).unwrap();
        ws.create_aws_run(&run("unknown"), &RunOnAws::named("prod"))
            .unwrap();
        let entries = ws.audit_entries(&AuditFilter::default()).unwrap();
        let place = |subject: &str| {
            entries
                .iter()
                .find(|e| e.subject == subject)
                .map(|e| e.place.clone())
                .unwrap()
        };
        assert_eq!(
            place("synced"),
            AuditPlace::Aws {
                resource: "prod".to_owned(),
                region: None,
                account: Some("123456789012".to_owned()),
                tier: "stepfunctions".to_owned(),
            }
        );
        let unknown = place("unknown");
        assert!(
            matches!(&unknown, AuditPlace::Aws { account: None, .. }),
            "{unknown:?}"
        );
        assert!(unknown.to_string().contains("account unknown"), "{unknown}");
    }
}
