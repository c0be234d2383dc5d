//! Stage 3: code generation. Expansion assumes a model that passed every check; on invalid input
//! only the errors and a minimal placeholder impl are emitted (see [`dummy`]).
//!
//! Everything is wrapped in `const _: () = { ... }` and reaches the runtime through one path,
//! [`Private`] (`::orm_core::__private`, or under `#[model(crate = "...")]`), so the user's
//! namespace is untouched.

mod access;
mod checks;
mod descriptors;
mod dummy;
mod meta;

use crate::ast::Model;
use crate::attr::ModelAttrs;
use crate::check;
use crate::ctxt::Ctxt;
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::DeriveInput;

/// The path through which generated code reaches the runtime: `<crate>::__private`, where
/// `<crate>` is the path of `#[model(crate = "...")]` (for a user who reaches orm_core through a
/// re-export, as serde's `#[serde(crate = "...")]`) or `::orm_core`. Chosen once per derive, in
/// [`Private::new`]; every generated path starts with it.
pub struct Private(TokenStream);

impl Private {
    fn new(krate: Option<&syn::Path>) -> Private {
        let krate = match krate {
            Some(path) => path.to_token_stream(),
            None => quote!(::orm_core),
        };
        Private(quote!(#krate::__private))
    }

    /// The path, every token of it spanned at `span` (a field type, so that a trait error is
    /// reported there). Both spans come from the user's input, so the path resolves the same.
    fn spanned_at(&self, span: Span) -> TokenStream {
        let respan = |mut token: TokenTree| {
            token.set_span(span);
            token
        };
        self.0.clone().into_iter().map(respan).collect()
    }
}

impl ToTokens for Private {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.0.to_tokens(tokens);
    }
}

// The paths below are spanned, every token of them, at the field type: a type that does not
// implement the trait is then reported at the type, and once (the compiler merges identical
// errors at one span). A path with call-site tokens would be reported at `derive(Model)`.

/// `<T as SqlValue>::item`.
fn sql_value(p: &Private, ty: &syn::Type, item: &str) -> TokenStream {
    let (p, item) = (p.spanned_at(ty.span()), syn::Ident::new(item, ty.span()));
    quote_spanned!(ty.span()=> <#ty as #p::SqlValue>::#item)
}

/// `<T as Relationship>::item`.
fn relationship(p: &Private, ty: &syn::Type, item: &str) -> TokenStream {
    let (p, item) = (p.spanned_at(ty.span()), syn::Ident::new(item, ty.span()));
    quote_spanned!(ty.span()=> <#ty as #p::Relationship>::#item)
}

/// `<<T as Relationship>::Target as Trait>::item`.
fn target_item(p: &Private, ty: &syn::Type, target_trait: &str, item: &str) -> TokenStream {
    let target = relationship(p, ty, "Target");
    let p = p.spanned_at(ty.span());
    let target_trait = syn::Ident::new(target_trait, ty.span());
    let item = syn::Ident::new(item, ty.span());
    quote_spanned!(ty.span()=> <#target as #p::#target_trait>::#item)
}

/// Parses, checks and expands `#[derive(Model)]`.
pub fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let mut attrs = ModelAttrs::parse(&cx, &input.attrs);
    let p = Private::new(attrs.krate.take().as_ref());
    let model = Model::from_ast(&cx, input, attrs);
    if let Some(model) = &model {
        check::check(&cx, model);
    }
    match (cx.check(), model) {
        (Ok(()), Some(model)) => expand(&p, &model),
        (Err(errors), _) => {
            let errors = errors.to_compile_error();
            let dummy = dummy::expand(&p, input);
            quote!(#errors #dummy)
        }
        (Ok(()), None) => dummy::expand(&p, input),
    }
}

fn expand(p: &Private, model: &Model) -> TokenStream {
    let model_impl = model_impl(p, model);
    let descriptors = descriptors::expand(p, model);
    let checks = checks::expand(p, model);
    quote! {
        #[allow(non_upper_case_globals, clippy::all)]
        const _: () = {
            #model_impl
            #descriptors
            #checks
        };
    }
}

fn model_impl(p: &Private, model: &Model) -> TokenStream {
    let ident = model.ident;
    let meta = meta::expand(p, model);
    let access = access::expand(p, model);
    quote! {
        #[automatically_derived]
        impl #p::Model for #ident {
            const META: &'static #p::ModelMeta = #meta;
            #access
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(input: DeriveInput) -> String {
        let tokens = derive(&input);
        assert!(
            syn::parse2::<syn::File>(tokens.clone()).is_ok(),
            "output is valid Rust"
        );
        tokens.to_string()
    }

    #[test]
    fn valid_input_expands_to_a_hygienic_impl() {
        let out = expand_str(syn::parse_quote! {
            #[model(table = "users")]
            struct User {
                #[column(primary_key)]
                id: Option<i64>,
                #[relationship(cascade = "all, delete-orphan")]
                posts: HasMany<Post>,
            }
        });
        assert!(out.starts_with("# [allow"));
        assert!(out.contains("const _ : () ="));
        assert!(out
            .contains("# [automatically_derived] impl :: orm_core :: __private :: Model for User"));
        assert!(out.contains(
            "Cascade :: ALL . union (:: orm_core :: __private :: Cascade :: DELETE_ORPHAN)"
        ));
        assert!(out.contains("pub const POSTS"));
        assert!(!out.contains("compile_error"));
    }

    #[test]
    fn invalid_input_expands_to_errors_and_a_placeholder() {
        let out = expand_str(syn::parse_quote! {
            struct User {
                #[column(uniqe)]
                id: i64,
            }
        });
        assert_eq!(
            out.matches("compile_error").count(),
            2,
            "unknown key and no primary key"
        );
        // The placeholder's metadata has no primary key (`ModelMeta::new` alone).
        assert!(
            out.contains("ModelMeta :: new (\"User\" , \"User\") ;"),
            "placeholder impl: {out}"
        );
    }

    #[test]
    fn every_runtime_path_goes_through_the_crate_attribute() {
        let out = expand_str(syn::parse_quote! {
            #[model(table = "users", crate = "my_orm::orm_core")]
            struct User {
                #[column(primary_key)]
                id: Option<i64>,
                name: String,
                #[relationship(back_populates = "user", cascade = "all")]
                posts: HasMany<Post>,
            }
        });
        let private = out.matches("orm_core :: __private").count();
        assert!(private > 10, "generated code reaches the runtime");
        assert_eq!(
            out.matches("my_orm :: orm_core :: __private").count(),
            private,
            "no path bypasses `crate = ...`"
        );
        assert!(!out.contains("compile_error"));
    }

    #[test]
    fn the_placeholder_also_goes_through_the_crate_attribute() {
        let out = expand_str(syn::parse_quote! {
            #[model(crate = "my_orm::orm_core")]
            struct User {
                id: i64,
            }
        });
        assert_eq!(out.matches("compile_error").count(), 1, "no primary key");
        let private = out.matches("orm_core :: __private").count();
        assert_eq!(
            out.matches("my_orm :: orm_core :: __private").count(),
            private
        );
    }
}
