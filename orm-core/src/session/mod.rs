//! The async session: an identity map of objects reached through typed handles, and a unit of
//! work that flushes their changes as one planned, set-based transaction.
//!
//! Pipeline of a flush (see `flush/`): collect (save-update cascade) -> plan (pure, in
//! `crate::plan`) -> execute (one transaction, all or nothing) -> apply (keys, states, collections).

mod access;
mod assign;
mod collect;
mod flush;
mod load;
mod members;
mod nested;
mod query;
mod raw;
mod single_parent;
mod transaction;

pub use crate::arena::ObjectState;
pub use access::RelationValue;
pub use query::Columns;
pub use query::Query;
pub use raw::{BindValue, FromRow, RawQuery};

use crate::arena::{Arena, Entry};
use crate::backend::Transaction;
use crate::database::Database;
use crate::error::{Error, Result};
use crate::model::{Handle, Model, ObjId};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use tracing::Instrument;

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// A unit of work on one database. `Send`: use one per task, also inside `tokio::spawn`.
pub struct Session {
    id: u64,
    db: Database,
    arena: Arena,
    tx: Option<Box<dyn Transaction>>,
    /// A later flush took the open transaction out and was dropped (a cancelled future) before
    /// putting it back: the transaction, and every write of it, is gone.
    tx_lost: bool,
    /// Objects deleted by a flush of the open transaction (detached at commit, revived at rollback).
    flushed_deleted: Vec<ObjId>,
    expire_on_commit: bool,
    autoflush: bool,
    /// The open transaction was begun read-only: flushes and raw writes are refused.
    read_only: bool,
    /// Open savepoint scopes of `Session::nested`, outermost first.
    scopes: Vec<nested::Scope>,
    /// Numbers the scopes' savepoints.
    next_scope: u64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("objects", &self.arena.iter().count())
            .field("in_transaction", &self.tx.is_some())
            .finish()
    }
}

/// A primary key value (or tuple of values for composite keys), for [`Session::get`].
pub trait IntoKey {
    /// The key's column values, in primary-key order.
    fn into_key(self) -> Vec<crate::Value>;
}

impl<T: crate::SqlValue> IntoKey for T {
    fn into_key(self) -> Vec<crate::Value> {
        vec![self.to_value()]
    }
}

impl IntoKey for &str {
    fn into_key(self) -> Vec<crate::Value> {
        vec![crate::Value::Text(self.to_owned())]
    }
}

impl<A: crate::SqlValue, B: crate::SqlValue> IntoKey for (A, B) {
    fn into_key(self) -> Vec<crate::Value> {
        vec![self.0.to_value(), self.1.to_value()]
    }
}

// Defined here, not in `database.rs`, so that the database layer does not know the session.
impl Database {
    /// A new session on this database.
    pub fn session(&self) -> Session {
        Session::new(self.clone())
    }
}

impl Session {
    pub(crate) fn new(db: Database) -> Self {
        Session {
            id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
            db,
            arena: Arena::default(),
            tx: None,
            tx_lost: false,
            flushed_deleted: Vec::new(),
            expire_on_commit: true,
            autoflush: true,
            read_only: false,
            scopes: Vec::new(),
            next_scope: 0,
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The database this session works on.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Whether `commit` expires every object (the default, as in SQLAlchemy): the next access
    /// reloads it, so other transactions' changes become visible.
    pub fn set_expire_on_commit(&mut self, expire: bool) {
        self.expire_on_commit = expire;
    }

    /// Whether queries and relationship loads flush pending changes first (the default).
    pub fn set_autoflush(&mut self, autoflush: bool) {
        self.autoflush = autoflush;
    }

    pub(crate) fn insert_pending(&mut self, obj: Box<dyn crate::model::AnyModel>) -> ObjId {
        let id = self.arena.insert(Entry {
            obj,
            state: ObjectState::Pending,
            marked_delete: false,
            snapshot: None,
            expired: false,
            added_in_tx: true,
            written_relations: None,
            before_tx: None,
        });
        // A new object's relationships are known: they hold exactly what it was built with.
        let meta = self.arena.entry(id).meta();
        for index in 0..meta.relationships.len() {
            self.arena.entry_mut(id).obj.relation_mut(index).loaded = true;
        }
        id
    }

    /// Checks that a handle belongs to this session and its object is still held.
    pub(crate) fn check<T: Model>(&self, handle: Handle<T>) -> Result<ObjId> {
        if handle.session != self.id {
            return Err(Error::ForeignHandle {
                model: T::META.name,
            });
        }
        match self.arena.get(handle.id) {
            Some(entry) if entry.state == ObjectState::Deleted => Err(Error::Unavailable {
                model: T::META.name,
                key: entry.describe_key(),
                state: "deleted",
            }),
            Some(_) => Ok(handle.id),
            None => Err(Error::Unavailable {
                model: T::META.name,
                key: "(unknown)".into(),
                state: "detached",
            }),
        }
    }

    /// The state of the object behind `handle` (a handle of another session is `Detached` here).
    pub fn state<T: Model>(&self, handle: Handle<T>) -> ObjectState {
        if handle.session != self.id {
            return ObjectState::Detached;
        }
        self.arena
            .get(handle.id)
            .map_or(ObjectState::Detached, |e| e.state)
    }

    /// Finds an object by primary key: from the identity map if held (the same row is always the
    /// same handle), else with one SELECT.
    pub async fn get<T: Model>(&mut self, key: impl IntoKey) -> Result<Option<Handle<T>>> {
        self.register::<T>()?;
        let key = key.into_key();
        let held = self.arena.lookup(T::META, &key);
        if held.is_none_or(|id| self.arena.entry(id).expired) {
            self.autoflush().await?;
        }
        let id = self
            .find_key(T::META, &key, crate::model::build::<T>)
            .await?;
        Ok(id.map(|id| Handle::new(self.id, id)))
    }

    /// Reads an object, reloading it first if it was expired.
    pub async fn read<T: Model>(&mut self, handle: Handle<T>) -> Result<&T> {
        let id = self.ready(handle).await?;
        self.arena
            .entry(id)
            .obj
            .as_any()
            .downcast_ref::<T>()
            .ok_or(Error::ForeignHandle {
                model: T::META.name,
            })
    }

    /// Writes an object; the next flush UPDATEs the columns that changed. A relationship field
    /// assigned through the returned reference replaces its members at the next flush (the old
    /// ones are removed, with their cascades; the new ones appended).
    pub async fn write<T: Model>(&mut self, handle: Handle<T>) -> Result<&mut T> {
        let id = self.ready(handle).await?;
        let entry = self.arena.entry_mut(id);
        entry.before_write();
        entry
            .obj
            .as_any_mut()
            .downcast_mut::<T>()
            .ok_or(Error::ForeignHandle {
                model: T::META.name,
            })
    }

    async fn ready<T: Model>(&mut self, handle: Handle<T>) -> Result<ObjId> {
        let id = self.check(handle)?;
        if self.arena.entry(id).expired {
            self.reload(id).await?;
        }
        Ok(id)
    }

    /// Marks an object for deletion at the next flush; its cascades are decided then (D7).
    /// Deleting a pending object just drops it (it is never inserted).
    pub fn delete<T: Model>(&mut self, handle: Handle<T>) -> Result<()> {
        let id = self.check(handle)?;
        self.arena.entry_mut(id).marked_delete = true;
        Ok(())
    }

    /// Writes pending changes to the database in one transaction (all or nothing).
    pub async fn flush(&mut self) -> Result<()> {
        self.flush_with(Vec::new()).await
    }

    pub(crate) async fn autoflush(&mut self) -> Result<()> {
        if self.autoflush {
            self.flush().await?;
        }
        Ok(())
    }

    /// Runs a read in the session's transaction (if any). Where a failed statement aborts the
    /// transaction (PostgreSQL), the session rolls back with it, as [`Session::rollback`]
    /// would, so that it never claims writes the database has thrown away.
    pub(crate) async fn fetch_in_tx(
        &mut self,
        statement: crate::sql::Statement,
        ctx: crate::database::Context,
    ) -> Result<Vec<crate::backend::Row>> {
        self.settle().await?;
        let result = self.db.fetch(self.tx.as_mut(), statement, ctx).await;
        if result.is_err() {
            self.after_failure_in_tx().await;
        }
        result
    }

    /// Brings the session in line with its transaction before it uses the database again: a
    /// transaction lost with a dropped future is forgotten ([`Error::TransactionLost`]), and
    /// scopes of [`Session::nested`] whose futures were dropped are rolled back.
    pub(crate) async fn settle(&mut self) -> Result<()> {
        self.recover_lost_transaction()?;
        self.roll_back_dropped_scopes().await
    }

    /// After a future that held the open transaction was dropped, the transaction was rolled
    /// back with it: the session forgets what it had applied of it, as after a rollback, so that
    /// it tells the truth about the database again.
    ///
    /// The call that finds this out says so once, with [`Error::TransactionLost`].
    pub(crate) fn recover_lost_transaction(&mut self) -> Result<()> {
        if std::mem::take(&mut self.tx_lost) {
            self.tx = None;
            self.discard_transaction();
            return Err(Error::TransactionLost);
        }
        Ok(())
    }

    /// Flushes, commits, then (by default) expires every object so the next access reloads it.
    /// Objects deleted in the transaction become detached.
    pub async fn commit(&mut self) -> Result<()> {
        let span = tracing::info_span!(target: "orm::session", "orm.commit", session = self.id);
        self.commit_traced().instrument(span).await
    }

    async fn commit_traced(&mut self) -> Result<()> {
        self.flush().await?;
        if self.in_live_scope() {
            return Err(Error::InNestedScope { action: "commit" });
        }
        self.end_transaction();
        if let Some(tx) = self.tx.take() {
            // Dropped while committing, the outcome is unknown: the session then forgets the
            // transaction and reloads what it holds (it never claims writes that may be lost).
            self.tx_lost = true;
            let committed = self.db.end(tx, crate::sql::TransactionEnd::Commit).await;
            self.tx_lost = false;
            if let Err(failure) = committed {
                // The transaction is gone: the session forgets what it had written in it.
                self.discard_transaction();
                let ctx =
                    crate::database::Context::new(crate::database::Action::Transaction, "session");
                return Err(ctx.error(failure));
            }
        }
        for id in std::mem::take(&mut self.flushed_deleted) {
            self.arena.remove(id);
        }
        let ids: Vec<ObjId> = self.arena.ids().collect();
        for id in ids {
            let entry = self.arena.entry_mut(id);
            entry.added_in_tx = false;
            entry.before_tx = None;
            if self.expire_on_commit {
                self.expire_id(id);
            }
        }
        Ok(())
    }

    /// Rolls back the transaction: objects deleted in it become persistent again, objects added
    /// in it leave the session, every object is expired, pending deletions are forgotten.
    pub async fn rollback(&mut self) -> Result<()> {
        // A transaction already lost is rolled back all the same: nothing to report.
        let _ = self.recover_lost_transaction();
        if let Some(tx) = self.tx.take() {
            self.tx_lost = true; // dropped here, the transaction is rolled back all the same
            let _ = self.db.end(tx, crate::sql::TransactionEnd::Rollback).await;
            self.tx_lost = false;
        }
        self.discard_transaction();
        Ok(())
    }

    /// The session's side of a rollback: deleted objects come back, added ones leave, pending
    /// deletions are forgotten and everything reloads on next access.
    fn discard_transaction(&mut self) {
        self.end_transaction();
        self.arena.detached_new.clear();
        self.arena.lost_parents.clear();
        for id in self.arena.ids().collect::<Vec<_>>() {
            self.restore_before_transaction(id);
        }
        for id in std::mem::take(&mut self.flushed_deleted) {
            let entry = self.arena.entry_mut(id);
            if entry.added_in_tx {
                continue; // leaves the session below; it must not take a revived row's key
            }
            entry.state = ObjectState::Persistent;
            self.arena.register_key(id);
        }
        let ids: Vec<ObjId> = self.arena.ids().collect();
        for id in ids {
            if self.arena.entry(id).added_in_tx {
                self.arena.remove(id);
                continue;
            }
            self.arena.entry_mut(id).marked_delete = false;
            self.expire_id(id);
        }
    }

    /// What ends with the transaction, however it ends: its scopes and its access mode.
    fn end_transaction(&mut self) {
        self.scopes.clear();
        self.read_only = false;
    }

    /// Puts back the values an object's row had before this transaction (before its flushes, or
    /// an unflushed `write`, changed them), re-keying it in the identity map if its key changed.
    fn restore_before_transaction(&mut self, id: ObjId) {
        let entry = self.arena.entry_mut(id);
        let written = entry.snapshot.take();
        let Some(values) = entry.before_tx.take().or(written) else {
            return;
        };
        self.arena.forget_key(id);
        let entry = self.arena.entry_mut(id);
        for (column, value) in values.into_iter().enumerate() {
            let _ = entry.obj.set_column_value(column, value);
        }
        if entry.state == ObjectState::Persistent {
            self.arena.register_key(id);
        }
    }

    /// Expires an object: its columns reload on next access, its relationships reload too;
    /// related objects through `refresh-expire` cascades are expired as well.
    pub fn expire<T: Model>(&mut self, handle: Handle<T>) -> Result<()> {
        let id = self.check(handle)?;
        for id in self.cascade_closure(id, crate::meta::Cascade::REFRESH_EXPIRE) {
            self.expire_id(id);
        }
        Ok(())
    }

    /// Expires every object held by the session.
    pub fn expire_all(&mut self) {
        let ids: Vec<ObjId> = self.arena.ids().collect();
        for id in ids {
            self.expire_id(id);
        }
    }

    fn expire_id(&mut self, id: ObjId) {
        let entry = self.arena.entry_mut(id);
        if entry.state != ObjectState::Persistent {
            return;
        }
        entry.expired = true;
        // An assigned relationship is an unflushed change too: it is discarded. Only an object
        // written since the last flush can hold one.
        let written = entry.written_relations.take().is_some();
        for index in 0..entry.meta().relationships.len() {
            let slot = entry.obj.relation_mut(index);
            // New objects held here were not flushed (a flush adopts them): they go too.
            slot.loaded = false;
            slot.members.clear();
            slot.in_step();
        }
        if written {
            self.arena.stamp_slots(id);
        }
    }

    /// Reloads an object from the database now (and, through `refresh-expire`, expires the
    /// objects related to it). Unflushed changes to it are discarded.
    pub async fn refresh<T: Model>(&mut self, handle: Handle<T>) -> Result<()> {
        let id = self.check(handle)?;
        self.expire(handle)?;
        self.reload(id).await
    }

    /// Removes an object (and, through `expunge` cascades, related objects) from the session
    /// without touching the database; its handle becomes detached.
    pub fn expunge<T: Model>(&mut self, handle: Handle<T>) -> Result<()> {
        let id = self.check(handle)?;
        for id in self.cascade_closure(id, crate::meta::Cascade::EXPUNGE) {
            self.arena.remove(id);
            self.arena.drop_from_collections(id);
        }
        Ok(())
    }

    /// `id` and every loaded object reachable from it through relationships with `token`.
    fn cascade_closure(&self, id: ObjId, token: crate::meta::Cascade) -> Vec<ObjId> {
        let mut out = Vec::new();
        let mut work = vec![id];
        while let Some(id) = work.pop() {
            if out.contains(&id) || self.arena.get(id).is_none() {
                continue;
            }
            out.push(id);
            let entry = self.arena.entry(id);
            for (index, rel) in entry.meta().relationships.iter().enumerate() {
                if rel.cascade.contains(token) {
                    work.extend(entry.obj.relation(index).held());
                }
            }
        }
        out
    }
}
