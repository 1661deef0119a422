//! Retention of run history rows: a project's retention settings (`projects.retention`), what
//! retention must know of each run (is it finished, failed, needed by something kept), and
//! deleting a run's rows with its audit entry in one transaction. The rules themselves are
//! `model::retention`.

use std::path::Path;

use rusqlite::Connection;

use super::project_json::JsonColumn;
use super::{StoreError, Workspace, classify};
use crate::model::{AuditAction, NewAuditEntry, Project, RunExpiry, RunFacts, RunRetention};

const COLUMN: JsonColumn = JsonColumn {
    column: "retention",
    migration: 14,
    what: "retention settings",
    read_op: "read retention settings",
    save_op: "save retention settings",
    load_op: "load retention settings",
};

/// Writes a project's retention settings inside the save's transaction (NULL: the defaults).
pub(super) fn write_retention(
    tx: &Connection,
    path: &Path,
    project_id: i64,
    project: &Project,
) -> Result<(), StoreError> {
    let value = (!project.retention.is_default()).then_some(&project.retention);
    COLUMN.write(tx, path, project_id, value)
}

/// Reads a project's retention settings.
pub(super) fn read_retention(
    conn: &Connection,
    path: &Path,
    project_id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    if let Some(r) = COLUMN.read::<RunRetention>(conn, path, project_id, &project.name)? {
        project.retention = r;
    }
    Ok(())
}

/// Why a run is needed, in SQL: a materialization whose file is kept, the newest evaluation of
/// a check (what the status shows), an alert for it not yet sent.
const NEEDED_BY: &str = "CASE
    WHEN EXISTS (SELECT 1 FROM materializations m WHERE m.run_id = r.id AND m.purged_at IS NULL)
        THEN 'a kept materialization'
    WHEN EXISTS (SELECT 1 FROM check_evaluations c WHERE c.run_id = r.id AND NOT EXISTS (
            SELECT 1 FROM check_evaluations n JOIN runs nr ON nr.id = n.run_id
            WHERE nr.project_id = r.project_id AND n.asset_key = c.asset_key
              AND coalesce(n.partition_key, '') = coalesce(c.partition_key, '')
              AND n.check_name = c.check_name AND n.id > c.id))
        THEN 'the newest result of a check'
    WHEN EXISTS (SELECT 1 FROM alert_run_outbox o WHERE o.run_id = r.id AND o.done_at IS NULL)
        THEN 'an alert not yet sent'
    END";

impl Workspace {
    /// What retention knows of each run of a project, newest first.
    pub fn run_history_facts(&self, project: &str) -> Result<Vec<RunFacts>, StoreError> {
        let path = &self.path;
        let sql = |e| classify(path, "list runs for retention", e);
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT r.id, r.created_at, r.status, {NEEDED_BY}
                 FROM runs r JOIN projects p ON p.id = r.project_id
                 WHERE p.name = ?1
                 ORDER BY r.created_at DESC, r.id DESC"
            ))
            .map_err(sql)?;
        let rows: Vec<(String, String, String, Option<String>)> = stmt
            .query_map([project], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .and_then(Iterator::collect)
            .map_err(sql)?;
        rows.into_iter()
            .map(|(id, created, status, needed_by)| {
                Ok(RunFacts {
                    created_at: super::times::stored_time(
                        path,
                        || format!("the created_at of run {id}"),
                        &created,
                    )?,
                    id: id.into(),
                    finished: matches!(status.as_str(), "success" | "failure" | "canceled"),
                    failed: matches!(status.as_str(), "failure" | "canceled"),
                    needed_by,
                })
            })
            .collect()
    }

    /// Deletes these runs' rows (events, materialization rows, check evaluations, costs,
    /// remote steps) with one audit entry each, in one transaction. A run that is meanwhile
    /// unfinished or needed stays. Returns the runs deleted.
    pub fn delete_run_history(
        &mut self,
        project: &str,
        expired: &[RunExpiry],
    ) -> Result<Vec<RunExpiry>, StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "delete run history", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let mut deleted = Vec::new();
        for e in expired {
            let gone = tx
                .execute(
                    &format!(
                        "DELETE FROM runs AS r WHERE r.id = ?1
                           AND r.status IN ('success', 'failure', 'canceled')
                           AND ({NEEDED_BY}) IS NULL"
                    ),
                    [&e.run_id],
                )
                .map_err(sql)?;
            if gone == 0 {
                continue;
            }
            tx.execute(
                "DELETE FROM alert_run_outbox WHERE run_id = ?1",
                [&e.run_id],
            )
            .map_err(sql)?;
            super::audit::append(
                &tx,
                &path,
                &NewAuditEntry::local(
                    AuditAction::RetentionDeleted,
                    Some(project),
                    e.run_id.as_str(),
                    serde_json::json!({ "what": "run history", "reason": e.reason }),
                ),
            )?;
            deleted.push(e.clone());
        }
        tx.commit().map_err(sql)?;
        Ok(deleted)
    }
}
