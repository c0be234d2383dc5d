// Rule: a newtype is a column type through its field, which must be one.
use orm_core::prelude::*;

#[derive(SqlValue)]
pub struct Tags(Vec<String>);

fn main() {}
