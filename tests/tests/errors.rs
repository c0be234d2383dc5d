//! Typed, actionable errors for bad input (issue 2, item 5): a handle from another session, a
//! deleted or detached object, each kind of constraint violation, a closed pool, a malformed URL,
//! a missing table, and a row that does not fit its model. After each, the session stays usable.

use orm_core::prelude::*;
use orm_core::ConstraintKind;
use orm_tests::harness::Backend;
use orm_tests::models::{Address, User};

/// A unique column.
#[derive(Model, Debug)]
#[model(table = "accounts")]
pub struct Account {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(unique)]
    pub username: String,
}

/// The schema of `notes`: `body` is NOT NULL.
#[derive(Model, Debug)]
#[model(table = "notes")]
pub struct StrictNote {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub body: String,
}

/// A second model over `notes` that believes `body` is nullable, to reach the NOT NULL check.
#[derive(Model, Debug)]
#[model(table = "notes")]
pub struct LooseNote {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub body: Option<String>,
}

/// A second model over `notes` that reads `body` as an integer.
#[derive(Model, Debug)]
#[model(table = "notes")]
pub struct MisreadNote {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub body: i64,
}

/// A model whose table is never created.
#[derive(Model, Debug)]
#[model(table = "ghosts")]
pub struct Ghost {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
}

/// Rows of a table created by hand with a CHECK constraint (`qty >= 0`).
#[derive(Model, Debug)]
#[model(table = "stock")]
pub struct Stock {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub qty: i64,
}

async fn db() -> Result<Database> {
    orm_tests::fresh_db(&[User::META, Address::META, Account::META, StrictNote::META]).await
}

fn account(name: &str) -> Account {
    Account {
        id: None,
        username: name.into(),
    }
}

async fn count<T: Model>(db: &Database) -> Result<u64> {
    db.session().query::<T>().count().await
}

// ---- handles ----

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_handle_from_another_session_is_a_foreign_handle_error() -> Result<()> {
        let db = db().await?;
        let mut a = db.session();
        let jack = a.add(User::new("jack", "Jack Bean", "gjffdd"))?;
        a.commit().await?;
        let mut b = db.session();

        let is_foreign = |r: Result<()>| matches!(r, Err(Error::ForeignHandle { model: "User" }));
        assert!(is_foreign(b.read(jack).await.map(|_| ())));
        assert!(is_foreign(b.write(jack).await.map(|_| ())));
        assert!(is_foreign(b.delete(jack)));
        assert!(is_foreign(b.expire(jack)));
        assert!(is_foreign(b.refresh(jack).await));
        assert!(is_foreign(b.expunge(jack)));
        assert!(is_foreign(
            b.related(jack, User::ADDRESSES).await.map(|_| ())
        ));
        let addr = b.add(Address::new("x@example.com"))?;
        assert!(is_foreign(b.append(jack, User::ADDRESSES, addr).await));
        assert!(matches!(
            b.set(addr, Address::USER, Some(jack)).await,
            Err(Error::ForeignHandle { model: "User" })
        ));
        assert_eq!(b.state(jack), ObjectState::Detached);

        let message = b.read(jack).await.expect_err("foreign").to_string();
        assert!(
            message.contains("User") && message.contains("another session"),
            "{message}"
        );

        // Neither session was harmed.
        b.expunge(addr)?;
        b.commit().await?;
        assert_eq!(a.read(jack).await?.name, "jack");
        assert_eq!(count::<Address>(&db).await?, 0);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_deleted_object_is_unavailable_once_its_delete_is_flushed() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let jack = s.add(User::new("jack", "Jack Bean", "gjffdd"))?;
        s.commit().await?;
        let id = s.read(jack).await?.id.expect("committed");
        s.delete(jack)?;
        s.flush().await?;

        let unavailable = |r: Result<()>| match r {
            Err(Error::Unavailable { model, key, state }) => {
                assert_eq!((model, state), ("User", "deleted"));
                assert_eq!(key, id.to_string());
                true
            }
            other => panic!("expected Unavailable, got {other:?}"),
        };
        assert!(unavailable(s.read(jack).await.map(|_| ())));
        assert!(unavailable(s.write(jack).await.map(|_| ())));
        assert!(unavailable(s.delete(jack)));
        assert!(unavailable(s.refresh(jack).await));
        assert!(unavailable(
            s.related(jack, User::ADDRESSES).await.map(|_| ())
        ));
        let message = s.read(jack).await.expect_err("deleted").to_string();
        assert!(
            message.contains("User")
                && message.contains("deleted")
                && message.contains(&id.to_string()),
            "{message}"
        );

        s.commit().await?;
        match s.read(jack).await {
            Err(Error::Unavailable {
                state: "detached", ..
            }) => {}
            other => panic!("after commit a deleted object is detached, got {other:?}"),
        }
        // The session is still usable.
        s.add(User::new("ed", "Ed Jones", "eddie"))?;
        s.commit().await?;
        assert_eq!(count::<User>(&db).await?, 1);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn attaching_a_deleted_object_is_an_error_at_once() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let mut jack = User::new("jack", "Jack Bean", "gjffdd");
        jack.addresses.push(Address::new("old@example.com"));
        let jack = s.add(jack)?;
        let ed = s.add(User::new("ed", "Ed Jones", "eddie"))?;
        s.commit().await?;
        let addr = s.related(jack, User::ADDRESSES).await?[0];
        s.delete(addr)?;
        s.flush().await?;
        assert!(s.related(jack, User::ADDRESSES).await?.is_empty());
        match s.append(ed, User::ADDRESSES, addr).await {
            Err(
                err @ Error::AttachDeleted {
                    model: "Address", ..
                },
            ) => {
                assert!(err.to_string().contains("addresses"), "{err}");
            }
            other => panic!("expected AttachDeleted, got {other:?}"),
        }
        s.commit().await?;
        assert_eq!(count::<Address>(&db).await?, 0);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_row_deleted_by_another_session_is_unavailable_after_expiry() -> Result<()> {
        let db = db().await?;
        let mut a = db.session();
        let jack = a.add(User::new("jack", "Jack Bean", "gjffdd"))?;
        a.commit().await?;
        let id = a.read(jack).await?.id.expect("committed");

        let mut b = db.session();
        let jack_b = b.get::<User>(id).await?.expect("stored");
        b.delete(jack_b)?;
        b.commit().await?;

        a.expire(jack)?;
        match a.read(jack).await {
            Err(Error::Unavailable {
                model: "User",
                state: "deleted",
                ..
            }) => {}
            other => panic!("expected Unavailable, got {other:?}"),
        }
        assert!(a.get::<User>(id).await?.is_none());
        Ok(())
    }
}

// ---- constraint violations ----

orm_tests::backend_test! {
    #[tokio::test]
    async fn unique_violation() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        s.add(account("alice"))?;
        s.commit().await?;
        let dup = s.add(account("alice"))?;
        let err = s.commit().await.expect_err("duplicate username");
        match &err {
            Error::Constraint {
                kind: ConstraintKind::Unique,
                table,
                action,
                ..
            } => {
                assert_eq!(table, "accounts");
                assert_eq!(action, "inserting into `accounts`");
            }
            other => panic!("expected a unique violation, got {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("unique") && text.contains("accounts") && text.contains("username"),
            "{text}"
        );
        s.write(dup).await?.username = "alicia".into();
        s.commit().await?;
        assert_eq!(count::<Account>(&db).await?, 2);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn not_null_violation() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        s.add(StrictNote {
            id: None,
            body: "kept".into(),
        })?;
        s.commit().await?;
        let bad = s.add(LooseNote {
            id: None,
            body: None,
        })?;
        let err = s.commit().await.expect_err("body is NOT NULL");
        match &err {
            Error::Constraint {
                kind: ConstraintKind::NotNull,
                table,
                message,
                ..
            } => {
                assert_eq!(table, "notes");
                assert!(message.contains("body"), "{message}");
            }
            other => panic!("expected a not-null violation, got {other:?}"),
        }
        assert!(err.to_string().contains("not null"), "{err}");
        assert!(err.is_not_null_violation() && !err.is_retryable());
        assert_eq!(err.column(), Some("body"), "the database names the column");
        let code = match orm_tests::harness::current() {
            Backend::Sqlite => "1299", // SQLITE_CONSTRAINT_NOTNULL
            Backend::Postgres => "23502",
        };
        assert_eq!(err.db_code(), Some(code));
        s.write(bad).await?.body = Some("fixed".into());
        s.commit().await?;
        assert_eq!(count::<StrictNote>(&db).await?, 2);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn foreign_key_violation() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let jack = s.add(User::new("jack", "Jack Bean", "gjffdd"))?;
        s.commit().await?;
        let jack_id = s.read(jack).await?.id;

        let mut orphan = Address::new("nobody@example.com");
        orphan.user_id = Some(987_654);
        let orphan = s.add(orphan)?;
        let err = s.commit().await.expect_err("no user 987654");
        match &err {
            Error::Constraint {
                kind: ConstraintKind::ForeignKey,
                table,
                ..
            } => assert_eq!(table, "addresses"),
            other => panic!("expected a foreign-key violation, got {other:?}"),
        }
        assert!(err.to_string().contains("foreign key"), "{err}");
        assert!(err.is_foreign_key_violation() && !err.is_unique_violation());
        match orm_tests::harness::current() {
            Backend::Sqlite => assert_eq!(err.db_code(), Some("787")), // SQLITE_CONSTRAINT_FOREIGNKEY
            Backend::Postgres => {
                assert_eq!(err.db_code(), Some("23503"));
                assert_eq!(err.constraint_name(), Some("addresses_user_id_fkey"));
            }
        }
        assert!(std::error::Error::source(&err).is_some(), "the driver's error");
        assert_eq!(count::<Address>(&db).await?, 0);

        s.write(orphan).await?.user_id = jack_id;
        s.commit().await?;
        assert_eq!(s.related(jack, User::ADDRESSES).await?, [orphan]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn check_violation() -> Result<()> {
        // A table with a CHECK constraint, created by hand (the derive does not declare CHECKs).
        let t = orm_tests::harness::fresh(&[]).await;
        t.exec(match t.backend {
            Backend::Sqlite => {
                "CREATE TABLE stock (id INTEGER PRIMARY KEY AUTOINCREMENT, \
                 qty INTEGER NOT NULL CHECK (qty >= 0))"
            }
            Backend::Postgres => {
                "CREATE TABLE stock (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, \
                 qty BIGINT NOT NULL CONSTRAINT stock_qty_not_negative CHECK (qty >= 0))"
            }
        })
        .await;
        let db = t.db.clone();
        let mut s = db.session();
        s.add(Stock { id: None, qty: 3 })?;
        let bad = s.add(Stock { id: None, qty: -1 })?;
        match s.commit().await {
            Err(Error::Constraint {
                kind: ConstraintKind::Check,
                table,
                ..
            }) => assert_eq!(table, "stock"),
            other => panic!("expected a check violation, got {other:?}"),
        }
        let err = s.commit().await.expect_err("still negative");
        assert!(err.is_check_violation());
        if t.backend == Backend::Postgres {
            assert_eq!(err.db_code(), Some("23514"));
            assert_eq!(err.constraint_name(), Some("stock_qty_not_negative"));
        }
        assert_eq!(
            count::<Stock>(&db).await?,
            0,
            "nothing of the flush applied"
        );
        s.write(bad).await?.qty = 1;
        s.commit().await?;
        assert_eq!(count::<Stock>(&db).await?, 2);
        db.close().await;
        Ok(())
    }
}

// ---- database and schema ----

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_closed_pool_is_a_pool_closed_error() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let jack = s.add(User::new("jack", "Jack Bean", "gjffdd"))?;
        s.commit().await?;
        db.close().await;

        assert!(matches!(
            s.query::<User>().count().await,
            Err(Error::PoolClosed)
        ));
        assert!(
            matches!(s.read(jack).await, Err(Error::PoolClosed)),
            "reload of an expired object"
        );
        s.add(User::new("ed", "Ed Jones", "eddie"))?;
        let err = s.flush().await.expect_err("pool is closed");
        assert!(matches!(err, Error::PoolClosed), "{err:?}");
        assert!(err.to_string().contains("closed"), "{err}");
        let mut fresh = db.session();
        assert!(matches!(fresh.get::<User>(1).await, Err(Error::PoolClosed)));
        Ok(())
    }
}

#[tokio::test]
async fn a_malformed_url_is_an_invalid_url_error() {
    for url in [
        "",
        "postgres://localhost/db",
        "not a url at all",
        "sqlite://",
        "SQLITE://x.db",
        "sqlite://x.db?no_such_option=1",
        "sqlite:///no/such/directory/anywhere/x.db",
    ] {
        match orm_sqlite::connect(url).await {
            Err(err @ Error::InvalidUrl { .. }) => {
                let Error::InvalidUrl {
                    url: reported,
                    reason,
                } = &err
                else {
                    unreachable!()
                };
                assert_eq!(reported, url);
                assert!(!reason.is_empty());
                let text = err.to_string();
                assert!(text.contains("invalid database URL"), "{text}");
            }
            other => panic!("expected InvalidUrl for {url:?}, got {other:?}"),
        }
    }
    // The message says what to write instead.
    let err = orm_sqlite::connect("postgres://localhost/db")
        .await
        .expect_err("not sqlite");
    assert!(err.to_string().contains("sqlite::memory:"), "{err}");
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_missing_table_is_a_missing_table_error() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let missing = |r: Result<()>| match r {
            Err(Error::MissingTable { table }) => table == "ghosts",
            other => panic!("expected MissingTable, got {other:?}"),
        };
        assert!(missing(s.query::<Ghost>().count().await.map(|_| ())));
        assert!(missing(s.query::<Ghost>().all().await.map(|_| ())));
        assert!(missing(s.get::<Ghost>(1).await.map(|_| ())));
        let ghost = s.add(Ghost {
            id: None,
            name: "boo".into(),
        })?;
        let err = s.flush().await.expect_err("no table");
        assert!(
            matches!(&err, Error::MissingTable { table } if table == "ghosts"),
            "{err:?}"
        );
        assert!(err.to_string().contains("create_all"), "{err}");

        // Create the table: the same session and the same pending object now succeed.
        db.create_all(&[Ghost::META]).await?;
        s.commit().await?;
        assert_eq!(s.state(ghost), ObjectState::Persistent);
        assert_eq!(count::<Ghost>(&db).await?, 1);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_row_that_does_not_fit_its_model_is_a_decode_error() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        s.add(StrictNote {
            id: None,
            body: "not a number".into(),
        })?;
        s.commit().await?;
        // A fresh session: `s` holds row 1 of `notes` as a `StrictNote`.
        let mut fresh = db.session();
        match fresh.query::<MisreadNote>().all().await {
            Err(err @ Error::Decode { .. }) => {
                let Error::Decode { model, column, .. } = &err else {
                    unreachable!()
                };
                assert_eq!(*model, "MisreadNote");
                assert_eq!(*column, "body", "names the column that failed");
                let text = err.to_string();
                assert!(
                    text.contains("`body`")
                        && text.contains("text")
                        && (text.contains("integer") || text.contains("i64")),
                    "{text}"
                );
            }
            other => panic!("expected Decode, got {other:?}"),
        }
        assert_eq!(s.query::<StrictNote>().count().await?, 1);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// `create_all` runs in one transaction: when a statement fails (here the index on
    /// `addresses`, which already exists as a view), no table of the call is left.
    #[tokio::test]
    async fn create_all_is_all_or_nothing() -> Result<()> {
        let t = orm_tests::harness::fresh(&[]).await;
        t.exec("CREATE VIEW addresses AS SELECT 1 AS id").await;
        let err = t
            .db
            .create_all(&[User::META, Address::META])
            .await
            .expect_err("a view cannot be indexed");
        assert!(err.to_string().contains("addresses"), "{err}");
        let mut s = t.db.session();
        match s.query::<User>().count().await {
            Err(Error::MissingTable { table }) => assert_eq!(table, "users"),
            other => panic!("`users` was rolled back with the failed call, got {other:?}"),
        }
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A read that fails inside the session's transaction. SQLite fails only the statement:
    /// the transaction and its earlier flush go on. PostgreSQL aborts the whole transaction;
    /// the session rolls back with it, so a later commit never claims the lost rows.
    #[tokio::test]
    async fn a_failed_read_inside_a_transaction_leaves_the_session_truthful() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let jack = s.add(User::new("jack", "Jack Bean", "gjffdd"))?;
        s.flush().await?;
        let err = s.query::<Ghost>().count().await.expect_err("no table");
        assert!(matches!(err, Error::MissingTable { .. }), "{err:?}");
        s.commit().await?;
        let stored = count::<User>(&db).await?;
        match orm_tests::harness::current() {
            Backend::Sqlite => {
                assert_eq!(stored, 1, "the flush survived the failed read");
                assert_eq!(s.state(jack), ObjectState::Persistent);
            }
            Backend::Postgres => {
                assert_eq!(stored, 0, "the aborted transaction took the flush with it");
                assert_ne!(s.state(jack), ObjectState::Persistent);
            }
        }
        // The session goes on working.
        s.add(User::new("ed", "Ed Jones", "eddie"))?;
        s.commit().await?;
        assert_eq!(count::<User>(&db).await?, stored + 1);
        Ok(())
    }
}

/// A model with a column its table (created by an older version) lacks.
#[derive(Model, Debug)]
#[model(table = "people")]
pub struct Person {
    #[column(primary_key)]
    pub id: i64,
    pub name: String,
    pub nickname: Option<String>,
}

orm_tests::backend_test! {
    /// A column the table lacks is an error that names it, on reads, filters and writes, never
    /// a made-up value (SQLite once read a double-quoted unknown name as a string literal);
    /// `check_schema` finds it before any of them.
    #[tokio::test]
    async fn a_column_the_table_lacks_is_an_error_naming_it() -> Result<()> {
        let t = orm_tests::harness::fresh(&[]).await;
        t.exec("CREATE TABLE people (id BIGINT PRIMARY KEY, name TEXT NOT NULL)")
            .await;
        t.exec("INSERT INTO people (id, name) VALUES (1, 'ann')").await;
        let missing = |err: Error| match err {
            Error::MissingColumn { table, column } => {
                assert_eq!((table.as_str(), column.as_str()), ("people", "nickname"));
            }
            other => panic!("expected a missing column, got {other:?}"),
        };
        missing(t.db.check_schema(&[Person::META]).await.expect_err("no nickname"));

        let mut s = t.db.session();
        missing(s.get::<Person>(1i64).await.expect_err("read"));
        let filtered = s
            .query::<Person>()
            .filter(Person::NICKNAME.eq(Some("nickname".to_owned())))
            .count()
            .await;
        missing(filtered.expect_err("filter"));
        s.add(Person {
            id: 2,
            name: "bob".into(),
            nickname: None,
        })?;
        let err = s.flush().await.expect_err("write");
        assert!(err.to_string().contains("nickname"), "{err}");
        missing(err);

        t.exec("ALTER TABLE people ADD COLUMN nickname TEXT").await;
        t.db.check_schema(&[Person::META]).await?;
        s.commit().await?;
        assert_eq!(t.count("people").await, 2);
        match t.db.check_schema(&[Ghost::META]).await {
            Err(Error::MissingTable { table }) => assert_eq!(table, "ghosts"),
            other => panic!("expected a missing table, got {other:?}"),
        }
        Ok(())
    }
}
