//! `#[derive(Model)]` for the orm workspace.
//!
//! The derive runs in three stages: parse the attributes into typed values (`attr`, with
//! `cascade`), build and check the model (`ast`, `check`), then generate code (`expand`). Every
//! mistake is collected in a `ctxt::Ctxt` and reported at once, each at the token it concerns.
//! The attribute contract is documented in the orm-core crate.

#![warn(missing_docs)]

extern crate proc_macro;

mod ast;
mod attr;
mod cascade;
mod check;
mod ctxt;
mod expand;
mod sql_value;
mod suggest;
mod symbol;

use syn::DeriveInput;

/// Implements `orm_core::Model`, and typed column and relationship descriptors, for a struct.
#[proc_macro_derive(Model, attributes(model, column, relationship))]
pub fn derive_model(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}

/// Implements `orm_core::SqlValue` for a newtype (`struct UserId(i64)`, stored as its field) or
/// a field-less enum (stored as text, or as its discriminant when it has an integer `#[repr]`).
#[proc_macro_derive(SqlValue, attributes(sql))]
pub fn derive_sql_value(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    sql_value::derive(&input).into()
}
