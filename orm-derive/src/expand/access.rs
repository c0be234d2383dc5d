//! The `Model` methods that read and write fields by index.

use super::{relationship, sql_value, Private};
use crate::ast::Model;
use proc_macro2::TokenStream;
use quote::quote;

pub fn expand(p: &Private, model: &Model) -> TokenStream {
    let column_value = column_value(p, model);
    let set_column_value = set_column_value(p, model);
    let from_values = from_values(p, model);
    let relations = relations(p, model);
    quote! {
        #column_value
        #set_column_value
        #from_values
        #relations
    }
}

fn column_value(p: &Private, model: &Model) -> TokenStream {
    let name = model.ident.to_string();
    let arms = model.columns.iter().enumerate().map(|(i, c)| {
        let (field, to_value) = (c.ident, sql_value(p, c.ty, "to_value"));
        quote!(#i => #to_value(&self.#field),)
    });
    quote! {
        fn column_value(&self, index: usize) -> #p::Value {
            match index {
                #(#arms)*
                _ => #p::no_such_column(#name, index),
            }
        }
    }
}

fn set_column_value(p: &Private, model: &Model) -> TokenStream {
    let name = model.ident.to_string();
    let arms = model.columns.iter().enumerate().map(|(i, c)| {
        let (field, from_value) = (c.ident, sql_value(p, c.ty, "from_value"));
        quote!(#i => self.#field = #from_value(value)?,)
    });
    quote! {
        fn set_column_value(
            &mut self,
            index: usize,
            value: #p::Value,
        ) -> ::core::result::Result<(), #p::ValueError> {
            match index {
                #(#arms)*
                _ => #p::no_such_column(#name, index),
            }
            ::core::result::Result::Ok(())
        }
    }
}

fn from_values(p: &Private, model: &Model) -> TokenStream {
    let count = model.columns.len();
    let expected = format!("{count} column values for `{}`", model.ident);
    let model_name = model.ident.to_string();
    let columns = model.columns.iter().map(|c| {
        let (field, from_value) = (c.ident, sql_value(p, c.ty, "from_value"));
        let column = &c.name;
        quote! {
            #field: #from_value(
                values.next().unwrap_or(#p::Value::Null)
            ).map_err(|source| #p::Error::Decode { model: #model_name, column: #column, source })?,
        }
    });
    let relations = model.relations.iter().map(|r| {
        let field = r.ident;
        quote!(#field: ::core::default::Default::default(),)
    });
    quote! {
        fn from_values(
            values: ::std::vec::Vec<#p::Value>,
        ) -> ::core::result::Result<Self, #p::Error> {
            if values.len() != #count {
                return ::core::result::Result::Err(#p::Error::Decode {
                    model: #model_name,
                    column: "(the whole row)",
                    source: #p::ValueError {
                        expected: #expected,
                        found: ::std::format!("{} values", values.len()),
                    },
                });
            }
            let mut values = values.into_iter();
            ::core::result::Result::Ok(Self { #(#columns)* #(#relations)* })
        }
    }
}

fn relations(p: &Private, model: &Model) -> TokenStream {
    let name = model.ident.to_string();
    let indices: Vec<usize> = (0..model.relations.len()).collect();
    let fields: Vec<_> = model.relations.iter().map(|r| r.ident).collect();
    let slots: Vec<_> = model
        .relations
        .iter()
        .map(|r| relationship(p, r.ty, "slot"))
        .collect();
    let slots_mut = model
        .relations
        .iter()
        .map(|r| relationship(p, r.ty, "slot_mut"));
    quote! {
        fn relation(&self, index: usize) -> &#p::RelSlot {
            match index {
                #(#indices => #slots(&self.#fields),)*
                _ => #p::no_such_relation(#name, index),
            }
        }

        fn relation_mut(&mut self, index: usize) -> &mut #p::RelSlot {
            match index {
                #(#indices => #slots_mut(&mut self.#fields),)*
                _ => #p::no_such_relation(#name, index),
            }
        }
    }
}
