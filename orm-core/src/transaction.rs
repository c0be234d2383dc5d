//! What a service chooses about a transaction: its isolation level, whether it may write, and
//! how a unit of work that lost a race with another transaction is run again.

use crate::error::Error;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// The SQL isolation level of a transaction.
///
/// PostgreSQL runs the level asked for (`READ UNCOMMITTED` behaves as `READ COMMITTED` there).
/// SQLite transactions are always serializable, which is at least as strict as any level, so
/// every level is accepted and runs as `SERIALIZABLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED`.
    ReadUncommitted,
    /// `READ COMMITTED` (PostgreSQL's default).
    ReadCommitted,
    /// `REPEATABLE READ`: one snapshot for the whole transaction.
    RepeatableRead,
    /// `SERIALIZABLE`: as if transactions ran one after another; a conflict fails with a
    /// retryable [`Error::Conflict`].
    Serializable,
}

impl IsolationLevel {
    /// The level as SQL spells it.
    pub fn as_sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

/// How a session's transaction begins: [`Session::begin`](crate::Session::begin) and
/// [`Database::transaction_with`](crate::Database::transaction_with).
///
/// The default is the database's default isolation level, read-write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOptions {
    pub(crate) isolation: Option<IsolationLevel>,
    pub(crate) read_only: bool,
}

impl TxOptions {
    /// Read-write, at the database's default isolation level.
    pub fn new() -> Self {
        TxOptions::default()
    }

    /// Runs the transaction at `level`.
    pub fn isolation(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }

    /// A read-only transaction: the session refuses to flush changes or run a raw write in it
    /// ([`Error::ReadOnly`]), and PostgreSQL also refuses any write statement itself.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The isolation level asked for, if any.
    pub fn isolation_level(&self) -> Option<IsolationLevel> {
        self.isolation
    }

    /// Whether the transaction is read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }
}

/// How many times [`Database::transaction`](crate::Database::transaction) runs a unit of work
/// that failed with a retryable error, and how long it waits in between.
///
/// The wait doubles after each attempt, from `first_delay` up to `max_delay`, and each wait is
/// a random fraction (50-100%) of that, so that clients that collided do not collide again in
/// step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    attempts: u32,
    first_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts, waiting 10 ms, then 20, 40 and 80 ms (each up to half shorter).
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// Runs the work once: no retry.
    pub fn never() -> Self {
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Runs the work at most `attempts` times in all (at least once).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The wait before the second attempt; it doubles for each later one, up to `max`.
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_delay = first;
        self.max_delay = max.max(first);
        self
    }

    /// The most attempts in all.
    pub fn max_attempts(&self) -> u32 {
        self.attempts
    }

    /// The wait after failed attempt number `attempt` (1 for the first).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1));
        let full = self
            .first_delay
            .saturating_mul(doubling)
            .min(self.max_delay);
        full.mul_f64(0.5 + 0.5 * random_fraction())
    }
}

/// A fraction in [0, 1) that differs between calls and processes; a jitter needs no better.
fn random_fraction() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The error type of a unit of work run by [`Database::transaction`](crate::Database::transaction):
/// any type the ORM's errors convert into, which can say whether it holds one (so that a
/// retryable one is retried).
///
/// ```
/// use orm_core::{Error, TransactionError};
///
/// #[derive(Debug)]
/// enum ApiError {
///     Invalid(String),
///     Db(Error),
/// }
///
/// impl From<Error> for ApiError {
///     fn from(err: Error) -> Self {
///         ApiError::Db(err)
///     }
/// }
///
/// impl TransactionError for ApiError {
///     fn orm_error(&self) -> Option<&Error> {
///         match self {
///             ApiError::Db(err) => Some(err),
///             ApiError::Invalid(_) => None,
///         }
///     }
/// }
/// ```
pub trait TransactionError: From<Error> {
    /// The ORM error this error holds, if it holds one.
    fn orm_error(&self) -> Option<&Error>;

    /// Whether the unit of work should run again: the database aborted it because of a
    /// concurrent transaction ([`Error::is_retryable`]).
    fn is_retryable(&self) -> bool {
        self.orm_error().is_some_and(Error::is_retryable)
    }
}

impl TransactionError for Error {
    fn orm_error(&self) -> Option<&Error> {
        Some(self)
    }
}
