//! `#[derive(SqlValue)]`: a user type as a column type, through what it is made of.
//!
//! - A newtype (`struct UserId(i64)`, `struct Email(String)`) is stored as its one field: same
//!   SQL type, same nullability rules, so typed keys work wherever the inner type does.
//! - A field-less enum is stored as text, one name per variant (the variant's name, or
//!   `#[sql(rename = "...")]`, or the enum's `#[sql(rename_all = "...")]` rule), or, when the
//!   enum has an integer `#[repr(...)]`, as its discriminant. A stored value that names no
//!   variant is an error naming the value (the session adds the column).
//!
//! Mistakes are spanned compile errors, all reported at once.

use crate::ctxt::Ctxt;
use crate::suggest::did_you_mean;
use crate::symbol::{
    self, CRATE, RENAME, RENAME_ALL, RENAME_RULES, SQL, SQL_ENUM_KEYS, SQL_VARIANT_KEYS,
};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::spanned::Spanned as _;
use syn::{Data, DeriveInput, Fields, LitStr};

/// Expands the derive, or its errors.
pub fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let expanded = expand(&cx, input);
    match cx.check() {
        Ok(()) => expanded.unwrap_or_default(),
        Err(errors) => errors.to_compile_error(),
    }
}

fn expand(cx: &Ctxt, input: &DeriveInput) -> Option<TokenStream> {
    let attrs = TypeAttrs::parse(cx, &input.attrs);
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "derive(SqlValue) does not support generic types: derive it on a concrete type",
        );
        return None;
    }
    let krate = attrs.krate.clone();
    let body = match &input.data {
        Data::Struct(data) => newtype(cx, input, &data.fields, &attrs)?,
        Data::Enum(data) => {
            let variants = Variant::parse_all(cx, data)?;
            match integer_repr(cx, &input.attrs) {
                Some(repr) => integer_enum(cx, input, &variants, &attrs, &repr),
                None => text_enum(cx, input, &variants, &attrs)?,
            }
        }
        Data::Union(_) => {
            cx.error(
                input.ident.span(),
                "derive(SqlValue) applies to a newtype struct or a field-less enum, not a union",
            );
            return None;
        }
    };
    let private = match krate {
        Some(path) => quote!(#path::__private),
        None => quote!(::orm_core::__private),
    };
    let ident = &input.ident;
    Some(quote! {
        const _: () = {
            use #private as __orm;
            impl __orm::SqlValue for #ident {
                #body
            }
        };
    })
}

/// `#[sql(...)]` on the type.
#[derive(Default)]
struct TypeAttrs {
    krate: Option<syn::Path>,
    rename_all: Option<(Rule, Span)>,
}

impl TypeAttrs {
    fn parse(cx: &Ctxt, attrs: &[syn::Attribute]) -> TypeAttrs {
        let mut out = TypeAttrs::default();
        for_each_key(cx, attrs, SQL_ENUM_KEYS, |key, lit| match key {
            CRATE => match lit.parse_with(syn::Path::parse_mod_style) {
                Ok(path) => out.krate = Some(path),
                Err(_) => cx.error(
                    lit.span(),
                    format!(
                        "malformed `crate` path `{}`: expected a path such as `my_orm::orm_core`",
                        lit.value()
                    ),
                ),
            },
            RENAME_ALL => match Rule::from_name(&lit.value()) {
                Some(rule) => out.rename_all = Some((rule, lit.span())),
                None => cx.error(
                    lit.span(),
                    format!(
                        "unknown `rename_all` rule `{}`: expected {}{}",
                        lit.value(),
                        symbol::list(RENAME_RULES),
                        did_you_mean(&lit.value(), RENAME_RULES)
                    ),
                ),
            },
            _ => unreachable_key(cx, lit.span()),
        });
        out
    }
}

/// Calls `f` with each `key = "string"` of the `#[sql(...)]` attributes, after checking the key
/// against `keys`.
fn for_each_key(
    cx: &Ctxt,
    attrs: &[syn::Attribute],
    keys: &[&'static str],
    mut f: impl FnMut(&'static str, LitStr),
) {
    for attr in attrs.iter().filter(|a| a.path().is_ident(SQL)) {
        let parsed = attr.parse_nested_meta(|meta| {
            let name = meta.path.to_token_stream().to_string();
            let Some(&key) = keys.iter().find(|k| **k == name) else {
                let message = format!(
                    "unknown key `{name}` in #[{SQL}(...)]: expected {}{}",
                    symbol::list(keys),
                    did_you_mean(&name, keys)
                );
                cx.error(meta.path.span(), message);
                // Skip the value so that parsing goes on with the next key.
                if meta.input.peek(syn::Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                }
                return Ok(());
            };
            let lit: LitStr = meta.value()?.parse().map_err(|_| {
                meta.error(format!("`{key}` expects a string: write `{key} = \"...\"`"))
            })?;
            f(key, lit);
            Ok(())
        });
        if let Err(err) = parsed {
            cx.syn_error(err);
        }
    }
}

/// A key `for_each_key` let through but the caller does not handle: a bug in the derive,
/// reported as an error rather than a panic.
fn unreachable_key(cx: &Ctxt, span: Span) {
    cx.error(
        span,
        "orm-derive: an accepted `sql` key is not handled (a bug in the derive)",
    );
}

/// `struct Name(Inner);`: every item delegates to the inner type.
fn newtype(
    cx: &Ctxt,
    input: &DeriveInput,
    fields: &Fields,
    attrs: &TypeAttrs,
) -> Option<TokenStream> {
    if let Some((_, span)) = attrs.rename_all {
        cx.error(
            span,
            "`rename_all` applies to enums stored as text, not to a newtype",
        );
    }
    let inner = match fields {
        Fields::Unnamed(unnamed) if unnamed.unnamed.len() == 1 => &unnamed.unnamed[0].ty,
        _ => {
            cx.error(
                input.ident.span(),
                "derive(SqlValue) on a struct needs exactly one unnamed field: a newtype such as \
                 `struct UserId(i64);`",
            );
            return None;
        }
    };
    Some(quote! {
        const SQL_TYPE: __orm::SqlType = <#inner as __orm::SqlValue>::SQL_TYPE;
        const NULLABLE: bool = <#inner as __orm::SqlValue>::NULLABLE;
        fn to_value(&self) -> __orm::Value {
            <#inner as __orm::SqlValue>::to_value(&self.0)
        }
        fn from_value(value: __orm::Value) -> ::core::result::Result<Self, __orm::ValueError> {
            <#inner as __orm::SqlValue>::from_value(value).map(Self)
        }
    })
}

/// A field-less variant and its `#[sql(rename = "...")]`.
struct Variant {
    ident: syn::Ident,
    rename: Option<LitStr>,
}

impl Variant {
    /// The variants, or `None` (with errors) if one has fields or there are none.
    fn parse_all(cx: &Ctxt, data: &syn::DataEnum) -> Option<Vec<Variant>> {
        let mut ok = true;
        let mut variants = Vec::new();
        for variant in &data.variants {
            if !matches!(variant.fields, Fields::Unit) {
                cx.error(
                    variant.ident.span(),
                    format!(
                        "variant `{}` has fields: derive(SqlValue) stores field-less enums only",
                        variant.ident
                    ),
                );
                ok = false;
            }
            let mut rename = None;
            for_each_key(cx, &variant.attrs, SQL_VARIANT_KEYS, |key, lit| match key {
                RENAME => rename = Some(lit),
                _ => unreachable_key(cx, lit.span()),
            });
            variants.push(Variant {
                ident: variant.ident.clone(),
                rename,
            });
        }
        if data.variants.is_empty() {
            cx.error(
                data.brace_token.span.join(),
                "an enum without variants has no value to store",
            );
            ok = false;
        }
        ok.then_some(variants)
    }
}

/// The integer type of `#[repr(...)]`, if the enum has one.
fn integer_repr(cx: &Ctxt, attrs: &[syn::Attribute]) -> Option<syn::Ident> {
    const STORABLE: &[&str] = &["i8", "i16", "i32", "i64", "u8", "u16", "u32"];
    const TOO_WIDE: &[&str] = &["u64", "i128", "u128", "isize", "usize"];
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("repr")) {
        let _ = attr.parse_nested_meta(|meta| {
            if let Some(ident) = meta.path.get_ident() {
                let name = ident.to_string();
                if STORABLE.contains(&name.as_str()) {
                    found = Some(ident.clone());
                } else if TOO_WIDE.contains(&name.as_str()) {
                    cx.error(
                        ident.span(),
                        format!(
                            "`repr({name})` discriminants may not fit a 64-bit signed column; \
                             use one of: {}",
                            STORABLE.join(", ")
                        ),
                    );
                }
            }
            Ok(())
        });
    }
    found
}

/// Stored as the discriminant, an integer.
fn integer_enum(
    cx: &Ctxt,
    input: &DeriveInput,
    variants: &[Variant],
    attrs: &TypeAttrs,
    repr: &syn::Ident,
) -> TokenStream {
    if let Some((_, span)) = attrs.rename_all {
        cx.error(span, "`rename_all` applies to enums stored as text; this enum is stored as its `repr` integer");
    }
    for variant in variants {
        if let Some(rename) = &variant.rename {
            cx.error(rename.span(), "`rename` applies to enums stored as text; this enum is stored as its `repr` integer");
        }
    }
    let name = input.ident.to_string();
    let idents: Vec<&syn::Ident> = variants.iter().map(|v| &v.ident).collect();
    quote! {
        const SQL_TYPE: __orm::SqlType = __orm::SqlType::Integer;
        fn to_value(&self) -> __orm::Value {
            let discriminant: #repr = match self {
                #(Self::#idents => Self::#idents as #repr,)*
            };
            __orm::Value::Integer(::core::convert::Into::<i64>::into(discriminant))
        }
        fn from_value(value: __orm::Value) -> ::core::result::Result<Self, __orm::ValueError> {
            match value {
                __orm::Value::Integer(stored) => {
                    #(if stored == ::core::convert::Into::<i64>::into(Self::#idents as #repr) {
                        return ::core::result::Result::Ok(Self::#idents);
                    })*
                    ::core::result::Result::Err(__orm::ValueError {
                        expected: #name,
                        found: ::std::format!("{stored}, which is the discriminant of no variant"),
                    })
                }
                other => ::core::result::Result::Err(__orm::ValueError::mismatch(#name, &other)),
            }
        }
    }
}

/// Stored as text, one name per variant.
fn text_enum(
    cx: &Ctxt,
    input: &DeriveInput,
    variants: &[Variant],
    attrs: &TypeAttrs,
) -> Option<TokenStream> {
    let rule = attrs.rename_all.map(|(rule, _)| rule);
    let names: Vec<String> = variants
        .iter()
        .map(|v| match &v.rename {
            Some(lit) => lit.value(),
            None => rule.map_or_else(|| v.ident.to_string(), |r| r.apply(&v.ident.to_string())),
        })
        .collect();
    for (i, name) in names.iter().enumerate() {
        if let Some(first) = names[..i].iter().position(|n| n == name) {
            let span = variants[i]
                .rename
                .as_ref()
                .map_or(variants[i].ident.span(), LitStr::span);
            cx.error(
                span,
                format!(
                    "variants `{}` and `{}` are both stored as \"{name}\": rename one of them",
                    variants[first].ident, variants[i].ident
                ),
            );
            return None;
        }
    }
    let type_name = input.ident.to_string();
    let expected = format!(
        "{type_name} (one of {})",
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let idents: Vec<&syn::Ident> = variants.iter().map(|v| &v.ident).collect();
    Some(quote! {
        const SQL_TYPE: __orm::SqlType = __orm::SqlType::Text;
        fn to_value(&self) -> __orm::Value {
            let name: &'static str = match self {
                #(Self::#idents => #names,)*
            };
            __orm::Value::Text(::std::string::ToString::to_string(name))
        }
        fn from_value(value: __orm::Value) -> ::core::result::Result<Self, __orm::ValueError> {
            match value {
                __orm::Value::Text(stored) => match stored.as_str() {
                    #(#names => ::core::result::Result::Ok(Self::#idents),)*
                    _ => ::core::result::Result::Err(__orm::ValueError {
                        expected: #expected,
                        found: ::std::format!("{stored:?}, which names no variant"),
                    }),
                },
                other => ::core::result::Result::Err(__orm::ValueError::mismatch(#type_name, &other)),
            }
        }
    })
}

/// A `rename_all` rule, applied to a variant name written in PascalCase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Lower,
    Upper,
    Snake,
    ScreamingSnake,
    Kebab,
    Camel,
}

impl Rule {
    fn from_name(name: &str) -> Option<Rule> {
        Some(match name {
            "lowercase" => Rule::Lower,
            "UPPERCASE" => Rule::Upper,
            "snake_case" => Rule::Snake,
            "SCREAMING_SNAKE_CASE" => Rule::ScreamingSnake,
            "kebab-case" => Rule::Kebab,
            "camelCase" => Rule::Camel,
            _ => return None,
        })
    }

    fn apply(self, pascal: &str) -> String {
        let words = split_words(pascal);
        match self {
            Rule::Lower => words.concat().to_lowercase(),
            Rule::Upper => words.concat().to_uppercase(),
            Rule::Snake => words.join("_").to_lowercase(),
            Rule::ScreamingSnake => words.join("_").to_uppercase(),
            Rule::Kebab => words.join("-").to_lowercase(),
            Rule::Camel => {
                let mut out = String::new();
                for (i, word) in words.iter().enumerate() {
                    if i == 0 {
                        out.push_str(&word.to_lowercase());
                    } else {
                        out.push_str(word);
                    }
                }
                out
            }
        }
    }
}

/// `OnHold` -> `["On", "Hold"]`: a new word starts at each uppercase letter.
fn split_words(pascal: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for c in pascal.chars() {
        match words.last_mut() {
            Some(word) if !c.is_uppercase() => word.push(c),
            _ => words.push(c.to_string()),
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_rules_split_pascal_case_words() {
        assert_eq!(Rule::Snake.apply("OnHold"), "on_hold");
        assert_eq!(Rule::ScreamingSnake.apply("OnHold"), "ON_HOLD");
        assert_eq!(Rule::Kebab.apply("OnHold"), "on-hold");
        assert_eq!(Rule::Camel.apply("OnHold"), "onHold");
        assert_eq!(Rule::Lower.apply("OnHold"), "onhold");
        assert_eq!(Rule::Upper.apply("OnHold"), "ONHOLD");
        assert_eq!(Rule::Snake.apply("Active"), "active");
    }

    #[test]
    fn mistakes_are_compile_errors_not_panics() {
        for source in [
            "struct Two(i64, i64);",
            "struct Named { id: i64 }",
            "enum Shape { Circle(f64) }",
            "enum Never {}",
            "#[sql(rename_all = \"snek\")] enum E { A }",
            "enum E { #[sql(rename = \"x\")] A, #[sql(rename = \"x\")] B }",
            "#[repr(u64)] enum E { A }",
            "#[repr(i32)] enum E { #[sql(rename = \"a\")] A }",
            "struct Generic<T>(T);",
        ] {
            let input: DeriveInput = syn::parse_str(source).expect("valid Rust");
            let output = derive(&input).to_string();
            assert!(output.contains("compile_error"), "{source}: {output}");
        }
    }
}
