//! What migrations do differently per database, behind one trait: reading the live schema,
//! spelling types, and writing changes as SQL. The one place that looks at which backend a
//! [`Database`] has is [`Pool::of`]; everything else goes through the trait.

use crate::diff::Change;
use crate::error::{Error, Result};
use crate::schema::{Column, Schema, Table};
use orm_core::backend::{BoxFuture, Dialect};
use orm_core::{Database, SqlType, Value};
use std::fmt;

/// A migration script for one backend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Script {
    /// The statements, in order.
    pub statements: Vec<String>,
    /// Whether the script manages its own transaction (sqlx's `-- no-transaction`): SQLite's
    /// table rebuilds turn foreign keys off, which only works outside a transaction.
    pub own_transaction: bool,
}

/// How one database reads and changes its schema.
pub(crate) trait SchemaDialect: fmt::Debug + Send + Sync {
    /// The ORM's dialect, for quoting.
    fn orm(&self) -> &'static dyn Dialect;

    /// A column type as this database reports it when introspected.
    fn type_name(&self, ty: SqlType) -> String;

    /// Whether changing a column from type `from` to `to` keeps every value exactly.
    fn widens(&self, from: &str, to: &str) -> bool;

    /// What this database reports differently from what it was told, made the same on both
    /// sides of a comparison.
    fn normalize(&self, table: &mut Table) {
        let _ = table;
    }

    /// Reads the live schema (without the migrations' tracking table).
    fn introspect<'a>(&'a self, db: &'a Database) -> BoxFuture<'a, Result<Schema>>;

    /// Rewrites the models' default expressions as the database will report them.
    fn settle_defaults<'a>(
        &'a self,
        db: &'a Database,
        schema: &'a mut Schema,
    ) -> BoxFuture<'a, Result<()>> {
        let _ = (db, schema);
        Box::pin(async { Ok(()) })
    }

    /// The SQL for `changes` (in rank order) to a database whose schema is `live` once this
    /// migration's renames have run; an error for a change this database cannot make safely.
    fn render(&self, changes: &[Change], live: &Schema) -> Result<Script>;
}

/// The driver's pool behind a [`Database`]: sqlx's migrator runs on it.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite {
        pool: sqlx::SqlitePool,
        /// An in-memory database lives in its one connection, which must go back to the pool.
        in_memory: bool,
    },
    Postgres(sqlx::PgPool),
}

impl Pool {
    /// The pool of `db`'s backend.
    pub(crate) fn of(db: &Database) -> Result<Pool> {
        if let Some(backend) = db.backend_as::<orm_sqlite::SqliteBackend>() {
            return Ok(Pool::Sqlite {
                pool: backend.pool().clone(),
                in_memory: backend.is_in_memory(),
            });
        }
        if let Some(backend) = db.backend_as::<orm_postgres::PgBackend>() {
            return Ok(Pool::Postgres(backend.pool().clone()));
        }
        Err(Error::UnsupportedBackend {
            dialect: db.dialect().name(),
        })
    }

    /// How this database's schema is read and changed.
    pub(crate) fn dialect(&self) -> &'static dyn SchemaDialect {
        match self {
            Pool::Sqlite { .. } => &crate::sqlite::SQLITE,
            Pool::Postgres(_) => &crate::postgres::POSTGRES,
        }
    }
}

/// `name` quoted for `dialect`.
pub(crate) fn ident(dialect: &dyn Dialect, name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    dialect.quote_identifier(&mut out, name);
    out
}

/// `a, b, c`, each quoted.
pub(crate) fn ident_list(dialect: &dyn Dialect, names: &[String]) -> String {
    names
        .iter()
        .map(|n| ident(dialect, n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `CREATE TABLE name (...)` for `table`: columns (by `column_definition`), the primary key
/// unless a column declares it, unique constraints, and foreign keys if `with_foreign_keys`.
pub(crate) fn create_table(
    dialect: &dyn Dialect,
    name: &str,
    table: &Table,
    column_definition: impl Fn(&Column) -> String,
    key_in_column: bool,
    with_foreign_keys: bool,
) -> String {
    let mut parts: Vec<String> = table.columns.iter().map(column_definition).collect();
    if !key_in_column && !table.primary_key.is_empty() {
        parts.push(format!(
            "PRIMARY KEY ({})",
            ident_list(dialect, &table.primary_key)
        ));
    }
    for index in table.indexes.iter().filter(|i| i.constraint && i.unique) {
        parts.push(format!(
            "CONSTRAINT {} UNIQUE ({})",
            ident(dialect, &index.name),
            ident_list(dialect, &index.columns)
        ));
    }
    if with_foreign_keys {
        for fk in &table.foreign_keys {
            parts.push(foreign_key_clause(dialect, fk));
        }
    }
    format!(
        "CREATE TABLE {} (\n    {}\n)",
        ident(dialect, name),
        parts.join(",\n    ")
    )
}

/// `FOREIGN KEY (c) REFERENCES t (k) ON DELETE ...`.
pub(crate) fn foreign_key_clause(dialect: &dyn Dialect, fk: &crate::schema::ForeignKey) -> String {
    format!(
        "FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
        ident_list(dialect, &fk.columns),
        ident(dialect, &fk.target_table),
        ident_list(dialect, &fk.target_columns),
        fk.on_delete.as_sql()
    )
}

/// `CREATE [UNIQUE] INDEX name ON table (columns)`.
pub(crate) fn create_index(
    dialect: &dyn Dialect,
    table: &str,
    index: &crate::schema::Index,
) -> String {
    format!(
        "CREATE {}INDEX {} ON {} ({})",
        if index.unique { "UNIQUE " } else { "" },
        ident(dialect, &index.name),
        ident(dialect, table),
        ident_list(dialect, &index.columns)
    )
}

/// ` DEFAULT (expr)` or nothing.
pub(crate) fn default_clause(column: &Column) -> String {
    column
        .default
        .as_ref()
        .map(|d| format!(" DEFAULT ({d})"))
        .unwrap_or_default()
}

/// Reading introspection rows: every value is text, an integer, a boolean or NULL.
pub(crate) fn text(row: &[Value], i: usize) -> Option<String> {
    match row.get(i) {
        Some(Value::Text(s)) => Some(s.clone()),
        Some(Value::Integer(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer or boolean column as a number.
pub(crate) fn int(row: &[Value], i: usize) -> i64 {
    match row.get(i) {
        Some(Value::Integer(n)) => *n,
        Some(Value::Bool(b)) => i64::from(*b),
        _ => 0,
    }
}
