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

#[cfg(test)]
mod tests {
    use super::*;

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
