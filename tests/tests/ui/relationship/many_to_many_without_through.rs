// Rule: a ManyToMany names its association model with `through`.
use orm_core::prelude::*;

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub tags: ManyToMany<Tag>,
}

#[derive(Model)]
pub struct Tag {
    #[column(primary_key)]
    pub id: Option<i64>,
}

fn main() {}
