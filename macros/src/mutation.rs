//! Method calls that change a variable declared outside the loop, other than
//! the reductions autopar translates.
//!
//! The loop body runs as a closure that shares outer variables read-only, so
//! `if seen.insert(x) { .. }` or `v.sort()` would fail with rustc's E0596
//! about a closure the user never wrote. The macro cannot see types, so it
//! knows these calls by name: the `&mut self` methods of std's collections
//! that are common in loop bodies. A call on one of them gets autopar's own
//! error, saying why the loop can't run it and what to write instead.

use crate::ctxt::help;

/// Whether `method` on a std collection takes `&mut self`.
///
/// Methods that std's atomics and cells also have with `&self` (`swap`,
/// `store`, `set`, `fetch_add`, ..) are left out: those are fine to share.
pub fn is_mutating(method: &str) -> bool {
    matches!(
        method,
        "insert"
            | "remove"
            | "take"
            | "replace"
            | "pop"
            | "pop_front"
            | "pop_back"
            | "pop_first"
            | "pop_last"
            | "push_front"
            | "push_back"
            | "push_str"
            | "insert_str"
            | "append"
            | "clear"
            | "truncate"
            | "retain"
            | "retain_mut"
            | "drain"
            | "sort"
            | "sort_by"
            | "sort_by_key"
            | "sort_unstable"
            | "sort_unstable_by"
            | "sort_unstable_by_key"
            | "dedup"
            | "dedup_by_key"
            | "reverse"
            | "fill"
            | "entry"
            | "get_mut"
            | "iter_mut"
            | "values_mut"
            | "first_mut"
            | "last_mut"
            | "split_off"
            | "resize"
            | "extend_from_slice"
            | "swap_remove"
            | "get_or_insert_with"
    )
}

/// A mutating call on an outer variable that is not a reduction.
#[derive(Clone, Debug)]
pub struct MutCall {
    /// The variable.
    pub name: String,
    /// The method.
    pub method: String,
    /// The call's result is used (`if seen.insert(x)`), not dropped.
    pub value_used: bool,
    /// The call is inside a closure of the body.
    pub in_closure: bool,
}

impl MutCall {
    /// The error: why the parallel loop can't make the call, and the fix.
    pub fn message(&self) -> String {
        let (x, m) = (&self.name, &self.method);
        if self.in_closure {
            return help(
                format!(
                    "can't call `{x}.{m}(..)` inside a closure in a parallel loop: it changes `{x}`, which every iteration shares"
                ),
                "move the update out of the closure into the loop body, where `+=`, `.push`, `.insert` and `*map.entry(k).or_insert(0) += e` on outer variables become reductions",
            );
        }
        match m.as_str() {
            "entry" => help(
                format!(
                    "`{x}.entry(..)` in a parallel loop is a reduction only as `*{x}.entry(k).or_insert(v) += e` (or `-=`, `*=`, `|=`, `&=`, `^=`, or `.or_default()`)"
                ),
                format!(
                    "write the update in that form, or collect pairs with `pairs.push((k, e))` and build `{x}` after the loop"
                ),
            ),
            "insert" | "remove" | "take" | "replace" | "pop" | "pop_front" | "pop_back"
            | "pop_first" | "pop_last"
                if self.value_used =>
            {
                help(
                    format!(
                        "the result of `{x}.{m}(..)` depends on which iterations ran before this one, and a parallel loop runs them in no fixed order"
                    ),
                    format!(
                        "to collect, make it a statement of its own (`{x}.insert(e);` is a reduction) and use `{x}` after the loop; to act on first occurrences, dedup first (collect the items into a set, then loop over the set); or run this loop with `#[parallel(seq)]`"
                    ),
                )
            }
            _ => help(
                format!(
                    "`{x}.{m}(..)` changes `{x}`, which every iteration of the parallel loop shares"
                ),
                format!(
                    "autopar runs these updates of outer variables as reductions: `x += e`, `x = x.max(e)`, `v.push(e)`, `set.insert(e);`, `*map.entry(k).or_insert(0) += e`, `hist[i] += e`; call `{x}.{m}(..)` before or after the loop, or run this loop with `#[parallel(seq)]`"
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_mutating("insert") && is_mutating("entry") && is_mutating("sort"));
        assert!(!is_mutating("swap") && !is_mutating("store") && !is_mutating("len"));
    }

    #[test]
    fn messages_name_the_fix() {
        let call = |m: &str, value_used| MutCall {
            name: "seen".into(),
            method: m.into(),
            value_used,
            in_closure: false,
        };
        assert!(call("insert", true).message().contains("no fixed order"));
        assert!(call("entry", false).message().contains("or_insert(v) += e"));
        assert!(call("clear", false).message().contains("\nhelp: "));
    }
}
