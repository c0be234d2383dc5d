//! Typed queries (issue 2, item 4): every filter operator and combinator, `filter_by`, ordering,
//! limit and offset, `count`, `one`, `first`, `all`, eager loading and bulk delete, and values that
//! are always bound, never spliced into the SQL text.

use orm_core::prelude::*;
use orm_tests::models::{Address, User};

/// Items with numeric, optional and text columns to filter on.
#[derive(Model, Debug)]
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

async fn seeded() -> Result<Database> {
    let db = orm_tests::fresh_db(&[Item::META]).await?;
    let mut s = db.session();
    for &(name, price, rating, tag, in_stock) in ITEMS {
        s.add(Item {
            id: None,
            name: name.into(),
            price,
            rating,
            tag: tag.map(Into::into),
            in_stock,
        })?;
    }
    s.commit().await?;
    Ok(db)
}

/// The names of `handles`, in order.
async fn names(s: &mut Session, handles: Vec<Handle<Item>>) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(s.read(h).await?.name.clone());
    }
    Ok(out)
}

/// The names matching `condition`, ordered by name.
async fn matching(db: &Database, condition: orm_core::Condition<Item>) -> Result<Vec<String>> {
    let mut s = db.session();
    let found = s
        .query::<Item>()
        .filter(condition)
        .order_by(Item::NAME)
        .all()
        .await?;
    names(&mut s, found).await
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn comparison_operators() -> Result<()> {
        let db = seeded().await?;
        assert_eq!(matching(&db, Item::PRICE.eq(5)).await?, ["eggplant", "fig"]);
        assert_eq!(
            matching(&db, Item::PRICE.ne(5)).await?,
            ["apple", "banana", "carrot", "durian"]
        );
        assert_eq!(
            matching(&db, Item::PRICE.lt(3)).await?,
            ["banana", "carrot"]
        );
        assert_eq!(
            matching(&db, Item::PRICE.le(3)).await?,
            ["apple", "banana", "carrot"]
        );
        assert_eq!(matching(&db, Item::PRICE.gt(5)).await?, ["durian"]);
        assert_eq!(
            matching(&db, Item::PRICE.ge(5)).await?,
            ["durian", "eggplant", "fig"]
        );
        assert_eq!(matching(&db, Item::NAME.eq("fig")).await?, ["fig"]);
        assert_eq!(
            matching(&db, Item::NAME.gt("durian")).await?,
            ["eggplant", "fig"]
        );
        assert_eq!(
            matching(&db, Item::RATING.ge(Some(4.5))).await?,
            ["apple", "fig"]
        );
        assert_eq!(
            matching(&db, Item::IN_STOCK.eq(false)).await?,
            ["carrot", "eggplant", "fig"]
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn null_tests() -> Result<()> {
        let db = seeded().await?;
        assert_eq!(
            matching(&db, Item::RATING.is_null()).await?,
            ["carrot", "eggplant"]
        );
        assert_eq!(
            matching(&db, Item::RATING.is_not_null()).await?,
            ["apple", "banana", "durian", "fig"]
        );
        assert_eq!(
            matching(&db, Item::TAG.is_null()).await?,
            ["durian", "eggplant"]
        );
        // Comparing with NULL through `ne` follows SQL: rows whose tag is NULL do not match.
        assert_eq!(
            matching(&db, Item::TAG.ne(Some("fruit".to_string()))).await?,
            ["carrot"]
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn is_in_and_like() -> Result<()> {
        let db = seeded().await?;
        assert_eq!(
            matching(&db, Item::NAME.is_in(["fig", "apple", "nope"])).await?,
            ["apple", "fig"]
        );
        assert_eq!(
            matching(&db, Item::PRICE.is_in([1, 2, 30])).await?,
            ["banana", "carrot", "durian"]
        );
        let nothing: [i64; 0] = [];
        assert!(
            matching(&db, Item::PRICE.is_in(nothing)).await?.is_empty(),
            "an empty IN list matches nothing"
        );
        assert!(
            !matching(&db, Item::PRICE.is_in(nothing).not())
                .await?
                .is_empty(),
            "and its negation matches everything"
        );
        assert_eq!(
            matching(&db, Item::NAME.like("%an%")).await?,
            ["banana", "durian", "eggplant"]
        );
        assert_eq!(matching(&db, Item::NAME.like("_ig")).await?, ["fig"]);
        assert_eq!(matching(&db, Item::TAG.like("veg%")).await?, ["carrot"]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn and_or_not_and_several_filters() -> Result<()> {
        let db = seeded().await?;
        let fruit = || Item::TAG.eq(Some("fruit".to_string()));
        assert_eq!(
            matching(&db, fruit().and(Item::PRICE.ge(3))).await?,
            ["apple", "fig"]
        );
        assert_eq!(
            matching(&db, Item::PRICE.eq(1).or(Item::PRICE.eq(30))).await?,
            ["banana", "durian"]
        );
        assert_eq!(
            matching(&db, fruit().not()).await?,
            ["carrot"],
            "NOT of a comparison with NULL is NULL too"
        );
        assert_eq!(
            matching(&db, Item::IN_STOCK.eq(true).not()).await?,
            ["carrot", "eggplant", "fig"]
        );
        // (fruit AND in stock) OR NOT (rating IS NOT NULL)
        assert_eq!(
            matching(
                &db,
                fruit()
                    .and(Item::IN_STOCK.eq(true))
                    .or(Item::RATING.is_not_null().not())
            )
            .await?,
            ["apple", "banana", "carrot", "eggplant"]
        );
        // Precedence is kept: a OR (b AND c) differs from (a OR b) AND c.
        assert_eq!(
            matching(
                &db,
                Item::PRICE
                    .eq(30)
                    .or(Item::PRICE.eq(5).and(Item::IN_STOCK.eq(false)))
            )
            .await?,
            ["durian", "eggplant", "fig"]
        );
        assert_eq!(
            matching(
                &db,
                Item::PRICE
                    .eq(30)
                    .or(Item::PRICE.eq(5))
                    .and(Item::IN_STOCK.eq(false))
            )
            .await?,
            ["eggplant", "fig"]
        );

        // Several `filter` calls are ANDed.
        let mut s = db.session();
        let found = s
            .query::<Item>()
            .filter(fruit())
            .filter(Item::IN_STOCK.eq(true))
            .filter(Item::PRICE.lt(3))
            .all()
            .await?;
        assert_eq!(names(&mut s, found).await?, ["banana"]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn filter_by_is_equality() -> Result<()> {
        let db = seeded().await?;
        let mut s = db.session();
        let found = s
            .query::<Item>()
            .filter_by(Item::PRICE, 5)
            .filter_by(Item::IN_STOCK, false)
            .order_by(Item::NAME)
            .all()
            .await?;
        assert_eq!(names(&mut s, found).await?, ["eggplant", "fig"]);
        let fig = s.query::<Item>().filter_by(Item::NAME, "fig").one().await?;
        assert_eq!(s.read(fig).await?.price, 5);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn order_limit_offset() -> Result<()> {
        let db = seeded().await?;
        let mut s = db.session();

        let q = s
            .query::<Item>()
            .order_by(Item::PRICE)
            .order_by(Item::NAME)
            .all()
            .await?;
        assert_eq!(
            names(&mut s, q).await?,
            ["banana", "carrot", "apple", "eggplant", "fig", "durian"]
        );
        let q = s
            .query::<Item>()
            .order_by_desc(Item::PRICE)
            .order_by_desc(Item::NAME)
            .all()
            .await?;
        assert_eq!(
            names(&mut s, q).await?,
            ["durian", "fig", "eggplant", "apple", "carrot", "banana"]
        );
        let q = s
            .query::<Item>()
            .order_by(Item::NAME)
            .limit(2)
            .all()
            .await?;
        assert_eq!(names(&mut s, q).await?, ["apple", "banana"]);
        let q = s
            .query::<Item>()
            .order_by(Item::NAME)
            .limit(2)
            .offset(2)
            .all()
            .await?;
        assert_eq!(names(&mut s, q).await?, ["carrot", "durian"]);
        let q = s
            .query::<Item>()
            .order_by(Item::NAME)
            .offset(4)
            .all()
            .await?;
        assert_eq!(
            names(&mut s, q).await?,
            ["eggplant", "fig"],
            "offset without limit"
        );
        let q = s
            .query::<Item>()
            .order_by(Item::NAME)
            .offset(10)
            .all()
            .await?;
        assert!(q.is_empty());
        let q = s.query::<Item>().limit(0).all().await?;
        assert!(q.is_empty());
        // Limit applies after the filter and the order.
        let q = s
            .query::<Item>()
            .filter(Item::TAG.eq(Some("fruit".to_string())))
            .order_by_desc(Item::RATING)
            .limit(1)
            .all()
            .await?;
        assert_eq!(names(&mut s, q).await?, ["fig"]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn count_one_first_all() -> Result<()> {
        let db = seeded().await?;
        let mut s = db.session();
        assert_eq!(s.query::<Item>().count().await?, 6);
        assert_eq!(
            s.query::<Item>().filter(Item::PRICE.ge(5)).count().await?,
            3
        );
        assert_eq!(
            s.query::<Item>()
                .filter(Item::PRICE.gt(100))
                .count()
                .await?,
            0
        );
        assert_eq!(s.query::<Item>().all().await?.len(), 6);

        let durian = s.query::<Item>().filter(Item::PRICE.gt(10)).one().await?;
        assert_eq!(s.read(durian).await?.name, "durian");

        let none = s.query::<Item>().filter(Item::PRICE.gt(100)).one().await;
        match none {
            Err(Error::NotFound { model }) => assert_eq!(model, "Item"),
            other => panic!("expected NotFound, got {other:?}"),
        }
        let several = s.query::<Item>().filter(Item::PRICE.eq(5)).one().await;
        match several {
            Err(err @ Error::MultipleRows { .. }) => {
                assert!(err.to_string().contains("Item"), "{err}");
            }
            other => panic!("expected MultipleRows, got {other:?}"),
        }

        let first = s.query::<Item>().order_by_desc(Item::PRICE).first().await?;
        let first = first.expect("there are items");
        assert_eq!(s.read(first).await?.name, "durian");
        let first = s
            .query::<Item>()
            .filter(Item::PRICE.eq(5))
            .order_by(Item::NAME)
            .first()
            .await?;
        assert_eq!(
            names(&mut s, first.into_iter().collect()).await?,
            ["eggplant"]
        );
        assert_eq!(
            s.query::<Item>()
                .filter(Item::PRICE.gt(100))
                .first()
                .await?,
            None
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn query_results_share_the_identity_map() -> Result<()> {
        let db = seeded().await?;
        let mut s = db.session();
        let all = s.query::<Item>().order_by(Item::NAME).all().await?;
        let fig = s.query::<Item>().filter_by(Item::NAME, "fig").one().await?;
        assert_eq!(all[5], fig, "the same row is the same handle");
        let id = s.read(fig).await?.id.expect("stored");
        let before = db.statements_executed();
        assert_eq!(s.get::<Item>(id).await?, Some(fig));
        assert_eq!(db.statements_executed(), before);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn values_are_bound_never_spliced() -> Result<()> {
        let db = seeded().await?;
        let nasty = [
            "Robert'); DROP TABLE items; --",
            "it's",
            "\"double\" quotes",
            "back\\slash",
            "percent % and _ underscore",
            "1' OR '1'='1",
            "?",
            "$1",
            "NULL",
        ];
        let mut s = db.session();
        for name in nasty {
            s.add(Item {
                id: None,
                name: name.into(),
                price: 99,
                rating: None,
                tag: Some(name.into()),
                in_stock: true,
            })?;
        }
        s.commit().await?;

        let mut s = db.session();
        for name in nasty {
            let found = s.query::<Item>().filter_by(Item::NAME, name).all().await?;
            assert_eq!(found.len(), 1, "exactly the row named {name:?}");
            let item = s.read(found[0]).await?;
            assert_eq!(item.name, name, "round-trips unchanged");
            assert_eq!(item.tag.as_deref(), Some(name));
        }
        assert_eq!(
            s.query::<Item>()
                .filter(Item::NAME.eq("1' OR '1'='1"))
                .count()
                .await?,
            1,
            "an injection attempt in a value is only a value"
        );
        assert_eq!(
            s.query::<Item>()
                .filter(Item::NAME.is_in(["it's", "Robert'); DROP TABLE items; --"]))
                .count()
                .await?,
            2
        );
        assert_eq!(
            s.query::<Item>()
                .filter(Item::NAME.like("%'%"))
                .count()
                .await?,
            3,
            "a quote inside a LIKE pattern"
        );
        // The table survived, with all its rows.
        assert_eq!(
            s.query::<Item>().count().await?,
            (ITEMS.len() + nasty.len()) as u64
        );

        // Updates bind their values too.
        let it = s
            .query::<Item>()
            .filter_by(Item::NAME, "it's")
            .one()
            .await?;
        s.write(it).await?.tag = Some("'; DELETE FROM items; --".into());
        s.commit().await?;
        assert_eq!(
            s.query::<Item>().count().await?,
            (ITEMS.len() + nasty.len()) as u64
        );
        assert_eq!(
            s.read(it).await?.tag.as_deref(),
            Some("'; DELETE FROM items; --")
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn eager_loading_fetches_children_without_one_select_per_parent() -> Result<()> {
        let db = orm_tests::fresh_db(&[User::META, Address::META]).await?;
        let mut s = db.session();
        for u in 0..5 {
            let mut user = User::new(&format!("user{u}"), "U", "u");
            for a in 0..u {
                user.addresses
                    .push(Address::new(&format!("u{u}a{a}@example.com")));
            }
            s.add(user)?;
        }
        s.commit().await?;

        let mut s = db.session();
        let before = db.statements_executed();
        let users = s
            .query::<User>()
            .order_by(User::NAME)
            .load(User::ADDRESSES)
            .all()
            .await?;
        assert_eq!(
            db.statements_executed() - before,
            2,
            "one SELECT of users, one of their addresses"
        );
        let before = db.statements_executed();
        for (u, &user) in users.iter().enumerate() {
            assert_eq!(s.related(user, User::ADDRESSES).await?.len(), u);
        }
        assert_eq!(db.statements_executed(), before, "already loaded");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn bulk_delete_through_a_query() -> Result<()> {
        let db = seeded().await?;
        let mut s = db.session();
        let fig = s.query::<Item>().filter_by(Item::NAME, "fig").one().await?;
        let deleted = s.query::<Item>().filter(Item::PRICE.ge(5)).delete().await?;
        assert_eq!(deleted, 3);
        assert_eq!(
            s.state(fig),
            ObjectState::Deleted,
            "a loaded row is reconciled"
        );
        assert_eq!(s.query::<Item>().count().await?, 3);
        s.commit().await?;
        let mut other = db.session();
        let left = other.query::<Item>().order_by(Item::NAME).all().await?;
        assert_eq!(
            names(&mut other, left).await?,
            ["apple", "banana", "carrot"]
        );
        Ok(())
    }
}

/// A plain table for set sizes beyond any parameter limit.
#[derive(Model, Debug)]
#[model(table = "q_many")]
pub struct Many {
    #[column(primary_key)]
    pub id: i64,
    pub n: i64,
}

orm_tests::backend_test! {
    /// `is_in` and a bulk delete over 40,000 keys: more than SQLite binds in one statement
    /// (32,766), so the keys go as one array (PostgreSQL) or one JSON array (SQLite).
    #[tokio::test]
    async fn key_sets_of_any_size_are_bound() -> Result<()> {
        const N: i64 = 40_000;
        let t = orm_tests::harness::fresh(&[Many::META]).await;
        t.exec(match t.backend {
            orm_tests::harness::Backend::Sqlite => {
                "WITH RECURSIVE k(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM k WHERE x < 40000) \
                 INSERT INTO q_many (id, n) SELECT x, x % 7 FROM k"
            }
            orm_tests::harness::Backend::Postgres => {
                "INSERT INTO q_many (id, n) SELECT g, g % 7 FROM generate_series(1, 40000) g"
            }
        })
        .await;
        let mut s = t.db.session();
        let evens: Vec<i64> = (1..=N).filter(|k| k % 2 == 0).chain([N + 1, N + 2]).collect();
        let found = s
            .query::<Many>()
            .filter(Many::ID.is_in(evens.clone()))
            .count()
            .await?;
        assert_eq!(found, (N / 2) as u64);
        let deleted = s
            .query::<Many>()
            .filter(Many::ID.is_in(evens))
            .delete()
            .await?;
        assert_eq!(deleted, (N / 2) as u64);
        s.commit().await?;
        assert_eq!(t.count("q_many").await, N / 2);
        let none = s
            .query::<Many>()
            .filter(Many::N.is_in((0..20_000).map(i64::from)))
            .count()
            .await?;
        assert_eq!(none, (N / 2) as u64, "every n is in 0..7");
        Ok(())
    }
}

#[derive(Model, Debug)]
#[model(table = "q_guard_parents")]
pub struct GuardParent {
    #[column(primary_key)]
    pub id: i64,
    #[relationship(back_populates = "parent")]
    pub kids: HasMany<GuardKid>,
}

/// A child whose key to its parent is NOT NULL and not cascaded: deleting a parent that still
/// has one is refused before any delete (the guard).
#[derive(Model, Debug)]
#[model(table = "q_guard_kids")]
pub struct GuardKid {
    #[column(primary_key)]
    pub id: i64,
    #[column(foreign_key = "q_guard_parents.id")]
    pub parent_id: i64,
    #[relationship(back_populates = "kids")]
    pub parent: BelongsTo<GuardParent>,
}

orm_tests::backend_test! {
    /// A bulk delete of 40,000 parents checks their NOT NULL children in one statement whatever
    /// the number of keys: refused while one has a child, done once it has none.
    #[tokio::test]
    async fn the_guard_of_a_huge_bulk_delete_is_bound_in_one_piece() -> Result<()> {
        let t = orm_tests::harness::fresh(&[GuardParent::META, GuardKid::META]).await;
        t.exec(match t.backend {
            orm_tests::harness::Backend::Sqlite => {
                "WITH RECURSIVE k(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM k WHERE x < 40000) \
                 INSERT INTO q_guard_parents (id) SELECT x FROM k"
            }
            orm_tests::harness::Backend::Postgres => {
                "INSERT INTO q_guard_parents (id) SELECT g FROM generate_series(1, 40000) g"
            }
        })
        .await;
        t.exec("INSERT INTO q_guard_kids (id, parent_id) VALUES (1, 39999)").await;
        let mut s = t.db.session();
        let err = s
            .query::<GuardParent>()
            .delete()
            .await
            .expect_err("parent 39999 has a child");
        assert!(matches!(err, Error::WouldNullRequiredKey { .. }), "{err:?}");
        s.rollback().await?;
        assert_eq!(t.count("q_guard_parents").await, 40_000, "nothing deleted");
        t.exec("DELETE FROM q_guard_kids").await;
        let deleted = s.query::<GuardParent>().delete().await?;
        s.commit().await?;
        assert_eq!(deleted, 40_000);
        assert_eq!(t.count("q_guard_parents").await, 0);
        Ok(())
    }
}
