//! Assets' schema contracts (`assets.contract`, `model::contract::Contract` as JSON) and SQL
//! unit tests (`assets.unit_tests`, a JSON array), written and read beside the asset rows; a
//! workspace older than a column keeps none.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;
use super::project_json::JsonColumn;
use crate::model::Project;
use crate::model::contract::Contract;
use crate::model::unit_test::UnitTest;

const CONTRACTS: JsonColumn = JsonColumn {
    column: "contract",
    migration: 15,
    what: "contract",
    read_op: "read asset contracts",
    save_op: "save asset contracts",
    load_op: "load asset contracts",
};

const UNIT_TESTS: JsonColumn = JsonColumn {
    column: "unit_tests",
    migration: 17,
    what: "unit tests",
    read_op: "read asset unit tests",
    save_op: "save asset unit tests",
    load_op: "load asset unit tests",
};

/// Writes each asset's contract and unit tests (NULL: none) inside the save's transaction,
/// after its rows.
pub(super) fn write_contracts(
    tx: &Connection,
    path: &Path,
    project_id: i64,
    project: &Project,
) -> Result<(), StoreError> {
    let contracts = project.assets.iter().map(|a| a.contract.as_ref());
    CONTRACTS.write_assets(tx, path, project_id, contracts)?;
    let tests = project
        .assets
        .iter()
        .map(|a| (!a.tests.is_empty()).then_some(&a.tests));
    UNIT_TESTS.write_assets(tx, path, project_id, tests)
}

/// Reads each asset's unit tests into the project's assets.
pub(super) fn read_unit_tests(
    conn: &Connection,
    path: &Path,
    project_id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    UNIT_TESTS.read_assets(
        conn,
        path,
        project_id,
        project,
        |asset, tests: Vec<UnitTest>| {
            asset.tests = tests;
        },
    )
}

/// Reads each asset's contract into the project's assets.
pub(super) fn read_contracts(
    conn: &Connection,
    path: &Path,
    project_id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    CONTRACTS.read_assets(conn, path, project_id, project, |asset, c: Contract| {
        asset.contract = Some(c);
    })
}
