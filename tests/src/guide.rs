//! The user guide (`docs/src`), one module per chapter, so that every ```rust block of the
//! mdBook compiles and runs as a doctest of this crate (`cargo test --workspace --doc`).
//! Blocks that must not compile are marked ```compile_fail; other blocks name their language.

#[doc = include_str!("../../docs/src/introduction.md")]
pub mod introduction {}

#[doc = include_str!("../../docs/src/getting-started.md")]
pub mod getting_started {}

#[doc = include_str!("../../docs/src/models.md")]
pub mod models {}

#[doc = include_str!("../../docs/src/session.md")]
pub mod session {}

#[doc = include_str!("../../docs/src/relationships.md")]
pub mod relationships {}

#[doc = include_str!("../../docs/src/backends.md")]
pub mod backends {}

#[doc = include_str!("../../docs/src/service.md")]
pub mod service {}

#[doc = include_str!("../../docs/src/migrations.md")]
pub mod migrations {}

#[doc = include_str!("../../docs/dev/architecture.md")]
pub mod architecture {}

#[doc = include_str!("../../README.md")]
pub mod readme {}
