//! orm-core: metadata, the cascade planner, the async session and SQL rendering.
//!
//! Most users import the prelude and derive [`Model`]:
//!
//! ```
//! use orm_core::prelude::*;
//!
//! #[derive(Model, Debug)]
//! #[model(table = "users")]
//! pub struct User {
//!     #[column(primary_key)]
//!     pub id: Option<i64>,
//!     pub name: String,
//! }
//!
//! assert_eq!(User::META.table, "users");
//! assert_eq!(User::META.columns[1].name, "name");
//! ```

#![warn(missing_docs)]

// Lets the derive's `::orm_core::...` paths resolve inside this crate's own tests.
extern crate self as orm_core;

pub mod backend;
pub mod column;
pub mod decimal;
pub mod error;
pub mod meta;
pub mod model;
pub mod temporal;
mod types;
pub mod value;

mod arena;
mod checks;
mod database;
mod members;
mod plan;
mod schema;
mod session;
pub mod sql;
mod transaction;

pub use column::{Column, Condition, Rel};
pub use database::Database;
pub use error::{ConflictKind, ConstraintKind, DbDetails, DriverError, Error, Result};
pub use model::{BelongsTo, Handle, HasMany, HasOne, ManyToMany, Model, Relationship};
pub use orm_derive::{Model, SqlValue};
pub use plan::preview::{PlannedStatement, Preview, TableEffect};
pub use session::Columns;
pub use session::{
    BindValue, FromRow, IntoKey, ObjectState, Query, RawQuery, RelationValue, Session,
};
pub use transaction::{IsolationLevel, RetryPolicy, TransactionError, TxOptions};
pub use value::{Json, Nanos, SqlType, SqlValue, Value, ValueError};

/// The names most programs need.
pub mod prelude {
    pub use crate::{
        BelongsTo, Database, Error, Handle, HasMany, HasOne, ManyToMany, Model, ObjectState,
        Result, Session, SqlValue,
    };
}

/// Used by the code `#[derive(Model)]` generates; not a public API.
#[doc(hidden)]
pub mod __private {
    #[allow(unused_imports)]
    pub use crate::checks::*;
    pub use crate::column::{Column, Rel};
    pub use crate::error::Error;
    /// Work counters for complexity tests (not part of the API).
    pub use crate::members::member_probes;
    pub use crate::meta::{
        Cascade, ColumnMeta, ForeignKeyMeta, ModelMeta, OnDelete, PassiveDeletes, RelKind,
        RelationshipMeta,
    };
    pub use crate::model::{Model, RelSlot, Relationship};
    pub use crate::value::{SqlType, SqlValue, Value, ValueError};

    /// The metadata of `M`, as a function pointer that relationships can hold without creating
    /// a cycle between two models' constants.
    pub fn meta_of<M: Model>() -> &'static ModelMeta {
        M::META
    }

    /// Whether a column of Rust type `T` is a database-generated key: the sole primary key, an
    /// integer declared `Option<_>` (None until inserted).
    pub const fn generated_key<T: SqlValue>(sole_primary_key: bool) -> bool {
        sole_primary_key && T::NULLABLE && matches!(T::SQL_TYPE, SqlType::Integer)
    }

    /// Reached only if generated code is inconsistent with its own metadata.
    #[track_caller]
    pub fn no_such_relation(model: &str, index: usize) -> ! {
        unreachable!("model `{model}` has no relationship #{index}")
    }
}
