// Rule: when several foreign keys link two models, `foreign_key` chooses one.
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
}

#[derive(Model)]
pub struct Message {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "users.id")]
    pub sender_id: i64,
    #[column(foreign_key = "users.id")]
    pub recipient_id: i64,
    pub sender: BelongsTo<User>,
}

fn main() {}
