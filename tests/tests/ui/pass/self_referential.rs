// Valid: a self-referential tree; both sides point at the same model.
use orm_core::meta::RelKind;
use orm_core::prelude::*;

#[derive(Model)]
#[model(table = "nodes")]
pub struct Node {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "nodes.id", on_delete = "cascade")]
    pub parent_id: Option<i64>,
    #[relationship(back_populates = "children")]
    pub parent: BelongsTo<Node>,
    #[relationship(back_populates = "parent", cascade = "all, delete-orphan")]
    pub children: HasMany<Node>,
}

fn main() {
    let rels = Node::META.relationships;
    assert_eq!((rels[0].kind, rels[1].kind), (RelKind::BelongsTo, RelKind::HasMany));
    assert_eq!(Node::CHILDREN.index(), 1);
}
