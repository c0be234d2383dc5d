//! Resolving relationships to the foreign keys that implement them, and validating a model set
//! once, before any SQL runs, for the rules the compiler cannot see from one struct.

use crate::error::{Error, Result};
use crate::meta::{ModelMeta, RelKind, RelationshipMeta};

/// A foreign-key link between a referencing ("child") model and a referenced ("parent") model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link {
    /// The model whose table holds the foreign key.
    pub child: &'static ModelMeta,
    /// The foreign-key column, an index into `child.columns`.
    pub fk_column: usize,
    /// The referenced model.
    pub parent: &'static ModelMeta,
    /// The referenced column, an index into `parent.columns`.
    pub parent_column: usize,
}

impl Link {
    pub(crate) fn fk_name(&self) -> &'static str {
        self.child.columns[self.fk_column].name
    }

    /// Whether setting the foreign key to NULL is impossible (NOT NULL or part of the key).
    pub(crate) fn null_refusal(&self) -> Option<&'static str> {
        let column = &self.child.columns[self.fk_column];
        if column.primary_key {
            Some("is part of the primary key")
        } else if !column.nullable {
            Some("is NOT NULL")
        } else {
            None
        }
    }

    pub(crate) fn on_delete(&self) -> crate::meta::OnDelete {
        self.child
            .foreign_key_on(self.fk_column)
            .map(|fk| fk.on_delete)
            .unwrap_or(crate::meta::OnDelete::NoAction)
    }
}

/// How a relationship is implemented in the schema.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Resolved {
    /// HasMany / HasOne: the owner is the parent of the link.
    Children(Link),
    /// BelongsTo: the owner is the child of the link.
    Parent(Link),
    /// ManyToMany: two links from the association model, to the owner and to the target.
    Association { owner: Link, target: Link },
}

fn config_error(owner: &'static ModelMeta, rel: &RelationshipMeta, message: String) -> Error {
    Error::Config {
        model: owner.name,
        field: rel.field,
        message,
    }
}

/// Finds the single foreign key of `child` that references `parent`, honouring a chosen column.
fn find_link(
    owner: &'static ModelMeta,
    rel: &RelationshipMeta,
    child: &'static ModelMeta,
    parent: &'static ModelMeta,
    chosen: Option<&str>,
) -> Result<Link> {
    let candidates: Vec<_> = child
        .foreign_keys
        .iter()
        .filter(|fk| fk.target_table == parent.table)
        .filter(|fk| chosen.is_none_or(|name| child.columns[fk.column].name == name))
        .collect();
    let fk = match candidates.as_slice() {
        [fk] => *fk,
        [] => {
            let hint = match chosen {
                Some(name) => format!("`{}` has no foreign key column `{name}` referencing `{}`", child.name, parent.table),
                None => format!("no foreign key of `{}` references table `{}`", child.name, parent.table),
            };
            return Err(config_error(owner, rel, format!("{hint}; add `#[column(foreign_key = \"{}.<column>\")]` on the referencing field", parent.table)));
        }
        _ => {
            return Err(config_error(owner, rel, format!(
                "several foreign keys of `{}` reference `{}`; choose one with `#[relationship(foreign_key = \"<column>\")]`",
                child.name, parent.table
            )))
        }
    };
    let parent_column = parent.column_index(fk.target_column).ok_or_else(|| {
        config_error(
            owner,
            rel,
            format!(
                "the foreign key references `{}.{}`, which is not a column",
                parent.table, fk.target_column
            ),
        )
    })?;
    Ok(Link {
        child,
        fk_column: fk.column,
        parent,
        parent_column,
    })
}

/// Resolves relationship `rel` declared on `owner`.
pub(crate) fn resolve(
    owner: &'static ModelMeta,
    rel: &'static RelationshipMeta,
) -> Result<Resolved> {
    let target = (rel.target)();
    match rel.kind {
        RelKind::HasMany | RelKind::HasOne => {
            find_link(owner, rel, target, owner, rel.foreign_key).map(Resolved::Children)
        }
        RelKind::BelongsTo => {
            find_link(owner, rel, owner, target, rel.foreign_key).map(Resolved::Parent)
        }
        RelKind::ManyToMany => {
            let assoc = rel.through.map(|through| through()).ok_or_else(|| {
                config_error(
                    owner,
                    rel,
                    "a many-to-many needs `through = AssociationModel`".into(),
                )
            })?;
            let owner_link = find_link(owner, rel, assoc, owner, None)?;
            let target_link = if target.same(owner) {
                // Self-referential many-to-many: the chosen column names the target side.
                find_link(owner, rel, assoc, target, rel.foreign_key)?
            } else {
                find_link(owner, rel, assoc, target, None)?
            };
            Ok(Resolved::Association {
                owner: owner_link,
                target: target_link,
            })
        }
    }
}

/// Validates every relationship of `model`: links resolve and `back_populates` pairs.
pub(crate) fn validate(model: &'static ModelMeta) -> Result<()> {
    for rel in model.relationships {
        resolve(model, rel)?;
        if let Some(partner) = rel.back_populates {
            validate_partner(model, rel, partner)?;
        }
    }
    Ok(())
}

// The compiler sees one struct at a time; whether the named partner points back at this model is
// only known once both models exist, so it is checked here, before the first statement.
fn validate_partner(
    model: &'static ModelMeta,
    rel: &'static RelationshipMeta,
    partner: &str,
) -> Result<()> {
    let target = (rel.target)();
    let other = target
        .relationships
        .iter()
        .find(|r| r.field == partner)
        .ok_or_else(|| config_error(model, rel, format!("`back_populates = \"{partner}\"`, but `{}` has no relationship field `{partner}`", target.name)))?;
    if !(other.target)().same(model) {
        return Err(config_error(model, rel, format!(
            "`back_populates = \"{partner}\"` names `{}::{partner}`, which points at `{}`, not at `{}`",
            target.name, (other.target)().name, model.name
        )));
    }
    if !rel.kind.pairs_with(other.kind) {
        return Err(config_error(model, rel, format!(
            "`{}` cannot pair with `{}::{partner}` ({}); HasMany/HasOne pair with BelongsTo, ManyToMany with ManyToMany",
            rel.kind.type_name(), target.name, other.kind.type_name()
        )));
    }
    Ok(())
}

/// `models` and every model reachable from them through relationships, each once.
pub(crate) fn reachable(models: &[&'static ModelMeta]) -> Vec<&'static ModelMeta> {
    let mut out: Vec<&'static ModelMeta> = Vec::new();
    let mut stack: Vec<&'static ModelMeta> = models.to_vec();
    while let Some(model) = stack.pop() {
        if out.iter().any(|m| m.same(model)) {
            continue;
        }
        out.push(model);
        for rel in model.relationships {
            stack.push((rel.target)());
            if let Some(through) = rel.through {
                stack.push(through());
            }
        }
    }
    out.reverse();
    out
}

/// `models` ordered so that every referenced table comes before the tables referencing it.
/// Self-references are ignored; a cycle between tables keeps the remaining models in input order.
pub(crate) fn dependency_order(models: &[&'static ModelMeta]) -> Vec<&'static ModelMeta> {
    let mut ordered: Vec<&'static ModelMeta> = Vec::with_capacity(models.len());
    let mut remaining: Vec<&'static ModelMeta> = models.to_vec();
    while !remaining.is_empty() {
        let ready = remaining.iter().position(|m| {
            m.foreign_keys.iter().all(|fk| {
                fk.target_table == m.table
                    || ordered.iter().any(|o| o.table == fk.target_table)
                    || !remaining.iter().any(|r| r.table == fk.target_table)
            })
        });
        let next = remaining.remove(ready.unwrap_or(0));
        ordered.push(next);
    }
    ordered
}

/// The other side of a pair: the field `rel` names in `back_populates`, or else the field on the
/// target that names `rel` in its own `back_populates` (a pair may be declared on one side only).
pub(crate) fn partner_of(
    owner: &'static ModelMeta,
    rel: &'static RelationshipMeta,
) -> Option<&'static RelationshipMeta> {
    let target = (rel.target)();
    match rel.back_populates {
        Some(name) => target.relationships.iter().find(|r| r.field == name),
        None => target
            .relationships
            .iter()
            .find(|r| r.back_populates == Some(rel.field) && (r.target)().same(owner)),
    }
}

/// Whether a row of `link.child` that loses its parent through `link` is an orphan: some
/// one-to-many of the parent model over this same foreign key has `delete-orphan` (an object is
/// an orphan when it lacks a parent in any delete-orphan relationship that owns it, whichever
/// side of the pair was changed; docs/src/relationships.md, "Who is a row's parent").
pub(crate) fn orphaned_without_parent(link: Link) -> bool {
    link.parent.relationships.iter().any(|rel| {
        rel.cascade.contains(crate::meta::Cascade::DELETE_ORPHAN)
            && matches!(resolve(link.parent, rel), Ok(Resolved::Children(owned))
                if owned.child.same(link.child) && owned.fk_column == link.fk_column)
    })
}
