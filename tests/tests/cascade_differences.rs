//! docs/dev/semantics.md §9: where we deliberately differ from SQLAlchemy, one or more tests per rule that
//! is observable at run time (D1 is a compile error, tested by the compile-fail suite; D3 is
//! tested in seeds.rs with a pooled file database; D11 previews are also asserted in seeds.rs and
//! cascade_o2m.rs).

use orm_core::prelude::*;
use orm_tests::fixtures::new_objects;

#[derive(Model, Debug)]
#[model(table = "parents")]
pub struct Parent {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(unique)]
    pub name: String,
    #[relationship(back_populates = "parent", cascade = "all, delete-orphan")]
    pub children: HasMany<Child>,
    #[relationship(back_populates = "parent")]
    pub pets: HasMany<Pet>,
    #[relationship(back_populates = "parent")]
    pub notes: HasMany<Note>,
}

#[derive(Model, Debug)]
#[model(table = "children")]
pub struct Child {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "parents.id")]
    pub parent_id: Option<i64>,
    #[relationship(back_populates = "children")]
    pub parent: BelongsTo<Parent>,
    #[relationship(back_populates = "child", cascade = "all, delete-orphan")]
    pub toys: HasMany<Toy>,
}

#[derive(Model, Debug, Default)]
#[model(table = "toys")]
pub struct Toy {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "children.id")]
    pub child_id: Option<i64>,
    #[relationship(back_populates = "toys")]
    pub child: BelongsTo<Child>,
}

/// The database nulls the key itself (`on_delete = "set null"`).
#[derive(Model, Debug)]
#[model(table = "pets")]
pub struct Pet {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "parents.id", on_delete = "set null")]
    pub parent_id: Option<i64>,
    #[relationship(back_populates = "pets")]
    pub parent: BelongsTo<Parent>,
}

/// A NOT NULL key without `delete` (D6).
#[derive(Model, Debug)]
#[model(table = "notes")]
pub struct Note {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "parents.id")]
    pub parent_id: i64,
    #[relationship(back_populates = "notes")]
    pub parent: BelongsTo<Parent>,
}

fn models() -> [&'static orm_core::meta::ModelMeta; 5] {
    [Parent::META, Child::META, Toy::META, Pet::META, Note::META]
}

fn parent(name: &str, children: usize, toys: usize) -> Parent {
    Parent {
        id: None,
        name: name.into(),
        children: (0..children)
            .map(|_| Child {
                id: None,
                parent_id: None,
                parent: BelongsTo::new(),
                toys: new_objects(toys),
            })
            .collect(),
        pets: HasMany::new(),
        notes: HasMany::new(),
    }
}

orm_tests::backend_test! {
    /// D2: `on_delete = "set null"` without an ORM `delete`: the ORM does not null the pets itself;
    /// the database does, and the loaded pets are reconciled (key None, out of the collection).
    #[tokio::test]
    async fn d2_database_set_null_is_honoured_and_reconciled() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        let p = s.add(parent("p", 0, 0))?;
        s.commit().await?;
        t.exec("INSERT INTO pets (parent_id) VALUES (1), (1)").await;
        let pets = s.related(p, Parent::PETS).await?;
        assert_eq!(pets.len(), 2);
        s.delete(p)?;
        s.flush().await?;
        for pet in &pets {
            assert_eq!(s.read(*pet).await?.parent_id, None);
            assert_eq!(s.related(*pet, Pet::PARENT).await?, None);
        }
        s.commit().await?;
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM pets WHERE parent_id IS NULL")
                .await,
            2
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// D4: a bulk delete applies the cascades set-based (children and grandchildren), nulls the
    /// default-cascade children, and never leaves orphans.
    #[tokio::test]
    async fn d4_bulk_delete_honours_cascades() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        for name in ["a", "b", "c"] {
            s.add(parent(name, 2, 2))?;
        }
        s.commit().await?;
        t.exec("INSERT INTO pets (parent_id) VALUES (1), (2), (3)")
            .await;
        let n = s
            .query::<Parent>()
            .filter(Parent::NAME.is_in(["a", "b"]))
            .delete()
            .await?;
        assert_eq!(n, 2);
        s.commit().await?;
        assert_eq!(t.count("parents").await, 1);
        assert_eq!(t.count("children").await, 2);
        assert_eq!(t.count("toys").await, 4);
        assert_eq!(t.count("pets").await, 3);
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// D4 / D6: a bulk delete that would have to null a NOT NULL key refuses before any write.
    #[tokio::test]
    async fn d4_bulk_delete_refuses_before_writing() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        s.add(parent("a", 1, 1))?;
        s.commit().await?;
        t.exec("INSERT INTO notes (parent_id) VALUES (1)").await;
        let err = s
            .query::<Parent>()
            .delete()
            .await
            .expect_err("notes.parent_id is NOT NULL");
        assert!(matches!(err, Error::WouldNullRequiredKey { .. }), "{err:?}");
        s.rollback().await?;
        assert_eq!(t.count("parents").await, 1);
        assert_eq!(t.count("children").await, 1);
        assert_eq!(t.count("toys").await, 1);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// D5: after a flush, a deleted child is not in its parent's loaded collection, and a nulled
    /// child is no longer in its old parent's collection.
    #[tokio::test]
    async fn d5_no_stale_collections_after_flush() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        let p = s.add(parent("p", 3, 0))?;
        s.commit().await?;
        let children = s.related(p, Parent::CHILDREN).await?;
        s.delete(children[0])?;
        s.flush().await?;
        assert_eq!(
            s.related(p, Parent::CHILDREN).await?,
            children[1..].to_vec()
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// D6: deleting a parent whose NOT NULL key would have to be nulled fails before any statement
    /// runs (loaded children), naming the relationship and suggesting the fixes.
    #[tokio::test]
    async fn d6_clear_error_before_sql() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        let p = s.add(parent("p", 0, 0))?;
        s.commit().await?;
        t.exec("INSERT INTO notes (parent_id) VALUES (1)").await;
        let notes = s.related(p, Parent::NOTES).await?;
        assert_eq!(notes.len(), 1);
        s.delete(p)?;
        let before = t.statements();
        let err = s.flush().await.expect_err("cannot null notes.parent_id");
        assert_eq!(t.statements(), before, "no statement ran");
        let message = err.to_string();
        for part in [
            "Parent::notes",
            "parent_id",
            "cascade = \"all, delete-orphan\"",
            "on_delete = \"cascade\"",
        ] {
            assert!(message.contains(part), "{message:?} lacks {part:?}");
        }
        Ok(())
    }
}

orm_tests::backend_test! {
    /// D7: cascades are decided at flush from the current state: a child moved away from a deleted
    /// parent before the flush survives, also across commit.
    #[tokio::test]
    async fn d7_child_moved_before_flush_survives() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        let doomed = s.add(parent("doomed", 2, 1))?;
        let other = s.add(parent("other", 0, 0))?;
        s.commit().await?;
        let children = s.related(doomed, Parent::CHILDREN).await?;
        s.delete(doomed)?;
        s.append(other, Parent::CHILDREN, children[0]).await?;
        s.commit().await?;
        assert_eq!(t.count("parents").await, 1);
        assert_eq!(
            t.ints("SELECT parent_id FROM children").await,
            vec![Some(2)],
            "the moved child survives, with its toy"
        );
        assert_eq!(t.count("toys").await, 1);
        t.assert_consistent().await;
        Ok(())
    }
}

/// D8: `single_parent` also sees links loaded from the database. (Many-to-one and many-to-many
/// cases: seeds.rs `docs_preference_cannot_be_shared`, cascade_m2m.rs `single_parent_many_to_many`.)
#[derive(Model, Debug)]
#[model(table = "keys")]
pub struct Key {
    #[column(primary_key)]
    pub id: Option<i64>,
}

#[derive(Model, Debug)]
#[model(table = "locks")]
pub struct Lock {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "keys.id")]
    pub key_id: Option<i64>,
    #[relationship(cascade = "all, delete-orphan", single_parent = true)]
    pub key: BelongsTo<Key>,
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn d8_single_parent_sees_stored_links() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Lock::META, Key::META]).await;
        t.exec("INSERT INTO keys (id) VALUES (1)").await;
        t.exec("INSERT INTO locks (key_id) VALUES (1), (NULL)")
            .await;
        let mut s = t.db.session();
        // Only the second lock and the key are loaded; the first link exists only in the database.
        let lock = s.get::<Lock>(2).await?.expect("stored");
        let key = s.get::<Key>(1).await?.expect("stored");
        match s.set(lock, Lock::KEY, Some(key)).await {
            Err(Error::SingleParent { parent, field, .. }) => {
                assert_eq!((parent, field), ("Lock", "key"))
            }
            other => panic!("expected SingleParent, got {other:?}"),
        }
        s.commit().await?;
        assert_eq!(
            t.ints("SELECT key_id FROM locks ORDER BY id").await,
            vec![Some(1), None]
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// D9: deleting a parent with 1,000 children and 10,000 grandchildren, none loaded, costs a small
    /// number of statements, the same as for a parent with 1 child and 1 grandchild.
    #[tokio::test]
    async fn d9_set_based_statement_count() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        t.exec("INSERT INTO parents (id, name) VALUES (1, 'big'), (2, 'small'), (3, 'kept')")
            .await;
        t.exec(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) \
             INSERT INTO children (id, parent_id) SELECT i, 1 FROM n",
        )
        .await;
        t.exec(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) \
             INSERT INTO toys (child_id) SELECT 1 + (i - 1) / 10 FROM n",
        )
        .await;
        t.exec("INSERT INTO children (id, parent_id) VALUES (1001, 2), (1002, 3)")
            .await;
        t.exec("INSERT INTO toys (child_id) VALUES (1001), (1002)")
            .await;
        assert_eq!(t.count("toys").await, 10_002);

        let mut costs = Vec::new();
        for key in [1_i64, 2] {
            let mut s = t.db.session();
            let p = s.get::<Parent>(key).await?.expect("stored");
            let before = t.statements();
            s.delete(p)?;
            s.commit().await?;
            costs.push(t.statements() - before);
        }
        assert_eq!(costs[0], costs[1], "independent of the row counts");
        assert!(costs[0] <= 8, "a handful of statements, got {}", costs[0]);
        assert_eq!(t.count("parents").await, 1);
        assert_eq!(t.ints("SELECT id FROM children").await, vec![Some(1002)]);
        assert_eq!(t.count("toys").await, 1);
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// D10: replacing a row that shares a unique key with a new one in the same flush works (the
    /// delete runs before the insert).
    #[tokio::test]
    async fn d10_replace_row_with_same_unique_key() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        let old = s.add(parent("same", 1, 0))?;
        s.commit().await?;
        s.delete(old)?;
        s.add(parent("same", 2, 0))?;
        s.commit().await?;
        assert_eq!(s.state(old), ObjectState::Detached);
        assert_eq!(t.count("parents").await, 1);
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM children JOIN parents ON parents.id = children.parent_id WHERE parents.name = 'same'")
                .await,
            2,
            "the new row and its children replaced the old ones"
        );
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// D11: the plan of a delete can be inspected without running it: statements, per-table counts,
    /// a readable `Display`; nothing is written.
    #[tokio::test]
    async fn d11_preview_without_running() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        let p = s.add(parent("p", 2, 3))?;
        s.commit().await?;
        let preview = s.preview_delete(p).await?;
        assert_eq!(preview.table("toys").deleted, 6);
        assert_eq!(preview.table("children").deleted, 2);
        assert_eq!(preview.table("parents").deleted, 1);
        // Besides the deletes, only the read that guards the NOT NULL `notes.parent_id` (D6).
        assert!(preview
            .statements
            .iter()
            .all(|st| st.sql.starts_with("DELETE") || st.action == "check"));
        let text = preview.to_string();
        assert!(text.contains("deleting Parent 1"), "{text}");
        assert!(text.contains("6 rows of toys"), "{text}");
        assert_eq!(
            s.state(p),
            ObjectState::Persistent,
            "not marked for deletion"
        );
        s.commit().await?;
        assert_eq!(t.count("toys").await, 6);
        assert_eq!(t.count("parents").await, 1);

        // The preview of a pending flush.
        s.add(parent("q", 1, 0))?;
        let pending = s.preview().await?;
        assert_eq!(pending.table("parents").inserted, 1);
        assert_eq!(pending.table("children").inserted, 1);
        s.rollback().await?;
        assert_eq!(t.count("parents").await, 1);
        Ok(())
    }
}
