// Rule: the back_populates partner must point back at this model, not at a third one.
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "owner")]
    pub posts: HasMany<Post>,
}

#[derive(Model)]
#[model(table = "teams")]
pub struct Team {
    #[column(primary_key)]
    pub id: Option<i64>,
}

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "users.id")]
    pub user_id: Option<i64>,
    #[column(foreign_key = "teams.id")]
    pub team_id: Option<i64>,
    pub owner: BelongsTo<Team>,
}

fn main() {}
