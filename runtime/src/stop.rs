//! Early exit: loops whose items may `break` (or `return` from the function), with the
//! sequential loop's result.
//!
//! An early exit is the shape of an error: a stop at an item, carrying a value, where
//! the earliest item in input order wins. So it runs as one: the engine's fold fails
//! with [`Halt::Break`], which carries the exiting task's accumulator (its items
//! before the exit, and the exiting item's own effects before it stops) and the exit's
//! value. The executors already stop handing out tasks after a failure, skip tasks
//! after the earliest one and still run those before it, and the call keeps the
//! combined accumulators of the tasks before the earliest failure (see
//! `Work::keeping_prefix`). The loop's accumulator is that prefix followed by the
//! exiting task's, exactly what the sequential loop had folded when it stopped.
//!
//! Errors (`?`) fail the same way, so whichever of an exit and an error comes first in
//! input order wins, as in the sequential loop.
//!
//! A task that runs after an exit at an earlier item (it started before the exit was
//! known) stops between blocks of [`BLOCK`] items: its results are dropped anyway, and
//! the caller waits for it before returning.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::{self, CallSpec};
use crate::exec::{FoldItems, TaskStart};
use crate::input::IntoParallelInput;

/// Items a task folds between two looks at whether an earlier item exited.
const BLOCK: usize = 256;

/// A task's accumulator and the position of its first item (if its input is indexed),
/// which orders its exit among the others.
pub(crate) struct Flow<A> {
    acc: A,
    at: Option<u64>,
}

/// Why a task stopped before its last item.
pub(crate) enum Halt<A, B, E> {
    /// An item exited with a value; the accumulator up to and including that item.
    Break(A, B),
    /// An item failed.
    Error(E),
    /// An item of an earlier task exited or failed: this task's results are not needed.
    Abandoned,
}

/// The loop body of an early-exit call as the engine's fold.
struct Halting<'f, F> {
    body: &'f F,
    /// Position of the earliest task known to have exited or failed (`u64::MAX` if
    /// none); a later task stops at its next block.
    stopped_at: &'f AtomicU64,
}

impl<F> Halting<'_, F> {
    #[inline]
    fn step<A, T, B, E>(&self, acc: A, item: T, at: Option<u64>) -> Result<A, Halt<A, B, E>>
    where
        F: Fn(A, T) -> Result<ControlFlow<(A, B), A>, E>,
    {
        let halt = match (self.body)(acc, item) {
            Ok(ControlFlow::Continue(acc)) => return Ok(acc),
            Ok(ControlFlow::Break((acc, value))) => Halt::Break(acc, value),
            Err(error) => Halt::Error(error),
        };
        if let Some(at) = at {
            // Relaxed: only a hint for later tasks to stop early; the outcome, which
            // the executors publish through their joins, decides the result.
            self.stopped_at.fetch_min(at, Ordering::Relaxed);
        }
        Err(halt)
    }
}

impl<A, T, B, E, F> FoldItems<Flow<A>, T> for Halting<'_, F>
where
    F: Fn(A, T) -> Result<ControlFlow<(A, B), A>, E>,
{
    type Error = Halt<A, B, E>;

    #[inline]
    fn fold_item(&self, flow: Flow<A>, item: T) -> Result<Flow<A>, Self::Error> {
        let at = flow.at;
        let acc = self.step(flow.acc, item, at)?;
        Ok(Flow { acc, at })
    }

    #[inline]
    fn fold_items<I: Iterator<Item = T>>(
        &self,
        flow: Flow<A>,
        items: I,
    ) -> Result<Flow<A>, Self::Error> {
        let Flow { mut acc, at } = flow;
        let mut items = items;
        let Some(position) = at else {
            // Batches of an iterator: short, and ordered only by their number.
            let acc = items.try_fold(acc, |acc, item| self.step(acc, item, None))?;
            return Ok(Flow { acc, at });
        };
        loop {
            let mut folded = 0;
            acc = items.by_ref().take(BLOCK).try_fold(acc, |acc, item| {
                folded += 1;
                self.step(acc, item, at)
            })?;
            if folded < BLOCK {
                return Ok(Flow { acc, at });
            }
            if self.stopped_at.load(Ordering::Relaxed) < position {
                return Err(Halt::Abandoned);
            }
        }
    }
}

/// Runs a loop whose items may exit early: `fold` returns `Continue(acc)` to go on,
/// `Break((acc, value))` to stop the loop at this item, or an error.
///
/// Returns the accumulator of every item up to the earliest exit (all of them if none
/// exits) and the exit's value, or the error of the earliest failing item if it comes
/// before any exit.
#[inline]
pub(crate) fn run<I, A, B, E, Init, Fold, Comb>(
    spec: CallSpec,
    key: &'static str,
    input: I,
    init: Init,
    fold: Fold,
    combine: Comb,
) -> Result<(A, Option<B>), E>
where
    I: IntoParallelInput,
    A: Send,
    B: Send,
    E: Send,
    Init: Fn() -> A + Sync,
    Fold: Fn(A, I::Item) -> Result<ControlFlow<(A, B), A>, E> + Sync,
    Comb: Fn(A, A) -> A + Sync,
{
    let stopped_at = AtomicU64::new(u64::MAX);
    let halting = Halting {
        body: &fold,
        stopped_at: &stopped_at,
    };
    let result = engine::run_parts(
        spec,
        key,
        input,
        |start: TaskStart| Flow {
            acc: init(),
            at: start.first_item,
        },
        halting,
        |left: Flow<A>, right: Flow<A>| Flow {
            acc: combine(left.acc, right.acc),
            at: left.at,
        },
        true,
    );
    match result {
        Ok(flow) => Ok((flow.acc, None)),
        Err((prefix, Halt::Break(acc, value))) => {
            let acc = match prefix {
                Some(prefix) => combine(prefix.acc, acc),
                None => acc,
            };
            Ok((acc, Some(value)))
        }
        Err((_, Halt::Error(error))) => Err(error),
        // A task is abandoned only after an earlier one exited or failed, and the
        // earliest of those is what the call reports.
        Err((_, Halt::Abandoned)) => unreachable!("autopar: an abandoned task was the earliest"),
    }
}
