//! Flush: collect (cascade save-update) -> plan (pure) -> execute (one transaction) -> apply
//! (write keys, states and collections back into the session, only once every statement succeeded).

use super::Session;
use crate::arena::{ObjMap, ObjectState};
use crate::backend::Transaction;
use crate::database::{Action, Context};
use crate::error::{Error, Result};
use crate::meta::ModelMeta;
use crate::model::{Member, ObjId};
use crate::plan::rowset::RowSet;
use crate::plan::{planner, KeySrc, Plan, Step};
use crate::schema::{self, Resolved};
use crate::sql::{self, describe, rowset, SavepointStep};
use crate::value::Value;
use tracing::Instrument;
// Internal maps are keyed by object ids and keys: a fast hash beats SipHash's DoS resistance.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

mod apply;
mod execute;
mod preview;

/// What the database filled in during one flush, not yet written into the objects: generated
/// keys (which later statements of the flush refer to) and column defaults.
#[derive(Default)]
struct Generated {
    keys: ObjMap<Value>,
    defaults: ObjMap<Vec<(usize, Value)>>,
}

impl Generated {
    /// Records what the database returned for the `omitted` columns of `id`.
    fn record(&mut self, model: &ModelMeta, id: ObjId, omitted: &[usize], values: &[Value]) {
        let mut defaults = Vec::new();
        for (&column, value) in omitted.iter().zip(values) {
            if model.columns[column].generated {
                self.keys.insert(id, value.clone());
            } else {
                defaults.push((column, value.clone()));
            }
        }
        if !defaults.is_empty() {
            self.defaults.insert(id, defaults);
        }
    }
}

/// The savepoint every flush after the first of a transaction runs under.
const FLUSH_SAVEPOINT: &str = "orm_flush";

/// Key lists read by `Capture` steps, by slot.
type Captures = Vec<Vec<Value>>;

/// The non-NULL values of a one-column result, each once.
fn distinct_keys(rows: Vec<crate::backend::Row>) -> Vec<Value> {
    let mut seen = HashSet::default();
    rows.into_iter()
        .filter_map(|row| row.into_iter().next())
        .filter(|v| !v.is_null() && seen.insert(v.clone()))
        .collect()
}

/// The number a `SELECT COUNT(*)` returned.
fn count_of(rows: &[Vec<Value>]) -> i64 {
    match rows.first().and_then(|r| r.first()) {
        Some(Value::Integer(n)) => *n,
        _ => 0,
    }
}

impl Session {
    /// Flushes, with extra delete roots known only by key (from a bulk delete).
    pub(crate) async fn flush_with(&mut self, unloaded_roots: Vec<RowSet>) -> Result<()> {
        let span = tracing::info_span!(target: "orm::session", "orm.flush", session = self.id());
        self.flush_traced(unloaded_roots).instrument(span).await
    }

    async fn flush_traced(&mut self, unloaded_roots: Vec<RowSet>) -> Result<()> {
        self.settle().await?;
        self.adopt_assignments().await?;
        self.cascade_save_update()?;
        let plan = planner::plan_flush(&self.arena, unloaded_roots)?;
        if plan.is_empty() {
            return Ok(());
        }
        if self.read_only {
            return Err(Error::ReadOnly {
                action: "flushing changes",
            });
        }
        let fresh = self.tx.is_none();
        let mut tx = match self.tx.take() {
            Some(tx) => tx,
            None => self.db.begin().await?,
        };
        // Until the transaction is back in `self.tx`, dropping this future loses it (and the
        // earlier flushes' writes in it); a fresh one held nothing the session applied yet.
        self.tx_lost = !fresh;
        let result = self.execute_plan(&mut tx, &plan, fresh).await;
        match result {
            Ok((generated, captures)) => {
                self.tx = Some(tx);
                self.tx_lost = false;
                self.apply(plan, generated, &captures);
                Ok(())
            }
            Err(Failed { error, savepoint }) => {
                // A fresh transaction holds nothing but this flush: dropping it rolls it back.
                if fresh {
                    let _ = self.db.end(tx, crate::sql::TransactionEnd::Rollback).await;
                } else if self.undo_flush(&mut tx, savepoint).await {
                    self.tx = Some(tx);
                } else {
                    // The transaction cannot be brought back to where this flush began: give
                    // it up, and forget what the session had applied of it, as after a
                    // rollback, rather than commit an unknown state later.
                    let _ = self.db.end(tx, crate::sql::TransactionEnd::Rollback).await;
                    self.discard_transaction();
                }
                self.tx_lost = false;
                Err(error)
            }
        }
    }

    /// Rolls a later flush back to its savepoint; false if the transaction is not known to be
    /// where the flush began (the savepoint was not taken where a failure aborts the whole
    /// transaction, or rolling back to it failed).
    async fn undo_flush(&self, tx: &mut Box<dyn Transaction>, savepoint: bool) -> bool {
        if !savepoint {
            return !self.db.dialect().error_aborts_transaction();
        }
        self.db
            .savepoint(tx, SavepointStep::RollBack, FLUSH_SAVEPOINT)
            .await
            .is_ok()
            && self
                .db
                .savepoint(tx, SavepointStep::Release, FLUSH_SAVEPOINT)
                .await
                .is_ok()
    }

    async fn execute_plan(
        &self,
        tx: &mut Box<dyn Transaction>,
        plan: &Plan,
        fresh: bool,
    ) -> std::result::Result<(Generated, Captures), Failed> {
        if !fresh {
            self.db
                .savepoint(tx, SavepointStep::Begin, FLUSH_SAVEPOINT)
                .await
                .map_err(|error| Failed {
                    error,
                    savepoint: false,
                })?;
        }
        let held = |error| Failed {
            error,
            savepoint: !fresh,
        };
        let mut generated = Generated::default();
        let mut captures = vec![Vec::new(); plan.captures];
        for step in &plan.steps {
            self.execute_step(tx, plan, step, &mut generated, &mut captures)
                .await
                .map_err(held)?;
        }
        if !fresh {
            self.db
                .savepoint(tx, SavepointStep::Release, FLUSH_SAVEPOINT)
                .await
                .map_err(held)?;
        }
        Ok((generated, captures))
    }
}

/// A flush that failed, and whether its savepoint was taken (a later flush only).
struct Failed {
    error: Error,
    savepoint: bool,
}
