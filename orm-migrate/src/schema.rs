//! One typed shape for a schema, whether it was read from a live database ([`introspect`]) or
//! derived from the models ([`desired`]): the diff compares two of these.
//!
//! [`introspect`]: crate::introspect
//! [`desired`]: crate::desired

use orm_core::meta::{ModelMeta, OnDelete};

/// The tables of a schema, in name order.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Schema {
    /// The tables (the migrations' tracking table is never one of them).
    pub tables: Vec<Table>,
    /// What SQLite keeps besides the typed tables, which a table rebuild must carry over or
    /// cannot (empty elsewhere).
    pub(crate) sqlite: SqliteObjects,
}

/// SQLite schema objects the typed [`Table`] does not describe.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SqliteObjects {
    /// Every view, as `(name, CREATE VIEW ...)`.
    pub views: Vec<(String, String)>,
    /// Every trigger, as `(table, name, CREATE TRIGGER ...)`.
    pub triggers: Vec<(String, String, String)>,
    /// Indexes the typed schema cannot describe (partial, on expressions), as
    /// `(table, CREATE INDEX ...)`.
    pub indexes: Vec<(String, String)>,
    /// Parts of a table's definition a rebuild from the typed table would lose, as
    /// `(table, what)`.
    pub unsupported: Vec<(String, &'static str)>,
}

/// One table.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Table {
    /// Its name.
    pub name: String,
    /// Its columns, in their order in the table.
    pub columns: Vec<Column>,
    /// The primary-key columns, in key order (empty: no primary key).
    pub primary_key: Vec<String>,
    /// The name of the primary-key constraint, where the database names it (PostgreSQL).
    pub primary_key_name: Option<String>,
    /// Its foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// Its indexes and unique constraints.
    pub indexes: Vec<Index>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type as the database spells it when asked (`INTEGER` on SQLite, `bigint` on
    /// PostgreSQL).
    pub type_name: String,
    /// Whether it accepts NULL (primary-key columns never do).
    pub nullable: bool,
    /// Its default expression, as the database reports it.
    pub default: Option<String>,
    /// Whether the database generates its values (SQLite's `INTEGER PRIMARY KEY`, PostgreSQL's
    /// identity columns).
    pub generated: bool,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForeignKey {
    /// The constraint's name, where the database names it (PostgreSQL).
    pub name: Option<String>,
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub target_table: String,
    /// The referenced columns.
    pub target_columns: Vec<String>,
    /// What deleting a referenced row does.
    pub on_delete: OnDelete,
}

/// An index or a unique constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Index {
    /// Its name.
    pub name: String,
    /// The indexed columns, in order.
    pub columns: Vec<String>,
    /// Whether it is unique.
    pub unique: bool,
    /// Whether it is a constraint of the table's definition (`UNIQUE (c)`) rather than an index
    /// created on its own: dropping one is a table change, not `DROP INDEX`.
    pub constraint: bool,
}

impl Schema {
    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub(crate) fn sort(&mut self) {
        self.tables.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

impl Table {
    /// A table called `name` with nothing in it yet (introspection fills it in).
    pub(crate) fn named(name: String) -> Table {
        Table {
            name,
            columns: Vec::new(),
            primary_key: Vec::new(),
            primary_key_name: None,
            foreign_keys: Vec::new(),
            indexes: Vec::new(),
        }
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Renames column `from` to `to` everywhere the table names it.
    pub(crate) fn rename_column(&mut self, from: &str, to: &str) {
        let rename = |name: &mut String| {
            if name == from {
                *name = to.to_owned();
            }
        };
        self.columns.iter_mut().for_each(|c| rename(&mut c.name));
        self.primary_key.iter_mut().for_each(rename);
        for fk in &mut self.foreign_keys {
            fk.columns.iter_mut().for_each(rename);
        }
        for index in &mut self.indexes {
            index.columns.iter_mut().for_each(rename);
        }
    }
}

impl ForeignKey {
    /// Whether two foreign keys are the same constraint, whatever their names.
    pub fn same_as(&self, other: &ForeignKey) -> bool {
        self.columns == other.columns
            && self.target_table == other.target_table
            && self.target_columns == other.target_columns
            && self.on_delete == other.on_delete
    }
}

impl Index {
    /// Whether two indexes index the same columns the same way, whatever their names (a unique
    /// constraint and a unique index are the same guarantee).
    pub fn same_as(&self, other: &Index) -> bool {
        self.columns == other.columns && self.unique == other.unique
    }
}

/// The table a model describes, with types spelt by `types` (the backend's introspected
/// spelling) and without the normalisation a backend applies afterwards.
pub(crate) fn model_table(
    model: &ModelMeta,
    type_name: impl Fn(&orm_core::SqlType) -> String,
) -> Table {
    let primary_key: Vec<String> = model
        .primary_key
        .iter()
        .map(|&i| model.columns[i].name.to_owned())
        .collect();
    let leads_key = |name: &str| primary_key.first().is_some_and(|k| k == name);
    let columns = model
        .columns
        .iter()
        .map(|c| Column {
            name: c.name.to_owned(),
            type_name: type_name(&c.sql_type),
            nullable: c.nullable && !c.primary_key,
            default: c.default.map(|d| d.trim().to_owned()),
            generated: c.generated,
        })
        .collect();
    let foreign_keys = model
        .foreign_keys
        .iter()
        .map(|fk| {
            let column = model.columns[fk.column].name;
            ForeignKey {
                name: Some(format!("fk_{}_{}", model.table, column)),
                columns: vec![column.to_owned()],
                target_table: fk.target_table.to_owned(),
                target_columns: vec![fk.target_column.to_owned()],
                on_delete: fk.on_delete,
            }
        })
        .collect();
    // The same indexes `Database::create_all` creates: `unique` columns get a unique
    // constraint, `index` (and foreign-key) columns an index, except the key's first column
    // (the key's own index serves it).
    let indexes = model
        .columns
        .iter()
        .filter(|c| c.unique || (c.indexed && !leads_key(c.name)))
        .map(|c| Index {
            name: format!(
                "{}_{}_{}",
                if c.unique { "uq" } else { "ix" },
                model.table,
                c.name
            ),
            columns: vec![c.name.to_owned()],
            unique: c.unique,
            constraint: c.unique,
        })
        .collect();
    Table {
        name: model.table.to_owned(),
        columns,
        primary_key,
        primary_key_name: None,
        foreign_keys,
        indexes,
    }
}

/// Makes what each side reports comparable: key columns are NOT NULL, and foreign keys and
/// indexes are in a stable order.
pub(crate) fn normalize(table: &mut Table) {
    for column in &mut table.columns {
        if table.primary_key.contains(&column.name) {
            column.nullable = false;
        }
    }
    table
        .foreign_keys
        .sort_by(|a, b| (&a.columns, &a.target_table).cmp(&(&b.columns, &b.target_table)));
    table
        .indexes
        .sort_by(|a, b| (&a.columns, a.unique).cmp(&(&b.columns, b.unique)));
}
