//! The `Model` trait that `#[derive(Model)]` implements, typed handles, and the relationship
//! field types (`HasMany`, `HasOne`, `BelongsTo`, `ManyToMany`).

use crate::members::Members;
use crate::meta::{ModelMeta, RelKind};
use crate::value::{Value, ValueError};
use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

/// A table-backed struct. Implemented by `#[derive(Model)]`; not meant to be implemented by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a model",
    label = "relationships must point at a struct with `#[derive(Model)]`",
    note = "add `#[derive(Model)]` (and `#[model(table = \"...\")]`) to `{Self}`"
)]
pub trait Model: Sized + Send + Sync + 'static {
    /// The static description of the table, its columns and relationships.
    const META: &'static ModelMeta;

    /// The value of column `index` (an index into `META.columns`).
    fn column_value(&self, index: usize) -> Value;

    /// Sets column `index` from a value read from the database.
    fn set_column_value(&mut self, index: usize, value: Value) -> Result<(), ValueError>;

    /// Builds an object from one value per column, in column order; relationships start unloaded.
    /// A value that does not fit its field is an [`Error::Decode`](crate::Error::Decode) naming
    /// the column.
    fn from_values(values: Vec<Value>) -> crate::Result<Self>;

    /// The state of relationship `index` (an index into `META.relationships`).
    fn relation(&self, index: usize) -> &RelSlot;

    /// The mutable state of relationship `index`.
    fn relation_mut(&mut self, index: usize) -> &mut RelSlot;
}

/// Identifies an object inside one session's arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ObjId(pub(crate) u32);

/// A small `Copy` reference to an object held by a session (`orm_core::Session`).
///
/// Handles are typed: a `Handle<User>` can only be used where a `User` is expected. A handle
/// belongs to the session that issued it; using it with another session is an error, not a panic.
pub struct Handle<T> {
    pub(crate) session: u64,
    pub(crate) id: ObjId,
    _model: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    pub(crate) fn new(session: u64, id: ObjId) -> Self {
        Handle {
            session,
            id,
            _model: PhantomData,
        }
    }
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Handle<T> {}
impl<T> PartialEq for Handle<T> {
    fn eq(&self, other: &Self) -> bool {
        self.session == other.session && self.id == other.id
    }
}
impl<T> Eq for Handle<T> {}
impl<T> Hash for Handle<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.session.hash(state);
        self.id.hash(state);
    }
}
impl<T: Model> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle<{}>(#{})", T::META.name, self.id.0)
    }
}

/// A model object with its type erased, as the session stores it.
pub(crate) trait AnyModel: Any + Send + Sync {
    fn meta(&self) -> &'static ModelMeta;
    fn column_value(&self, index: usize) -> Value;
    fn set_column_value(&mut self, index: usize, value: Value) -> Result<(), ValueError>;
    fn relation(&self, index: usize) -> &RelSlot;
    fn relation_mut(&mut self, index: usize) -> &mut RelSlot;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Model> AnyModel for T {
    fn meta(&self) -> &'static ModelMeta {
        T::META
    }
    fn column_value(&self, index: usize) -> Value {
        Model::column_value(self, index)
    }
    fn set_column_value(&mut self, index: usize, value: Value) -> Result<(), ValueError> {
        Model::set_column_value(self, index, value)
    }
    fn relation(&self, index: usize) -> &RelSlot {
        Model::relation(self, index)
    }
    fn relation_mut(&mut self, index: usize) -> &mut RelSlot {
        Model::relation_mut(self, index)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// One member of a relationship: an object the session holds, or a new object not yet added.
pub(crate) enum Member {
    Held(ObjId),
    New(Box<dyn AnyModel>),
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Member::Held(id) => write!(f, "#{}", id.0),
            Member::New(obj) => write!(f, "new {}", obj.meta().name),
        }
    }
}

/// Builds a boxed object of a known model from one row.
pub(crate) type Build = fn(Vec<Value>) -> crate::Result<Box<dyn AnyModel>>;

pub(crate) fn build<T: Model>(values: Vec<Value>) -> crate::Result<Box<dyn AnyModel>> {
    // Name the column whose stored value cannot fit before the values are consumed.
    if let Some((column, source)) = misfit(T::META, &values) {
        return Err(crate::Error::Decode {
            model: T::META.name,
            column,
            source,
        });
    }
    T::from_values(values).map(|o| Box::new(o) as Box<dyn AnyModel>)
}

/// The first column whose value's kind cannot be read as the column's SQL type.
fn misfit(meta: &ModelMeta, values: &[Value]) -> Option<(&'static str, ValueError)> {
    use crate::value::SqlType;
    meta.columns.iter().zip(values).find_map(|(column, value)| {
        let fits = match value {
            Value::Null => column.nullable || column.primary_key,
            value => value.fits(column.sql_type),
        };
        let expected = match column.sql_type {
            SqlType::Integer => "an integer",
            SqlType::Real => "a float",
            SqlType::Text => "text",
            SqlType::Blob => "bytes",
            SqlType::Boolean => "a boolean",
            SqlType::Uuid => "a UUID",
            SqlType::Date => "a date",
            SqlType::Time => "a time of day",
            SqlType::Timestamp => "a timestamp",
            SqlType::TimestampTz => "a timestamp with a zone",
            SqlType::Json => "a JSON document",
            SqlType::Decimal => "a decimal",
        };
        (!fits).then(|| (column.name, ValueError::mismatch(expected, value)))
    })
}

/// The untyped state behind every relationship field: what it holds now and, once loaded, what
/// it held when loaded (or at the last flush), so that a flush can tell additions from removals.
pub struct RelSlot {
    pub(crate) loaded: bool,
    pub(crate) members: Members,
    /// What it held when last loaded or flushed, recorded at its first change since (`None`:
    /// unchanged, it holds exactly that). Copy-on-write: loads and flushes of large collections
    /// do not copy them.
    pub(crate) original: Option<Vec<ObjId>>,
    /// Builds the target model from a row, so that relationships load without knowing its type.
    pub(crate) build: Build,
    /// Which session object's relationship this slot is, set when the object enters a session.
    /// A slot whose stamp is not its owner's was assigned by the user (`u.orders = ...`).
    pub(crate) stamp: Option<SlotStamp>,
}

/// The identity of a relationship slot inside a session: (session arena, owner, field index),
/// packed into one non-zero number (arena tags start at 1) so that a slot stays small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotStamp(std::num::NonZeroU128);

impl SlotStamp {
    pub(crate) fn new(arena: u64, owner: ObjId, index: usize) -> Option<Self> {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        let packed = (u128::from(arena) << 64) | (u128::from(owner.0) << 32) | u128::from(index);
        std::num::NonZeroU128::new(packed).map(SlotStamp)
    }

    /// The tag of the arena that gave it.
    pub(crate) fn arena(self) -> u64 {
        (self.0.get() >> 64) as u64
    }
}

impl fmt::Debug for RelSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.loaded || !self.members.is_empty() {
            f.debug_list().entries(self.members.iter()).finish()
        } else {
            f.write_str("<not loaded>")
        }
    }
}

impl RelSlot {
    pub(crate) fn held(&self) -> impl Iterator<Item = ObjId> + '_ {
        self.members.iter().filter_map(|m| match m {
            Member::Held(id) => Some(*id),
            Member::New(_) => None,
        })
    }

    /// Records what the relationship holds before its first change since the last load or flush.
    pub(crate) fn before_change(&mut self) {
        if self.original.is_none() {
            self.original = Some(self.held().collect());
        }
    }

    /// The relationship now agrees with the database (after a load or a flush).
    pub(crate) fn in_step(&mut self) {
        self.original = None;
    }

    fn push_new<T: Model>(&mut self, object: T) {
        self.members.push(Member::New(Box::new(object)));
    }
}

/// Implemented by the four relationship field types; the derive reaches a field's state through it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a relationship type",
    label = "expected HasMany<T>, HasOne<T>, BelongsTo<T> or ManyToMany<T>"
)]
pub trait Relationship: Default {
    /// The kind of relationship.
    const KIND: RelKind;
    /// The related model.
    type Target: Model;
    /// The untyped state.
    fn slot(&self) -> &RelSlot;
    /// The untyped state, mutably.
    fn slot_mut(&mut self) -> &mut RelSlot;
}

macro_rules! relationship_type {
    ($(#[$doc:meta])* $name:ident, $kind:ident) => {
        $(#[$doc])*
        pub struct $name<T> {
            slot: RelSlot,
            _target: PhantomData<fn() -> T>,
        }

        impl<T: Model> Default for $name<T> {
            fn default() -> Self {
                let slot = RelSlot { loaded: false, members: Members::default(), original: None, build: build::<T>, stamp: None };
                $name { slot, _target: PhantomData }
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{:?}", stringify!($name), self.slot)
            }
        }

        impl<T: Model> Relationship for $name<T> {
            const KIND: RelKind = RelKind::$kind;
            type Target = T;
            fn slot(&self) -> &RelSlot {
                &self.slot
            }
            fn slot_mut(&mut self) -> &mut RelSlot {
                &mut self.slot
            }
        }

        impl<T: Model> $name<T> {
            /// An empty relationship (for a new object) that is not loaded yet.
            pub fn new() -> Self {
                Self::default()
            }

            /// Whether the related objects are loaded in the session.
            pub fn is_loaded(&self) -> bool {
                self.slot.loaded
            }
        }
    };
}

relationship_type!(
    /// One-to-many: the foreign key is on `T`'s table. Holds the children.
    HasMany, HasMany
);
relationship_type!(
    /// Many-to-one: the foreign key is on this model's table. Holds at most one parent.
    BelongsTo, BelongsTo
);
relationship_type!(
    /// One-to-one seen from the side without the foreign key. Holds at most one object.
    HasOne, HasOne
);
relationship_type!(
    /// Many-to-many through an association model (`#[relationship(through = Assoc)]`).
    ManyToMany, ManyToMany
);

macro_rules! collection_building {
    ($name:ident) => {
        impl<T: Model> $name<T> {
            /// Appends a new object, added to the session (save-update cascade) with its owner.
            pub fn push(&mut self, object: T) {
                self.slot.push_new(object);
            }

            /// The number of members, counting new objects.
            pub fn len(&self) -> usize {
                self.slot.members.len()
            }

            /// Whether there are no members (or the collection is not loaded).
            pub fn is_empty(&self) -> bool {
                self.slot.members.is_empty()
            }
        }

        impl<T: Model> FromIterator<T> for $name<T> {
            fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
                let mut collection = Self::default();
                for object in iter {
                    collection.push(object);
                }
                collection
            }
        }

        impl<T: Model, const N: usize> From<[T; N]> for $name<T> {
            fn from(objects: [T; N]) -> Self {
                objects.into_iter().collect()
            }
        }
    };
}
collection_building!(HasMany);
collection_building!(ManyToMany);

macro_rules! scalar_building {
    ($name:ident) => {
        impl<T: Model> $name<T> {
            /// A reference to a new object, added to the session (save-update) with its owner.
            pub fn to(object: T) -> Self {
                let mut rel = Self::default();
                rel.slot.push_new(object);
                rel
            }
        }
    };
}
scalar_building!(BelongsTo);
scalar_building!(HasOne);
