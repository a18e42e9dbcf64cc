//! Executors: where the items of one call run once the plan is known.
//!
//! Every executor runs the same [`Work`]: `init` makes an accumulator per task (told
//! where the task's items sit, see [`TaskStart`]), `fold` feeds it items, `combine`
//! merges two accumulators *in input order* (left = earlier).
//! Failures are shared through [`Outcome`]: the first error or panic stops the handing
//! out of further tasks; tasks already running finish; then the caller gets the error,
//! or the first panic payload is re-raised on the calling thread.

pub(crate) mod cpu;
pub(crate) mod cpu_slots;
pub(crate) mod doorbell;
pub(crate) mod idle_priority;
pub(crate) mod io_pool;
pub(crate) mod latch;
pub(crate) mod runners;

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Where a task sits among the tasks of its call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Position {
    /// The task's first item is this item of the call's indexed input.
    Item(u64),
    /// The task is this batch of an iterated input: the number only orders batches.
    Batch(u64),
}

impl Position {
    /// The key that orders tasks in input order (and finds the earliest error).
    #[inline]
    pub(crate) fn order(self) -> u64 {
        match self {
            Position::Item(index) | Position::Batch(index) => index,
        }
    }
}

/// What `init` is told about the task whose accumulator it makes: enough for `map` to
/// write outputs straight into their final place, or at least to size its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TaskStart {
    /// Index of the task's first item in the call's input, for indexed inputs.
    pub(crate) first_item: Option<u64>,
    /// Items the task will get, at least (0 when unknown).
    pub(crate) len: usize,
}

impl TaskStart {
    /// A task of `len` items (at least) starting at `position`.
    #[inline]
    pub(crate) fn new(position: Position, len: usize) -> Self {
        TaskStart {
            first_item: match position {
                Position::Item(index) => Some(index),
                Position::Batch(_) => None,
            },
            len,
        }
    }
}

/// How a loop's body folds items into a task's accumulator: one at a time, or a task's
/// batch at once.
///
/// Every closure `Fn(A, T) -> Result<A, E>` is one (folding item by item); `map`'s
/// folder overrides [`fold_items`](Self::fold_items) to write a batch's outputs through
/// one bounds-checked slice, a loop the compiler can vectorise, where a bounds check per
/// item kept it scalar.
pub(crate) trait FoldItems<A, T> {
    /// What a failing item returns.
    type Error;

    /// Folds one item.
    fn fold_item(&self, acc: A, item: T) -> Result<A, Self::Error>;

    /// Folds a batch of items, in order, stopping at the first error.
    #[inline]
    fn fold_items<I: Iterator<Item = T>>(&self, acc: A, items: I) -> Result<A, Self::Error> {
        let mut items = items;
        items.try_fold(acc, |acc, item| self.fold_item(acc, item))
    }

    /// Folds the items of an iterator of unknown length, in order, stopping at the
    /// first error: a `for` loop, as the user wrote it, pulling with `next` as the
    /// plain loop does. (`try_fold` runs some iterators, `filter` among them, 2× slower
    /// than their `next`; indexed inputs are the other way round.)
    #[inline]
    fn fold_stream<I: Iterator<Item = T>>(&self, acc: A, items: I) -> Result<A, Self::Error> {
        let mut acc = acc;
        for item in items {
            acc = self.fold_item(acc, item)?;
        }
        Ok(acc)
    }
}

impl<A, T, E, F: Fn(A, T) -> Result<A, E>> FoldItems<A, T> for F {
    type Error = E;

    #[inline]
    fn fold_item(&self, acc: A, item: T) -> Result<A, E> {
        self(acc, item)
    }
}

/// The loop body of one call, split into its three parts.
pub(crate) struct Work<'f, Init, Fold, Comb, E> {
    pub(crate) init: &'f Init,
    pub(crate) fold: &'f Fold,
    pub(crate) combine: &'f Comb,
    pub(crate) outcome: Outcome<E>,
    /// On a failure, keep the combined results of the tasks before the earliest failed
    /// one (see [`Self::merge`]): an early exit (`break`, `return`) needs everything the
    /// items before it produced.
    keeps_prefix: bool,
    /// Which failures are early exits (`break`, `return`), not errors: the call's
    /// progress bar ends as done on those.
    is_exit: fn(&E) -> bool,
    /// The call's progress bar, if it shows one (always `None` without the feature).
    progress: Option<crate::progress::Progress>,
    /// The call's tracing span, entered by pool threads while they run a task (a
    /// zero-sized nothing without the `tracing` feature).
    span: crate::trace::TaskSpan,
}

impl<'f, Init, Fold, Comb, E> Work<'f, Init, Fold, Comb, E> {
    pub(crate) fn new(init: &'f Init, fold: &'f Fold, combine: &'f Comb) -> Self {
        Work {
            init,
            fold,
            combine,
            outcome: Outcome::new(),
            keeps_prefix: false,
            is_exit: |_| false,
            progress: None,
            span: crate::trace::TaskSpan::none(),
        }
    }

    /// Keeps, on a failure, the results of the tasks before the earliest failed one.
    pub(crate) fn keeping_prefix(mut self, keeps_prefix: bool) -> Self {
        self.keeps_prefix = keeps_prefix;
        self
    }

    /// Counts the failures `is_exit` picks as early exits, not errors (for the progress
    /// bar: a search that found its item succeeded).
    pub(crate) fn with_exits(mut self, is_exit: fn(&E) -> bool) -> Self {
        self.is_exit = is_exit;
        self
    }

    /// Whether a failure keeps the results of the tasks before it.
    #[inline]
    pub(crate) fn keeps_prefix(&self) -> bool {
        self.keeps_prefix
    }

    /// Enters `span` in every task run off the calling thread.
    pub(crate) fn with_span(mut self, span: crate::trace::TaskSpan) -> Self {
        self.span = span;
        self
    }

    /// Counts the items of every task on `progress`.
    pub(crate) fn with_progress(mut self, progress: Option<crate::progress::Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Counts items run outside a task (profiling) on the progress bar.
    #[inline]
    pub(crate) fn progressed(&self, items: usize) {
        if let Some(progress) = &self.progress {
            progress.add(items);
        }
    }

    /// Runs one task: `items` into a fresh accumulator. `position` orders the task among
    /// the others (used to report the earliest error). `None` if the call has failed.
    #[inline]
    pub(crate) fn task<A, T, I>(&self, position: Position, items: I) -> Option<A>
    where
        Init: Fn(TaskStart) -> A,
        Fold: FoldItems<A, T, Error = E>,
        I: Iterator<Item = T>,
    {
        match &self.progress {
            None => self.run_task(position, items),
            Some(progress) => self.counted_task(position, progress, items),
        }
    }

    /// A task of a call with a progress bar: out of line, so calls without one run the
    /// same code as without the feature.
    #[inline(never)]
    fn counted_task<A, T, I>(
        &self,
        position: Position,
        progress: &crate::progress::Progress,
        items: I,
    ) -> Option<A>
    where
        Init: Fn(TaskStart) -> A,
        Fold: FoldItems<A, T, Error = E>,
        I: Iterator<Item = T>,
    {
        self.run_task(position, progress.count(items))
    }

    #[inline]
    fn run_task<A, T, I>(&self, position: Position, items: I) -> Option<A>
    where
        Init: Fn(TaskStart) -> A,
        Fold: FoldItems<A, T, Error = E>,
        I: Iterator<Item = T>,
    {
        if self.outcome.skips(position.order()) {
            return None;
        }
        let _span = self.span.enter_off_caller();
        let run = AssertUnwindSafe(|| {
            let items = items;
            let start = TaskStart::new(position, items.size_hint().0);
            match position {
                Position::Item(_) => self.fold.fold_items((self.init)(start), items),
                Position::Batch(_) => self.fold.fold_stream((self.init)(start), items),
            }
        });
        match catch_unwind(run) {
            Ok(Ok(acc)) => Some(acc),
            Ok(Err(error)) => {
                self.outcome.record_error(position.order(), error);
                None
            }
            Err(payload) => {
                self.outcome.panic(payload);
                // At once: a bar that kept redrawing would draw over the panic's message.
                if let Some(progress) = &self.progress {
                    progress.end(crate::progress::Ended::Panicked);
                }
                None
            }
        }
    }

    /// Merges two ordered partial results, `right` starting at position `right_at`;
    /// `None` (a failed side) wins, except that a call keeping its prefix keeps a left
    /// side that succeeded, and drops a right side that starts after a failure.
    ///
    /// Every task before the earliest failed one runs and succeeds (only tasks after a
    /// failure are skipped), and a failure inside `left` is recorded before `left`
    /// returns, so the result is exactly the prefix before the earliest failure once
    /// every merge above it is done.
    pub(crate) fn merge<A>(&self, left: Option<A>, right: Option<A>, right_at: u64) -> Option<A>
    where
        Comb: Fn(A, A) -> A,
    {
        match (left, right) {
            (Some(left), Some(right))
                if !self.keeps_prefix || self.outcome.before_failure(right_at) =>
            {
                Some((self.combine)(left, right))
            }
            (Some(left), _) if self.keeps_prefix => Some(left),
            _ => None,
        }
    }

    /// The ordered combination of the results of a failed call's tasks that come before
    /// its earliest failure, if the call keeps its prefix (`None` otherwise, or if there
    /// are none). Tasks after the failure that finished are dropped.
    pub(crate) fn prefix_before_failure<A>(&self, mut results: Vec<(Position, A)>) -> Option<A>
    where
        Comb: Fn(A, A) -> A,
    {
        if !self.keeps_prefix {
            return None;
        }
        results.retain(|(position, _)| self.outcome.before_failure(position.order()));
        self.combine_in_order(results)
    }

    /// Combines task results tagged with their positions, whatever order they finished
    /// in, in input order; `None` if there are none.
    pub(crate) fn combine_in_order<A>(&self, mut results: Vec<(Position, A)>) -> Option<A>
    where
        Comb: Fn(A, A) -> A,
    {
        results.sort_unstable_by_key(|(position, _)| position.order());
        let mut ordered = results.into_iter().map(|(_, acc)| acc);
        let first = ordered.next()?;
        Some(ordered.fold(first, |left, right| (self.combine)(left, right)))
    }

    /// Ends the call: re-raises the first panic, else returns the earliest error with
    /// the result of the tasks before it (see [`Self::keeping_prefix`]), else the
    /// accumulator.
    pub(crate) fn finish<A>(self, result: Option<A>) -> Result<A, (Option<A>, E)> {
        if let Some(progress) = &self.progress {
            progress.end(self.outcome.ended(self.is_exit));
        }
        self.outcome.finish(result)
    }
}

/// How one call is going: has anything failed, and with what.
///
/// An error stops only what comes after it: a task before the earliest failed one
/// still runs, since it may hold an earlier error, and the call returns the error of
/// the earliest failing item in input order, as the sequential loop would. A panic
/// stops everything.
pub(crate) struct Outcome<E> {
    failed: AtomicBool,
    /// Position of the earliest task that failed with an error, `u64::MAX` if none; a
    /// copy of `error`'s position that tasks can read without the lock.
    first_error_at: AtomicU64,
    /// True once a task panicked.
    panicked: AtomicBool,
    /// The error of the earliest task that failed (by position).
    error: Mutex<Option<(u64, E)>>,
    /// The first panic payload.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl<E> Outcome<E> {
    fn new() -> Self {
        Outcome {
            failed: AtomicBool::new(false),
            first_error_at: AtomicU64::new(u64::MAX),
            panicked: AtomicBool::new(false),
            error: Mutex::new(None),
            panic: Mutex::new(None),
        }
    }

    /// True once a task failed. Executors that hand out tasks in input order stop
    /// handing them out then: every later task comes after the failure.
    #[inline]
    pub(crate) fn failed(&self) -> bool {
        // Relaxed: a stale `false` only lets one more task start; the results are
        // published through the mutexes and the executors' joins.
        self.failed.load(Ordering::Relaxed)
    }

    /// True when the task at `position` need not run: a task panicked, or one before
    /// it failed with an error (its own error could only come later in input order).
    #[inline]
    pub(crate) fn skips(&self, position: u64) -> bool {
        self.failed()
            && (self.panicked.load(Ordering::Relaxed)
                || position > self.first_error_at.load(Ordering::Relaxed))
    }

    /// How the call ended, as its progress bar says it: an early exit (a failure that
    /// `is_exit` picks) is a success.
    pub(crate) fn ended(&self, is_exit: fn(&E) -> bool) -> crate::progress::Ended {
        use crate::progress::Ended;
        if self.panicked.load(Ordering::Relaxed) {
            return Ended::Panicked;
        }
        let error = self.error.lock().unwrap_or_else(|e| e.into_inner());
        match &*error {
            Some((_, error)) if !is_exit(error) => Ended::Failed,
            _ => Ended::Done,
        }
    }

    /// True when the task at `position` comes before every failure so far and nothing
    /// panicked: its result belongs to the prefix of a failed call that keeps one.
    #[inline]
    pub(crate) fn before_failure(&self, position: u64) -> bool {
        !self.panicked.load(Ordering::Relaxed)
            && position < self.first_error_at.load(Ordering::Relaxed)
    }

    /// Records an item's error: the call stops and returns the earliest one.
    pub(crate) fn record_error(&self, position: u64, error: E) {
        self.first_error_at.fetch_min(position, Ordering::Relaxed);
        self.failed.store(true, Ordering::Relaxed);
        let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
        if slot
            .as_ref()
            .is_none_or(|(earliest, _)| position < *earliest)
        {
            *slot = Some((position, error));
        }
    }

    /// Records a panic: the call stops, and the first payload is re-raised on the
    /// caller; later ones are dropped here (see [`discard_panic`]).
    pub(crate) fn panic(&self, payload: Box<dyn Any + Send>) {
        self.panicked.store(true, Ordering::Relaxed);
        self.failed.store(true, Ordering::Relaxed);
        let mut slot = self.panic.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(payload);
        } else {
            drop(slot);
            discard_panic(payload);
        }
    }

    fn finish<A>(self, result: Option<A>) -> Result<A, (Option<A>, E)> {
        if let Some(payload) = self.panic.into_inner().unwrap_or_else(|e| e.into_inner()) {
            drop(result);
            resume_unwind(payload);
        }
        if let Some((_, error)) = self.error.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err((result, error));
        }
        Ok(result.expect("every task of a call that did not fail produced a result"))
    }
}

/// Drops a panic payload that is not re-raised, on whatever thread holds it.
///
/// A payload is any value, and its `Drop` may panic too. Unwinding out of a pool
/// thread's bookkeeping would abort the process or leave its counts wrong, so such a
/// drop is caught, and the payload of *that* panic (which could panic on drop again) is
/// leaked: a few bytes lost once is better than an abort.
pub(crate) fn discard_panic(payload: Box<dyn Any + Send>) {
    if let Err(second) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(second);
    }
}
