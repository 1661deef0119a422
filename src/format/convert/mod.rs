//! Conversion between the file shapes of `file.rs` and the domain model, in both directions.
//! Reading collects every problem as a located diagnostic and keeps going.
//!
//! One submodule per part of the file: `resource`, `asset` (with partitions), `source`, `step`
//! and `check`; this module holds the project as a whole and the helpers they share.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

mod alert;
mod asset;
mod automation;
mod check;
mod error;
mod masking;
mod resource;
mod source;
mod step;
mod unit_test;

use asset::{asset_from_file, asset_to_file};
pub use error::{ConvertError, SqlFileError};
use resource::{resource_from_file, resource_to_file};

use super::file::{ProjectFile, ProjectHeader, RetentionFile, SecretFile};
use crate::model::{AssetKey, Project, RunRetention, SecretRef};

/// A problem found while turning a file into the model, with the byte range it concerns.
#[derive(Debug, Clone)]
pub struct FileProblem {
    pub span: Range<usize>,
    pub asset: Option<AssetKey>,
    pub field: String,
    pub message: String,
}

/// Where each part of the project sits in `medallion.toml`, for locating diagnostics.
#[derive(Debug, Clone, Default)]
pub struct Spans {
    /// `(asset key or "", field path)` → byte range.
    pub fields: BTreeMap<(String, String), Range<usize>>,
    /// SQL read from a file: asset key → path relative to the project directory.
    pub sql_files: BTreeMap<String, String>,
}

/// What reading needs from outside: the SQL files, looked up by relative path.
pub trait SqlFiles {
    /// The text of a SQL file, or `None` when it does not exist.
    fn read(&self, relative_path: &str) -> Result<Option<String>, SqlFileError>;
}

pub fn project_from_file(
    file: ProjectFile,
    sql_files: &dyn SqlFiles,
) -> (Project, Spans, Vec<FileProblem>) {
    let mut spans = Spans::default();
    let mut problems = Vec::new();
    let mut project = Project::new(file.project.name.get_ref().clone());
    spans.fields.insert(
        (String::new(), "project.name".into()),
        file.project.name.span(),
    );
    project.description = file.project.description;
    if file.project.format_version > super::file::format_version() {
        problems.push(FileProblem {
            span: file.project.name.span(),
            asset: None,
            field: "project.format_version".into(),
            message: format!(
                "this project uses format version {}, newer than this Medallion understands ({}); update Medallion",
                file.project.format_version,
                super::file::format_version()
            ),
        });
    }

    if let Some(spanned) = file.retention {
        retention_from_file(spanned, &mut project, &mut spans, &mut problems);
    }
    masking::masking_from_file(file.masking, &mut project, &mut spans, &mut problems);
    for (name, spanned) in file.resources {
        let span = spanned.span();
        spans
            .fields
            .insert((String::new(), format!("resources.{name}")), span.clone());
        match resource_from_file(&name, spanned.into_inner()) {
            Ok(r) => project.resources.push(r),
            Err(e) => problems.push(FileProblem {
                span,
                asset: None,
                field: format!("resources.{name}"),
                message: e.to_string(),
            }),
        }
    }
    automation::automation_from_file(
        &mut project,
        file.schedules,
        file.sensors,
        &mut spans,
        &mut problems,
    );
    alert::alerts_from_file(
        file.alert_targets,
        file.alert_rules,
        &mut project,
        &mut spans,
        &mut problems,
    );
    for (key, spanned) in file.assets {
        let span = spanned.span();
        spans
            .fields
            .insert((key.clone(), String::new()), span.clone());
        let asset = asset_from_file(
            &key,
            spanned.into_inner(),
            span,
            sql_files,
            &mut spans,
            &mut problems,
        );
        project.assets.push(asset);
    }
    (project, spans, problems)
}

/// `[retention]` into the model; settings that make no sense are problems located at the
/// section.
fn retention_from_file(
    spanned: Spanned<RetentionFile>,
    project: &mut Project,
    spans: &mut Spans,
    problems: &mut Vec<FileProblem>,
) {
    let span = spanned.span();
    spans
        .fields
        .insert((String::new(), "retention".into()), span.clone());
    let f = spanned.into_inner();
    let d = RunRetention::default();
    let r = RunRetention {
        enabled: f.enabled.unwrap_or(d.enabled),
        keep_runs: f.keep_runs.unwrap_or(d.keep_runs),
        keep_days: f.keep_days.unwrap_or(d.keep_days),
        keep_failed_days: f
            .keep_failed_days
            .unwrap_or_else(|| d.keep_failed_days.max(f.keep_days.unwrap_or(0))),
    };
    for message in r.problems() {
        problems.push(FileProblem {
            span: span.clone(),
            asset: None,
            field: "retention".into(),
            message,
        });
    }
    project.retention = r;
}

fn retention_to_file(r: &RunRetention) -> Option<Spanned<RetentionFile>> {
    let d = RunRetention::default();
    let pick = |v: u32, default: u32| (v != default).then_some(v);
    (!r.is_default()).then(|| {
        no_span(RetentionFile {
            enabled: (!r.enabled).then_some(false),
            keep_runs: pick(r.keep_runs, d.keep_runs),
            keep_days: pick(r.keep_days, d.keep_days),
            keep_failed_days: pick(r.keep_failed_days, d.keep_failed_days),
        })
    })
}

fn secret(s: Option<SecretFile>, field: &'static str) -> Result<Option<SecretRef>, ConvertError> {
    match s {
        None => Ok(None),
        Some(SecretFile {
            keyring: Some(k),
            env: None,
        }) => Ok(Some(SecretRef::Keyring(k))),
        Some(SecretFile {
            keyring: None,
            env: Some(e),
        }) => Ok(Some(SecretRef::Env(e))),
        Some(_) => Err(ConvertError::SecretRef { field }),
    }
}

fn secret_file(s: Option<&SecretRef>) -> Option<SecretFile> {
    s.map(|s| match s {
        SecretRef::Keyring(k) => SecretFile {
            keyring: Some(k.clone()),
            env: None,
        },
        SecretRef::Env(e) => SecretFile {
            keyring: None,
            env: Some(e.clone()),
        },
    })
}

fn required<T>(value: Option<T>, what: &str, field: &'static str) -> Result<T, ConvertError> {
    value.ok_or_else(|| ConvertError::Missing {
        what: what.to_owned(),
        field,
    })
}

/// Refuses every field of `all` that is set and not in `allowed` (a step or check kind takes
/// only its own fields).
fn refuse_all_but(
    what: &str,
    all: &[(&'static str, bool)],
    allowed: &[&str],
) -> Result<(), ConvertError> {
    let extra: Vec<(&'static str, bool)> = all
        .iter()
        .copied()
        .filter(|(n, _)| !allowed.contains(n))
        .collect();
    refuse_extra(what, &extra)
}

/// Names the fields that are set but mean nothing for this kind.
fn refuse_extra(what: &str, fields: &[(&'static str, bool)]) -> Result<(), ConvertError> {
    let extra: Vec<&'static str> = fields
        .iter()
        .filter(|(_, set)| *set)
        .map(|(n, _)| *n)
        .collect();
    if extra.is_empty() {
        Ok(())
    } else {
        Err(ConvertError::NotTaken {
            what: what.to_owned(),
            fields: extra,
        })
    }
}

fn no_span<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

/// The file form of a project. SQL is not inline: each transform's SQL goes to
/// `sql/<key>.sql`, returned alongside.
pub fn project_to_file(project: &Project) -> (ProjectFile, BTreeMap<String, String>) {
    let mut sql_files = BTreeMap::new();
    let mut assets = BTreeMap::new();
    for a in &project.assets {
        assets.insert(a.key.to_string(), no_span(asset_to_file(a, &mut sql_files)));
    }
    let (alert_targets, alert_rules) = alert::alerts_to_file(project);
    let file = ProjectFile {
        project: ProjectHeader {
            name: no_span(project.name.clone()),
            description: project.description.clone(),
            format_version: super::file::format_version(),
        },
        retention: retention_to_file(&project.retention),
        masking: masking::masking_to_file(&project.masking),
        resources: project
            .resources
            .iter()
            .map(|r| (r.name.clone(), no_span(resource_to_file(r))))
            .collect(),
        schedules: project
            .schedules
            .iter()
            .map(|s| (s.name.clone(), no_span(automation::schedule_to_file(s))))
            .collect(),
        sensors: project
            .sensors
            .iter()
            .map(|s| (s.name.clone(), no_span(automation::sensor_to_file(s))))
            .collect(),
        alert_targets,
        alert_rules,
        assets,
    };
    (file, sql_files)
}
