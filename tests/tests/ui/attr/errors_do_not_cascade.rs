// Rule: a model with attribute errors still gets a placeholder impl, so that other models
// referring to it report nothing more; only the real mistake is shown.
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key, uniqe)]
    pub id: Option<i64>,
    #[relationship(back_populates = "user")]
    pub posts: HasMany<Post>,
}

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "users.id")]
    pub user_id: Option<i64>,
    #[relationship(back_populates = "posts")]
    pub user: BelongsTo<User>,
}

fn main() {}
