//! Every keyword the derive understands, in one place: attribute names, attribute keys, and the
//! values some keys accept. Parsers and messages refer to these constants, never to literals.

/// `#[model(...)]` on the struct.
pub const MODEL: &str = "model";
/// `#[column(...)]` on a column field.
pub const COLUMN: &str = "column";
/// `#[relationship(...)]` on a relationship field.
pub const RELATIONSHIP: &str = "relationship";

/// `#[model(table = "...")]`.
pub const TABLE: &str = "table";
/// The keys `#[model]` accepts.
pub const MODEL_KEYS: &[&str] = &[TABLE];

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
/// The keys `#[column]` accepts.
pub const COLUMN_KEYS: &[&str] = &[PRIMARY_KEY, UNIQUE, INDEX, NAME, FOREIGN_KEY, ON_DELETE];

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

/// The cascade tokens, as in SQLAlchemy.
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

/// The values `on_delete` accepts, in the order messages list them.
pub const ON_DELETE_VALUES: &[&str] = &["cascade", "set null", "restrict", "no action"];

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
