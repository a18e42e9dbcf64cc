//! Small syntax helpers shared by the passes.

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, Token};

/// Whether `attr` is ours: its path's last segment is `parallel`, so
/// `#[parallel]`, `#[parallel(io)]` and `#[autopar::parallel]` all match.
///
/// Matching is by text: the outer macro runs before name resolution, so a
/// renamed import (`use autopar::parallel as par`) is not recognised.
pub fn is_parallel_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|seg| seg.ident == "parallel")
}

/// Removes our attributes from `attrs` and returns the first one removed.
pub fn take_parallel_attr(attrs: &mut Vec<Attribute>) -> Option<Attribute> {
    let pos = attrs.iter().position(is_parallel_attr)?;
    let attr = attrs.remove(pos);
    // A second `#[parallel]` on the same node would be reported by the
    // caller through `take_parallel_attr` again; keep the others in place.
    Some(attr)
}

/// `x` when `expr` is a plain local-variable path (possibly wrapped in
/// parentheses or an invisible group from a `macro_rules!` expansion).
pub fn bare_ident(expr: &Expr) -> Option<&Ident> {
    match expr {
        Expr::Path(p)
            if p.qself.is_none()
                && p.path.leading_colon.is_none()
                && p.path.segments.len() == 1
                && p.path.segments[0].arguments.is_none() =>
        {
            Some(&p.path.segments[0].ident)
        }
        Expr::Paren(p) => bare_ident(&p.expr),
        Expr::Group(g) => bare_ident(&g.expr),
        _ => None,
    }
}

/// The attributes of an expression, for the variants that can carry them.
pub fn expr_attrs_mut(expr: &mut Expr) -> Option<&mut Vec<Attribute>> {
    Some(match expr {
        Expr::Array(e) => &mut e.attrs,
        Expr::Assign(e) => &mut e.attrs,
        Expr::Async(e) => &mut e.attrs,
        Expr::Await(e) => &mut e.attrs,
        Expr::Binary(e) => &mut e.attrs,
        Expr::Block(e) => &mut e.attrs,
        Expr::Break(e) => &mut e.attrs,
        Expr::Call(e) => &mut e.attrs,
        Expr::Cast(e) => &mut e.attrs,
        Expr::Closure(e) => &mut e.attrs,
        Expr::Const(e) => &mut e.attrs,
        Expr::Continue(e) => &mut e.attrs,
        Expr::Field(e) => &mut e.attrs,
        Expr::ForLoop(e) => &mut e.attrs,
        Expr::Group(e) => &mut e.attrs,
        Expr::If(e) => &mut e.attrs,
        Expr::Index(e) => &mut e.attrs,
        Expr::Infer(e) => &mut e.attrs,
        Expr::Let(e) => &mut e.attrs,
        Expr::Lit(e) => &mut e.attrs,
        Expr::Loop(e) => &mut e.attrs,
        Expr::Macro(e) => &mut e.attrs,
        Expr::Match(e) => &mut e.attrs,
        Expr::MethodCall(e) => &mut e.attrs,
        Expr::Paren(e) => &mut e.attrs,
        Expr::Path(e) => &mut e.attrs,
        Expr::Range(e) => &mut e.attrs,
        Expr::RawAddr(e) => &mut e.attrs,
        Expr::Reference(e) => &mut e.attrs,
        Expr::Repeat(e) => &mut e.attrs,
        Expr::Return(e) => &mut e.attrs,
        Expr::Struct(e) => &mut e.attrs,
        Expr::Try(e) => &mut e.attrs,
        Expr::TryBlock(e) => &mut e.attrs,
        Expr::Tuple(e) => &mut e.attrs,
        Expr::Unary(e) => &mut e.attrs,
        Expr::Unsafe(e) => &mut e.attrs,
        Expr::While(e) => &mut e.attrs,
        Expr::Yield(e) => &mut e.attrs,
        _ => return None,
    })
}

/// Parses a macro call's tokens as comma-separated expressions, the shape
/// of `println!`, `assert!`, `format!`, `vec![a, b]` and most user macros.
/// `None` when they have another shape (`vec![x; n]`, a DSL).
pub fn macro_args(mac: &syn::Macro) -> Option<Punctuated<Expr, Token![,]>> {
    mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
        .ok()
}

/// A span that points at `at` in the user's code but belongs to this
/// macro's expansion.
///
/// Errors still land on the user's token, while lints that skip
/// macro-generated code (clippy's `question_mark`, `needless_return`, ...)
/// do not fire on code the user did not write.
pub fn gen_span(at: Span) -> Span {
    Span::call_site().located_at(at)
}

/// Like [`gen_span`], with `mixed_site` hygiene: for the macro's own local
/// variables, which user code can then neither see nor shadow.
pub fn local_span(at: Span) -> Span {
    Span::mixed_site().located_at(at)
}

/// An identifier for one of the macro's own locals, invisible to user code.
pub fn local_ident(name: &str, at: Span) -> Ident {
    Ident::new(name, local_span(at))
}

/// The names that string literals in a macro call use as inline format
/// arguments: `{total}` and `{total:>8}` in `println!("{total}")`.
pub fn inline_format_args(lit: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut chars = lit.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '{' {
            continue;
        }
        if chars.peek() == Some(&'{') {
            chars.next();
            continue;
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        let closes = matches!(chars.peek(), Some('}') | Some(':'));
        let starts_ok = name.chars().next().is_some_and(|c| !c.is_ascii_digit());
        if closes && starts_ok {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_matching() {
        let a: Attribute = syn::parse_quote!(#[parallel(io)]);
        let b: Attribute = syn::parse_quote!(#[autopar::parallel]);
        let c: Attribute = syn::parse_quote!(#[allow(unused)]);
        assert!(is_parallel_attr(&a) && is_parallel_attr(&b) && !is_parallel_attr(&c));
    }

    #[test]
    fn idents() {
        let e: Expr = syn::parse_quote!((x));
        assert_eq!(bare_ident(&e).unwrap(), "x");
        let e: Expr = syn::parse_quote!(a::x);
        assert!(bare_ident(&e).is_none());
    }

    #[test]
    fn format_args() {
        assert_eq!(
            inline_format_args("\"{total} {{x}} {v:>3} {0} {}\""),
            ["total", "v"]
        );
    }
}

/// Where a body walker stands among the loops nested in a parallel loop's body: their
/// own `break`/`continue` are fine, and labels tell which loop a jump leaves.
#[derive(Debug, Default)]
pub struct LoopScope {
    /// Loops entered inside the body.
    pub depth: usize,
    /// Labels of the loops and labelled blocks entered, innermost last.
    pub labels: Vec<String>,
    /// `#[parallel]` loops entered inside the body.
    pub parallel_depth: usize,
}

/// What [`LoopScope::enter`] changed, for [`LoopScope::exit`] to undo.
#[must_use]
pub struct Entered {
    labelled: bool,
    parallel: bool,
}

impl LoopScope {
    /// Enters a nested loop, `parallel` if it carries its own `#[parallel]`.
    pub fn enter(&mut self, label: Option<&syn::Label>, parallel: bool) -> Entered {
        let label = label.map(|l| l.name.ident.to_string());
        let labelled = label.is_some();
        self.labels.extend(label);
        self.depth += 1;
        self.parallel_depth += usize::from(parallel);
        Entered { labelled, parallel }
    }

    /// Leaves the loop entered by the `enter` that returned `entered`.
    pub fn exit(&mut self, entered: Entered) {
        self.parallel_depth -= usize::from(entered.parallel);
        self.depth -= 1;
        if entered.labelled {
            self.labels.pop();
        }
    }
}
