//! Sets of rows described without loading them, so that a cascade over rows that are not loaded
//! costs one statement per relationship level instead of one per row. The planner builds them;
//! `sql::rowset` renders them.

use crate::column::Expr;
use crate::meta::ModelMeta;
use crate::value::Value;
use std::fmt;

/// A set of rows of one model, described without loading them.
#[derive(Debug, Clone)]
pub(crate) enum RowSet {
    /// Rows whose `column` is one of `values`.
    Keys {
        model: &'static ModelMeta,
        column: usize,
        values: Vec<Value>,
    },
    /// Rows matching a query filter (bulk delete).
    Filter {
        model: &'static ModelMeta,
        expr: Expr,
    },
    /// Rows whose foreign key `fk` references a row of `parent` through `parent_column`.
    Referencing {
        model: &'static ModelMeta,
        fk: usize,
        parent: Box<RowSet>,
        parent_column: usize,
    },
    /// The rows of `roots` and every row below them through the self-referential key `fk`.
    Subtree {
        fk: usize,
        parent_column: usize,
        roots: Box<RowSet>,
    },
    /// `set` without the rows whose `column` is one of `values` (objects moved away in memory).
    Except {
        set: Box<RowSet>,
        column: usize,
        values: Vec<Value>,
    },
    /// Rows whose `column` is one of the values a `Capture` step read earlier in the flush
    /// (related keys that later statements destroy the means to find).
    Captured {
        model: &'static ModelMeta,
        column: usize,
        slot: usize,
    },
}

impl RowSet {
    pub(crate) fn model(&self) -> &'static ModelMeta {
        match self {
            RowSet::Keys { model, .. }
            | RowSet::Filter { model, .. }
            | RowSet::Referencing { model, .. }
            | RowSet::Captured { model, .. } => model,
            RowSet::Subtree { roots, .. } => roots.model(),
            RowSet::Except { set, .. } => set.model(),
        }
    }

    /// Whether the set is known only once a `Capture` step has run.
    pub(crate) fn depends_on_capture(&self) -> bool {
        match self {
            RowSet::Captured { .. } => true,
            RowSet::Keys { .. } | RowSet::Filter { .. } => false,
            RowSet::Referencing { parent, .. } => parent.depends_on_capture(),
            RowSet::Subtree { roots, .. } => roots.depends_on_capture(),
            RowSet::Except { set, .. } => set.depends_on_capture(),
        }
    }

    /// Replaces captured sets by the key lists the flush read for them.
    pub(crate) fn resolve(&self, captures: &[Vec<Value>]) -> RowSet {
        self.map_leaf(&|leaf| match leaf {
            RowSet::Captured {
                model,
                column,
                slot,
            } => RowSet::Keys {
                model,
                column: *column,
                values: captures.get(*slot).cloned().unwrap_or_default(),
            },
            other => other.clone(),
        })
    }

    /// The same set with its leaf (the key list, filter or capture it starts from) replaced.
    fn map_leaf(&self, f: &impl Fn(&RowSet) -> RowSet) -> RowSet {
        match self {
            RowSet::Referencing {
                model,
                fk,
                parent,
                parent_column,
            } => RowSet::Referencing {
                model,
                fk: *fk,
                parent: Box::new(parent.map_leaf(f)),
                parent_column: *parent_column,
            },
            RowSet::Subtree {
                fk,
                parent_column,
                roots,
            } => RowSet::Subtree {
                fk: *fk,
                parent_column: *parent_column,
                roots: Box::new(roots.map_leaf(f)),
            },
            RowSet::Except {
                set,
                column,
                values,
            } => RowSet::Except {
                set: Box::new(set.map_leaf(f)),
                column: *column,
                values: values.clone(),
            },
            leaf => f(leaf),
        }
    }

    /// How many bound values the set carries.
    pub(crate) fn param_count(&self) -> usize {
        match self {
            RowSet::Keys { values, .. } => values.len(),
            RowSet::Filter { .. } | RowSet::Captured { .. } => 0,
            RowSet::Referencing { parent, .. } => parent.param_count(),
            RowSet::Subtree { roots, .. } => roots.param_count(),
            RowSet::Except { set, values, .. } => set.param_count() + values.len(),
        }
    }

    /// Splits the set's key list into pieces whose statements stay under `max_params`.
    pub(crate) fn chunks(&self, max_params: usize) -> Vec<RowSet> {
        let fixed = self.param_count() - self.key_list_len();
        let room = max_params.saturating_sub(fixed + 16).max(1);
        if self.key_list_len() <= room {
            return vec![self.clone()];
        }
        let mut out = Vec::new();
        let mut start = 0;
        while start < self.key_list_len() {
            let end = (start + room).min(self.key_list_len());
            out.push(self.with_key_range(start, end));
            start = end;
        }
        out
    }

    fn key_list_len(&self) -> usize {
        match self {
            RowSet::Keys { values, .. } => values.len(),
            RowSet::Filter { .. } | RowSet::Captured { .. } => 0,
            RowSet::Referencing { parent, .. } => parent.key_list_len(),
            RowSet::Subtree { roots, .. } => roots.key_list_len(),
            RowSet::Except { set, .. } => set.key_list_len(),
        }
    }

    fn with_key_range(&self, start: usize, end: usize) -> RowSet {
        self.map_leaf(&|leaf| match leaf {
            RowSet::Keys {
                model,
                column,
                values,
            } => RowSet::Keys {
                model,
                column: *column,
                values: values[start..end].to_vec(),
            },
            other => other.clone(),
        })
    }

    /// Whether the set is certainly empty without asking the database.
    pub(crate) fn is_empty(&self) -> bool {
        self.key_list_len() == 0 && self.has_key_list()
    }

    fn has_key_list(&self) -> bool {
        match self {
            RowSet::Keys { .. } => true,
            RowSet::Filter { .. } | RowSet::Captured { .. } => false,
            RowSet::Referencing { parent, .. } => parent.has_key_list(),
            RowSet::Subtree { roots, .. } => roots.has_key_list(),
            RowSet::Except { set, .. } => set.has_key_list(),
        }
    }
}

impl fmt::Display for RowSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowSet::Keys {
                model,
                column,
                values,
            } if values.len() <= 5 => {
                let list: Vec<String> = values.iter().map(Value::to_string).collect();
                write!(
                    f,
                    "{} with {} in [{}]",
                    model.table,
                    model.columns[*column].name,
                    list.join(", ")
                )
            }
            RowSet::Keys {
                model,
                column,
                values,
            } => {
                write!(
                    f,
                    "{} with {} in [{} values]",
                    model.table,
                    model.columns[*column].name,
                    values.len()
                )
            }
            RowSet::Filter { model, .. } => write!(f, "{} matching the query", model.table),
            RowSet::Referencing {
                model, fk, parent, ..
            } => {
                write!(
                    f,
                    "{} whose {} references ({parent})",
                    model.table, model.columns[*fk].name
                )
            }
            RowSet::Subtree { roots, .. } => write!(f, "the subtrees under ({roots})"),
            RowSet::Except { set, values, .. } => {
                write!(f, "{set}, except {} moved away", values.len())
            }
            RowSet::Captured { model, column, .. } => {
                write!(
                    f,
                    "{} with {} among the keys read earlier",
                    model.table, model.columns[*column].name
                )
            }
        }
    }
}
