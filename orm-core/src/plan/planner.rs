//! The cascade planner: a pure function from the session's objects and the static metadata to an
//! ordered [`Plan`]. It decides every cascade at flush time from the current state (D7), handles
//! loaded objects in memory and the rows that are not loaded with set-based statements (D9).

use super::rowset::RowSet;
use super::{KeySrc, Plan, Refusal, Step};
use crate::error::Result;
use crate::meta::{Cascade, ModelMeta, OnDelete, PassiveDeletes, RelationshipMeta};
use crate::model::ObjId;
use crate::schema::{self, Link, Resolved};
use crate::session::state::{Arena, Key, ObjectState};
use crate::value::Value;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeSet;

/// Plans a flush of `arena`. `unloaded_roots` are rows to delete that are not in the session
/// (from a bulk delete).
pub(crate) fn plan_flush(arena: &Arena, unloaded_roots: Vec<RowSet>) -> Result<Plan> {
    let mut planner = Planner::new(arena);
    planner.sync_relationships()?;
    planner.resolve_removals()?;
    planner.find_orphans();
    planner.find_pending_orphans()?;
    planner.close_deletes(&unloaded_roots)?;
    planner.plan_early_updates();
    planner.plan_deletes(unloaded_roots)?;
    planner.plan_inserts();
    planner.plan_late_updates();
    planner.plan_assoc_inserts();
    Ok(planner.plan)
}

/// Who references a parent: a stored key value, or a pending object whose key is not known yet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ParentRef {
    Key(Value),
    Pending(ObjId),
}

/// An association row to insert: its table, columns, values and the two objects it links.
type AssocAdd = (&'static ModelMeta, [usize; 2], [KeySrc; 2], [ObjId; 2]);

struct Removal {
    owner: ObjId,
    rel: &'static RelationshipMeta,
    resolved: Resolved,
    member: ObjId,
}

struct Planner<'a> {
    arena: &'a Arena,
    plan: Plan,
    resolved: HashMap<(&'static str, &'static str, usize), Resolved>,
    /// (relationship identity, member) -> owners holding it after the changes in memory.
    holders: HashMap<(&'static str, &'static str, ObjId), Vec<ObjId>>,
    /// Objects held by at least one loaded relationship after the changes in memory.
    held_any: HashSet<ObjId>,
    /// Delete roots known only by key (a many-to-one `delete` whose parent is not loaded).
    unloaded_parents: Vec<RowSet>,
    /// Association rows of objects deleted through a many-to-many `delete` cascade.
    assoc_cleanups: Vec<(Link, ObjId)>,
    removals: Vec<Removal>,
    /// Stored rows a relationship change left without a parent through a link: orphans if a
    /// `delete-orphan` relationship owns that link and nothing attached them since.
    lost_parent: Vec<(ObjId, Link)>,
    /// Explicit delete roots (marked, orphans, M2O / M2M delete cascades).
    roots: Vec<ObjId>,
    deleted: HashSet<ObjId>,
    /// Deleted objects whose rows a parent's set-based statement already covers.
    covered: HashSet<ObjId>,
    assoc_adds: Vec<AssocAdd>,
    assoc_removes: Vec<(&'static ModelMeta, [usize; 2], [Value; 2])>,
    ref_index: HashMap<(&'static str, &'static str, usize), HashMap<ParentRef, Vec<ObjId>>>,
    late_updates: Vec<ObjId>,
    /// Where D6 guards go: after the early updates, before the deletes.
    guard_at: usize,
}

impl<'a> Planner<'a> {
    fn new(arena: &'a Arena) -> Self {
        Planner {
            arena,
            plan: Plan::default(),
            resolved: HashMap::default(),
            holders: HashMap::default(),
            held_any: HashSet::default(),
            unloaded_parents: Vec::new(),
            assoc_cleanups: Vec::new(),
            removals: Vec::new(),
            lost_parent: Vec::new(),
            roots: Vec::new(),
            deleted: HashSet::default(),
            covered: HashSet::default(),
            assoc_adds: Vec::new(),
            assoc_removes: Vec::new(),
            ref_index: HashMap::default(),
            late_updates: Vec::new(),
            guard_at: 0,
        }
    }

    fn resolve(&mut self, model: &'static ModelMeta, index: usize) -> Result<Resolved> {
        if let Some(r) = self.resolved.get(&(model.table, model.name, index)) {
            return Ok(*r);
        }
        let r = schema::resolve(model, &model.relationships[index])?;
        self.resolved.insert((model.table, model.name, index), r);
        Ok(r)
    }

    fn is_pending(&self, id: ObjId) -> bool {
        self.arena.entry(id).state == ObjectState::Pending
    }

    /// The value an object's column has (or will have once its key is generated).
    fn source(&self, id: ObjId, column: usize) -> KeySrc {
        let entry = self.arena.entry(id);
        if entry.state == ObjectState::Pending && entry.meta().columns[column].generated {
            KeySrc::KeyOf { object: id, column }
        } else {
            KeySrc::Value(entry.obj.column_value(column))
        }
    }

    fn set_sync(&mut self, id: ObjId, column: usize, src: KeySrc) {
        let list = self.plan.sync.entry_or_default(id);
        list.retain(|(c, _)| *c != column);
        list.push((column, src));
    }

    fn synced(&self, id: ObjId, column: usize) -> Option<&KeySrc> {
        self.plan
            .sync
            .get(&id)?
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, s)| s)
    }

    /// Who the row's parent is now, through foreign key `column`: THE answer every decision of
    /// the planner uses (moves, orphans, delete cascades in both directions). The reference the
    /// user set through a relationship, on either side of the pair (`plan.sync`, filled by
    /// `sync_relationships` and `resolve_removals`), wins over the column's value, which only
    /// speaks where no relationship changed (as loaded, or as written with `Session::write`).
    fn current_parent(&self, id: ObjId, column: usize) -> Option<ParentRef> {
        let src = self
            .synced(id, column)
            .cloned()
            .unwrap_or_else(|| self.source(id, column));
        match src {
            KeySrc::Value(Value::Null) => None,
            KeySrc::Value(v) => Some(ParentRef::Key(v)),
            KeySrc::KeyOf { object, .. } => Some(ParentRef::Pending(object)),
        }
    }

    /// The parent the database holds for a stored row through `link` (what a set-based statement
    /// over that parent's children reaches), `None` for a pending object or a NULL key.
    fn stored_parent(&self, id: ObjId, link: Link) -> Option<ParentRef> {
        let entry = self.arena.entry(id);
        let value = entry.stored(link.fk_column);
        (entry.state == ObjectState::Persistent && !value.is_null())
            .then_some(ParentRef::Key(value))
    }

    fn parent_ref(&self, id: ObjId, column: usize) -> ParentRef {
        match self.source(id, column) {
            KeySrc::Value(v) => ParentRef::Key(v),
            KeySrc::KeyOf { object, .. } => ParentRef::Pending(object),
        }
    }

    // ---- relationships -> foreign keys, association rows, removals ----

    fn sync_relationships(&mut self) -> Result<()> {
        let ids: Vec<ObjId> = self.arena.live_ids();
        for id in ids {
            let meta = self.arena.entry(id).meta();
            for index in 0..meta.relationships.len() {
                let slot = self.arena.entry(id).obj.relation(index);
                if !slot.loaded {
                    continue;
                }
                let resolved = self.resolve(meta, index)?;
                self.sync_one(id, &meta.relationships[index], resolved);
            }
        }
        Ok(())
    }

    fn sync_one(&mut self, owner: ObjId, rel: &'static RelationshipMeta, resolved: Resolved) {
        let slot = self
            .arena
            .entry(owner)
            .obj
            .relation(owner_rel_index(self.arena, owner, rel));
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
        let (added, removed): (Vec<ObjId>, Vec<ObjId>) = if owner_pending {
            (held.clone(), Vec::new()) // a new owner: everything it holds is new to it
        } else if held == original {
            (Vec::new(), Vec::new()) // the common case: an untouched collection
        } else {
            let before: HashSet<ObjId> = original.iter().copied().collect();
            let after: HashSet<ObjId> = held.iter().copied().collect();
            let added = held
                .iter()
                .copied()
                .filter(|m| owner_pending || !before.contains(m));
            let removed = original.iter().copied().filter(|m| !after.contains(m));
            (added.collect(), removed.collect())
        };
        match resolved {
            Resolved::Children(link) => {
                for member in added {
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
                for member in added {
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
    fn build_holders(&mut self) {
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
                    self.held_any.insert(member);
                    self.holders
                        .entry((meta.name, rel.field, member))
                        .or_default()
                        .push(owner);
                }
            }
        }
    }

    /// Whether `member` is held by another owner through the same relationship after the changes.
    fn held_elsewhere(&self, removal: &Removal) -> bool {
        let owner = self.arena.entry(removal.owner).meta().name;
        self.holders
            .get(&(owner, removal.rel.field, removal.member))
            .is_some_and(|owners| owners.iter().any(|o| *o != removal.owner))
    }

    /// A child removed from a collection is deleted (delete-orphan), moved (attached elsewhere by
    /// flush time, D7), or detached (its foreign key set to NULL).
    fn resolve_removals(&mut self) -> Result<()> {
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
                    // An orphan is deleted (`find_orphans`); only a child that stays needs a
                    // key the database accepts as NULL.
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
    /// is loaded) and has none now is deleted (SEMANTICS §5).
    fn find_orphans(&mut self) {
        for (id, link) in std::mem::take(&mut self.lost_parent) {
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
    /// attached anywhere since) is never inserted (SEMANTICS §1). A new object that was never
    /// attached (a tree's root) is not an orphan.
    fn find_pending_orphans(&mut self) -> Result<()> {
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
    fn has_parent_reference(&mut self, id: ObjId) -> Result<bool> {
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

    // ---- deletes: in-memory closure ----

    fn close_deletes(&mut self, unloaded_roots: &[RowSet]) -> Result<()> {
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

    fn cascade_from(
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
    fn cascade_from_keys(&mut self, set: &RowSet, work: &mut Vec<ObjId>) -> Result<()> {
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

    fn child_fate(
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

    fn record_null(&mut self, child: ObjId, link: Link) {
        if self.is_pending(child) {
            self.set_sync(child, link.fk_column, KeySrc::Value(Value::Null));
        } else {
            self.plan.nulled.push((child, link.fk_column));
        }
    }

    /// Live objects whose foreign key (after in-memory changes) references `parent`.
    fn children_of(&mut self, link: Link, parent: &ParentRef) -> Vec<ObjId> {
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

    // ---- updates ----

    /// The changed columns of a persistent object, and whether any new value is a key generated
    /// by this flush (then the update must wait for the inserts).
    fn changes(&self, id: ObjId) -> (Vec<usize>, bool) {
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

    fn plan_early_updates(&mut self) {
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
    fn detach_before_deletes(&mut self, id: ObjId) {
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

    fn plan_late_updates(&mut self) {
        for id in std::mem::take(&mut self.late_updates) {
            let (columns, _) = self.changes(id);
            self.push_update(id, columns);
        }
    }

    /// Adds an object to the previous update step when it changes the same columns of the same
    /// model: the executor writes such a group with one statement per chunk.
    fn push_update(&mut self, id: ObjId, columns: Vec<usize>) {
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

    // ---- deletes: set-based statements ----

    fn plan_deletes(&mut self, unloaded_roots: Vec<RowSet>) -> Result<()> {
        self.guard_at = self.plan.steps.len();
        self.plan_assoc_removes();
        self.plan_assoc_cleanups();
        let mut groups: Vec<RowSet> = self.root_groups();
        groups.extend(unloaded_roots);
        groups.append(&mut self.unloaded_parents);
        let mut models: Vec<&'static ModelMeta> = Vec::new();
        for set in &groups {
            if !models.iter().any(|m| m.same(set.model())) {
                models.push(set.model());
            }
        }
        // Referencing tables first.
        let order: Vec<&'static ModelMeta> = schema::dependency_order(&models)
            .into_iter()
            .rev()
            .collect();
        self.break_cycles_between_groups(&groups, &order);
        for model in order {
            let sets: Vec<RowSet> = groups
                .iter()
                .filter(|s| s.model().same(model))
                .cloned()
                .collect();
            for set in sets {
                let mut path = Vec::new();
                self.delete_set(set, &mut path)?;
            }
        }
        Ok(())
    }

    /// When rows of two tables that reference each other are both deleted, the rows deleted later
    /// still reference the rows deleted first: their key is nulled before any delete
    /// (SQLAlchemy's `post_update`, SEMANTICS §7).
    fn break_cycles_between_groups(&mut self, groups: &[RowSet], order: &[&'static ModelMeta]) {
        for (i, first) in order.iter().enumerate() {
            for later in &order[i + 1..] {
                for fk in later.foreign_keys {
                    let nullable = later.columns[fk.column].nullable;
                    if fk.target_table != first.table || later.same(first) || !nullable {
                        continue;
                    }
                    for set in groups.iter().filter(|s| s.model().same(later)) {
                        self.plan.steps.push(Step::Nullify {
                            set: set.clone(),
                            column: fk.column,
                        });
                    }
                }
            }
        }
    }

    /// Association rows that reference objects deleted through a many-to-many `delete`, also
    /// those linking them to other owners (SEMANTICS §4).
    fn plan_assoc_cleanups(&mut self) {
        for (link, target) in std::mem::take(&mut self.assoc_cleanups) {
            let Some(key) = self
                .arena
                .get(target)
                .filter(|e| e.state == ObjectState::Persistent)
            else {
                continue;
            };
            let value = key.obj.column_value(link.parent_column);
            let set = RowSet::Keys {
                model: link.child,
                column: link.fk_column,
                values: vec![value],
            };
            self.plan.steps.push(Step::Delete { set });
        }
    }

    fn plan_assoc_removes(&mut self) {
        let mut seen = HashSet::default();
        for (model, columns, values) in std::mem::take(&mut self.assoc_removes) {
            let (a, b) = normalise(columns, values);
            if !seen.insert((model.table, a.clone(), b.clone())) {
                continue; // the same association row is never deleted twice (SEMANTICS §4)
            }
            let expr = crate::column::Expr::And(vec![
                crate::column::Expr::Compare {
                    column: a.0,
                    op: crate::column::CmpOp::Eq,
                    value: a.1,
                },
                crate::column::Expr::Compare {
                    column: b.0,
                    op: crate::column::CmpOp::Eq,
                    value: b.1,
                },
            ]);
            self.plan.steps.push(Step::Delete {
                set: RowSet::Filter { model, expr },
            });
        }
    }

    /// Explicit roots not covered by a parent's cascade, grouped per model as key sets.
    fn root_groups(&self) -> Vec<RowSet> {
        let mut by_model: Vec<(&'static ModelMeta, Vec<Key>)> = Vec::new();
        let mut seen = HashSet::default();
        for &id in &self.roots {
            if self.covered.contains(&id) || self.is_pending(id) || !seen.insert(id) {
                continue;
            }
            let entry = self.arena.entry(id);
            let Some(key) = entry.key() else { continue };
            match by_model.iter_mut().find(|(m, _)| m.same(entry.meta())) {
                Some((_, keys)) => keys.push(key),
                None => by_model.push((entry.meta(), vec![key])),
            }
        }
        by_model
            .into_iter()
            .flat_map(|(model, keys)| key_sets(model, keys))
            .collect()
    }

    fn delete_set(&mut self, set: RowSet, path: &mut Vec<&'static str>) -> Result<()> {
        let model = set.model();
        if path.contains(&model.table) || set.is_empty() {
            return Ok(());
        }
        path.push(model.table);
        let set = self.widen_to_subtree(set)?;
        self.break_mutual_keys(&set)?;
        let parents = self.dependents_of(&set, path)?;
        self.plan.steps.push(Step::Delete { set });
        for parent_set in parents {
            self.delete_captured(parent_set, path)?;
        }
        path.pop();
        Ok(())
    }

    /// Plans what deleting `set` requires of the rows that depend on it; returns the sets of
    /// parents a many-to-one `delete` reaches (their keys are read before these rows go).
    fn dependents_of(&mut self, set: &RowSet, path: &mut Vec<&'static str>) -> Result<Vec<RowSet>> {
        let model = set.model();
        let mut parents = Vec::new();
        for index in 0..model.relationships.len() {
            let rel = &model.relationships[index];
            match self.resolve(model, index)? {
                Resolved::Parent(link) if rel.cascade.contains(Cascade::DELETE) => {
                    if let Some(rows) = self.undecided_rows(set) {
                        parents.push(self.capture(
                            &rows,
                            link.fk_column,
                            link.parent,
                            link.parent_column,
                        ));
                    }
                }
                resolved => self.dependents(set, rel, resolved, path)?,
            }
        }
        Ok(parents)
    }

    /// The rows of `set` whose many-to-one `delete` cascades were not decided in memory. Every
    /// object this flush deletes had them decided from its current reference (`cascade_from`);
    /// reading its stored key again would follow a reference the user changed (D7). `None`: no
    /// row is left to read. (A composite key cannot be excluded: such rows are read as stored.)
    fn undecided_rows(&self, set: &RowSet) -> Option<RowSet> {
        let model = set.model();
        let [pk] = model.primary_key else {
            return Some(set.clone());
        };
        let decided: HashSet<Value> = self
            .deleted
            .iter()
            .map(|id| self.arena.entry(*id))
            .filter(|e| e.state == ObjectState::Persistent && e.meta().same(model))
            .map(|e| e.stored(*pk))
            .collect();
        if decided.is_empty() {
            return Some(set.clone());
        }
        if let RowSet::Keys { column, values, .. } = set {
            if column == pk {
                let rest: Vec<Value> = values
                    .iter()
                    .filter(|v| !decided.contains(v))
                    .cloned()
                    .collect();
                return (!rest.is_empty()).then_some(RowSet::Keys {
                    model,
                    column: *pk,
                    values: rest,
                });
            }
        }
        Some(RowSet::Except {
            set: Box::new(set.clone()),
            column: *pk,
            values: decided.into_iter().collect(),
        })
    }

    /// Rows the database deletes by its own `ON DELETE CASCADE`: the ORM issues no DELETE for
    /// them (D2), but what depends on them is still handled (their children nulled or deleted).
    fn database_cascade(&mut self, set: RowSet, path: &mut Vec<&'static str>) -> Result<()> {
        let model = set.model();
        if path.contains(&model.table) || set.is_empty() {
            return Ok(());
        }
        path.push(model.table);
        let parents = self.dependents_of(&set, path)?;
        for parent_set in parents {
            self.delete_captured(parent_set, path)?;
        }
        path.pop();
        Ok(())
    }

    /// A `Capture` step reading `column` of `set`; returns the set of `target` rows whose
    /// `target_column` is among the values read.
    fn capture(
        &mut self,
        set: &RowSet,
        column: usize,
        target: &'static ModelMeta,
        target_column: usize,
    ) -> RowSet {
        let slot = self.plan.captures;
        self.plan.captures += 1;
        self.plan.steps.push(Step::Capture {
            set: set.clone(),
            column,
            slot,
        });
        RowSet::Captured {
            model: target,
            column: target_column,
            slot,
        }
    }

    fn delete_captured(&mut self, set: RowSet, path: &mut Vec<&'static str>) -> Result<()> {
        self.plan.captured_deletes.push(set.clone());
        self.delete_set(set, path)
    }

    /// Rows that reference rows their own cascade deletes (mutual foreign keys) have that key
    /// nulled first, in its own UPDATE (SQLAlchemy's `post_update`); else neither delete could run.
    fn break_mutual_keys(&mut self, set: &RowSet) -> Result<()> {
        let model = set.model();
        for fk in model.foreign_keys {
            let column = &model.columns[fk.column];
            if fk.target_table == model.table || !column.nullable {
                continue;
            }
            if self.cascade_reaches(model, fk.target_table)? {
                self.plan.steps.push(Step::Nullify {
                    set: set.clone(),
                    column: fk.column,
                });
            }
        }
        Ok(())
    }

    /// Whether deleting rows of `model` deletes rows of `table` through delete cascades.
    fn cascade_reaches(&mut self, model: &'static ModelMeta, table: &str) -> Result<bool> {
        let mut seen: Vec<&'static str> = vec![model.table];
        let mut work = vec![model];
        while let Some(m) = work.pop() {
            for index in 0..m.relationships.len() {
                let rel = &m.relationships[index];
                let Resolved::Children(link) = self.resolve(m, index)? else {
                    continue;
                };
                let deletes =
                    rel.cascade.contains(Cascade::DELETE) || link.on_delete() == OnDelete::Cascade;
                if !deletes
                    || rel.passive_deletes == PassiveDeletes::All
                    || seen.contains(&link.child.table)
                {
                    continue;
                }
                if link.child.table == table {
                    return Ok(true);
                }
                seen.push(link.child.table);
                work.push(link.child);
            }
        }
        Ok(false)
    }

    /// A self-referential one-to-many with `delete` deletes whole subtrees in one statement.
    fn widen_to_subtree(&mut self, set: RowSet) -> Result<RowSet> {
        let model = set.model();
        for index in 0..model.relationships.len() {
            let rel = &model.relationships[index];
            if let Resolved::Children(link) = self.resolve(model, index)? {
                if link.child.same(model)
                    && rel.cascade.contains(Cascade::DELETE)
                    && rel.passive_deletes == PassiveDeletes::Off
                {
                    return Ok(RowSet::Subtree {
                        fk: link.fk_column,
                        parent_column: link.parent_column,
                        roots: Box::new(set),
                    });
                }
            }
        }
        Ok(set)
    }

    fn dependents(
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
                // of those objects (also with other owners), then delete them (SEMANTICS §4).
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

    fn child_statements(
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
    fn referencing(&mut self, set: &RowSet, link: Link) -> RowSet {
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
    fn without_handled(&self, set: RowSet, link: Link) -> RowSet {
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

    fn loaded_children_set(&self, set: &RowSet, link: Link) -> RowSet {
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

    // ---- inserts ----

    fn plan_inserts(&mut self) {
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
    fn defer_forward_references(&mut self) {
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
    fn inserts_may_reference_forward(&self) -> bool {
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
    fn self_reference_levels(
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

    fn plan_assoc_inserts(&mut self) {
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

fn owner_rel_index(arena: &Arena, owner: ObjId, rel: &RelationshipMeta) -> usize {
    let meta = arena.entry(owner).meta();
    meta.relationship_index(rel.field).unwrap_or_default()
}

fn refusal(
    owner: &'static ModelMeta,
    rel: &'static RelationshipMeta,
    link: Link,
    reason: &'static str,
) -> Refusal {
    Refusal {
        parent: owner.name,
        field: rel.field,
        child: link.child.name,
        column: link.fk_name(),
        reason,
    }
}

/// Orders the two (column, value) pairs of an association row so both sides agree on one row.
fn normalise(columns: [usize; 2], values: [Value; 2]) -> ((usize, Value), (usize, Value)) {
    let [va, vb] = values;
    let (a, b) = ((columns[0], va), (columns[1], vb));
    if a.0 <= b.0 {
        (a, b)
    } else {
        (b, a)
    }
}

/// A set of rows given by their primary keys.
/// Composite keys are matched by `(a = ? AND b = ?) OR ...`: this many per set keeps the
/// expression well inside SQLite's depth limit (1,000).
pub(crate) const COMPOSITE_KEYS_PER_SET: usize = 200;

/// Sets of rows given by their primary keys: one set for single-column keys (chunked later under
/// the parameter limit), sets of at most `COMPOSITE_KEYS_PER_SET` composite keys otherwise.
pub(crate) fn key_sets(model: &'static ModelMeta, keys: Vec<Key>) -> Vec<RowSet> {
    if model.primary_key.len() == 1 {
        return vec![key_set(model, keys)];
    }
    keys.chunks(COMPOSITE_KEYS_PER_SET)
        .map(|chunk| key_set(model, chunk.to_vec()))
        .collect()
}

fn key_set(model: &'static ModelMeta, keys: Vec<Key>) -> RowSet {
    match model.primary_key {
        [pk] => RowSet::Keys {
            model,
            column: *pk,
            values: keys
                .into_iter()
                .filter_map(|k| k.into_iter().next())
                .collect(),
        },
        _ => {
            let parts = keys
                .iter()
                .map(|k| crate::sql::key_filter(model, k))
                .collect();
            RowSet::Filter {
                model,
                expr: crate::column::Expr::Or(parts),
            }
        }
    }
}
