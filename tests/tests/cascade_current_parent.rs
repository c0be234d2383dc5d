//! Issue 7: the flush decides every cascade from the references the user set, not from a foreign
//! key column held in memory or from what happens to be loaded. One regression test per case of
//! the issue; each passes only with the fix (see docs/src/relationships.md, "Who is a row's
//! parent").

use orm_core::prelude::*;
use orm_core::Value;
use orm_tests::harness::drop_after_polls;
use orm_tests::models::{Address, User};

async fn user_and_loose_address(t: &orm_tests::harness::Fresh) {
    t.exec("INSERT INTO users (id, name, fullname) VALUES (1, 'u', 'U')")
        .await;
    t.exec("INSERT INTO addresses (id, email_address, user_id) VALUES (5, 'a5', NULL)")
        .await;
}

// Case 1: an address appended to a user and deleted with it, although its key change was never
// written. Every order of `append` / `delete`, with autoflush on and off.

async fn appended_child_is_deleted_with_its_parent(
    append_first: bool,
    autoflush: bool,
) -> Result<()> {
    let t = orm_tests::harness::fresh(&[User::META, Address::META]).await;
    user_and_loose_address(&t).await;
    let mut s = t.db.session();
    s.set_autoflush(autoflush);
    let u1 = s.get::<User>(1).await?.expect("user 1");
    let a5 = s.get::<Address>(5).await?.expect("address 5");
    if append_first {
        s.append(u1, User::ADDRESSES, a5).await?;
        s.delete(u1)?;
    } else {
        s.delete(u1)?;
        s.append(u1, User::ADDRESSES, a5).await?;
    }
    s.commit().await?;
    assert_eq!(t.count("addresses").await, 0, "a5 is deleted with its user");
    assert_eq!(t.count("users").await, 0);
    assert_eq!(s.state(a5), ObjectState::Detached);
    assert_eq!(s.state(u1), ObjectState::Detached);
    t.assert_consistent().await;
    Ok(())
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn appended_child_is_deleted_with_its_parent_append_then_delete() -> Result<()> {
        appended_child_is_deleted_with_its_parent(true, true).await
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn appended_child_is_deleted_with_its_parent_delete_then_append() -> Result<()> {
        appended_child_is_deleted_with_its_parent(false, true).await
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn appended_child_is_deleted_with_its_parent_without_autoflush() -> Result<()> {
        appended_child_is_deleted_with_its_parent(true, false).await?;
        appended_child_is_deleted_with_its_parent(false, false).await?;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A child appended to a parent that is deleted, then moved on before the flush, survives (D7):
    /// the last reference the user set wins.
    #[tokio::test]
    async fn appended_then_moved_child_survives_the_parent_delete() -> Result<()> {
        let t = orm_tests::harness::fresh(&[User::META, Address::META]).await;
        user_and_loose_address(&t).await;
        t.exec("INSERT INTO users (id, name, fullname) VALUES (2, 'v', 'V')")
            .await;
        let mut s = t.db.session();
        let u1 = s.get::<User>(1).await?.expect("user 1");
        let u2 = s.get::<User>(2).await?.expect("user 2");
        let a5 = s.get::<Address>(5).await?.expect("address 5");
        s.append(u1, User::ADDRESSES, a5).await?;
        s.delete(u1)?;
        s.set(a5, Address::USER, Some(u2)).await?;
        s.commit().await?;
        assert_eq!(
            t.rows("SELECT id, user_id FROM addresses").await,
            vec![vec![Value::Integer(5), Value::Integer(2)]]
        );
        assert_eq!(s.state(a5), ObjectState::Persistent);
        Ok(())
    }
}

// Case 2: a many-to-one `delete` cascade follows the reference the user set, not the key the row
// had when it was loaded.

#[derive(Model, Debug)]
#[model(table = "cp_t3")]
pub struct T3 {
    #[column(primary_key)]
    pub id: Option<i64>,
}

#[derive(Model, Debug)]
#[model(table = "cp_t2")]
pub struct T2 {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "cp_t3.id")]
    pub t3_id: Option<i64>,
    #[relationship(cascade = "all", single_parent = true)]
    pub t3: BelongsTo<T3>,
}

#[derive(Model, Debug)]
#[model(table = "cp_t1")]
pub struct T1 {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "cp_t2.id")]
    pub t2_id: Option<i64>,
    #[relationship(cascade = "all", single_parent = true)]
    pub t2: BelongsTo<T2>,
}

async fn chain(t: &orm_tests::harness::Fresh) {
    t.exec("INSERT INTO cp_t3 (id) VALUES (3)").await;
    t.exec("INSERT INTO cp_t2 (id, t3_id) VALUES (2, 3)").await;
    t.exec("INSERT INTO cp_t1 (id, t2_id) VALUES (1, 2)").await;
}

async fn count_all(t: &orm_tests::harness::Fresh) -> [i64; 3] {
    [
        t.count("cp_t1").await,
        t.count("cp_t2").await,
        t.count("cp_t3").await,
    ]
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn many_to_one_delete_follows_the_reference_set_to_none() -> Result<()> {
        let t = orm_tests::harness::fresh(&[T1::META, T2::META, T3::META]).await;
        chain(&t).await;
        let mut s = t.db.session();
        let x = s.get::<T1>(1).await?.expect("t1");
        s.set(x, T1::T2, None).await?;
        s.delete(x)?;
        let preview = s.preview().await?;
        let deletes: Vec<&str> = preview
            .statements
            .iter()
            .filter(|st| st.action == "delete")
            .map(|st| st.table)
            .collect();
        assert_eq!(deletes, vec!["cp_t1"], "{preview:#?}");
        let before = t.statements();
        s.commit().await?;
        // BEGIN, DELETE FROM cp_t1, COMMIT: no statement for the old parent.
        assert_eq!(t.statements() - before, 3);
        assert_eq!(count_all(&t).await, [0, 1, 1], "only x is deleted");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn many_to_one_delete_with_a_flush_between_gives_the_same_result() -> Result<()> {
        let t = orm_tests::harness::fresh(&[T1::META, T2::META, T3::META]).await;
        chain(&t).await;
        let mut s = t.db.session();
        let x = s.get::<T1>(1).await?.expect("t1");
        s.set(x, T1::T2, None).await?;
        s.flush().await?;
        s.delete(x)?;
        s.commit().await?;
        assert_eq!(count_all(&t).await, [0, 1, 1]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn many_to_one_delete_follows_a_reference_moved_to_another_parent() -> Result<()> {
        let t = orm_tests::harness::fresh(&[T1::META, T2::META, T3::META]).await;
        chain(&t).await;
        t.exec("INSERT INTO cp_t2 (id, t3_id) VALUES (22, NULL)")
            .await;
        let mut s = t.db.session();
        let x = s.get::<T1>(1).await?.expect("t1");
        let other = s.get::<T2>(22).await?.expect("t2 22");
        s.set(x, T1::T2, Some(other)).await?;
        s.delete(x)?;
        s.commit().await?;
        assert_eq!(
            t.ints("SELECT id FROM cp_t2").await,
            vec![Some(2)],
            "the parent x references now is deleted, the old one is kept"
        );
        assert_eq!(t.count("cp_t3").await, 1);
        Ok(())
    }
}

/// The many-to-one cascade of a row deleted through its parent's one-to-many (a set-based delete)
/// also follows what the session holds for that row.
#[derive(Model, Debug)]
#[model(table = "cp_owners")]
pub struct Owner {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "owner", cascade = "all")]
    pub links: HasMany<Link>,
}

#[derive(Model, Debug)]
#[model(table = "cp_links")]
pub struct Link {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "cp_owners.id")]
    pub owner_id: Option<i64>,
    #[relationship(back_populates = "links")]
    pub owner: BelongsTo<Owner>,
    #[column(foreign_key = "cp_t3.id")]
    pub t3_id: Option<i64>,
    #[relationship(cascade = "all", single_parent = true)]
    pub t3: BelongsTo<T3>,
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn many_to_one_delete_below_a_set_based_delete_follows_the_session() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Owner::META, Link::META, T3::META]).await;
        t.exec("INSERT INTO cp_t3 (id) VALUES (3), (4)").await;
        t.exec("INSERT INTO cp_owners (id) VALUES (1)").await;
        t.exec("INSERT INTO cp_links (id, owner_id, t3_id) VALUES (10, 1, 3), (11, 1, 4)")
            .await;
        let mut s = t.db.session();
        let owner = s.get::<Owner>(1).await?.expect("owner");
        let link = s.get::<Link>(10).await?.expect("link 10");
        s.set(link, Link::T3, None).await?;
        s.delete(owner)?;
        s.commit().await?;
        assert_eq!(t.count("cp_links").await, 0);
        assert_eq!(
            t.ints("SELECT id FROM cp_t3").await,
            vec![Some(3)],
            "link 10 no longer references t3 3; link 11 (not loaded) takes t3 4 with it"
        );
        Ok(())
    }
}

// Case 3: orphaning through the many-to-one side, whether or not the parent's collection is
// loaded.

async fn orphan_through_many_to_one(load_collection: bool) -> Result<()> {
    let t = orm_tests::harness::fresh(&[User::META, Address::META]).await;
    t.exec("INSERT INTO users (id, name, fullname) VALUES (1, 'u', 'U')")
        .await;
    t.exec("INSERT INTO addresses (id, email_address, user_id) VALUES (1, 'a1', 1), (2, 'a2', 1)")
        .await;
    let mut s = t.db.session();
    let u1 = s.get::<User>(1).await?.expect("user");
    let a1 = s.get::<Address>(1).await?.expect("address");
    if load_collection {
        s.related(u1, User::ADDRESSES).await?;
    }
    s.set(a1, Address::USER, None).await?;
    s.commit().await?;
    assert_eq!(
        t.ints("SELECT id FROM addresses").await,
        vec![Some(2)],
        "a1 is an orphan of User::addresses (delete-orphan) and is deleted"
    );
    assert_eq!(s.state(a1), ObjectState::Detached);
    assert_eq!(s.related(u1, User::ADDRESSES).await?.len(), 1);
    Ok(())
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn orphan_through_many_to_one_with_the_collection_not_loaded() -> Result<()> {
        orphan_through_many_to_one(false).await
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn orphan_through_many_to_one_with_the_collection_loaded() -> Result<()> {
        orphan_through_many_to_one(true).await
    }
}

orm_tests::backend_test! {
    /// A child whose reference is set to another parent is moved, not orphaned.
    #[tokio::test]
    async fn reference_set_to_another_parent_moves_the_child() -> Result<()> {
        let t = orm_tests::harness::fresh(&[User::META, Address::META]).await;
        t.exec("INSERT INTO users (id, name, fullname) VALUES (1, 'u', 'U'), (2, 'v', 'V')")
            .await;
        t.exec("INSERT INTO addresses (id, email_address, user_id) VALUES (1, 'a1', 1)")
            .await;
        let mut s = t.db.session();
        let u2 = s.get::<User>(2).await?.expect("user 2");
        let a1 = s.get::<Address>(1).await?.expect("address");
        s.set(a1, Address::USER, Some(u2)).await?;
        s.commit().await?;
        assert_eq!(
            t.rows("SELECT id, user_id FROM addresses").await,
            vec![vec![Value::Integer(1), Value::Integer(2)]]
        );
        Ok(())
    }
}

// Case 4: a pending object removed from a delete-orphan collection is never inserted, even with a
// NOT NULL foreign key given when it was built, and neither are its own pending children.

#[derive(Model, Debug)]
#[model(table = "cp_customers")]
pub struct Customer {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "customer", cascade = "all, delete-orphan")]
    pub orders: HasMany<Order>,
}

#[derive(Model, Debug)]
#[model(table = "cp_orders")]
pub struct Order {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "cp_customers.id")]
    pub customer_id: i64,
    #[relationship(back_populates = "orders")]
    pub customer: BelongsTo<Customer>,
    #[relationship(back_populates = "order", cascade = "all, delete-orphan")]
    pub lines: HasMany<Line>,
}

#[derive(Model, Debug)]
#[model(table = "cp_lines")]
pub struct Line {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "cp_orders.id")]
    pub order_id: Option<i64>,
    #[relationship(back_populates = "lines")]
    pub order: BelongsTo<Order>,
    #[relationship(back_populates = "line", cascade = "all, delete-orphan")]
    pub notes: HasMany<Note>,
}

#[derive(Model, Debug)]
#[model(table = "cp_notes")]
pub struct Note {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "cp_lines.id")]
    pub line_id: Option<i64>,
    #[relationship(back_populates = "notes")]
    pub line: BelongsTo<Line>,
}

fn order_with_a_line_and_a_note(id: i64, customer_id: i64) -> Order {
    Order {
        id: Some(id),
        customer_id,
        customer: BelongsTo::new(),
        lines: HasMany::from([Line {
            id: None,
            order_id: None,
            order: BelongsTo::new(),
            notes: HasMany::from([Note {
                id: None,
                line_id: None,
                line: BelongsTo::new(),
            }]),
        }]),
    }
}

const ORDER_TABLES: [&str; 3] = ["cp_orders", "cp_lines", "cp_notes"];

async fn order_rows(t: &orm_tests::harness::Fresh) -> Vec<i64> {
    let mut out = Vec::new();
    for table in ORDER_TABLES {
        out.push(t.count(table).await);
    }
    out
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn pending_orphan_with_a_not_null_key_is_not_inserted() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Customer::META, Order::META, Line::META, Note::META]).await;
        t.exec("INSERT INTO cp_customers (id) VALUES (1)").await;
        let mut s = t.db.session();
        let u = s.get::<Customer>(1).await?.expect("customer");
        let o = s.add(order_with_a_line_and_a_note(1, 1))?;
        s.append(u, Customer::ORDERS, o).await?;
        s.remove(u, Customer::ORDERS, o).await?;
        s.commit().await?;
        assert_eq!(order_rows(&t).await, vec![0, 0, 0]);
        assert_eq!(s.state(o), ObjectState::Detached);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn pending_object_removed_and_appended_elsewhere_is_inserted_there() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Customer::META, Order::META, Line::META, Note::META]).await;
        t.exec("INSERT INTO cp_customers (id) VALUES (1), (2)")
            .await;
        let mut s = t.db.session();
        let u = s.get::<Customer>(1).await?.expect("customer 1");
        let v = s.get::<Customer>(2).await?.expect("customer 2");
        let o = s.add(order_with_a_line_and_a_note(1, 1))?;
        s.append(u, Customer::ORDERS, o).await?;
        s.remove(u, Customer::ORDERS, o).await?;
        s.append(v, Customer::ORDERS, o).await?;
        s.commit().await?;
        assert_eq!(order_rows(&t).await, vec![1, 1, 1]);
        assert_eq!(
            t.ints("SELECT customer_id FROM cp_orders").await,
            vec![Some(2)]
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A pending child whose reference is set to None is an orphan of the parent's delete-orphan
    /// collection too.
    #[tokio::test]
    async fn pending_child_detached_through_its_reference_is_not_inserted() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Customer::META, Order::META, Line::META, Note::META]).await;
        t.exec("INSERT INTO cp_customers (id) VALUES (1)").await;
        let mut s = t.db.session();
        let u = s.get::<Customer>(1).await?.expect("customer");
        let o = s.add(order_with_a_line_and_a_note(1, 1))?;
        s.append(u, Customer::ORDERS, o).await?;
        s.set(o, Order::CUSTOMER, None).await?;
        s.commit().await?;
        assert_eq!(order_rows(&t).await, vec![0, 0, 0]);
        Ok(())
    }
}

// Case 5: a relationship field assigned through `write` is honoured at the next flush, as
// SQLAlchemy honours collection assignment: what it held and no longer holds is removed (deleted
// with delete-orphan, else detached), what it holds now is appended.

async fn user_with_two_addresses(t: &orm_tests::harness::Fresh) {
    t.exec("INSERT INTO users (id, name, fullname) VALUES (1, 'u', 'U')")
        .await;
    t.exec("INSERT INTO addresses (id, email_address, user_id) VALUES (1, 'a1', 1), (2, 'a2', 1)")
        .await;
}

async fn assigning_a_collection_replaces_it(load_first: bool) -> Result<()> {
    let t = orm_tests::harness::fresh(&[User::META, Address::META]).await;
    user_with_two_addresses(&t).await;
    let mut s = t.db.session();
    let u = s.get::<User>(1).await?.expect("user");
    let kept = s.get::<Address>(2).await?.expect("a2");
    if load_first {
        assert_eq!(s.related(u, User::ADDRESSES).await?.len(), 2);
    }
    let mut addresses = HasMany::from([Address::new("new@x")]);
    s.write(u).await?.addresses = std::mem::take(&mut addresses);
    s.append(u, User::ADDRESSES, kept).await?;
    s.commit().await?;
    assert_eq!(
        t.rows("SELECT email_address, user_id FROM addresses ORDER BY id")
            .await,
        vec![
            vec![Value::from("a2"), Value::Integer(1)],
            vec![Value::from("new@x"), Value::Integer(1)],
        ],
        "a1 was replaced (delete-orphan deletes it), a2 appended again, the new one inserted"
    );
    let held = s.related(u, User::ADDRESSES).await?;
    assert_eq!(held.len(), 2);
    t.assert_consistent().await;
    Ok(())
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn assigning_a_loaded_collection_replaces_its_members() -> Result<()> {
        assigning_a_collection_replaces_it(true).await
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn assigning_a_collection_that_was_not_loaded_replaces_its_members() -> Result<()> {
        assigning_a_collection_replaces_it(false).await
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn an_assigned_collection_reads_as_assigned_before_the_flush() -> Result<()> {
        let t = orm_tests::harness::fresh(&[User::META, Address::META]).await;
        user_with_two_addresses(&t).await;
        let mut s = t.db.session();
        s.set_autoflush(false);
        let u = s.get::<User>(1).await?.expect("user");
        s.write(u).await?.addresses = HasMany::from([Address::new("new@x")]);
        let held = s.related(u, User::ADDRESSES).await?;
        assert_eq!(held.len(), 1);
        assert_eq!(s.read(held[0]).await?.email_address, "new@x");
        assert_eq!(s.state(held[0]), ObjectState::Pending);
        s.commit().await?;
        assert_eq!(t.count("addresses").await, 1);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Without delete-orphan, the members an assignment drops are detached (their key nulled).
    #[tokio::test]
    async fn assigning_a_collection_without_delete_orphan_detaches_the_old_members() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Owner::META, Link::META, T3::META]).await;
        t.exec("INSERT INTO cp_owners (id) VALUES (1)").await;
        t.exec("INSERT INTO cp_links (id, owner_id) VALUES (10, 1), (11, 1)")
            .await;
        let mut s = t.db.session();
        let owner = s.get::<Owner>(1).await?.expect("owner");
        s.write(owner).await?.links = HasMany::new();
        s.commit().await?;
        assert_eq!(
            t.ints("SELECT owner_id FROM cp_links ORDER BY id").await,
            vec![None, None]
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A pending owner's assignment: the new objects it held before are never inserted.
    #[tokio::test]
    async fn assigning_a_pending_owners_collection_drops_its_pending_orphans() -> Result<()> {
        let t = orm_tests::harness::fresh(&[User::META, Address::META]).await;
        let mut s = t.db.session();
        let mut user = User::new("ann", "Ann", "a");
        user.addresses = HasMany::from([Address::new("old1@x"), Address::new("old2@x")]);
        let u = s.add(user)?;
        s.write(u).await?.addresses = HasMany::from([Address::new("new@x")]);
        s.commit().await?;
        assert_eq!(
            t.rows("SELECT email_address FROM addresses").await,
            vec![vec![Value::from("new@x")]]
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Assigning a reference moves the row to the object assigned.
    #[tokio::test]
    async fn assigning_a_reference_sets_it() -> Result<()> {
        let t = orm_tests::harness::fresh(&[User::META, Address::META]).await;
        user_with_two_addresses(&t).await;
        let mut s = t.db.session();
        let a1 = s.get::<Address>(1).await?.expect("a1");
        s.write(a1).await?.user = BelongsTo::to(User::new("bob", "Bob", "b"));
        s.commit().await?;
        assert_eq!(
            t.rows(
                "SELECT a.id, u.name FROM addresses a JOIN users u ON u.id = a.user_id ORDER BY a.id"
            )
            .await,
            vec![
                vec![Value::Integer(1), Value::from("bob")],
                vec![Value::Integer(2), Value::from("u")],
            ]
        );
        Ok(())
    }
}

/// Replacing rows by new ones with the same unique value in one flush works (deletes first).
#[derive(Model, Debug)]
#[model(table = "cp_boards")]
pub struct Board {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "board", cascade = "all, delete-orphan")]
    pub pins: HasMany<Pin>,
}

#[derive(Model, Debug)]
#[model(table = "cp_pins")]
pub struct Pin {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(unique)]
    pub label: String,
    #[column(foreign_key = "cp_boards.id")]
    pub board_id: Option<i64>,
    #[relationship(back_populates = "pins")]
    pub board: BelongsTo<Board>,
}

fn pin(label: &str) -> Pin {
    Pin {
        id: None,
        label: label.into(),
        board_id: None,
        board: BelongsTo::new(),
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn assigning_rows_that_reuse_a_unique_value_replaces_them() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Board::META, Pin::META]).await;
        let mut s = t.db.session();
        let board = s.add(Board {
            id: None,
            pins: HasMany::from([pin("a"), pin("b")]),
        })?;
        s.commit().await?;
        let old = s.related(board, Board::PINS).await?;
        s.write(board).await?.pins = HasMany::from([pin("a")]);
        s.commit().await?;
        assert_eq!(
            t.rows("SELECT label FROM cp_pins").await,
            vec![vec![Value::from("a")]]
        );
        assert!(old.iter().all(|p| s.state(*p) == ObjectState::Detached));
        let new = s.related(board, Board::PINS).await?;
        assert_eq!(new.len(), 1);
        assert!(
            !old.contains(&new[0]),
            "the row was replaced by a new object"
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A relationship taken from another session's object cannot be assigned: its members are that
    /// session's. The error names the field; a refresh discards the assignment.
    #[tokio::test]
    async fn assigning_a_relationship_from_another_session_is_an_error() -> Result<()> {
        let t = orm_tests::harness::fresh(&[User::META, Address::META]).await;
        user_with_two_addresses(&t).await;
        t.exec("INSERT INTO users (id, name, fullname) VALUES (2, 'v', 'V')")
            .await;
        let mut s = t.db.session();
        let mut other = t.db.session();
        let u = s.get::<User>(1).await?.expect("user 1");
        let v = other.get::<User>(1).await?.expect("user 1, other session");
        other.related(v, User::ADDRESSES).await?;
        let taken = std::mem::take(&mut other.write(v).await?.addresses);
        other.rollback().await?;
        s.write(u).await?.addresses = taken;
        let err = s.flush().await.expect_err("foreign members");
        assert!(
            matches!(
                err,
                Error::Config {
                    field: "addresses",
                    ..
                }
            ),
            "{err}"
        );
        s.refresh(u).await?;
        s.commit().await?;
        assert_eq!(t.count("addresses").await, 2, "nothing was lost");
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A flush dropped at its first await (a cancelled request) leaves the assignment as it was: the
    /// next flush honours it once, and the session agrees with the database. Each drop point the
    /// flush reaches is tried, from no poll at all to completion.
    #[tokio::test]
    async fn a_dropped_flush_leaves_an_assignment_to_the_next_one() -> Result<()> {
        for polls in 0..8 {
            let t = orm_tests::harness::fresh(&[User::META, Address::META]).await;
            user_with_two_addresses(&t).await;
            let mut s = t.db.session();
            let u = s.get::<User>(1).await?.expect("user");
            s.write(u).await?.addresses = HasMany::from([Address::new("new@x")]);
            drop_after_polls(s.flush(), polls).await;
            // The first call after a lost transaction says so, once.
            if let Err(err) = s.commit().await {
                assert!(matches!(err, Error::TransactionLost), "{err:?}");
                s.commit().await?;
            }
            assert_eq!(
                t.rows("SELECT email_address, user_id FROM addresses").await,
                vec![vec![Value::from("new@x"), Value::Integer(1)]],
                "dropped after {polls} polls"
            );
            let held = s.related(u, User::ADDRESSES).await?;
            assert_eq!(held.len(), 1, "dropped after {polls} polls");
            assert_eq!(s.read(held[0]).await?.email_address, "new@x");
        }
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A later flush of an open transaction, dropped while it holds the transaction, takes the
    /// transaction (and the earlier flush's writes) with it: the session then forgets what it had
    /// applied of it, so every handle's state matches the database after the next commit.
    #[tokio::test]
    async fn a_dropped_later_flush_leaves_the_session_truthful() -> Result<()> {
        for polls in 0..12 {
            let t = orm_tests::harness::fresh(&[User::META, Address::META]).await;
            let mut s = t.db.session();
            let ann = s.add(User::new("ann", "Ann", "a"))?;
            s.flush().await?;
            let bob = s.add(User::new("bob", "Bob", "b"))?;
            drop_after_polls(s.flush(), polls).await;
            // The first call after a lost transaction says so, once.
            if let Err(err) = s.commit().await {
                assert!(matches!(err, Error::TransactionLost), "{err:?}");
                s.commit().await?;
            }
            let names: Vec<Vec<Value>> = t.rows("SELECT name FROM users ORDER BY id").await;
            for (handle, name) in [(ann, "ann"), (bob, "bob")] {
                let stored = names.contains(&vec![Value::from(name)]);
                let persistent = s.state(handle) == ObjectState::Persistent;
                assert_eq!(persistent, stored, "{name}, dropped after {polls} polls");
            }
        }
        Ok(())
    }
}
