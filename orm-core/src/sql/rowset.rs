//! Rendering of the planner's row sets: `DELETE`, `UPDATE ... SET fk = NULL`, key captures and
//! counts over a [`RowSet`], as sub-selects and recursive subtrees instead of loaded rows.

use super::{Dialect, SqlBuilder, Statement};
use crate::column::Expr;
use crate::plan::rowset::RowSet;

/// Renders the set as a predicate over its model's (unqualified) table.
pub(crate) fn predicate(b: &mut SqlBuilder, set: &RowSet, depth: usize) {
    match set {
        RowSet::Keys {
            model,
            column,
            values,
        } => {
            super::expr(
                b,
                model,
                &Expr::In {
                    column: *column,
                    values: values.clone(),
                },
            );
        }
        RowSet::Filter { model, expr } => super::expr(b, model, expr),
        RowSet::Referencing {
            model,
            fk,
            parent,
            parent_column,
        } => match listed_keys(parent, *parent_column) {
            Some(values) => {
                let dialect = b.dialect;
                dialect.key_list(b, model.columns[*fk].name, values);
            }
            None => {
                b.ident(model.columns[*fk].name).push(" IN (");
                select_column(b, parent, *parent_column, depth + 1);
                b.push(")");
            }
        },
        RowSet::Subtree {
            fk,
            parent_column,
            roots,
        } => subtree(b, roots, *fk, *parent_column, depth),
        RowSet::Except {
            set,
            column,
            values,
        } => {
            b.push("(");
            predicate(b, set, depth);
            b.push(") AND NOT (");
            super::expr(
                b,
                set.model(),
                &Expr::In {
                    column: *column,
                    values: values.clone(),
                },
            );
            b.push(")");
        }
        // Resolved into `Keys` before execution; unresolved, it matches nothing.
        RowSet::Captured { .. } => {
            b.push("1 = 0");
        }
    }
}

/// The key list of a set that is exactly a list of `column` values.
fn listed_keys(set: &RowSet, column: usize) -> Option<&[crate::Value]> {
    match set {
        RowSet::Keys {
            column: c, values, ..
        } if *c == column && !values.is_empty() => Some(values),
        _ => None,
    }
}

/// Renders `SELECT column FROM table WHERE <predicate>`, or just the key list when the set
/// is a list of exactly those values.
fn select_column(b: &mut SqlBuilder, set: &RowSet, column: usize, depth: usize) {
    if let Some(values) = listed_keys(set, column) {
        b.list(values.iter().cloned(), |b, v| {
            b.param(v);
        });
        return;
    }
    let model = set.model();
    b.push("SELECT ")
        .ident(model.columns[column].name)
        .push(" FROM ")
        .ident(model.table)
        .push(" WHERE ");
    predicate(b, set, depth);
}

/// `pk IN (WITH RECURSIVE sub(k) AS (roots UNION descendants) SELECT k FROM sub)`. One statement
/// for a whole subtree: SQLite and PostgreSQL check immediate foreign keys at statement end.
fn subtree(b: &mut SqlBuilder, roots: &RowSet, fk: usize, parent_column: usize, depth: usize) {
    let model = roots.model();
    let key = model.columns[parent_column].name;
    let cte = format!("orm_subtree_{depth}");
    let alias = format!("orm_node_{depth}");
    let with_recursive = b.dialect.with_recursive();
    b.ident(key)
        .push(" IN (")
        .push(with_recursive)
        .ident(&cte)
        .push(" (k) AS (SELECT ")
        .ident(key);
    b.push(" FROM ").ident(model.table).push(" WHERE ");
    predicate(b, roots, depth + 1);
    b.push(" UNION SELECT ")
        .ident(&alias)
        .push(".")
        .ident(key)
        .push(" FROM ")
        .ident(model.table);
    b.push(" AS ")
        .ident(&alias)
        .push(" JOIN ")
        .ident(&cte)
        .push(" ON ")
        .ident(&alias)
        .push(".");
    b.ident(model.columns[fk].name)
        .push(" = ")
        .ident(&cte)
        .push(".k) SELECT k FROM ")
        .ident(&cte)
        .push(")");
}

/// `DELETE FROM t WHERE <set>`.
pub(crate) fn delete(dialect: &'static dyn Dialect, set: &RowSet) -> Statement {
    let mut b = SqlBuilder::new(dialect);
    b.push("DELETE FROM ")
        .ident(set.model().table)
        .push(" WHERE ");
    predicate(&mut b, set, 0);
    b.finish()
}

/// `UPDATE t SET fk = NULL WHERE <set>`.
pub(crate) fn nullify(dialect: &'static dyn Dialect, set: &RowSet, column: usize) -> Statement {
    let model = set.model();
    let mut b = SqlBuilder::new(dialect);
    b.push("UPDATE ")
        .ident(model.table)
        .push(" SET ")
        .ident(model.columns[column].name)
        .push(" = NULL WHERE ");
    predicate(&mut b, set, 0);
    b.finish()
}

/// `SELECT column FROM t WHERE <set>` (a capture of related keys).
pub(crate) fn select(dialect: &'static dyn Dialect, set: &RowSet, column: usize) -> Statement {
    let mut b = SqlBuilder::new(dialect);
    select_column(&mut b, set, column, 0);
    b.finish()
}

/// `SELECT COUNT(*) FROM t WHERE <set>` (previews and guards).
pub(crate) fn count(dialect: &'static dyn Dialect, set: &RowSet) -> Statement {
    let mut b = SqlBuilder::new(dialect);
    b.push("SELECT COUNT(*) FROM ")
        .ident(set.model().table)
        .push(" WHERE ");
    predicate(&mut b, set, 0);
    b.finish()
}
