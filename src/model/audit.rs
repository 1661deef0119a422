//! The audit log's vocabulary: what kinds of action are recorded, where they happened, and an
//! entry as it is read back. The workspace keeps the entries in a hash chain
//! (`store::audit`); a new kind of action (a deploy, a masking policy change, "show
//! unmasked") is a new [`AuditAction`] variant and nothing more.

use chrono::{DateTime, Utc};

/// What an audit entry records. Stored as its [`AuditAction::as_str`] name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A run was recorded (local or remote), before its first step.
    RunStarted,
    /// A run ended: its status, and its costs where known.
    RunFinished,
    /// A secret was stored in the OS keyring (its name only, never its value).
    SecretSet,
    /// A secret was deleted from the OS keyring (its name only).
    SecretDeleted,
    /// A resource of a project was added, changed or removed.
    ResourceChanged,
    /// A schedule or sensor was added, changed, removed, or switched on or off.
    ScheduleChanged,
    /// An alert target or rule was added, changed or removed.
    AlertChanged,
    /// A project was written to a directory (`medallion export`).
    ProjectExported,
    /// A run's report was written as HTML or JSON.
    ReportExported,
    /// Materialized outputs were written out as Parquet and CSV (`--export`).
    OutputsExported,
    /// Retention deleted history: a run's rows, or materialization files.
    RetentionDeleted,
    /// A project's `[retention]` rules for run history changed.
    RetentionChanged,
    /// A masking policy bound to a PII tag was added, changed or removed.
    MaskingChanged,
    /// Someone chose to see personal data unmasked (the studio's "Show unmasked").
    UnmaskedShown,
    /// A project was deployed to AWS (`medallion deploy`): what was created, changed, deleted.
    Deployed,
    /// A project's deployment was removed from AWS (`medallion undeploy`).
    Undeployed,
    /// A column's PII tag was added (e.g. a detector's proposal accepted), changed or removed.
    PiiTagChanged,
    /// A detector's proposal for a column was dismissed: the column is not that kind of
    /// personal data.
    PiiDismissed,
    /// A dismissal was taken back: the detector's proposal for the column is open again.
    PiiRestored,
}

impl AuditAction {
    /// Every kind, in the order the studio's filter lists them.
    pub const ALL: [AuditAction; 19] = [
        Self::RunStarted,
        Self::RunFinished,
        Self::SecretSet,
        Self::SecretDeleted,
        Self::ResourceChanged,
        Self::ScheduleChanged,
        Self::AlertChanged,
        Self::ProjectExported,
        Self::ReportExported,
        Self::OutputsExported,
        Self::RetentionDeleted,
        Self::RetentionChanged,
        Self::MaskingChanged,
        Self::UnmaskedShown,
        Self::Deployed,
        Self::Undeployed,
        Self::PiiTagChanged,
        Self::PiiDismissed,
        Self::PiiRestored,
    ];

    /// The stored and printed name (`run_started`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunStarted => "run_started",
            Self::RunFinished => "run_finished",
            Self::SecretSet => "secret_set",
            Self::SecretDeleted => "secret_deleted",
            Self::ResourceChanged => "resource_changed",
            Self::ScheduleChanged => "schedule_changed",
            Self::AlertChanged => "alert_changed",
            Self::ProjectExported => "project_exported",
            Self::ReportExported => "report_exported",
            Self::OutputsExported => "outputs_exported",
            Self::RetentionDeleted => "retention_deleted",
            Self::RetentionChanged => "retention_changed",
            Self::MaskingChanged => "masking_changed",
            Self::UnmaskedShown => "unmasked_shown",
            Self::Deployed => "deployed",
            Self::Undeployed => "undeployed",
            Self::PiiTagChanged => "pii_tag_changed",
            Self::PiiDismissed => "pii_dismissed",
            Self::PiiRestored => "pii_restored",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an action happened.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AuditPlace {
    /// On this machine (a local run, the OS keyring, a file written here, the workspace).
    Local,
    /// On AWS, through a project's `aws` resource; the account is `None` when it is not known
    /// at the time of the entry.
    Aws {
        resource: String,
        region: Option<String>,
        account: Option<String>,
        /// The tiers the steps run on (`fargate+lambda`).
        tier: String,
    },
}

impl std::fmt::Display for AuditPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::Aws {
                resource,
                region,
                account,
                tier,
            } => write!(
                f,
                "aws {tier} (resource {resource}, region {}, account {})",
                region.as_deref().unwrap_or("default"),
                account.as_deref().unwrap_or("unknown")
            ),
        }
    }
}

/// An entry to append: the store adds the time, the OS user and the chain's hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub action: AuditAction,
    /// The project it concerns; `None` for what belongs to the machine (a keyring secret).
    pub project: Option<String>,
    /// What it acted on: a run id, a secret's name, a resource's name, a file path.
    pub subject: String,
    pub place: AuditPlace,
    pub estimated_usd: Option<f64>,
    pub actual_usd: Option<f64>,
    /// A small JSON object with what else is worth knowing (a run's status, a change's kind).
    pub detail: serde_json::Value,
}

impl NewAuditEntry {
    /// A local entry with no costs.
    pub fn local(
        action: AuditAction,
        project: Option<&str>,
        subject: impl Into<String>,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            action,
            project: project.map(str::to_owned),
            subject: subject.into(),
            place: AuditPlace::Local,
            estimated_usd: None,
            actual_usd: None,
            detail,
        }
    }
}

/// An entry as stored: numbered from 1 in the order written.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    #[serde(with = "super::time")]
    pub at: DateTime<Utc>,
    /// The OS user of the process that wrote it.
    pub who: String,
    pub action: AuditAction,
    pub project: Option<String>,
    pub subject: String,
    #[serde(rename = "where")]
    pub place: AuditPlace,
    pub estimated_usd: Option<f64>,
    pub actual_usd: Option<f64>,
    pub detail: serde_json::Value,
    /// This entry's hash (SHA-256, hex), which the next entry holds.
    pub hash: String,
}

/// What a walk over the chain found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum AuditVerdict {
    /// Every entry matches its hash and follows the one before it.
    Intact {
        entries: u64,
        /// The newest entry's hash: kept elsewhere, it lets a later verify prove the chain was
        /// not rewritten from the start.
        head: Option<String>,
    },
    /// The first entry that is not what was written.
    Broken { seq: i64, problem: AuditBreak },
}

/// How an entry is broken.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditBreak {
    /// Its contents no longer match its hash: it was edited after it was written.
    Edited,
    /// It is gone: the entry after it follows a different one.
    Missing,
    /// It does not follow the entry before it: entries were reordered or renumbered.
    OutOfPlace { after: i64 },
    /// The newest entries are gone (`last` is the newest still there; 0: none is).
    TailMissing { last: i64 },
}

impl AuditVerdict {
    /// One sentence: the count, or the first broken entry and what is wrong with it.
    pub fn sentence(&self) -> String {
        match self {
            Self::Intact { entries, head } => format!(
                "audit log intact: {entries} entr{} verified{}",
                if *entries == 1 { "y" } else { "ies" },
                head.as_deref()
                    .map(|h| format!(", newest hash {h}"))
                    .unwrap_or_default()
            ),
            Self::Broken { seq, problem } => match problem {
                AuditBreak::Edited => format!(
                    "audit log broken at entry {seq}: its contents no longer match its hash (edited after it was written)"
                ),
                AuditBreak::Missing => {
                    format!("audit log broken at entry {seq}: the entry is missing (deleted)")
                }
                AuditBreak::OutOfPlace { after } => format!(
                    "audit log broken at entry {seq}: it does not follow entry {after} (entries reordered, renumbered or removed)"
                ),
                AuditBreak::TailMissing { last } => format!(
                    "audit log broken at entry {seq}: it and any later entries are missing (deleted; the newest left is {last})"
                ),
            },
        }
    }
}

/// A `--since` that is neither a date, a time nor a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a date (2026-12-01), an RFC 3339 time (2026-12-01T08:00:00Z) or a duration (30m, 12h, 7d, 2w)"
)]
pub struct NotASince(pub String);

/// The start of a `--since` window: a date (midnight UTC), an RFC 3339 time, or a duration
/// back from `now` (`30m`, `12h`, `7d`, `2w`).
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, NotASince> {
    let t = text.trim();
    let bad = || NotASince(text.to_owned());
    if let Ok(time) = super::time::parse(t) {
        return Ok(time);
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .ok_or_else(bad);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = t.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let span = match unit.trim() {
        "m" | "min" => chrono::Duration::try_minutes(n),
        "h" => chrono::Duration::try_hours(n),
        "d" => chrono::Duration::try_days(n),
        "w" => chrono::Duration::try_weeks(n),
        _ => None,
    }
    .ok_or_else(bad)?;
    now.checked_sub_signed(span).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_dates_times_and_durations_and_refuses_the_rest() {
        let now = super::super::time::parse("2026-12-06T12:00:00Z").unwrap();
        let at = |s: &str| super::super::time::text(&parse_since(s, now).unwrap());
        assert_eq!(at("2026-12-01"), "2026-12-01T00:00:00.000Z");
        assert_eq!(at("2026-12-05T08:30:00Z"), "2026-12-05T08:30:00.000Z");
        assert_eq!(at("7d"), "2026-11-29T12:00:00.000Z");
        assert_eq!(at("12h"), "2026-12-06T00:00:00.000Z");
        assert_eq!(at("30m"), "2026-12-06T11:30:00.000Z");
        assert_eq!(at("2w"), "2026-11-22T12:00:00.000Z");
        for bad in ["", "yesterday", "7", "7y", "d", "2026-13-01"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_action_reads_back_from_its_name() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::Value::String(a.as_str().into())
            );
        }
        assert_eq!(AuditAction::parse("deploy"), None);
    }

    #[test]
    fn a_broken_chain_names_its_entry() {
        let v = AuditVerdict::Broken {
            seq: 4,
            problem: AuditBreak::OutOfPlace { after: 2 },
        };
        assert!(v.sentence().contains("entry 4"), "{}", v.sentence());
        assert!(v.sentence().contains("entry 2"), "{}", v.sentence());
    }
}
