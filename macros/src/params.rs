//! Loop inputs that the fn's signature shows the runtime cannot take.
//!
//! An input that is not split by index (a slice, `Vec`, range, ..) is an
//! iterator that the loop's workers pull from on their own threads, so it
//! must be `Send`. A parameter typed `impl Iterator<Item = u64>` or
//! `impl IntoIterator<Item = u64>` (or a type parameter bounded that way)
//! does not promise it: type-checking the generated call fails, and rustc's
//! error names the runtime's input dispatch instead of the user's code. The
//! signature alone settles it, so the loop gets an error at its input that
//! says what to change.
//!
//! The check is conservative: a parameter is reported only when every bound
//! of its type is a std trait that cannot imply `Send`, and its name is never
//! bound again in the body (a `let items = ..` before the loop may be the
//! fix). Anything else is left to the compiler.

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::{self, Visit};
use syn::{
    Block, Expr, FnArg, GenericArgument, GenericParam, Ident, Pat, PathArguments, Signature, Type,
    TypeParamBound, WherePredicate,
};

use crate::ctxt::{Ctxt, help};
use crate::syntax::bare_ident;

/// A parameter whose iterator is not known to be `Send`.
pub struct Unsendable {
    /// The parameter's name.
    ident: Ident,
    /// Its type when that is a type parameter; `None` for `impl Trait`.
    generic: Option<Ident>,
    /// Which iterator trait bounds it.
    bound: Bounds,
}

/// Std iterator traits: a type bounded by one of them is its own iterator.
const ITERATOR_TRAITS: &[&str] = &[
    "Iterator",
    "DoubleEndedIterator",
    "ExactSizeIterator",
    "FusedIterator",
];

/// Std traits that do not imply `Send` (none has it as a supertrait).
const NEUTRAL_TRAITS: &[&str] = &[
    "Sized", "Sync", "Unpin", "Clone", "Copy", "Debug", "Default",
];

/// Iterator adapters of std: each wraps its receiver, so the result is
/// `Send` only if the receiver is. (`collect` is not one: it is the fix.)
const ADAPTERS: &[&str] = &[
    "into_iter",
    "by_ref",
    "enumerate",
    "map",
    "filter",
    "filter_map",
    "flat_map",
    "flatten",
    "inspect",
    "skip",
    "skip_while",
    "take",
    "take_while",
    "map_while",
    "step_by",
    "chain",
    "zip",
    "rev",
    "peekable",
    "fuse",
    "copied",
    "cloned",
    "scan",
    "cycle",
];

/// The parameters of `sig` whose iterator is not known to be `Send` and
/// whose names `body` never binds again.
pub fn unsendable_params(sig: &Signature, body: &Block) -> Vec<Unsendable> {
    let mut found: Vec<Unsendable> = sig
        .inputs
        .iter()
        .filter_map(|arg| {
            let FnArg::Typed(arg) = arg else { return None };
            let Pat::Ident(pat) = &*arg.pat else {
                return None;
            };
            if pat.by_ref.is_some() || pat.subpat.is_some() {
                return None;
            }
            let (generic, bound) = bounds_of(&arg.ty, sig)?;
            Some(Unsendable {
                ident: pat.ident.clone(),
                generic,
                bound,
            })
        })
        .collect();
    if !found.is_empty() {
        let mut rebound = Rebound {
            names: found.iter().map(|u| u.ident.clone()).collect(),
            hits: Vec::new(),
        };
        rebound.visit_block(body);
        found.retain(|u| !rebound.hits.contains(&u.ident));
    }
    found
}

/// Reports a loop over `input` when it is one of `params` (or a chain of
/// iterator adapters on one).
pub fn check_input(input: &Expr, params: &[Unsendable], cx: &Ctxt) {
    let Some(name) = adapted_ident(input) else {
        return;
    };
    let Some(param) = params.iter().find(|p| p.ident == *name) else {
        return;
    };
    let collect = match param.bound {
        Bounds::IntoIterator => format!("{name}.into_iter().collect::<Vec<_>>()"),
        Bounds::Iterator(_) => format!("{name}.collect::<Vec<_>>()"),
    };
    let (why, fix) = match (&param.generic, &param.bound) {
        (None, Bounds::IntoIterator) => (
            "an `impl IntoIterator` parameter does not promise a `Send` iterator".to_string(),
            format!(
                "bound it with `IntoIter: Send` (`{name}: impl IntoIterator<Item = .., IntoIter: Send>`)"
            ),
        ),
        (None, Bounds::Iterator(tr)) => (
            format!("an `impl {tr}` parameter is not known to be `Send`"),
            format!("add `+ Send` to its type (`{name}: impl {tr}<Item = ..> + Send`)"),
        ),
        (Some(ty), Bounds::IntoIterator) => (
            format!("its type `{ty}` does not promise a `Send` iterator"),
            format!("add `where {ty}::IntoIter: Send`"),
        ),
        (Some(ty), Bounds::Iterator(_)) => (
            format!("its type `{ty}` is not known to be `Send`"),
            format!("add `where {ty}: Send`"),
        ),
    };
    cx.error_spanned_by(
        input,
        help(
            format!(
                "`{name}` can't be the input of a parallel loop: {why}, and the loop's workers pull items from it on other threads"
            ),
            format!(
                "{fix}, take a `Vec` or a slice (split by index, the fastest), or loop over `{collect}`"
            ),
        ),
    );
}

/// The parameter name at the root of `input`: `items`, `(items)`, or
/// `items.into_iter().enumerate()` and other std adapter chains.
fn adapted_ident(input: &Expr) -> Option<&Ident> {
    let mut expr = input;
    loop {
        expr = match expr {
            Expr::MethodCall(call)
                if call.turbofish.is_none() && ADAPTERS.iter().any(|a| call.method == a) =>
            {
                &call.receiver
            }
            Expr::Paren(p) => &p.expr,
            Expr::Group(g) => &g.expr,
            _ => return bare_ident(expr),
        };
    }
}

/// The iterator bound of `ty`, declared in `sig`, when it is certain that
/// the iterator is not `Send`; with the type parameter `ty` names, if any.
fn bounds_of(ty: &Type, sig: &Signature) -> Option<(Option<Ident>, Bounds)> {
    match ty {
        Type::Paren(p) => bounds_of(&p.elem, sig),
        Type::Group(g) => bounds_of(&g.elem, sig),
        Type::ImplTrait(imp) => Some((None, classify(imp.bounds.iter())?)),
        Type::Path(p) if p.qself.is_none() => {
            let ident = p.path.get_ident()?;
            let bound = classify(generic_bounds(ident, sig)?.into_iter())?;
            Some((Some(ident.clone()), bound))
        }
        _ => None,
    }
}

/// Every bound of the type parameter `ident` of `sig`: `None` when it is
/// not one, or when a where-clause bounds a type built from it
/// (`T::IntoIter: Send`, `Vec<T>: ..`), which may supply what is missing.
fn generic_bounds<'a>(ident: &Ident, sig: &'a Signature) -> Option<Vec<&'a TypeParamBound>> {
    let param = sig.generics.params.iter().find_map(|p| match p {
        GenericParam::Type(t) if t.ident == *ident => Some(t),
        _ => None,
    })?;
    let mut bounds: Vec<&TypeParamBound> = param.bounds.iter().collect();
    for predicate in sig.generics.where_clause.iter().flat_map(|w| &w.predicates) {
        let WherePredicate::Type(predicate) = predicate else {
            continue;
        };
        let exactly = matches!(&predicate.bounded_ty, Type::Path(p)
            if p.qself.is_none() && p.path.get_ident() == Some(ident));
        if exactly && predicate.lifetimes.is_none() {
            bounds.extend(predicate.bounds.iter());
        } else if mentions(
            &quote::ToTokens::to_token_stream(&predicate.bounded_ty),
            ident,
        ) {
            return None;
        }
    }
    Some(bounds)
}

/// What a set of bounds says about iteration, when it is certain that the
/// iterator is not `Send`.
enum Bounds {
    /// `IntoIterator` without a bound or binding on `IntoIter`.
    IntoIterator,
    /// An iterator trait (named) without `Send`.
    Iterator(String),
}

fn classify<'a>(bounds: impl Iterator<Item = &'a TypeParamBound>) -> Option<Bounds> {
    let (mut into_iter, mut iterator, mut send) = (false, None, false);
    for bound in bounds {
        let trait_bound = match bound {
            TypeParamBound::Lifetime(_) => continue,
            TypeParamBound::Trait(t) if t.lifetimes.is_none() => t,
            _ => return None,
        };
        if matches!(trait_bound.modifier, syn::TraitBoundModifier::Maybe(_)) {
            continue; // `?Sized`
        }
        let path = &trait_bound.path;
        // A bare name or a path into std: another crate's trait may have
        // `Send` as a supertrait.
        let std_path = path.segments.len() == 1
            || path
                .segments
                .first()
                .is_some_and(|s| s.ident == "std" || s.ident == "core");
        let last = path.segments.last()?;
        if !std_path {
            return None;
        }
        let name = last.ident.to_string();
        if name == "IntoIterator" {
            if names_into_iter(&last.arguments) {
                return None;
            }
            into_iter = true;
        } else if ITERATOR_TRAITS.contains(&name.as_str()) {
            iterator = Some(name);
        } else if name == "Send" {
            send = true;
        } else if !NEUTRAL_TRAITS.contains(&name.as_str()) {
            return None;
        }
    }
    match iterator {
        Some(_) if send => None,
        Some(name) => Some(Bounds::Iterator(name)),
        None if into_iter => Some(Bounds::IntoIterator),
        None => None,
    }
}

/// Whether `IntoIterator<..>`'s arguments bind or bound `IntoIter`.
fn names_into_iter(args: &PathArguments) -> bool {
    let PathArguments::AngleBracketed(args) = args else {
        return false;
    };
    args.args.iter().any(|arg| match arg {
        GenericArgument::AssocType(a) => a.ident == "IntoIter",
        GenericArgument::Constraint(c) => c.ident == "IntoIter",
        _ => false,
    })
}

/// Whether `tokens` contain the identifier `ident`, at any depth.
fn mentions(tokens: &TokenStream, ident: &Ident) -> bool {
    let mut open = vec![tokens.clone().into_iter()];
    while let Some(trees) = open.last_mut() {
        match trees.next() {
            Some(TokenTree::Ident(i)) if i == *ident => return true,
            Some(TokenTree::Group(g)) => open.push(g.stream().into_iter()),
            Some(_) => {}
            None => {
                open.pop();
            }
        }
    }
    false
}

/// Finds which of `names` the body binds again (patterns anywhere, or the
/// name passed to a macro, which may bind it).
struct Rebound {
    names: Vec<Ident>,
    hits: Vec<Ident>,
}

impl<'ast> Visit<'ast> for Rebound {
    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        if self.names.contains(&pat.ident) {
            self.hits.push(pat.ident.clone());
        }
        visit::visit_pat_ident(self, pat);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        for name in &self.names {
            if mentions(&mac.tokens, name) {
                self.hits.push(name.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of the parameters of `item` reported when looped over.
    fn reported(item: &str) -> Vec<String> {
        let f: syn::ItemFn = syn::parse_str(item).unwrap();
        unsendable_params(&f.sig, &f.block)
            .iter()
            .map(|u| u.ident.to_string())
            .collect()
    }

    #[test]
    fn iterables_without_a_send_iterator_are_reported() {
        for item in [
            "fn f(items: impl IntoIterator<Item = u64>) {}",
            "fn f(items: impl IntoIterator<Item = u64> + Send) {}",
            "fn f(mut items: impl Iterator<Item = u64>) {}",
            "fn f(items: impl ExactSizeIterator<Item = u64> + Clone + Sync) {}",
            "fn f(items: impl std::iter::Iterator<Item = u64> + 'static) {}",
            "fn f<T: IntoIterator<Item = u64>>(items: T) {}",
            "fn f<T>(items: T) where T: Iterator<Item = u64> + ?Sized {}",
            "fn f<T: IntoIterator>(items: T) where T: Send {}",
        ] {
            assert_eq!(reported(item), ["items"], "{item}");
        }
    }

    #[test]
    fn inputs_that_may_work_are_left_to_the_compiler() {
        for item in [
            // `Send` promised.
            "fn f(items: impl IntoIterator<Item = u64, IntoIter: Send>) {}",
            "fn f(items: impl Iterator<Item = u64> + Send) {}",
            "fn f<T: IntoIterator<Item = u64>>(items: T) where T::IntoIter: Send {}",
            "fn f<T>(items: T) where <T as IntoIterator>::IntoIter: Send, T: IntoIterator {}",
            "fn f<T: Iterator<Item = u64> + Send>(items: T) {}",
            "fn f<I: Iterator + Send, T: IntoIterator<IntoIter = I>>(items: T) {}",
            // Unknown traits may imply `Send`.
            "fn f(items: impl Iterator<Item = u64> + MyTrait) {}",
            "fn f(items: impl other::Iterator<Item = u64>) {}",
            "fn f(items: impl for<'a> IntoIterator<Item = u64>) {}",
            // Split by index, or not iterable at all.
            "fn f(items: Vec<u64>, r: std::ops::Range<u64>, s: &[u64], d: impl Debug) {}",
            "fn f<T>(items: Vec<T>) {}",
            // Bound again in the body.
            "fn f(items: impl IntoIterator<Item = u64>) { let items: Vec<_> = items.into_iter().collect(); }",
            "fn f(items: impl Iterator<Item = u64>) { g(|items| items); }",
            "fn f(items: impl Iterator<Item = u64>) { rebind!(items); }",
        ] {
            assert!(reported(item).is_empty(), "{item}");
        }
    }

    /// The error lands on adapter chains rooted at the parameter, not on
    /// other expressions that use it.
    #[test]
    fn inputs_rooted_at_the_parameter_are_checked() {
        let f: syn::ItemFn = syn::parse_str("fn f(items: impl Iterator<Item = u64>) {}").unwrap();
        let params = unsendable_params(&f.sig, &f.block);
        for (input, error) in [
            ("items", true),
            ("(items)", true),
            (
                "items.into_iter().enumerate().map(|(i, x)| x + i as u64)",
                true,
            ),
            ("items.collect::<Vec<_>>()", false),
            ("other", false),
            ("g(items)", false),
            ("items.my_adapter()", false),
        ] {
            let cx = Ctxt::new();
            check_input(&syn::parse_str(input).unwrap(), &params, &cx);
            assert_eq!(cx.check().is_err(), error, "{input}");
        }
    }

    #[test]
    fn the_message_names_the_parameter_and_the_fixes() {
        let f: syn::ItemFn = syn::parse_str(
            "fn f<T: IntoIterator<Item = u8>>(v: T, items: impl IntoIterator<Item = u64>) {}",
        )
        .unwrap();
        let params = unsendable_params(&f.sig, &f.block);
        let message = |input: &str| {
            let cx = Ctxt::new();
            check_input(&syn::parse_str(input).unwrap(), &params, &cx);
            cx.check().unwrap_err().to_string()
        };
        let impl_message = message("items");
        assert!(impl_message.starts_with("`items` can't be the input of a parallel loop"));
        assert!(impl_message.contains("IntoIter: Send"));
        assert!(impl_message.contains("`items.into_iter().collect::<Vec<_>>()`"));
        assert!(message("v").contains("`where T::IntoIter: Send`"));
        for m in [impl_message, message("v")] {
            assert!(!m.contains("__autopar") && !m.contains("InputWrap"), "{m}");
        }
    }
}
