//! The object arena: every object a session holds, its lifecycle state, its loaded snapshot, and
//! the identity map from (table, primary key) to object. It sits below both the planner (which
//! reads it) and the session (which owns and changes it).

use crate::meta::ModelMeta;
use crate::model::{AnyModel, ObjId, SlotStamp};
use crate::schema::Link;
use crate::value::Value;
// Internal maps are keyed by object ids and keys: a fast hash beats SipHash's DoS resistance.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

/// The lifecycle state of an object held by a session (docs/dev/semantics.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectState {
    /// Added, not yet inserted.
    Pending,
    /// Stored in the database (and possibly marked for deletion at the next flush).
    Persistent,
    /// Deleted by a flush; becomes detached at commit, persistent again at rollback.
    Deleted,
    /// No longer held by the session (expunged, or deleted and committed).
    Detached,
}

/// A primary key's values; one-column keys need no heap allocation.
pub(crate) type Key = smallvec::SmallVec<[Value; 1]>;

pub(crate) struct Entry {
    pub obj: Box<dyn AnyModel>,
    pub state: ObjectState,
    /// `Session::delete` was called; the flush deletes it.
    pub marked_delete: bool,
    /// The column values stored in the database, recorded at the first `Session::write` since the
    /// object was last read or flushed. `None`: unchanged since, the object equals its row (so
    /// loading and flushing do not copy every row).
    pub snapshot: Option<Vec<Value>>,
    /// Column values must be reloaded before use.
    pub expired: bool,
    /// Added (pending or inserted) in the current transaction; a rollback makes it transient.
    pub added_in_tx: bool,
    /// What each relationship held when `Session::write` first handed the object out since the
    /// last flush (`None` inside: not loaded then), so that a relationship field the user
    /// assigned can be diffed against what it replaced (`Session::adopt_assignments`).
    /// Empty (no allocation) when no relationship was loaded.
    pub written_relations: Option<Box<[Option<WrittenRelation>]>>,
    /// The stored values before the first flush of the open transaction changed the row; a
    /// rollback puts them back, so that an expired object does not keep values the database
    /// no longer has. `None`: unchanged in this transaction (or added in it).
    pub before_tx: Option<Vec<Value>>,
}

/// A loaded relationship as it was when its owner was handed out for writing.
#[derive(Debug, Clone)]
pub(crate) struct WrittenRelation {
    /// What it held at the last load or flush.
    pub original: Vec<ObjId>,
    /// What it held then (with the changes made since through the session).
    pub held: Vec<ObjId>,
}

impl Entry {
    pub(crate) fn meta(&self) -> &'static ModelMeta {
        self.obj.meta()
    }

    pub(crate) fn key(&self) -> Option<Key> {
        let meta = self.meta();
        // The usual one-column key is built without going through an iterator.
        if let [column] = meta.primary_key {
            let value = self.obj.column_value(*column);
            return (!value.is_null()).then(|| Key::from_buf([value]));
        }
        let key: Key = meta
            .primary_key
            .iter()
            .map(|&c| self.obj.column_value(c))
            .collect();
        (!key.iter().any(Value::is_null)).then_some(key)
    }

    /// The stored value of a column: from the snapshot if the object was written to since it
    /// was read or flushed, else its current value.
    pub(crate) fn stored(&self, column: usize) -> Value {
        match &self.snapshot {
            Some(snapshot) => snapshot.get(column).cloned().unwrap_or(Value::Null),
            None => self.obj.column_value(column),
        }
    }

    /// Keeps the stored values for a rollback, before a flush of this transaction first changes
    /// the row in memory.
    pub(crate) fn remember_before_transaction(&mut self) {
        if self.before_tx.is_none() && self.state == ObjectState::Persistent && !self.added_in_tx {
            let columns = self.meta().columns.len();
            self.before_tx = Some((0..columns).map(|c| self.stored(c)).collect());
        }
    }

    /// After a flush wrote the object: it equals its row, and the values recorded by `write`
    /// become what a rollback restores (if nothing earlier in the transaction recorded them).
    pub(crate) fn settle_written(&mut self) {
        let snapshot = self.snapshot.take();
        if self.before_tx.is_none() && !self.added_in_tx {
            self.before_tx = snapshot;
        }
    }

    /// Records the stored values and the loaded relationships before the object is handed out
    /// for writing.
    pub(crate) fn before_write(&mut self) {
        if self.snapshot.is_none() && self.state == ObjectState::Persistent {
            let columns = self.meta().columns.len();
            self.snapshot = Some((0..columns).map(|c| self.obj.column_value(c)).collect());
        }
        if self.written_relations.is_none() {
            let relationships = self.meta().relationships.len();
            let loaded = (0..relationships).any(|index| self.obj.relation(index).loaded);
            if !loaded {
                // Nothing to diff an assignment against: it is read from the database then.
                self.written_relations = Some(Box::default());
                return;
            }
            let written = (0..relationships)
                .map(|index| {
                    let slot = self.obj.relation(index);
                    slot.loaded.then(|| {
                        let held: Vec<ObjId> = slot.held().collect();
                        let original = slot.original.clone().unwrap_or_else(|| held.clone());
                        WrittenRelation { original, held }
                    })
                })
                .collect();
            self.written_relations = Some(written);
        }
    }

    /// The key for messages ("5", "(1, 2)"), or "(new)" before it is known.
    pub(crate) fn describe_key(&self) -> String {
        self.key()
            .map(|k| format_key(&k))
            .unwrap_or_else(|| "(new)".into())
    }

    pub(crate) fn is_live(&self) -> bool {
        matches!(self.state, ObjectState::Pending | ObjectState::Persistent)
    }
}

pub(crate) struct Arena {
    /// Tells this arena's relationship slots from those of another session.
    tag: u64,
    entries: Vec<Option<Entry>>,
    /// Per (table, model): two models mapped to one table keep separate identities. Keys are
    /// stored inline when they have one column (the usual case), without a heap allocation.
    identity: HashMap<(&'static str, &'static str), HashMap<Key, ObjId>>,
    /// New objects removed from a `delete-orphan` relationship since the last flush: if nothing
    /// holds them at flush time, they are dropped instead of inserted.
    pub(crate) detached_new: HashSet<ObjId>,
    /// Stored objects that a relationship change took away from their parent through a link
    /// since the last flush: orphans at flush if a `delete-orphan` relationship owns the link and
    /// nothing attached them since (even when no collection shows a difference).
    pub(crate) lost_parents: Vec<(ObjId, Link)>,
}

impl Default for Arena {
    fn default() -> Self {
        static NEXT_ARENA: AtomicU64 = AtomicU64::new(1);
        Arena {
            tag: NEXT_ARENA.fetch_add(1, Ordering::Relaxed),
            entries: Vec::new(),
            identity: HashMap::default(),
            detached_new: HashSet::default(),
            lost_parents: Vec::new(),
        }
    }
}

impl Arena {
    /// The stamp relationship `index` of object `owner` carries while the object is held here.
    pub(crate) fn stamp(&self, owner: ObjId, index: usize) -> Option<SlotStamp> {
        SlotStamp::new(self.tag, owner, index)
    }

    /// Whether a stamp was given by this arena (its members are this session's objects).
    pub(crate) fn stamped_here(&self, stamp: SlotStamp) -> bool {
        stamp.arena() == self.tag
    }

    /// Marks every relationship slot of `id` as its own (when it enters the arena, and when an
    /// assignment was adopted or discarded).
    pub(crate) fn stamp_slots(&mut self, id: ObjId) {
        let tag = self.tag;
        let entry = self.entry_mut(id);
        for index in 0..entry.meta().relationships.len() {
            entry.obj.relation_mut(index).stamp = SlotStamp::new(tag, id, index);
        }
    }

    pub(crate) fn get(&self, id: ObjId) -> Option<&Entry> {
        self.entries.get(id.0 as usize).and_then(Option::as_ref)
    }

    pub(crate) fn get_mut(&mut self, id: ObjId) -> Option<&mut Entry> {
        self.entries.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    pub(crate) fn entry(&self, id: ObjId) -> &Entry {
        self.get(id)
            .unwrap_or_else(|| unreachable!("object #{} is not in the arena", id.0))
    }

    pub(crate) fn entry_mut(&mut self, id: ObjId) -> &mut Entry {
        self.get_mut(id)
            .unwrap_or_else(|| unreachable!("object #{} is not in the arena", id.0))
    }

    pub(crate) fn insert(&mut self, entry: Entry) -> ObjId {
        let id = ObjId(u32::try_from(self.entries.len()).unwrap_or(u32::MAX));
        if let Some(key) = (entry.state == ObjectState::Persistent)
            .then(|| entry.key())
            .flatten()
        {
            self.identities(entry.meta()).insert(key, id);
        }
        self.entries.push(Some(entry));
        self.stamp_slots(id);
        id
    }

    /// Inserts an object read from the database under the key already computed from its row.
    pub(crate) fn insert_loaded(&mut self, entry: Entry, key: Key) -> ObjId {
        let id = ObjId(u32::try_from(self.entries.len()).unwrap_or(u32::MAX));
        self.identities(entry.meta()).insert(key, id);
        self.entries.push(Some(entry));
        self.stamp_slots(id);
        id
    }

    fn identities(&mut self, meta: &'static ModelMeta) -> &mut HashMap<Key, ObjId> {
        self.identity.entry((meta.table, meta.name)).or_default()
    }

    pub(crate) fn lookup(&self, meta: &ModelMeta, key: &[Value]) -> Option<ObjId> {
        self.identity
            .get(&(meta.table, meta.name))?
            .get(key)
            .copied()
    }

    /// Objects of `meta` a flush inserted become persistent and enter the identity map under
    /// their keys (the map found once and grown once for all of them).
    pub(crate) fn register_inserted(&mut self, meta: &'static ModelMeta, ids: &[ObjId]) {
        let map = self.identity.entry((meta.table, meta.name)).or_default();
        map.reserve(ids.len());
        for &id in ids {
            let Some(entry) = self.entries[id.0 as usize].as_mut() else {
                continue;
            };
            entry.state = ObjectState::Persistent;
            if let Some(key) = entry.key() {
                map.insert(key, id);
            }
        }
    }

    pub(crate) fn register_key(&mut self, id: ObjId) {
        let entry = self.entry(id);
        if let Some(key) = entry.key() {
            let meta = entry.meta();
            self.identities(meta).insert(key, id);
        }
    }

    pub(crate) fn forget_key(&mut self, id: ObjId) {
        let entry = self.entry(id);
        if let Some(key) = entry.key() {
            let meta = entry.meta();
            let map = self.identities(meta);
            if map.get(&key) == Some(&id) {
                map.remove(&key);
            }
        }
    }

    /// Forgets that `key` identifies object `id` (its key changed).
    pub(crate) fn forget_key_value(&mut self, meta: &'static ModelMeta, key: &[Value], id: ObjId) {
        let map = self.identities(meta);
        if map.get(key) == Some(&id) {
            map.remove(key);
        }
    }

    /// Takes an object that left the session out of every relationship holding it, and nothing
    /// else: other unflushed changes of those relationships stay as they are.
    pub(crate) fn drop_from_collections(&mut self, gone: ObjId) {
        for entry in self.entries.iter_mut().flatten() {
            for index in 0..entry.meta().relationships.len() {
                let slot = entry.obj.relation_mut(index);
                slot.members.remove_held(gone);
            }
        }
    }

    /// Removes an object from the session entirely (expunge, rollback of an add, commit of a delete).
    pub(crate) fn remove(&mut self, id: ObjId) -> Option<Entry> {
        if self.get(id).is_some() {
            self.forget_key(id);
        }
        self.entries.get_mut(id.0 as usize).and_then(Option::take)
    }

    /// The number of ids given so far: the next object gets this one (ids are never reused).
    pub(crate) fn slots(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn ids(&self) -> impl Iterator<Item = ObjId> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.is_some())
            .map(|(i, _)| ObjId(i as u32))
    }

    /// Pending and persistent objects (not deleted by a flush).
    pub(crate) fn live_ids(&self) -> Vec<ObjId> {
        self.iter()
            .filter(|(_, e)| e.is_live())
            .map(|(id, _)| id)
            .collect()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (ObjId, &Entry)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (ObjId(i as u32), e)))
    }
}

/// A map keyed by object id, stored densely (ids are indexes into the arena): a flush touches
/// most objects it knows, so a vector beats hashing.
#[derive(Debug, Clone)]
pub(crate) struct ObjMap<V> {
    slots: Vec<Option<V>>,
    len: usize,
}

impl<V> Default for ObjMap<V> {
    fn default() -> Self {
        ObjMap {
            slots: Vec::new(),
            len: 0,
        }
    }
}

impl<V> ObjMap<V> {
    pub(crate) fn get(&self, id: &ObjId) -> Option<&V> {
        self.slots.get(id.0 as usize).and_then(Option::as_ref)
    }

    pub(crate) fn contains_key(&self, id: &ObjId) -> bool {
        self.get(id).is_some()
    }

    pub(crate) fn insert(&mut self, id: ObjId, value: V) {
        let slot = self.slot(id);
        if slot.replace(value).is_none() {
            self.len += 1;
        }
    }

    /// The value for `id`, inserted with `V::default()` first if absent.
    pub(crate) fn entry_or_default(&mut self, id: ObjId) -> &mut V
    where
        V: Default,
    {
        if !self.contains_key(&id) {
            self.insert(id, V::default());
        }
        self.slot(id).get_or_insert_with(V::default)
    }

    fn slot(&mut self, id: ObjId) -> &mut Option<V> {
        let index = id.0 as usize;
        if index >= self.slots.len() {
            self.slots.resize_with(index + 1, || None);
        }
        &mut self.slots[index]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (ObjId, &V)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref().map(|v| (ObjId(i as u32), v)))
    }
}

impl<V> std::ops::Index<&ObjId> for ObjMap<V> {
    type Output = V;
    fn index(&self, id: &ObjId) -> &V {
        self.get(id)
            .unwrap_or_else(|| unreachable!("no entry for object #{}", id.0))
    }
}

/// A primary key as messages show it: "5", or "(1, 2)" for a composite key.
pub(crate) fn format_key(key: &[Value]) -> String {
    match key {
        [single] => single.to_string(),
        many => format!(
            "({})",
            many.iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
