//! The seed blog post "deleting users and addresses", step by step, with this project's API.
//!
//! Part 1 deletes a user whose `addresses` has the default cascade (`save-update, merge`): the
//! user goes, its addresses stay (their `user_id` is set to NULL) -- the post prints `0` and `2`.
//! Part 2 declares `cascade = "all, delete, delete-orphan"` on the parent's one-to-many: removing
//! one address from the collection deletes it (`1` left), deleting the user deletes the rest
//! (`0` and `0`).
//!
//! ```text
//! cargo run -p orm-tests --example blog_users_addresses
//! RUST_LOG=orm::sql=debug cargo run -p orm-tests --example blog_users_addresses
//! ```

use orm_core::prelude::*;

/// The post's models before the fix: no cascade on `User::addresses`.
mod without_cascade {
    use orm_core::prelude::*;

    #[derive(Model, Debug)]
    #[model(table = "users")]
    pub struct User {
        #[column(primary_key)]
        pub id: Option<i64>,
        pub name: String,
        pub fullname: String,
        pub nickname: Option<String>,
        #[relationship(back_populates = "user")]
        pub addresses: HasMany<Address>,
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
        pub user: BelongsTo<User>,
    }
}

/// The post's models after the fix: the cascade is on the parent's one-to-many.
mod with_cascade {
    use orm_core::prelude::*;

    #[derive(Model, Debug)]
    #[model(table = "users")]
    pub struct User {
        #[column(primary_key)]
        pub id: Option<i64>,
        pub name: String,
        pub fullname: String,
        pub nickname: Option<String>,
        #[relationship(back_populates = "user", cascade = "all, delete, delete-orphan")]
        pub addresses: HasMany<Address>,
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
        pub user: BelongsTo<User>,
    }
}

const EMAILS: [&str; 2] = ["jack@google.com", "j25@yahoo.com"];

async fn part_one() -> orm_core::Result<()> {
    use without_cascade::{Address, User};
    println!("== without a cascade on User.addresses ==");
    let db = orm_tests::connect_from_env().await?;
    // Start from empty tables: a PostgreSQL database keeps them between runs.
    db.drop_all(&[User::META, Address::META]).await?;
    db.create_all(&[User::META, Address::META]).await?;
    let mut session = db.session();
    session.add(User {
        id: None,
        name: "jack".into(),
        fullname: "Jack Bean".into(),
        nickname: Some("gjffdd".into()),
        addresses: EMAILS
            .iter()
            .map(|e| Address {
                id: None,
                email_address: (*e).into(),
                user_id: None,
                user: BelongsTo::new(),
            })
            .collect(),
    })?;
    session.commit().await?;

    // jack = session.query(User).options(joinedload(User.addresses)).filter_by(name='jack').one()
    let jack = session
        .query::<User>()
        .load(User::ADDRESSES)
        .filter_by(User::NAME, "jack")
        .one()
        .await?;
    let user = session.read(jack).await?;
    println!(
        "<User(name='{}', fullname='{}', nickname='{}')>",
        user.name,
        user.fullname,
        user.nickname.as_deref().unwrap_or("")
    );
    let mut emails = Vec::new();
    for address in session.related(jack, User::ADDRESSES).await? {
        emails.push(session.read(address).await?.email_address.clone());
    }
    println!("jack.addresses = {emails:?}");

    // session.delete(jack); the queries autoflush first.
    session.delete(jack)?;
    let users = session
        .query::<User>()
        .filter_by(User::NAME, "jack")
        .count()
        .await?;
    let addresses = session
        .query::<Address>()
        .filter(Address::EMAIL_ADDRESS.is_in(EMAILS))
        .count()
        .await?;
    println!("users named jack: {users}");
    println!("jack's addresses: {addresses}  (they survive, with user_id set to NULL)");
    let orphaned = session
        .query::<Address>()
        .filter(Address::USER_ID.is_null())
        .count()
        .await?;
    println!("addresses with user_id NULL: {orphaned}");
    session.commit().await
}

async fn part_two() -> orm_core::Result<()> {
    use with_cascade::{Address, User};
    println!("== with cascade = \"all, delete, delete-orphan\" on User.addresses ==");
    let db = orm_tests::connect_from_env().await?;
    // Start from empty tables: a PostgreSQL database keeps them between runs.
    db.drop_all(&[User::META, Address::META]).await?;
    db.create_all(&[User::META, Address::META]).await?;
    let mut session = db.session();
    let jack = session.add(User {
        id: None,
        name: "jack".into(),
        fullname: "Jack Bean".into(),
        nickname: Some("gjffdd".into()),
        addresses: EMAILS
            .iter()
            .map(|e| Address {
                id: None,
                email_address: (*e).into(),
                user_id: None,
                user: BelongsTo::new(),
            })
            .collect(),
    })?;
    session.commit().await?;
    let jack_id = session.read(jack).await?.id;

    // Start again from a fresh session, as the post does: load jack by primary key.
    let mut session = db.session();
    let jack = session
        .get::<User>(jack_id)
        .await?
        .ok_or(orm_core::Error::NotFound { model: "User" })?;

    // del jack.addresses[1]  (the collection loads lazily)
    let addresses = session.related(jack, User::ADDRESSES).await?;
    session.remove(jack, User::ADDRESSES, addresses[1]).await?;
    let left = session
        .query::<Address>()
        .filter(Address::EMAIL_ADDRESS.is_in(EMAILS))
        .count()
        .await?;
    println!("after removing one address from jack.addresses: {left}");

    session.delete(jack)?;
    let users = session
        .query::<User>()
        .filter_by(User::NAME, "jack")
        .count()
        .await?;
    let addresses = session
        .query::<Address>()
        .filter(Address::EMAIL_ADDRESS.is_in(EMAILS))
        .count()
        .await?;
    println!("users named jack: {users}");
    println!("jack's addresses: {addresses}");
    session.commit().await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> orm_core::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    part_one().await?;
    part_two().await
}
