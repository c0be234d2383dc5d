// Rule: `default` is the SQL expression the database fills the column in with; empty is a mistake.
use orm_core::prelude::*;

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(default = " ")]
    pub title: Option<String>,
}

fn main() {}
