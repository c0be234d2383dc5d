// Valid: relationship types by full path, no prelude import, user items named like generated ones.
#![deny(warnings)]

#[allow(dead_code)]
struct Value;
#[allow(dead_code)]
struct Model;

#[derive(orm_core::Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "user", cascade = "all, delete-orphan", passive_deletes = true)]
    pub r#ref: orm_core::HasMany<Address>,
}

#[derive(orm_core::Model)]
pub struct Address {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "users.id", on_delete = "set null")]
    pub user_id: Option<i64>,
    #[relationship(back_populates = "ref")]
    pub user: orm_core::BelongsTo<User>,
}

fn main() {
    let _ = User::REF;
}
