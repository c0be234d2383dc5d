//! Pool and session settings for [`connect_with`](crate::connect_with).

use std::time::Duration;

/// Settings of the PostgreSQL connection pool and of every connection it opens.
///
/// ```
/// use orm_postgres::PgOptions;
/// use std::time::Duration;
///
/// let options = PgOptions::default()
///     .max_connections(20)
///     .statement_timeout(Duration::from_secs(5))
///     .application_name("billing")
///     .statement_cache_capacity(0); // behind pgbouncer in transaction mode
/// assert_eq!(options.acquire_timeout, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgOptions {
    /// The most connections the pool opens (at least 1).
    pub max_connections: u32,
    /// How long `begin`, `fetch` and `execute` wait for a free pooled connection before failing
    /// with a pool timeout.
    pub acquire_timeout: Duration,
    /// The server cancels any statement that runs longer (`statement_timeout`); the ORM reports
    /// it as [`Error::Canceled`](orm_core::Error). `None` keeps the server's setting.
    pub statement_timeout: Option<Duration>,
    /// The `application_name` the server shows in `pg_stat_activity` and its logs.
    pub application_name: Option<String>,
    /// How many prepared statements each connection keeps. `0` prepares none that outlive
    /// their execution (unnamed statements), which poolers in transaction mode such as
    /// pgbouncer need.
    pub statement_cache_capacity: usize,
    /// The schema search path of every connection (`search_path`), for tables outside
    /// `public`. `None` keeps the server's setting.
    pub search_path: Option<String>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
            statement_timeout: None,
            application_name: None,
            statement_cache_capacity: 100,
            search_path: None,
        }
    }
}

impl PgOptions {
    /// Sets [`max_connections`](Self::max_connections).
    pub fn max_connections(mut self, connections: u32) -> Self {
        self.max_connections = connections;
        self
    }

    /// Sets [`acquire_timeout`](Self::acquire_timeout).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Sets [`statement_timeout`](Self::statement_timeout).
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = Some(timeout);
        self
    }

    /// Sets [`application_name`](Self::application_name).
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// Sets [`statement_cache_capacity`](Self::statement_cache_capacity).
    pub fn statement_cache_capacity(mut self, capacity: usize) -> Self {
        self.statement_cache_capacity = capacity;
        self
    }

    /// Sets [`search_path`](Self::search_path).
    pub fn search_path(mut self, path: impl Into<String>) -> Self {
        self.search_path = Some(path.into());
        self
    }

    /// `max_connections`, raised to 1 if it was 0.
    pub(crate) fn pool_size(&self) -> u32 {
        self.max_connections.max(1)
    }
}
