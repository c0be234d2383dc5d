// Rule: a primary key is set by the program or generated, never a database default.
use orm_core::prelude::*;

#[derive(Model)]
pub struct Token {
    #[column(primary_key, default = "'x'")]
    pub code: String,
}

fn main() {}
