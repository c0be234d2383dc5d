//! docs/dev/semantics.md §6 (saving), §7 (order of statements, mutual foreign keys, one transaction), §8
//! (session state around flush, commit and rollback), and the non-delete tokens of §1.

use orm_core::prelude::*;
use orm_core::ConstraintKind;
use orm_tests::fixtures::new_objects;

#[derive(Model, Debug)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(unique)]
    pub name: String,
    #[relationship(back_populates = "user", cascade = "all, delete-orphan")]
    pub addresses: HasMany<Address>,
}

#[derive(Model, Debug)]
#[model(table = "addresses")]
pub struct Address {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub email: String,
    #[column(foreign_key = "users.id")]
    pub user_id: Option<i64>,
    #[relationship(back_populates = "addresses")]
    pub user: BelongsTo<User>,
    #[relationship(back_populates = "address", cascade = "all, delete-orphan")]
    pub visits: HasMany<Visit>,
}

#[derive(Model, Debug, Default)]
#[model(table = "visits")]
pub struct Visit {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "addresses.id")]
    pub address_id: Option<i64>,
    #[relationship(back_populates = "visits")]
    pub address: BelongsTo<Address>,
}

fn address(email: &str, visits: usize) -> Address {
    Address {
        id: None,
        email: email.into(),
        user_id: None,
        user: BelongsTo::new(),
        visits: new_objects(visits),
    }
}

fn user(name: &str, addresses: Vec<Address>) -> User {
    User {
        id: None,
        name: name.into(),
        addresses: addresses.into_iter().collect(),
    }
}

fn models() -> [&'static orm_core::meta::ModelMeta; 3] {
    [User::META, Address::META, Visit::META]
}

orm_tests::backend_test! {
    /// §6 / §8: adding a parent adds its new children and grandchildren (save-update, recursively);
    /// inserts go parent-first and each generated key is copied into the children's key, in the
    /// database and in the objects.
    #[tokio::test]
    async fn adding_a_parent_saves_the_graph_parent_first() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        let u = s.add(user("ann", vec![address("a@x", 2), address("b@x", 1)]))?;
        let preview = s.preview().await?;
        let tables: Vec<&str> = preview.statements.iter().map(|st| st.table).collect();
        assert_eq!(tables, ["users", "addresses", "visits"], "{preview}");
        assert_eq!(preview.table("visits").inserted, 3);

        s.flush().await?;
        let uid = s.read(u).await?.id;
        assert!(uid.is_some());
        let addresses = s.related(u, User::ADDRESSES).await?;
        assert_eq!(addresses.len(), 2);
        for a in &addresses {
            assert_eq!(s.read(*a).await?.user_id, uid, "flush wrote the key back");
            for v in s.related(*a, Address::VISITS).await? {
                let aid = s.read(*a).await?.id;
                assert_eq!(s.read(v).await?.address_id, aid);
            }
        }
        s.commit().await?;
        assert_eq!(t.count("visits").await, 3);
        t.assert_consistent().await;
        Ok(())
    }
}

/// How many pairs of rows of `table` are numbered against the order of `column`.
async fn numbered_against(t: &orm_tests::harness::Fresh, table: &str, column: &str) -> i64 {
    t.scalar(&format!(
        "SELECT COUNT(*) FROM {table} r1 JOIN {table} r2 \
         ON r1.{column} < r2.{column} AND r1.id > r2.id"
    ))
    .await
}

orm_tests::backend_test! {
    /// §6: new objects are inserted, and their keys generated, in the order they were built:
    /// parents before children, each collection in its order. So a child's rows follow its
    /// parent's key order and the database appends to the foreign-key index.
    #[tokio::test]
    async fn new_objects_are_numbered_in_the_order_they_were_built() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        s.add(user("ann", vec![address("a@x", 3), address("b@x", 3), address("c@x", 3)]))?;
        s.commit().await?;
        let addresses = numbered_against(&t, "addresses", "email").await;
        assert_eq!(addresses, 0, "addresses numbered in collection order");
        let visits = numbered_against(&t, "visits", "address_id").await;
        assert_eq!(visits, 0, "visits numbered in their addresses' order");
        Ok(())
    }
}

orm_tests::backend_test! {
    /// §6: appending a new child to a persistent parent's collection inserts it with the parent's key
    /// (built in memory with `push`, or added and appended).
    #[tokio::test]
    async fn appending_new_children_to_a_stored_parent() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        let u = s.add(user("ann", vec![]))?;
        s.commit().await?;

        s.write(u).await?.addresses.push(address("pushed@x", 1));
        let added = s.add(address("added@x", 0))?;
        s.append(u, User::ADDRESSES, added).await?;
        s.commit().await?;
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM addresses WHERE user_id = 1")
                .await,
            2
        );
        assert_eq!(t.count("visits").await, 1);
        t.assert_consistent().await;
        Ok(())
    }
}

/// §1: a relationship without `save-update` holding a new object is an error naming the field.
#[derive(Model, Debug)]
#[model(table = "boxes")]
pub struct Crate {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "container", cascade = "none")]
    pub items: HasMany<Thing>,
}

#[derive(Model, Debug)]
#[model(table = "things")]
pub struct Thing {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "boxes.id")]
    pub box_id: Option<i64>,
    #[relationship(back_populates = "items")]
    pub container: BelongsTo<Crate>,
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn no_save_update_rejects_new_members() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Crate::META, Thing::META]).await;
        let mut s = t.db.session();
        let err = s
            .add(Crate {
                id: None,
                items: HasMany::from([Thing {
                    id: None,
                    box_id: None,
                    container: BelongsTo::new(),
                }]),
            })
            .expect_err("cascade = \"none\" does not save the new thing");
        match err {
            Error::Config { model, field, .. } => assert_eq!((model, field), ("Crate", "items")),
            other => panic!("expected Config, got {other:?}"),
        }
        Ok(())
    }
}

orm_tests::backend_test! {
    /// §1 expunge / refresh-expire: `all` includes them (the default cascade does not).
    #[tokio::test]
    async fn expunge_and_expire_cascade_through_all() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        s.set_expire_on_commit(false);
        let u = s.add(user("ann", vec![address("a@x", 1)]))?;
        s.commit().await?;
        let a = s.related(u, User::ADDRESSES).await?[0];

        // refresh-expire: a change behind the session's back shows once the parent is expired.
        t.exec("UPDATE addresses SET email = 'new@x'").await;
        assert_eq!(s.read(a).await?.email, "a@x");
        s.expire(u)?;
        assert_eq!(s.read(a).await?.email, "new@x");

        let a = s.related(u, User::ADDRESSES).await?[0];
        let v = s.related(a, Address::VISITS).await?[0];
        s.expunge(u)?;
        assert_eq!(s.state(u), ObjectState::Detached);
        assert_eq!(s.state(a), ObjectState::Detached);
        assert_eq!(s.state(v), ObjectState::Detached);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// §1 merge: merging a detached parent also merges the new objects its relationship holds.
    #[tokio::test]
    async fn merge_cascades_to_new_children() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        s.add(user("ann", vec![]))?;
        s.commit().await?;

        let mut s = t.db.session();
        let detached = User {
            id: Some(1),
            name: "ann b.".into(),
            addresses: HasMany::from([address("merged@x", 0)]),
        };
        let u = s.merge(detached).await?;
        s.commit().await?;
        assert_eq!(s.read(u).await?.name, "ann b.");
        assert_eq!(
            t.rows("SELECT email, user_id FROM addresses").await,
            vec![vec![
                orm_core::Value::from("merged@x"),
                orm_core::Value::Integer(1)
            ]]
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// §7: deletes run referencing rows first (visits, addresses, users) in one flush.
    #[tokio::test]
    async fn deletes_run_referencing_rows_first() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        let u = s.add(user("ann", vec![address("a@x", 2)]))?;
        s.commit().await?;
        let preview = s.preview_delete(u).await?;
        let tables: Vec<&str> = preview.statements.iter().map(|st| st.table).collect();
        assert_eq!(tables, ["visits", "addresses", "users"], "{preview}");
        s.delete(u)?;
        s.commit().await?;
        assert_eq!(t.count("visits").await, 0);
        assert_eq!(t.count("users").await, 0);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// §7: a flush runs in one transaction; if a statement fails nothing of it is applied, and the
    /// session stays consistent and usable.
    #[tokio::test]
    async fn a_failed_flush_applies_nothing() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        let old = s.add(user("old", vec![address("o@x", 1)]))?;
        s.add(user("taken", vec![]))?;
        s.commit().await?;

        s.delete(old)?;
        let dup = s.add(user("taken", vec![address("d@x", 0)]))?;
        match s.flush().await {
            Err(Error::Constraint { kind, .. }) => assert_eq!(kind, ConstraintKind::Unique),
            other => panic!("expected a unique violation, got {other:?}"),
        }
        assert_eq!(s.state(old), ObjectState::Persistent);
        assert_eq!(s.state(dup), ObjectState::Pending);
        assert_eq!(s.read(dup).await?.id, None);

        s.write(dup).await?.name = "fresh".into();
        s.commit().await?;
        assert_eq!(
            t.rows("SELECT name FROM users ORDER BY name").await,
            vec![
                vec![orm_core::Value::from("fresh")],
                vec![orm_core::Value::from("taken")]
            ]
        );
        assert_eq!(t.count("visits").await, 0);
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// §8: commit expires what the session holds: the next access of a relationship reloads it.
    #[tokio::test]
    async fn commit_expires_relationships() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        let u = s.add(user("ann", vec![address("a@x", 0)]))?;
        s.commit().await?;
        assert_eq!(s.related(u, User::ADDRESSES).await?.len(), 1);
        t.exec("INSERT INTO addresses (email, user_id) VALUES ('other@x', 1)")
            .await;
        s.commit().await?;
        assert_eq!(s.related(u, User::ADDRESSES).await?.len(), 2, "reloaded");
        Ok(())
    }
}

orm_tests::backend_test! {
    /// §8: rollback: objects deleted in the transaction become persistent again, objects added in it
    /// become transient, everything is expired; no data is lost.
    #[tokio::test]
    async fn rollback_restores_the_session() -> Result<()> {
        let t = orm_tests::harness::fresh(&models()).await;
        let mut s = t.db.session();
        let u = s.add(user("ann", vec![address("a@x", 1)]))?;
        s.commit().await?;
        let a = s.related(u, User::ADDRESSES).await?[0];

        s.delete(u)?;
        let added = s.add(user("bob", vec![]))?;
        s.flush().await?;
        assert_eq!(s.state(u), ObjectState::Deleted);
        assert_eq!(s.state(a), ObjectState::Deleted);
        assert_eq!(s.state(added), ObjectState::Persistent);
        s.rollback().await?;

        assert_eq!(s.state(u), ObjectState::Persistent);
        assert_eq!(s.state(a), ObjectState::Persistent);
        assert_eq!(s.state(added), ObjectState::Detached);
        assert_eq!(s.read(u).await?.name, "ann");
        assert_eq!(s.related(u, User::ADDRESSES).await?, vec![a]);
        assert_eq!(t.count("users").await, 1);
        assert_eq!(t.count("visits").await, 1);
        Ok(())
    }
}

// §7: rows that reference each other (mutual foreign keys, SQLAlchemy's post_update).

#[derive(Model, Debug)]
#[model(table = "departments")]
pub struct Department {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "employees.id")]
    pub manager_id: Option<i64>,
}

#[derive(Model, Debug)]
#[model(table = "employees")]
pub struct Employee {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "departments.id")]
    pub department_id: Option<i64>,
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn mutual_foreign_keys_are_deleted_together() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Department::META, Employee::META]).await;
        t.exec("INSERT INTO departments (id) VALUES (1)").await;
        t.exec("INSERT INTO employees (id, department_id) VALUES (1, 1)")
            .await;
        t.exec("UPDATE departments SET manager_id = 1").await;
        t.assert_consistent().await;

        let mut s = t.db.session();
        let d = s.get::<Department>(1).await?.expect("stored");
        let e = s.get::<Employee>(1).await?.expect("stored");
        s.delete(d)?;
        s.delete(e)?;
        s.commit().await?;
        assert_eq!(t.count("departments").await, 0);
        assert_eq!(t.count("employees").await, 0);
        Ok(())
    }
}

/// Mutual foreign keys where deleting one row cascades to the other: one key is nulled first.
#[derive(Model, Debug)]
#[model(table = "teams")]
pub struct Team {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "members.id")]
    pub captain_id: Option<i64>,
    #[relationship(back_populates = "team", cascade = "all, delete-orphan")]
    pub members: HasMany<Member>,
}

#[derive(Model, Debug)]
#[model(table = "members")]
pub struct Member {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "teams.id")]
    pub team_id: Option<i64>,
    #[relationship(back_populates = "members")]
    pub team: BelongsTo<Team>,
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn mutual_foreign_keys_through_a_cascade() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Team::META, Member::META]).await;
        t.exec("INSERT INTO teams (id) VALUES (1), (2)").await;
        t.exec("INSERT INTO members (id, team_id) VALUES (1, 1), (2, 1), (3, 2)")
            .await;
        t.exec("UPDATE teams SET captain_id = CASE id WHEN 1 THEN 1 ELSE 3 END")
            .await;
        t.assert_consistent().await;

        let mut s = t.db.session();
        let team = s.get::<Team>(1).await?.expect("stored");
        s.delete(team)?;
        s.commit().await?;
        assert_eq!(t.ints("SELECT id FROM teams").await, vec![Some(2)]);
        assert_eq!(t.ints("SELECT id FROM members").await, vec![Some(3)]);
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Tables that reference each other are created (the later foreign key added once both
    /// exist, where the database needs that), dropped, and created again, each call in one
    /// transaction; the foreign keys are enforced both ways.
    #[tokio::test]
    async fn tables_that_reference_each_other_are_created_and_dropped_again() -> Result<()> {
        let models = [Department::META, Employee::META];
        let t = orm_tests::harness::fresh(&models).await;
        t.db.create_all(&models).await?; // again: nothing to do, no error
        t.db.drop_all(&models).await?;
        t.db.create_all(&models).await?;
        t.exec("INSERT INTO departments (id) VALUES (1)").await;
        t.exec("INSERT INTO employees (id, department_id) VALUES (1, 1)")
            .await;
        for dangling in [
            "UPDATE departments SET manager_id = 99",
            "UPDATE employees SET department_id = 99",
        ] {
            let err = t
                .db
                .execute_raw(dangling, &[])
                .await
                .expect_err("no row 99");
            assert!(err.is_foreign_key_violation(), "{dangling}: {err:?}");
        }
        t.db.drop_all(&models).await?;
        let mut s = t.db.session();
        assert!(matches!(
            s.query::<Employee>().count().await,
            Err(Error::MissingTable { .. })
        ));
        Ok(())
    }
}
