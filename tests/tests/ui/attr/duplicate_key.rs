// Rule: a key may appear once per field; the second use is the error.
use orm_core::prelude::*;

#[derive(Model)]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(name = "email")]
    #[column(unique, name = "mail")]
    pub email: String,
}

fn main() {}
