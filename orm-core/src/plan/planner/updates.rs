//! Updates of persistent objects: changed columns and synchronised keys, written before the
//! deletes (so that moved children escape a deleted parent) or, when a new value is a key this
//! flush generates, after the inserts.

use super::*;

impl Planner<'_> {
    /// The changed columns of a persistent object, and whether any new value is a key generated
    /// by this flush (then the update must wait for the inserts).
    pub(super) fn changes(&self, id: ObjId) -> (Vec<usize>, bool) {
        let entry = self.arena.entry(id);
        let mut columns = Vec::new();
        let mut late = false;
        for column in 0..entry.meta().columns.len() {
            let written = entry.snapshot.as_ref().map(|s| &s[column]);
            match self.synced(id, column) {
                Some(KeySrc::KeyOf { .. }) => {
                    columns.push(column);
                    late = true;
                }
                Some(KeySrc::Value(v)) if *v != entry.stored(column) => columns.push(column),
                Some(KeySrc::Value(_)) => {}
                None if written.is_some_and(|old| entry.obj.column_value(column) != *old) => {
                    columns.push(column)
                }
                None => {}
            }
        }
        (columns, late)
    }

    pub(super) fn plan_early_updates(&mut self) {
        let ids: Vec<ObjId> = self
            .arena
            .iter()
            .filter(|(id, e)| {
                // An expired object was not written to (`write` reloads first), but a
                // relationship may have moved it: its synchronised keys are still written.
                e.state == ObjectState::Persistent
                    && (!e.expired || self.plan.sync.contains_key(id))
                    && !self.deleted.contains(id)
            })
            .map(|(id, _)| id)
            .collect();
        for id in ids {
            let (columns, late) = self.changes(id);
            if columns.is_empty() {
                continue;
            }
            if late {
                self.detach_before_deletes(id);
                self.late_updates.push(id);
            } else {
                self.push_update(id, columns);
            }
        }
    }

    /// A key that will point at a row inserted by this flush is first set to NULL (where it
    /// may be), so that the row it pointed at can be deleted before the inserts run.
    pub(super) fn detach_before_deletes(&mut self, id: ObjId) {
        let entry = self.arena.entry(id);
        let meta = entry.meta();
        let Some(key) = entry.key() else { return };
        for column in 0..meta.columns.len() {
            let deferred = matches!(self.synced(id, column), Some(KeySrc::KeyOf { .. }));
            if deferred && !entry.stored(column).is_null() && meta.columns[column].nullable {
                let set = key_set(meta, vec![key.clone()]);
                self.plan.steps.push(Step::Nullify { set, column });
            }
        }
    }

    pub(super) fn plan_late_updates(&mut self) {
        for id in std::mem::take(&mut self.late_updates) {
            let (columns, _) = self.changes(id);
            self.push_update(id, columns);
        }
    }

    /// Adds an object to the previous update step when it changes the same columns of the same
    /// model: the executor writes such a group with one statement per chunk.
    pub(super) fn push_update(&mut self, id: ObjId, columns: Vec<usize>) {
        let model = self.arena.entry(id).meta();
        if let Some(Step::Update {
            model: m,
            columns: c,
            objects,
        }) = self.plan.steps.last_mut()
        {
            if m.same(model) && *c == columns {
                objects.push(id);
                return;
            }
        }
        self.plan.steps.push(Step::Update {
            model,
            columns,
            objects: vec![id],
        });
    }
}
