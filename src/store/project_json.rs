//! A JSON column that a migration added — of `projects` (retention settings, masking
//! policies) or of `assets` (contracts, unit tests): written inside the save's transaction and
//! read with the project; a workspace older than the column keeps none.

use std::path::Path;

use rusqlite::{Connection, params};

use super::{StoreError, classify};
use crate::model::{AssetSpec, Project};

pub(super) struct JsonColumn {
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

impl JsonColumn {
    fn present(&self, conn: &Connection, path: &Path) -> Result<bool, StoreError> {
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| classify(path, self.read_op, e))?;
        Ok(version >= self.migration)
    }

    /// Writes the project's `value` (`None`: NULL, the default) to `projects`.
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

    /// Reads the project's value from `projects`; `None` for NULL or a workspace older than
    /// the column.
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

    /// Writes one value per asset of `assets`, in position order (`None` leaves NULL).
    pub fn write_assets<'a, T: serde::Serialize + 'a>(
        &self,
        tx: &Connection,
        path: &Path,
        project_id: i64,
        values: impl IntoIterator<Item = Option<&'a T>>,
    ) -> Result<(), StoreError> {
        if !self.present(tx, path)? {
            return Ok(());
        }
        let sql = format!(
            "UPDATE assets SET {} = ?3 WHERE project_id = ?1 AND position = ?2",
            self.column
        );
        let mut update = tx
            .prepare_cached(&sql)
            .map_err(|e| classify(path, self.save_op, e))?;
        for (pos, value) in values.into_iter().enumerate() {
            if let Some(value) = value {
                update
                    .execute(params![project_id, pos as i64, super::json(value)])
                    .map_err(|e| classify(path, self.save_op, e))?;
            }
        }
        Ok(())
    }

    /// Reads each asset's value from `assets` (in position order) and hands it to `set`.
    pub fn read_assets<T: serde::de::DeserializeOwned>(
        &self,
        conn: &Connection,
        path: &Path,
        project_id: i64,
        project: &mut Project,
        mut set: impl FnMut(&mut AssetSpec, T),
    ) -> Result<(), StoreError> {
        if !self.present(conn, path)? {
            return Ok(());
        }
        let sql = |e| classify(path, self.load_op, e);
        let query = format!(
            "SELECT position, {0} FROM assets
             WHERE project_id = ?1 AND {0} IS NOT NULL ORDER BY position",
            self.column
        );
        let mut stmt = conn.prepare_cached(&query).map_err(sql)?;
        let rows = stmt
            .query_map([project_id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(sql)?;
        for row in rows {
            let (pos, text) = row.map_err(sql)?;
            let Some(asset) = usize::try_from(pos)
                .ok()
                .and_then(|p| project.assets.get_mut(p))
            else {
                continue;
            };
            let key = asset.key.clone();
            let value =
                super::decode::<T>(path, || format!("{} of asset {key}", self.what), &text)?;
            set(asset, value);
        }
        Ok(())
    }
}
