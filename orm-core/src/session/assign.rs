//! Relationship fields assigned through `Session::write` (`u.orders = HasMany::from([...])`) are
//! honoured as SQLAlchemy honours collection assignment: at the next flush the members the field
//! held and no longer holds are removed (with `delete-orphan`, deleted), the ones it holds now
//! are appended, exactly as `remove` / `append` / `set` would have done.
//!
//! A relationship slot carries a stamp naming its owner while the object is in the session; a
//! slot without its owner's stamp was put there by the user. `write` records what each loaded
//! relationship held, so the assignment can be diffed against what it replaced; a relationship
//! that was not loaded is read from the database first.

use super::Session;
use crate::arena::WrittenRelation;
use crate::error::{Error, Result};
use crate::model::{Member, ObjId};
use rustc_hash::FxHashSet as HashSet;

impl Session {
    /// Replays every relationship assignment made since the last flush as removals and
    /// additions. Runs before a flush (and a preview) plans anything.
    pub(crate) async fn adopt_assignments(&mut self) -> Result<()> {
        let written: Vec<ObjId> = self
            .arena
            .iter()
            .filter(|(_, e)| e.written_relations.is_some() && e.is_live())
            .map(|(id, _)| id)
            .collect();
        for id in written {
            let relationships = self.arena.entry(id).meta().relationships.len();
            for index in 0..relationships {
                if self.is_assigned(id, index) {
                    self.adopt_assignment(id, index).await?;
                }
            }
            self.arena.entry_mut(id).written_relations = None;
        }
        Ok(())
    }

    /// Adopts an assignment of one relationship before it is read or changed through the session.
    pub(crate) async fn adopt_if_assigned(&mut self, owner: ObjId, index: usize) -> Result<()> {
        if self.is_assigned(owner, index) {
            self.adopt_assignment(owner, index).await?;
            // New objects it holds are in the session from now on, as after `append`.
            self.cascade_save_update_from(vec![owner])?;
        }
        Ok(())
    }

    fn is_assigned(&self, owner: ObjId, index: usize) -> bool {
        let stamp = self.arena.entry(owner).obj.relation(index).stamp;
        stamp != self.arena.stamp(owner, index)
    }

    /// Checks everything that can refuse first (reads included), then changes the session in one
    /// step: a refusal, or a future dropped at an await, leaves the assignment as it was.
    async fn adopt_assignment(&mut self, owner: ObjId, index: usize) -> Result<()> {
        let model = self.arena.entry(owner).meta();
        let rel = &model.relationships[index];
        let slot = self.arena.entry(owner).obj.relation(index);
        if slot.stamp.is_some_and(|s| !self.arena.stamped_here(s)) {
            return Err(Error::Config {
                model: model.name,
                field: rel.field,
                message: "was assigned a relationship taken from an object of another session; \
                          assign new objects or add them with `Session::append` / `set` (roll \
                          back, or refresh the object, to discard the assignment)"
                    .into(),
            });
        }
        let recorded = self.arena.entry(owner).written_relations.as_ref();
        let before = match recorded.and_then(|w| w.get(index).cloned().flatten()) {
            Some(before) => before,
            None => {
                let held = self.fetch_related(owner, index).await?;
                WrittenRelation {
                    original: held.clone(),
                    held,
                }
            }
        };
        for child in self.assigned_stored_members(owner, index, &before.held) {
            self.check_single_parent(owner, rel, child).await?;
        }
        self.replay_assignment(owner, index, before)
    }

    /// Members the assignment adds that are already in the session (moved from another slot).
    fn assigned_stored_members(&self, owner: ObjId, index: usize, held: &[ObjId]) -> Vec<ObjId> {
        self.arena
            .entry(owner)
            .obj
            .relation(index)
            .held()
            .filter(|m| !held.contains(m) && self.arena.get(*m).is_some_and(|e| e.is_live()))
            .collect()
    }

    /// Puts the slot back as it was before the assignment, then applies the assignment to it as
    /// the session's own operations would.
    fn replay_assignment(
        &mut self,
        owner: ObjId,
        index: usize,
        before: WrittenRelation,
    ) -> Result<()> {
        let stamp = self.arena.stamp(owner, index);
        let slot = self.arena.entry_mut(owner).obj.relation_mut(index);
        let assigned = std::mem::take(&mut slot.members);
        slot.members = before.held.iter().map(|&m| Member::Held(m)).collect();
        slot.original = (before.original != before.held).then_some(before.original);
        slot.loaded = true;
        slot.stamp = stamp;
        let assigned: Vec<Member> = assigned
            .into_iter()
            .filter(|m| match m {
                Member::Held(id) => self.arena.get(*id).is_some_and(|e| e.is_live()),
                Member::New(_) => true,
            })
            .collect();
        let rel = &self.arena.entry(owner).meta().relationships[index];
        if rel.kind.is_collection() {
            self.replay_collection(owner, index, assigned)
        } else {
            self.replay_reference(owner, index, assigned)
        }
    }

    fn replay_collection(
        &mut self,
        owner: ObjId,
        index: usize,
        assigned: Vec<Member>,
    ) -> Result<()> {
        let kept: HashSet<ObjId> = assigned
            .iter()
            .filter_map(|m| match m {
                Member::Held(id) => Some(*id),
                Member::New(_) => None,
            })
            .collect();
        let held: Vec<ObjId> = self.arena.entry(owner).obj.relation(index).held().collect();
        for child in held.iter().filter(|c| !kept.contains(c)) {
            self.detach_member(owner, index, *child)?;
        }
        let added: Vec<ObjId> = assigned
            .iter()
            .filter_map(|m| match m {
                Member::Held(id) if !held.contains(id) => Some(*id),
                _ => None,
            })
            .collect();
        for child in added {
            self.attach_member(owner, index, child);
        }
        // The collection holds what was assigned, in the order it was assigned.
        let slot = self.arena.entry_mut(owner).obj.relation_mut(index);
        slot.before_change();
        slot.members = assigned.into();
        Ok(())
    }

    fn replay_reference(
        &mut self,
        owner: ObjId,
        index: usize,
        assigned: Vec<Member>,
    ) -> Result<()> {
        match assigned.into_iter().next() {
            Some(Member::Held(target)) => self.set_reference(owner, index, Some(target)),
            Some(Member::New(object)) => {
                self.set_reference(owner, index, None)?;
                let slot = self.arena.entry_mut(owner).obj.relation_mut(index);
                slot.before_change();
                slot.members = vec![Member::New(object)].into();
                Ok(())
            }
            None => self.set_reference(owner, index, None),
        }
    }
}
