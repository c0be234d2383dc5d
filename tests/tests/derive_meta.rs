//! The metadata and accessors `#[derive(Model)]` generates, checked as plain values.

use orm_core::meta::{Cascade, OnDelete, PassiveDeletes, RelKind};
use orm_core::prelude::*;
use orm_core::{SqlType, Value, ValueError};

#[derive(Model, Debug)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(unique, index, name = "full_name")]
    pub name: String,
    pub nickname: Option<String>,
    #[relationship(back_populates = "user", cascade = "all, delete-orphan")]
    pub addresses: HasMany<Address>,
}

#[derive(Model, Debug)]
#[model(table = "addresses")]
pub struct Address {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub email_address: String,
    #[column(foreign_key = "users.id", on_delete = "cascade")]
    pub user_id: Option<i64>,
    #[relationship(back_populates = "addresses")]
    pub user: BelongsTo<User>,
}

/// No `#[model(table)]`: the table is the struct name in snake_case.
#[derive(Model, Debug)]
pub struct OrderLine {
    #[column(primary_key)]
    pub order_id: i64,
    #[column(primary_key)]
    pub line: i32,
    pub price: f64,
    pub paid: bool,
    pub payload: Vec<u8>,
    pub r#type: String,
}

#[test]
fn table_and_column_metadata() {
    let meta = User::META;
    assert_eq!((meta.name, meta.table), ("User", "users"));
    let names: Vec<_> = meta.columns.iter().map(|c| (c.field, c.name)).collect();
    assert_eq!(
        names,
        [
            ("id", "id"),
            ("name", "full_name"),
            ("nickname", "nickname")
        ]
    );
    assert_eq!(meta.primary_key, &[0]);

    let id = &meta.columns[0];
    assert!(id.primary_key && id.generated && !id.nullable);
    assert_eq!(id.sql_type, SqlType::Integer);

    let name = &meta.columns[1];
    assert!(name.unique && name.indexed && !name.nullable && !name.generated);
    assert_eq!(name.sql_type, SqlType::Text);

    let nickname = &meta.columns[2];
    assert!(nickname.nullable && !nickname.unique && !nickname.indexed);
}

#[test]
fn default_table_name_composite_key_and_types() {
    let meta = OrderLine::META;
    assert_eq!(meta.table, "order_line");
    assert_eq!(meta.primary_key, &[0, 1]);
    assert!(
        meta.columns.iter().all(|c| !c.generated),
        "composite keys are never generated"
    );
    let types: Vec<_> = meta.columns.iter().map(|c| c.sql_type).collect();
    use SqlType::*;
    assert_eq!(types, [Integer, Integer, Real, Boolean, Blob, Text]);
    assert_eq!(
        meta.columns[5].name, "type",
        "raw identifiers lose their r#"
    );
    assert_eq!(OrderLine::TYPE.index(), 5);
}

#[test]
fn foreign_keys_are_indexed_and_keep_on_delete() {
    let meta = Address::META;
    assert_eq!(meta.foreign_keys.len(), 1);
    let fk = &meta.foreign_keys[0];
    assert_eq!(fk.column, 2);
    assert_eq!((fk.target_table, fk.target_column), ("users", "id"));
    assert_eq!(fk.on_delete, OnDelete::Cascade);
    assert!(meta.columns[2].indexed);
    assert!(meta.columns[2].nullable);
    assert_eq!(
        meta.foreign_key_on(2).map(|fk| fk.target_table),
        Some("users")
    );
}

#[test]
fn relationship_metadata() {
    let rel = &User::META.relationships[0];
    assert_eq!(rel.field, "addresses");
    assert_eq!(rel.kind, RelKind::HasMany);
    assert_eq!((rel.target)().name, "Address");
    assert_eq!(rel.cascade, Cascade::ALL.union(Cascade::DELETE_ORPHAN));
    assert_eq!(rel.back_populates, Some("user"));
    assert_eq!(rel.passive_deletes, PassiveDeletes::Off);
    assert!(!rel.single_parent);
    assert!(rel.foreign_key.is_none() && rel.through.is_none());

    let back = &Address::META.relationships[0];
    assert_eq!(back.kind, RelKind::BelongsTo);
    assert_eq!((back.target)().table, "users");
    assert_eq!(back.cascade, Cascade::DEFAULT);
    assert_eq!(back.back_populates, Some("addresses"));
}

#[test]
fn typed_descriptors() {
    assert_eq!(User::ID.index(), 0);
    assert_eq!(User::NAME.index(), 1);
    assert_eq!(User::NICKNAME.index(), 2);
    assert_eq!(User::ADDRESSES.index(), 0);
    assert_eq!(Address::USER_ID.index(), 2);
    assert_eq!(Address::USER.index(), 0);
    assert_eq!(format!("{:?}", User::NAME), "User.name");
    assert_eq!(format!("{:?}", User::ADDRESSES), "User::addresses");
}

#[test]
fn column_values_round_trip() {
    let user = User {
        id: Some(7),
        name: "ann".into(),
        nickname: None,
        addresses: HasMany::new(),
    };
    let values: Vec<Value> = (0..3).map(|i| user.column_value(i)).collect();
    assert_eq!(values, [Value::Integer(7), Value::from("ann"), Value::Null]);

    let mut back = User::from_values(values).expect("values read back");
    assert_eq!(
        (back.id, back.name.as_str(), back.nickname.as_deref()),
        (Some(7), "ann", None)
    );
    assert!(!back.addresses.is_loaded());

    back.set_column_value(2, Value::from("annie"))
        .expect("text fits a String");
    assert_eq!(back.nickname.as_deref(), Some("annie"));
    back.set_column_value(0, Value::Null)
        .expect("a key not yet assigned");
    assert_eq!(back.id, None);
}

#[test]
fn bad_values_are_errors() {
    let mut user =
        User::from_values(vec![Value::Null, Value::from("x"), Value::Null]).expect("valid row");
    let err: ValueError = user
        .set_column_value(1, Value::Integer(3))
        .expect_err("not text");
    assert_eq!(err.expected, "String");
    assert!(
        User::from_values(vec![Value::Null]).is_err(),
        "wrong number of values"
    );
    assert!(User::from_values(vec![Value::Null, Value::Null, Value::Null]).is_err());
}

#[test]
fn relation_slots_follow_field_order() {
    let mut address = Address {
        id: None,
        email_address: "a@b.c".into(),
        user_id: None,
        user: BelongsTo::new(),
    };
    assert_eq!(format!("{:?}", address.relation(0)), "<not loaded>");
    let _ = address.relation_mut(0);
}

/// One relationship per cascade token, in the order of `Cascade::TOKENS`, then `all` and `none`.
#[derive(Model, Debug)]
#[model(table = "hubs")]
pub struct Hub {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[relationship(cascade = "save-update")]
    pub save_update: HasMany<Spoke>,
    #[relationship(cascade = "merge")]
    pub merge: HasMany<Spoke>,
    #[relationship(cascade = "refresh-expire")]
    pub refresh_expire: HasMany<Spoke>,
    #[relationship(cascade = "expunge")]
    pub expunge: HasMany<Spoke>,
    #[relationship(cascade = "delete")]
    pub delete: HasMany<Spoke>,
    #[relationship(cascade = "delete-orphan")]
    pub delete_orphan: HasMany<Spoke>,
    #[relationship(cascade = "all")]
    pub all: HasMany<Spoke>,
    #[relationship(cascade = "none")]
    pub none: HasMany<Spoke>,
}

#[derive(Model, Debug)]
#[model(table = "spokes")]
pub struct Spoke {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "hubs.id")]
    pub hub_id: Option<i64>,
}

// The derive (orm-derive/src/symbol.rs) and the runtime (`Cascade::TOKENS`) each spell the
// tokens once, on their side of the proc-macro boundary: each token must mean the same on both.
#[test]
fn cascade_tokens_agree_with_the_derive() {
    let rels = Hub::META.relationships;
    assert_eq!(
        rels.len(),
        Cascade::TOKENS.len() + 2,
        "a field of `Hub` per runtime token, plus `all` and `none`"
    );
    for ((token, flag), rel) in Cascade::TOKENS.iter().zip(rels) {
        assert_eq!(rel.field.replace('_', "-"), *token, "fields follow TOKENS");
        assert_eq!(rel.cascade, *flag, "`cascade = \"{token}\"`");
    }
    let every_single = Cascade::TOKENS
        .iter()
        .fold(Cascade::NONE, |set, (_, flag)| set.union(*flag));
    assert_eq!(rels[6].cascade, Cascade::ALL);
    assert_eq!(Cascade::ALL.union(Cascade::DELETE_ORPHAN), every_single);
    assert!(!Cascade::ALL.contains(Cascade::DELETE_ORPHAN));
    assert_eq!(rels[7].cascade, Cascade::NONE);
}

/// Stands in for a crate that re-exports the ORM (`pub use orm_core as my_orm;`).
mod reexport {
    pub use orm_core as my_orm;
}

/// Generated code reaches the runtime through `#[model(crate = "...")]`; that no path bypasses
/// it is checked on the expansion, in orm-derive's `expand` tests.
#[derive(Model, Debug)]
#[model(table = "shelves", crate = "crate::reexport::my_orm")]
pub struct Shelf {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(on_delete = "set null", foreign_key = "shelves.id")]
    pub parent_id: Option<i64>,
    #[relationship(back_populates = "parent", cascade = "all, delete-orphan")]
    pub children: HasMany<Shelf>,
    #[relationship(back_populates = "children")]
    pub parent: BelongsTo<Shelf>,
}

#[test]
fn crate_attribute_reaches_a_reexported_runtime() {
    let meta = Shelf::META;
    assert_eq!((meta.name, meta.table), ("Shelf", "shelves"));
    assert_eq!(meta.foreign_keys[0].on_delete, OnDelete::SetNull);
    let rels = meta.relationships;
    assert_eq!(
        (rels[0].kind, rels[1].kind),
        (RelKind::HasMany, RelKind::BelongsTo)
    );
    assert_eq!(rels[0].cascade, Cascade::ALL.union(Cascade::DELETE_ORPHAN));
    assert_eq!(Shelf::PARENT_ID.index(), 1);
    assert_eq!(Shelf::CHILDREN.index(), 0);
    let shelf = Shelf::from_values(vec![Value::Integer(1), Value::Null]).expect("a row");
    assert_eq!(shelf.column_value(0), Value::Integer(1));
}
