// Rule (docs/dev/semantics.md §4): delete-orphan on a many-to-many needs single_parent = true.
use orm_core::prelude::*;

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(through = PostTag, cascade = "all, delete-orphan")]
    pub tags: ManyToMany<Tag>,
}

#[derive(Model)]
pub struct Tag {
    #[column(primary_key)]
    pub id: Option<i64>,
}

#[derive(Model)]
pub struct PostTag {
    #[column(primary_key, foreign_key = "post.id")]
    pub post_id: i64,
    #[column(primary_key, foreign_key = "tag.id")]
    pub tag_id: i64,
}

fn main() {}
