//! SeaORM 1.1 (async, sqlx 0.8 underneath) doing the workload as a SeaORM user would:
//! `DeriveEntityModel` entities with their relations, `insert_many(..)
//! .exec_with_returning_keys` for keys back, `find_related` and `is_in` filters for loads,
//! `ActiveModel::update` per row, and the cascade written by hand with `delete_many`, one
//! set-based `DELETE` per level, since SeaORM has no ORM cascade.

use crate::workload::{
    child_name, parent_name, payload, rows_per_insert, Done, Fresh, InsertedKeys, Op, Res, Sample,
    Shape, StatementCounter, Stopwatch, MAX_PARAMS,
};
use sea_orm::sea_query::Query;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectOptions, Database, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, ModelTrait, PaginatorTrait,
    PrimaryKeyTrait, QueryFilter, TransactionTrait,
};

pub mod parent {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "parent")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::child::Entity")]
        Child,
    }

    impl Related<super::child::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Child.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod child {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "child")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub parent_id: Option<i64>,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::parent::Entity",
            from = "Column::ParentId",
            to = "super::parent::Column::Id"
        )]
        Parent,
        #[sea_orm(has_many = "super::grandchild::Entity")]
        Grandchild,
    }

    impl Related<super::parent::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Parent.def()
        }
    }

    impl Related<super::grandchild::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Grandchild.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod grandchild {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "grandchild")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub child_id: Option<i64>,
        pub payload: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::child::Entity",
            from = "Column::ChildId",
            to = "super::child::Column::Id"
        )]
        Child,
    }

    impl Related<super::child::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Child.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// BEGIN and COMMIT of one transaction: sqlx's transaction manager sends them, past SeaORM's
/// metric callback, so they are added by hand (the project's floor counts them too).
const TX_STMTS: u64 = 2;

// ---------------------------------------------------------------------------------------------
// Driver

/// One run of `op` on a new pool on `fresh`, whose rows `setup` inserted.
pub async fn run(op: Op, shape: Shape, fresh: &Fresh) -> Res<(Sample, Done)> {
    let counter = StatementCounter::default();
    let db = connect(fresh, &counter).await?;
    let result = match op {
        Op::Insert => insert(&db, shape, &counter).await,
        Op::DeleteCascade => delete_cascade(&db, shape, &counter).await,
        Op::DeleteOrphan => delete_orphan(&db, &counter).await,
        Op::Load => load(&db, &counter).await,
        Op::Update => update(&db, shape, &counter).await,
    };
    db.close().await?;
    result
}

/// SeaORM's own pool on the file, with its SQLite default of one connection, the benchmark's
/// pragmas, statement logging off (no logger is installed either way), and the connection
/// warmed (schema read) before the op, as the floor's is; the metric callback counts
/// statements from then on.
async fn connect(fresh: &Fresh, counter: &StatementCounter) -> Res<DatabaseConnection> {
    let mut options = ConnectOptions::new(format!("sqlite://{}", fresh.path.display()));
    options.sqlx_logging(false).map_sqlx_sqlite_opts(|o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
    });
    let mut db = Database::connect(options).await?;
    parent::Entity::find().count(&db).await?;
    // Let the connection go back to the pool before the clock starts: sqlx returns it in a
    // task of its own, which the op would otherwise wait for (as the project's bench does).
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    let seen = counter.clone();
    db.set_metric_callback(move |info| seen.add(info.statement));
    Ok(db)
}

// ---------------------------------------------------------------------------------------------
// Ops

/// Level by level in one transaction, each level's active models built once the keys of the
/// level above are back: `insert_many(..).exec_with_returning_keys` (one `INSERT ... VALUES
/// (..), (..) RETURNING id`) per chunk under the parameter limit.
async fn insert(
    db: &DatabaseConnection,
    shape: Shape,
    counter: &StatementCounter,
) -> Res<(Sample, Done)> {
    let clock = Stopwatch::start(counter);
    let txn = db.begin().await?;
    let parents = (0..shape.parents).map(|p| parent::ActiveModel {
        name: Set(parent_name(p)),
        ..Default::default()
    });
    let parent_keys = insert_in_batches(&txn, parents, 1).await?;
    let children = parent_keys.iter().enumerate().flat_map(|(p, &parent_id)| {
        (0..shape.children).map(move |c| child::ActiveModel {
            parent_id: Set(Some(parent_id)),
            name: Set(child_name(p, c)),
            ..Default::default()
        })
    });
    let child_keys = insert_in_batches(&txn, children, 2).await?;
    let grandchildren = child_keys.iter().enumerate().flat_map(|(i, &child_id)| {
        let (p, c) = (i / shape.children, i % shape.children);
        (0..shape.grandchildren).map(move |g| grandchild::ActiveModel {
            child_id: Set(Some(child_id)),
            payload: Set(payload(p, c, g)),
            ..Default::default()
        })
    });
    let grandchild_keys = insert_in_batches(&txn, grandchildren, 2).await?;
    txn.commit().await?;
    let sample = clock.stop(counter, TX_STMTS);
    let keys = InsertedKeys {
        parents: parent_keys,
        children: child_keys,
        grandchildren: grandchild_keys,
    };
    Ok((sample, Done::Inserted(keys)))
}

/// `insert_many` for each chunk of `rows` under SQLite's parameter limit (SeaORM does not
/// split a batch itself); the generated keys in row order.
async fn insert_in_batches<A>(
    txn: &DatabaseTransaction,
    rows: impl IntoIterator<Item = A>,
    columns: usize,
) -> Result<Vec<<<A::Entity as EntityTrait>::PrimaryKey as PrimaryKeyTrait>::ValueType>, DbErr>
where
    A: ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let per = rows_per_insert(columns);
    let mut rows = rows.into_iter();
    let mut keys = Vec::new();
    loop {
        let batch: Vec<A> = rows.by_ref().take(per).collect();
        if batch.is_empty() {
            return Ok(keys);
        }
        keys.extend(
            A::Entity::insert_many(batch)
                .exec_with_returning_keys(txn)
                .await?,
        );
    }
}

/// Every parent with its children and grandchildren: grandchildren (by a subquery on the
/// children of the parents), children, parents; one `delete_many` per level in one
/// transaction.
async fn delete_cascade(
    db: &DatabaseConnection,
    shape: Shape,
    counter: &StatementCounter,
) -> Res<(Sample, Done)> {
    let keys: Vec<i64> = (1..=shape.parents as i64).collect();
    let clock = Stopwatch::start(counter);
    let txn = db.begin().await?;
    for batch in keys.chunks(MAX_PARAMS) {
        let their_children = Query::select()
            .column(child::Column::Id)
            .from(child::Entity)
            .and_where(child::Column::ParentId.is_in(batch.iter().copied()))
            .to_owned();
        grandchild::Entity::delete_many()
            .filter(grandchild::Column::ChildId.in_subquery(their_children))
            .exec(&txn)
            .await?;
        child::Entity::delete_many()
            .filter(child::Column::ParentId.is_in(batch.iter().copied()))
            .exec(&txn)
            .await?;
        parent::Entity::delete_many()
            .filter(parent::Column::Id.is_in(batch.iter().copied()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok((clock.stop(counter, TX_STMTS), Done::Deleted))
}

/// Parent 1 (`find_by_id`) and its children (`find_related`, which SeaORM writes as a join
/// on the parent); the first half removed with their grandchildren, by key list, in one
/// transaction.
async fn delete_orphan(db: &DatabaseConnection, counter: &StatementCounter) -> Res<(Sample, Done)> {
    let clock = Stopwatch::start(counter);
    let parent = parent::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or("no parent 1")?;
    let children = parent.find_related(child::Entity).all(db).await?;
    let removed: Vec<i64> = children[..children.len() / 2]
        .iter()
        .map(|c| c.id)
        .collect();
    let txn = db.begin().await?;
    for batch in removed.chunks(MAX_PARAMS) {
        grandchild::Entity::delete_many()
            .filter(grandchild::Column::ChildId.is_in(batch.iter().copied()))
            .exec(&txn)
            .await?;
        child::Entity::delete_many()
            .filter(child::Column::Id.is_in(batch.iter().copied()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    let sample = clock.stop(counter, TX_STMTS);
    let seen = children.len();
    Ok((sample, Done::Orphaned { seen, removed }))
}

/// Parents, then children and grandchildren filtered `is_in` on the keys read: three
/// statements, flat vectors of models, as the floor loads them. (SeaORM's `LoaderTrait::
/// load_many` sends the same statements but also groups the rows per parent, which the floor
/// does not; see the README.)
async fn load(db: &DatabaseConnection, counter: &StatementCounter) -> Res<(Sample, Done)> {
    let clock = Stopwatch::start(counter);
    let parents = parent::Entity::find().all(db).await?;
    let children = child::Entity::find()
        .filter(child::Column::ParentId.is_in(parents.iter().map(|p| p.id)))
        .all(db)
        .await?;
    let grandchildren = grandchild::Entity::find()
        .filter(grandchild::Column::ChildId.is_in(children.iter().map(|c| c.id)))
        .all(db)
        .await?;
    let sample = clock.stop(counter, 0);
    let done = Done::Loaded {
        parents: parents.len(),
        children: children.len(),
        grandchildren: grandchildren.len(),
    };
    Ok((sample, done))
}

/// Every child renamed in its active model, then `ActiveModel::update` per row (one `UPDATE
/// child SET name = ? WHERE id = ? RETURNING ...`: SeaORM hands back the updated model), in
/// one transaction. SeaORM's `update_many` sets one value for all rows, so it has no batch
/// form for rows that each get their own value.
async fn update(
    db: &DatabaseConnection,
    shape: Shape,
    counter: &StatementCounter,
) -> Res<(Sample, Done)> {
    // Not timed: the children are already in memory (as on the project's sides).
    let children = child::Entity::find().all(db).await?;
    if children.len() != shape.total_children() {
        return Err(format!(
            "loaded {} children, expected {}",
            children.len(),
            shape.total_children()
        )
        .into());
    }
    let clock = Stopwatch::start(counter);
    let renamed: Vec<child::ActiveModel> = children
        .into_iter()
        .map(|c| child::ActiveModel {
            name: Set(format!("{}-u", c.name)),
            ..c.into_active_model()
        })
        .collect();
    let txn = db.begin().await?;
    let mut updated = Vec::with_capacity(renamed.len());
    for c in renamed {
        updated.push(c.update(&txn).await?);
    }
    txn.commit().await?;
    let sample = clock.stop(counter, TX_STMTS);
    drop(updated);
    Ok((sample, Done::Updated))
}
