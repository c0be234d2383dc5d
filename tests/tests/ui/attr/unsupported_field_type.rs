// Rule: a column's type must implement SqlValue; the error points at the type.
use orm_core::prelude::*;

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub tags: Vec<String>,
}

fn main() {}
