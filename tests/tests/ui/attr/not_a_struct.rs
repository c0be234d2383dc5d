// Rule: only structs with named fields are models.
use orm_core::prelude::*;

#[derive(Model)]
pub enum Status {
    Active,
    Closed,
}

fn main() {}
