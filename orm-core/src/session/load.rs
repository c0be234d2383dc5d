//! Reading rows into the session: merging them into the identity map, reloading expired objects,
//! and loading relationships (lazily, or eagerly for many parents at once).

use super::Session;
use crate::arena::{Entry, ObjectState};
use crate::backend::Row;
use crate::column::Expr;
use crate::database::{Action, Context};
use crate::error::{Error, Result};
use crate::meta::ModelMeta;
use crate::model::{Build, Member, Model, ObjId};
use crate::schema::{self, Resolved};
use crate::sql::{self, Window};
use crate::value::Value;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

fn decode_error(
    meta: &'static ModelMeta,
    column: usize,
    source: crate::value::ValueError,
) -> Error {
    Error::Decode {
        model: meta.name,
        column: meta.columns.get(column).map_or(meta.table, |c| c.name),
        source,
    }
}

impl Session {
    /// Merges rows of `meta` into the identity map: a row already held keeps its in-memory
    /// object (refreshed if expired); a new row becomes a persistent object.
    pub(crate) fn merge_rows(
        &mut self,
        meta: &'static ModelMeta,
        rows: Vec<Row>,
        build: Build,
    ) -> Result<Vec<ObjId>> {
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            let key: crate::arena::Key = meta
                .primary_key
                .iter()
                .map(|&c| row.get(c).cloned().unwrap_or(Value::Null))
                .collect();
            if let Some(id) = self.arena.lookup(meta, &key) {
                if self.arena.entry(id).expired {
                    self.overwrite_columns(id, row)?;
                }
                ids.push(id);
                continue;
            }
            let obj = build(row)?;
            let id = self.arena.insert_loaded(
                Entry {
                    obj,
                    state: ObjectState::Persistent,
                    marked_delete: false,
                    snapshot: None,
                    expired: false,
                    added_in_tx: false,
                    written_relations: None,
                    before_tx: None,
                },
                key,
            );
            ids.push(id);
        }
        Ok(ids)
    }

    fn overwrite_columns(&mut self, id: ObjId, row: Row) -> Result<()> {
        let entry = self.arena.entry_mut(id);
        let meta = entry.meta();
        for (column, value) in row.into_iter().enumerate() {
            entry
                .obj
                .set_column_value(column, value)
                .map_err(|source| decode_error(meta, column, source))?;
        }
        entry.snapshot = None;
        entry.expired = false;
        Ok(())
    }

    /// Runs a SELECT of whole rows of `meta` in the session's transaction (if any).
    pub(crate) async fn select_rows(
        &mut self,
        meta: &'static ModelMeta,
        filter: Option<&Expr>,
        window: &Window,
    ) -> Result<Vec<Row>> {
        self.recover_lost_transaction()?;
        self.db.ensure_valid(meta)?;
        let ctx = Context::new(Action::Select, meta.table);
        // Where the dialect packs rows (SQLite), they come back as one value: see
        // `Dialect::pack_rows_open` for why, and `sql::packed` for how they are read.
        if let Some(statement) = sql::select_packed(self.db.dialect(), meta, filter, window) {
            let packed = self.fetch_in_tx(statement, ctx).await?;
            return sql::packed::unpack(packed, meta.columns.len()).map_err(|message| {
                Error::internal(format!("reading from `{}`", meta.table), message)
            });
        }
        let statement = sql::select(self.db.dialect(), meta, filter, window);
        self.fetch_in_tx(statement, ctx).await
    }

    /// The row with primary key `key`, if any (what `get` and a reload read).
    async fn select_by_key(&mut self, meta: &'static ModelMeta, key: &[Value]) -> Result<Vec<Row>> {
        let filter = Expr::key(meta, key);
        self.select_rows(meta, Some(&filter), &Window::default())
            .await
    }

    /// Reloads an expired object's columns; a row that is gone makes the object unavailable.
    pub(crate) async fn reload(&mut self, id: ObjId) -> Result<()> {
        let entry = self.arena.entry(id);
        let meta = entry.meta();
        let key = entry.key().ok_or(Error::NotPersisted {
            model: meta.name,
            action: "reloading it",
        })?;
        let rows = self.select_by_key(meta, &key).await?;
        match rows.into_iter().next() {
            Some(row) => self.overwrite_columns(id, row),
            None => {
                // Gone from the database: out of the session and out of every collection.
                self.arena.remove(id);
                self.arena.drop_from_collections(id);
                Err(Error::Unavailable {
                    model: meta.name,
                    key: crate::arena::format_key(&key),
                    state: "deleted",
                })
            }
        }
    }

    /// Loads relationship `index` of object `id` from the database (after an autoflush).
    pub(crate) async fn load_relation(&mut self, id: ObjId, index: usize) -> Result<()> {
        let members = self.fetch_related(id, index).await?;
        self.set_loaded(id, index, members);
        Ok(())
    }

    /// The objects relationship `index` of object `id` holds in the database, read into the
    /// identity map; the relationship itself is left as it is.
    pub(crate) async fn fetch_related(&mut self, id: ObjId, index: usize) -> Result<Vec<ObjId>> {
        let meta = self.arena.entry(id).meta();
        let rel = &meta.relationships[index];
        let target = (rel.target)();
        let build = self.arena.entry(id).obj.relation(index).build;
        let members = match schema::resolve(meta, rel)? {
            Resolved::Children(link) => {
                let value = self.arena.entry(id).obj.column_value(link.parent_column);
                let filter = Expr::Compare {
                    column: link.fk_column,
                    op: crate::column::CmpOp::Eq,
                    value,
                };
                let rows = self
                    .select_rows(target, Some(&filter), &Window::default())
                    .await?;
                let stored = self.merge_rows(target, rows, build)?;
                self.children_as_referenced(id, rel, link, stored)
            }
            Resolved::Parent(link) => {
                let value = self.arena.entry(id).obj.column_value(link.fk_column);
                self.find_by_column(target, link.parent_column, value, build)
                    .await?
                    .into_iter()
                    .collect()
            }
            Resolved::Association {
                owner,
                target: target_link,
            } => {
                let value = self.arena.entry(id).obj.column_value(owner.parent_column);
                let statement =
                    sql::select_through(self.db.dialect(), target, target_link, owner, value);
                let rows = self
                    .fetch_in_tx(statement, Context::new(Action::Select, target.table))
                    .await?;
                self.merge_rows(target, rows, build)?
            }
        };
        Ok(members)
    }

    /// The children of `owner` as the session knows them: the rows stored as its children,
    /// without those whose reference (the partner `BelongsTo`) was changed to another parent in
    /// memory, and with those whose reference was changed to it. The reference the user set
    /// wins over the stored key, whichever side is loaded later.
    fn children_as_referenced(
        &self,
        owner: ObjId,
        rel: &'static crate::meta::RelationshipMeta,
        link: schema::Link,
        stored: Vec<ObjId>,
    ) -> Vec<ObjId> {
        let owner_meta = self.arena.entry(owner).meta();
        let Some(index) = schema::partner_of(owner_meta, rel)
            .filter(|p| p.kind == crate::meta::RelKind::BelongsTo)
            .and_then(|p| link.child.relationship_index(p.field))
        else {
            return stored;
        };
        // Some(holds owner) when the child's reference differs from its stored key.
        let changed = |e: &Entry| -> Option<bool> {
            let slot = e.obj.relation(index);
            if !slot.loaded {
                return None;
            }
            let target = slot.held().next();
            let target_key =
                target.map(|t| self.arena.entry(t).obj.column_value(link.parent_column));
            (target_key.unwrap_or(Value::Null) != e.stored(link.fk_column))
                .then_some(target == Some(owner))
        };
        let mut members: Vec<ObjId> = stored
            .into_iter()
            .filter(|m| self.arena.get(*m).and_then(changed) != Some(false))
            .collect();
        let known: HashSet<ObjId> = members.iter().copied().collect();
        members.extend(
            self.arena
                .iter()
                .filter(|(id, e)| {
                    e.is_live()
                        && e.meta().same(link.child)
                        && !known.contains(id)
                        && changed(e) == Some(true)
                })
                .map(|(id, _)| id),
        );
        members
    }

    pub(crate) fn set_loaded(&mut self, id: ObjId, index: usize, members: Vec<ObjId>) {
        let live: Vec<ObjId> = members
            .into_iter()
            .filter(|m| self.arena.get(*m).is_some_and(|e| e.is_live()))
            .collect();
        let slot = self.arena.entry_mut(id).obj.relation_mut(index);
        let new: Vec<Member> = std::mem::take(&mut slot.members)
            .into_iter()
            .filter(|m| matches!(m, Member::New(_)))
            .collect();
        slot.members = live.iter().map(|m| Member::Held(*m)).chain(new).collect();
        slot.in_step();
        slot.loaded = true;
    }

    async fn find_by_column(
        &mut self,
        meta: &'static ModelMeta,
        column: usize,
        value: Value,
        build: Build,
    ) -> Result<Option<ObjId>> {
        if value.is_null() {
            return Ok(None);
        }
        if meta.primary_key == [column] {
            return self.find_key(meta, &[value], build).await;
        }
        let filter = Expr::Compare {
            column,
            op: crate::column::CmpOp::Eq,
            value,
        };
        let rows = self
            .select_rows(meta, Some(&filter), &Window::default())
            .await?;
        Ok(self.merge_rows(meta, rows, build)?.into_iter().next())
    }

    /// The object with primary key `key`: from the identity map (unless expired, so that the same
    /// row is always the same object), else with one SELECT.
    pub(crate) async fn find_key(
        &mut self,
        meta: &'static ModelMeta,
        key: &[Value],
        build: Build,
    ) -> Result<Option<ObjId>> {
        if let Some(id) = self.arena.lookup(meta, key) {
            if !self.arena.entry(id).expired {
                return Ok(Some(id));
            }
        }
        let rows = self.select_by_key(meta, key).await?;
        Ok(self.merge_rows(meta, rows, build)?.into_iter().next())
    }

    /// Eagerly loads a many-to-one for many owners: one SELECT per chunk of distinct keys.
    async fn load_parents_many(
        &mut self,
        owners: &[ObjId],
        index: usize,
        link: crate::schema::Link,
        build: Build,
    ) -> Result<Vec<ObjId>> {
        let mut wanted: Vec<Value> = Vec::new();
        let mut seen = HashSet::default();
        for &owner in owners {
            let value = self.arena.entry(owner).obj.column_value(link.fk_column);
            if !value.is_null() && seen.insert(value.clone()) {
                wanted.push(value);
            }
        }
        let mut by_key: HashMap<Value, ObjId> = HashMap::default();
        for chunk in wanted.chunks(self.db.dialect().max_params().saturating_sub(8).max(1)) {
            let filter = Expr::In {
                column: link.parent_column,
                values: chunk.to_vec(),
            };
            let rows = self
                .select_rows(link.parent, Some(&filter), &Window::default())
                .await?;
            for id in self.merge_rows(link.parent, rows, build)? {
                by_key.insert(
                    self.arena.entry(id).obj.column_value(link.parent_column),
                    id,
                );
            }
        }
        for &owner in owners {
            if self.arena.entry(owner).obj.relation(index).loaded {
                continue;
            }
            let value = self.arena.entry(owner).obj.column_value(link.fk_column);
            let parent = by_key.get(&value).copied();
            self.set_loaded(owner, index, parent.into_iter().collect());
        }
        Ok(by_key.into_values().collect())
    }

    /// Validates `T`'s relationships once, before its first statement.
    pub(crate) fn register<T: Model>(&self) -> Result<()> {
        self.db.ensure_valid(T::META)
    }

    /// Eagerly loads relationship `index` for many owners at once: one SELECT per chunk of
    /// keys instead of one per owner (no N+1).
    pub(crate) async fn load_relation_many(
        &mut self,
        owners: &[ObjId],
        meta: &'static ModelMeta,
        index: usize,
    ) -> Result<Vec<ObjId>> {
        let rel = &meta.relationships[index];
        let target = (rel.target)();
        let Some(&first) = owners.first() else {
            return Ok(Vec::new());
        };
        let build = self.arena.entry(first).obj.relation(index).build;
        let link = match schema::resolve(meta, rel)? {
            Resolved::Children(link) => link,
            Resolved::Parent(link) => {
                return self.load_parents_many(owners, index, link, build).await
            }
            // Many-to-many: one join per owner.
            Resolved::Association { .. } => {
                let mut all = Vec::new();
                for &owner in owners {
                    if !self.arena.entry(owner).obj.relation(index).loaded {
                        self.load_relation(owner, index).await?;
                    }
                    all.extend(self.arena.entry(owner).obj.relation(index).held());
                }
                return Ok(all);
            }
        };
        let keys: Vec<Value> = owners
            .iter()
            .map(|&o| self.arena.entry(o).obj.column_value(link.parent_column))
            .collect();
        let mut by_parent: HashMap<Value, Vec<ObjId>> = HashMap::default();
        let mut all = Vec::new();
        for chunk in keys.chunks(self.db.dialect().max_params().saturating_sub(8).max(1)) {
            let filter = Expr::In {
                column: link.fk_column,
                values: chunk.to_vec(),
            };
            let rows = self
                .select_rows(target, Some(&filter), &Window::default())
                .await?;
            for id in self.merge_rows(target, rows, build)? {
                let fk = self.arena.entry(id).obj.column_value(link.fk_column);
                by_parent.entry(fk).or_default().push(id);
                all.push(id);
            }
        }
        for (&owner, key) in owners.iter().zip(keys) {
            let members = by_parent.remove(&key).unwrap_or_default();
            // A collection already loaded may hold changes not flushed yet: keep it as it is.
            if !self.arena.entry(owner).obj.relation(index).loaded {
                self.set_loaded(owner, index, members);
            }
        }
        Ok(all)
    }
}
