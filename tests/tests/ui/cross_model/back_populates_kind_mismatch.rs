// Rule: the two sides of a pair must be HasMany/HasOne <-> BelongsTo, or ManyToMany <-> ManyToMany.
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "post.id")]
    pub pinned_post_id: Option<i64>,
    #[relationship(back_populates = "owner")]
    pub posts: HasMany<Post>,
}

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "users.id")]
    pub user_id: Option<i64>,
    pub owner: HasOne<User>,
}

fn main() {}
