//! The audit log as the CLI and the studio see it: entries listed and the chain verified, and
//! entries for what happens outside the workspace (keyring secrets, files written). Changes the
//! workspace stores record their own entries in the same transaction (`store::audit`).

use std::path::Path;

use super::AppError;
use crate::model::{AuditAction, AuditEntry, AuditVerdict, NewAuditEntry};
use crate::store::Workspace;

pub use crate::store::{AuditFilter, os_user};

/// Entries, newest first.
pub fn entries(ws: &Workspace, filter: &AuditFilter<'_>) -> Result<Vec<AuditEntry>, AppError> {
    Ok(ws.audit_entries(filter)?)
}

/// Walks the chain; see [`Workspace::verify_audit`].
pub fn verify(ws: &Workspace, project: Option<&str>) -> Result<AuditVerdict, AppError> {
    Ok(ws.verify_audit(project)?)
}

/// Appends one entry for something done outside the workspace.
pub fn record(ws: &mut Workspace, entry: &NewAuditEntry) -> Result<(), AppError> {
    ws.record_audit(entry)?;
    Ok(())
}

/// Records a file written out of the workspace (a project, a report, outputs).
pub fn record_file(
    ws: &mut Workspace,
    action: AuditAction,
    project: &str,
    path: &Path,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    record(
        ws,
        &NewAuditEntry::local(
            action,
            Some(project),
            shown.to_string_lossy().into_owned(),
            detail,
        ),
    )
}
