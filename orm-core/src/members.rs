//! What a relationship holds, in order, with removal and membership tests that cost O(1)
//! amortised however large the collection is: removing 5,000 members of a 10,000-member
//! collection one call at a time must not scan it 5,000 times.
//!
//! Members are kept in a vector of slots; a removed member leaves a hole (so the others keep
//! their order and positions) until holes outnumber members, when the vector is compacted. A
//! position index (object id -> slot) is built the first time a large collection is searched,
//! and kept up to date from then on.

use crate::model::{Member, ObjId};
use rustc_hash::FxHashMap;
use std::cell::Cell;
use std::fmt;

/// Collections up to this size are searched by a scan: cheaper than an index.
const SCAN_LIMIT: usize = 16;

thread_local! {
    /// Member slots looked at by searches on this thread: what the complexity test reads
    /// (`member_probes`), so that a quadratic scan cannot come back unnoticed on a fast
    /// machine. Per thread, so that tests running side by side do not count each other's.
    static PROBES: Cell<u64> = const { Cell::new(0) };
}

/// How many member slots searches on this thread have looked at so far (a scan counts each
/// slot it passes, an index lookup counts one), and how many session objects were asked
/// whether they hold an object `append` moves (one each).
pub fn member_probes() -> u64 {
    PROBES.with(Cell::get)
}

pub(crate) fn probed(slots: usize) {
    PROBES.with(|probes| probes.set(probes.get() + slots as u64));
}

/// The members of one relationship, in order.
#[derive(Default)]
pub(crate) struct Members {
    /// `None`: a hole left by a removal through the index.
    slots: Vec<Option<Member>>,
    /// Built the first time a large collection is searched (boxed: most collections never are,
    /// and every relationship field of every object carries a `Members`).
    indexed: Option<Box<Indexed>>,
}

/// The position index of a large collection.
struct Indexed {
    /// The slot of each held object.
    positions: FxHashMap<ObjId, usize>,
    /// Holes in `slots`.
    holes: usize,
}

impl fmt::Debug for Members {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<Member> for Members {
    fn from_iter<I: IntoIterator<Item = Member>>(iter: I) -> Self {
        Members {
            slots: iter.into_iter().map(Some).collect(),
            indexed: None,
        }
    }
}

impl From<Vec<Member>> for Members {
    fn from(members: Vec<Member>) -> Self {
        members.into_iter().collect()
    }
}

impl IntoIterator for Members {
    type Item = Member;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Option<Member>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.slots.into_iter().flatten()
    }
}

impl Members {
    /// The members, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Member> + '_ {
        self.slots.iter().flatten()
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.indexed.as_ref().map_or(0, |i| i.holes)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn clear(&mut self) {
        *self = Members::default();
    }

    /// Appends a member.
    pub(crate) fn push(&mut self, member: Member) {
        if let (Some(indexed), Member::Held(id)) = (&mut self.indexed, &member) {
            if indexed.positions.insert(*id, self.slots.len()).is_some() {
                self.unindex(); // held twice: searches scan from now on
            }
        }
        self.slots.push(Some(member));
    }

    /// Keeps the members for which `keep` is true (one pass; no index afterwards).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Member) -> bool) {
        probed(self.slots.len());
        self.slots
            .retain(|slot| slot.as_ref().is_some_and(&mut keep));
        self.indexed = None;
    }

    /// Whether object `id` is held.
    pub(crate) fn contains_held(&mut self, id: ObjId) -> bool {
        if self.slots.len() <= SCAN_LIMIT || !self.ensure_index() {
            let found = self
                .slots
                .iter()
                .position(|slot| matches!(slot, Some(Member::Held(held)) if *held == id));
            probed(found.map_or(self.slots.len(), |p| p + 1));
            return found.is_some();
        }
        probed(1);
        self.indexed
            .as_ref()
            .is_some_and(|i| i.positions.contains_key(&id))
    }

    /// Removes object `id` (every copy of it); whether it was held.
    pub(crate) fn remove_held(&mut self, id: ObjId) -> bool {
        if self.slots.len() <= SCAN_LIMIT || !self.ensure_index() {
            let before = self.slots.len();
            self.retain(|m| !matches!(m, Member::Held(held) if *held == id));
            return self.slots.len() != before;
        }
        probed(1);
        let Some(indexed) = self.indexed.as_mut() else {
            return false;
        };
        let Some(position) = indexed.positions.remove(&id) else {
            return false;
        };
        self.slots[position] = None;
        indexed.holes += 1;
        let live = self.slots.len() - indexed.holes;
        if indexed.holes > live.max(SCAN_LIMIT) {
            self.compact();
        }
        true
    }

    /// Builds the position index if there is none; false if an object is held twice (then
    /// there is none, and searches scan).
    fn ensure_index(&mut self) -> bool {
        if self.indexed.is_some() {
            return true;
        }
        probed(self.slots.len());
        let mut positions = FxHashMap::default();
        positions.reserve(self.slots.len());
        for (position, slot) in self.slots.iter().enumerate() {
            if let Some(Member::Held(id)) = slot {
                if positions.insert(*id, position).is_some() {
                    return false;
                }
            }
        }
        self.indexed = Some(Box::new(Indexed {
            positions,
            holes: 0,
        }));
        true
    }

    /// Drops the index, and the holes with it.
    fn unindex(&mut self) {
        if self.indexed.take().is_some_and(|i| i.holes > 0) {
            self.slots.retain(Option::is_some);
        }
    }

    /// Drops the holes left by removals, keeping the members' order (the index is rebuilt on
    /// the next search).
    fn compact(&mut self) {
        probed(self.slots.len());
        self.unindex();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(ids: impl IntoIterator<Item = u32>) -> Members {
        ids.into_iter().map(|i| Member::Held(ObjId(i))).collect()
    }

    fn ids(members: &Members) -> Vec<u32> {
        members
            .iter()
            .filter_map(|m| match m {
                Member::Held(id) => Some(id.0),
                Member::New(_) => None,
            })
            .collect()
    }

    #[test]
    fn removal_keeps_the_order_of_the_others() {
        let mut members = held(0..100);
        for i in (0..100).step_by(3) {
            assert!(members.remove_held(ObjId(i)));
        }
        assert!(!members.remove_held(ObjId(0)), "already removed");
        let expected: Vec<u32> = (0..100).filter(|i| i % 3 != 0).collect();
        assert_eq!(ids(&members), expected);
        assert_eq!(members.len(), expected.len());
        members.push(Member::Held(ObjId(0)));
        assert!(members.contains_held(ObjId(0)));
        assert_eq!(ids(&members).last(), Some(&0));
    }

    #[test]
    fn an_object_held_twice_is_removed_entirely() {
        let mut members = held((0..40).chain([7]));
        assert!(members.remove_held(ObjId(7)));
        assert!(!members.contains_held(ObjId(7)));
        assert_eq!(members.len(), 39);
    }

    #[test]
    fn removing_half_of_a_large_collection_is_linear() {
        let mut members = held(0..10_000);
        let before = member_probes();
        for i in (0..10_000).step_by(2) {
            assert!(members.remove_held(ObjId(i)));
        }
        let probes = member_probes() - before;
        // A scan per removal would look at about 5,000 x 7,500 slots.
        assert!(probes < 100_000, "{probes} slots looked at");
        assert_eq!(members.len(), 5_000);
    }
}
