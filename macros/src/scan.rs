//! Analysis of one loop body: what it does, and whether it can run in
//! parallel.
//!
//! [`scan`] walks the body once and records control flow (`break`,
//! `continue`, `return`, `.await`, `?`), writes to variables declared outside
//! the loop (reductions, indexed writes, plain assignments), other uses of
//! those variables, and nested parallelism. It then decides, reporting every
//! misuse to the [`Ctxt`] at the offending token, and returns a [`Scan`]
//! that [`crate::translate`] and [`crate::expand`] follow.
//!
//! "Declared outside the loop" is decided syntactically: the macro cannot
//! see types or name resolution, so any plain identifier that is neither
//! bound by the loop pattern nor by a pattern inside the body (`let`,
//! `match` arms, closure parameters, inner loops) counts as outer.
//!
//! Nested closures, async blocks, const blocks and items are not the loop's
//! own control flow: `return`/`?`/`.await` inside them are skipped, and so
//! are `break`/`continue` of inner loops.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{BinOp, Expr, ExprForLoop, Ident, Pat, Stmt};

use crate::args::Args;
use crate::ctxt::{Ctxt, help};
use crate::lint::line_of;
use crate::mutation::{MutCall, is_mutating};
use crate::reduction::{Kind, Place, reduction_form, strip};
use crate::scope::Scopes;
use crate::syntax::{LoopScope, bare_ident, inline_format_args, is_parallel_attr, macro_args};

/// What the enclosing fn returns, which decides how `?` is translated.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RetMode {
    /// No return type: `?` cannot be used.
    Unit,
    /// Anything but `Option`: `?` fails fast with the error converted by
    /// `From`, as in sequential code.
    Result,
    /// The return type's last path segment is `Option`: `?` on `None` makes
    /// the fn return `None`.
    Option,
}

/// One reduction variable of the loop.
#[derive(Clone, Debug)]
pub struct Reduction {
    /// The variable, as first written in the body (the user's token, so
    /// bindings made with it resolve like the user's own code).
    pub ident: Ident,
    /// How it is reduced.
    pub kind: Kind,
    /// Which part of it.
    pub place: Place,
}

/// `for i in a..b { out[i] = .. }`: `out` is split between workers.
#[derive(Clone, Debug)]
pub struct IndexTarget {
    /// The array written by index.
    pub array: Ident,
    /// The loop variable.
    pub var: Ident,
}

/// A parallel construct inside the loop body, for the nesting lint.
#[derive(Clone, Debug)]
pub struct Nested {
    /// Where to point the warning.
    pub span: Span,
    /// What it is, as a noun phrase ("`#[parallel]` loop").
    pub what: String,
    /// It is a marked loop (which the runtime runs without adding threads),
    /// not a call that starts threads of its own.
    pub is_loop: bool,
}

/// What the loop needs from the code generator.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// The body (or a nested parallel loop's body) uses `?`: the loop can
    /// fail and the fn must return early.
    pub fallible: bool,
    /// Reductions, in order of first appearance.
    pub reductions: Vec<Reduction>,
    /// The array written by index, if any.
    pub index: Option<IndexTarget>,
    /// Nested parallelism to warn about (already filtered by `allow_nested`).
    pub nested: Vec<Nested>,
    /// `?` in a fn that returns `()`: the loop is left sequential, so that
    /// rustc reports the misuse with its own message (and its fix).
    pub try_in_unit_fn: bool,
    /// The reduction statements to translate, by the address of their
    /// expression node. The translation walks the same, unmoved tree, so
    /// the address names the statement; a name would not (the body may
    /// bind the same name again, and then it is another variable).
    pub sites: BTreeMap<usize, (Kind, Place)>,
    /// The body `break`s out of this loop: an early exit.
    pub breaks: bool,
    /// Where the body `return`s from the fn: an early exit that returns.
    pub returns: Vec<Span>,
}

/// Where the loop sits.
#[derive(Clone, Copy, Debug)]
pub struct Env {
    /// The fn's return mode.
    pub ret: RetMode,
    /// The loop is inside a closure or async block of the fn, whose return
    /// type the macro cannot see: `?` is not supported there.
    pub in_closure: bool,
}

/// How a variable declared outside the loop is used at one place.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum UseKind {
    /// Any use that is not one of the below.
    Plain,
    /// `x[i]` with `i` the loop variable.
    IndexByVar,
    /// `x[<anything else>]`.
    IndexOther,
    /// `x.len()`: an element reduction's partial has the same length, so
    /// this use reads the same there.
    Len,
}

/// An assignment whose target is rooted at an outer variable and which is
/// not a reduction.
#[derive(Clone, Debug)]
struct Write {
    /// The variable at the root of the target.
    root: Ident,
    span: Span,
    /// The write is inside a closure of the body.
    in_closure: bool,
    /// `x[..] = e`, `x[..].f += e`, `&mut x[..]`: a candidate indexed write.
    indexed: bool,
    /// The target as written, for messages.
    text: String,
    /// `x = e` exactly (not a field or element).
    plain: bool,
}

/// One recognised reduction statement.
#[derive(Clone, Debug)]
struct RedSite {
    ident: Ident,
    kind: Kind,
    place: Place,
    span: Span,
    in_inner_parallel: bool,
    /// The statement's node, see [`Scan::sites`].
    addr: usize,
}

/// The address of an expression node, which identifies it while the tree
/// is not changed (see [`Scan::sites`]).
pub fn node_addr(expr: &Expr) -> usize {
    std::ptr::from_ref(expr) as usize
}

/// The body walker: records, never decides (except control flow, which is
/// reported on the spot).
struct Walker<'a> {
    cx: &'a Ctxt,
    env: Env,
    /// Names bound by the loop pattern and the body where the walk is.
    scopes: Scopes,
    /// Names bound anywhere inside the body.
    body_names: BTreeSet<String>,
    /// The loop is `for i in a..b`: `x[i]` is its own element, not a
    /// reduction of `x`.
    range_loop: bool,
    /// The loop variable when the pattern is a plain identifier.
    loop_var: Option<String>,
    /// The loop's own label (`'rows`), without the quote.
    own_label: Option<String>,
    // Context.
    closure_depth: usize,
    scope: LoopScope,
    in_macro: bool,
    // Records.
    fallible: bool,
    try_in_unit_fn: bool,
    breaks: bool,
    returns: Vec<Span>,
    reductions: Vec<RedSite>,
    uses: Vec<(String, Span, UseKind)>,
    writes: BTreeMap<String, Vec<Write>>,
    nested: Vec<(Span, String, bool)>,
    /// Method calls on outer variables that change them, with the call's
    /// tokens (the error spans all of them).
    mut_calls: Vec<(MutCall, TokenStream)>,
    /// The method-call statement being walked, whose value is dropped.
    dropped_call: usize,
}

/// Analyses `for_loop` (whose `#[parallel]` attribute has been removed),
/// reporting misuse to `cx`. `args` are the loop's merged options.
pub fn scan(for_loop: &ExprForLoop, args: &Args, env: Env, cx: &Ctxt) -> Scan {
    let mut body_names = BTreeSet::new();
    let mut binder = Binder {
        names: &mut body_names,
    };
    binder.visit_block(&for_loop.body);
    let loop_var = match &*for_loop.pat {
        Pat::Ident(p) => Some(p.ident.to_string()),
        _ => None,
    };
    let range_loop = loop_var.is_some() && is_half_open_range(&for_loop.expr);
    let mut w = Walker {
        cx,
        env,
        scopes: Scopes::new(&for_loop.pat),
        body_names,
        range_loop,
        loop_var,
        own_label: for_loop.label.as_ref().map(|l| l.name.ident.to_string()),
        closure_depth: 0,
        scope: LoopScope::default(),
        in_macro: false,
        fallible: false,
        try_in_unit_fn: false,
        breaks: false,
        returns: Vec::new(),
        reductions: Vec::new(),
        uses: Vec::new(),
        writes: BTreeMap::new(),
        nested: Vec::new(),
        mut_calls: Vec::new(),
        dropped_call: 0,
    };
    w.visit_block(&for_loop.body);
    w.decide(for_loop, args)
}

/// `a..b`, the loop input whose indices are the loop's own.
fn is_half_open_range(expr: &Expr) -> bool {
    matches!(
        strip(expr),
        Expr::Range(r) if r.start.is_some() && r.end.is_some()
            && matches!(r.limits, syn::RangeLimits::HalfOpen(_))
    )
}

/// Collects the names bound anywhere inside a body (skipping nested items,
/// whose bindings are not in scope here).
struct Binder<'n> {
    names: &'n mut BTreeSet<String>,
}

impl<'ast> Visit<'ast> for Binder<'_> {
    fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
        self.names.insert(p.ident.to_string());
        visit::visit_pat_ident(self, p);
    }
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

impl Walker<'_> {
    /// Whether `name` refers to a variable declared outside the loop.
    fn is_outer(&self, name: &str) -> bool {
        !self.scopes.is_bound(name)
    }

    /// The loop's own control flow is being looked at (not a closure's, not
    /// a nested parallel loop's, which reports its own).
    fn own_flow(&self) -> bool {
        self.closure_depth == 0 && self.scope.parallel_depth == 0
    }

    fn record_use(&mut self, ident: &Ident, kind: UseKind, span: Span) {
        let name = ident.to_string();
        if self.is_outer(&name) {
            self.uses.push((name, span, kind));
        }
    }

    /// Tries to read `expr` as a reduction statement on an outer variable;
    /// records it and visits its operands if so.
    fn try_reduction(&mut self, expr: &Expr, is_stmt: bool) -> bool {
        if self.closure_depth > 0 || self.in_macro {
            return false;
        }
        let Some(form) = reduction_form(expr, is_stmt) else {
            return false;
        };
        let ident = form.ident;
        if !self.is_outer(&ident.to_string()) || ident == "self" {
            return false;
        }
        if form.place == Place::Element
            && self.range_loop
            && form
                .operands
                .first()
                .and_then(|index| bare_ident(index))
                .zip(self.loop_var.as_ref())
                .is_some_and(|(i, v)| i == v)
        {
            // `out[i] += e` in `for i in a..b`: this iteration's own element,
            // written in place (an indexed write), not a reduction.
            return false;
        }
        self.reductions.push(RedSite {
            ident: ident.clone(),
            kind: form.kind,
            place: form.place,
            span: expr.span(),
            in_inner_parallel: self.scope.parallel_depth > 0,
            addr: node_addr(expr),
        });
        for operand in form.operands {
            self.visit_expr(operand);
        }
        true
    }

    /// Records an assignment-like write to `place`.
    fn record_write(&mut self, place: &Expr, span: Span) {
        let Some((root, indexed)) = place_root(place) else {
            return;
        };
        let name = root.to_string();
        if !self.is_outer(&name) {
            return;
        }
        self.writes.entry(name).or_default().push(Write {
            root: root.clone(),
            span,
            in_closure: self.closure_depth > 0,
            indexed,
            text: tokens_text(place),
            plain: bare_ident(place).is_some(),
        });
    }

    fn error_flow(&self, span: Span, msg: String) {
        self.cx.error(span, msg);
    }

    /// Token-level scan of a macro call we could not parse: every identifier
    /// (and inline format argument) counts as a plain use.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        for tt in tokens {
            match tt {
                TokenTree::Ident(ident) => self.record_use(&ident, UseKind::Plain, ident.span()),
                TokenTree::Group(g) => self.scan_tokens(g.stream()),
                TokenTree::Literal(lit) => self.scan_literal(&lit),
                TokenTree::Punct(_) => {}
            }
        }
    }

    fn scan_literal(&mut self, lit: &proc_macro2::Literal) {
        let text = lit.to_string();
        if text.starts_with('"') || text.starts_with('r') {
            for name in inline_format_args(&text) {
                if let Some(ident) = make_ident(&name, lit.span()) {
                    self.record_use(&ident, UseKind::Plain, lit.span());
                }
            }
        }
    }

    /// Turns the records into a [`Scan`], reporting what cannot run in
    /// parallel.
    fn decide(self, for_loop: &ExprForLoop, args: &Args) -> Scan {
        let cx = self.cx;
        let mut scan = Scan {
            fallible: self.fallible,
            try_in_unit_fn: self.try_in_unit_fn,
            breaks: self.breaks,
            returns: self.returns.clone(),
            ..Scan::default()
        };

        // Reductions: one kind per variable, no other use.
        let mut red_names: Vec<String> = Vec::new();
        let mut kinds: BTreeMap<String, (Kind, Place, Span)> = BTreeMap::new();
        let mut rejected: BTreeSet<String> = BTreeSet::new();
        for site in &self.reductions {
            let name = site.ident.to_string();
            if site.place == Place::Entry && site.in_inner_parallel {
                cx.error(
                    site.span,
                    help(
                        format!(
                            "`{name}` is reduced by entry inside a nested parallel loop, which autopar does not support"
                        ),
                        format!(
                            "count into a map declared inside the outer loop and merge it into `{name}` with `*{name}.entry(k).or_insert(0) += n` in the outer loop, or drop the inner loop's `#[parallel]`"
                        ),
                    ),
                );
                rejected.insert(name.clone());
                continue;
            }
            if let Some(op) = site.kind.max_min().filter(|_| site.in_inner_parallel) {
                cx.error(
                    site.span,
                    help(
                        format!(
                            "`{name}` is reduced with `{op}` inside a nested parallel loop, which autopar does not support"
                        ),
                        format!(
                            "compute the inner loop's {op} in a variable declared inside the outer loop, then fold it into `{name}` in the outer loop"
                        ),
                    ),
                );
                rejected.insert(name.clone());
                continue;
            }
            match kinds.get(&name) {
                None => {
                    kinds.insert(name.clone(), (site.kind, site.place, site.span));
                    red_names.push(name.clone());
                    scan.reductions.push(Reduction {
                        ident: site.ident.clone(),
                        kind: site.kind,
                        place: site.place,
                    });
                }
                Some(&(kind, place, _)) if (kind, place) == (site.kind, site.place) => {}
                Some(&(kind, place, _)) => {
                    cx.error(
                        site.span,
                        help(
                            format!(
                                "`{name}` is reduced in two ways in this parallel loop (`{}` and `{}`)",
                                kind.describe(&name, place),
                                site.kind.describe(&name, site.place)
                            ),
                            "each reduction variable takes one kind of update; use a separate variable for each and combine them after the loop",
                        ),
                    );
                    rejected.insert(name.clone());
                }
            }
        }
        for name in &red_names {
            let elementwise = kinds.get(name).is_some_and(|k| k.1 == Place::Element);
            let other = self
                .uses
                .iter()
                .find(|(n, _, kind)| n == name && !(elementwise && *kind == UseKind::Len));
            let write = self.writes.get(name).and_then(|w| w.first());
            let span = match (other, write) {
                (Some((_, s, _)), _) => Some(*s),
                (None, Some(w)) => Some(w.span),
                (None, None) => None,
            };
            if let Some(span) = span {
                let Some(&(kind, place, red_span)) = kinds.get(name) else {
                    continue;
                };
                let where_ = line_of(red_span)
                    .map(|l| format!(" on line {l}"))
                    .unwrap_or_default();
                cx.error(
                    span,
                    help(
                        format!(
                            "`{name}` is a reduction (`{}`{where_}), so the parallel loop can't also use it here",
                            kind.describe(name, place)
                        ),
                        format!(
                            "each worker updates its own partial `{name}`, and the partials are combined only after the loop: use `{name}` there, or keep a separate variable for this"
                        ),
                    ),
                );
                rejected.insert(name.clone());
            }
        }
        scan.reductions
            .retain(|r| !rejected.contains(&r.ident.to_string()));
        scan.sites = self
            .reductions
            .iter()
            .filter(|site| {
                let name = site.ident.to_string();
                red_names.contains(&name) && !rejected.contains(&name)
            })
            .map(|site| (site.addr, (site.kind, site.place)))
            .collect();

        // Other changes of outer variables by method call. A reduction
        // variable's were reported above, as a use.
        for (call, tokens) in &self.mut_calls {
            if !red_names.contains(&call.name) {
                cx.error_spanned_by(tokens, call.message());
            }
        }

        // Writes that are not reductions: indexed writes or errors.
        let mut index_name: Option<(Ident, Span)> = None;
        for (name, writes) in &self.writes {
            if red_names.contains(name) {
                continue;
            }
            for write in writes {
                if !write.indexed {
                    let reason = if write.in_closure {
                        help(
                            format!(
                                "can't update `{}` inside a closure in a parallel loop: every iteration shares `{name}`",
                                write.text
                            ),
                            "move the update out of the closure into the loop body, where `+=`, `.max`, `.push` and `.insert` on outer variables become reductions",
                        )
                    } else if write.plain {
                        help(
                            format!(
                                "can't assign to `{name}` in a parallel loop: iterations run in no fixed order, so the last write would be arbitrary"
                            ),
                            format!(
                                "declare `{name}` inside the loop, or make it a reduction: `{name} += e`, `{name} = {name}.max(e)`, `v.push(e)`"
                            ),
                        )
                    } else {
                        help(
                            format!(
                                "can't assign to `{}` in a parallel loop: every iteration shares `{name}`",
                                write.text
                            ),
                            "reduce into a local variable declared before the loop (`let mut sum = 0; .. sum += e;`) and store it after the loop",
                        )
                    };
                    cx.error(write.span, reason);
                    continue;
                }
                match &index_name {
                    None => index_name = Some((write.root.clone(), write.span)),
                    Some((first, _)) if *first == name.as_str() => {}
                    Some((first, _)) => {
                        cx.error(
                            write.span,
                            help(
                                format!(
                                    "a parallel loop can write by index into one array; this loop already writes `{first}`"
                                ),
                                format!(
                                    "zip the arrays into one slice of pairs, or write `{name}` in a second loop"
                                ),
                            ),
                        );
                    }
                }
            }
        }
        if let Some((array, first_write)) = index_name {
            scan.index = self.check_index(for_loop, &array, first_write);
        }

        // Nested parallelism.
        if !args.allow_nested {
            scan.nested = self
                .nested
                .iter()
                .filter(|(_, _, allowed)| !allowed)
                .map(|(span, what, _)| Nested {
                    span: *span,
                    what: what.clone(),
                    is_loop: what.ends_with("loop"),
                })
                .collect();
        }
        scan
    }

    /// Checks that `name` is written only as `name[i]` with `i` the loop
    /// variable of a `for i in a..b` loop.
    fn check_index(
        &self,
        for_loop: &ExprForLoop,
        array: &Ident,
        first: Span,
    ) -> Option<IndexTarget> {
        let cx = self.cx;
        let name = array.to_string();
        let var = match &*for_loop.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.mutability.is_none() && p.subpat.is_none() => {
                Some(p.ident.clone())
            }
            _ => None,
        };
        let is_range = matches!(
            strip(&for_loop.expr),
            Expr::Range(r) if r.start.is_some() && r.end.is_some()
                && matches!(r.limits, syn::RangeLimits::HalfOpen(_))
        );
        let Some(var) = var.filter(|_| is_range) else {
            cx.error(
                first,
                help(
                    format!(
                        "this writes into `{name}`, which every iteration shares; autopar can only prove such writes disjoint in `for i in a..b {{ {name}[i] = .. }}`"
                    ),
                    format!(
                        "loop over a half-open index range with a plain `i` and write `{name}[i]`, or collect the results with `v.push(..)`"
                    ),
                ),
            );
            return None;
        };
        if self.body_names.contains(&var.to_string()) {
            cx.error(
                first,
                help(
                    format!(
                        "`{var}` is bound again inside the loop, so `{name}[{var}]` may not be this iteration's element"
                    ),
                    format!("rename the inner binding; writes must use the loop's own `{var}`"),
                ),
            );
            return None;
        }
        let mut ok = true;
        for (n, span, kind) in &self.uses {
            if *n != name || *kind == UseKind::IndexByVar {
                continue;
            }
            ok = false;
            cx.error(
                *span,
                help(
                    format!(
                        "`{name}` is written by index in this parallel loop, so each iteration may only use its own element `{name}[{var}]`"
                    ),
                    "read other elements from a copy made before the loop, or run this loop with `#[parallel(seq)]`",
                ),
            );
        }
        ok.then(|| IndexTarget {
            array: array.clone(),
            var,
        })
    }
}

/// `(x, indexed)` for a place expression rooted at variable `x`; `indexed`
/// when the innermost projection on `x` is an index (`x[..]`, `x[..].f`).
fn place_root(place: &Expr) -> Option<(&Ident, bool)> {
    let mut cur = place;
    let mut indexed_on_root = false;
    loop {
        if let Some(ident) = bare_ident(cur) {
            return Some((ident, indexed_on_root));
        }
        cur = match cur {
            Expr::Field(f) => {
                indexed_on_root = false;
                &f.base
            }
            Expr::Index(i) => {
                indexed_on_root = true;
                &i.expr
            }
            Expr::Paren(p) => &p.expr,
            Expr::Group(g) => &g.expr,
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => {
                indexed_on_root = false;
                &u.expr
            }
            _ => return None,
        };
    }
}

/// An identifier from text found in a literal; `None` if it is not one.
fn make_ident(name: &str, span: Span) -> Option<Ident> {
    let mut ident = syn::parse_str::<Ident>(name).ok()?;
    ident.set_span(span);
    Some(ident)
}

/// The expression as source-like text, for messages.
fn tokens_text(expr: &Expr) -> String {
    let text = quote::ToTokens::to_token_stream(expr).to_string();
    // `out . f` -> `out.f`, `x [i]` -> `x[i]`, `* r` -> `*r`: good enough for messages.
    text.replace(" . ", ".")
        .replace(" [", "[")
        .replace("[ ", "[")
        .replace(" ]", "]")
        .replace("* ", "*")
}

/// Names of method calls that start parallel work (rayon and friends).
fn is_parallel_method(name: &str) -> bool {
    matches!(
        name,
        "par_iter" | "par_iter_mut" | "into_par_iter" | "par_bridge" | "par_extend"
    ) || name.starts_with("par_chunks")
        || name.starts_with("par_rchunks")
}

/// Paths of calls that start parallel work.
fn parallel_path(path: &syn::Path) -> Option<String> {
    let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let n = segs.len();
    if n >= 2 {
        let (a, b) = (segs[n - 2].as_str(), segs[n - 1].as_str());
        let hit = matches!(
            (a, b),
            ("rayon", "join" | "scope" | "spawn" | "in_place_scope")
                | ("thread", "spawn" | "scope")
        );
        if hit {
            return Some(format!("`{a}::{b}`"));
        }
    }
    if let Some(pos) = segs.iter().position(|s| s == "Parallel")
        && pos + 1 < n
    {
        return Some("`Parallel::..`".to_string());
    }
    None
}

impl<'ast> Visit<'ast> for Walker<'_> {
    fn visit_stmt(&mut self, stmt: &'ast Stmt) {
        if let Stmt::Expr(expr, Some(_)) = stmt
            && self.try_reduction(expr, true)
        {
            return;
        }
        if let Stmt::Expr(call @ Expr::MethodCall(_), Some(_)) = stmt {
            // A statement's value is dropped: `set.remove(&x);` is not
            // looking at what it removed.
            self.dropped_call = node_addr(call);
        }
        visit::visit_stmt(self, stmt);
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        self.scopes.push();
        visit::visit_block(self, block);
        self.scopes.pop();
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        // The initialiser sees the names as they were before the `let`.
        if let Some(init) = &local.init {
            self.visit_expr(&init.expr);
            if let Some((_, diverge)) = &init.diverge {
                self.visit_expr(diverge);
            }
        }
        self.scopes.bind(&local.pat);
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        self.scopes.push();
        self.scopes.bind(&arm.pat);
        if let Some((_, guard)) = &arm.guard {
            self.visit_expr(guard);
        }
        self.visit_expr(&arm.body);
        self.scopes.pop();
    }

    fn visit_item(&mut self, _: &'ast syn::Item) {
        // Nested items are separate code: not part of the iteration.
    }

    fn visit_expr(&mut self, expr: &'ast Expr) {
        if self.try_reduction(expr, false) {
            return;
        }
        match expr {
            Expr::Binary(b) if is_compound(&b.op) => {
                self.record_write(&b.left, b.left.span());
                visit::visit_expr(self, expr);
            }
            Expr::Assign(a) => {
                self.record_write(&a.left, a.left.span());
                visit::visit_expr(self, expr);
            }
            Expr::Reference(r) if r.mutability.is_some() => {
                if let Some((_, true)) = place_root(&r.expr) {
                    self.record_write(&r.expr, r.expr.span());
                }
                visit::visit_expr(self, expr);
            }
            Expr::Index(ix) => {
                if let Some(base) = bare_ident(&ix.expr) {
                    let by_var = bare_ident(&ix.index)
                        .zip(self.loop_var.as_ref())
                        .is_some_and(|(i, v)| i == v);
                    let kind = if by_var {
                        UseKind::IndexByVar
                    } else {
                        UseKind::IndexOther
                    };
                    self.record_use(base, kind, ix.span());
                    if !by_var {
                        self.visit_expr(&ix.index);
                    }
                } else {
                    visit::visit_expr(self, expr);
                }
            }
            Expr::Path(p) => {
                if let Some(ident) = bare_ident(expr) {
                    self.record_use(ident, UseKind::Plain, ident.span());
                } else {
                    visit::visit_expr_path(self, p);
                }
            }
            Expr::Closure(c) => {
                self.closure_depth += 1;
                self.scopes.push();
                for input in &c.inputs {
                    self.scopes.bind(input);
                }
                self.visit_expr(&c.body);
                self.scopes.pop();
                self.closure_depth -= 1;
            }
            Expr::Async(_) => {
                self.closure_depth += 1;
                visit::visit_expr(self, expr);
                self.closure_depth -= 1;
            }
            Expr::Const(_) => {}
            Expr::ForLoop(f) => {
                self.visit_expr(&f.expr);
                let parallel = f.attrs.iter().find(|a| is_parallel_attr(a));
                if let Some(attr) = parallel.filter(|_| self.scope.parallel_depth == 0) {
                    let allowed = inner_allows_nested(attr);
                    self.nested
                        .push((f.for_token.span, "`#[parallel]` loop".to_string(), allowed));
                }
                self.enter_loop(f.label.as_ref(), parallel.is_some(), |w| {
                    w.scopes.push();
                    w.scopes.bind(&f.pat);
                    w.visit_block(&f.body);
                    w.scopes.pop();
                });
            }
            Expr::While(wh) => {
                self.enter_loop(wh.label.as_ref(), false, |w| {
                    // `while let` binds for the body.
                    w.scopes.push();
                    w.visit_expr(&wh.cond);
                    w.visit_block(&wh.body);
                    w.scopes.pop();
                });
            }
            Expr::If(i) => {
                // `if let` binds for the `then` block only.
                self.scopes.push();
                self.visit_expr(&i.cond);
                self.visit_block(&i.then_branch);
                self.scopes.pop();
                if let Some((_, els)) = &i.else_branch {
                    self.visit_expr(els);
                }
            }
            Expr::Let(l) => {
                self.visit_expr(&l.expr);
                self.scopes.bind(&l.pat);
            }
            Expr::Loop(lp) => {
                self.enter_loop(lp.label.as_ref(), false, |w| w.visit_block(&lp.body));
            }
            Expr::Block(b) if b.label.is_some() => {
                let label = b.label.as_ref().map(|l| l.name.ident.to_string());
                self.scope.labels.extend(label);
                visit::visit_expr(self, expr);
                self.scope.labels.pop();
            }
            Expr::Break(br) => {
                if self.own_flow() {
                    self.check_break(br);
                }
                visit::visit_expr(self, expr);
            }
            Expr::Continue(c) => {
                if self.own_flow() {
                    self.check_continue(c);
                }
            }
            Expr::Return(r) => {
                if self.own_flow() {
                    // An early exit: the earliest returning item wins (translated).
                    self.returns.push(r.return_token.span);
                }
                visit::visit_expr(self, expr);
            }
            Expr::Await(aw) => {
                if self.own_flow() {
                    self.error_flow(
                        aw.await_token.span,
                        help(
                            "`.await` can't run inside a parallel loop: its iterations run on worker threads, outside the async fn",
                            "collect the futures with `futs.push(async move { .. })` and await them after the loop, or drop `#[parallel]`",
                        ),
                    );
                }
                visit::visit_expr(self, expr);
            }
            Expr::Try(t) => {
                if self.closure_depth == 0 {
                    self.fallible = true;
                    if self.scope.parallel_depth == 0 {
                        self.check_try(t.question_token.span);
                    }
                }
                visit::visit_expr(self, expr);
            }
            Expr::MethodCall(call) => {
                let name = call.method.to_string();
                if is_parallel_method(&name) && self.scope.parallel_depth == 0 {
                    self.nested
                        .push((call.method.span(), format!("`.{name}()` call"), false));
                }
                self.check_mut_call(call, node_addr(expr) != self.dropped_call);
                if let Some(x) = bare_ident(&call.receiver).filter(|_| name == "len")
                    && call.args.is_empty()
                {
                    self.record_use(x, UseKind::Len, call.span());
                    return;
                }
                visit::visit_expr(self, expr);
            }
            Expr::Call(call) => {
                if let Expr::Path(p) = &*call.func
                    && let Some(what) = parallel_path(&p.path)
                    && self.scope.parallel_depth == 0
                {
                    self.nested.push((p.span(), format!("{what} call"), false));
                }
                visit::visit_expr(self, expr);
            }
            _ => visit::visit_expr(self, expr),
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        match macro_args(mac) {
            Some(args) => {
                let was = self.in_macro;
                self.in_macro = true;
                for arg in &args {
                    if let Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) = arg
                    {
                        self.scan_literal(&s.token());
                    }
                    self.visit_expr(arg);
                }
                self.in_macro = was;
            }
            None => self.scan_tokens(mac.tokens.clone()),
        }
    }
}

impl Walker<'_> {
    /// Records `x.method(..)` on an outer `x` when the method changes `x`
    /// and is not a reduction (see [`crate::mutation`]).
    fn check_mut_call(&mut self, call: &syn::ExprMethodCall, value_used: bool) {
        let Some(x) = bare_ident(&call.receiver) else {
            return;
        };
        let name = x.to_string();
        let method = call.method.to_string();
        if self.in_macro || name == "self" || !is_mutating(&method) || !self.is_outer(&name) {
            return;
        }
        self.mut_calls.push((
            MutCall {
                name,
                method,
                value_used,
                in_closure: self.closure_depth > 0,
            },
            quote::ToTokens::to_token_stream(call),
        ));
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

    fn check_break(&mut self, br: &syn::ExprBreak) {
        let leaves = match &br.label {
            None => self.scope.depth == 0,
            Some(l) => !self.scope.labels.contains(&l.ident.to_string()),
        };
        if !leaves {
            return;
        }
        let own = br
            .label
            .as_ref()
            .is_none_or(|l| Some(l.ident.to_string()) == self.own_label);
        if own {
            // An early exit: the earliest breaking item wins (translated).
            self.breaks = true;
            return;
        }
        self.error_flow(
            br.break_token.span,
            help(
                "this `break` jumps out of the parallel loop to an enclosing loop",
                "an iteration can stop only its own loop: set a flag with a reduction (`stop |= true;`), then `break`, and break the enclosing loop after this one when the flag is set",
            ),
        );
    }

    fn check_continue(&self, c: &syn::ExprContinue) {
        let Some(label) = &c.label else {
            return;
        };
        let name = label.ident.to_string();
        if self.scope.labels.contains(&name) || Some(&name) == self.own_label.as_ref() {
            return;
        }
        self.error_flow(
            c.span(),
            help(
                format!("`continue '{name}` jumps out of the parallel loop to an enclosing loop"),
                "iterations of a parallel loop can't leave it; `continue` (without a label) ends this iteration",
            ),
        );
    }

    fn check_try(&mut self, span: Span) {
        if self.env.in_closure {
            self.cx.error(
                span,
                help(
                    "`?` in a parallel loop inside a closure or async block is not supported: autopar can't see its return type",
                    "move the loop into a fn with a `Result`/`Option` return type, or handle the error in the body with `match`",
                ),
            );
        } else if self.env.ret == RetMode::Unit {
            self.try_in_unit_fn = true;
        }
    }
}

fn is_compound(op: &BinOp) -> bool {
    matches!(
        op,
        BinOp::AddAssign(_)
            | BinOp::SubAssign(_)
            | BinOp::MulAssign(_)
            | BinOp::DivAssign(_)
            | BinOp::RemAssign(_)
            | BinOp::BitXorAssign(_)
            | BinOp::BitAndAssign(_)
            | BinOp::BitOrAssign(_)
            | BinOp::ShlAssign(_)
            | BinOp::ShrAssign(_)
    )
}

/// Whether an inner loop's own `#[parallel(..)]` says `allow_nested`.
fn inner_allows_nested(attr: &syn::Attribute) -> bool {
    let syn::Meta::List(list) = &attr.meta else {
        return false;
    };
    list.tokens
        .clone()
        .into_iter()
        .any(|tt| matches!(tt, TokenTree::Ident(i) if i == "allow_nested"))
}
