//! Compile-time (const) checks called by the code `#[derive(Model)]` generates.
//!
//! The derive sees one struct at a time; rules that involve two models (a `back_populates`
//! partner, the foreign key that links two tables) are evaluated by the compiler in
//! `const _: () = ...` items that read both models' [`ModelMeta`]. The functions here only
//! compute a verdict; the generated code turns a bad verdict into a `panic!` spanned at the
//! user's attribute, so the compile error points at the attribute and names both models.
//!
//! Const cycles: a model's `META` never reads another model's `META` (targets are function
//! pointers). These checks live in separate items, which may read any number of `META`s.

use crate::meta::{ModelMeta, RelKind};
use crate::model::Model;

/// The metadata of each relationship's target, in relationship order. Implemented by the
/// derive; read only by the const checks (a `fn` pointer in `RelationshipMeta` cannot be
/// called in a const, but this array can be read).
pub trait RelationTargets: Model {
    /// `<Target as Model>::META` of each relationship field, in field order.
    const RELATION_TARGETS: &'static [&'static ModelMeta];
}

/// Reached only if generated code is inconsistent with its own metadata.
#[track_caller]
pub fn no_such_column(model: &str, index: usize) -> ! {
    unreachable!("model `{model}` has no column #{index}")
}

/// The verdict on a `back_populates = "field"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackPopulates {
    /// The partner exists, is a relationship of a pairing kind, points back and agrees.
    Ok,
    /// The target has no field of that name.
    NoSuchField,
    /// The field exists on the target but is a column, not a relationship.
    NotARelationship,
    /// The partner's kind does not pair with this one (see [`RelKind::pairs_with`]).
    KindMismatch,
    /// The partner is a relationship to a third model.
    WrongTarget,
    /// The partner declares `back_populates` naming another field of this model.
    Asymmetric,
}

/// One side of a `back_populates` pair: the relationship `field` of model `this` (of `kind`)
/// names `partner` on `target`. `target_targets` is `<Target as RelationTargets>::RELATION_TARGETS`.
pub const fn back_populates(
    this: &ModelMeta,
    field: &str,
    kind: RelKind,
    target: &ModelMeta,
    target_targets: &[&ModelMeta],
    partner: &str,
) -> BackPopulates {
    let mut i = 0;
    while i < target.relationships.len() {
        let other = &target.relationships[i];
        if str_eq(other.field, partner) {
            return partner_verdict(this, field, kind, other, target_targets, i);
        }
        i += 1;
    }
    let mut c = 0;
    while c < target.columns.len() {
        if str_eq(target.columns[c].field, partner) {
            return BackPopulates::NotARelationship;
        }
        c += 1;
    }
    BackPopulates::NoSuchField
}

const fn partner_verdict(
    this: &ModelMeta,
    field: &str,
    kind: RelKind,
    other: &crate::meta::RelationshipMeta,
    target_targets: &[&ModelMeta],
    index: usize,
) -> BackPopulates {
    if !kind.pairs_with(other.kind) {
        return BackPopulates::KindMismatch;
    }
    if index < target_targets.len() && !str_eq(target_targets[index].table, this.table) {
        return BackPopulates::WrongTarget;
    }
    match other.back_populates {
        Some(back) if !str_eq(back, field) => BackPopulates::Asymmetric,
        _ => BackPopulates::Ok,
    }
}

/// The verdict on the foreign key that links a relationship's two models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Exactly one foreign key links them (or the chosen one does).
    Ok,
    /// No foreign key links them.
    NoForeignKey,
    /// Several do, and `foreign_key = "..."` does not choose one.
    Ambiguous,
    /// The chosen `foreign_key` is not a foreign-key column linking them.
    ChosenNotFound,
    /// The association model has no foreign key to this model's table.
    ThroughMissingLocal,
    /// The association model has no (other) foreign key to the target's table.
    ThroughMissingRemote,
    /// The association model has several foreign keys to the target's table.
    ThroughAmbiguousRemote,
}

/// Finds the foreign key that links a relationship of `kind` from `this` to `target`:
/// HasMany/HasOne: on the target, to this table; BelongsTo: on this model, to the target's
/// table; ManyToMany: on `through`, one to each table. `chosen` names the FK column (for a
/// ManyToMany, the association column that references this model).
pub const fn link(
    kind: RelKind,
    this: &ModelMeta,
    target: &ModelMeta,
    through: Option<&ModelMeta>,
    chosen: Option<&str>,
) -> Link {
    match kind {
        RelKind::HasMany | RelKind::HasOne => verdict(find_fk(target, this.table, chosen, None)),
        RelKind::BelongsTo => verdict(find_fk(this, target.table, chosen, None)),
        RelKind::ManyToMany => match through {
            Some(through) => link_through(this, target, through, chosen),
            None => Link::ThroughMissingLocal,
        },
    }
}

const fn verdict(found: Result<usize, Link>) -> Link {
    match found {
        Ok(_) => Link::Ok,
        Err(link) => link,
    }
}

const fn link_through(
    this: &ModelMeta,
    target: &ModelMeta,
    through: &ModelMeta,
    chosen: Option<&str>,
) -> Link {
    let local = match find_fk(through, this.table, chosen, None) {
        Ok(column) => column,
        Err(Link::NoForeignKey) => return Link::ThroughMissingLocal,
        Err(other) => return other,
    };
    match find_fk(through, target.table, None, Some(local)) {
        Ok(_) => Link::Ok,
        Err(Link::NoForeignKey) => Link::ThroughMissingRemote,
        Err(_) => Link::ThroughAmbiguousRemote,
    }
}

/// The column of `holder` whose foreign key references `table`: the chosen one, else the only
/// one. `skip` excludes a column already used for the other side of a many-to-many.
const fn find_fk(
    holder: &ModelMeta,
    table: &str,
    chosen: Option<&str>,
    skip: Option<usize>,
) -> Result<usize, Link> {
    let mut found = None;
    let mut count = 0;
    let mut i = 0;
    while i < holder.foreign_keys.len() {
        let fk = &holder.foreign_keys[i];
        i += 1;
        let skipped = matches!(skip, Some(column) if column == fk.column);
        if skipped || !str_eq(fk.target_table, table) {
            continue;
        }
        if let Some(name) = chosen {
            if str_eq(holder.columns[fk.column].name, name) {
                return Ok(fk.column);
            }
        }
        count += 1;
        found = Some(fk.column);
    }
    match (chosen, count, found) {
        (Some(_), _, _) => Err(Link::ChosenNotFound),
        (None, 1, Some(column)) => Ok(column),
        (None, 0, _) => Err(Link::NoForeignKey),
        _ => Err(Link::Ambiguous),
    }
}

/// String equality usable in const context.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{ColumnMeta, ForeignKeyMeta, OnDelete};
    use crate::value::SqlType;

    const fn column(name: &'static str) -> ColumnMeta {
        ColumnMeta {
            field: name,
            name,
            sql_type: SqlType::Integer,
            nullable: false,
            primary_key: false,
            generated: false,
            unique: false,
            indexed: false,
        }
    }

    const fn fk(column: usize, target_table: &'static str) -> ForeignKeyMeta {
        ForeignKeyMeta {
            column,
            target_table,
            target_column: "id",
            on_delete: OnDelete::NoAction,
        }
    }

    const fn model(table: &'static str, fks: &'static [ForeignKeyMeta]) -> ModelMeta {
        const COLUMNS: &[ColumnMeta] = &[column("id"), column("a_id"), column("b_id")];
        ModelMeta {
            name: table,
            table,
            columns: COLUMNS,
            primary_key: &[0],
            foreign_keys: fks,
            relationships: &[],
        }
    }

    const USERS: ModelMeta = model("users", &[]);
    const ONE: ModelMeta = model("children", &[fk(1, "users")]);
    const TWO: ModelMeta = model("children", &[fk(1, "users"), fk(2, "users")]);

    #[test]
    fn str_eq_compares_bytes() {
        assert!(str_eq("users", "users"));
        assert!(!str_eq("users", "user"));
        assert!(!str_eq("abc", "abd"));
    }

    #[test]
    fn one_to_many_links_through_the_target_fk() {
        assert_eq!(link(RelKind::HasMany, &USERS, &ONE, None, None), Link::Ok);
        assert_eq!(
            link(RelKind::HasMany, &USERS, &USERS, None, None),
            Link::NoForeignKey
        );
        assert_eq!(link(RelKind::BelongsTo, &ONE, &USERS, None, None), Link::Ok);
    }

    #[test]
    fn two_fks_need_a_choice() {
        assert_eq!(
            link(RelKind::HasMany, &USERS, &TWO, None, None),
            Link::Ambiguous
        );
        assert_eq!(
            link(RelKind::HasMany, &USERS, &TWO, None, Some("b_id")),
            Link::Ok
        );
        assert_eq!(
            link(RelKind::HasMany, &USERS, &TWO, None, Some("id")),
            Link::ChosenNotFound
        );
    }

    #[test]
    fn many_to_many_needs_both_sides_on_the_association() {
        const ASSOC: ModelMeta = model("links", &[fk(1, "users"), fk(2, "groups")]);
        const GROUPS: ModelMeta = model("groups", &[]);
        let m2m = |through| link(RelKind::ManyToMany, &USERS, &GROUPS, Some(through), None);
        assert_eq!(m2m(&ASSOC), Link::Ok);
        assert_eq!(m2m(&ONE), Link::ThroughMissingRemote);
        assert_eq!(m2m(&GROUPS), Link::ThroughMissingLocal);
        // Self-referential: the chosen column is this side, the other one the far side.
        let self_ref = |chosen| link(RelKind::ManyToMany, &USERS, &USERS, Some(&TWO), chosen);
        assert_eq!(self_ref(None), Link::Ambiguous);
        assert_eq!(self_ref(Some("a_id")), Link::Ok);
    }
}
