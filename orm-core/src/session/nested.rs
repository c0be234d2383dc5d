//! Savepoint scopes inside the session's transaction (SQLAlchemy's `begin_nested`): the work of
//! a scope that fails is rolled back alone, and the session's objects return to their state at
//! the scope's start.
//!
//! A scope whose future is dropped before it ends (a cancelled request) is rolled back by the
//! session's next call that touches the database (`Session::settle`): until then the database
//! still holds its work, and so does the session, so both tell the same story at every point.

use super::Session;
use crate::arena::{Key, ObjectState};
use crate::backend::BoxFuture;
use crate::error::{Error, Result};
use crate::model::ObjId;
use crate::sql::SavepointStep;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// An open scope of the session's transaction.
pub(crate) struct Scope {
    id: u64,
    savepoint: String,
    /// Cleared when the future running the scope is dropped before the scope ended.
    alive: Arc<AtomicBool>,
    /// A failure aborted the transaction inside the scope, which was rolled back to its
    /// savepoint then (the savepoint is kept, so later work in it is rolled back too).
    aborted: bool,
    start: ScopeStart,
}

/// What the session held when a scope began (right after a flush, so nothing was unflushed).
struct ScopeStart {
    /// The state and primary key of each object held then, by id; objects with a later id
    /// were added inside the scope (ids are never reused).
    held: Vec<Option<(ObjectState, Option<Key>)>>,
    /// `flushed_deleted` entries from here on were deleted inside the scope.
    deleted: usize,
}

/// Marks a scope dropped unless the future running it got to its end.
struct ScopeGuard {
    id: u64,
    alive: Arc<AtomicBool>,
    ended: bool,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        if !self.ended {
            self.alive.store(false, Ordering::Release);
        }
    }
}

impl Session {
    /// Runs `work` in a savepoint of the session's transaction (beginning the transaction if
    /// none is open). If `work` returns `Ok`, the savepoint is released and its changes stay in
    /// the transaction, to be committed with it. If it returns `Err`, the database rolls back
    /// to the savepoint and the session's objects return to their state at the scope's start:
    /// objects added in it leave the session, objects deleted in it come back, and every object
    /// reloads on next access. The rest of the transaction is kept.
    ///
    /// Pending changes are flushed first, so that the scope starts from a clean state. Scopes
    /// nest. Committing inside a scope is refused ([`Error::InNestedScope`]). Beginning a scope
    /// records the state and key of each object the session holds (one copy of each key).
    ///
    /// The guide's "In a service" chapter (`docs/src/service.md`) has a worked example.
    pub async fn nested<T, E, F>(&mut self, work: F) -> std::result::Result<T, E>
    where
        F: for<'s> FnOnce(&'s mut Session) -> BoxFuture<'s, std::result::Result<T, E>> + Send,
        E: From<Error> + Send,
        T: Send,
    {
        let mut guard = self.open_scope().await?;
        let result = work(self).await;
        let closed = self.close_scope(guard.id, result.is_ok()).await;
        guard.ended = true;
        match (result, closed) {
            (Err(err), _) => Err(err),
            (Ok(_), Err(err)) => Err(err.into()),
            (Ok(value), Ok(())) => Ok(value),
        }
    }

    /// Flushes, begins the transaction if needed, takes the savepoint and records the start.
    async fn open_scope(&mut self) -> Result<ScopeGuard> {
        self.flush().await?;
        if self.tx.is_none() {
            let tx = self.db.begin().await?;
            self.tx = Some(tx);
        }
        self.next_scope += 1;
        let id = self.next_scope;
        let savepoint = format!("orm_nested_{id}");
        let Some(tx) = self.tx.as_mut() else {
            return Err(Error::TransactionLost);
        };
        if let Err(err) = self
            .db
            .savepoint(tx, SavepointStep::Begin, &savepoint)
            .await
        {
            self.after_failure_in_tx().await;
            return Err(err);
        }
        let alive = Arc::new(AtomicBool::new(true));
        let start = self.scope_start();
        self.scopes.push(Scope {
            id,
            savepoint,
            alive: alive.clone(),
            aborted: false,
            start,
        });
        Ok(ScopeGuard {
            id,
            alive,
            ended: false,
        })
    }

    fn scope_start(&self) -> ScopeStart {
        let objects = self.arena.slots();
        let mut held = vec![None; objects];
        for id in self.arena.ids() {
            let entry = self.arena.entry(id);
            held[id.0 as usize] = Some((entry.state, entry.key()));
        }
        ScopeStart {
            held,
            deleted: self.flushed_deleted.len(),
        }
    }

    /// Ends scope `id`: releases its savepoint if its work succeeded (and no failure aborted
    /// it), else rolls back to it. A scope that is gone (the transaction ended inside it) has
    /// nothing left to end.
    async fn close_scope(&mut self, id: u64, succeeded: bool) -> Result<()> {
        let Some(position) = self.scopes.iter().position(|s| s.id == id) else {
            return Ok(());
        };
        // Scopes begun inside this one and not ended (dropped futures) end with it.
        let scope = self
            .scopes
            .drain(position..)
            .next()
            .ok_or(Error::TransactionLost)?;
        if succeeded && !scope.aborted {
            let Some(tx) = self.tx.as_mut() else {
                return Err(Error::TransactionLost);
            };
            match self
                .db
                .savepoint(tx, SavepointStep::Release, &scope.savepoint)
                .await
            {
                Ok(()) => return Ok(()),
                // A failure the scope did not report left the transaction aborted: the scope's
                // work cannot be kept.
                Err(err) => {
                    self.roll_back_scope(&scope, true).await?;
                    return Err(err);
                }
            }
        }
        self.roll_back_scope(&scope, true).await?;
        if succeeded {
            return Err(Error::ScopeAborted);
        }
        Ok(())
    }

    /// Rolls the database back to `scope`'s savepoint (releasing it too if `release`) and the
    /// session back to the scope's start. If the database cannot be brought back there, the
    /// whole transaction is given up, as after a rollback, and the failure is returned.
    async fn roll_back_scope(&mut self, scope: &Scope, release: bool) -> Result<()> {
        let Some(mut tx) = self.tx.take() else {
            return Ok(());
        };
        // Dropped while rolling back, the transaction goes with the future: the session then
        // forgets it (see `recover_lost_transaction`).
        self.tx_lost = true;
        let mut undone = self
            .db
            .savepoint(&mut tx, SavepointStep::RollBack, &scope.savepoint)
            .await;
        if undone.is_ok() && release {
            undone = self
                .db
                .savepoint(&mut tx, SavepointStep::Release, &scope.savepoint)
                .await;
        }
        self.tx_lost = false;
        match undone {
            Ok(()) => {
                self.tx = Some(tx);
                self.restore_scope_start(&scope.start);
                Ok(())
            }
            Err(err) => {
                let _ = self.db.end(tx, crate::sql::TransactionEnd::Rollback).await;
                self.discard_transaction();
                Err(err)
            }
        }
    }

    /// The session's side of rolling back to a scope's savepoint.
    fn restore_scope_start(&mut self, start: &ScopeStart) {
        self.arena.detached_new.clear();
        self.arena.lost_parents.clear();
        // Objects deleted inside the scope get their state back with every other object's.
        self.flushed_deleted.truncate(start.deleted);
        let ids: Vec<ObjId> = self.arena.ids().collect();
        for id in ids {
            match start.held.get(id.0 as usize) {
                Some(Some((state, key))) => self.restore_object(id, *state, key.as_ref()),
                _ => {
                    self.arena.remove(id);
                }
            }
        }
    }

    /// Puts back an object's state and key at a scope's start; its columns and relationships
    /// reload on next access.
    fn restore_object(&mut self, id: ObjId, state: ObjectState, key: Option<&Key>) {
        self.arena.forget_key(id);
        let entry = self.arena.entry_mut(id);
        entry.snapshot = None;
        entry.marked_delete = false;
        entry.state = state;
        if let Some(key) = key {
            let meta = entry.meta();
            for (&column, value) in meta.primary_key.iter().zip(key.iter()) {
                let _ = entry.obj.set_column_value(column, value.clone());
            }
        }
        if state == ObjectState::Persistent {
            self.arena.register_key(id);
        }
        self.expire_id(id);
    }

    /// Rolls back scopes whose futures were dropped before they ended: the outermost one and
    /// everything begun inside it.
    pub(crate) async fn roll_back_dropped_scopes(&mut self) -> Result<()> {
        let Some(position) = self
            .scopes
            .iter()
            .position(|s| !s.alive.load(Ordering::Acquire))
        else {
            return Ok(());
        };
        let Some(scope) = self.scopes.drain(position..).next() else {
            return Ok(());
        };
        self.roll_back_scope(&scope, true).await
    }

    /// Whether a scope is running (its future not dropped).
    pub(crate) fn in_live_scope(&self) -> bool {
        self.scopes.iter().any(|s| s.alive.load(Ordering::Acquire))
    }

    /// After a statement failed in the open transaction where that aborts the transaction
    /// (PostgreSQL): the innermost running scope is rolled back to its savepoint (and reports
    /// the failure when it ends); without one, the whole session rolls back.
    pub(crate) async fn after_failure_in_tx(&mut self) {
        if self.tx.is_none() || !self.db.dialect().error_aborts_transaction() {
            return;
        }
        let innermost = self
            .scopes
            .iter()
            .rposition(|s| s.alive.load(Ordering::Acquire));
        let Some(position) = innermost else {
            let _ = self.rollback().await;
            return;
        };
        // Dropped scopes inside it go with it.
        self.scopes.truncate(position + 1);
        let Some(mut scope) = self.scopes.pop() else {
            return;
        };
        if self.roll_back_scope(&scope, false).await.is_ok() {
            scope.aborted = true;
            self.scopes.push(scope);
        }
    }
}
