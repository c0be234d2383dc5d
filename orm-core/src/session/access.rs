//! Typed access to relationships through the session: read (loading lazily), append, remove,
//! set, and merge. Attaching checks `single_parent` at the moment it happens (also against links
//! loaded from the database, D8) and keeps the other side of a pair in step.

use super::Session;
use crate::arena::ObjectState;
use crate::column::Rel;
use crate::error::{Error, Result};
use crate::meta::{Cascade, ModelMeta, RelKind, RelationshipMeta};
use crate::model::{
    AnyModel, BelongsTo, Build, Handle, HasMany, HasOne, ManyToMany, Member, Model, ObjId,
    Relationship,
};
use crate::schema::{self, Resolved};
use crate::value::Value;

/// What reading a relationship returns: handles for collections, an optional handle otherwise.
pub trait RelationValue: Relationship {
    /// `Vec<Handle<T>>` or `Option<Handle<T>>`.
    type Value;
    #[doc(hidden)]
    fn from_handles(handles: Vec<Handle<Self::Target>>) -> Self::Value;
}

impl<T: Model> RelationValue for HasMany<T> {
    type Value = Vec<Handle<T>>;
    fn from_handles(handles: Vec<Handle<T>>) -> Self::Value {
        handles
    }
}
impl<T: Model> RelationValue for ManyToMany<T> {
    type Value = Vec<Handle<T>>;
    fn from_handles(handles: Vec<Handle<T>>) -> Self::Value {
        handles
    }
}
impl<T: Model> RelationValue for BelongsTo<T> {
    type Value = Option<Handle<T>>;
    fn from_handles(handles: Vec<Handle<T>>) -> Self::Value {
        handles.into_iter().next()
    }
}
impl<T: Model> RelationValue for HasOne<T> {
    type Value = Option<Handle<T>>;
    fn from_handles(handles: Vec<Handle<T>>) -> Self::Value {
        handles.into_iter().next()
    }
}

/// Relationships that hold a collection (`append` / `remove`).
pub trait Collection: Relationship {}
impl<T: Model> Collection for HasMany<T> {}
impl<T: Model> Collection for ManyToMany<T> {}

/// Relationships that hold at most one object (`set`).
pub trait Scalar: Relationship {}
impl<T: Model> Scalar for BelongsTo<T> {}
impl<T: Model> Scalar for HasOne<T> {}

impl Session {
    /// The related objects, loading them (after an autoflush) if they are not loaded.
    pub async fn related<M: Model, R: RelationValue>(
        &mut self,
        owner: Handle<M>,
        rel: Rel<M, R>,
    ) -> Result<R::Value> {
        let id = self.check(owner)?;
        self.ensure_loaded(id, rel.index()).await?;
        let mut held: Vec<ObjId> = self
            .arena
            .entry(id)
            .obj
            .relation(rel.index())
            .held()
            .filter(|m| self.arena.get(*m).is_some_and(|e| e.is_live()))
            .collect();
        if held.is_empty() {
            held.extend(self.holder_of_new(id, rel.index()));
        }
        let handles = held.into_iter().map(|m| Handle::new(self.id, m)).collect();
        Ok(R::from_handles(handles))
    }

    /// Eagerly loads `rel` for many owners with one SELECT per chunk of keys (no N+1); returns
    /// every related object loaded.
    pub async fn preload<M: Model, R: Relationship>(
        &mut self,
        owners: &[Handle<M>],
        rel: Rel<M, R>,
    ) -> Result<Vec<Handle<R::Target>>> {
        self.autoflush().await?;
        let mut ids = Vec::with_capacity(owners.len());
        for &owner in owners {
            let id = self.check(owner)?;
            if self.arena.entry(id).state == ObjectState::Persistent {
                ids.push(id);
            }
        }
        let loaded = self.load_relation_many(&ids, M::META, rel.index()).await?;
        Ok(loaded
            .into_iter()
            .map(|id| Handle::new(self.id, id))
            .collect())
    }

    /// Loads a relationship for reading: pending changes are flushed first (autoflush), so the
    /// loaded collection reflects them.
    pub(crate) async fn ensure_loaded(&mut self, id: ObjId, index: usize) -> Result<()> {
        self.adopt_if_assigned(id, index).await?;
        if self.needs_load(id, index)? {
            self.autoflush().await?;
            self.load_now(id, index).await?;
        }
        Ok(())
    }

    /// Loads a relationship that is about to be changed, WITHOUT autoflush (as SQLAlchemy's
    /// attribute events do): an attach or removal is one step of a change the caller is still
    /// making, and a flush in its middle could act on a half-made state (a new object removed
    /// from one collection and not yet appended to another would be dropped as an orphan). The
    /// flush that follows reconciles what the load could not see.
    async fn load_for_change(&mut self, id: ObjId, index: usize) -> Result<()> {
        self.adopt_if_assigned(id, index).await?;
        if self.needs_load(id, index)? {
            self.load_now(id, index).await?;
        }
        Ok(())
    }

    fn needs_load(&mut self, id: ObjId, index: usize) -> Result<bool> {
        let entry = self.arena.get(id).ok_or_else(|| gone(id))?;
        if entry.obj.relation(index).loaded {
            return Ok(false);
        }
        if entry.state != ObjectState::Persistent {
            // A new object's relationships hold exactly what it was given.
            self.arena.entry_mut(id).obj.relation_mut(index).loaded = true;
            return Ok(false);
        }
        Ok(true)
    }

    async fn load_now(&mut self, id: ObjId, index: usize) -> Result<()> {
        // The object may have left the session during an autoflush (a pending orphan).
        let entry = self.arena.get(id).ok_or_else(|| gone(id))?;
        if entry.expired {
            self.reload(id).await?;
        }
        self.load_relation(id, index).await
    }

    fn attachable<T: Model>(&self, child: Handle<T>, field: &'static str) -> Result<ObjId> {
        match self.check(child) {
            Err(Error::Unavailable {
                model,
                key,
                state: "deleted",
            }) => Err(Error::AttachDeleted { model, key, field }),
            other => other,
        }
    }

    /// Appends an object to a collection; at flush its foreign key (or association row) is
    /// written. A child held by another parent's one-to-many collection moves here.
    pub async fn append<M: Model, R: Collection>(
        &mut self,
        owner: Handle<M>,
        rel: Rel<M, R>,
        child: Handle<R::Target>,
    ) -> Result<()> {
        let owner_id = self.check(owner)?;
        let child_id = self.attachable(child, rel.meta().field)?;
        self.load_for_change(owner_id, rel.index()).await?;
        if self
            .arena
            .entry_mut(owner_id)
            .obj
            .relation_mut(rel.index())
            .members
            .contains_held(child_id)
        {
            return Ok(());
        }
        self.check_single_parent(owner_id, rel.meta(), child_id)
            .await?;
        self.attach_member(owner_id, rel.index(), child_id);
        Ok(())
    }

    /// The in-memory part of `append`, once the collection is loaded and `single_parent` checked.
    pub(super) fn attach_member(&mut self, owner: ObjId, index: usize, child: ObjId) {
        let model = self.arena.entry(owner).meta();
        let rel = &model.relationships[index];
        if rel.kind == RelKind::HasMany {
            match self.recorded_holder(model, rel, child) {
                Some(holder) => {
                    debug_assert!(
                        self.holders(model, index, child)
                            .iter()
                            .all(|h| Some(*h) == holder),
                        "the child's reference names its only holder"
                    );
                    if let Some(holder) = holder {
                        self.detach_from(holder, model, index, child);
                    }
                }
                None => self.detach_from_holders(model, index, child),
            }
        }
        let slot = self.arena.entry_mut(owner).obj.relation_mut(index);
        slot.before_change();
        slot.members.push(Member::Held(child));
        self.link_partner(rel, owner, child, true);
    }

    /// Removes an object from a collection; at flush it is deleted (`delete-orphan`) unless
    /// attached elsewhere by then, else its foreign key is set to NULL (or its association row
    /// deleted).
    pub async fn remove<M: Model, R: Collection>(
        &mut self,
        owner: Handle<M>,
        rel: Rel<M, R>,
        child: Handle<R::Target>,
    ) -> Result<()> {
        let owner_id = self.check(owner)?;
        let child_id = self.check(child)?;
        self.load_for_change(owner_id, rel.index()).await?;
        self.detach_member(owner_id, rel.index(), child_id)
    }

    /// The in-memory part of `remove`, once the collection is loaded.
    pub(super) fn detach_member(&mut self, owner: ObjId, index: usize, child: ObjId) -> Result<()> {
        let model = self.arena.entry(owner).meta();
        let rel = &model.relationships[index];
        let slot = self.arena.entry_mut(owner).obj.relation_mut(index);
        slot.before_change();
        slot.members.remove_held(child);
        self.link_partner(rel, owner, child, false);
        self.note_detached(model, rel, child)
    }

    /// Remembers a new object removed from a `delete-orphan` relationship: unless something holds
    /// it at flush time, it is dropped instead of inserted. A stored child taken out of its
    /// parent's collection is remembered too: if a `delete-orphan` relationship owns the link and
    /// nothing attaches it by the flush, it is an orphan, even if the flush sees no difference in
    /// the collection (appended, then removed).
    fn note_detached(
        &mut self,
        model: &'static ModelMeta,
        rel: &'static RelationshipMeta,
        id: ObjId,
    ) -> Result<()> {
        let pending = self
            .arena
            .get(id)
            .is_some_and(|e| e.state == ObjectState::Pending);
        if pending && rel.cascade.contains(Cascade::DELETE_ORPHAN) {
            self.arena.detached_new.insert(id);
        }
        if let (false, Resolved::Children(link)) = (pending, schema::resolve(model, rel)?) {
            self.arena.lost_parents.push((id, link));
        }
        Ok(())
    }

    /// A new object whose many-to-one reference was taken away is an orphan at flush, unless
    /// attached again by then, when a `delete-orphan` one-to-many of the parent owns that link.
    fn note_parent_lost(
        &mut self,
        model: &'static ModelMeta,
        rel: &'static RelationshipMeta,
        id: ObjId,
    ) -> Result<()> {
        let pending = self.arena.entry(id).state == ObjectState::Pending;
        let Resolved::Parent(link) = schema::resolve(model, rel)? else {
            return Ok(());
        };
        if !pending {
            self.arena.lost_parents.push((id, link));
        } else if schema::orphaned_without_parent(link) {
            self.arena.detached_new.insert(id);
        }
        Ok(())
    }

    /// Sets a many-to-one or one-to-one reference (`None` detaches). With `delete-orphan`, the
    /// object it referred to is deleted at flush unless attached elsewhere by then.
    pub async fn set<M: Model, R: Scalar>(
        &mut self,
        owner: Handle<M>,
        rel: Rel<M, R>,
        target: Option<Handle<R::Target>>,
    ) -> Result<()> {
        let owner_id = self.check(owner)?;
        let target_id = target
            .map(|t| self.attachable(t, rel.meta().field))
            .transpose()?;
        self.load_for_change(owner_id, rel.index()).await?;
        if self.referenced(owner_id, rel.index()) == target_id {
            return Ok(());
        }
        if let Some(target_id) = target_id {
            self.check_single_parent(owner_id, rel.meta(), target_id)
                .await?;
        }
        self.set_reference(owner_id, rel.index(), target_id)
    }

    /// The object a loaded reference holds (for a new object built inside its parent's
    /// collection, that parent).
    fn referenced(&self, owner: ObjId, index: usize) -> Option<ObjId> {
        let held = self.arena.entry(owner).obj.relation(index).held().next();
        held.or_else(|| self.holder_of_new(owner, index))
    }

    /// A new object built inside a parent's collection references nothing itself (the parent
    /// holds it, and filling in every new child's reference at `add` would cost a bulk insert
    /// an allocation per row): the parent is found through the partner collection, on demand.
    fn holder_of_new(&self, owner: ObjId, index: usize) -> Option<ObjId> {
        let entry = self.arena.entry(owner);
        let meta = entry.meta();
        let rel = &meta.relationships[index];
        if entry.state != ObjectState::Pending || rel.kind != RelKind::BelongsTo {
            return None;
        }
        let partner = schema::partner_of(meta, rel).filter(|p| p.kind.is_collection())?;
        let target = (rel.target)();
        let partner_index = target.relationship_index(partner.field)?;
        self.arena
            .iter()
            .find(|(_, e)| {
                e.is_live()
                    && e.meta().same(target)
                    && e.obj.relation(partner_index).held().any(|m| m == owner)
            })
            .map(|(id, _)| id)
    }

    /// The in-memory part of `set`, once the reference is loaded and `single_parent` checked.
    pub(super) fn set_reference(
        &mut self,
        owner: ObjId,
        index: usize,
        target: Option<ObjId>,
    ) -> Result<()> {
        let model = self.arena.entry(owner).meta();
        let rel = &model.relationships[index];
        let old = self.referenced(owner, index);
        if old == target {
            return Ok(());
        }
        if let Some(target) = target.filter(|_| rel.kind == RelKind::HasOne) {
            self.detach_from_holders(model, index, target);
        }
        if let Some(old) = old {
            self.link_partner(rel, owner, old, false);
            self.note_detached(model, rel, old)?;
            self.note_parent_lost(model, rel, owner)?;
        }
        let slot = self.arena.entry_mut(owner).obj.relation_mut(index);
        slot.before_change();
        slot.members = target.map(Member::Held).into_iter().collect();
        if let Some(target) = target {
            self.link_partner(rel, owner, target, true);
        }
        Ok(())
    }

    /// Removes `child` from the same relationship of every other object (a child has one parent
    /// through a one-to-many).
    ///
    /// Each object of the model is asked whether it holds the child, in O(1) (the collections
    /// keep a position index once large); the objects are walked, not their collections.
    fn detach_from_holders(&mut self, model: &'static ModelMeta, index: usize, child: ObjId) {
        for raw in 0..self.arena.slots() {
            crate::members::probed(1);
            let holder = ObjId(u32::try_from(raw).unwrap_or(u32::MAX));
            self.detach_from(holder, model, index, child);
        }
    }

    /// Removes `child` from relationship `index` of `holder`, if `holder` is an object of
    /// `model` that holds it.
    fn detach_from(
        &mut self,
        holder: ObjId,
        model: &'static ModelMeta,
        index: usize,
        child: ObjId,
    ) {
        let Some(entry) = self.arena.get_mut(holder) else {
            return;
        };
        if !entry.meta().same(model) {
            return;
        }
        let slot = entry.obj.relation_mut(index);
        if slot.members.contains_held(child) {
            slot.before_change();
            slot.members.remove_held(child);
        }
    }

    /// The object whose one-to-many `rel` holds `child`, as the child's own loaded many-to-one
    /// partner records it (`Some(None)`: none), found in O(1) instead of by walking the
    /// session. `None` where the record may not be complete: no loaded partner, or a new
    /// child (one built inside its parent's collection references nothing itself).
    ///
    /// Every change to either side keeps a loaded partner in step (`link_partner`), and a
    /// collection that loads reconciles its members with their loaded references
    /// (`children_as_referenced`); debug builds check the answer against the walk.
    fn recorded_holder(
        &self,
        model: &'static ModelMeta,
        rel: &'static RelationshipMeta,
        child: ObjId,
    ) -> Option<Option<ObjId>> {
        let partner = schema::partner_of(model, rel).filter(|p| p.kind == RelKind::BelongsTo)?;
        let entry = self.arena.get(child)?;
        if entry.state != ObjectState::Persistent {
            return None;
        }
        let slot = entry
            .obj
            .relation(entry.meta().relationship_index(partner.field)?);
        slot.loaded.then(|| slot.held().next())
    }

    /// Every object of `model` whose relationship `index` holds `child` (the walk
    /// `recorded_holder` saves; debug builds compare the two).
    fn holders(&self, model: &'static ModelMeta, index: usize, child: ObjId) -> Vec<ObjId> {
        self.arena
            .iter()
            .filter(|(_, e)| {
                e.meta().same(model) && e.obj.relation(index).held().any(|m| m == child)
            })
            .map(|(id, _)| id)
            .collect()
    }

    /// Keeps the other side of a `back_populates` pair in step, where it is loaded.
    fn link_partner(
        &mut self,
        rel: &'static RelationshipMeta,
        owner: ObjId,
        other: ObjId,
        attach: bool,
    ) {
        let owner_meta = self.arena.entry(owner).meta();
        let Some(partner) = schema::partner_of(owner_meta, rel) else {
            return;
        };
        let other_meta = self.arena.entry(other).meta();
        let Some(index) = other_meta.relationship_index(partner.field) else {
            return;
        };
        if attach && !partner.kind.is_collection() {
            // The other side holds one object: if it held another owner, that owner loses it.
            let previous: Vec<ObjId> = self
                .arena
                .entry(other)
                .obj
                .relation(index)
                .held()
                .filter(|p| *p != owner)
                .collect();
            if let Some(rel_index) = owner_meta.relationship_index(rel.field) {
                for p in previous {
                    if self
                        .arena
                        .get(p)
                        .is_some_and(|e| e.obj.relation(rel_index).loaded)
                    {
                        let slot = self.arena.entry_mut(p).obj.relation_mut(rel_index);
                        slot.before_change();
                        slot.members.remove_held(other);
                    }
                }
            }
        }
        let slot = self.arena.entry_mut(other).obj.relation_mut(index);
        if !slot.loaded {
            // A many-to-one holds exactly the parent the change says, loaded or not: knowing it
            // now keeps a later change through that side from reading a stale foreign key.
            if partner.kind == RelKind::BelongsTo {
                slot.members = attach.then_some(Member::Held(owner)).into_iter().collect();
                slot.loaded = true;
            }
            return;
        }
        slot.before_change();
        slot.members.remove_held(owner);
        if attach {
            if !partner.kind.is_collection() {
                slot.members.clear();
            }
            slot.members.push(Member::Held(owner));
        }
    }

    /// Copies the state of a detached object (one with a primary key, built outside the session)
    /// onto the session's copy of that row, loading it if needed; without a stored row it is
    /// added as new. Relationships with `merge` merge the new objects they hold the same way.
    pub async fn merge<T: Model>(&mut self, object: T) -> Result<Handle<T>> {
        self.register::<T>()?;
        let id = self
            .merge_erased(Box::new(object), crate::model::build::<T>)
            .await?;
        self.cascade_save_update()?;
        Ok(Handle::new(self.id, id))
    }

    async fn merge_erased(&mut self, mut object: Box<dyn AnyModel>, build: Build) -> Result<ObjId> {
        let meta = object.meta();
        let key: Vec<Value> = meta
            .primary_key
            .iter()
            .map(|&c| object.column_value(c))
            .collect();
        let existing = if key.iter().any(Value::is_null) {
            None
        } else {
            self.find_key(meta, &key, build).await?
        };
        let Some(id) = existing else {
            return Ok(self.insert_pending(object));
        };
        let entry = self.arena.entry_mut(id);
        entry.before_write();
        for column in 0..meta.columns.len() {
            let _ = entry
                .obj
                .set_column_value(column, object.column_value(column));
        }
        for (index, rel) in meta.relationships.iter().enumerate() {
            if !rel.cascade.contains(Cascade::MERGE) || object.relation(index).members.is_empty() {
                continue;
            }
            let child_build = object.relation(index).build;
            let mut merged = Vec::new();
            for member in std::mem::take(&mut object.relation_mut(index).members) {
                if let Member::New(child) = member {
                    merged.push(Box::pin(self.merge_erased(child, child_build)).await?);
                }
            }
            self.load_for_change(id, index).await?;
            let slot = self.arena.entry_mut(id).obj.relation_mut(index);
            slot.before_change();
            slot.members = merged.into_iter().map(Member::Held).collect();
        }
        Ok(id)
    }
}

/// The error for an object that left the session while an operation was under way.
fn gone(id: ObjId) -> Error {
    Error::Unavailable {
        model: "object",
        key: format!("#{}", id.0),
        state: "detached",
    }
}
