//! The CPU executor: an indexed input, in chunks, on rayon's pool.
//!
//! A call from outside the pool runs on the calling thread *and* `threads - 1` pool
//! threads pulling chunks from one queue (`runners::run`): the caller starts on the
//! items at once and never sleeps while pool threads wake one another (two thread
//! wake-ups per call that rayon's own `par_iter` pays from outside its pool, one to
//! start and one to hand the caller its result), and it never waits for a helper that
//! has not started yet. A call made on a pool thread (a nested loop) forks and joins.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::iter::plumbing::Producer;
use rayon::{ThreadPool, ThreadPoolBuilder};

use super::{FoldItems, Position, TaskStart, Work};
use crate::input::Span;

/// Whether rayon's global pool runs. It cannot start where no thread can be spawned
/// (rayon would panic on first use); CPU plans then run on the calling thread.
pub(crate) fn global_pool_runs() -> bool {
    static RUNS: OnceLock<bool> = OnceLock::new();
    *RUNS.get_or_init(|| {
        crate::fork::watch();
        start_global_pool()
    })
}

fn start_global_pool() -> bool {
    match ThreadPoolBuilder::new().build_global() {
        Ok(()) => true,
        // Already started, by the user or by rayon itself: not an I/O failure.
        Err(error) if std::error::Error::source(&error).is_none() => true,
        Err(error) => {
            eprintln!(
                "autopar: warning: rayon's thread pool cannot start ({error}); CPU plans run sequentially"
            );
            false
        }
    }
}

/// Threads of rayon's pool as seen from here (the current pool inside a worker; 1 if
/// it cannot start).
pub(crate) fn threads() -> usize {
    if global_pool_runs() {
        rayon::current_num_threads()
    } else {
        1
    }
}

/// Most threads a CPU pool gets: more than a few per core only adds switching.
pub(crate) fn threads_ceiling() -> usize {
    (4 * crate::machine::cores()).max(8)
}

/// The pool a CPU plan of `threads` threads runs on: rayon's global pool when it has
/// that many threads (it respects `RAYON_NUM_THREADS`), else a dedicated pool, built once
/// per distinct size and kept.
pub(crate) fn pool(threads: usize) -> Option<Arc<ThreadPool>> {
    let threads = threads.min(threads_ceiling());
    if threads == self::threads() || threads == 0 {
        return None;
    }
    static POOLS: OnceLock<Mutex<HashMap<usize, Option<Arc<ThreadPool>>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    pools
        .entry(threads)
        .or_insert_with(|| {
            let built = ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(move |i| format!("autopar-cpu{threads}-{i}"))
                .build();
            match built {
                Ok(pool) => Some(Arc::new(pool)),
                Err(error) => {
                    // Fall back to the global pool: fewer threads, never a failure.
                    eprintln!(
                        "autopar: warning: could not build a {threads}-thread pool ({error}); using rayon's global pool"
                    );
                    None
                }
            }
        })
        .clone()
}

/// Runs `producer` (whose first item is item `offset` of the call) in tasks of `chunk`
/// items on a pool of `threads` threads.
pub(crate) fn run<P, A, Init, Fold, Comb, E>(
    work: &Work<'_, Init, Fold, Comb, E>,
    producer: Span<P>,
    offset: u64,
    threads: usize,
    chunk: usize,
) -> Option<A>
where
    P: Producer,
    A: Send,
    E: Send,
    Init: Fn(TaskStart) -> A + Sync,
    Fold: FoldItems<A, P::Item, Error = E> + Sync,
    Comb: Fn(A, A) -> A + Sync,
{
    let chunk = chunk.max(1);
    if !global_pool_runs() {
        return work.task(Position::Item(offset), producer.into_iter());
    }
    if rayon::current_thread_index().is_none() {
        // From outside the pool: the caller works too, with pool threads as helpers
        // (see `runners::run`). Inside it, fork-join: the caller is a pool thread already.
        return super::runners::run(
            work,
            super::runners::ProducerBatches::new(producer, offset, chunk),
            super::runners::Runners::Cpu(threads),
        );
    }
    match pool(threads) {
        Some(pool) => pool.install(|| split(work, producer, offset, chunk)),
        None => split(work, producer, offset, chunk),
    }
}

/// Recursive halving at chunk boundaries, for calls made on a pool thread (nested
/// loops); rayon's work stealing balances the halves and the join tree keeps results in
/// input order.
fn split<P, A, Init, Fold, Comb, E>(
    work: &Work<'_, Init, Fold, Comb, E>,
    producer: Span<P>,
    offset: u64,
    chunk: usize,
) -> Option<A>
where
    P: Producer,
    A: Send,
    E: Send,
    Init: Fn(TaskStart) -> A + Sync,
    Fold: FoldItems<A, P::Item, Error = E> + Sync,
    Comb: Fn(A, A) -> A + Sync,
{
    let len = producer.len();
    if len <= chunk {
        return work.task(Position::Item(offset), producer.into_iter());
    }
    // A failure before this half does not stop it: it may hold an earlier error.
    if work.outcome.skips(offset) {
        return None;
    }
    let mid = len.div_ceil(chunk) / 2 * chunk;
    let (left, right) = producer.split_at(mid);
    let (left, right) = rayon::join(
        || split(work, left, offset, chunk),
        || split(work, right, offset + mid as u64, chunk),
    );
    work.merge(left, right, offset + mid as u64)
}
