//! Observability (issue 11, item 5): spans for flush, commit, query and each statement, with
//! the statement's kind, table, rows and duration; bound values only when the user opts in.

use orm_core::prelude::*;
use orm_tests::harness::{self, placeholders};
use orm_tests::models::{Address, User};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A closed span: its name, its fields as text, and its parent's name.
#[derive(Debug, Clone)]
struct SpanRecord {
    name: &'static str,
    fields: BTreeMap<&'static str, String>,
    parent: Option<&'static str>,
}

impl SpanRecord {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// Collects every span that closes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Recorded>>);

/// Every span as it opened (with the fields it opened with), and every span that closed (with
/// its fields then).
#[derive(Default)]
struct Recorded {
    opened: Vec<SpanRecord>,
    closed: Vec<SpanRecord>,
}

impl Capture {
    /// The spans that closed, with their fields.
    fn spans(&self) -> Vec<SpanRecord> {
        self.0.lock().expect("capture lock").closed.clone()
    }

    /// The spans that opened, with the fields they opened with. A span closes when its last handle and
    /// its last child are gone, which a test cannot always wait for; that it opened is enough
    /// for its name and place.
    fn opened(&self) -> Vec<SpanRecord> {
        self.0.lock().expect("capture lock").opened.clone()
    }

    /// The first closed statement span that `wanted` accepts, waiting for it to close. A
    /// statement's span closes where its last clone is dropped, and the SQLite driver keeps one
    /// on its worker thread until that thread has finished the command: the caller can have the
    /// result before the span has closed.
    async fn closed_statement(&self, wanted: impl Fn(&SpanRecord) -> bool) -> Option<SpanRecord> {
        for _ in 0..500 {
            let spans = self.spans();
            if let Some(found) = statements(&spans).into_iter().find(|s| wanted(s)) {
                return Some(found.clone());
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        None
    }

    fn clear(&self) {
        *self.0.lock().expect("capture lock") = Recorded::default();
    }
}

struct Fields(BTreeMap<&'static str, String>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            let opened = SpanRecord {
                name: span.name(),
                fields: fields.0.clone(),
                parent: span.parent().map(|p| p.name()),
            };
            self.0.lock().expect("capture lock").opened.push(opened);
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let fields = span
            .extensions_mut()
            .remove::<Fields>()
            .map(|f| f.0)
            .unwrap_or_default();
        let record = SpanRecord {
            name: span.name(),
            fields,
            parent: span.parent().map(|p| p.name()),
        };
        self.0.lock().expect("capture lock").closed.push(record);
    }
}

/// The tests of this file run one at a time, against one global subscriber: `tracing` caches,
/// per call site, whether any subscriber wants it, and scoped subscribers coming and going on
/// parallel threads leave call sites cached as unwanted while a test still wants them.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The spans recorded since the last call, by the one global subscriber (installed once).
fn fresh_capture() -> Capture {
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    let capture = CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(capture.clone()),
        )
        .expect("no other global subscriber in this test binary");
        capture
    });
    capture.clear();
    capture.clone()
}

fn statements(spans: &[SpanRecord]) -> Vec<&SpanRecord> {
    spans.iter().filter(|s| s.name == "orm.statement").collect()
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn flush_commit_and_statements_have_spans_with_their_facts() -> Result<()> {
        let _alone = ONE_AT_A_TIME.lock().await;
        let capture = fresh_capture();
        async {
            let t = harness::fresh(&[User::META, Address::META]).await;
            let mut s = t.db.session();
            s.add(User::new("ed", "Ed Jones", "secret-nickname"))?;
            s.commit().await?;
            let opened = capture.opened();
            assert!(opened.iter().any(|s| s.name == "orm.commit"), "{opened:?}");
            assert!(
                opened.iter().any(|s| s.name == "orm.flush" && s.parent == Some("orm.commit")),
                "the commit's flush: {opened:?}"
            );
            let insert = capture
                .closed_statement(|s| s.field("kind") == Some("insert"))
                .await
                .expect("an insert statement span");
            capture
                .closed_statement(|s| s.field("sql") == Some("COMMIT"))
                .await
                .expect("the commit is a statement too");
            let spans = capture.spans();
            assert_eq!(insert.field("table"), Some("users"));
            assert_eq!(insert.field("rows"), Some("1"));
            assert!(insert.field("duration_us").is_some(), "{insert:?}");
            assert_eq!(insert.parent, Some("orm.flush"));
            assert!(insert.field("sql").is_some_and(|sql| sql.contains("INSERT")));
            assert_eq!(insert.field("values"), None, "values are not recorded by default");
            let everything = format!("{spans:?}");
            assert!(!everything.contains("secret-nickname"), "no bound value in any span");

            let found = s.query::<User>().filter(User::NAME.eq("ed")).all_owned().await?;
            assert_eq!(found.len(), 1);
            let opened = capture.opened();
            let query = opened.iter().find(|s| s.name == "orm.query").expect("a query span");
            assert_eq!(query.field("table"), Some("users"));
            assert_eq!(query.field("method"), Some("all_owned"));
            let select = capture
                .closed_statement(|s| s.parent == Some("orm.query"))
                .await
                .expect("the query's statement runs in its span");
            assert_eq!(select.field("kind"), Some("select"));
            assert_eq!(select.field("rows"), Some("1"));
            Ok::<_, Error>(())
        }
        .await
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn bound_values_and_errors_are_recorded_when_asked() -> Result<()> {
        let _alone = ONE_AT_A_TIME.lock().await;
        let capture = fresh_capture();
        async {
            let t = harness::fresh(&[User::META, Address::META]).await;
            t.db.set_trace_values(true);
            let mut s = t.db.session();
            let found: Vec<(String,)> = s
                .sql(placeholders("SELECT name FROM users WHERE nickname = ?"))
                .bind("opted-in-value")
                .fetch_all()
                .await?;
            assert!(found.is_empty());
            let failed = s.sql("SELECT * FROM no_such_table").fetch_values().await;
            assert!(failed.is_err());
            let select = capture
                .closed_statement(|s| s.field("sql").is_some_and(|sql| sql.contains("WHERE nickname")))
                .await
                .expect("the raw select's span");
            assert_eq!(select.field("kind"), Some("select"));
            assert_eq!(select.field("rows"), Some("0"));
            assert!(select.field("values").is_some_and(|v| v.contains("opted-in-value")), "{select:?}");
            let failure = capture
                .closed_statement(|s| s.field("sql").is_some_and(|sql| sql.contains("no_such_table")))
                .await
                .expect("the failed statement's span");
            assert!(failure.field("error").is_some(), "{failure:?}");
            assert_eq!(failure.field("rows"), None);
            Ok::<_, Error>(())
        }
        .await
    }
}
