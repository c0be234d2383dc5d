//! `single_parent = true`: an object may have one parent through a relationship. Checked at the
//! moment of attaching, counting the parents in memory and the links stored in the database that
//! the session does not hold differently (D8).

use super::Session;
use crate::arena::ObjectState;
use crate::column::{CmpOp, Expr};
use crate::database::{Action, Context};
use crate::error::{Error, Result};
use crate::meta::RelationshipMeta;
use crate::model::ObjId;
use crate::schema::{self, Resolved};
use crate::sql::{self, Window};
use crate::value::Value;

impl Session {
    /// `single_parent = true`: an object may have one parent through this relationship, counting
    /// parents in memory and links stored in the database (D8).
    pub(super) async fn check_single_parent(
        &mut self,
        owner: ObjId,
        rel: &'static RelationshipMeta,
        child: ObjId,
    ) -> Result<()> {
        if !rel.single_parent {
            return Ok(());
        }
        let owner_meta = self.arena.entry(owner).meta();
        let index = owner_meta.relationship_index(rel.field).unwrap_or_default();
        let in_memory = self.arena.iter().any(|(id, e)| {
            id != owner
                && e.is_live()
                && e.meta().same(owner_meta)
                && e.obj.relation(index).held().any(|m| m == child)
        });
        if in_memory || self.stored_parent_elsewhere(owner, rel, child).await? {
            let child_entry = self.arena.entry(child);
            return Err(Error::SingleParent {
                parent: owner_meta.name,
                field: rel.field,
                child: child_entry.meta().name,
                child_key: child_entry.describe_key(),
            });
        }
        Ok(())
    }

    async fn stored_parent_elsewhere(
        &mut self,
        owner: ObjId,
        rel: &'static RelationshipMeta,
        child: ObjId,
    ) -> Result<bool> {
        let owner_meta = self.arena.entry(owner).meta();
        let child_entry = self.arena.entry(child);
        if child_entry.state != ObjectState::Persistent {
            return Ok(false);
        }
        let owner_key = self.arena.entry(owner).key();
        match schema::resolve(owner_meta, rel)? {
            Resolved::Children(link) => {
                let stored = child_entry.stored(link.fk_column);
                let mine = self.arena.entry(owner).obj.column_value(link.parent_column);
                Ok(!stored.is_null() && stored != mine)
            }
            Resolved::Parent(link) => {
                // Another row of the owner's table references this target in the database and,
                // if that row is in the session, still does in memory.
                let target_key = child_entry.obj.column_value(link.parent_column);
                let filter = Expr::Compare {
                    column: link.fk_column,
                    op: CmpOp::Eq,
                    value: target_key.clone(),
                };
                let statement = sql::select_columns(
                    self.db.dialect(),
                    owner_meta,
                    owner_meta.primary_key,
                    Some(&filter),
                    &Window::default(),
                );
                let ctx = Context::new(Action::Select, owner_meta.table);
                let keys = self.fetch_in_tx(statement, ctx).await?;
                let index = owner_meta.relationship_index(rel.field).unwrap_or_default();
                Ok(keys
                    .iter()
                    .filter(|key| Some(key.as_slice()) != owner_key.as_deref())
                    .any(|key| match self.arena.lookup(owner_meta, key) {
                        Some(other) => {
                            self.still_references(other, index, link.fk_column, child, &target_key)
                        }
                        None => true,
                    }))
            }
            Resolved::Association {
                owner: owner_link,
                target,
            } => {
                // The owners stored as linked to this child, other than this one, that are not
                // in the session with the link removed in memory.
                let child_key = child_entry.obj.column_value(target.parent_column);
                let mine = self
                    .arena
                    .entry(owner)
                    .obj
                    .column_value(owner_link.parent_column);
                let assoc = owner_link.child;
                let filter = Expr::Compare {
                    column: target.fk_column,
                    op: CmpOp::Eq,
                    value: child_key,
                };
                let statement = sql::select_columns(
                    self.db.dialect(),
                    assoc,
                    &[owner_link.fk_column],
                    Some(&filter),
                    &Window::default(),
                );
                let ctx = Context::new(Action::Select, assoc.table);
                let rows = self.fetch_in_tx(statement, ctx).await?;
                let index = owner_meta.relationship_index(rel.field).unwrap_or_default();
                Ok(rows
                    .into_iter()
                    .filter_map(|row| row.into_iter().next())
                    .any(|other| {
                        if other == mine {
                            return false;
                        }
                        match self.arena.lookup(owner_meta, std::slice::from_ref(&other)) {
                            Some(holder) => self.arena.get(holder).is_some_and(|e| {
                                let slot = e.obj.relation(index);
                                e.is_live() && (!slot.loaded || slot.held().any(|m| m == child))
                            }),
                            None => true,
                        }
                    }))
            }
        }
    }

    /// Whether an object in the session references `target` through relationship `index`
    /// (its loaded reference if loaded, else its key column).
    fn still_references(
        &self,
        id: ObjId,
        index: usize,
        fk_column: usize,
        target: ObjId,
        key: &Value,
    ) -> bool {
        let Some(entry) = self
            .arena
            .get(id)
            .filter(|e| e.is_live() && !e.marked_delete)
        else {
            return false;
        };
        let slot = entry.obj.relation(index);
        if slot.loaded {
            slot.held().any(|m| m == target)
        } else {
            entry.obj.column_value(fk_column) == *key
        }
    }
}
