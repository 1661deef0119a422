//! Blast radius: what depends on an asset or one of its columns — the downstream columns
//! computed from it, the downstream assets (their rows or values), the checks that read what
//! changes, the contracts that promise an affected column, the SQL unit tests whose rows name
//! what changes, and the schedules, sensors and alert rules that run or watch those assets.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::asset::AssetKey;
use super::automation::SensorKind;
use super::check::{AssetCheckSpec, CheckKind};
use super::graph::AssetGraph;
use super::lineage::{ColumnRef, Direction, ProjectLineage, predicate_columns, trace};
use super::project::Project;
use super::selection::AssetSelection;
use super::unit_test::TestRows;

/// A downstream asset and why it is affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImpactedAsset {
    pub asset: AssetKey,
    pub reason: String,
}

/// A check that reads something affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImpactedCheck {
    pub asset: AssetKey,
    pub check: String,
    pub reason: String,
}

/// A contract that promises something affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImpactedContract {
    pub asset: AssetKey,
    pub reason: String,
}

/// A SQL unit test whose given or expected rows name something affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImpactedTest {
    pub asset: AssetKey,
    pub test: String,
    pub reason: String,
}

/// The header columns of unit tests' CSV files, by the path the test names (read by the
/// caller; a file missing here has columns unknown).
pub type TestCsvColumns = BTreeMap<String, Vec<String>>;

/// Everything that depends on the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Impact {
    /// `asset` or `asset.column`.
    pub target: String,
    /// Downstream columns whose values are computed from the target.
    pub columns: Vec<ColumnRef>,
    pub assets: Vec<ImpactedAsset>,
    pub checks: Vec<ImpactedCheck>,
    pub contracts: Vec<ImpactedContract>,
    pub unit_tests: Vec<ImpactedTest>,
    pub schedules: Vec<String>,
    pub sensors: Vec<String>,
    pub alert_rules: Vec<String>,
}

impl Impact {
    /// Whether anything uses the target: a downstream column or asset, a check, a contract or
    /// a unit test (schedules, sensors and alert rules only run or watch it).
    pub fn breaks_something(&self) -> bool {
        !(self.columns.is_empty()
            && self.assets.is_empty()
            && self.checks.is_empty()
            && self.contracts.is_empty()
            && self.unit_tests.is_empty())
    }
}

/// Whether an asset is affected in its rows (all of it) or only in some columns' values.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Affected {
    Rows(String),
    Columns(BTreeSet<String>),
}

/// What depends on `asset` (every column) or on `asset.column`; `csv` holds the columns of
/// unit tests' CSV files.
pub fn impact(
    project: &Project,
    lineage: &ProjectLineage,
    asset: &AssetKey,
    column: Option<&str>,
    csv: &TestCsvColumns,
) -> Impact {
    let graph = AssetGraph::build(project);
    let (columns, affected) = match column {
        None => (Vec::new(), whole_asset(&graph, asset)),
        Some(c) => column_impact(&graph, lineage, asset, c),
    };
    let mut hit: BTreeSet<AssetKey> = affected.keys().cloned().collect();
    hit.insert(asset.clone());
    let own = match column {
        Some(c) => Affected::Columns(BTreeSet::from([c.to_owned()])),
        None => Affected::Rows(String::new()),
    };
    let mut checks = Vec::new();
    let mut contracts = Vec::new();
    for a in &project.assets {
        let how = if &a.key == asset {
            Some(&own)
        } else {
            affected.get(&a.key)
        };
        if let Some(how) = how {
            checks.extend(a.checks.iter().filter_map(|c| check_hit(&a.key, c, how)));
            if let Some(reason) = contract_hit(a, asset, column.is_none(), how) {
                contracts.push(ImpactedContract {
                    asset: a.key.clone(),
                    reason,
                });
            }
        }
    }
    let how_of = |k: &AssetKey| {
        if k == asset {
            Some(&own)
        } else {
            affected.get(k)
        }
    };
    let unit_tests = tests_hit(project, csv, &how_of);
    let selects = |text: &str| {
        AssetSelection::parse(text)
            .and_then(|s| s.resolve(project, &graph))
            .is_ok_and(|keys| !keys.is_disjoint(&hit))
    };
    Impact {
        target: column.map_or_else(|| asset.to_string(), |c| format!("{asset}.{c}")),
        columns,
        assets: affected
            .into_iter()
            .map(|(asset, how)| ImpactedAsset {
                asset,
                reason: match how {
                    Affected::Rows(r) => r,
                    Affected::Columns(c) => format!(
                        "values of {} are computed from it",
                        c.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                },
            })
            .collect(),
        checks,
        contracts,
        unit_tests,
        schedules: project
            .schedules
            .iter()
            .filter(|s| selects(&s.selection))
            .map(|s| s.name.clone())
            .collect(),
        sensors: project
            .sensors
            .iter()
            .filter(|s| {
                selects(&s.selection)
                    || matches!(&s.kind, SensorKind::AssetMaterialized { project: p, asset: a }
                        if p == &project.name && hit.contains(a))
            })
            .map(|s| s.name.clone())
            .collect(),
        alert_rules: project
            .alerts
            .rules
            .iter()
            .filter(|r| r.selection.as_deref().is_none_or(selects))
            .map(|r| r.name.clone())
            .collect(),
    }
}

fn whole_asset(graph: &AssetGraph, asset: &AssetKey) -> BTreeMap<AssetKey, Affected> {
    let mut out = BTreeMap::new();
    for d in graph.with_downstream(asset) {
        if &d != asset {
            out.insert(
                d,
                Affected::Rows(format!("reads {asset}, directly or through other assets")),
            );
        }
    }
    out
}

fn column_impact(
    graph: &AssetGraph,
    lineage: &ProjectLineage,
    asset: &AssetKey,
    column: &str,
) -> (Vec<ColumnRef>, BTreeMap<AssetKey, Affected>) {
    let start = ColumnRef::new(asset, column);
    let reached = trace(lineage, std::slice::from_ref(&start), Direction::Downstream);
    let valued: Vec<ColumnRef> = reached
        .nodes
        .into_iter()
        .map(|n| n.column)
        .filter(|c| c != &start)
        .collect();
    let mut all: BTreeSet<ColumnRef> = valued.iter().cloned().collect();
    all.insert(start);
    let mut out: BTreeMap<AssetKey, Affected> = BTreeMap::new();
    // Assets whose rows depend on an affected column, and everything downstream of them.
    for (key, l) in lineage {
        if key == asset {
            continue;
        }
        let via = l.filters.iter().find(|f| all.contains(f));
        let unknown = l.columns.is_none()
            && graph
                .upstream(key)
                .iter()
                .any(|u| *u == asset || all.iter().any(|c| &c.asset == *u));
        let reason = match (via, unknown) {
            (Some(f), _) => format!("its rows depend on {f} (a filter, join or grouping)"),
            (None, true) => "its columns are unknown and it reads an affected asset".to_owned(),
            (None, false) => continue,
        };
        for d in graph.with_downstream(key) {
            let r = if &d == key {
                reason.clone()
            } else {
                format!("reads {key}, whose rows change")
            };
            out.entry(d).or_insert(Affected::Rows(r));
        }
    }
    for c in &valued {
        let entry = out
            .entry(c.asset.clone())
            .or_insert_with(|| Affected::Columns(BTreeSet::new()));
        if let Affected::Columns(cols) = entry {
            cols.insert(c.column.clone());
        }
    }
    (valued, out)
}

fn check_hit(asset: &AssetKey, check: &AssetCheckSpec, how: &Affected) -> Option<ImpactedCheck> {
    let reason = match how {
        Affected::Rows(_) => format!("runs on {asset}, whose rows change"),
        Affected::Columns(cols) => {
            let read: BTreeSet<String> = match &check.kind {
                CheckKind::Expression { predicate } => {
                    predicate_columns(predicate).unwrap_or_default()
                }
                other => other.columns().into_iter().map(str::to_owned).collect(),
            };
            let hit: Vec<&String> = read.intersection(cols).collect();
            if hit.is_empty() {
                return None;
            }
            format!(
                "reads {}",
                hit.iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    Some(ImpactedCheck {
        asset: asset.clone(),
        check: check.name.clone(),
        reason,
    })
}

/// Why `a`'s contract breaks when `how` it is affected: it promises an affected column, or
/// (`whole`: the target is a whole asset) it is the target's or reads it.
fn contract_hit(
    a: &super::AssetSpec,
    target: &AssetKey,
    whole: bool,
    how: &Affected,
) -> Option<String> {
    let contract = a.contract.as_ref()?;
    match how {
        Affected::Columns(cols) => {
            let hit: Vec<&str> = contract
                .columns
                .keys()
                .filter(|c| cols.contains(*c))
                .map(String::as_str)
                .collect();
            (!hit.is_empty()).then(|| format!("promises {}", hit.join(", ")))
        }
        Affected::Rows(_) if whole && &a.key == target => {
            Some(format!("promises columns of {target}"))
        }
        Affected::Rows(_) if whole => Some(format!("promises columns computed from {target}")),
        Affected::Rows(_) => None,
    }
}

/// The unit tests whose given rows name an affected upstream column (or give rows for an
/// affected whole asset), or whose expected rows name an affected column of their asset.
fn tests_hit<'a>(
    project: &Project,
    csv: &TestCsvColumns,
    how_of: &dyn Fn(&AssetKey) -> Option<&'a Affected>,
) -> Vec<ImpactedTest> {
    let columns_of = |rows: &TestRows| -> Option<BTreeSet<String>> {
        match rows {
            TestRows::Csv(path) => csv.get(path).map(|c| c.iter().cloned().collect()),
            TestRows::Inline(_) => rows
                .inline_columns()
                .map(|c| c.into_iter().map(str::to_owned).collect()),
        }
    };
    // Why rows for `of` naming `named` columns are hit, if they are.
    let why = |of: &AssetKey, rows: &TestRows, verb: &str| -> Option<String> {
        let how = how_of(of)?;
        let named = columns_of(rows);
        match (how, named) {
            (Affected::Rows(_), _) => {
                let to = if verb == "gives" { "for" } else { "of" };
                Some(format!("{verb} rows {to} {of}"))
            }
            (Affected::Columns(cols), Some(named)) => {
                let hit: Vec<&str> = named
                    .iter()
                    .filter(|c| cols.contains(*c))
                    .map(String::as_str)
                    .collect();
                (!hit.is_empty()).then(|| {
                    let named: Vec<String> = hit.iter().map(|c| format!("{of}.{c}")).collect();
                    format!("{verb} {}", named.join(", "))
                })
            }
            (Affected::Columns(cols), None) => Some(format!(
                "{verb} rows of {of} from a CSV file whose columns could not be read (affected: {})",
                cols.iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    };
    let mut out = Vec::new();
    for a in &project.assets {
        for t in &a.tests {
            let mut reasons: Vec<String> = t
                .given
                .iter()
                .filter_map(|(up, rows)| why(up, rows, "gives"))
                .collect();
            reasons.extend(why(&a.key, &t.expect, "expects"));
            if !reasons.is_empty() {
                out.push(ImpactedTest {
                    asset: a.key.clone(),
                    test: t.name.clone(),
                    reason: reasons.join("; "),
                });
            }
        }
    }
    out
}

/// What removing `keys` breaks outside them: the assets downstream (their checks, contracts
/// and unit tests), unit tests of other assets given rows of a removed one, and the
/// schedules, sensors and alert rules that select one. `assets` is empty when nothing outside
/// the removed assets reads them.
pub fn removal_impact(project: &Project, keys: &[AssetKey]) -> Impact {
    let gone: BTreeSet<&AssetKey> = keys.iter().collect();
    let no_lineage = ProjectLineage::new();
    let mut total = Impact {
        target: keys
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        columns: Vec::new(),
        assets: Vec::new(),
        checks: Vec::new(),
        contracts: Vec::new(),
        unit_tests: Vec::new(),
        schedules: Vec::new(),
        sensors: Vec::new(),
        alert_rules: Vec::new(),
    };
    for key in keys {
        let i = impact(project, &no_lineage, key, None, &TestCsvColumns::new());
        for a in i.assets {
            if !gone.contains(&a.asset) && !total.assets.iter().any(|t| t.asset == a.asset) {
                total.assets.push(a);
            }
        }
        let add = |from: Vec<String>, to: &mut Vec<String>| {
            for x in from {
                if !to.contains(&x) {
                    to.push(x);
                }
            }
        };
        add(i.schedules, &mut total.schedules);
        add(i.sensors, &mut total.sensors);
        add(i.alert_rules, &mut total.alert_rules);
        for c in i.checks {
            if !gone.contains(&c.asset) && !total.checks.contains(&c) {
                total.checks.push(c);
            }
        }
        for c in i.contracts {
            if !gone.contains(&c.asset) && !total.contracts.iter().any(|t| t.asset == c.asset) {
                total.contracts.push(c);
            }
        }
        for t in i.unit_tests {
            let seen = total
                .unit_tests
                .iter()
                .any(|u| u.asset == t.asset && u.test == t.test);
            if !gone.contains(&t.asset) && !seen {
                total.unit_tests.push(t);
            }
        }
    }
    total
}

/// What renaming an asset touches outside itself: what the rename rewrites (downstream SQL and
/// dependencies, unit tests' given rows, schedules' selections) and what would break (sensors
/// and alert rules whose selection names the old key, a sensor watching it, SQL that would
/// still read the old name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RenameImpact {
    pub from: String,
    pub to: String,
    /// One line per thing rewritten, e.g. `customer_lifetime_value — its SQL and dependencies`.
    pub rewritten: Vec<String>,
    /// One line per thing that would break.
    pub broken: Vec<String>,
}

/// Whether `selection` names `key` as a term (`key`, `+key`, `key+`).
fn selection_names(selection: &str, key: &AssetKey) -> bool {
    AssetSelection::parse(selection).is_ok_and(|s| {
        s.terms
            .iter()
            .any(|t| matches!(t, super::selection::SelectionTerm::Key { key: k, .. } if k == key))
    })
}

/// What renaming `from` to `to` rewrites and what it would break (`model::edit`'s rename
/// rewrites deps, SQL, unit tests' given rows and schedules; nothing else names the key).
pub fn rename_impact(project: &Project, from: &AssetKey, to: &AssetKey) -> RenameImpact {
    let mut out = RenameImpact {
        from: from.to_string(),
        to: to.to_string(),
        ..RenameImpact::default()
    };
    for a in &project.assets {
        if &a.key == from {
            continue;
        }
        let sql = a.transform().and_then(|t| t.sql.as_deref());
        let new_sql = sql.and_then(|s| super::sql::rename_table(s, from.as_str(), to.as_str()));
        let mut parts = Vec::new();
        if new_sql.is_some() {
            parts.push("its SQL");
        }
        if a.deps.contains(from) {
            parts.push("its dependencies");
        }
        if !parts.is_empty() {
            out.rewritten
                .push(format!("{} — {}", a.key, parts.join(" and ")));
        }
        let still_reads = new_sql
            .as_deref()
            .or(sql)
            .and_then(|s| super::sql::analyze(s).ok())
            .is_some_and(|s| s.tables.contains(from.as_str()));
        if still_reads {
            out.broken.push(format!(
                "{} — its SQL would still read {from}, which the rename cannot rewrite",
                a.key
            ));
        }
        for t in &a.tests {
            if t.given.contains_key(from) {
                out.rewritten.push(format!(
                    "unit test {}.{} — its given rows for {from}",
                    a.key, t.name
                ));
            }
        }
    }
    for s in &project.schedules {
        if selection_names(&s.selection, from) {
            out.rewritten
                .push(format!("schedule {} — its selection", s.name));
        }
    }
    for s in &project.sensors {
        if selection_names(&s.selection, from) {
            out.broken.push(format!(
                "sensor {} — its selection `{}` would name an asset that no longer exists",
                s.name, s.selection
            ));
        }
        if matches!(&s.kind, SensorKind::AssetMaterialized { project: p, asset }
            if p == &project.name && asset == from)
        {
            out.broken.push(format!(
                "sensor {} — it watches materializations of {from}, which would no longer happen",
                s.name
            ));
        }
    }
    for r in &project.alerts.rules {
        if let Some(sel) = r.selection.as_deref()
            && selection_names(sel, from)
        {
            out.broken.push(format!(
                "alert rule {} — its selection `{sel}` would name an asset that no longer exists",
                r.name
            ));
        }
    }
    out
}
