// Rule (docs/dev/semantics.md D1): `delete`/`all` on a many-to-one would delete the
// shared parent; the cascade belongs on the parent's HasMany.
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
    #[relationship(cascade = "all")]
    pub user: BelongsTo<User>,
}

fn main() {}
