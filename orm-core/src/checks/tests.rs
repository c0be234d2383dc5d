//! The cross-model rules' verdicts and messages, evaluated without the derive.

use super::*;
use crate::meta::{Cascade, ColumnMeta, ForeignKeyMeta, OnDelete, PassiveDeletes};
use crate::value::SqlType;

const fn column(name: &'static str) -> ColumnMeta {
    ColumnMeta::new(name, name, SqlType::Integer)
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
const GROUPS: ModelMeta = model("groups", &[]);
const ASSOC: ModelMeta = model("links", &[fk(1, "users"), fk(2, "groups")]);

fn query<'a>(kind: RelKind, this: &'a ModelMeta, target: &'a ModelMeta) -> LinkQuery<'a> {
    LinkQuery {
        this,
        field: "rel",
        kind,
        target,
        through: None,
        chosen: None,
    }
}

fn link(kind: RelKind, this: &ModelMeta, target: &ModelMeta, chosen: Option<&str>) -> Link {
    LinkQuery {
        chosen,
        ..query(kind, this, target)
    }
    .verdict()
}

fn m2m<'a>(
    target: &'a ModelMeta,
    through: &'a ModelMeta,
    chosen: Option<&'a str>,
) -> LinkQuery<'a> {
    LinkQuery {
        through: Some(through),
        chosen,
        ..query(RelKind::ManyToMany, &USERS, target)
    }
}

#[test]
fn str_eq_compares_bytes() {
    assert!(str_eq("users", "users"));
    assert!(!str_eq("users", "user"));
    assert!(!str_eq("abc", "abd"));
}

#[test]
fn one_to_many_links_through_the_target_fk() {
    assert_eq!(link(RelKind::HasMany, &USERS, &ONE, None), Link::Ok);
    assert_eq!(
        link(RelKind::HasMany, &USERS, &USERS, None),
        Link::NoForeignKey
    );
    assert_eq!(link(RelKind::BelongsTo, &ONE, &USERS, None), Link::Ok);
    let resolved = query(RelKind::BelongsTo, &ONE, &USERS).resolve();
    assert!(matches!(resolved, Ok(LinkKeys::OnThis(fk)) if fk.column == 1));
}

#[test]
fn two_fks_need_a_choice() {
    assert_eq!(link(RelKind::HasMany, &USERS, &TWO, None), Link::Ambiguous);
    assert_eq!(link(RelKind::HasMany, &USERS, &TWO, Some("b_id")), Link::Ok);
    assert_eq!(
        link(RelKind::HasMany, &USERS, &TWO, Some("id")),
        Link::ChosenNotFound
    );
    let chosen = LinkQuery {
        chosen: Some("b_id"),
        ..query(RelKind::HasMany, &USERS, &TWO)
    };
    assert!(matches!(chosen.resolve(), Ok(LinkKeys::OnTarget(fk)) if fk.column == 2));
}

#[test]
fn many_to_many_needs_both_sides_on_the_association() {
    assert_eq!(m2m(&GROUPS, &ASSOC, None).verdict(), Link::Ok);
    assert_eq!(
        m2m(&GROUPS, &ONE, None).verdict(),
        Link::ThroughMissingRemote
    );
    assert_eq!(
        m2m(&GROUPS, &GROUPS, None).verdict(),
        Link::ThroughMissingLocal
    );
    assert_eq!(
        query(RelKind::ManyToMany, &USERS, &GROUPS).verdict(),
        Link::NoThrough
    );
}

#[test]
fn self_referential_many_to_many_chooses_this_side() {
    // Both columns of TWO reference `users`: the chosen one is this side, the other the far one.
    assert_eq!(m2m(&USERS, &TWO, None).verdict(), Link::Ambiguous);
    let resolved = m2m(&USERS, &TWO, Some("a_id")).resolve();
    assert!(matches!(
        resolved,
        Ok(LinkKeys::Through { local, remote, .. }) if local.column == 1 && remote.column == 2
    ));
    let resolved = m2m(&USERS, &TWO, Some("b_id")).resolve();
    assert!(matches!(
        resolved,
        Ok(LinkKeys::Through { local, remote, .. }) if local.column == 2 && remote.column == 1
    ));
}

#[test]
fn link_messages_name_both_models_and_the_fix() {
    let message = |verdict: Link, query: &LinkQuery| verdict.message(query).to_string();
    let has_many = query(RelKind::HasMany, &USERS, &ONE);
    assert_eq!(message(Link::Ok, &has_many), "");
    assert_eq!(
        message(Link::NoForeignKey, &has_many),
        "no foreign key links `users::rel` to `children`: a HasMany field needs a column of \
         `children` declared `#[column(foreign_key = \"users.id\")]`"
    );
    let chosen = LinkQuery {
        chosen: Some("x_id"),
        ..has_many
    };
    assert_eq!(
        message(Link::ChosenNotFound, &chosen),
        "`foreign_key = \"x_id\"` on `users::rel`: no column of that name in `children` is a \
         foreign key to `users`, the table of `users`; name one that is"
    );
    let self_ref = m2m(&USERS, &TWO, Some("a_id"));
    assert!(message(Link::ThroughMissingRemote, &self_ref).contains("has no second foreign key"));
}

#[test]
fn every_message_renders_the_same_in_bytes_and_text() {
    let links = [
        Link::NoForeignKey,
        Link::Ambiguous,
        Link::ChosenNotFound,
        Link::NoThrough,
        Link::ThroughMissingLocal,
        Link::ThroughMissingRemote,
        Link::ThroughAmbiguousRemote,
    ];
    let link_query = m2m(&USERS, &TWO, Some("a_id"));
    let pair_query = PairQuery {
        this: &USERS,
        field: "rel",
        kind: RelKind::BelongsTo,
        target: &ONE,
        target_targets: &[],
        partner: "partner",
    };
    let pairs = [
        BackPopulates::NoSuchField,
        BackPopulates::NotARelationship,
        BackPopulates::KindMismatch,
        BackPopulates::WrongTarget,
        BackPopulates::Asymmetric,
    ];
    let messages = links
        .iter()
        .map(|l| l.message(&link_query))
        .chain(pairs.iter().map(|p| p.message(&pair_query)));
    for message in messages {
        let text = message.to_string();
        assert!(!text.is_empty() && text.len() == message.byte_len());
        assert!(
            !text.contains(['{', '}']),
            "every placeholder is known: {text}"
        );
        assert_eq!(message_str(&message.bytes::<512>()[..text.len()]), text);
    }
    assert_eq!(Link::Ok.message(&link_query).byte_len(), 0);
}

#[test]
fn back_populates_verdicts_and_messages() {
    fn target() -> &'static ModelMeta {
        &USERS
    }
    const REL: RelationshipMeta = RelationshipMeta {
        field: "owner",
        kind: RelKind::BelongsTo,
        target,
        cascade: Cascade::DEFAULT,
        back_populates: Some("children"),
        passive_deletes: PassiveDeletes::Off,
        single_parent: false,
        foreign_key: None,
        through: None,
    };
    const CHILD: ModelMeta = ModelMeta {
        relationships: &[REL],
        ..model("children", &[fk(1, "users")])
    };
    let pair = |field, kind, partner| PairQuery {
        this: &USERS,
        field,
        kind,
        target: &CHILD,
        target_targets: &[&USERS],
        partner,
    };
    let query = pair("children", RelKind::HasMany, "owner");
    assert_eq!(query.verdict(), BackPopulates::Ok);
    assert_eq!(
        pair("children", RelKind::HasMany, "a_id").verdict(),
        BackPopulates::NotARelationship
    );
    assert_eq!(
        pair("children", RelKind::HasMany, "nope").verdict(),
        BackPopulates::NoSuchField
    );
    assert_eq!(
        pair("others", RelKind::HasMany, "owner").verdict(),
        BackPopulates::Asymmetric
    );
    let mismatch = pair("children", RelKind::BelongsTo, "owner");
    assert_eq!(mismatch.verdict(), BackPopulates::KindMismatch);
    assert_eq!(
        BackPopulates::KindMismatch.message(&mismatch).to_string(),
        "`back_populates = \"owner\"` on `users::children`: `children::owner` cannot pair \
         with a BelongsTo field; the other side of a BelongsTo must be `HasMany<users>` or \
         `HasOne<users>`"
    );
}
