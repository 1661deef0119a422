//! A project's canvas extras (`projects.canvas`, JSON): the groups collapsed into one card and
//! the notes on the canvas, written and read with the project beside its positions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::Connection;

use super::StoreError;
use super::project_json::JsonColumn;
use crate::model::{CanvasNote, Project};

const COLUMN: JsonColumn = JsonColumn {
    column: "canvas",
    migration: 20,
    what: "canvas groups and notes",
    read_op: "read canvas groups and notes",
    save_op: "save canvas groups and notes",
    load_op: "load canvas groups and notes",
};

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct CanvasColumn {
    #[serde(default)]
    collapsed_groups: BTreeSet<String>,
    #[serde(default)]
    notes: BTreeMap<String, CanvasNote>,
}

/// Writes the collapsed groups and notes inside the save's transaction (NULL: none).
pub(super) fn write_canvas(
    tx: &Connection,
    path: &Path,
    project_id: i64,
    project: &Project,
) -> Result<(), StoreError> {
    let layout = &project.layout;
    let value =
        (!layout.collapsed_groups.is_empty() || !layout.notes.is_empty()).then(|| CanvasColumn {
            collapsed_groups: layout.collapsed_groups.clone(),
            notes: layout.notes.clone(),
        });
    COLUMN.write(tx, path, project_id, value.as_ref())
}

/// Reads the collapsed groups and notes.
pub(super) fn read_canvas(
    conn: &Connection,
    path: &Path,
    project_id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    if let Some(c) = COLUMN.read::<CanvasColumn>(conn, path, project_id, &project.name)? {
        project.layout.collapsed_groups = c.collapsed_groups;
        project.layout.notes = c.notes;
    }
    Ok(())
}
