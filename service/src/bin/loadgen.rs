//! A load generator for the service: N concurrent HTTP clients, one phase per route for a fixed
//! time each, then a mixed phase; prints requests per second and latencies per phase.
//!
//! ```text
//! cargo run --release -p orm-service --bin loadgen -- [--clients 32] [--duration 5] [--seed 500] [--pool N] [--url URL]
//! ```
//!
//! Without `--url` it starts the service in this process, on 127.0.0.1 with a free port, over
//! `DATABASE_URL`:
//!
//! - unset or a SQLite URL: a fresh SQLite file in the temporary directory (removed afterwards)
//!   when unset, else the given database;
//! - `postgres://...`: a schema of its own (`orm_loadgen_<pid>`), dropped afterwards, so the
//!   run leaves nothing behind.
//!
//! With `--url http://host:port` it drives a service already running there (its data stays).
//! The clients only ever talk to that one address, and every phase stops by itself.

use orm_core::Database;
use orm_service::dto::UserOut;
use reqwest::{Client, Method};
use serde_json::json;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The command line.
#[derive(Debug, Clone)]
struct Args {
    url: Option<String>,
    clients: usize,
    duration: Duration,
    seed: usize,
    pool: Option<u32>,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut args = Args {
            url: None,
            clients: 32,
            duration: Duration::from_secs(5),
            seed: 500,
            pool: None,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--url" => args.url = Some(value()?),
                "--clients" => args.clients = number(&flag, &value()?)?,
                "--duration" => args.duration = Duration::from_secs(number(&flag, &value()?)?),
                "--seed" => args.seed = number(&flag, &value()?)?,
                "--pool" => args.pool = Some(number(&flag, &value()?)?),
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        if args.clients == 0 || args.seed == 0 {
            return Err("--clients and --seed must be at least 1".to_owned());
        }
        Ok(args)
    }
}

const USAGE: &str =
    "usage: loadgen [--url http://127.0.0.1:3000] [--clients 32] [--duration SECONDS] \
                     [--seed USERS] [--pool CONNECTIONS]";

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} takes a number, got {value:?}"))
}

/// A small, fast pseudo-random generator (xorshift64*): a load mix needs no better.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x % n.max(1) as u64) as usize
    }
}

/// The routes a phase exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    GetUser,
    ListUsers,
    CreateUser,
    PatchUser,
    DeleteUser,
}

impl Op {
    fn route(self) -> &'static str {
        match self {
            Op::GetUser => "GET /users/{id}",
            Op::ListUsers => "GET /users?limit=50",
            Op::CreateUser => "POST /users",
            Op::PatchUser => "PATCH /users/{id}",
            Op::DeleteUser => "DELETE /users/{id}",
        }
    }
}

/// What a phase runs: one route, or a mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mix {
    Only(Op),
    /// Mostly reads, as a typical service sees: 50% GET one user, 10% list, 15% create,
    /// 15% update, 10% delete.
    Mixed,
}

impl Mix {
    fn pick(self, rng: &mut Rng) -> Op {
        match self {
            Mix::Only(op) => op,
            Mix::Mixed => match rng.below(100) {
                0..50 => Op::GetUser,
                50..60 => Op::ListUsers,
                60..75 => Op::CreateUser,
                75..90 => Op::PatchUser,
                _ => Op::DeleteUser,
            },
        }
    }
}

/// What the clients share: the service's address, the ids every client may read and update,
/// and the ids created in the run that a DELETE may take.
#[derive(Debug)]
struct Target {
    http: Client,
    base: String,
    seeded: Vec<i64>,
    deletable: Mutex<Vec<i64>>,
}

/// The outcome of one request: its latency, or that it failed.
type Outcome = Result<Duration, String>;

impl Target {
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<reqwest::Response, String> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.map_err(|e| format!("{path}: {e}"))
    }

    /// Runs one `op` and checks its status; a DELETE with nothing left to delete is `None`.
    async fn run(&self, op: Op, rng: &mut Rng, client: usize) -> Option<Outcome> {
        let started = Instant::now();
        let (reply, expected) = match op {
            Op::GetUser => {
                let id = self.seeded[rng.below(self.seeded.len())];
                (
                    self.send(Method::GET, &format!("/users/{id}"), None).await,
                    200,
                )
            }
            Op::ListUsers => {
                let after = self.seeded[rng.below(self.seeded.len())] - 1;
                let path = format!("/users?limit=50&after={after}");
                (self.send(Method::GET, &path, None).await, 200)
            }
            Op::CreateUser => return Some(self.create(rng, client, started).await),
            Op::PatchUser => {
                let id = self.seeded[rng.below(self.seeded.len())];
                let body = json!({ "nickname": format!("n{}", rng.below(1_000_000)) });
                (
                    self.send(Method::PATCH, &format!("/users/{id}"), Some(body))
                        .await,
                    200,
                )
            }
            Op::DeleteUser => {
                let id = self
                    .deletable
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .pop()?;
                (
                    self.send(Method::DELETE, &format!("/users/{id}"), None)
                        .await,
                    204,
                )
            }
        };
        Some(check(reply, expected, started).await)
    }

    async fn create(&self, rng: &mut Rng, client: usize, started: Instant) -> Outcome {
        let name = format!("load{client}-{}", rng.below(1_000_000_000));
        let body = json!({
            "name": name, "fullname": "Load Test",
            "addresses": [{ "email_address": format!("{name}@a.org") }, { "email_address": format!("{name}@b.org") }]
        });
        let reply = self.send(Method::POST, "/users", Some(body)).await?;
        if reply.status().as_u16() != 201 {
            return Err(format!("POST /users: {}", reply.status()));
        }
        let user: UserOut = reply
            .json()
            .await
            .map_err(|e| format!("POST /users: {e}"))?;
        let elapsed = started.elapsed();
        self.deletable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(user.id);
        Ok(elapsed)
    }
}

/// Reads the whole answer (so the connection is reused) and checks its status.
async fn check(
    reply: Result<reqwest::Response, String>,
    expected: u16,
    started: Instant,
) -> Outcome {
    let reply = reply?;
    let status = reply.status().as_u16();
    let body = reply.bytes().await.map_err(|e| e.to_string())?;
    if status != expected {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(started.elapsed())
}

/// The requests of one route in one phase.
#[derive(Debug, Default, Clone)]
struct Tally {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
}

impl Tally {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Ok(latency) => self.latencies.push(latency),
            Err(err) => {
                self.errors += 1;
                self.first_error.get_or_insert(err);
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }
}

/// Runs `mix` on every client for `duration`; returns the tallies per route and the time the
/// phase really took.
async fn phase(
    target: &Arc<Target>,
    clients: usize,
    duration: Duration,
    mix: Mix,
) -> (Vec<(Op, Tally)>, Duration) {
    let only_deletes = mix == Mix::Only(Op::DeleteUser);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let target = Arc::clone(target);
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(client as u64 + 1);
            let mut tallies: Vec<(Op, Tally)> = Vec::new();
            while Instant::now() < deadline {
                let op = mix.pick(&mut rng);
                let Some(outcome) = target.run(op, &mut rng, client).await else {
                    if only_deletes {
                        break; // no user left to delete
                    }
                    continue;
                };
                match tallies.iter_mut().find(|(o, _)| *o == op) {
                    Some((_, tally)) => tally.add(outcome),
                    None => {
                        let mut tally = Tally::default();
                        tally.add(outcome);
                        tallies.push((op, tally));
                    }
                }
            }
            tallies
        }));
    }
    let mut merged: Vec<(Op, Tally)> = Vec::new();
    for task in tasks {
        let Ok(tallies) = task.await else { continue };
        for (op, tally) in tallies {
            match merged.iter_mut().find(|(o, _)| *o == op) {
                Some((_, all)) => all.merge(tally),
                None => merged.push((op, tally)),
            }
        }
    }
    for (_, tally) in &mut merged {
        tally.latencies.sort_unstable();
    }
    (merged, started.elapsed())
}

fn report(phase: &str, tallies: &[(Op, Tally)], elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    for (op, tally) in tallies {
        let ok = tally.latencies.len();
        println!(
            "{phase:<8} {:<22} {:>8} {:>7} {:>10.0} {:>9.2} {:>9.2}",
            op.route(),
            ok,
            tally.errors,
            ok as f64 / seconds,
            tally.percentile(0.5),
            tally.percentile(0.99),
        );
        if let Some(err) = &tally.first_error {
            println!("         first error: {err}");
        }
    }
}

/// Creates the users every phase reads and updates.
async fn seed(target: &mut Target, users: usize) -> Result<(), AnyError> {
    let mut rng = Rng::new(0);
    for _ in 0..users {
        target.create(&mut rng, usize::MAX, Instant::now()).await?;
    }
    let created = std::mem::take(&mut *target.deletable.lock().unwrap_or_else(|p| p.into_inner()));
    target.seeded = created;
    Ok(())
}

/// The service this run drives: in this process over a fresh database, or elsewhere.
struct Service {
    base: String,
    stop: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
    cleanup: Cleanup,
}

/// What to remove when the run ends.
enum Cleanup {
    Nothing,
    SqliteFile(std::path::PathBuf),
    PostgresSchema { url: String, schema: String },
}

async fn in_process(args: &Args) -> Result<Service, AnyError> {
    let url = std::env::var("DATABASE_URL").ok();
    let (db, cleanup, what) = match url {
        Some(url) if orm_service::is_postgres_url(&url) => {
            let schema = format!("orm_loadgen_{}", std::process::id());
            let admin = orm_postgres::connect(&url).await?;
            admin
                .execute_raw(&format!("CREATE SCHEMA \"{schema}\""), &[])
                .await?;
            admin.close().await;
            let mut options = orm_postgres::PgOptions::default().search_path(schema.clone());
            if let Some(pool) = args.pool {
                options = options.max_connections(pool);
            }
            let db = orm_postgres::connect_with(&url, options).await?;
            (
                db,
                Cleanup::PostgresSchema {
                    url,
                    schema: schema.clone(),
                },
                format!("PostgreSQL, schema {schema}"),
            )
        }
        Some(url) => (
            sqlite(&url, args.pool).await?,
            Cleanup::Nothing,
            format!("SQLite {url}"),
        ),
        None => {
            let path = std::env::temp_dir().join(format!("orm-loadgen-{}.db", std::process::id()));
            let url = format!("sqlite://{}", path.display());
            (
                sqlite(&url, args.pool).await?,
                Cleanup::SqliteFile(path),
                format!("SQLite {url}"),
            )
        }
    };
    orm_service::prepare(&db).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    println!("service in this process at {base}, on {what}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(orm_service::serve(listener, db, async move {
        let _ = stopped.await;
    }));
    Ok(Service {
        base,
        stop: Some((stop, server)),
        cleanup,
    })
}

async fn sqlite(url: &str, pool: Option<u32>) -> orm_core::Result<Database> {
    let mut options = orm_sqlite::SqliteOptions::default();
    if let Some(pool) = pool {
        options = options.max_connections(pool);
    }
    orm_sqlite::connect_with(url, options).await
}

impl Service {
    async fn shut_down(self) -> Result<(), AnyError> {
        if let Some((stop, server)) = self.stop {
            let _ = stop.send(());
            server.await??;
        }
        match self.cleanup {
            Cleanup::Nothing => {}
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::PostgresSchema { url, schema } => {
                let admin = orm_postgres::connect(&url).await?;
                admin
                    .execute_raw(&format!("DROP SCHEMA \"{schema}\" CASCADE"), &[])
                    .await?;
                admin.close().await;
            }
        }
        Ok(())
    }
}

async fn run(args: Args) -> Result<(), AnyError> {
    let service = match &args.url {
        Some(url) => Service {
            base: url.trim_end_matches('/').to_owned(),
            stop: None,
            cleanup: Cleanup::Nothing,
        },
        None => in_process(&args).await?,
    };
    let outcome = drive(&args, &service.base).await;
    service.shut_down().await?;
    outcome
}

async fn drive(args: &Args, base: &str) -> Result<(), AnyError> {
    let http = Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let mut target = Target {
        http,
        base: base.to_owned(),
        seeded: Vec::new(),
        deletable: Mutex::default(),
    };
    let started = Instant::now();
    seed(&mut target, args.seed).await?;
    println!(
        "seeded {} users with 2 addresses each in {:.1?}",
        args.seed,
        started.elapsed()
    );
    println!(
        "{} clients, {:?} per phase\n{:<8} {:<22} {:>8} {:>7} {:>10} {:>9} {:>9}",
        args.clients, args.duration, "phase", "route", "ok", "errors", "req/s", "p50 ms", "p99 ms"
    );
    let target = Arc::new(target);
    let phases = [
        ("get", Mix::Only(Op::GetUser)),
        ("list", Mix::Only(Op::ListUsers)),
        ("create", Mix::Only(Op::CreateUser)),
        ("patch", Mix::Only(Op::PatchUser)),
        // Deletes the users the create phase made, until the time is up or none is left.
        ("delete", Mix::Only(Op::DeleteUser)),
        ("mixed", Mix::Mixed),
    ];
    for (name, mix) in phases {
        let (tallies, elapsed) = phase(&target, args.clients, args.duration, mix).await;
        report(name, &tallies, elapsed);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("loadgen: {err}");
            ExitCode::FAILURE
        }
    }
}
