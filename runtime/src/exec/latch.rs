//! The scope latch of the I/O pool.
//!
//! One call of [`IoPool::run`](super::io_pool::IoPool::run) lends a borrowed runner to pool
//! threads. The latch decides which of them may still touch it: a pool thread must
//! [`enter`](Latch::enter) before calling the runner and leaves when the returned guard drops;
//! the caller, once its own invocation returned, [`close_and_wait`](Latch::close_and_wait)s.
//! After close, `enter` fails, so a job that gets to run late never sees the runner, and the
//! caller only ever waits for runners that already started: it cannot deadlock on a job
//! stuck behind busy pool threads.

use crate::sync::{AtomicUsize, Condvar, Mutex, Ordering};
use std::sync::PoisonError;

/// Bit 0 of the state word: set once by `close_and_wait`.
const CLOSED: usize = 1;
/// One active runner, counted in the bits above `CLOSED`.
const ONE: usize = 2;

/// CLOSED bit + count of active runners in one atomic word, plus the lock the closer blocks on.
pub(crate) struct Latch {
    state: AtomicUsize,
    /// Guards nothing; pairs with `wake` so that the last exit cannot slip between the closer's
    /// check and its wait (a lost wake-up).
    lock: Mutex<()>,
    wake: Condvar,
}

/// Proof of a successful [`Latch::enter`]; dropping it (also while unwinding) leaves.
#[must_use = "the runner may only be touched while this guard lives"]
pub(crate) struct Entered<'a>(&'a Latch);

impl Latch {
    /// An open latch with no runner inside.
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Counts one more runner, unless the latch is closed.
    pub(crate) fn enter(&self) -> Option<Entered<'_>> {
        // Relaxed is enough: entering publishes nothing and reads nothing the caller wrote
        // (the runner was published by the job queue's send/receive). What matters is only
        // where this RMW falls in the word's modification order relative to the closing
        // `fetch_or`: before it, the closer sees our count and waits for our exit; after it,
        // we see CLOSED and fail.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return None;
            }
            match self.state.compare_exchange_weak(
                state,
                state + ONE,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Entered(self)),
                Err(now) => state = now,
            }
        }
    }

    /// Whether the latch is closed (a hint: it may close right after).
    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Relaxed) & CLOSED != 0
    }

    /// Closes the latch, then blocks until every runner that entered has left.
    ///
    /// On return, everything the runners did happens-before the caller's next step.
    pub(crate) fn close_and_wait(&self) {
        // Acquire: if nobody is inside, the exits before us must be visible to the caller.
        if self.state.fetch_or(CLOSED, Ordering::Acquire) == 0 {
            return;
        }
        // Runners are usually nearly done by the time the caller finished its own share, and
        // blocking costs a futex round trip, so poll briefly first. Not under loom: every
        // poll would be one more interleaving to explore, and the blocking path below is the
        // one that needs checking.
        #[cfg(not(loom))]
        {
            let backoff = crossbeam_utils::Backoff::new();
            while !backoff.is_completed() {
                backoff.snooze();
                if self.drained() {
                    return;
                }
            }
        }
        #[cfg(not(loom))]
        if rayon::current_thread_index().is_some() {
            // A rayon worker must not block here: a runner may have nested a CPU loop and be
            // waiting for rayon's workers, and if all of them sat in this wait, nobody would
            // run its job. So keep running rayon jobs while waiting.
            while !self.drained() {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    std::thread::sleep(std::time::Duration::from_micros(20));
                }
            }
            return;
        }
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        while !self.drained() {
            guard = self
                .wake
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// True once closed with no runner inside.
    fn drained(&self) -> bool {
        // Acquire pairs with the Release of every `exit`: all exits and enters are RMWs, so
        // the value we read ends the release sequence headed by each earlier exit.
        self.state.load(Ordering::Acquire) == CLOSED
    }

    /// Leaves; the last runner out after close wakes the closer.
    fn exit(&self) {
        // Release: the runner's effects must be visible to the closer once it sees the count
        // drop to zero.
        if self.state.fetch_sub(ONE, Ordering::Release) == CLOSED | ONE {
            // Taking the lock orders this wake-up after the closer's check-then-wait. The latch
            // is still alive although the closer may already have returned (seen the zero while
            // polling): the pool keeps it in an `Arc` that this runner's job holds.
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.wake.notify_one();
        }
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.exit();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    #[test]
    fn enter_fails_after_close() {
        let latch = Latch::new();
        drop(latch.enter().expect("open latch admits a runner"));
        latch.close_and_wait();
        assert!(latch.enter().is_none());
    }

    #[test]
    fn panicking_runner_still_leaves() {
        let latch = Latch::new();
        let result = catch_unwind(AssertUnwindSafe(|| {
            let _entered = latch.enter();
            panic!("runner failed");
        }));
        assert!(result.is_err());
        // Would block forever if the unwinding runner had not left.
        latch.close_and_wait();
    }

    #[test]
    fn closer_waits_for_runner() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let latch = Latch::new();
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let entered = latch.enter().expect("open");
            s.spawn(|| {
                let _entered = entered;
                std::thread::sleep(std::time::Duration::from_millis(20));
                done.store(true, Ordering::Relaxed);
            });
            latch.close_and_wait();
            // Relaxed suffices: close_and_wait orders the runner's effects before us.
            assert!(done.load(Ordering::Relaxed));
        });
    }
}

/// Model checks of the latch alone: the pool's crossbeam job queue is not loom-aware, so jobs
/// are modelled as plain loom threads holding the latch in an `Arc`, as pool jobs do.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    /// A latch plus one slot of data per runner, which only that runner while inside, and the
    /// closer after close, may touch (runners are not excluded from each other, so they never
    /// share a slot).
    struct Scope {
        latch: Latch,
        data: [UnsafeCell<usize>; 2],
    }

    // SAFETY: `data` is only accessed through loom's `UnsafeCell`, which checks every access
    // for a data race at run time; finding none is exactly what these models assert.
    unsafe impl Sync for Scope {}

    fn scope() -> Arc<Scope> {
        Arc::new(Scope {
            latch: Latch::new(),
            data: [UnsafeCell::new(0), UnsafeCell::new(0)],
        })
    }

    /// A runner job: enters, bumps its `slot` while inside, reports whether it got in.
    fn spawn_runner(scope: &Arc<Scope>, slot: usize) -> thread::JoinHandle<bool> {
        let scope = Arc::clone(scope);
        thread::spawn(move || {
            let Some(_entered) = scope.latch.enter() else {
                return false;
            };
            // SAFETY: inside the latch; loom checks that no access races with this one.
            scope.data[slot].with_mut(|p| unsafe { *p += 1 });
            true
        })
    }

    /// The closer's side: close, then read and "free" the runner's data, as `run` returns and
    /// the borrowed runner goes away. Returns how many runners it saw.
    fn close(scope: &Scope) -> usize {
        scope.latch.close_and_wait();
        // SAFETY: after close_and_wait no runner is inside and none can enter; loom flags the
        // access if a runner's write is not ordered before it or a runner touches it later.
        let take = |cell: &UnsafeCell<usize>| {
            cell.with_mut(|p| unsafe { std::mem::replace(&mut *p, usize::MAX) })
        };
        scope.data.iter().map(take).sum()
    }

    /// The runner enters before or after the close (loom tries both): if it got in, the closer
    /// waited for it and sees its write; if not, it never touched the data.
    #[test]
    fn loom_runner_races_close() {
        loom::model(|| {
            let scope = scope();
            let runner = spawn_runner(&scope, 0);
            let seen = close(&scope);
            let entered = runner.join().unwrap();
            assert_eq!(seen, usize::from(entered));
        });
    }

    /// A runner that arrives after close must fail to enter.
    #[test]
    fn loom_runner_after_close_fails() {
        loom::model(|| {
            let scope = scope();
            assert_eq!(close(&scope), 0);
            assert!(!spawn_runner(&scope, 0).join().unwrap());
        });
    }

    /// A runner already inside when the caller closes: the closer must block until it leaves.
    #[test]
    fn loom_closer_waits_for_entered_runner() {
        loom::model(|| {
            let scope = scope();
            // Enter on the runner's behalf before it starts (the guard cannot cross into a
            // `'static` thread); the runner leaves with `exit`, as the guard's drop would.
            std::mem::forget(scope.latch.enter().expect("open latch admits a runner"));
            let runner = {
                let scope = Arc::clone(&scope);
                thread::spawn(move || {
                    // SAFETY: inside the latch; loom checks that no access races with this one.
                    scope.data[0].with_mut(|p| unsafe { *p += 1 });
                    scope.latch.exit();
                })
            };
            assert_eq!(close(&scope), 1);
            runner.join().unwrap();
        });
    }

    /// Two runners: the closer sees the writes of exactly those that entered.
    #[test]
    fn loom_two_runners() {
        loom::model(|| {
            let scope = scope();
            let a = spawn_runner(&scope, 0);
            let b = spawn_runner(&scope, 1);
            let seen = close(&scope);
            let entered = usize::from(a.join().unwrap()) + usize::from(b.join().unwrap());
            assert_eq!(seen, entered);
        });
    }
}
