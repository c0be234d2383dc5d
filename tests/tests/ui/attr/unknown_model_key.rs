// Rule: #[model] accepts only `table`; a misspelled key is reported with a suggestion.
use orm_core::prelude::*;

#[derive(Model)]
#[model(tabel = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
}

fn main() {}
