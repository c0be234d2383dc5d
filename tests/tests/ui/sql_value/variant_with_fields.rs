// Rule: only field-less enums are column types; the error points at the variant.
use orm_core::prelude::*;

#[derive(SqlValue)]
pub enum Shape {
    Empty,
    Circle(f64),
}

fn main() {}
