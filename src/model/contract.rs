//! Schema contracts: the columns and types an asset promises its consumers, checked against
//! the schema inferred without running (`model::schema`), and the problems a known schema
//! shows before anything runs — a check that reads a column the asset does not have, a
//! required column removed, a type changed unsafely — each naming who consumes it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::asset::{AssetDefinition, AssetKey};
use super::check::CheckKind;
use super::datatype::DataType;
use super::diagnostic::{Diagnostic, DiagnosticCode};
use super::graph::AssetGraph;
use super::lineage::predicate_columns;
use super::project::Project;
use super::run::{ColumnSchema, RunId};
use super::schema::{AssetSchema, ProjectSchemas, SchemaColumn, find_word};

/// What an asset promises about its output columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    /// The promised columns by name.
    pub columns: BTreeMap<String, ContractColumn>,
    /// Whether the output may hold columns the contract does not name.
    pub allow_extra_columns: bool,
    /// What a source's schema drift at run time is: a warning, or an error that fails the step.
    pub on_drift: DriftPolicy,
}

impl Default for Contract {
    fn default() -> Self {
        Self {
            columns: BTreeMap::new(),
            allow_extra_columns: true,
            on_drift: DriftPolicy::Warn,
        }
    }
}

/// One promised column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractColumn {
    pub dtype: DataType,
    /// A required column's absence is an error; an optional one's only a warning.
    pub required: bool,
}

/// How schema drift of a source is reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftPolicy {
    #[default]
    Warn,
    Error,
}

/// How an actual type stands to the promised one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeFit {
    Same,
    /// Every value converts to the promised type without loss (`int32` where `int64` is
    /// promised, a decimal with fewer digits).
    Safe,
    Unsafe,
}

/// How `actual` (spelled as `model::schema` spells types) fits the promised type.
pub fn type_fit(actual: &str, promised: DataType) -> TypeFit {
    let Some(actual) = DataType::parse(actual) else {
        return TypeFit::Unsafe;
    };
    if actual == promised {
        return TypeFit::Same;
    }
    let safe = match (actual, promised) {
        (DataType::Int32, DataType::Int64 | DataType::Float64)
        | (DataType::Float32, DataType::Float64)
        | (DataType::Date, DataType::Datetime) => true,
        (
            DataType::Decimal {
                precision: p,
                scale: s,
            },
            DataType::Decimal {
                precision: pp,
                scale: ps,
            },
        ) => ps >= s && pp.saturating_sub(ps) >= p.saturating_sub(s),
        _ => false,
    };
    if safe { TypeFit::Safe } else { TypeFit::Unsafe }
}

/// Problems a project's known schemas show before running: checks reading missing columns and
/// contracts the inferred schemas break. Failed schemas are reported by their own diagnostic.
pub fn schema_diagnostics(project: &Project, schemas: &ProjectSchemas) -> Vec<Diagnostic> {
    let graph = AssetGraph::build(project);
    let mut out = Vec::new();
    for asset in &project.assets {
        let Some(columns) = schemas.get(&asset.key).and_then(AssetSchema::columns) else {
            continue;
        };
        let have: BTreeSet<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        for check in &asset.checks {
            let read: BTreeSet<String> = match &check.kind {
                CheckKind::Expression { predicate } => {
                    predicate_columns(predicate).unwrap_or_default()
                }
                other => other.columns().into_iter().map(str::to_owned).collect(),
            };
            for missing in read.iter().filter(|c| !have.contains(c.as_str())) {
                out.push(
                    Diagnostic::error(
                        DiagnosticCode::Schema,
                        format!(
                            "check `{}` reads column `{missing}`, which {} does not have (its columns: {})",
                            check.name,
                            asset.key,
                            names(columns)
                        ),
                    )
                    .on_asset(&asset.key)
                    .on_field(format!("checks.{}", check.name)),
                );
            }
        }
        if let Some(contract) = &asset.contract {
            out.extend(contract_diagnostics(
                project, &graph, &asset.key, contract, columns,
            ));
        }
    }
    out
}

fn names(columns: &[SchemaColumn]) -> String {
    columns
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn contract_diagnostics(
    project: &Project,
    graph: &AssetGraph,
    key: &AssetKey,
    contract: &Contract,
    columns: &[SchemaColumn],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let diag = |error: bool, message: String| {
        let d = if error {
            Diagnostic::error(DiagnosticCode::Contract, message)
        } else {
            Diagnostic::warning(DiagnosticCode::Contract, message)
        };
        d.on_asset(key).on_field("contract")
    };
    for (name, promised) in &contract.columns {
        let Some(actual) = columns.iter().find(|c| &c.name == name) else {
            let kind = if promised.required {
                "required"
            } else {
                "optional"
            };
            out.push(diag(
                promised.required,
                format!(
                    "the contract's {kind} column `{name}` ({}) is missing from {key}'s output; {}",
                    promised.dtype,
                    consumers_sentence(project, graph, key, name)
                ),
            ));
            continue;
        };
        match type_fit(&actual.dtype, promised.dtype) {
            TypeFit::Same => {}
            TypeFit::Safe => out.push(diag(
                false,
                format!(
                    "column `{name}` is {} where the contract promises {} (it converts without loss)",
                    actual.dtype, promised.dtype
                ),
            )),
            TypeFit::Unsafe => out.push(diag(
                true,
                format!(
                    "column `{name}` is {} where the contract promises {}, an unsafe change; {}",
                    actual.dtype,
                    promised.dtype,
                    consumers_sentence(project, graph, key, name)
                ),
            )),
        }
    }
    if !contract.allow_extra_columns {
        let extra: Vec<&str> = columns
            .iter()
            .filter(|c| !contract.columns.contains_key(&c.name))
            .map(|c| c.name.as_str())
            .collect();
        if !extra.is_empty() {
            out.push(diag(
                true,
                format!(
                    "{key} outputs column(s) the contract does not name and extra columns are not allowed: {}",
                    extra.join(", ")
                ),
            ));
        }
    }
    out
}

/// Who reads `asset.column`: the downstream assets whose SQL names it (with the line), the
/// checks on the asset that read it, and everything further downstream.
pub fn consumers(
    project: &Project,
    graph: &AssetGraph,
    asset: &AssetKey,
    column: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut direct = BTreeSet::new();
    for down in graph.downstream(asset) {
        let Some(spec) = project.asset(down) else {
            continue;
        };
        if let AssetDefinition::Transform(t) = &spec.definition {
            match t.sql.as_deref() {
                Some(sql) => match find_word(sql, column) {
                    Some((line, _)) => out.push(format!("{down} (its SQL, line {line})")),
                    None => continue,
                },
                None => out.push(format!("{down} (its steps take every column)")),
            }
            direct.insert(down.clone());
        }
    }
    if let Some(spec) = project.asset(asset) {
        for check in &spec.checks {
            let read: BTreeSet<String> = match &check.kind {
                CheckKind::Expression { predicate } => {
                    predicate_columns(predicate).unwrap_or_default()
                }
                other => other.columns().into_iter().map(str::to_owned).collect(),
            };
            if read.contains(column) {
                out.push(format!("check `{}`", check.name));
            }
        }
    }
    let further: BTreeSet<AssetKey> = direct
        .iter()
        .flat_map(|d| graph.with_downstream(d))
        .filter(|k| !direct.contains(k))
        .collect();
    if !further.is_empty() {
        out.push(format!(
            "and downstream of them {}",
            further
                .iter()
                .map(AssetKey::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

fn consumers_sentence(
    project: &Project,
    graph: &AssetGraph,
    key: &AssetKey,
    column: &str,
) -> String {
    let list = consumers(project, graph, key, column);
    if list.is_empty() {
        "nothing in the project reads it".to_owned()
    } else {
        format!("consumers: {}", list.join(", "))
    }
}

/// A column whose type changed between two materializations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retyped {
    pub name: String,
    pub from: String,
    pub to: String,
}

/// A source read with a different schema than its last materialization's: a run event, kept
/// with the run, so the report and the card read it back after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDrift {
    pub asset: AssetKey,
    pub partition: Option<String>,
    /// The run whose materialization the new schema is compared with.
    pub since_run: RunId,
    pub added: Vec<ColumnSchema>,
    pub removed: Vec<ColumnSchema>,
    pub retyped: Vec<Retyped>,
    /// The asset's contract fails on drift (`on_drift = "error"`): the step failed.
    pub error: bool,
}

impl SchemaDrift {
    /// What changed between `before` and `after`, or `None` when the columns and types match
    /// (column order is not compared).
    pub fn between(
        asset: &AssetKey,
        partition: Option<&str>,
        since_run: &RunId,
        before: &[ColumnSchema],
        after: &[ColumnSchema],
    ) -> Option<Self> {
        let old: BTreeMap<&str, &str> = before
            .iter()
            .map(|c| (c.name.as_str(), c.dtype.as_str()))
            .collect();
        let new: BTreeMap<&str, &str> = after
            .iter()
            .map(|c| (c.name.as_str(), c.dtype.as_str()))
            .collect();
        let added: Vec<ColumnSchema> = after
            .iter()
            .filter(|c| !old.contains_key(c.name.as_str()))
            .cloned()
            .collect();
        let removed: Vec<ColumnSchema> = before
            .iter()
            .filter(|c| !new.contains_key(c.name.as_str()))
            .cloned()
            .collect();
        let retyped: Vec<Retyped> = after
            .iter()
            .filter_map(|c| {
                let from = old.get(c.name.as_str())?;
                (*from != c.dtype).then(|| Retyped {
                    name: c.name.clone(),
                    from: (*from).to_owned(),
                    to: c.dtype.clone(),
                })
            })
            .collect();
        if added.is_empty() && removed.is_empty() && retyped.is_empty() {
            return None;
        }
        Some(Self {
            asset: asset.clone(),
            partition: partition.map(str::to_owned),
            since_run: since_run.clone(),
            added,
            removed,
            retyped,
            error: false,
        })
    }

    /// "new column x (int64); missing column y (string); z int64 → string".
    pub fn changes(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(
            self.added
                .iter()
                .map(|c| format!("new column {} ({})", c.name, c.dtype)),
        );
        parts.extend(
            self.removed
                .iter()
                .map(|c| format!("missing column {} ({})", c.name, c.dtype)),
        );
        parts.extend(
            self.retyped
                .iter()
                .map(|r| format!("{} {} → {}", r.name, r.from, r.to)),
        );
        parts.join("; ")
    }

    /// One line for logs and the report.
    pub fn summary(&self) -> String {
        let part = self
            .partition
            .as_deref()
            .map_or_else(String::new, |p| format!("[{p}]"));
        format!(
            "{}{part}: schema drift since run {}: {}{}",
            self.asset,
            self.since_run,
            self.changes(),
            if self.error {
                " — an error: its contract fails on drift"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DataType {
        DataType::parse(s).unwrap()
    }

    #[test]
    fn widening_is_safe_and_narrowing_is_not() {
        assert_eq!(type_fit("int64", t("int64")), TypeFit::Same);
        assert_eq!(type_fit("int32", t("int64")), TypeFit::Safe);
        assert_eq!(type_fit("int64", t("int32")), TypeFit::Unsafe);
        assert_eq!(type_fit("decimal(12,2)", t("decimal(38,2)")), TypeFit::Safe);
        assert_eq!(
            type_fit("decimal(38,2)", t("decimal(12,2)")),
            TypeFit::Unsafe
        );
        assert_eq!(
            type_fit("decimal(12,2)", t("decimal(12,4)")),
            TypeFit::Unsafe
        );
        assert_eq!(type_fit("float64", t("string")), TypeFit::Unsafe);
        assert_eq!(type_fit("u32", t("int64")), TypeFit::Unsafe);
    }

    #[test]
    fn drift_lists_new_missing_and_retyped_columns_and_ignores_order() {
        let col = |n: &str, t: &str| ColumnSchema {
            name: n.to_owned(),
            dtype: t.to_owned(),
        };
        let key = AssetKey::new("raw");
        let run = RunId::new("r1");
        let before = [col("a", "int64"), col("b", "string"), col("c", "date")];
        let same = [col("c", "date"), col("a", "int64"), col("b", "string")];
        assert_eq!(SchemaDrift::between(&key, None, &run, &before, &same), None);
        let after = [col("a", "string"), col("c", "date"), col("d", "float64")];
        let d = SchemaDrift::between(&key, None, &run, &before, &after).unwrap();
        assert_eq!(
            d.changes(),
            "new column d (float64); missing column b (string); a int64 → string"
        );
    }
}
