//! Orchestration shared by the studio and the CLI: opening the workspace, importing, exporting
//! and validating projects. The GUI and the CLI call the same functions, so they cannot drift
//! apart; neither touches `SQLite` or the file format directly.

pub mod connections;
pub mod jobs;
pub mod liveness;
pub mod plan;
pub mod remote;
pub mod report;
pub mod run;
pub mod worker;

use std::path::{Path, PathBuf};

use crate::format::{self, FormatError, LoadedProject};
use crate::model::{Diagnostic, Project, has_errors};
use crate::store::{self, StoreError};
pub use crate::store::{ProjectSummary, StoredProject, Workspace};
pub use connections::redact;

/// The bundled example project's directory name under `projects/`.
pub const EXAMPLE_PROJECT: &str = "customer_analytics";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("project `{name}` has {errors} error(s); fix them or import with --force")]
    Invalid {
        name: String,
        errors: usize,
        diagnostics: Vec<Diagnostic>,
    },
    #[error("a project named `{name}` is already in the workspace; use --replace to overwrite it")]
    Exists { name: String },
    #[error("{path} is not empty and holds no Medallion project; choose an empty or new directory")]
    ExportTargetNotEmpty { path: PathBuf },
    #[error("cannot inspect {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error("{0}")]
    Secret(String),
}

/// Which workspace file to use: the `--workspace` flag or `MEDALLION_WORKSPACE` (resolved by
/// the CLI parser), else the platform data directory.
pub fn workspace_path(explicit: Option<PathBuf>) -> Result<PathBuf, AppError> {
    match explicit {
        Some(p) => Ok(p),
        None => Ok(store::default_path()?),
    }
}

/// Opens (creating and migrating if needed) a workspace, and ends as failed any run left
/// unfinished by a process that is gone ([`liveness`]).
pub fn open_workspace(path: &Path) -> Result<Workspace, AppError> {
    let mut ws = Workspace::open(path)?;
    liveness::end_dead_runs_quietly(&mut ws);
    Ok(ws)
}

/// Reads and validates a project directory without touching the workspace.
pub fn validate_dir(dir: &Path) -> Result<LoadedProject, AppError> {
    Ok(format::read_project(dir)?)
}

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub name: String,
    pub assets: usize,
    pub revision: i64,
    pub replaced: bool,
    pub diagnostics: Vec<Diagnostic>,
}

/// Imports a project directory into the workspace in one transaction.
pub fn import_project(
    ws: &mut Workspace,
    dir: &Path,
    replace: bool,
    force: bool,
) -> Result<ImportReport, AppError> {
    let loaded = format::read_project(dir)?;
    let name = loaded.project.name.clone();
    if has_errors(&loaded.diagnostics) && !force {
        let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
        return Err(AppError::Invalid {
            name,
            errors,
            diagnostics: loaded.diagnostics,
        });
    }
    let exists = ws.project_exists(&name)?;
    if exists && !replace {
        return Err(AppError::Exists { name });
    }
    let dir = std::fs::canonicalize(dir).map_err(|source| AppError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let revision = ws.save_project(&loaded.project, Some(&dir))?;
    Ok(ImportReport {
        name,
        assets: loaded.project.assets.len(),
        revision,
        replaced: exists,
        diagnostics: loaded.diagnostics,
    })
}

/// Writes a stored project to a directory in the canonical file format.
pub fn export_project(ws: &Workspace, name: &str, dir: &Path) -> Result<Project, AppError> {
    let stored = ws.load_project(name)?;
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|source| AppError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let is_project = dir.join(format::PROJECT_FILE).is_file();
        if entries.next().is_some() && !is_project {
            return Err(AppError::ExportTargetNotEmpty {
                path: dir.to_owned(),
            });
        }
    }
    format::write_project(&stored.project, dir)?;
    Ok(stored.project)
}

pub fn list_projects(ws: &Workspace) -> Result<Vec<ProjectSummary>, AppError> {
    Ok(ws.list_projects()?)
}

pub fn load_project(ws: &Workspace, name: &str) -> Result<StoredProject, AppError> {
    Ok(ws.load_project(name)?)
}

/// Validates a stored project.
pub fn validate_project(project: &Project) -> Vec<Diagnostic> {
    crate::model::validate(project)
}

/// Where the bundled example project lives: `projects/customer_analytics` under the current
/// directory (a checkout) or under the source tree this binary was built from.
pub fn example_project_dir() -> Option<PathBuf> {
    let candidates = [
        PathBuf::from("projects").join(EXAMPLE_PROJECT),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("projects")
            .join(EXAMPLE_PROJECT),
    ];
    candidates
        .into_iter()
        .find(|p| p.join(format::PROJECT_FILE).is_file())
}

/// The project the studio opens: the most recently saved one, or — in an empty workspace — the
/// bundled example, imported first.
pub fn project_to_open(ws: &mut Workspace) -> Result<Option<StoredProject>, AppError> {
    if let Some(latest) = ws.list_projects()?.first() {
        return Ok(Some(ws.load_project(&latest.name)?));
    }
    let Some(dir) = example_project_dir() else {
        tracing::warn!("the workspace is empty and the bundled example project was not found");
        return Ok(None);
    };
    let report = import_project(ws, &dir, false, false)?;
    tracing::info!(project = %report.name, "imported the bundled example project");
    Ok(Some(ws.load_project(&report.name)?))
}

/// A project named on the command line or in a dialog: a project directory (read, validated and
/// saved into the workspace, so runs are recorded against it — the files are the source of
/// truth when you point at them) or the name of a stored project.
pub fn resolve_project(ws: &mut Workspace, target: &str) -> Result<StoredProject, AppError> {
    let path = Path::new(target);
    if path.join(format::PROJECT_FILE).is_file() {
        let report = import_project(ws, path, true, false)?;
        return Ok(ws.load_project(&report.name)?);
    }
    if path.is_dir() || target.contains('/') {
        return Err(AppError::BadRequest(format!(
            "{target}: not a Medallion project directory (no {})",
            format::PROJECT_FILE
        )));
    }
    Ok(ws.load_project(target)?)
}

/// Writes sample inputs of the example workload's shape into `dir`.
pub fn write_sample_data(dir: &Path, customers: u64, seed: u64) -> std::io::Result<(u64, u64)> {
    crate::engine::sample::write_sample_data(dir, customers, seed)
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if known.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Runs the example workload written by hand as one polars lazy query (the benchmark's
/// yardstick) on `input`; returns the row counts of the two gold tables.
pub fn bench_handwritten(input: &Path) -> Result<(usize, usize), AppError> {
    let (clv, daily) = crate::engine::bench::handwritten(input)
        .map_err(|e| AppError::BadRequest(format!("hand-written pipeline failed: {e}")))?;
    Ok((clv.height(), daily.height()))
}

/// Copies the bundled example project's definitions into `dir` and writes generated inputs of
/// `customers` customers into its `data/` (benchmarks and tests of bigger runs).
pub fn example_copy_with_sample_data(
    dir: &Path,
    customers: u64,
    seed: u64,
) -> Result<PathBuf, AppError> {
    let example = example_project_dir()
        .ok_or_else(|| AppError::BadRequest("the bundled example project was not found".into()))?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| AppError::Io { path, source }
    };
    std::fs::create_dir_all(dir.join("sql")).map_err(io(dir))?;
    for file in [format::PROJECT_FILE, "layout.toml"] {
        let from = example.join(file);
        if from.is_file() {
            std::fs::copy(&from, dir.join(file)).map_err(io(&from))?;
        }
    }
    for entry in std::fs::read_dir(example.join("sql")).map_err(io(&example))? {
        let from = entry.map_err(io(&example))?.path();
        if let Some(name) = from.file_name() {
            std::fs::copy(&from, dir.join("sql").join(name)).map_err(io(&from))?;
        }
    }
    let data = dir.join("data");
    write_sample_data(&data, customers, seed).map_err(io(&data))?;
    Ok(dir.to_owned())
}
