//! docs/dev/semantics.md §2: deleting a parent of a one-to-many (the foreign key is on the children).

use orm_core::prelude::*;
use orm_core::ConstraintKind;
use orm_tests::fixtures::new_objects;

// A three-level tree: Blog -> Post -> Comment, each level with `all, delete-orphan`.

#[derive(Model, Debug)]
#[model(table = "blogs")]
pub struct Blog {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    #[relationship(back_populates = "blog", cascade = "all, delete-orphan")]
    pub posts: HasMany<Post>,
}

#[derive(Model, Debug)]
#[model(table = "posts")]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "blogs.id")]
    pub blog_id: Option<i64>,
    #[relationship(back_populates = "posts")]
    pub blog: BelongsTo<Blog>,
    #[relationship(back_populates = "post", cascade = "all, delete-orphan")]
    pub comments: HasMany<Comment>,
}

#[derive(Model, Debug, Default)]
#[model(table = "comments")]
pub struct Comment {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "posts.id")]
    pub post_id: Option<i64>,
    #[relationship(back_populates = "comments")]
    pub post: BelongsTo<Post>,
}

fn post(comments: usize) -> Post {
    Post {
        id: None,
        blog_id: None,
        blog: BelongsTo::new(),
        comments: new_objects(comments),
    }
}

fn blog(name: &str, posts: &[usize]) -> Blog {
    Blog {
        id: None,
        name: name.into(),
        posts: posts.iter().map(|&n| post(n)).collect(),
    }
}

// A parent whose one-to-many has the default cascade (no `delete`).

#[derive(Model, Debug)]
#[model(table = "teams")]
pub struct Team {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "team")]
    pub players: HasMany<Player>,
}

#[derive(Model, Debug)]
#[model(table = "players")]
pub struct Player {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    #[column(foreign_key = "teams.id")]
    pub team_id: Option<i64>,
    #[relationship(back_populates = "players")]
    pub team: BelongsTo<Team>,
}

fn team(players: &[&str]) -> Team {
    Team {
        id: None,
        players: players
            .iter()
            .map(|n| Player {
                id: None,
                name: (*n).into(),
                team_id: None,
                team: BelongsTo::new(),
            })
            .collect(),
    }
}

orm_tests::backend_test! {
    /// With `delete`: children and grandchildren (not loaded) are deleted, then the parent; other
    /// parents' rows are untouched.
    #[tokio::test]
    async fn delete_cascades_recursively_to_unloaded_rows() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Blog::META, Post::META, Comment::META]).await;
        let mut s = t.db.session();
        let doomed = s.add(blog("doomed", &[2, 3]))?;
        s.add(blog("kept", &[1]))?;
        s.commit().await?;

        let preview = s.preview_delete(doomed).await?;
        assert_eq!(preview.table("comments").deleted, 5);
        assert_eq!(preview.table("posts").deleted, 2);
        assert_eq!(preview.table("blogs").deleted, 1);
        let order: Vec<&str> = preview.statements.iter().map(|st| st.table).collect();
        let pos = |table| order.iter().position(|t| *t == table).expect("planned");
        assert!(
            pos("comments") < pos("posts") && pos("posts") < pos("blogs"),
            "children first: {preview}"
        );

        s.delete(doomed)?;
        s.commit().await?;
        assert_eq!(t.count("blogs").await, 1);
        assert_eq!(t.count("posts").await, 1);
        assert_eq!(t.count("comments").await, 1);
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// With `delete` and the children loaded: the loaded children are deleted (state `Deleted`).
    #[tokio::test]
    async fn delete_cascades_to_loaded_children() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Blog::META, Post::META, Comment::META]).await;
        let mut s = t.db.session();
        let b = s.add(blog("b", &[1, 1]))?;
        s.commit().await?;
        let posts = s.related(b, Blog::POSTS).await?;
        let comments = s.related(posts[0], Post::COMMENTS).await?;
        s.delete(b)?;
        s.flush().await?;
        for p in &posts {
            assert_eq!(s.state(*p), ObjectState::Deleted);
        }
        assert_eq!(s.state(comments[0]), ObjectState::Deleted);
        assert!(
            s.read(posts[0]).await.is_err(),
            "a deleted object is unavailable"
        );
        s.commit().await?;
        assert_eq!(t.count("comments").await, 0);
        assert_eq!(t.count("posts").await, 0);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Without `delete`: the children's foreign key is set to NULL before the parent is deleted,
    /// loaded children or not; they survive.
    #[tokio::test]
    async fn without_delete_children_are_nulled_and_survive() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Team::META, Player::META]).await;
        let mut s = t.db.session();
        let a = s.add(team(&["ann", "bob", "cid"]))?;
        s.add(team(&["dan"]))?;
        s.commit().await?;

        let loaded = s.related(a, Team::PLAYERS).await?;
        assert_eq!(loaded.len(), 3);
        s.expunge(loaded[2])?; // one child not in the session
        s.delete(a)?;
        s.commit().await?;
        assert_eq!(t.count("players").await, 4);
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM players WHERE team_id IS NULL")
                .await,
            3
        );
        assert_eq!(t.count("teams").await, 1);
        for p in &loaded[..2] {
            assert_eq!(s.read(*p).await?.team_id, None);
        }
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// §7 / D11: a preview of a delete that nulls children lists the nulling before the delete.
    #[tokio::test]
    async fn preview_of_a_nulling_delete() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Team::META, Player::META]).await;
        let mut s = t.db.session();
        let a = s.add(team(&["ann", "bob", "cid"]))?;
        s.commit().await?;
        let preview = s.preview_delete(a).await?;
        assert_eq!(preview.table("players").nulled, 3);
        let nulling = preview
            .statements
            .iter()
            .position(|st| st.action == "set null")
            .expect("a nulling");
        let delete = preview
            .statements
            .iter()
            .position(|st| st.action == "delete" && st.table == "teams")
            .expect("the delete");
        assert!(nulling < delete, "FK nulling before the delete: {preview}");
        assert!(preview
            .to_string()
            .contains("sets NULL on 3 rows of players"));
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Children removed from the collection before the parent is deleted: with `delete-orphan` they
    /// are deleted; without it their foreign key is set to NULL.
    #[tokio::test]
    async fn removed_children_before_parent_delete() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Blog::META, Post::META, Comment::META, Team::META]).await;
        let mut s = t.db.session();
        let b = s.add(blog("b", &[0, 0]))?;
        let tm = s.add(team(&["ann", "bob"]))?;
        s.commit().await?;

        let posts = s.related(b, Blog::POSTS).await?;
        s.remove(b, Blog::POSTS, posts[0]).await?;
        let players = s.related(tm, Team::PLAYERS).await?;
        s.remove(tm, Team::PLAYERS, players[0]).await?;
        s.delete(b)?;
        s.delete(tm)?;
        s.commit().await?;
        assert_eq!(
            t.count("posts").await,
            0,
            "delete-orphan: removed post deleted"
        );
        assert_eq!(
            t.count("players").await,
            2,
            "no delete-orphan: removed player kept"
        );
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM players WHERE team_id IS NULL")
                .await,
            2
        );
        t.assert_consistent().await;
        Ok(())
    }
}

// passive_deletes = true / "all" over a foreign key without an ON DELETE rule (NO ACTION), so
// that what the ORM leaves to the database is visible as a foreign-key failure.

#[derive(Model, Debug)]
#[model(table = "folders")]
pub struct Folder {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "folder", passive_deletes = true)]
    pub files: HasMany<File>,
}

#[derive(Model, Debug, Default)]
#[model(table = "files")]
pub struct File {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "folders.id")]
    pub folder_id: Option<i64>,
    #[relationship(back_populates = "files")]
    pub folder: BelongsTo<Folder>,
}

#[derive(Model, Debug)]
#[model(table = "shelves")]
pub struct Shelf {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "shelf", passive_deletes = "all")]
    pub books: HasMany<Book>,
}

#[derive(Model, Debug, Default)]
#[model(table = "books")]
pub struct Book {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "shelves.id")]
    pub shelf_id: Option<i64>,
    #[relationship(back_populates = "books")]
    pub shelf: BelongsTo<Shelf>,
}

/// Same, with the database doing the work: `passive_deletes = true`, `delete` and
/// `on_delete = "cascade"`: unloaded children are deleted by the database, not by the ORM.
#[derive(Model, Debug)]
#[model(table = "albums")]
pub struct Album {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "album", cascade = "all", passive_deletes = true)]
    pub photos: HasMany<Photo>,
}

#[derive(Model, Debug, Default)]
#[model(table = "photos")]
pub struct Photo {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "albums.id", on_delete = "cascade")]
    pub album_id: Option<i64>,
    #[relationship(back_populates = "photos")]
    pub album: BelongsTo<Album>,
}

fn folder(files: usize) -> Folder {
    Folder {
        id: None,
        files: new_objects(files),
    }
}

orm_tests::backend_test! {
    /// `passive_deletes = true`: unloaded children are left to the database (here NO ACTION, so the
    /// database refuses and nothing is applied); loaded children are nulled as usual.
    #[tokio::test]
    async fn passive_deletes_true_leaves_unloaded_children_to_the_database() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Folder::META, File::META]).await;
        let mut s = t.db.session();
        s.add(folder(2))?;
        s.commit().await?;

        // A fresh session: the files are not in it.
        let mut s = t.db.session();
        let f = s.get::<Folder>(1).await?.expect("stored");
        s.delete(f)?;
        match s.flush().await {
            Err(Error::Constraint { kind, .. }) => assert_eq!(kind, ConstraintKind::ForeignKey),
            other => panic!("the unloaded files were not left to the database: {other:?}"),
        }
        s.rollback().await?;
        assert_eq!(t.count("folders").await, 1, "nothing of the flush applied");

        // Loaded: the ORM nulls them, and the delete succeeds.
        let f = s.get::<Folder>(1).await?.expect("stored");
        let files = s.related(f, Folder::FILES).await?;
        assert_eq!(files.len(), 2);
        s.delete(f)?;
        s.commit().await?;
        assert_eq!(t.count("folders").await, 0);
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM files WHERE folder_id IS NULL")
                .await,
            2
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// `passive_deletes = true` with `delete` and `on_delete = "cascade"`: the plan has no statement
    /// for the unloaded children; the database deletes them.
    #[tokio::test]
    async fn passive_deletes_true_with_database_cascade() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Album::META, Photo::META]).await;
        let mut s = t.db.session();
        s.add(Album {
            id: None,
            photos: new_objects(4),
        })?;
        s.commit().await?;
        let mut s = t.db.session();
        let album = s.get::<Album>(1).await?.expect("stored");
        let preview = s.preview_delete(album).await?;
        assert!(
            preview.statements.iter().all(|st| st.table != "photos"),
            "unloaded photos are the database's job: {preview}"
        );
        s.delete(album)?;
        s.commit().await?;
        assert_eq!(t.count("photos").await, 0);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// `passive_deletes = "all"`: the ORM never nulls or deletes the children, even loaded ones; with
    /// a NO ACTION foreign key the database refuses the delete.
    #[tokio::test]
    async fn passive_deletes_all_never_touches_children() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Shelf::META, Book::META]).await;
        let mut s = t.db.session();
        let shelf = s.add(Shelf {
            id: None,
            books: new_objects(2),
        })?;
        s.commit().await?;
        let books = s.related(shelf, Shelf::BOOKS).await?;
        assert_eq!(books.len(), 2, "loaded");
        let preview = s.preview_delete(shelf).await?;
        assert!(preview.statements.iter().all(|st| st.table != "books"));
        s.delete(shelf)?;
        match s.flush().await {
            Err(Error::Constraint { kind, .. }) => assert_eq!(kind, ConstraintKind::ForeignKey),
            other => panic!("the ORM touched the books: {other:?}"),
        }
        s.rollback().await?;
        assert_eq!(t.count("shelves").await, 1);
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM books WHERE shelf_id = 1")
                .await,
            2
        );
        Ok(())
    }
}

// A NOT NULL foreign key, and a foreign key that is part of the child's primary key, without
// `delete`: they cannot be nulled (D6 refuses before any statement).

#[derive(Model, Debug)]
#[model(table = "invoices")]
pub struct Invoice {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "invoice")]
    pub lines: HasMany<InvoiceLine>,
}

#[derive(Model, Debug)]
#[model(table = "invoice_lines")]
pub struct InvoiceLine {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "invoices.id")]
    pub invoice_id: i64,
    #[relationship(back_populates = "lines")]
    pub invoice: BelongsTo<Invoice>,
}

#[derive(Model, Debug)]
#[model(table = "orders")]
pub struct Order {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "order")]
    pub lines: HasMany<OrderLine>,
}

#[derive(Model, Debug)]
#[model(table = "order_lines")]
pub struct OrderLine {
    #[column(primary_key, foreign_key = "orders.id")]
    pub order_id: i64,
    #[column(primary_key)]
    pub line: i64,
    #[relationship(back_populates = "lines")]
    pub order: BelongsTo<Order>,
}

orm_tests::backend_test! {
    /// A NOT NULL foreign key without `delete`: an error naming the relationship, before any write;
    /// loaded children or not. The session stays usable.
    #[tokio::test]
    async fn not_null_fk_cannot_be_nulled() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Invoice::META, InvoiceLine::META]).await;
        let mut s = t.db.session();
        s.add(Invoice {
            id: None,
            lines: HasMany::new(),
        })?;
        s.commit().await?;
        t.exec("INSERT INTO invoice_lines (invoice_id) VALUES (1), (1)")
            .await;

        for loaded in [false, true] {
            let invoice = s.get::<Invoice>(1).await?.expect("stored");
            if loaded {
                assert_eq!(s.related(invoice, Invoice::LINES).await?.len(), 2);
            }
            s.delete(invoice)?;
            let err = s.flush().await.expect_err("cannot null a NOT NULL key");
            match &err {
                Error::WouldNullRequiredKey {
                    parent,
                    field,
                    child,
                    column,
                    reason,
                    ..
                } => {
                    assert_eq!(
                        (*parent, *field, *child, *column),
                        ("Invoice", "lines", "InvoiceLine", "invoice_id")
                    );
                    assert!(reason.contains("NOT NULL"));
                }
                other => panic!("loaded={loaded}: expected WouldNullRequiredKey, got {other:?}"),
            }
            s.rollback().await?;
            assert_eq!(t.count("invoices").await, 1);
            assert_eq!(t.count("invoice_lines").await, 2);
        }
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A foreign key that is part of the child's primary key cannot be nulled either.
    #[tokio::test]
    async fn primary_key_fk_cannot_be_nulled() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Order::META, OrderLine::META]).await;
        let mut s = t.db.session();
        s.add(Order {
            id: None,
            lines: HasMany::new(),
        })?;
        s.commit().await?;
        t.exec("INSERT INTO order_lines (order_id, line) VALUES (1, 1), (1, 2)")
            .await;
        let order = s.get::<Order>(1).await?.expect("stored");
        s.delete(order)?;
        match s.flush().await {
            Err(Error::WouldNullRequiredKey { column, reason, .. }) => {
                assert_eq!(column, "order_id");
                assert!(reason.contains("primary key"));
            }
            other => panic!("expected WouldNullRequiredKey, got {other:?}"),
        }
        s.rollback().await?;
        assert_eq!(t.count("order_lines").await, 2);
        Ok(())
    }
}

/// One-to-one from the side without the key (`HasOne`) with `delete`: the one child goes too.
#[derive(Model, Debug)]
#[model(table = "people")]
pub struct Person {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "person", cascade = "all, delete-orphan")]
    pub passport: HasOne<Passport>,
}

#[derive(Model, Debug)]
#[model(table = "passports")]
pub struct Passport {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "people.id", unique)]
    pub person_id: Option<i64>,
    #[relationship(back_populates = "passport")]
    pub person: BelongsTo<Person>,
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn has_one_delete_cascade() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Person::META, Passport::META]).await;
        let mut s = t.db.session();
        let new_person = || Person {
            id: None,
            passport: HasOne::to(Passport {
                id: None,
                person_id: None,
                person: BelongsTo::new(),
            }),
        };
        let p = s.add(new_person())?;
        s.add(new_person())?;
        s.commit().await?;
        assert_eq!(t.count("passports").await, 2);
        s.delete(p)?;
        s.commit().await?;
        assert_eq!(t.count("passports").await, 1);
        assert_eq!(t.count("people").await, 1);
        t.assert_consistent().await;
        Ok(())
    }
}
