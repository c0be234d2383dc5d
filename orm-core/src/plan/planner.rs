//! The cascade planner: a pure function from the session's objects and the static metadata to an
//! ordered [`Plan`]. It decides every cascade at flush time from the current state (D7), handles
//! loaded objects in memory and the rows that are not loaded with set-based statements (D9).
//!
//! The phases, in the order `plan_flush` calls them, one file each:
//! `sync` (relationships to foreign keys, removals, orphans) -> `closure` (what is deleted,
//! decided in memory) -> `updates` (early) -> `deletes` and `children` (set-based statements)
//! -> `inserts` -> `updates` (late) -> association inserts. This file holds the planner's state
//! and the one answer to "who is this row's parent now" ([`Planner::current_parent`]) that every
//! phase uses.

mod children;
mod closure;
mod deletes;
mod inserts;
mod sync;
mod updates;

use super::rowset::RowSet;
use super::{KeySrc, Plan, Refusal, Step};
use crate::arena::{Arena, Key, ObjectState};
use crate::error::Result;
use crate::meta::{Cascade, ModelMeta, OnDelete, PassiveDeletes, RelationshipMeta};
use crate::model::ObjId;
use crate::schema::{self, Link, Resolved};
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
    resolved: schema::Resolutions,
    /// (relationship identity, member) -> owners holding it after the changes in memory.
    holders: HashMap<(&'static str, &'static str, ObjId), Vec<ObjId>>,
    /// Objects held as a child (by a collection or a one-to-one) through a loaded relationship,
    /// after the changes in memory.
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
            resolved: schema::Resolutions::default(),
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
        self.resolved.get(model, index)
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

    /// Whether the session knows the row's reference through `column`: an expired object's
    /// columns are stale until it is reloaded, unless a relationship set this one since.
    fn reference_known(&self, id: ObjId, column: usize) -> bool {
        !self.arena.entry(id).expired || self.synced(id, column).is_some()
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
                .map(|k| crate::column::Expr::key(model, k))
                .collect();
            RowSet::Filter {
                model,
                expr: crate::column::Expr::Or(parts),
            }
        }
    }
}
