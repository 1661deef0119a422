//! Diagnostics: every problem validation finds, with where it is and a sentence a person
//! understands.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::asset::AssetKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticSeverity {
    Warning,
    Error,
}

impl DiagnosticSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosticSeverity::Warning => "warning",
            DiagnosticSeverity::Error => "error",
        }
    }
}

/// A place in a project file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLocation {
    /// Path relative to the project directory, e.g. `medallion.toml` or `sql/daily_revenue.sql`.
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// What a diagnostic concerns: a stable code for tooling and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticCode {
    InvalidName,
    DuplicateAsset,
    DuplicateCheck,
    DuplicateResource,
    UnknownUpstream,
    Cycle,
    LayerRule,
    SqlSyntax,
    SqlUnknownTable,
    DependencyMismatch,
    UnknownResource,
    ResourceKind,
    InvalidRegex,
    InvalidCron,
    InvalidPartition,
    InvalidCheck,
    InvalidStep,
    InvalidCompute,
    InvalidSource,
    SecretValue,
    InvalidSelection,
    InvalidAlert,
    MissingDefinition,
    ProjectFile,
    /// An asset's output schema cannot be inferred: its SQL or steps fail over the upstream
    /// schemas (an unknown column, a type the engine refuses).
    Schema,
    /// An asset's inferred schema breaks its contract (a required column missing, a type
    /// changed unsafely, an extra column where none is allowed).
    Contract,
    /// A unit test that cannot run as written (rows for an asset that is not an upstream, a
    /// column the table lacks, a test on a source).
    InvalidTest,
}

impl DiagnosticCode {
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosticCode::InvalidName => "invalid_name",
            DiagnosticCode::DuplicateAsset => "duplicate_asset",
            DiagnosticCode::DuplicateCheck => "duplicate_check",
            DiagnosticCode::DuplicateResource => "duplicate_resource",
            DiagnosticCode::UnknownUpstream => "unknown_upstream",
            DiagnosticCode::Cycle => "cycle",
            DiagnosticCode::LayerRule => "layer_rule",
            DiagnosticCode::SqlSyntax => "sql_syntax",
            DiagnosticCode::SqlUnknownTable => "sql_unknown_table",
            DiagnosticCode::DependencyMismatch => "dependency_mismatch",
            DiagnosticCode::UnknownResource => "unknown_resource",
            DiagnosticCode::ResourceKind => "resource_kind",
            DiagnosticCode::InvalidRegex => "invalid_regex",
            DiagnosticCode::InvalidCron => "invalid_cron",
            DiagnosticCode::InvalidPartition => "invalid_partition",
            DiagnosticCode::InvalidCheck => "invalid_check",
            DiagnosticCode::InvalidStep => "invalid_step",
            DiagnosticCode::InvalidCompute => "invalid_compute",
            DiagnosticCode::InvalidSource => "invalid_source",
            DiagnosticCode::SecretValue => "secret_value",
            DiagnosticCode::InvalidSelection => "invalid_selection",
            DiagnosticCode::InvalidAlert => "invalid_alert",
            DiagnosticCode::MissingDefinition => "missing_definition",
            DiagnosticCode::ProjectFile => "project_file",
            DiagnosticCode::Schema => "schema",
            DiagnosticCode::Contract => "contract",
            DiagnosticCode::InvalidTest => "invalid_test",
        }
    }
}

/// One problem found in a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: DiagnosticSeverity,
    pub code: DiagnosticCode,
    /// The asset concerned, if any.
    pub asset: Option<AssetKey>,
    /// The field concerned, as a dotted path inside the asset (`sql`, `checks.unique_id`,
    /// `source.path`) or the project (`resources.warehouse`, `schedules.nightly.cron`).
    pub field: Option<String>,
    /// A position inside the field's own text (1-based line and column), e.g. a SQL syntax
    /// error inside `sql`; the project-file reader turns it into a file location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_in_field: Option<(usize, usize)>,
    /// Where in a project file, when the project came from files.
    pub location: Option<SourceLocation>,
    pub message: String,
}

impl Diagnostic {
    pub fn error(code: DiagnosticCode, message: impl Into<String>) -> Self {
        Self {
            severity: DiagnosticSeverity::Error,
            code,
            asset: None,
            field: None,
            position_in_field: None,
            location: None,
            message: message.into(),
        }
    }

    pub fn warning(code: DiagnosticCode, message: impl Into<String>) -> Self {
        Self {
            severity: DiagnosticSeverity::Warning,
            ..Self::error(code, message)
        }
    }

    #[must_use]
    pub fn on_asset(mut self, key: &AssetKey) -> Self {
        self.asset = Some(key.clone());
        self
    }

    #[must_use]
    pub fn on_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    #[must_use]
    pub fn at(mut self, location: SourceLocation) -> Self {
        self.location = Some(location);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == DiagnosticSeverity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        write!(f, "{}[{}]", self.severity.as_str(), self.code.as_str())?;
        match (&self.asset, &self.field) {
            (Some(a), Some(field)) => write!(f, " {a} ({field})")?,
            (Some(a), None) => write!(f, " {a}")?,
            (None, Some(field)) => write!(f, " ({field})")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.message)
    }
}

/// Whether any diagnostic is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}
