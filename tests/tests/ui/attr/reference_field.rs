// Rule: references, tuples, arrays and pointers are never columns.
use orm_core::prelude::*;

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub title: &'static str,
    pub point: (i64, i64),
}

fn main() {}
