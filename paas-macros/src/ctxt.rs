//! The error context of one derive run.
//!
//! Reading and checking the input push every error they find into a
//! [`Ctxt`] and carry on, so the user sees all their mistakes in one build.
//! The pipeline then calls [`Ctxt::check`], which consumes the context and
//! hands back the errors combined into one `syn::Error`. A context dropped
//! without `check` is a bug in this crate (its errors would be lost), so the
//! drop panics, and the tests catch it.

use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;

/// The errors found so far in one derive input. Must be consumed by
/// [`Ctxt::check`].
pub(crate) struct Ctxt {
    errors: Vec<syn::Error>,
    /// Set by `check`; dropping a context without it panics.
    checked: bool,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Ctxt {
            errors: Vec::new(),
            checked: false,
        }
    }

    /// Records an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    /// Records an error spanning `tokens`.
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error at `span`.
    pub(crate) fn at(&mut self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Consumes the context: `Ok` if nothing was recorded, else every
    /// recorded error combined into one, in the order they were pushed.
    pub(crate) fn check(mut self) -> syn::Result<()> {
        self.checked = true;
        let mut errors = std::mem::take(&mut self.errors).into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        // While unwinding from another panic, a second one would abort.
        if !self.checked && !std::thread::panicking() {
            panic!("paas-macros bug: an error context was dropped without `Ctxt::check`");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "dropped without `Ctxt::check`")]
    fn an_unchecked_context_panics_on_drop() {
        let mut cx = Ctxt::new();
        cx.at(Span::call_site(), "lost");
        drop(cx);
    }

    #[test]
    #[should_panic(expected = "dropped without `Ctxt::check`")]
    fn an_unchecked_empty_context_panics_too() {
        drop(Ctxt::new());
    }

    #[test]
    fn check_without_errors_is_ok() {
        assert!(Ctxt::new().check().is_ok());
    }

    #[test]
    fn check_combines_every_error_in_order() {
        let mut cx = Ctxt::new();
        cx.at(Span::call_site(), "first");
        cx.spanned(quote::quote!(workers = 0), "second");
        cx.push(syn::Error::new(Span::call_site(), "third"));
        let combined = cx.check().expect_err("three errors were pushed");
        let messages: Vec<String> = combined.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["first", "second", "third"]);
    }
}
