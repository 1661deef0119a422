//! Silver and gold transforms: SQL over upstream assets through polars' SQL context, then the
//! built-in steps in order.

use std::collections::BTreeMap;

use polars::prelude::*;
use polars::sql::SQLContext;

use super::EngineError;
use super::source::polars_type;
use crate::model::{AssetKey, LetterCase, TransformSpec, TransformStep};

/// Applies a transform to its upstream frames (by asset key).
pub fn apply(
    asset: &AssetKey,
    spec: &TransformSpec,
    upstream: &BTreeMap<AssetKey, LazyFrame>,
    partition: Option<&str>,
) -> Result<LazyFrame, EngineError> {
    let sql_err = |message: String| EngineError::Sql {
        asset: asset.clone(),
        message,
    };
    let mut lf = match &spec.sql {
        Some(sql) => {
            let sql = match partition {
                Some(p) => sql.replace(crate::model::partition::PARTITION_PLACEHOLDER, p),
                None => sql.clone(),
            };
            let mut ctx = SQLContext::new();
            for (key, frame) in upstream {
                ctx.register(key.as_str(), frame.clone());
            }
            ctx.execute(&sql).map_err(|e| sql_err(e.to_string()))?
        }
        None => match upstream.values().next() {
            Some(frame) if upstream.len() == 1 => frame.clone(),
            _ => {
                return Err(EngineError::Definition {
                    asset: asset.clone(),
                    message: "a transform without SQL needs exactly one upstream asset".to_owned(),
                });
            }
        },
    };
    for step in &spec.steps {
        lf = apply_step(lf, step);
    }
    Ok(lf)
}

fn names(columns: &[String]) -> Vec<PlSmallStr> {
    columns
        .iter()
        .map(|c| PlSmallStr::from(c.as_str()))
        .collect()
}

fn subset(columns: &[String]) -> Option<Selector> {
    (!columns.is_empty()).then(|| Selector::ByName {
        names: names(columns).into(),
        strict: true,
    })
}

/// Anchors a pattern so it must match the whole value.
pub fn full_match_pattern(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

/// Upper-cases the first letter of every run of ASCII letters and lower-cases the rest; every
/// other character is unchanged (SPEC §3 step 4; equal to Python's `str.title()` on ASCII).
pub fn title_case(s: &str, out: &mut String) {
    let mut in_word = false;
    for c in s.chars() {
        if c.is_ascii_alphabetic() {
            out.push(if in_word {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            });
            in_word = true;
        } else {
            out.push(c);
            in_word = false;
        }
    }
}

fn title_case_expr(e: Expr) -> Expr {
    e.map(
        |c: Column| {
            let ca = c.str()?;
            let out: StringChunked = ca.apply_into_string_amortized(title_case);
            Ok(out.into_column())
        },
        |_, field| Ok(field.clone()),
    )
}

fn apply_step(lf: LazyFrame, step: &TransformStep) -> LazyFrame {
    match step {
        TransformStep::Deduplicate { columns } => {
            lf.unique_stable(subset(columns), UniqueKeepStrategy::First)
        }
        TransformStep::KeepLatest { key, order_by } => lf
            .sort(
                [order_by.as_str()],
                SortMultipleOptions::default()
                    .with_order_descending(true)
                    .with_maintain_order(true)
                    .with_nulls_last(true),
            )
            .unique_stable(subset(key), UniqueKeepStrategy::First),
        TransformStep::Trim { columns, chars } => lf.with_columns(
            columns
                .iter()
                .map(|c| col(c.as_str()).str().strip_chars(lit(chars.as_str())))
                .collect::<Vec<_>>(),
        ),
        TransformStep::ChangeCase { columns, case } => lf.with_columns(
            columns
                .iter()
                .map(|c| {
                    let e = col(c.as_str());
                    match case {
                        LetterCase::Lower => e.str().to_lowercase(),
                        LetterCase::Upper => e.str().to_uppercase(),
                        LetterCase::Title => title_case_expr(e),
                    }
                })
                .collect::<Vec<_>>(),
        ),
        TransformStep::RegexFlag {
            column,
            pattern,
            output,
            full_match,
        } => {
            let pattern = if *full_match {
                full_match_pattern(pattern)
            } else {
                pattern.clone()
            };
            lf.with_column(
                col(column.as_str())
                    .str()
                    .contains(lit(pattern), true)
                    .fill_null(lit(false))
                    .alias(output.as_str()),
            )
        }
        TransformStep::RegexFilter {
            column,
            pattern,
            full_match,
            keep_matching,
        } => {
            let pattern = if *full_match {
                full_match_pattern(pattern)
            } else {
                pattern.clone()
            };
            let matches = col(column.as_str())
                .str()
                .contains(lit(pattern), true)
                .fill_null(lit(false));
            lf.filter(if *keep_matching {
                matches
            } else {
                matches.not()
            })
        }
        TransformStep::Cast { column, to } => {
            lf.with_column(col(column.as_str()).strict_cast(polars_type(*to)))
        }
        TransformStep::Rename { from, to } => lf.rename([from.as_str()], [to.as_str()], true),
        TransformStep::DropNulls { columns } => lf.drop_nulls(subset(columns)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_case_follows_the_spec_examples() {
        for (input, want) in [
            ("mARY-jANE", "Mary-Jane"),
            ("o'brien", "O'Brien"),
            ("MCDONALD", "Mcdonald"),
            ("VAN DER BERG", "Van Der Berg"),
            ("jo ann", "Jo Ann"),
            ("d'angelo2x", "D'Angelo2X"),
        ] {
            let mut out = String::new();
            title_case(input, &mut out);
            assert_eq!(out, want);
        }
    }
}
