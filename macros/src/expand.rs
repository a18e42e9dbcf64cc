//! Code generation for one loop.
//!
//! Every loop lowers to one call of the runtime's
//! `Parallel::try_fold(input, init, fold, combine)`:
//!
//! ```text
//! #[other attributes of the loop]
//! {
//!     static __AUTOPAR_SITE: Site = Site::new(file!(), line!(), column!(), LABEL); // at `for`
//!     let __autopar_w0 = reduce::witness(&total);          // one per reduction
//!     let __autopar_result: Result<_, Infallible> =         // `_` error type when `?` is used
//!         parallel(&__AUTOPAR_SITE, Mode::Auto).workers(..).chunk(..).progress(..)
//!         .try_fold(
//!             (&InputWrap::new(EXPR)).__autopar_input(),     // autoref-selected input
//!             move || (__autopar_w0.zero(),),                // fresh partials
//!             |(mut total,), PAT| { 'body: { BODY } return Ok((total,)); },
//!             |(mut a0,), (b0,)| { a0 += b0; (a0,) },        // left = earlier items
//!         );
//!     let Ok((p0,)) = __autopar_result;                     // or `match`, returning the error
//!     total += p0;
//! }
//! ```
//!
//! A loop that exits early (`break` out of it, `return`) calls
//! `try_fold_until` instead: the closure returns
//! `Ok(ControlFlow::Continue((total,)))` to go on and
//! `Ok(ControlFlow::Break(((total,), exit)))` to stop, and the result is
//! `Ok(((p0,), exit))`; after the partials are applied, `exit ==
//! Some(Some(value))` (a `return value`) returns from the fn.
//!
//! The `static` is the per-call-site cache key of the runtime; its
//! `file!()/line!()/column!()` are spanned at the loop's `for` token so the
//! key (and the report) name the loop, not the fn attribute.
//!
//! All paths are absolute (`::autopar::..`, `::core::..`) and the macro's
//! own locals have mixed-site hygiene, so user code can neither shadow nor
//! see them.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Block, Expr, Ident, Pat};

use crate::args::Args;
use crate::lint::{Warning, emit};
use crate::reduction::{Kind, Place};
use crate::scan::{Reduction, Scan};
use crate::syntax::{gen_span, local_ident};
use crate::translate::{BODY_LABEL, SLOT, go_on, partials_tuple, stop_with};

/// What the fn does with an error that stopped the loop.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Propagate {
    /// `return Err(e)`: the fn returns `Result`, or the loop is inside
    /// another parallel loop's body (whose closure returns `Result`).
    Err,
    /// `return None`: the fn returns `Option`.
    None,
}

/// A loop ready to be generated.
pub struct LoopParts {
    /// The loop's attributes other than `#[parallel]` (`#[cfg]`, lints).
    pub attrs: Vec<Attribute>,
    /// The `for` token: the site's location.
    pub for_span: Span,
    /// The loop pattern.
    pub pat: Pat,
    /// The expression after `in`.
    pub input: Expr,
    /// The translated body.
    pub body: Block,
    /// The body has `continue`s, translated as `break`s out of its block.
    pub continues: bool,
    /// The loop's options (fn's overlaid with the loop's own).
    pub args: Args,
    /// The analysis.
    pub scan: Scan,
    /// How a failure leaves the fn.
    pub propagate: Propagate,
    /// Warnings to emit at the top of the generated block.
    pub warnings: Vec<Warning>,
}

/// The tokens replacing the loop.
pub fn expand_loop(parts: &LoopParts) -> TokenStream {
    let for_span = parts.for_span;
    let span = gen_span(for_span);
    let attrs = &parts.attrs;
    let warnings = emit(&parts.warnings);
    let site = Ident::new("__AUTOPAR_SITE", span);
    let label = match &parts.args.label {
        Some(lit) => quote_spanned!(span=> ::core::option::Option::Some(#lit)),
        None => quote_spanned!(span=> ::core::option::Option::None),
    };
    // `line!()` and friends report the line of the span they carry.
    let location = quote_spanned!(for_span=> ::core::file!(), ::core::line!(), ::core::column!());
    let mode = Ident::new(parts.args.mode().variant(), span);

    let reductions = &parts.scan.reductions;
    let witnesses: Vec<Ident> = (0..reductions.len())
        .map(|k| local_ident(&format!("__autopar_w{k}"), span))
        .collect();
    let witness_lets = reductions.iter().zip(&witnesses).map(|(r, w)| {
        let x = &r.ident;
        let at = gen_span(x.span());
        // Arithmetic kinds take their operations (and their one trait
        // bound) here, once.
        let ops = arith_ops(r.kind).map(|ops| {
            let ops = Ident::new(ops, at);
            quote_spanned!(at=> .#ops())
        });
        match r.place {
            Place::Whole => {
                quote_spanned!(at=> let #w = ::autopar::__private::reduce::witness(&#x) #ops;)
            }
            // A map of the task's own, merged by key.
            Place::Entry => quote_spanned! {at=>
                let #w = ::autopar::__private::reduce::witness(&#x).entries() #ops;
            },
            // An array of the task's own, as long as `x` is now.
            Place::Element => {
                quote_spanned!(at=> let #w = ::autopar::__private::reduce::elements(&#x) #ops;)
            }
        }
    });
    let inits = reductions.iter().zip(&witnesses).map(|(r, w)| {
        let at = gen_span(r.ident.span());
        let method = Ident::new(init_method(r.kind), at);
        quote_spanned!(at=> #w.#method())
    });

    let options = [
        ("workers", &parts.args.workers),
        ("chunk", &parts.args.chunk),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        let value = value.as_ref()?;
        let at = gen_span(value.span());
        let method = Ident::new(name, at);
        Some(quote_spanned!(at=> .#method(#value)))
    });
    // An element reduction's task makes and combines an array of its own: tasks get
    // enough items to pay for it.
    let partials_cost = reductions
        .iter()
        .zip(&witnesses)
        .filter(|(r, _)| r.place == Place::Element)
        .map(|(r, w)| {
            let at = gen_span(r.ident.span());
            quote_spanned!(at=> .__partial_items(#w.partial_len()))
        })
        .collect::<Vec<_>>();
    // `.progress(..)`: a bar on stderr with the `progress` feature, nothing without.
    let progress = parts.args.progress.as_ref().map(|message| {
        let at = gen_span(message.span());
        quote_spanned!(at=> .progress(::autopar::__private::progress_message(#message)))
    });

    // The input and the pattern the fold closure takes.
    let range = local_ident("__autopar_range", span);
    let (prelude, input, pat) = match &parts.scan.index {
        Some(target) => {
            let array = &target.array;
            let var = &target.var;
            let slot = local_ident(SLOT, var.span());
            let range_expr = &parts.input;
            let at = gen_span(parts.input.span());
            (
                // Evaluated before `out` is borrowed: `0..out.len()` is fine.
                Some(quote_spanned!(at=> let #range = #range_expr;)),
                quote_spanned!(at=> ::autopar::__private::indexed_mut(&mut #array[..], #range)),
                // Every `out[i]` became `*slot`; `i` may be left unused.
                quote_spanned!(at=> #[allow(unused_variables)] (#var, #slot)),
            )
        }
        None => {
            let expr = &parts.input;
            let at = gen_span(expr.span());
            // Not wrapped in a block: temporaries of the input (`&make()`)
            // must live until the end of the `let` statement, as they live
            // until the end of a `for` loop (edition 2024 drops a block's
            // tail temporaries at the end of the block).
            // An iterator chain (`v.iter().enumerate()`) is built by the runtime, so
            // that it can be split by index (see `chains`).
            let chain = crate::chains::rewrite(expr);
            let chain_traits = chain.is_some().then(|| {
                quote_spanned!(span=> use ::autopar::__private::{ViaChain as _, ViaSeqChain as _};)
            });
            let expr = chain.unwrap_or_else(|| expr.to_token_stream());
            let input = quote_spanned! {at=>
                (&::autopar::__private::InputWrap::new(#expr)).__autopar_input()
            };
            let traits = quote_spanned! {span=>
                #[allow(unused_imports)]
                use ::autopar::__private::{ViaInput as _, ViaIter as _};
                #chain_traits
            };
            (Some(traits), input, parts.pat.to_token_stream())
        }
    };

    let params = {
        let names = reductions.iter().map(|r| &r.ident);
        quote_spanned!(span=> (#(mut #names,)*))
    };
    let partials = partials_tuple(reductions, for_span);
    let stmts = &parts.body.stmts;
    let body_span = gen_span(parts.body.brace_token.span.join());
    let early_exit = parts.scan.breaks || !parts.scan.returns.is_empty();
    let body = if early_exit {
        // The body's block has a value: `None` to go on (its end, or a
        // `continue`), `Some(exit)` to stop (a `break`, or a `return`, see
        // `translate`). The partials are named after the block, where a name
        // the body bound again no longer hides them.
        let label = syn::Lifetime::new(BODY_LABEL, crate::syntax::local_span(body_span));
        let stmts = terminated(stmts);
        let stop = local_ident("__autopar_stop", span);
        let exit = local_ident("__autopar_stop_exit", span);
        let stop_here = stop_with(partials.clone(), quote_spanned!(span=> #exit), span);
        quote_spanned! {body_span=>
            let #stop: ::core::option::Option<_> =
                #label: { #(#stmts)* ::core::option::Option::None };
            if let ::core::option::Option::Some(#exit) = #stop {
                return #stop_here;
            }
        }
    } else if parts.continues {
        let label = syn::Lifetime::new(BODY_LABEL, crate::syntax::local_span(body_span));
        quote_spanned!(body_span=> #label: { #(#stmts)* })
    } else {
        quote_spanned!(body_span=> { #(#stmts)* })
    };

    // combine(left, right): `left` holds the earlier items.
    let lefts: Vec<Ident> = (0..reductions.len())
        .map(|k| local_ident(&format!("__autopar_a{k}"), span))
        .collect();
    let rights: Vec<Ident> = (0..reductions.len())
        .map(|k| local_ident(&format!("__autopar_b{k}"), span))
        .collect();
    let combines = reductions
        .iter()
        .zip(&witnesses)
        .zip(lefts.iter().zip(&rights))
        .map(|((r, w), (a, b))| combine(r, w, a, b));

    let results: Vec<Ident> = (0..reductions.len())
        .map(|k| local_ident(&format!("__autopar_p{k}"), span))
        .collect();
    let applies = reductions
        .iter()
        .zip(&witnesses)
        .zip(&results)
        .map(|((r, w), p)| apply(r, w, p));
    let result = local_ident("__autopar_result", span);
    let error = local_ident("__autopar_error", span);
    let exit = local_ident("__autopar_exit", span);
    let exit_value = local_ident("__autopar_value", span);
    // What the loop's result holds, and what happens after the partials are
    // applied: a `return value` in the loop returns it from the fn.
    let (ok_pattern, after) = if !early_exit {
        (quote_spanned!(span=> (#(#results,)*)), quote!())
    } else if parts.scan.returns.is_empty() {
        (
            quote_spanned!(span=> ((#(#results,)*), #exit)),
            quote_spanned!(span=> let _ = #exit;),
        )
    } else {
        (
            quote_spanned!(span=> ((#(#results,)*), #exit)),
            quote_spanned!(span=>
                if let ::core::option::Option::Some(::core::option::Option::Some(#exit_value)) = #exit {
                    return #exit_value;
                }
            ),
        )
    };
    let finish = if parts.scan.fallible {
        let leave = match parts.propagate {
            Propagate::Err => quote_spanned!(span=> return ::core::result::Result::Err(#error)),
            Propagate::None => quote_spanned!(span=> {
                let _ = #error;
                return ::core::option::Option::None;
            }),
        };
        quote_spanned! {span=>
            match #result {
                ::core::result::Result::Ok(#ok_pattern) => { #(#applies)* #after }
                ::core::result::Result::Err(#error) => #leave,
            }
        }
    } else {
        quote_spanned! {span=>
            let ::core::result::Result::Ok(#ok_pattern) = #result;
            #(#applies)*
            #after
        }
    };
    let method = Ident::new(
        if early_exit {
            "try_fold_until"
        } else {
            "try_fold"
        },
        span,
    );
    let go_on = go_on(early_exit, partials.clone(), span);
    // Without reductions the accumulator is `()`; spelled with empty
    // blocks, which clippy's `unused_unit` accepts.
    let (init, combine) = if reductions.is_empty() {
        (
            quote_spanned!(span=> || {}),
            quote_spanned!(span=> |(), ()| {}),
        )
    } else {
        (
            quote_spanned!(span=> move || (#(#inits,)*)),
            quote_spanned!(span=> move |(#(mut #lefts,)*), (#(#rights,)*)| {
                #(#combines)*
                (#(#lefts,)*)
            }),
        )
    };
    let result_ty = if parts.scan.fallible {
        quote!()
    } else {
        quote_spanned!(span=> : ::core::result::Result<_, ::core::convert::Infallible>)
    };

    quote_spanned! {span=>
        #(#attrs)*
        {
            #warnings
            static #site: ::autopar::__private::Site =
                ::autopar::__private::Site::new(#location, #label);
            #(#witness_lets)*
            #prelude
            let #result #result_ty = ::autopar::__private::parallel(
                &#site,
                ::autopar::__private::Mode::#mode,
            )
            #(#options)*
            #(#partials_cost)*
            #progress
            .#method(
                #input,
                #init,
                |#params, #pat| {
                    #body
                    // Unreachable when the body ends in `continue` or `panic!`.
                    #[allow(unreachable_code)]
                    return #go_on;
                },
                #combine,
            );
            #finish
        }
    }
}

/// `stmts` with a `;` after a final expression statement that has none, so that
/// more can follow it in the same block.
fn terminated(stmts: &[syn::Stmt]) -> Vec<syn::Stmt> {
    let mut stmts = stmts.to_vec();
    if let Some(syn::Stmt::Expr(expr, semi @ None)) = stmts.last_mut() {
        *semi = Some(syn::Token![;](expr.span()));
    }
    stmts
}

/// The method that makes an empty partial.
fn init_method(kind: Kind) -> &'static str {
    match kind {
        Kind::Add | Kind::Sub | Kind::Mul | Kind::BitOr | Kind::BitAnd | Kind::BitXor => "identity",
        Kind::Max { .. } | Kind::Min { .. } => "none",
        Kind::Collect => "vec",
        Kind::InsertSet | Kind::InsertMap => "inserts",
    }
}

/// The `Witness` method that returns an arithmetic kind's operations
/// (`reduce::Arith`). Going through it, rather than writing `a += b` in the
/// combine step, means a type that cannot be reduced fails on one trait
/// bound with one message, at the reduction variable.
fn arith_ops(kind: Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::Add => "sum",
        Kind::Sub => "difference",
        Kind::Mul => "product",
        Kind::BitOr => "bit_or",
        Kind::BitAnd => "bit_and",
        Kind::BitXor => "bit_xor",
        _ => return None,
    })
}

/// `max` or `min`.
fn max_min(kind: Kind, span: Span) -> Ident {
    let name = if matches!(kind, Kind::Max { .. }) {
        "max"
    } else {
        "min"
    };
    Ident::new(name, span)
}

/// Folds the later partial `b` into the earlier partial `a`.
fn combine(r: &Reduction, w: &Ident, a: &Ident, b: &Ident) -> TokenStream {
    let span = gen_span(r.ident.span());
    if arith_ops(r.kind).is_some() {
        return quote_spanned!(span=> #w.combine(&mut #a, #b););
    }
    match r.kind {
        Kind::Max { x_first } | Kind::Min { x_first } => {
            let method = max_min(r.kind, span);
            let l = local_ident("__autopar_l", span);
            let rr = local_ident("__autopar_r", span);
            // Same operand order as the user's: which of two equal values
            // wins must not change.
            let both = if x_first {
                quote_spanned!(span=> #l.#method(#rr))
            } else {
                quote_spanned!(span=> #rr.#method(#l))
            };
            quote_spanned! {span=>
                #a = match (#a, #b) {
                    (::core::option::Option::Some(#l), ::core::option::Option::Some(#rr)) => {
                        ::core::option::Option::Some(#both)
                    }
                    (#l, ::core::option::Option::None) => #l,
                    (::core::option::Option::None, #rr) => #rr,
                };
            }
        }
        _ => quote_spanned!(span=> #a.extend(#b);),
    }
}

/// Applies the combined partial `p` to the user's variable.
fn apply(r: &Reduction, w: &Ident, p: &Ident) -> TokenStream {
    let x = &r.ident;
    let span = gen_span(x.span());
    if arith_ops(r.kind).is_some() {
        return quote_spanned!(span=> #w.apply(&mut #x, #p););
    }
    match r.kind {
        Kind::Max { x_first } | Kind::Min { x_first } => {
            let method = max_min(r.kind, span);
            let v = local_ident("__autopar_v", span);
            let both = if x_first {
                quote_spanned!(span=> #x.#method(#v))
            } else {
                quote_spanned!(span=> #v.#method(#x))
            };
            quote_spanned! {span=>
                if let ::core::option::Option::Some(#v) = #p {
                    #x = #both;
                }
            }
        }
        // Vecs: the partials in order. Sets and maps: the inserts replayed in
        // order (`extend` inserts one by one, so the last insert of a key
        // wins, as in the loop).
        _ => quote_spanned!(span=> #x.extend(#p);),
    }
}
