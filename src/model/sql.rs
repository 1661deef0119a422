//! Static analysis of transform SQL: does it parse, and which tables does it read.
//!
//! Uses the same parser polars' SQL engine uses (`sqlparser`, generic dialect), so what passes
//! here is what the engine will be asked to run.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{ObjectName, ObjectNamePart, Query, Statement, Visit, Visitor};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

/// The result of analysing one SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlAnalysis {
    /// Tables read by the query (excluding its own CTEs), in name order.
    pub tables: BTreeSet<String>,
}

/// A SQL problem with its position inside the SQL text (1-based), when the parser gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// Parses a transform's SQL and lists the tables it reads.
pub fn analyze(sql: &str) -> Result<SqlAnalysis, SqlError> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| {
        let text = e.to_string();
        let (line, column) = if let (Some(l), Some(c)) = parse_position(&text) {
            (l, c)
        } else {
            // Errors at the end of the input carry no position: point after the last character.
            let trimmed = sql.trim_end();
            let line = trimmed.lines().count().max(1);
            let column = trimmed.lines().last().map_or(0, |l| l.chars().count()) + 1;
            (line, column)
        };
        let (line, column) = (Some(line), Some(column));
        let message = text
            .strip_prefix("sql parser error: ")
            .unwrap_or(&text)
            .split(" at Line: ")
            .next()
            .unwrap_or_default()
            .to_owned();
        SqlError {
            message,
            line,
            column,
        }
    })?;
    let [statement] = statements.as_slice() else {
        return Err(SqlError {
            message: format!(
                "expected exactly one SELECT query, found {} statements",
                statements.len()
            ),
            line: None,
            column: None,
        });
    };
    if !matches!(statement, Statement::Query(_)) {
        return Err(SqlError {
            message: "a transform must be a SELECT query".to_owned(),
            line: Some(1),
            column: Some(1),
        });
    }
    let mut collector = TableCollector::default();
    let _ = statement.visit(&mut collector);
    let tables = collector
        .relations
        .difference(&collector.ctes)
        .cloned()
        .collect();
    Ok(SqlAnalysis { tables })
}

/// Finds `Line: N, Column: M` in a sqlparser message.
fn parse_position(text: &str) -> (Option<usize>, Option<usize>) {
    let number_after = |label: &str| {
        let start = text.find(label)? + label.len();
        let digits: String = text[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    (number_after("Line: "), number_after("Column: "))
}

#[derive(Default)]
struct TableCollector {
    relations: BTreeSet<String>,
    ctes: BTreeSet<String>,
}

impl Visitor for TableCollector {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(cte.alias.name.value.clone());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        let parts: Vec<&str> = relation
            .0
            .iter()
            .filter_map(|p| match p {
                ObjectNamePart::Identifier(ident) => Some(ident.value.as_str()),
                ObjectNamePart::Function(_) => None,
            })
            .collect();
        if !parts.is_empty() {
            self.relations.insert(parts.join("."));
        }
        ControlFlow::Continue(())
    }
}

/// Rewrites every reference to table `old` in `sql` as `new` (double-quoted when `new` is not a
/// plain identifier), leaving comments, strings and qualified column names (`t.old`) alone.
/// Returns `None` when the SQL does not mention `old` as a table-like word or cannot be tokenized;
/// validation then reports what still reads the old name.
pub fn rename_table(sql: &str, old: &str, new: &str) -> Option<String> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    // Byte offset of the start of each 1-based line, so token spans map back onto the text.
    let mut line_starts = vec![0usize];
    line_starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
    let offset = |line: u64, column: u64| -> Option<usize> {
        let start = *line_starts.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        let col = usize::try_from(column).ok()?.checked_sub(1)?;
        sql[start..]
            .char_indices()
            .nth(col)
            .map(|(i, _)| start + i)
            .or(Some(sql.len()))
    };
    let replacement = if super::asset::is_identifier(new) {
        new.to_owned()
    } else {
        format!("\"{}\"", new.replace('"', "\"\""))
    };
    let mut ranges = Vec::new();
    let mut previous_significant: Option<&Token> = None;
    for t in &tokens {
        if let Token::Word(word) = &t.token
            && word.value == old
            && matches!(word.quote_style, None | Some('"'))
            && !matches!(previous_significant, Some(Token::Period))
        {
            let start = offset(t.span.start.line, t.span.start.column)?;
            let end = offset(t.span.end.line, t.span.end.column)?;
            ranges.push(start..end);
        }
        if !matches!(t.token, Token::Whitespace(_)) {
            previous_significant = Some(&t.token);
        }
    }
    if ranges.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(sql.len() + ranges.len() * new.len());
    let mut at = 0;
    for r in ranges {
        out.push_str(sql.get(at..r.start)?);
        out.push_str(&replacement);
        at = r.end;
    }
    out.push_str(sql.get(at..)?);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_table_rewrites_references_only() {
        let sql = "-- orders here\nSELECT o.id, x.orders FROM orders o\n  JOIN \"orders\" p USING (id) WHERE s = 'orders'";
        let out = rename_table(sql, "orders", "clean_orders").unwrap();
        assert_eq!(
            out,
            "-- orders here\nSELECT o.id, x.orders FROM clean_orders o\n  JOIN clean_orders p USING (id) WHERE s = 'orders'"
        );
        assert_eq!(
            rename_table("SELECT * FROM é JOIN a USING (id)", "a", "sales/a").unwrap(),
            "SELECT * FROM é JOIN \"sales/a\" USING (id)"
        );
        assert_eq!(rename_table("SELECT 1", "a", "b"), None);
    }

    #[test]
    fn lists_tables_without_ctes() {
        let a = analyze(
            "WITH c AS (SELECT * FROM order_history) \
             SELECT c.customer_id FROM c JOIN cleaned_customer_data d ON c.customer_id = d.customer_id",
        )
        .unwrap();
        assert_eq!(
            a.tables.into_iter().collect::<Vec<_>>(),
            vec!["cleaned_customer_data", "order_history"]
        );
    }

    #[test]
    fn quoted_keys_with_slashes() {
        let a =
            analyze(r#"SELECT * FROM "sales/orders" WHERE x IN (SELECT y FROM other)"#).unwrap();
        assert_eq!(
            a.tables.into_iter().collect::<Vec<_>>(),
            vec!["other", "sales/orders"]
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = analyze("SELECT a\nFROM t WHERE )").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(14)));
        let e = analyze("SELECT a\nFROM t WHERE").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(13)), "{}", e.message);
        assert!(!e.message.contains("Line:"), "{}", e.message);
    }

    #[test]
    fn only_one_select() {
        assert!(analyze("DROP TABLE t").is_err());
        assert!(analyze("SELECT 1; SELECT 2").is_err());
    }
}
