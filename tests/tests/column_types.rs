//! Column types of the user's own, through `#[derive(SqlValue)]`: newtypes as typed keys
//! (generated, foreign, with cascades), enums stored as text or as their discriminant, filters
//! and ordering on them, and stored values that fit no variant.

use orm_core::prelude::*;
use orm_core::Value;

/// A typed key: stored as its `i64`.
#[derive(SqlValue, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(i64);

/// A typed text column.
#[derive(SqlValue, Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// Stored as text: `active`, `on_hold`, `gone`.
#[derive(SqlValue, Debug, Clone, Copy, PartialEq, Eq)]
#[sql(rename_all = "snake_case")]
pub enum Status {
    Active,
    OnHold,
    #[sql(rename = "gone")]
    Closed,
}

/// Stored as its discriminant.
#[derive(SqlValue, Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i16)]
pub enum Priority {
    Urgent = -5,
    Low = 1,
    High = 10,
}

#[derive(Model, Debug)]
#[model(table = "ct_accounts")]
pub struct Account {
    #[column(primary_key)]
    pub id: Option<AccountId>,
    #[column(unique)]
    pub email: Email,
    pub status: Status,
    pub priority: Option<Priority>,
    #[relationship(back_populates = "account", cascade = "all, delete-orphan")]
    pub tickets: HasMany<Ticket>,
}

#[derive(Model, Debug)]
#[model(table = "ct_tickets")]
pub struct Ticket {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "ct_accounts.id")]
    pub account_id: Option<AccountId>,
    pub priority: Priority,
    #[relationship(back_populates = "tickets")]
    pub account: BelongsTo<Account>,
}

fn account(email: &str, status: Status, priority: Option<Priority>) -> Account {
    Account {
        id: None,
        email: Email(email.into()),
        status,
        priority,
        tickets: HasMany::new(),
    }
}

fn ticket(priority: Priority) -> Ticket {
    Ticket {
        id: None,
        account_id: None,
        priority,
        account: BelongsTo::new(),
    }
}

/// The emails of `accounts`, in order.
async fn emails(s: &mut Session, accounts: Vec<Handle<Account>>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for handle in accounts {
        out.push(s.read(handle).await?.email.0.clone());
    }
    Ok(out)
}

async fn fresh() -> orm_tests::harness::Fresh {
    orm_tests::harness::fresh(&[Account::META, Ticket::META]).await
}

orm_tests::backend_test! {
    /// Each value goes in and comes back unchanged, stored as the inner type, the variant's
    /// name or its discriminant.
    #[tokio::test]
    async fn newtypes_and_enums_round_trip_as_their_storage() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        let a = s.add(account("a@x", Status::OnHold, Some(Priority::Urgent)))?;
        let b = s.add(account("b@x", Status::Closed, None))?;
        s.commit().await?;
        let a_id = s.read(a).await?.id.expect("generated");
        assert_eq!(s.read(b).await?.id, Some(AccountId(a_id.0 + 1)));

        let stored = t
            .rows("SELECT email, status, priority FROM ct_accounts ORDER BY id")
            .await;
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(
            stored,
            vec![
                vec![text("a@x"), text("on_hold"), Value::Integer(-5)],
                vec![text("b@x"), text("gone"), Value::Null],
            ]
        );

        let mut fresh = t.db.session();
        let handle = fresh.get::<Account>(a_id).await?.expect("by its typed key");
        let loaded = fresh.read(handle).await?;
        assert_eq!(loaded.email, Email("a@x".into()));
        assert_eq!(loaded.status, Status::OnHold);
        assert_eq!(loaded.priority, Some(Priority::Urgent));

        // Changing an enum field is a tracked change like any other.
        fresh.write(handle).await?.status = Status::Active;
        fresh.commit().await?;
        assert_eq!(
            t.rows("SELECT status FROM ct_accounts WHERE email = 'a@x'").await,
            vec![vec![text("active")]]
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// `eq` and `is_in` on enums, `lt` and ordering on an integer enum (by discriminant) and on
    /// a newtype key.
    #[tokio::test]
    async fn filters_and_order_use_the_stored_form() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        for (email, status, priority) in [
            ("low@x", Status::Active, Priority::Low),
            ("urgent@x", Status::OnHold, Priority::Urgent),
            ("high@x", Status::Closed, Priority::High),
        ] {
            s.add(account(email, status, Some(priority)))?;
        }
        s.commit().await?;
        let on_hold = s
            .query::<Account>()
            .filter(Account::STATUS.eq(Status::OnHold))
            .all()
            .await?;
        assert_eq!(emails(&mut s, on_hold).await?, ["urgent@x"]);
        let open = s
            .query::<Account>()
            .filter(Account::STATUS.is_in([Status::Active, Status::OnHold]))
            .order_by(Account::PRIORITY)
            .all()
            .await?;
        assert_eq!(emails(&mut s, open).await?, ["urgent@x", "low@x"]);
        let by_priority = s
            .query::<Account>()
            .order_by(Account::PRIORITY)
            .all()
            .await?;
        assert_eq!(emails(&mut s, by_priority).await?, ["urgent@x", "low@x", "high@x"]);
        let below_high = s
            .query::<Account>()
            .filter(Account::PRIORITY.lt(Some(Priority::High)))
            .count()
            .await?;
        assert_eq!(below_high, 2);
        let first = s
            .query::<Account>()
            .order_by(Account::ID)
            .first()
            .await?
            .expect("three accounts");
        let first_id = s.read(first).await?.id.expect("stored");
        let after_first = s
            .query::<Account>()
            .filter(Account::ID.gt(Some(first_id)))
            .count()
            .await?;
        assert_eq!(after_first, 2);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A one-to-many whose keys are newtypes: children get the parent's typed key, deleting the
    /// parent deletes them, removing one orphans it, bulk delete and preview work.
    #[tokio::test]
    async fn cascades_follow_newtype_keys() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        let mut parent = account("p@x", Status::Active, None);
        parent.tickets.push(ticket(Priority::High));
        parent.tickets.push(ticket(Priority::Low));
        let parent = s.add(parent)?;
        s.commit().await?;
        let parent_id = s.read(parent).await?.id;
        let tickets = s.related(parent, Account::TICKETS).await?;
        assert_eq!(tickets.len(), 2);
        for &ticket in &tickets {
            assert_eq!(s.read(ticket).await?.account_id, parent_id);
        }

        s.remove(parent, Account::TICKETS, tickets[0]).await?;
        s.commit().await?;
        assert_eq!(t.count("ct_tickets").await, 1, "the orphan was deleted");

        let preview = s.preview_delete(parent).await?;
        assert!(preview.to_string().contains("ct_tickets"), "{preview}");
        let deleted = s
            .query::<Account>()
            .filter(Account::EMAIL.eq(Email("p@x".into())))
            .delete()
            .await?;
        assert_eq!(deleted, 1);
        s.commit().await?;
        assert_eq!(t.count("ct_accounts").await, 0);
        assert_eq!(t.count("ct_tickets").await, 0, "the cascade reached the tickets");
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A stored value that names no variant (written by another program) is a decode error that
    /// names the column and the value, never a default variant.
    #[tokio::test]
    async fn a_value_that_names_no_variant_is_an_error() -> Result<()> {
        let t = fresh().await;
        let mut s = t.db.session();
        s.add(account("a@x", Status::Active, Some(Priority::Low)))?;
        s.commit().await?;

        t.exec("UPDATE ct_accounts SET status = 'archived'").await;
        let mut fresh = t.db.session();
        let err = fresh.query::<Account>().all().await.expect_err("archived");
        match &err {
            Error::Decode { model, column, .. } => {
                assert_eq!((*model, *column), ("Account", "status"));
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("\"archived\"") && text.contains("\"on_hold\""), "{text}");

        t.exec("UPDATE ct_accounts SET status = 'active', priority = 7").await;
        let mut fresh = t.db.session();
        let err = fresh.query::<Account>().all().await.expect_err("7");
        assert!(
            matches!(&err, Error::Decode { column: "priority", .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains('7'), "{err}");
        Ok(())
    }
}

/// One column of each integer width and both float widths.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ct_numbers")]
pub struct Numbers {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub a_i8: i8,
    pub a_i16: i16,
    pub a_i32: i32,
    pub a_i64: i64,
    pub a_u8: u8,
    pub a_u16: u16,
    pub a_u32: u32,
    pub a_f32: f32,
    pub a_f64: f64,
}

fn numbers(extreme: Extreme) -> Numbers {
    macro_rules! pick {
        ($t:ty) => {
            match extreme {
                Extreme::Min => <$t>::MIN,
                Extreme::Max => <$t>::MAX,
            }
        };
    }
    Numbers {
        id: None,
        a_i8: pick!(i8),
        a_i16: pick!(i16),
        a_i32: pick!(i32),
        a_i64: pick!(i64),
        a_u8: pick!(u8),
        a_u16: pick!(u16),
        a_u32: pick!(u32),
        a_f32: pick!(f32),
        a_f64: pick!(f64),
    }
}

#[derive(Debug, Clone, Copy)]
enum Extreme {
    Min,
    Max,
}

orm_tests::backend_test! {
    /// The smallest and largest value of every integer and float width, and the infinities,
    /// come back exactly.
    #[tokio::test]
    async fn every_width_round_trips_its_extremes() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Numbers::META]).await;
        let mut s = t.db.session();
        let mut infinite = numbers(Extreme::Max);
        infinite.a_f32 = f32::NEG_INFINITY;
        infinite.a_f64 = f64::INFINITY;
        let written = [numbers(Extreme::Min), numbers(Extreme::Max), infinite];
        let handles = written
            .iter()
            .map(|n| s.add(n.clone()))
            .collect::<Result<Vec<_>>>()?;
        s.commit().await?;
        let mut fresh = t.db.session();
        for (handle, expected) in handles.into_iter().zip(written) {
            let id = s.read(handle).await?.id;
            let stored = fresh.get::<Numbers>(id).await?.expect("stored");
            let stored = fresh.read(stored).await?;
            assert_eq!(*stored, Numbers { id, ..expected });
        }
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A stored number that does not fit its field's width (written by someone else) is a
    /// decode error naming the column, never a wrapped or rounded value.
    #[tokio::test]
    async fn a_stored_number_outside_its_width_is_an_error() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Numbers::META]).await;
        let mut s = t.db.session();
        s.add(numbers(Extreme::Max))?;
        s.commit().await?;
        for (update, column) in [
            ("UPDATE ct_numbers SET a_i16 = 40000", "a_i16"),
            ("UPDATE ct_numbers SET a_i16 = 0, a_u8 = -1", "a_u8"),
            ("UPDATE ct_numbers SET a_u8 = 0, a_u32 = 4294967296", "a_u32"),
            ("UPDATE ct_numbers SET a_u32 = 0, a_f32 = 0.1", "a_f32"),
        ] {
            t.exec(update).await;
            let mut fresh = t.db.session();
            match fresh.query::<Numbers>().all().await {
                Err(Error::Decode { column: c, .. }) => assert_eq!(c, column, "{update}"),
                other => panic!("{update}: expected a decode error, got {other:?}"),
            }
        }
        Ok(())
    }
}

orm_tests::backend_test! {
    /// NaN: PostgreSQL stores it; SQLite would store NULL instead, so the flush refuses it and
    /// nothing of the flush is applied.
    #[tokio::test]
    async fn nan_is_stored_where_the_database_can_hold_it() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Numbers::META]).await;
        let mut s = t.db.session();
        let mut n = numbers(Extreme::Min);
        n.a_f64 = f64::NAN;
        n.a_f32 = f32::NAN;
        let h = s.add(n)?;
        match orm_tests::harness::current() {
            orm_tests::harness::Backend::Postgres => {
                s.commit().await?;
                let id = s.read(h).await?.id;
                let mut fresh = t.db.session();
                let stored = fresh.get::<Numbers>(id).await?.expect("stored");
                let stored = fresh.read(stored).await?;
                assert!(stored.a_f64.is_nan() && stored.a_f32.is_nan());
            }
            orm_tests::harness::Backend::Sqlite => {
                let err = s.commit().await.expect_err("SQLite cannot hold NaN");
                assert!(err.to_string().contains("NaN"), "{err}");
                assert_eq!(t.count("ct_numbers").await, 0);
                assert_eq!(s.state(h), ObjectState::Pending);
                s.write(h).await?.a_f64 = 0.5;
                s.write(h).await?.a_f32 = 0.25;
                s.commit().await?;
                assert_eq!(t.count("ct_numbers").await, 1);
            }
        }
        Ok(())
    }
}

/// Columns the database fills in when the object leaves them `None`.
#[derive(Model, Debug)]
#[model(table = "ct_events")]
pub struct Event {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    #[column(default = "CURRENT_TIMESTAMP")]
    pub created_at: Option<String>,
    #[column(default = "7")]
    pub priority: Option<i64>,
    #[column(default = "'on_hold'")]
    pub status: Option<Status>,
}

/// A model whose key the program sets, with a defaulted column.
#[derive(Model, Debug)]
#[model(table = "ct_settings")]
pub struct Setting {
    #[column(primary_key)]
    pub key: String,
    #[column(default = "'on'")]
    pub value: Option<String>,
}

fn event(name: &str) -> Event {
    Event {
        id: None,
        name: name.into(),
        created_at: None,
        priority: None,
        status: None,
    }
}

orm_tests::backend_test! {
    /// A `None` in a defaulted column is left to the database, and the value it filled in is
    /// on the object right after the flush, read back by the INSERT itself (no SELECT), and
    /// not seen as a change. A value given is written as given.
    #[tokio::test]
    async fn database_defaults_are_read_back_by_the_insert() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Event::META, Setting::META]).await;
        let mut s = t.db.session();
        let defaulted = s.add(event("defaulted"))?;
        let second = s.add(event("second"))?;
        let given = s.add(Event {
            created_at: Some("yesterday".into()),
            priority: Some(1),
            status: Some(Status::Active),
            ..event("given")
        })?;
        let before = t.statements();
        s.flush().await?;
        assert_eq!(
            t.statements() - before,
            3,
            "BEGIN and one INSERT per column list, nothing read back separately"
        );
        for handle in [defaulted, second] {
            let e = s.read(handle).await?;
            assert!(e.created_at.as_deref().is_some_and(|at| at.len() >= 10), "{e:?}");
            assert_eq!((e.priority, e.status), (Some(7), Some(Status::OnHold)));
        }
        let e = s.read(given).await?;
        assert_eq!(e.created_at.as_deref(), Some("yesterday"));
        assert_eq!((e.priority, e.status), (Some(1), Some(Status::Active)));
        let first_id = s.read(defaulted).await?.id;
        assert!(first_id < s.read(second).await?.id, "keys follow the rows' order");

        let before = t.statements();
        s.commit().await?;
        assert_eq!(t.statements() - before, 1, "only COMMIT: the filled values are no change");
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM ct_events WHERE priority = 7 AND status = 'on_hold'")
                .await,
            2
        );

        // Without a generated key, returned rows are matched to objects by their key.
        for key in ["b", "a", "c"] {
            s.add(Setting {
                key: key.into(),
                value: (key == "c").then(|| "off".to_owned()),
            })?;
        }
        s.flush().await?;
        for (key, value) in [("a", "on"), ("b", "on"), ("c", "off")] {
            let setting = s.get::<Setting>(key).await?.expect("added");
            assert_eq!(s.read(setting).await?.value.as_deref(), Some(value), "{key}");
        }
        s.commit().await?;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Reloading an expired object whose row no longer fits names the column, as a query does.
    #[tokio::test]
    async fn a_reload_that_does_not_fit_names_the_column() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Numbers::META]).await;
        let mut s = t.db.session();
        let h = s.add(numbers(Extreme::Min))?;
        s.commit().await?; // expires the object
        t.exec("UPDATE ct_numbers SET a_u16 = 70000").await;
        match s.read(h).await {
            Err(Error::Decode { model, column, .. }) => {
                assert_eq!((model, column), ("Numbers", "a_u16"));
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
        t.exec("UPDATE ct_numbers SET a_u16 = 7").await;
        assert_eq!(s.read(h).await?.a_u16, 7, "the next read reloads again");
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Negative zero: PostgreSQL keeps its sign; SQLite stores it as the integer 0, so it
    /// reads back as positive zero (equal to it, as IEEE 754 says). The guide says so.
    #[tokio::test]
    async fn negative_zero_is_kept_where_the_database_keeps_it() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Numbers::META]).await;
        let mut s = t.db.session();
        let mut n = numbers(Extreme::Min);
        n.a_f64 = -0.0;
        n.a_f32 = -0.0;
        let h = s.add(n)?;
        s.commit().await?;
        let stored = s.read(h).await?;
        assert_eq!(stored.a_f64, 0.0);
        let sign_kept = t.backend == orm_tests::harness::Backend::Postgres;
        assert_eq!(stored.a_f64.is_sign_negative(), sign_kept, "f64");
        assert_eq!(stored.a_f32.is_sign_negative(), sign_kept, "f32");
        Ok(())
    }
}
