// Rule: #[sql] accepts known keys only; a typo gets a suggestion.
use orm_core::prelude::*;

#[derive(SqlValue)]
pub enum Status {
    #[sql(renam = "on")]
    On,
}

fn main() {}
