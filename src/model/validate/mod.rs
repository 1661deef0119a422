//! Project validation that collects every problem instead of stopping at the first.

mod alerts;
mod automation;
mod resources;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::model::asset::{
    AssetDefinition, AssetKey, AssetSpec, CsvOptions, FileFormat, Layer, SourceSpec, TransformSpec,
    TransformStep, is_identifier,
};
use crate::model::check::{CheckKind, CheckSeverity};
use crate::model::diagnostic::{Diagnostic, DiagnosticCode as Code};
use crate::model::graph::{AssetGraph, analyze_sql, asset_deps};
use crate::model::partition::PartitionsDefinition;
use crate::model::project::Project;
use crate::model::sql;
use crate::model::sql::{SqlAnalysis, SqlError};
use resources::{validate_no_secret_values, validate_resources};

/// Validates a project and returns every problem found, errors and warnings, in a stable order
/// (project-level first, then by asset key).
pub fn validate(project: &Project) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if project.name.trim().is_empty() {
        out.push(
            Diagnostic::error(Code::InvalidName, "the project has no name")
                .on_field("project.name"),
        );
    } else if !is_project_name(&project.name) {
        out.push(
            Diagnostic::error(
                Code::InvalidName,
                format!(
                    "project name `{}` may use only letters, digits, `_` and `-`",
                    project.name
                ),
            )
            .on_field("project.name"),
        );
    }
    validate_resources(project, &mut out);
    validate_no_secret_values(project, &mut out);
    let analyses = analyze_sql(project);
    let graph = AssetGraph::build_with(project, &analyses);
    automation::validate_automation(project, &graph, &mut out);
    alerts::validate_alerts(project, &graph, &mut out);
    super::unit_test::validate_tests(project, &graph, &mut out);

    let mut seen = BTreeSet::new();
    for asset in &project.assets {
        if !seen.insert(&asset.key) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateAsset,
                    format!("asset `{}` is defined more than once", asset.key),
                )
                .on_asset(&asset.key),
            );
        }
    }
    let layers: BTreeMap<&AssetKey, Layer> =
        project.assets.iter().map(|a| (&a.key, a.layer)).collect();
    for (asset, analysis) in project.assets.iter().zip(&analyses) {
        validate_asset(project, asset, analysis.as_ref(), &layers, &mut out);
    }
    for cycle in graph.cycles() {
        let path: Vec<&str> = cycle.iter().map(AssetKey::as_str).collect();
        if let Some(first) = cycle.first() {
            out.push(
                Diagnostic::error(
                    Code::Cycle,
                    format!("dependency cycle: {}", path.join(" → ")),
                )
                .on_asset(first)
                .on_field("deps"),
            );
        }
    }
    out
}

/// Whether `name` is a valid project name.
pub fn is_project_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Why a cron expression cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error(
        "cron expression `{expr}` must have five fields (minute hour day-of-month month day-of-week)"
    )]
    FieldCount { expr: String },
    #[error("invalid cron expression `{expr}`: {detail}")]
    Invalid { expr: String, detail: String },
    /// A valid expression with no time after the one asked about.
    #[error("cron expression `{expr}` has no next time: {detail}")]
    NoNextTime { expr: String, detail: String },
}

/// Checks a five-field cron expression.
pub fn check_cron(expr: &str) -> Result<(), CronError> {
    if expr.split_whitespace().count() != 5 {
        return Err(CronError::FieldCount {
            expr: expr.to_owned(),
        });
    }
    croner::Cron::new(expr)
        .parse()
        .map(|_| ())
        .map_err(|e| CronError::Invalid {
            expr: expr.to_owned(),
            detail: e.to_string(),
        })
}

fn validate_asset(
    project: &Project,
    asset: &AssetSpec,
    analysis: Option<&Result<SqlAnalysis, SqlError>>,
    layers: &BTreeMap<&AssetKey, Layer>,
    out: &mut Vec<Diagnostic>,
) {
    validate_key_and_layer(asset, layers, out);
    match &asset.definition {
        AssetDefinition::Source(source) => validate_source(project, asset, source, out),
        AssetDefinition::Transform(t) => validate_transform(asset, t, analysis, layers, out),
    }
    validate_checks(asset, out);
    validate_partitions(asset, out);
    validate_placeholders(asset, out);
    validate_freshness(asset, out);
    validate_compute(asset, out);
}

/// The key's shape, the layer rules for sources and transforms, and that every declared
/// upstream exists.
fn validate_key_and_layer(
    asset: &AssetSpec,
    layers: &BTreeMap<&AssetKey, Layer>,
    out: &mut Vec<Diagnostic>,
) {
    let key = &asset.key;
    let err = |code: Code, field: &str, msg: String| {
        Diagnostic::error(code, msg).on_asset(key).on_field(field)
    };
    if !key.is_well_formed() {
        out.push(err(
            Code::InvalidName,
            "key",
            format!(
                "asset key `{key}` must be identifiers (letters, digits, `_`, not starting with a digit) joined by `/`"
            ),
        ));
    }

    // Layer rules and the definition.
    match (&asset.definition, asset.layer) {
        (AssetDefinition::Source(_), Layer::Silver | Layer::Gold) => out.push(err(
            Code::LayerRule,
            "source",
            format!("a source belongs in bronze, but `{key}` is {}; use a SQL transform over upstream assets", asset.layer),
        )),
        (AssetDefinition::Transform(_), Layer::Bronze) => out.push(err(
            Code::LayerRule,
            "sql",
            format!("bronze asset `{key}` must be a source (file, S3, Postgres or HTTP), not a transform"),
        )),
        _ => {}
    }
    if asset.layer == Layer::Bronze && !asset.deps.is_empty() {
        out.push(err(
            Code::LayerRule,
            "deps",
            format!(
                "bronze asset `{key}` reads no upstream asset, but deps lists {}",
                list(&asset.deps)
            ),
        ));
    }
    for dep in &asset.deps {
        if !layers.contains_key(dep) {
            out.push(err(
                Code::UnknownUpstream,
                "deps",
                format!("upstream asset `{dep}` does not exist"),
            ));
        }
    }
}

/// A transform: its SQL (or, without SQL, its steps and single upstream), the layers it
/// reads, and each step.
fn validate_transform(
    asset: &AssetSpec,
    t: &TransformSpec,
    analysis: Option<&Result<SqlAnalysis, SqlError>>,
    layers: &BTreeMap<&AssetKey, Layer>,
    out: &mut Vec<Diagnostic>,
) {
    let key = &asset.key;
    let err = |code: Code, field: &str, msg: String| {
        Diagnostic::error(code, msg).on_asset(key).on_field(field)
    };
    let known = |name: &str| layers.contains_key(&AssetKey::new(name));
    if let Some(result) = analysis {
        validate_sql(asset, result, &known, out);
    } else if t.steps.is_empty() {
        out.push(err(
            Code::MissingDefinition,
            "sql",
            format!("transform `{key}` has neither SQL nor steps"),
        ));
    } else if asset.deps.len() != 1 {
        out.push(err(
            Code::MissingDefinition,
            "deps",
            format!(
                "transform `{key}` has steps but no SQL, so it needs exactly one upstream asset in deps (it has {})",
                asset.deps.len()
            ),
        ));
    }
    for dep in asset_deps(asset, analysis, &known).all() {
        if let Some(&up) = layers.get(&dep)
            && !asset.layer.may_read(up)
        {
            out.push(err(
                Code::LayerRule,
                "deps",
                format!(
                    "{} asset `{key}` reads {up} asset `{dep}`: {}",
                    asset.layer,
                    asset.layer.read_rule()
                ),
            ));
        }
    }
    for (i, step) in t.steps.iter().enumerate() {
        validate_step(asset, i, step, out);
    }
}

/// A transform's SQL: it parses, reads only assets of the project, and agrees with `deps`
/// when `deps` is given.
fn validate_sql(
    asset: &AssetSpec,
    result: &Result<SqlAnalysis, SqlError>,
    known: &dyn Fn(&str) -> bool,
    out: &mut Vec<Diagnostic>,
) {
    let key = &asset.key;
    let err = |code: Code, field: &str, msg: String| {
        Diagnostic::error(code, msg).on_asset(key).on_field(field)
    };
    match result {
        Err(e) => {
            let position = match (e.line, e.column) {
                (Some(l), Some(c)) => format!(" (line {l}, column {c} of the SQL)"),
                _ => String::new(),
            };
            let mut d = err(
                Code::SqlSyntax,
                "sql",
                format!("SQL does not parse: {}{position}", e.message),
            );
            if let (Some(l), Some(c)) = (e.line, e.column) {
                d.position_in_field = Some((l, c));
            }
            out.push(d);
        }
        Ok(parsed) => {
            for table in parsed.tables.iter().filter(|t| !known(t)) {
                out.push(err(
                    Code::SqlUnknownTable,
                    "sql",
                    format!("SQL reads table `{table}`, which is not an asset of this project"),
                ));
            }
        }
    }
    let deps = asset_deps(asset, Some(result), known);
    if !asset.deps.is_empty() {
        for extra in deps.from_sql.difference(&deps.explicit) {
            out.push(
                Diagnostic::warning(
                    Code::DependencyMismatch,
                    format!("SQL reads `{extra}`, which deps does not list"),
                )
                .on_asset(key)
                .on_field("deps"),
            );
        }
        if result.is_ok() {
            for unused in deps.explicit.difference(&deps.from_sql) {
                out.push(
                    Diagnostic::warning(
                        Code::DependencyMismatch,
                        format!("deps lists `{unused}`, but the SQL does not read it"),
                    )
                    .on_asset(key)
                    .on_field("deps"),
                );
            }
        }
    }
}

fn validate_freshness(asset: &AssetSpec, out: &mut Vec<Diagnostic>) {
    let Some(f) = &asset.freshness else {
        return;
    };
    let err = |code: Code, field: &str, msg: String| {
        Diagnostic::error(code, msg)
            .on_asset(&asset.key)
            .on_field(field)
    };
    if f.max_lag_minutes == 0 {
        out.push(err(
            Code::InvalidCheck,
            "freshness.max_lag_minutes",
            "max_lag_minutes must be more than 0".to_owned(),
        ));
    }
    if let Some(cron) = &f.cron
        && let Err(e) = check_cron(cron)
    {
        out.push(err(Code::InvalidCron, "freshness.cron", e.to_string()));
    }
}

fn list(keys: &[AssetKey]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn validate_source(
    project: &Project,
    asset: &AssetSpec,
    source: &SourceSpec,
    out: &mut Vec<Diagnostic>,
) {
    let key = &asset.key;
    let err = |code: Code, field: &str, msg: String| {
        Diagnostic::error(code, msg).on_asset(key).on_field(field)
    };
    match source {
        SourceSpec::File { path, .. } if path.trim().is_empty() => {
            out.push(err(
                Code::MissingDefinition,
                "source.path",
                "the source has no path".to_owned(),
            ));
        }
        SourceSpec::S3 { key: object, .. } if object.trim().is_empty() => {
            out.push(err(
                Code::MissingDefinition,
                "source.key",
                "the S3 source has no object key or prefix".to_owned(),
            ));
        }
        SourceSpec::Postgres { query, .. } => {
            if let Err(e) = sql::analyze(query) {
                out.push(err(
                    Code::SqlSyntax,
                    "source.query",
                    format!("query does not parse: {}", e.message),
                ));
            }
        }
        SourceSpec::Http {
            records_pointer, ..
        } if !records_pointer.is_empty() && !records_pointer.starts_with('/') => {
            out.push(err(
                Code::MissingDefinition,
                "source.records_pointer",
                format!("records_pointer `{records_pointer}` must be a JSON pointer starting with `/` (or empty for the whole body)"),
            ));
        }
        _ => {}
    }
    if let SourceSpec::File {
        format: FileFormat::Csv(o),
        ..
    }
    | SourceSpec::S3 {
        format: FileFormat::Csv(o),
        ..
    } = source
    {
        validate_csv_options(o, &err, out);
    }
    validate_source_resource(project, source, &err, out);
}

/// A source's `resource` must name a resource of `[resources]` of the source's kind.
fn validate_source_resource(
    project: &Project,
    source: &SourceSpec,
    err: &dyn Fn(Code, &str, String) -> Diagnostic,
    out: &mut Vec<Diagnostic>,
) {
    if let Some(name) = source.resource() {
        let wanted = match source {
            SourceSpec::S3 { .. } => "s3",
            SourceSpec::Postgres { .. } => "postgres",
            SourceSpec::Http { .. } => "http",
            SourceSpec::File { .. } => "",
        };
        match project.resource(name) {
            None => out.push(err(
                Code::UnknownResource,
                "source.resource",
                format!("source uses resource `{name}`, which is not defined in [resources]"),
            )),
            Some(r) if r.kind.label() != wanted => out.push(err(
                Code::ResourceKind,
                "source.resource",
                format!(
                    "a {wanted} source needs a {wanted} resource, but `{name}` is a {} resource",
                    r.kind.label()
                ),
            )),
            Some(_) => {}
        }
    }
}

/// CSV options the reader can honour: its delimiter and quote are single bytes (one ASCII
/// character), different from each other and from a line break.
fn validate_csv_options(
    o: &CsvOptions,
    err: &dyn Fn(Code, &str, String) -> Diagnostic,
    out: &mut Vec<Diagnostic>,
) {
    let one_byte = |field: &str, what: &str, c: char| {
        (c.len_utf8() > 1).then(|| {
            err(
                Code::InvalidSource,
                &format!("source.{field}"),
                format!(
                    "the CSV {what} {c:?} is {} bytes in UTF-8; the CSV reader needs a single-byte (ASCII) {what}",
                    c.len_utf8()
                ),
            )
        })
    };
    out.extend(one_byte("delimiter", "delimiter", o.delimiter));
    if let Some(q) = o.quote_char {
        out.extend(one_byte("quote_char", "quote character", q));
        if q == o.delimiter {
            out.push(err(
                Code::InvalidSource,
                "source.quote_char",
                format!("the CSV quote character and delimiter are both {q:?}"),
            ));
        }
    }
    for (field, c) in [
        ("delimiter", Some(o.delimiter)),
        ("quote_char", o.quote_char),
    ] {
        if let Some(c @ ('\n' | '\r')) = c {
            out.push(err(
                Code::InvalidSource,
                &format!("source.{field}"),
                format!("the CSV {field} cannot be a line break ({c:?})"),
            ));
        }
    }
}

fn validate_step(asset: &AssetSpec, index: usize, step: &TransformStep, out: &mut Vec<Diagnostic>) {
    let field = format!("steps[{index}]");
    let err = |code: Code, msg: String| {
        Diagnostic::error(
            code,
            format!("step {} ({}): {msg}", index + 1, step.label()),
        )
        .on_asset(&asset.key)
        .on_field(field.clone())
    };
    if let Some(pattern) = step.pattern()
        && let Err(e) = regex::Regex::new(pattern)
    {
        out.push(err(
            Code::InvalidRegex,
            format!(
                "invalid regular expression `{pattern}`: {}",
                first_line(&e.to_string())
            ),
        ));
    }
    let problem = match step {
        TransformStep::KeepLatest { key, order_by } if key.is_empty() || order_by.is_empty() => {
            Some("needs a key and an order_by column")
        }
        TransformStep::Trim { columns, chars } if columns.is_empty() || chars.is_empty() => {
            Some("needs columns and the characters to trim")
        }
        TransformStep::ChangeCase { columns, .. } if columns.is_empty() => Some("needs columns"),
        TransformStep::RegexFlag { column, output, .. }
            if column.is_empty() || output.is_empty() =>
        {
            Some("needs a column and an output column")
        }
        TransformStep::RegexFilter { column, .. } | TransformStep::Cast { column, .. }
            if column.is_empty() =>
        {
            Some("needs a column")
        }
        TransformStep::Rename { from, to } if from.is_empty() || to.is_empty() => {
            Some("needs from and to")
        }
        _ => None,
    };
    if let Some(p) = problem {
        out.push(err(Code::InvalidStep, p.to_owned()));
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn validate_checks(asset: &AssetSpec, out: &mut Vec<Diagnostic>) {
    let mut names = BTreeSet::new();
    for check in &asset.checks {
        let field = format!("checks.{}", check.name);
        let err = |code: Code, msg: String| {
            Diagnostic::error(code, format!("check `{}`: {msg}", check.name))
                .on_asset(&asset.key)
                .on_field(field.clone())
        };
        if !names.insert(check.name.as_str()) {
            out.push(err(
                Code::DuplicateCheck,
                "is defined more than once on this asset".to_owned(),
            ));
        }
        if !is_identifier(&check.name) {
            out.push(err(
                Code::InvalidName,
                "a check name must be an identifier (letters, digits, `_`)".to_owned(),
            ));
        }
        if check.blocking && check.severity == CheckSeverity::Warn {
            out.push(
                Diagnostic::warning(
                    Code::InvalidCheck,
                    format!(
                        "check `{}`: blocking has no effect on a warn check",
                        check.name
                    ),
                )
                .on_asset(&asset.key)
                .on_field(field.clone()),
            );
        }
        for (code, msg) in check_kind_problems(&check.kind) {
            out.push(err(code, msg));
        }
    }
}

/// What is wrong with a check's own settings (no columns, min above max, a regular
/// expression or predicate that does not parse), each with its code.
fn check_kind_problems(kind: &CheckKind) -> Vec<(Code, String)> {
    let mut problems = Vec::new();
    let mut out = |code: Code, msg: String| problems.push((code, msg));
    match kind {
        CheckKind::NotNull { columns } | CheckKind::Unique { columns } if columns.is_empty() => {
            out(Code::InvalidCheck, "needs at least one column".to_owned());
        }
        CheckKind::RowCount {
            min: Some(lo),
            max: Some(hi),
        } if lo > hi => {
            out(
                Code::InvalidCheck,
                format!("min {lo} is greater than max {hi}"),
            );
        }
        CheckKind::RowCount {
            min: None,
            max: None,
        } => {
            out(Code::InvalidCheck, "needs min, max or both".to_owned());
        }
        CheckKind::Schema { columns } if columns.is_empty() => {
            out(Code::InvalidCheck, "needs at least one column".to_owned());
        }
        CheckKind::Freshness { max_lag_minutes: 0 } => {
            out(
                Code::InvalidCheck,
                "max_lag_minutes must be more than 0".to_owned(),
            );
        }
        CheckKind::Regex {
            column, pattern, ..
        } => {
            if column.is_empty() {
                out(Code::InvalidCheck, "needs a column".to_owned());
            }
            if let Err(e) = regex::Regex::new(pattern) {
                out(
                    Code::InvalidRegex,
                    format!(
                        "invalid regular expression `{pattern}`: {}",
                        first_line(&e.to_string())
                    ),
                );
            }
        }
        CheckKind::AcceptedValues { column, values } if column.is_empty() || values.is_empty() => {
            out(
                Code::InvalidCheck,
                "needs a column and at least one value".to_owned(),
            );
        }
        CheckKind::Expression { predicate } => {
            let parsed = Parser::new(&GenericDialect {})
                .try_with_sql(predicate)
                .and_then(|mut p| p.parse_expr());
            if let Err(e) = parsed {
                out(
                    Code::SqlSyntax,
                    format!("predicate `{predicate}` does not parse: {e}"),
                );
            }
        }
        _ => {}
    }
    problems
}

/// `{partition}` is substituted only in partitioned assets; elsewhere it would stay literal (a
/// file named `{partition}.csv`, a query comparing with the text `{partition}`).
fn validate_placeholders(asset: &AssetSpec, out: &mut Vec<Diagnostic>) {
    use crate::model::partition::PARTITION_PLACEHOLDER as P;
    if asset.partitions.is_partitioned() {
        return;
    }
    let mut fields: Vec<(String, &str)> = Vec::new();
    match &asset.definition {
        AssetDefinition::Source(SourceSpec::File { path, .. }) => {
            fields.push(("source.path".into(), path));
        }
        AssetDefinition::Source(SourceSpec::S3 { key, .. }) => {
            fields.push(("source.key".into(), key));
        }
        AssetDefinition::Source(SourceSpec::Postgres { query, .. }) => {
            fields.push(("source.query".into(), query));
        }
        AssetDefinition::Source(SourceSpec::Http { path, params, .. }) => {
            fields.push(("source.path".into(), path));
            for (name, value) in params {
                fields.push((format!("source.params.{name}"), value));
            }
        }
        AssetDefinition::Transform(t) => {
            if let Some(sql) = &t.sql {
                fields.push(("sql".into(), sql));
            }
        }
    }
    for (field, text) in fields {
        if text.contains(P) {
            out.push(
                Diagnostic::error(
                    Code::InvalidPartition,
                    format!(
                        "{field} uses {P}, but asset `{}` has no partitions: add a partitions table to the asset or remove {P}",
                        asset.key
                    ),
                )
                .on_asset(&asset.key)
                .on_field(field),
            );
        }
    }
}

fn validate_partitions(asset: &AssetSpec, out: &mut Vec<Diagnostic>) {
    let err = |msg: String| {
        Diagnostic::error(Code::InvalidPartition, msg)
            .on_asset(&asset.key)
            .on_field("partitions")
    };
    match &asset.partitions {
        PartitionsDefinition::None => {}
        PartitionsDefinition::Daily { start, end } => {
            let parse = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d");
            match parse(start) {
                Err(_) => out.push(err(format!("start `{start}` is not a date (YYYY-MM-DD)"))),
                Ok(start_date) => {
                    if let Some(end) = end {
                        match parse(end) {
                            Err(_) => {
                                out.push(err(format!("end `{end}` is not a date (YYYY-MM-DD)")));
                            }
                            Ok(end_date) if end_date < start_date => {
                                out.push(err(format!("end {end} is before start {start}")));
                            }
                            Ok(_) => {}
                        }
                    }
                }
            }
        }
        PartitionsDefinition::Static { keys } => {
            if keys.is_empty() {
                out.push(err(
                    "a static partition set needs at least one key".to_owned()
                ));
            }
            let mut seen = BTreeSet::new();
            for k in keys {
                if k.is_empty() || k.contains('/') || k.contains(char::is_whitespace) {
                    out.push(err(format!(
                        "partition key `{k}` must be non-empty, without `/` or spaces"
                    )));
                }
                if !seen.insert(k) {
                    out.push(err(format!("partition key `{k}` appears twice")));
                }
            }
        }
    }
}

fn validate_compute(asset: &AssetSpec, out: &mut Vec<Diagnostic>) {
    let c = &asset.compute;
    let err = |field: &str, msg: String| {
        Diagnostic::error(Code::InvalidCompute, msg)
            .on_asset(&asset.key)
            .on_field(format!("compute.{field}"))
    };
    if let Some(v) = c.vcpu
        && !(v > 0.0 && v.is_finite())
    {
        out.push(err("vcpu", format!("vcpu must be more than 0 (got {v})")));
    }
    if c.memory_mb == Some(0) {
        out.push(err("memory_mb", "memory_mb must be more than 0".to_owned()));
    }
    if c.timeout_secs == Some(0) {
        out.push(err(
            "timeout_secs",
            "timeout_secs must be more than 0".to_owned(),
        ));
    }
    if let (Some(lo), Some(hi)) = (c.min_nodes, c.max_nodes)
        && lo > hi
    {
        out.push(err(
            "min_nodes",
            format!("min_nodes {lo} is greater than max_nodes {hi}"),
        ));
    }
    for (field, problem) in super::compute::hint_problems(c) {
        out.push(err(field, problem));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::asset::TransformSpec;
    use crate::model::diagnostic::has_errors;

    fn transform(key: &str, layer: Layer, sql: &str) -> AssetSpec {
        let mut a = AssetSpec::new(key, layer);
        a.definition = AssetDefinition::Transform(TransformSpec {
            sql: Some(sql.into()),
            steps: vec![],
        });
        a
    }

    fn codes(p: &Project) -> Vec<Code> {
        validate(p).into_iter().map(|d| d.code).collect()
    }

    #[test]
    fn a_clean_project_has_no_diagnostics() {
        let mut p = Project::new("ok");
        p.assets.push(AssetSpec::new("raw", Layer::Bronze));
        p.assets
            .push(transform("clean", Layer::Silver, "SELECT * FROM raw"));
        p.assets.push(transform(
            "metric",
            Layer::Gold,
            "SELECT count(*) AS n FROM clean",
        ));
        assert_eq!(validate(&p), vec![]);
    }

    #[test]
    fn collects_every_problem() {
        let mut p = Project::new("bad");
        p.assets.push(AssetSpec::new("raw", Layer::Bronze));
        p.assets.push(AssetSpec::new("raw", Layer::Bronze));
        p.assets.push(transform(
            "metric",
            Layer::Gold,
            "SELECT * FROM raw JOIN nowhere USING (id)",
        ));
        p.assets
            .push(transform("broken", Layer::Silver, "SELECT * FROM"));
        let found = codes(&p);
        for want in [
            Code::DuplicateAsset,
            Code::SqlUnknownTable,
            Code::LayerRule,
            Code::SqlSyntax,
        ] {
            assert!(found.contains(&want), "{want:?} missing from {found:?}");
        }
        assert!(has_errors(&validate(&p)));
    }

    #[test]
    fn cron_needs_five_valid_fields() {
        assert!(check_cron("0 6 * * *").is_ok());
        assert!(check_cron("0 6 * *").is_err());
        assert!(check_cron("61 6 * * *").is_err());
    }
}
