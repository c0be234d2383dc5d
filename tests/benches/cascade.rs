//! The cascade benchmark (issue 4): each workload through the ORM and through hand-written sqlx
//! (the floor), side by side, on fresh databases: SQLite files (the default) or PostgreSQL
//! schemas (`--backend postgres`).
//!
//! ```text
//! cargo bench -p orm-tests --bench cascade                        # shapes M and L, every op
//! cargo bench -p orm-tests --bench cascade -- --shape S --op load  # one shape, one op
//! cargo bench -p orm-tests --bench cascade -- --json               # one JSON object per line
//! ORM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p orm-tests --bench cascade -- --backend postgres
//! ```
//!
//! Flags (after `--`): `--backend sqlite|postgres` (default `sqlite`; both may be named,
//! repeated or comma-separated, and run one after the other), `--shape S|M|L` and `--op NAME`
//! (repeatable or comma-separated), `--json`, `--runs N` (timed runs per side, default 5). Ops:
//! `insert`, `delete-cascade`, `delete-orphan`, `load`, `update`, `tree-delete`. `tree-delete`
//! does not depend on the shape: it runs once, reported with shape `tree` (depth 8, fan-out 4:
//! 87,381 nodes). Each JSON line names its `backend`; the text output names it above its table.
//!
//! `load` has two ORM sides, each reported against the same floor: `orm` (tracked objects:
//! `query().load(..).all()`, `related`, `preload`, every row in the identity map) and
//! `owned` (read-only values: `all_owned()` per level, children and grandchildren filtered with
//! `is_in` on the keys read, as the floor does), on its own line `load (owned)` (JSON: every
//! line has `"orm":"tracked"`, the owned line `"orm":"owned"`).
//!
//! How a measurement is taken:
//! - every run (warm-up or timed, ORM or floor) gets a NEW database (below): schema through
//!   `Database::create_all` (FK columns indexed), the rows the op needs inserted by the floor's
//!   fast insert, the database settled, then a new connection for the side being measured (so
//!   caches start equally cold; the ORM's pool gets two, each warmed with one read, since sqlx
//!   returns a connection to the pool in a task of its own and a pool with one connection would
//!   open a second one inside the op); setup is not timed;
//! - one warm-up and `--runs` timed runs per side, alternating ORM and floor; medians reported;
//! - statements: the delta of `Database::statements_executed()` for the ORM (BEGIN and COMMIT
//!   included), the floor counts its own the same way;
//! - peak heap: a counting global allocator (`peak_alloc`, which wraps `System` with atomics
//!   for the current and peak byte counts; the workspace forbids `unsafe`, so the bench cannot
//!   implement `GlobalAlloc` itself). The peak is reset just before the op, and the reported
//!   number is the peak minus the bytes live at that moment. SQLite's own C allocations (page
//!   cache) are not seen by it, for either side; the PostgreSQL driver's buffers are Rust
//!   allocations and are counted, for both sides (the server's memory is not);
//! - after every run the database is checked (row counts, links, the op's effect): a wrong
//!   result fails the benchmark with a message and a non-zero exit code.
//!
//! SQLite (`--backend sqlite`): a temporary file per run (WAL, synchronous=NORMAL, foreign keys
//! on), settled with `PRAGMA wal_checkpoint(TRUNCATE)`. The floor is one `SqliteConnection`:
//! multi-row `INSERT ... VALUES` with keys from `last_insert_rowid()`, key lists as IN-lists in
//! chunks under the 32,766-parameter limit, `UPDATE ... FROM (VALUES ...)`, one recursive CTE
//! for the tree.
//!
//! PostgreSQL (`--backend postgres`): the database `ORM_TEST_POSTGRES_URL` points to (for
//! example `postgres://postgres@127.0.0.1:5432/test`; without it the bench refuses to start).
//! Every run gets a schema of its own, `orm_bench_<unix seconds>_<pid>_<n>`, that both sides
//! reach through `search_path` (the ORM through `orm_postgres::connect_with` and
//! `PgOptions::default().search_path(..)`, the floor on one `PgConnection` with the
//! `search_path` startup option) and that is dropped (`DROP SCHEMA ... CASCADE`) after the run
//! and its checks; such schemas older than an hour, left by a killed run, are dropped at start.
//! Settling is `VACUUM (ANALYZE)` of the tables and a `CHECKPOINT` (when the role may), so that
//! hint bits, planner statistics, autovacuum and the setup's dirty buffers fall on neither side.
//! The floor binds every list as one array parameter: each table's rows are inserted by one
//! `INSERT ... SELECT * FROM UNNEST($1::bigint[], $2::text[]) RETURNING id` (keys come back in
//! row order), deletes and loads select by `parent_id = ANY($1)` with a `bigint[]`, the update
//! is one `UPDATE child ... FROM UNNEST($1::bigint[], $2::text[])`, and tree-delete the same one
//! recursive CTE as on SQLite.
//!
//! Run without `--bench` (as `cargo test --benches` does), it is a quick smoke test: shape S,
//! no warm-up, one run per side, a small tree; on SQLite, then on PostgreSQL if
//! `ORM_TEST_POSTGRES_URL` is set (if not, a note on stderr says PostgreSQL was skipped).

use orm_core::prelude::*;
use orm_tests::harness::{postgres_url, POSTGRES_URL_VAR};
use peak_alloc::PeakAlloc;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgRow};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor as _, Postgres, Row, Sqlite};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = std::result::Result<T, BoxError>;
type Q<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;
type PgQ<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// SQLite's bound-parameter limit (SQLITE_MAX_VARIABLE_NUMBER since 3.32).
const MAX_PARAMS: usize = 32_766;

// ---------------------------------------------------------------------------------------------
// Models

/// A parent row; deleting it deletes its children (and theirs).
#[derive(Model, Debug)]
#[model(table = "parent")]
pub struct Parent {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    #[relationship(back_populates = "parent", cascade = "all, delete-orphan")]
    pub children: HasMany<Child>,
}

/// A child of a parent, itself the parent of grandchildren.
#[derive(Model, Debug)]
#[model(table = "child")]
pub struct Child {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "parent.id")]
    pub parent_id: Option<i64>,
    pub name: String,
    #[relationship(back_populates = "children")]
    pub parent: BelongsTo<Parent>,
    #[relationship(back_populates = "child", cascade = "all, delete-orphan")]
    pub grandchildren: HasMany<Grandchild>,
}

/// The leaf level.
#[derive(Model, Debug)]
#[model(table = "grandchild")]
pub struct Grandchild {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "child.id")]
    pub child_id: Option<i64>,
    pub payload: String,
    #[relationship(back_populates = "grandchildren")]
    pub child: BelongsTo<Child>,
}

/// A self-referential tree; the cascade is the ORM's (no `ON DELETE CASCADE` in the schema).
#[derive(Model, Debug)]
#[model(table = "node")]
pub struct Node {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "node.id")]
    pub parent_id: Option<i64>,
    #[relationship(back_populates = "children")]
    pub parent: BelongsTo<Node>,
    #[relationship(back_populates = "parent", cascade = "all, delete-orphan")]
    pub children: HasMany<Node>,
}

// ---------------------------------------------------------------------------------------------
// Shapes, ops, backends, options

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    name: &'static str,
    parents: usize,
    /// Children per parent.
    children: usize,
    /// Grandchildren per child.
    grandchildren: usize,
}

const SHAPES: [Shape; 3] = [
    Shape {
        name: "S",
        parents: 1,
        children: 10_000,
        grandchildren: 0,
    },
    Shape {
        name: "M",
        parents: 10,
        children: 1_000,
        grandchildren: 10,
    },
    Shape {
        name: "L",
        parents: 1,
        children: 10_000,
        grandchildren: 20,
    },
];

impl Shape {
    fn total_children(&self) -> usize {
        self.parents * self.children
    }
    fn total_grandchildren(&self) -> usize {
        self.total_children() * self.grandchildren
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Insert,
    DeleteCascade,
    DeleteOrphan,
    Load,
    Update,
    TreeDelete,
}

const OPS: [Op; 6] = [
    Op::Insert,
    Op::DeleteCascade,
    Op::DeleteOrphan,
    Op::Load,
    Op::Update,
    Op::TreeDelete,
];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::DeleteCascade => "delete-cascade",
            Op::DeleteOrphan => "delete-orphan",
            Op::Load => "load",
            Op::Update => "update",
            Op::TreeDelete => "tree-delete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Orm,
    /// The ORM's read-only values (`all_owned`), for `load` only.
    Owned,
    Floor,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Orm => "orm",
            Side::Owned => "owned",
            Side::Floor => "floor",
        }
    }
}

/// The sides `op` is measured on, in the order they alternate.
fn sides(op: Op) -> &'static [Side] {
    match op {
        Op::Load => &[Side::Orm, Side::Owned, Side::Floor],
        _ => &[Side::Orm, Side::Floor],
    }
}

/// The database server a benchmark runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Backend {
    /// A SQLite file per run.
    Sqlite,
    /// A schema per run in the PostgreSQL database at `url`.
    Postgres { url: String },
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }
}

#[derive(Debug)]
struct Options {
    backends: Vec<Backend>,
    /// The smoke test left PostgreSQL out: `ORM_TEST_POSTGRES_URL` is not set.
    postgres_skipped: bool,
    shapes: Vec<Shape>,
    ops: Vec<Op>,
    json: bool,
    runs: usize,
    warmups: usize,
    /// Depth of the tree of `tree-delete` (root at depth 0).
    tree_depth: u32,
}

const TREE_FANOUT: usize = 4;

fn parse_args() -> Result<Options, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench_mode = args.iter().any(|a| a == "--bench");
    let mut backends: Vec<&'static str> = Vec::new();
    let mut shapes = Vec::new();
    let mut ops = Vec::new();
    let mut json = false;
    let mut runs = None;
    let mut any_flag = false;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (arg, None),
        };
        let value = |i: &mut usize| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            *i += 1;
            args.get(*i)
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--bench" => {}
            "--json" => {
                json = true;
                any_flag = true;
            }
            // Not a change of the workload: the smoke test stays quick on either backend.
            "--backend" => {
                for name in value(&mut i)?.split(',') {
                    let backend = match name.trim().to_ascii_lowercase().as_str() {
                        "sqlite" => "sqlite",
                        "postgres" | "postgresql" => "postgres",
                        _ => return Err(format!("unknown backend `{name}` (sqlite or postgres)")),
                    };
                    if !backends.contains(&backend) {
                        backends.push(backend);
                    }
                }
            }
            "--shape" => {
                any_flag = true;
                for name in value(&mut i)?.split(',') {
                    let shape = SHAPES
                        .iter()
                        .find(|s| s.name.eq_ignore_ascii_case(name.trim()))
                        .ok_or_else(|| format!("unknown shape `{name}` (S, M or L)"))?;
                    if !shapes.contains(shape) {
                        shapes.push(*shape);
                    }
                }
            }
            "--op" => {
                any_flag = true;
                for name in value(&mut i)?.split(',') {
                    let op = OPS
                        .iter()
                        .find(|o| o.name() == name.trim())
                        .ok_or_else(|| {
                            let names: Vec<&str> = OPS.iter().map(|o| o.name()).collect();
                            format!("unknown op `{name}` (one of {})", names.join(", "))
                        })?;
                    if !ops.contains(op) {
                        ops.push(*op);
                    }
                }
            }
            "--runs" => {
                any_flag = true;
                let v = value(&mut i)?;
                runs = Some(
                    v.parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("--runs needs a positive number, not `{v}`"))?,
                );
            }
            // Run by `cargo test` (no --bench), the harness may be handed test filters: ignore.
            _ if !bench_mode => {}
            other => {
                return Err(format!(
                    "unknown argument `{other}`; flags: --backend sqlite|postgres, \
                     --shape S|M|L, --op NAME, --json, --runs N"
                ))
            }
        }
        i += 1;
    }
    let quick = !bench_mode && !any_flag;
    let url = postgres_url();
    let mut postgres_skipped = false;
    if backends.is_empty() {
        backends.push("sqlite");
        // The smoke test covers PostgreSQL whenever a server is configured.
        if !bench_mode {
            if url.is_some() {
                backends.push("postgres");
            } else {
                postgres_skipped = true;
            }
        }
    }
    let backends = backends
        .into_iter()
        .map(|name| match name {
            "postgres" => url
                .clone()
                .map(|url| Backend::Postgres { url })
                .ok_or_else(|| {
                    format!(
                        "--backend postgres needs the database in the environment variable \
                         {POSTGRES_URL_VAR}; set it, e.g. \
                         {POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/test"
                    )
                }),
            _ => Ok(Backend::Sqlite),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if shapes.is_empty() {
        shapes = if quick {
            vec![SHAPES[0]]
        } else {
            vec![SHAPES[1], SHAPES[2]]
        };
    }
    if ops.is_empty() {
        ops = OPS.to_vec();
    }
    Ok(Options {
        backends,
        postgres_skipped,
        shapes,
        ops,
        json,
        runs: runs.unwrap_or(if quick { 1 } else { 5 }),
        warmups: if quick { 0 } else { 1 },
        tree_depth: if quick { 5 } else { 8 },
    })
}

// ---------------------------------------------------------------------------------------------
// Data

fn parent_name(p: usize) -> String {
    format!("p{p}")
}
fn child_name(p: usize, c: usize) -> String {
    format!("c{p}.{c}")
}
/// Starts with the child's name, so the link can be checked in SQL.
fn payload(p: usize, c: usize, g: usize) -> String {
    format!("c{p}.{c}/g{g}")
}

/// The floor's rows: plain structs, keys filled in after insert.
#[derive(Debug)]
struct PRow {
    id: Option<i64>,
    name: String,
    children: Vec<CRow>,
}
#[derive(Debug)]
struct CRow {
    id: Option<i64>,
    parent_id: Option<i64>,
    name: String,
    grandchildren: Vec<GRow>,
}
#[derive(Debug)]
struct GRow {
    id: Option<i64>,
    child_id: Option<i64>,
    payload: String,
}

fn build_rows(shape: Shape) -> Vec<PRow> {
    (0..shape.parents)
        .map(|p| PRow {
            id: None,
            name: parent_name(p),
            children: (0..shape.children)
                .map(|c| CRow {
                    id: None,
                    parent_id: None,
                    name: child_name(p, c),
                    grandchildren: (0..shape.grandchildren)
                        .map(|g| GRow {
                            id: None,
                            child_id: None,
                            payload: payload(p, c, g),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

/// The rows of a query, decoded the same way on either backend.
trait FromRow: Sized {
    fn from_row<R: Row>(row: R) -> Result<Self, sqlx::Error>
    where
        usize: sqlx::ColumnIndex<R>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>;
}

impl FromRow for PRow {
    /// `id, name`
    fn from_row<R: Row>(row: R) -> Result<Self, sqlx::Error>
    where
        usize: sqlx::ColumnIndex<R>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(PRow {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            children: Vec::new(),
        })
    }
}

impl FromRow for CRow {
    /// `id, parent_id, name`
    fn from_row<R: Row>(row: R) -> Result<Self, sqlx::Error>
    where
        usize: sqlx::ColumnIndex<R>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(CRow {
            id: row.try_get(0)?,
            parent_id: row.try_get(1)?,
            name: row.try_get(2)?,
            grandchildren: Vec::new(),
        })
    }
}

impl FromRow for GRow {
    /// `id, child_id, payload`
    fn from_row<R: Row>(row: R) -> Result<Self, sqlx::Error>
    where
        usize: sqlx::ColumnIndex<R>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(GRow {
            id: row.try_get(0)?,
            child_id: row.try_get(1)?,
            payload: row.try_get(2)?,
        })
    }
}

/// A table the floor inserts into: with multi-row `INSERT ... VALUES` on SQLite, with one
/// `INSERT ... SELECT * FROM UNNEST(...)` of column arrays on PostgreSQL.
trait InsertRow: Sized {
    const TABLE: &'static str;
    const COLUMNS: &'static [&'static str];
    /// The whole table's rows in one statement, one array parameter per column.
    const PG_INSERT: &'static str;
    fn bind<'q>(&self, q: Q<'q>) -> Q<'q>;
    /// Binds the column arrays of `rows` to [`PG_INSERT`](Self::PG_INSERT).
    fn bind_columns<'q>(rows: &[&mut Self], q: PgQ<'q>) -> PgQ<'q>;
    fn set_id(&mut self, id: i64);
}

impl InsertRow for PRow {
    const TABLE: &'static str = "parent";
    const COLUMNS: &'static [&'static str] = &["name"];
    const PG_INSERT: &'static str =
        "INSERT INTO parent (name) SELECT * FROM UNNEST($1::text[]) RETURNING id";
    fn bind<'q>(&self, q: Q<'q>) -> Q<'q> {
        q.bind(self.name.as_str())
    }
    fn bind_columns<'q>(rows: &[&mut Self], q: PgQ<'q>) -> PgQ<'q> {
        q.bind(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
    }
    fn set_id(&mut self, id: i64) {
        self.id = Some(id);
    }
}
impl InsertRow for CRow {
    const TABLE: &'static str = "child";
    const COLUMNS: &'static [&'static str] = &["parent_id", "name"];
    const PG_INSERT: &'static str = "INSERT INTO child (parent_id, name) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[]) RETURNING id";
    fn bind<'q>(&self, q: Q<'q>) -> Q<'q> {
        q.bind(self.parent_id).bind(self.name.as_str())
    }
    fn bind_columns<'q>(rows: &[&mut Self], q: PgQ<'q>) -> PgQ<'q> {
        q.bind(rows.iter().map(|r| r.parent_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
    }
    fn set_id(&mut self, id: i64) {
        self.id = Some(id);
    }
}
impl InsertRow for GRow {
    const TABLE: &'static str = "grandchild";
    const COLUMNS: &'static [&'static str] = &["child_id", "payload"];
    const PG_INSERT: &'static str = "INSERT INTO grandchild (child_id, payload) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[]) RETURNING id";
    fn bind<'q>(&self, q: Q<'q>) -> Q<'q> {
        q.bind(self.child_id).bind(self.payload.as_str())
    }
    fn bind_columns<'q>(rows: &[&mut Self], q: PgQ<'q>) -> PgQ<'q> {
        q.bind(rows.iter().map(|r| r.child_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.payload.as_str()).collect::<Vec<_>>())
    }
    fn set_id(&mut self, id: i64) {
        self.id = Some(id);
    }
}

/// `INSERT INTO t (a, b) VALUES (?, ?), (?, ?), ...` texts by row count, reused across chunks.
#[derive(Default)]
struct SqlCache(HashMap<(&'static str, usize), Arc<str>>);

impl SqlCache {
    fn insert(&mut self, table: &'static str, columns: &[&str], rows: usize) -> Arc<str> {
        self.0
            .entry((table, rows))
            .or_insert_with(|| {
                let tuple = format!("({})", vec!["?"; columns.len()].join(", "));
                let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
                for i in 0..rows {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&tuple);
                }
                sql.into()
            })
            .clone()
    }
}

/// `?, ?, ?` for an IN-list.
fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

fn tree_size(depth: u32) -> usize {
    (0..=depth).map(|d| TREE_FANOUT.pow(d)).sum()
}

/// Node `i > 1` of the tree (numbered breadth-first from 1) has parent `(i - 2) / 4 + 1`.
fn tree_parent(i: usize) -> Option<i64> {
    (i > 1).then(|| ((i - 2) / TREE_FANOUT + 1) as i64)
}

// ---------------------------------------------------------------------------------------------
// The floors: what a careful person writes with sqlx, on each backend

/// The statements of the floor, per backend; every op's frame around them (timing, heap,
/// statement count, checks) is shared and generic over the sqlx database. Each method counts
/// the statements it sends in `stmts`.
trait Floor: sqlx::Database {
    /// Inserts `rows` into their table; their generated keys reach the structs.
    async fn insert_rows<R: InsertRow>(
        conn: &mut Self::Connection,
        cache: &mut SqlCache,
        rows: &mut [&mut R],
        stmts: &mut u64,
    ) -> Res<()>;
    /// The `tree-delete` fixture: the whole tree with explicit keys, in one transaction.
    async fn insert_tree(conn: &mut Self::Connection, depth: u32) -> Res<()>;
    /// Deletes the grandchildren, the children and the parents of `parent_keys`: one statement
    /// per level (per chunk of keys where the backend needs chunks).
    async fn delete_families(
        conn: &mut Self::Connection,
        parent_keys: &[i64],
        stmts: &mut u64,
    ) -> Res<()>;
    /// The parent with key `id`.
    async fn parent(conn: &mut Self::Connection, id: i64) -> Res<PRow>;
    /// The children of one parent.
    async fn children_of(conn: &mut Self::Connection, parent: Option<i64>) -> Res<Vec<CRow>>;
    /// Deletes the grandchildren of the children `ids`, then those children.
    async fn delete_children(conn: &mut Self::Connection, ids: &[i64], stmts: &mut u64) -> Res<()>;
    /// Every parent.
    async fn parents(conn: &mut Self::Connection) -> Res<Vec<PRow>>;
    /// The children of the parents `keys`, appended to `out`.
    async fn children_in(
        conn: &mut Self::Connection,
        keys: &[i64],
        out: &mut Vec<CRow>,
        stmts: &mut u64,
    ) -> Res<()>;
    /// The grandchildren of the children `keys`, appended to `out`.
    async fn grandchildren_in(
        conn: &mut Self::Connection,
        keys: &[i64],
        out: &mut Vec<GRow>,
        stmts: &mut u64,
    ) -> Res<()>;
    /// Every child.
    async fn children(conn: &mut Self::Connection) -> Res<Vec<CRow>>;
    /// Writes the names of `children` (by key).
    async fn rename_children(
        conn: &mut Self::Connection,
        children: &[CRow],
        stmts: &mut u64,
    ) -> Res<()>;
    /// Deletes node `root` and its descendants in one statement.
    async fn delete_subtree(conn: &mut Self::Connection, root: i64) -> Res<()>;
}

/// SQLite: IN-lists and multi-row VALUES, in chunks under the parameter limit.
impl Floor for Sqlite {
    /// Inserts `rows` in chunks under the parameter limit; generated keys come from
    /// `last_insert_rowid()` (rowids of one multi-row insert are consecutive on a fresh table
    /// written by one connection).
    async fn insert_rows<R: InsertRow>(
        conn: &mut SqliteConnection,
        cache: &mut SqlCache,
        rows: &mut [&mut R],
        stmts: &mut u64,
    ) -> Res<()> {
        let per = MAX_PARAMS / R::COLUMNS.len();
        for chunk in rows.chunks_mut(per) {
            let sql = cache.insert(R::TABLE, R::COLUMNS, chunk.len());
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for row in chunk.iter() {
                q = row.bind(q);
            }
            *stmts += 1;
            let last = q.execute(&mut *conn).await?.last_insert_rowid();
            let first = last - chunk.len() as i64 + 1;
            for (i, row) in chunk.iter_mut().enumerate() {
                row.set_id(first + i as i64);
            }
        }
        Ok(())
    }

    async fn insert_tree(conn: &mut SqliteConnection, depth: u32) -> Res<()> {
        let n = tree_size(depth);
        let mut cache = SqlCache::default();
        let mut tx = conn.begin().await?;
        let ids: Vec<usize> = (1..=n).collect();
        for chunk in ids.chunks(MAX_PARAMS / 2) {
            let sql = cache.insert("node", &["id", "parent_id"], chunk.len());
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for &i in chunk {
                q = q.bind(i as i64).bind(tree_parent(i));
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `DELETE FROM grandchild WHERE child_id IN (SELECT id FROM child WHERE parent_id IN
    /// (...))`, then the children, then the parents.
    async fn delete_families(
        conn: &mut SqliteConnection,
        parent_keys: &[i64],
        stmts: &mut u64,
    ) -> Res<()> {
        for chunk in parent_keys.chunks(MAX_PARAMS) {
            let list = placeholders(chunk.len());
            for sql in [
                format!("DELETE FROM grandchild WHERE child_id IN (SELECT id FROM child WHERE parent_id IN ({list}))"),
                format!("DELETE FROM child WHERE parent_id IN ({list})"),
                format!("DELETE FROM parent WHERE id IN ({list})"),
            ] {
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for k in chunk {
                    q = q.bind(k);
                }
                q.execute(&mut *conn).await?;
                *stmts += 1;
            }
        }
        Ok(())
    }

    async fn parent(conn: &mut SqliteConnection, id: i64) -> Res<PRow> {
        Ok(sqlx::query("SELECT id, name FROM parent WHERE id = ?")
            .bind(id)
            .try_map(PRow::from_row::<SqliteRow>)
            .fetch_one(&mut *conn)
            .await?)
    }

    async fn children_of(conn: &mut SqliteConnection, parent: Option<i64>) -> Res<Vec<CRow>> {
        Ok(
            sqlx::query("SELECT id, parent_id, name FROM child WHERE parent_id = ?")
                .bind(parent)
                .try_map(CRow::from_row::<SqliteRow>)
                .fetch_all(&mut *conn)
                .await?,
        )
    }

    async fn delete_children(conn: &mut SqliteConnection, ids: &[i64], stmts: &mut u64) -> Res<()> {
        for chunk in ids.chunks(MAX_PARAMS) {
            let list = placeholders(chunk.len());
            for sql in [
                format!("DELETE FROM grandchild WHERE child_id IN ({list})"),
                format!("DELETE FROM child WHERE id IN ({list})"),
            ] {
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(id);
                }
                q.execute(&mut *conn).await?;
                *stmts += 1;
            }
        }
        Ok(())
    }

    async fn parents(conn: &mut SqliteConnection) -> Res<Vec<PRow>> {
        Ok(sqlx::query("SELECT id, name FROM parent")
            .try_map(PRow::from_row::<SqliteRow>)
            .fetch_all(&mut *conn)
            .await?)
    }

    async fn children_in(
        conn: &mut SqliteConnection,
        keys: &[i64],
        out: &mut Vec<CRow>,
        stmts: &mut u64,
    ) -> Res<()> {
        sqlite_select_in(
            conn,
            "SELECT id, parent_id, name FROM child WHERE parent_id IN",
            keys,
            out,
            stmts,
        )
        .await
    }

    async fn grandchildren_in(
        conn: &mut SqliteConnection,
        keys: &[i64],
        out: &mut Vec<GRow>,
        stmts: &mut u64,
    ) -> Res<()> {
        sqlite_select_in(
            conn,
            "SELECT id, child_id, payload FROM grandchild WHERE child_id IN",
            keys,
            out,
            stmts,
        )
        .await
    }

    async fn children(conn: &mut SqliteConnection) -> Res<Vec<CRow>> {
        Ok(sqlx::query("SELECT id, parent_id, name FROM child")
            .try_map(CRow::from_row::<SqliteRow>)
            .fetch_all(&mut *conn)
            .await?)
    }

    /// `UPDATE child SET name = v.column2 FROM (VALUES (?, ?), ...) AS v WHERE child.id =
    /// v.column1` per chunk.
    async fn rename_children(
        conn: &mut SqliteConnection,
        children: &[CRow],
        stmts: &mut u64,
    ) -> Res<()> {
        for chunk in children.chunks(MAX_PARAMS / 2) {
            let mut sql = String::from("UPDATE child SET name = v.column2 FROM (VALUES ");
            for i in 0..chunk.len() {
                sql.push_str(if i == 0 { "(?, ?)" } else { ", (?, ?)" });
            }
            sql.push_str(") AS v WHERE child.id = v.column1");
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for c in chunk {
                q = q.bind(c.id).bind(c.name.as_str());
            }
            q.execute(&mut *conn).await?;
            *stmts += 1;
        }
        Ok(())
    }

    /// One recursive CTE (SQLite checks the self-referencing foreign key at the end of the
    /// statement).
    async fn delete_subtree(conn: &mut SqliteConnection, root: i64) -> Res<()> {
        sqlx::query(
            "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL \
             SELECT node.id FROM node JOIN sub ON node.parent_id = sub.id) \
             DELETE FROM node WHERE id IN (SELECT id FROM sub)",
        )
        .bind(root)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// Selects rows of `sql_head (...)` for the keys, in chunks of the IN-list.
async fn sqlite_select_in<T: FromRow + Send + Unpin + 'static>(
    conn: &mut SqliteConnection,
    sql_head: &str,
    keys: &[i64],
    out: &mut Vec<T>,
    stmts: &mut u64,
) -> Res<()> {
    for chunk in keys.chunks(MAX_PARAMS) {
        let sql = format!("{sql_head} ({})", placeholders(chunk.len()));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(k);
        }
        out.extend(
            q.try_map(T::from_row::<SqliteRow>)
                .fetch_all(&mut *conn)
                .await?,
        );
        *stmts += 1;
    }
    Ok(())
}

/// PostgreSQL: every list is one array parameter, so every step is one statement whatever the
/// number of rows.
impl Floor for Postgres {
    /// `INSERT ... SELECT * FROM UNNEST($1::bigint[], $2::text[]) RETURNING id`: the keys come
    /// back in the order of the arrays.
    async fn insert_rows<R: InsertRow>(
        conn: &mut PgConnection,
        _cache: &mut SqlCache,
        rows: &mut [&mut R],
        stmts: &mut u64,
    ) -> Res<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = R::bind_columns(rows, sqlx::query(R::PG_INSERT))
            .try_map(|row: PgRow| row.try_get(0))
            .fetch_all(&mut *conn)
            .await?;
        *stmts += 1;
        ensure(ids.len() == rows.len(), || {
            format!(
                "inserting {} rows into {} returned {} keys",
                rows.len(),
                R::TABLE,
                ids.len()
            )
        })?;
        for (row, id) in rows.iter_mut().zip(ids) {
            row.set_id(id);
        }
        Ok(())
    }

    async fn insert_tree(conn: &mut PgConnection, depth: u32) -> Res<()> {
        let n = tree_size(depth);
        let ids: Vec<i64> = (1..=n as i64).collect();
        let parents: Vec<Option<i64>> = (1..=n).map(tree_parent).collect();
        let mut tx = conn.begin().await?;
        sqlx::query(
            "INSERT INTO node (id, parent_id) SELECT * FROM UNNEST($1::bigint[], $2::bigint[])",
        )
        .bind(ids)
        .bind(parents)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_families(
        conn: &mut PgConnection,
        parent_keys: &[i64],
        stmts: &mut u64,
    ) -> Res<()> {
        for sql in [
            "DELETE FROM grandchild WHERE child_id IN \
             (SELECT id FROM child WHERE parent_id = ANY($1))",
            "DELETE FROM child WHERE parent_id = ANY($1)",
            "DELETE FROM parent WHERE id = ANY($1)",
        ] {
            sqlx::query(sql)
                .bind(parent_keys)
                .execute(&mut *conn)
                .await?;
            *stmts += 1;
        }
        Ok(())
    }

    async fn parent(conn: &mut PgConnection, id: i64) -> Res<PRow> {
        Ok(sqlx::query("SELECT id, name FROM parent WHERE id = $1")
            .bind(id)
            .try_map(PRow::from_row::<PgRow>)
            .fetch_one(&mut *conn)
            .await?)
    }

    async fn children_of(conn: &mut PgConnection, parent: Option<i64>) -> Res<Vec<CRow>> {
        Ok(
            sqlx::query("SELECT id, parent_id, name FROM child WHERE parent_id = $1")
                .bind(parent)
                .try_map(CRow::from_row::<PgRow>)
                .fetch_all(&mut *conn)
                .await?,
        )
    }

    async fn delete_children(conn: &mut PgConnection, ids: &[i64], stmts: &mut u64) -> Res<()> {
        for sql in [
            "DELETE FROM grandchild WHERE child_id = ANY($1)",
            "DELETE FROM child WHERE id = ANY($1)",
        ] {
            sqlx::query(sql).bind(ids).execute(&mut *conn).await?;
            *stmts += 1;
        }
        Ok(())
    }

    async fn parents(conn: &mut PgConnection) -> Res<Vec<PRow>> {
        Ok(sqlx::query("SELECT id, name FROM parent")
            .try_map(PRow::from_row::<PgRow>)
            .fetch_all(&mut *conn)
            .await?)
    }

    async fn children_in(
        conn: &mut PgConnection,
        keys: &[i64],
        out: &mut Vec<CRow>,
        stmts: &mut u64,
    ) -> Res<()> {
        out.extend(
            sqlx::query("SELECT id, parent_id, name FROM child WHERE parent_id = ANY($1)")
                .bind(keys)
                .try_map(CRow::from_row::<PgRow>)
                .fetch_all(&mut *conn)
                .await?,
        );
        *stmts += 1;
        Ok(())
    }

    async fn grandchildren_in(
        conn: &mut PgConnection,
        keys: &[i64],
        out: &mut Vec<GRow>,
        stmts: &mut u64,
    ) -> Res<()> {
        out.extend(
            sqlx::query("SELECT id, child_id, payload FROM grandchild WHERE child_id = ANY($1)")
                .bind(keys)
                .try_map(GRow::from_row::<PgRow>)
                .fetch_all(&mut *conn)
                .await?,
        );
        *stmts += 1;
        Ok(())
    }

    async fn children(conn: &mut PgConnection) -> Res<Vec<CRow>> {
        Ok(sqlx::query("SELECT id, parent_id, name FROM child")
            .try_map(CRow::from_row::<PgRow>)
            .fetch_all(&mut *conn)
            .await?)
    }

    /// One `UPDATE child SET name = v.name FROM UNNEST($1::bigint[], $2::text[]) AS v(id, name)
    /// WHERE child.id = v.id`.
    async fn rename_children(
        conn: &mut PgConnection,
        children: &[CRow],
        stmts: &mut u64,
    ) -> Res<()> {
        let ids: Vec<Option<i64>> = children.iter().map(|c| c.id).collect();
        let names: Vec<&str> = children.iter().map(|c| c.name.as_str()).collect();
        sqlx::query(
            "UPDATE child SET name = v.name FROM UNNEST($1::bigint[], $2::text[]) AS v(id, name) \
             WHERE child.id = v.id",
        )
        .bind(ids)
        .bind(names)
        .execute(&mut *conn)
        .await?;
        *stmts += 1;
        Ok(())
    }

    /// One recursive CTE (PostgreSQL checks the self-referencing foreign key, `NO ACTION`, at
    /// the end of the statement).
    async fn delete_subtree(conn: &mut PgConnection, root: i64) -> Res<()> {
        sqlx::query(
            "WITH RECURSIVE sub(id) AS (SELECT $1::bigint UNION ALL \
             SELECT node.id FROM node JOIN sub ON node.parent_id = sub.id) \
             DELETE FROM node WHERE id IN (SELECT id FROM sub)",
        )
        .bind(root)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// The floor's insert of a whole tree, in one transaction; keys reach the structs.
async fn floor_insert<DB: Floor>(conn: &mut DB::Connection, parents: &mut [PRow]) -> Res<u64> {
    let mut stmts = 0;
    let mut cache = SqlCache::default();
    let mut tx = conn.begin().await?;
    stmts += 1;
    {
        let mut refs: Vec<&mut PRow> = parents.iter_mut().collect();
        DB::insert_rows(&mut *tx, &mut cache, &mut refs, &mut stmts).await?;
    }
    for p in parents.iter_mut() {
        for c in &mut p.children {
            c.parent_id = p.id;
        }
    }
    {
        let mut refs: Vec<&mut CRow> = parents.iter_mut().flat_map(|p| &mut p.children).collect();
        DB::insert_rows(&mut *tx, &mut cache, &mut refs, &mut stmts).await?;
    }
    for c in parents.iter_mut().flat_map(|p| &mut p.children) {
        for g in &mut c.grandchildren {
            g.child_id = c.id;
        }
    }
    {
        let mut refs: Vec<&mut GRow> = parents
            .iter_mut()
            .flat_map(|p| &mut p.children)
            .flat_map(|c| &mut c.grandchildren)
            .collect();
        DB::insert_rows(&mut *tx, &mut cache, &mut refs, &mut stmts).await?;
    }
    tx.commit().await?;
    stmts += 1;
    Ok(stmts)
}

// ---------------------------------------------------------------------------------------------
// Databases

const MODELS: [&orm_core::meta::ModelMeta; 4] =
    [Parent::META, Child::META, Grandchild::META, Node::META];

/// A fresh database with the schema: a SQLite file, removed when dropped, or a PostgreSQL
/// schema of its own, dropped by [`Fresh::dispose`].
enum Fresh {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
        url: String,
    },
    Postgres {
        url: String,
        schema: String,
    },
}

/// The prefix of the benchmark's PostgreSQL schemas.
const SCHEMA_PREFIX: &str = "orm_bench_";

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Fresh {
    async fn new(backend: &Backend) -> Res<Fresh> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new().prefix("orm-bench-").tempdir()?;
                let path = dir.path().join("bench.db");
                let url = format!("sqlite://{}", path.display());
                let db = orm_sqlite::connect(&url).await?;
                db.create_all(&MODELS).await?;
                db.close().await;
                Ok(Fresh::Sqlite {
                    _dir: dir,
                    path,
                    url,
                })
            }
            Backend::Postgres { url } => {
                static COUNTER: AtomicU64 = AtomicU64::new(0);
                let schema = format!(
                    "{SCHEMA_PREFIX}{}_{}_{}",
                    unix_seconds(),
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed)
                );
                pg_admin(url, &format!("CREATE SCHEMA {schema}")).await?;
                let fresh = Fresh::Postgres {
                    url: url.clone(),
                    schema,
                };
                let created = async {
                    let db = fresh.orm().await?;
                    let created = db.create_all(&MODELS).await;
                    db.close().await;
                    Ok::<_, BoxError>(created?)
                }
                .await;
                match created {
                    Ok(()) => Ok(fresh),
                    Err(e) => {
                        fresh.dispose().await?;
                        Err(e)
                    }
                }
            }
        }
    }

    /// A new ORM database on it (not warmed).
    async fn orm(&self) -> Res<Database> {
        Ok(match self {
            Fresh::Sqlite { url, .. } => orm_sqlite::connect(url).await?,
            Fresh::Postgres { url, schema } => {
                let options = orm_postgres::PgOptions::default().search_path(schema.as_str());
                orm_postgres::connect_with(url, options).await?
            }
        })
    }

    /// A new plain connection: the floor's, the setup's, the checks'.
    async fn conn(&self) -> Res<Conn> {
        Ok(match self {
            Fresh::Sqlite { path, .. } => Conn::Sqlite(sqlite_conn(path).await?),
            Fresh::Postgres { url, schema } => Conn::Postgres(
                PgConnectOptions::from_str(url)?
                    .options([("search_path", schema.as_str())])
                    .connect()
                    .await?,
            ),
        })
    }

    /// Removes the database (a PostgreSQL schema with everything in it).
    async fn dispose(self) -> Res<()> {
        match self {
            Fresh::Sqlite { .. } => Ok(()),
            Fresh::Postgres { url, schema } => {
                pg_admin(
                    &url,
                    &format!("SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {schema} CASCADE"),
                )
                .await
            }
        }
    }
}

async fn sqlite_conn(path: &Path) -> Res<SqliteConnection> {
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .connect()
        .await?)
}

/// Runs administrative SQL (simple protocol, several statements allowed) on a connection of
/// its own to the database itself (no schema on the search path).
async fn pg_admin(url: &str, sql: &str) -> Res<()> {
    let mut conn = PgConnection::connect(url).await?;
    conn.execute(sqlx::raw_sql(AssertSqlSafe(sql))).await?;
    conn.close().await?;
    Ok(())
}

/// The version of the SQLite library the floor and the ORM use, for the report.
async fn sqlite_version() -> Res<String> {
    let mut conn = SqliteConnection::connect("sqlite::memory:").await?;
    let version: String = sqlx::query("SELECT sqlite_version()")
        .fetch_one(&mut conn)
        .await?
        .try_get(0)?;
    conn.close().await?;
    Ok(version)
}

/// Before a PostgreSQL benchmark: the server's version, for the report, and the schemas of
/// earlier runs that were killed (older than an hour) dropped.
async fn pg_prepare(url: &str) -> Res<String> {
    let mut conn = PgConnection::connect(url).await?;
    let version: String = sqlx::query("SHOW server_version")
        .fetch_one(&mut conn)
        .await?
        .try_get(0)?;
    let schemas: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)")
            .bind(SCHEMA_PREFIX)
            .fetch_all(&mut conn)
            .await?;
    let cutoff = unix_seconds().saturating_sub(3600);
    for schema in schemas {
        let created = schema
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(u64::MAX);
        if created < cutoff {
            conn.execute(sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE"
            ))))
            .await?;
        }
    }
    conn.close().await?;
    Ok(version)
}

/// A plain sqlx connection to a fresh database, on either backend: the checks are written
/// once against it (SQL with `?` placeholders, rewritten for PostgreSQL), and the floor runs
/// on the connection inside.
enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Conn {
    /// `sql`, written with `?` placeholders, in the backend's syntax (`$1`, `$2`, ... on
    /// PostgreSQL). The SQL here has no `?` inside string literals.
    fn sql(&self, sql: &str) -> String {
        match self {
            Conn::Sqlite(_) => sql.to_owned(),
            Conn::Postgres(_) => {
                let mut out = String::with_capacity(sql.len() + 8);
                let mut number = 0;
                for c in sql.chars() {
                    if c == '?' {
                        number += 1;
                        let _ = write!(out, "${number}");
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }

    /// The text of the backend (SQL functions differ).
    fn pick(&self, sqlite: &'static str, postgres: &'static str) -> &'static str {
        match self {
            Conn::Sqlite(_) => sqlite,
            Conn::Postgres(_) => postgres,
        }
    }

    /// The single integer a query returns.
    async fn scalar(&mut self, sql: &str) -> Res<i64> {
        let sql = AssertSqlSafe(self.sql(sql));
        Ok(match self {
            Conn::Sqlite(c) => sqlx::query(sql).fetch_one(c).await?.try_get(0)?,
            Conn::Postgres(c) => sqlx::query(sql).fetch_one(c).await?.try_get(0)?,
        })
    }

    /// The text column of the row with key `id`, if there is one (`sql` has one `?`).
    async fn text_by_key(&mut self, sql: &str, id: i64) -> Res<Option<String>> {
        let sql = AssertSqlSafe(self.sql(sql));
        Ok(match self {
            Conn::Sqlite(c) => {
                let row = sqlx::query(sql).bind(id).fetch_optional(c).await?;
                row.map(|r| r.try_get(0)).transpose()?
            }
            Conn::Postgres(c) => {
                let row = sqlx::query(sql).bind(id).fetch_optional(c).await?;
                row.map(|r| r.try_get(0)).transpose()?
            }
        })
    }

    /// How many of the children `ids` are stored.
    async fn children_left(&mut self, ids: &[i64]) -> Res<i64> {
        match self {
            Conn::Sqlite(c) => {
                let mut left = 0;
                for chunk in ids.chunks(MAX_PARAMS) {
                    let sql = format!(
                        "SELECT count(*) FROM child WHERE id IN ({})",
                        placeholders(chunk.len())
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for id in chunk {
                        q = q.bind(id);
                    }
                    left += q.fetch_one(&mut *c).await?.try_get::<i64, _>(0)?;
                }
                Ok(left)
            }
            Conn::Postgres(c) => Ok(sqlx::query("SELECT count(*) FROM child WHERE id = ANY($1)")
                .bind(ids)
                .fetch_one(c)
                .await?
                .try_get(0)?),
        }
    }

    /// Fails unless every foreign-key column has an index (and, SQLite, the file is in WAL
    /// mode).
    async fn check_schema(&mut self) -> Res<()> {
        if let Conn::Sqlite(c) = self {
            let mode: String = sqlx::query("PRAGMA journal_mode")
                .fetch_one(&mut *c)
                .await?
                .try_get(0)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(format!("the database is in journal mode {mode}, not WAL").into());
            }
        }
        for (table, column) in [
            ("child", "parent_id"),
            ("grandchild", "child_id"),
            ("node", "parent_id"),
        ] {
            let sql = self.pick(
                "SELECT count(*) FROM pragma_index_list(?1) AS l \
                 JOIN pragma_index_info(l.name) AS i WHERE i.seqno = 0 AND i.name = ?2",
                "SELECT count(*) FROM pg_index AS x JOIN pg_attribute AS a \
                   ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0] \
                 WHERE x.indrelid = to_regclass($1::text) AND a.attname::text = $2",
            );
            let n: i64 = match self {
                Conn::Sqlite(c) => sqlx::query(sql)
                    .bind(table)
                    .bind(column)
                    .fetch_one(c)
                    .await?
                    .try_get(0)?,
                Conn::Postgres(c) => sqlx::query(sql)
                    .bind(table)
                    .bind(column)
                    .fetch_one(c)
                    .await?
                    .try_get(0)?,
            };
            if n == 0 {
                return Err(format!("foreign-key column {table}.{column} has no index").into());
            }
        }
        Ok(())
    }

    /// After the fixture rows: SQLite moves the WAL into the file; PostgreSQL vacuums and
    /// analyzes the tables and writes the dirty buffers out, so that neither side pays for the
    /// setup.
    async fn settle(&mut self) -> Res<()> {
        match self {
            Conn::Sqlite(c) => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(c)
                    .await?;
            }
            Conn::Postgres(c) => {
                c.execute(sqlx::raw_sql(
                    "VACUUM (ANALYZE) parent, child, grandchild, node",
                ))
                .await?;
                if let Err(e) = c.execute(sqlx::raw_sql("CHECKPOINT")).await {
                    static NOTE: Once = Once::new();
                    NOTE.call_once(|| {
                        eprintln!(
                            "note: CHECKPOINT after setup failed ({e}); the setup's dirty \
                             buffers are written out whenever the server decides"
                        );
                    });
                }
            }
        }
        Ok(())
    }

    async fn close(self) -> Res<()> {
        match self {
            Conn::Sqlite(c) => c.close().await?,
            Conn::Postgres(c) => c.close().await?,
        }
        Ok(())
    }
}

/// The rows an op starts from, inserted by the floor's fast insert (not timed).
async fn setup(fresh: &Fresh, op: Op, shape: Shape, depth: u32, check: bool) -> Res<()> {
    let mut conn = fresh.conn().await?;
    if check {
        conn.check_schema().await?;
    }
    match &mut conn {
        Conn::Sqlite(c) => fixture::<Sqlite>(c, op, shape, depth).await?,
        Conn::Postgres(c) => fixture::<Postgres>(c, op, shape, depth).await?,
    }
    conn.settle().await?;
    conn.close().await
}

async fn fixture<DB: Floor>(
    conn: &mut DB::Connection,
    op: Op,
    shape: Shape,
    depth: u32,
) -> Res<()> {
    match op {
        Op::Insert => {}
        Op::TreeDelete => DB::insert_tree(conn, depth).await?,
        _ => {
            let mut rows = build_rows(shape);
            floor_insert::<DB>(conn, &mut rows).await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Measuring and checking

/// One run's numbers.
#[derive(Debug, Clone, Copy)]
struct Sample {
    time: Duration,
    stmts: u64,
    peak: usize,
}

/// Heap bytes above those live when the op started.
struct HeapProbe {
    base: usize,
}

impl HeapProbe {
    fn start() -> Self {
        HEAP.reset_peak_usage();
        HeapProbe {
            base: HEAP.current_usage(),
        }
    }
    fn peak(&self) -> usize {
        HEAP.peak_usage().saturating_sub(self.base)
    }
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Res<()> {
    if ok {
        Ok(())
    } else {
        Err(what().into())
    }
}

async fn expect_count(conn: &mut Conn, sql: &str, want: usize, what: &str) -> Res<()> {
    let got = conn.scalar(sql).await?;
    ensure(got == want as i64, || {
        format!("{what}: expected {want}, found {got} (`{sql}`)")
    })
}

/// Every child has its parent and every grandchild its child (names encode the links).
async fn check_links(conn: &mut Conn) -> Res<()> {
    let children = conn.pick(
        "SELECT count(*) FROM child LEFT JOIN parent ON parent.id = child.parent_id \
         WHERE parent.id IS NULL \
            OR 'p' || substr(child.name, 2, instr(child.name, '.') - 2) != parent.name",
        "SELECT count(*) FROM child LEFT JOIN parent ON parent.id = child.parent_id \
         WHERE parent.id IS NULL \
            OR 'p' || split_part(substr(child.name, 2), '.', 1) != parent.name",
    );
    expect_count(conn, children, 0, "children without their parent").await?;
    let grandchildren = conn.pick(
        "SELECT count(*) FROM grandchild LEFT JOIN child ON child.id = grandchild.child_id \
         WHERE child.id IS NULL \
            OR substr(grandchild.payload, 1, instr(grandchild.payload, '/') - 1) \
               != rtrim(child.name, '-u')",
        "SELECT count(*) FROM grandchild LEFT JOIN child ON child.id = grandchild.child_id \
         WHERE child.id IS NULL \
            OR split_part(grandchild.payload, '/', 1) != rtrim(child.name, '-u')",
    );
    expect_count(conn, grandchildren, 0, "grandchildren without their child").await
}

async fn check_tree(conn: &mut Conn, shape: Shape) -> Res<()> {
    expect_count(
        conn,
        "SELECT count(*) FROM parent",
        shape.parents,
        "parent rows",
    )
    .await?;
    expect_count(
        conn,
        "SELECT count(*) FROM child",
        shape.total_children(),
        "child rows",
    )
    .await?;
    expect_count(
        conn,
        "SELECT count(*) FROM grandchild",
        shape.total_grandchildren(),
        "grandchild rows",
    )
    .await?;
    check_links(conn).await
}

/// The object `want` (a name or payload) got key `id`: `sql` (one `?`) finds it by that key.
async fn check_key(conn: &mut Conn, sql: &'static str, id: Option<i64>, want: &str) -> Res<()> {
    let id =
        id.ok_or_else(|| format!("an inserted object has no key (expected the row `{want}`)"))?;
    let got = conn.text_by_key(sql, id).await?;
    ensure(got.as_deref() == Some(want), || {
        format!("the object `{want}` got key {id}, but that row holds {got:?}")
    })
}

async fn check_all_deleted(fresh: &Fresh) -> Res<()> {
    let mut conn = fresh.conn().await?;
    expect_count(
        &mut conn,
        "SELECT count(*) FROM parent",
        0,
        "parent rows left",
    )
    .await?;
    expect_count(
        &mut conn,
        "SELECT count(*) FROM child",
        0,
        "child rows left",
    )
    .await?;
    expect_count(
        &mut conn,
        "SELECT count(*) FROM grandchild",
        0,
        "grandchild rows left",
    )
    .await?;
    conn.close().await
}

async fn check_orphans_deleted(fresh: &Fresh, shape: Shape, removed: &[i64]) -> Res<()> {
    let half = shape.children / 2;
    ensure(removed.len() == half, || {
        format!("{} children removed, expected {half}", removed.len())
    })?;
    let mut conn = fresh.conn().await?;
    let children_left = shape.total_children() - half;
    expect_count(
        &mut conn,
        "SELECT count(*) FROM child",
        children_left,
        "child rows",
    )
    .await?;
    expect_count(
        &mut conn,
        "SELECT count(*) FROM child WHERE parent_id = 1",
        shape.children - half,
        "children of parent 1",
    )
    .await?;
    expect_count(
        &mut conn,
        "SELECT count(*) FROM grandchild",
        children_left * shape.grandchildren,
        "grandchild rows",
    )
    .await?;
    expect_count(
        &mut conn,
        "SELECT count(*) FROM parent",
        shape.parents,
        "parent rows",
    )
    .await?;
    let left = conn.children_left(removed).await?;
    ensure(left == 0, || {
        format!("{left} removed children are still stored")
    })?;
    check_links(&mut conn).await?;
    conn.close().await
}

fn check_loaded(shape: Shape, parents: usize, children: usize, grandchildren: usize) -> Res<()> {
    ensure(parents == shape.parents, || {
        format!("loaded {parents} parents, expected {}", shape.parents)
    })?;
    ensure(children == shape.total_children(), || {
        format!(
            "loaded {children} children, expected {}",
            shape.total_children()
        )
    })?;
    ensure(grandchildren == shape.total_grandchildren(), || {
        format!(
            "loaded {grandchildren} grandchildren, expected {}",
            shape.total_grandchildren()
        )
    })
}

async fn check_updated(fresh: &Fresh, shape: Shape) -> Res<()> {
    let mut conn = fresh.conn().await?;
    check_tree(&mut conn, shape).await?;
    let updated = conn.pick(
        "SELECT count(*) FROM child WHERE name GLOB 'c*.*-u' AND name NOT GLOB '*-u-u'",
        "SELECT count(*) FROM child WHERE name LIKE 'c%.%-u' AND name NOT LIKE '%-u-u'",
    );
    expect_count(
        &mut conn,
        updated,
        shape.total_children(),
        "updated children",
    )
    .await?;
    conn.close().await
}

async fn check_tree_deleted(fresh: &Fresh) -> Res<()> {
    let mut conn = fresh.conn().await?;
    expect_count(&mut conn, "SELECT count(*) FROM node", 0, "node rows left").await?;
    conn.close().await
}

// ---------------------------------------------------------------------------------------------
// The ORM side (the same code on both backends)

async fn orm_db(fresh: &Fresh) -> Res<Database> {
    let db = fresh.orm().await?;
    // Warm the connections (schema read) the way the floor's first statement would; not timed.
    // Two of them, read at the same time: sqlx hands a connection back to the pool in a task of
    // its own, so a statement that follows another at once finds none idle and would open a
    // new one (milliseconds on PostgreSQL) inside the timed op, which the floor never does.
    let (mut first, mut second) = (db.session(), db.session());
    let (a, b) = tokio::join!(
        first.query::<Parent>().count(),
        second.query::<Parent>().count()
    );
    drop((first, second));
    if let Err(e) = a.and(b) {
        db.close().await;
        return Err(e.into());
    }
    // Let both connections return to the pool.
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(db)
}

async fn orm_run(op: Op, shape: Shape, fresh: &Fresh) -> Res<Sample> {
    let db = orm_db(fresh).await?;
    let sample = match op {
        Op::Insert => orm_insert(&db, shape, fresh).await,
        Op::DeleteCascade => orm_delete_cascade(&db, shape, fresh).await,
        Op::DeleteOrphan => orm_delete_orphan(&db, shape, fresh).await,
        Op::Load => orm_load(&db, shape).await,
        Op::Update => orm_update(&db, shape, fresh).await,
        Op::TreeDelete => orm_tree_delete(&db, fresh).await,
    };
    db.close().await;
    sample
}

/// The read-only side, measured for `load` only.
async fn owned_run(op: Op, shape: Shape, fresh: &Fresh) -> Res<Sample> {
    if op != Op::Load {
        return Err(format!("no owned side for {}", op.name()).into());
    }
    let db = orm_db(fresh).await?;
    let sample = orm_owned_load(&db, shape).await;
    db.close().await;
    sample
}

async fn orm_insert(db: &Database, shape: Shape, fresh: &Fresh) -> Res<Sample> {
    let stmts0 = db.statements_executed();
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut s = db.session();
    let mut parents = Vec::with_capacity(shape.parents);
    for p in 0..shape.parents {
        let mut parent = Parent {
            id: None,
            name: parent_name(p),
            children: HasMany::new(),
        };
        for c in 0..shape.children {
            let mut child = Child {
                id: None,
                parent_id: None,
                name: child_name(p, c),
                parent: BelongsTo::new(),
                grandchildren: HasMany::new(),
            };
            for g in 0..shape.grandchildren {
                child.grandchildren.push(Grandchild {
                    id: None,
                    child_id: None,
                    payload: payload(p, c, g),
                    child: BelongsTo::new(),
                });
            }
            parent.children.push(child);
        }
        parents.push(s.add(parent)?);
    }
    let building = t0.elapsed();
    // Not timed: handles of a sample of the new objects, to check their keys after commit.
    let mut sample_children = Vec::new();
    let mut sample_grandchildren = Vec::new();
    for &p in &parents {
        let children = s.related(p, Parent::CHILDREN).await?;
        ensure(children.len() == shape.children, || {
            format!(
                "a new parent holds {} children, expected {}",
                children.len(),
                shape.children
            )
        })?;
        for &c in [children.first(), children.last()].into_iter().flatten() {
            sample_children.push(c);
            let grandchildren = s.related(c, Child::GRANDCHILDREN).await?;
            sample_grandchildren.extend(
                [grandchildren.first(), grandchildren.last()]
                    .into_iter()
                    .flatten(),
            );
        }
    }
    let t1 = Instant::now();
    s.commit().await?;
    let time = building + t1.elapsed();
    let peak = heap.peak();
    let stmts = db.statements_executed() - stmts0;

    // Generated keys reached the objects: each sampled object reloads by its key (it was
    // expired by the commit) and that key is the row with its name in the database.
    let mut conn = fresh.conn().await?;
    check_tree(&mut conn, shape).await?;
    for &p in &parents {
        let parent = s.read(p).await?;
        let (id, name) = (parent.id, parent.name.clone());
        check_key(&mut conn, "SELECT name FROM parent WHERE id = ?", id, &name).await?;
    }
    for &c in &sample_children {
        let child = s.read(c).await?;
        let (id, name) = (child.id, child.name.clone());
        check_key(&mut conn, "SELECT name FROM child WHERE id = ?", id, &name).await?;
    }
    for &g in &sample_grandchildren {
        let grandchild = s.read(g).await?;
        let (id, payload) = (grandchild.id, grandchild.payload.clone());
        check_key(
            &mut conn,
            "SELECT payload FROM grandchild WHERE id = ?",
            id,
            &payload,
        )
        .await?;
    }
    conn.close().await?;
    Ok(Sample { time, stmts, peak })
}

async fn orm_delete_cascade(db: &Database, shape: Shape, fresh: &Fresh) -> Res<Sample> {
    let stmts0 = db.statements_executed();
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut s = db.session();
    // Every parent is loaded first, then deleted: a `get` between two deletes would autoflush
    // the first delete on its own (one flush per parent), which is not the workload.
    let mut parents = Vec::with_capacity(shape.parents);
    for id in 1..=shape.parents as i64 {
        let parent = s
            .get::<Parent>(id)
            .await?
            .ok_or_else(|| format!("no parent {id}"))?;
        parents.push(parent);
    }
    for &parent in &parents {
        s.delete(parent)?;
    }
    s.commit().await?;
    let time = t0.elapsed();
    let peak = heap.peak();
    let stmts = db.statements_executed() - stmts0;
    drop(s);
    check_all_deleted(fresh).await?;
    Ok(Sample { time, stmts, peak })
}

async fn orm_delete_orphan(db: &Database, shape: Shape, fresh: &Fresh) -> Res<Sample> {
    let stmts0 = db.statements_executed();
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut s = db.session();
    let parent = s.get::<Parent>(1).await?.ok_or("no parent 1")?;
    let children = s.related(parent, Parent::CHILDREN).await?;
    let loading = t0.elapsed();
    // Not timed: the keys of the children about to be removed, to check the result.
    let half = children.len() / 2;
    let mut removed = Vec::with_capacity(half);
    for &c in &children[..half] {
        removed.push(s.read(c).await?.id.ok_or("a loaded child has no key")?);
    }
    let t1 = Instant::now();
    for &c in &children[..half] {
        s.remove(parent, Parent::CHILDREN, c).await?;
    }
    s.commit().await?;
    let time = loading + t1.elapsed();
    let peak = heap.peak();
    let stmts = db.statements_executed() - stmts0;
    drop(s);
    ensure(children.len() == shape.children, || {
        format!(
            "parent 1 loaded {} children, expected {}",
            children.len(),
            shape.children
        )
    })?;
    check_orphans_deleted(fresh, shape, &removed).await?;
    Ok(Sample { time, stmts, peak })
}

async fn orm_load(db: &Database, shape: Shape) -> Res<Sample> {
    let stmts0 = db.statements_executed();
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut s = db.session();
    let parents = s.query::<Parent>().load(Parent::CHILDREN).all().await?;
    let mut children = Vec::with_capacity(shape.total_children());
    for &p in &parents {
        children.extend(s.related(p, Parent::CHILDREN).await?);
    }
    let grandchildren = s.preload(&children, Child::GRANDCHILDREN).await?;
    let time = t0.elapsed();
    let peak = heap.peak();
    let stmts = db.statements_executed() - stmts0;
    check_loaded(shape, parents.len(), children.len(), grandchildren.len())?;
    // The objects hold what the rows hold.
    if let (Some(&c), Some(&g)) = (children.last(), grandchildren.last()) {
        let child = s.read(c).await?;
        let (cid, cname) = (child.id, child.name.clone());
        let grandchild = s.read(g).await?;
        ensure(
            grandchild.child_id.is_some() && grandchild.payload.starts_with('c'),
            || format!("a loaded grandchild looks wrong: {grandchild:?}"),
        )?;
        ensure(cid.is_some() && cname.starts_with('c'), || {
            format!("a loaded child looks wrong: {cname}")
        })?;
    }
    Ok(Sample { time, stmts, peak })
}

/// The same rows as `orm_load` and the floor, as owned values outside the identity map: one
/// `all_owned` query per level, the lower levels filtered on the keys read (as the floor does).
async fn orm_owned_load(db: &Database, shape: Shape) -> Res<Sample> {
    let stmts0 = db.statements_executed();
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut s = db.session();
    let parents = s.query::<Parent>().all_owned().await?;
    let parent_keys: Vec<i64> = parents.iter().filter_map(|p| p.id).collect();
    let children = s
        .query::<Child>()
        .filter(Child::PARENT_ID.is_in(parent_keys))
        .all_owned()
        .await?;
    let child_keys: Vec<i64> = children.iter().filter_map(|c| c.id).collect();
    let grandchildren = s
        .query::<Grandchild>()
        .filter(Grandchild::CHILD_ID.is_in(child_keys))
        .all_owned()
        .await?;
    let time = t0.elapsed();
    let peak = heap.peak();
    let stmts = db.statements_executed() - stmts0;
    check_loaded(shape, parents.len(), children.len(), grandchildren.len())?;
    // The values hold what the rows hold, and the session holds none of them.
    if let (Some(child), Some(grandchild)) = (children.last(), grandchildren.last()) {
        ensure(
            grandchild.child_id.is_some() && grandchild.payload.starts_with('c'),
            || format!("a loaded grandchild looks wrong: {grandchild:?}"),
        )?;
        ensure(
            child.id.is_some() && child.parent_id.is_some() && child.name.starts_with('c'),
            || format!("a loaded child looks wrong: {child:?}"),
        )?;
    }
    let before = db.statements_executed();
    let id = parents
        .first()
        .and_then(|p| p.id)
        .ok_or("no parent loaded")?;
    s.get::<Parent>(id)
        .await?
        .ok_or("the first parent is gone")?;
    ensure(db.statements_executed() == before + 1, || {
        "`get` after `all_owned` did not read the row: the owned values were tracked".to_owned()
    })?;
    Ok(Sample { time, stmts, peak })
}

async fn orm_update(db: &Database, shape: Shape, fresh: &Fresh) -> Res<Sample> {
    // Not timed: the children are already in the session.
    let mut s = db.session();
    let children = s.query::<Child>().all().await?;
    ensure(children.len() == shape.total_children(), || {
        format!(
            "loaded {} children, expected {}",
            children.len(),
            shape.total_children()
        )
    })?;
    let stmts0 = db.statements_executed();
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    for &c in &children {
        s.write(c).await?.name.push_str("-u");
    }
    s.commit().await?;
    let time = t0.elapsed();
    let peak = heap.peak();
    let stmts = db.statements_executed() - stmts0;
    drop(s);
    check_updated(fresh, shape).await?;
    Ok(Sample { time, stmts, peak })
}

async fn orm_tree_delete(db: &Database, fresh: &Fresh) -> Res<Sample> {
    let stmts0 = db.statements_executed();
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut s = db.session();
    let root = s.get::<Node>(1).await?.ok_or("no root node")?;
    s.delete(root)?;
    s.commit().await?;
    let time = t0.elapsed();
    let peak = heap.peak();
    let stmts = db.statements_executed() - stmts0;
    drop(s);
    check_tree_deleted(fresh).await?;
    Ok(Sample { time, stmts, peak })
}

// ---------------------------------------------------------------------------------------------
// The floor side: each op's frame, shared by the backends (their statements: `Floor`)

async fn floor_run(op: Op, shape: Shape, fresh: &Fresh) -> Res<Sample> {
    let mut conn = fresh.conn().await?;
    // Warm the connection (schema read), as the ORM side does; not timed.
    let warmed = conn.scalar("SELECT count(*) FROM parent").await;
    let sample = match (warmed, &mut conn) {
        (Err(e), _) => Err(e),
        (Ok(_), Conn::Sqlite(c)) => floor_op::<Sqlite>(c, op, shape, fresh).await,
        (Ok(_), Conn::Postgres(c)) => floor_op::<Postgres>(c, op, shape, fresh).await,
    };
    let closed = conn.close().await;
    let sample = sample?;
    closed?;
    Ok(sample)
}

async fn floor_op<DB: Floor>(
    conn: &mut DB::Connection,
    op: Op,
    shape: Shape,
    fresh: &Fresh,
) -> Res<Sample> {
    match op {
        Op::Insert => floor_insert_op::<DB>(conn, shape, fresh).await,
        Op::DeleteCascade => floor_delete_cascade::<DB>(conn, shape, fresh).await,
        Op::DeleteOrphan => floor_delete_orphan::<DB>(conn, shape, fresh).await,
        Op::Load => floor_load::<DB>(conn, shape).await,
        Op::Update => floor_update::<DB>(conn, shape, fresh).await,
        Op::TreeDelete => floor_tree_delete::<DB>(conn, fresh).await,
    }
}

async fn floor_insert_op<DB: Floor>(
    conn: &mut DB::Connection,
    shape: Shape,
    fresh: &Fresh,
) -> Res<Sample> {
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut rows = build_rows(shape);
    let stmts = floor_insert::<DB>(conn, &mut rows).await?;
    let time = t0.elapsed();
    let peak = heap.peak();
    let mut check = fresh.conn().await?;
    check_tree(&mut check, shape).await?;
    for p in &rows {
        check_key(
            &mut check,
            "SELECT name FROM parent WHERE id = ?",
            p.id,
            &p.name,
        )
        .await?;
        for c in [p.children.first(), p.children.last()]
            .into_iter()
            .flatten()
        {
            check_key(
                &mut check,
                "SELECT name FROM child WHERE id = ?",
                c.id,
                &c.name,
            )
            .await?;
            for g in [c.grandchildren.first(), c.grandchildren.last()]
                .into_iter()
                .flatten()
            {
                check_key(
                    &mut check,
                    "SELECT payload FROM grandchild WHERE id = ?",
                    g.id,
                    &g.payload,
                )
                .await?;
            }
        }
    }
    check.close().await?;
    Ok(Sample { time, stmts, peak })
}

/// The grandchildren, the children, then the parents: one statement per level (per chunk of
/// keys on SQLite), in one transaction.
async fn floor_delete_cascade<DB: Floor>(
    conn: &mut DB::Connection,
    shape: Shape,
    fresh: &Fresh,
) -> Res<Sample> {
    let keys: Vec<i64> = (1..=shape.parents as i64).collect();
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut stmts = 0;
    let mut tx = conn.begin().await?;
    stmts += 1;
    DB::delete_families(&mut *tx, &keys, &mut stmts).await?;
    tx.commit().await?;
    stmts += 1;
    let time = t0.elapsed();
    let peak = heap.peak();
    check_all_deleted(fresh).await?;
    Ok(Sample { time, stmts, peak })
}

async fn floor_delete_orphan<DB: Floor>(
    conn: &mut DB::Connection,
    shape: Shape,
    fresh: &Fresh,
) -> Res<Sample> {
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut stmts = 0;
    let parent = DB::parent(conn, 1).await?;
    stmts += 1;
    let children = DB::children_of(conn, parent.id).await?;
    stmts += 1;
    let half = children.len() / 2;
    let removed: Vec<i64> = children[..half].iter().filter_map(|c| c.id).collect();
    let mut tx = conn.begin().await?;
    stmts += 1;
    DB::delete_children(&mut *tx, &removed, &mut stmts).await?;
    tx.commit().await?;
    stmts += 1;
    let time = t0.elapsed();
    let peak = heap.peak();
    ensure(children.len() == shape.children, || {
        format!(
            "parent 1 has {} children, expected {}",
            children.len(),
            shape.children
        )
    })?;
    check_orphans_deleted(fresh, shape, &removed).await?;
    Ok(Sample { time, stmts, peak })
}

async fn floor_load<DB: Floor>(conn: &mut DB::Connection, shape: Shape) -> Res<Sample> {
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut stmts = 0;
    let parents = DB::parents(conn).await?;
    stmts += 1;
    let parent_keys: Vec<i64> = parents.iter().filter_map(|p| p.id).collect();
    let mut children = Vec::with_capacity(shape.total_children());
    DB::children_in(conn, &parent_keys, &mut children, &mut stmts).await?;
    let child_keys: Vec<i64> = children.iter().filter_map(|c| c.id).collect();
    let mut grandchildren = Vec::with_capacity(shape.total_grandchildren());
    DB::grandchildren_in(conn, &child_keys, &mut grandchildren, &mut stmts).await?;
    let time = t0.elapsed();
    let peak = heap.peak();
    check_loaded(shape, parents.len(), children.len(), grandchildren.len())?;
    Ok(Sample { time, stmts, peak })
}

/// Every child renamed by key, in one transaction.
async fn floor_update<DB: Floor>(
    conn: &mut DB::Connection,
    shape: Shape,
    fresh: &Fresh,
) -> Res<Sample> {
    // Not timed: the children are already in memory.
    let mut children = DB::children(conn).await?;
    ensure(children.len() == shape.total_children(), || {
        format!(
            "loaded {} children, expected {}",
            children.len(),
            shape.total_children()
        )
    })?;
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut stmts = 0;
    for c in &mut children {
        c.name.push_str("-u");
    }
    let mut tx = conn.begin().await?;
    stmts += 1;
    DB::rename_children(&mut *tx, &children, &mut stmts).await?;
    tx.commit().await?;
    stmts += 1;
    let time = t0.elapsed();
    let peak = heap.peak();
    check_updated(fresh, shape).await?;
    Ok(Sample { time, stmts, peak })
}

/// One recursive CTE deletes the subtree.
async fn floor_tree_delete<DB: Floor>(conn: &mut DB::Connection, fresh: &Fresh) -> Res<Sample> {
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut tx = conn.begin().await?;
    DB::delete_subtree(&mut *tx, 1).await?;
    tx.commit().await?;
    let time = t0.elapsed();
    let peak = heap.peak();
    check_tree_deleted(fresh).await?;
    Ok(Sample {
        time,
        stmts: 3,
        peak,
    })
}

// ---------------------------------------------------------------------------------------------
// Driver

#[derive(Debug)]
struct Outcome {
    backend: &'static str,
    op: Op,
    shape: &'static str,
    orm: Sample,
    /// The read-only ORM side (`load` only).
    owned: Option<Sample>,
    floor: Sample,
}

fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2]
}

/// Median time and peak; the statement count (the same every run, else the largest, with a note).
fn summarize(op: Op, shape: &str, side: Side, samples: &[Sample]) -> Sample {
    let stmts: Vec<u64> = samples.iter().map(|s| s.stmts).collect();
    let max_stmts = stmts.iter().copied().max().unwrap_or(0);
    if stmts.iter().any(|&n| n != max_stmts) {
        eprintln!(
            "note: {} {shape} {}: statement counts differ between runs: {stmts:?}",
            op.name(),
            side.name()
        );
    }
    Sample {
        time: median(samples.iter().map(|s| s.time).collect()),
        stmts: max_stmts,
        peak: median(samples.iter().map(|s| s.peak).collect()),
    }
}

/// One run of one side on a database of its own, which is removed afterwards (after the
/// run's checks), whatever the outcome.
async fn one_run(
    backend: &Backend,
    op: Op,
    shape: Shape,
    side: Side,
    opts: &Options,
    first: &mut bool,
) -> Res<Sample> {
    let fresh = Fresh::new(backend).await?;
    let result = async {
        setup(&fresh, op, shape, opts.tree_depth, std::mem::take(first)).await?;
        let sample = match side {
            Side::Orm => orm_run(op, shape, &fresh).await,
            Side::Owned => owned_run(op, shape, &fresh).await,
            Side::Floor => floor_run(op, shape, &fresh).await,
        };
        sample.map_err(|e| BoxError::from(format!("{} side: {e}", side.name())))
    }
    .await;
    let disposed = fresh.dispose().await;
    let sample = result?;
    disposed?;
    Ok(sample)
}

async fn bench(
    backend: &Backend,
    op: Op,
    shape: Shape,
    label: &'static str,
    opts: &Options,
) -> Res<Outcome> {
    let mut orm = Vec::new();
    let mut owned = Vec::new();
    let mut floor = Vec::new();
    let mut first = true;
    let total = opts.warmups + opts.runs;
    for run in 0..total {
        let warm = run < opts.warmups;
        for &side in sides(op) {
            let sample = one_run(backend, op, shape, side, opts, &mut first).await?;
            eprintln!(
                "  {:<14} {:<4} {:<5} {} {:>10.1} ms {:>7} stmts {:>10} peak heap",
                op.name(),
                label,
                side.name(),
                if warm { "warm-up " } else { "run     " },
                ms(sample.time),
                sample.stmts,
                human_bytes(sample.peak)
            );
            if !warm {
                match side {
                    Side::Orm => orm.push(sample),
                    Side::Owned => owned.push(sample),
                    Side::Floor => floor.push(sample),
                }
            }
        }
    }
    Ok(Outcome {
        backend: backend.name(),
        op,
        shape: label,
        orm: summarize(op, label, Side::Orm, &orm),
        owned: (!owned.is_empty()).then(|| summarize(op, label, Side::Owned, &owned)),
        floor: summarize(op, label, Side::Floor, &floor),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `orm` (one of the ORM sides of `o`) over the floor.
fn ratio(o: &Outcome, orm: &Sample) -> f64 {
    let floor = ms(o.floor.time);
    if floor > 0.0 {
        ms(orm.time) / floor
    } else {
        f64::INFINITY
    }
}

/// Each ORM side of `o` with the name of its line: the tracked side, then the owned one.
fn orm_lines(o: &Outcome) -> Vec<(&'static str, String, &Sample)> {
    let mut lines = vec![("tracked", o.op.name().to_owned(), &o.orm)];
    if let Some(owned) = &o.owned {
        lines.push(("owned", format!("{} (owned)", o.op.name()), owned));
    }
    lines
}

fn human_bytes(b: usize) -> String {
    let b = b as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b} B")
    }
}

const HEADER: [&str; 9] = [
    "op",
    "shape",
    "orm ms",
    "floor ms",
    "ratio",
    "orm stmts",
    "floor stmts",
    "orm peak heap",
    "floor peak heap",
];

fn table_line(cells: &[String]) -> String {
    let widths = [14, 5, 10, 10, 7, 10, 12, 14, 16];
    let mut line = String::new();
    for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
        if i < 2 {
            let _ = write!(line, "{cell:<w$}");
        } else {
            let _ = write!(line, "{cell:>w$}");
        }
        line.push_str("  ");
    }
    line.trim_end().to_owned()
}

/// One table line per ORM side of `o` (`load` has two: `load` and `load (owned)`).
fn table_rows(o: &Outcome) -> Vec<String> {
    orm_lines(o)
        .into_iter()
        .map(|(_, name, orm)| {
            table_line(&[
                name,
                o.shape.to_owned(),
                format!("{:.1}", ms(orm.time)),
                format!("{:.1}", ms(o.floor.time)),
                format!("{:.2}", ratio(o, orm)),
                orm.stmts.to_string(),
                o.floor.stmts.to_string(),
                human_bytes(orm.peak),
                human_bytes(o.floor.peak),
            ])
        })
        .collect()
}

/// One JSON line per ORM side of `o`, told apart by `"orm"` (`tracked` or `owned`).
fn json_rows(o: &Outcome) -> Vec<String> {
    orm_lines(o)
        .into_iter()
        .map(|(kind, _, orm)| {
            format!(
                "{{\"backend\":\"{}\",\"op\":\"{}\",\"orm\":\"{kind}\",\"shape\":\"{}\",\
                 \"orm_ms\":{:.3},\"floor_ms\":{:.3},\"ratio\":{:.3},\"orm_statements\":{},\
                 \"floor_statements\":{},\"orm_peak_heap_bytes\":{},\"floor_peak_heap_bytes\":{}}}",
                o.backend,
                o.op.name(),
                o.shape,
                ms(orm.time),
                ms(o.floor.time),
                ratio(o, orm),
                orm.stmts,
                o.floor.stmts,
                orm.peak,
                o.floor.peak
            )
        })
        .collect()
}

fn main() {
    // `RUST_LOG=orm::sql=debug` shows the ORM's statements (stdout).
    orm_tests::init_logging();
    let opts = match parse_args() {
        Ok(opts) => opts,
        Err(message) => {
            eprintln!("cascade bench: {message}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cascade bench: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let mut failures = 0;
    for backend in &opts.backends {
        failures += runtime.block_on(run_all(backend, &opts));
    }
    if opts.postgres_skipped {
        eprintln!(
            "\nnote: the PostgreSQL part of the cascade bench was SKIPPED: {POSTGRES_URL_VAR} is \
             not set.\nnote: run it with \
             {POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/test\n"
        );
    }
    if failures > 0 {
        eprintln!("cascade bench: {failures} benchmark(s) FAILED (see the messages above)");
        std::process::exit(1);
    }
}

async fn run_all(backend: &Backend, opts: &Options) -> usize {
    // Each (op, shape) pair; tree-delete once, whatever the shapes.
    let mut work: Vec<(Op, Shape, &'static str)> = Vec::new();
    for &op in &opts.ops {
        if op == Op::TreeDelete {
            work.push((op, opts.shapes[0], "tree"));
        } else {
            for &shape in &opts.shapes {
                work.push((op, shape, shape.name));
            }
        }
    }
    let started = Instant::now();
    let (title, each) = match backend {
        Backend::Sqlite => (
            sqlite_version()
                .await
                .map_or_else(|_| "SQLite".to_owned(), |v| format!("SQLite {v}")),
            "SQLite file (WAL, synchronous=NORMAL, foreign keys on)",
        ),
        Backend::Postgres { url } => match pg_prepare(url).await {
            Ok(version) => (
                format!("PostgreSQL {version}"),
                "PostgreSQL schema (VACUUM ANALYZE and CHECKPOINT after setup)",
            ),
            Err(e) => {
                eprintln!("FAILED: cannot use the PostgreSQL database of {POSTGRES_URL_VAR}: {e}");
                return 1;
            }
        },
    };
    eprintln!(
        "cascade bench on {title}: {} benchmark(s), {} warm-up + {} timed run(s) per side, each \
         on a fresh {each}; tree: {} nodes",
        work.len(),
        opts.warmups,
        opts.runs,
        tree_size(opts.tree_depth)
    );
    let mut outcomes = Vec::new();
    let mut failures = 0;
    for (op, shape, label) in work {
        match bench(backend, op, shape, label, opts).await {
            Ok(outcome) => {
                if opts.json {
                    for line in json_rows(&outcome) {
                        println!("{line}");
                    }
                }
                outcomes.push(outcome);
            }
            Err(e) => {
                failures += 1;
                eprintln!("FAILED: {} {} {label}: {e}", backend.name(), op.name());
            }
        }
    }
    if !opts.json {
        println!();
        println!("backend: {} ({title})", backend.name());
        println!("{}", table_line(&HEADER.map(String::from)));
        for o in &outcomes {
            for line in table_rows(o) {
                println!("{line}");
            }
        }
        println!(
            "(medians of {} run(s) per side; ratio = orm / floor; peak heap = bytes allocated above \
             the op's starting point; total {:.0} s)",
            opts.runs,
            started.elapsed().as_secs_f64()
        );
    }
    failures
}
