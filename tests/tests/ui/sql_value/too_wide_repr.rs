// Rule: u64 discriminants may not fit a 64-bit signed column.
use orm_core::prelude::*;

#[derive(SqlValue)]
#[repr(u64)]
pub enum Big {
    Huge = 18_000_000_000_000_000_000,
}

fn main() {}
