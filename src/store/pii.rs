//! PII proposals dismissed in the studio (`pii_dismissals`): a column a detector thought was
//! personal data and the engineer said is not. Kept per project name, so the proposal does not
//! come back after a restart or a re-import; each dismissal is an audit entry written in the
//! same transaction.

use std::collections::BTreeSet;

use rusqlite::params;

use super::{StoreError, Workspace, classify, times};
use crate::model::pii::Detected;
use crate::model::{AssetKey, AuditAction, NewAuditEntry};

/// One dismissed proposal: `column` of `asset` is not `kind`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PiiDismissal {
    pub asset: AssetKey,
    pub column: String,
    pub kind: Detected,
}

impl Workspace {
    /// Remembers that a proposal was dismissed (again is a no-op), with its audit entry.
    pub fn dismiss_pii(&mut self, project: &str, d: &PiiDismissal) -> Result<(), StoreError> {
        self.set_pii_dismissed(project, d, true)
    }

    /// Forgets a dismissal (one not kept is a no-op), with its audit entry: the proposal is
    /// open again.
    pub fn restore_pii(&mut self, project: &str, d: &PiiDismissal) -> Result<(), StoreError> {
        self.set_pii_dismissed(project, d, false)
    }

    /// Keeps or forgets a dismissal; a change is audited in the same transaction.
    fn set_pii_dismissed(
        &mut self,
        project: &str,
        d: &PiiDismissal,
        dismissed: bool,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let (what, action) = if dismissed {
            ("dismiss a PII proposal", AuditAction::PiiDismissed)
        } else {
            (
                "propose a dismissed PII proposal again",
                AuditAction::PiiRestored,
            )
        };
        let sql = |e| classify(&path, what, e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let changed = if dismissed {
            tx.execute(
                "INSERT OR IGNORE INTO pii_dismissals (project, asset, column_name, kind, dismissed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    project,
                    d.asset.as_str(),
                    d.column,
                    d.kind.id(),
                    times::now()
                ],
            )
        } else {
            tx.execute(
                "DELETE FROM pii_dismissals
                 WHERE project = ?1 AND asset = ?2 AND column_name = ?3 AND kind = ?4",
                params![project, d.asset.as_str(), d.column, d.kind.id()],
            )
        }
        .map_err(sql)?;
        if changed > 0 {
            super::audit::append(
                &tx,
                &path,
                &NewAuditEntry::local(
                    action,
                    Some(project),
                    format!("{}.{}", d.asset, d.column),
                    serde_json::json!({ "proposal": d.kind.id() }),
                ),
            )?;
        }
        tx.commit().map_err(sql)?;
        Ok(())
    }

    /// The proposals dismissed in a project.
    pub fn pii_dismissals(&self, project: &str) -> Result<BTreeSet<PiiDismissal>, StoreError> {
        let path = &self.path;
        let sql = |e| classify(path, "read dismissed PII proposals", e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT asset, column_name, kind FROM pii_dismissals WHERE project = ?1",
            )
            .map_err(sql)?;
        let rows: Vec<(String, String, String)> = stmt
            .query_map([project], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(Iterator::collect)
            .map_err(sql)?;
        rows.into_iter()
            .map(|(asset, column, kind)| {
                let kind = Detected::from_id(&kind).ok_or_else(|| StoreError::Decode {
                    path: path.clone(),
                    what: format!("dismissed PII proposal of {asset}.{column}"),
                    detail: format!("unknown kind `{kind}`"),
                })?;
                Ok(PiiDismissal {
                    asset: AssetKey::new(asset),
                    column,
                    kind,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dismissal_is_kept_once_and_audited_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("ws.sqlite")).unwrap();
        let d = PiiDismissal {
            asset: AssetKey::new("raw"),
            column: "first_name".to_owned(),
            kind: Detected::PersonName,
        };
        ws.dismiss_pii("p", &d).unwrap();
        ws.dismiss_pii("p", &d).unwrap();
        assert_eq!(ws.pii_dismissals("p").unwrap(), BTreeSet::from([d]));
        assert!(ws.pii_dismissals("other").unwrap().is_empty());
        let entries = ws
            .audit_entries(&crate::store::AuditFilter {
                project: Some("p"),
                action: Some(AuditAction::PiiDismissed),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].subject, "raw.first_name");
        assert_eq!(entries[0].detail["proposal"], "person_name");
    }
}
