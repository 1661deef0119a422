//! `medallion pii …` and `medallion bench pii`: personal data proposals per column, and the
//! detectors measured on the labelled corpus.

use std::path::Path;

use super::target::resolve_target;
use super::{EXIT_FAILED, EXIT_OK, OutputFormat, print_json};
use crate::app;
use crate::model::pii::Detected;
use crate::model::pii::corpus::{self, Counts, Scores};

/// The least precision and recall per kind the detectors aim at.
pub const TARGET: f64 = 0.95;

/// The labelled corpus shipped in `tests/fixtures/pii/corpus.tsv`, built into the binary so an
/// installed `medallion bench pii` needs no source tree.
const BUILT_IN_CORPUS: &str = include_str!("../../tests/fixtures/pii/corpus.tsv");

/// How the built-in corpus is named in the output.
const BUILT_IN_NAME: &str = "the built-in corpus (tests/fixtures/pii/corpus.tsv)";

fn figure(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".to_owned(), |x| format!("{x:.3}"))
}

fn below(c: &Counts) -> bool {
    c.precision().is_none_or(|p| p < TARGET) || c.recall().is_none_or(|r| r < TARGET)
}

fn counts_json(c: &Counts) -> serde_json::Value {
    serde_json::json!({
        "precision": c.precision(), "recall": c.recall(), "labelled": c.labelled,
        "true_positives": c.true_positives, "false_positives": c.false_positives,
        "false_negatives": c.false_negatives,
    })
}

fn table(title: &str, rows: &std::collections::BTreeMap<Detected, Counts>) {
    println!("{title}");
    println!(
        "  {:<14} {:>9} {:>7} {:>8} {:>4} {:>4} {:>4}",
        "kind", "precision", "recall", "labelled", "tp", "fp", "fn"
    );
    for (kind, c) in rows {
        println!(
            "  {:<14} {:>9} {:>7} {:>8} {:>4} {:>4} {:>4}{}",
            kind.id(),
            figure(c.precision()),
            figure(c.recall()),
            c.labelled,
            c.true_positives,
            c.false_positives,
            c.false_negatives,
            if below(c) { "  below target" } else { "" }
        );
    }
}

/// `bench pii`: precision and recall per kind on the corpus; exit 1 when a kind misses the
/// target on whole columns.
pub fn bench(path: Option<&Path>, format: OutputFormat) -> anyhow::Result<u8> {
    let (name, text) = match path {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).map_err(|e| {
                anyhow::anyhow!("the PII corpus {} could not be read: {e}", p.display())
            })?,
        ),
        None => (BUILT_IN_NAME.to_owned(), BUILT_IN_CORPUS.to_owned()),
    };
    let columns =
        corpus::parse(&text).map_err(|e| anyhow::anyhow!("the PII corpus {name}: {e}"))?;
    let today = chrono::Utc::now().date_naive();
    let scores: Scores = corpus::evaluate(&columns, today);
    let missed = scores.columns.values().any(below);
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "corpus": name,
            "target": TARGET,
            "columns": scores.column_count,
            "values": scores.value_count,
            "per_column": scores.columns.iter().map(|(k, c)| (k.id().to_owned(), counts_json(c))).collect::<serde_json::Map<_, _>>(),
            "per_value": scores.values.iter().map(|(k, c)| (k.id().to_owned(), counts_json(c))).collect::<serde_json::Map<_, _>>(),
            "misses": scores.misses.iter().map(|(id, l, s)| serde_json::json!({
                "column": id, "label": l.map(Detected::id), "proposed": s.map(Detected::id)})).collect::<Vec<_>>(),
        }))?,
        OutputFormat::Text => {
            println!(
                "PII detectors on {name} ({} columns, {} values; target precision and recall ≥ {TARGET})",
                scores.column_count, scores.value_count
            );
            table(
                "Whole columns (the most confident proposal per column):",
                &scores.columns,
            );
            table(
                "Single values (by shape alone, no column name):",
                &scores.values,
            );
            for (id, label, said) in &scores.misses {
                println!(
                    "  missed: {id} is {}, proposed {}",
                    label.map_or("none", Detected::id),
                    said.map_or("none", Detected::id)
                );
            }
        }
    }
    Ok(if missed { EXIT_FAILED } else { EXIT_OK })
}

#[derive(Debug, clap::Subcommand)]
pub enum PiiCommand {
    /// Proposals of personal data per asset and column, from a preview sample of each asset
    /// (its first rows, computed from stored upstream materializations where there are any);
    /// prints kinds and shares only, never the values
    Scan {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        /// Assets to scan (selection syntax); default every asset
        #[arg(long, default_value = "*")]
        select: String,
        /// Rows sampled per asset
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        limit: u64,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
}

pub fn run(workspace: &Path, command: &PiiCommand) -> anyhow::Result<u8> {
    match command {
        PiiCommand::Scan {
            project,
            select,
            limit,
            format,
        } => scan(
            workspace,
            project,
            select,
            usize::try_from(*limit).unwrap_or(usize::MAX),
            *format,
        ),
    }
}

/// One scanned column's proposal, as printed.
#[derive(serde::Serialize)]
struct Row {
    asset: String,
    column: String,
    kind: &'static str,
    confidence: f64,
    share: f64,
    matched: usize,
    sampled: usize,
    /// The tag the project already gives the column, if any.
    tagged: Option<crate::model::PiiKind>,
    /// Dismissed in the studio (not that kind of personal data).
    dismissed: bool,
    proposal: String,
}

fn scan(
    workspace: &Path,
    target: &str,
    select: &str,
    limit: usize,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    let stored = match resolve_target(&mut ws, target)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let keys = app::run::resolve_selection(&stored.project, select)?;
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for key in &keys {
        match app::pii::scan(&ws, &stored, key, limit) {
            Ok(found) => rows.extend(found.into_iter().map(|p| Row {
                asset: key.to_string(),
                column: p.proposal.column.clone(),
                kind: p.proposal.kind.id(),
                confidence: p.proposal.confidence,
                share: p.proposal.share(),
                matched: p.proposal.matched,
                sampled: p.proposal.sampled,
                tagged: p.tagged,
                dismissed: p.dismissed,
                proposal: p.proposal.describe(),
            })),
            Err(e) => failed.push((key.to_string(), app::redact(&e.to_string()))),
        }
    }
    print_scan(&rows, &failed, keys.len(), limit, format)?;
    Ok(if failed.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

fn print_scan(
    rows: &[Row],
    failed: &[(String, String)],
    assets: usize,
    limit: usize,
    format: OutputFormat,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "sample": format!("preview: the first {limit} rows of each asset"),
            "assets": assets,
            "proposals": rows,
            "failed": failed.iter().map(|(a, e)| serde_json::json!({"asset": a, "error": e})).collect::<Vec<_>>(),
        })),
        OutputFormat::Text => {
            println!(
                "{assets} assets scanned from previews (the first {limit} rows of each, computed from stored upstream materializations where there are any)"
            );
            for r in rows {
                let tag = r.tagged.map_or_else(
                    || {
                        if r.dismissed {
                            "dismissed".to_owned()
                        } else {
                            "not tagged".to_owned()
                        }
                    },
                    |t| {
                        format!(
                            "tagged {}",
                            serde_json::to_string(&t)
                                .unwrap_or_default()
                                .trim_matches('"')
                        )
                    },
                );
                println!(
                    "  {}.{}: {} (confidence {:.2}; {tag})",
                    r.asset, r.column, r.proposal, r.confidence
                );
            }
            if rows.is_empty() {
                println!("  no column looks like personal data");
            }
            for (asset, error) in failed {
                println!("  {asset}: not scanned: {error}");
            }
            Ok(())
        }
    }
}
