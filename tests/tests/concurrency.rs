//! Many sessions at once on one database: 64 tasks, each with its own session, insert and move
//! rows for a bounded time. No row is lost or duplicated, and with the default settings no task
//! sees an error (a task that did would retry only a retryable one).

use orm_core::prelude::*;
use orm_tests::harness;
use orm_tests::models::{Address, User};
use std::time::{Duration, Instant};

const TASKS: usize = 64;
const ROUNDS: usize = 5;

orm_tests::backend_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sixty_four_sessions_lose_and_duplicate_nothing() -> Result<()> {
        let t = harness::pooled(&[User::META, Address::META], 8).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let db = t.db.clone();
            tasks.push(tokio::spawn(async move {
                let mut done = 0;
                for round in 0..ROUNDS {
                    if Instant::now() > deadline {
                        break;
                    }
                    let mut s = db.session();
                    let mut user = User::new(&format!("t{task}r{round}"), "F", "n");
                    user.addresses.push(Address::new(&format!("t{task}r{round}@x")));
                    s.add(user)?;
                    s.commit().await?;
                    done += 1;
                }
                Ok::<usize, Error>(done)
            }));
        }
        let mut committed = 0;
        for task in tasks {
            committed += task.await.expect("the task ran")?;
        }
        assert!(committed >= TASKS, "every task committed at least once: {committed}");
        assert_eq!(t.count("users").await, committed as i64, "no user lost or duplicated");
        assert_eq!(t.count("addresses").await, committed as i64);
        let orphans = t
            .scalar(
                "SELECT COUNT(*) FROM addresses a LEFT JOIN users u ON u.id = a.user_id \
                 WHERE u.id IS NULL",
            )
            .await;
        assert_eq!(orphans, 0);
        t.assert_consistent().await;
        Ok(())
    }
}
