//! SQLite: the schema from its `pragma_*` table functions, and changes it cannot make in place
//! done by its documented table rebuild (<https://www.sqlite.org/lang_altertable.html>,
//! "Making Other Kinds Of Table Schema Changes").

use crate::backend::{self, ident, ident_list, int, text, SchemaDialect, Script};
use crate::diff::{applied, Change};
use crate::error::Result;
use crate::schema::{Column, ForeignKey, Index, Schema, Table};
use orm_core::backend::{BoxFuture, Dialect};
use orm_core::meta::OnDelete;
use orm_core::{Database, SqlType, Value};
use std::collections::BTreeSet;

/// The SQLite schema dialect.
#[derive(Debug)]
pub(crate) struct SqliteSchema;

pub(crate) static SQLITE: SqliteSchema = SqliteSchema;

/// The temporary name of a table being rebuilt.
fn rebuild_name(table: &str) -> String {
    format!("orm_rebuild_{table}")
}

impl SchemaDialect for SqliteSchema {
    fn orm(&self) -> &'static dyn Dialect {
        &orm_core::sql::SQLITE
    }

    fn type_name(&self, ty: SqlType) -> String {
        self.orm().type_name(ty).to_owned()
    }

    /// Every value has a text form; nothing else is sure to convert back.
    fn widens(&self, _from: &str, to: &str) -> bool {
        to == "TEXT"
    }

    /// A single-column `INTEGER` primary key is the rowid: SQLite generates it whether or not
    /// it was declared `INTEGER PRIMARY KEY`.
    fn normalize(&self, table: &mut Table) {
        let rowid = match table.primary_key.as_slice() {
            [key] => table
                .column(key)
                .is_some_and(|c| c.type_name == "INTEGER")
                .then(|| key.clone()),
            _ => None,
        };
        for column in &mut table.columns {
            column.generated = rowid.as_ref() == Some(&column.name);
        }
    }

    fn introspect<'a>(&'a self, db: &'a Database) -> BoxFuture<'a, Result<Schema>> {
        Box::pin(async move {
            let names = db
                .fetch_raw(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '_sqlx_migrations' \
                     ORDER BY name",
                    &[],
                )
                .await?;
            let mut schema = Schema::default();
            for row in names {
                let Some(name) = text(&row, 0) else { continue };
                schema.tables.push(read_table(db, name).await?);
            }
            Ok(schema)
        })
    }

    fn render(&self, changes: &[Change], live: &Schema) -> Script {
        let rebuilt = tables_to_rebuild(changes);
        let mut body = Vec::new();
        let mut rebuilds_written = false;
        for change in changes {
            if change.rank() >= 9 && !rebuilds_written {
                rebuilds_written = true;
                for table in &rebuilt {
                    self.rebuild(&mut body, table, changes, live);
                }
            }
            // Renames run first, in place; a rebuild starts from the renamed table.
            let renames = matches!(
                change,
                Change::RenameTable { .. } | Change::RenameColumn { .. }
            );
            if renames || !rebuilt.contains(change.table()) {
                self.in_place(&mut body, change);
            }
        }
        if !rebuilds_written {
            for table in &rebuilt {
                self.rebuild(&mut body, table, changes, live);
            }
        }
        if rebuilt.is_empty() {
            return Script {
                statements: body,
                own_transaction: false,
            };
        }
        // Foreign keys off (a no-op inside a transaction, hence a script that runs its own):
        // dropping the old table must not fire its children's ON DELETE actions. Everything
        // still runs in one transaction, and any row left without its parent fails it.
        let mut statements = vec![
            "PRAGMA foreign_keys = OFF".to_owned(),
            "BEGIN IMMEDIATE".to_owned(),
        ];
        statements.extend(body);
        statements.extend(foreign_key_check());
        statements.push("COMMIT".to_owned());
        statements.push("PRAGMA foreign_keys = ON".to_owned());
        Script {
            statements,
            own_transaction: true,
        }
    }
}

impl SqliteSchema {
    fn column_definition(&self, column: &Column) -> String {
        let d = self.orm();
        if column.generated {
            return format!("{} INTEGER PRIMARY KEY", ident(d, &column.name));
        }
        format!(
            "{} {}{}{}",
            ident(d, &column.name),
            column.type_name,
            if column.nullable { "" } else { " NOT NULL" },
            backend::default_clause(column)
        )
    }

    /// A change SQLite makes without rebuilding the table.
    fn in_place(&self, out: &mut Vec<String>, change: &Change) {
        let d = self.orm();
        match change {
            Change::RenameTable { from, to } => out.push(format!(
                "ALTER TABLE {} RENAME TO {}",
                ident(d, from),
                ident(d, to)
            )),
            Change::RenameColumn { table, from, to } => out.push(format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                ident(d, table),
                ident(d, from),
                ident(d, to)
            )),
            Change::CreateTable(table) => {
                let key_in_column = table.columns.iter().any(|c| c.generated);
                out.push(backend::create_table(
                    d,
                    &table.name,
                    table,
                    |c| self.column_definition(c),
                    key_in_column,
                    true,
                ));
                out.extend(standalone_indexes(d, &table.name, table));
            }
            Change::DropTable(table) => out.push(format!("DROP TABLE {}", ident(d, &table.name))),
            Change::AddColumn { table, column } => out.push(format!(
                "ALTER TABLE {} ADD COLUMN {}",
                ident(d, table),
                self.column_definition(column)
            )),
            Change::AddIndex { table, index } => out.push(backend::create_index(d, table, index)),
            Change::DropIndex { index, .. } => {
                out.push(format!("DROP INDEX {}", ident(d, &index.name)))
            }
            // Always part of a rebuild (`tables_to_rebuild`).
            Change::DropColumn { .. }
            | Change::AlterColumn { .. }
            | Change::AlterPrimaryKey { .. }
            | Change::AddForeignKey { .. }
            | Change::DropForeignKey { .. } => {}
        }
    }

    /// The rebuild of `name`: a new table as the changes leave it, the rows copied, the old
    /// table dropped, the new one renamed, its indexes created.
    fn rebuild(&self, out: &mut Vec<String>, name: &str, changes: &[Change], live: &Schema) {
        let d = self.orm();
        let Some(source) = live_table(live, name, changes) else {
            return;
        };
        let own: Vec<&Change> = changes.iter().filter(|c| c.table() == name).collect();
        let target = applied(&source, &own);
        let temporary = rebuild_name(name);
        let key_in_column = target.columns.iter().any(|c| c.generated);
        out.push(backend::create_table(
            d,
            &temporary,
            &target,
            |c| self.column_definition(c),
            key_in_column,
            true,
        ));
        let copied: Vec<String> = target
            .columns
            .iter()
            .filter(|c| source.column(&c.name).is_some())
            .map(|c| c.name.clone())
            .collect();
        let columns = ident_list(d, &copied);
        out.push(format!(
            "INSERT INTO {} ({columns}) SELECT {columns} FROM {}",
            ident(d, &temporary),
            ident(d, name)
        ));
        out.push(format!("DROP TABLE {}", ident(d, name)));
        out.push(format!(
            "ALTER TABLE {} RENAME TO {}",
            ident(d, &temporary),
            ident(d, name)
        ));
        out.extend(standalone_indexes(d, name, &target));
    }
}

/// The live table that becomes `name`: itself, or the table renamed to it, with this
/// migration's column renames applied.
fn live_table(live: &Schema, name: &str, changes: &[Change]) -> Option<Table> {
    let old_name = changes
        .iter()
        .find_map(|c| match c {
            Change::RenameTable { from, to } if to == name => Some(from.as_str()),
            _ => None,
        })
        .unwrap_or(name);
    let mut table = live.table(old_name)?.clone();
    table.name = name.to_owned();
    for change in changes.iter().filter(|c| c.table() == name) {
        if let Change::RenameColumn { from, to, .. } = change {
            table.rename_column(from, to);
        }
    }
    Some(table)
}

/// The tables whose changes SQLite cannot make in place.
fn tables_to_rebuild(changes: &[Change]) -> BTreeSet<String> {
    changes
        .iter()
        .filter(|change| match change {
            Change::DropColumn { .. }
            | Change::AlterColumn { .. }
            | Change::AlterPrimaryKey { .. }
            | Change::AddForeignKey { .. }
            | Change::DropForeignKey { .. } => true,
            Change::DropIndex { index, .. } => index.constraint,
            Change::AddColumn { column, .. } => !addable_in_place(column),
            _ => false,
        })
        .map(|c| c.table().to_owned())
        .collect()
}

/// Whether `ALTER TABLE ... ADD COLUMN` can add it: SQLite needs a constant default for a
/// NOT NULL column, and cannot add a key.
fn addable_in_place(column: &Column) -> bool {
    if column.generated {
        return false;
    }
    match &column.default {
        None => column.nullable,
        Some(default) => is_literal(default),
    }
}

/// A number, a string literal, NULL, TRUE or FALSE.
fn is_literal(expr: &str) -> bool {
    let expr = expr.trim();
    let number = expr
        .strip_prefix('-')
        .unwrap_or(expr)
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.')
        && !expr.is_empty();
    let string = expr.len() >= 2 && expr.starts_with('\'') && expr.ends_with('\'');
    number
        || string
        || ["NULL", "TRUE", "FALSE"]
            .iter()
            .any(|k| expr.eq_ignore_ascii_case(k))
}

/// The indexes of `table` that are not part of its definition.
fn standalone_indexes<'a>(
    d: &'a dyn Dialect,
    name: &'a str,
    table: &'a Table,
) -> impl Iterator<Item = String> + 'a {
    table
        .indexes
        .iter()
        .filter(|i| !i.constraint)
        .map(move |i| backend::create_index(d, name, i))
}

/// `PRAGMA foreign_key_check` as a statement that fails when it finds a row: its rows go
/// through a temporary table whose CHECK constraint names the problem.
fn foreign_key_check() -> Vec<String> {
    vec![
        "CREATE TEMP TABLE orm_foreign_key_check (violations INTEGER \
         CONSTRAINT rows_left_without_their_parent CHECK (violations = 0))"
            .to_owned(),
        "INSERT INTO orm_foreign_key_check SELECT count(*) FROM pragma_foreign_key_check"
            .to_owned(),
        "DROP TABLE orm_foreign_key_check".to_owned(),
    ]
}

async fn read_table(db: &Database, name: String) -> Result<Table> {
    let param = [Value::Text(name.clone())];
    let rows = db
        .fetch_raw(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid",
            &param,
        )
        .await?;
    let mut keyed: Vec<(i64, String)> = Vec::new();
    let mut columns = Vec::new();
    for row in &rows {
        let column = text(row, 0).unwrap_or_default();
        let key = int(row, 4);
        if key > 0 {
            keyed.push((key, column.clone()));
        }
        columns.push(Column {
            name: column,
            type_name: text(row, 1).unwrap_or_default().to_uppercase(),
            nullable: int(row, 2) == 0,
            default: text(row, 3),
            generated: false,
        });
    }
    keyed.sort();
    Ok(Table {
        primary_key: keyed.into_iter().map(|(_, c)| c).collect(),
        primary_key_name: None,
        columns,
        foreign_keys: read_foreign_keys(db, &param).await?,
        indexes: read_indexes(db, &param).await?,
        name,
    })
}

async fn read_foreign_keys(db: &Database, table: &[Value]) -> Result<Vec<ForeignKey>> {
    let rows = db
        .fetch_raw(
            "SELECT id, \"table\", \"from\", \"to\", on_delete \
             FROM pragma_foreign_key_list(?) ORDER BY id, seq",
            table,
        )
        .await?;
    let mut keys: Vec<(i64, ForeignKey)> = Vec::new();
    for row in &rows {
        let id = int(row, 0);
        let from = text(row, 2).unwrap_or_default();
        let to = text(row, 3).unwrap_or_default();
        match keys.last_mut() {
            Some((last, fk)) if *last == id => {
                fk.columns.push(from);
                fk.target_columns.push(to);
            }
            _ => keys.push((
                id,
                ForeignKey {
                    name: None,
                    columns: vec![from],
                    target_table: text(row, 1).unwrap_or_default(),
                    target_columns: vec![to],
                    on_delete: on_delete(&text(row, 4).unwrap_or_default()),
                },
            )),
        }
    }
    Ok(keys.into_iter().map(|(_, fk)| fk).collect())
}

fn on_delete(rule: &str) -> OnDelete {
    match rule.to_ascii_uppercase().as_str() {
        "CASCADE" => OnDelete::Cascade,
        "SET NULL" => OnDelete::SetNull,
        "RESTRICT" => OnDelete::Restrict,
        _ => OnDelete::NoAction,
    }
}

async fn read_indexes(db: &Database, table: &[Value]) -> Result<Vec<Index>> {
    let rows = db
        .fetch_raw(
            "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?) ORDER BY name",
            table,
        )
        .await?;
    let mut indexes = Vec::new();
    for row in &rows {
        let (Some(name), Some(origin)) = (text(row, 0), text(row, 2)) else {
            continue;
        };
        // The primary key's own index is the key; partial indexes cannot be described here
        // and are left alone.
        if origin == "pk" || int(row, 3) != 0 {
            continue;
        }
        let columns = db
            .fetch_raw(
                "SELECT name FROM pragma_index_info(?) ORDER BY seqno",
                &[Value::Text(name.clone())],
            )
            .await?;
        let columns: Option<Vec<String>> = columns.iter().map(|r| text(r, 0)).collect();
        // An index on an expression has no column name: left alone too.
        let Some(columns) = columns else { continue };
        indexes.push(Index {
            name,
            columns,
            unique: int(row, 1) != 0,
            constraint: origin == "u",
        });
    }
    Ok(indexes)
}
