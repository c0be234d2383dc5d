// Rule: #[column] options do not apply to a relationship field.
use orm_core::prelude::*;

#[derive(Model)]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
}

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "user.id")]
    pub user: BelongsTo<User>,
}

fn main() {}
