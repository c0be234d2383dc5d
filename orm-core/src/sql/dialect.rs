//! What differs between databases, as behaviour: a backend implements [`Dialect`] and overrides
//! what its database spells differently; the rendering functions call these methods and never
//! branch on which database they render for.

use super::SqlBuilder;
use crate::column::CmpOp;
use crate::transaction::TxOptions;
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

    /// Opens a query that returns many rows as ONE value the database builds (a JSON array of
    /// rows, read back by `sql::packed::unpack`), where the driver's per-row cost is what a bulk
    /// read spends its time on: everything up to the inner SELECT, whose `columns` (named as
    /// the inner SELECT names them) are packed in `order` ((column, descending) pairs).
    /// `false`: the dialect reads rows one by one, and writes nothing.
    fn pack_rows_open(&self, b: &mut SqlBuilder, columns: &[&str], order: &[(&str, bool)]) -> bool {
        let _ = (b, columns, order);
        false
    }

    /// Closes what [`Dialect::pack_rows_open`] opened, after the inner SELECT.
    fn pack_rows_close(&self, b: &mut SqlBuilder) {
        let _ = b;
    }

    /// The statement that begins a transaction with `options` explicitly
    /// (`Session::begin`), where it is not the plain `BEGIN`.
    fn begin_statement(&self, options: &TxOptions) -> Option<&'static str> {
        let _ = options;
        None
    }

    /// The statement that sets a new transaction's isolation level and access mode, run right
    /// after it begins; `false` when the dialect has none (SQLite: always serializable, and
    /// read-only is enforced by the session).
    fn set_transaction(&self, b: &mut SqlBuilder, options: &TxOptions) -> bool {
        let _ = (b, options);
        false
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
        let _ = types; // a VALUES list takes its types from the values
        values_source(b, rows, alias);
    }

    /// `column IN (?, ?, ...)`: a predicate over a non-empty list of keys. A database that
    /// binds arrays renders the list as one parameter (one statement text for every length,
    /// planned once).
    fn key_list(&self, b: &mut SqlBuilder, column: &str, values: &[crate::Value]) {
        in_list(b, column, values);
    }

    /// `column op value`, evaluated exactly. A database that keeps less precision than the ORM
    /// carries rewrites the bound to one it keeps, with the result exact arithmetic gives.
    fn exact_comparison(&self, op: CmpOp, value: crate::Value) -> Comparison {
        Comparison::Compare(op, value)
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

/// How a comparison is written, once the dialect has made it exact.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Comparison {
    /// `column op value`.
    Compare(CmpOp, crate::Value),
    /// No stored value can satisfy it (`1 = 0`).
    Never,
    /// Every non-NULL value satisfies it (`column IS NOT NULL`).
    NotNull,
}

/// Writes `FROM (VALUES (?, ?), ...) AS alias`.
pub fn values_source(b: &mut SqlBuilder, rows: &[(crate::Value, Vec<crate::Value>)], alias: &str) {
    b.push(" FROM (VALUES ");
    b.list(rows.iter(), |b, (key, values)| {
        b.push("(").param(key.clone());
        for value in values {
            b.push(", ").param(value.clone());
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
            SqlType::Blob | SqlType::Uuid => "BLOB",
            SqlType::Boolean => "BOOLEAN",
            // Fixed-width text, whose order is time order (see `temporal`).
            SqlType::Date | SqlType::Time | SqlType::Timestamp | SqlType::TimestampTz => "TEXT",
            SqlType::Json | SqlType::Decimal => "TEXT",
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

    /// Up to half the parameter limit, `IN (?, ?, ...)`; beyond, where an IN-list could not be
    /// bound at all (`is_in` with 100,000 values, the guard or capture of a bulk delete), the
    /// keys go as one JSON array parameter, `IN (SELECT value FROM json_each(?))`: integers and
    /// text survive JSON exactly. Other keys (bytes) stay an IN-list.
    /// A read-write transaction begun explicitly is likely to read before it writes: it
    /// takes the write lock at once (waiting up to the busy timeout), because a deferred one
    /// that read first fails with `SQLITE_BUSY_SNAPSHOT` when it tries to write after another
    /// writer committed, however long it is willing to wait.
    /// sqlx's SQLite driver costs about 1 us per row (a worker thread, a message and several
    /// allocations per row), several times what SQLite spends stepping it: rows packed into one
    /// JSON value by SQLite come back 3-4x faster from a few dozen rows up. JSON cannot hold
    /// every value exactly, so a REAL goes as its 17-digit text in a one-element array (JSON
    /// numbers would keep 15 digits) and a BLOB as `{"b": hex}` (JSON has no bytes); the class
    /// is read per value, since a SQLite column can hold any class.
    fn pack_rows_open(&self, b: &mut SqlBuilder, columns: &[&str], order: &[(&str, bool)]) -> bool {
        b.push("SELECT json_group_array(json_array(");
        b.list(columns.iter(), |b, column| {
            b.push("CASE typeof(")
                .ident(column)
                .push(") WHEN 'real' THEN json_array(printf('%!.17g', ")
                .ident(column)
                .push(")) WHEN 'blob' THEN json_object('b', hex(")
                .ident(column)
                .push(")) ELSE ")
                .ident(column)
                .push(" END");
        });
        b.push(")");
        // The rows' order inside the array is the aggregate's input order unless it is said:
        // the inner ORDER BY (kept, for its LIMIT) is repeated here.
        if !order.is_empty() {
            b.push(" ORDER BY ");
            b.list(order.iter(), |b, (column, descending)| {
                b.ident(column)
                    .push(if *descending { " DESC" } else { " ASC" });
            });
        }
        b.push(") FROM (");
        true
    }

    fn pack_rows_close(&self, b: &mut SqlBuilder) {
        b.push(") AS ").ident("orm_rows");
    }

    fn begin_statement(&self, options: &TxOptions) -> Option<&'static str> {
        (!options.is_read_only()).then_some("BEGIN IMMEDIATE")
    }

    fn key_list(&self, b: &mut SqlBuilder, column: &str, values: &[crate::Value]) {
        if values.len() > self.max_params() / 2 {
            if let Some(array) = json_array(values) {
                b.ident(column).push(" IN (SELECT value FROM json_each(");
                b.param(crate::Value::Text(array)).push("))");
                return;
            }
        }
        in_list(b, column, values);
    }

    /// Grave accents, not double quotes: SQLite reads a double-quoted name that matches no
    /// column as a string literal (a model field missing from the table would read back as
    /// its own name, and filter as a constant). A name in grave accents is always a name, so a
    /// missing column is an error that names it.
    fn quote_identifier(&self, sql: &mut String, name: &str) {
        sql.push('`');
        sql.push_str(&name.replace('`', "``"));
        sql.push('`');
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
            SqlType::Uuid => "UUID",
            SqlType::Date => "DATE",
            SqlType::Time => "TIME",
            SqlType::Timestamp => "TIMESTAMP",
            SqlType::TimestampTz => "TIMESTAMPTZ",
            SqlType::Json => "JSONB",
            SqlType::Decimal => "NUMERIC",
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

    fn set_transaction(&self, b: &mut SqlBuilder, options: &TxOptions) -> bool {
        let mut modes = Vec::new();
        if let Some(level) = options.isolation_level() {
            modes.push(format!("ISOLATION LEVEL {}", level.as_sql()));
        }
        if options.is_read_only() {
            modes.push("READ ONLY".to_owned());
        }
        if modes.is_empty() {
            return false;
        }
        b.push("SET TRANSACTION ").push(&modes.join(", "));
        true
    }

    /// PostgreSQL keeps microseconds: a bound with a finer fraction is moved to the microsecond
    /// that gives the same answer over stored values (all whole microseconds).
    fn exact_comparison(&self, op: CmpOp, value: crate::Value) -> Comparison {
        use crate::Value;
        let (finer, rebuild): (i128, fn(i128) -> Value) = match value {
            Value::Time(n) => (i128::from(n), |n| Value::Time(n as u64)),
            Value::Timestamp(n) => (n.get(), |n| Value::Timestamp(n.into())),
            Value::TimestampTz(n) => (n.get(), |n| Value::TimestampTz(n.into())),
            other => return Comparison::Compare(op, other),
        };
        if finer.rem_euclid(1_000) == 0 {
            return Comparison::Compare(op, rebuild(finer));
        }
        let floor = finer - finer.rem_euclid(1_000);
        let ceil = floor + 1_000;
        match op {
            CmpOp::Gt | CmpOp::Le => Comparison::Compare(op, rebuild(floor)),
            CmpOp::Ge | CmpOp::Lt => Comparison::Compare(op, rebuild(ceil)),
            CmpOp::Eq => Comparison::Never,
            CmpOp::Ne => Comparison::NotNull,
        }
    }

    fn key_list(&self, b: &mut SqlBuilder, column: &str, values: &[crate::Value]) {
        match list_type(values) {
            Some(ty) => {
                b.ident(column).push(" = ANY(");
                b.param(crate::Value::List(ty, values.to_vec())).push(")");
            }
            None => {
                in_list(b, column, values);
            }
        }
    }

    /// `FROM UNNEST($1, $2, ...) AS alias(column1, column2, ...)`: one array per column, so
    /// the statement has as many parameters as columns whatever the number of rows.
    fn update_from_values(
        &self,
        b: &mut SqlBuilder,
        types: &[SqlType],
        rows: &[(crate::Value, Vec<crate::Value>)],
        alias: &str,
    ) {
        b.push(" FROM UNNEST(");
        for (column, &ty) in types.iter().enumerate() {
            let items = rows
                .iter()
                .map(|(key, values)| match column {
                    0 => key.clone(),
                    _ => values
                        .get(column - 1)
                        .cloned()
                        .unwrap_or(crate::Value::Null),
                })
                .collect();
            if column > 0 {
                b.push(", ");
            }
            b.param(crate::Value::List(ty, items));
        }
        b.push(") AS ").ident(alias).push("(");
        b.list(1..=types.len(), |b, n| {
            b.ident(&format!("column{n}"));
        });
        b.push(")");
    }
}

/// A JSON array of integer or text keys, if every key is one of those.
fn json_array(values: &[crate::Value]) -> Option<String> {
    use crate::Value;
    use std::fmt::Write as _;
    let mut out = String::with_capacity(values.len() * 8 + 2);
    out.push('[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match value {
            Value::Integer(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Text(text) => json_string(&mut out, text),
            _ => return None,
        }
    }
    out.push(']');
    Some(out)
}

/// Appends `text` as a JSON string.
fn json_string(out: &mut String, text: &str) {
    use std::fmt::Write as _;
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The SQL type shared by every value of a key list, if they share one (keys are never NULL;
/// floats and JSON are not keys).
fn list_type(values: &[crate::Value]) -> Option<SqlType> {
    let ty = values.first()?.sql_type()?;
    let keyable = !matches!(ty, SqlType::Real | SqlType::Json);
    (keyable && values.iter().all(|v| v.sql_type() == Some(ty))).then_some(ty)
}

/// `column IN (?, ?, ...)`, one parameter per value.
fn in_list(b: &mut SqlBuilder, column: &str, values: &[crate::Value]) {
    b.ident(column).push(" IN (");
    b.list(values.iter().cloned(), |b, v| {
        b.param(v);
    });
    b.push(")");
}
