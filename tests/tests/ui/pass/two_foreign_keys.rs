// Valid: two foreign keys to the same table, each relationship choosing its own.
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "sender", foreign_key = "sender_id")]
    pub sent: HasMany<Message>,
    #[relationship(back_populates = "recipient", foreign_key = "recipient_id")]
    pub received: HasMany<Message>,
}

#[derive(Model)]
#[model(table = "messages")]
pub struct Message {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "users.id")]
    pub sender_id: i64,
    #[column(foreign_key = "users.id", name = "recipient_id")]
    pub to: i64,
    #[relationship(back_populates = "sent", foreign_key = "sender_id")]
    pub sender: BelongsTo<User>,
    #[relationship(back_populates = "received", foreign_key = "recipient_id")]
    pub recipient: BelongsTo<User>,
}

fn main() {
    assert_eq!(Message::META.relationships[1].foreign_key, Some("recipient_id"));
}
