//! The ordered output of `map`.
//!
//! For an indexed input every task writes its outputs straight into their final slots
//! of one vector allocated up front (item `i`'s output goes to index `i`), so each
//! output is moved once and no task buffer grows or is copied — the way rayon's
//! `collect_into_vec` works. An iterated input's tasks are batches whose place is only
//! known once they are ordered: each fills its own vector (sized from the batch), and
//! the vectors are concatenated once at the end.
//!
//! Every output written in place is owned by exactly one [`Placed`] range until the
//! call ends: a failed or panicking task's range drops its outputs, and the call's final
//! range (`0..len`, every item) becomes the vector's contents.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};

use rayon::prelude::*;

use crate::exec::{FoldItems, TaskStart};

/// Outputs at least this large are concatenated in parallel.
const PARALLEL_CONCAT_BYTES: usize = 1 << 20;

/// The vector `map` fills: allocated once, for the input's exact length when known.
pub(crate) struct Output<R> {
    out: Vec<R>,
    /// `out`'s buffer, shared by the tasks that write into it (each into its own slots).
    slots: *mut R,
    capacity: usize,
}

// SAFETY: through a shared `&Output`, tasks on several threads only ever write outputs
// (which are `Send`) into disjoint slots of the buffer, each slot by the one task its
// item was handed to (see `Placed::push`); `out` itself is only touched through `self`
// by value, in `finish`, after every task has ended.
unsafe impl<R: Send> Sync for Output<R> {}

impl<R: Send> Output<R> {
    /// An output with room for `len` items (none if the length is unknown).
    pub(crate) fn new(len: Option<usize>) -> Self {
        let mut out = Vec::with_capacity(len.unwrap_or(0));
        Output {
            slots: out.as_mut_ptr(),
            capacity: out.capacity(),
            out,
        }
    }

    /// The accumulator of a task: in place when the task's items have known indices
    /// that fit the vector, else a vector of its own.
    #[inline]
    pub(crate) fn part(&self, start: TaskStart) -> Part<'_, R> {
        match start.first_item {
            Some(first) if (first as usize) <= self.capacity => Part::Placed(Placed {
                slots: self.slots,
                capacity: self.capacity,
                start: first as usize,
                len: 0,
                _output: PhantomData,
                _owns: PhantomData,
            }),
            _ => Part::Chunks(Box::new(Chunks::with_capacity(start.len))),
        }
    }

    /// The finished vector, from the combination of every task's part.
    pub(crate) fn finish(mut self, done: Done<R>) -> Vec<R> {
        match done {
            Done::Placed { start, len } => {
                assert!(
                    start == 0 || len == 0,
                    "autopar: internal error: map outputs do not start at item 0"
                );
                // SAFETY: `Done::Placed` comes from the one `Placed` range left at the
                // end of the call, which owned slots `0..len` (checked above), all
                // written (a range only grows by writing its next slot, or by absorbing
                // the adjacent range that follows it). It was dissolved without dropping
                // them, so the vector takes them over; `len <= capacity` as every write
                // was bounds-checked.
                unsafe { self.out.set_len(len) };
                self.out
            }
            Done::Chunks(chunks) => chunks.into_vec(std::mem::take(&mut self.out)),
        }
    }
}

/// `map`'s fold: each item's output goes to the next slot of the task's [`Part`].
pub(crate) struct MapFold<'b, B>(pub(crate) &'b B);

impl<'o, T, R: Send, B: Fn(T) -> R> FoldItems<Part<'o, R>, T> for MapFold<'_, B> {
    type Error = Infallible;

    #[inline]
    fn fold_item(&self, mut part: Part<'o, R>, item: T) -> Result<Part<'o, R>, Infallible> {
        part.push((self.0)(item));
        Ok(part)
    }

    #[inline]
    fn fold_items<I: Iterator<Item = T>>(
        &self,
        mut part: Part<'o, R>,
        items: I,
    ) -> Result<Part<'o, R>, Infallible> {
        part.extend(items.map(self.0));
        Ok(part)
    }

    #[inline]
    fn fold_stream<I: Iterator<Item = T>>(
        &self,
        part: Part<'o, R>,
        items: I,
    ) -> Result<Part<'o, R>, Infallible> {
        self.fold_items(part, items)
    }
}

/// A task's (or several adjacent tasks') outputs so far.
pub(crate) enum Part<'o, R> {
    /// Written in place.
    Placed(Placed<'o, R>),
    /// Collected apart, to be concatenated at the end.
    Chunks(Box<Chunks<R>>),
}

impl<R: Send> Part<'_, R> {
    /// Adds the next output.
    #[inline]
    pub(crate) fn push(&mut self, value: R) {
        match self {
            Part::Placed(placed) => placed.push(value),
            Part::Chunks(chunks) => chunks.current.push(value),
        }
    }

    /// Adds `values`' outputs, in order.
    #[inline]
    pub(crate) fn extend<I: Iterator<Item = R>>(&mut self, values: I) {
        match self {
            Part::Placed(placed) => placed.extend(values),
            Part::Chunks(chunks) => chunks.current.extend(values),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Part::Placed(placed) => placed.len == 0,
            Part::Chunks(chunks) => chunks.len == 0 && chunks.current.is_empty(),
        }
    }

    /// `self` followed by `later` (the outputs of the items after `self`'s).
    pub(crate) fn append(self, later: Self) -> Self {
        match (self, later) {
            (Part::Placed(mut earlier), Part::Placed(later))
                if earlier.start + earlier.len == later.start =>
            {
                earlier.len += later.len;
                // `earlier` now owns `later`'s outputs too.
                let _ = ManuallyDrop::new(later);
                Part::Placed(earlier)
            }
            (earlier, later) if later.is_empty() => earlier,
            (earlier, later) if earlier.is_empty() => later,
            (Part::Chunks(earlier), Part::Chunks(later)) => {
                Part::Chunks(Box::new(earlier.append(*later)))
            }
            // Both parts drop their own outputs on the way out.
            _ => panic!("autopar: internal error: map outputs combined out of order"),
        }
    }

    /// Hands the outputs over to [`Output::finish`].
    pub(crate) fn done(self) -> Done<R> {
        match self {
            Part::Placed(placed) => {
                let placed = ManuallyDrop::new(placed);
                Done::Placed {
                    start: placed.start,
                    len: placed.len,
                }
            }
            Part::Chunks(chunks) => Done::Chunks(*chunks),
        }
    }
}

/// A call's outputs, ready to become its vector.
pub(crate) enum Done<R> {
    /// Slots `start..start + len` of the output are written and owned by nobody else.
    Placed {
        start: usize,
        len: usize,
    },
    Chunks(Chunks<R>),
}

/// The written slots `start..start + len` of an [`Output`], which this value owns: it
/// drops them if it is dropped (a task failed, or the call panicked).
///
/// It keeps its own copy of the output's buffer pointer and capacity rather than a
/// reference to the [`Output`]: a push then compares and writes with values held in
/// registers, where through the reference they were reloaded after every item (the
/// loop body is an opaque call the compiler cannot see through).
pub(crate) struct Placed<'o, R> {
    /// The output's buffer and its capacity.
    slots: *mut R,
    capacity: usize,
    start: usize,
    len: usize,
    _output: PhantomData<&'o Output<R>>,
    _owns: PhantomData<R>,
}

// SAFETY: a `Placed` is the `&Output` it was made from (which is `Send` as `Output` is
// `Sync`) plus the outputs it owns (`R: Send`); its copy of the buffer pointer is only
// used for its own slots, which no other range touches.
unsafe impl<R: Send> Send for Placed<'_, R> {}

impl<R> Placed<'_, R> {
    #[inline]
    fn push(&mut self, value: R) {
        let index = self.start + self.len;
        assert!(
            index < self.capacity,
            "autopar: internal error: map output past the input's length"
        );
        // SAFETY: `index` is inside the allocation (checked above). The slot is empty:
        // a task's range starts at its first item's index and grows one item at a time,
        // and the executors hand each item of an indexed input to exactly one task, so
        // no other range covers or will cover this slot. The write moves `value` into
        // the buffer without reading or dropping what was there.
        unsafe { self.slots.add(index).write(value) };
        self.len += 1;
    }
}

impl<R> Placed<'_, R> {
    /// Writes `values` into the next slots. Values whose count is known exactly (every
    /// task's items are: they come from a producer's exact-size iterator) go through one
    /// slice of exactly that many slots, bounds-checked once, so the loop has no check
    /// per item and the compiler can vectorise it; others are pushed one by one.
    #[inline]
    fn extend<I: Iterator<Item = R>>(&mut self, values: I) {
        let index = self.start + self.len;
        let room = self.capacity.saturating_sub(index);
        match values.size_hint() {
            (n, Some(max)) if n == max && n <= room => {
                // SAFETY: slots `index..index + n` are inside the allocation (`n` is at
                // most the room left) and unwritten, and nothing else touches them while
                // this range fills them: as for `push`, the executors hand each item of
                // an indexed input to exactly one task, and this task's items continue
                // its range; the iterator's exact size is what its producer splits
                // report, and only autopar's and rayon's standard producers reach here
                // (`Span::new` is crate-private). Writing `MaybeUninit`s moves values in
                // without reading or dropping what was there.
                let slots = unsafe {
                    std::slice::from_raw_parts_mut(
                        self.slots.add(index).cast::<MaybeUninit<R>>(),
                        n,
                    )
                };
                // `zip` stops at the shorter side: an iterator yielding fewer values
                // than announced leaves the rest unwritten and unclaimed (one yielding
                // more would break `Iterator`'s contract; its extra value is dropped,
                // never written past the slice). The values
                // come first, so they are asked for one more (and end): an adapter
                // that counts an item done when the next is asked for (a progress
                // bar) sees the last one done. The count is kept as the loop goes, so
                // a panicking body's written outputs are still dropped with the range.
                for (value, slot) in values.zip(slots.iter_mut()) {
                    slot.write(value);
                    self.len += 1;
                }
            }
            _ => values.for_each(|value| self.push(value)),
        }
    }
}

impl<R> Drop for Placed<'_, R> {
    fn drop(&mut self) {
        // SAFETY: this range owns slots `start..start + len`: all written (see `push`)
        // and claimed by no other range or by the vector (whose length is still 0), so
        // they are dropped here exactly once.
        unsafe {
            let first = self.slots.add(self.start);
            std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(first, self.len));
        }
    }
}

/// Ordered outputs kept apart: one vector per task, concatenated once at the end, so
/// each output is moved once rather than once per level of the join tree.
pub(crate) struct Chunks<R> {
    current: Vec<R>,
    done: Vec<Vec<R>>,
    len: usize,
}

impl<R> Chunks<R> {
    fn with_capacity(capacity: usize) -> Self {
        Chunks {
            current: Vec::with_capacity(capacity),
            done: Vec::new(),
            len: 0,
        }
    }

    fn seal(&mut self) {
        if !self.current.is_empty() {
            self.len += self.current.len();
            self.done.push(std::mem::take(&mut self.current));
        }
    }

    fn append(mut self, mut later: Chunks<R>) -> Chunks<R> {
        self.seal();
        later.seal();
        self.len += later.len;
        self.done.append(&mut later.done);
        self
    }

    /// The outputs in order, in `out` (empty, perhaps with capacity) when it is used.
    fn into_vec(mut self, mut out: Vec<R>) -> Vec<R>
    where
        R: Send,
    {
        self.seal();
        if self.done.len() == 1 && out.capacity() < self.len {
            return self.done.pop().unwrap_or_default();
        }
        out.reserve_exact(self.len);
        let bytes = self.len.saturating_mul(std::mem::size_of::<R>());
        if bytes < PARALLEL_CONCAT_BYTES || !crate::exec::cpu::global_pool_runs() {
            for chunk in self.done {
                out.extend(chunk);
            }
            return out;
        }
        // Large outputs: one thread copying them all would cap the speedup of the whole
        // loop (16 cores compute 1M items faster than one core moves them), so each
        // chunk moves into its own disjoint slice of the output in parallel.
        let mut slots = Vec::with_capacity(self.done.len());
        let mut rest = &mut out.spare_capacity_mut()[..self.len];
        for chunk in &self.done {
            let (slot, tail) = rest.split_at_mut(chunk.len());
            slots.push(slot);
            rest = tail;
        }
        self.done
            .into_par_iter()
            .zip(slots)
            .for_each(|(chunk, slot)| {
                for (dst, item) in slot.iter_mut().zip(chunk) {
                    dst.write(item);
                }
            });
        // SAFETY: the chunks hold `self.len` items in all, and each was moved into its
        // own slot above: the slots tile the first `self.len` elements of the spare
        // capacity exactly (one slice per chunk, of the chunk's length, in order), so
        // every one of them is initialised once. Moves cannot panic, and `for_each`
        // returns only after every chunk is done. `out` was empty before.
        unsafe { out.set_len(self.len) };
        out
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::Parallel;

    /// Counts how many of its values are alive.
    #[derive(Debug)]
    struct Alive(Arc<AtomicUsize>, usize);

    impl Alive {
        fn new(count: &Arc<AtomicUsize>, value: usize) -> Self {
            count.fetch_add(1, Ordering::SeqCst);
            Alive(Arc::clone(count), value)
        }
    }

    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn at(first_item: u64) -> TaskStart {
        TaskStart {
            first_item: Some(first_item),
            len: 0,
        }
    }

    fn filled<'o>(
        output: &'o Output<Alive>,
        count: &Arc<AtomicUsize>,
        items: std::ops::Range<usize>,
    ) -> Part<'o, Alive> {
        let mut part = output.part(at(items.start as u64));
        for i in items {
            part.push(Alive::new(count, i));
        }
        part
    }

    #[test]
    fn adjacent_tasks_fill_the_vector_in_place_in_order() {
        let count = Arc::new(AtomicUsize::new(0));
        let output = Output::new(Some(10));
        let buffer = output.slots;
        let left = filled(&output, &count, 0..4);
        let right = filled(&output, &count, 4..10);
        let done = left.append(right).done();
        let out = output.finish(done);
        assert_eq!(
            out.as_ptr(),
            buffer.cast_const(),
            "written in place, not copied"
        );
        assert_eq!(
            out.iter().map(|a| a.1).collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
        assert_eq!(count.load(Ordering::SeqCst), 10);
        drop(out);
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_dropped_part_drops_its_outputs_once() {
        let count = Arc::new(AtomicUsize::new(0));
        let output = Output::new(Some(10));
        let left = filled(&output, &count, 0..3);
        let right = filled(&output, &count, 3..7);
        assert_eq!(count.load(Ordering::SeqCst), 7);
        drop(left);
        assert_eq!(count.load(Ordering::SeqCst), 4);
        drop(right);
        assert_eq!(count.load(Ordering::SeqCst), 0);
        drop(output);
    }

    #[test]
    fn parts_with_a_gap_between_them_are_refused_and_dropped_once() {
        let count = Arc::new(AtomicUsize::new(0));
        let output = Output::new(Some(10));
        let left = filled(&output, &count, 0..2);
        let right = filled(&output, &count, 5..7);
        let refused = catch_unwind(AssertUnwindSafe(|| left.append(right)));
        assert!(refused.is_err());
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_write_past_the_input_panics_instead_of_overflowing() {
        let count = Arc::new(AtomicUsize::new(0));
        let output = Output::new(Some(3));
        let overflow = catch_unwind(AssertUnwindSafe(|| filled(&output, &count, 1..5)));
        assert!(overflow.is_err());
        assert_eq!(
            count.load(Ordering::SeqCst),
            0,
            "the written slots were dropped"
        );
    }

    #[test]
    fn empty_parts_combine_with_anything() {
        let count = Arc::new(AtomicUsize::new(0));
        let output = Output::new(Some(4));
        let empty_batch = output.part(TaskStart {
            first_item: None,
            len: 0,
        });
        let placed = filled(&output, &count, 0..4);
        let done = placed.append(empty_batch).done();
        assert_eq!(output.finish(done).len(), 4);
    }

    #[test]
    fn iterated_batches_are_concatenated_in_order() {
        let output = Output::new(None);
        let batch = |values: std::ops::Range<u32>| {
            let mut part = output.part(TaskStart {
                first_item: None,
                len: values.len(),
            });
            for v in values {
                part.push(v);
            }
            part
        };
        let done = batch(0..3).append(batch(3..3)).append(batch(3..8)).done();
        assert_eq!(output.finish(done), (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn every_plan_and_input_kind_maps_in_order_and_drops_each_output_once() {
        let count = Arc::new(AtomicUsize::new(0));
        let plans = [
            Parallel::seq(),
            Parallel::cpu().chunk(7),
            Parallel::io().workers(5).chunk(3),
            Parallel::auto(),
        ];
        for plan in plans {
            let expected: Vec<usize> = (0..500).map(|i| i * 3).collect();
            let indexed = plan.map(0..500usize, |i| Alive::new(&count, i * 3));
            let iterated = plan.map(crate::iter(0..500usize), |i| Alive::new(&count, i * 3));
            let vec_input = plan.map((0..500usize).collect::<Vec<_>>(), |i| {
                Alive::new(&count, i * 3)
            });
            for out in [&indexed, &iterated, &vec_input] {
                assert_eq!(
                    out.iter().map(|a| a.1).collect::<Vec<_>>(),
                    expected,
                    "{plan:?}"
                );
            }
            assert_eq!(count.load(Ordering::SeqCst), 1500);
            drop((indexed, iterated, vec_input));
            assert_eq!(count.load(Ordering::SeqCst), 0, "{plan:?}");
        }
    }

    #[test]
    fn a_batch_written_at_once_drops_its_outputs_once_when_the_body_panics() {
        let count = Arc::new(AtomicUsize::new(0));
        let output = Output::new(Some(10));
        let mut part = output.part(at(0));
        let fold = MapFold(&|i: usize| {
            assert!(i != 6, "deliberate panic at item 6");
            Alive::new(&count, i)
        });
        // The first batch goes through the slice path (its length is exact).
        part = fold
            .fold_items(part, 0..4)
            .unwrap_or_else(|never| match never {});
        assert_eq!(count.load(Ordering::SeqCst), 4);
        let panicked = catch_unwind(AssertUnwindSafe(|| fold.fold_items(part, 4..10)));
        assert!(panicked.is_err());
        assert_eq!(
            count.load(Ordering::SeqCst),
            0,
            "the 6 written outputs were dropped, once each"
        );
    }

    #[test]
    fn batches_fill_the_vector_in_place_in_order() {
        let output = Output::new(Some(1000));
        let fold = MapFold(&|i: u32| i * 2);
        let left = fold
            .fold_items(output.part(at(0)), 0..600)
            .unwrap_or_else(|never| match never {});
        let right = fold
            .fold_items(output.part(at(600)), 600..1000)
            .unwrap_or_else(|never| match never {});
        let done = left.append(right).done();
        let out = output.finish(done);
        assert_eq!(out, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn zero_sized_outputs_are_counted() {
        let out: Vec<()> = Parallel::cpu().chunk(3).map(0..100u32, |_| ());
        assert_eq!(out.len(), 100);
        let out: Vec<()> = Parallel::io().workers(4).map(crate::iter(0..10u32), |_| ());
        assert_eq!(out.len(), 10);
    }
}
