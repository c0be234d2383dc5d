//! The cascade benchmark (issue 4): each workload through the ORM and through hand-written sqlx
//! (the floor), side by side, on fresh SQLite file databases.
//!
//! ```text
//! cargo bench -p orm-tests --bench cascade                        # shapes M and L, every op
//! cargo bench -p orm-tests --bench cascade -- --shape S --op load  # one shape, one op
//! cargo bench -p orm-tests --bench cascade -- --json               # one JSON object per line
//! ```
//!
//! Flags (after `--`): `--shape S|M|L` and `--op NAME` (repeatable or comma-separated),
//! `--json`, `--runs N` (timed runs per side, default 5). Ops: `insert`, `delete-cascade`,
//! `delete-orphan`, `load`, `update`, `tree-delete`. `tree-delete` does not depend on the shape:
//! it runs once, reported with shape `tree` (depth 8, fan-out 4: 87,381 nodes).
//!
//! How a measurement is taken:
//! - every run (warm-up or timed, ORM or floor) gets a NEW temp database file: schema through
//!   `Database::create_all` (FK columns indexed), the rows the op needs inserted by the floor's
//!   fast insert, a WAL checkpoint, then a new connection for the side being measured (so page
//!   caches start equally cold); setup is not timed;
//! - one warm-up and `--runs` timed runs per side, alternating ORM and floor; medians reported;
//! - statements: the delta of `Database::statements_executed()` for the ORM (BEGIN and COMMIT
//!   included), the floor counts its own the same way;
//! - peak heap: a counting global allocator (`peak_alloc`, which wraps `System` with atomics
//!   for the current and peak byte counts; the workspace forbids `unsafe`, so the bench cannot
//!   implement `GlobalAlloc` itself). The peak is reset just before the op, and the reported
//!   number is the peak minus the bytes live at that moment. SQLite's own C allocations (page
//!   cache) are not seen by it, for either side;
//! - after every run the database is checked (row counts, links, the op's effect): a wrong
//!   result fails the benchmark with a message and a non-zero exit code.
//!
//! Run without `--bench` (as `cargo test --benches` does), it is a quick smoke test: shape S,
//! no warm-up, one run per side, a small tree.

use orm_core::prelude::*;
use peak_alloc::PeakAlloc;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row as _, Sqlite};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = std::result::Result<T, BoxError>;
type Q<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

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
// Shapes, ops, options

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
    Floor,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Orm => "orm",
            Side::Floor => "floor",
        }
    }
}

#[derive(Debug)]
struct Options {
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
                    "unknown argument `{other}`; flags: --shape S|M|L, --op NAME, --json, --runs N"
                ))
            }
        }
        i += 1;
    }
    let quick = !bench_mode && !any_flag;
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

/// A table the floor inserts into with multi-row `INSERT ... VALUES`.
trait InsertRow {
    const TABLE: &'static str;
    const COLUMNS: &'static [&'static str];
    fn bind<'q>(&self, q: Q<'q>) -> Q<'q>;
    fn set_id(&mut self, id: i64);
}

impl InsertRow for PRow {
    const TABLE: &'static str = "parent";
    const COLUMNS: &'static [&'static str] = &["name"];
    fn bind<'q>(&self, q: Q<'q>) -> Q<'q> {
        q.bind(self.name.as_str())
    }
    fn set_id(&mut self, id: i64) {
        self.id = Some(id);
    }
}
impl InsertRow for CRow {
    const TABLE: &'static str = "child";
    const COLUMNS: &'static [&'static str] = &["parent_id", "name"];
    fn bind<'q>(&self, q: Q<'q>) -> Q<'q> {
        q.bind(self.parent_id).bind(self.name.as_str())
    }
    fn set_id(&mut self, id: i64) {
        self.id = Some(id);
    }
}
impl InsertRow for GRow {
    const TABLE: &'static str = "grandchild";
    const COLUMNS: &'static [&'static str] = &["child_id", "payload"];
    fn bind<'q>(&self, q: Q<'q>) -> Q<'q> {
        q.bind(self.child_id).bind(self.payload.as_str())
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

/// The floor's insert of a whole tree, in one transaction; keys reach the structs.
async fn floor_insert(conn: &mut SqliteConnection, parents: &mut [PRow]) -> Res<u64> {
    let mut stmts = 0;
    let mut cache = SqlCache::default();
    let mut tx = conn.begin().await?;
    stmts += 1;
    {
        let mut refs: Vec<&mut PRow> = parents.iter_mut().collect();
        insert_rows(&mut tx, &mut cache, &mut refs, &mut stmts).await?;
    }
    for p in parents.iter_mut() {
        for c in &mut p.children {
            c.parent_id = p.id;
        }
    }
    {
        let mut refs: Vec<&mut CRow> = parents.iter_mut().flat_map(|p| &mut p.children).collect();
        insert_rows(&mut tx, &mut cache, &mut refs, &mut stmts).await?;
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
        insert_rows(&mut tx, &mut cache, &mut refs, &mut stmts).await?;
    }
    tx.commit().await?;
    stmts += 1;
    Ok(stmts)
}

fn tree_size(depth: u32) -> usize {
    (0..=depth).map(|d| TREE_FANOUT.pow(d)).sum()
}

/// Nodes numbered breadth-first from 1: node `i > 1` has parent `(i - 2) / 4 + 1`.
async fn insert_tree(conn: &mut SqliteConnection, depth: u32) -> Res<()> {
    let n = tree_size(depth);
    let mut cache = SqlCache::default();
    let mut tx = conn.begin().await?;
    let ids: Vec<usize> = (1..=n).collect();
    for chunk in ids.chunks(MAX_PARAMS / 2) {
        let sql = cache.insert("node", &["id", "parent_id"], chunk.len());
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for &i in chunk {
            let parent = (i > 1).then(|| ((i - 2) / TREE_FANOUT + 1) as i64);
            q = q.bind(i as i64).bind(parent);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Databases

/// A fresh database file with the schema; removed when dropped.
struct Fresh {
    _dir: tempfile::TempDir,
    path: PathBuf,
    url: String,
}

const MODELS: [&orm_core::meta::ModelMeta; 4] =
    [Parent::META, Child::META, Grandchild::META, Node::META];

async fn fresh_db() -> Res<Fresh> {
    let dir = tempfile::Builder::new().prefix("orm-bench-").tempdir()?;
    let path = dir.path().join("bench.db");
    let url = format!("sqlite://{}", path.display());
    let db = orm_sqlite::connect(&url).await?;
    db.create_all(&MODELS).await?;
    db.close().await;
    Ok(Fresh {
        _dir: dir,
        path,
        url,
    })
}

async fn floor_conn(path: &Path) -> Res<SqliteConnection> {
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .connect()
        .await?)
}

async fn scalar(conn: &mut SqliteConnection, sql: &'static str) -> Res<i64> {
    Ok(sqlx::query(sql).fetch_one(&mut *conn).await?.try_get(0)?)
}

/// Fails unless the file is in WAL mode and every foreign-key column has an index.
async fn check_schema(conn: &mut SqliteConnection) -> Res<()> {
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("the database is in journal mode {mode}, not WAL").into());
    }
    for (table, column) in [
        ("child", "parent_id"),
        ("grandchild", "child_id"),
        ("node", "parent_id"),
    ] {
        let n: i64 = sqlx::query(
            "SELECT count(*) FROM pragma_index_list(?1) AS l \
             JOIN pragma_index_info(l.name) AS i WHERE i.seqno = 0 AND i.name = ?2",
        )
        .bind(table)
        .bind(column)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
        if n == 0 {
            return Err(format!("foreign-key column {table}.{column} has no index").into());
        }
    }
    Ok(())
}

/// The rows an op starts from, inserted by the floor's fast insert (not timed).
async fn setup(fresh: &Fresh, op: Op, shape: Shape, depth: u32, check: bool) -> Res<()> {
    let mut conn = floor_conn(&fresh.path).await?;
    if check {
        check_schema(&mut conn).await?;
    }
    match op {
        Op::Insert => {}
        Op::TreeDelete => insert_tree(&mut conn, depth).await?,
        _ => {
            let mut rows = build_rows(shape);
            floor_insert(&mut conn, &mut rows).await?;
        }
    }
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Measuring

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

async fn expect_count(
    conn: &mut SqliteConnection,
    sql: &'static str,
    want: usize,
    what: &str,
) -> Res<()> {
    let got = scalar(conn, sql).await?;
    ensure(got == want as i64, || {
        format!("{what}: expected {want}, found {got} (`{sql}`)")
    })
}

/// Every child has its parent and every grandchild its child (names encode the links).
async fn check_links(conn: &mut SqliteConnection) -> Res<()> {
    expect_count(
        conn,
        "SELECT count(*) FROM child LEFT JOIN parent ON parent.id = child.parent_id \
         WHERE parent.id IS NULL \
            OR 'p' || substr(child.name, 2, instr(child.name, '.') - 2) != parent.name",
        0,
        "children without their parent",
    )
    .await?;
    expect_count(
        conn,
        "SELECT count(*) FROM grandchild LEFT JOIN child ON child.id = grandchild.child_id \
         WHERE child.id IS NULL \
            OR substr(grandchild.payload, 1, instr(grandchild.payload, '/') - 1) \
               != rtrim(child.name, '-u')",
        0,
        "grandchildren without their child",
    )
    .await
}

async fn check_tree(conn: &mut SqliteConnection, shape: Shape) -> Res<()> {
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

async fn verify_conn(fresh: &Fresh) -> Res<SqliteConnection> {
    floor_conn(&fresh.path).await
}

// ---------------------------------------------------------------------------------------------
// The ORM side

async fn orm_db(fresh: &Fresh) -> Res<Database> {
    let db = orm_sqlite::connect(&fresh.url).await?;
    // Warm the connection (schema read) the way the floor's first statement would; not timed.
    let mut s = db.session();
    s.query::<Parent>().count().await?;
    Ok(db)
}

async fn orm_run(op: Op, shape: Shape, fresh: &Fresh) -> Res<Sample> {
    let db = orm_db(fresh).await?;
    let sample = match op {
        Op::Insert => orm_insert(&db, shape, fresh).await?,
        Op::DeleteCascade => orm_delete_cascade(&db, shape, fresh).await?,
        Op::DeleteOrphan => orm_delete_orphan(&db, shape, fresh).await?,
        Op::Load => orm_load(&db, shape).await?,
        Op::Update => orm_update(&db, shape, fresh).await?,
        Op::TreeDelete => orm_tree_delete(&db, fresh).await?,
    };
    db.close().await;
    Ok(sample)
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
    let mut conn = verify_conn(fresh).await?;
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

async fn check_key(
    conn: &mut SqliteConnection,
    sql: &'static str,
    id: Option<i64>,
    want: &str,
) -> Res<()> {
    let id =
        id.ok_or_else(|| format!("an inserted object has no key (expected the row `{want}`)"))?;
    let row = sqlx::query(sql).bind(id).fetch_optional(&mut *conn).await?;
    let got: Option<String> = row.map(|r| r.try_get(0)).transpose()?;
    ensure(got.as_deref() == Some(want), || {
        format!("the object `{want}` got key {id}, but that row holds {got:?}")
    })
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

async fn check_all_deleted(fresh: &Fresh) -> Res<()> {
    let mut conn = verify_conn(fresh).await?;
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
    conn.close().await?;
    Ok(())
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

async fn check_orphans_deleted(fresh: &Fresh, shape: Shape, removed: &[i64]) -> Res<()> {
    let half = shape.children / 2;
    ensure(removed.len() == half, || {
        format!("{} children removed, expected {half}", removed.len())
    })?;
    let mut conn = verify_conn(fresh).await?;
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
    for chunk in removed.chunks(MAX_PARAMS) {
        let sql = format!(
            "SELECT count(*) FROM child WHERE id IN ({})",
            placeholders(chunk.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(id);
        }
        let left: i64 = q.fetch_one(&mut conn).await?.try_get(0)?;
        ensure(left == 0, || {
            format!("{left} removed children are still stored")
        })?;
    }
    check_links(&mut conn).await?;
    conn.close().await?;
    Ok(())
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

async fn check_updated(fresh: &Fresh, shape: Shape) -> Res<()> {
    let mut conn = verify_conn(fresh).await?;
    check_tree(&mut conn, shape).await?;
    expect_count(
        &mut conn,
        "SELECT count(*) FROM child WHERE name GLOB 'c*.*-u' AND name NOT GLOB '*-u-u'",
        shape.total_children(),
        "updated children",
    )
    .await?;
    conn.close().await?;
    Ok(())
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

async fn check_tree_deleted(fresh: &Fresh) -> Res<()> {
    let mut conn = verify_conn(fresh).await?;
    expect_count(&mut conn, "SELECT count(*) FROM node", 0, "node rows left").await?;
    conn.close().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The floor: what a careful person writes with sqlx

async fn floor_run(op: Op, shape: Shape, fresh: &Fresh) -> Res<Sample> {
    let mut conn = floor_conn(&fresh.path).await?;
    // Warm the connection (schema read), as the ORM side does; not timed.
    scalar(&mut conn, "SELECT count(*) FROM parent").await?;
    let sample = match op {
        Op::Insert => floor_insert_op(&mut conn, shape, fresh).await?,
        Op::DeleteCascade => floor_delete_cascade(&mut conn, shape, fresh).await?,
        Op::DeleteOrphan => floor_delete_orphan(&mut conn, shape, fresh).await?,
        Op::Load => floor_load(&mut conn, shape).await?,
        Op::Update => floor_update(&mut conn, shape, fresh).await?,
        Op::TreeDelete => floor_tree_delete(&mut conn, fresh).await?,
    };
    conn.close().await?;
    Ok(sample)
}

async fn floor_insert_op(conn: &mut SqliteConnection, shape: Shape, fresh: &Fresh) -> Res<Sample> {
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut rows = build_rows(shape);
    let stmts = floor_insert(conn, &mut rows).await?;
    let time = t0.elapsed();
    let peak = heap.peak();
    let mut check = verify_conn(fresh).await?;
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

/// `DELETE FROM grandchild WHERE child_id IN (SELECT id FROM child WHERE parent_id IN (...))`,
/// then the children, then the parents: one statement per level per chunk of keys.
async fn floor_delete_cascade(
    conn: &mut SqliteConnection,
    shape: Shape,
    fresh: &Fresh,
) -> Res<Sample> {
    let keys: Vec<i64> = (1..=shape.parents as i64).collect();
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut stmts = 0;
    let mut tx = conn.begin().await?;
    stmts += 1;
    for chunk in keys.chunks(MAX_PARAMS) {
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
            q.execute(&mut *tx).await?;
            stmts += 1;
        }
    }
    tx.commit().await?;
    stmts += 1;
    let time = t0.elapsed();
    let peak = heap.peak();
    check_all_deleted(fresh).await?;
    Ok(Sample { time, stmts, peak })
}

fn child_row(row: SqliteRow) -> Result<CRow, sqlx::Error> {
    Ok(CRow {
        id: row.try_get(0)?,
        parent_id: row.try_get(1)?,
        name: row.try_get(2)?,
        grandchildren: Vec::new(),
    })
}

/// Deletes the grandchildren of `ids`, then `ids` from child, in chunks.
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

async fn floor_delete_orphan(
    conn: &mut SqliteConnection,
    shape: Shape,
    fresh: &Fresh,
) -> Res<Sample> {
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut stmts = 0;
    let parent = sqlx::query("SELECT id, name FROM parent WHERE id = ?")
        .bind(1_i64)
        .try_map(|row: SqliteRow| {
            Ok(PRow {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                children: Vec::new(),
            })
        })
        .fetch_one(&mut *conn)
        .await?;
    stmts += 1;
    let children = sqlx::query("SELECT id, parent_id, name FROM child WHERE parent_id = ?")
        .bind(parent.id)
        .try_map(child_row)
        .fetch_all(&mut *conn)
        .await?;
    stmts += 1;
    let half = children.len() / 2;
    let removed: Vec<i64> = children[..half].iter().filter_map(|c| c.id).collect();
    let mut tx = conn.begin().await?;
    stmts += 1;
    delete_children(&mut tx, &removed, &mut stmts).await?;
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

/// Selects rows of `sql_head (...)` for the keys, in chunks of the IN-list.
async fn select_in<T: Send + Unpin + 'static>(
    conn: &mut SqliteConnection,
    sql_head: &str,
    keys: &[i64],
    map: fn(SqliteRow) -> Result<T, sqlx::Error>,
    out: &mut Vec<T>,
    stmts: &mut u64,
) -> Res<()> {
    for chunk in keys.chunks(MAX_PARAMS) {
        let sql = format!("{sql_head} ({})", placeholders(chunk.len()));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(k);
        }
        out.extend(q.try_map(map).fetch_all(&mut *conn).await?);
        *stmts += 1;
    }
    Ok(())
}

async fn floor_load(conn: &mut SqliteConnection, shape: Shape) -> Res<Sample> {
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut stmts = 0;
    let parents = sqlx::query("SELECT id, name FROM parent")
        .try_map(|row: SqliteRow| {
            Ok(PRow {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                children: Vec::new(),
            })
        })
        .fetch_all(&mut *conn)
        .await?;
    stmts += 1;
    let parent_keys: Vec<i64> = parents.iter().filter_map(|p| p.id).collect();
    let mut children = Vec::with_capacity(shape.total_children());
    select_in(
        conn,
        "SELECT id, parent_id, name FROM child WHERE parent_id IN",
        &parent_keys,
        child_row,
        &mut children,
        &mut stmts,
    )
    .await?;
    let child_keys: Vec<i64> = children.iter().filter_map(|c| c.id).collect();
    let mut grandchildren = Vec::with_capacity(shape.total_grandchildren());
    select_in(
        conn,
        "SELECT id, child_id, payload FROM grandchild WHERE child_id IN",
        &child_keys,
        |row| {
            Ok(GRow {
                id: row.try_get(0)?,
                child_id: row.try_get(1)?,
                payload: row.try_get(2)?,
            })
        },
        &mut grandchildren,
        &mut stmts,
    )
    .await?;
    let time = t0.elapsed();
    let peak = heap.peak();
    check_loaded(shape, parents.len(), children.len(), grandchildren.len())?;
    Ok(Sample { time, stmts, peak })
}

/// `UPDATE child SET name = v.column2 FROM (VALUES (?, ?), ...) AS v WHERE child.id = v.column1`
/// per chunk, in one transaction.
async fn floor_update(conn: &mut SqliteConnection, shape: Shape, fresh: &Fresh) -> Res<Sample> {
    // Not timed: the children are already in memory.
    let mut children = sqlx::query("SELECT id, parent_id, name FROM child")
        .try_map(child_row)
        .fetch_all(&mut *conn)
        .await?;
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
        q.execute(&mut *tx).await?;
        stmts += 1;
    }
    tx.commit().await?;
    stmts += 1;
    let time = t0.elapsed();
    let peak = heap.peak();
    check_updated(fresh, shape).await?;
    Ok(Sample { time, stmts, peak })
}

/// One recursive CTE deletes the subtree (SQLite checks the self-referencing foreign key at the
/// end of the statement).
async fn floor_tree_delete(conn: &mut SqliteConnection, fresh: &Fresh) -> Res<Sample> {
    let heap = HeapProbe::start();
    let t0 = Instant::now();
    let mut tx = conn.begin().await?;
    sqlx::query(
        "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL \
         SELECT node.id FROM node JOIN sub ON node.parent_id = sub.id) \
         DELETE FROM node WHERE id IN (SELECT id FROM sub)",
    )
    .bind(1_i64)
    .execute(&mut *tx)
    .await?;
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
    op: Op,
    shape: &'static str,
    orm: Sample,
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

async fn one_run(
    op: Op,
    shape: Shape,
    side: Side,
    opts: &Options,
    first: &mut bool,
) -> Res<Sample> {
    let fresh = fresh_db().await?;
    setup(&fresh, op, shape, opts.tree_depth, std::mem::take(first)).await?;
    let result = match side {
        Side::Orm => orm_run(op, shape, &fresh).await,
        Side::Floor => floor_run(op, shape, &fresh).await,
    };
    result.map_err(|e| format!("{} side: {e}", side.name()).into())
}

async fn bench(op: Op, shape: Shape, label: &'static str, opts: &Options) -> Res<Outcome> {
    let mut orm = Vec::new();
    let mut floor = Vec::new();
    let mut first = true;
    let total = opts.warmups + opts.runs;
    for run in 0..total {
        let warm = run < opts.warmups;
        for side in [Side::Orm, Side::Floor] {
            let sample = one_run(op, shape, side, opts, &mut first).await?;
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
                    Side::Floor => floor.push(sample),
                }
            }
        }
    }
    Ok(Outcome {
        op,
        shape: label,
        orm: summarize(op, label, Side::Orm, &orm),
        floor: summarize(op, label, Side::Floor, &floor),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ratio(o: &Outcome) -> f64 {
    let floor = ms(o.floor.time);
    if floor > 0.0 {
        ms(o.orm.time) / floor
    } else {
        f64::INFINITY
    }
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

fn table_row(o: &Outcome) -> String {
    table_line(&[
        o.op.name().to_owned(),
        o.shape.to_owned(),
        format!("{:.1}", ms(o.orm.time)),
        format!("{:.1}", ms(o.floor.time)),
        format!("{:.2}", ratio(o)),
        o.orm.stmts.to_string(),
        o.floor.stmts.to_string(),
        human_bytes(o.orm.peak),
        human_bytes(o.floor.peak),
    ])
}

fn json_row(o: &Outcome) -> String {
    format!(
        "{{\"op\":\"{}\",\"shape\":\"{}\",\"orm_ms\":{:.3},\"floor_ms\":{:.3},\"ratio\":{:.3},\
         \"orm_statements\":{},\"floor_statements\":{},\"orm_peak_heap_bytes\":{},\
         \"floor_peak_heap_bytes\":{}}}",
        o.op.name(),
        o.shape,
        ms(o.orm.time),
        ms(o.floor.time),
        ratio(o),
        o.orm.stmts,
        o.floor.stmts,
        o.orm.peak,
        o.floor.peak
    )
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
    let failures = runtime.block_on(run_all(&opts));
    if failures > 0 {
        eprintln!("cascade bench: {failures} benchmark(s) FAILED (see the messages above)");
        std::process::exit(1);
    }
}

async fn run_all(opts: &Options) -> usize {
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
    eprintln!(
        "cascade bench: {} benchmark(s), {} warm-up + {} timed run(s) per side, each on a fresh \
         SQLite file (WAL, synchronous=NORMAL, foreign keys on); tree: {} nodes",
        work.len(),
        opts.warmups,
        opts.runs,
        tree_size(opts.tree_depth)
    );
    let mut outcomes = Vec::new();
    let mut failures = 0;
    for (op, shape, label) in work {
        match bench(op, shape, label, opts).await {
            Ok(outcome) => {
                if opts.json {
                    println!("{}", json_row(&outcome));
                }
                outcomes.push(outcome);
            }
            Err(e) => {
                failures += 1;
                eprintln!("FAILED: {} {label}: {e}", op.name());
            }
        }
    }
    if !opts.json {
        println!();
        println!("{}", table_line(&HEADER.map(String::from)));
        for o in &outcomes {
            println!("{}", table_row(o));
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
