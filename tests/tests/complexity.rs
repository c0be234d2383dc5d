//! Work, not time (issue 14): editing a large collection one call at a time costs work linear
//! in the number of calls, whatever the collection's size. The ORM counts the member slots its
//! collection searches look at, and the session objects `append` asks for a previous holder
//! (`member_probes`), so a quadratic scan cannot hide behind a fast machine.

use orm_core::__private::member_probes;
use orm_core::prelude::*;
use orm_tests::models::{Address, User};

const MEMBERS: usize = 10_000;

/// A user with `MEMBERS` addresses, committed; returns its key.
async fn user_with_addresses(db: &Database) -> Result<i64> {
    let mut s = db.session();
    let mut user = User::new("ed", "Ed Jones", "eddie");
    for i in 0..MEMBERS {
        user.addresses
            .push(Address::new(&format!("ed{i}@example.com")));
    }
    let ed = s.add(user)?;
    s.commit().await?;
    Ok(s.read(ed).await?.id.expect("stored"))
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn removing_half_of_a_large_collection_costs_linear_work() -> Result<()> {
        let db = orm_tests::fresh_db(&[User::META, Address::META]).await?;
        let key = user_with_addresses(&db).await?;
        let mut s = db.session();
        let ed = s.get::<User>(key).await?.expect("stored");
        let addresses = s.related(ed, User::ADDRESSES).await?;
        assert_eq!(addresses.len(), MEMBERS);

        let before = member_probes();
        let removed: Vec<_> = addresses.iter().copied().step_by(2).collect();
        for &address in &removed {
            s.remove(ed, User::ADDRESSES, address).await?;
        }
        // Appending some back asks the collection whether it holds them, and finds the
        // previous holder (none) from each address's own loaded `user`: O(1) each too. (A walk
        // of the session's objects per append would count about 10,000 probes each.)
        for &address in removed.iter().take(100) {
            s.append(ed, User::ADDRESSES, address).await?;
        }
        let probes = member_probes() - before;
        eprintln!("{probes} member slots looked at");
        // Linear: a few slots per call plus one pass to index the collection. A scan per call
        // would look at about 5,000 x 7,500 = 37,500,000 slots.
        assert!(
            probes < 10 * MEMBERS as u64,
            "{probes} member slots looked at for {} calls on a {MEMBERS}-member collection",
            removed.len() + 100
        );

        s.commit().await?;
        let mut check = db.session();
        let stored = check.query::<Address>().count().await?;
        assert_eq!(stored, (MEMBERS - removed.len() + 100) as u64, "the orphans were deleted");
        let ed = check.get::<User>(key).await?.expect("stored");
        let held = check.related(ed, User::ADDRESSES).await?;
        assert_eq!(held.len(), MEMBERS - removed.len() + 100);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn order_is_kept_through_removals_and_appends() -> Result<()> {
        let db = orm_tests::fresh_db(&[User::META, Address::META]).await?;
        let mut s = db.session();
        let mut user = User::new("ann", "Ann", "a");
        for i in 0..40 {
            user.addresses.push(Address::new(&format!("{i:02}@example.com")));
        }
        let ann = s.add(user)?;
        s.flush().await?;
        let addresses = s.related(ann, User::ADDRESSES).await?;
        for &a in addresses.iter().skip(1).step_by(3) {
            s.remove(ann, User::ADDRESSES, a).await?;
        }
        s.append(ann, User::ADDRESSES, addresses[1]).await?;
        let held = s.related(ann, User::ADDRESSES).await?;
        let mut expected: Vec<_> = addresses
            .iter()
            .enumerate()
            .filter(|(i, _)| (i + 2) % 3 != 0)
            .map(|(_, &a)| a)
            .collect();
        expected.push(addresses[1]);
        assert_eq!(held, expected, "in memory: the order they were held and appended in");
        Ok(())
    }
}
