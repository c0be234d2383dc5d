// Rule: back_populates names a relationship field, not a column.
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "author")]
    pub posts: HasMany<Post>,
}

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "users.id")]
    pub author: Option<i64>,
}

fn main() {}
