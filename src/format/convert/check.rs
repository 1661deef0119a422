//! Asset checks between `[[assets.KEY.checks]]` and [`AssetCheckSpec`].

use super::{ConvertError, refuse_all_but, required};
use crate::format::file::{CheckFile, SchemaColumnFile};
use crate::model::{AssetCheckSpec, CheckKind, CheckSeverity};

pub(super) fn check_from_file(c: CheckFile) -> Result<AssetCheckSpec, ConvertError> {
    let what = format!("{} check", c.kind);
    let severity = match c.severity.as_deref() {
        None | Some("error") => CheckSeverity::Error,
        Some("warn" | "warning") => CheckSeverity::Warn,
        Some(other) => {
            return Err(ConvertError::Unknown {
                what: "severity",
                found: other.to_owned(),
                expected: "warn or error",
            });
        }
    };
    let allowed = check_fields(&c.kind).ok_or_else(|| unknown_kind(&c.kind))?;
    refuse_all_but(&what, &fields_set(&c), allowed)?;
    let kind = match c.kind.as_str() {
        "not_null" => CheckKind::NotNull {
            columns: required(c.columns, &what, "columns")?,
        },
        "unique" => CheckKind::Unique {
            columns: required(c.columns, &what, "columns")?,
        },
        "row_count" => CheckKind::RowCount {
            min: c.min,
            max: c.max,
        },
        "schema" => CheckKind::Schema {
            columns: required(c.schema, &what, "schema")?
                .into_iter()
                .map(|SchemaColumnFile { name, data_type }| (name, data_type))
                .collect(),
        },
        "freshness" => CheckKind::Freshness {
            max_lag_minutes: required(c.max_lag_minutes, &what, "max_lag_minutes")?,
        },
        "regex" => CheckKind::Regex {
            column: required(c.column, &what, "column")?,
            pattern: required(c.pattern, &what, "pattern")?,
            full_match: c.full_match.unwrap_or(true),
        },
        "accepted_values" => CheckKind::AcceptedValues {
            column: required(c.column, &what, "column")?,
            values: required(c.values, &what, "values")?,
        },
        "expression" => CheckKind::Expression {
            predicate: required(c.predicate, &what, "predicate")?,
        },
        other => return Err(unknown_kind(other)),
    };
    Ok(AssetCheckSpec {
        name: c.name,
        description: c.description,
        severity,
        blocking: c.blocking,
        kind,
    })
}

/// The fields a check kind takes; `None` for a kind that does not exist.
fn check_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "not_null" | "unique" => &["columns"],
        "row_count" => &["min", "max"],
        "schema" => &["schema"],
        "freshness" => &["max_lag_minutes"],
        "regex" => &["column", "pattern", "full_match"],
        "accepted_values" => &["column", "values"],
        "expression" => &["predicate"],
        _ => return None,
    })
}

fn unknown_kind(kind: &str) -> ConvertError {
    ConvertError::Unknown {
        what: "check kind",
        found: kind.to_owned(),
        expected: "not_null, unique, row_count, schema, freshness, regex, accepted_values or expression",
    }
}

/// Every field a check may carry, and whether this one sets it.
fn fields_set(c: &CheckFile) -> [(&'static str, bool); 10] {
    [
        ("columns", c.columns.is_some()),
        ("column", c.column.is_some()),
        ("min", c.min.is_some()),
        ("max", c.max.is_some()),
        ("schema", c.schema.is_some()),
        ("max_lag_minutes", c.max_lag_minutes.is_some()),
        ("pattern", c.pattern.is_some()),
        ("full_match", c.full_match.is_some()),
        ("values", c.values.is_some()),
        ("predicate", c.predicate.is_some()),
    ]
}

pub(super) fn check_to_file(c: &AssetCheckSpec) -> CheckFile {
    let mut f = CheckFile {
        name: c.name.clone(),
        kind: c.kind.label().to_owned(),
        description: c.description.clone(),
        severity: Some(c.severity.as_str().to_owned()),
        blocking: c.blocking,
        ..CheckFile::default()
    };
    match &c.kind {
        CheckKind::NotNull { columns } | CheckKind::Unique { columns } => {
            f.columns = Some(columns.clone());
        }
        CheckKind::RowCount { min, max } => {
            f.min = *min;
            f.max = *max;
        }
        CheckKind::Schema { columns } => {
            f.schema = Some(
                columns
                    .iter()
                    .map(|(name, t)| SchemaColumnFile {
                        name: name.clone(),
                        data_type: *t,
                    })
                    .collect(),
            );
        }
        CheckKind::Freshness { max_lag_minutes } => f.max_lag_minutes = Some(*max_lag_minutes),
        CheckKind::Regex {
            column,
            pattern,
            full_match,
        } => {
            f.column = Some(column.clone());
            f.pattern = Some(pattern.clone());
            f.full_match = Some(*full_match);
        }
        CheckKind::AcceptedValues { column, values } => {
            f.column = Some(column.clone());
            f.values = Some(values.clone());
        }
        CheckKind::Expression { predicate } => f.predicate = Some(predicate.clone()),
    }
    f
}
