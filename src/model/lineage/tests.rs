use std::collections::{BTreeMap, BTreeSet};

use super::sql::sql_lineage;
use super::*;

fn inputs(tables: &[(&str, &[&str])]) -> BTreeMap<AssetKey, Option<Vec<String>>> {
    tables
        .iter()
        .map(|(t, cols)| {
            (
                AssetKey::new(*t),
                Some(cols.iter().map(|c| (*c).to_owned()).collect()),
            )
        })
        .collect()
}

fn refs(list: &[&str]) -> BTreeSet<ColumnRef> {
    list.iter()
        .map(|s| {
            let (a, c) = s.split_once('.').unwrap();
            ColumnRef::new(&AssetKey::new(a), c)
        })
        .collect()
}

type Walked = (
    Vec<(String, BTreeSet<ColumnRef>, bool)>,
    BTreeSet<ColumnRef>,
);

/// Output column name → (sources, direct).
fn walk(sql: &str, tables: &[(&str, &[&str])]) -> Walked {
    let out = sql_lineage(sql, &inputs(tables));
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    (
        out.columns
            .into_iter()
            .map(|c| (c.name, c.sources, c.direct))
            .collect(),
        out.filters,
    )
}

#[test]
fn joins_aliases_and_expressions() {
    let (cols, filters) = walk(
        "SELECT o.id, c.name AS customer, o.qty * p.price AS total\n\
         FROM orders o JOIN customers c ON o.cid = c.id\n\
         LEFT JOIN prices AS p USING (sku) WHERE c.active",
        &[
            ("orders", &["id", "cid", "qty", "sku"]),
            ("customers", &["id", "name", "active"]),
            ("prices", &["sku", "price"]),
        ],
    );
    assert_eq!(cols[0], ("id".into(), refs(&["orders.id"]), true));
    assert_eq!(
        cols[1],
        ("customer".into(), refs(&["customers.name"]), true)
    );
    assert_eq!(
        cols[2],
        ("total".into(), refs(&["orders.qty", "prices.price"]), false)
    );
    assert_eq!(
        filters,
        refs(&[
            "orders.cid",
            "customers.id",
            "customers.active",
            "orders.sku",
            "prices.sku"
        ])
    );
}

#[test]
fn ctes_star_group_by_window_and_case() {
    let (cols, filters) = walk(
        "WITH t AS (SELECT k, SUM(v) AS total FROM a GROUP BY k),\n\
         u AS (SELECT *, CASE WHEN total > 0 THEN 'p' ELSE w END AS sign FROM t CROSS JOIN b)\n\
         SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY total) AS rn FROM u",
        &[("a", &["k", "v"]), ("b", &["w"])],
    );
    let names: Vec<&str> = cols.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["k", "total", "w", "sign", "rn"]);
    assert_eq!(cols[0].1, refs(&["a.k"]));
    assert!(cols[0].2, "k is copied through the CTEs");
    assert_eq!(cols[1].1, refs(&["a.v"]));
    assert!(!cols[1].2, "a sum is derived");
    assert_eq!(cols[3].1, refs(&["a.v", "b.w"]));
    assert_eq!(cols[4].1, refs(&["a.k", "a.v"]));
    assert_eq!(filters, refs(&["a.k"]));
}

#[test]
fn subqueries_and_unions() {
    let (cols, filters) = walk(
        "SELECT x, (SELECT MAX(y) FROM b) AS top FROM a WHERE x IN (SELECT z FROM b)\n\
         UNION ALL SELECT y, z FROM b",
        &[("a", &["x"]), ("b", &["y", "z"])],
    );
    assert_eq!(cols[0], ("x".into(), refs(&["a.x", "b.y"]), false));
    assert_eq!(cols[1].1, refs(&["b.y", "b.z"]));
    assert_eq!(filters, refs(&["a.x", "b.z"]));
}

#[test]
fn an_unknown_column_is_a_problem_at_its_place() {
    let out = sql_lineage(
        "SELECT id,\n       amountx FROM orders",
        &inputs(&[("orders", &["id", "amount"])]),
    );
    assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
    assert!(out.problems[0].message.contains("`amountx`"));
    assert_eq!(out.problems[0].position, Some((2, 8)));
}

#[test]
fn unknown_upstream_columns_still_resolve_by_name() {
    let mut tables = inputs(&[]);
    tables.insert(AssetKey::new("pg"), None);
    let out = sql_lineage("SELECT a, b + 1 AS c FROM pg", &tables);
    assert!(out.problems.is_empty());
    assert_eq!(out.columns[1].sources, refs(&["pg.b"]));
}

#[test]
fn predicates_name_their_columns() {
    assert_eq!(
        predicate_columns("clv >= 0 AND tenure_days < 10").unwrap(),
        BTreeSet::from(["clv".to_owned(), "tenure_days".to_owned()])
    );
    assert!(predicate_columns("clv >=").is_none());
}
