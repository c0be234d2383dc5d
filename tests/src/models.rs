//! The models of the seed documents, written with this project's API.

use orm_core::prelude::*;

/// The blog post's user (cascade on the parent's one-to-many).
#[derive(Model, Debug)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    pub fullname: String,
    pub nickname: Option<String>,
    #[relationship(back_populates = "user", cascade = "all, delete-orphan")]
    pub addresses: HasMany<Address>,
}

/// The blog post's address.
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

impl User {
    /// A new user with no addresses.
    pub fn new(name: &str, fullname: &str, nickname: &str) -> Self {
        User {
            id: None,
            name: name.into(),
            fullname: fullname.into(),
            nickname: Some(nickname.into()),
            addresses: HasMany::new(),
        }
    }
}

impl Address {
    /// A new address not attached to a user.
    pub fn new(email: &str) -> Self {
        Address {
            id: None,
            email_address: email.into(),
            user_id: None,
            user: BelongsTo::new(),
        }
    }
}
