//! Iterator chains in a loop's input, rewritten so the runtime can split them by index.
//!
//! `v.iter().enumerate()` evaluates to a `std::iter::Enumerate`, whose state is private:
//! once built, it can only be pulled item by item. So the chain's methods are called on
//! the runtime's builder instead, which starts from the chain's base:
//!
//! ```text
//! v.iter().enumerate().zip(&w)
//! // becomes
//! (&ChainWrap::new(v.iter())).__autopar_chain()
//!     .enumerate()
//!     .zip((&ChainWrap::new(&w)).__autopar_chain())
//! ```
//!
//! `__autopar_chain` is autoref-specialised on the base's type: a slice's `iter()`, a
//! `&Vec`, an integer range, ... start an indexed `Chain`; anything else starts a
//! `SeqChain`, whose methods are std's, so the loop is what it was. `recv.chunks(n)` (and
//! `chunks_exact`, `windows`, `chunks_mut`) becomes a closure that evaluates either
//! `recv.iter()` and `n` or the call as written, whichever the receiver's type makes
//! the right one (see the runtime's `Pick`).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ExprMethodCall};

use crate::syntax::{gen_span, local_ident};

/// Adaptors the runtime's chains have, with their argument counts.
const ADAPTORS: &[(&str, usize)] = &[
    ("enumerate", 0),
    ("zip", 1),
    ("rev", 0),
    ("step_by", 1),
    ("skip", 1),
    ("take", 1),
    ("copied", 0),
    ("cloned", 0),
    ("map", 1),
];

/// Slice methods that start a chain: the method, the runtime's marker for it, and the
/// receiver's iterator method that tells a slice.
const BASE_CALLS: &[(&str, &str, &str)] = &[
    ("chunks", "ChunksK", "iter"),
    ("chunks_exact", "ChunksExactK", "iter"),
    ("windows", "WindowsK", "iter"),
    ("chunks_mut", "ChunksMutK", "iter_mut"),
];

fn is_adaptor(call: &ExprMethodCall) -> bool {
    call.turbofish.is_none()
        && ADAPTORS
            .iter()
            .any(|(name, args)| call.method == name && call.args.len() == *args)
}

/// The rewritten input, or `None` if `expr` is no chain (it then goes to the runtime
/// as written).
pub fn rewrite(expr: &Expr) -> Option<TokenStream> {
    let mut adaptors = Vec::new();
    let mut base = expr;
    while let Expr::MethodCall(call) = base {
        if !is_adaptor(call) {
            break;
        }
        adaptors.push(call);
        base = &call.receiver;
    }
    // `(0..n).rev()`: the parentheses are the method call's, not the argument's.
    while let Expr::Paren(paren) = base {
        base = &paren.expr;
    }
    let base_tokens = match base_call(base) {
        Some(tokens) => tokens,
        None if !adaptors.is_empty() || is_slice_iter(base) => quote!(#base),
        None => return None,
    };
    let at = gen_span(base.span());
    let mut out = wrap(base_tokens, at);
    for call in adaptors.into_iter().rev() {
        let method = &call.method;
        let args = call.args.iter().map(|arg| {
            if call.method == "zip" {
                let arg_at = gen_span(arg.span());
                wrap(rewrite(arg).unwrap_or_else(|| quote!(#arg)), arg_at)
            } else {
                quote!(#arg)
            }
        });
        out = quote_spanned!(gen_span(call.span())=> #out.#method(#(#args),*));
    }
    Some(out)
}

/// `(&ChainWrap::new(tokens)).__autopar_chain()`.
fn wrap(tokens: TokenStream, at: proc_macro2::Span) -> TokenStream {
    quote_spanned!(at=> (&::autopar::__private::ChainWrap::new(#tokens)).__autopar_chain())
}

/// `x.iter()` or `x.iter_mut()`: a chain of its own, even without adaptors.
fn is_slice_iter(expr: &Expr) -> bool {
    matches!(expr, Expr::MethodCall(call)
        if call.turbofish.is_none()
            && call.args.is_empty()
            && (call.method == "iter" || call.method == "iter_mut"))
}

/// `recv.chunks(n)` and friends as a `BaseCall`, when `recv` is a place (a temporary
/// receiver would not outlive the closure that evaluates it).
fn base_call(expr: &Expr) -> Option<TokenStream> {
    let Expr::MethodCall(call) = expr else {
        return None;
    };
    let (_, kind, iter) = BASE_CALLS.iter().find(|(name, _, _)| call.method == name)?;
    if call.turbofish.is_some() || call.args.len() != 1 || !is_place(&call.receiver) {
        return None;
    }
    let at = gen_span(call.span());
    let recv = &call.receiver;
    let method = &call.method;
    let arg = &call.args[0];
    let kind = syn::Ident::new(kind, at);
    let iter = syn::Ident::new(iter, method.span());
    let slice = local_ident("__autopar_slice", at);
    let n = local_ident("__autopar_n", at);
    Some(quote_spanned! {at=>
        ::autopar::__private::BaseCall::<_, ::autopar::__private::#kind>::new(
            |#slice: bool| {
                let #n = #arg;
                if #slice {
                    ::autopar::__private::Pick::Slice(#recv.#iter(), #n)
                } else {
                    ::autopar::__private::Pick::Other(#recv.#method(#n))
                }
            }
        )
    })
}

/// A place expression: a variable, a field, an index, a dereference (in parentheses or
/// not).
fn is_place(expr: &Expr) -> bool {
    match expr {
        Expr::Path(_) => true,
        Expr::Field(field) => is_place(&field.base),
        Expr::Index(index) => is_place(&index.expr),
        Expr::Paren(paren) => is_place(&paren.expr),
        Expr::Unary(unary) => matches!(unary.op, syn::UnOp::Deref(_)) && is_place(&unary.expr),
        Expr::Reference(reference) => is_place(&reference.expr),
        _ => false,
    }
}
