//! PostgreSQL: the schema from its catalogs (in the connection's current schema), and every
//! change as `ALTER TABLE`, inside the migration's transaction (its DDL is transactional).

use crate::backend::{self, ident, ident_list, int, text, SchemaDialect, Script};
use crate::diff::Change;
use crate::error::Result;
use crate::schema::{Column, ForeignKey, Index, Schema, Table};
use orm_core::backend::{BoxFuture, Dialect};
use orm_core::meta::OnDelete;
use orm_core::{Database, SqlType};

/// The PostgreSQL schema dialect.
#[derive(Debug)]
pub(crate) struct PostgresSchema;

pub(crate) static POSTGRES: PostgresSchema = PostgresSchema;

const TABLES: &str = "SELECT c.relname::text FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
     AND c.relname <> '_sqlx_migrations' \
     AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass \
     AND e.objid = c.oid AND e.deptype = 'e') ORDER BY 1";

const COLUMNS: &str =
    "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
     a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '' \
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
     AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum";

/// Column names of a key as a JSON array, in key order.
const KEY_NAMES: &str = "(SELECT json_agg(a.attname ORDER BY u.ord)::text \
     FROM unnest({keys}) WITH ORDINALITY AS u(num, ord) \
     JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = u.num)";

fn constraints_sql() -> String {
    format!(
        "SELECT c.relname::text, k.conname::text, k.contype::text, {}, f.relname::text, {}, \
         k.confdeltype::text \
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_class f ON f.oid = k.confrelid \
         WHERE n.nspname = current_schema() AND k.contype IN ('p', 'f', 'u') ORDER BY 1, 2",
        KEY_NAMES
            .replace("{keys}", "k.conkey")
            .replace("{rel}", "k.conrelid"),
        KEY_NAMES
            .replace("{keys}", "k.confkey")
            .replace("{rel}", "k.confrelid"),
    )
}

/// Indexes that no constraint owns. Those the typed schema cannot describe (on expressions,
/// partial, with INCLUDE columns, not B-tree, with a sort order or operator class of their
/// own, invalid) are reported as such, and left alone.
fn indexes_sql() -> String {
    format!(
        "SELECT t.relname::text, i.relname::text, x.indisunique, {}, \
         x.indexprs IS NOT NULL OR x.indpred IS NOT NULL OR x.indnkeyatts <> x.indnatts \
         OR NOT x.indisvalid OR i.relam <> (SELECT oid FROM pg_am WHERE amname = 'btree') \
         OR EXISTS (SELECT 1 FROM unnest(x.indoption::int2[]) AS o(v) WHERE o.v <> 0) \
         OR EXISTS (SELECT 1 FROM unnest(x.indclass::oid[]) AS k(v) \
         JOIN pg_opclass oc ON oc.oid = k.v WHERE NOT oc.opcdefault) \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint k \
         WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid \
         AND k.contype IN ('p', 'u', 'x')) ORDER BY 1, 2",
        KEY_NAMES
            .replace("{keys}", "x.indkey::int2[]")
            .replace("{rel}", "x.indrelid"),
    )
}

impl SchemaDialect for PostgresSchema {
    fn orm(&self) -> &'static dyn Dialect {
        &orm_core::sql::POSTGRES
    }

    /// As `format_type` spells them.
    fn type_name(&self, ty: SqlType) -> String {
        match ty {
            SqlType::Integer => "bigint",
            SqlType::Real => "double precision",
            SqlType::Text => "text",
            SqlType::Blob => "bytea",
            SqlType::Boolean => "boolean",
            SqlType::Uuid => "uuid",
            SqlType::Date => "date",
            SqlType::Time => "time without time zone",
            SqlType::Timestamp => "timestamp without time zone",
            SqlType::TimestampTz => "timestamp with time zone",
            SqlType::Json => "jsonb",
            SqlType::Decimal => "numeric",
        }
        .to_owned()
    }

    fn widens(&self, from: &str, to: &str) -> bool {
        to == "text"
            || (to == "numeric" && matches!(from, "bigint" | "integer" | "smallint"))
            || (to == "bigint" && matches!(from, "integer" | "smallint"))
    }

    fn introspect<'a>(&'a self, db: &'a Database) -> BoxFuture<'a, Result<Schema>> {
        Box::pin(async move {
            let mut schema = Schema::default();
            for row in db.fetch_raw(TABLES, &[]).await? {
                schema
                    .tables
                    .push(Table::named(text(&row, 0).unwrap_or_default()));
            }
            let table = |schema: &mut Schema, name: Option<String>| -> Option<usize> {
                let name = name?;
                schema.tables.iter().position(|t| t.name == name)
            };
            for row in db.fetch_raw(COLUMNS, &[]).await? {
                let Some(at) = table(&mut schema, text(&row, 0)) else {
                    continue;
                };
                schema.tables[at].columns.push(Column {
                    name: text(&row, 1).unwrap_or_default(),
                    type_name: text(&row, 2).unwrap_or_default(),
                    nullable: int(&row, 3) == 0,
                    default: text(&row, 4),
                    generated: int(&row, 5) != 0,
                });
            }
            for row in db.fetch_raw(&constraints_sql(), &[]).await? {
                let Some(at) = table(&mut schema, text(&row, 0)) else {
                    continue;
                };
                let target = &mut schema.tables[at];
                let name = text(&row, 1).unwrap_or_default();
                let columns = names(text(&row, 3));
                match text(&row, 2).as_deref() {
                    Some("p") => {
                        target.primary_key = columns;
                        target.primary_key_name = Some(name);
                    }
                    Some("u") => target.indexes.push(Index {
                        name,
                        columns,
                        unique: true,
                        constraint: true,
                    }),
                    Some("f") => target.foreign_keys.push(ForeignKey {
                        name: Some(name),
                        columns,
                        target_table: text(&row, 4).unwrap_or_default(),
                        target_columns: names(text(&row, 5)),
                        on_delete: on_delete(text(&row, 6).as_deref()),
                    }),
                    _ => {}
                }
            }
            for row in db.fetch_raw(&indexes_sql(), &[]).await? {
                // Expression and partial indexes cannot be described here: left alone.
                if int(&row, 4) != 0 {
                    continue;
                }
                let Some(at) = table(&mut schema, text(&row, 0)) else {
                    continue;
                };
                schema.tables[at].indexes.push(Index {
                    name: text(&row, 1).unwrap_or_default(),
                    columns: names(text(&row, 3)),
                    unique: int(&row, 2) != 0,
                    constraint: false,
                });
            }
            Ok(schema)
        })
    }

    /// PostgreSQL reports a default as it stored it (`'active'::text`, not `'active'`): each
    /// model default is given to it on a temporary table, in a transaction rolled back, and
    /// read back.
    fn settle_defaults<'a>(
        &'a self,
        db: &'a Database,
        schema: &'a mut Schema,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let d = self.orm();
            let mut probes = Vec::new();
            let mut definitions = Vec::new();
            for (t, table) in schema.tables.iter().enumerate() {
                for (c, column) in table.columns.iter().enumerate() {
                    if column.default.is_some() {
                        let probe = format!("c{}", probes.len());
                        definitions.push(format!(
                            "{} {}{}",
                            ident(d, &probe),
                            column.type_name,
                            backend::default_clause(column)
                        ));
                        probes.push((t, c));
                    }
                }
            }
            if probes.is_empty() {
                return Ok(());
            }
            let mut session = db.session();
            let outcome = async {
                session
                    .sql(format!(
                        "CREATE TEMP TABLE orm_default_probe ({})",
                        definitions.join(", ")
                    ))
                    .execute()
                    .await?;
                session
                    .sql(
                        "SELECT substr(a.attname::text, 2)::int8, pg_get_expr(d.adbin, d.adrelid) \
                         FROM pg_attrdef d JOIN pg_attribute a \
                         ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
                         WHERE d.adrelid = 'pg_temp.orm_default_probe'::regclass",
                    )
                    .fetch_values()
                    .await
            }
            .await;
            session.rollback().await?;
            for row in outcome? {
                let probe = usize::try_from(int(&row, 0)).unwrap_or(usize::MAX);
                if let Some(&(t, c)) = probes.get(probe) {
                    schema.tables[t].columns[c].default = text(&row, 1);
                }
            }
            Ok(())
        })
    }

    fn render(&self, changes: &[Change], _live: &Schema) -> Result<Script> {
        let mut statements = Vec::new();
        let mut later = Vec::new();
        for change in changes {
            self.change(&mut statements, &mut later, change);
        }
        statements.extend(later);
        Ok(Script {
            statements,
            own_transaction: false,
        })
    }
}

impl PostgresSchema {
    fn column_definition(&self, column: &Column) -> String {
        format!(
            "{} {}{}{}",
            ident(self.orm(), &column.name),
            column.type_name,
            if column.generated {
                " GENERATED BY DEFAULT AS IDENTITY"
            } else if column.nullable {
                ""
            } else {
                " NOT NULL"
            },
            backend::default_clause(column)
        )
    }

    /// The statements of one change; foreign keys of new tables go to `later`, once every
    /// table they may reference exists.
    fn change(&self, out: &mut Vec<String>, later: &mut Vec<String>, change: &Change) {
        let d = self.orm();
        let alter = |table: &str| format!("ALTER TABLE {} ", ident(d, table));
        match change {
            Change::CreateTable(table) => {
                out.push(backend::create_table(
                    d,
                    &table.name,
                    table,
                    |c| self.column_definition(c),
                    false,
                    false,
                ));
                for index in table.indexes.iter().filter(|i| !i.constraint) {
                    out.push(backend::create_index(d, &table.name, index));
                }
                for fk in &table.foreign_keys {
                    later.push(self.add_foreign_key(&table.name, fk));
                }
            }
            Change::DropTable(table) => out.push(format!("DROP TABLE {}", ident(d, &table.name))),
            Change::RenameTable { from, to } => {
                out.push(format!("{}RENAME TO {}", alter(from), ident(d, to)))
            }
            Change::AddColumn { table, column } => out.push(format!(
                "{}ADD COLUMN {}",
                alter(table),
                self.column_definition(column)
            )),
            Change::DropColumn { table, column } => out.push(format!(
                "{}DROP COLUMN {}",
                alter(table),
                ident(d, &column.name)
            )),
            Change::RenameColumn { table, from, to } => out.push(format!(
                "{}RENAME COLUMN {} TO {}",
                alter(table),
                ident(d, from),
                ident(d, to)
            )),
            Change::AlterColumn {
                table, from, to, ..
            } => {
                let actions = alter_column(d, from, to);
                if !actions.is_empty() {
                    out.push(format!("{}{}", alter(table), actions.join(", ")));
                }
                if to.generated && !from.generated {
                    out.push(continue_identity(d, table, &to.name));
                }
            }
            Change::AlterPrimaryKey {
                table, name, to, ..
            } => {
                let mut actions = Vec::new();
                if let Some(name) = name {
                    actions.push(format!("DROP CONSTRAINT {}", ident(d, name)));
                }
                if !to.is_empty() {
                    actions.push(format!("ADD PRIMARY KEY ({})", ident_list(d, to)));
                }
                out.push(format!("{}{}", alter(table), actions.join(", ")));
            }
            Change::AddForeignKey { table, foreign_key } => {
                out.push(self.add_foreign_key(table, foreign_key))
            }
            Change::DropForeignKey { table, foreign_key } => {
                let name = foreign_key.name.clone().unwrap_or_default();
                out.push(format!(
                    "{}DROP CONSTRAINT {}",
                    alter(table),
                    ident(d, &name)
                ))
            }
            Change::AddIndex { table, index } if index.unique && index.constraint => {
                out.push(format!(
                    "{}ADD CONSTRAINT {} UNIQUE ({})",
                    alter(table),
                    ident(d, &index.name),
                    ident_list(d, &index.columns)
                ))
            }
            Change::AddIndex { table, index } => out.push(backend::create_index(d, table, index)),
            Change::DropIndex { table, index } if index.constraint => out.push(format!(
                "{}DROP CONSTRAINT {}",
                alter(table),
                ident(d, &index.name)
            )),
            Change::DropIndex { index, .. } => {
                out.push(format!("DROP INDEX {}", ident(d, &index.name)))
            }
        }
    }

    fn add_foreign_key(&self, table: &str, fk: &ForeignKey) -> String {
        let d = self.orm();
        let name = fk
            .name
            .clone()
            .unwrap_or_else(|| format!("fk_{table}_{}", fk.columns.join("_")));
        format!(
            "ALTER TABLE {} ADD CONSTRAINT {} {}",
            ident(d, table),
            ident(d, &name),
            backend::foreign_key_clause(d, fk)
        )
    }
}

/// The `ALTER COLUMN` actions that turn `from` into `to`. The old default goes before a type
/// change (it may not convert) and the new one comes after.
fn alter_column(d: &dyn Dialect, from: &Column, to: &Column) -> Vec<String> {
    let column = format!("ALTER COLUMN {}", ident(d, &to.name));
    let mut actions = Vec::new();
    let retyped = from.type_name != to.type_name;
    if from.default.is_some() && (retyped || to.default.is_none()) {
        actions.push(format!("{column} DROP DEFAULT"));
    }
    if from.generated && !to.generated {
        actions.push(format!("{column} DROP IDENTITY"));
    }
    if retyped {
        actions.push(format!(
            "{column} TYPE {ty} USING {}::{ty}",
            ident(d, &to.name),
            ty = to.type_name
        ));
    }
    if let Some(default) = &to.default {
        if retyped || from.default.as_ref() != Some(default) {
            actions.push(format!("{column} SET DEFAULT ({default})"));
        }
    }
    if from.nullable != to.nullable {
        actions.push(format!(
            "{column} {} NOT NULL",
            if to.nullable { "DROP" } else { "SET" }
        ));
    }
    if to.generated && !from.generated {
        actions.push(format!("{column} ADD GENERATED BY DEFAULT AS IDENTITY"));
    }
    actions
}

/// A new identity column continues after the largest stored key (it would start at 1).
fn continue_identity(d: &dyn Dialect, table: &str, column: &str) -> String {
    let literal = |text: &str| format!("'{}'", text.replace('\'', "''"));
    format!(
        "SELECT setval(pg_get_serial_sequence({}, {}), coalesce(max({}), 0) + 1, false) FROM {}",
        literal(&ident(d, table)),
        literal(column),
        ident(d, column),
        ident(d, table)
    )
}

/// Names from a JSON array of strings (NULL: none).
fn names(json: Option<String>) -> Vec<String> {
    json.and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default()
}

fn on_delete(code: Option<&str>) -> OnDelete {
    match code {
        Some("c") => OnDelete::Cascade,
        Some("n") => OnDelete::SetNull,
        Some("r") => OnDelete::Restrict,
        _ => OnDelete::NoAction,
    }
}
