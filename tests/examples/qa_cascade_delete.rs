//! The seed Q&A thread "SQLAlchemy: cascade delete" ("the children persist, with null foreign
//! keys"), answered with this project's API.
//!
//! The question declares `cascade = "all,delete"` on the CHILD's many-to-one. Here that does not
//! compile (D1): the error says that deleting one child would delete the shared parent and that
//! the cascade belongs on the parent's `HasMany` field. This example runs:
//!
//! 1. the corrected setup (Solution 1): the cascade on `Parent::children`; the counts go
//!    3 / 1 before the delete and 0 / 0 after (the question saw 3 children survive);
//! 2. the database-level cascade (Solutions 2, 3 and 5): `on_delete = "cascade"` on the foreign
//!    key. Without `passive_deletes` the ORM still never NULLs the children first (D2), so the
//!    database's rule works; with `passive_deletes = true` as in the thread it works the same.
//!    SQLite's foreign keys are on for every connection (no `PRAGMA` event hook needed, D3);
//! 3. the bulk delete of Solution 2 (`session.query(..).filter(..).delete()`), which here applies
//!    the ORM cascade (D4) instead of leaving orphans.
//!
//! ```text
//! cargo run -p orm-tests --example qa_cascade_delete
//! RUST_LOG=orm::sql=debug cargo run -p orm-tests --example qa_cascade_delete
//! ```

use orm_core::prelude::*;

/// Solution 1: the relationship, and its cascade, on the parent.
#[derive(Model, Debug)]
#[model(table = "parent")]
pub struct Parent {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "parent", cascade = "all, delete")]
    pub children: HasMany<Child>,
}

#[derive(Model, Debug)]
#[model(table = "child")]
pub struct Child {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "parent.id")]
    pub parentid: Option<i64>,
    #[relationship(back_populates = "children")]
    pub parent: BelongsTo<Parent>,
}

/// Solutions 2 and 3: `ON DELETE CASCADE` in the database, default ORM cascade, no
/// `passive_deletes` -- the setup that fails in SQLAlchemy (it NULLs the children first).
#[derive(Model, Debug)]
#[model(table = "parents")]
pub struct DbParent {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "parent")]
    pub children: HasMany<DbChild>,
}

#[derive(Model, Debug)]
#[model(table = "children")]
pub struct DbChild {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "parents.id", on_delete = "cascade")]
    pub parent_id: Option<i64>,
    #[relationship(back_populates = "children")]
    pub parent: BelongsTo<DbParent>,
}

/// Solution 5: `ondelete='CASCADE'` plus `passive_deletes=True`, on SQLite.
#[derive(Model, Debug)]
#[model(table = "roomdata")]
pub struct Room {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "room", passive_deletes = true)]
    pub furniture: HasMany<Furniture>,
}

#[derive(Model, Debug)]
#[model(table = "furnituredata")]
pub struct Furniture {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "roomdata.id", on_delete = "cascade")]
    pub room_id: Option<i64>,
    #[relationship(back_populates = "furniture")]
    pub room: BelongsTo<Room>,
}

fn three_children() -> HasMany<Child> {
    (0..3)
        .map(|_| Child {
            id: None,
            parentid: None,
            parent: BelongsTo::new(),
        })
        .collect()
}

async fn orm_cascade(db: &Database) -> orm_core::Result<()> {
    println!("== 1. cascade = \"all, delete\" on Parent::children (Solution 1) ==");
    let mut session = db.session();
    let parent = session.add(Parent {
        id: None,
        children: three_children(),
    })?;
    session.commit().await?;
    println!(
        "Before delete, children = {}",
        session.query::<Child>().count().await?
    );
    println!(
        "Before delete, parent = {}",
        session.query::<Parent>().count().await?
    );
    session.delete(parent)?;
    session.commit().await?;
    println!(
        "After delete, children = {}",
        session.query::<Child>().count().await?
    );
    println!(
        "After delete parent = {}",
        session.query::<Parent>().count().await?
    );
    Ok(())
}

async fn database_cascade(db: &Database) -> orm_core::Result<()> {
    println!("== 2a. on_delete = \"cascade\", no passive_deletes (Solutions 2 and 3) ==");
    let mut session = db.session();
    let parent = session.add(DbParent {
        id: None,
        children: (0..3)
            .map(|_| DbChild {
                id: None,
                parent_id: None,
                parent: BelongsTo::new(),
            })
            .collect(),
    })?;
    session.commit().await?;
    println!(
        "Before delete, children = {}",
        session.query::<DbChild>().count().await?
    );
    let preview = session.preview_delete(parent).await?;
    print!("preview: {preview}");
    session.delete(parent)?;
    session.commit().await?;
    println!(
        "After delete, children = {} (no UPDATE ... SET parent_id = NULL ran; the database deleted them)",
        session.query::<DbChild>().count().await?
    );

    println!(
        "== 2b. on_delete = \"cascade\" with passive_deletes = true, on SQLite (Solution 5) =="
    );
    let room = session.add(Room {
        id: None,
        furniture: (0..2)
            .map(|_| Furniture {
                id: None,
                room_id: None,
                room: BelongsTo::new(),
            })
            .collect(),
    })?;
    session.commit().await?;
    println!(
        "Before delete, furniture = {}",
        session.query::<Furniture>().count().await?
    );
    session.delete(room)?;
    session.commit().await?;
    println!(
        "After delete, furniture = {}, rooms = {}",
        session.query::<Furniture>().count().await?,
        session.query::<Room>().count().await?
    );

    // Foreign keys are enforced: a row pointing at a missing room is refused.
    session.add(Furniture {
        id: None,
        room_id: Some(42),
        room: BelongsTo::new(),
    })?;
    match session.flush().await {
        Err(orm_core::Error::Constraint { kind, .. }) => {
            println!(
                "foreign keys are on: inserting furniture for room 42 failed ({kind} constraint)"
            )
        }
        other => println!("unexpected: {other:?}"),
    }
    session.rollback().await
}

async fn bulk_delete(db: &Database) -> orm_core::Result<()> {
    println!("== 3. bulk delete through a query (Solution 2) ==");
    let mut session = db.session();
    for _ in 0..2 {
        session.add(Parent {
            id: None,
            children: three_children(),
        })?;
    }
    session.commit().await?;
    println!(
        "Before delete, children = {}, parents = {}",
        session.query::<Child>().count().await?,
        session.query::<Parent>().count().await?
    );
    let deleted = session
        .query::<Parent>()
        .filter(Parent::ID.is_not_null())
        .delete()
        .await?;
    session.commit().await?;
    println!(
        "query(Parent).filter(..).delete() deleted {deleted} parents; After delete, children = {}, parents = {}",
        session.query::<Child>().count().await?,
        session.query::<Parent>().count().await?
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> orm_core::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let db = orm_tests::connect_from_env().await?;
    let models = [
        Parent::META,
        Child::META,
        DbParent::META,
        DbChild::META,
        Room::META,
        Furniture::META,
    ];
    // Start from empty tables: a PostgreSQL database keeps them between runs.
    db.drop_all(&models).await?;
    db.create_all(&models).await?;
    orm_cascade(&db).await?;
    database_cascade(&db).await?;
    bulk_delete(&db).await
}
