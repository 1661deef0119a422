//! `medallion impact PROJECT --against OLD`: what a whole change breaks. OLD is a directory
//! holding the earlier version of the project, or a git revision of the repository the project
//! lives in (its tree exported with `git archive` into a temporary directory). Every column the
//! earlier version had that is now gone or retyped, and every asset now gone, is listed with
//! what depended on it (`model::impact`, over the earlier version's lineage).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use super::AppError;
use super::lineage::{Analysis, Impact, analyze, impact};
use crate::model::schema::AssetSchema;

/// Why the earlier version could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AgainstError {
    #[error("{dir} is not in a git repository, so --against {what} must be a project directory")]
    NotARepository { dir: PathBuf, what: String },
    #[error("`{what}` is neither a directory nor a revision of the git repository at {root}")]
    BadRevision { what: String, root: PathBuf },
    #[error("cannot run git to read revision `{what}`: {message}")]
    Git { what: String, message: String },
    #[error("the project has no directory to compare (import it from one, or give its path)")]
    NoDirectory,
}

/// One change between the two versions and what it breaks.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeImpact {
    /// `asset.column removed`, `asset.column retyped a → b`, `asset removed`.
    pub change: String,
    pub impact: Impact,
}

/// The earlier version's directory: `against` itself when it is one, else the project's
/// directory at git revision `against` (exported into `scratch`).
pub fn earlier_version(
    project_dir: &Path,
    against: &str,
    scratch: &Path,
) -> Result<PathBuf, AgainstError> {
    if Path::new(against).is_dir() {
        return Ok(PathBuf::from(against));
    }
    let git = |args: &[&str], dir: &Path| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .map_err(|e| AgainstError::Git {
                what: against.to_owned(),
                message: e.to_string(),
            })
    };
    let top = git(&["rev-parse", "--show-toplevel"], project_dir)?;
    if !top.status.success() {
        return Err(AgainstError::NotARepository {
            dir: project_dir.to_owned(),
            what: against.to_owned(),
        });
    }
    let root = PathBuf::from(String::from_utf8_lossy(&top.stdout).trim());
    let commit = format!("{against}^{{commit}}");
    let verify = git(
        &["rev-parse", "--verify", "--quiet", commit.as_str()],
        &root,
    )?;
    if !verify.status.success() {
        return Err(AgainstError::BadRevision {
            what: against.to_owned(),
            root,
        });
    }
    let canonical = std::fs::canonicalize(project_dir).unwrap_or_else(|_| project_dir.to_owned());
    let relative = canonical
        .strip_prefix(&root)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let tar = scratch.join("earlier.tar");
    let mut args = vec![
        "archive".to_owned(),
        "--format=tar".to_owned(),
        format!("--output={}", tar.display()),
        against.to_owned(),
    ];
    if !relative.as_os_str().is_empty() {
        args.push(relative.to_string_lossy().into_owned());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let archived = git(&refs, &root)?;
    let untar = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(scratch)
        .output();
    match (archived.status.success(), untar) {
        (true, Ok(o)) if o.status.success() => Ok(scratch.join(relative)),
        (true, Ok(o)) => Err(AgainstError::Git {
            what: against.to_owned(),
            message: String::from_utf8_lossy(&o.stderr).trim().to_owned(),
        }),
        (true, Err(e)) => Err(AgainstError::Git {
            what: against.to_owned(),
            message: e.to_string(),
        }),
        (false, _) => Err(AgainstError::Git {
            what: against.to_owned(),
            message: format!(
                "the project is not in revision {against}: {}",
                String::from_utf8_lossy(&archived.stderr).trim()
            ),
        }),
    }
}

/// The changes from `old` to `new` that remove or retype a column or remove an asset, each
/// with what depended on it in `old`.
pub fn changes(old: &Analysis, new: &Analysis) -> Vec<ChangeImpact> {
    let mut out = Vec::new();
    for (key, schema) in &old.schemas {
        let Some(old_columns) = schema.columns() else {
            continue;
        };
        if new.project.asset(key).is_none() {
            out.push(ChangeImpact {
                change: format!("{key} removed"),
                impact: impact(&old.project, &old.lineage, key, None, &old.test_csv),
            });
            continue;
        }
        let Some(AssetSchema::Known { columns, .. }) = new.schemas.get(key) else {
            continue;
        };
        for c in old_columns {
            let change = match columns.iter().find(|n| n.name == c.name) {
                None => format!("{key}.{} removed", c.name),
                Some(n) if n.dtype != c.dtype => {
                    format!("{key}.{} retyped {} → {}", c.name, c.dtype, n.dtype)
                }
                Some(_) => continue,
            };
            out.push(ChangeImpact {
                change,
                impact: impact(
                    &old.project,
                    &old.lineage,
                    key,
                    Some(c.name.as_str()),
                    &old.test_csv,
                ),
            });
        }
    }
    out
}

/// `impact --against`: the project in `new_dir` compared with its earlier version.
pub fn impact_against(
    new_dir: Option<&Path>,
    new: &Analysis,
    against: &str,
) -> Result<Vec<ChangeImpact>, AppError> {
    let dir = new_dir.ok_or(AgainstError::NoDirectory)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let scratch =
        std::env::temp_dir().join(format!("medallion-against-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|source| AppError::Io {
        path: scratch.clone(),
        source,
    })?;
    let result = earlier_version(dir, against, &scratch)
        .map_err(AppError::from)
        .and_then(|old_dir| {
            let loaded = super::validate_dir(&old_dir)?;
            let old = analyze(&loaded.project, Some(&loaded.dir));
            Ok(changes(&old, new))
        });
    let _ = std::fs::remove_dir_all(&scratch);
    result
}
