//! SQL rendering per [`Dialect`]: every statement the ORM runs is built here, with values bound as
//! parameters, never spliced into the text. Rendering is pure and tested without a database.
//! What differs between databases is behaviour of the [`Dialect`] trait (`dialect.rs`); the
//! planner's row sets are rendered in `rowset.rs`.

pub(crate) mod describe;
mod dialect;
pub(crate) mod packed;
pub(crate) mod rowset;

pub use dialect::{values_source, Comparison, Dialect, Postgres, Sqlite, POSTGRES, SQLITE};

use crate::column::Expr;
use crate::meta::{ForeignKeyMeta, ModelMeta};
use crate::value::{SqlType, Value};

/// A rendered statement: its text and the values bound to its parameters, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The SQL text.
    pub sql: String,
    /// The bound values.
    pub params: Vec<Value>,
}

/// Builds one statement's text and parameters together so that they cannot drift apart. A
/// [`Dialect`] writes its own spellings through it.
#[derive(Debug)]
pub struct SqlBuilder {
    dialect: &'static dyn Dialect,
    sql: String,
    params: Vec<Value>,
    /// Placeholders written for values supplied in one piece (`insert`).
    placeholders: usize,
}

impl SqlBuilder {
    pub(crate) fn new(dialect: &'static dyn Dialect) -> Self {
        SqlBuilder {
            dialect,
            sql: String::with_capacity(128),
            params: Vec::new(),
            placeholders: 0,
        }
    }

    /// Appends SQL text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    /// Appends a quoted identifier, as the dialect quotes it.
    pub fn ident(&mut self, name: &str) -> &mut Self {
        self.dialect.quote_identifier(&mut self.sql, name);
        self
    }

    /// Binds a value and appends its placeholder.
    pub fn param(&mut self, value: Value) -> &mut Self {
        self.params.push(value);
        self.placeholder_for(self.params.len())
    }

    /// A placeholder for the next parameter of a statement whose values are supplied at once.
    fn placeholder(&mut self) -> &mut Self {
        self.placeholders += 1;
        self.placeholder_for(self.placeholders)
    }

    fn placeholder_for(&mut self, number: usize) -> &mut Self {
        self.dialect.placeholder(&mut self.sql, number);
        self
    }

    /// Appends `each` of `items`, separated by commas.
    pub fn list<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Self, T),
    ) -> &mut Self {
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            each(self, item);
        }
        self
    }

    fn columns(&mut self, meta: &ModelMeta, columns: impl IntoIterator<Item = usize>) -> &mut Self {
        self.list(columns, |b, c| {
            b.ident(meta.columns[c].name);
        })
    }

    pub(crate) fn finish(self) -> Statement {
        Statement {
            sql: self.sql,
            params: self.params,
        }
    }
}

/// Renders a filter expression over `meta`'s columns.
pub(crate) fn expr(b: &mut SqlBuilder, meta: &ModelMeta, e: &Expr) {
    match e {
        Expr::Compare { column, op, value } => {
            let name = meta.columns[*column].name;
            match b.dialect.exact_comparison(*op, value.clone()) {
                Comparison::Compare(op, value) => {
                    b.ident(name)
                        .push(" ")
                        .push(op.as_sql())
                        .push(" ")
                        .param(value);
                }
                Comparison::Never => {
                    b.push("1 = 0");
                }
                Comparison::NotNull => {
                    b.ident(name).push(" IS NOT NULL");
                }
            }
        }
        Expr::IsNull(column) => {
            b.ident(meta.columns[*column].name).push(" IS NULL");
        }
        Expr::In { column, values } if values.is_empty() => {
            // `x IN ()` is not valid SQL everywhere; an empty list matches nothing.
            let _ = column;
            b.push("1 = 0");
        }
        Expr::In { column, values } => {
            let dialect = b.dialect;
            dialect.key_list(b, meta.columns[*column].name, values);
        }
        Expr::Like { column, pattern } => {
            b.ident(meta.columns[*column].name)
                .push(" LIKE ")
                .param(Value::Text(pattern.clone()));
        }
        Expr::And(parts) => junction(b, meta, parts, " AND ", "1 = 1"),
        Expr::Or(parts) => junction(b, meta, parts, " OR ", "1 = 0"),
        Expr::Not(inner) => {
            b.push("NOT (");
            expr(b, meta, inner);
            b.push(")");
        }
    }
}

fn junction(b: &mut SqlBuilder, meta: &ModelMeta, parts: &[Expr], sep: &str, empty: &str) {
    if parts.is_empty() {
        b.push(empty);
        return;
    }
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            b.push(sep);
        }
        b.push("(");
        expr(b, meta, part);
        b.push(")");
    }
}

/// Ordering, limit and offset of a query.
#[derive(Debug, Clone, Default)]
pub(crate) struct Window {
    pub order: Vec<(usize, bool)>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// `SELECT ... FROM t [WHERE filter] [ORDER BY ...] [LIMIT ...]`.
pub(crate) fn select(
    dialect: &'static dyn Dialect,
    meta: &ModelMeta,
    filter: Option<&Expr>,
    window: &Window,
) -> Statement {
    let columns: Vec<usize> = (0..meta.columns.len()).collect();
    select_columns(dialect, meta, &columns, filter, window)
}

fn window_clause(b: &mut SqlBuilder, meta: &ModelMeta, window: &Window) {
    if !window.order.is_empty() {
        b.push(" ORDER BY ");
        b.list(window.order.iter(), |b, (column, descending)| {
            b.ident(meta.columns[*column].name)
                .push(if *descending { " DESC" } else { " ASC" });
        });
    }
    match (window.limit, window.offset) {
        (Some(limit), offset) => {
            b.push(" LIMIT ").param(Value::Integer(clamp(limit)));
            if let Some(offset) = offset {
                b.push(" OFFSET ").param(Value::Integer(clamp(offset)));
            }
        }
        // Some databases need a LIMIT before OFFSET: the dialect says how to write "none".
        (None, Some(offset)) => {
            let none = b.dialect.no_limit();
            b.push(" LIMIT ")
                .push(none)
                .push(" OFFSET ")
                .param(Value::Integer(clamp(offset)));
        }
        (None, None) => {}
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn where_clause(b: &mut SqlBuilder, meta: &ModelMeta, filter: Option<&Expr>) {
    if let Some(filter) = filter {
        b.push(" WHERE ");
        expr(b, meta, filter);
    }
}

/// `SELECT COUNT(*) FROM t [WHERE filter]`.
pub(crate) fn count(
    dialect: &'static dyn Dialect,
    meta: &ModelMeta,
    filter: Option<&Expr>,
) -> Statement {
    let mut b = SqlBuilder::new(dialect);
    b.push("SELECT COUNT(*) FROM ").ident(meta.table);
    where_clause(&mut b, meta, filter);
    b.finish()
}

/// A multi-row `INSERT`; `values` holds the rows one after the other (row-major, one value per
/// column), so that a batch of 10,000 rows is one vector, not 10,000; `returning` names the
/// generated key column to read back, if any.
pub(crate) fn insert(
    dialect: &'static dyn Dialect,
    meta: &ModelMeta,
    columns: &[usize],
    values: Vec<Value>,
    returning: &[usize],
) -> Statement {
    let mut b = SqlBuilder::new(dialect);
    b.push("INSERT INTO ").ident(meta.table);
    if columns.is_empty() {
        // Every column filled in by the database: one row per statement.
        b.push(" DEFAULT VALUES");
    } else {
        b.push(" (")
            .columns(meta, columns.iter().copied())
            .push(") VALUES ");
        let rows = values.len() / columns.len();
        b.sql.reserve(rows * (columns.len() * 3 + 4));
        for row in 0..rows {
            b.push(if row == 0 { "(" } else { ", (" });
            for column in 0..columns.len() {
                if column > 0 {
                    b.push(", ");
                }
                b.placeholder();
            }
            b.push(")");
        }
        b.params = values;
    }
    if !returning.is_empty() {
        b.push(" RETURNING ")
            .columns(meta, returning.iter().copied());
    }
    b.finish()
}

/// `UPDATE t SET c = ?, ... WHERE <primary key>`.
pub(crate) fn update(
    dialect: &'static dyn Dialect,
    meta: &ModelMeta,
    set: Vec<(usize, Value)>,
    key: &[Value],
) -> Statement {
    let mut b = SqlBuilder::new(dialect);
    b.push("UPDATE ").ident(meta.table).push(" SET ");
    b.list(set, |b, (column, value)| {
        b.ident(meta.columns[column].name).push(" = ").param(value);
    });
    b.push(" WHERE ");
    expr(&mut b, meta, &Expr::key(meta, key));
    b.finish()
}

/// `UPDATE t SET c = v.column2, ... FROM (VALUES (?, ?), ...) AS v WHERE t.pk = v.column1`: many
/// rows, each with its own values, in one statement joined on the key (single-column keys).
/// A `CASE pk WHEN ...` would be tested branch by branch for every row: quadratic.
pub(crate) fn update_many(
    dialect: &'static dyn Dialect,
    meta: &ModelMeta,
    columns: &[usize],
    rows: &[(Value, Vec<Value>)],
) -> Statement {
    let key = meta.columns[meta.primary_key[0]].name;
    let mut b = SqlBuilder::new(dialect);
    b.push("UPDATE ").ident(meta.table).push(" SET ");
    b.list(columns.iter().enumerate(), |b, (i, &column)| {
        b.ident(meta.columns[column].name)
            .push(" = ")
            .ident("orm_v")
            .push(".");
        b.ident(&format!("column{}", i + 2));
    });
    let types: Vec<SqlType> = std::iter::once(meta.primary_key[0])
        .chain(columns.iter().copied())
        .map(|column| meta.columns[column].sql_type)
        .collect();
    dialect.update_from_values(&mut b, &types, rows, "orm_v");
    b.push(" WHERE ").ident(meta.table).push(".").ident(key);
    b.push(" = ").ident("orm_v").push(".").ident("column1");
    b.finish()
}

/// `CREATE TABLE IF NOT EXISTS` with keys, uniqueness and `FOREIGN KEY ... ON DELETE` clauses.
///
/// Foreign keys for which `inline` is false are left out, to be added by [`add_foreign_key`]
/// once the tables they reference exist.
pub(crate) fn create_table(
    dialect: &'static dyn Dialect,
    meta: &ModelMeta,
    inline: impl Fn(&ForeignKeyMeta) -> bool,
) -> Statement {
    let mut b = SqlBuilder::new(dialect);
    b.push("CREATE TABLE IF NOT EXISTS ")
        .ident(meta.table)
        .push(" (");
    let generated = meta.columns.iter().any(|c| c.generated);
    b.list(meta.columns.iter(), |b, column| {
        b.ident(column.name).push(" ");
        if column.generated {
            b.push(dialect.generated_key());
            return;
        }
        b.push(dialect.type_name(column.sql_type));
        if !column.nullable {
            b.push(" NOT NULL");
        }
        if column.unique {
            b.push(" UNIQUE");
        }
        if let Some(default) = column.default {
            // In parentheses: SQLite takes an expression default only so.
            b.push(" DEFAULT (").push(default).push(")");
        }
    });
    if !generated {
        b.push(", PRIMARY KEY (")
            .columns(meta, meta.primary_key.iter().copied())
            .push(")");
    }
    for fk in meta.foreign_keys.iter().filter(|fk| inline(fk)) {
        b.push(", ");
        foreign_key_clause(&mut b, meta, fk);
    }
    b.push(")");
    b.finish()
}

/// `FOREIGN KEY (c) REFERENCES t (k) ON DELETE ...`.
fn foreign_key_clause(b: &mut SqlBuilder, meta: &ModelMeta, fk: &ForeignKeyMeta) {
    b.push("FOREIGN KEY (")
        .ident(meta.columns[fk.column].name)
        .push(") REFERENCES ");
    b.ident(fk.target_table)
        .push(" (")
        .ident(fk.target_column)
        .push(") ON DELETE ");
    b.push(fk.on_delete.as_sql());
}

/// The name of a foreign-key constraint added after its table was created.
fn foreign_key_name(meta: &ModelMeta, fk: &ForeignKeyMeta) -> String {
    format!("fk_{}_{}", meta.table, meta.columns[fk.column].name)
}

/// `ALTER TABLE t DROP CONSTRAINT IF EXISTS fk, ADD CONSTRAINT fk FOREIGN KEY ...`: a foreign
/// key into a table created after `t` (tables that reference each other), added in a way that
/// can run again.
pub(crate) fn add_foreign_key(
    dialect: &'static dyn Dialect,
    meta: &ModelMeta,
    fk: &ForeignKeyMeta,
) -> Statement {
    let name = foreign_key_name(meta, fk);
    let mut b = SqlBuilder::new(dialect);
    b.push("ALTER TABLE ").ident(meta.table);
    b.push(" DROP CONSTRAINT IF EXISTS ").ident(&name);
    b.push(", ADD CONSTRAINT ").ident(&name).push(" ");
    foreign_key_clause(&mut b, meta, fk);
    b.finish()
}

/// `ALTER TABLE IF EXISTS t DROP CONSTRAINT IF EXISTS fk`: the inverse of [`add_foreign_key`],
/// so that tables that reference each other can be dropped one by one.
pub(crate) fn drop_foreign_key(
    dialect: &'static dyn Dialect,
    meta: &ModelMeta,
    fk: &ForeignKeyMeta,
) -> Statement {
    let mut b = SqlBuilder::new(dialect);
    b.push("ALTER TABLE IF EXISTS ").ident(meta.table);
    b.push(" DROP CONSTRAINT IF EXISTS ")
        .ident(&foreign_key_name(meta, fk));
    b.finish()
}

/// One `CREATE INDEX IF NOT EXISTS` per foreign-key or `index` column: without them every
/// cascade scans the child table.
pub(crate) fn create_indexes(dialect: &'static dyn Dialect, meta: &ModelMeta) -> Vec<Statement> {
    meta.columns
        .iter()
        .filter(|c| {
            c.indexed
                && !c.unique
                && !(c.primary_key
                    && meta.primary_key.first() == meta.column_index(c.name).as_ref())
        })
        .map(|column| {
            let mut b = SqlBuilder::new(dialect);
            b.push("CREATE INDEX IF NOT EXISTS ")
                .ident(&format!("ix_{}_{}", meta.table, column.name));
            b.push(" ON ")
                .ident(meta.table)
                .push(" (")
                .ident(column.name)
                .push(")");
            b.finish()
        })
        .collect()
}

/// Savepoint control: every flush after the first of a transaction runs under one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SavepointStep {
    Begin,
    Release,
    RollBack,
}

/// The savepoint statement of `step` for savepoint `name`.
pub(crate) fn savepoint(
    dialect: &'static dyn Dialect,
    step: SavepointStep,
    name: &str,
) -> Statement {
    let mut b = SqlBuilder::new(dialect);
    match step {
        SavepointStep::Begin => dialect.savepoint(&mut b, name),
        SavepointStep::Release => dialect.release_savepoint(&mut b, name),
        SavepointStep::RollBack => dialect.rollback_to_savepoint(&mut b, name),
    }
    b.finish()
}

/// The statement that sets a transaction's isolation level and access mode, if the dialect
/// has one and `options` ask for anything.
pub(crate) fn set_transaction(
    dialect: &'static dyn Dialect,
    options: &crate::transaction::TxOptions,
) -> Option<Statement> {
    let mut b = SqlBuilder::new(dialect);
    dialect.set_transaction(&mut b, options).then(|| b.finish())
}

/// How a transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransactionEnd {
    Commit,
    Rollback,
}

/// The statement a backend's driver runs to begin a transaction (for the log and the count):
/// `statement` if the dialect chose one, else `BEGIN`.
pub(crate) fn transaction_begin(statement: Option<&'static str>) -> Statement {
    Statement {
        sql: statement.unwrap_or("BEGIN").into(),
        params: Vec::new(),
    }
}

/// The statement a backend's driver runs to end a transaction (for the log and the count).
pub(crate) fn transaction_end(end: TransactionEnd) -> Statement {
    let sql = match end {
        TransactionEnd::Commit => "COMMIT",
        TransactionEnd::Rollback => "ROLLBACK",
    };
    Statement {
        sql: sql.into(),
        params: Vec::new(),
    }
}

/// `DROP TABLE IF EXISTS t`.
pub(crate) fn drop_table(dialect: &'static dyn Dialect, meta: &ModelMeta) -> Statement {
    let mut b = SqlBuilder::new(dialect);
    b.push("DROP TABLE IF EXISTS ").ident(meta.table);
    b.finish()
}

/// `SELECT target.* FROM target JOIN assoc ON ... WHERE assoc.owner_fk = ?` (many-to-many).
pub(crate) fn select_through(
    dialect: &'static dyn Dialect,
    target: &ModelMeta,
    target_link: crate::schema::Link,
    owner_link: crate::schema::Link,
    owner_key: Value,
) -> Statement {
    let assoc = owner_link.child;
    let mut b = SqlBuilder::new(dialect);
    b.push("SELECT ");
    b.list(target.columns.iter(), |b, c| {
        b.ident(target.table).push(".").ident(c.name);
    });
    b.push(" FROM ")
        .ident(target.table)
        .push(" JOIN ")
        .ident(assoc.table)
        .push(" ON ");
    b.ident(assoc.table)
        .push(".")
        .ident(assoc.columns[target_link.fk_column].name)
        .push(" = ");
    b.ident(target.table)
        .push(".")
        .ident(target.columns[target_link.parent_column].name);
    b.push(" WHERE ")
        .ident(assoc.table)
        .push(".")
        .ident(assoc.columns[owner_link.fk_column].name)
        .push(" = ");
    b.param(owner_key);
    b.finish()
}

/// `SELECT <columns> FROM t [WHERE filter] [ORDER BY ...] [LIMIT ...]`.
pub(crate) fn select_columns(
    dialect: &'static dyn Dialect,
    meta: &ModelMeta,
    columns: &[usize],
    filter: Option<&Expr>,
    window: &Window,
) -> Statement {
    let mut b = SqlBuilder::new(dialect);
    select_into(&mut b, meta, columns, filter, window);
    b.finish()
}

fn select_into(
    b: &mut SqlBuilder,
    meta: &ModelMeta,
    columns: &[usize],
    filter: Option<&Expr>,
    window: &Window,
) {
    b.push("SELECT ")
        .columns(meta, columns.iter().copied())
        .push(" FROM ")
        .ident(meta.table);
    where_clause(b, meta, filter);
    window_clause(b, meta, window);
}

/// Every column of the rows `select` would return, packed by the database into one value
/// ([`Dialect::pack_rows`]); `None` where the dialect does not pack rows. The rows come back
/// with [`packed::unpack`].
pub(crate) fn select_packed(
    dialect: &'static dyn Dialect,
    meta: &ModelMeta,
    filter: Option<&Expr>,
    window: &Window,
) -> Option<Statement> {
    let names: Vec<&str> = meta.columns.iter().map(|c| c.name).collect();
    let order: Vec<(&str, bool)> = window
        .order
        .iter()
        .map(|&(column, descending)| (meta.columns[column].name, descending))
        .collect();
    let mut b = SqlBuilder::new(dialect);
    if !dialect.pack_rows_open(&mut b, &names, &order) {
        return None;
    }
    let columns: Vec<usize> = (0..meta.columns.len()).collect();
    select_into(&mut b, meta, &columns, filter, window);
    dialect.pack_rows_close(&mut b);
    Some(b.finish())
}

#[cfg(test)]
mod tests;
