//! docs/dev/semantics.md §3: deleting a child of a many-to-one (the foreign key is on this side), with
//! `delete` on the many-to-one (allowed with `single_parent = true`, D1) and with `delete-orphan`.

use orm_core::prelude::*;
use orm_tests::fixtures::new_objects;

// Without a cascade on the many-to-one.

#[derive(Model, Debug)]
#[model(table = "authors")]
pub struct Author {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "author")]
    pub books: HasMany<Book>,
}

#[derive(Model, Debug, Default)]
#[model(table = "books")]
pub struct Book {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "authors.id")]
    pub author_id: Option<i64>,
    #[relationship(back_populates = "books")]
    pub author: BelongsTo<Author>,
}

orm_tests::backend_test! {
    /// Without a cascade: deleting the child does nothing to the referenced parent, which need not
    /// even be loaded.
    #[tokio::test]
    async fn without_cascade_the_parent_is_untouched() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Author::META, Book::META]).await;
        let mut s = t.db.session();
        s.add(Author {
            id: None,
            books: new_objects(2),
        })?;
        s.commit().await?;

        let mut s = t.db.session();
        let book = s.get::<Book>(1).await?.expect("stored");
        let preview = s.preview_delete(book).await?;
        assert!(
            preview.statements.iter().all(|st| st.table == "books"),
            "{preview}"
        );
        s.delete(book)?;
        s.commit().await?;
        assert_eq!(t.count("authors").await, 1);
        assert_eq!(t.count("books").await, 1);
        Ok(())
    }
}

// `delete` on a many-to-one (allowed with `single_parent = true`, D1): the referenced parent is
// deleted too, with its own cascades; its other children are handled by its one-to-many.

#[derive(Model, Debug)]
#[model(table = "accounts")]
pub struct Account {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "account")]
    pub profiles: HasMany<Profile>,
    #[relationship(back_populates = "account", cascade = "all, delete-orphan")]
    pub settings: HasMany<Setting>,
}

#[derive(Model, Debug)]
#[model(table = "profiles")]
pub struct Profile {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    #[column(foreign_key = "accounts.id")]
    pub account_id: Option<i64>,
    #[relationship(back_populates = "profiles", cascade = "all", single_parent = true)]
    pub account: BelongsTo<Account>,
}

#[derive(Model, Debug, Default)]
#[model(table = "settings")]
pub struct Setting {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "accounts.id")]
    pub account_id: Option<i64>,
    #[relationship(back_populates = "settings")]
    pub account: BelongsTo<Account>,
}

fn account_with_settings(n: usize) -> Account {
    Account {
        id: None,
        profiles: HasMany::new(),
        settings: new_objects(n),
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn delete_on_many_to_one_deletes_the_parent_with_its_cascades() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Account::META, Profile::META, Setting::META]).await;
        let mut s = t.db.session();
        let profile = s.add(Profile {
            id: None,
            name: "main".into(),
            account_id: None,
            account: BelongsTo::to(account_with_settings(2)),
        })?;
        s.add(Profile {
            id: None,
            name: "unrelated".into(),
            account_id: None,
            account: BelongsTo::to(account_with_settings(1)),
        })?;
        s.commit().await?;
        // A second profile of account 1, written behind the ORM's back (single_parent is an ORM rule).
        t.exec("INSERT INTO profiles (name, account_id) VALUES ('other child', 1)")
            .await;

        s.delete(profile)?;
        s.commit().await?;
        assert_eq!(t.ints("SELECT id FROM accounts").await, vec![Some(2)]);
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM settings WHERE account_id = 1")
                .await,
            0,
            "the parent's own delete cascade ran"
        );
        assert_eq!(t.count("settings").await, 1);
        assert_eq!(
            t.rows("SELECT name, account_id FROM profiles ORDER BY id")
                .await,
            vec![
                vec![
                    orm_core::Value::from("unrelated"),
                    orm_core::Value::Integer(2)
                ],
                vec![orm_core::Value::from("other child"), orm_core::Value::Null],
            ],
            "the parent's other child was nulled by the parent's one-to-many"
        );
        t.assert_consistent().await;
        Ok(())
    }
}

// `delete-orphan` on a many-to-one (with `single_parent = true`): setting the reference to None
// or to another object deletes the old one at flush, after updating this row's key.

#[derive(Model, Debug)]
#[model(table = "avatars")]
pub struct Avatar {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub url: String,
}

#[derive(Model, Debug)]
#[model(table = "members")]
pub struct Member {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "avatars.id")]
    pub avatar_id: Option<i64>,
    #[relationship(cascade = "all, delete-orphan", single_parent = true)]
    pub avatar: BelongsTo<Avatar>,
}

fn avatar(url: &str) -> Avatar {
    Avatar {
        id: None,
        url: url.into(),
    }
}

/// A new member with a new avatar at `url`, or with none.
fn member(url: Option<&str>) -> Member {
    Member {
        id: None,
        avatar_id: None,
        avatar: url.map_or_else(BelongsTo::new, |url| BelongsTo::to(avatar(url))),
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn setting_a_delete_orphan_reference_to_none_deletes_it() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Member::META, Avatar::META]).await;
        let mut s = t.db.session();
        let m = s.add(member(Some("a.png")))?;
        s.commit().await?;
        s.set(m, Member::AVATAR, None).await?;
        s.commit().await?;
        assert_eq!(t.count("avatars").await, 0);
        assert_eq!(
            t.ints("SELECT avatar_id FROM members").await,
            vec![None],
            "this row's key was nulled before the delete"
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Replacing the reference by an object already stored: the old one is deleted, this row's key
    /// updated first.
    #[tokio::test]
    async fn replacing_by_a_stored_object_deletes_the_old_one() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Member::META, Avatar::META]).await;
        let mut s = t.db.session();
        let m = s.add(member(Some("old.png")))?;
        let spare = s.add(avatar("spare.png"))?;
        s.commit().await?;
        let old = s.related(m, Member::AVATAR).await?.expect("an avatar");
        s.set(m, Member::AVATAR, Some(spare)).await?;
        s.flush().await?;
        assert_eq!(s.state(old), ObjectState::Deleted);
        assert_eq!(s.state(spare), ObjectState::Persistent);
        let spare_id = s.read(spare).await?.id;
        assert_eq!(s.read(m).await?.avatar_id, spare_id);
        s.commit().await?;
        assert_eq!(
            t.rows("SELECT url FROM avatars").await,
            vec![vec![orm_core::Value::from("spare.png")]]
        );
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn replacing_a_delete_orphan_reference_deletes_the_old_object() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Member::META, Avatar::META]).await;
        let mut s = t.db.session();
        let m = s.add(member(Some("old.png")))?;
        s.commit().await?;
        let old = s.related(m, Member::AVATAR).await?.expect("an avatar");
        let new = s.add(avatar("new.png"))?;
        s.set(m, Member::AVATAR, Some(new)).await?;
        s.flush().await?;
        assert_eq!(s.state(old), ObjectState::Deleted);
        let new_id = s.read(new).await?.id;
        assert!(new_id.is_some());
        assert_eq!(s.read(m).await?.avatar_id, new_id);
        s.commit().await?;
        assert_eq!(
            t.rows("SELECT url FROM avatars").await,
            vec![vec![orm_core::Value::from("new.png")]]
        );
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// The reference moved to another owner before the flush: not an orphan, not deleted (§5).
    #[tokio::test]
    async fn delete_orphan_reference_moved_to_another_owner_survives() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Member::META, Avatar::META]).await;
        let mut s = t.db.session();
        let a = s.add(member(Some("shared.png")))?;
        let b = s.add(member(None))?;
        s.commit().await?;
        let pic = s.related(a, Member::AVATAR).await?;
        s.set(a, Member::AVATAR, None).await?;
        s.set(b, Member::AVATAR, pic).await?;
        s.commit().await?;
        assert_eq!(t.count("avatars").await, 1);
        assert_eq!(
            t.ints("SELECT avatar_id FROM members ORDER BY id").await,
            vec![None, Some(1)]
        );
        Ok(())
    }
}

/// A one-to-one through a unique foreign key (BelongsTo + HasOne): deleting the child side with
/// `delete` on its many-to-one deletes the one parent.
#[derive(Model, Debug)]
#[model(table = "carts")]
pub struct Cart {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "cart")]
    pub session: HasOne<WebSession>,
}

#[derive(Model, Debug)]
#[model(table = "web_sessions")]
pub struct WebSession {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "carts.id", unique)]
    pub cart_id: Option<i64>,
    #[relationship(back_populates = "session", cascade = "all", single_parent = true)]
    pub cart: BelongsTo<Cart>,
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn one_to_one_delete_from_the_key_side() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Cart::META, WebSession::META]).await;
        let mut s = t.db.session();
        let new = || WebSession {
            id: None,
            cart_id: None,
            cart: BelongsTo::to(Cart {
                id: None,
                session: HasOne::new(),
            }),
        };
        let ws = s.add(new())?;
        s.add(new())?;
        s.commit().await?;
        assert_eq!(t.count("carts").await, 2);
        s.delete(ws)?;
        s.commit().await?;
        assert_eq!(t.count("carts").await, 1);
        assert_eq!(t.count("web_sessions").await, 1);
        t.assert_consistent().await;
        Ok(())
    }
}
