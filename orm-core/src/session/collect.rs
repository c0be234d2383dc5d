//! Collect, the first phase of a flush (and what `add` does at once): new objects held by
//! relationships with `save-update` enter the session as pending objects, recursively.

use super::Session;
use crate::error::{Error, Result};
use crate::meta::{Cascade, ModelMeta, RelationshipMeta};
use crate::model::{AnyModel, Handle, Member, Model, ObjId};

/// Checks, before anything enters the session, that every new object `object` holds (at any
/// depth) is held through a relationship with `save-update`.
pub(crate) fn check_save_update(object: &dyn AnyModel) -> Result<()> {
    let meta = object.meta();
    for (index, rel) in meta.relationships.iter().enumerate() {
        for member in object.relation(index).members.iter() {
            let Member::New(child) = member else { continue };
            if !rel.cascade.contains(Cascade::SAVE_UPDATE) {
                return Err(without_save_update(meta, rel));
            }
            check_save_update(child.as_ref())?;
        }
    }
    Ok(())
}

/// A relationship that holds a new object it cannot add to the session.
fn without_save_update(model: &ModelMeta, rel: &RelationshipMeta) -> Error {
    Error::Config {
        model: model.name,
        field: rel.field,
        message: "holds a new object but has no `save-update` cascade; add the object with \
                  `Session::add` first"
            .into(),
    }
}

impl Session {
    /// Adds a new object (and, through `save-update`, the new objects its relationships hold).
    /// It is inserted at the next flush.
    pub fn add<T: Model>(&mut self, object: T) -> Result<Handle<T>> {
        self.register::<T>()?;
        // Refuse before anything enters the session, so that an error leaves it as it was.
        check_save_update(&object)?;
        let id = self.insert_pending(Box::new(object));
        self.cascade_save_update_from(vec![id])?;
        Ok(Handle::new(self.id, id))
    }

    /// Moves new objects held by relationships with `save-update` into the session, recursively.
    pub(crate) fn cascade_save_update(&mut self) -> Result<()> {
        let ids: Vec<ObjId> = self.arena.live_ids();
        self.cascade_save_update_from(ids)
    }

    /// The save-update cascade starting from `ids` only (adding one object must not rescan the
    /// whole session).
    ///
    /// Breadth first, in collection order: new objects enter the session, and so are inserted
    /// and numbered, in the order they were built. A child's rows then follow its parent's key
    /// order, so the database appends to a foreign-key index instead of inserting into its
    /// middle (a stack visited the last child first and made every insert of a tree's
    /// grandchildren land before the previous ones: about 1.5x the time per INSERT).
    pub(crate) fn cascade_save_update_from(&mut self, ids: Vec<ObjId>) -> Result<()> {
        let mut work = std::collections::VecDeque::from(ids);
        while let Some(id) = work.pop_front() {
            let meta = self.arena.entry(id).meta();
            for (index, rel) in meta.relationships.iter().enumerate() {
                let has_new = self
                    .arena
                    .entry(id)
                    .obj
                    .relation(index)
                    .members
                    .iter()
                    .any(|m| matches!(m, Member::New(_)));
                if !has_new {
                    continue;
                }
                if !rel.cascade.contains(Cascade::SAVE_UPDATE) {
                    return Err(without_save_update(meta, rel));
                }
                work.extend(self.adopt_new_members(id, index));
            }
        }
        Ok(())
    }

    /// Replaces `Member::New` entries of one relationship by pending objects; returns their ids.
    fn adopt_new_members(&mut self, owner: ObjId, index: usize) -> Vec<ObjId> {
        let slot = self.arena.entry_mut(owner).obj.relation_mut(index);
        slot.before_change();
        let members = std::mem::take(&mut slot.members);
        let mut adopted = Vec::new();
        let mut kept = Vec::with_capacity(members.len());
        for member in members {
            match member {
                Member::New(obj) => {
                    let id = self.insert_pending(obj);
                    adopted.push(id);
                    kept.push(Member::Held(id));
                }
                held => kept.push(held),
            }
        }
        let slot = self.arena.entry_mut(owner).obj.relation_mut(index);
        slot.members = kept.into();
        slot.loaded = true;
        adopted
    }
}
