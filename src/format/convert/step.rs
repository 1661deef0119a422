//! Transform steps between `[[assets.KEY.steps]]` and [`TransformStep`].

use super::{refuse_all_but, required};
use crate::format::file::StepFile;
use crate::model::{LetterCase, TransformStep};

pub(super) fn step_from_file(s: StepFile) -> Result<TransformStep, String> {
    let what = format!("{} step", s.step);
    let all: [(&str, bool); 12] = [
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
    ];
    let only = |allowed: &[&str]| refuse_all_but(&what, &all, allowed);
    Ok(match s.step.as_str() {
        "deduplicate" => {
            only(&["columns"])?;
            TransformStep::Deduplicate {
                columns: s.columns.unwrap_or_default(),
            }
        }
        "keep_latest" => {
            only(&["key", "order_by"])?;
            TransformStep::KeepLatest {
                key: required(s.key, &what, "key")?,
                order_by: required(s.order_by, &what, "order_by")?,
            }
        }
        "trim" => {
            only(&["columns", "chars"])?;
            TransformStep::Trim {
                columns: required(s.columns, &what, "columns")?,
                chars: s.chars.unwrap_or_else(|| " \t".into()),
            }
        }
        "change_case" => {
            only(&["columns", "case"])?;
            let case = match required(s.case, &what, "case")?.as_str() {
                "lower" => LetterCase::Lower,
                "upper" => LetterCase::Upper,
                "title" => LetterCase::Title,
                other => {
                    return Err(format!(
                        "unknown case `{other}` (expected lower, upper or title)"
                    ));
                }
            };
            TransformStep::ChangeCase {
                columns: required(s.columns, &what, "columns")?,
                case,
            }
        }
        "regex_flag" => {
            only(&["column", "pattern", "output", "full_match"])?;
            TransformStep::RegexFlag {
                column: required(s.column, &what, "column")?,
                pattern: required(s.pattern, &what, "pattern")?,
                output: required(s.output, &what, "output")?,
                full_match: s.full_match.unwrap_or(true),
            }
        }
        "regex_filter" => {
            only(&["column", "pattern", "full_match", "keep_matching"])?;
            TransformStep::RegexFilter {
                column: required(s.column, &what, "column")?,
                pattern: required(s.pattern, &what, "pattern")?,
                full_match: s.full_match.unwrap_or(true),
                keep_matching: s.keep_matching.unwrap_or(true),
            }
        }
        "cast" => {
            only(&["column", "to"])?;
            let to = required(s.to, &what, "to")?;
            TransformStep::Cast {
                column: required(s.column, &what, "column")?,
                to: crate::model::DataType::parse(&to)
                    .ok_or_else(|| format!("unknown data type `{to}`"))?,
            }
        }
        "rename" => {
            only(&["from", "to"])?;
            TransformStep::Rename {
                from: required(s.from, &what, "from")?,
                to: required(s.to, &what, "to")?,
            }
        }
        "drop_nulls" => {
            only(&["columns"])?;
            TransformStep::DropNulls {
                columns: s.columns.unwrap_or_default(),
            }
        }
        other => {
            return Err(format!(
                "unknown step `{other}` (expected deduplicate, keep_latest, trim, change_case, regex_flag, regex_filter, cast, rename or drop_nulls)"
            ));
        }
    })
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
