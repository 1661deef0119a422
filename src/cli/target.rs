//! The project argument most commands take — a stored project's name or a directory to import —
//! resolved once for `run`, `plan` and `remote` alike.

use super::{EXIT_BAD_INPUT, print_diagnostics};
use crate::app::{self, AppError};
use crate::app::{StoredProject, Workspace};

/// Resolves a project argument — a bare name is a stored project, a path is a directory to
/// import (see [`app::resolve_project`]); a project with errors prints its diagnostics and
/// gives exit code 2.
pub fn resolve_target(
    ws: &mut Workspace,
    target: &str,
) -> anyhow::Result<Result<StoredProject, u8>> {
    match app::resolve_project_reporting(ws, target) {
        Ok((stored, report)) => {
            // Importing a directory over a stored project says what it changed.
            if let Some(report) =
                report.filter(|r| r.replaced && r.changes.as_ref().is_some_and(|c| !c.is_empty()))
            {
                eprintln!("note: {target}: {}", report.summary());
            }
            Ok(Ok(stored))
        }
        Err(AppError::Invalid {
            name,
            errors,
            diagnostics,
        }) => {
            print_diagnostics(&diagnostics);
            eprintln!("error: project `{name}` has {errors} error(s); fix them first");
            Ok(Err(EXIT_BAD_INPUT))
        }
        Err(e) => Err(e.into()),
    }
}
