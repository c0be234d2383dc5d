//! Diesel 2.3 (synchronous, one `SqliteConnection`) doing the workload as a Diesel user would:
//! `table!` schema, derived models, `Associations`/`belonging_to` for the relations, batched
//! `insert_into(..).values(&rows).returning(id)`, and the cascade written by hand, one
//! set-based `DELETE` per level, since Diesel has no ORM cascade.

use crate::workload::{
    child_name, parent_name, payload, rows_per_insert, Done, Fresh, InsertedKeys, Op, Res, Sample,
    Shape, StatementCounter, Stopwatch, MAX_PARAMS,
};
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use diesel::result::Error as DieselError;

/// What `diesel print-schema` would write for the project's tables (keys as `BigInt`: SQLite
/// integers are 64-bit, and so are the project's keys).
mod schema {
    diesel::table! {
        parent (id) {
            id -> BigInt,
            name -> Text,
        }
    }
    diesel::table! {
        child (id) {
            id -> BigInt,
            parent_id -> Nullable<BigInt>,
            name -> Text,
        }
    }
    diesel::table! {
        grandchild (id) {
            id -> BigInt,
            child_id -> Nullable<BigInt>,
            payload -> Text,
        }
    }
    diesel::joinable!(child -> parent (parent_id));
    diesel::joinable!(grandchild -> child (child_id));
    diesel::allow_tables_to_appear_in_same_query!(parent, child, grandchild);
}

use schema::{child, grandchild, parent};

#[derive(Queryable, Selectable, Identifiable, Debug)]
#[diesel(table_name = parent, check_for_backend(diesel::sqlite::Sqlite))]
pub struct Parent {
    pub id: i64,
    pub name: String,
}

#[derive(Queryable, Selectable, Identifiable, Associations, Debug)]
#[diesel(table_name = child, belongs_to(Parent), check_for_backend(diesel::sqlite::Sqlite))]
pub struct Child {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
}

#[derive(Queryable, Selectable, Identifiable, Associations, Debug)]
#[diesel(table_name = grandchild, belongs_to(Child), check_for_backend(diesel::sqlite::Sqlite))]
pub struct Grandchild {
    pub id: i64,
    pub child_id: Option<i64>,
    pub payload: String,
}

// `treat_none_as_default_value = false` on the insertable rows: by default the derive wraps
// every field in an `Option` that may stand for `DEFAULT`, which SQLite's multi-row `VALUES`
// cannot say, so Diesel then sends a batch as one `INSERT ... RETURNING` per row inside a
// savepoint. With the attribute (no field here is ever `DEFAULT`) a batch is one statement.

#[derive(Insertable, Debug)]
#[diesel(table_name = parent, treat_none_as_default_value = false)]
struct NewParent {
    name: String,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = child, treat_none_as_default_value = false)]
struct NewChild {
    parent_id: i64,
    name: String,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = grandchild, treat_none_as_default_value = false)]
struct NewGrandchild {
    child_id: i64,
    payload: String,
}

/// The rows an insert built; kept until the clock stops, as the project's floor keeps its.
#[derive(Debug)]
pub struct NewRows {
    _parents: Vec<NewParent>,
    _children: Vec<NewChild>,
    _grandchildren: Vec<NewGrandchild>,
}

// ---------------------------------------------------------------------------------------------
// Driver

/// One run of `op` on a new connection to `fresh`, whose rows `setup` inserted.
pub fn run(op: Op, shape: Shape, fresh: &Fresh) -> Res<(Sample, Done)> {
    let mut conn = crate::workload::open(&fresh.path)?;
    // Warm the connection (schema read) as the floor does with its first statement; not timed.
    parent::table.count().get_result::<i64>(&mut conn)?;
    let counter = StatementCounter::default();
    conn.set_instrumentation(count_statements(counter.clone()));
    match op {
        Op::Insert => insert(&mut conn, shape, &counter),
        Op::DeleteCascade => delete_cascade(&mut conn, shape, &counter),
        Op::DeleteOrphan => delete_orphan(&mut conn, &counter),
        Op::Load => load(&mut conn, &counter),
        Op::Update => update(&mut conn, shape, &counter),
    }
}

/// Diesel's instrumentation sees every statement, BEGIN and COMMIT included (they go through
/// `batch_execute`).
fn count_statements(counter: StatementCounter) -> impl Instrumentation {
    move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            counter.add(query);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Ops

fn insert(
    conn: &mut SqliteConnection,
    shape: Shape,
    counter: &StatementCounter,
) -> Res<(Sample, Done)> {
    let clock = Stopwatch::start(counter);
    let (keys, rows) = insert_tree_rows(conn, shape)?;
    let sample = clock.stop(counter, 0);
    drop(rows);
    Ok((sample, Done::Inserted(keys)))
}

/// The whole tree for `shape`, in one transaction (also the untimed fixture of the other ops).
pub fn insert_tree(conn: &mut SqliteConnection, shape: Shape) -> Res<InsertedKeys> {
    Ok(insert_tree_rows(conn, shape)?.0)
}

/// Level by level, each level's rows built once the keys of the level above are back: one
/// batched `INSERT ... VALUES (..), (..) RETURNING id` per chunk under the parameter limit.
fn insert_tree_rows(conn: &mut SqliteConnection, shape: Shape) -> Res<(InsertedKeys, NewRows)> {
    let done = conn.transaction::<_, DieselError, _>(|conn| {
        let parents: Vec<NewParent> = (0..shape.parents)
            .map(|p| NewParent {
                name: parent_name(p),
            })
            .collect();
        let parent_keys = in_batches(&parents, 1, |batch| {
            diesel::insert_into(parent::table)
                .values(batch)
                .returning(parent::id)
                .get_results(conn)
        })?;
        let children: Vec<NewChild> = parent_keys
            .iter()
            .enumerate()
            .flat_map(|(p, &parent_id)| {
                (0..shape.children).map(move |c| NewChild {
                    parent_id,
                    name: child_name(p, c),
                })
            })
            .collect();
        let child_keys = in_batches(&children, 2, |batch| {
            diesel::insert_into(child::table)
                .values(batch)
                .returning(child::id)
                .get_results(conn)
        })?;
        let grandchildren: Vec<NewGrandchild> = child_keys
            .iter()
            .enumerate()
            .flat_map(|(i, &child_id)| {
                let (p, c) = (i / shape.children, i % shape.children);
                (0..shape.grandchildren).map(move |g| NewGrandchild {
                    child_id,
                    payload: payload(p, c, g),
                })
            })
            .collect();
        let grandchild_keys = in_batches(&grandchildren, 2, |batch| {
            diesel::insert_into(grandchild::table)
                .values(batch)
                .returning(grandchild::id)
                .get_results(conn)
        })?;
        let keys = InsertedKeys {
            parents: parent_keys,
            children: child_keys,
            grandchildren: grandchild_keys,
        };
        let rows = NewRows {
            _parents: parents,
            _children: children,
            _grandchildren: grandchildren,
        };
        Ok((keys, rows))
    })?;
    Ok(done)
}

/// `insert` for each chunk of `rows` that stays under SQLite's parameter limit (Diesel does
/// not split a batch itself); the keys in row order.
fn in_batches<T>(
    rows: &[T],
    columns: usize,
    mut insert: impl FnMut(&[T]) -> QueryResult<Vec<i64>>,
) -> QueryResult<Vec<i64>> {
    let mut keys = Vec::with_capacity(rows.len());
    for batch in rows.chunks(rows_per_insert(columns)) {
        keys.extend(insert(batch)?);
    }
    Ok(keys)
}

/// Every parent with its children and grandchildren: grandchildren (by a subquery on the
/// children of the parents), children, parents; one `DELETE` per level in one transaction.
fn delete_cascade(
    conn: &mut SqliteConnection,
    shape: Shape,
    counter: &StatementCounter,
) -> Res<(Sample, Done)> {
    let keys: Vec<i64> = (1..=shape.parents as i64).collect();
    let clock = Stopwatch::start(counter);
    conn.transaction::<_, DieselError, _>(|conn| {
        for batch in keys.chunks(MAX_PARAMS) {
            let their_children = child::table
                .filter(child::parent_id.eq_any(batch))
                .select(child::id.nullable());
            diesel::delete(grandchild::table.filter(grandchild::child_id.eq_any(their_children)))
                .execute(conn)?;
            diesel::delete(child::table.filter(child::parent_id.eq_any(batch))).execute(conn)?;
            diesel::delete(parent::table.filter(parent::id.eq_any(batch))).execute(conn)?;
        }
        Ok(())
    })?;
    Ok((clock.stop(counter, 0), Done::Deleted))
}

/// Parent 1 and its children loaded; the first half removed with their grandchildren, by key
/// list, in one transaction.
fn delete_orphan(conn: &mut SqliteConnection, counter: &StatementCounter) -> Res<(Sample, Done)> {
    let clock = Stopwatch::start(counter);
    let parent: Parent = parent::table.find(1).first(conn)?;
    let children: Vec<Child> = Child::belonging_to(&parent)
        .select(Child::as_select())
        .load(conn)?;
    let removed: Vec<i64> = children[..children.len() / 2]
        .iter()
        .map(|c| c.id)
        .collect();
    conn.transaction::<_, DieselError, _>(|conn| {
        for batch in removed.chunks(MAX_PARAMS) {
            diesel::delete(grandchild::table.filter(grandchild::child_id.eq_any(batch)))
                .execute(conn)?;
            diesel::delete(child::table.filter(child::id.eq_any(batch))).execute(conn)?;
        }
        Ok(())
    })?;
    let sample = clock.stop(counter, 0);
    let seen = children.len();
    Ok((sample, Done::Orphaned { seen, removed }))
}

/// Parents, their children (`belonging_to` the parents: one `IN` list of their keys), their
/// grandchildren likewise: three statements, flat vectors of structs, as the floor loads them
/// (no `grouped_by`: the floor builds no tree either). `belonging_to` does not chunk its key
/// list; the largest here is 10,000 keys, under the limit.
fn load(conn: &mut SqliteConnection, counter: &StatementCounter) -> Res<(Sample, Done)> {
    let clock = Stopwatch::start(counter);
    let parents: Vec<Parent> = parent::table.select(Parent::as_select()).load(conn)?;
    let children: Vec<Child> = Child::belonging_to(&parents)
        .select(Child::as_select())
        .load(conn)?;
    let grandchildren: Vec<Grandchild> = Grandchild::belonging_to(&children)
        .select(Grandchild::as_select())
        .load(conn)?;
    let sample = clock.stop(counter, 0);
    let done = Done::Loaded {
        parents: parents.len(),
        children: children.len(),
        grandchildren: grandchildren.len(),
    };
    Ok((sample, done))
}

/// Every child renamed in memory, then written back: one `UPDATE child SET name = ? WHERE
/// id = ?` per row (a prepared statement Diesel caches), in one transaction. Diesel has no
/// batch form for rows that each get their own value.
fn update(
    conn: &mut SqliteConnection,
    shape: Shape,
    counter: &StatementCounter,
) -> Res<(Sample, Done)> {
    // Not timed: the children are already in memory (as on the project's sides).
    let mut children: Vec<Child> = child::table.select(Child::as_select()).load(conn)?;
    if children.len() != shape.total_children() {
        return Err(format!(
            "loaded {} children, expected {}",
            children.len(),
            shape.total_children()
        )
        .into());
    }
    let clock = Stopwatch::start(counter);
    for c in &mut children {
        c.name.push_str("-u");
    }
    conn.transaction::<_, DieselError, _>(|conn| {
        for c in &children {
            diesel::update(c)
                .set(child::name.eq(&c.name))
                .execute(conn)?;
        }
        Ok(())
    })?;
    Ok((clock.stop(counter, 0), Done::Updated))
}
