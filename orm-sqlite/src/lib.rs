//! The embedded SQLite backend of the orm workspace, on sqlx's SQLite driver.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = tokio::runtime::Runtime::new()?;
//! runtime.block_on(async {
//!     let db = orm_sqlite::connect("sqlite::memory:").await?;
//!     # let _ = db;
//!     Ok::<_, orm_core::Error>(())
//! })?;
//! # Ok(())
//! # }
//! ```
//!
//! # URLs
//!
//! - `sqlite::memory:` (also `sqlite://:memory:`): a fresh private database in memory. Each call
//!   to [`connect`] makes a new, empty one.
//! - `sqlite://path/to/file.db`, `sqlite:path/to/file.db` (relative to the working directory) or
//!   `sqlite:///abs/path.db`: a database file, created if missing. Its directory must exist.
//!
//! Anything else (another scheme such as `postgres://`, an empty string, a URL without a
//! database, an unknown `?` parameter) is rejected with [`Error::InvalidUrl`](orm_core::Error)
//! saying why.
//!
//! # What every connection is set up with
//!
//! - `PRAGMA foreign_keys = ON`, on **every** pooled connection (SQLite enforces foreign keys
//!   only on connections that ask for it, and the setting is per connection).
//! - File databases: `journal_mode = WAL` (readers do not block the writer),
//!   `synchronous = NORMAL` (durable across application crashes, and safe with WAL), and a busy
//!   timeout ([`SqliteOptions::busy_timeout`], 5 s by default) so that a writer waits for
//!   another writer instead of failing at once with "database is locked".
//!
//! # In-memory databases have one connection
//!
//! An in-memory database exists only as long as a connection to it is open, and a second
//! connection would see it only through SQLite's shared cache, whose table locks fail
//! concurrent writers at once with `SQLITE_LOCKED` instead of waiting. So the pool of an
//! in-memory database holds exactly **one** connection, never retired for idleness or age (an
//! extra unused connection also keeps the database alive until [`Backend::close`]). The
//! consequence: while one session holds an open transaction, another session that needs the
//! database waits for it to commit or roll back, and after
//! [`SqliteOptions::acquire_timeout`] fails with a pool timeout
//! ([`Error::PoolTimeout`](orm_core::Error)). Use a file database for concurrent sessions.
//!
//! [`Backend::close`]: orm_core::backend::Backend::close

#![warn(missing_docs)]

mod backend;
mod convert;
mod error;
mod options;
mod url;

pub use backend::{SqliteBackend, SqliteTransaction};
pub use options::SqliteOptions;

use orm_core::Database;
use std::sync::Arc;

/// Opens the database at `url` with default [`SqliteOptions`].
///
/// # Errors
///
/// [`Error::InvalidUrl`](orm_core::Error) for a URL this backend cannot open, and
/// [`Error::Database`](orm_core::Error) if SQLite cannot open the database.
pub async fn connect(url: &str) -> orm_core::Result<Database> {
    connect_with(url, SqliteOptions::default()).await
}

/// Opens the database at `url` with the given pool settings.
///
/// # Errors
///
/// As [`connect`].
pub async fn connect_with(url: &str, options: SqliteOptions) -> orm_core::Result<Database> {
    let backend = SqliteBackend::open(url, &options).await?;
    Ok(Database::new(Arc::new(backend)))
}

/// A [`Database`] over a [`sqlx::SqlitePool`] the application already has (a service that
/// also runs its own sqlx queries shares one pool). The pool's settings are the
/// application's: this crate's pragmas are not applied, except that the pool must enforce
/// foreign keys, which is checked.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// let db = orm_sqlite::from_pool(pool).await?;
/// # let _ = db;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::Database`](orm_core::Error) if the pool cannot be reached or its connections do
/// not enforce foreign keys.
pub async fn from_pool(pool: sqlx::SqlitePool) -> orm_core::Result<Database> {
    let backend = SqliteBackend::from_pool(pool).await?;
    Ok(Database::new(Arc::new(backend)))
}
