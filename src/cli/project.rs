//! `import`, `export` and `list`: moving projects between directories and the workspace.

use std::path::Path;

use super::{EXIT_BAD_INPUT, EXIT_OK, OutputFormat, print_diagnostics, print_json};
use crate::app::{self, AppError};

/// `medallion import`: a project directory into the workspace; a project with errors is refused
/// (exit 2) unless `force`.
pub fn import(
    workspace: &Path,
    path: &Path,
    replace: bool,
    force: bool,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    match app::import_project(&mut ws, path, replace, force) {
        Ok(report) => {
            match format {
                OutputFormat::Json => print_json(&report)?,
                OutputFormat::Text => {
                    print_diagnostics(&report.diagnostics);
                    println!("{}", report.describe(Some(workspace)));
                    if report.edited_since_import {
                        println!(
                            "note: edits made in the workspace after the project's last import were replaced"
                        );
                    }
                }
            }
            Ok(EXIT_OK)
        }
        Err(AppError::Invalid {
            name,
            errors,
            diagnostics,
        }) => {
            match format {
                OutputFormat::Json => print_json(&serde_json::json!({
                    "project": name, "imported": false, "errors": errors, "diagnostics": diagnostics,
                }))?,
                OutputFormat::Text => {
                    print_diagnostics(&diagnostics);
                    eprintln!(
                        "error: project `{name}` has {errors} error(s); not imported (use --force to import anyway)"
                    );
                }
            }
            Ok(EXIT_BAD_INPUT)
        }
        Err(e) => Err(e.into()),
    }
}

/// `medallion export`: a workspace project to a directory.
pub fn export(
    workspace: &Path,
    name: &str,
    path: &Path,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    let exported = app::export_project(&mut ws, name, path)?;
    let project = &exported.project;
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "project": project.name, "path": path, "assets": project.assets.len(),
            "missing_test_files": exported.missing_test_files,
        }))?,
        OutputFormat::Text => {
            println!(
                "exported `{}` ({} assets) to {}",
                project.name,
                project.assets.len(),
                path.display()
            );
        }
    }
    for m in &exported.missing_test_files {
        eprintln!("warning: not copied: {m}");
    }
    Ok(EXIT_OK)
}

/// `medallion list`: the projects in the workspace.
pub fn list(workspace: &Path, format: OutputFormat) -> anyhow::Result<u8> {
    let ws = app::open_workspace(workspace)?;
    let projects = app::list_projects(&ws)?;
    match format {
        OutputFormat::Json => print_json(&projects)?,
        OutputFormat::Text => {
            if projects.is_empty() {
                println!("no projects in the workspace; add one with `medallion import PATH`");
            }
            for p in projects {
                println!(
                    "{:<32} {:>6} assets  rev {:<4} {}  {}",
                    p.name,
                    p.assets,
                    p.revision,
                    crate::model::time::text(&p.updated_at),
                    p.description
                );
            }
        }
    }
    Ok(EXIT_OK)
}
