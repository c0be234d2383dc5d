// Rule: on_delete is "cascade", "set null", "restrict" or "no action".
use orm_core::prelude::*;

#[derive(Model)]
pub struct Address {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "users.id", on_delete = "set_null")]
    pub user_id: Option<i64>,
}

fn main() {}
