//! A JSON column of `projects` that a migration added (retention settings, masking policies):
//! written inside the save's transaction and read with the project; a workspace older than the
//! column keeps none.

use std::path::Path;

use rusqlite::{Connection, params};

use super::{StoreError, classify};

pub(super) struct ProjectJsonColumn {
    pub column: &'static str,
    /// The schema version that added the column.
    pub migration: i64,
    /// What it holds, for messages: "retention settings".
    pub what: &'static str,
    /// The operations named in errors: "read/save/load retention settings".
    pub read_op: &'static str,
    pub save_op: &'static str,
    pub load_op: &'static str,
}

impl ProjectJsonColumn {
    fn present(&self, conn: &Connection, path: &Path) -> Result<bool, StoreError> {
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| classify(path, self.read_op, e))?;
        Ok(version >= self.migration)
    }

    /// Writes `value` (`None`: NULL, the default) for the project.
    pub fn write<T: serde::Serialize>(
        &self,
        tx: &Connection,
        path: &Path,
        project_id: i64,
        value: Option<&T>,
    ) -> Result<(), StoreError> {
        if !self.present(tx, path)? {
            return Ok(());
        }
        let text = value.map(super::json);
        tx.execute(
            &format!("UPDATE projects SET {} = ?2 WHERE id = ?1", self.column),
            params![project_id, text],
        )
        .map_err(|e| classify(path, self.save_op, e))?;
        Ok(())
    }

    /// Reads the project's value; `None` for NULL or a workspace older than the column.
    pub fn read<T: serde::de::DeserializeOwned>(
        &self,
        conn: &Connection,
        path: &Path,
        project_id: i64,
        project_name: &str,
    ) -> Result<Option<T>, StoreError> {
        if !self.present(conn, path)? {
            return Ok(None);
        }
        let text: Option<String> = conn
            .query_row(
                &format!("SELECT {} FROM projects WHERE id = ?1", self.column),
                [project_id],
                |r| r.get(0),
            )
            .map_err(|e| classify(path, self.load_op, e))?;
        text.map(|t| {
            super::decode::<T>(
                path,
                || format!("{} of project {project_name}", self.what),
                &t,
            )
        })
        .transpose()
    }
}
