//! `[schedules.NAME]` and `[sensors.NAME]`: file shapes to the model and back. Every value's
//! span is recorded under its field path, so a problem found here or by validation names the
//! line of the value.

use std::ops::Range;

use toml::Spanned;

use super::{FileProblem, Spans, no_span};
use crate::format::file::{ScheduleFile, SensorFile};
use crate::model::automation::{
    CatchUp, DEFAULT_CATCH_UP_MAX, DEFAULT_MIN_INTERVAL_SECS, PartitionChoice, RequestPer,
    RunTarget, ScheduleDefinition, SensorDefinition, SensorKind,
};
use crate::model::{AssetKey, Project};

/// Collects problems and spans of one table.
struct Table<'a> {
    field: String,
    span: Range<usize>,
    spans: &'a mut Spans,
    problems: &'a mut Vec<FileProblem>,
}

impl<'a> Table<'a> {
    /// Starts the table at `field` (`schedules.NAME`), recording its span.
    fn open(
        field: String,
        span: Range<usize>,
        spans: &'a mut Spans,
        problems: &'a mut Vec<FileProblem>,
    ) -> Self {
        spans
            .fields
            .insert((String::new(), field.clone()), span.clone());
        Table {
            field,
            span,
            spans,
            problems,
        }
    }

    fn mark<T>(&mut self, name: &str, value: &Spanned<T>) {
        self.spans.fields.insert(
            (String::new(), format!("{}.{name}", self.field)),
            value.span(),
        );
    }

    fn value<T: Clone>(&mut self, name: &str, value: Option<&Spanned<T>>) -> Option<T> {
        let v = value?;
        self.mark(name, v);
        Some(v.get_ref().clone())
    }

    fn problem(&mut self, name: &str, span: Option<Range<usize>>, message: String) {
        self.problems.push(FileProblem {
            span: span.unwrap_or_else(|| self.span.clone()),
            asset: None,
            field: format!("{}.{name}", self.field),
            message,
        });
    }

    fn partition(&mut self, value: Option<&Spanned<String>>) -> PartitionChoice {
        let Some(text) = self.value("partition", value) else {
            return PartitionChoice::None;
        };
        PartitionChoice::parse(&text).unwrap_or_else(|e| {
            self.problem("partition", value.map(Spanned::span), e.to_string());
            PartitionChoice::None
        })
    }

    fn target(
        &mut self,
        target: Option<&Spanned<String>>,
        aws: Option<&Spanned<String>>,
    ) -> RunTarget {
        let aws_name = self.value("aws", aws);
        match self.value("target", target).as_deref() {
            None | Some("local") => {
                if aws_name.is_some() {
                    self.problem(
                        "aws",
                        aws.map(Spanned::span),
                        "`aws` names the resource of a remote target; add target = \"remote\" or remove it".into(),
                    );
                }
                RunTarget::Local
            }
            Some("remote") => RunTarget::Remote { resource: aws_name },
            Some(other) => {
                self.problem(
                    "target",
                    target.map(Spanned::span),
                    format!("target `{other}` is not local or remote"),
                );
                RunTarget::Local
            }
        }
    }
}

pub(super) fn schedule_from_file(
    name: String,
    spanned: Spanned<ScheduleFile>,
    spans: &mut Spans,
    problems: &mut Vec<FileProblem>,
) -> ScheduleDefinition {
    let mut t = Table::open(format!("schedules.{name}"), spanned.span(), spans, problems);
    let f = spanned.into_inner();
    t.mark("cron", &f.cron);
    t.mark("selection", &f.selection);
    let timezone = t.value("timezone", f.timezone.as_ref());
    let max = t.value("catch_up_max", f.catch_up_max.as_ref());
    let catch_up = match t.value("catch_up", f.catch_up.as_ref()).as_deref() {
        None | Some("latest") => CatchUp::Latest,
        Some("skip") => CatchUp::Skip,
        Some("each") => CatchUp::Each {
            max: max.unwrap_or(DEFAULT_CATCH_UP_MAX),
        },
        Some(other) => {
            t.problem(
                "catch_up",
                f.catch_up.as_ref().map(Spanned::span),
                format!("catch_up `{other}` is not skip, latest or each"),
            );
            CatchUp::Latest
        }
    };
    if max.is_some() && !matches!(catch_up, CatchUp::Each { .. }) {
        t.problem(
            "catch_up_max",
            f.catch_up_max.as_ref().map(Spanned::span),
            "catch_up_max bounds catch_up = \"each\"; set that or remove it".into(),
        );
    }
    if max == Some(0) {
        t.problem(
            "catch_up_max",
            f.catch_up_max.as_ref().map(Spanned::span),
            "catch_up_max must be at least 1 (catch_up = \"skip\" runs no missed tick)".into(),
        );
    }
    ScheduleDefinition {
        name,
        cron: f.cron.into_inner(),
        selection: f.selection.into_inner(),
        enabled: f.enabled,
        timezone: timezone.unwrap_or_else(|| "UTC".into()),
        partition: t.partition(f.partition.as_ref()),
        catch_up,
        target: t.target(f.target.as_ref(), f.aws.as_ref()),
    }
}

pub(super) fn sensor_from_file(
    name: String,
    spanned: Spanned<SensorFile>,
    spans: &mut Spans,
    problems: &mut Vec<FileProblem>,
) -> Option<SensorDefinition> {
    let mut t = Table::open(format!("sensors.{name}"), spanned.span(), spans, problems);
    let f = spanned.into_inner();
    t.mark("kind", &f.kind);
    t.mark("selection", &f.selection);
    let kind = sensor_kind(&mut t, &f)?;
    let per = match t.value("per", f.per.as_ref()).as_deref() {
        None | Some("object") => RequestPer::Object,
        Some("batch") => RequestPer::Batch,
        Some(other) => {
            t.problem(
                "per",
                f.per.as_ref().map(Spanned::span),
                format!("per `{other}` is not object or batch"),
            );
            RequestPer::Object
        }
    };
    let min_interval_secs = t
        .value("min_interval_secs", f.min_interval_secs.as_ref())
        .unwrap_or(DEFAULT_MIN_INTERVAL_SECS);
    Some(SensorDefinition {
        name,
        kind,
        selection: f.selection.into_inner(),
        min_interval_secs,
        enabled: f.enabled,
        per,
        partition: t.partition(f.partition.as_ref()),
        target: t.target(f.target.as_ref(), f.aws.as_ref()),
    })
}

/// The sensor's kind with the fields that kind takes; `None` (with a problem recorded) for an
/// unknown kind, a field the kind does not take or one it needs and lacks.
fn sensor_kind(t: &mut Table<'_>, f: &SensorFile) -> Option<SensorKind> {
    let fields = [
        ("resource", &f.resource),
        ("prefix", &f.prefix),
        ("pattern", &f.pattern),
        ("glob", &f.glob),
        ("project", &f.project),
        ("asset", &f.asset),
    ];
    let mut got = std::collections::BTreeMap::new();
    for (n, v) in fields {
        if let Some(v) = t.value(n, v.as_ref()) {
            got.insert(n, v);
        }
    }
    let allowed: &[&str] = match f.kind.get_ref().as_str() {
        "s3_objects" => &["resource", "prefix", "pattern"],
        "files" => &["glob"],
        "asset_materialized" => &["project", "asset"],
        other => {
            t.problem(
                "kind",
                Some(f.kind.span()),
                format!("sensor kind `{other}` is not s3_objects, files or asset_materialized"),
            );
            return None;
        }
    };
    let kind_name = f.kind.get_ref().as_str();
    if let Some(extra) = got.keys().find(|k| !allowed.contains(k)) {
        t.problem(
            extra,
            None,
            format!(
                "a {kind_name} sensor does not take `{extra}` (it takes {})",
                allowed.join(", ")
            ),
        );
        return None;
    }
    let mut take = |n: &str| {
        got.remove(n).or_else(|| {
            t.problem(n, None, format!("a {kind_name} sensor needs `{n}`"));
            None
        })
    };
    Some(match kind_name {
        "s3_objects" => SensorKind::S3Objects {
            resource: take("resource")?,
            prefix: got.remove("prefix").unwrap_or_default(),
            pattern: got.remove("pattern"),
        },
        "files" => SensorKind::Files {
            glob: take("glob")?,
        },
        _ => SensorKind::AssetMaterialized {
            project: take("project")?,
            asset: AssetKey::new(take("asset")?),
        },
    })
}

fn opt(s: Option<String>) -> Option<Spanned<String>> {
    s.map(no_span)
}

fn target_file(target: &RunTarget) -> (Option<Spanned<String>>, Option<Spanned<String>>) {
    match target {
        RunTarget::Local => (None, None),
        RunTarget::Remote { resource } => (opt(Some("remote".into())), opt(resource.clone())),
    }
}

pub(super) fn schedule_to_file(s: &ScheduleDefinition) -> ScheduleFile {
    let (target, aws) = target_file(&s.target);
    let (catch_up, catch_up_max) = match s.catch_up {
        CatchUp::Latest => (None, None),
        CatchUp::Skip => (Some("skip"), None),
        CatchUp::Each { max } => (Some("each"), Some(no_span(max))),
    };
    ScheduleFile {
        cron: no_span(s.cron.clone()),
        timezone: (s.timezone != "UTC").then(|| no_span(s.timezone.clone())),
        selection: no_span(s.selection.clone()),
        partition: opt(s.partition.as_file()),
        catch_up: opt(catch_up.map(str::to_owned)),
        catch_up_max,
        enabled: s.enabled,
        target,
        aws,
    }
}

pub(super) fn sensor_to_file(s: &SensorDefinition) -> SensorFile {
    let (target, aws) = target_file(&s.target);
    let mut f = SensorFile {
        kind: no_span(s.kind.label().to_owned()),
        selection: no_span(s.selection.clone()),
        resource: None,
        prefix: None,
        pattern: None,
        glob: None,
        project: None,
        asset: None,
        per: (s.per == RequestPer::Batch).then(|| no_span("batch".to_owned())),
        min_interval_secs: (s.min_interval_secs != DEFAULT_MIN_INTERVAL_SECS)
            .then(|| no_span(s.min_interval_secs)),
        partition: opt(s.partition.as_file()),
        enabled: s.enabled,
        target,
        aws,
    };
    match &s.kind {
        SensorKind::S3Objects {
            resource,
            prefix,
            pattern,
        } => {
            f.resource = opt(Some(resource.clone()));
            f.prefix = opt(Some(prefix.clone()));
            f.pattern = opt(pattern.clone());
        }
        SensorKind::Files { glob } => f.glob = opt(Some(glob.clone())),
        SensorKind::AssetMaterialized { project, asset } => {
            f.project = opt(Some(project.clone()));
            f.asset = opt(Some(asset.to_string()));
        }
    }
    f
}

/// Fills the project's schedules and sensors from the file's tables.
pub(super) fn automation_from_file(
    project: &mut Project,
    schedules: std::collections::BTreeMap<String, Spanned<ScheduleFile>>,
    sensors: std::collections::BTreeMap<String, Spanned<SensorFile>>,
    spans: &mut Spans,
    problems: &mut Vec<FileProblem>,
) {
    for (name, spanned) in schedules {
        project
            .schedules
            .push(schedule_from_file(name, spanned, spans, problems));
    }
    for (name, spanned) in sensors {
        if let Some(s) = sensor_from_file(name, spanned, spans, problems) {
            project.sensors.push(s);
        }
    }
}
