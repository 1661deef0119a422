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

/// Prepares a transform's lazy frame for polars' streaming engine. polars' SQL turns
/// `x IN (SELECT …)` into a horizontal concatenation that broadcasts the subquery's values (one
/// list) to every row, and the streaming engine builds that list for every row: the example's
/// `order_history` at 500,000 customers (5,000,000 orders against 500,000 keys) grew past 20 GB.
/// Here each such subquery is run first — it holds its values only, at most a column of keys —
/// and its list goes into the query as one literal, so every row is compared against the same
/// list. The result is the same; a plan of another shape is left as it is.
pub fn inline_subqueries(lf: LazyFrame) -> LazyFrame {
    let mut subs = Vec::new();
    let inlined = match inline(&lf.logical_plan, &mut subs) {
        Ok(_) if subs.is_empty() => return lf,
        Ok(plan) => LazyFrame::from(plan),
        Err(e) => {
            tracing::debug!("subqueries left in the plan: {e}");
            return lf;
        }
    };
    // Every reference to a subquery's column must have been replaced.
    let mut check = inlined.clone();
    match check.collect_schema() {
        Ok(_) => inlined,
        Err(e) => {
            tracing::debug!("subqueries left in the plan: {e}");
            lf
        }
    }
}

/// The list of a subquery's values, replacing `col(name).first()` in the plan above it.
type Substitution = (PlSmallStr, Expr);

fn substitute(expr: &Expr, subs: &[Substitution]) -> PolarsResult<Expr> {
    if subs.is_empty() {
        return Ok(expr.clone());
    }
    expr.clone().try_map_expr(|e| {
        if let Expr::Agg(AggExpr::First(inner)) = &e
            && let Expr::Column(name) = inner.as_ref()
            && let Some((_, value)) = subs.iter().find(|(n, _)| n == name)
        {
            return Ok(value.clone());
        }
        Ok(e)
    })
}

fn substitute_all(exprs: &[Expr], subs: &[Substitution]) -> PolarsResult<Vec<Expr>> {
    exprs.iter().map(|e| substitute(e, subs)).collect()
}

/// `plan` with the subqueries polars' SQL broadcast replaced by their values (collected into
/// `subs`), or as it is when its shape is not one this knows.
fn inline(plan: &DslPlan, subs: &mut Vec<Substitution>) -> PolarsResult<DslPlan> {
    let recurse = |input: &Arc<DslPlan>,
                   subs: &mut Vec<Substitution>|
     -> PolarsResult<Arc<DslPlan>> { inline(input, subs).map(Arc::new) };
    Ok(match plan {
        // polars' SQL: the main frame, then one `SELECT col.implode() AS tmp` per subquery.
        DslPlan::HConcat { inputs, options } if options.broadcast_unit_length => {
            inline_broadcast(plan, inputs, subs)?
        }
        DslPlan::Slice { input, offset, len } => DslPlan::Slice {
            input: recurse(input, subs)?,
            offset: *offset,
            len: *len,
        },
        DslPlan::Distinct { input, options } => DslPlan::Distinct {
            input: recurse(input, subs)?,
            options: options.clone(),
        },
        DslPlan::MapFunction { input, function } => DslPlan::MapFunction {
            input: recurse(input, subs)?,
            function: function.clone(),
        },
        DslPlan::Union { inputs, args } => DslPlan::Union {
            inputs: inputs
                .iter()
                .map(|p| inline(p, subs))
                .collect::<PolarsResult<_>>()?,
            args: *args,
        },
        // A plan whose schema polars already resolved: the plan it came from.
        DslPlan::IR { dsl, .. } => inline(dsl, subs)?,
        // Nodes with expressions, where the subqueries' columns are used; anything else
        // (caches shared by id, scans, sinks …) is left as it is.
        _ => inline_exprs(plan, subs)?,
    })
}

/// polars' SQL broadcast of subqueries: `inputs` are the main frame, then one
/// `SELECT col.implode() AS tmp` per subquery. Each subquery is run and its list recorded in
/// `subs`; the result is the main frame with them substituted (or `plan` unchanged when a part
/// has another shape).
fn inline_broadcast(
    plan: &DslPlan,
    inputs: &[DslPlan],
    subs: &mut Vec<Substitution>,
) -> PolarsResult<DslPlan> {
    let Some((main, subqueries)) = inputs.split_first() else {
        return Ok(plan.clone());
    };
    let mut found = Vec::new();
    for sub in subqueries {
        let DslPlan::Select { expr, .. } = sub else {
            return Ok(plan.clone());
        };
        let [Expr::Alias(_, name)] = expr.as_slice() else {
            return Ok(plan.clone());
        };
        let values = LazyFrame::from(sub.clone()).collect()?;
        let AnyValue::List(list) = values.column(name)?.get(0)? else {
            return Ok(plan.clone());
        };
        found.push((name.clone(), lit(list).implode(true)));
    }
    subs.extend(found);
    inline(main, subs)
}

/// The nodes of a plan that hold expressions: their inputs inlined, their expressions with the
/// subqueries' values substituted. Any other node is returned as it is.
fn inline_exprs(plan: &DslPlan, subs: &mut Vec<Substitution>) -> PolarsResult<DslPlan> {
    let recurse = |input: &Arc<DslPlan>,
                   subs: &mut Vec<Substitution>|
     -> PolarsResult<Arc<DslPlan>> { inline(input, subs).map(Arc::new) };
    Ok(match plan {
        DslPlan::Filter { input, predicate } => {
            let input = recurse(input, subs)?;
            DslPlan::Filter {
                input,
                predicate: substitute(predicate, subs)?,
            }
        }
        DslPlan::Select {
            expr,
            input,
            options,
        } => {
            let input = recurse(input, subs)?;
            DslPlan::Select {
                expr: substitute_all(expr, subs)?,
                input,
                options: *options,
            }
        }
        DslPlan::HStack {
            input,
            exprs,
            options,
        } => {
            let input = recurse(input, subs)?;
            DslPlan::HStack {
                exprs: substitute_all(exprs, subs)?,
                input,
                options: *options,
            }
        }
        DslPlan::Sort {
            input,
            by_column,
            slice,
            sort_options,
        } => {
            let input = recurse(input, subs)?;
            DslPlan::Sort {
                input,
                by_column: substitute_all(by_column, subs)?,
                slice: *slice,
                sort_options: sort_options.clone(),
            }
        }
        _ => inline_keyed(plan, subs)?,
    })
}

/// [`inline_exprs`] for groupings and joins, whose keys may use the subqueries' columns too.
fn inline_keyed(plan: &DslPlan, subs: &mut Vec<Substitution>) -> PolarsResult<DslPlan> {
    let recurse = |input: &Arc<DslPlan>,
                   subs: &mut Vec<Substitution>|
     -> PolarsResult<Arc<DslPlan>> { inline(input, subs).map(Arc::new) };
    Ok(match plan {
        DslPlan::GroupBy {
            input,
            keys,
            predicates,
            aggs,
            maintain_order,
            options,
            apply,
        } => {
            let input = recurse(input, subs)?;
            DslPlan::GroupBy {
                input,
                keys: substitute_all(keys, subs)?,
                predicates: substitute_all(predicates, subs)?,
                aggs: substitute_all(aggs, subs)?,
                maintain_order: *maintain_order,
                options: options.clone(),
                apply: apply.clone(),
            }
        }
        DslPlan::Join {
            input_left,
            input_right,
            left_on,
            right_on,
            predicates,
            options,
        } => {
            let input_left = recurse(input_left, subs)?;
            let input_right = recurse(input_right, subs)?;
            DslPlan::Join {
                input_left,
                input_right,
                left_on: substitute_all(left_on, subs)?,
                right_on: substitute_all(right_on, subs)?,
                predicates: substitute_all(predicates, subs)?,
                options: options.clone(),
            }
        }
        other => other.clone(),
    })
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

    /// `x IN (SELECT …)` and `NOT IN`: the subquery is run first and its values go into the
    /// query as one list; the rows are the same, with SQL's nulls (a null in the list makes
    /// `NOT IN` unknown), and no horizontal concatenation is left for the streaming engine.
    #[test]
    fn subqueries_are_inlined_with_the_same_rows() {
        let orders = df!(
            "customer_id" => [Some(1i64), Some(2), Some(3), None, Some(5)],
            "amount" => [1.0f64, 2.0, 3.0, 4.0, -5.0],
        )
        .unwrap()
        .lazy();
        for (keys, sql) in [
            (
                vec![Some(1i64), Some(3)],
                "SELECT * FROM o WHERE amount > 0 AND customer_id IN (SELECT customer_id FROM c)",
            ),
            (
                vec![Some(1i64), None],
                "SELECT customer_id FROM o WHERE customer_id NOT IN (SELECT customer_id FROM c)",
            ),
            (
                vec![Some(2i64)],
                "SELECT customer_id FROM o WHERE customer_id NOT IN (SELECT customer_id FROM c) ORDER BY customer_id DESC",
            ),
            (
                vec![],
                "SELECT customer_id FROM o WHERE customer_id IN (SELECT customer_id FROM c)",
            ),
        ] {
            let mut ctx = SQLContext::new();
            ctx.register("o", orders.clone());
            ctx.register("c", df!("customer_id" => keys).unwrap().lazy());
            let lf = ctx.execute(sql).unwrap();
            let inlined = inline_subqueries(lf.clone());
            let plan = inlined.clone().explain(false).unwrap();
            assert!(!plan.contains("HCONCAT"), "{sql}: {plan}");
            let expected = lf.collect().unwrap();
            let streamed = inlined
                .collect_with_engine(Engine::Streaming)
                .unwrap()
                .unwrap_single();
            assert!(
                streamed.equals_missing(&expected),
                "{sql}: {streamed} vs {expected}"
            );
        }
    }
}
