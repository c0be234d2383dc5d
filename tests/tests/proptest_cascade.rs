//! Property test (issue 3, item 7): random trees and random sequences of add / append / remove /
//! move / delete / flush / commit / rollback. After every commit the database must equal a small
//! in-memory model of the semantics, and `PRAGMA foreign_key_check` must be empty.

use orm_core::prelude::*;
use orm_core::Value;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Model, Debug)]
#[model(table = "pp_parent")]
struct Parent {
    #[column(primary_key)]
    id: Option<i64>,
    #[column(unique)]
    label: String,
    #[relationship(back_populates = "parent", cascade = "all, delete-orphan")]
    children: HasMany<Child>,
}

#[derive(Model, Debug)]
#[model(table = "pp_child")]
struct Child {
    #[column(primary_key)]
    id: Option<i64>,
    #[column(unique)]
    label: String,
    #[column(foreign_key = "pp_parent.id")]
    parent_id: Option<i64>,
    #[relationship(back_populates = "children")]
    parent: BelongsTo<Parent>,
    #[relationship(cascade = "all, delete-orphan")]
    toys: HasMany<Toy>,
}

#[derive(Model, Debug)]
#[model(table = "pp_toy")]
struct Toy {
    #[column(primary_key)]
    id: Option<i64>,
    label: String,
    #[column(foreign_key = "pp_child.id")]
    child_id: Option<i64>,
}

/// parent label -> child label -> toy labels.
type Tree = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

#[derive(Debug, Clone)]
enum Op {
    AddParent {
        children: usize,
        toys: usize,
    },
    AppendChild {
        parent: usize,
    },
    RemoveChild {
        parent: usize,
        child: usize,
    },
    MoveChild {
        from: usize,
        child: usize,
        to: usize,
    },
    DeleteParent {
        parent: usize,
    },
    DeleteChild {
        parent: usize,
        child: usize,
    },
    Flush,
    Commit,
    Rollback,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4usize, 0..3usize).prop_map(|(children, toys)| Op::AddParent { children, toys }),
        any::<usize>().prop_map(|parent| Op::AppendChild { parent }),
        (any::<usize>(), any::<usize>())
            .prop_map(|(parent, child)| Op::RemoveChild { parent, child }),
        (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(from, child, to)| Op::MoveChild { from, child, to }),
        any::<usize>().prop_map(|parent| Op::DeleteParent { parent }),
        (any::<usize>(), any::<usize>())
            .prop_map(|(parent, child)| Op::DeleteChild { parent, child }),
        Just(Op::Flush),
        Just(Op::Commit),
        Just(Op::Rollback),
    ]
}

struct Harness {
    db: Database,
    session: Session,
    model: Tree,
    committed: Tree,
    next: usize,
}

fn pick<K: Clone, V>(map: &BTreeMap<K, V>, n: usize) -> Option<K> {
    (!map.is_empty())
        .then(|| map.keys().nth(n % map.len()).cloned())
        .flatten()
}

impl Harness {
    fn label(&mut self, kind: &str) -> String {
        self.next += 1;
        format!("{kind}{}", self.next)
    }

    async fn parent(&mut self, label: &str) -> Result<Handle<Parent>> {
        self.session
            .query::<Parent>()
            .filter_by(Parent::LABEL, label)
            .one()
            .await
    }

    async fn child(&mut self, label: &str) -> Result<Handle<Child>> {
        self.session
            .query::<Child>()
            .filter_by(Child::LABEL, label)
            .one()
            .await
    }

    async fn apply(&mut self, op: Op) -> Result<()> {
        match op {
            Op::AddParent { children, toys } => self.add_parent(children, toys),
            Op::AppendChild { parent } => self.append_child(parent).await,
            Op::RemoveChild { parent, child } => self.remove_child(parent, child).await,
            Op::MoveChild { from, child, to } => self.move_child(from, child, to).await,
            Op::DeleteParent { parent } => self.delete_parent(parent).await,
            Op::DeleteChild { parent, child } => self.delete_child(parent, child).await,
            Op::Flush => self.session.flush().await,
            Op::Commit => {
                self.session.commit().await?;
                self.committed = self.model.clone();
                self.check().await
            }
            Op::Rollback => {
                self.session.rollback().await?;
                self.model = self.committed.clone();
                Ok(())
            }
        }
    }

    fn add_parent(&mut self, children: usize, toys: usize) -> Result<()> {
        let label = self.label("p");
        let mut parent = Parent {
            id: None,
            label: label.clone(),
            children: HasMany::new(),
        };
        let mut tree = BTreeMap::new();
        for _ in 0..children {
            let child_label = self.label("c");
            let mut child = Child {
                id: None,
                label: child_label.clone(),
                parent_id: None,
                parent: BelongsTo::new(),
                toys: HasMany::new(),
            };
            let mut toy_labels = BTreeSet::new();
            for _ in 0..toys {
                let toy_label = self.label("t");
                child.toys.push(Toy {
                    id: None,
                    label: toy_label.clone(),
                    child_id: None,
                });
                toy_labels.insert(toy_label);
            }
            parent.children.push(child);
            tree.insert(child_label, toy_labels);
        }
        self.session.add(parent)?;
        self.model.insert(label, tree);
        Ok(())
    }

    async fn append_child(&mut self, parent: usize) -> Result<()> {
        let Some(p) = pick(&self.model, parent) else {
            return Ok(());
        };
        let label = self.label("c");
        let handle = self.parent(&p).await?;
        let child = self.session.add(Child {
            id: None,
            label: label.clone(),
            parent_id: None,
            parent: BelongsTo::new(),
            toys: HasMany::new(),
        })?;
        self.session.append(handle, Parent::CHILDREN, child).await?;
        self.model
            .entry(p)
            .or_default()
            .insert(label, BTreeSet::new());
        Ok(())
    }

    fn pick_child(&self, parent: usize, child: usize) -> Option<(String, String)> {
        let p = pick(&self.model, parent)?;
        let c = pick(&self.model[&p], child)?;
        Some((p, c))
    }

    async fn remove_child(&mut self, parent: usize, child: usize) -> Result<()> {
        let Some((p, c)) = self.pick_child(parent, child) else {
            return Ok(());
        };
        let (ph, ch) = (self.parent(&p).await?, self.child(&c).await?);
        self.session.remove(ph, Parent::CHILDREN, ch).await?;
        self.model.entry(p).or_default().remove(&c);
        Ok(())
    }

    async fn move_child(&mut self, from: usize, child: usize, to: usize) -> Result<()> {
        let Some((p, c)) = self.pick_child(from, child) else {
            return Ok(());
        };
        let Some(q) = pick(&self.model, to) else {
            return Ok(());
        };
        let (ph, qh, ch) = (
            self.parent(&p).await?,
            self.parent(&q).await?,
            self.child(&c).await?,
        );
        self.session.remove(ph, Parent::CHILDREN, ch).await?;
        self.session.append(qh, Parent::CHILDREN, ch).await?;
        let toys = self
            .model
            .entry(p)
            .or_default()
            .remove(&c)
            .unwrap_or_default();
        self.model.entry(q).or_default().insert(c, toys);
        Ok(())
    }

    async fn delete_parent(&mut self, parent: usize) -> Result<()> {
        let Some(p) = pick(&self.model, parent) else {
            return Ok(());
        };
        let handle = self.parent(&p).await?;
        self.session.delete(handle)?;
        self.model.remove(&p);
        Ok(())
    }

    async fn delete_child(&mut self, parent: usize, child: usize) -> Result<()> {
        let Some((p, c)) = self.pick_child(parent, child) else {
            return Ok(());
        };
        let handle = self.child(&c).await?;
        self.session.delete(handle)?;
        self.model.entry(p).or_default().remove(&c);
        Ok(())
    }

    /// The database, read with raw SQL, equals the committed model, and no foreign key dangles.
    async fn check(&mut self) -> Result<()> {
        let rows = self
            .db
            .fetch_raw(
                "SELECT p.label, c.label, t.label FROM pp_parent p \
                 LEFT JOIN pp_child c ON c.parent_id = p.id LEFT JOIN pp_toy t ON t.child_id = c.id",
                &[],
            )
            .await?;
        let mut stored = Tree::new();
        for row in rows {
            let text = |v: &Value| match v {
                Value::Text(s) => Some(s.clone()),
                _ => None,
            };
            let parent = stored.entry(text(&row[0]).unwrap_or_default()).or_default();
            if let Some(child) = text(&row[1]) {
                let toys = parent.entry(child).or_default();
                toys.extend(text(&row[2]));
            }
        }
        assert_eq!(
            stored, self.committed,
            "database differs from the model after commit"
        );
        for table in ["pp_child", "pp_toy"] {
            let orphans = self
                .db
                .fetch_raw(
                    &format!(
                        "SELECT COUNT(*) FROM {table} WHERE {} IS NULL",
                        fk_of(table)
                    ),
                    &[],
                )
                .await?;
            assert_eq!(
                orphans[0][0],
                Value::Integer(0),
                "{table} holds rows with a NULL foreign key"
            );
        }
        let dangling = self.db.fetch_raw("PRAGMA foreign_key_check", &[]).await?;
        assert!(dangling.is_empty(), "foreign_key_check: {dangling:?}");
        Ok(())
    }
}

fn fk_of(table: &str) -> &'static str {
    if table == "pp_child" {
        "parent_id"
    } else {
        "child_id"
    }
}

async fn run(ops: Vec<Op>) -> Result<()> {
    let db = orm_tests::memory_db(&[Parent::META, Child::META, Toy::META]).await?;
    let session = db.session();
    let mut harness = Harness {
        db,
        session,
        model: Tree::new(),
        committed: Tree::new(),
        next: 0,
    };
    for op in ops {
        harness.apply(op).await?;
    }
    harness.apply(Op::Commit).await
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn database_matches_the_model_after_every_commit(ops in proptest::collection::vec(op(), 1..24)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let outcome = runtime.block_on(run(ops));
        prop_assert!(outcome.is_ok(), "{:?}", outcome.err());
    }
}
