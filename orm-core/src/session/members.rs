//! Handles of the members a relationship field holds, for code that has the field itself (a `&T`
//! from `Session::read`). Defined with the session, so that the model types below it need not
//! know the session.

use super::Session;
use crate::model::{BelongsTo, Handle, HasMany, HasOne, ManyToMany, Model, Relationship};

fn held_handles<R: Relationship>(rel: &R, session: &Session) -> Vec<Handle<R::Target>> {
    rel.slot()
        .held()
        .map(|id| Handle::new(session.id(), id))
        .collect()
}

macro_rules! collection_handles {
    ($name:ident) => {
        impl<T: Model> $name<T> {
            /// The handles of the members held by a session, in order (new objects excluded).
            pub fn handles(&self, session: &Session) -> Vec<Handle<T>> {
                held_handles(self, session)
            }
        }
    };
}
collection_handles!(HasMany);
collection_handles!(ManyToMany);

macro_rules! reference_handle {
    ($name:ident) => {
        impl<T: Model> $name<T> {
            /// The handle of the referenced object, if it is held by the session and loaded.
            pub fn handle(&self, session: &Session) -> Option<Handle<T>> {
                held_handles(self, session).into_iter().next()
            }
        }
    };
}
reference_handle!(BelongsTo);
reference_handle!(HasOne);
