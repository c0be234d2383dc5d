//! Checks the derive cannot make alone, left to the compiler: field types through the
//! `SqlValue` trait (spanned at the type), and rules between two models as const assertions
//! over both models' `META` (spanned at the user's attribute). The verdicts come from const fns
//! in `orm_core::checks`; the messages, naming both models, are built here.

use super::{private, relationship, sql_value, target_item};
use crate::ast::{Model, RelKind, Relation};
use crate::attr::OnDelete;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

pub fn expand(model: &Model) -> TokenStream {
    let set_null = model
        .columns
        .iter()
        .filter_map(|c| set_null_nullable(model, c));
    let targets = relation_targets(model);
    let relations = model.relations.iter().map(|r| {
        let back = back_populates(model, r);
        let link = link(model, r);
        quote!(#back #link)
    });
    quote! {
        #(#set_null)*
        #targets
        #(#relations)*
    }
}

/// The short name of a type for messages: the last path segment (`crate::a::User` -> `User`).
fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(path) => match path.path.segments.last() {
            Some(segment) => segment.ident.to_string(),
            None => ty.to_token_stream().to_string(),
        },
        _ => ty.to_token_stream().to_string(),
    }
}

fn relation_targets(model: &Model) -> TokenStream {
    let p = private();
    let ident = model.ident;
    let targets = model
        .relations
        .iter()
        .map(|r| target_item(r.ty, "Model", "META"));
    quote! {
        #[automatically_derived]
        impl #p::RelationTargets for #ident {
            const RELATION_TARGETS: &'static [&'static #p::ModelMeta] = &[#(#targets),*];
        }
    }
}

/// Whether the target is a real model, not the placeholder emitted beside a derive's errors
/// (recognised by its empty primary key; see `dummy`).
fn is_derived_model(ty: &syn::Type) -> TokenStream {
    let meta = target_item(ty, "Model", "META");
    quote!(!#meta.primary_key.is_empty())
}

/// A const item, spanned at `span`, that panics with the message of the verdict it gets. The
/// check is skipped when `valid` is false: the other model failed to derive and its own errors
/// are the ones to show.
fn verdict_assertion(
    span: Span,
    valid: TokenStream,
    verdict: TokenStream,
    enum_path: TokenStream,
    arms: Vec<(&str, String)>,
) -> TokenStream {
    let arms = arms.into_iter().map(|(variant, message)| {
        let variant = syn::Ident::new(variant, span);
        quote_spanned!(span=> #enum_path::#variant => ::core::panic!(#message),)
    });
    quote_spanned! {span=>
        const _: () = match if #valid { #verdict } else { #enum_path::Ok } {
            #enum_path::Ok => {}
            #(#arms)*
        };
    }
}

fn back_populates(model: &Model, relation: &Relation) -> Option<TokenStream> {
    let lit = relation.attrs.back_populates.as_ref()?;
    let p = private();
    let (this, partner) = (model.ident, lit.value());
    let (kind, target) = (
        relationship(relation.ty, "KIND"),
        target_item(relation.ty, "Model", "META"),
    );
    let targets = target_item(relation.ty, "RelationTargets", "RELATION_TARGETS");
    let field = relation.ident.unraw().to_string();
    let verdict = quote! {
        #p::back_populates(
            <#this as #p::Model>::META,
            #field,
            #kind,
            #target,
            #targets,
            #partner,
        )
    };
    let arms = back_populates_messages(model, relation, &partner);
    let valid = is_derived_model(relation.ty);
    let enum_path = quote!(#p::BackPopulates);
    Some(verdict_assertion(
        lit.span(),
        valid,
        verdict,
        enum_path,
        arms,
    ))
}

fn back_populates_messages(
    model: &Model,
    relation: &Relation,
    partner: &str,
) -> Vec<(&'static str, String)> {
    let this = model.ident.to_string();
    let target = type_name(relation.target);
    let field = relation.ident.unraw().to_string();
    let here = format!("`back_populates = \"{partner}\"` on `{this}::{field}`");
    let write = format!("name the relationship field of `{target}` that points back at `{this}`");
    let pair = match relation.kind {
        RelKind::HasMany | RelKind::HasOne => format!("`BelongsTo<{this}>`"),
        RelKind::BelongsTo => format!("`HasMany<{this}>` or `HasOne<{this}>`"),
        RelKind::ManyToMany => format!("`ManyToMany<{this}>`"),
    };
    vec![
        (
            "NoSuchField",
            format!("{here}: `{target}` has no field `{partner}`; {write}"),
        ),
        (
            "NotARelationship",
            format!("{here}: `{target}::{partner}` is a column, not a relationship; {write}"),
        ),
        (
            "KindMismatch",
            format!(
                "{here}: `{target}::{partner}` cannot pair with a {kind} field; the other side \
                 of a {kind} must be {pair}",
                kind = relation.kind.type_name()
            ),
        ),
        (
            "WrongTarget",
            format!("{here}: `{target}::{partner}` is a relationship to another model; {write}"),
        ),
        (
            "Asymmetric",
            format!(
                "{here}: `{target}::{partner}` declares a `back_populates` that does not name \
                 `{field}`; make both sides name each other"
            ),
        ),
    ]
}

fn link(model: &Model, relation: &Relation) -> TokenStream {
    let p = private();
    let this = model.ident;
    let (kind, target) = (
        relationship(relation.ty, "KIND"),
        target_item(relation.ty, "Model", "META"),
    );
    let target_valid = is_derived_model(relation.ty);
    let (through, valid) = match (&relation.attrs.through, relation.kind) {
        (Some(through), RelKind::ManyToMany) => (
            quote!(::core::option::Option::Some(<#through as #p::Model>::META)),
            quote!(#target_valid && !<#through as #p::Model>::META.primary_key.is_empty()),
        ),
        _ => (quote!(::core::option::Option::None), target_valid),
    };
    let chosen = match &relation.attrs.foreign_key {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let verdict = quote! {
        #p::link(
            #kind,
            <#this as #p::Model>::META,
            #target,
            #through,
            #chosen,
        )
    };
    let span = relation
        .attrs
        .foreign_key
        .as_ref()
        .map_or_else(|| relation.target.span(), |l| l.span());
    let messages = link_messages(model, relation);
    verdict_assertion(span, valid, verdict, quote!(#p::Link), messages)
}

fn link_messages(model: &Model, relation: &Relation) -> Vec<(&'static str, String)> {
    let this = model.ident.to_string();
    let target = type_name(relation.target);
    let field = format!("`{this}::{}`", relation.ident.unraw());
    let here_key = key_reference(model);
    let (holder, referenced) = match relation.kind {
        RelKind::BelongsTo => (this.clone(), format!("the table of `{target}`")),
        _ => (target.clone(), format!("`{}`", here_key)),
    };
    let through = relation
        .attrs
        .through
        .as_ref()
        .map_or_else(String::new, type_name);
    let chosen = relation
        .attrs
        .foreign_key
        .as_ref()
        .map_or_else(String::new, |l| l.value());
    vec![
        (
            "NoForeignKey",
            format!(
                "no foreign key links {field} to `{target}`: a {kind} field needs a column of \
                 `{holder}` declared `#[column(foreign_key = \"table.column\")]` referencing {referenced}",
                kind = relation.kind.type_name()
            ),
        ),
        (
            "Ambiguous",
            format!(
                "several foreign keys could link {field} to `{target}`: choose one with \
                 `#[relationship(foreign_key = \"column_name\")]`"
            ),
        ),
        (
            "ChosenNotFound",
            format!(
                "`foreign_key = \"{chosen}\"` on {field}: no column of that name in `{holder}` is \
                 a foreign key linking `{this}` and `{target}`; name one that is"
            ),
        ),
        (
            "ThroughMissingLocal",
            format!(
                "the association model `{through}` of {field} has no foreign key to `{this}`'s \
                 table: add a column `#[column(foreign_key = \"{here_key}\")]` to `{through}`"
            ),
        ),
        (
            "ThroughMissingRemote",
            format!(
                "the association model `{through}` of {field} has no foreign key to `{target}`'s \
                 table: add a column to `{through}` declared `#[column(foreign_key = \"table.column\")]` \
                 referencing `{target}`"
            ),
        ),
        (
            "ThroughAmbiguousRemote",
            format!(
                "the association model `{through}` of {field} has several foreign keys to \
                 `{target}`'s table: keep one per side"
            ),
        ),
    ]
}

/// `"users.id"` for messages that ask for a foreign key to this model.
fn key_reference(model: &Model) -> String {
    let key = model.columns.iter().find(|c| c.attrs.primary_key);
    let column = key.map_or("id", |c| c.name.as_str());
    format!("{}.{}", model.table, column)
}

/// `on_delete = "set null"` on a column that can never be NULL would make the database fail.
fn set_null_nullable(model: &Model, column: &crate::ast::Column) -> Option<TokenStream> {
    let on_delete = column.attrs.on_delete.as_ref()?;
    if on_delete.value != OnDelete::SetNull || column.attrs.primary_key {
        return None;
    }
    let nullable = sql_value(column.ty, "NULLABLE");
    let message = format!(
        "`on_delete = \"set null\"` on `{}::{}`, a NOT NULL column: make the field an \
         `Option<...>`, or write `on_delete = \"cascade\"`",
        model.ident, column.ident
    );
    Some(quote_spanned! {on_delete.span=>
        const _: () = if !#nullable {
            ::core::panic!(#message)
        };
    })
}
