//! Scoped jobs on the persistent I/O pool.
//!
//! Blocking I/O loops need far more threads than cores (rayon's pool has one per core), and
//! building a big pool costs milliseconds, so this pool is process-wide, grows lazily up to
//! [`IoPool::max_workers`] and retires threads that stay idle for [`IDLE_TIMEOUT`].
//!
//! [`IoPool::run`] lends a *borrowed* runner to pool threads. Jobs on the queue are `'static`:
//! each holds an `Arc` of the call's state, which reaches the runner through a type-erased
//! pointer. The call's [`Latch`] makes that sound: a job touches the runner only inside the
//! latch, and `run` closes the latch and waits for everyone inside before it returns.

use super::doorbell::Doorbell;
use super::idle_priority;
use super::latch::Latch;
use crossbeam_channel::{Receiver, Sender};
use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use std::{io, thread};

/// A pool thread that waited this long for a job exits; the next busy call spawns anew.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// After a failed thread spawn, the pool makes do with the threads it has for this long
/// before it asks the OS again; each failure in a row doubles the wait, up to
/// [`SPAWN_BACKOFF_MOST`]. A failure is often transient (a thread or memory limit hit
/// for a moment), and one must not cap the pool for the rest of the process.
const SPAWN_BACKOFF_FIRST: Duration = Duration::from_millis(50);
const SPAWN_BACKOFF_MOST: Duration = Duration::from_secs(5);

/// Set once a failed spawn was reported, so the warning appears once per process.
static SPAWN_WARNED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static ON_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// True on a thread owned by the I/O pool (nesting rule: the engine plans inner loops with this).
pub(crate) fn on_worker_thread() -> bool {
    ON_WORKER.get()
}

/// The persistent pool of blocking-I/O threads.
pub(crate) struct IoPool {
    inner: Arc<Inner>,
}

/// State shared by the pool handle and its threads.
///
/// All counters are Relaxed: they are statistics and growth heuristics, and the one invariant
/// (`threads <= limit`) holds by the compare-and-swap on `threads` alone.
struct Inner {
    /// Jobs waiting for a thread; idle threads sleep on `doorbell`, not in `recv`.
    jobs_tx: Sender<Arc<Call>>,
    jobs_rx: Receiver<Arc<Call>>,
    doorbell: Doorbell,
    /// Live threads, counting those reserved and being spawned.
    threads: AtomicUsize,
    /// Threads waiting for a job.
    idle: AtomicUsize,
    /// Threads handling a job.
    busy: AtomicUsize,
    /// Most threads allowed: `io_max_workers()`.
    limit: AtomicUsize,
    /// After a failed spawn: the threads there were then, the most the pool uses until
    /// `retry_at`; `usize::MAX` when spawning works.
    capped_at: AtomicUsize,
    /// When spawning is tried again after a failure (nanoseconds since `epoch`).
    retry_at: AtomicU64,
    /// How long the next failure makes the pool wait before trying again.
    backoff: AtomicU64,
    /// Origin of `retry_at`.
    epoch: Instant,
    /// Numbers thread names.
    next_id: AtomicUsize,
    /// Spawns that may still succeed before failures are injected.
    #[cfg(test)]
    spawn_budget: AtomicUsize,
    /// Jobs that arrived after their call closed.
    #[cfg(test)]
    late_jobs: AtomicUsize,
}

/// One call of [`IoPool::run`] or [`IoPool::standby`], shared with its jobs.
struct Call {
    latch: Latch,
    /// A standby job sleeps until then before it tries to enter.
    not_before: Option<Instant>,
    runner: ErasedRunner,
    /// The first panic payload of any invocation, re-raised on the caller.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

/// `&F` for some `F: Fn() + Sync`, with `F` and the borrow's lifetime erased.
struct ErasedRunner {
    data: *const (),
    call: unsafe fn(*const ()),
}

// SAFETY: an `ErasedRunner` is a `&F` with `F: Sync` (enforced by `ErasedRunner::new`), and
// `&F` is `Send + Sync` exactly when `F: Sync`. The erased lifetime is not covered here but by
// the contract of `ErasedRunner::call`.
unsafe impl Send for ErasedRunner {}
// SAFETY: as for `Send` above.
unsafe impl Sync for ErasedRunner {}

impl ErasedRunner {
    fn new<F: Fn() + Sync>(runner: &F) -> Self {
        /// # Safety
        /// `data` must come from a `&F` that is still live.
        unsafe fn call_erased<F: Fn()>(data: *const ()) {
            // SAFETY: by this function's contract, `data` is a live `&F`.
            unsafe { (*data.cast::<F>())() }
        }
        Self {
            data: std::ptr::from_ref(runner).cast(),
            call: call_erased::<F>,
        }
    }

    /// Calls the runner.
    ///
    /// # Safety
    /// The `&F` this was made from must still be live.
    unsafe fn call(&self) {
        // SAFETY: `self.call` was instantiated for the type behind `self.data`, which the
        // caller guarantees to be live.
        unsafe { (self.call)(self.data) }
    }
}

impl Call {
    /// A call of `runner`, whose jobs wait until `not_before` (if any) to enter.
    fn new<F: Fn() + Sync>(runner: &F, not_before: Option<Instant>) -> Call {
        Call {
            latch: Latch::new(),
            not_before,
            runner: ErasedRunner::new(runner),
            panic: Mutex::new(None),
        }
    }

    /// Runs the runner once if the call is still open; a late job does nothing and gets false.
    fn help(&self) -> bool {
        if let Some(at) = self.not_before {
            // Outside the latch: a caller that finishes first does not wait for this sleep.
            let now = Instant::now();
            if at > now && !self.latch.is_closed() {
                thread::sleep(at - now);
            }
        }
        let Some(_entered) = self.latch.enter() else {
            return false;
        };
        // SAFETY: the runner borrowed by `run` stays live until `run` returns, and `run` cannot
        // return before `close_and_wait` sees this runner leave, i.e. before `_entered` drops
        // at the end of this function, after the call.
        let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { self.runner.call() }));
        if let Err(payload) = outcome {
            self.record_panic(payload);
        }
        true
    }

    /// Keeps `payload` if it is the first panic of this call.
    fn record_panic(&self, payload: Box<dyn Any + Send>) {
        let mut slot = self.panic.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(payload);
        } else {
            drop(slot);
            super::discard_panic(payload);
        }
    }
}

impl IoPool {
    /// The process-wide pool; creating it starts no thread.
    pub(crate) fn global() -> &'static IoPool {
        static POOL: OnceLock<IoPool> = OnceLock::new();
        POOL.get_or_init(|| {
            crate::fork::watch();
            IoPool::new(crate::env::io_max_workers())
        })
    }

    /// A pool of at most `limit` threads, none started yet.
    fn new(limit: usize) -> Self {
        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
        Self {
            inner: Arc::new(Inner {
                jobs_tx,
                jobs_rx,
                doorbell: Doorbell::new(),
                threads: AtomicUsize::new(0),
                idle: AtomicUsize::new(0),
                busy: AtomicUsize::new(0),
                limit: AtomicUsize::new(limit),
                capped_at: AtomicUsize::new(usize::MAX),
                retry_at: AtomicU64::new(0),
                backoff: AtomicU64::new(SPAWN_BACKOFF_FIRST.as_nanos() as u64),
                epoch: Instant::now(),
                next_id: AtomicUsize::new(0),
                #[cfg(test)]
                spawn_budget: AtomicUsize::new(usize::MAX),
                #[cfg(test)]
                late_jobs: AtomicUsize::new(0),
            }),
        }
    }

    /// Runs `runner` on the calling thread and, concurrently, on up to `extra` pool threads.
    ///
    /// Returns only when the caller's own invocation has returned and every pool thread that
    /// started `runner` has returned from it; a pool job that gets to run after that does not
    /// touch `runner`. If any invocation panicked, re-raises the first payload on the caller
    /// once all of them finished. `runner` typically pulls work items from a shared queue until
    /// it is empty, so one that starts late simply finds nothing to do.
    pub(crate) fn run<F: Fn() + Sync>(&self, extra: usize, runner: &F) {
        let extra = extra.min(self.max_workers());
        if extra == 0 {
            return runner();
        }
        let call = Arc::new(Call::new(runner, None));
        Self::scoped(&call, || {
            self.request_help(&call, extra);
            runner();
        });
    }

    /// Runs `caller` on the calling thread while one idle pool thread stands by: at `at`,
    /// if `caller` has not returned yet, that thread runs `standby` (once). Returns `None`,
    /// having run nothing, when no pool thread is idle: standing by must never cost a
    /// thread spawn.
    ///
    /// As with [`run`](Self::run), returns only once `caller` returned and `standby` is not
    /// running, and re-raises the first panic of either. A standby that wakes after
    /// `caller` returned does not touch `standby`; the caller never waits for its sleep.
    pub(crate) fn standby<R, S: Fn() + Sync>(
        &self,
        at: Instant,
        standby: &S,
        caller: impl FnOnce() -> R,
    ) -> Option<R> {
        let inner = &*self.inner;
        if inner.idle.load(Relaxed) == 0 {
            return None;
        }
        let call = Arc::new(Call::new(standby, Some(at)));
        let mut result = None;
        Self::scoped(&call, || {
            // Cannot fail: `inner` holds a receiver, so the channel is never disconnected.
            let _ = inner.jobs_tx.send(Arc::clone(&call));
            inner.doorbell.ring(1);
            result = Some(caller());
        });
        result
    }

    /// Like [`run`](Self::run), with the helpers' jobs on the rayon pool `pool` (the
    /// global one if `None`) instead of this pool: the scoped-job machinery (a late job
    /// does nothing, the caller never waits for a job that has not started) for CPU work
    /// that belongs on rayon's threads.
    pub(crate) fn run_on_rayon<F: Fn() + Sync>(
        pool: Option<&rayon::ThreadPool>,
        extra: usize,
        runner: &F,
    ) {
        if extra == 0 {
            return runner();
        }
        let call = Arc::new(Call::new(runner, None));
        Self::scoped(&call, || {
            for _ in 0..extra {
                let call = Arc::clone(&call);
                let job = move || {
                    call.help();
                };
                match pool {
                    Some(pool) => pool.spawn(job),
                    None => rayon::spawn(job),
                }
            }
            runner();
        });
    }

    /// Runs `body` (which hands `call` to pool threads), then closes `call`'s latch and waits
    /// for every pool thread inside its runner; re-raises the first panic of any of them.
    fn scoped(call: &Call, body: impl FnOnce()) {
        // Nothing between handing out jobs and closing the latch may unwind past the close:
        // pool threads could still be inside the runner. So handing out jobs sits in here.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
            call.record_panic(payload);
        }
        // A wait for other threads: a CPU slot held here is free meanwhile.
        super::cpu_slots::released_while(|| call.latch.close_and_wait());
        let first_panic = call
            .panic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(payload) = first_panic {
            resume_unwind(payload);
        }
    }

    /// Like [`run`](Self::run), but with only as many pool threads as are free now (at most
    /// `extra`): never spawns one.
    pub(crate) fn run_on_free_threads<F: Fn() + Sync>(&self, extra: usize, runner: &F) {
        self.run(extra.min(self.free_threads()), runner);
    }

    /// Pool threads not running a job now: they would take a job without a spawn.
    pub(crate) fn free_threads(&self) -> usize {
        let inner = &*self.inner;
        inner
            .threads
            .load(Relaxed)
            .saturating_sub(inner.busy.load(Relaxed))
    }

    /// Queues `extra` jobs for `call` and spawns threads for those no free thread will take.
    fn request_help(&self, call: &Arc<Call>, extra: usize) {
        let inner = &*self.inner;
        // Threads not running a runner now will pick our jobs up soon. Measured before
        // sending: once sent, our own jobs make idle threads look busy. Counting queued
        // jobs instead would also count the harmless late jobs of calls that already
        // returned, and a stream of short calls would grow the pool to its limit.
        let available = inner
            .threads
            .load(Relaxed)
            .saturating_sub(inner.busy.load(Relaxed));
        for _ in 0..extra {
            // Cannot fail: `inner` holds a receiver, so the channel is never disconnected.
            let _ = inner.jobs_tx.send(Arc::clone(call));
        }
        // One wake-up call for all of them (see `doorbell`).
        inner.doorbell.ring(extra);
        for _ in 0..extra.saturating_sub(available) {
            if !self.spawn_worker() {
                break;
            }
        }
    }

    /// Starts one more thread if the limit allows; false if it did not.
    fn spawn_worker(&self) -> bool {
        let inner = &*self.inner;
        let limit = self.max_workers();
        let reserved = inner.threads.fetch_update(Relaxed, Relaxed, |threads| {
            (threads < limit).then_some(threads + 1)
        });
        if reserved.is_err() {
            return false;
        }
        let Err(error) = self.spawn_thread() else {
            if inner.capped_at.load(Relaxed) != usize::MAX {
                // Spawning works again: back to the full limit and the shortest wait.
                inner.capped_at.store(usize::MAX, Relaxed);
                inner
                    .backoff
                    .store(SPAWN_BACKOFF_FIRST.as_nanos() as u64, Relaxed);
            }
            return true;
        };
        // Carry on with the threads that exist (the caller does any work left itself), and
        // stop asking the OS for more for a while.
        let threads = inner.threads.fetch_sub(1, Relaxed) - 1;
        let backoff = inner.backoff.load(Relaxed);
        inner.backoff.store(
            (backoff * 2).min(SPAWN_BACKOFF_MOST.as_nanos() as u64),
            Relaxed,
        );
        inner
            .retry_at
            .store(inner.epoch.elapsed().as_nanos() as u64 + backoff, Relaxed);
        inner.capped_at.store(threads, Relaxed);
        if !SPAWN_WARNED.swap(true, Relaxed) {
            eprintln!(
                "autopar: warning: could not start an I/O pool thread ({error}); \
                 continuing with {threads} pool threads, and trying again later"
            );
        }
        false
    }

    /// Spawns a detached pool thread, unless a test injected a failure.
    fn spawn_thread(&self) -> io::Result<()> {
        let inner = Arc::clone(&self.inner);
        #[cfg(test)]
        if inner
            .spawn_budget
            .fetch_update(Relaxed, Relaxed, |budget| budget.checked_sub(1))
            .is_err()
        {
            return Err(io::Error::other("injected spawn failure"));
        }
        let id = inner.next_id.fetch_add(1, Relaxed);
        // std's default stack (2 MiB, or `RUST_MIN_STACK`), as rayon's threads and the
        // caller's have: loop bodies run on any of them, CPU-bound ones too (standby
        // helpers, cold calls), and one that recursed fine there must not overflow here.
        // Only the pages a thread touches are committed; the rest is address space.
        thread::Builder::new()
            .name(format!("autopar-io-{id}"))
            .spawn(move || worker(&inner))
            .map(drop)
    }

    /// Most workers the pool has now: `io_max_workers()`, or, for a while after a thread
    /// failed to spawn, the threads it had then (see [`SPAWN_BACKOFF_FIRST`]).
    pub(crate) fn max_workers(&self) -> usize {
        let inner = &*self.inner;
        let limit = inner.limit.load(Relaxed);
        let capped_at = inner.capped_at.load(Relaxed);
        if capped_at != usize::MAX
            && (inner.epoch.elapsed().as_nanos() as u64) < inner.retry_at.load(Relaxed)
        {
            return capped_at.min(limit);
        }
        limit
    }

    /// Live pool threads now.
    pub(crate) fn threads(&self) -> usize {
        self.inner.threads.load(Relaxed)
    }

    /// Pool threads currently running a job now.
    pub(crate) fn busy(&self) -> usize {
        self.inner.busy.load(Relaxed)
    }
}

/// A pool thread: handles jobs until none came for `IDLE_TIMEOUT`.
fn worker(inner: &Inner) {
    ON_WORKER.set(true);
    // A standby job sleeps tens of µs; Linux's default 50 µs timer slack would double that.
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and only changes this thread's
    // timer slack; the result is ignored (the default slack is merely slower).
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong);
    }
    let mut idle_since = Instant::now();
    loop {
        // The ticket first: a job queued after the check below rings after it.
        let ticket = inner.doorbell.ticket();
        if let Ok(call) = inner.jobs_rx.try_recv() {
            inner.busy.fetch_add(1, Relaxed);
            idle_priority::while_working();
            if !call.help() {
                #[cfg(test)]
                inner.late_jobs.fetch_add(1, Relaxed);
            }
            inner.busy.fetch_sub(1, Relaxed);
            idle_since = Instant::now();
            continue;
        }
        let Some(left) = IDLE_TIMEOUT.checked_sub(idle_since.elapsed()) else {
            break;
        };
        inner.idle.fetch_add(1, Relaxed);
        // Woken by a call, give way to its caller rather than preempt it (see the module).
        idle_priority::while_idle();
        inner.doorbell.wait(ticket, left);
        inner.idle.fetch_sub(1, Relaxed);
    }
    inner.threads.fetch_sub(1, Relaxed);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::time::Instant;

    /// Items 0..n handed out once each, as an engine's runner pulls them.
    struct Queue {
        next: AtomicUsize,
        len: usize,
    }

    impl Queue {
        fn new(len: usize) -> Self {
            Self {
                next: AtomicUsize::new(0),
                len,
            }
        }

        /// Calls `f` on items until none is left.
        fn drain(&self, f: impl Fn(usize)) {
            loop {
                let i = self.next.fetch_add(1, Relaxed);
                if i >= self.len {
                    return;
                }
                f(i);
            }
        }
    }

    #[test]
    fn blocking_items_run_concurrently() {
        let pool = IoPool::global();
        let queue = Queue::new(200);
        let done = AtomicUsize::new(0);
        let start = Instant::now();
        pool.run(199, &|| {
            queue.drain(|_| {
                thread::sleep(Duration::from_millis(1));
                done.fetch_add(1, Relaxed);
            });
        });
        let elapsed = start.elapsed();
        assert_eq!(done.load(Relaxed), 200);
        assert!(elapsed < Duration::from_millis(100), "took {elapsed:?}");
    }

    #[test]
    fn every_item_processed_exactly_once() {
        let pool = IoPool::global();
        for extra in [1, 7, 64] {
            let queue = Queue::new(10_000);
            let counts: Vec<AtomicU32> = (0..queue.len).map(|_| AtomicU32::new(0)).collect();
            pool.run(extra, &|| {
                queue.drain(|i| {
                    counts[i].fetch_add(1, Relaxed);
                });
            });
            assert!(counts.iter().all(|c| c.load(Relaxed) == 1));
        }
    }

    #[test]
    fn panic_reaches_caller_and_pool_survives() {
        let pool = IoPool::new(4);
        // A pool runner panics; the caller keeps going until that happened.
        let pool_panicked = AtomicBool::new(false);
        let result = catch_unwind(AssertUnwindSafe(|| {
            pool.run(4, &|| {
                if on_worker_thread() {
                    pool_panicked.store(true, Relaxed);
                    panic!("pool runner failed");
                }
                while !pool_panicked.load(Relaxed) {
                    thread::sleep(Duration::from_millis(1));
                }
            });
        }));
        let payload = result.expect_err("the pool runner's panic must reach the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"pool runner failed"));

        // The caller's own panic too, after the pool runners finished.
        let result = catch_unwind(AssertUnwindSafe(|| {
            pool.run(4, &|| {
                if !on_worker_thread() {
                    panic!("caller failed");
                }
            });
        }));
        let payload = result.expect_err("the caller's panic must be re-raised");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"caller failed"));

        let queue = Queue::new(100);
        let done = AtomicUsize::new(0);
        pool.run(4, &|| {
            queue.drain(|_| {
                done.fetch_add(1, Relaxed);
            });
        });
        assert_eq!(done.load(Relaxed), 100);
    }

    #[test]
    fn nested_runs_complete_within_limit() {
        const LIMIT: usize = 4;
        let pool = IoPool::new(LIMIT);
        let done = AtomicUsize::new(0);
        let most_threads = AtomicUsize::new(0);
        // Three levels of 8 items, each asking for more help than the pool has, so inner calls
        // find every pool thread busy and must make progress on their own.
        let level = |depth: u32, run_inner: &(dyn Fn() + Sync)| {
            let queue = Queue::new(8);
            pool.run(8, &|| {
                queue.drain(|_| {
                    most_threads.fetch_max(pool.threads(), Relaxed);
                    if depth == 3 {
                        thread::sleep(Duration::from_micros(200));
                        done.fetch_add(1, Relaxed);
                    } else {
                        run_inner();
                    }
                });
            });
        };
        level(1, &|| level(2, &|| level(3, &|| unreachable!())));
        assert_eq!(done.load(Relaxed), 8 * 8 * 8);
        assert!(most_threads.load(Relaxed) <= LIMIT);
        assert!(pool.threads() <= pool.max_workers());
    }

    #[test]
    fn late_jobs_never_touch_the_runner() {
        let pool = IoPool::new(16);
        let invocations = AtomicUsize::new(0);
        let mut seen_at_return = 0;
        for _ in 0..1000 {
            pool.run(50, &|| {
                invocations.fetch_add(1, Relaxed);
            });
            let now = invocations.load(Relaxed);
            assert!(now > seen_at_return, "the caller's own invocation ran");
            seen_at_return = now;
        }
        // Let queued jobs drain: they must find their latch closed and count nothing.
        let deadline = Instant::now() + Duration::from_secs(5);
        while (!pool.inner.jobs_rx.is_empty() || pool.busy() > 0) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(invocations.load(Relaxed), seen_at_return);
        assert!(
            pool.inner.late_jobs.load(Relaxed) > 0,
            "no late job was exercised"
        );
    }

    #[test]
    fn spawn_failure_still_completes_all_work() {
        let pool = IoPool::new(8);
        pool.inner.spawn_budget.store(2, Relaxed);
        let queue = Queue::new(1000);
        let done = AtomicUsize::new(0);
        pool.run(8, &|| {
            queue.drain(|_| {
                thread::sleep(Duration::from_micros(10));
                done.fetch_add(1, Relaxed);
            });
        });
        assert_eq!(done.load(Relaxed), 1000);
        assert!(pool.threads() <= 2);
        assert!(pool.max_workers() <= 2);

        // With no thread at all, the caller does everything.
        let pool = IoPool::new(8);
        pool.inner.spawn_budget.store(0, Relaxed);
        let queue = Queue::new(100);
        let done = AtomicUsize::new(0);
        pool.run(8, &|| {
            queue.drain(|_| {
                done.fetch_add(1, Relaxed);
            });
        });
        assert_eq!(done.load(Relaxed), 100);
        assert_eq!((pool.threads(), pool.max_workers()), (0, 0));
    }

    #[test]
    fn a_failed_spawn_caps_the_pool_only_for_a_while() {
        let pool = IoPool::new(8);
        pool.inner.spawn_budget.store(2, Relaxed);
        let sleepy = |pool: &IoPool| {
            let queue = Queue::new(64);
            pool.run(8, &|| {
                queue.drain(|_| thread::sleep(Duration::from_millis(1)));
            });
        };
        sleepy(&pool);
        assert_eq!(pool.max_workers(), 2, "capped right after the failure");
        // The OS allows threads again; after the back-off the pool grows past the cap.
        pool.inner.spawn_budget.store(usize::MAX, Relaxed);
        thread::sleep(SPAWN_BACKOFF_FIRST + Duration::from_millis(20));
        assert_eq!(pool.max_workers(), 8);
        sleepy(&pool);
        assert!(pool.threads() > 2, "{} threads", pool.threads());
        assert_eq!(pool.inner.capped_at.load(Relaxed), usize::MAX);
    }

    /// A panic payload whose own `Drop` panics.
    struct DropBomb;

    impl Drop for DropBomb {
        fn drop(&mut self) {
            panic!("payload drop panics");
        }
    }

    #[test]
    fn payloads_that_panic_on_drop_leave_the_pool_intact() {
        let pool = IoPool::new(4);
        for _ in 0..20 {
            let result = catch_unwind(AssertUnwindSafe(|| {
                pool.run(4, &|| {
                    thread::sleep(Duration::from_millis(1));
                    std::panic::panic_any(DropBomb);
                });
            }));
            let payload = result.expect_err("the first panic reaches the caller");
            assert!(payload.is::<DropBomb>());
            // The caller's copy is the caller's to drop; it panics, as it would anyway.
            std::mem::forget(payload);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while pool.busy() > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(pool.busy(), 0, "a pool thread died or leaked its count");
        let queue = Queue::new(100);
        let done = AtomicUsize::new(0);
        pool.run(4, &|| {
            queue.drain(|_| {
                done.fetch_add(1, Relaxed);
            });
        });
        assert_eq!(done.load(Relaxed), 100);
    }
}
