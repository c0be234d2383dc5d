//! Stage 2b: rules that relate several fields or keys of one model. One small function per rule,
//! each with the reason for it. Rules that need another model's metadata are emitted as const
//! assertions instead (see `expand::checks`).

use crate::ast::{Model, RelKind, Relation};
use crate::attr::{OnDelete, PassiveDeletes};
use crate::cascade::Cascade;
use crate::ctxt::Ctxt;
use std::collections::HashSet;
use syn::ext::IdentExt;

/// Runs every rule, recording each violation.
pub fn check(cx: &Ctxt, model: &Model) {
    primary_key_present(cx, model);
    column_names_unique(cx, model);
    on_delete_needs_foreign_key(cx, model);
    set_null_not_on_primary_key(cx, model);
    default_not_on_primary_key(cx, model);
    for relation in &model.relations {
        delete_orphan_needs_single_parent(cx, relation);
        no_delete_cascade_towards_the_parent(cx, model, relation);
        passive_all_excludes_delete(cx, relation);
        through_matches_many_to_many(cx, relation);
    }
}

/// Every row must be identifiable for the identity map and for UPDATE/DELETE.
fn primary_key_present(cx: &Ctxt, model: &Model) {
    if !model.columns.iter().any(|c| c.attrs.primary_key) {
        let name = model.ident;
        let message = format!(
            "model `{name}` has no primary key: mark its key column with \
             `#[column(primary_key)]`, e.g. `#[column(primary_key)] pub id: Option<i64>`"
        );
        cx.error(name.span(), message);
    }
}

/// Two fields mapped to one SQL column would overwrite each other.
fn column_names_unique(cx: &Ctxt, model: &Model) {
    let mut seen = HashSet::new();
    for column in &model.columns {
        if !seen.insert(column.name.as_str()) {
            let span = column
                .attrs
                .name
                .as_ref()
                .map_or(column.ident.span(), |n| n.span);
            let message = format!(
                "duplicate column name `{}`: give this field another name with \
                 `#[column(name = \"...\")]`",
                column.name
            );
            cx.error(span, message);
        }
    }
}

/// `on_delete` is a property of a foreign key; alone it would be silently meaningless.
fn on_delete_needs_foreign_key(cx: &Ctxt, model: &Model) {
    for column in &model.columns {
        if let (Some(on_delete), None) = (&column.attrs.on_delete, &column.attrs.foreign_key) {
            let message = "`on_delete` needs a foreign key on the same column: add \
                           `foreign_key = \"table.column\"`";
            cx.error(on_delete.span, message);
        }
    }
}

/// A primary-key column can never be NULL, so the database could not apply `SET NULL`.
fn set_null_not_on_primary_key(cx: &Ctxt, model: &Model) {
    for column in model.columns.iter().filter(|c| c.attrs.primary_key) {
        if let Some(on_delete) = column.attrs.on_delete.as_ref() {
            if on_delete.value == OnDelete::SetNull {
                let message = "`on_delete = \"set null\"` on a primary-key column cannot work: \
                               write `on_delete = \"cascade\"`";
                cx.error(on_delete.span, message);
            }
        }
    }
}

/// A primary key is given by the program or generated; a database default would make two rows
/// share it.
fn default_not_on_primary_key(cx: &Ctxt, model: &Model) {
    for column in model.columns.iter().filter(|c| c.attrs.primary_key) {
        if let Some(default) = column.attrs.default.as_ref() {
            let message = "`default` on a primary-key column: set the key yourself, or declare \
                           it `Option<i64>` (alone) for a key the database generates";
            cx.error(default.span, message);
        }
    }
}

/// An object can only be an orphan of a relationship that owns it alone: on a many-to-one or a
/// many-to-many the related object may be shared, so SQLAlchemy requires `single_parent`.
fn delete_orphan_needs_single_parent(cx: &Ctxt, relation: &Relation) {
    let Some(cascade) = &relation.attrs.cascade else {
        return;
    };
    let shared = matches!(relation.kind, RelKind::BelongsTo | RelKind::ManyToMany);
    if shared && cascade.value.contains(Cascade::DELETE_ORPHAN) && !relation.attrs.single_parent {
        let kind = relation.kind.type_name();
        let message = format!(
            "`delete-orphan` on a {kind} field needs `single_parent = true`: the related object \
             may have several parents; add `single_parent = true`, or put \
             `cascade = \"all, delete-orphan\"` on the other side's HasMany field instead"
        );
        cx.error(cascade.span, message);
    }
}

/// D1: a delete cascade on a many-to-one deletes the shared parent of every sibling; it is
/// almost always declared on the wrong side.
fn no_delete_cascade_towards_the_parent(cx: &Ctxt, model: &Model, relation: &Relation) {
    let Some(cascade) = &relation.attrs.cascade else {
        return;
    };
    let deletes = cascade.value.contains(Cascade::DELETE);
    if relation.kind == RelKind::BelongsTo && deletes && !relation.attrs.single_parent {
        let target = crate::ast::type_string(relation.target);
        let message = format!(
            "`delete` cascade on the BelongsTo field `{field}`: deleting one `{child}` would \
             delete the `{target}` it belongs to, which other `{child}` rows may share; \
             put `cascade = \"all, delete-orphan\"` on the parent's HasMany field instead \
             (or add `single_parent = true` if this is really one-to-one)",
            field = relation.ident.unraw(),
            child = model.ident,
        );
        cx.error(cascade.span, message);
    }
}

/// `passive_deletes = "all"` means the ORM never touches the children, which contradicts an ORM
/// delete cascade.
fn passive_all_excludes_delete(cx: &Ctxt, relation: &Relation) {
    let Some(passive) = &relation.attrs.passive_deletes else {
        return;
    };
    let Some(cascade) = &relation.attrs.cascade else {
        return;
    };
    let deleting = Cascade::DELETE.union(Cascade::DELETE_ORPHAN);
    if passive.value == PassiveDeletes::All && cascade.value.intersects(deleting) {
        let message = "`passive_deletes = \"all\"` tells the ORM never to delete the children, \
                       but the cascade deletes them: remove `delete`/`delete-orphan` from the \
                       cascade, or write `passive_deletes = true`";
        cx.error(passive.span, message);
    }
}

/// A many-to-many is stored in an association model, which must be named; other kinds have none.
fn through_matches_many_to_many(cx: &Ctxt, relation: &Relation) {
    match (&relation.attrs.through, relation.kind) {
        (None, RelKind::ManyToMany) => {
            let message = format!(
                "a ManyToMany field needs its association model: add \
                 `#[relationship(through = AssocModel)]` naming a model with foreign keys to \
                 both tables (field `{}`)",
                relation.ident.unraw()
            );
            cx.error_spanned_by(relation.ty, message);
        }
        (Some(through), kind) if kind != RelKind::ManyToMany => {
            let message = format!(
                "`through` applies only to ManyToMany fields, not {}: remove it, or make the \
                 field `ManyToMany<T>`",
                kind.type_name()
            );
            cx.error_spanned_by(through, message);
        }
        _ => {}
    }
}
