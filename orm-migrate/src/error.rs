//! What can go wrong while migrating, by kind, with what to do about it.

use std::path::PathBuf;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A migration error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ORM failed (introspection, the default probe, a connection).
    #[error(transparent)]
    Orm(#[from] orm_core::Error),

    /// The database's backend does not hand out its sqlx pool (a wrapper backend).
    #[error(
        "migrations run through sqlx's migrator on the backend's own pool, and this `{dialect}` \
         backend does not offer one: connect with `orm_sqlite::connect` or `orm_postgres::connect`"
    )]
    UnsupportedBackend {
        /// The backend's dialect.
        dialect: &'static str,
    },

    /// The migrations folder could not be read or written.
    #[error("migrations folder `{}`: {message}", path.display())]
    Folder {
        /// The folder or file.
        path: PathBuf,
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The database has a migration applied that the folder does not have.
    #[error(
        "the database has migration {version} applied, but the folder has no such migration: \
         the database is ahead of the folder (or the file was deleted). Nothing was applied; \
         use the folder the database was migrated with"
    )]
    Ahead {
        /// The applied version missing from the folder.
        version: i64,
    },

    /// A migration's file changed after the database applied it.
    #[error(
        "migration {version} ({description}) was changed after this database applied it: \
         the folder and the database diverged. Nothing was applied; restore the file as it was \
         applied, and put new changes in a new migration"
    )]
    Changed {
        /// The version.
        version: i64,
        /// Its description.
        description: String,
    },

    /// A pending migration is older than one already applied.
    #[error(
        "migration {version} ({description}) is not applied, but the newer migration {latest} is: \
         the folder and the database diverged (a migration merged from another branch?). \
         Nothing was applied; renumber it after {latest}"
    )]
    OutOfOrder {
        /// The pending version.
        version: i64,
        /// Its description.
        description: String,
        /// The newest applied version.
        latest: i64,
    },

    /// A migration failed in an earlier run without being rolled back.
    #[error(
        "migration {version} is marked as failed in `_sqlx_migrations` by an earlier run: \
         check the schema by hand, then delete that row"
    )]
    Dirty {
        /// The version.
        version: i64,
    },

    /// A migration failed; the database is as it was before it.
    #[error("migration {version} ({description}) failed and was rolled back: {source}")]
    Failed {
        /// The version.
        version: i64,
        /// Its description.
        description: String,
        /// What the database said.
        #[source]
        source: sqlx::Error,
    },

    /// Generating on a database that has not applied every migration of the folder would write
    /// their changes a second time.
    #[error(
        "migrations {versions:?} of the folder are not applied to this database yet: apply them \
         first (`apply`), then generate"
    )]
    Pending {
        /// The pending versions.
        versions: Vec<i64>,
    },

    /// A change SQLite can only make by rebuilding a table, whose rebuild would lose what the
    /// typed schema cannot describe.
    #[error(
        "SQLite can only make this change by rebuilding `{table}`, and the rebuild would lose \
         {what}: write this migration by hand (SQLite's documented table rebuild), or split it"
    )]
    UnsafeRebuild {
        /// The table.
        table: String,
        /// What would be lost.
        what: String,
    },

    /// A declared rename does not fit the database and the models.
    #[error("the rename `{rename}` does not fit: {reason}")]
    Rename {
        /// The rename, as the command line writes it.
        rename: String,
        /// Why it does not fit.
        reason: String,
    },

    /// An embedded migrator that keeps its history in another table than sqlx's default.
    #[error(
        "this migrator keeps its history in `{table}`, and orm-migrate reads and writes \
         sqlx's default `_sqlx_migrations` only: use the default table name"
    )]
    TrackingTable {
        /// The migrator's table.
        table: String,
    },

    /// sqlx's migrator failed outside any migration (the tracking table, the lock).
    #[error("sqlx's migrator: {0}")]
    Migrator(#[source] sqlx::migrate::MigrateError),

    /// The command line was not understood.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub(crate) fn folder(
        path: &std::path::Path,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Folder {
            path: path.to_owned(),
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}
