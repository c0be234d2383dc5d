// Rule: when both sides declare back_populates, they name each other.
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "author")]
    pub posts: HasMany<Post>,
    pub drafts: HasMany<Post>,
}

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "users.id")]
    pub user_id: Option<i64>,
    #[relationship(back_populates = "drafts")]
    pub author: BelongsTo<User>,
}

fn main() {}
