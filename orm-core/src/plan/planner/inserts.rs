//! Inserts of pending objects, referenced rows first (and parents before children within a
//! self-referential table), and association rows after them.

use super::*;

impl Planner<'_> {
    pub(super) fn plan_inserts(&mut self) {
        let pending: Vec<ObjId> = self
            .arena
            .iter()
            .filter(|(id, e)| e.state == ObjectState::Pending && !self.deleted.contains(id))
            .map(|(id, _)| id)
            .collect();
        let mut models: Vec<&'static ModelMeta> = Vec::new();
        for id in &pending {
            let meta = self.arena.entry(*id).meta();
            if !models.iter().any(|m| m.same(meta)) {
                models.push(meta);
            }
        }
        for model in schema::dependency_order(&models) {
            let objects: Vec<ObjId> = pending
                .iter()
                .copied()
                .filter(|id| self.arena.entry(*id).meta().same(model))
                .collect();
            for level in self.self_reference_levels(model, objects) {
                self.plan.steps.push(Step::Insert {
                    model,
                    objects: level,
                });
            }
        }
        self.defer_forward_references();
    }

    /// A pending row whose foreign key points at a row inserted later in this flush (mutual
    /// foreign keys between new rows) is inserted with NULL there and updated after the inserts.
    pub(super) fn defer_forward_references(&mut self) {
        if !self.inserts_may_reference_forward() {
            return;
        }
        let mut position: HashMap<ObjId, usize> = HashMap::default();
        for (i, step) in self.plan.steps.iter().enumerate() {
            if let Step::Insert { objects, .. } = step {
                position.extend(objects.iter().map(|o| (*o, i)));
            }
        }
        let mut deferred: Vec<(ObjId, usize)> = Vec::new();
        for (id, list) in self.plan.sync.iter() {
            let Some(&mine) = position.get(&id) else {
                continue;
            };
            for (column, src) in list {
                if let KeySrc::KeyOf { object, .. } = src {
                    if position
                        .get(object)
                        .is_some_and(|&theirs| theirs >= mine && *object != id)
                    {
                        deferred.push((id, *column));
                    }
                }
            }
        }
        deferred.sort();
        for &(object, column) in &deferred {
            self.push_update(object, vec![column]);
        }
        self.plan.deferred.extend(deferred);
    }

    /// Whether some inserted table references a table inserted at the same step or later (a
    /// cycle between tables, or a self-reference): only then can a new row point forward.
    pub(super) fn inserts_may_reference_forward(&self) -> bool {
        let inserts: Vec<(usize, &'static ModelMeta)> = self
            .plan
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, step)| match step {
                Step::Insert { model, .. } => Some((i, *model)),
                _ => None,
            })
            .collect();
        inserts.iter().any(|(i, model)| {
            model.foreign_keys.iter().any(|fk| {
                inserts
                    .iter()
                    .any(|(j, target)| target.table == fk.target_table && j >= i)
            })
        })
    }

    /// Splits pending objects of a self-referential model so that parents are inserted first.
    pub(super) fn self_reference_levels(
        &self,
        model: &'static ModelMeta,
        objects: Vec<ObjId>,
    ) -> Vec<Vec<ObjId>> {
        let self_fks: Vec<usize> = model
            .foreign_keys
            .iter()
            .filter(|fk| fk.target_table == model.table)
            .map(|fk| fk.column)
            .collect();
        if self_fks.is_empty() {
            return vec![objects];
        }
        let mut levels = Vec::new();
        let mut done: HashSet<ObjId> = HashSet::default();
        let mut remaining = objects;
        while !remaining.is_empty() {
            let (ready, blocked): (Vec<ObjId>, Vec<ObjId>) = remaining.iter().partition(|id| {
                self_fks
                    .iter()
                    .all(|&c| match self.current_parent(**id, c) {
                        Some(ParentRef::Pending(p)) => done.contains(&p) || p == **id,
                        _ => true,
                    })
            });
            // A cycle among pending rows cannot be ordered; insert the rest and let the database judge.
            let ready = if ready.is_empty() {
                blocked.clone()
            } else {
                ready
            };
            done.extend(ready.iter().copied());
            remaining = blocked
                .into_iter()
                .filter(|id| !done.contains(id))
                .collect();
            levels.push(ready);
        }
        levels
    }

    pub(super) fn plan_assoc_inserts(&mut self) {
        let mut seen = HashSet::default();
        let adds = std::mem::take(&mut self.assoc_adds);
        for (model, columns, row, objects) in adds {
            if objects.iter().any(|o| self.deleted.contains(o)) {
                continue;
            }
            let (first, second) = if columns[0] <= columns[1] {
                (objects[0], objects[1])
            } else {
                (objects[1], objects[0])
            };
            if !seen.insert((model.table, first, second)) {
                continue;
            }
            match self.plan.steps.iter_mut().rev().find_map(|s| match s {
                Step::AssocInsert {
                    model: m,
                    columns: c,
                    rows,
                } if m.same(model) && *c == columns => Some(rows),
                _ => None,
            }) {
                Some(rows) => rows.push(row),
                None => self.plan.steps.push(Step::AssocInsert {
                    model,
                    columns,
                    rows: vec![row],
                }),
            }
        }
    }
}
