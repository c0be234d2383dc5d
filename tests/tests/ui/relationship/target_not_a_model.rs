// Rule: a relationship's target is a model.
use orm_core::prelude::*;

pub struct Post;

#[derive(Model)]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub posts: HasMany<Post>,
}

fn main() {}
