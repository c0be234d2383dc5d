// Valid: `crate = "..."` with a path relative to the module of the model, to a re-export of
// orm_core; the generated code lives in `const _` blocks, where the path still resolves.
mod facade {
    pub use orm_core as orm;
}

pub mod models {
    use super::facade::orm::prelude::*;

    #[derive(Model)]
    #[model(table = "users", crate = "super::facade::orm")]
    pub struct User {
        #[column(primary_key)]
        pub id: Option<i64>,
        #[relationship(back_populates = "user")]
        pub posts: HasMany<Post>,
    }

    #[derive(Model)]
    #[model(table = "posts", crate = "super::facade::orm")]
    pub struct Post {
        #[column(primary_key)]
        pub id: Option<i64>,
        #[column(foreign_key = "users.id")]
        pub user_id: Option<i64>,
        #[relationship(back_populates = "posts")]
        pub user: BelongsTo<User>,
    }
}

fn main() {
    use facade::orm::Model as _;
    assert_eq!(models::User::META.table, "users");
    assert_eq!(models::Post::USER.index(), 0);
}
