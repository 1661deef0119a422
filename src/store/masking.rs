//! A project's masking policies (`projects.masking`, JSON), written and read with the project.

use std::path::Path;

use rusqlite::{Connection, params};

use super::{StoreError, classify};
use crate::model::Project;
use crate::model::masking::MaskingPolicies;

/// The schema version that added `projects.masking`.
const MASKING_MIGRATION: i64 = 16;

fn has_column(conn: &Connection, path: &Path) -> Result<bool, StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| classify(path, "read masking policies", e))?;
    Ok(version >= MASKING_MIGRATION)
}

/// Writes a project's masking policies inside the save's transaction (NULL: none).
pub(super) fn write_masking(
    tx: &Connection,
    path: &Path,
    project_id: i64,
    project: &Project,
) -> Result<(), StoreError> {
    if !has_column(tx, path)? {
        return Ok(());
    }
    let text = (!project.masking.is_empty()).then(|| super::json(&project.masking));
    tx.execute(
        "UPDATE projects SET masking = ?2 WHERE id = ?1",
        params![project_id, text],
    )
    .map_err(|e| classify(path, "save masking policies", e))?;
    Ok(())
}

/// Reads a project's masking policies.
pub(super) fn read_masking(
    conn: &Connection,
    path: &Path,
    project_id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    if !has_column(conn, path)? {
        return Ok(());
    }
    let text: Option<String> = conn
        .query_row(
            "SELECT masking FROM projects WHERE id = ?1",
            [project_id],
            |r| r.get(0),
        )
        .map_err(|e| classify(path, "load masking policies", e))?;
    if let Some(text) = text {
        project.masking = super::decode::<MaskingPolicies>(
            path,
            || format!("masking policies of project {}", project.name),
            &text,
        )?;
    }
    Ok(())
}
