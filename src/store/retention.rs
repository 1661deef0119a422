//! Retention of materialization files: which stored files are beyond the newest few of their
//! asset and partition, and marking them removed. The rows stay, so row counts over time and
//! run history keep working; only the data files go.

use rusqlite::params;

use super::{StoreError, Workspace, classify};
use crate::model::RunId;
use crate::model::{AssetKey, AuditAction, NewAuditEntry};

/// A materialization's stored file, as retention sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    pub id: i64,
    pub asset: AssetKey,
    pub partition: Option<String>,
    pub run_id: RunId,
    pub location: String,
    pub byte_count: u64,
}

impl Workspace {
    /// The local materializations of a project beyond the newest `keep` of each asset and
    /// partition whose files have not been removed yet, oldest first. The newest one of each is
    /// never among them (`keep` counts as at least 1), nor one that was the newest when a run
    /// of the project still queued or going began (that run may read it), nor a remote
    /// (`s3://`) one.
    pub fn materializations_beyond(
        &self,
        project: &str,
        keep: usize,
    ) -> Result<Vec<StoredFile>, StoreError> {
        let keep = i64::try_from(keep.max(1)).unwrap_or(i64::MAX);
        let mut stmt = self
            .conn
            .prepare(
                "WITH live AS (
                    SELECT min(r.created_at) AS since FROM runs r
                    JOIN projects p ON p.id = r.project_id
                    WHERE p.name = ?1 AND r.status IN ('queued', 'starting', 'started', 'canceling'))
                 SELECT id, asset_key, partition_key, run_id, location, byte_count FROM (
                    SELECT m.id, m.asset_key, m.partition_key, m.run_id, m.location, m.byte_count,
                           m.purged_at,
                           row_number() OVER (PARTITION BY m.asset_key, coalesce(m.partition_key, '')
                                              ORDER BY m.id DESC) AS newer
                    FROM materializations m JOIN runs r ON r.id = m.run_id
                    JOIN projects p ON p.id = r.project_id
                    WHERE p.name = ?1) x
                 WHERE newer > ?2 AND purged_at IS NULL AND location NOT LIKE 's3://%'
                   AND ((SELECT since FROM live) IS NULL OR EXISTS (
                        SELECT 1 FROM materializations n
                        WHERE n.asset_key = x.asset_key
                          AND coalesce(n.partition_key, '') = coalesce(x.partition_key, '')
                          AND n.id > x.id AND n.created_at <= (SELECT since FROM live)))
                 ORDER BY id",
            )
            .map_err(|e| classify(&self.path, "list old materializations", e))?;
        stmt.query_map(params![project, keep], |r| {
            Ok(StoredFile {
                id: r.get(0)?,
                asset: AssetKey::new(r.get::<_, String>(1)?),
                partition: r.get(2)?,
                run_id: r.get(3)?,
                location: r.get(4)?,
                byte_count: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
            })
        })
        .and_then(Iterator::collect)
        .map_err(|e| classify(&self.path, "list old materializations", e))
    }

    /// Every materialization a project's runs recorded (files removed or not), as asset,
    /// partition and run: what names a file under the project's store directory.
    pub fn recorded_materializations(
        &self,
        project: &str,
    ) -> Result<Vec<(AssetKey, Option<String>, RunId)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT m.asset_key, m.partition_key, m.run_id FROM materializations m
                 JOIN runs r ON r.id = m.run_id JOIN projects p ON p.id = r.project_id
                 WHERE p.name = ?1",
            )
            .map_err(|e| classify(&self.path, "list materializations", e))?;
        stmt.query_map([project], |r| {
            Ok((AssetKey::new(r.get::<_, String>(0)?), r.get(1)?, r.get(2)?))
        })
        .and_then(Iterator::collect)
        .map_err(|e| classify(&self.path, "list materializations", e))
    }

    /// Records that these materializations' files were removed (at `when`, RFC 3339), each with
    /// its audit entry, in one transaction.
    pub fn mark_purged(
        &mut self,
        project: &str,
        files: &[StoredFile],
        when: &str,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "record removed materializations", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        {
            let mut stmt = tx
                .prepare("UPDATE materializations SET purged_at = ?2 WHERE id = ?1")
                .map_err(sql)?;
            for f in files {
                stmt.execute(params![f.id, when]).map_err(sql)?;
                super::audit::append(
                    &tx,
                    &path,
                    &NewAuditEntry::local(
                        AuditAction::RetentionDeleted,
                        Some(project),
                        f.location.clone(),
                        serde_json::json!({
                            "what": "materialization file",
                            "asset": f.asset.as_str(),
                            "partition": f.partition,
                            "run": f.run_id.as_str(),
                            "bytes": f.byte_count,
                        }),
                    ),
                )?;
            }
        }
        tx.commit().map_err(sql)
    }
}
