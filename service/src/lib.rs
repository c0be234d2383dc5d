//! An HTTP/JSON service over the ORM: users and their addresses (the seed models
//! `orm_tests::models::{User, Address}`), on SQLite or PostgreSQL, with axum.
//!
//! | route | answer |
//! |---|---|
//! | `GET /health` | 200 `{"status":"ok"}`; 503 when the database does not answer `SELECT 1` within 2 s |
//! | `POST /users` | 201 + the user with its ids and a `Location`; body [`NewUser`](dto::NewUser) |
//! | `GET /users?limit=&after=` | 200 [`UserPage`](dto::UserPage): users by id after `after`, addresses eager loaded |
//! | `GET /users/{id}` | 200 [`UserOut`](dto::UserOut) |
//! | `PATCH /users/{id}` | 200 the user; body [`UserPatch`](dto::UserPatch) (partial) |
//! | `DELETE /users/{id}` | 204; its addresses are deleted with it (cascade) |
//! | `GET /users/{id}/delete-preview` | 200 [`DeletePreview`](dto::DeletePreview): what deleting it would do |
//! | `POST /users/{id}/addresses` | 201 + the address; body [`NewAddress`](dto::NewAddress) |
//! | `DELETE /users/{id}/addresses/{address_id}` | 204; removed from the collection, deleted as an orphan |
//! | `DELETE /addresses/{id}` | 204 |
//!
//! Errors are `{"error": "...", "code": "..."}` with the status of its
//! [`ErrorCode`](error::ErrorCode).

pub mod dto;
pub mod error;
pub mod extract;
mod routes;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use orm_core::meta::ModelMeta;
use orm_core::{Database, Model};
use orm_tests::models::{Address, User};
use std::future::Future;
use std::time::Instant;

/// The models whose tables the service uses.
pub const MODELS: &[&ModelMeta] = &[User::META, Address::META];

/// The service's routes over `db` (one shared pool; each request opens its own session).
pub fn router(db: Database) -> Router {
    routes::routes()
        .layer(middleware::from_fn(log_request))
        .with_state(db)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then lets the requests in
/// flight finish (graceful shutdown) and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    db: Database,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(db))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Whether `url` names a PostgreSQL server rather than a SQLite database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Connects to `url` with the backend its scheme names (`postgres://` or `postgresql://`:
/// PostgreSQL; anything else: SQLite, e.g. `sqlite://service.db`, a file created if missing)
/// and [`prepare`]s the tables.
pub async fn connect(url: &str) -> orm_core::Result<Database> {
    let db = if is_postgres_url(url) {
        orm_postgres::connect(url).await?
    } else {
        orm_sqlite::connect(url).await?
    };
    prepare(&db).await?;
    Ok(db)
}

/// Creates the tables that do not exist yet, then checks that every table has the columns
/// the models declare, so that a table left by an older model fails at start-up, not on a
/// request.
pub async fn prepare(db: &Database) -> orm_core::Result<()> {
    db.create_all(MODELS).await?;
    db.check_schema(MODELS).await
}

/// Logs each request's method, path, status and time at debug level
/// (`RUST_LOG=orm_service::http=debug`).
async fn log_request(request: Request, next: Next) -> Response {
    if !tracing::enabled!(target: "orm_service::http", tracing::Level::DEBUG) {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::debug!(
        target: "orm_service::http",
        %method,
        path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}
