//! Stage 2a: the model as the rest of the derive sees it, built from the syntax tree and the
//! parsed attributes. Shape errors (not a struct, generics, non-column types) are recorded here.

use crate::attr::{ColumnAttrs, ModelAttrs, RelAttrs};
use crate::ctxt::Ctxt;
use crate::symbol::{self, EXPECTED_RELATIONSHIP_TYPE};
use proc_macro2::Span;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, Type};

/// A validated-shape model: a struct with named fields and no generics.
#[derive(Debug)]
pub struct Model<'a> {
    pub ident: &'a Ident,
    pub table: String,
    /// Non-relationship fields, in field order.
    pub columns: Vec<Column<'a>>,
    /// Relationship fields, in field order.
    pub relations: Vec<Relation<'a>>,
}

/// A column field.
#[derive(Debug)]
pub struct Column<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    /// The SQL column name.
    pub name: String,
    pub attrs: ColumnAttrs,
}

/// The kind of a relationship field, from its type's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelKind {
    HasMany,
    HasOne,
    BelongsTo,
    ManyToMany,
}

impl RelKind {
    fn from_type_name(name: &str) -> Option<RelKind> {
        match name {
            symbol::HAS_MANY => Some(RelKind::HasMany),
            symbol::HAS_ONE => Some(RelKind::HasOne),
            symbol::BELONGS_TO => Some(RelKind::BelongsTo),
            symbol::MANY_TO_MANY => Some(RelKind::ManyToMany),
            _ => None,
        }
    }

    pub fn type_name(self) -> &'static str {
        match self {
            RelKind::HasMany => symbol::HAS_MANY,
            RelKind::HasOne => symbol::HAS_ONE,
            RelKind::BelongsTo => symbol::BELONGS_TO,
            RelKind::ManyToMany => symbol::MANY_TO_MANY,
        }
    }
}

/// A relationship field.
#[derive(Debug)]
pub struct Relation<'a> {
    pub ident: &'a Ident,
    /// The whole field type, e.g. `HasMany<Address>`.
    pub ty: &'a Type,
    pub kind: RelKind,
    /// The target model type, e.g. `Address`.
    pub target: &'a Type,
    pub attrs: RelAttrs,
}

impl<'a> Model<'a> {
    /// Builds the model from the struct and its parsed `#[model]` attributes, recording every
    /// shape and attribute error; `None` when the input is not a struct with named fields.
    pub fn from_ast(cx: &Ctxt, input: &'a DeriveInput, attrs: ModelAttrs) -> Option<Model<'a>> {
        reject_generics(cx, input);
        let fields = named_fields(cx, input)?;
        let mut model = Model {
            ident: &input.ident,
            table: attrs
                .table
                .map_or_else(|| snake_case(&input.ident), |t| t.value),
            columns: Vec::new(),
            relations: Vec::new(),
        };
        for field in &fields.named {
            model.add_field(cx, field);
        }
        Some(model)
    }

    fn add_field(&mut self, cx: &Ctxt, field: &'a syn::Field) {
        let Some(ident) = field.ident.as_ref() else {
            return;
        };
        let column_attrs = ColumnAttrs::parse(cx, &field.attrs);
        let rel_attrs = RelAttrs::parse(cx, &field.attrs);
        match relationship_type(&field.ty) {
            Some((kind, target)) => {
                if let Some(span) = column_attrs.attr {
                    let message = "#[column] does not apply to a relationship field: \
                                   put the foreign key on a column field, and write \
                                   relationship options in #[relationship(...)]";
                    cx.error(span, message);
                }
                let Some(target) = target else {
                    let name = kind.type_name();
                    cx.error_spanned_by(&field.ty, format!("expected `{name}<TargetModel>`"));
                    return;
                };
                let relation = Relation {
                    ident,
                    ty: &field.ty,
                    kind,
                    target,
                    attrs: rel_attrs,
                };
                self.relations.push(relation);
            }
            None if rel_attrs.attr.is_some() => {
                let ty = type_string(&field.ty);
                let message = format!(
                    "`{ty}` is not a relationship type: {EXPECTED_RELATIONSHIP_TYPE} \
                     (or remove #[relationship] to make it a column)"
                );
                cx.error_spanned_by(&field.ty, message);
            }
            None => {
                check_column_type(cx, &field.ty);
                let name = column_attrs
                    .name
                    .as_ref()
                    .map_or_else(|| ident.unraw().to_string(), |n| n.value.clone());
                self.columns.push(Column {
                    ident,
                    ty: &field.ty,
                    name,
                    attrs: column_attrs,
                });
            }
        }
    }
}

fn reject_generics(cx: &Ctxt, input: &DeriveInput) {
    if !input.generics.params.is_empty() {
        let message = "#[derive(Model)] does not support generic parameters or lifetimes: \
                       declare a concrete struct with owned field types";
        cx.error_spanned_by(&input.generics, message);
    }
}

fn named_fields<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<&'a syn::FieldsNamed> {
    let span: Span = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => return Some(fields),
            Fields::Unnamed(fields) => fields.span(),
            Fields::Unit => input.ident.span(),
        },
        Data::Enum(data) => data.enum_token.span,
        Data::Union(data) => data.union_token.span,
    };
    let message = "#[derive(Model)] expects a struct with named fields: \
                   write `struct Name { field: Type, ... }`";
    cx.error(span, message);
    None
}

/// The kind and target of a relationship field type, by its last path segment.
fn relationship_type(ty: &Type) -> Option<(RelKind, Option<&Type>)> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    let kind = RelKind::from_type_name(&segment.ident.to_string())?;
    let target = match &segment.arguments {
        syn::PathArguments::AngleBracketed(args) if args.args.len() == 1 => match &args.args[0] {
            syn::GenericArgument::Type(target) => Some(target),
            _ => None,
        },
        _ => None,
    };
    Some((kind, target))
}

/// A type as the user would write it, for messages: `Option<i64>`, not `Option < i64 >`.
pub fn type_string(ty: &Type) -> String {
    let mut text = ty.to_token_stream().to_string();
    for (spaced, tight) in [
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        (" :: ", "::"),
        ("& ", "&"),
    ] {
        text = text.replace(spaced, tight);
    }
    text
}

/// Rejects types that can never be a column; other types are checked against `SqlValue` by the
/// compiler, at the type's span.
fn check_column_type(cx: &Ctxt, ty: &Type) {
    let what = match ty {
        Type::Reference(_) => "a reference",
        Type::Tuple(_) => "a tuple",
        Type::Array(_) | Type::Slice(_) => "an array",
        Type::Ptr(_) => "a raw pointer",
        Type::BareFn(_) => "a function pointer",
        Type::TraitObject(_) | Type::ImplTrait(_) => "a trait object",
        Type::Never(_) => "`!`",
        Type::Paren(inner) => return check_column_type(cx, &inner.elem),
        Type::Group(inner) => return check_column_type(cx, &inner.elem),
        _ => return,
    };
    let message = format!(
        "unsupported column type: {what} cannot be stored in a column; write an owned type \
         (an integer, f32, f64, bool, String, Vec<u8>, Option<T> of these, or a type that \
         implements `SqlValue`), or HasMany<T>, HasOne<T>, BelongsTo<T> or ManyToMany<T> \
         for a relationship"
    );
    cx.error_spanned_by(ty, message);
}

/// `OrderItem` -> `order_item`, `HTTPRequest` -> `http_request`.
pub fn snake_case(ident: &Ident) -> String {
    let name = ident.unraw().to_string();
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev != '_' && (prev.is_lowercase() || prev.is_ascii_digit() || next_lower) {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snake(name: &str) -> String {
        snake_case(&Ident::new(name, Span::call_site()))
    }

    #[test]
    fn default_table_names() {
        assert_eq!(snake("User"), "user");
        assert_eq!(snake("OrderItem"), "order_item");
        assert_eq!(snake("HTTPRequest"), "http_request");
        assert_eq!(snake("Node2Child"), "node2_child");
        assert_eq!(snake("already_snake"), "already_snake");
    }
}
