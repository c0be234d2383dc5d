//! Pool settings for [`connect_with`](crate::connect_with).

use std::time::Duration;

/// Settings of the SQLite connection pool.
///
/// ```
/// use orm_sqlite::SqliteOptions;
/// use std::time::Duration;
///
/// let options = SqliteOptions::default()
///     .max_connections(4)
///     .acquire_timeout(Duration::from_secs(2));
/// assert_eq!(options.busy_timeout, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// The most connections the pool opens to a file database (at least 1). Ignored for an
    /// in-memory database, which always has exactly one connection.
    pub max_connections: u32,
    /// How long a statement waits for another connection's write lock before failing with
    /// "database is locked" (SQLite's busy timeout). Applies to file databases.
    pub busy_timeout: Duration,
    /// How long `begin`, `fetch` and `execute` wait for a free pooled connection before
    /// failing with a pool timeout.
    pub acquire_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

impl SqliteOptions {
    /// Sets [`max_connections`](Self::max_connections).
    pub fn max_connections(mut self, connections: u32) -> Self {
        self.max_connections = connections;
        self
    }

    /// Sets [`busy_timeout`](Self::busy_timeout).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Sets [`acquire_timeout`](Self::acquire_timeout).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// `max_connections`, raised to 1 if it was 0.
    pub(crate) fn pool_size(&self) -> u32 {
        self.max_connections.max(1)
    }

    /// The busy timeout, capped at what SQLite accepts (`i32::MAX` milliseconds), so that an
    /// oversized value cannot make the driver panic.
    pub(crate) fn capped_busy_timeout(&self) -> Duration {
        let max = Duration::from_millis(i32::MAX.unsigned_abs().into());
        self.busy_timeout.min(max)
    }
}
