//! Transform steps between `[[assets.KEY.steps]]` and [`TransformStep`].

use super::{ConvertError, refuse_all_but, required};
use crate::format::file::StepFile;
use crate::model::{LetterCase, TransformStep};

pub(super) fn step_from_file(s: StepFile) -> Result<TransformStep, ConvertError> {
    let what = format!("{} step", s.step);
    let allowed = step_fields(&s.step).ok_or_else(|| unknown_step(&s.step))?;
    refuse_all_but(&what, &fields_set(&s), allowed)?;
    Ok(match s.step.as_str() {
        "deduplicate" => TransformStep::Deduplicate {
            columns: s.columns.unwrap_or_default(),
        },
        "keep_latest" => TransformStep::KeepLatest {
            key: required(s.key, &what, "key")?,
            order_by: required(s.order_by, &what, "order_by")?,
        },
        "trim" => TransformStep::Trim {
            columns: required(s.columns, &what, "columns")?,
            chars: s.chars.unwrap_or_else(|| " \t".into()),
        },
        "change_case" => {
            let case = required(s.case, &what, "case")?;
            let case = letter_case(&case).ok_or_else(|| ConvertError::Unknown {
                what: "case",
                found: case.clone(),
                expected: "lower, upper or title",
            })?;
            TransformStep::ChangeCase {
                columns: required(s.columns, &what, "columns")?,
                case,
            }
        }
        "regex_flag" => TransformStep::RegexFlag {
            column: required(s.column, &what, "column")?,
            pattern: required(s.pattern, &what, "pattern")?,
            output: required(s.output, &what, "output")?,
            full_match: s.full_match.unwrap_or(true),
        },
        "regex_filter" => TransformStep::RegexFilter {
            column: required(s.column, &what, "column")?,
            pattern: required(s.pattern, &what, "pattern")?,
            full_match: s.full_match.unwrap_or(true),
            keep_matching: s.keep_matching.unwrap_or(true),
        },
        "cast" => {
            let to = required(s.to, &what, "to")?;
            TransformStep::Cast {
                column: required(s.column, &what, "column")?,
                to: crate::model::DataType::parse(&to)
                    .ok_or(ConvertError::UnknownDataType { name: to })?,
            }
        }
        "rename" => TransformStep::Rename {
            from: required(s.from, &what, "from")?,
            to: required(s.to, &what, "to")?,
        },
        "drop_nulls" => TransformStep::DropNulls {
            columns: s.columns.unwrap_or_default(),
        },
        other => return Err(unknown_step(other)),
    })
}

/// The fields a step kind takes; `None` for a kind that does not exist.
fn step_fields(step: &str) -> Option<&'static [&'static str]> {
    Some(match step {
        "deduplicate" | "drop_nulls" => &["columns"],
        "keep_latest" => &["key", "order_by"],
        "trim" => &["columns", "chars"],
        "change_case" => &["columns", "case"],
        "regex_flag" => &["column", "pattern", "output", "full_match"],
        "regex_filter" => &["column", "pattern", "full_match", "keep_matching"],
        "cast" => &["column", "to"],
        "rename" => &["from", "to"],
        _ => return None,
    })
}

fn unknown_step(step: &str) -> ConvertError {
    ConvertError::Unknown {
        what: "step",
        found: step.to_owned(),
        expected: "deduplicate, keep_latest, trim, change_case, regex_flag, regex_filter, cast, rename or drop_nulls",
    }
}

/// Every field a step may carry, and whether this one sets it.
fn fields_set(s: &StepFile) -> [(&'static str, bool); 12] {
    [
        ("columns", s.columns.is_some()),
        ("key", s.key.is_some()),
        ("order_by", s.order_by.is_some()),
        ("chars", s.chars.is_some()),
        ("case", s.case.is_some()),
        ("column", s.column.is_some()),
        ("pattern", s.pattern.is_some()),
        ("output", s.output.is_some()),
        ("full_match", s.full_match.is_some()),
        ("keep_matching", s.keep_matching.is_some()),
        ("to", s.to.is_some()),
        ("from", s.from.is_some()),
    ]
}

fn letter_case(name: &str) -> Option<LetterCase> {
    match name {
        "lower" => Some(LetterCase::Lower),
        "upper" => Some(LetterCase::Upper),
        "title" => Some(LetterCase::Title),
        _ => None,
    }
}

pub(super) fn step_to_file(step: &TransformStep) -> StepFile {
    let mut f = StepFile {
        step: step.label().to_owned(),
        ..StepFile::default()
    };
    match step {
        TransformStep::Deduplicate { columns } | TransformStep::DropNulls { columns } => {
            f.columns = Some(columns.clone());
        }
        TransformStep::KeepLatest { key, order_by } => {
            f.key = Some(key.clone());
            f.order_by = Some(order_by.clone());
        }
        TransformStep::Trim { columns, chars } => {
            f.columns = Some(columns.clone());
            f.chars = Some(chars.clone());
        }
        TransformStep::ChangeCase { columns, case } => {
            f.columns = Some(columns.clone());
            f.case = Some(
                match case {
                    LetterCase::Lower => "lower",
                    LetterCase::Upper => "upper",
                    LetterCase::Title => "title",
                }
                .to_owned(),
            );
        }
        TransformStep::RegexFlag {
            column,
            pattern,
            output,
            full_match,
        } => {
            f.column = Some(column.clone());
            f.pattern = Some(pattern.clone());
            f.output = Some(output.clone());
            f.full_match = Some(*full_match);
        }
        TransformStep::RegexFilter {
            column,
            pattern,
            full_match,
            keep_matching,
        } => {
            f.column = Some(column.clone());
            f.pattern = Some(pattern.clone());
            f.full_match = Some(*full_match);
            f.keep_matching = Some(*keep_matching);
        }
        TransformStep::Cast { column, to } => {
            f.column = Some(column.clone());
            f.to = Some(to.to_string());
        }
        TransformStep::Rename { from, to } => {
            f.from = Some(from.clone());
            f.to = Some(to.clone());
        }
    }
    f
}
