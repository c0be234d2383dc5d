//! Cascade scenarios that once failed: many-to-one and many-to-many `delete`, replacing or moving
//! a `delete-orphan` reference, mutual foreign keys deleted together, inserting a whole tree, and
//! previews of plans that null keys or guard required ones.
//!
//! Each module copies the models of the file its scenario belongs to.
#![allow(dead_code, unused_imports)]

mod cascade_support;

use orm_core::prelude::*;

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
    #[column(foreign_key = "teams.id")]
    pub team_id: Option<i64>,
    #[relationship(back_populates = "players")]
    pub team: BelongsTo<Team>,
}

/// §7 / D11: a preview of a delete that nulls children lists the nulling before the delete.
/// FAILS: `Session::describe` (flush.rs) panics with `unreachable!()` for any Nullify or Guard
/// step, because the fallback passed to `unwrap_or` is evaluated eagerly.
#[tokio::test]
async fn preview_of_a_nulling_delete() -> Result<()> {
    let t = cascade_support::memory(&[Team::META, Player::META]).await;
    let mut s = t.db.session();
    let a = s.add(Team {
        id: None,
        players: (0..3)
            .map(|_| Player {
                id: None,
                team_id: None,
                team: BelongsTo::new(),
            })
            .collect(),
    })?;
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

mod m2m {
    use super::cascade_support;
    use orm_core::prelude::*;

    #[derive(Model, Debug)]
    #[model(table = "posts")]
    pub struct Post {
        #[column(primary_key)]
        pub id: Option<i64>,
        pub title: String,
        #[relationship(through = PostTag, back_populates = "posts")]
        pub tags: ManyToMany<Tag>,
    }

    #[derive(Model, Debug)]
    #[model(table = "tags")]
    pub struct Tag {
        #[column(primary_key)]
        pub id: Option<i64>,
        pub name: String,
        #[relationship(through = PostTag, back_populates = "tags")]
        pub posts: ManyToMany<Post>,
    }

    /// No ON DELETE rule: the ORM must delete association rows itself.
    #[derive(Model, Debug)]
    #[model(table = "post_tags")]
    pub struct PostTag {
        #[column(primary_key, foreign_key = "posts.id")]
        pub post_id: i64,
        #[column(primary_key, foreign_key = "tags.id")]
        pub tag_id: i64,
    }

    fn tag(name: &str) -> Tag {
        Tag {
            id: None,
            name: name.into(),
            posts: ManyToMany::new(),
        }
    }

    fn post(title: &str, tags: Vec<Tag>) -> Post {
        Post {
            id: None,
            title: title.into(),
            tags: tags.into_iter().collect(),
        }
    }

    /// Two posts sharing tag "b": p1 {a, b}, p2 {b, c}.
    async fn fixture(s: &mut Session) -> Result<(Handle<Post>, Handle<Post>)> {
        let p1 = s.add(post("p1", vec![tag("a"), tag("b")]))?;
        let p2 = s.add(post("p2", vec![tag("c")]))?;
        s.commit().await?;
        let b = s.query::<Tag>().filter_by(Tag::NAME, "b").one().await?;
        s.append(p2, Post::TAGS, b).await?;
        s.commit().await?;
        Ok((p1, p2))
    }

    // `delete` on a many-to-many: the related objects go too, even shared ones, with their
    // association rows.

    #[derive(Model, Debug)]
    #[model(table = "playlists")]
    pub struct Playlist {
        #[column(primary_key)]
        pub id: Option<i64>,
        #[relationship(through = PlaylistSong, back_populates = "playlists", cascade = "all")]
        pub songs: ManyToMany<Song>,
    }

    #[derive(Model, Debug)]
    #[model(table = "songs")]
    pub struct Song {
        #[column(primary_key)]
        pub id: Option<i64>,
        #[relationship(through = PlaylistSong, back_populates = "songs")]
        pub playlists: ManyToMany<Playlist>,
    }

    #[derive(Model, Debug)]
    #[model(table = "playlist_songs")]
    pub struct PlaylistSong {
        #[column(primary_key, foreign_key = "playlists.id")]
        pub playlist_id: i64,
        #[column(primary_key, foreign_key = "songs.id")]
        pub song_id: i64,
    }

    fn song() -> Song {
        Song {
            id: None,
            playlists: ManyToMany::new(),
        }
    }

    // `delete-orphan` on a many-to-many (with `single_parent = true`).

    #[derive(Model, Debug)]
    #[model(table = "decks")]
    pub struct Deck {
        #[column(primary_key)]
        pub id: Option<i64>,
        #[relationship(through = DeckCard, cascade = "all, delete-orphan", single_parent = true)]
        pub cards: ManyToMany<Card>,
    }

    #[derive(Model, Debug)]
    #[model(table = "cards")]
    pub struct Card {
        #[column(primary_key)]
        pub id: Option<i64>,
    }

    #[derive(Model, Debug)]
    #[model(table = "deck_cards")]
    pub struct DeckCard {
        #[column(primary_key, foreign_key = "decks.id")]
        pub deck_id: i64,
        #[column(primary_key, foreign_key = "cards.id")]
        pub card_id: i64,
    }

    fn deck(cards: usize) -> Deck {
        Deck {
            id: None,
            cards: (0..cards).map(|_| Card { id: None }).collect(),
        }
    }

    #[tokio::test]
    async fn delete_cascade_deletes_shared_related_objects() -> Result<()> {
        let t = cascade_support::memory(&[Playlist::META, Song::META, PlaylistSong::META]).await;
        let mut s = t.db.session();
        let doomed = s.add(Playlist {
            id: None,
            songs: ManyToMany::from([song(), song()]),
        })?;
        let other = s.add(Playlist {
            id: None,
            songs: ManyToMany::from([song()]),
        })?;
        s.commit().await?;
        let shared = s.related(doomed, Playlist::SONGS).await?[0];
        s.append(other, Playlist::SONGS, shared).await?;
        s.commit().await?;
        assert_eq!(t.count("playlist_songs").await, 4);

        s.delete(doomed)?;
        s.commit().await?;
        assert_eq!(t.count("playlists").await, 1);
        assert_eq!(
            t.count("songs").await,
            1,
            "both songs of the playlist, shared one included"
        );
        assert_eq!(
            t.count("playlist_songs").await,
            1,
            "the shared song's row in the other playlist went too"
        );
        t.assert_consistent().await;
        Ok(())
    }
}

mod self_ref {
    use super::cascade_support;
    use cascade_support::TestDb;
    use orm_core::prelude::*;

    /// A tree whose children are owned (`all, delete-orphan`); no ON DELETE rule, so the ORM does
    /// the work.
    #[derive(Model, Debug)]
    #[model(table = "nodes")]
    pub struct Node {
        #[column(primary_key)]
        pub id: Option<i64>,
        pub name: String,
        #[column(foreign_key = "nodes.id")]
        pub parent_id: Option<i64>,
        #[relationship(back_populates = "children")]
        pub parent: BelongsTo<Node>,
        #[relationship(back_populates = "parent", cascade = "all, delete-orphan")]
        pub children: HasMany<Node>,
    }

    /// A tree with the default cascade.
    #[derive(Model, Debug)]
    #[model(table = "folders")]
    pub struct Folder {
        #[column(primary_key)]
        pub id: Option<i64>,
        pub name: String,
        #[column(foreign_key = "folders.id")]
        pub parent_id: Option<i64>,
        #[relationship(back_populates = "children")]
        pub parent: BelongsTo<Folder>,
        #[relationship(back_populates = "parent")]
        pub children: HasMany<Folder>,
    }

    /// A chain `name.0 -> name.1 -> ...` of `depth` nodes, each also with one leaf.
    fn chain(name: &str, depth: usize) -> Node {
        let mut node = Node {
            id: None,
            name: format!("{name}.{depth}"),
            parent_id: None,
            parent: BelongsTo::new(),
            children: HasMany::new(),
        };
        node.children.push(Node {
            id: None,
            name: format!("{name}.{depth}.leaf"),
            parent_id: None,
            parent: BelongsTo::new(),
            children: HasMany::new(),
        });
        if depth > 0 {
            node.children.push(chain(name, depth - 1));
        }
        node
    }

    /// The same chain as [`chain`], written with raw SQL (the fixture does not depend on the ORM's
    /// inserts of self-referential rows).
    async fn raw_chain(t: &TestDb, name: &str, depth: usize) {
        let mut parent = "NULL".to_owned();
        for d in (0..=depth).rev() {
            let node = format!("{name}.{d}");
            t.exec(&format!(
                "INSERT INTO nodes (name, parent_id) VALUES ('{node}', {parent}), ('{node}.leaf', NULL)"
            ))
            .await;
            t.exec(&format!(
                "UPDATE nodes SET parent_id = (SELECT id FROM nodes WHERE name = '{node}') WHERE name = '{node}.leaf'"
            ))
            .await;
            parent = format!("(SELECT id FROM nodes WHERE name = '{node}')");
        }
    }

    async fn id_of(t: &TestDb, name: &str) -> i64 {
        t.scalar(&format!("SELECT id FROM nodes WHERE name = '{name}'"))
            .await
    }

    /// A nested tree added in one call is inserted parents first, each child's key pointing at its
    /// parent's generated key.
    #[tokio::test]
    async fn nested_tree_is_inserted_parent_first() -> Result<()> {
        let t = cascade_support::memory(&[Node::META]).await;
        let mut s = t.db.session();
        let root = s.add(chain("t", 3))?;
        s.commit().await?;
        assert_eq!(t.count("nodes").await, 8);
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM nodes WHERE parent_id IS NULL")
                .await,
            1
        );
        for depth in 0..3 {
            let child = id_of(&t, &format!("t.{depth}")).await;
            let parent = id_of(&t, &format!("t.{}", depth + 1)).await;
            assert_eq!(
                t.ints(&format!("SELECT parent_id FROM nodes WHERE id = {child}"))
                    .await,
                vec![Some(parent)]
            );
        }
        assert_eq!(s.related(root, Node::CHILDREN).await?.len(), 2);
        t.assert_consistent().await;
        Ok(())
    }
}

mod differences {
    use super::cascade_support;
    use orm_core::prelude::*;

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

    #[derive(Model, Debug)]
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
                    toys: (0..toys)
                        .map(|_| Toy {
                            id: None,
                            child_id: None,
                            child: BelongsTo::new(),
                        })
                        .collect(),
                })
                .collect(),
            pets: HasMany::new(),
            notes: HasMany::new(),
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

    /// D11: the plan of a delete can be inspected without running it: statements, per-table counts,
    /// a readable `Display`; nothing is written.
    #[tokio::test]
    async fn d11_preview_without_running() -> Result<()> {
        let t = cascade_support::memory(&models()).await;
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

mod save {
    use super::cascade_support;
    use orm_core::prelude::*;
    use orm_core::ConstraintKind;

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

    #[derive(Model, Debug)]
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
            visits: (0..visits)
                .map(|_| Visit {
                    id: None,
                    address_id: None,
                    address: BelongsTo::new(),
                })
                .collect(),
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

    #[tokio::test]
    async fn mutual_foreign_keys_are_deleted_together() -> Result<()> {
        let t = cascade_support::memory(&[Department::META, Employee::META]).await;
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
