//! Checks the derive cannot make alone, left to the compiler: field types through the
//! `SqlValue` trait (spanned at the type), and rules between two models as const assertions
//! over both models' `META` (spanned at the user's attribute). The rules, their verdicts and
//! their messages are in `orm_core::checks`, written once for these assertions and for the
//! run-time validation; the derive only fills in each rule's query.

use super::{relationship, sql_value, target_item, Private};
use crate::ast::{Model, RelKind, Relation};
use crate::attr::OnDelete;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

pub fn expand(p: &Private, model: &Model) -> TokenStream {
    let set_null = model
        .columns
        .iter()
        .filter_map(|c| set_null_nullable(p, model, c));
    let targets = relation_targets(p, model);
    let relations = model.relations.iter().map(|r| {
        let back = back_populates(p, model, r);
        let link = link(p, model, r);
        quote!(#back #link)
    });
    quote! {
        #(#set_null)*
        #targets
        #(#relations)*
    }
}

fn relation_targets(p: &Private, model: &Model) -> TokenStream {
    let ident = model.ident;
    let targets = model
        .relations
        .iter()
        .map(|r| target_item(p, r.ty, "Model", "META"));
    quote! {
        #[automatically_derived]
        impl #p::RelationTargets for #ident {
            const RELATION_TARGETS: &'static [&'static #p::ModelMeta] = &[#(#targets),*];
        }
    }
}

/// Whether the target is a real model, not the placeholder emitted beside a derive's errors
/// (recognised by its empty primary key; see `dummy`).
fn is_derived_model(p: &Private, ty: &syn::Type) -> TokenStream {
    let meta = target_item(p, ty, "Model", "META");
    quote!(!#meta.primary_key.is_empty())
}

/// One rule of `orm_core::checks` as a const item, spanned at `span`: the query gets a verdict,
/// and a bad verdict fails compilation with the verdict's message. A const panic takes one
/// `&str` and const code cannot allocate, so the message is first rendered into an array of its
/// exact length. The rule is skipped when `valid` is false: the other model failed to derive and
/// its own errors are the ones to show.
fn rule_assertion(p: &Private, span: Span, rule: Rule) -> TokenStream {
    let Rule {
        valid,
        query_type,
        query,
        verdict_type,
    } = rule;
    quote_spanned! {span=>
        const _: () = {
            const QUERY: #p::#query_type<'static> = #query;
            const VERDICT: #p::#verdict_type =
                if #valid { QUERY.verdict() } else { #p::#verdict_type::Ok };
            const MESSAGE: #p::Message<'static> = VERDICT.message(&QUERY);
            const BYTES: [u8; MESSAGE.byte_len()] = MESSAGE.bytes();
            if !VERDICT.is_ok() {
                ::core::panic!("{}", #p::message_str(&BYTES))
            }
        };
    }
}

/// The parts of a [`rule_assertion`].
struct Rule {
    /// Whether both models derived (else the rule is skipped).
    valid: TokenStream,
    /// `LinkQuery` or `PairQuery`.
    query_type: syn::Ident,
    /// The query's value.
    query: TokenStream,
    /// `Link` or `BackPopulates`.
    verdict_type: syn::Ident,
}

/// `back_populates = "partner"` names a field of the target that pairs with this one.
fn back_populates(p: &Private, model: &Model, relation: &Relation) -> Option<TokenStream> {
    let lit = relation.attrs.back_populates.as_ref()?;
    let this = model.ident;
    let (kind, target) = (
        relationship(p, relation.ty, "KIND"),
        target_item(p, relation.ty, "Model", "META"),
    );
    let targets = target_item(p, relation.ty, "RelationTargets", "RELATION_TARGETS");
    let field = relation.ident.unraw().to_string();
    let query = quote! {
        #p::PairQuery {
            this: <#this as #p::Model>::META,
            field: #field,
            kind: #kind,
            target: #target,
            target_targets: #targets,
            partner: #lit,
        }
    };
    let rule = Rule {
        valid: is_derived_model(p, relation.ty),
        query_type: syn::Ident::new("PairQuery", lit.span()),
        query,
        verdict_type: syn::Ident::new("BackPopulates", lit.span()),
    };
    Some(rule_assertion(p, lit.span(), rule))
}

/// A foreign key links the two models: the only candidate, or the one `foreign_key` chooses.
/// Spanned at `foreign_key = "..."` if given, else at the target type.
fn link(p: &Private, model: &Model, relation: &Relation) -> TokenStream {
    let this = model.ident;
    let (kind, target) = (
        relationship(p, relation.ty, "KIND"),
        target_item(p, relation.ty, "Model", "META"),
    );
    let target_valid = is_derived_model(p, relation.ty);
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
    let field = relation.ident.unraw().to_string();
    let query = quote! {
        #p::LinkQuery {
            this: <#this as #p::Model>::META,
            field: #field,
            kind: #kind,
            target: #target,
            through: #through,
            chosen: #chosen,
        }
    };
    let span = relation
        .attrs
        .foreign_key
        .as_ref()
        .map_or_else(|| relation.target.span(), |l| l.span());
    let rule = Rule {
        valid,
        query_type: syn::Ident::new("LinkQuery", span),
        query,
        verdict_type: syn::Ident::new("Link", span),
    };
    rule_assertion(p, span, rule)
}

/// `on_delete = "set null"` on a column that can never be NULL would make the database fail.
fn set_null_nullable(
    p: &Private,
    model: &Model,
    column: &crate::ast::Column,
) -> Option<TokenStream> {
    let on_delete = column.attrs.on_delete.as_ref()?;
    if on_delete.value != OnDelete::SetNull || column.attrs.primary_key {
        return None;
    }
    let nullable = sql_value(p, column.ty, "NULLABLE");
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
