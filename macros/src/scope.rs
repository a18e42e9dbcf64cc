//! Which names a loop body binds at each point, so that a variable declared
//! outside the loop is told apart from a local of the same name.
//!
//! `total += x` is a reduction of the outer `total` only where no binding in
//! the body shadows it: after `let total = ..`, inside `if let Some(total)`,
//! a match arm, a closure's `|total|` or an inner `for total in ..`, the name
//! is the body's own variable. The walk calls [`Scopes::push`] /
//! [`Scopes::pop`] where Rust opens and closes a scope and [`Scopes::bind`]
//! where a pattern binds, in the order Rust resolves names: a `let`'s
//! initialiser is looked at before its pattern binds.

use std::collections::BTreeSet;

use syn::Pat;
use syn::visit::{self, Visit};

/// The names bound inside the body, innermost scope last.
#[derive(Debug, Default)]
pub struct Scopes {
    stack: Vec<BTreeSet<String>>,
}

impl Scopes {
    /// Scopes whose outermost level binds the names of the loop pattern.
    pub fn new(loop_pat: &Pat) -> Self {
        let mut scopes = Scopes {
            stack: vec![BTreeSet::new()],
        };
        scopes.bind(loop_pat);
        scopes
    }

    /// Opens a scope (a block, an arm, a closure, an `if let`).
    pub fn push(&mut self) {
        self.stack.push(BTreeSet::new());
    }

    /// Closes the innermost scope.
    pub fn pop(&mut self) {
        if self.stack.len() > 1 {
            self.stack.pop();
        }
    }

    /// Binds every identifier `pat` binds in the innermost scope.
    pub fn bind(&mut self, pat: &Pat) {
        let mut names = Names(BTreeSet::new());
        names.visit_pat(pat);
        if let Some(top) = self.stack.last_mut() {
            top.extend(names.0);
        }
    }

    /// Whether `name` is bound in the body here (so it is not the variable
    /// declared outside the loop).
    pub fn is_bound(&self, name: &str) -> bool {
        self.stack.iter().any(|s| s.contains(name))
    }
}

/// Collects the identifiers a pattern binds.
struct Names(BTreeSet<String>);

impl<'ast> Visit<'ast> for Names {
    fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
        self.0.insert(p.ident.to_string());
        visit::visit_pat_ident(self, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shadowing_follows_scopes() {
        let pat: Pat = syn::parse_quote!((i, x));
        let mut s = Scopes::new(&pat);
        assert!(s.is_bound("x") && !s.is_bound("total"));
        s.push();
        let inner: Pat = syn::parse_quote!(total);
        s.bind(&inner);
        assert!(s.is_bound("total"));
        s.pop();
        assert!(!s.is_bound("total"));
        // The loop pattern's scope is never closed.
        s.pop();
        assert!(s.is_bound("i"));
    }
}
