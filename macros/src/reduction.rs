//! The reduction statements `#[parallel]` recognises, by their shape.
//!
//! A reduction updates a variable declared outside the loop in a way whose
//! partial results can be combined: `total += e`, `best = best.max(e)`,
//! `v.push(e)`, `set.insert(e);`, `*counts.entry(k).or_insert(0) += 1`,
//! `hist[bucket(x)] += 1`. This module only reads the syntax; whether the
//! variable is declared outside the loop, and whether the loop uses it
//! otherwise, is for [`crate::scan`] to decide.

use syn::{BinOp, Expr, Ident};

use crate::syntax::bare_ident;

/// How a reduction variable is updated.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// `x += e`
    Add,
    /// `x -= e`: partials accumulate with `+=`, applied with `x -= partial`.
    Sub,
    /// `x *= e`
    Mul,
    /// `x |= e`
    BitOr,
    /// `x &= e`
    BitAnd,
    /// `x ^= e`
    BitXor,
    /// `x = x.max(e)` (`x_first`) or `x = e.max(x)`.
    Max {
        /// Whether `x` is the receiver; decides which of two equal values
        /// wins, as in the sequential loop.
        x_first: bool,
    },
    /// `x = x.min(e)` or `x = e.min(x)`.
    Min {
        /// See [`Kind::Max`].
        x_first: bool,
    },
    /// `v.push(e)` / `v.extend(e)`: per-worker `Vec`s, concatenated in order.
    Collect,
    /// `set.insert(e)`: inserts replayed in order after the loop.
    InsertSet,
    /// `map.insert(k, v)`: inserts replayed in order after the loop.
    InsertMap,
}

/// What part of the variable an arithmetic reduction updates.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Place {
    /// The variable itself: `x += e`.
    Whole,
    /// A map's entry: `*map.entry(k).or_insert(v0) += e` or
    /// `*map.entry(k).or_default() += e`. Each task keeps a map of its own.
    Entry,
    /// An element of an array, slice or `Vec` at any index:
    /// `hist[bucket(x)] += e`. Each task keeps a copy of the array.
    Element,
}

impl Kind {
    /// How the user wrote it, for messages: `total += ..`.
    pub fn describe(self, x: &str, place: Place) -> String {
        let target = match place {
            Place::Whole => x.to_string(),
            Place::Entry => format!("*{x}.entry(..).or_insert(..)"),
            Place::Element => format!("{x}[..]"),
        };
        match self {
            Kind::Add => format!("{target} += .."),
            Kind::Sub => format!("{target} -= .."),
            Kind::Mul => format!("{target} *= .."),
            Kind::BitOr => format!("{target} |= .."),
            Kind::BitAnd => format!("{target} &= .."),
            Kind::BitXor => format!("{target} ^= .."),
            Kind::Max { x_first: true } => format!("{x} = {x}.max(..)"),
            Kind::Max { x_first: false } => format!("{x} = ...max({x})"),
            Kind::Min { x_first: true } => format!("{x} = {x}.min(..)"),
            Kind::Min { x_first: false } => format!("{x} = ...min({x})"),
            Kind::Collect => format!("{x}.push(..)"),
            Kind::InsertSet | Kind::InsertMap => format!("{x}.insert(..)"),
        }
    }

    /// `max` or `min` for those kinds.
    pub fn max_min(self) -> Option<&'static str> {
        match self {
            Kind::Max { .. } => Some("max"),
            Kind::Min { .. } => Some("min"),
            _ => None,
        }
    }
}

/// One reduction statement, as written.
pub struct Form<'a> {
    /// The variable reduced into.
    pub ident: &'a Ident,
    /// How.
    pub kind: Kind,
    /// Which part of it.
    pub place: Place,
    /// The expressions the statement evaluates (operand, key, index, first
    /// value), to keep analysing.
    pub operands: Vec<&'a Expr>,
}

/// Recognises the reduction forms. `is_stmt`: `expr` is a statement of its
/// own (`insert` is a reduction only then: its result is not used).
pub fn reduction_form(expr: &Expr, is_stmt: bool) -> Option<Form<'_>> {
    let whole = |ident, kind, operands| {
        Some(Form {
            ident,
            kind,
            place: Place::Whole,
            operands,
        })
    };
    match expr {
        Expr::Binary(b) => {
            let kind = compound_kind(&b.op)?;
            if let Some(ident) = bare_ident(&b.left) {
                return whole(ident, kind, vec![&*b.right]);
            }
            let (ident, place, mut operands) = element_place(&b.left)
                .map(|(x, i)| (x, Place::Element, vec![i]))
                .or_else(|| entry_place(&b.left).map(|(x, ops)| (x, Place::Entry, ops)))?;
            operands.push(&b.right);
            Some(Form {
                ident,
                kind,
                place,
                operands,
            })
        }
        Expr::Assign(a) => {
            let ident = bare_ident(&a.left)?;
            let Expr::MethodCall(call) = strip(&a.right) else {
                return None;
            };
            if call.args.len() != 1 || call.turbofish.is_some() {
                return None;
            }
            let is_max = call.method == "max";
            if !is_max && call.method != "min" {
                return None;
            }
            let arg = &call.args[0];
            let (x_first, operand) = if bare_ident(&call.receiver) == Some(ident) {
                (true, arg)
            } else if bare_ident(arg) == Some(ident) {
                (false, &*call.receiver)
            } else {
                return None;
            };
            let kind = if is_max {
                Kind::Max { x_first }
            } else {
                Kind::Min { x_first }
            };
            whole(ident, kind, vec![operand])
        }
        Expr::MethodCall(call) if call.turbofish.is_none() => {
            let ident = bare_ident(&call.receiver)?;
            let method = call.method.to_string();
            let kind = match (method.as_str(), call.args.len()) {
                ("push", 1) | ("extend", 1) => Kind::Collect,
                ("insert", 1) if is_stmt => Kind::InsertSet,
                ("insert", 2) if is_stmt => Kind::InsertMap,
                _ => return None,
            };
            whole(ident, kind, call.args.iter().collect())
        }
        Expr::Paren(p) => reduction_form(&p.expr, is_stmt),
        _ => None,
    }
}

/// The arithmetic kind of a compound assignment operator.
fn compound_kind(op: &BinOp) -> Option<Kind> {
    Some(match op {
        BinOp::AddAssign(_) => Kind::Add,
        BinOp::SubAssign(_) => Kind::Sub,
        BinOp::MulAssign(_) => Kind::Mul,
        BinOp::BitOrAssign(_) => Kind::BitOr,
        BinOp::BitAndAssign(_) => Kind::BitAnd,
        BinOp::BitXorAssign(_) => Kind::BitXor,
        _ => return None,
    })
}

/// `(x, index)` for the place `x[index]`.
pub fn element_place(place: &Expr) -> Option<(&Ident, &Expr)> {
    let Expr::Index(ix) = strip(place) else {
        return None;
    };
    Some((bare_ident(&ix.expr)?, &ix.index))
}

/// `(map, [key, first value])` for the place `*map.entry(key).or_insert(v0)`,
/// `(map, [key])` for `*map.entry(key).or_default()`.
fn entry_place(place: &Expr) -> Option<(&Ident, Vec<&Expr>)> {
    let Expr::Unary(deref) = strip(place) else {
        return None;
    };
    if !matches!(deref.op, syn::UnOp::Deref(_)) {
        return None;
    }
    let Expr::MethodCall(or) = strip(&deref.expr) else {
        return None;
    };
    let first = match (or.method.to_string().as_str(), or.args.len()) {
        ("or_insert", 1) => Some(&or.args[0]),
        ("or_default", 0) => None,
        _ => return None,
    };
    let Expr::MethodCall(entry) = strip(&or.receiver) else {
        return None;
    };
    if entry.method != "entry" || entry.args.len() != 1 || or.turbofish.is_some() {
        return None;
    }
    let map = bare_ident(&entry.receiver)?;
    Some((map, std::iter::once(&entry.args[0]).chain(first).collect()))
}

/// `expr` without parentheses or invisible groups.
pub fn strip(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(p) => strip(&p.expr),
        Expr::Group(g) => strip(&g.expr),
        _ => expr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(src: &str) -> Option<(String, Kind, Place, usize)> {
        let expr: Expr = syn::parse_str(src).unwrap();
        reduction_form(&expr, true)
            .map(|f| (f.ident.to_string(), f.kind, f.place, f.operands.len()))
    }

    #[test]
    fn shapes() {
        let f = |x: &str, k, p, n| Some((x.to_string(), k, p, n));
        assert_eq!(form("t += x"), f("t", Kind::Add, Place::Whole, 1));
        assert_eq!(
            form("*m.entry(k).or_insert(0) += 1"),
            f("m", Kind::Add, Place::Entry, 3)
        );
        assert_eq!(
            form("*(m.entry(k).or_default()) -= 1"),
            f("m", Kind::Sub, Place::Entry, 2)
        );
        assert_eq!(
            form("hist[bucket(x)] |= 1"),
            f("hist", Kind::BitOr, Place::Element, 2)
        );
        assert_eq!(form("m.entry(k).or_insert(0)"), None);
        assert_eq!(form("*m.get_mut(&k).unwrap() += 1"), None);
        assert_eq!(form("a.b[i] += 1"), None);
        assert_eq!(form("hist[i] = 1"), None);
    }
}
