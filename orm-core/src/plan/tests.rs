//! The planner is a pure function: these tests build session states by hand and read the plan,
//! rendered for SQLite, without any database.

use super::planner::plan_flush;
use super::rowset;
use super::{KeySrc, Plan, Step};
use crate::arena::{Arena, Entry, ObjectState};
use crate::model::{Member, Model, ObjId};
use crate::prelude::*;
use crate::sql::{rowset as render, Dialect, SQLITE};
use crate::value::Value;

#[derive(Model, Debug)]
#[model(table = "parent")]
struct Parent {
    #[column(primary_key)]
    id: Option<i64>,
    #[relationship(back_populates = "parent", cascade = "all, delete-orphan")]
    children: HasMany<Child>,
}

#[derive(Model, Debug)]
#[model(table = "child")]
struct Child {
    #[column(primary_key)]
    id: Option<i64>,
    #[column(foreign_key = "parent.id")]
    parent_id: Option<i64>,
    #[relationship(back_populates = "children")]
    parent: BelongsTo<Parent>,
    #[relationship(cascade = "all")]
    toys: HasMany<Toy>,
}

#[derive(Model, Debug)]
#[model(table = "toy")]
struct Toy {
    #[column(primary_key)]
    id: Option<i64>,
    #[column(foreign_key = "child.id")]
    child_id: Option<i64>,
}

#[derive(Model, Debug)]
#[model(table = "node")]
struct Node {
    #[column(primary_key)]
    id: Option<i64>,
    #[column(foreign_key = "node.id")]
    parent_id: Option<i64>,
    #[relationship(cascade = "all, delete-orphan")]
    children: HasMany<Node>,
}

#[derive(Model, Debug)]
#[model(table = "folder")]
struct Folder {
    #[column(primary_key)]
    id: Option<i64>,
    #[column(foreign_key = "folder.id")]
    parent_id: Option<i64>,
    #[relationship]
    children: HasMany<Folder>,
}

fn persistent<T: Model>(arena: &mut Arena, object: T) -> ObjId {
    arena.insert(Entry {
        obj: Box::new(object),
        state: ObjectState::Persistent,
        marked_delete: false,
        snapshot: None,
        expired: false,
        added_in_tx: false,
        written_relations: None,
        before_tx: None,
    })
}

fn pending<T: Model>(arena: &mut Arena, object: T) -> ObjId {
    let id = arena.insert(Entry {
        obj: Box::new(object),
        state: ObjectState::Pending,
        marked_delete: false,
        snapshot: None,
        expired: false,
        added_in_tx: true,
        written_relations: None,
        before_tx: None,
    });
    for index in 0..T::META.relationships.len() {
        arena.entry_mut(id).obj.relation_mut(index).loaded = true;
    }
    id
}

fn parent(id: i64) -> Parent {
    Parent {
        id: Some(id),
        children: HasMany::new(),
    }
}

fn child(id: i64, parent: i64) -> Child {
    Child {
        id: Some(id),
        parent_id: Some(parent),
        parent: BelongsTo::new(),
        toys: HasMany::new(),
    }
}

fn load(arena: &mut Arena, owner: ObjId, index: usize, members: &[ObjId]) {
    let slot = arena.entry_mut(owner).obj.relation_mut(index);
    slot.loaded = true;
    slot.members = members.iter().map(|m| Member::Held(*m)).collect();
    slot.in_step();
}

/// The plan's statements as SQL text (inserts and updates by their kind).
fn sql(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|step| match step {
            Step::Delete { set } => render::delete(&SQLITE, set).sql,
            Step::Nullify { set, column } => render::nullify(&SQLITE, set, *column).sql,
            Step::Guard { set, .. } => format!("GUARD {}", render::count(&SQLITE, set).sql),
            Step::Insert { model, objects } => format!("INSERT {} x{}", model.table, objects.len()),
            Step::Update {
                columns, objects, ..
            } => format!("UPDATE {columns:?} x{}", objects.len()),
            Step::AssocInsert { model, rows, .. } => {
                format!("ASSOC {} x{}", model.table, rows.len())
            }
            Step::Capture { set, column, .. } => {
                format!("CAPTURE {}", render::select(&SQLITE, set, *column).sql)
            }
        })
        .collect()
}

#[test]
fn deleting_a_parent_that_is_not_loaded_costs_one_statement_per_level() {
    let mut arena = Arena::default();
    let p = persistent(&mut arena, parent(1));
    arena.entry_mut(p).marked_delete = true;
    let plan = plan_flush(&arena, Vec::new()).expect("plan");
    assert_eq!(
        sql(&plan),
        [
            r#"DELETE FROM `toy` WHERE `child_id` IN (SELECT `id` FROM `child` WHERE `parent_id` IN (?))"#,
            r#"DELETE FROM `child` WHERE `parent_id` IN (?)"#,
            r#"DELETE FROM `parent` WHERE `id` IN (?)"#,
        ]
    );
    assert_eq!(plan.deleted, [p]);
}

#[test]
fn loaded_children_are_deleted_in_memory_and_by_the_same_set_statement() {
    let mut arena = Arena::default();
    let p = persistent(&mut arena, parent(1));
    let c1 = persistent(&mut arena, child(10, 1));
    let c2 = persistent(&mut arena, child(11, 1));
    load(&mut arena, p, 0, &[c1, c2]);
    arena.entry_mut(p).marked_delete = true;
    let plan = plan_flush(&arena, Vec::new()).expect("plan");
    assert_eq!(
        sql(&plan).len(),
        3,
        "no per-row statement for loaded children: {:?}",
        sql(&plan)
    );
    let mut deleted = plan.deleted.clone();
    deleted.sort();
    assert_eq!(deleted, [p, c1, c2]);
}

#[test]
fn a_child_moved_to_another_parent_before_the_flush_survives() {
    let mut arena = Arena::default();
    let p1 = persistent(&mut arena, parent(1));
    let p2 = persistent(&mut arena, parent(2));
    let c = persistent(&mut arena, child(10, 1));
    load(&mut arena, p1, 0, &[]);
    load(&mut arena, p2, 0, &[c]);
    // `c` was appended to p2 since the load: p2 held nothing then.
    arena.entry_mut(p2).obj.relation_mut(0).original = Some(Vec::new());
    arena.entry_mut(p1).marked_delete = true;
    let plan = plan_flush(&arena, Vec::new()).expect("plan");
    let statements = sql(&plan);
    assert_eq!(
        statements[0], "UPDATE [1] x1",
        "the move runs before the cascade: {statements:?}"
    );
    assert!(!plan.deleted.contains(&c));
}

#[test]
fn removing_from_a_delete_orphan_collection_deletes_the_child_by_key() {
    let mut arena = Arena::default();
    let p = persistent(&mut arena, parent(1));
    let c1 = persistent(&mut arena, child(10, 1));
    let c2 = persistent(&mut arena, child(11, 1));
    load(&mut arena, p, 0, &[c1, c2]);
    let slot = arena.entry_mut(p).obj.relation_mut(0);
    slot.before_change();
    slot.members.remove_held(c2);
    let plan = plan_flush(&arena, Vec::new()).expect("plan");
    assert_eq!(
        sql(&plan),
        [
            r#"DELETE FROM `toy` WHERE `child_id` IN (?)"#,
            r#"DELETE FROM `child` WHERE `id` IN (?)"#,
        ]
    );
    assert_eq!(plan.deleted, [c2]);
}

#[test]
fn a_new_object_that_became_an_orphan_is_never_inserted() {
    let mut arena = Arena::default();
    let p = pending(
        &mut arena,
        Parent {
            id: None,
            children: HasMany::new(),
        },
    );
    let c = pending(
        &mut arena,
        Child {
            id: None,
            parent_id: None,
            parent: BelongsTo::new(),
            toys: HasMany::new(),
        },
    );
    // Attached, then removed again before any flush (what `Session::remove` records).
    arena.detached_new.insert(c);
    let plan = plan_flush(&arena, Vec::new()).expect("plan");
    assert_eq!(sql(&plan), ["INSERT parent x1"]);
    assert_eq!(plan.expunged, [c]);
    let _ = p;
}

#[test]
fn a_new_object_never_attached_is_not_an_orphan() {
    let mut arena = Arena::default();
    let root = pending(
        &mut arena,
        Node {
            id: None,
            parent_id: None,
            children: HasMany::new(),
        },
    );
    let plan = plan_flush(&arena, Vec::new()).expect("plan");
    assert_eq!(sql(&plan), ["INSERT node x1"]);
    assert!(
        plan.expunged.is_empty(),
        "{root:?} is a tree's root, not an orphan"
    );
}

#[test]
fn new_children_get_their_new_parents_generated_key() {
    let mut arena = Arena::default();
    let p = pending(
        &mut arena,
        Parent {
            id: None,
            children: HasMany::new(),
        },
    );
    let c = pending(
        &mut arena,
        Child {
            id: None,
            parent_id: None,
            parent: BelongsTo::new(),
            toys: HasMany::new(),
        },
    );
    arena
        .entry_mut(p)
        .obj
        .relation_mut(0)
        .members
        .push(Member::Held(c));
    let plan = plan_flush(&arena, Vec::new()).expect("plan");
    assert_eq!(sql(&plan), ["INSERT parent x1", "INSERT child x1"]);
    assert_eq!(
        plan.sync[&c].as_slice(),
        [(
            1,
            KeySrc::KeyOf {
                object: p,
                column: 0
            }
        )]
    );
}

#[test]
fn a_self_referential_subtree_is_deleted_with_one_recursive_statement() {
    let mut arena = Arena::default();
    let root = persistent(
        &mut arena,
        Node {
            id: Some(1),
            parent_id: None,
            children: HasMany::new(),
        },
    );
    arena.entry_mut(root).marked_delete = true;
    let plan = plan_flush(&arena, Vec::new()).expect("plan");
    let statements = sql(&plan);
    assert_eq!(statements.len(), 1, "{statements:?}");
    assert!(
        statements[0].starts_with(r#"DELETE FROM `node` WHERE `id` IN (WITH RECURSIVE"#),
        "{}",
        statements[0]
    );
}

#[test]
fn deleting_a_middle_node_without_delete_cascade_reroots_only_its_direct_children() {
    let mut arena = Arena::default();
    let f = persistent(
        &mut arena,
        Folder {
            id: Some(2),
            parent_id: Some(1),
            children: HasMany::new(),
        },
    );
    arena.entry_mut(f).marked_delete = true;
    let plan = plan_flush(&arena, Vec::new()).expect("plan");
    assert_eq!(
        sql(&plan),
        [
            r#"UPDATE `folder` SET `parent_id` = NULL WHERE `parent_id` IN (?)"#,
            r#"DELETE FROM `folder` WHERE `id` IN (?)"#,
        ]
    );
}

#[test]
fn key_lists_are_chunked_under_the_parameter_limit() {
    let set = rowset::RowSet::Keys {
        model: Child::META,
        column: 0,
        values: (0..70_000).map(Value::Integer).collect(),
    };
    let chunks = set.chunks(SQLITE.max_params());
    assert_eq!(chunks.len(), 3);
    assert!(chunks
        .iter()
        .all(|c| render::delete(&SQLITE, c).params.len() <= SQLITE.max_params()));
}
