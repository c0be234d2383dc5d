//! Apply: only after every statement succeeded, the flush's outcome is written into the session:
//! keys, synchronised keys, states, snapshots, and the loaded collections it could have changed
//! (D5: no deleted object or detached child stays in a loaded collection).

use super::*;

/// What a flush changed that loaded relationships may not show yet.
#[derive(Default)]
struct Changes {
    /// Tables that lost rows (deleted or never inserted).
    removed: HashSet<&'static str>,
    /// Tables with rows whose foreign key changed other than through a relationship.
    moved_tables: HashSet<&'static str>,
    /// Those rows.
    moved: HashSet<ObjId>,
}

impl Changes {
    fn moved(&mut self, model: &'static ModelMeta, id: ObjId) {
        self.moved_tables.insert(model.table);
        self.moved.insert(id);
    }

    /// Whether the loaded relationship `resolved` of `owner` may disagree with the keys now.
    fn affects(&self, owner: ObjId, resolved: Resolved) -> bool {
        // A flush that only inserted and updated changed nothing loaded relationships show
        // (asked for every loaded relationship of every object).
        if self.removed.is_empty() && self.moved.is_empty() {
            return false;
        }
        let touched =
            |table: &str| self.removed.contains(table) || self.moved_tables.contains(table);
        match resolved {
            Resolved::Children(link) => touched(link.child.table),
            Resolved::Parent(link) => {
                self.moved.contains(&owner) || self.removed.contains(link.parent.table)
            }
            Resolved::Association { target, .. } => self.removed.contains(target.parent.table),
        }
    }
}

impl Session {
    /// Writes the flush's outcome into the session: keys, synchronised keys, states, snapshots and
    /// collections (D5: no deleted object or detached child stays in a loaded collection).
    pub(super) fn apply(&mut self, mut plan: Plan, generated: Generated, captures: &Captures) {
        self.mark_captured_deletes(&mut plan, captures);
        let gone: HashSet<ObjId> = plan.deleted.iter().chain(&plan.expunged).copied().collect();
        let mut changes = Changes::default();
        let mut touched: ObjMap<()> = ObjMap::default();
        self.remember_unsynced_rows(&plan, &gone);
        for (id, key) in generated.keys.iter() {
            let entry = self.arena.entry_mut(id);
            if let Some(column) = entry.meta().generated_column() {
                let _ = entry.obj.set_column_value(column, key.clone());
            }
        }
        for (id, defaults) in generated.defaults.iter() {
            let entry = self.arena.entry_mut(id);
            for (column, value) in defaults {
                // A default the field cannot hold stays out of the object; reading the row
                // again reports it as a decode error.
                let _ = entry.obj.set_column_value(*column, value.clone());
            }
        }
        let kept = |id: &ObjId| gone.is_empty() || !gone.contains(id);
        for (id, list) in plan.sync.iter().filter(|(id, _)| kept(id)) {
            for (column, src) in list {
                let value = self.resolve(src, &generated);
                let _ = self
                    .arena
                    .entry_mut(id)
                    .obj
                    .set_column_value(*column, value);
            }
            touched.insert(id, ());
        }
        for &(id, column) in plan.nulled.iter().filter(|(id, _)| kept(id)) {
            let _ = self
                .arena
                .entry_mut(id)
                .obj
                .set_column_value(column, Value::Null);
            touched.insert(id, ());
            changes.moved(self.arena.entry(id).meta(), id);
        }
        for step in &plan.steps {
            match step {
                Step::Insert { objects, model } => {
                    self.arena.register_inserted(model, objects);
                    for &id in objects {
                        touched.insert(id, ());
                        if self.has_unsynced_key(&plan, model, id) {
                            changes.moved(model, id);
                        }
                    }
                }
                Step::Update {
                    objects,
                    columns,
                    model,
                } => {
                    // Asked once per step, not per object: whether it wrote a primary key or
                    // foreign key column at all.
                    let rekeyed = columns.iter().any(|c| model.primary_key.contains(c));
                    let foreign: Vec<usize> = columns
                        .iter()
                        .copied()
                        .filter(|&c| model.foreign_key_on(c).is_some())
                        .collect();
                    for &id in objects {
                        touched.insert(id, ());
                        if rekeyed {
                            self.rekey_if_changed(id);
                        }
                    }
                    // A key written directly (not through a relationship) moves the row.
                    for &id in objects.iter().filter(|_| !foreign.is_empty()) {
                        let synced = |c: &usize| {
                            plan.sync
                                .get(&id)
                                .is_some_and(|l| l.iter().any(|(s, _)| s == c))
                        };
                        if foreign.iter().any(|c| !synced(c)) {
                            changes.moved(model, id);
                        }
                    }
                }
                _ => {}
            }
        }
        // Written objects now equal their rows; what they were before this transaction is kept
        // for a rollback (moved, not copied).
        for (id, ()) in touched.iter() {
            self.arena.entry_mut(id).settle_written();
        }
        for &id in &plan.deleted {
            changes.removed.insert(self.arena.entry(id).meta().table);
            self.arena.forget_key(id);
            let entry = self.arena.entry_mut(id);
            entry.state = ObjectState::Deleted;
            entry.marked_delete = false;
            self.flushed_deleted.push(id);
        }
        for &id in &plan.expunged {
            changes.removed.insert(self.arena.entry(id).meta().table);
            self.arena.remove(id);
        }
        self.arena.detached_new.clear();
        self.arena.lost_parents.clear();
        self.reconcile_changed(&changes);
    }

    /// Rows whose keys this flush synchronises without a `write` having recorded their stored
    /// values: those values are kept for a rollback before the flush overwrites them.
    fn remember_unsynced_rows(&mut self, plan: &Plan, gone: &HashSet<ObjId>) {
        let ids = plan.sync.iter().map(|(id, _)| id);
        for id in ids.chain(plan.nulled.iter().map(|(id, _)| *id)) {
            if gone.is_empty() || !gone.contains(&id) {
                self.arena.entry_mut(id).remember_before_transaction();
            }
        }
    }

    /// After an UPDATE that changed an object's primary key, the identity map finds it under the
    /// new key (and no longer under the old one).
    fn rekey_if_changed(&mut self, id: ObjId) {
        let entry = self.arena.entry(id);
        let meta = entry.meta();
        let stored: crate::arena::Key = meta.primary_key.iter().map(|&c| entry.stored(c)).collect();
        if entry.key().as_ref() != Some(&stored) {
            self.arena.forget_key_value(meta, &stored, id);
            self.arena.register_key(id);
        }
    }

    /// Whether a new row was inserted with a foreign key that no relationship set (the user wrote
    /// it): then a loaded collection of its parent does not hold it yet.
    fn has_unsynced_key(&self, plan: &Plan, model: &ModelMeta, id: ObjId) -> bool {
        let synced = plan.sync.get(&id);
        model.foreign_keys.iter().any(|fk| {
            let from_relationship = synced.is_some_and(|l| l.iter().any(|(c, _)| *c == fk.column));
            !from_relationship && !self.arena.entry(id).obj.column_value(fk.column).is_null()
        })
    }

    /// Objects held by the session among rows deleted through captured keys are deleted too.
    fn mark_captured_deletes(&self, plan: &mut Plan, captures: &Captures) {
        for set in &plan.captured_deletes {
            let RowSet::Keys {
                model,
                column,
                values,
            } = set.resolve(captures)
            else {
                continue;
            };
            if model.primary_key != [column] {
                continue;
            }
            for value in values {
                if let Some(id) = self.arena.lookup(model, std::slice::from_ref(&value)) {
                    if self.arena.entry(id).is_live() && !plan.deleted.contains(&id) {
                        plan.deleted.push(id);
                    }
                }
            }
        }
    }

    /// Makes the loaded relationships a flush could have changed agree with the foreign keys;
    /// the others only record that they are in step with the database.
    fn reconcile_changed(&mut self, changes: &Changes) {
        let live: Vec<ObjId> = self.arena.live_ids();
        let mut index: HashMap<(&'static str, &'static str, usize), HashMap<Value, Vec<ObjId>>> =
            HashMap::default();
        let mut links = schema::Resolutions::default();
        for &id in &live {
            let meta = self.arena.entry(id).meta();
            for rel_index in 0..meta.relationships.len() {
                if !self.arena.entry(id).obj.relation(rel_index).loaded {
                    continue;
                }
                let Some(resolved) = links.of(meta)[rel_index] else {
                    continue;
                };
                if !changes.affects(id, resolved) {
                    self.settle_slot(id, rel_index, resolved);
                    continue;
                }
                let members = self.reconciled_members(id, rel_index, resolved, &live, &mut index);
                // A many-to-one whose parent is not in the session reloads on next access.
                let unknown_parent = matches!(resolved, Resolved::Parent(link)
                    if members.is_empty() && !self.arena.entry(id).obj.column_value(link.fk_column).is_null());
                let slot = self.arena.entry_mut(id).obj.relation_mut(rel_index);
                slot.members = members.into_iter().map(Member::Held).collect();
                slot.in_step();
                slot.loaded = !unknown_parent;
            }
        }
    }

    /// A slot the flush did not change: it now agrees with the database as it is. An empty
    /// many-to-one of a new row that got its key from the other side loads on next access
    /// (from the identity map, without SQL).
    fn settle_slot(&mut self, id: ObjId, rel_index: usize, resolved: Resolved) {
        let fk_set = matches!(resolved, Resolved::Parent(link)
            if !self.arena.entry(id).obj.column_value(link.fk_column).is_null());
        let slot = self.arena.entry_mut(id).obj.relation_mut(rel_index);
        if fk_set && slot.members.is_empty() {
            slot.loaded = false;
            return;
        }
        slot.in_step();
    }

    fn reconciled_members(
        &self,
        owner: ObjId,
        rel_index: usize,
        resolved: Resolved,
        live: &[ObjId],
        index: &mut HashMap<(&'static str, &'static str, usize), HashMap<Value, Vec<ObjId>>>,
    ) -> Vec<ObjId> {
        let entry = self.arena.entry(owner);
        let current: Vec<ObjId> = entry
            .obj
            .relation(rel_index)
            .held()
            .filter(|m| self.arena.get(*m).is_some_and(|e| e.is_live()))
            .collect();
        match resolved {
            Resolved::Children(link) => {
                let key = entry.obj.column_value(link.parent_column);
                let by_fk = index
                    .entry((link.child.table, link.child.name, link.fk_column))
                    .or_insert_with(|| {
                        let mut map: HashMap<Value, Vec<ObjId>> = HashMap::default();
                        for &id in live {
                            let e = self.arena.entry(id);
                            if e.meta().same(link.child) {
                                map.entry(e.obj.column_value(link.fk_column))
                                    .or_default()
                                    .push(id);
                            }
                        }
                        map
                    });
                let referencing: &[ObjId] = by_fk.get(&key).map_or(&[], Vec::as_slice);
                let still: HashSet<ObjId> = referencing.iter().copied().collect();
                // Keep the collection's order; children that now reference it come last.
                let mut members: Vec<ObjId> =
                    current.into_iter().filter(|m| still.contains(m)).collect();
                let kept: HashSet<ObjId> = members.iter().copied().collect();
                members.extend(referencing.iter().copied().filter(|id| !kept.contains(id)));
                members
            }
            Resolved::Parent(link) => {
                let value = entry.obj.column_value(link.fk_column);
                let target = current
                    .first()
                    .copied()
                    .filter(|t| self.arena.entry(*t).obj.column_value(link.parent_column) == value);
                target
                    .or_else(|| self.arena.lookup(link.parent, &[value]))
                    .into_iter()
                    .collect()
            }
            Resolved::Association { .. } => current,
        }
    }
}
