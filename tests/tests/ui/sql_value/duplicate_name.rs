// Rule: two variants stored under one name could not be told apart when read back.
use orm_core::prelude::*;

#[derive(SqlValue)]
pub enum Status {
    #[sql(rename = "open")]
    Active,
    #[sql(rename = "open")]
    Pending,
}

fn main() {}
