//! Compile-time warnings on stable Rust.
//!
//! `proc_macro::Diagnostic` (real warnings) is nightly-only. The stable
//! technique: emit a `#[deprecated(note = "...")]` constant and use it at the
//! span the warning is about; rustc's `deprecated` lint then prints the note
//! there as a warning. It is a real lint, so users can `#[allow(deprecated)]`
//! or `#![deny(deprecated)]` it; the attribute's own `allow_nested` option
//! silences it more precisely (this crate simply emits nothing then).

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};

/// One warning to emit.
pub struct Warning {
    /// Where rustc points the warning.
    pub span: Span,
    /// The constant's name, shown by rustc as "use of deprecated constant
    /// `<path>::<name>`"; pick one that reads as the warning's title.
    pub name: &'static str,
    /// The text after the constant's name.
    pub note: String,
}

impl Warning {
    /// A statement that makes rustc print the warning.
    ///
    /// The constant is declared with the call-site span (the declaration is
    /// not what the user should look at) and used with `self.span`, which is
    /// where rustc reports the use.
    pub fn to_tokens(&self) -> TokenStream {
        let decl = Ident::new(self.name, Span::call_site());
        let used = Ident::new(self.name, self.span);
        let note = &self.note;
        let use_it = quote_spanned!(self.span=> #used);
        quote! {
            let () = {
                #[deprecated(note = #note)]
                #[allow(non_upper_case_globals)]
                const #decl: () = ();
                #use_it
            };
        }
    }
}

/// All warnings as statements, in order.
pub fn emit(warnings: &[Warning]) -> TokenStream {
    warnings.iter().map(Warning::to_tokens).collect()
}

/// The line of `span` in its file, when the compiler can tell (inside a
/// real macro expansion; not in this crate's unit tests).
pub fn line_of(span: Span) -> Option<usize> {
    if proc_macro::is_available() {
        Some(span.unwrap().line())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_shape() {
        let w = Warning {
            span: Span::call_site(),
            name: "nested_parallelism",
            note: "why".into(),
        };
        let text = w.to_tokens().to_string();
        assert!(text.contains("deprecated (note = \"why\")"), "{text}");
        assert!(
            text.contains("const nested_parallelism : () = ()"),
            "{text}"
        );
        assert!(line_of(Span::call_site()).is_none());
    }
}
