//! Comparing the schema the models describe with the live one: typed [`Change`]s, in the order
//! they can run, and warnings where the comparison cannot know what was meant (renames).

use crate::backend::SchemaDialect;
use crate::error::{Error, Result};
use crate::schema::{Column, ForeignKey, Index, Schema, Table};
use std::collections::HashSet;
use std::fmt;

/// Renames the diff cannot guess: a column (or table) that disappears while another appears is
/// a drop and an add unless it is declared here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renames {
    tables: Vec<(String, String)>,
    columns: Vec<(String, String, String)>,
}

impl Renames {
    /// No renames.
    pub fn new() -> Self {
        Renames::default()
    }

    /// Table `from` is now called `to` (its rows are kept).
    pub fn table(mut self, from: &str, to: &str) -> Self {
        self.tables.push((from.to_owned(), to.to_owned()));
        self
    }

    /// Column `from` of `table` (its new name, if the table is renamed too) is now called `to`.
    pub fn column(mut self, table: &str, from: &str, to: &str) -> Self {
        self.columns
            .push((table.to_owned(), from.to_owned(), to.to_owned()));
        self
    }

    /// Adds a rename written as the CLI takes it: `table.old=new` for a column, `old=new` for a
    /// table.
    pub fn parse(self, spec: &str) -> std::result::Result<Self, String> {
        let bad = || {
            format!("`{spec}` is not a rename: write `table.old_column=new_column` or `old_table=new_table`")
        };
        let (from, to) = spec.split_once('=').ok_or_else(bad)?;
        let (from, to) = (from.trim(), to.trim());
        if from.is_empty() || to.is_empty() || to.contains('.') {
            return Err(bad());
        }
        Ok(match from.split_once('.') {
            Some((table, column)) if !table.is_empty() && !column.is_empty() => {
                self.column(table, column, to)
            }
            Some(_) => return Err(bad()),
            None => self.table(from, to),
        })
    }
}

/// One change to a schema.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// A new table, with its keys and indexes.
    CreateTable(Table),
    /// A table the models no longer have (destructive: its rows are lost).
    DropTable(Table),
    /// A declared table rename.
    RenameTable {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A new column.
    AddColumn {
        /// The table.
        table: String,
        /// The column.
        column: Column,
    },
    /// A column the model no longer has (destructive: its values are lost).
    DropColumn {
        /// The table.
        table: String,
        /// The column as it is.
        column: Column,
    },
    /// A declared column rename.
    RenameColumn {
        /// The table.
        table: String,
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A column whose type, nullability, default or generation changes.
    AlterColumn {
        /// The table.
        table: String,
        /// The column as it is.
        from: Column,
        /// The column as the model has it.
        to: Column,
        /// Whether the type change can lose values (destructive).
        narrows: bool,
    },
    /// A different primary key.
    AlterPrimaryKey {
        /// The table.
        table: String,
        /// The key's constraint name, where the database names it.
        name: Option<String>,
        /// The key columns as they are.
        from: Vec<String>,
        /// The key columns as the model has them.
        to: Vec<String>,
    },
    /// A new foreign key.
    AddForeignKey {
        /// The referencing table.
        table: String,
        /// The foreign key.
        foreign_key: ForeignKey,
    },
    /// A foreign key the model no longer has.
    DropForeignKey {
        /// The referencing table.
        table: String,
        /// The foreign key as it is.
        foreign_key: ForeignKey,
    },
    /// A new index or unique constraint.
    AddIndex {
        /// The table.
        table: String,
        /// The index.
        index: Index,
    },
    /// An index or unique constraint the model no longer has.
    DropIndex {
        /// The table.
        table: String,
        /// The index as it is.
        index: Index,
    },
}

impl Change {
    /// The table it changes.
    pub fn table(&self) -> &str {
        match self {
            Change::CreateTable(table) | Change::DropTable(table) => &table.name,
            Change::RenameTable { to, .. } => to,
            Change::AddColumn { table, .. }
            | Change::DropColumn { table, .. }
            | Change::RenameColumn { table, .. }
            | Change::AlterColumn { table, .. }
            | Change::AlterPrimaryKey { table, .. }
            | Change::AddForeignKey { table, .. }
            | Change::DropForeignKey { table, .. }
            | Change::AddIndex { table, .. }
            | Change::DropIndex { table, .. } => table,
        }
    }

    /// Whether it can lose data: dropping a table or a column, or narrowing a type. Such
    /// changes are generated only when asked for.
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            Change::DropTable(_)
                | Change::DropColumn { .. }
                | Change::AlterColumn { narrows: true, .. }
        )
    }

    /// The rank of [`Change::DropTable`]: SQLite's rebuilds run just before it.
    pub(crate) const DROP_TABLE_RANK: u8 = 9;

    /// Where it runs in a migration: renames first (later changes use the new names), then
    /// what frees names and references, then what is built on them.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Change::RenameTable { .. } => 0,
            Change::RenameColumn { .. } => 1,
            Change::DropForeignKey { .. } => 2,
            Change::DropIndex { .. } => 3,
            Change::CreateTable(_) => 4,
            Change::AddColumn { .. } => 5,
            // Before the columns change: a column leaving the key may then drop NOT NULL.
            Change::AlterPrimaryKey { .. } => 6,
            Change::AlterColumn { .. } => 7,
            Change::DropColumn { .. } => 8,
            Change::DropTable(_) => Self::DROP_TABLE_RANK,
            Change::AddIndex { .. } => 10,
            Change::AddForeignKey { .. } => 11,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::CreateTable(t) => write!(f, "create table `{}`", t.name),
            Change::DropTable(t) => write!(f, "drop table `{}`", t.name),
            Change::RenameTable { from, to } => write!(f, "rename table `{from}` to `{to}`"),
            Change::AddColumn { table, column } => {
                write!(f, "add column `{table}.{}`", column.name)
            }
            Change::DropColumn { table, column } => {
                write!(f, "drop column `{table}.{}`", column.name)
            }
            Change::RenameColumn { table, from, to } => {
                write!(f, "rename column `{table}.{from}` to `{to}`")
            }
            Change::AlterColumn {
                table, from, to, ..
            } => {
                write!(f, "alter column `{table}.{}`:", to.name)?;
                if from.type_name != to.type_name {
                    write!(f, " type {} -> {}", from.type_name, to.type_name)?;
                }
                if from.nullable != to.nullable {
                    f.write_str(if to.nullable {
                        " drop NOT NULL"
                    } else {
                        " set NOT NULL"
                    })?;
                }
                if from.default != to.default {
                    match &to.default {
                        Some(d) => write!(f, " default {d}")?,
                        None => f.write_str(" drop default")?,
                    }
                }
                if from.generated != to.generated {
                    f.write_str(if to.generated {
                        " generated"
                    } else {
                        " not generated"
                    })?;
                }
                Ok(())
            }
            Change::AlterPrimaryKey { table, to, .. } => {
                write!(f, "primary key of `{table}` -> ({})", to.join(", "))
            }
            Change::AddForeignKey {
                table,
                foreign_key: fk,
            } => write!(
                f,
                "add foreign key `{table}` ({}) -> `{}` ({}) ON DELETE {}",
                fk.columns.join(", "),
                fk.target_table,
                fk.target_columns.join(", "),
                fk.on_delete.as_sql()
            ),
            Change::DropForeignKey {
                table,
                foreign_key: fk,
            } => write!(
                f,
                "drop foreign key `{table}` ({}) -> `{}`",
                fk.columns.join(", "),
                fk.target_table
            ),
            Change::AddIndex { table, index } => write!(
                f,
                "add {} on `{table}` ({})",
                if index.unique {
                    "unique index"
                } else {
                    "index"
                },
                index.columns.join(", ")
            ),
            Change::DropIndex { table, index } => {
                write!(f, "drop index `{}` on `{table}`", index.name)
            }
        }
    }
}

/// What separates the live schema from the models'.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Diff {
    /// The changes, in the order they run.
    pub changes: Vec<Change>,
    /// What the user should know: likely renames generated as drop + add.
    pub warnings: Vec<String>,
}

impl Diff {
    /// Whether the live schema already is what the models describe.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The destructive changes.
    pub fn destructive(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.is_destructive())
    }
}

/// The changes that turn `live` into `desired`, both normalised by `dialect`, and `live` as it
/// is once the declared renames have run (what the other changes apply to); an error if a
/// declared rename does not fit them.
pub(crate) fn diff(
    dialect: &dyn SchemaDialect,
    desired: &Schema,
    live: &Schema,
    renames: &Renames,
) -> Result<(Diff, Schema)> {
    let mut out = Diff::default();
    let live = renamed(live, desired, renames, &mut out)?;
    for table in &desired.tables {
        match live.table(&table.name) {
            None => out.changes.push(Change::CreateTable(table.clone())),
            Some(current) => diff_table(dialect, current, table, &mut out),
        }
    }
    let dropped: Vec<&Table> = live
        .tables
        .iter()
        .filter(|t| desired.table(&t.name).is_none())
        .collect();
    let created: Vec<&str> = out
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::CreateTable(t) => Some(t.name.as_str()),
            _ => None,
        })
        .collect();
    if !dropped.is_empty() && !created.is_empty() {
        let gone_tables: Vec<String> = dropped.iter().map(|t| t.name.clone()).collect();
        let created_tables: Vec<String> = created.iter().map(|s| (*s).to_owned()).collect();
        out.warnings.push(rename_warning(
            "table",
            &gone_tables,
            &created_tables,
            rename_flag("", &gone_tables, &created_tables),
        ));
    }
    // Dropped tables go referencing ones first; foreign keys into them from kept tables are
    // dropped before (they are changes of those tables).
    for table in dropped_in_order(&dropped) {
        out.changes.push(Change::DropTable(table.clone()));
    }
    out.changes.sort_by_key(Change::rank);
    unique_names(&live, &mut out.changes);
    Ok((out, live))
}

/// Gives each new index and constraint a name nothing in the database has: a table or column
/// renamed earlier keeps its indexes' names, so the name a model would give may be taken
/// (`ix_users_email` on the column that is now `mail`). A name this migration drops first is
/// free again.
fn unique_names(live: &Schema, changes: &mut [Change]) {
    let mut taken: HashSet<String> = live
        .tables
        .iter()
        .flat_map(|t| {
            let indexes = t.indexes.iter().map(|i| i.name.clone());
            let keys = t.foreign_keys.iter().filter_map(|fk| fk.name.clone());
            indexes.chain(keys).chain(t.primary_key_name.clone())
        })
        .collect();
    for change in changes.iter() {
        match change {
            Change::DropIndex { index, .. } => {
                taken.remove(&index.name);
            }
            Change::DropForeignKey { foreign_key, .. } => {
                if let Some(name) = &foreign_key.name {
                    taken.remove(name);
                }
            }
            _ => {}
        }
    }
    let mut claim = |name: &mut String| {
        if taken.contains(name.as_str()) {
            let free = (2..)
                .map(|n| format!("{name}_{n}"))
                .find(|candidate| !taken.contains(candidate))
                .unwrap_or_default();
            *name = free;
        }
        taken.insert(name.clone());
    };
    for change in changes.iter_mut() {
        match change {
            Change::AddIndex { index, .. } => claim(&mut index.name),
            Change::AddForeignKey { foreign_key, .. } => {
                foreign_key.name.iter_mut().for_each(&mut claim)
            }
            Change::CreateTable(table) => {
                table.indexes.iter_mut().for_each(|i| claim(&mut i.name));
                for fk in &mut table.foreign_keys {
                    fk.name.iter_mut().for_each(&mut claim);
                }
            }
            _ => {}
        }
    }
}

/// `live` with the declared renames applied (and recorded as changes), so that the rest of
/// the diff compares like with like. A rename already made is skipped; one that does not fit
/// the two schemas (a typo, a name the models do not have) is an error, not a drop and an add.
fn renamed(live: &Schema, desired: &Schema, renames: &Renames, out: &mut Diff) -> Result<Schema> {
    let mut live = live.clone();
    for (from, to) in &renames.tables {
        let spec = || format!("{from}={to}");
        if live.table(to).is_some() && live.table(from).is_none() {
            continue;
        }
        fits(
            spec,
            live.table(from).is_some(),
            "the database has no table",
            from,
        )?;
        fits(
            spec,
            live.table(to).is_none(),
            "the database already has a table",
            to,
        )?;
        fits(
            spec,
            desired.table(to).is_some(),
            "the models have no table",
            to,
        )?;
        fits(
            spec,
            desired.table(from).is_none(),
            "the models still have a table",
            from,
        )?;
        out.changes.push(Change::RenameTable {
            from: from.clone(),
            to: to.clone(),
        });
        for table in &mut live.tables {
            if &table.name == from {
                table.name = to.clone();
            }
            for fk in &mut table.foreign_keys {
                if &fk.target_table == from {
                    fk.target_table = to.clone();
                }
            }
        }
    }
    for (table_name, from, to) in &renames.columns {
        let spec = || format!("{table_name}.{from}={to}");
        let wanted = desired.table(table_name);
        let Some(table) = live.tables.iter_mut().find(|t| &t.name == table_name) else {
            return fits(spec, false, "the database has no table", table_name).map(|_| live);
        };
        if table.column(to).is_some() && table.column(from).is_none() {
            continue;
        }
        let column = |name: &str| format!("{table_name}.{name}");
        fits(
            spec,
            table.column(from).is_some(),
            "the database has no column",
            &column(from),
        )?;
        fits(
            spec,
            table.column(to).is_none(),
            "the database already has a column",
            &column(to),
        )?;
        let has = |name: &str| wanted.is_some_and(|t| t.column(name).is_some());
        fits(spec, has(to), "the models have no column", &column(to))?;
        fits(
            spec,
            !has(from),
            "the models still have a column",
            &column(from),
        )?;
        table.rename_column(from, to);
        out.changes.push(Change::RenameColumn {
            table: table_name.clone(),
            from: from.clone(),
            to: to.clone(),
        });
        for other in &mut live.tables {
            for fk in &mut other.foreign_keys {
                if &fk.target_table == table_name {
                    fk.target_columns
                        .iter_mut()
                        .filter(|c| *c == from)
                        .for_each(|c| *c = to.clone());
                }
            }
        }
    }
    Ok(live)
}

/// `Ok` if `holds`, else the error for rename `spec`: "`reason` `name`".
fn fits(spec: impl Fn() -> String, holds: bool, reason: &str, name: &str) -> Result<()> {
    if holds {
        return Ok(());
    }
    Err(Error::Rename {
        rename: spec(),
        reason: format!("{reason} `{name}`"),
    })
}

fn diff_table(dialect: &dyn SchemaDialect, live: &Table, desired: &Table, out: &mut Diff) {
    let name = &desired.name;
    let mut added = Vec::new();
    for column in &desired.columns {
        match live.column(&column.name) {
            None => {
                added.push(column.name.clone());
                out.changes.push(Change::AddColumn {
                    table: name.clone(),
                    column: column.clone(),
                });
            }
            Some(current) if current != column => out.changes.push(Change::AlterColumn {
                table: name.clone(),
                from: current.clone(),
                to: column.clone(),
                narrows: current.type_name != column.type_name
                    && !dialect.widens(&current.type_name, &column.type_name),
            }),
            Some(_) => {}
        }
    }
    let mut dropped = Vec::new();
    for column in &live.columns {
        if desired.column(&column.name).is_none() {
            dropped.push(column.name.clone());
            out.changes.push(Change::DropColumn {
                table: name.clone(),
                column: column.clone(),
            });
        }
    }
    if !added.is_empty() && !dropped.is_empty() {
        let qualify = |c: &String| format!("{name}.{c}");
        out.warnings.push(rename_warning(
            "column",
            &dropped.iter().map(qualify).collect::<Vec<_>>(),
            &added.iter().map(qualify).collect::<Vec<_>>(),
            rename_flag(&format!("{name}."), &dropped, &added),
        ));
    }
    if live.primary_key != desired.primary_key {
        out.changes.push(Change::AlterPrimaryKey {
            table: name.clone(),
            name: live.primary_key_name.clone(),
            from: live.primary_key.clone(),
            to: desired.primary_key.clone(),
        });
    }
    for fk in &live.foreign_keys {
        if !desired.foreign_keys.iter().any(|d| d.same_as(fk)) {
            out.changes.push(Change::DropForeignKey {
                table: name.clone(),
                foreign_key: fk.clone(),
            });
        }
    }
    for fk in &desired.foreign_keys {
        if !live.foreign_keys.iter().any(|l| l.same_as(fk)) {
            out.changes.push(Change::AddForeignKey {
                table: name.clone(),
                foreign_key: fk.clone(),
            });
        }
    }
    for index in &live.indexes {
        if !desired.indexes.iter().any(|d| d.same_as(index)) {
            out.changes.push(Change::DropIndex {
                table: name.clone(),
                index: index.clone(),
            });
        }
    }
    for index in &desired.indexes {
        if !live.indexes.iter().any(|l| l.same_as(index)) {
            out.changes.push(Change::AddIndex {
                table: name.clone(),
                index: index.clone(),
            });
        }
    }
}

/// The warning for names that disappear while others appear: each pair may be a rename.
/// `example` is the declaration for the first pair.
fn rename_warning(what: &str, gone: &[String], new: &[String], example: String) -> String {
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{what} {} disappears while {} appears: this is generated as a drop and an add, which \
         loses the old {what}'s data. If it is a rename, declare it (`{example}` on the command \
         line, `Renames::new().{what}(..)` in code) and generate again",
        list(gone),
        list(new),
    )
}

/// `--rename OLD=NEW` with the names filled in when there is exactly one candidate pair.
fn rename_flag(prefix: &str, gone: &[String], new: &[String]) -> String {
    match (gone, new) {
        ([old], [new]) => format!("--rename {prefix}{old}={new}"),
        _ => format!("--rename {prefix}OLD=NEW"),
    }
}

/// Tables to drop, each after every dropped table that references it.
fn dropped_in_order<'a>(dropped: &[&'a Table]) -> Vec<&'a Table> {
    let mut remaining: Vec<&Table> = dropped.to_vec();
    let mut ordered = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let referenced = |t: &Table| {
            remaining.iter().any(|other| {
                other.name != t.name
                    && other
                        .foreign_keys
                        .iter()
                        .any(|fk| fk.target_table == t.name)
            })
        };
        let next = remaining.iter().position(|t| !referenced(t)).unwrap_or(0);
        ordered.push(remaining.remove(next));
    }
    ordered
}

/// `table` as it is after `changes` (changes of this table, in rank order): what a table
/// rebuilt from scratch must look like.
pub(crate) fn applied(table: &Table, changes: &[&Change]) -> Table {
    let mut table = table.clone();
    for change in changes {
        match change {
            Change::RenameColumn { from, to, .. } => table.rename_column(from, to),
            Change::AddColumn { column, .. } => table.columns.push(column.clone()),
            Change::DropColumn { column, .. } => {
                table.columns.retain(|c| c.name != column.name);
                let named = |columns: &[String]| columns.contains(&column.name);
                table.foreign_keys.retain(|fk| !named(&fk.columns));
                table.indexes.retain(|i| !named(&i.columns));
            }
            Change::AlterColumn { to, .. } => {
                if let Some(column) = table.columns.iter_mut().find(|c| c.name == to.name) {
                    *column = to.clone();
                }
            }
            Change::AlterPrimaryKey { to, .. } => table.primary_key = to.clone(),
            Change::AddForeignKey { foreign_key, .. } => {
                table.foreign_keys.push(foreign_key.clone())
            }
            Change::DropForeignKey { foreign_key, .. } => {
                table.foreign_keys.retain(|fk| !fk.same_as(foreign_key))
            }
            Change::AddIndex { index, .. } => table.indexes.push(index.clone()),
            Change::DropIndex { index, .. } => table.indexes.retain(|i| !i.same_as(index)),
            Change::CreateTable(_) | Change::DropTable(_) | Change::RenameTable { .. } => {}
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::SchemaDialect;
    use crate::sqlite::SQLITE;

    fn column(name: &str, default: Option<&str>, nullable: bool) -> Column {
        Column {
            name: name.to_owned(),
            type_name: "TEXT".to_owned(),
            nullable,
            default: default.map(str::to_owned),
            generated: false,
        }
    }

    fn table(name: &str, columns: Vec<Column>) -> Table {
        Table {
            columns,
            ..Table::named(name.to_owned())
        }
    }

    fn schema(tables: Vec<Table>) -> Schema {
        Schema {
            tables,
            ..Schema::default()
        }
    }

    #[test]
    fn renames_parse_as_the_command_line_writes_them() {
        let parsed = Renames::new()
            .parse("users.fullname=full_name")
            .and_then(|r| r.parse("old=new"));
        assert_eq!(
            parsed,
            Ok(Renames::new()
                .column("users", "fullname", "full_name")
                .table("old", "new"))
        );
        for bad in ["nonsense", "a.b=c.d", "=x", "x=", ".a=b"] {
            assert!(Renames::new().parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_column_swapped_for_another_warns_with_the_rename_to_declare() {
        let live = schema(vec![table("users", vec![column("fullname", None, false)])]);
        let desired = schema(vec![table("users", vec![column("full_name", None, false)])]);
        let (diff, _) = diff(&SQLITE, &desired, &live, &Renames::new()).expect("diff");
        assert!(diff.warnings[0].contains("--rename users.fullname=full_name"));
        let kinds: Vec<u8> = diff.changes.iter().map(Change::rank).collect();
        assert!(
            kinds.windows(2).all(|w| w[0] <= w[1]),
            "in run order: {kinds:?}"
        );
        let declared = Renames::new().column("users", "fullname", "full_name");
        let (renamed, _) = super::diff(&SQLITE, &desired, &live, &declared).expect("diff");
        assert!(matches!(
            &renamed.changes[..],
            [Change::RenameColumn { .. }]
        ));
        assert!(renamed.warnings.is_empty());
    }

    #[test]
    fn sqlite_adds_in_place_only_what_alter_table_can_add() {
        let live = schema(vec![table("t", vec![column("a", None, true)])]);
        let add = |c: Column| {
            vec![Change::AddColumn {
                table: "t".to_owned(),
                column: c,
            }]
        };
        let literal = SQLITE
            .render(&add(column("b", Some("'x'"), false)), &live)
            .expect("render");
        assert!(!literal.own_transaction, "{literal:?}");
        assert_eq!(literal.statements.len(), 1);
        let expression = SQLITE
            .render(&add(column("b", Some("CURRENT_TIMESTAMP"), true)), &live)
            .expect("render");
        assert!(
            expression.own_transaction,
            "a non-constant default needs a rebuild"
        );
        let required = SQLITE
            .render(&add(column("b", None, false)), &live)
            .expect("render");
        assert!(
            required.own_transaction,
            "NOT NULL without a default needs a rebuild"
        );
    }
}
