//! `#[parallel]` on hostile input: generated token streams for the attribute arguments
//! and for loop bodies never make the macro panic; it always returns either code that
//! parses or `compile_error!`s.
//!
//! A proc-macro crate exports nothing but its macros, so this test compiles the macro's
//! modules again (`#[path]`) and calls the `proc_macro2` entry point `item::expand`
//! directly, as the unit tests in `src/item.rs` do. (Their own `#[cfg(test)]` unit tests
//! come along and run here a second time: well under a second.)

#![allow(dead_code)]

extern crate proc_macro;

#[path = "../src/args.rs"]
mod args;
#[path = "../src/chains.rs"]
mod chains;
#[path = "../src/ctxt.rs"]
mod ctxt;
#[path = "../src/discover.rs"]
mod discover;
#[path = "../src/expand.rs"]
mod expand;
#[path = "../src/item.rs"]
mod item;
#[path = "../src/lint.rs"]
mod lint;
#[path = "../src/mutation.rs"]
mod mutation;
#[path = "../src/params.rs"]
mod params;
#[path = "../src/reduction.rs"]
mod reduction;
#[path = "../src/scan.rs"]
mod scan;
#[path = "../src/scope.rs"]
mod scope;
#[path = "../src/syntax.rs"]
mod syntax;
#[path = "../src/translate.rs"]
mod translate;

use std::panic::{AssertUnwindSafe, catch_unwind};

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use proptest::prelude::*;
use quote::quote;

/// Identifiers the macro gives meaning to, keywords, and plain names.
const WORDS: &[&str] = &[
    "auto",
    "cpu",
    "io",
    "seq",
    "workers",
    "chunk",
    "label",
    "allow_nested",
    "parallel",
    "autopar",
    "for",
    "in",
    "while",
    "loop",
    "break",
    "continue",
    "return",
    "await",
    "async",
    "fn",
    "let",
    "mut",
    "ref",
    "move",
    "if",
    "else",
    "match",
    "unsafe",
    "const",
    "static",
    "impl",
    "struct",
    "self",
    "Self",
    "super",
    "crate",
    "where",
    "dyn",
    "type",
    "yield",
    "try",
    "macro_rules",
    "x",
    "v",
    "t",
    "i",
    "out",
    "total",
    "push",
    "extend",
    "insert",
    "max",
    "min",
    "len",
    "iter",
    "par_iter",
    "rayon",
    "join",
    "thread",
    "spawn",
    "Ok",
    "Err",
    "Some",
    "None",
    "Result",
    "Option",
    "Vec",
    "u64",
    "_",
];

/// Punctuation characters `proc_macro2` accepts.
const PUNCTS: &[char] = &[
    '+', '-', '*', '/', '%', '^', '!', '&', '|', '=', '<', '>', '@', '.', ',', ';', ':', '#', '$',
    '?', '~', '\'',
];

fn word() -> impl Strategy<Value = TokenTree> {
    prop_oneof![
        8 => proptest::sample::select(WORDS).prop_map(|w| TokenTree::Ident(Ident::new(w, Span::call_site()))),
        1 => proptest::sample::select(&["x", "match", "type", "fn"][..])
            .prop_map(|w| TokenTree::Ident(Ident::new_raw(w, Span::call_site()))),
    ]
}

fn leaf() -> impl Strategy<Value = TokenTree> {
    prop_oneof![
        6 => word(),
        5 => (proptest::sample::select(PUNCTS), any::<bool>()).prop_map(|(c, joint)| {
            TokenTree::Punct(Punct::new(c, if joint { Spacing::Joint } else { Spacing::Alone }))
        }),
        2 => any::<u64>().prop_map(|n| TokenTree::Literal(Literal::u64_unsuffixed(n % 1000))),
        1 => any::<i64>().prop_map(|n| TokenTree::Literal(Literal::i64_suffixed(n))),
        1 => proptest::sample::select(&["", "label", "x\"y", "\u{0}", "{}"][..])
            .prop_map(|s| TokenTree::Literal(Literal::string(s))),
        1 => Just(TokenTree::Literal(Literal::f64_unsuffixed(0.5))),
        1 => Just(TokenTree::Literal(Literal::character('c'))),
        1 => Just(TokenTree::Literal(Literal::byte_string(b"b"))),
    ]
}

fn delimiter() -> impl Strategy<Value = Delimiter> {
    prop_oneof![
        Just(Delimiter::Parenthesis),
        Just(Delimiter::Brace),
        Just(Delimiter::Bracket),
        Just(Delimiter::None),
    ]
}

/// Arbitrary token trees, nested a few levels deep.
fn tree() -> impl Strategy<Value = TokenTree> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        (delimiter(), proptest::collection::vec(inner, 0..6))
            .prop_map(|(d, trees)| TokenTree::Group(Group::new(d, trees.into_iter().collect())))
    })
}

fn stream(max: usize) -> impl Strategy<Value = TokenStream> {
    proptest::collection::vec(tree(), 0..max).prop_map(|t| t.into_iter().collect())
}

/// One statement of a loop body: usually a form the macro translates or rejects (with
/// random sub-expressions), sometimes raw tokens.
fn statement() -> impl Strategy<Value = TokenStream> {
    let expr = prop_oneof![
        3 => proptest::sample::select(&["x", "*x", "i", "x.len()", "v[i]", "(x + 1)", "f(x)?", "x?", "x.await"][..])
            .prop_map(|e| e.parse::<TokenStream>().unwrap()),
        1 => stream(4),
    ];
    let attr = prop_oneof![
        3 => Just(TokenStream::new()),
        1 => Just(quote!(#[parallel])),
        2 => stream(5).prop_map(|a| quote!(#[parallel(#a)])),
    ];
    prop_oneof![
        2 => expr.clone().prop_map(|e| quote!(total += #e;)),
        1 => expr.clone().prop_map(|e| quote!(total = total.max(#e);)),
        2 => expr.clone().prop_map(|e| quote!(out.push(#e);)),
        1 => expr.clone().prop_map(|e| quote!(out[i] = #e;)),
        1 => expr.clone().prop_map(|e| quote!(set.insert(#e);)),
        1 => expr.clone().prop_map(|e| quote!(let y = #e;)),
        1 => expr.clone().prop_map(|e| quote!(if #e { continue; })),
        1 => Just(quote!(break;)),
        1 => Just(quote!(return;)),
        1 => Just(quote!(continue 'outer;)),
        1 => expr.clone().prop_map(|e| quote!(x = #e;)),
        1 => (attr.clone(), expr.clone()).prop_map(|(a, e)| quote!(#a for y in #e { total += y; })),
        1 => (attr, stream(6)).prop_map(|(a, b)| quote!(#a for y in v { #b })),
        1 => expr.prop_map(|e| quote!(rayon::join(|| #e, || 2);)),
        1 => stream(8),
    ]
}

fn body() -> impl Strategy<Value = TokenStream> {
    proptest::collection::vec(statement(), 0..6).prop_map(|s| s.into_iter().collect())
}

/// Attribute arguments: valid lists, near misses and noise.
fn args() -> impl Strategy<Value = TokenStream> {
    let option = prop_oneof![
        6 => proptest::sample::select(
            &[
                "auto",
                "cpu",
                "io",
                "seq",
                "allow_nested",
                "workers = 4",
                "chunk = n * 2",
                "label = \"l\"",
                "workers = ",
                "chunk",
                "label = 3",
                "io = 1",
                "mode = cpu"
            ][..]
        )
        .prop_map(|o| o.parse::<TokenStream>().unwrap()),
        1 => stream(3),
    ];
    prop_oneof![
        6 => proptest::collection::vec(option, 0..3).prop_map(|opts| {
            let mut out = TokenStream::new();
            for (n, o) in opts.into_iter().enumerate() {
                if n > 0 {
                    out.extend(quote!(,));
                }
                out.extend(o);
            }
            out
        }),
        1 => stream(6),
    ]
}

/// The item: a fn in one of several shapes around the generated body, or noise.
fn item() -> impl Strategy<Value = TokenStream> {
    let loop_attr = prop_oneof![
        2 => Just(TokenStream::new()),
        1 => Just(quote!(#[parallel])),
        2 => args().prop_map(|a| quote!(#[parallel(#a)])),
    ];
    prop_oneof![
        4 => (loop_attr.clone(), body()).prop_map(|(a, b)| quote! {
            fn f(v: &[u64], out: &mut Vec<u64>) -> Result<u64, E> {
                let mut total = 0;
                let mut set = std::collections::HashSet::new();
                #a for x in v { #b }
                Ok(total)
            }
        }),
        2 => (loop_attr.clone(), body()).prop_map(|(a, b)| quote! {
            fn f(src: &[u64], out: &mut [u64]) {
                let mut total = 0;
                #a 'outer: for i in 0..out.len() { let x = src[i]; #b }
            }
        }),
        1 => (loop_attr, body()).prop_map(|(a, b)| quote! {
            async fn f(&self) -> Option<u64> { let mut total = 0; #a for x in self.v.iter() { #b } Some(total) }
        }),
        1 => (stream(4), body()).prop_map(|(sig, b)| quote!(fn f(#sig) { for x in v { #b } })),
        1 => stream(10),
    ]
}

/// Expands, failing the property (not the test process) on a panic.
fn expand_checked(attr: &TokenStream, item: &TokenStream) -> Result<TokenStream, TestCaseError> {
    catch_unwind(AssertUnwindSafe(|| {
        item::expand(attr.clone(), item.clone())
    }))
    .map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        TestCaseError::fail(format!(
            "the macro panicked ({message})\n  attr: {attr}\n  item: {item}"
        ))
    })
}

/// Code or errors: a valid fn always comes back as parseable items (the rewritten or
/// stripped fn, any `compile_error!`s, warning consts); other input comes back with at
/// least one `compile_error!`.
fn check_output(
    attr: &TokenStream,
    item: &TokenStream,
    out: &TokenStream,
) -> Result<(), TestCaseError> {
    let text = out.to_string();
    let has_error = text.contains("compile_error");
    let parses = syn::parse2::<syn::File>(out.clone()).is_ok();
    if syn::parse2::<syn::ItemFn>(item.clone()).is_ok() {
        prop_assert!(
            parses,
            "output of a valid fn does not parse\n  attr: {}\n  item: {}\n  out: {}",
            attr,
            item,
            text
        );
        prop_assert!(
            text.contains("fn f"),
            "the fn was lost\n  item: {}\n  out: {}",
            item,
            text
        );
    } else {
        prop_assert!(
            has_error,
            "input that is no fn gave no error\n  item: {}\n  out: {}",
            item,
            text
        );
    }
    if syn::parse2::<syn::ItemFn>(item.clone()).is_ok() && !has_error {
        // Accepted: the loops became calls into the runtime, or nothing was marked.
        prop_assert!(
            !text.contains("# [parallel"),
            "attribute left in\n  out: {}",
            text
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random attribute arguments on fns with random loop bodies.
    #[test]
    fn never_panics_and_returns_code_or_errors(attr in args(), item in item()) {
        let out = expand_checked(&attr, &item)?;
        check_output(&attr, &item, &out)?;
    }

    /// Pure noise as arguments and as item.
    #[test]
    fn never_panics_on_noise(attr in stream(8), item in stream(12)) {
        let out = expand_checked(&attr, &item)?;
        check_output(&attr, &item, &out)?;
    }
}

/// The generators reach the interesting paths: some inputs are accepted and rewritten,
/// some are rejected with errors (a generator that only produced noise would make the
/// properties above vacuous).
#[test]
fn generated_inputs_cover_accepted_and_rejected_loops() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut rewritten, mut rejected) = (0, 0);
    for _ in 0..400 {
        let attr = args().new_tree(&mut runner).unwrap().current();
        let item = item().new_tree(&mut runner).unwrap().current();
        let text = item::expand(attr, item).to_string();
        if text.contains("compile_error") {
            rejected += 1;
        } else if text.contains("__private :: parallel") {
            rewritten += 1;
        }
    }
    assert!(
        rewritten >= 20 && rejected >= 20,
        "{rewritten} rewritten, {rejected} rejected"
    );
}

/// Deeply nested expressions expand like shallow ones. rustc parses them on stacks it
/// grows as needed, so a 1000-deep `((..(x)..))` compiles without the attribute; the
/// macro must not overflow the 8 MiB thread rustc runs it on (syn's parser alone spends
/// over 8 KiB of stack per level when unoptimised, as proc macros are built).
#[test]
fn deep_nesting_expands_on_a_compiler_sized_stack() {
    let shapes = [
        (
            "1000 parentheses",
            format!("{}x{}", "(".repeat(1000), ")".repeat(1000)),
        ),
        (
            "1000 blocks",
            format!("{}x{}", "{ ".repeat(1000), " }".repeat(1000)),
        ),
        ("4000 negations", format!("{}x", "- ".repeat(4000))),
    ];
    for (shape, expr) in shapes {
        let source = format!(
            "fn total(v: &[i64]) -> i64 {{ let mut total = 0; for &x in v {{ total += {expr}; }} total }}"
        );
        let expanded = std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || {
                let item: TokenStream = source.parse().expect("the source lexes");
                item::expand(TokenStream::new(), item).to_string()
            })
            .expect("spawn a thread")
            .join()
            .unwrap_or_else(|_| panic!("the expansion of {shape} panicked"));
        assert!(
            expanded.contains("__private :: parallel") && !expanded.contains("compile_error"),
            "{shape}: the loop was not rewritten"
        );
    }
}
