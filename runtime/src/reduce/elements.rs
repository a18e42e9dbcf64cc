//! Partials of `a[index] += e` (and `-=`, `*=`, `|=`, `&=`, `^=`) with an index that
//! depends on the item: `hist[bucket(x)] += 1`, OpenMP's `reduction(+: hist[:n])`.
//!
//! Each task keeps an array of its own as long as `a` is when the loop starts, every
//! element at the operator's identity, under the variable's name: the body indexes it
//! as it would index `a`, with the same bounds. Tasks combine element-wise in input
//! order, and the result is applied to `a` element-wise.
//!
//! Memory and time: one array of `a.len()` elements per task (not per item), filled
//! once and combined once: `tasks × a.len()` element operations on top of the loop.
//! For a 256-bucket histogram that is nothing; for an array as long as the input it
//! can cost more than the loop saves (the plan's chunk sets the number of tasks).

use std::collections::VecDeque;

use super::{Arith, Bits, Product, Sum};

/// Arrays, slices and `Vec`s whose elements `a[i] OP= e` reduces into.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be reduced by element (`a[i] += e`) in a parallel loop",
    label = "autopar reduces elements of arrays, slices, `Vec`s and `VecDeque`s",
    note = "reduce into a `Vec` declared before the loop, then copy it where it belongs after the loop"
)]
pub trait ElementTarget {
    /// The element type.
    type Elem;
    /// The number of elements.
    fn count(&self) -> usize;
    /// Applies `apply(&mut self[i], part[i])` for every element.
    fn apply_each(&mut self, part: Vec<Self::Elem>, apply: fn(&mut Self::Elem, Self::Elem));
}

/// Applies `part` to the elements of `slice`, pairwise.
fn apply_slice<T>(slice: &mut [T], part: Vec<T>, apply: fn(&mut T, T)) {
    for (x, p) in slice.iter_mut().zip(part) {
        apply(x, p);
    }
}

impl<T> ElementTarget for [T] {
    type Elem = T;
    fn count(&self) -> usize {
        self.len()
    }
    fn apply_each(&mut self, part: Vec<T>, apply: fn(&mut T, T)) {
        apply_slice(self, part, apply);
    }
}

impl<T, const N: usize> ElementTarget for [T; N] {
    type Elem = T;
    fn count(&self) -> usize {
        N
    }
    fn apply_each(&mut self, part: Vec<T>, apply: fn(&mut T, T)) {
        apply_slice(self, part, apply);
    }
}

impl<T> ElementTarget for Vec<T> {
    type Elem = T;
    fn count(&self) -> usize {
        self.len()
    }
    fn apply_each(&mut self, part: Vec<T>, apply: fn(&mut T, T)) {
        apply_slice(self, part, apply);
    }
}

impl<T> ElementTarget for Box<[T]> {
    type Elem = T;
    fn count(&self) -> usize {
        self.len()
    }
    fn apply_each(&mut self, part: Vec<T>, apply: fn(&mut T, T)) {
        apply_slice(self, part, apply);
    }
}

impl<T> ElementTarget for VecDeque<T> {
    type Elem = T;
    fn count(&self) -> usize {
        self.len()
    }
    fn apply_each(&mut self, part: Vec<T>, apply: fn(&mut T, T)) {
        for (x, p) in self.iter_mut().zip(part) {
            apply(x, p);
        }
    }
}

impl<A: ElementTarget + ?Sized> ElementTarget for &mut A {
    type Elem = A::Elem;
    fn count(&self) -> usize {
        (**self).count()
    }
    fn apply_each(&mut self, part: Vec<A::Elem>, apply: fn(&mut A::Elem, A::Elem)) {
        (**self).apply_each(part, apply);
    }
}

/// The length and element type of an element reduction's array.
pub struct ElementWitness<A: ?Sized> {
    len: usize,
    _array: std::marker::PhantomData<fn(&A)>,
}

impl<A: ?Sized> Clone for ElementWitness<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A: ?Sized> Copy for ElementWitness<A> {}

/// The witness of `array` for an element reduction: its type and its length now.
#[inline]
pub fn elements<A: ElementTarget + ?Sized>(array: &A) -> ElementWitness<A> {
    ElementWitness {
        len: array.count(),
        _array: std::marker::PhantomData,
    }
}

impl<A: ElementTarget + ?Sized> ElementWitness<A> {
    fn ops(self, ops: Arith<A::Elem>) -> ElementOps<A> {
        ElementOps {
            len: self.len,
            ops,
            _array: std::marker::PhantomData,
        }
    }

    fn elem(self) -> super::Witness<A::Elem> {
        super::Witness(std::marker::PhantomData)
    }

    /// `a[i] += e`.
    #[inline]
    pub fn sum(self) -> ElementOps<A>
    where
        A::Elem: Sum,
    {
        self.ops(self.elem().sum())
    }

    /// `a[i] -= e`: the task's array sums what to subtract.
    #[inline]
    pub fn difference(self) -> ElementOps<A>
    where
        A::Elem: Sum,
    {
        self.ops(self.elem().difference())
    }

    /// `a[i] *= e`.
    #[inline]
    pub fn product(self) -> ElementOps<A>
    where
        A::Elem: Product,
    {
        self.ops(self.elem().product())
    }

    /// `a[i] |= e`.
    #[inline]
    pub fn bit_or(self) -> ElementOps<A>
    where
        A::Elem: Bits,
    {
        self.ops(self.elem().bit_or())
    }

    /// `a[i] &= e`.
    #[inline]
    pub fn bit_and(self) -> ElementOps<A>
    where
        A::Elem: Bits,
    {
        self.ops(self.elem().bit_and())
    }

    /// `a[i] ^= e`.
    #[inline]
    pub fn bit_xor(self) -> ElementOps<A>
    where
        A::Elem: Bits,
    {
        self.ops(self.elem().bit_xor())
    }
}

/// The operations of an element reduction: the same three as [`Arith`]'s, on arrays.
pub struct ElementOps<A: ElementTarget + ?Sized> {
    len: usize,
    ops: Arith<A::Elem>,
    _array: std::marker::PhantomData<fn(&A)>,
}

impl<A: ElementTarget + ?Sized> Clone for ElementOps<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A: ElementTarget + ?Sized> Copy for ElementOps<A> {}

impl<A: ElementTarget + ?Sized> ElementOps<A> {
    /// Elements of a task's array: what making and combining it costs, in items.
    #[inline]
    pub fn partial_len(self) -> usize {
        self.len
    }

    /// A task's array: `len` identities.
    #[inline]
    pub fn identity(self) -> Vec<A::Elem> {
        let mut part = Vec::with_capacity(self.len);
        part.resize_with(self.len, self.ops.identity);
        part
    }

    /// Combines the array of later items, `part`, into `acc`, element by element.
    pub fn combine(self, acc: &mut [A::Elem], part: Vec<A::Elem>) {
        for (a, p) in acc.iter_mut().zip(part) {
            (self.ops.combine)(a, p);
        }
    }

    /// Applies the combined array to the user's.
    pub fn apply(self, array: &mut A, total: Vec<A::Elem>) {
        array.apply_each(total, self.ops.apply);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_combine_element_wise() {
        let items = [3usize, 1, 3, 0, 2, 3];
        let mut seq = [10u32, 0, 0, 5];
        for &i in &items {
            seq[i] += i as u32;
        }
        for cut in 0..=items.len() {
            let mut hist = [10u32, 0, 0, 5];
            let ops = elements(&hist).sum();
            let mut a = ops.identity();
            let mut b = ops.identity();
            for &i in &items[..cut] {
                a[i] += i as u32;
            }
            for &i in &items[cut..] {
                b[i] += i as u32;
            }
            ops.combine(&mut a, b);
            ops.apply(&mut hist, a);
            assert_eq!(hist, seq);
        }
        let mut v = vec![8u8; 3];
        let r = &mut v;
        let ops = elements(&r).difference();
        let mut part = ops.identity();
        assert_eq!(part.len(), 3);
        part[1] += 5;
        let mut r = r;
        ops.apply(&mut r, part);
        assert_eq!(v, [8, 3, 8]);
    }
}
