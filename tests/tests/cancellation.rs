//! Cancellation at every await point: commit, rollback, a query and a relationship load, each
//! dropped after k polls for every k until it completes (a service's request cancelled there).
//! Afterwards the session still tells the truth: once it commits, every object it calls
//! persistent has its row, and no other has. (Flushes dropped at every point are in
//! cascade_current_parent.rs.)

use orm_core::prelude::*;
use orm_tests::harness::{self, drop_after_polls, Fresh};
use orm_tests::models::{Address, User};

/// Whether a user of that name is stored.
async fn stored(t: &Fresh, name: &str) -> bool {
    t.scalar(&format!("SELECT COUNT(*) FROM users WHERE name = '{name}'"))
        .await
        > 0
}

/// Runs a call; if it reports that an earlier cancelled call lost the transaction (which the
/// first call after the loss does, once), runs it again.
macro_rules! once_lost {
    ($call:expr) => {
        match $call.await {
            Err(Error::TransactionLost) => $call.await,
            other => other,
        }
    };
}

/// Commits, then checks every user the session held against the database: one it calls
/// persistent is stored, one stored is persistent or detached (a transaction whose outcome the
/// session could not know is forgotten, never replayed: nothing is inserted twice).
async fn commit_and_check(
    t: &Fresh,
    s: &mut Session,
    users: &[(Handle<User>, &str)],
    what: &str,
) -> Result<()> {
    once_lost!(s.commit())?;
    for &(handle, name) in users {
        let state = s.state(handle);
        let count = t
            .scalar(&format!("SELECT COUNT(*) FROM users WHERE name = '{name}'"))
            .await;
        assert!(count <= 1, "{name} stored {count} times: {what}");
        let stored = count == 1;
        if state == ObjectState::Persistent {
            assert!(stored, "{name} is persistent but not stored: {what}");
        }
        if stored {
            assert!(
                matches!(state, ObjectState::Persistent | ObjectState::Detached),
                "{name} is stored but {state:?}: {what}"
            );
        }
    }
    Ok(())
}

/// Runs `scenario` for every number of polls until the dropped call completes.
macro_rules! every_drop_point {
    (|$t:ident, $s:ident, $polls:ident| $body:block) => {{
        let mut $polls = 0;
        loop {
            let $t = harness::pooled(&[User::META, Address::META], 2).await;
            let mut $s = $t.db.session();
            let completed: bool = $body;
            if completed || $polls > 64 {
                break;
            }
            $polls += 1;
        }
    }};
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_dropped_commit_leaves_the_session_truthful() -> Result<()> {
        every_drop_point!(|t, s, polls| {
            let ann = s.add(User::new("ann", "Ann", "a"))?;
            s.flush().await?;
            let bob = s.add(User::new("bob", "Bob", "b"))?;
            let done = drop_after_polls(s.commit(), polls).await;
            let what = format!("commit dropped after {polls} polls");
            commit_and_check(&t, &mut s, &[(ann, "ann"), (bob, "bob")], &what).await?;
            done
        });
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_dropped_rollback_leaves_the_session_truthful() -> Result<()> {
        every_drop_point!(|t, s, polls| {
            let ann = s.add(User::new("ann", "Ann", "a"))?;
            s.commit().await?;
            let bob = s.add(User::new("bob", "Bob", "b"))?;
            s.flush().await?;
            let done = drop_after_polls(s.rollback(), polls).await;
            let what = format!("rollback dropped after {polls} polls");
            commit_and_check(&t, &mut s, &[(ann, "ann"), (bob, "bob")], &what).await?;
            assert!(stored(&t, "ann").await, "{what}");
            done
        });
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_dropped_query_leaves_the_session_truthful() -> Result<()> {
        every_drop_point!(|t, s, polls| {
            let ann = s.add(User::new("ann", "Ann", "a"))?;
            s.flush().await?;
            let bob = s.add(User::new("bob", "Bob", "b"))?; // autoflushed by the query
            let done = drop_after_polls(s.query::<User>().all(), polls).await;
            let what = format!("query dropped after {polls} polls");
            // The session answers the next query, whether the transaction survived or not.
            once_lost!(s.query::<User>().count())?;
            commit_and_check(&t, &mut s, &[(ann, "ann"), (bob, "bob")], &what).await?;
            done
        });
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_dropped_relationship_load_leaves_the_session_truthful() -> Result<()> {
        every_drop_point!(|t, s, polls| {
            let mut ann = User::new("ann", "Ann", "a");
            ann.addresses.push(Address::new("a1@x"));
            ann.addresses.push(Address::new("a2@x"));
            let ann = s.add(ann)?;
            s.commit().await?;
            let bob = s.add(User::new("bob", "Bob", "b"))?;
            s.flush().await?;
            let done = drop_after_polls(s.related(ann, User::ADDRESSES), polls).await;
            let what = format!("load dropped after {polls} polls");
            assert_eq!(once_lost!(s.related(ann, User::ADDRESSES))?.len(), 2, "{what}");
            commit_and_check(&t, &mut s, &[(ann, "ann"), (bob, "bob")], &what).await?;
            done
        });
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A later flush dropped at its first await takes the transaction (and the earlier flush's
    /// work) with it. The next call says so, once, with `Error::TransactionLost`; the objects of
    /// that transaction are detached; the session then works as usual.
    #[tokio::test]
    async fn the_call_after_a_lost_transaction_says_so() -> Result<()> {
        let t = harness::pooled(&[User::META, Address::META], 2).await;
        let (db, faults) = orm_tests::faults::faulty_database(t.raw.clone());
        let mut s = db.session();
        let ann = s.add(User::new("ann", "Ann", "a"))?;
        s.flush().await?;
        s.add(User::new("bob", "Bob", "b"))?;
        // The later flush's second call (its first INSERT, after the SAVEPOINT) hangs: the
        // request is cancelled there, while the flush holds the transaction.
        faults.stall(1);
        let done = drop_after_polls(s.flush(), 8).await;
        assert!(!done, "the flush waits on the hung call");
        faults.count_only();
        match s.query::<User>().count().await {
            Err(Error::TransactionLost) => {}
            other => panic!("expected TransactionLost, got {other:?}"),
        }
        assert_eq!(s.state(ann), ObjectState::Detached);
        assert_eq!(s.query::<User>().count().await?, 0, "said once, then usable");
        s.add(User::new("cy", "Cy", "c"))?;
        s.commit().await?;
        assert_eq!(t.count("users").await, 1);
        Ok(())
    }
}
