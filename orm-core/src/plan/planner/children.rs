//! The children of a set of deleted rows, as statements: deleted, nulled, left to the database's
//! `ON DELETE` rule (D2), or refused before any write (D6).

use super::*;

impl Planner<'_> {
    pub(super) fn dependents(
        &mut self,
        set: &RowSet,
        rel: &'static RelationshipMeta,
        resolved: Resolved,
        path: &mut Vec<&'static str>,
    ) -> Result<()> {
        match resolved {
            Resolved::Children(link) => self.child_statements(set, rel, link, path),
            Resolved::Association { owner, target } => {
                let rows = RowSet::Referencing {
                    model: owner.child,
                    fk: owner.fk_column,
                    parent: Box::new(set.clone()),
                    parent_column: owner.parent_column,
                };
                if !rel.cascade.contains(Cascade::DELETE) {
                    self.plan.steps.push(Step::Delete { set: rows });
                    return Ok(());
                }
                // `delete` on a many-to-many: read the related keys, drop every association row
                // of those objects (also with other owners), then delete them (docs/dev/semantics.md §4).
                let targets =
                    self.capture(&rows, target.fk_column, target.parent, target.parent_column);
                self.plan.steps.push(Step::Delete { set: rows });
                let links = RowSet::Referencing {
                    model: target.child,
                    fk: target.fk_column,
                    parent: Box::new(targets.clone()),
                    parent_column: target.parent_column,
                };
                self.plan.steps.push(Step::Delete { set: links });
                self.delete_captured(targets, path)
            }
            Resolved::Parent(_) => Ok(()),
        }
    }

    pub(super) fn child_statements(
        &mut self,
        set: &RowSet,
        rel: &'static RelationshipMeta,
        link: Link,
        path: &mut Vec<&'static str>,
    ) -> Result<()> {
        let delete = rel.cascade.contains(Cascade::DELETE);
        let self_subtree = matches!(set, RowSet::Subtree { .. }) && link.child.same(set.model());
        if rel.passive_deletes == PassiveDeletes::All || (self_subtree && delete) {
            return Ok(());
        }
        let children = match rel.passive_deletes {
            // Only the loaded children; the database's ON DELETE rule handles the rest.
            PassiveDeletes::Unloaded => self.loaded_children_set(set, link),
            _ => self.referencing(set, link),
        };
        if delete {
            return self.delete_set(children, path);
        }
        match link.on_delete() {
            // D2: never null a key the database will cascade or null itself.
            OnDelete::Cascade => self.database_cascade(children, path)?,
            OnDelete::SetNull => {}
            OnDelete::NoAction | OnDelete::Restrict => {
                if let Some(reason) = link.null_refusal() {
                    // Children this flush deletes or moves do not count. The check runs before
                    // any delete, or, for a set known only once a capture ran, right after it
                    // (still before the delete it concerns).
                    let refusal = refusal(set.model(), rel, link, reason);
                    let checked = self.without_handled(children, link);
                    let after_capture = checked.depends_on_capture();
                    let guard = Step::Guard {
                        set: checked,
                        refusal,
                    };
                    if after_capture {
                        self.plan.steps.push(guard);
                    } else {
                        self.plan.steps.insert(self.guard_at, guard);
                        self.guard_at += 1;
                    }
                } else {
                    self.plan.steps.push(Step::Nullify {
                        set: children,
                        column: link.fk_column,
                    });
                }
            }
        }
        Ok(())
    }

    /// Children referencing `set`, minus those moved to a parent inserted by this flush (their
    /// update runs after the deletes).
    pub(super) fn referencing(&mut self, set: &RowSet, link: Link) -> RowSet {
        let rows = RowSet::Referencing {
            model: link.child,
            fk: link.fk_column,
            parent: Box::new(set.clone()),
            parent_column: link.parent_column,
        };
        let survivors: Vec<Value> = self
            .late_updates
            .iter()
            .filter(|id| self.arena.entry(**id).meta().same(link.child))
            .filter_map(|id| self.arena.entry(*id).key())
            .filter_map(|key| key.into_iter().next())
            .collect();
        match (survivors.is_empty(), link.child.primary_key) {
            (false, [pk]) => RowSet::Except {
                set: Box::new(rows),
                column: *pk,
                values: survivors,
            },
            _ => rows,
        }
    }

    /// `set` without the children this flush already handles in memory: deleted, or moved
    /// (their key through `link` is rewritten) — a D6 check must not count them.
    pub(super) fn without_handled(&self, set: RowSet, link: Link) -> RowSet {
        let model = link.child;
        let [pk] = model.primary_key else { return set };
        let values: Vec<Value> = self
            .arena
            .iter()
            .filter(|(_, e)| e.state == ObjectState::Persistent && e.meta().same(model))
            .filter(|(id, _)| {
                self.deleted.contains(id) || self.synced(*id, link.fk_column).is_some()
            })
            .map(|(_, e)| e.stored(*pk))
            .collect();
        if values.is_empty() {
            return set;
        }
        RowSet::Except {
            set: Box::new(set),
            column: *pk,
            values,
        }
    }

    pub(super) fn loaded_children_set(&self, set: &RowSet, link: Link) -> RowSet {
        let parents: HashSet<Value> = match set {
            RowSet::Keys { column, values, .. } if *column == link.parent_column => {
                values.iter().cloned().collect()
            }
            _ => HashSet::default(),
        };
        let keys: Vec<Key> = self
            .arena
            .iter()
            .filter(|(_, e)| e.state == ObjectState::Persistent && e.meta().same(link.child))
            // Stored as a child of a deleted parent and still its child now (one moved away in
            // memory is not; one attached only in memory is deleted by its own key).
            .filter(|(id, e)| {
                let stored = e.stored(link.fk_column);
                parents.contains(&stored)
                    && self.current_parent(*id, link.fk_column) == Some(ParentRef::Key(stored))
            })
            .filter_map(|(_, e)| e.key())
            .collect();
        key_set(link.child, keys)
    }
}
