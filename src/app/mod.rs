//! Orchestration shared by the studio and the CLI: opening the workspace, importing, exporting
//! and validating projects. The GUI and the CLI call the same functions, so they cannot drift
//! apart; neither touches `SQLite` or the file format directly.

pub mod against;
pub mod alerts;
pub mod audit;
pub mod automation;
pub mod backend;
pub mod connections;
pub mod deploy;
pub mod diff;
pub mod freshness;
pub mod jobs;
pub mod lineage;
pub mod liveness;
pub mod masking;
pub mod partitions;
pub mod pii;
pub mod plan;
pub mod refusal;
pub mod remote;
pub mod report;
pub mod retention;
pub mod run;
pub mod runtime;
pub mod s3cache;
pub mod starter;
pub mod status;
pub mod unit_test;
pub mod worker;

use std::path::{Path, PathBuf};

use crate::format::{self, FormatError, LoadedProject};
use crate::model::{Diagnostic, Project, ProjectChanges, has_errors};
use crate::store::{self, SaveOptions, StoreError};
pub use crate::store::{
    AttemptRecord, ProjectSummary, SaveBase, StoredProject, Workspace, conflict_message,
};
pub use connections::redact;
pub use refusal::Refusal;

/// The bundled example project's directory name under `projects/`.
pub const EXAMPLE_PROJECT: &str = "customer_analytics";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Format(#[from] FormatError),
    /// `impact --against`: the earlier version cannot be read.
    #[error(transparent)]
    Against(#[from] against::AgainstError),
    #[error("project `{name}` has {errors} error(s); fix them or import with --force")]
    Invalid {
        name: String,
        errors: usize,
        diagnostics: Vec<Diagnostic>,
    },
    #[error(
        "a project named `{name}` is already in the workspace; use --replace to overwrite it ({changes})"
    )]
    Exists {
        name: String,
        /// What overwriting would change, as a phrase.
        changes: String,
    },
    #[error(
        "project `{name}` was changed in the workspace after it was imported (revision {revision}; {imported}), and {dir} differs from it ({changes}): importing the directory would discard those changes; use the stored project by its name `{name}`, export it (`medallion export {name} DIR`), or replace it (`medallion import --replace {dir}`)",
        dir = .dir.display(),
        imported = match .imported_revision {
            Some(r) => format!("the last import was revision {r}"),
            None => "no import from a directory is recorded".to_owned(),
        }
    )]
    EditedSinceImport {
        name: String,
        dir: PathBuf,
        revision: i64,
        imported_revision: Option<i64>,
        changes: String,
    },
    #[error(
        "no project named `{name}` in the workspace; `{name}` here is a directory, and a bare name means a stored project: write `./{name}` to use the directory"
    )]
    NameIsADirectory { name: String },
    #[error("{path} is not empty and holds no Medallion project; choose an empty or new directory")]
    ExportTargetNotEmpty { path: PathBuf },
    #[error("cannot inspect {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", crate::model::clip::write_failure(.path, .source))]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// What was asked does not fit the project, the workspace or the flags (exit code 2).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A value Medallion made could not be written as JSON (`what`: the request, a step plan).
    #[error("cannot encode {what}: {source}")]
    Encode {
        what: &'static str,
        source: serde_json::Error,
    },
    /// A named thread could not be started (`what`: which).
    #[error("cannot start {what}: {source}")]
    Thread {
        what: &'static str,
        source: std::io::Error,
    },
    /// The benchmark's hand-written polars query failed.
    #[error("hand-written pipeline failed: {0}")]
    Benchmark(Box<dyn std::error::Error + Send + Sync>),
    /// The bundled example project is not beside the binary or in the source tree.
    #[error("the bundled example project was not found")]
    NoExample,
    /// The stored data of an asset was asked for and it has none.
    #[error("{asset} has no stored materialization yet: materialize it first")]
    NotMaterialized { asset: crate::model::AssetKey },
    /// A materialization a remote run wrote to S3 could not be copied here to be read.
    #[error(
        "the materialization of {asset} from run {run} is on S3 ({location}) and cannot be read: {why}"
    )]
    StoredOnS3 {
        asset: crate::model::AssetKey,
        run: crate::model::RunId,
        location: String,
        why: String,
    },
    /// A new project's name that cannot name a project folder.
    #[error(
        "`{name}` cannot name a project: use letters, digits, `_` or `-`, starting with a letter"
    )]
    StarterName { name: String },
    /// A new project's folder that is already there.
    #[error("{} already exists; choose another name or folder", .path.display())]
    StarterExists { path: PathBuf },
    /// A studio background task gave no answer of its own.
    #[error(transparent)]
    Task(#[from] backend::TaskFailure),
    /// The job worker has no workspace connection (opening it failed when the studio started).
    #[error("the workspace {} could not be opened", .path.display())]
    NoWorkspace { path: PathBuf },
    /// A stored project could not be read again (after a save elsewhere).
    #[error("could not reload {name}: {source}")]
    Reload {
        name: String,
        source: Box<StoreError>,
    },
    /// A run's own connection to the workspace could not be opened.
    #[error("cannot open the workspace for the run: {0}")]
    RunWorkspace(#[source] StoreError),
    /// The job running a run panicked (the log has the details).
    #[error("the run stopped on an internal error (see the log)")]
    RunPanicked,
    /// A run's thread panicked; the run is recorded as failed.
    #[error("run {0} crashed")]
    RunCrashed(crate::model::RunId),
    /// A submitted remote step stored without the id its platform gave it.
    #[error("step {step} has no remote id")]
    NoRemoteId { step: String },
    /// A remote run whose stored request does not read back.
    #[error("run {0} has no readable request")]
    UnreadableRequest(crate::model::RunId),
    /// A cancel could not stop every submitted remote step: each step and why.
    #[error(
        "could not stop every remote step: {}",
        .failures.iter().map(|(step, e)| format!("step {step}: {e}")).collect::<Vec<_>>().join("; ")
    )]
    NotStopped {
        failures: Vec<(String, crate::compute::ComputeError)>,
    },
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    /// A data diff that cannot be made as asked (`medallion diff`).
    #[error(transparent)]
    Diff(#[from] diff::DiffRefusal),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    /// A call at the compute boundary (AWS, a cluster, a source) failed; its kind decides.
    #[error(transparent)]
    Compute(#[from] crate::compute::ComputeError),
}

impl AppError {
    /// A usage-type error: the request itself was wrong (the CLI exits with code 2 and one
    /// sentence), not the workspace, the files or a platform.
    pub fn is_usage(&self) -> bool {
        matches!(self, AppError::Refused(_))
    }
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
    /// The stored revision after the import (unchanged when the directory matched).
    pub revision: i64,
    /// A project of that name was stored before.
    pub replaced: bool,
    /// The stored revision the import replaced (`None`: a new project).
    pub previous_revision: Option<i64>,
    /// What the import changed in the stored project (`None`: a new project).
    pub changes: Option<ProjectChanges>,
    /// The replaced project had edits made in the workspace after its last import.
    pub edited_since_import: bool,
    pub diagnostics: Vec<Diagnostic>,
}

impl ImportReport {
    /// One line for people: "replaced project `x` (5 assets, revision 1 → 2): 1 asset
    /// removed (`daily_revenue`)", "project `x` unchanged (revision 2)" or "imported project `x`
    /// (6 assets, revision 1)".
    pub fn summary(&self) -> String {
        self.describe(None)
    }

    /// [`ImportReport::summary`], naming the workspace file when `workspace` is given.
    pub fn describe(&self, workspace: Option<&Path>) -> String {
        let place = workspace.map_or_else(String::new, |w| format!(" in {}", w.display()));
        match (&self.changes, self.previous_revision) {
            (Some(changes), Some(previous)) if changes.is_empty() => format!(
                "project `{}`{place} unchanged (revision {previous}): the directory holds the same definitions",
                self.name
            ),
            (Some(changes), Some(previous)) => format!(
                "replaced project `{}`{place} ({} assets, revision {previous} → {}): {}",
                self.name,
                self.assets,
                self.revision,
                changes.summary()
            ),
            _ => format!(
                "imported project `{}`{place} ({} assets, revision {})",
                self.name, self.assets, self.revision
            ),
        }
    }
}

/// What an import may do to a stored project of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Nothing: a stored project of that name refuses the import.
    No,
    /// Replace it unless it was edited in the workspace after its last import and the
    /// directory differs: pointing a command at a directory never discards work done in the
    /// studio or another window.
    Unedited,
    /// Replace whatever is stored (`medallion import --replace`, a confirmed studio import).
    Yes,
}

/// Imports a project directory into the workspace in one transaction. `replace` overwrites a
/// stored project of the same name (whatever it holds); see [`import_project_with`].
pub fn import_project(
    ws: &mut Workspace,
    dir: &Path,
    replace: bool,
    force: bool,
) -> Result<ImportReport, AppError> {
    let replace = if replace { Replace::Yes } else { Replace::No };
    import_project_with(ws, dir, replace, force)
}

/// Imports a project directory: compares it with the stored project of the same name, says
/// what changes, writes nothing when nothing does, and saves based on the revision it compared
/// with (a save by someone else in between is refused, not overwritten).
pub fn import_project_with(
    ws: &mut Workspace,
    dir: &Path,
    replace: Replace,
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
    let dir = std::fs::canonicalize(dir).map_err(|source| AppError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let previous = match ws.load_project(&name) {
        Ok(stored) => Some(stored),
        Err(StoreError::NoSuchProject { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let changes = previous
        .as_ref()
        .map(|p| ProjectChanges::between(&p.project, &loaded.project));
    let edited_since_import = previous
        .as_ref()
        .is_some_and(|p| p.imported_revision != Some(p.revision));
    if let (Some(stored), Some(changes)) = (&previous, &changes) {
        may_replace(replace, stored, changes, edited_since_import, &dir)?;
    }
    let revision = match (&previous, &changes) {
        // Nothing to change: no new revision (other windows are not disturbed), but the
        // stored content is now known to be the directory's.
        (Some(stored), Some(changes)) if changes.is_empty() => {
            ws.mark_imported(&name, stored.revision, &dir)?;
            stored.revision
        }
        _ => ws.save_project_with(
            &loaded.project,
            &SaveOptions {
                source_dir: Some(&dir),
                base: Some(
                    previous
                        .as_ref()
                        .map_or(SaveBase::New, |p| SaveBase::Revision(p.revision)),
                ),
                imported: true,
            },
        )?,
    };
    Ok(ImportReport {
        name,
        assets: loaded.project.assets.len(),
        revision,
        replaced: previous.is_some(),
        previous_revision: previous.as_ref().map(|p| p.revision),
        changes,
        edited_since_import: edited_since_import && replace == Replace::Yes,
        diagnostics: loaded.diagnostics,
    })
}

/// Whether an import from `dir` may replace the stored project (`changes` being what it would
/// change): never without `replace`, and not over edits made since the last import unless
/// told so.
fn may_replace(
    replace: Replace,
    stored: &StoredProject,
    changes: &ProjectChanges,
    edited_since_import: bool,
    dir: &Path,
) -> Result<(), AppError> {
    let name = stored.project.name.clone();
    match replace {
        Replace::No => {
            let changes = if changes.is_empty() {
                "the directory holds the same definitions".to_owned()
            } else {
                format!("that would change: {}", changes.summary())
            };
            Err(AppError::Exists { name, changes })
        }
        Replace::Unedited if edited_since_import && !changes.is_empty() => {
            Err(AppError::EditedSinceImport {
                name,
                dir: dir.to_owned(),
                revision: stored.revision,
                imported_revision: stored.imported_revision,
                changes: changes.summary(),
            })
        }
        Replace::Unedited | Replace::Yes => Ok(()),
    }
}

/// A project written to a directory, and the unit tests' CSV files it could not copy.
#[derive(Debug, Clone)]
pub struct Exported {
    pub project: Project,
    /// `tests/x.csv (unit test t of asset a): why` for each file left behind.
    pub missing_test_files: Vec<String>,
}

/// Writes a stored project to a directory in the canonical file format, with its unit tests'
/// CSV files copied from where it was imported from. The export is recorded in the audit log.
pub fn export_project(ws: &mut Workspace, name: &str, dir: &Path) -> Result<Exported, AppError> {
    let stored = load_named(ws, name)?;
    let missing_test_files = write_export(&stored.project, stored.source_dir.as_deref(), dir)?;
    audit::record_file(
        ws,
        crate::model::AuditAction::ProjectExported,
        name,
        dir,
        serde_json::json!({ "revision": stored.revision, "assets": stored.project.assets.len() }),
    )?;
    Ok(Exported {
        project: stored.project,
        missing_test_files,
    })
}

/// Writes `project` into `dir` (empty, absent, or a project directory already) and copies its
/// unit tests' CSV files from `source_dir`; returns the files that could not be copied.
pub fn write_export(
    project: &Project,
    source_dir: Option<&Path>,
    dir: &Path,
) -> Result<Vec<String>, AppError> {
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
    format::write_project(project, dir)?;
    copy_test_files(project, source_dir, dir)
}

/// Copies each unit test CSV file of `project` from `from` to the same path under `to`;
/// returns those that could not be found, each with its test.
fn copy_test_files(
    project: &Project,
    from: Option<&Path>,
    to: &Path,
) -> Result<Vec<String>, AppError> {
    use crate::model::unit_test::TestRows;
    let same_dir = from.is_some_and(|f| {
        matches!(
            (std::fs::canonicalize(f), std::fs::canonicalize(to)),
            (Ok(a), Ok(b)) if a == b
        )
    });
    let mut missing = Vec::new();
    for asset in &project.assets {
        for t in &asset.tests {
            for rows in t.given.values().chain(std::iter::once(&t.expect)) {
                let TestRows::Csv(path) = rows else {
                    continue;
                };
                let what = format!("{path} (unit test `{}` of asset {})", t.name, asset.key);
                let Some(from) = from else {
                    missing.push(format!(
                        "{what}: the project was not imported from a directory"
                    ));
                    continue;
                };
                let source = from.join(path);
                if !source.is_file() {
                    missing.push(format!("{what}: {} does not exist", source.display()));
                    continue;
                }
                if same_dir {
                    continue;
                }
                let target = to.join(path);
                let io = |path: &Path| {
                    let path = path.to_owned();
                    move |source| AppError::Io { path, source }
                };
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                std::fs::copy(&source, &target).map_err(io(&target))?;
            }
        }
    }
    Ok(missing)
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
/// directory (a checkout), where a package installs it (`share/medallion/projects/` beside the
/// binary's `bin/`: `/usr/share/medallion/…` for the Debian package, the tarball's own
/// `share/`), or under the source tree this binary was built from.
pub fn example_project_dir() -> Option<PathBuf> {
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| installed_example_dir(&exe));
    let candidates = [
        Some(PathBuf::from("projects").join(EXAMPLE_PROJECT)),
        installed,
        Some(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("projects")
                .join(EXAMPLE_PROJECT),
        ),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join(format::PROJECT_FILE).is_file())
}

/// The example project a package installs for the binary at `exe` (`PREFIX/bin/medallion` →
/// `PREFIX/share/medallion/projects/customer_analytics`).
fn installed_example_dir(exe: &Path) -> Option<PathBuf> {
    let prefix = exe.parent()?.parent()?;
    Some(
        prefix
            .join("share/medallion/projects")
            .join(EXAMPLE_PROJECT),
    )
}

/// The project the studio opens: the most recently saved one, or — in an empty workspace — the
/// bundled example, imported first (so a newcomer's first start opens on the example, and the
/// tour explains it). Where no example is found there is none, and the studio shows its start
/// page (the example, a new project or a project folder; also Project → New project…).
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

/// What a project argument names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectArg<'a> {
    /// A bare name: the stored project of that name.
    Name(&'a str),
    /// A path (`./NAME`, anything with a `/`, an absolute path, `.`, `..`): a project
    /// directory.
    Dir(&'a Path),
}

impl<'a> ProjectArg<'a> {
    pub fn parse(target: &'a str) -> Self {
        let path = Path::new(target);
        let is_path = target.contains('/')
            || target.contains(std::path::MAIN_SEPARATOR)
            || path.is_absolute()
            || matches!(target, "." | "..");
        if is_path {
            Self::Dir(path)
        } else {
            Self::Name(target)
        }
    }
}

/// The stored project `name`; when there is none but a directory of that name is here, says
/// that a directory is written as a path.
pub fn load_named(ws: &Workspace, name: &str) -> Result<StoredProject, AppError> {
    match ws.load_project(name) {
        Err(StoreError::NoSuchProject { .. })
            if matches!(ProjectArg::parse(name), ProjectArg::Name(_))
                && Path::new(name).is_dir() =>
        {
            Err(AppError::NameIsADirectory {
                name: name.to_owned(),
            })
        }
        other => Ok(other?),
    }
}

/// The project a filter argument names (`medallion runs PROJECT`), without importing anything:
/// a bare name as given (runs of a removed project are still listed), unless there is no such
/// stored project but a directory of that name is here; a path is the name in that directory.
pub fn project_name_of(ws: &Workspace, target: &str) -> Result<String, AppError> {
    match ProjectArg::parse(target) {
        ProjectArg::Name(name) => {
            if !ws.project_exists(name)? && Path::new(name).is_dir() {
                return Err(AppError::NameIsADirectory {
                    name: name.to_owned(),
                });
            }
            Ok(name.to_owned())
        }
        ProjectArg::Dir(dir) => Ok(format::read_project(dir)?.project.name),
    }
}

/// A project named on the command line: a bare `NAME` is the stored project of that name; a
/// path (`./NAME`, `dir/NAME`, `/abs/NAME`) is a project directory, read, validated and
/// imported into the workspace so runs are recorded against it — unless the stored project
/// has edits made after its last import that the directory would discard (then refused).
pub fn resolve_project(ws: &mut Workspace, target: &str) -> Result<StoredProject, AppError> {
    Ok(resolve_project_reporting(ws, target)?.0)
}

/// [`resolve_project`], with what the import of a directory did (`None` for a name).
pub fn resolve_project_reporting(
    ws: &mut Workspace,
    target: &str,
) -> Result<(StoredProject, Option<ImportReport>), AppError> {
    match ProjectArg::parse(target) {
        ProjectArg::Name(name) => Ok((load_named(ws, name)?, None)),
        ProjectArg::Dir(path) => {
            if !path.join(format::PROJECT_FILE).is_file() {
                return Err(Refusal::NotAProjectDir {
                    target: target.to_owned(),
                }
                .into());
            }
            let report = import_project_with(ws, path, Replace::Unedited, false)?;
            let stored = ws.load_project(&report.name)?;
            Ok((stored, Some(report)))
        }
    }
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
/// yardstick) on `input`; returns its two gold tables (see [`HandwrittenGold`]).
pub fn bench_handwritten(input: &Path) -> Result<HandwrittenGold, AppError> {
    let (customer_lifetime_value, daily_revenue) =
        crate::engine::bench::handwritten(input).map_err(|e| AppError::Benchmark(Box::new(e)))?;
    Ok(HandwrittenGold(crate::engine::bench::HandwrittenGold {
        customer_lifetime_value,
        daily_revenue,
    }))
}

/// The gold tables of the hand-written benchmark pipeline.
pub struct HandwrittenGold(crate::engine::bench::HandwrittenGold);

impl HandwrittenGold {
    /// Rows of `(customer_lifetime_value, daily_revenue)`.
    pub fn rows(&self) -> (usize, usize) {
        (
            self.0.customer_lifetime_value.height(),
            self.0.daily_revenue.height(),
        )
    }

    /// The canonical CSV SHA-256 of `(customer_lifetime_value, daily_revenue)`, as Medallion's
    /// exported gold tables are summed.
    ///
    /// # Errors
    /// [`AppError::Benchmark`] when a table cannot be written as CSV.
    pub fn checksums(&self) -> Result<(String, String), AppError> {
        self.0
            .checksums()
            .map_err(|e| AppError::Benchmark(Box::new(e)))
    }
}

/// The studio preview's sort and filter times on a generated `rows`-row preview
/// (`medallion bench preview-order`): `(what, milliseconds, rows shown)`.
pub fn bench_preview_order(rows: usize) -> Result<Vec<(String, f64, usize)>, AppError> {
    crate::engine::bench::preview_order(rows).map_err(|e| AppError::Benchmark(Box::new(e)))
}

/// Copies the bundled example project's definitions into `dir` and writes generated inputs of
/// `customers` customers into its `data/` (benchmarks and tests of bigger runs).
pub fn example_copy_with_sample_data(
    dir: &Path,
    customers: u64,
    seed: u64,
) -> Result<PathBuf, AppError> {
    let example = example_project_dir().ok_or(AppError::NoExample)?;
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    #[test]
    fn a_packaged_binary_finds_the_example_under_its_prefix() {
        assert_eq!(
            super::installed_example_dir(Path::new("/usr/bin/medallion")),
            Some(PathBuf::from(
                "/usr/share/medallion/projects/customer_analytics"
            ))
        );
        assert_eq!(
            super::installed_example_dir(Path::new("/opt/medallion-0.1.0/bin/medallion")),
            Some(PathBuf::from(
                "/opt/medallion-0.1.0/share/medallion/projects/customer_analytics"
            ))
        );
        assert_eq!(super::installed_example_dir(Path::new("medallion")), None);
    }
}
