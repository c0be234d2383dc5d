//! Read-only results (issue 11, item 3): `all_owned`, `first_owned`, `one_owned` return owned
//! model values and `all_columns` a projection of typed columns, without entering anything into
//! the session's identity map; they autoflush, read in the session's open transaction, name
//! the column of a value that does not decode, and refuse eager loading.

use orm_core::prelude::*;
use orm_tests::harness;
use orm_tests::models::{Address, User};

/// Items with numeric, optional, text and boolean columns.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    pub price: i64,
    pub rating: Option<f64>,
    pub tag: Option<String>,
    pub in_stock: bool,
}

/// The same table read with a narrower type for `price`.
#[derive(Model, Debug)]
#[model(table = "items")]
pub struct NarrowItem {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    pub price: i8,
}

/// The same table with a column it does not have: only a query that selects `extra` fails.
#[derive(Model, Debug)]
#[model(table = "items")]
pub struct WiderItem {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    pub extra: Option<String>,
}

/// One seed row: name, price, rating, tag, in_stock.
type Seed = (&'static str, i64, Option<f64>, Option<&'static str>, bool);

const ITEMS: &[Seed] = &[
    ("apple", 3, Some(4.5), Some("fruit"), true),
    ("banana", 1, Some(3.0), Some("fruit"), true),
    ("carrot", 2, None, Some("vegetable"), false),
    ("durian", 30, Some(1.0), None, true),
    ("eggplant", 5, None, None, false),
    ("fig", 5, Some(5.0), Some("fruit"), false),
];

fn item(seed: &Seed) -> Item {
    let &(name, price, rating, tag, in_stock) = seed;
    Item {
        id: None,
        name: name.into(),
        price,
        rating,
        tag: tag.map(Into::into),
        in_stock,
    }
}

/// The seed rows with their keys (1, 2, ... in seed order), as the database holds them.
fn stored() -> Vec<Item> {
    ITEMS
        .iter()
        .zip(1..)
        .map(|(seed, id)| Item {
            id: Some(id),
            ..item(seed)
        })
        .collect()
}

async fn seed(db: &Database) -> Result<()> {
    let mut s = db.session();
    for seed in ITEMS {
        s.add(item(seed))?;
    }
    s.commit().await
}

async fn seeded() -> Result<Database> {
    let db = orm_tests::fresh_db(&[Item::META]).await?;
    seed(&db).await?;
    Ok(db)
}

/// The stored items whose names are `names`, in that order.
fn named(names: &[&str]) -> Vec<Item> {
    let all = stored();
    names
        .iter()
        .map(|n| {
            all.iter()
                .find(|i| i.name == *n)
                .cloned()
                .unwrap_or_else(|| panic!("no seed item {n}"))
        })
        .collect()
}

orm_tests::backend_test! {
    /// Filters, order, limit and offset select the same rows as for `all()`, and each value
    /// holds what its row holds.
    #[tokio::test]
    async fn owned_values_hold_what_the_rows_hold() -> Result<()> {
        let db = seeded().await?;
        let mut s = db.session();

        let mut everything = s.query::<Item>().all_owned().await?;
        everything.sort_by_key(|i| i.id);
        assert_eq!(everything, stored());

        let fruit = s
            .query::<Item>()
            .filter(Item::TAG.eq(Some("fruit".to_owned())))
            .order_by_desc(Item::NAME)
            .all_owned()
            .await?;
        assert_eq!(fruit, named(&["fig", "banana", "apple"]));

        let cheap = s
            .query::<Item>()
            .filter(Item::PRICE.le(5).and(Item::RATING.is_not_null()))
            .filter(Item::IN_STOCK.eq(true))
            .order_by(Item::PRICE)
            .all_owned()
            .await?;
        assert_eq!(cheap, named(&["banana", "apple"]));

        let page = s
            .query::<Item>()
            .order_by(Item::PRICE)
            .order_by(Item::NAME)
            .offset(2)
            .limit(3)
            .all_owned()
            .await?;
        assert_eq!(page, named(&["apple", "eggplant", "fig"]));
        let tail = s
            .query::<Item>()
            .order_by(Item::ID)
            .offset(4)
            .all_owned()
            .await?;
        assert_eq!(tail, named(&["eggplant", "fig"]));

        // The same rows, in the same order, as the tracked query.
        let handles = s
            .query::<Item>()
            .filter(Item::NAME.like("%a%"))
            .order_by(Item::PRICE)
            .order_by(Item::NAME)
            .all()
            .await?;
        let mut tracked = Vec::new();
        for h in handles {
            tracked.push(s.read(h).await?.clone());
        }
        let owned = s
            .query::<Item>()
            .filter(Item::NAME.like("%a%"))
            .order_by(Item::PRICE)
            .order_by(Item::NAME)
            .all_owned()
            .await?;
        assert_eq!(owned, tracked);

        let none = s
            .query::<Item>()
            .filter(Item::ID.is_in(Vec::<i64>::new()))
            .all_owned()
            .await?;
        assert!(none.is_empty());
        Ok(())
    }
}

orm_tests::backend_test! {
    /// `first_owned` and `one_owned` behave as `first` and `one`.
    #[tokio::test]
    async fn first_owned_and_one_owned() -> Result<()> {
        let db = seeded().await?;
        let mut s = db.session();
        let priciest = s.query::<Item>().order_by_desc(Item::PRICE).first_owned().await?;
        assert_eq!(priciest, Some(named(&["durian"]).remove(0)));
        let nothing = s
            .query::<Item>()
            .filter(Item::PRICE.gt(100))
            .first_owned()
            .await?;
        assert_eq!(nothing, None);

        let carrot = s.query::<Item>().filter_by(Item::NAME, "carrot").one_owned().await?;
        assert_eq!(carrot, named(&["carrot"]).remove(0));
        assert!(matches!(
            s.query::<Item>().filter_by(Item::NAME, "kiwi").one_owned().await,
            Err(Error::NotFound { model: "Item" })
        ));
        assert!(matches!(
            s.query::<Item>().filter_by(Item::PRICE, 5).one_owned().await,
            Err(Error::MultipleRows { model: "Item" })
        ));
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Owned values are not entered into the identity map: a `get` afterwards runs its
    /// SELECT, changing a value changes nothing in the session or the database, and an
    /// object the session already holds is neither replaced nor changed.
    #[tokio::test]
    async fn owned_values_are_not_tracked() -> Result<()> {
        let db = seeded().await?;
        let mut s = db.session();
        let mut owned = s.query::<Item>().order_by(Item::ID).all_owned().await?;
        assert_eq!(owned.len(), ITEMS.len());

        let before = db.statements_executed();
        let apple = s.get::<Item>(1).await?.expect("item 1");
        assert_eq!(db.statements_executed(), before + 1, "not in the identity map: one SELECT");
        let before = db.statements_executed();
        assert_eq!(s.get::<Item>(1).await?, Some(apple));
        assert_eq!(db.statements_executed(), before, "now held: no SELECT");

        // Changing an owned value changes neither the held object nor the row.
        owned[0].name = "changed".into();
        owned[0].price = 99;
        assert_eq!(s.read(apple).await?.name, "apple");
        s.commit().await?;
        let again = s.query::<Item>().filter_by(Item::ID, 1).one_owned().await?;
        assert_eq!((again.name.as_str(), again.price), ("apple", 3));

        // A held object with unflushed changes (autoflush off) is left as it is; the owned
        // value shows the row.
        s.set_autoflush(false);
        s.write(apple).await?.price = 42;
        let row = s.query::<Item>().filter_by(Item::ID, 1).one_owned().await?;
        assert_eq!(row.price, 3);
        assert_eq!(s.read(apple).await?.price, 42);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Relationship fields of owned values are empty and not loaded; no SELECT loads them.
    #[tokio::test]
    async fn owned_relationships_are_not_loaded() -> Result<()> {
        let db = orm_tests::fresh_db(&[User::META, Address::META]).await?;
        let mut s = db.session();
        let mut jack = User::new("jack", "Jack Bean", "gjffdd");
        jack.addresses.push(Address::new("jack@google.com"));
        jack.addresses.push(Address::new("j25@yahoo.com"));
        s.add(jack)?;
        s.commit().await?;

        let before = db.statements_executed();
        let users = s.query::<User>().all_owned().await?;
        assert_eq!(db.statements_executed(), before + 1, "one SELECT, nothing else");
        assert_eq!(users.len(), 1);
        assert!(!users[0].addresses.is_loaded());
        assert!(users[0].addresses.is_empty());

        // Related rows come from a second owned query on the keys read.
        let keys = users.iter().map(|u| u.id);
        let addresses = s
            .query::<Address>()
            .filter(Address::USER_ID.is_in(keys))
            .order_by(Address::EMAIL_ADDRESS)
            .all_owned()
            .await?;
        let emails: Vec<&str> = addresses.iter().map(|a| a.email_address.as_str()).collect();
        assert_eq!(emails, ["j25@yahoo.com", "jack@google.com"]);
        assert!(addresses.iter().all(|a| a.user_id == users[0].id && !a.user.is_loaded()));
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Pending changes are flushed first (autoflush): added, changed and deleted objects are
    /// seen as the flush leaves them; with autoflush off they are not.
    #[tokio::test]
    async fn autoflush_makes_pending_changes_visible() -> Result<()> {
        let db = seeded().await?;
        let mut s = db.session();
        let apple = s.get::<Item>(1).await?.expect("item 1");
        let banana = s.get::<Item>(2).await?.expect("item 2");
        s.add(Item {
            id: None,
            name: "grape".into(),
            price: 7,
            rating: None,
            tag: Some("fruit".into()),
            in_stock: true,
        })?;
        s.write(apple).await?.price = 4;
        s.delete(banana)?;

        let fruit = s
            .query::<Item>()
            .filter(Item::TAG.eq(Some("fruit".to_owned())))
            .order_by(Item::NAME)
            .all_columns((Item::NAME, Item::PRICE))
            .await?;
        assert_eq!(
            fruit,
            [("apple".to_owned(), 4), ("fig".to_owned(), 5), ("grape".to_owned(), 7)]
        );
        s.rollback().await?;

        // Autoflush off: the pending change is not written, so not seen.
        s.set_autoflush(false);
        s.write(apple).await?.price = 10;
        s.add(item(&("kiwi", 2, None, None, true)))?;
        let apple_row = s.query::<Item>().filter_by(Item::ID, 1).one_owned().await?;
        assert_eq!(apple_row.price, 3);
        assert_eq!(s.query::<Item>().all_owned().await?.len(), ITEMS.len());
        s.flush().await?;
        let apple_row = s.query::<Item>().filter_by(Item::ID, 1).one_owned().await?;
        assert_eq!(apple_row.price, 10);
        assert_eq!(s.query::<Item>().all_owned().await?.len(), ITEMS.len() + 1);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Inside an open transaction the reads see its uncommitted writes, which another
    /// session (another connection) does not see; after a rollback they are gone.
    #[tokio::test]
    async fn reads_run_in_the_open_transaction() -> Result<()> {
        let t = harness::pooled(&[Item::META], 2).await;
        seed(&t.db).await?;
        let mut s = t.db.session();
        s.add(item(&("kiwi", 2, None, Some("fruit"), true)))?;
        let fig = s.get::<Item>(6).await?.expect("item 6");
        s.write(fig).await?.price = 50;
        s.flush().await?; // the transaction stays open

        s.set_autoflush(false); // nothing pending: what is seen comes from the transaction
        let names = s
            .query::<Item>()
            .filter(Item::TAG.eq(Some("fruit".to_owned())))
            .order_by(Item::NAME)
            .all_columns(Item::NAME)
            .await?;
        assert_eq!(names, ["apple", "banana", "fig", "kiwi"]);
        let fig_row = s.query::<Item>().filter_by(Item::NAME, "fig").one_owned().await?;
        assert_eq!(fig_row.price, 50);

        let mut other = t.db.session();
        assert_eq!(other.query::<Item>().all_owned().await?.len(), ITEMS.len());
        let fig_row = other.query::<Item>().filter_by(Item::NAME, "fig").one_owned().await?;
        assert_eq!(fig_row.price, 5, "uncommitted: not seen from another connection");
        drop(other);

        s.rollback().await?;
        assert_eq!(s.query::<Item>().all_owned().await?.len(), ITEMS.len());
        let fig_row = s.query::<Item>().filter_by(Item::NAME, "fig").one_owned().await?;
        assert_eq!(fig_row.price, 5);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A projection reads the typed columns: one column as its value, tuples as tuples (up to
    /// 8 columns, repeats allowed), nullable columns as `Option`.
    #[tokio::test]
    async fn projections_have_the_column_types() -> Result<()> {
        let db = seeded().await?;
        let mut s = db.session();

        let names: Vec<String> = s
            .query::<Item>()
            .order_by(Item::NAME)
            .all_columns(Item::NAME)
            .await?;
        assert_eq!(names, ["apple", "banana", "carrot", "durian", "eggplant", "fig"]);

        let one: Vec<(i64,)> = s
            .query::<Item>()
            .filter(Item::TAG.is_null())
            .order_by(Item::PRICE)
            .all_columns((Item::PRICE,))
            .await?;
        assert_eq!(one, [(5,), (30,)]);

        let pairs: Vec<(Option<i64>, String)> = s
            .query::<Item>()
            .filter(Item::IN_STOCK.eq(true))
            .order_by(Item::ID)
            .all_columns((Item::ID, Item::NAME))
            .await?;
        assert_eq!(
            pairs,
            [
                (Some(1), "apple".to_owned()),
                (Some(2), "banana".to_owned()),
                (Some(4), "durian".to_owned())
            ]
        );

        let rows: Vec<(Option<f64>, Option<String>, bool)> = s
            .query::<Item>()
            .filter(Item::NAME.is_in(["carrot", "durian"]))
            .order_by(Item::NAME)
            .all_columns((Item::RATING, Item::TAG, Item::IN_STOCK))
            .await?;
        assert_eq!(
            rows,
            [(None, Some("vegetable".to_owned()), false), (Some(1.0), None, true)]
        );

        let wide = s
            .query::<Item>()
            .filter_by(Item::NAME, "apple")
            .all_columns((
                Item::ID,
                Item::NAME,
                Item::PRICE,
                Item::RATING,
                Item::TAG,
                Item::IN_STOCK,
                Item::PRICE,
                Item::NAME,
            ))
            .await?;
        assert_eq!(
            wide,
            [(
                Some(1),
                "apple".to_owned(),
                3,
                Some(4.5),
                Some("fruit".to_owned()),
                true,
                3,
                "apple".to_owned()
            )]
        );

        let page: Vec<String> = s
            .query::<Item>()
            .order_by_desc(Item::PRICE)
            .offset(1)
            .limit(2)
            .all_columns(Item::NAME)
            .await?;
        assert_eq!(page.len(), 2);
        assert!(page.iter().all(|n| n == "eggplant" || n == "fig"));

        // Nothing entered the session: `get` runs its SELECT.
        let before = db.statements_executed();
        s.get::<Item>(1).await?.expect("item 1");
        assert_eq!(db.statements_executed(), before + 1);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Only the chosen columns are selected: a model declaring a column the table lacks can
    /// still project the columns the table has.
    #[tokio::test]
    async fn projections_select_only_the_chosen_columns() -> Result<()> {
        let db = seeded().await?;
        let mut s = db.session();
        let rows = s
            .query::<WiderItem>()
            .filter(WiderItem::ID.le(2))
            .order_by(WiderItem::ID)
            .all_columns((WiderItem::ID, WiderItem::NAME))
            .await?;
        assert_eq!(rows, [(Some(1), "apple".to_owned()), (Some(2), "banana".to_owned())]);

        let whole = s.query::<WiderItem>().all_owned().await;
        assert!(
            matches!(&whole, Err(Error::MissingColumn { column, .. }) if column.contains("extra")),
            "{whole:?}"
        );
        let extra = s.query::<WiderItem>().all_columns(WiderItem::EXTRA).await;
        assert!(matches!(extra, Err(Error::MissingColumn { .. })), "{extra:?}");
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A stored value that does not fit the Rust type is an `Error::Decode` naming the model
    /// and the column, for whole values and for projections.
    #[tokio::test]
    async fn decode_errors_name_the_column() -> Result<()> {
        let t = harness::fresh(&[Item::META]).await;
        seed(&t.db).await?;
        t.exec("INSERT INTO items (id, name, price, rating, tag, in_stock) VALUES (7, 'truffle', 1000, NULL, NULL, TRUE)")
            .await;
        let mut s = t.db.session();

        // Rows that fit decode; the row that does not names its column.
        let cheap = s
            .query::<NarrowItem>()
            .filter(NarrowItem::PRICE.lt(100))
            .all_owned()
            .await?;
        assert_eq!(cheap.len(), ITEMS.len());
        let err = s.query::<NarrowItem>().all_owned().await.unwrap_err();
        assert!(
            matches!(&err, Error::Decode { model: "NarrowItem", column: "price", source }
                if source.found.contains("1000")),
            "{err:?}"
        );
        assert!(err.to_string().contains("price"), "{err}");

        let err = s
            .query::<NarrowItem>()
            .filter_by(NarrowItem::ID, 7)
            .all_columns((NarrowItem::NAME, NarrowItem::PRICE))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Decode { model: "NarrowItem", column: "price", .. }),
            "{err:?}"
        );
        let err = s
            .query::<NarrowItem>()
            .all_columns(NarrowItem::PRICE)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Decode { model: "NarrowItem", column: "price", .. }),
            "{err:?}"
        );
        // The other columns of that row read fine.
        let names = s
            .query::<NarrowItem>()
            .filter_by(NarrowItem::ID, 7)
            .all_columns((NarrowItem::ID, NarrowItem::NAME))
            .await?;
        assert_eq!(names, [(Some(7), "truffle".to_owned())]);
        // The session is still usable.
        assert_eq!(s.query::<Item>().count().await?, 7);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// `.load(..)` cannot apply to values the session does not track: refused with
    /// `Error::Config` naming the relationship, before any SQL (and before the autoflush).
    #[tokio::test]
    async fn eager_loading_is_refused() -> Result<()> {
        let db = orm_tests::fresh_db(&[User::META, Address::META]).await?;
        let mut s = db.session();
        s.add(User::new("jack", "Jack Bean", "gjffdd"))?;
        let before = db.statements_executed();

        let err = s
            .query::<User>()
            .load(User::ADDRESSES)
            .all_owned()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config { model: "User", field: "addresses", message }
                if message.contains("all_owned")),
            "{err:?}"
        );
        let err = s
            .query::<Address>()
            .load(Address::USER)
            .all_columns(Address::EMAIL_ADDRESS)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Config { model: "Address", field: "user", .. }),
            "{err:?}"
        );
        assert!(matches!(
            s.query::<User>().load(User::ADDRESSES).first_owned().await,
            Err(Error::Config { .. })
        ));
        assert_eq!(db.statements_executed(), before, "no SQL, not even the autoflush");

        // The same query without `load` runs (and autoflushes the pending user).
        assert_eq!(s.query::<User>().all_owned().await?.len(), 1);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A key list longer than the database binds as parameters still reads every row (SQLite
    /// sends it as one JSON array, PostgreSQL as one array parameter).
    #[tokio::test]
    async fn long_key_lists() -> Result<()> {
        let db = seeded().await?;
        let mut s = db.session();
        let keys: Vec<i64> = (-40_000..0).chain([2, 4]).collect();
        let rows = s
            .query::<Item>()
            .filter(Item::ID.is_in(keys))
            .order_by(Item::ID)
            .all_columns(Item::NAME)
            .await?;
        assert_eq!(rows, ["banana", "durian"]);
        Ok(())
    }
}
