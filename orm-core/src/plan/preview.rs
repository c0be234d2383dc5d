//! Plan preview (D11): the statements a flush would run and, per table, how many rows it would
//! insert, update, delete or set NULL, obtained without writing anything.

use std::fmt;

/// One statement of a previewed flush.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PlannedStatement {
    /// What it does: "delete", "set null", "insert", "update", "check".
    pub action: &'static str,
    /// The table it writes (or checks).
    pub table: &'static str,
    /// The SQL text (parameters are shown as placeholders).
    pub sql: String,
    /// How many rows it affects, counted now.
    pub rows: u64,
}

/// Per-table totals of a previewed flush.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableEffect {
    /// The table.
    pub table: &'static str,
    /// Rows inserted.
    pub inserted: u64,
    /// Rows updated (other than foreign keys set NULL).
    pub updated: u64,
    /// Rows deleted.
    pub deleted: u64,
    /// Rows whose foreign key is set NULL.
    pub nulled: u64,
}

/// What a flush (or a delete) would do, without doing it. Its `Display` is meant for people:
/// "deleting User 5 deletes 2 rows of addresses, deletes 1 row of users".
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Preview {
    /// Descriptions of the objects explicitly deleted ("User 5").
    pub roots: Vec<String>,
    /// The statements, in execution order.
    pub statements: Vec<PlannedStatement>,
    /// Totals per table, in the order tables first appear.
    pub tables: Vec<TableEffect>,
    /// Why running this flush would be refused (D6), if it would.
    pub refusals: Vec<String>,
}

impl Preview {
    /// Whether running this flush would succeed (no D6 refusal).
    pub fn would_succeed(&self) -> bool {
        self.refusals.is_empty()
    }

    /// The totals for `table` (zero when the flush does not touch it).
    pub fn table(&self, table: &str) -> TableEffect {
        self.tables
            .iter()
            .find(|t| t.table == table)
            .cloned()
            .unwrap_or_default()
    }

    fn effect(&mut self, table: &'static str) -> &mut TableEffect {
        if let Some(i) = self.tables.iter().position(|t| t.table == table) {
            return &mut self.tables[i];
        }
        self.tables.push(TableEffect {
            table,
            ..Default::default()
        });
        let last = self.tables.len() - 1;
        &mut self.tables[last]
    }

    pub(crate) fn record(
        &mut self,
        action: &'static str,
        table: &'static str,
        sql: String,
        rows: u64,
    ) {
        let effect = self.effect(table);
        match action {
            "delete" => effect.deleted += rows,
            "set null" => effect.nulled += rows,
            "insert" => effect.inserted += rows,
            "update" => effect.updated += rows,
            _ => {}
        }
        self.statements.push(PlannedStatement {
            action,
            table,
            sql,
            rows,
        });
    }
}

impl fmt::Display for Preview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut effects = Vec::new();
        for t in &self.tables {
            for (n, verb) in [
                (t.deleted, "deletes"),
                (t.nulled, "sets NULL on"),
                (t.inserted, "inserts"),
                (t.updated, "updates"),
            ] {
                if n > 0 {
                    effects.push(format!(
                        "{verb} {n} row{} of {}",
                        if n == 1 { "" } else { "s" },
                        t.table
                    ));
                }
            }
        }
        let subject = if self.roots.is_empty() {
            "this flush".to_owned()
        } else {
            format!("deleting {}", self.roots.join(", "))
        };
        if effects.is_empty() {
            writeln!(f, "{subject} changes nothing")?;
        } else {
            writeln!(f, "{subject} {}", effects.join(", "))?;
        }
        for refusal in &self.refusals {
            writeln!(f, "  it would be refused, with nothing applied: {refusal}")?;
        }
        for (i, s) in self.statements.iter().enumerate() {
            writeln!(
                f,
                "  {}. [{} {} row{}] {}",
                i + 1,
                s.action,
                s.rows,
                if s.rows == 1 { "" } else { "s" },
                s.sql
            )?;
        }
        Ok(())
    }
}
