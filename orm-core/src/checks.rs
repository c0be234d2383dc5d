//! The rules between two models, each written once: its verdict and its messages. The code
//! `#[derive(Model)]` generates evaluates them at compile time, and `schema` at run time.
//!
//! The derive sees one struct at a time; rules that involve two models (a `back_populates`
//! partner, the foreign key that links two tables) are evaluated by the compiler in
//! `const _: () = ...` items that read both models' [`ModelMeta`]. Each rule takes a query (one
//! relationship as the rule sees it: [`LinkQuery`], [`PairQuery`]) and returns a small verdict
//! enum; the verdict's `message` says what is wrong, naming both models, and what to write
//! instead. The generated code panics with that message, spanned at the user's attribute, so the
//! compile error points at the attribute; `schema` returns the same message in `Error::Config`.
//!
//! Messages are templates (`"no foreign key links `{this}::{field}` to `{target}`: ..."`) filled
//! from the query. Const code cannot allocate, and a const panic takes a single `&str`, so a
//! [`Message`] is rendered into an array of its exact length by generated code (see
//! [`Message::bytes`]) and displayed by run-time code.
//!
//! Const cycles: a model's `META` never reads another model's `META` (targets are function
//! pointers). These checks live in separate items, which may read any number of `META`s.

use crate::meta::{ForeignKeyMeta, ModelMeta, RelKind, RelationshipMeta};
use crate::model::Model;
use std::fmt;

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

/// A message: a template whose `{name}` placeholders name what a rule concerns (the models,
/// the field, the foreign-key columns to write), after an optional prefix template.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    prefix: &'static str,
    template: &'static str,
    names: Names<'a>,
}

/// The models, fields and columns a message can name.
#[derive(Debug, Clone, Copy)]
struct Names<'a> {
    this: &'a ModelMeta,
    field: &'a str,
    kind: RelKind,
    target: &'a ModelMeta,
    /// The association model of a many-to-many.
    through: Option<&'a ModelMeta>,
    /// The model whose table holds the foreign key, and the model it references.
    holder: &'a ModelMeta,
    referenced: &'a ModelMeta,
    /// What the user wrote in the attribute the rule is about (`foreign_key`, `back_populates`).
    named: &'a str,
}

/// The most pieces a placeholder stands for (`{pair}`: "`HasMany<User>` or `HasOne<User>`").
type Pieces<'a> = [&'a str; 5];

impl<'a> Names<'a> {
    /// The text of placeholder `name`, in pieces; `None` for an unknown one (a bug in a template
    /// of this file, caught by the tests that display every message).
    const fn lookup(&self, name: &[u8]) -> Option<Pieces<'a>> {
        let (this, target) = (self.this.name, self.target.name);
        let pieces = match name {
            b"this" => one(this),
            b"field" => one(self.field),
            b"kind" => one(self.kind.type_name()),
            b"target" => one(target),
            b"through" => one(match self.through {
                Some(through) => through.name,
                None => "",
            }),
            b"holder" => one(self.holder.name),
            b"referenced" => one(self.referenced.name),
            b"referenced_table" => one(self.referenced.table),
            b"named" => one(self.named),
            b"this_key" => key(self.this),
            b"target_key" => key(self.target),
            b"referenced_key" => key(self.referenced),
            // A self-referential association has one key to each side of the same table.
            b"second" => one(if str_eq(self.this.table, self.target.table) {
                "second "
            } else {
                ""
            }),
            b"fix_partner" => [
                "name the relationship field of `",
                target,
                "` that points back at `",
                this,
                "`",
            ],
            b"pair" => match self.kind {
                RelKind::HasMany | RelKind::HasOne => ["`BelongsTo<", this, ">`", "", ""],
                RelKind::BelongsTo => ["`HasMany<", this, ">` or `HasOne<", this, ">`"],
                RelKind::ManyToMany => ["`ManyToMany<", this, ">`", "", ""],
            },
            _ => return None,
        };
        Some(pieces)
    }
}

const fn one(text: &str) -> Pieces<'_> {
    [text, "", "", "", ""]
}

/// `users.id`: the table and first primary-key column of a model, for messages that ask for a
/// foreign key to it. `id` when the model has no key (it then fails to derive anyway).
const fn key(model: &ModelMeta) -> Pieces<'_> {
    let column = match model.primary_key.first() {
        Some(&index) if index < model.columns.len() => model.columns[index].name,
        _ => "id",
    };
    [model.table, ".", column, "", ""]
}

impl<'a> Message<'a> {
    const fn new(prefix: &'static str, template: &'static str, names: Names<'a>) -> Message<'a> {
        Message {
            prefix,
            template,
            names,
        }
    }

    /// The length of the message in bytes: the `N` of [`Message::bytes`].
    pub const fn byte_len(&self) -> usize {
        self.render(&mut [])
    }

    /// The message as UTF-8, for a const panic (read it with [`message_str`]). `N` must be
    /// [`Message::byte_len`].
    pub const fn bytes<const N: usize>(&self) -> [u8; N] {
        let mut out = [0; N];
        self.render(&mut out);
        out
    }

    /// Writes as much of the message as fits into `out`; returns its whole length.
    const fn render(&self, out: &mut [u8]) -> usize {
        let at = self.render_template(self.prefix, out, 0);
        self.render_template(self.template, out, at)
    }

    const fn render_template(&self, template: &str, out: &mut [u8], mut at: usize) -> usize {
        let template = template.as_bytes();
        let mut i = 0;
        while i < template.len() {
            let (_, rest) = template.split_at(i);
            let Some(end) = placeholder_end(rest) else {
                at = write(out, at, &[template[i]]);
                i += 1;
                continue;
            };
            let (name, _) = rest.split_at(end);
            let (_, name) = name.split_at(1);
            match self.names.lookup(name) {
                Some(pieces) => {
                    let mut p = 0;
                    while p < pieces.len() {
                        at = write(out, at, pieces[p].as_bytes());
                        p += 1;
                    }
                }
                None => at = write(out, at, rest.split_at(end + 1).0),
            }
            i += end + 1;
        }
        at
    }
}

/// The index of the `}` closing a placeholder that starts `text`, if it starts with one.
const fn placeholder_end(text: &[u8]) -> Option<usize> {
    if text.is_empty() || text[0] != b'{' {
        return None;
    }
    let mut i = 1;
    while i < text.len() {
        match text[i] {
            b'}' => return Some(i),
            b'a'..=b'z' | b'_' => i += 1,
            _ => return None,
        }
    }
    None
}

/// Writes `bytes` at `at` as far as `out` reaches; returns the position after them.
const fn write(out: &mut [u8], at: usize, bytes: &[u8]) -> usize {
    let mut i = 0;
    while i < bytes.len() {
        if at + i < out.len() {
            out[at + i] = bytes[i];
        }
        i += 1;
    }
    at + bytes.len()
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = vec![0; self.byte_len()];
        self.render(&mut bytes);
        f.write_str(message_str(&bytes))
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

/// The text of [`Message::bytes`]. Templates and names are UTF-8 and placeholders are ASCII, so
/// the fallback is never reached; it keeps this const fn free of a panic of its own.
pub const fn message_str(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => "(a message of orm_core::checks is not UTF-8)",
    }
}

/// One relationship, as the `back_populates` rule sees it: `field` of `this` (of `kind`) names
/// `partner` on `target`.
#[derive(Debug, Clone, Copy)]
pub struct PairQuery<'a> {
    /// The model that declares the relationship.
    pub this: &'a ModelMeta,
    /// The relationship field.
    pub field: &'a str,
    /// Its kind.
    pub kind: RelKind,
    /// The target model.
    pub target: &'a ModelMeta,
    /// The target of each of the target's relationships, in field order
    /// (`<Target as RelationTargets>::RELATION_TARGETS`).
    pub target_targets: &'a [&'a ModelMeta],
    /// The field `back_populates` names on the target.
    pub partner: &'a str,
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

impl<'a> PairQuery<'a> {
    const fn names(&self) -> Names<'a> {
        Names {
            this: self.this,
            field: self.field,
            kind: self.kind,
            target: self.target,
            through: None,
            holder: self.target,
            referenced: self.this,
            named: self.partner,
        }
    }

    /// The verdict: does the partner exist, pair with this kind, point back and agree?
    pub const fn verdict(&self) -> BackPopulates {
        let target = self.target;
        let mut i = 0;
        while i < target.relationships.len() {
            let other = &target.relationships[i];
            if str_eq(other.field, self.partner) {
                return self.partner_verdict(other, i);
            }
            i += 1;
        }
        let mut c = 0;
        while c < target.columns.len() {
            if str_eq(target.columns[c].field, self.partner) {
                return BackPopulates::NotARelationship;
            }
            c += 1;
        }
        BackPopulates::NoSuchField
    }

    const fn partner_verdict(&self, other: &RelationshipMeta, index: usize) -> BackPopulates {
        if !self.kind.pairs_with(other.kind) {
            return BackPopulates::KindMismatch;
        }
        let targets = self.target_targets;
        if index < targets.len() && !str_eq(targets[index].table, self.this.table) {
            return BackPopulates::WrongTarget;
        }
        match other.back_populates {
            Some(back) if !str_eq(back, self.field) => BackPopulates::Asymmetric,
            _ => BackPopulates::Ok,
        }
    }
}

impl BackPopulates {
    /// Whether the rule holds.
    pub const fn is_ok(self) -> bool {
        matches!(self, BackPopulates::Ok)
    }

    /// What is wrong with `query`, naming both models, and what to write instead.
    pub const fn message<'a>(self, query: &PairQuery<'a>) -> Message<'a> {
        let template = match self {
            BackPopulates::Ok => return Message::new("", "", query.names()),
            BackPopulates::NoSuchField => "`{target}` has no field `{named}`; {fix_partner}",
            BackPopulates::NotARelationship => {
                "`{target}::{named}` is a column, not a relationship; {fix_partner}"
            }
            BackPopulates::KindMismatch => {
                "`{target}::{named}` cannot pair with a {kind} field; the other side of a {kind} \
                 must be {pair}"
            }
            BackPopulates::WrongTarget => {
                "`{target}::{named}` is a relationship to another model; {fix_partner}"
            }
            BackPopulates::Asymmetric => {
                "`{target}::{named}` declares a `back_populates` that does not name `{field}`; \
                 make both sides name each other"
            }
        };
        let prefix = "`back_populates = \"{named}\"` on `{this}::{field}`: ";
        Message::new(prefix, template, query.names())
    }
}

/// One relationship, as the foreign-key link rule sees it.
#[derive(Debug, Clone, Copy)]
pub struct LinkQuery<'a> {
    /// The model that declares the relationship.
    pub this: &'a ModelMeta,
    /// The relationship field, for messages.
    pub field: &'a str,
    /// Its kind: where the foreign key is looked for.
    pub kind: RelKind,
    /// The target model.
    pub target: &'a ModelMeta,
    /// The association model of a many-to-many.
    pub through: Option<&'a ModelMeta>,
    /// `foreign_key = "column"`: the foreign-key column to use when several could link (for a
    /// many-to-many, the association column that references this model).
    pub chosen: Option<&'a str>,
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
    /// A many-to-many without an association model.
    NoThrough,
    /// The association model has no foreign key to this model's table.
    ThroughMissingLocal,
    /// The association model has no (other) foreign key to the target's table.
    ThroughMissingRemote,
    /// The association model has several foreign keys to the target's table.
    ThroughAmbiguousRemote,
}

/// The foreign keys that implement a relationship, as the link rule found them.
#[derive(Debug, Clone, Copy)]
pub enum LinkKeys<'a> {
    /// HasMany / HasOne: the target's foreign key to this model's table.
    OnTarget(&'a ForeignKeyMeta),
    /// BelongsTo: this model's foreign key to the target's table.
    OnThis(&'a ForeignKeyMeta),
    /// ManyToMany: the association model's foreign keys to this model's table (`local`) and to
    /// the target's (`remote`).
    Through {
        /// The association model.
        through: &'a ModelMeta,
        /// Its foreign key to this model's table.
        local: &'a ForeignKeyMeta,
        /// Its foreign key to the target's table.
        remote: &'a ForeignKeyMeta,
    },
}

impl<'a> LinkQuery<'a> {
    /// The foreign keys that link the two models: HasMany/HasOne, on the target to this table;
    /// BelongsTo, on this model to the target's table; ManyToMany, on `through`, one to each
    /// table. Each is the only candidate, or the one `chosen` names. `Err` is never `Link::Ok`.
    pub const fn resolve(&self) -> Result<LinkKeys<'a>, Link> {
        let (this, target, chosen) = (self.this, self.target, self.chosen);
        match self.kind {
            RelKind::HasMany | RelKind::HasOne => match find_fk(target, this.table, chosen, None) {
                Ok(fk) => Ok(LinkKeys::OnTarget(fk)),
                Err(verdict) => Err(verdict),
            },
            RelKind::BelongsTo => match find_fk(this, target.table, chosen, None) {
                Ok(fk) => Ok(LinkKeys::OnThis(fk)),
                Err(verdict) => Err(verdict),
            },
            RelKind::ManyToMany => match self.through {
                Some(through) => self.resolve_through(through),
                None => Err(Link::NoThrough),
            },
        }
    }

    // The chosen column, if any, is the one referencing this model: for a self-referential
    // many-to-many both columns reference the same table, and the remote one is the other.
    const fn resolve_through(&self, through: &'a ModelMeta) -> Result<LinkKeys<'a>, Link> {
        let local = match find_fk(through, self.this.table, self.chosen, None) {
            Ok(fk) => fk,
            Err(Link::NoForeignKey) => return Err(Link::ThroughMissingLocal),
            Err(other) => return Err(other),
        };
        match find_fk(through, self.target.table, None, Some(local.column)) {
            Ok(remote) => Ok(LinkKeys::Through {
                through,
                local,
                remote,
            }),
            Err(Link::NoForeignKey) => Err(Link::ThroughMissingRemote),
            Err(_) => Err(Link::ThroughAmbiguousRemote),
        }
    }

    /// The verdict of [`LinkQuery::resolve`].
    pub const fn verdict(&self) -> Link {
        match self.resolve() {
            Ok(_) => Link::Ok,
            Err(verdict) => verdict,
        }
    }

    /// The names for messages. The holder is the model whose table holds the foreign key (the
    /// one `chosen` names), the referenced model the one it points at.
    const fn names(&self) -> Names<'a> {
        let (holder, referenced) = match (self.kind, self.through) {
            (RelKind::BelongsTo, _) => (self.this, self.target),
            (RelKind::ManyToMany, Some(through)) => (through, self.this),
            _ => (self.target, self.this),
        };
        Names {
            this: self.this,
            field: self.field,
            kind: self.kind,
            target: self.target,
            through: self.through,
            holder,
            referenced,
            named: match self.chosen {
                Some(chosen) => chosen,
                None => "",
            },
        }
    }
}

impl Link {
    /// Whether the rule holds.
    pub const fn is_ok(self) -> bool {
        matches!(self, Link::Ok)
    }

    /// What is wrong with `query`, naming both models, and what to write instead.
    pub const fn message<'a>(self, query: &LinkQuery<'a>) -> Message<'a> {
        let template = match self {
            Link::Ok => "",
            Link::NoForeignKey => {
                "no foreign key links `{this}::{field}` to `{target}`: a {kind} field needs a \
                 column of `{holder}` declared `#[column(foreign_key = \"{referenced_key}\")]`"
            }
            Link::Ambiguous => {
                "several foreign keys of `{holder}` could link `{this}::{field}` to `{target}`: \
                 choose one with `#[relationship(foreign_key = \"column_name\")]`"
            }
            Link::ChosenNotFound => {
                "`foreign_key = \"{named}\"` on `{this}::{field}`: no column of that name in \
                 `{holder}` is a foreign key to `{referenced_table}`, the table of \
                 `{referenced}`; name one that is"
            }
            Link::NoThrough => {
                "`{this}::{field}` is a ManyToMany field without an association model: add \
                 `#[relationship(through = AssocModel)]` naming a model with foreign keys to \
                 both tables"
            }
            Link::ThroughMissingLocal => {
                "the association model `{through}` of `{this}::{field}` has no foreign key to \
                 `{this}`'s table: add a column to `{through}` declared \
                 `#[column(foreign_key = \"{this_key}\")]`"
            }
            Link::ThroughMissingRemote => {
                "the association model `{through}` of `{this}::{field}` has no {second}foreign \
                 key to `{target}`'s table: add a column to `{through}` declared \
                 `#[column(foreign_key = \"{target_key}\")]`"
            }
            Link::ThroughAmbiguousRemote => {
                "the association model `{through}` of `{this}::{field}` has several foreign keys \
                 to `{target}`'s table: keep one per side"
            }
        };
        Message::new("", template, query.names())
    }
}

/// The foreign key of `holder` that references `table`: the chosen one, else the only one.
/// `skip` excludes a column already used for the other side of a many-to-many.
const fn find_fk<'a>(
    holder: &'a ModelMeta,
    table: &str,
    chosen: Option<&str>,
    skip: Option<usize>,
) -> Result<&'a ForeignKeyMeta, Link> {
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
                return Ok(fk);
            }
        }
        count += 1;
        found = Some(fk);
    }
    match (chosen, count, found) {
        (Some(_), _, _) => Err(Link::ChosenNotFound),
        (None, 1, Some(fk)) => Ok(fk),
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
mod tests;
