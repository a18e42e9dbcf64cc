//! Rewrites a loop body into the body of the engine's `fold` closure.
//!
//! The closure receives the partials of the reduction variables under the
//! variables' own names (`|(mut total, mut v), x| { .. }`), so most
//! reductions need no rewriting at all: `total += x` updates the worker's
//! partial. What changes:
//!
//! * `continue` (and `continue 'label` naming this loop) becomes a `break`
//!   out of the block the body is wrapped in: it ends the iteration.
//! * In a loop that exits early (`break` out of it, or `return`), that block
//!   has a value: `continue` becomes `break 'body None`, `break` becomes
//!   `break 'body Some(None)` and `return e` becomes `break 'body Some(Some(e))`.
//!   After the block the closure returns `Ok(ControlFlow::Continue(partials))`
//!   to go on, or `Ok(ControlFlow::Break((partials, exit)))` to stop: the
//!   runtime stops at the earliest such item, and the code after the loop
//!   returns `e` from the fn. The partials are named after the block, where a
//!   name the body bound again no longer hides them.
//! * `e?` becomes a `match` that returns `Err(..)` from the closure, which
//!   the engine treats as "stop handing out iterations"; in Result mode the
//!   error is converted with `From` right there, as `?` would.
//! * `x -= e` becomes `x += e` (the partial collects what to subtract), and
//!   so do `*map.entry(k).or_insert(v) -= e` and `a[i] -= e`; other entry
//!   and element reductions need no rewriting (the partial is a map or an
//!   array of the task's own, under the variable's name).
//!
//! Reduction statements are the ones the scan found (by node, see
//! `Scan::sites`), not every statement of that shape: a name the body binds
//! again is another variable.
//! * `x = x.max(e)` becomes an update of an `Option` partial.
//! * `set.insert(e)` / `map.insert(k, v)` become pushes onto a `Vec` partial
//!   that is replayed, in order, after the loop.
//! * `out[i]` (indexed writes) becomes `(*slot)`, the worker's `&mut` to
//!   this iteration's element.
//!
//! Every generated wrapper is spanned at the user's token it replaces, so
//! type errors point at the user's code.

use std::collections::BTreeMap;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Ident, Stmt};

use crate::reduction::{Kind, Place};
use crate::scan::{IndexTarget, Reduction, RetMode, node_addr};
use crate::syntax::{
    LoopScope, bare_ident, gen_span, is_parallel_attr, local_ident, local_span, macro_args,
};

/// The name of the closure parameter holding `&mut out[i]` (mixed-site
/// hygiene: user code cannot name it).
pub const SLOT: &str = "__autopar_slot";

/// The label of the block the body becomes: `continue` breaks out of it
/// (mixed-site hygiene: user code cannot name it).
pub const BODY_LABEL: &str = "'__autopar_body";

/// What the translation needs to know about the loop.
pub struct Plan<'a> {
    /// The reduction statements to rewrite (see `Scan::sites`).
    pub sites: &'a BTreeMap<usize, (Kind, Place)>,
    /// The indexed-write target, if any.
    pub index: Option<&'a IndexTarget>,
    /// The loop's label, without the quote.
    pub own_label: Option<String>,
    /// How `?` returns.
    pub ret: RetMode,
    /// The loop exits early (`break`, `return`): the closure returns a
    /// `ControlFlow`.
    pub early_exit: bool,
    /// The loop has a `return`: the exit value is `Option<fn's return type>`
    /// (else `Option<()>`, always `None`).
    pub returns: bool,
}

/// What the fold closure returns to go on to the next item: `Ok(partials)`,
/// or `Ok(ControlFlow::Continue(partials))` in a loop that exits early.
pub fn go_on(plan_early_exit: bool, partials: TokenStream, span: Span) -> TokenStream {
    if plan_early_exit {
        quote_spanned!(span=> ::core::result::Result::Ok(::core::ops::ControlFlow::Continue(#partials)))
    } else {
        quote_spanned!(span=> ::core::result::Result::Ok(#partials))
    }
}

/// What the fold closure returns to stop the loop at this item with `exit`
/// (an `Option` of the fn's return value).
pub fn stop_with(partials: TokenStream, exit: TokenStream, span: Span) -> TokenStream {
    quote_spanned!(span=> ::core::result::Result::Ok(::core::ops::ControlFlow::Break((#partials, #exit))))
}

/// What [`translate`] did that the code around the body must follow.
pub struct Translated {
    /// A `continue` became `break` out of the block labelled
    /// [`BODY_LABEL`], which the body must then be.
    pub continues: bool,
    /// Reduction statements of the plan that were not found: an internal
    /// error (the tree moved between analysis and translation).
    pub missed_sites: usize,
}

/// Rewrites `body` in place for the fold closure.
pub fn translate(body: &mut Block, plan: &Plan<'_>) -> Translated {
    let mut t = Translator {
        plan,
        closure_depth: 0,
        scope: LoopScope::default(),
        in_macro: false,
        changed: false,
        continues: false,
        rewritten: 0,
    };
    t.visit_block_mut(body);
    Translated {
        continues: t.continues,
        missed_sites: plan.sites.len() - t.rewritten.min(plan.sites.len()),
    }
}

/// The tuple of partials, `(total, v,)`, that the closure returns.
pub fn partials_tuple(reductions: &[Reduction], span: Span) -> TokenStream {
    let names = reductions.iter().map(|r| &r.ident);
    quote_spanned!(gen_span(span)=> (#(#names,)*))
}

struct Translator<'a> {
    plan: &'a Plan<'a>,
    closure_depth: usize,
    scope: LoopScope,
    in_macro: bool,
    /// Something was rewritten (inside a macro call: re-emit its tokens).
    changed: bool,
    /// A `continue` was rewritten.
    continues: bool,
    /// Reduction statements reached.
    rewritten: usize,
}

impl Translator<'_> {
    fn own_flow(&self) -> bool {
        self.closure_depth == 0 && self.scope.parallel_depth == 0
    }

    /// The reduction of `expr` if it is one of this loop's reduction
    /// statements.
    fn reduction_kind(&mut self, expr: &Expr) -> Option<(Kind, Place)> {
        let site = self.plan.sites.get(&node_addr(expr)).copied();
        self.rewritten += usize::from(site.is_some());
        site
    }

    /// Rewrites one reduction statement (its operands first).
    fn rewrite_reduction(&mut self, expr: &mut Expr, (kind, place): (Kind, Place)) {
        match (kind, &mut *expr) {
            (_, Expr::Paren(p)) => self.rewrite_reduction(&mut p.expr, (kind, place)),
            (Kind::Sub, Expr::Binary(b)) => {
                let span = b.op.span();
                b.op = syn::BinOp::AddAssign(syn::Token![+=](span));
                if place != Place::Whole {
                    self.visit_expr_mut(&mut b.left);
                }
                self.visit_expr_mut(&mut b.right);
            }
            (_, Expr::Binary(b)) if place != Place::Whole => {
                // The key, first value or index may hold `?` or `continue`.
                self.visit_expr_mut(&mut b.left);
                self.visit_expr_mut(&mut b.right);
            }
            (Kind::Max { x_first } | Kind::Min { x_first }, Expr::Assign(a)) => {
                let Expr::MethodCall(call) = strip_mut(&mut a.right) else {
                    return;
                };
                let operand = if x_first {
                    call.args.first_mut()
                } else {
                    Some(&mut *call.receiver)
                };
                let Some(operand) = operand else {
                    return;
                };
                self.visit_expr_mut(operand);
                let operand = operand.clone();
                let method = call.method.clone();
                let Some(x) = bare_ident(&a.left).cloned() else {
                    return;
                };
                let span = gen_span(a.span());
                let m = local_ident("__autopar_m", span);
                let v = local_ident("__autopar_v", span);
                let combined = if x_first {
                    quote_spanned!(span=> #m.#method(#v))
                } else {
                    quote_spanned!(span=> #v.#method(#m))
                };
                let tokens = quote_spanned! {span=>
                    {
                        let #v = #operand;
                        #x = ::core::option::Option::Some(match #x {
                            ::core::option::Option::Some(#m) => #combined,
                            ::core::option::Option::None => #v,
                        });
                    }
                };
                replace(expr, tokens);
                self.changed = true;
            }
            (Kind::InsertSet | Kind::InsertMap, Expr::MethodCall(call)) => {
                for arg in call.args.iter_mut() {
                    self.visit_expr_mut(arg);
                }
                call.method = Ident::new("push", call.method.span());
                if kind == Kind::InsertMap {
                    let args: Vec<&Expr> = call.args.iter().collect();
                    let span = gen_span(call.args.span());
                    let tokens = quote_spanned!(span=> (#(#args),*));
                    let tuple = syn::parse2(tokens.clone()).unwrap_or(Expr::Verbatim(tokens));
                    call.args = std::iter::once(tuple).collect();
                }
                self.changed = true;
            }
            (_, Expr::Binary(b)) => self.visit_expr_mut(&mut b.right),
            (_, Expr::MethodCall(call)) => {
                for arg in call.args.iter_mut() {
                    self.visit_expr_mut(arg);
                }
            }
            (_, other) => visit_mut::visit_expr_mut(self, other),
        }
    }

    /// `continue` ending this iteration.
    fn is_own_continue(&self, c: &syn::ExprContinue) -> bool {
        if !self.own_flow() {
            return false;
        }
        match &c.label {
            None => self.scope.depth == 0,
            Some(l) => {
                let name = l.ident.to_string();
                !self.scope.labels.contains(&name) && Some(&name) == self.plan.own_label.as_ref()
            }
        }
    }

    /// `break` stopping this loop (plain, or labelled with this loop's label).
    fn is_own_break(&self, b: &syn::ExprBreak) -> bool {
        if !self.own_flow() {
            return false;
        }
        match &b.label {
            None => self.scope.depth == 0,
            Some(l) => {
                let name = l.ident.to_string();
                !self.scope.labels.contains(&name) && Some(&name) == self.plan.own_label.as_ref()
            }
        }
    }

    fn enter_loop(
        &mut self,
        label: Option<&syn::Label>,
        parallel: bool,
        f: impl FnOnce(&mut Self),
    ) {
        let entered = self.scope.enter(label, parallel);
        f(self);
        self.scope.exit(entered);
    }

    fn is_slot_index(&self, ix: &syn::ExprIndex) -> bool {
        let Some(target) = self.plan.index else {
            return false;
        };
        bare_ident(&ix.expr) == Some(&target.array) && bare_ident(&ix.index) == Some(&target.var)
    }
}

impl VisitMut for Translator<'_> {
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Stmt::Expr(expr, Some(_)) = stmt
            && let Some(kind) = self.reduction_kind(expr)
        {
            self.rewrite_reduction(expr, kind);
            return;
        }
        visit_mut::visit_stmt_mut(self, stmt);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Some(kind) = self.reduction_kind(expr) {
            self.rewrite_reduction(expr, kind);
            return;
        }
        match expr {
            Expr::Continue(c) if self.is_own_continue(c) => {
                // A `break` out of the body's block, not a `return` of the
                // partials here: the body may have bound their names again.
                // (A value after a label is parenthesised: `'label ::path`
                // would read as a labelled expression to some parsers.)
                let span = gen_span(c.continue_token.span);
                let label = syn::Lifetime::new(BODY_LABEL, local_span(c.continue_token.span));
                if self.plan.early_exit {
                    replace(
                        expr,
                        quote_spanned!(span=> break #label (::core::option::Option::None)),
                    );
                } else {
                    replace(expr, quote_spanned!(span=> break #label));
                }
                self.continues = true;
                self.changed = true;
            }
            Expr::Break(b) if self.plan.early_exit && self.is_own_break(b) => {
                let span = gen_span(b.break_token.span);
                let label = syn::Lifetime::new(BODY_LABEL, local_span(b.break_token.span));
                let exit = if self.plan.returns {
                    quote_spanned!(span=> ::core::option::Option::None)
                } else {
                    quote_spanned!(span=> ::core::option::Option::None::<()>)
                };
                replace(
                    expr,
                    quote_spanned!(span=> break #label (::core::option::Option::Some(#exit))),
                );
                self.continues = true;
                self.changed = true;
            }
            Expr::Return(r) if self.plan.early_exit && self.own_flow() => {
                if let Some(value) = &mut r.expr {
                    self.visit_expr_mut(value);
                }
                let span = gen_span(r.return_token.span);
                let label = syn::Lifetime::new(BODY_LABEL, local_span(r.return_token.span));
                let value = match &r.expr {
                    Some(value) => value.to_token_stream(),
                    None => quote_spanned!(span=> ()),
                };
                replace(
                    expr,
                    quote_spanned!(span=> break #label (::core::option::Option::Some(
                        ::core::option::Option::Some(#value)
                    ))),
                );
                self.continues = true;
                self.changed = true;
            }
            Expr::Try(t) if self.own_flow() => {
                self.visit_expr_mut(&mut t.expr);
                let span = gen_span(t.question_token.span);
                // `(*x)?` needs its parentheses; `match (*x)` would warn.
                let inner = match &*t.expr {
                    Expr::Paren(p) => &p.expr,
                    other => other,
                };
                let ok = local_ident("__autopar_ok", span);
                let err = local_ident("__autopar_err", span);
                let tokens = match self.plan.ret {
                    RetMode::Option => quote_spanned! {span=>
                        match #inner {
                            ::core::option::Option::Some(#ok) => #ok,
                            ::core::option::Option::None => {
                                return ::core::result::Result::Err(
                                    ::autopar::__private::reduce::NoneResidual,
                                );
                            }
                        }
                    },
                    // `Unit` was reported by the scan; translate as Result so
                    // the output stays well-formed.
                    RetMode::Result | RetMode::Unit => quote_spanned! {span=>
                        match #inner {
                            ::core::result::Result::Ok(#ok) => #ok,
                            ::core::result::Result::Err(#err) => {
                                return ::core::result::Result::Err(
                                    ::core::convert::From::from(#err),
                                );
                            }
                        }
                    },
                };
                replace(expr, tokens);
                self.changed = true;
            }
            Expr::Index(ix) if self.is_slot_index(ix) => {
                let span = gen_span(ix.span());
                let slot = local_ident(SLOT, ix.span());
                replace(expr, quote_spanned!(span=> (*#slot)));
                self.changed = true;
            }
            Expr::Closure(_) | Expr::Async(_) => {
                self.closure_depth += 1;
                visit_mut::visit_expr_mut(self, expr);
                self.closure_depth -= 1;
            }
            Expr::Const(_) => {}
            Expr::ForLoop(f) => {
                self.visit_expr_mut(&mut f.expr);
                let parallel = f.attrs.iter().any(is_parallel_attr);
                self.enter_loop(f.label.as_ref(), parallel, |t| {
                    t.visit_block_mut(&mut f.body);
                });
            }
            Expr::While(w) => {
                self.enter_loop(w.label.as_ref(), false, |t| {
                    t.visit_expr_mut(&mut w.cond);
                    t.visit_block_mut(&mut w.body);
                });
            }
            Expr::Loop(l) => {
                self.enter_loop(l.label.as_ref(), false, |t| t.visit_block_mut(&mut l.body));
            }
            Expr::Block(b) if b.label.is_some() => {
                let label = b.label.as_ref().map(|l| l.name.ident.to_string());
                self.scope.labels.extend(label);
                visit_mut::visit_expr_mut(self, expr);
                self.scope.labels.pop();
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        let Some(mut args) = macro_args(mac) else {
            return;
        };
        let (was_in, was_changed) = (self.in_macro, self.changed);
        self.in_macro = true;
        self.changed = false;
        for arg in args.iter_mut() {
            self.visit_expr_mut(arg);
        }
        if self.changed {
            mac.tokens = args.into_token_stream();
        }
        self.in_macro = was_in;
        self.changed |= was_changed;
    }
}

/// `expr` without parentheses or invisible groups, mutably.
fn strip_mut(expr: &mut Expr) -> &mut Expr {
    match expr {
        Expr::Paren(p) => strip_mut(&mut p.expr),
        Expr::Group(g) => strip_mut(&mut g.expr),
        _ => expr,
    }
}

/// Replaces `expr` with generated tokens (which always parse: they wrap
/// expressions that did; `Verbatim` is the never-taken fallback).
fn replace(expr: &mut Expr, tokens: TokenStream) {
    *expr = syn::parse2(tokens.clone()).unwrap_or(Expr::Verbatim(tokens));
}
