//! Migrations (orm-migrate) on every backend: each kind of change generated, applied and
//! introspected again until the diff is empty; SQLite's table rebuild keeping rows and
//! constraints; a failed migration leaving the database as it was; applying twice; a diverged
//! database refused; the command line.

use orm_core::meta::ModelMeta;
use orm_core::prelude::*;
use orm_core::Value;
use orm_migrate::{Change, Error as MigrateError, GenerateOptions, Outcome, Renames};
use orm_tests::harness::{self, Backend, Fresh};
use std::path::Path;

/// The seed's users and addresses, in the versions the guide's "Migrations" chapter walks
/// through: first without a foreign key, then with a `status` column, then with the
/// foreign key (`ON DELETE CASCADE`), then without `nickname`.
pub mod seed {
    pub mod v1 {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "users")]
        pub struct User {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub name: String,
            pub fullname: String,
            pub nickname: Option<String>,
        }

        #[derive(Model, Debug)]
        #[model(table = "addresses")]
        pub struct Address {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub email_address: String,
            #[column(index)]
            pub user_id: Option<i64>,
        }
    }

    pub mod v2 {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "users")]
        pub struct User {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub name: String,
            pub fullname: String,
            pub nickname: Option<String>,
            #[column(default = "'active'")]
            pub status: String,
        }

        pub use super::v1::Address;
    }

    pub mod v3 {
        use orm_core::prelude::*;

        pub use super::v2::User;

        #[derive(Model, Debug)]
        #[model(table = "addresses")]
        pub struct Address {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub email_address: String,
            #[column(foreign_key = "users.id", on_delete = "cascade")]
            pub user_id: Option<i64>,
        }
    }

    pub mod v4 {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "users")]
        pub struct User {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub name: String,
            pub fullname: String,
            #[column(default = "'active'")]
            pub status: String,
        }

        pub use super::v3::Address;
    }
}

fn v1() -> [&'static ModelMeta; 2] {
    [seed::v1::User::META, seed::v1::Address::META]
}
fn v2() -> [&'static ModelMeta; 2] {
    [seed::v2::User::META, seed::v2::Address::META]
}
fn v3() -> [&'static ModelMeta; 2] {
    [seed::v3::User::META, seed::v3::Address::META]
}
fn v4() -> [&'static ModelMeta; 2] {
    [seed::v4::User::META, seed::v4::Address::META]
}

fn folder() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// Generates the migration to `models`, applies it, and checks that the database now matches
/// them exactly (the diff of a fresh introspection is empty).
async fn migrate_to(
    db: &Database,
    dir: &Path,
    models: &[&'static ModelMeta],
    options: GenerateOptions,
) -> orm_migrate::Generated {
    let generated = orm_migrate::generate(db, models, dir, &options)
        .await
        .expect("generate");
    let path = generated.path.clone().expect("a migration was written");
    let applied = orm_migrate::apply(db, dir).await.expect("apply");
    assert_eq!(applied.len(), 1, "{}", path.display());
    let diff = orm_migrate::diff(db, models, &Renames::new())
        .await
        .expect("diff");
    assert!(
        diff.is_empty(),
        "after applying {}:\n{}\nthe diff is {:?}",
        path.display(),
        std::fs::read_to_string(&path).unwrap_or_default(),
        diff.changes
    );
    generated
}

async fn texts(fresh: &Fresh, sql: &str) -> Vec<Option<String>> {
    fresh
        .rows(sql)
        .await
        .into_iter()
        .map(|row| match row.into_iter().next() {
            Some(Value::Text(text)) => Some(text),
            Some(Value::Null) | None => None,
            Some(other) => Some(format!("{other:?}")),
        })
        .collect()
}

orm_tests::backend_test! {
    /// The guide's example: the seed models evolve in three steps, each generated, applied and
    /// checked, with the rows kept.
    #[tokio::test]
    async fn the_seed_models_evolve_in_three_steps() {
        let fresh = harness::fresh(&[]).await;
        let db = &fresh.db;
        let dir = folder();

        let created = migrate_to(db, dir.path(), &v1(), GenerateOptions::new().name("create")).await;
        assert!(created.written.iter().any(|c| matches!(c, Change::CreateTable(t) if t.name == "users")));
        fresh.exec("INSERT INTO users (id, name, fullname, nickname) VALUES (1, 'jack', 'Jack Bean', 'gjffdd')").await;
        fresh.exec("INSERT INTO users (id, name, fullname, nickname) VALUES (2, 'wendy', 'Wendy W', NULL)").await;
        fresh.exec("INSERT INTO addresses (id, email_address, user_id) VALUES (1, 'jack@google.com', 1)").await;
        fresh.exec("INSERT INTO addresses (id, email_address, user_id) VALUES (2, 'j25@yahoo.com', 1)").await;
        fresh.exec("INSERT INTO addresses (id, email_address, user_id) VALUES (3, 'w@example.com', 2)").await;

        // 1. A column with a default: existing rows get it.
        let added = migrate_to(db, dir.path(), &v2(), GenerateOptions::new()).await;
        assert!(matches!(&added.written[..], [Change::AddColumn { column, .. }] if column.name == "status"));
        assert_eq!(
            texts(&fresh, "SELECT status FROM users ORDER BY id").await,
            [Some("active".to_owned()), Some("active".to_owned())]
        );

        // 2. A foreign key with ON DELETE CASCADE (SQLite: a rebuild of `addresses`).
        let keyed = migrate_to(db, dir.path(), &v3(), GenerateOptions::new()).await;
        assert!(keyed.written.iter().any(|c| matches!(c, Change::AddForeignKey { .. })));
        assert_eq!(fresh.count("addresses").await, 3);
        fresh.exec("DELETE FROM users WHERE id = 1").await;
        assert_eq!(fresh.count("addresses").await, 1, "the new foreign key cascades");

        // 3. Dropping a column is destructive: left out unless asked for, and marked.
        let refused = orm_migrate::generate(db, &v4(), dir.path(), &GenerateOptions::new())
            .await
            .expect("generate");
        assert!(refused.path.is_none());
        assert!(matches!(&refused.skipped[..], [Change::DropColumn { column, .. }] if column.name == "nickname"));
        let dropped =
            migrate_to(db, dir.path(), &v4(), GenerateOptions::new().allow_destructive(true)).await;
        let text = std::fs::read_to_string(dropped.path.as_ref().expect("written")).expect("read");
        assert!(text.contains("DESTRUCTIVE"), "{text}");
        assert_eq!(
            texts(&fresh, "SELECT fullname FROM users").await,
            [Some("Wendy W".to_owned())]
        );
        assert_eq!(fresh.count("addresses").await, 1);

        // The ORM works on the migrated tables.
        let mut s = db.session();
        let wendy = s.get::<seed::v4::User>(2).await.expect("get").expect("wendy");
        assert_eq!(s.read(wendy).await.expect("read").status, "active");
        fresh.assert_consistent().await;
    }
}

/// Every kind of change, before and after.
mod kinds {
    pub mod before {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "k_owners")]
        pub struct Owner {
            #[column(primary_key)]
            pub id: Option<i64>,
            #[column(unique)]
            pub code: String,
            pub legacy: Option<String>,
            pub score: i64,
            pub note: Option<String>,
            #[column(default = "'x'")]
            pub label: String,
            pub old_name: String,
        }

        #[derive(Model, Debug)]
        #[model(table = "k_pets")]
        pub struct Pet {
            #[column(primary_key)]
            pub id: Option<i64>,
            #[column(foreign_key = "k_owners.id")]
            pub owner_id: Option<i64>,
            #[column(index)]
            pub tag: String,
            pub nick: String,
            pub serial: String,
        }

        #[derive(Model, Debug)]
        #[model(table = "k_gone")]
        pub struct Gone {
            #[column(primary_key)]
            pub id: Option<i64>,
        }

        #[derive(Model, Debug)]
        #[model(table = "k_old_table")]
        pub struct Old {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub v: String,
        }
    }

    pub mod after {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "k_owners")]
        pub struct Owner {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub code: String,
            pub score: String,
            pub note: String,
            #[column(default = "'y'")]
            pub label: String,
            pub new_name: String,
            pub added: Option<i64>,
            #[column(default = "0")]
            pub added_default: i64,
        }

        #[derive(Model, Debug)]
        #[model(table = "k_pets")]
        pub struct Pet {
            #[column(primary_key)]
            pub id: Option<i64>,
            #[column(foreign_key = "k_owners.id", on_delete = "cascade")]
            pub owner_id: Option<i64>,
            pub tag: String,
            #[column(index)]
            pub nick: String,
            #[column(unique)]
            pub serial: String,
        }

        #[derive(Model, Debug)]
        #[model(table = "k_new_table")]
        pub struct New {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub v: String,
        }

        #[derive(Model, Debug)]
        #[model(table = "k_created")]
        pub struct Created {
            #[column(primary_key)]
            pub id: Option<i64>,
            #[column(foreign_key = "k_owners.id", on_delete = "set null")]
            pub owner_id: Option<i64>,
        }
    }
}

fn kinds_before() -> [&'static ModelMeta; 4] {
    use kinds::before::*;
    [Owner::META, Pet::META, Gone::META, Old::META]
}

fn kinds_after() -> [&'static ModelMeta; 4] {
    use kinds::after::*;
    [Owner::META, Pet::META, New::META, Created::META]
}

fn kind(change: &Change) -> &'static str {
    match change {
        Change::CreateTable(_) => "create table",
        Change::DropTable(_) => "drop table",
        Change::RenameTable { .. } => "rename table",
        Change::AddColumn { .. } => "add column",
        Change::DropColumn { .. } => "drop column",
        Change::RenameColumn { .. } => "rename column",
        Change::AlterColumn { from, to, .. } if from.type_name != to.type_name => "change type",
        Change::AlterColumn { from, to, .. } if from.nullable != to.nullable => {
            "change nullability"
        }
        Change::AlterColumn { .. } => "change default",
        Change::AlterPrimaryKey { .. } => "change primary key",
        Change::AddForeignKey { .. } => "add foreign key",
        Change::DropForeignKey { .. } => "drop foreign key",
        Change::AddIndex { index, .. } if index.unique => "add unique",
        Change::AddIndex { .. } => "add index",
        Change::DropIndex { index, .. } if index.unique => "drop unique",
        Change::DropIndex { .. } => "drop index",
        _ => "other",
    }
}

orm_tests::backend_test! {
    /// Each kind of change is generated and applied, the rows survive it, and the database
    /// then matches the models.
    #[tokio::test]
    async fn each_kind_of_change_is_generated_and_applied() {
        let fresh = harness::fresh(&[]).await;
        let db = &fresh.db;
        let dir = folder();
        migrate_to(db, dir.path(), &kinds_before(), GenerateOptions::new()).await;
        fresh.exec("INSERT INTO k_owners (id, code, legacy, score, note, label, old_name) VALUES (1, 'a', 'l', 5, 'n', 'x', 'first')").await;
        fresh.exec("INSERT INTO k_owners (id, code, legacy, score, note, old_name) VALUES (2, 'b', NULL, -7, 'm', 'second')").await;
        fresh.exec("INSERT INTO k_pets (id, owner_id, tag, nick, serial) VALUES (1, 1, 't', 'rex', 's1')").await;
        fresh.exec("INSERT INTO k_old_table (id, v) VALUES (1, 'kept')").await;

        // Without declared renames, a disappearing column or table is a drop and an add, with
        // a warning that says how to declare the rename.
        let guessed = orm_migrate::diff(db, &kinds_after(), &Renames::new()).await.expect("diff");
        let warnings = guessed.warnings.join("\n");
        assert!(warnings.contains("table `k_gone`, `k_old_table` disappears while `k_created`, `k_new_table` appears"), "{warnings}");
        assert!(warnings.contains("`k_owners.old_name`") && warnings.contains("--rename k_owners.OLD=NEW"), "{warnings}");
        let typo = orm_migrate::diff(db, &kinds_after(), &Renames::new().column("k_owners", "old_nmae", "new_name")).await;
        assert!(
            matches!(typo, Err(MigrateError::Rename { ref reason, .. }) if reason == "the database has no column `k_owners.old_nmae`"),
            "{typo:?}"
        );
        assert!(guessed.changes.iter().any(|c| matches!(c, Change::DropColumn { column, .. } if column.name == "old_name")));

        let renames = Renames::new()
            .table("k_old_table", "k_new_table")
            .column("k_owners", "old_name", "new_name");
        let options = GenerateOptions::new().allow_destructive(true).renames(renames.clone());
        let generated = orm_migrate::generate(db, &kinds_after(), dir.path(), &options)
            .await
            .expect("generate");
        let kinds: std::collections::BTreeSet<&str> = generated.written.iter().map(kind).collect();
        for expected in [
            "create table", "drop table", "rename table", "add column", "drop column",
            "rename column", "change type", "change nullability", "change default",
            "add foreign key", "drop foreign key", "add index", "drop index", "add unique",
            "drop unique",
        ] {
            assert!(kinds.contains(expected), "no `{expected}` among {kinds:?}");
        }
        orm_migrate::apply(db, dir.path()).await.expect("apply");
        let after = orm_migrate::diff(db, &kinds_after(), &renames).await.expect("diff");
        assert!(after.is_empty(), "{:?}", after.changes);

        assert_eq!(
            texts(&fresh, "SELECT new_name FROM k_owners ORDER BY id").await,
            [Some("first".to_owned()), Some("second".to_owned())]
        );
        assert_eq!(
            texts(&fresh, "SELECT score FROM k_owners ORDER BY id").await,
            [Some("5".to_owned()), Some("-7".to_owned())]
        );
        assert_eq!(
            texts(&fresh, "SELECT label FROM k_owners ORDER BY id").await,
            [Some("x".to_owned()), Some("x".to_owned())],
            "a new default does not rewrite stored values"
        );
        assert_eq!(fresh.ints("SELECT added_default FROM k_owners ORDER BY id").await, [Some(0), Some(0)]);
        assert_eq!(texts(&fresh, "SELECT v FROM k_new_table").await, [Some("kept".to_owned())]);
        assert_eq!(fresh.count("k_pets").await, 1);

        // The new constraints hold: a second `serial` is refused, the pet follows its owner.
        let mut s = db.session();
        let duplicate = s.sql("INSERT INTO k_pets (id, owner_id, tag, nick, serial) VALUES (2, 1, 'u', 'fido', 's1')").execute().await;
        assert!(duplicate.is_err(), "the unique constraint was added");
        s.rollback().await.expect("rollback");
        fresh.exec("DELETE FROM k_owners WHERE id = 1").await;
        assert_eq!(fresh.count("k_pets").await, 0, "ON DELETE CASCADE was added");
        fresh.assert_consistent().await;
    }
}

/// A parent with a child pointing in (ON DELETE CASCADE), a foreign key pointing out, and
/// indexes; the change to `r_parents` makes SQLite rebuild it.
mod rebuild {
    pub mod before {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "r_groups")]
        pub struct Group {
            #[column(primary_key)]
            pub id: Option<i64>,
        }

        #[derive(Model, Debug)]
        #[model(table = "r_parents")]
        pub struct Parent {
            #[column(primary_key)]
            pub id: Option<i64>,
            #[column(foreign_key = "r_groups.id", on_delete = "cascade")]
            pub group_id: Option<i64>,
            #[column(unique)]
            pub code: String,
            #[column(index)]
            pub name: String,
            pub note: Option<String>,
        }

        #[derive(Model, Debug)]
        #[model(table = "r_children")]
        pub struct Child {
            #[column(primary_key)]
            pub id: Option<i64>,
            #[column(foreign_key = "r_parents.id", on_delete = "cascade")]
            pub parent_id: i64,
        }
    }

    pub mod after {
        use orm_core::prelude::*;

        pub use super::before::{Child, Group};

        #[derive(Model, Debug)]
        #[model(table = "r_parents")]
        pub struct Parent {
            #[column(primary_key)]
            pub id: Option<i64>,
            #[column(foreign_key = "r_groups.id", on_delete = "cascade")]
            pub group_id: Option<i64>,
            #[column(unique)]
            pub code: String,
            #[column(index)]
            pub name: String,
            #[column(default = "'none'")]
            pub note: String,
        }
    }
}

orm_tests::backend_test! {
    /// Changing a column of a table with rows, a child pointing in with ON DELETE CASCADE and
    /// a key pointing out keeps every row and every constraint (on SQLite, through the
    /// rebuild with foreign keys off: the old table's drop must not cascade to the child).
    #[tokio::test]
    async fn a_table_rebuild_keeps_rows_and_constraints() {
        use rebuild::{after, before};
        let fresh = harness::fresh(&[]).await;
        let db = &fresh.db;
        let dir = folder();
        let before_models = [before::Group::META, before::Parent::META, before::Child::META];
        let after_models = [after::Group::META, after::Parent::META, after::Child::META];
        migrate_to(db, dir.path(), &before_models, GenerateOptions::new()).await;
        fresh.exec("INSERT INTO r_groups (id) VALUES (1)").await;
        for id in 1..=50 {
            fresh.exec(&format!("INSERT INTO r_parents (id, group_id, code, name, note) VALUES ({id}, 1, 'c{id}', 'n{id}', 'x')")).await;
            fresh.exec(&format!("INSERT INTO r_children (id, parent_id) VALUES ({id}, {id})")).await;
        }
        let constraints_before = orm_migrate::introspect(db).await.expect("introspect");

        let generated = migrate_to(db, dir.path(), &after_models, GenerateOptions::new()).await;
        if fresh.backend == Backend::Sqlite {
            let text = std::fs::read_to_string(generated.path.as_ref().expect("written")).expect("read");
            assert!(text.starts_with("-- no-transaction"), "{text}");
            assert!(text.contains("PRAGMA foreign_keys = OFF"), "{text}");
        }
        assert_eq!(fresh.count("r_parents").await, 50);
        assert_eq!(fresh.count("r_children").await, 50, "no child was cascaded away");
        assert_eq!(fresh.scalar("SELECT count(*) FROM r_parents WHERE note = 'x'").await, 50);

        // Every constraint is still there, and enforced.
        let constraints_after = orm_migrate::introspect(db).await.expect("introspect");
        for name in ["r_children", "r_groups"] {
            assert_eq!(constraints_after.table(name), constraints_before.table(name), "{name}");
        }
        let parents = constraints_after.table("r_parents").expect("r_parents");
        assert_eq!(parents.foreign_keys.len(), 1);
        assert_eq!(parents.indexes.len(), 3, "{:?}", parents.indexes);
        let mut s = db.session();
        let orphan = s.sql("INSERT INTO r_children (id, parent_id) VALUES (100, 999)").execute().await;
        assert!(orphan.is_err(), "the child's foreign key is enforced");
        s.rollback().await.expect("rollback");
        let duplicate = s.sql("INSERT INTO r_parents (id, code, name, note) VALUES (100, 'c1', 'n', 'x')").execute().await;
        assert!(duplicate.is_err(), "the unique constraint is enforced");
        s.rollback().await.expect("rollback");
        fresh.exec("DELETE FROM r_parents WHERE id = 1").await;
        assert_eq!(fresh.count("r_children").await, 49, "the child's cascade still works");
        fresh.exec("DELETE FROM r_groups").await;
        assert_eq!(fresh.count("r_parents").await, 0, "the parent's own cascade still works");
        assert_eq!(fresh.count("r_children").await, 0);
        if fresh.backend == Backend::Sqlite {
            assert_eq!(fresh.scalar("PRAGMA foreign_keys").await, 1, "foreign keys are back on");
        }
    }
}

/// A table, and a migration that creates another and then adds a NOT NULL column without a
/// default to it, which fails on its rows.
mod failing {
    pub mod before {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "f_items")]
        pub struct Item {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub name: String,
        }
    }

    pub mod after {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "f_items")]
        pub struct Item {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub name: String,
            pub required: String,
        }

        #[derive(Model, Debug)]
        #[model(table = "f_new")]
        pub struct New {
            #[column(primary_key)]
            pub id: Option<i64>,
        }
    }

    pub mod fixed {
        use orm_core::prelude::*;

        pub use super::after::New;

        #[derive(Model, Debug)]
        #[model(table = "f_items")]
        pub struct Item {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub name: String,
            #[column(default = "'none'")]
            pub required: String,
        }
    }
}

orm_tests::backend_test! {
    /// A migration that fails half-way is rolled back whole: the table it created first is
    /// gone, the rows are there, it is still pending, and the database stays usable.
    #[tokio::test]
    async fn a_failed_migration_leaves_the_database_as_it_was() {
        use failing::{after, before, fixed};
        let fresh = harness::fresh(&[]).await;
        let db = &fresh.db;
        let dir = folder();
        migrate_to(db, dir.path(), &[before::Item::META], GenerateOptions::new()).await;
        fresh.exec("INSERT INTO f_items (id, name) VALUES (1, 'kept')").await;
        let schema_before = orm_migrate::introspect(db).await.expect("introspect");

        let generated = orm_migrate::generate(db, &[after::Item::META, after::New::META], dir.path(), &GenerateOptions::new())
            .await
            .expect("generate");
        let failing_file = generated.path.expect("written");
        let failure = orm_migrate::apply(db, dir.path()).await;
        assert!(matches!(failure, Err(MigrateError::Failed { version: 2, .. })), "{failure:?}");
        assert_eq!(orm_migrate::introspect(db).await.expect("introspect"), schema_before);
        assert_eq!(texts(&fresh, "SELECT name FROM f_items").await, [Some("kept".to_owned())]);
        let status = orm_migrate::status(db, dir.path()).await.expect("status");
        assert_eq!(status.pending.iter().map(|m| m.version).collect::<Vec<_>>(), [2]);
        if fresh.backend == Backend::Sqlite {
            assert_eq!(fresh.scalar("PRAGMA foreign_keys").await, 1, "foreign keys are back on");
        }

        // Generating over a pending migration would write its changes twice: refused.
        let pending = orm_migrate::generate(db, &[fixed::Item::META, fixed::New::META], dir.path(), &GenerateOptions::new()).await;
        assert!(matches!(pending, Err(MigrateError::Pending { ref versions }) if versions == &[2]), "{pending:?}");

        // Fixed: the file removed, the model given a default, generated again.
        std::fs::remove_file(&failing_file).expect("remove");
        migrate_to(db, dir.path(), &[fixed::Item::META, fixed::New::META], GenerateOptions::new()).await;
        assert_eq!(texts(&fresh, "SELECT required FROM f_items").await, [Some("none".to_owned())]);
    }
}

orm_tests::backend_test! {
    /// Applying again does nothing; a database ahead of the folder, a changed migration and a
    /// pending migration older than an applied one are refused, and nothing is applied.
    #[tokio::test]
    async fn applying_twice_is_a_no_op_and_a_diverged_database_is_refused() {
        let fresh = harness::fresh(&[]).await;
        let db = &fresh.db;
        let dir = folder();
        let first = migrate_to(db, dir.path(), &v1(), GenerateOptions::new()).await;
        let second = migrate_to(db, dir.path(), &v2(), GenerateOptions::new()).await;
        let first = first.path.expect("written");
        let second = second.path.expect("written");

        let schema = orm_migrate::introspect(db).await.expect("introspect");
        assert!(orm_migrate::apply(db, dir.path()).await.expect("apply").is_empty());
        assert_eq!(orm_migrate::introspect(db).await.expect("introspect"), schema);
        assert_eq!(fresh.count(orm_migrate::TRACKING_TABLE).await, 2);

        // A pending migration waiting behind each refusal: it must not run.
        let early = dir.path().join("0000_early.sql");
        let late = dir.path().join("0003_late.sql");
        std::fs::write(&late, "CREATE TABLE late_table (id INTEGER PRIMARY KEY);\n").expect("write");

        // Changed after it was applied.
        let text = std::fs::read_to_string(&first).expect("read");
        std::fs::write(&first, format!("{text}-- edited\n")).expect("write");
        let changed = orm_migrate::apply(db, dir.path()).await;
        assert!(matches!(changed, Err(MigrateError::Changed { version: 1, .. })), "{changed:?}");
        std::fs::write(&first, &text).expect("restore");

        // Ahead of the folder: an applied migration is missing.
        let second_text = std::fs::read_to_string(&second).expect("read");
        std::fs::remove_file(&second).expect("remove");
        let ahead = orm_migrate::apply(db, dir.path()).await;
        assert!(matches!(ahead, Err(MigrateError::Ahead { version: 2 })), "{ahead:?}");
        std::fs::write(&second, &second_text).expect("restore");

        // Out of order: a pending migration older than the newest applied one.
        std::fs::write(&early, "CREATE TABLE early_table (id INTEGER PRIMARY KEY);\n").expect("write");
        let diverged = orm_migrate::status(db, dir.path()).await;
        assert!(matches!(diverged, Err(MigrateError::OutOfOrder { version: 0, latest: 2, .. })), "{diverged:?}");
        let refused = orm_migrate::apply(db, dir.path()).await;
        assert!(matches!(refused, Err(MigrateError::OutOfOrder { .. })), "{refused:?}");
        std::fs::remove_file(&early).expect("remove");

        let live = orm_migrate::introspect(db).await.expect("introspect");
        assert!(live.table("late_table").is_none() && live.table("early_table").is_none());
        assert_eq!(fresh.count(orm_migrate::TRACKING_TABLE).await, 2, "nothing was applied");

        // Once the folder agrees again, the pending one applies.
        let applied = orm_migrate::apply(db, dir.path()).await.expect("apply");
        assert_eq!(applied.iter().map(|m| m.version).collect::<Vec<_>>(), [3]);
    }
}

orm_tests::backend_test! {
    /// The command users run: generate, status, apply, check, by URL, with their exit outcomes.
    #[tokio::test]
    async fn the_command_line_generates_applies_and_checks() {
        let scratch = harness::scratch().await;
        let dir = folder();
        let folder = dir.path().display().to_string();
        let run = |args: &[&str], models: &[&'static ModelMeta]| {
            let mut argv: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            argv.extend(["--database-url".to_owned(), scratch.url.clone(), "--migrations".to_owned(), folder.clone()]);
            let models = models.to_vec();
            async move {
                let mut out = Vec::new();
                let outcome = orm_migrate::run_cli(&argv, &models, &mut out).await;
                (outcome, String::from_utf8_lossy(&out).into_owned())
            }
        };

        let (outcome, out) = run(&["check"], &v1()).await;
        assert_eq!(outcome.expect("check"), Outcome::Differs, "{out}");
        assert!(out.contains("create table `users`"), "{out}");

        let (outcome, out) = run(&["generate", "--name", "create users"], &v1()).await;
        assert_eq!(outcome.expect("generate"), Outcome::Done);
        assert!(out.contains("0001_create_users.sql"), "{out}");

        let (outcome, out) = run(&["status"], &v1()).await;
        assert_eq!(outcome.expect("status"), Outcome::Done);
        assert!(out.contains("pending  1 create users"), "{out}");

        let (outcome, out) = run(&["apply"], &v1()).await;
        assert_eq!(outcome.expect("apply"), Outcome::Done);
        assert!(out.contains("applied 1 create users"), "{out}");

        let (outcome, out) = run(&["check"], &v1()).await;
        assert_eq!(outcome.expect("check"), Outcome::Done, "{out}");
        let (outcome, _) = run(&["check"], &v2()).await;
        assert_eq!(outcome.expect("check"), Outcome::Differs);

        // A drop is only written with --allow-destructive.
        let (outcome, out) = run(&["generate"], &[seed::v1::User::META]).await;
        assert_eq!(outcome.expect("generate"), Outcome::Done);
        assert!(out.contains("skipped (destructive"), "{out}");
        assert!(out.contains("drop table `addresses`"), "{out}");

        let (misfit, _) = run(&["generate", "--rename", "users.fullname=full_name"], &v2()).await;
        assert!(
            matches!(misfit, Err(MigrateError::Rename { ref reason, .. }) if reason == "the models have no column `users.full_name`"),
            "{misfit:?}"
        );
        let (outcome, out) = run(&["generate"], &v2()).await;
        assert_eq!(outcome.expect("generate"), Outcome::Done);
        assert!(out.contains("0002_add_column_users_status.sql"), "{out}");

        let (unknown, _) = run(&["frobnicate"], &v1()).await;
        assert!(matches!(unknown, Err(MigrateError::Usage(ref m)) if m.contains("unknown command")), "{unknown:?}");
        let (bad, _) = run(&["generate", "--rename", "nonsense"], &v1()).await;
        assert!(matches!(bad, Err(MigrateError::Usage(ref m)) if m.contains("is not a rename")), "{bad:?}");
        let (missing, _) = run(&["apply", "--name"], &v1()).await;
        assert!(matches!(missing, Err(MigrateError::Usage(_))), "{missing:?}");
    }
}

orm_tests::backend_test! {
    /// `apply` dropped at an await point (a cancelled start-up; every one of the first 64, then
    /// one in every eighth of the way): the migration still finishes whole or not at all, and the next `apply` brings the database to the models with every
    /// row kept. The migration is SQLite's rebuild, whose script turns foreign keys off.
    #[tokio::test]
    async fn apply_dropped_at_any_await_point_leaves_a_whole_migration() {
        let mut polls = 0;
        loop {
            let fresh = harness::fresh(&[]).await;
            let db = &fresh.db;
            let dir = folder();
            migrate_to(db, dir.path(), &v2(), GenerateOptions::new()).await;
            fresh.exec("INSERT INTO users (id, name, fullname, status) VALUES (1, 'jack', 'Jack', 'a')").await;
            fresh.exec("INSERT INTO addresses (id, email_address, user_id) VALUES (1, 'j@x', 1)").await;
            orm_migrate::generate(db, &v3(), dir.path(), &GenerateOptions::new())
                .await
                .expect("generate");

            let finished = harness::drop_after_polls(orm_migrate::apply(db, dir.path()), polls).await;
            let applied = orm_migrate::apply(db, dir.path()).await.expect("apply after the drop");
            assert!(applied.len() <= 1);
            let diff = orm_migrate::diff(db, &v3(), &Renames::new()).await.expect("diff");
            assert!(diff.is_empty(), "after a drop at poll {polls}: {:?}", diff.changes);
            assert_eq!(fresh.count("addresses").await, 1, "drop at poll {polls}");
            assert_eq!(fresh.count(orm_migrate::TRACKING_TABLE).await, 2);
            if fresh.backend == Backend::Sqlite {
                assert_eq!(fresh.scalar("PRAGMA foreign_keys").await, 1, "drop at poll {polls}");
            }
            if finished {
                break;
            }
            // Every await point of the first 64 polls, then every eighth of the way on
            // (PostgreSQL's migration has hundreds of them, each a fresh database here).
            polls += if polls < 64 { 1 } else { polls / 8 };
            assert!(polls < 100_000, "apply never finished");
        }
    }
}

orm_tests::backend_test! {
    /// The one-line binary (`tests/src/bin/migrate.rs`) exits 1 when `check` finds differences,
    /// 0 when a command did what was asked, and 2 on an error, which it prints.
    #[tokio::test]
    async fn the_binary_exits_with_the_documented_status() {
        let scratch = harness::scratch().await;
        let dir = folder();
        let run = |args: &[&str]| {
            std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
                .args(args)
                .args(["--database-url", &scratch.url, "--migrations"])
                .arg(dir.path())
                .env_remove("DATABASE_URL")
                .output()
                .expect("run the binary")
        };
        let stdout = |output: &std::process::Output| String::from_utf8_lossy(&output.stdout).into_owned();

        let differs = run(&["check"]);
        assert_eq!(differs.status.code(), Some(1), "{}", stdout(&differs));
        assert_eq!(run(&["generate"]).status.code(), Some(0));
        assert_eq!(run(&["apply"]).status.code(), Some(0));
        let matches = run(&["check"]);
        assert_eq!(matches.status.code(), Some(0), "{}", stdout(&matches));
        assert!(stdout(&matches).contains("the database matches the models"));

        let bad = run(&["frobnicate"]);
        assert_eq!(bad.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&bad.stderr).contains("error: unknown command `frobnicate`"));
    }
}

/// Every column type, a composite key, a program-set key and a self-reference.
mod every_type {
    use orm_core::prelude::*;

    #[derive(Model, Debug)]
    #[model(table = "e_values")]
    pub struct Values {
        #[column(primary_key)]
        pub id: uuid::Uuid,
        pub real: f64,
        pub flag: bool,
        pub bytes: Vec<u8>,
        pub day: chrono::NaiveDate,
        pub at: chrono::NaiveTime,
        pub local: chrono::NaiveDateTime,
        pub instant: chrono::DateTime<chrono::Utc>,
        pub doc: serde_json::Value,
        pub amount: rust_decimal::Decimal,
        #[column(default = "CURRENT_TIMESTAMP")]
        pub created: Option<String>,
        #[column(default = "7", index)]
        pub priority: Option<i64>,
    }

    #[derive(Model, Debug)]
    #[model(table = "e_pairs")]
    pub struct Pair {
        #[column(primary_key)]
        pub left: i64,
        #[column(primary_key)]
        pub right: String,
    }

    #[derive(Model, Debug)]
    #[model(table = "e_nodes")]
    pub struct Node {
        #[column(primary_key)]
        pub id: Option<i64>,
        #[column(foreign_key = "e_nodes.id", on_delete = "set null")]
        pub parent_id: Option<i64>,
    }
}

orm_tests::backend_test! {
    /// A database made by `create_all` (a project adopting migrations) already matches its
    /// models: introspection reads back exactly what the models describe, for every column
    /// type, keys of every kind, defaults, foreign keys, unique columns and indexes.
    #[tokio::test]
    async fn a_database_made_by_create_all_matches_its_models() {
        use every_type::*;
        let models = [
            Values::META,
            Pair::META,
            Node::META,
            orm_tests::models::User::META,
            orm_tests::models::Address::META,
            kinds::after::Owner::META,
            kinds::after::Pet::META,
            kinds::after::Created::META,
        ];
        let fresh = harness::fresh(&models).await;
        let diff = orm_migrate::diff(&fresh.db, &models, &Renames::new()).await.expect("diff");
        assert!(diff.is_empty(), "{:#?}", diff.changes);
        let live = orm_migrate::introspect(&fresh.db).await.expect("introspect");
        assert_eq!(live.tables.len(), models.len(), "{live:#?}");
    }
}

/// A table renamed in the same migration as a change that rebuilds a table referencing it.
mod renamed_parent {
    pub mod before {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "rp_users")]
        pub struct User {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub name: String,
        }

        #[derive(Model, Debug)]
        #[model(table = "rp_addresses")]
        pub struct Address {
            #[column(primary_key)]
            pub id: Option<i64>,
            #[column(foreign_key = "rp_users.id", on_delete = "cascade")]
            pub user_id: Option<i64>,
            pub legacy: Option<String>,
        }
    }

    pub mod after {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "rp_people")]
        pub struct Person {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub name: String,
        }

        #[derive(Model, Debug)]
        #[model(table = "rp_addresses")]
        pub struct Address {
            #[column(primary_key)]
            pub id: Option<i64>,
            #[column(foreign_key = "rp_people.id", on_delete = "cascade")]
            pub user_id: Option<i64>,
        }
    }
}

orm_tests::backend_test! {
    /// The rebuilt child references the parent by its new name (the rebuild starts from the
    /// schema as the migration's renames leave it), and its foreign key still works.
    #[tokio::test]
    async fn a_rename_and_a_rebuild_in_one_migration_keep_references_right() {
        use renamed_parent::{after, before};
        let fresh = harness::fresh(&[]).await;
        let db = &fresh.db;
        let dir = folder();
        migrate_to(db, dir.path(), &[before::User::META, before::Address::META], GenerateOptions::new()).await;
        fresh.exec("INSERT INTO rp_users (id, name) VALUES (1, 'jack')").await;
        fresh.exec("INSERT INTO rp_addresses (id, user_id, legacy) VALUES (1, 1, 'x')").await;
        let renames = Renames::new().table("rp_users", "rp_people");
        let options = GenerateOptions::new().allow_destructive(true).renames(renames.clone());
        let models = [after::Person::META, after::Address::META];
        orm_migrate::generate(db, &models, dir.path(), &options).await.expect("generate");
        orm_migrate::apply(db, dir.path()).await.expect("apply");
        let diff = orm_migrate::diff(db, &models, &renames).await.expect("diff");
        assert!(diff.is_empty(), "{:?}", diff.changes);
        fresh.exec("INSERT INTO rp_people (id, name) VALUES (2, 'wendy')").await;
        fresh.exec("INSERT INTO rp_addresses (id, user_id) VALUES (2, 2)").await;
        fresh.exec("DELETE FROM rp_people WHERE id = 1").await;
        assert_eq!(fresh.count("rp_addresses").await, 1, "the cascade follows the renamed parent");
        fresh.assert_consistent().await;
    }
}

/// SQLite only: what a rebuild carries over besides the typed schema, and what it refuses.
mod sqlite_rebuild_objects {
    use super::*;

    #[derive(Model, Debug)]
    #[model(table = "o_items")]
    pub struct Item {
        #[column(primary_key)]
        pub id: Option<i64>,
        pub name: String,
        pub price: Option<i64>,
    }

    #[derive(Model, Debug)]
    #[model(table = "o_items")]
    pub struct PricedItem {
        #[column(primary_key)]
        pub id: Option<i64>,
        pub name: String,
        #[column(default = "0")]
        pub price: i64,
    }

    async fn sqlite() -> Database {
        orm_sqlite::connect("sqlite::memory:")
            .await
            .expect("SQLite in memory")
    }

    /// Triggers, views and a partial index of the rebuilt table are there afterwards, and work.
    #[tokio::test]
    async fn a_rebuild_recreates_triggers_views_and_partial_indexes() {
        let db = sqlite().await;
        db.create_all(&[Item::META]).await.expect("create");
        for sql in [
            "CREATE TABLE o_log (item_id INTEGER)",
            "CREATE TRIGGER o_items_logged AFTER INSERT ON o_items BEGIN INSERT INTO o_log VALUES (new.id); END",
            "CREATE VIEW o_named AS SELECT id, name FROM o_items",
            "CREATE UNIQUE INDEX o_items_name_when_priced ON o_items (name) WHERE price IS NOT NULL",
            "INSERT INTO o_items (id, name, price) VALUES (1, 'a', 5)",
        ] {
            db.execute_raw(sql, &[]).await.expect(sql);
        }
        let dir = folder();
        let generated = orm_migrate::generate(
            &db,
            &[PricedItem::META],
            dir.path(),
            &GenerateOptions::new(),
        )
        .await
        .expect("generate");
        assert!(generated
            .written
            .iter()
            .any(|c| matches!(c, Change::AlterColumn { .. })));
        orm_migrate::apply(&db, dir.path()).await.expect("apply");

        let names = db
            .fetch_raw("SELECT name FROM sqlite_master WHERE name IN ('o_items_logged', 'o_named', 'o_items_name_when_priced') ORDER BY name", &[])
            .await
            .expect("names");
        assert_eq!(names.len(), 3, "{names:?}");
        db.execute_raw(
            "INSERT INTO o_items (id, name, price) VALUES (2, 'b', 1)",
            &[],
        )
        .await
        .expect("insert");
        assert_eq!(
            db.fetch_raw("SELECT item_id FROM o_log", &[])
                .await
                .expect("log")
                .len(),
            2,
            "the trigger fires (once before the rebuild, once after)"
        );
        assert_eq!(
            db.fetch_raw("SELECT * FROM o_named", &[])
                .await
                .expect("view")
                .len(),
            2,
            "the view reads"
        );
        let duplicate = db
            .execute_raw(
                "INSERT INTO o_items (id, name, price) VALUES (3, 'b', 2)",
                &[],
            )
            .await;
        assert!(duplicate.is_err(), "the partial unique index holds");
    }

    /// A table whose definition has what the typed schema cannot describe is not rebuilt:
    /// generating is an error that names it, and no file is written.
    #[tokio::test]
    async fn a_rebuild_that_would_lose_a_check_constraint_is_refused() {
        let db = sqlite().await;
        db.execute_raw(
            "CREATE TABLE o_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price INTEGER CHECK (price >= 0))",
            &[],
        )
        .await
        .expect("create");
        let dir = folder();
        let refused = orm_migrate::generate(
            &db,
            &[PricedItem::META],
            dir.path(),
            &GenerateOptions::new(),
        )
        .await;
        assert!(
            matches!(refused, Err(MigrateError::UnsafeRebuild { ref table, ref what }) if table == "o_items" && what == "a CHECK constraint"),
            "{refused:?}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path())
                .map(|d| d.count())
                .unwrap_or(0),
            0
        );
    }
}

/// Keys that change: a program-set key that becomes generated, and a key moved to a new column.
mod keys {
    pub mod given {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "g_tickets")]
        pub struct Ticket {
            #[column(primary_key)]
            pub id: i64,
            pub title: String,
        }

        #[derive(Model, Debug)]
        #[model(table = "g_codes")]
        pub struct Code {
            #[column(primary_key)]
            pub code: String,
        }
    }

    pub mod generated {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "g_tickets")]
        pub struct Ticket {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub title: String,
        }

        #[derive(Model, Debug)]
        #[model(table = "g_codes")]
        pub struct Code {
            #[column(primary_key)]
            pub id: Option<i64>,
            pub code: Option<String>,
        }
    }
}

orm_tests::backend_test! {
    /// A key the program set becomes one the database generates: new rows continue after the
    /// stored keys. A key moved to a new generated column: the old key column may then be NULL.
    #[tokio::test]
    async fn keys_that_become_generated_continue_after_the_stored_ones() {
        use keys::{generated, given};
        let fresh = harness::fresh(&[]).await;
        let db = &fresh.db;
        let dir = folder();
        migrate_to(db, dir.path(), &[given::Ticket::META, given::Code::META], GenerateOptions::new()).await;
        for id in 1..=3 {
            fresh.exec(&format!("INSERT INTO g_tickets (id, title) VALUES ({id}, 't{id}')")).await;
            fresh.exec(&format!("INSERT INTO g_codes (code) VALUES ('c{id}')")).await;
        }
        migrate_to(db, dir.path(), &[generated::Ticket::META, generated::Code::META], GenerateOptions::new()).await;

        let mut s = db.session();
        let ticket = s.add(generated::Ticket { id: None, title: "new".into() }).expect("add");
        let code = s.add(generated::Code { id: None, code: None }).expect("add");
        s.commit().await.expect("the generated keys do not collide with the stored ones");
        assert_eq!(s.read(ticket).await.expect("read").id, Some(4));
        assert_eq!(s.read(code).await.expect("read").id, Some(4));
        assert_eq!(fresh.count("g_codes").await, 4);
    }
}

/// A column renamed, then a new column with its old name and an index.
mod reused_name {
    pub mod v1 {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "n_users")]
        pub struct User {
            #[column(primary_key)]
            pub id: Option<i64>,
            #[column(index)]
            pub email: String,
        }
    }

    pub mod v2 {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "n_users")]
        pub struct User {
            #[column(primary_key)]
            pub id: Option<i64>,
            #[column(index)]
            pub mail: String,
        }
    }

    pub mod v3 {
        use orm_core::prelude::*;

        #[derive(Model, Debug)]
        #[model(table = "n_users")]
        pub struct User {
            #[column(primary_key)]
            pub id: Option<i64>,
            #[column(index)]
            pub mail: String,
            #[column(index)]
            pub email: Option<String>,
        }
    }
}

orm_tests::backend_test! {
    /// A renamed column keeps its index's name; a new column given the old name gets an index
    /// named so that it does not collide.
    #[tokio::test]
    async fn a_new_index_does_not_collide_with_a_renamed_columns_index() {
        use reused_name::{v1, v2, v3};
        let fresh = harness::fresh(&[]).await;
        let db = &fresh.db;
        let dir = folder();
        migrate_to(db, dir.path(), &[v1::User::META], GenerateOptions::new()).await;
        let renames = Renames::new().column("n_users", "email", "mail");
        migrate_to(db, dir.path(), &[v2::User::META], GenerateOptions::new().renames(renames)).await;
        let added = migrate_to(db, dir.path(), &[v3::User::META], GenerateOptions::new()).await;
        let names: Vec<&str> = added
            .written
            .iter()
            .filter_map(|c| match c {
                Change::AddIndex { index, .. } => Some(index.name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["ix_n_users_email_2"]);
    }
}

orm_tests::backend_test! {
    /// The start-up paths: `db.migrate(folder)` and a migrator built beforehand (as
    /// `sqlx::migrate!` embeds one); a migrator set to another tracking table is refused.
    #[tokio::test]
    async fn migrations_apply_at_start_up_from_a_folder_or_an_embedded_migrator() {
        use orm_migrate::{MigrateExt as _, Migrator};
        let fresh = harness::fresh(&[]).await;
        let db = &fresh.db;
        let dir = folder();
        orm_migrate::generate(db, &v1(), dir.path(), &GenerateOptions::new()).await.expect("generate");
        let applied = db.migrate(dir.path()).await.expect("migrate");
        assert_eq!(applied.len(), 1);

        // A second migration, applied through a migrator read beforehand.
        orm_migrate::generate(db, &v2(), dir.path(), &GenerateOptions::new()).await.expect("generate");
        let mut migrator = Migrator::new(dir.path()).await.expect("read the folder");
        let applied = orm_migrate::apply_migrator(db, &migrator).await.expect("apply");
        assert_eq!(applied.iter().map(|m| m.version).collect::<Vec<_>>(), [2]);
        assert!(orm_migrate::diff(db, &v2(), &Renames::new()).await.expect("diff").is_empty());

        migrator.dangerous_set_table_name("other_migrations");
        let refused = orm_migrate::apply_migrator(db, &migrator).await;
        assert!(matches!(refused, Err(MigrateError::TrackingTable { ref table }) if table == "other_migrations"), "{refused:?}");
    }
}
