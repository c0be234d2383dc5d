// Rule (docs/dev/semantics.md §2): passive_deletes = "all" cannot be combined with delete or delete-orphan.
use orm_core::prelude::*;

#[derive(Model)]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(cascade = "all", passive_deletes = "all")]
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
