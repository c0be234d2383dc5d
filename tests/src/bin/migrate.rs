//! The migrations command for the seed models (`orm_tests::models`), as a user's crate adds it
//! (`src/bin/migrate.rs`): `cargo run -p orm-tests --bin migrate -- status --database-url
//! sqlite://seed.db`. The guide's "Migrations" chapter describes the commands.

use orm_core::prelude::*;
use orm_tests::models::{Address, User};

fn main() -> std::process::ExitCode {
    orm_migrate::cli(&[User::META, Address::META])
}
