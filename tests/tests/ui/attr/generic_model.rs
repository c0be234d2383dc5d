// Rule: models are concrete structs: no type parameters, no lifetimes.
use orm_core::prelude::*;

#[derive(Model)]
pub struct Wrapper<T> {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub value: T,
}

fn main() {}
