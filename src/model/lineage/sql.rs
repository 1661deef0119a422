//! Column lineage through one SQL query: each output column's upstream columns, found by
//! walking sqlparser's tree (the parser polars' SQL engine uses) with the upstream assets'
//! known columns — CTEs, derived tables, joins (`ON`, `USING`), `SELECT *` and `t.*`,
//! aggregates, window functions, `CASE`, scalar and `IN` subqueries, `UNION`.
//!
//! Values flow into an output column from the columns its expression names; the columns a
//! query filters, joins or groups on decide which rows there are and are kept apart
//! (`filters`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, GroupByExpr, Ident, JoinConstraint, JoinOperator, ObjectName, ObjectNamePart, Query,
    Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr, TableAlias, TableFactor, Visit,
    Visitor, WildcardAdditionalOptions,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use super::{ColumnRef, LineageProblem};
use crate::model::AssetKey;

/// One column of a relation while the query is walked.
#[derive(Debug, Clone, Default)]
pub(super) struct Col {
    pub name: String,
    pub sources: BTreeSet<ColumnRef>,
    /// The value is an upstream column's, unchanged (only renamed).
    pub direct: bool,
}

/// A relation in a `FROM` clause: its name or alias and its columns.
#[derive(Debug, Clone)]
struct Rel {
    name: String,
    cols: Vec<Col>,
    /// An upstream asset whose columns are unknown: any name resolves to it.
    open: Option<AssetKey>,
    /// Columns named in `USING`, which `SELECT *` shows once.
    using: Vec<String>,
}

/// What the walk of one query found.
#[derive(Debug, Default)]
pub(super) struct SqlLineage {
    pub columns: Vec<Col>,
    pub filters: BTreeSet<ColumnRef>,
    pub problems: Vec<LineageProblem>,
}

/// Walks `sql`, whose tables are the upstream assets in `inputs` (`None`: columns unknown).
pub(super) fn sql_lineage(
    sql: &str,
    inputs: &BTreeMap<AssetKey, Option<Vec<String>>>,
) -> SqlLineage {
    let mut walk = Walk {
        inputs,
        out: SqlLineage::default(),
    };
    match Parser::parse_sql(&GenericDialect {}, sql) {
        Ok(statements) => match statements.as_slice() {
            [sqlparser::ast::Statement::Query(q)] => {
                walk.out.columns = walk.query(q, &BTreeMap::new(), &[]);
            }
            _ => walk.problem("a transform must be one SELECT query".to_owned(), None),
        },
        Err(e) => walk.problem(format!("the SQL does not parse: {e}"), None),
    }
    walk.out
}

type Ctes = BTreeMap<String, Vec<Col>>;

struct Walk<'a> {
    inputs: &'a BTreeMap<AssetKey, Option<Vec<String>>>,
    out: SqlLineage,
}

fn position(ident: &Ident) -> Option<(usize, usize)> {
    let start = ident.span.start;
    (start.line > 0).then(|| {
        (
            usize::try_from(start.line).unwrap_or(usize::MAX),
            usize::try_from(start.column).unwrap_or(usize::MAX),
        )
    })
}

fn object_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(i.value.as_str()),
            ObjectNamePart::Function(_) => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn last_ident(name: &ObjectName) -> Option<&Ident> {
    name.0.iter().rev().find_map(|p| match p {
        ObjectNamePart::Identifier(i) => Some(i),
        ObjectNamePart::Function(_) => None,
    })
}

/// The name polars gives an unaliased expression when it is a column; others are named
/// from the inferred schema later.
fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(i) => i.value.clone(),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|i| i.value.clone()).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

fn join_constraint(op: &JoinOperator) -> Option<&JoinConstraint> {
    match op {
        JoinOperator::Join(c)
        | JoinOperator::Inner(c)
        | JoinOperator::Left(c)
        | JoinOperator::LeftOuter(c)
        | JoinOperator::Right(c)
        | JoinOperator::RightOuter(c)
        | JoinOperator::FullOuter(c)
        | JoinOperator::CrossJoin(c)
        | JoinOperator::Semi(c)
        | JoinOperator::LeftSemi(c)
        | JoinOperator::RightSemi(c)
        | JoinOperator::Anti(c)
        | JoinOperator::LeftAnti(c)
        | JoinOperator::RightAnti(c)
        | JoinOperator::StraightJoin(c)
        | JoinOperator::AsOf { constraint: c, .. } => Some(c),
        _ => None,
    }
}

/// The identifiers and subqueries an expression names at its own level (a subquery's insides
/// are its own).
#[derive(Default)]
struct Refs {
    depth: usize,
    idents: Vec<Vec<Ident>>,
    subqueries: Vec<Query>,
}

impl Visitor for Refs {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth = self.depth.saturating_sub(1);
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if self.depth > 0 {
            return ControlFlow::Continue(());
        }
        match expr {
            Expr::Identifier(i) => self.idents.push(vec![i.clone()]),
            Expr::CompoundIdentifier(parts) => self.idents.push(parts.clone()),
            Expr::Subquery(q)
            | Expr::InSubquery { subquery: q, .. }
            | Expr::Exists { subquery: q, .. } => {
                self.subqueries.push(q.as_ref().clone());
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

fn refs_of<V: Visit>(node: &V) -> Refs {
    let mut refs = Refs::default();
    let _ = node.visit(&mut refs);
    refs
}

impl Walk<'_> {
    fn problem(&mut self, message: String, at: Option<(usize, usize)>) {
        self.out.problems.push(LineageProblem {
            field: "sql".to_owned(),
            message,
            position: at,
        });
    }

    fn query(&mut self, q: &Query, ctes: &Ctes, outer: &[Vec<Rel>]) -> Vec<Col> {
        let mut ctes = ctes.clone();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let cols = self.query(&cte.query, &ctes, outer);
                let cols = renamed(cols, &cte.alias);
                ctes.insert(cte.alias.name.value.clone(), cols);
            }
        }
        self.set_expr(&q.body, &ctes, outer)
    }

    fn set_expr(&mut self, body: &SetExpr, ctes: &Ctes, outer: &[Vec<Rel>]) -> Vec<Col> {
        match body {
            SetExpr::Select(s) => self.select(s, ctes, outer),
            SetExpr::Query(q) => self.query(q, ctes, outer),
            SetExpr::SetOperation { left, right, .. } => {
                let mut cols = self.set_expr(left, ctes, outer);
                let rights = self.set_expr(right, ctes, outer);
                for (c, r) in cols.iter_mut().zip(rights) {
                    c.sources.extend(r.sources);
                    c.direct = false;
                }
                cols
            }
            _ => Vec::new(),
        }
    }

    fn select(&mut self, s: &Select, ctes: &Ctes, outer: &[Vec<Rel>]) -> Vec<Col> {
        let mut rels = Vec::new();
        let mut constraints = Vec::new();
        for twj in &s.from {
            rels.push(self.relation(&twj.relation, ctes, outer));
            for join in &twj.joins {
                let mut rel = self.relation(&join.relation, ctes, outer);
                if let Some(c) = join_constraint(&join.join_operator) {
                    if let JoinConstraint::Using(names) = c {
                        rel.using = names
                            .iter()
                            .filter_map(|n| last_ident(n).map(|i| i.value.clone()))
                            .collect();
                        self.using_filters(&rels, &rel, names);
                    }
                    constraints.push(c.clone());
                }
                rels.push(rel);
            }
        }
        let mut scopes: Vec<Vec<Rel>> = vec![rels];
        scopes.extend(outer.iter().cloned());
        for c in &constraints {
            if let JoinConstraint::On(e) = c {
                self.filter(e, &scopes, ctes, &[]);
            }
        }
        let mut cols = Vec::new();
        for item in &s.projection {
            self.select_item(item, &scopes, ctes, &mut cols);
        }
        for e in [&s.selection, &s.having, &s.qualify, &s.prewhere]
            .into_iter()
            .flatten()
        {
            self.filter(e, &scopes, ctes, &cols);
        }
        if let GroupByExpr::Expressions(exprs, _) = &s.group_by {
            for e in exprs {
                self.filter(e, &scopes, ctes, &cols);
            }
        }
        cols
    }

    fn using_filters(&mut self, left: &[Rel], right: &Rel, names: &[ObjectName]) {
        for n in names {
            let Some(ident) = last_ident(n) else { continue };
            let parts = [ident.clone()];
            for rels in [left, std::slice::from_ref(right)] {
                if let Some(col) = resolve_in(rels, &parts) {
                    self.out.filters.extend(col.sources);
                }
            }
        }
    }

    fn relation(&mut self, factor: &TableFactor, ctes: &Ctes, outer: &[Vec<Rel>]) -> Rel {
        match factor {
            TableFactor::Table { name, alias, .. } => {
                let table = object_name(name);
                let shown = alias.as_ref().map_or_else(
                    || {
                        last_ident(name)
                            .map(|i| i.value.clone())
                            .unwrap_or_default()
                    },
                    |a| a.name.value.clone(),
                );
                let (cols, open) = if let Some(cols) = ctes.get(&table) {
                    (cols.clone(), None)
                } else {
                    self.input_columns(&table, last_ident(name))
                };
                let cols = match alias {
                    Some(a) => renamed(cols, a),
                    None => cols,
                };
                Rel {
                    name: shown,
                    cols,
                    open,
                    using: Vec::new(),
                }
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                let cols = self.query(subquery, ctes, outer);
                let (name, cols) = match alias {
                    Some(a) => (a.name.value.clone(), renamed(cols, a)),
                    None => (String::new(), cols),
                };
                Rel {
                    name,
                    cols,
                    open: None,
                    using: Vec::new(),
                }
            }
            other => {
                self.problem(
                    format!("lineage does not follow the table expression `{other}`"),
                    None,
                );
                Rel {
                    name: String::new(),
                    cols: Vec::new(),
                    open: None,
                    using: Vec::new(),
                }
            }
        }
    }

    fn input_columns(
        &mut self,
        table: &str,
        ident: Option<&Ident>,
    ) -> (Vec<Col>, Option<AssetKey>) {
        let key = AssetKey::new(table);
        match self.inputs.get(&key) {
            Some(Some(names)) => (
                names
                    .iter()
                    .map(|n| Col {
                        name: n.clone(),
                        sources: BTreeSet::from([ColumnRef::new(&key, n)]),
                        direct: true,
                    })
                    .collect(),
                None,
            ),
            Some(None) => (Vec::new(), Some(key)),
            None => {
                self.problem(
                    format!("`{table}` is not an upstream asset"),
                    ident.and_then(position),
                );
                (Vec::new(), None)
            }
        }
    }

    fn select_item(
        &mut self,
        item: &SelectItem,
        scopes: &[Vec<Rel>],
        ctes: &Ctes,
        cols: &mut Vec<Col>,
    ) {
        match item {
            SelectItem::UnnamedExpr(e) => {
                let mut c = self.value(e, scopes, ctes);
                c.name = expr_name(e);
                cols.push(c);
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                let mut c = self.value(expr, scopes, ctes);
                c.name.clone_from(&alias.value);
                cols.push(c);
            }
            SelectItem::ExprWithAliases { expr, aliases } => {
                let c = self.value(expr, scopes, ctes);
                for a in aliases {
                    cols.push(Col {
                        name: a.value.clone(),
                        ..c.clone()
                    });
                }
            }
            SelectItem::Wildcard(opts) => {
                let mut seen = BTreeSet::new();
                let mut all = Vec::new();
                for rel in scopes.first().into_iter().flatten() {
                    self.open_wildcard(rel);
                    for c in &rel.cols {
                        if rel.using.contains(&c.name) && seen.contains(&c.name) {
                            continue;
                        }
                        seen.insert(c.name.clone());
                        all.push(c.clone());
                    }
                }
                cols.extend(excluding(all, opts));
            }
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(n), opts) => {
                let name = last_ident(n).map(|i| i.value.clone()).unwrap_or_default();
                match scopes
                    .first()
                    .into_iter()
                    .flatten()
                    .find(|r| r.name == name)
                {
                    Some(rel) => {
                        let rel = rel.clone();
                        self.open_wildcard(&rel);
                        cols.extend(excluding(rel.cols, opts));
                    }
                    None => self.problem(
                        format!("no table `{name}` here"),
                        last_ident(n).and_then(position),
                    ),
                }
            }
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::Expr(e), _) => {
                let c = self.value(e, scopes, ctes);
                cols.push(c);
            }
        }
    }

    fn open_wildcard(&mut self, rel: &Rel) {
        if let Some(key) = &rel.open {
            self.problem(
                format!("the columns of {key} are unknown, so `*` cannot be followed"),
                None,
            );
        }
    }

    /// The column an expression computes: the sources of every column it names.
    fn value(&mut self, e: &Expr, scopes: &[Vec<Rel>], ctes: &Ctes) -> Col {
        let refs = refs_of(e);
        let mut col = Col::default();
        let bare = matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_));
        for parts in &refs.idents {
            if let Some(found) = self.resolve(scopes, parts, &[]) {
                col.direct = bare && found.direct;
                col.sources.extend(found.sources);
            }
        }
        for q in &refs.subqueries {
            for c in self.query(q, ctes, scopes) {
                col.sources.extend(c.sources);
            }
        }
        col
    }

    /// Columns that decide rows (a filter, join condition, grouping).
    fn filter(&mut self, e: &Expr, scopes: &[Vec<Rel>], ctes: &Ctes, aliases: &[Col]) {
        let refs = refs_of(e);
        for parts in &refs.idents {
            if let Some(found) = self.resolve(scopes, parts, aliases) {
                self.out.filters.extend(found.sources);
            }
        }
        for q in &refs.subqueries {
            for c in self.query(q, ctes, scopes) {
                self.out.filters.extend(c.sources);
            }
        }
    }

    fn resolve(&mut self, scopes: &[Vec<Rel>], parts: &[Ident], aliases: &[Col]) -> Option<Col> {
        for rels in scopes {
            if let Some(c) = resolve_in(rels, parts) {
                return Some(c);
            }
        }
        if let [one] = parts
            && let Some(c) = aliases.iter().find(|c| c.name == one.value)
        {
            return Some(c.clone());
        }
        let shown = parts
            .iter()
            .map(|p| p.value.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let at = parts.last().and_then(position);
        self.problem(
            format!("column `{shown}` is not in any table the query reads"),
            at,
        );
        None
    }
}

/// A column by name (`c`) or qualified (`t.c`) among one scope's relations.
fn resolve_in(rels: &[Rel], parts: &[Ident]) -> Option<Col> {
    let (table, name) = match parts {
        [] => return None,
        [one] => (None, one.value.as_str()),
        [.., t, c] => (Some(t.value.as_str()), c.value.as_str()),
    };
    let candidates = rels.iter().filter(|r| table.is_none_or(|t| r.name == t));
    let mut open = None;
    for rel in candidates {
        let found = rel
            .cols
            .iter()
            .find(|c| c.name == name)
            .or_else(|| rel.cols.iter().find(|c| c.name.eq_ignore_ascii_case(name)));
        if let Some(c) = found {
            return Some(c.clone());
        }
        if open.is_none() {
            open.clone_from(&rel.open);
        }
    }
    open.map(|key| Col {
        name: name.to_owned(),
        sources: BTreeSet::from([ColumnRef::new(&key, name)]),
        direct: true,
    })
}

fn renamed(mut cols: Vec<Col>, alias: &TableAlias) -> Vec<Col> {
    for (c, a) in cols.iter_mut().zip(&alias.columns) {
        c.name.clone_from(&a.name.value);
    }
    cols
}

fn excluding(cols: Vec<Col>, opts: &WildcardAdditionalOptions) -> Vec<Col> {
    use sqlparser::ast::ExcludeSelectItem;
    let excluded: Vec<String> = match &opts.opt_exclude {
        Some(ExcludeSelectItem::Single(n)) => {
            last_ident(n).map(|i| i.value.clone()).into_iter().collect()
        }
        Some(ExcludeSelectItem::Multiple(ns)) => ns
            .iter()
            .filter_map(|n| last_ident(n).map(|i| i.value.clone()))
            .collect(),
        None => Vec::new(),
    };
    cols.into_iter()
        .filter(|c| !excluded.contains(&c.name))
        .collect()
}

/// The columns a check's SQL predicate names (`clv >= 0` → `clv`); `None` when it does not
/// parse.
pub fn predicate_columns(predicate: &str) -> Option<BTreeSet<String>> {
    let expr = Parser::new(&GenericDialect {})
        .try_with_sql(predicate)
        .ok()?
        .parse_expr()
        .ok()?;
    Some(
        refs_of(&expr)
            .idents
            .iter()
            .filter_map(|p| p.last().map(|i| i.value.clone()))
            .collect(),
    )
}
