// Rule: #[column] keys are primary_key, unique, index, name, foreign_key, on_delete.
use orm_core::prelude::*;

#[derive(Model)]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(uniqe)]
    pub email: String,
}

fn main() {}
