// Rule: a relationship's target must be a model (a struct with `#[derive(Model)]`).
use orm_core::prelude::*;

pub struct Post {
    pub id: i64,
}

#[derive(Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub posts: HasMany<Post>,
}

fn main() {}
