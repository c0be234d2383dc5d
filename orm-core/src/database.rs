//! A database: a backend's connection pool, schema creation, and the one place where statements
//! are logged, counted and their failures turned into [`Error`]s.

use crate::backend::{Backend, DbFailure, Dialect, ExecOutcome, Row, Transaction};
use crate::error::{Error, Result};
use crate::meta::{ForeignKeyMeta, ModelMeta};
use crate::schema;
use crate::sql::{self, Statement};
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tracing::Instrument;

/// A handle to one database (cheap to clone; clones share the pool).
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn Backend>,
    statements: AtomicU64,
    /// Whether statement spans record bound values (off: they can hold personal data).
    trace_values: AtomicBool,
    /// Tables whose relationships were validated (once per model set, before any SQL).
    validated: Mutex<HashSet<(&'static str, &'static str)>>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.inner.backend)
            .field("statements", &self.statements_executed())
            .finish()
    }
}

/// What a statement does, for logs and error messages ("inserting into `users`").
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    Select,
    Insert,
    Update,
    Delete,
    Nullify,
    Schema,
    Transaction,
}

/// A statement's action and the table it touches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    pub action: Action,
    pub table: &'static str,
}

impl Context {
    pub(crate) fn new(action: Action, table: &'static str) -> Self {
        Context { action, table }
    }

    fn describe(&self) -> String {
        let verb = match self.action {
            Action::Select => "reading from",
            Action::Insert => "inserting into",
            Action::Update => "updating",
            Action::Delete => "deleting from",
            Action::Nullify => "setting foreign keys to NULL in",
            Action::Schema => "creating or dropping",
            Action::Transaction => "ending the transaction on",
        };
        format!("{verb} `{}`", self.table)
    }

    pub(crate) fn error(&self, failure: DbFailure) -> Error {
        failure.into_error(self.describe(), self.table)
    }
}

impl Action {
    /// The statement kind a trace reports.
    fn kind(self) -> &'static str {
        match self {
            Action::Select => "select",
            Action::Insert => "insert",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Nullify => "nullify",
            Action::Schema => "schema",
            Action::Transaction => "transaction",
        }
    }
}

/// What a finished statement reports to its span.
trait Traced {
    /// Rows returned, inserted, updated or deleted.
    fn rows(&self) -> u64;
}

impl Traced for Vec<Row> {
    fn rows(&self) -> u64 {
        self.len() as u64
    }
}

impl Traced for ExecOutcome {
    fn rows(&self) -> u64 {
        self.rows_affected
    }
}

impl Traced for Box<dyn Transaction> {
    fn rows(&self) -> u64 {
        0
    }
}

impl Traced for () {
    fn rows(&self) -> u64 {
        0
    }
}

/// The span of one statement (target `orm::sql`, level DEBUG), with its kind, table and SQL;
/// its rows, duration and any error are recorded when it ends. Bound values are recorded only
/// where the database was told to ([`Database::set_trace_values`]): they can hold personal data.
fn statement_span(statement: &Statement, ctx: Context, values: bool) -> tracing::Span {
    let span = tracing::debug_span!(
        target: "orm::sql",
        "orm.statement",
        kind = ctx.action.kind(),
        table = ctx.table,
        sql = %statement.sql,
        params = statement.params.len(),
        values = tracing::field::Empty,
        rows = tracing::field::Empty,
        duration_us = tracing::field::Empty,
        error = tracing::field::Empty,
    );
    if values && !span.is_disabled() {
        span.record("values", tracing::field::debug(&statement.params));
    }
    span
}

/// A statement's span, from just before it runs.
struct StatementTrace {
    span: tracing::Span,
    params: usize,
    started: std::time::Instant,
}

impl StatementTrace {
    /// Runs the driver's future under the span, then records how it ended.
    async fn run<T: Traced>(
        self,
        sql: &str,
        driver: impl std::future::Future<Output = std::result::Result<T, DbFailure>>,
    ) -> std::result::Result<T, DbFailure> {
        let result = driver.instrument(self.span.clone()).await;
        finish_span(&self.span, sql, self.params, self.started, &result);
        result
    }
}

/// Records how a statement ended on its span, and logs it (one DEBUG event per statement, with
/// its parameter count, rows and duration).
fn finish_span<T: Traced>(
    span: &tracing::Span,
    statement: &str,
    params: usize,
    started: std::time::Instant,
    result: &std::result::Result<T, DbFailure>,
) {
    let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    span.record("duration_us", duration_us);
    match result {
        Ok(done) => {
            let rows = done.rows();
            span.record("rows", rows);
            tracing::debug!(target: "orm::sql", parent: span, params, rows, duration_us, "{statement}");
        }
        Err(failure) => {
            span.record("error", tracing::field::display(failure));
            tracing::debug!(target: "orm::sql", parent: span, params, duration_us, error = %failure, "{statement}");
        }
    }
}

impl Database {
    /// Wraps a backend's pool; backends' `connect` functions call this.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Database {
            inner: Arc::new(Inner {
                backend,
                statements: AtomicU64::new(0),
                trace_values: AtomicBool::new(false),
                validated: Mutex::default(),
            }),
        }
    }

    /// The SQL dialect of the backend.
    pub fn dialect(&self) -> &'static dyn Dialect {
        self.inner.backend.dialect()
    }

    /// How many statements this database has executed so far, across all sessions (reads,
    /// writes and transaction control). Tests use it to assert statement counts.
    pub fn statements_executed(&self) -> u64 {
        self.inner.statements.load(Ordering::Relaxed)
    }

    pub(crate) fn backend(&self) -> &dyn Backend {
        &*self.inner.backend
    }

    /// The backend as its concrete type `B` (`orm_sqlite::SqliteBackend`,
    /// `orm_postgres::PgBackend`), for tools that need the driver's pool; `None` if it is
    /// another type or does not offer itself ([`Backend::as_any`]).
    pub fn backend_as<B: Backend>(&self) -> Option<&B> {
        self.inner.backend.as_any()?.downcast_ref::<B>()
    }

    /// `models` and every model they reach through relationships, each once, with their
    /// relationships validated: the set of tables [`create_all`](Self::create_all) creates.
    pub fn model_set(&self, models: &[&'static ModelMeta]) -> Result<Vec<&'static ModelMeta>> {
        let all = schema::reachable(models);
        for model in &all {
            self.ensure_valid(model)?;
        }
        Ok(all)
    }

    /// Validates the relationships of `model` once, before the first statement that uses it.
    pub(crate) fn ensure_valid(&self, model: &'static ModelMeta) -> Result<()> {
        let mut validated = self
            .inner
            .validated
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if validated.contains(&(model.table, model.name)) {
            return Ok(());
        }
        schema::validate(model)?;
        validated.insert((model.table, model.name));
        Ok(())
    }

    /// Creates the tables of `models` (and of every model they reach through relationships), in
    /// foreign-key dependency order, with an index on each foreign-key column. All of it runs
    /// in one transaction: if one statement fails, no table is created.
    pub async fn create_all(&self, models: &[&'static ModelMeta]) -> Result<()> {
        let dialect = self.dialect();
        let models = self.model_set(models)?;
        let order = schema::dependency_order(&models);
        let later = self.later_foreign_keys(&order);
        let mut statements = Vec::new();
        for &model in &order {
            let ctx = Context::new(Action::Schema, model.table);
            let inline = |fk: &ForeignKeyMeta| !later.contains(&(model.table, fk.column));
            statements.push((sql::create_table(dialect, model, inline), ctx));
            for index in sql::create_indexes(dialect, model) {
                statements.push((index, ctx));
            }
        }
        for (model, fk) in self.foreign_keys_in(&order, &later) {
            let ctx = Context::new(Action::Schema, model.table);
            statements.push((sql::add_foreign_key(dialect, model, fk), ctx));
        }
        self.run_schema(statements).await
    }

    /// Drops the tables of `models` (and of every model they reach), referencing tables first,
    /// in one transaction.
    pub async fn drop_all(&self, models: &[&'static ModelMeta]) -> Result<()> {
        let dialect = self.dialect();
        let models = self.model_set(models)?;
        let order = schema::dependency_order(&models);
        let later = self.later_foreign_keys(&order);
        let mut statements = Vec::new();
        for (model, fk) in self.foreign_keys_in(&order, &later) {
            let ctx = Context::new(Action::Schema, model.table);
            statements.push((sql::drop_foreign_key(dialect, model, fk), ctx));
        }
        for &model in order.iter().rev() {
            let ctx = Context::new(Action::Schema, model.table);
            statements.push((sql::drop_table(dialect, model), ctx));
        }
        self.run_schema(statements).await
    }

    /// The foreign keys (table, column index) that reference a table created after their own,
    /// where the dialect cannot declare them before that table exists.
    fn later_foreign_keys(&self, order: &[&'static ModelMeta]) -> HashSet<(&'static str, usize)> {
        if self.dialect().forward_references() {
            return HashSet::new();
        }
        let mut created = HashSet::new();
        let mut later = HashSet::new();
        for model in order {
            created.insert(model.table);
            for fk in model.foreign_keys {
                if !created.contains(fk.target_table) {
                    later.insert((model.table, fk.column));
                }
            }
        }
        later
    }

    fn foreign_keys_in<'a>(
        &self,
        order: &'a [&'static ModelMeta],
        keys: &'a HashSet<(&'static str, usize)>,
    ) -> impl Iterator<Item = (&'static ModelMeta, &'static ForeignKeyMeta)> + 'a {
        order.iter().flat_map(move |&model| {
            model
                .foreign_keys
                .iter()
                .filter(move |fk| keys.contains(&(model.table, fk.column)))
                .map(move |fk| (model, fk))
        })
    }

    /// Runs schema statements in one transaction (both backends have transactional DDL).
    async fn run_schema(&self, statements: Vec<(Statement, Context)>) -> Result<()> {
        let mut tx = self.begin().await?;
        for (statement, ctx) in statements {
            self.execute_in(&mut tx, statement, ctx).await?;
        }
        self.end(tx, sql::TransactionEnd::Commit)
            .await
            .map_err(|f| Context::new(Action::Transaction, "schema").error(f))
    }

    /// Checks that the tables of `models` (and of every model they reach) exist with every
    /// column the models declare, by reading no row through each model's column list: the
    /// first missing table or column is an [`Error::MissingTable`] or [`Error::MissingColumn`].
    /// `create_all` leaves an existing table as it is, so a service calls this at start-up to
    /// fail fast rather than on its first request.
    pub async fn check_schema(&self, models: &[&'static ModelMeta]) -> Result<()> {
        let window = sql::Window {
            limit: Some(0),
            ..sql::Window::default()
        };
        for model in self.model_set(models)? {
            let statement = sql::select(self.dialect(), model, None, &window);
            self.fetch(None, statement, Context::new(Action::Select, model.table))
                .await?;
        }
        Ok(())
    }

    /// Runs raw SQL outside any session (an escape hatch: `PRAGMA`s, reports, maintenance).
    /// Values are bound to the dialect's placeholders; the rows come back as [`Value`](crate::Value)s.
    pub async fn fetch_raw(&self, sql: &str, params: &[crate::Value]) -> Result<Vec<Row>> {
        let statement = Statement {
            sql: sql.to_owned(),
            params: params.to_vec(),
        };
        self.fetch(None, statement, Context::new(Action::Select, "raw SQL"))
            .await
    }

    /// Runs a raw SQL write outside any session and returns the number of rows it changed.
    pub async fn execute_raw(&self, sql: &str, params: &[crate::Value]) -> Result<u64> {
        let statement = Statement {
            sql: sql.to_owned(),
            params: params.to_vec(),
        };
        let outcome = self
            .execute(statement, Context::new(Action::Update, "raw SQL"))
            .await?;
        Ok(outcome.rows_affected)
    }

    /// Closes the pool: sessions fail with [`Error::PoolClosed`] afterwards.
    pub async fn close(&self) {
        self.inner.backend.close().await;
    }

    /// Whether statement spans record their bound values (off by default: values can hold
    /// personal data). Turn it on while debugging, not in production logs.
    pub fn set_trace_values(&self, on: bool) {
        self.inner.trace_values.store(on, Ordering::Relaxed);
    }

    /// Ends the transaction `tx` (its driver runs the COMMIT or ROLLBACK), counted and traced
    /// as a statement.
    pub(crate) async fn end(
        &self,
        tx: Box<dyn Transaction>,
        end: sql::TransactionEnd,
    ) -> std::result::Result<(), DbFailure> {
        let statement = sql::transaction_end(end);
        let trace = self.trace(&statement, Context::new(Action::Transaction, "session"));
        let driver = match end {
            sql::TransactionEnd::Commit => tx.commit(),
            sql::TransactionEnd::Rollback => tx.rollback(),
        };
        trace.run(&statement.sql, driver).await
    }

    /// Counts a statement about to run and opens its span (see [`statement_span`]).
    fn trace(&self, statement: &Statement, ctx: Context) -> StatementTrace {
        self.inner.statements.fetch_add(1, Ordering::Relaxed);
        let values = self.inner.trace_values.load(Ordering::Relaxed);
        StatementTrace {
            span: statement_span(statement, ctx, values),
            params: statement.params.len(),
            started: std::time::Instant::now(),
        }
    }

    /// Runs a write outside any transaction.
    pub(crate) async fn execute(&self, statement: Statement, ctx: Context) -> Result<ExecOutcome> {
        let trace = self.trace(&statement, ctx);
        let driver = self.backend().execute(&statement.sql, statement.params);
        trace
            .run(&statement.sql, driver)
            .await
            .map_err(|f| ctx.error(f))
    }

    /// Runs a query on `tx` if given, else on the pool.
    pub(crate) async fn fetch(
        &self,
        tx: Option<&mut Box<dyn Transaction>>,
        statement: Statement,
        ctx: Context,
    ) -> Result<Vec<Row>> {
        let trace = self.trace(&statement, ctx);
        let driver = match tx {
            Some(tx) => tx.fetch(&statement.sql, statement.params),
            None => self.backend().fetch(&statement.sql, statement.params),
        };
        trace
            .run(&statement.sql, driver)
            .await
            .map_err(|f| ctx.error(f))
    }

    /// Runs a write inside `tx`.
    pub(crate) async fn execute_in(
        &self,
        tx: &mut Box<dyn Transaction>,
        statement: Statement,
        ctx: Context,
    ) -> Result<ExecOutcome> {
        let trace = self.trace(&statement, ctx);
        let driver = tx.execute(&statement.sql, statement.params);
        trace
            .run(&statement.sql, driver)
            .await
            .map_err(|f| ctx.error(f))
    }

    /// Runs a statement of savepoint `name` inside `tx`.
    pub(crate) async fn savepoint(
        &self,
        tx: &mut Box<dyn Transaction>,
        step: sql::SavepointStep,
        name: &str,
    ) -> Result<()> {
        let statement = sql::savepoint(self.dialect(), step, name);
        self.execute_in(tx, statement, Context::new(Action::Transaction, "session"))
            .await
            .map(|_| ())
    }

    pub(crate) async fn begin(&self) -> Result<Box<dyn Transaction>> {
        self.begin_as(None).await
    }

    /// Begins a transaction with `statement`, or the driver's plain `BEGIN`.
    async fn begin_as(&self, statement: Option<&'static str>) -> Result<Box<dyn Transaction>> {
        let ctx = Context::new(Action::Transaction, "session");
        let shown = sql::transaction_begin(statement);
        let trace = self.trace(&shown, ctx);
        trace
            .run(&shown.sql, self.backend().begin(statement))
            .await
            .map_err(|f| ctx.error(f))
    }

    /// Begins a transaction with an isolation level or access mode, set by the statement that
    /// the dialect runs first in it.
    pub(crate) async fn begin_with(
        &self,
        options: &crate::transaction::TxOptions,
    ) -> Result<Box<dyn Transaction>> {
        let mut tx = self
            .begin_as(self.dialect().begin_statement(options))
            .await?;
        if let Some(statement) = sql::set_transaction(self.dialect(), options) {
            let ctx = Context::new(Action::Transaction, "session");
            self.execute_in(&mut tx, statement, ctx).await?;
        }
        Ok(tx)
    }
}
