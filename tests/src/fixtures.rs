//! Builders shared by the seed and cascade tests.

/// `n` new objects of a model that derives `Default` (no key, empty relationships), collected
/// into a `HasMany` or `ManyToMany`: the children of a fixture, e.g.
/// `Parent { id: None, children: new_objects(3) }`.
pub fn new_objects<T: Default, C: FromIterator<T>>(n: usize) -> C {
    (0..n).map(|_| T::default()).collect()
}
