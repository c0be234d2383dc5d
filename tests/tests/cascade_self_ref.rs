//! docs/dev/semantics.md §7, self-referential tables: subtree deletes, re-rooting, parent-first inserts.
//! (The fixtures of the delete tests are written with raw SQL, so that they do not depend on the
//! ORM's inserts of self-referential rows, tested by `nested_tree_is_inserted_parent_first`.)

use orm_core::prelude::*;
use orm_tests::harness::Fresh;

/// A tree whose children are owned (`all, delete-orphan`); no ON DELETE rule, so the ORM does
/// the work.
#[derive(Model, Debug)]
#[model(table = "nodes")]
pub struct Node {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    #[column(foreign_key = "nodes.id")]
    pub parent_id: Option<i64>,
    #[relationship(back_populates = "children")]
    pub parent: BelongsTo<Node>,
    #[relationship(back_populates = "parent", cascade = "all, delete-orphan")]
    pub children: HasMany<Node>,
}

/// A tree with the default cascade.
#[derive(Model, Debug)]
#[model(table = "folders")]
pub struct Folder {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    #[column(foreign_key = "folders.id")]
    pub parent_id: Option<i64>,
    #[relationship(back_populates = "children")]
    pub parent: BelongsTo<Folder>,
    #[relationship(back_populates = "parent")]
    pub children: HasMany<Folder>,
}

/// A chain `name.depth -> ... -> name.0` of nodes (root first), each also with one leaf.
fn chain(name: &str, depth: usize) -> Node {
    let mut node = Node {
        id: None,
        name: format!("{name}.{depth}"),
        parent_id: None,
        parent: BelongsTo::new(),
        children: HasMany::new(),
    };
    node.children.push(Node {
        id: None,
        name: format!("{name}.{depth}.leaf"),
        parent_id: None,
        parent: BelongsTo::new(),
        children: HasMany::new(),
    });
    if depth > 0 {
        node.children.push(chain(name, depth - 1));
    }
    node
}

/// The same chain as [`chain`], written with raw SQL (the fixture does not depend on the ORM's
/// inserts of self-referential rows).
async fn raw_chain(t: &Fresh, name: &str, depth: usize) {
    let mut parent = "NULL".to_owned();
    for d in (0..=depth).rev() {
        let node = format!("{name}.{d}");
        t.exec(&format!(
            "INSERT INTO nodes (name, parent_id) VALUES ('{node}', {parent}), ('{node}.leaf', NULL)"
        ))
        .await;
        t.exec(&format!(
            "UPDATE nodes SET parent_id = (SELECT id FROM nodes WHERE name = '{node}') WHERE name = '{node}.leaf'"
        ))
        .await;
        parent = format!("(SELECT id FROM nodes WHERE name = '{node}')");
    }
}

async fn id_of(t: &Fresh, name: &str) -> i64 {
    t.scalar(&format!("SELECT id FROM nodes WHERE name = '{name}'"))
        .await
}

orm_tests::backend_test! {
    /// Deleting an unloaded subtree removes all of it and nothing else, with a statement count that
    /// does not grow with the subtree's depth (no per-node SELECT).
    #[tokio::test]
    async fn deleting_an_unloaded_subtree() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Node::META]).await;
        raw_chain(&t, "small", 2).await;
        raw_chain(&t, "deep", 8).await;
        raw_chain(&t, "kept", 2).await;
        let total = t.count("nodes").await;

        let mut costs = Vec::new();
        for (name, size) in [("small.2", 6), ("deep.8", 18)] {
            let id = id_of(&t, name).await;
            let mut s = t.db.session();
            let root = s.get::<Node>(id).await?.expect("stored");
            let before = t.statements();
            s.delete(root)?;
            s.commit().await?;
            costs.push(t.statements() - before);
            assert_eq!(
                t.scalar(&format!(
                    "SELECT COUNT(*) FROM nodes WHERE name LIKE '{}%'",
                    name.split('.').next().unwrap_or_default()
                ))
                .await,
                0,
                "{name}: the whole subtree went ({size} rows)"
            );
        }
        assert_eq!(costs[0], costs[1], "statement count independent of depth");
        assert!(costs[0] <= 6, "a handful of statements, got {}", costs[0]);
        assert_eq!(t.count("nodes").await, total - 24);
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Deleting a subtree whose nodes are loaded: every loaded node is marked deleted.
    #[tokio::test]
    async fn deleting_a_loaded_subtree_marks_every_node() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Node::META]).await;
        raw_chain(&t, "t", 2).await;
        let mut s = t.db.session();
        let root = s
            .get::<Node>(id_of(&t, "t.2").await)
            .await?
            .expect("stored");
        let mut all = vec![root];
        let mut i = 0;
        while i < all.len() {
            let children = s.related(all[i], Node::CHILDREN).await?;
            all.extend(children);
            i += 1;
        }
        assert_eq!(all.len(), 6);
        s.delete(root)?;
        s.flush().await?;
        for node in &all {
            assert_eq!(s.state(*node), ObjectState::Deleted);
        }
        s.commit().await?;
        assert_eq!(t.count("nodes").await, 0);
        Ok(())
    }
}

orm_tests::backend_test! {
    /// Deleting a middle node with the default cascade re-roots only its direct children.
    #[tokio::test]
    async fn deleting_a_middle_node_reroots_direct_children_only() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Folder::META]).await;
        let folder = |name: &str, children: Vec<Folder>| Folder {
            id: None,
            name: name.into(),
            parent_id: None,
            parent: BelongsTo::new(),
            children: children.into_iter().collect(),
        };
        let mut s = t.db.session();
        s.add(folder(
            "root",
            vec![folder(
                "middle",
                vec![folder("a", vec![folder("a1", vec![])]), folder("b", vec![])],
            )],
        ))?;
        s.commit().await?;
        let middle = s
            .query::<Folder>()
            .filter_by(Folder::NAME, "middle")
            .one()
            .await?;
        s.delete(middle)?;
        s.commit().await?;
        let parent_of = |name: &'static str| {
            format!(
                "SELECT p.name FROM folders c LEFT JOIN folders p ON p.id = c.parent_id WHERE c.name = '{name}'"
            )
        };
        assert_eq!(t.count("folders").await, 4);
        for name in ["a", "b"] {
            assert_eq!(
                t.rows(&parent_of(name)).await,
                vec![vec![orm_core::Value::Null]],
                "{name} is a new root"
            );
        }
        assert_eq!(
            t.rows(&parent_of("a1")).await,
            vec![vec![orm_core::Value::from("a")]],
            "grandchildren keep their parent"
        );
        t.assert_consistent().await;
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A nested tree added in one call is inserted parents first, each child's key pointing at its
    /// parent's generated key.
    #[tokio::test]
    async fn nested_tree_is_inserted_parent_first() -> Result<()> {
        let t = orm_tests::harness::fresh(&[Node::META]).await;
        let mut s = t.db.session();
        let root = s.add(chain("t", 3))?;
        s.commit().await?;
        assert_eq!(t.count("nodes").await, 8);
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM nodes WHERE parent_id IS NULL")
                .await,
            1
        );
        for depth in 0..3 {
            let child = id_of(&t, &format!("t.{depth}")).await;
            let parent = id_of(&t, &format!("t.{}", depth + 1)).await;
            assert_eq!(
                t.ints(&format!("SELECT parent_id FROM nodes WHERE id = {child}"))
                    .await,
                vec![Some(parent)]
            );
        }
        assert_eq!(s.related(root, Node::CHILDREN).await?.len(), 2);
        t.assert_consistent().await;
        Ok(())
    }
}
