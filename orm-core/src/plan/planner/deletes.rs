//! Deletes as set-based statements: the roots' key sets in dependency order, each with what its
//! rows require first (keys captured for many-to-one cascades, mutual keys nulled, subtrees
//! widened) and the rows that depend on them.

use super::*;

impl Planner<'_> {
    pub(super) fn plan_deletes(&mut self, unloaded_roots: Vec<RowSet>) -> Result<()> {
        self.guard_at = self.plan.steps.len();
        self.plan_assoc_removes();
        self.plan_assoc_cleanups();
        let mut groups: Vec<RowSet> = self.root_groups();
        groups.extend(unloaded_roots);
        groups.append(&mut self.unloaded_parents);
        let mut models: Vec<&'static ModelMeta> = Vec::new();
        for set in &groups {
            if !models.iter().any(|m| m.same(set.model())) {
                models.push(set.model());
            }
        }
        // Referencing tables first.
        let order: Vec<&'static ModelMeta> = schema::dependency_order(&models)
            .into_iter()
            .rev()
            .collect();
        self.break_cycles_between_groups(&groups, &order);
        for model in order {
            let sets: Vec<RowSet> = groups
                .iter()
                .filter(|s| s.model().same(model))
                .cloned()
                .collect();
            for set in sets {
                let mut path = Vec::new();
                self.delete_set(set, &mut path)?;
            }
        }
        Ok(())
    }

    /// When rows of two tables that reference each other are both deleted, the rows deleted later
    /// still reference the rows deleted first: their key is nulled before any delete
    /// (SQLAlchemy's `post_update`, docs/dev/semantics.md §7).
    pub(super) fn break_cycles_between_groups(
        &mut self,
        groups: &[RowSet],
        order: &[&'static ModelMeta],
    ) {
        for (i, first) in order.iter().enumerate() {
            for later in &order[i + 1..] {
                for fk in later.foreign_keys {
                    let nullable = later.columns[fk.column].nullable;
                    if fk.target_table != first.table || later.same(first) || !nullable {
                        continue;
                    }
                    for set in groups.iter().filter(|s| s.model().same(later)) {
                        self.plan.steps.push(Step::Nullify {
                            set: set.clone(),
                            column: fk.column,
                        });
                    }
                }
            }
        }
    }

    /// Association rows that reference objects deleted through a many-to-many `delete`, also
    /// those linking them to other owners (docs/dev/semantics.md §4).
    pub(super) fn plan_assoc_cleanups(&mut self) {
        for (link, target) in std::mem::take(&mut self.assoc_cleanups) {
            let Some(key) = self
                .arena
                .get(target)
                .filter(|e| e.state == ObjectState::Persistent)
            else {
                continue;
            };
            let value = key.obj.column_value(link.parent_column);
            let set = RowSet::Keys {
                model: link.child,
                column: link.fk_column,
                values: vec![value],
            };
            self.plan.steps.push(Step::Delete { set });
        }
    }

    pub(super) fn plan_assoc_removes(&mut self) {
        let mut seen = HashSet::default();
        for (model, columns, values) in std::mem::take(&mut self.assoc_removes) {
            let (a, b) = normalise(columns, values);
            if !seen.insert((model.table, a.clone(), b.clone())) {
                continue; // the same association row is never deleted twice (docs/dev/semantics.md §4)
            }
            let expr = crate::column::Expr::And(vec![
                crate::column::Expr::Compare {
                    column: a.0,
                    op: crate::column::CmpOp::Eq,
                    value: a.1,
                },
                crate::column::Expr::Compare {
                    column: b.0,
                    op: crate::column::CmpOp::Eq,
                    value: b.1,
                },
            ]);
            self.plan.steps.push(Step::Delete {
                set: RowSet::Filter { model, expr },
            });
        }
    }

    /// Explicit roots not covered by a parent's cascade, grouped per model as key sets.
    pub(super) fn root_groups(&self) -> Vec<RowSet> {
        let mut by_model: Vec<(&'static ModelMeta, Vec<Key>)> = Vec::new();
        let mut seen = HashSet::default();
        for &id in &self.roots {
            if self.covered.contains(&id) || self.is_pending(id) || !seen.insert(id) {
                continue;
            }
            let entry = self.arena.entry(id);
            let Some(key) = entry.key() else { continue };
            match by_model.iter_mut().find(|(m, _)| m.same(entry.meta())) {
                Some((_, keys)) => keys.push(key),
                None => by_model.push((entry.meta(), vec![key])),
            }
        }
        by_model
            .into_iter()
            .flat_map(|(model, keys)| key_sets(model, keys))
            .collect()
    }

    pub(super) fn delete_set(&mut self, set: RowSet, path: &mut Vec<&'static str>) -> Result<()> {
        let model = set.model();
        if path.contains(&model.table) || set.is_empty() {
            return Ok(());
        }
        path.push(model.table);
        let set = self.widen_to_subtree(set)?;
        self.break_mutual_keys(&set)?;
        let parents = self.dependents_of(&set, path)?;
        self.plan.steps.push(Step::Delete { set });
        for parent_set in parents {
            self.delete_captured(parent_set, path)?;
        }
        path.pop();
        Ok(())
    }

    /// Plans what deleting `set` requires of the rows that depend on it; returns the sets of
    /// parents a many-to-one `delete` reaches (their keys are read before these rows go).
    pub(super) fn dependents_of(
        &mut self,
        set: &RowSet,
        path: &mut Vec<&'static str>,
    ) -> Result<Vec<RowSet>> {
        let model = set.model();
        let mut parents = Vec::new();
        for index in 0..model.relationships.len() {
            let rel = &model.relationships[index];
            match self.resolve(model, index)? {
                Resolved::Parent(link) if rel.cascade.contains(Cascade::DELETE) => {
                    if let Some(rows) = self.undecided_rows(set, link.fk_column) {
                        parents.push(self.capture(
                            &rows,
                            link.fk_column,
                            link.parent,
                            link.parent_column,
                        ));
                    }
                }
                resolved => self.dependents(set, rel, resolved, path)?,
            }
        }
        Ok(parents)
    }

    /// The rows of `set` whose many-to-one `delete` cascades were not decided in memory. Every
    /// object this flush deletes had them decided from its current reference (`cascade_from`);
    /// reading its stored key again would follow a reference the user changed (D7). `None`: no
    /// row is left to read. (A composite key cannot be excluded: such rows are read as stored.)
    pub(super) fn undecided_rows(&self, set: &RowSet, fk_column: usize) -> Option<RowSet> {
        let model = set.model();
        let [pk] = model.primary_key else {
            return Some(set.clone());
        };
        let decided: HashSet<Value> = self
            .deleted
            .iter()
            .filter(|id| self.reference_known(**id, fk_column))
            .map(|id| self.arena.entry(*id))
            .filter(|e| e.state == ObjectState::Persistent && e.meta().same(model))
            .map(|e| e.stored(*pk))
            .collect();
        if decided.is_empty() {
            return Some(set.clone());
        }
        if let RowSet::Keys { column, values, .. } = set {
            if column == pk {
                let rest: Vec<Value> = values
                    .iter()
                    .filter(|v| !decided.contains(v))
                    .cloned()
                    .collect();
                return (!rest.is_empty()).then_some(RowSet::Keys {
                    model,
                    column: *pk,
                    values: rest,
                });
            }
        }
        Some(RowSet::Except {
            set: Box::new(set.clone()),
            column: *pk,
            values: decided.into_iter().collect(),
        })
    }

    /// Rows the database deletes by its own `ON DELETE CASCADE`: the ORM issues no DELETE for
    /// them (D2), but what depends on them is still handled (their children nulled or deleted).
    pub(super) fn database_cascade(
        &mut self,
        set: RowSet,
        path: &mut Vec<&'static str>,
    ) -> Result<()> {
        let model = set.model();
        if path.contains(&model.table) || set.is_empty() {
            return Ok(());
        }
        path.push(model.table);
        let parents = self.dependents_of(&set, path)?;
        for parent_set in parents {
            self.delete_captured(parent_set, path)?;
        }
        path.pop();
        Ok(())
    }

    /// A `Capture` step reading `column` of `set`; returns the set of `target` rows whose
    /// `target_column` is among the values read.
    pub(super) fn capture(
        &mut self,
        set: &RowSet,
        column: usize,
        target: &'static ModelMeta,
        target_column: usize,
    ) -> RowSet {
        let slot = self.plan.captures;
        self.plan.captures += 1;
        self.plan.steps.push(Step::Capture {
            set: set.clone(),
            column,
            slot,
        });
        RowSet::Captured {
            model: target,
            column: target_column,
            slot,
        }
    }

    pub(super) fn delete_captured(
        &mut self,
        set: RowSet,
        path: &mut Vec<&'static str>,
    ) -> Result<()> {
        self.plan.captured_deletes.push(set.clone());
        self.delete_set(set, path)
    }

    /// Rows that reference rows their own cascade deletes (mutual foreign keys) have that key
    /// nulled first, in its own UPDATE (SQLAlchemy's `post_update`); else neither delete could run.
    pub(super) fn break_mutual_keys(&mut self, set: &RowSet) -> Result<()> {
        let model = set.model();
        for fk in model.foreign_keys {
            let column = &model.columns[fk.column];
            if fk.target_table == model.table || !column.nullable {
                continue;
            }
            if self.cascade_reaches(model, fk.target_table)? {
                self.plan.steps.push(Step::Nullify {
                    set: set.clone(),
                    column: fk.column,
                });
            }
        }
        Ok(())
    }

    /// Whether deleting rows of `model` deletes rows of `table` through delete cascades.
    pub(super) fn cascade_reaches(
        &mut self,
        model: &'static ModelMeta,
        table: &str,
    ) -> Result<bool> {
        let mut seen: Vec<&'static str> = vec![model.table];
        let mut work = vec![model];
        while let Some(m) = work.pop() {
            for index in 0..m.relationships.len() {
                let rel = &m.relationships[index];
                let Resolved::Children(link) = self.resolve(m, index)? else {
                    continue;
                };
                let deletes =
                    rel.cascade.contains(Cascade::DELETE) || link.on_delete() == OnDelete::Cascade;
                if !deletes
                    || rel.passive_deletes == PassiveDeletes::All
                    || seen.contains(&link.child.table)
                {
                    continue;
                }
                if link.child.table == table {
                    return Ok(true);
                }
                seen.push(link.child.table);
                work.push(link.child);
            }
        }
        Ok(false)
    }

    /// A self-referential one-to-many with `delete` deletes whole subtrees in one statement.
    pub(super) fn widen_to_subtree(&mut self, set: RowSet) -> Result<RowSet> {
        let model = set.model();
        for index in 0..model.relationships.len() {
            let rel = &model.relationships[index];
            if let Resolved::Children(link) = self.resolve(model, index)? {
                if link.child.same(model)
                    && rel.cascade.contains(Cascade::DELETE)
                    && rel.passive_deletes == PassiveDeletes::Off
                {
                    return Ok(RowSet::Subtree {
                        fk: link.fk_column,
                        parent_column: link.parent_column,
                        roots: Box::new(set),
                    });
                }
            }
        }
        Ok(set)
    }
}
