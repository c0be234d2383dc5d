//! SQLite: the schema from its `pragma_*` table functions, and changes it cannot make in place
//! done by its documented table rebuild (<https://www.sqlite.org/lang_altertable.html>,
//! "Making Other Kinds Of Table Schema Changes").

use crate::backend::{self, ident, ident_list, int, text, SchemaDialect, Script};
use crate::diff::{applied, Change};
use crate::error::{Error, Result};
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
                    "SELECT name FROM sqlite_master AS t WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '_sqlx_migrations' \
                     AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' \
                     AND NOT EXISTS (SELECT 1 FROM sqlite_master AS v WHERE v.type = 'table' \
                     AND v.sql LIKE 'CREATE VIRTUAL TABLE%' AND t.name LIKE v.name || '\\_%' ESCAPE '\\') \
                     ORDER BY name",
                    &[],
                )
                .await?;
            let mut schema = Schema::default();
            for row in names {
                let Some(name) = text(&row, 0) else { continue };
                schema.tables.push(read_table(db, name).await?);
            }
            resolve_implicit_targets(&mut schema);
            schema.sqlite = read_objects(db, &schema).await?;
            Ok(schema)
        })
    }

    fn render(&self, changes: &[Change], live: &Schema) -> Result<Script> {
        let rebuilt = tables_to_rebuild(changes);
        if rebuilt.is_empty() {
            let mut statements = Vec::new();
            for change in changes {
                self.in_place(&mut statements, change);
            }
            return Ok(Script {
                statements,
                own_transaction: false,
            });
        }
        check_rebuildable(live, &rebuilt, changes)?;
        let d = self.orm();
        let objects = &live.sqlite;
        // Views and triggers go first and come back last: SQLite refuses to rename the new
        // table into place while one of them names the table that is gone for the moment.
        let mut body: Vec<String> = (objects.views.iter().map(|(name, _)| ("VIEW", name)))
            .chain(
                objects
                    .triggers
                    .iter()
                    .map(|(_, name, _)| ("TRIGGER", name)),
            )
            .map(|(kind, name)| format!("DROP {kind} IF EXISTS {}", ident(d, name)))
            .collect();
        let mut rebuilds_written = false;
        for change in changes {
            if change.rank() >= Change::DROP_TABLE_RANK && !rebuilds_written {
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
        let dropped: BTreeSet<&str> = changes
            .iter()
            .filter_map(|c| match c {
                Change::DropTable(t) => Some(t.name.as_str()),
                _ => None,
            })
            .collect();
        body.extend(
            objects
                .indexes
                .iter()
                .filter(|(table, _)| rebuilt.contains(table))
                .map(|(_, sql)| sql.clone()),
        );
        body.extend(
            objects
                .triggers
                .iter()
                .filter(|(table, _, _)| !dropped.contains(table.as_str()))
                .map(|(_, _, sql)| sql.clone()),
        );
        body.extend(objects.views.iter().map(|(_, sql)| sql.clone()));
        // Foreign keys off (a no-op inside a transaction, hence a script that runs its own):
        // dropping the old table must not fire its children's ON DELETE actions. Everything
        // still runs in one transaction, and a row the rebuilt tables left without its parent
        // fails it.
        let mut statements = vec![
            "PRAGMA foreign_keys = OFF".to_owned(),
            "BEGIN IMMEDIATE".to_owned(),
        ];
        statements.extend(body);
        statements.extend(foreign_key_check(&checked_tables(live, &rebuilt)));
        statements.push("COMMIT".to_owned());
        statements.push("PRAGMA foreign_keys = ON".to_owned());
        Ok(Script {
            statements,
            own_transaction: true,
        })
    }
}

/// Refuses a rebuild that would lose part of a table's definition, or recreate views and
/// triggers from definitions that still name what this migration renames.
fn check_rebuildable(live: &Schema, rebuilt: &BTreeSet<String>, changes: &[Change]) -> Result<()> {
    let objects = &live.sqlite;
    if let Some((table, what)) = objects
        .unsupported
        .iter()
        .find(|(t, _)| rebuilt.contains(t))
    {
        return Err(Error::UnsafeRebuild {
            table: table.clone(),
            what: (*what).to_owned(),
        });
    }
    let renames = changes
        .iter()
        .any(|c| matches!(c, Change::RenameTable { .. } | Change::RenameColumn { .. }));
    let saved = !objects.views.is_empty()
        || !objects.triggers.is_empty()
        || objects.indexes.iter().any(|(t, _)| rebuilt.contains(t));
    match (renames && saved, rebuilt.iter().next()) {
        (true, Some(table)) => Err(Error::UnsafeRebuild {
            table: table.clone(),
            what: "the views, triggers or indexes it recreates, whose saved definitions still \
                   name what this migration renames (generate the renames as a migration of \
                   their own first)"
                .to_owned(),
        }),
        _ => Ok(()),
    }
}

/// The rebuilt tables and the tables whose foreign keys point into them: the rows the rebuild
/// could leave without a parent.
fn checked_tables(live: &Schema, rebuilt: &BTreeSet<String>) -> Vec<String> {
    let mut tables: BTreeSet<String> = rebuilt.clone();
    for table in &live.tables {
        if table
            .foreign_keys
            .iter()
            .any(|fk| rebuilt.contains(&fk.target_table))
        {
            tables.insert(table.name.clone());
        }
    }
    tables.into_iter().collect()
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
        // `live` has the renames of this migration applied (they run first, in place).
        let Some(source) = live.table(name).cloned() else {
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

/// A number, a single string literal, TRUE or FALSE (not NULL: the column is NOT NULL).
fn is_literal(expr: &str) -> bool {
    let expr = expr.trim();
    let digits = expr.strip_prefix('-').unwrap_or(expr);
    let number = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|&c| c == '.').count() <= 1;
    // One quoted run: inside, quotes come only doubled.
    let string = expr.len() >= 2
        && expr.starts_with('\'')
        && expr.ends_with('\'')
        && expr[1..expr.len() - 1]
            .replace("''", "")
            .find('\'')
            .is_none();
    number
        || string
        || ["TRUE", "FALSE"]
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

/// `PRAGMA foreign_key_check` of `tables` as a statement that fails when it finds a row: the
/// count goes through a temporary table whose CHECK constraint names the problem.
fn foreign_key_check(tables: &[String]) -> Vec<String> {
    let counts: Vec<String> = tables
        .iter()
        .map(|t| {
            format!(
                "(SELECT count(*) FROM pragma_foreign_key_check('{}'))",
                t.replace('\'', "''")
            )
        })
        .collect();
    vec![
        "CREATE TEMP TABLE orm_foreign_key_check (violations INTEGER \
         CONSTRAINT rows_left_without_their_parent CHECK (violations = 0))"
            .to_owned(),
        format!(
            "INSERT INTO orm_foreign_key_check SELECT {}",
            counts.join(" + ")
        ),
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

/// A foreign key written `REFERENCES parent` (no column) references the parent's primary key;
/// SQLite reports its target columns as NULL.
fn resolve_implicit_targets(schema: &mut Schema) {
    let keys: Vec<(String, Vec<String>)> = schema
        .tables
        .iter()
        .map(|t| (t.name.clone(), t.primary_key.clone()))
        .collect();
    for table in &mut schema.tables {
        for fk in &mut table.foreign_keys {
            if fk.target_columns.iter().all(|c| c.is_empty()) {
                if let Some((_, key)) = keys.iter().find(|(name, _)| *name == fk.target_table) {
                    fk.target_columns = key.clone();
                }
            }
        }
    }
}

/// Views, triggers, the indexes the typed tables do not describe, and what a table's
/// definition has that a rebuild from the typed table would lose.
async fn read_objects(db: &Database, schema: &Schema) -> Result<crate::schema::SqliteObjects> {
    let mut objects = crate::schema::SqliteObjects::default();
    let rows = db
        .fetch_raw(
            "SELECT type, name, tbl_name, sql FROM sqlite_master \
             WHERE sql IS NOT NULL AND type IN ('view', 'trigger', 'index', 'table') ORDER BY rowid",
            &[],
        )
        .await?;
    for row in &rows {
        let (Some(kind), Some(name), Some(table), Some(sql)) =
            (text(row, 0), text(row, 1), text(row, 2), text(row, 3))
        else {
            continue;
        };
        let Some(typed) = schema.table(&table) else {
            if kind == "view" {
                objects.views.push((name, sql));
            }
            continue;
        };
        match kind.as_str() {
            "trigger" => objects.triggers.push((table, name, sql)),
            "index" if !typed.indexes.iter().any(|i| i.name == name) => {
                objects.indexes.push((table, sql))
            }
            "table" => {
                for what in definition_features(&sql) {
                    objects.unsupported.push((table.clone(), what));
                }
                let hidden = db
                    .fetch_raw(
                        "SELECT count(*) FROM pragma_table_xinfo(?) WHERE hidden <> 0",
                        &[Value::Text(table.clone())],
                    )
                    .await?;
                if hidden.first().is_some_and(|r| int(r, 0) > 0) {
                    objects
                        .unsupported
                        .push((table, "a generated or hidden column"));
                }
            }
            _ => {}
        }
    }
    Ok(objects)
}

/// The parts of a `CREATE TABLE` statement a rebuild from the typed table would not write
/// again, found by its keywords (outside quotes and names).
fn definition_features(sql: &str) -> Vec<&'static str> {
    const FEATURES: &[(&str, &str)] = &[
        ("CHECK", "a CHECK constraint"),
        ("COLLATE", "a COLLATE clause"),
        ("AUTOINCREMENT", "AUTOINCREMENT"),
        ("GENERATED", "a generated column"),
        ("STRICT", "STRICT typing"),
        ("WITHOUT", "WITHOUT ROWID"),
        ("DEFERRABLE", "a DEFERRABLE foreign key"),
        ("CONFLICT", "an ON CONFLICT clause"),
        ("UPDATE", "a foreign key's ON UPDATE action"),
        ("MATCH", "a foreign key's MATCH clause"),
    ];
    let words = keywords(sql);
    let mut found: Vec<&'static str> = FEATURES
        .iter()
        .filter(|(word, _)| words.iter().any(|w| w == word))
        .map(|(_, what)| *what)
        .collect();
    if words.windows(2).any(|w| w[0] == "SET" && w[1] == "DEFAULT") {
        found.push("ON DELETE SET DEFAULT");
    }
    found
}

/// The bare words of `sql`, upper-cased: quoted strings and names are skipped.
fn keywords(sql: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = sql.chars();
    while let Some(c) = chars.next() {
        let close = match c {
            '\'' => Some('\''),
            '"' => Some('"'),
            '`' => Some('`'),
            '[' => Some(']'),
            _ => None,
        };
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c.to_ascii_uppercase());
            continue;
        }
        if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        if let Some(close) = close {
            // A doubled quote inside is two quoted runs back to back: skipping both is the same.
            for inner in chars.by_ref() {
                if inner == close {
                    break;
                }
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}
