//! The SQL a preview shows for each step of a plan (D11): set-based steps as the statements
//! they will run, row-by-row steps as a summary with their row count.

use super::{rowset, Dialect, SqlBuilder, Statement};
use crate::meta::ModelMeta;
use crate::plan::rowset::RowSet;
use crate::plan::Step;

/// For a set-based step: its action, its set, its SQL, and the COUNT query that sizes it.
pub(crate) fn set_step<'s>(
    dialect: &'static dyn Dialect,
    step: &'s Step,
) -> Option<(&'static str, &'s RowSet, String, Statement)> {
    let (action, set, text) = match step {
        Step::Delete { set } => ("delete", set, rowset::delete(dialect, set).sql),
        Step::Nullify { set, column } => {
            ("set null", set, rowset::nullify(dialect, set, *column).sql)
        }
        Step::Guard { set, .. } => ("check", set, rowset::count(dialect, set).sql),
        _ => return None,
    };
    Some((action, set, text, rowset::count(dialect, set)))
}

/// `INSERT INTO t ... (n rows)`.
pub(crate) fn insert(dialect: &'static dyn Dialect, model: &ModelMeta, rows: usize) -> String {
    let mut b = SqlBuilder::new(dialect);
    b.push("INSERT INTO ").ident(model.table);
    b.push(&format!(" ... ({rows} rows)"));
    b.finish().sql
}

/// `UPDATE t SET a, b WHERE <key> (n rows)`.
pub(crate) fn update(
    dialect: &'static dyn Dialect,
    model: &ModelMeta,
    columns: &[usize],
    rows: usize,
) -> String {
    let mut b = SqlBuilder::new(dialect);
    b.push("UPDATE ").ident(model.table).push(" SET ");
    b.list(columns.iter(), |b, &c| {
        b.push(model.columns[c].name);
    });
    b.push(&format!(" WHERE <key> ({rows} rows)"));
    b.finish().sql
}
