//! `medallion schema`, `lineage` and `impact`: each asset's columns and types, where a column
//! comes from and what it feeds, and what depends on a column or asset — all without running.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{EXIT_BAD_INPUT, EXIT_OK, OutputFormat, print_diagnostics, print_json};
use crate::app::lineage::{
    Analysis, Direction, Impact, LineageGraph, analyze_target, impact, parse_target, start_columns,
};
use crate::app::{self, AppError};
use crate::model::AssetKey;
use crate::model::schema::AssetSchema;

/// `medallion schema PROJECT [ASSET] [--format json]`
#[derive(Debug, clap::Args)]
pub struct SchemaCommand {
    /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
    project: String,
    /// Only this asset
    asset: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

/// `medallion lineage PROJECT ASSET[.COLUMN] [--upstream|--downstream] [--format json]`
#[derive(Debug, clap::Args)]
pub struct LineageCommand {
    /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
    project: String,
    /// An asset, or one of its columns as `ASSET.COLUMN`
    target: String,
    /// Where the values come from (the default)
    #[arg(long, conflicts_with = "downstream")]
    upstream: bool,
    /// What the values feed
    #[arg(long)]
    downstream: bool,
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

/// `medallion impact PROJECT (ASSET[.COLUMN] | --against OLD) [--format json]`
#[derive(Debug, clap::Args)]
pub struct ImpactCommand {
    /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
    project: String,
    /// An asset, or one of its columns as `ASSET.COLUMN`
    #[arg(required_unless_present = "against", conflicts_with = "against")]
    target: Option<String>,
    /// The earlier version to compare with: a project directory, or a git revision (branch,
    /// tag, commit) of the repository the project is in; every removed or retyped column and
    /// removed asset is listed with what depended on it
    #[arg(long, value_name = "GIT_REF_OR_DIR")]
    against: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

/// The analysis, or the exit code after the refusal was printed.
pub(super) fn load(
    workspace: Option<PathBuf>,
    project: &str,
) -> anyhow::Result<Result<Analysis, u8>> {
    match analyze_target(|| app::workspace_path(workspace), project) {
        Ok(a) => Ok(Ok(a)),
        Err(AppError::Invalid {
            name,
            errors,
            diagnostics,
        }) => {
            print_diagnostics(&diagnostics);
            eprintln!("error: project `{name}` has {errors} error(s); fix them first");
            Ok(Err(EXIT_BAD_INPUT))
        }
        Err(e) => Err(e.into()),
    }
}

fn not_found(analysis: &Analysis, what: &str) -> u8 {
    eprintln!(
        "error: project `{}` has no asset or column `{what}` (write a column as ASSET.COLUMN)",
        analysis.project.name
    );
    EXIT_BAD_INPUT
}

pub fn schema(workspace: Option<PathBuf>, command: &SchemaCommand) -> anyhow::Result<u8> {
    let analysis = match load(workspace, &command.project)? {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let only = command.asset.as_ref().map(AssetKey::new);
    if let Some(key) = &only
        && !analysis.schemas.contains_key(key)
    {
        return Ok(not_found(&analysis, key.as_str()));
    }
    let shown: Vec<(&AssetKey, &AssetSchema)> = analysis
        .schemas
        .iter()
        .filter(|(k, _)| only.as_ref().is_none_or(|o| o == *k))
        .collect();
    let diagnostics: Vec<_> = analysis
        .diagnostics
        .iter()
        .filter(|d| only.is_none() || d.asset == only)
        .cloned()
        .collect();
    let failed = shown
        .iter()
        .any(|(_, s)| matches!(s, AssetSchema::Failed { .. }));
    match command.format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "project": analysis.project.name,
            "schemas": shown.iter().map(|(k, s)| serde_json::json!({"asset": k, "schema": s})).collect::<Vec<_>>(),
            "diagnostics": diagnostics,
        }))?,
        OutputFormat::Text => {
            let mut out = String::new();
            for (key, s) in &shown {
                describe_schema(&mut out, key, s);
            }
            print!("{out}");
            print_diagnostics(&diagnostics);
        }
    }
    Ok(if failed { EXIT_BAD_INPUT } else { EXIT_OK })
}

fn describe_schema(out: &mut String, key: &AssetKey, s: &AssetSchema) {
    match s {
        AssetSchema::Known { origin, columns } => {
            let _ = writeln!(out, "{key} ({}, {} columns)", origin.label(), columns.len());
            let width = columns
                .iter()
                .map(|c| c.name.chars().count())
                .max()
                .unwrap_or(0);
            for c in columns {
                let _ = writeln!(out, "  {:width$}  {}", c.name, c.dtype);
            }
        }
        AssetSchema::Unknown { reason } => {
            let _ = writeln!(out, "{key}: columns unknown: {reason}");
        }
        AssetSchema::Failed { message, .. } => {
            let _ = writeln!(out, "{key}: cannot be planned: {message}");
        }
    }
}

pub fn lineage(workspace: Option<PathBuf>, command: &LineageCommand) -> anyhow::Result<u8> {
    let analysis = match load(workspace, &command.project)? {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let Some((asset, column)) = parse_target(&analysis.project, &command.target) else {
        return Ok(not_found(&analysis, &command.target));
    };
    let known = analysis
        .lineage
        .get(&asset)
        .and_then(|l| l.columns.as_ref());
    if let Some(c) = &column
        && known.is_some_and(|cols| !cols.iter().any(|k| &k.column == c))
    {
        return Ok(not_found(&analysis, &command.target));
    }
    let Some(known) = known else {
        let why = match analysis.schemas.get(&asset) {
            Some(AssetSchema::Unknown { reason }) => reason.clone(),
            Some(AssetSchema::Failed { message, .. }) => message.clone(),
            _ => "not known".to_owned(),
        };
        eprintln!("error: the columns of {asset} are unknown: {why}");
        return Ok(EXIT_BAD_INPUT);
    };
    let _ = known;
    let direction = if command.downstream {
        Direction::Downstream
    } else {
        Direction::Upstream
    };
    let start = start_columns(&analysis, &asset, column.as_deref());
    let graph = crate::model::lineage::trace(&analysis.lineage, &start, direction);
    let filters: Vec<String> = analysis
        .lineage
        .get(&asset)
        .map(|l| l.filters.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    match command.format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "target": command.target,
            "direction": direction,
            "graph": graph,
            "rows_decided_by": filters,
        }))?,
        OutputFormat::Text => {
            let mut out = String::new();
            for s in &start {
                describe_tree(&mut out, &graph, s, direction, 0, &mut Vec::new());
            }
            if direction == Direction::Upstream && !filters.is_empty() {
                let _ = writeln!(out, "rows of {asset} decided by: {}", filters.join(", "));
            }
            print!("{out}");
        }
    }
    Ok(EXIT_OK)
}

/// One column and, indented below it, what it comes from or feeds.
fn describe_tree(
    out: &mut String,
    graph: &LineageGraph,
    at: &crate::model::lineage::ColumnRef,
    direction: Direction,
    depth: usize,
    path: &mut Vec<crate::model::lineage::ColumnRef>,
) {
    let kind = graph
        .nodes
        .iter()
        .find(|n| &n.column == at)
        .and_then(|n| n.kind)
        .map_or("unknown", |k| k.as_str());
    let arrow = match (depth, direction) {
        (0, _) => "",
        (_, Direction::Upstream) => "← ",
        (_, Direction::Downstream) => "→ ",
    };
    let _ = writeln!(out, "{}{arrow}{at} ({kind})", "  ".repeat(depth));
    if path.contains(at) {
        return;
    }
    path.push(at.clone());
    let next = graph.edges.iter().filter_map(|(from, to)| match direction {
        Direction::Upstream => (to == at).then_some(from),
        Direction::Downstream => (from == at).then_some(to),
    });
    for n in next {
        describe_tree(out, graph, n, direction, depth + 1, path);
    }
    path.pop();
}

pub fn impact_command(workspace: Option<PathBuf>, command: &ImpactCommand) -> anyhow::Result<u8> {
    let analysis = match load(workspace.clone(), &command.project)? {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let Some(target) = &command.target else {
        return against(workspace, command, &analysis);
    };
    let Some((asset, column)) = parse_target(&analysis.project, target) else {
        return Ok(not_found(&analysis, target));
    };
    if let Some(c) = &column
        && analysis
            .lineage
            .get(&asset)
            .and_then(|l| l.columns.as_ref())
            .is_some_and(|cols| !cols.iter().any(|k| &k.column == c))
    {
        return Ok(not_found(&analysis, target));
    }
    let found = impact(
        &analysis.project,
        &analysis.lineage,
        &asset,
        column.as_deref(),
        &analysis.test_csv,
    );
    match command.format {
        OutputFormat::Json => print_json(&found)?,
        OutputFormat::Text => print!("{}", describe_impact(&found)),
    }
    Ok(EXIT_OK)
}

/// `impact --against OLD`: every change from the earlier version that removes or retypes a
/// column or removes an asset, with what depended on it.
fn against(
    workspace: Option<PathBuf>,
    command: &ImpactCommand,
    analysis: &Analysis,
) -> anyhow::Result<u8> {
    let Some(old) = command.against.as_deref() else {
        return Ok(EXIT_BAD_INPUT);
    };
    let dir = match app::ProjectArg::parse(&command.project) {
        app::ProjectArg::Dir(p) => Some(p.to_owned()),
        app::ProjectArg::Name(name) => {
            let ws = app::open_workspace(&app::workspace_path(workspace)?)?;
            app::load_named(&ws, name)?.source_dir
        }
    };
    let found = match app::against::impact_against(dir.as_deref(), analysis, old) {
        Ok(f) => f,
        Err(AppError::Against(e)) => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
        Err(e) => return Err(e.into()),
    };
    match command.format {
        OutputFormat::Json => print_json(&found)?,
        OutputFormat::Text => {
            if found.is_empty() {
                println!("no column or asset of {old} is removed or retyped");
            }
            for c in &found {
                println!("{}", c.change);
                for line in describe_impact(&c.impact).lines().skip(1) {
                    println!("{line}");
                }
            }
        }
    }
    Ok(EXIT_OK)
}

fn describe_impact(i: &Impact) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "impact of {}:", i.target);
    let list = |out: &mut String, label: &str, items: Vec<String>| {
        if items.is_empty() {
            let _ = writeln!(out, "  {label}: none");
        } else {
            let _ = writeln!(out, "  {label} ({}):", items.len());
            for item in items {
                let _ = writeln!(out, "    {item}");
            }
        }
    };
    list(
        &mut out,
        "columns computed from it",
        i.columns.iter().map(ToString::to_string).collect(),
    );
    list(
        &mut out,
        "assets",
        i.assets
            .iter()
            .map(|a| format!("{} — {}", a.asset, a.reason))
            .collect(),
    );
    list(
        &mut out,
        "checks",
        i.checks
            .iter()
            .map(|c| format!("{}.{} — {}", c.asset, c.check, c.reason))
            .collect(),
    );
    list(
        &mut out,
        "contracts",
        i.contracts
            .iter()
            .map(|c| format!("{} — {}", c.asset, c.reason))
            .collect(),
    );
    list(
        &mut out,
        "unit tests",
        i.unit_tests
            .iter()
            .map(|t| format!("{}.{} — {}", t.asset, t.test, t.reason))
            .collect(),
    );
    list(&mut out, "schedules", i.schedules.clone());
    list(&mut out, "sensors", i.sensors.clone());
    list(&mut out, "alert rules", i.alert_rules.clone());
    out
}
