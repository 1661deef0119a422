//! One asset between its `[assets.KEY]` table and [`AssetSpec`]: SQL inline or from a file,
//! steps, source, checks, partitions, freshness and compute hints, each problem located.

use std::collections::BTreeMap;
use std::ops::Range;

use super::check::check_from_file;
use super::check::check_to_file;
use super::source::source_from_file;
use super::source::source_to_file;
use super::step::step_from_file;
use super::step::step_to_file;
use super::{ConvertError, FileProblem, Spans, SqlFiles, no_span, refuse_extra, required};
use toml::Spanned;

use crate::format::file::{
    AssetFile, CheckFile, ComputeFile, ContractColumnFile, ContractFile, FreshnessFile,
    PartitionsFile, SourceFile, StepFile, UnitTestFile,
};
use crate::model::contract::{Contract, ContractColumn, DriftPolicy};
use crate::model::{
    AssetDefinition, AssetKey, AssetSpec, ComputeHints, FreshnessPolicy, PartitionsDefinition,
    TransformSpec, TransformStep,
};

pub(super) fn asset_from_file(
    key: &str,
    f: AssetFile,
    span: Range<usize>,
    sql_files: &dyn SqlFiles,
    spans: &mut Spans,
    problems: &mut Vec<FileProblem>,
) -> AssetSpec {
    let mut reader = AssetReader {
        key,
        asset_key: AssetKey::new(key),
        spans,
        problems,
    };
    let mut asset = AssetSpec::new(key, f.layer);
    asset.description = f.description;
    asset.owner = f.owner;
    asset.group = f.group;
    asset.code_version = f.code_version;
    asset.tags = f.tags;
    asset.pii = f.pii;
    asset.deps = f.deps.into_iter().map(AssetKey::new).collect();

    let sql_text = reader.sql(f.sql, f.sql_file, f.source.is_none(), span, sql_files);
    let steps = reader.steps(f.steps);
    reader.definition(&mut asset, f.source, sql_text, steps);
    reader.checks(&mut asset, f.checks);
    if let Some(p) = f.partitions {
        let pspan = p.span();
        reader.mark("partitions", pspan.clone());
        match partitions_from_file(p.into_inner()) {
            Ok(p) => asset.partitions = p,
            Err(e) => reader.problem(pspan, "partitions", format!("partitions: {e}")),
        }
    }
    if let Some(fr) = f.freshness {
        reader.mark("freshness", fr.span());
        let FreshnessFile {
            max_lag_minutes,
            cron,
        } = fr.into_inner();
        asset.freshness = Some(FreshnessPolicy {
            max_lag_minutes,
            cron,
        });
    }
    if let Some(c) = f.contract {
        reader.mark("contract", c.span());
        asset.contract = Some(contract_from_file(c.into_inner()));
    }
    reader.tests(&mut asset, f.tests);
    if let Some(c) = f.compute {
        reader.mark("compute", c.span());
        let c = c.into_inner();
        asset.compute = ComputeHints {
            tier: c.tier.unwrap_or_default(),
            vcpu: c.vcpu,
            memory_mb: c.memory_mb,
            timeout_secs: c.timeout_secs,
            spot: c.spot,
            node_type: c.node_type,
            min_nodes: c.min_nodes,
            max_nodes: c.max_nodes,
        };
    }
    asset
}

/// Reads the parts of one asset, recording where each sits and every problem found.
struct AssetReader<'a> {
    key: &'a str,
    asset_key: AssetKey,
    spans: &'a mut Spans,
    problems: &'a mut Vec<FileProblem>,
}

impl AssetReader<'_> {
    fn problem(&mut self, span: Range<usize>, field: &str, message: String) {
        self.problems.push(FileProblem {
            span,
            asset: Some(self.asset_key.clone()),
            field: field.to_owned(),
            message,
        });
    }

    fn mark(&mut self, field: &str, span: Range<usize>) {
        self.spans
            .fields
            .insert((self.key.to_owned(), field.to_owned()), span);
    }

    /// SQL: inline, from `sql_file`, or (for a transform) from the conventional
    /// `sql/<key>.sql`.
    fn sql(
        &mut self,
        sql: Option<Spanned<String>>,
        sql_file: Option<Spanned<String>>,
        transform: bool,
        span: Range<usize>,
        sql_files: &dyn SqlFiles,
    ) -> Option<String> {
        let mut sql_text = None;
        match (sql, sql_file) {
            (Some(_), Some(file)) => self.problem(
                file.span(),
                "sql_file",
                "give either sql or sql_file, not both".into(),
            ),
            (Some(inline), None) => {
                self.mark("sql", inline.span());
                sql_text = Some(inline.into_inner());
            }
            (None, Some(file)) => {
                let path = file.get_ref().clone();
                match sql_files.read(&path) {
                    Ok(Some(text)) => {
                        self.spans.sql_files.insert(self.key.to_owned(), path);
                        sql_text = Some(text.trim_end().to_owned());
                    }
                    Ok(None) => self.problem(
                        file.span(),
                        "sql_file",
                        format!("SQL file `{path}` does not exist"),
                    ),
                    Err(e) => self.problem(
                        file.span(),
                        "sql_file",
                        format!("cannot read SQL file `{path}`: {e}"),
                    ),
                }
                self.mark("sql", file.span());
            }
            (None, None) => {
                let path = format!("sql/{}.sql", self.key);
                if transform && let Ok(Some(text)) = sql_files.read(&path) {
                    self.spans.sql_files.insert(self.key.to_owned(), path);
                    sql_text = Some(text.trim_end().to_owned());
                }
                self.mark("sql", span);
            }
        }
        sql_text
    }

    fn steps(&mut self, files: Vec<Spanned<StepFile>>) -> Vec<TransformStep> {
        let mut steps = Vec::new();
        for (i, s) in files.into_iter().enumerate() {
            let field = format!("steps[{i}]");
            self.mark(&field, s.span());
            let step_span = s.span();
            match step_from_file(s.into_inner()) {
                Ok(step) => steps.push(step),
                Err(e) => self.problem(step_span, &field, format!("step {}: {e}", i + 1)),
            }
        }
        steps
    }

    /// A source, or a transform of SQL and steps — never both.
    fn definition(
        &mut self,
        asset: &mut AssetSpec,
        source: Option<Spanned<SourceFile>>,
        sql_text: Option<String>,
        steps: Vec<TransformStep>,
    ) {
        match source {
            Some(source) => {
                let source_span = source.span();
                self.mark("source", source_span.clone());
                // The CSV options validation checks, located on their own lines.
                for (field, value) in [
                    ("source.delimiter", &source.get_ref().delimiter),
                    ("source.quote_char", &source.get_ref().quote_char),
                ] {
                    if let Some(v) = value {
                        self.mark(field, v.span());
                    }
                }
                if sql_text.is_some() || !steps.is_empty() {
                    self.problem(
                        source_span.clone(),
                        "source",
                        "an asset is either a source or a transform (sql/steps), not both".into(),
                    );
                }
                match source_from_file(source.into_inner()) {
                    Ok(s) => asset.definition = AssetDefinition::Source(s),
                    Err(e) => self.problem(source_span, "source", format!("source: {e}")),
                }
            }
            None => {
                asset.definition = AssetDefinition::Transform(TransformSpec {
                    sql: sql_text,
                    steps,
                });
            }
        }
    }

    fn tests(&mut self, asset: &mut AssetSpec, files: Vec<Spanned<UnitTestFile>>) {
        for f in files {
            let mut marks = Vec::new();
            let read =
                super::unit_test::test_from_file(f, &mut |field: String, span: Range<usize>| {
                    marks.push((field, span));
                });
            for (field, span) in marks {
                self.mark(&field, span);
            }
            match read {
                Ok(t) => asset.tests.push(t),
                Err(problems) => {
                    for (span, field, message) in problems {
                        self.problem(span, &field, message);
                    }
                }
            }
        }
    }

    fn checks(&mut self, asset: &mut AssetSpec, files: Vec<Spanned<CheckFile>>) {
        for c in files {
            let cspan = c.span();
            let check = c.into_inner();
            let field = format!("checks.{}", check.name);
            self.mark(&field, cspan.clone());
            let name = check.name.clone();
            match check_from_file(check) {
                Ok(c) => asset.checks.push(c),
                Err(e) => self.problem(cspan, &field, format!("check `{name}`: {e}")),
            }
        }
    }
}

/// The file form of one asset; a transform's SQL goes into `sql_files` as `sql/<key>.sql`.
pub(super) fn asset_to_file(a: &AssetSpec, sql_files: &mut BTreeMap<String, String>) -> AssetFile {
    let mut f = AssetFile {
        layer: a.layer,
        description: a.description.clone(),
        owner: a.owner.clone(),
        group: a.group.clone(),
        code_version: a.code_version.clone(),
        deps: a.deps.iter().map(ToString::to_string).collect(),
        sql: None,
        sql_file: None,
        tags: a.tags.clone(),
        pii: a.pii.clone(),
        source: None,
        partitions: partitions_to_file(&a.partitions).map(no_span),
        freshness: a.freshness.as_ref().map(|fr| {
            no_span(FreshnessFile {
                max_lag_minutes: fr.max_lag_minutes,
                cron: fr.cron.clone(),
            })
        }),
        compute: (!a.compute.is_default()).then(|| {
            let c = &a.compute;
            no_span(ComputeFile {
                tier: Some(c.tier),
                vcpu: c.vcpu,
                memory_mb: c.memory_mb,
                timeout_secs: c.timeout_secs,
                spot: c.spot,
                node_type: c.node_type.clone(),
                min_nodes: c.min_nodes,
                max_nodes: c.max_nodes,
            })
        }),
        steps: Vec::new(),
        checks: a.checks.iter().map(|c| no_span(check_to_file(c))).collect(),
        contract: a.contract.as_ref().map(|c| no_span(contract_to_file(c))),
        tests: a
            .tests
            .iter()
            .map(|t| no_span(super::unit_test::test_to_file(t)))
            .collect(),
    };
    match &a.definition {
        AssetDefinition::Source(s) => f.source = Some(no_span(source_to_file(s))),
        AssetDefinition::Transform(t) => {
            if let Some(sql) = &t.sql {
                let path = format!("sql/{}.sql", a.key);
                let mut text = sql.trim_end().to_owned();
                text.push('\n');
                sql_files.insert(path.clone(), text);
                f.sql_file = Some(no_span(path));
            }
            f.steps = t.steps.iter().map(|s| no_span(step_to_file(s))).collect();
        }
    }
    f
}

pub(super) fn partitions_from_file(
    p: PartitionsFile,
) -> Result<PartitionsDefinition, ConvertError> {
    match p.kind.as_str() {
        "daily" => {
            refuse_extra("daily partition set", &[("keys", p.keys.is_some())])?;
            Ok(PartitionsDefinition::Daily {
                start: required(p.start, "daily partition set", "start")?,
                end: p.end,
            })
        }
        "static" => {
            refuse_extra(
                "static partition set",
                &[("start", p.start.is_some()), ("end", p.end.is_some())],
            )?;
            Ok(PartitionsDefinition::Static {
                keys: required(p.keys, "static partition set", "keys")?,
            })
        }
        other => Err(ConvertError::Unknown {
            what: "partitions kind",
            found: other.to_owned(),
            expected: "daily or static",
        }),
    }
}

pub(super) fn partitions_to_file(p: &PartitionsDefinition) -> Option<PartitionsFile> {
    match p {
        PartitionsDefinition::None => None,
        PartitionsDefinition::Daily { start, end } => Some(PartitionsFile {
            kind: "daily".into(),
            start: Some(start.clone()),
            end: end.clone(),
            keys: None,
        }),
        PartitionsDefinition::Static { keys } => Some(PartitionsFile {
            kind: "static".into(),
            start: None,
            end: None,
            keys: Some(keys.clone()),
        }),
    }
}

fn contract_from_file(f: ContractFile) -> Contract {
    Contract {
        columns: f
            .columns
            .into_iter()
            .map(|(name, c)| {
                (
                    name,
                    ContractColumn {
                        dtype: c.dtype,
                        required: c.required.unwrap_or(true),
                    },
                )
            })
            .collect(),
        allow_extra_columns: f.allow_extra_columns.unwrap_or(true),
        on_drift: f.on_drift.unwrap_or_default(),
    }
}

fn contract_to_file(c: &Contract) -> ContractFile {
    ContractFile {
        allow_extra_columns: (!c.allow_extra_columns).then_some(false),
        on_drift: (c.on_drift != DriftPolicy::Warn).then_some(c.on_drift),
        columns: c
            .columns
            .iter()
            .map(|(name, col)| {
                (
                    name.clone(),
                    ContractColumnFile {
                        dtype: col.dtype,
                        required: (!col.required).then_some(false),
                    },
                )
            })
            .collect(),
    }
}
