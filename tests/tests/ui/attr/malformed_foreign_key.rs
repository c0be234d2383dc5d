// Rule: a column's foreign_key is "table.column".
use orm_core::prelude::*;

#[derive(Model)]
pub struct Address {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "users")]
    pub user_id: Option<i64>,
}

fn main() {}
