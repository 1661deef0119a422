//! The audit log as the CLI and the studio see it: entries listed and the chain verified, and
//! entries for what happens outside the workspace (keyring secrets, files written). Changes the
//! workspace stores record their own entries in the same transaction (`store::audit`).

use std::path::Path;

use super::AppError;
use crate::compute::aws::Aws;
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

/// The AWS account `aws` acts in (STS), for audit entries of what is done there; `None` —
/// written "unknown" — when STS cannot tell, never a guess. The reason goes to the log.
pub fn aws_account(aws: &Aws) -> Option<String> {
    match aws.account() {
        Ok(account) => Some(account),
        Err(e) => {
            tracing::warn!(
                "the AWS account of resource `{}` is recorded as unknown: {e}",
                aws.resource
            );
            None
        }
    }
}

/// Where on AWS a run goes: `aws`'s resource and account.
pub fn run_on(aws: &Aws) -> crate::store::RunOnAws {
    crate::store::RunOnAws {
        resource: aws.resource.clone(),
        account: aws_account(aws),
    }
}
