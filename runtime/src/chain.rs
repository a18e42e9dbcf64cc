//! Iterator chains split by index: `enumerate`, `zip`, `rev`, `step_by`, `skip`,
//! `take`, `copied`, `cloned` and `map` over slices, `Vec`s, arrays and integer ranges,
//! and `chunks`, `chunks_exact`, `chunks_mut` and `windows` of slices.
//!
//! std's adaptor types keep their state private, so a `std::iter::Enumerate` cannot be
//! split once it exists. A [`Chain`] is built the other way round: from the base (a
//! slice, a range) it applies each adaptor to a splittable description of the items,
//! like rayon's `IndexedParallelIterator`. Every part is a rayon [`Producer`] whose items
//! come from the std iterator the plain loop would use (`slice::Iter`, `Zip`, `StepBy`,
//! ...), so a sequential plan runs exactly the plain loop's code, and a parallel plan
//! splits at an index with no lock and no buffering.
//!
//! `#[parallel]` rewrites such a chain in a loop's input into a [`Chain`] (see
//! `__private::ChainWrap`); when the base turns out not to be indexable, the same
//! methods build the std chain instead ([`SeqChain`]), which runs as before.

use std::iter::{Cloned, Copied, Rev, StepBy, Zip};
use std::ops::{Range, RangeInclusive};
use std::sync::Arc;

use rayon::iter::plumbing::Producer;

use crate::input::{Drive, IntRange, ParallelInput, Span};

/// A rayon [`Producer`] that knows how many items it holds. Implementation detail of
/// [`Chain`].
#[doc(hidden)]
pub trait ChainProducer: Producer {
    /// The number of items.
    fn len(&self) -> usize;
}

/// An input built from a slice, `Vec`, array or integer range and std's indexed
/// adaptors, split by index.
///
/// Made by [`chain`]; `#[parallel]` builds one for a loop over such a chain
/// (`for (i, x) in v.iter().enumerate()`) by itself. Each method does what the std
/// iterator method of the same name does, and the loop's items are the same, in the
/// same order. A `map` closure must be `Fn + Send + Sync`: it runs on several threads.
///
/// ```
/// use autopar::{Parallel, chain};
/// let v = vec![5u32, 3, 9, 1];
/// let w = vec![10u32, 20, 30, 40];
/// let out: Vec<(usize, u32)> =
///     Parallel::auto().map(chain(&v).zip(&w).map(|(a, b)| a + b).enumerate(), |p| p);
/// assert_eq!(out, [(0, 15), (1, 23), (2, 39), (3, 41)]);
/// let sums: Vec<u32> = Parallel::cpu().chunk(1).map(chain(&v).chunks(2), |c| c.iter().sum());
/// assert_eq!(sums, [8, 10]);
/// ```
#[derive(Debug)]
pub struct Chain<P> {
    producer: P,
}

/// Something a [`Chain`] can start from, or be zipped with: slices, `Vec`s and arrays
/// (by `&` or `&mut`), their `iter()` and `iter_mut()`, integer ranges whose length
/// `usize` counts on every target, and chains.
pub trait IntoChain {
    /// The producer of the chain's base.
    type Producer: ChainProducer;
    /// Converts `self` into a chain.
    fn into_chain(self) -> Chain<Self::Producer>;
}

/// Starts an indexed chain: see [`Chain`].
///
/// ```
/// let v = [1, 2, 3, 4, 5, 6];
/// let evens: Vec<i32> = autopar::Parallel::auto().map(autopar::chain(&v).skip(1).step_by(2), |x| *x);
/// assert_eq!(evens, [2, 4, 6]);
/// ```
pub fn chain<T: IntoChain>(items: T) -> Chain<T::Producer> {
    items.into_chain()
}

impl<P: ChainProducer> IntoChain for Chain<P> {
    type Producer = P;
    fn into_chain(self) -> Self {
        self
    }
}

impl<P: ChainProducer> Chain<P> {
    #[inline]
    fn new(producer: P) -> Self {
        Chain { producer }
    }

    /// The number of items.
    #[inline]
    pub fn len(&self) -> usize {
        self.producer.len()
    }

    /// Whether there are no items.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Items paired with their index: [`Iterator::enumerate`].
    #[inline]
    pub fn enumerate(self) -> Chain<EnumerateP<P>> {
        Chain::new(EnumerateP {
            base: self.producer,
            offset: 0,
        })
    }

    /// Items paired with another input's, as long as the shorter: [`Iterator::zip`].
    /// Zipped with a sequential chain (`#[parallel]` does that for inputs it cannot
    /// index), the result is sequential too.
    #[inline]
    pub fn zip<Z: ZipWith<P>>(self, other: Z) -> Z::Output {
        other.zip_after(self)
    }

    /// The items last to first: [`Iterator::rev`].
    #[inline]
    pub fn rev(self) -> Chain<RevP<P>> {
        Chain::new(RevP(self.producer))
    }

    /// Every `step`-th item, from the first: [`Iterator::step_by`].
    ///
    /// # Panics
    /// If `step` is 0, as [`Iterator::step_by`] does.
    #[inline]
    pub fn step_by(self, step: usize) -> Chain<StepByP<P>> {
        assert!(step != 0);
        Chain::new(StepByP {
            base: self.producer,
            step,
        })
    }

    /// All but the first `n` items: [`Iterator::skip`].
    #[inline]
    pub fn skip(self, n: usize) -> Self {
        let n = n.min(self.len());
        Chain::new(self.producer.split_at(n).1)
    }

    /// The first `n` items: [`Iterator::take`].
    #[inline]
    pub fn take(self, n: usize) -> Self {
        let n = n.min(self.len());
        Chain::new(self.producer.split_at(n).0)
    }

    /// Copies of referenced items: [`Iterator::copied`].
    #[inline]
    pub fn copied<'a, T>(self) -> Chain<CopiedP<P>>
    where
        P: Producer<Item = &'a T>,
        T: Copy + 'a,
    {
        Chain::new(CopiedP(self.producer))
    }

    /// Clones of referenced items: [`Iterator::cloned`].
    #[inline]
    pub fn cloned<'a, T>(self) -> Chain<ClonedP<P>>
    where
        P: Producer<Item = &'a T>,
        T: Clone + 'a,
    {
        Chain::new(ClonedP(self.producer))
    }

    /// `f` of each item: [`Iterator::map`]. `f` runs on the threads that run the items,
    /// right before each item's body.
    #[inline]
    pub fn map<R, F>(self, f: F) -> Chain<MapP<P, F>>
    where
        F: Fn(P::Item) -> R + Send + Sync,
    {
        Chain::new(MapP {
            base: self.producer,
            f: Arc::new(f),
        })
    }
}

impl<'a, T: Sync> Chain<SliceP<'a, T>> {
    /// The slice in chunks of `size` items, the last one shorter: [`slice::chunks`].
    ///
    /// # Panics
    /// If `size` is 0, as [`slice::chunks`] does.
    #[inline]
    pub fn chunks(self, size: usize) -> Chain<ChunksP<'a, T>> {
        let _ = self.producer.0.chunks(size);
        Chain::new(ChunksP {
            slice: self.producer.0,
            size,
        })
    }

    /// The slice in chunks of exactly `size` items, without the remainder:
    /// [`slice::chunks_exact`].
    ///
    /// # Panics
    /// If `size` is 0, as [`slice::chunks_exact`] does.
    #[inline]
    pub fn chunks_exact(self, size: usize) -> Chain<ChunksExactP<'a, T>> {
        let _ = self.producer.0.chunks_exact(size);
        let slice = self.producer.0;
        Chain::new(ChunksExactP {
            slice: &slice[..slice.len() / size * size],
            size,
        })
    }

    /// Every window of `size` consecutive items: [`slice::windows`].
    ///
    /// # Panics
    /// If `size` is 0, as [`slice::windows`] does.
    #[inline]
    pub fn windows(self, size: usize) -> Chain<WindowsP<'a, T>> {
        let _ = self.producer.0.windows(size);
        Chain::new(WindowsP {
            slice: self.producer.0,
            size,
        })
    }
}

impl<'a, T: Send> Chain<SliceMutP<'a, T>> {
    /// The slice in mutable chunks of `size` items, the last one shorter:
    /// [`slice::chunks_mut`].
    ///
    /// # Panics
    /// If `size` is 0, as [`slice::chunks_mut`] does.
    #[inline]
    pub fn chunks_mut(self, size: usize) -> Chain<ChunksMutP<'a, T>> {
        let _ = self.producer.0.chunks_mut(size);
        Chain::new(ChunksMutP {
            slice: self.producer.0,
            size,
        })
    }
}

impl<P: ChainProducer> ParallelInput for Chain<P>
where
    P::Item: Send,
{
    type Item = P::Item;
    #[inline]
    fn exact_len(&self) -> Option<usize> {
        Some(self.len())
    }
    #[inline]
    fn drive<D: Drive<P::Item>>(self, driver: D) -> D::Output {
        let len = self.len();
        driver.indexed(Span::new(self.producer, len))
    }
}

impl<P: ChainProducer> IntoIterator for Chain<P> {
    type Item = P::Item;
    type IntoIter = P::IntoIter;
    #[inline]
    fn into_iter(self) -> P::IntoIter {
        self.producer.into_iter()
    }
}

/// What a [`Chain`] can be zipped with: an indexed input (the result is a chain) or a
/// [`SeqChain`] (the result is sequential).
pub trait ZipWith<P: ChainProducer> {
    /// The zipped input.
    type Output;
    /// `first` zipped with `self`.
    fn zip_after(self, first: Chain<P>) -> Self::Output;
}

impl<P: ChainProducer, T: IntoChain> ZipWith<P> for T {
    type Output = Chain<ZipP<P, T::Producer>>;
    #[inline]
    fn zip_after(self, first: Chain<P>) -> Self::Output {
        let second = self.into_chain();
        let len = first.len().min(second.len());
        Chain::new(ZipP(
            first.producer.split_at(len).0,
            second.producer.split_at(len).0,
        ))
    }
}

impl<P: ChainProducer, J: Iterator> ZipWith<P> for SeqChain<J> {
    type Output = SeqChain<Zip<P::IntoIter, J>>;
    #[inline]
    fn zip_after(self, first: Chain<P>) -> Self::Output {
        SeqChain(first.into_iter().zip(self.0))
    }
}

/// A std iterator chain: what `#[parallel]` builds for a chain whose base it cannot
/// index (a map's `iter()`, `lines()`, ...). Its methods are std's; the loop pulls its
/// items as it pulls any iterator's.
#[doc(hidden)]
#[derive(Debug)]
pub struct SeqChain<I>(pub(crate) I);

impl<I: Iterator> IntoIterator for SeqChain<I> {
    type Item = I::Item;
    type IntoIter = I;
    #[inline]
    fn into_iter(self) -> I {
        self.0
    }
}

#[allow(clippy::should_implement_trait)]
impl<I: Iterator> SeqChain<I> {
    /// [`Iterator::enumerate`].
    #[inline]
    pub fn enumerate(self) -> SeqChain<std::iter::Enumerate<I>> {
        SeqChain(self.0.enumerate())
    }
    /// [`Iterator::zip`].
    #[inline]
    pub fn zip<J: IntoIterator>(self, other: J) -> SeqChain<Zip<I, J::IntoIter>> {
        SeqChain(self.0.zip(other))
    }
    /// [`Iterator::rev`].
    #[inline]
    pub fn rev(self) -> SeqChain<Rev<I>>
    where
        I: DoubleEndedIterator,
    {
        SeqChain(self.0.rev())
    }
    /// [`Iterator::step_by`].
    #[inline]
    pub fn step_by(self, step: usize) -> SeqChain<StepBy<I>> {
        SeqChain(self.0.step_by(step))
    }
    /// [`Iterator::skip`].
    #[inline]
    pub fn skip(self, n: usize) -> SeqChain<std::iter::Skip<I>> {
        SeqChain(self.0.skip(n))
    }
    /// [`Iterator::take`].
    #[inline]
    pub fn take(self, n: usize) -> SeqChain<std::iter::Take<I>> {
        SeqChain(self.0.take(n))
    }
    /// [`Iterator::copied`].
    #[inline]
    pub fn copied<'a, T: Copy + 'a>(self) -> SeqChain<Copied<I>>
    where
        I: Iterator<Item = &'a T>,
    {
        SeqChain(self.0.copied())
    }
    /// [`Iterator::cloned`].
    #[inline]
    pub fn cloned<'a, T: Clone + 'a>(self) -> SeqChain<Cloned<I>>
    where
        I: Iterator<Item = &'a T>,
    {
        SeqChain(self.0.cloned())
    }
    /// [`Iterator::map`].
    #[inline]
    pub fn map<R, F: FnMut(I::Item) -> R>(self, f: F) -> SeqChain<std::iter::Map<I, F>> {
        SeqChain(self.0.map(f))
    }
}

// ---- bases ----

/// The items of a slice, by reference.
#[doc(hidden)]
#[derive(Debug)]
pub struct SliceP<'a, T>(&'a [T]);

/// The items of a slice, by mutable reference.
#[doc(hidden)]
#[derive(Debug)]
pub struct SliceMutP<'a, T>(&'a mut [T]);

impl<'a, T: Sync> Producer for SliceP<'a, T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
    #[inline]
    fn split_at(self, index: usize) -> (Self, Self) {
        let (left, right) = self.0.split_at(index);
        (SliceP(left), SliceP(right))
    }
}

impl<T: Sync> ChainProducer for SliceP<'_, T> {
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<'a, T: Send> Producer for SliceMutP<'a, T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter_mut()
    }
    #[inline]
    fn split_at(self, index: usize) -> (Self, Self) {
        let (left, right) = self.0.split_at_mut(index);
        (SliceMutP(left), SliceMutP(right))
    }
}

impl<T: Send> ChainProducer for SliceMutP<'_, T> {
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }
}

macro_rules! slice_bases {
    ($(impl[$($g:tt)*] $ty:ty => $p:ident, $conv:expr;)*) => {$(
        impl<$($g)*> IntoChain for $ty {
            type Producer = $p<'a, T>;
            #[inline]
            fn into_chain(self) -> Chain<Self::Producer> {
                #[allow(clippy::redundant_closure_call)]
                Chain::new($p(($conv)(self)))
            }
        }
    )*};
}

slice_bases! {
    impl['a, T: Sync] &'a [T] => SliceP, |s| s;
    impl['a, T: Sync] &'a Vec<T> => SliceP, |v: &'a Vec<T>| v.as_slice();
    impl['a, T: Sync, const N: usize] &'a [T; N] => SliceP, |a: &'a [T; N]| a.as_slice();
    impl['a, T: Sync] std::slice::Iter<'a, T> => SliceP, |i: std::slice::Iter<'a, T>| i.as_slice();
    impl['a, T: Send] &'a mut [T] => SliceMutP, |s| s;
    impl['a, T: Send] &'a mut Vec<T> => SliceMutP, |v: &'a mut Vec<T>| v.as_mut_slice();
    impl['a, T: Send, const N: usize] &'a mut [T; N] => SliceMutP, |a: &'a mut [T; N]| a.as_mut_slice();
    impl['a, T: Send] std::slice::IterMut<'a, T> => SliceMutP, |i: std::slice::IterMut<'a, T>| i.into_slice();
}

impl<T> ChainProducer for IntRange<T>
where
    IntRange<T>: Producer,
{
    #[inline]
    fn len(&self) -> usize {
        self.len
    }
}

macro_rules! range_bases {
    ($($t:ty),* ; inclusive $($u:ty),*) => {
        $(impl IntoChain for Range<$t> {
            type Producer = IntRange<$t>;
            #[inline]
            fn into_chain(self) -> Chain<IntRange<$t>> {
                let len = if self.end > self.start {
                    // Fits: `usize` counts every range of this type on this target.
                    self.end.abs_diff(self.start) as usize
                } else {
                    0
                };
                Chain::new(IntRange { start: self.start, len })
            }
        })*
        $(impl IntoChain for RangeInclusive<$u> {
            type Producer = IntRange<$u>;
            #[inline]
            fn into_chain(self) -> Chain<IntRange<$u>> {
                // An exhausted `RangeInclusive` (after iteration) is empty.
                let (start, end) = (*self.start(), *self.end());
                let len = if self.is_empty() {
                    0
                } else {
                    end.abs_diff(start) as usize + 1
                };
                Chain::new(IntRange { start, len })
            }
        })*
    };
}

range_bases!(u8, u16, u32, usize, i8, i16, i32, isize; inclusive u8, u16, i8, i16);
#[cfg(target_pointer_width = "64")]
range_bases!(u64, i64; inclusive u32, i32);

// ---- slice shapes ----

/// `slice.chunks(size)`.
#[doc(hidden)]
#[derive(Debug)]
pub struct ChunksP<'a, T> {
    slice: &'a [T],
    size: usize,
}

/// `slice.chunks_exact(size)`, the slice cut to whole chunks.
#[doc(hidden)]
#[derive(Debug)]
pub struct ChunksExactP<'a, T> {
    slice: &'a [T],
    size: usize,
}

/// `slice.chunks_mut(size)`.
#[doc(hidden)]
#[derive(Debug)]
pub struct ChunksMutP<'a, T> {
    slice: &'a mut [T],
    size: usize,
}

/// `slice.windows(size)`.
#[doc(hidden)]
#[derive(Debug)]
pub struct WindowsP<'a, T> {
    slice: &'a [T],
    size: usize,
}

impl<'a, T: Sync> Producer for ChunksP<'a, T> {
    type Item = &'a [T];
    type IntoIter = std::slice::Chunks<'a, T>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.slice.chunks(self.size)
    }
    #[inline]
    fn split_at(self, index: usize) -> (Self, Self) {
        let mid = index.saturating_mul(self.size).min(self.slice.len());
        let (left, right) = self.slice.split_at(mid);
        let size = self.size;
        (
            ChunksP { slice: left, size },
            ChunksP { slice: right, size },
        )
    }
}

impl<T: Sync> ChainProducer for ChunksP<'_, T> {
    #[inline]
    fn len(&self) -> usize {
        self.slice.len().div_ceil(self.size)
    }
}

impl<'a, T: Sync> Producer for ChunksExactP<'a, T> {
    type Item = &'a [T];
    type IntoIter = std::slice::ChunksExact<'a, T>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.slice.chunks_exact(self.size)
    }
    #[inline]
    fn split_at(self, index: usize) -> (Self, Self) {
        let (left, right) = self.slice.split_at(index * self.size);
        let size = self.size;
        (
            ChunksExactP { slice: left, size },
            ChunksExactP { slice: right, size },
        )
    }
}

impl<T: Sync> ChainProducer for ChunksExactP<'_, T> {
    #[inline]
    fn len(&self) -> usize {
        self.slice.len() / self.size
    }
}

impl<'a, T: Send> Producer for ChunksMutP<'a, T> {
    type Item = &'a mut [T];
    type IntoIter = std::slice::ChunksMut<'a, T>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.slice.chunks_mut(self.size)
    }
    #[inline]
    fn split_at(self, index: usize) -> (Self, Self) {
        let mid = index.saturating_mul(self.size).min(self.slice.len());
        let (left, right) = self.slice.split_at_mut(mid);
        let size = self.size;
        (
            ChunksMutP { slice: left, size },
            ChunksMutP { slice: right, size },
        )
    }
}

impl<T: Send> ChainProducer for ChunksMutP<'_, T> {
    #[inline]
    fn len(&self) -> usize {
        self.slice.len().div_ceil(self.size)
    }
}

impl<'a, T: Sync> Producer for WindowsP<'a, T> {
    type Item = &'a [T];
    type IntoIter = std::slice::Windows<'a, T>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.slice.windows(self.size)
    }
    #[inline]
    fn split_at(self, index: usize) -> (Self, Self) {
        // Windows `..index` need the items up to `index + size - 1`; the rest start at
        // item `index`. The halves overlap by `size - 1` items, shared, read-only.
        let n = self.slice.len();
        let left_end = (index + self.size - 1).min(n);
        let size = self.size;
        (
            WindowsP {
                slice: &self.slice[..left_end],
                size,
            },
            WindowsP {
                slice: &self.slice[index.min(n)..],
                size,
            },
        )
    }
}

impl<T: Sync> ChainProducer for WindowsP<'_, T> {
    #[inline]
    fn len(&self) -> usize {
        (self.slice.len() + 1).saturating_sub(self.size)
    }
}

// ---- adaptors ----

/// `base.enumerate()`, counting from `offset`.
#[doc(hidden)]
#[derive(Debug)]
pub struct EnumerateP<P> {
    base: P,
    offset: usize,
}

impl<P: ChainProducer> Producer for EnumerateP<P> {
    type Item = (usize, P::Item);
    type IntoIter = Zip<Range<usize>, P::IntoIter>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        let end = self.offset + self.base.len();
        (self.offset..end).zip(self.base.into_iter())
    }
    #[inline]
    fn split_at(self, index: usize) -> (Self, Self) {
        let (left, right) = self.base.split_at(index);
        (
            EnumerateP {
                base: left,
                offset: self.offset,
            },
            EnumerateP {
                base: right,
                offset: self.offset + index,
            },
        )
    }
}

impl<P: ChainProducer> ChainProducer for EnumerateP<P> {
    #[inline]
    fn len(&self) -> usize {
        self.base.len()
    }
}

/// `a.zip(b)`, both cut to the shorter length.
#[doc(hidden)]
#[derive(Debug)]
pub struct ZipP<A, B>(A, B);

impl<A: ChainProducer, B: ChainProducer> Producer for ZipP<A, B> {
    type Item = (A::Item, B::Item);
    type IntoIter = Zip<A::IntoIter, B::IntoIter>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().zip(self.1.into_iter())
    }
    #[inline]
    fn split_at(self, index: usize) -> (Self, Self) {
        let (a0, a1) = self.0.split_at(index);
        let (b0, b1) = self.1.split_at(index);
        (ZipP(a0, b0), ZipP(a1, b1))
    }
}

impl<A: ChainProducer, B: ChainProducer> ChainProducer for ZipP<A, B> {
    #[inline]
    fn len(&self) -> usize {
        self.0.len().min(self.1.len())
    }
}

/// `base.rev()`.
#[doc(hidden)]
#[derive(Debug)]
pub struct RevP<P>(P);

impl<P: ChainProducer> Producer for RevP<P> {
    type Item = P::Item;
    type IntoIter = Rev<P::IntoIter>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().rev()
    }
    #[inline]
    fn split_at(self, index: usize) -> (Self, Self) {
        // The first `index` reversed items are the base's last `index`.
        let len = self.0.len();
        let (front, back) = self.0.split_at(len - index);
        (RevP(back), RevP(front))
    }
}

impl<P: ChainProducer> ChainProducer for RevP<P> {
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// `base.step_by(step)`.
#[doc(hidden)]
#[derive(Debug)]
pub struct StepByP<P> {
    base: P,
    step: usize,
}

impl<P: ChainProducer> Producer for StepByP<P> {
    type Item = P::Item;
    type IntoIter = StepBy<P::IntoIter>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.base.into_iter().step_by(self.step)
    }
    #[inline]
    fn split_at(self, index: usize) -> (Self, Self) {
        let mid = index.saturating_mul(self.step).min(self.base.len());
        let (left, right) = self.base.split_at(mid);
        let step = self.step;
        (StepByP { base: left, step }, StepByP { base: right, step })
    }
}

impl<P: ChainProducer> ChainProducer for StepByP<P> {
    #[inline]
    fn len(&self) -> usize {
        self.base.len().div_ceil(self.step)
    }
}

/// `base.copied()`.
#[doc(hidden)]
#[derive(Debug)]
pub struct CopiedP<P>(P);

/// `base.cloned()`.
#[doc(hidden)]
#[derive(Debug)]
pub struct ClonedP<P>(P);

macro_rules! by_value {
    ($p:ident, $iter:ident, $method:ident, $bound:ident) => {
        impl<'a, T, P> Producer for $p<P>
        where
            T: $bound + 'a,
            P: ChainProducer<Item = &'a T>,
        {
            type Item = T;
            type IntoIter = $iter<P::IntoIter>;
            #[inline]
            fn into_iter(self) -> Self::IntoIter {
                self.0.into_iter().$method()
            }
            #[inline]
            fn split_at(self, index: usize) -> (Self, Self) {
                let (left, right) = self.0.split_at(index);
                ($p(left), $p(right))
            }
        }

        impl<'a, T, P> ChainProducer for $p<P>
        where
            T: $bound + 'a,
            P: ChainProducer<Item = &'a T>,
        {
            #[inline]
            fn len(&self) -> usize {
                self.0.len()
            }
        }
    };
}

by_value!(CopiedP, Copied, copied, Copy);
by_value!(ClonedP, Cloned, cloned, Clone);

/// `base.map(f)`. The closure is shared by the halves of every split.
#[doc(hidden)]
pub struct MapP<P, F> {
    base: P,
    f: Arc<F>,
}

impl<P: std::fmt::Debug, F> std::fmt::Debug for MapP<P, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapP").field("base", &self.base).finish()
    }
}

/// The items of a [`MapP`]: std's `Map` needs a closure type, and the shared closure
/// is an `Arc`.
#[doc(hidden)]
pub struct MapIter<I, F> {
    iter: I,
    f: Arc<F>,
}

impl<R, P, F> Producer for MapP<P, F>
where
    P: ChainProducer,
    F: Fn(P::Item) -> R + Send + Sync,
{
    type Item = R;
    type IntoIter = MapIter<P::IntoIter, F>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        MapIter {
            iter: self.base.into_iter(),
            f: self.f,
        }
    }
    #[inline]
    fn split_at(self, index: usize) -> (Self, Self) {
        let (left, right) = self.base.split_at(index);
        (
            MapP {
                base: left,
                f: Arc::clone(&self.f),
            },
            MapP {
                base: right,
                f: self.f,
            },
        )
    }
}

impl<R, P, F> ChainProducer for MapP<P, F>
where
    P: ChainProducer,
    F: Fn(P::Item) -> R + Send + Sync,
{
    #[inline]
    fn len(&self) -> usize {
        self.base.len()
    }
}

impl<R, I: Iterator, F: Fn(I::Item) -> R> Iterator for MapIter<I, F> {
    type Item = R;
    #[inline]
    fn next(&mut self) -> Option<R> {
        self.iter.next().map(&*self.f)
    }
    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
    #[inline]
    fn fold<B, G: FnMut(B, R) -> B>(self, init: B, mut g: G) -> B {
        let f = self.f;
        self.iter.fold(init, move |acc, item| g(acc, f(item)))
    }
}

impl<R, I: DoubleEndedIterator, F: Fn(I::Item) -> R> DoubleEndedIterator for MapIter<I, F> {
    #[inline]
    fn next_back(&mut self) -> Option<R> {
        self.iter.next_back().map(&*self.f)
    }
}

impl<R, I: ExactSizeIterator, F: Fn(I::Item) -> R> ExactSizeIterator for MapIter<I, F> {}

// ---- the macro's base calls ----

/// What a `#[parallel]` loop's `recv.chunks(n)` (and `chunks_exact`, `windows`,
/// `chunks_mut`) became: a closure that evaluates either `recv.iter()` (or
/// `iter_mut()`) and `n`, when the receiver is a slice, or the call as written. Only one
/// of the two runs, once: which one is chosen by the type of `recv.iter()`, at compile
/// time.
#[doc(hidden)]
pub enum Pick<S, N, O> {
    /// The receiver's `iter()` and the call's argument.
    Slice(S, N),
    /// The call as written.
    Other(O),
}

/// A base call of a `#[parallel]` loop's input: see [`Pick`]. `K` names the method.
#[doc(hidden)]
pub struct BaseCall<F, K>(F, std::marker::PhantomData<K>);

impl<F, K> BaseCall<F, K> {
    /// Wraps the closure (taking `true` for the slice branch).
    #[inline]
    pub fn new<S, N, O>(pick: F) -> Self
    where
        F: FnOnce(bool) -> Pick<S, N, O>,
    {
        BaseCall(pick, std::marker::PhantomData)
    }
}

impl<F: FnOnce(bool) -> Pick<S, N, O>, S, N, O: IntoIterator, K> IntoIterator for BaseCall<F, K> {
    type Item = O::Item;
    type IntoIter = O::IntoIter;
    #[inline]
    fn into_iter(self) -> O::IntoIter {
        match (self.0)(false) {
            Pick::Other(items) => items.into_iter(),
            Pick::Slice(..) => unreachable!("the closure picks the call as written"),
        }
    }
}

macro_rules! base_calls {
    ($($kind:ident: $iter:ident => $method:ident, $std:ident, $prod:ident, $bound:ident;)*) => {$(
        #[doc(hidden)]
        pub enum $kind {}
        impl<'a, T: $bound + 'a, F> IntoChain for BaseCall<F, $kind>
        where
            F: FnOnce(bool) -> Pick<std::slice::$iter<'a, T>, usize, std::slice::$std<'a, T>>,
        {
            type Producer = $prod<'a, T>;
            #[inline]
            fn into_chain(self) -> Chain<Self::Producer> {
                match (self.0)(true) {
                    Pick::Slice(items, size) => items.into_chain().$method(size),
                    Pick::Other(_) => unreachable!("the closure picks the slice"),
                }
            }
        }
    )*};
}

base_calls! {
    ChunksK: Iter => chunks, Chunks, ChunksP, Sync;
    ChunksExactK: Iter => chunks_exact, ChunksExact, ChunksExactP, Sync;
    WindowsK: Iter => windows, Windows, WindowsP, Sync;
    ChunksMutK: IterMut => chunks_mut, ChunksMut, ChunksMutP, Send;
}
