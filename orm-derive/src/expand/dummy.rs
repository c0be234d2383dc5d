//! On invalid input: a placeholder `impl Model` so that the user sees only the real errors, not
//! a cascade of "`User` is not a model" errors wherever the type is used.

use super::Private;
use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub fn expand(p: &Private, input: &DeriveInput) -> TokenStream {
    // A generic struct would need its parameters repeated; the error already covers it.
    if !input.generics.params.is_empty() || !matches!(input.data, syn::Data::Struct(_)) {
        return TokenStream::new();
    }
    let ident = &input.ident;
    // An empty primary key marks the placeholder (a derived model always has one): the const
    // checks of other models skip it rather than report errors caused by this model's own.
    let name = ident.to_string();
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #p::Model for #ident {
                const META: &'static #p::ModelMeta = &#p::ModelMeta::new(#name, #name);
                fn column_value(&self, index: usize) -> #p::Value {
                    #p::no_such_column(#name, index)
                }
                fn set_column_value(
                    &mut self,
                    index: usize,
                    _: #p::Value,
                ) -> ::core::result::Result<(), #p::ValueError> {
                    #p::no_such_column(#name, index)
                }
                fn from_values(
                    _: ::std::vec::Vec<#p::Value>,
                ) -> ::core::result::Result<Self, #p::Error> {
                    #p::no_such_column(#name, 0)
                }
                fn relation(&self, index: usize) -> &#p::RelSlot {
                    #p::no_such_relation(#name, index)
                }
                fn relation_mut(&mut self, index: usize) -> &mut #p::RelSlot {
                    #p::no_such_relation(#name, index)
                }
            }

            #[automatically_derived]
            impl #p::RelationTargets for #ident {
                const RELATION_TARGETS: &'static [&'static #p::ModelMeta] = &[];
            }
        };
    }
}
