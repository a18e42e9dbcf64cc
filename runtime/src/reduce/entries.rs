//! Partials of `*map.entry(k).or_insert(v0) += e` (and `-=`, `*=`, `|=`, `&=`,
//! `^=`, and `.or_default()`).
//!
//! Each task keeps a map of its own, [`Entries`], under the variable's name, so the
//! user's statement compiles against it unchanged: `entry(k)` and `or_insert(v0)` /
//! `or_default()` are methods of the partial too. Per key it holds the first value of
//! the key in the task's items (`v0` as evaluated there) and the task's updates folded
//! from the operator's identity. Tasks merge in input order (the earlier task's first
//! value wins), and after the loop each key is applied to the user's map: an existing
//! value is updated with the folded updates, a missing key starts at its first value.
//! For `+` that is `v0 + (e1 + e2 + ..)` where the loop computes `(v0 + e1) + e2 + ..`:
//! equal for integers, equal up to rounding for floats.
//!
//! Memory: one map per task, with one entry per distinct key the task saw (two values
//! each). The merge walks the smaller of two maps.

use std::collections::btree_map::{self, BTreeMap};
use std::collections::hash_map::{self, HashMap};
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

use super::{Arith, Bits, Product, Sum, Witness};

/// Std maps that `*map.entry(k).or_insert(v) OP= e` reduces into.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be reduced by entry (`*map.entry(k).or_insert(v) += e`) in a parallel loop",
    label = "autopar reduces entries of `HashMap` and `BTreeMap` only",
    note = "collect pairs with `v.push((k, e))` into a `Vec` declared before the loop, then build the map after the loop"
)]
pub trait EntryTarget {
    /// The key type.
    type Key;
    /// The value type.
    type Value;
    /// A task's map: per key, the first value and the folded updates.
    type Partial;

    /// An empty task map.
    fn empty() -> Self::Partial;

    /// The folded updates of `key` in `partial`, made `(first(), identity())` if the
    /// key is new there.
    fn slot(
        partial: &mut Self::Partial,
        key: Self::Key,
        first: impl FnOnce() -> Self::Value,
        identity: fn() -> Self::Value,
    ) -> &mut Self::Value;

    /// Merges `later` (the map of later items) into `earlier`.
    fn merge(
        earlier: &mut Self::Partial,
        later: Self::Partial,
        combine: fn(&mut Self::Value, Self::Value),
    );

    /// Applies a merged map to the user's map.
    fn apply(&mut self, partial: Self::Partial, apply: fn(&mut Self::Value, Self::Value));
}

/// Merges two per-key partials of one key: `earlier` takes its own first value and
/// `earlier's updates OP later's updates`, whichever of the two maps holds the result.
fn merge_values<V>(
    into: &mut (V, V),
    other: (V, V),
    other_is_earlier: bool,
    combine: fn(&mut V, V),
) {
    if other_is_earlier {
        let later = std::mem::replace(&mut into.1, other.1);
        into.0 = other.0;
        combine(&mut into.1, later);
    } else {
        combine(&mut into.1, other.1);
    }
}

impl<K: Hash + Eq, V, S: BuildHasher + Default> EntryTarget for HashMap<K, V, S> {
    type Key = K;
    type Value = V;
    type Partial = HashMap<K, (V, V), S>;

    fn empty() -> Self::Partial {
        HashMap::with_hasher(S::default())
    }

    #[inline]
    fn slot(
        partial: &mut Self::Partial,
        key: K,
        first: impl FnOnce() -> V,
        identity: fn() -> V,
    ) -> &mut V {
        &mut partial
            .entry(key)
            .or_insert_with(|| (first(), identity()))
            .1
    }

    fn merge(earlier: &mut Self::Partial, later: Self::Partial, combine: fn(&mut V, V)) {
        // Walk the smaller map: the operators are commutative, and `merge_values`
        // keeps the earlier first value whichever way round.
        let (mut into, from, from_is_earlier) = if later.len() > earlier.len() {
            (later, std::mem::take(earlier), true)
        } else {
            (std::mem::take(earlier), later, false)
        };
        for (key, values) in from {
            match into.entry(key) {
                hash_map::Entry::Occupied(mut o) => {
                    merge_values(o.get_mut(), values, from_is_earlier, combine)
                }
                hash_map::Entry::Vacant(v) => {
                    v.insert(values);
                }
            }
        }
        *earlier = into;
    }

    fn apply(&mut self, partial: Self::Partial, apply: fn(&mut V, V)) {
        self.reserve(partial.len().saturating_sub(self.capacity() - self.len()));
        for (key, (first, updates)) in partial {
            match self.entry(key) {
                hash_map::Entry::Occupied(o) => apply(o.into_mut(), updates),
                hash_map::Entry::Vacant(v) => apply(v.insert(first), updates),
            }
        }
    }
}

impl<K: Ord, V> EntryTarget for BTreeMap<K, V> {
    type Key = K;
    type Value = V;
    type Partial = BTreeMap<K, (V, V)>;

    fn empty() -> Self::Partial {
        BTreeMap::new()
    }

    #[inline]
    fn slot(
        partial: &mut Self::Partial,
        key: K,
        first: impl FnOnce() -> V,
        identity: fn() -> V,
    ) -> &mut V {
        &mut partial
            .entry(key)
            .or_insert_with(|| (first(), identity()))
            .1
    }

    fn merge(earlier: &mut Self::Partial, later: Self::Partial, combine: fn(&mut V, V)) {
        let (mut into, from, from_is_earlier) = if later.len() > earlier.len() {
            (later, std::mem::take(earlier), true)
        } else {
            (std::mem::take(earlier), later, false)
        };
        for (key, values) in from {
            match into.entry(key) {
                btree_map::Entry::Occupied(mut o) => {
                    merge_values(o.get_mut(), values, from_is_earlier, combine)
                }
                btree_map::Entry::Vacant(v) => {
                    v.insert(values);
                }
            }
        }
        *earlier = into;
    }

    fn apply(&mut self, partial: Self::Partial, apply: fn(&mut V, V)) {
        for (key, (first, updates)) in partial {
            match self.entry(key) {
                btree_map::Entry::Occupied(o) => apply(o.into_mut(), updates),
                btree_map::Entry::Vacant(v) => apply(v.insert(first), updates),
            }
        }
    }
}

impl<M: EntryTarget> EntryTarget for &mut M {
    type Key = M::Key;
    type Value = M::Value;
    type Partial = M::Partial;

    fn empty() -> Self::Partial {
        M::empty()
    }

    #[inline]
    fn slot(
        partial: &mut Self::Partial,
        key: Self::Key,
        first: impl FnOnce() -> Self::Value,
        identity: fn() -> Self::Value,
    ) -> &mut Self::Value {
        M::slot(partial, key, first, identity)
    }

    fn merge(
        earlier: &mut Self::Partial,
        later: Self::Partial,
        combine: fn(&mut M::Value, M::Value),
    ) {
        M::merge(earlier, later, combine);
    }

    fn apply(&mut self, partial: Self::Partial, apply: fn(&mut M::Value, M::Value)) {
        (**self).apply(partial, apply);
    }
}

/// The value type of an entry reduction's map, to pick the operations by.
pub struct EntryWitness<M>(PhantomData<fn() -> M>);

impl<M> Clone for EntryWitness<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for EntryWitness<M> {}

impl<M> Witness<M> {
    /// The witness of an entry reduction of this map.
    ///
    /// The bound is on the method, not the `impl`, so that a type that is not a map
    /// fails on it with [`EntryTarget`]'s message rather than "method not found".
    #[inline]
    pub fn entries(self) -> EntryWitness<M>
    where
        M: EntryTarget,
    {
        EntryWitness(PhantomData)
    }
}

// Bounds on the methods, not the `impl`: a type that is not a map then fails once,
// on `entries`, with `EntryTarget`'s message.
impl<M> EntryWitness<M> {
    fn ops(self, ops: Arith<M::Value>) -> EntryOps<M>
    where
        M: EntryTarget,
    {
        EntryOps {
            ops,
            _map: PhantomData,
        }
    }

    fn values(self) -> Witness<M::Value>
    where
        M: EntryTarget,
    {
        Witness(PhantomData)
    }

    /// `*map.entry(k).or_insert(v) += e`.
    #[inline]
    pub fn sum(self) -> EntryOps<M>
    where
        M: EntryTarget,
        M::Value: Sum,
    {
        self.ops(self.values().sum())
    }

    /// `-=`: the task's updates sum what to subtract.
    #[inline]
    pub fn difference(self) -> EntryOps<M>
    where
        M: EntryTarget,
        M::Value: Sum,
    {
        self.ops(self.values().difference())
    }

    /// `*=`.
    #[inline]
    pub fn product(self) -> EntryOps<M>
    where
        M: EntryTarget,
        M::Value: Product,
    {
        self.ops(self.values().product())
    }

    /// `|=`.
    #[inline]
    pub fn bit_or(self) -> EntryOps<M>
    where
        M: EntryTarget,
        M::Value: Bits,
    {
        self.ops(self.values().bit_or())
    }

    /// `&=`.
    #[inline]
    pub fn bit_and(self) -> EntryOps<M>
    where
        M: EntryTarget,
        M::Value: Bits,
    {
        self.ops(self.values().bit_and())
    }

    /// `^=`.
    #[inline]
    pub fn bit_xor(self) -> EntryOps<M>
    where
        M: EntryTarget,
        M::Value: Bits,
    {
        self.ops(self.values().bit_xor())
    }
}

/// The operations of an entry reduction: the same three as [`Arith`]'s, on maps.
pub struct EntryOps<M: EntryTarget> {
    ops: Arith<M::Value>,
    _map: PhantomData<fn() -> M>,
}

impl<M: EntryTarget> Clone for EntryOps<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: EntryTarget> Copy for EntryOps<M> {}

impl<M: EntryTarget> EntryOps<M> {
    /// An empty task map.
    #[inline]
    pub fn identity(self) -> Entries<M> {
        Entries {
            map: M::empty(),
            identity: self.ops.identity,
        }
    }

    /// Merges the map of later items, `part`, into `acc`.
    pub fn combine(self, acc: &mut Entries<M>, part: Entries<M>) {
        M::merge(&mut acc.map, part.map, self.ops.combine);
    }

    /// Applies the merged map to the user's map.
    pub fn apply(self, map: &mut M, total: Entries<M>) {
        map.apply(total.map, self.ops.apply);
    }
}

/// A task's map for an entry reduction, under the map's own name in the loop body.
pub struct Entries<M: EntryTarget> {
    map: M::Partial,
    identity: fn() -> M::Value,
}

impl<M: EntryTarget> Entries<M> {
    /// The entry of `key`, as `map.entry(key)` in the body.
    #[inline]
    pub fn entry(&mut self, key: M::Key) -> Entry<'_, M> {
        Entry { map: self, key }
    }
}

/// An entry of a task's map: `or_insert` / `or_default` give the task's updates.
pub struct Entry<'a, M: EntryTarget> {
    map: &'a mut Entries<M>,
    key: M::Key,
}

impl<'a, M: EntryTarget> Entry<'a, M> {
    /// The task's folded updates of the key; `first` is the key's value if the map
    /// has none when the loop ends.
    #[inline]
    pub fn or_insert(self, first: M::Value) -> &'a mut M::Value {
        let identity = self.map.identity;
        M::slot(&mut self.map.map, self.key, || first, identity)
    }

    /// As [`Entry::or_insert`] with `Default::default()`.
    #[inline]
    pub fn or_default(self) -> &'a mut M::Value
    where
        M::Value: Default,
    {
        let identity = self.map.identity;
        M::slot(&mut self.map.map, self.key, M::Value::default, identity)
    }
}

#[cfg(test)]
mod tests {
    use super::super::witness;
    use super::*;

    /// Splits `items` into tasks at `cuts`, folds each, merges in order, applies.
    fn run<M: EntryTarget<Key = u8, Value = i64>>(
        map: &mut M,
        ops: EntryOps<M>,
        items: &[(u8, i64)],
        cuts: &[usize],
    ) {
        let mut parts = Vec::new();
        let mut start = 0;
        for &end in cuts.iter().chain([&items.len()]) {
            let mut part = ops.identity();
            for &(k, e) in &items[start..end] {
                // `-= e`, as translated: the task sums what to subtract.
                *part.entry(k).or_insert(100) += e;
            }
            parts.push(part);
            start = end;
        }
        let mut acc = ops.identity();
        for part in parts {
            ops.combine(&mut acc, part);
        }
        ops.apply(map, acc);
    }

    #[test]
    fn merged_tasks_equal_the_sequential_loop() {
        let items = [(1, 5), (2, 7), (1, 1), (3, 2), (2, 2), (1, 3), (4, 9)];
        let mut seq: HashMap<u8, i64> = HashMap::from([(2, 50)]);
        for &(k, e) in &items {
            *seq.entry(k).or_insert(100) -= e;
        }
        for cuts in [&[][..], &[1], &[3, 4], &[1, 2, 3, 4, 5, 6]] {
            let mut par: HashMap<u8, i64> = HashMap::from([(2, 50)]);
            // `-=` is reduced as a sum of what to subtract (see `difference`).
            let ops = witness(&par).entries().difference();
            run(&mut par, ops, &items, cuts);
            assert_eq!(par, seq, "cuts {cuts:?}");
            let mut tree: BTreeMap<u8, i64> = BTreeMap::from([(2, 50)]);
            let mut by_ref = &mut tree;
            let ops = witness(&by_ref).entries().difference();
            run(&mut by_ref, ops, &items, cuts);
            assert_eq!(tree.into_iter().collect::<HashMap<_, _>>(), seq);
        }
    }

    #[test]
    fn the_first_value_of_the_earliest_task_wins() {
        let mut map: HashMap<u8, u32> = HashMap::new();
        let ops = witness(&map).entries().sum();
        let mut a = ops.identity();
        *a.entry(1).or_insert(10) += 1;
        let mut b = ops.identity();
        *b.entry(1).or_insert(20) += 2;
        *b.entry(2).or_default() += 3;
        ops.combine(&mut a, b);
        ops.apply(&mut map, a);
        assert_eq!(map, HashMap::from([(1, 13), (2, 3)]));
    }
}
