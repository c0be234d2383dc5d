//! The migrations folder against the database: what is applied, what is pending, and whether
//! the two diverged; applying runs sqlx's own migrator, with its `_sqlx_migrations` table.

use crate::backend::Pool;
use crate::error::{Error, Result};
use orm_core::Database;
use sqlx::migrate::{AppliedMigration, Migrate, MigrateError, Migrator};
use std::path::Path;

/// The tracking table sqlx's migrator keeps.
pub const TRACKING_TABLE: &str = "_sqlx_migrations";

/// One migration of the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationInfo {
    /// Its version (the number its file name starts with).
    pub version: i64,
    /// Its description (the rest of the file name).
    pub description: String,
}

/// Where the database stands against the folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// Migrations the database has applied, oldest first.
    pub applied: Vec<MigrationInfo>,
    /// Migrations not applied yet, in the order they will run.
    pub pending: Vec<MigrationInfo>,
}

/// The migrations of `folder` (none if it does not exist yet).
pub(crate) async fn load(folder: &Path) -> Result<Migrator> {
    if !folder.exists() {
        return Ok(Migrator::with_migrations(Vec::new()));
    }
    Migrator::new(folder).await.map_err(|e| Error::Folder {
        path: folder.to_owned(),
        message: "cannot read its migrations".to_owned(),
        source: Some(Box::new(e)),
    })
}

/// What the tracking table says.
struct Tracked {
    dirty: Option<i64>,
    applied: Vec<AppliedMigration>,
}

async fn tracked_on<C: Migrate + ?Sized>(conn: &mut C) -> Result<Tracked, MigrateError> {
    conn.ensure_migrations_table(TRACKING_TABLE).await?;
    Ok(Tracked {
        dirty: conn.dirty_version(TRACKING_TABLE).await?,
        applied: conn.list_applied_migrations(TRACKING_TABLE).await?,
    })
}

async fn tracked(pool: &Pool) -> Result<Tracked> {
    let tracked = match pool {
        Pool::Sqlite { pool, .. } => match pool.acquire().await {
            Ok(mut conn) => tracked_on(&mut *conn).await,
            Err(e) => Err(MigrateError::Execute(e)),
        },
        Pool::Postgres(pool) => match pool.acquire().await {
            Ok(mut conn) => tracked_on(&mut *conn).await,
            Err(e) => Err(MigrateError::Execute(e)),
        },
    };
    tracked.map_err(translate(None))
}

/// Where `db` stands against `migrator`; a database that diverged from it is an error.
pub(crate) async fn status_of(db: &Database, migrator: &Migrator) -> Result<Status> {
    let tracked = tracked(&Pool::of(db)?).await?;
    compare(migrator, &tracked)
}

fn info(migration: &sqlx::migrate::Migration) -> MigrationInfo {
    MigrationInfo {
        version: migration.version,
        description: migration.description.to_string(),
    }
}

fn compare(migrator: &Migrator, tracked: &Tracked) -> Result<Status> {
    if let Some(version) = tracked.dirty {
        return Err(Error::Dirty { version });
    }
    let ups: Vec<&sqlx::migrate::Migration> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    let mut status = Status::default();
    for applied in &tracked.applied {
        let Some(migration) = ups.iter().find(|m| m.version == applied.version) else {
            return Err(Error::Ahead {
                version: applied.version,
            });
        };
        if migration.checksum != applied.checksum {
            return Err(Error::Changed {
                version: migration.version,
                description: migration.description.to_string(),
            });
        }
        status.applied.push(info(migration));
    }
    let latest = tracked.applied.iter().map(|a| a.version).max();
    for migration in ups {
        if tracked
            .applied
            .iter()
            .any(|a| a.version == migration.version)
        {
            continue;
        }
        if let Some(latest) = latest.filter(|&latest| latest > migration.version) {
            return Err(Error::OutOfOrder {
                version: migration.version,
                description: migration.description.to_string(),
                latest,
            });
        }
        status.pending.push(info(migration));
    }
    Ok(status)
}

/// Applies the pending migrations of `migrator` with sqlx's migrator, after checking that the
/// database has not diverged from it. Returns the migrations applied.
pub(crate) async fn apply(db: &Database, migrator: &Migrator) -> Result<Vec<MigrationInfo>> {
    if migrator.table_name != TRACKING_TABLE {
        return Err(Error::TrackingTable {
            table: migrator.table_name.to_string(),
        });
    }
    let pool = Pool::of(db)?;
    // Waits for a run this process started earlier and stopped waiting for, so that the
    // status below sees what it applied.
    let running = running().lock_owned().await;
    let status = compare(migrator, &tracked(&pool).await?)?;
    if status.pending.is_empty() {
        return Ok(Vec::new());
    }
    // The migrations run in a task of their own: a caller that stops waiting (a cancelled
    // start-up, a timeout) does not cut a migration off between two of its statements. It
    // finishes, or fails and is cleaned up, and the next call waits for it (the lock, or
    // SQLite's single connection).
    let mut owned = Migrator::with_migrations(migrator.iter().cloned().collect());
    owned.set_locking(migrator.locking);
    let task = tokio::spawn(async move {
        let _running = running;
        match &pool {
            Pool::Sqlite { pool, in_memory } => run_sqlite(pool, *in_memory, &owned).await,
            Pool::Postgres(pool) => run_postgres(pool, &owned).await,
        }
    });
    let outcome = match task.await {
        Ok(outcome) => outcome,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => Err(MigrateError::Execute(sqlx::Error::WorkerCrashed)),
    };
    outcome.map_err(translate(Some(migrator)))?;
    Ok(status.pending)
}

/// The lock of this process's migration runs.
fn running() -> std::sync::Arc<tokio::sync::Mutex<()>> {
    static RUNNING: std::sync::OnceLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
        std::sync::OnceLock::new();
    RUNNING.get_or_init(Default::default).clone()
}

// `run_direct` is sqlx's `run` on a connection already acquired, which sqlx documents as the
// way around `Acquire`'s lifetime limits in generic code.

/// Runs the migrator on a connection of its own, detached from the pool and closed afterwards:
/// whatever a failed or cancelled migration leaves on it (the advisory lock sqlx's migrator
/// takes and does not release on failure, an open transaction) goes with it.
async fn run_postgres(pool: &sqlx::PgPool, migrator: &Migrator) -> Result<(), MigrateError> {
    let conn = pool.acquire().await.map_err(MigrateError::Execute)?;
    run_detached(conn, migrator).await
}

/// Runs `migrator` on `conn` taken out of its pool, and closes it.
async fn run_detached<DB: sqlx::Database>(
    conn: sqlx::pool::PoolConnection<DB>,
    migrator: &Migrator,
) -> Result<(), MigrateError>
where
    DB::Connection: Migrate,
{
    use sqlx::Connection as _;
    let mut conn = conn.detach();
    let outcome = migrator.run_direct(None, &mut conn, false).await;
    let _ = conn.close().await;
    outcome
}

/// As [`run_postgres`]: a SQLite migration that runs its own transaction (a table rebuild)
/// turns foreign keys off on its connection, and one that failed leaves its transaction open.
/// An in-memory database lives in its one connection, which must go back to the pool: there a
/// failure is cleaned up instead (rolled back, foreign keys on again).
async fn run_sqlite(
    pool: &sqlx::SqlitePool,
    in_memory: bool,
    migrator: &Migrator,
) -> Result<(), MigrateError> {
    use sqlx::Executor as _;
    let mut conn = pool.acquire().await.map_err(MigrateError::Execute)?;
    if !in_memory {
        return run_detached(conn, migrator).await;
    }
    let outcome = migrator.run_direct(None, &mut *conn, false).await;
    if outcome.is_err() {
        // "no transaction is active" when sqlx's own transaction already rolled it back.
        let _ = conn.execute("ROLLBACK").await;
        let _ = conn.execute("PRAGMA foreign_keys = ON").await;
    }
    outcome
}

/// sqlx's migrator errors as this crate's, by kind.
fn translate(migrator: Option<&Migrator>) -> impl Fn(MigrateError) -> Error + '_ {
    move |error| {
        let description = |version: i64| {
            migrator
                .and_then(|m| m.iter().find(|m| m.version == version))
                .map(|m| m.description.to_string())
                .unwrap_or_default()
        };
        match error {
            MigrateError::ExecuteMigration(source, version) => Error::Failed {
                version,
                description: description(version),
                source,
            },
            MigrateError::Dirty(version) => Error::Dirty { version },
            MigrateError::VersionMissing(version) => Error::Ahead { version },
            MigrateError::VersionMismatch(version) => Error::Changed {
                version,
                description: description(version),
            },
            other => Error::Migrator(other),
        }
    }
}
