//! Typed descriptors: `User::NAME: Column<User, String>`, `User::ADDRESSES: Rel<User, HasMany<_>>`.

use super::Private;
use crate::ast::Model;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::Ident;

pub fn expand(p: &Private, model: &Model) -> TokenStream {
    let ident = model.ident;
    let columns = model.columns.iter().enumerate().map(|(i, c)| {
        let (name, ty) = (constant_name(c.ident), c.ty);
        let doc = format!("The `{}` column.", c.name);
        quote! {
            #[doc = #doc]
            pub const #name: #p::Column<#ident, #ty> = #p::Column::new(#i);
        }
    });
    let relations = model.relations.iter().enumerate().map(|(i, r)| {
        let (name, ty) = (constant_name(r.ident), r.ty);
        let doc = format!("The `{}` relationship.", r.ident.unraw());
        // Spanned at the field type: a target that is not a model is reported there.
        let private = p.spanned_at(ty.span());
        let new = quote_spanned!(ty.span()=> #private::Rel::new(#i));
        quote! {
            #[doc = #doc]
            pub const #name: #p::Rel<#ident, #ty> = #new;
        }
    });
    quote! {
        #[automatically_derived]
        impl #ident {
            #(#columns)*
            #(#relations)*
        }
    }
}

/// `user_id` -> `USER_ID` (raw identifiers lose their `r#`), spanned at the field.
fn constant_name(field: &Ident) -> Ident {
    format_ident!(
        "{}",
        field.unraw().to_string().to_uppercase(),
        span = field.span()
    )
}
