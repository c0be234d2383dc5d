// Rule: rename_all takes one of serde's rule names; a typo gets a suggestion.
use orm_core::prelude::*;

#[derive(SqlValue)]
#[sql(rename_all = "snake_cas")]
pub enum Status {
    OnHold,
}

fn main() {}
