// Rule: every model needs a primary key.
use orm_core::prelude::*;

#[derive(Model)]
pub struct Note {
    pub id: i64,
    pub text: String,
}

fn main() {}
