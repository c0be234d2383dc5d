//! Resolving relationships to the foreign keys that implement them, and validating a model set
//! once, before any SQL runs, for the rules the compiler cannot see from one struct.

use crate::checks::{LinkKeys, LinkQuery, PairQuery};
use crate::error::{Error, Result};
use crate::meta::{ForeignKeyMeta, ModelMeta, RelationshipMeta};

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

/// The link through foreign key `fk` of `child` to `parent`. The referenced column must exist:
/// the compiler does not compare `foreign_key = "table.column"` with the target's columns.
fn link(
    owner: &'static ModelMeta,
    rel: &RelationshipMeta,
    child: &'static ModelMeta,
    fk: &'static ForeignKeyMeta,
    parent: &'static ModelMeta,
) -> Result<Link> {
    let parent_column = parent.column_index(fk.target_column).ok_or_else(|| {
        let message = format!(
            "the foreign key references `{}.{}`, which is not a column",
            parent.table, fk.target_column
        );
        config_error(owner, rel, message)
    })?;
    Ok(Link {
        child,
        fk_column: fk.column,
        parent,
        parent_column,
    })
}

/// Each model's relationships resolved once (a flush visits many objects of few models): found
/// by their metadata, without hashing model names for every object.
#[derive(Default)]
pub(crate) struct Resolutions(Vec<(&'static ModelMeta, Vec<Option<Resolved>>)>);

impl Resolutions {
    /// Relationship `index` of `model`, resolved; its configuration error if it has one.
    pub(crate) fn get(&mut self, model: &'static ModelMeta, index: usize) -> Result<Resolved> {
        match self.of(model)[index] {
            Some(resolved) => Ok(resolved),
            None => resolve(model, &model.relationships[index]),
        }
    }

    /// Every relationship of `model`, resolved (`None` where it is misconfigured).
    pub(crate) fn of(&mut self, model: &'static ModelMeta) -> &[Option<Resolved>] {
        let found = self.0.iter().position(|(m, _)| m.same(model));
        let index = found.unwrap_or_else(|| {
            let resolved = model
                .relationships
                .iter()
                .map(|rel| resolve(model, rel).ok())
                .collect();
            self.0.push((model, resolved));
            self.0.len() - 1
        });
        &self.0[index].1
    }
}

/// Resolves relationship `rel` declared on `owner` by the link rule of `checks`, the one the
/// derive's compile-time assertions evaluate, with the same messages.
pub(crate) fn resolve(
    owner: &'static ModelMeta,
    rel: &'static RelationshipMeta,
) -> Result<Resolved> {
    let target = (rel.target)();
    let query = LinkQuery {
        this: owner,
        field: rel.field,
        kind: rel.kind,
        target,
        through: rel.through.map(|through| through()),
        chosen: rel.foreign_key,
    };
    match query.resolve() {
        Ok(LinkKeys::OnTarget(fk)) => link(owner, rel, target, fk, owner).map(Resolved::Children),
        Ok(LinkKeys::OnThis(fk)) => link(owner, rel, owner, fk, target).map(Resolved::Parent),
        Ok(LinkKeys::Through {
            through,
            local,
            remote,
        }) => Ok(Resolved::Association {
            owner: link(owner, rel, through, local, owner)?,
            target: link(owner, rel, through, remote, target)?,
        }),
        Err(verdict) => Err(config_error(
            owner,
            rel,
            verdict.message(&query).to_string(),
        )),
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

// The compiler checks this rule too (`checks::PairQuery`, the same verdicts and messages); it is
// checked again here for metadata the derive did not build.
fn validate_partner(
    model: &'static ModelMeta,
    rel: &'static RelationshipMeta,
    partner: &'static str,
) -> Result<()> {
    let target = (rel.target)();
    let targets: Vec<&'static ModelMeta> =
        target.relationships.iter().map(|r| (r.target)()).collect();
    let query = PairQuery {
        this: model,
        field: rel.field,
        kind: rel.kind,
        target,
        target_targets: &targets,
        partner,
    };
    let verdict = query.verdict();
    if verdict.is_ok() {
        return Ok(());
    }
    Err(config_error(
        model,
        rel,
        verdict.message(&query).to_string(),
    ))
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
