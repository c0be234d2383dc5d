//! The session's unit of work across flush, commit and rollback (issue 2, item 4; docs/dev/semantics.md §8):
//! delete and object states, autoflush, expire on commit, all-or-nothing flushes that leave the
//! session usable, batched inserts, `Send` sessions in `tokio::spawn`, and file databases.

use orm_core::prelude::*;
use orm_core::ConstraintKind;
use orm_tests::harness::Backend;
use orm_tests::models::{Address, User};
use std::marker::PhantomData;

/// A model with a unique column, to make a flush fail on its Nth insert.
#[derive(Model, Debug)]
#[model(table = "accounts")]
pub struct Account {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(unique)]
    pub username: String,
    pub balance: i64,
}

impl Account {
    fn new(username: &str, balance: i64) -> Self {
        Account {
            id: None,
            username: username.into(),
            balance,
        }
    }
}

async fn db() -> Result<Database> {
    orm_tests::fresh_db(&[User::META, Address::META, Account::META]).await
}

async fn usernames(db: &Database) -> Result<Vec<String>> {
    let mut s = db.session();
    let all = s
        .query::<Account>()
        .order_by(Account::USERNAME)
        .all()
        .await?;
    let mut names = Vec::new();
    for h in all {
        names.push(s.read(h).await?.username.clone());
    }
    Ok(names)
}

async fn user_names(s: &mut Session) -> Result<Vec<String>> {
    let all = s.query::<User>().order_by(User::NAME).all().await?;
    let mut names = Vec::new();
    for h in all {
        names.push(s.read(h).await?.name.clone());
    }
    Ok(names)
}

// ---- delete and object states ----

orm_tests::backend_test! {
    #[tokio::test]
    async fn delete_of_a_persistent_object_walks_through_its_states() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let jack = s.add(User::new("jack", "Jack Bean", "gjffdd"))?;
        assert_eq!(s.state(jack), ObjectState::Pending);
        s.commit().await?;
        assert_eq!(s.state(jack), ObjectState::Persistent);

        s.delete(jack)?;
        assert_eq!(
            s.state(jack),
            ObjectState::Persistent,
            "marked, deleted at the next flush"
        );
        s.flush().await?;
        assert_eq!(s.state(jack), ObjectState::Deleted);
        assert!(matches!(
            s.read(jack).await,
            Err(Error::Unavailable {
                state: "deleted",
                ..
            })
        ));
        s.commit().await?;
        assert_eq!(s.state(jack), ObjectState::Detached);

        let mut other = db.session();
        assert_eq!(other.query::<User>().count().await?, 0, "the row is gone");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn deleting_a_pending_object_means_it_is_never_inserted() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let keep = s.add(User::new("keep", "Keep", "k"))?;
        let drop_me = s.add(User::new("drop", "Drop", "d"))?;
        s.delete(drop_me)?;
        s.commit().await?;
        assert_eq!(s.state(keep), ObjectState::Persistent);
        assert_ne!(s.state(drop_me), ObjectState::Persistent);
        assert_eq!(user_names(&mut s).await?, ["keep"]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn rollback_revives_deletes_forgets_adds_and_reverts_changes() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let ed = s.add(User::new("ed", "Ed Jones", "eddie"))?;
        let wendy = s.add(User::new("wendy", "Wendy W", "windy"))?;
        s.commit().await?;

        s.delete(ed)?;
        s.write(wendy).await?.fullname = "changed, then rolled back".into();
        let mary = s.add(User::new("mary", "Mary C", "mc"))?;
        s.flush().await?;
        assert_eq!(s.state(ed), ObjectState::Deleted);
        assert_eq!(s.state(mary), ObjectState::Persistent);
        assert_eq!(user_names(&mut s).await?, ["mary", "wendy"]);

        s.rollback().await?;
        assert_eq!(
            s.state(ed),
            ObjectState::Persistent,
            "deleted in the transaction: persistent again"
        );
        assert_eq!(
            s.state(mary),
            ObjectState::Detached,
            "added in the transaction: no longer in the session (transient)"
        );
        assert_eq!(s.read(ed).await?.name, "ed");
        assert_eq!(
            s.read(wendy).await?.fullname,
            "Wendy W",
            "reloaded from the database"
        );
        assert_eq!(user_names(&mut s).await?, ["ed", "wendy"], "no data lost");

        // Handles stay valid and the session stays usable.
        s.write(ed).await?.nickname = None;
        s.commit().await?;
        let mut other = db.session();
        let found = other
            .query::<User>()
            .filter(User::NICKNAME.is_null())
            .one()
            .await?;
        assert_eq!(other.read(found).await?.name, "ed");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn rollback_forgets_a_pending_delete_that_was_never_flushed() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let ed = s.add(User::new("ed", "Ed Jones", "eddie"))?;
        s.commit().await?;
        s.delete(ed)?;
        s.rollback().await?;
        s.commit().await?;
        assert_eq!(s.state(ed), ObjectState::Persistent);
        assert_eq!(user_names(&mut s).await?, ["ed"]);
        Ok(())
    }
}

// ---- autoflush ----

orm_tests::backend_test! {
    #[tokio::test]
    async fn queries_autoflush_pending_adds_changes_and_deletes() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        s.add(User::new("ed", "Ed Jones", "eddie"))?;
        assert_eq!(
            s.query::<User>().count().await?,
            1,
            "the add is flushed first"
        );

        let wendy = s.add(User::new("wendy", "Wendy W", "windy"))?;
        let found = s
            .query::<User>()
            .filter_by(User::NAME, "wendy")
            .first()
            .await?;
        assert_eq!(found, Some(wendy));

        s.write(wendy).await?.name = "wendy2".into();
        let renamed = s
            .query::<User>()
            .filter_by(User::NAME, "wendy2")
            .all()
            .await?;
        assert_eq!(
            renamed,
            [wendy],
            "an in-memory change is visible to filters"
        );

        s.delete(wendy)?;
        assert_eq!(
            s.query::<User>().count().await?,
            1,
            "a delete followed by a count sees it"
        );
        s.commit().await?;
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn get_of_an_unheld_key_autoflushes_first() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let ed = s.add(User::new("ed", "Ed Jones", "eddie"))?;
        s.commit().await?;
        let id = s.read(ed).await?.id.expect("committed");
        s.expunge(ed)?;
        // A pending change elsewhere in the session is written before the SELECT of `get`.
        let wendy = s.add(User::new("wendy", "Wendy W", "windy"))?;
        let again = s.get::<User>(id).await?.expect("stored");
        assert_eq!(s.read(again).await?.name, "ed");
        assert_eq!(
            s.state(wendy),
            ObjectState::Persistent,
            "flushed by the get"
        );
        assert!(s.read(wendy).await?.id.is_some());
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn without_autoflush_queries_do_not_see_pending_changes() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        s.set_autoflush(false);
        s.add(User::new("ed", "Ed Jones", "eddie"))?;
        let before = db.statements_executed();
        assert_eq!(s.query::<User>().count().await?, 0);
        assert_eq!(
            db.statements_executed(),
            before + 1,
            "only the COUNT ran, no INSERT"
        );
        s.flush().await?;
        assert_eq!(s.query::<User>().count().await?, 1);
        Ok(())
    }
}

// ---- commit and expiry ----

orm_tests::backend_test! {
    #[tokio::test]
    async fn commit_expires_so_other_sessions_changes_become_visible() -> Result<()> {
        let db = db().await?;
        let mut a = db.session();
        let ed = a.add(User::new("ed", "Ed Jones", "eddie"))?;
        a.commit().await?;
        let id = a.read(ed).await?.id.expect("committed");
        assert_eq!(a.read(ed).await?.fullname, "Ed Jones");

        let mut b = db.session();
        let ed_b = b.get::<User>(id).await?.expect("stored");
        b.write(ed_b).await?.fullname = "changed by B".into();
        b.commit().await?;

        assert_eq!(
            a.read(ed).await?.fullname,
            "Ed Jones",
            "before A's commit, A reads its own copy"
        );
        a.commit().await?;
        assert_eq!(a.read(ed).await?.fullname, "changed by B");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn commit_expires_loaded_relationships() -> Result<()> {
        let db = db().await?;
        let mut a = db.session();
        let mut jack = User::new("jack", "Jack Bean", "gjffdd");
        jack.addresses.push(Address::new("jack@google.com"));
        let jack = a.add(jack)?;
        a.commit().await?;
        assert_eq!(a.related(jack, User::ADDRESSES).await?.len(), 1);
        let id = a.read(jack).await?.id.expect("committed");

        let mut b = db.session();
        let mut extra = Address::new("j25@yahoo.com");
        extra.user_id = Some(id);
        b.add(extra)?;
        b.commit().await?;

        assert_eq!(
            a.related(jack, User::ADDRESSES).await?.len(),
            1,
            "still the loaded collection"
        );
        a.commit().await?;
        assert_eq!(
            a.related(jack, User::ADDRESSES).await?.len(),
            2,
            "commit expired the collection; it reloads"
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn expire_on_commit_can_be_turned_off() -> Result<()> {
        let db = db().await?;
        let mut a = db.session();
        a.set_expire_on_commit(false);
        let ed = a.add(User::new("ed", "Ed Jones", "eddie"))?;
        a.commit().await?;
        let id = a.read(ed).await?.id.expect("committed");

        let mut b = db.session();
        let ed_b = b.get::<User>(id).await?.expect("stored");
        b.write(ed_b).await?.fullname = "changed by B".into();
        b.commit().await?;

        a.commit().await?;
        let before = db.statements_executed();
        assert_eq!(
            a.read(ed).await?.fullname,
            "Ed Jones",
            "not expired: A keeps its copy"
        );
        assert_eq!(
            db.statements_executed(),
            before,
            "and reads it without a SELECT"
        );
        a.expire(ed)?;
        assert_eq!(a.read(ed).await?.fullname, "changed by B");
        Ok(())
    }
}

// ---- a failing flush ----

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_failing_flush_applies_nothing_and_the_session_stays_usable() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        s.add(Account::new("alice", 100))?;
        s.commit().await?;

        let bob = s.add(Account::new("bob", 1))?;
        let dup = s.add(Account::new("alice", 2))?;
        let carol = s.add(Account::new("carol", 3))?;
        let err = s
            .flush()
            .await
            .expect_err("the second insert violates UNIQUE");
        match &err {
            Error::Constraint {
                kind: ConstraintKind::Unique,
                table,
                action,
                message,
                ..
            } => {
                assert_eq!(table, "accounts");
                assert!(action.contains("accounts"), "{action}");
                assert!(message.contains("username"), "names the column: {message}");
            }
            other => panic!("expected a unique violation on accounts, got {other:?}"),
        }
        // What a service maps to 409 without reading the message: the kind, the database's
        // own code and where it says them, the constraint or column; the driver's error.
        assert!(err.is_unique_violation() && !err.is_retryable());
        match orm_tests::harness::current() {
            Backend::Sqlite => {
                assert_eq!(err.db_code(), Some("2067"), "SQLITE_CONSTRAINT_UNIQUE");
                assert_eq!(err.column(), Some("username"));
            }
            Backend::Postgres => {
                assert_eq!(err.db_code(), Some("23505"));
                assert_eq!(err.constraint_name(), Some("accounts_username_key"));
            }
        }
        assert!(std::error::Error::source(&err).is_some(), "the driver's error");
        let text = err.to_string();
        assert!(
            text.contains("unique") && text.contains("accounts"),
            "{text}"
        );

        // Nothing of that flush reached the database.
        assert_eq!(usernames(&db).await?, ["alice"]);
        // The objects are as they were before the flush: still pending, no key.
        for h in [bob, dup, carol] {
            assert_eq!(s.state(h), ObjectState::Pending);
            assert_eq!(s.read(h).await?.id, None);
        }

        // Fix the offending object: the next flush succeeds and inserts all three.
        s.write(dup).await?.username = "dave".into();
        s.commit().await?;
        for h in [bob, dup, carol] {
            assert_eq!(s.state(h), ObjectState::Persistent);
        }
        assert_eq!(usernames(&db).await?, ["alice", "bob", "carol", "dave"]);
        let mut other = db.session();
        let alice = other
            .query::<Account>()
            .filter_by(Account::USERNAME, "alice")
            .one()
            .await?;
        assert_eq!(
            other.read(alice).await?.balance,
            100,
            "committed data intact"
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_failing_flush_inside_a_transaction_keeps_the_earlier_flushes() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        s.add(Account::new("alice", 100))?;
        s.commit().await?;

        // First flush succeeds and leaves the transaction open.
        let bob = s.add(Account::new("bob", 1))?;
        s.flush().await?;
        // Second flush: an update plus an insert that fails.
        s.write(bob).await?.balance = 50;
        let dup = s.add(Account::new("alice", 2))?;
        let err = s.flush().await.expect_err("unique violation");
        assert!(
            matches!(
                err,
                Error::Constraint {
                    kind: ConstraintKind::Unique,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(s.state(bob), ObjectState::Persistent, "bob's insert stands");
        assert_eq!(s.state(dup), ObjectState::Pending);
        assert_eq!(
            s.read(bob).await?.balance,
            50,
            "the in-memory change is kept for the retry"
        );

        s.expunge(dup)?;
        s.commit().await?;
        let mut other = db.session();
        let bob = other
            .query::<Account>()
            .filter_by(Account::USERNAME, "bob")
            .one()
            .await?;
        assert_eq!(other.read(bob).await?.balance, 50);
        assert_eq!(usernames(&db).await?, ["alice", "bob"]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_failing_update_leaves_no_partial_writes() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let alice = s.add(Account::new("alice", 10))?;
        let bob = s.add(Account::new("bob", 20))?;
        s.commit().await?;

        s.write(alice).await?.balance = 11;
        s.write(bob).await?.username = "alice".into();
        let err = s.flush().await.expect_err("bob cannot take alice's name");
        assert!(
            matches!(
                err,
                Error::Constraint {
                    kind: ConstraintKind::Unique,
                    ref table,
                    ..
                } if table == "accounts"
            ),
            "{err:?}"
        );
        let mut other = db.session();
        let stored = other
            .query::<Account>()
            .filter_by(Account::USERNAME, "alice")
            .one()
            .await?;
        assert_eq!(
            other.read(stored).await?.balance,
            10,
            "alice's update was not applied"
        );
        drop(other);

        s.write(bob).await?.username = "bobby".into();
        s.commit().await?;
        assert_eq!(usernames(&db).await?, ["alice", "bobby"]);
        let mut other = db.session();
        let stored = other
            .query::<Account>()
            .filter_by(Account::USERNAME, "alice")
            .one()
            .await?;
        assert_eq!(other.read(stored).await?.balance, 11);
        Ok(())
    }
}

// ---- batched inserts ----

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_hundred_inserts_into_one_table_cost_one_insert_statement() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let handles: Vec<Handle<Account>> = (0..100)
            .map(|i| s.add(Account::new(&format!("user{i:03}"), i)))
            .collect::<Result<_>>()?;
        let before = db.statements_executed();
        s.flush().await?;
        let ran = db.statements_executed() - before;
        assert_eq!(
            ran, 2,
            "BEGIN and one multi-row INSERT, not one INSERT per row"
        );

        // Every object got its own generated key, matching its row.
        let mut keys = std::collections::HashSet::new();
        let mut expected = Vec::new();
        for (i, &h) in handles.iter().enumerate() {
            let account = s.read(h).await?;
            let id = account.id.expect("key written back");
            assert!(keys.insert(id), "duplicate key {id}");
            expected.push((id, format!("user{i:03}")));
        }
        s.commit().await?;
        let mut other = db.session();
        for (id, name) in expected {
            let h = other.get::<Account>(id).await?.expect("stored");
            assert_eq!(
                other.read(h).await?.username,
                name,
                "key {id} maps to its own row"
            );
        }
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn children_inserts_are_batched_too_and_get_the_parent_key() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let mut jack = User::new("jack", "Jack Bean", "gjffdd");
        for i in 0..50 {
            jack.addresses
                .push(Address::new(&format!("jack{i}@example.com")));
        }
        let jack = s.add(jack)?;
        let before = db.statements_executed();
        s.flush().await?;
        assert_eq!(
            db.statements_executed() - before,
            3,
            "BEGIN, one INSERT into users, one INSERT into addresses"
        );
        let id = s.read(jack).await?.id;
        s.commit().await?;
        let mut other = db.session();
        assert_eq!(
            other
                .query::<Address>()
                .filter(Address::USER_ID.eq(id))
                .count()
                .await?,
            50
        );
        Ok(())
    }
}

// ---- Send, tokio::spawn and file databases ----

#[test]
fn session_and_database_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Session>();
    assert_send::<Database>();
    assert_send::<Handle<User>>();
}

/// `Probe::of(&value).is_send()` is true exactly when the (concrete, inferred) type is `Send`:
/// the inherent method applies only under `T: Send`, else the trait's default is found.
struct Probe<T>(PhantomData<T>);
impl<T> Probe<T> {
    fn of(_: &T) -> Self {
        Probe(PhantomData)
    }
}
trait NotSend {
    fn is_send(&self) -> bool {
        false
    }
}
impl<T> NotSend for Probe<T> {}
impl<T: Send> Probe<T> {
    #[allow(dead_code)]
    fn is_send(&self) -> bool {
        true
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn every_session_future_is_send() -> Result<()> {
        let db = orm_tests::fresh_db(&[User::META, Address::META]).await?;
        let mut s = db.session();
        let h = s.add(User::new("jack", "Jack Bean", "gjffdd"))?;
        let mut failures = Vec::new();
        macro_rules! probe {
            ($name:literal, $fut:expr) => {{
                let fut = $fut;
                if !Probe::of(&fut).is_send() {
                    failures.push($name);
                }
                drop(fut);
            }};
        }
        // Sanity: the probe tells Send from !Send.
        assert!(Probe::of(&1_u8).is_send());
        assert!(!Probe::of(&std::rc::Rc::new(1_u8)).is_send());
        probe!("flush", s.flush());
        probe!("commit", s.commit());
        probe!("rollback", s.rollback());
        probe!("get", s.get::<User>(1_i64));
        probe!("read", s.read(h));
        probe!("write", s.write(h));
        probe!("refresh", s.refresh(h));
        probe!("query.all", s.query::<User>().all());
        probe!("query.count", s.query::<User>().count());
        probe!("related", s.related(h, User::ADDRESSES));
        assert!(
            failures.is_empty(),
            "futures that are not Send: {failures:?}"
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sessions_work_inside_tokio_spawn_on_a_file_database() -> Result<()> {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("spawn.db").display());
        let db = orm_sqlite::connect(&url).await?;
        db.create_all(&[User::META, Address::META]).await?;

        let mut tasks = Vec::new();
        for t in 0..4 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = db.session();
                let mut user = User::new(&format!("task{t}"), "Spawned", "s");
                user.addresses
                    .push(Address::new(&format!("task{t}@example.com")));
                let h = s.add(user)?;
                s.commit().await?;
                let id = s.read(h).await?.id.expect("committed");
                let again = s.get::<User>(id).await?.expect("stored");
                let addresses = s.related(again, User::ADDRESSES).await?;
                s.write(again).await?.fullname = format!("task {t} done");
                s.commit().await?;
                Ok::<_, Error>((id, addresses.len()))
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            let (id, addresses) = task.await.expect("the task did not panic")?;
            assert_eq!(addresses, 1);
            ids.push(id);
        }
        let mut s = db.session();
        assert_eq!(s.query::<User>().count().await?, 4);
        assert_eq!(
            s.query::<User>()
                .filter(User::FULLNAME.like("task % done"))
                .count()
                .await?,
            4
        );
        assert_eq!(s.query::<Address>().count().await?, 4);
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 4);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_file_database_persists_across_connections() -> Result<()> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("persist.db");
        let url = format!("sqlite://{}", path.display());
        {
            let db = orm_sqlite::connect(&url).await?;
            db.create_all(&[User::META, Address::META]).await?;
            let mut s = db.session();
            let mut jack = User::new("jack", "Jack Bean", "gjffdd");
            jack.addresses.push(Address::new("jack@google.com"));
            s.add(jack)?;
            s.commit().await?;
            drop(s);
            db.close().await;
        }
        assert!(path.exists(), "the file was created");

        let db = orm_sqlite::connect(&url).await?;
        // create_all on existing tables is harmless and keeps the data.
        db.create_all(&[User::META, Address::META]).await?;
        let mut s = db.session();
        let jack = s
            .query::<User>()
            .filter_by(User::NAME, "jack")
            .one()
            .await?;
        assert_eq!(s.read(jack).await?.fullname, "Jack Bean");
        let addresses = s.related(jack, User::ADDRESSES).await?;
        assert_eq!(addresses.len(), 1);
        assert_eq!(s.read(addresses[0]).await?.email_address, "jack@google.com");
        db.close().await;
        Ok(())
    }
}
