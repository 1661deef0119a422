//! Assets' schema contracts (`assets.contract`, `model::contract::Contract` as JSON) and SQL
//! unit tests (`assets.unit_tests`, a JSON array), written and read beside the asset rows; a
//! workspace older than a column keeps none.

use std::path::Path;

use rusqlite::{Connection, params};

use super::{StoreError, classify};
use crate::model::Project;
use crate::model::contract::Contract;
use crate::model::unit_test::UnitTest;

/// The schema version that added `assets.contract`.
const CONTRACT_MIGRATION: i64 = 15;

fn has_column(conn: &Connection, path: &Path) -> Result<bool, StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| classify(path, "read asset contracts", e))?;
    Ok(version >= CONTRACT_MIGRATION)
}

/// Writes each asset's contract (NULL: none) inside the save's transaction, after its rows.
pub(super) fn write_contracts(
    tx: &Connection,
    path: &Path,
    project_id: i64,
    project: &Project,
) -> Result<(), StoreError> {
    if !has_column(tx, path)? {
        return Ok(());
    }
    let mut update = tx
        .prepare_cached("UPDATE assets SET contract = ?3 WHERE project_id = ?1 AND position = ?2")
        .map_err(|e| classify(path, "save asset contracts", e))?;
    for (pos, a) in project.assets.iter().enumerate() {
        if let Some(c) = &a.contract {
            update
                .execute(params![project_id, pos as i64, super::json(c)])
                .map_err(|e| classify(path, "save asset contracts", e))?;
        }
    }
    if !has_tests_column(tx, path)? {
        return Ok(());
    }
    let mut update = tx
        .prepare_cached("UPDATE assets SET unit_tests = ?3 WHERE project_id = ?1 AND position = ?2")
        .map_err(|e| classify(path, "save asset unit tests", e))?;
    for (pos, a) in project.assets.iter().enumerate() {
        if !a.tests.is_empty() {
            update
                .execute(params![project_id, pos as i64, super::json(&a.tests)])
                .map_err(|e| classify(path, "save asset unit tests", e))?;
        }
    }
    Ok(())
}

/// The schema version that added `assets.unit_tests`.
const UNIT_TESTS_MIGRATION: i64 = 17;

fn has_tests_column(conn: &Connection, path: &Path) -> Result<bool, StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| classify(path, "read asset unit tests", e))?;
    Ok(version >= UNIT_TESTS_MIGRATION)
}

/// Reads each asset's unit tests into the project's assets (read in position order).
pub(super) fn read_unit_tests(
    conn: &Connection,
    path: &Path,
    project_id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    if !has_tests_column(conn, path)? {
        return Ok(());
    }
    let sql = |e| classify(path, "load asset unit tests", e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT position, unit_tests FROM assets
             WHERE project_id = ?1 AND unit_tests IS NOT NULL ORDER BY position",
        )
        .map_err(sql)?;
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
        asset.tests =
            super::decode::<Vec<UnitTest>>(path, || format!("unit tests of asset {key}"), &text)?;
    }
    Ok(())
}

/// Reads each asset's contract into the project's assets (read in position order).
pub(super) fn read_contracts(
    conn: &Connection,
    path: &Path,
    project_id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    if !has_column(conn, path)? {
        return Ok(());
    }
    let sql = |e| classify(path, "load asset contracts", e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT position, contract FROM assets
             WHERE project_id = ?1 AND contract IS NOT NULL ORDER BY position",
        )
        .map_err(sql)?;
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
        asset.contract = Some(super::decode::<Contract>(
            path,
            || format!("contract of asset {key}"),
            &text,
        )?);
    }
    Ok(())
}
