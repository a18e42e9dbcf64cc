//! The runner executor: a few workers pulling batches from a shared source.
//!
//! Used for the I/O pool (whatever the input), for CPU plans called from outside rayon's
//! pool (the caller is one of the runners), and for CPU plans over inputs that can only
//! be iterated. Each batch is a task with its own accumulator, tagged with its
//! position so results are combined in input order however the batches were scheduled.
//! Only the batches being worked on are buffered: memory is O(workers × chunk).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::iter::plumbing::Producer;

use super::cpu_slots;
use super::io_pool::IoPool;
use super::{FoldItems, Position, TaskStart, Work};
use crate::input::Span;
use crate::placement::{Crew, Nudge};

/// Where runners get their next batch.
pub(crate) trait Batches: Sync {
    type Item;
    type Batch: Iterator<Item = Self::Item>;
    /// The next batch and its position, or `None` when the input is exhausted.
    fn next_batch(&self) -> Option<(Position, Self::Batch)>;
    /// Batches left, where known: more runners than that would find nothing to do.
    fn batches_left(&self) -> Option<usize> {
        None
    }
}

/// Batches split off the front of an indexed input.
pub(crate) struct ProducerBatches<P> {
    rest: Mutex<Option<(Span<P>, u64)>>,
    /// Items per batch; may change while runners pull.
    chunk: AtomicUsize,
}

impl<P: Producer> ProducerBatches<P> {
    /// `producer`'s first item is item `offset` of the call.
    pub(crate) fn new(producer: Span<P>, offset: u64, chunk: usize) -> Self {
        ProducerBatches {
            rest: Mutex::new(Some((producer, offset))),
            chunk: AtomicUsize::new(chunk.max(1)),
        }
    }

    /// Items per batch now.
    pub(crate) fn chunk(&self) -> usize {
        self.chunk.load(Ordering::Relaxed)
    }

    /// Makes later batches `chunk` items long.
    pub(crate) fn set_chunk(&self, chunk: usize) {
        self.chunk.store(chunk.max(1), Ordering::Relaxed);
    }

    /// Splits off the next `len` items (fewer at the end) and their position.
    pub(crate) fn take(&self, len: usize) -> Option<(u64, Span<P>)> {
        let mut rest = self.rest.lock().unwrap_or_else(|e| e.into_inner());
        let (producer, offset) = rest.take()?;
        let left = producer.len();
        if left == 0 {
            return None;
        }
        let take = len.clamp(1, left);
        let (head, tail) = producer.split_at(take);
        if take < left {
            *rest = Some((tail, offset + take as u64));
        }
        Some((offset, head))
    }

    /// Everything not handed out yet, and its position.
    pub(crate) fn take_rest(&self) -> Option<(u64, Span<P>)> {
        let mut rest = self.rest.lock().unwrap_or_else(|e| e.into_inner());
        rest.take()
            .filter(|(producer, _)| producer.len() > 0)
            .map(|(p, offset)| (offset, p))
    }

    /// Items not handed out yet.
    pub(crate) fn remaining(&self) -> usize {
        let rest = self.rest.lock().unwrap_or_else(|e| e.into_inner());
        rest.as_ref().map_or(0, |(producer, _)| producer.len())
    }
}

impl<P: Producer> Batches for ProducerBatches<P> {
    type Item = P::Item;
    type Batch = P::IntoIter;
    fn next_batch(&self) -> Option<(Position, P::IntoIter)> {
        let (offset, batch) = self.take(self.chunk.load(Ordering::Relaxed))?;
        Some((Position::Item(offset), batch.into_iter()))
    }

    fn batches_left(&self) -> Option<usize> {
        Some(self.remaining().div_ceil(self.chunk()))
    }
}

/// Batches pulled from an iterator under a lock.
///
/// If the iterator panics, the lock is poisoned and every later pull finds the input
/// exhausted: an iterator that panicked is never asked for another item (its state may
/// be anything), and the runner that saw the panic reports it to the call.
pub(crate) struct IterBatches<I> {
    state: Mutex<(I, u64)>,
    chunk: usize,
}

/// Most bytes of items one batch of an iterated input buffers: a batch is collected
/// before it runs, so a chunk size (the user's, or a plan's) must not decide alone how
/// much of a stream sits in memory.
const BATCH_BYTES: usize = 1 << 20;
/// Most items one batch of an iterated input buffers, however small: past this, a
/// bigger batch saves nothing (one lock per 16k items) and delays the other runners.
const BATCH_ITEMS: usize = 1 << 14;

/// Items per batch for a stream of `T` asked to run in chunks of `chunk`: at most
/// [`BATCH_ITEMS`] items and [`BATCH_BYTES`] bytes (of the items themselves; what they
/// own on the heap is theirs), at least one.
pub(crate) fn stream_batch_len<T>(chunk: usize) -> usize {
    let by_size = BATCH_BYTES / std::mem::size_of::<T>().max(1);
    chunk.min(BATCH_ITEMS).min(by_size).max(1)
}

impl<I: Iterator> IterBatches<I> {
    /// `next_position` is the position of the first batch (after any profiled prefix).
    pub(crate) fn new(iter: I, next_position: u64, chunk: usize) -> Self {
        IterBatches {
            state: Mutex::new((iter, next_position)),
            chunk: stream_batch_len::<I::Item>(chunk),
        }
    }
}

impl<I> Batches for IterBatches<I>
where
    I: Iterator + Send,
    I::Item: Send,
{
    type Item = I::Item;
    type Batch = std::vec::IntoIter<I::Item>;
    fn next_batch(&self) -> Option<(Position, Self::Batch)> {
        // Poisoned: the iterator panicked in another runner's pull (see the type).
        let Ok(mut state) = self.state.lock() else {
            return None;
        };
        let (iter, position) = &mut *state;
        let batch: Vec<I::Item> = iter.by_ref().take(self.chunk).collect();
        if batch.is_empty() {
            return None;
        }
        let this = *position;
        *position += 1;
        Some((Position::Batch(this), batch.into_iter()))
    }
}

/// Where the runners run.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Runners {
    /// `n` workers of the I/O pool (the caller is one of them).
    Io(usize),
    /// `n` runners on the CPU pool of `n` threads: the caller and `n - 1` pool threads
    /// if the caller is not a pool thread, else `n` tasks of the pool.
    Cpu(usize),
}

/// Runs every batch of `source` on `runners`, returning the ordered combination.
pub(crate) fn run<S, A, Init, Fold, Comb, E>(
    work: &Work<'_, Init, Fold, Comb, E>,
    source: S,
    runners: Runners,
) -> Option<A>
where
    S: Batches,
    A: Send,
    E: Send,
    Init: Fn(TaskStart) -> A + Sync,
    Fold: FoldItems<A, S::Item, Error = E> + Sync,
    Comb: Fn(A, A) -> A + Sync,
{
    let results: Mutex<Vec<(Position, A)>> = Mutex::new(Vec::new());
    // `nudge`: on a caller with helpers that compute beside it (see `placement::Crew`).
    let pull = |mut nudge: Option<Nudge<'_>>| {
        let mut mine = Vec::new();
        while !work.outcome.failed() {
            if let Some(nudge) = &mut nudge {
                nudge.poll();
            }
            // The input's own code (an iterator's `next`) runs here, outside any task: a
            // panic in it stops the call like a panic in an item.
            let next = catch_unwind(AssertUnwindSafe(|| source.next_batch()));
            let Some((position, batch)) = next.unwrap_or_else(|payload| {
                work.outcome.panic(payload);
                None
            }) else {
                break;
            };
            match work.task(position, batch) {
                Some(acc) => mine.push((position, acc)),
                None => break,
            }
        }
        results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(&mut mine);
    };
    let runner = || pull(None);
    match runners {
        Runners::Io(workers) => {
            // No more helpers than batches (beyond the caller's): the plan's worker count
            // is for the whole size class, and this input may be shorter, or partly run
            // by profiling; each helper woken for nothing costs a wake-up or a spawn.
            let batches = source.batches_left().unwrap_or(usize::MAX);
            let extra = workers.min(batches).saturating_sub(1);
            cpu_slots::as_io_caller(|| IoPool::global().run(extra, &runner))
        }
        Runners::Cpu(_) if !super::cpu::global_pool_runs() => runner(),
        Runners::Cpu(threads) if rayon::current_thread_index().is_none() => {
            // The caller and `threads - 1` pool threads, which join when they can (a
            // late one finds the call over and does nothing); one that the kernel put on
            // the caller's CPU moves off it, and the caller makes way for one stuck
            // behind it (see `placement`).
            let crew = Crew::here();
            // Started on an I/O-pool thread: the caller and every helper hold a CPU slot
            // while they compute, and a helper that finds none free leaves.
            let slot = cpu_slots::needed_here().then(cpu_slots::take);
            let bounded = slot.is_some();
            let caller_or_helper = || {
                if crew.is_caller() {
                    pull(Some(crew.nudge()));
                } else {
                    let slot = if bounded { cpu_slots::try_take() } else { None };
                    if bounded && slot.is_none() {
                        return;
                    }
                    crew.joined_to_compute();
                    pull(None);
                }
            };
            IoPool::run_on_rayon(
                super::cpu::pool(threads).as_deref(),
                threads - 1,
                &caller_or_helper,
            );
        }
        Runners::Cpu(threads) => {
            let spawn_all = || {
                rayon::in_place_scope(|scope| {
                    for _ in 1..threads {
                        scope.spawn(|_| runner());
                    }
                    runner();
                })
            };
            match super::cpu::pool(threads) {
                Some(pool) => pool.install(spawn_all),
                None => spawn_all(),
            }
        }
    }
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    if work.outcome.failed() {
        return work.prefix_before_failure(results);
    }
    Some(work.combine_in_order(results).unwrap_or_else(|| {
        (work.init)(TaskStart {
            first_item: None,
            len: 0,
        })
    }))
}
