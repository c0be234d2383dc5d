//! docs/dev/semantics.md §4: many-to-many through an association model, including `delete` on a
//! many-to-many (the related objects are deleted too).

use orm_core::prelude::*;
use orm_tests::fixtures::new_objects;

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

orm_tests::backend_test! {
    #[tokio::test]
    async fn adding_inserts_association_rows() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Post::META, Tag::META, PostTag::META]).await;
        let mut s = t.db.session();
        fixture(&mut s).await?;
        assert_eq!(
            t.rows("SELECT post_id, tag_id FROM post_tags ORDER BY post_id, tag_id")
                .await,
            [(1, 1), (1, 2), (2, 2), (2, 3)]
                .iter()
                .map(|&(p, t)| vec![orm_core::Value::Integer(p), orm_core::Value::Integer(t)])
                .collect::<Vec<_>>()
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Deleting either side deletes its association rows first; the other side survives.
    #[tokio::test]
    async fn deleting_either_side_deletes_only_association_rows() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Post::META, Tag::META, PostTag::META]).await;
        let mut s = t.db.session();
        let (p1, _) = fixture(&mut s).await?;
        s.delete(p1)?;
        s.commit().await?;
        assert_eq!(t.count("posts").await, 1);
        assert_eq!(t.count("tags").await, 3, "tags survive");
        assert_eq!(t.count("post_tags").await, 2);

        // Now from the other side, with the collection not loaded.
        let mut s = t.db.session();
        let b = s.query::<Tag>().filter_by(Tag::NAME, "b").one().await?;
        s.delete(b)?;
        s.commit().await?;
        assert_eq!(t.count("tags").await, 2);
        assert_eq!(t.count("posts").await, 1, "posts survive");
        assert_eq!(t.ints("SELECT tag_id FROM post_tags").await, vec![Some(3)]);
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Removing from the collection deletes the association row; both objects survive.
    #[tokio::test]
    async fn removing_deletes_the_association_row() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Post::META, Tag::META, PostTag::META]).await;
        let mut s = t.db.session();
        let (p1, _) = fixture(&mut s).await?;
        let tags = s.related(p1, Post::TAGS).await?;
        s.remove(p1, Post::TAGS, tags[0]).await?;
        s.commit().await?;
        assert_eq!(t.count("post_tags").await, 3);
        assert_eq!(t.count("tags").await, 3);
        assert_eq!(s.related(p1, Post::TAGS).await?.len(), 1);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// The same association row is never deleted twice in one flush: removed from both sides, and
    /// removed while one of its ends is deleted.
    #[tokio::test]
    async fn an_association_row_is_deleted_once() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Post::META, Tag::META, PostTag::META]).await;
        let mut s = t.db.session();
        let (p1, p2) = fixture(&mut s).await?;
        let tags = s.related(p1, Post::TAGS).await?;
        let a = tags[0];
        let posts_of_a = s.related(a, Tag::POSTS).await?;
        assert_eq!(posts_of_a, vec![p1]);
        s.remove(p1, Post::TAGS, a).await?;
        s.remove(a, Tag::POSTS, p1).await?;
        let preview = s.preview().await?;
        let deletes = preview
            .statements
            .iter()
            .filter(|st| st.table == "post_tags" && st.action == "delete")
            .count();
        assert_eq!(deletes, 1, "{preview}");
        s.flush().await?;

        let p2_tags = s.related(p2, Post::TAGS).await?;
        s.remove(p2, Post::TAGS, p2_tags[0]).await?;
        s.delete(p2)?;
        s.commit().await?;
        assert_eq!(
            t.rows("SELECT post_id, tag_id FROM post_tags").await,
            vec![vec![
                orm_core::Value::Integer(1),
                orm_core::Value::Integer(2)
            ]]
        );
        t.assert_consistent().await;
        Ok(())
    }
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

#[derive(Model, Debug, Default)]
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

orm_tests::backend_test! {
    #[tokio::test]
    async fn delete_cascade_deletes_shared_related_objects() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Playlist::META, Song::META, PlaylistSong::META]).await;
        let mut s = t.db.session();
        let doomed = s.add(Playlist {
            id: None,
            songs: new_objects(2),
        })?;
        let other = s.add(Playlist {
            id: None,
            songs: new_objects(1),
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

// `delete-orphan` on a many-to-many (with `single_parent = true`).

#[derive(Model, Debug)]
#[model(table = "decks")]
pub struct Deck {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(through = DeckCard, cascade = "all, delete-orphan", single_parent = true)]
    pub cards: ManyToMany<Card>,
}

#[derive(Model, Debug, Default)]
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
        cards: new_objects(cards),
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn delete_orphan_removal_deletes_row_and_object() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Deck::META, Card::META, DeckCard::META]).await;
        let mut s = t.db.session();
        let d = s.add(deck(3))?;
        s.commit().await?;
        let cards = s.related(d, Deck::CARDS).await?;
        s.remove(d, Deck::CARDS, cards[1]).await?;
        s.flush().await?;
        assert_eq!(s.state(cards[1]), ObjectState::Deleted);
        s.commit().await?;
        assert_eq!(t.count("cards").await, 2);
        assert_eq!(t.count("deck_cards").await, 2);
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// single_parent on a many-to-many: a card of one deck cannot be appended to another, also when
    /// the first link is only in the database (D8).
    #[tokio::test]
    async fn single_parent_many_to_many() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Deck::META, Card::META, DeckCard::META]).await;
        let mut s = t.db.session();
        s.add(deck(1))?;
        s.add(deck(0))?;
        s.commit().await?;

        let mut s = t.db.session();
        let card = s.get::<Card>(1).await?.expect("stored");
        let second = s.get::<Deck>(2).await?.expect("stored");
        match s.append(second, Deck::CARDS, card).await {
            Err(Error::SingleParent { parent, field, .. }) => {
                assert_eq!((parent, field), ("Deck", "cards"))
            }
            other => panic!("expected SingleParent, got {other:?}"),
        }
        s.commit().await?;
        assert_eq!(t.count("deck_cards").await, 1);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// §5 + D7: with `single_parent`, a card removed from one deck and added to another before the
    /// flush is moved, not refused (the stored link was removed in memory); a new deck is checked
    /// against stored links too (D8).
    #[tokio::test]
    async fn single_parent_many_to_many_allows_a_move() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Deck::META, Card::META, DeckCard::META]).await;
        let mut s = t.db.session();
        s.add(deck(1))?;
        s.add(deck(0))?;
        s.commit().await?;

        let mut s = t.db.session();
        let card = s.get::<Card>(1).await?.expect("stored");
        let (first, second) = (
            s.get::<Deck>(1).await?.expect("1"),
            s.get::<Deck>(2).await?.expect("2"),
        );
        let new = s.add(deck(0))?;
        assert!(
            matches!(
                s.append(new, Deck::CARDS, card).await,
                Err(Error::SingleParent { .. })
            ),
            "a new deck sees the stored link"
        );
        s.remove(first, Deck::CARDS, card).await?;
        s.append(second, Deck::CARDS, card).await?;
        s.commit().await?;
        assert_eq!(t.count("cards").await, 1, "moved, not deleted as an orphan");
        assert_eq!(t.count("deck_cards").await, 1);
        Ok(())
    }
}

// A `delete` many-to-many one level below rows that are not loaded: the related keys are read
// set-based (one SELECT) before the rows linking them go, then deleted (D4, D9).

#[derive(Model, Debug)]
#[model(table = "albums")]
pub struct Album {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(cascade = "all")]
    pub tracks: HasMany<Track>,
}

#[derive(Model, Debug, Default)]
#[model(table = "tracks")]
pub struct Track {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "albums.id")]
    pub album_id: Option<i64>,
    #[relationship(through = TrackLabel, cascade = "all")]
    pub labels: ManyToMany<Label>,
}

#[derive(Model, Debug, Default)]
#[model(table = "labels")]
pub struct Label {
    #[column(primary_key)]
    pub id: Option<i64>,
}

#[derive(Model, Debug)]
#[model(table = "track_labels")]
pub struct TrackLabel {
    #[column(primary_key, foreign_key = "tracks.id")]
    pub track_id: i64,
    #[column(primary_key, foreign_key = "labels.id")]
    pub label_id: i64,
}

/// Two albums of two tracks with two labels each (8 labels), stored and expired.
async fn albums(t: &orm_tests::harness::Fresh) -> Result<Session> {
    let mut s = t.db.session();
    for _ in 0..2 {
        let tracks = (0..2)
            .map(|_| Track {
                labels: new_objects(2),
                ..Track::default()
            })
            .collect();
        s.add(Album { id: None, tracks })?;
    }
    s.commit().await?;
    Ok(t.db.session())
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn delete_reaches_many_to_many_below_rows_that_are_not_loaded() -> Result<()> {
        let t =
            orm_tests::harness::fresh(&[Album::META, Track::META, Label::META, TrackLabel::META]).await;
        let mut s = albums(&t).await?;
        let album = s.get::<Album>(1_i64).await?.expect("album 1");
        let label = s
            .get::<Label>(1_i64)
            .await?
            .expect("label 1, held by the session");
        s.delete(album)?;
        s.flush().await?;
        assert_eq!(
            s.state(label),
            ObjectState::Deleted,
            "a held object among the captured keys"
        );
        s.commit().await?;
        assert_eq!(t.count("albums").await, 1);
        assert_eq!(t.count("tracks").await, 2);
        assert_eq!(
            t.count("labels").await,
            4,
            "the deleted album's 4 labels went with its tracks"
        );
        assert_eq!(t.count("track_labels").await, 4);
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn bulk_delete_applies_a_many_to_many_delete_below_it() -> Result<()> {
        let t =
            orm_tests::harness::fresh(&[Album::META, Track::META, Label::META, TrackLabel::META]).await;
        let mut s = albums(&t).await?;
        let deleted = s.query::<Album>().delete().await?;
        s.commit().await?;
        assert_eq!(deleted, 2);
        for table in ["albums", "tracks", "labels", "track_labels"] {
            assert_eq!(
                t.count(table).await,
                0,
                "{table} left behind by a bulk delete"
            );
        }
        t.assert_consistent().await;
        Ok(())
    }
}

// A self-referential many-to-many: `foreign_key` names the association column of this side, so
// the two fields of one pair link opposite columns (run time agreed with the compiler only after
// the link rule moved to one place, `checks::LinkQuery`).

#[derive(Model, Debug)]
#[model(table = "sr_people")]
pub struct Person {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    #[relationship(through = Follow, foreign_key = "follower_id", back_populates = "followers")]
    pub following: ManyToMany<Person>,
    #[relationship(through = Follow, foreign_key = "followed_id", back_populates = "following")]
    pub followers: ManyToMany<Person>,
}

#[derive(Model, Debug)]
#[model(table = "sr_follows")]
pub struct Follow {
    #[column(primary_key, foreign_key = "sr_people.id")]
    pub follower_id: i64,
    #[column(primary_key, foreign_key = "sr_people.id")]
    pub followed_id: i64,
}

fn person(name: &str) -> Person {
    Person {
        id: None,
        name: name.into(),
        following: ManyToMany::new(),
        followers: ManyToMany::new(),
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_self_referential_many_to_many_links_the_side_each_field_names() -> orm_core::Result<()> {
        let db = orm_sqlite::connect("sqlite::memory:").await?;
        db.create_all(&[Person::META, Follow::META]).await?;
        let mut s = db.session();
        let ann = s.add(person("ann"))?;
        let bob = s.add(person("bob"))?;
        s.commit().await?;
        s.append(ann, Person::FOLLOWING, bob).await?;
        s.commit().await?;
        let follows = s.query::<Follow>().all().await?;
        let row = s.read(follows[0]).await?;
        let (follower, followed) = (row.follower_id, row.followed_id);
        let ann_id = s.read(ann).await?.id;
        let bob_id = s.read(bob).await?.id;
        assert_eq!((Some(follower), Some(followed)), (ann_id, bob_id));
        let followers = s.related(bob, Person::FOLLOWERS).await?;
        assert_eq!(followers, vec![ann]);
        Ok(())
    }
}
