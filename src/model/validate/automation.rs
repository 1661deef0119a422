//! Validation of schedules and sensors: names, cron and time zone, selection, partition choice,
//! run target, and each sensor kind's own settings.

use std::collections::BTreeSet;

use crate::model::asset::{AssetKey, is_identifier};
use crate::model::automation::{PartitionChoice, RunTarget, SensorKind, parse_timezone};
use crate::model::diagnostic::{Diagnostic, DiagnosticCode as Code};
use crate::model::graph::AssetGraph;
use crate::model::partition::PartitionsDefinition;
use crate::model::project::Project;
use crate::model::resource::ResourceKind;
use crate::model::selection::AssetSelection;

/// Every problem of the project's schedules and sensors.
pub(super) fn validate_automation(
    project: &Project,
    graph: &AssetGraph,
    out: &mut Vec<Diagnostic>,
) {
    let mut names = BTreeSet::new();
    for s in &project.schedules {
        let what = format!("schedule `{}`", s.name);
        let field = format!("schedules.{}", s.name);
        check_name(&mut names, &s.name, &what, &field, out);
        if let Err(e) = super::check_cron(&s.cron) {
            out.push(
                Diagnostic::error(Code::InvalidCron, format!("{what}: {e}"))
                    .on_field(format!("{field}.cron")),
            );
        }
        if let Err(e) = parse_timezone(&s.timezone) {
            out.push(
                Diagnostic::error(Code::InvalidCron, format!("{what}: {e}"))
                    .on_field(format!("{field}.timezone")),
            );
        }
        let selected = check_selection(project, graph, &s.selection, &what, &field, out);
        if s.partition == PartitionChoice::Upstream {
            out.push(
                Diagnostic::error(
                    Code::InvalidPartition,
                    format!("{what}: partition `upstream` is for asset_materialized sensors; a schedule takes tick_date, previous_day or key:KEY"),
                )
                .on_field(format!("{field}.partition")),
            );
        } else {
            check_partition(
                project,
                selected.as_deref(),
                &s.partition,
                &what,
                &field,
                out,
            );
        }
        check_target(project, &s.target, &what, &field, out);
    }
    for s in &project.sensors {
        let what = format!("sensor `{}`", s.name);
        let field = format!("sensors.{}", s.name);
        check_name(&mut names, &s.name, &what, &field, out);
        let selected = check_selection(project, graph, &s.selection, &what, &field, out);
        let upstream_ok = matches!(s.kind, SensorKind::AssetMaterialized { .. });
        if s.partition == PartitionChoice::Upstream && !upstream_ok {
            out.push(
                Diagnostic::error(
                    Code::InvalidPartition,
                    format!("{what}: partition `upstream` is only for asset_materialized sensors"),
                )
                .on_field(format!("{field}.partition")),
            );
        } else if s.partition != PartitionChoice::Upstream {
            check_partition(
                project,
                selected.as_deref(),
                &s.partition,
                &what,
                &field,
                out,
            );
        }
        if s.min_interval_secs == 0 {
            out.push(
                Diagnostic::error(
                    Code::InvalidSource,
                    format!("{what}: min_interval must be at least 1 second"),
                )
                .on_field(format!("{field}.min_interval")),
            );
        }
        check_target(project, &s.target, &what, &field, out);
        check_kind(project, &s.kind, &what, &field, out);
    }
}

fn check_name(
    names: &mut BTreeSet<String>,
    name: &str,
    what: &str,
    field: &str,
    out: &mut Vec<Diagnostic>,
) {
    if !is_identifier(name) {
        out.push(
            Diagnostic::error(
                Code::InvalidName,
                format!("{what}: the name must be an identifier (letters, digits and `_`)"),
            )
            .on_field(field.to_owned()),
        );
    } else if !names.insert(name.to_owned()) {
        out.push(
            Diagnostic::error(
                Code::InvalidName,
                format!("{what}: another schedule or sensor of this project has the same name; schedules and sensors share one set of names"),
            )
            .on_field(field.to_owned()),
        );
    }
}

fn check_selection(
    project: &Project,
    graph: &AssetGraph,
    selection: &str,
    what: &str,
    field: &str,
    out: &mut Vec<Diagnostic>,
) -> Option<Vec<AssetKey>> {
    match AssetSelection::parse(selection).and_then(|sel| sel.resolve(project, graph)) {
        Ok(keys) => Some(keys.into_iter().collect()),
        Err(e) => {
            out.push(
                Diagnostic::error(Code::InvalidSelection, format!("{what}: {e}"))
                    .on_field(format!("{field}.selection")),
            );
            None
        }
    }
}

fn check_partition(
    project: &Project,
    selected: Option<&[AssetKey]>,
    choice: &PartitionChoice,
    what: &str,
    field: &str,
    out: &mut Vec<Diagnostic>,
) {
    let Some(selected) = selected else { return };
    let partitions: Vec<&PartitionsDefinition> = selected
        .iter()
        .filter_map(|k| project.asset(k))
        .map(|a| &a.partitions)
        .filter(|p| p.is_partitioned())
        .collect();
    let problem = match choice {
        PartitionChoice::None | PartitionChoice::Upstream => None,
        PartitionChoice::TickDate | PartitionChoice::PreviousDay => {
            if partitions
                .iter()
                .any(|p| matches!(p, PartitionsDefinition::Daily { .. }))
            {
                None
            } else {
                Some(format!(
                    "partition `{}` needs a daily-partitioned asset in the selection",
                    choice.as_file().unwrap_or_default()
                ))
            }
        }
        PartitionChoice::Key(key) => {
            if partitions.is_empty() {
                Some(format!(
                    "partition `key:{key}` needs a partitioned asset in the selection"
                ))
            } else {
                partitions
                    .iter()
                    .find_map(|p| p.check_key(key).err().map(|e| e.to_string()))
            }
        }
    };
    if let Some(problem) = problem {
        out.push(
            Diagnostic::error(Code::InvalidPartition, format!("{what}: {problem}"))
                .on_field(format!("{field}.partition")),
        );
    }
}

fn check_target(
    project: &Project,
    target: &RunTarget,
    what: &str,
    field: &str,
    out: &mut Vec<Diagnostic>,
) {
    let RunTarget::Remote {
        resource: Some(name),
    } = target
    else {
        return;
    };
    let problem = match project.resource(name).map(|r| &r.kind) {
        None => format!("{what}: resource `{name}` is not defined"),
        Some(ResourceKind::Aws { .. }) => return,
        Some(other) => format!(
            "{what}: resource `{name}` is a {} resource; remote runs need an aws resource",
            other.label()
        ),
    };
    out.push(
        Diagnostic::error(Code::UnknownResource, problem).on_field(format!("{field}.resource")),
    );
}

fn check_kind(
    project: &Project,
    kind: &SensorKind,
    what: &str,
    field: &str,
    out: &mut Vec<Diagnostic>,
) {
    let mut push = |code, suffix: &str, message: String| {
        out.push(
            Diagnostic::error(code, format!("{what}: {message}"))
                .on_field(format!("{field}.{suffix}")),
        );
    };
    match kind {
        SensorKind::S3Objects {
            resource, pattern, ..
        } => {
            match project.resource(resource).map(|r| &r.kind) {
                None => push(
                    Code::UnknownResource,
                    "resource",
                    format!("resource `{resource}` is not defined"),
                ),
                Some(ResourceKind::S3 { .. }) => {}
                Some(other) => push(
                    Code::ResourceKind,
                    "resource",
                    format!(
                        "resource `{resource}` is a {} resource; an s3_objects sensor needs an s3 resource",
                        other.label()
                    ),
                ),
            }
            if let Some(p) = pattern
                && let Err(e) = regex::Regex::new(p)
            {
                push(
                    Code::InvalidRegex,
                    "pattern",
                    format!("pattern `{p}` is not a valid regular expression: {e}"),
                );
            }
        }
        SensorKind::Files { glob } => {
            if glob.trim().is_empty() {
                push(Code::InvalidSource, "glob", "the glob is empty".into());
            } else if let Err(e) = glob::Pattern::new(glob) {
                push(
                    Code::InvalidSource,
                    "glob",
                    format!("glob `{glob}` is not valid: {}", e.msg),
                );
            }
        }
        SensorKind::AssetMaterialized {
            project: upstream,
            asset,
        } => {
            if !super::is_project_name(upstream) {
                push(
                    Code::InvalidName,
                    "project",
                    format!("`{upstream}` is not a project name"),
                );
            } else if upstream == &project.name && project.asset(asset).is_none() {
                push(
                    Code::UnknownUpstream,
                    "asset",
                    format!("asset `{asset}` is not in this project"),
                );
            }
        }
    }
}
