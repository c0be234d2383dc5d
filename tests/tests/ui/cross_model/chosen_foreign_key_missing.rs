// Rule: the column named by a relationship's `foreign_key` is a foreign key linking the models.
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(foreign_key = "author_id")]
    pub posts: HasMany<Post>,
}

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "users.id")]
    pub user_id: Option<i64>,
}

fn main() {}
