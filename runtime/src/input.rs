//! What a parallel loop can iterate over.
//!
//! Inputs come in two shapes, and the engine treats them differently:
//! - **indexed** (slices, `Vec`, arrays, `VecDeque`, integer ranges, `&mut` slices): the
//!   length is known and the input is split by index, never collected first. These are
//!   driven through rayon's [`Producer`], so anything rayon can split we can too. (An
//!   integer range with more items than `usize` counts runs as a stream instead.)
//! - **sequential** (any other iterator, wrapped with [`iter`]): pulled in batches under
//!   a lock by the workers, so memory stays O(workers × batch) whatever the length.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::{Range, RangeInclusive};

use rayon::iter::plumbing::{Producer, ProducerCallback};
use rayon::prelude::*;

/// Something a parallel loop can iterate over: the argument of
/// [`Parallel::for_each`](crate::Parallel::for_each) and friends.
///
/// Implemented for slices, `Vec` (by value, by reference and by mutable reference),
/// arrays, `VecDeque`, integer ranges, references to std maps and sets, and [`Iter`]
/// (any iterator, through [`iter`]). Items must be [`Send`]: they may be handed to
/// another thread.
///
/// ```
/// use autopar::Parallel;
/// let words = vec!["a", "bb", "ccc"];
/// let lengths: Vec<usize> = Parallel::auto().map(&words, |w| w.len());
/// assert_eq!(lengths, [1, 2, 3]);
/// let squares: Vec<u64> = Parallel::auto().map(1..4u64, |i| i * i);
/// assert_eq!(squares, [1, 4, 9]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the input of a parallel loop",
    label = "not a slice, Vec, array, range or map, or its items are not `Send`",
    note = "wrap any other iterator with `autopar::iter(..)`; its items must be `Send`"
)]
pub trait IntoParallelInput {
    /// The item the loop body receives.
    type Item: Send;
    /// The input after conversion.
    type Input: ParallelInput<Item = Self::Item>;
    /// Converts `self` into an input the engine can split.
    fn into_parallel_input(self) -> Self::Input;
}

/// An input converted for the engine. Implementation detail of [`IntoParallelInput`];
/// its methods are not part of the stable API.
pub trait ParallelInput: Sized {
    /// The item the loop body receives.
    type Item: Send;
    /// The exact number of items, when known without consuming the input.
    fn exact_len(&self) -> Option<usize>;
    /// Hands the input to `driver` in the richest shape it supports.
    #[doc(hidden)]
    fn drive<D: Drive<Self::Item>>(self, driver: D) -> D::Output;
}

/// Consumes an input in one of its two shapes. Implementation detail of the engine.
#[doc(hidden)]
pub trait Drive<T: Send> {
    /// What driving produces.
    type Output;
    /// An input split by index.
    fn indexed<P: Producer<Item = T>>(self, items: Span<P>) -> Self::Output;
    /// An input that can only be pulled item by item.
    fn sequential<I: Iterator<Item = T> + Send>(self, iter: I) -> Self::Output;
}

impl<T: ParallelInput> IntoParallelInput for T {
    type Item = T::Item;
    type Input = T;
    fn into_parallel_input(self) -> T {
        self
    }
}

/// An indexed input backed by a rayon indexed parallel iterator.
#[doc(hidden)]
pub struct Indexed<P>(P);

/// A rayon producer with its length (rayon tracks lengths beside its producers).
#[doc(hidden)]
pub struct Span<P> {
    producer: P,
    len: usize,
}

impl<P: Producer> Span<P> {
    pub(crate) fn new(producer: P, len: usize) -> Self {
        Span { producer, len }
    }

    /// Number of items.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The first `index` items and the rest.
    #[inline]
    pub(crate) fn split_at(self, index: usize) -> (Self, Self) {
        let (left, right) = self.producer.split_at(index);
        (Span::new(left, index), Span::new(right, self.len - index))
    }

    /// The items, in order.
    #[inline]
    pub(crate) fn into_iter(self) -> P::IntoIter {
        self.producer.into_iter()
    }
}

struct ProducerToDriver<D> {
    driver: D,
    len: usize,
}

impl<T: Send, D: Drive<T>> ProducerCallback<T> for ProducerToDriver<D> {
    type Output = D::Output;
    fn callback<P: Producer<Item = T>>(self, producer: P) -> D::Output {
        self.driver.indexed(Span::new(producer, self.len))
    }
}

impl<P: IndexedParallelIterator> ParallelInput for Indexed<P> {
    type Item = P::Item;
    fn exact_len(&self) -> Option<usize> {
        Some(self.0.len())
    }
    fn drive<D: Drive<P::Item>>(self, driver: D) -> D::Output {
        let len = self.0.len();
        self.0.with_producer(ProducerToDriver { driver, len })
    }
}

macro_rules! indexed_input {
    ($(impl[$($g:tt)*] $ty:ty => $conv:ident, $par:ty;)*) => {$(
        impl<$($g)*> IntoParallelInput for $ty {
            type Item = <$par as ParallelIterator>::Item;
            type Input = Indexed<$par>;
            fn into_parallel_input(self) -> Self::Input {
                Indexed(self.$conv())
            }
        }
    )*};
}

indexed_input! {
    impl['a, T: Sync + 'a] &'a [T] => par_iter, rayon::slice::Iter<'a, T>;
    impl['a, T: Sync + 'a] &'a Vec<T> => par_iter, rayon::slice::Iter<'a, T>;
    impl['a, T: Sync + 'a, const N: usize] &'a [T; N] => par_iter, rayon::slice::Iter<'a, T>;
    impl['a, T: Send + 'a] &'a mut [T] => par_iter_mut, rayon::slice::IterMut<'a, T>;
    impl['a, T: Send + 'a] &'a mut Vec<T> => par_iter_mut, rayon::slice::IterMut<'a, T>;
    impl['a, T: Send + 'a, const N: usize] &'a mut [T; N] => par_iter_mut, rayon::slice::IterMut<'a, T>;
    impl[T: Send] Vec<T> => into_par_iter, rayon::vec::IntoIter<T>;
    impl[T: Send, const N: usize] [T; N] => into_par_iter, rayon::array::IntoIter<T, N>;
    impl['a, T: Sync + 'a] &'a VecDeque<T> => par_iter, rayon::collections::vec_deque::Iter<'a, T>;
    impl[T: Send] VecDeque<T> => into_par_iter, rayon::collections::vec_deque::IntoIter<T>;
}

/// An integer range as a loop input (`a..b` and `a..=b` of every integer type).
///
/// Split by index when `usize` can count its items. A range with more items than that
/// (a full-width inclusive range such as `0..=u64::MAX`, one item more than
/// `usize::MAX`, or a long 64-bit range on a 32-bit target) runs as a stream instead:
/// the plain loop over it runs too, and stops at its first error, so the parallel loop
/// must do the same rather than refuse it.
#[doc(hidden)]
pub struct IntRangeInput<T>(RangeShape<T>);

enum RangeShape<T> {
    Indexed(IntRange<T>),
    /// The bounds of a non-empty range that `usize` cannot count.
    Long(RangeInclusive<T>),
}

/// An integer range split by index: the producer of an [`IntRangeInput`].
///
/// Ours rather than rayon's range iterators: those do not index 64-bit or inclusive
/// ranges, and their `len` is not inlined across crates, which shows on tiny loops.
#[doc(hidden)]
pub struct IntRange<T> {
    pub(crate) start: T,
    pub(crate) len: usize,
}

/// The items of an [`IntRange`].
#[doc(hidden)]
pub struct IntRangeIter<T> {
    next: T,
    remaining: usize,
}

macro_rules! int_range_input {
    ($($t:ty),*) => {$(
        impl IntRangeInput<$t> {
            #[inline]
            fn from_bounds(start: $t, end_inclusive: Option<$t>) -> Self {
                let len = match end_inclusive {
                    Some(end) if end >= start => {
                        match usize::try_from(end.abs_diff(start))
                            .ok()
                            .and_then(|d| d.checked_add(1))
                        {
                            Some(len) => len,
                            None => return IntRangeInput(RangeShape::Long(start..=end)),
                        }
                    }
                    _ => 0,
                };
                IntRangeInput(RangeShape::Indexed(IntRange { start, len }))
            }
        }
        impl ParallelInput for IntRangeInput<$t> {
            type Item = $t;
            #[inline]
            fn exact_len(&self) -> Option<usize> {
                match &self.0 {
                    RangeShape::Indexed(range) => Some(range.len),
                    RangeShape::Long(_) => None,
                }
            }
            #[inline]
            fn drive<D: Drive<$t>>(self, driver: D) -> D::Output {
                match self.0 {
                    RangeShape::Indexed(range) => {
                        let len = range.len;
                        driver.indexed(Span::new(range, len))
                    }
                    RangeShape::Long(range) => driver.sequential(range),
                }
            }
        }
        impl Producer for IntRange<$t> {
            type Item = $t;
            type IntoIter = IntRangeIter<$t>;
            #[inline]
            fn into_iter(self) -> IntRangeIter<$t> {
                IntRangeIter { next: self.start, remaining: self.len }
            }
            #[inline]
            fn split_at(self, index: usize) -> (Self, Self) {
                // `index <= len`, and every item of the range fits in the type.
                let mid = self.start.wrapping_add(index as $t);
                (
                    IntRange { start: self.start, len: index },
                    IntRange { start: mid, len: self.len - index },
                )
            }
        }
        impl Iterator for IntRangeIter<$t> {
            type Item = $t;
            #[inline]
            fn next(&mut self) -> Option<$t> {
                if self.remaining == 0 {
                    return None;
                }
                let item = self.next;
                self.next = self.next.wrapping_add(1);
                self.remaining -= 1;
                Some(item)
            }
            #[inline]
            fn size_hint(&self) -> (usize, Option<usize>) {
                (self.remaining, Some(self.remaining))
            }
        }
        impl DoubleEndedIterator for IntRangeIter<$t> {
            #[inline]
            fn next_back(&mut self) -> Option<$t> {
                if self.remaining == 0 {
                    return None;
                }
                self.remaining -= 1;
                Some(self.next.wrapping_add(self.remaining as $t))
            }
        }
        impl ExactSizeIterator for IntRangeIter<$t> {}
        impl IntoParallelInput for Range<$t> {
            type Item = $t;
            type Input = IntRangeInput<$t>;
            #[inline]
            fn into_parallel_input(self) -> IntRangeInput<$t> {
                IntRangeInput::<$t>::from_bounds(self.start, self.end.checked_sub(1))
            }
        }
        impl IntoParallelInput for RangeInclusive<$t> {
            type Item = $t;
            type Input = IntRangeInput<$t>;
            #[inline]
            fn into_parallel_input(self) -> IntRangeInput<$t> {
                let (start, end) = self.clone().into_inner();
                // An exhausted `RangeInclusive` (after iteration) is empty.
                let end = (!self.is_empty()).then_some(end);
                IntRangeInput::<$t>::from_bounds(start, end)
            }
        }
    )*};
}
int_range_input!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// Any iterator, pulled in batches by the workers: see [`iter`].
#[derive(Debug)]
pub struct Iter<I>(I);

/// Makes any iterable with `Send` items the input of a parallel loop.
///
/// Items are pulled in batches under a lock, so an iterator of unknown length runs in
/// memory proportional to workers × batch, not to its length. Prefer passing slices,
/// `Vec`s and ranges directly: those are split by index, which is cheaper.
///
/// ```
/// use autopar::Parallel;
/// let text = "one two three";
/// let upper: Vec<String> = Parallel::auto().map(autopar::iter(text.split(' ')), |w| w.to_uppercase());
/// assert_eq!(upper, ["ONE", "TWO", "THREE"]);
/// ```
pub fn iter<I>(items: I) -> Iter<I::IntoIter>
where
    I: IntoIterator,
    I::IntoIter: Send,
    I::Item: Send,
{
    Iter(items.into_iter())
}

impl<I> ParallelInput for Iter<I>
where
    I: Iterator + Send,
    I::Item: Send,
{
    type Item = I::Item;
    fn exact_len(&self) -> Option<usize> {
        match self.0.size_hint() {
            (lo, Some(hi)) if lo == hi => Some(lo),
            _ => None,
        }
    }
    fn drive<D: Drive<I::Item>>(self, driver: D) -> D::Output {
        driver.sequential(self.0)
    }
}

macro_rules! iterated_input {
    ($(impl[$($g:tt)*] $ty:ty;)*) => {$(
        impl<$($g)*> IntoParallelInput for $ty {
            type Item = <$ty as IntoIterator>::Item;
            type Input = Iter<<$ty as IntoIterator>::IntoIter>;
            fn into_parallel_input(self) -> Self::Input {
                Iter(self.into_iter())
            }
        }
    )*};
}

iterated_input! {
    impl['a, K: Send + Sync, V: Send + Sync, S] &'a HashMap<K, V, S>;
    impl['a, K: Send + Sync, V: Send + Sync, S] &'a mut HashMap<K, V, S>;
    impl[K: Send + Sync, V: Send + Sync, S] HashMap<K, V, S>;
    impl['a, K: Send + Sync, V: Send + Sync] &'a BTreeMap<K, V>;
    impl['a, K: Send + Sync, V: Send + Sync] &'a mut BTreeMap<K, V>;
    impl[K: Send + Sync, V: Send + Sync] BTreeMap<K, V>;
    impl['a, T: Send + Sync, S] &'a HashSet<T, S>;
    impl[T: Send + Sync, S] HashSet<T, S>;
    impl['a, T: Send + Sync] &'a BTreeSet<T>;
    impl[T: Send + Sync] BTreeSet<T>;
}

/// Items `(i, &mut slice[i])` for `i` in `range`: the input of a loop that writes
/// `out[i] = ..` at disjoint indices. Out-of-range behaves like the sequential loop: the
/// in-bounds items run, then it panics with the first index out of bounds.
pub(crate) struct IndexedMut<'a, T> {
    slice: &'a mut [T],
    start: usize,
    end: usize,
}

impl<'a, T> IndexedMut<'a, T> {
    pub(crate) fn new(slice: &'a mut [T], range: Range<usize>) -> Self {
        IndexedMut {
            slice,
            start: range.start,
            end: range.end,
        }
    }

    fn in_bounds_end(&self) -> usize {
        self.end.min(self.slice.len()).max(self.start)
    }
}

impl<'a, T: Send + 'a> ParallelInput for IndexedMut<'a, T> {
    type Item = (usize, &'a mut T);
    fn exact_len(&self) -> Option<usize> {
        Some(self.in_bounds_end().saturating_sub(self.start))
    }
    fn drive<D: Drive<Self::Item>>(self, driver: D) -> D::Output {
        let len = self.slice.len();
        if self.start < self.end && self.start >= len {
            out_of_bounds(self.start, len);
        }
        let (start, end) = (self.start, self.in_bounds_end());
        let items = self.slice[start..end]
            .par_iter_mut()
            .enumerate()
            .map(move |(i, slot)| (start + i, slot));
        let output = items.with_producer(ProducerToDriver {
            driver,
            len: end - start,
        });
        if self.end > len {
            out_of_bounds(len, len);
        }
        output
    }
}

#[cold]
#[track_caller]
fn out_of_bounds(index: usize, len: usize) -> ! {
    panic!("index out of bounds: the len is {len} but the index is {index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_that_usize_cannot_count_have_no_exact_length() {
        assert_eq!((0..=u64::MAX).into_parallel_input().exact_len(), None);
        assert_eq!(
            (i64::MIN..=i64::MAX).into_parallel_input().exact_len(),
            None
        );
        assert_eq!((0..=usize::MAX).into_parallel_input().exact_len(), None);
        // One item fewer fits.
        assert_eq!(
            (1..=usize::MAX).into_parallel_input().exact_len(),
            Some(usize::MAX)
        );
        assert_eq!(
            (0..u64::MAX).into_parallel_input().exact_len(),
            usize::try_from(u64::MAX).ok()
        );
        assert_eq!(
            (u64::MAX - 3..=u64::MAX).into_parallel_input().exact_len(),
            Some(4)
        );
        let mut exhausted = u64::MAX..=u64::MAX;
        exhausted.next();
        assert_eq!(exhausted.into_parallel_input().exact_len(), Some(0));
    }
}
