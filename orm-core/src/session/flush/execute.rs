//! Execute: the plan's steps run in the open transaction, set-based steps chunked under the
//! dialect's parameter limit; generated keys are collected for `apply`.

use super::*;

/// An UPDATE by key that matched fewer rows than objects: rows deleted (or re-keyed) outside
/// this session. The flush fails rather than report writes that did not happen.
fn expect_rows(model: &'static ModelMeta, expected: u64, updated: u64) -> Result<()> {
    if updated < expected {
        return Err(Error::StaleRows {
            model: model.name,
            expected,
            updated,
        });
    }
    Ok(())
}

/// One multi-row INSERT: `rows` rows of `columns`, their values one row after the other.
struct Batch<'a> {
    model: &'static ModelMeta,
    columns: &'a [usize],
    values: Vec<Value>,
    rows: usize,
}

impl Session {
    pub(super) async fn execute_step(
        &self,
        tx: &mut Box<dyn Transaction>,
        plan: &Plan,
        step: &Step,
        generated: &mut Generated,
        captures: &mut Captures,
    ) -> Result<()> {
        let dialect = self.db.dialect();
        match step {
            Step::Capture { set, column, slot } => {
                let set = set.resolve(captures);
                let statement = rowset::select(dialect, &set, *column);
                let ctx = Context::new(Action::Select, set.model().table);
                let rows = self.db.fetch(Some(tx), statement, ctx).await?;
                captures[*slot] = distinct_keys(rows);
            }
            Step::Guard { set, refusal } => {
                let statement = rowset::count(dialect, &set.resolve(captures));
                let rows = self
                    .db
                    .fetch(
                        Some(tx),
                        statement,
                        Context::new(Action::Select, set.model().table),
                    )
                    .await?;
                if count_of(&rows) > 0 {
                    return Err(refusal.error());
                }
            }
            Step::Update {
                model,
                columns,
                objects,
            } => {
                self.update_objects(tx, plan, model, columns, objects, generated)
                    .await?;
            }
            Step::Delete { set } => {
                for chunk in set.resolve(captures).chunks(dialect.max_params()) {
                    let statement = rowset::delete(dialect, &chunk);
                    self.db
                        .execute_in(
                            tx,
                            statement,
                            Context::new(Action::Delete, chunk.model().table),
                        )
                        .await?;
                }
            }
            Step::Nullify { set, column } => {
                for chunk in set.resolve(captures).chunks(dialect.max_params()) {
                    let statement = rowset::nullify(dialect, &chunk, *column);
                    self.db
                        .execute_in(
                            tx,
                            statement,
                            Context::new(Action::Nullify, chunk.model().table),
                        )
                        .await?;
                }
            }
            Step::Insert { model, objects } => {
                self.insert_objects(tx, plan, model, objects, generated)
                    .await?
            }
            Step::AssocInsert {
                model,
                columns,
                rows,
            } => {
                for chunk in rows.chunks(dialect.max_params() / 2) {
                    let values = chunk
                        .iter()
                        .flatten()
                        .map(|src| self.resolve(src, generated))
                        .collect();
                    let statement = sql::insert(dialect, model, columns, values, None);
                    self.db
                        .execute_in(tx, statement, Context::new(Action::Insert, model.table))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Multi-row INSERTs under the parameter limit; generated keys come back without a round
    /// trip per row (consecutive ids from the last insert id on SQLite, else RETURNING).
    async fn insert_objects(
        &self,
        tx: &mut Box<dyn Transaction>,
        plan: &Plan,
        model: &'static ModelMeta,
        objects: &[ObjId],
        generated: &mut Generated,
    ) -> Result<()> {
        // Rows whose generated key is given (`Some(id)`) and rows that leave it to the
        // database have different column lists: one batch each.
        let key_column = model.columns.iter().position(|c| c.generated);
        let (given, generate): (Vec<ObjId>, Vec<ObjId>) = objects.iter().partition(|&&id| {
            key_column.is_some_and(|k| !self.arena.entry(id).obj.column_value(k).is_null())
        });
        for (group, key_needed) in [(given, false), (generate, true)] {
            if !group.is_empty() {
                let key = key_column.filter(|_| key_needed);
                self.insert_group(tx, plan, model, &group, key, generated)
                    .await?;
            }
        }
        Ok(())
    }

    /// Inserts objects that share a column list; `key_column` is the generated key they need.
    async fn insert_group(
        &self,
        tx: &mut Box<dyn Transaction>,
        plan: &Plan,
        model: &'static ModelMeta,
        objects: &[ObjId],
        key_column: Option<usize>,
        generated: &mut Generated,
    ) -> Result<()> {
        let dialect = self.db.dialect();
        let columns: Vec<usize> = (0..model.columns.len())
            .filter(|&c| Some(c) != key_column)
            .collect();
        let per_statement = if columns.is_empty() {
            1
        } else {
            (dialect.max_params() / columns.len()).max(1)
        };
        for chunk in objects.chunks(per_statement) {
            let mut values = Vec::with_capacity(chunk.len() * columns.len());
            for &id in chunk {
                self.push_row(plan, generated, id, &columns, &mut values);
            }
            let batch = Batch {
                model,
                columns: &columns,
                values,
                rows: chunk.len(),
            };
            let ctx = Context::new(Action::Insert, model.table);
            let keys = self.run_insert(tx, batch, key_column, ctx).await?;
            for (id, key) in chunk.iter().zip(keys) {
                generated.insert(*id, key);
            }
        }
        Ok(())
    }

    /// The values one object is inserted with, appended to `out` in `columns` order.
    fn push_row(
        &self,
        plan: &Plan,
        generated: &Generated,
        id: ObjId,
        columns: &[usize],
        out: &mut Vec<Value>,
    ) {
        for &column in columns {
            let deferred = !plan.deferred.is_empty() && plan.deferred.contains(&(id, column));
            out.push(if deferred {
                Value::Null // written by an UPDATE after the inserts
            } else {
                self.value_for(plan, generated, id, column)
            });
        }
    }

    async fn run_insert(
        &self,
        tx: &mut Box<dyn Transaction>,
        batch: Batch<'_>,
        key_column: Option<usize>,
        ctx: Context,
    ) -> Result<Vec<Value>> {
        let dialect = self.db.dialect();
        let (model, columns, n) = (batch.model, batch.columns, batch.rows);
        let rows = batch.values;
        let Some(key_column) = key_column else {
            self.db
                .execute_in(tx, sql::insert(dialect, model, columns, rows, None), ctx)
                .await?;
            return Ok(Vec::new());
        };
        if dialect.consecutive_insert_ids() {
            let outcome = self
                .db
                .execute_in(tx, sql::insert(dialect, model, columns, rows, None), ctx)
                .await?;
            if let Some(last) = outcome.last_insert_id {
                let first = last - n as i64 + 1;
                return Ok((first..=last).map(Value::Integer).collect());
            }
            return Err(Error::internal(
                format!("inserting into `{}`", model.table),
                "the backend reported no generated key",
            ));
        }
        let statement = sql::insert(dialect, model, columns, rows, Some(key_column));
        let returned = self.db.fetch(Some(tx), statement, ctx).await?;
        let mut keys: Vec<Value> = returned
            .into_iter()
            .filter_map(|row| row.into_iter().next())
            .collect();
        if keys.len() != n {
            return Err(Error::internal(
                format!("inserting into `{}`", model.table),
                format!("{n} rows inserted but {} keys returned", keys.len()),
            ));
        }
        // The database draws the keys from its sequence in the order of the VALUES rows, so
        // they increase with it; RETURNING itself promises no order, so sort them.
        keys.sort_by_key(|key| match key {
            Value::Integer(i) => *i,
            _ => i64::MIN,
        });
        Ok(keys)
    }

    /// Writes changed columns: one statement per object, or for a group of objects of a model
    /// with a single-column key, one `UPDATE ... FROM (VALUES ...)` per chunk.
    async fn update_objects(
        &self,
        tx: &mut Box<dyn Transaction>,
        plan: &Plan,
        model: &'static ModelMeta,
        columns: &[usize],
        objects: &[ObjId],
        generated: &Generated,
    ) -> Result<()> {
        let dialect = self.db.dialect();
        let ctx = Context::new(Action::Update, model.table);
        if objects.len() == 1 || model.primary_key.len() != 1 {
            for &id in objects {
                let set = columns
                    .iter()
                    .map(|&c| (c, self.value_for(plan, generated, id, c)))
                    .collect();
                let key = self.key_after_inserts(id, generated);
                let outcome = self
                    .db
                    .execute_in(tx, sql::update(dialect, model, set, &key), ctx)
                    .await?;
                expect_rows(model, 1, outcome.rows_affected)?;
            }
            return Ok(());
        }
        let rows: Vec<(Value, Vec<Value>)> = objects
            .iter()
            .map(|&id| {
                let key = self.key_after_inserts(id, generated);
                let values = columns
                    .iter()
                    .map(|&c| self.value_for(plan, generated, id, c))
                    .collect();
                (key.into_iter().next().unwrap_or(Value::Null), values)
            })
            .collect();
        let per_row = columns.len() + 1;
        for chunk in rows.chunks((dialect.max_params() / per_row).max(1)) {
            let statement = sql::update_many(dialect, model, columns, chunk);
            let outcome = self.db.execute_in(tx, statement, ctx).await?;
            expect_rows(model, chunk.len() as u64, outcome.rows_affected)?;
        }
        Ok(())
    }

    /// The primary key of an object, including a key generated earlier in this flush.
    fn key_after_inserts(&self, id: ObjId, generated: &Generated) -> Vec<Value> {
        let entry = self.arena.entry(id);
        let meta = entry.meta();
        meta.primary_key
            .iter()
            .map(|&c| match generated.get(&id) {
                Some(key) if meta.columns[c].generated => key.clone(),
                // The row is found by the key it is stored under, even if `write` changed it.
                _ => entry.stored(c),
            })
            .collect()
    }

    /// The value column `column` of `id` is written with: synchronised foreign key, else its own.
    fn value_for(&self, plan: &Plan, generated: &Generated, id: ObjId, column: usize) -> Value {
        let synced = plan
            .sync
            .get(&id)
            .and_then(|list| list.iter().find(|(c, _)| *c == column));
        match synced {
            Some((_, src)) => self.resolve(src, generated),
            None => self.arena.entry(id).obj.column_value(column),
        }
    }

    pub(super) fn resolve(&self, src: &KeySrc, generated: &Generated) -> Value {
        match src {
            KeySrc::Value(v) => v.clone(),
            KeySrc::KeyOf { object, column } => generated
                .get(object)
                .cloned()
                .unwrap_or_else(|| self.arena.entry(*object).obj.column_value(*column)),
        }
    }
}
