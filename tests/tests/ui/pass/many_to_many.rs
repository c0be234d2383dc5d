// Valid: a many-to-many through an association model with a composite primary key, plus a
// self-referential many-to-many that picks its side with `foreign_key`.
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = "posts")]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(through = PostTag, back_populates = "posts")]
    pub tags: ManyToMany<Tag>,
}

#[derive(Model)]
#[model(table = "tags")]
pub struct Tag {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(through = PostTag, back_populates = "tags")]
    pub posts: ManyToMany<Post>,
}

#[derive(Model)]
#[model(table = "post_tags")]
pub struct PostTag {
    #[column(primary_key, foreign_key = "posts.id", on_delete = "cascade")]
    pub post_id: i64,
    #[column(primary_key, foreign_key = "tags.id", on_delete = "cascade")]
    pub tag_id: i64,
}

#[derive(Model)]
#[model(table = "people")]
pub struct Person {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(through = Follow, foreign_key = "follower_id", back_populates = "followers")]
    pub following: ManyToMany<Person>,
    #[relationship(through = Follow, foreign_key = "followed_id", back_populates = "following")]
    pub followers: ManyToMany<Person>,
}

#[derive(Model)]
pub struct Follow {
    #[column(primary_key, foreign_key = "people.id")]
    pub follower_id: i64,
    #[column(primary_key, foreign_key = "people.id")]
    pub followed_id: i64,
}

fn main() {
    assert_eq!(PostTag::META.primary_key, &[0, 1]);
    let through = Post::META.relationships[0].through.map(|meta| meta().table);
    assert_eq!(through, Some("post_tags"));
}
