//! A project's masking policies (`projects.masking`, JSON), written and read with the project.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;
use super::project_json::JsonColumn;
use crate::model::Project;
use crate::model::masking::MaskingPolicies;

const COLUMN: JsonColumn = JsonColumn {
    column: "masking",
    migration: 16,
    what: "masking policies",
    read_op: "read masking policies",
    save_op: "save masking policies",
    load_op: "load masking policies",
};

/// Writes a project's masking policies inside the save's transaction (NULL: none).
pub(super) fn write_masking(
    tx: &Connection,
    path: &Path,
    project_id: i64,
    project: &Project,
) -> Result<(), StoreError> {
    let value = (!project.masking.is_empty()).then_some(&project.masking);
    COLUMN.write(tx, path, project_id, value)
}

/// Reads a project's masking policies.
pub(super) fn read_masking(
    conn: &Connection,
    path: &Path,
    project_id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    if let Some(m) = COLUMN.read::<MaskingPolicies>(conn, path, project_id, &project.name)? {
        project.masking = m;
    }
    Ok(())
}
