//! Transactions a service controls (issue 11, items 1 and 2): savepoint scopes with
//! `Session::nested`, the retrying `Database::transaction`, isolation levels and read-only
//! transactions, and raw SQL inside the session's transaction. Every test runs on both
//! backends.

use orm_core::prelude::*;
use orm_core::{IsolationLevel, RetryPolicy, TransactionError, TxOptions, Value};
use orm_tests::harness::{self, drop_after_polls, placeholders, Backend, Fresh};
use orm_tests::models::{Address, User};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

async fn fresh() -> Fresh {
    harness::pooled(&[User::META, Address::META], 4).await
}

async fn names(t: &Fresh) -> Vec<String> {
    t.rows("SELECT name FROM users ORDER BY name")
        .await
        .into_iter()
        .map(|row| match row.into_iter().next() {
            Some(Value::Text(name)) => name,
            other => panic!("expected a name, got {other:?}"),
        })
        .collect()
}

fn user(name: &str) -> User {
    User::new(name, &format!("{name} fullname"), name)
}

/// Any error a scope returns to make it roll back.
fn refusal() -> Error {
    Error::NotFound { model: "refusal" }
}

// ---- nested scopes ----

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_failed_scope_is_rolled_back_alone() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        let ed = s.add(user("ed"))?;
        let kept: Result<Handle<User>> = s
            .nested(|s| Box::pin(async move {
                let wendy = s.add(user("wendy"))?;
                s.flush().await?;
                Ok(wendy)
            }))
            .await;
        let wendy = kept?;
        let failed: Result<()> = s
            .nested(|s| Box::pin(async move {
                s.add(user("mary"))?;
                s.write(ed).await?.fullname = "changed in the failed scope".into();
                s.flush().await?;
                Err(refusal())
            }))
            .await;
        assert!(matches!(failed, Err(Error::NotFound { model: "refusal" })));
        assert_eq!(s.read(ed).await?.fullname, "ed fullname", "ed is back as it was");
        assert_eq!(s.state(wendy), ObjectState::Persistent);
        s.commit().await?;
        assert_eq!(names(&t).await, ["ed", "wendy"]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn objects_return_to_their_state_at_the_scope_start() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        let ed = s.add(user("ed"))?;
        let jack = s.add(user("jack"))?;
        let address = s.add(Address::new("ed@example.com"))?;
        s.append(ed, User::ADDRESSES, address).await?;
        s.commit().await?;
        let ed_key = s.read(ed).await?.id;

        let failed: Result<()> = s
            .nested(|s| Box::pin(async move {
                s.delete(jack)?;
                let addresses = s.related(ed, User::ADDRESSES).await?;
                s.remove(ed, User::ADDRESSES, addresses[0]).await?; // delete-orphan
                s.write(ed).await?.id = Some(900); // a new primary key
                let added = s.add(user("ann"))?;
                s.flush().await?;
                assert_eq!(s.state(jack), ObjectState::Deleted);
                Err(refusal()).map(|()| added).map(drop)
            }))
            .await;
        assert!(failed.is_err());
        assert_eq!(s.state(jack), ObjectState::Persistent, "jack's deletion was undone");
        assert_eq!(s.read(ed).await?.id, ed_key, "ed's key is back");
        assert_eq!(s.related(ed, User::ADDRESSES).await?.len(), 1, "the orphan is back");
        let again = s.get::<User>(ed_key.expect("ed has a key")).await?;
        assert_eq!(again, Some(ed), "the identity map holds ed under his old key");
        assert_eq!(s.query::<User>().count().await?, 2, "ann was rolled back");
        s.commit().await?;
        assert_eq!(names(&t).await, ["ed", "jack"]);
        assert_eq!(t.count("addresses").await, 1);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn scopes_nest_and_an_inner_failure_keeps_the_outer_work() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        let outer: Result<()> = s
            .nested(|s| Box::pin(async move {
                s.add(user("outer"))?;
                let inner: Result<()> = s
                    .nested(|s| Box::pin(async move {
                        s.add(user("inner"))?;
                        s.flush().await?;
                        Err(refusal())
                    }))
                    .await;
                assert!(inner.is_err());
                s.add(user("after"))?;
                Ok(())
            }))
            .await;
        outer?;
        s.commit().await?;
        assert_eq!(names(&t).await, ["after", "outer"]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_database_error_inside_a_scope_rolls_back_only_the_scope() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        s.add(user("ed"))?;
        s.flush().await?;
        // A statement that fails in the database: on PostgreSQL it aborts the transaction,
        // and the scope's savepoint is what brings it back.
        let failed: Result<()> = s
            .nested(|s| Box::pin(async move {
                s.add(user("wendy"))?;
                s.sql("SELECT * FROM no_such_table").fetch_values().await?;
                Ok(())
            }))
            .await;
        assert!(matches!(failed, Err(Error::MissingTable { .. })), "{failed:?}");
        s.add(user("jack"))?;
        s.commit().await?;
        assert_eq!(names(&t).await, ["ed", "jack"]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_swallowed_error_that_aborted_the_scope_is_reported() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        s.add(user("ed"))?;
        let outcome: Result<()> = s
            .nested(|s| Box::pin(async move {
                s.add(user("wendy"))?;
                s.flush().await?;
                let _ignored = s.sql("SELECT * FROM no_such_table").fetch_values().await;
                Ok(())
            }))
            .await;
        s.commit().await?;
        match harness::current() {
            // PostgreSQL aborted the scope's work: it cannot be kept, and the scope says so.
            Backend::Postgres => {
                assert!(matches!(outcome, Err(Error::ScopeAborted)), "{outcome:?}");
                assert_eq!(names(&t).await, ["ed"]);
            }
            // SQLite failed the statement alone: the scope's other work stands.
            Backend::Sqlite => {
                outcome?;
                assert_eq!(names(&t).await, ["ed", "wendy"]);
            }
        }
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn commit_inside_a_scope_is_refused() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        let outcome: Result<()> = s
            .nested(|s| Box::pin(async move {
                s.add(user("ed"))?;
                s.commit().await
            }))
            .await;
        assert!(matches!(outcome, Err(Error::InNestedScope { action: "commit" })), "{outcome:?}");
        s.commit().await?;
        assert!(names(&t).await.is_empty(), "the scope returned an error: its work was undone");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_dropped_scope_is_rolled_back_by_the_next_call() -> Result<()> {
        // The scope's future is dropped at every await point in turn (a cancelled request).
        let mut polls = 0;
        loop {
            let t = fresh().await;
            let mut s = t.db.session();
            let ed = s.add(user("ed"))?;
            s.flush().await?;
            let scope = s.nested(|s| Box::pin(async move {
                s.write(ed).await?.fullname = "in the scope".into();
                s.add(user("wendy"))?;
                s.flush().await?;
                Ok::<_, Error>(())
            }));
            let completed = drop_after_polls(scope, polls).await;
            let what = format!("scope dropped after {polls} polls");
            let committed = match s.commit().await {
                Err(Error::TransactionLost) => s.commit().await,
                other => other,
            };
            committed?;
            let stored = names(&t).await;
            if completed {
                assert_eq!(stored, ["ed", "wendy"], "{what}");
                break;
            }
            // Dropped: a scope cut short is rolled back whole; one dropped while releasing its
            // savepoint (its work had succeeded) is kept whole. Either way the session says what
            // the database says.
            let ed_stored = t.rows("SELECT fullname FROM users WHERE name = 'ed'").await;
            match ed_stored.first().and_then(|row| row.first()) {
                Some(Value::Text(fullname)) => {
                    let kept = stored.contains(&"wendy".to_owned());
                    let expected = if kept { "in the scope" } else { "ed fullname" };
                    assert_eq!(fullname, expected, "{what}: all of the scope or none: {stored:?}");
                    assert_eq!(&s.read(ed).await?.fullname, fullname, "{what}");
                }
                _ => {
                    // The whole transaction went with the future (dropped while holding it).
                    assert!(stored.is_empty(), "{what}: {stored:?}");
                    assert_ne!(s.state(ed), ObjectState::Persistent, "{what}");
                }
            }
            // Every early point, then spread out (a network round trip takes many polls).
            polls += 1 + polls / 8;
            assert!(polls < 5000, "the scope never completed");
        }
        Ok(())
    }
}

// ---- Database::transaction ----

/// An application error type: the work's own errors beside the ORM's.
#[derive(Debug)]
enum AppError {
    Invalid(&'static str),
    Db(Error),
}

impl From<Error> for AppError {
    fn from(err: Error) -> Self {
        AppError::Db(err)
    }
}

impl TransactionError for AppError {
    fn orm_error(&self) -> Option<&Error> {
        match self {
            AppError::Db(err) => Some(err),
            AppError::Invalid(_) => None,
        }
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn transaction_commits_the_work_and_returns_its_value() -> Result<()> {
        let t = fresh().await;
        let name = String::from("ed");
        let key = t
            .db
            .transaction(|s| {
                let name = name.clone();
                Box::pin(async move {
                    let ed = s.add(user(&name))?;
                    s.flush().await?;
                    Ok::<_, Error>(s.read(ed).await?.id)
                })
            })
            .await?;
        assert!(key.is_some());
        assert_eq!(names(&t).await, ["ed"]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn transaction_rolls_back_on_the_works_own_error_without_retrying() -> Result<()> {
        let t = fresh().await;
        let runs = AtomicU32::new(0);
        let outcome: std::result::Result<(), AppError> = t
            .db
            .transaction(|s| {
                runs.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    s.add(user("ed"))?;
                    s.flush().await?;
                    Err(AppError::Invalid("no"))
                })
            })
            .await;
        assert!(matches!(outcome, Err(AppError::Invalid("no"))));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(names(&t).await.is_empty());
        Ok(())
    }
}

/// A retryable error, as the database reports a lost race.
fn conflict() -> Error {
    let failure = orm_core::backend::DbFailure::new(
        orm_core::backend::FailureKind::Conflict(orm_core::ConflictKind::Serialization),
        "could not serialize access",
    );
    failure.into_error("updating `users`".into(), "users")
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn transaction_runs_the_work_again_after_a_retryable_error() -> Result<()> {
        let t = fresh().await;
        let runs = Arc::new(AtomicU32::new(0));
        let policy = RetryPolicy::default()
            .attempts(4)
            .backoff(std::time::Duration::from_millis(1), std::time::Duration::from_millis(4));
        let value = t
            .db
            .transaction_with(TxOptions::new(), policy, |s| {
                let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                Box::pin(async move {
                    s.add(user(&format!("run{run}")))?;
                    s.flush().await?;
                    if run < 3 {
                        return Err(conflict()); // each failed run is rolled back
                    }
                    Ok(run)
                })
            })
            .await?;
        assert_eq!(value, 3);
        assert_eq!(names(&t).await, ["run3"], "only the run that succeeded is stored");

        // Bounded: the last error comes back once the attempts are used up.
        runs.store(0, Ordering::SeqCst);
        let outcome: Result<()> = t
            .db
            .transaction_with(TxOptions::new(), policy, |_| {
                runs.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move { Err(conflict()) })
            })
            .await;
        assert!(outcome.is_err_and(|e| e.is_retryable()));
        assert_eq!(runs.load(Ordering::SeqCst), 4);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn transaction_retries_real_conflicts_between_concurrent_writers() -> Result<()> {
        // Sixteen tasks increment one counter (a user's nickname) at SERIALIZABLE: each
        // read-modify-write that loses a race is run again, and no increment is lost.
        let t = harness::pooled(&[User::META, Address::META], 8).await;
        let mut s = t.db.session();
        let counter = s.add(User::new("counter", "Counter", "0"))?;
        s.commit().await?;
        let key = s.read(counter).await?.id.expect("stored");
        let options = TxOptions::new().isolation(IsolationLevel::Serializable);
        let policy = RetryPolicy::default().attempts(50);
        let runs = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let db = t.db.clone();
            let runs = runs.clone();
            tasks.push(tokio::spawn(async move {
                db.transaction_with(options, policy, |s| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Box::pin(async move {
                        let user = s.get::<User>(key).await?.ok_or(Error::NotFound { model: "User" })?;
                        let n: i64 = s.read(user).await?.nickname.as_deref().unwrap_or("0").parse().unwrap_or(0);
                        s.write(user).await?.nickname = Some((n + 1).to_string());
                        s.flush().await?;
                        Ok::<_, Error>(())
                    })
                })
                .await
            }));
        }
        for task in tasks {
            task.await.expect("the task ran")?;
        }
        let stored = t.rows(&format!("SELECT nickname FROM users WHERE id = {key}")).await;
        assert_eq!(stored, [[Value::Text("16".into())]]);
        if harness::current() == Backend::Sqlite {
            // SQLite: the transactions take the write lock when they begin (`BEGIN
            // IMMEDIATE`), so they wait for each other instead of failing when they write.
            assert_eq!(runs.load(Ordering::SeqCst), 16, "no run had to be repeated");
        }
        Ok(())
    }
}

// ---- isolation levels and read-only transactions ----

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_read_only_transaction_refuses_writes_and_keeps_them_pending() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        s.begin(TxOptions::new().read_only()).await?;
        assert!(s.is_read_only());
        assert_eq!(s.query::<User>().count().await?, 0, "reads run");
        let ed = s.add(user("ed"))?;
        assert!(matches!(s.flush().await, Err(Error::ReadOnly { .. })));
        assert_eq!(s.state(ed), ObjectState::Pending, "the change is still pending");
        let raw = s.sql("DELETE FROM users").execute().await;
        assert!(matches!(raw, Err(Error::ReadOnly { .. })), "{raw:?}");
        if harness::current() == Backend::Postgres {
            // PostgreSQL refuses a write even through a raw read.
            let written = s
                .sql("INSERT INTO users (name, fullname) VALUES ('x', 'x') RETURNING id")
                .fetch_values()
                .await;
            assert!(written.is_err(), "{written:?}");
        }
        s.rollback().await?;
        assert!(!s.is_read_only(), "read-only ends with the transaction");
        s.add(user("wendy"))?;
        s.commit().await?;
        assert_eq!(names(&t).await, ["wendy"]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn begin_with_an_isolation_level_runs_reads_in_one_snapshot() -> Result<()> {
        let t = fresh().await;
        let mut writer = t.db.session();
        writer.add(user("ed"))?;
        writer.commit().await?;

        let mut reader = t.db.session();
        reader
            .begin(
                TxOptions::new()
                    .isolation(IsolationLevel::RepeatableRead)
                    .read_only(), // on SQLite, a read-write one would hold the write lock
            )
            .await?;
        assert!(reader.in_transaction());
        assert_eq!(reader.query::<User>().count().await?, 1);
        if harness::current() == Backend::Postgres {
            let level: String = reader.sql("SHOW transaction_isolation").scalar().await?;
            assert_eq!(level, "repeatable read");
        }
        // A write committed meanwhile is not seen by the reader's snapshot. (On SQLite the
        // reader's open read transaction holds the snapshot too, with WAL.)
        let mut other = t.db.session();
        other.add(user("wendy"))?;
        other.commit().await?;
        assert_eq!(reader.query::<User>().count().await?, 1, "one snapshot");
        reader.commit().await?;
        assert_eq!(reader.query::<User>().count().await?, 2);
        assert!(matches!(
            {
                reader.add(user("x"))?;
                reader.flush().await?;
                reader.begin(TxOptions::new()).await
            },
            Err(Error::TransactionOpen)
        ));
        Ok(())
    }
}

// ---- raw SQL in the session ----

orm_tests::backend_test! {
    #[tokio::test]
    async fn raw_statements_run_in_the_session_transaction_with_bound_values() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        let ed = s.add(user("ed"))?;
        // Flushed first: the raw statement sees the pending user.
        let hostile = "'); DROP TABLE users; --";
        let changed = s
            .sql(placeholders("UPDATE users SET nickname = ? WHERE name = ?"))
            .bind(hostile)
            .bind("ed")
            .execute()
            .await?;
        assert_eq!(changed, 1);
        assert_eq!(t.count("users").await, 0, "not committed yet: it is in the session's transaction");
        assert_eq!(s.read(ed).await?.nickname.as_deref(), Some(hostile), "the object reloads");
        let rows: Vec<(i64, String, Option<String>)> = s
            .sql("SELECT id, name, nickname FROM users ORDER BY id")
            .fetch_all()
            .await?;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].2.as_deref(), Some(hostile), "bound, never spliced");
        let count: i64 = s.sql("SELECT COUNT(*) FROM users").scalar().await?;
        assert_eq!(count, 1);
        s.rollback().await?;
        assert_eq!(t.count("users").await, 0, "rolled back with the session");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn raw_rows_decode_into_typed_tuples_or_say_why_not() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        s.add(user("ed"))?;
        let (name, n): (String, i64) = s
            .sql(placeholders("SELECT name, ? FROM users"))
            .bind(7i64)
            .fetch_one()
            .await?;
        assert_eq!((name.as_str(), n), ("ed", 7));
        let none: Option<(String,)> = s
            .sql(placeholders("SELECT name FROM users WHERE name = ?"))
            .bind("nobody")
            .fetch_optional()
            .await?;
        assert_eq!(none, None);
        let wrong_width = s.sql("SELECT name, fullname FROM users").fetch_all::<(String,)>().await;
        assert!(matches!(wrong_width, Err(Error::RawShape { expected: 1, found: 2, .. })), "{wrong_width:?}");
        let wrong_type = s.sql("SELECT name FROM users").fetch_all::<(i64,)>().await;
        assert!(matches!(wrong_type, Err(Error::RawDecode { index: 0, .. })), "{wrong_type:?}");
        let missing = s
            .sql(placeholders("SELECT id FROM users WHERE name = ?"))
            .bind("nobody")
            .scalar::<i64>()
            .await;
        assert!(matches!(missing, Err(Error::NotFound { .. })));
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn objects_load_from_a_raw_select_into_the_identity_map() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        let ed = s.add(user("ed"))?;
        s.add(user("wendy"))?;
        s.commit().await?;
        let users: Vec<Handle<User>> = s
            .sql(placeholders("SELECT * FROM users WHERE name LIKE ? ORDER BY name"))
            .bind("%d%")
            .load()
            .await?;
        assert_eq!(users.len(), 2);
        assert_eq!(users[0], ed, "a row the session holds is the same handle");
        assert_eq!(s.read(users[1]).await?.name, "wendy");
        let wendy_key = s.read(users[1]).await?.id.expect("key");
        let held = t.db.statements_executed();
        assert_eq!(s.get::<User>(wendy_key).await?, Some(users[1]));
        assert_eq!(t.db.statements_executed(), held, "found in the identity map: no SELECT");
        let narrow = s.sql("SELECT id, name FROM users").load::<User>().await;
        assert!(matches!(narrow, Err(Error::RawShape { expected: 4, found: 2, .. })), "{narrow:?}");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn scopes_and_transactions_run_inside_spawned_tasks() -> Result<()> {
        // Both futures are `Send`: a web handler or `tokio::spawn` can hold them.
        let t = fresh().await;
        let db = t.db.clone();
        let task = tokio::spawn(async move {
            let mut s = db.session();
            s.nested(|s| {
                Box::pin(async move {
                    s.add(user("spawned"))?;
                    s.flush().await
                })
            })
            .await?;
            s.commit().await?;
            db.transaction(|s| {
                Box::pin(async move {
                    s.add(user("retried"))?;
                    Ok::<_, Error>(())
                })
            })
            .await
        });
        task.await.expect("the task ran")?;
        assert_eq!(names(&t).await, ["retried", "spawned"]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_dropped_raw_write_leaves_the_session_truthful() -> Result<()> {
        // The raw write's future is dropped at every await point in turn (a cancelled request).
        let mut polls = 0;
        loop {
            let t = fresh().await;
            let mut s = t.db.session();
            let ed = s.add(user("ed"))?;
            s.flush().await?;
            let write = s
                .sql(placeholders("UPDATE users SET nickname = ? WHERE name = ?"))
                .bind("raw")
                .bind("ed")
                .execute();
            let completed = drop_after_polls(write, polls).await;
            let what = format!("raw write dropped after {polls} polls");
            let committed = match s.commit().await {
                Err(Error::TransactionLost) => s.commit().await,
                other => other,
            };
            committed?;
            let stored = t.rows("SELECT nickname FROM users WHERE name = 'ed'").await;
            match stored.first().and_then(|row| row.first()) {
                Some(Value::Text(nickname)) => {
                    if completed {
                        assert_eq!(nickname, "raw", "{what}");
                    }
                    let held = s.read(ed).await?.nickname.clone();
                    assert_eq!(held.as_deref(), Some(nickname.as_str()), "{what}");
                }
                _ => {
                    // The transaction went with the future: the session forgot ed's insert.
                    assert!(!completed, "{what}");
                    assert_ne!(s.state(ed), ObjectState::Persistent, "{what}");
                }
            }
            if completed {
                break;
            }
            polls += 1 + polls / 8;
            assert!(polls < 5000, "the raw write never completed");
        }
        Ok(())
    }
}
