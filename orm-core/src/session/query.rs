//! Typed queries: filters, ordering, limits, counting, eager loading and bulk delete (D4).

use super::Session;
use crate::column::{Column, Condition, Expr, Rel};
use crate::database::{Action, Context};
use crate::error::{Error, Result};
use crate::model::{Handle, Model, Relationship};
use crate::sql::{self, Window};
use crate::value::{SqlValue, Value};
use std::fmt;
use std::marker::PhantomData;

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

    fn filter_expr(&self) -> Option<Expr> {
        match self.filters.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            many => Some(Expr::And(many.to_vec())),
        }
    }

    /// Every matching row, as handles (rows already held keep their in-memory object).
    pub async fn all(self) -> Result<Vec<Handle<T>>> {
        let filter = self.filter_expr();
        let session = self.session;
        session.register::<T>()?;
        session.autoflush().await?;
        let rows = session
            .select_rows(T::META, filter.as_ref(), &self.window)
            .await?;
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
        let mut rows = self.all().await?;
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

    /// The number of matching rows (after an autoflush, so pending changes count).
    pub async fn count(self) -> Result<u64> {
        let filter = self.filter_expr();
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
        let filter = self.filter_expr();
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
