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
use quote::quote;
use syn::DeriveInput;

/// The path through which generated code reaches the runtime.
fn private() -> TokenStream {
    quote!(::orm_core::__private)
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
