//! SEMANTICS.md §3: deleting a child of a many-to-one (the foreign key is on this side).
//!
//! `delete` on a many-to-one (allowed with `single_parent = true`, D1) and replacing a
//! `delete-orphan` reference by a new object fail on the engine today (see the cascade tests'
//! report); they are not committed.

mod cascade_support;

use orm_core::prelude::*;

// Without a cascade on the many-to-one.

#[derive(Model, Debug)]
#[model(table = "authors")]
pub struct Author {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "author")]
    pub books: HasMany<Book>,
}

#[derive(Model, Debug)]
#[model(table = "books")]
pub struct Book {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "authors.id")]
    pub author_id: Option<i64>,
    #[relationship(back_populates = "books")]
    pub author: BelongsTo<Author>,
}

/// Without a cascade: deleting the child does nothing to the referenced parent, which need not
/// even be loaded.
#[tokio::test]
async fn without_cascade_the_parent_is_untouched() -> Result<()> {
    let t = cascade_support::memory(&[Author::META, Book::META]).await;
    let mut s = t.db.session();
    s.add(Author {
        id: None,
        books: (0..2)
            .map(|_| Book {
                id: None,
                author_id: None,
                author: BelongsTo::new(),
            })
            .collect(),
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

#[tokio::test]
async fn setting_a_delete_orphan_reference_to_none_deletes_it() -> Result<()> {
    let t = cascade_support::memory(&[Member::META, Avatar::META]).await;
    let mut s = t.db.session();
    let m = s.add(Member {
        id: None,
        avatar_id: None,
        avatar: BelongsTo::to(avatar("a.png")),
    })?;
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

/// Replacing the reference by an object already stored: the old one is deleted, this row's key
/// updated first.
#[tokio::test]
async fn replacing_by_a_stored_object_deletes_the_old_one() -> Result<()> {
    let t = cascade_support::memory(&[Member::META, Avatar::META]).await;
    let mut s = t.db.session();
    let m = s.add(Member {
        id: None,
        avatar_id: None,
        avatar: BelongsTo::to(avatar("old.png")),
    })?;
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
