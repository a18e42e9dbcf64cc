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
//! A task runs its items as one plain fold, as tight as the sequential loop's: a check
//! between items for an exit elsewhere cost up to 3× on cheap items. Tasks of a
//! parallel plan are kept short instead (see `Call::run_plan_indexed`), so a task
//! that started before an earlier item exited is soon over, and one that starts after
//! it is skipped.

use std::ops::ControlFlow;

use crate::engine::{self, CallSpec};
use crate::exec::FoldItems;
use crate::input::IntoParallelInput;

/// Why a task stopped before its last item.
pub(crate) enum Halt<A, B, E> {
    /// An item exited with a value; the accumulator up to and including that item.
    Break(A, B),
    /// An item failed.
    Error(E),
}

/// The loop body of an early-exit call as the engine's fold.
struct Halting<'f, F>(&'f F);

impl<A, T, B, E, F> FoldItems<A, T> for Halting<'_, F>
where
    F: Fn(A, T) -> Result<ControlFlow<(A, B), A>, E>,
{
    type Error = Halt<A, B, E>;

    #[inline]
    fn fold_item(&self, acc: A, item: T) -> Result<A, Self::Error> {
        match (self.0)(acc, item) {
            Ok(ControlFlow::Continue(acc)) => Ok(acc),
            Ok(ControlFlow::Break((acc, value))) => Err(Halt::Break(acc, value)),
            Err(error) => Err(Halt::Error(error)),
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
    let is_exit: fn(&Halt<A, B, E>) -> bool = |halt| matches!(halt, Halt::Break(..));
    let result = engine::run_parts(
        spec,
        key,
        input,
        |_| init(),
        Halting(&fold),
        &combine,
        Some(is_exit),
    );
    match result {
        Ok(acc) => Ok((acc, None)),
        Err((prefix, Halt::Break(acc, value))) => {
            let acc = match prefix {
                Some(prefix) => combine(prefix, acc),
                None => acc,
            };
            Ok((acc, Some(value)))
        }
        Err((_, Halt::Error(error))) => Err(error),
    }
}
