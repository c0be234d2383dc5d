//! Shared fixtures of the end-to-end tests: the models of the seed documents and small helpers.
//! The mdBook's chapters are also compiled here as doctests (see `guide`).

pub mod faults;
pub mod fixtures;
pub mod harness;
pub mod models;

use orm_core::{Database, Result};

/// The database the examples run on: `DATABASE_URL` if set, else a fresh in-memory SQLite
/// database. `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run -p orm-tests
/// --example quickstart` runs the same example on PostgreSQL.
pub async fn connect_from_env() -> Result<Database> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".to_owned());
    connect(&url).await
}

/// Connects to `url` with the backend its scheme names: `postgres://` or `postgresql://`
/// with orm-postgres, anything else with orm-sqlite (which rejects what it cannot open).
pub async fn connect(url: &str) -> Result<Database> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        orm_postgres::connect(url).await
    } else {
        orm_sqlite::connect(url).await
    }
}

/// A fresh database of the running test instance's backend (see [`harness`]) with the tables
/// of `models` created: in-memory SQLite, or a schema of its own on PostgreSQL.
pub async fn fresh_db(models: &[&'static orm_core::meta::ModelMeta]) -> Result<Database> {
    Ok(harness::fresh(models).await.db)
}

/// Sends the SQL log (`orm::sql`) to stderr when `RUST_LOG` asks for it, e.g. `RUST_LOG=orm::sql=debug`.
/// Without `RUST_LOG` no subscriber is installed, so a test binary can install its own.
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_none() {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The user guide's chapters, compiled and run as doctests.
#[cfg(doctest)]
pub mod guide;
