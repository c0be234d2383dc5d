//! `cascade = "..."`, parsed into a flag set as soon as it is read.

use crate::ctxt::Ctxt;
use crate::suggest::did_you_mean;
use crate::symbol::{self, CASCADE_TOKENS};
use proc_macro2::Span;
use syn::LitStr;

/// A set of cascade tokens: the derive's own copy of `orm_core::meta::Cascade` (the derive cannot
/// depend on orm-core; see `symbol::SAVE_UPDATE`). Only its checks read the bits; generated code
/// names the runtime's constants (see [`Cascade::tokens_beyond`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cascade(u8);

impl Cascade {
    pub const NONE: Cascade = Cascade(0);
    pub const SAVE_UPDATE: Cascade = Cascade(1);
    pub const MERGE: Cascade = Cascade(1 << 1);
    pub const REFRESH_EXPIRE: Cascade = Cascade(1 << 2);
    pub const EXPUNGE: Cascade = Cascade(1 << 3);
    pub const DELETE: Cascade = Cascade(1 << 4);
    pub const DELETE_ORPHAN: Cascade = Cascade(1 << 5);
    pub const ALL: Cascade = Cascade(0b1_1111);
    pub const DEFAULT: Cascade = Cascade(0b11);

    /// Whether this is one token's flag, not a set of several (or none).
    fn is_single(self) -> bool {
        self.0.is_power_of_two()
    }

    pub fn union(self, other: Cascade) -> Cascade {
        Cascade(self.0 | other.0)
    }

    pub fn contains(self, other: Cascade) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any token of `other` is in `self`.
    pub fn intersects(self, other: Cascade) -> bool {
        self.0 & other.0 != 0
    }

    /// The meaning of one token, if it is one (the tokens are listed in `symbol::CASCADE_TOKENS`).
    fn from_token(token: &str) -> Option<Cascade> {
        let cascade = match token {
            symbol::SAVE_UPDATE => Cascade::SAVE_UPDATE,
            symbol::MERGE => Cascade::MERGE,
            symbol::REFRESH_EXPIRE => Cascade::REFRESH_EXPIRE,
            symbol::EXPUNGE => Cascade::EXPUNGE,
            symbol::DELETE => Cascade::DELETE,
            symbol::DELETE_ORPHAN => Cascade::DELETE_ORPHAN,
            symbol::ALL => Cascade::ALL,
            symbol::NONE => Cascade::NONE,
            _ => return None,
        };
        Some(cascade)
    }

    /// The tokens of single flags in this set and not in `base`, in the order of
    /// `symbol::CASCADE_TOKENS` (generated code names the runtime's constant of each).
    pub fn tokens_beyond(self, base: Cascade) -> impl Iterator<Item = &'static str> {
        CASCADE_TOKENS.iter().copied().filter(move |token| {
            Cascade::from_token(token)
                .is_some_and(|flag| flag.is_single() && self.contains(flag) && !base.contains(flag))
        })
    }
}

/// Parses a cascade string: split on commas, blanks trimmed, empty pieces ignored. Each unknown
/// token is recorded as an error (underlined inside the literal where the compiler allows it)
/// and parsing carries on with the rest.
pub fn parse(cx: &Ctxt, lit: &LitStr) -> Cascade {
    let value = lit.value();
    let mut cascade = Cascade::NONE;
    let mut offset = 0;
    for piece in value.split(',') {
        let token = piece.trim();
        let start = offset + (piece.len() - piece.trim_start().len());
        offset += piece.len() + 1;
        if token.is_empty() {
            continue;
        }
        match Cascade::from_token(token) {
            Some(flags) => cascade = cascade.union(flags),
            None => cx.error(token_span(lit, start, token.len()), unknown_token(token)),
        }
    }
    cascade
}

fn unknown_token(token: &str) -> String {
    format!(
        "unknown cascade option `{token}`: expected a comma-separated list of {}{}",
        symbol::list(CASCADE_TOKENS),
        did_you_mean(token, CASCADE_TOKENS)
    )
}

/// The span of `len` bytes at `start` inside the literal's value, when the literal is written
/// without escapes and the compiler can give sub-spans (nightly); else the whole literal.
fn token_span(lit: &LitStr, start: usize, len: usize) -> Span {
    let source = lit.token().to_string();
    let value = lit.value();
    let inner = source.find('"').map(|quote| quote + 1);
    match inner {
        Some(inner) if source[inner..].starts_with(&value) => lit
            .token()
            .subspan(inner + start..inner + start + len)
            .unwrap_or_else(|| lit.span()),
        _ => lit.span(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(value: &str) -> (Cascade, Result<(), syn::Error>) {
        let cx = Ctxt::new();
        let cascade = parse(&cx, &LitStr::new(value, Span::call_site()));
        (cascade, cx.check())
    }

    #[test]
    fn all_is_everything_but_delete_orphan() {
        let (cascade, result) = parse_str("all");
        assert!(result.is_ok());
        assert_eq!(cascade, Cascade::ALL);
        assert!(!cascade.contains(Cascade::DELETE_ORPHAN));
    }

    #[test]
    fn splits_trims_and_ignores_empty_pieces() {
        let (cascade, result) = parse_str(" all ,, delete-orphan, ");
        assert!(result.is_ok());
        assert_eq!(cascade, Cascade::ALL.union(Cascade::DELETE_ORPHAN));
        assert_eq!(parse_str("").0, Cascade::NONE);
        assert_eq!(parse_str("none").0, Cascade::NONE);
        assert_eq!(parse_str("save-update, merge").0, Cascade::DEFAULT);
    }

    #[test]
    fn every_listed_token_parses() {
        for token in CASCADE_TOKENS {
            assert!(
                Cascade::from_token(token).is_some(),
                "`{token}` is listed but not parsed"
            );
        }
    }

    #[test]
    fn tokens_beyond_a_base_are_single_flags() {
        let all_orphan = Cascade::ALL.union(Cascade::DELETE_ORPHAN);
        let beyond: Vec<_> = all_orphan.tokens_beyond(Cascade::ALL).collect();
        assert_eq!(beyond, [symbol::DELETE_ORPHAN]);
        let beyond: Vec<_> = Cascade::DEFAULT.tokens_beyond(Cascade::NONE).collect();
        assert_eq!(beyond, [symbol::SAVE_UPDATE, symbol::MERGE]);
    }

    #[test]
    fn unknown_tokens_are_all_reported_with_a_suggestion() {
        let (cascade, result) = parse_str("delete, delete_orphan, bogus");
        assert_eq!(cascade, Cascade::DELETE);
        let messages: Vec<String> = result
            .expect_err("two unknown tokens")
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages.len(), 2);
        assert!(messages[0].starts_with("unknown cascade option `delete_orphan`"));
        assert!(messages[0].ends_with("did you mean `delete-orphan`?"));
        assert!(!messages[1].contains("did you mean"));
    }
}
