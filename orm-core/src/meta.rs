//! Static metadata emitted by `#[derive(Model)]`: tables, columns, foreign keys, relationships.
//!
//! Everything here is `&'static` and built at compile time; there is no run-time registry. A
//! relationship points at its target through a function pointer (`fn() -> &'static ModelMeta`)
//! because two models that point at each other cannot be two constants that contain each other.
//!
//! The types are `#[non_exhaustive]` so that they can grow: their fields are read freely, and
//! they are built with the `const` constructors below (`ModelMeta::new(..).with_columns(..)`),
//! which is what the derive emits.

use crate::value::SqlType;
use std::fmt;

/// The description of one model (one table).
#[derive(Debug)]
#[non_exhaustive]
pub struct ModelMeta {
    /// The Rust type name, used in messages (`User`).
    pub name: &'static str,
    /// The SQL table name.
    pub table: &'static str,
    /// Columns in field order.
    pub columns: &'static [ColumnMeta],
    /// Indexes into `columns` of the primary key, in declaration order.
    pub primary_key: &'static [usize],
    /// Foreign keys declared on this table's columns.
    pub foreign_keys: &'static [ForeignKeyMeta],
    /// Relationship fields, in field order.
    pub relationships: &'static [RelationshipMeta],
}

/// One column.
#[derive(Debug)]
#[non_exhaustive]
pub struct ColumnMeta {
    /// The Rust field name.
    pub field: &'static str,
    /// The SQL column name (the field name unless overridden with `name = "..."`).
    pub name: &'static str,
    /// The SQL type, from the field's Rust type.
    pub sql_type: SqlType,
    /// Whether the column accepts NULL: exactly when the field is `Option<T>` and not a key.
    pub nullable: bool,
    /// Part of the primary key.
    pub primary_key: bool,
    /// A key the database generates: the sole primary key, an integer declared `Option<_>`.
    pub generated: bool,
    /// `#[column(unique)]`.
    pub unique: bool,
    /// `#[column(index)]`; foreign-key columns are always indexed.
    pub indexed: bool,
    /// `#[column(default = "SQL")]`: the database fills the column in when an insert leaves it
    /// NULL (the field is `None`), and the flush reads the value back into the object.
    pub default: Option<&'static str>,
}

/// What the database does to referencing rows when the referenced row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnDelete {
    /// `NO ACTION` (the default): the delete fails if rows still reference it.
    NoAction,
    /// `RESTRICT`: as `NO ACTION`, checked immediately.
    Restrict,
    /// `CASCADE`: the database deletes the referencing rows.
    Cascade,
    /// `SET NULL`: the database nulls the referencing column.
    SetNull,
}

impl OnDelete {
    /// The SQL spelling.
    pub fn as_sql(self) -> &'static str {
        match self {
            OnDelete::NoAction => "NO ACTION",
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
        }
    }
}

/// A single-column foreign key.
#[derive(Debug)]
#[non_exhaustive]
pub struct ForeignKeyMeta {
    /// Index into the owning model's `columns`.
    pub column: usize,
    /// The referenced table.
    pub target_table: &'static str,
    /// The referenced column.
    pub target_column: &'static str,
    /// The `ON DELETE` rule.
    pub on_delete: OnDelete,
}

/// The kind of a relationship field; its direction comes from where the foreign key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelKind {
    /// One-to-many: the foreign key is on the target's table.
    HasMany,
    /// One-to-one seen from the side without the foreign key.
    HasOne,
    /// Many-to-one: the foreign key is on this model's table.
    BelongsTo,
    /// Many-to-many through an association model.
    ManyToMany,
}

impl RelKind {
    /// The field type's name, for messages (const: the derive's compile-time checks use it).
    pub const fn type_name(self) -> &'static str {
        match self {
            RelKind::HasMany => "HasMany",
            RelKind::HasOne => "HasOne",
            RelKind::BelongsTo => "BelongsTo",
            RelKind::ManyToMany => "ManyToMany",
        }
    }

    /// Whether the field holds a collection (as opposed to at most one object).
    pub fn is_collection(self) -> bool {
        matches!(self, RelKind::HasMany | RelKind::ManyToMany)
    }

    /// Whether `other` is a valid `back_populates` partner of this kind.
    pub const fn pairs_with(self, other: RelKind) -> bool {
        matches!(
            (self, other),
            (RelKind::HasMany | RelKind::HasOne, RelKind::BelongsTo)
                | (RelKind::BelongsTo, RelKind::HasMany | RelKind::HasOne)
                | (RelKind::ManyToMany, RelKind::ManyToMany)
        )
    }
}

/// The cascade tokens of a relationship, as a small bit set.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cascade(u8);

impl Cascade {
    /// `none`: the empty set.
    pub const NONE: Cascade = Cascade(0);
    /// `save-update`.
    pub const SAVE_UPDATE: Cascade = Cascade(1);
    /// `merge`.
    pub const MERGE: Cascade = Cascade(1 << 1);
    /// `refresh-expire`.
    pub const REFRESH_EXPIRE: Cascade = Cascade(1 << 2);
    /// `expunge`.
    pub const EXPUNGE: Cascade = Cascade(1 << 3);
    /// `delete`.
    pub const DELETE: Cascade = Cascade(1 << 4);
    /// `delete-orphan`.
    pub const DELETE_ORPHAN: Cascade = Cascade(1 << 5);
    /// `all`: everything but `delete-orphan`.
    pub const ALL: Cascade = Cascade(0b1_1111);
    /// The default when `cascade` is absent: `save-update, merge`.
    pub const DEFAULT: Cascade = Cascade(0b11);

    /// The union of two sets.
    pub const fn union(self, other: Cascade) -> Cascade {
        Cascade(self.0 | other.0)
    }

    /// Whether every token of `other` is in `self`.
    pub const fn contains(self, other: Cascade) -> bool {
        self.0 & other.0 == other.0
    }

    /// The single cascade tokens as users write them, and their flags: the one place the runtime
    /// spells them (`Debug` lists a set with them).
    ///
    /// The derive parses `cascade = "..."` at compile time and cannot read this table: orm-core
    /// depends on orm-derive (to re-export `#[derive(Model)]`), so orm-derive cannot depend on
    /// orm-core. Its own table is `orm-derive/src/symbol.rs` (with `all` and `none`, which name
    /// sets, not flags). So there are exactly two, one per side of the proc-macro boundary;
    /// `tests/tests/derive_meta.rs` (`cascade_tokens_agree_with_the_derive`) checks they agree.
    pub const TOKENS: &'static [(&'static str, Cascade)] = &[
        ("save-update", Cascade::SAVE_UPDATE),
        ("merge", Cascade::MERGE),
        ("refresh-expire", Cascade::REFRESH_EXPIRE),
        ("expunge", Cascade::EXPUNGE),
        ("delete", Cascade::DELETE),
        ("delete-orphan", Cascade::DELETE_ORPHAN),
    ];
}

impl fmt::Debug for Cascade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Cascade::TOKENS
            .iter()
            .filter(|(_, c)| self.contains(*c))
            .map(|(n, _)| *n)
            .collect();
        write!(f, "Cascade({})", names.join(", "))
    }
}

/// `passive_deletes`: how much of a parent's delete the ORM leaves to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PassiveDeletes {
    /// The ORM handles every child (the default).
    Off,
    /// `passive_deletes = true`: children not loaded are left to the database's `ON DELETE`.
    Unloaded,
    /// `passive_deletes = "all"`: the ORM never nulls or deletes the children.
    All,
}

/// One relationship field.
#[derive(Debug)]
#[non_exhaustive]
pub struct RelationshipMeta {
    /// The Rust field name.
    pub field: &'static str,
    /// Its kind.
    pub kind: RelKind,
    /// The target model.
    pub target: fn() -> &'static ModelMeta,
    /// Its cascade tokens.
    pub cascade: Cascade,
    /// The field on the target that is the other side of this pair, if any.
    pub back_populates: Option<&'static str>,
    /// `passive_deletes`.
    pub passive_deletes: PassiveDeletes,
    /// `single_parent = true`.
    pub single_parent: bool,
    /// The foreign-key column to use (on whichever side holds it) when several could link.
    pub foreign_key: Option<&'static str>,
    /// The association model of a many-to-many.
    pub through: Option<fn() -> &'static ModelMeta>,
}

impl ModelMeta {
    /// The index of the column with this SQL name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The index of the relationship with this field name.
    pub fn relationship_index(&self, field: &str) -> Option<usize> {
        self.relationships.iter().position(|r| r.field == field)
    }

    /// The column the database generates (an auto-incrementing key), if any.
    pub(crate) fn generated_column(&self) -> Option<usize> {
        self.columns.iter().position(|c| c.generated)
    }

    /// The foreign key declared on column `column`, if any.
    pub fn foreign_key_on(&self, column: usize) -> Option<&'static ForeignKeyMeta> {
        self.foreign_keys.iter().find(|fk| fk.column == column)
    }

    /// Whether two metadata references describe the same model.
    /// Compared by table and name (the same constant may live at several addresses, and two
    /// models may map one table).
    pub fn same(&self, other: &ModelMeta) -> bool {
        std::ptr::eq(self, other) || (self.table == other.table && self.name == other.name)
    }
}

// Const constructors: the derive builds metadata with these, so that adding a field later
// breaks no user crate (the types are `#[non_exhaustive]`).

impl ModelMeta {
    /// A model with no columns, keys or relationships yet.
    pub const fn new(name: &'static str, table: &'static str) -> Self {
        ModelMeta {
            name,
            table,
            columns: &[],
            primary_key: &[],
            foreign_keys: &[],
            relationships: &[],
        }
    }

    /// With these columns, in field order.
    pub const fn with_columns(self, columns: &'static [ColumnMeta]) -> Self {
        ModelMeta { columns, ..self }
    }

    /// With this primary key (indexes into the columns).
    pub const fn with_primary_key(self, primary_key: &'static [usize]) -> Self {
        ModelMeta {
            primary_key,
            ..self
        }
    }

    /// With these foreign keys.
    pub const fn with_foreign_keys(self, foreign_keys: &'static [ForeignKeyMeta]) -> Self {
        ModelMeta {
            foreign_keys,
            ..self
        }
    }

    /// With these relationships, in field order.
    pub const fn with_relationships(self, relationships: &'static [RelationshipMeta]) -> Self {
        ModelMeta {
            relationships,
            ..self
        }
    }
}

impl ColumnMeta {
    /// A NOT NULL column that is not a key, not unique and not indexed.
    pub const fn new(field: &'static str, name: &'static str, sql_type: SqlType) -> Self {
        ColumnMeta {
            field,
            name,
            sql_type,
            nullable: false,
            primary_key: false,
            generated: false,
            unique: false,
            indexed: false,
            default: None,
        }
    }

    /// The SQL expression the database fills the column in with.
    pub const fn with_default(self, sql: &'static str) -> Self {
        ColumnMeta {
            default: Some(sql),
            ..self
        }
    }

    /// Whether the database fills this column in when an insert leaves it out.
    pub const fn filled_by_database(&self) -> bool {
        self.generated || self.default.is_some()
    }

    /// Whether it accepts NULL.
    pub const fn with_nullable(self, nullable: bool) -> Self {
        ColumnMeta { nullable, ..self }
    }

    /// Whether it is part of the primary key.
    pub const fn with_primary_key(self, primary_key: bool) -> Self {
        ColumnMeta {
            primary_key,
            ..self
        }
    }

    /// Whether the database generates it.
    pub const fn with_generated(self, generated: bool) -> Self {
        ColumnMeta { generated, ..self }
    }

    /// Whether it is unique.
    pub const fn with_unique(self, unique: bool) -> Self {
        ColumnMeta { unique, ..self }
    }

    /// Whether it is indexed.
    pub const fn with_indexed(self, indexed: bool) -> Self {
        ColumnMeta { indexed, ..self }
    }
}

impl ForeignKeyMeta {
    /// Column `column` references `target_table.target_column`, with this `ON DELETE` rule.
    pub const fn new(
        column: usize,
        target_table: &'static str,
        target_column: &'static str,
        on_delete: OnDelete,
    ) -> Self {
        ForeignKeyMeta {
            column,
            target_table,
            target_column,
            on_delete,
        }
    }
}

impl RelationshipMeta {
    /// A relationship with the default cascade (`save-update, merge`) and no other option.
    pub const fn new(
        field: &'static str,
        kind: RelKind,
        target: fn() -> &'static ModelMeta,
    ) -> Self {
        RelationshipMeta {
            field,
            kind,
            target,
            cascade: Cascade::DEFAULT,
            back_populates: None,
            passive_deletes: PassiveDeletes::Off,
            single_parent: false,
            foreign_key: None,
            through: None,
        }
    }

    /// With these cascade tokens.
    pub const fn with_cascade(self, cascade: Cascade) -> Self {
        RelationshipMeta { cascade, ..self }
    }

    /// With this `back_populates` partner.
    pub const fn with_back_populates(self, back_populates: Option<&'static str>) -> Self {
        RelationshipMeta {
            back_populates,
            ..self
        }
    }

    /// With this `passive_deletes` setting.
    pub const fn with_passive_deletes(self, passive_deletes: PassiveDeletes) -> Self {
        RelationshipMeta {
            passive_deletes,
            ..self
        }
    }

    /// With `single_parent`.
    pub const fn with_single_parent(self, single_parent: bool) -> Self {
        RelationshipMeta {
            single_parent,
            ..self
        }
    }

    /// With the foreign-key column chosen by `foreign_key = "..."`.
    pub const fn with_foreign_key(self, foreign_key: Option<&'static str>) -> Self {
        RelationshipMeta {
            foreign_key,
            ..self
        }
    }

    /// With the association model of a many-to-many.
    pub const fn with_through(self, through: Option<fn() -> &'static ModelMeta>) -> Self {
        RelationshipMeta { through, ..self }
    }
}
