//! The error collector.
//!
//! A macro that stops at the first problem makes the user fix one mistake per
//! build. [`Ctxt`] collects every error found while analysing one fn, so a
//! single build reports all of them (the design of serde_derive's `Ctxt`).
//!
//! It refuses to be forgotten: dropping a `Ctxt` that still holds errors
//! without calling [`Ctxt::check`] is a bug in this crate, so `Drop` panics
//! (unless the thread is already panicking). That panic can only be reached by
//! a logic error here, never by user input: every path through the macro ends
//! in `check`.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::Span;

/// Collects the errors of one macro invocation.
pub struct Ctxt {
    /// `None` once [`Ctxt::check`] ran; the `Vec` otherwise.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    /// A collector with no errors yet.
    pub fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error at `span`.
    ///
    /// `msg` is a one-line reason; [`help`] adds the alternative as a second
    /// line, which rustc prints under the reason.
    pub fn error(&self, span: Span, msg: impl Display) {
        self.push(syn::Error::new(span, msg));
    }

    /// Records an error spanning all of `tokens` (first to last token).
    pub fn error_spanned_by(&self, tokens: impl quote::ToTokens, msg: impl Display) {
        self.push(syn::Error::new_spanned(tokens, msg));
    }

    /// Records an error produced by syn (a parse error).
    pub fn push(&self, err: syn::Error) {
        if let Some(errors) = self.errors.borrow_mut().as_mut() {
            errors.push(err);
        }
    }

    /// Consumes the collector: `Err` with every recorded error combined (rustc
    /// shows each at its own span), or `Ok` when there were none.
    pub fn check(self) -> Result<(), syn::Error> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        let mut iter = errors.into_iter();
        match iter.next() {
            None => Ok(()),
            Some(mut first) => {
                for err in iter {
                    first.combine(err);
                }
                Err(first)
            }
        }
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        // A `Ctxt` dropped unchecked would silently lose errors and let a
        // half-analysed loop through. Only reachable by a bug in this crate.
        if !std::thread::panicking() && self.errors.borrow().as_ref().is_some_and(|e| !e.is_empty())
        {
            panic!("autopar-macros: Ctxt dropped without checking its errors");
        }
    }
}

/// Formats a diagnostic as the reason followed by a `help:` line.
///
/// `syn::Error` cannot attach rustc's `help:` sub-diagnostics, so the help is
/// the second line of the message; rustc indents it under the first. Every
/// diagnostic of this crate that has an alternative to offer uses this shape.
pub fn help(reason: impl Display, help: impl Display) -> String {
    format!("{reason}\nhelp: {help}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_checks_ok() {
        assert!(Ctxt::new().check().is_ok());
    }

    #[test]
    fn combines_all_errors() {
        let cx = Ctxt::new();
        cx.error(Span::call_site(), "one");
        cx.error(Span::call_site(), "two");
        let err = cx.check().unwrap_err();
        let msgs: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs, ["one", "two"]);
    }

    #[test]
    #[should_panic(expected = "without checking")]
    fn dropping_unchecked_errors_panics() {
        let cx = Ctxt::new();
        cx.error(Span::call_site(), "lost");
    }

    #[test]
    fn help_is_a_second_line() {
        assert_eq!(help("bad", "do this"), "bad\nhelp: do this");
    }
}
