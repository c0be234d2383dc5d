//! The cascade benchmark's SQLite workload, restated for the peers: shapes, ops, row data,
//! schema, fresh database files, the untimed fixture, and the checks run after every op.
//!
//! Everything here mirrors `tests/benches/cascade.rs` (the project's benchmark); where this
//! file says "as the project's bench", that file is the reference. The setup and the checks
//! use Diesel's connection (plain SQL) for both peers: they are not timed, and one place for
//! them keeps the two peers' checks identical.

use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Res<T> = Result<T, BoxError>;

/// SQLite's default bound-parameter limit (SQLITE_MAX_VARIABLE_NUMBER since 3.32). The
/// bundled library of `libsqlite3-sys` allows more, but a user cannot count on that, and the
/// project's floor chunks at this number too, so both sides send the same statements.
pub const MAX_PARAMS: usize = 32_766;

// ---------------------------------------------------------------------------------------------
// Shapes and ops

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub name: &'static str,
    pub parents: usize,
    /// Children per parent.
    pub children: usize,
    /// Grandchildren per child.
    pub grandchildren: usize,
}

/// The project's shapes, same names and sizes.
pub const SHAPES: [Shape; 3] = [
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
    pub fn total_children(&self) -> usize {
        self.parents * self.children
    }
    pub fn total_grandchildren(&self) -> usize {
        self.total_children() * self.grandchildren
    }
}

/// The project's ops, less `tree-delete` (a self-referential tree: neither peer has a cascade
/// for it, and the floor's recursive CTE would be the peers' code too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Insert,
    DeleteCascade,
    DeleteOrphan,
    Load,
    Update,
}

pub const OPS: [Op; 5] = [
    Op::Insert,
    Op::DeleteCascade,
    Op::DeleteOrphan,
    Op::Load,
    Op::Update,
];

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::DeleteCascade => "delete-cascade",
            Op::DeleteOrphan => "delete-orphan",
            Op::Load => "load",
            Op::Update => "update",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Row data: the same strings as the project's bench

pub fn parent_name(p: usize) -> String {
    format!("p{p}")
}
pub fn child_name(p: usize, c: usize) -> String {
    format!("c{p}.{c}")
}
/// Starts with the child's name, so the link can be checked in SQL.
pub fn payload(p: usize, c: usize, g: usize) -> String {
    format!("c{p}.{c}/g{g}")
}

/// Rows per multi-row statement for a table of `columns` bound columns.
pub fn rows_per_insert(columns: usize) -> usize {
    MAX_PARAMS / columns
}

// ---------------------------------------------------------------------------------------------
// What a timed op measured and what it hands to the checks

/// One run's numbers.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub time: Duration,
    /// Statements sent during the timed part, BEGIN and COMMIT included.
    pub stmts: u64,
    /// Peak heap bytes above those live when the op started.
    pub peak: usize,
}

/// Counts the statements a peer sends, from its library's own hook (Diesel's
/// instrumentation, SeaORM's metric callback); cloned into the hook.
#[derive(Debug, Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    /// Counts one statement; with `PEERS_SHOW_SQL` set, prints its start to stderr (for
    /// reading what a peer sends, not for timing).
    pub fn add(&self, sql: impl std::fmt::Display) {
        self.0.fetch_add(1, Ordering::Relaxed);
        if show_sql() {
            let sql = sql.to_string();
            let end = sql.char_indices().nth(160).map_or(sql.len(), |(i, _)| i);
            eprintln!("    sql: {}", &sql[..end]);
        }
    }
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn show_sql() -> bool {
    static SHOW: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SHOW.get_or_init(|| std::env::var_os("PEERS_SHOW_SQL").is_some())
}

/// The timed part of an op: started where the project's floor starts its clock, stopped
/// where it stops it; the heap probed as the project's bench probes it (peak reset at the
/// start, the peak above the bytes live then reported; SQLite's own C allocations unseen).
#[derive(Debug)]
pub struct Stopwatch {
    t0: Instant,
    stmts0: u64,
    heap0: usize,
}

impl Stopwatch {
    pub fn start(counter: &StatementCounter) -> Stopwatch {
        crate::HEAP.reset_peak_usage();
        Stopwatch {
            heap0: crate::HEAP.current_usage(),
            stmts0: counter.get(),
            t0: Instant::now(),
        }
    }

    /// The time since `start` and the statements counted since, plus `unseen` statements the
    /// hook cannot see (SeaORM's BEGIN and COMMIT).
    pub fn stop(self, counter: &StatementCounter, unseen: u64) -> Sample {
        let time = self.t0.elapsed();
        Sample {
            time,
            stmts: counter.get() - self.stmts0 + unseen,
            peak: crate::HEAP.peak_usage().saturating_sub(self.heap0),
        }
    }
}

/// The keys an insert got back, in the order of the rows it inserted (parents in order, the
/// children of parent 0 then parent 1 ..., the grandchildren of child 0 then child 1 ...).
#[derive(Debug, Default)]
pub struct InsertedKeys {
    pub parents: Vec<i64>,
    pub children: Vec<i64>,
    pub grandchildren: Vec<i64>,
}

/// What an op did, for its checks.
#[derive(Debug)]
pub enum Done {
    Inserted(InsertedKeys),
    Deleted,
    /// Parent 1 had `seen` children; the keys of those removed.
    Orphaned {
        seen: usize,
        removed: Vec<i64>,
    },
    Loaded {
        parents: usize,
        children: usize,
        grandchildren: usize,
    },
    Updated,
}

// ---------------------------------------------------------------------------------------------
// Fresh databases

/// The schema `Database::create_all` makes for the project's models on SQLite, verbatim (the
/// foreign keys are `ON DELETE NO ACTION`: the cascade is the ORM's, or here the user's).
const SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS `parent` (`id` INTEGER PRIMARY KEY, `name` TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS `child` (`id` INTEGER PRIMARY KEY, `parent_id` INTEGER, `name` TEXT NOT NULL, FOREIGN KEY (`parent_id`) REFERENCES `parent` (`id`) ON DELETE NO ACTION);
CREATE INDEX IF NOT EXISTS `ix_child_parent_id` ON `child` (`parent_id`);
CREATE TABLE IF NOT EXISTS `grandchild` (`id` INTEGER PRIMARY KEY, `child_id` INTEGER, `payload` TEXT NOT NULL, FOREIGN KEY (`child_id`) REFERENCES `child` (`id`) ON DELETE NO ACTION);
CREATE INDEX IF NOT EXISTS `ix_grandchild_child_id` ON `grandchild` (`child_id`);
CREATE TABLE IF NOT EXISTS `node` (`id` INTEGER PRIMARY KEY, `parent_id` INTEGER, FOREIGN KEY (`parent_id`) REFERENCES `node` (`id`) ON DELETE NO ACTION);
CREATE INDEX IF NOT EXISTS `ix_node_parent_id` ON `node` (`parent_id`);
";

/// The pragmas of every connection, as the project's bench and `orm-sqlite` set them: WAL
/// (persistent in the file), synchronous=NORMAL, foreign keys enforced.
pub const PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

/// A SQLite file of its own for one run, removed when dropped.
#[derive(Debug)]
pub struct Fresh {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Fresh {
    /// A new file with the schema.
    pub fn new() -> Res<Fresh> {
        let dir = tempfile::Builder::new().prefix("orm-peers-").tempdir()?;
        let path = dir.path().join("bench.db");
        let mut conn = open(&path)?;
        conn.batch_execute(SCHEMA)?;
        Ok(Fresh { _dir: dir, path })
    }

    /// A new plain Diesel connection: the setup's and the checks'.
    pub fn conn(&self) -> Res<SqliteConnection> {
        open(&self.path)
    }
}

/// A Diesel connection to `path` with the benchmark's pragmas (creates the file if missing).
pub fn open(path: &Path) -> Res<SqliteConnection> {
    let url = path.to_str().ok_or("the temporary path is not UTF-8")?;
    let mut conn = SqliteConnection::establish(url)?;
    conn.batch_execute(PRAGMAS)?;
    Ok(conn)
}

/// The rows `op` starts from (not timed): the whole tree for every op but `insert`, through
/// the same batched insert the Diesel side measures, then the WAL moved into the file.
pub fn setup(fresh: &Fresh, op: Op, shape: Shape, check: bool) -> Res<()> {
    let mut conn = fresh.conn()?;
    if check {
        check_schema(&mut conn)?;
    }
    if op != Op::Insert {
        crate::diesel_peer::insert_tree(&mut conn, shape)?;
    }
    conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(())
}

/// The version of the SQLite library linked (one copy, shared by Diesel and SeaORM's sqlx).
pub fn sqlite_version() -> Res<String> {
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let mut conn = SqliteConnection::establish(":memory:")?;
    let row: Version = diesel::sql_query("SELECT sqlite_version() AS v").get_result(&mut conn)?;
    Ok(row.v)
}

// ---------------------------------------------------------------------------------------------
// Checks: the project's, statement for statement

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Res<()> {
    if ok {
        Ok(())
    } else {
        Err(what().into())
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The single integer `sql` returns (its column named `n`).
fn scalar(conn: &mut SqliteConnection, sql: &str) -> Res<i64> {
    Ok(diesel::sql_query(sql).get_result::<Count>(conn)?.n)
}

fn expect_count(conn: &mut SqliteConnection, sql: &str, want: usize, what: &str) -> Res<()> {
    let got = scalar(conn, sql)?;
    ensure(got == want as i64, || {
        format!("{what}: expected {want}, found {got} (`{sql}`)")
    })
}

/// The file is in WAL mode and every foreign-key column has an index.
fn check_schema(conn: &mut SqliteConnection) -> Res<()> {
    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode").get_result(conn)?;
    ensure(mode.journal_mode.eq_ignore_ascii_case("wal"), || {
        format!(
            "the database is in journal mode {}, not WAL",
            mode.journal_mode
        )
    })?;
    for (table, column) in [
        ("child", "parent_id"),
        ("grandchild", "child_id"),
        ("node", "parent_id"),
    ] {
        let n = diesel::sql_query(
            "SELECT count(*) AS n FROM pragma_index_list(?1) AS l \
             JOIN pragma_index_info(l.name) AS i WHERE i.seqno = 0 AND i.name = ?2",
        )
        .bind::<diesel::sql_types::Text, _>(table)
        .bind::<diesel::sql_types::Text, _>(column)
        .get_result::<Count>(conn)?
        .n;
        ensure(n > 0, || {
            format!("foreign-key column {table}.{column} has no index")
        })?;
    }
    Ok(())
}

/// Every child has its parent and every grandchild its child (names encode the links).
fn check_links(conn: &mut SqliteConnection) -> Res<()> {
    expect_count(
        conn,
        "SELECT count(*) AS n FROM child LEFT JOIN parent ON parent.id = child.parent_id \
         WHERE parent.id IS NULL \
            OR 'p' || substr(child.name, 2, instr(child.name, '.') - 2) != parent.name",
        0,
        "children without their parent",
    )?;
    expect_count(
        conn,
        "SELECT count(*) AS n FROM grandchild LEFT JOIN child ON child.id = grandchild.child_id \
         WHERE child.id IS NULL \
            OR substr(grandchild.payload, 1, instr(grandchild.payload, '/') - 1) \
               != rtrim(child.name, '-u')",
        0,
        "grandchildren without their child",
    )
}

fn check_tree(conn: &mut SqliteConnection, shape: Shape) -> Res<()> {
    expect_count(
        conn,
        "SELECT count(*) AS n FROM parent",
        shape.parents,
        "parent rows",
    )?;
    expect_count(
        conn,
        "SELECT count(*) AS n FROM child",
        shape.total_children(),
        "child rows",
    )?;
    expect_count(
        conn,
        "SELECT count(*) AS n FROM grandchild",
        shape.total_grandchildren(),
        "grandchild rows",
    )?;
    check_links(conn)
}

/// The row `want` (a name or payload) got key `id`: `sql` (one `?`, column `t`) finds it.
fn check_key(conn: &mut SqliteConnection, sql: &str, id: i64, want: &str) -> Res<()> {
    #[derive(QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    let got = diesel::sql_query(sql)
        .bind::<BigInt, _>(id)
        .get_result::<Text>(conn)
        .optional()?
        .map(|r| r.t);
    ensure(got.as_deref() == Some(want), || {
        format!("the row `{want}` got key {id}, but that row holds {got:?}")
    })
}

/// The keys reached the rows: the same sample as the project's bench (every parent, the
/// first and last child of each, the first and last grandchild of those), and, since a batch
/// of one connection on a fresh file gets consecutive rowids, every list of keys ascending by
/// one, so that a key handed back out of order cannot pass.
fn check_keys(conn: &mut SqliteConnection, shape: Shape, keys: &InsertedKeys) -> Res<()> {
    for (what, list, want) in [
        ("parents", &keys.parents, shape.parents),
        ("children", &keys.children, shape.total_children()),
        (
            "grandchildren",
            &keys.grandchildren,
            shape.total_grandchildren(),
        ),
    ] {
        ensure(list.len() == want, || {
            format!("{} keys back for {want} {what}", list.len())
        })?;
        ensure(list.windows(2).all(|w| w[1] == w[0] + 1), || {
            format!("the keys of the {what} are not consecutive in row order")
        })?;
    }
    for (p, &pid) in keys.parents.iter().enumerate() {
        check_key(
            conn,
            "SELECT name AS t FROM parent WHERE id = ?",
            pid,
            &parent_name(p),
        )?;
        let ends = if shape.children == 0 {
            vec![]
        } else {
            vec![0, shape.children - 1]
        };
        for c in ends {
            let ci = p * shape.children + c;
            let name = child_name(p, c);
            check_key(
                conn,
                "SELECT name AS t FROM child WHERE id = ?",
                keys.children[ci],
                &name,
            )?;
            if shape.grandchildren == 0 {
                continue;
            }
            for g in [0, shape.grandchildren - 1] {
                let gi = ci * shape.grandchildren + g;
                check_key(
                    conn,
                    "SELECT payload AS t FROM grandchild WHERE id = ?",
                    keys.grandchildren[gi],
                    &payload(p, c, g),
                )?;
            }
        }
    }
    Ok(())
}

fn check_all_deleted(conn: &mut SqliteConnection) -> Res<()> {
    for table in ["parent", "child", "grandchild"] {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        expect_count(conn, &sql, 0, &format!("{table} rows left"))?;
    }
    Ok(())
}

fn check_orphans_deleted(
    conn: &mut SqliteConnection,
    shape: Shape,
    seen: usize,
    removed: &[i64],
) -> Res<()> {
    ensure(seen == shape.children, || {
        format!("parent 1 had {seen} children, expected {}", shape.children)
    })?;
    let half = shape.children / 2;
    ensure(removed.len() == half, || {
        format!("{} children removed, expected {half}", removed.len())
    })?;
    let children_left = shape.total_children() - half;
    expect_count(
        conn,
        "SELECT count(*) AS n FROM child",
        children_left,
        "child rows",
    )?;
    expect_count(
        conn,
        "SELECT count(*) AS n FROM child WHERE parent_id = 1",
        shape.children - half,
        "children of parent 1",
    )?;
    expect_count(
        conn,
        "SELECT count(*) AS n FROM grandchild",
        children_left * shape.grandchildren,
        "grandchild rows",
    )?;
    expect_count(
        conn,
        "SELECT count(*) AS n FROM parent",
        shape.parents,
        "parent rows",
    )?;
    let mut left = 0;
    for chunk in removed.chunks(MAX_PARAMS) {
        let list = vec!["?"; chunk.len()].join(", ");
        let mut q = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM child WHERE id IN ({list})"
        ))
        .into_boxed::<diesel::sqlite::Sqlite>();
        for &id in chunk {
            q = q.bind::<BigInt, _>(id);
        }
        left += q.get_result::<Count>(conn)?.n;
    }
    ensure(left == 0, || {
        format!("{left} removed children are still stored")
    })?;
    check_links(conn)
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

fn check_updated(conn: &mut SqliteConnection, shape: Shape) -> Res<()> {
    check_tree(conn, shape)?;
    expect_count(
        conn,
        "SELECT count(*) AS n FROM child WHERE name GLOB 'c*.*-u' AND name NOT GLOB '*-u-u'",
        shape.total_children(),
        "updated children",
    )
}

/// Fails unless the database (and what the op handed back) is what `op` must leave: a peer
/// that did less cannot pass.
pub fn check(fresh: &Fresh, shape: Shape, done: &Done) -> Res<()> {
    let mut conn = fresh.conn()?;
    match done {
        Done::Inserted(keys) => {
            check_tree(&mut conn, shape)?;
            check_keys(&mut conn, shape, keys)
        }
        Done::Deleted => check_all_deleted(&mut conn),
        Done::Orphaned { seen, removed } => check_orphans_deleted(&mut conn, shape, *seen, removed),
        Done::Loaded {
            parents,
            children,
            grandchildren,
        } => check_loaded(shape, *parents, *children, *grandchildren),
        Done::Updated => check_updated(&mut conn, shape),
    }
}

/// The checks reject a peer that does less than the op asks.
#[cfg(test)]
mod tests {
    use super::*;

    const TINY: Shape = Shape {
        name: "tiny",
        parents: 2,
        children: 4,
        grandchildren: 3,
    };

    /// A fresh file holding the whole tiny tree, and the keys it got.
    fn tree() -> (Fresh, InsertedKeys) {
        let fresh = Fresh::new().expect("fresh database");
        let mut conn = fresh.conn().expect("connection");
        let keys = crate::diesel_peer::insert_tree(&mut conn, TINY).expect("insert");
        (fresh, keys)
    }

    fn exec(fresh: &Fresh, sql: &str) {
        fresh
            .conn()
            .expect("connection")
            .batch_execute(sql)
            .expect(sql);
    }

    #[test]
    fn inserted_keys_must_match_their_rows() {
        let (fresh, keys) = tree();
        check(&fresh, TINY, &Done::Inserted(keys)).expect("a correct insert passes");
        let (fresh, mut keys) = tree();
        keys.children.swap(0, 1);
        assert!(check(&fresh, TINY, &Done::Inserted(keys)).is_err());
    }

    #[test]
    fn a_missing_level_fails_the_insert() {
        let (fresh, keys) = tree();
        exec(&fresh, "DELETE FROM grandchild WHERE id = 1");
        assert!(check(&fresh, TINY, &Done::Inserted(keys)).is_err());
    }

    #[test]
    fn a_cascade_that_leaves_rows_fails() {
        let (fresh, _) = tree();
        exec(&fresh, "DELETE FROM grandchild");
        assert!(check(&fresh, TINY, &Done::Deleted).is_err());
        exec(&fresh, "DELETE FROM child; DELETE FROM parent");
        check(&fresh, TINY, &Done::Deleted).expect("everything deleted passes");
    }

    #[test]
    fn orphans_must_go_with_their_grandchildren() {
        let (fresh, keys) = tree();
        let removed = keys.children[..2].to_vec();
        let done = Done::Orphaned {
            seen: 4,
            removed: removed.clone(),
        };
        exec(&fresh, "DELETE FROM grandchild WHERE child_id IN (1, 2)");
        assert!(check(&fresh, TINY, &done).is_err(), "children still stored");
        exec(&fresh, "DELETE FROM child WHERE id IN (1, 2)");
        check(&fresh, TINY, &done).expect("half removed passes");
    }

    #[test]
    fn every_child_must_be_renamed() {
        let (fresh, _) = tree();
        exec(
            &fresh,
            "UPDATE child SET name = name || '-u' WHERE id % 2 = 0",
        );
        assert!(check(&fresh, TINY, &Done::Updated).is_err());
        exec(
            &fresh,
            "UPDATE child SET name = name || '-u' WHERE id % 2 = 1",
        );
        check(&fresh, TINY, &Done::Updated).expect("all renamed passes");
    }

    #[test]
    fn a_short_load_fails() {
        let (fresh, _) = tree();
        let short = Done::Loaded {
            parents: 2,
            children: 8,
            grandchildren: 23,
        };
        assert!(check(&fresh, TINY, &short).is_err());
    }
}
