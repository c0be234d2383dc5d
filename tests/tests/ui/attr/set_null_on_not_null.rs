// Rule: on_delete = "set null" needs a nullable column (checked by the compiler through the
// field type's SqlValue::NULLABLE).
use orm_core::prelude::*;

#[derive(Model)]
pub struct Address {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "users.id", on_delete = "set null")]
    pub user_id: i64,
}

fn main() {}
