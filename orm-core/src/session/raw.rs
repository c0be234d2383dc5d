//! Raw SQL inside the session's transaction: statements of your own with bound values, read as
//! typed tuples, or as model objects entered into the identity map (SQLAlchemy's
//! `from_statement`).

use super::Session;
use crate::backend::Row;
use crate::database::{Action, Context};
use crate::error::{Error, Result};
use crate::model::{Handle, Model};
use crate::sql::Statement;
use crate::value::{SqlValue, Value};
use std::fmt;

/// A raw SQL statement with its bound values, built by [`Session::sql`].
///
/// Placeholders are the database's own: `?` on SQLite, `$1`, `$2`, ... on PostgreSQL
/// ([`Dialect::placeholder`](crate::backend::Dialect::placeholder) writes them). Values are
/// always bound, never spliced into the text.
#[must_use = "a raw statement does nothing until it is run"]
pub struct RawQuery<'s> {
    session: &'s mut Session,
    sql: String,
    params: Vec<Value>,
}

impl fmt::Debug for RawQuery<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawQuery")
            .field("sql", &self.sql)
            .field("params", &self.params.len())
            .finish()
    }
}

impl Session {
    /// A raw SQL statement to run in the session's transaction. Like a query, running it
    /// flushes pending changes first, so that it sees them.
    ///
    /// The guide's "In a service" chapter (`docs/src/service.md`) shows every way to run one.
    pub fn sql(&mut self, sql: impl Into<String>) -> RawQuery<'_> {
        RawQuery {
            session: self,
            sql: sql.into(),
            params: Vec::new(),
        }
    }
}

impl<'s> RawQuery<'s> {
    /// Binds the next placeholder to `value`: any column type, or a `&str`.
    pub fn bind(mut self, value: impl BindValue) -> Self {
        self.params.push(value.into_bound());
        self
    }

    /// Binds the next placeholder to a [`Value`].
    pub fn bind_value(mut self, value: Value) -> Self {
        self.params.push(value);
        self
    }

    fn statement(&mut self) -> Statement {
        Statement {
            sql: std::mem::take(&mut self.sql),
            params: std::mem::take(&mut self.params),
        }
    }

    /// Runs a write (`INSERT`, `UPDATE`, `DELETE`, DDL) in the session's transaction, beginning
    /// one if none is open, and returns the number of rows it changed. It is committed or
    /// rolled back with the session's other work.
    ///
    /// The session cannot know which of its objects the statement changed, so afterwards every
    /// object it holds reloads on next access (nothing unflushed is lost: it was flushed first).
    /// A read-only transaction refuses it ([`Error::ReadOnly`]).
    pub async fn execute(mut self) -> Result<u64> {
        let statement = self.statement();
        let session = self.session;
        session.flush().await?;
        if session.read_only {
            return Err(Error::ReadOnly {
                action: "running a raw write",
            });
        }
        let ctx = Context::new(Action::Update, "raw SQL");
        let tx = match session.tx.take() {
            Some(tx) => tx,
            None => session.db.begin().await?,
        };
        // Until the transaction is back, dropping this future loses it (see `flush_with`).
        session.tx_lost = true;
        let mut tx = tx;
        let outcome = session.db.execute_in(&mut tx, statement, ctx).await;
        session.tx = Some(tx);
        session.tx_lost = false;
        match outcome {
            Ok(outcome) => {
                session.expire_all();
                Ok(outcome.rows_affected)
            }
            Err(err) => {
                session.after_failure_in_tx().await;
                Err(err)
            }
        }
    }

    /// Every row, each as a [`Value`] per column.
    pub async fn fetch_values(mut self) -> Result<Vec<Row>> {
        let statement = self.statement();
        let session = self.session;
        session.autoflush().await?;
        session
            .fetch_in_tx(statement, Context::new(Action::Select, "raw SQL"))
            .await
    }

    /// Every row, decoded as `R`: a tuple of column types (`(i64, String)`, or `(i64,)` for
    /// one column).
    pub async fn fetch_all<R: FromRow>(self) -> Result<Vec<R>> {
        self.fetch_values()
            .await?
            .into_iter()
            .map(R::from_row)
            .collect()
    }

    /// The first row, if any, decoded as `R`.
    pub async fn fetch_optional<R: FromRow>(self) -> Result<Option<R>> {
        self.fetch_values()
            .await?
            .into_iter()
            .next()
            .map(R::from_row)
            .transpose()
    }

    /// The first row decoded as `R`; no row is [`Error::NotFound`].
    pub async fn fetch_one<R: FromRow>(self) -> Result<R> {
        self.fetch_optional().await?.ok_or(Error::NotFound {
            model: "raw SQL row",
        })
    }

    /// The first column of the first row (a `COUNT(*)`, a `MAX(...)`); no row is
    /// [`Error::NotFound`].
    pub async fn scalar<V: SqlValue>(self) -> Result<V> {
        let row = self
            .fetch_values()
            .await?
            .into_iter()
            .next()
            .ok_or(Error::NotFound {
                model: "raw SQL row",
            })?;
        let value = row.into_iter().next().ok_or(Error::RawShape {
            target: "a scalar",
            expected: 1,
            found: 0,
        })?;
        decode(0, value)
    }

    /// Loads objects of `T` from the rows (SQLAlchemy's `from_statement`): each row must hold
    /// `T`'s columns in declaration order (`SELECT * FROM` a table `create_all` made has them).
    /// Rows whose key the session already holds return that object, as a query does; the
    /// others enter the identity map.
    pub async fn load<T: Model>(self) -> Result<Vec<Handle<T>>> {
        self.session.register::<T>()?;
        let expected = T::META.columns.len();
        let session_id = self.session.id();
        let mut query = self;
        let statement = query.statement();
        let session = query.session;
        session.autoflush().await?;
        let rows = session
            .fetch_in_tx(statement, Context::new(Action::Select, T::META.table))
            .await?;
        if let Some(row) = rows.iter().find(|row| row.len() != expected) {
            return Err(Error::RawShape {
                target: T::META.name,
                expected,
                found: row.len(),
            });
        }
        let ids = session.merge_rows(T::META, rows, crate::model::build::<T>)?;
        Ok(ids
            .into_iter()
            .map(|id| Handle::new(session_id, id))
            .collect())
    }
}

/// A value that can be bound to a placeholder of a raw statement: every column type
/// ([`SqlValue`]), and `&str`.
pub trait BindValue {
    /// The value to bind.
    fn into_bound(self) -> Value;
}

impl<V: SqlValue> BindValue for V {
    fn into_bound(self) -> Value {
        self.to_value()
    }
}

impl BindValue for &str {
    fn into_bound(self) -> Value {
        Value::Text(self.to_owned())
    }
}

/// A row of a raw SQL result decoded into Rust values: tuples of up to eight
/// [`SqlValue`]s, each read from the column at its position.
pub trait FromRow: Sized {
    /// Decodes one row.
    fn from_row(row: Row) -> Result<Self>;
}

fn decode<V: SqlValue>(index: usize, value: Value) -> Result<V> {
    V::from_value(value).map_err(|source| Error::RawDecode { index, source })
}

fn check_width(row: &Row, expected: usize) -> Result<()> {
    if row.len() == expected {
        return Ok(());
    }
    Err(Error::RawShape {
        target: "the tuple",
        expected,
        found: row.len(),
    })
}

macro_rules! tuple_from_row {
    ($width:literal => $($name:ident $index:tt),+) => {
        impl<$($name: SqlValue),+> FromRow for ($($name,)+) {
            fn from_row(row: Row) -> Result<Self> {
                check_width(&row, $width)?;
                let mut values = row.into_iter();
                Ok(($(decode::<$name>($index, values.next().unwrap_or(Value::Null))?,)+))
            }
        }
    };
}

tuple_from_row!(1 => A 0);
tuple_from_row!(2 => A 0, B 1);
tuple_from_row!(3 => A 0, B 1, C 2);
tuple_from_row!(4 => A 0, B 1, C 2, D 3);
tuple_from_row!(5 => A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(6 => A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_row!(7 => A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_from_row!(8 => A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
