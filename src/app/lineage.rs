//! Schemas, column lineage and impact without running: the engine infers each asset's
//! columns (`engine::schema`), the model follows columns through SQL and steps
//! (`model::lineage`) and lists what depends on a column or asset (`model::impact`).

use std::path::{Path, PathBuf};

use crate::engine;
use crate::model::lineage::{self, ColumnRef, ProjectLineage};
use crate::model::schema::ProjectSchemas;
use crate::model::{AssetKey, Diagnostic, DiagnosticCode, Project};

use super::{AppError, ProjectArg};

pub use crate::model::impact::{Impact, TestCsvColumns, impact};
pub use crate::model::lineage::{Direction, LineageGraph, LineageKind};

/// A project's schemas and lineage, with the problems found on the way (located in the
/// project's files when it was read from a directory).
#[derive(Debug, Clone)]
pub struct Analysis {
    pub project: Project,
    pub schemas: ProjectSchemas,
    pub lineage: ProjectLineage,
    pub diagnostics: Vec<Diagnostic>,
    /// The header columns of the unit tests' CSV files that could be read.
    pub test_csv: TestCsvColumns,
}

/// The header of every unit test CSV file of `project` found under `dir`.
pub fn test_csv_columns(project: &Project, dir: Option<&Path>) -> TestCsvColumns {
    use crate::model::unit_test::TestRows;
    let mut out = TestCsvColumns::new();
    let Some(dir) = dir else {
        return out;
    };
    let paths = project.assets.iter().flat_map(|a| &a.tests).flat_map(|t| {
        t.given
            .values()
            .chain(std::iter::once(&t.expect))
            .filter_map(|r| match r {
                TestRows::Csv(p) => Some(p.clone()),
                TestRows::Inline(_) => None,
            })
    });
    for path in paths {
        let Ok(text) = std::fs::read_to_string(dir.join(&path)) else {
            continue;
        };
        let header = text.lines().next().unwrap_or_default();
        let columns = header
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        out.insert(path, columns);
    }
    out
}

/// Infers schemas and lineage of a project whose relative source paths resolve in `dir`.
pub fn analyze(project: &Project, dir: Option<&Path>) -> Analysis {
    let schemas = engine::schema::infer_schemas(project, dir);
    let lineage = lineage::project_lineage(project, &schemas);
    let graph = crate::model::AssetGraph::build(project);
    let mut diagnostics: Vec<Diagnostic> = schemas
        .iter()
        .filter_map(|(k, s)| {
            let mut d = s.diagnostic(k)?;
            let blocked: Vec<String> = graph
                .with_downstream(k)
                .into_iter()
                .filter(|d| d != k)
                .map(|d| d.to_string())
                .collect();
            if !blocked.is_empty() {
                d.message = format!("{}; downstream it blocks {}", d.message, blocked.join(", "));
            }
            Some(d)
        })
        .collect();
    diagnostics.extend(crate::model::contract::schema_diagnostics(
        project, &schemas,
    ));
    diagnostics.extend(crate::model::unit_test::schema_diagnostics(
        project, &schemas,
    ));
    for (key, l) in &lineage {
        // A failed schema already says what is wrong with the SQL.
        if diagnostics.iter().any(|d| d.asset.as_ref() == Some(key)) {
            continue;
        }
        for p in &l.problems {
            let mut d = Diagnostic::warning(DiagnosticCode::Schema, p.message.clone())
                .on_asset(key)
                .on_field(p.field.clone());
            d.position_in_field = p.position;
            diagnostics.push(d);
        }
    }
    Analysis {
        project: project.clone(),
        schemas,
        lineage,
        diagnostics,
        test_csv: test_csv_columns(project, dir),
    }
}

/// A project directory validated as `medallion validate` does: the file and model checks, then
/// (when those pass) the schemas inferred without running — SQL reading a column its upstream
/// lacks, checks on missing columns, broken contracts — located in the project's files.
pub fn validate_deep(dir: &Path) -> Result<super::LoadedProject, AppError> {
    let mut loaded = super::validate_dir(dir)?;
    if loaded.diagnostics.iter().any(Diagnostic::is_error) {
        return Ok(loaded);
    }
    let mut analysis = analyze(&loaded.project, Some(&loaded.dir));
    loaded.locate(&mut analysis.diagnostics);
    loaded.diagnostics.extend(analysis.diagnostics);
    Ok(loaded)
}

/// Analyzes a project argument: a directory is read (not imported), its diagnostics located
/// in its files; a name is the stored project, its sources resolved where it was imported
/// from. A directory with errors is refused with its diagnostics.
pub fn analyze_target(
    workspace: impl FnOnce() -> Result<PathBuf, AppError>,
    target: &str,
) -> Result<Analysis, AppError> {
    match ProjectArg::parse(target) {
        ProjectArg::Dir(path) => {
            let loaded = super::validate_dir(path)?;
            let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
            if errors > 0 {
                return Err(AppError::Invalid {
                    name: loaded.project.name.clone(),
                    errors,
                    diagnostics: loaded.diagnostics,
                });
            }
            let mut analysis = analyze(&loaded.project, Some(&loaded.dir));
            loaded.locate(&mut analysis.diagnostics);
            Ok(analysis)
        }
        ProjectArg::Name(name) => {
            let ws = super::open_workspace(&workspace()?)?;
            let stored = super::load_named(&ws, name)?;
            Ok(analyze(&stored.project, stored.source_dir.as_deref()))
        }
    }
}

/// What `ASSET` or `ASSET.COLUMN` names in a project: an asset key is tried whole first
/// (keys may hold dots), then split at the last dot.
pub fn parse_target(project: &Project, text: &str) -> Option<(AssetKey, Option<String>)> {
    let whole = AssetKey::new(text);
    if project.asset(&whole).is_some() {
        return Some((whole, None));
    }
    let (asset, column) = text.rsplit_once('.')?;
    let key = AssetKey::new(asset);
    project.asset(&key).map(|_| (key, Some(column.to_owned())))
}

/// The start columns of a trace: the one column, or every known column of the asset.
pub fn start_columns(
    analysis: &Analysis,
    asset: &AssetKey,
    column: Option<&str>,
) -> Vec<ColumnRef> {
    match column {
        Some(c) => vec![ColumnRef::new(asset, c)],
        None => analysis
            .lineage
            .get(asset)
            .and_then(|l| l.columns.as_ref())
            .map(|cols| {
                cols.iter()
                    .map(|c| ColumnRef::new(asset, &c.column))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// One node of the studio's lineage window: an asset, or a column of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewNode {
    pub asset: AssetKey,
    pub column: Option<String>,
    pub kind: Option<LineageKind>,
    /// The asset's depth in the project's graph (0 for sources): the window's x order.
    pub level: usize,
    /// The asset or column the window was opened on.
    pub is_target: bool,
}

impl ViewNode {
    pub fn label(&self) -> String {
        match &self.column {
            Some(c) => format!("{}.{c}", self.asset),
            None => self.asset.to_string(),
        }
    }
}

/// What the studio's lineage window shows: the asset's (or column's) upstream and
/// downstream graph, and the asset's columns to choose from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageView {
    pub asset: AssetKey,
    pub column: Option<String>,
    /// The asset's known columns (empty when unknown; `note` says why).
    pub columns: Vec<crate::model::schema::SchemaColumn>,
    pub note: Option<String>,
    /// Each upstream asset with its known columns (for the SQL editor's completion).
    pub upstream: Vec<(AssetKey, Vec<crate::model::schema::SchemaColumn>)>,
    pub nodes: Vec<ViewNode>,
    /// `(from, to)` indexes into `nodes`: `from` feeds `to`.
    pub edges: Vec<(usize, usize)>,
}

/// The lineage window's view of `asset`, or of one of its columns.
pub fn lineage_view(
    project: &Project,
    dir: Option<&Path>,
    asset: &AssetKey,
    column: Option<&str>,
) -> LineageView {
    let analysis = analyze(project, dir);
    let graph = crate::model::AssetGraph::build(project);
    let levels = asset_levels(&graph);
    let level = |k: &AssetKey| levels.get(k).copied().unwrap_or(0);
    let schema = analysis.schemas.get(asset);
    let columns = schema
        .and_then(|s| s.columns())
        .map(<[_]>::to_vec)
        .unwrap_or_default();
    let note = match schema {
        Some(crate::model::schema::AssetSchema::Unknown { reason }) => Some(reason.clone()),
        Some(crate::model::schema::AssetSchema::Failed { message, .. }) => Some(message.clone()),
        _ => None,
    };
    let upstream = graph
        .upstream(asset)
        .into_iter()
        .map(|u| {
            let cols = analysis
                .schemas
                .get(u)
                .and_then(|s| s.columns())
                .map(<[_]>::to_vec)
                .unwrap_or_default();
            (u.clone(), cols)
        })
        .collect();
    let mut view = LineageView {
        asset: asset.clone(),
        column: column.map(str::to_owned),
        columns,
        note,
        upstream,
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    let mut index = std::collections::BTreeMap::new();
    let mut add_node = |view: &mut LineageView, n: ViewNode| -> usize {
        let key = (n.asset.clone(), n.column.clone());
        *index.entry(key).or_insert_with(|| {
            view.nodes.push(n);
            view.nodes.len() - 1
        })
    };
    match column {
        Some(c) => {
            let start = ColumnRef::new(asset, c);
            for direction in [Direction::Upstream, Direction::Downstream] {
                let g = lineage::trace(&analysis.lineage, std::slice::from_ref(&start), direction);
                let mut at = |view: &mut LineageView, r: &ColumnRef| {
                    let kind = g.nodes.iter().find(|n| &n.column == r).and_then(|n| n.kind);
                    add_node(
                        view,
                        ViewNode {
                            asset: r.asset.clone(),
                            column: Some(r.column.clone()),
                            kind,
                            level: level(&r.asset),
                            is_target: r == &start,
                        },
                    )
                };
                at(&mut view, &start);
                for (from, to) in &g.edges {
                    let (f, t) = (at(&mut view, from), at(&mut view, to));
                    if !view.edges.contains(&(f, t)) {
                        view.edges.push((f, t));
                    }
                }
            }
        }
        None => {
            let mut keys: Vec<AssetKey> = graph.with_upstream(asset).into_iter().collect();
            keys.extend(graph.with_downstream(asset));
            for k in &keys {
                add_node(
                    &mut view,
                    ViewNode {
                        asset: k.clone(),
                        column: None,
                        kind: None,
                        level: level(k),
                        is_target: k == asset,
                    },
                );
            }
            for (from, to) in graph.edges() {
                if let (Some(&f), Some(&t)) = (
                    index.get(&(from.clone(), None)),
                    index.get(&(to.clone(), None)),
                ) && !view.edges.contains(&(f, t))
                {
                    view.edges.push((f, t));
                }
            }
        }
    }
    view
}

/// Each asset's depth: 0 for an asset without upstream, else one more than its deepest
/// upstream.
fn asset_levels(graph: &crate::model::AssetGraph) -> std::collections::BTreeMap<AssetKey, usize> {
    let mut out = std::collections::BTreeMap::new();
    let order = graph
        .topological_order()
        .unwrap_or_else(|_| graph.keys().cloned().collect());
    for k in order {
        let l = graph
            .upstream(&k)
            .iter()
            .filter_map(|u| out.get(*u))
            .max()
            .map_or(0, |m: &usize| m + 1);
        out.insert(k, l);
    }
    out
}
