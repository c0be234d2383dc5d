//! The seed SQLAlchemy documentation section "Deleting Objects Referenced from Collections and
//! Scalar Relationships", with this project's API.
//!
//! 1. `session.delete(address)` then a flush: SQLAlchemy still shows the address in
//!    `user.addresses` (`True`) until the commit expires the collection (`False`). Here the flush
//!    already reconciles loaded collections (D5), so both lines print `false`.
//! 2. `cascade = "all, delete-orphan"`: removing an address from the collection deletes it at the
//!    flush, as if it were passed to `Session::delete`.
//! 3. `delete-orphan` on a many-to-one with `single_parent = true`: setting
//!    `user.preference` to `None` deletes the `Preference` at the flush.
//!
//! ```text
//! cargo run -p orm-tests --example sqlalchemy_docs_collections
//! RUST_LOG=orm::sql=debug cargo run -p orm-tests --example sqlalchemy_docs_collections
//! ```

use orm_core::prelude::*;

#[derive(Model, Debug)]
#[model(table = "user")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    #[column(foreign_key = "preference.id")]
    pub preference_id: Option<i64>,
    #[relationship(back_populates = "user", cascade = "all, delete-orphan")]
    pub addresses: HasMany<Address>,
    #[relationship(cascade = "all, delete-orphan", single_parent = true)]
    pub preference: BelongsTo<Preference>,
}

#[derive(Model, Debug)]
#[model(table = "address")]
pub struct Address {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub email_address: String,
    #[column(foreign_key = "user.id")]
    pub user_id: Option<i64>,
    #[relationship(back_populates = "addresses")]
    pub user: BelongsTo<User>,
}

#[derive(Model, Debug)]
#[model(table = "preference")]
pub struct Preference {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub theme: String,
}

fn address(email: &str) -> Address {
    Address {
        id: None,
        email_address: email.into(),
        user_id: None,
        user: BelongsTo::new(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> orm_core::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let db = orm_tests::connect_from_env().await?;
    // Start from empty tables: a PostgreSQL database keeps them between runs.
    db.drop_all(&[User::META, Address::META, Preference::META])
        .await?;
    db.create_all(&[User::META, Address::META, Preference::META])
        .await?;
    let mut session = db.session();
    let user = session.add(User {
        id: None,
        name: "ed".into(),
        preference_id: None,
        addresses: HasMany::from([
            address("ed@google.com"),
            address("ed@yahoo.com"),
            address("ed@msn.com"),
        ]),
        preference: BelongsTo::to(Preference {
            id: None,
            theme: "dark".into(),
        }),
    })?;
    session.commit().await?;

    println!("== session.delete(address), then flush ==");
    // address = user.addresses[1]; session.delete(address); session.flush()
    let address = session.related(user, User::ADDRESSES).await?[1];
    session.delete(address)?;
    session.flush().await?;
    let present = session
        .related(user, User::ADDRESSES)
        .await?
        .contains(&address);
    println!("address in user.addresses (after flush): {present}  (SQLAlchemy: True)");
    session.commit().await?;
    let present = session
        .related(user, User::ADDRESSES)
        .await?
        .contains(&address);
    println!("address in user.addresses (after commit): {present}");

    println!("== delete-orphan: del user.addresses[1], then flush ==");
    let before = session.query::<Address>().count().await?;
    let second = session.related(user, User::ADDRESSES).await?[1];
    session.remove(user, User::ADDRESSES, second).await?;
    session.flush().await?;
    println!(
        "addresses: {before} before, {} after; the removed one is {:?}",
        session.query::<Address>().count().await?,
        session.state(second)
    );
    session.commit().await?;

    println!("== delete-orphan on a many-to-one (single_parent = true) ==");
    println!(
        "preferences before: {}",
        session.query::<Preference>().count().await?
    );
    // some_user.preference = None; session.flush()  -> deletes the Preference
    session.set(user, User::PREFERENCE, None).await?;
    session.flush().await?;
    println!(
        "preferences after user.preference = None and a flush: {}",
        session.query::<Preference>().count().await?
    );
    session.commit().await?;

    println!("== single_parent: one Preference cannot be shared ==");
    let preference = session.add(Preference {
        id: None,
        theme: "light".into(),
    })?;
    session
        .set(user, User::PREFERENCE, Some(preference))
        .await?;
    let wendy = session.add(User {
        id: None,
        name: "wendy".into(),
        preference_id: None,
        addresses: HasMany::new(),
        preference: BelongsTo::new(),
    })?;
    match session.set(wendy, User::PREFERENCE, Some(preference)).await {
        Err(err @ orm_core::Error::SingleParent { .. }) => println!("refused: {err}"),
        other => println!("unexpected: {other:?}"),
    }
    session.commit().await?;
    println!(
        "users: {}, preferences: {}",
        session.query::<User>().count().await?,
        session.query::<Preference>().count().await?
    );
    Ok(())
}
