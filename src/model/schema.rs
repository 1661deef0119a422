//! Asset schemas known without running: the columns and types of each asset's output, as a
//! source declares them, as its file's header says, or as inferred through SQL and steps.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::asset::AssetKey;
use super::diagnostic::{Diagnostic, DiagnosticCode};

/// One output column: its name and type, spelled as project files spell types (`int64`,
/// `decimal(12,2)`) where Medallion has a name for it, else as polars names it (`u32`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaColumn {
    pub name: String,
    pub dtype: String,
}

/// Where a known schema comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaOrigin {
    /// The source's declared `schema` (columns in name order: a declaration has no order).
    Declared,
    /// The source's file: its header or metadata, types from a sample of its first rows and
    /// the declared types.
    File,
    /// Planned through the asset's SQL and steps over its upstream schemas.
    Inferred,
}

impl SchemaOrigin {
    pub fn label(self) -> &'static str {
        match self {
            SchemaOrigin::Declared => "declared",
            SchemaOrigin::File => "read from the source file",
            SchemaOrigin::Inferred => "inferred",
        }
    }
}

/// What is known of one asset's output columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AssetSchema {
    Known {
        origin: SchemaOrigin,
        columns: Vec<SchemaColumn>,
    },
    /// Cannot be known without reading data (a Postgres source) or an upstream is unknown.
    Unknown { reason: String },
    /// The asset's SQL or steps cannot be planned over its upstream schemas: running it would
    /// fail the same way.
    Failed {
        /// The part of the definition that fails: `sql` or `steps`.
        field: String,
        message: String,
        /// 1-based line and column inside the SQL, when known.
        position: Option<(usize, usize)>,
    },
}

impl AssetSchema {
    pub fn columns(&self) -> Option<&[SchemaColumn]> {
        match self {
            AssetSchema::Known { columns, .. } => Some(columns),
            _ => None,
        }
    }

    pub fn column_names(&self) -> Option<Vec<String>> {
        self.columns()
            .map(|c| c.iter().map(|c| c.name.clone()).collect())
    }

    /// A failed schema as a diagnostic on the asset (located in its SQL by the file reader).
    pub fn diagnostic(&self, key: &AssetKey) -> Option<Diagnostic> {
        let AssetSchema::Failed {
            field,
            message,
            position,
        } = self
        else {
            return None;
        };
        let mut d = Diagnostic::error(DiagnosticCode::Schema, message.clone())
            .on_asset(key)
            .on_field(field.clone());
        d.position_in_field = *position;
        Some(d)
    }
}

impl fmt::Display for SchemaColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.dtype)
    }
}

/// Every asset's schema, by key.
pub type ProjectSchemas = BTreeMap<AssetKey, AssetSchema>;

/// The 1-based line and column of the first whole-word occurrence of `word` in `text`
/// (identifiers: letters, digits and `_` do not continue it), skipping `--` comments.
pub fn find_word(text: &str, word: &str) -> Option<(usize, usize)> {
    if word.is_empty() {
        return None;
    }
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    for (n, line) in text.lines().enumerate() {
        let code = line.split("--").next().unwrap_or_default();
        let mut from = 0;
        while let Some(i) = code[from..].find(word) {
            let start = from + i;
            let end = start + word.len();
            let before = code[..start].chars().next_back();
            let after = code[end..].chars().next();
            if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
                return Some((n + 1, code[..start].chars().count() + 1));
            }
            from = end;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_word_skips_longer_words_and_comments() {
        let sql = "-- amount here\nSELECT amounts, amount\nFROM t";
        assert_eq!(find_word(sql, "amount"), Some((2, 17)));
        assert_eq!(find_word(sql, "nothing"), None);
    }
}
