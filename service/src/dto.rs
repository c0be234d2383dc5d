//! The JSON the service reads and writes. Field names are the columns' names; the models
//! themselves carry no serde derives, so the wire format can change without touching them.

use crate::error::ApiError;
use orm_core::{Preview, TableEffect};
use serde::{Deserialize, Deserializer, Serialize};

/// A stored user with its addresses (ordered by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserOut {
    /// The user's key.
    pub id: i64,
    /// Short name.
    pub name: String,
    /// Full name.
    pub fullname: String,
    /// Optional nickname.
    pub nickname: Option<String>,
    /// The user's addresses, by id.
    pub addresses: Vec<AddressOut>,
}

/// A stored address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressOut {
    /// The address's key.
    pub id: i64,
    /// The e-mail address.
    pub email_address: String,
    /// The user it belongs to.
    pub user_id: i64,
}

/// One page of `GET /users`: users ordered by id, and the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPage {
    /// The users of this page.
    pub users: Vec<UserOut>,
    /// The `after` of the next page; `None` when this page was the last (it was not full).
    pub next_after: Option<i64>,
}

/// The body of `POST /users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Short name; must not be blank.
    pub name: String,
    /// Full name.
    pub fullname: String,
    /// Optional nickname.
    #[serde(default)]
    pub nickname: Option<String>,
    /// Addresses created with the user.
    #[serde(default)]
    pub addresses: Vec<NewAddress>,
}

/// The body of `POST /users/{id}/addresses`, and an address inside a [`NewUser`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAddress {
    /// The e-mail address; must contain an `@`.
    pub email_address: String,
}

/// The body of `PATCH /users/{id}`: only the fields present change. `"nickname": null` clears
/// the nickname; a missing `nickname` leaves it as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New short name; must not be blank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fullname: Option<String>,
    /// `Some(None)` clears the nickname, `Some(Some(_))` sets it, `None` keeps it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub nickname: Option<Option<String>>,
}

/// Reads a field that is present (possibly `null`) as `Some`, so that a missing field (serde's
/// `default`, `None`) and an explicit `null` (`Some(None)`) stay apart.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The query string of `GET /users`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// At most this many users (1 to [`MAX_PAGE`], default [`DEFAULT_PAGE`]).
    pub limit: Option<u32>,
    /// Only users whose id is greater (the previous page's `next_after`).
    pub after: Option<i64>,
}

/// The page size of `GET /users` when the query gives none.
pub const DEFAULT_PAGE: u32 = 50;
/// The largest page `GET /users` returns.
pub const MAX_PAGE: u32 = 500;

/// What deleting a user would do, from the ORM's plan preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletePreview {
    /// The objects deleted explicitly ("User 5").
    pub roots: Vec<String>,
    /// Whether the delete would succeed (no refusal).
    pub would_succeed: bool,
    /// Why it would be refused, if it would.
    pub refusals: Vec<String>,
    /// Rows affected per table, in the order the plan first touches each table.
    pub tables: Vec<TableEffectOut>,
    /// The planned statements, in execution order (without their SQL).
    pub statements: Vec<StatementOut>,
}

/// The rows a previewed delete affects in one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEffectOut {
    /// The table.
    pub table: String,
    /// Rows deleted.
    pub deleted: u64,
    /// Rows whose foreign key is set to NULL.
    pub nulled: u64,
    /// Rows updated otherwise.
    pub updated: u64,
    /// Rows inserted.
    pub inserted: u64,
}

/// One statement of a previewed delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementOut {
    /// "delete", "set null", "update", "insert" or "check".
    pub action: String,
    /// The table it writes or checks.
    pub table: String,
    /// The rows it affects, counted now.
    pub rows: u64,
}

impl From<&TableEffect> for TableEffectOut {
    fn from(t: &TableEffect) -> Self {
        TableEffectOut {
            table: t.table.to_owned(),
            deleted: t.deleted,
            nulled: t.nulled,
            updated: t.updated,
            inserted: t.inserted,
        }
    }
}

impl From<&Preview> for DeletePreview {
    fn from(p: &Preview) -> Self {
        DeletePreview {
            roots: p.roots.clone(),
            would_succeed: p.would_succeed(),
            refusals: p.refusals.clone(),
            tables: p.tables.iter().map(TableEffectOut::from).collect(),
            // The SQL stays out: the preview says what happens, not how the schema is built.
            statements: p
                .statements
                .iter()
                .map(|s| StatementOut {
                    action: s.action.to_owned(),
                    table: s.table.to_owned(),
                    rows: s.rows,
                })
                .collect(),
        }
    }
}

/// The body of `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// "ok".
    pub status: String,
}

// Validation: the rules the database cannot check for us. Each failure is a 422.

/// A name or full name must have a visible character.
fn check_name(field: &'static str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(format!("`{field}` must not be empty")));
    }
    Ok(())
}

/// An e-mail address needs a local part and a domain around its `@`.
fn check_email(value: &str) -> Result<(), ApiError> {
    match value.split_once('@') {
        Some((local, domain)) if !local.trim().is_empty() && !domain.trim().is_empty() => Ok(()),
        _ => Err(ApiError::invalid(format!(
            "`email_address` must look like name@domain, got {value:?}"
        ))),
    }
}

impl NewAddress {
    /// Checks the e-mail address.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_email(&self.email_address)
    }
}

impl NewUser {
    /// Checks the names and every address.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_name("name", &self.name)?;
        check_name("fullname", &self.fullname)?;
        self.addresses.iter().try_for_each(NewAddress::validate)
    }
}

impl UserPatch {
    /// Checks the names that are present.
    pub fn validate(&self) -> Result<(), ApiError> {
        if let Some(name) = &self.name {
            check_name("name", name)?;
        }
        if let Some(fullname) = &self.fullname {
            check_name("fullname", fullname)?;
        }
        Ok(())
    }
}

impl PageQuery {
    /// The page size asked for, checked against [`MAX_PAGE`].
    pub fn page_size(&self) -> Result<u32, ApiError> {
        match self.limit.unwrap_or(DEFAULT_PAGE) {
            n @ 1..=MAX_PAGE => Ok(n),
            n => Err(ApiError::invalid(format!(
                "`limit` must be between 1 and {MAX_PAGE}, got {n}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_tells_a_missing_nickname_from_a_null_one() -> serde_json::Result<()> {
        let missing: UserPatch = serde_json::from_str(r#"{"name":"ed"}"#)?;
        assert_eq!(missing.nickname, None);
        let null: UserPatch = serde_json::from_str(r#"{"nickname":null}"#)?;
        assert_eq!(null.nickname, Some(None));
        let set: UserPatch = serde_json::from_str(r#"{"nickname":"eddie"}"#)?;
        assert_eq!(set.nickname, Some(Some("eddie".into())));
        Ok(())
    }

    #[test]
    fn validation_refuses_blank_names_and_addresses_without_at() {
        let mut user = NewUser {
            name: "ed".into(),
            fullname: "Ed Jones".into(),
            nickname: None,
            addresses: vec![NewAddress {
                email_address: "ed@example.com".into(),
            }],
        };
        assert!(user.validate().is_ok());
        user.name = "  ".into();
        assert!(user.validate().is_err());
        user.name = "ed".into();
        user.addresses[0].email_address = "ed.example.com".into();
        assert!(user.validate().is_err());
        user.addresses[0].email_address = "@example.com".into();
        assert!(user.validate().is_err());
    }

    #[test]
    fn the_page_size_is_bounded() {
        let query = |limit| PageQuery { limit, after: None };
        assert_eq!(query(None).page_size().ok(), Some(DEFAULT_PAGE));
        assert_eq!(query(Some(MAX_PAGE)).page_size().ok(), Some(MAX_PAGE));
        assert!(query(Some(0)).page_size().is_err());
        assert!(query(Some(MAX_PAGE + 1)).page_size().is_err());
    }
}
