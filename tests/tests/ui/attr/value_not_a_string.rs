// Rule: table, name, foreign_key, on_delete, cascade and back_populates take string literals.
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = users)]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
}

fn main() {}
