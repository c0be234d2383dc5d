//! The handlers. Each request gets its own session; every write runs in
//! `Database::transaction_with` (see [`write`]), which commits it or, when it lost a race with
//! a concurrent transaction, runs it again from the start in a fresh session (so each closure
//! clones what it takes from the request).

use crate::dto::{
    AddressOut, DeletePreview, Health, NewAddress, NewUser, PageQuery, UserOut, UserPage, UserPatch,
};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use orm_core::backend::BoxFuture;
use orm_core::{Database, Handle, HasMany, Session};
use orm_tests::models::{Address, User};
use std::time::Duration;

/// How long `GET /health` waits for the database before answering 503.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Every route, over the shared [`Database`].
pub(crate) fn routes() -> Router<Database> {
    Router::new()
        .route("/health", get(health))
        .route("/users", get(list_users).post(create_user))
        .route(
            "/users/{id}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route("/users/{id}/addresses", post(add_address))
        .route("/users/{id}/addresses/{address_id}", delete(remove_address))
        .route("/users/{id}/delete-preview", get(preview_delete))
        .route("/addresses/{id}", delete(delete_address))
}

type Db = State<Database>;
type ApiResult<T> = Result<T, ApiError>;

/// Runs the unit of work `work` in a transaction of its own and commits it, running it again
/// after a serialization failure, deadlock or busy database (`RetryPolicy::default()`). An
/// error that persists after the retries is a 503 ([`ErrorCode::Busy`](crate::error::ErrorCode)).
/// On SQLite the transaction takes the write lock at its start (`BEGIN IMMEDIATE`), so a unit
/// of work that reads before it writes waits for other writers instead of failing when it
/// writes.
async fn write<T, F>(db: &Database, work: F) -> ApiResult<T>
where
    F: for<'s> FnMut(&'s mut Session) -> BoxFuture<'s, ApiResult<T>> + Send,
    T: Send,
{
    db.transaction(work).await
}

// Reading objects into JSON.

/// The key of a stored row (a row read from or flushed to the database has one).
fn stored_key(model: &str, id: Option<i64>) -> ApiResult<i64> {
    id.ok_or_else(|| ApiError::internal(format!("a stored {model} without a key")))
}

async fn address_out(s: &mut Session, address: Handle<Address>) -> ApiResult<AddressOut> {
    let a = s.read(address).await?;
    Ok(AddressOut {
        id: stored_key("address", a.id)?,
        email_address: a.email_address.clone(),
        user_id: stored_key("address's user", a.user_id)?,
    })
}

/// A user with its addresses, by id. Costs no SELECT when the addresses are loaded (an eager
/// load, or a user created in this session), one otherwise.
async fn user_out(s: &mut Session, user: Handle<User>) -> ApiResult<UserOut> {
    let handles = s.related(user, User::ADDRESSES).await?;
    let mut addresses = Vec::with_capacity(handles.len());
    for address in handles {
        addresses.push(address_out(s, address).await?);
    }
    addresses.sort_unstable_by_key(|a| a.id);
    let u = s.read(user).await?;
    Ok(UserOut {
        id: stored_key("user", u.id)?,
        name: u.name.clone(),
        fullname: u.fullname.clone(),
        nickname: u.nickname.clone(),
        addresses,
    })
}

async fn find_user(s: &mut Session, id: i64) -> ApiResult<Handle<User>> {
    s.get::<User>(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user {id}")))
}

async fn find_address(s: &mut Session, id: i64) -> ApiResult<Handle<Address>> {
    s.get::<Address>(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no address {id}")))
}

// Reads: a session on the pool, no transaction.

async fn health(State(db): Db) -> ApiResult<Json<Health>> {
    match tokio::time::timeout(HEALTH_TIMEOUT, db.fetch_raw("SELECT 1", &[])).await {
        Ok(Ok(_)) => Ok(Json(Health {
            status: "ok".into(),
        })),
        Ok(Err(err)) => Err(ApiError::unavailable(
            "the database does not answer",
            Some(err),
        )),
        Err(_) => Err(ApiError::unavailable(
            format!("the database did not answer within {HEALTH_TIMEOUT:?}"),
            None,
        )),
    }
}

async fn list_users(
    State(db): Db,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<UserPage>> {
    let limit = page.page_size()?;
    let mut s = db.session();
    let mut query = s.query::<User>();
    if let Some(after) = page.after {
        query = query.filter(User::ID.gt(after));
    }
    // One SELECT for the users and one per chunk of keys for all their addresses.
    let handles = query
        .order_by(User::ID)
        .limit(limit.into())
        .load(User::ADDRESSES)
        .all()
        .await?;
    let mut users = Vec::with_capacity(handles.len());
    for user in handles {
        users.push(user_out(&mut s, user).await?);
    }
    let full = users.len() == limit as usize;
    let next_after = users.last().map(|u| u.id).filter(|_| full);
    Ok(Json(UserPage { users, next_after }))
}

async fn get_user(State(db): Db, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<UserOut>> {
    let mut s = db.session();
    let user = s
        .query::<User>()
        .filter_by(User::ID, id)
        .load(User::ADDRESSES)
        .first()
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user {id}")))?;
    Ok(Json(user_out(&mut s, user).await?))
}

async fn preview_delete(
    State(db): Db,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DeletePreview>> {
    let mut s = db.session();
    let user = find_user(&mut s, id).await?;
    let preview = s.preview_delete(user).await?;
    Ok(Json(DeletePreview::from(&preview)))
}

// Writes: each in a transaction of its own, through `write`.

fn new_user(new: NewUser) -> User {
    User {
        id: None,
        name: new.name,
        fullname: new.fullname,
        nickname: new.nickname,
        addresses: new
            .addresses
            .iter()
            .map(|a| Address::new(&a.email_address))
            .collect::<HasMany<_>>(),
    }
}

async fn create_user(
    State(db): Db,
    ApiJson(new): ApiJson<NewUser>,
) -> ApiResult<impl IntoResponse> {
    new.validate()?;
    let created = write(&db, |s| {
        let new = new.clone();
        Box::pin(async move {
            let user = s.add(new_user(new))?; // its addresses join through save-update
            s.flush().await?; // assigns the keys the response shows
            user_out(s, user).await
        })
    })
    .await?;
    let location = format!("/users/{}", created.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(created),
    ))
}

fn apply_patch(user: &mut User, patch: UserPatch) {
    if let Some(name) = patch.name {
        user.name = name;
    }
    if let Some(fullname) = patch.fullname {
        user.fullname = fullname;
    }
    if let Some(nickname) = patch.nickname {
        user.nickname = nickname;
    }
}

async fn update_user(
    State(db): Db,
    ApiPath(id): ApiPath<i64>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> ApiResult<Json<UserOut>> {
    patch.validate()?;
    let updated = write(&db, |s| {
        let patch = patch.clone();
        Box::pin(async move {
            let user = find_user(s, id).await?;
            apply_patch(s.write(user).await?, patch);
            s.flush().await?; // an UPDATE of the changed columns only
            user_out(s, user).await
        })
    })
    .await?;
    Ok(Json(updated))
}

async fn delete_user(State(db): Db, ApiPath(id): ApiPath<i64>) -> ApiResult<StatusCode> {
    write(&db, |s| {
        Box::pin(async move {
            let user = find_user(s, id).await?;
            s.delete(user)?; // the addresses go too: cascade "all" on User::addresses
            Ok::<_, ApiError>(())
        })
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_address(
    State(db): Db,
    ApiPath(id): ApiPath<i64>,
    ApiJson(new): ApiJson<NewAddress>,
) -> ApiResult<impl IntoResponse> {
    new.validate()?;
    let created = write(&db, |s| {
        let email = new.email_address.clone();
        Box::pin(async move {
            let user = find_user(s, id).await?;
            let address = s.add(Address::new(&email))?;
            // Set from the address's side: the user's collection need not be loaded.
            s.set(address, Address::USER, Some(user)).await?;
            s.flush().await?;
            address_out(s, address).await
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn delete_address(State(db): Db, ApiPath(id): ApiPath<i64>) -> ApiResult<StatusCode> {
    write(&db, |s| {
        Box::pin(async move {
            let address = find_address(s, id).await?;
            s.delete(address)?;
            Ok::<_, ApiError>(())
        })
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes the address out of the user's collection; `delete-orphan` deletes it at the flush.
async fn remove_address(
    State(db): Db,
    ApiPath((id, address_id)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    write(&db, |s| {
        Box::pin(async move {
            let user = find_user(s, id).await?;
            let address = find_address(s, address_id).await?;
            if s.read(address).await?.user_id != Some(id) {
                return Err(ApiError::not_found(format!(
                    "user {id} has no address {address_id}"
                )));
            }
            s.remove(user, User::ADDRESSES, address).await?;
            Ok(())
        })
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
