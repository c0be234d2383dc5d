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

    /// One query per kind of object over every table, joining `sqlite_master` with the
    /// `pragma_*` table functions (as PostgreSQL reads its catalog), not a query per table.
    fn introspect<'a>(&'a self, db: &'a Database) -> BoxFuture<'a, Result<Schema>> {
        Box::pin(async move {
            let mut schema = Schema::default();
            for row in db
                .fetch_raw(&per_table("m.name", "", "ORDER BY m.name"), &[])
                .await?
            {
                schema
                    .tables
                    .push(Table::named(text(&row, 0).unwrap_or_default()));
            }
            read_columns(db, &mut schema).await?;
            read_foreign_keys(db, &mut schema).await?;
            read_indexes(db, &mut schema).await?;
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

/// `SELECT columns FROM sqlite_master AS m joins WHERE m is a table ... tail`: the tables the
/// typed schema describes (not SQLite's own, not the tracking table, not virtual tables and
/// their shadow tables), joined with a `pragma_*` function of each.
fn per_table(columns: &str, joins: &str, tail: &str) -> String {
    format!(
        "SELECT {columns} FROM sqlite_master AS m {joins} WHERE m.type = 'table' \
         AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name <> '_sqlx_migrations' \
         AND m.sql NOT LIKE 'CREATE VIRTUAL TABLE%' \
         AND NOT EXISTS (SELECT 1 FROM sqlite_master AS v WHERE v.type = 'table' \
         AND v.sql LIKE 'CREATE VIRTUAL TABLE%' AND m.name LIKE v.name || '\\_%' ESCAPE '\\') \
         {tail}"
    )
}

/// The table of `schema` a row names in its first column.
fn table_of<'s>(schema: &'s mut Schema, row: &[Value]) -> Option<&'s mut Table> {
    let name = text(row, 0)?;
    schema.tables.iter_mut().find(|t| t.name == name)
}

async fn read_columns(db: &Database, schema: &mut Schema) -> Result<()> {
    let sql = per_table(
        "m.name, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk",
        "JOIN pragma_table_info(m.name) AS p",
        "ORDER BY m.name, p.cid",
    );
    let mut keys: Vec<(String, i64, String)> = Vec::new();
    for row in db.fetch_raw(&sql, &[]).await? {
        let Some(table) = table_of(schema, &row) else {
            continue;
        };
        let column = text(&row, 1).unwrap_or_default();
        if int(&row, 5) > 0 {
            keys.push((table.name.clone(), int(&row, 5), column.clone()));
        }
        table.columns.push(Column {
            name: column,
            type_name: text(&row, 2).unwrap_or_default().to_uppercase(),
            nullable: int(&row, 3) == 0,
            default: text(&row, 4),
            generated: false,
        });
    }
    keys.sort();
    for (name, _, column) in keys {
        if let Some(table) = schema.tables.iter_mut().find(|t| t.name == name) {
            table.primary_key.push(column);
        }
    }
    Ok(())
}

async fn read_foreign_keys(db: &Database, schema: &mut Schema) -> Result<()> {
    let sql = per_table(
        "m.name, f.id, f.\"table\", f.\"from\", f.\"to\", f.on_delete",
        "JOIN pragma_foreign_key_list(m.name) AS f",
        "ORDER BY m.name, f.id, f.seq",
    );
    let mut last: Option<(String, i64)> = None;
    for row in db.fetch_raw(&sql, &[]).await? {
        let Some(table) = table_of(schema, &row) else {
            continue;
        };
        let id = (table.name.clone(), int(&row, 1));
        let from = text(&row, 3).unwrap_or_default();
        let to = text(&row, 4).unwrap_or_default();
        match table.foreign_keys.last_mut() {
            // The next column of a composite key.
            Some(fk) if last.as_ref() == Some(&id) => {
                fk.columns.push(from);
                fk.target_columns.push(to);
            }
            _ => table.foreign_keys.push(ForeignKey {
                name: None,
                columns: vec![from],
                target_table: text(&row, 2).unwrap_or_default(),
                target_columns: vec![to],
                on_delete: on_delete(&text(&row, 5).unwrap_or_default()),
            }),
        }
        last = Some(id);
    }
    Ok(())
}

fn on_delete(rule: &str) -> OnDelete {
    match rule.to_ascii_uppercase().as_str() {
        "CASCADE" => OnDelete::Cascade,
        "SET NULL" => OnDelete::SetNull,
        "RESTRICT" => OnDelete::Restrict,
        _ => OnDelete::NoAction,
    }
}

/// Indexes with their columns. The primary key's own index is the key; partial indexes and
/// indexes on expressions (a column without a name) cannot be described here and are left
/// alone.
async fn read_indexes(db: &Database, schema: &mut Schema) -> Result<()> {
    let sql = per_table(
        "m.name, il.name, il.\"unique\", il.origin, ii.name",
        "JOIN pragma_index_list(m.name) AS il JOIN pragma_index_info(il.name) AS ii",
        "AND il.origin <> 'pk' AND il.partial = 0 ORDER BY m.name, il.name, ii.seqno",
    );
    let mut expressions: Vec<(String, String)> = Vec::new();
    for row in db.fetch_raw(&sql, &[]).await? {
        let Some(table) = table_of(schema, &row) else {
            continue;
        };
        let (Some(name), Some(origin)) = (text(&row, 1), text(&row, 3)) else {
            continue;
        };
        let Some(column) = text(&row, 4) else {
            expressions.push((table.name.clone(), name));
            continue;
        };
        match table.indexes.last_mut() {
            Some(index) if index.name == name => index.columns.push(column),
            _ => table.indexes.push(Index {
                name,
                columns: vec![column],
                unique: int(&row, 2) != 0,
                constraint: origin == "u",
            }),
        }
    }
    for (table, name) in expressions {
        if let Some(table) = schema.tables.iter_mut().find(|t| t.name == table) {
            table.indexes.retain(|i| i.name != name);
        }
    }
    Ok(())
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
            }
            _ => {}
        }
    }
    let hidden = per_table(
        "DISTINCT m.name",
        "JOIN pragma_table_xinfo(m.name) AS x",
        "AND x.hidden <> 0",
    );
    for row in db.fetch_raw(&hidden, &[]).await? {
        if let Some(table) = text(&row, 0) {
            objects
                .unsupported
                .push((table, "a generated or hidden column"));
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
