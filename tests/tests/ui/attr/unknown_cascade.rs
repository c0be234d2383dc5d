// Rule: cascade tokens are save-update, merge, refresh-expire, expunge, delete, delete-orphan,
// all, none; a misspelled one gets a suggestion.
use orm_core::prelude::*;

#[derive(Model)]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(cascade = "all, delete_orphan")]
    pub posts: HasMany<Post>,
}

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "user.id")]
    pub user_id: Option<i64>,
}

fn main() {}
