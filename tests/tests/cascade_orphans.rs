//! docs/dev/semantics.md §5 (orphans and single parents) and the `delete-orphan` row of §1.
//!
//! "A NULL inside a collection is an error at flush" cannot be expressed with this API: a
//! collection holds handles or new objects, never a NULL.

use orm_core::prelude::*;

#[derive(Model, Debug)]
#[model(table = "orders")]
pub struct Order {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "order", cascade = "all, delete-orphan")]
    pub items: HasMany<Item>,
}

#[derive(Model, Debug)]
#[model(table = "products")]
pub struct Product {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "product", cascade = "all, delete-orphan")]
    pub items: HasMany<Item>,
}

/// Owned through two delete-orphan relationships.
#[derive(Model, Debug)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub label: String,
    #[column(foreign_key = "orders.id")]
    pub order_id: Option<i64>,
    #[column(foreign_key = "products.id")]
    pub product_id: Option<i64>,
    #[relationship(back_populates = "items")]
    pub order: BelongsTo<Order>,
    #[relationship(back_populates = "items")]
    pub product: BelongsTo<Product>,
}

fn item(label: &str) -> Item {
    Item {
        id: None,
        label: label.into(),
        order_id: None,
        product_id: None,
        order: BelongsTo::new(),
        product: BelongsTo::new(),
    }
}

fn order(labels: &[&str]) -> Order {
    Order {
        id: None,
        items: labels.iter().map(|l| item(l)).collect(),
    }
}

/// A bag owns its marbles through one delete-orphan relationship.
#[derive(Model, Debug)]
#[model(table = "bags")]
pub struct Bag {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "bag", cascade = "all, delete-orphan")]
    pub marbles: HasMany<Marble>,
}

#[derive(Model, Debug)]
#[model(table = "marbles")]
pub struct Marble {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub label: String,
    #[column(foreign_key = "bags.id")]
    pub bag_id: Option<i64>,
    #[relationship(back_populates = "marbles")]
    pub bag: BelongsTo<Bag>,
}

fn bag(labels: &[&str]) -> Bag {
    Bag {
        id: None,
        marbles: labels
            .iter()
            .map(|l| Marble {
                id: None,
                label: (*l).into(),
                bag_id: None,
                bag: BelongsTo::new(),
            })
            .collect(),
    }
}

fn models() -> [&'static orm_core::meta::ModelMeta; 3] {
    [Order::META, Product::META, Item::META]
}

orm_tests::backend_test! {
    /// An object is an orphan when it lacks a parent in ANY delete-orphan relationship that owns it:
    /// removed from its order while still held by its product, it is deleted.
    #[tokio::test]
    async fn orphan_of_any_owner_is_deleted() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        s.set_autoflush(false);
        let o = s.add(order(&["x"]))?;
        let p = s.add(Product {
            id: None,
            items: HasMany::new(),
        })?;
        let x = s.related(o, Order::ITEMS).await?[0];
        s.append(p, Product::ITEMS, x).await?;
        s.commit().await?;
        assert_eq!(
            t.rows("SELECT order_id, product_id FROM items").await,
            vec![vec![
                orm_core::Value::Integer(1),
                orm_core::Value::Integer(1)
            ]]
        );

        s.remove(o, Order::ITEMS, x).await?;
        s.commit().await?;
        assert_eq!(
            t.count("items").await,
            0,
            "still held by the product, but an orphan"
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Objects loaded from the database are never orphans by merely being loaded: rows whose key is
    /// already NULL, loaded by a query, survive a flush.
    #[tokio::test]
    async fn loaded_objects_are_not_orphans() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Bag::META, Marble::META]).await;
        t.exec("INSERT INTO marbles (label) VALUES ('loose'), ('free')")
            .await;
        let mut s = t.db.session();
        let loose = s.query::<Marble>().all().await?;
        assert_eq!(loose.len(), 2);
        let first = loose[0];
        s.write(first).await?.label = "changed".into();
        s.commit().await?;
        assert_eq!(t.count("marbles").await, 2);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Removed, then re-attached to another parent before the flush: MOVED (its key updated), not
    /// deleted; also across a commit.
    #[tokio::test]
    async fn removed_then_reattached_is_moved() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Bag::META, Marble::META]).await;
        let mut s = t.db.session();
        let a = s.add(bag(&["x", "y"]))?;
        let b = s.add(bag(&[]))?;
        s.commit().await?;
        let items = s.related(a, Bag::MARBLES).await?;
        s.remove(a, Bag::MARBLES, items[0]).await?;
        s.append(b, Bag::MARBLES, items[0]).await?;
        s.commit().await?;
        assert_eq!(
            t.ints("SELECT bag_id FROM marbles ORDER BY id").await,
            vec![Some(2), Some(1)]
        );
        assert_eq!(s.related(b, Bag::MARBLES).await?, vec![items[0]]);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Appending to another parent's one-to-many moves the child (without a `remove` first).
    #[tokio::test]
    async fn append_elsewhere_moves_without_orphaning() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Bag::META, Marble::META]).await;
        let mut s = t.db.session();
        let a = s.add(bag(&["x"]))?;
        let b = s.add(bag(&[]))?;
        s.commit().await?;
        let x = s.related(a, Bag::MARBLES).await?[0];
        s.append(b, Bag::MARBLES, x).await?;
        s.flush().await?;
        assert_eq!(
            s.related(a, Bag::MARBLES).await?,
            vec![],
            "D5: left the old parent"
        );
        let b_id = s.read(b).await?.id;
        assert_eq!(s.read(x).await?.bag_id, b_id);
        s.commit().await?;
        assert_eq!(t.count("marbles").await, 1);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A not-yet-inserted object that becomes an orphan is dropped from the session: no INSERT.
    #[tokio::test]
    async fn pending_orphan_is_never_inserted() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Bag::META, Marble::META]).await;
        let mut s = t.db.session();
        let o = s.add(bag(&["kept", "dropped"]))?;
        let items = s.related(o, Bag::MARBLES).await?;
        assert_eq!(items.len(), 2);
        assert_eq!(s.state(items[1]), ObjectState::Pending);
        s.remove(o, Bag::MARBLES, items[1]).await?;
        let preview = s.preview().await?;
        assert_eq!(preview.table("marbles").inserted, 1, "{preview}");
        s.commit().await?;
        assert_eq!(s.state(items[1]), ObjectState::Detached);
        assert_eq!(
            t.rows("SELECT label FROM marbles").await,
            vec![vec![orm_core::Value::from("kept")]]
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Re-attaching an object that a flush already deleted is an error at the moment of attaching.
    #[tokio::test]
    async fn reattaching_a_flushed_deleted_object_is_an_error() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Bag::META, Marble::META]).await;
        let mut s = t.db.session();
        let a = s.add(bag(&["x"]))?;
        let b = s.add(bag(&[]))?;
        s.commit().await?;
        let x = s.related(a, Bag::MARBLES).await?[0];
        s.remove(a, Bag::MARBLES, x).await?;
        s.flush().await?;
        assert_eq!(s.state(x), ObjectState::Deleted);
        match s.append(b, Bag::MARBLES, x).await {
            Err(Error::AttachDeleted { model, field, .. }) => {
                assert_eq!((model, field), ("Marble", "marbles"))
            }
            other => panic!("expected AttachDeleted, got {other:?}"),
        }
        // The session is still usable and the delete still commits.
        s.commit().await?;
        assert_eq!(t.count("marbles").await, 0);
        assert_eq!(t.count("bags").await, 2);
        Ok(())
    }
}

// single_parent = true on a one-to-many's partner side is implied; on a many-to-one with
// delete-orphan it is required. Here: a many-to-one `Badge -> Holder` with single_parent.

#[derive(Model, Debug)]
#[model(table = "licenses")]
pub struct License {
    #[column(primary_key)]
    pub id: Option<i64>,
}

#[derive(Model, Debug)]
#[model(table = "drivers")]
pub struct Driver {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "licenses.id")]
    pub license_id: Option<i64>,
    #[relationship(cascade = "save-update, delete-orphan", single_parent = true)]
    pub license: BelongsTo<License>,
}

orm_tests::backend_test! {
    /// `single_parent`: attaching an object that already has a parent to a second one fails at the
    /// moment of attaching, naming both models and the field; nothing is written.
    #[tokio::test]
    async fn single_parent_in_memory_fails_at_attach() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Driver::META, License::META]).await;
        let mut s = t.db.session();
        let license = s.add(License { id: None })?;
        let d1 = s.add(Driver {
            id: None,
            license_id: None,
            license: BelongsTo::new(),
        })?;
        let d2 = s.add(Driver {
            id: None,
            license_id: None,
            license: BelongsTo::new(),
        })?;
        s.set(d1, Driver::LICENSE, Some(license)).await?;
        let err = s
            .set(d2, Driver::LICENSE, Some(license))
            .await
            .expect_err("a license has one driver");
        match &err {
            Error::SingleParent {
                parent,
                field,
                child,
                ..
            } => assert_eq!((*parent, *field, *child), ("Driver", "license", "License")),
            other => panic!("expected SingleParent, got {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("Driver::license") && message.contains("License"),
            "{message}"
        );
        s.commit().await?;
        assert_eq!(
            t.ints("SELECT license_id FROM drivers ORDER BY id").await,
            vec![Some(1), None]
        );
        Ok(())
    }
}
