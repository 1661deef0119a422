//! Asset checks between `[[assets.KEY.checks]]` and [`AssetCheckSpec`].

use super::{refuse_all_but, required};
use crate::format::file::{CheckFile, SchemaColumnFile};
use crate::model::{AssetCheckSpec, CheckKind, CheckSeverity};

pub(super) fn check_from_file(c: CheckFile) -> Result<AssetCheckSpec, String> {
    let what = format!("{} check", c.kind);
    let all: [(&str, bool); 10] = [
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
    ];
    let only = |allowed: &[&str]| refuse_all_but(&what, &all, allowed);
    let severity = match c.severity.as_deref() {
        None | Some("error") => CheckSeverity::Error,
        Some("warn" | "warning") => CheckSeverity::Warn,
        Some(other) => {
            return Err(format!(
                "unknown severity `{other}` (expected warn or error)"
            ));
        }
    };
    let kind = match c.kind.as_str() {
        "not_null" => {
            only(&["columns"])?;
            CheckKind::NotNull {
                columns: required(c.columns, &what, "columns")?,
            }
        }
        "unique" => {
            only(&["columns"])?;
            CheckKind::Unique {
                columns: required(c.columns, &what, "columns")?,
            }
        }
        "row_count" => {
            only(&["min", "max"])?;
            CheckKind::RowCount {
                min: c.min,
                max: c.max,
            }
        }
        "schema" => {
            only(&["schema"])?;
            CheckKind::Schema {
                columns: required(c.schema, &what, "schema")?
                    .into_iter()
                    .map(|SchemaColumnFile { name, data_type }| (name, data_type))
                    .collect(),
            }
        }
        "freshness" => {
            only(&["max_lag_minutes"])?;
            CheckKind::Freshness {
                max_lag_minutes: required(c.max_lag_minutes, &what, "max_lag_minutes")?,
            }
        }
        "regex" => {
            only(&["column", "pattern", "full_match"])?;
            CheckKind::Regex {
                column: required(c.column, &what, "column")?,
                pattern: required(c.pattern, &what, "pattern")?,
                full_match: c.full_match.unwrap_or(true),
            }
        }
        "accepted_values" => {
            only(&["column", "values"])?;
            CheckKind::AcceptedValues {
                column: required(c.column, &what, "column")?,
                values: required(c.values, &what, "values")?,
            }
        }
        "expression" => {
            only(&["predicate"])?;
            CheckKind::Expression {
                predicate: required(c.predicate, &what, "predicate")?,
            }
        }
        other => {
            return Err(format!(
                "unknown check kind `{other}` (expected not_null, unique, row_count, schema, freshness, regex, accepted_values or expression)"
            ));
        }
    };
    Ok(AssetCheckSpec {
        name: c.name,
        description: c.description,
        severity,
        blocking: c.blocking,
        kind,
    })
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
