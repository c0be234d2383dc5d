//! The one error type of the service and its HTTP mapping.
//!
//! ORM errors are sorted by their variants and accessors (`is_unique_violation`,
//! `is_retryable`, ...), never by their text. The body is always
//! `{ "error": "<what happened>", "code": "<ErrorCode>" }`; a 5xx body never carries the
//! database's message or SQL (the full error goes to the log instead).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use orm_core::{Error, TransactionError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What went wrong, as the client sees it in the `code` field. Each code has one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 404: no such user or address (or the address is not that user's).
    NotFound,
    /// 409: a unique (or primary-key) constraint refused a duplicate.
    Duplicate,
    /// 409: a foreign key refused the write (the referenced row is gone).
    ForeignKey,
    /// 409: the row changed under the request (deleted concurrently: `Error::StaleRows`).
    Stale,
    /// 422: a value failed validation, or a path, query or JSON body does not fit its type.
    Invalid,
    /// 400: the body is not JSON, or could not be read.
    Malformed,
    /// 413: the body is larger than the service accepts.
    TooLarge,
    /// 415: the body is not declared as `application/json`.
    UnsupportedMediaType,
    /// 503: the request lost every retry against concurrent transactions; try again.
    Busy,
    /// 503: the database cannot be reached, its pool is exhausted or closed, or it canceled
    /// the statement; try again.
    Unavailable,
    /// 500: anything else (logged; not described to the client).
    Internal,
}

impl ErrorCode {
    /// The HTTP status of this code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Duplicate | ErrorCode::ForeignKey | ErrorCode::Stale => StatusCode::CONFLICT,
            ErrorCode::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Malformed => StatusCode::BAD_REQUEST,
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::Busy | ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code of an ORM error: decided by its variant and accessors only.
    pub fn of(err: &Error) -> ErrorCode {
        match err {
            Error::NotFound { .. } => ErrorCode::NotFound,
            e if e.is_unique_violation() => ErrorCode::Duplicate,
            e if e.is_foreign_key_violation() => ErrorCode::ForeignKey,
            Error::StaleRows { .. } => ErrorCode::Stale,
            // `Database::transaction` has already run the work again; it kept losing.
            e if e.is_retryable() => ErrorCode::Busy,
            Error::PoolTimeout
            | Error::PoolClosed
            | Error::Connection { .. }
            | Error::Canceled { .. } => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What happened, for people.
    pub error: String,
    /// What happened, for programs.
    pub code: ErrorCode,
}

/// An error a handler answers with: a code, a message safe to show, and the ORM error behind
/// it (kept for the log and for `Database::transaction`, which retries retryable ones).
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    /// What only the log sees.
    detail: Option<String>,
    /// Boxed: an `orm_core::Error` is large, and every handler returns `Result<_, ApiError>`.
    orm: Option<Box<Error>>,
}

impl ApiError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            detail: None,
            orm: None,
        }
    }

    /// A 422: a value the service refuses.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Invalid, message)
    }

    /// A 404: what was looked for and is not there ("no user 5").
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::NotFound, message)
    }

    /// A 503: the database did not answer as it should; `orm` is what it said, if anything.
    pub fn unavailable(message: impl Into<String>, orm: Option<Error>) -> Self {
        ApiError {
            orm: orm.map(Box::new),
            ..ApiError::new(ErrorCode::Unavailable, message)
        }
    }

    /// A 500 for a state the service cannot be in: `detail` goes to the log, not to the client.
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError {
            detail: Some(detail.into()),
            ..ApiError::new(ErrorCode::Internal, "internal error")
        }
    }

    /// The code the client sees.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message the client sees.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(orm) = &self.orm {
            write!(f, ": {orm}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.orm.as_deref().map(|e| e as _)
    }
}

/// The message a client may see for an ORM error of `code`: written here, not the database's
/// text, which can quote SQL and values.
fn public_message(code: ErrorCode, err: &Error) -> String {
    match code {
        ErrorCode::NotFound => err.to_string(),
        ErrorCode::Duplicate => match err.column() {
            Some(column) => format!("a row with this `{column}` already exists"),
            None => "a row with this key already exists".to_owned(),
        },
        ErrorCode::ForeignKey => "a row this request refers to does not exist (any more)".into(),
        ErrorCode::Stale => "the row was changed or deleted concurrently; reload it".into(),
        ErrorCode::Busy => "the database is busy with concurrent requests; try again".into(),
        ErrorCode::Unavailable => "the database is unavailable; try again".into(),
        _ => "internal error".into(),
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let code = ErrorCode::of(&err);
        ApiError {
            code,
            message: public_message(code, &err),
            detail: None,
            orm: Some(Box::new(err)),
        }
    }
}

impl TransactionError for ApiError {
    fn orm_error(&self) -> Option<&Error> {
        self.orm.as_deref()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let code = match &rejection {
            JsonRejection::JsonDataError(_) => ErrorCode::Invalid,
            JsonRejection::MissingJsonContentType(_) => ErrorCode::UnsupportedMediaType,
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
            _ => ErrorCode::Malformed,
        };
        ApiError::new(code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        // axum says 400; a query parameter of the wrong type is refused like a body field.
        ApiError::invalid(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        // `/users/abc`: the id does not parse, as a query parameter might not.
        ApiError::invalid(rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        // A 500 is a bug to look at; a 503 is load or an outage, seen in aggregate.
        match self.code {
            ErrorCode::Internal => tracing::error!(code = ?self.code, "{self}"),
            ErrorCode::Busy | ErrorCode::Unavailable => tracing::warn!(code = ?self.code, "{self}"),
            _ => tracing::debug!(code = ?self.code, "{self}"),
        }
        let body = ErrorBody {
            error: self.message,
            code: self.code,
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orm_core::{ConflictKind, DbDetails};

    /// A SQLite database with the seed tables, for real constraint errors.
    async fn seed_db() -> orm_core::Result<orm_core::Database> {
        crate::connect("sqlite::memory:").await
    }

    #[tokio::test]
    async fn a_duplicate_primary_key_is_409_duplicate() -> orm_core::Result<()> {
        let db = seed_db().await?;
        let insert = "INSERT INTO users (id, name, fullname) VALUES (1, 'ed', 'Ed Jones')";
        db.execute_raw(insert, &[]).await?;
        let Err(err) = db.execute_raw(insert, &[]).await else {
            panic!("the second insert of key 1 succeeded");
        };
        assert!(err.is_unique_violation(), "{err:?}");
        let api = ApiError::from(err);
        assert_eq!(api.code(), ErrorCode::Duplicate);
        assert_eq!(api.code().status(), StatusCode::CONFLICT);
        Ok(())
    }

    #[tokio::test]
    async fn a_missing_parent_is_409_foreign_key() -> orm_core::Result<()> {
        let db = seed_db().await?;
        let insert = "INSERT INTO addresses (email_address, user_id) VALUES ('a@b', 999)";
        let Err(err) = db.execute_raw(insert, &[]).await else {
            panic!("an address of a missing user was inserted");
        };
        assert!(err.is_foreign_key_violation(), "{err:?}");
        assert_eq!(ApiError::from(err).code(), ErrorCode::ForeignKey);
        Ok(())
    }

    #[tokio::test]
    async fn one_of_nothing_is_404_and_a_closed_pool_is_503() -> orm_core::Result<()> {
        use orm_tests::models::User;
        let db = seed_db().await?;
        let mut session = db.session();
        let err = session.query::<User>().one().await.err();
        assert_eq!(
            err.map(|e| ApiError::from(e).code()),
            Some(ErrorCode::NotFound)
        );
        db.close().await;
        let err = db.fetch_raw("SELECT 1", &[]).await.err();
        let code = err.map(|e| ApiError::from(e).code());
        assert_eq!(code, Some(ErrorCode::Unavailable));
        Ok(())
    }

    #[test]
    fn stale_rows_pool_timeouts_and_lost_races_map_by_variant() {
        let stale = Error::StaleRows {
            model: "User",
            expected: 1,
            updated: 0,
        };
        assert_eq!(ErrorCode::of(&stale), ErrorCode::Stale);
        assert_eq!(ErrorCode::of(&Error::PoolTimeout), ErrorCode::Unavailable);
        let conflict = Error::Conflict {
            kind: ConflictKind::Serialization,
            action: "updating `users`".into(),
            message: "could not serialize access".into(),
            details: Box::new(DbDetails::default().code(Some("40001"))),
            source: None,
        };
        assert_eq!(ErrorCode::of(&conflict), ErrorCode::Busy);
        assert_eq!(ErrorCode::Busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        let api = ApiError::from(conflict);
        assert!(
            api.is_retryable(),
            "the transaction helper must see the conflict"
        );
    }

    #[tokio::test]
    async fn an_internal_error_shows_no_sql() -> Result<(), Box<dyn std::error::Error>> {
        let err = Error::Database {
            action: "reading from `users`".into(),
            message: "near \"SELEC\": syntax error in SELEC * FROM users".into(),
            details: Box::default(),
            source: None,
        };
        let response = ApiError::from(err).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await?;
        let body: ErrorBody = serde_json::from_slice(&body)?;
        assert_eq!(body.code, ErrorCode::Internal);
        assert!(!body.error.contains("SELEC") && !body.error.contains("users"));
        Ok(())
    }
}
