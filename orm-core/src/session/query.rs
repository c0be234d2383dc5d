//! Typed queries: filters, ordering, limits, counting, eager loading and bulk delete (D4), and
//! read-only results (owned values and column projections) that bypass the identity map.

use super::Session;
use crate::backend::Row;
use crate::column::{Column, Condition, Expr, Rel};
use crate::database::{Action, Context};
use crate::error::{Error, Result};
use crate::model::{Handle, Model, Relationship};
use crate::sql::{self, Window};
use crate::value::{SqlValue, Value};
use std::fmt;
use std::marker::PhantomData;
use tracing::Instrument;

/// A query over model `T`, built from [`Session::query`]. Every value is bound, never spliced.
pub struct Query<'s, T> {
    session: &'s mut Session,
    filters: Vec<Expr>,
    window: Window,
    eager: Vec<usize>,
    _model: PhantomData<fn() -> T>,
}

impl<T: Model> fmt::Debug for Query<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("model", &T::META.name)
            .field("filters", &self.filters)
            .finish()
    }
}

impl Session {
    /// Starts a query over `T`. Running it flushes pending changes first (autoflush).
    pub fn query<T: Model>(&mut self) -> Query<'_, T> {
        Query {
            session: self,
            filters: Vec::new(),
            window: Window::default(),
            eager: Vec::new(),
            _model: PhantomData,
        }
    }
}

impl<'s, T: Model> Query<'s, T> {
    /// Keeps rows matching `condition` (several filters are ANDed).
    pub fn filter(mut self, condition: Condition<T>) -> Self {
        self.filters.push(condition.expr);
        self
    }

    /// Keeps rows whose `column` equals `value`.
    pub fn filter_by<V: SqlValue>(self, column: Column<T, V>, value: impl Into<V>) -> Self {
        self.filter(column.eq(value))
    }

    /// Orders by `column`, ascending (call again for further keys).
    pub fn order_by<V>(mut self, column: Column<T, V>) -> Self {
        self.window.order.push((column.index(), false));
        self
    }

    /// Orders by `column`, descending.
    pub fn order_by_desc<V>(mut self, column: Column<T, V>) -> Self {
        self.window.order.push((column.index(), true));
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.window.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.window.offset = Some(n);
        self
    }

    /// Loads `rel` for every row returned, with one extra SELECT per chunk of keys (no N+1).
    pub fn load<R: Relationship>(mut self, rel: Rel<T, R>) -> Self {
        self.eager.push(rel.index());
        self
    }

    /// The filters as one expression, moved out of the query (a key list of 10,000 values is
    /// not copied).
    fn take_filter(&mut self) -> Option<Expr> {
        let mut filters = std::mem::take(&mut self.filters);
        match filters.len() {
            0 => None,
            1 => filters.pop(),
            _ => Some(Expr::And(filters)),
        }
    }

    /// Every matching row, read after an autoflush (what `all` and `all_owned` build from).
    async fn matching_rows(&mut self) -> Result<Vec<Row>> {
        let filter = self.take_filter();
        self.session.register::<T>()?;
        self.session.autoflush().await?;
        self.session
            .select_rows(T::META, filter.as_ref(), &self.window)
            .await
    }

    /// Refuses eager loading for a read that returns values, not session objects: there are no
    /// tracked objects for the related rows to be attached to.
    fn refuse_eager(&self, method: &str) -> Result<()> {
        match self.eager.first() {
            None => Ok(()),
            Some(&index) => Err(Error::Config {
                model: T::META.name,
                field: T::META.relationships[index].field,
                message: format!(
                    "`{method}` returns values that the session does not track, so it cannot \
                     eager-load relationships: drop `.load(..)` and query the related model \
                     with `{method}` too (filtering on the keys read), or use `all()` for \
                     tracked objects with their relationships loaded"
                ),
            }),
        }
    }

    /// Every matching row, as handles (rows already held keep their in-memory object).
    pub async fn all(self) -> Result<Vec<Handle<T>>> {
        let span = query_span::<T>("all");
        self.all_traced().instrument(span).await
    }

    async fn all_traced(mut self) -> Result<Vec<Handle<T>>> {
        let rows = self.matching_rows().await?;
        let session = self.session;
        let ids = session.merge_rows(T::META, rows, crate::model::build::<T>)?;
        for index in self.eager {
            session.load_relation_many(&ids, T::META, index).await?;
        }
        Ok(ids
            .into_iter()
            .map(|id| Handle::new(session.id(), id))
            .collect())
    }

    /// The first matching row, if any.
    pub async fn first(mut self) -> Result<Option<Handle<T>>> {
        self.window.limit = Some(1);
        Ok(self.all().await?.into_iter().next())
    }

    /// Exactly one matching row: [`Error::NotFound`] for none, [`Error::MultipleRows`] for several.
    pub async fn one(mut self) -> Result<Handle<T>> {
        self.window.limit = Some(2);
        exactly_one::<T, _>(self.all().await?)
    }

    /// Every matching row as an owned `T`, **not** entered into the session: for read-heavy
    /// code that only looks at the rows (an endpoint that serializes them), at close to the
    /// cost of hand-written SQL.
    ///
    /// Filters, order, limit and offset apply as for [`all`](Self::all), pending changes are
    /// flushed first (autoflush), and the read runs in the session's transaction if one is
    /// open, so it sees that transaction's writes. The values are built straight from the rows:
    /// relationship fields are empty and not loaded, and an object the session already holds
    /// for the same row is neither consulted nor changed (unflushed changes to it are flushed
    /// by the autoflush, or not seen with autoflush off). Changing a returned value changes
    /// nothing in the database: to change a row, write through a handle ([`Session::get`],
    /// [`all`](Self::all)).
    ///
    /// A value that does not fit its field is an [`Error::Decode`] naming the column. Eager
    /// loading does not apply to values the session does not track: a query with
    /// [`load`](Self::load) returns [`Error::Config`] (before any SQL). Load related rows with
    /// a second `all_owned` query filtered on the keys read:
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug)]
    /// # #[model(table = "users")]
    /// # pub struct User {
    /// #     #[column(primary_key)]
    /// #     pub id: Option<i64>,
    /// #     pub name: String,
    /// #     #[relationship(back_populates = "user")]
    /// #     pub addresses: HasMany<Address>,
    /// # }
    /// # #[derive(Model, Debug)]
    /// # #[model(table = "addresses")]
    /// # pub struct Address {
    /// #     #[column(primary_key)]
    /// #     pub id: Option<i64>,
    /// #     pub email: String,
    /// #     #[column(foreign_key = "users.id")]
    /// #     pub user_id: Option<i64>,
    /// #     #[relationship(back_populates = "addresses")]
    /// #     pub user: BelongsTo<User>,
    /// # }
    /// # async fn run(session: &mut Session) -> orm_core::Result<()> {
    /// let users: Vec<User> = session.query::<User>().order_by(User::NAME).all_owned().await?;
    /// let keys = users.iter().map(|u| u.id);
    /// let addresses: Vec<Address> = session
    ///     .query::<Address>()
    ///     .filter(Address::USER_ID.is_in(keys))
    ///     .all_owned()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn all_owned(self) -> Result<Vec<T>> {
        let span = query_span::<T>("all_owned");
        self.all_owned_traced().instrument(span).await
    }

    async fn all_owned_traced(mut self) -> Result<Vec<T>> {
        self.refuse_eager("all_owned")?;
        let rows = self.matching_rows().await?;
        // No key, no lookup, no box, no clone: each row's values move into its struct.
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(T::from_values(row)?);
        }
        Ok(out)
    }

    /// The first matching row as an owned `T` (see [`all_owned`](Self::all_owned)), if any.
    pub async fn first_owned(mut self) -> Result<Option<T>> {
        self.window.limit = Some(1);
        Ok(self.all_owned().await?.into_iter().next())
    }

    /// Exactly one matching row as an owned `T` (see [`all_owned`](Self::all_owned)):
    /// [`Error::NotFound`] for none, [`Error::MultipleRows`] for several.
    pub async fn one_owned(mut self) -> Result<T> {
        self.window.limit = Some(2);
        exactly_one::<T, _>(self.all_owned().await?)
    }

    /// Only the chosen `columns` of every matching row, typed by the column descriptors: a
    /// single column (`User::NAME`) gives its value, a tuple of up to 8 columns
    /// (`(User::ID, User::NAME)`) gives a tuple of their values. Nothing is entered into the
    /// session; like [`all_owned`](Self::all_owned), it autoflushes first, reads in the
    /// session's transaction if one is open, and refuses [`load`](Self::load).
    ///
    /// Only these columns are selected (`SELECT id, name FROM ...`). A value that does not fit
    /// its column's Rust type is an [`Error::Decode`] naming the column.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug)]
    /// # #[model(table = "users")]
    /// # pub struct User {
    /// #     #[column(primary_key)]
    /// #     pub id: Option<i64>,
    /// #     pub name: String,
    /// #     pub nickname: Option<String>,
    /// # }
    /// # async fn run(session: &mut Session) -> orm_core::Result<()> {
    /// let rows: Vec<(Option<i64>, String)> = session
    ///     .query::<User>()
    ///     .filter(User::NICKNAME.is_not_null())
    ///     .order_by(User::ID)
    ///     .all_columns((User::ID, User::NAME))
    ///     .await?;
    /// let names: Vec<String> = session.query::<User>().all_columns(User::NAME).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn all_columns<C: Columns<T>>(self, columns: C) -> Result<Vec<C::Output>> {
        let span = query_span::<T>("all_columns");
        self.all_columns_traced(columns).instrument(span).await
    }

    async fn all_columns_traced<C: Columns<T>>(mut self, columns: C) -> Result<Vec<C::Output>> {
        self.refuse_eager("all_columns")?;
        let filter = self.take_filter();
        let session = self.session;
        session.register::<T>()?;
        session.autoflush().await?;
        let indices = columns.indices();
        let statement = sql::select_columns(
            session.db.dialect(),
            T::META,
            &indices,
            filter.as_ref(),
            &self.window,
        );
        let rows = session
            .fetch_in_tx(statement, Context::new(Action::Select, T::META.table))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(columns.decode(row)?);
        }
        Ok(out)
    }

    /// The number of matching rows (after an autoflush, so pending changes count).
    pub async fn count(self) -> Result<u64> {
        let span = query_span::<T>("count");
        self.count_traced().instrument(span).await
    }

    async fn count_traced(mut self) -> Result<u64> {
        let filter = self.take_filter();
        let session = self.session;
        session.register::<T>()?;
        session.autoflush().await?;
        let statement = sql::count(session.db.dialect(), T::META, filter.as_ref());
        let rows = session
            .fetch_in_tx(statement, Context::new(Action::Select, T::META.table))
            .await?;
        match rows.first().and_then(|r| r.first()) {
            Some(Value::Integer(n)) => Ok(u64::try_from(*n).unwrap_or(0)),
            _ => Ok(0),
        }
    }

    /// Deletes every matching row WITH the ORM's cascades, set-based (D4): the matching keys are
    /// read (not the rows), loaded objects are reconciled, and each cascade level costs one
    /// statement per chunk (many-to-one and many-to-many `delete` cascades read the related
    /// keys first, with one SELECT per level).
    /// Returns how many rows of `T` were deleted. Runs as a flush (not committed).
    pub async fn delete(self) -> Result<u64> {
        let span = query_span::<T>("delete");
        self.delete_traced().instrument(span).await
    }

    async fn delete_traced(mut self) -> Result<u64> {
        let filter = self.take_filter();
        let session = self.session;
        session.register::<T>()?;
        session.autoflush().await?;
        // The window (order, limit, offset) chooses which rows go, as it would for `all()`.
        let keys = session
            .select_keys(T::META, filter.as_ref(), &self.window)
            .await?;
        let mut unloaded = Vec::new();
        let mut marked = Vec::new();
        for key in &keys {
            match session.arena.lookup(T::META, key) {
                Some(id) if !session.arena.entry(id).marked_delete => {
                    session.arena.entry_mut(id).marked_delete = true;
                    marked.push(id);
                }
                Some(_) => {}
                None => unloaded.push(key.clone()),
            }
        }
        let keys_held: Vec<crate::arena::Key> = unloaded
            .into_iter()
            .map(|k| k.into_iter().collect())
            .collect();
        let roots = crate::plan::planner::key_sets(T::META, keys_held);
        if let Err(err) = session.flush_with(roots).await {
            // Nothing was deleted: the objects this call marked are not marked any more.
            for id in marked {
                if let Some(entry) = session.arena.get_mut(id) {
                    entry.marked_delete = false;
                }
            }
            return Err(err);
        }
        Ok(keys.len() as u64)
    }
}

impl Session {
    async fn select_keys(
        &mut self,
        meta: &'static crate::meta::ModelMeta,
        filter: Option<&Expr>,
        window: &Window,
    ) -> Result<Vec<Vec<Value>>> {
        let statement =
            sql::select_columns(self.db.dialect(), meta, meta.primary_key, filter, window);
        self.fetch_in_tx(statement, Context::new(Action::Select, meta.table))
            .await
    }
}

/// The one row of a query of `T` limited to two: [`Error::NotFound`] for none,
/// [`Error::MultipleRows`] for two.
fn exactly_one<T: Model, V>(mut rows: Vec<V>) -> Result<V> {
    match rows.len() {
        0 => Err(Error::NotFound {
            model: T::META.name,
        }),
        1 => Ok(rows.remove(0)),
        _ => Err(Error::MultipleRows {
            model: T::META.name,
        }),
    }
}

/// The span of one query (target `orm::session`): the model, its table and the method run.
fn query_span<T: Model>(method: &'static str) -> tracing::Span {
    tracing::info_span!(
        target: "orm::session",
        "orm.query",
        model = T::META.name,
        table = T::META.table,
        method,
    )
}

mod sealed {
    /// Keeps [`Columns`](super::Columns) implemented only here.
    pub trait Sealed<M> {}
}

/// The columns a projection query reads ([`Query::all_columns`]): one typed column
/// (`User::NAME`, read as its value) or a tuple of 1 to 8 typed columns of the same model
/// (`(User::ID, User::NAME)`, read as a tuple). Implemented for those types only.
pub trait Columns<M>: sealed::Sealed<M> {
    /// What one row reads as: the column's Rust type, or a tuple of them.
    type Output;

    /// The column indices to select, in order.
    #[doc(hidden)]
    fn indices(&self) -> Vec<usize>;

    /// Reads one row of the selected columns.
    #[doc(hidden)]
    fn decode(&self, row: Row) -> Result<Self::Output>;
}

/// Reads column `index` of `M` from `value`; a mismatch names the column.
fn decode_column<M: Model, V: SqlValue>(index: usize, value: Option<Value>) -> Result<V> {
    V::from_value(value.unwrap_or(Value::Null)).map_err(|source| Error::Decode {
        model: M::META.name,
        column: M::META.columns.get(index).map_or(M::META.table, |c| c.name),
        source,
    })
}

impl<M: Model, V: SqlValue> sealed::Sealed<M> for Column<M, V> {}

impl<M: Model, V: SqlValue> Columns<M> for Column<M, V> {
    type Output = V;

    fn indices(&self) -> Vec<usize> {
        vec![self.index()]
    }

    fn decode(&self, row: Row) -> Result<V> {
        decode_column::<M, V>(self.index(), row.into_iter().next())
    }
}

macro_rules! tuple_columns {
    ($($v:ident $i:tt),+) => {
        impl<M: Model, $($v: SqlValue),+> sealed::Sealed<M> for ($(Column<M, $v>,)+) {}

        impl<M: Model, $($v: SqlValue),+> Columns<M> for ($(Column<M, $v>,)+) {
            type Output = ($($v,)+);

            fn indices(&self) -> Vec<usize> {
                vec![$(self.$i.index()),+]
            }

            fn decode(&self, row: Row) -> Result<Self::Output> {
                let mut values = row.into_iter();
                Ok(($(decode_column::<M, $v>(self.$i.index(), values.next())?,)+))
            }
        }
    };
}

tuple_columns!(A 0);
tuple_columns!(A 0, B 1);
tuple_columns!(A 0, B 1, C 2);
tuple_columns!(A 0, B 1, C 2, D 3);
tuple_columns!(A 0, B 1, C 2, D 3, E 4);
tuple_columns!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_columns!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_columns!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
