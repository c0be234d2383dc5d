//! Every keyword the derive understands, in one place: attribute names, attribute keys, and the
//! values some keys accept. Parsers and messages refer to these constants, never to literals.
//!
//! Some spellings repeat across roles (`cascade` is a key and an `on_delete` rule, `all` a cascade
//! token and a `passive_deletes` value): each role has its own constant, so that changing one
//! never changes the other.

/// `#[sql(...)]` on a type deriving `SqlValue`, and on its variants.
pub const SQL: &str = "sql";
/// `#[sql(rename = "...")]` on a variant.
pub const RENAME: &str = "rename";
/// `#[sql(rename_all = "...")]` on an enum.
pub const RENAME_ALL: &str = "rename_all";
/// The keys `#[sql]` accepts on a type.
pub const SQL_ENUM_KEYS: &[&str] = &[CRATE, RENAME_ALL];
/// The keys `#[sql]` accepts on a variant.
pub const SQL_VARIANT_KEYS: &[&str] = &[RENAME];
/// The rules `rename_all` accepts (serde's spellings).
pub const RENAME_RULES: &[&str] = &[
    "lowercase",
    "UPPERCASE",
    "snake_case",
    "SCREAMING_SNAKE_CASE",
    "kebab-case",
    "camelCase",
];

/// `#[model(...)]` on the struct.
pub const MODEL: &str = "model";
/// `#[column(...)]` on a column field.
pub const COLUMN: &str = "column";
/// `#[relationship(...)]` on a relationship field.
pub const RELATIONSHIP: &str = "relationship";

/// `#[model(table = "...")]`.
pub const TABLE: &str = "table";
/// `#[model(crate = "path::to::orm_core")]`: how generated code reaches a re-exported runtime.
pub const CRATE: &str = "crate";
/// The keys `#[model]` accepts.
pub const MODEL_KEYS: &[&str] = &[TABLE, CRATE];

/// `#[column(primary_key)]`.
pub const PRIMARY_KEY: &str = "primary_key";
/// `#[column(unique)]`.
pub const UNIQUE: &str = "unique";
/// `#[column(index)]`.
pub const INDEX: &str = "index";
/// `#[column(name = "...")]`.
pub const NAME: &str = "name";
/// `#[column(foreign_key = "table.column")]` and `#[relationship(foreign_key = "column")]`.
pub const FOREIGN_KEY: &str = "foreign_key";
/// `#[column(on_delete = "...")]`.
pub const ON_DELETE: &str = "on_delete";
/// `#[column(default = "SQL")]`.
pub const DEFAULT: &str = "default";
/// The keys `#[column]` accepts.
pub const COLUMN_KEYS: &[&str] = &[
    PRIMARY_KEY,
    UNIQUE,
    INDEX,
    NAME,
    FOREIGN_KEY,
    ON_DELETE,
    DEFAULT,
];

/// `#[relationship(cascade = "...")]`.
pub const CASCADE: &str = "cascade";
/// `#[relationship(back_populates = "...")]`.
pub const BACK_POPULATES: &str = "back_populates";
/// `#[relationship(passive_deletes = true | "all")]`.
pub const PASSIVE_DELETES: &str = "passive_deletes";
/// `#[relationship(single_parent = true)]`.
pub const SINGLE_PARENT: &str = "single_parent";
/// `#[relationship(through = AssocModel)]`.
pub const THROUGH: &str = "through";
/// The keys `#[relationship]` accepts.
pub const RELATIONSHIP_KEYS: &[&str] = &[
    CASCADE,
    BACK_POPULATES,
    PASSIVE_DELETES,
    SINGLE_PARENT,
    FOREIGN_KEY,
    THROUGH,
];

/// `passive_deletes = "all"`.
pub const PASSIVE_ALL: &str = "all";

/// The cascade tokens, as in SQLAlchemy. The runtime spells the single ones once more, in
/// `orm_core::meta::Cascade::TOKENS`: orm-derive cannot depend on orm-core (orm-core depends on
/// it), so each side of the proc-macro boundary has one table, and `tests/tests/derive_meta.rs`
/// checks that they agree. Generated code names the runtime's constants after these tokens
/// (`delete-orphan` -> `Cascade::DELETE_ORPHAN`).
pub const SAVE_UPDATE: &str = "save-update";
/// See [`SAVE_UPDATE`].
pub const MERGE: &str = "merge";
/// See [`SAVE_UPDATE`].
pub const REFRESH_EXPIRE: &str = "refresh-expire";
/// See [`SAVE_UPDATE`].
pub const EXPUNGE: &str = "expunge";
/// See [`SAVE_UPDATE`].
pub const DELETE: &str = "delete";
/// See [`SAVE_UPDATE`].
pub const DELETE_ORPHAN: &str = "delete-orphan";
/// `all`: every token but `delete-orphan`.
pub const ALL: &str = "all";
/// `none`: the empty set.
pub const NONE: &str = "none";
/// Every cascade token, in the order messages list them.
pub const CASCADE_TOKENS: &[&str] = &[
    SAVE_UPDATE,
    MERGE,
    REFRESH_EXPIRE,
    EXPUNGE,
    DELETE,
    DELETE_ORPHAN,
    ALL,
    NONE,
];

/// `on_delete = "cascade"`.
pub const ON_DELETE_CASCADE: &str = "cascade";
/// `on_delete = "set null"`.
pub const ON_DELETE_SET_NULL: &str = "set null";
/// `on_delete = "restrict"`.
pub const ON_DELETE_RESTRICT: &str = "restrict";
/// `on_delete = "no action"` (the default).
pub const ON_DELETE_NO_ACTION: &str = "no action";
/// The values `on_delete` accepts, in the order messages list them.
pub const ON_DELETE_VALUES: &[&str] = &[
    ON_DELETE_CASCADE,
    ON_DELETE_SET_NULL,
    ON_DELETE_RESTRICT,
    ON_DELETE_NO_ACTION,
];

/// The relationship field types, by the last segment of their path.
pub const HAS_MANY: &str = "HasMany";
/// See [`HAS_MANY`].
pub const HAS_ONE: &str = "HasOne";
/// See [`HAS_MANY`].
pub const BELONGS_TO: &str = "BelongsTo";
/// See [`HAS_MANY`].
pub const MANY_TO_MANY: &str = "ManyToMany";

/// What a relationship field's type must be, for messages.
pub const EXPECTED_RELATIONSHIP_TYPE: &str =
    "expected HasMany<T>, HasOne<T>, BelongsTo<T> or ManyToMany<T>";

/// Lists keywords for a message: "`a`, `b` or `c`".
pub fn list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(list(&["a"]), "`a`");
        assert_eq!(list(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
