//! The delete closure, in memory: every object this flush deletes (marked, orphaned, or reached
//! through a `delete` cascade), decided from each row's current parent (D7), and what happens to
//! the children of deleted objects that the session holds.

use super::*;

impl Planner<'_> {
    pub(super) fn close_deletes(&mut self, unloaded_roots: &[RowSet]) -> Result<()> {
        let marked = self
            .arena
            .iter()
            .filter(|(_, e)| e.is_live() && e.marked_delete)
            .map(|(id, _)| id);
        let mut work: Vec<ObjId> = marked.collect();
        work.extend(self.roots.iter().copied());
        self.roots = work.clone();
        // Every explicit root is deleted whatever the order the closure visits them in: a
        // parent's cascade must not treat a child that is itself being deleted as one to null.
        self.deleted.extend(work.iter().copied());
        for set in unloaded_roots {
            self.cascade_from_keys(set, &mut work)?;
        }
        let mut seen: BTreeSet<ObjId> = BTreeSet::new();
        while let Some(id) = work.pop() {
            if !seen.insert(id) {
                continue;
            }
            self.deleted.insert(id);
            let meta = self.arena.entry(id).meta();
            for index in 0..meta.relationships.len() {
                let resolved = self.resolve(meta, index)?;
                self.cascade_from(id, &meta.relationships[index], resolved, &mut work)?;
            }
        }
        for id in seen {
            if self.is_pending(id) {
                self.plan.expunged.push(id);
            } else {
                self.plan.deleted.push(id);
            }
        }
        Ok(())
    }

    pub(super) fn cascade_from(
        &mut self,
        id: ObjId,
        rel: &'static RelationshipMeta,
        resolved: Resolved,
        work: &mut Vec<ObjId>,
    ) -> Result<()> {
        let delete = rel.cascade.contains(Cascade::DELETE);
        match resolved {
            Resolved::Children(link) => {
                if rel.passive_deletes == PassiveDeletes::All {
                    return Ok(());
                }
                let parent = self.parent_ref(id, link.parent_column);
                for child in self.children_of(link, &parent) {
                    if self.deleted.contains(&child) {
                        continue;
                    }
                    self.child_fate(rel, link, child, &parent, delete, work)?;
                }
            }
            Resolved::Parent(link) if delete => {
                if !self.reference_known(id, link.fk_column) {
                    return Ok(()); // the capture over its row reads the stored key
                }
                // The parent the row has now, not the key it was loaded with (D7).
                let target = match self.current_parent(id, link.fk_column) {
                    None => return Ok(()),
                    Some(ParentRef::Pending(target)) => Ok(target),
                    Some(ParentRef::Key(value)) => {
                        match self.arena.lookup(link.parent, std::slice::from_ref(&value)) {
                            // Already deleted by an earlier flush of this transaction.
                            Some(t) if !self.arena.entry(t).is_live() => return Ok(()),
                            Some(t) => Ok(t),
                            None => Err(value),
                        }
                    }
                };
                match target {
                    Ok(target) => {
                        self.roots.push(target);
                        work.push(target);
                    }
                    Err(value) => self.unloaded_parents.push(RowSet::Keys {
                        model: link.parent,
                        column: link.parent_column,
                        values: vec![value],
                    }),
                }
            }
            Resolved::Association {
                target: target_link,
                ..
            } if delete => {
                let slot = self
                    .arena
                    .entry(id)
                    .obj
                    .relation(owner_rel_index(self.arena, id, rel));
                let targets: Vec<ObjId> = slot
                    .held()
                    .filter(|m| self.arena.get(*m).is_some_and(|e| e.is_live()))
                    .collect();
                for target in targets {
                    self.assoc_cleanups.push((target_link, target));
                    self.roots.push(target);
                    work.push(target);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Loaded children of rows deleted by key only (a bulk delete's rows that are not loaded)
    /// meet the same fate in memory as children of a loaded parent.
    pub(super) fn cascade_from_keys(&mut self, set: &RowSet, work: &mut Vec<ObjId>) -> Result<()> {
        let RowSet::Keys {
            model,
            column,
            values,
        } = set
        else {
            return Ok(());
        };
        for index in 0..model.relationships.len() {
            let rel = &model.relationships[index];
            let Resolved::Children(link) = self.resolve(model, index)? else {
                continue;
            };
            if link.parent_column != *column || rel.passive_deletes == PassiveDeletes::All {
                continue;
            }
            let delete = rel.cascade.contains(Cascade::DELETE);
            for value in values {
                let parent = ParentRef::Key(value.clone());
                for child in self.children_of(link, &parent) {
                    if !self.deleted.contains(&child) {
                        self.child_fate(rel, link, child, &parent, delete, work)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn child_fate(
        &mut self,
        rel: &'static RelationshipMeta,
        link: Link,
        child: ObjId,
        parent_ref: &ParentRef,
        delete: bool,
        work: &mut Vec<ObjId>,
    ) -> Result<()> {
        let on_delete = link.on_delete();
        if delete || on_delete == OnDelete::Cascade {
            // The statement over the parent's children reaches the rows the database holds as
            // its children; a child attached to it only in memory is deleted by its own key.
            if self.stored_parent(child, link).as_ref() == Some(parent_ref) {
                self.covered.insert(child);
            } else {
                self.roots.push(child);
            }
            work.push(child);
        } else if on_delete == OnDelete::SetNull || self.is_pending(child) {
            self.record_null(child, link);
        } else if let Some(reason) = link.null_refusal() {
            return Err(refusal(link.parent, rel, link, reason).error());
        } else {
            self.record_null(child, link);
        }
        Ok(())
    }

    pub(super) fn record_null(&mut self, child: ObjId, link: Link) {
        if self.is_pending(child) {
            self.set_sync(child, link.fk_column, KeySrc::Value(Value::Null));
        } else {
            self.plan.nulled.push((child, link.fk_column));
        }
    }

    /// Live objects whose foreign key (after in-memory changes) references `parent`.
    pub(super) fn children_of(&mut self, link: Link, parent: &ParentRef) -> Vec<ObjId> {
        let key = (link.child.table, link.child.name, link.fk_column);
        if !self.ref_index.contains_key(&key) {
            let mut index: HashMap<ParentRef, Vec<ObjId>> = HashMap::default();
            let members: Vec<ObjId> = self
                .arena
                .iter()
                .filter(|(_, e)| e.is_live() && e.meta().same(link.child))
                .map(|(id, _)| id)
                .collect();
            for id in members {
                if let Some(r) = self.current_parent(id, link.fk_column) {
                    index.entry(r).or_default().push(id);
                }
            }
            self.ref_index.insert(key, index);
        }
        self.ref_index[&key]
            .get(parent)
            .cloned()
            .unwrap_or_default()
    }
}
