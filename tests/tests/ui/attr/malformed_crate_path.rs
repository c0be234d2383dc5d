// Rule: `crate = "..."` is a module path: the one through which this crate reaches orm_core.
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = "users", crate = "my orm::orm_core")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
}

fn main() {}
