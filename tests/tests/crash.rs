//! Crash durability: a child process commits in a loop and is killed with SIGKILL, several
//! times, on one SQLite file. Every commit it reported is there, and the file passes SQLite's
//! integrity and foreign-key checks.
//!
//! SQLite only: it is the embedded database whose durability lives in this process (WAL,
//! `synchronous = NORMAL`). With PostgreSQL a killed client only loses its connection; the
//! server's durability is the server's.

use orm_core::Value;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

const KILLS: usize = 5;
const COMMITS_BEFORE_KILL: usize = 25;

#[tokio::test]
async fn every_reported_commit_survives_sigkill() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("crash.db");
    let mut reported = Vec::new();
    for kill in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
            .arg(&path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the writer");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        // Kill at a different point of the commit loop each time.
        for _ in 0..COMMITS_BEFORE_KILL + kill * 3 {
            match lines.next() {
                Some(Ok(name)) => reported.push(name),
                other => panic!("the writer stopped early: {other:?}"),
            }
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }
    let db = orm_sqlite::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("reopen");
    let rows = db
        .fetch_raw("SELECT name FROM users", &[])
        .await
        .expect("read");
    let stored: std::collections::HashSet<String> = rows
        .into_iter()
        .filter_map(|r| match r.into_iter().next() {
            Some(Value::Text(name)) => Some(name),
            _ => None,
        })
        .collect();
    for name in &reported {
        assert!(stored.contains(name), "reported commit {name} was lost");
    }
    let integrity = db
        .fetch_raw("PRAGMA integrity_check", &[])
        .await
        .expect("integrity check");
    assert_eq!(integrity, vec![vec![Value::Text("ok".into())]]);
    let dangling = db
        .fetch_raw("PRAGMA foreign_key_check", &[])
        .await
        .expect("foreign key check");
    assert!(dangling.is_empty(), "{dangling:?}");
    let addresses = db
        .fetch_raw("SELECT COUNT(*) FROM addresses", &[])
        .await
        .expect("count");
    assert_eq!(
        addresses,
        vec![vec![Value::Integer(stored.len() as i64)]],
        "each user committed with its address, all or nothing"
    );
}
