//! Reduction partials for the code `#[parallel]` generates.
//!
//! A reduction such as `total += x` runs with one partial per worker: each
//! worker starts from an identity (`0` for `+=`), folds its items into it,
//! and the partials are combined in input order at the end. The macro cannot
//! name the variable's type, so it asks for the identity through a
//! [`Witness`]: `witness(&total)` captures the type of `total` (and nothing
//! else: no borrow, no value), and `witness.zero()` makes a fresh partial of
//! that type on any worker.
//!
//! Partials by update:
//! - `x += e`, `x -= e`, `x *= e`, `x |= e`, `x &= e`, `x ^= e`: a `T` starting at
//!   the operator's identity; the macro gets the operations as an [`Arith`] from
//!   [`Witness::sum`], [`Witness::difference`] (a `-=` partial sums what to
//!   subtract, then `x -= total`), [`Witness::product`], [`Witness::bit_or`],
//!   [`Witness::bit_and`], [`Witness::bit_xor`];
//! - `x = x.max(e)`, `x = x.min(e)`: an `Option<T>`, [`Witness::none`] until the
//!   worker's first item;
//! - `v.push(e)`, `v.extend(e)`: a `Vec<E>` ([`Witness::vec`]), concatenated in order;
//! - `set.insert(e)`, `map.insert(k, v)`: a `Vec` of the inserts ([`Witness::inserts`]),
//!   replayed in order after the loop;
//! - `*map.entry(k).or_insert(v) += e` (any of the six operators, or `.or_default()`):
//!   a map per task ([`Entries`]), merged by key;
//! - `a[index] += e` with any index (six operators): an array per task
//!   ([`elements()`]), combined element-wise.
//!
//! Not part of the public API: the macro's generated code is its only user.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::marker::PhantomData;
use std::num::Wrapping;
use std::ops::{AddAssign, BitAndAssign, BitOrAssign, BitXorAssign, MulAssign, SubAssign};

mod elements;
mod entries;

pub use elements::{ElementOps, ElementTarget, ElementWitness, elements};
pub use entries::{Entries, Entry, EntryOps, EntryTarget, EntryWitness};

/// The type of a reduction variable, without the variable.
///
/// `PhantomData<fn() -> T>` makes it `Copy`, `Send` and `Sync` for every
/// `T`, so the generated `init` closure can carry it to any worker even when
/// `T` itself is not `Sync`.
pub struct Witness<T>(PhantomData<fn() -> T>);

impl<T> Clone for Witness<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Witness<T> {}

impl<T> std::fmt::Debug for Witness<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Witness<{}>", std::any::type_name::<T>())
    }
}

/// The witness of `value`'s type. Reads nothing from `value`.
#[inline]
pub fn witness<T>(_value: &T) -> Witness<T> {
    Witness(PhantomData)
}

/// The operations of an arithmetic reduction (`+=`, `-=`, `*=`, `|=`, `&=`,
/// `^=`), made by [`Witness::sum`] and friends.
///
/// Plain function pointers: `Copy`, `Send` and `Sync` for any `T`, and free
/// of trait bounds, so only the one call that made them can fail to compile.
pub struct Arith<T> {
    identity: fn() -> T,
    combine: fn(&mut T, T),
    apply: fn(&mut T, T),
}

impl<T> Clone for Arith<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Arith<T> {}

impl<T> std::fmt::Debug for Arith<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Arith<{}>", std::any::type_name::<T>())
    }
}

impl<T> Arith<T> {
    /// A fresh partial: the operator's identity.
    #[inline]
    pub fn identity(self) -> T {
        (self.identity)()
    }

    /// Folds the partial of later items, `part`, into `acc`.
    #[inline]
    pub fn combine(self, acc: &mut T, part: T) {
        (self.combine)(acc, part);
    }

    /// Applies the combined partial to the user's variable.
    #[inline]
    pub fn apply(self, x: &mut T, total: T) {
        (self.apply)(x, total);
    }
}

/// Error value of the fold closure when `?` hits `None` in a fn returning
/// `Option`: the loop stops and the fn returns `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoneResidual;

/// Types that `+=` and `-=` reductions work on: zero, and adding partials.
///
/// The operators are supertraits so that a type that does not qualify
/// fails on this one bound, with this one message, wherever the generated
/// code uses it (rustc then reports it once).
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be a `+=`/`-=` reduction in a parallel loop",
    label = "autopar needs the zero of this type to start each worker's partial",
    note = "`+=`/`-=` reductions work on primitive integers, floats and `std::num::Wrapping`; for other types, collect with `v.push(e)` and combine after the loop"
)]
pub trait Sum: AddAssign + SubAssign + Sized {
    /// The identity of `+`.
    fn zero() -> Self;
}

/// Types that `*=` reductions work on.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be a `*=` reduction in a parallel loop",
    label = "autopar needs the one of this type to start each worker's partial",
    note = "`*=` reductions work on primitive integers, floats and `std::num::Wrapping`"
)]
pub trait Product: MulAssign + Sized {
    /// The identity of `*`.
    fn one() -> Self;
}

/// Types that `|=`, `&=` and `^=` reductions work on.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be a `|=`/`&=`/`^=` reduction in a parallel loop",
    label = "autopar needs the all-zeros and all-ones values of this type to start each worker's partial",
    note = "bit reductions work on primitive integers, `bool` and `std::num::Wrapping` of integers"
)]
pub trait Bits: BitOrAssign + BitAndAssign + BitXorAssign + Sized {
    /// The identity of `|` and `^`.
    fn no_bits() -> Self;
    /// The identity of `&`.
    fn all_ones() -> Self;
}

macro_rules! int_identities {
    ($($t:ty)*) => {$(
        impl Sum for $t {
            #[inline]
            fn zero() -> Self { 0 }
        }
        impl Product for $t {
            #[inline]
            fn one() -> Self { 1 }
        }
        impl Bits for $t {
            #[inline]
            fn no_bits() -> Self { 0 }
            #[inline]
            fn all_ones() -> Self { !0 }
        }
        impl Sum for Wrapping<$t> {
            #[inline]
            fn zero() -> Self { Wrapping(0) }
        }
        impl Product for Wrapping<$t> {
            #[inline]
            fn one() -> Self { Wrapping(1) }
        }
        impl Bits for Wrapping<$t> {
            #[inline]
            fn no_bits() -> Self { Wrapping(0) }
            #[inline]
            fn all_ones() -> Self { Wrapping(!0) }
        }
    )*};
}

int_identities!(i8 i16 i32 i64 i128 isize u8 u16 u32 u64 u128 usize);

macro_rules! float_identities {
    ($($t:ty)*) => {$(
        impl Sum for $t {
            // `-0.0` is the identity of float addition (`-0.0 + -0.0` is
            // `-0.0`, `0.0 + -0.0` is `0.0`), so a sum of negative zeros
            // keeps its sign as in the sequential loop.
            #[inline]
            fn zero() -> Self { -0.0 }
        }
        impl Product for $t {
            #[inline]
            fn one() -> Self { 1.0 }
        }
    )*};
}

float_identities!(f32 f64);

impl Bits for bool {
    #[inline]
    fn no_bits() -> Self {
        false
    }
    #[inline]
    fn all_ones() -> Self {
        true
    }
}

/// Collections `v.push(e)` / `v.extend(e)` reduce into.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't collect `push`/`extend` in a parallel loop",
    label = "autopar reduces `push` and `extend` into a `Vec` only",
    note = "collect into a `Vec` declared before the loop, then convert it after the loop"
)]
pub trait CollectTarget {
    /// The element type.
    type Elem;
}

impl<E> CollectTarget for Vec<E> {
    type Elem = E;
}

impl<E> CollectTarget for &mut Vec<E> {
    type Elem = E;
}

/// Std sets and maps that `insert` reduces into.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't collect `insert` in a parallel loop",
    label = "autopar reduces `insert` into `HashSet`, `BTreeSet`, `HashMap` and `BTreeMap` only",
    note = "collect pairs with `v.push((k, x))` into a `Vec` declared before the loop, then build the collection after the loop"
)]
pub trait InsertTarget {
    /// What one `insert` call adds: the value for sets, `(key, value)` for
    /// maps.
    type Elem;
}

impl<K, S> InsertTarget for HashSet<K, S> {
    type Elem = K;
}

impl<K> InsertTarget for BTreeSet<K> {
    type Elem = K;
}

impl<K, V, S> InsertTarget for HashMap<K, V, S> {
    type Elem = (K, V);
}

impl<K, V> InsertTarget for BTreeMap<K, V> {
    type Elem = (K, V);
}

impl<C: InsertTarget> InsertTarget for &mut C {
    type Elem = C::Elem;
}

impl<T> Witness<T> {
    /// A zero partial (`+=`, `-=`).
    #[inline]
    pub fn zero(self) -> T
    where
        T: Sum,
    {
        T::zero()
    }

    /// A one partial (`*=`).
    #[inline]
    pub fn one(self) -> T
    where
        T: Product,
    {
        T::one()
    }

    /// An all-zeros partial (`|=`, `^=`).
    #[inline]
    pub fn no_bits(self) -> T
    where
        T: Bits,
    {
        T::no_bits()
    }

    /// An all-ones partial (`&=`).
    #[inline]
    pub fn all_ones(self) -> T
    where
        T: Bits,
    {
        T::all_ones()
    }

    /// The operations of a `+=` reduction.
    ///
    /// The trait bound is checked here, once: the generated code then only
    /// calls [`Arith`]'s methods, which have none, so a type that cannot be
    /// reduced gets exactly one error.
    #[inline]
    pub fn sum(self) -> Arith<T>
    where
        T: Sum,
    {
        Arith {
            identity: T::zero,
            combine: |acc, part| *acc += part,
            apply: |x, total| *x += total,
        }
    }

    /// The operations of a `-=` reduction: partials sum what to subtract
    /// (so an unsigned `x` never underflows midway), the total is subtracted.
    #[inline]
    pub fn difference(self) -> Arith<T>
    where
        T: Sum,
    {
        Arith {
            identity: T::zero,
            combine: |acc, part| *acc += part,
            apply: |x, total| *x -= total,
        }
    }

    /// The operations of a `*=` reduction.
    #[inline]
    pub fn product(self) -> Arith<T>
    where
        T: Product,
    {
        Arith {
            identity: T::one,
            combine: |acc, part| *acc *= part,
            apply: |x, total| *x *= total,
        }
    }

    /// The operations of a `|=` reduction.
    #[inline]
    pub fn bit_or(self) -> Arith<T>
    where
        T: Bits,
    {
        Arith {
            identity: T::no_bits,
            combine: |acc, part| *acc |= part,
            apply: |x, total| *x |= total,
        }
    }

    /// The operations of a `&=` reduction.
    #[inline]
    pub fn bit_and(self) -> Arith<T>
    where
        T: Bits,
    {
        Arith {
            identity: T::all_ones,
            combine: |acc, part| *acc &= part,
            apply: |x, total| *x &= total,
        }
    }

    /// The operations of a `^=` reduction.
    #[inline]
    pub fn bit_xor(self) -> Arith<T>
    where
        T: Bits,
    {
        Arith {
            identity: T::no_bits,
            combine: |acc, part| *acc ^= part,
            apply: |x, total| *x ^= total,
        }
    }

    /// An empty `max`/`min` partial: `None` until the worker's first item.
    #[inline]
    pub fn none(self) -> Option<T> {
        None
    }

    /// An empty `push`/`extend` partial.
    #[inline]
    pub fn vec(self) -> Vec<T::Elem>
    where
        T: CollectTarget,
    {
        Vec::new()
    }

    /// An empty `insert` partial: the inserts, in order, to replay after the
    /// loop (so the last insert of a key wins, as in the sequential loop).
    #[inline]
    pub fn inserts(self) -> Vec<T::Elem>
    where
        T: InsertTarget,
    {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_copy<T: Send + Sync + Copy>(_: T) {}

    #[test]
    fn witness_is_send_sync_copy_for_any_type() {
        let cell = std::cell::Cell::new(1u8); // neither Sync nor Copy
        assert_send_sync_copy(witness(&cell));
        let rc = std::rc::Rc::new(1); // not Send
        assert_send_sync_copy(witness(&rc));
    }

    #[test]
    fn identities() {
        assert_eq!(witness(&5u32).zero(), 0);
        assert_eq!(witness(&5i64).one(), 1);
        assert_eq!(witness(&5u8).all_ones(), 255);
        assert_eq!(witness(&5u8).no_bits(), 0);
        assert_eq!(witness(&5i16).all_ones(), -1);
        assert_eq!(witness(&Wrapping(3u64)).zero(), Wrapping(0));
        assert_eq!(witness(&Wrapping(3u64)).all_ones(), Wrapping(u64::MAX));
        assert_eq!(witness(&1.5f64).one(), 1.0);
        assert!(!witness(&true).no_bits());
        assert!(witness(&false).all_ones());
    }

    #[test]
    fn float_zero_keeps_negative_zero() {
        let z = witness(&0.0f64).zero();
        assert!((z + -0.0f64).is_sign_negative());
        assert_eq!(z + 2.5, 2.5);
    }

    #[test]
    fn identities_are_neutral() {
        for x in [0u32, 1, 7, u32::MAX] {
            let w = witness(&x);
            assert_eq!(w.zero() + x, x);
            assert_eq!(w.one() * x, x);
            assert_eq!(w.all_ones() & x, x);
            assert_eq!(w.no_bits() | x, x);
            assert_eq!(w.no_bits() ^ x, x);
        }
    }

    #[test]
    fn arith_ops() {
        let w = witness(&0u32);
        assert_send_sync_copy(w.sum());
        // `x -= e` over [5, 7] from 20: partials add up, the total is subtracted.
        let diff = w.difference();
        let mut part = diff.identity();
        diff.combine(&mut part, 5);
        diff.combine(&mut part, 7);
        let mut x = 20u32;
        diff.apply(&mut x, part);
        assert_eq!(x, 8);
        let prod = w.product();
        let mut p = prod.identity();
        prod.combine(&mut p, 3);
        let mut y = 2;
        prod.apply(&mut y, p);
        assert_eq!(y, 6);
        let (or, and, xor) = (w.bit_or(), w.bit_and(), w.bit_xor());
        assert_eq!(
            (or.identity(), and.identity(), xor.identity()),
            (0, u32::MAX, 0)
        );
        let mut b = 0b1100;
        or.apply(&mut b, 0b0001);
        and.apply(&mut b, 0b0111);
        xor.apply(&mut b, 0b0011);
        assert_eq!(b, 0b0110);
        let f = witness(&1.0f64).sum();
        let mut t = 1.5;
        f.apply(&mut t, 2.0);
        assert_eq!(t, 3.5);
    }

    #[test]
    fn partials() {
        let best = 3i32;
        assert_eq!(witness(&best).none(), None);
        let v: Vec<String> = Vec::new();
        let mut p = witness(&v).vec();
        p.push("a".to_string());
        let mut v2 = vec![1u8];
        let r = &mut v2;
        let p2: Vec<u8> = witness(&r).vec();
        assert!(p2.is_empty());
        let set: HashSet<u32> = HashSet::new();
        let mut ins = witness(&set).inserts();
        ins.push(4u32);
        let map: BTreeMap<u8, char> = BTreeMap::new();
        let mut ins = witness(&map).inserts();
        ins.push((1u8, 'x'));
        let mut map2 = HashMap::<u8, u8>::new();
        let m = &mut map2;
        let ins: Vec<(u8, u8)> = witness(&m).inserts();
        assert!(ins.is_empty());
    }

    /// The replay the generated code does: `extend` inserts one by one, so
    /// the last insert of a key wins, as in a sequential loop.
    #[test]
    fn insert_replay_matches_sequential() {
        let pairs = [(1, 'a'), (2, 'b'), (1, 'c')];
        let mut seq = HashMap::new();
        for (k, v) in pairs {
            seq.insert(k, v);
        }
        let mut replayed = HashMap::new();
        let mut partial = witness(&replayed).inserts();
        partial.extend(pairs);
        replayed.extend(partial);
        assert_eq!(seq, replayed);
    }
}
