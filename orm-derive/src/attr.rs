//! Stage 1: the `#[model]`, `#[column]` and `#[relationship]` attributes, parsed into typed values
//! that keep the span of the token they came from. Every mistake is recorded in the context and
//! parsing carries on.

use crate::cascade::{self, Cascade};
use crate::ctxt::Ctxt;
use crate::suggest::did_you_mean;
use crate::symbol::{self, *};
use proc_macro2::Span;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned as _;
use syn::{Expr, Lit, LitStr, Token};

/// A parsed value and the span of the token it came from.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// One key of an attribute, set at most once.
struct Attr<T> {
    key: &'static str,
    value: Option<Spanned<T>>,
}

impl<T> Attr<T> {
    fn new(key: &'static str) -> Self {
        Attr { key, value: None }
    }

    /// Records the value; a second use of the key is an error at the second use.
    fn set(&mut self, cx: &Ctxt, span: Span, value: T) {
        if self.value.is_some() {
            let key = self.key;
            cx.error(span, format!("duplicate `{key}` key: remove this one"));
        } else {
            self.value = Some(Spanned { value, span });
        }
    }

    fn get(self) -> Option<Spanned<T>> {
        self.value
    }
}

/// `#[model(...)]`.
#[derive(Debug, Default)]
pub struct ModelAttrs {
    pub table: Option<Spanned<String>>,
    /// `crate = "..."`: the path through which generated code reaches orm_core, when the user
    /// reaches it through a re-export.
    pub krate: Option<syn::Path>,
}

/// `on_delete = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
}

impl OnDelete {
    /// The rule a value of `on_delete` names, if it names one (see `symbol::ON_DELETE_VALUES`).
    fn from_symbol(value: &str) -> Option<OnDelete> {
        match value {
            ON_DELETE_CASCADE => Some(OnDelete::Cascade),
            ON_DELETE_SET_NULL => Some(OnDelete::SetNull),
            ON_DELETE_RESTRICT => Some(OnDelete::Restrict),
            ON_DELETE_NO_ACTION => Some(OnDelete::NoAction),
            _ => None,
        }
    }
}

/// `foreign_key = "table.column"` on a column.
#[derive(Debug, Clone)]
pub struct ForeignKey {
    pub table: String,
    pub column: String,
}

/// `#[column(...)]`.
#[derive(Debug, Default)]
pub struct ColumnAttrs {
    /// The span of the first `column` attribute, if there is one.
    pub attr: Option<Span>,
    pub primary_key: bool,
    pub unique: bool,
    pub index: bool,
    pub name: Option<Spanned<String>>,
    pub foreign_key: Option<Spanned<ForeignKey>>,
    pub on_delete: Option<Spanned<OnDelete>>,
    /// `default = "SQL"`: the expression the database fills the column in with.
    pub default: Option<Spanned<String>>,
}

/// `passive_deletes = true | "all"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassiveDeletes {
    Off,
    Unloaded,
    All,
}

/// `#[relationship(...)]`.
#[derive(Debug, Default)]
pub struct RelAttrs {
    /// The span of the first `relationship` attribute, if there is one.
    pub attr: Option<Span>,
    pub cascade: Option<Spanned<Cascade>>,
    pub back_populates: Option<LitStr>,
    pub passive_deletes: Option<Spanned<PassiveDeletes>>,
    pub single_parent: bool,
    pub foreign_key: Option<LitStr>,
    pub through: Option<syn::Type>,
}

/// What follows a key: nothing, `= expr`, or `= Type` (for `through`).
enum Value {
    Flag,
    Expr(Expr),
    Type(syn::Type),
}

impl Value {
    fn span(&self, key_span: Span) -> Span {
        match self {
            Value::Flag => key_span,
            Value::Expr(expr) => expr.span(),
            Value::Type(ty) => ty.span(),
        }
    }
}

/// Calls `f` with each `key [= value]` of the attributes named `name`. Unknown keys are reported
/// with the valid ones and a suggestion; their values are skipped.
fn for_each_key(
    cx: &Ctxt,
    attrs: &[syn::Attribute],
    name: &str,
    valid: &[&'static str],
    mut f: impl FnMut(&'static str, Span, Value),
) -> Option<Span> {
    let mut first = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident(name)) {
        first.get_or_insert(attr.path().span());
        if let syn::Meta::Path(_) = attr.meta {
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            let value = take_value(&meta)?;
            let key = meta.path.to_token_stream().to_string().replace(' ', "");
            match valid.iter().find(|v| **v == key) {
                Some(known) => f(known, meta.path.span(), value),
                None => cx.error(meta.path.span(), unknown_key(name, &key, valid)),
            }
            Ok(())
        });
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
    first
}

fn take_value(meta: &ParseNestedMeta) -> syn::Result<Value> {
    if !meta.input.peek(Token![=]) {
        return Ok(Value::Flag);
    }
    let input = meta.value()?;
    if meta.path.is_ident(THROUGH) {
        return input.parse().map(Value::Type);
    }
    input.parse().map(Value::Expr)
}

fn unknown_key(attr: &str, key: &str, valid: &[&str]) -> String {
    format!(
        "unknown key `{key}` in #[{attr}(...)]: expected {}{}",
        symbol::list(valid),
        did_you_mean(key, valid)
    )
}

/// The string literal of `key = "..."`, or an error saying how to write it.
fn string(cx: &Ctxt, key: &str, key_span: Span, value: Value) -> Option<LitStr> {
    if let Value::Expr(Expr::Lit(syn::ExprLit {
        lit: Lit::Str(lit), ..
    })) = value
    {
        return Some(lit);
    }
    let span = value.span(key_span);
    cx.error(
        span,
        format!("`{key}` expects a string: write `{key} = \"...\"`"),
    );
    None
}

/// A non-empty string, e.g. a SQL name.
fn name(cx: &Ctxt, key: &str, key_span: Span, value: Value) -> Option<Spanned<String>> {
    let lit = string(cx, key, key_span, value)?;
    let name = lit.value();
    if name.trim().is_empty() {
        cx.error(
            lit.span(),
            format!("`{key}` cannot be empty: write `{key} = \"sql_name\"`"),
        );
        return None;
    }
    Some(Spanned {
        value: name,
        span: lit.span(),
    })
}

/// A key that takes no value, such as `primary_key`.
fn flag(cx: &Ctxt, attr: &str, key: &str, key_span: Span, value: Value) -> bool {
    if let Value::Flag = value {
        return true;
    }
    let span = value.span(key_span);
    cx.error(
        span,
        format!("`{key}` takes no value: write `#[{attr}({key})]`"),
    );
    false
}

/// `key = true | false`; a bare `key` means `true`.
fn boolean(cx: &Ctxt, key: &str, key_span: Span, value: Value) -> Option<bool> {
    match value {
        Value::Flag => Some(true),
        Value::Expr(Expr::Lit(syn::ExprLit {
            lit: Lit::Bool(b), ..
        })) => Some(b.value),
        other => {
            let span = other.span(key_span);
            cx.error(
                span,
                format!("`{key}` expects a boolean: write `{key} = true`"),
            );
            None
        }
    }
}

impl ModelAttrs {
    pub fn parse(cx: &Ctxt, attrs: &[syn::Attribute]) -> Self {
        let mut table = Attr::new(TABLE);
        let mut krate = Attr::new(CRATE);
        for_each_key(cx, attrs, MODEL, MODEL_KEYS, |key, span, value| match key {
            TABLE => set_some(cx, &mut table, span, name(cx, key, span, value)),
            _ => {
                let path = string(cx, key, span, value).and_then(|lit| crate_path(cx, &lit));
                set_some(cx, &mut krate, span, path);
            }
        });
        ModelAttrs {
            table: table.get().map(|t| t.value),
            krate: krate.get().map(|k| k.value),
        }
    }
}

/// `crate = "my_orm::orm_core"`: a module path (no generic arguments), resolved where the user
/// wrote the literal.
fn crate_path(cx: &Ctxt, lit: &LitStr) -> Option<syn::Path> {
    match lit.parse_with(syn::Path::parse_mod_style) {
        Ok(path) => Some(path),
        Err(_) => {
            let message = format!(
                "malformed `crate` path `{}`: expected the path through which this crate \
                 reaches orm_core, e.g. `crate = \"my_orm::orm_core\"` where `my_orm` has \
                 `pub use orm_core;`",
                lit.value()
            );
            cx.error(lit.span(), message);
            None
        }
    }
}

impl ColumnAttrs {
    pub fn parse(cx: &Ctxt, attrs: &[syn::Attribute]) -> Self {
        let mut p = ColumnParser::default();
        let attr = for_each_key(cx, attrs, COLUMN, COLUMN_KEYS, |key, span, value| {
            p.key(cx, key, span, value);
        });
        ColumnAttrs {
            attr,
            primary_key: p.primary_key.get().is_some(),
            unique: p.unique.get().is_some(),
            index: p.index.get().is_some(),
            name: p.name.get().map(|n| n.value),
            foreign_key: p.foreign_key.get().map(|f| f.value),
            on_delete: p.on_delete.get().map(|o| o.value),
            default: p.default.get().map(|d| d.value),
        }
    }
}

struct ColumnParser {
    primary_key: Attr<()>,
    unique: Attr<()>,
    index: Attr<()>,
    name: Attr<Spanned<String>>,
    foreign_key: Attr<Spanned<ForeignKey>>,
    on_delete: Attr<Spanned<OnDelete>>,
    default: Attr<Spanned<String>>,
}

impl Default for ColumnParser {
    fn default() -> Self {
        ColumnParser {
            primary_key: Attr::new(PRIMARY_KEY),
            unique: Attr::new(UNIQUE),
            index: Attr::new(INDEX),
            name: Attr::new(NAME),
            foreign_key: Attr::new(FOREIGN_KEY),
            on_delete: Attr::new(ON_DELETE),
            default: Attr::new(DEFAULT),
        }
    }
}

impl ColumnParser {
    fn key(&mut self, cx: &Ctxt, key: &'static str, span: Span, value: Value) {
        let flag_attr = match key {
            PRIMARY_KEY => &mut self.primary_key,
            UNIQUE => &mut self.unique,
            INDEX => &mut self.index,
            NAME => return set_some(cx, &mut self.name, span, name(cx, key, span, value)),
            FOREIGN_KEY => {
                let fk = string(cx, key, span, value).and_then(|lit| foreign_key(cx, &lit));
                return set_some(cx, &mut self.foreign_key, span, fk);
            }
            DEFAULT => {
                let sql = string(cx, key, span, value).and_then(|lit| default_sql(cx, &lit));
                return set_some(cx, &mut self.default, span, sql);
            }
            _ => {
                let on_delete = string(cx, key, span, value).and_then(|lit| on_delete(cx, &lit));
                return set_some(cx, &mut self.on_delete, span, on_delete);
            }
        };
        if flag(cx, COLUMN, key, span, value) {
            flag_attr.set(cx, span, ());
        }
    }
}

fn set_some<T>(cx: &Ctxt, attr: &mut Attr<T>, span: Span, value: Option<T>) {
    if let Some(value) = value {
        attr.set(cx, span, value);
    }
}

/// `default = "SQL"`: a non-empty SQL expression, written into `CREATE TABLE` as it is.
fn default_sql(cx: &Ctxt, lit: &LitStr) -> Option<Spanned<String>> {
    let value = lit.value();
    if value.trim().is_empty() {
        cx.error(
            lit.span(),
            "empty `default`: write the SQL expression the database fills the column in with, \
             e.g. `default = \"CURRENT_TIMESTAMP\"` or `default = \"0\"`",
        );
        return None;
    }
    Some(Spanned {
        value,
        span: lit.span(),
    })
}

/// `"table.column"`.
fn foreign_key(cx: &Ctxt, lit: &LitStr) -> Option<Spanned<ForeignKey>> {
    let value = lit.value();
    let parts = value.split_once('.').filter(|(table, column)| {
        let ok = |s: &str| !s.is_empty() && !s.contains(['.', ' ']);
        ok(table) && ok(column)
    });
    let Some((table, column)) = parts else {
        let message = format!(
            "malformed foreign_key `{value}`: expected \"table.column\", \
             the referenced table and column, e.g. `foreign_key = \"users.id\"`"
        );
        cx.error(lit.span(), message);
        return None;
    };
    let fk = ForeignKey {
        table: table.to_owned(),
        column: column.to_owned(),
    };
    Some(Spanned {
        value: fk,
        span: lit.span(),
    })
}

/// `on_delete = "..."`: one of `symbol::ON_DELETE_VALUES`; anything else is listed with them.
fn on_delete(cx: &Ctxt, lit: &LitStr) -> Option<Spanned<OnDelete>> {
    let value = lit.value();
    let Some(rule) = OnDelete::from_symbol(&value) else {
        let message = format!(
            "unknown on_delete rule `{value}`: expected {}{}",
            symbol::list(ON_DELETE_VALUES),
            did_you_mean(&value, ON_DELETE_VALUES)
        );
        cx.error(lit.span(), message);
        return None;
    };
    Some(Spanned {
        value: rule,
        span: lit.span(),
    })
}

impl RelAttrs {
    pub fn parse(cx: &Ctxt, attrs: &[syn::Attribute]) -> Self {
        let mut p = RelParser::default();
        let attr = for_each_key(
            cx,
            attrs,
            RELATIONSHIP,
            RELATIONSHIP_KEYS,
            |key, span, value| {
                p.key(cx, key, span, value);
            },
        );
        RelAttrs {
            attr,
            cascade: p.cascade.get().map(|c| c.value),
            back_populates: p.back_populates.get().map(|b| b.value),
            passive_deletes: p.passive_deletes.get().map(|p| p.value),
            single_parent: p.single_parent.get().is_some_and(|s| s.value),
            foreign_key: p.foreign_key.get().map(|f| f.value),
            through: p.through.get().map(|t| t.value),
        }
    }
}

struct RelParser {
    cascade: Attr<Spanned<Cascade>>,
    back_populates: Attr<LitStr>,
    passive_deletes: Attr<Spanned<PassiveDeletes>>,
    single_parent: Attr<bool>,
    foreign_key: Attr<LitStr>,
    through: Attr<syn::Type>,
}

impl Default for RelParser {
    fn default() -> Self {
        RelParser {
            cascade: Attr::new(CASCADE),
            back_populates: Attr::new(BACK_POPULATES),
            passive_deletes: Attr::new(PASSIVE_DELETES),
            single_parent: Attr::new(SINGLE_PARENT),
            foreign_key: Attr::new(FOREIGN_KEY),
            through: Attr::new(THROUGH),
        }
    }
}

impl RelParser {
    fn key(&mut self, cx: &Ctxt, key: &'static str, span: Span, value: Value) {
        match key {
            CASCADE => {
                let cascade = string(cx, key, span, value).map(|lit| Spanned {
                    value: cascade::parse(cx, &lit),
                    span: lit.span(),
                });
                set_some(cx, &mut self.cascade, span, cascade);
            }
            BACK_POPULATES => {
                let field = string(cx, key, span, value).filter(|lit| identifier(cx, key, lit));
                set_some(cx, &mut self.back_populates, span, field);
            }
            PASSIVE_DELETES => {
                set_some(
                    cx,
                    &mut self.passive_deletes,
                    span,
                    passive_deletes(cx, span, value),
                );
            }
            SINGLE_PARENT => set_some(
                cx,
                &mut self.single_parent,
                span,
                boolean(cx, key, span, value),
            ),
            FOREIGN_KEY => {
                let column = string(cx, key, span, value).filter(|lit| identifier(cx, key, lit));
                set_some(cx, &mut self.foreign_key, span, column);
            }
            _ => match value {
                Value::Type(ty) => self.through.set(cx, span, ty),
                other => {
                    let message =
                        "`through` expects the association model: write `through = AssocModel`";
                    cx.error(other.span(span), message);
                }
            },
        }
    }
}

/// A field or column name: not empty, no blanks or dots.
fn identifier(cx: &Ctxt, key: &str, lit: &LitStr) -> bool {
    let value = lit.value();
    let ok = !value.is_empty() && !value.contains(['.', ' ', ',']);
    if !ok {
        let example = if key == BACK_POPULATES {
            "field_name"
        } else {
            "column_name"
        };
        cx.error(
            lit.span(),
            format!("`{key}` expects one name: write `{key} = \"{example}\"`"),
        );
    }
    ok
}

fn passive_deletes(cx: &Ctxt, span: Span, value: Value) -> Option<Spanned<PassiveDeletes>> {
    let passive = match &value {
        Value::Flag => PassiveDeletes::Unloaded,
        Value::Expr(Expr::Lit(syn::ExprLit {
            lit: Lit::Bool(b), ..
        })) if b.value => PassiveDeletes::Unloaded,
        Value::Expr(Expr::Lit(syn::ExprLit {
            lit: Lit::Bool(_), ..
        })) => PassiveDeletes::Off,
        Value::Expr(Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        })) if s.value() == PASSIVE_ALL => PassiveDeletes::All,
        other => {
            let message = "`passive_deletes` expects `true`, `false` or \"all\": \
                           write `passive_deletes = true` or `passive_deletes = \"all\"`";
            cx.error(other.span(span), message);
            return None;
        }
    };
    Some(Spanned {
        value: passive,
        span: value.span(span),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_on_delete(value: &str) -> (Option<OnDelete>, Result<(), syn::Error>) {
        let cx = Ctxt::new();
        let rule = on_delete(&cx, &LitStr::new(value, Span::call_site()));
        (rule.map(|r| r.value), cx.check())
    }

    #[test]
    fn every_listed_on_delete_value_parses() {
        for value in ON_DELETE_VALUES {
            let (rule, result) = parse_on_delete(value);
            assert!(
                rule.is_some() && result.is_ok(),
                "`{value}` is listed but not parsed"
            );
        }
        assert_eq!(
            parse_on_delete(ON_DELETE_SET_NULL).0,
            Some(OnDelete::SetNull)
        );
    }

    #[test]
    fn unknown_on_delete_lists_the_values_and_suggests_one() {
        let (rule, result) = parse_on_delete("set_null");
        assert_eq!(rule, None);
        let message = result.expect_err("unknown rule").to_string();
        assert!(message.contains("`cascade`, `set null`, `restrict` or `no action`"));
        assert!(message.ends_with("did you mean `set null`?"));
    }

    fn parse_crate(value: &str) -> Result<syn::Path, syn::Error> {
        let cx = Ctxt::new();
        let path = crate_path(&cx, &LitStr::new(value, Span::call_site()));
        cx.check().map(|()| path.expect("no error, so a path"))
    }

    #[test]
    fn crate_is_a_module_path() {
        let path = parse_crate("crate::reexport::my_orm").expect("a path");
        assert_eq!(path.segments.len(), 3);
        assert!(parse_crate("::my_orm::orm_core").is_ok());
        for bad in ["", "my orm", "my_orm::", "Vec<u8>", "my_orm.orm_core"] {
            let error = parse_crate(bad).expect_err(bad).to_string();
            assert!(error.starts_with("malformed `crate` path"), "{error}");
        }
    }
}
