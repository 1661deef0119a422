//! The `SQLite` workspace: projects, their assets, checks, resources and layout, and — for the
//! engine — runs, run events, materializations and check evaluations.
//!
//! One file, WAL mode, foreign keys on, versioned forward-only migrations, every save one
//! transaction. A workspace that is newer than this build, locked, corrupt or not Medallion's
//! gives a clear error and is never written to.

mod alerts;
mod audit;
mod automation;
mod canvas;
mod contracts;
mod costs;
mod deploy_sync;
mod history;
mod masking;
mod migrations;
mod owners;
mod pii;
mod project_json;
mod remote;
mod retention;
mod runs;
mod times;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, params};

use crate::model::RunId;
use crate::model::{
    AssetCheckSpec, AssetKey, AssetSpec, CanvasPos, Layer, Project, Resource, ScheduleDefinition,
    SensorDefinition,
};

pub use alerts::{AttemptRecord, NewAlertEvent, NewAttempt};
pub use audit::{AuditFilter, RunOnAws, os_user};
pub use automation::{
    Lease, LeaseRefused, NewTick, PendingRequest, RequestOutcome, UpstreamMaterialization,
};
pub use costs::{StepCost, StepCostRecord};
pub use migrations::MIGRATIONS;
pub use owners::{RunOwner, UnfinishedRun};
pub use pii::PiiDismissal;
pub use remote::{ChildLog, RemoteRunRow, RemoteStepRow, StepStatus};
pub use retention::StoredFile;

/// A run id is stored as its text.
impl rusqlite::ToSql for RunId {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
    }
}

impl rusqlite::types::FromSql for RunId {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        String::column_result(value).map(Self::from)
    }
}

/// Marks an `SQLite` file as a Medallion workspace (`PRAGMA application_id`, "MEDL").
pub const APPLICATION_ID: i32 = 0x4D45_444C;

/// How long a write waits for another process's lock before reporting the workspace as locked.
const BUSY_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open workspace {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "workspace {path} was written by a newer Medallion (schema version {found}, this build knows up to {known}); update Medallion — the workspace was not changed"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "workspace {path} is locked by another process (is another Medallion running?); nothing was written"
    )]
    Locked { path: PathBuf },
    #[error(
        "workspace {path} is damaged ({detail}); it was not changed — restore it from a backup or move it aside"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} is a SQLite file but not a Medallion workspace; choose another file with --workspace"
    )]
    NotAWorkspace { path: PathBuf },
    #[error(
        "the disk is full: cannot write {path}; nothing was written — free some space and try again"
    )]
    DiskFull { path: PathBuf },
    #[error("cannot open workspace {path}: it is a directory; give the path of a workspace file (e.g. {}/workspace.sqlite)", path.display())]
    IsADirectory { path: PathBuf },
    #[error("no project named `{name}` in the workspace")]
    NoSuchProject { name: String },
    #[error("{}", conflict_message(name, *stored, *base))]
    Conflict {
        name: String,
        /// The revision in the workspace now.
        stored: i64,
        /// What the refused save was based on.
        base: SaveBase,
    },
    #[error("no run with id `{id}` in the workspace")]
    NoSuchRun { id: RunId },
    #[error("workspace {path}: {operation} failed: {source}")]
    Sql {
        path: PathBuf,
        operation: &'static str,
        source: rusqlite::Error,
    },
    #[error("workspace {path}: stored {what} cannot be read: {detail}")]
    Decode {
        path: PathBuf,
        what: String,
        detail: String,
    },
    #[error(
        "cannot find a data directory for the workspace; set MEDALLION_WORKSPACE or pass --workspace"
    )]
    NoDataDir,
}

/// What a save of a project was based on: the workspace refuses it when the stored project
/// has moved on since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SaveBase {
    /// A new project: no project of that name may exist yet.
    New,
    /// The stored revision the edits started from.
    Revision(i64),
}

/// How a refused save is said: both sides, and what to do.
pub fn conflict_message(name: &str, stored: i64, base: SaveBase) -> String {
    match base {
        SaveBase::Revision(base) => format!(
            "project {name} was changed by another window or command (revision {stored}, yours is based on {base}); reload or save as a copy"
        ),
        SaveBase::New => format!(
            "a project named {name} was created by another window or command (revision {stored}, yours is new); reload or save as a copy"
        ),
    }
}

/// How [`Workspace::save_project_with`] treats what is stored.
#[derive(Debug, Clone, Copy, Default)]
pub struct SaveOptions<'a> {
    /// The directory the project comes from; the stored one is kept when `None`.
    pub source_dir: Option<&'a Path>,
    /// What the save is based on; `None` saves whatever is stored.
    pub base: Option<SaveBase>,
    /// The content is a directory's (an import): later saves are edits made after it.
    pub imported: bool,
}

/// A project as stored, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProject {
    pub project: Project,
    /// The directory the project was imported from; relative source paths resolve against it.
    pub source_dir: Option<PathBuf>,
    /// Increments with every save.
    pub revision: i64,
    /// The revision the last import from a directory wrote; `None` when the project was never
    /// imported (or was imported before Medallion recorded it). A newer `revision` means the
    /// project was edited in the workspace after that import.
    pub imported_revision: Option<i64>,
    /// When the project was last saved; `None` for one not in the workspace (the studio's
    /// definitions of a project never saved).
    pub updated_at: Option<DateTime<Utc>>,
}

/// One line of the project list.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProjectSummary {
    pub name: String,
    pub description: String,
    pub assets: i64,
    pub revision: i64,
    #[serde(with = "crate::model::time")]
    pub updated_at: DateTime<Utc>,
    pub source_dir: Option<String>,
}

/// An open workspace file.
pub struct Workspace {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The default workspace file in the platform's data directory.
pub fn default_path() -> Result<PathBuf, StoreError> {
    let dirs = directories::ProjectDirs::from("io", "Medallion", "medallion")
        .ok_or(StoreError::NoDataDir)?;
    Ok(dirs.data_dir().join("workspace.sqlite"))
}

pub(crate) fn classify(path: &Path, operation: &'static str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
            path: path.to_owned(),
        },
        Some(ErrorCode::DiskFull) => StoreError::DiskFull {
            path: path.to_owned(),
        },
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path: path.to_owned(),
            detail: e.to_string(),
        },
        _ => StoreError::Sql {
            path: path.to_owned(),
            operation,
            source: e,
        },
    }
}

/// What [`Workspace::runs_mark`] reads: equal marks mean no run of the project was
/// recorded, started, ended or deleted in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunsMark {
    runs: i64,
    ended: i64,
    running: i64,
    newest: Option<String>,
    last_end: Option<String>,
}

impl RunsMark {
    /// Some run has not ended (it runs, or its process died and nobody has looked yet).
    pub fn has_unfinished(&self) -> bool {
        self.running > 0 || self.ended < self.runs
    }
}

impl Workspace {
    /// Opens (creating if needed) and migrates a workspace file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if path.is_dir() {
            return Err(StoreError::IsADirectory {
                path: path.to_owned(),
            });
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                path: path.to_owned(),
                source: rusqlite::Error::InvalidPath(PathBuf::from(format!(
                    "{}: {e}",
                    parent.display()
                ))),
            })?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| classify(path, "set busy timeout", e))?;
        let mut ws = Self {
            conn,
            path: path.to_owned(),
        };
        ws.check_identity()?;
        ws.enable_wal()?;
        ws.conn
            .pragma_update(None, "foreign_keys", true)
            .map_err(|e| classify(path, "enable foreign keys", e))?;
        ws.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| classify(path, "set synchronous", e))?;
        ws.migrate(MIGRATIONS.len())?;
        Ok(ws)
    }

    /// Opens a workspace and migrates it only up to `version` (for migration tests).
    #[doc(hidden)]
    pub fn open_at_version(path: &Path, version: usize) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        let mut ws = Self {
            conn,
            path: path.to_owned(),
        };
        ws.check_identity()?;
        ws.conn
            .pragma_update(None, "foreign_keys", true)
            .map_err(|e| classify(path, "enable foreign keys", e))?;
        ws.migrate(version)?;
        Ok(ws)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Refuses files that are not ours, are damaged, or come from a newer build — before
    /// anything is written.
    fn check_identity(&self) -> Result<(), StoreError> {
        let path = &self.path;
        // One statement, so one consistent snapshot: another process may be creating the
        // workspace at this very moment.
        let (app_id, version, tables): (i32, i64, i64) = self
            .conn
            .query_row(
                "SELECT (SELECT application_id FROM pragma_application_id()),
                        (SELECT user_version FROM pragma_user_version()),
                        (SELECT count(*) FROM sqlite_master)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| classify(path, "read the workspace header", e))?;
        if app_id != APPLICATION_ID && (app_id != 0 || tables > 0) {
            return Err(StoreError::NotAWorkspace { path: path.clone() });
        }
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: path.clone(),
                found: version,
                known,
            });
        }
        Ok(())
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| classify(&self.path, "read schema version", e))
    }

    fn migrate(&mut self, target: usize) -> Result<(), StoreError> {
        let path = self.path.clone();
        let current = usize::try_from(self.schema_version()?).unwrap_or(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(current) {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| classify(&path, "begin migration", e))?;
            // Another process (or another thread of the studio) may have migrated the file
            // while this one waited for the lock: look again inside the transaction.
            let now: i64 = tx
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(|e| classify(&path, "read schema version", e))?;
            if now > i as i64 {
                continue;
            }
            tx.execute_batch(sql)
                .map_err(|e| classify(&path, "migrate", e))?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(|e| classify(&path, "migrate", e))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(|e| classify(&path, "migrate", e))?;
            tx.commit()
                .map_err(|e| classify(&path, "commit migration", e))?;
            tracing::info!(version = i + 1, path = %path.display(), "workspace migrated");
        }
        Ok(())
    }

    /// Switches the file to WAL. Changing the journal mode needs the file to itself and `SQLite`
    /// does not wait for that, so retry while another opener holds it, up to the busy timeout.
    fn enable_wal(&self) -> Result<(), StoreError> {
        let path = &self.path;
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            let waiting = std::time::Instant::now() < deadline;
            match self
                .conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            {
                Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
                // Another connection still has the file open in its old mode.
                Ok(_) if waiting => std::thread::sleep(Duration::from_millis(20)),
                Ok(_) => return Err(StoreError::Locked { path: path.clone() }),
                Err(e) => match classify(path, "enable WAL", e) {
                    StoreError::Locked { .. } if waiting => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    other => return Err(other),
                },
            }
        }
    }

    /// `PRAGMA integrity_check`: `"ok"` for a sound file.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| classify(&self.path, "integrity check", e))
    }

    /// The names of the tables in the workspace.
    pub fn table_names(&self) -> Result<Vec<String>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .map_err(|e| classify(path, "list tables", e))?;
        stmt.query_map([], |r| r.get(0))
            .and_then(Iterator::collect)
            .map_err(|e| classify(path, "list tables", e))
    }

    pub fn list_projects(&self) -> Result<Vec<ProjectSummary>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT p.name, p.description, (SELECT count(*) FROM assets a WHERE a.project_id = p.id),
                        p.revision, p.updated_at, p.source_dir
                 FROM projects p ORDER BY p.updated_at DESC, p.name",
            )
            .map_err(|e| classify(path, "list projects", e))?;
        let rows: Vec<Result<ProjectSummary, StoreError>> = stmt
            .query_map([], |r| {
                let name: String = r.get(0)?;
                let updated: String = r.get(4)?;
                let updated_at = match times::stored_time(
                    path,
                    || format!("the updated_at of project {name}"),
                    &updated,
                ) {
                    Ok(t) => t,
                    Err(e) => return Ok(Err(e)),
                };
                Ok(Ok(ProjectSummary {
                    name,
                    description: r.get(1)?,
                    assets: r.get(2)?,
                    revision: r.get(3)?,
                    updated_at,
                    source_dir: r.get(5)?,
                }))
            })
            .and_then(Iterator::collect)
            .map_err(|e| classify(path, "list projects", e))?;
        rows.into_iter().collect()
    }

    pub fn project_exists(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row("SELECT 1 FROM projects WHERE name = ?1", [name], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| classify(&self.path, "find project", e))
    }

    pub fn delete_project(&mut self, name: &str) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute("DELETE FROM projects WHERE name = ?1", [name])
            .map_err(|e| classify(&self.path, "delete project", e))?;
        if n == 0 {
            return Err(StoreError::NoSuchProject {
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Saves a project (by name) in one transaction, whatever is stored: either all of it
    /// lands or none of it. A `source_dir` marks the save as an import from that directory.
    /// Returns the new revision. Edits use [`Workspace::save_project_at`].
    pub fn save_project(
        &mut self,
        project: &Project,
        source_dir: Option<&Path>,
    ) -> Result<i64, StoreError> {
        self.save_project_with(
            project,
            &SaveOptions {
                source_dir,
                base: None,
                imported: source_dir.is_some(),
            },
        )
    }

    /// Saves edits that started from `base`; refused with [`StoreError::Conflict`] (nothing
    /// written) when the stored project has moved on since. Returns the new revision.
    pub fn save_project_at(
        &mut self,
        project: &Project,
        base: SaveBase,
    ) -> Result<i64, StoreError> {
        self.save_project_with(
            project,
            &SaveOptions {
                base: Some(base),
                ..SaveOptions::default()
            },
        )
    }

    /// Saves a project in one transaction. The check of `options.base` and the write happen
    /// under the same write lock, so no other save can land in between.
    pub fn save_project_with(
        &mut self,
        project: &Project,
        options: &SaveOptions<'_>,
    ) -> Result<i64, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| classify(&path, "begin save", e))?;
        let revision = write_project(&tx, &path, project, options)?;
        tx.commit().map_err(|e| classify(&path, "commit save", e))?;
        Ok(revision)
    }

    /// The stored revision of a project (`None`: no such project). Cheap: one indexed row.
    pub fn project_revision(&self, name: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT revision FROM projects WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| classify(&self.path, "read project revision", e))
    }

    /// A mark of the runs of project `name` that moves whenever one is recorded, starts,
    /// ends or is deleted (by any process): their count, how many have ended, how many are
    /// running, and the newest creation and end times. Cheap (one indexed scan).
    pub fn runs_mark(&self, name: &str) -> Result<RunsMark, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*), count(r.ended_at), count(CASE WHEN r.status = 'started' THEN 1 END),
                        max(r.created_at), max(r.ended_at)
                 FROM runs r JOIN projects p ON p.id = r.project_id WHERE p.name = ?1",
                [name],
                |r| {
                    Ok(RunsMark {
                        runs: r.get(0)?,
                        ended: r.get(1)?,
                        running: r.get(2)?,
                        newest: r.get(3)?,
                        last_end: r.get(4)?,
                    })
                },
            )
            .map_err(|e| classify(&self.path, "read the runs' state", e))
    }

    /// Records that the stored content of `name` at `revision` is a directory's (an import that
    /// found nothing to change). Does nothing when the project has moved on.
    pub fn mark_imported(
        &mut self,
        name: &str,
        revision: i64,
        source_dir: &Path,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, "record import", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM projects WHERE name = ?1 AND revision = ?2",
                params![name, revision],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        if let Some(id) = id {
            tx.execute(
                "UPDATE projects SET source_dir = ?2 WHERE id = ?1",
                params![id, source_dir.to_string_lossy()],
            )
            .map_err(sql)?;
            tx.execute(
                "INSERT OR REPLACE INTO project_imports (project_id, revision) VALUES (?1, ?2)",
                params![id, revision],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// Changes when another connection (another window, a CLI command) commits to the file;
    /// this connection's own commits leave it alone (`PRAGMA data_version`).
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "data_version", |r| r.get(0))
            .map_err(|e| classify(&self.path, "read data version", e))
    }

    pub fn load_project(&self, name: &str) -> Result<StoredProject, StoreError> {
        read_project(&self.conn, &self.path, name)
    }
}

/// The `schedules` column: the schedules as a JSON array (what every build reads) or, when the
/// project has sensors, `{"schedules": [...], "sensors": [...]}` — so saving needs no column
/// that older workspace versions lack.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum AutomationColumn {
    Schedules(Vec<ScheduleDefinition>),
    Both {
        schedules: Vec<ScheduleDefinition>,
        sensors: Vec<SensorDefinition>,
    },
}

fn automation_json(project: &Project) -> String {
    if project.sensors.is_empty() {
        json(&project.schedules)
    } else {
        json(&AutomationColumn::Both {
            schedules: project.schedules.clone(),
            sensors: project.sensors.clone(),
        })
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    // Serializing plain model values to JSON cannot fail (no maps with non-string keys).
    serde_json::to_string(value).unwrap_or_else(|e| format!("\"<unserializable: {e}>\""))
}

fn write_project(
    tx: &Transaction<'_>,
    path: &Path,
    project: &Project,
    options: &SaveOptions<'_>,
) -> Result<i64, StoreError> {
    let sql = |e| classify(path, "save project", e);
    let now = times::now();
    let source_dir = options.source_dir.map(|d| d.to_string_lossy().into_owned());
    let existing: Option<(i64, i64)> = tx
        .query_row(
            "SELECT id, revision FROM projects WHERE name = ?1",
            [&project.name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql)?;
    match (options.base, existing) {
        (Some(SaveBase::Revision(base)), Some((_, stored))) if stored != base => {
            return Err(StoreError::Conflict {
                name: project.name.clone(),
                stored,
                base: SaveBase::Revision(base),
            });
        }
        (Some(SaveBase::New), Some((_, stored))) => {
            return Err(StoreError::Conflict {
                name: project.name.clone(),
                stored,
                base: SaveBase::New,
            });
        }
        // Edits of a project nobody else has touched, or of one removed meanwhile (writing it
        // again loses nothing).
        _ => {}
    }
    let old = match existing {
        Some(_) if audit::has_audit_log(tx, path)? => {
            Some(audit::governed_parts(tx, path, &project.name)?)
        }
        _ => None,
    };
    let (project_id, revision) = match existing {
        Some((id, rev)) => {
            tx.execute(
                "UPDATE projects SET description = ?2, source_dir = coalesce(?3, source_dir), schedules = ?4,
                        revision = ?5, updated_at = ?6 WHERE id = ?1",
                params![id, project.description, source_dir, automation_json(project), rev + 1, now],
            )
            .map_err(sql)?;
            for table in ["dependencies", "checks", "assets", "resources", "layout"] {
                tx.execute(&format!("DELETE FROM {table} WHERE project_id = ?1"), [id])
                    .map_err(sql)?;
            }
            (id, rev + 1)
        }
        None => {
            tx.execute(
                "INSERT INTO projects (name, description, source_dir, schedules, revision, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                params![project.name, project.description, source_dir, automation_json(project), now],
            )
            .map_err(sql)?;
            (tx.last_insert_rowid(), 1)
        }
    };
    if options.imported {
        tx.execute(
            "INSERT OR REPLACE INTO project_imports (project_id, revision) VALUES (?1, ?2)",
            params![project_id, revision],
        )
        .map_err(sql)?;
    }
    write_assets(tx, path, project_id, project)?;
    write_resources(tx, path, project_id, project)?;
    write_layout(tx, path, project_id, project)?;
    canvas::write_canvas(tx, path, project_id, project)?;
    alerts::write_alert_settings(tx, path, project_id, project)?;
    history::write_retention(tx, path, project_id, project)?;
    masking::write_masking(tx, path, project_id, project)?;
    contracts::write_contracts(tx, path, project_id, project)?;
    audit::project_changes(tx, path, old.as_ref(), project)?;
    Ok(revision)
}

/// The assets of a project with their dependencies and checks, in order.
fn write_assets(
    tx: &Transaction<'_>,
    path: &Path,
    project_id: i64,
    project: &Project,
) -> Result<(), StoreError> {
    let sql = |e| classify(path, "save project", e);
    let mut insert_asset = tx
        .prepare_cached(
            "INSERT INTO assets (project_id, position, key, layer, description, owner, asset_group, code_version,
                                 tags, definition, partitions, freshness, compute, pii)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )
        .map_err(sql)?;
    let mut insert_dep = tx
        .prepare_cached("INSERT INTO dependencies (project_id, asset_position, position, upstream_key) VALUES (?1, ?2, ?3, ?4)")
        .map_err(sql)?;
    let mut insert_check = tx
        .prepare_cached(
            "INSERT INTO checks (project_id, asset_position, position, name, kind, severity, blocking, description, spec)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(sql)?;
    for (pos, a) in project.assets.iter().enumerate() {
        insert_asset
            .execute(params![
                project_id,
                pos as i64,
                a.key.as_str(),
                a.layer.as_str(),
                a.description,
                a.owner,
                a.group,
                a.code_version,
                json(&a.tags),
                json(&a.definition),
                json(&a.partitions),
                a.freshness.as_ref().map(json),
                json(&a.compute),
                json(&a.pii),
            ])
            .map_err(sql)?;
        for (i, dep) in a.deps.iter().enumerate() {
            insert_dep
                .execute(params![project_id, pos as i64, i as i64, dep.as_str()])
                .map_err(sql)?;
        }
        for (i, c) in a.checks.iter().enumerate() {
            insert_check
                .execute(params![
                    project_id,
                    pos as i64,
                    i as i64,
                    c.name,
                    c.kind.label(),
                    c.severity.as_str(),
                    c.blocking,
                    c.description,
                    json(&c.kind),
                ])
                .map_err(sql)?;
        }
    }
    Ok(())
}

fn write_resources(
    tx: &Transaction<'_>,
    path: &Path,
    project_id: i64,
    project: &Project,
) -> Result<(), StoreError> {
    let sql = |e| classify(path, "save project", e);
    let mut insert_resource = tx
        .prepare_cached(
            "INSERT INTO resources (project_id, position, name, kind, description, config) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(sql)?;
    for (pos, r) in project.resources.iter().enumerate() {
        insert_resource
            .execute(params![
                project_id,
                pos as i64,
                r.name,
                r.kind.label(),
                r.description,
                json(&r.kind)
            ])
            .map_err(sql)?;
    }
    Ok(())
}

/// Canvas positions.
fn write_layout(
    tx: &Transaction<'_>,
    path: &Path,
    project_id: i64,
    project: &Project,
) -> Result<(), StoreError> {
    let sql = |e| classify(path, "save project", e);
    let mut insert_pos = tx
        .prepare_cached(
            "INSERT OR REPLACE INTO layout (project_id, asset_key, x, y) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(sql)?;
    for (key, p) in &project.layout.positions {
        insert_pos
            .execute(params![
                project_id,
                key.as_str(),
                f64::from(p.x),
                f64::from(p.y)
            ])
            .map_err(sql)?;
    }
    Ok(())
}

fn decode<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: impl Fn() -> String,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Decode {
        path: path.to_owned(),
        what: what(),
        detail: e.to_string(),
    })
}

fn read_project(conn: &Connection, path: &Path, name: &str) -> Result<StoredProject, StoreError> {
    type Row = (
        i64,
        String,
        Option<String>,
        String,
        i64,
        String,
        Option<i64>,
    );
    let sql = |e| classify(path, "load project", e);
    let row: Option<Row> = conn
        .query_row(
            "SELECT p.id, p.description, p.source_dir, p.schedules, p.revision, p.updated_at,
                    (SELECT i.revision FROM project_imports i WHERE i.project_id = p.id)
             FROM projects p WHERE p.name = ?1",
            [name],
            |r| r.try_into(),
        )
        .optional()
        .map_err(sql)?;
    let Some((id, description, source_dir, schedules, revision, updated_at, imported_revision)) =
        row
    else {
        return Err(StoreError::NoSuchProject {
            name: name.to_owned(),
        });
    };
    let updated_at = times::stored_time(
        path,
        || format!("the updated_at of project {name}"),
        &updated_at,
    )?;
    let mut project = Project::new(name);
    project.description = description;
    match decode::<AutomationColumn>(
        path,
        || format!("schedules and sensors of project {name}"),
        &schedules,
    )? {
        AutomationColumn::Schedules(s) => project.schedules = s,
        AutomationColumn::Both { schedules, sensors } => {
            project.schedules = schedules;
            project.sensors = sensors;
        }
    }

    read_assets(conn, path, id, &mut project)?;
    read_dependencies(conn, path, id, &mut project)?;
    read_checks(conn, path, id, &mut project)?;
    read_resources(conn, path, id, &mut project)?;
    read_layout(conn, path, id, &mut project)?;
    canvas::read_canvas(conn, path, id, &mut project)?;
    alerts::read_alert_settings(conn, path, id, &mut project)?;
    history::read_retention(conn, path, id, &mut project)?;
    masking::read_masking(conn, path, id, &mut project)?;
    contracts::read_contracts(conn, path, id, &mut project)?;
    contracts::read_unit_tests(conn, path, id, &mut project)?;
    Ok(StoredProject {
        project,
        source_dir: source_dir.map(PathBuf::from),
        revision,
        imported_revision,
        updated_at: Some(updated_at),
    })
}

/// Runs `query` (one of a stored project's parts, by the project's `id`) and hands each row
/// to `each`.
fn each_row(
    conn: &Connection,
    path: &Path,
    query: &str,
    id: i64,
    mut each: impl FnMut(&rusqlite::Row<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let sql = |e| classify(path, "load project", e);
    let mut stmt = conn.prepare_cached(query).map_err(sql)?;
    let mut rows = stmt.query([id]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        each(r)?;
    }
    Ok(())
}

/// The assets, in order (without dependencies and checks).
fn read_assets(
    conn: &Connection,
    path: &Path,
    id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    let sql = |e| classify(path, "load project", e);
    each_row(conn, path, "SELECT key, layer, description, owner, asset_group, code_version, tags, definition, partitions,
                    freshness, compute, pii
             FROM assets WHERE project_id = ?1 ORDER BY position", id, |r| {
        let key: String = r.get(0).map_err(sql)?;
        let what = |field: &str| {
            let key = key.clone();
            let field = field.to_owned();
            move || format!("{field} of asset {key}")
        };
        let layer_text: String = r.get(1).map_err(sql)?;
        let layer = Layer::parse(&layer_text).ok_or_else(|| StoreError::Decode {
            path: path.to_owned(),
            what: format!("layer of asset {key}"),
            detail: format!("unknown layer `{layer_text}`"),
        })?;
        let mut a = AssetSpec::new(key.as_str(), layer);
        a.description = r.get(2).map_err(sql)?;
        a.owner = r.get(3).map_err(sql)?;
        a.group = r.get(4).map_err(sql)?;
        a.code_version = r.get(5).map_err(sql)?;
        a.tags = decode(path, what("tags"), &r.get::<_, String>(6).map_err(sql)?)?;
        a.definition = decode(
            path,
            what("definition"),
            &r.get::<_, String>(7).map_err(sql)?,
        )?;
        a.partitions = decode(
            path,
            what("partitions"),
            &r.get::<_, String>(8).map_err(sql)?,
        )?;
        a.freshness = match r.get::<_, Option<String>>(9).map_err(sql)? {
            Some(t) => Some(decode(path, what("freshness"), &t)?),
            None => None,
        };
        a.compute = decode(path, what("compute"), &r.get::<_, String>(10).map_err(sql)?)?;
        a.pii = decode(path, what("pii"), &r.get::<_, String>(11).map_err(sql)?)?;
        project.assets.push(a);
        Ok(())
    })
}

/// Each asset's explicit dependencies, in order.
fn read_dependencies(
    conn: &Connection,
    path: &Path,
    id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    let sql = |e| classify(path, "load project", e);
    each_row(
        conn,
        path,
        "SELECT asset_position, upstream_key FROM dependencies WHERE project_id = ?1 ORDER BY asset_position, position",
        id,
        |r| {
            let pos: i64 = r.get(0).map_err(sql)?;
            let up: String = r.get(1).map_err(sql)?;
            if let Some(a) = usize::try_from(pos)
                .ok()
                .and_then(|p| project.assets.get_mut(p))
            {
                a.deps.push(AssetKey::new(up));
            }
            Ok(())
        },
    )
}

/// Each asset's checks, in order.
fn read_checks(
    conn: &Connection,
    path: &Path,
    id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    let sql = |e| classify(path, "load project", e);
    each_row(
        conn,
        path,
        "SELECT asset_position, name, severity, blocking, description, spec FROM checks
             WHERE project_id = ?1 ORDER BY asset_position, position",
        id,
        |r| {
            let pos: i64 = r.get(0).map_err(sql)?;
            let name: String = r.get(1).map_err(sql)?;
            let severity: String = r.get(2).map_err(sql)?;
            let spec: String = r.get(5).map_err(sql)?;
            let check = AssetCheckSpec {
                kind: decode(path, || format!("check {name}"), &spec)?,
                name,
                severity: if severity == "warn" {
                    crate::model::CheckSeverity::Warn
                } else {
                    crate::model::CheckSeverity::Error
                },
                blocking: r.get(3).map_err(sql)?,
                description: r.get(4).map_err(sql)?,
            };
            if let Some(a) = usize::try_from(pos)
                .ok()
                .and_then(|p| project.assets.get_mut(p))
            {
                a.checks.push(check);
            }
            Ok(())
        },
    )
}

/// The resources, in order.
fn read_resources(
    conn: &Connection,
    path: &Path,
    id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    let sql = |e| classify(path, "load project", e);
    each_row(
        conn,
        path,
        "SELECT name, description, config FROM resources WHERE project_id = ?1 ORDER BY position",
        id,
        |r| {
            let name: String = r.get(0).map_err(sql)?;
            let config: String = r.get(2).map_err(sql)?;
            project.resources.push(Resource {
                kind: decode(path, || format!("resource {name}"), &config)?,
                name,
                description: r.get(1).map_err(sql)?,
            });
            Ok(())
        },
    )
}

/// Canvas positions.
fn read_layout(
    conn: &Connection,
    path: &Path,
    id: i64,
    project: &mut Project,
) -> Result<(), StoreError> {
    let sql = |e| classify(path, "load project", e);
    each_row(
        conn,
        path,
        "SELECT asset_key, x, y FROM layout WHERE project_id = ?1",
        id,
        |r| {
            let key: String = r.get(0).map_err(sql)?;
            let x: f64 = r.get(1).map_err(sql)?;
            let y: f64 = r.get(2).map_err(sql)?;
            project.layout.positions.insert(
                AssetKey::new(key),
                CanvasPos {
                    x: x as f32,
                    y: y as f32,
                },
            );
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::synthetic;

    #[test]
    fn a_full_disk_is_said_plainly() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        );
        let e = classify(Path::new("/data/ws.sqlite"), "save the project", full);
        assert_eq!(
            e.to_string(),
            "the disk is full: cannot write /data/ws.sqlite; nothing was written — free some space and try again"
        );
    }

    #[test]
    fn a_directory_is_not_a_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let e = Workspace::open(dir.path()).unwrap_err();
        assert!(matches!(e, StoreError::IsADirectory { .. }), "{e}");
        assert!(e.to_string().contains("it is a directory"), "{e}");
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("w.sqlite")).unwrap();
        let p = synthetic::generate("gen", 120, 3);
        assert_eq!(ws.save_project(&p, Some(Path::new("/tmp/x"))).unwrap(), 1);
        let loaded = ws.load_project("gen").unwrap();
        assert_eq!(loaded.project, p);
        assert_eq!(loaded.source_dir.as_deref(), Some(Path::new("/tmp/x")));
        assert_eq!(ws.save_project(&p, None).unwrap(), 2);
        assert_eq!(
            ws.load_project("gen").unwrap().source_dir.as_deref(),
            Some(Path::new("/tmp/x"))
        );
        assert_eq!(ws.list_projects().unwrap().len(), 1);
        assert!(matches!(
            ws.load_project("nope"),
            Err(StoreError::NoSuchProject { .. })
        ));
    }
    #[test]
    fn a_follower_reads_only_the_events_after_the_last_it_saw() {
        use crate::model::{LogLevel, RunEvent, RunRecord, RunStatus};
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("w.sqlite")).unwrap();
        ws.save_project(&synthetic::generate("gen", 3, 1), None)
            .unwrap();
        ws.create_run(&RunRecord {
            id: "r1".into(),
            project: "gen".into(),
            selection: "*".into(),
            partition: None,
            target: "local".into(),
            status: RunStatus::Queued,
            trigger: "test".into(),
            created_at: "2026-11-26T00:00:00Z".parse().unwrap(),
            started_at: None,
            ended_at: None,
            error: None,
            allow_failed_upstream: false,
            checks_only: false,
            end_known: true,
        })
        .unwrap();
        let log = |m: &str| RunEvent::Log {
            level: LogLevel::Info,
            asset: None,
            message: m.into(),
        };
        ws.append_run_events(&"r1".into(), 0, &[log("a"), log("b")])
            .unwrap();
        let all = ws.run_events_after(&"r1".into(), None).unwrap();
        assert_eq!(all.len(), 2);
        ws.append_run_events(&"r1".into(), 2, &[log("c")]).unwrap();
        let new = ws.run_events_after(&"r1".into(), Some(all[1].0)).unwrap();
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].1, log("c"));
        assert!(
            ws.run_events_after(&"r1".into(), Some(new[0].0))
                .unwrap()
                .is_empty()
        );
    }
}
