//! What differs between databases, as behaviour: a backend implements [`Dialect`] and overrides
//! what its database spells differently; the rendering functions call these methods and never
//! branch on which database they render for.

use super::SqlBuilder;
use crate::value::SqlType;
use std::fmt;

/// How SQL is written for one database. The provided methods render standard SQL that SQLite
/// (3.35 or later) and PostgreSQL both accept; a dialect overrides the ones its database spells
/// differently (see "Adding a backend" in `docs/dev/architecture.md`).
pub trait Dialect: fmt::Debug + Send + Sync + 'static {
    /// A name for messages and logs.
    fn name(&self) -> &'static str;

    /// Writes the placeholder of bound parameter `number` (counted from 1).
    fn placeholder(&self, sql: &mut String, number: usize);

    /// The most bound parameters one statement may carry; key lists are chunked under it.
    fn max_params(&self) -> usize;

    /// The SQL type name of a column type.
    fn type_name(&self, ty: SqlType) -> &'static str;

    /// The column definition of a database-generated integer primary key.
    fn generated_key(&self) -> &'static str;

    /// What `LIMIT` says for "no limit", for an `OFFSET` without a limit where the database
    /// requires a `LIMIT` before it.
    fn no_limit(&self) -> &'static str;

    /// Writes a quoted identifier (ANSI double quotes, embedded quotes doubled).
    fn quote_identifier(&self, sql: &mut String, name: &str) {
        sql.push('"');
        sql.push_str(&name.replace('"', "\"\""));
        sql.push('"');
    }

    /// Whether a multi-row INSERT into a table with a generated integer key assigns consecutive
    /// keys ending at the connection's last insert id. Then generated keys are computed from it;
    /// otherwise they are read back with `INSERT ... RETURNING` (a database without RETURNING
    /// must answer `true` here).
    fn consecutive_insert_ids(&self) -> bool {
        false
    }

    /// `SAVEPOINT name`: later flushes of a transaction run under one, so that a failed flush
    /// undoes only itself.
    fn savepoint(&self, b: &mut SqlBuilder, name: &str) {
        b.push("SAVEPOINT ").ident(name);
    }

    /// `RELEASE SAVEPOINT name`.
    fn release_savepoint(&self, b: &mut SqlBuilder, name: &str) {
        b.push("RELEASE SAVEPOINT ").ident(name);
    }

    /// `ROLLBACK TO SAVEPOINT name`.
    fn rollback_to_savepoint(&self, b: &mut SqlBuilder, name: &str) {
        b.push("ROLLBACK TO SAVEPOINT ").ident(name);
    }

    /// The source of a multi-row UPDATE, joined on the key as `alias.column1` (the key) and
    /// `alias.column2...` (the values): `FROM (VALUES (?, ?), ...) AS alias`. `types` are the
    /// SQL types of the key and the value columns, in that order.
    fn update_from_values(
        &self,
        b: &mut SqlBuilder,
        types: &[SqlType],
        rows: &[(crate::Value, Vec<crate::Value>)],
        alias: &str,
    ) {
        values_source(b, types, rows, alias, false);
    }

    /// Whether `CREATE TABLE` may declare a foreign key into a table that does not exist yet
    /// (SQLite resolves references when rows are written). Where it may not, a foreign key into
    /// a table created later (tables that reference each other) is added afterwards with
    /// `ALTER TABLE ... ADD CONSTRAINT`.
    fn forward_references(&self) -> bool {
        false
    }

    /// Whether a failed statement aborts the whole transaction it ran in (PostgreSQL: every
    /// later statement fails until a rollback), rather than only itself (SQLite).
    fn error_aborts_transaction(&self) -> bool {
        false
    }

    /// The start of a recursive common table expression (`WITH RECURSIVE`), with which a whole
    /// self-referential subtree is found in one statement.
    fn with_recursive(&self) -> &'static str {
        "WITH RECURSIVE "
    }
}

/// Writes `FROM (VALUES (...), ...) AS alias`; with `cast_first_row`, the first row's
/// placeholders are cast to `types`, which then types the whole VALUES list (a database that
/// types parameters needs it: a NULL parameter alone would be resolved as text).
pub fn values_source(
    b: &mut SqlBuilder,
    types: &[SqlType],
    rows: &[(crate::Value, Vec<crate::Value>)],
    alias: &str,
    cast_first_row: bool,
) {
    b.push(" FROM (VALUES ");
    b.list(rows.iter().enumerate(), |b, (index, (key, values))| {
        let cast = cast_first_row && index == 0;
        b.push("(");
        for (column, value) in std::iter::once(key).chain(values).enumerate() {
            if column > 0 {
                b.push(", ");
            }
            match types.get(column).filter(|_| cast) {
                Some(&ty) => {
                    let name = b.dialect.type_name(ty);
                    b.push("CAST(").param(value.clone());
                    b.push(" AS ").push(name).push(")");
                }
                None => {
                    b.param(value.clone());
                }
            }
        }
        b.push(")");
    });
    b.push(") AS ").ident(alias);
}

/// SQLite 3.35 or later (for `RETURNING`).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Sqlite;

/// The SQLite dialect.
pub static SQLITE: Sqlite = Sqlite;

impl Dialect for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn placeholder(&self, sql: &mut String, _number: usize) {
        sql.push('?');
    }

    fn max_params(&self) -> usize {
        // SQLITE_MAX_VARIABLE_NUMBER defaults to 32766 since SQLite 3.32.
        32_766
    }

    fn type_name(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::Integer => "INTEGER",
            SqlType::Real => "REAL",
            SqlType::Text => "TEXT",
            SqlType::Blob => "BLOB",
            SqlType::Boolean => "BOOLEAN",
        }
    }

    fn generated_key(&self) -> &'static str {
        "INTEGER PRIMARY KEY"
    }

    fn no_limit(&self) -> &'static str {
        "-1"
    }

    fn consecutive_insert_ids(&self) -> bool {
        true
    }

    fn forward_references(&self) -> bool {
        true
    }
}

/// PostgreSQL 12 or later (the `orm-postgres` backend).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Postgres;

/// The PostgreSQL dialect.
pub static POSTGRES: Postgres = Postgres;

impl Dialect for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn placeholder(&self, sql: &mut String, number: usize) {
        sql.push('$');
        sql.push_str(&number.to_string());
    }

    fn max_params(&self) -> usize {
        65_535
    }

    fn type_name(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::Integer => "BIGINT",
            SqlType::Real => "DOUBLE PRECISION",
            SqlType::Text => "TEXT",
            SqlType::Blob => "BYTEA",
            SqlType::Boolean => "BOOLEAN",
        }
    }

    fn generated_key(&self) -> &'static str {
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    }

    fn no_limit(&self) -> &'static str {
        "ALL"
    }

    fn error_aborts_transaction(&self) -> bool {
        true
    }

    fn update_from_values(
        &self,
        b: &mut SqlBuilder,
        types: &[SqlType],
        rows: &[(crate::Value, Vec<crate::Value>)],
        alias: &str,
    ) {
        // Parameters are typed by their context; in a VALUES list the only context is the
        // list itself, so the first row says the column types.
        values_source(b, types, rows, alias, true);
    }
}
