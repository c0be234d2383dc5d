// Rule: #[relationship] goes on a HasMany, HasOne, BelongsTo or ManyToMany field.
use orm_core::prelude::*;

#[derive(Model)]
pub struct Post {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(back_populates = "posts")]
    pub user: Option<i64>,
}

fn main() {}
