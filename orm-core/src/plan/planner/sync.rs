//! Relationships to foreign keys: what each changed relationship means for the rows it links
//! (keys to synchronise, association rows to add or remove), and which removed or detached rows
//! are moved, detached or orphaned.

use super::*;
use std::borrow::Cow;

impl Planner<'_> {
    pub(super) fn sync_relationships(&mut self) -> Result<()> {
        let ids: Vec<ObjId> = self.arena.live_ids();
        for id in ids {
            let meta = self.arena.entry(id).meta();
            for index in 0..meta.relationships.len() {
                let slot = self.arena.entry(id).obj.relation(index);
                if !slot.loaded {
                    continue;
                }
                let resolved = self.resolve(meta, index)?;
                self.sync_one(id, index, resolved);
            }
        }
        Ok(())
    }

    /// What relationship `index` of `owner` changed, as keys to synchronise, association rows
    /// and removals.
    pub(super) fn sync_one(&mut self, owner: ObjId, index: usize, resolved: Resolved) {
        let rel = &self.arena.entry(owner).meta().relationships[index];
        let slot = self.arena.entry(owner).obj.relation(index);
        let held: Vec<ObjId> = slot
            .held()
            .filter(|m| self.arena.get(*m).is_some_and(|e| e.is_live()))
            .collect();
        let owner_pending = self.is_pending(owner);
        let original: Vec<ObjId> = match &slot.original {
            _ if owner_pending => Vec::new(),
            Some(original) => original.clone(),
            None => held.clone(), // unchanged since loaded or flushed
        };
        let (added, removed): (Cow<[ObjId]>, Vec<ObjId>) = if owner_pending {
            (Cow::Borrowed(&held), Vec::new()) // a new owner: everything it holds is new to it
        } else if held == original {
            (Cow::Borrowed(&[]), Vec::new()) // the common case: an untouched collection
        } else {
            let before: HashSet<ObjId> = original.iter().copied().collect();
            let after: HashSet<ObjId> = held.iter().copied().collect();
            let added = held.iter().copied().filter(|m| !before.contains(m));
            let removed = original.iter().copied().filter(|m| !after.contains(m));
            (Cow::Owned(added.collect()), removed.collect())
        };
        match resolved {
            Resolved::Children(link) => {
                for &member in added.iter() {
                    let src = self.source(owner, link.parent_column);
                    self.set_sync(member, link.fk_column, src);
                }
            }
            Resolved::Parent(link) => {
                // Only a reference changed in memory speaks; an untouched one leaves the key as
                // the object (or its parent's collection) set it.
                if !removed.is_empty() || held.iter().any(|m| !original.contains(m)) {
                    let src = match held.first() {
                        Some(&target) => self.source(target, link.parent_column),
                        None => KeySrc::Value(Value::Null),
                    };
                    if held.is_empty() && !owner_pending {
                        self.lost_parent.push((owner, link));
                    }
                    self.set_sync(owner, link.fk_column, src);
                }
            }
            Resolved::Association {
                owner: owner_link,
                target: target_link,
            } => {
                for &member in added.iter() {
                    let row = [
                        self.source(owner, owner_link.parent_column),
                        self.source(member, target_link.parent_column),
                    ];
                    let columns = [owner_link.fk_column, target_link.fk_column];
                    self.assoc_adds
                        .push((owner_link.child, columns, row, [owner, member]));
                }
                for &member in &removed {
                    if let (KeySrc::Value(a), KeySrc::Value(b)) = (
                        self.source(owner, owner_link.parent_column),
                        self.source(member, target_link.parent_column),
                    ) {
                        self.assoc_removes.push((
                            owner_link.child,
                            [owner_link.fk_column, target_link.fk_column],
                            [a, b],
                        ));
                    }
                }
            }
        }
        for member in removed {
            self.removals.push(Removal {
                owner,
                rel,
                resolved,
                member,
            });
        }
    }

    /// Who holds whom through loaded relationships, after the changes in memory. Only needed to
    /// judge removals and new orphans, so built only when there are some.
    pub(super) fn build_holders(&mut self) {
        if !self.holders.is_empty() || !self.held_any.is_empty() {
            return;
        }
        for (owner, entry) in self.arena.iter().filter(|(_, e)| e.is_live()) {
            let meta = entry.meta();
            for (index, rel) in meta.relationships.iter().enumerate() {
                let slot = entry.obj.relation(index);
                if !slot.loaded {
                    continue;
                }
                for member in slot
                    .held()
                    .filter(|m| self.arena.get(*m).is_some_and(|e| e.is_live()))
                {
                    // A many-to-one holds its parent: that attaches the holder, not the parent.
                    if rel.kind != crate::meta::RelKind::BelongsTo {
                        self.held_any.insert(member);
                    }
                    self.holders
                        .entry((meta.name, rel.field, member))
                        .or_default()
                        .push(owner);
                }
            }
        }
    }

    /// Whether `member` is held by another owner through the same relationship after the changes.
    pub(super) fn held_elsewhere(&self, removal: &Removal) -> bool {
        let owner = self.arena.entry(removal.owner).meta().name;
        self.holders
            .get(&(owner, removal.rel.field, removal.member))
            .is_some_and(|owners| owners.iter().any(|o| *o != removal.owner))
    }

    /// A child removed from a collection is deleted (delete-orphan), moved (attached elsewhere by
    /// flush time, D7), or detached (its foreign key set to NULL).
    pub(super) fn resolve_removals(&mut self) -> Result<()> {
        let removals = std::mem::take(&mut self.removals);
        if !removals.is_empty() {
            self.build_holders();
        }
        for removal in &removals {
            if self.arena.get(removal.member).is_none_or(|e| !e.is_live()) {
                continue;
            }
            let orphan_delete = removal.rel.cascade.contains(Cascade::DELETE_ORPHAN);
            match removal.resolved {
                Resolved::Children(link) => {
                    let owner_ref = self.parent_ref(removal.owner, link.parent_column);
                    let moved = self
                        .current_parent(removal.member, link.fk_column)
                        .is_some_and(|r| r != owner_ref)
                        || self.held_elsewhere(removal);
                    if moved {
                        continue;
                    }
                    if orphan_delete {
                        self.roots.push(removal.member); // no key to write: it is deleted
                        continue;
                    }
                    // An orphan of another delete-orphan relationship over this link is deleted
                    // (`find_orphans`); only a child that stays needs a key that can be NULL.
                    if let Some(reason) = link
                        .null_refusal()
                        .filter(|_| !schema::orphaned_without_parent(link))
                    {
                        let owner = self.arena.entry(removal.owner).meta();
                        let when = format!(
                            "removing a `{}` from `{}::{}`",
                            link.child.name, owner.name, removal.rel.field
                        );
                        return Err(refusal(owner, removal.rel, link, reason).error_when(when));
                    }
                    self.set_sync(removal.member, link.fk_column, KeySrc::Value(Value::Null));
                    self.lost_parent.push((removal.member, link));
                }
                Resolved::Parent(_) | Resolved::Association { .. } => {
                    if orphan_delete && !self.held_elsewhere(removal) {
                        self.roots.push(removal.member);
                    }
                }
            }
        }
        self.removals = removals;
        Ok(())
    }

    /// A stored row that lost its parent through a link owned by a `delete-orphan` relationship
    /// (removed from the parent's collection, or its own reference set to None, whichever side
    /// is loaded) and has none now is deleted (docs/dev/semantics.md §5).
    pub(super) fn find_orphans(&mut self) {
        let mut lost = std::mem::take(&mut self.lost_parent);
        lost.extend(self.arena.lost_parents.iter().copied());
        for (id, link) in lost {
            let live = self.arena.get(id).is_some_and(|e| e.is_live());
            if live
                && self.current_parent(id, link.fk_column).is_none()
                && schema::orphaned_without_parent(link)
            {
                self.roots.push(id);
            }
        }
    }

    /// A new object that BECAME an orphan (removed from a delete-orphan relationship, and not
    /// attached anywhere since) is never inserted (docs/dev/semantics.md §1). A new object that was never
    /// attached (a tree's root) is not an orphan.
    pub(super) fn find_pending_orphans(&mut self) -> Result<()> {
        let candidates: Vec<ObjId> = self.arena.detached_new.iter().copied().collect();
        if !candidates.is_empty() {
            self.build_holders();
        }
        for id in candidates {
            let pending = self
                .arena
                .get(id)
                .is_some_and(|e| e.state == ObjectState::Pending);
            if pending && !self.held_any.contains(&id) && !self.has_parent_reference(id)? {
                self.roots.push(id);
            }
        }
        Ok(())
    }

    /// Whether one of the object's own references (a many-to-one) holds a parent. A key value it
    /// was built with does not count: removing it from its parent's collection was said later.
    pub(super) fn has_parent_reference(&mut self, id: ObjId) -> Result<bool> {
        let meta = self.arena.entry(id).meta();
        for index in 0..meta.relationships.len() {
            if let Resolved::Parent(_) = self.resolve(meta, index)? {
                let slot = self.arena.entry(id).obj.relation(index);
                if slot
                    .held()
                    .any(|m| self.arena.get(m).is_some_and(|e| e.is_live()))
                {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}
