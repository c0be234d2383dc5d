//! orm-migrate: schema migrations generated from the models, on SQLite and PostgreSQL.
//!
//! - [`introspect`] reads the live schema into a typed [`Schema`]; [`desired`] derives the one
//!   the models describe; [`diff`] compares them into typed [`Change`]s (renames are declared
//!   with [`Renames`], never guessed).
//! - [`generate`] writes the changes as the next numbered SQL file of a migrations folder, in the
//!   format sqlx's migrator reads, so either `sqlx migrate run` or [`apply`] runs it.
//!   Destructive changes are written only when asked for, and marked.
//! - [`apply`] (or [`MigrateExt::migrate`], or [`apply_migrator`] with `sqlx::migrate!`) runs
//!   the pending migrations with sqlx's migrator and its `_sqlx_migrations` table; a database
//!   ahead of the folder or diverged from it is an error, and nothing is applied.
//! - [`cli`] is the command users add to their crate: `generate`, `apply`, `status`, `check`.
//!
//! The guide's "Migrations" chapter (`docs/src/migrations.md`) walks through it.

#![warn(missing_docs)]

mod backend;
mod cli;
mod diff;
mod error;
mod generate;
mod migrations;
mod postgres;
mod schema;
mod sqlite;

pub use cli::{cli, run_cli, Outcome};
pub use diff::{Change, Diff, Renames};
pub use error::{Error, Result};
pub use generate::{GenerateOptions, Generated};
pub use migrations::{MigrationInfo, Status, TRACKING_TABLE};
pub use schema::{Column, ForeignKey, Index, Schema, Table};
pub use sqlx::migrate::Migrator;

use backend::{Pool, SchemaDialect};
use orm_core::meta::ModelMeta;
use orm_core::Database;
use std::future::Future;
use std::path::Path;

/// The live schema of `db` (on PostgreSQL, its connections' current schema), without the
/// migrations' tracking table.
pub async fn introspect(db: &Database) -> Result<Schema> {
    introspect_with(Pool::of(db)?.dialect(), db).await
}

/// The schema `models` (and the models they reach) describe, as `db` would report it.
pub async fn desired(db: &Database, models: &[&'static ModelMeta]) -> Result<Schema> {
    desired_with(Pool::of(db)?.dialect(), db, models).await
}

/// The changes that make `db`'s schema what `models` describe; empty when it already is.
pub async fn diff(db: &Database, models: &[&'static ModelMeta], renames: &Renames) -> Result<Diff> {
    Ok(plan(db, models, renames).await?.diff)
}

/// Writes the changes that make `db`'s schema what `models` describe as the next migration
/// of `folder` (created if missing). `db` must have applied every migration of the folder
/// already ([`Error::Pending`]), or their changes would be written twice.
pub async fn generate(
    db: &Database,
    models: &[&'static ModelMeta],
    folder: impl AsRef<Path>,
    options: &GenerateOptions,
) -> Result<Generated> {
    generate::generate(db, models, folder.as_ref(), options).await
}

/// Where `db` stands against the migrations of `folder`.
pub async fn status(db: &Database, folder: impl AsRef<Path>) -> Result<Status> {
    let migrator = migrations::load(folder.as_ref()).await?;
    migrations::status_of(db, &migrator).await
}

/// Applies the pending migrations of `folder`, each in its own transaction, and returns them.
/// A migration that fails is rolled back, and the ones after it do not run.
pub async fn apply(db: &Database, folder: impl AsRef<Path>) -> Result<Vec<MigrationInfo>> {
    let migrator = migrations::load(folder.as_ref()).await?;
    migrations::apply(db, &migrator).await
}

/// [`apply`] for migrations embedded in the binary with `sqlx::migrate!("./migrations")`.
pub async fn apply_migrator(db: &Database, migrator: &Migrator) -> Result<Vec<MigrationInfo>> {
    migrations::apply(db, migrator).await
}

/// `db.migrate(folder)`: [`apply`] as a method of [`Database`].
pub trait MigrateExt {
    /// Applies the pending migrations of `folder` ([`apply`]).
    fn migrate(&self, folder: &Path) -> impl Future<Output = Result<Vec<MigrationInfo>>> + Send;
}

impl MigrateExt for Database {
    fn migrate(&self, folder: &Path) -> impl Future<Output = Result<Vec<MigrationInfo>>> + Send {
        apply(self, folder.to_owned())
    }
}

/// A diff with what rendering it needs.
pub(crate) struct Plan {
    pub diff: Diff,
    /// The live schema with the declared renames applied: the other changes apply to it.
    pub live: Schema,
    pub dialect: &'static dyn SchemaDialect,
}

pub(crate) async fn plan(
    db: &Database,
    models: &[&'static ModelMeta],
    renames: &Renames,
) -> Result<Plan> {
    let dialect = Pool::of(db)?.dialect();
    let live = introspect_with(dialect, db).await?;
    let desired = desired_with(dialect, db, models).await?;
    let (diff, live) = diff::diff(dialect, &desired, &live, renames)?;
    Ok(Plan {
        diff,
        live,
        dialect,
    })
}

async fn introspect_with(dialect: &'static dyn SchemaDialect, db: &Database) -> Result<Schema> {
    let mut schema = dialect.introspect(db).await?;
    for table in &mut schema.tables {
        schema::normalize(table);
        dialect.normalize(table);
    }
    schema.sort();
    Ok(schema)
}

async fn desired_with(
    dialect: &'static dyn SchemaDialect,
    db: &Database,
    models: &[&'static ModelMeta],
) -> Result<Schema> {
    let mut schema = Schema::default();
    for model in db.model_set(models)? {
        if schema.table(model.table).is_some() {
            continue;
        }
        let mut table = schema::model_table(model, |ty| dialect.type_name(*ty));
        schema::normalize(&mut table);
        dialect.normalize(&mut table);
        schema.tables.push(table);
    }
    dialect.settle_defaults(db, &mut schema).await?;
    schema.sort();
    Ok(schema)
}
