//! `Model::META`: the static description of the table.

use super::{relationship, sql_value, Private};
use crate::ast::{Column, Model, RelKind, Relation};
use crate::attr::{OnDelete, PassiveDeletes};
use crate::cascade::Cascade;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ext::IdentExt;

pub fn expand(p: &Private, model: &Model) -> TokenStream {
    let name = model.ident.unraw().to_string();
    let table = &model.table;
    let sole_pk = model.columns.iter().filter(|c| c.attrs.primary_key).count() == 1;
    let columns = model.columns.iter().map(|c| column(p, c, sole_pk));
    let primary_key = model
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.attrs.primary_key);
    let primary_key = primary_key.map(|(i, _)| i);
    let foreign_keys = model
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| foreign_key(p, i, c));
    let relationships = model.relations.iter().map(|r| relationship_meta(p, r));
    quote! {
        {
            // Named constants: a slice borrowed as a call's argument would not live long enough.
            const COLUMNS: &[#p::ColumnMeta] = &[#(#columns),*];
            const PRIMARY_KEY: &[usize] = &[#(#primary_key),*];
            const FOREIGN_KEYS: &[#p::ForeignKeyMeta] = &[#(#foreign_keys),*];
            const RELATIONSHIPS: &[#p::RelationshipMeta] = &[#(#relationships),*];
            &#p::ModelMeta::new(#name, #table)
                .with_columns(COLUMNS)
                .with_primary_key(PRIMARY_KEY)
                .with_foreign_keys(FOREIGN_KEYS)
                .with_relationships(RELATIONSHIPS)
        }
    }
}

fn column(p: &Private, column: &Column, sole_pk: bool) -> TokenStream {
    let ty = column.ty;
    let (sql_type, nullable) = (sql_value(p, ty, "SQL_TYPE"), sql_value(p, ty, "NULLABLE"));
    let field = column.ident.unraw().to_string();
    let name = &column.name;
    let primary_key = column.attrs.primary_key;
    let generated = primary_key && sole_pk;
    let unique = column.attrs.unique;
    let indexed = column.attrs.index || column.attrs.foreign_key.is_some();
    let default = column.attrs.default.as_ref().map(|sql| {
        let sql = &sql.value;
        quote!(.with_default(#sql))
    });
    quote! {
        #p::ColumnMeta::new(#field, #name, #sql_type)
            .with_nullable(#nullable && !#primary_key)
            .with_primary_key(#primary_key)
            .with_generated(#p::generated_key::<#ty>(#generated))
            .with_unique(#unique)
            .with_indexed(#indexed)
            #default
    }
}

fn foreign_key(p: &Private, index: usize, column: &Column) -> Option<TokenStream> {
    let fk = &column.attrs.foreign_key.as_ref()?.value;
    let (table, target_column) = (&fk.table, &fk.column);
    let rule = match column.attrs.on_delete.as_ref().map(|o| o.value) {
        None | Some(OnDelete::NoAction) => quote!(NoAction),
        Some(OnDelete::Restrict) => quote!(Restrict),
        Some(OnDelete::Cascade) => quote!(Cascade),
        Some(OnDelete::SetNull) => quote!(SetNull),
    };
    Some(quote! {
        #p::ForeignKeyMeta::new(#index, #table, #target_column, #p::OnDelete::#rule)
    })
}

fn relationship_meta(p: &Private, relation: &Relation) -> TokenStream {
    let (kind, target) = (
        relationship(p, relation.ty, "KIND"),
        relationship(p, relation.ty, "Target"),
    );
    let field = relation.ident.unraw().to_string();
    let attrs = &relation.attrs;
    let cascade = cascade(p, attrs.cascade.as_ref().map(|c| c.value));
    let back_populates = option_str(attrs.back_populates.as_ref().map(|l| l.value()));
    let passive = match attrs.passive_deletes.as_ref().map(|p| p.value) {
        None | Some(PassiveDeletes::Off) => quote!(Off),
        Some(PassiveDeletes::Unloaded) => quote!(Unloaded),
        Some(PassiveDeletes::All) => quote!(All),
    };
    let single_parent = attrs.single_parent;
    let foreign_key = option_str(attrs.foreign_key.as_ref().map(|l| l.value()));
    let through = match (&attrs.through, relation.kind) {
        (Some(through), RelKind::ManyToMany) => quote!(::core::option::Option::Some(
            #p::meta_of::<#through> as fn() -> &'static #p::ModelMeta
        )),
        _ => quote!(::core::option::Option::None),
    };
    quote! {
        #p::RelationshipMeta::new(#field, #kind, #p::meta_of::<#target>)
            .with_cascade(#cascade)
            .with_back_populates(#back_populates)
            .with_passive_deletes(#p::PassiveDeletes::#passive)
            .with_single_parent(#single_parent)
            .with_foreign_key(#foreign_key)
            .with_through(#through)
    }
}

/// `Cascade::DEFAULT`, or `ALL` / `NONE` followed by a `union` with the runtime constant of each
/// further token. The runtime names its constants after the tokens (`delete-orphan` ->
/// `DELETE_ORPHAN`), so the derive needs no table of them.
fn cascade(p: &Private, cascade: Option<Cascade>) -> TokenStream {
    let cascade = cascade.unwrap_or(Cascade::DEFAULT);
    if cascade == Cascade::DEFAULT {
        return quote!(#p::Cascade::DEFAULT);
    }
    let (base, mut tokens) = if cascade.contains(Cascade::ALL) {
        (Cascade::ALL, quote!(#p::Cascade::ALL))
    } else {
        (Cascade::NONE, quote!(#p::Cascade::NONE))
    };
    for token in cascade.tokens_beyond(base) {
        let name = format_ident!("{}", token.to_ascii_uppercase().replace('-', "_"));
        tokens = quote!(#tokens.union(#p::Cascade::#name));
    }
    tokens
}

fn option_str(value: Option<String>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}
