// Rule: a ManyToMany's association model has a foreign key to each side.
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = "posts")]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(through = PostTag)]
    pub tags: ManyToMany<Tag>,
}

#[derive(Model)]
#[model(table = "tags")]
pub struct Tag {
    #[column(primary_key)]
    pub id: Option<i64>,
}

#[derive(Model)]
pub struct PostTag {
    #[column(primary_key, foreign_key = "posts.id")]
    pub post_id: i64,
    #[column(primary_key)]
    pub tag_id: i64,
}

fn main() {}
