//! Stage 3: code generation. Expansion assumes a model that passed every check; on invalid input
//! only the errors and a minimal placeholder impl are emitted (see [`dummy`]).
//!
//! Everything is wrapped in `const _: () = { ... }` and reaches the runtime through
//! `::orm_core::__private`, so the user's namespace is untouched.

mod access;
mod checks;
mod descriptors;
mod dummy;
mod meta;

use crate::ast::Model;
use crate::check;
use crate::ctxt::Ctxt;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::DeriveInput;

/// The path through which generated code reaches the runtime.
fn private() -> TokenStream {
    quote!(::orm_core::__private)
}

// The paths below are spanned, every token of them, at the field type: a type that does not
// implement the trait is then reported at the type, and once (the compiler merges identical
// errors at one span). A path with call-site tokens would be reported at `derive(Model)`.

/// `<T as SqlValue>::item`.
fn sql_value(ty: &syn::Type, item: &str) -> TokenStream {
    let item = syn::Ident::new(item, ty.span());
    quote_spanned!(ty.span()=> <#ty as ::orm_core::__private::SqlValue>::#item)
}

/// `<T as Relationship>::item`.
fn relationship(ty: &syn::Type, item: &str) -> TokenStream {
    let item = syn::Ident::new(item, ty.span());
    quote_spanned!(ty.span()=> <#ty as ::orm_core::__private::Relationship>::#item)
}

/// `<<T as Relationship>::Target as Trait>::item`.
fn target_item(ty: &syn::Type, target_trait: &str, item: &str) -> TokenStream {
    let target = relationship(ty, "Target");
    let target_trait = syn::Ident::new(target_trait, ty.span());
    let item = syn::Ident::new(item, ty.span());
    quote_spanned!(ty.span()=> <#target as ::orm_core::__private::#target_trait>::#item)
}

/// Parses, checks and expands `#[derive(Model)]`.
pub fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let model = Model::from_ast(&cx, input);
    if let Some(model) = &model {
        check::check(&cx, model);
    }
    match (cx.check(), model) {
        (Ok(()), Some(model)) => expand(&model),
        (Err(errors), _) => {
            let errors = errors.to_compile_error();
            let dummy = dummy::expand(input);
            quote!(#errors #dummy)
        }
        (Ok(()), None) => dummy::expand(input),
    }
}

fn expand(model: &Model) -> TokenStream {
    let model_impl = model_impl(model);
    let descriptors = descriptors::expand(model);
    let checks = checks::expand(model);
    quote! {
        #[allow(non_upper_case_globals, clippy::all)]
        const _: () = {
            #model_impl
            #descriptors
            #checks
        };
    }
}

fn model_impl(model: &Model) -> TokenStream {
    let p = private();
    let ident = model.ident;
    let meta = meta::expand(model);
    let access = access::expand(model);
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
        assert!(out.contains("primary_key : & []"), "placeholder impl");
    }
}
