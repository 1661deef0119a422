//! The cursor of `medallion sync` per deployed state machine (`deploy_sync_cursors`): the
//! start time from which its executions are listed next time. Every execution that started
//! before it is in the run history, so a sync reads only what is newer (and what was still
//! running last time), however long the state machine's history grows.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension as _, params};

use super::{StoreError, Workspace, classify, times};

impl Workspace {
    /// Where the next sync of `state_machine_arn` starts listing, if it was synced before.
    pub fn deploy_sync_cursor(
        &self,
        state_machine_arn: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let path = &self.path;
        let sql = |e| classify(path, "read the sync cursor of a deployed state machine", e);
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT started_from FROM deploy_sync_cursors WHERE state_machine_arn = ?1",
                [state_machine_arn],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        text.map(|t| {
            times::stored_time(
                path,
                || format!("the sync cursor of {state_machine_arn}"),
                &t,
            )
        })
        .transpose()
    }

    /// Records that every execution of `state_machine_arn` started before `started_from` is
    /// in the run history.
    pub fn set_deploy_sync_cursor(
        &mut self,
        project: &str,
        state_machine_arn: &str,
        started_from: &DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let path = &self.path;
        let sql = |e| classify(path, "write the sync cursor of a deployed state machine", e);
        self.conn
            .execute(
                "INSERT INTO deploy_sync_cursors (state_machine_arn, project, started_from, synced_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (state_machine_arn) DO UPDATE
                 SET project = excluded.project, started_from = excluded.started_from,
                     synced_at = excluded.synced_at",
                params![
                    state_machine_arn,
                    project,
                    times::text(started_from),
                    times::now()
                ],
            )
            .map_err(sql)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_none_until_set_and_moves_when_set_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("ws.sqlite")).unwrap();
        let arn = "arn:aws:states:us-east-1:1:stateMachine:medallion-shop";
        assert_eq!(ws.deploy_sync_cursor(arn).unwrap(), None);
        let t1 = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        ws.set_deploy_sync_cursor("shop", arn, &t1).unwrap();
        assert_eq!(ws.deploy_sync_cursor(arn).unwrap(), Some(t1));
        let t2 = DateTime::from_timestamp_millis(1_700_000_100_000).unwrap();
        ws.set_deploy_sync_cursor("shop", arn, &t2).unwrap();
        assert_eq!(ws.deploy_sync_cursor(arn).unwrap(), Some(t2));
        assert_eq!(ws.deploy_sync_cursor("arn:other").unwrap(), None);
    }
}
