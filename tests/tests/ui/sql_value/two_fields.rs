// Rule: derive(SqlValue) on a struct needs exactly one unnamed field (a newtype).
use orm_core::prelude::*;

#[derive(SqlValue)]
pub struct Point(i64, i64);

fn main() {}
