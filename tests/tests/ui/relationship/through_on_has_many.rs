// Rule: `through` applies only to ManyToMany fields.
use orm_core::prelude::*;

#[derive(Model)]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(through = Post)]
    pub posts: HasMany<Post>,
}

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "user.id")]
    pub user_id: Option<i64>,
}

fn main() {}
