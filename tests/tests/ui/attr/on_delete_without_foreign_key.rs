// Rule: on_delete is a property of a foreign key.
use orm_core::prelude::*;

#[derive(Model)]
pub struct Address {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(on_delete = "cascade")]
    pub user_id: Option<i64>,
}

fn main() {}
