//! Edge cases of the unit of work found in review: each once lost or corrupted data.

use orm_core::prelude::*;
use orm_tests::models::{Address, User};

async fn db() -> Result<Database> {
    orm_tests::fresh_db(&[User::META, Address::META]).await
}

fn user(name: &str) -> User {
    User::new(name, name, name)
}

/// A new user holding new addresses with these emails.
fn user_with(name: &str, emails: &[&str]) -> User {
    let mut u = user(name);
    for email in emails {
        u.addresses.push(Address::new(email));
    }
    u
}

orm_tests::backend_test! {
    /// A child that is expired (every object is, after a commit) and moved to another parent's
    /// collection gets its foreign key written.
    #[tokio::test]
    async fn moving_an_expired_child_writes_its_key() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let (u1, u2) = (s.add(user_with("u1", &["a@x"]))?, s.add(user("u2"))?);
        s.commit().await?;
        let a = s.related(u1, User::ADDRESSES).await?[0];
        s.commit().await?; // `a` is expired now
        s.append(u2, User::ADDRESSES, a).await?;
        s.commit().await?;
        let u2_id = s.read(u2).await?.id;
        assert_eq!(s.read(a).await?.user_id, u2_id);
        assert_eq!(s.related(u2, User::ADDRESSES).await?, vec![a]);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// `order_by` / `limit` choose which rows a bulk delete deletes, as they would for `all()`.
    #[tokio::test]
    async fn a_bulk_delete_honours_limit_and_order() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        for name in ["a", "b", "c"] {
            s.add(user(name))?;
        }
        s.commit().await?;
        let deleted = s
            .query::<User>()
            .order_by_desc(User::NAME)
            .limit(1)
            .delete()
            .await?;
        s.commit().await?;
        assert_eq!(deleted, 1);
        let left = s.query::<User>().order_by(User::NAME).all().await?;
        let mut names = Vec::new();
        for h in left {
            names.push(s.read(h).await?.name.clone());
        }
        assert_eq!(names, ["a", "b"]);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Objects whose generated key is given and objects that leave it to the database, flushed
    /// together: each keeps its own key and its children follow it.
    #[tokio::test]
    async fn given_and_generated_keys_in_one_flush() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let given = s.add(User {
            id: Some(100),
            ..user("given")
        })?;
        let new = s.add(user_with("new", &["new@x"]))?;
        s.commit().await?;
        assert_eq!(s.read(given).await?.id, Some(100));
        let new_id = s.read(new).await?.id;
        assert!(new_id.is_some_and(|id| id != 100), "{new_id:?}");
        let address = s.related(new, User::ADDRESSES).await?[0];
        assert_eq!(s.read(address).await?.user_id, new_id);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Changing a primary key through `write` updates that row (found by its stored key), and the
    /// identity map follows the new key.
    #[tokio::test]
    async fn changing_a_primary_key_updates_that_row() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let (a, b) = (s.add(user("a"))?, s.add(user("b"))?);
        s.commit().await?;
        let b_fullname = s.read(b).await?.fullname.clone();
        s.write(a).await?.id = Some(50);
        s.write(a).await?.fullname = "renamed".into();
        s.commit().await?;
        assert_eq!(
            s.read(b).await?.fullname,
            b_fullname,
            "the other row is untouched"
        );
        let moved = s.get::<User>(50_i64).await?.expect("row 50");
        assert_eq!(moved, a);
        assert_eq!(s.read(moved).await?.fullname, "renamed");
        Ok(())
    }
}

orm_tests::backend_test! {
    /// An UPDATE of a row deleted outside the session fails the flush with a typed error instead
    /// of reporting a write that did not happen.
    #[tokio::test]
    async fn updating_a_row_deleted_elsewhere_is_a_stale_error() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        s.set_expire_on_commit(false);
        let a = s.add(user("a"))?;
        s.commit().await?;
        db.execute_raw("DELETE FROM users", &[]).await?;
        s.write(a).await?.fullname = "lost".into();
        let err = s.commit().await.expect_err("the row is gone");
        assert!(
            matches!(
                err,
                Error::StaleRows {
                    expected: 1,
                    updated: 0,
                    ..
                }
            ),
            "{err:?}"
        );
        s.rollback().await?;
        assert_eq!(s.query::<User>().count().await?, 0);
        Ok(())
    }
}

#[derive(Model, Debug)]
#[model(table = "owners")]
pub struct Owner {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "owner")]
    pub orders: HasMany<Order>,
}

#[derive(Model, Debug)]
#[model(table = "orders")]
pub struct Order {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "owners.id")]
    pub owner_id: i64,
    #[relationship(back_populates = "orders")]
    pub owner: BelongsTo<Owner>,
}

orm_tests::backend_test! {
    /// A bulk delete refused by D6 leaves no object marked for deletion: the next
    /// commit deletes nothing the caller did not ask for.
    #[tokio::test]
    async fn a_refused_bulk_delete_leaves_nothing_marked() -> Result<()> {
        let db = orm_tests::fresh_db(&[Owner::META, Order::META]).await?;
        let mut s = db.session();
        let owner = s.add(Owner {
            id: None,
            orders: HasMany::new(),
        })?;
        s.commit().await?;
        let owner_id = s.read(owner).await?.id.expect("stored");
        s.add(Order {
            id: None,
            owner_id,
            owner: BelongsTo::new(),
        })?;
        s.commit().await?;
        let loaded = s.get::<Owner>(owner_id).await?.expect("owner");
        let err = s
            .query::<Owner>()
            .delete()
            .await
            .expect_err("orders.owner_id is NOT NULL");
        assert!(matches!(err, Error::WouldNullRequiredKey { .. }), "{err:?}");
        s.commit().await?;
        assert_eq!(s.state(loaded), ObjectState::Persistent);
        assert_eq!(s.query::<Owner>().count().await?, 1);
        Ok(())
    }
}

async fn owner_with_order(s: &mut Session) -> Result<(Handle<Owner>, Handle<Order>)> {
    let owner = s.add(Owner {
        id: None,
        orders: HasMany::new(),
    })?;
    s.commit().await?;
    let owner_id = s.read(owner).await?.id.expect("stored");
    let order = s.add(Order {
        id: None,
        owner_id,
        owner: BelongsTo::new(),
    })?;
    s.commit().await?;
    Ok((owner, order))
}

orm_tests::backend_test! {
    /// D6 + D7: a child with a NOT NULL key moved to another parent before the flush does not stop
    /// its old parent's delete.
    #[tokio::test]
    async fn a_required_key_moved_away_does_not_block_the_delete() -> Result<()> {
        let db = orm_tests::fresh_db(&[Owner::META, Order::META]).await?;
        let mut s = db.session();
        let (old, order) = owner_with_order(&mut s).await?;
        let new = s.add(Owner {
            id: None,
            orders: HasMany::new(),
        })?;
        s.commit().await?;
        s.set(order, Order::OWNER, Some(new)).await?;
        s.delete(old)?;
        s.commit().await?;
        assert_eq!(s.query::<Owner>().count().await?, 1);
        assert_eq!(s.related(order, Order::OWNER).await?, Some(new));
        Ok(())
    }
}

orm_tests::backend_test! {
    /// D6: deleting a child and its parent in one flush is not a nulling of the child.
    #[tokio::test]
    async fn deleting_a_child_and_its_parent_together() -> Result<()> {
        let db = orm_tests::fresh_db(&[Owner::META, Order::META]).await?;
        let mut s = db.session();
        let (owner, order) = owner_with_order(&mut s).await?;
        s.delete(order)?;
        s.delete(owner)?;
        s.commit().await?;
        assert_eq!(s.query::<Owner>().count().await?, 0);
        assert_eq!(s.query::<Order>().count().await?, 0);
        Ok(())
    }
}

#[derive(Model, Debug)]
#[model(table = "shelves")]
pub struct Shelf {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(cascade = "none")]
    pub books: HasMany<Book>,
}

#[derive(Model, Debug)]
#[model(table = "books")]
pub struct Book {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub title: Option<String>,
    #[column(foreign_key = "shelves.id")]
    pub shelf_id: Option<i64>,
    #[relationship]
    pub shelf: BelongsTo<Shelf>,
}

orm_tests::backend_test! {
    /// An `add` refused for its configuration leaves nothing in the session: later flushes work.
    #[tokio::test]
    async fn a_refused_add_leaves_the_session_usable() -> Result<()> {
        let db = orm_tests::fresh_db(&[Shelf::META, Book::META]).await?;
        let mut s = db.session();
        let books: HasMany<Book> = [Book {
            id: None,
            title: None,
            shelf_id: None,
            shelf: BelongsTo::new(),
        }]
        .into();
        let err = s
            .add(Shelf { id: None, books })
            .expect_err("no save-update on Shelf::books");
        assert!(
            matches!(err, Error::Config { field: "books", .. }),
            "{err:?}"
        );
        s.add(Shelf {
            id: None,
            books: HasMany::new(),
        })?;
        s.commit().await?;
        assert_eq!(s.query::<Shelf>().count().await?, 1);
        assert_eq!(s.query::<Book>().count().await?, 0);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A refresh that finds the row gone removes the object from every collection: using the
    /// relationship afterwards is not a panic.
    #[tokio::test]
    async fn a_row_gone_on_refresh_leaves_no_dangling_member() -> Result<()> {
        let db = orm_tests::fresh_db(&[Shelf::META, Book::META]).await?;
        let mut s = db.session();
        s.set_expire_on_commit(false);
        let shelf = s.add(Shelf {
            id: None,
            books: HasMany::new(),
        })?;
        let book = s.add(Book {
            id: None,
            title: None,
            shelf_id: None,
            shelf: BelongsTo::new(),
        })?;
        s.set(book, Book::SHELF, Some(shelf)).await?;
        s.commit().await?;
        db.execute_raw("UPDATE books SET shelf_id = NULL", &[])
            .await?;
        db.execute_raw("DELETE FROM shelves", &[]).await?;
        assert!(s.refresh(shelf).await.is_err(), "the shelf is gone");
        s.set(book, Book::SHELF, None).await?;
        s.commit().await?;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// `eq(None)` means `IS NULL` (SQL's `= NULL` matches nothing); `ne(None)` means `IS NOT NULL`.
    #[tokio::test]
    async fn comparing_with_none_tests_for_null() -> Result<()> {
        let db = orm_tests::fresh_db(&[Shelf::META, Book::META]).await?;
        let mut s = db.session();
        s.add(Book {
            id: None,
            title: None,
            shelf_id: None,
            shelf: BelongsTo::new(),
        })?;
        s.add(Book {
            id: None,
            title: Some("t".into()),
            shelf_id: None,
            shelf: BelongsTo::new(),
        })?;
        s.commit().await?;
        assert_eq!(
            s.query::<Book>()
                .filter_by(Book::TITLE, None)
                .count()
                .await?,
            1
        );
        assert_eq!(
            s.query::<Book>()
                .filter(Book::TITLE.ne(None))
                .count()
                .await?,
            1
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Eager loading keeps a collection already loaded and changed in memory as it is.
    #[tokio::test]
    async fn preloading_keeps_unflushed_collection_changes() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let u = s.add(user_with("u", &["a@x", "b@x"]))?;
        s.commit().await?;
        s.set_autoflush(false);
        let first = s.related(u, User::ADDRESSES).await?[0];
        s.remove(u, User::ADDRESSES, first).await?;
        s.preload(&[u], User::ADDRESSES).await?;
        s.commit().await?;
        assert_eq!(
            s.query::<Address>().count().await?,
            1,
            "the removed orphan was deleted"
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Eager loading of a many-to-one costs one SELECT for all owners, not one each.
    #[tokio::test]
    async fn preloading_parents_is_one_select() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        for name in ["a", "b", "c"] {
            s.add(user_with(name, &[&format!("{name}@x")]))?;
        }
        s.commit().await?;
        let mut fresh = db.session();
        let addresses = fresh.query::<Address>().all().await?;
        let before = db.statements_executed();
        let users = fresh.preload(&addresses, Address::USER).await?;
        assert_eq!(db.statements_executed() - before, 1);
        assert_eq!(users.len(), 3);
        for a in addresses {
            assert!(fresh.related(a, Address::USER).await?.is_some());
        }
        Ok(())
    }
}

/// A second, smaller model over the `users` table.
#[derive(Model, Debug)]
#[model(table = "users")]
pub struct UserName {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
}

orm_tests::backend_test! {
    /// Two models over one table are two identities: changing one model's relationships does not
    /// reach into the other model's objects.
    #[tokio::test]
    async fn two_models_over_one_table_stay_apart() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let (u, v) = (s.add(user("u"))?, s.add(user("v"))?);
        let a = s.add(Address::new("a@x"))?;
        s.append(u, User::ADDRESSES, a).await?;
        s.commit().await?;
        let u_id = s.read(u).await?.id.expect("stored");
        let name = s
            .get::<UserName>(u_id)
            .await?
            .expect("the same row, as a UserName");
        assert_eq!(s.read(name).await?.name, "u");
        s.append(v, User::ADDRESSES, a).await?;
        s.commit().await?;
        let v_id = s.read(v).await?.id;
        assert_eq!(s.read(a).await?.user_id, v_id);
        Ok(())
    }
}

#[derive(Model, Debug)]
#[model(table = "regions")]
pub struct Region {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship]
    pub cities: HasMany<City>,
}

/// Deleted by the database when their region goes (`on_delete = "cascade"`, no ORM `delete`).
#[derive(Model, Debug)]
#[model(table = "cities")]
pub struct City {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "regions.id", on_delete = "cascade")]
    pub region_id: Option<i64>,
    #[relationship]
    pub shops: HasMany<Shop>,
}

/// Survive their city (default cascade: the key is set to NULL).
#[derive(Model, Debug)]
#[model(table = "shops")]
pub struct Shop {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "cities.id")]
    pub city_id: Option<i64>,
}

orm_tests::backend_test! {
    /// D2 one level down: the database deletes the cities, and the ORM still nulls the keys of the
    /// shops that pointed at them (else the database's cascade would fail on them).
    #[tokio::test]
    async fn rows_the_database_cascades_still_get_their_dependents_handled() -> Result<()> {
        let db = orm_tests::fresh_db(&[Region::META, City::META, Shop::META]).await?;
        db.execute_raw("INSERT INTO regions (id) VALUES (1)", &[])
            .await?;
        db.execute_raw(
            "INSERT INTO cities (id, region_id) VALUES (10, 1), (11, 1)",
            &[],
        )
        .await?;
        db.execute_raw(
            "INSERT INTO shops (id, city_id) VALUES (100, 10), (101, 11)",
            &[],
        )
        .await?;
        let mut s = db.session();
        let region = s.get::<Region>(1_i64).await?.expect("region 1");
        s.delete(region)?;
        s.commit().await?;
        assert_eq!(
            s.query::<City>().count().await?,
            0,
            "deleted by the database"
        );
        assert_eq!(
            s.query::<Shop>()
                .filter(Shop::CITY_ID.is_null())
                .count()
                .await?,
            2
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// D4/D5: a loaded child whose parent is deleted by a bulk delete (the parent not loaded) is
    /// deleted in the session too, not left readable and writable.
    #[tokio::test]
    async fn a_bulk_delete_reaches_loaded_children_of_rows_not_loaded() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        s.add(user_with("u", &["a@x"]))?;
        s.commit().await?;
        let mut fresh = db.session();
        let address = fresh.query::<Address>().one().await?;
        fresh.query::<User>().delete().await?;
        assert_eq!(fresh.state(address), ObjectState::Deleted);
        fresh.commit().await?;
        assert_eq!(fresh.state(address), ObjectState::Detached);
        assert_eq!(fresh.query::<Address>().count().await?, 0);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// D11 + D6: a preview says when the flush would be refused, instead of listing a harmless check.
    #[tokio::test]
    async fn a_preview_says_when_the_flush_would_be_refused() -> Result<()> {
        let db = orm_tests::fresh_db(&[Owner::META, Order::META]).await?;
        let mut s = db.session();
        let (owner, _order) = owner_with_order(&mut s).await?;
        let preview = s.preview_delete(owner).await?;
        assert!(!preview.would_succeed());
        assert!(
            preview.to_string().contains("it would be refused"),
            "{preview}"
        );
        let empty = s.add(Owner {
            id: None,
            orders: HasMany::new(),
        })?;
        s.commit().await?;
        assert!(s.preview_delete(empty).await?.would_succeed());
        Ok(())
    }
}

#[derive(Model, Debug)]
#[model(table = "grid")]
pub struct Cell {
    #[column(primary_key)]
    pub x: i64,
    #[column(primary_key)]
    pub y: i64,
}

orm_tests::backend_test! {
    /// Composite keys are deleted in bounded sets: a bulk delete of thousands of them stays inside
    /// SQLite's expression limits.
    #[tokio::test]
    async fn a_bulk_delete_of_many_composite_keys() -> Result<()> {
        let db = orm_tests::fresh_db(&[Cell::META]).await?;
        let mut s = db.session();
        for x in 0..50 {
            for y in 0..50 {
                s.add(Cell { x, y })?;
            }
        }
        s.commit().await?;
        let deleted = s
            .query::<Cell>()
            .filter(Cell::X.lt(40_i64))
            .delete()
            .await?;
        s.commit().await?;
        assert_eq!(deleted, 2_000);
        assert_eq!(s.query::<Cell>().count().await?, 500);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// D11 agrees with the flush: a loaded child moved away from the deleted parent does not make
    /// the preview report a refusal the flush would not raise.
    #[tokio::test]
    async fn a_preview_after_a_move_agrees_with_the_flush() -> Result<()> {
        let db = orm_tests::fresh_db(&[Owner::META, Order::META]).await?;
        let mut s = db.session();
        let (old, order) = owner_with_order(&mut s).await?;
        let new = s.add(Owner {
            id: None,
            orders: HasMany::new(),
        })?;
        s.commit().await?;
        s.append(new, Owner::ORDERS, order).await?;
        s.delete(old)?;
        let preview = s.preview().await?;
        assert!(preview.would_succeed(), "{preview}");
        s.flush().await?;
        Ok(())
    }
}

#[derive(Model, Debug)]
#[model(table = "articles")]
pub struct Article {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(through = ArticleTopic, cascade = "all")]
    pub topics: ManyToMany<Topic>,
}

#[derive(Model, Debug)]
#[model(table = "topics")]
pub struct Topic {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "topic")]
    pub remarks: HasMany<Remark>,
}

#[derive(Model, Debug)]
#[model(table = "article_topics")]
pub struct ArticleTopic {
    #[column(primary_key, foreign_key = "articles.id")]
    pub article_id: i64,
    #[column(primary_key, foreign_key = "topics.id")]
    pub topic_id: i64,
}

#[derive(Model, Debug)]
#[model(table = "remarks")]
pub struct Remark {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "topics.id")]
    pub topic_id: i64,
    #[relationship(back_populates = "remarks")]
    pub topic: BelongsTo<Topic>,
}

orm_tests::backend_test! {
    /// D6 below a capture: topics reached through an unloaded many-to-many `delete` whose remarks
    /// hold a NOT NULL key are refused with the D6 error (and the preview says so), not a raw
    /// foreign-key failure.
    #[tokio::test]
    async fn a_required_key_below_a_captured_set_is_refused() -> Result<()> {
        let db = orm_tests::fresh_db(&[Article::META, Topic::META, ArticleTopic::META, Remark::META])
            .await?;
        db.execute_raw("INSERT INTO articles (id) VALUES (1)", &[])
            .await?;
        db.execute_raw("INSERT INTO topics (id) VALUES (1)", &[])
            .await?;
        db.execute_raw(
            "INSERT INTO article_topics (article_id, topic_id) VALUES (1, 1)",
            &[],
        )
        .await?;
        db.execute_raw("INSERT INTO remarks (topic_id) VALUES (1)", &[])
            .await?;
        let mut s = db.session();
        let article = s.get::<Article>(1_i64).await?.expect("article 1");
        s.delete(article)?;
        assert!(!s.preview().await?.would_succeed());
        let err = s.flush().await.expect_err("remarks.topic_id is NOT NULL");
        assert!(matches!(err, Error::WouldNullRequiredKey { .. }), "{err:?}");
        s.rollback().await?;
        assert_eq!(s.query::<Topic>().count().await?, 1, "nothing was applied");
        Ok(())
    }
}

orm_tests::backend_test! {
    /// An object whose row is gone on reload leaves the session without undoing unflushed changes
    /// to other relationships.
    #[tokio::test]
    async fn a_row_gone_on_reload_keeps_other_unflushed_moves() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let first = user_with("u1", &["a@x"]);
        let (u1, u2, gone) = (s.add(first)?, s.add(user("u2"))?, s.add(user("g"))?);
        s.commit().await?;
        let gone_id = s.read(gone).await?.id.expect("stored");
        s.commit().await?;
        // Raw SQL is written in the database's own placeholder syntax.
        let delete = orm_tests::harness::placeholders("DELETE FROM users WHERE id = ?");
        db.execute_raw(&delete, &[gone_id.into()]).await?;
        let a = s.related(u1, User::ADDRESSES).await?[0];
        assert!(s.related(u2, User::ADDRESSES).await?.is_empty());
        s.append(u2, User::ADDRESSES, a).await?;
        assert!(s.read(gone).await.is_err(), "its row is gone");
        s.commit().await?;
        let u2_id = s.read(u2).await?.id;
        assert_eq!(s.read(a).await?.user_id, u2_id, "the move survived");
        Ok(())
    }
}
