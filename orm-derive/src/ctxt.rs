//! The error context: parsers and checks record every mistake and carry on, so that a user sees
//! all of them at once. It must be checked before it is dropped.

use proc_macro2::Span;
use std::cell::RefCell;
use std::fmt::Display;

/// Collects errors during parsing and checking.
#[derive(Debug, Default)]
pub struct Ctxt {
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    /// An empty context.
    pub fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error at `span`.
    pub fn error(&self, span: Span, message: impl Display) {
        self.syn_error(syn::Error::new(span, message));
    }

    /// Records an error spanning the tokens of `tokens`.
    pub fn error_spanned_by(&self, tokens: impl quote::ToTokens, message: impl Display) {
        self.syn_error(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error produced by syn.
    pub fn syn_error(&self, error: syn::Error) {
        if let Some(errors) = self.errors.borrow_mut().as_mut() {
            errors.push(error);
        }
    }

    /// Consumes the context: all recorded errors combined into one, if any.
    pub fn check(self) -> Result<(), syn::Error> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        let mut iter = errors.into_iter();
        let Some(mut combined) = iter.next() else {
            return Ok(());
        };
        for error in iter {
            combined.combine(error);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        // A bug in the derive, never a user mistake: errors would be silently lost.
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("orm-derive: an error context was dropped without being checked");
        }
    }
}
