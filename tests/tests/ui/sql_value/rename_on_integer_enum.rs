// Rule: an enum with an integer repr is stored as its discriminant; names do not apply.
use orm_core::prelude::*;

#[derive(SqlValue)]
#[repr(i32)]
pub enum Priority {
    #[sql(rename = "low")]
    Low = 1,
    High = 2,
}

fn main() {}
