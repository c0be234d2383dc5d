//! Preview (D11): the plan a flush would run, with row counts, without writing anything.

use super::*;

impl Session {
    /// The plan the next flush would run, with row counts, without writing anything (D11).
    pub async fn preview(&mut self) -> Result<crate::plan::preview::Preview> {
        self.adopt_assignments().await?;
        self.cascade_save_update()?;
        match planner::plan_flush(&self.arena, Vec::new()) {
            Ok(plan) => self.describe(&plan).await,
            // A refusal found in memory (D6) is what the preview is for: report it.
            Err(refusal @ Error::WouldNullRequiredKey { .. }) => {
                Ok(crate::plan::preview::Preview {
                    roots: self.marked_roots(|_| true),
                    refusals: vec![refusal.to_string()],
                    ..Default::default()
                })
            }
            Err(other) => Err(other),
        }
    }

    /// Descriptions ("User 5") of the objects marked for deletion that `keep` accepts.
    fn marked_roots(&self, keep: impl Fn(ObjId) -> bool) -> Vec<String> {
        self.arena
            .iter()
            .filter(|(id, e)| e.is_live() && e.marked_delete && keep(*id))
            .map(|(_, e)| format!("{} {}", e.meta().name, e.describe_key()))
            .collect()
    }

    /// What deleting `handle` (with every cascade) would do, without doing it (D11).
    pub async fn preview_delete<T: crate::Model>(
        &mut self,
        handle: crate::Handle<T>,
    ) -> Result<crate::plan::preview::Preview> {
        let id = self.check(handle)?;
        let was_marked = self.arena.entry(id).marked_delete;
        self.arena.entry_mut(id).marked_delete = true;
        let preview = self.preview().await;
        self.arena.entry_mut(id).marked_delete = was_marked;
        preview
    }

    async fn describe(&mut self, plan: &Plan) -> Result<crate::plan::preview::Preview> {
        use crate::plan::preview::Preview;
        let dialect = self.db.dialect();
        let mut out = Preview {
            roots: self.marked_roots(|id| plan.deleted.contains(&id)),
            ..Preview::default()
        };
        let mut captures: Captures = vec![Vec::new(); plan.captures];
        for step in &plan.steps {
            let step = &step.resolved(&captures);
            if let Step::Capture { set, column, slot } = step {
                // Reading the related keys is part of the preview too: later counts need them.
                let statement = rowset::select(dialect, set, *column);
                let ctx = Context::new(Action::Select, set.model().table);
                captures[*slot] = distinct_keys(self.fetch_in_tx(statement, ctx).await?);
                continue;
            }
            if let Some((action, set, text, count)) = describe::set_step(dialect, step) {
                let rows = self
                    .fetch_in_tx(count, Context::new(Action::Select, set.model().table))
                    .await?;
                let rows = u64::try_from(count_of(&rows)).unwrap_or(0);
                if let Step::Guard { refusal, .. } = step {
                    if rows > 0 {
                        out.refusals.push(refusal.error().to_string());
                    }
                }
                out.record(action, set.model().table, text, rows);
                continue;
            }
            match step {
                Step::Insert { model, objects } => {
                    let sql = describe::insert(dialect, model, objects.len());
                    out.record("insert", model.table, sql, objects.len() as u64);
                }
                Step::Update {
                    model,
                    columns,
                    objects,
                } => {
                    let sql = describe::update(dialect, model, columns, objects.len());
                    out.record("update", model.table, sql, objects.len() as u64);
                }
                Step::AssocInsert { model, rows, .. } => {
                    let sql = describe::insert(dialect, model, rows.len());
                    out.record("insert", model.table, sql, rows.len() as u64);
                }
                _ => {}
            }
        }
        Ok(out)
    }
}
