//! Which loops `#[parallel]` on a fn takes when none is marked.
//!
//! Every outermost `for` loop of the fn's body: a `for` statement, or a `for`
//! inside blocks, `unsafe` blocks, `if`/`else` branches, `match` arms,
//! `while`/`loop` bodies, `let` initialisers and any other expression of the
//! body. A `for` nested in a taken loop runs inside that loop's iterations.
//!
//! Not taken: loops inside closures and `async` blocks (the closure may be
//! called from anywhere, any number of times, and its body is not the fn's
//! control flow), inside `const` blocks and nested items (which are not run
//! by the fn), and inside macro calls (their tokens are not parsed here).
//! Such a loop can still be marked `#[parallel]` by hand.

use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr};

/// Marks every outermost `for` loop of `block` with `#[parallel]`, returning
/// how many it marked.
pub fn mark_outermost(block: &mut Block) -> usize {
    let mut marker = Marker { found: 0 };
    marker.visit_block_mut(block);
    marker.found
}

struct Marker {
    found: usize,
}

impl VisitMut for Marker {
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::ForLoop(for_loop) => {
                let span = for_loop.for_token.span;
                for_loop
                    .attrs
                    .push(syn::parse_quote_spanned!(span=> #[parallel]));
                self.found += 1;
            }
            Expr::Closure(_) | Expr::Async(_) | Expr::Const(_) => {}
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::is_parallel_attr;
    use syn::visit::{self, Visit};

    /// The `for` loops of `body` that got `#[parallel]`, by their input's text.
    fn taken(body: &str) -> Vec<String> {
        let mut block: Block = syn::parse_str(body).unwrap();
        let count = mark_outermost(&mut block);
        struct Inputs(Vec<String>);
        impl<'ast> Visit<'ast> for Inputs {
            fn visit_expr_for_loop(&mut self, f: &'ast syn::ExprForLoop) {
                if f.attrs.iter().any(is_parallel_attr) {
                    self.0
                        .push(quote::ToTokens::to_token_stream(&f.expr).to_string());
                }
                visit::visit_expr_for_loop(self, f);
            }
        }
        let mut inputs = Inputs(Vec::new());
        inputs.visit_block(&block);
        assert_eq!(inputs.0.len(), count);
        inputs.0
    }

    #[test]
    fn statements_and_nested_places() {
        let body = "{
            for x in a {}
            { for x in b {} }
            if c { for x in d {} } else if e { for x in f {} } else { for x in g {} }
            match h { 0 => for x in i {}, _ => { for x in j {} } }
            while k { for x in l {} }
            loop { for x in m {} break; }
            let n = { for x in o {} 1 };
            unsafe { for x in p {} }
            'q: { for x in r {} }
        }";
        assert_eq!(
            taken(body),
            ["a", "b", "d", "f", "g", "i", "j", "l", "m", "o", "p", "r"]
        );
    }

    #[test]
    fn only_outermost_loops() {
        assert_eq!(taken("{ for x in a { for y in b {} } }"), ["a"]);
    }

    #[test]
    fn closures_async_const_and_items_are_not_taken() {
        let body = "{
            let f = |v: &[u8]| for x in v {};
            let g = async { for x in a {} };
            const { for x in b {} };
            fn h() { for x in c {} }
            run(move || { for x in d {} });
        }";
        assert!(taken(body).is_empty());
    }
}
