//! The driver: what the attribute sits on, which loops it rewrites, and
//! what comes out.
//!
//! * On a fn: the loops marked `#[parallel(..)]` anywhere in the body (not
//!   in nested items, which expand on their own) are rewritten, outermost
//!   first, each with the fn's options overlaid by its own. If no loop is
//!   marked, every outermost `for` loop of the body is (see
//!   [`crate::discover`]).
//! * On anything else: a spanned error. A `for` loop whose fn is not
//!   annotated lands here too (rustc runs the macro as error recovery after
//!   rejecting the attribute), and gets an error saying what to do.
//!
//! With errors, the output is the original fn without our attributes, next
//! to the errors: no cascade of follow-up errors, and IDEs keep working.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, ExprForLoop, ItemFn, Stmt};

use crate::args::Args;
use crate::ctxt::{Ctxt, help};
use crate::discover::mark_outermost;
use crate::expand::{LoopParts, Propagate, expand_loop};
use crate::lint::{Warning, line_of};
use crate::params::{Unsendable, check_input, unsendable_params};
use crate::scan::{Env, RetMode, scan};
use crate::syntax::{expr_attrs_mut, is_parallel_attr, take_parallel_attr};
use crate::translate::{Plan, translate};

/// Entry point of `#[parallel(..)]`.
///
/// Runs on a stack of its own, sized for the input: syn's parser and the
/// walks here recurse once per level of nesting, and rustc runs the macro
/// on a thread of 8 MiB, part of it in use, that 1000 nested parentheses
/// would overflow. `stacker` switches stacks on the same thread, which the
/// compiler's token handles need (they cannot cross threads). The stack is
/// always a fresh one: the room left on rustc's is unknown here (rustc
/// grows its own stack in segments that this crate's `stacker` does not
/// see).
pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let size = stack_size(&[&attr, &item]);
    stacker::grow(size, move || expand_here(attr, item))
}

/// Stack for everything but the nesting: the fn-level walks, `quote!`.
const BASE_STACK: usize = 4 << 20;
/// Stack per level of group nesting. Unoptimised (cargo's default for
/// proc macros), syn needs about 13 KiB to parse a level of `(..)` and
/// 30 KiB for a level of `{..}` (a block inside an expression).
const STACK_PER_LEVEL: usize = 32 << 10;
/// Stack per token: prefix operators (`- - - x`), operator chains and
/// method chains nest without groups, at up to about 4 KiB a token.
const STACK_PER_TOKEN: usize = 8 << 10;
/// The most reserved for one expansion. The memory is mapped, not
/// touched: only the pages the expansion uses cost anything.
const MAX_STACK: usize = 1 << 30;

/// An upper bound of the stack an expansion of `streams` needs, from their
/// token count and deepest nesting (walked with a heap stack, as the input
/// may be arbitrarily deep), at most [`MAX_STACK`].
fn stack_size(streams: &[&TokenStream]) -> usize {
    let (mut count, mut deepest) = (0usize, 0usize);
    for stream in streams {
        let mut open = vec![(*stream).clone().into_iter()];
        while let Some(trees) = open.last_mut() {
            match trees.next() {
                Some(TokenTree::Group(group)) => {
                    count += 1;
                    open.push(group.stream().into_iter());
                    deepest = deepest.max(open.len() - 1);
                }
                Some(_) => count += 1,
                None => {
                    open.pop();
                }
            }
        }
    }
    BASE_STACK
        .saturating_add(deepest.saturating_mul(STACK_PER_LEVEL))
        .saturating_add(count.saturating_mul(STACK_PER_TOKEN))
        .min(MAX_STACK)
}

/// The expansion proper, on a stack large enough for `item`.
fn expand_here(attr: TokenStream, item: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let args = Args::parse(attr, &cx);
    match syn::parse2::<ItemFn>(item.clone()) {
        Ok(f) => expand_fn(f, &args, cx),
        Err(_) => not_a_fn(item, cx),
    }
}

/// Rewrites the loops of `f`.
fn expand_fn(f: ItemFn, args: &Args, cx: Ctxt) -> TokenStream {
    let mut original = f.clone();
    Stripper.visit_block_mut(&mut original.block);

    if let Some(constness) = &f.sig.constness {
        cx.error(
            constness.span,
            help(
                "`#[parallel]` can't be used on a `const fn`: its loops run on threads at run time",
                "remove `const`, or remove `#[parallel]`",
            ),
        );
    }
    let mut f = f;
    let mut finder = Finder { cx: &cx, marked: 0 };
    finder.visit_block_mut(&mut f.block);
    let mut warnings = Vec::new();
    if finder.marked == 0 && mark_outermost(&mut f.block) == 0 {
        let name = &f.sig.ident;
        warnings.push(Warning {
            span: name.span(),
            name: "autopar_found_no_for_loop",
            note: help(
                format!(
                    "#[parallel] found no `for` loop to run in parallel in `fn {name}` (it takes the outermost `for` loops of the body, not those inside closures, async blocks or macro calls)"
                ),
                "remove the attribute, or mark a loop inside a closure with its own `#[parallel]`",
            ),
        });
    }

    let ret = ret_mode(&f.sig);
    let unsendable = unsendable_params(&f.sig, &f.block);
    let mut rewriter = Rewriter {
        cx: &cx,
        fn_args: args,
        ret,
        unsendable: &unsendable,
        closure_depth: 0,
        in_parallel: false,
    };
    rewriter.visit_block_mut(&mut f.block);

    match cx.check() {
        Ok(()) => {
            for warning in warnings.iter().rev() {
                if let Ok(stmt) = syn::parse2::<Stmt>(warning.to_tokens()) {
                    f.block.stmts.insert(0, stmt);
                }
            }
            f.into_token_stream()
        }
        Err(err) => {
            let errors = err.to_compile_error();
            quote!(#original #errors)
        }
    }
}

/// The attribute is not on a fn: say where it belongs.
fn not_a_fn(item: TokenStream, cx: Ctxt) -> TokenStream {
    let at = Span::call_site();
    if let Ok(mut expr) = syn::parse2::<Expr>(item.clone()) {
        let msg = match &expr {
            Expr::ForLoop(_) => help(
                "`#[parallel]` on a `for` loop needs `#[parallel]` on the enclosing fn too",
                "stable Rust runs attribute macros on items only: write `#[parallel] fn ..` and the fn's attribute rewrites the loops marked inside it",
            ),
            Expr::While(_) | Expr::Loop(_) => loop_kind_msg(&expr),
            _ => not_here_msg("an expression"),
        };
        cx.error(at, msg);
        Stripper.visit_expr_mut(&mut expr);
        let errors = cx.check().err().map(|e| e.to_compile_error());
        return quote!({ #errors #expr });
    }
    let what = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Verbatim(_)) | Err(_) => {
            match syn::parse2::<syn::TraitItemFn>(item.clone()) {
                Ok(_) => "a fn without a body",
                Err(_) => match syn::parse2::<Stmt>(item.clone()) {
                    Ok(Stmt::Local(_)) => "a `let` statement",
                    Ok(_) => "a statement",
                    Err(_) => "this",
                },
            }
        }
        Ok(other) => item_kind(&other),
    };
    cx.error(at, not_here_msg(what));
    let errors = cx.check().err().map(|e| e.to_compile_error());
    quote!(#errors #item)
}

fn not_here_msg(what: &str) -> String {
    help(
        format!("`#[parallel]` can't be used on {what}"),
        "put it on a fn with a body (free fn, method, generic or async fn) to run its `for` loops in parallel, or on a `for` loop inside such a fn",
    )
}

fn loop_kind_msg(expr: &Expr) -> String {
    let why = if matches!(expr, Expr::While(_)) {
        "a `while` loop's condition depends on the previous iteration"
    } else {
        "a `loop` runs until it breaks, so its iterations can't be handed out"
    };
    help(
        format!("`#[parallel]` works on `for` loops only: {why}"),
        "rewrite it as a `for` loop over an iterator or a range",
    )
}

fn item_kind(item: &syn::Item) -> &'static str {
    match item {
        syn::Item::Const(_) => "a const",
        syn::Item::Enum(_) => "an enum",
        syn::Item::ExternCrate(_) => "an `extern crate`",
        syn::Item::ForeignMod(_) => "an `extern` block",
        syn::Item::Impl(_) => "an impl block (put it on the methods)",
        syn::Item::Macro(_) => "a macro",
        syn::Item::Mod(_) => "a module",
        syn::Item::Static(_) => "a static",
        syn::Item::Struct(_) => "a struct",
        syn::Item::Trait(_) => "a trait",
        syn::Item::TraitAlias(_) => "a trait alias",
        syn::Item::Type(_) => "a type alias",
        syn::Item::Union(_) => "a union",
        syn::Item::Use(_) => "a `use`",
        _ => "this item",
    }
}

/// The fn's return mode, decided syntactically: the last path segment of
/// the declared type (`Option` or anything else), or none.
fn ret_mode(sig: &syn::Signature) -> RetMode {
    let syn::ReturnType::Type(_, ty) = &sig.output else {
        return RetMode::Unit;
    };
    let mut ty = &**ty;
    loop {
        ty = match ty {
            syn::Type::Paren(p) => &p.elem,
            syn::Type::Group(g) => &g.elem,
            _ => break,
        };
    }
    match ty {
        syn::Type::Tuple(t) if t.elems.is_empty() => RetMode::Unit,
        syn::Type::Never(_) => RetMode::Unit,
        syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option") => {
            RetMode::Option
        }
        _ => RetMode::Result,
    }
}

/// Finds the marked loops; reports and removes the attribute where it
/// cannot go (on `while`, `loop`, other expressions and statements).
struct Finder<'a> {
    cx: &'a Ctxt,
    marked: usize,
}

impl Finder<'_> {
    fn reject(&self, attrs: &mut Vec<syn::Attribute>, msg: impl Fn() -> String) {
        while let Some(attr) = take_parallel_attr(attrs) {
            self.cx.error_spanned_by(&attr, msg());
        }
    }
}

impl VisitMut for Finder<'_> {
    fn visit_item_mut(&mut self, _: &mut syn::Item) {
        // Nested items: an attribute there expands on its own.
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::ForLoop(f) => {
                let count = f.attrs.iter().filter(|a| is_parallel_attr(a)).count();
                if count > 0 {
                    self.marked += 1;
                }
                if count > 1 {
                    let mut first = true;
                    let cx = self.cx;
                    f.attrs.retain(|a| {
                        if !is_parallel_attr(a) {
                            return true;
                        }
                        if first {
                            first = false;
                            return true;
                        }
                        cx.error_spanned_by(
                            a,
                            help(
                                "duplicate `#[parallel]` on this loop",
                                "merge the options into one attribute: `#[parallel(io, workers = 8)]`",
                            ),
                        );
                        false
                    });
                }
            }
            Expr::While(_) | Expr::Loop(_) => {
                let msg = loop_kind_msg(expr);
                if let Some(attrs) = expr_attrs_mut(expr) {
                    self.reject(attrs, || msg.clone());
                }
            }
            _ => {
                let what = if matches!(expr, Expr::Closure(_)) {
                    "a closure"
                } else {
                    "an expression"
                };
                if let Some(attrs) = expr_attrs_mut(expr) {
                    self.reject(attrs, || not_here_msg(what));
                }
            }
        }
        visit_mut::visit_expr_mut(self, expr);
    }

    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        self.reject(&mut local.attrs, || not_here_msg("a `let` statement"));
        visit_mut::visit_local_mut(self, local);
    }

    fn visit_stmt_macro_mut(&mut self, mac: &mut syn::StmtMacro) {
        self.reject(&mut mac.attrs, || not_here_msg("a macro call"));
        visit_mut::visit_stmt_macro_mut(self, mac);
    }

    fn visit_arm_mut(&mut self, arm: &mut syn::Arm) {
        self.reject(&mut arm.attrs, || not_here_msg("a match arm"));
        visit_mut::visit_arm_mut(self, arm);
    }
}

/// Removes every `#[parallel]` (outside nested items): the fn emitted next
/// to errors must not trigger rustc's "custom attributes on expressions".
struct Stripper;

impl VisitMut for Stripper {
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Some(attrs) = expr_attrs_mut(expr) {
            attrs.retain(|a| !is_parallel_attr(a));
        }
        visit_mut::visit_expr_mut(self, expr);
    }

    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        local.attrs.retain(|a| !is_parallel_attr(a));
        visit_mut::visit_local_mut(self, local);
    }

    fn visit_stmt_macro_mut(&mut self, mac: &mut syn::StmtMacro) {
        mac.attrs.retain(|a| !is_parallel_attr(a));
        visit_mut::visit_stmt_macro_mut(self, mac);
    }

    fn visit_arm_mut(&mut self, arm: &mut syn::Arm) {
        arm.attrs.retain(|a| !is_parallel_attr(a));
        visit_mut::visit_arm_mut(self, arm);
    }
}

/// Rewrites marked loops, outermost first.
struct Rewriter<'a> {
    cx: &'a Ctxt,
    fn_args: &'a Args,
    ret: RetMode,
    /// Parameters that can't be a loop's input.
    unsendable: &'a [Unsendable],
    /// Depth of user closures / async blocks around the current point.
    closure_depth: usize,
    /// Inside another rewritten loop's body (its fold closure).
    in_parallel: bool,
}

impl VisitMut for Rewriter<'_> {
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::ForLoop(f) if f.attrs.iter().any(is_parallel_attr) => {
                let for_loop = f.clone();
                *expr = self.rewrite_loop(for_loop);
            }
            Expr::Closure(_) | Expr::Async(_) => {
                self.closure_depth += 1;
                visit_mut::visit_expr_mut(self, expr);
                self.closure_depth -= 1;
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }
}

impl Rewriter<'_> {
    fn rewrite_loop(&self, mut f: ExprForLoop) -> Expr {
        let cx = self.cx;
        let own = match take_parallel_attr(&mut f.attrs) {
            Some(attr) => match &attr.meta {
                syn::Meta::Path(_) => Args::default(),
                syn::Meta::List(list) => Args::parse(list.tokens.clone(), cx),
                syn::Meta::NameValue(nv) => {
                    cx.error_spanned_by(
                        nv,
                        help(
                            "`#[parallel = ..]` is not a form of the attribute",
                            "write `#[parallel]` or `#[parallel(io, workers = 8)]`",
                        ),
                    );
                    Args::default()
                }
            },
            None => Args::default(),
        };
        let args = self.fn_args.merged(&own);
        let env = Env {
            ret: self.ret,
            in_closure: self.closure_depth > 0,
        };
        let analysis = scan(&f, &args, env, cx);
        if analysis.index.is_none() {
            check_input(&f.expr, self.unsendable, cx);
        }
        if analysis.try_in_unit_fn {
            // Left sequential: rustc's own error for `?` in a fn returning
            // `()` says it best (with the fix).
            let mut expr = Expr::ForLoop(f);
            Stripper.visit_expr_mut(&mut expr);
            return expr;
        }

        let plan = Plan {
            sites: &analysis.sites,
            index: analysis.index.as_ref(),
            own_label: f.label.as_ref().map(|l| l.name.ident.to_string()),
            ret: self.ret,
            early_exit: analysis.breaks || !analysis.returns.is_empty(),
            returns: !analysis.returns.is_empty(),
        };
        if self.in_parallel {
            // The `return` after this loop would leave the enclosing loop's
            // closure, not the fn.
            for span in &analysis.returns {
                cx.error(
                    *span,
                    help(
                        "`return` can't leave a parallel loop that runs inside another parallel loop",
                        "`break` out of this loop, or move `return` to the outer loop's body after this loop (decided from a reduction, e.g. `found |= ..`)",
                    ),
                );
            }
        }
        let translated = translate(&mut f.body, &plan);
        if translated.missed_sites > 0 {
            cx.error(
                f.for_token.span,
                "autopar internal error: a reduction of this loop was lost between analysis and translation; please report it",
            );
        }

        // Loops marked inside this one, now part of its fold closure.
        let mut inner = Rewriter {
            cx,
            fn_args: self.fn_args,
            ret: self.ret,
            unsendable: self.unsendable,
            closure_depth: self.closure_depth,
            in_parallel: true,
        };
        inner.visit_block_mut(&mut f.body);

        let propagate = if self.in_parallel || self.ret != RetMode::Option {
            Propagate::Err
        } else {
            Propagate::None
        };
        let outer_line = line_of(f.for_token.span)
            .map(|l| format!("the parallel loop on line {l}"))
            .unwrap_or_else(|| "an enclosing parallel loop".to_string());
        let warnings = analysis
            .nested
            .iter()
            .map(|n| {
                let consequence = if n.is_loop {
                    "autopar runs it on the outer loop's threads without adding any, so it gains little"
                } else {
                    "starting more parallel work here oversubscribes the cores"
                };
                Warning {
                    span: n.span,
                    name: "nested_parallelism",
                    note: help(
                        format!(
                            "this {} runs inside {outer_line}, whose iterations already keep every worker busy; {consequence}",
                            n.what
                        ),
                        "keep one level of parallelism, or add `allow_nested` to the outer loop's `#[parallel(..)]` (or to this loop's) to silence this",
                    ),
                }
            })
            .collect();

        let parts = LoopParts {
            attrs: f.attrs,
            for_span: f.for_token.span,
            pat: *f.pat,
            input: *f.expr,
            body: f.body,
            continues: translated.continues,
            args,
            scan: analysis,
            propagate,
            warnings,
        };
        let tokens = expand_loop(&parts);
        syn::parse2(tokens.clone()).unwrap_or(Expr::Verbatim(tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::{Group, TokenTree};

    /// Sources covering every path of the macro.
    const SAMPLES: &[&str] = &[
        "fn f(v: &[u64]) -> u64 { let mut t = 0; for x in v { if *x == 0 { continue; } t += x; } t }",
        "fn f(v: &[&str]) -> Result<Vec<i64>, E> { let mut out = Vec::new(); let mut m = 0; \
         #[parallel(io, workers = 4)] 'a: for s in v { out.push(s.parse::<i64>()?); m = m.max(s.len()); \
         set.insert(*s); map.insert(s, 1); continue 'a; } Ok(out) }",
        "fn f(v: &[Option<u8>]) -> Option<u8> { let mut n = 0; for x in v { n += (*x)?; } Some(n) }",
        "fn f(src: &[f32], dst: &mut [f32]) { #[parallel(cpu)] for i in 0..dst.len() { dst[i] = src[i]; dst[i + 1] = 0.0; } }",
        "fn f(rows: &[Vec<u8>]) { #[parallel] for r in rows { #[parallel(allow_nested)] for x in r { t += x; break; return; } \
         r.par_iter(); rayon::join(|| 1, || 2); x = 1; s.f = 2; } #[parallel] while true {} #[parallel] let a = 1; }",
        "async fn f(&self) { for x in self.v.iter() { g(x).await; println!(\"{t} {}\", t); } }",
        "#[parallel] struct S;",
        "for x in v { t += x; }",
    ];

    /// Every variant of `tokens` with one token (at any depth) removed.
    fn deletions(tokens: &TokenStream) -> Vec<TokenStream> {
        let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
        let mut out = Vec::new();
        for i in 0..trees.len() {
            let mut without = trees.clone();
            without.remove(i);
            out.push(without.into_iter().collect());
            if let TokenTree::Group(g) = &trees[i] {
                for inner in deletions(&g.stream()) {
                    let mut with = trees.clone();
                    with[i] = TokenTree::Group(Group::new(g.delimiter(), inner));
                    out.push(with.into_iter().collect());
                }
            }
        }
        out
    }

    /// The macro returns tokens (possibly errors) for any input: it must
    /// never panic. Every one-token deletion of the samples, with several
    /// argument lists.
    #[test]
    fn never_panics_on_mangled_input() {
        let attrs: Vec<TokenStream> = [
            "",
            "io, workers = 0",
            "seq, chunk = 2, label = 3",
            "x y z",
            "=",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        for sample in SAMPLES {
            let tokens: TokenStream = sample.parse().unwrap();
            let mut variants = deletions(&tokens);
            variants.push(tokens);
            for variant in &variants {
                for attr in &attrs {
                    let _ = expand(attr.clone(), variant.clone());
                }
            }
        }
    }

    #[test]
    fn misuse_in_a_fn_gives_errors_and_the_stripped_fn() {
        let out = expand(
            TokenStream::new(),
            "fn f(v: &[u8]) { #[parallel] for x in v { g(x).await; } }"
                .parse()
                .unwrap(),
        )
        .to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("fn f"), "{out}");
        assert!(!out.contains("# [parallel]"), "{out}");
    }
}
