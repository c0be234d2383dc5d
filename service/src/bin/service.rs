//! The service binary: `cargo run -p orm-service --bin service`.
//!
//! Configuration, from the environment:
//!
//! - `DATABASE_URL`: `postgres://...` or a SQLite URL; default `sqlite://service.db`, a file in
//!   the working directory, created if missing.
//! - `HOST`: the address to listen on; default `127.0.0.1` (set `0.0.0.0` in a container).
//! - `PORT`: default 3000.
//! - `RUST_LOG`: the log filter; default `info` (`RUST_LOG=orm_service::http=debug` logs every
//!   request, `orm::sql=debug` every statement).
//!
//! Ctrl-C or SIGTERM stops accepting connections, lets the requests in flight finish, closes
//! the pool and exits.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

const DEFAULT_DATABASE_URL: &str = "sqlite://service.db";
const DEFAULT_PORT: u16 = 3000;

/// What the environment configures.
#[derive(Debug)]
struct Config {
    database_url: String,
    address: SocketAddr,
}

impl Config {
    fn from_env() -> Result<Config, String> {
        let database_url =
            std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        let host = match std::env::var("HOST") {
            Ok(host) => host
                .parse::<IpAddr>()
                .map_err(|e| format!("HOST={host:?} is not an IP address: {e}"))?,
            Err(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let port = match std::env::var("PORT") {
            Ok(port) => port
                .parse::<u16>()
                .map_err(|e| format!("PORT={port:?} is not a port number: {e}"))?,
            Err(_) => DEFAULT_PORT,
        };
        Ok(Config {
            database_url,
            address: SocketAddr::new(host, port),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let backend = if orm_service::is_postgres_url(&config.database_url) {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    // The URL itself is not logged: it may hold a password.
    let db = orm_service::connect(&config.database_url).await?;
    let listener = tokio::net::TcpListener::bind(config.address).await?;
    tracing::info!("listening on http://{} ({backend})", listener.local_addr()?);
    orm_service::serve(listener, db.clone(), shutdown_signal()).await?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes at Ctrl-C or (on Unix) SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {err}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(err) => {
                tracing::error!("cannot listen for SIGTERM: {err}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing the requests in flight");
}
