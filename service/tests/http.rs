//! The service over real HTTP, on both backends from one source (`name::sqlite`,
//! `name::postgres`): each test starts it on 127.0.0.1 with a port the OS chooses, over a fresh
//! database of the harness (a SQLite file with a pool of 8, or a PostgreSQL schema of its own),
//! and drives it with reqwest.

use orm_core::{Database, Value};
use orm_service::dto::{AddressOut, DeletePreview, Health, UserOut, UserPage};
use orm_service::error::{ErrorBody, ErrorCode};
use orm_service::MODELS;
use orm_tests::harness::{self, Fresh};
use reqwest::{Client, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The service running on a port of its own, and a client for it.
struct Server {
    base: String,
    http: Client,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// What the service answered.
#[derive(Debug)]
struct Reply {
    what: String,
    status: StatusCode,
    location: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    /// The body as `T`, after checking the status.
    fn expect<T: DeserializeOwned>(&self, status: u16) -> T {
        self.expect_status(status);
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: body {:?} does not parse: {e}",
                self.what,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn expect_status(&self, status: u16) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}: {}",
            self.what,
            String::from_utf8_lossy(&self.body)
        );
    }

    /// Checks an error answer: its status and its `code`.
    fn expect_error(&self, status: u16, code: ErrorCode) -> ErrorBody {
        let body: ErrorBody = self.expect(status);
        assert_eq!(body.code, code, "{}: {body:?}", self.what);
        body
    }
}

async fn start(db: &Database) -> Server {
    orm_service::prepare(db).await.expect("the tables exist");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port on 127.0.0.1");
    let address = listener.local_addr().expect("the bound address");
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(orm_service::serve(listener, db.clone(), shutdown));
    Server {
        base: format!("http://{address}"),
        http: Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client"),
        stop,
        task,
    }
}

impl Server {
    async fn send(&self, method: Method, path: &str, body: Option<serde_json::Value>) -> Reply {
        let what = format!("{method} {path}");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{what}: reading the body: {e}"))
            .to_vec();
        Reply {
            what,
            status,
            location,
            body,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: serde_json::Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// A request with a raw body and content type, for malformed requests.
    async fn raw(&self, method: Method, path: &str, content_type: &str, body: &str) -> Reply {
        let what = format!("{method} {path} ({content_type}: {body})");
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        Reply {
            what,
            status,
            location: None,
            body,
        }
    }

    /// Creates a user with `emails` and returns it (checking the 201).
    async fn create_user(&self, name: &str, emails: &[&str]) -> UserOut {
        let addresses: Vec<_> = emails
            .iter()
            .map(|e| json!({ "email_address": e }))
            .collect();
        let body =
            json!({ "name": name, "fullname": format!("{name} Jones"), "addresses": addresses });
        self.post("/users", body).await.expect(201)
    }

    /// Graceful shutdown: stops accepting, finishes what is in flight, returns.
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("the server task ran")
            .expect("the server stopped cleanly");
    }
}

/// The integers of a raw query's rows.
async fn int_rows(t: &Fresh, sql: &str) -> Vec<Vec<Option<i64>>> {
    t.rows(sql)
        .await
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| match v {
                    Value::Integer(n) => Some(n),
                    Value::Null => None,
                    other => panic!("{sql}: expected integers, got {other:?}"),
                })
                .collect()
        })
        .collect()
}

/// Addresses whose user does not exist: none, on either backend.
async fn assert_no_orphans(t: &Fresh) {
    let orphans = t
        .scalar(
            "SELECT COUNT(*) FROM addresses a LEFT JOIN users u ON u.id = a.user_id \
             WHERE u.id IS NULL",
        )
        .await;
    assert_eq!(orphans, 0, "addresses without a user");
    t.assert_consistent().await; // SQLite: PRAGMA foreign_key_check
}

orm_tests::backend_test! {
    /// Create, read, update and delete a user, with the statuses of each.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn users_crud() {
        let t = harness::pooled(MODELS, 8).await;
        let server = start(&t.db).await;

        let health: Health = server.get("/health").await.expect(200);
        assert_eq!(health.status, "ok");

        let reply = server
            .post(
                "/users",
                json!({
                    "name": "jack", "fullname": "Jack Bean", "nickname": "gjffdd",
                    "addresses": [{ "email_address": "jack@google.com" }, { "email_address": "j25@yahoo.com" }]
                }),
            )
            .await;
        let jack: UserOut = reply.expect(201);
        assert_eq!(reply.location.as_deref(), Some(format!("/users/{}", jack.id).as_str()));
        assert_eq!((jack.name.as_str(), jack.fullname.as_str()), ("jack", "Jack Bean"));
        assert_eq!(jack.nickname.as_deref(), Some("gjffdd"));
        let emails: Vec<_> = jack.addresses.iter().map(|a| a.email_address.as_str()).collect();
        assert_eq!(emails, ["jack@google.com", "j25@yahoo.com"], "in id order");
        assert!(jack.addresses.iter().all(|a| a.user_id == jack.id));
        assert_eq!(t.count("addresses").await, 2);

        let read: UserOut = server.get(&format!("/users/{}", jack.id)).await.expect(200);
        assert_eq!(read, jack);

        // A partial update: the name stays, the nickname is cleared by an explicit null.
        let patched: UserOut = server
            .patch(&format!("/users/{}", jack.id), json!({ "fullname": "Jack B. Bean", "nickname": null }))
            .await
            .expect(200);
        assert_eq!(patched.name, "jack");
        assert_eq!(patched.fullname, "Jack B. Bean");
        assert_eq!(patched.nickname, None);
        assert_eq!(patched.addresses, jack.addresses);
        let read: UserOut = server.get(&format!("/users/{}", jack.id)).await.expect(200);
        assert_eq!(read, patched, "the update was committed");
        let same: UserOut = server.patch(&format!("/users/{}", jack.id), json!({})).await.expect(200);
        assert_eq!(same, patched, "an empty patch changes nothing");

        // Deleting the user deletes its addresses (cascade).
        server.delete(&format!("/users/{}", jack.id)).await.expect_status(204);
        assert_eq!(t.count("users").await, 0);
        assert_eq!(t.count("addresses").await, 0);
        for reply in [
            server.get(&format!("/users/{}", jack.id)).await,
            server.patch(&format!("/users/{}", jack.id), json!({ "name": "x" })).await,
            server.delete(&format!("/users/{}", jack.id)).await,
            server.get(&format!("/users/{}/delete-preview", jack.id)).await,
        ] {
            reply.expect_error(404, ErrorCode::NotFound);
        }
        assert_no_orphans(&t).await;
        server.stop().await;
    }
}

orm_tests::backend_test! {
    /// Adding, removing (delete-orphan) and deleting addresses, and the delete preview.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn addresses_and_delete_preview() {
        let t = harness::pooled(MODELS, 8).await;
        let server = start(&t.db).await;
        let ed = server.create_user("ed", &["ed@a.org", "ed@b.org"]).await;
        let wendy = server.create_user("wendy", &["wendy@a.org"]).await;

        let added: AddressOut = server
            .post(&format!("/users/{}/addresses", ed.id), json!({ "email_address": "ed@c.org" }))
            .await
            .expect(201);
        assert_eq!((added.email_address.as_str(), added.user_id), ("ed@c.org", ed.id));
        let ed_now: UserOut = server.get(&format!("/users/{}", ed.id)).await.expect(200);
        assert_eq!(ed_now.addresses.len(), 3);
        assert_eq!(ed_now.addresses[2], added);
        server
            .post("/users/999999/addresses", json!({ "email_address": "x@y.org" }))
            .await
            .expect_error(404, ErrorCode::NotFound);

        // The preview counts what deleting ed would do, and does none of it.
        let preview: DeletePreview = server
            .get(&format!("/users/{}/delete-preview", ed.id))
            .await
            .expect(200);
        assert!(preview.would_succeed);
        assert_eq!(preview.roots, [format!("User {}", ed.id)]);
        let effect = |table: &str| {
            preview.tables.iter().find(|e| e.table == table).map(|e| (e.deleted, e.nulled))
        };
        assert_eq!(effect("addresses"), Some((3, 0)));
        assert_eq!(effect("users"), Some((1, 0)));
        assert!(preview.statements.iter().all(|s| s.action == "delete"), "{preview:?}");
        assert_eq!(t.count("addresses").await, 4, "the preview deleted nothing");

        // Removing an address from the user's collection deletes it (delete-orphan); an
        // address of another user is not this user's to remove.
        let first = ed.addresses[0].id;
        server
            .delete(&format!("/users/{}/addresses/{}", wendy.id, first))
            .await
            .expect_error(404, ErrorCode::NotFound);
        server
            .delete(&format!("/users/{}/addresses/999999", ed.id))
            .await
            .expect_error(404, ErrorCode::NotFound);
        server.delete(&format!("/users/{}/addresses/{first}", ed.id)).await.expect_status(204);
        let gone = int_rows(&t, &format!("SELECT COUNT(*) FROM addresses WHERE id = {first}")).await;
        assert_eq!(gone, [[Some(0)]], "deleted, not detached with a NULL user_id");

        // Deleting an address by its own route.
        server.delete(&format!("/addresses/{}", added.id)).await.expect_status(204);
        server
            .delete(&format!("/addresses/{}", added.id))
            .await
            .expect_error(404, ErrorCode::NotFound);
        let ed_now: UserOut = server.get(&format!("/users/{}", ed.id)).await.expect(200);
        assert_eq!(ed_now.addresses, [ed.addresses[1].clone()]);
        let wendy_now: UserOut = server.get(&format!("/users/{}", wendy.id)).await.expect(200);
        assert_eq!(wendy_now, wendy, "the other user is untouched");
        assert_no_orphans(&t).await;
        server.stop().await;
    }
}

orm_tests::backend_test! {
    /// Keyset pagination, and the eager load: a page of users with their addresses costs two
    /// statements whatever its size (no N+1).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pagination_is_keyset_and_eager() {
        let t = harness::pooled(MODELS, 8).await;
        let server = start(&t.db).await;
        let mut created = Vec::new();
        for i in 0..7 {
            let emails = [format!("u{i}@a.org"), format!("u{i}@b.org")];
            let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
            created.push(server.create_user(&format!("u{i}"), &emails[..i % 3]).await);
        }

        let before = t.db.statements_executed();
        let all: UserPage = server.get("/users").await.expect(200);
        assert_eq!(t.db.statements_executed() - before, 2, "one SELECT of users, one of addresses");
        assert_eq!(all.users, created);
        assert_eq!(all.next_after, None, "one page holds them all");

        let mut pages = Vec::new();
        let mut path = "/users?limit=3".to_owned();
        loop {
            let page: UserPage = server.get(&path).await.expect(200);
            pages.push(page.users.len());
            let Some(after) = page.next_after else {
                break;
            };
            path = format!("/users?limit=3&after={after}");
        }
        assert_eq!(pages, [3, 3, 1]);
        let last = created[6].id;
        let empty: UserPage = server.get(&format!("/users?after={last}")).await.expect(200);
        assert_eq!(empty, UserPage { users: vec![], next_after: None });
        let exact: UserPage = server.get(&format!("/users?limit=6&after={}", created[0].id)).await.expect(200);
        assert_eq!(exact.users, created[1..]);
        assert_eq!(exact.next_after, Some(last), "a full page has a cursor, even the last one");

        for path in ["/users?limit=0", "/users?limit=501", "/users?limit=abc", "/users?after=x", "/users?color=red"] {
            server.get(path).await.expect_error(422, ErrorCode::Invalid);
        }
        server.stop().await;
    }
}

orm_tests::backend_test! {
    /// Requests the service refuses before touching the database: 422, 400, 415.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_requests_are_refused() {
        let t = harness::pooled(MODELS, 8).await;
        let server = start(&t.db).await;
        let ed = server.create_user("ed", &["ed@a.org"]).await;
        let user = format!("/users/{}", ed.id);
        let invalid = [
            server.post("/users", json!({ "name": " ", "fullname": "Ed" })).await,
            server.post("/users", json!({ "name": "ed", "fullname": "" })).await,
            server.post("/users", json!({ "name": "ed" })).await,
            server.post("/users", json!({ "name": 5, "fullname": "Ed" })).await,
            server.post("/users", json!({ "name": "ed", "fullname": "Ed", "age": 3 })).await,
            server
                .post("/users", json!({ "name": "ed", "fullname": "Ed", "addresses": [{ "email_address": "no-at" }] }))
                .await,
            server.post(&format!("{user}/addresses"), json!({ "email_address": "ed.example.org" })).await,
            server.post(&format!("{user}/addresses"), json!({ "email_address": "@example.org" })).await,
            server.patch(&user, json!({ "name": "" })).await,
            server.patch(&user, json!({ "id": 7 })).await,
            server.get("/users/abc").await,
            server.delete("/users/1/addresses/x").await,
        ];
        for reply in invalid {
            reply.expect_error(422, ErrorCode::Invalid);
        }
        server
            .raw(Method::POST, "/users", "application/json", "{\"name\": ")
            .await
            .expect_error(400, ErrorCode::Malformed);
        server
            .raw(Method::PATCH, &user, "text/plain", "{}")
            .await
            .expect_error(415, ErrorCode::UnsupportedMediaType);
        let unchanged: UserOut = server.get(&user).await.expect(200);
        assert_eq!(unchanged, ed, "nothing refused was applied");
        assert_eq!(t.count("users").await, 1);
        server.stop().await;
    }
}

orm_tests::backend_test! {
    /// 409 from a real unique constraint (the test adds one on `users.name`; the seed models
    /// have none), and 503 once the database is unreachable (its pool closed).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conflicts_are_409_and_a_closed_pool_is_503() {
        let t = harness::pooled(MODELS, 8).await;
        t.exec("CREATE UNIQUE INDEX users_name_unique ON users (name)").await;
        let server = start(&t.db).await;
        let ed = server.create_user("ed", &["ed@a.org"]).await;
        let duplicate = server
            .post("/users", json!({ "name": "ed", "fullname": "Another Ed", "addresses": [{ "email_address": "e@b.org" }] }))
            .await
            .expect_error(409, ErrorCode::Duplicate);
        assert!(!duplicate.error.contains("INSERT"), "no SQL in the answer: {duplicate:?}");
        let wendy = server.create_user("wendy", &[]).await;
        server
            .patch(&format!("/users/{}", wendy.id), json!({ "name": "ed" }))
            .await
            .expect_error(409, ErrorCode::Duplicate);
        assert_eq!(t.count("users").await, 2);
        assert_eq!(t.count("addresses").await, 1, "nothing of the refused insert stayed");
        let read: UserOut = server.get(&format!("/users/{}", ed.id)).await.expect(200);
        assert_eq!(read, ed);

        t.db.close().await;
        server.get("/health").await.expect_error(503, ErrorCode::Unavailable);
        let reply = server.get(&format!("/users/{}", ed.id)).await;
        reply.expect_error(503, ErrorCode::Unavailable);
        server.stop().await;
    }
}

/// How many clients run at once in the concurrency test, and how many rounds each.
const CLIENTS: usize = 64;
const ROUNDS: usize = 3;

/// What one client of the concurrency test did and therefore expects to find.
#[derive(Debug, Default)]
struct ClientLog {
    /// The users it created and did not delete, as they should be stored.
    live: BTreeMap<i64, UserOut>,
    /// The users it deleted (204): id and (unique) name.
    deleted: BTreeMap<i64, String>,
    /// The addresses it added to the shared user and did not take away again.
    shared: BTreeMap<i64, AddressOut>,
    /// How many answers of each status (and error code) each route gave.
    outcomes: BTreeMap<(&'static str, u16, String), usize>,
    /// Answers no request of this test should get.
    unexpected: Vec<String>,
}

impl ClientLog {
    /// Records the answer; true if it was the success expected. A 409 or 503 (a request that
    /// lost against concurrent ones, even after retries) is legitimate and changes nothing;
    /// anything else is a failure of the test.
    fn check(&mut self, route: &'static str, reply: &Reply, success: u16) -> bool {
        let status = reply.status.as_u16();
        let code = match status {
            s if s == success => String::new(),
            _ => serde_json::from_slice::<ErrorBody>(&reply.body)
                .map(|b| format!("{:?}", b.code))
                .unwrap_or_default(),
        };
        *self.outcomes.entry((route, status, code)).or_default() += 1;
        if status == success {
            return true;
        }
        if status != 409 && status != 503 {
            self.unexpected.push(format!(
                "{}: {status} {}",
                reply.what,
                String::from_utf8_lossy(&reply.body)
            ));
        }
        false
    }
}

/// One client: creates users with addresses, renames them, adds and removes addresses (of its
/// own users and of the shared user), deletes every other user, and logs what it expects.
async fn client(server: &Server, client: usize, shared: i64) -> ClientLog {
    let mut log = ClientLog::default();
    for round in 0..ROUNDS {
        let name = format!("c{client}r{round}");
        let body = json!({
            "name": name, "fullname": "Client",
            "addresses": [{ "email_address": format!("{name}@a.org") }, { "email_address": format!("{name}@b.org") }]
        });
        let reply = server.post("/users", body).await;
        if !log.check("POST /users", &reply, 201) {
            continue;
        }
        let mut user: UserOut = reply.expect(201);
        let path = format!("/users/{}", user.id);

        let nickname = format!("n{client}-{round}");
        let reply = server.patch(&path, json!({ "nickname": nickname })).await;
        if log.check("PATCH /users/{id}", &reply, 200) {
            user.nickname = Some(nickname);
            assert_eq!(reply.expect::<UserOut>(200), user, "the PATCH answer");
        }

        let reply = server
            .post(
                &format!("{path}/addresses"),
                json!({ "email_address": format!("{name}@c.org") }),
            )
            .await;
        if log.check("POST /users/{id}/addresses", &reply, 201) {
            user.addresses.push(reply.expect(201));
        }

        let first = user.addresses[0].id;
        let reply = server.delete(&format!("{path}/addresses/{first}")).await;
        if log.check("DELETE /users/{id}/addresses/{aid}", &reply, 204) {
            user.addresses.remove(0);
        }

        let reply = server
            .post(
                &format!("/users/{shared}/addresses"),
                json!({ "email_address": format!("{name}@shared.org") }),
            )
            .await;
        if log.check("POST /users/{shared}/addresses", &reply, 201) {
            let address: AddressOut = reply.expect(201);
            log.shared.insert(address.id, address);
        }
        shared_removal(server, &mut log, round, shared).await;

        if round % 2 == 1 {
            let reply = server.delete(&path).await;
            if log.check("DELETE /users/{id}", &reply, 204) {
                log.deleted.insert(user.id, user.name);
                continue;
            }
        }
        log.live.insert(user.id, user);
    }
    log
}

/// Takes one of the client's addresses away from the shared user: in round 1 through the
/// user's collection, in round 2 by deleting the address itself.
async fn shared_removal(server: &Server, log: &mut ClientLog, round: usize, shared: i64) {
    let Some(&id) = log.shared.keys().next() else {
        return;
    };
    let (route, path) = match round {
        1 => (
            "DELETE /users/{shared}/addresses/{aid}",
            format!("/users/{shared}/addresses/{id}"),
        ),
        2 => ("DELETE /addresses/{id}", format!("/addresses/{id}")),
        _ => return,
    };
    let reply = server.delete(&path).await;
    if log.check(route, &reply, 204) {
        log.shared.remove(&id);
    }
}

/// Every user, through the paginated route.
async fn all_users(server: &Server) -> Vec<UserOut> {
    let mut users = Vec::new();
    let mut path = "/users?limit=500".to_owned();
    loop {
        let page: UserPage = server.get(&path).await.expect(200);
        users.extend(page.users);
        let Some(after) = page.next_after else {
            return users;
        };
        path = format!("/users?limit=500&after={after}");
    }
}

orm_tests::backend_test! {
    /// 64 clients at once create, update and delete users and addresses through the service,
    /// a bounded number of requests each. Afterwards the database holds exactly what the
    /// successful answers said: no row lost, duplicated or left behind, no orphan.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sixty_four_clients_lose_and_duplicate_nothing() {
        let t = harness::pooled(MODELS, 8).await;
        let server = std::sync::Arc::new(start(&t.db).await);
        let shared = server.create_user("shared", &[]).await;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let server = std::sync::Arc::clone(&server);
            tasks.push(tokio::spawn(async move { client(&server, c, shared.id).await }));
        }
        let mut logs = Vec::new();
        for task in tasks {
            logs.push(task.await.expect("the client ran"));
        }
        let elapsed = started.elapsed();

        // What was answered, for the record (visible with --nocapture).
        let mut outcomes: BTreeMap<&(&str, u16, String), usize> = BTreeMap::new();
        for log in &logs {
            for (key, n) in &log.outcomes {
                *outcomes.entry(key).or_default() += n;
            }
        }
        eprintln!("{} clients in {elapsed:?}; answers (route, status, code):", logs.len());
        for ((route, status, code), n) in &outcomes {
            eprintln!("  {route:<40} {status} {code:<8} {n:>4}");
        }
        let unexpected: Vec<_> = logs.iter().flat_map(|l| &l.unexpected).collect();
        assert!(unexpected.is_empty(), "unexpected answers: {unexpected:#?}");
        let created = logs.iter().map(|l| l.live.len() + l.deleted.len()).sum::<usize>();
        assert!(created >= CLIENTS, "too few users were created: {created}");

        // Every user a client kept is there once, exactly as the client last saw it; every
        // user it deleted is gone. The shared user has exactly the addresses still added.
        let users = all_users(&server).await;
        let by_id: BTreeMap<i64, &UserOut> = users.iter().map(|u| (u.id, u)).collect();
        assert_eq!(by_id.len(), users.len(), "a user listed twice");
        let mut expected_users = 1;
        let mut expected_addresses: BTreeSet<i64> = BTreeSet::new();
        let mut shared_expected: Vec<AddressOut> = Vec::new();
        for log in &logs {
            for (id, user) in &log.live {
                assert_eq!(by_id.get(id).copied(), Some(user), "user {id}");
                expected_addresses.extend(user.addresses.iter().map(|a| a.id));
            }
            // SQLite may give a deleted user's id to a later one (a rowid key without
            // AUTOINCREMENT reuses the largest): the name tells them apart.
            for (id, name) in &log.deleted {
                let listed = by_id.get(id).map(|u| &u.name);
                assert_ne!(listed, Some(name), "deleted user {id} is listed");
            }
            expected_users += log.live.len();
            expected_addresses.extend(log.shared.keys());
            shared_expected.extend(log.shared.values().cloned());
        }
        shared_expected.sort_unstable_by_key(|a| a.id);
        assert_eq!(users.len(), expected_users, "users lost or left behind");
        assert_eq!(by_id.get(&shared.id).map(|u| &u.addresses), Some(&shared_expected));

        // The rows themselves, read past the service: every address row is one a client
        // expects (none left from deleted users or removed from a collection), and no orphan.
        let stored: BTreeSet<i64> = int_rows(&t, "SELECT id FROM addresses")
            .await
            .into_iter()
            .filter_map(|row| row.first().copied().flatten())
            .collect();
        assert_eq!(stored, expected_addresses, "address rows lost or left behind");
        assert_eq!(t.count("users").await, expected_users as i64);
        assert_no_orphans(&t).await;
        match std::sync::Arc::into_inner(server) {
            Some(server) => server.stop().await,
            None => panic!("a client still holds the server"),
        }
    }
}
