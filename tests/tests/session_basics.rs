//! The session's basic contract (issue 2, item 4): `add` returns a typed handle, `get` goes through
//! the identity map, typed read and write access, change tracking that UPDATEs only the changed
//! columns, expire / refresh / expunge, every supported field type round-tripping, composite keys,
//! and the `orm::sql` statement log with parameter counts.

use orm_core::prelude::*;
use orm_core::{SqlType, Value, ValueError};
use orm_tests::models::{Address, User};

/// Collects the events logged on target `orm::sql`: the statement text and its parameter count.
mod capture {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    use std::thread::ThreadId;
    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::Layer;

    /// One logged statement.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Logged {
        pub sql: String,
        pub params: Option<u64>,
    }

    /// Records the `orm::sql` events of the thread that installed it.
    ///
    /// One global subscriber serves every test of this binary and routes each event to the
    /// capture of the thread it happened on. (A thread-local subscriber races with the other
    /// tests: tracing caches per call site whether anyone listens.)
    #[derive(Debug, Clone, Default)]
    pub struct Capture(Arc<Mutex<Vec<Logged>>>);

    type Sinks = Mutex<HashMap<ThreadId, Capture>>;

    fn sinks() -> &'static Sinks {
        static SINKS: OnceLock<Sinks> = OnceLock::new();
        SINKS.get_or_init(|| {
            let router = tracing_subscriber::registry().with(Router);
            tracing::subscriber::set_global_default(router).expect("the only global subscriber");
            Mutex::default()
        })
    }

    /// Stops capturing for its thread when dropped.
    pub struct Installed(ThreadId);

    impl Drop for Installed {
        fn drop(&mut self) {
            sinks().lock().expect("sinks lock").remove(&self.0);
        }
    }

    impl Capture {
        pub fn install(&self) -> Installed {
            let thread = std::thread::current().id();
            sinks()
                .lock()
                .expect("sinks lock")
                .insert(thread, self.clone());
            Installed(thread)
        }

        pub fn take(&self) -> Vec<Logged> {
            std::mem::take(&mut *self.0.lock().expect("capture lock"))
        }
    }

    struct Router;

    #[derive(Default)]
    struct Fields {
        message: Option<String>,
        params: Option<u64>,
    }

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.message = Some(format!("{value:?}"));
            }
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "message" {
                self.message = Some(value.to_owned());
            }
        }
        fn record_u64(&mut self, field: &Field, value: u64) {
            if field.name() == "params" {
                self.params = Some(value);
            }
        }
        fn record_i64(&mut self, field: &Field, value: i64) {
            if field.name() == "params" {
                self.params = u64::try_from(value).ok();
            }
        }
    }

    impl<S: tracing::Subscriber> Layer<S> for Router {
        fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
            if event.metadata().target() != "orm::sql" {
                return;
            }
            let Some(capture) = sinks()
                .lock()
                .expect("sinks lock")
                .get(&std::thread::current().id())
                .cloned()
            else {
                return;
            };
            let mut fields = Fields::default();
            event.record(&mut fields);
            capture.0.lock().expect("capture lock").push(Logged {
                sql: fields.message.unwrap_or_default(),
                params: fields.params,
            });
        }
    }
}

use capture::Capture;

/// A user newtype stored as an integer column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cents(pub i64);

impl SqlValue for Cents {
    const SQL_TYPE: SqlType = SqlType::Integer;
    fn to_value(&self) -> Value {
        Value::Integer(self.0)
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        i64::from_value(value).map(Cents)
    }
}

/// A user enum stored as text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mood {
    Happy,
    Grumpy,
}

impl SqlValue for Mood {
    const SQL_TYPE: SqlType = SqlType::Text;
    fn to_value(&self) -> Value {
        Value::Text(
            match self {
                Mood::Happy => "happy",
                Mood::Grumpy => "grumpy",
            }
            .into(),
        )
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match &value {
            Value::Text(s) if s == "happy" => Ok(Mood::Happy),
            Value::Text(s) if s == "grumpy" => Ok(Mood::Grumpy),
            other => Err(ValueError::mismatch("Mood", other)),
        }
    }
}

/// Every supported field type, plain and optional, plus user types.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "all_types")]
pub struct AllTypes {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub a_i8: i8,
    pub a_i16: i16,
    pub a_i32: i32,
    pub a_i64: i64,
    pub a_u8: u8,
    pub a_u16: u16,
    pub a_u32: u32,
    pub a_f32: f32,
    pub a_f64: f64,
    pub a_bool: bool,
    pub a_string: String,
    pub a_bytes: Vec<u8>,
    pub o_i8: Option<i8>,
    pub o_i16: Option<i16>,
    pub o_i32: Option<i32>,
    pub o_i64: Option<i64>,
    pub o_u8: Option<u8>,
    pub o_u16: Option<u16>,
    pub o_u32: Option<u32>,
    pub o_f32: Option<f32>,
    pub o_f64: Option<f64>,
    pub o_bool: Option<bool>,
    pub o_string: Option<String>,
    pub o_bytes: Option<Vec<u8>>,
    pub price: Cents,
    pub discount: Option<Cents>,
    pub mood: Mood,
    pub other_mood: Option<Mood>,
}

/// An association-style table with a composite, non-generated primary key.
#[derive(Model, Debug)]
#[model(table = "memberships")]
pub struct Membership {
    #[column(primary_key)]
    pub team: String,
    #[column(primary_key)]
    pub member: i64,
    pub role: String,
}

/// The `notes` table seen through two models.
#[derive(Model, Debug)]
#[model(table = "notes")]
pub struct Note {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub body: String,
}

/// A second model over `notes`.
#[derive(Model, Debug)]
#[model(table = "notes")]
pub struct NoteView {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub body: String,
}

async fn db() -> Result<Database> {
    orm_tests::fresh_db(&[User::META, Address::META]).await
}

/// Adds and commits one user, returning its generated id.
async fn seed_user(db: &Database, name: &str) -> Result<i64> {
    let mut s = db.session();
    let h = s.add(User::new(
        name,
        &format!("{name} full"),
        &format!("{name}-nick"),
    ))?;
    s.commit().await?;
    let id = s.read(h).await?.id;
    Ok(id.expect("a committed user has an id"))
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn add_returns_a_typed_handle_to_a_pending_object() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let before = db.statements_executed();
        let jack = s.add(User::new("jack", "Jack Bean", "gjffdd"))?;
        assert_eq!(
            db.statements_executed(),
            before,
            "add itself runs no statement"
        );
        assert_eq!(s.state(jack), ObjectState::Pending);
        let user: &User = s.read(jack).await?;
        assert_eq!(user.name, "jack");
        assert_eq!(user.id, None, "no id before the INSERT");

        s.flush().await?;
        assert_eq!(s.state(jack), ObjectState::Persistent);
        let id = s
            .read(jack)
            .await?
            .id
            .expect("the flush wrote the generated key back");
        s.commit().await?;

        let mut other = db.session();
        let found = other.get::<User>(id).await?.expect("the row was inserted");
        assert_eq!(other.read(found).await?.name, "jack");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn get_of_an_added_object_is_the_same_handle_without_a_select() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let jack = s.add(User::new("jack", "Jack Bean", "gjffdd"))?;
        s.flush().await?;
        let id = s.read(jack).await?.id.expect("flushed");

        let before = db.statements_executed();
        let again = s.get::<User>(id).await?.expect("held by the session");
        assert_eq!(again, jack, "the same row is the same handle");
        assert_eq!(
            db.statements_executed(),
            before,
            "get found the object in the identity map"
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn get_loads_once_then_hits_the_identity_map() -> Result<()> {
        let db = db().await?;
        let id = seed_user(&db, "wendy").await?;
        let mut s = db.session();

        let before = db.statements_executed();
        let first = s.get::<User>(id).await?.expect("stored");
        assert_eq!(
            db.statements_executed(),
            before + 1,
            "the first get runs one SELECT"
        );
        let second = s.get::<User>(id).await?.expect("held");
        assert_eq!(first, second);
        assert_eq!(
            db.statements_executed(),
            before + 1,
            "the second get runs nothing"
        );

        // A query returning the same row hands back the same handle, keeping in-memory changes.
        s.set_autoflush(false);
        s.write(first).await?.fullname = "changed in memory".into();
        let queried = s
            .query::<User>()
            .filter_by(User::NAME, "wendy")
            .one()
            .await?;
        assert_eq!(queried, first);
        assert_eq!(s.read(queried).await?.fullname, "changed in memory");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn get_of_a_missing_key_is_none() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        assert!(s.get::<User>(12345).await?.is_none());
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn write_changes_the_object_and_the_flush_stores_it() -> Result<()> {
        let db = db().await?;
        let id = seed_user(&db, "ed").await?;
        let mut s = db.session();
        let ed = s.get::<User>(id).await?.expect("stored");
        {
            let user: &mut User = s.write(ed).await?;
            user.nickname = None;
            user.fullname = "Ed Jones".into();
        }
        let user = s.read(ed).await?;
        assert_eq!(user.nickname, None);
        assert_eq!(user.fullname, "Ed Jones");
        s.commit().await?;

        let mut other = db.session();
        let stored = other.get::<User>(id).await?.expect("stored");
        let stored = other.read(stored).await?;
        assert_eq!(stored.nickname, None);
        assert_eq!(stored.fullname, "Ed Jones");
        assert_eq!(stored.name, "ed");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn flush_updates_only_the_changed_columns() -> Result<()> {
        let db = db().await?;
        let id = seed_user(&db, "ed").await?;
        let mut s = db.session();
        let ed = s.get::<User>(id).await?.expect("stored");
        s.write(ed).await?.nickname = Some("eddie".into());

        let capture = Capture::default();
        let guard = capture.install();
        s.flush().await?;
        drop(guard);

        let updates: Vec<_> = capture
            .take()
            .into_iter()
            .filter(|l| l.sql.starts_with("UPDATE"))
            .collect();
        assert_eq!(
            updates.len(),
            1,
            "one UPDATE for one changed object: {updates:?}"
        );
        let update = &updates[0];
        // Identifiers are quoted with grave accents on SQLite, double quotes on PostgreSQL.
        let sql = update.sql.replace('`', "\"");
        assert!(sql.contains("\"nickname\""), "{}", update.sql);
        for untouched in ["\"name\" =", "\"fullname\"", "SET \"id\""] {
            assert!(
                !sql.contains(untouched),
                "unchanged column {untouched} must not be written: {}",
                update.sql
            );
        }
        assert_eq!(
            update.params,
            Some(2),
            "one value for nickname, one for the key"
        );
        s.commit().await?;
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn an_update_does_not_overwrite_columns_it_did_not_change() -> Result<()> {
        let db = db().await?;
        let id = seed_user(&db, "ed").await?;

        // Session A loads the row; session B then changes `fullname` and commits.
        let mut a = db.session();
        let ed_a = a.get::<User>(id).await?.expect("stored");
        let mut b = db.session();
        let ed_b = b.get::<User>(id).await?.expect("stored");
        b.write(ed_b).await?.fullname = "set by B".into();
        b.commit().await?;

        // A changes only `nickname`: its stale `fullname` must not be written back.
        a.write(ed_a).await?.nickname = Some("set by A".into());
        a.commit().await?;

        let mut c = db.session();
        let ed = c.get::<User>(id).await?.expect("stored");
        let ed = c.read(ed).await?;
        assert_eq!(ed.fullname, "set by B");
        assert_eq!(ed.nickname.as_deref(), Some("set by A"));
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn flush_of_unchanged_objects_runs_no_statement() -> Result<()> {
        let db = db().await?;
        let id = seed_user(&db, "ed").await?;
        let mut s = db.session();
        let ed = s.get::<User>(id).await?.expect("stored");
        let _ = s.read(ed).await?;
        // Writing a field back to the value it had is not a change.
        let user = s.write(ed).await?;
        user.name = "ed".into();

        let before = db.statements_executed();
        s.flush().await?;
        assert_eq!(db.statements_executed(), before, "nothing to flush");
        s.commit().await?;
        assert_eq!(
            db.statements_executed(),
            before,
            "no transaction was opened, so commit has nothing to do"
        );
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn a_value_changed_and_changed_back_is_not_written() -> Result<()> {
        let db = db().await?;
        let id = seed_user(&db, "ed").await?;
        let mut s = db.session();
        let ed = s.get::<User>(id).await?.expect("stored");
        s.write(ed).await?.fullname = "temporary".into();
        s.write(ed).await?.fullname = "ed full".into();
        let before = db.statements_executed();
        s.flush().await?;
        assert_eq!(db.statements_executed(), before);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn every_supported_field_type_round_trips() -> Result<()> {
        let db = orm_tests::fresh_db(&[AllTypes::META]).await?;
        let full = AllTypes {
            id: None,
            a_i8: -8,
            a_i16: -16_000,
            a_i32: -2_000_000_000,
            a_i64: i64::MIN,
            a_u8: 255,
            a_u16: 65_535,
            a_u32: u32::MAX,
            a_f32: 1.5,
            a_f64: -0.125,
            a_bool: true,
            a_string: "héllo, 'world' \"quoted\"; -- not a comment".into(),
            a_bytes: vec![0, 1, 2, 255, 0],
            o_i8: Some(8),
            o_i16: Some(16),
            o_i32: Some(32),
            o_i64: Some(i64::MAX),
            o_u8: Some(0),
            o_u16: Some(1),
            o_u32: Some(2),
            o_f32: Some(-2.5),
            o_f64: Some(3.0),
            o_bool: Some(false),
            o_string: Some(String::new()),
            o_bytes: Some(Vec::new()),
            price: Cents(1999),
            discount: Some(Cents(-5)),
            mood: Mood::Grumpy,
            other_mood: Some(Mood::Happy),
        };
        let empty = AllTypes {
            o_i8: None,
            o_i16: None,
            o_i32: None,
            o_i64: None,
            o_u8: None,
            o_u16: None,
            o_u32: None,
            o_f32: None,
            o_f64: None,
            o_bool: None,
            o_string: None,
            o_bytes: None,
            discount: None,
            other_mood: None,
            a_bool: false,
            mood: Mood::Happy,
            ..full.clone()
        };

        let mut s = db.session();
        let h_full = s.add(full.clone())?;
        let h_empty = s.add(empty.clone())?;
        s.commit().await?;
        let id_full = s.read(h_full).await?.id;
        let id_empty = s.read(h_empty).await?.id;

        let mut other = db.session();
        for (id, expected) in [(id_full, full), (id_empty, empty)] {
            let id = id.expect("inserted");
            let h = other.get::<AllTypes>(id).await?.expect("stored");
            let loaded = other.read(h).await?;
            assert_eq!(
                *loaded,
                AllTypes {
                    id: Some(id),
                    ..expected
                }
            );
        }

        // Updating a user-typed column goes through `SqlValue` too.
        let h = other
            .query::<AllTypes>()
            .filter(AllTypes::MOOD.eq(Mood::Grumpy))
            .one()
            .await?;
        other.write(h).await?.price = Cents(1);
        other.commit().await?;
        let mut third = db.session();
        let cheap = third
            .query::<AllTypes>()
            .filter(AllTypes::PRICE.eq(Cents(1)))
            .count()
            .await?;
        assert_eq!(cheap, 1);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn composite_primary_keys_are_stored_and_found_by_tuple() -> Result<()> {
        let db = orm_tests::fresh_db(&[Membership::META]).await?;
        let mut s = db.session();
        let admin = s.add(Membership {
            team: "core".into(),
            member: 7,
            role: "admin".into(),
        })?;
        s.add(Membership {
            team: "core".into(),
            member: 8,
            role: "reader".into(),
        })?;
        s.add(Membership {
            team: "docs".into(),
            member: 7,
            role: "writer".into(),
        })?;
        s.flush().await?;
        let before = db.statements_executed();
        let found = s
            .get::<Membership>(("core".to_string(), 7_i64))
            .await?
            .expect("held");
        assert_eq!(found, admin);
        assert_eq!(db.statements_executed(), before, "identity map hit");
        s.commit().await?;

        let mut other = db.session();
        let docs = other
            .get::<Membership>(("docs".to_string(), 7_i64))
            .await?
            .expect("stored");
        assert_eq!(other.read(docs).await?.role, "writer");
        assert!(other
            .get::<Membership>(("docs".to_string(), 8_i64))
            .await?
            .is_none());

        // Updating a composite-keyed row touches only that row.
        other.write(docs).await?.role = "editor".into();
        other.commit().await?;
        let mut third = db.session();
        let roles: Vec<String> = {
            let all = third
                .query::<Membership>()
                .order_by(Membership::TEAM)
                .order_by(Membership::MEMBER)
                .all()
                .await?;
            let mut roles = Vec::new();
            for h in all {
                roles.push(third.read(h).await?.role.clone());
            }
            roles
        };
        assert_eq!(roles, ["admin", "reader", "editor"]);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn expire_reloads_the_object_on_next_access() -> Result<()> {
        let db = db().await?;
        let id = seed_user(&db, "ed").await?;
        let mut a = db.session();
        let ed = a.get::<User>(id).await?.expect("stored");
        assert_eq!(a.read(ed).await?.fullname, "ed full");

        let mut b = db.session();
        let ed_b = b.get::<User>(id).await?.expect("stored");
        b.write(ed_b).await?.fullname = "changed by B".into();
        b.commit().await?;

        // Without expiring, A keeps its loaded copy (and reads it without a statement).
        let before = db.statements_executed();
        assert_eq!(a.read(ed).await?.fullname, "ed full");
        assert_eq!(db.statements_executed(), before);

        a.expire(ed)?;
        assert_eq!(db.statements_executed(), before, "expire itself is lazy");
        assert_eq!(a.read(ed).await?.fullname, "changed by B");
        assert_eq!(db.statements_executed(), before + 1, "one SELECT to reload");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn expire_all_reloads_every_object() -> Result<()> {
        let db = db().await?;
        let ed_id = seed_user(&db, "ed").await?;
        let wendy_id = seed_user(&db, "wendy").await?;
        let mut a = db.session();
        let ed = a.get::<User>(ed_id).await?.expect("stored");
        let wendy = a.get::<User>(wendy_id).await?.expect("stored");

        let mut b = db.session();
        for id in [ed_id, wendy_id] {
            let h = b.get::<User>(id).await?.expect("stored");
            b.write(h).await?.nickname = None;
        }
        b.commit().await?;

        a.expire_all();
        assert_eq!(a.read(ed).await?.nickname, None);
        assert_eq!(a.read(wendy).await?.nickname, None);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn refresh_reloads_now_and_discards_unflushed_changes() -> Result<()> {
        let db = db().await?;
        let id = seed_user(&db, "ed").await?;
        let mut a = db.session();
        let ed = a.get::<User>(id).await?.expect("stored");

        let mut b = db.session();
        let ed_b = b.get::<User>(id).await?.expect("stored");
        b.write(ed_b).await?.fullname = "changed by B".into();
        b.commit().await?;

        a.write(ed).await?.nickname = Some("unflushed".into());
        let before = db.statements_executed();
        a.refresh(ed).await?;
        assert_eq!(
            db.statements_executed(),
            before + 1,
            "refresh reloads at once"
        );
        let user = a.read(ed).await?;
        assert_eq!(user.fullname, "changed by B");
        assert_eq!(
            user.nickname.as_deref(),
            Some("ed-nick"),
            "unflushed change discarded"
        );
        let before = db.statements_executed();
        a.flush().await?;
        assert_eq!(db.statements_executed(), before, "nothing left to flush");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn expunge_detaches_without_touching_the_database() -> Result<()> {
        let db = db().await?;
        let id = seed_user(&db, "ed").await?;
        let mut s = db.session();
        let ed = s.get::<User>(id).await?.expect("stored");
        s.write(ed).await?.fullname = "never written".into();

        let before = db.statements_executed();
        s.expunge(ed)?;
        assert_eq!(db.statements_executed(), before);
        assert_eq!(s.state(ed), ObjectState::Detached);
        assert!(matches!(
            s.read(ed).await,
            Err(Error::Unavailable {
                model: "User",
                state: "detached",
                ..
            })
        ));
        s.commit().await?;

        // The row is untouched, and a new get loads a fresh object under a new handle.
        let again = s.get::<User>(id).await?.expect("still stored");
        assert_ne!(again, ed);
        assert_eq!(s.read(again).await?.fullname, "ed full");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn expunging_a_pending_object_means_it_is_never_inserted() -> Result<()> {
        let db = db().await?;
        let mut s = db.session();
        let ghost = s.add(User::new("ghost", "Ghost", "boo"))?;
        s.expunge(ghost)?;
        assert_eq!(s.state(ghost), ObjectState::Detached);
        s.commit().await?;
        assert_eq!(s.query::<User>().count().await?, 0);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn every_statement_is_logged_on_orm_sql_with_its_parameter_count() -> Result<()> {
        let db = db().await?;
        let capture = Capture::default();
        let guard = capture.install();

        let mut s = db.session();
        s.add(User::new("jack", "Jack Bean", "gjffdd"))?;
        s.add(User::new("ed", "Ed Jones", "eddie"))?;
        let before = db.statements_executed();
        s.commit().await?;
        let n = s
            .query::<User>()
            .filter(User::NAME.is_in(["jack", "ed", "wendy"]))
            .count()
            .await?;
        assert_eq!(n, 2);
        let ran = db.statements_executed() - before;
        drop(guard);

        let logged = capture.take();
        assert_eq!(
            logged.len() as u64,
            ran,
            "every executed statement is logged exactly once: {logged:?}"
        );
        let insert = logged
            .iter()
            .find(|l| l.sql.replace('`', "\"").starts_with("INSERT INTO \"users\""))
            .expect("the INSERT is logged");
        assert_eq!(insert.params, Some(6), "two rows of three bound values");
        let count = logged
            .iter()
            .find(|l| l.sql.starts_with("SELECT COUNT(*)"))
            .expect("the COUNT is logged");
        // SQLite binds the three values of the IN list one by one; PostgreSQL binds them as
        // one array (`= ANY($1)`).
        let list_params = match orm_tests::harness::current() {
            orm_tests::harness::Backend::Sqlite => 3,
            orm_tests::harness::Backend::Postgres => 1,
        };
        assert_eq!(count.params, Some(list_params), "{}", count.sql);
        assert!(logged.iter().any(|l| l.sql == "COMMIT"), "{logged:?}");
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn values_reach_the_database_as_parameters_not_as_sql_text() -> Result<()> {
        let db = db().await?;
        let nasty = "x' OR '1'='1";
        let capture = Capture::default();
        let guard = capture.install();
        let mut s = db.session();
        let h = s.add(User::new(nasty, "Marker Fullname", "marker-nick"))?;
        s.flush().await?;
        s.write(h).await?.fullname = "Updated Marker".into();
        let found = s
            .query::<User>()
            .filter(
                User::NAME
                    .eq(nasty)
                    .and(User::NICKNAME.like("marker%"))
                    .and(User::FULLNAME.is_in(["Updated Marker", "other"])),
            )
            .all()
            .await?;
        s.commit().await?;
        drop(guard);
        assert_eq!(found, [h]);

        let logged = capture.take();
        for marker in ["x' OR", "Marker", "marker", "other"] {
            for l in &logged {
                assert!(
                    !l.sql.contains(marker),
                    "value {marker:?} spliced into SQL: {}",
                    l.sql
                );
            }
        }
        let select = logged
            .iter()
            .find(|l| l.sql.starts_with("SELECT") && l.sql.contains("LIKE"))
            .expect("the query is logged");
        // name, LIKE pattern, and the IN list: two values on SQLite, one array on PostgreSQL.
        let expected = match orm_tests::harness::current() {
            orm_tests::harness::Backend::Sqlite => 4,
            orm_tests::harness::Backend::Postgres => 3,
        };
        assert_eq!(select.params, Some(expected), "{}", select.sql);
        assert_eq!(
            select.sql.matches(['?', '$']).count(),
            expected as usize,
            "{}",
            select.sql
        );
        let update = logged
            .iter()
            .find(|l| l.sql.starts_with("UPDATE"))
            .expect("the UPDATE is logged");
        assert_eq!(update.sql.matches(['?', '$']).count(), 2, "{}", update.sql);
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn two_models_over_one_table_keep_separate_identities() -> Result<()> {
        let db = orm_tests::fresh_db(&[Note::META]).await?;
        let mut s = db.session();
        let note = s.add(Note {
            id: None,
            body: "hello".into(),
        })?;
        s.flush().await?;
        let id = s.read(note).await?.id.expect("flushed");
        // Reading the row as another model gives an object of that model, not the `Note`.
        let view = s.query::<NoteView>().one().await?;
        assert_eq!(s.read(view).await?.body, "hello");
        assert_eq!(s.get::<NoteView>(id).await?, Some(view));
        assert_eq!(s.get::<Note>(id).await?, Some(note));
        Ok(())
    }
}

orm_tests::backend_test! {
    #[tokio::test]
    async fn an_added_child_without_a_parent_is_inserted() -> Result<()> {
        // `Address` is the child of `User::addresses` (delete-orphan), but an object that never had
        // a parent is not an orphan: adding it inserts it with a NULL foreign key.
        let db = db().await?;
        let mut s = db.session();
        let addr = s.add(Address::new("lonely@example.com"))?;
        s.commit().await?;
        assert_eq!(s.state(addr), ObjectState::Persistent);
        let stored = s
            .query::<Address>()
            .filter(Address::USER_ID.is_null())
            .one()
            .await?;
        assert_eq!(stored, addr);
        Ok(())
    }
}
