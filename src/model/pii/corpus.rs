//! The labelled corpus the detectors are measured on, and the measuring: precision and recall
//! per kind, for whole columns (what `pii scan` proposes) and for single values (the kinds with
//! a shape of their own).
//!
//! The corpus is tab-separated text, one value a line: `column_id`, the column's name, the
//! column's label, the value's label (a [`Detected`] id or `none`), the value. Lines starting
//! with `#` are comments.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::{Detected, classify_value, detect_column};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CorpusError {
    #[error("line {line}: expected 5 tab-separated fields, found {found}")]
    Fields { line: usize, found: usize },
    #[error("line {line}: unknown label '{label}' (expected a kind such as email, or none)")]
    Label { line: usize, label: String },
    #[error("the corpus holds no values")]
    Empty,
}

/// One labelled column.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusColumn {
    pub id: String,
    pub name: String,
    pub label: Option<Detected>,
    /// Each value with its own label.
    pub values: Vec<(Option<Detected>, String)>,
}

fn label(line: usize, s: &str) -> Result<Option<Detected>, CorpusError> {
    if s == "none" {
        return Ok(None);
    }
    Detected::from_id(s)
        .map(Some)
        .ok_or_else(|| CorpusError::Label {
            line,
            label: s.to_owned(),
        })
}

/// The corpus's columns in the order they first appear.
pub fn parse(text: &str) -> Result<Vec<CorpusColumn>, CorpusError> {
    let mut columns: Vec<CorpusColumn> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 5 {
            return Err(CorpusError::Fields {
                line: n,
                found: f.len(),
            });
        }
        let column_label = label(n, f[2])?;
        let value_label = label(n, f[3])?;
        let at = *index.entry(f[0].to_owned()).or_insert_with(|| {
            columns.push(CorpusColumn {
                id: f[0].to_owned(),
                name: f[1].to_owned(),
                label: column_label,
                values: Vec::new(),
            });
            columns.len() - 1
        });
        columns[at].values.push((value_label, f[4].to_owned()));
    }
    if columns.is_empty() {
        return Err(CorpusError::Empty);
    }
    Ok(columns)
}

/// Counts for one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    /// Items labelled with the kind.
    pub labelled: usize,
}

impl Counts {
    fn add(&mut self, truth: bool, said: bool) {
        self.labelled += usize::from(truth);
        match (truth, said) {
            (true, true) => self.true_positives += 1,
            (false, true) => self.false_positives += 1,
            (true, false) => self.false_negatives += 1,
            (false, false) => {}
        }
    }

    /// `None` when the detector said the kind nowhere.
    #[allow(clippy::cast_precision_loss)]
    pub fn precision(&self) -> Option<f64> {
        let said = self.true_positives + self.false_positives;
        (said > 0).then(|| self.true_positives as f64 / said as f64)
    }

    /// `None` when nothing carries the label.
    #[allow(clippy::cast_precision_loss)]
    pub fn recall(&self) -> Option<f64> {
        (self.labelled > 0).then(|| self.true_positives as f64 / self.labelled as f64)
    }
}

/// Precision and recall per kind, for columns and for values.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scores {
    pub columns: BTreeMap<Detected, Counts>,
    /// Only the kinds [`classify_value`] judges (the others need the column's name).
    pub values: BTreeMap<Detected, Counts>,
    pub column_count: usize,
    pub value_count: usize,
    /// Columns whose most confident proposal differs from their label: id, label, proposal.
    pub misses: Vec<(String, Option<Detected>, Option<Detected>)>,
}

/// The kinds judged value by value.
pub const VALUE_KINDS: [Detected; 6] = [
    Detected::Email,
    Detected::Phone,
    Detected::PaymentCard,
    Detected::Iban,
    Detected::IpAddress,
    Detected::Ssn,
];

/// Every column run through [`detect_column`] (its most confident proposal counts) and every
/// value through [`classify_value`].
pub fn evaluate(columns: &[CorpusColumn], today: NaiveDate) -> Scores {
    let mut scores = Scores::default();
    for column in columns {
        let values: Vec<&str> = column.values.iter().map(|(_, v)| v.as_str()).collect();
        let said = detect_column(&column.name, &values, today)
            .first()
            .map(|p| p.kind);
        for kind in Detected::ALL {
            scores
                .columns
                .entry(kind)
                .or_default()
                .add(column.label == Some(kind), said == Some(kind));
        }
        if said != column.label {
            scores.misses.push((column.id.clone(), column.label, said));
        }
        scores.column_count += 1;
        for (truth, value) in &column.values {
            let truth = truth.filter(|t| VALUE_KINDS.contains(t));
            let said = classify_value(value, today);
            for kind in VALUE_KINDS {
                scores
                    .values
                    .entry(kind)
                    .or_default()
                    .add(truth == Some(kind), said == Some(kind));
            }
            scores.value_count += 1;
        }
    }
    scores
}
