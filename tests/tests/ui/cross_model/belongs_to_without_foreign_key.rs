// Rule: a BelongsTo needs a foreign key on this model's table referencing the target's table.
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
}

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "teams.id")]
    pub user_id: Option<i64>,
    pub user: BelongsTo<User>,
}

fn main() {}
