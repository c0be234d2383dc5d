// Rule (docs/dev/semantics.md §3): delete-orphan on a many-to-one needs single_parent = true.
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
    pub user_id: Option<i64>,
    #[relationship(cascade = "save-update, delete-orphan")]
    pub user: BelongsTo<User>,
}

fn main() {}
