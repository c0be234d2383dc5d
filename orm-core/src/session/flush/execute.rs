//! Execute: the plan's steps run in the open transaction, set-based steps chunked under the
//! dialect's parameter limit; generated keys are collected for `apply`.

use super::*;

/// The columns of a new row left to the database (its generated key, defaults): one or two,
/// asked of every inserted object, so kept off the heap.
type Omitted = smallvec::SmallVec<[usize; 4]>;

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
                    let statement = sql::insert(dialect, model, columns, values, &[]);
                    self.db
                        .execute_in(tx, statement, Context::new(Action::Insert, model.table))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Multi-row INSERTs under the parameter limit. What the database fills in (a generated
    /// key, column defaults) comes back without a round trip per row: consecutive ids from the
    /// last insert id on SQLite, else `RETURNING`.
    async fn insert_objects(
        &self,
        tx: &mut Box<dyn Transaction>,
        plan: &Plan,
        model: &'static ModelMeta,
        objects: &[ObjId],
        generated: &mut Generated,
    ) -> Result<()> {
        // Objects that leave different columns to the database (a key given or not, a default
        // used or not) have different column lists: one batch each, in first-seen order.
        let mut groups: Vec<(Omitted, Vec<ObjId>)> = Vec::new();
        for &id in objects {
            let omitted = self.left_to_database(plan, generated, model, id);
            match groups.iter_mut().find(|(o, _)| *o == omitted) {
                Some((_, group)) => group.push(id),
                None => groups.push((omitted, vec![id])),
            }
        }
        for (omitted, group) in groups {
            self.insert_group(tx, plan, model, &group, &omitted, generated)
                .await?;
        }
        Ok(())
    }

    /// The columns the database fills in for `id`: its generated key and defaulted columns,
    /// where the object leaves them NULL.
    fn left_to_database(
        &self,
        plan: &Plan,
        generated: &Generated,
        model: &'static ModelMeta,
        id: ObjId,
    ) -> Omitted {
        (0..model.columns.len())
            .filter(|&c| model.columns[c].filled_by_database())
            .filter(|&c| plan.deferred.is_empty() || !plan.deferred.contains(&(id, c)))
            .filter(|&c| self.value_for(plan, generated, id, c).is_null())
            .collect()
    }

    /// Inserts objects that share a column list; `omitted` are the columns the database fills
    /// in for them.
    async fn insert_group(
        &self,
        tx: &mut Box<dyn Transaction>,
        plan: &Plan,
        model: &'static ModelMeta,
        objects: &[ObjId],
        omitted: &[usize],
        generated: &mut Generated,
    ) -> Result<()> {
        let dialect = self.db.dialect();
        let columns: Vec<usize> = (0..model.columns.len())
            .filter(|c| !omitted.contains(c))
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
            let filled = self
                .run_insert(tx, batch, omitted, chunk, plan, generated, ctx)
                .await?;
            if !omitted.is_empty() {
                for (&id, row) in chunk.iter().zip(filled.chunks(omitted.len())) {
                    generated.record(model, id, omitted, row);
                }
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

    /// Runs one multi-row INSERT; returns the values the database filled in for the `omitted`
    /// columns, row after row in `objects` order, in one flat vector (no allocation per row).
    #[allow(clippy::too_many_arguments)]
    async fn run_insert(
        &self,
        tx: &mut Box<dyn Transaction>,
        batch: Batch<'_>,
        omitted: &[usize],
        objects: &[ObjId],
        plan: &Plan,
        generated: &Generated,
        ctx: Context,
    ) -> Result<Vec<Value>> {
        let dialect = self.db.dialect();
        let (model, columns, n) = (batch.model, batch.columns, batch.rows);
        let rows = batch.values;
        let key = model.generated_column();
        if omitted.is_empty() {
            self.db
                .execute_in(tx, sql::insert(dialect, model, columns, rows, &[]), ctx)
                .await?;
            return Ok(Vec::new());
        }
        if dialect.consecutive_insert_ids() && omitted.len() == 1 && key == Some(omitted[0]) {
            let outcome = self
                .db
                .execute_in(tx, sql::insert(dialect, model, columns, rows, &[]), ctx)
                .await?;
            let Some(last) = outcome.last_insert_id else {
                return Err(Error::internal(
                    format!("inserting into `{}`", model.table),
                    "the backend reported no generated key",
                ));
            };
            let first = last - n as i64 + 1;
            return Ok((first..=last).map(Value::Integer).collect());
        }
        // RETURNING promises no row order: rows are matched to objects by their generated key
        // (drawn in VALUES order, so increasing with it) or, without one, by primary key.
        let key_position = omitted.iter().position(|&c| Some(c) == key);
        let returning: Vec<usize> = match key_position {
            Some(_) => omitted.to_vec(),
            None => model.primary_key.iter().chain(omitted).copied().collect(),
        };
        let statement = sql::insert(dialect, model, columns, rows, &returning);
        let mut returned = self.db.fetch(Some(tx), statement, ctx).await?;
        let mismatch = |found: usize| {
            Error::internal(
                format!("inserting into `{}`", model.table),
                format!("{n} rows inserted but {found} returned"),
            )
        };
        if returned.len() != n {
            return Err(mismatch(returned.len()));
        }
        if let Some(k) = key_position {
            returned.sort_by_key(|row| match row.get(k) {
                Some(Value::Integer(i)) => *i,
                _ => i64::MIN,
            });
            return Ok(returned.into_iter().flatten().collect());
        }
        let width = model.primary_key.len();
        let mut by_key: HashMap<Vec<Value>, Vec<Value>> = returned
            .into_iter()
            .map(|mut row| {
                let rest = row.split_off(width.min(row.len()));
                (row, rest)
            })
            .collect();
        let mut filled = Vec::with_capacity(n * omitted.len());
        for &id in objects {
            let key: Vec<Value> = model
                .primary_key
                .iter()
                .map(|&c| self.value_for(plan, generated, id, c))
                .collect();
            let row = by_key.remove(&key).ok_or_else(|| {
                Error::internal(
                    format!("inserting into `{}`", model.table),
                    "RETURNING gave no row for an inserted key",
                )
            })?;
            filled.extend(row);
        }
        Ok(filled)
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
            .map(|&c| match generated.keys.get(&id) {
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
                .keys
                .get(object)
                .cloned()
                .unwrap_or_else(|| self.arena.entry(*object).obj.column_value(*column)),
        }
    }
}
