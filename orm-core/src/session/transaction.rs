//! Transactions a service controls: beginning one with an isolation level or read-only, and
//! running a unit of work in a fresh session that is committed, or run again when it lost a
//! race with a concurrent transaction.

use super::Session;
use crate::backend::BoxFuture;
use crate::database::Database;
use crate::error::{Error, Result};
use crate::transaction::{RetryPolicy, TransactionError, TxOptions};

impl Session {
    /// Begins the session's transaction now, with `options`, instead of at the first flush.
    /// Reads run in it from now on, so that they see one consistent database at
    /// `REPEATABLE READ` or `SERIALIZABLE`.
    ///
    /// On SQLite a read-write transaction begins with `BEGIN IMMEDIATE`: it takes the write
    /// lock at once, so that it cannot fail when it writes after reading; other writers wait
    /// for it. A read-only one does not take the lock.
    ///
    /// It fails with [`Error::TransactionOpen`] if a transaction is already open (a flush
    /// begins one): begin before the first write.
    pub async fn begin(&mut self, options: TxOptions) -> Result<()> {
        self.settle().await?;
        if self.tx.is_some() {
            return Err(Error::TransactionOpen);
        }
        let tx = self.db.begin_with(&options).await?;
        self.tx = Some(tx);
        self.read_only = options.read_only;
        Ok(())
    }

    /// Whether the open transaction is read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Whether a transaction is open (begun by [`Session::begin`] or a flush).
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }
}

impl Database {
    /// Runs `work` in a fresh session and transaction and commits it; if the work or the
    /// commit fails with a retryable error (a serialization failure or deadlock on PostgreSQL,
    /// a busy database on SQLite: [`Error::is_retryable`]), rolls back, waits, and runs the
    /// whole closure again, up to [`RetryPolicy::default`]'s attempts. Any other error rolls
    /// back and is returned as it is.
    ///
    /// The closure returns a boxed future that borrows the session (the shape that keeps the
    /// future `Send`, so that it runs in `tokio::spawn` and web handlers). It may run more than
    /// once: clone what it needs from its surroundings inside it.
    ///
    /// The guide's "In a service" chapter (`docs/src/service.md`) has a worked example.
    pub async fn transaction<T, E, F>(&self, work: F) -> std::result::Result<T, E>
    where
        F: for<'s> FnMut(&'s mut Session) -> BoxFuture<'s, std::result::Result<T, E>> + Send,
        E: TransactionError + Send,
        T: Send,
    {
        self.transaction_with(TxOptions::default(), RetryPolicy::default(), work)
            .await
    }

    /// [`Database::transaction`] with an isolation level or read-only transaction, and a
    /// retry policy of your own ([`RetryPolicy::never`] runs the work once).
    pub async fn transaction_with<T, E, F>(
        &self,
        options: TxOptions,
        retry: RetryPolicy,
        mut work: F,
    ) -> std::result::Result<T, E>
    where
        F: for<'s> FnMut(&'s mut Session) -> BoxFuture<'s, std::result::Result<T, E>> + Send,
        E: TransactionError + Send,
        T: Send,
    {
        let mut attempt = 1;
        loop {
            let outcome = self.attempt(options, &mut work).await;
            match outcome {
                Err(err) if err.is_retryable() && attempt < retry.max_attempts() => {
                    tracing::debug!(target: "orm::transaction", attempt, "retrying after a conflict: {}",
                        err.orm_error().map(ToString::to_string).unwrap_or_default());
                    tokio::time::sleep(retry.delay(attempt)).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// One run of a unit of work: begin, work, commit; roll back on any error.
    async fn attempt<T, E, F>(&self, options: TxOptions, work: &mut F) -> std::result::Result<T, E>
    where
        F: for<'s> FnMut(&'s mut Session) -> BoxFuture<'s, std::result::Result<T, E>> + Send,
        E: TransactionError + Send,
    {
        let mut session = self.session();
        session.begin(options).await?;
        match work(&mut session).await {
            Ok(value) => {
                session.commit().await?;
                Ok(value)
            }
            Err(err) => {
                session.rollback().await?;
                Err(err)
            }
        }
    }
}
