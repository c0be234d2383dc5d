// Rule: every mistake is reported at once, each at its own token.
use orm_core::prelude::*;

#[derive(Model)]
#[model(tabel = "users")]
pub struct User {
    pub id: Option<i64>,
    #[column(uniqe, index, index)]
    pub name: String,
    #[relationship(cascade = "al, delete-orphan")]
    pub posts: HasMany<Post>,
}

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "user", on_delete = "cascades")]
    pub user_id: Option<i64>,
}

fn main() {}
