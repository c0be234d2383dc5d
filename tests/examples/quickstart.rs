//! The main example: models, insert, query, update, delete and commit, on embedded SQLite by
//! default or on the database `DATABASE_URL` names.
//!
//! ```text
//! cargo run -p orm-tests --example quickstart
//! RUST_LOG=orm::sql=debug cargo run -p orm-tests --example quickstart   # also show the SQL
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run -p orm-tests --example quickstart
//! ```

use orm_core::prelude::*;

#[derive(Model, Debug)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>, // None until the row is inserted
    pub name: String,
    pub nickname: Option<String>, // Option<T> => nullable column
    #[relationship(back_populates = "user", cascade = "all, delete-orphan")]
    pub addresses: HasMany<Address>, // one-to-many: the FK lives on Address
}

#[derive(Model, Debug)]
#[model(table = "addresses")]
pub struct Address {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub email_address: String,
    #[column(foreign_key = "users.id")]
    pub user_id: Option<i64>,
    #[relationship(back_populates = "addresses")]
    pub user: BelongsTo<User>, // many-to-one: the FK lives here
}

fn user(name: &str, nickname: Option<&str>, emails: &[&str]) -> User {
    User {
        id: None,
        name: name.into(),
        nickname: nickname.map(Into::into),
        addresses: emails
            .iter()
            .map(|email| Address {
                id: None,
                email_address: (*email).into(),
                user_id: None,
                user: BelongsTo::new(),
            })
            .collect(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> orm_core::Result<()> {
    // `RUST_LOG=orm::sql=debug` prints every statement on stderr.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();

    // Connect to DATABASE_URL (default: SQLite in memory, with foreign keys switched on for
    // every connection) and create the tables.
    let db = orm_tests::connect_from_env().await?;
    // Start from empty tables: a PostgreSQL database keeps them between runs.
    db.drop_all(&[User::META, Address::META]).await?;
    db.create_all(&[User::META, Address::META]).await?;
    println!("created tables `users` and `addresses`");

    // Insert: adding a user adds its new addresses too (the `save-update` cascade).
    let mut session = db.session();
    let jack = session.add(user(
        "jack",
        Some("gjffdd"),
        &["jack@google.com", "j25@yahoo.com"],
    ))?;
    session.add(user("wendy", None, &["wendy@example.com"]))?;
    session.commit().await?;
    println!(
        "inserted {} users and {} addresses; jack has id {:?}",
        session.query::<User>().count().await?,
        session.query::<Address>().count().await?,
        session.read(jack).await?.id,
    );

    // Query: typed columns, bound values.
    let wendy = session
        .query::<User>()
        .filter_by(User::NAME, "wendy")
        .one()
        .await?;
    let at_google = session
        .query::<Address>()
        .filter(Address::EMAIL_ADDRESS.like("%@google.com"))
        .count()
        .await?;
    println!(
        "wendy's nickname: {:?}; addresses at google.com: {at_google}",
        session.read(wendy).await?.nickname
    );
    let emails = session.related(jack, User::ADDRESSES).await?;
    for address in &emails {
        println!(
            "  jack's address: {}",
            session.read(*address).await?.email_address
        );
    }

    // Update: change a field through the session; the flush UPDATEs only the changed column.
    session.write(wendy).await?.nickname = Some("windy".into());
    session.commit().await?;
    let renamed = session
        .query::<User>()
        .filter(User::NICKNAME.eq(Some("windy".to_owned())))
        .count()
        .await?;
    println!("updated wendy's nickname; users nicknamed \"windy\": {renamed}");

    // Delete-orphan: removing an address from jack's collection deletes it at the next flush
    // (queries autoflush first, so the count already sees it).
    session.remove(jack, User::ADDRESSES, emails[1]).await?;
    println!(
        "removed j25@yahoo.com from jack.addresses; addresses left: {}",
        session.query::<Address>().count().await?
    );

    // Preview, then delete: the user's addresses go with it (`delete` cascade).
    let preview = session.preview_delete(jack).await?;
    print!("preview: {preview}");
    session.delete(jack)?;
    session.commit().await?;
    println!(
        "deleted jack; users left: {}, addresses left: {}",
        session.query::<User>().count().await?,
        session.query::<Address>().count().await?
    );
    Ok(())
}
