//! `medallion pii …` and `medallion bench pii`: personal data proposals per column, and the
//! detectors measured on the labelled corpus.

use std::path::{Path, PathBuf};

use super::{EXIT_FAILED, EXIT_OK, OutputFormat, print_json};
use crate::model::pii::Detected;
use crate::model::pii::corpus::{self, Counts, Scores};

/// The least precision and recall per kind the detectors aim at.
pub const TARGET: f64 = 0.95;

/// The corpus shipped with the source tree.
pub fn default_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pii/corpus.tsv")
}

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
    let path = path.map_or_else(default_corpus, Path::to_path_buf);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("the PII corpus {} could not be read: {e}", path.display()))?;
    let columns = corpus::parse(&text)
        .map_err(|e| anyhow::anyhow!("the PII corpus {}: {e}", path.display()))?;
    let today = chrono::Utc::now().date_naive();
    let scores: Scores = corpus::evaluate(&columns, today);
    let missed = scores.columns.values().any(below);
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "corpus": path.display().to_string(),
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
                "PII detectors on {} ({} columns, {} values; target precision and recall ≥ {TARGET})",
                path.display(),
                scores.column_count,
                scores.value_count
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
