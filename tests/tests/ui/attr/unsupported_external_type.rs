// Rule: a type from another crate is a column type only through a feature of orm-core; the
// message lists them (a duration has none).
use orm_core::prelude::*;

#[derive(Model)]
pub struct Job {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub elapsed: chrono::TimeDelta,
}

fn main() {}
