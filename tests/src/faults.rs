//! Fault injection: a [`Backend`] wrapper that fails the n-th database call after it is armed,
//! so that a test can fail a flush at every statement and check what is left behind.
//!
//! Every round trip counts: `begin`, each statement (in or outside a transaction) and `commit`.
//! A rollback never fails (dropping a transaction rolls it back anyway).

use orm_core::backend::{
    Backend, BoxFuture, DbFailure, Dialect, ExecOutcome, FailureKind, Row, Transaction,
};
use orm_core::{Database, Value};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Never fail.
const DISARMED: u64 = u64::MAX;

/// The switch a test holds: arm it to fail the call with a given index.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<State>);

#[derive(Debug)]
struct State {
    calls: AtomicU64,
    fail_at: AtomicU64,
    /// The call that never answers (a database that hangs), for cancellation tests.
    stall_at: AtomicU64,
}

impl Default for State {
    fn default() -> Self {
        State {
            calls: AtomicU64::new(0),
            fail_at: AtomicU64::new(DISARMED),
            stall_at: AtomicU64::new(DISARMED),
        }
    }
}

impl Faults {
    /// Counts calls from zero and fails the one with index `at`.
    pub fn arm(&self, at: u64) {
        self.0.calls.store(0, Ordering::SeqCst);
        self.0.stall_at.store(DISARMED, Ordering::SeqCst);
        self.0.fail_at.store(at, Ordering::SeqCst);
    }

    /// Counts calls from zero and makes the one with index `at` wait forever, so that a future
    /// dropped later is dropped exactly there.
    pub fn stall(&self, at: u64) {
        self.0.calls.store(0, Ordering::SeqCst);
        self.0.fail_at.store(DISARMED, Ordering::SeqCst);
        self.0.stall_at.store(at, Ordering::SeqCst);
    }

    /// Counts calls from zero and fails none.
    pub fn count_only(&self) {
        self.arm(DISARMED);
    }

    /// How many calls were made since the last `arm` or `count_only`.
    pub fn calls(&self) -> u64 {
        self.0.calls.load(Ordering::SeqCst)
    }

    async fn check(&self, what: &str) -> Result<(), DbFailure> {
        let index = self.0.calls.fetch_add(1, Ordering::SeqCst);
        if index == self.0.stall_at.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if index == self.0.fail_at.load(Ordering::SeqCst) {
            return Err(DbFailure::new(
                FailureKind::Other,
                format!("injected fault at call {index} ({what})"),
            ));
        }
        Ok(())
    }
}

/// A database over `raw` whose calls fail as `faults` says.
pub fn faulty_database(raw: Arc<dyn Backend>) -> (Database, Faults) {
    let faults = Faults::default();
    let backend = Faulty {
        inner: raw,
        faults: faults.clone(),
    };
    (Database::new(Arc::new(backend)), faults)
}

struct Faulty {
    inner: Arc<dyn Backend>,
    faults: Faults,
}

impl fmt::Debug for Faulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faulty")
            .field("inner", &self.inner)
            .finish()
    }
}

impl Backend for Faulty {
    fn dialect(&self) -> &'static dyn Dialect {
        self.inner.dialect()
    }

    fn fetch<'a>(
        &'a self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<Vec<Row>, DbFailure>> {
        Box::pin(async move {
            self.faults.check(sql).await?;
            self.inner.fetch(sql, params).await
        })
    }

    fn execute<'a>(
        &'a self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<ExecOutcome, DbFailure>> {
        Box::pin(async move {
            self.faults.check(sql).await?;
            self.inner.execute(sql, params).await
        })
    }

    fn begin(
        &self,
        statement: Option<&'static str>,
    ) -> BoxFuture<'_, Result<Box<dyn Transaction>, DbFailure>> {
        Box::pin(async move {
            self.faults.check("BEGIN").await?;
            let inner = self.inner.begin(statement).await?;
            Ok(Box::new(FaultyTx {
                inner,
                faults: self.faults.clone(),
            }) as Box<dyn Transaction>)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.inner.close()
    }
}

struct FaultyTx {
    inner: Box<dyn Transaction>,
    faults: Faults,
}

impl fmt::Debug for FaultyTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyTx").finish_non_exhaustive()
    }
}

impl Transaction for FaultyTx {
    fn fetch<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<Vec<Row>, DbFailure>> {
        Box::pin(async move {
            self.faults.check(sql).await?;
            self.inner.fetch(sql, params).await
        })
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<ExecOutcome, DbFailure>> {
        Box::pin(async move {
            self.faults.check(sql).await?;
            self.inner.execute(sql, params).await
        })
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), DbFailure>> {
        Box::pin(async move {
            // On an injected failure the transaction is dropped: rolled back, as a failed
            // COMMIT leaves it.
            self.faults.check("COMMIT").await?;
            self.inner.commit().await
        })
    }

    fn rollback(self: Box<Self>) -> BoxFuture<'static, Result<(), DbFailure>> {
        self.inner.rollback()
    }
}
