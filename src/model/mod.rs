//! The pure domain model: assets, checks, partitions, resources, the asset graph, the selection
//! syntax and validation. No I/O, no async, no GUI, no engine types; everything else in
//! Medallion builds on these values.

pub mod alert;
pub mod asset;
pub mod audit;
pub mod automation;
pub mod check;
pub mod clip;
pub mod compute;
pub mod contract;
pub mod datatype;
pub mod diagnostic;
pub mod diff;
pub mod edit;
pub mod freshness;
pub mod graph;
pub mod impact;
pub mod layout;
pub mod lineage;
pub mod masking;
pub mod partition;
pub mod pii;
pub mod pricing;
pub mod project;
pub mod resource;
pub mod retention;
pub mod run;
pub mod schema;
pub mod selection;
pub mod sql;
pub mod synthetic;
pub mod time;
pub mod unit_test;
pub mod validate;

pub use alert::{
    AlertEventKind, AlertRule, AlertSettings, AlertTarget, AlertTargetKind, EmailTarget, SmtpTls,
    SnsTarget, TopicArn,
};
pub use asset::{
    AssetDefinition, AssetKey, AssetSpec, CsvOptions, FileFormat, FreshnessPolicy, Layer,
    LetterCase, MissingFields, PiiKind, SourceSpec, TransformSpec, TransformStep,
};
pub use audit::{AuditAction, AuditBreak, AuditEntry, AuditPlace, AuditVerdict, NewAuditEntry};
pub use automation::{
    AutomationKind, CatchUp, PartitionChoice, RequestPer, RunTarget, ScheduleDefinition,
    SensorDefinition, SensorKind, Tick, TickOutcome,
};
pub use check::{AssetCheckSpec, CheckKind, CheckSeverity};
pub use compute::{ComputeHints, ComputeTier};
pub use datatype::DataType;
pub use diagnostic::{Diagnostic, DiagnosticCode, DiagnosticSeverity, SourceLocation, has_errors};
pub use diff::ProjectChanges;
pub use edit::{Document, Edit, EditError};
pub use freshness::{FreshnessState, FreshnessVerdict};
pub use graph::AssetGraph;
pub use partition::PartitionsDefinition;
pub use pricing::{PriceOverride, PriceProblem, PriceRow, PriceTable};
pub use project::{CanvasLayout, CanvasNote, CanvasPos, Project};
pub use resource::{AwsCompute, Resource, ResourceKind, SecretRef, SslMode};
pub use retention::{RunExpiry, RunFacts, RunRetention};
pub use run::{
    AssetCheckResult, AssetMaterialization, AssetProfile, CheckRecord, ColumnProfile, ColumnSchema,
    LogLevel, RunEvent, RunId, RunRecord, RunStatus, StepOutcome, StoredFailure, duration_text,
    format_duration_ms,
};
pub use selection::{AssetSelection, SelectionError};
pub use validate::validate;
