//! Shared fixtures of the end-to-end tests: the models of the seed documents and small helpers.
//! The mdBook's chapters are also compiled here as doctests (see `guide`).

pub mod fixtures;
pub mod models;

use orm_core::{Database, Result};

/// A fresh in-memory SQLite database with the tables of `models` created.
pub async fn memory_db(models: &[&'static orm_core::meta::ModelMeta]) -> Result<Database> {
    let db = orm_sqlite::connect("sqlite::memory:").await?;
    db.create_all(models).await?;
    Ok(db)
}

/// Sends the SQL log (`orm::sql`) to stderr when `RUST_LOG` asks for it, e.g. `RUST_LOG=orm::sql=debug`.
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The user guide's chapters, compiled and run as doctests.
#[cfg(doctest)]
pub mod guide;
